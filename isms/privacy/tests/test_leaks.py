"""Leak follow-up (個資外洩當事人通知; PDPA art. 12): the register per role, the rules of a
notification (only for a 個資外洩 incident; the facts, measures and contact line each
required), the 個資外洩通知 page with its states, the duty (and its going away when the
category changes) and the link from the incident's page."""

import datetime as dt
import json

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.compliance import engine, registry
from isms.compliance.models import ObligationState
from isms.core import services as core_services
from isms.core.models import Attachment
from isms.core.roles import MANAGERS, PRINCIPAL, SECURITY_OFFICER, STAFF, SUPERVISOR
from isms.core.testing import RegisterContract
from isms.incidents import services as incidents
from isms.notifications.models import Notification
from isms.privacy import leaks
from isms.privacy.models import LeakNotification
from isms.privacy.views_leaks import LeakRegister

from .helpers import client_as as login
from .helpers import frozen_at, the_user, token_client

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 28, 6, 5, tzinfo=dt.UTC)  # 115/11/28 14:05 in Taipei
_frozen = frozen_at(NOW)
DUTY = "privacy.leak_notice"
FACTS = "導師寄送 201 班學生名冊時誤寄至 202 班家長群組，含姓名、學號及家長電話。"
MEASURES = "已請收件家長刪除郵件並回覆確認；停用群組自動完成。"
CONTACT = "教務處註冊組 02-2971-5606 分機 211"


def officer_user():
    return the_user("l-officer", SECURITY_OFFICER, name="陳怡君")


def incident(**values):
    """A 個資外洩 incident known two hours ago, entered by the officer."""
    data = {
        "title": "班級學生名冊誤寄其他班家長群組",
        "description": "導師寄送學生名冊時選錯收件群組。",
        "source": "self",
        "category": "data_leak",
        "occurred_at": NOW - dt.timedelta(hours=3),
        "discovered_at": NOW - dt.timedelta(hours=2),
    }
    data.update(values)
    return incidents.create(actor=officer_user(), **data)


def notice(inc=None, by=None, *, facts=FACTS, measures=MEASURES, contact=CONTACT, **values):
    values.setdefault("notified_at", NOW - dt.timedelta(minutes=30))
    values.setdefault("people_count", 38)
    values.setdefault("method", "書面通知單及電子郵件")
    return leaks.notice_save(
        LeakNotification(incident=inc or incident(), **values),
        actor=by or officer_user(),
        facts=facts,
        measures=measures,
        contact=contact,
    )


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


# The register: pages and API for every role -------------------------------------------------
class TestLeakRegister(RegisterContract):
    register = LeakRegister
    api_prefix = "leak-notifications"
    readers = MANAGERS
    writers = frozenset({SECURITY_OFFICER})

    def make_sample(self, **overrides):
        return notice(**overrides)

    def form_data(self):
        return {
            "incident": incident().pk,
            "notified_at": "115/11/28 13:30",
            "people_count": "38",
            "method": "書面通知單",
            "facts": FACTS,
            "measures": MEASURES,
            "contact": CONTACT,
        }

    def change_data(self, obj):
        return {**self.form_data(), "incident": obj.incident_id, "people_count": "40"}

    def api_data(self):
        return {
            "incident": incident().pk,
            "notified_at": "2026-11-28T13:30:00+08:00",
            "people_count": 38,
            "method": "電子郵件",
            "facts": FACTS,
            "measures": MEASURES,
            "contact": CONTACT,
        }


# The rules ----------------------------------------------------------------------------------------
class TestRecording:
    def test_the_officer_records_it_audited_and_composed_of_its_three_parts(self):
        inc = incident()
        entries = AuditEntry.objects.count()
        n = notice(inc)
        assert n.recorded_by == officer_user() and n.incident == inc
        assert AuditEntry.objects.count() == entries + 1
        entry = AuditEntry.objects.order_by("-id").first()
        assert (entry.action, entry.actor_id) == ("create", officer_user().pk)
        assert n.content.index(FACTS) < n.content.index(MEASURES) < n.content.index(CONTACT)
        assert "個人資料被侵害之事實" in n.content and "諮詢服務專線" in n.content
        assert leaks.split(n.content) == {"facts": FACTS, "measures": MEASURES, "contact": CONTACT}

    @pytest.mark.parametrize("role", [SUPERVISOR, PRINCIPAL, STAFF])
    def test_only_the_officer_records(self, role):
        inc = incident()
        with pytest.raises(PermissionDenied):
            notice(inc, the_user(f"x-{role}", role))
        assert not LeakNotification.objects.exists()

    def test_only_for_a_data_leak_incident_citing_article_12(self):
        other = incident(category="intrusion", title="可疑登入")
        with pytest.raises(ValidationError) as excinfo:
            notice(other)
        assert "個人資料保護法第 12 條" in errors_of(excinfo)["incident"][0]
        response = login(officer_user()).post(
            reverse("privacy:leaknotification_add"),
            {
                "incident": other.pk,
                "notified_at": "115/11/28 13:30",
                "people_count": "3",
                "method": "電話",
                "facts": FACTS,
                "measures": MEASURES,
                "contact": CONTACT,
            },
        )
        assert response.status_code == 400
        assert "個人資料保護法第 12 條" in response.content.decode()
        api = token_client(officer_user()).post(
            "/api/leak-notifications/",
            json.dumps(
                {
                    "incident": other.pk,
                    "notified_at": "2026-11-28T13:30:00+08:00",
                    "people_count": 3,
                    "method": "電話",
                    "facts": FACTS,
                    "measures": MEASURES,
                    "contact": CONTACT,
                }
            ),
            content_type="application/json",
        )
        assert api.status_code == 400 and "第 12 條" in api.json()["incident"][0]
        assert not LeakNotification.objects.exists()

    def test_not_for_a_voided_or_dismissed_incident(self):
        voided = incident()
        core_services.record_void(voided, actor=officer_user(), reason="重複建檔")
        dismissed = incident()
        incidents.dismiss(dismissed, actor=officer_user(), reason="名冊未寄出")
        for inc in (voided, dismissed):
            with pytest.raises(ValidationError) as excinfo:
                notice(inc)
            assert "不需通知當事人" in errors_of(excinfo)["incident"][0]

    def test_one_notification_per_incident(self):
        inc = incident()
        notice(inc)
        with pytest.raises(ValidationError) as excinfo:
            notice(inc)
        assert "已登錄當事人通知" in errors_of(excinfo)["incident"][0]
        body = {
            "incident": inc.pk,
            "notified_at": "2026-11-28T13:30:00+08:00",
            "people_count": 1,
            "method": "電話",
            "facts": FACTS,
            "measures": MEASURES,
            "contact": CONTACT,
        }
        response = token_client(officer_user()).post(
            "/api/leak-notifications/", json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 400 and "已登錄" in response.json()["incident"][0]

    def test_the_moment_is_after_the_incident_and_not_in_the_future(self):
        inc = incident()
        with pytest.raises(ValidationError) as early:
            notice(inc, notified_at=NOW - dt.timedelta(hours=2, minutes=1))
        assert "不可早於事件的知悉時間（115/11/28 12:05）" in errors_of(early)["notified_at"][0]
        with pytest.raises(ValidationError) as future:
            notice(inc, notified_at=NOW + dt.timedelta(minutes=6))
        assert "晚於現在" in errors_of(future)["notified_at"][0]
        with pytest.raises(ValidationError) as missing:
            notice(inc, notified_at=None)
        assert "notified_at" in errors_of(missing)
        assert notice(inc, notified_at=NOW + dt.timedelta(minutes=4)).pk

    def test_people_method_and_each_part_of_the_notice_are_required(self):
        inc = incident()
        entries = AuditEntry.objects.count()
        with pytest.raises(ValidationError) as excinfo:
            notice(inc, people_count=0, method=" ", facts=" ", measures="", contact="")
        errors = errors_of(excinfo)
        assert "至少為 1 人" in errors["people_count"][0]
        assert "施行細則第 22 條" in errors["method"][0]
        assert "個人資料被侵害之事實" in errors["facts"][0] and "第 22 條" in errors["facts"][0]
        assert "已採取之因應措施" in errors["measures"][0]
        assert "諮詢服務專線" in errors["contact"][0]
        assert not LeakNotification.objects.exists() and AuditEntry.objects.count() == entries

    def test_the_page_refuses_a_notice_without_its_parts(self):
        inc = incident()
        data = {"incident": inc.pk, "notified_at": "115/11/28 13:30", "people_count": "3"}
        response = login(officer_user()).post(reverse("privacy:leaknotification_add"), data)
        assert response.status_code == 400
        page = response.content.decode()
        assert "請寫明個人資料被侵害之事實" in page and "請寫明諮詢服務專線" in page
        assert not LeakNotification.objects.exists()

    def test_a_correction_is_audited_and_keeps_the_recorder(self, make_user):
        n = notice()
        other_officer = make_user("officer2", SECURITY_OFFICER)
        c = login(other_officer)
        form = c.get(reverse("privacy:leaknotification_edit", args=[n.pk]))
        assert form.context["form"].initial["contact"] == CONTACT
        data = {
            "incident": n.incident_id,
            "notified_at": "115/11/28 13:35",
            "people_count": "40",
            "method": "書面通知單及電子郵件",
            "facts": FACTS,
            "measures": MEASURES + "已回覆 33 位。",
            "contact": CONTACT,
        }
        entries = AuditEntry.objects.count()
        assert (
            c.post(reverse("privacy:leaknotification_edit", args=[n.pk]), data).status_code == 302
        )
        n.refresh_from_db()
        assert n.people_count == 40 and n.recorded_by == officer_user()
        assert leaks.split(n.content)["measures"].endswith("已回覆 33 位。")
        assert AuditEntry.objects.count() == entries + 1
        entry = AuditEntry.objects.order_by("-id").first()
        assert entry.actor_id == other_officer.pk and entry.changes["people_count"] == [38, 40]

    def test_the_api_patches_one_part_and_reads_them_back(self):
        n = notice()
        c = token_client(officer_user())
        response = c.patch(
            f"/api/leak-notifications/{n.pk}/",
            json.dumps({"contact": "學務處 分機 300"}),
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["contact"] == "學務處 分機 300" and body["facts"] == FACTS
        assert "學務處 分機 300" in body["content"]

    def test_the_notice_letter_is_attached_by_the_officer(self, make_user):
        n = notice()
        url = reverse("core:attachment_add", args=["privacy.leaknotification", n.pk])
        letter = SimpleUploadedFile(
            "通知函.pdf", b"%PDF-1.4 notice", content_type="application/pdf"
        )
        response = login(officer_user()).post(url, {"file": letter, "description": "通知函"})
        assert response.status_code == 302
        assert Attachment.objects.filter(object_id=n.pk).count() == 1
        page = login(officer_user()).get(n.get_absolute_url()).content.decode()
        assert "通知函.pdf" in page
        supervisor = login(make_user("sup", SUPERVISOR))
        letter = SimpleUploadedFile("x.pdf", b"%PDF-1.4 x", content_type="application/pdf")
        assert supervisor.post(url, {"file": letter}).status_code == 403

    def test_split_reads_a_text_without_headings_as_the_facts(self):
        assert leaks.split("只有一段說明") == {
            "facts": "只有一段說明",
            "measures": "",
            "contact": "",
        }


# 個資外洩通知: the incidents and their states -------------------------------------------------
class TestOverview:
    URL = "/privacy/leaks/"

    def test_every_leak_with_its_deadline_and_state(self):
        fresh = incident(title="剛知悉的外洩")
        old = incident(
            title="逾期未通知的外洩",
            occurred_at=NOW - dt.timedelta(hours=80),
            discovered_at=NOW - dt.timedelta(hours=72),
        )
        told = incident(title="已通知的外洩")
        notice(told)
        incident(title="不是外洩", category="intrusion")
        gone = incident(title="作廢的外洩")
        core_services.record_void(gone, actor=officer_user(), reason="重複")
        response = login(officer_user()).get(self.URL)
        assert response.status_code == 200
        page = response.content.decode()
        assert "不是外洩" not in page and "作廢的外洩" not in page
        states = {inc.pk: leaks.state(inc) for inc in (fresh, old, told)}
        assert states == {fresh.pk: "pending", old.pk: "overdue", told.pk: "notified"}
        assert f'data-incident="{old.pk}" class="table-danger"' in page
        assert "115/11/31" not in page and "115/12/01 12:05" in page  # fresh: known + 72 h
        assert f"?incident={fresh.pk}" in page
        for code, title in (
            ("pending", "剛知悉的外洩"),
            ("overdue", "逾期未通知的外洩"),
            ("notified", "已通知的外洩"),
        ):
            filtered = login(officer_user()).get(self.URL, {"state": code}).content.decode()
            assert title in filtered and filtered.count("data-incident=") == 1, code

    def test_the_deadline_follows_the_setting(self, settings):
        inc = incident()
        assert leaks.notice_due(inc.discovered_at) == NOW + dt.timedelta(hours=70)
        settings.ISMS_LEAK_NOTICE_HOURS = 1
        assert leaks.state(inc) == "overdue"

    @pytest.mark.parametrize("role", sorted(MANAGERS))
    def test_the_managers_read_it(self, make_user, role):
        incident()
        c = login(make_user(f"m-{role}", role))
        assert c.get(self.URL).status_code == 200
        assert c.get(reverse("privacy:leaknotification_list")).status_code == 200

    def test_the_supervisor_is_not_offered_to_record(self, make_user):
        inc = incident()
        page = login(make_user("sup", SUPERVISOR)).get(self.URL).content.decode()
        assert f"?incident={inc.pk}" not in page

    def test_others_are_refused(self, make_user):
        assert login(make_user("t", STAFF)).get(self.URL).status_code == 403

    def test_it_is_in_the_menu(self):
        home = login(officer_user()).get("/").content.decode()
        assert self.URL in home


# The duty -----------------------------------------------------------------------------------------
def state_of(inc):
    return ObligationState.objects.filter(key=DUTY, subject_id=str(inc.pk)).first()


class TestDuty:
    def test_due_hours_after_the_incident_was_known(self):
        inc = incident()
        engine.refresh(DUTY)
        due = NOW + dt.timedelta(hours=70)
        state = state_of(inc)
        assert state.status == "ok" and state.next_due_at == due and state.clause == "7.2"
        assert state.responsible_role == SECURITY_OFFICER
        for moment, status in (
            (due - dt.timedelta(hours=24, seconds=1), "ok"),
            (due - dt.timedelta(hours=24), "due_soon"),
            (due - dt.timedelta(seconds=1), "due_soon"),
            (due, "overdue"),
        ):
            with time_machine.travel(moment, tick=False):
                engine.refresh(DUTY)
                assert state_of(inc).status == status, moment

    def test_the_notification_is_the_evidence(self):
        inc = incident(discovered_at=NOW - dt.timedelta(hours=80), occurred_at=None)
        engine.refresh(DUTY)
        assert state_of(inc).status == "overdue"
        n = notice(inc)
        state = state_of(inc)
        assert state.status == "ok" and state.last_done_at == n.notified_at
        ob = registry.REGISTRY[DUTY]
        since, until = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1)
        assert ob.history(ob.all_subjects(), since, until) == [(inc.pk, n.notified_at)]

    def test_the_duty_goes_when_the_category_changes_away_from_data_leak(self):
        inc = incident()
        engine.refresh(DUTY)
        assert state_of(inc) is not None
        incidents.update(inc, actor=officer_user(), category="intrusion")
        engine.refresh(DUTY)
        assert state_of(inc) is None
        assert "班級學生名冊" not in login(officer_user()).get("/privacy/leaks/").content.decode()

    def test_a_dismissed_or_voided_incident_has_no_duty(self):
        dismissed = incident()
        voided = incident()
        engine.refresh(DUTY)
        incidents.dismiss(dismissed, actor=officer_user(), reason="名冊未寄出")
        core_services.record_void(voided, actor=officer_user(), reason="重複建檔")
        engine.refresh(DUTY)
        assert state_of(dismissed) is None and state_of(voided) is None

    def test_reminders_reach_the_security_officer(self):
        inc = incident(discovered_at=NOW - dt.timedelta(hours=72), occurred_at=None)
        engine.refresh(DUTY)
        engine.run_due()
        sent = Notification.objects.filter(dedup_key__startswith=f"obl:{DUTY}:{inc.pk}:")
        assert [n.recipient.username for n in sent] == ["l-officer"]
        assert "7.2" in sent[0].subject and "第 12 條" in sent[0].subject

    def test_the_states_link_to_the_incident_and_the_form(self):
        inc = incident()
        engine.refresh(DUTY)
        ob = registry.REGISTRY[DUTY]
        assert ob.subject_url(state_of(inc)) == inc.get_absolute_url()
        assert ob.evidence_url(state_of(inc)) == f"/privacy/leaks/incident/{inc.pk}/"

    def test_the_notifications_are_in_the_evidence_binder(self):
        record = registry.RECORDS["privacy.leaknotification"]
        assert record.date_field == "notified_at" and record.obligations == (DUTY,)
        assert record.clause == "7.2"


# The incident's page ------------------------------------------------------------------------------
class TestIncidentLink:
    def test_a_leak_incident_links_to_its_notification(self):
        inc = incident()
        c = login(officer_user())
        link = f"/privacy/leaks/incident/{inc.pk}/"
        page = c.get(inc.get_absolute_url()).content.decode()
        assert f'href="{link}"' in page
        response = c.get(link)
        assert response.status_code == 302
        assert response["Location"] == f"/privacy/leak-notifications/add/?incident={inc.pk}"
        form = c.get(response["Location"])
        assert form.context["form"].initial["incident"] == inc.pk
        n = notice(inc)
        assert c.get(link)["Location"] == n.get_absolute_url()

    def test_another_category_shows_no_link(self):
        inc = incident(category="intrusion")
        page = login(officer_user()).get(inc.get_absolute_url()).content.decode()
        assert "/privacy/leaks/incident/" not in page

    def test_a_reader_without_a_notification_goes_to_the_overview(self, make_user):
        inc = incident()
        c = login(make_user("sup", SUPERVISOR))
        response = c.get(f"/privacy/leaks/incident/{inc.pk}/")
        assert response["Location"] == "/privacy/leaks/"
        assert c.get("/privacy/leaks/incident/987654/").status_code == 404
        assert (
            login(make_user("t", STAFF)).get(f"/privacy/leaks/incident/{inc.pk}/").status_code
            == 403
        )

    def test_the_incidents_module_does_not_import_privacy(self):
        from pathlib import Path

        import isms.incidents

        for path in Path(isms.incidents.__file__).parent.rglob("*.py"):
            if "tests" in path.parts:
                continue
            assert "isms.privacy" not in path.read_text(encoding="utf-8"), path


# The demo -----------------------------------------------------------------------------------
def test_the_demo_enters_a_leak_and_its_notification_once():
    from isms.core import demo as school
    from isms.incidents import demo as incident_demo
    from isms.privacy import demo_leaks

    school.load()
    incident_demo.load_demo()
    demo_leaks.load_demo()
    demo_leaks.load_demo()  # idempotent
    n = LeakNotification.objects.get()
    assert n.incident.category == "data_leak" and n.incident.status == "closed"
    assert n.recorded_by.username == "officer" and not leaks.late(n)
    assert all(leaks.split(n.content).values())
    assert leaks.needs_notice().count() == 1
