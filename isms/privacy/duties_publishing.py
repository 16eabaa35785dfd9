"""The publishing duty (clause 7.4) and the notices' and approvals' records in the evidence
binder.

``privacy.publishing_expiry``: each approved publication (not voided) is taken off the page
by the end (23:59:59 Asia/Taipei) of its publish_until day; the evidence is its 下架 time
(``removed_at``). Reminders go ``ISMS_PUBLISHING_REMIND_DAYS`` days (read when the engine
evaluates, so a school's setting applies without a restart) and one day before the end,
and once when it has passed, to the requester and the unit's head. A publication taken
down leaves the dashboard 30 days later (``pending_or_recent``); the binder looks back
over all of them.

Every read is one query for all subjects.
"""

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.compliance.registry import (
    Obligation,
    Records,
    pending_or_recent,
    register,
    register_records,
)
from isms.compliance.rhythms import EVENT, Rhythm
from isms.core.roles import SECURITY_OFFICER

from . import publishing
from .models import PublishingApproval

DUTY = publishing.DUTY


class RemindDays:
    """The reminder offsets, read from the settings each time the engine asks (the
    obligation is declared once, at start-up; tests and schools change the setting)."""

    def __iter__(self):
        days = max(int(settings.ISMS_PUBLISHING_REMIND_DAYS), 0)
        yield from {dt.timedelta(days=days), dt.timedelta(days=1)}

    def __repr__(self):
        return "RemindDays(ISMS_PUBLISHING_REMIND_DAYS, 1 day)"


REMINDERS = RemindDays()


def _approved():
    """Every publication approved and not voided (taken down or not)."""
    return (
        PublishingApproval.objects.active()
        .filter(status__in=[PublishingApproval.Status.APPROVED, PublishingApproval.Status.REMOVED])
        .select_related("unit")
    )


def _removed(subjects) -> dict:
    return dict(subjects.filter(removed_at__isnull=False).values_list("pk", "removed_at"))


def _due(subjects) -> dict:
    return {
        pk: publishing.due_moment(until)
        for pk, until in subjects.values_list("pk", "publish_until")
    }


def _history(subjects, since, until) -> list:
    return list(
        subjects.filter(removed_at__gte=since, removed_at__lte=until).values_list(
            "pk", "removed_at"
        )
    )


def _recipients(state):
    """The requester and the unit's head (their logins, while active)."""
    from isms.awareness.models import OfficeHead

    row = (
        PublishingApproval.objects.filter(pk=state.subject_id)
        .values_list("requested_by_id", "unit_id")
        .first()
    )
    if row is None:
        return get_user_model().objects.none()
    requester, unit = row
    head = OfficeHead.objects.filter(unit_id=unit).values("user_id")
    return (
        get_user_model().objects.filter(Q(pk=requester) | Q(pk__in=head), is_active=True).distinct()
    )


def _url(state):
    return reverse("privacy:publishingapproval_detail", args=[state.subject_id])


register(
    Obligation(
        key=DUTY,
        clause="7.4",
        title=_("網頁公布的個人資料於公布期限屆滿時下架"),
        subjects=pending_or_recent(_approved, "removed_at"),
        all_subjects=_approved,
        evidence=_removed,
        deadline=_due,
        history=_history,
        subject_start="decided_at",
        rhythm=Rhythm(period=EVENT),
        responsible_role=SECURITY_OFFICER,
        reminders=REMINDERS,
        recipients=_recipients,
        subject_url=_url,
        evidence_url=_url,
        description=_(
            "經單位主管核准於網頁公布的個人資料，須於核准的公布期限（當天 23:59 前）下架，"
            "並登錄下架時間（條文 7.4）；期限前提醒申請人與單位主管，逾期未下架列為逾期。"
        ),
    )
)


def _register_records():
    from .views_notices import NoticeRegister
    from .views_publishing import BINDER_COLUMNS, PublishingRegister

    register_records(Records.of(PublishingRegister, columns=BINDER_COLUMNS, obligations=(DUTY,)))
    # The notices have no duty of their own (nor a duties module): filed here, whole.
    register_records(Records.of(NoticeRegister))


_register_records()
