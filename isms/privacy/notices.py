"""The rules of activity notices (個人資料蒐集告知事項; clause 7.3; PDPA art. 8).

When the school runs a public activity that collects personal data (a sign-up form, a
competition, a camp), 7.3 asks that the activity rules and the sign-up form state the
school's name, what the data is collected for and where and how long it is used, and that
people sign up (and so consent) before anything is collected. PDPA art. 8 lists what such
a notice must say; ``build`` writes it from a short record (``ActivityNotice``):

1. 機關名稱 (the school, from ``SchoolProfile``, and the organising unit);
2. 蒐集目的 (the text, with the official specific-purpose codes when chosen);
3. 個人資料類別 (the official category codes);
4. 利用之期間、地區、對象及方式 (and, when the activity publishes names, that it does);
5. 當事人依個資法第 3 條得行使之權利 and how to exercise them (the contact);
6. 不提供之影響;

then the consent line for the sign-up form. ``full_text`` and ``short_text`` give the
notice as plain text (the copy view and its .txt download); the pages render ``build``.

Who does what: any signed-in member of staff (any role) writes the notice of an activity
of a unit they belong to (their person's unit, or a unit they head); the security officer
for any unit. Its creator and the security officer correct or void it; everyone with a
role reads it.

Every function validates first (``ValidationError`` field → zh-TW message citing 7.3 or
PDPA art. 8, nothing saved), checks permission (``PermissionDenied``), takes the acting
person and writes inside ``trail.as_actor``. A record and its code lists are written with
ONE audit entry (``trail.save_with_lists``).
"""

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail
from isms.core import roc
from isms.core import services as core_services
from isms.core.access import has_role
from isms.core.models import SchoolProfile, Unit
from isms.core.roles import SECURITY_OFFICER

from .models import ActivityNotice

CLAUSE = "7.3"
# The long texts have no length in the database; a notice is read on a sign-up form.
TEXT_LIMITS = {"purpose": 1000, "consequence": 1000}
CHAR_FIELDS = ("activity", "period", "area", "recipients", "method", "contact")
TEXT_FIELDS = (*CHAR_FIELDS, "purpose", "consequence")
# What the creator enters; the rest (creator, times, voiding) is the service's.
ENTRY_FIELDS = (
    "activity",
    "unit",
    "purpose",
    "period",
    "area",
    "recipients",
    "method",
    "publishes_names",
    "consequence",
    "contact",
    "held_from",
    "held_to",
)

# PDPA art. 3: the rights a person has over their data (and art. 8 ¶1 (5) names them).
RIGHTS = (
    gettext_lazy("查詢或請求閱覽"),
    gettext_lazy("請求製給複製本"),
    gettext_lazy("請求補充或更正"),
    gettext_lazy("請求停止蒐集、處理或利用"),
    gettext_lazy("請求刪除"),
)


# Who may do what -----------------------------------------------------------------------------
def is_officer(user) -> bool:
    return has_role(user, SECURITY_OFFICER)


def units_for(user):
    """The units this person acts for (active ones): every unit for the security officer;
    else their person's unit and the units they head (``awareness.OfficeHead``)."""
    from isms.awareness.models import OfficeHead

    units = Unit.objects.filter(is_active=True)
    if is_officer(user):
        return units.order_by("name")
    person_unit = None
    if getattr(user, "person_id", None):
        person_unit = user.person.unit_id
    headed = OfficeHead.objects.filter(user_id=getattr(user, "pk", None)).values("unit_id")
    return units.filter(Q(pk=person_unit or 0) | Q(pk__in=headed)).order_by("name")


def acts_for_a_unit(user) -> bool:
    """Whether this person may write for any unit at all (else the add page says why)."""
    return is_officer(user) or units_for(user).exists()


def may_write(user, notice: ActivityNotice) -> bool:
    """Its creator and the security officer."""
    if not getattr(user, "is_authenticated", False):
        return False
    return is_officer(user) or notice.created_by_id == user.pk


def may_change(user, notice: ActivityNotice) -> bool:
    """Its creator and the security officer, while it is not voided."""
    return notice.voided_at is None and may_write(user, notice)


def scope(queryset, user, action):
    """Everyone with a role reads every notice; a change (the edit page, PATCH, the
    attachments) reaches one's own notices, the officer's any. Voiding is checked by the
    service (403 for others)."""
    if action == "change" and not is_officer(user):
        return queryset.filter(created_by_id=user.pk)
    return queryset


# Initial texts of the form ------------------------------------------------------------------
def default_area() -> str:
    return _("中華民國境內")


def default_consequence() -> str:
    return _(
        "您可自由選擇是否提供個人資料；若不提供或提供不完整，本校將無法受理您的報名，"
        "您可能無法參加本活動。"
    )


def default_contact(user) -> str:
    """The creator's unit, name and extension, as people would write them."""
    person = user.person if getattr(user, "person_id", None) else None
    if person is None:
        return ""
    parts = [person.unit.name if person.unit_id else "", person.name]
    text = " ".join(p for p in parts if p)
    if person.extension:
        text += _("（分機 %(ext)s）") % {"ext": person.extension}
    elif person.email:
        text += f" {person.email}"
    return text


# The rules -----------------------------------------------------------------------------------
def normalise(notice: ActivityNotice) -> None:
    for name in TEXT_FIELDS:
        setattr(notice, name, (getattr(notice, name) or "").strip())


def limit_of(name: str) -> int:
    return TEXT_LIMITS.get(name) or ActivityNotice._meta.get_field(name).max_length


def too_long(name: str, value: str) -> str:
    limit = limit_of(name)
    if len(value) <= limit:
        return ""
    return _("最多 %(limit)d 個字（目前 %(n)d 個字）。") % {"limit": limit, "n": len(value)}


def code_errors(chosen, kept_ids, field_name: str) -> dict:
    """A code newly chosen must be in use (one kept from before may have been retired)."""
    retired = [c for c in chosen if not c.is_active and c.pk not in kept_ids]
    if not retired:
        return {}
    return {
        field_name: _("「%(codes)s」已停用，請改選使用中的代號。")
        % {"codes": "、".join(str(c) for c in retired)}
    }


def unit_errors(unit_id, actor, kept_unit_id=None, *, clause: str, message: str) -> dict:
    """The unit is one the actor acts for (kept unchanged on an edit by its creator)."""
    if unit_id is None:
        return {}
    if kept_unit_id is not None and unit_id == kept_unit_id:
        return {}
    if not Unit.objects.filter(pk=unit_id, is_active=True).exists():
        return {"unit": _("此單位已停用或不存在（條文 %(clause)s）。") % {"clause": clause}}
    if not units_for(actor).filter(pk=unit_id).exists():
        return {"unit": message}
    return {}


def check_notice(
    notice: ActivityNotice, *, categories, purposes, actor, kept: ActivityNotice | None = None
) -> dict:
    """Field errors of a notice as it would be saved.

    1. Every item PDPA art. 8 ¶1 asks for is there: the activity, the unit (機關名稱), the
       purpose (蒐集目的), at least one data category, the period, area, recipients and way
       of use, the contact for the person's rights, the consequence of not providing.
    2. The unit is one the actor acts for (7.3: the activity's own unit).
    3. A code newly chosen is in use.
    4. The activity's last day is not before its first.
    5. Every text is within its limit.
    """
    errors = {}
    required = {
        "activity": _("請填寫活動名稱（條文 7.3）。"),
        "purpose": _("請填寫蒐集目的（條文 7.3「蒐集用途」；個資法第 8 條第 1 項第 2 款）。"),
        "period": _(
            "請填寫個人資料的利用期間（條文 7.3「使用地區和期限」；個資法第 8 條第 1 項第 4 款）。"
        ),
        "area": _(
            "請填寫個人資料的利用地區（條文 7.3「使用地區和期限」；個資法第 8 條第 1 項第 4 款）。"
        ),
        "recipients": _("請填寫個人資料的利用對象（個資法第 8 條第 1 項第 4 款）。"),
        "method": _("請填寫個人資料的利用方式（個資法第 8 條第 1 項第 4 款）。"),
        "contact": _(
            "請填寫聯絡窗口，讓當事人知道如何行使個資法第 3 條的權利"
            "（個資法第 8 條第 1 項第 5 款）。"
        ),
        "consequence": _("請填寫不提供個人資料對當事人權益的影響（個資法第 8 條第 1 項第 6 款）。"),
    }
    for name, message in required.items():
        value = getattr(notice, name)
        if not value or (message := too_long(name, value)):
            errors[name] = message
    if notice.unit_id is None:
        errors["unit"] = _("請選擇主辦單位（個資法第 8 條第 1 項第 1 款：機關名稱）。")
    else:
        errors.update(
            unit_errors(
                notice.unit_id,
                actor,
                kept.unit_id if kept is not None else None,
                clause=CLAUSE,
                message=_(
                    "您只能為自己所屬的單位建立活動個資告知事項（條文 7.3）；"
                    "其他單位的活動請由該單位同仁或資安業務承辦人建立。"
                ),
            )
        )
    kept_categories = set(kept.categories.values_list("pk", flat=True)) if kept else set()
    kept_purposes = set(kept.purposes.values_list("pk", flat=True)) if kept else set()
    if not categories:
        errors["categories"] = _("請至少選擇一項個人資料類別（個資法第 8 條第 1 項第 3 款）。")
    else:
        errors.update(code_errors(categories, kept_categories, "categories"))
    errors.update(code_errors(purposes, kept_purposes, "purposes"))
    if notice.held_from and notice.held_to and notice.held_to < notice.held_from:
        errors["held_to"] = _("活動迄日不可早於活動起日。")
    return errors


# Saving ---------------------------------------------------------------------------------------
def _distinct(objects) -> list:
    return list({o.pk: o for o in objects or ()}.values())


@transaction.atomic
def save_notice(notice: ActivityNotice, *, actor, categories, purposes=()) -> ActivityNotice:
    """Create a notice (the actor is its creator) or correct one (its creator or the
    security officer), with its data categories and specific purposes."""
    kept = None
    if notice.pk is None:
        if not acts_for_a_unit(actor):
            raise PermissionDenied
        notice.created_by = actor
        notice.voided_at, notice.voided_by, notice.void_reason = None, None, ""
    else:
        kept = ActivityNotice.objects.select_for_update().get(pk=notice.pk)
        if not may_write(actor, kept):
            raise PermissionDenied
        if kept.voided_at is not None:
            raise ValidationError({"__all__": _("此告知事項已作廢，不能修改。")})
        for name in ("created_by_id", "created_at", "voided_at", "voided_by_id", "void_reason"):
            setattr(notice, name, getattr(kept, name))
    normalise(notice)
    categories, purposes = _distinct(categories), _distinct(purposes)
    errors = check_notice(notice, categories=categories, purposes=purposes, actor=actor, kept=kept)
    if errors:
        raise ValidationError(errors)
    with trail.as_actor(actor):
        trail.save_with_lists(
            notice, kept=kept, lists={"categories": categories, "purposes": purposes}
        )
    return notice


@transaction.atomic
def void_notice(notice: ActivityNotice, *, actor, reason: str) -> ActivityNotice:
    """Void a notice (its creator or the security officer), with the reason."""
    notice = ActivityNotice.objects.select_for_update().get(pk=notice.pk)
    if not may_write(actor, notice):
        raise PermissionDenied
    return core_services.record_void(notice, actor=actor, reason=reason)


# The notice's text ------------------------------------------------------------------------------
@dataclass
class Item:
    """One numbered item of the notice: its heading and its text (or sub-lines)."""

    key: str
    heading: str
    text: str = ""
    lines: list = field(default_factory=list)


@dataclass
class NoticeText:
    """The notice as written from the record, ready for a page or plain text."""

    school: str
    title: str
    intro: str
    items: list
    published: str
    consent: str
    held: str


def sentence(text: str) -> str:
    """The text ending as a sentence (a 。 added unless it ends with a stop already)."""
    text = (text or "").strip()
    if text and text[-1] not in "。.！!？?":
        text += "。"
    return text


def code_list(codes) -> str:
    return "、".join(f"{c.code} {c.name}" for c in codes)


def held_text(notice: ActivityNotice) -> str:
    start, end = notice.held_from, notice.held_to
    if start and end and start != end:
        return f"{roc.format_roc(start)}–{roc.format_roc(end)}"
    day = start or end
    return roc.format_roc(day) if day else ""


def _codes(notice: ActivityNotice, name: str) -> list:
    """The notice's codes in code order (prefetched ones are used as they are)."""
    return sorted(getattr(notice, name).all(), key=lambda c: c.code)


def rights_text() -> str:
    numbers = (_("（一）"), _("（二）"), _("（三）"), _("（四）"), _("（五）"))
    return "；".join(f"{n}{r}" for n, r in zip(numbers, RIGHTS, strict=True))


def school_name() -> str:
    return SchoolProfile.load().name


def build(notice: ActivityNotice, school: str | None = None) -> NoticeText:
    """The notice of PDPA art. 8 for this activity: six items, the sentence on publishing
    names when it does, and the consent line of the sign-up form. ``school`` is the
    school's name (read from the school profile when not given)."""
    school = school or school_name()
    purposes = _codes(notice, "purposes")
    categories = _codes(notice, "categories")
    activity = notice.activity
    purpose = notice.purpose
    if purposes:
        purpose = _("%(purpose)s（特定目的：%(codes)s）") % {
            "purpose": purpose.rstrip("。"),
            "codes": code_list(purposes),
        }
    use_lines = [
        _("（一）期間：%(text)s") % {"text": notice.period},
        _("（二）地區：%(text)s") % {"text": notice.area},
        _("（三）對象：%(text)s") % {"text": notice.recipients},
        _("（四）方式：%(text)s") % {"text": notice.method},
    ]
    published = ""
    if notice.publishes_names:
        published = _(
            "本活動將公布部分個人資料（例如：姓名），公布之內容以辦理本活動所必要者為限。"
        )
        use_lines.append(_("（五）公布：%(text)s") % {"text": published})
    items = [
        Item(
            "school",
            _("一、機關名稱"),
            _("%(school)s（主辦單位：%(unit)s）") % {"school": school, "unit": notice.unit.name},
        ),
        Item("purpose", _("二、蒐集目的"), sentence(purpose)),
        Item("categories", _("三、個人資料類別"), sentence(code_list(categories))),
        Item("use", _("四、個人資料利用之期間、地區、對象及方式"), lines=use_lines),
        Item(
            "rights",
            _("五、當事人權利及行使方式"),
            _(
                "依個人資料保護法第 3 條規定，您得就本校保有之您的個人資料行使下列權利："
                "%(rights)s。如欲行使上述權利，請洽%(contact)s。"
            )
            % {"rights": rights_text(), "contact": notice.contact},
        ),
        Item("consequence", _("六、不提供之影響"), sentence(notice.consequence)),
    ]
    if notice.publishes_names:
        consent = _(
            "本人已閱讀並同意上述「%(activity)s」個人資料蒐集告知事項，同意%(school)s於"
            "蒐集目的範圍內蒐集、處理及利用本人之個人資料，並同意公布部分個人資料"
            "（例如：姓名）。"
        ) % {"activity": activity, "school": school}
    else:
        consent = _(
            "本人已閱讀並同意上述「%(activity)s」個人資料蒐集告知事項，同意%(school)s於"
            "蒐集目的範圍內蒐集、處理及利用本人之個人資料。"
        ) % {"activity": activity, "school": school}
    return NoticeText(
        school=school,
        title=_("「%(activity)s」個人資料蒐集告知事項") % {"activity": activity},
        intro=_(
            "%(school)s（以下簡稱本校）為辦理「%(activity)s」，依個人資料保護法第 8 條規定，"
            "向您告知下列事項："
        )
        % {"school": school, "activity": activity},
        items=items,
        published=published,
        consent=consent,
        held=held_text(notice),
    )


def full_text(notice: ActivityNotice, school: str | None = None) -> str:
    """The whole notice as plain text: for the activity rules (活動辦法)."""
    text = build(notice, school)
    lines = [text.title, "", text.intro]
    for item in text.items:
        if item.lines:
            lines.append(_("%(heading)s：") % {"heading": item.heading})
            lines.extend(item.lines)
        else:
            lines.append(_("%(heading)s：%(text)s") % {"heading": item.heading, "text": item.text})
    lines += ["", _("□ %(consent)s") % {"consent": text.consent}]
    return "\n".join(lines) + "\n"


def short_text(notice: ActivityNotice, school: str | None = None) -> str:
    """The notice in one paragraph, for the foot of a sign-up form, and the consent box."""
    school = school or school_name()
    text = build(notice, school)
    categories = "、".join(c.name for c in _codes(notice, "categories"))
    body = _(
        "【個人資料蒐集告知】%(school)s為辦理「%(activity)s」，於%(purpose)s之目的範圍內"
        "蒐集您的個人資料（%(categories)s），利用期間：%(period)s；地區：%(area)s；"
        "對象：%(recipients)s；方式：%(method)s。"
    ) % {
        "school": school,
        "activity": notice.activity,
        "purpose": notice.purpose.rstrip("。"),
        "categories": categories,
        "period": notice.period.rstrip("。"),
        "area": notice.area.rstrip("。"),
        "recipients": notice.recipients.rstrip("。"),
        "method": notice.method.rstrip("。"),
    }
    if notice.publishes_names:
        body += text.published
    body += _(
        "您得依個人資料保護法第 3 條請求查詢或閱覽、製給複製本、補充或更正、"
        "停止蒐集處理或利用及刪除，請洽%(contact)s。"
    ) % {"contact": notice.contact}
    body += sentence(notice.consequence)
    body += _("完整告知事項詳見活動辦法。")
    consent = _("□ %(consent)s") % {"consent": text.consent}
    return f"{body}\n{consent}\n"


def download_name(notice: ActivityNotice, kind: str) -> str:
    """An ASCII file name for the .txt download (the activity's name is in the text)."""
    stamp = timezone.localdate().strftime("%Y%m%d")
    return f"privacy-notice-{notice.pk}-{kind}-{stamp}.txt"
