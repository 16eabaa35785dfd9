"""Incident pages: the report form for everyone, the register, the incident page, actions."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.core.roles import ALL_ROLES, MANAGERS, SECURITY_OFFICER, STAFF, SUPERVISOR
from isms.core.testing import ROLE_CASES, RegisterContract, roles_for
from isms.incidents import services
from isms.incidents.models import EscalationStep, Incident, IncidentDrill
from isms.incidents.views import IncidentDrillRegister, IncidentRegister
from isms.notifications.models import Notification

NOW = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)  # Monday 08:00 in Taipei
WRITERS = frozenset({SECURITY_OFFICER, SUPERVISOR})


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def minutes_ago(n):
    return NOW - dt.timedelta(minutes=n)


def new_incident(actor, **values):
    data = {
        "title": "可疑登入",
        "description": "校務系統出現異常登入紀錄",
        "source": "self",
        "discovered_at": minutes_ago(20),
    }
    data.update(values)
    return services.create(actor=actor, **data)


def classified(actor, level=2, **values):
    return new_incident(
        actor,
        category="intrusion",
        confidentiality_impact=level,
        integrity_impact=0,
        availability_impact=0,
        **values,
    )


def roc(moment):
    from isms.core import roc as calendar

    return calendar.format_roc_datetime(moment)


class TestIncidentRegister(RegisterContract):
    register = IncidentRegister
    api_prefix = "incidents"
    readers = MANAGERS
    writers = WRITERS
    list_query_budget = 12

    def assert_one_write_audited(self, entries_before, user):
        # The service writes the incident and its timeline: every entry names the writer.
        new = AuditEntry.objects.order_by("-id")[: self.entries() - entries_before]
        assert any(e.model_label == "incidents.incident" for e in new)
        assert {e.actor_id for e in new} == {user.pk}

    def api_data(self):
        return {
            "title": "網頁被置換",
            "source": "self",
            "category": "defacement",
            "discovered_at": "2026-11-30T07:30:00+08:00",
            "description": "首頁出現不明圖片",
            "confidentiality_impact": 0,
            "integrity_impact": 2,
            "availability_impact": 1,
        }

    def invalid_api_data(self):
        return {**self.api_data(), "integrity_impact": 5}

    def make_sample(self, **overrides):
        from isms.core.models import User

        actor = User.objects.filter(username="sample-officer").first()
        if actor is None:
            actor = User.objects.create(username="sample-officer")
        return new_incident(actor, **overrides)

    def form_data(self):
        return {
            "title": "網頁被置換",
            "source": "self",
            "category": "defacement",
            "discovered_at": "115/11/30 07:30",
            "occurred_at": "115/11/30 07:00",
            "description": "首頁出現不明圖片",
            "confidentiality_impact": "0",
            "integrity_impact": "2",
            "availability_impact": "1",
        }

    def change_data(self, obj):
        data = self.form_data()
        data["title"] = "網頁被置換（更正）"
        return data

    def invalid_form_data(self):
        data = self.form_data()
        data["integrity_impact"] = "7"
        data["discovered_at"] = "115/11/30 06:00"  # before it occurred
        return data

    # A service writes the incident and its timeline: several entries, all by the writer.
    def test_add_saves_one_record_with_one_audit_entry(self, client_for):
        c = self.writer(client_for)
        last = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        response = c.post(self.url("add"), self.form_data())
        assert response.status_code == 302, response.context["form"].errors
        incident = Incident.objects.get()
        assert (incident.level, incident.status) == (2, "open")
        entries = AuditEntry.objects.filter(id__gt=last)
        assert entries.filter(
            model_label="incidents.incident", action="create", object_id=str(incident.pk)
        ).exists()
        assert set(entries.values_list("actor_id", flat=True)) == {c.user.pk}

    def test_edit_writes_one_audit_entry_with_before_and_after(self, client_for):
        obj = self.make_sample()
        c = self.writer(client_for)
        last = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()
        response = c.post(self.url("edit", obj.pk), self.change_data(obj))
        assert response.status_code == 302, response.context["form"].errors
        entry = (
            AuditEntry.objects.filter(
                id__gt=last, model_label="incidents.incident", action="update"
            )
            .order_by("id")
            .first()
        )
        assert entry.actor_id == c.user.pk
        assert entry.changes["title"] == ["可疑登入", "網頁被置換（更正）"]


class TestDrillRegister(RegisterContract):
    register = IncidentDrillRegister
    api_prefix = "incident-drills"
    readers = MANAGERS
    writers = WRITERS

    def make_sample(self, **overrides):
        values = {"held_on": dt.date(2026, 10, 1), "scenario": "勒索軟體桌上演練"}
        values.update(overrides)
        return IncidentDrill.objects.create(**values)

    def form_data(self):
        return {"held_on": "115/10/15", "scenario": "社交工程演練", "participants": "資訊組"}

    def change_data(self, obj):
        return {"held_on": "115/10/15", "scenario": "社交工程演練（修正）"}

    def invalid_form_data(self):
        return {"held_on": "115/12/31", "scenario": ""}  # in the future, no scenario

    def api_data(self):
        return {"held_on": "2026-10-15", "scenario": "社交工程演練"}

    def invalid_api_data(self):
        return {"held_on": "2026-12-31", "scenario": ""}


@pytest.mark.django_db
class TestReportForm:
    @pytest.mark.parametrize("role", sorted(ALL_ROLES))
    def test_everyone_signed_in_can_report(self, client_for, make_user, role):
        make_user("officer", SECURITY_OFFICER, email="officer@school.example.edu.tw")
        client = client_for(role)
        assert client.get(reverse("incidents:report")).status_code == 200
        response = client.post(
            reverse("incidents:report"),
            {
                "description": "收到要求輸入密碼的信",
                "seen_at": "115/11/30 07:40",
                "location": "教務處",
                "contact": "分機 201",
            },
        )
        assert response.status_code == 302 and response.url == reverse("incidents:mine")
        incident = Incident.objects.get()
        assert incident.reporter == client.user and incident.status == "reported"
        assert incident.report_due_at == dt.datetime(2026, 11, 30, 0, 40, tzinfo=dt.UTC)
        note = Notification.objects.get(recipient__username="officer")
        assert note.urgent and incident.number in note.subject
        mine = client.get(reverse("incidents:mine")).content.decode()
        assert incident.number in mine and "待研判" in mine

    def test_anonymous_is_sent_to_sign_in(self, client):
        response = client.get(reverse("incidents:report"))
        assert response.status_code == 302 and reverse("login") in response.url

    @pytest.mark.parametrize(
        ("data", "field"),
        [
            ({"description": "", "seen_at": "115/11/30 07:40", "contact": "201"}, "description"),
            ({"description": "怪信", "seen_at": "115/11/30 09:40", "contact": "201"}, "seen_at"),
            ({"description": "怪信", "seen_at": "昨天", "contact": "201"}, "seen_at"),
            ({"description": "怪信", "seen_at": "115/11/30 07:40", "contact": ""}, "contact"),
        ],
    )
    def test_bad_input_is_refused_and_nothing_saved(self, client_for, data, field):
        response = client_for(STAFF).post(reverse("incidents:report"), data)
        assert response.status_code == 400
        assert response.context["form"].errors[field]
        assert Incident.objects.count() == 0

    def test_a_reporter_sees_only_their_own_reports(self, client_for, make_user):
        other = make_user("other", STAFF)
        services.report_suspected(
            actor=other, description="別人的通報", seen_at=minutes_ago(5), contact="1"
        )
        page = client_for(STAFF).get(reverse("incidents:mine")).content.decode()
        assert "別人的通報" not in page


@pytest.mark.django_db
class TestIncidentPage:
    def test_the_officer_sees_clocks_and_actions(self, client_for):
        client = client_for(SECURITY_OFFICER)
        incident = classified(client.user, level=3)
        page = client.get(incident.get_absolute_url()).content.decode()
        assert f'data-due="{incident.report_due_at.isoformat()}"' in page
        assert "36" in page and "以電話聯絡教育局(處)資訊安全管理單位" in page
        assert reverse("incidents:incident_close", args=[incident.pk]) in page

    def test_the_list_counts_down_to_the_nearest_deadline(self, client_for):
        from isms.incidents.views import next_deadline

        client = client_for(SECURITY_OFFICER)
        incident = classified(client.user, level=3)  # learned of 20 minutes ago
        assert next_deadline(incident) == "通報剩 40 分"
        page = client.get(reverse("incidents:incident_list")).content.decode()
        assert "通報剩 40 分" in page
        services.record_platform_report(
            incident, actor=client.user, reported_at=minutes_ago(1), ticket="T"
        )
        incident.refresh_from_db()
        assert next_deadline(incident) == "結案剩 1 天 11 小時 40 分"
        later = NOW + dt.timedelta(hours=40)
        assert next_deadline(incident, now=later) == "結案逾期 4 小時 20 分"

    def test_the_principal_reads_but_has_no_actions(self, client_for, make_user):
        officer = make_user("officer", SECURITY_OFFICER)
        incident = classified(officer)
        page = client_for("principal").get(incident.get_absolute_url()).content.decode()
        assert incident.number in page
        assert reverse("incidents:incident_close", args=[incident.pk]) not in page

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_actions_answer_by_role(self, client_for, make_user, role):
        officer = make_user("officer", SECURITY_OFFICER)
        incident = classified(officer)
        client = client_for(*roles_for(role))
        url = reverse("incidents:incident_platform_report", args=[incident.pk])
        response = client.post(url, {"reported_at": "115/11/30 07:50", "platform_ticket": "T1"})
        if role in WRITERS:
            assert response.status_code == 302
            incident.refresh_from_db()
            assert incident.platform_ticket == "T1"
        elif role == "none":
            assert response.status_code == 403
        else:
            assert response.status_code == 403
            incident.refresh_from_db()
            assert incident.platform_ticket == ""

    def test_closing_waits_for_the_required_steps(self, client_for):
        client = client_for(SECURITY_OFFICER)
        incident = classified(client.user, level=3)
        services.record_platform_report(
            incident, actor=client.user, reported_at=minutes_ago(10), ticket="T9"
        )
        close = reverse("incidents:incident_close", args=[incident.pk])
        data = {
            "containment": "隔離主機",
            "recovery": "由備份還原",
            "root_cause": "弱密碼",
            "prevention": "啟用多因素認證",
            "closed_at": "115/11/30 07:59",
        }
        refused = client.post(close, data)
        assert refused.status_code == 400
        assert "以電話聯絡教育局(處)資訊安全管理單位" in refused.content.decode()
        incident.refresh_from_db()
        assert incident.status == "open"
        for step in incident.steps.all():
            url = reverse("incidents:incident_step_done", args=[incident.pk, step.pk])
            assert client.post(url, {"at": "115/11/30 07:55", "note": "已聯絡"}).status_code == 302
        assert client.post(close, data).status_code == 302
        incident.refresh_from_db()
        assert incident.status == "closed" and incident.closed_by == client.user

    def test_closing_needs_every_field(self, client_for):
        client = client_for(SECURITY_OFFICER)
        incident = classified(client.user)
        response = client.post(
            reverse("incidents:incident_close", args=[incident.pk]), {"closed_at": ""}
        )
        assert response.status_code == 400
        assert set(response.context["form"].errors) >= {
            "containment",
            "recovery",
            "root_cause",
            "prevention",
            "closed_at",
        }

    def test_dismiss_note_help_and_warning(self, client_for):
        client = client_for(SECURITY_OFFICER)
        suspected = services.report_suspected(
            actor=client.user, description="印表機卡紙", seen_at=minutes_ago(3), contact="1"
        )
        url = reverse("incidents:incident_dismiss", args=[suspected.pk])
        assert client.post(url, {"dismiss_reason": ""}).status_code == 400
        assert client.post(url, {"dismiss_reason": "硬體故障"}).status_code == 302
        suspected.refresh_from_db()
        assert suspected.status == "dismissed"

        incident = classified(client.user, source="warning")
        note = reverse("incidents:incident_note", args=[incident.pk])
        assert client.post(note, {"text": "已封鎖來源 IP"}).status_code == 302
        help_url = reverse("incidents:incident_request_help", args=[incident.pk])
        assert client.post(help_url, {"text": "需協助鑑識"}).status_code == 302
        assert incident.steps.filter(kind=EscalationStep.Kind.REQUEST_HELP).exists()
        answer = reverse("incidents:incident_warning_answer", args=[incident.pk])
        bad = client.post(
            answer, {"warning_answer": "confirmed", "warning_answered_at": "115/11/30 07:58"}
        )
        assert bad.status_code == 400
        good = client.post(
            answer,
            {
                "warning_answer": "confirmed",
                "warning_linked_ticket": "TACERT-1",
                "warning_answered_at": "115/11/30 07:58",
            },
        )
        assert good.status_code == 302
        kinds = list(incident.timeline.values_list("kind", flat=True))
        assert {"note", "help_requested", "warning_answered"} <= set(kinds)

    def test_a_closed_incident_is_not_edited(self, client_for):
        client = client_for(SECURITY_OFFICER)
        incident = classified(client.user)
        services.record_platform_report(
            incident, actor=client.user, reported_at=minutes_ago(10), ticket="T1"
        )
        services.close(
            incident,
            actor=client.user,
            containment="a",
            recovery="b",
            root_cause="c",
            prevention="d",
        )
        edit = reverse("incidents:incident_edit", args=[incident.pk])
        assert client.get(edit).status_code == 302
        response = client.post(edit, {"title": "x"})
        assert response.status_code == 400
        incident.refresh_from_db()
        assert incident.title == "可疑登入"

    def test_level_preview_and_edit_show_the_computed_level(self, client_for):
        client = client_for(SECURITY_OFFICER)
        incident = new_incident(client.user)
        page = client.get(reverse("incidents:incident_edit", args=[incident.pk])).content
        assert "data-level" in page.decode()
        data = {
            "title": "可疑登入",
            "source": "self",
            "category": "intrusion",
            "discovered_at": roc(incident.discovered_at),
            "description": "x",
            "confidentiality_impact": "1",
            "integrity_impact": "3",
            "availability_impact": "0",
        }
        response = client.post(reverse("incidents:incident_edit", args=[incident.pk]), data)
        assert response.status_code == 302
        incident.refresh_from_db()
        assert incident.level == 3 and incident.status == "open"
        assert incident.close_due_at == incident.discovered_at + dt.timedelta(hours=36)
