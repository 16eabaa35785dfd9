"""Backups (2.4): plans and their rules, the job key, runs by the job and by hand, the
failure and missed-rhythm alerts, restore tests and their review, the pages and API per
role, and the duties (2.4.1 weekly, 2.4.2 yearly) with frozen time."""

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from isms.assets.models import Asset
from isms.audit.models import AuditEntry
from isms.compliance import engine, registry
from isms.compliance.models import ObligationState
from isms.core import services as core_services
from isms.core.models import Person, User
from isms.core.roles import (
    MANAGERS,
    PRINCIPAL,
    SECURITY_OFFICER,
    STAFF,
    SUPERVISOR,
    SYSADMIN,
)
from isms.core.testing import ROLE_CASES, RegisterContract, roles_for
from isms.identity.models import InformationSystem
from isms.notifications.models import Notification
from isms.operations import backups, views_backups
from isms.operations.models import BackupPlan, BackupRun, RestoreTest
from isms.operations.views_backups import (
    BackupPlanRegister,
    BackupRunRegister,
    RestoreTestRegister,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)  # Monday 115/11/30 10:00 in Taipei
TODAY = dt.date(2026, 11, 30)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
READERS = MANAGERS | {SYSADMIN}
KEEPERS = frozenset({SYSADMIN})
RUNS_URL = "/api/backup-runs/"
Status = BackupRun.Status
Source = BackupRun.Source


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


# Helpers -----------------------------------------------------------------------------------------
def user(username, *roles, **fields):
    found = User.objects.filter(username=username).first()
    if found is not None:
        return found
    fields.setdefault("email", f"{username}@school.example")
    u = User.objects.create_user(
        username=username,
        password="Xk7#pq92mv",
        person=Person.objects.create(name=f"人員{username}"),
        password_changed_at=NOW,
        **fields,
    )
    for role in roles:
        u.groups.add(Group.objects.get_or_create(name=role)[0])
    return u


def login(u):
    c = Client()
    c.force_login(u)
    c.user = u
    return c


def key_client(key):
    c = Client()
    c.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return c


def token_client(u):
    _token, key = core_services.token_create(user=u, name="test", actor=u)
    return key_client(key)


def server(n=None, **values):
    n = n or Asset.objects.count() + 1
    values.setdefault("kind", Asset.Kind.SERVER)
    values.setdefault("state", Asset.State.IN_USE)
    return Asset.objects.create(property_number=f"3140101-{n:05d}", name=f"主機{n}", **values)


def system(name=None):
    return InformationSystem.objects.create(name=name or f"系統{InformationSystem.objects.count()}")


def plan_of(actor, **values):
    """A plan saved through the service by ``actor`` (its responsible unless given)."""
    values.setdefault("responsible", actor)
    if "server" not in values and "system" not in values:
        values["system"] = system()
    values.setdefault("name", f"備份計畫{BackupPlan.objects.count() + 1}")
    values.setdefault("contents", [BackupPlan.Content.DATABASE])
    values.setdefault("method", "每日 mysqldump 完整備份")
    values.setdefault("destination", "NAS /backup/db")
    values.setdefault("rhythm_days", 7)
    return backups.save_plan(BackupPlan(**values), actor=actor)


def run_of(plan, actor, started=None, status=Status.SUCCEEDED, **values):
    started = started or NOW - 2 * HOUR
    if status == Status.SUCCEEDED:
        values.setdefault("finished_at", started + HOUR)
    return backups.record_run(
        BackupRun(plan=plan, started_at=started, status=status, **values), actor=actor
    )


def restore_test_of(plan, actor, **values):
    values.setdefault("tested_on", TODAY)
    values.setdefault("restored_what", "學務系統資料庫完整備份")
    values.setdefault("restored_to", "測試主機 vm-test01")
    values.setdefault("usable", True)
    values.setdefault("complete", True)
    values.setdefault("checksum", RestoreTest.Checksum.MATCHED)
    return backups.save_test(RestoreTest(plan=plan, **values), actor=actor)


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


def post_run(c, body, **extra):
    return c.post(RUNS_URL, json.dumps(body), content_type="application/json", **extra)


def run_body(**values):
    body = {
        "started_at": (NOW - 2 * HOUR).isoformat(),
        "finished_at": (NOW - HOUR).isoformat(),
        "status": "succeeded",
        "size_bytes": 1048576,
        "checksum": "sha256:" + "ab" * 32,
        "location": "/srv/backup/db-1151130.sql.gz",
        "log": "dump ok",
    }
    body.update(values)
    return body


def denied_entries():
    return AuditEntry.objects.filter(action=AuditEntry.Action.ACCESS_DENIED).order_by("id")


@pytest.fixture
def admin():
    return user("admin", SYSADMIN)


@pytest.fixture
def other_admin():
    return user("admin2", SYSADMIN)


@pytest.fixture
def boss():
    return user("boss", SUPERVISOR)


@pytest.fixture
def plan(admin):
    return plan_of(admin, name="學務系統資料庫")


# The register: pages and API for every role ------------------------------------------------------
class TestBackupPlanRegister(RegisterContract):
    register = BackupPlanRegister
    api_prefix = "backup-plans"
    readers = READERS
    writers = KEEPERS

    def admin(self):
        return user("contract-admin", SYSADMIN)

    def make_sample(self, **overrides):
        return plan_of(self.admin(), **overrides)

    def form_data(self):
        return {
            "name": "網站備份",
            "system": system().pk,
            "contents": ["website", "database"],
            "method": "每日 rsync 同步網站目錄",
            "destination": "NAS /backup/web",
            "offsite": "on",
            "offsite_location": "總務處保險櫃",
            "offsite_medium": "external_disk",
            "rhythm_days": "1",
            "responsible": self.admin().pk,
        }

    def change_data(self, obj):
        data = self.form_data()
        data["system"] = obj.system_id
        data["destination"] = "NAS /backup/web2"
        return data

    def api_data(self):
        data = self.form_data()
        data.update(offsite=True, rhythm_days=1)
        return data


class TestBackupRunRegister(RegisterContract):
    register = BackupRunRegister
    api_prefix = "backup-runs"
    readers = READERS
    writers = KEEPERS

    def admin(self):
        return user("contract-admin", SYSADMIN)

    def plan(self):
        found = BackupPlan.objects.filter(name="契約測試計畫").first()
        return found or plan_of(self.admin(), name="契約測試計畫")

    def make_sample(self, **overrides):
        n = BackupRun.objects.count()
        return run_of(self.plan(), self.admin(), started=NOW - (n + 2) * HOUR, **overrides)

    def form_data(self):
        return {
            "plan": plan_of(self.admin()).pk,
            "started_at": "115/11/30 08:00",
            "finished_at": "115/11/30 08:40",
            "status": "succeeded",
            "size_bytes": "2048",
            "checksum": "sha256:abc",
            "location": "外接式硬碟 A",
            "log": "ok",
        }

    def api_data(self):
        return {"plan": plan_of(self.admin()).pk, **run_body()}

    # A recorded run is never changed: no edit page, no PUT/PATCH.
    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_edit_answers_by_role(self, role, client_for):
        obj = self.make_sample()
        with pytest.raises(NoReverseMatch):
            self.url("edit", obj.pk)
        c = client_for(*roles_for(role))
        assert c.get(f"/operations/backup-runs/{obj.pk}/edit/").status_code == 404

    def test_edit_writes_one_audit_entry_with_before_and_after(self, client_for):
        obj = self.make_sample()
        c = self.api_client(client_for, SYSADMIN)
        entries = self.entries()
        for method in (c.put, c.patch):
            response = method(self.api_url(obj.pk), "{}", content_type="application/json")
            assert response.status_code in (403, 405)
        assert self.entries() == entries

    def test_edit_refuses_bad_input_and_changes_nothing(self, client_for):
        obj = self.make_sample()
        with pytest.raises(ValidationError):
            backups.record_run(obj, actor=self.admin())  # a recorded run stays as it was

    def test_api_update_writes_one_audit_entry(self, client_for):
        assert "patch" not in self._api_methods() and "put" not in self._api_methods()


class TestRestoreTestRegister(RegisterContract):
    register = RestoreTestRegister
    api_prefix = "restore-tests"
    readers = READERS
    writers = KEEPERS

    def the_tester(self):
        return user("rt-tester", SYSADMIN)

    def writer(self, client_for):
        return login(self.the_tester())

    def plan(self):
        found = BackupPlan.objects.filter(name="還原測試計畫").first()
        return found or plan_of(self.the_tester(), name="還原測試計畫")

    def make_sample(self, **overrides):
        return restore_test_of(self.plan(), self.the_tester(), **overrides)

    def form_data(self):
        return {
            "plan": self.plan().pk,
            "tested_on": "115/11/30",
            "restored_what": "網站目錄",
            "restored_to": "測試主機",
            "usable": "on",
            "complete": "on",
            "checksum": "matched",
        }

    def change_data(self, obj):
        return {**self.form_data(), "restored_to": "另一台測試主機"}

    def api_data(self):
        return {**self.form_data(), "usable": True, "complete": True}

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_edit_answers_by_role(self, role, client_for):
        # Only the test's tester edits it: another administrator is refused.
        obj = self.make_sample()
        response = client_for(*roles_for(role)).get(self.url("edit", obj.pk))
        assert response.status_code == 403

    def test_the_tester_may_open_the_edit_page(self):
        obj = self.make_sample()
        assert self.writer(None).get(self.url("edit", obj.pk)).status_code == 200

    def test_api_update_writes_one_audit_entry(self, client_for):
        obj = self.make_sample()
        c = token_client(self.the_tester())
        entries = self.entries()
        body = json.dumps({"restored_to": "另一台測試主機"})
        response = c.patch(self.api_url(obj.pk), body, content_type="application/json")
        assert response.status_code == 200, response.content
        assert self.entries() == entries + 1
        other = token_client(user("admin-x", SYSADMIN))
        response = other.patch(self.api_url(obj.pk), body, content_type="application/json")
        assert response.status_code == 403


# Plans (2.4.1) -----------------------------------------------------------------------------------
class TestPlanRules:
    @pytest.mark.parametrize("days", [1, 2, 7])
    def test_a_rhythm_of_one_to_seven_days_is_kept(self, admin, days):
        assert plan_of(admin, rhythm_days=days).rhythm_days == days

    @pytest.mark.parametrize("days", [0, 8, 30, -1, None])
    def test_a_rhythm_outside_one_to_seven_days_is_refused_citing_2_4_1(self, admin, days):
        target = system()
        entries = AuditEntry.objects.count()
        with pytest.raises(ValidationError) as excinfo:
            plan_of(admin, system=target, rhythm_days=days)
        assert list(errors_of(excinfo)) == ["rhythm_days"]
        assert "2.4.1" in errors_of(excinfo)["rhythm_days"][0]
        assert BackupPlan.objects.count() == 0
        assert AuditEntry.objects.count() == entries

    def test_offsite_needs_a_location_and_a_medium(self, admin):
        with pytest.raises(ValidationError) as excinfo:
            plan_of(admin, offsite=True, offsite_location=" ", offsite_medium="")
        errors = errors_of(excinfo)
        assert set(errors) == {"offsite_location", "offsite_medium"}
        assert all("2.4.1" in m for messages in errors.values() for m in messages)
        with pytest.raises(ValidationError) as excinfo:
            plan_of(admin, offsite=True, offsite_location="分校機房", offsite_medium="floppy")
        assert list(errors_of(excinfo)) == ["offsite_medium"]
        ok = plan_of(admin, offsite=True, offsite_location="分校機房", offsite_medium="tape")
        assert (ok.offsite_location, ok.offsite_medium) == ("分校機房", "tape")

    def test_without_offsite_its_details_are_cleared(self, admin):
        p = plan_of(admin, offsite=False, offsite_location="分校", offsite_medium="usb")
        p.refresh_from_db()
        assert (p.offsite_location, p.offsite_medium) == ("", "")

    @pytest.mark.parametrize(
        "contents",
        [[], None, "database", ["database", "floppy"], [{"a": 1}], ["database", 3]],
    )
    def test_contents_are_chosen_from_the_list(self, admin, contents):
        with pytest.raises(ValidationError) as excinfo:
            plan_of(admin, contents=contents)
        assert list(errors_of(excinfo)) == ["contents"]

    def test_contents_are_kept_once_and_other_needs_its_text(self, admin):
        p = plan_of(admin, contents=["database", "website", "database"])
        assert p.contents == ["database", "website"]
        with pytest.raises(ValidationError) as excinfo:
            plan_of(admin, contents=["other"], contents_other="  ")
        assert list(errors_of(excinfo)) == ["contents_other"]
        p = plan_of(admin, contents=["other"], contents_other="郵件匣")
        assert p.contents_other == "郵件匣"
        p = plan_of(admin, contents=["database"], contents_other="不需要")
        assert p.contents_other == ""

    def test_a_system_or_a_server_is_named(self, admin):
        with pytest.raises(ValidationError) as excinfo:
            backups.save_plan(
                BackupPlan(
                    name="無對象",
                    contents=["database"],
                    method="m",
                    destination="d",
                    responsible=admin,
                ),
                actor=admin,
            )
        assert "2.4.1" in errors_of(excinfo)["system"][0]
        assert plan_of(admin, server=server()).server_id

    def test_the_server_must_be_a_server_of_the_register(self, admin):
        pc = server(kind=Asset.Kind.PC)
        with pytest.raises(ValidationError) as excinfo:
            plan_of(admin, server=pc)
        assert list(errors_of(excinfo)) == ["server"]
        gone = server(state=Asset.State.DECOMMISSIONED)
        with pytest.raises(ValidationError) as excinfo:
            plan_of(admin, server=gone)
        assert "報廢" in errors_of(excinfo)["server"][0]
        voided = server(voided_at=NOW)
        with pytest.raises(ValidationError):
            plan_of(admin, server=voided)

    def test_a_plan_keeps_its_server_after_the_server_is_decommissioned(self, admin):
        host = server()
        p = plan_of(admin, server=host)
        Asset.objects.filter(pk=host.pk).update(state=Asset.State.DECOMMISSIONED)
        p.method = "改為每週完整備份"
        backups.save_plan(p, actor=admin)  # its own server: kept
        p.server = server(state=Asset.State.DECOMMISSIONED)
        with pytest.raises(ValidationError) as excinfo:
            backups.save_plan(p, actor=admin)  # another decommissioned one: refused
        assert list(errors_of(excinfo)) == ["server"]

    def test_a_voided_system_is_not_chosen_anew(self, admin):
        old = system("舊系統")
        old.voided_at = NOW
        old.save()
        with pytest.raises(ValidationError) as excinfo:
            plan_of(admin, system=old)
        assert list(errors_of(excinfo)) == ["system"]

    def test_the_responsible_is_an_active_administrator(self, admin):
        staff = user("teacher", STAFF)
        left = user("left", SYSADMIN, is_active=False)
        root = user("root", is_superuser=True)
        for who in (staff, left, root):
            with pytest.raises(ValidationError) as excinfo:
                plan_of(admin, responsible=who)
            assert list(errors_of(excinfo)) == ["responsible"], who
        assert plan_of(admin, responsible=user("admin3", SYSADMIN)).pk

    def test_only_administrators_keep_plans(self, admin, boss):
        with pytest.raises(PermissionDenied):
            backups.save_plan(
                BackupPlan(
                    name="x", system=system(), contents=["database"], method="m", destination="d"
                ),
                actor=boss,
            )

    def test_a_voided_plan_is_not_changed(self, admin, plan):
        core_services.record_void(plan, actor=admin, reason="系統下線")
        plan.method = "改"
        with pytest.raises(ValidationError):
            backups.save_plan(plan, actor=admin)

    def test_a_new_plan_never_takes_a_key_or_the_products_mark(self, admin):
        p = plan_of(admin, token_hash="f" * 64, token_prefix="abcdefgh", is_product=True)
        p.refresh_from_db()
        assert (p.token_hash, p.token_prefix, p.is_product) == ("", "", False)

    def test_overlong_text_is_refused_as_a_field_error(self, admin):
        with pytest.raises(ValidationError) as excinfo:
            plan_of(admin, name="備" * 201)
        assert list(errors_of(excinfo)) == ["name"]


class TestPlanPages:
    def test_the_form_shows_the_content_boxes_and_saves_through_the_service(self, admin):
        c = login(admin)
        page = c.get(reverse("operations:backupplan_add"))
        assert page.status_code == 200
        html = page.content.decode()
        assert 'type="checkbox" name="contents" value="database"' in html
        assert f'value="{admin.pk}" selected' in html  # the administrator is the default
        data = {
            "name": "校網",
            "server": server().pk,
            "contents": ["website"],
            "method": "rsync",
            "destination": "NAS",
            "rhythm_days": "9",
            "responsible": admin.pk,
        }
        refused = c.post(reverse("operations:backupplan_add"), data)
        assert refused.status_code == 400
        assert "條文 2.4.1 規定每週至少備份一次" in refused.content.decode()
        assert BackupPlan.objects.count() == 0
        data["rhythm_days"] = "3"
        data["offsite"] = "on"
        refused = c.post(reverse("operations:backupplan_add"), data)
        assert refused.status_code == 400
        assert "異地備份請填寫存放地點" in refused.content.decode()
        data.update(offsite_location="分校", offsite_medium="usb")
        response = c.post(reverse("operations:backupplan_add"), data)
        assert response.status_code == 302
        p = BackupPlan.objects.get()
        assert (p.rhythm_days, p.contents, p.offsite_medium) == (3, ["website"], "usb")

    def test_the_list_shows_last_success_next_due_and_overdue(self, admin):
        fresh = plan_of(admin, name="甲計畫", rhythm_days=2)
        run_of(fresh, admin, started=NOW - 3 * HOUR)  # finished 09:00 Taipei
        late = plan_of(admin, name="乙計畫", rhythm_days=2)
        run_of(late, admin, started=NOW - 3 * DAY)
        with time_machine.travel(NOW + 2 * HOUR, tick=False):
            html = login(admin).get(reverse("operations:backupplan_list")).content.decode()
        row_fresh = html[html.index("甲計畫") : html.index("</tr>", html.index("甲計畫"))]
        row_late = html[html.index("乙計畫") : html.index("</tr>", html.index("乙計畫"))]
        assert "115/11/30 08:00" in row_fresh and "115/12/02 08:00" in row_fresh
        assert "逾期" not in row_fresh
        assert "逾期" in row_late
        for sort in ("last_success", "-last_success", "target", "rhythm_days"):
            response = login(admin).get(reverse("operations:backupplan_list"), {"sort": sort})
            assert response.status_code == 200
        never = plan_of(admin, name="丙計畫", rhythm_days=1)
        with time_machine.travel(NOW + DAY, tick=False):
            c = login(admin)
            html = c.get(reverse("operations:backupplan_list")).content.decode()
            assert "逾期（尚無成功備份）" in html
            overdue = c.get(reverse("operations:backupplan_list"), {"due": "overdue"})
            names = overdue.content.decode()
            assert "丙計畫" in names and "乙計畫" in names and "甲計畫" not in names
            api = token_client(admin).get("/api/backup-plans/", {"due": "overdue"}).json()
            assert {r["id"] for r in api["results"]} == {never.pk, late.pk}

    def test_the_list_filters_by_content_and_system(self, admin):
        site = system("校網")
        plan_of(admin, name="甲網站計畫", system=site, contents=["website"])
        plan_of(admin, name="乙資料計畫", contents=["database"])
        c = login(admin)
        html = c.get(reverse("operations:backupplan_list"), {"content": "website"}).content
        assert "甲網站計畫".encode() in html and "乙資料計畫".encode() not in html
        html = c.get(reverse("operations:backupplan_list"), {"system": site.pk}).content
        assert "甲網站計畫".encode() in html and "乙資料計畫".encode() not in html

    @pytest.mark.parametrize("url_name", ["backupplan_list", "backuprun_list", "restoretest_list"])
    def test_list_queries_do_not_grow_from_5_to_50_plans(self, url_name, admin):
        c = login(admin)

        def fill(count):
            for n in range(BackupPlan.objects.count(), count):
                p = BackupPlan.objects.create(
                    name=f"計畫{n:03d}",
                    server=server(),
                    contents=["database"],
                    method="m",
                    destination="d",
                    responsible=admin,
                )
                BackupRun.objects.create(
                    plan=p,
                    started_at=NOW - HOUR,
                    finished_at=NOW,
                    status=Status.SUCCEEDED,
                    source=Source.MANUAL,
                    recorded_by=admin,
                )
                RestoreTest.objects.create(
                    plan=p,
                    tested_on=TODAY,
                    restored_what="w",
                    restored_to="t",
                    tester=admin,
                    reviewed_by=admin,
                    reviewed_at=NOW,
                )

        def count(url):
            with CaptureQueriesContext(connection) as queries:
                assert c.get(url).status_code == 200
            return len(queries)

        url = reverse(f"operations:{url_name}")
        api = {"backupplan_list": "/api/backup-plans/", "backuprun_list": RUNS_URL}.get(
            url_name, "/api/restore-tests/"
        )
        fill(5)
        few, few_api = count(url), count(api)
        fill(50)
        assert count(url) == few
        assert count(api) == few_api

    def test_the_detail_shows_runs_tests_due_and_the_examples(self, admin, plan):
        for n in range(25):
            run_of(plan, admin, started=NOW - (n + 2) * HOUR)
        failed = run_of(plan, admin, started=NOW - 30 * HOUR, status=Status.FAILED)
        restore_test_of(plan, admin)
        html = login(admin).get(plan.get_absolute_url()).content.decode()
        assert html.count("data-run=") == 20
        assert f'data-run="{failed.pk}"' not in html  # older than the latest 20
        assert "全部備份紀錄（26 筆）" in html
        assert "115/12/07 09:00" in html  # the latest run's end (09:00) + 7 days
        assert "http://testserver/api/backup-runs/" in html
        assert f"PLAN={plan.pk}" in html and f"$Plan = {plan.pk}" in html
        assert views_backups.KEY_PLACEHOLDER in html
        assert "Invoke-RestMethod" in html and "curl -sS -X POST" in html

    def test_the_examples_use_the_address_the_request_came_by(self, admin, plan, settings):
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "isms.school.edu.tw"]
        c = login(admin)
        html = c.get(
            plan.get_absolute_url(), HTTP_HOST="isms.school.edu.tw", secure=True
        ).content.decode()
        assert "https://isms.school.edu.tw/api/backup-runs/" in html

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_key_buttons_only_for_administrators(self, role, client_for, plan):
        c = client_for(*roles_for(role))
        response = c.get(plan.get_absolute_url())
        if role not in READERS:
            assert response.status_code == 403
            return
        has_buttons = 'name="op" value="create"' in response.content.decode()
        assert has_buttons == (role == SYSADMIN)


# The job key ------------------------------------------------------------------------------------
class TestJobKey:
    def test_the_key_is_returned_once_and_only_its_hash_kept(self, admin, plan):
        entries = AuditEntry.objects.count()
        key = backups.job_key_create(plan, actor=admin)
        plan.refresh_from_db()
        assert key.startswith("isms_bk_") and len(key) > 40
        assert plan.token_hash == hashlib.sha256(key.encode()).hexdigest()
        assert plan.token_prefix == key[8:16]
        assert key not in json.dumps(list(BackupPlan.objects.values()), default=str)
        entry = AuditEntry.objects.order_by("-id").first()
        assert AuditEntry.objects.count() == entries + 1
        assert entry.actor_id == admin.pk and entry.object_id == str(plan.pk)
        text = json.dumps(entry.changes, ensure_ascii=False)
        assert plan.token_hash not in text and key not in text
        assert "（已變更）" in text

    def test_a_new_key_replaces_the_old_one(self, admin, plan):
        old = backups.job_key_create(plan, actor=admin)
        new = backups.job_key_create(plan, actor=admin)
        assert backups.plan_for_key(old) is None
        assert backups.plan_for_key(new) == plan
        assert post_run(key_client(old), run_body()).status_code == 401
        assert post_run(key_client(new), run_body()).status_code == 201

    def test_a_revoked_key_is_refused_with_401_and_audited(self, admin, plan):
        key = backups.job_key_create(plan, actor=admin)
        backups.job_key_revoke(plan, actor=admin)
        plan.refresh_from_db()
        assert (plan.token_hash, plan.token_prefix, plan.token_created_at) == ("", "", None)
        response = post_run(key_client(key), run_body())
        assert response.status_code == 401
        assert BackupRun.objects.count() == 0
        entry = denied_entries().last()
        assert entry.model_label == "operations.backupplan"
        assert key[8:16] in entry.message and key not in entry.message
        assert entry.actor_id is None and entry.actor_label.startswith("backup job key")
        # The same key again within the hour: refused, not audited again.
        assert post_run(key_client(key), run_body()).status_code == 401
        assert denied_entries().count() == 1
        another = post_run(key_client("isms_bk_" + "x" * 43), run_body())
        assert another.status_code == 401 and denied_entries().count() == 2

    def test_the_key_of_a_voided_plan_is_refused_naming_the_plan(self, admin, plan):
        key = backups.job_key_create(plan, actor=admin)
        core_services.record_void(plan, actor=admin, reason="系統下線")
        assert post_run(key_client(key), run_body()).status_code == 401
        entry = denied_entries().last()
        assert entry.object_id == str(plan.pk) and "已作廢" in entry.message

    def test_revoking_without_a_key_writes_nothing(self, admin, plan):
        entries = AuditEntry.objects.count()
        backups.job_key_revoke(plan, actor=admin)
        assert AuditEntry.objects.count() == entries

    def test_only_administrators_make_or_revoke_keys(self, plan, boss):
        for fn in (backups.job_key_create, backups.job_key_revoke):
            with pytest.raises(PermissionDenied):
                fn(plan, actor=boss)

    def test_the_page_shows_a_new_key_once(self, admin, plan):
        c = login(admin)
        url = reverse("operations:backupplan_key", args=[plan.pk])
        response = c.post(url, {"op": "create"})
        assert response.status_code == 200  # rendered, not redirected
        plan.refresh_from_db()
        html = response.content.decode()
        start = html.index("isms_bk_", html.index("data-new-key"))
        key = html[start : html.index('"', start)]
        assert hashlib.sha256(key.encode()).hexdigest() == plan.token_hash
        assert response["Cache-Control"] == "no-store"
        again = c.get(plan.get_absolute_url()).content.decode()
        assert key not in again and "data-new-key" not in again
        assert f"isms_bk_{plan.token_prefix}…" in again
        # Replacing shows the new key and says the old one stopped working.
        replaced = c.post(url, {"op": "create"}).content.decode()
        assert "舊金鑰已失效" in replaced and key not in replaced
        assert post_run(key_client(key), run_body()).status_code == 401

    def test_the_page_revokes(self, admin, plan):
        backups.job_key_create(plan, actor=admin)
        c = login(admin)
        url = reverse("operations:backupplan_key", args=[plan.pk])
        response = c.post(url, {"op": "revoke"})
        assert response.status_code == 302
        plan.refresh_from_db()
        assert plan.token_hash == ""
        assert c.post(url, {"op": "revoke"}).status_code == 400  # no key to revoke
        assert c.post(url, {"op": "explode"}).status_code == 400
        assert c.get(url).status_code == 302

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_the_key_actions_answer_by_role(self, role, client_for, plan):
        c = client_for(*roles_for(role))
        response = c.post(reverse("operations:backupplan_key", args=[plan.pk]), {"op": "create"})
        plan.refresh_from_db()
        if role == SYSADMIN:
            assert response.status_code == 200 and plan.token_hash
        else:
            assert response.status_code == 403 and not plan.token_hash

    def test_a_voided_plan_gets_no_key(self, admin, plan):
        core_services.record_void(plan, actor=admin, reason="重複")
        with pytest.raises(ValidationError):
            backups.job_key_create(plan, actor=admin)
        c = login(admin)
        response = c.post(reverse("operations:backupplan_key", args=[plan.pk]), {"op": "create"})
        assert response.status_code == 400


# Runs by the job and by hand (2.4.1) -------------------------------------------------------------
class TestRunsByTheJob:
    def test_the_job_reports_a_run_of_its_plan(self, admin, plan):
        key = backups.job_key_create(plan, actor=admin)
        response = post_run(key_client(key), run_body())
        assert response.status_code == 201, response.content
        run = BackupRun.objects.get()
        assert (run.plan, run.source, run.recorded_by) == (plan, Source.JOB, None)
        assert response.json()["plan"] == plan.pk and response.json()["source"] == "job"
        entry = AuditEntry.objects.filter(model_label="operations.backuprun").get()
        assert entry.action == "create" and entry.actor_id is None
        assert entry.actor_label == f"backup job: {plan.name}"
        # Its own plan named explicitly (also as text) is the same.
        for n, value in enumerate((plan.pk, str(plan.pk)), start=5):
            body = run_body(plan=value, started_at=(NOW - n * HOUR).isoformat())
            assert post_run(key_client(key), body).status_code == 201

    def test_another_plans_id_is_403_and_audited(self, admin, plan):
        other = plan_of(admin, name="另一個計畫")
        key = backups.job_key_create(plan, actor=admin)
        response = post_run(key_client(key), run_body(plan=other.pk))
        assert response.status_code == 403
        assert BackupRun.objects.count() == 0
        entry = denied_entries().last()
        assert entry.object_id == str(plan.pk) and str(other.pk) in entry.message
        assert entry.actor_label == f"backup job: {plan.name}"

    def test_an_unknown_plan_id_is_404_and_audited(self, admin, plan):
        key = backups.job_key_create(plan, actor=admin)
        response = post_run(key_client(key), run_body(plan=987654))
        assert response.status_code == 404
        assert BackupRun.objects.count() == 0
        assert "987654" in denied_entries().last().message

    @pytest.mark.parametrize("value", ["abc", 1.5, True, [1], {"id": 1}, "9" * 40])
    def test_a_plan_that_is_no_id_is_a_field_error(self, admin, plan, value):
        key = backups.job_key_create(plan, actor=admin)
        response = post_run(key_client(key), run_body(plan=value))
        assert response.status_code == 400 and "plan" in response.json()

    def test_a_key_may_only_post(self, admin, plan):
        key = backups.job_key_create(plan, actor=admin)
        c = key_client(key)
        run = run_of(plan, admin)
        assert c.get(RUNS_URL).status_code == 403
        assert c.get(f"{RUNS_URL}{run.pk}/").status_code == 403
        assert c.get("/api/backup-plans/").status_code == 401  # not a person's key
        assert denied_entries().filter(object_id=str(plan.pk)).count() == 2

    def test_without_a_key_the_post_is_refused(self, plan):
        assert post_run(Client(), run_body(plan=plan.pk)).status_code == 401
        staff = token_client(user("teacher", STAFF))
        assert post_run(staff, run_body(plan=plan.pk)).status_code == 403
        assert BackupRun.objects.count() == 0

    def test_an_administrators_own_token_records_as_by_hand(self, admin, plan):
        c = token_client(admin)
        response = post_run(c, run_body(plan=plan.pk))
        assert response.status_code == 201
        run = BackupRun.objects.get()
        assert (run.source, run.recorded_by) == (Source.MANUAL, admin)
        assert post_run(c, run_body()).json() == {"plan": ["請選擇備份計畫。"]}

    @pytest.mark.parametrize(
        "values,field",
        [
            ({"started_at": (NOW + HOUR).isoformat()}, "started_at"),
            ({"finished_at": (NOW - 3 * HOUR).isoformat()}, "finished_at"),
            ({"finished_at": (NOW + HOUR).isoformat()}, "finished_at"),
            ({"finished_at": None}, "finished_at"),
            ({"status": "maybe"}, "status"),
            ({"size_bytes": -1}, "size_bytes"),
            ({"started_at": "昨天"}, "started_at"),
            ({"checksum": "x" * 201}, "checksum"),
        ],
    )
    def test_bad_input_is_400_with_field_errors_and_nothing_saved(self, admin, plan, values, field):
        key = backups.job_key_create(plan, actor=admin)
        entries = AuditEntry.objects.count()
        response = post_run(key_client(key), run_body(**values))
        assert response.status_code == 400
        assert field in response.json()
        assert BackupRun.objects.count() == 0
        assert AuditEntry.objects.count() == entries

    @pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"run"', "\x00\xff"])
    def test_a_body_that_is_no_object_is_400(self, admin, plan, body):
        key = backups.job_key_create(plan, actor=admin)
        c = key_client(key)
        response = c.post(RUNS_URL, body, content_type="application/json")
        assert response.status_code == 400
        assert isinstance(response.json(), dict)

    def test_a_run_reported_twice_is_refused_the_second_time(self, admin, plan):
        key = backups.job_key_create(plan, actor=admin)
        assert post_run(key_client(key), run_body()).status_code == 201
        again = post_run(key_client(key), run_body())
        assert again.status_code == 400 and "重複" in again.json()["started_at"][0]
        assert BackupRun.objects.count() == 1

    def test_a_long_log_keeps_its_end(self, admin, plan, settings):
        settings.ISMS_BACKUP_LOG_CHARS = 1000
        key = backups.job_key_create(plan, actor=admin)
        log = "開始\n" + "x" * 5000 + "\n\x00ERROR: disk full at the end"
        assert post_run(key_client(key), run_body(log=log)).status_code == 201
        run = BackupRun.objects.get()
        assert len(run.log) == 1000
        assert run.log.startswith("（前段已截除）")
        assert run.log.endswith("ERROR: disk full at the end") and "\x00" not in run.log
        assert "開始" not in run.log

    def test_powershell_and_shell_dates_are_understood(self, admin, plan):
        key = backups.job_key_create(plan, actor=admin)
        body = run_body(
            started_at="2026-11-30T00:10:00.1234567Z",  # PowerShell ToString('o')
            finished_at="2026-11-30T00:55:00Z",  # date -u +%Y-%m-%dT%H:%M:%SZ
        )
        assert post_run(key_client(key), body).status_code == 201
        run = BackupRun.objects.get()
        assert run.started_at == dt.datetime(2026, 11, 30, 0, 10, 0, 123456, tzinfo=dt.UTC)

    def test_a_person_key_that_looks_like_a_job_key_still_works(self, admin, plan, monkeypatch):
        import secrets

        monkeypatch.setattr(secrets, "token_urlsafe", lambda n: "bk_" + "y" * 40)
        _t, key = core_services.token_create(user=admin, name="odd", actor=admin)
        assert key.startswith("isms_bk_")
        assert key_client(key).get(RUNS_URL).status_code == 200

    def test_the_api_never_gives_the_hash(self, admin, plan):
        backups.job_key_create(plan, actor=admin)
        plan.refresh_from_db()
        body = token_client(admin).get(f"/api/backup-plans/{plan.pk}/").content.decode()
        assert plan.token_hash not in body
        data = json.loads(body)
        assert data["has_key"] is True and data["token_prefix"] == plan.token_prefix
        assert "token_hash" not in data


class TestRunsByHand:
    def test_the_add_page_takes_the_plan_from_its_page(self, admin, plan):
        c = login(admin)
        html = c.get(reverse("operations:backuprun_add"), {"plan": plan.pk}).content.decode()
        assert f'<option value="{plan.pk}" selected>' in html

    def test_recording_by_hand(self, admin, plan):
        c = login(admin)
        data = {
            "plan": plan.pk,
            "started_at": "115/11/30 08:00",
            "finished_at": "115/11/30 08:30",
            "status": "succeeded",
        }
        response = c.post(reverse("operations:backuprun_add"), data)
        assert response.status_code == 302
        run = BackupRun.objects.get()
        assert (run.source, run.recorded_by) == (Source.MANUAL, admin)
        assert run.started_at == dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)
        detail = c.get(run.get_absolute_url())
        assert detail.status_code == 200 and "0:30:00" in detail.content.decode()

    def test_a_success_needs_its_end_on_the_page(self, admin, plan):
        c = login(admin)
        data = {"plan": plan.pk, "started_at": "115/11/30 08:00", "status": "succeeded"}
        response = c.post(reverse("operations:backuprun_add"), data)
        assert response.status_code == 400
        assert "成功的備份請填寫結束時間" in response.content.decode()
        assert BackupRun.objects.count() == 0

    def test_the_service_checks_the_size_and_the_source(self, admin, plan):
        for size in ("12", 1.5, True, -3):
            with pytest.raises(ValidationError) as excinfo:
                run_of(plan, admin, size_bytes=size)
            assert list(errors_of(excinfo)) == ["size_bytes"], size
        with pytest.raises(ValueError):
            backups.record_run(BackupRun(plan=plan), actor=admin, source="rumour")
        assert BackupRun.objects.count() == 0

    def test_only_administrators_record_by_hand(self, plan, boss):
        with pytest.raises(PermissionDenied):
            run_of(plan, boss)
        with pytest.raises(PermissionDenied):
            run_of(plan, None)

    def test_a_voided_plan_records_no_more_runs(self, admin, plan):
        core_services.record_void(plan, actor=admin, reason="下線")
        plan.refresh_from_db()
        with pytest.raises(ValidationError) as excinfo:
            run_of(plan, admin)
        assert list(errors_of(excinfo)) == ["plan"]

    def test_the_list_filters_by_plan_status_source_and_dates(self, admin, plan):
        other = plan_of(admin, name="郵件系統")
        run_of(plan, admin, started=NOW - 2 * DAY, location="A-old")
        run_of(plan, admin, started=NOW - 2 * HOUR, status=Status.FAILED, location="A-failed")
        run_of(other, admin, started=NOW - 3 * HOUR, location="B-ok")
        c = login(admin)
        url = reverse("operations:backuprun_list")
        api = token_client(admin)

        def found(**query):
            return {r["location"] for r in api.get(RUNS_URL, query).json()["results"]}

        assert found(plan=plan.pk) == {"A-old", "A-failed"}
        assert found(status="failed") == {"A-failed"}
        assert found(source="manual") == {"A-old", "A-failed", "B-ok"}
        assert found(started_from="115/11/30") == {"A-failed", "B-ok"}
        assert found(started_to="115/11/28") == {"A-old"}
        assert c.get(url, {"plan": plan.pk, "status": "failed"}).status_code == 200
        assert found(q="B-ok") == {"B-ok"}
        html = c.get(url, {"q": "B-ok"}).content.decode()
        assert "郵件系統" in html and "學務系統資料庫" not in html.split("<tbody>")[1]


# Alerts -----------------------------------------------------------------------------------------
class TestAlerts:
    def test_a_failed_run_tells_the_responsible_at_once(self, admin, plan):
        key = backups.job_key_create(plan, actor=admin)
        body = run_body(status="failed", finished_at=None, log="tar: /var/www: 無法讀取")
        assert post_run(key_client(key), body).status_code == 201
        note = Notification.objects.get()
        assert note.recipient == admin and note.urgent
        assert plan.name in note.subject and "無法讀取" in note.body
        assert "115/11/30 08:00" in note.body  # the start, in Taipei, ROC
        assert note.dedup_key.startswith("operations.backup_failed:")

    def test_a_failed_run_by_hand_tells_too(self, admin, plan):
        c = login(admin)
        data = {"plan": plan.pk, "started_at": "115/11/30 08:00", "status": "failed"}
        assert c.post(reverse("operations:backuprun_add"), data).status_code == 302
        assert Notification.objects.filter(recipient=admin).count() == 1

    def test_when_the_responsible_left_the_other_administrators_are_told(
        self, admin, other_admin, plan
    ):
        User.objects.filter(pk=admin.pk).update(is_active=False)
        plan.refresh_from_db()
        run_of(plan, other_admin, status=Status.FAILED)
        assert list(Notification.objects.values_list("recipient", flat=True)) == [other_admin.pk]

    def test_a_missed_rhythm_alerts_once_per_window(self, admin):
        daily = plan_of(admin, rhythm_days=1)  # made at NOW, due NOW + 1 day
        weekly = plan_of(admin, rhythm_days=7)
        with time_machine.travel(NOW + DAY - dt.timedelta(seconds=1), tick=False):
            assert backups.alert_missed() == 0
        with time_machine.travel(NOW + DAY, tick=False):
            assert backups.alert_missed() == 1
            assert backups.alert_missed() == 0  # the same window: not twice
        with time_machine.travel(NOW + DAY + 23 * HOUR, tick=False):
            assert backups.alert_missed() == 0
        with time_machine.travel(NOW + 2 * DAY, tick=False):
            assert backups.alert_missed() == 1  # the next window reminds again
        notes = Notification.objects.filter(dedup_key__startswith="operations.backup_missed")
        assert notes.count() == 2
        assert all(n.recipient == admin and str(daily.pk) in n.dedup_key for n in notes)
        assert "每 1 天" in notes.first().body and "2.4.1" in notes.first().body
        with time_machine.travel(NOW + 2 * DAY + HOUR, tick=False):
            run_of(daily, admin, started=NOW + 2 * DAY)  # done: due again a day later
            assert backups.alert_missed() == 0
        with time_machine.travel(NOW + 3 * DAY + 2 * HOUR, tick=False):
            assert backups.alert_missed() == 1
        assert not Notification.objects.filter(dedup_key__contains=f":{weekly.pk}:").exists()

    def test_the_worker_job_runs_it(self, admin):
        plan_of(admin, rhythm_days=1)
        registry.JOBS["operations.missed_backups"](NOW + 2 * DAY)
        assert Notification.objects.count() == 1
        engine.run_jobs(NOW + 2 * DAY)
        assert Notification.objects.count() == 1

    def test_a_voided_plan_is_not_alerted(self, admin, plan):
        core_services.record_void(plan, actor=admin, reason="下線")
        assert backups.alert_missed(NOW + 30 * DAY) == 0


# Restore tests (2.4.2) ---------------------------------------------------------------------------
class TestRestoreTests:
    def test_the_tester_is_the_person_recording(self, admin, plan):
        t = restore_test_of(plan, admin, tester=user("someone", SYSADMIN))
        assert t.tester == admin and t.passed

    def test_the_run_is_a_successful_run_of_the_plan(self, admin, plan):
        other = plan_of(admin, name="其他")
        foreign = run_of(other, admin)
        with pytest.raises(ValidationError) as excinfo:
            restore_test_of(plan, admin, run=foreign)
        assert list(errors_of(excinfo)) == ["run"]
        failed = run_of(plan, admin, status=Status.FAILED, started=NOW - 5 * HOUR)
        with pytest.raises(ValidationError) as excinfo:
            restore_test_of(plan, admin, run=failed)
        assert list(errors_of(excinfo)) == ["run"]
        assert restore_test_of(plan, admin, run=run_of(plan, admin)).run_id

    def test_the_date_is_between_the_backup_and_today(self, admin, plan):
        with pytest.raises(ValidationError) as excinfo:
            restore_test_of(plan, admin, tested_on=TODAY + DAY)
        assert list(errors_of(excinfo)) == ["tested_on"]
        old = run_of(plan, admin, started=NOW - 3 * DAY)
        with pytest.raises(ValidationError) as excinfo:
            restore_test_of(plan, admin, run=old, tested_on=TODAY - 4 * DAY)
        assert list(errors_of(excinfo)) == ["tested_on"]

    @pytest.mark.parametrize(
        "values",
        [
            {"usable": False},
            {"complete": False},
            {"checksum": RestoreTest.Checksum.MISMATCHED},
        ],
    )
    def test_a_test_that_failed_needs_its_reason_citing_2_4_2(self, admin, plan, values):
        with pytest.raises(ValidationError) as excinfo:
            restore_test_of(plan, admin, **values)
        assert list(errors_of(excinfo)) == ["note"]
        assert "2.4.2" in errors_of(excinfo)["note"][0]
        t = restore_test_of(plan, admin, note="資料庫損毀，已改用前一日備份並重測", **values)
        assert not t.passed

    def test_a_checksum_not_compared_may_pass(self, admin, plan):
        assert restore_test_of(plan, admin, checksum=RestoreTest.Checksum.NOT_COMPARED).passed

    def test_what_where_and_a_known_checksum_result_are_required(self, admin, plan):
        with pytest.raises(ValidationError) as excinfo:
            restore_test_of(plan, admin, restored_what=" ", restored_to="", checksum="maybe")
        assert set(errors_of(excinfo)) == {"restored_what", "restored_to", "checksum"}

    def test_only_the_tester_changes_it_and_only_until_the_review(self, admin, other_admin, boss):
        p = plan_of(admin)
        t = restore_test_of(p, admin)
        t.restored_to = "另一台"
        with pytest.raises(PermissionDenied):
            backups.save_test(t, actor=other_admin)
        t.plan = plan_of(admin, name="換計畫")
        backups.save_test(t, actor=admin)
        t.refresh_from_db()
        assert t.restored_to == "另一台" and t.plan == p  # the plan stays
        backups.review_test(t, actor=boss)
        t.restored_to = "再改"
        with pytest.raises(ValidationError):
            backups.save_test(t, actor=admin)

    def test_a_voided_test_is_not_changed(self, admin, plan):
        t = restore_test_of(plan, admin)
        core_services.record_void(t, actor=admin, reason="登錄錯誤")
        with pytest.raises(ValidationError):
            backups.save_test(t, actor=admin)

    def test_review_is_by_a_supervisor_not_the_tester_once(self, admin, boss):
        p = plan_of(admin)
        t = restore_test_of(p, admin)
        with pytest.raises(PermissionDenied):
            backups.review_test(t, actor=user("officer", SECURITY_OFFICER))
        both = user("both", SYSADMIN, SUPERVISOR)
        own = restore_test_of(p, both)
        with pytest.raises(ValidationError) as excinfo:
            backups.review_test(own, actor=both)
        assert "本人" in errors_of(excinfo)["__all__"][0]
        backups.review_test(t, actor=boss, note="  已確認  ")
        t.refresh_from_db()
        assert (t.reviewed_by, t.reviewed_at, t.review_note) == (boss, NOW, "已確認")
        with pytest.raises(ValidationError):
            backups.review_test(t, actor=user("boss2", SUPERVISOR))
        t.refresh_from_db()
        assert t.reviewed_by == boss

    def test_a_review_note_fits_its_limit(self, admin, boss, plan):
        t = restore_test_of(plan, admin)
        with pytest.raises(ValidationError) as excinfo:
            backups.review_test(t, actor=boss, note="好" * 1001)
        assert list(errors_of(excinfo)) == ["note"]
        t.refresh_from_db()
        assert t.reviewed_at is None

    def test_a_voided_test_is_not_reviewed(self, admin, boss, plan):
        t = restore_test_of(plan, admin)
        core_services.record_void(t, actor=admin, reason="登錄錯誤")
        with pytest.raises(ValidationError):
            backups.review_test(t, actor=boss)

    def test_a_new_test_is_never_reviewed_already(self, admin, boss, plan):
        t = restore_test_of(plan, admin, reviewed_by=boss, reviewed_at=NOW, review_note="x")
        assert (t.reviewed_by, t.reviewed_at, t.review_note) == (None, None, "")


class TestRestoreTestPages:
    def test_the_add_page_offers_the_plans_successful_runs(self, admin, plan):
        ok = run_of(plan, admin)
        failed = run_of(plan, admin, status=Status.FAILED, started=NOW - 5 * HOUR)
        other = run_of(plan_of(admin, name="別的"), admin)
        c = login(admin)
        html = c.get(
            reverse("operations:restoretest_add"), {"plan": plan.pk, "run": ok.pk}
        ).content.decode()
        assert f'<option value="{ok.pk}" selected>' in html
        assert f'value="{failed.pk}"' not in html.split('name="run"')[1].split("</select>")[0]
        assert f'value="{other.pk}"' not in html.split('name="run"')[1].split("</select>")[0]

    def test_recording_and_reviewing_through_the_pages(self, admin, boss, plan):
        c = login(admin)
        data = {
            "plan": plan.pk,
            "tested_on": "115/11/29",
            "restored_what": "網站",
            "restored_to": "測試機",
            "usable": "on",
            "complete": "",
            "checksum": "matched",
        }
        refused = c.post(reverse("operations:restoretest_add"), data)
        assert refused.status_code == 400
        assert "請說明原因與後續處理（條文 2.4.2）" in refused.content.decode()
        data["note"] = "部分檔案缺漏，已改善備份範圍"
        assert c.post(reverse("operations:restoretest_add"), data).status_code == 302
        t = RestoreTest.objects.get()
        assert t.tester == admin and t.tested_on == dt.date(2026, 11, 29) and not t.passed
        page = c.get(t.get_absolute_url()).content.decode()
        assert (
            "由資訊/資安業務主管覆核" in page and 'action="/operations/restore-tests/' not in page
        )
        b = login(boss)
        review = reverse("operations:restoretest_review", args=[t.pk])
        assert review in b.get(t.get_absolute_url()).content.decode()
        assert b.post(review, {"note": "確認"}).status_code == 302
        t.refresh_from_db()
        assert t.reviewed_by == boss
        again = b.post(review, {"note": "再一次"})
        assert again.status_code == 400 and "已經主管覆核" in again.content.decode()
        edit = c.get(reverse("operations:restoretest_edit", args=[t.pk]))
        assert edit.status_code == 302  # reviewed: read-only

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_the_review_answers_by_role(self, role, client_for, admin, plan):
        t = restore_test_of(plan, admin)
        c = client_for(*roles_for(role))
        response = c.post(reverse("operations:restoretest_review", args=[t.pk]), {"note": ""})
        t.refresh_from_db()
        if role == SUPERVISOR:
            assert response.status_code == 302 and t.reviewed_at is not None
        else:
            assert response.status_code == 403 and t.reviewed_at is None

    def test_the_api_review(self, admin, boss, plan):
        t = restore_test_of(plan, admin)
        url = f"/api/restore-tests/{t.pk}/review/"
        body = json.dumps({"note": "OK"})
        assert (
            token_client(admin).post(url, body, content_type="application/json").status_code == 403
        )
        response = token_client(boss).post(url, body, content_type="application/json")
        assert response.status_code == 200 and response.json()["reviewed_by"] == boss.pk
        again = token_client(boss).post(url, body, content_type="application/json")
        assert again.status_code == 400 and "non_field_errors" in again.json()
        principal = token_client(user("principal", PRINCIPAL))
        assert principal.post(url, body, content_type="application/json").status_code == 403

    def test_the_api_keeps_the_plan_of_a_test(self, admin, plan):
        t = restore_test_of(plan, admin)
        other = plan_of(admin, name="其他計畫")
        response = token_client(admin).patch(
            f"/api/restore-tests/{t.pk}/",
            json.dumps({"plan": other.pk}),
            content_type="application/json",
        )
        assert response.status_code == 400 and "plan" in response.json()


# Duties -----------------------------------------------------------------------------------------
def state_of(key, plan):
    return ObligationState.objects.filter(key=key, subject_id=str(plan.pk)).first()


class TestBackupDuty:
    key = "operations.backup"

    def test_weekly_by_the_last_successful_run(self, admin, plan):
        engine.refresh(self.key)
        state = state_of(self.key, plan)
        assert state.status == "never_done" and state.clause == "2.4.1"
        assert state.responsible_role == SYSADMIN
        run_of(plan, admin, started=NOW - 3 * HOUR)  # ends NOW - 2 h; refreshes at once
        state = state_of(self.key, plan)
        done = NOW - 2 * HOUR
        assert state.status == "ok" and state.last_done_at == done
        assert state.next_due_at == done + 7 * DAY
        for moment, expected in (
            (done + 5 * DAY - dt.timedelta(seconds=1), "ok"),
            (done + 5 * DAY, "due_soon"),
            (done + 7 * DAY - dt.timedelta(seconds=1), "due_soon"),
            (done + 7 * DAY, "overdue"),
        ):
            with time_machine.travel(moment, tick=False):
                engine.refresh(self.key)
                assert state_of(self.key, plan).status == expected, moment

    def test_a_failed_run_is_no_evidence(self, admin, plan):
        run_of(plan, admin, status=Status.FAILED)
        engine.refresh(self.key)
        assert state_of(self.key, plan).status == "never_done"

    def test_voided_plans_have_no_duty(self, admin, plan):
        core_services.record_void(plan, actor=admin, reason="下線")
        engine.refresh(self.key)
        assert state_of(self.key, plan) is None

    def test_reminders_go_to_the_plans_administrator(self, admin, other_admin, plan):
        engine.refresh(self.key)
        ob = registry.REGISTRY[self.key]
        state = state_of(self.key, plan)
        assert list(ob.recipients(state)) == [admin]
        User.objects.filter(pk=admin.pk).update(is_active=False)
        assert list(ob.recipients(state)) == [other_admin]
        assert ob.evidence_url(state) == f"/operations/backup-runs/add/?plan={plan.pk}"
        assert ob.subject_url(state) == plan.get_absolute_url()

    def test_history_gives_every_successful_run_in_range(self, admin, plan):
        a = run_of(plan, admin, started=NOW - 3 * DAY)
        b = run_of(plan, admin, started=NOW - 2 * HOUR)
        run_of(plan, admin, started=NOW - 5 * HOUR, status=Status.FAILED)
        ob = registry.REGISTRY[self.key]
        subjects = BackupPlan.objects.all()
        with CaptureQueriesContext(connection) as queries:
            rows = ob.history(subjects, NOW - 7 * DAY, NOW)
        assert len(queries) == 1
        assert rows == [(plan.pk, a.finished_at), (plan.pk, b.finished_at)]
        assert ob.history(subjects, NOW - 2 * DAY, NOW) == [(plan.pk, b.finished_at)]

    def test_evidence_is_one_query_for_all_plans(self, admin):
        plans = [plan_of(admin) for _ in range(3)]
        for p in plans:
            run_of(p, admin)
        ob = registry.REGISTRY[self.key]
        with CaptureQueriesContext(connection) as queries:
            found = ob.evidence(ob.subjects())
        assert len(queries) == 1 and set(found) == {p.pk for p in plans}


class TestRestoreDuty:
    key = "operations.restore_test"

    def test_yearly_by_the_date_of_a_passed_test(self, admin, plan):
        engine.refresh(self.key)
        assert state_of(self.key, plan).status == "never_done"
        t = restore_test_of(plan, admin, tested_on=dt.date(2026, 9, 1))  # this school year (115)
        state = state_of(self.key, plan)
        assert state.status == "ok" and state.clause == "2.4.2"
        assert state.last_done_at == dt.datetime(2026, 8, 31, 16, 0, tzinfo=dt.UTC)
        # Due by the end of the next school year: 117/07/31 23:59:59 Taipei.
        assert state.next_due_at == dt.datetime(2028, 7, 31, 15, 59, 59, tzinfo=dt.UTC)
        core_services.record_void(t, actor=admin, reason="登錄錯誤")
        engine.refresh(self.key)
        assert state_of(self.key, plan).status == "never_done"

    def test_last_school_years_test_is_due_this_year(self, admin, plan):
        restore_test_of(plan, admin, tested_on=dt.date(2026, 3, 1))  # school year 114
        assert state_of(self.key, plan).status == "ok"
        due = dt.datetime(2027, 7, 31, 15, 59, 59, tzinfo=dt.UTC)
        assert state_of(self.key, plan).next_due_at == due
        with time_machine.travel(due + dt.timedelta(seconds=1) - 60 * DAY, tick=False):
            engine.refresh(self.key)
            assert state_of(self.key, plan).status == "due_soon"
        with time_machine.travel(due + dt.timedelta(seconds=1), tick=False):
            engine.refresh(self.key)
            assert state_of(self.key, plan).status == "overdue"

    def test_a_test_that_failed_is_no_evidence(self, admin, plan):
        restore_test_of(plan, admin, usable=False, note="無法開啟")
        restore_test_of(plan, admin, checksum=RestoreTest.Checksum.MISMATCHED, note="雜湊不符")
        engine.refresh(self.key)
        assert state_of(self.key, plan).status == "never_done"
        ok = restore_test_of(plan, admin, checksum=RestoreTest.Checksum.NOT_COMPARED)
        assert state_of(self.key, plan).status == "ok"
        ob = registry.REGISTRY[self.key]
        rows = ob.history(BackupPlan.objects.all(), NOW - 30 * DAY, NOW + DAY)
        assert rows == [(plan.pk, dt.datetime(2026, 11, 29, 16, 0, tzinfo=dt.UTC))]
        assert ok.passed

    def test_history_counts_a_day_by_its_local_start(self, admin, plan):
        restore_test_of(plan, admin, tested_on=dt.date(2026, 11, 1))
        ob = registry.REGISTRY[self.key]
        start = dt.datetime(2026, 10, 31, 16, 0, tzinfo=dt.UTC)
        assert ob.history(BackupPlan.objects.all(), start, NOW) == [(plan.pk, start)]
        assert ob.history(BackupPlan.objects.all(), start + HOUR, NOW) == []


def test_the_records_are_in_the_evidence_binder():
    plans = registry.RECORDS["operations.backupplan"]
    assert plans.clause == "2.4.1" and not plans.date_field
    assert set(plans.obligations) == {"operations.backup", "operations.restore_test"}
    runs = registry.RECORDS["operations.backuprun"]
    assert (runs.clause, runs.date_field, runs.obligations) == (
        "2.4.1",
        "started_at",
        ("operations.backup",),
    )
    tests = registry.RECORDS["operations.restoretest"]
    assert (tests.clause, tests.date_field) == ("2.4.2", "tested_on")
    assert all("token" not in c.name for c in plans.columns)


# The copy-paste examples ------------------------------------------------------------------------
SHELL_TOOLS = ("sh", "tail", "iconv", "tr", "sed", "awk", "wc", "sha256sum", "cut", "tar")


@pytest.mark.skipif(any(shutil.which(t) is None for t in SHELL_TOOLS), reason="POSIX tools missing")
def test_the_shell_example_reports_a_run(tmp_path, admin, plan):
    """The page's script, run by sh with a stand-in curl: its JSON is accepted (201)."""
    key = backups.job_key_create(plan, actor=admin)
    script = views_backups.shell_example("http://testserver/api/backup-runs/", plan.pk)
    data = tmp_path / "data"
    data.mkdir()
    (data / "index.html").write_text("<h1>校網</h1>")
    noisy = (
        '{ printf \'tab\\there "quoted" back\\\\slash $HOME `x`\\n'
        "中文訊息\\n\\001ctrl\\377bad\\n'; "
        f'tar -czf "$BACKUP_FILE" -C {tmp_path} data; }}'
    )
    for old, new in (
        (f"ISMS_KEY='{views_backups.KEY_PLACEHOLDER}'", f"ISMS_KEY='{key}'"),
        ("/var/backups/site-$(date +%Y%m%d).tar.gz", f"{tmp_path}/site.tar.gz"),
        ("/var/log/isms-backup.log", f"{tmp_path}/backup.log"),
        ('tar -czf "$BACKUP_FILE" /var/www', noisy),
        # The machine's clock is not the test's frozen one.
        ("STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)", "STARTED=2026-11-30T01:00:00Z"),
        ("FINISHED=$(date -u +%Y-%m-%dT%H:%M:%SZ)", "FINISHED=2026-11-30T01:20:00Z"),
    ):
        assert old in script, old
        script = script.replace(old, new)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    curl = bin_dir / "curl"
    curl.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/args\ncat > {tmp_path}/body\n')
    curl.chmod(0o755)
    (tmp_path / "report.sh").write_text(script)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "LC_ALL": "C"}
    subprocess.run(["sh", str(tmp_path / "report.sh")], check=True, env=env, timeout=60)
    args = (tmp_path / "args").read_text().splitlines()
    assert "http://testserver/api/backup-runs/" in args
    assert f"Authorization: Token {key}" in args
    body = (tmp_path / "body").read_bytes()
    json.loads(body)  # valid JSON, valid UTF-8
    response = key_client(key).post(RUNS_URL, body, content_type="application/json")
    assert response.status_code == 201, response.content
    run = BackupRun.objects.get()
    assert run.status == Status.SUCCEEDED and run.source == Source.JOB
    archive = (tmp_path / "site.tar.gz").read_bytes()
    assert run.size_bytes == len(archive)
    assert run.checksum == "sha256:" + hashlib.sha256(archive).hexdigest()
    assert 'tab here "quoted" back\\slash $HOME `x`' in run.log
    assert "中文訊息" in run.log and "ctrlbad" in run.log


def test_a_failing_backup_in_the_shell_example_reports_failed(tmp_path, admin, plan):
    if any(shutil.which(t) is None for t in SHELL_TOOLS):
        pytest.skip("POSIX tools missing")
    script = views_backups.shell_example("http://testserver/api/backup-runs/", plan.pk)
    for old, new in (
        ("/var/backups/site-$(date +%Y%m%d).tar.gz", f"{tmp_path}/missing/site.tar.gz"),
        ("/var/log/isms-backup.log", f"{tmp_path}/backup.log"),
        ("STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)", "STARTED=2026-11-30T01:00:00Z"),
        ("FINISHED=$(date -u +%Y-%m-%dT%H:%M:%SZ)", "FINISHED=2026-11-30T01:20:00Z"),
    ):
        script = script.replace(old, new)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "curl").write_text(f"#!/bin/sh\ncat > {tmp_path}/body\n")
    (bin_dir / "curl").chmod(0o755)
    (tmp_path / "report.sh").write_text(script)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(["sh", str(tmp_path / "report.sh")], check=True, env=env, timeout=60)
    key = backups.job_key_create(plan, actor=admin)
    body = (tmp_path / "body").read_bytes()
    response = key_client(key).post(RUNS_URL, body, content_type="application/json")
    assert response.status_code == 201, response.content
    run = BackupRun.objects.get()
    assert run.status == Status.FAILED and run.size_bytes is None and run.checksum == ""
    assert Notification.objects.filter(recipient=admin).count() == 1


def test_the_powershell_example_names_the_plan_the_address_and_a_placeholder(plan):
    text = views_backups.powershell_example("https://isms.example/api/backup-runs/", plan.pk)
    assert "$IsmsUrl = 'https://isms.example/api/backup-runs/'" in text
    assert f"$Plan = {plan.pk}" in text
    assert f"$IsmsKey = '{views_backups.KEY_PLACEHOLDER}'" in text
    assert "Invoke-RestMethod -Method Post" in text and "ConvertTo-Json" in text
    assert text.isascii()  # Windows PowerShell 5.1 reads a script without BOM as ANSI
