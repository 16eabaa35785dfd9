"""The backup duties (2.4.1, 2.4.2), the missed-backup alerts, and the backup records in
the evidence binder.

* ``operations.backup`` (2.4.1): every active backup plan has a successful run no older
  than seven days (「每週至少進行一次」), a rolling duty; its evidence is the end
  (``finished_at``) of the plan's last successful run. A plan's own shorter rhythm (daily,
  every 3 days) is watched by ``backups.alert_missed``, a worker job registered here,
  which tells the plan's administrator once in each rhythm window without a backup.
* ``operations.restore_test`` (2.4.2): every active plan has, in each school year (the
  engine's yearly period), a restore test that passed — usable, complete, its checksum
  not found to differ — and is not voided. Its moment is the test's date
  (``tested_on``) at local midnight, not when it was entered: a test done on 7/31 and
  entered on 8/2 belongs to the school year it was done in.

Reminders go to the plan's administrator (or, when that person has left, to every active
system administrator). Every read is one query for all plans.
"""

from django.db.models import Max, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.compliance.registry import Obligation, Records, register, register_job, register_records
from isms.compliance.rhythms import Rhythm, day_start, local_date
from isms.core.roles import SYSADMIN

from . import backups
from .models import BackupPlan, BackupRun, RestoreTest

BACKUP_DUTY = backups.BACKUP_DUTY
RESTORE_DUTY = backups.RESTORE_DUTY
# The policy's limit: 「每週至少進行一次」 (2.4.1).
BACKUP_RHYTHM = Rhythm(days=backups.MAX_RHYTHM_DAYS)
PASSED = Q(usable=True, complete=True, voided_at__isnull=True) & ~Q(
    checksum=RestoreTest.Checksum.MISMATCHED
)


def _plans():
    """The plans in force (the product's own plan included)."""
    return BackupPlan.objects.active()


def _last_backups(subjects):
    return backups.last_success(subjects)


def _backup_history(subjects, since, until):
    """Every successful run's end in [since, until) of these plans (one query)."""
    return list(
        BackupRun.objects.filter(
            plan__in=subjects.values("pk"),
            status=BackupRun.Status.SUCCEEDED,
            finished_at__gte=since,
            finished_at__lt=until,
        )
        .order_by("finished_at")
        .values_list("plan_id", "finished_at")
    )


def _last_tests(subjects):
    """{plan pk: local midnight of the date of its latest passed restore test} (one query)."""
    rows = (
        RestoreTest.objects.filter(PASSED, plan__in=subjects.values("pk"))
        .order_by()
        .values("plan")
        .annotate(last=Max("tested_on"))
        .values_list("plan", "last")
    )
    return {pk: day_start(day) for pk, day in rows}


def _test_history(subjects, since, until):
    """Every passed restore test whose day starts in [since, until) (one query)."""
    rows = (
        RestoreTest.objects.filter(
            PASSED,
            plan__in=subjects.values("pk"),
            tested_on__gte=local_date(since),
            tested_on__lte=local_date(until),
        )
        .order_by("tested_on")
        .values_list("plan_id", "tested_on")
    )
    return [(pk, day_start(day)) for pk, day in rows if since <= day_start(day) < until]


def _recipients(state):
    """The plan's administrator, else every active system administrator."""
    plan = BackupPlan.objects.filter(pk=state.subject_id).select_related("responsible").first()
    if plan is None:
        return list(backups.administrators())
    return backups.recipients_for(plan)


def _plan_url(state):
    return reverse("operations:backupplan_detail", args=[state.subject_id])


def _run_add_url(state):
    return reverse("operations:backuprun_add") + f"?plan={state.subject_id}"


def _test_add_url(state):
    return reverse("operations:restoretest_add") + f"?plan={state.subject_id}"


register(
    Obligation(
        key=BACKUP_DUTY,
        clause="2.4.1",
        title=_("重要電腦系統及資料每週至少備份一次"),
        description=_(
            "每個備份計畫至少每 7 天有一次成功的備份；由備份程式以金鑰回報，或由系統管理人員登錄。"
            "備份計畫自訂較短的頻率時，逾期由系統另行通知負責人。"
        ),
        subjects=_plans,
        evidence=_last_backups,
        history=_backup_history,
        subject_start="created_at",
        rhythm=BACKUP_RHYTHM,
        responsible_role=SYSADMIN,
        due_soon_days=2,
        recipients=_recipients,
        subject_url=_plan_url,
        evidence_url=_run_add_url,
    )
)

register(
    Obligation(
        key=RESTORE_DUTY,
        clause="2.4.2",
        title=_("每年檢查備份資料之可用性與完整性（還原測試）"),
        description=_(
            "每個備份計畫每學年至少一次還原測試，資料可用、完整且檢查碼未發現不符；以測試日期計。"
        ),
        subjects=_plans,
        evidence=_last_tests,
        history=_test_history,
        subject_start="created_at",
        rhythm=Rhythm(period="yearly"),
        responsible_role=SYSADMIN,
        due_soon_days=60,
        recipients=_recipients,
        subject_url=_plan_url,
        evidence_url=_test_add_url,
    )
)


def _missed_backups(now):
    backups.alert_missed(now)


register_job("operations.missed_backups", _missed_backups)


def _register_records():
    from .views_backups import BackupPlanRegister, BackupRunRegister, RestoreTestRegister

    register_records(Records.of(BackupPlanRegister, obligations=(BACKUP_DUTY, RESTORE_DUTY)))
    register_records(
        Records.of(BackupRunRegister, date_field="started_at", obligations=(BACKUP_DUTY,))
    )
    register_records(
        Records.of(RestoreTestRegister, date_field="tested_on", obligations=(RESTORE_DUTY,))
    )


_register_records()
