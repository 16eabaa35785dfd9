"""Vendors (6.1): the register, the 統一編號 check digit and uniqueness, contacts saved with
the vendor all or nothing, and the API."""

import datetime as dt
import json

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError

from isms.audit.models import AuditEntry
from isms.core.models import User
from isms.core.roles import MANAGERS, SECURITY_OFFICER, STAFF, SYSADMIN
from isms.core.testing import RegisterContract
from isms.core.validators import tax_id_ok
from isms.vendors import vendors
from isms.vendors.models import Contract, Vendor, VendorContact
from isms.vendors.views_vendors import VendorRegister

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
KEEPERS = frozenset({SECURITY_OFFICER, SYSADMIN})
READERS = MANAGERS | KEEPERS
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def valid_tax_id(n: int) -> str:
    """A 統一編號 whose check digit is right, different for each ``n``."""
    for last in range(10):
        value = f"{n % 10_000_000:07d}{last}"
        if tax_id_ok(value):
            return value
    raise AssertionError(n)  # pragma: no cover


def keeper(username="keeper", role=SECURITY_OFFICER):
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User.objects.create_user(username=username, password="Xk7#pq92mv")
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def vendor(name="資安顧問股份有限公司", **values):
    values.setdefault("tax_id", valid_tax_id(Vendor.objects.count() + 1_000_000))
    return vendors.save_vendor(Vendor(name=name, **values), actor=keeper())


def management(total=0, initial=0) -> dict:
    return {
        "contacts-TOTAL_FORMS": str(total),
        "contacts-INITIAL_FORMS": str(initial),
        "contacts-MIN_NUM_FORMS": "0",
        "contacts-MAX_NUM_FORMS": "1000",
    }


class TestVendorRegister(RegisterContract):
    register = VendorRegister
    api_prefix = "vendors"
    readers = READERS
    writers = KEEPERS

    def make_sample(self, **overrides):
        n = Vendor.objects.count()
        return vendor(name=f"廠商{n}", **overrides)

    def form_data(self):
        return {
            "name": "網路維護有限公司",
            "tax_id": valid_tax_id(4_242_424),
            "representative": "王經理",
            "phone": "02-2345-6789",
            **management(),
        }

    def change_data(self, obj):
        return {"name": obj.name + "（新）", "tax_id": obj.tax_id, **management()}

    def api_data(self):
        return {"name": "網路維護有限公司", "tax_id": valid_tax_id(4_242_424)}

    def invalid_api_data(self):
        return {"name": "網路維護有限公司", "tax_id": "12345678"}


# The 統一編號 -------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["22099131", "04595257", "10458575"])
def test_a_valid_tax_id_is_taken(value):
    assert vendor(tax_id=value).tax_id == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("12345678", "統一編號檢查碼不正確"),
        ("22099132", "統一編號檢查碼不正確"),
        ("2209913", "統一編號須為 8 位數字"),
        ("2209913A", "統一編號須為 8 位數字"),
        ("", "請填寫統一編號"),
    ],
)
def test_a_wrong_tax_id_is_refused(value, message):
    with pytest.raises(ValidationError) as caught:
        vendor(tax_id=value)
    assert message in caught.value.message_dict["tax_id"][0]
    assert not Vendor.objects.exists()


def test_the_name_is_required():
    with pytest.raises(ValidationError) as caught:
        vendor(name="  ")
    assert "name" in caught.value.message_dict


def test_a_tax_id_is_unique_among_vendors_in_use():
    first = vendor(tax_id="22099131")
    with pytest.raises(ValidationError) as caught:
        vendor(name="另一家", tax_id="22099131")
    assert "已有使用中的委外廠商" in caught.value.message_dict["tax_id"][0]
    vendors.void_vendor(first, actor=keeper(), reason="重複建檔")
    assert vendor(name="另一家", tax_id="22099131").pk != first.pk


def test_only_keepers_save_vendors(make_user):
    with pytest.raises(PermissionDenied):
        vendors.save_vendor(
            Vendor(name="廠商", tax_id="22099131"), actor=make_user("staff1", STAFF)
        )


def test_the_form_shows_the_check_digit_error_in_chinese(client_for):
    c = client_for(SECURITY_OFFICER)
    response = c.post(
        "/vendors/vendors/add/", {"name": "廠商", "tax_id": "12345678", **management()}
    )
    assert response.status_code == 400
    assert "統一編號檢查碼不正確" in response.content.decode()
    assert not Vendor.objects.exists()


def test_a_vendor_with_a_running_contract_is_not_voided(client_for):
    v = vendor()
    Contract.objects.create(
        vendor=v,
        title="維護",
        start_on=dt.date(2026, 1, 1),
        end_on=dt.date(2026, 12, 31),
        services="維護",
        owner=keeper(),
    )
    c = client_for(SECURITY_OFFICER)
    response = c.post(f"/vendors/vendors/{v.pk}/void/", {"reason": "不再合作"})
    assert response.status_code == 400
    v.refresh_from_db()
    assert v.voided_at is None


# Contacts: one save, all or nothing -----------------------------------------------------
def contact_rows(*rows, initial=0) -> dict:
    data = management(total=len(rows), initial=initial)
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"contacts-{i}-{key}"] = value
    return data


def test_the_form_saves_the_vendor_and_its_contacts_together(client_for):
    c = client_for(SYSADMIN)
    data = {
        "name": "廠商",
        "tax_id": "22099131",
        **contact_rows(
            {"name": "林小姐", "phone": "0912-345-678"},
            {"name": "張先生", "email": "chang@example.com"},
        ),
    }
    entries = AuditEntry.objects.count()
    response = c.post("/vendors/vendors/add/", data)
    assert response.status_code == 302
    v = Vendor.objects.get()
    assert sorted(v.contacts.values_list("name", flat=True)) == ["張先生", "林小姐"]
    assert AuditEntry.objects.count() == entries + 3
    assert set(
        AuditEntry.objects.filter(model_label="vendors.vendorcontact").values_list(
            "actor_id", flat=True
        )
    ) == {c.user.pk}


def test_a_contact_without_a_name_saves_nothing(client_for):
    c = client_for(SYSADMIN)
    data = {
        "name": "廠商",
        "tax_id": "22099131",
        **contact_rows({"name": "林小姐"}, {"name": "", "phone": "0912-345-678"}),
    }
    entries = AuditEntry.objects.count()
    response = c.post("/vendors/vendors/add/", data)
    assert response.status_code == 400
    assert "請填寫聯絡人姓名" in response.content.decode()
    assert not Vendor.objects.exists() and not VendorContact.objects.exists()
    assert AuditEntry.objects.count() == entries


def test_a_bad_tax_id_saves_no_contact_either(client_for):
    c = client_for(SYSADMIN)
    data = {"name": "廠商", "tax_id": "12345678", **contact_rows({"name": "林小姐"})}
    assert c.post("/vendors/vendors/add/", data).status_code == 400
    assert not VendorContact.objects.exists()


def test_the_service_refuses_a_nameless_contact_and_keeps_the_rest():
    v = vendor()
    vendors.save_vendor(v, actor=keeper(), contacts=[{"name": "林小姐"}])
    with pytest.raises(ValidationError) as caught:
        vendors.save_vendor(
            v,
            actor=keeper(),
            contacts=[{"name": "張先生"}, {"name": " ", "email": "x@example.com"}],
        )
    assert "contacts.1.name" in caught.value.message_dict
    assert list(v.contacts.values_list("name", flat=True)) == ["林小姐"]


def test_the_contacts_page_changes_adds_and_removes_in_one_save(client_for):
    v = vendor()
    vendors.save_vendor(
        v, actor=keeper(), contacts=[{"name": "林小姐"}, {"name": "張先生", "phone": "1"}]
    )
    lin, chang = v.contacts.order_by("id")
    c = client_for(SECURITY_OFFICER)
    url = f"/vendors/vendors/{v.pk}/contacts/"
    assert c.get(url).status_code == 200
    data = contact_rows(
        {"id": str(lin.pk), "vendor": str(v.pk), "name": "林經理"},
        {"id": str(chang.pk), "vendor": str(v.pk), "name": "張先生", "phone": "1", "DELETE": "on"},
        {"vendor": str(v.pk), "name": "陳工程師", "email": "chen@example.com"},
        initial=2,
    )
    entries = AuditEntry.objects.count()
    response = c.post(url, data)
    assert response.status_code == 302, response.content.decode()
    assert sorted(v.contacts.values_list("name", flat=True)) == ["林經理", "陳工程師"]
    assert AuditEntry.objects.count() == entries + 3  # changed, deleted, added


def test_the_contacts_page_refuses_a_bad_email_and_changes_nothing(client_for):
    v = vendor()
    vendors.save_vendor(v, actor=keeper(), contacts=[{"name": "林小姐"}])
    lin = v.contacts.get()
    c = client_for(SECURITY_OFFICER)
    data = contact_rows(
        {"id": str(lin.pk), "vendor": str(v.pk), "name": "林經理"},
        {"vendor": str(v.pk), "name": "陳工程師", "email": "not-an-email"},
        initial=1,
    )
    response = c.post(f"/vendors/vendors/{v.pk}/contacts/", data)
    assert response.status_code == 400
    assert list(v.contacts.values_list("name", flat=True)) == ["林小姐"]


def test_readers_cannot_open_the_contacts_page(client_for):
    v = vendor()
    assert client_for("supervisor").get(f"/vendors/vendors/{v.pk}/contacts/").status_code == 403


def test_the_vendor_page_lists_its_contacts_and_contracts(client_for):
    v = vendor()
    vendors.save_vendor(v, actor=keeper(), contacts=[{"name": "林小姐"}])
    response = client_for("principal").get(v.get_absolute_url())
    assert response.status_code == 200
    assert "林小姐" in response.content.decode()


def test_the_list_counts_contacts_and_current_contracts_of_each_vendor(client_for):
    """Both counts are subqueries of each vendor: no join of every vendor with its contacts
    grouped, neither for the page nor for the paginator's count."""
    busy = vendor(name="兩位窗口廠商")
    vendors.save_vendor(busy, actor=keeper(), contacts=[{"name": "林小姐"}, {"name": "陳先生"}])
    quiet = vendor(name="無窗口廠商")
    owner = keeper()
    for start, end in ((dt.date(2025, 1, 1), dt.date(2025, 12, 31)),) + (
        (dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
    ) * 3:
        Contract.objects.create(
            vendor=busy, title="維護", services="維護", start_on=start, end_on=end, owner=owner
        )
    rows = {v.pk: v for v in VendorRegister.base_queryset()}
    assert (rows[busy.pk].contact_count, rows[busy.pk].current_contracts) == (2, 3)
    assert (rows[quiet.pk].contact_count, rows[quiet.pk].current_contracts) == (0, 0)
    query = VendorRegister.base_queryset().query
    assert query.group_by is None
    assert 'JOIN "vendors_vendorcontact"' not in str(query)
    page = client_for("supervisor").get("/vendors/vendors/", {"sort": "-contact_count"})
    listing = page.context["page_obj"].object_list
    assert [(v.pk, v.contact_count) for v in listing] == [(busy.pk, 2), (quiet.pk, 0)]


# API ------------------------------------------------------------------------------------
def api(client_for, role=SECURITY_OFFICER):
    from isms.core import services

    c = client_for(role)
    _token, key = services.token_create(user=c.user, name="t", actor=c.user)
    c.logout()
    c.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return c


def test_the_api_nests_the_contacts_read_only(client_for):
    v = vendor()
    vendors.save_vendor(v, actor=keeper(), contacts=[{"name": "林小姐", "phone": "123"}])
    c = api(client_for)
    body = c.get(f"/api/vendors/{v.pk}/").json()
    assert body["contacts"][0]["name"] == "林小姐"
    response = c.patch(
        f"/api/vendors/{v.pk}/",
        json.dumps({"contacts": [{"name": "別人"}]}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert list(v.contacts.values_list("name", flat=True)) == ["林小姐"]


@pytest.mark.parametrize(
    ("tax_id", "message"),
    [("12345678", "統一編號檢查碼不正確"), ("1234", "統一編號須為 8 位數字")],
)
def test_the_api_answers_a_bad_tax_id_with_400(client_for, tax_id, message):
    response = api(client_for).post(
        "/api/vendors/",
        json.dumps({"name": "廠商", "tax_id": tax_id}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert message in response.json()["tax_id"][0]


def test_the_api_answers_a_duplicate_tax_id_with_400(client_for):
    vendor(tax_id="22099131")
    response = api(client_for).post(
        "/api/vendors/",
        json.dumps({"name": "廠商", "tax_id": "22099131"}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "已有使用中的委外廠商" in response.json()["tax_id"][0]
