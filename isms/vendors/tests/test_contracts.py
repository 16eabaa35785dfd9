"""Contracts (6.1.1, 6.2): the register, its rules, the missing-terms finding, the removal of
the vendor's people's accounts when a contract ends or a person leaves it, and the duty."""

import datetime as dt
import json
import re

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from isms.audit.models import AuditEntry
from isms.compliance import engine
from isms.compliance.models import ObligationState
from isms.core.models import Person, User
from isms.core.roles import MANAGERS, SECURITY_OFFICER, STAFF, SYSADMIN
from isms.core.testing import RegisterContract
from isms.identity import services as identity
from isms.identity.models import Account, InformationSystem, OffboardingTask
from isms.vendors import vendors
from isms.vendors.models import Contract, Vendor
from isms.vendors.views_vendors import ContractRegister

from .test_vendors import valid_tax_id

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)  # 10:00 in Taipei
TODAY = dt.date(2026, 11, 30)
KEEPERS = frozenset({SECURITY_OFFICER, SYSADMIN})
READERS = MANAGERS | KEEPERS
DUTY = "vendors.access_removed"
Reason = OffboardingTask.Reason
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def keeper(username="keeper", role=SECURITY_OFFICER):
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User.objects.create_user(username=username, password="Xk7#pq92mv")
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def a_vendor(name=None):
    n = Vendor.objects.count()
    v = Vendor(name=name or f"廠商{n}", tax_id=valid_tax_id(n + 2_000_000))
    return vendors.save_vendor(v, actor=keeper())


def vendor_person(name="外包工程師", **values):
    values.setdefault("kind", Person.Kind.VENDOR)
    values.setdefault("organization", "資安顧問公司")
    return Person.objects.create(name=name, **values)


def system(name=None):
    return InformationSystem.objects.create(name=name or f"系統{InformationSystem.objects.count()}")


def account(holder, username=None, on=None):
    obj = Account(system=on or system(), username=username or f"acct{Account.objects.count()}")
    obj.person = holder
    return identity.save_account(obj, actor=None)


def contract(*, people=(), systems=(), start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31), **kw):
    kw.setdefault("vendor", a_vendor())
    kw.setdefault("title", "校務系統維護")
    kw.setdefault("services", "系統維護\n資料備份")
    kw.setdefault("security_terms", True)
    kw.setdefault("confidentiality_terms", True)
    kw.setdefault("owner", keeper())
    c = Contract(start_on=start, end_on=end, **kw)
    return vendors.save_contract(c, actor=keeper(), people=list(people), systems=list(systems))


class TestContractRegister(RegisterContract):
    register = ContractRegister
    api_prefix = "contracts"
    readers = READERS
    writers = KEEPERS

    def make_sample(self, **overrides):
        return contract(**overrides)

    def form_data(self):
        return {
            "vendor": a_vendor().pk,
            "title": "網站代管",
            "number": "115-001",
            "start_on": "115/01/01",
            "end_on": "115/12/31",
            "services": "網站代管\n弱點修補",
            "security_terms": "on",
            "confidentiality_terms": "on",
            "owner": keeper().pk,
        }

    def change_data(self, obj):
        return {
            "vendor": obj.vendor_id,
            "title": obj.title + "（續約）",
            "start_on": "115/01/01",
            "end_on": "115/12/31",
            "services": obj.services,
            "security_terms": "on",
            "confidentiality_terms": "on",
            "owner": obj.owner_id,
        }

    def api_data(self):
        return {
            "vendor": a_vendor().pk,
            "title": "網站代管",
            "start_on": "2026-01-01",
            "end_on": "2026-12-31",
            "services": "網站代管",
            "security_terms": True,
            "confidentiality_terms": True,
            "owner": keeper().pk,
        }

    def invalid_api_data(self):
        # Writes nothing itself (the contract counts the audit entries around it).
        return {"title": "網站代管", "start_on": "2026-12-31", "end_on": "2026-01-01"}


# Rules ----------------------------------------------------------------------------------
def errors_of(**kw) -> dict:
    with pytest.raises(ValidationError) as caught:
        contract(**kw)
    return caught.value.message_dict


def test_the_start_comes_before_the_end():
    errors = errors_of(start=dt.date(2026, 12, 31), end=dt.date(2026, 1, 1))
    assert "終止日不可早於起始日" in errors["end_on"][0]
    assert not Contract.objects.exists()


def test_a_one_day_contract_is_fine():
    assert contract(start=TODAY, end=TODAY).pk


def test_at_least_one_service_line():
    assert "服務項目" in errors_of(services=" \n  \n")["services"][0]


def test_blank_service_lines_are_dropped():
    assert contract(services="維護\n\n  備份  \n").services == "維護\n備份"


def test_the_vendor_is_in_use():
    v = a_vendor()
    vendors.void_vendor(v, actor=keeper(), reason="停業")
    assert "vendor" in errors_of(vendor=v)


def test_the_people_are_vendor_staff_in_service():
    staff = Person.objects.create(name="本校老師", kind=Person.Kind.STAFF)
    left = vendor_person("已離職", status=Person.Status.LEFT)
    errors = errors_of(people=[vendor_person("在職工程師"), staff, left])
    assert "本校老師" in errors["people"][0] and "已離職" in errors["people"][0]
    assert "在職工程師" not in errors["people"][0]


def test_a_voided_system_is_refused():
    s = system()
    s.voided_at = NOW
    s.save()
    assert "systems" in errors_of(systems=[s])


@pytest.mark.parametrize("role", [STAFF, "supervisor"])
def test_the_owner_is_an_officer_or_a_sysadmin(role):
    assert "承辦人" in errors_of(owner=keeper("someone", role))["owner"][0]


def test_a_sysadmin_may_own_a_contract():
    assert contract(owner=keeper("admin", SYSADMIN)).owner.username == "admin"


def test_an_inactive_login_may_not_own_a_contract():
    user = keeper("gone")
    user.is_active = False
    user.save()
    assert "owner" in errors_of(owner=user)


def test_the_form_refuses_an_end_before_the_start_in_chinese(client_for):
    c = client_for(SECURITY_OFFICER)
    data = {
        "vendor": a_vendor().pk,
        "title": "維護",
        "start_on": "115/12/31",
        "end_on": "115/01/01",
        "services": "維護",
        "owner": keeper().pk,
    }
    response = c.post("/vendors/contracts/add/", data)
    assert response.status_code == 400
    assert "終止日不可早於起始日" in response.content.decode()
    assert not Contract.objects.exists()


# 6.1.1: a contract without the terms is saved but is a finding --------------------------
@pytest.mark.parametrize(
    ("security", "confidentiality", "missing"),
    [(True, True, False), (False, True, True), (True, False, True), (False, False, True)],
)
def test_missing_terms_are_a_finding(security, confidentiality, missing, client_for):
    c = contract(security_terms=security, confidentiality_terms=confidentiality)
    assert vendors.terms_missing(c) is missing
    page = client_for(SECURITY_OFFICER).get(c.get_absolute_url()).content.decode()
    assert ("data-terms-missing" in page) is missing


def test_the_list_filters_and_flags_contracts_without_terms(client_for):
    flagged = contract(title="沒有保密條款", confidentiality_terms=False)
    contract(title="條款齊全")
    c = client_for("supervisor")
    page = c.get("/vendors/contracts/", {"terms_missing": "yes"}).content.decode()
    assert flagged.title in page and "條款齊全" not in page
    assert "未訂資安或保密條款" in page
    page = c.get("/vendors/contracts/", {"terms_missing": "no"}).content.decode()
    assert flagged.title not in page and "條款齊全" in page


def contract_list_queries(c, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert c.get("/vendors/contracts/", params).status_code == 200
    return len(queries)


def test_the_list_page_queries_do_not_grow_with_the_logins(client_for, make_user):
    """The 承辦人 filter lists the keepers (and the owners of contracts) with their names,
    read in the same query: not one query per login with a person."""
    contract()
    c = client_for("supervisor")
    few = contract_list_queries(c)
    for n in range(6):
        make_user(f"staff{n}")  # a login with a person, not an owner
        make_user(f"officer{n}", SECURITY_OFFICER if n % 2 else SYSADMIN)
    many = contract_list_queries(c)
    assert many == few


def test_the_owner_filter_lists_keepers_and_owners_and_filters(client_for, make_user):
    mine = contract(title="我的合約", owner=make_user("owner1", SECURITY_OFFICER))
    former = make_user("former", SYSADMIN)
    theirs = contract(title="前任的合約", owner=former)
    former.is_active = False
    former.save()
    make_user("teacher")
    c = client_for("supervisor")
    page = c.get("/vendors/contracts/").content.decode()
    owner_select = page.split('name="owner"', 1)[1].split("</select>", 1)[0]
    assert "測試owner1（owner1）" in owner_select
    # A former officer who still owns a contract stays a choice; a plain login is not one.
    assert "測試former（former）" in owner_select
    assert "teacher" not in owner_select
    page = c.get("/vendors/contracts/", {"owner": former.pk}).content.decode()
    assert theirs.title in page and mine.title not in page


def test_the_vendor_filter_lists_every_vendor_escaped_and_keeps_the_choice(client_for):
    tricky = contract(title="特殊名稱廠商的合約", vendor=a_vendor('A&B <"資訊">公司'))
    other = contract(title="另一家的合約")
    c = client_for("supervisor")
    page = c.get("/vendors/contracts/", {"vendor": tricky.vendor_id}).content.decode()
    select = page.split('name="vendor"', 1)[1].split("</select>", 1)[0]
    assert '<option value="">全部</option>' in select
    assert (
        f'<option value="{tricky.vendor_id}" selected>A&amp;B &lt;&quot;資訊&quot;&gt;公司</option>'
        in select
    )
    assert f'<option value="{other.vendor_id}">{other.vendor.name}</option>' in select
    tag = re.search(r'<select[^>]*name="vendor"[^>]*>', page).group(0)
    assert 'id="id_vendor"' in tag and "form-select" in tag
    assert tricky.title in page and other.title not in page


def test_the_api_says_when_terms_are_missing(client_for):
    c = contract(security_terms=False)
    body = api(client_for).get(f"/api/contracts/{c.pk}/").json()
    assert body["terms_missing"] is True


# 6.2: access removal when a contract ends -----------------------------------------------
def test_the_end_of_a_contract_opens_removal_tasks_for_its_people():
    worker = vendor_person("工程師甲")
    other = vendor_person("工程師乙")
    mail, sis = account(worker), account(worker)
    account(other)
    ended = contract(people=[worker, other], end=dt.date(2026, 11, 29))
    # On its last day nothing happens yet.
    with time_machine.travel(dt.datetime(2026, 11, 29, 15, 0, tzinfo=dt.UTC), tick=False):
        assert vendors.open_ended_contracts() == 0
    assert not OffboardingTask.objects.exists()
    # The day after, every active account of its people gets a task.
    assert vendors.open_ended_contracts() == 3
    tasks = OffboardingTask.objects.filter(person=worker)
    assert {t.account_id for t in tasks} == {mail.pk, sis.pk}
    assert {t.reason for t in OffboardingTask.objects.all()} == {Reason.VENDOR_ENDED}
    assert {t.effective_on for t in tasks} == {dt.date(2026, 11, 29)}
    ended.refresh_from_db()
    assert ended.access_removal_opened_at == NOW


def test_the_job_is_idempotent():
    worker = vendor_person()
    account(worker)
    contract(people=[worker], end=dt.date(2026, 11, 1))
    assert vendors.open_ended_contracts() == 1
    entries = AuditEntry.objects.count()
    assert vendors.open_ended_contracts() == 0
    assert OffboardingTask.objects.count() == 1
    assert AuditEntry.objects.count() == entries


def test_the_job_is_audited_as_the_worker():
    worker = vendor_person()
    account(worker)
    ended = contract(people=[worker], end=dt.date(2026, 11, 1))
    vendors.open_ended_contracts()
    mark = AuditEntry.objects.filter(model_label="vendors.contract", object_id=str(ended.pk))
    entry = mark.order_by("-id").first()
    assert entry.actor_id is None and entry.actor_label == "worker"
    assert "access_removal_opened_at" in entry.changes
    task = AuditEntry.objects.filter(model_label="identity.offboardingtask").get()
    assert task.actor_label == "worker"


def test_a_person_still_on_another_running_contract_keeps_their_accounts():
    both = vendor_person("兩約工程師")
    only = vendor_person("單約工程師")
    kept = account(both)
    account(only)
    contract(people=[both, only], end=dt.date(2026, 11, 1))
    contract(people=[both], vendor=a_vendor("另一家廠商"))  # runs to the year's end
    assert vendors.open_ended_contracts() == 1
    assert not OffboardingTask.objects.filter(account=kept).exists()
    assert OffboardingTask.objects.filter(person=only).count() == 1


def test_a_voided_contract_or_one_not_ended_opens_nothing():
    worker = vendor_person()
    account(worker)
    contract(people=[worker])
    voided = contract(people=[vendor_person("乙")], end=dt.date(2026, 10, 1))
    vendors.void_contract(voided, actor=keeper(), reason="誤建")
    assert vendors.open_ended_contracts() == 0


def test_the_job_is_registered_with_the_worker():
    from isms.compliance.registry import JOBS

    assert JOBS["vendors.contract_ends"] is vendors.open_ended_contracts


def test_taking_a_person_off_a_running_contract_opens_their_tasks_at_once(client_for):
    stays, leaves = vendor_person("留任"), vendor_person("離開")
    account(stays)
    gone = account(leaves)
    c = contract(people=[stays, leaves])
    client = client_for(SECURITY_OFFICER)
    data = TestContractRegister().change_data(c)
    data["people"] = [str(stays.pk)]
    response = client.post(f"/vendors/contracts/{c.pk}/edit/", data)
    assert response.status_code == 302, response.content.decode()
    task = OffboardingTask.objects.get()
    assert task.account_id == gone.pk and task.reason == Reason.VENDOR_ENDED
    assert task.effective_on == TODAY
    assert list(c.people.all()) == [stays]


def test_taking_off_a_person_on_another_running_contract_opens_nothing():
    person = vendor_person()
    account(person)
    c = contract(people=[person])
    contract(people=[person])
    vendors.save_contract(c, actor=keeper(), people=[])
    assert not OffboardingTask.objects.exists()


def test_moving_the_end_forward_again_reopens_the_removal_at_the_new_end():
    person = vendor_person()
    account(person)
    c = contract(people=[person], end=dt.date(2026, 11, 1))
    vendors.open_ended_contracts()
    c.end_on = dt.date(2027, 6, 30)
    vendors.save_contract(c, actor=keeper())
    c.refresh_from_db()
    assert c.access_removal_opened_at is None


def test_the_contract_page_shows_people_accounts_and_tasks(client_for):
    person = vendor_person("工程師甲")
    acct = account(person, username="eng-a")
    c = contract(people=[person], end=dt.date(2026, 11, 1))
    vendors.open_ended_contracts()
    page = client_for("principal").get(c.get_absolute_url()).content.decode()
    assert "工程師甲" in page and "eng-a" in page
    task = OffboardingTask.objects.get(account=acct)
    assert f'data-task="{task.pk}" data-open' in page
    identity.finish_task(task, actor=keeper("admin", SYSADMIN), outcome="disabled")
    page = client_for("principal").get(c.get_absolute_url()).content.decode()
    assert f'data-task="{task.pk}" data-done' in page


# The duty (6.2) -------------------------------------------------------------------------
def state(c):
    return ObligationState.objects.filter(key=DUTY, subject_id=str(c.pk)).first()


def taipei(*args):
    from zoneinfo import ZoneInfo

    return dt.datetime(*args, tzinfo=ZoneInfo("Asia/Taipei"))


def test_the_duty_is_ok_before_the_deadline_and_overdue_after(settings):
    settings.ISMS_VENDOR_ACCESS_DAYS = 7
    person = vendor_person()
    account(person)
    c = contract(people=[person], end=dt.date(2026, 11, 29))
    vendors.open_ended_contracts()
    engine.refresh(DUTY)
    s = state(c)
    assert s.status == "ok" and s.last_done_at is None
    assert s.next_due_at == taipei(2026, 12, 6, 23, 59, 59)
    with time_machine.travel(taipei(2026, 12, 6, 23, 59, 0), tick=False):
        engine.refresh(DUTY)
        assert state(c).status == "due_soon"
    with time_machine.travel(taipei(2026, 12, 7, 0, 0, 0), tick=False):
        engine.refresh(DUTY)
        assert state(c).status == "overdue"


def test_the_duty_is_done_when_the_last_task_is_done(settings):
    person = vendor_person()
    account(person), account(person)
    c = contract(people=[person], end=dt.date(2026, 11, 20))
    vendors.open_ended_contracts()
    first, second = OffboardingTask.objects.order_by("id")
    admin = keeper("admin", SYSADMIN)
    with time_machine.travel(taipei(2026, 11, 30, 11, 0), tick=False):
        identity.finish_task(first, actor=admin, outcome="removed")
        engine.refresh(DUTY)
        assert state(c).last_done_at is None  # one still open
    with time_machine.travel(taipei(2026, 11, 30, 15, 0), tick=False):
        identity.finish_task(second, actor=admin, outcome="disabled")
        engine.refresh(DUTY)
        s = state(c)
    assert s.status == "ok" and s.last_done_at == taipei(2026, 11, 30, 15, 0)
    # Done late is done: it stays ok after the deadline.
    with time_machine.travel(taipei(2026, 12, 20, 9, 0), tick=False):
        engine.refresh(DUTY)
        assert state(c).status == "ok"


def test_a_contract_without_accounts_to_remove_is_done_at_its_end():
    c = contract(people=[vendor_person()], end=dt.date(2026, 11, 20))
    vendors.open_ended_contracts()
    engine.refresh(DUTY)
    s = state(c)
    assert s.status == "ok" and s.last_done_at == taipei(2026, 11, 21, 0, 0)


def test_an_ended_contract_not_yet_opened_is_not_done():
    person = vendor_person()
    account(person)
    c = contract(people=[person], end=dt.date(2026, 11, 1))
    engine.refresh(DUTY)
    assert state(c).status == "overdue"  # 11/1 + 7 days passed, nothing opened


def test_running_contracts_are_not_subjects_of_the_duty():
    c = contract(people=[vendor_person()])
    engine.refresh(DUTY)
    assert state(c) is None


def test_the_duty_reads_its_evidence_in_one_query(django_assert_max_num_queries):
    from isms.compliance.registry import REGISTRY

    duty = REGISTRY[DUTY]
    for n in range(5):
        person = vendor_person(f"工程師{n}")
        account(person)
        contract(people=[person], end=dt.date(2026, 11, 1))
    vendors.open_ended_contracts()
    with django_assert_max_num_queries(1):
        duty.evidence(duty.subjects())
    with django_assert_max_num_queries(1):
        duty.deadline(duty.subjects())


# API ------------------------------------------------------------------------------------
def api(client_for, role=SECURITY_OFFICER):
    from isms.core import services

    c = client_for(role)
    _token, key = services.token_create(user=c.user, name="t", actor=c.user)
    c.logout()
    c.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return c


def test_the_api_answers_field_errors_with_400(client_for):
    c = api(client_for)
    body = {
        "vendor": a_vendor().pk,
        "title": "維護",
        "start_on": "2026-12-31",
        "end_on": "2026-01-01",
        "services": "維護",
        "owner": keeper("teacher", STAFF).pk,
        "people": [Person.objects.create(name="本校老師").pk],
    }
    response = c.post("/api/contracts/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    errors = response.json()
    assert {"end_on", "owner", "people"} <= set(errors)
    assert "終止日不可早於起始日" in errors["end_on"][0]
    assert not Contract.objects.exists()


def test_the_api_takes_people_and_systems_and_removes_a_person_taken_off(client_for):
    c = api(client_for)
    a, b = vendor_person("甲"), vendor_person("乙")
    account(b)
    s = system()
    body = {**TestContractRegister().api_data(), "people": [a.pk, b.pk], "systems": [s.pk]}
    response = c.post("/api/contracts/", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert sorted(response.json()["people"]) == sorted([a.pk, b.pk])
    response = c.patch(
        f"/api/contracts/{pk}/", json.dumps({"people": [a.pk]}), content_type="application/json"
    )
    assert response.status_code == 200
    assert OffboardingTask.objects.get().person_id == b.pk
