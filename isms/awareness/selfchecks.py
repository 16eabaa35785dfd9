"""The rules of the offices' semester self-checks (辦公室自主檢查; clauses 2.3, 7.5, 7.7).

Each semester the head of each office (or whoever the security officer names for it:
``OfficeHead``) goes through the school's checklist — clear desks and locked screens
(2.3.1, 2.3.2), personal-data files closed after use (7.5), no papers with personal data
left in public places or reused (7.7) — and answers each active item 符合 or 不符合 (with
a note). A failed item is a finding: the head or the officer records what was done about
it (改善情形) within 30 days. One check per office and semester (學年度, 學期, by the
check's date under the school's semester starts); a mistaken one is voided by the officer.

The checklist is the school's: the officer edits, adds and retires items. An item a check
has used is retired (no longer asked), never deleted, so old checks keep it.

Every function validates first (``ValidationError`` field → zh-TW message citing the
clause, nothing saved), checks permission, takes the acting person and saves inside
``trail.as_actor``.
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from isms.audit import trail
from isms.core import roc
from isms.core import services as core_services
from isms.core.access import has_role, user_roles
from isms.core.models import Unit
from isms.core.roles import MANAGERS, SECURITY_OFFICER

from .models import OfficeHead, SelfCheck, SelfCheckItem, SelfCheckResult

DUTY = "awareness.office_self_check"
FINDING_DUTY = "awareness.self_check_finding"
# A failed item is put right within this many days of the check (end of that day, Taipei).
FIX_DAYS = 30
NOTE_LIMIT = SelfCheckResult._meta.get_field("note").max_length
TEXT_LIMIT = SelfCheckItem._meta.get_field("text").max_length
CLAUSE_LIMIT = SelfCheckItem._meta.get_field("clause").max_length
RESOLUTION_LIMIT = 2000


# Who may do what ---------------------------------------------------------------------------
def is_officer(user) -> bool:
    return has_role(user, SECURITY_OFFICER)


def is_manager(user) -> bool:
    return bool(getattr(user, "is_superuser", False)) or bool(user_roles(user) & MANAGERS)


def headed_units(user):
    """The units this login fills the self-check of (a queryset of unit ids)."""
    return OfficeHead.objects.filter(user_id=getattr(user, "pk", None)).values("unit_id")


def heads_any(user) -> bool:
    return bool(getattr(user, "pk", None)) and OfficeHead.objects.filter(user=user).exists()


def may_fill_any(user) -> bool:
    """The officer (any unit) or the head of some unit."""
    return is_officer(user) or heads_any(user)


def may_fill(user, unit_id) -> bool:
    """The officer for any unit; a head for their unit."""
    if is_officer(user):
        return True
    return OfficeHead.objects.filter(user_id=getattr(user, "pk", None), unit_id=unit_id).exists()


def scope(queryset, user, action):
    """Managers read every check and the officer writes any; anyone else only the checks
    of the units they head."""
    if action in {"view", "export"} and is_manager(user):
        return queryset
    if action != "view" and is_officer(user):
        return queryset
    return queryset.filter(unit__in=headed_units(user))


def term_of(day: dt.date):
    """The semester of a day under the school's semester starts."""
    return roc.term_for_school(day)


def fill_units(user):
    """The units this person may fill a check for: every active unit for the officer,
    else the active units they head."""
    units = Unit.objects.filter(is_active=True)
    if not is_officer(user):
        units = units.filter(pk__in=headed_units(user))
    return units.order_by("name")


# Checklist items ---------------------------------------------------------------------------
def in_use(item: SelfCheckItem) -> bool:
    return item.pk is not None and SelfCheckResult.objects.filter(item=item).exists()


@transaction.atomic
def item_save(item: SelfCheckItem, *, actor) -> SelfCheckItem:
    """Add or edit a checklist item (the officer). Editing an item does not change what
    old checks show: each result keeps the text as it was asked."""
    if not is_officer(actor):
        raise PermissionDenied
    item.text = (item.text or "").strip()
    item.clause = (item.clause or "").strip()
    errors = {}
    if not item.text:
        errors["text"] = _("請填寫檢查項目（條文 2.3、7.5、7.7）。")
    elif len(item.text) > TEXT_LIMIT:
        errors["text"] = _("最多 %(limit)d 個字。") % {"limit": TEXT_LIMIT}
    if len(item.clause) > CLAUSE_LIMIT:
        errors["clause"] = _("最多 %(limit)d 個字。") % {"limit": CLAUSE_LIMIT}
    if item.order is None:
        item.order = 0
    if errors:
        raise ValidationError(errors)
    with trail.as_actor(actor):
        item.save()
    return item


@transaction.atomic
def item_remove(item: SelfCheckItem, *, actor) -> bool:
    """Remove an item: deleted when no check used it, else retired (no longer asked, kept
    on the checks that answered it). True when deleted."""
    if not is_officer(actor):
        raise PermissionDenied
    item = SelfCheckItem.objects.select_for_update().get(pk=item.pk)
    with trail.as_actor(actor):
        if in_use(item):
            if item.active:
                item.active = False
                item.save(update_fields=["active", "updated_at"])
            return False
        item.delete()
    return True


# Who fills each unit's check ---------------------------------------------------------------
@transaction.atomic
def head_save(head: OfficeHead, *, actor) -> OfficeHead:
    """Name the login that fills a unit's check (the officer): one per unit, an active
    login, an active unit."""
    if not is_officer(actor):
        raise PermissionDenied
    errors = {}
    if not head.unit_id:
        errors["unit"] = _("請選擇單位。")
    else:
        unit = Unit.objects.filter(pk=head.unit_id).first()
        taken = OfficeHead.objects.filter(unit_id=head.unit_id).exclude(pk=head.pk)
        if unit is None:
            errors["unit"] = _("找不到此單位。")
        elif taken.exists():
            errors["unit"] = _("此單位已指定填表人；一個單位只有一位填表人，請修改原來的指定。")
        elif not unit.is_active and head.pk is None:
            errors["unit"] = _("此單位已停用。")
    if not head.user_id:
        errors["user"] = _("請選擇填表人的帳號。")
    else:
        user = get_user_model().objects.filter(pk=head.user_id).first()
        if user is None or not user.is_active:
            errors["user"] = _("填表人的帳號須為啟用中的帳號。")
    if errors:
        raise ValidationError(errors)
    with trail.as_actor(actor):
        head.save()
    refresh_duties()
    return head


@transaction.atomic
def head_delete(head: OfficeHead, *, actor) -> None:
    if not is_officer(actor):
        raise PermissionDenied
    with trail.as_actor(actor):
        head.delete()
    refresh_duties()


# The self-check ------------------------------------------------------------------------------
def asked_items(check: SelfCheck) -> list:
    """The items a check answers: the active ones for a new check, those it answered for
    one already saved (a retired item stays on its old checks)."""
    if check.pk is None:
        return list(SelfCheckItem.objects.filter(active=True).order_by("order", "id"))
    ids = SelfCheckResult.objects.filter(check_record=check).values("item_id")
    return list(SelfCheckItem.objects.filter(pk__in=ids).order_by("order", "id"))


def check_results(items, answers: dict) -> dict:
    """Field errors of the answers (``items.<item pk>``): one per item asked, 符合 or
    不符合, a note with each 不符合, none for an item not asked."""
    errors = {}
    asked = {item.pk: item for item in items}
    for item in items:
        ok, note = answers.get(item.pk, (None, ""))
        note = (note or "").strip()
        clause = item.clause or "2.3、7.5、7.7"
        if ok is None:
            errors[f"items.{item.pk}"] = _("請選擇「符合」或「不符合」（條文 %(clause)s）。") % {
                "clause": clause
            }
        elif not ok and not note:
            errors[f"items.{item.pk}"] = _(
                "「不符合」時請說明情形，以便追蹤改善（條文 %(clause)s）。"
            ) % {"clause": clause}
        elif len(note) > NOTE_LIMIT:
            errors[f"items.{item.pk}"] = _("說明最多 %(limit)d 個字。") % {"limit": NOTE_LIMIT}
    for pk in answers:
        if pk not in asked:
            errors[f"items.{pk}"] = _("此項目不在本次自主檢查的檢查項目中（已停用或不存在）。")
    return errors


@transaction.atomic
def check_save(check: SelfCheck, answers: dict, *, actor, today=None) -> SelfCheck:
    """Fill a unit's check of the semester, or correct one not voided.

    ``answers`` is ``{item pk: (ok: bool | None, note)}``. The head of the unit (or the
    officer, for any unit) fills it; 學年度 and 學期 come from the check's date; one check
    per unit and semester; every asked item answered, a note with each 不符合. A result
    changed to 符合 loses its 改善情形 (nothing left to put right).
    """
    today = today or timezone.localdate()
    if not may_fill_any(actor):
        raise PermissionDenied
    stored = None
    if check.pk is not None:
        stored = SelfCheck.objects.select_for_update().get(pk=check.pk)
        if not may_fill(actor, stored.unit_id):
            raise PermissionDenied
        if stored.voided_at is not None:
            raise ValidationError({"__all__": _("此自主檢查已作廢，不能修改。")})
        check.unit_id = stored.unit_id
        check.filled_by_id = stored.filled_by_id
        check.created_at = stored.created_at
        check.voided_at, check.voided_by_id, check.void_reason = None, None, ""
    else:
        check.filled_by = actor
        check.voided_at, check.voided_by, check.void_reason = None, None, ""
    errors = {}
    if not check.unit_id:
        errors["unit"] = _("請選擇受檢單位。")
    elif stored is None:
        unit = Unit.objects.filter(pk=check.unit_id).first()
        if unit is None:
            errors["unit"] = _("找不到此單位。")
        elif not may_fill(actor, unit.pk):
            raise PermissionDenied
        elif not unit.is_active:
            errors["unit"] = _("此單位已停用。")
    check.note = (check.note or "").strip()
    if check.checked_on is None:
        errors["checked_on"] = _("請填寫檢查日期（條文 2.3、7.5、7.7）。")
    elif check.checked_on > today:
        errors["checked_on"] = _("檢查日期不可晚於今天；請於檢查後填寫（條文 2.3、7.5、7.7）。")
    elif check.checked_on < roc.MIN_DATE:
        errors["checked_on"] = _("民國元年（1912 年）以前的日期無法以民國紀年表示。")
    else:
        term = term_of(check.checked_on)
        check.school_year, check.term = term.school_year, term.semester
        if "unit" not in errors and check.unit_id:
            other = (
                SelfCheck.objects.filter(
                    unit_id=check.unit_id,
                    school_year=term.school_year,
                    term=term.semester,
                    voided_at__isnull=True,
                )
                .exclude(pk=check.pk)
                .first()
            )
            if other is not None:
                errors["__all__"] = _(
                    "此單位%(term)s的自主檢查已於 %(day)s 填寫，每學期一份；"
                    "請修改該份紀錄，或將它作廢後重新填寫。"
                ) % {"term": term.label, "day": roc.format_roc(other.checked_on)}
    items = asked_items(check)
    if not items:
        errors.setdefault(
            "__all__", _("目前沒有使用中的自主檢查項目，請先由資安業務承辦人設定檢查項目。")
        )
    errors.update(check_results(items, answers))
    if errors:
        raise ValidationError(errors)
    with trail.as_actor(actor):
        check.save()
        current = {r.item_id: r for r in SelfCheckResult.objects.filter(check_record=check)}
        for item in items:
            ok, note = answers[item.pk]
            note = (note or "").strip()
            result = current.get(item.pk)
            if result is None:
                SelfCheckResult.objects.create(
                    check_record=check, item=item, text=item.text, ok=ok, note=note
                )
                continue
            if result.ok == ok and result.note == note:
                continue
            result.ok, result.note = ok, note
            if ok:
                result.resolution, result.resolved_at, result.resolved_by = "", None, None
            result.save()
    refresh_duties()
    return check


@transaction.atomic
def result_resolve(result: SelfCheckResult, *, actor, resolution: str, now=None):
    """登錄改善情形 of a failed item: the unit's head or the officer, once, on a check not
    voided; the resolution is required."""
    result = (
        SelfCheckResult.objects.select_for_update(of=("self",))
        .select_related("check_record")
        .get(pk=result.pk)
    )
    check = result.check_record
    if not may_fill(actor, check.unit_id):
        raise PermissionDenied
    resolution = (resolution or "").strip()
    errors = {}
    if check.voided_at is not None:
        errors["__all__"] = _("此自主檢查已作廢，不能登錄改善情形。")
    elif result.ok:
        errors["result"] = _("此項目檢查結果為符合，無需改善。")
    elif result.resolved_at is not None:
        errors["result"] = _("此項目已登錄改善情形。")
    if not resolution:
        errors["resolution"] = _("請填寫改善情形（做了什麼、何時完成）。")
    elif len(resolution) > RESOLUTION_LIMIT:
        errors["resolution"] = _("最多 %(limit)d 個字。") % {"limit": RESOLUTION_LIMIT}
    if errors:
        raise ValidationError(errors)
    result.resolution = resolution
    result.resolved_at = now or timezone.now()
    result.resolved_by = actor
    with trail.as_actor(actor):
        result.save(update_fields=["resolution", "resolved_at", "resolved_by"])
    refresh_duties()
    return result


@transaction.atomic
def check_void(check: SelfCheck, *, actor, reason: str) -> SelfCheck:
    """The officer voids a mistaken check (never deleted); a new one may then be filled."""
    if not is_officer(actor):
        raise PermissionDenied
    check = SelfCheck.objects.select_for_update().get(pk=check.pk)
    core_services.record_void(check, actor=actor, reason=reason)
    refresh_duties()
    return check


def pending_q(prefix: str = "") -> Q:
    """A failed result not yet put right."""
    return Q(**{f"{prefix}ok": False, f"{prefix}resolved_at__isnull": True})


def fix_due(checked_on: dt.date) -> dt.date:
    """The last day to put a failed item right."""
    return checked_on + dt.timedelta(days=FIX_DAYS)


def refresh_duties() -> None:
    """Recompute the duties' states (derived data) at once."""
    from isms.compliance import engine

    engine.refresh(DUTY)
    engine.refresh(FINDING_DUTY)
