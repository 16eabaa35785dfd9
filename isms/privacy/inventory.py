"""The rules of the personal-data file inventory (個人資料檔案清冊; clause 7.1; PDPA art. 17).

Each ``PersonalDataFile`` is one set of personal data the school keeps for its work. Clause
7.1 and art. 17 of the Personal Data Protection Act (個人資料保護法) ask the school to
publish, for every file, four items: 個人資料檔案名稱; 保有機關名稱及聯絡方式;
個人資料檔案保有之依據及特定目的; 個人資料之類別. The inventory keeps them, and what the
school needs to manage the file: the systems and equipment that hold it (7.9, 7.10), the
retention, who may use it (7.2), whether it is published.

- The security officer keeps the inventory (``save_file``), voids a file no longer kept
  (``void_file``) and confirms each file's yearly review (``review_file``); the office
  (supervisor, principal) and the system administrators read it.
- The public page (``public_files``, ``public_entry``, ``last_updated``) shows the four
  items of every file in use that is published; it is read from the records on every
  request, so it is never stale.
- A file's page shows the equipment that holds it with their disposal and reuse records
  (A-1, 7.10), outside repairs (7.9) and server-room visits (``holdings``), and names what
  is missing.

Every function validates first (``ValidationError`` field → zh-TW message citing the clause
or the article, nothing saved), checks permission (``PermissionDenied``), takes the acting
person and writes inside ``trail.as_actor``. A file and its code lists, systems and
equipment are written as one audit entry (``_write``): the trail's signals would write one
for the record and one for each list.
"""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Max, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from isms.assets.models import Asset, CommissioningRecord, RepairVisit
from isms.audit import trail
from isms.core import roc
from isms.core import services as core_services
from isms.core.access import has_role
from isms.core.models import Unit, phone_validator
from isms.core.roles import MANAGERS, SECURITY_OFFICER, SYSADMIN
from isms.facilities.models import Visit

from .models import CategoryCode, FileReview, PersonalDataFile, PurposeCode

Visibility = PersonalDataFile.Visibility
DUTY = "privacy.inventory_review"
# A file is reviewed at least once a year; its first review is due a year after it was
# entered (entering it is the first check of its four items).
REVIEW_DAYS = 365
# A review "now" on the officer's clock may run a little ahead of the server's.
CLOCK_SKEW = dt.timedelta(minutes=5)

# Who keeps the inventory, and who reads it (internal files, their systems and equipment).
WRITERS = frozenset({SECURITY_OFFICER})
READERS = frozenset(MANAGERS | {SYSADMIN})

# What a person enters on the form (or the API); the rest is the service's.
ENTRY_FIELDS = (
    "name",
    "unit",
    "contact_name",
    "contact_phone",
    "contact_email",
    "legal_basis",
    "purpose_note",
    "paper",
    "retention",
    "users",
    "visibility",
    "internal_reason",
    "notes",
)
TEXT_FIELDS = (
    "name",
    "contact_name",
    "contact_phone",
    "contact_email",
    "legal_basis",
    "purpose_note",
    "retention",
    "users",
    "internal_reason",
    "notes",
)
M2M_FIELDS = ("purposes", "categories", "systems", "assets")
# Kept as stored whatever an edit sends.
KEPT_FIELDS = ("voided_at", "voided_by_id", "void_reason", "created_at")


# Who may do what ---------------------------------------------------------------------------
def may_write(user) -> bool:
    return has_role(user, *WRITERS)


def may_read(user) -> bool:
    return has_role(user, *(READERS | WRITERS))


# Reading ----------------------------------------------------------------------------------------
def with_review(queryset):
    """Files with ``last_reviewed_at`` (their latest yearly review, or None) and
    ``review_base`` (that review, else the file's entry: when the year's clock started).

    A correlated subquery on the (file, reviewed_at) index: a page reads its 50 files'
    latest reviews, not every file joined with its reviews and grouped (3,000 files with
    20,000 reviews: 3 ms instead of 28 ms, and the paginator's count 0.4 ms instead of 7)."""
    latest = (
        FileReview.objects.filter(file=OuterRef("pk"))
        .order_by("-reviewed_at")
        .values("reviewed_at")[:1]
    )
    return queryset.annotate(
        last_reviewed_at=Subquery(latest),
        review_base=Coalesce(Subquery(latest), "created_at"),
    )


def review_days() -> int:
    """Days between two reviews: the duty's rhythm, or the school's stricter one (義務設定)."""
    from isms.compliance import engine, registry

    obligation = registry.REGISTRY.get(DUTY)
    if obligation is None:
        return REVIEW_DAYS
    rhythm, _window = engine.effective(obligation)
    return rhythm.days or rhythm.approx_days


def review_due(file, days: int | None = None) -> dt.datetime:
    """When the file's next review is due: a year (``days``) after its last review, or after
    it was entered. A file read without ``with_review`` costs one query."""
    base = getattr(file, "review_base", None)
    if base is None:
        last = file.reviews.aggregate(last=Max("reviewed_at"))["last"] if file.pk else None
        base = last or file.created_at
    return base + dt.timedelta(days=days if days is not None else REVIEW_DAYS)


def review_overdue(file, now=None, days: int | None = None) -> bool:
    """A file in use not reviewed within the year (「逾期未檢視」)."""
    if file.voided_at is not None:
        return False
    return (now or timezone.now()) >= review_due(file, days)


def overdue_q(now=None, days: int | None = None) -> Q:
    """The files (annotated by ``with_review``) in use whose review is overdue."""
    span = dt.timedelta(days=days if days is not None else REVIEW_DAYS)
    return Q(voided_at__isnull=True, review_base__lte=(now or timezone.now()) - span)


def codes(items) -> str:
    """「109、158」: the codes of a prefetched list, in order."""
    return "、".join(sorted(item.code for item in items))


def codes_with_names(items) -> str:
    return "；".join(f"{item.code} {item.name}" for item in sorted(items, key=lambda i: i.code))


def contact_text(file) -> str:
    """How to reach the holding unit: phone and e-mail (a person's name is not published)."""
    parts = [p for p in (file.contact_phone, file.contact_email) if p]
    return "／".join(parts)


# The public page (7.1; PDPA art. 17) ------------------------------------------------------
def public_files():
    """Files in use that are published, with their unit and code lists (three queries)."""
    return (
        PersonalDataFile.objects.filter(voided_at__isnull=True, visibility=Visibility.PUBLIC)
        .select_related("unit")
        .prefetch_related(
            Prefetch("purposes", queryset=PurposeCode.objects.order_by("code")),
            Prefetch("categories", queryset=CategoryCode.objects.order_by("code")),
        )
        .order_by("unit__name", "name", "id")
    )


def public_entry(file, school) -> dict:
    """The four items of art. 17 for one published file, as the page and the JSON give them."""
    return {
        "id": file.pk,
        "name": file.name,
        "agency": school.name,
        "unit": file.unit.name,
        "phone": file.contact_phone,
        "email": file.contact_email,
        "legal_basis": file.legal_basis,
        "purposes": [{"code": p.code, "name": p.name} for p in file.purposes.all()],
        "purpose_note": file.purpose_note,
        "categories": [{"code": c.code, "name": c.name} for c in file.categories.all()],
    }


def last_updated() -> dt.datetime | None:
    """When the public list last changed: the latest change of a file (one made internal or
    voided leaves the list then: every file's change counts, so the moment is never too
    early), the latest void, and the latest yearly review of a published file in use (a
    review confirms the list is current). Two queries."""
    row = PersonalDataFile.objects.aggregate(changed=Max("updated_at"), voided=Max("voided_at"))
    reviewed = FileReview.objects.filter(
        file__voided_at__isnull=True, file__visibility=Visibility.PUBLIC
    ).aggregate(last=Max("reviewed_at"))["last"]
    moments = [m for m in (row["changed"], row["voided"], reviewed) if m is not None]
    return max(moments) if moments else None


def public_file(pk):
    """A published file in use, or None (internal, voided, missing: all the same answer)."""
    try:
        return public_files().filter(pk=int(pk)).first()
    except (TypeError, ValueError):
        return None


# The rules ----------------------------------------------------------------------------------
def normalise(file: PersonalDataFile) -> None:
    """Trim the texts; a published file carries no reason for not publishing."""
    for name in TEXT_FIELDS:
        setattr(file, name, (getattr(file, name) or "").strip())
    file.contact_email = file.contact_email.lower()
    if file.visibility == Visibility.PUBLIC:
        file.internal_reason = ""


def fill_defaults(file: PersonalDataFile) -> None:
    """No phone and no e-mail: the holding unit's phone (保有機關之聯絡方式)."""
    if not file.contact_phone and not file.contact_email and file.unit_id:
        file.contact_phone = (file.unit.phone or "").strip()


def _new(items, kept_pks) -> list:
    return [item for item in items if item.pk not in kept_pks]


def _code_errors(items, kept_pks, field_label) -> str | None:
    """An inactive code may stay on a file that has it, never be newly chosen."""
    inactive = [item for item in _new(items, kept_pks) if not item.is_active]
    if not inactive:
        return None
    return _(
        "%(label)s代號 %(codes)s 已停用，不能新選；請改選使用中的代號（條文 7.1；"
        "個人資料保護法之特定目的及個人資料之類別）。"
    ) % {"label": field_label, "codes": "、".join(sorted(i.code for i in inactive))}


def _looks_like_a_legal_ground(text: str) -> bool:
    """A reason names its legal ground: a law and its article (「…法第 18 條…」)."""
    return "條" in text and ("法" in text or "規則" in text or "辦法" in text)


def check_file(
    file: PersonalDataFile,
    *,
    purposes,
    categories,
    systems,
    assets,
    kept: PersonalDataFile | None = None,
    kept_m2m: dict | None = None,
) -> dict:
    """Field errors of a file as it would be saved.

    1. 個人資料檔案名稱, unique within the holding unit among the files in use.
    2. 保有單位: a unit in use (one already chosen may stay).
    3. 保有依據: the law or regulation (7.1; art. 17).
    4. 特定目的: at least one code, or — when no code fits (the list's entries are broad
       headings) — the purpose written in 特定目的補充說明 (art. 17 asks for the purpose).
    5. 個人資料之類別: at least one code.
    6. An inactive code is never newly chosen (a file keeps one it has).
    7. 聯絡方式: a phone or an e-mail (the unit's phone when left blank); a valid one.
    8. 保存期限 and 利用範圍 given.
    9. Not published (內部): the reason with its legal ground.
    10. Systems and equipment newly chosen are in use (not voided, not decommissioned).
    """
    errors = {}
    kept_m2m = kept_m2m or {name: set() for name in M2M_FIELDS}
    cite = _("條文 7.1；個人資料保護法第 17 條")
    if not file.name:
        errors["name"] = _("請填寫個人資料檔案名稱（%(cite)s）。") % {"cite": cite}
    if file.unit_id is None:
        errors["unit"] = _("請選擇保有此檔案的單位（%(cite)s：保有機關名稱）。") % {"cite": cite}
    else:
        unit_kept = kept is not None and kept.unit_id == file.unit_id
        if not file.unit.is_active and not unit_kept:
            errors["unit"] = _("此單位已停用，請選擇使用中的單位。")
        elif file.name:
            twin = PersonalDataFile.objects.filter(
                unit_id=file.unit_id, name__iexact=file.name, voided_at__isnull=True
            )
            if file.pk is not None:
                twin = twin.exclude(pk=file.pk)
            if twin.exists():
                errors["name"] = _(
                    "%(unit)s已有名為「%(name)s」的個人資料檔案；同一單位的檔案名稱不可重複，"
                    "請修改名稱或編輯原檔案。"
                ) % {"unit": file.unit.name, "name": file.name}
    if not file.legal_basis:
        errors["legal_basis"] = _(
            "請填寫保有依據：法律或法規命令的名稱與條次，例如：高級中等教育法第 43 條（%(cite)s）。"
        ) % {"cite": cite}
    if not purposes and not file.purpose_note:
        errors["purposes"] = _(
            "請至少選擇一項特定目的；代號都不適用時，於「特定目的補充說明」寫明蒐集的特定目的"
            "（%(cite)s）。"
        ) % {"cite": cite}
    elif message := _code_errors(purposes, kept_m2m["purposes"], _("特定目的")):
        errors["purposes"] = message
    if not categories:
        errors["categories"] = _("請至少選擇一項個人資料之類別（%(cite)s）。") % {"cite": cite}
    elif message := _code_errors(categories, kept_m2m["categories"], _("個人資料類別")):
        errors["categories"] = message
    if not file.contact_phone and not file.contact_email:
        errors["contact_phone"] = _(
            "請填寫聯絡電話或電子郵件；保有單位沒有登錄電話，無法自動帶入"
            "（%(cite)s：保有機關之聯絡方式）。"
        ) % {"cite": cite}
    if file.contact_phone:
        try:
            phone_validator(file.contact_phone)
        except ValidationError as error:
            errors["contact_phone"] = error.messages
    if file.contact_email:
        try:
            validate_email(file.contact_email)
        except ValidationError:
            errors["contact_email"] = _("請輸入有效的電子郵件地址。")
    if not file.retention:
        errors["retention"] = _(
            "請填寫保存期限，例如：學生畢業後 5 年；特定目的消失或期限屆滿時應刪除"
            "（條文 7.1；個人資料保護法第 11 條第 3 項）。"
        )
    if not file.users:
        errors["users"] = _(
            "請填寫可使用此檔案的單位或職務（條文 7.2：不得在沒有法源依據下蒐集或利用個資）。"
        )
    if file.visibility not in Visibility.values:
        errors["visibility"] = _("請選擇是否公開於學校網站。")
    elif file.visibility == Visibility.INTERNAL:
        if not file.internal_reason:
            errors["internal_reason"] = _(
                "不公開須寫明理由及法律依據：個人資料保護法第 17 條要求公開，除非有法律依據"
                "（例如：政府資訊公開法第 18 條第 1 項各款）。"
            )
        elif not _looks_like_a_legal_ground(file.internal_reason):
            errors["internal_reason"] = _(
                "請在不公開理由中寫明法律依據及條次，例如：政府資訊公開法第 18 條第 1 項"
                "第 6 款（個人資料保護法第 17 條）。"
            )
    fresh_systems = _new(systems, kept_m2m["systems"])
    if any(s.voided_at is not None for s in fresh_systems):
        errors["systems"] = _("請選擇使用中的資訊系統；已作廢的系統不能新選。")
    fresh_assets = _new(assets, kept_m2m["assets"])
    if any(a.voided_at is not None for a in fresh_assets):
        errors["assets"] = _("請選擇資產清冊中使用中的設備；已作廢的設備不能新選。")
    elif any(a.state == Asset.State.DECOMMISSIONED for a in fresh_assets):
        errors["assets"] = _(
            "已報廢的設備不能新選為存放處：報廢前應已刪除其個人資料檔案（條文 7.10）。"
        )
    for name in TEXT_FIELDS:
        limit = PersonalDataFile._meta.get_field(name).max_length
        value = getattr(file, name) or ""
        if limit and len(value) > limit and name not in errors:
            errors[name] = _("最多 %(limit)d 個字（目前 %(n)d 個字）。") % {
                "limit": limit,
                "n": len(value),
            }
    return errors


# Writing ----------------------------------------------------------------------------------------
def _stored_lists(file_pk) -> dict:
    if file_pk is None:
        return {name: [] for name in M2M_FIELDS}
    file = PersonalDataFile.objects.get(pk=file_pk)
    return {name: list(getattr(file, name).all()) for name in M2M_FIELDS}


@transaction.atomic
def save_file(
    file: PersonalDataFile,
    *,
    actor,
    purposes=None,
    categories=None,
    systems=None,
    assets=None,
) -> PersonalDataFile:
    """Enter a file in the inventory, or correct one, with its code lists, systems and
    equipment (``None``: unchanged)."""
    if not may_write(actor):
        raise PermissionDenied
    kept = None
    if file.pk is not None:
        kept = PersonalDataFile.objects.select_for_update().get(pk=file.pk)
        if kept.voided_at is not None:
            raise ValidationError({"__all__": _("此個人資料檔案已作廢，不能修改。")})
        for name in KEPT_FIELDS:
            setattr(file, name, getattr(kept, name))
    else:
        file.voided_at, file.voided_by, file.void_reason = None, None, ""
    kept_lists = _stored_lists(file.pk)
    kept_pks = {name: {i.pk for i in items} for name, items in kept_lists.items()}
    given = {"purposes": purposes, "categories": categories, "systems": systems, "assets": assets}
    lists = {
        name: list(dict.fromkeys(kept_lists[name] if value is None else value))
        for name, value in given.items()
    }
    if file.unit_id is not None:
        # Two officers entering the same name in one unit at once: the second waits here
        # and then sees the first (the name is unique per unit among files in use).
        Unit.objects.select_for_update().filter(pk=file.unit_id).first()
    normalise(file)
    fill_defaults(file)
    errors = check_file(
        file,
        purposes=lists["purposes"],
        categories=lists["categories"],
        systems=lists["systems"],
        assets=lists["assets"],
        kept=kept,
        kept_m2m=kept_pks,
    )
    if errors:
        raise ValidationError(errors)
    with trail.as_actor(actor):
        trail.save_with_lists(file, kept=kept, lists=lists)
    refresh_duty()
    return file


def check_review(file: PersonalDataFile, *, at: dt.datetime, now: dt.datetime) -> dict:
    """Field errors of a yearly review: a file in use, not in the future, not before the
    file was entered."""
    if file.voided_at is not None:
        return {"__all__": _("此個人資料檔案已作廢，不需再檢視。")}
    if at > now + CLOCK_SKEW:
        return {"reviewed_at": _("檢視時間不可晚於現在。")}
    if file.created_at and at < file.created_at - CLOCK_SKEW:
        return {
            "reviewed_at": _("檢視時間不可早於此檔案建立的時間（%(when)s）。")
            % {"when": roc.format_roc_datetime(timezone.localtime(file.created_at))}
        }
    return {}


@transaction.atomic
def review_file(
    file: PersonalDataFile, *, actor, note: str = "", at: dt.datetime | None = None
) -> FileReview:
    """Confirm the file's yearly review (確認年度檢視): its four items, holding systems and
    equipment, retention and use are still right (7.1)."""
    if not may_write(actor):
        raise PermissionDenied
    now = timezone.now()
    file = PersonalDataFile.objects.select_for_update().get(pk=file.pk)
    at = at or now
    errors = check_review(file, at=at, now=now)
    note = (note or "").strip()
    if len(note) > 2000:
        errors["note"] = _("最多 %(limit)d 個字（目前 %(n)d 個字）。") % {
            "limit": 2000,
            "n": len(note),
        }
    if errors:
        raise ValidationError(errors)
    with trail.as_actor(actor):
        review = FileReview.objects.create(file=file, reviewed_at=at, reviewer=actor, note=note)
    refresh_duty()
    return review


@transaction.atomic
def void_file(file: PersonalDataFile, *, actor, reason: str) -> PersonalDataFile:
    """A file no longer kept leaves the inventory (and the public page) with the reason."""
    if not may_write(actor):
        raise PermissionDenied
    core_services.record_void(file, actor=actor, reason=reason)
    refresh_duty()
    return file


def refresh_duty() -> None:
    """Recompute the review duty's states (derived data) at once."""
    from isms.compliance import engine

    engine.refresh(DUTY)


# Equipment that holds a file (7.9, 7.10) ------------------------------------------------------
EXIT_KINDS = (CommissioningRecord.Kind.DECOMMISSION, CommissioningRecord.Kind.REUSE)


def _external(visit: Visit) -> bool:
    """A server-room visit by an outsider (a vendor's person)."""
    return bool(visit.vendor_id or visit.unit == Visit.Unit.VENDOR or visit.company)


def holdings(file: PersonalDataFile) -> dict:
    """The equipment that holds the file, each with its 報廢 / 移轉他用 records (A-1), its
    outside repairs and the server-room visits that worked on it, and what is missing.

    Four queries whatever the number of equipment and records:
    1. the equipment (``file.assets``);
    2. their A-1 records of 報廢 and 移轉他用 (not voided);
    3. their outside repairs (not voided);
    4. the server-room visits naming them (not voided).

    Gaps (each citing its clause):
    - 7.9 / 7.10: the asset register does not say the equipment stores personal data, so
      the assets and facilities modules do not ask for the person present or the wipe;
    - 7.10: decommissioned equipment without a 報廢 or 移轉他用 record that wiped it, and
      any such record that did not wipe it;
    - 7.9: an outside repair without the school's person present, or sent out without
      the data protection taken; a vendor's server-room visit working on it without the
      person present.
    """
    assets = list(file.assets.select_related("unit").order_by("property_number", "id"))
    ids = [a.pk for a in assets]
    by_asset = {a.pk: {"asset": a, "records": [], "repairs": [], "visits": []} for a in assets}
    if ids:
        records = (
            CommissioningRecord.objects.filter(
                asset_id__in=ids, kind__in=EXIT_KINDS, voided_at__isnull=True
            )
            .select_related("executor__person", "reviewed_by__person")
            .order_by("executed_on", "id")
        )
        for record in records:
            by_asset[record.asset_id]["records"].append(record)
        repairs = (
            RepairVisit.objects.filter(asset_id__in=ids, voided_at__isnull=True)
            .select_related("present")
            .order_by("visited_on", "id")
        )
        for repair in repairs:
            by_asset[repair.asset_id]["repairs"].append(repair)
        through = Visit.assets.through
        links = (
            through.objects.filter(asset_id__in=ids, visit__voided_at__isnull=True)
            .select_related("visit__room", "visit__vendor", "visit__present_person__person")
            .order_by("visit__entered_at", "visit_id")
        )
        for link in links:
            by_asset[link.asset_id]["visits"].append(link.visit)
    rows = []
    all_gaps = []
    for asset in assets:
        row = by_asset[asset.pk]
        row["gaps"] = [] if asset.voided_at is not None else _asset_gaps(row)
        row["decommissioned"] = asset.state == Asset.State.DECOMMISSIONED
        rows.append(row)
        all_gaps.extend(row["gaps"])
    return {"rows": rows, "gaps": all_gaps}


def _asset_gaps(row) -> list[str]:
    asset = row["asset"]
    gaps = []
    if not asset.stores_personal_data:
        gaps.append(
            _(
                "資產清冊未標示設備「%(asset)s」存有個人資料：外部維修的在場人員（條文 7.9）"
                "與報廢前刪除資料（條文 7.10）的檢查不會啟動，請編輯資產勾選「存有個人資料」。"
            )
            % {"asset": asset}
        )
    wiped = [r for r in row["records"] if r.wiped]
    if asset.state == Asset.State.DECOMMISSIONED and not wiped:
        gaps.append(
            _(
                "設備「%(asset)s」已報廢，但沒有勾選「刪除硬碟資料」的報廢或移轉他用紀錄（A-1）："
                "儲存個人資料檔案的設備報廢前應刪除其個人資料檔案（條文 7.10）。"
            )
            % {"asset": asset}
        )
    for record in row["records"]:
        if not record.wiped:
            gaps.append(
                _(
                    "%(kind)s紀錄（%(day)s）未勾選「刪除硬碟資料」：儲存個人資料檔案的設備"
                    "報廢或移轉他用前應刪除其個人資料檔案（條文 7.10）。"
                )
                % {"kind": record.get_kind_display(), "day": roc.format_roc(record.executed_on)}
            )
    for repair in row["repairs"]:
        values = {"day": roc.format_roc(repair.visited_on), "party": repair.party}
        if repair.present_id is None:
            gaps.append(
                _(
                    "外部維修（%(day)s，%(party)s）沒有登記本校在場人員：外部人員維修或更新"
                    "儲存個人資料檔案的設備時，須指派專人在場（條文 7.9）。"
                )
                % values
            )
        if repair.offsite and not repair.data_protection:
            gaps.append(
                _("送外維修（%(day)s，%(party)s）沒有寫明資料保護措施（條文 7.9）。") % values
            )
    for visit in row["visits"]:
        if _external(visit) and visit.present_person_id is None:
            gaps.append(
                _(
                    "機房進出（%(when)s，%(who)s）由外部人員維修或更新此設備，沒有登記在場專人"
                    "（條文 7.9）。"
                )
                % {
                    "when": roc.format_roc_datetime(timezone.localtime(visit.entered_at)),
                    "who": visit.visitor_name,
                }
            )
    return gaps
