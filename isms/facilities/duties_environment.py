"""The temperature and humidity duties (3.2), their worker jobs, and the sensors and alerts
in the evidence binder.

- **Readings every day** (``facilities.environment_readings``, 3.2 溫濕度控制): every active
  room with temperature-humidity monitoring (``Room.monitored``) has at least one reading
  each day (Asia/Taipei), from a sensor or entered by hand; its evidence is the moment of
  the room's latest reading (one subquery per room on the index ``room, measured_at``,
  in one query). The binder's history gives one moment per room and day, from the hourly
  roll-ups (at most 24 rows a day), never the readings themselves (a year of one-minute
  readings is half a million rows per room). Reminders go to the room's keeper and every
  active system administrator.
- **An alert dealt with** (``facilities.environment_alert``, an event duty): each excursion
  or silence alert is over — readings back in range, the sensor reporting again — within
  ``ISMS_ENV_ALERT_HOURS`` hours (default 4) of its start; its evidence is ``closed_at``.
  A reminder goes out an hour before and at the deadline, to the room's keeper and every
  active system administrator. An alert of a voided sensor or room is no longer followed
  (nothing will close it); it stays in the binder.

Worker jobs: ``facilities.silent_sensors`` (every minute: a sensor quiet for its
``silence_minutes`` opens a silence alert) and ``facilities.prune_rejections`` (with the
full refresh: the newest ``ISMS_ENV_REJECTIONS_KEPT`` refused readings are kept).

Readings are not filed in the binder as a register (far too many rows: the room chart and
its CSV are their evidence); sensors (whole) and alerts (by ``opened_at``) are.
"""

import datetime as dt

from django.conf import settings
from django.db.models import OuterRef, Subquery
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
from isms.compliance.rhythms import EVENT, Rhythm, local_date
from isms.core.roles import SYSADMIN

from . import readings
from .models import Alert, Reading, Rollup, Room

READINGS_DUTY = readings.READINGS_DUTY
ALERT_DUTY = readings.ALERT_DUTY
DEFAULT_ALERT_HOURS = 4
ALERT_REMINDERS = (dt.timedelta(hours=1),)
# The silence of a sensor is checked this often (seconds) by the worker.
SILENCE_CHECK_SECONDS = 60


def alert_hours() -> int:
    return max(int(getattr(settings, "ISMS_ENV_ALERT_HOURS", DEFAULT_ALERT_HOURS)), 1)


# Readings every day ------------------------------------------------------------------------------
def _rooms():
    """The active rooms with temperature-humidity monitoring (3.2)."""
    return Room.objects.active().filter(monitored=True)


def _latest_readings(subjects) -> dict:
    """{room pk: its latest reading's measured_at} (one query: a subquery per room that
    reads the end of the index ``room, measured_at``)."""
    latest = (
        Reading.objects.filter(room=OuterRef("pk"))
        .order_by("-measured_at")
        .values("measured_at")[:1]
    )
    rows = subjects.order_by().annotate(last=Subquery(latest)).values_list("pk", "last")
    return {pk: last for pk, last in rows if last is not None}


def _readings_history(subjects, since, until) -> list:
    """One moment per room and local day with readings in [since, until): the first hour
    of the day with a roll-up (one query over at most 24 rows a room a day)."""
    rows = (
        Rollup.objects.filter(room__in=subjects.values("pk"), hour__gte=since, hour__lt=until)
        .order_by("room_id", "hour")
        .values_list("room_id", "hour")
    )
    seen = set()
    out = []
    for room_id, hour in rows:
        mark = (room_id, local_date(hour))
        if mark not in seen:
            seen.add(mark)
            out.append((room_id, hour))
    return out


def _room_recipients(state):
    room = Room.objects.filter(pk=state.subject_id).select_related("keeper").first()
    if room is None:
        return list(readings.administrators())
    return readings.recipients(room)


def _room_url(state):
    return reverse("facilities:room_chart", args=[state.subject_id])


def _reading_add_url(state):
    return reverse("facilities:reading_add") + f"?room={state.subject_id}"


register(
    Obligation(
        key=READINGS_DUTY,
        clause="3.2",
        title=_("主機機房每日有溫濕度讀數"),
        description=_(
            "每個啟用溫濕度監控的機房或電腦教室每天至少有一筆溫濕度讀數：由感測器自動回報，"
            "或由系統管理人員、設備組長自顯示裝置讀取後登錄（條文 3.2）。"
        ),
        subjects=_rooms,
        evidence=_latest_readings,
        history=_readings_history,
        subject_start="created_at",
        rhythm=Rhythm(period="daily"),
        responsible_role=SYSADMIN,
        due_soon_days=0,
        recipients=_room_recipients,
        subject_url=_room_url,
        evidence_url=_reading_add_url,
    )
)


# Alerts dealt with -------------------------------------------------------------------------------
def _alerts():
    """Every alert (str() reads its room: joined, so the engine's queries stay constant)."""
    return Alert.objects.select_related("room")


def _followed():
    """The alerts the engine follows: not of a voided room or sensor (nothing closes those)."""
    return _alerts().filter(room__voided_at__isnull=True).exclude(sensor__voided_at__isnull=False)


def _alert_due(subjects) -> dict:
    hours = dt.timedelta(hours=alert_hours())
    return {pk: opened + hours for pk, opened in subjects.values_list("pk", "opened_at")}


def _alert_closed(subjects) -> dict:
    return dict(subjects.filter(closed_at__isnull=False).values_list("pk", "closed_at"))


def _alert_history(subjects, since, until) -> list:
    return list(
        subjects.filter(closed_at__gte=since, closed_at__lt=until).values_list("pk", "closed_at")
    )


def _alert_recipients(state):
    alert = Alert.objects.filter(pk=state.subject_id).select_related("room", "room__keeper").first()
    if alert is None:
        return list(readings.administrators())
    return readings.recipients(alert.room)


def _alert_url(state):
    return reverse("facilities:alert_detail", args=[state.subject_id])


register(
    Obligation(
        key=ALERT_DUTY,
        clause="3.2",
        title=_("溫濕度警示於期限內排除"),
        description=_(
            "機房溫濕度超出範圍或感測器未回報時，機房管理人與系統管理人員須儘速處理，"
            "於警示開始後的期限內使溫濕度恢復正常或感測器恢復回報（條文 3.2）；"
            "期限前一小時與到期時提醒。"
        ),
        subjects=pending_or_recent(_followed, "closed_at"),
        all_subjects=_alerts,
        evidence=_alert_closed,
        history=_alert_history,
        deadline=_alert_due,
        subject_start="opened_at",
        rhythm=Rhythm(period=EVENT),
        responsible_role=SYSADMIN,
        reminders=ALERT_REMINDERS,
        recipients=_alert_recipients,
        subject_url=_alert_url,
        evidence_url=_alert_url,
    )
)


# Worker jobs -------------------------------------------------------------------------------------
def _silent_sensors(now):
    readings.alert_silent(now)


def _prune_rejections(now):
    readings.prune_rejections(now)


register_job("facilities.silent_sensors", _silent_sensors, every=SILENCE_CHECK_SECONDS)
register_job("facilities.prune_rejections", _prune_rejections)


# The evidence binder -----------------------------------------------------------------------------
def _register_records():
    from .views_readings import AlertRegister, SensorRegister

    register_records(Records.of(SensorRegister, obligations=(READINGS_DUTY,)))
    register_records(Records.of(AlertRegister, date_field="opened_at", obligations=(ALERT_DUTY,)))


_register_records()
