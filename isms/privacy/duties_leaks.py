"""The leak-notice duty (PDPA art. 12; clause 7.2) and the notifications in the evidence
binder.

- **People told of a leak** (``privacy.leak_notice``): every security incident of category
  個資外洩, not voided and not judged 非資安事件 (``leaks.needs_notice``), has its
  notification recorded within ``ISMS_LEAK_NOTICE_HOURS`` (72) of its 知悉時間
  (``discovered_at``), to the minute. The evidence is the notification's ``notified_at``.
  Filed under clause 7.2 (不得任意蒐集或洩露個資): the policy has no clause of its own for
  art. 12 and 7.2 is the one a leak breaks. Reminders to the security officers a day and
  four hours before, and when it passes.
- An incident whose category changes away from 個資外洩 (or that is voided or dismissed)
  is no longer a subject: its state goes at the next refresh (a notification recorded,
  the worker's full refresh every few minutes).
"""

import datetime as dt

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

from .leaks import CLAUSE, DUTY, needs_notice, notice_due

REMINDERS = (dt.timedelta(hours=24), dt.timedelta(hours=4))
DONE = "leak_notification__notified_at"


def _notified(subjects) -> dict:
    return dict(subjects.filter(leak_notification__isnull=False).values_list("pk", DONE))


def _history(subjects, since, until) -> list:
    return list(
        subjects.filter(Q(**{f"{DONE}__gte": since}) & Q(**{f"{DONE}__lt": until})).values_list(
            "pk", DONE
        )
    )


def _due(subjects) -> dict:
    return {pk: notice_due(at) for pk, at in subjects.values_list("pk", "discovered_at")}


def _evidence_url(state):
    return reverse("privacy:leak_for_incident", args=[state.subject_id])


def _subject_url(state):
    return reverse("incidents:incident_detail", args=[state.subject_id])


register(
    Obligation(
        key=DUTY,
        clause=CLAUSE,
        title=_("個資外洩事件通知當事人（個人資料保護法第 12 條）"),
        description=_(
            "個人資料被竊取、洩漏、竄改或其他侵害者，應查明後以適當方式通知當事人，"
            "內容包括被侵害之事實、已採取之因應措施及諮詢服務專線（個人資料保護法第 12 條、"
            "施行細則第 22 條）：事件類型為「個資外洩」的資安事件，於知悉後期限內登錄通知。"
        ),
        subjects=pending_or_recent(needs_notice, DONE),
        all_subjects=needs_notice,
        evidence=_notified,
        history=_history,
        deadline=_due,
        subject_start="discovered_at",
        rhythm=Rhythm(period=EVENT),
        responsible_role=SECURITY_OFFICER,
        reminders=REMINDERS,
        subject_url=_subject_url,
        evidence_url=_evidence_url,
    )
)


def _register_records():
    from .views_leaks import LeakRegister

    register_records(Records.of(LeakRegister, date_field="notified_at", obligations=(DUTY,)))


_register_records()
