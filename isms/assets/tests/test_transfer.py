"""移轉他用 (7.10): equipment holding personal data changes use, custodian or unit only
through a reviewed A-1 移轉他用 record (after its wipe) — or as a stated correction — on
the edit page, in the API and in the property-list import; and the register's findings
follow the school's own rhythm for antivirus and patches (2.2.1)."""

import datetime as dt
import json

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from isms.assets import commissioning, imports, services
from isms.assets.forms import AssetForm
from isms.assets.models import Asset, AssetImport, CommissioningRecord
from isms.audit.models import AuditEntry
from isms.compliance import engine
from isms.compliance.models import ObligationSetting, ObligationState
from isms.core.models import Person, Unit
from isms.core.roles import EQUIPMENT_HEAD, SUPERVISOR, SYSADMIN
from isms.core.testing import RegisterContract

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
Kind = CommissioningRecord.Kind
State = Asset.State


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def head(make_user):
    return make_user("head", EQUIPMENT_HEAD)


@pytest.fixture
def boss(make_user):
    return make_user("boss", SUPERVISOR)


@pytest.fixture
def people():
    unit = Unit.objects.create(code="acad", name="教務處")
    other = Unit.objects.create(code="lib", name="圖書館")
    return {
        "unit": unit,
        "other_unit": other,
        "keeper": Person.objects.create(name="林保管", unit=unit),
        "next": Person.objects.create(name="陳接手", unit=other),
    }


def pc(people, *, state=State.IN_USE, personal=True, number="3140101-03-000001"):
    obj = Asset.objects.create(
        kind=Asset.Kind.PC,
        property_number=number,
        name="教務處成績電腦",
        purpose="成績處理",
        unit=people["unit"],
        custodian=people["keeper"],
        stores_personal_data=personal,
        state=state,
    )
    return obj


def login(user):
    c = Client()
    c.force_login(user)
    return c


def edit_data(obj, **changes):
    """The edit form as the page would post it, with some fields changed."""
    form = AssetForm(instance=obj)
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None or value is False:
            continue
        if value is True:
            data[name] = "on"
        elif isinstance(value, list):
            data[name] = [getattr(v, "pk", v) for v in value]
        else:
            data[name] = getattr(value, "pk", value)
    for name, value in changes.items():
        if value is None or value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else getattr(value, "pk", value)
    return data


class TestRule:
    @pytest.mark.parametrize("field", ["purpose", "custodian", "unit"])
    def test_a_change_of_use_custodian_or_unit_is_refused_citing_7_10(self, people, head, field):
        obj = pc(people)
        value = {"purpose": "行政文書", "custodian": people["next"], "unit": people["other_unit"]}
        setattr(obj, field, value[field])
        with pytest.raises(ValidationError) as excinfo:
            services.save_asset_entry(obj, actor=head)
        assert "7.10" in excinfo.value.message_dict[field][0]
        stored = Asset.objects.get(pk=obj.pk)
        assert (stored.purpose, stored.custodian_id, stored.unit_id) == (
            "成績處理",
            people["keeper"].pk,
            people["unit"].pk,
        )

    def test_other_fields_change_freely(self, people, head):
        obj = pc(people)
        obj.location, obj.name = "教務處 2F", "教務處成績電腦（新）"
        obj.purpose = " 成績處理 "  # the same use, spaced differently
        services.save_asset_entry(obj, actor=head)
        assert Asset.objects.get(pk=obj.pk).location == "教務處 2F"

    @pytest.mark.parametrize(
        "state, personal",
        [(State.NEW, True), (State.DECOMMISSIONED, True), (State.IN_USE, False)],
    )
    def test_outside_the_rule_the_use_changes(self, people, head, state, personal):
        obj = pc(people, state=state, personal=personal)
        obj.custodian = people["next"]
        services.save_asset_entry(obj, actor=head)
        assert Asset.objects.get(pk=obj.pk).custodian == people["next"]

    @pytest.mark.parametrize("state", [State.STORAGE, State.REPAIR])
    def test_equipment_stored_or_in_repair_is_still_in_service(self, people, head, state):
        obj = pc(people, state=state)
        obj.purpose = "行政文書"
        with pytest.raises(ValidationError):
            services.save_asset_entry(obj, actor=head)

    def test_unticking_personal_data_in_the_same_edit_is_no_way_around(self, people, head):
        obj = pc(people)
        obj.stores_personal_data, obj.custodian = False, people["next"]
        with pytest.raises(ValidationError) as excinfo:
            services.save_asset_entry(obj, actor=head)
        assert "custodian" in excinfo.value.message_dict
        assert Asset.objects.get(pk=obj.pk).stores_personal_data is True

    def test_ticking_personal_data_in_the_same_edit_brings_the_rule(self, people, head):
        obj = pc(people, personal=False)
        obj.stores_personal_data, obj.purpose = True, "行政文書"
        with pytest.raises(ValidationError):
            services.save_asset_entry(obj, actor=head)

    def test_a_stated_correction_is_saved_and_audited_with_its_reason(self, people, head):
        obj = pc(people)
        obj.custodian = people["next"]
        services.save_asset_entry(obj, actor=head, correction="  登記時誤植保管人 ")
        assert Asset.objects.get(pk=obj.pk).custodian == people["next"]
        entry = AuditEntry.objects.filter(
            model_label="assets.asset", object_id=str(obj.pk), changes__has_key="correction"
        ).get()
        assert entry.changes["correction"] == [None, "登記時誤植保管人"]
        assert "7.10" in entry.message and "保管人" in entry.message
        assert entry.actor == head

    def test_a_blank_correction_is_no_correction(self, people, head):
        obj = pc(people)
        obj.purpose = "行政文書"
        with pytest.raises(ValidationError):
            services.save_asset_entry(obj, actor=head, correction="   ")


class TestReuseRecord:
    def file(self, obj, head, **values):
        values.setdefault("use", "圖書館借閱查詢")
        return commissioning.record_save(
            CommissioningRecord(
                asset=obj,
                kind=Kind.REUSE,
                executed_on=NOW.date(),
                wiped=True,
                wipe_method="以工具覆寫全磁碟",
                **values,
            ),
            actor=head,
        )

    def test_the_review_gives_the_new_use_custodian_and_unit(self, people, head, boss):
        obj = pc(people)
        r = self.file(obj, head, new_custodian=people["next"], new_unit=people["other_unit"])
        effect = commissioning.review_effect(r)
        assert "圖書館借閱查詢" in effect and "陳接手" in effect and "圖書館" in effect
        commissioning.record_review(r, actor=boss)
        obj.refresh_from_db()
        assert (obj.purpose, obj.custodian, obj.unit, obj.state) == (
            "圖書館借閱查詢",
            people["next"],
            people["other_unit"],
            State.IN_USE,
        )
        entry = AuditEntry.objects.filter(
            model_label="assets.asset", object_id=str(obj.pk), changes__has_key="custodian_id"
        ).latest("id")
        assert entry.actor == boss

    def test_left_empty_the_custodian_and_unit_stay(self, people, head, boss):
        obj = pc(people)
        commissioning.record_review(self.file(obj, head), actor=boss)
        obj.refresh_from_db()
        assert (obj.custodian, obj.unit) == (people["keeper"], people["unit"])

    @pytest.mark.parametrize("kind", [Kind.COMMISSION, Kind.DECOMMISSION])
    def test_only_a_reuse_names_a_new_custodian(self, people, head, kind):
        obj = pc(people)
        values = {"wiped": True, "wipe_method": "消磁"} if kind == Kind.DECOMMISSION else {}
        with pytest.raises(ValidationError) as excinfo:
            commissioning.record_save(
                CommissioningRecord(
                    asset=obj,
                    kind=kind,
                    executed_on=NOW.date(),
                    new_custodian=people["next"],
                    **values,
                ),
                actor=head,
            )
        assert "new_custodian" in excinfo.value.message_dict

    def test_a_person_who_left_cannot_take_the_equipment(self, people, head):
        people["next"].status = Person.Status.LEFT
        people["next"].save()
        with pytest.raises(ValidationError) as excinfo:
            self.file(pc(people), head, new_custodian=people["next"])
        assert "new_custodian" in excinfo.value.message_dict

    def test_the_print_and_detail_name_the_new_custodian_and_unit(self, people, head):
        r = self.file(pc(people), head, new_custodian=people["next"], new_unit=people["other_unit"])
        c = login(head)
        printed = c.get(reverse("assets:commissioningrecord_print", args=[r.pk]))
        assert "移轉後保管人：陳接手" in printed.text and "移轉後使用單位：圖書館" in printed.text
        detail = c.get(r.get_absolute_url()).text
        assert 'data-field="new_custodian">陳接手' in detail

    def test_the_form_files_the_transfer(self, people, head):
        obj = pc(people)
        response = login(head).post(
            reverse("assets:commissioningrecord_add") + f"?asset={obj.pk}&kind=reuse",
            {
                "asset": obj.pk,
                "kind": "reuse",
                "executed_on": "115/11/30",
                "use": "圖書館借閱查詢",
                "wiped": "on",
                "wipe_method": "覆寫",
                "new_custodian": people["next"].pk,
                "new_unit": people["other_unit"].pk,
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        r = CommissioningRecord.objects.get()
        assert (r.new_custodian, r.new_unit) == (people["next"], people["other_unit"])


class TestPages:
    def test_the_edit_page_refuses_with_the_field_error_and_saves_nothing(self, people, head):
        obj = pc(people)
        url = reverse("assets:asset_edit", args=[obj.pk])
        page = login(head).get(url).text
        assert "data-transfer" in page and "kind=reuse" in page
        response = login(head).post(url, edit_data(obj, custodian=people["next"]))
        assert response.status_code == 400
        assert "7.10" in response.text and "更正說明" in response.text
        assert Asset.objects.get(pk=obj.pk).custodian == people["keeper"]

    def test_the_edit_page_takes_a_correction(self, people, head):
        obj = pc(people)
        data = edit_data(obj, custodian=people["next"], correction="原登記誤植")
        response = login(head).post(reverse("assets:asset_edit", args=[obj.pk]), data)
        assert response.status_code == 302
        assert Asset.objects.get(pk=obj.pk).custodian == people["next"]

    def test_the_add_page_has_no_correction(self, head):
        page = login(head).get(reverse("assets:asset_add")).text
        assert 'name="correction"' not in page

    def test_the_api_answers_400_then_takes_a_correction(self, people, client_for):
        obj = pc(people)
        c = RegisterContract().api_client(client_for, SYSADMIN)
        url = f"/api/assets/{obj.pk}/"
        body = {"purpose": "行政文書"}
        response = c.patch(url, json.dumps(body), content_type="application/json")
        assert response.status_code == 400 and "7.10" in response.json()["purpose"][0]
        assert Asset.objects.get(pk=obj.pk).purpose == "成績處理"
        body["correction"] = "用途登記錯字"
        response = c.patch(url, json.dumps(body), content_type="application/json")
        assert response.status_code == 200 and "correction" not in response.json()
        assert Asset.objects.get(pk=obj.pk).purpose == "行政文書"


class TestImport:
    def test_the_list_does_not_transfer_equipment_holding_personal_data(self, people, head):
        obj = pc(people)
        plain = pc(people, personal=False, number="3140101-03-000002")
        rows = "\n".join(
            [
                "財產編號,財產名稱,用途,保管人,放置地點",
                f"{obj.property_number},教務處成績電腦,行政文書,陳接手,教務處 2F",
                f"{plain.property_number},教務處成績電腦,行政文書,陳接手,教務處 2F",
            ]
        ).encode("utf-8")
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = SimpleUploadedFile("list.csv", rows, content_type="text/csv")
        imp = imports.save_upload(upload=upload, data=rows, kind="csv", actor=head)
        imports.run(imp, columns=imp.mapping["columns"], actor=head)
        imp.refresh_from_db()
        groups = imp.preview["groups"]
        (transfer,) = groups["transfer"]
        assert transfer["id"] == obj.pk
        assert set(transfer["changes"]) == {"purpose", "custodian"}
        updates = {e["id"]: e["changes"] for e in groups["update"]}
        assert set(updates[obj.pk]) == {"location"}
        assert set(updates[plain.pk]) == {"purpose", "custodian", "location"}
        page = login(head).get(reverse("assets:assetimport_detail", args=[imp.pk])).text
        assert "須經移轉他用" in page
        imports.apply(imp, actor=head, digest_seen=imp.preview["digest"])
        obj.refresh_from_db()
        plain.refresh_from_db()
        assert (obj.purpose, obj.custodian, obj.location) == (
            "成績處理",
            people["keeper"],
            "教務處 2F",
        )
        assert (plain.purpose, plain.custodian) == ("行政文書", people["next"])
        assert imp.status == AssetImport.Status.APPLIED

    def test_the_bulk_service_refuses_a_transfer_too(self, people, head):
        obj = pc(people)
        with pytest.raises(ValidationError):
            services.import_assets([], [(obj, {"custodian_id": people["next"].pk})], actor=head)
        assert Asset.objects.get(pk=obj.pk).custodian == people["keeper"]


class TestSchoolRhythm:
    """The findings use the duty's rhythm: the school's setting, else the default."""

    def computer(self, days_ago):
        moment = NOW - dt.timedelta(days=days_ago)
        return Asset.objects.create(
            kind=Asset.Kind.PC,
            property_number="PC-1",
            name="PC",
            state=State.IN_USE,
            antivirus=True,
            antivirus_updated_at=moment,
            patched_at=moment,
        )

    def test_a_shorter_school_rhythm_makes_the_finding_and_the_duty_agree(self):
        obj = self.computer(days_ago=5)
        assert "antivirus" not in services.findings(obj)  # the default: 7 days
        ObligationSetting.objects.create(key="assets.antivirus", rhythm="every:3", due_soon_days=1)
        ObligationSetting.objects.create(key="assets.patches", rhythm="every:4", due_soon_days=1)
        assert {"antivirus", "patches"} <= set(services.findings(obj))
        assert Asset.objects.filter(services.finding_q("antivirus")).exists()
        engine.refresh("assets.antivirus")
        duty = ObligationState.objects.get(key="assets.antivirus", subject_id=str(obj.pk))
        assert duty.status == ObligationState.Status.OVERDUE
        ObligationSetting.objects.filter(key="assets.antivirus").delete()
        assert "antivirus" not in services.findings(obj)

    def test_within_the_memo_time_another_process_sees_the_setting_later(self):
        obj = self.computer(days_ago=5)
        assert services.antivirus_days() == 7
        # Written by another process (no signal here): this one reads it after the memo.
        ObligationSetting.objects.bulk_create(
            [ObligationSetting(key="assets.antivirus", rhythm="every:3", due_soon_days=1)]
        )
        assert services.antivirus_days() == 7
        with time_machine.travel(NOW + dt.timedelta(seconds=services.LIMITS_SECONDS + 1)):
            assert services.antivirus_days() == 3
            assert "antivirus" in services.findings(obj)
