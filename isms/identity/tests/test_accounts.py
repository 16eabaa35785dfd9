"""Systems and accounts registers, off-boarding and the account duties (2.7–2.9, 6.2)."""

import datetime as dt
import json

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from isms.compliance import engine
from isms.compliance.models import ObligationState
from isms.core.models import Person
from isms.core.roles import (
    EQUIPMENT_HEAD,
    MANAGERS,
    PERSONNEL,
    SECURITY_OFFICER,
    STAFF,
    SUPERVISOR,
    SYSADMIN,
)
from isms.core.testing import RegisterContract
from isms.identity import services
from isms.identity.models import Account, InformationSystem, OffboardingTask
from isms.identity.views import AccountRegister, SystemRegister

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
READERS = MANAGERS | {SYSADMIN, EQUIPMENT_HEAD}
KEEPERS = frozenset({SECURITY_OFFICER, SYSADMIN})


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def system(name="校務行政系統", **values):
    return InformationSystem.objects.create(name=name, **values)


def person(name="陳大文", **values):
    return Person.objects.create(name=name, **values)


def account(username="chen", *, on=None, holder=None, **values):
    obj = Account(system=on or system(), username=username, person=holder or person(), **values)
    return services.save_account(obj, actor=None)


class TestSystemRegister(RegisterContract):
    register = SystemRegister
    api_prefix = "systems"
    readers = READERS
    writers = KEEPERS

    def make_sample(self, **overrides):
        n = InformationSystem.objects.count()
        return system(name=f"系統{n}", **overrides)

    def form_data(self):
        return {"name": "電子郵件", "purpose": "公務信箱", "sign_in": "directory"}

    def change_data(self, obj):
        return {"name": obj.name, "purpose": "改為雲端信箱", "sign_in": "sso"}

    def invalid_form_data(self):
        return {"name": "", "sign_in": "telepathy", "url": "not a url"}


class TestAccountRegister(RegisterContract):
    register = AccountRegister
    api_prefix = "accounts"
    readers = READERS
    scoped_readers = frozenset({PERSONNEL, STAFF, "guard"})
    writers = KEEPERS | {EQUIPMENT_HEAD}
    voiders = KEEPERS
    exporters = READERS

    def make_sample(self, **overrides):
        n = Account.objects.count()
        return account(f"user{n}", on=system(f"S{n}"), holder=person(f"人{n}"), **overrides)

    def form_data(self):
        return {
            "system": system("無線網路").pk,
            "username": "wifi01",
            "person": person("林小華").pk,
            "kind": "personal",
            "status": "active",
        }

    def change_data(self, obj):
        return {
            "system": obj.system_id,
            "username": obj.username,
            "person": obj.person_id,
            "kind": "personal",
            "status": "disabled",
        }

    def invalid_form_data(self):
        return {"system": "", "username": "", "kind": "privileged", "status": "gone"}

    def api_data(self):
        return {
            "system": system("目錄服務").pk,
            "username": "ad01",
            "person": person("王小明").pk,
            "kind": "personal",
            "status": "active",
        }

    def invalid_api_data(self):
        return {"system": 999999, "username": "", "kind": "privileged"}


@pytest.mark.django_db
class TestAccountRules:
    def test_names_are_unique_per_system_whatever_the_case(self):
        s = system()
        account("Chen", on=s)
        with pytest.raises(Exception) as excinfo:
            account("chen", on=s, holder=person("別人"))
        assert "已有帳號" in str(excinfo.value)
        account("chen", on=system("電子郵件"))  # another system: fine
        assert Account.objects.filter(username_key="chen").count() == 2

    def test_privileged_needs_rights_and_personal_needs_a_holder(self):
        s = system()
        with pytest.raises(Exception, match="權限"):
            account("root", on=s, kind="privileged")
        with pytest.raises(Exception, match="使用人"):
            services.save_account(Account(system=s, username="x", kind="personal"), actor=None)
        ok = account("root", on=s, kind="privileged", rights="系統管理、備份")
        assert ok.rights

    def test_the_api_refuses_a_duplicate_with_a_field_error(self, client_for):
        c = client_for(SECURITY_OFFICER)
        s = system()
        p = person()
        body = {"system": s.pk, "username": "Dup", "person": p.pk, "kind": "personal"}
        assert c.post("/api/accounts/", body, content_type="application/json").status_code == 201
        body["username"] = "dup"
        response = c.post("/api/accounts/", json.dumps(body), content_type="application/json")
        assert response.status_code == 400 and "username" in response.json()
        assert Account.objects.count() == 1

    def test_a_systems_administrators_are_in_the_audit_trail(self, client_for, make_user):
        from isms.audit.models import AuditEntry

        s = system()
        lin = make_user("lin", SYSADMIN)
        wang = make_user("wang", SYSADMIN)
        c = client_for(SECURITY_OFFICER)
        data = {"name": s.name, "administrators": [lin.pk, wang.pk], "sign_in": "local"}
        assert c.post(reverse("identity:system_edit", args=[s.pk]), data).status_code == 302
        entry = AuditEntry.objects.filter(
            model_label="identity.informationsystem", object_id=str(s.pk)
        ).latest("id")
        assert entry.actor == c.user
        assert entry.changes == {"administrators": [None, sorted([str(lin), str(wang)])]}
        data["administrators"] = [wang.pk]
        assert c.post(reverse("identity:system_edit", args=[s.pk]), data).status_code == 302
        entry = AuditEntry.objects.filter(model_label="identity.informationsystem").latest("id")
        assert entry.changes == {"administrators": [[str(lin)], None]}
        s.administrators.clear()
        entry = AuditEntry.objects.filter(model_label="identity.informationsystem").latest("id")
        assert entry.changes == {"administrators": [[str(wang)], None]}
        lin.administered_systems.add(s)  # from the other side
        entry = AuditEntry.objects.filter(model_label="identity.informationsystem").latest("id")
        assert entry.object_id == str(s.pk)
        assert entry.changes == {"administrators": [None, [str(lin)]]}

    def test_staff_see_only_their_own_accounts(self, client_for):
        c = client_for(STAFF)
        mine = account("me", holder=c.user.person)
        other = account("other", on=system("電子郵件"))
        page = c.get(reverse("identity:account_list")).content.decode()
        assert "me" in page and "other" not in page
        assert c.get(other.get_absolute_url()).status_code == 404
        assert c.get(mine.get_absolute_url()).status_code == 200

    def test_findings_filter_and_column(self, client_for):
        s = system()
        account("shared1", on=s, kind="shared", holder=person("甲"))
        account("ok", on=s, holder=person("乙"))
        c = client_for(SECURITY_OFFICER)
        page = c.get(reverse("identity:account_list"), {"finding": "shared"}).content.decode()
        assert "shared1" in page and ">ok<" not in page and "共用未說明" in page


@pytest.mark.django_db
class TestOffboarding:
    def test_a_departure_opens_one_task_per_account_and_tracks_it(self, client_for):
        c = client_for(PERSONNEL)
        p = person()
        a1 = account("chen", holder=p)
        a2 = account("chen.mail", on=system("電子郵件"), holder=p)
        account("gone", on=system("網站"), holder=p, status="removed")
        response = c.post(
            reverse("identity:departure"),
            {"person": p.pk, "reason": "left", "effective_on": "115/11/30"},
        )
        assert response.status_code == 302
        tasks = OffboardingTask.objects.filter(person=p)
        assert {t.account_id for t in tasks} == {a1.pk, a2.pk}
        assert all(t.due_on == dt.date(2026, 12, 7) for t in tasks)
        p.refresh_from_db()
        assert p.status == "left" and p.leave_date == dt.date(2026, 11, 30)
        # Again: no second task for the same accounts.
        c.post(
            reverse("identity:departure"),
            {"person": p.pk, "reason": "left", "effective_on": "115/11/30"},
        )
        assert OffboardingTask.objects.filter(person=p).count() == 2
        engine.refresh("identity.offboarding")
        assert ObligationState.objects.filter(key="identity.offboarding").count() == 2

        officer = client_for(SECURITY_OFFICER)
        task = tasks.get(account=a1)
        url = reverse("identity:offboardingtask_finish", args=[task.pk])
        officer.post(url, {"outcome": "kept", "note": ""})
        task.refresh_from_db()
        assert task.done_at is None  # kept needs a reason
        officer.post(url, {"outcome": "removed"})
        task.refresh_from_db()
        a1.refresh_from_db()
        assert task.done_at and a1.status == "removed" and a1.removed_on == dt.date(2026, 11, 30)

    def test_overdue_removal_shows_on_the_duty(self):
        p = person()
        account("chen", holder=p)
        services.record_departure(p, actor=None, reason="left", effective_on=dt.date(2026, 11, 1))
        engine.refresh("identity.offboarding")
        state = ObligationState.objects.get(key="identity.offboarding")
        assert state.status == "overdue"  # due 2026-11-08

    def test_leaving_on_the_people_page_opens_tasks(
        self, client_for, django_capture_on_commit_callbacks
    ):
        p = person()
        account("chen", holder=p)
        with django_capture_on_commit_callbacks(execute=True):
            p.status = Person.Status.LEFT
            p.save()
        assert OffboardingTask.objects.filter(person=p).count() == 1

    def test_a_future_leave_date_opens_tasks_on_the_day(self):
        p = person(kind=Person.Kind.VENDOR)
        account("vendor1", holder=p)
        services.record_departure(
            p, actor=None, reason="vendor_ended", effective_on=dt.date(2026, 12, 31)
        )
        assert not OffboardingTask.objects.exists()
        assert services.open_due_offboarding() == 0
        with time_machine.travel(dt.datetime(2026, 12, 31, 1, tzinfo=dt.UTC), tick=False):
            assert services.open_due_offboarding() == 1
            assert services.open_due_offboarding() == 0  # once
        assert OffboardingTask.objects.get().reason == "vendor_ended"

    def test_only_personnel_and_the_officer_record_departures(self, client_for):
        p = person()
        for role in (STAFF, SYSADMIN, SUPERVISOR):
            response = client_for(role).post(
                reverse("identity:departure"),
                {"person": p.pk, "reason": "left", "effective_on": "115/11/30"},
            )
            assert response.status_code == 403
        p.refresh_from_db()
        assert p.status == "active"

    def test_bad_departure_input_saves_nothing(self, client_for):
        c = client_for(PERSONNEL)
        response = c.post(
            reverse("identity:departure"), {"person": "", "reason": "fired", "effective_on": "x"}
        )
        assert response.status_code == 400
        assert set(response.context["form"].errors) == {"person", "reason", "effective_on"}

    @pytest.mark.parametrize(
        "reason,outcomes",
        [
            ("left", {"removed", "disabled"}),
            ("vendor_ended", {"removed", "disabled"}),
            ("moved", {"removed", "disabled", "kept"}),
        ],
    )
    def test_who_left_cannot_keep_their_accounts(self, client_for, reason, outcomes):
        officer = client_for(SECURITY_OFFICER)
        for outcome in ("removed", "disabled", "kept"):
            p = person(f"{reason}-{outcome}")
            a = account(f"{reason}.{outcome}", on=system(f"{reason}-{outcome}"), holder=p)
            (task,) = services.offboard(p, actor=None, reason=reason, effective_on=NOW.date())
            page = officer.get(task.get_absolute_url()).content.decode()
            assert 'name="outcome"' in page  # the form is there for those who may finish
            assert ('value="kept"' in page) == (reason == "moved")
            url = reverse("identity:offboardingtask_finish", args=[task.pk])
            response = officer.post(url, {"outcome": outcome, "note": "仍需查詢成績"})
            task.refresh_from_db()
            a.refresh_from_db()
            if outcome in outcomes:
                assert task.done_at is not None and task.outcome == outcome
                assert a.status == ("active" if outcome == "kept" else outcome)
            else:
                assert response.status_code == 400 and task.done_at is None
                assert "不能保留" in response.content.decode()
                assert a.status == "active"

    def test_an_account_kept_after_a_move_gets_a_task_when_the_person_leaves(self):
        p = person()
        a = account("chen", holder=p)
        (moved,) = services.record_departure(p, actor=None, reason="moved", effective_on=NOW.date())
        services.finish_task(moved, actor=None, outcome="kept", note="調至教務處仍需使用")
        assert services.open_due_offboarding() == 0  # not departed: kept stands
        (left,) = services.record_departure(p, actor=None, reason="left", effective_on=NOW.date())
        assert left.account == a and left.reason == "left" and left.done_at is None

    def test_access_given_back_to_a_departed_person_is_a_finding_again(self):
        p = person()
        a = account("chen", holder=p)
        (task,) = services.record_departure(p, actor=None, reason="left", effective_on=NOW.date())
        services.finish_task(task, actor=None, outcome="disabled")
        assert services.open_due_offboarding() == 0  # access removed: decided
        # Re-enabling through the services is refused ...
        with pytest.raises(ValidationError) as refused:
            services.set_status(a, "active", actor=None)
        assert "不能重新啟用" in str(refused.value)
        # ... and if it happens behind the register's back (found active on the system),
        # the daily look opens a new task: a finding until removed.
        Account.objects.filter(pk=a.pk).update(status="active")
        assert services.open_due_offboarding() == 1
        assert services.open_due_offboarding() == 0
        engine.refresh("identity.offboarding")
        states = ObligationState.objects.filter(key="identity.offboarding")
        assert states.filter(last_done_at__isnull=True).count() == 1

    def test_re_enabling_a_departed_holders_account_on_the_edit_page_is_refused(self, client_for):
        p = person()
        a = account("chen", holder=p, status="disabled")
        Person.objects.filter(pk=p.pk).update(status=Person.Status.LEFT)
        c = client_for(SECURITY_OFFICER)
        data = {
            "system": a.system_id,
            "username": "chen",
            "person": p.pk,
            "kind": "personal",
            "status": "active",
        }
        response = c.post(reverse("identity:account_edit", args=[a.pk]), data)
        assert response.status_code == 400
        assert "不能重新啟用" in response.context["form"].errors["status"][0]
        a.refresh_from_db()
        assert a.status == "disabled"

    def test_removing_on_the_edit_page_or_api_closes_the_open_task(self, client_for):
        p = person()
        a = account("chen", holder=p)
        b = account("chen.mail", on=system("電子郵件"), holder=p)
        services.record_departure(p, actor=None, reason="left", effective_on=NOW.date())
        c = client_for(SECURITY_OFFICER)
        data = {"system": a.system_id, "username": "chen", "person": p.pk, "kind": "personal"}
        response = c.post(
            reverse("identity:account_edit", args=[a.pk]), {**data, "status": "removed"}
        )
        assert response.status_code == 302
        task = OffboardingTask.objects.get(account=a)
        assert task.done_at == NOW and task.outcome == "removed"
        response = c.patch(
            f"/api/accounts/{b.pk}/", {"status": "disabled"}, content_type="application/json"
        )
        assert response.status_code == 200
        task = OffboardingTask.objects.get(account=b)
        assert task.done_at == NOW and task.outcome == "disabled"

    def test_an_account_added_for_a_departed_person_gets_a_removal_task(self, client_for):
        p = person(status=Person.Status.LEFT, leave_date=dt.date(2026, 10, 31))
        response = client_for(SECURITY_OFFICER).post(
            "/api/accounts/",
            {"system": system().pk, "username": "ghost", "person": p.pk, "kind": "personal"},
            content_type="application/json",
        )
        assert response.status_code == 201
        task = OffboardingTask.objects.get(account_id=response.json()["id"])
        assert task.reason == "left" and task.due_on == dt.date(2026, 11, 7)


@pytest.mark.django_db
class TestDuties:
    def test_a_default_password_is_due_by_its_expiry_and_done_when_confirmed(self, make_user):
        holder = make_user("lin")
        a = account("lin", holder=holder.person)
        services.issue_default_password(a, actor=None)
        services.save_account(a, actor=None)
        engine.refresh("identity.default_password")
        state = ObligationState.objects.get(key="identity.default_password")
        assert state.next_due_at == NOW + dt.timedelta(days=7) and state.status == "ok"
        with time_machine.travel(NOW + dt.timedelta(days=8), tick=False):
            engine.refresh("identity.default_password")
            state.refresh_from_db()
            assert state.status == "overdue"
            services.confirm_password_changed(a, actor=holder)
            state.refresh_from_db()
            assert state.status == "ok"

    def test_the_holder_confirms_on_the_page(self, client_for):
        c = client_for(STAFF)
        a = account("me", holder=c.user.person)
        services.issue_default_password(a, actor=None)
        services.save_account(a, actor=None)
        url = reverse("identity:account_password_changed", args=[a.pk])
        assert c.post(url, {"next": "https://evil.example/"}).headers["Location"] == (
            a.get_absolute_url()
        )  # no open redirect
        a.refresh_from_db()
        assert a.password_changed_at == NOW and a.password_confirmed_by == c.user
        other = account("other", on=system("電子郵件"))
        services.issue_default_password(other, actor=None)
        services.save_account(other, actor=None)
        url = reverse("identity:account_password_changed", args=[other.pk])
        assert c.post(url).status_code == 404

    def test_the_office_confirming_for_the_holder_is_recorded_as_such(self, client_for):
        holder = person()
        a = account("lin", holder=holder)
        services.issue_default_password(a, actor=None)
        services.save_account(a, actor=None)
        officer = client_for(SECURITY_OFFICER)
        url = reverse("identity:account_password_changed", args=[a.pk])
        assert officer.post(url, {"next": "/identity/accounts/"}).headers["Location"] == (
            "/identity/accounts/"
        )
        a.refresh_from_db()
        assert a.password_confirmed_by == officer.user
        page = officer.get(a.get_absolute_url()).content.decode()
        assert "通行碼變更確認人" in page and officer.user.display_name in page

    def test_the_semester_check_is_reminded_to_the_officer_and_the_systems_admins(self, make_user):
        from isms.compliance import registry

        officer = make_user("officer", SECURITY_OFFICER)
        admin = make_user("admin", SYSADMIN)
        make_user("other", SYSADMIN)  # administers another system: not told
        s = system()
        s.administrators.add(admin)
        system("電子郵件").administrators.add(make_user("mail", SYSADMIN))
        engine.refresh("identity.account_review")
        state = ObligationState.objects.get(key="identity.account_review", subject_id=s.pk)
        duty = registry.REGISTRY["identity.account_review"]
        assert set(engine.recipients_for(duty, state, {})) == {officer, admin}

    def test_a_shared_account_is_a_finding_until_justified(self):
        a = account("lab", kind="shared", holder=person("電腦教室"))
        engine.refresh("identity.shared_justified")
        assert ObligationState.objects.get(key="identity.shared_justified").status == "ok"
        with time_machine.travel(NOW + dt.timedelta(days=8), tick=False):
            engine.refresh("identity.shared_justified")
            state = ObligationState.objects.get(key="identity.shared_justified")
            assert state.status == "overdue"
            a.shared_justification = "電腦教室學生共用，僅能上網"
            services.save_account(a, actor=None)
            state.refresh_from_db()
            assert state.status == "ok"

    def test_the_semester_review_duty_is_per_system(self):
        system("A")
        system("B")
        engine.refresh("identity.account_review")
        assert ObligationState.objects.filter(key="identity.account_review").count() == 2


@pytest.mark.django_db
def test_the_password_helper_is_reachable_while_a_new_password_is_due(client):
    from isms.core import services as core_services

    user, _default = core_services.user_create(
        actor=None, username="newbie", roles=[STAFF], password="Tmp-12ab-xyz"
    )
    client.force_login(user)
    assert client.get(reverse("identity:account_list")).status_code == 302  # to change first
    assert client.get(reverse("identity:password_help")).status_code == 200
    page = client.get(reverse("password_change")).content.decode()
    assert reverse("identity:password_help") in page


@pytest.mark.django_db
def test_the_account_duties_keep_a_constant_query_count():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def refresh():
        with CaptureQueriesContext(connection) as queries:
            for key in services.DUTIES:
                engine.refresh(key)
        return len(queries)

    s = system()
    account("shared0", on=s, kind="shared", holder=person("甲0"))
    few = refresh()
    for n in range(1, 15):
        a = account(f"shared{n}", on=system(f"S{n}"), kind="shared", holder=person(f"甲{n}"))
        services.issue_default_password(a, actor=None)
        services.save_account(a, actor=None)
    refresh()  # the new states are created
    many = refresh()
    assert many == few, (few, many)
