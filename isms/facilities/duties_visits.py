"""The server-room visit duty (3.1.3) and the access log in the evidence binder.

- **Visit closed the same day** (3.1.3 門禁管制, 人員進出資訊機房登記表): every visit not
  voided is closed — the exit recorded and the guard's confirmation that the key came back
  (守衛室簽名確認鑰匙繳回) — by the end of its entry day (midnight, Asia/Taipei). A visit
  still open then means the room may be open or its key out. A reminder goes out an hour
  before midnight and when it passes, to whoever recorded the visit, its escort and, while
  the key is not back, every active guard. A closed visit is ok and leaves the dashboard
  30 days later, a voided one at once.
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.db.models import Case, DateTimeField, Q, When
from django.db.models.functions import Greatest
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
from isms.core.roles import GUARD, SYSADMIN

from .models import Visit
from .visits import DUTY, day_end

REMINDERS = (dt.timedelta(hours=1),)


def _visits():
    """Visits not voided, each with the moment it was closed (``closed_at``): the later of
    its exit and the key's return, when both are there."""
    return Visit.objects.active().annotate(
        closed_at=Case(
            When(
                exited_at__isnull=False,
                key_returned_at__isnull=False,
                then=Greatest("exited_at", "key_returned_at"),
            ),
            default=None,
            output_field=DateTimeField(),
        )
    )


def _closed(subjects) -> dict:
    return dict(subjects.filter(closed_at__isnull=False).values_list("pk", "closed_at"))


def _history(subjects, since, until) -> list:
    return list(
        subjects.filter(closed_at__gte=since, closed_at__lt=until).values_list("pk", "closed_at")
    )


def _due(subjects) -> dict:
    """The local midnight after the entry (Asia/Taipei)."""
    return {pk: day_end(entered_at) for pk, entered_at in subjects.values_list("pk", "entered_at")}


def _recipients(state):
    """Who recorded the visit, its escort and — while the key is not back — every guard."""
    row = (
        Visit.objects.filter(pk=state.subject_id)
        .values_list("recorded_by_id", "escort_id", "key_returned_at")
        .first()
    )
    if row is None:
        return get_user_model().objects.none()
    recorder, escort, key_back = row
    people = Q(pk__in=[pk for pk in (recorder, escort) if pk is not None])
    if key_back is None:
        people |= Q(groups__name=GUARD)
    return get_user_model().objects.filter(people, is_active=True).distinct().order_by("pk")


def _url(state):
    return reverse("facilities:visit_detail", args=[state.subject_id])


register(
    Obligation(
        key=DUTY,
        clause="3.1.3",
        title=_("機房進出當日結束：登錄離去並由守衛室確認鑰匙繳回"),
        description=_(
            "人員進出資訊機房須登錄進入與離去時間，並由守衛室簽名確認鑰匙繳回；"
            "當天（午夜前）未結束的進出紀錄提醒登錄者、陪同人員與守衛室"
            "（條文 3.1.3 門禁管制、人員進出資訊機房登記表）。"
        ),
        subjects=pending_or_recent(_visits, "closed_at"),
        all_subjects=_visits,
        evidence=_closed,
        history=_history,
        deadline=_due,
        subject_start="entered_at",
        rhythm=Rhythm(period=EVENT),
        responsible_role=SYSADMIN,
        reminders=REMINDERS,
        recipients=_recipients,
        subject_url=_url,
        evidence_url=_url,
    )
)


def _register_records():
    from .views_visits import VisitRegister

    register_records(Records.of(VisitRegister, date_field="entered_at", obligations=(DUTY,)))


_register_records()
