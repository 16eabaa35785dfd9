"""Account requests (帳號申請單, A-3): who sees and does what, filing with its rules,
executing each action into the accounts register, the holder's confirmation, the
supervisor's review or return, the paper form and the audit trail."""

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.compliance.models import PolicyRevision
from isms.core import roc
from isms.core.models import Person, Unit
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
from isms.core.testing import ROLE_CASES, roles_for
from isms.identity import requests
from isms.identity.models import Account, AccountRequest, AccountRequestLine, InformationSystem

NOW = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)  # Monday 115/11/30 08:00 in Taipei
TODAY = dt.date(2026, 11, 30)
HOUR = dt.timedelta(hours=1)
READERS = {SECURITY_OFFICER, SUPERVISOR, PRINCIPAL, SYSADMIN, EQUIPMENT_HEAD, PERSONNEL}
A = AccountRequestLine.Action
POLICY = Path("/work/shared/policy/school-security-policy.zh-TW.md")
# 帳號使用注意事項 of A-3, as the policy words them.
A3_NOTES = (
    "使用者須妥善保管帳號通行碼，不可告知他人或書寫於他人可取得之處，如便條紙、螢幕或主機外殼等，"
    "亦應避免放置於其他易遭他人窺視之場所。",
    "使用者通行碼的長度最少應由 8 個字元組成，並且英文與數字混和。",
    "使用者通行碼應避免包含使用者相關之個人資訊，如電話號碼、生日或姓名。",
    "使用者通行碼宜定期變更，並避免重複使用或循環使用舊通行碼。",
    "使用者離職須移除其系統帳號始完成離職手續。",
)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def systems(db):
    return SimpleNamespace(
        sis=InformationSystem.objects.create(name="校務行政系統"),
        mail=InformationSystem.objects.create(name="電子郵件"),
    )


@pytest.fixture
def people(make_user, systems):
    p = SimpleNamespace()
    p.officer = make_user("officer", SECURITY_OFFICER)
    p.chief = make_user("chief", SUPERVISOR)
    p.chief2 = make_user("chief2", SUPERVISOR)
    p.equipment = make_user("equip", EQUIPMENT_HEAD)
    p.personnel = make_user("hr", PERSONNEL)
    p.teacher = make_user("teacher", STAFF)
    p.other = make_user("other", STAFF)
    p.mailadmin = make_user("mailadmin", STAFF)
    systems.mail.administrators.add(p.mailadmin)
    unit = Unit.objects.create(name="教務處", code="academic")
    Person.objects.filter(pk=p.teacher.person_id).update(unit=unit, extension="321")
    p.teacher.person.refresh_from_db()
    p.unit = unit
    return p


def line(system, name, action, note=""):
    return {"system": system, "account_name": name, "action": action, "note": note}


def file(actor, *lines, applicant=None):
    return requests.submit_request(
        actor=actor,
        applicant=applicant or actor.person,
        requested_on=TODAY,
        lines=list(lines),
    )


def execute(item, actor, note="已完成", at=None, authorised=True):
    return requests.execute_line(
        item,
        actor=actor,
        note=note,
        executed_at=at or NOW - HOUR,
        authorisation_checked=authorised,
    )


def account(system, name, person, **fields):
    return Account.objects.create(system=system, username=name, person=person, **fields)


def form_data(*lines, rows=3, **head):
    data = {
        "requested_on": "115/11/30",
        "unit": "",
        "extension": "",
        "lines-TOTAL_FORMS": str(max(rows, len(lines))),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "20",
    }
    for i, item in enumerate(lines):
        data[f"lines-{i}-system"] = item["system"].pk
        data[f"lines-{i}-account_name"] = item["account_name"]
        data[f"lines-{i}-action"] = item["action"]
        data[f"lines-{i}-note"] = item.get("note", "")
    data.update(head)
    return data


def url(name, *args):
    return reverse(f"identity:accountrequest_{name}", args=args)


def client_as(client_for, user):
    from django.test import Client

    c = Client()
    c.force_login(user)
    c.user = user
    return c


def mark() -> int:
    last = AuditEntry.objects.order_by("-id").first()
    return last.pk if last else 0


def since(last: int):
    return AuditEntry.objects.filter(id__gt=last).order_by("id")


def saved():
    return AccountRequest.objects.count(), AccountRequestLine.objects.count()


# Who sees what ---------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLE_CASES)
def test_list_page_by_role(role, client_for, people, systems):
    file(people.teacher, line(systems.sis, "t001", A.ADD))
    response = client_for(*roles_for(role)).get(url("list"))
    assert response.status_code == (200 if role in ALL_ROLES else 403)


def test_staff_list_only_their_own_requests(client_for, people, systems):
    own = file(people.teacher, line(systems.sis, "t001", A.ADD))
    theirs = file(people.other, line(systems.sis, "o001", A.ADD))
    html = client_as(client_for, people.teacher).get(url("list")).content.decode()
    assert own.number in html and theirs.number not in html
    html = client_for(PERSONNEL).get(url("list")).content.decode()
    assert own.number in html and theirs.number in html


@pytest.mark.parametrize("role", ROLE_CASES)
def test_someone_elses_request_by_role(role, client_for, people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    c = client_for(*roles_for(role))
    expected = 200 if role in READERS else 404
    assert c.get(url("detail", req.pk)).status_code == expected
    assert c.get(url("print", req.pk)).status_code == expected


@pytest.mark.parametrize("role", ROLE_CASES)
def test_add_page_is_open_to_everyone_signed_in(role, client_for):
    assert client_for(*roles_for(role)).get(url("add")).status_code == 200


@pytest.mark.parametrize("role", ROLE_CASES)
def test_export_edit_and_void_by_role(role, client_for, people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    c = client_for(*roles_for(role))
    assert c.get(url("export"), {"format": "csv"}).status_code == (200 if role in READERS else 403)
    assert c.get(url("edit", req.pk)).status_code == 403  # a filed request is not edited
    response = c.post(url("void", req.pk), {"reason": "重複申請"})
    assert response.status_code == (302 if role == SECURITY_OFFICER else 403)


@pytest.mark.parametrize("role", ROLE_CASES)
def test_review_and_return_pages_only_for_the_supervisor(role, client_for, people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    c = client_for(*roles_for(role))
    for name in ("review", "return"):
        assert c.get(url(name, req.pk)).status_code == (200 if role == SUPERVISOR else 403)


def test_anonymous_people_are_sent_to_sign_in(client, people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    for target in (
        url("list"),
        url("add"),
        url("mine"),
        url("detail", req.pk),
        url("print", req.pk),
    ):
        response = client.get(target)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_one_without_a_role_sees_their_own_request(client_for, systems):
    c = client_for()
    req = file(c.user, line(systems.sis, "n001", A.ADD))
    assert c.get(url("detail", req.pk)).status_code == 200
    assert c.get(url("print", req.pk)).status_code == 200
    assert req.number in c.get(url("mine")).content.decode()


def test_a_system_administrator_sees_and_executes_lines_of_their_system(
    client_for, people, systems
):
    req = file(people.teacher, line(systems.mail, "t001", A.ADD), line(systems.sis, "t001", A.ADD))
    mail_line, sis_line = req.lines.order_by("id")
    admin = client_as(client_for, people.mailadmin)
    assert admin.get(url("detail", req.pk)).status_code == 200
    assert admin.get(url("execute", req.pk, mail_line.pk)).status_code == 200
    assert admin.get(url("execute", req.pk, sis_line.pk)).status_code == 403
    # Staff who administer nothing of it do not see it at all.
    assert client_as(client_for, people.other).get(url("detail", req.pk)).status_code == 404
    # The applicant sees the request but does not execute it.
    teacher = client_as(client_for, people.teacher)
    assert teacher.get(url("execute", req.pk, sis_line.pk)).status_code == 403


@pytest.mark.parametrize("role", ROLE_CASES)
def test_execute_page_by_role(role, client_for, people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    item = req.lines.get()
    response = client_for(*roles_for(role)).get(url("execute", req.pk, item.pk))
    expected = 200 if role == EQUIPMENT_HEAD else 403 if role in READERS else 404
    assert response.status_code == expected


def test_a_line_of_another_request_is_404(client_for, people, systems):
    first = file(people.teacher, line(systems.sis, "t001", A.ADD))
    second = file(people.other, line(systems.sis, "o001", A.ADD))
    c = client_as(client_for, people.equipment)
    assert c.get(url("execute", first.pk, second.lines.get().pk)).status_code == 404


def test_the_menu_offers_filing_to_everyone(people):
    from isms.core.views import navigation

    for user in (people.teacher, people.chief):
        entries = dict(navigation(user)).get("帳號與權限", [])
        assert ("帳號申請", url("add")) in entries


# Filing ----------------------------------------------------------------------------------------
def test_staff_file_for_themselves_with_every_write_audited(client_for, people, systems):
    c = client_as(client_for, people.teacher)
    entries = mark()
    response = c.post(
        url("add"),
        form_data(
            line(systems.sis, "t001", A.ADD),
            line(systems.mail, "teacher", A.ADD, "教學用"),
            # another person's id is ignored: staff have no applicant field
            applicant=people.other.person_id,
        ),
    )
    assert response.status_code == 302, response.content.decode()
    req = AccountRequest.objects.get()
    assert response["Location"] == url("detail", req.pk)
    assert req.applicant == people.teacher.person and req.submitted_by == people.teacher
    assert req.unit == people.unit and req.extension == "321"  # from the person
    assert req.number == "A3-115-0001" and req.status == AccountRequest.Status.SUBMITTED
    assert [(i.system, i.account_name, i.action) for i in req.lines.order_by("id")] == [
        (systems.sis, "t001", A.ADD),
        (systems.mail, "teacher", A.ADD),
    ]
    new = since(entries)
    labels = [e.model_label for e in new if e.model_label.startswith("identity.")]
    assert labels.count("identity.accountrequest") == 1
    assert labels.count("identity.accountrequestline") == 2
    assert {e.actor_id for e in new} == {people.teacher.pk}


@pytest.mark.parametrize("role", [PERSONNEL, SECURITY_OFFICER])
def test_personnel_and_the_officer_file_for_others(role, client_for, people, systems):
    c = client_for(role)
    response = c.post(
        url("add"), form_data(line(systems.sis, "t001", A.ADD), applicant=people.teacher.person_id)
    )
    assert response.status_code == 302
    req = AccountRequest.objects.get()
    assert req.applicant == people.teacher.person and req.submitted_by == c.user


def test_staff_cannot_file_for_others_through_the_service(people, systems):
    with pytest.raises(ValidationError) as caught:
        file(people.teacher, line(systems.sis, "x", A.ADD), applicant=people.other.person)
    assert "只能為自己申請" in str(caught.value)
    assert saved() == (0, 0)


def test_add_a_line_without_javascript_saves_nothing(client_for, people, systems):
    c = client_as(client_for, people.teacher)
    data = form_data(line(systems.sis, "t001", A.ADD), rows=3, add_line="1")
    response = c.post(url("add"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="lines-TOTAL_FORMS" value="4"' in html
    assert 'name="lines-3-account_name"' in html and 'value="t001"' in html
    assert "請修正下列欄位的錯誤" not in html
    assert saved() == (0, 0)


def test_the_form_offers_an_empty_line_template(client_for):
    html = client_for(STAFF).get(url("add")).content.decode()
    assert 'id="line-template"' in html and "lines-__prefix__-account_name" in html
    assert A3_NOTES[0] in html


def test_a_bad_line_saves_nothing_at_all(client_for, people, systems):
    account(systems.sis, "T001", people.teacher.person)
    c = client_as(client_for, people.teacher)
    entries = mark()
    response = c.post(
        url("add"),
        form_data(line(systems.mail, "teacher", A.ADD), line(systems.sis, "t001", A.ADD)),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "請修正下列欄位的錯誤" in html
    assert "系統「校務行政系統」已有帳號「t001」" in html
    assert saved() == (0, 0) and Account.objects.count() == 1
    assert not since(entries).exists()


@pytest.mark.parametrize(
    "data, message",
    [
        ({}, "請至少填寫一項申請項目"),
        ({"requested_on": "115/12/31"}, "申請日期不可晚於今天"),
        ({"requested_on": "not a date"}, None),
        ({"lines-0-system": "987654"}, "此系統不在資訊系統清冊中或已作廢"),
        ({"lines-0-action": ""}, "請選擇申請項目"),
        ({"lines-0-account_name": ""}, "請填寫帳號"),
        ({"lines-0-account_name": "two words"}, "帳號不可包含空白"),
        ({"extension": "12a"}, "分機只能是 1 到 8 位數字"),
    ],
)
def test_bad_input_is_refused_in_zh_tw(data, message, client_for, people, systems):
    c = client_as(client_for, people.teacher)
    body = form_data(line(systems.sis, "t001", A.ADD)) if data else form_data()
    body.update(data)
    response = c.post(url("add"), body)
    assert response.status_code == 400
    html = response.content.decode()
    assert "請修正下列欄位的錯誤" in html
    if message:
        assert message in html
    assert saved() == (0, 0)


def rule_errors(actor, *lines, applicant=None):
    return requests.check_request(
        actor=actor, applicant=applicant or actor.person, requested_on=TODAY, lines=list(lines)
    )


def test_a_voided_system_cannot_be_asked_for(people, systems):
    systems.sis.voided_at = NOW
    systems.sis.save()
    errors = rule_errors(people.teacher, line(systems.sis, "t001", A.ADD))
    assert "已作廢" in errors["lines.0.system"]


def test_adding_a_name_that_exists_is_refused_whatever_its_state(people, systems):
    account(systems.sis, "Gone", None, kind=Account.Kind.SERVICE, status="removed")
    errors = rule_errors(people.teacher, line(systems.sis, "gone", A.ADD))
    assert "已有帳號" in errors["lines.0.account_name"]
    assert rule_errors(people.teacher, line(systems.mail, "gone", A.ADD)) == {}


@pytest.mark.parametrize("action", [A.DELETE, A.DISABLE, A.REENABLE, A.CHANGE, A.RESET_PASSWORD])
def test_other_actions_need_the_applicants_own_account(action, people, systems):
    account(systems.sis, "o001", people.other.person, status="disabled")
    note = "改名" if action == A.CHANGE else ""
    missing = rule_errors(people.teacher, line(systems.sis, "nobody", action, note))
    assert "沒有帳號「nobody」" in missing["lines.0.account_name"]
    theirs = rule_errors(people.teacher, line(systems.sis, "o001", action, note))
    assert "不是申請人" in theirs["lines.0.account_name"]


def test_a_holderless_account_only_by_those_who_file_for_others(people, systems):
    account(systems.sis, "lab", None, kind=Account.Kind.SHARED, shared_justification="電腦教室")
    staff = rule_errors(people.teacher, line(systems.sis, "lab", A.RESET_PASSWORD))
    assert "沒有登記使用人" in staff["lines.0.account_name"]
    assert (
        rule_errors(
            people.officer,
            line(systems.sis, "lab", A.RESET_PASSWORD),
            applicant=people.teacher.person,
        )
        == {}
    )


@pytest.mark.parametrize(
    "status, action, ok",
    [
        ("active", A.DISABLE, True),
        ("disabled", A.DISABLE, False),
        ("removed", A.DELETE, False),
        ("active", A.REENABLE, False),
        ("disabled", A.REENABLE, True),
        ("removed", A.REENABLE, True),
        ("removed", A.RESET_PASSWORD, False),
        ("removed", A.CHANGE, False),
        ("disabled", A.RESET_PASSWORD, True),
    ],
)
def test_the_action_must_fit_the_accounts_state(status, action, ok, people, systems):
    account(systems.sis, "t001", people.teacher.person, status=status)
    note = "改名" if action == A.CHANGE else ""
    errors = rule_errors(people.teacher, line(systems.sis, "t001", action, note))
    assert (errors == {}) is ok, errors


def test_a_departed_applicant_may_only_lose_accounts(people, systems):
    person = people.teacher.person
    person.status = Person.Status.LEFT
    person.leave_date = TODAY
    person.save()
    account(systems.sis, "t001", person)
    errors = rule_errors(
        people.personnel,
        line(systems.mail, "t002", A.ADD),
        line(systems.sis, "t001", A.DELETE),
        applicant=person,
    )
    assert "申請人已離職" in errors["lines.0.action"]
    assert "lines.1.action" not in errors and "lines.1.account_name" not in errors


def test_duplicates_and_accounts_in_an_open_request_are_refused(people, systems):
    errors = rule_errors(
        people.teacher, line(systems.sis, "t001", A.ADD), line(systems.sis, "T001", A.ADD)
    )
    assert "重複（第 1 項）" in errors["lines.1.account_name"]
    first = file(people.teacher, line(systems.sis, "t001", A.ADD))
    errors = rule_errors(people.teacher, line(systems.sis, "t001", A.ADD))
    assert first.number in errors["lines.0.account_name"]


def test_a_change_needs_a_note(people, systems):
    account(systems.sis, "t001", people.teacher.person)
    errors = rule_errors(people.teacher, line(systems.sis, "t001", A.CHANGE))
    assert "說明變更內容" in errors["lines.0.note"]


# Eligibility (2.7 授權使用) --------------------------------------------------------------------
CLOSED = "不開放帳號申請"


def close(system):
    system.requests_open = False
    system.save()


@pytest.mark.parametrize("action", [A.ADD, A.REENABLE, A.CHANGE, A.RESET_PASSWORD])
def test_a_system_closed_to_requests_refuses_lines_that_give_access(action, people, systems):
    close(systems.sis)
    if action != A.ADD:
        account(systems.sis, "t001", people.teacher.person, status="disabled")
    note = "改名" if action == A.CHANGE else ""
    errors = rule_errors(people.teacher, line(systems.sis, "t001", action, note))
    assert CLOSED in errors["lines.0.system"] and "校務行政系統" in errors["lines.0.system"]
    assert "系統管理人員建立" in errors["lines.0.system"]
    # Those who file for others are held to it alike.
    errors = rule_errors(
        people.personnel,
        line(systems.sis, "t001", action, note),
        applicant=people.teacher.person,
    )
    assert CLOSED in errors["lines.0.system"]


@pytest.mark.parametrize("action", [A.DELETE, A.DISABLE])
def test_taking_access_away_is_asked_on_any_system(action, people, systems):
    close(systems.sis)
    systems.mail.request_units.add(Unit.objects.create(name="學務處", code="student"))
    account(systems.sis, "t001", people.teacher.person)
    account(systems.mail, "t001", people.teacher.person)
    errors = rule_errors(
        people.teacher, line(systems.sis, "t001", action), line(systems.mail, "t001", action)
    )
    assert errors == {}


def test_a_system_for_some_units_refuses_applicants_of_others(people, systems):
    student = Unit.objects.create(name="學務處", code="student")
    general = Unit.objects.create(name="總務處", code="general")
    systems.sis.request_units.add(student, general)
    errors = rule_errors(people.teacher, line(systems.sis, "t001", A.ADD))  # of 教務處
    message = errors["lines.0.system"]
    assert "校務行政系統" in message and "學務處、總務處" in message and "教務處" in message
    systems.sis.request_units.add(people.unit)
    assert rule_errors(people.teacher, line(systems.sis, "t001", A.ADD)) == {}
    # No list of units: everyone may ask.
    assert rule_errors(people.other, line(systems.mail, "o001", A.ADD)) == {}


def test_an_applicant_without_a_unit_cannot_ask_a_system_for_some_units(people, systems):
    systems.sis.request_units.add(people.unit)
    errors = rule_errors(people.other, line(systems.sis, "o001", A.ADD))
    assert "沒有登記所屬單位" in errors["lines.0.system"]


def test_the_unit_picked_on_the_form_opens_nothing_for_staff(client_for, people, systems):
    student = Unit.objects.create(name="學務處", code="student")
    systems.sis.request_units.add(student)
    c = client_as(client_for, people.teacher)  # of 教務處, claims 學務處
    response = c.post(url("add"), form_data(line(systems.sis, "t001", A.ADD), unit=student.pk))
    assert response.status_code == 400
    assert "只受理學務處人員申請帳號" in response.content.decode()
    assert saved() == (0, 0)


def test_personnel_name_the_unit_of_a_newcomer(client_for, people, systems):
    student = Unit.objects.create(name="學務處", code="student")
    systems.sis.request_units.add(student)
    c = client_as(client_for, people.personnel)
    body = form_data(
        line(systems.sis, "o001", A.ADD), applicant=people.other.person_id, unit=student.pk
    )
    assert c.post(url("add"), body).status_code == 302
    assert AccountRequest.objects.get().unit == student


def test_the_form_shows_the_refusal_on_its_line_and_saves_nothing(client_for, people, systems):
    close(systems.mail)
    c = client_as(client_for, people.teacher)
    entries = mark()
    response = c.post(
        url("add"),
        form_data(line(systems.sis, "t001", A.ADD), line(systems.mail, "teacher", A.ADD)),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "請修正下列欄位的錯誤" in html
    # The message sits in the second line's row, under its system.
    rows = html.split('name="lines-1-system"')
    assert len(rows) == 2 and CLOSED in rows[1].split("</tr>")[0]
    assert CLOSED not in rows[0].split('name="lines-0-system"')[1]
    assert saved() == (0, 0) and not since(entries).exists()


def test_the_form_marks_systems_not_everyone_may_ask_for(client_for, people, systems):
    close(systems.mail)
    student = Unit.objects.create(name="學務處", code="student")
    systems.sis.request_units.add(student)
    open_to_all = InformationSystem.objects.create(name="無線網路")
    html = client_as(client_for, people.teacher).get(url("add")).content.decode()
    assert "電子郵件（不開放申請，僅可申請刪除、停用）" in html
    assert "校務行政系統（限學務處申請）" in html
    assert f'<option value="{open_to_all.pk}">無線網路</option>' in html


def test_submit_request_applies_the_same_rule(people, systems):
    close(systems.sis)
    with pytest.raises(ValidationError) as caught:
        file(people.teacher, line(systems.sis, "t001", A.ADD))
    assert CLOSED in caught.value.message_dict["lines.0.system"][0]
    assert saved() == (0, 0)


def test_numbers_run_per_roc_year(people, systems):
    first = file(people.teacher, line(systems.sis, "a1", A.ADD))
    second = file(people.teacher, line(systems.sis, "a2", A.ADD))
    assert (first.number, second.number) == ("A3-115-0001", "A3-115-0002")


# Executing -------------------------------------------------------------------------------------
def test_executing_an_add_creates_the_account_with_a_default_password(client_for, people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    item = req.lines.get()
    c = client_as(client_for, people.equipment)
    entries = mark()
    response = c.post(
        url("execute", req.pk, item.pk),
        {
            "executed_at": "115/11/30 07:00",
            "execution_note": "已建立帳號並當面交付預設通行碼",
            "authorisation_checked": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()
    created = Account.objects.get(system=systems.sis, username_key="t001")
    assert created.person == people.teacher.person
    assert created.source == Account.Source.REQUEST and created.request_line == item
    assert created.status == Account.Status.ACTIVE and created.created_on == TODAY
    assert created.default_password_expires_at == NOW - HOUR + dt.timedelta(
        days=settings.ISMS_DEFAULT_PASSWORD_VALID_DAYS
    )
    assert created.password_changed_at is None
    item.refresh_from_db()
    req.refresh_from_db()
    assert item.account == created and item.executed_by == people.equipment
    assert item.executed_at == NOW - HOUR and item.execution_note.startswith("已建立帳號")
    assert item.authorisation_checked
    assert req.status == AccountRequest.Status.EXECUTED
    new = since(entries)
    touched = {e.model_label for e in new}
    assert {"identity.account", "identity.accountrequestline", "identity.accountrequest"} <= touched
    assert {e.actor_id for e in new if e.model_label.startswith("identity.")} == {
        people.equipment.pk
    }


@pytest.mark.parametrize(
    "start, action, status",
    [
        ("active", A.DELETE, Account.Status.REMOVED),
        ("active", A.DISABLE, Account.Status.DISABLED),
        ("disabled", A.REENABLE, Account.Status.ACTIVE),
        ("removed", A.REENABLE, Account.Status.ACTIVE),
    ],
)
def test_executing_status_lines_changes_the_register(start, action, status, people, systems):
    held = account(systems.sis, "t001", people.teacher.person, status=start)
    req = file(people.teacher, line(systems.sis, "t001", action))
    execute(req.lines.get(), people.equipment, note="已於系統處理")
    held.refresh_from_db()
    assert held.status == status
    assert req.number in held.notes
    if status == Account.Status.REMOVED:
        assert held.removed_on == TODAY
    if status == Account.Status.DISABLED:
        assert held.disabled_on == TODAY
    assert req.lines.get().account == held


def test_executing_a_change_notes_it_on_the_account(people, systems):
    held = account(systems.sis, "t001", people.teacher.person)
    req = file(people.teacher, line(systems.sis, "t001", A.CHANGE, "調至學務處，權限改為學務"))
    execute(req.lines.get(), people.equipment, note="已調整群組")
    held.refresh_from_db()
    assert "調至學務處，權限改為學務" in held.notes and "已調整群組" in held.notes
    assert req.number in held.notes and held.status == Account.Status.ACTIVE


def test_executing_a_reset_issues_a_new_default_password(people, systems):
    held = account(
        systems.sis,
        "t001",
        people.teacher.person,
        default_password_expires_at=NOW - dt.timedelta(days=60),
        password_changed_at=NOW - dt.timedelta(days=59),
    )
    req = file(people.teacher, line(systems.sis, "t001", A.RESET_PASSWORD))
    execute(req.lines.get(), people.equipment, at=NOW)
    held.refresh_from_db()
    assert held.password_changed_at is None
    assert held.default_password_expires_at == NOW + dt.timedelta(
        days=settings.ISMS_DEFAULT_PASSWORD_VALID_DAYS
    )


def test_the_request_is_executed_only_when_every_line_is(people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD), line(systems.mail, "t", A.ADD))
    first, second = req.lines.order_by("id")
    execute(first, people.equipment)
    req.refresh_from_db()
    assert req.status == AccountRequest.Status.SUBMITTED
    execute(second, people.mailadmin)
    req.refresh_from_db()
    assert req.status == AccountRequest.Status.EXECUTED


def test_execution_needs_a_note_and_a_time_not_in_the_future(client_for, people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    item = req.lines.get()
    c = client_as(client_for, people.equipment)
    target = url("execute", req.pk, item.pk)
    tick = {"authorisation_checked": "on"}
    response = c.post(target, {"executed_at": "115/11/30 07:00", "execution_note": " ", **tick})
    assert response.status_code == 400 and "請說明執行方式" in response.content.decode()
    response = c.post(
        target, {"executed_at": "115/11/30 12:00", "execution_note": "已建立", **tick}
    )
    assert response.status_code == 400 and "不可晚於現在" in response.content.decode()
    response = c.post(
        target, {"executed_at": "115/11/29 12:00", "execution_note": "已建立", **tick}
    )
    assert response.status_code == 400 and "不可早於申請日期" in response.content.decode()
    item.refresh_from_db()
    assert item.executed_at is None and Account.objects.count() == 0


def test_a_line_is_executed_once(client_for, people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD), line(systems.mail, "t", A.ADD))
    item = req.lines.order_by("id").first()
    execute(item, people.equipment)
    c = client_as(client_for, people.equipment)
    response = c.post(
        url("execute", req.pk, item.pk),
        {
            "executed_at": "115/11/30 07:30",
            "execution_note": "再一次",
            "authorisation_checked": "on",
        },
    )
    assert response.status_code == 400 and "已於" in response.content.decode()
    assert Account.objects.count() == 1


def test_an_account_created_meanwhile_stops_the_add(people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    account(systems.sis, "T001", people.other.person)
    with pytest.raises(ValidationError) as caught:
        execute(req.lines.get(), people.equipment)
    assert "已有帳號" in str(caught.value)
    assert req.lines.get().executed_at is None


@pytest.mark.parametrize("action", [A.ADD, A.REENABLE])
def test_giving_access_needs_the_authorisation_tick(action, client_for, people, systems):
    held = (
        None
        if action == A.ADD
        else account(systems.sis, "t001", people.teacher.person, status="disabled")
    )
    req = file(people.teacher, line(systems.sis, "t001", action))
    item = req.lines.get()
    c = client_as(client_for, people.equipment)
    target = url("execute", req.pk, item.pk)
    assert 'name="authorisation_checked"' in c.get(target).content.decode()
    entries = mark()
    response = c.post(target, {"executed_at": "115/11/30 07:00", "execution_note": "已處理"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "須確認申請人已經系統管理單位授權" in html
    item.refresh_from_db()
    assert item.executed_at is None and not item.authorisation_checked
    if held is None:
        assert not Account.objects.exists()
    else:
        held.refresh_from_db()
        assert held.status == Account.Status.DISABLED
    assert not since(entries).exists()
    with pytest.raises(ValidationError) as caught:
        execute(item, people.equipment, authorised=False)
    assert "authorisation_checked" in caught.value.message_dict
    response = c.post(
        target,
        {
            "executed_at": "115/11/30 07:00",
            "execution_note": "已處理",
            "authorisation_checked": "on",
        },
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.executed_at is not None and item.authorisation_checked


@pytest.mark.parametrize("action", [A.DELETE, A.DISABLE, A.RESET_PASSWORD])
def test_other_actions_need_no_authorisation_tick(action, client_for, people, systems):
    account(systems.sis, "t001", people.teacher.person)
    req = file(people.teacher, line(systems.sis, "t001", action))
    item = req.lines.get()
    c = client_as(client_for, people.equipment)
    target = url("execute", req.pk, item.pk)
    assert 'name="authorisation_checked"' not in c.get(target).content.decode()
    response = c.post(target, {"executed_at": "115/11/30 07:00", "execution_note": "已處理"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.executed_at is not None and not item.authorisation_checked


def test_the_tick_shows_in_the_execution_record(client_for, people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    execute(req.lines.get(), people.equipment, note="已建立")
    html = client_for(SECURITY_OFFICER).get(url("detail", req.pk)).content.decode()
    assert "data-authorisation" in html and "已確認經系統管理單位授權" in html


def leave(person, **fields):
    for name, value in {"status": Person.Status.LEFT, "leave_date": TODAY, **fields}.items():
        setattr(person, name, value)
    person.save()


@pytest.mark.parametrize("action", [A.ADD, A.REENABLE, A.RESET_PASSWORD])
@pytest.mark.parametrize(
    "how", [{}, {"status": Person.Status.ACTIVE, "leave_date": TODAY - dt.timedelta(days=1)}]
)
def test_access_is_not_given_to_one_who_left_meanwhile(action, how, people, systems):
    person = people.teacher.person
    if action != A.ADD:
        account(systems.sis, "t001", person, status="disabled")
    req = file(people.teacher, line(systems.sis, "t001", action))
    leave(person, **how)
    item = req.lines.get()
    with pytest.raises(ValidationError) as caught:
        execute(item, people.equipment)
    message = caught.value.message_dict["__all__"][0]
    assert "已離職" in message and person.name in message and item.get_action_display() in message
    item.refresh_from_db()
    assert item.executed_at is None
    assert Account.objects.filter(status=Account.Status.ACTIVE).count() == 0


def test_a_leave_date_still_ahead_does_not_stop_execution(people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    leave(
        people.teacher.person, status=Person.Status.ACTIVE, leave_date=TODAY + dt.timedelta(days=30)
    )
    assert execute(req.lines.get(), people.equipment).executed_at is not None


def test_a_holder_who_left_stops_a_reset_whoever_applied(people, systems):
    lab = account(systems.sis, "lab", None, kind=Account.Kind.SHARED, shared_justification="教室")
    req = file(
        people.officer,
        line(systems.sis, "lab", A.RESET_PASSWORD),
        applicant=people.teacher.person,
    )
    # Meanwhile the account was registered to someone who has since left.
    lab.person = people.other.person
    lab.save()
    leave(people.other.person)
    with pytest.raises(ValidationError) as caught:
        execute(req.lines.get(), people.equipment)
    assert people.other.person.name in caught.value.message_dict["__all__"][0]
    assert req.lines.get().executed_at is None


def test_access_of_one_who_left_is_still_taken_away(people, systems):
    held = account(systems.sis, "t001", people.teacher.person)
    req = file(people.teacher, line(systems.sis, "t001", A.DELETE))
    leave(people.teacher.person)
    execute(req.lines.get(), people.equipment)
    held.refresh_from_db()
    assert held.status == Account.Status.REMOVED


def test_the_request_page_offers_execution_to_those_who_may(client_for, people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    item = req.lines.get()
    button = url("execute", req.pk, item.pk)
    for user, offered in ((people.equipment, True), (people.teacher, False)):
        page = client_as(client_for, user).get(url("detail", req.pk)).content.decode()
        assert (button in page) is offered


# The holder confirms (2.9.1) ------------------------------------------------------------------
def test_the_holder_confirms_the_password_change(client_for, people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    item = execute(req.lines.get(), people.equipment)
    teacher = client_as(client_for, people.teacher)
    page = teacher.get(url("detail", req.pk)).content.decode()
    target = url("password_changed", req.pk, item.pk)
    assert target in page and "尚未確認變更" in page
    # Nobody else confirms for the holder.
    assert client_as(client_for, people.equipment).post(target).status_code == 403
    entries = mark()
    response = teacher.post(target)
    assert response.status_code == 302 and response["Location"] == url("detail", req.pk)
    held = Account.objects.get(username_key="t001")
    assert held.password_changed_at == NOW
    entry = since(entries).get(model_label="identity.account")
    assert entry.actor_id == people.teacher.pk
    page = teacher.get(url("detail", req.pk)).content.decode()
    assert "確認已變更預設通行碼" in page and target not in page
    # Twice is refused with a message, not an error page.
    response = teacher.post(target, follow=True)
    assert "已確認變更過通行碼" in response.content.decode()


def test_my_page_lists_passwords_to_change(client_for, people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    item = execute(req.lines.get(), people.equipment)
    teacher = client_as(client_for, people.teacher)
    html = teacher.get(url("mine")).content.decode()
    assert req.number in html and url("password_changed", req.pk, item.pk) in html
    response = teacher.post(url("password_changed", req.pk, item.pk), {"next": url("mine")})
    assert response["Location"] == url("mine")
    response = teacher.post(
        url("password_changed", req.pk, item.pk), {"next": "https://evil.example/"}
    )
    assert response["Location"] == url("detail", req.pk)


def test_a_line_without_a_default_password_has_nothing_to_confirm(client_for, people, systems):
    account(systems.sis, "t001", people.teacher.person)
    req = file(people.teacher, line(systems.sis, "t001", A.DISABLE))
    item = execute(req.lines.get(), people.equipment)
    response = client_as(client_for, people.teacher).post(
        url("password_changed", req.pk, item.pk), follow=True
    )
    assert "沒有待變更的預設通行碼" in response.content.decode()


# Review and return -----------------------------------------------------------------------------
def executed_request(people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    execute(req.lines.get(), people.equipment)
    req.refresh_from_db()
    return req


def test_the_supervisor_reviews_an_executed_request(client_for, people, systems):
    req = executed_request(people, systems)
    c = client_as(client_for, people.chief)
    assert url("review", req.pk) in c.get(url("detail", req.pk)).content.decode()
    entries = mark()
    response = c.post(url("review", req.pk), {"note": "帳號已建立，授權無誤"})
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == AccountRequest.Status.REVIEWED
    assert req.reviewed_by == people.chief and req.reviewed_at == NOW
    assert req.review_note == "帳號已建立，授權無誤"
    entry = since(entries).get(model_label="identity.accountrequest")
    assert entry.actor_id == people.chief.pk and entry.changes["status"][1] == "reviewed"


def test_a_request_not_executed_yet_is_not_reviewed(client_for, people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    response = client_as(client_for, people.chief).post(url("review", req.pk), {"note": ""})
    assert response.status_code == 400 and "全部執行後才能覆核" in response.content.decode()
    req.refresh_from_db()
    assert req.status == AccountRequest.Status.SUBMITTED


def test_the_reviewer_is_neither_the_executor_nor_the_applicant(people, systems, make_user):
    both = make_user("boss", SUPERVISOR, EQUIPMENT_HEAD)
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    execute(req.lines.get(), both)
    with pytest.raises(ValidationError) as caught:
        requests.review_request(req, actor=both)
    assert "不可為執行人" in str(caught.value)
    own = file(people.chief, line(systems.sis, "c001", A.ADD))
    execute(own.lines.get(), people.equipment)
    with pytest.raises(ValidationError) as caught:
        requests.review_request(own, actor=people.chief)
    assert "不可為申請人" in str(caught.value)
    requests.review_request(own, actor=people.chief2)
    own.refresh_from_db()
    assert own.status == AccountRequest.Status.REVIEWED


def test_the_supervisor_returns_a_request_with_a_reason(client_for, people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD), line(systems.mail, "t", A.ADD))
    c = client_as(client_for, people.chief)
    response = c.post(url("return", req.pk), {"reason": " "})
    assert response.status_code == 400 and "請說明退回理由" in response.content.decode()
    response = c.post(url("return", req.pk), {"reason": "未經系統管理單位授權"})
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == AccountRequest.Status.REJECTED
    assert req.reviewed_by == people.chief and req.review_note == "未經系統管理單位授權"
    # Returned: its lines are no longer executed, and it is not reviewed either.
    with pytest.raises(ValidationError) as caught:
        execute(req.lines.order_by("id").first(), people.equipment)
    assert "已退回" in str(caught.value)
    assert Account.objects.count() == 0
    with pytest.raises(ValidationError):
        requests.review_request(req, actor=people.chief2)
    page = client_as(client_for, people.teacher).get(url("detail", req.pk)).content.decode()
    assert "未經系統管理單位授權" in page
    assert url("execute", req.pk, req.lines.first().pk) not in page


def test_an_executed_request_can_be_returned_and_its_changes_stay(people, systems):
    req = executed_request(people, systems)
    requests.return_request(req, actor=people.chief, reason="帳號名稱不符命名規則")
    req.refresh_from_db()
    assert req.status == AccountRequest.Status.REJECTED
    assert Account.objects.filter(username_key="t001").exists()
    with pytest.raises(ValidationError):
        requests.return_request(req, actor=people.chief, reason="再退一次")


def test_the_request_page_shows_every_step_with_who_and_when(client_for, people, systems):
    req = executed_request(people, systems)
    requests.review_request(req, actor=people.chief, note="覆核無誤")
    html = client_for(SECURITY_OFFICER).get(url("detail", req.pk)).content.decode()
    for text in (
        "送出申請",
        people.teacher.person.name,
        "執行第 1 項",
        people.equipment.person.name,
        "已完成",
        "主管覆核",
        people.chief.person.name,
        "覆核無誤",
        "115/11/30",
        "異動紀錄",
    ):
        assert text in html, text


# The paper form --------------------------------------------------------------------------------
def test_print_matches_a3_with_its_two_signature_lines_filled_and_the_policy_version(
    client_for, people, systems
):
    PolicyRevision.objects.create(
        version="v2026.1", adopted_on=dt.date(2026, 6, 1), approved_on=dt.date(2026, 6, 10)
    )
    account(systems.mail, "teacher", people.teacher.person)
    req = requests.submit_request(
        actor=people.teacher,
        applicant=people.teacher.person,
        requested_on=TODAY,
        lines=[
            line(systems.sis, "t001", A.ADD, "新進教師"),
            line(systems.mail, "teacher", A.RESET_PASSWORD),
        ],
        remarks="導師業務需要",
    )
    first, second = req.lines.order_by("id")
    execute(first, people.equipment, note="已建立並交付預設通行碼")
    execute(second, people.mailadmin, note="已重設", at=NOW - HOUR / 2)
    requests.review_request(req, actor=people.chief, note="")
    req.refresh_from_db()
    html = client_for(PRINCIPAL).get(url("print", req.pk)).content.decode()
    for text in (
        "文件編號：A-3",
        "帳號申請單",
        req.number,
        "申請人：",
        people.teacher.person.name,
        "所屬單位：",
        "教務處",
        "分機：",
        "321",
        "申請日期：",
        "115/11/30",
        "&#9745; 1. 校務行政系統",
        "&#9745; 2. 電子郵件",
        "t001",
        "新進教師",
        "&#9745; 新增",
        "&#9745; 重設通行碼",
        "導師業務需要",
        "已建立並交付預設通行碼（已確認經系統管理單位授權）",
        "已重設",
        "帳號使用注意事項",
        "v2026.1",
        'class="paper"',
    ):
        assert text in html, text
    for note in A3_NOTES:
        assert note in html, note
    # As on paper: 備註, 執行紀錄, then only 設備組長： and 主管覆核：, then the notes.
    order = ["備註", "執行紀錄", "設備組長：", "主管覆核：", "帳號使用注意事項"]
    places = [html.index(f">{label}") for label in order]
    assert places == sorted(places), places
    for gone in ("單位主管", "資訊業務主管", 'class="signature"', "signatures"):
        assert gone not in html, gone
    assert html.count('class="sign"') == 2
    head = html.split('data-sign="equipment_head">')[1].split("</td>")[0]
    assert people.equipment.person.name in head
    assert f"{people.mailadmin.person.name}（系統管理人員代）" in head
    assert f"{people.equipment.person.name}（系統管理人員代）" not in head
    review = html.split('data-sign="supervisor">')[1].split("</td>")[0]
    assert people.chief.person.name in review
    assert roc.format_roc_datetime(req.reviewed_at) in review
    # Two ticked lines, then empty ones up to the paper's five: ☐ 3. ☐ 4. ☐ 5.
    for n in (3, 4, 5):
        assert f"&#9744; {n}." in html
    assert "&#9744; 6." not in html and "&#9745; 3." not in html
    assert html.count("&#9745;") == 2 + 2  # the lines' boxes and their actions
    assert html.count("&#9744;") == 2 * 5 + 3 * (1 + 6)


def test_print_of_a_long_request_just_goes_on(client_for, people, systems):
    names = [f"t{n:03d}" for n in range(1, 7)]
    req = file(people.teacher, *(line(systems.sis, name, A.ADD) for name in names))
    html = client_as(client_for, people.teacher).get(url("print", req.pk)).content.decode()
    assert "&#9745; 6. 校務行政系統" in html
    assert "&#9744; " not in html.split("<tbody>")[1].split("</td>")[0]
    assert html.count("&#9745;") == 6 * 2 and html.count("&#9744;") == 6 * 5


def test_the_printed_notes_are_the_policys_words():
    assert tuple(str(n) for n in requests.A3_NOTES) == A3_NOTES
    if POLICY.exists():  # the policy as the school adopted it
        text = POLICY.read_text(encoding="utf-8")
        for n, note in enumerate(A3_NOTES, start=1):
            assert f"{n}. {note}" in text


def test_print_of_an_unreviewed_request_leaves_the_supervisor_box_empty(
    client_for, people, systems
):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    html = client_as(client_for, people.teacher).get(url("print", req.pk)).content.decode()
    assert people.chief.person.name not in html and "未執行" in html


# The list and its export ----------------------------------------------------------------------
def test_list_query_count_does_not_grow_with_rows(client_for, people, systems):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = client_for(SECURITY_OFFICER)
    first = file(people.teacher, line(systems.sis, "x0", A.ADD), line(systems.mail, "x0", A.ADD))
    execute(first.lines.order_by("id").first(), people.equipment)
    with CaptureQueriesContext(connection) as few:
        assert c.get(url("list")).status_code == 200
    for n in range(1, 15):
        req = file(
            people.teacher, line(systems.sis, f"x{n}", A.ADD), line(systems.mail, f"x{n}", A.ADD)
        )
        execute(req.lines.order_by("id").first(), people.equipment)
    with CaptureQueriesContext(connection) as many:
        assert c.get(url("list")).status_code == 200
    assert len(many) == len(few) and len(many) <= 14


def test_export_lists_lines_and_execution(client_for, people, systems):
    req = executed_request(people, systems)
    response = client_for(SUPERVISOR).get(url("export"), {"format": "csv"})
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert req.number in body and "校務行政系統 t001 新增" in body and "已完成" in body
    assert ("（已確認經系統管理單位授權）" in body) == req.lines.get().authorisation_checked


def test_search_finds_a_request_by_account_name(client_for, people, systems):
    req = file(people.teacher, line(systems.sis, "unique-name", A.ADD))
    other = file(people.other, line(systems.sis, "o001", A.ADD))
    html = client_for(PERSONNEL).get(url("list"), {"q": "unique-name"}).content.decode()
    assert req.number in html and other.number not in html


def test_guards_file_too(client_for, systems):
    c = client_for(GUARD)
    response = c.post(url("add"), form_data(line(systems.sis, "g001", A.ADD)))
    assert response.status_code == 302
    assert AccountRequest.objects.get().applicant_id == c.user.person_id


def test_a_login_without_a_person_is_told_to_ask_personnel(client_for, systems):
    c = client_for(STAFF, person=False)
    assert "請洽人事室" in c.get(url("add")).content.decode()
    response = c.post(url("add"), form_data(line(systems.sis, "n001", A.ADD)))
    assert response.status_code == 400
    assert "沒有對應的人員資料" in response.content.decode()
    assert saved() == (0, 0)


def test_a_voided_request_is_not_executed(client_for, people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    officer = client_as(client_for, people.officer)
    assert officer.post(url("void", req.pk), {"reason": "重複申請"}).status_code == 302
    with pytest.raises(ValidationError) as caught:
        execute(req.lines.get(), people.equipment)
    assert "已作廢" in str(caught.value)
    page = client_as(client_for, people.equipment).get(url("detail", req.pk)).content.decode()
    assert "重複申請" in page and url("execute", req.pk, req.lines.get().pk) not in page


def test_those_who_act_next_are_told(people, systems):
    from isms.notifications.models import Notification

    def told(user):
        return list(Notification.objects.filter(recipient=user).values_list("subject", flat=True))

    req = file(people.teacher, line(systems.mail, "t001", A.ADD))
    assert any(req.number in s for s in told(people.equipment))
    assert any(req.number in s for s in told(people.mailadmin))
    assert told(people.chief) == []
    execute(req.lines.get(), people.mailadmin)
    assert any("預設通行碼" in s for s in told(people.teacher))
    assert any("待覆核" in s for s in told(people.chief))


def test_the_services_refuse_those_who_may_not(people, systems):
    from django.core.exceptions import PermissionDenied

    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    with pytest.raises(PermissionDenied):
        execute(req.lines.get(), people.mailadmin)  # administers 電子郵件, not this system
    with pytest.raises(PermissionDenied):
        requests.return_request(req, actor=people.officer, reason="不同意")
    with pytest.raises(PermissionDenied):
        requests.review_request(req, actor=people.equipment)
    assert req.lines.get().executed_at is None


def test_personnel_filing_for_others_starts_from_an_empty_head(client_for, people):
    html = client_as(client_for, people.personnel).get(url("add")).content.decode()
    assert 'name="applicant"' in html and 'name="extension" value=' not in html
    html = client_as(client_for, people.teacher).get(url("add")).content.decode()
    assert 'name="applicant"' not in html and 'value="321"' in html


def test_even_a_superuser_does_not_edit_a_filed_request(client_for, people, systems):
    req = file(people.teacher, line(systems.sis, "t001", A.ADD))
    c = client_for(superuser=True)
    response = c.get(url("edit", req.pk))
    assert response.status_code == 302 and response["Location"] == url("detail", req.pk)
