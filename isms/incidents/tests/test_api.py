"""The incident API: the register by role, the services behind every write, suspected reports."""

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import resolve

from isms.audit.models import AuditEntry
from isms.core import services as core_services
from isms.core.roles import (
    ALL_ROLES,
    EQUIPMENT_HEAD,
    GUARD,
    PERSONNEL,
    PRINCIPAL,
    SECURITY_OFFICER,
    STAFF,
    SUPERVISOR,
    SYSADMIN,
)
from isms.incidents import services
from isms.incidents.api import IncidentViewSet, SuspectedReportViewSet
from isms.incidents.models import EscalationStep, Incident, TimelineEntry
from isms.notifications.models import Notification

NOW = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)  # Monday 08:00 in Taipei
URL = "/api/incidents/"
SUSPECTED = "/api/incidents/suspected/"
IN_AN_HOUR = NOW + dt.timedelta(hours=1)

# Written down here, apart from IncidentRegister's Access, so that a wrong matrix fails.
READERS = {SECURITY_OFFICER, SUPERVISOR, PRINCIPAL}
WRITERS = {SECURITY_OFFICER, SUPERVISOR}
ROLES = [
    SECURITY_OFFICER,
    SUPERVISOR,
    PRINCIPAL,
    SYSADMIN,
    EQUIPMENT_HEAD,
    PERSONNEL,
    STAFF,
    GUARD,
    "anonymous",
]
assert set(ROLES) - {"anonymous"} == ALL_ROLES


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def minutes_ago(n):
    return NOW - dt.timedelta(minutes=n)


def iso(moment):
    return moment.isoformat()


def moment(text):
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def api(client_for):
    """api(role, **user_fields) → a client with an API token of a new person in that role."""

    def make(role, **fields):
        if role == "anonymous":
            return Client()
        c = client_for(role, **fields)
        _token, key = core_services.token_create(user=c.user, name="test", actor=c.user)
        c.logout()
        c.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
        return c

    return make


@pytest.fixture
def officer(make_user):
    return make_user("officer", SECURITY_OFFICER, email="officer@school.example.edu.tw")


@pytest.fixture
def sample(officer):
    return services.create(
        actor=officer,
        title="可疑登入",
        description="校務系統出現異常登入紀錄",
        source="self",
        discovered_at=minutes_ago(20),
    )


def body(**values):
    data = {
        "title": "網頁被置換",
        "description": "首頁出現不明圖片",
        "source": "self",
        "category": "defacement",
        "occurred_at": iso(minutes_ago(60)),
        "discovered_at": iso(minutes_ago(30)),
        "confidentiality_impact": 0,
        "integrity_impact": 2,
        "availability_impact": 1,
    }
    data.update(values)
    return data


def post(c, url, data):
    return c.post(url, data, content_type="application/json")


def patch(c, url, data):
    return c.patch(url, data, content_type="application/json")


def counts():
    return (
        Incident.objects.count(),
        TimelineEntry.objects.count(),
        EscalationStep.objects.count(),
        Notification.objects.count(),
        AuditEntry.objects.count(),
    )


def refused(role, ok):
    """The status a role gets: ``ok`` when allowed, 401 anonymous, else 403."""
    return 401 if role == "anonymous" else ok


# Access by role -----------------------------------------------------------------------------
@pytest.mark.django_db
class TestAccess:
    @pytest.mark.parametrize("role", ROLES)
    def test_list(self, api, sample, role):
        response = api(role).get(URL)
        if role in READERS:
            assert response.status_code == 200
            assert [r["number"] for r in response.json()["results"]] == [sample.number]
        else:
            assert response.status_code == refused(role, 403)

    @pytest.mark.parametrize("role", ROLES)
    def test_retrieve(self, api, sample, role):
        response = api(role).get(f"{URL}{sample.pk}/")
        if role in READERS:
            assert response.status_code == 200
            assert response.json()["title"] == "可疑登入"
        else:
            assert response.status_code == refused(role, 403)

    @pytest.mark.parametrize("role", ROLES)
    def test_create(self, api, officer, role):
        c = api(role)
        before = counts()
        response = post(c, URL, body())
        if role in WRITERS:
            assert response.status_code == 201, response.content
            assert Incident.objects.count() == before[0] + 1
        else:
            assert response.status_code == refused(role, 403)
            assert counts() == before

    @pytest.mark.parametrize("role", ROLES)
    def test_partial_update(self, api, sample, role):
        response = patch(api(role), f"{URL}{sample.pk}/", {"title": "可疑登入（更正）"})
        sample.refresh_from_db()
        if role in WRITERS:
            assert response.status_code == 200, response.content
            assert sample.title == "可疑登入（更正）"
        else:
            assert response.status_code == refused(role, 403)
            assert sample.title == "可疑登入"

    @pytest.mark.parametrize("role", ROLES)
    def test_full_update(self, api, sample, role):
        data = body(title="網頁被置換（PUT）")
        response = api(role).put(f"{URL}{sample.pk}/", data, content_type="application/json")
        sample.refresh_from_db()
        if role in WRITERS:
            assert response.status_code == 200, response.content
            assert (sample.title, sample.level, sample.status) == ("網頁被置換（PUT）", 2, "open")
        else:
            assert response.status_code == refused(role, 403)
            assert sample.title == "可疑登入" and sample.level is None

    @pytest.mark.parametrize("role", ROLES)
    def test_platform_report(self, api, sample, role):
        data = {"reported_at": iso(minutes_ago(10)), "platform_ticket": "EDU-1150001"}
        response = post(api(role), f"{URL}{sample.pk}/platform-report/", data)
        sample.refresh_from_db()
        if role in WRITERS:
            assert response.status_code == 200, response.content
            assert response.json()["platform_ticket"] == "EDU-1150001"
            assert sample.reported_at == minutes_ago(10)
        else:
            assert response.status_code == refused(role, 403)
            assert sample.reported_at is None and sample.platform_ticket == ""

    @pytest.mark.parametrize("role", ROLES)
    def test_void(self, api, sample, role):
        response = post(api(role), f"{URL}{sample.pk}/void/", {"reason": "重複建檔"})
        sample.refresh_from_db()
        if role in WRITERS:
            assert response.status_code == 200, response.content
            assert sample.voided_at is not None
        else:
            assert response.status_code == refused(role, 403)
            assert sample.voided_at is None

    def test_no_delete(self, api, sample):
        response = api(SECURITY_OFFICER).delete(f"{URL}{sample.pk}/")
        assert response.status_code in (403, 405)  # the matrix has no "delete" for anyone
        assert Incident.objects.filter(pk=sample.pk).exists()

    def test_staff_is_refused_everything_of_the_register(self, api, sample):
        staff = api(STAFF)
        item = f"{URL}{sample.pk}/"
        assert staff.get(URL).status_code == 403
        assert staff.get(item).status_code == 403
        assert post(staff, URL, body()).status_code == 403
        assert patch(staff, item, {"title": "x"}).status_code == 403
        assert staff.put(item, body(), content_type="application/json").status_code == 403
        assert post(staff, item + "platform-report/", {}).status_code == 403
        assert post(staff, item + "void/", {"reason": "重複建檔"}).status_code == 403

    def test_a_missing_incident_is_404(self, api):
        assert api(SECURITY_OFFICER).get(f"{URL}987654/").status_code == 404


# Create: the services compute level and deadlines ----------------------------------------------
@pytest.mark.django_db
class TestCreate:
    def test_level_is_the_highest_impact_and_level_3_closes_in_36_hours(
        self, api, make_user, officer
    ):
        make_user("chief", SUPERVISOR, email="chief@school.example.edu.tw")
        make_user("head", PRINCIPAL, email="head@school.example.edu.tw")
        c = api(SECURITY_OFFICER)
        discovered = minutes_ago(30)
        data = body(
            category="intrusion",
            discovered_at=iso(discovered),
            confidentiality_impact=3,
            integrity_impact=1,
            availability_impact=2,
        )
        response = post(c, URL, data)
        assert response.status_code == 201, response.content
        out = response.json()
        incident = Incident.objects.get(pk=out["id"])
        assert out["number"] == incident.number == "115-001"
        assert (out["level"], out["level_computed"], out["status"]) == (3, 3, "open")
        assert moment(out["discovered_at"]) == discovered
        assert moment(out["report_due_at"]) == discovered + dt.timedelta(hours=1)
        assert moment(out["close_due_at"]) == discovered + dt.timedelta(hours=36)
        assert out["change_report_due_at"] is None and out["reported_at"] is None
        assert incident.reporter == c.user and incident.classified_by == c.user
        # Level 3: the required steps appear and the supervisor and principal hear at once.
        assert set(incident.steps.values_list("kind", flat=True)) == {
            EscalationStep.Kind.PHONE_BUREAU,
            EscalationStep.Kind.PRINCIPAL_MEETING,
        }
        told = set(Notification.objects.values_list("recipient__username", flat=True))
        assert told == {"chief", "head"}
        kinds = list(incident.timeline.values_list("kind", flat=True))
        assert kinds == ["created", "classified", "escalated"]
        entry = AuditEntry.objects.get(
            model_label="incidents.incident", action="create", object_id=str(incident.pk)
        )
        assert entry.actor_id == c.user.pk

    def test_levels_below_3_close_in_72_hours(self, api, officer):
        discovered = minutes_ago(45)
        response = post(api(SUPERVISOR), URL, body(discovered_at=iso(discovered)))
        assert response.status_code == 201, response.content
        out = response.json()
        assert (out["level"], out["status"]) == (2, "open")
        assert moment(out["close_due_at"]) == discovered + dt.timedelta(hours=72)
        assert EscalationStep.objects.count() == 0

    def test_unrated_and_uncategorised_stays_reported(self, api):
        data = body(category="", confidentiality_impact=None)
        del data["integrity_impact"], data["availability_impact"]
        response = post(api(SECURITY_OFFICER), URL, data)
        assert response.status_code == 201, response.content
        out = response.json()
        assert (out["level"], out["status"], out["category"]) == (None, "reported", "")
        assert moment(out["close_due_at"]) == minutes_ago(30) + dt.timedelta(hours=72)

    def test_unconfirmed_case_is_level_0(self, api):
        data = body(unconfirmed_case="unconfirmed_ticket", confidentiality_impact=4)
        out = post(api(SECURITY_OFFICER), URL, data).json()
        assert (out["level_computed"], out["level"]) == (0, 0)

    def test_override_needs_a_reason_and_moves_the_deadline(self, api):
        c = api(SECURITY_OFFICER)
        before = counts()
        response = post(c, URL, body(level_override=4))
        assert response.status_code == 400
        assert list(response.json()) == ["level_override_reason"]
        assert counts() == before

        discovered = minutes_ago(30)
        data = body(level_override=4, level_override_reason="涉及學生個資")
        out = post(c, URL, data).json()
        assert (out["level_computed"], out["level"], out["level_override"]) == (2, 4, 4)
        assert out["level_override_reason"] == "涉及學生個資"
        assert moment(out["close_due_at"]) == discovered + dt.timedelta(hours=36)

        # Taking the override back: the computed level again, the reason cleared.
        response = patch(c, f"{URL}{out['id']}/", {"level_override": None})
        assert response.status_code == 200, response.content
        again = response.json()
        assert (again["level"], again["level_override"], again["level_override_reason"]) == (
            2,
            None,
            "",
        )
        assert moment(again["close_due_at"]) == discovered + dt.timedelta(hours=72)

    def test_computed_and_recorded_fields_are_not_written(self, api):
        data = body(
            number="999-999",
            status="closed",
            level=0,
            level_computed=0,
            report_due_at=iso(NOW + dt.timedelta(days=30)),
            close_due_at=iso(NOW + dt.timedelta(days=30)),
            change_report_due_at=iso(NOW),
            reported_at=iso(minutes_ago(5)),
            platform_ticket="FAKE-1",
            closed_at=iso(minutes_ago(1)),
        )
        out = post(api(SECURITY_OFFICER), URL, data).json()
        incident = Incident.objects.get(pk=out["id"])
        assert incident.number == "115-001" and incident.status == "open" and incident.level == 2
        assert incident.report_due_at == minutes_ago(30) + dt.timedelta(hours=1)
        assert incident.change_report_due_at is None
        assert incident.reported_at is None and incident.platform_ticket == ""
        assert incident.closed_at is None

    def test_roc_moments_are_accepted(self, api):
        data = body(occurred_at="115/11/30 07:00", discovered_at="115/11/30 07:30")
        response = post(api(SECURITY_OFFICER), URL, data)
        assert response.status_code == 201, response.content
        assert moment(response.json()["discovered_at"]) == minutes_ago(30)

    def test_technical_facts_are_kept(self, api):
        data = body(equipment_ip="10.0.0.8", needs_support=True, measures_taken="已拔除網路線")
        out = post(api(SECURITY_OFFICER), URL, data).json()
        incident = Incident.objects.get(pk=out["id"])
        assert (incident.equipment_ip, incident.needs_support) == ("10.0.0.8", True)
        assert incident.measures_taken == "已拔除網路線"


@pytest.mark.django_db
class TestBadInput:
    @pytest.mark.parametrize("value", [5, -1, "x", 2.5, True, "", [1]])
    @pytest.mark.parametrize(
        "field", ["confidentiality_impact", "integrity_impact", "availability_impact"]
    )
    def test_impacts_outside_0_to_4_are_refused(self, api, field, value):
        c = api(SECURITY_OFFICER)
        before = counts()
        response = post(c, URL, body(**{field: value}))
        assert response.status_code == 400
        assert list(response.json()) == [field]
        assert counts() == before

    @pytest.mark.parametrize("value", [5, -1, "x"])
    def test_override_outside_0_to_4_is_refused(self, api, value):
        c = api(SECURITY_OFFICER)
        before = counts()
        data = body(level_override=value, level_override_reason="理由")
        response = post(c, URL, data)
        assert response.status_code == 400
        assert list(response.json()) == ["level_override"]
        assert counts() == before

    @pytest.mark.parametrize(
        ("values", "field", "message"),
        [
            (
                {"occurred_at": iso(minutes_ago(10)), "discovered_at": iso(minutes_ago(30))},
                "discovered_at",
                "知悉時間不可早於發生時間。",
            ),
            (
                {"occurred_at": None, "discovered_at": iso(NOW + dt.timedelta(hours=1))},
                "discovered_at",
                "知悉時間不可晚於現在。",
            ),
            (
                {"occurred_at": iso(NOW + dt.timedelta(days=1))},
                "occurred_at",
                "發生時間不可晚於現在。",
            ),
            ({"category": "other", "category_other": " "}, "category_other", "類型為「其他」"),
            ({"category": "other"}, "category_other", "類型為「其他」"),
            ({"title": "   "}, "title", ""),
            ({"description": ""}, "description", ""),
            ({"discovered_at": None}, "discovered_at", ""),
            ({"discovered_at": "昨天"}, "discovered_at", ""),
            ({"discovered_at": "1900-01-01T08:00:00+08:00"}, "discovered_at", "1912"),
            ({"discovered_at": "300/01/01 08:00"}, "discovered_at", "民國年"),
            ({"category": "earthquake"}, "category", ""),
            ({"source": "rumour"}, "source", ""),
            ({"unconfirmed_case": "maybe"}, "unconfirmed_case", ""),
            ({"title": "長" * 201}, "title", ""),
        ],
    )
    def test_broken_rules_are_field_errors_and_nothing_is_saved(self, api, values, field, message):
        c = api(SECURITY_OFFICER)
        before = counts()
        response = post(c, URL, body(**values))
        assert response.status_code == 400, response.content
        errors = response.json()
        assert field in errors, errors
        assert message in " ".join(errors[field])
        assert counts() == before

    def test_missing_fields(self, api):
        response = post(api(SECURITY_OFFICER), URL, {})
        assert response.status_code == 400
        assert {"title", "description", "discovered_at"} <= set(response.json())
        assert Incident.objects.count() == 0

    @pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"'])
    def test_not_an_object(self, api, raw):
        response = api(SECURITY_OFFICER).post(URL, raw, content_type="application/json")
        assert response.status_code == 400
        assert isinstance(response.json(), dict) and response.json()
        assert Incident.objects.count() == 0

    def test_other_category_with_its_text_is_fine(self, api):
        data = body(category="other", category_other="校內無線網路遭架設偽冒基地台")
        response = post(api(SECURITY_OFFICER), URL, data)
        assert response.status_code == 201, response.content
        assert response.json()["category_other"] == "校內無線網路遭架設偽冒基地台"


# Update -------------------------------------------------------------------------------------
@pytest.mark.django_db
class TestUpdate:
    def test_classifying_opens_it_and_is_on_the_timeline(self, api, sample):
        c = api(SECURITY_OFFICER)
        data = {
            "category": "malware",
            "confidentiality_impact": 1,
            "integrity_impact": 1,
            "availability_impact": 0,
        }
        response = patch(c, f"{URL}{sample.pk}/", data)
        assert response.status_code == 200, response.content
        out = response.json()
        assert (out["status"], out["level"], out["title"]) == ("open", 1, "可疑登入")
        kinds = list(sample.timeline.values_list("kind", flat=True))
        assert kinds == ["created", "updated", "classified"]
        incident = Incident.objects.get(pk=sample.pk)
        assert incident.classified_by == c.user

    @pytest.mark.parametrize(
        ("values", "field"),
        [
            ({"integrity_impact": 5}, "integrity_impact"),
            ({"integrity_impact": -1}, "integrity_impact"),
            ({"integrity_impact": "x"}, "integrity_impact"),
            ({"occurred_at": iso(minutes_ago(5))}, "discovered_at"),  # learned before it happened
            ({"discovered_at": iso(NOW + dt.timedelta(minutes=30))}, "discovered_at"),
            ({"category": "other"}, "category_other"),
            ({"level_override": 3}, "level_override_reason"),
            ({"title": ""}, "title"),
        ],
    )
    def test_bad_changes_are_refused_and_nothing_changes(self, api, sample, values, field):
        before = Incident.objects.filter(pk=sample.pk).values().get()
        c = api(SECURITY_OFFICER)
        entries = counts()
        response = patch(c, f"{URL}{sample.pk}/", values)
        assert response.status_code == 400
        assert field in response.json(), response.json()
        assert Incident.objects.filter(pk=sample.pk).values().get() == before
        assert counts() == entries

    def test_a_level_change_after_the_platform_report_must_be_reported_within_an_hour(
        self, api, officer
    ):
        incident = services.create(
            actor=officer,
            title="中毒",
            description="一台電腦中毒",
            category="malware",
            discovered_at=minutes_ago(50),
            confidentiality_impact=1,
            integrity_impact=1,
            availability_impact=1,
        )
        services.record_platform_report(
            incident, actor=officer, reported_at=minutes_ago(30), ticket="EDU-1"
        )
        response = patch(api(SECURITY_OFFICER), f"{URL}{incident.pk}/", {"integrity_impact": 3})
        assert response.status_code == 200, response.content
        out = response.json()
        assert out["level"] == 3
        assert moment(out["change_report_due_at"]) == NOW + dt.timedelta(hours=1)
        assert moment(out["close_due_at"]) == minutes_ago(50) + dt.timedelta(hours=36)
        assert "level_changed" in set(incident.timeline.values_list("kind", flat=True))

    def test_a_dismissed_incident_is_not_changed(self, api, sample, officer):
        services.dismiss(sample, actor=officer, reason="單純硬體故障")
        response = patch(api(SECURITY_OFFICER), f"{URL}{sample.pk}/", {"title": "改"})
        assert response.status_code == 400
        assert response.json() == {"non_field_errors": ["已結案或作廢的事件不可再修改。"]}
        sample.refresh_from_db()
        assert sample.title == "可疑登入"

    def test_recorded_fields_are_not_written_by_an_update(self, api, sample):
        data = {"platform_ticket": "FAKE", "reported_at": iso(minutes_ago(1)), "status": "closed"}
        response = patch(api(SECURITY_OFFICER), f"{URL}{sample.pk}/", data)
        assert response.status_code == 200
        sample.refresh_from_db()
        assert (sample.platform_ticket, sample.reported_at, sample.status) == ("", None, "reported")


@pytest.mark.django_db
class TestPlatformReport:
    def url(self, incident):
        return f"{URL}{incident.pk}/platform-report/"

    @pytest.mark.parametrize(
        ("data", "field"),
        [
            ({"reported_at": iso(minutes_ago(30)), "platform_ticket": "EDU-1"}, "reported_at"),
            ({"reported_at": iso(IN_AN_HOUR), "platform_ticket": "EDU-1"}, "reported_at"),
            ({"reported_at": iso(minutes_ago(5)), "platform_ticket": " "}, "platform_ticket"),
            ({"platform_ticket": "EDU-1"}, "reported_at"),
        ],
    )
    def test_bad_input(self, api, sample, data, field):
        response = post(api(SECURITY_OFFICER), self.url(sample), data)
        assert response.status_code == 400
        assert field in response.json()
        sample.refresh_from_db()
        assert sample.reported_at is None

    def test_it_is_on_the_timeline(self, api, sample):
        data = {"reported_at": iso(minutes_ago(5)), "platform_ticket": " EDU-1150002 "}
        out = post(api(SUPERVISOR), self.url(sample), data).json()
        assert out["platform_ticket"] == "EDU-1150002"
        assert moment(out["reported_at"]) == minutes_ago(5)
        entry = sample.timeline.get(kind="platform_reported")
        assert "EDU-1150002" in entry.text

    def test_not_on_a_dismissed_incident(self, api, sample, officer):
        services.dismiss(sample, actor=officer, reason="誤報")
        data = {"reported_at": iso(minutes_ago(5)), "platform_ticket": "EDU-1"}
        response = post(api(SECURITY_OFFICER), self.url(sample), data)
        assert response.status_code == 400
        assert list(response.json()) == ["non_field_errors"]


# List filters -------------------------------------------------------------------------------------
@pytest.mark.django_db
class TestFilters:
    @pytest.fixture
    def incidents(self, officer):
        def make(title, **values):
            return services.create(
                actor=officer,
                title=title,
                description=title,
                discovered_at=minutes_ago(30),
                **values,
            )

        return {
            "plain": make("未研判"),
            "malware": make("中毒", category="malware", confidentiality_impact=1),
            "leak": make("外洩", category="data_leak", confidentiality_impact=3),
            "warning": make("預警", source="warning", category="bot", integrity_impact=1),
        }

    def titles(self, c, **params):
        response = c.get(URL, params)
        assert response.status_code == 200, response.content
        return sorted(r["title"] for r in response.json()["results"])

    def test_by_status_category_source_and_level(self, api, incidents):
        c = api(PRINCIPAL)
        assert self.titles(c, status="reported") == ["未研判"]
        assert self.titles(c, status="open") == ["中毒", "外洩", "預警"]
        assert self.titles(c, category="data_leak") == ["外洩"]
        assert self.titles(c, source="warning") == ["預警"]
        assert self.titles(c, level=1) == ["中毒", "預警"]
        assert self.titles(c, level=3) == ["外洩"]
        assert self.titles(c, level=1, source="self") == ["中毒"]
        assert self.titles(c, q="外洩") == ["外洩"]

    @pytest.mark.parametrize("params", [{"status": "bogus"}, {"level": "9"}, {"source": "x"}])
    def test_unknown_values_are_400(self, api, incidents, params):
        assert api(SECURITY_OFFICER).get(URL, params).status_code == 400

    def test_voided_only_on_request(self, api, incidents, officer):
        c = api(SECURITY_OFFICER)
        response = post(c, f"{URL}{incidents['plain'].pk}/void/", {"reason": "重複建檔"})
        assert response.status_code == 200
        assert "未研判" not in self.titles(c)
        assert "未研判" in self.titles(c, voided="1")


# 2.10.3: suspected reports by anyone signed in ----------------------------------------------------
@pytest.mark.django_db
class TestSuspected:
    def data(self, **values):
        data = {
            "description": "收到要求輸入密碼的信\n寄件人不明",
            "seen_at": iso(minutes_ago(20)),
            "location": "教務處",
            "contact": "分機 201",
        }
        data.update(values)
        return data

    def test_staff_reports_and_the_officer_is_told_at_once(self, api, officer):
        staff = api(STAFF)
        response = post(staff, SUSPECTED, self.data())
        assert response.status_code == 201, response.content
        out = response.json()
        incident = Incident.objects.get()
        assert out["id"] == incident.pk and out["number"] == incident.number == "115-001"
        assert (out["status"], out["status_label"]) == ("reported", "待研判")
        assert moment(out["report_due_at"]) == minutes_ago(20) + dt.timedelta(hours=1)
        assert incident.reporter == staff.user and incident.reporter_contact == "分機 201"
        assert incident.title == "收到要求輸入密碼的信" and incident.location == "教務處"
        assert incident.discovered_at == minutes_ago(20)
        note = Notification.objects.get()
        assert note.recipient == officer and note.urgent
        assert note.status == Notification.Status.QUEUED
        assert incident.number in note.subject
        assert list(incident.timeline.values_list("kind", flat=True)) == ["reported"]
        # ... and staff still cannot read the register.
        assert staff.get(f"{URL}{incident.pk}/").status_code == 403

    @pytest.mark.parametrize("role", ROLES)
    def test_every_signed_in_role_may_report(self, api, officer, role):
        response = post(api(role), SUSPECTED, self.data(seen_at="115/11/30 07:40"))
        if role == "anonymous":
            assert response.status_code == 401
            assert Incident.objects.count() == 0
        else:
            assert response.status_code == 201, response.content
            assert moment(response.json()["report_due_at"]) == NOW + dt.timedelta(minutes=40)

    @pytest.mark.parametrize(
        ("values", "field"),
        [
            ({"seen_at": iso(NOW + dt.timedelta(hours=1))}, "seen_at"),
            ({"seen_at": "115/11/30 09:40"}, "seen_at"),  # 09:40 Taipei is in the future
            ({"seen_at": "昨天"}, "seen_at"),
            ({"seen_at": None}, "seen_at"),
            ({"description": "  "}, "description"),
            ({"contact": ""}, "contact"),
            ({"location": "長" * 201}, "location"),
        ],
    )
    def test_bad_input_is_refused_and_nothing_saved(self, api, officer, values, field):
        c = api(STAFF)
        before = counts()
        response = post(c, SUSPECTED, self.data(**values))
        assert response.status_code == 400
        assert field in response.json(), response.json()
        assert counts() == before

    def test_a_future_seen_at_says_why(self, api):
        response = post(api(STAFF), SUSPECTED, self.data(seen_at=iso(NOW + dt.timedelta(hours=1))))
        assert response.json() == {"seen_at": ["發現時間不可晚於現在。"]}

    def test_a_reporter_lists_only_their_own_reports_and_their_status(
        self, api, make_user, officer
    ):
        other = make_user("other", STAFF)
        theirs = services.report_suspected(
            actor=other, description="別人的通報", seen_at=minutes_ago(5), contact="1"
        )
        staff = api(STAFF)
        mine = post(staff, SUSPECTED, self.data()).json()
        listed = staff.get(SUSPECTED).json()
        assert [r["number"] for r in listed["results"]] == [mine["number"]]
        assert "description" not in listed["results"][0]  # the officer may have added to it
        assert staff.get(f"{SUSPECTED}{mine['id']}/").status_code == 200
        assert staff.get(f"{SUSPECTED}{theirs.pk}/").status_code == 404

        # The officer classifies it: the reporter sees it being handled.
        services.update(
            Incident.objects.get(pk=mine["id"]),
            actor=officer,
            category="social_engineering",
            confidentiality_impact=0,
            integrity_impact=0,
            availability_impact=0,
        )
        row = staff.get(f"{SUSPECTED}{mine['id']}/").json()
        assert (row["status"], row["status_label"]) == ("open", "處理中")

    def test_anonymous_is_refused(self):
        assert Client().get(SUSPECTED).status_code == 401

    def test_no_update_or_delete(self, api):
        staff = api(STAFF)
        mine = post(staff, SUSPECTED, self.data()).json()
        item = f"{SUSPECTED}{mine['id']}/"
        assert patch(staff, item, {"location": "別處"}).status_code == 405
        assert staff.delete(item).status_code == 405


# URLs and schema ---------------------------------------------------------------------------------
def test_suspected_is_not_taken_for_an_incident_id():
    assert resolve(SUSPECTED).func.cls is SuspectedReportViewSet
    assert issubclass(resolve(f"{URL}12/").func.cls, IncidentViewSet)
    assert issubclass(resolve(f"{URL}12/platform-report/").func.cls, IncidentViewSet)


@pytest.mark.django_db
def test_the_schema_describes_the_incident_api():
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    spec = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(spec)
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/incidents/"])
    assert {"get", "put", "patch"} <= set(paths["/api/incidents/{id}/"])
    assert "delete" not in paths["/api/incidents/{id}/"]
    assert "post" in paths["/api/incidents/{id}/platform-report/"]
    assert {"get", "post"} <= set(paths["/api/incidents/suspected/"])
    incident = spec["components"]["schemas"]["Incident"]["properties"]
    assert incident["level"]["readOnly"] and incident["close_due_at"]["readOnly"]
    assert incident["platform_ticket"]["readOnly"] and incident["reported_at"]["readOnly"]
    impact = incident["confidentiality_impact"]
    assert (impact["type"], impact["minimum"], impact["maximum"]) == ("integer", 0, 4)
    filters = {p["name"] for p in paths["/api/incidents/"]["get"]["parameters"]}
    assert {"status", "category", "source", "level"} <= filters
