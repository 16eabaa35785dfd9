"""The asset register: pages, API, findings, the inventory report and the duties
(2.1, 2.2.1, 2.2.2, 2.3.2, 2.6, 4.1, 4.3; the A-1 rules of the state)."""

import datetime as dt
import json

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from isms.assets import services
from isms.assets.models import Asset, CommissioningRecord
from isms.assets.views import AssetRegister
from isms.audit.models import AuditEntry
from isms.compliance import engine, registry
from isms.compliance.models import ObligationState
from isms.core.models import Person, Unit
from isms.core.roles import (
    EQUIPMENT_HEAD,
    GUARD,
    MANAGERS,
    PERSONNEL,
    SECURITY_OFFICER,
    STAFF,
    SUPERVISOR,
    SYSADMIN,
)
from isms.core.testing import RegisterContract
from isms.identity.models import InformationSystem

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
READERS = MANAGERS | {SYSADMIN, EQUIPMENT_HEAD}
KEEPERS = frozenset({EQUIPMENT_HEAD, SYSADMIN})
K = Asset.Kind


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def asset(number="3140101-03-000001", kind=K.PC, name=None, **values):
    """An asset; one that needs an A-1 review is put in use behind the rules' back."""
    state = values.pop("state", Asset.State.NEW)
    obj = Asset(kind=kind, property_number=number, name=name or f"設備 {number}", **values)
    obj.state = Asset.State.NEW if services.needs_commissioning(obj) else state
    services.save_asset(obj, actor=None)
    if obj.state != state:
        Asset.objects.filter(pk=obj.pk).update(state=state)
        obj.refresh_from_db()
    return obj


def commissioned(obj, user):
    """A reviewed A-1 commissioning record for ``obj``."""
    return CommissioningRecord.objects.create(
        asset=obj,
        kind=CommissioningRecord.Kind.COMMISSION,
        executor=user,
        executed_on=NOW.date(),
        virus_scan=True,
        default_password_changed=True,
        system_updated=True,
        reviewed_by=user,
        reviewed_at=NOW,
    )


def wiped(obj, user):
    return CommissioningRecord.objects.create(
        asset=obj,
        kind=CommissioningRecord.Kind.DECOMMISSION,
        executor=user,
        executed_on=NOW.date(),
        wiped=True,
        wipe_method="低階格式化",
        reviewed_by=user,
        reviewed_at=NOW,
    )


def healthy_pc(number, **values):
    """A PC in use that keeps every rule of 2.2.1, 2.2.2 and 2.3.2."""
    defaults = {
        "state": Asset.State.IN_USE,
        "antivirus": True,
        "antivirus_updated_at": NOW - dt.timedelta(days=1),
        "auto_updates": True,
        "patched_at": NOW - dt.timedelta(days=3),
        "software_licensed": True,
        "licence_evidence": "校園授權",
        "screen_lock": True,
    }
    return asset(number, **{**defaults, **values})


def post_json(c, url, body, method="post"):
    return getattr(c, method)(url, json.dumps(body), content_type="application/json")


class TestAssetRegister(RegisterContract):
    register = AssetRegister
    api_prefix = "assets"
    readers = READERS
    scoped_readers = frozenset({STAFF})
    writers = KEEPERS
    exporters = READERS

    def make_sample(self, **overrides):
        n = Asset.objects.count()
        return asset(f"S-{n:05d}", **overrides)

    def form_data(self):
        return {
            "kind": "pc",
            "property_number": "3140101-03-009999",
            "name": "教務處辦公電腦",
            "location": "教務處",
            "state": "in_use",
            "antivirus": "on",
        }

    def change_data(self, obj):
        return {
            "kind": obj.kind,
            "property_number": obj.property_number,
            "name": obj.name,
            "location": "實習大樓 301 教室",
        }

    def invalid_form_data(self):
        return {"kind": "robot", "name": "", "antivirus_updated_at": "115/13/45"}

    def api_data(self):
        return {
            "kind": "notebook",
            "property_number": "3140101-04-000099",
            "name": "公務筆電",
            "protection": "password",
        }

    def invalid_api_data(self):
        return {"kind": "robot", "name": "", "state": "lost"}


# Rules of the register -------------------------------------------------------------------------
@pytest.mark.django_db
class TestRules:
    def test_a_duplicate_property_number_is_refused_on_the_form(self, client_for):
        asset("3140101-03-000001", name="原有電腦")
        c = client_for(EQUIPMENT_HEAD)
        entries = AuditEntry.objects.count()
        data = {"kind": "pc", "property_number": " 3140101-03-000001 ", "name": "新電腦"}
        response = c.post(reverse("assets:asset_add"), {**data, "state": "new"})
        assert response.status_code == 400
        page = response.content.decode()
        assert "財產編號「3140101-03-000001」已登記（原有電腦）" in page
        assert Asset.objects.count() == 1 and AuditEntry.objects.count() == entries

    def test_a_duplicate_property_number_is_refused_by_the_api(self, client_for):
        asset("3140101-03-000001", name="原有電腦")
        c = client_for(SYSADMIN)
        body = {"kind": "pc", "property_number": "3140101-03-000001", "name": "新電腦"}
        response = post_json(c, "/api/assets/", body)
        assert response.status_code == 400
        assert "已登記" in response.json()["property_number"][0]
        assert Asset.objects.count() == 1
        # An empty number (a USB stick off the property list) may repeat.
        for _ in range(2):
            body = {
                "kind": "usb",
                "property_number": "",
                "name": "隨身碟",
                "sensitivity": "general",
            }
            assert post_json(c, "/api/assets/", body).status_code == 201

    def test_each_kind_gets_its_own_details(self, client_for):
        s = InformationSystem.objects.create(name="校務行政系統")
        c = client_for(SYSADMIN)
        cases = [
            ({"kind": "pc", "systems": [s.pk]}, "systems", "伺服器"),
            ({"kind": "notebook", "shared": True, "purpose": "借用"}, "shared", "2.6"),
            ({"kind": "pc", "shared": True}, "purpose", "2.6"),
            ({"kind": "usb"}, "sensitivity", "4.3"),
            (
                {"kind": "pc", "patched_at": (NOW + dt.timedelta(days=1)).isoformat()},
                "patched_at",
                "不可晚於現在",
            ),
        ]
        for extra, field, text in cases:
            body = {"property_number": "", "name": "測試", **extra}
            response = post_json(c, "/api/assets/", body)
            assert response.status_code == 400, extra
            assert text in response.json()[field][0], response.json()
        assert not Asset.objects.exists()
        # Details that do not fit the kind are left out, not stored.
        body = {"kind": "pc", "name": "電腦", "protection": "face", "media_control": "locked"}
        response = post_json(c, "/api/assets/", body)
        assert response.status_code == 201
        stored = Asset.objects.get()
        assert stored.protection == "" and stored.media_control == ""
        # A server records the systems it hosts; the change is audited.
        body = {"kind": "server", "name": "主機", "systems": [s.pk]}
        response = post_json(c, "/api/assets/", body)
        assert response.status_code == 201 and response.json()["systems"] == [s.pk]

    def test_the_form_hides_what_the_kind_does_not_have(self, client_for):
        s = InformationSystem.objects.create(name="學校網站")
        c = client_for(EQUIPMENT_HEAD)
        page = c.get(reverse("assets:asset_add")).content.decode()
        assert 'data-kinds="server"' in page and 'data-kinds="pc"' in page
        data = {
            "kind": "pc",
            "name": "電腦教室電腦",
            "state": "new",
            "systems": [s.pk],  # from a group hidden for PCs: dropped, not an error
            "protection": "password",
            "shared": "on",
            "purpose": "上課",
            "downloads_restricted": "on",
        }
        response = c.post(reverse("assets:asset_add"), data)
        assert response.status_code == 302
        pc = Asset.objects.get()
        assert pc.shared and pc.downloads_restricted and pc.protection == ""
        assert not pc.systems.exists()

    def test_a_server_is_not_registered_in_use_without_its_review(self, client_for):
        c = client_for(SYSADMIN)
        data = {"kind": "server", "name": "新主機", "state": "in_use"}
        response = c.post(reverse("assets:asset_add"), data)
        assert response.status_code == 400
        assert "2.2.3" in response.content.decode()
        assert not Asset.objects.exists()
        response = post_json(c, "/api/assets/", data)
        assert response.status_code == 400 and "2.2.3" in response.json()["state"][0]
        assert not Asset.objects.exists()

    def test_the_state_changes_only_by_the_rules_of_a1(self, client_for):
        c = client_for(SYSADMIN)
        server = asset("SRV-1", K.SERVER)
        url = reverse("assets:asset_state", args=[server.pk])
        response = c.post(url, {"state": "in_use"})
        assert response.status_code == 400
        page = response.content.decode()
        assert "新伺服器啟用前" in page and "2.2.3" in page
        server.refresh_from_db()
        assert server.state == "new"
        commissioned(server, c.user)
        entries = AuditEntry.objects.count()
        assert c.post(url, {"state": "in_use"}).status_code == 302
        server.refresh_from_db()
        assert server.state == "in_use"
        entry = AuditEntry.objects.filter(id__gt=entries, model_label="assets.asset").get()
        assert entry.actor == c.user and entry.changes["state"] == ["new", "in_use"]
        # Decommissioning equipment with storage needs a reviewed wipe (3.5, 7.10).
        response = c.post(url, {"state": "decommissioned"})
        assert response.status_code == 400 and "3.5" in response.content.decode()
        wiped(server, c.user)
        assert c.post(url, {"state": "decommissioned"}).status_code == 302
        server.refresh_from_db()
        assert server.state == "decommissioned"
        page = c.get(server.get_absolute_url()).content.decode()
        assert 'name="state"' not in page  # nothing more to change
        assert c.post(url, {"state": "in_use"}).status_code == 400
        # A printer holds no data: no wipe needed.
        printer = asset("PRN-1", K.PRINTER, state="in_use")
        url = reverse("assets:asset_state", args=[printer.pk])
        assert c.post(url, {"state": "decommissioned"}).status_code == 302
        assert c.post(url, {"state": "melted"}).status_code == 400

    @pytest.mark.parametrize("role", [STAFF, SECURITY_OFFICER, SUPERVISOR, PERSONNEL, GUARD])
    def test_only_the_keepers_change_the_state(self, client_for, role):
        pc = asset("PC-1", state="in_use")
        c = client_for(role)
        response = c.post(reverse("assets:asset_state", args=[pc.pk]), {"state": "storage"})
        assert response.status_code == 403
        pc.refresh_from_db()
        assert pc.state == "in_use"

    def test_the_edit_form_is_no_way_around_the_state_action(self, client_for):
        c = client_for(EQUIPMENT_HEAD)
        server = asset("SRV-1", K.SERVER)
        data = {"kind": "server", "property_number": "SRV-1", "name": "主機", "state": "in_use"}
        response = c.post(reverse("assets:asset_edit", args=[server.pk]), data)
        assert response.status_code == 302
        server.refresh_from_db()
        assert server.state == "new" and server.name == "主機"  # the state was not a field
        response = post_json(c, f"/api/assets/{server.pk}/", {"state": "in_use"}, "patch")
        assert response.status_code == 400 and "2.2.3" in response.json()["state"][0]
        server.refresh_from_db()
        assert server.state == "new"
        # Nor may a PC in use become a server without the server's A-1 review.
        pc = asset("PC-1", state="in_use")
        data = {"kind": "server", "property_number": "PC-1", "name": "改為主機"}
        response = c.post(reverse("assets:asset_edit", args=[pc.pk]), data)
        assert response.status_code == 400 and "2.2.3" in response.content.decode()
        response = post_json(c, f"/api/assets/{pc.pk}/", {"kind": "server"}, "patch")
        assert response.status_code == 400 and "kind" in response.json()
        pc.refresh_from_db()
        assert pc.kind == "pc"

    def test_teachers_see_the_equipment_in_their_keeping(self, client_for):
        c = client_for(STAFF)
        mine = asset("NB-1", K.NOTEBOOK, custodian=c.user.person, name="我的筆電")
        other = asset("NB-2", K.NOTEBOOK, name="別人的筆電")
        page = c.get(reverse("assets:asset_list")).content.decode()
        assert "我的筆電" in page and "別人的筆電" not in page
        assert c.get(mine.get_absolute_url()).status_code == 200
        assert c.get(other.get_absolute_url()).status_code == 404
        assert c.get(reverse("assets:asset_export"), {"format": "csv"}).status_code == 403
        assert c.get(reverse("assets:asset_edit", args=[mine.pk])).status_code == 403

    def test_the_asset_page_leads_to_a1_a7_and_repairs(self, client_for):
        from isms.assets import movements

        head = client_for(EQUIPMENT_HEAD)
        nb = asset("NB-9", K.NOTEBOOK, name="行政筆電")
        page = head.get(nb.get_absolute_url()).content.decode()
        for name, query in (
            ("assets:commissioningrecord_add", f"asset={nb.pk}&amp;kind=commission"),
            ("assets:commissioningrecord_add", f"asset={nb.pk}&amp;kind=reuse"),
            ("assets:equipmentmovement_add", f"asset={nb.pk}"),
            ("assets:repairvisit_add", f"asset={nb.pk}"),
        ):
            assert f"{reverse(name)}?{query}" in page
        # A teacher keeping it may ask to take it out, not log a repair.
        teacher = client_for(STAFF)
        nb.custodian = teacher.user.person
        nb.save()
        page = teacher.get(nb.get_absolute_url()).content.decode()
        assert reverse("assets:equipmentmovement_add") in page
        assert reverse("assets:repairvisit_add") not in page
        assert movements.current(nb) is None

    def test_the_register_is_in_the_menu(self, client_for):
        page = client_for(EQUIPMENT_HEAD).get("/").content.decode()
        assert reverse("assets:asset_list") in page and "資產清冊" in page

    def test_the_export_has_every_detail(self, client_for):
        s = InformationSystem.objects.create(name="校務行政系統")
        server = asset("SRV-1", K.SERVER)
        server.systems.set([s])
        c = client_for(SECURITY_OFFICER)
        response = c.get(reverse("assets:asset_export"), {"format": "csv"})
        body = b"".join(response.streaming_content).decode("utf-8-sig")
        assert "承載的資訊系統" in body.splitlines()[0] and "校務行政系統" in body


# Findings --------------------------------------------------------------------------------------
@pytest.mark.django_db
class TestFindings:
    def make(self):
        systems = [InformationSystem.objects.create(name=n) for n in ("學校網站", "電子郵件")]
        made = {
            "ok": healthy_pc("OK-1"),
            "multi_system": asset("SRV-2", K.SERVER, state="in_use"),
            "shared_controls": healthy_pc(
                "PC-SH", shared=True, purpose="上課", downloads_restricted=True
            ),
            "portable": asset("NB-1", K.NOTEBOOK, state="in_use"),
            "media": asset("USB-1", K.USB, sensitivity="confidential", state="in_use"),
            "antivirus": healthy_pc("PC-AV", antivirus_updated_at=NOW - dt.timedelta(days=8)),
            "patches": healthy_pc("PC-UP", patched_at=NOW - dt.timedelta(days=31)),
            "licence": healthy_pc("PC-LI", licence_evidence=""),
            "screen_lock": healthy_pc("PC-SL", screen_lock=False),
        }
        made["multi_system"].systems.set(systems)
        # Not findings: a medium of general data, a protected notebook, a PC in storage.
        asset("USB-2", K.USB, sensitivity="general")
        asset("NB-2", K.NOTEBOOK, state="in_use", protection="password")
        asset("PC-ST", state="storage")
        return made

    def test_each_finding_has_its_filter_and_its_note(self, client_for):
        made = self.make()
        silent = {made["multi_system"].pk, made["portable"].pk}
        silent.add(Asset.objects.get(property_number="NB-2").pk)
        c = client_for(SECURITY_OFFICER)
        for code, label in (
            ("multi_system", "承載多個系統"),
            ("shared_controls", "共用電腦未設管控"),
            ("portable", "未設保護機制"),
            ("media", "媒體未依機敏性控管"),
            ("antivirus", "防毒未更新"),
            ("patches", "系統未更新"),
            ("licence", "授權未確認"),
            ("screen_lock", "未設螢幕保護"),
        ):
            expected = {made[code].pk}
            if code in {"antivirus", "patches", "licence", "screen_lock"}:
                expected |= silent  # computers in use that reported nothing yet
            found = set(Asset.objects.filter(services.finding_q(code)).values_list("pk", flat=True))
            assert found == expected, code
            for pk in expected:
                assert code in services.findings(Asset.objects.get(pk=pk)), code
            page = c.get(reverse("assets:asset_list"), {"finding": code}).content.decode()
            assert label in page
            assert made[code].property_number in page and ">OK-1<" not in page
            api = c.get("/api/assets/", {"finding": code}).json()
            assert {row["id"] for row in api["results"]} == expected
        assert services.findings(made["ok"]) == []
        anything = set(Asset.objects.filter(services.finding_q("any")).values_list("pk", flat=True))
        assert anything == {a.pk for k, a in made.items() if k != "ok"} | silent
        # A voided system does not count for 2.1.
        InformationSystem.objects.filter(name="電子郵件").update(voided_at=timezone.now())
        assert not Asset.objects.filter(services.finding_q("multi_system")).exists()

    def test_the_page_shows_what_is_asked_and_why(self, client_for):
        made = self.make()
        c = client_for(SUPERVISOR)
        page = c.get(made["multi_system"].get_absolute_url()).content.decode()
        assert "伺服器承載多個系統（條文 2.1）" in page and "學校網站" in page
        assert "專屬主機" in page
        page = c.get(made["media"].get_absolute_url()).content.decode()
        assert "儲存媒體未依機敏性控管（條文 4.3）" in page
        assert "病毒碼更新時間" not in page  # a USB stick has no antivirus

    def test_staleness_follows_the_settings(self, settings):
        pc = healthy_pc("PC-1", antivirus_updated_at=NOW - dt.timedelta(days=5))
        assert "antivirus" not in services.findings(pc)
        settings.ISMS_ASSET_ANTIVIRUS_DAYS = 3
        assert "antivirus" in services.findings(pc)
        assert Asset.objects.filter(services.finding_q("antivirus")).exists()

    def test_filters_by_unit_custodian_and_location(self, client_for):
        unit = Unit.objects.create(code="lab", name="實習處")
        keeper = Person.objects.create(name="蘇建志")
        asset("PC-1", unit=unit, custodian=keeper, location="電腦教室（一）", name="教室電腦")
        asset("PC-2", location="教務處", name="辦公電腦")
        c = client_for(EQUIPMENT_HEAD)
        url = reverse("assets:asset_list")
        for query in (
            {"unit": unit.pk},
            {"custodian": "建志"},
            {"custodian": keeper.pk},
            {"location": "電腦教室"},
            {"q": "教室"},
            {"kind": "pc", "state": "new", "location": "教室"},
        ):
            page = c.get(url, query).content.decode()
            assert "教室電腦" in page and "辦公電腦" not in page, query
        assert c.get(url, {"custodian": "9" * 40}).status_code == 200


# The inventory report ---------------------------------------------------------------------------
@pytest.mark.django_db
class TestInventory:
    URL = "/api/assets/inventory/"

    def api(self, client_for, role=SYSADMIN):
        return RegisterContract().api_client(client_for, role)

    def test_a_report_updates_by_property_number_with_one_entry_per_asset(self, client_for):
        a = asset("PC-1", state="in_use")
        b = asset("PC-2", state="in_use", antivirus=True, screen_lock=True)
        c = self.api(client_for)
        entries = AuditEntry.objects.count()
        body = [
            {
                "property_number": "PC-1",
                "antivirus": True,
                "antivirus_updated_at": "2026-11-29T22:00:00+08:00",
                "auto_updates": True,
                "patched_at": "2026-11-20T03:00:00Z",
                "screen_lock": True,
            },
            {"property_number": "PC-2", "antivirus": True, "screen_lock": True},  # no change
        ]
        response = post_json(c, self.URL, body)
        assert response.status_code == 200, response.content
        assert response.json() == {"lines": 2, "updated": 1, "unchanged": 1}
        a.refresh_from_db()
        assert a.antivirus and a.auto_updates and a.screen_lock
        assert a.antivirus_updated_at == dt.datetime(2026, 11, 29, 14, tzinfo=dt.UTC)
        assert a.patched_at == dt.datetime(2026, 11, 20, 3, tzinfo=dt.UTC)
        new = AuditEntry.objects.filter(id__gt=entries)
        assert new.count() == 1
        entry = new.get()
        assert entry.object_id == str(a.pk) and entry.actor == c.user and entry.action == "update"
        assert entry.changes["antivirus"] == [False, True]
        assert set(entry.changes) == {
            "antivirus",
            "antivirus_updated_at",
            "auto_updates",
            "patched_at",
            "screen_lock",
        }
        b.refresh_from_db()
        assert b.antivirus_updated_at is None
        # The duty follows at once.
        state = ObligationState.objects.get(key="assets.antivirus", subject_id=str(a.pk))
        assert state.status == "ok"

    @pytest.mark.parametrize(
        "body,line,field,text",
        [
            ([{"property_number": "NOPE-9", "antivirus": True}], 2, "property_number", "不在"),
            ([{"property_number": "PC-2", "antivirus": "perhaps"}], 2, "antivirus", ""),
            ([{"property_number": "PC-2", "patched_at": "yesterday"}], 2, "patched_at", ""),
            (
                [{"property_number": "PC-2", "patched_at": "2026-12-25T00:00:00Z"}],
                2,
                "patched_at",
                "不可晚於現在",
            ),
            ([{"property_number": "PC-1"}], 2, "property_number", "重複"),
            ([{"property_number": "PC-2", "antivirus_date": "x"}], 2, "antivirus_date", "未知"),
            ([{"antivirus": True}], 2, "property_number", ""),
            (["PC-2"], 2, "non_field_errors", "物件"),
            ([{"property_number": "OLD-1", "antivirus": True}], 2, "property_number", "報廢"),
        ],
    )
    def test_one_bad_line_refuses_the_whole_report(self, client_for, body, line, field, text):
        pc = asset("PC-1", state="in_use")
        asset("PC-2", state="in_use")
        printer = asset("OLD-1", K.PRINTER, state="in_use")
        services.set_state(printer, "decommissioned", actor=None)
        c = self.api(client_for)
        before = list(Asset.objects.order_by("pk").values())
        entries = AuditEntry.objects.count()
        good = {"property_number": "PC-1", "antivirus": True, "screen_lock": True}
        response = post_json(c, self.URL, [good, *body])
        assert response.status_code == 400
        errors = response.json()["errors"]
        assert any(e["line"] == line and e["field"] == field for e in errors), errors
        assert any(text in e["message"] for e in errors if e["field"] == field), errors
        assert list(Asset.objects.order_by("pk").values()) == before
        assert AuditEntry.objects.count() == entries
        pc.refresh_from_db()
        assert not pc.antivirus

    def test_a_report_must_be_a_list_of_lines(self, client_for):
        c = self.api(client_for)
        for body in ({"property_number": "PC-1"}, [], "x"):
            response = post_json(c, self.URL, body)
            assert response.status_code == 400
            assert response.json()["errors"][0]["field"] == "non_field_errors"
        response = c.post(self.URL, "{not json", content_type="application/json")
        assert response.status_code == 400

    @pytest.mark.parametrize(
        "role,status",
        [
            (SYSADMIN, 200),
            (EQUIPMENT_HEAD, 200),
            (SECURITY_OFFICER, 403),
            (SUPERVISOR, 403),
            (STAFF, 403),
            ("none", 403),
        ],
    )
    def test_only_the_keepers_report(self, client_for, role, status):
        asset("PC-1", state="in_use")
        c = self.api(client_for, role)
        response = post_json(c, self.URL, [{"property_number": "PC-1", "screen_lock": True}])
        assert response.status_code == status
        assert Asset.objects.get().screen_lock == (status == 200)

    def test_anonymous_scripts_are_refused(self, client):
        response = post_json(client, self.URL, [{"property_number": "PC-1"}])
        assert response.status_code == 401


# Duties -------------------------------------------------------------------------------------------
def state_of(key, obj):
    engine.refresh(key)
    return ObligationState.objects.get(key=key, subject_id=str(obj.pk))


@pytest.mark.django_db
class TestDuties:
    def test_antivirus_and_patches_are_rolling_duties_per_computer(self):
        pc = healthy_pc(
            "PC-1",
            antivirus_updated_at=NOW - dt.timedelta(days=1),
            patched_at=NOW - dt.timedelta(days=20),
        )
        asset("PC-2", state="storage")  # not in use: no duty
        asset("PRN-1", K.PRINTER, state="in_use")  # not a computer
        assert state_of("assets.antivirus", pc).status == "ok"
        assert state_of("assets.patches", pc).status == "ok"
        assert ObligationState.objects.filter(key="assets.antivirus").count() == 1
        with time_machine.travel(NOW + dt.timedelta(days=5), tick=False):
            assert state_of("assets.antivirus", pc).status == "due_soon"
        with time_machine.travel(NOW + dt.timedelta(days=6, hours=1), tick=False):
            state = state_of("assets.antivirus", pc)
            assert state.status == "overdue"
            assert state.next_due_at == NOW + dt.timedelta(days=6)
            assert state_of("assets.patches", pc).status == "due_soon"  # 7 days ahead
        with time_machine.travel(NOW + dt.timedelta(days=10, hours=1), tick=False):
            assert state_of("assets.patches", pc).status == "overdue"
        # Without antivirus there is no evidence at all.
        pc.antivirus = False
        services.save_asset(pc, actor=None)
        assert state_of("assets.antivirus", pc).status == "never_done"

    def test_the_reports_are_the_history_of_the_duty(self, client_for):
        with time_machine.travel(NOW - dt.timedelta(days=20), tick=False):
            pc = asset("PC-1", state="in_use")
        c = RegisterContract().api_client(client_for, SYSADMIN)
        for day in (1, 9):
            moment = NOW - dt.timedelta(days=10 - day)
            body = [
                {
                    "property_number": "PC-1",
                    "antivirus": True,
                    "antivirus_updated_at": moment.isoformat(),
                }
            ]
            with time_machine.travel(moment, tick=False):
                assert post_json(c, "/api/assets/inventory/", body).status_code == 200
        duty = registry.REGISTRY["assets.antivirus"]
        history = duty.history(duty.subjects(), NOW - dt.timedelta(days=30), NOW)
        assert sorted(history) == [
            (pc.pk, NOW - dt.timedelta(days=9)),
            (pc.pk, NOW - dt.timedelta(days=1)),
        ]
        from isms.compliance.coverage import coverage

        report = coverage(duty, (NOW - dt.timedelta(days=9)).date(), NOW.date())
        (row,) = report.subjects
        assert row.missed  # 8 days between the two reports: more than 7

    def test_portable_devices_get_their_protection_within_the_days(self):
        nb = asset("NB-1", K.NOTEBOOK, official_use=True, state="in_use")
        assert state_of("assets.portable_protected", nb).status == "ok"
        with time_machine.travel(NOW + dt.timedelta(days=7, hours=1), tick=False):
            assert state_of("assets.portable_protected", nb).status == "overdue"
            nb.refresh_from_db()
            nb.protection = Asset.Protection.FACE
            services.save_asset(nb, actor=None)
            assert state_of("assets.portable_protected", nb).status == "ok"
        private = asset("NB-2", K.NOTEBOOK, official_use=False, state="in_use")
        engine.refresh("assets.portable_protected")
        assert not ObligationState.objects.filter(subject_id=str(private.pk)).exists()

    def test_media_are_controlled_by_their_sensitivity(self):
        usb = asset("USB-1", K.USB, sensitivity="sensitive", state="in_use")
        general = asset("USB-2", K.USB, sensitivity="general", state="in_use")
        with time_machine.travel(NOW + dt.timedelta(days=8), tick=False):
            assert state_of("assets.media_controls", usb).status == "overdue"
            assert state_of("assets.media_controls", general).status == "ok"
            usb.media_control = Asset.MediaControl.ENCRYPTED
            services.save_asset(usb, actor=None)
            assert state_of("assets.media_controls", usb).status == "ok"

    def test_the_register_is_filed_in_the_evidence_binder(self):
        records = registry.RECORDS["assets.asset"]
        assert records.clause == "2.1" and "4.3" in records.clauses
        assert "assets.antivirus" in records.obligations
        assert any(c.name == "systems" for c in records.columns)

    def test_the_duties_keep_a_constant_query_count(self):
        def refresh():
            with CaptureQueriesContext(connection) as queries:
                for key in services.INVENTORY_DUTIES:
                    engine.refresh(key)
            return len(queries)

        healthy_pc("PC-0")
        asset("NB-0", K.NOTEBOOK, official_use=True, state="in_use")
        asset("USB-0", K.USB, sensitivity="sensitive")
        refresh()  # the states are created
        few = refresh()
        for n in range(1, 15):
            healthy_pc(f"PC-{n}", antivirus_updated_at=NOW - dt.timedelta(days=n))
            asset(f"NB-{n}", K.NOTEBOOK, official_use=True, state="in_use")
            asset(f"USB-{n}", K.USB, sensitivity="confidential", media_control="locked")
        refresh()  # the new states are created
        many = refresh()
        assert many == few, (few, many)


# Scale -------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_list_page_query_count_is_the_same_for_50_and_5000_assets(client_for):
    server = asset("SRV-0", K.SERVER, state="new")
    server.systems.set([InformationSystem.objects.create(name=f"系統{n}") for n in range(3)])
    unit = Unit.objects.create(code="u1", name="資訊組")
    keeper = Person.objects.create(name="保管人")

    def fill(total):
        rows = [
            Asset(
                kind=K.PC if n % 3 else K.USB,
                property_number=f"B-{n:05d}",
                name=f"bench {n}",
                unit=unit,
                custodian=keeper,
                state="in_use",
            )
            for n in range(Asset.objects.count(), total)
        ]
        Asset.objects.bulk_create(rows, batch_size=1000)

    c = client_for(SECURITY_OFFICER)
    url = reverse("assets:asset_list")

    def count(query=None):
        with CaptureQueriesContext(connection) as queries:
            assert c.get(url, query or {}).status_code == 200
        return len(queries)

    fill(50)
    count({"finding": "any"})  # the school's rhythms are read once per 30 s (services)
    few = [count(), count({"finding": "any"}), count({"kind": "pc", "q": "bench"})]
    fill(5000)
    many = [count(), count({"finding": "any"}), count({"kind": "pc", "q": "bench"})]
    assert few == many
    assert max(many) <= 12


# Demo ---------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_demo_is_loaded_once_and_shows_findings():
    from isms.assets import demo
    from isms.core import demo as core_demo
    from isms.identity import demo as identity_demo

    core_demo.load()
    identity_demo.load_demo()
    demo.load_demo()
    count = Asset.objects.count()
    assert count >= 12
    demo.load_demo()
    assert Asset.objects.count() == count
    web = Asset.objects.get(name="網站與郵件主機")
    assert web.state == "in_use" and "multi_system" in services.findings(web)
    assert Asset.objects.filter(services.finding_q("media")).exists()
    assert Asset.objects.filter(services.finding_q("shared_controls")).exists()
    assert CommissioningRecord.objects.filter(reviewed_at__isnull=False).exists()


@pytest.mark.django_db
class TestNoWayAround:
    """The A-1 rules hold whatever the path (review of issue 6)."""

    def test_the_kind_is_fixed_once_the_asset_has_left_new(self, make_user):
        from django.core.exceptions import ValidationError

        pc = asset("N-1", K.PC, state=Asset.State.IN_USE)
        for change in ({"kind": K.SERVER}, {"kind": K.PRINTER}):
            for name, value in change.items():
                setattr(pc, name, value)
            with pytest.raises(ValidationError) as refused:
                services.save_asset(pc, actor=None)
            assert "不能變更類別" in str(refused.value)
            pc.refresh_from_db()
            assert pc.kind == K.PC
        nb = asset("N-2", K.NOTEBOOK, official_use=False, state=Asset.State.STORAGE)
        nb.official_use = True
        with pytest.raises(ValidationError):
            services.save_asset(nb, actor=None)
        fresh = asset("N-3", K.PC)  # still 待啟用: a mistake may be corrected
        fresh.kind = K.NOTEBOOK
        services.save_asset(fresh, actor=None)

    def test_an_old_wipe_before_a_reuse_does_not_cover_a_later_disposal(self, make_user):
        from django.core.exceptions import ValidationError

        user = make_user("boss", SUPERVISOR)
        pc = asset("W-1", K.PC, state=Asset.State.IN_USE)
        old = wiped(pc, user)
        CommissioningRecord.objects.filter(pk=old.pk).update(
            reviewed_at=NOW - dt.timedelta(days=300)
        )
        CommissioningRecord.objects.create(  # reused since, with its own wipe
            asset=pc,
            kind=CommissioningRecord.Kind.REUSE,
            executor=user,
            executed_on=NOW.date(),
            wiped=True,
            wipe_method="覆寫",
            reviewed_by=user,
            reviewed_at=NOW - dt.timedelta(days=100),
        )
        with pytest.raises(ValidationError) as refused:
            services.set_state(pc, Asset.State.DECOMMISSIONED, actor=None)
        assert "3.5" in str(refused.value)
        wiped(pc, user)  # a fresh 報廢 record, reviewed now
        assert services.set_state(pc, Asset.State.DECOMMISSIONED, actor=None).state == (
            Asset.State.DECOMMISSIONED
        )

    def test_a_printer_holding_personal_data_is_wiped_before_disposal(self):
        from django.core.exceptions import ValidationError

        printer = asset("P-1", K.PRINTER, state=Asset.State.IN_USE, stores_personal_data=True)
        assert printer.has_storage
        with pytest.raises(ValidationError):
            services.set_state(printer, Asset.State.DECOMMISSIONED, actor=None)
        plain = asset("P-2", K.PRINTER, state=Asset.State.IN_USE)
        assert services.set_state(plain, Asset.State.DECOMMISSIONED, actor=None).state == (
            Asset.State.DECOMMISSIONED
        )

    def test_no_way_back_to_new_and_no_disposal_while_out(self, make_user):
        from django.core.exceptions import ValidationError

        from isms.assets.models import EquipmentMovement

        user = make_user("head", EQUIPMENT_HEAD)
        pc = asset("O-1", K.PC, state=Asset.State.IN_USE)
        with pytest.raises(ValidationError) as refused:
            services.set_state(pc, Asset.State.NEW, actor=None)
        assert "改回待啟用" in str(refused.value)
        wiped(pc, user)
        out = EquipmentMovement.objects.create(
            number="A7-115-9999",
            asset=pc,
            borrower=Person.objects.create(name="借用人"),
            reason="校外教學",
            destination="科博館",
            out_on=NOW.date(),
            due_on=NOW.date(),
            status=EquipmentMovement.Status.OUT,
            requested_by=user,
        )
        with pytest.raises(ValidationError) as refused:
            services.set_state(pc, Asset.State.DECOMMISSIONED, actor=None)
        assert "A7-115-9999" in str(refused.value) and "3.6" in str(refused.value)
        from isms.assets import movements

        assert "須登記歸還後才能作廢" in movements.void_error(out)

    def test_only_an_asset_entered_by_mistake_is_voided(self, client_for, make_user):
        c = client_for(EQUIPMENT_HEAD)
        used = asset("V-1", K.PC, state=Asset.State.IN_USE)
        response = c.post(reverse("assets:asset_void", args=[used.pk]), {"reason": "不要了"})
        assert response.status_code == 400 and "不能作廢" in response.content.decode()
        used.refresh_from_db()
        assert used.voided_at is None
        mistake = asset("V-2", K.PC)
        response = c.post(reverse("assets:asset_void", args=[mistake.pk]), {"reason": "重複登記"})
        assert response.status_code == 302
        mistake.refresh_from_db()
        assert mistake.voided_at is not None


@pytest.mark.django_db
def test_an_edit_loaded_before_a_review_does_not_undo_it(make_user):
    """Two people at once: the supervisor's review puts the server in use while the
    equipment head's edit form (loaded before) is saved."""
    boss = make_user("boss", SUPERVISOR)
    server = asset("C-1", K.SERVER)
    stale = Asset.objects.get(pk=server.pk)  # the form's copy: 待啟用
    commissioned(server, boss)
    services.set_state(server, Asset.State.IN_USE, actor=boss)
    stale.location = "機房 A"
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):  # refused, not silently back to 待啟用
        services.save_asset(stale, actor=None)
    server.refresh_from_db()
    assert server.state == Asset.State.IN_USE
    fresh = Asset.objects.get(pk=server.pk)
    fresh.location = "機房 A"
    services.save_asset(fresh, actor=None)  # an edit writes everything but the state
    server.refresh_from_db()
    assert (server.state, server.location) == (Asset.State.IN_USE, "機房 A")
