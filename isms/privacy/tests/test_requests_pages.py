"""Data-subject requests on the pages and the API: the list's countdown and filters, the
steps on the request's page (400 with zh-TW errors, nothing saved), the reply letter and
the extension notice, the API's step actions, the duty and the demo."""

import datetime as dt
import json

import pytest
import time_machine
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.compliance import engine, registry
from isms.compliance.models import ObligationState
from isms.core.models import SchoolProfile
from isms.core.roles import PRINCIPAL, SECURITY_OFFICER, SUPERVISOR, SYSADMIN
from isms.privacy import requests
from isms.privacy.models import SubjectRequest

from .helpers import client_as as login
from .helpers import frozen_at, token_client
from .test_requests import (
    NOW,
    Decision,
    Kind,
    decided,
    identified,
    make_request,
    officer,
    taipei,
    the_user,
    unchanged,
)

pytestmark = pytest.mark.django_db

_frozen = frozen_at(NOW)


def supervisor():
    return the_user("pd-supervisor", SUPERVISOR, name="王主任")


def url(name, req):
    return reverse(f"privacy:subjectrequest_{name}", args=[req.pk])


def school(name="新北市私立穀保高級家事商業職業學校"):
    profile = SchoolProfile.load()
    profile.name = name
    profile.address = "新北市三重區中正北路 163 號"
    profile.phone = "02-2971-5606"
    profile.save()
    return profile


# The list ----------------------------------------------------------------------------------------
class TestList:
    def test_the_columns_and_the_countdown(self):
        make_request(received_at=taipei(2026, 11, 20, 9, 0))  # last day 12/05: 7 days left
        page = login(officer()).get(reverse("privacy:subjectrequest_list")).content.decode()
        for header in ("案號", "請求事項", "請求人", "受理時間", "期限", "狀態"):
            assert f">{header}<" in page
        assert "PD-115-0001" in page and "請求閱覽" in page and "林怡君" in page
        assert "115/12/05（剩 7 天）" in page and "待查核身分" in page

    def test_an_overdue_request_is_red_and_found_by_the_filter(self):
        late = make_request(received_at=taipei(2026, 11, 1, 9, 0), requester_name="逾期者")
        make_request(requester_name="如期者")
        c = login(supervisor())
        page = c.get(reverse("privacy:subjectrequest_list")).content.decode()
        assert 'class="table-danger"' in page
        assert 'data-countdown="overdue" class="text-danger fw-bold"' in page
        assert "逾期 12 天" in page  # last day 11/16
        found = c.get(reverse("privacy:subjectrequest_list"), {"deadline": "overdue"})
        body = found.content.decode()
        assert "逾期者" in body and "如期者" not in body
        api = token_client(supervisor()).get("/api/data-subject-requests/", {"deadline": "overdue"})
        assert [r["id"] for r in api.json()["results"]] == [late.pk]
        assert api.json()["results"][0]["overdue"] is True

    def test_filters_by_state_and_kind(self):
        make_request(requester_name="甲同學")
        identified(requester_name="乙同學", kind=Kind.DELETE)
        c = login(officer())
        page = c.get(reverse("privacy:subjectrequest_list"), {"state": "processing"})
        assert "乙同學" in page.content.decode() and "甲同學" not in page.content.decode()
        page = c.get(reverse("privacy:subjectrequest_list"), {"kind": Kind.VIEW})
        assert "甲同學" in page.content.decode() and "乙同學" not in page.content.decode()

    def test_the_menu_lists_the_register_for_readers(self):
        page = login(supervisor()).get("/").content.decode()
        assert "當事人權利請求" in page
        assert reverse("privacy:subjectrequest_list") in page


# The request's page and its steps ---------------------------------------------------------
class TestSteps:
    def test_the_steps_are_offered_to_the_officer_only_in_their_order(self):
        req = make_request()
        page = login(officer()).get(url("detail", req)).content.decode()
        assert url("identity", req) in page and url("extend", req) in page
        assert url("decide", req) not in page and url("reply", req) not in page
        assert "查核身分後才能作成准駁決定" in page
        boss = login(supervisor()).get(url("detail", req)).content.decode()
        assert url("identity", req) not in boss and url("extend", req) not in boss
        identified(req)
        page = login(officer()).get(url("detail", req)).content.decode()
        assert url("identity", req) not in page and url("decide", req) in page

    def test_the_four_steps_through_the_page_each_audited(self):
        req = make_request()
        c = login(officer())
        steps = [
            ("identity", {"identity_method": "國民身分證正本核對"}),
            ("extend", {"extension_reason": "需調閱紀錄", "extension_notified_on": "115/11/28"}),
            ("decide", {"decision": Decision.PARTIAL, "decision_reason": "部分資料涉及第三人隱私"}),
            ("reply", {"reply_method": "掛號郵寄", "reply_text": "已寄送可提供之部分。"}),
        ]
        for name, data in steps:
            entries = AuditEntry.objects.count()
            response = c.post(url(name, req), data)
            assert response.status_code == 302, (name, response.content.decode()[:500])
            assert AuditEntry.objects.count() == entries + 1
            assert AuditEntry.objects.order_by("-id").first().actor_id == c.user.pk
        req.refresh_from_db()
        assert requests.status(req) == requests.Status.REPLIED
        assert req.decision == Decision.PARTIAL and req.extension_reason == "需調閱紀錄"
        page = c.get(url("detail", req)).content.decode()
        assert "已回覆" in page and url("letter", req) in page and url("notice", req) in page

    def test_an_extension_without_a_reason_on_the_page_is_400_and_saves_nothing(self):
        req = make_request()
        c = login(officer())
        before = unchanged(req)
        response = c.post(
            url("extend", req), {"extension_reason": "", "extension_notified_on": "115/11/28"}
        )
        assert response.status_code == 400
        body = response.content.decode()
        assert "延長須以書面通知請求人延長原因" in body and "第 13 條" in body
        assert unchanged(req) == before

    def test_a_second_extension_on_the_page_is_400(self):
        req = make_request()
        requests.extend(req, actor=officer(), reason="查證中", notified_on=NOW.date())
        c = login(officer())
        before = unchanged(req)
        response = c.post(
            url("extend", req), {"extension_reason": "再延", "extension_notified_on": "115/11/28"}
        )
        assert response.status_code == 400
        assert "僅得延長一次" in response.content.decode()
        assert unchanged(req) == before

    def test_a_decision_before_the_identity_check_on_the_page_is_400(self):
        req = make_request()
        c = login(officer())
        before = unchanged(req)
        response = c.post(url("decide", req), {"decision": Decision.GRANTED})
        assert response.status_code == 400
        assert "請先查核請求人身分" in response.content.decode()
        assert unchanged(req) == before

    def test_bad_dates_on_the_page_are_400_not_500(self):
        req = make_request()
        c = login(officer())
        before = unchanged(req)
        response = c.post(
            url("identity", req), {"identity_method": "核對", "identity_checked_at": "115/13/40"}
        )
        assert response.status_code == 400 and "日期不存在" in response.content.decode()
        response = c.post(
            url("extend", req), {"extension_reason": "x", "extension_notified_on": "not a day"}
        )
        assert response.status_code == 400 and "無法辨識的日期" in response.content.decode()
        assert unchanged(req) == before

    @pytest.mark.parametrize("role", [SUPERVISOR, PRINCIPAL, SYSADMIN])
    def test_others_may_not_take_a_step(self, make_user, role):
        req = make_request()
        c = login(make_user(f"s-{role}", role))
        response = c.post(url("identity", req), {"identity_method": "核對"})
        assert response.status_code == 403
        req.refresh_from_db()
        assert req.identity_checked_at is None

    def test_a_get_on_a_step_goes_to_the_request(self):
        req = make_request()
        response = login(officer()).get(url("decide", req))
        assert response.status_code == 302 and response["Location"] == url("detail", req)

    def test_the_add_form_defaults_the_handler_and_the_edit_form_locks_after_reply(self):
        c = login(officer())
        form = c.get(reverse("privacy:subjectrequest_add")).context["form"]
        assert form.initial["handler"] == c.user.pk
        req = decided()
        requests.reply(req, actor=officer(), method="郵寄", text="已寄送。")
        form = c.get(url("edit", req)).context["form"]
        assert {n for n, f in form.fields.items() if not f.disabled} == {"files"}


# The letters -------------------------------------------------------------------------------------
class TestLetters:
    def test_the_reply_letter_waits_for_the_decision(self):
        req = identified()
        response = login(supervisor()).get(url("letter", req))
        assert response.status_code == 400
        assert "尚未作成准駁決定" in response.content.decode()

    def test_the_reply_letter_of_a_refusal(self):
        school()
        req = make_request(kind=Kind.DELETE, requester_name="張雅婷")
        requests.check_identity(req, actor=officer(), method="國民身分證正本核對")
        requests.decide(
            req,
            actor=officer(),
            decision=Decision.REFUSED,
            reason="學籍資料依法須永久保存（個人資料保護法第 11 條第 3 項但書）。",
        )
        with time_machine.travel(taipei(2026, 12, 2, 10, 0), tick=False):
            requests.reply(req, actor=officer(), method="掛號郵寄", text="歉難同意刪除。")
        page = login(supervisor()).get(url("letter", req)).content.decode()
        assert "新北市私立穀保高級家事商業職業學校　函" in page
        assert "受文者：</span>張雅婷" in page
        assert 'data-letter="reply"' in page
        # 發文日期: the reply's day in the ROC calendar.
        assert '<span class="n">115</span>' in page and '<span class="n">12</span>' in page
        assert '<span class="n">2</span>' in page
        assert "PD-115-0001" in page and "民國115年11月28日" in page
        assert "「請求刪除」請求，歉難同意" in page
        assert "第 11 條第 3 項但書" in page
        assert "個人資料保護法第 3 條、第 11 條及第 13 條第 2 項" in page
        assert "承辦人" in page and "校長" in page

    def test_the_reply_letter_of_a_grant_mentions_the_extension(self):
        req = make_request()
        requests.extend(req, actor=officer(), reason="需調閱檔案", notified_on=NOW.date())
        decided(req)
        page = login(officer()).get(url("letter", req)).content.decode()
        assert "「請求閱覽」請求，本校同意辦理" in page
        assert "延長處理期限至民國115年12月28日" in page
        assert "第 10 條及第 13 條第 1 項" in page

    def test_the_extension_notice(self):
        school()
        req = make_request(kind=Kind.CORRECT)
        response = login(officer()).get(url("notice", req))
        assert response.status_code == 400
        requests.extend(
            req, actor=officer(), reason="須向戶政機關查證戶籍地址", notified_on=NOW.date()
        )
        page = login(supervisor()).get(url("notice", req)).content.decode()
        assert "延長處理期限通知書" in page and 'data-letter="extension"' in page
        assert "延長原因：須向戶政機關查證戶籍地址" in page
        assert "延長處理期限 30 日，至民國116年1月27日止" in page
        assert "原應於民國115年12月28日前作成准駁決定" in page
        assert "第 13 條第 2 項" in page
        assert '<span class="n">28</span>' in page  # 發文日期: the notice's day

    def test_letters_are_for_readers_only(self, make_user):
        req = decided()
        assert login(make_user("sys", SYSADMIN)).get(url("letter", req)).status_code == 403
        assert login(make_user("prin", PRINCIPAL)).get(url("letter", req)).status_code == 200


# The API -----------------------------------------------------------------------------------------
class TestApi:
    def post(self, c, req, step, body):
        return c.post(
            f"/api/data-subject-requests/{req.pk}/{step}/",
            json.dumps(body),
            content_type="application/json",
        )

    def test_the_steps_through_the_api(self):
        req = make_request(kind=Kind.COPY)
        c = token_client(officer())
        answer = self.post(c, req, "identity", {"identity_method": "國民身分證正本核對"})
        assert answer.status_code == 200 and answer.json()["status"] == "processing"
        answer = self.post(
            c,
            req,
            "extend",
            {"extension_reason": "需調閱檔案", "extension_notified_on": "115/11/28"},
        )
        assert answer.status_code == 200
        assert answer.json()["last_day"] == "2026-12-28"
        assert answer.json()["deadline"] == "2026-12-28T23:59:59.999999+08:00"
        answer = self.post(c, req, "decide", {"decision": "granted"})
        assert answer.status_code == 200 and answer.json()["decided_by"] == c.user.pk
        answer = self.post(c, req, "reply", {"reply_method": "電子郵件", "reply_text": "已寄送。"})
        assert answer.status_code == 200 and answer.json()["status"] == "replied"

    def test_refusals_are_400_with_field_errors_and_save_nothing(self):
        req = make_request()
        c = token_client(officer())
        before = unchanged(req)
        answer = self.post(c, req, "decide", {"decision": "granted"})
        assert answer.status_code == 400 and "第 3 條" in answer.json()["decision"][0]
        answer = self.post(c, req, "extend", {"extension_notified_on": "115/11/28"})
        assert answer.status_code == 400
        assert "第 13 條" in answer.json()["extension_reason"][0]
        answer = self.post(c, req, "reply", {"reply_method": "郵寄", "reply_text": "x"})
        assert answer.status_code == 400 and "replied_at" in answer.json()
        answer = self.post(c, req, "identity", {"identity_checked_at": "garbage"})
        assert answer.status_code == 400 and "identity_checked_at" in answer.json()
        assert unchanged(req) == before

    def test_a_second_extension_through_the_api_is_refused(self):
        req = make_request()
        c = token_client(officer())
        body = {"extension_reason": "查證中", "extension_notified_on": "2026-11-28"}
        assert self.post(c, req, "extend", body).status_code == 200
        again = self.post(c, req, "extend", body)
        assert again.status_code == 400 and "僅得延長一次" in again.json()["extended_at"][0]

    def test_readers_may_not_take_steps(self):
        req = make_request()
        answer = self.post(token_client(supervisor()), req, "identity", {"identity_method": "x"})
        assert answer.status_code == 403

    def test_create_refuses_an_agent_without_a_name_and_ignores_the_steps(self):
        c = token_client(officer())
        body = {
            "kind": "stop",
            "received_at": "115/11/28 09:00",
            "channel": "letter",
            "requester_name": "陳小明",
            "requester_contact": "臺北市",
            "details": "停止利用。",
            "by_agent": True,
        }
        answer = c.post("/api/data-subject-requests/", json.dumps(body), "application/json")
        assert answer.status_code == 400 and "agent_name" in answer.json()
        body |= {"agent_name": "陳大明", "number": "X-1", "decision": "granted"}
        answer = c.post("/api/data-subject-requests/", json.dumps(body), "application/json")
        assert answer.status_code == 201, answer.content
        data = answer.json()
        assert data["number"] == "PD-115-0001" and data["decision"] == ""
        assert data["handler"] == c.user.pk and data["last_day"] == "2026-12-28"


# The duty ----------------------------------------------------------------------------------------
class TestDuty:
    def state(self, req):
        return ObligationState.objects.get(key=requests.DUTY, subject_id=str(req.pk))

    def test_it_is_registered_with_its_records(self):
        duty = registry.REGISTRY[requests.DUTY]
        assert duty.clause == "7.8" and duty.rhythm.is_event
        assert duty.reminders == (dt.timedelta(days=5), dt.timedelta(days=1))
        assert registry.RECORDS["privacy.subjectrequest"].obligations == (requests.DUTY,)

    def test_due_at_the_deadline_reminded_before_overdue_after_done_by_the_reply(self):
        req = make_request()  # last day 115/12/13
        state = self.state(req)
        assert state.status == "ok"
        assert state.next_due_at == taipei(2026, 12, 13, 23, 59, 59, 999999)
        engine.refresh(requests.DUTY, now=taipei(2026, 12, 9, 0, 0))
        assert self.state(req).status == "due_soon"
        engine.refresh(requests.DUTY, now=taipei(2026, 12, 13, 23, 59))
        assert self.state(req).status == "due_soon"
        engine.refresh(requests.DUTY, now=taipei(2026, 12, 14, 0, 0))
        assert self.state(req).status == "overdue"
        decided(req)
        with time_machine.travel(taipei(2026, 12, 14, 9, 0), tick=False):
            requests.reply(req, actor=officer(), method="郵寄", text="已寄送。")
        assert self.state(req).status == "ok"

    def test_an_extension_moves_the_due_moment_at_once(self):
        req = make_request(kind=Kind.DELETE)
        requests.extend(req, actor=officer(), reason="查證中", notified_on=NOW.date())
        assert self.state(req).next_due_at == taipei(2027, 1, 27, 23, 59, 59, 999999)

    def test_a_voided_request_leaves_the_duty(self):
        req = make_request()
        requests.void_request(req, actor=officer(), reason="重複登錄")
        assert not ObligationState.objects.filter(key=requests.DUTY).exists()

    def test_reminders_go_to_the_handler_and_the_officers(self, make_user):
        handler = make_user("handler", SECURITY_OFFICER)
        other = make_user("officer2", SECURITY_OFFICER)
        make_user("boss", SUPERVISOR)
        req = make_request(handler=handler)
        duty = registry.REGISTRY[requests.DUTY]
        found = {u.username for u in duty.recipients(self.state(req))}
        assert found == {handler.username, other.username, officer().username}

    def test_history_gives_each_reply_in_the_range(self):
        req = decided()
        requests.reply(req, actor=officer(), method="郵寄", text="已寄送。")
        duty = registry.REGISTRY[requests.DUTY]
        history = duty.history(duty.all_subjects(), NOW - dt.timedelta(days=1), NOW)
        assert history == [(req.pk, NOW)]


# The demo ----------------------------------------------------------------------------------------
class TestDemo:
    def test_three_requests_answered_extended_and_near_the_deadline(self):
        from isms.privacy import demo_requests

        the_user("officer", SECURITY_OFFICER, name="李淑芬")
        demo_requests.load_demo()
        demo_requests.load_demo()  # idempotent
        rows = {r.kind: r for r in SubjectRequest.objects.all()}
        assert len(rows) == 3
        viewed, corrected, copied = rows[Kind.VIEW], rows[Kind.CORRECT], rows[Kind.COPY]
        assert requests.countdown(viewed) == (requests.Countdown.REPLIED, "已回覆")
        assert requests.status(corrected) == requests.Status.EXTENDED
        assert corrected.extension_reason and corrected.extension_notified_on
        assert corrected.by_agent and corrected.agent_name == "張志明"
        assert requests.countdown(copied) == (requests.Countdown.OPEN, "剩 2 天")
        assert requests.status(copied) == requests.Status.PROCESSING
        actors = set(
            AuditEntry.objects.filter(model_label="privacy.subjectrequest").values_list(
                "actor__username", flat=True
            )
        )
        assert actors == {"officer"}
