"""The rules of the server-room access log (穀保家商人員進出資訊機房登記表; 3.1.3, 7.9).

Each line of the paper is a ``Visit``: who went into the server room, when they came in and
left, why (維修 / 其他), whether they carried equipment in or out, their unit (廠商 / 總務處 /
設備組 / 其他), who of the school escorted them (陪同人員簽名) and the guard's confirmation
that the room key came back (守衛室簽名確認鑰匙繳回).

- The system administrators, the equipment head and the security officer record visits
  and correct them (``save_visit``) and record the exit (``record_exit``).
- The guard (and, as back-up, the security officer or a system administrator) confirms the
  key's return (``confirm_key``); a visit whose exit was not recorded leaves then.
- 3.1.3 門禁管制: an outsider (a vendor) is always escorted by a person of the school.
- 7.9: a vendor who repairs or updates equipment storing personal data works with a person
  of the school present (在場專人).
- Once the guard has confirmed the key, the visit is the signed paper line: only its notes
  may change; a wrong line is voided with a reason and recorded again.

Every function validates first (``ValidationError`` field → zh-TW message citing the form
or clause, nothing saved), checks permission (``PermissionDenied``), takes the acting
person and saves inside ``trail.as_actor``.
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail
from isms.core import roc
from isms.core.access import has_role
from isms.core.roles import EQUIPMENT_HEAD, GUARD, SECURITY_OFFICER, SYSADMIN
from isms.core.services import lock, record_step
from isms.vendors import agreements as vendor_agreements
from isms.vendors.models import Vendor

from .models import Room, Visit

DUTY = "facilities.visit_closed"
FORM = gettext_lazy("人員進出資訊機房登記表")
Purpose = Visit.Purpose
Unit = Visit.Unit

# Who records and corrects visits, and who confirms the key's return.
RECORDERS = frozenset({SYSADMIN, EQUIPMENT_HEAD, SECURITY_OFFICER})
CONFIRMERS = frozenset({GUARD, SECURITY_OFFICER, SYSADMIN})
# A moment "now" on the recorder's clock may run a little ahead of the server's.
CLOCK_SKEW = dt.timedelta(minutes=5)

# What a person enters on the form (or the API); the rest is the service's.
ENTRY_FIELDS = (
    "room",
    "entered_at",
    "exited_at",
    "purpose",
    "purpose_detail",
    "carries_equipment",
    "equipment_detail",
    "unit",
    "unit_other",
    "vendor",
    "company",
    "visitor_name",
    "escort",
    "personal_data",
    "present_person",
    "notes",
)
# The fields an edit may still change once the guard has confirmed the key.
OPEN_AFTER_KEY = frozenset({"notes"})
# Kept as stored whatever an edit sends.
KEPT_FIELDS = (
    "key_returned_at",
    "key_confirmed_by_id",
    "recorded_by_id",
    "voided_at",
    "voided_by_id",
    "void_reason",
    "created_at",
)
TEXT_FIELDS = (
    "purpose_detail",
    "equipment_detail",
    "unit_other",
    "company",
    "visitor_name",
    "notes",
)


# Who may do what ---------------------------------------------------------------------------
def may_record(user) -> bool:
    """Record visits, correct them and record exits."""
    return has_role(user, *RECORDERS)


def may_confirm(user) -> bool:
    """Confirm the key's return: the guard, the officer or a system administrator."""
    return has_role(user, *CONFIRMERS)


def locked(visit: Visit) -> bool:
    """The key's return is confirmed: the line is signed, only its notes may change."""
    return visit.key_returned_at is not None


# The entry day ------------------------------------------------------------------------------
def day_end(moment: dt.datetime) -> dt.datetime:
    """The local midnight (Asia/Taipei) after ``moment``: a visit is closed by then."""
    day = timezone.localtime(moment).date() + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def today_start(now: dt.datetime | None = None) -> dt.datetime:
    """Local midnight at the start of today (Asia/Taipei)."""
    day = timezone.localtime(now or timezone.now()).date()
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class Status:
    """The list's 「狀態」 of a visit."""

    IN_PROGRESS = "in_progress"
    KEY_OUT = "key_out"
    OVERDUE = "overdue"
    CLOSED = "closed"

    choices = [
        (IN_PROGRESS, gettext_lazy("進行中")),
        (KEY_OUT, gettext_lazy("已離開、鑰匙未繳回")),
        (OVERDUE, gettext_lazy("逾時未結")),
        (CLOSED, gettext_lazy("已結束")),
    ]


def status(visit: Visit, now: dt.datetime | None = None) -> str:
    """進行中, 已離開、鑰匙未繳回, 逾時未結 (not closed when its entry day ended) or 已結束."""
    if visit.closed:
        return Status.CLOSED
    if (now or timezone.now()) >= day_end(visit.entered_at):
        return Status.OVERDUE
    if visit.exited_at is not None:
        return Status.KEY_OUT
    return Status.IN_PROGRESS


def status_filter(code: str, now: dt.datetime | None = None) -> Q:
    """The visits of one status, as a query (the list's filter): a visit is overdue when its
    entry day is before today (local) and it is not closed."""
    closed = Q(exited_at__isnull=False, key_returned_at__isnull=False)
    today = today_start(now)
    if code == Status.CLOSED:
        return closed
    if code == Status.OVERDUE:
        return ~closed & Q(entered_at__lt=today)
    if code == Status.KEY_OUT:
        return Q(exited_at__isnull=False, key_returned_at__isnull=True, entered_at__gte=today)
    if code == Status.IN_PROGRESS:
        return Q(exited_at__isnull=True, entered_at__gte=today)
    raise ValueError(code)


def guard_visits(now: dt.datetime | None = None):
    """The guard page's visits: today's, and every earlier one whose key is not confirmed;
    voided ones left out; newest first."""
    return (
        Visit.objects.active()
        .filter(Q(entered_at__gte=today_start(now)) | Q(key_returned_at__isnull=True))
        .select_related("room", "escort__person", "key_confirmed_by__person")
        .order_by("-entered_at", "-id")
    )


# Labels ---------------------------------------------------------------------------------------
def unit_label(visit: Visit) -> str:
    """單位 in a line: 廠商（company）, 其他（what）, or the unit."""
    if visit.unit == Unit.VENDOR and visit.company:
        return _("廠商：%(company)s") % {"company": visit.company}
    if visit.unit == Unit.OTHER and visit.unit_other:
        return _("其他：%(unit)s") % {"unit": visit.unit_other}
    return visit.get_unit_display()


def purpose_label(visit: Visit) -> str:
    """事由 in a line: 維修：what / 其他：why."""
    return _("%(purpose)s：%(detail)s") % {
        "purpose": visit.get_purpose_display(),
        "detail": visit.purpose_detail,
    }


def person_name(user) -> str:
    return user.display_name if user is not None else ""


# The rules ------------------------------------------------------------------------------------
def _active_login(user_id) -> bool:
    return get_user_model().objects.filter(pk=user_id, is_active=True).exists()


def normalise(visit: Visit) -> None:
    """Trim the texts; clear what the choices make irrelevant."""
    for name in TEXT_FIELDS:
        setattr(visit, name, (getattr(visit, name) or "").strip())
    if not visit.carries_equipment:
        visit.equipment_detail = ""
    if visit.unit != Unit.OTHER:
        visit.unit_other = ""
    if visit.unit != Unit.VENDOR:
        visit.company = ""
        visit.vendor = None
    elif visit.vendor_id:
        # A registered vendor's name is the company written on the line.
        name = Vendor.objects.filter(pk=visit.vendor_id).values_list("name", flat=True).first()
        if name:
            visit.company = name


def check_visit(
    visit: Visit,
    *,
    assets_with_personal_data: bool = False,
    kept: Visit | None = None,
    now: dt.datetime | None = None,
) -> dict:
    """Field errors of a visit as it would be saved (the form's columns, 3.1.3, 7.9).

    1. 機房: an active room (or the one the visit already had: ``kept``).
    2. 進入時間: given, not in the future (``CLOCK_SKEW`` allowed); 離去時間: not before
       the entry, not in the future.
    3. 進出事由: 維修 names what is repaired, 其他 the reason.
    4. 攜出（入）設備: 有 says what.
    5. 單位: 其他 says which, 廠商 a registered vendor in use (or, unregistered, its
       name); 姓名 given.
    6. 3.1.3: a vendor is escorted by an active login of the school.
    7. 7.9: a vendor working on equipment storing personal data (ticked, or an asset
       chosen that stores it: ``assets_with_personal_data``) has the school's person
       present (an active login).
    8. Texts within the model's limits.
    """
    now = now or timezone.now()
    errors = {}
    if not visit.room_id:
        errors["room"] = _("請選擇進出的機房（%(form)s）。") % {"form": FORM}
    else:
        found = list(Room.objects.filter(pk=visit.room_id).values_list("voided_at", flat=True))
        if not found:
            errors["room"] = _("找不到此機房。")
        elif found[0] is not None and (kept is None or kept.room_id != visit.room_id):
            errors["room"] = _("此機房已作廢，請選擇其他機房。")
    entered, exited = visit.entered_at, visit.exited_at
    if entered is None:
        errors["entered_at"] = _("請填寫進入機房的時間（%(form)s「進入」）。") % {"form": FORM}
    elif entered > now + CLOCK_SKEW:
        errors["entered_at"] = _("進入時間不可晚於現在；登記表記錄已發生的進出。")
    elif timezone.localtime(entered).date() < roc.MIN_DATE:
        errors["entered_at"] = _("民國元年（1912 年）以前的日期無法以民國紀年表示。")
    if exited is not None:
        if entered is not None and exited < entered:
            errors["exited_at"] = _("離去時間不可早於進入時間。")
        elif exited > now + CLOCK_SKEW:
            errors["exited_at"] = _("離去時間不可晚於現在；尚未離開請留空，離開時再登錄。")
    if visit.purpose not in Purpose.values:
        errors["purpose"] = _("請選擇進出事由：維修或其他（%(form)s「事由」）。") % {"form": FORM}
    elif not visit.purpose_detail:
        if visit.purpose == Purpose.REPAIR:
            message = _("事由為「維修」時，請寫明維修的設備或項目（%(form)s）。")
        else:
            message = _("事由為「其他」時，請寫明進入機房的事由（%(form)s）。")
        errors["purpose_detail"] = message % {"form": FORM}
    if visit.carries_equipment and not visit.equipment_detail:
        errors["equipment_detail"] = _(
            "攜出（入）設備為「有」時，請寫明攜出或攜入的設備（%(form)s）。"
        ) % {"form": FORM}
    if visit.unit not in Unit.values:
        errors["unit"] = _("請選擇進入機房人員的單位：廠商、總務處、設備組或其他。")
    elif visit.unit == Unit.OTHER and not visit.unit_other:
        errors["unit_other"] = _("單位為「其他」時，請寫明單位（%(form)s）。") % {"form": FORM}
    elif visit.unit == Unit.VENDOR and visit.vendor_id:
        found = list(Vendor.objects.filter(pk=visit.vendor_id).values_list("voided_at", flat=True))
        if not found:
            errors["vendor"] = _("找不到此委外廠商。")
        elif found[0] is not None and (kept is None or kept.vendor_id != visit.vendor_id):
            errors["vendor"] = _("此委外廠商已作廢，請選擇其他廠商或直接填寫廠商名稱。")
    elif visit.unit == Unit.VENDOR and not visit.company:
        errors["company"] = _(
            "單位為「廠商」時，請選擇登記的委外廠商或填寫廠商名稱（%(form)s）。"
        ) % {"form": FORM}
    if not visit.visitor_name:
        errors["visitor_name"] = _("請填寫進入機房人員的姓名（%(form)s「姓名」）。") % {
            "form": FORM
        }
    vendor = visit.unit == Unit.VENDOR
    if visit.escort_id and not _active_login(visit.escort_id):
        if kept is None or kept.escort_id != visit.escort_id:
            errors["escort"] = _("陪同人員須為在職的本校人員（有效的登入帳號）。")
    elif vendor and not visit.escort_id:
        errors["escort"] = _(
            "廠商人員進入機房須由本校人員陪同，請選擇陪同人員（條文 3.1.3 門禁管制）。"
        )
    personal_data = visit.personal_data or assets_with_personal_data
    if visit.present_person_id and not _active_login(visit.present_person_id):
        if kept is None or kept.present_person_id != visit.present_person_id:
            errors["present_person"] = _("在場專人須為在職的本校人員（有效的登入帳號）。")
    elif vendor and personal_data and not visit.present_person_id:
        errors["present_person"] = _(
            "外部廠商更新或維修儲存個人資料檔案之電腦設備時，須指派專人在場確保資料安全，"
            "請選擇在場專人（條文 7.9）。"
        )
    for name in TEXT_FIELDS:
        limit = Visit._meta.get_field(name).max_length
        value = getattr(visit, name) or ""
        if limit and len(value) > limit and name not in errors:
            errors[name] = _("最多 %(limit)d 個字（目前 %(n)d 個字）。") % {
                "limit": limit,
                "n": len(value),
            }
    return errors


def vendor_gaps(visit: Visit) -> list[str]:
    """For a registered vendor's visit: what its contract and agreements lack on the day
    of the visit (6.1, 6.1.2, 6.1.3). Shown on the visit's page; the log keeps the line."""
    if visit.unit != Unit.VENDOR or not visit.vendor_id or visit.entered_at is None:
        return []
    day = timezone.localtime(visit.entered_at).date()
    return vendor_agreements.visit_gaps(visit.vendor_id, visit.visitor_name, day)


def _assets_store_personal_data(assets) -> bool:
    return any(a.stores_personal_data for a in assets)


# Writing ----------------------------------------------------------------------------------------
@transaction.atomic
def save_visit(visit: Visit, *, actor, assets=None, now=None) -> Visit:
    """Record a visit (the actor is its recorder) or correct one.

    ``assets`` are the equipment worked on (None: keep those the visit has). An asset that
    stores personal data ticks 「涉及存有個人資料之設備」 (7.9). Once the key's return is
    confirmed only the notes may change (void it and record it again otherwise).
    """
    if not may_record(actor):
        raise PermissionDenied
    now = now or timezone.now()
    kept = None
    if visit.pk is None:
        visit.recorded_by = actor
        visit.key_returned_at, visit.key_confirmed_by = None, None
        current_assets = []
    else:
        kept = lock(visit)
        if kept.voided_at is not None:
            raise ValidationError({"__all__": _("此紀錄已作廢，不能修改。")})
        for name in KEPT_FIELDS:
            setattr(visit, name, getattr(kept, name))
        current_assets = list(kept.assets.all())
    chosen = current_assets if assets is None else list(assets)
    normalise(visit)
    if kept is not None and locked(kept):
        changed = [
            name
            for name in ENTRY_FIELDS
            if name not in OPEN_AFTER_KEY
            and getattr(visit, Visit._meta.get_field(name).attname)
            != getattr(kept, Visit._meta.get_field(name).attname)
        ]
        if {a.pk for a in chosen} != {a.pk for a in current_assets}:
            changed.append("assets")
        if changed:
            message = _(
                "守衛室已確認鑰匙繳回，此紀錄只能修改備註；進出時間與人員如有錯誤，"
                "請作廢後重新登錄（%(form)s）。"
            ) % {"form": FORM}
            raise ValidationError({name: message for name in changed})
    else:
        if _assets_store_personal_data(chosen):
            visit.personal_data = True
        errors = check_visit(
            visit,
            assets_with_personal_data=_assets_store_personal_data(chosen),
            kept=kept,
            now=now,
        )
        if errors:
            raise ValidationError(errors)
    with trail.as_actor(actor):
        visit.save()
        if assets is not None and {a.pk for a in chosen} != {a.pk for a in current_assets}:
            visit.assets.set(chosen)
    refresh_duty()
    return visit


@transaction.atomic
def record_exit(visit: Visit, *, actor, exited_at=None, now=None) -> Visit:
    """Record when the visitor left the room (default: now)."""
    if not may_record(actor):
        raise PermissionDenied
    now = now or timezone.now()
    visit = lock(visit)
    if visit.voided_at is not None:
        raise ValidationError({"__all__": _("此紀錄已作廢，不能登錄離去時間。")})
    if visit.exited_at is not None:
        raise ValidationError(
            {
                "exited_at": _("已登錄離去時間 %(moment)s；如有錯誤請編輯此紀錄。")
                % {"moment": roc.format_roc_datetime(visit.exited_at)}
            }
        )
    moment = exited_at or now
    if moment < visit.entered_at:
        raise ValidationError({"exited_at": _("離去時間不可早於進入時間。")})
    if moment > now + CLOCK_SKEW:
        raise ValidationError({"exited_at": _("離去時間不可晚於現在。")})
    record_step(visit, actor=actor, exited_at=moment)
    refresh_duty()
    return visit


@transaction.atomic
def confirm_key(visit: Visit, *, actor, now=None) -> Visit:
    """守衛室簽名確認鑰匙繳回: the key is back now, confirmed by the actor; a visit whose
    exit was not recorded left when the key was handed back."""
    if not may_confirm(actor):
        raise PermissionDenied
    now = now or timezone.now()
    visit = lock(visit, "key_confirmed_by__person")
    if visit.voided_at is not None:
        raise ValidationError({"__all__": _("此紀錄已作廢，不需確認鑰匙繳回。")})
    if visit.key_returned_at is not None:
        raise ValidationError(
            {
                "__all__": _("鑰匙繳回已於 %(moment)s 由 %(name)s 確認，不需再次確認。")
                % {
                    "moment": roc.format_roc_datetime(visit.key_returned_at),
                    "name": person_name(visit.key_confirmed_by),
                }
            }
        )
    returned = max(now, visit.entered_at)
    values = {"key_returned_at": returned, "key_confirmed_by": actor}
    if visit.exited_at is None:
        values["exited_at"] = returned
    record_step(visit, actor=actor, **values)
    refresh_duty()
    return visit


@transaction.atomic
def void_visit(visit: Visit, *, actor, reason: str) -> Visit:
    """Void a wrongly recorded visit (with the reason); its duty is no longer followed."""
    from isms.core.services import record_void

    if not may_record(actor):
        raise PermissionDenied
    visit = lock(visit)
    record_void(visit, actor=actor, reason=reason)
    refresh_duty()
    return visit


def refresh_duty() -> None:
    """Recompute the visit-closed duty's states (derived data) at once."""
    from isms.compliance import engine

    engine.refresh(DUTY)
