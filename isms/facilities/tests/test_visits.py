"""The server-room access log (人員進出資訊機房登記表; 3.1.3, 7.9): the register per role,
the rules of a visit, the exit, the guard's key confirmation and page, the 「狀態」 flag,
the visit-closed duty and the printed monthly sheet."""

import datetime as dt
import json

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from isms.assets.models import Asset
from isms.audit.models import AuditEntry
from isms.compliance import engine, registry
from isms.compliance.models import ObligationState
from isms.core import services as core_services
from isms.core.models import SchoolProfile
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
from isms.facilities import visits
from isms.facilities.models import Room, Visit
from isms.facilities.views_visits import VisitRegister, parse_month

from .helpers import login, token_client

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 28, 6, 5, tzinfo=dt.UTC)  # 115/11/28 14:05 in Taipei
TAIPEI = dt.timezone(dt.timedelta(hours=8))
READERS = MANAGERS | {SYSADMIN, EQUIPMENT_HEAD, SECURITY_OFFICER, GUARD}
WRITERS = frozenset({SYSADMIN, EQUIPMENT_HEAD, SECURITY_OFFICER})
CONFIRMERS = frozenset({GUARD, SECURITY_OFFICER, SYSADMIN})
DUTY = "facilities.visit_closed"
Unit = Visit.Unit
Purpose = Visit.Purpose


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def taipei(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TAIPEI)


def the_user(username, *roles, name=None):
    """One login per username (made once), with a person named ``name``."""
    from django.contrib.auth.models import Group

    from isms.core.models import Person, User

    user = User.objects.filter(username=username).first()
    if user is None:
        user = User.objects.create_user(
            username=username,
            password="Xk7#pq92mv",
            person=Person.objects.create(name=name or f"測試{username}"),
            password_changed_at=NOW,
        )
        for role in roles:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def recorder():
    return the_user("visit-admin", SYSADMIN, name="陳志明")


def room(name="主機機房", **values) -> Room:
    found = Room.objects.filter(name=name).first()
    if found is not None:
        return found
    values.setdefault("kind", Room.Kind.SERVER_ROOM)
    values.setdefault("keeper", recorder())
    return Room.objects.create(name=name, **values)


def values_for(**values) -> dict:
    values.setdefault("room", room())
    values.setdefault("entered_at", taipei(2026, 11, 28, 9, 30))
    values.setdefault("purpose", Purpose.REPAIR)
    values.setdefault("purpose_detail", "更換 UPS 電池")
    values.setdefault("unit", Unit.GENERAL_AFFAIRS)
    values.setdefault("visitor_name", "王大明")
    return values


def visit(by=None, *, assets=None, **values) -> Visit:
    """A visit recorded through the service."""
    return visits.save_visit(Visit(**values_for(**values)), actor=by or recorder(), assets=assets)


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


@pytest.fixture
def admin():
    return recorder()


@pytest.fixture
def guard():
    return the_user("guard1", GUARD, name="吳俊傑")


# The register: pages and API for every role -------------------------------------------------------
class TestVisitRegister(RegisterContract):
    register = VisitRegister
    api_prefix = "room-visits"
    readers = READERS
    writers = WRITERS
    voiders = WRITERS

    def make_sample(self, **overrides):
        return visit(**overrides)

    def form_data(self):
        return {
            "room": room().pk,
            "entered_at": "115/11/28 09:30",
            "purpose": Purpose.REPAIR,
            "purpose_detail": "更換 UPS 電池",
            "carries_equipment": "False",
            "unit": Unit.EQUIPMENT_SECTION,
            "visitor_name": "李小華",
        }

    def change_data(self, obj):
        return {**self.form_data(), "notes": "更換完成，測試正常。"}

    def api_data(self):
        return {
            "room": room().pk,
            "entered_at": "2026-11-28T09:30:00+08:00",
            "purpose": Purpose.OTHER,
            "purpose_detail": "巡檢機櫃",
            "unit": Unit.GENERAL_AFFAIRS,
            "visitor_name": "張三",
        }


# Recording: the rules of the paper form ----------------------------------------------------------
class TestRecording:
    def test_a_visit_is_recorded_with_its_recorder_and_audited(self, admin):
        room()
        before = AuditEntry.objects.count()
        v = visit(admin)
        v.refresh_from_db()
        assert v.recorded_by == admin and v.key_returned_at is None
        entry = AuditEntry.objects.order_by("-id").first()
        assert AuditEntry.objects.count() == before + 1
        assert entry.action == "create" and entry.actor_id == admin.pk
        assert entry.object_id == str(v.pk)

    @pytest.mark.parametrize("role", [STAFF, GUARD, SUPERVISOR, PERSONNEL])
    def test_only_recorders_record(self, make_user, role):
        with pytest.raises(PermissionDenied):
            visit(make_user(f"u-{role}", role))
        assert not Visit.objects.exists()

    @pytest.mark.parametrize("role", sorted(WRITERS))
    def test_every_recorder_role_records(self, make_user, role):
        assert visit(make_user(f"w-{role}", role)).pk

    def test_the_room_is_required_and_active(self, admin):
        with pytest.raises(ValidationError) as no_room:
            visits.save_visit(Visit(**values_for(room=None)), actor=admin)
        assert "room" in errors_of(no_room)
        old = room("舊機房")
        core_services.record_void(old, actor=admin, reason="已拆除")
        with pytest.raises(ValidationError) as voided:
            visit(admin, room=old)
        assert "作廢" in errors_of(voided)["room"][0]

    def test_exit_before_entry_is_refused_and_nothing_saved(self, admin):
        room()
        entries = AuditEntry.objects.count()
        with pytest.raises(ValidationError) as excinfo:
            visit(admin, exited_at=taipei(2026, 11, 28, 9, 0))
        assert errors_of(excinfo)["exited_at"] == ["離去時間不可早於進入時間。"]
        assert not Visit.objects.exists() and AuditEntry.objects.count() == entries

    def test_times_may_not_be_in_the_future_beyond_a_little_clock_skew(self, admin):
        assert visit(admin, entered_at=NOW + dt.timedelta(minutes=4)).pk
        with pytest.raises(ValidationError) as entered:
            visit(admin, entered_at=NOW + dt.timedelta(minutes=6))
        assert "晚於現在" in errors_of(entered)["entered_at"][0]
        with pytest.raises(ValidationError) as exited:
            visit(admin, exited_at=NOW + dt.timedelta(hours=1))
        assert "晚於現在" in errors_of(exited)["exited_at"][0]
        with pytest.raises(ValidationError) as missing:
            visit(admin, entered_at=None)
        assert "entered_at" in errors_of(missing)

    def test_the_purpose_says_what_is_repaired_or_why(self, admin):
        with pytest.raises(ValidationError) as repair:
            visit(admin, purpose=Purpose.REPAIR, purpose_detail="  ")
        assert "維修的設備或項目" in errors_of(repair)["purpose_detail"][0]
        with pytest.raises(ValidationError) as other:
            visit(admin, purpose=Purpose.OTHER, purpose_detail="")
        assert "進入機房的事由" in errors_of(other)["purpose_detail"][0]
        with pytest.raises(ValidationError) as unknown:
            visit(admin, purpose="tour")
        assert "purpose" in errors_of(unknown)

    def test_equipment_carried_is_described_else_cleared(self, admin):
        with pytest.raises(ValidationError) as excinfo:
            visit(admin, carries_equipment=True, equipment_detail="")
        assert "攜出或攜入的設備" in errors_of(excinfo)["equipment_detail"][0]
        v = visit(admin, carries_equipment=False, equipment_detail="筆電一台")
        assert v.equipment_detail == ""
        v = visit(admin, carries_equipment=True, equipment_detail="備用硬碟 2 顆")
        assert v.equipment_detail == "備用硬碟 2 顆"

    def test_the_unit_other_names_it_and_a_vendor_its_company(self, admin):
        with pytest.raises(ValidationError) as other:
            visit(admin, unit=Unit.OTHER, unit_other="")
        assert "unit_other" in errors_of(other)
        with pytest.raises(ValidationError) as vendor:
            visit(admin, unit=Unit.VENDOR, company="", escort=admin)
        assert "廠商名稱" in errors_of(vendor)["company"][0]
        with pytest.raises(ValidationError) as nameless:
            visit(admin, visitor_name=" ")
        assert "visitor_name" in errors_of(nameless)
        v = visit(admin, unit=Unit.GENERAL_AFFAIRS, company="不相干", unit_other="也不相干")
        assert v.company == "" and v.unit_other == ""

    def test_a_vendor_is_escorted_by_an_active_login(self, admin, make_user):
        with pytest.raises(ValidationError) as excinfo:
            visit(admin, unit=Unit.VENDOR, company="大同資訊", escort=None)
        assert "3.1.3" in errors_of(excinfo)["escort"][0]
        gone = make_user("gone", STAFF, is_active=False)
        with pytest.raises(ValidationError) as inactive:
            visit(admin, unit=Unit.VENDOR, company="大同資訊", escort=gone)
        assert "escort" in errors_of(inactive)
        assert visit(admin, unit=Unit.VENDOR, company="大同資訊", escort=admin).pk
        # A person of the school needs no escort.
        assert visit(admin, unit=Unit.EQUIPMENT_SECTION, escort=None).pk


class TestPersonalData:
    """7.9: an outside party servicing equipment storing personal data has a person present."""

    def vendor(self, admin, **values):
        values.setdefault("unit", Unit.VENDOR)
        values.setdefault("company", "大同資訊")
        values.setdefault("escort", admin)
        return visit(admin, **values)

    def test_ticked_needs_the_person_present(self, admin, make_user):
        with pytest.raises(ValidationError) as excinfo:
            self.vendor(admin, personal_data=True)
        assert "7.9" in errors_of(excinfo)["present_person"][0]
        present = make_user("present", STAFF)
        v = self.vendor(admin, personal_data=True, present_person=present)
        assert v.present_person == present

    def test_an_asset_storing_personal_data_ticks_it_and_needs_the_person(self, admin):
        server = Asset.objects.create(
            kind=Asset.Kind.SERVER, name="校務主機", stores_personal_data=True
        )
        plain = Asset.objects.create(kind=Asset.Kind.NETWORK, name="交換器")
        assert self.vendor(admin, assets=[plain]).personal_data is False
        with pytest.raises(ValidationError) as excinfo:
            self.vendor(admin, assets=[plain, server])
        assert "7.9" in errors_of(excinfo)["present_person"][0]
        v = self.vendor(admin, assets=[server], present_person=admin)
        v.refresh_from_db()
        assert v.personal_data is True and list(v.assets.all()) == [server]

    def test_only_vendors_need_the_person_present(self, admin):
        server = Asset.objects.create(
            kind=Asset.Kind.SERVER, name="校務主機", stores_personal_data=True
        )
        v = visit(admin, unit=Unit.EQUIPMENT_SECTION, personal_data=True, assets=[server])
        assert v.personal_data is True and v.present_person is None


class TestCorrecting:
    def test_a_recorder_corrects_a_visit(self, admin, make_user):
        v = visit(admin)
        other = make_user("head", EQUIPMENT_HEAD)
        v.purpose_detail = "更換 UPS 電池兩顆"
        visits.save_visit(v, actor=other)
        v.refresh_from_db()
        assert v.purpose_detail == "更換 UPS 電池兩顆" and v.recorded_by == admin

    def test_after_the_key_only_the_notes_change(self, admin, guard):
        v = visit(admin, exited_at=taipei(2026, 11, 28, 11, 0))
        visits.confirm_key(v, actor=guard)
        v.refresh_from_db()
        v.entered_at = taipei(2026, 11, 28, 8, 0)
        with pytest.raises(ValidationError) as excinfo:
            visits.save_visit(v, actor=admin)
        assert "作廢後重新登錄" in errors_of(excinfo)["entered_at"][0]
        v.refresh_from_db()
        assert v.entered_at == taipei(2026, 11, 28, 9, 30)
        v.notes = "電池已送回收"
        visits.save_visit(v, actor=admin)
        v.refresh_from_db()
        assert v.notes == "電池已送回收" and v.key_confirmed_by == guard

    def test_the_edit_page_of_a_confirmed_visit_opens_only_the_notes(self, admin, guard):
        v = visit(admin, exited_at=taipei(2026, 11, 28, 11, 0))
        visits.confirm_key(v, actor=guard)
        c = login(admin)
        url = reverse("facilities:visit_edit", args=[v.pk])
        form = c.get(url).context["form"]
        assert {n for n, f in form.fields.items() if not f.disabled} == {"notes"}
        response = c.post(url, {"visitor_name": "別人", "notes": "補記"})
        assert response.status_code == 302
        v.refresh_from_db()
        assert v.visitor_name == "王大明" and v.notes == "補記"

    def test_a_voided_visit_is_not_changed(self, admin):
        v = visit(admin)
        core_services.record_void(v, actor=admin, reason="重複登錄")
        v.refresh_from_db()
        v.notes = "x"
        with pytest.raises(ValidationError):
            visits.save_visit(v, actor=admin)

    def test_the_keep_fields_cannot_be_forged_by_an_edit(self, admin, guard):
        v = visit(admin)
        v.key_returned_at = NOW
        v.key_confirmed_by = guard
        visits.save_visit(v, actor=admin)
        v.refresh_from_db()
        assert v.key_returned_at is None and v.key_confirmed_by is None


class TestVisitPage:
    def test_the_page_offers_each_step_only_to_who_may_take_it(self, admin, guard, make_user):
        v = visit(admin)
        url = reverse("facilities:visit_detail", args=[v.pk])
        exit_url = reverse("facilities:visit_exit", args=[v.pk])
        key_url = reverse("facilities:visit_key", args=[v.pk])
        page = login(admin).get(url).content.decode()
        assert exit_url in page and key_url in page
        page = login(guard).get(url).content.decode()
        assert exit_url not in page and key_url in page
        page = login(make_user("boss", SUPERVISOR)).get(url).content.decode()
        assert exit_url not in page and key_url not in page
        visits.confirm_key(v, actor=guard)
        page = login(admin).get(url).content.decode()
        assert exit_url not in page and key_url not in page and "吳俊傑" in page

    def test_a_room_voided_later_stays_on_its_visits(self, admin):
        v = visit(admin)
        core_services.record_void(v.room, actor=admin, reason="機房搬遷")
        v.refresh_from_db()
        v.notes = "機房已搬遷"
        visits.save_visit(v, actor=admin)
        v.refresh_from_db()
        assert v.notes == "機房已搬遷"


class TestForms:
    def test_exit_before_entry_on_the_form_is_a_field_error_and_nothing_saved(self, admin):
        c = login(admin)
        data = {**TestVisitRegister().form_data(), "exited_at": "115/11/28 09:00"}
        entries = AuditEntry.objects.count()
        response = c.post(reverse("facilities:visit_add"), data)
        assert response.status_code == 400
        assert response.context["form"].errors["exited_at"] == ["離去時間不可早於進入時間。"]
        assert not Visit.objects.exists() and AuditEntry.objects.count() == entries

    def test_a_vendor_without_escort_on_the_form_is_refused(self, admin):
        c = login(admin)
        data = {
            **TestVisitRegister().form_data(),
            "unit": Unit.VENDOR,
            "company": "大同資訊",
        }
        response = c.post(reverse("facilities:visit_add"), data)
        assert response.status_code == 400
        assert "3.1.3" in response.context["form"].errors["escort"][0]

    def test_the_add_form_suggests_now_and_the_recorder_as_escort(self, admin):
        form = login(admin).get(reverse("facilities:visit_add")).context["form"]
        assert form.initial["escort"] == admin.pk
        assert form.initial["entered_at"] == taipei(2026, 11, 28, 14, 5)


class TestApi:
    def test_exit_before_entry_is_a_400_with_the_field_and_nothing_saved(self, admin):
        c = token_client(admin)
        body = {**TestVisitRegister().api_data(), "exited_at": "2026-11-28T09:00:00+08:00"}
        entries = AuditEntry.objects.count()
        response = c.post("/api/room-visits/", json.dumps(body), content_type="application/json")
        assert response.status_code == 400
        assert response.json()["exited_at"] == ["離去時間不可早於進入時間。"]
        assert not Visit.objects.exists() and AuditEntry.objects.count() == entries

    def test_roc_times_are_accepted_and_assets_linked(self, admin):
        server = Asset.objects.create(
            kind=Asset.Kind.SERVER, name="校務主機", stores_personal_data=True
        )
        body = {
            **TestVisitRegister().api_data(),
            "entered_at": "115/11/28 10:00",
            "unit": Unit.VENDOR,
            "company": "大同資訊",
            "escort": admin.pk,
            "assets": [server.pk],
        }
        c = token_client(admin)
        refused = c.post("/api/room-visits/", json.dumps(body), content_type="application/json")
        assert refused.status_code == 400 and "present_person" in refused.json()
        body["present_person"] = admin.pk
        response = c.post("/api/room-visits/", json.dumps(body), content_type="application/json")
        assert response.status_code == 201, response.content
        data = response.json()
        assert data["personal_data"] is True and data["assets"] == [server.pk]
        assert data["entered_at"].startswith("2026-11-28T10:00:00")
        assert data["status"] == "in_progress"

    def test_exit_and_key_actions(self, admin, guard, make_user):
        v = visit(admin)
        exit_url = f"/api/room-visits/{v.pk}/exit/"
        key_url = f"/api/room-visits/{v.pk}/confirm-key/"
        staff = token_client(make_user("s", STAFF))
        assert staff.post(key_url).status_code == 403
        assert token_client(guard).post(exit_url).status_code == 403
        response = token_client(admin).post(
            exit_url, json.dumps({"exited_at": "115/11/28 11:00"}), content_type="application/json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["exited_at"].startswith("2026-11-28T11:00:00")
        g = token_client(guard)
        assert g.post(key_url).status_code == 200
        again = g.post(key_url)
        assert again.status_code == 400 and "不需再次確認" in again.json()["non_field_errors"][0]


# The exit ---------------------------------------------------------------------------------------
class TestExit:
    def test_the_exit_is_now_by_default_and_audited(self, admin):
        v = visit(admin)
        before = AuditEntry.objects.count()
        visits.record_exit(v, actor=admin)
        v.refresh_from_db()
        assert v.exited_at == NOW
        entry = AuditEntry.objects.order_by("-id").first()
        assert AuditEntry.objects.count() == before + 1
        assert entry.action == "update" and entry.actor_id == admin.pk
        assert "exited_at" in entry.changes

    def test_a_given_exit_is_checked(self, admin):
        v = visit(admin)
        with pytest.raises(ValidationError) as early:
            visits.record_exit(v, actor=admin, exited_at=taipei(2026, 11, 28, 9, 0))
        assert early.value.message_dict["exited_at"] == ["離去時間不可早於進入時間。"]
        with pytest.raises(ValidationError):
            visits.record_exit(v, actor=admin, exited_at=NOW + dt.timedelta(hours=2))
        visits.record_exit(v, actor=admin, exited_at=taipei(2026, 11, 28, 12, 0))
        with pytest.raises(ValidationError) as twice:
            visits.record_exit(v, actor=admin)
        assert "已登錄離去時間" in twice.value.message_dict["exited_at"][0]

    def test_only_recorders_record_the_exit(self, admin, guard):
        with pytest.raises(PermissionDenied):
            visits.record_exit(visit(admin), actor=guard)

    def test_the_page_records_the_exit_and_shows_refusals(self, admin, make_user):
        v = visit(admin)
        url = reverse("facilities:visit_exit", args=[v.pk])
        c = login(admin)
        bad = c.post(url, {"exited_at": "115/11/28 08:00"})
        assert bad.status_code == 400 and "離去時間不可早於進入時間" in bad.content.decode()
        assert c.post(url, {"exited_at": ""}).status_code == 302
        v.refresh_from_db()
        assert v.exited_at == NOW
        assert login(make_user("st", STAFF)).post(url).status_code == 403


# The key ---------------------------------------------------------------------------------------
class TestConfirmKey:
    def test_the_guard_confirms_and_the_exit_is_recorded_when_missing(self, admin, guard):
        v = visit(admin)
        before = AuditEntry.objects.count()
        visits.confirm_key(v, actor=guard)
        v.refresh_from_db()
        assert v.key_returned_at == NOW and v.key_confirmed_by == guard
        assert v.exited_at == NOW and v.closed
        entry = AuditEntry.objects.order_by("-id").first()
        assert AuditEntry.objects.count() == before + 1
        assert entry.actor_id == guard.pk
        assert {"key_returned_at", "key_confirmed_by_id", "exited_at"} <= set(entry.changes)

    def test_a_recorded_exit_is_kept(self, admin, guard):
        v = visit(admin, exited_at=taipei(2026, 11, 28, 11, 0))
        visits.confirm_key(v, actor=guard)
        v.refresh_from_db()
        assert v.exited_at == taipei(2026, 11, 28, 11, 0) and v.key_returned_at == NOW

    def test_twice_is_refused_with_who_and_when(self, admin, guard):
        v = visit(admin)
        visits.confirm_key(v, actor=guard)
        with pytest.raises(ValidationError) as excinfo:
            visits.confirm_key(v, actor=admin)
        message = excinfo.value.messages[0]
        assert "不需再次確認" in message and "吳俊傑" in message and "115/11/28 14:05" in message

    def test_a_voided_visit_is_refused(self, admin, guard):
        v = visit(admin)
        core_services.record_void(v, actor=admin, reason="登錯機房")
        with pytest.raises(ValidationError) as excinfo:
            visits.confirm_key(v, actor=guard)
        assert "作廢" in excinfo.value.messages[0]

    @pytest.mark.parametrize("role", [STAFF, EQUIPMENT_HEAD, SUPERVISOR, PERSONNEL])
    def test_others_may_not_confirm(self, admin, make_user, role):
        with pytest.raises(PermissionDenied):
            visits.confirm_key(visit(admin), actor=make_user(f"x-{role}", role))

    @pytest.mark.parametrize("role", sorted(CONFIRMERS))
    def test_the_page_button_by_role(self, admin, make_user, role):
        v = visit(admin)
        c = login(make_user(f"c-{role}", role))
        response = c.post(reverse("facilities:visit_key", args=[v.pk]), {"from": "guard"})
        assert response.status_code == 302
        assert response["Location"] == reverse("facilities:visit_guard")
        v.refresh_from_db()
        assert v.key_confirmed_by == c.user

    @pytest.mark.parametrize("role", [STAFF, EQUIPMENT_HEAD, SUPERVISOR, "none"])
    def test_the_page_button_refuses_others(self, admin, make_user, role):
        v = visit(admin)
        c = login(make_user(f"n-{role}", *([] if role == "none" else [role])))
        response = c.post(reverse("facilities:visit_key", args=[v.pk]))
        assert response.status_code == 403
        v.refresh_from_db()
        assert v.key_returned_at is None

    def test_the_button_twice_shows_the_reason(self, admin, guard):
        v = visit(admin)
        c = login(guard)
        url = reverse("facilities:visit_key", args=[v.pk])
        assert c.post(url, {"from": "guard"}).status_code == 302
        again = c.post(url, {"from": "guard"})
        assert again.status_code == 400 and "不需再次確認" in again.content.decode()
        from_detail = c.post(url, {"from": "detail"})
        assert from_detail.status_code == 400 and "不需再次確認" in from_detail.content.decode()

    def test_the_confirmation_needs_post(self, admin, guard):
        v = visit(admin)
        response = login(guard).get(reverse("facilities:visit_key", args=[v.pk]))
        assert response.status_code == 302
        v.refresh_from_db()
        assert v.key_returned_at is None


# The guard's page ----------------------------------------------------------------------------
class TestGuardPage:
    def test_today_and_every_earlier_visit_whose_key_is_out(self, admin, guard):
        today_open = visit(admin, entered_at=taipei(2026, 11, 28, 8, 0))
        today_done = visit(admin, entered_at=taipei(2026, 11, 28, 9, 0))
        visits.confirm_key(today_done, actor=guard)
        old_open = visit(admin, entered_at=taipei(2026, 11, 20, 10, 0))
        old_done = visit(admin, entered_at=taipei(2026, 11, 21, 10, 0))
        visits.confirm_key(old_done, actor=guard)
        voided = visit(admin, entered_at=taipei(2026, 11, 28, 10, 0))
        core_services.record_void(voided, actor=admin, reason="重複")
        response = login(guard).get(reverse("facilities:visit_guard"))
        assert response.status_code == 200
        shown = [v.pk for v, _state in response.context["rows"]]
        assert shown == [today_done.pk, today_open.pk, old_open.pk]  # newest first
        text = response.content.decode()
        assert text.count("確認鑰匙已繳回</button>") == 2
        assert "鑰匙已繳回（吳俊傑" in text and "逾時未結" in text

    def test_yesterday_late_visit_stays_until_confirmed(self, admin, guard):
        late = visit(admin, entered_at=taipei(2026, 11, 27, 23, 30))
        rows = [v.pk for v in visits.guard_visits()]
        assert rows == [late.pk]
        visits.confirm_key(late, actor=guard)
        assert list(visits.guard_visits()) == []

    @pytest.mark.parametrize(
        "role, status",
        [
            (GUARD, 200),
            (SECURITY_OFFICER, 200),
            (SYSADMIN, 200),
            (EQUIPMENT_HEAD, 403),
            (SUPERVISOR, 403),
            (STAFF, 403),
            ("none", 403),
        ],
    )
    def test_who_opens_it(self, make_user, role, status):
        c = login(make_user(f"g-{role}", *([] if role == "none" else [role])))
        assert c.get(reverse("facilities:visit_guard")).status_code == status

    def test_a_guard_finds_it_in_the_menu_and_on_the_home_page(self, guard):
        from isms.core.views import navigation

        labels = [label for _g, items in navigation(guard) for label, _url in items]
        assert "守衛室確認鑰匙繳回" in labels and "機房進出登記" in labels
        home = login(guard).get("/")
        assert home.status_code == 200
        assert reverse("facilities:visit_guard") in home.content.decode()
        staff = login(the_user("plain", STAFF)).get("/").content.decode()
        assert reverse("facilities:visit_guard") not in staff


# The 「狀態」 flag ---------------------------------------------------------------------------
class TestStatus:
    def test_the_flag_across_midnight_in_taipei(self, admin, guard):
        v = visit(admin, entered_at=taipei(2026, 11, 28, 13, 0))
        assert visits.status(v) == visits.Status.IN_PROGRESS
        visits.record_exit(v, actor=admin)
        v.refresh_from_db()
        assert visits.status(v) == visits.Status.KEY_OUT
        with time_machine.travel(taipei(2026, 11, 28, 23, 59, 59), tick=False):
            assert visits.status(v) == visits.Status.KEY_OUT
        with time_machine.travel(taipei(2026, 11, 29, 0, 0), tick=False):
            assert visits.status(v) == visits.Status.OVERDUE
            visits.confirm_key(v, actor=guard)
            v.refresh_from_db()
            assert visits.status(v) == visits.Status.CLOSED

    def test_the_list_flags_overdue_in_red_and_filters_by_status(self, admin, guard):
        ongoing = visit(admin, entered_at=taipei(2026, 11, 28, 13, 0))
        key_out = visit(
            admin, entered_at=taipei(2026, 11, 28, 10, 0), exited_at=taipei(2026, 11, 28, 11, 0)
        )
        closed = visit(admin, entered_at=taipei(2026, 11, 28, 9, 0))
        visits.confirm_key(closed, actor=guard)
        c = login(admin)
        url = reverse("facilities:visit_list")

        def shown(state):
            response = c.get(url, {"state": state})
            assert response.status_code == 200
            return {v.pk for v in response.context["page_obj"].object_list}

        assert shown("in_progress") == {ongoing.pk}
        assert shown("key_out") == {key_out.pk}
        assert shown("closed") == {closed.pk}
        assert shown("overdue") == set()
        text = c.get(url).content.decode()
        assert "進行中" in text and "已離開、鑰匙未繳回" in text and "table-danger" not in text
        with time_machine.travel(taipei(2026, 11, 29, 0, 0, 1), tick=False):
            c = login(admin)  # the session of 14:05 has expired by midnight
            assert shown("overdue") == {ongoing.pk, key_out.pk}
            assert shown("in_progress") == set() and shown("key_out") == set()
            text = c.get(url).content.decode()
            assert text.count('class="table-danger"') == 2
            assert 'data-status="overdue" class="text-danger fw-bold">逾時未結' in text

    def test_the_guard_reads_the_list(self, admin, guard):
        visit(admin)
        assert login(guard).get(reverse("facilities:visit_list")).status_code == 200


# The duty -------------------------------------------------------------------------------------
def state_of(v):
    return ObligationState.objects.filter(key=DUTY, subject_id=str(v.pk)).first()


class TestDuty:
    def test_due_at_midnight_after_the_entry(self, admin, guard):
        v = visit(admin, entered_at=taipei(2026, 11, 28, 9, 30), escort=admin)
        midnight = taipei(2026, 11, 29, 0, 0)
        state = state_of(v)  # refreshed when the visit was recorded
        assert state.status == "ok" and state.next_due_at == midnight
        assert state.clause == "3.1.3" and state.responsible_role == SYSADMIN
        for moment, status in (
            (midnight - dt.timedelta(hours=1, seconds=1), "ok"),
            (midnight - dt.timedelta(hours=1), "due_soon"),
            (midnight - dt.timedelta(seconds=1), "due_soon"),
            (midnight, "overdue"),
        ):
            with time_machine.travel(moment, tick=False):
                engine.refresh(DUTY)
                assert state_of(v).status == status, moment

    def test_closed_when_left_and_the_key_is_back(self, admin, guard):
        v = visit(admin)
        visits.record_exit(v, actor=admin, exited_at=taipei(2026, 11, 28, 11, 0))
        assert state_of(v).status == "ok" and state_of(v).last_done_at is None
        with time_machine.travel(taipei(2026, 11, 28, 23, 30), tick=False):
            engine.refresh(DUTY)
            assert state_of(v).status == "due_soon"
            visits.confirm_key(v, actor=guard)
            state = state_of(v)
            assert state.status == "ok" and state.last_done_at == taipei(2026, 11, 28, 23, 30)
        with time_machine.travel(taipei(2026, 11, 30, 9, 0), tick=False):
            engine.refresh(DUTY)
            assert state_of(v).status == "ok"

    def test_the_closing_moment_is_the_later_of_exit_and_key(self, admin, guard):
        v = visit(admin)
        visits.confirm_key(v, actor=guard)  # exit recorded with the key: the same moment
        assert state_of(v).last_done_at == NOW
        ob = registry.REGISTRY[DUTY]
        assert ob.evidence(ob.all_subjects()) == {v.pk: NOW}
        since, until = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1)
        assert ob.history(ob.all_subjects(), since, until) == [(v.pk, NOW)]

    def test_a_voided_visit_leaves(self, admin):
        v = visit(admin, entered_at=taipei(2026, 11, 20, 9, 0))
        assert state_of(v).status == "overdue"
        core_services.record_void(v, actor=admin, reason="登錯")
        engine.refresh(DUTY)
        assert state_of(v) is None

    def test_recipients_include_guards_only_while_the_key_is_out(self, admin, guard, make_user):
        escort = make_user("escort", STAFF)
        head = make_user("head", EQUIPMENT_HEAD)
        make_user("guard-off", GUARD, is_active=False)
        v = visit(head, entered_at=taipei(2026, 11, 28, 9, 0), escort=escort)
        ob = registry.REGISTRY[DUTY]
        who = {u.username for u in ob.recipients(state_of(v))}
        assert who == {head.username, escort.username, guard.username}
        visits.record_exit(v, actor=admin)
        assert guard.username in {u.username for u in ob.recipients(state_of(v))}
        visits.confirm_key(v, actor=guard)
        assert {u.username for u in ob.recipients(state_of(v))} == {head.username, escort.username}

    def test_reminders_reach_the_guard_when_overdue(self, admin, guard):
        from isms.notifications.models import Notification

        v = visit(admin, entered_at=taipei(2026, 11, 28, 9, 0))
        with time_machine.travel(taipei(2026, 11, 29, 0, 0, 30), tick=False):
            engine.refresh(DUTY)
            engine.run_due()
        sent = Notification.objects.filter(recipient=guard, dedup_key__contains=DUTY)
        assert sent.exists() and "3.1.3" in sent.first().subject
        assert state_of(v).status == "overdue"

    def test_the_states_link_to_the_visit(self, admin):
        v = visit(admin)
        ob = registry.REGISTRY[DUTY]
        assert ob.subject_url(state_of(v)) == v.get_absolute_url()

    def test_the_log_is_in_the_evidence_binder(self):
        record = registry.RECORDS["facilities.visit"]
        assert record.date_field == "entered_at" and record.obligations == (DUTY,)
        assert record.clause == "3.1.3"


# The printed monthly sheet ----------------------------------------------------------------------
class TestPrint:
    def url(self, **params):
        from django.utils.http import urlencode

        return f"{reverse('facilities:visit_print')}?{urlencode(params)}"

    def test_the_sheet_of_one_room_and_month(self, admin, guard, make_user):
        school = SchoolProfile.load()
        school.name = "新北市穀保高級家事商業職業學校"
        school.save()
        main = room("主機機房")
        other = room("分校機房")
        present = the_user("present", STAFF, name="林在場")
        vendor = visit(
            admin,
            room=main,
            entered_at=taipei(2026, 11, 5, 9, 5),
            exited_at=taipei(2026, 11, 5, 10, 40),
            unit=Unit.VENDOR,
            company="大同資訊",
            visitor_name="趙廠商",
            escort=admin,
            carries_equipment=True,
            equipment_detail="新硬碟兩顆",
            personal_data=True,
            present_person=present,
        )
        visits.confirm_key(vendor, actor=guard)
        plain = visit(
            admin,
            room=main,
            entered_at=taipei(2026, 11, 12, 14, 0),
            purpose=Purpose.OTHER,
            purpose_detail="巡檢",
            unit=Unit.OTHER,
            unit_other="圖書館",
            visitor_name="錢其他",
        )
        voided = visit(
            admin, room=main, entered_at=taipei(2026, 11, 13, 9, 0), visitor_name="孫作廢"
        )
        core_services.record_void(voided, actor=admin, reason="重複")
        visit(admin, room=other, entered_at=taipei(2026, 11, 14, 9, 0), visitor_name="李別間")
        visit(admin, room=main, entered_at=taipei(2026, 10, 30, 9, 0), visitor_name="周上月")
        response = login(admin).get(self.url(room=main.pk, month="115-11"))
        assert response.status_code == 200
        text = response.content.decode()
        assert "新北市穀保高級家事商業職業學校 人員進出資訊機房登記表" in text
        assert "機房：主機機房" in text and "民國 115 年 11 月" in text
        assert [
            line["visit"].pk for page in response.context["pages"] for line in page if line
        ] == [
            vendor.pk,
            plain.pk,
        ]
        for name in ("孫作廢", "李別間", "周上月"):
            assert name not in text
        assert "115 年 11 月 5 日" in text and "進入： 9 時 05 分" in text
        assert "離去： 10 時 40 分" in text
        assert "☑有" in text.replace("&#9745;", "☑") and "新硬碟兩顆" in text
        boxes = text.replace("&#9745;", "☑").replace("&#9744;", "☐")
        assert "☑廠商" in boxes and "☐總務處" in boxes and "☑維修" in boxes and "☑其他" in boxes
        assert "大同資訊" in text and "趙廠商" in text and "圖書館" in text
        assert "陳志明" in text  # the escort
        assert "吳俊傑" in text and "14 時 05 分" in text  # the guard and the key's time
        assert "在場專人（7.9）：林在場" in text
        # Two visits and three empty blocks fill the A4 page.
        assert text.count("data-empty") == 3 and text.count('data-page="') == 1

    def test_many_visits_run_over_pages_padded_to_full_pages(self, admin):
        for day in range(1, 8):
            visit(admin, entered_at=taipei(2026, 11, day, 9, 0))
        response = login(admin).get(self.url(room=room().pk, month="115/11"))
        text = response.content.decode()
        assert text.count('data-page="') == 2 and text.count("data-empty") == 3

    def test_the_default_is_this_month_and_the_first_server_room(self, admin):
        visit(admin)
        response = login(admin).get(reverse("facilities:visit_print"))
        assert response.status_code == 200
        assert response.context["room"] == room() and response.context["month"] == 11
        assert response.context["visit_count"] == 1

    def test_a_bad_month_or_room_is_a_400(self, admin):
        c = login(admin)
        assert c.get(self.url(room=room().pk, month="115-13")).status_code == 400
        assert c.get(self.url(room=room().pk, month="abc")).status_code == 400
        assert c.get(self.url(room=987654, month="115-11")).status_code == 400

    def test_month_forms(self):
        assert parse_month({"month": "115-11"}) == (2026, 11)
        assert parse_month({"month": "11511"}) == (2026, 11)
        assert parse_month({"year": "115", "month": "2"}) == (2026, 2)
        assert parse_month({"month": "2026-11"}) == (2026, 11)
        assert parse_month({}) == (2026, 11)

    @pytest.mark.parametrize("role, status", [(SUPERVISOR, 200), (GUARD, 200), (STAFF, 403)])
    def test_who_prints(self, make_user, role, status):
        room()
        c = login(make_user(f"p-{role}", role))
        assert c.get(self.url(month="115-11")).status_code == status

    def test_the_list_links_to_this_month(self, admin):
        visit(admin)
        text = login(admin).get(reverse("facilities:visit_list")).content.decode()
        assert f"{reverse('facilities:visit_print')}?month=115-11" in text
