"""Publishing approvals (網頁公布個資核准; clause 7.4): the register per role and scope, the
request's rules, who decides (the unit's head; the principal when the head asked; nobody
without a head), every step and every refused step, the notifications, 逾期未下架, the
expiry duty with frozen time, and the API's steps."""

import datetime as dt
import json

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.awareness.models import OfficeHead
from isms.compliance import engine, registry
from isms.compliance.models import ObligationState
from isms.core.models import Unit, User
from isms.core.roles import (
    ALL_ROLES,
    GUARD,
    MANAGERS,
    PRINCIPAL,
    SECURITY_OFFICER,
    STAFF,
    SUPERVISOR,
)
from isms.core.testing import RegisterContract
from isms.notifications.models import Notification
from isms.privacy import publishing
from isms.privacy.models import PublishingApproval
from isms.privacy.views_publishing import PublishingRegister

from . import helpers
from .helpers import TAIPEI, category, client_as, frozen_at, taipei
from .helpers import token_client as api_as

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 30, 10, 0, tzinfo=TAIPEI)  # Monday 115/11/30 10:00
_frozen = frozen_at(NOW)
_n = {"n": 0}
TODAY = dt.date(2026, 11, 30)
DAY = dt.timedelta(days=1)
S = PublishingApproval.Status
OFFICER = frozenset({SECURITY_OFFICER})


def unit_of(name=None) -> Unit:
    return helpers.unit_of(name, prefix="p")


def login(name, *roles, unit=None, email=True, **fields) -> User:
    return helpers.member(name, *roles, unit=unit, email=email, **fields)


def url(name, *args):
    return reverse(f"privacy:publishingapproval_{name}", args=args)


def fields(**overrides) -> dict:
    values = {
        "what": "114 學年度技藝競賽得獎學生之班級、姓名",
        "where": "https://www.kpvs.ntpc.edu.tw/academic/news/1203",
        "reason": "表揚得獎學生；活動辦法已告知將公布姓名",
        "publish_from": TODAY,
        "publish_until": TODAY + 60 * DAY,
    }
    values.update(overrides)
    return values


def request_of(actor, unit, *, categories=None, today=None, **overrides) -> PublishingApproval:
    return publishing.save_request(
        PublishingApproval(unit=unit, **fields(**overrides)),
        actor=actor,
        categories=[category()] if categories is None else categories,
        today=today,
    )


def errors_of(actor, unit, **kw) -> dict:
    with pytest.raises(ValidationError) as caught:
        request_of(actor, unit, **kw)
    return caught.value.message_dict


def form_data(unit, **overrides) -> dict:
    data = {
        **fields(),
        "unit": unit.pk,
        "publish_from": "115/11/30",
        "publish_until": "116/01/29",
        "categories": [category().pk],
    }
    data.update(overrides)
    return data


@pytest.fixture
def unit():
    return unit_of("教務處")


@pytest.fixture
def head(unit):
    user = login("head", STAFF, unit=unit)
    OfficeHead.objects.create(unit=unit, user=user)
    return user


@pytest.fixture
def teacher(unit):
    return login("teacher", STAFF, unit=unit)


@pytest.fixture
def officer():
    return login("officer", SECURITY_OFFICER, STAFF)


@pytest.fixture
def principal():
    return login("principal", PRINCIPAL, STAFF)


@pytest.fixture
def pending(teacher, unit, head):
    return request_of(teacher, unit)


@pytest.fixture
def approved(pending, head):
    return publishing.approve(pending, actor=head)


def told(user, part=""):
    return Notification.objects.filter(recipient=user, dedup_key__contains=part)


# The register per role and scope -----------------------------------------------------------------
class TestPublishingRegister(RegisterContract):
    register = PublishingRegister
    api_prefix = "publishing-approvals"
    readers = frozenset(MANAGERS)
    # Others see their own and their units' requests (the contract's people have neither).
    scoped_readers = frozenset(ALL_ROLES - MANAGERS)
    # Anyone with a role requests for their own unit; the contract's people belong to none,
    # so only the officer (any unit) writes here. Own-unit requests are tested below.
    writers = OFFICER
    voiders = OFFICER
    exporters = frozenset(MANAGERS)

    def make_sample(self, **overrides):
        _n["n"] += 1
        the_unit = unit_of()
        requester = login(f"req{_n['n']}", STAFF, unit=the_unit)
        approval = PublishingApproval.objects.create(
            unit=the_unit, requested_by=requester, **fields(**overrides)
        )
        approval.categories.add(category())
        return approval

    def form_data(self):
        return form_data(unit_of())

    def change_data(self, obj):
        return form_data(obj.unit, what=obj.what + "（更正）")

    def api_data(self):
        return {
            **fields(publish_from="2026-11-30", publish_until="2027-01-29"),
            "unit": unit_of().pk,
            "categories": [category().pk],
        }


def test_a_member_of_a_unit_sees_its_requests_and_no_other(pending, unit):
    colleague = client_as(login("colleague", STAFF, unit=unit))
    outsider = client_as(login("outsider", STAFF, unit=unit_of("總務處")))
    assert colleague.get(url("detail", pending.pk)).status_code == 200
    assert outsider.get(url("detail", pending.pk)).status_code == 404
    assert list(outsider.get(url("list")).context["page_obj"].object_list) == []
    assert list(colleague.get(url("list")).context["page_obj"].object_list) == [pending]


def test_the_head_sees_the_requests_of_the_unit_they_head(pending, unit):
    other_head = login("acting", STAFF)  # heads the unit without belonging to it
    OfficeHead.objects.filter(unit=unit).update(user=other_head)
    assert client_as(other_head).get(url("detail", pending.pk)).status_code == 200


# The request ------------------------------------------------------------------------------------
def test_a_member_of_staff_requests_for_their_own_unit(teacher, unit, head):
    c = client_as(teacher)
    assert c.get(url("add")).status_code == 200
    response = c.post(url("add"), form_data(unit))
    assert response.status_code == 302
    approval = PublishingApproval.objects.get()
    assert approval.status == S.PENDING and approval.requested_by == teacher
    assert approval.unit == unit


def test_a_member_of_staff_may_not_request_for_another_unit(teacher):
    other = unit_of("總務處")
    assert client_as(teacher).post(url("add"), form_data(other)).status_code == 400
    assert "您只能為自己所屬的單位提出申請" in errors_of(teacher, other)["unit"][0]
    assert not PublishingApproval.objects.exists()


def test_someone_of_no_unit_is_told_why(client_for):
    c = client_for(GUARD)
    response = c.get(url("add"))
    assert response.status_code == 403 and "沒有所屬單位" in response.content.decode()
    with pytest.raises(PermissionDenied):
        request_of(c.user, unit_of())


def test_the_form_offers_the_unit_of_a_notice(teacher, unit):
    page = client_as(teacher).get(url("add"), {"unit": unit.pk})
    assert page.context["form"].initial["unit"] == unit.pk
    assert page.context["form"].initial["publish_from"] == TODAY


REQUIRED = [
    ("what", "請填寫公布內容"),
    ("where", "請填寫公布個人資料的網頁網址"),
    ("reason", "請填寫公布目的及依據"),
]


@pytest.mark.parametrize(("name", "message"), REQUIRED)
def test_what_where_and_why_are_required(officer, unit, name, message):
    errors = errors_of(officer, unit, **{name: "  "})
    assert message in errors[name][0] and "條文 7.4" in errors[name][0]


def test_at_least_one_category(officer, unit):
    assert "請至少選擇一項" in errors_of(officer, unit, categories=[])["categories"][0]


def test_a_retired_category_is_refused(officer, unit):
    old = category("C098", "停用的類別", active=False)
    assert "已停用" in errors_of(officer, unit, categories=[old])["categories"][0]


@pytest.mark.parametrize("where", ["ftp://files.example/list.pdf", "not a page", "https://"])
def test_where_is_a_web_address(officer, unit, where):
    assert "http://" in errors_of(officer, unit, where=where)["where"][0]


def test_the_texts_are_within_their_limits(officer, unit):
    assert "最多 1000 個字" in errors_of(officer, unit, what="字" * 1001)["what"][0]


def test_the_end_is_not_before_the_start(officer, unit):
    errors = errors_of(officer, unit, publish_until=TODAY - DAY)
    assert errors["publish_until"] == ["公布期限不可早於公布起日。"]


def test_a_one_day_publication_and_a_long_one_are_fine(officer, unit):
    assert request_of(officer, unit, publish_until=TODAY).pk
    # The policy sets no longest span; none is invented.
    assert request_of(officer, unit, publish_until=TODAY + 3650 * DAY).pk


def test_a_new_request_does_not_start_in_the_past(officer, unit):
    errors = errors_of(officer, unit, publish_from=TODAY - DAY)
    assert "公布起日不可早於今天（115/11/30）" in errors["publish_from"][0]
    assert "須先經所屬單位主管核准才能公布" in errors["publish_from"][0]


def test_the_form_says_the_period_rules_in_chinese(teacher, unit):
    c = client_as(teacher)
    response = c.post(
        url("add"), form_data(unit, publish_from="115/11/29", publish_until="115/11/20")
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "公布期限不可早於公布起日" in page and "公布起日不可早於今天" in page
    assert "privacy_publishing_until_after_from" not in page
    assert not PublishingApproval.objects.exists()


def test_the_api_refuses_with_field_errors(officer, unit):
    body = {**fields(publish_from="2026-12-10", publish_until="2026-12-01"), "unit": unit.pk}
    response = api_as(officer).post(
        "/api/publishing-approvals/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert set(response.json()) >= {"publish_until", "categories"}
    assert not PublishingApproval.objects.exists()


def test_a_request_is_one_audit_entry_with_its_categories(teacher, unit):
    before = AuditEntry.objects.count()
    approval = request_of(teacher, unit)  # no head: the officers would be told (none here)
    entries = list(AuditEntry.objects.order_by("id")[before:])
    assert len(entries) == 1
    assert entries[0].action == "create" and entries[0].actor_id == teacher.pk
    assert entries[0].object_id == str(approval.pk)
    assert entries[0].changes["categories"] == [None, ["C001 辨識個人者"]]


def test_the_requester_corrects_a_pending_request(pending, teacher, unit):
    c = client_as(teacher)
    assert c.get(url("edit", pending.pk)).status_code == 200
    response = c.post(url("edit", pending.pk), form_data(unit, what="得獎名單（僅姓名）"))
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.what == "得獎名單（僅姓名）"


def test_a_colleague_may_not_correct_it(pending, unit):
    colleague = login("colleague", STAFF, unit=unit)
    request_of(colleague, unit)  # has a pending request of their own
    c = client_as(colleague)
    assert c.get(url("edit", pending.pk)).status_code == 404
    with pytest.raises(PermissionDenied):
        publishing.save_request(pending, actor=colleague, categories=[category()])


def test_a_decided_request_is_not_changed(approved, teacher):
    assert client_as(teacher).get(url("edit", approved.pk)).status_code == 403
    approved.publish_until = TODAY + 90 * DAY
    with pytest.raises(ValidationError) as caught:
        publishing.save_request(approved, actor=teacher, categories=[category()])
    assert "重新提出申請" in caught.value.messages[0]


def test_an_unchanged_start_may_have_passed_while_pending(teacher, unit, head):
    approval = request_of(teacher, unit)
    with time_machine.travel(NOW + 3 * DAY, tick=False):
        approval.what = "得獎名單（更正）"
        publishing.save_request(approval, actor=teacher, categories=[category()])
        approval.publish_from = TODAY + DAY
        with pytest.raises(ValidationError):
            publishing.save_request(approval, actor=teacher, categories=[category()])


# Who decides ----------------------------------------------------------------------------------
def test_the_head_is_told_of_a_new_request(pending, head, teacher):
    mail = told(head, ":requested").get()
    assert "待核准" in mail.subject and "teacher老師" in mail.subject
    assert pending.where in mail.body and "115/11/30 至 116/01/29" in mail.body
    assert not told(teacher).exists()


def test_the_head_approves(pending, head, teacher):
    c = client_as(head)
    page = c.get(url("detail", pending.pk)).content.decode()
    assert "data-decide-form" in page and "由單位主管 head老師 核定" in page
    before = AuditEntry.objects.count()
    response = c.post(url("decide", pending.pk), {"decision": "approve", "note": "同意"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == S.APPROVED and pending.decided_by == head
    assert pending.decided_at == NOW and pending.decision_note == "同意"
    entry = AuditEntry.objects.filter(model_label="privacy.publishingapproval").order_by("-id")[0]
    assert entry.id > before and entry.actor_id == head.pk
    assert entry.changes["status"] == ["pending", "approved"]
    mail = told(teacher, ":approved").get()
    assert "已核准" in mail.subject and "期滿請下架" in mail.body


def test_a_rejection_needs_its_reason(pending, head, teacher):
    c = client_as(head)
    response = c.post(url("decide", pending.pk), {"decision": "reject", "note": " "})
    assert response.status_code == 400
    assert "不核准時請填寫理由" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == S.PENDING and pending.decided_at is None
    response = c.post(url("decide", pending.pk), {"decision": "reject", "note": "請改為只公布班級"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == S.REJECTED
    mail = told(teacher, ":rejected").get()
    assert "不核准" in mail.subject and "請改為只公布班級" in mail.body


def test_no_deciding_twice(approved, head):
    with pytest.raises(ValidationError) as caught:
        publishing.approve(approved, actor=head)
    assert caught.value.messages == ["此申請目前為「已核准」，不能核准。"]
    with pytest.raises(ValidationError):
        publishing.reject(approved, actor=head, note="改變主意")
    response = client_as(head).post(url("decide", approved.pk), {"decision": "approve"})
    assert response.status_code == 400
    assert "此申請目前為「已核准」，不能核准。" in response.content.decode()


@pytest.mark.parametrize("who", ["teacher", "colleague", "officer", "principal"])
def test_only_the_head_decides(pending, unit, teacher, officer, principal, who):
    users = {
        "teacher": teacher,
        "colleague": login("colleague", STAFF, unit=unit),
        "officer": officer,
        "principal": principal,
    }
    user = users[who]
    with pytest.raises(PermissionDenied):
        publishing.approve(pending, actor=user)
    if who != "principal" and who != "officer":
        response = client_as(user).post(url("decide", pending.pk), {"decision": "approve"})
        assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.status == S.PENDING


def test_the_principal_decides_a_request_of_the_head(unit, head, principal, officer):
    approval = request_of(head, unit)
    assert told(principal, ":requested").exists()
    page = client_as(head).get(url("detail", approval.pk)).content.decode()
    assert "申請人即單位主管（head老師），由校長核定" in page
    assert "data-decide-form" not in page
    with pytest.raises(PermissionDenied):
        publishing.approve(approval, actor=head)
    superuser = login("root", is_superuser=True)
    with pytest.raises(PermissionDenied):
        publishing.approve(approval, actor=superuser)
    publishing.approve(approval, actor=principal)
    approval.refresh_from_db()
    assert approval.status == S.APPROVED and approval.decided_by == principal


def test_without_a_head_nobody_decides_and_the_officer_is_told(teacher, unit, officer):
    approval = request_of(teacher, unit)
    mail = told(officer, ":no_head").get()
    assert "尚未設定單位主管" in mail.subject
    assert reverse("awareness:officehead_add") in mail.body
    page = client_as(officer).get(url("detail", approval.pk)).content.decode()
    assert "data-no-head" in page and "尚未設定單位主管" in page
    assert reverse("awareness:officehead_add") in page
    teacher_page = client_as(teacher).get(url("detail", approval.pk)).content.decode()
    assert "已通知資安業務承辦人設定單位主管" in teacher_page
    with pytest.raises(ValidationError) as caught:
        publishing.approve(approval, actor=officer)
    assert "尚未設定單位主管" in caught.value.messages[0]


def test_a_head_whose_login_is_disabled_cannot_decide(pending, head):
    head.is_active = False
    head.save()
    with pytest.raises(ValidationError) as caught:
        publishing.approve(pending, actor=head)
    assert "已停用" in caught.value.messages[0]


def test_an_approval_after_the_end_is_refused(teacher, unit, head):
    approval = request_of(teacher, unit, publish_until=TODAY + 2 * DAY)
    with time_machine.travel(NOW + 3 * DAY, tick=False):
        with pytest.raises(ValidationError) as caught:
            publishing.approve(approval, actor=head)
        assert "公布期限（115/12/02）已過，不能核准" in caught.value.messages[0]
        # A rejection is still possible.
        publishing.reject(approval, actor=head, note="已逾期")


# Taking it down -------------------------------------------------------------------------------
def test_no_removal_before_approval(pending, teacher):
    with pytest.raises(ValidationError) as caught:
        publishing.record_removal(pending, actor=teacher)
    assert caught.value.messages == ["此申請目前為「待核准」，不能登錄下架。"]


@pytest.mark.parametrize("who", ["teacher", "head", "officer"])
def test_the_requester_the_head_or_the_officer_records_the_removal(
    approved, teacher, head, officer, who
):
    user = {"teacher": teacher, "head": head, "officer": officer}[who]
    c = client_as(user)
    with time_machine.travel(NOW + dt.timedelta(hours=3), tick=False):
        assert "data-remove-form" in c.get(url("detail", approved.pk)).content.decode()
        response = c.post(url("remove", approved.pk), {"removed_at": "115/11/30 12:30"})
    assert response.status_code == 302
    approved.refresh_from_db()
    assert approved.status == S.REMOVED and approved.removed_by == user
    assert approved.removed_at == taipei(2026, 11, 30, 12, 30)
    entry = AuditEntry.objects.filter(model_label="privacy.publishingapproval").order_by("-id")[0]
    assert entry.actor_id == user.pk and entry.changes["status"] == ["approved", "removed"]


def test_a_colleague_may_not_record_the_removal(approved, unit):
    colleague = login("colleague", STAFF, unit=unit)
    assert client_as(colleague).post(url("remove", approved.pk), {}).status_code == 403
    approved.refresh_from_db()
    assert approved.status == S.APPROVED


def test_the_removal_time_is_not_in_the_future_nor_before_the_approval(approved, teacher):
    with pytest.raises(ValidationError) as caught:
        publishing.record_removal(approved, actor=teacher, removed_at=NOW + dt.timedelta(hours=1))
    assert caught.value.message_dict["removed_at"] == ["下架時間不可晚於現在。"]
    with pytest.raises(ValidationError) as caught:
        publishing.record_removal(approved, actor=teacher, removed_at=NOW - DAY)
    assert "下架時間不可早於核准時間（115/11/30 10:00）" in caught.value.messages[0]
    publishing.record_removal(approved, actor=teacher)
    approved.refresh_from_db()
    assert approved.removed_at == NOW


def test_removing_twice_is_refused(approved, teacher):
    publishing.record_removal(approved, actor=teacher)
    with pytest.raises(ValidationError):
        publishing.record_removal(approved, actor=teacher)


# Withdrawing and voiding ----------------------------------------------------------------------
def test_the_requester_withdraws_a_pending_request(pending, teacher, head):
    c = client_as(head)
    assert c.post(url("withdraw", pending.pk), {"reason": "不需要了"}).status_code == 403
    response = client_as(teacher).post(url("withdraw", pending.pk), {"reason": "活動延期"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.voided_at is not None and pending.void_reason == "活動延期"
    assert AuditEntry.objects.order_by("-id").first().actor_id == teacher.pk


def test_a_decided_request_is_not_withdrawn(approved, teacher):
    with pytest.raises(ValidationError):
        publishing.withdraw(approved, actor=teacher, reason="取消")


def test_only_the_officer_voids(approved, teacher, officer):
    assert client_as(teacher).post(url("void", approved.pk), {"reason": "錯誤"}).status_code == 403
    publishing.void_approval(approved, actor=officer, reason="重複登錄")
    approved.refresh_from_db()
    assert approved.voided_at is not None


# 逾期未下架 ---------------------------------------------------------------------------------
def test_an_approval_past_its_end_and_still_online_is_red_on_the_list(teacher, unit, head):
    approval = request_of(teacher, unit, publish_until=TODAY + 5 * DAY)
    publishing.approve(approval, actor=head)
    live = request_of(teacher, unit, publish_until=TODAY + 30 * DAY)
    publishing.approve(live, actor=head)
    with time_machine.travel(NOW + 6 * DAY, tick=False):
        approval.refresh_from_db()
        assert publishing.state(approval) == publishing.State.OVERDUE
        c = client_as(head)
        page = c.get(url("list")).content.decode()
        assert page.count("data-overdue") == 1
        assert 'class="table-danger" data-overdue' in page and "逾期未下架" in page
        only = c.get(url("list"), {"state": "overdue"}).context["page_obj"].object_list
        assert list(only) == [approval]
        detail = c.get(url("detail", approval.pk)).content.decode()
        assert "data-overdue" in detail and "尚未登錄下架" in detail
        publishing.record_removal(approval, actor=teacher)
        assert "data-overdue" not in c.get(url("list")).content.decode()


def test_the_states_read_as_people_say_them(teacher, unit, head):
    later = request_of(teacher, unit, publish_from=TODAY + 3 * DAY)
    assert publishing.state_label(later) == "待核准"
    publishing.approve(later, actor=head)
    later.refresh_from_db()
    assert publishing.state_label(later) == "已核准（尚未公布）"
    with time_machine.travel(NOW + 3 * DAY, tick=False):
        assert publishing.state_label(later) == "已核准（公布中）"


# The duty -------------------------------------------------------------------------------------
def state_of(approval):
    return ObligationState.objects.get(key=publishing.DUTY, subject_id=str(approval.pk))


def test_the_expiry_duty_follows_the_end_day_with_its_reminders(teacher, unit, head, settings):
    settings.ISMS_PUBLISHING_REMIND_DAYS = 14
    approval = request_of(teacher, unit, publish_until=dt.date(2027, 1, 31))
    publishing.approve(approval, actor=head)
    bystander = login("bystander", STAFF, unit=unit)
    state = state_of(approval)
    assert state.status == "ok" and state.clause == "7.4"
    assert state.next_due_at == taipei(2027, 1, 31, 23, 59, 59)
    with time_machine.travel(taipei(2027, 1, 17, 23, 59, 58), tick=False):
        engine.refresh(publishing.DUTY)
        state.refresh_from_db()
        assert state.status == "ok"
    with time_machine.travel(taipei(2027, 1, 17, 23, 59, 59), tick=False):
        engine.refresh(publishing.DUTY)
        engine.run_due()
        state.refresh_from_db()
        assert state.status == "due_soon"
        first = Notification.objects.filter(dedup_key__startswith=f"obl:{publishing.DUTY}:")
        assert {n.recipient for n in first} == {teacher, head}
        assert bystander not in {n.recipient for n in first}
    with time_machine.travel(taipei(2027, 1, 30, 23, 59, 59), tick=False):
        engine.refresh(publishing.DUTY)
        engine.run_due()
        second = Notification.objects.filter(dedup_key__startswith=f"obl:{publishing.DUTY}:")
        assert second.count() == 4  # the day before: both told again
    with time_machine.travel(taipei(2027, 2, 1, 0, 0), tick=False):
        engine.refresh(publishing.DUTY)
        engine.run_due()
        state.refresh_from_db()
        assert state.status == "overdue"
        overdue = Notification.objects.filter(
            dedup_key__startswith=f"obl:{publishing.DUTY}:", dedup_key__contains=":overdue:"
        )
        assert {n.recipient for n in overdue} == {teacher, head}
        assert all(n.urgent for n in overdue)
        publishing.record_removal(approval, actor=teacher)
        state.refresh_from_db()
        assert state.status == "ok" and state.last_done_at == taipei(2027, 2, 1, 0, 0)


def test_the_reminder_days_are_the_settings(teacher, unit, head, settings):
    settings.ISMS_PUBLISHING_REMIND_DAYS = 3
    approval = request_of(teacher, unit, publish_until=dt.date(2027, 1, 31))
    publishing.approve(approval, actor=head)
    with time_machine.travel(taipei(2027, 1, 20, 12, 0), tick=False):
        engine.refresh(publishing.DUTY)
        assert state_of(approval).status == "ok"
    with time_machine.travel(taipei(2027, 1, 29, 0, 0), tick=False):
        engine.refresh(publishing.DUTY)
        assert state_of(approval).status == "due_soon"


def test_only_approved_publications_are_subjects(teacher, unit, head, officer):
    pending = request_of(teacher, unit)
    rejected = request_of(teacher, unit)
    publishing.reject(rejected, actor=head, note="不宜公布")
    voided = request_of(teacher, unit)
    publishing.approve(voided, actor=head)
    publishing.void_approval(voided, actor=officer, reason="重複")
    engine.refresh(publishing.DUTY)
    assert not ObligationState.objects.filter(key=publishing.DUTY).exists()
    assert pending.pk


def test_the_duty_reads_in_a_constant_number_of_queries(teacher, unit, head):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def refresh():
        with CaptureQueriesContext(connection) as queries:
            engine.refresh(publishing.DUTY)
        return len(queries)

    publishing.approve(request_of(teacher, unit), actor=head)
    refresh()
    few = refresh()
    for _ in range(6):
        publishing.approve(request_of(teacher, unit), actor=head)
    refresh()
    assert refresh() == few


def test_the_duty_history_gives_each_removal(approved, teacher):
    publishing.record_removal(approved, actor=teacher)
    duty = registry.REGISTRY[publishing.DUTY]
    found = duty.history(duty.all_subjects(), NOW - DAY, NOW + DAY)
    assert found == [(approved.pk, NOW)]


def test_the_approvals_are_in_the_evidence_binder():
    records = registry.RECORDS["privacy.publishingapproval"]
    assert records.clause == "7.4" and records.obligations == (publishing.DUTY,)
    labels = [str(c.label) for c in records.columns]
    for label in ("公布內容", "網頁網址", "公布期限", "核定者", "下架時間"):
        assert label in labels


# The API's steps ------------------------------------------------------------------------------
def test_the_api_steps(pending, head, teacher, unit):
    base = f"/api/publishing-approvals/{pending.pk}/"
    outsider = api_as(login("outsider", STAFF, unit=unit_of("總務處")))
    assert (
        outsider.post(base + "approve/", "{}", content_type="application/json").status_code == 404
    )
    colleague = api_as(login("colleague", STAFF, unit=unit))
    assert (
        colleague.post(base + "approve/", "{}", content_type="application/json").status_code == 403
    )
    c = api_as(head)
    refused = c.post(base + "reject/", json.dumps({"note": ""}), content_type="application/json")
    assert refused.status_code == 400 and "note" in refused.json()
    done = c.post(base + "approve/", json.dumps({"note": "同意"}), content_type="application/json")
    assert done.status_code == 200
    assert done.json()["status"] == "approved" and done.json()["state"] == "live"
    twice = c.post(base + "approve/", "{}", content_type="application/json")
    assert twice.status_code == 400 and "non_field_errors" in twice.json()
    removed = api_as(teacher).post(
        base + "remove/",
        json.dumps({"removed_at": "115/11/30 10:00"}),
        content_type="application/json",
    )
    assert removed.status_code == 200 and removed.json()["status"] == "removed"


def test_the_api_withdraw(pending, teacher):
    base = f"/api/publishing-approvals/{pending.pk}/"
    c = api_as(teacher)
    assert c.post(base + "withdraw/", "{}", content_type="application/json").status_code == 400
    response = c.post(
        base + "withdraw/", json.dumps({"reason": "活動取消"}), content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["voided_at"]


def test_a_supervisor_reads_every_request_but_decides_none(pending):
    supervisor = login("chief", SUPERVISOR)
    c = client_as(supervisor)
    assert c.get(url("detail", pending.pk)).status_code == 200
    assert c.post(url("decide", pending.pk), {"decision": "approve"}).status_code == 403


# No 500 ----------------------------------------------------------------------------------
def test_no_page_of_notices_or_publishing_answers_500_to_malformed_input(client_for):
    from django.core.management import call_command

    from isms.core.tests.test_no_server_errors import (
        JUNK_BODIES,
        JUNK_FORM,
        JUNK_QUERY,
        concrete,
        routes,
    )

    call_command("demo", "--quiet")
    assert PublishingApproval.objects.count() == 3
    mine = [
        r
        for r in routes()
        if r.startswith(("privacy/notices", "privacy/publishing"))
        or "activity-notices" in r
        or "publishing-approvals" in r
    ]
    assert len(mine) > 20
    people = [
        client_for(SECURITY_OFFICER, superuser=True),
        client_for(STAFF),
        client_as(User.objects.get(username="sysadmin")),
        client_as(User.objects.get(username="teacher")),
    ]
    checked = 0
    for route in mine:
        for pk in (1, 3, 99999999):
            target = concrete(route, pk)
            for c in people:
                for response in (
                    c.get(target, JUNK_QUERY),
                    c.get(target, {"download": "x", "part": "x", "unit": "abc", "state": "x"}),
                    c.post(target, JUNK_FORM),
                    c.post(target, {"decision": "approve", "removed_at": "115/99/99"}),
                    *(
                        c.post(target, body, content_type="application/json")
                        for body in JUNK_BODIES
                    ),
                    c.patch(target, JUNK_BODIES[2], content_type="application/json"),
                ):
                    assert response.status_code < 500, (target, response.status_code)
                    checked += 1
    assert checked > 800
