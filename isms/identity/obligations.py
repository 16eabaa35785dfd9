"""The account duties of clauses 2.7–2.9 and 6.2, and the identity registers in the binder."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.db.models import IntegerField, OuterRef, Q, Subquery, Value
from django.urls import reverse
from django.utils import timezone
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
from isms.core import roc
from isms.core.models import SchoolProfile
from isms.core.registers import Column
from isms.core.roles import EQUIPMENT_HEAD, SECURITY_OFFICER, SUPERVISOR

from . import reviews, services
from .models import Account, AccountReview, InformationSystem, OffboardingTask, PrivilegedReview

EVENT_RHYTHM = Rhythm(period=EVENT)
# A shared account (2.9.2) must get its written justification within this many days.
SHARED_JUSTIFICATION_DAYS = 7
REMINDERS = (dt.timedelta(days=2), dt.timedelta(hours=12))


def _systems():
    return InformationSystem.objects.active()


# The semester duties count each review for the semester it reviews, not the one it was
# completed in (``reviews.counted_at``). The school's semester start days are read in the
# same query as the reviews, so each evidence or history read stays one query.
START_FIELDS = (
    "first_semester_start_month",
    "first_semester_start_day",
    "second_semester_start_month",
    "second_semester_start_day",
)


def _with_term_starts(queryset):
    profile = SchoolProfile.objects.filter(pk=1)
    return queryset.annotate(
        **{f"start_{f}": Subquery(profile.values(f)[:1]) for f in START_FIELDS}
    )


def _starts(values) -> dict:
    """The term starts from the annotated values (the defaults when there is no profile)."""
    fm, fd, sm, sd = values
    if None in values:
        return {"first_start": roc.DEFAULT_FIRST_START, "second_start": roc.DEFAULT_SECOND_START}
    return {"first_start": (fm, fd), "second_start": (sm, sd)}


def _counted(rows):
    """(subject, school year, semester, moment, *starts) rows → (subject, counted moment)."""
    for subject, year, semester, moment, *starts in rows:
        yield subject, reviews.counted_at(year, semester, moment, _starts(starts))


def _years(since, until) -> tuple[int, int]:
    """The school years whose semesters may hold a moment in [since, until)."""
    first = timezone.localtime(since).year - roc.ROC_OFFSET - 1
    return first, timezone.localtime(until).year - roc.ROC_OFFSET


def _in_range(pairs, since, until):
    return [(subject, at) for subject, at in pairs if since <= at < until]


def _review_rows(queryset):
    return _with_term_starts(queryset).values_list(
        "system_id",
        "school_year",
        "semester",
        "completed_at",
        *(f"start_{f}" for f in START_FIELDS),
    )


def _reviews_done(subjects):
    """Each system's latest reviewed semester, counted in it (one query)."""
    latest = AccountReview.objects.filter(
        system=OuterRef("system"), completed_at__isnull=False
    ).order_by("-school_year", "-semester")
    done = AccountReview.objects.filter(
        system__in=subjects.values("pk"),
        completed_at__isnull=False,
        pk=Subquery(latest.values("pk")[:1]),
    )
    return dict(_counted(_review_rows(done)))


def _review_history(subjects, since, until):
    first, last = _years(since, until)
    done = AccountReview.objects.filter(
        system__in=subjects.values("pk"),
        completed_at__isnull=False,
        school_year__range=(first, last),
    )
    return _in_range(_counted(_review_rows(done)), since, until)


def _review_recipients(state):
    """The officer starts the check and the system's administrators do it: both are told."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__name=SECURITY_OFFICER) | Q(administered_systems__pk=state.subject_id))
        .distinct()
    )


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
        recipients=_review_recipients,
        due_soon_days=30,
        subject_url=lambda state: reverse("identity:system_detail", args=[state.subject_id]),
    )
)


def _school():
    return SchoolProfile.objects.filter(pk=1)


def _privileged_rows(queryset):
    school = Value(1, output_field=IntegerField())  # the duty's one subject: the school
    return _with_term_starts(queryset.annotate(school=school)).values_list(
        "school",
        "school_year",
        "semester",
        "reviewed_at",
        *(f"start_{f}" for f in START_FIELDS),
    )


def _privileged_done(subjects):
    """The latest reviewed A-4 list, counted in its semester (one query)."""
    done = PrivilegedReview.objects.filter(reviewed_at__isnull=False)
    latest = _privileged_rows(done.order_by("-school_year", "-semester"))[:1]
    return dict(_counted(latest))


def _privileged_history(subjects, since, until):
    first, last = _years(since, until)
    done = PrivilegedReview.objects.filter(
        reviewed_at__isnull=False, school_year__range=(first, last)
    )
    return _in_range(_counted(_privileged_rows(done)), since, until)


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
                Column("prepared_at", _("填寫時間")),
                Column("prepared_by", _("填寫人"), accessor=lambda r: r.prepared_by.display_name),
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
