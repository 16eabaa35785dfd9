"""The foundation's own duties: password age (A-5), the A-6 table, the yearly policy review;
and the foundation's registers as the evidence binder files them."""

from django.conf import settings
from django.db.models import Max
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.core.models import ContactEntry, PasswordHistory, SchoolProfile, User
from isms.core.registers import Column
from isms.core.roles import SECURITY_OFFICER
from isms.core.views import PersonRegister, UserRegister

from .models import ContactReview, PolicyRevision
from .registry import Obligation, Records, register, register_records
from .rhythms import Rhythm, day_start, local_date
from .views import PolicyRevisionRegister


def _school():
    return SchoolProfile.objects.filter(pk=1)


def _logins():
    return (
        User.objects.filter(is_active=True)
        .exclude(password__startswith="!")
        .select_related("person")
    )


def _password_changes(subjects):
    return dict(subjects.values_list("pk", "password_changed_at"))


def _contact_reviews(subjects):
    last = ContactReview.objects.aggregate(last=Max("reviewed_at"))["last"]
    return {1: last} if last else {}


def _password_history(subjects, since, until):
    # A row is written each time a password is set (the hash of old ones is blanked).
    return PasswordHistory.objects.filter(
        user__in=subjects.values("pk"), created_at__gte=since, created_at__lt=until
    ).values_list("user_id", "created_at")


def _contact_review_history(subjects, since, until):
    return [
        (1, at)
        for at in ContactReview.objects.filter(
            reviewed_at__gte=since, reviewed_at__lt=until
        ).values_list("reviewed_at", flat=True)
    ]


def _policy_review_history(subjects, since, until):
    days = (
        PolicyRevision.objects.active()
        .filter(approved_on__gte=local_date(since), approved_on__lte=local_date(until))
        .values_list("approved_on", flat=True)
    )
    return [(1, day_start(day)) for day in days if day_start(day) < until]


def _policy_reviews(subjects):
    row = (
        PolicyRevision.objects.active()
        .filter(approved_on__isnull=False)
        .aggregate(last=Max("approved_on"))
    )
    return {1: day_start(row["last"])} if row["last"] else {}


register(
    Obligation(
        key="core.password_age",
        clause="2.9.3",
        title=_("通行碼至少每三個月變更一次（A-5）"),
        subjects=_logins,
        evidence=_password_changes,
        history=_password_history,
        subject_start="date_joined",
        rhythm=Rhythm(days=settings.ISMS_PASSWORD_MAX_AGE_DAYS),
        responsible_role=SECURITY_OFFICER,
        due_soon_days=14,
        recipients=lambda state: User.objects.filter(pk=state.subject_id, is_active=True),
        evidence_url=lambda state: reverse("password_change"),
    )
)

register(
    Obligation(
        key="compliance.contacts_review",
        clause="2.10.4",
        title=_("每學期覆核資安事件通報聯絡人（A-6）"),
        subjects=_school,
        evidence=_contact_reviews,
        history=_contact_review_history,
        rhythm=Rhythm(period="semester"),
        responsible_role=SECURITY_OFFICER,
        due_soon_days=30,
        evidence_url=lambda state: reverse("core:contacts"),
    )
)

register(
    Obligation(
        key="compliance.policy_review",
        clause="9",
        title=_("每學年檢視資訊安全及管理辦法"),
        subjects=_school,
        evidence=_policy_reviews,
        history=_policy_review_history,
        rhythm=Rhythm(period="yearly"),
        responsible_role=SECURITY_OFFICER,
        due_soon_days=60,
        evidence_url=lambda state: reverse("compliance:policyrevision_add"),
    )
)


# The evidence binder ---------------------------------------------------------------------
register_records(
    Records.of(
        PolicyRevisionRegister,
        obligations=("compliance.policy_review",),
        queryset=lambda: PolicyRevision.objects.order_by("-adopted_on", "-id"),
    )
)
register_records(
    Records(
        key="compliance.contactreview",
        clause="2.10.4",
        title=_("通報聯絡人覆核紀錄"),
        queryset=lambda: ContactReview.objects.select_related("reviewed_by__person").order_by(
            "reviewed_at"
        ),
        columns=(
            Column("reviewed_at", _("覆核時間")),
            Column("reviewed_by", _("覆核者"), accessor=lambda r: r.reviewed_by.display_name),
            Column("note", _("說明")),
        ),
        date_field="reviewed_at",
        obligations=("compliance.contacts_review",),
        attachments=False,
    )
)
register_records(
    Records(
        key="core.contactentry",
        clause="2.10.4",
        title=_("資安事件通報聯絡人（A-6）"),
        queryset=lambda: ContactEntry.objects.select_related("person").order_by("order"),
        columns=(
            Column("role", _("人員")),
            Column("name", _("姓名"), accessor=lambda c: c.display_name),
            Column("phone", _("聯絡電話")),
            Column("email", _("電子郵件")),
            Column("updated_at", _("更新時間")),
        ),
        obligations=("compliance.contacts_review",),
        attachments=False,
    )
)
register_records(
    Records(
        key="core.passwordhistory",
        clause="2.9.3",
        title=_("通行碼變更紀錄"),
        queryset=lambda: PasswordHistory.objects.select_related("user__person").order_by(
            "created_at", "id"
        ),
        # Never the hash: who and when only.
        columns=(
            Column("user", _("帳號"), accessor=lambda h: h.user.username),
            Column("person", _("人員"), accessor=lambda h: h.user.display_name),
            Column("created_at", _("設定時間")),
        ),
        date_field="created_at",
        obligations=("core.password_age",),
        attachments=False,
    )
)
register_records(Records.of(UserRegister, also_clauses=("2.9.3",)))
register_records(Records.of(PersonRegister))
