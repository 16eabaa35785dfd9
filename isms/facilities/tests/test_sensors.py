"""Sensors (3.2): the register for every role, the sensor's page (its refused readings and
counts, the 「未回報」 mark), the unknown codes above the list, and the sensor's HTTP key
(shown once, replaced, revoked, audited without its hash)."""

import datetime as dt
import hashlib
import json

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.compliance import registry
from isms.core import services as core_services
from isms.core.roles import EQUIPMENT_HEAD, SECURITY_OFFICER, STAFF, SYSADMIN
from isms.core.testing import ROLE_CASES, RegisterContract, roles_for
from isms.facilities import readings, views_readings
from isms.facilities.models import Alert, Reading, Rejection, Room, Sensor
from isms.facilities.views_readings import SensorRegister

from .helpers import (  # noqa: F401
    MINUTE,
    NOW,
    READERS,
    URL,
    _frozen,
    denied_entries,
    item,
    key_client,
    login,
    room_of,
    sensor_of,
    token_client,
    user,
)

pytestmark = pytest.mark.django_db

KEEPERS = frozenset({SYSADMIN})


def post(c, body):
    return c.post(URL, json.dumps(body), content_type="application/json")


@pytest.fixture
def admin():
    return user("admin", SYSADMIN)


@pytest.fixture
def room(admin):
    return room_of(admin)


@pytest.fixture
def sensor(admin, room):
    return sensor_of(admin, room, code="srv-room-1", name="機櫃前")


# The register: pages and API for every role ------------------------------------------------------
class TestSensorRegister(RegisterContract):
    register = SensorRegister
    api_prefix = "sensors"
    readers = READERS
    writers = KEEPERS

    def admin(self):
        return user("contract-admin", SYSADMIN)

    def room(self):
        return Room.objects.filter(name="契約機房").first() or room_of(self.admin(), "契約機房")

    def make_sample(self, **overrides):
        return sensor_of(self.admin(), self.room(), **overrides)

    def form_data(self):
        return {
            "room": self.room().pk,
            "code": "srv-new.1",
            "name": "機櫃後方",
            "silence_minutes": "15",
            "notes": "",
        }

    def change_data(self, obj):
        return {**self.form_data(), "code": obj.code, "name": "機櫃後方（改）"}

    def api_data(self):
        return {
            "room": self.room().pk,
            "code": "api-1",
            "name": "API 感測器",
            "silence_minutes": 20,
        }


# Rules of a sensor (readings.save_sensor) --------------------------------------------------------
class TestSensorRules:
    @pytest.mark.parametrize(
        "code, message",
        [("", "invalid-feedback"), ("機房一", "英數字"), ("a b", "英數字"), ("x" * 65, "英數字")],
    )
    def test_bad_codes_are_refused_in_zh_tw(self, admin, room, code, message):
        c = login(admin)
        count = Sensor.objects.count()
        data = {"room": room.pk, "code": code, "name": "感測器", "silence_minutes": "30"}
        response = c.post(reverse("facilities:sensor_add"), data)
        assert response.status_code == 400
        assert message in response.content.decode()
        assert Sensor.objects.count() == count

    def test_a_code_is_unique_with_the_services_message(self, admin, room, sensor):
        data = {"room": room.pk, "code": sensor.code, "name": "另一個", "silence_minutes": "30"}
        response = login(admin).post(reverse("facilities:sensor_add"), data)
        assert response.status_code == 400
        assert "已有相同代碼的感測器" in response.content.decode()
        key, body = token_client(admin), {**data, "silence_minutes": 30}
        answer = post_json(key, "/api/sensors/", body)
        assert answer.status_code == 400 and "已有相同代碼的感測器" in answer.json()["code"][0]

    @pytest.mark.parametrize("minutes", ["0", "10081", "abc"])
    def test_silence_minutes_within_a_week(self, admin, room, minutes):
        data = {"room": room.pk, "code": "s-x", "name": "感測器", "silence_minutes": minutes}
        response = login(admin).post(reverse("facilities:sensor_add"), data)
        assert response.status_code == 400
        assert not Sensor.objects.filter(code="s-x").exists()

    def test_a_voided_room_takes_no_sensor(self, admin):
        gone = room_of(admin, "舊機房")
        Room.objects.filter(pk=gone.pk).update(voided_at=NOW)
        with pytest.raises(ValidationError) as excinfo:
            sensor_of(admin, Room.objects.get(pk=gone.pk))
        assert "room" in excinfo.value.message_dict

    def test_only_administrators_keep_sensors(self, room):
        with pytest.raises(PermissionDenied):
            sensor_of(user("head", EQUIPMENT_HEAD), room)

    def test_a_voided_sensor_is_not_edited(self, admin, sensor):
        core_services.record_void(sensor, actor=admin, reason="故障汰換")
        c = login(admin)
        assert c.get(reverse("facilities:sensor_edit", args=[sensor.pk])).status_code == 403

    def test_the_api_never_shows_the_keys_hash(self, admin, sensor):
        key = readings.key_create(sensor, actor=admin)
        sensor.refresh_from_db()
        body = token_client(admin).get(f"/api/sensors/{sensor.pk}/").json()
        assert body["has_key"] is True and body["token_prefix"] == sensor.token_prefix
        text = json.dumps(body)
        assert sensor.token_hash not in text and key not in text
        assert "token_hash" not in body


def post_json(c, url, body):
    return c.post(url, json.dumps(body), content_type="application/json")


# The sensor's page and the list ------------------------------------------------------------------
class TestSensorPage:
    def test_refused_readings_and_counts_are_on_the_page(self, admin, sensor):
        key = readings.key_create(sensor, actor=admin)
        response = post(key_client(key), [item(3), item(2, h=140.5), item(1, t="hot")])
        assert response.status_code == 201
        response = post(key_client(key), "not a batch")
        assert response.status_code == 400
        sensor.refresh_from_db()
        assert (sensor.accepted_count, sensor.rejected_count) == (1, 3)
        html = login(user("officer", SECURITY_OFFICER)).get(sensor.get_absolute_url())
        assert html.status_code == 200
        text = html.content.decode()
        assert 'data-field="accepted">1<' in text and 'data-field="rejected">3' in text
        section = text[text.index("data-rejections") :]
        assert section.count("data-rejection=") == 3
        assert "不可能的數值 140.5" in section and "須為數字" in section
        assert "請以 JSON 物件" in section and "not a batch" in section
        assert "共 3 筆" in section

    def test_only_the_latest_50_refused_readings_are_listed(self, admin, sensor):
        Rejection.objects.bulk_create(
            Rejection(
                sensor=sensor,
                sensor_code=sensor.code,
                source=Reading.Source.MQTT,
                received_at=NOW - n * MINUTE,
                reason=f"原因{n}",
            )
            for n in range(60)
        )
        text = login(admin).get(sensor.get_absolute_url()).content.decode()
        assert text.count("data-rejection=") == 50
        assert "原因0<" in text and "原因59<" not in text

    def test_the_page_reads_in_constant_queries(self, admin, sensor):
        c = login(admin)
        with CaptureQueriesContext(connection) as few:
            c.get(sensor.get_absolute_url())
        readings.ingest([{**item(n), "sensor": sensor.code} for n in range(1, 30)], source="http")
        readings.reject_payload("x", "壞掉", source="http", sensor=sensor)
        with CaptureQueriesContext(connection) as many:
            c.get(sensor.get_absolute_url())
        assert len(many) == len(few)

    def test_a_silent_sensor_is_marked_on_the_list_and_page(self, admin, sensor, room):
        quiet = sensor_of(admin, room, code="srv-quiet")
        readings.ingest([{**item(1), "sensor": sensor.code}], source="http")
        with time_machine.travel(NOW + 20 * MINUTE, tick=False):
            readings.ingest([{**item(-19), "sensor": sensor.code}], source="http")
        later = NOW + 31 * MINUTE
        with time_machine.travel(later, tick=False):
            assert readings.alert_silent(later) == 1  # quiet: never reported since added
            c = login(admin)
            html = c.get(reverse("facilities:sensor_list")).content.decode()
            rows = {
                code: html[html.index(f">{code}<") :].split("</tr>")[0]
                for code in ("srv-room-1", "srv-quiet")
            }
            assert "未回報" in rows["srv-quiet"] and "未回報" not in rows["srv-room-1"]
            page = c.get(quiet.get_absolute_url()).content.decode()
            assert 'data-report-state><span class="badge text-bg-danger">' in page
            silent = c.get(reverse("facilities:sensor_list"), {"state": "silent"})
            assert ">srv-quiet<" in silent.content.decode()
            assert ">srv-room-1<" not in silent.content.decode()
            api = token_client(admin).get(f"/api/sensors/{quiet.pk}/").json()
            assert api["silent"] is True

    def test_unknown_codes_of_the_last_week_are_shown_to_administrators(self, admin, sensor):
        readings.ingest(
            [{**item(1), "sensor": "ghost-1"}, {**item(2), "sensor": "ghost-1"}], source="mqtt"
        )
        Rejection.objects.create(
            sensor_code="old-ghost",
            source="mqtt",
            received_at=NOW - dt.timedelta(days=8),
            reason="未登記",
        )
        html = login(admin).get(reverse("facilities:sensor_list")).content.decode()
        assert 'data-unknown-code="ghost-1"' in html
        row = html[html.index('data-unknown-code="ghost-1"') :].split("</tr>")[0]
        assert "<td>2</td>" in row
        assert "old-ghost" not in html
        officer = login(user("officer", SECURITY_OFFICER))
        assert (
            "data-unknown-codes"
            not in officer.get(reverse("facilities:sensor_list")).content.decode()
        )


# The sensor's key ---------------------------------------------------------------------------------
class TestSensorKey:
    def test_the_key_is_returned_once_and_only_its_hash_kept(self, admin, sensor):
        entries = AuditEntry.objects.count()
        key = readings.key_create(sensor, actor=admin)
        sensor.refresh_from_db()
        assert key.startswith("isms_sn_") and len(key) > 40
        assert sensor.token_hash == hashlib.sha256(key.encode()).hexdigest()
        assert sensor.token_prefix == key[8:16]
        assert AuditEntry.objects.count() == entries + 1
        entry = AuditEntry.objects.order_by("-id").first()
        assert entry.actor_id == admin.pk and entry.object_id == str(sensor.pk)
        assert entry.model_label == "facilities.sensor"
        text = json.dumps(entry.changes, ensure_ascii=False) + entry.message
        assert sensor.token_hash not in text and key not in text

    def test_the_page_shows_a_new_key_once_with_examples(self, admin, sensor):
        c = login(admin)
        url = reverse("facilities:sensor_key", args=[sensor.pk])
        response = c.post(url, {"op": "create"})
        assert response.status_code == 200
        assert response["Cache-Control"] == "no-store"
        sensor.refresh_from_db()
        html = response.content.decode()
        start = html.index("isms_sn_", html.index("data-new-key"))
        key = html[start : html.index('"', start)]
        assert hashlib.sha256(key.encode()).hexdigest() == sensor.token_hash
        for name in ("curl-one", "curl-batch", "powershell", "python"):
            assert f'data-example="{name}"' in html
        assert views_readings.KEY_PLACEHOLDER in html and "http://testserver" + URL in html
        again = c.get(sensor.get_absolute_url())
        assert key not in again.content.decode() and "data-new-key" not in again.content.decode()
        assert f"isms_sn_{sensor.token_prefix}…" in again.content.decode()
        assert again.get("Cache-Control") != "no-store"
        replaced = c.post(url, {"op": "create"}).content.decode()
        assert "舊金鑰已失效" in replaced and key not in replaced
        assert post(key_client(key), item()).status_code == 401

    def test_the_page_revokes(self, admin, sensor):
        key = readings.key_create(sensor, actor=admin)
        c = login(admin)
        url = reverse("facilities:sensor_key", args=[sensor.pk])
        assert c.post(url, {"op": "revoke"}).status_code == 302
        sensor.refresh_from_db()
        assert (sensor.token_hash, sensor.token_prefix, sensor.token_created_at) == ("", "", None)
        entry = AuditEntry.objects.order_by("-id").first()
        assert entry.message == "撤銷感測器金鑰" and key not in json.dumps(entry.changes)
        assert post(key_client(key), item()).status_code == 401
        assert c.post(url, {"op": "revoke"}).status_code == 400  # no key to revoke
        assert c.post(url, {"op": "explode"}).status_code == 400
        assert c.get(url).status_code == 302

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_the_key_actions_answer_by_role(self, role, client_for, sensor):
        c = client_for(*roles_for(role))
        response = c.post(reverse("facilities:sensor_key", args=[sensor.pk]), {"op": "create"})
        sensor.refresh_from_db()
        if role == SYSADMIN:
            assert response.status_code == 200 and sensor.token_hash
        else:
            assert response.status_code == 403 and not sensor.token_hash

    def test_a_voided_sensor_gets_no_key(self, admin, sensor):
        core_services.record_void(sensor, actor=admin, reason="汰換")
        response = login(admin).post(
            reverse("facilities:sensor_key", args=[sensor.pk]), {"op": "create"}
        )
        assert response.status_code == 400 and "此感測器已作廢" in response.content.decode()
        assert "data-new-key" not in response.content.decode()

    def test_the_key_form_is_only_for_administrators(self, sensor):
        html = login(user("head", EQUIPMENT_HEAD)).get(sensor.get_absolute_url()).content.decode()
        assert 'name="op"' not in html
        html = login(user("staffer", STAFF)).get(sensor.get_absolute_url())
        assert html.status_code == 403


# The evidence binder and jobs ---------------------------------------------------------------------
def test_sensors_and_alerts_are_in_the_binder_and_the_jobs_registered():
    sensors = registry.RECORDS["facilities.sensor"]
    assert sensors.clause == "3.2" and not sensors.date_field
    assert sensors.obligations == ("facilities.environment_readings",)
    assert all("token" not in c.name for c in sensors.columns)
    alerts = registry.RECORDS["facilities.alert"]
    assert (alerts.date_field, alerts.obligations) == (
        "opened_at",
        ("facilities.environment_alert",),
    )
    assert "facilities.reading" not in registry.RECORDS
    assert registry.JOB_INTERVALS["facilities.silent_sensors"] == 60
    assert "facilities.prune_rejections" in registry.JOBS


def test_the_jobs_open_silences_and_prune(admin, sensor, settings):
    settings.ISMS_ENV_REJECTIONS_KEPT = 2
    for n in range(4):
        readings.reject_payload(f"x{n}", "壞掉", source="http", sensor=sensor)
    registry.JOBS["facilities.prune_rejections"](NOW)
    assert Rejection.objects.count() == 2
    later = NOW + dt.timedelta(minutes=31)
    registry.JOBS["facilities.silent_sensors"](later)
    assert Alert.objects.filter(kind=Alert.Kind.SILENCE, sensor=sensor).count() == 1
