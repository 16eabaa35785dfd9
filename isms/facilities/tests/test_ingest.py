"""The ingest of readings (3.2): checks per item, duplicates, roll-ups, excursion and
silence alerts, and what the keepers are told."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from isms.audit.models import AuditEntry
from isms.core.roles import SYSADMIN
from isms.facilities import readings
from isms.facilities.models import Alert, Reading, Rejection, Rollup, Room, Sensor
from isms.notifications.models import Notification

NOW = dt.datetime(2026, 11, 29, 6, 0, tzinfo=dt.UTC)
Source = Reading.Source


@pytest.fixture
def admin(make_user):
    return make_user("admin1", SYSADMIN)


@pytest.fixture
def room(admin):
    return Room.objects.create(name="主機機房", kind=Room.Kind.SERVER_ROOM, keeper=admin)


@pytest.fixture
def sensor(room):
    return Sensor.objects.create(room=room, code="srv-1", name="機櫃前")


def item(minutes, t=22.0, h=60.0, code="srv-1"):
    return {
        "sensor": code,
        "measured_at": (NOW - dt.timedelta(minutes=minutes)).isoformat(),
        "temperature_c": t,
        "humidity_pct": h,
    }


def ingest(items, **kwargs):
    kwargs.setdefault("source", Source.HTTP)
    return readings.ingest(items, now=NOW, **kwargs)


@pytest.mark.django_db
class TestItems:
    @pytest.mark.parametrize(
        "change, field",
        [
            ({"humidity_pct": 100.1}, "humidity_pct"),
            ({"humidity_pct": -0.5}, "humidity_pct"),
            ({"temperature_c": 80.5}, "temperature_c"),
            ({"temperature_c": -40.1}, "temperature_c"),
            ({"temperature_c": "hot"}, "temperature_c"),
            ({"temperature_c": True}, "temperature_c"),
            ({"temperature_c": None, "humidity_pct": None}, "temperature_c"),
            ({"measured_at": "yesterday"}, "measured_at"),
            ({"measured_at": None}, "measured_at"),
            ({"measured_at": (NOW + dt.timedelta(minutes=11)).isoformat()}, "measured_at"),
            ({"measured_at": "1970-01-01T00:00:00Z"}, "measured_at"),
            ({"sensor": "nobody"}, "sensor"),
            ({"sensor": 5}, "sensor"),
        ],
    )
    def test_impossible_items_are_refused_and_counted(self, sensor, change, field):
        bad = {**item(1), **change}
        result = ingest([item(2), bad])
        assert result.accepted == 1
        assert [r["index"] for r in result.rejected] == [1]
        assert field in result.rejected[0]["errors"]
        rejection = Rejection.objects.get()
        assert rejection.reason
        sensor.refresh_from_db()
        if change.get("sensor") in ("nobody", 5):
            assert rejection.sensor is None and sensor.rejected_count == 0
        else:
            assert rejection.sensor == sensor and sensor.rejected_count == 1

    def test_bounds_themselves_are_possible(self, sensor):
        result = ingest([item(3, t=-40, h=0), item(2, t=80, h=100)])
        assert result.accepted == 2 and not result.rejected

    def test_a_moment_without_offset_is_taipei_time_and_unix_seconds_work(self, sensor):
        local = (NOW + dt.timedelta(hours=8) - dt.timedelta(minutes=5)).replace(tzinfo=None)
        unix = (NOW - dt.timedelta(minutes=4)).timestamp()
        ingest(
            [
                {"sensor": "srv-1", "measured_at": local.isoformat(), "temperature_c": 21},
                {"sensor": "srv-1", "measured_at": unix, "humidity_pct": 55},
            ]
        )
        moments = sorted(Reading.objects.values_list("measured_at", flat=True))
        assert moments == [NOW - dt.timedelta(minutes=5), NOW - dt.timedelta(minutes=4)]

    def test_a_key_reports_only_its_own_sensor(self, sensor, room):
        other = Sensor.objects.create(room=room, code="srv-2", name="後方")
        result = ingest([item(1, code="srv-2"), {**item(2), "sensor": ""}], key_sensor=sensor)
        assert result.accepted == 1
        assert Reading.objects.get().sensor == sensor
        assert "sensor" in result.rejected[0]["errors"]
        assert not Reading.objects.filter(sensor=other).exists()

    def test_voided_sensor_or_room_is_unknown(self, sensor, room):
        Sensor.objects.filter(pk=sensor.pk).update(voided_at=NOW)
        assert ingest([item(1)]).accepted == 0
        Sensor.objects.filter(pk=sensor.pk).update(voided_at=None)
        Room.objects.filter(pk=room.pk).update(voided_at=NOW)
        assert ingest([item(1)]).accepted == 0
        assert Rejection.objects.count() == 2


@pytest.mark.django_db
class TestStoring:
    def test_a_retried_batch_is_stored_once(self, sensor):
        batch = [item(3), item(2), item(2), item(1)]
        first = ingest(batch)
        assert (first.accepted, first.duplicates) == (3, 1)
        again = ingest(batch)
        assert (again.accepted, again.duplicates) == (0, 4)
        assert Reading.objects.count() == 3
        sensor.refresh_from_db()
        assert sensor.accepted_count == 3
        assert sensor.last_reading_at == NOW - dt.timedelta(minutes=1)

    def test_rollups_add_up_across_batches(self, sensor, room):
        # 05:00–05:59 UTC: minutes 60..1 before 06:00.
        ingest([item(59, t=20, h=50), item(30, t=24, h=None)])
        ingest([item(10, t=22, h=70), item(70, t=30, h=40)])
        hour = NOW - dt.timedelta(hours=1)
        row = Rollup.objects.get(room=room, hour=hour)
        assert (row.temperature_count, row.temperature_sum) == (3, 66)
        assert (row.temperature_min, row.temperature_max) == (20, 24)
        assert (row.humidity_count, row.humidity_sum) == (2, 120)
        assert (row.humidity_min, row.humidity_max) == (50, 70)
        earlier = Rollup.objects.get(room=room, hour=hour - dt.timedelta(hours=1))
        assert earlier.temperature_count == 1 and earlier.temperature_max == 30

    def test_one_audit_entry_per_batch_naming_the_sensor(self, sensor):
        before = AuditEntry.objects.count()
        ingest([item(3), item(2), item(1)])
        entries = AuditEntry.objects.filter(model_label="facilities.reading")
        assert AuditEntry.objects.count() - before == 1
        assert "3" in entries.get().message and "srv-1" in entries.get().message


@pytest.mark.django_db
class TestAlerts:
    def test_an_excursion_is_one_alert_until_back_in_range(self, sensor, admin):
        ingest([item(10), item(9, t=26.5), item(8, t=27.5), item(7, h=75)])
        alert = Alert.objects.get()
        assert alert.kind == Alert.Kind.EXCURSION and alert.closed_at is None
        assert alert.opened_at == NOW - dt.timedelta(minutes=9)
        assert alert.readings_out == 3 and alert.temperature_high == 27.5
        assert alert.humidity_high == 75
        ingest([item(6, t=28), item(5, t=26)])
        alert.refresh_from_db()
        assert Alert.objects.count() == 1 and alert.readings_out == 5
        assert alert.temperature_high == 28
        ingest([item(4)])
        alert.refresh_from_db()
        assert alert.closed_at == NOW - dt.timedelta(minutes=4)
        subjects = list(
            Notification.objects.filter(recipient=admin)
            .order_by("pk")
            .values_list("subject", flat=True)
        )
        assert len(subjects) == 2 and subjects[1].startswith("已恢復")

    def test_late_readings_change_no_alert(self, sensor):
        ingest([item(5)])
        ingest([item(20, t=35)])
        assert not Alert.objects.exists()
        assert Reading.objects.count() == 2

    def test_room_thresholds_are_the_rooms_own(self, sensor, room):
        Room.objects.filter(pk=room.pk).update(temperature_max=28, humidity_min=40)
        ingest([item(3, t=27.9, h=41)])
        assert not Alert.objects.exists()
        ingest([item(2, t=28.1)])
        assert Alert.objects.get().closed_at is None

    def test_silence_alert_once_and_closed_by_a_reading(self, sensor):
        with time_machine.travel(NOW, tick=False):
            ingest([item(31)])
            assert readings.alert_silent(NOW) == 1
            assert readings.alert_silent(NOW) == 0
        alert = Alert.objects.get(kind=Alert.Kind.SILENCE)
        assert alert.opened_at == NOW - dt.timedelta(minutes=1)
        ingest([item(0)])
        alert.refresh_from_db()
        assert alert.closed_at == NOW

    def test_a_new_sensor_is_silent_from_its_creation(self, sensor):
        Sensor.objects.filter(pk=sensor.pk).update(created_at=NOW - dt.timedelta(minutes=29))
        assert readings.alert_silent(NOW) == 0
        Sensor.objects.filter(pk=sensor.pk).update(created_at=NOW - dt.timedelta(minutes=30))
        assert readings.alert_silent(NOW) == 1


@pytest.mark.django_db
def test_manual_reading_opens_and_closes_the_rooms_alert(room, admin):
    with time_machine.travel(NOW, tick=False):
        readings.record_manual(
            Reading(room=room, measured_at=NOW - dt.timedelta(hours=2), temperature_c=30),
            actor=admin,
        )
        alert = Alert.objects.get()
        assert alert.scope == f"room:{room.pk}" and alert.sensor is None
        readings.record_manual(
            Reading(room=room, measured_at=NOW - dt.timedelta(hours=1), temperature_c=22),
            actor=admin,
        )
    alert.refresh_from_db()
    assert alert.closed_at == NOW - dt.timedelta(hours=1)
    assert Rollup.objects.filter(room=room).count() == 2
    assert timezone.is_aware(alert.closed_at)
