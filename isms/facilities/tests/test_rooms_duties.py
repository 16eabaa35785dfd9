"""The room duties with frozen time: server rooms inspected each month, computer classrooms
each semester (a voided inspection is no evidence; a back-dated one counts for its day),
each finding put right by the end of its due day, and the records in the evidence binder."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from isms.compliance import engine, registry
from isms.compliance.models import ObligationState
from isms.core import services as core_services
from isms.core.roles import EQUIPMENT_HEAD, SYSADMIN
from isms.facilities import rooms
from isms.facilities.models import Finding, InspectionItem, Room
from isms.facilities.tests.test_rooms import all_pass, inspect, room_of, user

pytestmark = pytest.mark.django_db

Result = InspectionItem.Result
SERVER = Room.Kind.SERVER_ROOM
CLASSROOM = Room.Kind.COMPUTER_CLASSROOM
SECOND = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)


def taipei(*args) -> dt.datetime:
    """A moment given in Asia/Taipei wall-clock time (UTC+8), as UTC."""
    return dt.datetime(*args, tzinfo=dt.UTC) - dt.timedelta(hours=8)


def state_of(key, subject):
    return ObligationState.objects.filter(key=key, subject_id=str(subject.pk)).first()


def status_at(key, subject, moment):
    with time_machine.travel(moment, tick=False):
        engine.refresh(key)
    return state_of(key, subject).status


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(taipei(2026, 11, 30, 10), tick=False):
        yield


@pytest.fixture
def admin():
    return user("admin", SYSADMIN)


class TestServerRoomInspection:
    key = rooms.SERVER_ROOM_DUTY

    @pytest.fixture
    def room(self, admin):
        with time_machine.travel(taipei(2026, 10, 1, 9), tick=False):
            return room_of(admin, name="主機機房")

    def test_monthly_by_the_date_of_the_latest_inspection(self, admin, room):
        with time_machine.travel(taipei(2026, 11, 30, 10), tick=False):
            engine.refresh(self.key)
            state = state_of(self.key, room)
            assert state.status == "never_done" and state.clause == "3.1"
            assert state.responsible_role == SYSADMIN
            inspect(room, admin, day=dt.date(2026, 11, 30))  # refreshes at once
            state = state_of(self.key, room)
            assert state.status == "ok" and state.last_done_at == taipei(2026, 11, 30)
            # Due by the end of next month: 115/12/31 23:59:59 Taipei.
            assert state.next_due_at == taipei(2027, 1, 1) - SECOND
        assert status_at(self.key, room, taipei(2026, 12, 1)) == "ok"
        assert status_at(self.key, room, taipei(2026, 12, 25) - SECOND) == "ok"
        assert status_at(self.key, room, taipei(2026, 12, 25)) == "due_soon"
        assert status_at(self.key, room, taipei(2027, 1, 1) - SECOND) == "due_soon"
        assert status_at(self.key, room, taipei(2027, 1, 1)) == "overdue"

    def test_a_back_dated_inspection_counts_for_its_day(self, admin, room):
        with time_machine.travel(taipei(2026, 11, 2, 10), tick=False):
            inspect(room, admin, day=dt.date(2026, 10, 31))
            state = state_of(self.key, room)
            # October was kept; November is still to do.
            assert state.last_done_at == taipei(2026, 10, 31)
            assert state.status == "ok" and state.next_due_at == taipei(2026, 12, 1) - SECOND

    def test_a_voided_inspection_is_no_evidence(self, admin, room):
        with time_machine.travel(taipei(2026, 11, 30, 10), tick=False):
            inspection = inspect(room, admin, day=dt.date(2026, 11, 30))
            assert state_of(self.key, room).status == "ok"
            rooms.void_inspection(inspection, actor=admin, reason="登錄錯誤")
            assert state_of(self.key, room).status == "never_done"

    def test_classrooms_and_voided_rooms_have_no_monthly_duty(self, admin, room):
        classroom = room_of(admin, name="電腦教室", kind=CLASSROOM)
        engine.refresh(self.key)
        assert state_of(self.key, classroom) is None
        rooms.void_room(room, actor=admin, reason="停用")
        assert state_of(self.key, room) is None

    def test_reminders_go_to_the_rooms_keeper(self, admin, room):
        head = user("head", EQUIPMENT_HEAD)
        engine.refresh(self.key)
        ob = registry.REGISTRY[self.key]
        state = state_of(self.key, room)
        assert list(ob.recipients(state)) == [admin]
        type(admin).objects.filter(pk=admin.pk).update(is_active=False)
        assert list(ob.recipients(state)) == [head]
        assert ob.evidence_url(state) == f"/facilities/inspections/add/?room={room.pk}"
        assert ob.subject_url(state) == room.get_absolute_url()

    def test_evidence_and_history_are_one_query(self, admin, room):
        with time_machine.travel(taipei(2026, 11, 30, 10), tick=False):
            a = inspect(room, admin, day=dt.date(2026, 10, 15))
            b = inspect(room, admin, day=dt.date(2026, 11, 20))
            voided = inspect(room, admin, day=dt.date(2026, 11, 25))
            core_services.record_void(voided, actor=admin, reason="重複")
        ob = registry.REGISTRY[self.key]
        subjects = ob.subjects()
        with CaptureQueriesContext(connection) as queries:
            last = ob.evidence(subjects)
        assert len(queries) == 1 and last == {room.pk: taipei(2026, 11, 20)}
        with CaptureQueriesContext(connection) as queries:
            rows = ob.history(subjects, taipei(2026, 10, 1), taipei(2026, 12, 1))
        assert len(queries) == 1
        assert rows == [(room.pk, taipei(2026, 10, 15)), (room.pk, taipei(2026, 11, 20))]
        assert ob.history(subjects, taipei(2026, 11, 1), taipei(2026, 11, 20)) == []
        assert a.pk and b.pk


class TestClassroomInspection:
    key = rooms.CLASSROOM_DUTY

    def test_each_semester(self, admin):
        with time_machine.travel(taipei(2026, 9, 1, 9), tick=False):
            classroom = room_of(admin, name="電腦教室（一）", kind=CLASSROOM)
        with time_machine.travel(taipei(2026, 11, 30, 10), tick=False):
            engine.refresh(self.key)
            assert state_of(self.key, classroom).status == "never_done"
            inspect(classroom, admin, day=dt.date(2026, 11, 30))
            state = state_of(self.key, classroom)
            assert state.status == "ok"
            # First semester of 115 ends 116/01/31; due by the end of the next: 116/07/31.
            assert state.next_due_at == taipei(2027, 8, 1) - SECOND
        assert status_at(self.key, classroom, taipei(2027, 2, 1)) == "ok"
        assert status_at(self.key, classroom, taipei(2027, 7, 2) - SECOND) == "ok"
        assert status_at(self.key, classroom, taipei(2027, 7, 2)) == "due_soon"
        assert status_at(self.key, classroom, taipei(2027, 8, 1) - SECOND) == "due_soon"
        assert status_at(self.key, classroom, taipei(2027, 8, 1)) == "overdue"

    def test_a_voided_inspection_is_no_evidence(self, admin):
        classroom = room_of(admin, name="電腦教室（二）", kind=CLASSROOM)
        inspection = inspect(classroom, admin)
        assert state_of(self.key, classroom).status == "ok"
        rooms.void_inspection(inspection, actor=admin, reason="登錄錯誤")
        assert state_of(self.key, classroom).status == "never_done"

    def test_server_rooms_have_no_semester_duty(self, admin):
        room = room_of(admin, name="主機機房")
        engine.refresh(self.key)
        assert state_of(self.key, room) is None


class TestFindingDuty:
    key = rooms.FINDING_DUTY

    @pytest.fixture
    def finding(self, admin):
        with time_machine.travel(taipei(2026, 11, 30, 10), tick=False):
            room = room_of(admin, name="主機機房")
            inspection = inspect(room, admin, results=all_pass(room, ups=(Result.FAIL, "老化")))
        return inspection.findings.get()

    def test_due_by_the_end_of_its_due_day(self, finding):
        assert finding.due_on == dt.date(2026, 12, 30)
        end = taipei(2026, 12, 31) - SECOND
        state = state_of(self.key, finding)
        assert state.status == "ok" and state.next_due_at == end
        assert status_at(self.key, finding, end - 3 * DAY - SECOND) == "ok"
        assert status_at(self.key, finding, end - 3 * DAY) == "due_soon"
        assert status_at(self.key, finding, end - SECOND) == "due_soon"
        # The due moment is the day's last second (the engine's convention), then overdue.
        assert status_at(self.key, finding, end) == "overdue"
        assert status_at(self.key, finding, end + SECOND) == "overdue"

    def test_ok_once_resolved(self, admin, finding):
        with time_machine.travel(taipei(2027, 1, 5, 9), tick=False):
            engine.refresh(self.key)
            assert state_of(self.key, finding).status == "overdue"
            rooms.resolve_finding(finding, actor=admin, resolution="已更換電池")
            state = state_of(self.key, finding)
            assert state.status == "ok" and state.last_done_at == taipei(2027, 1, 5, 9)
        # A resolved finding leaves the dashboard after 30 days.
        with time_machine.travel(taipei(2027, 2, 5, 10), tick=False):
            engine.refresh(self.key)
            assert state_of(self.key, finding) is None

    def test_a_voided_finding_has_no_duty(self, admin, finding):
        rooms.void_finding(finding, actor=admin, reason="誤判")
        assert state_of(self.key, finding) is None

    def test_reminders_go_to_the_assignee(self, admin, finding):
        ob = registry.REGISTRY[self.key]
        state = state_of(self.key, finding)
        assert list(ob.recipients(state)) == [admin]
        assert ob.subject_url(state) == finding.get_absolute_url()

    def test_history_gives_resolutions_in_range(self, admin, finding):
        with time_machine.travel(taipei(2026, 12, 10, 9), tick=False):
            rooms.resolve_finding(finding, actor=admin, resolution="已更換電池")
        ob = registry.REGISTRY[self.key]
        subjects = ob.all_subjects()
        rows = ob.history(subjects, taipei(2026, 12, 1), taipei(2027, 1, 1))
        assert rows == [(finding.pk, taipei(2026, 12, 10, 9))]
        assert ob.history(subjects, taipei(2027, 1, 1), taipei(2027, 2, 1)) == []
        assert Finding.objects.count() == 1


def test_the_records_are_in_the_evidence_binder():
    rooms_records = registry.RECORDS["facilities.room"]
    assert rooms_records.clause == "3.1" and not rooms_records.date_field
    inspections = registry.RECORDS["facilities.inspection"]
    assert inspections.date_field == "inspected_on"
    assert rooms.SERVER_ROOM_DUTY in inspections.obligations
    assert rooms.CLASSROOM_DUTY in inspections.obligations
    findings = registry.RECORDS["facilities.finding"]
    assert findings.obligations == (rooms.FINDING_DUTY,)
