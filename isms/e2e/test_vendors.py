"""Vendors, contracts and confidentiality agreements (6.1, 6.2, 5.1; A-8, A-9, A-10) in a
real browser.

Vendor and contract: the 資安業務承辦人 adds a vendor with its contact — a 統一編號 whose
check digit is wrong is refused on its field and nothing is saved — then, from the vendor's
page, a contract with its services, system and the vendor's people (only 委外廠商人員 are
offered); without 「合約訂有資訊安全責任」 it is saved and flagged (6.1.1).

Agreements: from 保密切結書應簽未簽, an A-10 for a vendor employee and an A-9 for the company
are drafted from the running contract and printed (the school, the person, the company and
its 統一編號, the numbered services, the two-copies note, the ROC date once signed). The A-10
is recorded as signed with its scan: a date before the contract's start is refused (nothing
saved, no file kept), the right one accepted. An A-8 for a contract staff member: a wrong
身分證字號 is refused, the right one is sealed and shown masked; the officer reveals it
(audited), the supervisor has no button and is refused (403).

Contract end: the officer ends a contract early (終止日 today) on its edit page; nothing
happens on its last day; the next morning the worker's pass opens, through the identity
module's off-boarding, a removal task for each account of its people not on another running
contract. The contract's page, 帳號移除工作 and the duty vendors.access_removed show them;
the 系統管理人員 finishes them and the duty has its evidence.
"""

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from isms.audit.models import AuditEntry
from isms.compliance import engine
from isms.compliance.models import ObligationState
from isms.compliance.registry import JOBS
from isms.core import roc
from isms.core.models import Attachment, Person, SchoolProfile
from isms.core.roles import SECURITY_OFFICER, SUPERVISOR, SYSADMIN
from isms.core.validators import tax_id_ok
from isms.identity import services as identity
from isms.identity.models import Account, InformationSystem, OffboardingTask
from isms.vendors import vendors as vendor_rules
from isms.vendors.models import Agreement, Contract, Vendor, VendorContact

from .test_account_request import person_with_login, sign_in
from .test_first_sign_in import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TAIPEI = ZoneInfo("Asia/Taipei")
SCHOOL = "新北市穀保高級家事商業職業學校"
VENDOR = "正德電腦有限公司"
TAX_ID = "24536806"
BAD_TAX_ID = "24536807"  # the same number with a wrong check digit
SYSTEM = "校務行政系統"
SERVICES = ["校務行政系統維護及版本更新", "資料庫備份與還原演練", "系統弱點修補"]
ID_NUMBER = "A123456789"
BAD_ID_NUMBER = "A123456788"
ADDRESS = "新北市板橋區文化路一段 100 號"
DUTY = "vendors.access_removed"


def roc_day(day: dt.date) -> str:
    return roc.format_roc(day)


def name_the_school() -> None:
    profile = SchoolProfile.load()
    profile.name = SCHOOL
    profile.save()


def vendor_staff(name: str, *, onboard: dt.date | None = None) -> Person:
    return Person.objects.create(
        name=name, kind=Person.Kind.VENDOR, organization=VENDOR, onboard_date=onboard
    )


def open_menu(page, group: str, item: str) -> None:
    page.get_by_role("button", name=group).click()
    page.locator("#mainnav").get_by_role("link", name=item, exact=True).click()


def a_vendor(officer) -> Vendor:
    return vendor_rules.save_vendor(
        Vendor(name=VENDOR, tax_id=TAX_ID, representative="張正德"), actor=officer
    )


def a_contract(officer, vendor, *, start, end, people=(), systems=()) -> Contract:
    contract = Contract(
        vendor=vendor,
        title="校務行政系統維護",
        number="115-資-001",
        start_on=start,
        end_on=end,
        services="\n".join(SERVICES),
        security_terms=True,
        confidentiality_terms=True,
        owner=officer,
    )
    return vendor_rules.save_contract(
        contract, actor=officer, people=list(people), systems=list(systems)
    )


def an_account(person, system, username) -> Account:
    account = Account(system=system, username=username)
    account.person = person
    return identity.save_account(account, actor=None)


def pdf(name: str) -> dict:
    return {"name": name, "mimeType": "application/pdf", "buffer": b"%PDF-1.4 signed paper\n"}


def test_vendor_with_its_contact_and_a_contract_without_security_terms(live_server, page):
    assert tax_id_ok(TAX_ID) and not tax_id_ok(BAD_TAX_ID)
    name_the_school()
    officer = person_with_login("officer", SECURITY_OFFICER, "林怡君")
    system = InformationSystem.objects.create(name=SYSTEM)
    today = timezone.localdate()
    engineer = vendor_staff("張志豪", onboard=today - dt.timedelta(days=30))
    assistant = vendor_staff("陳柏翰", onboard=today - dt.timedelta(days=30))
    Person.objects.create(name="劉雅婷", kind=Person.Kind.STAFF)  # a teacher: not offered

    # The vendor, from the menu; a 統一編號 with a wrong check digit saves nothing.
    sign_in(page, live_server, "officer")
    open_menu(page, "委外與保密", "委外廠商")
    page.wait_for_url("**/vendors/vendors/")
    page.get_by_role("link", name="新增委外廠商").click()
    page.wait_for_url("**/vendors/vendors/add/")
    page.fill("#id_name", VENDOR)
    page.fill("#id_tax_id", BAD_TAX_ID)
    page.fill("#id_representative", "張正德")
    page.fill("#id_address", "新北市板橋區中山路一段 50 號 3 樓")
    page.fill("#id_phone", "02-2960-1234")
    page.fill("#id_email", "service@zhengde.com.tw")
    contacts = page.locator("[data-section=contacts]")
    contacts.locator("#id_contacts-0-name").fill("王小明")
    contacts.locator("#id_contacts-0-title").fill("業務經理")
    contacts.locator("#id_contacts-0-phone").fill("0912-345-678")
    contacts.locator("#id_contacts-0-email").fill("wang@zhengde.com.tw")
    page.get_by_role("button", name="儲存").click()
    expect(page.locator("#id_tax_id ~ .invalid-feedback")).to_have_text("統一編號檢查碼不正確。")
    expect(page.locator("main .alert-danger")).to_contain_text(
        "請修正下列欄位的錯誤，資料尚未儲存。"
    )
    expect(page.locator(".invalid-feedback")).to_have_count(1)
    assert not Vendor.objects.exists() and not VendorContact.objects.exists()
    # What was typed is kept, the contact too.
    expect(page.locator("#id_name")).to_have_value(VENDOR)
    expect(contacts.locator("#id_contacts-0-name")).to_have_value("王小明")
    page.fill("#id_tax_id", TAX_ID)
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/vendors/vendors/\d+/$"))
    vendor = Vendor.objects.get()
    assert (vendor.name, vendor.tax_id, vendor.representative) == (VENDOR, TAX_ID, "張正德")
    assert vendor.email == "service@zhengde.com.tw"
    contact = VendorContact.objects.get()
    assert (contact.vendor, contact.name, contact.title) == (vendor, "王小明", "業務經理")
    assert (contact.phone, contact.email) == ("0912-345-678", "wang@zhengde.com.tw")
    expect(page.locator(".alert-success")).to_contain_text(f"已儲存「{VENDOR}」。")
    expect(page.locator("[data-field=tax_id]")).to_have_text(TAX_ID)
    row = page.locator(f"#contacts tr[data-contact='{contact.pk}']")
    for text in ("王小明", "業務經理", "0912-345-678", "wang@zhengde.com.tw"):
        expect(row).to_contain_text(text)
    expect(page.locator("#contracts")).to_contain_text("尚無委外合約。")

    # The contract, from the vendor's page: only vendor staff are offered as its people.
    page.get_by_role("link", name="新增委外合約").click()
    page.wait_for_url(re.compile(r"/vendors/contracts/add/\?vendor=\d+$"))
    expect(page.locator("#id_vendor")).to_have_value(str(vendor.pk))
    expect(page.locator("#id_owner")).to_have_value(str(officer.pk))
    people = page.locator("[data-field=people]")
    expect(people.locator("input[type=checkbox]")).to_have_count(2)
    expect(people).not_to_contain_text("劉雅婷")
    start, end = today - dt.timedelta(days=60), today + dt.timedelta(days=300)
    page.fill("#id_title", "校務行政系統維護")
    page.fill("#id_number", "115-資-001")
    page.fill("#id_start_on", roc_day(start))
    page.fill("#id_end_on", roc_day(end))
    page.fill("#id_services", "\n".join(SERVICES))
    terms = page.locator("[data-section=terms]")
    expect(terms.get_by_label("合約訂有資訊安全責任")).not_to_be_checked()
    terms.get_by_label("合約訂有保密規定").check()
    page.locator("[data-field=systems]").get_by_label(SYSTEM, exact=True).check()
    people.get_by_label(f"張志豪（{VENDOR}）", exact=True).check()
    people.get_by_label(f"陳柏翰（{VENDOR}）", exact=True).check()
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/vendors/contracts/\d+/$"))
    contract = Contract.objects.get()
    assert (contract.vendor, contract.title, contract.number) == (
        vendor,
        "校務行政系統維護",
        "115-資-001",
    )
    assert (contract.start_on, contract.end_on, contract.owner) == (start, end, officer)
    assert contract.services.splitlines() == SERVICES
    assert (contract.security_terms, contract.confidentiality_terms) == (False, True)
    assert set(contract.people.all()) == {engineer, assistant}
    assert list(contract.systems.all()) == [system]
    assert contract.access_removal_opened_at is None

    # 6.1.1: saved, but flagged in red.
    expect(page.locator("[data-terms-missing]")).to_have_text("未訂資安或保密條款（條文 6.1.1）")
    expect(page.locator("[data-terms-missing]")).to_have_class(re.compile(r"\btext-bg-danger\b"))
    expect(page.locator("[data-state]")).to_have_text("執行中")
    fields = page.locator("main table").first
    expect(fields).to_contain_text(f"{roc_day(start)}–{roc_day(end)}")
    expect(
        fields.locator("tr", has_text="合約訂有資訊安全責任").locator(".text-danger")
    ).to_have_text("否")
    for service in SERVICES:
        expect(fields).to_contain_text(service)
    expect(fields).to_contain_text(SYSTEM)
    expect(fields).to_contain_text("林怡君")
    for person in (engineer, assistant):
        row = page.locator(f"#people tr[data-person='{person.pk}']")
        expect(row).to_contain_text(person.name)
        expect(row).to_contain_text("無帳號")
    shot(page, "32-vendor-contract")

    # The list finds it with 未訂資安或保密條款; the vendor's page shows it too.
    open_menu(page, "委外與保密", "委外合約")
    page.wait_for_url("**/vendors/contracts/")
    page.select_option("#id_terms_missing", "yes")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"terms_missing=yes"))
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(1)
    for text in ("校務行政系統維護", VENDOR, "執行中", "未訂資安或保密條款", "林怡君"):
        expect(rows.first).to_contain_text(text)
    page.goto(f"{live_server.url}{vendor.get_absolute_url()}")
    listed = page.locator(f"#contracts tr[data-contract='{contract.pk}']")
    expect(listed).to_contain_text("執行中")
    expect(listed.locator(".text-bg-danger")).to_have_text("未訂資安或保密條款")


def test_agreements_drafted_printed_signed_and_an_a8_revealed(live_server, page):
    name_the_school()
    officer = person_with_login("officer", SECURITY_OFFICER, "林怡君")
    person_with_login("boss", SUPERVISOR, "黃建華")
    today = timezone.localdate()
    start = today - dt.timedelta(days=60)
    vendor = a_vendor(officer)
    engineer = vendor_staff("張志豪", onboard=start - dt.timedelta(days=30))
    contract = a_contract(
        officer, vendor, start=start, end=today + dt.timedelta(days=300), people=[engineer]
    )
    clerk = Person.objects.create(
        name="黃雅琪", kind=Person.Kind.CONTRACT, onboard_date=today - dt.timedelta(days=20)
    )

    # 應簽未簽: the vendor, the employee and the contract staff are due.
    sign_in(page, live_server, "officer")
    open_menu(page, "委外與保密", "保密切結書應簽未簽")
    page.wait_for_url("**/vendors/agreements/findings/")
    expect(page.locator(f"[data-form='A-8'] tr[data-subject='{clerk.pk}']")).to_contain_text(
        "黃雅琪"
    )
    expect(page.locator(f"[data-form='A-9'] tr[data-subject='{vendor.pk}']")).to_contain_text(
        VENDOR
    )
    wanted = page.locator(f"[data-form='A-10'] tr[data-subject='{engineer.pk}']")
    expect(wanted).to_contain_text("張志豪")
    expect(wanted).to_contain_text(VENDOR)

    # The A-10, drafted from the contract: its company comes from the contract.
    wanted.get_by_role("link", name="建立切結書").click()
    page.wait_for_url(re.compile(r"/vendors/agreements/add/\?form=A-10&person=\d+$"))
    expect(page.locator("#id_form")).to_have_value("A-10")
    expect(page.locator("#id_person")).to_have_value(str(engineer.pk))
    page.select_option(
        "#id_contract",
        label=f"{VENDOR}：校務行政系統維護（{roc_day(contract.start_on)}–{roc_day(contract.end_on)}）",
    )
    page.fill("#id_position", "校務行政系統維護")
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/vendors/agreements/\d+/$"))
    a10 = Agreement.objects.get(form="A-10")
    assert (a10.person, a10.vendor, a10.contract) == (engineer, vendor, contract)
    assert (a10.position, a10.status, a10.signed_on) == ("校務行政系統維護", "draft", None)
    expect(page.locator("[data-agreement-state]")).to_have_text("待簽署")
    expect(page.locator("[data-field=company]")).to_contain_text(f"{VENDOR} 統一編號 {TAX_ID}")
    expect(page.locator("[data-field=contract]")).to_contain_text("校務行政系統維護")
    expect(page.locator("[data-field=signed_on]")).to_have_text("尚未簽署")
    a10_url = page.url

    # Its paper, as the template prints it; the date is left for the pen.
    page.get_by_role("link", name="列印切結書").click()
    page.wait_for_url(f"**/vendors/agreements/{a10.pk}/print/")
    paper = page.locator(".paper")
    expect(paper.locator("h1")).to_have_text("委外廠商人員保密切結書")
    expect(paper.locator("[data-field=form-number]")).to_have_text("文件編號：A-10")
    expect(paper.locator("[data-field=body]")).to_contain_text(
        f"張志豪（以下簡稱為本人）任職於{VENDOR}（委外公司名稱），因執行校務行政系統維護工作"
    )
    expect(paper.locator("[data-field=school-to]")).to_have_text(SCHOOL)
    expect(paper.locator("[data-sign=person]")).to_contain_text("切結人：")
    expect(paper.locator("[data-sign=person]")).to_contain_text("張志豪")
    expect(paper.locator("[data-field=company-line]")).to_have_text(f"任職公司：{VENDOR}")
    expect(paper.locator("[data-field=tax_id]")).to_have_text(f"公司統一編號：{TAX_ID}")
    expect(paper.locator("[data-field=date] .n")).to_have_text(["", "", ""])
    expect(paper.locator("[data-field=copies]")).to_have_text(
        f"本保密切結書一式兩份，分別由切結人以及{SCHOOL}保存"
    )
    expect(paper).to_contain_text("待簽署：簽署後請將掃描檔上傳並登錄已簽署。")
    assert page.locator("nav.navbar").count() == 0

    # Signed, with its scan: a date before the contract's start is refused, nothing kept.
    page.goto(a10_url)
    sign = page.locator("#sign")
    expect(sign).to_contain_text(f"簽署日期不可早於合約起始日（{roc_day(start)}）。")
    early = start - dt.timedelta(days=5)
    sign.locator("#id_signed_on").fill(roc_day(early))
    sign.locator("#id_scan").set_input_files(files=[pdf("a10-signed.pdf")])
    sign.get_by_role("button", name="登錄已簽署").click()
    expect(page.locator("#sign #id_signed_on ~ .invalid-feedback")).to_have_text(
        f"簽署日期不可早於合約起始日（{roc_day(start)}）：當時尚無此人員、廠商或合約。"
    )
    a10.refresh_from_db()
    assert (a10.status, a10.signed_on, a10.recorded_by) == ("draft", None, None)
    assert not Attachment.objects.exists()
    signed_on = start + dt.timedelta(days=3)
    sign = page.locator("#sign")
    sign.locator("#id_signed_on").fill(roc_day(signed_on))
    sign.locator("#id_scan").set_input_files(files=[pdf("a10-signed.pdf")])
    sign.get_by_role("button", name="登錄已簽署").click()
    page.wait_for_url(a10_url)
    a10.refresh_from_db()
    assert (a10.status, a10.signed_on, a10.recorded_by) == ("signed", signed_on, officer)
    scan = Attachment.objects.get()
    assert (scan.target, scan.original_name) == (a10, "a10-signed.pdf")
    assert scan.description == "已簽署切結書掃描檔" and scan.uploaded_by == officer
    expect(page.locator(".alert-success")).to_contain_text("為已簽署。")
    expect(page.locator("[data-agreement-state]")).to_have_text("有效")
    expect(page.locator("[data-field=signed_on]")).to_have_text(roc_day(signed_on))
    expect(page.locator("[data-field=valid_until]")).to_have_text("服務期間持續有效")
    expect(page.locator("[data-field=recorded_by]")).to_have_text("林怡君")
    expect(page.locator("main")).to_contain_text("a10-signed.pdf")
    expect(page.locator("#sign")).to_have_count(0)
    shot(page, "34-agreement-signed")

    # The signed paper carries its date in the ROC calendar.
    page.get_by_role("link", name="列印切結書").click()
    page.wait_for_url(f"**/vendors/agreements/{a10.pk}/print/")
    expect(page.locator(".paper [data-field=date]")).to_contain_text("日期：中華民國")
    expect(page.locator(".paper [data-field=date] .n")).to_have_text(
        [str(roc.roc_year(signed_on)), str(signed_on.month), str(signed_on.day)]
    )
    expect(page.locator(".paper")).to_contain_text("已登錄簽署（登錄者：林怡君）")
    shot(page, "33-a10-print")

    # The findings page: the employee is no longer due; the company still is.
    page.goto(f"{live_server.url}/vendors/agreements/findings/")
    expect(page.locator(f"[data-form='A-10'] tr[data-subject='{engineer.pk}']")).to_have_count(0)
    page.locator(f"[data-form='A-9'] tr[data-subject='{vendor.pk}']").get_by_role(
        "link", name="建立切結書"
    ).click()
    page.wait_for_url(re.compile(r"/vendors/agreements/add/\?form=A-9&vendor=\d+&contract=\d+$"))
    expect(page.locator("#id_vendor")).to_have_value(str(vendor.pk))
    expect(page.locator("#id_contract")).to_have_value(str(contract.pk))
    page.get_by_role("button", name="儲存").click()  # services left blank: the contract's
    page.wait_for_url(re.compile(r"/vendors/agreements/\d+/$"))
    a9 = Agreement.objects.get(form="A-9")
    assert (a9.vendor, a9.contract, a9.person) == (vendor, contract, None)
    assert a9.services.splitlines() == SERVICES
    page.get_by_role("link", name="列印切結書").click()
    page.wait_for_url(f"**/vendors/agreements/{a9.pk}/print/")
    paper = page.locator(".paper")
    expect(paper.locator("h1")).to_have_text("服務委外單位服務暨保密切結書")
    expect(paper.locator("[data-field=body]").first).to_contain_text(
        f"為配合{SCHOOL}(以下簡稱為貴校)之業務需求，本公司提供服務項目如下："
    )
    expect(paper.locator("[data-field=services] li")).to_have_text(
        [f"{mark}、{line}" for mark, line in zip("一二三", SERVICES, strict=True)]
    )
    expect(paper.locator("[data-sign=vendor]")).to_contain_text(
        f"{VENDOR} 張正德 （統一編號 {TAX_ID}）"
    )
    expect(paper.locator("[data-field=copies]")).to_contain_text("本服務暨保密切結書一式兩份")
    expect(paper.locator("[data-field=copies]")).to_contain_text(f"以及{SCHOOL}保存")

    # The A-8: a wrong 身分證字號 is refused, nothing saved; the right one is sealed.
    page.goto(f"{live_server.url}/vendors/agreements/findings/")
    page.locator(f"[data-form='A-8'] tr[data-subject='{clerk.pk}']").get_by_role(
        "link", name="建立切結書"
    ).click()
    page.wait_for_url(re.compile(r"/vendors/agreements/add/\?form=A-8&person=\d+$"))
    page.fill("#id_position", "教務處約聘資訊助理")
    page.fill("#id_national_id", BAD_ID_NUMBER)
    page.fill("#id_address", ADDRESS)
    page.get_by_role("button", name="儲存").click()
    expect(page.locator("#id_national_id ~ .invalid-feedback")).to_have_text(
        "身分證字號檢查碼不正確"
    )
    expect(page.locator(".invalid-feedback")).to_have_count(1)
    assert not Agreement.objects.filter(form="A-8").exists()
    page.fill("#id_national_id", ID_NUMBER)
    page.fill("#id_address", ADDRESS)
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/vendors/agreements/\d+/$"))
    a8 = Agreement.objects.get(form="A-8")
    assert (a8.person, a8.position, a8.national_id_last4) == (clerk, "教務處約聘資訊助理", "6789")
    assert ID_NUMBER not in a8.national_id_sealed and ADDRESS not in a8.address_sealed
    trail = json.dumps(
        list(AuditEntry.objects.values_list("changes", "message")), ensure_ascii=False
    )
    assert ID_NUMBER not in trail and ADDRESS not in trail
    a8_url = page.url
    expect(page.locator("[data-field=national_id]")).to_have_text("******6789")
    expect(page.locator("[data-field=address]")).to_have_text("（已加密保存）")
    assert ID_NUMBER not in page.content() and ADDRESS not in page.content()

    # The officer reveals it: shown once, audited.
    page.get_by_role("button", name="顯示身分證字號").click()
    page.wait_for_url(f"**/vendors/agreements/{a8.pk}/reveal/")
    expect(page.locator("[data-field=national_id] [data-revealed]")).to_have_text(ID_NUMBER)
    expect(page.locator("[data-field=address] [data-revealed]")).to_have_text(ADDRESS)
    expect(page.locator("main .alert-warning")).to_contain_text("此次檢視已記錄於稽核軌跡")
    reveal = AuditEntry.objects.get(action=AuditEntry.Action.EXPORT)
    assert (reveal.actor, reveal.model_label, reveal.object_id) == (
        officer,
        "vendors.agreement",
        str(a8.pk),
    )
    assert reveal.message == "檢視身分證字號及戶籍地址"
    page.goto(a8_url)
    expect(page.locator("[data-field=national_id]")).to_have_text("******6789")

    # The supervisor reads the agreement, masked, with no way to reveal it.
    sign_in(page, live_server, "boss")
    page.goto(a8_url)
    expect(page.locator("[data-field=national_id]")).to_have_text("******6789")
    expect(page.get_by_role("button", name="顯示身分證字號")).to_have_count(0)
    expect(page.get_by_role("link", name="列印（含完整個人資料）")).to_have_count(0)
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    refused = page.request.post(
        f"{live_server.url}/vendors/agreements/{a8.pk}/reveal/",
        headers={"X-CSRFToken": token, "Referer": a8_url},
    )
    assert refused.status == 403 and "CSRF" not in refused.text()  # refused for the role
    assert ID_NUMBER not in refused.text()
    page.goto(f"{live_server.url}/vendors/agreements/{a8.pk}/print/?full=1")
    expect(page.locator(".paper [data-field=national_id]")).to_have_text("身分證字號：******6789")
    assert ID_NUMBER not in page.content()
    assert AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).count() == 1


def test_contract_end_opens_the_removal_of_its_peoples_accounts(live_server, page):
    name_the_school()
    officer = person_with_login("officer", SECURITY_OFFICER, "林怡君")
    admin = person_with_login("sysadmin", SYSADMIN, "陳志明")
    today = timezone.localdate()
    sis = InformationSystem.objects.create(name=SYSTEM)
    mail = InformationSystem.objects.create(name="公務電子郵件")
    engineer = vendor_staff("張志豪")
    assistant = vendor_staff("陳柏翰")
    shared = vendor_staff("李建國")  # also on another running contract: keeps his account
    removed = {
        an_account(engineer, sis, "zhengde.chang"),
        an_account(engineer, mail, "chang.zhihao"),
        an_account(assistant, sis, "zhengde.chen"),
    }
    kept = an_account(shared, sis, "zhengde.lee")
    vendor = a_vendor(officer)
    contract = a_contract(
        officer,
        vendor,
        start=today - dt.timedelta(days=200),
        end=today + dt.timedelta(days=165),
        people=[engineer, assistant, shared],
        systems=[sis, mail],
    )
    other = vendor_rules.save_vendor(
        Vendor(name="宏遠資訊股份有限公司", tax_id="22099131"), actor=officer
    )
    a_contract(
        officer,
        other,
        start=today - dt.timedelta(days=30),
        end=today + dt.timedelta(days=335),
        people=[shared],
    )

    # The officer ends the contract early: its last day is today.
    sign_in(page, live_server, "officer")
    page.goto(f"{live_server.url}{contract.get_absolute_url()}")
    page.get_by_role("link", name="編輯", exact=True).click()
    page.wait_for_url(f"**/vendors/contracts/{contract.pk}/edit/")
    page.fill("#id_end_on", roc_day(today))
    page.fill("#id_notes", "廠商營運調整，雙方合意提前終止。")
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(f"**{contract.get_absolute_url()}")
    contract.refresh_from_db()
    assert contract.end_on == today and contract.access_removal_opened_at is None
    expect(page.locator("[data-state]")).to_have_text("執行中")  # until the day is over
    assert not OffboardingTask.objects.exists()

    # On its last day the worker's job opens nothing.
    assert JOBS["vendors.contract_ends"](timezone.now()) == 0
    assert not OffboardingTask.objects.exists()

    # The next morning the worker's pass does.
    morning = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(8, 30), tzinfo=TAIPEI)
    with time_machine.travel(morning, tick=True):
        call_command("worker", "--once", "--worker-id", "e2e")
        tasks = list(OffboardingTask.objects.order_by("id"))
        assert {t.account for t in tasks} == removed
        assert {t.reason for t in tasks} == {OffboardingTask.Reason.VENDOR_ENDED}
        assert {t.effective_on for t in tasks} == {today}
        assert not OffboardingTask.objects.filter(account=kept).exists()
        contract.refresh_from_db()
        assert contract.access_removal_opened_at is not None
        opened = AuditEntry.objects.filter(model_label="identity.offboardingtask")
        assert set(opened.values_list("actor_label", flat=True)) == {"worker"}
        state = ObligationState.objects.get(key=DUTY, subject_id=str(contract.pk))
        due = vendor_rules.access_due(contract)
        assert (state.status, state.next_due_at, state.last_done_at) == ("ok", due, None)

        # The contract's page: ended, each account's removal to do, by when.
        sign_in(page, live_server, "officer")
        page.goto(f"{live_server.url}{contract.get_absolute_url()}")
        expect(page.locator("[data-state]")).to_have_text("已終止")
        expect(page.locator("[data-flags]")).to_contain_text("3 項帳號移除工作未完成")
        expect(page.locator("[data-field=access_due]")).to_have_text(roc.format_roc_datetime(due))
        for task in tasks:
            line = page.locator(f"#people [data-task='{task.pk}'][data-open]")
            expect(line).to_contain_text(f"{task.account.system.name} · {task.account.username}")
            expect(line).to_contain_text("待移除")
            expect(line).to_contain_text(f"期限 {roc_day(task.due_on)}")
        row = page.locator(f"#people tr[data-person='{shared.pk}']")
        expect(row).to_contain_text("zhengde.lee")
        expect(row.locator("[data-task]")).to_have_count(0)
        shot(page, "35-contract-end-removals")

        # The identity module's list of removal tasks has them.
        page.get_by_role("link", name="全部帳號移除工作").click()
        page.wait_for_url("**/identity/offboarding/")
        rows = page.locator("main table tbody tr")
        expect(rows).to_have_count(3)
        for task in tasks:
            line = rows.filter(has_text=task.account.username)
            for text in (task.person.name, "委外服務終止", roc_day(today), roc_day(task.due_on)):
                expect(line).to_contain_text(text)

        # The duty, among the obligations, with its deadline.
        page.goto(f"{live_server.url}/compliance/obligations/?key={DUTY}")
        duty = page.locator("main table tbody tr")
        expect(duty).to_have_count(1)
        for text in (
            "委外合約終止後，於期限內中止或刪除廠商人員的系統帳號",
            "6.2",
            "正常",
            roc.format_roc_datetime(due),
        ):
            expect(duty).to_contain_text(text)

        # The system administrator disables the accounts; the duty has its evidence.
        sign_in(page, live_server, "sysadmin")
        for task in tasks:
            page.goto(f"{live_server.url}{task.get_absolute_url()}")
            page.select_option("#outcome", "disabled")
            page.fill("#note", "已於系統停用帳號")
            page.get_by_role("button", name="完成").click()
            page.wait_for_url(f"**{task.get_absolute_url()}")
            expect(page.locator(".alert-success")).to_contain_text("已完成帳號移除工作。")
        assert not OffboardingTask.objects.filter(done_at__isnull=True).exists()
        assert set(OffboardingTask.objects.values_list("done_by", flat=True)) == {admin.pk}
        assert {a.status for a in Account.objects.filter(pk__in=[a.pk for a in removed])} == {
            Account.Status.DISABLED
        }
        page.goto(f"{live_server.url}{contract.get_absolute_url()}")
        expect(page.locator("#people [data-task][data-done]")).to_have_count(3)
        expect(page.locator("#people [data-task][data-open]")).to_have_count(0)
        expect(page.locator("[data-flags]")).not_to_contain_text("帳號移除工作未完成")
        # The worker's full refresh (every few minutes) reads the evidence.
        engine.refresh(DUTY)
        last = OffboardingTask.objects.order_by("-done_at").first().done_at
        state.refresh_from_db()
        assert (state.status, state.last_done_at) == ("ok", last)
        page.goto(f"{live_server.url}/compliance/obligations/?key={DUTY}")
        expect(page.locator("main table tbody tr")).to_contain_text(roc.format_roc_datetime(last))
