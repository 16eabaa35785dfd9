"""Security training (5.2): sessions, attendance, hours per person and year against the
requirements, the requirements' rules, the hours duty, pages and API per role."""

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.awareness import training
from isms.awareness.models import Attendance, TrainingRequirement, TrainingSession
from isms.awareness.views_training import RequirementRegister, SessionRegister
from isms.compliance import engine
from isms.compliance.models import ObligationState
from isms.core.models import Person, Unit
from isms.core.roles import MANAGERS, SECURITY_OFFICER, STAFF, SUPERVISOR, SYSADMIN
from isms.core.testing import RegisterContract

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 28, 6, 5, tzinfo=dt.UTC)  # 115/11/28 14:05 in Taipei
WRITERS = frozenset({SECURITY_OFFICER})


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def officer(make_user):
    return make_user("officer", SECURITY_OFFICER)


def session(**values) -> TrainingSession:
    values.setdefault("title", "資安通識講習")
    values.setdefault("held_on", dt.date(2026, 11, 20))
    values.setdefault("hours", Decimal("3"))
    values.setdefault("kind", "awareness")
    return TrainingSession.objects.create(**values)


def attend(s, person, hours=None):
    return Attendance.objects.create(session=s, person=person, hours=hours or s.hours)


# Registers ----------------------------------------------------------------------------------------
class TestSessionRegister(RegisterContract):
    register = SessionRegister
    api_prefix = "trainings"
    readers = MANAGERS
    writers = WRITERS
    voiders = WRITERS

    def make_sample(self, **overrides):
        return session(**overrides)

    def form_data(self):
        return {"title": "個資保護研習", "held_on": "115/11/20", "hours": "2", "kind": "awareness"}

    def change_data(self, obj):
        return {"title": obj.title, "held_on": "115/11/21", "hours": "2.5", "kind": obj.kind}

    def invalid_form_data(self):
        return {"title": "研習", "held_on": "115/11/20", "hours": "41", "kind": "awareness"}

    def api_data(self):
        return {
            "title": "資安管理研習",
            "held_on": "2026-11-20",
            "hours": "3",
            "kind": "management",
        }

    def invalid_api_data(self):
        return {"title": "", "held_on": "2030-01-01", "hours": "0.2", "kind": "x"}


class TestRequirementRegister(RegisterContract):
    register = RequirementRegister
    api_prefix = "training-requirements"
    readers = MANAGERS
    writers = WRITERS
    counter = 0

    def make_sample(self, **overrides):
        TestRequirementRegister.counter += 1
        values = {"role": f"test{self.counter}", "kinds": ["awareness"], "hours": Decimal("2")}
        values.update(overrides)
        return TrainingRequirement.objects.create(**values)

    def form_data(self):
        return {"role": SYSADMIN, "kinds": ["professional"], "hours": "6", "notes": "系統管理"}

    def change_data(self, obj):
        return {"role": SUPERVISOR, "kinds": ["management", "awareness"], "hours": "4"}

    def invalid_form_data(self):
        return {"role": SYSADMIN, "kinds": [], "hours": "6"}

    def api_data(self):
        return {"role": "principal", "kinds": ["management"], "hours": "2"}

    def invalid_api_data(self):
        return {"role": "nobody", "kinds": ["cooking"], "hours": "500"}


# Session rules ------------------------------------------------------------------------------------
class TestSessionRules:
    def test_a_planned_session_within_a_year_is_kept(self, officer):
        s = TrainingSession(
            title="年度研習", held_on=dt.date(2027, 6, 1), hours=3, kind="awareness"
        )
        training.save_session(s, actor=officer)
        assert s.pk

    def test_more_than_a_year_ahead_is_refused(self, officer):
        s = TrainingSession(title="研習", held_on=dt.date(2027, 12, 31), hours=3, kind="awareness")
        with pytest.raises(ValidationError) as error:
            training.save_session(s, actor=officer)
        assert "held_on" in error.value.message_dict
        assert not TrainingSession.objects.exists()

    @pytest.mark.parametrize("hours", ["0.4", "40.5", "0", "-1", "2.25"])
    def test_hours_out_of_range_are_refused(self, officer, hours):
        s = TrainingSession(
            title="研習", held_on=dt.date(2026, 11, 1), hours=hours, kind="awareness"
        )
        with pytest.raises(ValidationError) as error:
            training.save_session(s, actor=officer)
        assert "5.2" in error.value.message_dict["hours"][0]

    @pytest.mark.parametrize("hours", ["0.5", "40"])
    def test_hours_at_the_bounds_are_kept(self, officer, hours):
        s = TrainingSession(
            title="研習", held_on=dt.date(2026, 11, 1), hours=hours, kind="awareness"
        )
        training.save_session(s, actor=officer)

    def test_title_and_kind_are_required(self, officer):
        s = TrainingSession(title=" ", held_on=dt.date(2026, 11, 1), hours=1, kind="cooking")
        with pytest.raises(ValidationError) as error:
            training.save_session(s, actor=officer)
        assert {"title", "kind"} <= set(error.value.message_dict)

    @pytest.mark.parametrize("role", [SUPERVISOR, STAFF, SYSADMIN])
    def test_only_the_officer_writes(self, make_user, role):
        user = make_user(f"u_{role}", role)
        s = TrainingSession(title="研習", held_on=dt.date(2026, 11, 1), hours=1, kind="awareness")
        with pytest.raises(PermissionDenied):
            training.save_session(s, actor=user)

    def test_hours_cannot_fall_below_an_attendance(self, officer, make_user):
        s = session(hours=Decimal("3"))
        attend(s, make_user("p1").person, Decimal("3"))
        s.hours = Decimal("2")
        with pytest.raises(ValidationError) as error:
            training.save_session(s, actor=officer)
        assert "hours" in error.value.message_dict

    def test_a_session_with_attendance_cannot_move_to_the_future(self, officer, make_user):
        s = session()
        attend(s, make_user("p1").person)
        s.held_on = dt.date(2026, 12, 5)
        with pytest.raises(ValidationError) as error:
            training.save_session(s, actor=officer)
        assert "held_on" in error.value.message_dict


# Attendance ---------------------------------------------------------------------------------------
class TestAttendance:
    def test_ticking_people_records_the_session_hours_with_one_audit_entry_each(
        self, officer, make_user
    ):
        s = session()
        a, b = make_user("pa").person, make_user("pb").person
        entries = AuditEntry.objects.count()
        rows = training.record_attendance(s, [a, b], actor=officer)
        assert [r.hours for r in rows] == [Decimal("3"), Decimal("3")]
        assert AuditEntry.objects.count() == entries + 2
        assert set(AuditEntry.objects.order_by("-id")[:2].values_list("actor_id", flat=True)) == {
            officer.pk
        }

    def test_fewer_hours_are_kept_more_are_refused(self, officer, make_user):
        s = session(hours=Decimal("3"))
        p, q = make_user("pa").person, make_user("pb").person
        training.record_attendance(s, [p], hours="1.5", actor=officer)
        assert Attendance.objects.get(person=p).hours == Decimal("1.5")
        with pytest.raises(ValidationError) as error:
            training.record_attendance(s, [q], hours="3.5", actor=officer)
        assert "hours" in error.value.message_dict
        with pytest.raises(ValidationError):
            training.record_attendance(s, [q], hours="0", actor=officer)
        assert not Attendance.objects.filter(person=q).exists()

    def test_not_twice(self, officer, make_user):
        s = session()
        p, q = make_user("pa").person, make_user("pb").person
        training.record_attendance(s, [p], actor=officer)
        with pytest.raises(ValidationError) as error:
            training.record_attendance(s, [q, p], actor=officer)
        assert p.name in error.value.message_dict["people"][0]
        assert Attendance.objects.count() == 1  # q not added either: all or nothing

    def test_a_future_session_is_refused(self, officer, make_user):
        s = session(held_on=dt.date(2026, 11, 29))
        with pytest.raises(ValidationError):
            training.record_attendance(s, [make_user("pa").person], actor=officer)
        today = session(held_on=dt.date(2026, 11, 28))
        training.record_attendance(today, [make_user("pb").person], actor=officer)

    def test_a_voided_session_or_a_person_who_left_is_refused(self, officer, make_user):
        s = session()
        gone = make_user("gone").person
        Person.objects.filter(pk=gone.pk).update(status=Person.Status.LEFT)
        with pytest.raises(ValidationError):
            training.record_attendance(s, [gone], actor=officer)
        training.void_session(s, actor=officer, reason="重複")
        with pytest.raises(ValidationError):
            training.record_attendance(s, [make_user("pa").person], actor=officer)

    def test_changing_hours_keeps_the_ceiling(self, officer, make_user):
        s = session(hours=Decimal("2"))
        [a] = training.record_attendance(s, [make_user("pa").person], actor=officer)
        training.change_attendance(a, hours="1", actor=officer)
        with pytest.raises(ValidationError):
            training.change_attendance(a, hours="2.5", actor=officer)
        a.refresh_from_db()
        assert a.hours == Decimal("1")

    def test_the_page_ticks_people_and_refuses_a_future_session(self, client_for, make_user):
        c = client_for(SECURITY_OFFICER)
        s = session()
        p = make_user("pa").person
        page = c.get(s.get_absolute_url())
        assert page.status_code == 200 and 'id="people-filter"' in page.content.decode()
        url = reverse("awareness:trainingsession_attend", args=[s.pk])
        assert c.post(url, {"people": [p.pk], "hours": "5"}).status_code == 400
        assert not Attendance.objects.exists()
        assert c.post(url, {"people": [p.pk]}).status_code == 302
        assert Attendance.objects.get().hours == Decimal("3")
        future = session(held_on=dt.date(2026, 12, 10))
        url = reverse("awareness:trainingsession_attend", args=[future.pk])
        assert c.post(url, {"people": [p.pk]}).status_code == 400
        assert Attendance.objects.count() == 1

    @pytest.mark.parametrize("role", [SUPERVISOR, STAFF])
    def test_others_cannot_tick(self, client_for, make_user, role):
        s = session()
        url = reverse("awareness:trainingsession_attend", args=[s.pk])
        response = client_for(role).post(url, {"people": [make_user("pa").person.pk]})
        assert response.status_code == 403
        assert not Attendance.objects.exists()

    def test_attendance_page_has_certificates_and_removal(self, client_for, make_user):
        c = client_for(SECURITY_OFFICER)
        s = session()
        a = attend(s, make_user("pa").person)
        page = c.get(a.get_absolute_url())
        assert page.status_code == 200
        assert reverse("awareness:attendance_remove", args=[a.pk]) in page.content.decode()
        assert c.post(reverse("awareness:attendance_remove", args=[a.pk])).status_code == 302
        assert not Attendance.objects.exists()
        assert AuditEntry.objects.filter(action="delete", model_label="awareness.attendance")


# Hours per person per year ------------------------------------------------------------------------
def staff_member(make_user, name, *roles, unit=None):
    user = make_user(name, *roles)
    if unit is not None:
        Person.objects.filter(pk=user.person_id).update(unit=unit)
    return user.person


class TestHoursReport:
    def test_hours_by_kind_and_requirements_per_role(self, make_user):
        it = Unit.objects.create(name="資訊組", code="it")
        officer = staff_member(make_user, "off", SECURITY_OFFICER, unit=it)
        teacher = staff_member(make_user, "tea", STAFF, unit=it)
        s1 = session(kind="management", hours=Decimal("6"), held_on=dt.date(2026, 3, 1))
        s2 = session(kind="awareness", hours=Decimal("3"), held_on=dt.date(2026, 4, 1))
        s3 = session(kind="professional", hours=Decimal("6"), held_on=dt.date(2026, 5, 1))
        last_year = session(kind="professional", hours=Decimal("6"), held_on=dt.date(2025, 12, 31))
        voided = session(kind="management", hours=Decimal("6"), held_on=dt.date(2026, 6, 1))
        TrainingSession.objects.filter(pk=voided.pk).update(voided_at=NOW)
        for s in (s1, s2, last_year, voided):
            attend(s, officer)
        attend(s3, officer, Decimal("5.5"))
        attend(s2, teacher, Decimal("2"))
        report = training.hours_report(2026)
        rows = {r["person"].pk: r for r in report["rows"]}
        off = rows[officer.pk]
        assert off["by_kind"] == [Decimal("6"), Decimal("3"), Decimal("5.5")]
        assert off["total"] == Decimal("14.5")
        by_role = {s["requirement"].role: s for s in off["standing"]}
        assert by_role[""]["met"] and by_role[""]["counted"] == Decimal("14.5")
        # 12 h of management + professional: 6 + 5.5
        assert by_role[SECURITY_OFFICER]["counted"] == Decimal("11.5")
        assert by_role[SECURITY_OFFICER]["short"] == Decimal("0.5")
        assert not off["met"]
        tea = rows[teacher.pk]
        assert [s["requirement"].role for s in tea["standing"]] == [""]
        assert tea["standing"][0]["short"] == Decimal("1")
        units = {u["unit"].pk if u["unit"] else 0: u for u in report["units"]}
        assert units[it.pk]["people"] == 2 and units[it.pk]["short"] == 2

    def test_met_people_and_filters(self, make_user):
        a_unit = Unit.objects.create(name="教務處", code="aa")
        b_unit = Unit.objects.create(name="學務處", code="bb")
        done = staff_member(make_user, "done", STAFF, unit=a_unit)
        short = staff_member(make_user, "short", STAFF, unit=b_unit)
        attend(session(hours=Decimal("3")), done)
        report = training.hours_report(2026, short_only=True)
        assert [r["person"].pk for r in report["rows"]] == [short.pk]
        report = training.hours_report(2026, unit=a_unit)
        assert [r["person"].pk for r in report["rows"]] == [done.pk] and report["rows"][0]["met"]
        units = {u["unit"].pk: u["short"] for u in training.hours_report(2026)["units"]}
        assert units == {a_unit.pk: 0, b_unit.pk: 1}

    def test_people_without_a_login_or_who_left_are_not_listed(self, make_user):
        Person.objects.create(name="無帳號")
        gone = make_user("gone", STAFF).person
        Person.objects.filter(pk=gone.pk).update(status=Person.Status.LEFT)
        assert training.hours_report(2026)["rows"] == []

    def test_the_page_keeps_its_query_count_and_exports(self, client_for, make_user):
        c = client_for(SUPERVISOR)
        s = session()
        attend(s, staff_member(make_user, "p0", STAFF))
        url = reverse("awareness:training_hours")
        with CaptureQueriesContext(connection) as few:
            assert c.get(url, {"year": "115"}).status_code == 200
        for n in range(1, 15):
            unit = Unit.objects.create(name=f"單位{n}", code=f"u{n}")
            attend(s, staff_member(make_user, f"p{n}", STAFF, SYSADMIN, unit=unit))
        with CaptureQueriesContext(connection) as many:
            response = c.get(url, {"year": "115"})
        assert response.status_code == 200
        assert len(many) == len(few)
        entries = AuditEntry.objects.count()
        csv = c.get(url, {"year": "115", "format": "csv"})
        body = b"".join(csv.streaming_content) if csv.streaming else csv.content
        assert body.startswith(b"\xef\xbb\xbf") and "測試p3".encode() in body
        assert AuditEntry.objects.count() == entries + 1

    def test_the_page_lists_each_person_escaped_with_their_standing(self, client_for, make_user):
        """The people table (built in Python): names escaped, each requirement with its
        hours and badge, the short in a warning colour; the markup the browser tests read."""
        odd_unit = Unit.objects.create(name="資訊<組>", code="odd")
        odd = staff_member(make_user, "odd", STAFF, unit=odd_unit)
        Person.objects.filter(pk=odd.pk).update(name="<b>黃</b>&小明")
        done = staff_member(make_user, "done", STAFF)
        attend(session(hours=Decimal("1.5")), odd)
        attend(session(hours=Decimal("3"), kind="management"), done)
        c = client_for(SUPERVISOR)
        url = reverse("awareness:training_hours")
        html = re.sub(r"\s+", " ", c.get(url, {"year": "115"}).content.decode())
        html = html.replace("> <", "><")
        people = html.split("data-people>", 1)[1].split("</table>", 1)[0]

        def row(person):
            return people.split(f'<tr data-person="{person.pk}"', 1)[1].split("</tr>", 1)[0]

        short = row(odd)
        assert short.startswith(' class="table-warning">')
        assert "<td>&lt;b&gt;黃&lt;/b&gt;&amp;小明</td><td>資訊&lt;組&gt;</td>" in short
        assert '<td class="text-end">1.5</td><td class="text-end">0</td>' in short
        assert (
            '<div data-requirement="all" data-met="0">全體教職員 1.5/3 '
            '<span class="badge text-bg-danger">差 1.5 小時</span></div>'
        ) in short
        met = row(done)
        assert met.startswith("><td>") and "<td>—</td>" in met
        assert (
            '<div data-requirement="all" data-met="1">全體教職員 3/3 '
            '<span class="badge text-bg-success">已達成</span></div>'
        ) in met
        empty = c.get(url, {"year": "114"}).content.decode()
        assert "沒有符合條件的人員。" not in empty  # every staff member is listed, 0 hours
        vacant = Unit.objects.create(name="空單位", code="vacant")
        nobody = c.get(url, {"year": "115", "unit": vacant.pk}).content.decode()
        assert "沒有符合條件的人員。" in nobody

    @pytest.mark.parametrize(
        ("role", "status"), [(SECURITY_OFFICER, 200), (SUPERVISOR, 200), (STAFF, 403)]
    )
    def test_report_by_role(self, client_for, role, status):
        assert client_for(role).get(reverse("awareness:training_hours")).status_code == status

    def test_a_bad_year_is_400(self, client_for):
        response = client_for(SUPERVISOR).get(reverse("awareness:training_hours"), {"year": "x"})
        assert response.status_code == 400

    def test_everyone_sees_their_own_hours(self, client_for):
        c = client_for(STAFF)
        attend(session(hours=Decimal("2")), c.user.person)
        page = c.get(reverse("awareness:training_mine"))
        assert page.status_code == 200
        html = page.content.decode()
        assert 'data-met="0"' in html and "資安通識講習" in html
        nobody = client_for(STAFF, person=False)
        assert nobody.get(reverse("awareness:training_mine")).status_code == 200


# Requirements -------------------------------------------------------------------------------------
class TestRequirements:
    def test_seeded_requirements(self):
        seeded = {r.role: r for r in TrainingRequirement.objects.all()}
        assert seeded[""].hours == Decimal("3")
        assert set(seeded[SECURITY_OFFICER].kinds) == {"management", "professional"}

    @pytest.mark.parametrize(
        ("values", "field"),
        [
            ({"role": "nobody"}, "role"),
            ({"role": SECURITY_OFFICER}, "role"),  # one per role
            ({"kinds": []}, "kinds"),
            ({"kinds": ["cooking"]}, "kinds"),
            ({"kinds": "awareness"}, "kinds"),
            ({"hours": "0.4"}, "hours"),
            ({"hours": "200.5"}, "hours"),
        ],
    )
    def test_validation(self, officer, values, field):
        data = {"role": SYSADMIN, "kinds": ["professional"], "hours": "6", **values}
        with pytest.raises(ValidationError) as error:
            training.save_requirement(TrainingRequirement(**data), actor=officer)
        assert field in error.value.message_dict
        assert not TrainingRequirement.objects.filter(role=SYSADMIN).exists()

    def test_kept_in_the_kinds_order(self, officer):
        req = TrainingRequirement(role=SYSADMIN, kinds=["professional", "management"], hours="200")
        training.save_requirement(req, actor=officer)
        assert req.kinds == ["management", "professional"]

    def test_only_the_officer(self, make_user):
        req = TrainingRequirement(role=SYSADMIN, kinds=["awareness"], hours="2")
        with pytest.raises(PermissionDenied):
            training.save_requirement(req, actor=make_user("sup", SUPERVISOR))


# The duty -----------------------------------------------------------------------------------------
def state_of(person):
    return ObligationState.objects.filter(key=training.DUTY, subject_id=str(person.pk)).first()


class TestDuty:
    def test_short_is_due_soon_near_year_end_then_overdue_met_is_ok(self, make_user):
        short = make_user("short", STAFF).person
        done = make_user("done", STAFF).person
        attend(session(held_on=dt.date(2026, 5, 2), hours=Decimal("3")), done)
        for moment, status in (
            (dt.datetime(2026, 10, 15, tzinfo=dt.UTC), "ok"),
            (dt.datetime(2026, 11, 5, tzinfo=dt.UTC), "due_soon"),  # within 60 days
            (dt.datetime(2026, 12, 20, tzinfo=dt.UTC), "due_soon"),  # within 14 days
            (dt.datetime(2027, 1, 2, tzinfo=dt.UTC), "overdue"),
        ):
            with time_machine.travel(moment, tick=False):
                engine.refresh(training.DUTY)
                assert state_of(short).status == status, moment
                assert state_of(done).status == "ok", moment
        state = state_of(done)
        assert state.last_done_at == dt.datetime(2026, 5, 1, 16, 0, tzinfo=dt.UTC)
        with time_machine.travel(dt.datetime(2027, 2, 2, tzinfo=dt.UTC), tick=False):
            engine.refresh(training.DUTY)
            assert state_of(short).status == "ok"  # the new year began
            assert state_of(done).status == "ok" and state_of(done).last_done_at is None

    def test_the_officer_must_meet_both_requirements(self, make_user):
        off = make_user("off", SECURITY_OFFICER).person
        attend(session(held_on=dt.date(2026, 2, 1), hours=Decimal("6"), kind="management"), off)
        engine.refresh(training.DUTY)
        assert state_of(off).last_done_at is None  # 6 of 12
        attend(session(held_on=dt.date(2026, 3, 1), hours=Decimal("6"), kind="professional"), off)
        engine.refresh(training.DUTY)
        assert state_of(off).last_done_at == dt.datetime(2026, 2, 28, 16, 0, tzinfo=dt.UTC)

    def test_recording_attendance_refreshes_the_duty(self, officer, make_user):
        p = make_user("p", STAFF).person
        engine.refresh(training.DUTY)
        assert state_of(p).last_done_at is None
        training.record_attendance(session(), [p], actor=officer)
        assert state_of(p).last_done_at is not None

    def test_evidence_in_constant_queries(self, make_user):
        s = session()
        attend(s, make_user("p0", STAFF).person)
        with CaptureQueriesContext(connection) as few:
            training.met_moments(2026, training.duty_people())
        for n in range(1, 10):
            attend(s, make_user(f"p{n}", STAFF, SECURITY_OFFICER).person)
        with CaptureQueriesContext(connection) as many:
            training.met_moments(2026, training.duty_people())
        assert len(many) == len(few)


# API ----------------------------------------------------------------------------------------------
class TestApi:
    def client(self, client_for):
        return TestSessionRegister().api_client(client_for, SECURITY_OFFICER)

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"held_on": "2030-01-01"}, "held_on"),
            ({"hours": "41"}, "hours"),
            ({"hours": "0.2"}, "hours"),
            ({"kind": "cooking"}, "kind"),
            ({"title": ""}, "title"),
        ],
    )
    def test_bad_sessions_are_400_with_field_errors(self, client_for, body, field):
        c = self.client(client_for)
        data = {"title": "研習", "held_on": "115/11/20", "hours": "3", "kind": "awareness", **body}
        response = c.post("/api/trainings/", json.dumps(data), content_type="application/json")
        assert response.status_code == 400
        assert field in response.json()
        assert not TrainingSession.objects.exists()

    def test_attendance_api_keeps_the_rules(self, client_for, make_user):
        c = self.client(client_for)
        s = session()
        p = make_user("pa").person
        url = "/api/training-attendances/"
        body = {"session": s.pk, "person": p.pk, "hours": "4"}
        assert c.post(url, json.dumps(body), content_type="application/json").status_code == 400
        body["hours"] = "2"
        response = c.post(url, json.dumps(body), content_type="application/json")
        assert response.status_code == 201, response.content
        again = c.post(url, json.dumps(body), content_type="application/json")
        assert again.status_code == 400 and "people" in again.json()
