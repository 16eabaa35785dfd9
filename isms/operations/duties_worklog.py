"""The work-log duty (2.5.1, A-2) and the work log in the evidence binder.

- **Work log reviewed** (2.5.1, A-2 「主管覆核」): each entry, by hand or imported from the
  repair-request system, not voided, is reviewed by the supervisor by the end (23:59:59,
  Asia/Taipei) of the ``ISMS_WORKLOG_REVIEW_DAYS``-th day (default 14) after the day of
  its 操作日期 — an entry of 115/11/28 14:05 is due 115/12/12 23:59:59. Until then nobody
  has looked at what was done to the system. A reminder goes out 3 days before the due
  moment and when it passes; a reviewed entry is ok and leaves the dashboard 30 days later,
  a voided entry at once.
"""

import datetime as dt

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.compliance.registry import (
    Obligation,
    Records,
    pending_or_recent,
    register,
    register_records,
)
from isms.compliance.rhythms import EVENT, LAST_SECOND, Rhythm, day_start, local_date
from isms.core.roles import SUPERVISOR

from .models import WorkLogEntry
from .worklog import DUTY

DEFAULT_REVIEW_DAYS = 14


def review_days() -> int:
    return getattr(settings, "ISMS_WORKLOG_REVIEW_DAYS", DEFAULT_REVIEW_DAYS)


def _entries():
    # str(entry) reads its system: joined, so the engine's queries stay constant.
    return WorkLogEntry.objects.active().select_related("system")


def _review_due(subjects) -> dict:
    """The end of the N-th day after the local day of the 操作日期 (Asia/Taipei)."""
    days = dt.timedelta(days=review_days() + 1)
    return {
        pk: day_start(local_date(operated_at) + days) - LAST_SECOND
        for pk, operated_at in subjects.values_list("pk", "operated_at")
    }


def _entry_url(state):
    return reverse("operations:worklogentry_detail", args=[state.subject_id])


register(
    Obligation(
        key=DUTY,
        clause="2.5.1",
        title=_("資訊工作日誌於期限內經主管覆核（A-2）"),
        description=_(
            "系統管理人員的檢查、維護、更新紀錄（含報修系統匯入的報修單）須經主管覆核，"
            "作為日後查核的依據（條文 2.5.1、A-2）。"
        ),
        subjects=pending_or_recent(_entries, "reviewed_at"),
        all_subjects=_entries,
        evidence=lambda subjects: dict(
            subjects.filter(reviewed_at__isnull=False).values_list("pk", "reviewed_at")
        ),
        history=lambda subjects, since, until: list(
            subjects.filter(reviewed_at__gte=since, reviewed_at__lt=until).values_list(
                "pk", "reviewed_at"
            )
        ),
        deadline=_review_due,
        rhythm=Rhythm(period=EVENT),
        responsible_role=SUPERVISOR,
        reminders=(dt.timedelta(days=3),),
        subject_url=_entry_url,
        evidence_url=_entry_url,
    )
)


def _register_records():
    from .views_worklog import WorkLogEntryRegister

    register_records(
        Records.of(WorkLogEntryRegister, date_field="operated_at", obligations=(DUTY,))
    )


_register_records()
