"""Equipment movements (設備進出紀錄表, A-7; clause 3.6) and outside repairs (7.9).

The only place that changes an ``EquipmentMovement`` or a ``RepairVisit``. Every function
takes the acting person, checks everything before it writes (``ValidationError`` with
field → zh-TW message citing the clause; nothing saved) and saves through
``trail.as_actor`` so that the audit trail names that person.

Who may do what (3.6: 「禁止資訊設備在未經授權之情況下攜離所屬區域」「應檢視相關授權，並實施
登記與歸還記錄」)
------------------------------------------------------------------------------------------
* File a request: anyone signed in with a role, for themselves (the borrower, 攜出人, is
  their own Person). The 設備組長, system administrators and the security officer file
  for anyone.
* Authorise (核准) or refuse: the 設備組長 or the supervisor, never the borrower themself.
* Check out (點交) and receive back (點收): the 設備組長 or a system administrator, not
  the borrower (a hand-over takes two people).

Statuses move only forward: 待核准 → 已核准 | 不核准; 已核准 → 已攜出; 已攜出 → 已歸還.
Anything else is refused and changes nothing; a voided movement takes no step.

Which requests are refused (:func:`check_request`)
--------------------------------------------------
1. The asset must be in the register (not voided) and not decommissioned.
2. An asset under repair goes out only for repair (the reason starts with 「送修」).
3. A server or official portable device that is not in use and has no reviewed
   commissioning record does not go out (2.2.3, 4.2), except for repair.
4. The asset must not be out over the period (one out and overdue is out until it is
   back), and no open request (待核准, 已核准) may overlap the period.
5. 攜出日期 not before today; 預定歸還日期 not before 攜出日期, and at most
   ``ISMS_MOVEMENT_MAX_DAYS`` (default 180) days after it.
6. Reason and destination are given.
7. The borrower is a person of the directory, not voided and not gone; one files for
   oneself unless one holds a role that files for others.

Outside repairs (:func:`check_repair`): when the asset stores personal data, the person of
the school who stayed present is required (7.9 「須指派專人在場確保資料安全」), and for an
off-site repair the data protection taken as well (the data leaves the school).
"""

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from isms.audit import trail
from isms.core import numbering, roc
from isms.core.access import has_role, user_roles
from isms.core.models import Person
from isms.core.roles import EQUIPMENT_HEAD, MANAGERS, SECURITY_OFFICER, SUPERVISOR, SYSADMIN
from isms.core.services import site_url

from . import services
from .models import Asset, EquipmentMovement, RepairVisit

Status = EquipmentMovement.Status
State = Asset.State

# Who sees every movement: the office, and those who authorise and hand over.
READERS = MANAGERS | {SYSADMIN, EQUIPMENT_HEAD}
# Who files a request for someone else (the borrower is then any person).
FOR_OTHERS = frozenset({EQUIPMENT_HEAD, SYSADMIN, SECURITY_OFFICER})
# Who authorises or refuses (3.6 「應檢視相關授權」).
AUTHORISERS = frozenset({EQUIPMENT_HEAD, SUPERVISOR})
# Who hands the equipment over (點交) and receives it back (點收).
HANDLERS = frozenset({EQUIPMENT_HEAD, SYSADMIN})
# Who keeps the outside-repair records (7.9); the office reads them.
REPAIR_WRITERS = HANDLERS
REPAIR_READERS = MANAGERS | HANDLERS
# Open requests hold the asset for their period.
OPEN = (Status.REQUESTED, Status.AUTHORISED)
# A reason starting with this marks a movement for repair (stored with the record, so it
# is data in the school's language, not UI text).
REPAIR_MARK = "送修"
REPAIR_PREFIX = REPAIR_MARK + "："
# A clock may run a little ahead of the server's: a time this far ahead is still "now".
SKEW = dt.timedelta(minutes=2)
DUTY = "assets.movement_return"


def max_days() -> int:
    """The longest a movement may last, in days (``ISMS_MOVEMENT_MAX_DAYS``)."""
    return int(getattr(settings, "ISMS_MOVEMENT_MAX_DAYS", 180))


# Who may ---------------------------------------------------------------------------------------
def files_for_others(user) -> bool:
    return has_role(user, *FOR_OTHERS)


def may_authorise(user) -> bool:
    return has_role(user, *AUTHORISERS)


def may_handle(user) -> bool:
    return has_role(user, *HANDLERS)


def is_borrower(user, movement) -> bool:
    person_id = getattr(user, "person_id", None)
    return person_id is not None and person_id == movement.borrower_id


def movement_scope(queryset, user, action):
    """The office, 設備組長 and system administrators see every movement; others the ones
    they borrow or filed."""
    if user_roles(user) & READERS:
        return queryset
    mine = Q(requested_by=user)
    if user.person_id:
        mine |= Q(borrower_id=user.person_id)
    return queryset.filter(mine)


def for_repair(movement_or_reason) -> bool:
    reason = getattr(movement_or_reason, "reason", movement_or_reason) or ""
    return reason.strip().startswith(REPAIR_MARK)


# Overdue ---------------------------------------------------------------------------------------
def due_moment(due_on: dt.date) -> dt.datetime:
    """The last second of the due day in Asia/Taipei: the equipment is late after it."""
    from isms.compliance.rhythms import LAST_SECOND, day_start

    return day_start(due_on + dt.timedelta(days=1)) - LAST_SECOND


def overdue_days(movement, today: dt.date | None = None) -> int:
    """Days past the due day of equipment still out (0 when back, not out or not late)."""
    if movement.status != Status.OUT or movement.voided_at is not None:
        return 0
    today = today or timezone.localdate()
    return max(0, (today - movement.due_on).days)


def overdue_filter(today: dt.date | None = None) -> Q:
    today = today or timezone.localdate()
    return Q(status=Status.OUT, due_on__lt=today, voided_at__isnull=True)


def current(asset):
    """The movement the asset is out with now (not voided), or None: for the asset's page."""
    return (
        EquipmentMovement.objects.active()
        .filter(asset=asset, status=Status.OUT)
        .select_related("borrower")
        .first()
    )


# Helpers ---------------------------------------------------------------------------------------
def _save(obj, actor):
    with trail.as_actor(actor):
        obj.save()
    return obj


def _when(value) -> str:
    return roc.format_roc_datetime(value) if value else "—"


def _users_of(person):
    if person is None:
        return []
    return list(get_user_model().objects.filter(person=person, is_active=True))


def _holders(*roles):
    return list(get_user_model().objects.filter(groups__name__in=roles, is_active=True).distinct())


def _link(obj) -> str:
    return site_url(obj.get_absolute_url())


def _notify(recipients, *, subject, body, key, actor):
    from isms.notifications import services as notifications

    seen = set()
    for user in recipients:
        if user is None or user.pk in seen or user == actor:
            continue
        seen.add(user.pk)
        notifications.notify(
            recipient=user, subject=subject, body=body, dedup_key=f"{key}:{user.pk}", actor=actor
        )


def _refresh_duty():
    from isms.compliance import engine

    engine.refresh(DUTY)


def has_left(person) -> bool:
    return person.status == Person.Status.LEFT or (
        person.leave_date is not None and person.leave_date <= timezone.localdate()
    )


def _lock(movement):
    return (
        EquipmentMovement.objects.select_for_update()
        .select_related("asset", "borrower")
        .get(pk=movement.pk)
    )


# The asset's rules -----------------------------------------------------------------------------
def asset_error(asset, reason: str = "") -> str:
    """Rules 1–3: why this asset cannot go out now (empty when it can)."""
    if asset is None or asset.voided_at is not None:
        return _("此設備不在資產登記簿中或已作廢。")
    if asset.state == State.DECOMMISSIONED:
        return _("設備「%(asset)s」已報廢，不能攜出（條文 3.5、3.6）。") % {"asset": asset}
    repair = for_repair(reason)
    if asset.state == State.REPAIR and not repair:
        return _(
            "設備「%(asset)s」維修中，只能因送修攜出（請勾選送修，或事由以「送修」開頭；"
            "條文 3.6）。"
        ) % {"asset": asset}
    if (
        not repair
        and asset.state in (State.NEW, State.STORAGE)
        and services.needs_commissioning(asset)
        and services.entry_error(asset)
    ):
        return _(
            "設備「%(asset)s」尚無經主管覆核的啟用紀錄，不能攜出使用（條文 2.2.3、4.2、A-1）。"
        ) % {"asset": asset}
    return ""


def clash(asset, out_on: dt.date, due_on: dt.date, *, exclude=None, today=None):
    """Rule 4: a movement holding the asset over [out_on, due_on], or None.

    Equipment out holds its asset until its due day, and past it until it is back; an
    open request holds it for the period it asks.
    """
    today = today or timezone.localdate()
    qs = EquipmentMovement.objects.active().filter(asset=asset, out_on__lte=due_on)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    out = qs.filter(status=Status.OUT).filter(Q(due_on__gte=out_on) | Q(due_on__lt=today))
    found = out.order_by("out_on").first()
    if found is not None:
        return found
    return qs.filter(status__in=OPEN, due_on__gte=out_on).order_by("out_on").first()


def clash_message(other) -> str:
    if other.status == Status.OUT:
        return _(
            "此設備已由 %(who)s 攜出（%(number)s，預定 %(due)s 歸還），尚未歸還（條文 3.6）。"
        ) % {
            "who": other.borrower.name,
            "number": other.number,
            "due": roc.format_roc(other.due_on),
        }
    return _(
        "此設備在 %(start)s 至 %(end)s 已有申請 %(number)s（%(status)s），期間重疊（條文 3.6）。"
    ) % {
        "start": roc.format_roc(other.out_on),
        "end": roc.format_roc(other.due_on),
        "number": other.number,
        "status": other.get_status_display(),
    }


# Filing ----------------------------------------------------------------------------------------
def check_request(
    *, actor, asset, borrower, reason, destination, out_on, due_on, exclude=None
) -> dict:
    """Field errors of a request as it would be filed (rules 1–7; nothing is written)."""
    errors = {}
    reason = (reason or "").strip()
    destination = (destination or "").strip()
    today = timezone.localdate()
    if borrower is None:
        if getattr(actor, "person_id", None) is None and not files_for_others(actor):
            errors["borrower"] = _("您的登入帳號沒有對應的人員資料，請洽人事室。")
        else:
            errors["borrower"] = _("請選擇攜出人。")
    elif borrower.voided_at is not None:
        errors["borrower"] = _("此人員資料已作廢。")
    elif not files_for_others(actor) and borrower.pk != getattr(actor, "person_id", None):
        errors["borrower"] = _("只能為自己申請攜出設備；代他人申請請洽設備組長。")
    elif has_left(borrower):
        errors["borrower"] = _("%(who)s 已離職，不能攜出學校設備。") % {"who": borrower.name}
    if not reason:
        errors["reason"] = _("請填寫攜出事由。")
    elif len(reason) > 300:
        errors["reason"] = _("攜出事由最多 300 字。")
    if not destination:
        errors["destination"] = _("請填寫攜往地點。")
    elif len(destination) > 200:
        errors["destination"] = _("攜往地點最多 200 字。")
    if out_on is None:
        errors["out_on"] = _("請填寫攜出日期。")
    elif out_on < today:
        errors["out_on"] = _("攜出日期不可早於今天：設備攜出前須經授權（條文 3.6）。")
    if due_on is None:
        errors["due_on"] = _("請填寫預定歸還日期。")
    elif out_on is not None:
        if due_on < out_on:
            errors["due_on"] = _("預定歸還日期不可早於攜出日期。")
        elif (due_on - out_on).days > max_days():
            errors["due_on"] = _("攜出期間最長 %(n)d 天，請於到期前歸還後再申請。") % {
                "n": max_days()
            }
    if asset is None:
        errors["asset"] = _("請選擇設備。")
    else:
        problem = asset_error(asset, reason)
        if problem:
            errors["asset"] = problem
        elif out_on is not None and due_on is not None and due_on >= out_on:
            other = clash(asset, out_on, due_on, exclude=exclude, today=today)
            if other is not None:
                errors["asset"] = clash_message(other)
    return errors


def repair_reason(reason: str) -> str:
    """The reason marked as a repair (送修：…), unless it already is."""
    reason = (reason or "").strip()
    return reason if for_repair(reason) else f"{REPAIR_PREFIX}{reason}" if reason else ""


@transaction.atomic
def file_movement(
    *,
    actor,
    asset,
    reason: str,
    destination: str,
    out_on,
    due_on,
    borrower=None,
    repair: bool = False,
) -> EquipmentMovement:
    """File a request to take equipment out (A-7) under the next A7-<ROC year>-NNNN number;
    ``borrower`` defaults to the actor's person, ``repair`` marks the reason as 送修."""
    if borrower is None:
        borrower = getattr(actor, "person", None)
    reason = repair_reason(reason) if repair else (reason or "").strip()
    if asset is not None:  # the asset as it stands now, locked against a parallel request
        asset = Asset.objects.select_for_update().filter(pk=asset.pk).first()
    errors = check_request(
        actor=actor,
        asset=asset,
        borrower=borrower,
        reason=reason,
        destination=destination,
        out_on=out_on,
        due_on=due_on,
    )
    if errors:
        raise ValidationError(errors)
    movement = EquipmentMovement(
        asset=asset,
        borrower=borrower,
        reason=reason,
        destination=destination.strip(),
        out_on=out_on,
        due_on=due_on,
        requested_by=actor,
        status=Status.REQUESTED,
    )
    numbering.insert_numbered(movement, template="A7-{year}-", width=4, actor=actor)
    authorisers = _holders(EQUIPMENT_HEAD)
    if not authorisers or any(u.person_id == borrower.pk for u in authorisers):
        authorisers += _holders(SUPERVISOR)  # the borrower does not authorise their own
    _notify(
        [u for u in authorisers if u.person_id != borrower.pk],
        subject=_("【設備攜出申請】%(number)s %(who)s %(asset)s")
        % {"number": movement.number, "who": borrower.name, "asset": asset},
        body=_(
            "有新的設備攜出申請待核准（條文 3.6、表單 A-7）。\n編號：%(number)s\n設備：%(asset)s\n"
            "攜出人：%(who)s\n事由：%(reason)s\n攜往地點：%(where)s\n期間：%(start)s 至 %(end)s\n"
            "%(link)s"
        )
        % {
            "number": movement.number,
            "asset": asset,
            "who": borrower.name,
            "reason": movement.reason,
            "where": movement.destination,
            "start": roc.format_roc(out_on),
            "end": roc.format_roc(due_on),
            "link": _link(movement),
        },
        key=f"a7:{movement.pk}:filed",
        actor=actor,
    )
    return movement


# Steps -----------------------------------------------------------------------------------------
def _step_error(movement, expected: tuple, verb: str) -> str:
    """Why the movement cannot take this step from its status (empty when it can)."""
    if movement.voided_at is not None:
        return _("此筆設備進出紀錄已作廢。")
    if movement.status not in expected:
        return _("此筆設備進出紀錄目前為「%(status)s」，不能%(verb)s。") % {
            "status": movement.get_status_display(),
            "verb": verb,
        }
    return ""


def _tell_borrower(movement, *, subject, body, key, actor):
    _notify(
        [movement.requested_by, *_users_of(movement.borrower)],
        subject=subject,
        body=body,
        key=key,
        actor=actor,
    )


@transaction.atomic
def authorise(movement, *, actor, note: str = "") -> EquipmentMovement:
    """The 設備組長 or the supervisor authorises a request (核准; 3.6 「應檢視相關授權」)."""
    if not may_authorise(actor):
        raise PermissionDenied
    movement = _lock(movement)
    note = (note or "").strip()
    errors = {}
    problem = _step_error(movement, (Status.REQUESTED,), _("核准"))
    if problem:
        errors["__all__"] = problem
    elif is_borrower(actor, movement):
        errors["__all__"] = _("核准人不可為攜出人本人，請由設備組長或主管核准（條文 3.6）。")
    elif movement.due_on < timezone.localdate():
        errors["__all__"] = _("預定歸還日期已過，請重新申請。")
    else:
        problem = asset_error(movement.asset, movement.reason)
        other = clash(movement.asset, movement.out_on, movement.due_on, exclude=movement)
        if problem or other is not None:
            errors["__all__"] = problem or clash_message(other)
    if len(note) > 300:
        errors["note"] = _("說明最多 300 字。")
    if errors:
        raise ValidationError(errors)
    movement.status = Status.AUTHORISED
    movement.authorised_by, movement.authorised_at = actor, timezone.now()
    movement.decision_note = note
    _save(movement, actor)
    _tell_borrower(
        movement,
        subject=_("【設備攜出已核准】%(number)s %(asset)s")
        % {"number": movement.number, "asset": movement.asset},
        body=_("您的設備攜出申請 %(number)s 已由 %(who)s 核准，請向設備組長辦理點交。\n%(link)s")
        % {"number": movement.number, "who": actor.display_name, "link": _link(movement)},
        key=f"a7:{movement.pk}:authorised",
        actor=actor,
    )
    return movement


@transaction.atomic
def refuse(movement, *, actor, note: str) -> EquipmentMovement:
    """The 設備組長 or the supervisor refuses a request, saying why."""
    if not may_authorise(actor):
        raise PermissionDenied
    movement = _lock(movement)
    note = (note or "").strip()
    errors = {}
    problem = _step_error(movement, (Status.REQUESTED,), _("不核准"))
    if problem:
        errors["__all__"] = problem
    elif is_borrower(actor, movement):
        errors["__all__"] = _("核准人不可為攜出人本人，請由設備組長或主管核准（條文 3.6）。")
    if not note:
        errors["note"] = _("請說明不核准的理由。")
    elif len(note) > 300:
        errors["note"] = _("說明最多 300 字。")
    if errors:
        raise ValidationError(errors)
    movement.status = Status.REFUSED
    movement.authorised_by, movement.authorised_at = actor, timezone.now()
    movement.decision_note = note
    _save(movement, actor)
    _tell_borrower(
        movement,
        subject=_("【設備攜出不核准】%(number)s %(asset)s")
        % {"number": movement.number, "asset": movement.asset},
        body=_("您的設備攜出申請 %(number)s 未獲核准（%(who)s）。\n理由：%(note)s\n%(link)s")
        % {
            "number": movement.number,
            "who": actor.display_name,
            "note": note,
            "link": _link(movement),
        },
        key=f"a7:{movement.pk}:refused",
        actor=actor,
    )
    return movement


def _to_the_minute(at, earlier):
    """A time entered to the minute (the forms' default is now, without seconds) in the
    same minute as ``earlier`` is taken as ``earlier``, so that the steps stay in order."""
    if earlier is not None and at < earlier and at >= earlier.replace(second=0, microsecond=0):
        return earlier
    return at


def _moment_error(moment, now) -> str:
    if moment is None:
        return _("請填寫時間。")
    if moment > now + SKEW:
        return _("時間不可晚於現在。")
    return ""


@transaction.atomic
def check_out(movement, *, actor, at=None) -> EquipmentMovement:
    """Hand the equipment over (點交) after its authorisation, within the authorised days."""
    if not may_handle(actor):
        raise PermissionDenied
    movement = _lock(movement)
    now = timezone.now()
    at = at or now
    errors = {}
    problem = _step_error(movement, (Status.AUTHORISED,), _("點交"))
    if problem:
        errors["__all__"] = problem
    elif is_borrower(actor, movement):
        errors["__all__"] = _("點交人不可為攜出人本人，請由設備組長或系統管理人員點交。")
    else:
        problem = asset_error(movement.asset, movement.reason)
        out = (
            EquipmentMovement.objects.active()
            .filter(asset_id=movement.asset_id, status=Status.OUT)
            .exclude(pk=movement.pk)
            .select_related("borrower")
            .first()
        )
        if problem or out is not None:
            errors["__all__"] = problem or clash_message(out)
    at = _to_the_minute(at, movement.authorised_at)
    problem = _moment_error(at, now)
    if problem:
        errors["checked_out_at"] = problem
    elif "__all__" not in errors:
        day = timezone.localdate(at)
        if movement.authorised_at is not None and at < movement.authorised_at:
            errors["checked_out_at"] = _(
                "攜出時間不可早於核准時間（%(at)s）：設備攜出前須經授權（條文 3.6）。"
            ) % {"at": _when(movement.authorised_at)}
        elif not movement.out_on <= day <= movement.due_on:
            errors["checked_out_at"] = _(
                "攜出日期須在核准的期間 %(start)s 至 %(end)s 內，期間外請重新申請（條文 3.6）。"
            ) % {"start": roc.format_roc(movement.out_on), "end": roc.format_roc(movement.due_on)}
    if errors:
        raise ValidationError(errors)
    movement.status = Status.OUT
    movement.checked_out_by, movement.checked_out_at = actor, at
    _save(movement, actor)
    _refresh_duty()
    return movement


@transaction.atomic
def return_movement(movement, *, actor, condition: str, at=None) -> EquipmentMovement:
    """Receive the equipment back (點收) with its condition; not before it went out."""
    if not may_handle(actor):
        raise PermissionDenied
    movement = _lock(movement)
    now = timezone.now()
    at = at or now
    condition = (condition or "").strip()
    errors = {}
    problem = _step_error(movement, (Status.OUT,), _("點收歸還"))
    if problem:
        errors["__all__"] = problem
    elif is_borrower(actor, movement):
        errors["__all__"] = _("點收人不可為攜出人本人，請由設備組長或系統管理人員點收。")
    at = _to_the_minute(at, movement.checked_out_at)
    problem = _moment_error(at, now)
    if problem:
        errors["returned_at"] = problem
    elif movement.checked_out_at is not None and at < movement.checked_out_at:
        errors["returned_at"] = _(
            "歸還時間不可早於攜出（點交）時間 %(at)s（條文 3.6：實施登記與歸還記錄）。"
        ) % {"at": _when(movement.checked_out_at)}
    if not condition:
        errors["return_condition"] = _("請填寫歸還狀況，例如：良好；有損壞：螢幕刮傷。")
    elif len(condition) > 300:
        errors["return_condition"] = _("歸還狀況最多 300 字。")
    if errors:
        raise ValidationError(errors)
    movement.status = Status.RETURNED
    movement.returned_at, movement.received_by = at, actor
    movement.return_condition = condition
    _save(movement, actor)
    _refresh_duty()
    return movement


# Outside repairs (7.9) -------------------------------------------------------------------------
def check_repair(visit: RepairVisit) -> dict:
    """Field errors of an outside repair as it would be saved."""
    errors = {}
    asset = visit.asset if visit.asset_id else None
    if asset is None or asset.voided_at is not None:
        errors["asset"] = _("此設備不在資產登記簿中或已作廢。")
    elif asset.state == State.DECOMMISSIONED:
        errors["asset"] = _("設備「%(asset)s」已報廢。") % {"asset": asset}
    visit.party = (visit.party or "").strip()
    visit.work = (visit.work or "").strip()
    visit.data_protection = (visit.data_protection or "").strip()
    if visit.visited_on is None:
        errors["visited_on"] = _("請填寫日期。")
    elif visit.visited_on > timezone.localdate():
        errors["visited_on"] = _("日期不可晚於今天：請於維修當天或之後登記。")
    if not visit.party:
        errors["party"] = _("請填寫維修廠商或人員。")
    if not visit.work:
        errors["work"] = _("請填寫維修或更新內容。")
    present = visit.present if visit.present_id else None
    if present is not None:
        if present.voided_at is not None:
            errors["present"] = _("此人員資料已作廢。")
        elif present.kind not in (Person.Kind.STAFF, Person.Kind.CONTRACT):
            errors["present"] = _(
                "在場人員須為本校教職員（正式或約聘僱），不可為委外廠商人員或學生（條文 7.9）。"
            )
        elif present.status != Person.Status.ACTIVE or (
            present.leave_date is not None and present.leave_date <= timezone.localdate()
        ):
            errors["present"] = _("在場人員須為在職的本校教職員（條文 7.9）。")
    if asset is not None and asset.stores_personal_data:
        if present is None:
            errors["present"] = _(
                "此設備存有個人資料：外部人員更新或維修時須指派本校專人在場確保資料安全，"
                "請填寫在場人員（條文 7.9）。"
            )
        if visit.offsite and not visit.data_protection:
            errors["data_protection"] = _(
                "存有個人資料的設備送出校外維修，請填寫資料保護措施，例如：送修前移除硬碟"
                "（條文 7.9）。"
            )
    return errors


@transaction.atomic
def save_repair(visit: RepairVisit, *, actor) -> RepairVisit:
    """Record (or correct) an outside repair or maintenance after its checks (7.9)."""
    if not has_role(actor, *REPAIR_WRITERS):
        raise PermissionDenied
    errors = check_repair(visit)
    if errors:
        raise ValidationError(errors)
    if visit.pk is None:
        visit.recorded_by = actor
    return _save(visit, actor)


def void_error(movement) -> str | None:
    """Equipment that is out stays on the log until it is back (3.6 登記與歸還記錄)."""
    if movement.status == Status.OUT:
        return _("設備已攜出，須登記歸還後才能作廢此紀錄（條文 3.6）。")
    return None
