"""The training-hours duty (5.2) and the training records in the evidence binder.

- **Training hours met by December 31** (資訊安全教育訓練, 5.2): every person a requirement
  applies to (every active staff member with a login for the requirement of everyone, the
  holders of a role for that role's) reaches, within the calendar year (Asia/Taipei), the
  hours of each requirement that applies. The engine's "yearly" is the school year, so this
  is an event duty per person: the deadline is the last second of December 31; the evidence
  is the day of the session whose attendance crossed the last requirement. Reminders go out
  60 and 14 days before the year ends and when it passes, to the person's login and the
  security officer. Through January the duty still shows the year just ended (met, or
  overdue); from February on it shows the new year.
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from isms.compliance.registry import Obligation, Records, register, register_records
from isms.compliance.rhythms import EVENT, Rhythm
from isms.core.roles import SECURITY_OFFICER

from .training import DUTY, duty_people, duty_year, met_moments, year_deadline

REMINDERS = (dt.timedelta(days=60), dt.timedelta(days=14))


def _subjects():
    return duty_people()


def _evidence(subjects) -> dict:
    return met_moments(duty_year(), subjects)


def _deadline(subjects) -> dict:
    due = year_deadline(duty_year())
    return {pk: due for pk in subjects.values_list("pk", flat=True)}


def _history(subjects, since, until) -> list:
    out = []
    for year in range(since.year, until.year + 1):
        for pk, moment in met_moments(year, subjects).items():
            if since <= moment <= until:
                out.append((pk, moment))
    return out


def _recipients(state):
    """The person's own login and every security officer."""
    return (
        get_user_model()
        .objects.filter(Q(person_id=state.subject_id) | Q(groups__name=SECURITY_OFFICER))
        .filter(is_active=True)
        .distinct()
        .order_by("pk")
    )


def _url(state):
    return f"{reverse('awareness:training_hours')}?{urlencode({'year': duty_year()})}"


register(
    Obligation(
        key=DUTY,
        clause="5.2",
        title=_("教育訓練時數：每年 12 月 31 日前達到時數要求"),
        description=_(
            "每位適用人員每年（1 月 1 日至 12 月 31 日）須完成教育訓練時數要求"
            "（全體教職員及各角色的時數與認列類別見「教育訓練時數要求」）；"
            "年底前 60 天與 14 天提醒本人與資安業務承辦人，年底未達者列為逾期（條文 5.2）。"
        ),
        subjects=_subjects,
        evidence=_evidence,
        history=_history,
        deadline=_deadline,
        rhythm=Rhythm(period=EVENT),
        responsible_role=SECURITY_OFFICER,
        reminders=REMINDERS,
        recipients=_recipients,
        subject_url=_url,
        evidence_url=_url,
    )
)


def _register_records():
    from .views_training import AttendanceRegister, RequirementRegister, SessionRegister

    register_records(Records.of(SessionRegister, date_field="held_on", obligations=(DUTY,)))
    register_records(Records.of(AttendanceRegister, date_field="created_at", obligations=(DUTY,)))
    register_records(Records.of(RequirementRegister, obligations=(DUTY,)))


_register_records()
