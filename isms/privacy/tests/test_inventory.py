"""The personal-data file inventory (個人資料檔案清冊; 7.1; PDPA art. 17): the register per
role, the rules of a file with their cited messages, one audit entry per write, the yearly
review and its duty (frozen time), and the equipment that holds a file (7.9, 7.10)."""

import datetime as dt
import json

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from isms.assets.models import Asset, CommissioningRecord, RepairVisit
from isms.audit.models import AuditEntry
from isms.compliance import engine
from isms.compliance.models import ObligationState
from isms.compliance.registry import RECORDS, REGISTRY
from isms.core.models import Person, SchoolProfile, Unit
from isms.core.roles import MANAGERS, SECURITY_OFFICER, SUPERVISOR, SYSADMIN
from isms.core.testing import RegisterContract
from isms.facilities.models import Room, Visit
from isms.identity.models import InformationSystem
from isms.privacy import inventory
from isms.privacy.models import CategoryCode, FileReview, PersonalDataFile, PurposeCode
from isms.privacy.views_inventory import PersonalDataFileRegister

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 28, 6, 5, tzinfo=dt.UTC)  # 115/11/28 14:05 in Taipei
SCHOOL = "新北市穀保高級家事商業職業學校"
Visibility = PersonalDataFile.Visibility
ART17 = "個人資料保護法第 17 條"


@pytest.fixture(autouse=True)
def _school():
    profile = SchoolProfile.load()
    profile.name = SCHOOL
    profile.phone = "02-2971-5606"
    profile.save()


# Helpers (also used by test_inventory_public.py) ---------------------------------------------
def purpose(code="109", name="教育或訓練行政"):
    return PurposeCode.objects.get_or_create(code=code, defaults={"name": name})[0]


def category(code="C001", name="辨識個人者"):
    return CategoryCode.objects.get_or_create(code=code, defaults={"name": name})[0]


_counter = {"n": 0}


def unit(name=None, phone="02-2971-5606#201", **fields):
    _counter["n"] += 1
    n = _counter["n"]
    return Unit.objects.create(name=name or f"教務處{n}", code=f"u{n}", phone=phone, **fields)


def make_file(**overrides) -> PersonalDataFile:
    """A file written straight to the database (not through the service)."""
    _counter["n"] += 1
    purposes = overrides.pop("purposes", None)
    categories = overrides.pop("categories", None)
    assets = overrides.pop("assets", [])
    values = {
        "name": f"學籍資料{_counter['n']}",
        "contact_phone": "02-2971-5606#201",
        "legal_basis": "高級中等教育法第 43 條",
        "retention": "永久保存",
        "users": "教務處註冊組",
        "visibility": Visibility.PUBLIC,
    }
    values.update(overrides)
    if "unit" not in values:
        values["unit"] = unit()
    file = PersonalDataFile.objects.create(**values)
    file.purposes.set(purposes if purposes is not None else [purpose()])
    file.categories.set(categories if categories is not None else [category()])
    file.assets.set(assets)
    return file


def new_file(**fields) -> PersonalDataFile:
    values = {
        "name": "學生健康檢查資料",
        "legal_basis": "學校衛生法第 8 條",
        "retention": "學生畢業後 10 年",
        "users": "健康中心護理師",
        "visibility": Visibility.PUBLIC,
    }
    values.update(fields)
    if "unit" not in values:
        values["unit"] = unit()
    return PersonalDataFile(**values)


def save(file, actor, **lists):
    lists.setdefault("purposes", [purpose()])
    lists.setdefault("categories", [category()])
    lists.setdefault("systems", [])
    lists.setdefault("assets", [])
    return inventory.save_file(file, actor=actor, **lists)


def refused(call) -> dict:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.message_dict


@pytest.fixture
def officer(make_user):
    return make_user("officer", SECURITY_OFFICER)


@pytest.fixture
def officer_client(client_for):
    return client_for(SECURITY_OFFICER)


# The register ---------------------------------------------------------------------------
class TestPersonalDataFileRegister(RegisterContract):
    register = PersonalDataFileRegister
    api_prefix = "personal-data-files"
    readers = frozenset(MANAGERS | {SYSADMIN})
    writers = frozenset({SECURITY_OFFICER})

    def make_sample(self, **overrides):
        return make_file(**overrides)

    def form_data(self):
        return {
            "name": "學生健康檢查資料",
            "unit": unit().pk,
            "contact_phone": "",
            "legal_basis": "學校衛生法第 8 條",
            "purposes": [purpose().pk, purpose("158", "學生（員）（含畢、結業生）資料管理").pk],
            "categories": [category().pk, category("C111", "健康紀錄").pk],
            "retention": "學生畢業後 10 年",
            "users": "學生事務處健康中心",
            "visibility": Visibility.PUBLIC,
        }

    def change_data(self, obj):
        return {
            "name": obj.name + "（更正）",
            "unit": obj.unit_id,
            "contact_phone": obj.contact_phone,
            "legal_basis": obj.legal_basis,
            "purposes": [p.pk for p in obj.purposes.all()],
            "categories": [c.pk for c in obj.categories.all()],
            "retention": obj.retention,
            "users": obj.users,
            "visibility": obj.visibility,
        }


def test_the_register_is_read_by_the_office_and_the_system_administrators_only():
    access = PersonalDataFileRegister.access
    assert access.roles("view") == MANAGERS | {SYSADMIN}
    assert access.roles("add") == access.roles("change") == access.roles("void")
    assert access.roles("add") == {SECURITY_OFFICER}


def test_the_menu_offers_the_register_and_the_public_page(officer_client, client_for):
    page = officer_client.get("/").content.decode()
    assert "個資檔案清冊" in page
    assert reverse("privacy:inventory_public") in page
    staff = client_for("staff").get("/").content.decode()
    assert reverse("privacy:personaldatafile_list") not in staff
    assert reverse("privacy:inventory_public") in staff  # public anyway


# The rules --------------------------------------------------------------------------------
def test_a_file_is_saved_with_its_lists_in_one_audit_entry_naming_the_officer(officer):
    system = InformationSystem.objects.create(name="校務行政系統")
    server = Asset.objects.create(kind=Asset.Kind.SERVER, name="校務行政主機", property_number="1")
    draft = new_file()
    entries = AuditEntry.objects.count()
    file = save(draft, officer, systems=[system], assets=[server])
    assert AuditEntry.objects.count() == entries + 1
    entry = AuditEntry.objects.order_by("-id").first()
    assert entry.action == "create" and entry.actor_id == officer.pk
    assert entry.object_id == str(file.pk)
    assert entry.changes["purposes"] == [None, ["109 教育或訓練行政"]]
    assert entry.changes["systems"] == [None, ["校務行政系統"]]
    assert entry.changes["name"] == [None, "學生健康檢查資料"]
    assert list(file.purposes.all()) == [purpose()]
    assert list(file.assets.all()) == [server]


def test_an_edit_of_a_list_alone_is_one_audit_entry_with_before_and_after(officer):
    file = save(new_file(), officer)
    entries = AuditEntry.objects.count()
    extra = purpose("158", "學生（員）（含畢、結業生）資料管理")
    save(file, officer, purposes=[purpose(), extra])
    assert AuditEntry.objects.count() == entries + 1
    entry = AuditEntry.objects.order_by("-id").first()
    assert entry.action == "update" and entry.actor_id == officer.pk
    assert entry.changes == {
        "purposes": [
            ["109 教育或訓練行政"],
            ["109 教育或訓練行政", "158 學生（員）（含畢、結業生）資料管理"],
        ]
    }
    # Nothing changed: no entry.
    save(file, officer, purposes=[purpose(), extra])
    assert AuditEntry.objects.count() == entries + 1


def test_only_the_security_officer_keeps_the_inventory(make_user):
    supervisor = make_user("boss", SUPERVISOR)
    with pytest.raises(PermissionDenied):
        save(new_file(), supervisor)
    file = make_file()
    with pytest.raises(PermissionDenied):
        inventory.review_file(file, actor=supervisor)
    with pytest.raises(PermissionDenied):
        inventory.void_file(file, actor=supervisor, reason="不再保有")


def test_a_file_needs_a_purpose_code_or_the_purpose_written_out(officer):
    errors = refused(lambda: save(new_file(), officer, purposes=[]))
    assert ART17 in errors["purposes"][0] and "特定目的補充說明" in errors["purposes"][0]
    assert not PersonalDataFile.objects.exists()
    # The list's headings are broad: with none fitting, the purpose in words is enough.
    file = save(new_file(purpose_note="辦理校慶校友聯誼活動通知"), officer, purposes=[])
    assert file.pk and not file.purposes.exists()


def test_a_file_needs_a_data_category(officer):
    errors = refused(lambda: save(new_file(), officer, categories=[]))
    assert "個人資料之類別" in errors["categories"][0] and ART17 in errors["categories"][0]


def test_a_file_needs_its_legal_basis_retention_and_users(officer):
    errors = refused(lambda: save(new_file(legal_basis=" ", retention="", users=""), officer))
    assert ART17 in errors["legal_basis"][0]
    assert "第 11 條" in errors["retention"][0]
    assert "7.2" in errors["users"][0]
    assert not PersonalDataFile.objects.exists()


def test_the_contact_defaults_to_the_units_phone(officer):
    registry = unit(phone="02-2971-5606#210")
    file = save(new_file(unit=registry), officer)
    assert file.contact_phone == "02-2971-5606#210"
    # An e-mail alone is a way to reach the unit: the phone is not filled in then.
    other = save(new_file(name="其他", unit=registry, contact_email="REG@Kpvs.edu.tw"), officer)
    assert other.contact_phone == "" and other.contact_email == "reg@kpvs.edu.tw"


def test_a_file_of_a_unit_without_a_phone_needs_a_contact(officer):
    errors = refused(lambda: save(new_file(unit=unit(phone="")), officer))
    assert "聯絡電話或電子郵件" in errors["contact_phone"][0]
    assert ART17 in errors["contact_phone"][0]
    errors = refused(lambda: save(new_file(contact_phone="<script>"), officer))
    assert "contact_phone" in errors


def test_an_internal_file_names_the_legal_ground_for_not_publishing_it(officer):
    errors = refused(lambda: save(new_file(visibility=Visibility.INTERNAL), officer))
    assert ART17 in errors["internal_reason"][0]
    errors = refused(
        lambda: save(new_file(visibility=Visibility.INTERNAL, internal_reason="內容敏感"), officer)
    )
    assert "法律依據" in errors["internal_reason"][0]
    file = save(
        new_file(
            visibility=Visibility.INTERNAL,
            internal_reason="依政府資訊公開法第 18 條第 1 項第 6 款不予公開。",
        ),
        officer,
    )
    assert file.visibility == Visibility.INTERNAL
    # Published again: the reason no longer applies.
    file.visibility = Visibility.PUBLIC
    save(file, officer)
    file.refresh_from_db()
    assert file.internal_reason == ""


def test_an_inactive_code_is_never_newly_chosen_but_stays_on_a_file_that_has_it(officer):
    old = purpose("999", "已廢止的目的")
    file = save(new_file(), officer, purposes=[old])
    PurposeCode.objects.filter(pk=old.pk).update(is_active=False)
    old.refresh_from_db()
    file.retention = "學生畢業後 5 年"
    save(file, officer, purposes=[old])  # kept
    other = new_file(name="新檔案")
    errors = refused(lambda: save(other, officer, purposes=[old]))
    assert "999" in errors["purposes"][0] and "已停用" in errors["purposes"][0]
    stale = category("C999", "停用類別")
    CategoryCode.objects.filter(pk=stale.pk).update(is_active=False)
    stale.refresh_from_db()
    errors = refused(lambda: save(new_file(name="再一個"), officer, categories=[stale]))
    assert "C999" in errors["categories"][0]


def test_a_name_is_unique_within_its_unit_among_files_in_use(officer):
    registry = unit()
    first = save(new_file(name="學籍資料", unit=registry), officer)
    errors = refused(lambda: save(new_file(name="學籍資料 ", unit=registry), officer))
    assert "不可重複" in errors["name"][0]
    save(new_file(name="學籍資料", unit=unit()), officer)  # another unit
    inventory.void_file(first, actor=officer, reason="改由新系統保有")
    save(new_file(name="學籍資料", unit=registry), officer)  # the old one is voided


def test_voided_systems_and_decommissioned_equipment_are_not_newly_chosen(officer):
    gone = InformationSystem.objects.create(name="舊系統", voided_at=NOW)
    errors = refused(lambda: save(new_file(), officer, systems=[gone]))
    assert "systems" in errors
    scrapped = Asset.objects.create(
        kind=Asset.Kind.PC, name="舊電腦", property_number="9", state=Asset.State.DECOMMISSIONED
    )
    errors = refused(lambda: save(new_file(), officer, assets=[scrapped]))
    assert "7.10" in errors["assets"][0]


def test_a_voided_file_is_not_edited(officer):
    file = save(new_file(), officer)
    inventory.void_file(file, actor=officer, reason="停止保有")
    file.refresh_from_db()
    errors = refused(lambda: save(file, officer))
    assert "已作廢" in errors["__all__"][0]


def test_the_form_shows_the_services_cited_message_and_saves_nothing(officer_client):
    data = TestPersonalDataFileRegister().form_data()
    data["categories"] = []
    response = officer_client.post(reverse("privacy:personaldatafile_add"), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "請至少選擇一項個人資料之類別" in page and ART17 in page
    assert not PersonalDataFile.objects.exists()


def test_the_pickers_offer_active_codes_and_keep_a_files_inactive_one(officer_client, officer):
    active = purpose("158", "學生（員）（含畢、結業生）資料管理")
    old = purpose("998", "停用目的")
    file = save(new_file(), officer, purposes=[old])
    PurposeCode.objects.filter(pk=old.pk).update(is_active=False)
    other_old = purpose("997", "另一停用目的")
    PurposeCode.objects.filter(pk=other_old.pk).update(is_active=False)
    add = officer_client.get(reverse("privacy:personaldatafile_add"))
    choices = {c.pk for c in add.context["form"].fields["purposes"].queryset}
    assert active.pk in choices and old.pk not in choices and other_old.pk not in choices
    assert "data-picker-filter" in add.content.decode()
    edit = officer_client.get(reverse("privacy:personaldatafile_edit", args=[file.pk]))
    choices = {c.pk for c in edit.context["form"].fields["purposes"].queryset}
    assert old.pk in choices and other_old.pk not in choices


def test_the_pickers_stay_usable_with_the_whole_list_of_purposes(officer_client):
    PurposeCode.objects.bulk_create(
        [PurposeCode(code=f"{n:03d}", name=f"目的{n}") for n in range(1, 183)],
        ignore_conflicts=True,
    )
    with CaptureQueriesContext(connection) as queries:
        response = officer_client.get(reverse("privacy:personaldatafile_add"))
    assert response.status_code == 200
    assert response.content.decode().count('name="purposes"') >= 182
    assert len(queries) <= 15


def test_the_list_filters_by_unit_visibility_purpose_category_and_search(officer_client):
    registry = unit()
    health = make_file(name="健康資料", categories=[category("C111", "健康紀錄")])
    staff = make_file(
        name="人事資料",
        unit=registry,
        purposes=[purpose("002", "人事管理")],
        visibility=Visibility.INTERNAL,
        internal_reason="政府資訊公開法第 18 條",
    )
    url = reverse("privacy:personaldatafile_list")

    def names(**params):
        response = officer_client.get(url, params)
        assert response.status_code == 200
        return {f.name for f in response.context["page_obj"].object_list}

    assert names(unit=registry.pk) == {"人事資料"}
    assert names(visibility="internal") == {"人事資料"}
    assert names(purpose="002") == {"人事資料"}
    assert names(category="c111") == {"健康資料"}
    assert names(q="健康紀錄") == {"健康資料"}
    assert names(q="人事") == {"人事資料"}
    assert health.pk and staff.pk


# The yearly review and its duty -------------------------------------------------------------
def test_the_officer_confirms_the_yearly_review_on_the_files_page(officer_client):
    file = make_file()
    url = reverse("privacy:personaldatafile_review", args=[file.pk])
    entries = AuditEntry.objects.count()
    response = officer_client.post(url, {"note": "內容無變動"})
    assert response.status_code == 302
    review = FileReview.objects.get(file=file)
    assert review.reviewer == officer_client.user and review.note == "內容無變動"
    assert AuditEntry.objects.count() == entries + 1
    assert AuditEntry.objects.order_by("-id").first().actor_id == officer_client.user.pk
    page = officer_client.get(file.get_absolute_url()).content.decode()
    assert "內容無變動" in page and "data-reviews" in page


def test_only_the_officer_reviews(client_for):
    file = make_file()
    url = reverse("privacy:personaldatafile_review", args=[file.pk])
    assert client_for(SUPERVISOR).post(url, {"note": "x"}).status_code == 403
    assert client_for("staff").post(url, {"note": "x"}).status_code == 403
    assert not FileReview.objects.exists()
    page = client_for(SUPERVISOR).get(file.get_absolute_url()).content.decode()
    assert "personaldatafile_review" not in page and f"/files/{file.pk}/review/" not in page


def test_a_voided_file_is_not_reviewed(officer_client, officer):
    file = make_file()
    inventory.void_file(file, actor=officer, reason="停止保有")
    url = reverse("privacy:personaldatafile_review", args=[file.pk])
    response = officer_client.post(url, {"note": "x"})
    assert response.status_code == 400
    assert "已作廢" in response.content.decode()
    assert not FileReview.objects.exists()


def test_the_list_flags_a_file_not_reviewed_within_a_year(client_for, officer):
    with time_machine.travel(NOW, tick=False):
        old = make_file(name="舊檔案")
        fresh = make_file(name="已檢視")
    with time_machine.travel(NOW + dt.timedelta(days=200), tick=False):
        inventory.review_file(fresh, actor=officer, note="無變動")
    with time_machine.travel(NOW + dt.timedelta(days=366), tick=False):
        officer_client = client_for(SECURITY_OFFICER)
        url = reverse("privacy:personaldatafile_list")
        response = officer_client.get(url)
        rows = response.content.decode()
        assert rows.count("data-overdue") == 1
        assert "逾期未檢視" in rows
        overdue = officer_client.get(url, {"overdue": "true"}).context["page_obj"].object_list
        assert [f.pk for f in overdue] == [old.pk]
        current = officer_client.get(url, {"overdue": "false"}).context["page_obj"].object_list
        assert [f.pk for f in current] == [fresh.pk]
        page = officer_client.get(old.get_absolute_url()).content.decode()
        assert "data-review-overdue" in page


def _state(file):
    return ObligationState.objects.get(key=inventory.DUTY, subject_id=str(file.pk))


def test_a_file_is_first_due_for_review_a_year_after_it_was_entered(officer):
    with time_machine.travel(NOW, tick=False):
        file = save(new_file(), officer)
        assert _state(file).status == "ok"
        assert _state(file).next_due_at == file.created_at + dt.timedelta(days=365)
    with time_machine.travel(NOW + dt.timedelta(days=340), tick=False):
        engine.refresh(inventory.DUTY)
        assert _state(file).status == "due_soon"  # 30 days before
    with time_machine.travel(NOW + dt.timedelta(days=365, seconds=1), tick=False):
        engine.refresh(inventory.DUTY)
        assert _state(file).status == "overdue"
        review = inventory.review_file(file, actor=officer, note="無變動")
        state = _state(file)
        assert state.status == "ok"
        assert state.next_due_at == review.reviewed_at + dt.timedelta(days=365)


def test_a_voided_file_leaves_the_duty(officer):
    with time_machine.travel(NOW, tick=False):
        file = save(new_file(), officer)
        assert ObligationState.objects.filter(key=inventory.DUTY).count() == 1
        inventory.void_file(file, actor=officer, reason="停止保有")
        assert not ObligationState.objects.filter(key=inventory.DUTY).exists()


def test_the_duty_is_registered_with_its_history_and_binder_records(officer):
    duty = REGISTRY[inventory.DUTY]
    assert duty.clause == "7.1" and duty.rhythm.days == 365
    with time_machine.travel(NOW, tick=False):
        file = save(new_file(), officer)
        review = inventory.review_file(file, actor=officer)
    history = duty.history(duty.subjects(), NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1))
    assert history == [(file.pk, review.reviewed_at)]
    assert RECORDS["privacy.personaldatafile"].obligations == (inventory.DUTY,)
    reviews = RECORDS["privacy.filereview"]
    assert reviews.date_field == "reviewed_at"
    rows = list(reviews.queryset())
    assert [c.text(rows[0]) for c in reviews.columns][1] == file.name


def test_a_review_is_never_in_the_future(officer):
    with time_machine.travel(NOW, tick=False):
        file = save(new_file(), officer)
        errors = refused(
            lambda: inventory.review_file(file, actor=officer, at=NOW + dt.timedelta(hours=1))
        )
        assert "reviewed_at" in errors


# The equipment that holds a file (7.9, 7.10) --------------------------------------------------
def _asset(n, **fields):
    values = {
        "kind": Asset.Kind.SERVER,
        "name": f"主機{n}",
        "property_number": f"3140102-05-{n:06d}",
        "stores_personal_data": True,
        "state": Asset.State.IN_USE,
    }
    values.update(fields)
    return Asset.objects.create(**values)


def _room(keeper):
    return Room.objects.create(name="資訊機房", kind=Room.Kind.SERVER_ROOM, keeper=keeper)


def _visit(room, asset, **fields):
    values = {
        "room": room,
        "entered_at": NOW,
        "purpose": Visit.Purpose.REPAIR,
        "purpose_detail": "硬碟更換",
        "unit": Visit.Unit.VENDOR,
        "company": "宏碩資訊",
        "visitor_name": "張志豪",
    }
    values.update(fields)
    visit = Visit.objects.create(**values)
    visit.assets.add(asset)
    return visit


def test_the_files_page_lists_the_equipment_with_its_gaps(officer_client, officer):
    present = Person.objects.create(name="張家豪", kind=Person.Kind.STAFF)
    kept = _asset(1)
    scrapped = _asset(2, state=Asset.State.DECOMMISSIONED)
    unflagged = _asset(3, stores_personal_data=False)
    reused = _asset(4)
    CommissioningRecord.objects.create(
        asset=reused,
        kind=CommissioningRecord.Kind.REUSE,
        executor=officer,
        executed_on=dt.date(2026, 10, 1),
        use="教學用",
    )
    RepairVisit.objects.create(
        asset=kept,
        visited_on=dt.date(2026, 9, 1),
        party="宏碩資訊",
        work="更換硬碟",
        present=present,
        recorded_by=officer,
    )
    RepairVisit.objects.create(
        asset=kept,
        visited_on=dt.date(2026, 10, 2),
        party="大同資訊",
        work="主機板維修",
        recorded_by=officer,
    )
    room = _room(officer)
    _visit(room, kept)  # a vendor without the school's person present
    _visit(room, kept, unit=Visit.Unit.EQUIPMENT_SECTION, company="", visitor_name="李美玲")
    _visit(room, kept, present_person=officer, visitor_name="王大明")
    file = make_file(assets=[kept, scrapped, unflagged, reused])
    holding = inventory.holdings(file)
    gaps = "\n".join(holding["gaps"])
    assert gaps.count("7.10") >= 2  # scrapped without a wipe; reuse without a wipe
    assert "已報廢" in gaps and "移轉他用紀錄" in gaps
    assert "大同資訊" in gaps and "宏碩資訊）沒有" not in gaps  # repair with no one present
    assert "張志豪" in gaps and "李美玲" not in gaps and "王大明" not in gaps
    assert "未標示" in gaps and "主機3" in gaps
    page = officer_client.get(file.get_absolute_url()).content.decode()
    assert page.count("data-gap>") == len(holding["gaps"])
    assert reverse("assets:repairvisit_detail", args=[kept.repairs.first().pk]) in page
    assert reverse("assets:asset_detail", args=[scrapped.pk]) in page


def test_a_wiped_disposal_and_a_supervised_repair_leave_no_gap(officer):
    present = Person.objects.create(name="張家豪", kind=Person.Kind.STAFF)
    scrapped = _asset(1, state=Asset.State.DECOMMISSIONED)
    CommissioningRecord.objects.create(
        asset=scrapped,
        kind=CommissioningRecord.Kind.DECOMMISSION,
        executor=officer,
        executed_on=dt.date(2026, 10, 1),
        wiped=True,
        wipe_method="以工具覆寫三次",
    )
    RepairVisit.objects.create(
        asset=scrapped,
        visited_on=dt.date(2026, 9, 1),
        party="宏碩資訊",
        work="更換硬碟",
        present=present,
        recorded_by=officer,
    )
    _visit(_room(officer), scrapped, present_person=officer)
    file = make_file(assets=[scrapped])
    assert inventory.holdings(file)["gaps"] == []


def test_the_holdings_take_the_same_queries_for_one_asset_or_many(officer):
    present = Person.objects.create(name="張家豪", kind=Person.Kind.STAFF)
    room = _room(officer)

    def equipment(n):
        asset = _asset(n, state=Asset.State.DECOMMISSIONED)
        CommissioningRecord.objects.create(
            asset=asset,
            kind=CommissioningRecord.Kind.DECOMMISSION,
            executor=officer,
            executed_on=dt.date(2026, 10, 1),
            wiped=True,
            wipe_method="消磁",
        )
        RepairVisit.objects.create(
            asset=asset,
            visited_on=dt.date(2026, 9, 1),
            party="宏碩",
            work="維修",
            present=present,
            recorded_by=officer,
        )
        _visit(room, asset, present_person=officer)
        return asset

    one = make_file(assets=[equipment(1)])
    many = make_file(assets=[equipment(n) for n in range(2, 8)])
    with CaptureQueriesContext(connection) as few:
        inventory.holdings(one)
    with CaptureQueriesContext(connection) as more:
        inventory.holdings(many)
    assert len(few) == len(more) == 4


def test_the_detail_page_keeps_a_constant_query_count(officer_client, officer):
    room = _room(officer)
    small = make_file(assets=[_asset(1)])
    big = make_file(assets=[_asset(n) for n in range(2, 9)])
    for asset in big.assets.all():
        _visit(room, asset)
    for review_of in (small, big):
        inventory.review_file(review_of, actor=officer)
    inventory.review_file(big, actor=officer)
    with CaptureQueriesContext(connection) as few:
        assert officer_client.get(small.get_absolute_url()).status_code == 200
    with CaptureQueriesContext(connection) as more:
        assert officer_client.get(big.get_absolute_url()).status_code == 200
    assert len(few) == len(more)


# The API (read-only) -----------------------------------------------------------------------
def _token_client(client_for, role):
    return TestPersonalDataFileRegister().api_client(client_for, role)


def test_the_api_is_read_only(client_for):
    file = make_file()
    c = _token_client(client_for, SECURITY_OFFICER)
    body = json.dumps({"name": "x"})
    base = "/api/personal-data-files/"
    assert c.post(base, body, content_type="application/json").status_code == 405
    assert c.put(f"{base}{file.pk}/", body, content_type="application/json").status_code == 405
    assert c.patch(f"{base}{file.pk}/", body, content_type="application/json").status_code == 405
    assert c.delete(f"{base}{file.pk}/").status_code == 405
    assert c.delete(base).status_code == 405
    void = c.post(
        f"{base}{file.pk}/void/", json.dumps({"reason": "重複"}), content_type="application/json"
    )
    assert void.status_code == 405
    file.refresh_from_db()
    assert file.voided_at is None and file.name.startswith("學籍資料")


def test_the_api_gives_the_codes_and_the_review_state(client_for, officer):
    with time_machine.travel(NOW, tick=False):
        file = make_file(
            purposes=[purpose(), purpose("158", "學生（員）（含畢、結業生）資料管理")],
            visibility=Visibility.INTERNAL,
            internal_reason="政府資訊公開法第 18 條",
        )
        make_file(name="公開檔案")
        c = _token_client(client_for, SYSADMIN)
        data = c.get(f"/api/personal-data-files/{file.pk}/").json()
        assert data["purposes"] == [
            {"code": "109", "name": "教育或訓練行政"},
            {"code": "158", "name": "學生（員）（含畢、結業生）資料管理"},
        ]
        assert data["unit_name"] == file.unit.name
        assert data["last_reviewed_at"] is None and data["review_overdue"] is False
        listed = c.get("/api/personal-data-files/", {"visibility": "internal"}).json()
        assert [row["id"] for row in listed["results"]] == [file.pk]
        by_code = c.get("/api/personal-data-files/", {"purpose": "158"}).json()
        assert [row["id"] for row in by_code["results"]] == [file.pk]
    with time_machine.travel(NOW + dt.timedelta(days=400), tick=False):
        c = _token_client(client_for, SYSADMIN)
        late = c.get("/api/personal-data-files/", {"overdue": "true"}).json()
        assert len(late["results"]) == 2 and late["results"][0]["review_overdue"] is True


def test_the_api_list_keeps_a_constant_query_count(client_for):
    c = _token_client(client_for, SECURITY_OFFICER)
    make_file()
    assert c.get("/api/personal-data-files/").status_code == 200  # the token's first use
    with CaptureQueriesContext(connection) as few:
        assert c.get("/api/personal-data-files/").status_code == 200
    for _ in range(10):
        make_file(assets=[_asset(_counter["n"] + 100)])
    with CaptureQueriesContext(connection) as many:
        assert c.get("/api/personal-data-files/").status_code == 200
    assert len(many) == len(few)


# The demo ---------------------------------------------------------------------------------------
def test_the_demo_loads_a_schools_inventory_once():
    from django.core.management import call_command

    from isms.privacy import demo_inventory

    call_command("demo", "--quiet")
    files = {f.name: f for f in PersonalDataFile.objects.all()}
    assert len(files) == 6
    records = files["學籍資料"]
    assert {p.code for p in records.purposes.all()} == {"158", "109"}
    assert {c.code for c in records.categories.all()} >= {"C001", "C003", "C051"}
    assert [s.name for s in records.systems.all()] == ["校務行政系統"]
    assert records.assets.exists() and records.reviews.count() == 1
    assert {c.code for c in files["學生健康檢查資料"].categories.all()} >= {"C111"}
    assert inventory.review_overdue(files["學生健康檢查資料"])
    assert not inventory.review_overdue(records)
    counselling = files["學生輔導紀錄"]
    assert (
        counselling.visibility == Visibility.INTERNAL and "第 18 條" in counselling.internal_reason
    )
    assert {p.code for p in files["教職員人事資料"].purposes.all()} == {"002"}
    demo_inventory.load_demo()
    assert PersonalDataFile.objects.count() == 6


def test_the_list_reads_each_files_latest_review_without_grouping(officer):
    """``with_review``: the latest review (else the entry) of each file, read by a subquery
    per file, not a join of every file with its reviews grouped (bench: 3,000 files)."""
    with time_machine.travel(NOW - dt.timedelta(days=800), tick=False):
        reviewed = make_file(name="檢視兩次")
        never = make_file(name="從未檢視")
    for days in (700, 500):
        FileReview.objects.create(
            file=reviewed, reviewed_at=NOW - dt.timedelta(days=days), reviewer=officer
        )
    with time_machine.travel(NOW, tick=False):
        rows = {f.pk: f for f in inventory.with_review(PersonalDataFile.objects.all())}
        assert rows[reviewed.pk].last_reviewed_at == NOW - dt.timedelta(days=500)
        assert rows[reviewed.pk].review_base == NOW - dt.timedelta(days=500)
        assert rows[never.pk].last_reviewed_at is None
        assert rows[never.pk].review_base == never.created_at
        late = inventory.with_review(PersonalDataFile.objects.all()).filter(inventory.overdue_q())
        assert set(late.values_list("pk", flat=True)) == {reviewed.pk, never.pk}
        inventory.review_file(reviewed, actor=officer)
        late = inventory.with_review(PersonalDataFile.objects.all()).filter(inventory.overdue_q())
        assert list(late.values_list("pk", flat=True)) == [never.pk]
    query = PersonalDataFileRegister.base_queryset().query
    assert query.group_by is None
    assert 'JOIN "privacy_filereview"' not in str(query)
