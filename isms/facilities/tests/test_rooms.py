"""Rooms (3.1–3.4): the three registers per role, room rules (thresholds, unique name,
keeper), controls per kind and the not-applicable rule, inspections (every control, a
failure explained, dates), findings made once per failed item, their resolution and the
overdue flag, and the API's field errors. The duties are in ``test_rooms_duties``."""

import datetime as dt
import json

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from isms.audit.models import AuditEntry
from isms.core import services as core_services
from isms.core.models import Person, User
from isms.core.roles import (
    EQUIPMENT_HEAD,
    GUARD,
    MANAGERS,
    PRINCIPAL,
    SECURITY_OFFICER,
    STAFF,
    SUPERVISOR,
    SYSADMIN,
)
from isms.core.testing import ROLE_CASES, RegisterContract, roles_for
from isms.facilities import rooms
from isms.facilities.models import (
    SERVER_ROOM_ONLY,
    Alert,
    Control,
    Finding,
    Inspection,
    InspectionItem,
    Reading,
    Room,
    RoomControl,
    Sensor,
)
from isms.facilities.views_rooms import FindingRegister, InspectionRegister, RoomRegister

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)  # Monday 115/11/30 10:00 in Taipei
TODAY = dt.date(2026, 11, 30)
DAY = dt.timedelta(days=1)
KEEPERS = frozenset({SYSADMIN, EQUIPMENT_HEAD})
READERS = MANAGERS | KEEPERS
State = RoomControl.State
Result = InspectionItem.Result
Status = Finding.Status
SERVER = Room.Kind.SERVER_ROOM
CLASSROOM = Room.Kind.COMPUTER_CLASSROOM
ALL = [c.value for c in Control]


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


# Helpers -----------------------------------------------------------------------------------------
def user(username, *roles, **fields):
    found = User.objects.filter(username=username).first()
    if found is not None:
        return found
    fields.setdefault("email", f"{username}@school.example")
    u = User.objects.create_user(
        username=username,
        password="Xk7#pq92mv",
        person=Person.objects.create(name=f"人員{username}"),
        password_changed_at=NOW,
        **fields,
    )
    for role in roles:
        u.groups.add(Group.objects.get_or_create(name=role)[0])
    return u


def login(u):
    c = Client()
    c.force_login(u)
    c.user = u
    return c


def token_client(u):
    _token, key = core_services.token_create(user=u, name="test", actor=u)
    c = Client()
    c.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return c


def post_json(c, url, body):
    return c.post(url, json.dumps(body), content_type="application/json")


def room_of(actor, **values):
    values.setdefault("keeper", actor)
    values.setdefault("kind", SERVER)
    values.setdefault("name", f"機房{Room.objects.count() + 1}")
    return rooms.save_room(Room(**values), actor=actor)


def all_pass(room, **overrides):
    """A result per control: 符合, or 不適用 where the room says so."""
    states = dict(room.controls.values_list("control", "state"))
    results = {
        c: (Result.NOT_APPLICABLE if states.get(c) == State.NOT_APPLICABLE else Result.PASS, "")
        for c in ALL
    }
    results.update(overrides)
    return results


def inspect(room, actor, day=TODAY, results=None, **values):
    results = all_pass(room) if results is None else results
    return rooms.save_inspection(
        Inspection(room=room, inspected_on=day, **values), results, actor=actor
    )


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


@pytest.fixture
def admin():
    return user("admin", SYSADMIN)


@pytest.fixture
def head():
    return user("head", EQUIPMENT_HEAD)


@pytest.fixture
def officer():
    return user("officer", SECURITY_OFFICER)


@pytest.fixture
def room(admin):
    return room_of(admin, name="行政大樓主機機房")


@pytest.fixture
def classroom(admin):
    return room_of(admin, name="電腦教室（一）", kind=CLASSROOM)


def result_fields(results: dict) -> dict:
    data = {}
    for control, (result, note) in results.items():
        data[f"result_{control}"] = result
        data[f"item_note_{control}"] = note
    return data


# The registers: pages and API for every role -----------------------------------------------------
class TestRoomRegister(RegisterContract):
    register = RoomRegister
    api_prefix = "rooms"
    readers = READERS
    writers = KEEPERS

    @pytest.fixture(autouse=True)
    def _made_before(self):
        self.keeper()  # made before a test counts the audit entries

    def keeper(self):
        return user("contract-keeper", SYSADMIN)

    def make_sample(self, **overrides):
        return room_of(self.keeper(), **overrides)

    def form_data(self):
        return {
            "name": "新建主機機房",
            "kind": "server_room",
            "location": "行政大樓 3F",
            "keeper": self.keeper().pk,
            "monitored": "on",
            "temperature_min": "20",
            "temperature_max": "25",
            "humidity_min": "50",
            "humidity_max": "70",
            "notes": "",
        }

    def change_data(self, obj):
        data = self.form_data()
        data.update(name=obj.name, kind=obj.kind, location="行政大樓 4F")
        return data

    def invalid_form_data(self):
        data = self.form_data()
        data.update(temperature_min="30", temperature_max="20")
        return data

    def api_data(self):
        data = self.form_data()
        data["monitored"] = True
        return data

    def invalid_api_data(self):
        return {**self.api_data(), "humidity_max": "120"}

    def assert_one_write_audited(self, entries_before, user):
        # A new room comes with its controls: every entry names the writer.
        new = AuditEntry.objects.order_by("-id")[: self.entries() - entries_before]
        assert any(e.model_label == "facilities.room" for e in new)
        assert {e.actor_id for e in new} == {user.pk}

    def test_add_saves_one_record_with_one_audit_entry(self, client_for):
        c = self.writer(client_for)
        last = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        response = c.post(self.url("add"), self.form_data())
        assert response.status_code == 302, response.context["form"].errors
        room = Room.objects.get(name="新建主機機房")
        entries = AuditEntry.objects.filter(id__gt=last)
        assert entries.filter(model_label="facilities.room", action="create").count() == 1
        assert entries.filter(model_label="facilities.roomcontrol", action="create").count() == 11
        assert set(entries.values_list("actor_id", flat=True)) == {c.user.pk}
        assert room.controls.count() == len(Control)


class TestInspectionRegister(RegisterContract):
    register = InspectionRegister
    api_prefix = "room-inspections"
    readers = READERS
    writers = KEEPERS

    @pytest.fixture(autouse=True)
    def _made_before(self):
        self.the_room()  # made before a test counts the audit entries

    def keeper(self):
        return user("contract-keeper", SYSADMIN)

    def the_room(self):
        found = Room.objects.filter(name="契約測試機房").first()
        return found or room_of(self.keeper(), name="契約測試機房")

    def make_sample(self, **overrides):
        return inspect(self.the_room(), self.keeper(), **overrides)

    def form_data(self):
        room = self.the_room()
        return {
            "room": room.pk,
            "inspected_on": "115/11/30",
            "inspector": self.keeper().pk,
            "temperature_c": "22.5",
            "humidity_pct": "55",
            "note": "例行檢查",
            **result_fields(all_pass(room)),
        }

    def change_data(self, obj):
        data = self.form_data()
        data["note"] = "例行檢查（補充）"
        return data

    def invalid_form_data(self):
        data = self.form_data()
        data[f"result_{Control.UPS}"] = "fail"  # without a note
        return data

    def api_data(self):
        room = self.the_room()
        return {
            "room": room.pk,
            "inspected_on": "2026-11-30",
            "temperature_c": 22.5,
            "items": [{"control": c, "result": "pass"} for c in ALL],
        }

    def invalid_api_data(self):
        data = self.api_data()
        data["items"] = data["items"][1:]  # one control without a result
        return data

    def assert_one_write_audited(self, entries_before, user):
        new = AuditEntry.objects.order_by("-id")[: self.entries() - entries_before]
        assert any(e.model_label == "facilities.inspection" for e in new)
        assert {e.actor_id for e in new} == {user.pk}

    def test_add_saves_one_record_with_one_audit_entry(self, client_for):
        c = self.writer(client_for)
        last = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        response = c.post(self.url("add"), self.form_data())
        assert response.status_code == 302, response.context["form"].errors
        inspection = Inspection.objects.get()
        assert inspection.items.count() == len(Control)
        entries = AuditEntry.objects.filter(id__gt=last)
        assert entries.filter(model_label="facilities.inspection", action="create").count() == 1
        assert entries.filter(model_label="facilities.inspectionitem").count() == 11
        assert set(entries.values_list("actor_id", flat=True)) == {c.user.pk}


class TestFindingRegister(RegisterContract):
    register = FindingRegister
    api_prefix = "room-findings"
    readers = READERS
    writers = KEEPERS

    @pytest.fixture(autouse=True)
    def _made_before(self):
        self.the_room()  # made before a test counts the audit entries

    def keeper(self):
        return user("contract-keeper", SYSADMIN)

    def the_room(self):
        found = Room.objects.filter(name="契約測試機房").first()
        return found or room_of(self.keeper(), name="契約測試機房")

    def make_sample(self, **overrides):
        room = self.the_room()
        results = all_pass(room, **{Control.UPS.value: (Result.FAIL, "UPS 電池老化")})
        inspection = inspect(room, self.keeper(), results=results)
        return inspection.findings.get()

    def form_data(self):
        return {}

    def change_data(self, obj):
        return {
            "description": "UPS 電池老化，需更換",
            "assignee": obj.assignee_id,
            "due_on": "115/12/15",
        }

    # Findings come from inspections: no add page, no POST to the list.
    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_add_page_answers_by_role(self, role, client_for):
        with pytest.raises(NoReverseMatch):
            self.url("add")
        c = client_for(*roles_for(role))
        assert c.get("/facilities/findings/add/").status_code in (403, 404)

    def test_add_saves_one_record_with_one_audit_entry(self, client_for):
        c = self.writer(client_for)
        assert c.post("/facilities/findings/add/", {}).status_code in (403, 404)
        assert Finding.objects.count() == 0

    def test_add_refuses_bad_input_and_saves_nothing(self, client_for):
        self.test_add_saves_one_record_with_one_audit_entry(client_for)

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_api_create_answers_by_role(self, role, client_for):
        finding = self.make_sample()
        c = self.api_client(client_for, role)
        body = json.dumps({"room": finding.room_id, "inspection": finding.inspection_id})
        response = c.post(self.api_url(), body, content_type="application/json")
        assert response.status_code in (403, 405)
        assert Finding.objects.count() == 1

    def test_api_create_refuses_bad_input_with_field_errors(self, client_for):
        c = self.api_client(client_for, SYSADMIN)
        for body in ("{}", "{not json"):
            response = c.post(self.api_url(), body, content_type="application/json")
            assert response.status_code in (400, 403, 405)
        assert Finding.objects.count() == 0


# Rooms --------------------------------------------------------------------------------------------
class TestRoomRules:
    @pytest.mark.parametrize(
        "field,value",
        [
            ("temperature_min", "-40.5"),
            ("temperature_max", "80.5"),
            ("humidity_min", "-1"),
            ("humidity_max", "100.5"),
        ],
    )
    def test_each_bound_within_what_a_display_shows(self, admin, field, value):
        before = Room.objects.count()
        with pytest.raises(ValidationError) as excinfo:
            room_of(admin, **{field: value})
        assert "條文 3.2" in errors_of(excinfo)[field][0]
        assert Room.objects.count() == before

    def test_the_extremes_are_accepted(self, admin):
        r = room_of(
            admin, temperature_min=-40, temperature_max=80, humidity_min=0, humidity_max=100
        )
        r.refresh_from_db()
        assert (r.temperature_min, r.humidity_max) == (-40, 100)

    @pytest.mark.parametrize("low,high", [(25, 25), (26, 25)])
    def test_the_lower_bound_below_the_upper(self, admin, low, high):
        with pytest.raises(ValidationError) as excinfo:
            room_of(admin, temperature_min=low, temperature_max=high, humidity_min=70)
        errors = errors_of(excinfo)
        assert errors["temperature_max"] == ["溫度上限須高於下限（條文 3.2）。"]
        assert errors["humidity_max"] == ["濕度上限須高於下限（條文 3.2）。"]

    def test_the_policys_defaults(self, admin):
        r = room_of(admin)
        assert (r.temperature_min, r.temperature_max) == (20, 25)
        assert (r.humidity_min, r.humidity_max) == (50, 70)

    def test_name_required_and_unique_among_rooms_in_use(self, admin, room):
        with pytest.raises(ValidationError) as excinfo:
            room_of(admin, name="  ")
        assert "name" in errors_of(excinfo)
        with pytest.raises(ValidationError) as excinfo:
            room_of(admin, name=" 行政大樓主機機房 ", kind=CLASSROOM)
        assert errors_of(excinfo)["name"] == ["已有同名的機房或電腦教室（條文 3.1）。"]
        core_services.record_void(room, actor=admin, reason="搬遷")
        assert room_of(admin, name="行政大樓主機機房").pk != room.pk

    def test_changing_a_room_keeps_its_own_name(self, admin, room):
        room.location = "4F"
        rooms.save_room(room, actor=admin)

    @pytest.mark.parametrize(
        "roles,ok",
        [((SYSADMIN,), True), ((EQUIPMENT_HEAD,), True), ((STAFF,), False), ((SUPERVISOR,), False)],
    )
    def test_keeper_holds_a_keepers_role(self, admin, roles, ok):
        keeper = user("k-" + "-".join(roles), *roles)
        if ok:
            assert room_of(admin, keeper=keeper).keeper == keeper
        else:
            with pytest.raises(ValidationError) as excinfo:
                room_of(admin, keeper=keeper)
            assert errors_of(excinfo)["keeper"] == ["管理人須為在職的系統管理人員或設備組長。"]

    def test_keeper_must_be_active(self, admin):
        gone = user("gone", SYSADMIN, is_active=False)
        with pytest.raises(ValidationError) as excinfo:
            room_of(admin, keeper=gone)
        assert "keeper" in errors_of(excinfo)

    @pytest.mark.parametrize("role", [SECURITY_OFFICER, SUPERVISOR, PRINCIPAL, STAFF, GUARD])
    def test_only_keepers_save_rooms(self, admin, role):
        with pytest.raises(PermissionDenied):
            rooms.save_room(Room(name="x", kind=SERVER, keeper=admin), actor=user("u", role))

    def test_a_server_room_gets_every_control_absent(self, room):
        states = dict(room.controls.values_list("control", "state"))
        assert set(states) == set(ALL)
        assert set(states.values()) == {State.ABSENT}

    def test_a_classroom_needs_no_server_room_controls(self, classroom):
        states = dict(classroom.controls.values_list("control", "state"))
        assert set(states) == set(ALL)
        for control, state in states.items():
            expected = State.NOT_APPLICABLE if control in SERVER_ROOM_ONLY else State.ABSENT
            assert state == expected, control

    def test_a_classroom_turned_server_room_needs_reasons_again(self, admin, classroom):
        rooms.save_controls(
            classroom,
            {Control.UPS.value: (State.NOT_APPLICABLE, "由行政大樓 UPS 供電")},
            actor=admin,
        )
        classroom.kind = SERVER
        rooms.save_room(classroom, actor=admin)
        states = dict(classroom.controls.values_list("control", "state"))
        assert states[Control.UPS] == State.NOT_APPLICABLE  # it has its reason
        assert states[Control.CLIMATE_CONTROL] == State.ABSENT

    def test_a_room_with_open_findings_is_not_voided(self, admin, room):
        inspect(room, admin, results=all_pass(room, ups=(Result.FAIL, "電池老化")))
        with pytest.raises(ValidationError):
            rooms.void_room(room, actor=admin, reason="搬遷")
        response = login(admin).post(
            reverse("facilities:room_void", args=[room.pk]), {"reason": "搬遷"}
        )
        assert response.status_code == 400
        room.refresh_from_db()
        assert room.voided_at is None


# Controls ----------------------------------------------------------------------------------------
class TestControls:
    def test_a_server_room_gives_a_reason_for_not_applicable(self, admin, room):
        with pytest.raises(ValidationError) as excinfo:
            rooms.save_controls(room, {"ups": (State.NOT_APPLICABLE, " ")}, actor=admin)
        assert errors_of(excinfo) == {
            "ups": ["主機機房的控制措施設為不適用時，請在說明寫明理由（條文 3.3）。"]
        }
        rooms.save_controls(room, {"ups": (State.NOT_APPLICABLE, "由校區總 UPS 供電")}, actor=admin)
        assert room.controls.get(control="ups").state == State.NOT_APPLICABLE

    def test_a_classroom_marks_server_room_controls_not_applicable_freely(self, admin, classroom):
        changed = rooms.save_controls(
            classroom,
            {"ups": (State.NOT_APPLICABLE, ""), "emergency_lighting": (State.PRESENT, "")},
            actor=admin,
        )
        assert [rc.control for rc in changed] == ["emergency_lighting"]
        with pytest.raises(ValidationError) as excinfo:
            rooms.save_controls(
                classroom, {"access_control": (State.NOT_APPLICABLE, "")}, actor=admin
            )
        assert "條文 3.1.3" in errors_of(excinfo)["access_control"][0]

    def test_one_audit_entry_per_changed_control_with_the_actor(self, head, room):
        last = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()
        rooms.save_controls(
            room,
            {
                "ups": (State.PRESENT, "UPS 10kVA 兩台"),
                "earthing": (State.PRESENT, ""),
                "cable_protection": (State.ABSENT, ""),  # unchanged
            },
            actor=head,
        )
        entries = AuditEntry.objects.filter(id__gt=last)
        assert entries.count() == 2
        assert {e.actor_id for e in entries} == {head.pk}
        assert {e.model_label for e in entries} == {"facilities.roomcontrol"}

    def test_nothing_is_saved_when_one_control_is_refused(self, admin, room):
        with pytest.raises(ValidationError):
            rooms.save_controls(
                room,
                {"ups": (State.PRESENT, ""), "earthing": (State.NOT_APPLICABLE, "")},
                actor=admin,
            )
        assert room.controls.get(control="ups").state == State.ABSENT

    def test_the_page_saves_every_control_at_once(self, admin, room):
        c = login(admin)
        url = reverse("facilities:room_controls", args=[room.pk])
        assert c.get(url).status_code == 200
        data = {f"state_{ctl}": State.PRESENT for ctl in ALL}
        data["state_ups"] = State.NOT_APPLICABLE
        response = c.post(url, data)
        assert response.status_code == 400
        assert "請在說明寫明理由" in response.content.decode()
        assert room.controls.filter(state=State.PRESENT).count() == 0
        data["detail_ups"] = "由校區總 UPS 供電"
        response = c.post(url, data)
        assert response.status_code == 302
        assert room.controls.filter(state=State.PRESENT).count() == 10

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_the_page_by_role(self, role, client_for, room):
        c = client_for(*roles_for(role))
        url = reverse("facilities:room_controls", args=[room.pk])
        response = c.post(url, {f"state_{ctl}": State.PRESENT for ctl in ALL})
        if role in KEEPERS:
            assert response.status_code == 302
        else:
            assert response.status_code == 403
            assert room.controls.filter(state=State.PRESENT).count() == 0

    def test_api_sets_controls_and_answers_400_with_field_errors(self, admin, room):
        c = token_client(admin)
        url = f"/api/rooms/{room.pk}/controls/"
        bad = post_json(c, url, {"controls": [{"control": "ups", "state": "not_applicable"}]})
        assert bad.status_code == 400 and "ups" in bad.json()
        junk = post_json(c, url, {"controls": [{"control": "laser", "state": "present"}]})
        assert junk.status_code == 400 and "controls" in junk.json()
        ok = post_json(c, url, {"controls": [{"control": "ups", "state": "present"}]})
        assert ok.status_code == 200
        states = {r["control"]: r["state"] for r in ok.json()["controls"]}
        assert states["ups"] == "present" and ok.json()["absent_controls"] == 10
        assert (
            post_json(token_client(user("o", SUPERVISOR)), url, {"controls": []}).status_code == 403
        )

    def test_gaps_in_the_list_and_on_the_room_page(self, admin, room, classroom):
        rooms.save_controls(room, {"ups": (State.PRESENT, "")}, actor=admin)
        c = login(user("boss", SUPERVISOR))
        listing = c.get(reverse("facilities:room_list"))
        assert listing.status_code == 200
        body = listing.content.decode()
        assert "未設置控制措施" in body
        rows = {r.name: r for r in RoomRegister.base_queryset()}
        assert rows[room.name].absent_count == 10
        assert rows[classroom.name].absent_count == 6
        page = c.get(room.get_absolute_url()).content.decode()
        assert page.count("data-gap>") == 10
        page = c.get(classroom.get_absolute_url()).content.decode()
        assert "data-gap>" not in page
        gaps = c.get(reverse("facilities:room_list"), {"gaps": "yes"})
        assert gaps.status_code == 200


class TestRoomPage:
    def test_environment_from_the_other_slices(self, admin, room):
        c = login(admin)
        page = c.get(room.get_absolute_url())
        assert page.status_code == 200
        assert "尚無溫濕度讀數" in page.content.decode()
        sensor = Sensor.objects.create(room=room, code="srv-1", name="機櫃感測器")
        Reading.objects.create(
            room=room,
            sensor=sensor,
            measured_at=NOW - DAY,
            temperature_c=22,
            humidity_pct=60,
            source=Reading.Source.HTTP,
        )
        Reading.objects.create(
            room=room,
            sensor=sensor,
            measured_at=NOW,
            temperature_c=28.5,
            humidity_pct=60,
            source=Reading.Source.HTTP,
        )
        Alert.objects.create(
            room=room,
            sensor=sensor,
            kind=Alert.Kind.EXCURSION,
            scope=f"sensor:{sensor.pk}",
            opened_at=NOW,
            reason="溫度 28.5°C 高於上限 25°C",
        )
        body = c.get(room.get_absolute_url()).content.decode()
        assert "28.5 °C" in body and "超出範圍" in body and "data-alerts" in body
        assert "srv-1" in body

    def test_the_room_page_keeps_its_query_count(self, admin, room):
        c = login(admin)
        c.get(room.get_absolute_url())
        with CaptureQueriesContext(connection) as few:
            assert c.get(room.get_absolute_url()).status_code == 200
        for n in range(4):
            inspect(room, admin, results=all_pass(room, ups=(Result.FAIL, f"缺失{n}")))
            sensor = Sensor.objects.create(room=room, code=f"s{n}", name=f"感測器{n}")
            Alert.objects.create(
                room=room,
                sensor=sensor,
                kind=Alert.Kind.SILENCE,
                scope=f"sensor:{sensor.pk}",
                opened_at=NOW,
                reason="未回報",
            )
        with CaptureQueriesContext(connection) as many:
            assert c.get(room.get_absolute_url()).status_code == 200
        assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


# Inspections -------------------------------------------------------------------------------------
class TestInspectionRules:
    def test_every_control_needs_a_result(self, admin, room):
        results = all_pass(room)
        del results["ups"]
        with pytest.raises(ValidationError) as excinfo:
            inspect(room, admin, results=results)
        assert errors_of(excinfo) == {"items.ups": ["「不斷電系統（UPS）」請選擇檢查結果。"]}
        assert Inspection.objects.count() == 0 and InspectionItem.objects.count() == 0

    def test_a_control_the_room_marks_not_applicable_defaults_so(self, admin, classroom):
        results = all_pass(classroom)
        for control in SERVER_ROOM_ONLY:
            del results[control.value]
        inspection = inspect(classroom, admin, results=results)
        items = dict(inspection.items.values_list("control", "result"))
        assert len(items) == len(Control)
        assert all(items[c.value] == Result.NOT_APPLICABLE for c in SERVER_ROOM_ONLY)

    def test_a_failure_needs_a_note(self, admin, room):
        with pytest.raises(ValidationError) as excinfo:
            inspect(room, admin, results=all_pass(room, earthing=(Result.FAIL, "  ")))
        assert errors_of(excinfo) == {
            "items.earthing": ["「電源接地或避雷裝置」不符合時請說明缺失情形（條文 3.1.2）。"]
        }

    def test_date_not_in_the_future_but_before_the_room_was_registered(self, admin, room):
        with pytest.raises(ValidationError) as excinfo:
            inspect(room, admin, day=TODAY + DAY)
        assert errors_of(excinfo)["inspected_on"] == ["檢查日期不可晚於今天。"]
        # A room existed before the school registered it: earlier paper inspections count.
        assert inspect(room, admin, day=TODAY - 30 * DAY).inspected_on == TODAY - 30 * DAY
        assert inspect(room, admin, day=TODAY).inspected_on == TODAY

    def test_inspector_is_the_actor_by_default_and_a_keeper(self, admin, head, room):
        assert inspect(room, head).inspector == head
        with pytest.raises(ValidationError) as excinfo:
            inspect(room, admin, inspector=user("teacher", STAFF))
        assert "inspector" in errors_of(excinfo)

    def test_readings_within_what_a_display_shows(self, admin, room):
        with pytest.raises(ValidationError) as excinfo:
            inspect(room, admin, temperature_c=95, humidity_pct=-3)
        assert set(errors_of(excinfo)) == {"temperature_c", "humidity_pct"}

    @pytest.mark.parametrize("role", [SECURITY_OFFICER, STAFF, GUARD])
    def test_only_keepers_inspect(self, room, role):
        with pytest.raises(PermissionDenied):
            inspect(room, user("x", role))

    def test_corrected_within_seven_days_of_entry(self, admin, head, room):
        inspection = inspect(room, admin)
        inspection.note = "補充"
        rooms.save_inspection(inspection, None, actor=head)  # any keeper
        with time_machine.travel(NOW + 7 * DAY, tick=False):
            inspection.note = "再補充"
            with pytest.raises(ValidationError) as excinfo:
                rooms.save_inspection(inspection, None, actor=admin)
            assert "7 天內" in errors_of(excinfo)["__all__"][0]
            c = login(admin)
            response = c.get(reverse("facilities:inspection_edit", args=[inspection.pk]))
            assert response.status_code == 302

    def test_the_checklist_page_records_an_inspection(self, admin, room):
        c = login(admin)
        page = c.get(reverse("facilities:inspection_add"), {"room": room.pk})
        assert page.status_code == 200 and "data-checklist" in page.content.decode()
        data = {
            "room": room.pk,
            "inspected_on": "115/11/30",
            "inspector": admin.pk,
            **result_fields(all_pass(room, ups=(Result.FAIL, ""))),
        }
        response = c.post(reverse("facilities:inspection_add"), data)
        assert response.status_code == 400
        assert "不符合時請說明缺失情形" in response.content.decode()
        assert Inspection.objects.count() == 0
        data["item_note_ups"] = "UPS 電池老化"
        response = c.post(reverse("facilities:inspection_add"), data)
        assert response.status_code == 302
        assert Finding.objects.get().description == "UPS 電池老化"
        page = c.get(response["Location"]).content.decode()
        assert 'data-item="ups"' in page and "data-finding=" in page
        listing = c.get(reverse("facilities:inspection_list"), {"q": "電池"})
        assert listing.context["page_obj"].paginator.count == 1
        assert listing.context["page_obj"].object_list[0].fail_count == 1

    def test_api_answers_400_with_field_errors(self, admin, room):
        c = token_client(admin)
        items = [{"control": ctl, "result": "pass"} for ctl in ALL]
        items[0] = {"control": ALL[0], "result": "fail"}
        body = {"room": room.pk, "inspected_on": "2026-12-25", "items": items}
        response = post_json(c, "/api/room-inspections/", body)
        assert response.status_code == 400
        errors = response.json()
        assert "inspected_on" in errors and ALL[0] in errors["items"]
        dup = post_json(c, "/api/room-inspections/", {**body, "items": items + items[:1]})
        assert dup.status_code == 400 and "items" in dup.json()
        assert Inspection.objects.count() == 0

    def test_api_records_with_a_failure_and_its_finding(self, admin, room):
        c = token_client(admin)
        items = [{"control": ctl, "result": "pass"} for ctl in ALL]
        items[-1] = {"control": ALL[-1], "result": "fail", "note": "線材外露"}
        response = post_json(
            c,
            "/api/room-inspections/",
            {"room": room.pk, "inspected_on": "115/11/30", "items": items},
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["inspector"] == admin.pk and len(body["items"]) == 11
        assert len(body["findings"]) == 1


class TestFindingsFromInspections:
    def test_one_finding_per_failed_item(self, admin, head, room, settings):
        settings.ISMS_FACILITY_FINDING_DAYS = 10
        inspection = inspect(
            room,
            admin,
            results=all_pass(room, ups=(Result.FAIL, "電池老化"), earthing=(Result.FAIL, "未接地")),
        )
        findings = {f.control: f for f in inspection.findings.all()}
        assert set(findings) == {"ups", "earthing"}
        f = findings["ups"]
        assert (f.assignee, f.due_on, f.description, f.status) == (
            admin,
            TODAY + 10 * DAY,
            "電池老化",
            Status.OPEN,
        )
        assert f.room == room

    def test_editing_keeps_findings_in_step_without_duplicates(self, admin, room):
        inspection = inspect(room, admin, results=all_pass(room, ups=(Result.FAIL, "電池老化")))
        rooms.save_inspection(
            inspection, all_pass(room, ups=(Result.FAIL, "電池老化，已報修")), actor=admin
        )
        assert inspection.findings.count() == 1
        assert inspection.findings.get().description == "電池老化，已報修"
        # A failed item newly passed closes nothing; a passed item newly failed adds one.
        rooms.save_inspection(
            inspection, all_pass(room, earthing=(Result.FAIL, "未接地")), actor=admin
        )
        findings = {f.control: f.status for f in inspection.findings.all()}
        assert findings == {"ups": Status.OPEN, "earthing": Status.OPEN}
        rooms.save_inspection(
            inspection,
            all_pass(room, ups=(Result.FAIL, "x"), earthing=(Result.FAIL, "未接地")),
            actor=admin,
        )
        assert inspection.findings.count() == 2

    def test_a_corrected_date_moves_an_untouched_due_date(self, admin, room):
        with time_machine.travel(NOW - 5 * DAY, tick=False):
            r = room_of(admin, name="舊機房")
        inspection = inspect(r, admin, results=all_pass(r, ups=(Result.FAIL, "電池老化")))
        inspection.inspected_on = TODAY - 2 * DAY
        rooms.save_inspection(inspection, None, actor=admin)
        assert inspection.findings.get().due_on == TODAY - 2 * DAY + 30 * DAY

    def test_the_assignee_is_told(self, admin, head):
        from isms.notifications.models import Notification

        r = room_of(admin, keeper=head)
        inspect(r, admin, results=all_pass(r, ups=(Result.FAIL, "電池老化")))
        told = Notification.objects.get(recipient=head)
        assert "不斷電系統（UPS）" in told.subject

    def test_voiding_the_inspection_voids_its_open_findings(self, admin, room):
        inspection = inspect(room, admin, results=all_pass(room, ups=(Result.FAIL, "電池老化")))
        response = login(admin).post(
            reverse("facilities:inspection_void", args=[inspection.pk]), {"reason": "登錄錯誤"}
        )
        assert response.status_code == 302
        finding = inspection.findings.get()
        assert finding.voided_at is not None and "登錄錯誤" in finding.void_reason


class TestFindingFollowUp:
    @pytest.fixture
    def finding(self, admin, room):
        inspection = inspect(room, admin, results=all_pass(room, ups=(Result.FAIL, "電池老化")))
        return inspection.findings.get()

    def test_resolution_required_then_done(self, head, finding):
        with pytest.raises(ValidationError) as excinfo:
            rooms.resolve_finding(finding, actor=head, resolution="  ")
        assert "resolution" in errors_of(excinfo)
        rooms.resolve_finding(finding, actor=head, resolution="已更換電池")
        finding.refresh_from_db()
        assert finding.status == Status.DONE and finding.resolved_by == head
        assert finding.resolved_at == NOW and finding.resolution == "已更換電池"
        with pytest.raises(ValidationError):
            rooms.resolve_finding(finding, actor=head, resolution="again")

    def test_resolving_may_set_the_control_present(self, admin, room, finding):
        rooms.resolve_finding(finding, actor=admin, resolution="已裝設 UPS", mark_present=True)
        assert room.controls.get(control="ups").state == State.PRESENT

    @pytest.mark.parametrize("role", [SECURITY_OFFICER, SUPERVISOR, PRINCIPAL, STAFF, GUARD])
    def test_who_may_resolve(self, finding, role):
        with pytest.raises(PermissionDenied):
            rooms.resolve_finding(finding, actor=user("x", role), resolution="ok")
        finding.refresh_from_db()
        assert finding.status == Status.OPEN

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_the_resolve_page_by_role(self, role, client_for, finding):
        c = client_for(*roles_for(role))
        url = reverse("facilities:finding_resolve", args=[finding.pk])
        response = c.post(url, {"resolution": "已更換電池"})
        finding.refresh_from_db()
        if role in KEEPERS:
            assert response.status_code == 302 and finding.status == Status.DONE
        else:
            assert response.status_code == 403 and finding.status == Status.OPEN

    def test_the_resolve_page_refuses_an_empty_resolution(self, admin, finding):
        url = reverse("facilities:finding_resolve", args=[finding.pk])
        response = login(admin).post(url, {"resolution": ""})
        assert response.status_code == 400

    def test_api_resolve(self, admin, finding):
        c = token_client(admin)
        url = f"/api/room-findings/{finding.pk}/resolve/"
        assert post_json(c, url, {"resolution": ""}).status_code == 400
        boss = token_client(user("boss", SUPERVISOR))
        assert post_json(boss, url, {"resolution": "x"}).status_code == 403
        response = post_json(c, url, {"resolution": "已更換電池", "mark_present": True})
        assert response.status_code == 200 and response.json()["status"] == "done"
        assert post_json(c, url, {"resolution": "again"}).status_code == 400

    def test_a_keeper_changes_assignee_and_due_date(self, admin, head, finding):
        finding.assignee, finding.due_on = head, TODAY + 5 * DAY
        rooms.save_finding(finding, actor=admin)
        finding.refresh_from_db()
        assert (finding.assignee, finding.due_on) == (head, TODAY + 5 * DAY)
        from isms.notifications.models import Notification

        assert Notification.objects.filter(recipient=head).count() == 1
        finding.due_on = TODAY - DAY
        with pytest.raises(ValidationError) as excinfo:
            rooms.save_finding(finding, actor=admin)
        assert "不可早於檢查日期" in errors_of(excinfo)["due_on"][0]
        finding.refresh_from_db()
        finding.assignee = user("teacher", STAFF)
        with pytest.raises(ValidationError) as excinfo:
            rooms.save_finding(finding, actor=admin)
        assert "assignee" in errors_of(excinfo)
        with pytest.raises(PermissionDenied):
            rooms.save_finding(finding, actor=user("boss", SUPERVISOR))

    def test_a_done_finding_is_not_changed(self, admin, finding):
        rooms.resolve_finding(finding, actor=admin, resolution="已更換電池")
        finding.refresh_from_db()
        finding.due_on = TODAY + 40 * DAY
        with pytest.raises(ValidationError):
            rooms.save_finding(finding, actor=admin)

    def test_overdue_after_the_due_day(self, admin, finding):
        due = finding.due_on  # 30 days after TODAY
        assert not rooms.is_overdue(finding)
        with time_machine.travel(dt.datetime(2026, 12, 30, 15, 59, tzinfo=dt.UTC), tick=False):
            c = login(admin)
            assert timezone_today() == due and not rooms.is_overdue(finding)
            assert (
                c.get(reverse("facilities:finding_list"), {"overdue": "yes"})
                .context["page_obj"]
                .paginator.count
                == 0
            )
        with time_machine.travel(dt.datetime(2026, 12, 30, 16, 0, tzinfo=dt.UTC), tick=False):
            assert rooms.is_overdue(finding)
            listing = c.get(reverse("facilities:finding_list"), {"overdue": "yes"})
            assert listing.context["page_obj"].paginator.count == 1
            assert "逾期" in listing.context["rows"]
            assert c.get(finding.get_absolute_url()).context["overdue"] is True
            rooms.resolve_finding(finding, actor=admin, resolution="已更換")
            finding.refresh_from_db()
            assert not rooms.is_overdue(finding)

    def test_list_filters_by_status_and_room(self, admin, room, finding):
        c = login(admin)
        assert (
            c.get(reverse("facilities:finding_list"), {"status": "open"})
            .context["page_obj"]
            .paginator.count
            == 1
        )
        assert (
            c.get(reverse("facilities:finding_list"), {"status": "done"})
            .context["page_obj"]
            .paginator.count
            == 0
        )
        other = room_of(admin, name="另一間")
        assert (
            c.get(reverse("facilities:finding_list"), {"room": other.pk})
            .context["page_obj"]
            .paginator.count
            == 0
        )


def timezone_today():
    from django.utils import timezone

    return timezone.localdate()


def test_no_page_or_endpoint_of_rooms_answers_500_to_malformed_input(admin, room, client_for):
    from isms.core.tests.test_no_server_errors import JUNK_BODIES, JUNK_FORM, JUNK_QUERY

    inspection = inspect(room, admin, results=all_pass(room, ups=(Result.FAIL, "電池老化")))
    finding = inspection.findings.get()
    junk_form = {
        **JUNK_FORM,
        "room": "abc",
        "inspected_on": "115/02/30",
        "inspector": "-1",
        "temperature_c": "hot",
        "temperature_min": "1e9",
        "humidity_max": "NaN",
        "keeper": "x",
        "kind": "cave",
        "result_ups": "maybe",
        "state_ups": "gone",
        "due_on": "zzz",
        "assignee": "99999999",
        "mark_present": "perhaps",
        "resolution": "x" * 5000,
    }
    junk_json = [
        *JUNK_BODIES,
        json.dumps({"items": "all", "controls": {"ups": 1}, "room": [1], "resolution": None}),
        json.dumps({"items": [{"control": "ups"}, 5], "controls": [None], "temperature_min": 1e99}),
    ]
    urls = []
    for pk in (room.pk, inspection.pk, finding.pk, 99999999):
        urls += [
            f"/facilities/rooms/{pk}/",
            f"/facilities/rooms/{pk}/edit/",
            f"/facilities/rooms/{pk}/void/",
            f"/facilities/rooms/{pk}/controls/",
            f"/facilities/inspections/{pk}/",
            f"/facilities/inspections/{pk}/edit/",
            f"/facilities/inspections/{pk}/void/",
            f"/facilities/findings/{pk}/",
            f"/facilities/findings/{pk}/edit/",
            f"/facilities/findings/{pk}/resolve/",
            f"/facilities/findings/{pk}/void/",
            f"/api/rooms/{pk}/",
            f"/api/rooms/{pk}/controls/",
            f"/api/rooms/{pk}/void/",
            f"/api/room-inspections/{pk}/",
            f"/api/room-inspections/{pk}/void/",
            f"/api/room-findings/{pk}/",
            f"/api/room-findings/{pk}/resolve/",
        ]
    urls += [
        "/facilities/rooms/",
        "/facilities/rooms/add/",
        "/facilities/inspections/",
        "/facilities/inspections/add/",
        "/facilities/findings/",
        "/api/rooms/",
        "/api/room-inspections/",
        "/api/room-findings/",
    ]
    boss = client_for(SECURITY_OFFICER, superuser=True)
    keeper = login(admin)
    staff = client_for(STAFF)
    for url in urls:
        for c in (boss, keeper, staff):
            for response in (
                c.get(url, JUNK_QUERY),
                c.post(url, junk_form),
                *(c.post(url, body, content_type="application/json") for body in junk_json),
                c.patch(url, junk_json[-1], content_type="application/json"),
            ):
                assert response.status_code < 500, (url, response.status_code)
