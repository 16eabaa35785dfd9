"""Readings (3.2): the register for every role (recorded, never edited nor voided), the
reading by hand, and ``POST /api/environment-readings/`` — one reading or a batch, by a
sensor's key or a system administrator's token — with every refusal, and its schema."""

import datetime as dt
import json

import pytest
from django.urls import NoReverseMatch, reverse

from isms.audit.models import AuditEntry
from isms.core import services as core_services
from isms.core.roles import (
    EQUIPMENT_HEAD,
    SECURITY_OFFICER,
    STAFF,
    SYSADMIN,
)
from isms.core.testing import ROLE_CASES, RegisterContract, roles_for
from isms.facilities import readings, views_readings
from isms.facilities.models import Alert, Reading, Rejection, Room, Sensor
from isms.facilities.views_readings import ReadingRegister

from .helpers import (  # noqa: F401
    MINUTE,
    NOW,
    READERS,
    RECORDERS,
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

Source = Reading.Source


def post(c, body, raw=False, **extra):
    data = body if raw else json.dumps(body)
    extra.setdefault("content_type", "application/json")
    return c.post(URL, data, **extra)


@pytest.fixture
def admin():
    return user("admin", SYSADMIN)


@pytest.fixture
def room(admin):
    return room_of(admin)


@pytest.fixture
def sensor(admin, room):
    return sensor_of(admin, room, "srv-room-1", name="機櫃前")


@pytest.fixture
def key(admin, sensor):
    return readings.key_create(sensor, actor=admin)


@pytest.fixture
def device(key):
    return key_client(key)


# The register: pages and API for every role ------------------------------------------------------
class TestReadingRegister(RegisterContract):
    register = ReadingRegister
    api_prefix = "environment-readings"
    readers = READERS
    writers = RECORDERS

    def admin(self):
        return user("contract-admin", SYSADMIN)

    def room(self):
        return Room.objects.filter(name="契約機房").first() or room_of(self.admin(), "契約機房")

    def sensor(self):
        found = Sensor.objects.filter(code="contract-1").first()
        return found or sensor_of(self.admin(), self.room(), "contract-1")

    def make_sample(self, **overrides):
        values = {
            "room": self.room(),
            "sensor": self.sensor(),
            "measured_at": NOW - (Reading.objects.count() + 1) * MINUTE,
            "temperature_c": 22.5,
            "humidity_pct": 55.0,
            "source": Source.HTTP,
        }
        values.update(overrides)
        return Reading.objects.create(**values)

    def form_data(self):
        return {
            "room": self.room().pk,
            "measured_at": "115/11/29 13:30",
            "temperature_c": "22.5",
            "humidity_pct": "55",
        }

    def invalid_form_data(self):
        return {**self.form_data(), "temperature_c": "95", "humidity_pct": ""}

    def api_data(self):
        return {"sensor": self.sensor().code, **item(5)}

    def invalid_api_data(self):
        return {"sensor": self.sensor().code, **item(5, h=101)}

    # A reading is never changed: no edit page, no PUT/PATCH.
    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_edit_answers_by_role(self, role, client_for):
        obj = self.make_sample()
        with pytest.raises(NoReverseMatch):
            self.url("edit", obj.pk)
        with pytest.raises(NoReverseMatch):
            self.url("void", obj.pk)
        c = client_for(*roles_for(role))
        assert c.get(f"/facilities/readings/{obj.pk}/edit/").status_code == 404
        assert c.post(f"/facilities/readings/{obj.pk}/void/", {"reason": "x"}).status_code == 404

    def test_edit_writes_one_audit_entry_with_before_and_after(self, client_for):
        obj = self.make_sample()
        c = self.api_client(client_for, SYSADMIN)
        entries = self.entries()
        for method in (c.put, c.patch):
            response = method(self.api_url(obj.pk), "{}", content_type="application/json")
            assert response.status_code in (403, 405)
        response = c.post(
            self.api_url(obj.pk) + "void/", '{"reason": "xx"}', content_type="application/json"
        )
        assert response.status_code in (403, 404, 405)
        assert self.entries() == entries

    def test_edit_refuses_bad_input_and_changes_nothing(self, client_for):
        obj = self.make_sample()
        with pytest.raises(Exception) as excinfo:
            readings.record_manual(obj, actor=self.admin())
        assert "已記錄的讀數不能修改" in str(excinfo.value)

    def test_api_update_writes_one_audit_entry(self, client_for):
        assert "patch" not in self._api_methods() and "put" not in self._api_methods()

    # People post readings with a system administrator's token only (the equipment head
    # records them by hand, on the page).
    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_api_create_answers_by_role(self, role, client_for):
        c = self.api_client(client_for, role)
        body = json.dumps(self.api_data())
        records, entries = Reading.objects.count(), self.entries()
        response = c.post(self.api_url(), body, content_type="application/json")
        if role == SYSADMIN:
            assert response.status_code == 201, response.content
            assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
            assert Reading.objects.count() == records + 1
            assert self.entries() == entries + 1
        else:
            assert response.status_code == 403
            assert Reading.objects.count() == records

    def test_api_create_refuses_bad_input_with_field_errors(self, client_for):
        c = self.api_client(client_for, SYSADMIN)
        bad = json.dumps(self.invalid_api_data())
        records, entries = Reading.objects.count(), self.entries()
        for body in (bad, "{not json", json.dumps([1, 2])):
            response = c.post(self.api_url(), body, content_type="application/json")
            assert response.status_code == 400, body
            assert isinstance(response.json(), dict) and response.json()
        assert Reading.objects.count() == records
        assert self.entries() == entries


# The list and the reading's page -----------------------------------------------------------------
class TestReadingPages:
    def test_values_have_one_decimal_and_a_mark_out_of_range(self, admin, room, sensor):
        readings.ingest(
            [
                {"sensor": sensor.code, **item(3, t=22.04, h=55.0)},
                {"sensor": sensor.code, **item(2, t=27.26, h=45.0)},
            ],
            source=Source.HTTP,
        )
        html = login(admin).get(reverse("facilities:reading_list")).content.decode()
        assert "<td>22.0</td>" in html and "<td>55.0</td>" in html
        assert "<td>27.3 偏高</td>" in html and "<td>45.0 偏低</td>" in html
        assert "<td>超出範圍</td>" in html
        out = Reading.objects.get(temperature_c=27.26)
        page = login(admin).get(out.get_absolute_url()).content.decode()
        assert "溫度 27.26°C 高於 25°C" in page and "濕度 45%RH 低於 50%RH" in page
        assert "range=day" in page and "end=115%2F11%2F29" in page

    def test_filters_by_room_sensor_source_and_taipei_dates(self, admin, room, sensor):
        other = room_of(admin, "第二機房")
        o_sensor = sensor_of(admin, other, "srv-2")
        readings.ingest([{"sensor": sensor.code, **item(10)}], source=Source.HTTP)
        readings.ingest([{"sensor": o_sensor.code, **item(11)}], source=Source.MQTT)
        # 115/11/28 23:30 Taipei is 15:30 UTC on the 28th.
        late = dt.datetime(2026, 11, 28, 15, 30, tzinfo=dt.UTC)
        readings.ingest(
            [{"sensor": sensor.code, "measured_at": late.isoformat(), "temperature_c": 21}],
            source=Source.HTTP,
        )
        c = login(admin)
        url = reverse("facilities:reading_list")

        def count(**params):
            html = c.get(url, params).content.decode()
            return html.count("<tr><td><a href=")

        assert count() == 3
        assert count(room=other.pk) == 1
        assert count(sensor=sensor.pk) == 2
        assert count(source="mqtt") == 1
        assert count(measured_from="115/11/29") == 2
        assert count(measured_to="115/11/28") == 1
        assert count(measured_from="115/11/28", measured_to="115/11/28") == 1
        api = token_client(admin).get(URL, {"measured_to": "115/11/28"}).json()
        assert api["count"] == 1


# Readings by hand --------------------------------------------------------------------------------
class TestManualReadings:
    def test_the_equipment_head_records_a_reading(self, room):
        head = user("head", EQUIPMENT_HEAD)
        c = login(head)
        data = {
            "room": room.pk,
            "measured_at": "115/11/29 13:45",
            "temperature_c": "23.1",
            "humidity_pct": "",
        }
        response = c.post(reverse("facilities:reading_add"), data)
        assert response.status_code == 302
        reading = Reading.objects.get()
        assert (reading.source, reading.recorded_by, reading.sensor) == (Source.MANUAL, head, None)
        assert reading.measured_at == dt.datetime(2026, 11, 29, 5, 45, tzinfo=dt.UTC)
        assert response["Location"] == reading.get_absolute_url()

    @pytest.mark.parametrize(
        "change, field_text",
        [
            ({"temperature_c": "95"}, "不可能的數值 95"),
            ({"humidity_pct": "-3"}, "不可能的數值 -3"),
            ({"temperature_c": "", "humidity_pct": ""}, "溫度與濕度至少須填一項"),
            ({"measured_at": "115/11/29 15:30"}, "量測時間晚於現在"),
            ({"measured_at": "113/11/01 10:00"}, "量測時間早於一年前"),
            ({"measured_at": "昨天"}, ""),
            ({"temperature_c": "熱"}, ""),
            ({"room": ""}, ""),
        ],
    )
    def test_bad_values_are_refused_with_zh_tw_errors(self, admin, room, change, field_text):
        data = {
            "room": room.pk,
            "measured_at": "115/11/29 13:45",
            "temperature_c": "23",
            "humidity_pct": "55",
        }
        data.update(change)
        c = login(admin)
        entries = AuditEntry.objects.count()
        response = c.post(reverse("facilities:reading_add"), data)
        assert response.status_code == 400
        html = response.content.decode()
        assert "請修正下列欄位的錯誤" in html and field_text in html
        assert 'class="invalid-feedback d-block"' in html
        assert Reading.objects.count() == 0 and AuditEntry.objects.count() == entries

    def test_the_same_room_and_moment_by_hand_is_refused(self, admin, room):
        data = {
            "room": room.pk,
            "measured_at": "115/11/29 13:45",
            "temperature_c": "23",
            "humidity_pct": "55",
        }
        c = login(admin)
        assert c.post(reverse("facilities:reading_add"), data).status_code == 302
        again = c.post(reverse("facilities:reading_add"), data)
        assert again.status_code == 400 and "已有人工登錄的讀數" in again.content.decode()
        assert Reading.objects.count() == 1

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_who_records_by_hand(self, role, client_for, room):
        c = client_for(*roles_for(role))
        data = {
            "room": room.pk,
            "measured_at": "115/11/29 13:45",
            "temperature_c": "23",
            "humidity_pct": "55",
        }
        response = c.post(reverse("facilities:reading_add"), data)
        assert response.status_code == (302 if role in RECORDERS else 403)
        assert Reading.objects.count() == (1 if role in RECORDERS else 0)

    def test_a_reading_by_hand_out_of_range_opens_the_rooms_alert(self, admin, room):
        data = {
            "room": room.pk,
            "measured_at": "115/11/29 13:45",
            "temperature_c": "31",
            "humidity_pct": "55",
        }
        assert login(admin).post(reverse("facilities:reading_add"), data).status_code == 302
        alert = Alert.objects.get()
        assert alert.scope == f"room:{room.pk}" and alert.sensor is None and alert.closed_at is None


# POST /api/environment-readings/ -----------------------------------------------------------------
class TestPostWithAKey:
    def test_one_reading_is_stored_for_the_keys_sensor(self, device, sensor, room):
        response = post(device, item(1))
        assert response.status_code == 201, response.content
        assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
        reading = Reading.objects.get()
        assert (reading.sensor, reading.room, reading.source) == (sensor, room, Source.HTTP)
        assert reading.recorded_by is None and reading.temperature_c == 22.0
        entry = AuditEntry.objects.filter(model_label="facilities.reading").get()
        assert entry.actor_id is None and entry.actor_label == f"sensor: {sensor}"
        assert "1 筆" in entry.message

    def test_a_batch_with_bad_items_stores_the_good_ones(self, device, sensor):
        batch = [
            item(5),
            item(4, h=140.5),
            {"sensor": sensor.code, **item(3)},
            item(2, t="hot"),
            "not an object",
            item(1, measured_at="yesterday"),
        ]
        response = post(device, batch)
        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["accepted"], body["duplicates"]) == (2, 0)
        assert [r["index"] for r in body["rejected"]] == [1, 3, 4, 5]
        errors = {r["index"]: r["errors"] for r in body["rejected"]}
        assert list(errors[1]) == ["humidity_pct"] and "140.5" in errors[1]["humidity_pct"][0]
        assert list(errors[3]) == ["temperature_c"]
        assert "non_field_errors" in errors[4] and "measured_at" in errors[5]
        assert Reading.objects.count() == 2
        assert not Reading.objects.filter(humidity_pct=140.5).exists()
        sensor.refresh_from_db()
        assert (sensor.accepted_count, sensor.rejected_count) == (2, 4)
        assert Rejection.objects.filter(sensor=sensor).count() == 4

    def test_every_item_refused_is_400_with_the_same_body(self, device, sensor):
        response = post(device, [item(2, h=101), item(1, t=None, h=None)])
        assert response.status_code == 400
        body = response.json()
        assert body["accepted"] == 0 and [r["index"] for r in body["rejected"]] == [0, 1]
        assert Reading.objects.count() == 0
        sensor.refresh_from_db()
        assert sensor.rejected_count == 2

    def test_one_bad_object_is_400_with_its_field_errors(self, device, sensor):
        response = post(device, item(1, h=100.5))
        assert response.status_code == 400
        body = response.json()
        assert list(body) == ["humidity_pct"] and "不可能的數值 100.5" in body["humidity_pct"][0]
        assert Reading.objects.count() == 0
        sensor.refresh_from_db()
        assert sensor.rejected_count == 1

    @pytest.mark.parametrize(
        "body, message",
        [
            ("{not json", "JSON"),
            ('"a string"', "請以 JSON 物件"),
            ("42", "請以 JSON 物件"),
            ("null", "請以 JSON 物件"),
            ("[]", "陣列是空的"),
        ],
    )
    def test_a_body_that_is_no_batch_is_400_and_counted(self, device, sensor, body, message):
        response = post(device, body, raw=True)
        assert response.status_code == 400
        assert message in json.dumps(response.json(), ensure_ascii=False)
        assert Reading.objects.count() == 0
        sensor.refresh_from_db()
        assert sensor.rejected_count == 1
        assert Rejection.objects.get().sensor == sensor

    def test_too_many_items_are_refused_whole(self, device, sensor, settings):
        settings.ISMS_ENV_BATCH_MAX = 3
        response = post(device, [item(n) for n in range(1, 5)])
        assert response.status_code == 400
        assert "一次最多傳送 3 筆" in response.json()["non_field_errors"][0]
        assert Reading.objects.count() == 0
        assert post(device, [item(n) for n in range(1, 4)]).status_code == 201

    def test_a_form_body_is_415_and_counted(self, device, sensor):
        response = device.post(URL, {"temperature_c": "22"})
        assert response.status_code == 415
        sensor.refresh_from_db()
        assert sensor.rejected_count == 1 and Reading.objects.count() == 0

    def test_a_retried_batch_is_duplicates(self, device):
        batch = [item(3), item(2), item(1)]
        assert post(device, batch).json()["accepted"] == 3
        again = post(device, batch)
        assert again.status_code == 201
        assert again.json() == {"accepted": 0, "duplicates": 3, "rejected": []}
        assert Reading.objects.count() == 3
        mixed = post(device, [item(1), item(0, h=200)])
        assert mixed.status_code == 201  # not every item refused: one was already there
        assert mixed.json()["duplicates"] == 1 and len(mixed.json()["rejected"]) == 1

    def test_another_sensors_code_is_refused_for_that_item(self, admin, device, room, sensor):
        other = sensor_of(admin, room, "srv-other")
        response = post(device, {"sensor": other.code, **item(1)})
        assert response.status_code == 400
        assert "只能回報感測器 srv-room-1" in response.json()["sensor"][0]
        response = post(device, [{"sensor": other.code, **item(1)}, item(2)])
        assert response.status_code == 201 and response.json()["accepted"] == 1
        assert not Reading.objects.filter(sensor=other).exists()

    def test_unknown_and_revoked_keys_are_401(self, admin, key, sensor):
        assert post(key_client("isms_sn_" + "x" * 43), item()).status_code == 401
        readings.key_revoke(sensor, actor=admin)
        response = post(key_client(key), item())
        assert response.status_code == 401
        assert Reading.objects.count() == 0
        entry = denied_entries().last()
        assert entry.model_label == "facilities.sensor" and key not in entry.message
        assert entry.actor_label.startswith("sensor key isms_sn_")

    def test_the_key_of_a_voided_sensor_or_room_is_401(self, admin, key, sensor, room):
        core_services.record_void(sensor, actor=admin, reason="汰換")
        assert post(key_client(key), item()).status_code == 401
        entry = denied_entries().last()
        assert entry.object_id == str(sensor.pk) and "已作廢" in entry.message
        Sensor.objects.filter(pk=sensor.pk).update(voided_at=None)
        Room.objects.filter(pk=room.pk).update(voided_at=NOW)
        assert post(key_client(key), item()).status_code == 401
        assert Reading.objects.count() == 0

    def test_a_key_may_not_read(self, device, sensor):
        entries = denied_entries().count()
        assert device.get(URL).status_code == 403
        readings.ingest([{"sensor": sensor.code, **item(1)}], source=Source.MQTT)
        pk = Reading.objects.get().pk
        assert device.get(f"{URL}{pk}/").status_code == 403
        assert device.get("/api/sensors/").status_code in (401, 403)
        assert denied_entries().count() >= entries + 2
        assert (
            "只能用於回報讀數" in denied_entries().filter(object_id=str(sensor.pk)).last().message
        )


class TestPostByPeople:
    def test_a_system_administrator_posts_any_sensor_as_themselves(self, admin, room, sensor):
        other = sensor_of(admin, room, "srv-2")
        c = token_client(admin)
        response = post(c, [{"sensor": sensor.code, **item(2)}, {"sensor": other.code, **item(1)}])
        assert response.status_code == 201 and response.json()["accepted"] == 2
        assert set(Reading.objects.values_list("recorded_by", flat=True)) == {admin.pk}
        entry = AuditEntry.objects.filter(model_label="facilities.reading").get()
        assert entry.actor_id == admin.pk
        missing = post(c, item(1))  # no sensor named: a person's token names it
        assert missing.status_code == 400 and "sensor" in missing.json()

    @pytest.mark.parametrize("role", [STAFF, EQUIPMENT_HEAD, SECURITY_OFFICER])
    def test_other_peoples_tokens_are_403(self, role, sensor):
        response = post(token_client(user(f"p-{role}", role)), {"sensor": sensor.code, **item()})
        assert response.status_code == 403
        assert Reading.objects.count() == 0

    def test_anonymous_is_401(self, client, sensor):
        assert post(client, {"sensor": sensor.code, **item()}).status_code == 401


# The examples on the sensor's page ----------------------------------------------------------------
def test_the_python_example_reports_a_reading(monkeypatch, device, key, sensor):
    """The page's Python example, its key pasted: its request is accepted (201)."""
    import urllib.request

    script = views_readings.python_example("http://testserver" + URL, sensor.code)
    script = script.replace(views_readings.KEY_PLACEHOLDER, key)
    sent = {}

    class Answer:
        def __init__(self, response):
            self.response = response

        def read(self):
            return self.response.content

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def urlopen(request, timeout=None):
        sent["headers"] = dict(request.header_items())
        response = key_client(key).post(
            request.full_url.removeprefix("http://testserver"),
            request.data,
            content_type=sent["headers"]["Content-type"],
        )
        return Answer(response)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    namespace = {"__name__": "example"}
    exec(compile(script, "example.py", "exec"), namespace)
    assert namespace["report"](23.4, 55.2) == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert sent["headers"]["Authorization"] == f"Token {key}"
    reading = Reading.objects.get()
    assert (reading.temperature_c, reading.humidity_pct, reading.sensor) == (23.4, 55.2, sensor)


@pytest.mark.parametrize("example", ["curl_one_example", "curl_batch_example"])
def test_the_curl_examples_send_valid_json(tmp_path, example, key, sensor):
    import os
    import shutil
    import subprocess

    assert shutil.which("sh"), "the examples are POSIX shell scripts"
    script = getattr(views_readings, example)("http://testserver" + URL, sensor.code)
    script = script.replace(views_readings.KEY_PLACEHOLDER, key)
    # The machine's clock is not the test's frozen one.
    script = script.replace("$(date -u +%Y-%m-%dT%H:%M:%SZ)", "2026-11-29T05:59:00Z")
    script = script.replace("$(date +%s)", str(int(NOW.timestamp()) - 60))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    curl = bin_dir / "curl"
    curl.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/args\ncat > {tmp_path}/body\n')
    curl.chmod(0o755)
    (tmp_path / "report.sh").write_text(script)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(["sh", str(tmp_path / "report.sh")], check=True, env=env, timeout=60)
    args = (tmp_path / "args").read_text().splitlines()
    assert "http://testserver" + URL in args and f"Authorization: Token {key}" in args
    body = (tmp_path / "body").read_bytes()
    response = post(key_client(key), body, raw=True)
    assert response.status_code == 201, response.content
    assert response.json()["rejected"] == [] and response.json()["accepted"] >= 1


# The OpenAPI schema -------------------------------------------------------------------------------
def test_the_schema_documents_one_reading_or_a_batch():
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    post_ = schema["paths"]["/api/environment-readings/"]["post"]
    body = post_["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"][0]["type"] == "object" and body["oneOf"][1]["type"] == "array"
    assert {"sensorKey"} <= {k for s in post_["security"] for k in s}
    assert "201" in post_["responses"] and "400" in post_["responses"]
    assert "put" not in schema["paths"]["/api/environment-readings/{id}/"]
    assert "post" not in schema["paths"]["/api/environment-alerts/"]
