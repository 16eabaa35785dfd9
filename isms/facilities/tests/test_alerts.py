"""Alerts (3.2): the excursion list for every role (read-only: opened and closed by the
readings and the worker), the alert's page and its acknowledgement, and the two duties
(a reading every day in each monitored room; an alert over within ISMS_ENV_ALERT_HOURS)
with frozen time."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from isms.audit.models import AuditEntry
from isms.compliance import engine, registry
from isms.compliance.models import ObligationState
from isms.core import services as core_services
from isms.core.roles import (
    EQUIPMENT_HEAD,
    PRINCIPAL,
    SECURITY_OFFICER,
    STAFF,
    SYSADMIN,
)
from isms.core.testing import ROLE_CASES, RegisterContract, roles_for
from isms.facilities import readings
from isms.facilities.models import Alert, Reading, Rollup, Room, Sensor
from isms.facilities.views_readings import AlertRegister, duration_text

from .helpers import (  # noqa: F401
    MINUTE,
    NOW,
    READERS,
    RECORDERS,
    _frozen,
    login,
    room_of,
    sensor_of,
    user,
)

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
Kind = Alert.Kind
READINGS_DUTY = "facilities.environment_readings"
ALERT_DUTY = "facilities.environment_alert"
# 115/11/29 23:59:59 Taipei, the end of the day of NOW.
DAY_END = dt.datetime(2026, 11, 29, 15, 59, 59, tzinfo=dt.UTC)
# Minutes from NOW to the first second of 115/12/01 (Taipei).
DAY_END_MINUTES = int((DAY_END + dt.timedelta(days=1, seconds=1) - NOW).total_seconds() // 60)


def feed(sensor, *values, source=Reading.Source.HTTP):
    """Readings of the sensor: (minutes before NOW, temperature, humidity) each."""
    return readings.ingest(
        [
            {
                "sensor": sensor.code,
                "measured_at": (NOW - minutes * MINUTE).isoformat(),
                "temperature_c": t,
                "humidity_pct": h,
            }
            for minutes, t, h in values
        ],
        source=source,
    )


def state_of(key, obj):
    return ObligationState.objects.filter(key=key, subject_id=str(obj.pk)).first()


@pytest.fixture
def admin():
    return user("admin", SYSADMIN)


@pytest.fixture
def keeper():
    return user("keeper", EQUIPMENT_HEAD)


@pytest.fixture
def room(keeper):
    return room_of(keeper)


@pytest.fixture
def sensor(admin, room):
    return sensor_of(admin, room, "srv-room-1", name="機櫃前")


@pytest.fixture
def excursion(sensor):
    feed(sensor, (30, 22, 60), (20, 28.5, 60), (10, 29.1, 75))
    return Alert.objects.get(kind=Kind.EXCURSION)


# The register: read-only pages and API for every role --------------------------------------------
class TestAlertRegister(RegisterContract):
    register = AlertRegister
    api_prefix = "environment-alerts"
    readers = READERS
    writers = frozenset()

    def room(self):
        admin = user("contract-admin", SYSADMIN)
        return Room.objects.filter(name="契約機房").first() or room_of(admin, "契約機房")

    def make_sample(self, **overrides):
        n = Alert.objects.count() + 1
        values = {
            "room": self.room(),
            "kind": Kind.EXCURSION,
            "scope": f"room:test-{n}",
            "opened_at": NOW - n * HOUR,
            "closed_at": NOW - n * HOUR + 20 * MINUTE if n % 2 else None,
            "temperature_low": 26.0,
            "temperature_high": 28.4,
            "readings_out": 3,
            "reason": "溫度 26°C 高於 25°C",
        }
        values.update(overrides)
        return Alert.objects.create(**values)

    # Alerts are opened and closed by readings and the worker: no add, edit or void.
    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_edit_answers_by_role(self, role, client_for):
        obj = self.make_sample()
        for view in ("add", "edit", "void"):
            with pytest.raises(NoReverseMatch):
                self.url(view, obj.pk) if view != "add" else self.url(view)
        c = client_for(*roles_for(role))
        assert c.get(f"/facilities/alerts/{obj.pk}/edit/").status_code == 404
        assert c.get("/facilities/alerts/add/").status_code == 404

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_add_page_answers_by_role(self, role, client_for):
        # No add page for anyone: alerts come from readings and the worker.
        assert client_for(*roles_for(role)).get("/facilities/alerts/add/").status_code == 404

    def test_add_saves_one_record_with_one_audit_entry(self, client_for):
        assert "post" not in self._api_methods()

    def test_add_refuses_bad_input_and_saves_nothing(self, client_for):
        c = self.api_client(client_for, SYSADMIN)
        count = Alert.objects.count()
        response = c.post(self.api_url(), "{}", content_type="application/json")
        assert response.status_code in (403, 405) and Alert.objects.count() == count

    def test_edit_writes_one_audit_entry_with_before_and_after(self, client_for):
        obj = self.make_sample()
        c = self.api_client(client_for, SYSADMIN)
        entries = self.entries()
        for method in (c.put, c.patch, c.delete):
            response = method(self.api_url(obj.pk), "{}", content_type="application/json")
            assert response.status_code in (403, 405)
        assert self.entries() == entries

    def test_edit_refuses_bad_input_and_changes_nothing(self, client_for):
        assert AlertRegister.form_class is None and not AlertRegister.voidable()


# The list and the alert's page -------------------------------------------------------------------
class TestAlertPages:
    def test_the_list_shows_the_excursion_and_the_silence(self, admin, sensor, excursion):
        Sensor.objects.filter(pk=sensor.pk).update(created_at=NOW - 2 * HOUR)
        quiet = sensor_of(admin, sensor.room, "srv-quiet")
        Sensor.objects.filter(pk=quiet.pk).update(created_at=NOW - 2 * HOUR)
        assert readings.alert_silent(NOW) == 1
        html = login(admin).get(reverse("facilities:alert_list")).content.decode()
        row = html[html.index(f'href="{excursion.get_absolute_url()}"') :].split("</tr>")[0]
        assert "溫濕度超出範圍" in row and "srv-room-1" in row and "進行中" in row
        assert "溫度 28.5～29.1°C；濕度 60.0～75.0%RH" in row
        assert "<td>2</td>" in row and "未確認" in row and "20 分" in row
        assert "感測器未回報" in html and "srv-quiet" in html

    def test_filters_open_closed_kind_room_and_dates(self, admin, sensor, excursion):
        feed(sensor, (5, 22, 60))  # back in range: closed
        feed(sensor, (3, 30, 60))  # a new one, open
        c = login(admin)
        url = reverse("facilities:alert_list")

        def count(**params):
            return c.get(url, params).content.decode().count("<tr><td><a href=")

        assert count() == 2
        assert count(state="open") == 1 and count(state="closed") == 1
        assert count(kind="silence") == 0 and count(kind="excursion") == 2
        assert count(room=sensor.room.pk) == 2
        assert count(opened_from="115/11/29") == 2 and count(opened_to="115/11/28") == 0
        assert count(acknowledged="no") == 2

    def test_the_page_links_the_rooms_chart_of_its_day(self, admin, excursion):
        html = login(admin).get(excursion.get_absolute_url()).content.decode()
        chart = reverse("facilities:room_chart", args=[excursion.room_id])
        assert f'href="{chart}?range=day&amp;end=115%2F11%2F29"' in html
        assert "data-chart" in html and 'id="acknowledge"' in html

    def test_durations(self):
        assert duration_text(NOW - 20 * MINUTE, None) == "20 分"
        assert duration_text(NOW - 3 * HOUR - 5 * MINUTE, NOW) == "3 小時 05 分"
        assert duration_text(NOW - 2 * DAY - 3 * HOUR, NOW) == "2 天 3 小時"


# Acknowledging an alert --------------------------------------------------------------------------
class TestAcknowledge:
    def url(self, alert):
        return reverse("facilities:alert_acknowledge", args=[alert.pk])

    def test_the_keeper_acknowledges_with_a_note(self, keeper, excursion):
        c = login(keeper)
        entries = AuditEntry.objects.count()
        response = c.post(self.url(excursion), {"note": "已請廠商檢修空調"})
        assert response.status_code == 302
        excursion.refresh_from_db()
        assert excursion.acknowledged_by == keeper and excursion.note == "已請廠商檢修空調"
        assert excursion.acknowledged_at == NOW and excursion.closed_at is None
        assert AuditEntry.objects.count() == entries + 1
        entry = AuditEntry.objects.order_by("-id").first()
        assert entry.actor_id == keeper.pk and entry.object_id == str(excursion.pk)
        html = c.get(excursion.get_absolute_url()).content.decode()
        assert "已請廠商檢修空調" in html and 'id="acknowledge"' not in html

    def test_a_note_is_required(self, admin, excursion):
        response = login(admin).post(self.url(excursion), {"note": "  "})
        assert response.status_code == 400
        assert "請寫明處理情形" in response.content.decode()
        excursion.refresh_from_db()
        assert excursion.acknowledged_at is None

    def test_an_alert_is_acknowledged_once(self, admin, keeper, excursion):
        readings.acknowledge(excursion, note="已開除濕機", actor=keeper)
        response = login(admin).post(self.url(excursion), {"note": "再確認"})
        assert response.status_code == 400 and "此警示已確認" in response.content.decode()
        excursion.refresh_from_db()
        assert excursion.note == "已開除濕機" and excursion.acknowledged_by == keeper

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_who_acknowledges(self, role, client_for, excursion):
        c = client_for(*roles_for(role))
        response = c.post(self.url(excursion), {"note": "已處理"})
        excursion.refresh_from_db()
        if role in RECORDERS:
            assert response.status_code == 302 and excursion.acknowledged_at is not None
        else:
            assert response.status_code == 403 and excursion.acknowledged_at is None

    def test_readers_see_no_form(self, excursion):
        html = login(user("boss", PRINCIPAL)).get(excursion.get_absolute_url()).content.decode()
        assert "alert_acknowledge" not in html and 'name="note"' not in html


# The duty of a reading every day (3.2) -----------------------------------------------------------
class TestReadingsDuty:
    def test_a_room_without_readings_today_is_overdue_after_midnight(self, admin, sensor, room):
        engine.refresh(READINGS_DUTY)
        state = state_of(READINGS_DUTY, room)
        assert state.status == "never_done" and state.clause == "3.2"
        assert state.responsible_role == SYSADMIN
        feed(sensor, (30, 22, 60))
        engine.refresh(READINGS_DUTY)
        state = state_of(READINGS_DUTY, room)
        assert state.status == "ok" and state.last_done_at == NOW - 30 * MINUTE
        # Done today: the duty asks for one tomorrow, by its end.
        assert state.next_due_at == DAY_END + DAY
        # Tomorrow (115/11/30) passes without a reading: overdue at its end, not before.
        for moment, expected in (
            (DAY_END + dt.timedelta(seconds=1), "ok"),
            (DAY_END + DAY, "ok"),
            (DAY_END + DAY + dt.timedelta(seconds=1), "overdue"),
        ):
            with time_machine.travel(moment, tick=False):
                engine.refresh(READINGS_DUTY)
                assert state_of(READINGS_DUTY, room).status == expected, moment
        with time_machine.travel(DAY_END + DAY + HOUR, tick=False):
            feed(sensor, (-DAY_END_MINUTES - 60, 22, 60))
            engine.refresh(READINGS_DUTY)
            assert state_of(READINGS_DUTY, room).status == "ok"

    def test_a_reading_by_hand_counts(self, admin, room):
        reading = Reading(room=room, measured_at=NOW - HOUR, temperature_c=23)
        readings.record_manual(reading, actor=admin)
        state = state_of(READINGS_DUTY, room)  # the service refreshed the duty
        assert state.status == "ok" and state.last_done_at == NOW - HOUR

    def test_rooms_not_monitored_or_voided_have_no_duty(self, admin, keeper, room):
        quiet = room_of(keeper, "電腦教室", monitored=False)
        gone = room_of(keeper, "舊機房")
        core_services.record_void(gone, actor=admin, reason="裁撤")
        engine.refresh(READINGS_DUTY)
        assert state_of(READINGS_DUTY, room) is not None
        assert state_of(READINGS_DUTY, quiet) is None and state_of(READINGS_DUTY, gone) is None

    def test_evidence_is_one_query_for_all_rooms(self, admin, keeper):
        rooms = [room_of(keeper, f"機房{n}") for n in range(3)]
        for n, r in enumerate(rooms):
            feed(sensor_of(admin, r, f"s{n}"), (10 + n, 22, 60), (5, 22, 60))
        ob = registry.REGISTRY[READINGS_DUTY]
        with CaptureQueriesContext(connection) as queries:
            found = ob.evidence(ob.subjects())
        assert len(queries) == 1
        assert found == {r.pk: NOW - 5 * MINUTE for r in rooms}

    def test_history_is_one_moment_per_room_and_day_from_the_rollups(self, admin, sensor, room):
        # 115/11/28 23:10 and 23:50 Taipei (15:xx UTC), then 115/11/29 01:10 and 13:00.
        for moment in (
            dt.datetime(2026, 11, 28, 15, 10, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 28, 15, 50, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 28, 17, 10, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 29, 5, 0, tzinfo=dt.UTC),
        ):
            readings.ingest(
                [{"sensor": sensor.code, "measured_at": moment.isoformat(), "temperature_c": 22}],
                source=Reading.Source.HTTP,
            )
        assert Rollup.objects.count() == 3
        ob = registry.REGISTRY[READINGS_DUTY]
        with CaptureQueriesContext(connection) as queries:
            rows = ob.history(Room.objects.all(), NOW - 7 * DAY, NOW)
        assert len(queries) == 1
        assert rows == [
            (room.pk, dt.datetime(2026, 11, 28, 15, 0, tzinfo=dt.UTC)),
            (room.pk, dt.datetime(2026, 11, 28, 17, 0, tzinfo=dt.UTC)),
        ]

    def test_reminders_go_to_the_keeper_and_administrators(self, admin, keeper, room):
        engine.refresh(READINGS_DUTY)
        ob = registry.REGISTRY[READINGS_DUTY]
        state = state_of(READINGS_DUTY, room)
        assert {u.pk for u in ob.recipients(state)} == {admin.pk, keeper.pk}
        assert ob.evidence_url(state) == f"/facilities/readings/add/?room={room.pk}"


# The duty of an alert dealt with in time ---------------------------------------------------------
class TestAlertDuty:
    def test_overdue_after_the_alert_hours_and_ok_once_closed(self, sensor, excursion, settings):
        settings.ISMS_ENV_ALERT_HOURS = 4
        engine.refresh(ALERT_DUTY)
        due = excursion.opened_at + 4 * HOUR
        state = state_of(ALERT_DUTY, excursion)
        assert state.status == "ok" and state.next_due_at == due
        for moment, expected in (
            (due - HOUR - dt.timedelta(seconds=1), "ok"),
            (due - HOUR, "due_soon"),
            (due - dt.timedelta(seconds=1), "due_soon"),
            (due, "overdue"),
        ):
            with time_machine.travel(moment, tick=False):
                engine.refresh(ALERT_DUTY)
                assert state_of(ALERT_DUTY, excursion).status == expected, moment
        with time_machine.travel(due + HOUR, tick=False):
            readings.ingest(
                [
                    {
                        "sensor": sensor.code,
                        "measured_at": (due + 30 * MINUTE).isoformat(),
                        "temperature_c": 22,
                    }
                ],
                source=Reading.Source.HTTP,
            )
            state = state_of(ALERT_DUTY, excursion)  # the ingest refreshed the duty
            assert state.status == "ok" and state.last_done_at == due + 30 * MINUTE

    def test_the_hours_are_a_setting(self, excursion, settings):
        settings.ISMS_ENV_ALERT_HOURS = 1
        engine.refresh(ALERT_DUTY)
        assert state_of(ALERT_DUTY, excursion).next_due_at == excursion.opened_at + HOUR

    def test_a_silence_is_a_subject_too_and_closed_by_a_reading(self, admin, sensor):
        Sensor.objects.filter(pk=sensor.pk).update(created_at=NOW - HOUR)
        readings.alert_silent(NOW)
        silence = Alert.objects.get(kind=Kind.SILENCE)
        state = state_of(ALERT_DUTY, silence)
        assert state is not None and state.status == "ok"
        feed(sensor, (0, 22, 60))
        silence.refresh_from_db()
        assert silence.closed_at == NOW
        assert state_of(ALERT_DUTY, silence).last_done_at == NOW

    def test_an_alert_of_a_voided_sensor_is_no_longer_followed(self, admin, sensor, excursion):
        core_services.record_void(sensor, actor=admin, reason="故障汰換")
        engine.refresh(ALERT_DUTY)
        assert state_of(ALERT_DUTY, excursion) is None
        ob = registry.REGISTRY[ALERT_DUTY]
        assert excursion.pk in set(ob.all_subjects().values_list("pk", flat=True))

    def test_manual_alerts_are_followed(self, admin, room):
        readings.record_manual(Reading(room=room, measured_at=NOW, temperature_c=31), actor=admin)
        alert = Alert.objects.get()
        engine.refresh(ALERT_DUTY)
        assert state_of(ALERT_DUTY, alert).status == "ok"

    def test_reminders_history_and_urls(self, admin, keeper, sensor, excursion):
        engine.refresh(ALERT_DUTY)
        ob = registry.REGISTRY[ALERT_DUTY]
        state = state_of(ALERT_DUTY, excursion)
        assert {u.pk for u in ob.recipients(state)} == {admin.pk, keeper.pk}
        assert ob.subject_url(state) == excursion.get_absolute_url()
        assert ob.reminders == (HOUR,)
        feed(sensor, (1, 22, 60))
        rows = ob.history(ob.all_subjects(), NOW - DAY, NOW + DAY)
        assert rows == [(excursion.pk, NOW - MINUTE)]

    def test_the_staff_sees_no_alert(self, client_for, excursion):
        assert client_for(STAFF).get(excursion.get_absolute_url()).status_code == 403
        assert client_for(SECURITY_OFFICER).get(excursion.get_absolute_url()).status_code == 200
