"""The core registers (units, people, logins) through the generated register tests."""

import datetime as dt

import pytest

from isms.core.models import Person, Unit
from isms.core.roles import (
    EQUIPMENT_HEAD,
    GUARD,
    PERSONNEL,
    PRINCIPAL,
    SECURITY_OFFICER,
    STAFF,
    SUPERVISOR,
    SYSADMIN,
)
from isms.core.testing import RegisterContract
from isms.core.views import PersonRegister, UnitRegister

EVERYONE = frozenset(
    {SECURITY_OFFICER, SUPERVISOR, PRINCIPAL, SYSADMIN, EQUIPMENT_HEAD, PERSONNEL, STAFF, GUARD}
)


@pytest.mark.django_db
class TestUnitRegister(RegisterContract):
    register = UnitRegister
    api_prefix = "units"
    readers = EVERYONE
    writers = frozenset({PERSONNEL, SECURITY_OFFICER})
    counter = 0

    def make_sample(self, **overrides):
        TestUnitRegister.counter += 1
        n = TestUnitRegister.counter
        return Unit.objects.create(name=f"測試處室{n}", code=f"unit-{n}", **overrides)

    def form_data(self):
        return {"name": "資訊組", "code": "it", "phone": "02-1234-5678", "is_active": "on"}

    def change_data(self, obj):
        return {"name": obj.name + "（改）", "code": obj.code, "is_active": "on"}

    def invalid_form_data(self):
        return {"name": "", "code": "不是代碼 !", "phone": "abc"}

    def api_data(self):
        return {"name": "資訊組", "code": "it", "phone": "", "is_active": True}

    def invalid_api_data(self):
        return {"name": "", "code": "??"}


@pytest.mark.django_db
class TestPersonRegister(RegisterContract):
    register = PersonRegister
    api_prefix = "people"
    readers = frozenset(
        {SECURITY_OFFICER, SUPERVISOR, PRINCIPAL, SYSADMIN, EQUIPMENT_HEAD, PERSONNEL}
    )
    scoped_readers = frozenset({STAFF, GUARD})
    writers = frozenset({PERSONNEL, SECURITY_OFFICER})
    exporters = readers

    def make_sample(self, **overrides):
        unit = Unit.objects.get_or_create(code="academic", defaults={"name": "教務處"})[0]
        fields = {"name": "王小明", "unit": unit, "title": "教師", "extension": "301"}
        fields.update(overrides)
        return Person.objects.create(**fields)

    def form_data(self):
        unit = Unit.objects.get_or_create(code="academic", defaults={"name": "教務處"})[0]
        return {
            "name": "陳大文",
            "kind": "staff",
            "unit": unit.pk,
            "title": "英文科教師",
            "email": "chen@example.edu.tw",
            "extension": "302",
            "status": "active",
            "onboard_date": "115/08/01",
        }

    def change_data(self, obj):
        data = self.form_data()
        data.update(name=obj.name, title="導師", unit=obj.unit_id)
        return data

    def invalid_form_data(self):
        return {
            "name": "",
            "kind": "robot",
            "email": "not-an-email",
            "extension": "12a",
            "onboard_date": "115/02/30",
            "national_id": "123",
        }

    def api_data(self):
        data = self.form_data()
        data["onboard_date"] = "2026-08-01"
        return data

    def invalid_api_data(self):
        return {"name": "", "kind": "robot", "onboard_date": "115/02/30", "extension": "x"}

    # Rules of the person form beyond field formats ----------------------------------
    def test_leaving_before_joining_is_refused(self, client_for):
        c = client_for(PERSONNEL)
        data = self.form_data() | {"onboard_date": "115/08/01", "leave_date": "115/07/31"}
        response = c.post(self.url("add"), data)
        assert response.status_code == 400
        assert "離職日不可早於到職日" in response.content.decode()
        assert not Person.objects.filter(name="陳大文").exists()

    def test_a_person_who_left_needs_a_leave_date(self, client_for):
        c = client_for(PERSONNEL)
        response = c.post(self.url("add"), self.form_data() | {"status": "left"})
        assert response.status_code == 400
        assert "離職人員請填寫離職日" in response.content.decode()

    def test_vendor_staff_need_their_company(self, client_for):
        c = client_for(SECURITY_OFFICER)
        response = c.post(self.url("add"), self.form_data() | {"kind": "vendor"})
        assert response.status_code == 400
        assert "委外廠商人員請填寫所屬公司" in response.content.decode()

    def test_staff_see_only_themselves(self, client_for):
        c = client_for(STAFF)
        self.make_sample(name="別人")
        response = c.get(self.url("list"))
        body = response.content.decode()
        assert c.user.person.name in body and "別人" not in body
        assert c.get(self.url("detail", c.user.person.pk)).status_code == 200

    def test_national_id_is_masked_on_the_page_and_in_the_trail(self, client_for):
        c = client_for(PERSONNEL)
        data = self.form_data() | {"national_id": "a123456789"}
        assert c.post(self.url("add"), data).status_code == 302
        person = Person.objects.get(name="陳大文")
        assert person.national_id == "A123456789"
        page = c.get(self.url("detail", person.pk)).content.decode()
        assert "A123456789" not in page and "A12****789" in page
        from isms.audit.models import AuditEntry

        entry = AuditEntry.objects.filter(model_label="core.person", object_id=str(person.pk)).get()
        assert "A123456789" not in str(entry.changes)

    def test_roc_dates_are_shown_in_the_list(self, client_for):
        self.make_sample(onboard_date=dt.date(2026, 8, 1))
        body = client_for(PERSONNEL).get(self.url("list")).content.decode()
        assert "115/08/01" in body

    def test_filters_narrow_the_list_and_the_api(self, client_for):
        self.make_sample(name="甲", title="主任")
        self.make_sample(name="乙", title="教師", status="left", leave_date=dt.date(2026, 1, 1))
        c = client_for(PERSONNEL)
        body = c.get(self.url("list"), {"status": "left"}).content.decode()
        assert "乙" in body and ">甲<" not in body
        api = self.api_client(client_for, PERSONNEL)
        names = [p["name"] for p in api.get("/api/people/", {"q": "主任"}).json()["results"]]
        assert names == ["甲"]

    def test_sorting_by_a_column(self, client_for):
        self.make_sample(name="王一")
        self.make_sample(name="王二")
        c = client_for(PERSONNEL)
        body = c.get(self.url("list"), {"sort": "-name"}).content.decode()
        assert body.index(">王二<") < body.index(">王一<")
        body = c.get(self.url("list"), {"sort": "name"}).content.decode()
        assert body.index(">王一<") < body.index(">王二<")

    def test_voided_people_are_hidden_unless_asked_for(self, client_for):
        from isms.core import services

        c = client_for(PERSONNEL)
        person = self.make_sample(name="作廢者")
        services.record_void(person, actor=c.user, reason="重複")
        assert "作廢者" not in c.get(self.url("list")).content.decode()
        assert "作廢者" in c.get(self.url("list"), {"voided": "1"}).content.decode()

    def test_export_contains_the_filtered_rows(self, client_for):
        self.make_sample(name="甲", title="主任")
        self.make_sample(name="乙", title="教師")
        c = client_for(PERSONNEL)
        response = c.get(self.url("export"), {"format": "csv", "q": "主任"})
        text = b"".join(response.streaming_content).decode("utf-8-sig")
        assert "甲" in text and "乙" not in text
        assert text.splitlines()[0].startswith("姓名,單位")


@pytest.mark.django_db
def test_a_unit_in_use_cannot_be_deleted_through_the_api_or_the_page(client_for):
    from isms.core import services

    keeper = client_for(PERSONNEL)
    unit = Unit.objects.create(name="教務處", code="academic")
    Person.objects.create(name="王小明", unit=unit)
    _token, key = services.token_create(user=keeper.user, name="t", actor=keeper.user)
    api = keeper.__class__(HTTP_AUTHORIZATION=f"Token {key}")
    response = api.delete(f"/api/units/{unit.pk}/")
    assert response.status_code == 409 and "無法刪除" in response.json()["detail"]
    assert keeper.post(f"/core/unit/{unit.pk}/delete/").status_code == 302
    assert Unit.objects.filter(pk=unit.pk).exists()
    loop = api.patch(f"/api/units/{unit.pk}/", {"parent": unit.pk}, content_type="application/json")
    assert loop.status_code == 400 and "parent" in loop.json()
