"""A server-room visit by a registered vendor (3.1.3 with 6.1, 6.1.2, 6.1.3): the line names
the vendor, its name is the company printed, a voided vendor is refused for a new line, and
the visit's page tells what the vendor's contract and agreements lack on the day of the
visit; the vendor's page lists its visits."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.core import services as core_services
from isms.core.models import Person
from isms.core.roles import SECURITY_OFFICER, SUPERVISOR, SYSADMIN
from isms.facilities import visits
from isms.facilities.models import Room, Visit
from isms.vendors import agreements
from isms.vendors.models import Agreement, Contract, Vendor

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 28, 6, 5, tzinfo=dt.UTC)  # 115/11/28 14:05 in Taipei
TAIPEI = dt.timezone(dt.timedelta(hours=8))
DAY = dt.date(2026, 11, 28)
Form = Agreement.Form


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def admin(make_user):
    return make_user("visit-admin", SYSADMIN)


@pytest.fixture
def room(admin):
    return Room.objects.create(name="主機機房", kind=Room.Kind.SERVER_ROOM, keeper=admin)


@pytest.fixture
def vendor():
    return Vendor.objects.create(name="宏達資訊股份有限公司", tax_id="04595257")


@pytest.fixture
def engineer():
    return Person.objects.create(
        name="簡宏達", kind=Person.Kind.VENDOR, onboard_date=dt.date(2026, 1, 1)
    )


def contract(vendor, owner, people=(), start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31)):
    c = Contract.objects.create(
        vendor=vendor,
        title="校務系統維護",
        services="校務系統維護",
        start_on=start,
        end_on=end,
        owner=owner,
        security_terms=True,
        confidentiality_terms=True,
    )
    c.people.set(people)
    return c


def signed(form, *, vendor=None, person=None, valid_until=None, status="signed"):
    return Agreement.objects.create(
        form=form,
        vendor=vendor,
        person=person,
        status=status,
        signed_on=dt.date(2026, 1, 5) if status == "signed" else None,
        valid_until=valid_until,
    )


def vendor_visit(room, by, **values) -> Visit:
    data = {
        "room": room,
        "entered_at": dt.datetime(2026, 11, 28, 9, 30, tzinfo=TAIPEI),
        "purpose": Visit.Purpose.REPAIR,
        "purpose_detail": "校務系統版本更新",
        "unit": Visit.Unit.VENDOR,
        "visitor_name": "簡宏達",
        "escort": by,
    }
    data.update(values)
    return visits.save_visit(Visit(**data), actor=by)


class TestTheLine:
    def test_the_registered_vendor_is_the_company_on_the_line(self, admin, room, vendor):
        v = vendor_visit(room, admin, vendor=vendor, company="別的名字")
        v.refresh_from_db()
        assert v.vendor_id == vendor.pk
        assert v.company == "宏達資訊股份有限公司"
        assert visits.unit_label(v) == "廠商：宏達資訊股份有限公司"

    def test_the_vendor_is_recorded_in_the_trail(self, admin, room, vendor):
        v = vendor_visit(room, admin, vendor=vendor)
        entry = AuditEntry.objects.filter(
            object_id=str(v.pk), action="create", model_label="facilities.visit"
        ).get()
        assert entry.actor_id == admin.pk
        assert entry.changes["vendor_id"] == [None, vendor.pk]

    def test_an_unregistered_company_is_still_written_by_name(self, admin, room):
        v = vendor_visit(room, admin, company="臨時維修行")
        assert v.vendor is None and v.company == "臨時維修行"

    def test_a_vendor_line_needs_the_vendor_or_a_name(self, admin, room):
        with pytest.raises(ValidationError) as excinfo:
            vendor_visit(room, admin)
        assert "委外廠商" in excinfo.value.message_dict["company"][0]
        assert not Visit.objects.exists()

    def test_another_unit_drops_the_vendor(self, admin, room, vendor):
        v = vendor_visit(room, admin, vendor=vendor, unit=Visit.Unit.GENERAL_AFFAIRS)
        v.refresh_from_db()
        assert v.vendor is None and v.company == ""

    def test_a_voided_vendor_is_refused_for_a_new_line(self, admin, room, vendor):
        core_services.record_void(vendor, actor=admin, reason="合約終止")
        with pytest.raises(ValidationError) as excinfo:
            vendor_visit(room, admin, vendor=vendor)
        assert "作廢" in excinfo.value.message_dict["vendor"][0]
        assert not Visit.objects.exists()

    def test_a_line_keeps_its_vendor_voided_later(self, admin, room, vendor):
        v = vendor_visit(room, admin, vendor=vendor)
        core_services.record_void(vendor, actor=admin, reason="合約終止")
        v.notes = "補記"
        visits.save_visit(v, actor=admin)
        v.refresh_from_db()
        assert v.vendor_id == vendor.pk and v.notes == "補記"


class TestGaps:
    def test_all_in_order_means_no_gap(self, admin, room, vendor, engineer):
        contract(vendor, admin, people=[engineer])
        signed(Form.A9, vendor=vendor)
        signed(Form.A10, vendor=vendor, person=engineer)
        v = vendor_visit(room, admin, vendor=vendor)
        assert visits.vendor_gaps(v) == []

    def test_no_running_contract_on_the_day(self, admin, room, vendor, engineer):
        contract(vendor, admin, people=[engineer], end=dt.date(2026, 11, 27))
        signed(Form.A9, vendor=vendor)
        signed(Form.A10, vendor=vendor, person=engineer)
        gaps = visits.vendor_gaps(vendor_visit(room, admin, vendor=vendor))
        assert len(gaps) == 1 and "6.1" in gaps[0] and "115/11/28" in gaps[0]

    def test_the_contract_end_day_still_counts(self, admin, room, vendor, engineer):
        contract(vendor, admin, people=[engineer], end=DAY)
        signed(Form.A9, vendor=vendor)
        signed(Form.A10, vendor=vendor, person=engineer)
        assert visits.vendor_gaps(vendor_visit(room, admin, vendor=vendor)) == []

    def test_a_voided_contract_does_not_count(self, admin, room, vendor, engineer):
        c = contract(vendor, admin, people=[engineer])
        c.voided_at = NOW
        c.save()
        signed(Form.A9, vendor=vendor)
        signed(Form.A10, vendor=vendor, person=engineer)
        gaps = visits.vendor_gaps(vendor_visit(room, admin, vendor=vendor))
        assert any("6.1）" in g for g in gaps)

    def test_no_a9(self, admin, room, vendor, engineer):
        contract(vendor, admin, people=[engineer])
        signed(Form.A9, vendor=vendor, status="draft")
        signed(Form.A10, vendor=vendor, person=engineer)
        gaps = visits.vendor_gaps(vendor_visit(room, admin, vendor=vendor))
        assert len(gaps) == 1 and "A-9" in gaps[0] and "6.1.2" in gaps[0]

    def test_a_lapsed_a10(self, admin, room, vendor, engineer):
        contract(vendor, admin, people=[engineer])
        signed(Form.A9, vendor=vendor)
        signed(Form.A10, vendor=vendor, person=engineer, valid_until=dt.date(2026, 11, 27))
        gaps = visits.vendor_gaps(vendor_visit(room, admin, vendor=vendor))
        assert len(gaps) == 1 and "A-10" in gaps[0] and "簡宏達" in gaps[0]

    def test_a_visitor_not_on_the_vendor_contracts(self, admin, room, vendor, engineer):
        contract(vendor, admin, people=[engineer])
        signed(Form.A9, vendor=vendor)
        signed(Form.A10, vendor=vendor, person=engineer)
        gaps = visits.vendor_gaps(vendor_visit(room, admin, vendor=vendor, visitor_name="林小明"))
        assert len(gaps) == 1 and "林小明" in gaps[0] and "到校服務人員" in gaps[0]

    def test_the_day_is_the_day_of_the_visit_in_taipei(self, admin, room, vendor, engineer):
        # 00:30 on 11/28 in Taipei is still 11/27 in UTC: the contract starts on 11/28.
        contract(vendor, admin, people=[engineer], start=DAY)
        signed(Form.A9, vendor=vendor)
        signed(Form.A10, vendor=vendor, person=engineer)
        early = dt.datetime(2026, 11, 28, 0, 30, tzinfo=TAIPEI)
        assert visits.vendor_gaps(vendor_visit(room, admin, vendor=vendor, entered_at=early)) == []

    def test_a_name_only_line_has_no_check(self, admin, room):
        assert visits.vendor_gaps(vendor_visit(room, admin, company="臨時維修行")) == []


class TestPages:
    def client(self, user) -> Client:
        c = Client()
        c.force_login(user)
        return c

    def test_the_form_offers_the_vendor_and_the_page_shows_the_gaps(
        self, admin, room, vendor, engineer
    ):
        c = self.client(admin)
        response = c.post(
            reverse("facilities:visit_add"),
            {
                "room": room.pk,
                "entered_at": "115/11/28 09:30",
                "purpose": Visit.Purpose.REPAIR,
                "purpose_detail": "校務系統版本更新",
                "carries_equipment": "False",
                "unit": Visit.Unit.VENDOR,
                "vendor": vendor.pk,
                "visitor_name": "簡宏達",
                "escort": admin.pk,
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        v = Visit.objects.get()
        assert v.vendor == vendor and v.company == vendor.name
        page = c.get(v.get_absolute_url()).content.decode()
        assert "data-vendor-gaps" in page
        assert "沒有執行中的委外合約" in page and "A-9" in page
        assert vendor.get_absolute_url() in page

    def test_the_page_has_no_warning_when_all_is_signed(self, admin, room, vendor, engineer):
        contract(vendor, admin, people=[engineer])
        signed(Form.A9, vendor=vendor)
        signed(Form.A10, vendor=vendor, person=engineer)
        v = vendor_visit(room, admin, vendor=vendor)
        page = self.client(admin).get(v.get_absolute_url()).content.decode()
        assert "data-vendor-gaps" not in page

    def test_the_list_filters_by_vendor(self, admin, room, vendor):
        mine = vendor_visit(room, admin, vendor=vendor)
        other = vendor_visit(room, admin, company="臨時維修行", visitor_name="路人甲")
        page = (
            self.client(admin)
            .get(reverse("facilities:visit_list") + f"?vendor={vendor.pk}")
            .content.decode()
        )
        assert mine.get_absolute_url() in page
        assert other.get_absolute_url() not in page

    @pytest.mark.parametrize("role", [SECURITY_OFFICER, SYSADMIN, SUPERVISOR])
    def test_the_vendor_page_lists_its_visits(self, make_user, admin, room, vendor, role):
        v = vendor_visit(room, admin, vendor=vendor)
        page = self.client(make_user(f"u-{role}", role)).get(vendor.get_absolute_url())
        text = page.content.decode()
        assert page.status_code == 200
        assert f'data-visit="{v.pk}"' in text
        assert reverse("facilities:visit_list") + f"?vendor={vendor.pk}" in text

    def test_a_voided_visit_is_not_listed_on_the_vendor_page(self, admin, room, vendor):
        v = vendor_visit(room, admin, vendor=vendor)
        core_services.record_void(v, actor=admin, reason="誤登")
        text = self.client(admin).get(vendor.get_absolute_url()).content.decode()
        assert f'data-visit="{v.pk}"' not in text
        assert "尚無此廠商的機房進出紀錄" in text

    def test_the_api_takes_the_vendor(self, admin, room, vendor):
        _token, key = core_services.token_create(user=admin, name="t", actor=admin)
        c = Client()
        response = c.post(
            "/api/room-visits/",
            {
                "room": room.pk,
                "entered_at": "2026-11-28T09:30:00+08:00",
                "purpose": Visit.Purpose.REPAIR,
                "purpose_detail": "更新",
                "unit": Visit.Unit.VENDOR,
                "vendor": vendor.pk,
                "visitor_name": "簡宏達",
                "escort": admin.pk,
            },
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {key}",
        )
        assert response.status_code == 201, response.content
        assert response.json()["company"] == vendor.name
        assert response.json()["vendor"] == vendor.pk


def test_the_agreement_service_reads_a_vendor_that_is_gone():
    assert agreements.visit_gaps(999999, "某人", DAY) == []
