"""The account duties of clauses 2.7–2.9 and 6.2, and the identity registers in the binder."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.db.models import Max
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.compliance.registry import (
    Obligation,
    Records,
    pending_or_recent,
    register,
    register_job,
    register_records,
)
from isms.compliance.rhythms import EVENT, LAST_SECOND, Rhythm, day_start
from isms.core.models import SchoolProfile
from isms.core.registers import Column
from isms.core.roles import EQUIPMENT_HEAD, SECURITY_OFFICER, SUPERVISOR

from . import services
from .models import Account, AccountReview, InformationSystem, OffboardingTask, PrivilegedReview

EVENT_RHYTHM = Rhythm(period=EVENT)
# A shared account (2.9.2) must get its written justification within this many days.
SHARED_JUSTIFICATION_DAYS = 7
REMINDERS = (dt.timedelta(days=2), dt.timedelta(hours=12))


def _systems():
    return InformationSystem.objects.active()


def _reviews_done(subjects):
    return dict(
        AccountReview.objects.filter(system__in=subjects.values("pk"), completed_at__isnull=False)
        .values("system")
        .annotate(last=Max("completed_at"))
        .values_list("system", "last")
    )


def _review_history(subjects, since, until):
    return AccountReview.objects.filter(
        system__in=subjects.values("pk"), completed_at__gte=since, completed_at__lt=until
    ).values_list("system_id", "completed_at")


register(
    Obligation(
        key="identity.account_review",
        clause="2.7",
        title=_("每學期檢查各系統帳號"),
        subjects=_systems,
        evidence=_reviews_done,
        history=_review_history,
        subject_start="created_at",
        rhythm=Rhythm(period="semester"),
        responsible_role=SECURITY_OFFICER,
        due_soon_days=30,
        subject_url=lambda state: reverse("identity:system_detail", args=[state.subject_id]),
    )
)


def _school():
    return SchoolProfile.objects.filter(pk=1)


def _privileged_done(subjects):
    last = PrivilegedReview.objects.aggregate(last=Max("reviewed_at"))["last"]
    return {1: last} if last else {}


def _privileged_history(subjects, since, until):
    return [
        (1, at)
        for at in PrivilegedReview.objects.filter(
            reviewed_at__gte=since, reviewed_at__lt=until
        ).values_list("reviewed_at", flat=True)
    ]


register(
    Obligation(
        key="identity.privileged_review",
        clause="2.8",
        title=_("每學期覆核特權帳號清單（A-4）"),
        subjects=_school,
        evidence=_privileged_done,
        history=_privileged_history,
        rhythm=Rhythm(period="semester"),
        responsible_role=SUPERVISOR,
        due_soon_days=30,
    )
)


# Event duties ----------------------------------------------------------------------------
def _tasks():
    return OffboardingTask.objects.select_related("account__system", "person")


def _task_done(subjects):
    return dict(subjects.filter(done_at__isnull=False).values_list("pk", "done_at"))


def _task_due(subjects):
    return {
        pk: day_start(due + dt.timedelta(days=1)) - LAST_SECOND
        for pk, due in subjects.values_list("pk", "due_on")
    }


def _task_url(state):
    return reverse("identity:offboardingtask_detail", args=[state.subject_id])


register(
    Obligation(
        key="identity.offboarding",
        clause="6.2",
        title=_("離職、調職或委外終止人員的帳號於期限內移除"),
        subjects=pending_or_recent(_tasks, "done_at"),
        all_subjects=_tasks,
        evidence=_task_done,
        deadline=_task_due,
        rhythm=EVENT_RHYTHM,
        responsible_role=EQUIPMENT_HEAD,
        reminders=REMINDERS,
        subject_url=_task_url,
        evidence_url=_task_url,
    )
)


def _default_passwords():
    # str(account) reads its system: joined, so the engine's queries stay constant.
    return (
        Account.objects.active()
        .filter(default_password_expires_at__isnull=False)
        .select_related("system")
    )


def _account_url(state):
    return reverse("identity:account_detail", args=[state.subject_id])


def _holder(state):
    account = Account.objects.filter(pk=state.subject_id).first()
    if account is None or account.person_id is None:
        return get_user_model().objects.none()
    return get_user_model().objects.filter(person_id=account.person_id, is_active=True)


register(
    Obligation(
        key="identity.default_password",
        clause="2.9.1",
        title=_("預設通行碼於期限內變更"),
        subjects=pending_or_recent(_default_passwords, "password_changed_at"),
        all_subjects=_default_passwords,
        evidence=lambda subjects: dict(
            subjects.filter(password_changed_at__isnull=False).values_list(
                "pk", "password_changed_at"
            )
        ),
        deadline=lambda subjects: dict(subjects.values_list("pk", "default_password_expires_at")),
        rhythm=EVENT_RHYTHM,
        responsible_role=SECURITY_OFFICER,
        reminders=(dt.timedelta(days=2),),
        recipients=_holder,
        subject_url=_account_url,
        evidence_url=_account_url,
    )
)


def _shared():
    return (
        Account.objects.active()
        .filter(kind=Account.Kind.SHARED)
        .exclude(status=Account.Status.REMOVED)
        .select_related("system")
    )


register(
    Obligation(
        key="identity.shared_justified",
        clause="2.9.2",
        title=_("共用帳號須有書面理由"),
        subjects=_shared,
        evidence=lambda subjects: dict(
            subjects.exclude(shared_justification="").values_list("pk", "updated_at")
        ),
        deadline=lambda subjects: {
            pk: created + dt.timedelta(days=SHARED_JUSTIFICATION_DAYS)
            for pk, created in subjects.values_list("pk", "created_at")
        },
        rhythm=EVENT_RHYTHM,
        responsible_role=SECURITY_OFFICER,
        reminders=(dt.timedelta(days=2),),
        subject_url=_account_url,
        evidence_url=lambda state: reverse("identity:account_edit", args=[state.subject_id]),
    )
)

register_job("identity.offboarding", services.open_due_offboarding)


def _register_records():
    from .views import AccountRegister, OffboardingTaskRegister, SystemRegister
    from .views_requests import AccountRequestRegister

    register_records(
        Records.of(
            AccountRequestRegister,
            date_field="requested_on",
            obligations=("identity.default_password",),
        )
    )
    register_records(Records.of(SystemRegister, obligations=("identity.account_review",)))
    register_records(
        Records.of(
            AccountRegister,
            also_clauses=("2.8", "2.9.2"),
            obligations=("identity.default_password", "identity.shared_justified"),
        )
    )
    register_records(
        Records(
            key="identity.accountreview",
            clause="2.7",
            title=_("帳號定期檢查"),
            queryset=lambda: AccountReview.objects.select_related(
                "system", "started_by__person", "completed_by__person"
            ).order_by("school_year", "semester", "system__name"),
            columns=(
                Column("system", _("系統"), accessor="system.name"),
                Column("term", _("學期"), accessor=lambda r: f"{r.school_year}-{r.semester}"),
                Column("started_at", _("發起時間")),
                Column("started_by", _("發起人"), accessor=lambda r: r.started_by.display_name),
                Column("completed_at", _("完成時間")),
                Column(
                    "completed_by",
                    _("確認人"),
                    accessor=lambda r: r.completed_by.display_name if r.completed_by_id else "",
                ),
            ),
            date_field="started_at",
            obligations=("identity.account_review",),
            attachments=False,
        )
    )
    register_records(
        Records(
            key="identity.privilegedreview",
            clause="2.8",
            title=_("特權帳號清單覆核（A-4）"),
            queryset=lambda: PrivilegedReview.objects.select_related(
                "prepared_by__person", "reviewed_by__person"
            ).order_by("school_year", "semester"),
            columns=(
                Column("term", _("學期"), accessor=lambda r: f"{r.school_year}-{r.semester}"),
                Column("prepared_at", _("填表時間")),
                Column("prepared_by", _("填表人"), accessor=lambda r: r.prepared_by.display_name),
                Column("reviewed_at", _("覆核時間")),
                Column(
                    "reviewed_by",
                    _("覆核主管"),
                    accessor=lambda r: r.reviewed_by.display_name if r.reviewed_by_id else "",
                ),
                Column("review_note", _("覆核意見")),
            ),
            date_field="prepared_at",
            obligations=("identity.privileged_review",),
            attachments=False,
        )
    )
    register_records(
        Records.of(
            OffboardingTaskRegister,
            date_field="effective_on",
            obligations=("identity.offboarding",),
        )
    )


_register_records()
