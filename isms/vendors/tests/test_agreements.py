"""Confidentiality agreements (保密切結書; 5.1, 6.1.2, 6.1.3; forms A-8, A-9, A-10): the
register per role, the ID number's check digit, sealing (never in clear in the database or
the audit trail), masked display and the officer's audited reveal, the printed forms,
the signing rules, the 「應簽未簽」 page and the three duties."""

import datetime as dt
import json

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.compliance import engine
from isms.compliance.models import ObligationState
from isms.core import crypto
from isms.core import services as core_services
from isms.core.models import Person, SchoolProfile
from isms.core.roles import MANAGERS, PRINCIPAL, SECURITY_OFFICER, SUPERVISOR, SYSADMIN
from isms.core.testing import RegisterContract
from isms.vendors import agreements
from isms.vendors.models import Agreement, Contract, Vendor
from isms.vendors.views_agreements import BINDER_COLUMNS, AgreementRegister

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 28, 6, 5, tzinfo=dt.UTC)  # 115/11/28 14:05 in Taipei
TAIPEI = dt.timezone(dt.timedelta(hours=8))
ID = "A123456789"
OTHER_ID = "B234567894"
ADDRESS = "新北市板橋區文化路一段 100 號"
SCHOOL = "新北市穀保高級家事商業職業學校"
Form = Agreement.Form


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def _school():
    profile = SchoolProfile.load()
    profile.name = SCHOOL
    profile.save()


def taipei(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TAIPEI)


_counter = {"n": 0}


def person(kind=Person.Kind.CONTRACT, onboard=dt.date(2026, 9, 1), **fields) -> Person:
    _counter["n"] += 1
    return Person.objects.create(
        name=fields.pop("name", f"切結人{_counter['n']}"), kind=kind, onboard_date=onboard, **fields
    )


def vendor(**fields) -> Vendor:
    _counter["n"] += 1
    values = {"name": f"廠商{_counter['n']}", "tax_id": f"{_counter['n']:08d}"}
    values.update(fields)
    return Vendor.objects.create(**values)


def contract(owner, the_vendor, start=dt.date(2026, 9, 1), end=dt.date(2027, 8, 31), **fields):
    values = {"title": "校務系統維護", "services": "校務系統維護\n網路設備保固\n資安健診"}
    values.update(fields)
    return Contract.objects.create(
        vendor=the_vendor, start_on=start, end_on=end, owner=owner, **values
    )


def sealed_a8(p=None, **fields) -> Agreement:
    p = p or person()
    values = {
        "form": Form.A8,
        "person": p,
        "position": "資訊組約聘助理",
        "national_id_sealed": crypto.seal(ID),
        "national_id_last4": ID[-4:],
        "address_sealed": crypto.seal(ADDRESS),
    }
    values.update(fields)
    return Agreement.objects.create(**values)


def scan(name="scan.pdf"):
    return SimpleUploadedFile(name, b"%PDF-1.4 signed paper", content_type="application/pdf")


@pytest.fixture
def officer(make_user):
    return make_user("officer", SECURITY_OFFICER)


@pytest.fixture
def officer_client(client_for):
    return client_for(SECURITY_OFFICER)


def trail_text() -> str:
    rows = AuditEntry.objects.values_list("changes", "message", "object_repr")
    return json.dumps(list(rows), ensure_ascii=False)


# The register ---------------------------------------------------------------------------
class TestAgreementRegister(RegisterContract):
    register = AgreementRegister
    api_prefix = "agreements"
    readers = frozenset(MANAGERS)
    writers = frozenset({SECURITY_OFFICER})

    def make_sample(self, **overrides):
        return sealed_a8(**overrides)

    def form_data(self):
        return {
            "form": Form.A8,
            "person": person().pk,
            "position": "資訊組約聘助理",
            "national_id": ID,
            "address": ADDRESS,
            "notes": "",
        }

    def change_data(self, obj):
        return {
            "form": obj.form,
            "person": obj.person_id,
            "position": "教務處約聘人員",
            "national_id": "",
            "address": "",
            "notes": "職務調整",
        }

    def invalid_form_data(self):
        return {"form": Form.A8, "person": "", "position": "x", "national_id": ID}

    def invalid_api_data(self):
        return {"form": Form.A8, "position": "x", "national_id": "A123456788"}


# Who may write; the ID number -----------------------------------------------------------
def test_the_register_is_read_in_an_indexed_order(officer):
    """The list pages read 50 agreements in the register's order without sorting them all
    (29,000 on the bench: 240 ms a page without the index, 2 ms with it)."""
    assert list(AgreementRegister.ordering) in [list(i.fields) for i in Agreement._meta.indexes]
    for _ in range(3):
        sealed_a8()
    if connection.vendor == "sqlite":
        page = AgreementRegister.base_queryset().filter(voided_at__isnull=True)[:50]
        plan = page.explain()
        assert "vendors_agreement_order_idx" in plan and "TEMP B-TREE" not in plan, plan


class TestRules:
    def test_only_the_security_officer_writes(self, make_user):
        for role in (SUPERVISOR, PRINCIPAL, SYSADMIN):
            user = make_user(f"u-{role}", role)
            with pytest.raises(PermissionDenied):
                agreements.save_agreement(
                    Agreement(form=Form.A8, person=person(), position="助理"),
                    actor=user,
                    national_id=ID,
                    address=ADDRESS,
                )
        assert Agreement.objects.count() == 0

    def test_a_wrong_check_digit_is_refused(self, officer):
        with pytest.raises(ValidationError) as caught:
            agreements.save_agreement(
                Agreement(form=Form.A8, person=person(), position="助理"),
                actor=officer,
                national_id="A123456788",
                address=ADDRESS,
            )
        assert caught.value.message_dict["national_id"] == ["身分證字號檢查碼不正確"]
        assert Agreement.objects.count() == 0

    def test_the_form_page_shows_the_check_digit_error(self, officer_client):
        response = officer_client.post(
            reverse("vendors:agreement_add"),
            {
                "form": Form.A8,
                "person": person().pk,
                "position": "助理",
                "national_id": "A123456788",
                "address": ADDRESS,
            },
        )
        assert response.status_code == 400
        assert "身分證字號檢查碼不正確" in response.content.decode()
        assert Agreement.objects.count() == 0

    def test_a8_needs_the_id_number_and_address(self, officer):
        with pytest.raises(ValidationError) as caught:
            agreements.save_agreement(
                Agreement(form=Form.A8, person=person(), position="助理"),
                actor=officer,
                national_id="",
                address="",
            )
        assert {"national_id", "address"} <= set(caught.value.message_dict)

    @pytest.mark.parametrize(
        ("form", "kind"),
        [
            (Form.A8, Person.Kind.STAFF),
            (Form.A8, Person.Kind.VENDOR),
            (Form.A10, Person.Kind.CONTRACT),
            (Form.A10, Person.Kind.STAFF),
        ],
    )
    def test_the_person_kind_must_fit_the_form(self, officer, form, kind):
        with pytest.raises(ValidationError) as caught:
            agreements.save_agreement(
                Agreement(form=form, person=person(kind=kind), position="工作"),
                actor=officer,
                national_id=ID,
                address=ADDRESS,
            )
        assert "person" in caught.value.message_dict

    def test_a9_needs_a_vendor_and_takes_the_contract_services(self, officer):
        with pytest.raises(ValidationError) as caught:
            agreements.save_agreement(Agreement(form=Form.A9, services="維護"), actor=officer)
        assert "vendor" in caught.value.message_dict
        v = vendor()
        c = contract(officer, v)
        a = agreements.save_agreement(Agreement(form=Form.A9, contract=c), actor=officer)
        assert a.vendor_id == v.pk
        assert agreements.service_lines(a.services) == ["校務系統維護", "網路設備保固", "資安健診"]
        assert a.national_id_sealed == ""

    def test_a9_refuses_another_vendors_contract(self, officer):
        c = contract(officer, vendor())
        with pytest.raises(ValidationError) as caught:
            agreements.save_agreement(
                Agreement(form=Form.A9, vendor=vendor(), contract=c, services="維護"),
                actor=officer,
            )
        assert "contract" in caught.value.message_dict

    def test_a10_takes_the_company_of_the_persons_contract(self, officer):
        worker = person(kind=Person.Kind.VENDOR)
        v = vendor()
        c = contract(officer, v)
        c.people.add(worker)
        a = agreements.save_agreement(
            Agreement(form=Form.A10, person=worker, position="網路維修"), actor=officer
        )
        assert a.vendor_id == v.pk


# Sealing --------------------------------------------------------------------------------
class TestSealing:
    def _added(self, officer_client):
        response = officer_client.post(
            reverse("vendors:agreement_add"),
            {
                "form": Form.A8,
                "person": person().pk,
                "position": "助理",
                "national_id": ID.lower(),
                "address": ADDRESS,
            },
        )
        assert response.status_code == 302
        return Agreement.objects.get()

    def test_the_database_never_holds_the_id_or_address_in_clear(self, officer_client):
        a = self._added(officer_client)
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM vendors_agreement")
            row = " ".join(str(v) for v in cursor.fetchone())
        assert ID not in row and ID.lower() not in row and ADDRESS not in row
        assert crypto.unseal(a.national_id_sealed) == ID  # upper-cased
        assert crypto.unseal(a.address_sealed) == ADDRESS
        assert a.national_id_last4 == "6789"

    def test_the_trail_holds_neither_the_values_nor_the_tokens(self, officer_client):
        a = self._added(officer_client)
        edit = officer_client.post(
            reverse("vendors:agreement_edit", args=[a.pk]),
            {
                "form": Form.A8,
                "person": a.person_id,
                "position": "助理",
                "national_id": OTHER_ID,
                "address": "臺北市",
            },
        )
        assert edit.status_code == 302
        a.refresh_from_db()
        assert crypto.unseal(a.national_id_sealed) == OTHER_ID
        text = trail_text()
        for secret in (ID, OTHER_ID, ADDRESS, "臺北市", a.national_id_sealed, a.address_sealed):
            assert secret not in text
        last = AuditEntry.objects.order_by("-id").first()
        assert last.action == "update"
        assert last.changes["national_id_sealed"] == ["（已變更）", "（已變更）"]
        assert last.changes["address_sealed"] == ["（已變更）", "（已變更）"]

    def test_an_edit_that_leaves_the_id_blank_keeps_it(self, officer_client):
        a = self._added(officer_client)
        token = a.national_id_sealed
        response = officer_client.post(
            reverse("vendors:agreement_edit", args=[a.pk]),
            {
                "form": Form.A8,
                "person": a.person_id,
                "position": "新職務",
                "national_id": "",
                "address": "",
            },
        )
        assert response.status_code == 302
        a.refresh_from_db()
        assert a.national_id_sealed == token and a.position == "新職務"
        assert "national_id_sealed" not in AuditEntry.objects.order_by("-id").first().changes

    def test_the_api_never_answers_the_sealed_values(self, client_for):
        a = sealed_a8()
        c = TestAgreementRegister().api_client(client_for, SECURITY_OFFICER)
        body = c.get(f"/api/agreements/{a.pk}/").content.decode()
        assert ID not in body and ADDRESS not in body and a.national_id_sealed not in body
        assert json.loads(body)["national_id_masked"] == "******6789"


# Masked display and the reveal ----------------------------------------------------------
class TestReveal:
    @pytest.mark.parametrize("role", sorted(MANAGERS))
    def test_every_reader_sees_it_masked(self, client_for, role):
        a = sealed_a8()
        page = client_for(role).get(a.get_absolute_url()).content.decode()
        assert "******6789" in page
        assert ID not in page and ADDRESS not in page
        assert ("顯示身分證字號" in page) == (role == SECURITY_OFFICER)

    @pytest.mark.parametrize("role", [SUPERVISOR, PRINCIPAL, SYSADMIN])
    def test_only_the_officer_may_reveal(self, client_for, role):
        a = sealed_a8()
        c = client_for(role)
        response = c.post(reverse("vendors:agreement_reveal", args=[a.pk]))
        assert response.status_code == 403
        assert ID not in response.content.decode()
        assert not AuditEntry.objects.filter(action="export", object_id=str(a.pk)).exists()

    def test_the_officers_reveal_is_audited_and_not_stored(self, officer_client):
        a = sealed_a8()
        response = officer_client.post(reverse("vendors:agreement_reveal", args=[a.pk]))
        assert response.status_code == 200
        page = response.content.decode()
        assert ID in page and ADDRESS in page
        assert "no-store" in response["Cache-Control"]
        entry = AuditEntry.objects.order_by("-id").first()
        assert entry.message == "檢視身分證字號及戶籍地址"
        assert entry.object_id == str(a.pk) and entry.actor_id == officer_client.user.pk
        assert ID not in trail_text()
        again = officer_client.get(a.get_absolute_url()).content.decode()
        assert ID not in again and "******6789" in again

    def test_a_get_of_the_reveal_only_goes_back(self, officer_client):
        a = sealed_a8()
        entries = AuditEntry.objects.count()
        response = officer_client.get(reverse("vendors:agreement_reveal", args=[a.pk]))
        assert response.status_code == 302
        assert AuditEntry.objects.count() == entries


# The printed forms ----------------------------------------------------------------------
class TestPrint:
    def url(self, a, full=False):
        return reverse("vendors:agreement_print", args=[a.pk]) + ("?full=1" if full else "")

    def test_a8_draft_has_blank_date_and_masked_id(self, client_for):
        a = sealed_a8()
        page = client_for(SUPERVISOR).get(self.url(a, full=True)).content.decode()
        assert SCHOOL in page and a.person.name in page and "資訊組約聘助理" in page
        assert "文件編號：A-8" in page
        assert "******6789" in page and ID not in page and ADDRESS not in page
        assert f"本保密切結書一式兩份，分別由切結人以及{SCHOOL}保存" in page
        assert "切結人：" in page
        assert '<span class="n"></span>' in page  # 年 月 日 left blank on a draft

    def test_a8_full_print_for_the_officer_is_audited(self, officer_client):
        a = sealed_a8()
        entries = AuditEntry.objects.count()
        plain = officer_client.get(self.url(a)).content.decode()
        assert ID not in plain and AuditEntry.objects.count() == entries
        response = officer_client.get(self.url(a, full=True))
        page = response.content.decode()
        assert ID in page and ADDRESS in page
        assert "no-store" in response["Cache-Control"]
        assert AuditEntry.objects.count() == entries + 1
        assert "列印保密切結書" in AuditEntry.objects.order_by("-id").first().message

    def test_a8_signed_prints_the_roc_date(self, officer_client):
        a = sealed_a8(status=Agreement.Status.SIGNED, signed_on=dt.date(2026, 10, 5))
        page = officer_client.get(self.url(a)).content.decode()
        assert '<span class="n">115</span>' in page
        assert '<span class="n">10</span>' in page and '<span class="n">5</span>' in page

    def test_a9_numbers_the_services_and_names_the_company(self, officer, officer_client):
        v = vendor(name="好幫手資訊")
        a = agreements.save_agreement(
            Agreement(form=Form.A9, vendor=v, services="校務系統維護\n\n網路設備保固\n資安健診"),
            actor=officer,
        )
        page = officer_client.get(self.url(a)).content.decode()
        assert "服務委外單位服務暨保密切結書" in page and "文件編號：A-9" in page
        assert "一、校務系統維護" in page and "二、網路設備保固" in page and "三、資安健診" in page
        assert f"本服務暨保密切結書一式兩份，分別由好幫手資訊公司以及{SCHOOL}保存" in page
        assert "申請單位及負責人蓋章" in page
        assert "好幫手資訊</span>公司(以下簡稱為本公司)" in page

    def test_a9_of_a_registered_company_name_says_公司_once(self, officer, officer_client):
        v = vendor(name="正德電腦有限公司")
        a = agreements.save_agreement(
            Agreement(form=Form.A9, vendor=v, services="維護"), actor=officer
        )
        page = officer_client.get(self.url(a)).content.decode()
        assert "公司公司" not in page
        assert "正德電腦有限公司</span>(以下簡稱為本公司)" in page
        assert f"分別由正德電腦有限公司以及{SCHOOL}保存" in page

    def test_a10_shows_the_company_and_its_tax_id(self, officer, client_for):
        v = vendor(name="網通工程", tax_id="04595257")
        worker = person(kind=Person.Kind.VENDOR, name="王小明")
        a = agreements.save_agreement(
            Agreement(form=Form.A10, person=worker, vendor=v, position="校園網路維修"),
            actor=officer,
        )
        page = client_for(PRINCIPAL).get(self.url(a)).content.decode()
        assert "委外廠商人員保密切結書" in page and "文件編號：A-10" in page
        assert "王小明" in page and "網通工程" in page and "04595257" in page
        assert "校園網路維修" in page and SCHOOL in page

    def test_print_needs_a_reader(self, client_for):
        a = sealed_a8()
        assert client_for(SYSADMIN).get(self.url(a)).status_code == 403


# Recording as signed --------------------------------------------------------------------
class TestSigning:
    def sign_url(self, a):
        return reverse("vendors:agreement_sign", args=[a.pk])

    def test_signing_with_the_scan_in_the_same_post(self, officer_client):
        a = sealed_a8()
        response = officer_client.post(self.sign_url(a), {"signed_on": "115/11/20", "scan": scan()})
        assert response.status_code == 302
        a.refresh_from_db()
        assert a.status == Agreement.Status.SIGNED and a.signed_on == dt.date(2026, 11, 20)
        assert a.recorded_by_id == officer_client.user.pk
        assert core_services.attachments_for(a).count() == 1

    def test_signing_needs_a_scan(self, officer_client):
        a = sealed_a8()
        response = officer_client.post(self.sign_url(a), {"signed_on": "115/11/20"})
        assert response.status_code == 400
        assert "掃描檔" in response.content.decode()
        a.refresh_from_db()
        assert a.status == Agreement.Status.DRAFT

    def test_a_scan_uploaded_before_is_enough(self, officer, officer_client):
        a = sealed_a8()
        core_services.attachment_add(target=a, upload=scan(), actor=officer)
        response = officer_client.post(self.sign_url(a), {"signed_on": "115/11/20"})
        assert response.status_code == 302

    def test_a_voided_scan_is_not_enough(self, officer):
        a = sealed_a8()
        attachment = core_services.attachment_add(target=a, upload=scan(), actor=officer)
        core_services.record_void(attachment, actor=officer, reason="上傳錯檔")
        with pytest.raises(ValidationError) as caught:
            agreements.sign(a, actor=officer, signed_on=dt.date(2026, 11, 20))
        assert "scan" in caught.value.message_dict

    def test_the_date_may_not_be_in_the_future(self, officer):
        a = sealed_a8()
        with pytest.raises(ValidationError) as caught:
            agreements.sign(a, actor=officer, signed_on=dt.date(2026, 11, 29), scan=scan())
        assert "晚於今天" in caught.value.message_dict["signed_on"][0]

    def test_the_date_may_not_precede_the_onboarding(self, officer):
        a = sealed_a8(person(onboard=dt.date(2026, 11, 1)))
        with pytest.raises(ValidationError) as caught:
            agreements.sign(a, actor=officer, signed_on=dt.date(2026, 10, 31), scan=scan())
        assert "到職日" in caught.value.message_dict["signed_on"][0]
        agreements.sign(a, actor=officer, signed_on=dt.date(2026, 11, 1), scan=scan())

    def test_the_date_may_not_precede_the_contract(self, officer):
        v = vendor()
        Vendor.objects.filter(pk=v.pk).update(created_at=taipei(2026, 8, 1, 9, 0))
        c = contract(officer, v, start=dt.date(2026, 11, 10))
        a = agreements.save_agreement(Agreement(form=Form.A9, contract=c), actor=officer)
        with pytest.raises(ValidationError) as caught:
            agreements.sign(a, actor=officer, signed_on=dt.date(2026, 11, 9), scan=scan())
        assert "合約起始日" in caught.value.message_dict["signed_on"][0]

    def test_a_paper_signed_before_the_vendor_was_entered_is_accepted(self, officer):
        # When the records were typed into the product says nothing of the paper's date.
        a = agreements.save_agreement(
            Agreement(form=Form.A9, vendor=vendor(), services="維護"), actor=officer
        )
        signed = agreements.sign(a, actor=officer, signed_on=dt.date(2025, 3, 1), scan=scan())
        assert signed.signed_on == dt.date(2025, 3, 1)

    def test_validity_not_before_the_signature_and_no_second_signing(self, officer):
        a = sealed_a8()
        with pytest.raises(ValidationError) as caught:
            agreements.sign(
                a,
                actor=officer,
                signed_on=dt.date(2026, 11, 20),
                valid_until=dt.date(2026, 11, 19),
                scan=scan(),
            )
        assert "valid_until" in caught.value.message_dict
        agreements.sign(a, actor=officer, signed_on=dt.date(2026, 11, 20), scan=scan())
        with pytest.raises(ValidationError):
            agreements.sign(a, actor=officer, signed_on=dt.date(2026, 11, 21), scan=scan())

    @pytest.mark.parametrize("role", [SUPERVISOR, PRINCIPAL, SYSADMIN])
    def test_only_the_officer_records_the_signature(self, client_for, role):
        a = sealed_a8()
        response = client_for(role).post(
            self.sign_url(a), {"signed_on": "115/11/20", "scan": scan()}
        )
        assert response.status_code == 403
        a.refresh_from_db()
        assert a.status == Agreement.Status.DRAFT

    def test_a_signed_agreement_only_changes_notes_and_validity(self, officer, officer_client):
        a = sealed_a8()
        agreements.sign(a, actor=officer, signed_on=dt.date(2026, 11, 20), scan=scan())
        a.position = "另一職務"
        with pytest.raises(ValidationError) as caught:
            agreements.save_agreement(a, actor=officer)
        assert "position" in caught.value.message_dict
        a.refresh_from_db()
        a.notes, a.valid_until = "續約", dt.date(2027, 7, 31)
        agreements.save_agreement(a, actor=officer)
        a.refresh_from_db()
        assert a.notes == "續約" and a.position == "資訊組約聘助理"


# 應簽未簽 and the duties --------------------------------------------------------------------
def state_of(form, subject) -> str:
    return ObligationState.objects.get(
        key=agreements.DUTIES[form], subject_id=str(subject.pk)
    ).status


class TestDuties:
    def test_a8_overdue_after_the_grace_then_ok_then_lapsed(self, officer):
        p = person(onboard=dt.date(2026, 12, 1))
        with time_machine.travel(taipei(2026, 12, 15, 23, 59), tick=False):
            engine.refresh(agreements.DUTIES[Form.A8])
            assert state_of(Form.A8, p) != "overdue"
        with time_machine.travel(taipei(2026, 12, 16, 0, 0), tick=False):
            engine.refresh(agreements.DUTIES[Form.A8])
            assert state_of(Form.A8, p) == "overdue"
            a = sealed_a8(p)
            agreements.sign(
                a,
                actor=officer,
                signed_on=dt.date(2026, 12, 10),
                valid_until=dt.date(2027, 1, 31),
                scan=scan(),
            )
            assert state_of(Form.A8, p) == "ok"
        with time_machine.travel(taipei(2027, 2, 1, 9, 0), tick=False):
            engine.refresh(agreements.DUTIES[Form.A8])
            assert state_of(Form.A8, p) == "overdue"

    def test_a9_for_vendors_with_a_running_contract(self, officer):
        running, ended = vendor(), vendor()
        contract(officer, running, start=dt.date(2026, 9, 1))
        contract(officer, ended, start=dt.date(2025, 9, 1), end=dt.date(2026, 8, 31))
        engine.refresh(agreements.DUTIES[Form.A9])
        assert state_of(Form.A9, running) == "overdue"  # due 115/09/15
        assert not ObligationState.objects.filter(
            key=agreements.DUTIES[Form.A9], subject_id=str(ended.pk)
        ).exists()
        a = agreements.save_agreement(
            Agreement(form=Form.A9, vendor=running, services="維護"), actor=officer
        )
        agreements.sign(a, actor=officer, signed_on=dt.date(2026, 11, 28), scan=scan())
        assert state_of(Form.A9, running) == "ok"

    def test_a10_for_vendor_staff_and_voiding_makes_it_missing(self, officer):
        worker = person(kind=Person.Kind.VENDOR, onboard=dt.date(2026, 11, 20))
        a = agreements.save_agreement(
            Agreement(form=Form.A10, person=worker, position="網路維修"), actor=officer
        )
        agreements.sign(a, actor=officer, signed_on=dt.date(2026, 11, 21), scan=scan())
        assert state_of(Form.A10, worker) == "ok"
        agreements.void_agreement(a, actor=officer, reason="簽錯表單")
        assert state_of(Form.A10, worker) != "ok"

    def test_staff_and_students_owe_nothing(self):
        staff = person(kind=Person.Kind.STAFF)
        for key in agreements.DUTIES.values():
            engine.refresh(key)
            assert not ObligationState.objects.filter(key=key, subject_id=str(staff.pk)).exists()


class TestFindings:
    def page(self, client):
        return client.get(reverse("vendors:agreement_findings"))

    def test_lists_who_should_sign_with_links(self, officer, officer_client):
        late = person(onboard=dt.date(2026, 11, 1), name="逾期甲")
        fresh = person(onboard=dt.date(2026, 11, 25), name="新進乙")
        signed = person(name="已簽丙")
        lapsed = person(name="過期丁")
        sealed_a8(signed, status=Agreement.Status.SIGNED, signed_on=dt.date(2026, 9, 2))
        sealed_a8(
            lapsed,
            status=Agreement.Status.SIGNED,
            signed_on=dt.date(2026, 9, 2),
            valid_until=dt.date(2026, 11, 1),
        )
        worker = person(kind=Person.Kind.VENDOR, name="廠商人員戊")
        v = vendor(name="執行中廠商")
        c = contract(officer, v)
        response = self.page(officer_client)
        assert response.status_code == 200
        page = response.content.decode()
        assert "逾期甲" in page and "新進乙" in page and "過期丁" in page
        assert "已簽丙" not in page
        assert "廠商人員戊" in page and "執行中廠商" in page
        assert "逾期未簽" in page
        assert "115/11/01" in page  # the lapsed validity
        add = reverse("vendors:agreement_add")
        assert f"{add}?form=A-8&amp;person={late.pk}" in page
        assert f"{add}?form=A-9&amp;vendor={v.pk}&amp;contract={c.pk}" in page
        assert f"{add}?form=A-10&amp;person={worker.pk}" in page
        assert fresh.pk

    def test_a_draft_is_linked_instead(self, officer_client):
        p = person(name="有草稿")
        a = sealed_a8(p)
        page = self.page(officer_client).content.decode()
        assert reverse("vendors:agreement_detail", args=[a.pk]) in page

    def test_readers_only(self, client_for):
        assert self.page(client_for(SUPERVISOR)).status_code == 200
        assert self.page(client_for(SYSADMIN)).status_code == 403

    def test_a_vendors_figures_from_several_contracts_and_agreements(self, officer):
        """Each figure of a vendor is read apart (correlated subqueries): its agreements are
        not joined with its contracts and counted once per contract."""
        v = vendor(name="三份合約廠商")
        contract(officer, v, start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31))
        contract(officer, v, start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31))
        now_running = contract(officer, v, start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31))
        contract(officer, v, start=dt.date(2027, 1, 1), end=dt.date(2027, 12, 31))
        voided = contract(officer, v, start=dt.date(2023, 1, 1), end=dt.date(2026, 12, 31))
        Contract.objects.filter(pk=voided.pk).update(voided_at=NOW)
        signed = {"form": Form.A9, "vendor": v, "status": Agreement.Status.SIGNED}
        Agreement.objects.create(
            **signed, signed_on=dt.date(2024, 1, 5), valid_until=dt.date(2024, 12, 31)
        )
        Agreement.objects.create(
            **signed, signed_on=dt.date(2025, 1, 5), valid_until=dt.date(2025, 12, 31)
        )
        draft = Agreement.objects.create(form=Form.A9, vendor=v)
        idle = vendor(name="沒有執行中合約")
        contract(officer, idle, start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31))

        rows = list(agreements.vendors_needing())
        assert [r.pk for r in rows] == [v.pk]
        row = rows[0]
        assert row.signed is None
        assert row.lapsed_on == dt.date(2025, 12, 31)
        assert row.draft_id == draft.pk
        assert row.first_start == dt.date(2024, 1, 1)  # the voided contract does not count
        assert row.running_contract == now_running.pk
        [a9] = [s for s in agreements.findings() if s["form"] == Form.A9]
        assert [r["subject"].pk for r in a9["rows"]] == [v.pk]
        assert a9["rows"][0]["need_on"] == dt.date(2024, 1, 1)
        sql = str(agreements.vendors_needing().query)
        assert 'JOIN "vendors_contract"' not in sql

        Agreement.objects.create(**signed, signed_on=dt.date(2026, 1, 5))
        row = agreements.vendors_needing().get()
        assert row.signed == dt.date(2026, 1, 5)
        assert not next(s for s in agreements.findings() if s["form"] == Form.A9)["rows"]

    def test_the_add_page_takes_the_prefill(self, officer_client):
        p = person()
        response = officer_client.get(
            reverse("vendors:agreement_add"), {"form": "A-8", "person": p.pk}
        )
        assert response.status_code == 200
        assert f'value="{p.pk}" selected' in response.content.decode()


# The evidence binder and the export -----------------------------------------------------
def test_binder_and_export_columns_hold_no_sealed_values(client_for):
    names = {c.name for c in BINDER_COLUMNS}
    assert not names & {"national_id_sealed", "national_id_last4", "address_sealed", "national_id"}
    sealed_a8()
    response = client_for(SECURITY_OFFICER).get(
        reverse("vendors:agreement_export"), {"format": "csv"}
    )
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert ID not in body and "6789" not in body and ADDRESS not in body
    assert "資訊組約聘助理" in body


def test_duty_history_gives_each_signature_in_the_span():
    from isms.compliance.registry import REGISTRY

    p = person()
    sealed_a8(p, status=Agreement.Status.SIGNED, signed_on=dt.date(2026, 10, 1))
    sealed_a8(person(), status=Agreement.Status.DRAFT)
    duty = REGISTRY[agreements.DUTIES[Form.A8]]
    since, until = taipei(2026, 1, 1), taipei(2026, 12, 31, 23, 59)
    assert duty.history(duty.subjects(), since, until) == [
        (p.pk, agreements.need_start(dt.date(2026, 10, 1)))
    ]
