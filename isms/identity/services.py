"""The rules of accounts (2.7–2.9, 6.2): the only place that changes accounts' state.

Every function takes the acting person, validates before it writes (``ValidationError``
with field → zh-TW message; nothing saved) and leaves the audit trail to the signals
(each save is recorded with the actor bound here).
"""

import contextvars
import datetime as dt
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from isms.audit import trail
from isms.core.models import Person

from .models import Account, InformationSystem, OffboardingTask

Status = Account.Status


# Inside ``deferred_refresh()`` the duty refreshes of this context are collected and run
# once at its end (an import applying thousands of changes); elsewhere they run at once.
_deferred: contextvars.ContextVar = contextvars.ContextVar("identity_deferred", default=None)


def refresh_duties(*keys):
    bucket = _deferred.get()
    if bucket is not None:
        bucket.update(keys or DUTIES)
        return
    from isms.compliance import engine

    for key in keys or DUTIES:
        engine.refresh(key)


@contextmanager
def deferred_refresh():
    """Refresh each account duty once, after the block (the states are derived data)."""
    if _deferred.get() is not None:  # already deferring: the outer block refreshes
        yield
        return
    bucket: set = set()
    token = _deferred.set(bucket)
    try:
        yield
    finally:
        _deferred.reset(token)
    if bucket:
        refresh_duties(*sorted(bucket))


DUTIES = (
    "identity.account_review",
    "identity.privileged_review",
    "identity.offboarding",
    "identity.default_password",
    "identity.shared_justified",
)


def _save(obj, actor, **kwargs):
    with trail.as_actor(actor):
        obj.save(**kwargs)
    return obj


# Accounts ------------------------------------------------------------------------------------
def check_account(account: Account, *, strict: bool = True, previous=None) -> dict:
    """Field errors of an account as it would be saved.

    ``strict=False`` (disabling or removing) checks only the name: an account that breaks
    a rule (a privileged one without its rights listed) must still be taken out of use.
    """
    errors = {}
    name = (account.username or "").strip()
    if not name:
        errors["username"] = _("請填寫帳號。")
    elif account.system_id:
        clash = Account.objects.filter(system_id=account.system_id, username_key=name.lower())
        if account.pk:
            clash = clash.exclude(pk=account.pk)
        if clash.exists():
            errors["username"] = _("系統「%(system)s」已有帳號「%(name)s」（帳號不分大小寫）。") % {
                "system": account.system.name,
                "name": name,
            }
    if not strict:
        return errors
    if account.kind == Account.Kind.PRIVILEGED and not (account.rights or "").strip():
        errors["rights"] = _("特權帳號須列出所擁有的權限（條文 2.8、A-4）。")
    if account.kind == Account.Kind.PERSONAL and account.person_id is None:
        errors["person"] = _("個人帳號須指定使用人（條文 2.7、2.9.2）。")
    if (
        account.pk
        and account.status == Status.ACTIVE
        and account.person_id
        and (previous or _previous(account))[0] not in (None, Status.ACTIVE)
        and departed_people().filter(pk=account.person_id).exists()
    ):
        errors["status"] = _("使用人已離職（或已過離職日），不能重新啟用其帳號（條文 2.7、6.2）。")
    return errors


def _previous(account: Account) -> tuple:
    """(status, person_id) of the account as stored, or (None, None) for a new one."""
    if account.pk is None:
        return (None, None)
    row = Account.objects.filter(pk=account.pk).values_list("status", "person_id").first()
    return row or (None, None)


@transaction.atomic
def save_account(account: Account, *, actor, strict: bool = True) -> Account:
    """Create or change an account after its checks; dates follow the status.

    Whatever the path (a page, the API, an A-3 line, a reconciliation): an account taken
    out of use closes its open removal tasks, and an account of a departed person that is
    not removed gets one (2.7, 6.2), so it is a finding until it is removed.
    """
    account.username = (account.username or "").strip()
    previous = _previous(account)
    errors = check_account(account, strict=strict, previous=previous)
    if errors:
        raise ValidationError(errors)
    today = timezone.localdate()
    if account.status == Status.DISABLED and account.disabled_on is None:
        account.disabled_on = today
    if account.status == Status.REMOVED and account.removed_on is None:
        account.removed_on = today
    if account.status == Status.ACTIVE:
        account.disabled_on = account.removed_on = None
    if account.pk is None and account.created_on is None:
        account.created_on = today
    _save(account, actor)
    if previous[0] != account.status and account.status in (Status.DISABLED, Status.REMOVED):
        for task in OffboardingTask.objects.filter(account=account, done_at__isnull=True):
            finish_task(task, actor=actor, outcome=account.status, _refresh=False)
    if (
        previous != (account.status, account.person_id)
        and account.person_id
        and account.status != Status.REMOVED
    ):
        person = departed_people(today).filter(pk=account.person_id).first()
        if person is not None:
            offboard(
                person,
                actor=actor,
                reason=departure_reason(person),
                effective_on=person.leave_date or today,
            )
    refresh_duties()
    return account


# The fields a system's export may bring up to date without any rule of the account
# changing: what the register shows of it, never its status, holder, kind or rights.
DETAIL_FIELDS = ("display_name", "email", "last_sign_in")


@transaction.atomic
def update_details(changes: list[tuple[Account, dict]], *, actor) -> int:
    """Bring many accounts' display name, e-mail and last sign-in up to date at once.

    ``changes`` pairs each account (as loaded) with ``{field: new value}``. The accounts
    are written with one ``bulk_update`` and the trail gets one entry per account, as a
    save would write it (a reconciliation of 10,000 rows: seconds, not a minute).
    """
    touched, items = [], []
    for account, values in changes:
        if set(values) - set(DETAIL_FIELDS):
            raise ValueError(f"not a detail field: {sorted(set(values) - set(DETAIL_FIELDS))}")
        diff = {}
        for field, new in values.items():
            old = getattr(account, field)
            if old != new:
                diff[field] = [trail.jsonable(old), trail.jsonable(new)]
                setattr(account, field, new)
        if diff:
            for field in diff:
                try:
                    Account._meta.get_field(field).clean(getattr(account, field), account)
                except ValidationError as error:
                    raise ValidationError(
                        {
                            field: [
                                _("帳號「%(name)s」：%(error)s")
                                % {"name": account.username, "error": m}
                                for m in error.messages
                            ]
                        }
                    ) from None
            account.updated_at = timezone.now()
            touched.append(account)
            items.append((trail.Action.UPDATE, account, diff))
    if touched:
        Account.objects.bulk_update(touched, [*DETAIL_FIELDS, "updated_at"], batch_size=500)
        trail.record_many(items, actor=actor)
        refresh_duties()
    return len(touched)


@transaction.atomic
def set_status(account: Account, status: str, *, actor, note: str = "") -> Account:
    """Disable, remove or re-enable an account; an open off-boarding task follows."""
    if status not in Status.values:
        raise ValidationError({"status": _("帳號狀態不正確。")})
    account = Account.objects.select_for_update().get(pk=account.pk)
    account.status = status
    if note:
        account.notes = (account.notes + "\n" + note).strip()
    # Open removal tasks are closed by save_account, with this status as their outcome.
    return save_account(account, actor=actor, strict=status == Status.ACTIVE)


def issue_default_password(account: Account, *, actor, now=None) -> Account:
    """A new account or a reset: the default password expires unless changed (2.9.1)."""
    now = now or timezone.now()
    account.default_password_expires_at = now + dt.timedelta(
        days=settings.ISMS_DEFAULT_PASSWORD_VALID_DAYS
    )
    account.password_changed_at = None
    account.password_confirmed_by = None
    return account


@transaction.atomic
def confirm_password_changed(account: Account, *, actor, at=None) -> Account:
    """The holder confirms they changed the default password (2.9.1)."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.default_password_expires_at is None:
        raise ValidationError({"__all__": _("此帳號沒有待變更的預設通行碼。")})
    if account.password_changed_at is not None:
        raise ValidationError({"__all__": _("已確認變更過通行碼。")})
    account.password_changed_at = at or timezone.now()
    account.password_confirmed_by = actor
    _save(account, actor)
    refresh_duties("identity.default_password")
    return account


# Off-boarding (2.7, 6.2) ---------------------------------------------------------------------
def removal_due(effective_on: dt.date) -> dt.date:
    return effective_on + dt.timedelta(days=settings.ISMS_ACCOUNT_REMOVAL_DAYS)


@transaction.atomic
def offboard(person: Person, *, actor, reason: str, effective_on: dt.date) -> list[OffboardingTask]:
    """A removal task for every account of the person that is not removed yet (once each)."""
    if reason not in OffboardingTask.Reason.values:
        raise ValidationError({"reason": _("原因不正確。")})
    accounts = Account.objects.active().filter(person=person).exclude(status=Status.REMOVED)
    # An account with an open task is being worked on. One whose task was finished needs no
    # other while its access stays removed (disabled); active again — re-enabled, or kept
    # when the person moved and has now left — it gets a new task: access must go (2.7).
    tasks = OffboardingTask.objects.filter(account__in=accounts).values_list(
        "account_id", "done_at"
    )
    open_ids, decided = set(), set()
    for account_id, done_at in tasks:
        (open_ids if done_at is None else decided).add(account_id)
    created = []
    for account in accounts.select_related("system"):
        if account.pk in open_ids or (account.pk in decided and account.status != Status.ACTIVE):
            continue
        task = OffboardingTask(
            account=account,
            person=person,
            reason=reason,
            effective_on=effective_on,
            due_on=removal_due(effective_on),
        )
        created.append(_save(task, actor))
    if created:
        refresh_duties("identity.offboarding")
    return created


@transaction.atomic
def record_departure(person: Person, *, actor, reason: str, effective_on: dt.date):
    """人事室 records that a person left or moved (or a vendor's service ended)."""
    errors = {}
    if reason not in OffboardingTask.Reason.values:
        errors["reason"] = _("原因不正確。")
    if effective_on is None:
        errors["effective_on"] = _("請填寫生效日期。")
    if errors:
        raise ValidationError(errors)
    person = Person.objects.select_for_update().get(pk=person.pk)
    if reason in (OffboardingTask.Reason.LEFT, OffboardingTask.Reason.VENDOR_ENDED):
        person.leave_date = effective_on
        if effective_on <= timezone.localdate():
            person.status = Person.Status.LEFT
        _save(person, actor)
    if effective_on <= timezone.localdate() or reason == OffboardingTask.Reason.MOVED:
        return offboard(person, actor=actor, reason=reason, effective_on=effective_on)
    return []  # a future departure: the daily job opens the tasks on the day


@transaction.atomic
def finish_task(task: OffboardingTask, *, actor, outcome: str, note: str = "", _refresh=True):
    task = OffboardingTask.objects.select_for_update().select_related("account").get(pk=task.pk)
    errors = {}
    if task.done_at is not None:
        errors["__all__"] = _("此工作已完成。")
    if outcome not in ("removed", "disabled", "kept"):
        errors["outcome"] = _("請選擇處理結果。")
    elif outcome == "kept" and task.reason == OffboardingTask.Reason.LEFT:
        errors["outcome"] = _(
            "離職人員的帳號須停用或刪除，不能保留（條文 2.7；帳號使用注意事項 5：使用者離職須移除"
            "其系統帳號始完成離職手續）。"
        )
    elif outcome == "kept" and task.reason == OffboardingTask.Reason.VENDOR_ENDED:
        errors["outcome"] = _(
            "委外服務終止時，須中止或刪除其系統上的帳號與權限，不能保留（條文 6.2）。"
        )
    elif outcome == "kept" and not (note or "").strip():
        errors["note"] = _("保留帳號須說明理由（例如調職後仍需使用）。")
    if errors:
        raise ValidationError(errors)
    task.done_at, task.done_by, task.outcome, task.note = timezone.now(), actor, outcome, note
    _save(task, actor)
    account = task.account
    if outcome in ("removed", "disabled") and account.status != outcome:
        account.status = outcome
        save_account(account, actor=actor, strict=False)
    if _refresh:
        refresh_duties("identity.offboarding")
    return task


def departed_people(today=None):
    """People whose departure (status left, or a leave date reached) is past."""
    from django.db.models import Q

    today = today or timezone.localdate()
    return Person.objects.filter(
        Q(status=Person.Status.LEFT) | Q(leave_date__isnull=False, leave_date__lte=today)
    )


def open_due_offboarding(now=None) -> int:
    """The daily look: departed people's accounts without a task get one (worker job)."""
    from django.db.models import Exists, OuterRef, Q

    today = timezone.localdate(now or timezone.now())
    with trail.acting_as(label="worker:offboarding"):
        count = 0
        # Only the people with an account that ``offboard`` would give a task (no open
        # task, and active or never decided): one query, not one look per departed person.
        tasks = OffboardingTask.objects.filter(account=OuterRef("pk"))
        needing = (
            Account.objects.active()
            .filter(person__in=departed_people(today))
            .exclude(status=Status.REMOVED)
            .exclude(Exists(tasks.filter(done_at__isnull=True)))
            .filter(Q(status=Status.ACTIVE) | ~Exists(tasks))
        )
        people = Person.objects.filter(pk__in=needing.values("person_id"))
        for person in people:
            count += len(
                offboard(
                    person,
                    actor=None,
                    reason=departure_reason(person),
                    effective_on=person.leave_date or today,
                )
            )
    return count


def departure_reason(person: Person) -> str:
    """Why a departed person's accounts go: a vendor's service ended, or the person left."""
    if person.kind == Person.Kind.VENDOR:
        return OffboardingTask.Reason.VENDOR_ENDED
    return OffboardingTask.Reason.LEFT


def systems_for(user):
    """The systems a person administers (they execute lines and review their accounts)."""
    return InformationSystem.objects.active().filter(administrators=user)
