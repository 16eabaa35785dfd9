"""The rules of server rooms and computer classrooms (3.1–3.4): rooms, their physical
controls, inspections and the findings followed up to done.

- A room (3.1) has a name unique among the rooms in use, a kind (主機機房 or 電腦教室), a
  keeper (an active login holding the system-administrator or equipment-head role) and
  the temperature and humidity it should stay in (3.2; 20–25 °C and 50–70 %RH unless the
  room says otherwise, each bound physically possible: −40…80 °C, 0…100 %RH, the lower
  below the upper). A new room gets one row per control of 3.1–3.4, 未設置 — in a
  computer classroom the controls 3.2 and 3.3 ask of server rooms only are 不適用.
- Controls: a keeper sets each control's state and detail on one page, one audit entry
  per control changed. A control is 不適用 only with a reason (the policy asks for every
  one of them in a server room, and for those of 3.1 and 3.4 in a computer classroom
  too); in a computer classroom the server-room-only controls may be 不適用 freely.
- An inspection (機房檢查) of a room: its date (not in the future, not before the room was
  registered), its inspector (an active keeper; the person entering it by default), the
  temperature and humidity seen on the room's display, a note, and a result for every
  control (符合／不符合／不適用; 不符合 with a note saying what is wrong). A control the room
  marks 不適用 is 不適用 unless said otherwise. A keeper corrects an inspection within
  ``EDIT_DAYS`` days of entering it; it is voided with a reason (its open findings with it).
- Each 不符合 item gives one finding (檢查缺失), assigned to the room's keeper, due
  ``ISMS_FACILITY_FINDING_DAYS`` days after the inspection, never twice for the same item.
  A keeper (or its assignee) records what was done (改善情形) and it is 已改善; a keeper
  changes its assignee and due date (not before the inspection) while it is open.

Every function validates before it writes (``ValidationError`` field → zh-TW message
citing the clause; nothing saved), checks permission and takes the acting person for the
audit trail.
"""

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail
from isms.core import roc
from isms.core.access import has_role, user_roles
from isms.core.roles import EQUIPMENT_HEAD, SYSADMIN
from isms.core.services import site_url

from .models import (
    CONTROL_CLAUSES,
    SERVER_ROOM_ONLY,
    Control,
    Finding,
    Inspection,
    InspectionItem,
    Room,
    RoomControl,
)

Kind = Room.Kind
State = RoomControl.State
Result = InspectionItem.Result
Status = Finding.Status

KEEPER_ROLES = frozenset({SYSADMIN, EQUIPMENT_HEAD})
# Physically possible values of a room's display (and of its thresholds).
TEMPERATURE_BOUNDS = (Decimal("-40"), Decimal("80"))
HUMIDITY_BOUNDS = (Decimal("0"), Decimal("100"))
# An inspection is corrected within this many days of being entered.
EDIT_DAYS = 7
DEFAULT_FINDING_DAYS = 30
# The duties whose evidence these records are (duties_rooms); refreshed after a change.
SERVER_ROOM_DUTY = "facilities.server_room_inspection"
CLASSROOM_DUTY = "facilities.classroom_inspection"
FINDING_DUTY = "facilities.finding"
# The controls in the policy's order (3.1.1 … 3.4).
CONTROLS = tuple(Control)
CONTROL_ORDER = {c.value: i for i, c in enumerate(CONTROLS)}
CLAUSE_TITLES = {
    "3.1": gettext_lazy("設備安置及保護"),
    "3.2": gettext_lazy("溫濕度控制"),
    "3.3": gettext_lazy("電源供應"),
    "3.4": gettext_lazy("纜線安全"),
}


def finding_days() -> int:
    return int(getattr(settings, "ISMS_FACILITY_FINDING_DAYS", DEFAULT_FINDING_DAYS))


def clause_of(control) -> str:
    return CONTROL_CLAUSES[Control(control)]


def may_keep(user) -> bool:
    """System administrators and the equipment head keep rooms, controls and inspections."""
    return has_role(user, *KEEPER_ROLES)


def is_keeper(user) -> bool:
    """An active login holding a keeper's role (a superuser alone is not one)."""
    return user is not None and bool(user_roles(user) & KEEPER_ROLES)


def keepers():
    """The active logins who may keep a room."""
    return (
        get_user_model()
        .objects.filter(groups__name__in=KEEPER_ROLES, is_active=True)
        .distinct()
        .order_by("pk")
    )


def _save(obj, actor, **kwargs):
    with trail.as_actor(actor):
        obj.save(**kwargs)
    return obj


def _refresh(*keys) -> None:
    """Recompute the duties' states at once (the worker would, within minutes)."""
    from isms.compliance import engine

    for key in keys:
        engine.refresh(key)


def _strip(obj, *names) -> None:
    for name in names:
        value = getattr(obj, name)
        setattr(obj, name, value.strip() if isinstance(value, str) else "")


def _too_long(obj, names, errors: dict) -> None:
    for name in names:
        limit = type(obj)._meta.get_field(name).max_length
        value = getattr(obj, name) or ""
        if limit and len(value) > limit and name not in errors:
            errors[name] = _("最多 %(limit)d 個字。") % {"limit": limit}


def _decimal(value):
    """A number as a Decimal, or None when it is none."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _duty_of(room_kind: str) -> str:
    return SERVER_ROOM_DUTY if room_kind == Kind.SERVER_ROOM else CLASSROOM_DUTY


# Rooms (3.1, 3.2) --------------------------------------------------------------------------------
def _bounds_errors(low, high, names, bounds, errors, *, unit, what, clause="3.2"):
    """Both bounds given, within what a display can show, the lower below the upper."""
    lo_name, hi_name = names
    floor, ceiling = bounds
    values = {}
    for name, value in ((lo_name, low), (hi_name, high)):
        number = _decimal(value)
        if number is None:
            errors[name] = _("請填寫%(what)s（條文 %(clause)s）。") % {
                "what": what,
                "clause": clause,
            }
        elif not floor <= number <= ceiling:
            errors[name] = _(
                "%(what)s須介於 %(low)s 到 %(high)s %(unit)s 之間（條文 %(clause)s）。"
            ) % {
                "what": what,
                "low": floor,
                "high": ceiling,
                "unit": unit,
                "clause": clause,
            }
        else:
            values[name] = number
    if len(values) == 2 and values[lo_name] >= values[hi_name]:
        errors[hi_name] = _("%(what)s上限須高於下限（條文 %(clause)s）。") % {
            "what": what,
            "clause": clause,
        }
    return values


def room_errors(room: Room) -> dict:
    errors = {}
    _strip(room, "name", "location", "notes")
    if not room.name:
        errors["name"] = _("請填寫名稱。")
    elif Room.objects.active().filter(name__iexact=room.name).exclude(pk=room.pk or 0).exists():
        errors["name"] = _("已有同名的機房或電腦教室（條文 3.1）。")
    if room.kind not in Kind.values:
        errors["kind"] = _("請選擇類別：主機機房或電腦教室。")
    if room.keeper_id is None:
        errors["keeper"] = _("請選擇管理人。")
    else:
        keeper = get_user_model().objects.filter(pk=room.keeper_id).first()
        if not is_keeper(keeper):
            errors["keeper"] = _("管理人須為在職的系統管理人員或設備組長。")
    values = _bounds_errors(
        room.temperature_min,
        room.temperature_max,
        ("temperature_min", "temperature_max"),
        TEMPERATURE_BOUNDS,
        errors,
        unit="°C",
        what=_("溫度"),
    )
    values.update(
        _bounds_errors(
            room.humidity_min,
            room.humidity_max,
            ("humidity_min", "humidity_max"),
            HUMIDITY_BOUNDS,
            errors,
            unit="%RH",
            what=_("濕度"),
        )
    )
    for name, number in values.items():
        setattr(room, name, number)
    _too_long(room, ("name", "location"), errors)
    return errors


def initial_state(kind: str, control) -> str:
    """A new room's control: 未設置, or 不適用 when a classroom need not have it."""
    if kind == Kind.COMPUTER_CLASSROOM and Control(control) in SERVER_ROOM_ONLY:
        return State.NOT_APPLICABLE
    return State.ABSENT


@transaction.atomic
def save_room(room: Room, *, actor) -> Room:
    """Create or change a room after its checks; a new room gets its controls (3.1–3.4).

    A computer classroom that becomes a server room keeps its controls, but a
    server-room-only control marked 不適用 without a reason is 未設置 again (a server room
    gives a reason for each).
    """
    if not may_keep(actor):
        raise PermissionDenied
    stored = None
    if room.pk is None:
        room.voided_at, room.voided_by, room.void_reason = None, None, ""
    else:
        stored = Room.objects.select_for_update().get(pk=room.pk)
        if stored.voided_at is not None:
            raise ValidationError({"__all__": _("此機房或電腦教室已作廢，不能修改。")})
    errors = room_errors(room)
    if errors:
        raise ValidationError(errors)
    _save(room, actor)
    if stored is None:
        for control in CONTROLS:
            _save(
                RoomControl(room=room, control=control, state=initial_state(room.kind, control)),
                actor,
            )
    elif stored.kind != room.kind and room.kind == Kind.SERVER_ROOM:
        for rc in room.controls.filter(state=State.NOT_APPLICABLE, detail=""):
            rc.state = State.ABSENT
            _save(rc, actor)
    _refresh(SERVER_ROOM_DUTY, CLASSROOM_DUTY)
    return room


def room_void_error(room: Room) -> str | None:
    if Finding.objects.active().filter(room=room, status=Status.OPEN).exists():
        return _("此處仍有待改善的檢查缺失，請先登錄改善情形或作廢缺失後再作廢。")
    return None


@transaction.atomic
def void_room(room: Room, *, actor, reason: str) -> Room:
    """A room out of use: no more inspections are due for it."""
    from isms.core import services

    if not may_keep(actor):
        raise PermissionDenied
    room = Room.objects.select_for_update().get(pk=room.pk)
    if room.voided_at is not None:
        raise ValidationError({"__all__": _("此筆資料已作廢。")})
    if error := room_void_error(room):
        raise ValidationError({"__all__": error})
    services.record_void(room, actor=actor, reason=reason)
    _refresh(SERVER_ROOM_DUTY, CLASSROOM_DUTY)
    return room


# Controls (3.1–3.4) ------------------------------------------------------------------------------
def sorted_controls(controls) -> list:
    """RoomControl rows (or anything with ``control``) in the policy's order."""
    return sorted(controls, key=lambda rc: CONTROL_ORDER.get(rc.control, len(CONTROL_ORDER)))


def control_error(kind: str, control, state: str, detail: str) -> str | None:
    """Why this state of this control cannot be (None when it can)."""
    if state not in State.values:
        return _("請選擇設置情形。")
    if len(detail) > RoomControl._meta.get_field("detail").max_length:
        return _("說明最多 %(limit)d 個字。") % {
            "limit": RoomControl._meta.get_field("detail").max_length
        }
    if state != State.NOT_APPLICABLE or detail:
        return None
    if kind == Kind.SERVER_ROOM:
        return _("主機機房的控制措施設為不適用時，請在說明寫明理由（條文 %(clause)s）。") % {
            "clause": clause_of(control)
        }
    if Control(control) not in SERVER_ROOM_ONLY:
        # 3.1 and 3.4 name 主機機房及電腦教室 alike.
        return _(
            "條文 %(clause)s 要求電腦教室亦具備此項控制措施；設為不適用時請在說明寫明理由。"
        ) % {"clause": clause_of(control)}
    return None


@transaction.atomic
def save_controls(room: Room, changes: dict, *, actor) -> list[RoomControl]:
    """Set the state and detail of the room's controls: ``{control: (state, detail)}``.

    Every change is checked first (errors keyed by the control); then each control that
    changes is saved, one audit entry each. Returns the controls changed.
    """
    if not may_keep(actor):
        raise PermissionDenied
    room = Room.objects.select_for_update().get(pk=room.pk)
    if room.voided_at is not None:
        raise ValidationError({"__all__": _("此機房或電腦教室已作廢，不能修改。")})
    current = {rc.control: rc for rc in room.controls.all()}
    errors, pending = {}, []
    for control, value in changes.items():
        if control not in Control.values:
            errors[str(control)] = _("沒有這項控制措施。")
            continue
        try:
            state, detail = value
        except (TypeError, ValueError):
            errors[control] = _("請選擇設置情形。")
            continue
        detail = detail.strip() if isinstance(detail, str) else ""
        if error := control_error(room.kind, control, state, detail):
            errors[control] = error
            continue
        rc = current.get(control) or RoomControl(room=room, control=control)
        if rc.pk is None or rc.state != state or rc.detail != detail:
            rc.state, rc.detail = state, detail
            pending.append(rc)
    if errors:
        raise ValidationError(errors)
    for rc in pending:
        _save(rc, actor)
    return pending


def absent_count(room: Room) -> int:
    return room.controls.filter(state=State.ABSENT).count()


# Inspections (3.1–3.4) ---------------------------------------------------------------------------
def may_edit_inspection(user, inspection: Inspection, now=None) -> bool:
    """A keeper, within ``EDIT_DAYS`` days of its entry, while it is not voided."""
    now = now or timezone.now()
    return (
        may_keep(user)
        and inspection.voided_at is None
        and inspection.created_at is not None
        and now < inspection.created_at + dt.timedelta(days=EDIT_DAYS)
    )


def default_results(room: Room) -> dict:
    """{control: result} a new inspection starts from: 不適用 where the room says so."""
    return {
        rc.control: Result.NOT_APPLICABLE
        for rc in room.controls.all()
        if rc.state == State.NOT_APPLICABLE
    }


def _reading_errors(inspection, errors):
    for name, bounds, unit, what in (
        ("temperature_c", TEMPERATURE_BOUNDS, "°C", _("溫度")),
        ("humidity_pct", HUMIDITY_BOUNDS, "%RH", _("濕度")),
    ):
        value = getattr(inspection, name)
        if value is None:
            continue
        number = _decimal(value)
        if number is None or not bounds[0] <= number <= bounds[1]:
            errors[name] = _("%(what)s須介於 %(low)s 到 %(high)s %(unit)s 之間（條文 3.2）。") % {
                "what": what,
                "low": bounds[0],
                "high": bounds[1],
                "unit": unit,
            }


def item_key(control) -> str:
    """The error key of one control's result: ``items.<control>``."""
    return f"items.{control}"


def inspection_errors(inspection: Inspection, results: dict, stored=None) -> tuple[dict, dict]:
    """(errors, {control: (result, note)} as kept) for an inspection and its results."""
    errors = {}
    room = inspection.room if inspection.room_id else None
    if room is None:
        errors["room"] = _("請選擇機房或電腦教室。")
    elif room.voided_at is not None and stored is None:
        errors["room"] = _("此機房或電腦教室已作廢。")
    day = inspection.inspected_on
    if day is None:
        errors["inspected_on"] = _("請填寫檢查日期。")
    elif day > timezone.localdate():
        errors["inspected_on"] = _("檢查日期不可晚於今天。")
    if inspection.inspector_id is None:
        errors["inspector"] = _("請選擇檢查人。")
    else:
        kept = stored is not None and stored.inspector_id == inspection.inspector_id
        inspector = get_user_model().objects.filter(pk=inspection.inspector_id).first()
        if not kept and not is_keeper(inspector):
            errors["inspector"] = _("檢查人須為在職的系統管理人員或設備組長。")
    _reading_errors(inspection, errors)
    _strip(inspection, "note")
    kept = {}
    if room is not None:
        room_controls = {rc.control: rc for rc in room.controls.all()}
        for control in results:
            if control not in room_controls:
                errors[item_key(control)] = _("此處沒有這項控制措施。")
        note_limit = InspectionItem._meta.get_field("note").max_length
        for control in sorted(room_controls, key=lambda c: CONTROL_ORDER.get(c, 99)):
            rc = room_controls[control]
            result, note = results.get(control, (None, ""))
            note = note.strip() if isinstance(note, str) else ""
            if not result and rc.state == State.NOT_APPLICABLE:
                result = Result.NOT_APPLICABLE
            label = rc.get_control_display()
            if not result:
                errors[item_key(control)] = _("「%(control)s」請選擇檢查結果。") % {
                    "control": label
                }
            elif result not in Result.values:
                errors[item_key(control)] = _("「%(control)s」的檢查結果不正確。") % {
                    "control": label
                }
            elif result == Result.FAIL and not note:
                errors[item_key(control)] = _(
                    "「%(control)s」不符合時請說明缺失情形（條文 %(clause)s）。"
                ) % {"control": label, "clause": clause_of(control)}
            elif len(note) > note_limit:
                errors[item_key(control)] = _("「%(control)s」的說明最多 %(limit)d 個字。") % {
                    "control": label,
                    "limit": note_limit,
                }
            else:
                kept[control] = (result, note)
    return errors, kept


@transaction.atomic
def save_inspection(inspection: Inspection, results: dict | None = None, *, actor) -> Inspection:
    """Record an inspection with a result per control, or correct one (``results`` None:
    its results stay). Each 不符合 item gets its finding once."""
    if not may_keep(actor):
        raise PermissionDenied
    stored = None
    if inspection.pk is None:
        if inspection.inspector_id is None:
            inspection.inspector = actor
        inspection.voided_at, inspection.voided_by, inspection.void_reason = None, None, ""
        if results is None:
            results = {}
    else:
        stored = Inspection.objects.select_for_update().get(pk=inspection.pk)
        if stored.voided_at is not None:
            raise ValidationError({"__all__": _("此檢查紀錄已作廢，不能修改。")})
        if not may_edit_inspection(actor, stored):
            raise ValidationError(
                {"__all__": _("檢查紀錄只能在登錄後 %(days)d 天內修改。") % {"days": EDIT_DAYS}}
            )
        inspection.room_id = stored.room_id
        if results is None:
            results = {i.control: (i.result, i.note) for i in stored.items.all()}
    if not isinstance(results, dict):
        raise ValidationError({"items": _("請填寫每一項控制措施的檢查結果。")})
    errors, kept = inspection_errors(inspection, results, stored)
    if errors:
        raise ValidationError(errors)
    _save(inspection, actor)
    existing = {i.control: i for i in inspection.items.all()} if stored is not None else {}
    for control, (result, note) in kept.items():
        item = existing.get(control) or InspectionItem(inspection=inspection, control=control)
        if item.pk is None or item.result != result or item.note != note:
            item.result, item.note = result, note
            _save(item, actor)
    _sync_findings(inspection, kept, stored, actor)
    _refresh(_duty_of(inspection.room.kind), FINDING_DUTY)
    return inspection


def _sync_findings(inspection, kept: dict, stored, actor) -> list[Finding]:
    """One finding per 不符合 item, made once (never again for the same item, even voided);
    an open one follows its item's note and the inspection's date."""
    days = dt.timedelta(days=finding_days())
    room = inspection.room
    findings = {f.control: f for f in Finding.objects.filter(inspection=inspection)}
    moved = stored is not None and stored.inspected_on != inspection.inspected_on
    for f in findings.values():
        if f.status != Status.OPEN or f.voided_at is not None:
            continue
        changed = False
        result, note = kept.get(f.control, (None, ""))
        if result == Result.FAIL and note and f.description != note:
            f.description, changed = note, True
        if moved and f.due_on == stored.inspected_on + days:
            f.due_on, changed = inspection.inspected_on + days, True
        if changed:
            _save(f, actor)
    assignee = room.keeper if is_keeper(room.keeper) else actor
    made = []
    for control, (result, note) in kept.items():
        if result != Result.FAIL or control in findings:
            continue
        finding = Finding(
            room=room,
            inspection=inspection,
            control=control,
            description=note,
            assignee=assignee,
            due_on=inspection.inspected_on + days,
        )
        made.append(_save(finding, actor))
    for finding in made:
        _tell_assignee(finding, actor)
    return made


def _tell_assignee(finding: Finding, actor) -> None:
    if finding.assignee_id == getattr(actor, "pk", None):
        return
    from isms.notifications.services import notify

    notify(
        recipient=finding.assignee,
        subject=_("機房檢查缺失：%(room)s %(control)s")
        % {"room": finding.room.name, "control": finding.get_control_display()},
        body=_(
            "%(room)s 於 %(day)s 檢查時，「%(control)s」不符合（條文 %(clause)s）：\n%(text)s\n\n"
            "請於 %(due)s 前改善並登錄改善情形：%(url)s"
        )
        % {
            "room": finding.room.name,
            "day": roc.format_roc(finding.inspection.inspected_on),
            "control": finding.get_control_display(),
            "clause": clause_of(finding.control),
            "text": finding.description,
            "due": roc.format_roc(finding.due_on),
            "url": site_url(finding.get_absolute_url()),
        },
        dedup_key=f"facilities.finding:{finding.pk}:{finding.assignee_id}",
        actor=actor,
    )


@transaction.atomic
def void_inspection(inspection: Inspection, *, actor, reason: str) -> Inspection:
    """An inspection entered in error: voided with its open findings (same reason)."""
    from isms.core import services

    if not may_keep(actor):
        raise PermissionDenied
    inspection = Inspection.objects.select_for_update().select_related("room").get(pk=inspection.pk)
    if inspection.voided_at is not None:
        raise ValidationError({"__all__": _("此筆資料已作廢。")})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("請填寫作廢原因。")})
    for finding in Finding.objects.active().filter(inspection=inspection, status=Status.OPEN):
        services.record_void(
            finding, actor=actor, reason=_("所屬檢查已作廢：%(reason)s") % {"reason": reason}
        )
    services.record_void(inspection, actor=actor, reason=reason)
    _refresh(_duty_of(inspection.room.kind), FINDING_DUTY)
    return inspection


# Findings ----------------------------------------------------------------------------------------
def is_overdue(finding: Finding, today=None) -> bool:
    """Open, not voided, and its due day is over (Asia/Taipei)."""
    today = today or timezone.localdate()
    return (
        finding.status == Status.OPEN
        and finding.voided_at is None
        and finding.due_on is not None
        and finding.due_on < today
    )


def may_resolve(user, finding: Finding) -> bool:
    """A keeper, or its assignee, while it is open and not voided."""
    if finding.status != Status.OPEN or finding.voided_at is not None:
        return False
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return may_keep(user) or finding.assignee_id == user.pk


def may_edit_finding(user, finding: Finding) -> bool:
    return may_keep(user) and finding.status == Status.OPEN and finding.voided_at is None


@transaction.atomic
def save_finding(finding: Finding, *, actor) -> Finding:
    """A keeper changes an open finding's assignee, due date or description."""
    if not may_keep(actor):
        raise PermissionDenied
    stored = Finding.objects.select_for_update().select_related("inspection").get(pk=finding.pk)
    if stored.voided_at is not None:
        raise ValidationError({"__all__": _("此缺失已作廢，不能修改。")})
    if stored.status != Status.OPEN:
        raise ValidationError({"__all__": _("已改善的缺失不能修改。")})
    # What the finding is about, and its resolution, are not changed here.
    finding.room_id, finding.inspection_id = stored.room_id, stored.inspection_id
    finding.control, finding.status = stored.control, stored.status
    finding.resolution, finding.resolved_at = stored.resolution, stored.resolved_at
    finding.resolved_by_id = stored.resolved_by_id
    errors = {}
    _strip(finding, "description")
    if not finding.description:
        errors["description"] = _("請填寫缺失說明。")
    if finding.assignee_id is None:
        errors["assignee"] = _("請選擇改善負責人。")
    elif finding.assignee_id != stored.assignee_id:
        assignee = get_user_model().objects.filter(pk=finding.assignee_id).first()
        if not is_keeper(assignee):
            errors["assignee"] = _("改善負責人須為在職的系統管理人員或設備組長。")
    if finding.due_on is None:
        errors["due_on"] = _("請填寫改善期限。")
    elif finding.due_on < stored.inspection.inspected_on:
        errors["due_on"] = _("改善期限不可早於檢查日期（%(day)s）。") % {
            "day": roc.format_roc(stored.inspection.inspected_on)
        }
    if errors:
        raise ValidationError(errors)
    _save(finding, actor)
    if finding.assignee_id != stored.assignee_id:
        _tell_assignee(finding, actor)
    _refresh(FINDING_DUTY)
    return finding


RESOLUTION_LIMIT = 2000


@transaction.atomic
def resolve_finding(
    finding: Finding, *, actor, resolution: str, mark_present: bool = False
) -> Finding:
    """Record what was done (改善情形): the finding is 已改善. With ``mark_present`` the
    room's control is set 已設置 as well (a control that was missing and is now there)."""
    finding = Finding.objects.select_for_update().select_related("room").get(pk=finding.pk)
    if not may_resolve(actor, finding):
        if finding.voided_at is not None:
            raise ValidationError({"__all__": _("此缺失已作廢。")})
        if finding.status != Status.OPEN:
            raise ValidationError({"__all__": _("此缺失已登錄改善情形。")})
        raise PermissionDenied
    resolution = (resolution or "").strip() if isinstance(resolution, str) else ""
    if not resolution:
        raise ValidationError({"resolution": _("請填寫改善情形（做了什麼、何時完成）。")})
    if len(resolution) > RESOLUTION_LIMIT:
        raise ValidationError(
            {"resolution": _("最多 %(limit)d 個字。") % {"limit": RESOLUTION_LIMIT}}
        )
    if mark_present and finding.room.voided_at is not None:
        raise ValidationError({"mark_present": _("此機房或電腦教室已作廢，不能變更控制措施。")})
    finding.status = Status.DONE
    finding.resolution = resolution
    finding.resolved_at = timezone.now()
    finding.resolved_by = actor
    _save(finding, actor)
    if mark_present:
        rc = RoomControl.objects.filter(room=finding.room, control=finding.control).first()
        if rc is None:
            rc = RoomControl(room=finding.room, control=finding.control)
        if rc.state != State.PRESENT:
            rc.state = State.PRESENT
            _save(rc, actor)
    _refresh(FINDING_DUTY)
    return finding


@transaction.atomic
def void_finding(finding: Finding, *, actor, reason: str) -> Finding:
    from isms.core import services

    if not may_keep(actor):
        raise PermissionDenied
    finding = Finding.objects.select_for_update().get(pk=finding.pk)
    if finding.voided_at is not None:
        raise ValidationError({"__all__": _("此筆資料已作廢。")})
    services.record_void(finding, actor=actor, reason=reason)
    _refresh(FINDING_DUTY)
    return finding


def open_findings_q() -> Q:
    return Q(status=Status.OPEN, voided_at__isnull=True)
