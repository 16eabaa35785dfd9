"""The foundation's own duties: password age (A-5), the A-6 table, the yearly policy review."""

from django.conf import settings
from django.db.models import Max
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.core.models import SchoolProfile, User
from isms.core.roles import SECURITY_OFFICER

from .models import ContactReview, PolicyRevision
from .registry import Obligation, register
from .rhythms import Rhythm, day_start


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
        rhythm=Rhythm(period="yearly"),
        responsible_role=SECURITY_OFFICER,
        due_soon_days=60,
        evidence_url=lambda state: reverse("compliance:policyrevision_add"),
    )
)
