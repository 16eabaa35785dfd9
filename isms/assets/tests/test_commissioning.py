"""A-1 (啟用與報廢紀錄單): filing, checks, the supervisor's review and the asset's state after
it, the pages per role, the print view, the audit trail and the duties (2.2.3, 3.5, 4.2, 7.10)."""

import datetime as dt
import json

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from isms.assets import commissioning, services
from isms.assets.models import Asset, CommissioningRecord
from isms.assets.views_commissioning import CommissioningRecordRegister
from isms.audit.models import AuditEntry
from isms.compliance import engine, registry
from isms.compliance.models import ObligationState
from isms.core import services as core_services
from isms.core.roles import (
    EQUIPMENT_HEAD,
    MANAGERS,
    SECURITY_OFFICER,
    STAFF,
    SUPERVISOR,
    SYSADMIN,
)
from isms.core.testing import ROLE_CASES, RegisterContract, roles_for

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)  # 115/11/30 10:00 in Taipei
TODAY = dt.date(2026, 11, 30)
READERS = MANAGERS | {SYSADMIN, EQUIPMENT_HEAD}
EXECUTORS = frozenset({EQUIPMENT_HEAD, SYSADMIN})
Kind = CommissioningRecord.Kind
State = Asset.State
SERVER_CHECKS = {"virus_scan": True, "default_password_changed": True, "system_updated": True}


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def asset(kind=Asset.Kind.SERVER, state=State.NEW, **values):
    n = Asset.objects.count() + 1
    values.setdefault("property_number", f"3140101-{n:04d}")
    values.setdefault("name", f"設備{n}")
    return Asset.objects.create(kind=kind, state=state, **values)


def record(on, executor, kind=Kind.COMMISSION, **values):
    """A record filed through the service (its checks applied)."""
    values.setdefault("executed_on", TODAY)
    if kind == Kind.COMMISSION and services.needs_commissioning(on):
        for name, value in SERVER_CHECKS.items():
            values.setdefault(name, value)
    if kind != Kind.COMMISSION and on.has_storage:
        values.setdefault("wiped", True)
        values.setdefault("wipe_method", "以工具覆寫全磁碟三次")
    if kind == Kind.REUSE:
        values.setdefault("use", "電腦教室教學用")
    return commissioning.record_save(
        CommissioningRecord(asset=on, kind=kind, **values), actor=executor
    )


def login(user):
    c = Client()
    c.force_login(user)
    c.user = user
    return c


@pytest.fixture
def head(make_user):
    return make_user("head", EQUIPMENT_HEAD)


@pytest.fixture
def boss(make_user):
    return make_user("boss", SUPERVISOR)


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


# The register: pages and API for every role --------------------------------------------------
class TestCommissioningRecordRegister(RegisterContract):
    register = CommissioningRecordRegister
    api_prefix = "commissioning-records"
    readers = READERS
    writers = EXECUTORS
    voiders = EXECUTORS | {SECURITY_OFFICER}

    def executor(self):
        """The one executor of the samples: only the executor edits a record."""
        from django.contrib.auth.models import Group

        from isms.core.models import Person, User

        user = User.objects.filter(username="a1-executor").first()
        if user is None:
            user = User.objects.create_user(
                username="a1-executor",
                password="Xk7#pq92mv",
                person=Person.objects.create(name="李美玲"),
                password_changed_at=NOW,
            )
            user.groups.add(Group.objects.get_or_create(name=EQUIPMENT_HEAD)[0])
        return user

    def writer(self, client_for):
        return login(self.executor())

    def make_sample(self, **overrides):
        return record(asset(kind=Asset.Kind.PC), self.executor(), **overrides)

    def form_data(self):
        return {
            "asset": asset(kind=Asset.Kind.PC).pk,
            "kind": Kind.COMMISSION,
            "executed_on": "115/11/30",
            "use": "教務處行政",
            "model_text": "ASUS D500",
            "virus_scan": "on",
        }

    def change_data(self, obj):
        return {"kind": obj.kind, "executed_on": "115/11/30", "use": "改為註冊組使用"}

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_edit_answers_by_role(self, role, client_for):
        # Only the record's executor edits it: another 設備組長 or administrator is refused.
        obj = self.make_sample()
        response = client_for(*roles_for(role)).get(self.url("edit", obj.pk))
        assert response.status_code == 403

    def test_the_executor_may_open_the_edit_page(self):
        obj = self.make_sample()
        assert self.writer(None).get(self.url("edit", obj.pk)).status_code == 200

    def test_the_api_is_read_only(self, client_for):
        c = self.api_client(client_for, EQUIPMENT_HEAD)
        obj = self.make_sample()
        body = json.dumps({"asset": obj.asset_id, "kind": "commission", "executed_on": "115/11/30"})
        assert c.post(self.api_url(), body, content_type="application/json").status_code == 405
        patch = c.patch(self.api_url(obj.pk), "{}", content_type="application/json")
        assert patch.status_code == 405
        assert c.get(self.api_url(obj.pk)).json()["kind"] == "commission"


# Filing: the checks of A-1 -----------------------------------------------------------------
class TestFiling:
    def test_the_executor_is_the_person_signed_in(self, head):
        r = record(asset(), head)
        assert r.executor == head and not r.reviewed

    def test_only_the_equipment_head_and_administrators_file(self, make_user):
        server = asset()
        for role in (SUPERVISOR, SECURITY_OFFICER, STAFF):
            with pytest.raises(PermissionDenied):
                record(server, make_user(f"u-{role}", role))
        assert record(server, make_user("admin", SYSADMIN)).pk

    def test_a_server_needs_the_three_checks_citing_2_2_3(self, head):
        server = asset()
        with pytest.raises(ValidationError) as excinfo:
            record(
                server, head, virus_scan=False, default_password_changed=False, system_updated=False
            )
        errors = errors_of(excinfo)
        assert set(errors) == {"virus_scan", "default_password_changed", "system_updated"}
        assert all("2.2.3" in m for messages in errors.values() for m in messages)
        assert "變更預設通行碼" in errors["default_password_changed"][0]
        assert CommissioningRecord.objects.count() == 0

    def test_an_official_portable_device_needs_them_citing_4_2(self, head):
        notebook = asset(Asset.Kind.NOTEBOOK, official_use=True)
        with pytest.raises(ValidationError) as excinfo:
            record(notebook, head, system_updated=False)
        assert list(errors_of(excinfo)) == ["system_updated"]
        assert "4.2" in errors_of(excinfo)["system_updated"][0]
        private = asset(Asset.Kind.SMARTPHONE, official_use=False)
        assert record(private, head).pk  # not official: the checks are not required

    def test_other_kinds_need_no_checks(self, head):
        assert record(asset(Asset.Kind.PC), head).pk
        assert record(asset(Asset.Kind.PRINTER), head).pk

    def test_a_missing_check_is_explained_under_other_by_name_and_reason(self, head):
        server = asset()
        ok = record(
            server,
            head,
            system_updated=False,
            other="系統更新：廠商尚未釋出更新，已排定 115/12/05 更新",
        )
        assert ok.pk and not ok.system_updated
        for text in ("系統更新", "系統更新：", "廠商尚未釋出更新", "掃毒：無需"):
            with pytest.raises(ValidationError) as excinfo:
                record(server, head, system_updated=False, other=text)
            assert list(errors_of(excinfo)) == ["system_updated"], text
        both = record(
            server,
            head,
            virus_scan=False,
            default_password_changed=False,
            other="掃毒、預設通行碼：設備為全新封裝之唯讀設備，另由廠商出具檢測報告",
        )
        assert both.pk

    def test_a_check_not_done_may_be_named_in_the_pages_language(self, head):
        from django.utils import translation

        with translation.override("en"):
            ok = record(
                asset(),
                head,
                virus_scan=False,
                other="Virus scan: sealed vendor appliance, vendor test report attached",
            )
            assert ok.pk
            with pytest.raises(ValidationError):  # naming it without a reason is not enough
                record(asset(), head, virus_scan=False, other="virus scan")

    def test_the_date_is_not_in_the_future_but_may_predate_the_register(self, head):
        server = asset()
        with pytest.raises(ValidationError) as excinfo:
            record(server, head, executed_on=TODAY + dt.timedelta(days=1))
        assert "不可晚於今天" in errors_of(excinfo)["executed_on"][0]
        # A paper A-1 of last year, entered after the property list was imported.
        older = record(server, head, executed_on=TODAY - dt.timedelta(days=400))
        assert older.executed_on == TODAY - dt.timedelta(days=400)

    def test_decommissioning_with_storage_needs_the_wipe_citing_3_5_and_7_10(self, head):
        pc = asset(Asset.Kind.PC, state=State.IN_USE)
        for kind in (Kind.DECOMMISSION, Kind.REUSE):
            with pytest.raises(ValidationError) as excinfo:
                record(pc, head, kind=kind, wiped=False, wipe_method="")
            message = errors_of(excinfo)["wiped"][0]
            assert "3.5" in message and "7.10" in message
        with pytest.raises(ValidationError) as excinfo:
            record(pc, head, kind=Kind.DECOMMISSION, wiped=True, wipe_method="")
        assert list(errors_of(excinfo)) == ["wipe_method"]
        assert CommissioningRecord.objects.count() == 0
        # A printer holds no data: no wipe needed.
        assert record(asset(Asset.Kind.PRINTER), head, kind=Kind.DECOMMISSION).pk

    def test_a_reuse_names_the_new_use(self, head):
        with pytest.raises(ValidationError) as excinfo:
            record(asset(Asset.Kind.PC), head, kind=Kind.REUSE, use="")
        assert list(errors_of(excinfo)) == ["use"]

    def test_the_checks_of_the_other_kind_are_refused(self, head):
        pc = asset(Asset.Kind.PC)
        with pytest.raises(ValidationError) as excinfo:
            record(pc, head, wiped=True)
        assert list(errors_of(excinfo)) == ["wiped"]
        with pytest.raises(ValidationError) as excinfo:
            record(pc, head, kind=Kind.DECOMMISSION, virus_scan=True)
        assert list(errors_of(excinfo)) == ["virus_scan"]

    def test_a_decommissioned_or_voided_asset_gets_no_new_record(self, head, boss):
        printer = asset(Asset.Kind.PRINTER, state=State.IN_USE)
        commissioning.record_review(record(printer, head, kind=Kind.DECOMMISSION), actor=boss)
        for kind in Kind.values:
            with pytest.raises(ValidationError) as excinfo:
                record(printer, head, kind=kind)
            assert "已報廢" in errors_of(excinfo)["asset"][0]
        gone = asset(Asset.Kind.PC)
        core_services.record_void(gone, actor=head, reason="重複登記")
        with pytest.raises(ValidationError) as excinfo:
            record(gone, head)
        assert "已作廢" in errors_of(excinfo)["asset"][0]

    def test_only_the_executor_edits_and_only_until_the_review(self, head, boss, make_user):
        r = record(asset(Asset.Kind.PC), head)
        r.use = "改為電腦教室"
        commissioning.record_save(r, actor=head)
        assert CommissioningRecord.objects.get().use == "改為電腦教室"
        other = make_user("other-head", EQUIPMENT_HEAD)
        with pytest.raises(PermissionDenied):
            commissioning.record_save(r, actor=other)
        commissioning.record_review(r, actor=boss)
        r.use = "再改"
        with pytest.raises(ValidationError) as excinfo:
            commissioning.record_save(r, actor=head)
        assert "已經主管覆核" in errors_of(excinfo)["__all__"][0]
        assert CommissioningRecord.objects.get().use == "改為電腦教室"

    def test_an_edit_keeps_the_asset(self, head):
        r = record(asset(Asset.Kind.PC), head)
        first = r.asset_id
        r.asset = asset(Asset.Kind.PRINTER)
        commissioning.record_save(r, actor=head)
        assert CommissioningRecord.objects.get().asset_id == first

    def test_filing_is_audited_with_the_executor(self, head):
        r = record(asset(), head)
        entry = AuditEntry.objects.filter(
            model_label="assets.commissioningrecord", object_id=str(r.pk)
        ).get()
        assert entry.action == "create" and entry.actor_id == head.pk


# The review and the asset's state ------------------------------------------------------------
class TestReview:
    def test_a_reviewed_commissioning_puts_a_new_server_in_use(self, head, boss):
        server = asset(purpose="")
        r = record(server, head, use="校務行政系統主機")
        entries = AuditEntry.objects.count()
        commissioning.record_review(r, actor=boss, note="已確認")
        r.refresh_from_db()
        server.refresh_from_db()
        assert (r.reviewed_by, r.reviewed_at, r.review_note) == (boss, NOW, "已確認")
        assert server.state == State.IN_USE and server.purpose == "校務行政系統主機"
        new = AuditEntry.objects.filter(id__gt=entries).order_by("id")
        assert {e.model_label for e in new} == {"assets.commissioningrecord", "assets.asset"}
        assert all(e.actor_id == boss.pk for e in new)
        state_change = next(e for e in new if "state" in e.changes)
        assert state_change.changes["state"] == ["new", "in_use"]

    def test_a_stored_asset_goes_in_use_and_others_keep_their_state(self, head, boss):
        for before, after in (
            (State.STORAGE, State.IN_USE),
            (State.REPAIR, State.REPAIR),
            (State.IN_USE, State.IN_USE),
        ):
            server = asset(state=before)
            commissioning.record_review(record(server, head), actor=boss)
            server.refresh_from_db()
            assert server.state == after, before

    def test_a_reviewed_decommissioning_decommissions(self, head, boss):
        pc = asset(Asset.Kind.PC, state=State.IN_USE)
        commissioning.record_review(record(pc, head, kind=Kind.DECOMMISSION), actor=boss)
        pc.refresh_from_db()
        assert pc.state == State.DECOMMISSIONED

    def test_a_reviewed_reuse_keeps_the_state_and_records_the_new_use(self, head, boss):
        pc = asset(Asset.Kind.PC, state=State.IN_USE, purpose="會計室帳務")
        r = record(pc, head, kind=Kind.REUSE, use="電腦教室教學用")
        assert "電腦教室教學用" in commissioning.review_effect(r)
        commissioning.record_review(r, actor=boss)
        pc.refresh_from_db()
        assert pc.state == State.IN_USE and pc.purpose == "電腦教室教學用"

    def test_only_a_supervisor_reviews(self, head, make_user):
        r = record(asset(), head)
        for role in (EQUIPMENT_HEAD, SYSADMIN, SECURITY_OFFICER, STAFF):
            with pytest.raises(PermissionDenied):
                commissioning.record_review(r, actor=make_user(f"r-{role}", role))
        assert not CommissioningRecord.objects.get().reviewed

    def test_the_executor_does_not_review_their_own_record(self, make_user):
        both = make_user("both", EQUIPMENT_HEAD, SUPERVISOR)
        server = asset()
        r = record(server, both)
        with pytest.raises(ValidationError) as excinfo:
            commissioning.record_review(r, actor=both)
        assert "不可為執行人本人" in errors_of(excinfo)["__all__"][0]
        server.refresh_from_db()
        assert server.state == State.NEW and not CommissioningRecord.objects.get().reviewed

    def test_a_record_is_reviewed_once(self, head, boss, make_user):
        r = record(asset(), head)
        commissioning.record_review(r, actor=boss)
        with pytest.raises(ValidationError) as excinfo:
            commissioning.record_review(r, actor=make_user("boss2", SUPERVISOR))
        assert "已經主管覆核" in errors_of(excinfo)["__all__"][0]
        assert CommissioningRecord.objects.get().reviewed_by == boss

    def test_a_voided_record_is_not_reviewed(self, head, boss):
        r = record(asset(), head)
        core_services.record_void(r, actor=head, reason="填錯設備")
        with pytest.raises(ValidationError):
            commissioning.record_review(r, actor=boss)

    def test_a_record_that_no_longer_passes_its_checks_is_not_reviewed(self, head, boss):
        pc = asset(Asset.Kind.PC)
        r = record(pc, head)  # a PC needs no checks …
        Asset.objects.filter(pk=pc.pk).update(kind=Asset.Kind.SERVER)  # … a server does
        with pytest.raises(ValidationError) as excinfo:
            commissioning.record_review(r, actor=boss)
        messages = errors_of(excinfo)["__all__"]
        assert "補正" in messages[0] and any("2.2.3" in m for m in messages)
        pc.refresh_from_db()
        assert pc.state == State.NEW

    def test_when_set_state_refuses_the_review_is_refused_and_nothing_is_kept(
        self, head, boss, monkeypatch
    ):
        pc = asset(Asset.Kind.PC, state=State.IN_USE)
        r = record(pc, head, kind=Kind.DECOMMISSION)

        def refuse(asset, state, *, actor):
            raise ValidationError({"state": "（測試）設備仍有借出紀錄，不能報廢。"})

        monkeypatch.setattr(services, "set_state", refuse)
        entries = AuditEntry.objects.count()
        with pytest.raises(ValidationError) as excinfo:
            commissioning.record_review(r, actor=boss)
        assert errors_of(excinfo)["__all__"] == [
            "無法覆核：",
            "（測試）設備仍有借出紀錄，不能報廢。",
        ]
        assert not CommissioningRecord.objects.get().reviewed
        assert AuditEntry.objects.count() == entries

    def test_a_pending_record_of_a_since_decommissioned_asset_is_not_reviewed(self, head, boss):
        pc = asset(Asset.Kind.PC, state=State.IN_USE)
        first = record(pc, head, kind=Kind.DECOMMISSION)
        second = record(pc, head, kind=Kind.REUSE)
        commissioning.record_review(first, actor=boss)
        with pytest.raises(ValidationError) as excinfo:
            commissioning.record_review(second, actor=boss)
        assert any("已報廢" in m for m in errors_of(excinfo)["__all__"])


# The state rules of services.set_state that A-1 feeds (2.2.3, 4.2, 3.5, 7.10) -------------------
class TestStateRules:
    def test_a_server_is_not_put_in_use_without_a_reviewed_record(self, head, boss):
        server = asset()
        with pytest.raises(ValidationError) as excinfo:
            services.set_state(server, State.IN_USE, actor=head)
        assert "2.2.3" in errors_of(excinfo)["state"][0]
        r = record(server, head)  # filed, not reviewed yet
        with pytest.raises(ValidationError):
            services.set_state(server, State.IN_USE, actor=head)
        commissioning.record_review(r, actor=boss)
        server.refresh_from_db()
        assert server.state == State.IN_USE

    def test_an_official_notebook_is_not_put_in_use_without_one_citing_4_2(self, head):
        notebook = asset(Asset.Kind.NOTEBOOK)
        with pytest.raises(ValidationError) as excinfo:
            services.set_state(notebook, State.IN_USE, actor=head)
        assert "4.2" in errors_of(excinfo)["state"][0]

    def test_storage_is_not_decommissioned_without_a_reviewed_wipe(self, head, boss):
        disk = asset(Asset.Kind.DISK, state=State.STORAGE)
        with pytest.raises(ValidationError) as excinfo:
            services.set_state(disk, State.DECOMMISSIONED, actor=head)
        message = errors_of(excinfo)["state"][0]
        assert "3.5" in message and "7.10" in message
        record(disk, head, kind=Kind.DECOMMISSION)  # not reviewed yet
        with pytest.raises(ValidationError):
            services.set_state(disk, State.DECOMMISSIONED, actor=head)


# Pages -------------------------------------------------------------------------------------------
def add_url(**query):
    from django.utils.http import urlencode

    base = reverse("assets:commissioningrecord_add")
    return f"{base}?{urlencode(query)}" if query else base


class TestPages:
    def test_the_add_page_takes_the_asset_and_kind_from_the_asset_page(self, head):
        server = asset(brand="Dell", model="PowerEdge R740", purpose="校務行政系統主機")
        page = login(head).get(add_url(asset=server.pk, kind="commission"))
        assert page.status_code == 200
        form = page.context["form"]
        assert form.initial["model_text"] == "Dell PowerEdge R740"
        assert form.initial["use"] == "校務行政系統主機" and form.initial["kind"] == "commission"
        assert list(form.fields["asset"].queryset) == [server]
        text = page.content.decode()
        assert "伺服器及公務用可攜式設備須勾選以下三項" in text
        assert 'value="commission" class="form-check-input" id="id_kind_0" required checked' in text

    def test_an_unknown_asset_is_404(self, head):
        assert login(head).get(add_url(asset=987654)).status_code == 404
        assert login(head).get(add_url(asset="x")).status_code == 404

    def test_a_server_without_checks_is_refused_on_the_page(self, head):
        server = asset()
        data = {"asset": server.pk, "kind": "commission", "executed_on": "115/11/30"}
        response = login(head).post(add_url(asset=server.pk), data)
        assert response.status_code == 400
        text = response.content.decode()
        assert "請修正下列欄位的錯誤" in text and "條文 2.2.3" in text
        assert CommissioningRecord.objects.count() == 0

    def test_a_future_date_is_refused_on_the_page(self, head):
        pc = asset(Asset.Kind.PC)
        data = {"asset": pc.pk, "kind": "commission", "executed_on": "115/12/01"}
        response = login(head).post(add_url(), data)
        assert response.status_code == 400
        assert "執行日期不可晚於今天" in response.content.decode()

    def test_a_wipe_missing_is_refused_on_the_page_citing_3_5(self, head):
        pc = asset(Asset.Kind.PC, state=State.IN_USE)
        data = {"asset": pc.pk, "kind": "decommission", "executed_on": "115/11/30"}
        response = login(head).post(add_url(), data)
        assert response.status_code == 400
        assert "條文 3.5、7.10" in response.content.decode()

    def test_filing_through_the_page(self, head):
        server = asset()
        data = {
            "asset": server.pk,
            "kind": "commission",
            "executed_on": "115/11/30",
            "use": "校務行政",
            "model_text": "Dell R740",
            **{name: "on" for name in SERVER_CHECKS},
            "other": "已關閉不必要的服務",
        }
        response = login(head).post(add_url(asset=server.pk), data)
        r = CommissioningRecord.objects.get()
        assert response.status_code == 302 and response["Location"] == r.get_absolute_url()
        assert r.executor == head and r.virus_scan and r.other == "已關閉不必要的服務"

    def test_the_detail_shows_the_review_form_to_a_supervisor_only(self, head, boss, make_user):
        r = record(asset(), head)
        url = r.get_absolute_url()
        assert "覆核，確認檢查項目已執行" in login(boss).get(url).content.decode()
        page = login(head).get(url).content.decode()
        assert "覆核，確認檢查項目已執行" not in page and "覆核前您仍可修改本紀錄" in page
        both = make_user("both", EQUIPMENT_HEAD, SUPERVISOR)
        own = record(asset(), both)
        page = login(both).get(own.get_absolute_url()).content.decode()
        assert "您是本紀錄的執行人，須由另一位主管覆核" in page
        assert "覆核，確認檢查項目已執行" not in page

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_the_review_answers_by_role(self, role, client_for, head):
        r = record(asset(), head)
        response = client_for(*roles_for(role)).post(
            reverse("assets:commissioningrecord_review", args=[r.pk]), {"note": "ok"}
        )
        r.refresh_from_db()
        if role == SUPERVISOR:
            assert response.status_code == 302 and r.reviewed
            assert r.asset.state == State.IN_USE
        else:
            assert response.status_code == 403 and not r.reviewed

    def test_a_refused_review_shows_the_reason(self, make_user):
        both = make_user("both", EQUIPMENT_HEAD, SUPERVISOR)
        r = record(asset(), both)
        response = login(both).post(reverse("assets:commissioningrecord_review", args=[r.pk]))
        assert response.status_code == 400
        assert "覆核者不可為執行人本人" in response.content.decode()

    def test_reviewing_twice_through_the_page_is_refused(self, head, boss):
        r = record(asset(), head)
        url = reverse("assets:commissioningrecord_review", args=[r.pk])
        assert login(boss).post(url).status_code == 302
        again = login(boss).post(url)
        assert again.status_code == 400 and "已經主管覆核" in again.content.decode()

    def test_a_reviewed_record_is_read_only(self, head, boss):
        r = record(asset(Asset.Kind.PC), head)
        commissioning.record_review(r, actor=boss)
        c = login(head)
        edit = reverse("assets:commissioningrecord_edit", args=[r.pk])
        assert c.get(edit).status_code == 302
        response = c.post(edit, {"kind": "commission", "executed_on": "115/11/30", "use": "改"})
        assert response.status_code == 400 and "已經主管覆核" in response.content.decode()
        assert CommissioningRecord.objects.get().use == ""
        assert "編輯</a>" not in c.get(r.get_absolute_url()).content.decode()

    def test_the_list_filters_by_kind_review_and_asset(self, head, boss):
        pc = asset(Asset.Kind.PC, state=State.IN_USE)
        printer = asset(Asset.Kind.PRINTER, state=State.IN_USE)
        a = record(pc, head, kind=Kind.DECOMMISSION)
        b = record(printer, head)
        commissioning.record_review(b, actor=boss)
        c = login(boss)
        url = reverse("assets:commissioningrecord_list")

        def listed(**query):
            return set(c.get(url, query).context["page_obj"].object_list)

        assert listed() == {a, b}
        assert listed(kind="decommission") == {a}
        assert listed(reviewed="no") == {a} and listed(reviewed="yes") == {b}
        assert listed(asset=printer.pk) == {b}
        assert listed(q=pc.property_number) == {a}


# The print view (A-1 on paper) -----------------------------------------------------------------
class TestPrint:
    def url(self, r):
        return reverse("assets:commissioningrecord_print", args=[r.pk])

    def test_a_reviewed_commissioning_prints_as_the_paper_form(self, head, boss):
        server = asset(brand="Dell", model="PowerEdge R740")
        r = record(
            server,
            head,
            use="校務行政系統主機",
            model_text="Dell PowerEdge R740",
            system_updated=False,
            other="系統更新：待廠商釋出韌體，已排定下週",
        )
        commissioning.record_review(r, actor=boss)
        text = login(boss).get(self.url(r)).content.decode()
        for expected in (
            "文件編號：A-1",
            "啟用與報廢紀錄單",
            "&#9745; 啟用",
            "&#9744; 報廢",
            "測試head",
            "115/11/30",
            "校務行政系統主機",
            "Dell PowerEdge R740",
            "啟用檢查項目",
            "&#9745; 掃毒",
            "&#9745; 變更預設通行碼",
            "&#9744; 系統更新",
            "&#9745; 其它：系統更新：待廠商釋出韌體，已排定下週",
            "報廢檢查項目",
            "&#9744; 刪除硬碟資料(資料無法再還原)",
            "執行人主管覆核：測試boss <small>115/11/30 10:00",
        ):
            assert expected in text, expected
        assert text.count("執行人：測試head") == 1  # the 啟用 row only
        assert "window.print()" in text and 'class="paper"' in text

    def test_a_decommissioning_prints_in_the_lower_row(self, head):
        pc = asset(Asset.Kind.PC, state=State.IN_USE)
        r = record(pc, head, kind=Kind.DECOMMISSION, other="已移除財產標籤")
        text = login(head).get(self.url(r)).content.decode()
        assert "&#9744; 啟用" in text and "&#9745; 報廢" in text
        assert "&#9745; 刪除硬碟資料(資料無法再還原)" in text
        assert "刪除方式：以工具覆寫全磁碟三次" in text
        assert "&#9745; 其它：已移除財產標籤" in text and "&#9744; 掃毒" in text
        assert "（尚待主管覆核）" in text

    def test_a_reuse_prints_as_decommissioning_marked_reuse(self, head):
        r = record(asset(Asset.Kind.PC, state=State.IN_USE), head, kind=Kind.REUSE)
        assert "&#9745; 報廢（移轉他用）" in login(head).get(self.url(r)).content.decode()

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_the_print_view_answers_by_role(self, role, client_for, head):
        r = record(asset(), head)
        response = client_for(*roles_for(role)).get(self.url(r))
        assert response.status_code == (200 if role in READERS else 403)

    def test_a_missing_record_is_404(self, boss):
        assert (
            login(boss).get(reverse("assets:commissioningrecord_print", args=[9999])).status_code
            == 404
        )


# Duties ----------------------------------------------------------------------------------------
def state_of(key, subject):
    return ObligationState.objects.filter(key=key, subject_id=str(subject.pk)).first()


class TestDuties:
    def test_a_server_in_use_without_a_reviewed_record_is_overdue(self, head, boss):
        imported = asset(state=State.IN_USE)  # e.g. from the property list, already in use
        waiting = asset()  # new: not in use, no duty yet
        engine.refresh("assets.server_commissioning")
        state = state_of("assets.server_commissioning", imported)
        assert state.status == "overdue" and state.clause == "2.2.3"
        assert state.responsible_role == SYSADMIN
        assert state_of("assets.server_commissioning", waiting) is None
        ob = registry.REGISTRY["assets.server_commissioning"]
        assert "kind=commission" in ob.evidence_url(state)
        with time_machine.travel(NOW + dt.timedelta(days=2), tick=False):
            r = record(imported, head)
            assert state_of("assets.server_commissioning", imported).status == "overdue"
            commissioning.record_review(r, actor=boss)  # refreshes the duty at once
            state = state_of("assets.server_commissioning", imported)
            assert state.status == "ok" and state.last_done_at == NOW + dt.timedelta(days=2)
        with time_machine.travel(NOW + dt.timedelta(days=3), tick=False):
            core_services.record_void(r, actor=head, reason="紀錄錯誤")
            engine.refresh("assets.server_commissioning")
            assert state_of("assets.server_commissioning", imported).status == "overdue"

    def test_a_commissioned_server_leaves_no_finding(self, head, boss):
        server = asset()
        commissioning.record_review(record(server, head), actor=boss)
        assert state_of("assets.server_commissioning", server).status == "ok"

    def test_official_portable_devices_in_use_fall_under_4_2(self, head):
        official = asset(Asset.Kind.TABLET, state=State.IN_USE, official_use=True)
        private = asset(Asset.Kind.TABLET, state=State.IN_USE, official_use=False)
        pc = asset(Asset.Kind.PC, state=State.IN_USE)
        engine.refresh("assets.portable_commissioning")
        state = state_of("assets.portable_commissioning", official)
        assert state.status == "overdue" and state.clause == "4.2"
        assert state_of("assets.portable_commissioning", private) is None
        assert state_of("assets.portable_commissioning", pc) is None

    def test_a_disposal_is_reviewed_within_the_days_set(self, head, boss, settings):
        settings.ISMS_ASSET_DISPOSAL_REVIEW_DAYS = 14
        pc = asset(Asset.Kind.PC, state=State.IN_USE)
        r = record(pc, head, kind=Kind.DECOMMISSION)  # executed 115/11/30
        key = "assets.disposal_review"
        due = dt.datetime(2026, 12, 14, 15, 59, 59, tzinfo=dt.UTC)  # 12/14 23:59:59 Taipei
        assert state_of(key, r).status == "ok" and state_of(key, r).next_due_at == due
        commission = record(asset(), head)
        engine.refresh(key)
        assert state_of(key, commission) is None  # a pending 啟用 is no duty
        for moment, status in (
            (due - dt.timedelta(days=3, seconds=1), "ok"),
            (due - dt.timedelta(days=3), "due_soon"),
            (due - dt.timedelta(seconds=1), "due_soon"),
            (due, "overdue"),
        ):
            with time_machine.travel(moment, tick=False):
                engine.refresh(key)
                assert state_of(key, r).status == status, moment
        with time_machine.travel(due + dt.timedelta(days=1), tick=False):
            commissioning.record_review(r, actor=boss)
            assert state_of(key, r).status == "ok"
            assert state_of(key, r).responsible_role == SUPERVISOR

    def test_the_records_are_in_the_evidence_binder(self):
        records = registry.RECORDS["assets.commissioningrecord"]
        assert records.clause == "2.2.3"
        assert set(records.clauses) >= {"2.2.3", "3.5", "4.2", "7.10"}
        assert records.date_field == "executed_on"
        assert "assets.server_commissioning" in records.obligations

    def test_duty_history_gives_the_reviews_in_range(self, head, boss):
        server = asset()
        commissioning.record_review(record(server, head), actor=boss)
        ob = registry.REGISTRY["assets.server_commissioning"]
        subjects = Asset.objects.all()
        since, until = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1)
        assert ob.history(subjects, since, until) == [(server.pk, NOW)]
        assert ob.history(subjects, NOW + dt.timedelta(seconds=1), until) == []


@pytest.mark.django_db
def test_use_and_model_left_empty_are_taken_from_the_register(make_user):
    head = make_user("head-um", EQUIPMENT_HEAD)
    server = asset()
    Asset.objects.filter(pk=server.pk).update(
        purpose="校務行政系統主機", brand="Dell", model="PowerEdge R740"
    )
    server.refresh_from_db()
    r = record(server, head, use="", model_text="")
    assert (r.use, r.model_text) == ("校務行政系統主機", "Dell PowerEdge R740")
    own = record(server, head, use="網站主機", model_text="R750")
    assert (own.use, own.model_text) == ("網站主機", "R750")  # what the executor wrote stays
