"""The incident duties in the compliance engine: states after each service call, reminders.

Reminders run at the defaults (ISMS_INCIDENT_REMINDER_MINUTES = 360, 15): 6 hours and
15 minutes before each deadline, and at the deadline.
"""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from isms.compliance import engine, registry
from isms.compliance.models import ObligationState
from isms.incidents import services
from isms.incidents.models import Incident, IncidentDrill
from isms.notifications.models import Notification

from .conftest import (
    CLOSING,
    HOUR,
    MINUTE,
    NOW,
    classified,
    closable,
    impacts,
    minutes_ago,
    new_incident,
    platform_report,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

REPORT = "incidents.report"
CLOSE = "incidents.close"
CHANGE = "incidents.change_report"
WARNING = "incidents.warning_answer"
IMPROVEMENT = "incidents.improvement_report"
SIX_HOURS = 6 * HOUR
QUARTER = 15 * MINUTE


def state(key, incident):
    return ObligationState.objects.filter(key=key, subject_id=str(incident.pk)).first()


def status(key, incident):
    s = state(key, incident)
    return None if s is None else (s.status, s.next_due_at)


def reminders(key, incident=None, recipient=None):
    prefix = f"obl:{key}:" + (f"{incident.pk}:" if incident is not None else "")
    rows = Notification.objects.filter(dedup_key__startswith=prefix)
    return rows.filter(recipient=recipient) if recipient is not None else rows


def test_the_duties_are_registered_as_event_deadlines():
    for key in services.DUTIES:
        obligation = registry.REGISTRY[key]
        assert obligation.rhythm.is_event and obligation.deadline is not None
        assert obligation.reminders == (dt.timedelta(minutes=360), dt.timedelta(minutes=15))
    assert registry.REGISTRY["incidents.drill"].rhythm.period == "yearly"


class TestStatesFollowTheServices:
    def test_the_report_duty_runs_from_discovery(self, officer, clock):
        discovered = minutes_ago(30)
        incident = new_incident(officer, discovered_at=discovered)
        # 30 minutes in: 6 h before the 1-hour deadline has passed, so it is due soon.
        assert status(REPORT, incident) == ("due_soon", discovered + HOUR)
        assert status(CLOSE, incident) == ("ok", discovered + 72 * HOUR)
        for key in (CHANGE, WARNING, IMPROVEMENT):
            assert state(key, incident) is None

        clock.move_to(discovered + HOUR)
        engine.run_due()
        assert status(REPORT, incident) == ("overdue", discovered + HOUR)

        clock.move_to(discovered + HOUR + 10 * MINUTE)
        incident = platform_report(incident, officer, at=discovered + HOUR + 5 * MINUTE)
        s = state(REPORT, incident)
        assert s.status == "ok" and s.last_done_at == discovered + HOUR + 5 * MINUTE

    def test_a_report_in_time_is_ok_at_once(self, officer):
        incident = platform_report(new_incident(officer), officer, at=NOW)
        s = state(REPORT, incident)
        assert (s.status, s.last_done_at, s.next_due_at) == ("ok", NOW, minutes_ago(20) + HOUR)

    def test_the_close_duty_follows_the_level_and_ends_with_the_close(self, officer, clock):
        incident = closable(officer, level=2)
        assert status(CLOSE, incident) == ("ok", minutes_ago(20) + 72 * HOUR)
        incident = services.update(incident, actor=officer, **impacts(3))
        assert status(CLOSE, incident) == ("ok", minutes_ago(20) + 36 * HOUR)

        # 36 h − 6 h after discovery the close is due soon; at 36 h it is overdue.
        clock.move_to(minutes_ago(20) + 30 * HOUR)
        engine.refresh(CLOSE)
        assert status(CLOSE, incident) == ("due_soon", minutes_ago(20) + 36 * HOUR)
        incident = services.update(incident, actor=officer, **impacts(2))
        assert status(CLOSE, incident) == ("ok", minutes_ago(20) + 72 * HOUR)

        services.record_change_report(incident, actor=officer, at=timezone.now())
        closed_at = timezone.now()
        incident = services.close(incident, actor=officer, **CLOSING)
        s = state(CLOSE, incident)
        assert s.status == "ok" and s.last_done_at == closed_at

    def test_a_done_incident_leaves_the_engine_after_30_days_but_not_the_binder(
        self, officer, clock
    ):
        from isms.compliance import coverage

        incident = services.close(closable(officer, level=1), actor=officer, **CLOSING)
        clock.move_to(NOW + dt.timedelta(days=29))
        engine.refresh()
        assert state(CLOSE, incident) is not None and state(REPORT, incident) is not None
        clock.move_to(NOW + dt.timedelta(days=31))
        engine.refresh()
        assert state(CLOSE, incident) is None and state(REPORT, incident) is None
        # The binder still looks back at it: it was closed within its deadline.
        local = timezone.localdate(NOW)
        result = coverage.coverage(
            registry.REGISTRY[CLOSE], local - dt.timedelta(days=5), local + dt.timedelta(days=5)
        )
        (row,) = [r for r in result.subjects if r.subject_id == str(incident.pk)]
        assert (row.periods, row.kept) == (1, 1)

    def test_the_change_report_duty_opens_after_a_change_past_the_report(self, officer, clock):
        incident = classified(officer, level=1)
        incident = services.update(incident, actor=officer, **impacts(2))
        assert state(CHANGE, incident) is None  # changed before the platform report
        incident = platform_report(incident, officer, at=NOW)

        changed = NOW + 3 * HOUR
        clock.move_to(changed)
        incident = services.update(incident, actor=officer, **impacts(3))
        assert status(CHANGE, incident) == ("due_soon", changed + HOUR)

        clock.move_to(changed + HOUR)
        engine.run_due()
        assert status(CHANGE, incident) == ("overdue", changed + HOUR)

        clock.move_to(changed + 70 * MINUTE)
        services.record_change_report(incident, actor=officer, at=changed + 65 * MINUTE)
        s = state(CHANGE, incident)
        assert s.status == "ok" and s.last_done_at == changed + 65 * MINUTE

    def test_the_warning_answer_is_due_72_hours_after_receipt(self, officer, clock):
        incident = new_incident(officer, source="warning", title="預警：疑似中繼站")
        due = minutes_ago(20) + 72 * HOUR
        assert status(WARNING, incident) == ("ok", due)
        clock.move_to(due - SIX_HOURS)
        engine.run_due()
        assert status(WARNING, incident) == ("due_soon", due)
        services.answer_warning(incident, actor=officer, answer="false_positive", reason="誤判")
        s = state(WARNING, incident)
        assert s.status == "ok" and s.last_done_at == due - SIX_HOURS
        assert state(WARNING, new_incident(officer, source="notified")) is None

    def test_the_improvement_report_follows_a_close_that_requires_it(self, officer, clock):
        plain = services.close(closable(officer), actor=officer, **CLOSING)
        assert state(IMPROVEMENT, plain) is None

        incident = services.close(
            closable(officer), actor=officer, improvement_required=True, **CLOSING
        )
        due = NOW + dt.timedelta(days=30)
        assert status(IMPROVEMENT, incident) == ("ok", due)
        clock.move_to(due + MINUTE)
        engine.refresh(IMPROVEMENT)
        assert status(IMPROVEMENT, incident) == ("overdue", due)
        services.record_improvement(incident, actor=officer, summary="已更新所有外掛並建立稽核")
        s = state(IMPROVEMENT, incident)
        assert s.status == "ok" and s.last_done_at == due + MINUTE

    def test_a_dismissed_or_voided_incident_has_no_duties(self, officer):
        dismissed = new_incident(officer, source="warning")
        voided = new_incident(officer)
        assert state(REPORT, dismissed) and state(WARNING, dismissed)
        services.dismiss(dismissed, actor=officer, reason="同仁誤報")
        for key in services.DUTIES:
            assert state(key, dismissed) is None
        Incident.objects.filter(pk=voided.pk).update(voided_at=NOW, void_reason="重複建檔")
        services.refresh_duties()
        for key in services.DUTIES:
            assert state(key, voided) is None

    def test_query_count_of_the_close_refresh_does_not_grow_with_incidents(self, officer):
        for _i in range(2):
            new_incident(officer)
        engine.refresh(CLOSE)
        with CaptureQueriesContext(connection) as few:
            engine.refresh(CLOSE)
        for i in range(25):
            new_incident(officer, title=f"事件 {i}", **impacts(i % 5))
        engine.refresh(CLOSE)
        with CaptureQueriesContext(connection) as many:
            engine.refresh(CLOSE)
        assert ObligationState.objects.filter(key=CLOSE).count() == 27
        assert len(many) == len(few)


class TestReminders:
    def test_one_close_reminder_per_officer_at_each_point(self, people, clock):
        incident = closable(people.officer, level=2)
        due = incident.close_due_at
        officers = {people.officer, people.officer2}
        expected = 0
        for moment, points_passed in [
            (NOW + MINUTE, 0),
            (due - SIX_HOURS - MINUTE, 0),
            (due - SIX_HOURS, 1),
            (due - SIX_HOURS + 30 * MINUTE, 1),
            (due - QUARTER - MINUTE, 1),
            (due - QUARTER, 2),
            (due - 5 * MINUTE, 2),
            (due, 3),
            (due + HOUR, 3),
            (due + dt.timedelta(days=3), 3),
        ]:
            clock.move_to(moment)
            engine.run_due()
            engine.run_due()  # a second worker pass at the same moment adds nothing
            expected = points_passed * len(officers)
            assert reminders(CLOSE, incident).count() == expected, moment
        for person in officers:
            mine = reminders(CLOSE, incident, person)
            assert mine.count() == 3
            assert [n.dedup_key.split(":")[3] for n in mine.order_by("id")] == [
                "due_soon",
                "due_soon",
                "overdue",
            ]
            assert [n.urgent for n in mine.order_by("id")] == [False, False, True]
        assert not reminders(CLOSE).exclude(recipient__in=officers).exists()

    def test_report_reminders_at_each_point_and_none_once_reported(self, people, clock):
        incident = new_incident(people.officer)  # discovered 20 minutes ago
        due = incident.report_due_at
        engine.run_due()
        # The 6-hour point is already past: one reminder each at once.
        assert reminders(REPORT, incident).count() == 2
        clock.move_to(due - QUARTER)
        engine.run_due()
        assert reminders(REPORT, incident).count() == 4
        clock.move_to(due)
        engine.run_due()
        assert reminders(REPORT, incident).count() == 6
        assert {n.recipient for n in reminders(REPORT, incident)} == {
            people.officer,
            people.officer2,
        }

        other = new_incident(people.officer, title="另一事件")
        engine.run_due()
        assert reminders(REPORT, other).count() == 2
        platform_report(other, people.officer, at=timezone.now())
        for moment in (other.report_due_at - QUARTER, other.report_due_at, due + HOUR):
            clock.move_to(moment)
            engine.run_due()
        assert reminders(REPORT, other).count() == 2

    def test_no_close_reminder_once_closed(self, people, clock):
        incident = closable(people.officer, level=3)
        for step in incident.steps.all():
            services.complete_step(step, actor=people.officer)
        clock.move_to(NOW + HOUR)
        engine.run_due()
        services.close(incident, actor=people.officer, **CLOSING)
        due = incident.close_due_at
        for moment in (due - SIX_HOURS, due - QUARTER, due, due + HOUR):
            clock.move_to(moment)
            engine.run_due()
        assert not reminders(CLOSE, incident).exists()
        assert state(CLOSE, incident).status == "ok"

    def test_change_report_reminders_stop_once_the_change_is_reported(self, people, clock):
        incident = closable(people.officer, level=2)
        clock.move_to(NOW + HOUR)
        incident = services.update(incident, actor=people.officer, **impacts(3))
        due = incident.change_report_due_at
        engine.run_due()
        assert reminders(CHANGE, incident).count() == 2  # the 6-hour point is already past
        clock.move_to(due - QUARTER)
        engine.run_due()
        assert reminders(CHANGE, incident).count() == 4
        services.record_change_report(incident, actor=people.officer, at=timezone.now())
        for moment in (due, due + HOUR):
            clock.move_to(moment)
            engine.run_due()
        assert reminders(CHANGE, incident).count() == 4


class TestDrill:
    def test_the_yearly_drill_duty_turns_ok_after_a_drill(
        self, officer, django_capture_on_commit_callbacks
    ):
        engine.refresh("incidents.drill")
        before = ObligationState.objects.get(key="incidents.drill")
        assert before.status in ("never_done", "overdue", "due_soon")
        with django_capture_on_commit_callbacks(execute=True):  # the save refreshes the duty
            IncidentDrill.objects.create(
                held_on=timezone.localdate(), scenario="勒索軟體感染行政電腦", participants="資訊組"
            )
        after = ObligationState.objects.get(key="incidents.drill")
        assert after.status == "ok"
        assert timezone.localtime(after.last_done_at).date() == timezone.localdate()
        # A voided drill is no evidence.
        IncidentDrill.objects.update(voided_at=NOW, void_reason="誤植")
        engine.refresh("incidents.drill")
        assert ObligationState.objects.get(key="incidents.drill").status != "ok"
