"""The rules of backups (2.4): plans, their job keys, runs and restore tests.

- A plan (2.4.1) names a registered system or server (or both), what it backs up, how,
  where to, whether a copy is kept off-site (and then where, on what medium), a rhythm of
  at most seven days (「每週至少進行一次」) and its responsible administrator (an active
  login holding the system-administrator role).
- A plan's backup job reports its runs with the plan's own key (``job_key_create``): only
  the key's SHA-256 is kept (and the trail says only that it changed), a new key replaces
  the old one, and a revoked key or the key of a voided plan is refused.
- A run is recorded by the job, by hand, or by ``isms backup`` (the product's own plan);
  once recorded it is never changed. The same plan and start time twice is one run
  reported twice (a retried POST) and is refused. A failed run tells the responsible
  administrator through the outbox at once; a plan whose last successful run is older
  than its rhythm does too, once in each rhythm window that passes without one
  (``alert_missed``, a worker job). When the responsible administrator has left, the
  other active system administrators are told instead.
- A restore test (2.4.2, yearly) says what was restored from which run, where to, whether
  it was usable and complete and whether the checksum matched; only its tester changes
  it, until the supervisor reviews it (not the tester themself), once.

Every function validates before it writes (``ValidationError`` field → zh-TW message
citing the clause; nothing saved) and takes the acting person for the audit trail.
"""

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.assets.models import Asset
from isms.audit import trail
from isms.core import devicekeys, roc
from isms.core.access import has_role, user_roles
from isms.core.roles import SUPERVISOR, SYSADMIN
from isms.core.services import site_url
from isms.identity.models import InformationSystem

from .models import BackupPlan, BackupRun, RestoreTest

Content = BackupPlan.Content
Status = BackupRun.Status
Source = BackupRun.Source
KEY_PREFIX = "isms_bk_"
# The policy's longest rhythm: 「每週至少進行一次」 (2.4.1).
MAX_RHYTHM_DAYS = 7
# A reporting machine's clock may run a little ahead of ours.
CLOCK_SKEW = dt.timedelta(minutes=5)
# The duties whose evidence these records are (duties_backups); refreshed after a change.
BACKUP_DUTY = "operations.backup"
RESTORE_DUTY = "operations.restore_test"


def log_limit() -> int:
    """A run's log is kept up to this many characters (its end: where errors are)."""
    return max(int(getattr(settings, "ISMS_BACKUP_LOG_CHARS", 20_000)), 100)


def may_keep(user) -> bool:
    """System administrators keep the plans and record runs and restore tests (2.4)."""
    return has_role(user, SYSADMIN)


def may_review(user) -> bool:
    return has_role(user, SUPERVISOR)


def is_administrator(user) -> bool:
    """An active login holding the system-administrator role (a superuser is not one)."""
    return user is not None and SYSADMIN in user_roles(user)


def _save(obj, actor, **kwargs):
    with trail.as_actor(actor):
        obj.save(**kwargs)
    return obj


def _refresh(*keys) -> None:
    """Recompute the duties' states at once (the worker would, within minutes)."""
    from isms.compliance import engine

    for key in keys:
        engine.refresh(key)


def _too_long(obj, names, errors: dict) -> None:
    """Text longer than its column: a field error (SQLite would keep it, PostgreSQL not)."""
    for name in names:
        limit = type(obj)._meta.get_field(name).max_length
        value = getattr(obj, name) or ""
        if limit and len(value) > limit and name not in errors:
            errors[name] = _("最多 %(limit)d 個字。") % {"limit": limit}


def _strip(obj, *names) -> None:
    for name in names:
        value = getattr(obj, name)
        setattr(obj, name, value.strip() if isinstance(value, str) else "")


def administrators():
    """The active system administrators (who is told when a plan's own has left)."""
    return (
        get_user_model()
        .objects.filter(groups__name=SYSADMIN, is_active=True)
        .distinct()
        .order_by("pk")
    )


def recipients_for(plan: BackupPlan, fallback=None) -> list:
    """Who hears of the plan's failures: its administrator, else every active one."""
    if is_administrator(plan.responsible):
        return [plan.responsible]
    return list(fallback if fallback is not None else administrators())


# Plans (2.4.1) -----------------------------------------------------------------------------------
def plan_errors(plan: BackupPlan) -> dict:
    errors = {}
    stored = None
    if plan.pk is not None:
        stored = BackupPlan.objects.filter(pk=plan.pk).values("system_id", "server_id").first()
    _strip(plan, "name", "contents_other", "method", "destination", "offsite_location")
    if not plan.name:
        errors["name"] = _("請填寫名稱。")
    if plan.system_id is None and plan.server_id is None and not plan.is_product:
        errors["system"] = _("請選擇備份的資訊系統或主機（條文 2.4.1）。")
    if plan.system_id is not None:
        system = InformationSystem.objects.filter(pk=plan.system_id).values("voided_at").first()
        kept = stored is not None and stored["system_id"] == plan.system_id
        if system is None:
            errors["system"] = _("資訊系統不存在。")
        elif system["voided_at"] is not None and not kept:
            errors["system"] = _("此資訊系統已作廢。")
    if plan.server_id is not None:
        server = (
            Asset.objects.filter(pk=plan.server_id).values("kind", "state", "voided_at").first()
        )
        # A plan keeps the server it had when that server is later decommissioned.
        kept = stored is not None and stored["server_id"] == plan.server_id
        if server is None or server["kind"] != Asset.Kind.SERVER:
            errors["server"] = _("主機須為資產清冊中的伺服器。")
        elif server["voided_at"] is not None and not kept:
            errors["server"] = _("此伺服器已作廢。")
        elif server["state"] == Asset.State.DECOMMISSIONED and not kept:
            errors["server"] = _("此伺服器已報廢。")
    contents = plan.contents
    if not isinstance(contents, list | tuple) or not all(isinstance(c, str) for c in contents):
        errors["contents"] = _("備份內容不正確。")
        contents = []
    contents = list(dict.fromkeys(contents))
    if "contents" in errors:
        pass
    elif not contents:
        errors["contents"] = _("請勾選備份內容（例如系統檔案、網站、資料庫；條文 2.4.1）。")
    elif any(c not in Content.values for c in contents):
        errors["contents"] = _("備份內容不正確。")
    plan.contents = contents
    if Content.OTHER not in contents:
        plan.contents_other = ""
    elif not plan.contents_other:
        errors["contents_other"] = _("勾選「其他」時請寫明備份內容。")
    if not plan.method:
        errors["method"] = _("請填寫備份方式（例如：每日完整備份、以 rsync 複製）。")
    if not plan.destination:
        errors["destination"] = _("請填寫備份位置。")
    if plan.offsite:
        if not plan.offsite_location:
            errors["offsite_location"] = _("異地備份請填寫存放地點（條文 2.4.1）。")
        if not plan.offsite_medium:
            errors["offsite_medium"] = _("異地備份請選擇存放媒體（條文 2.4.1）。")
        elif plan.offsite_medium not in BackupPlan.Medium.values:
            errors["offsite_medium"] = _("存放媒體不正確。")
    else:
        plan.offsite_location, plan.offsite_medium = "", ""
    days = plan.rhythm_days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_RHYTHM_DAYS:
        errors["rhythm_days"] = _("備份頻率須為 1 到 7 天：條文 2.4.1 規定每週至少備份一次。")
    if plan.responsible_id is None:
        errors["responsible"] = _("請選擇負責的系統管理人員。")
    else:
        user = get_user_model().objects.filter(pk=plan.responsible_id).first()
        if not is_administrator(user):
            errors["responsible"] = _("負責人須為在職的系統管理人員。")
    _too_long(
        plan,
        ("name", "contents_other", "method", "destination", "offsite_location"),
        errors,
    )
    return errors


@transaction.atomic
def save_plan(plan: BackupPlan, *, actor) -> BackupPlan:
    """Create or change a plan after its checks (a voided plan is not changed).

    Its key and whether it is the product's own plan are never changed here.
    """
    if not may_keep(actor):
        raise PermissionDenied
    if plan.pk is None:
        plan.is_product = False
        plan.token_prefix, plan.token_hash, plan.token_created_at = "", "", None
        plan.voided_at, plan.voided_by, plan.void_reason = None, None, ""
    else:
        stored = BackupPlan.objects.select_for_update().get(pk=plan.pk)
        if stored.voided_at is not None:
            raise ValidationError({"__all__": _("此備份計畫已作廢，不能修改。")})
        plan.is_product = stored.is_product
        plan.token_prefix, plan.token_hash = stored.token_prefix, stored.token_hash
        plan.token_created_at = stored.token_created_at
    errors = plan_errors(plan)
    if errors:
        raise ValidationError(errors)
    _save(plan, actor)
    _refresh(BACKUP_DUTY, RESTORE_DUTY)
    return plan


JOB_KEY = devicekeys.KeyKind(
    prefix=KEY_PREFIX,
    model=BackupPlan,
    label="backup job",
    created=gettext_lazy("建立備份程式金鑰"),
    revoked=gettext_lazy("撤銷備份程式金鑰"),
    failed=gettext_lazy("備份程式金鑰無效或已撤銷。"),
    refused=gettext_lazy("備份程式金鑰無效或已撤銷（金鑰開頭 %(start)s）。"),
    voided=gettext_lazy("備份程式金鑰所屬的備份計畫已作廢（金鑰開頭 %(start)s）。"),
    voided_record=gettext_lazy("此備份計畫已作廢。"),
)


def job_key_create(plan: BackupPlan, *, actor) -> str:
    """A new key for the plan's backup job; returned once, only its hash kept.

    A key made before is replaced (revoked) at the same moment.
    """
    if not may_keep(actor):
        raise PermissionDenied
    return devicekeys.create(JOB_KEY, plan, actor=actor)


def job_key_revoke(plan: BackupPlan, *, actor) -> BackupPlan:
    """Turn the plan's key off: the job's reports are refused (401) from now on."""
    if not may_keep(actor):
        raise PermissionDenied
    return devicekeys.revoke(JOB_KEY, plan, actor=actor)


def plan_for_key(key: str) -> BackupPlan | None:
    """The plan whose job key this is (not voided), or None."""
    return devicekeys.holder(JOB_KEY, key, BackupPlan.objects.select_related("responsible"))


# Runs (2.4.1) ------------------------------------------------------------------------------------
def truncated_log(log: str) -> str:
    """The log as kept: without NUL characters, its end when it is longer than the limit."""
    log = (log or "").replace("\x00", "")
    limit = log_limit()
    if len(log) <= limit:
        return log
    # The end of a log says how the run ended; the start is cut.
    cut = _("（前段已截除）") + "\n"
    return cut + log[len(log) - (limit - len(cut)) :]


def run_errors(run: BackupRun) -> dict:
    errors = {}
    plan = run.plan if run.plan_id else None
    if plan is None:
        errors["plan"] = _("請選擇備份計畫。")
    elif plan.voided_at is not None:
        errors["plan"] = _("此備份計畫已作廢，不再記錄備份。")
    limit = timezone.now() + CLOCK_SKEW
    if run.started_at is None:
        errors["started_at"] = _("請填寫開始時間。")
    elif run.started_at > limit:
        errors["started_at"] = _("不可晚於現在。")
    elif (
        plan is not None
        and BackupRun.objects.filter(plan=plan, started_at=run.started_at)
        .exclude(pk=run.pk)
        .exists()
    ):
        errors["started_at"] = _("此備份計畫已有相同開始時間的備份紀錄（重複回報）。")
    if run.finished_at is not None:
        if run.finished_at > limit:
            errors["finished_at"] = _("不可晚於現在。")
        elif run.started_at is not None and run.finished_at < run.started_at:
            errors["finished_at"] = _("結束時間不可早於開始時間。")
    elif run.status == Status.SUCCEEDED:
        errors["finished_at"] = _("成功的備份請填寫結束時間。")
    if run.status not in Status.values:
        errors["status"] = _("結果須為成功或失敗。")
    if run.size_bytes is not None and (
        isinstance(run.size_bytes, bool) or not isinstance(run.size_bytes, int)
    ):
        errors["size_bytes"] = _("大小須為整數（位元組）。")
    elif run.size_bytes is not None and run.size_bytes < 0:
        errors["size_bytes"] = _("大小不可為負數。")
    _strip(run, "checksum", "location")
    _too_long(run, ("checksum", "location"), errors)
    run.log = truncated_log(run.log)
    return errors


@transaction.atomic
def record_run(run: BackupRun, *, actor=None, source: str = Source.MANUAL) -> BackupRun:
    """Record one run; a failed one is told to the plan's administrator at once.

    By hand (``MANUAL``) only a system administrator records; the job (``JOB``, its key
    checked by the API) and ``isms backup`` (``PRODUCT``) act without a person.
    """
    if source not in Source.values:
        raise ValueError(f"unknown source {source!r}")
    if source == Source.MANUAL and not may_keep(actor):
        raise PermissionDenied
    if run.pk is not None:
        raise ValidationError({"__all__": _("已記錄的備份紀錄不能修改。")})
    run.source = source
    run.recorded_by = actor if getattr(actor, "is_authenticated", False) else None
    errors = run_errors(run)
    if errors:
        raise ValidationError(errors)
    _save(run, actor)
    if run.status == Status.FAILED:
        _tell_failed(run, actor)
    else:
        _refresh(BACKUP_DUTY)
    return run


def _tell_failed(run: BackupRun, actor) -> None:
    from isms.notifications.services import notify

    plan = run.plan
    for recipient in recipients_for(plan):
        notify(
            recipient=recipient,
            subject=_("備份失敗：%(plan)s") % {"plan": plan.name},
            body=_(
                "備份計畫「%(plan)s」於 %(when)s 的備份失敗（條文 2.4.1）。\n"
                "請查看執行紀錄並重新備份：%(url)s\n\n%(log)s"
            )
            % {
                "plan": plan.name,
                "when": roc.format_roc_datetime(run.started_at),
                "url": site_url(run.get_absolute_url()),
                "log": run.log[-2000:],
            },
            dedup_key=f"operations.backup_failed:{run.pk}:{recipient.pk}",
            urgent=True,
            actor=actor,
        )


def last_success(plans=None) -> dict:
    """{plan pk: end of its last successful run} for these plans (one query)."""
    qs = BackupRun.objects.filter(status=Status.SUCCEEDED, finished_at__isnull=False)
    if plans is not None:
        qs = qs.filter(plan__in=plans)
    return dict(
        qs.order_by().values("plan").annotate(last=Max("finished_at")).values_list("plan", "last")
    )


def due_at(plan: BackupPlan, last: dt.datetime | None) -> dt.datetime:
    """When the plan's next successful run is due: its rhythm after the last one (or after
    the plan was made)."""
    return (last or plan.created_at) + dt.timedelta(days=plan.rhythm_days)


def missed_window(plan: BackupPlan, last: dt.datetime | None, now: dt.datetime):
    """The start of the rhythm window ``now`` falls in after the plan's due moment, or None
    when it is not due yet: due, due + rhythm, due + 2 × rhythm, …"""
    due = due_at(plan, last)
    if now < due:
        return None
    period = dt.timedelta(days=plan.rhythm_days)
    return due + period * ((now - due) // period)


def alert_missed(now=None) -> int:
    """Tell each active plan's administrator once in every rhythm window that passes
    without a successful run (the worker runs this with its full refresh). Returns how
    many messages were queued.

    1. Active plans with their administrators (1 query), the last success of each (1).
    2. A plan is missed when its last successful run (or its creation) is older than its
       rhythm; the window is the rhythm-long span ``now`` falls in from the due moment.
    3. One message per plan, window and recipient (the outbox's de-duplication key): a
       second pass in the same window queues nothing; the next window reminds again.
    """
    from isms.notifications.models import Notification
    from isms.notifications.services import notify

    now = now or timezone.now()
    plans = list(BackupPlan.objects.active().select_related("responsible"))
    lasts = last_success(plans)
    fallback = None
    pending = []
    for plan in plans:
        window = missed_window(plan, lasts.get(plan.pk), now)
        if window is None:
            continue
        if not is_administrator(plan.responsible) and fallback is None:
            fallback = list(administrators())
        for recipient in recipients_for(plan, fallback):
            key = f"operations.backup_missed:{plan.pk}:{window.isoformat()}:{recipient.pk}"
            pending.append((plan, lasts.get(plan.pk), recipient, key))
    if not pending:
        return 0
    queued = set(
        Notification.objects.filter(dedup_key__in=[p[3] for p in pending]).values_list(
            "dedup_key", flat=True
        )
    )
    told = 0
    with trail.acting_as(None, label="worker"):
        for plan, last, recipient, key in pending:
            if key in queued:
                continue
            row = notify(
                recipient=recipient,
                subject=_("備份逾期：%(plan)s") % {"plan": plan.name},
                body=_(
                    "備份計畫「%(plan)s」的備份頻率為每 %(days)d 天，已逾期未有成功的備份"
                    "（應於 %(due)s 前完成；最近一次成功：%(last)s；條文 2.4.1）。"
                    "請確認備份程式是否正常執行：%(url)s"
                )
                % {
                    "plan": plan.name,
                    "days": plan.rhythm_days,
                    "due": roc.format_roc_datetime(due_at(plan, last)),
                    "last": roc.format_roc_datetime(last) if last else _("尚無"),
                    "url": site_url(plan.get_absolute_url()),
                },
                dedup_key=key,
            )
            told += row is not None
    return told


# Restore tests (2.4.2) ---------------------------------------------------------------------------
def test_errors(test: RestoreTest) -> dict:
    errors = {}
    plan = test.plan if test.plan_id else None
    run = test.run if test.run_id else None
    if plan is None:
        errors["plan"] = _("請選擇備份計畫。")
    elif plan.voided_at is not None and test.pk is None:
        errors["plan"] = _("此備份計畫已作廢。")
    if run is not None and plan is not None and run.plan_id != plan.pk:
        errors["run"] = _("還原的備份須為此備份計畫的備份紀錄。")
    elif run is not None and run.status != Status.SUCCEEDED:
        errors["run"] = _("只能還原成功的備份。")
    if test.tested_on is None:
        errors["tested_on"] = _("請填寫測試日期。")
    elif test.tested_on > timezone.localdate():
        errors["tested_on"] = _("測試日期不可晚於今天。")
    elif (
        run is not None
        and "run" not in errors
        and test.tested_on < timezone.localtime(run.started_at).date()
    ):
        errors["tested_on"] = _("測試日期不可早於所還原備份的日期。")
    _strip(test, "restored_what", "restored_to", "note")
    if not test.restored_what:
        errors["restored_what"] = _("請寫明還原的內容（條文 2.4.2）。")
    if not test.restored_to:
        errors["restored_to"] = _("請寫明還原至何處（例如測試主機、暫存資料庫）。")
    if test.checksum not in RestoreTest.Checksum.values:
        errors["checksum"] = _("檢查碼比對結果不正確。")
    elif not test.passed and not test.note:
        errors["note"] = _("資料不可用、不完整或檢查碼不符時，請說明原因與後續處理（條文 2.4.2）。")
    _too_long(test, ("restored_what", "restored_to"), errors)
    return errors


@transaction.atomic
def save_test(test: RestoreTest, *, actor) -> RestoreTest:
    """Record a restore test (the actor is its tester) or change it before its review."""
    if not may_keep(actor):
        raise PermissionDenied
    if test.pk is None:
        test.tester = actor
        test.reviewed_by, test.reviewed_at, test.review_note = None, None, ""
        test.voided_at, test.voided_by, test.void_reason = None, None, ""
    else:
        stored = RestoreTest.objects.select_for_update().get(pk=test.pk)
        if stored.tester_id != actor.pk:
            raise PermissionDenied
        if stored.voided_at is not None:
            raise ValidationError({"__all__": _("此測試紀錄已作廢，不能修改。")})
        if stored.reviewed_at is not None:
            raise ValidationError({"__all__": _("此測試紀錄已經主管覆核，不能修改。")})
        test.tester_id, test.plan_id = stored.tester_id, stored.plan_id
        test.reviewed_by_id, test.reviewed_at = stored.reviewed_by_id, stored.reviewed_at
        test.review_note = stored.review_note
    errors = test_errors(test)
    if errors:
        raise ValidationError(errors)
    _save(test, actor)
    _refresh(RESTORE_DUTY)
    return test


def may_edit_test(user, test: RestoreTest) -> bool:
    """Its tester, while it is neither reviewed nor voided."""
    return (
        may_keep(user)
        and test.tester_id == user.pk
        and test.reviewed_at is None
        and test.voided_at is None
    )


def may_review_test(user, test: RestoreTest) -> bool:
    return (
        may_review(user)
        and test.tester_id != user.pk
        and test.reviewed_at is None
        and test.voided_at is None
    )


@transaction.atomic
def review_test(test: RestoreTest, *, actor, note: str = "") -> RestoreTest:
    """The supervisor's review: once, not by the tester, not of a voided record."""
    if not may_review(actor):
        raise PermissionDenied
    test = RestoreTest.objects.select_for_update().get(pk=test.pk)
    if test.voided_at is not None:
        raise ValidationError({"__all__": _("此測試紀錄已作廢，不能覆核。")})
    if test.reviewed_at is not None:
        raise ValidationError({"__all__": _("此測試紀錄已經主管覆核。")})
    if test.tester_id == actor.pk:
        raise ValidationError({"__all__": _("覆核者不可為測試人員本人。")})
    note = (note or "").strip()
    if len(note) > 1000:
        raise ValidationError({"note": _("最多 %(limit)d 個字。") % {"limit": 1000}})
    test.reviewed_by, test.reviewed_at = actor, timezone.now()
    test.review_note = note
    return _save(test, actor)


def run_url(run: BackupRun) -> str:
    return reverse("operations:backuprun_detail", args=[run.pk])
