"""The rules of the 資訊工作日誌 (work log, form A-2; clause 2.5.1).

A system administrator records each check, maintenance or update of an important system:
by hand (the administrator is the person signed in) or from the school's repair-request
system (報修系統), whose tickets stand in for the daily log (``worklog_imports``). The
supervisor reviews each entry (主管覆核); a reviewed entry is read-only, a mistaken one is
voided with a reason through the register's void.

Every function validates first (``ValidationError`` field → zh-TW message citing the
clause, nothing saved), takes the acting person and leaves the audit trail to the signals
(the import's bulk writes record theirs with ``trail.record_many``).
"""

import re
import unicodedata

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from isms.audit import trail
from isms.core import roc
from isms.core.access import has_role
from isms.core.roles import SUPERVISOR, SYSADMIN
from isms.identity.models import InformationSystem

from .models import WorkLogEntry

Kind = WorkLogEntry.Kind
DUTY = "operations.worklog_review"
# What a person enters on the form (or the API); the rest is the service's.
ENTRY_FIELDS = (
    "operated_at",
    "system",
    "system_name",
    "kind",
    "kind_other",
    "description",
    "correction",
)
# Kept as stored whatever an edit sends: who did the work, the ticket, the review.
KEPT_FIELDS = (
    "administrator_id",
    "administrator_name",
    "ticket_number",
    "reviewed_by_id",
    "reviewed_at",
    "review_note",
    "voided_at",
    "voided_by_id",
    "void_reason",
    "created_at",
)
LIMITS = {
    name: WorkLogEntry._meta.get_field(name).max_length
    for name in ("system_name", "kind_other", "administrator_name", "ticket_number")
}


# Who may do what ---------------------------------------------------------------------------
def may_write(user) -> bool:
    """System administrators keep the work log (2.5.1)."""
    return has_role(user, SYSADMIN)


def may_review(user) -> bool:
    """The supervisor reviews it (主管覆核)."""
    return has_role(user, SUPERVISOR)


def editable(entry: WorkLogEntry) -> bool:
    return entry.pk is not None and entry.reviewed_at is None and entry.voided_at is None


def may_change(user, entry: WorkLogEntry) -> bool:
    """The entry's administrator; an imported entry without a login (only the repair
    system's name), any system administrator."""
    if not may_write(user):
        return False
    if entry.administrator_id is None:
        return True
    return entry.administrator_id == getattr(user, "pk", None)


def may_edit(user, entry: WorkLogEntry) -> bool:
    """Only until the review, and only by whom ``may_change`` names."""
    return editable(entry) and may_change(user, entry)


def name_key(text: str) -> str:
    """A name as compared: NFKC, no spaces, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).lower()


def _names_of(user) -> set[str]:
    person = getattr(user, "person", None) if getattr(user, "person_id", None) else None
    names = {
        user.get_username(),
        f"{user.last_name}{user.first_name}",
        f"{user.first_name}{user.last_name}",
        person.name if person is not None else "",
    }
    return {name_key(n) for n in names if name_key(n)}


def is_own(user, entry: WorkLogEntry) -> bool:
    """The entry records this person's own work: by login, or — imported without a
    login — by the name the repair system gives."""
    if entry.administrator_id is not None:
        return entry.administrator_id == getattr(user, "pk", None)
    key = name_key(entry.administrator_name)
    return bool(key) and key in _names_of(user)


def may_review_entry(user, entry: WorkLogEntry) -> bool:
    """A supervisor who did not do the work, while the entry awaits review."""
    return may_review(user) and editable(entry) and not is_own(user, entry)


# The rules ----------------------------------------------------------------------------------
def system_label(entry: WorkLogEntry) -> str:
    """系統名稱 as the paper has it: the registered system, else the name given."""
    return entry.system.name if entry.system_id else entry.system_name


def administrator_label(entry: WorkLogEntry) -> str:
    """系統管理人員: the login's person, else the repair system's name."""
    if entry.administrator_id:
        return entry.administrator.display_name
    return entry.administrator_name


def kind_label(entry: WorkLogEntry) -> str:
    """操作事項 in a line: 其它 with what it was."""
    if entry.kind == Kind.OTHER and entry.kind_other:
        return _("其它：%(what)s") % {"what": entry.kind_other}
    return entry.get_kind_display()


def systems_table() -> dict:
    """Every registered system: pk → (name, voided_at), read in one query."""
    return {
        pk: (name, voided_at)
        for pk, name, voided_at in InformationSystem.objects.values_list("pk", "name", "voided_at")
    }


def normalise(entry: WorkLogEntry, systems: dict | None = None) -> None:
    """Trim the texts; a name given for a system that is registered (same name, ignoring
    spaces, case and full/half width; not voided) links the system; 其它操作事項 only with
    其它. ``systems`` is ``systems_table()`` when the caller has it."""
    for name in ("system_name", "kind_other", "description", "correction", "administrator_name"):
        setattr(entry, name, (getattr(entry, name) or "").strip())
    if entry.ticket_number is not None:
        entry.ticket_number = entry.ticket_number.strip() or None
    if entry.kind != Kind.OTHER:
        entry.kind_other = ""
    if not entry.system_id and entry.system_name:
        key = name_key(entry.system_name)
        table = systems if systems is not None else systems_table()
        for pk, (name, voided_at) in table.items():
            if voided_at is None and name_key(name) == key:
                entry.system_id, entry.system_name = pk, ""
                break


def check_entry(
    entry: WorkLogEntry, *, kept_system_id=None, now=None, systems: dict | None = None
) -> dict:
    """Field errors of an entry as it would be saved (A-2, 2.5.1).

    1. 操作日期: given, not in the future, a day the ROC calendar can show.
    2. 系統名稱: a registered system (not voided, unless the entry had it already:
       ``kept_system_id``) or the name of one not registered — one of the two, not both.
    3. 操作事項: one of the four; 其它 says what it was.
    4. 操作說明: not empty.
    5. 系統管理人員: a login, or (imported) the name the repair system gives.
    6. Text within the register's limits.

    ``systems`` is ``systems_table()`` when the caller checks many entries.
    """
    now = now or timezone.now()
    errors = {}
    moment = entry.operated_at
    if moment is None:
        errors["operated_at"] = _("請填寫操作日期與時間（條文 2.5.1、A-2）。")
    elif moment > now:
        errors["operated_at"] = _("操作日期不可晚於現在；日誌記錄已執行的操作（條文 2.5.1）。")
    elif timezone.localtime(moment).date() < roc.MIN_DATE:
        errors["operated_at"] = _("民國元年（1912 年）以前的日期無法以民國紀年表示。")
    if entry.system_id:
        if systems is not None:
            system = systems.get(entry.system_id)
        else:
            system = (
                InformationSystem.objects.filter(pk=entry.system_id)
                .values_list("name", "voided_at")
                .first()
            )
        if system is None:
            errors["system"] = _("找不到此資訊系統。")
        elif system[1] is not None and entry.system_id != kept_system_id:
            errors["system"] = _("此資訊系統已作廢，請選擇其他系統，或填寫未登記的系統名稱。")
        if entry.system_name:
            errors["system_name"] = _("已選擇登記的資訊系統；未登記的系統名稱請留空（兩者擇一）。")
    elif not entry.system_name:
        errors["system"] = _(
            "請選擇資訊系統清冊中的系統，或填寫未登記的系統名稱（條文 2.5.1、A-2「系統名稱」）。"
        )
    if entry.kind not in Kind.values:
        errors["kind"] = _("請選擇操作事項：系統例行檢查、系統維護、系統更新操作或其它。")
    elif entry.kind == Kind.OTHER and not entry.kind_other:
        errors["kind_other"] = _("操作事項為「其它」時，請寫明操作的事項（A-2「其它：」）。")
    if not entry.description:
        errors["description"] = _("請填寫操作說明（條文 2.5.1、A-2）。")
    if not entry.administrator_id and not entry.administrator_name:
        errors["administrator"] = _("日誌須記載執行操作的系統管理人員（A-2「系統管理人員」）。")
    for name, limit in LIMITS.items():
        value = getattr(entry, name) or ""
        if len(value) > limit and name not in errors:
            errors[name] = _("最多 %(limit)d 個字（目前 %(n)d 個字）。") % {
                "limit": limit,
                "n": len(value),
            }
    return errors


# Writing ------------------------------------------------------------------------------------
@transaction.atomic
def entry_save(entry: WorkLogEntry, *, actor, now=None) -> WorkLogEntry:
    """Record an entry by hand (the actor is its administrator) or correct one before its
    review; who did the work, the ticket and the review are never changed here."""
    if not may_write(actor):
        raise PermissionDenied
    kept_system_id = None
    if entry.pk is None:
        entry.administrator = actor
        entry.administrator_name = ""
        entry.ticket_number = None
        entry.reviewed_by, entry.reviewed_at, entry.review_note = None, None, ""
    else:
        stored = WorkLogEntry.objects.select_for_update().get(pk=entry.pk)
        if not may_change(actor, stored):
            raise PermissionDenied
        if stored.voided_at is not None:
            raise ValidationError({"__all__": _("此日誌已作廢，不能修改。")})
        if stored.reviewed_at is not None:
            raise ValidationError(
                {"__all__": _("此日誌已經主管覆核，不能修改；如有錯誤請作廢後重新填寫。")}
            )
        for name in KEPT_FIELDS:
            setattr(entry, name, getattr(stored, name))
        kept_system_id = stored.system_id
    normalise(entry)
    errors = check_entry(entry, kept_system_id=kept_system_id, now=now)
    if errors:
        raise ValidationError(errors)
    with trail.as_actor(actor):
        entry.save()
    refresh_duty()
    return entry


@transaction.atomic
def entry_review(entry: WorkLogEntry, *, actor, note: str = "", now=None) -> WorkLogEntry:
    """The supervisor's 主管覆核: a supervisor who did not do the work, once, on an entry
    not voided. After it the entry is read-only."""
    if not may_review(actor):
        raise PermissionDenied
    entry = (
        WorkLogEntry.objects.select_for_update(of=("self",))  # PostgreSQL: not the outer join
        .select_related("administrator__person")
        .get(pk=entry.pk)
    )
    if entry.voided_at is not None:
        raise ValidationError({"__all__": _("此日誌已作廢，不能覆核。")})
    if entry.reviewed_at is not None:
        raise ValidationError({"__all__": _("此日誌已經主管覆核。")})
    if is_own(actor, entry):
        raise ValidationError(
            {"__all__": _("覆核者不可為執行操作的系統管理人員本人，請由另一位主管覆核。")}
        )
    entry.reviewed_by = actor
    entry.reviewed_at = now or timezone.now()
    entry.review_note = (note or "").strip()
    with trail.as_actor(actor):
        entry.save(update_fields=["reviewed_by", "reviewed_at", "review_note", "updated_at"])
    refresh_duty()
    return entry


IMPORT_FIELDS = (
    "operated_at",
    "system_id",
    "system_name",
    "kind",
    "kind_other",
    "description",
    "correction",
    "administrator_id",
    "administrator_name",
)


def _refusal(entry: WorkLogEntry, errors) -> ValidationError:
    """A ValidationError naming the entry it refuses (``error.entry``), for the import to
    say which line it came from."""
    error = ValidationError(errors)
    error.entry = entry
    return error


@transaction.atomic
def import_entries(new: list, updates: list, *, actor, now=None) -> None:
    """Add and bring up to date many imported entries (repair tickets), each audited as one
    save, in a few queries.

    ``new`` are unsaved entries, each with its ticket number; ``updates`` are
    ``(entry, {field: value})`` with fields of ``IMPORT_FIELDS``. The same rules as
    ``entry_save`` (``check_entry``); a ticket number is kept once; a reviewed or voided
    entry is never changed. Raises ValidationError (with ``.entry``); nothing is saved.
    """
    from isms.audit.signals import created_changes

    if not may_write(actor):
        raise PermissionDenied
    now = now or timezone.now()
    systems = systems_table()
    numbers = [e.ticket_number for e in new]
    taken = set(
        WorkLogEntry.objects.filter(ticket_number__in=numbers).values_list(
            "ticket_number", flat=True
        )
    )
    for entry in new:
        if not entry.ticket_number:
            raise _refusal(entry, {"ticket_number": _("匯入的日誌須有報修單號。")})
        normalise(entry, systems)
        errors = check_entry(entry, now=now, systems=systems)
        if entry.ticket_number in taken:
            errors["ticket_number"] = _("報修單號「%(number)s」已匯入。") % {
                "number": entry.ticket_number
            }
        if errors:
            raise _refusal(entry, errors)
        taken.add(entry.ticket_number)
    ids = [entry.pk for entry, _values in updates]
    current = WorkLogEntry.objects.select_for_update().in_bulk(ids)
    items, changed = [], []
    for entry, values in updates:
        unknown = set(values) - set(IMPORT_FIELDS)
        if unknown:
            raise ValueError(f"an import does not change {sorted(unknown)}")
        stored = current.get(entry.pk)
        if stored is None or stored.voided_at is not None:
            raise _refusal(entry, {"__all__": _("此日誌已作廢，不能更新。")})
        if stored.reviewed_at is not None:
            raise _refusal(entry, {"__all__": _("此日誌已經主管覆核，不能更新。")})
        kept_system_id = stored.system_id
        diff = {}
        for field, value in values.items():
            old = getattr(stored, field)
            if old != value:
                diff[field] = [trail.jsonable(old), trail.jsonable(value)]
                setattr(stored, field, value)
        if not diff:
            continue
        errors = check_entry(stored, kept_system_id=kept_system_id, now=now, systems=systems)
        if errors:
            raise _refusal(stored, errors)
        stored.updated_at = now
        changed.append(stored)
        items.append((trail.Action.UPDATE, stored, diff))
    # The trail names each entry (its system): read the systems once, not once per entry.
    linked = InformationSystem.objects.in_bulk(
        {e.system_id for e in [*new, *changed] if e.system_id}
    )
    for e in [*new, *changed]:
        if e.system_id:
            e.system = linked[e.system_id]
    if new:
        created = WorkLogEntry.objects.bulk_create(new, batch_size=500)
        items = [(trail.Action.CREATE, e, created_changes(e)) for e in created] + items
    if changed:
        WorkLogEntry.objects.bulk_update(changed, [*IMPORT_FIELDS, "updated_at"], batch_size=500)
    if items:
        trail.record_many(items, actor=actor)
    refresh_duty()


# The paper form ----------------------------------------------------------------------------
def paper_moment(moment) -> str:
    """操作日期 as the paper A-2 has it: 民國 115 年 11 月 28 日 下午 2 時 05 分 (Taipei).

    The 12-hour clock the way ``roc.parse_roc_datetime`` reads it back: 上午 12 時 is
    just after midnight, 下午 12 時 just after noon.
    """
    local = timezone.localtime(moment)
    year = roc.roc_year(local.date())
    if year < roc.MIN_ROC_YEAR:
        return local.replace(tzinfo=None).isoformat(sep=" ", timespec="minutes")
    return _(
        "民國 %(year)d 年 %(month)d 月 %(day)d 日 %(meridiem)s %(hour)d 時 %(minute)02d 分"
    ) % {
        "year": year,
        "month": local.month,
        "day": local.day,
        "meridiem": _("上午") if local.hour < 12 else _("下午"),
        "hour": local.hour % 12 or 12,
        "minute": local.minute,
    }


def refresh_duty() -> None:
    """Recompute the review duty's states (derived data) at once, as the other modules do."""
    from isms.compliance import engine

    engine.refresh(DUTY)
