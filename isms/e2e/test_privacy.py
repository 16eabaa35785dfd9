"""Personal-data protection (clause 7; the Personal Data Protection Act, 個資法) in a real
browser.

Inventory and public page (7.1, PDPA art. 17): the 資安業務承辦人 enters a personal-data
file, picking 158 and C001, C051 in the code pickers — without a data category it is
refused with the article cited and nothing is saved — and a second file kept internal with
its legal ground. A visitor who is not signed in opens the public page: the four items of
the published file, nothing of the internal one, whose own address answers 404 citing art.
17; the embeddable list shows inside an iframe of another page. The officer confirms the
yearly review on the file's page, which lists the equipment holding it.

Data-subject request (7.8; arts. 3, 10, 13): a 請求閱覽 received today; a decision before the
identity check is refused; identity checked; an extension without its reason refused, with
the reason and the notice date accepted (the deadline moves by 15 days, the countdown says
so); the decision, the reply, and the reply letter printed (school, ROC date, legal basis).

Paper transfer (7.6): a teacher records a sealed hand-over to a colleague, who finds it on
待我確認收件 and confirms it with one click; the line is then locked but for its notes.

Activity notice (7.3; art. 8): a teacher fills the short form; the copy view gives the
generated notice with the school's name and the five rights of art. 3.
"""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from isms.assets.models import Asset
from isms.core import roc
from isms.core.models import SchoolProfile, Unit
from isms.core.roles import SECURITY_OFFICER, STAFF
from isms.identity.models import InformationSystem
from isms.notifications.models import Notification
from isms.privacy import codes, inventory
from isms.privacy import requests as request_rules
from isms.privacy.models import (
    ActivityNotice,
    CategoryCode,
    FileReview,
    PaperTransfer,
    PersonalDataFile,
    PurposeCode,
    SubjectRequest,
)

from .test_account_request import person_with_login, sign_in
from .test_first_sign_in import shot
from .test_vendors import open_menu

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCHOOL = "新北市穀保高級家事商業職業學校"
SCHOOL_PHONE = "02-2971-5606"
SCHOOL_ADDRESS = "新北市三重區中正北路 163 號"
P158 = "158 學生（員）（含畢、結業生）資料管理"
C001 = "C001 辨識個人者"
C051 = "C051 學校紀錄"
REGISTRY = "學籍資料"
REGISTRY_BASIS = "高級中等教育法第 43 條、高級中等學校學生學籍管理辦法"
COUNSELLING = "學生輔導紀錄"
COUNSELLING_GROUND = "涉及學生隱私，依政府資訊公開法第 18 條第 1 項第 6 款不予公開。"
NO_CATEGORY = "請至少選擇一項個人資料之類別（條文 7.1；個人資料保護法第 17 條）。"
NOT_PUBLIC = (
    "此個人資料檔案未公開：檔案不存在、已停止保有，或依法不予公開（個人資料保護法第 17 條）。"
)
IDENTITY_FIRST = (
    "請先查核請求人身分，再作准駁決定：權利須由當事人本人（或其代理人）行使"
    "（個人資料保護法第 3 條；條文 7.8）。"
)
NO_EXTENSION_REASON = (
    "延長須以書面通知請求人延長原因，請填寫延長原因（個人資料保護法第 13 條第 1 項）。"
)
RIGHTS = (
    "查詢或請求閱覽",
    "請求製給複製本",
    "請求補充或更正",
    "請求停止蒐集、處理或利用",
    "請求刪除",
)


@pytest.fixture(autouse=True)
def _school_and_code_lists():
    """The school's profile and the official code lists as migration 0002 loads them (an
    earlier transactional test flushes the database, lists included)."""
    profile = SchoolProfile.load()
    profile.name = SCHOOL
    profile.phone = SCHOOL_PHONE
    profile.address = SCHOOL_ADDRESS
    profile.save()
    for kind in codes.KINDS:
        model = codes.model_for(kind)
        if model.objects.exists():
            continue
        fields = codes.FIELDS[kind]
        model.objects.bulk_create(
            model(code=row["code"], **{name: row.get(name) or "" for name in fields})
            for row in codes.read_official(kind)
        )
    assert PurposeCode.objects.filter(code="158").exists()
    assert CategoryCode.objects.filter(code__in=["C001", "C051"]).count() == 2


def roc_day(day: dt.date) -> str:
    return roc.format_roc(day)


def pick(page, picker: str, filter_text: str, label: str) -> None:
    """In a code picker: type in its filter, tick the option shown."""
    box = page.locator(f"[data-picker={picker}]")
    box.locator("[data-picker-filter]").fill(filter_text)
    option = box.get_by_label(label, exact=True)
    expect(option).to_be_visible()
    option.check()


def a_file(officer, unit, name=REGISTRY) -> PersonalDataFile:
    """A published file of the inventory, entered through the service."""
    return inventory.save_file(
        PersonalDataFile(
            name=name,
            unit=unit,
            legal_basis=REGISTRY_BASIS,
            retention="學生畢業後 50 年",
            users="教務處註冊組",
        ),
        actor=officer,
        purposes=[PurposeCode.objects.get(code="158")],
        categories=list(CategoryCode.objects.filter(code__in=["C001", "C051"])),
        systems=[],
        assets=[],
    )


# 1. The inventory and its public page -------------------------------------------------------
def test_inventory_public_page_embed_and_yearly_review(live_server, page, browser):
    officer = person_with_login("officer", SECURITY_OFFICER, "林怡君")
    academic = Unit.objects.create(name="教務處", code="academic", phone="02-2971-5606#201")
    counselling = Unit.objects.create(name="輔導室", code="counselling", phone="02-2971-5606#501")
    sis = InformationSystem.objects.create(name="校務行政系統")
    server = Asset.objects.create(
        kind=Asset.Kind.SERVER,
        property_number="3140101-03-0007",
        name="校務行政伺服器",
        location="資訊機房 A 櫃",
        state=Asset.State.IN_USE,
        stores_personal_data=True,
    )
    usb = Asset.objects.create(
        kind=Asset.Kind.USB,
        property_number="3140102-05-0042",
        name="註冊組成績備份隨身碟",
        location="註冊組辦公室",
        state=Asset.State.IN_USE,
        stores_personal_data=False,
    )

    # The officer enters the file: 158, then the categories forgotten.
    sign_in(page, live_server, "officer")
    open_menu(page, "個資保護", "個資檔案清冊")
    page.wait_for_url("**/privacy/files/")
    page.get_by_role("link", name="新增個人資料檔案").click()
    page.wait_for_url("**/privacy/files/add/")
    page.fill("#id_name", REGISTRY)
    page.select_option("#id_unit", value=str(academic.pk))
    page.fill("#id_contact_name", "陳淑芬")
    page.fill("#id_legal_basis", REGISTRY_BASIS)
    pick(page, "purposes", "158", P158)
    expect(page.locator("[data-picker=purposes] [data-picker-chosen] .badge")).to_have_text([P158])
    page.fill("#id_purpose_note", "學籍管理、成績及各項證明書核發")
    pick(page, "systems", "校務", "校務行政系統")
    pick(page, "assets", "0007", re.compile(r"^3140101-03-0007 校務行政伺服器"))
    pick(page, "assets", "隨身碟", re.compile(r"^3140102-05-0042 註冊組成績備份隨身碟"))
    page.get_by_label("含紙本", exact=True).check()
    page.fill("#id_retention", "學生畢業後 50 年；成績紀錄永久保存")
    page.fill("#id_users", "教務處註冊組、教學組；導師（所帶班級）")
    expect(page.get_by_label("公開於學校網站", exact=True)).to_be_checked()
    page.get_by_role("button", name="儲存").click()
    expect(page.locator("[data-picker=categories] .invalid-feedback")).to_have_text(NO_CATEGORY)
    expect(page.locator(".invalid-feedback")).to_have_count(1)
    assert not PersonalDataFile.objects.exists()
    # What was chosen stays chosen on the refused form.
    expect(page.locator("[data-picker=purposes]").get_by_label(P158, exact=True)).to_be_checked()
    expect(page.locator("#id_name")).to_have_value(REGISTRY)

    # C001 and C051, each found by its code; both stay chosen while filtering.
    pick(page, "categories", "C001", C001)
    pick(page, "categories", "C051", C051)
    expect(page.locator("[data-picker=categories] [data-picker-chosen] .badge")).to_have_text(
        [C001, C051]
    )
    expect(page.locator("[data-picker=categories] [data-picker-count]")).to_have_text("已選 2 項")
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/privacy/files/\d+/$"))
    public = PersonalDataFile.objects.get()
    assert (public.name, public.unit, public.visibility) == (REGISTRY, academic, "public")
    assert public.contact_phone == "02-2971-5606#201"  # left blank: the unit's phone
    assert sorted(public.purposes.values_list("code", flat=True)) == ["158"]
    assert sorted(public.categories.values_list("code", flat=True)) == ["C001", "C051"]
    assert list(public.systems.all()) == [sis]
    assert set(public.assets.all()) == {server, usb}
    assert public.paper
    expect(page.locator("[data-visibility=public]")).to_have_text("公開於學校網站")
    expect(page.locator("[data-field=holder]")).to_contain_text(f"{SCHOOL}教務處")
    expect(page.locator("[data-field=purposes]")).to_contain_text(P158)
    expect(page.locator("[data-field=categories]")).to_contain_text(C001)
    expect(page.locator("[data-field=categories]")).to_contain_text(C051)

    # The second file, kept internal with its legal ground.
    page.goto(f"{live_server.url}/privacy/files/add/")
    page.fill("#id_name", COUNSELLING)
    page.select_option("#id_unit", value=str(counselling.pk))
    page.fill("#id_legal_basis", "學生輔導法第 14 條")
    pick(page, "purposes", "158", P158)
    pick(page, "categories", "C001", C001)
    page.fill("#id_retention", "學生畢業後 10 年")
    page.fill("#id_users", "輔導室輔導教師")
    page.get_by_label("不公開（內部）", exact=True).check()
    page.fill("#id_internal_reason", COUNSELLING_GROUND)
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/privacy/files/\d+/$"))
    internal = PersonalDataFile.objects.get(name=COUNSELLING)
    assert (internal.visibility, internal.internal_reason) == ("internal", COUNSELLING_GROUND)
    expect(page.locator("[data-visibility=internal]")).to_have_text("不公開（內部）")
    expect(page.locator("[data-field=internal_reason]")).to_have_text(COUNSELLING_GROUND)
    expect(page.locator("[data-public-snippet]")).to_contain_text(
        "此檔案不公開，不會出現在公開頁面。"
    )

    # A visitor of the school website, not signed in.
    visitor = browser.new_context(locale="zh-TW", timezone_id="Asia/Taipei")
    try:
        anon = visitor.new_page()
        anon.set_default_timeout(15000)
        response = anon.goto(f"{live_server.url}/privacy/public/")
        assert response.status == 200 and "/login/" not in anon.url
        expect(anon.locator("h1")).to_have_text(f"{SCHOOL}個人資料檔案公開項目")
        expect(anon.locator("[data-updated]")).to_contain_text("共 1 個檔案")
        rows = anon.locator("[data-public-files] tbody tr")
        expect(rows).to_have_count(1)
        row = anon.locator(f"[data-public-files] tr[data-file='{public.pk}']")
        cells = row.locator("td")
        expect(cells.nth(1)).to_have_text(REGISTRY)  # 1. the file's name
        expect(cells.nth(2)).to_contain_text(f"{SCHOOL}教務處")  # 2. holder and contact
        expect(cells.nth(2)).to_contain_text("電話 02-2971-5606#201")
        expect(cells.nth(3)).to_contain_text(REGISTRY_BASIS)  # 3. legal basis and purposes
        expect(cells.nth(3)).to_contain_text(P158)
        expect(cells.nth(3)).to_contain_text("學籍管理、成績及各項證明書核發")
        expect(cells.nth(4)).to_have_text(re.compile(rf"^\s*{C001}\s*{C051}\s*$"))  # 4.
        main = anon.locator("main")
        expect(main).not_to_contain_text(COUNSELLING)
        expect(main).not_to_contain_text("陳淑芬")  # the contact person is not published
        expect(anon.locator("#mainnav")).to_have_count(0)
        shot(anon, "40-privacy-public-page")

        # The internal file's own address: 404, naming nothing of it.
        response = anon.goto(f"{live_server.url}/privacy/public/{internal.pk}/")
        assert response.status == 404
        expect(anon.locator("[data-not-public]")).to_have_text(NOT_PUBLIC)
        assert COUNSELLING not in anon.content() and "輔導室" not in anon.content()
        response = anon.goto(f"{live_server.url}/privacy/public/{public.pk}/")
        assert response.status == 200
        expect(anon.locator("main")).to_contain_text(REGISTRY_BASIS)

        # The embeddable list, framed by a page of the school website (another origin).
        embed_url = f"{live_server.url}/privacy/public/embed/"
        assert "x-frame-options" not in anon.request.get(embed_url).headers
        assert (
            anon.request.get(f"{live_server.url}/privacy/public/").headers["x-frame-options"]
            == "DENY"
        )
        anon.set_content(
            "<!doctype html><meta charset=utf-8><title>學校首頁</title>"
            "<h1>個人資料保護專區</h1>"
            f'<iframe id="pdpa" src="{embed_url}" title="個人資料檔案公開項目"'
            ' style="width:100%;min-height:640px;border:0"></iframe>'
        )
        frame = anon.frame_locator("#pdpa")
        expect(frame.locator("[data-updated]")).to_contain_text(
            f"{SCHOOL}依個人資料保護法第 17 條公開"
        )
        expect(frame.locator("[data-public-files] tbody tr")).to_have_count(1)
        framed = frame.locator(f"tr[data-file='{public.pk}']")
        for text in (REGISTRY, f"{SCHOOL}教務處", P158, C001, C051):
            expect(framed).to_contain_text(text)
        expect(framed.get_by_role("link", name=REGISTRY)).to_have_attribute("target", "_blank")
        expect(frame.locator("body")).not_to_contain_text(COUNSELLING)
    finally:
        visitor.close()

    # The yearly review, on the file's page with the equipment holding it.
    page.goto(f"{live_server.url}{public.get_absolute_url()}")
    expect(page.locator("[data-reviews] tbody")).to_contain_text("尚未檢視")
    expect(page.locator(f"[data-asset='{server.pk}']")).to_contain_text("存有個人資料")
    expect(page.locator("[data-gaps] [data-gap]")).to_have_count(1)
    expect(page.locator("[data-gaps] [data-gap]")).to_contain_text(
        "資產清冊未標示設備「3140102-05-0042 註冊組成績備份隨身碟」存有個人資料"
    )
    note = "四項公開內容、存放系統與設備、保存期限皆無變動。"
    page.locator("#review #id_note").fill(note)
    page.locator("#review").get_by_role("button", name="確認年度檢視").click()
    page.wait_for_url(f"**{public.get_absolute_url()}")
    expect(page.locator(".alert-success")).to_contain_text(f"已確認「{REGISTRY}」的年度檢視。")
    review = FileReview.objects.get()
    assert (review.file, review.reviewer, review.note) == (public, officer, note)
    reviewed = page.locator("[data-reviews] tbody tr")
    expect(reviewed).to_have_count(1)
    expect(reviewed).to_contain_text("林怡君")
    expect(reviewed).to_contain_text(note)
    expect(reviewed).to_contain_text(roc_day(timezone.localdate()))
    next_due = timezone.localtime(review.reviewed_at).date() + dt.timedelta(
        days=inventory.review_days()
    )
    expect(page.locator("[data-review-due]")).to_contain_text(roc_day(next_due))
    shot(page, "41-privacy-file")


# 2. A data-subject request ------------------------------------------------------------------
def test_subject_request_identity_extension_decision_reply_letter(live_server, page):
    officer = person_with_login("officer", SECURITY_OFFICER, "林怡君")
    academic = Unit.objects.create(name="教務處", code="academic", phone="02-2971-5606#201")
    registry = a_file(officer, academic)
    today = timezone.localdate()

    sign_in(page, live_server, "officer")
    open_menu(page, "個資保護", "當事人權利請求")
    page.wait_for_url("**/privacy/requests/")
    page.get_by_role("link", name="新增當事人權利請求").click()
    page.wait_for_url("**/privacy/requests/add/")
    # Received now (the page's default), by the one signed in.
    expect(page.locator("#id_received_at")).to_have_value(re.compile(rf"^{roc_day(today)} "))
    expect(page.locator("#id_handler")).to_have_value(str(officer.pk))
    page.select_option("#id_kind", label="請求閱覽")
    page.select_option("#id_channel", label="臨櫃")
    page.fill("#id_requester_name", "王小明")
    page.fill("#id_requester_contact", "新北市三重區重新路四段 20 號 5 樓")
    details = "請求閱覽本人 112 至 114 學年度之學籍資料及成績紀錄。"
    page.fill("#id_details", details)
    page.select_option("#id_files", label=REGISTRY)
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/privacy/requests/\d+/$"))
    req = SubjectRequest.objects.get()
    number = f"PD-{roc.roc_year(today)}-0001"
    assert (req.number, req.kind, req.channel) == (number, "view", "counter")
    assert (req.requester_name, req.handler, req.details) == ("王小明", officer, details)
    assert list(req.files.all()) == [registry]
    assert timezone.localtime(req.received_at).date() == today
    first_day = today + dt.timedelta(days=15)
    countdown = page.locator("[data-countdown]")
    expect(countdown).to_have_text(f"期限 {roc_day(first_day)}（剩 15 天）")
    expect(page.locator("[data-field=kind]")).to_contain_text("個人資料保護法第 10 條；15 日內決定")
    expect(page.locator("#decide")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("查核身分後才能作成准駁決定。")

    # A decision posted before the identity check (the page offers none): refused.
    with page.expect_navigation() as refused:
        page.evaluate(
            """(action) => {
                const form = document.createElement('form');
                form.method = 'post';
                form.action = action;
                form.append(document.querySelector('input[name=csrfmiddlewaretoken]').cloneNode());
                const decision = document.createElement('input');
                decision.name = 'decision';
                decision.value = 'granted';
                form.append(decision);
                document.body.append(form);
                form.submit();
            }""",
            f"/privacy/requests/{req.pk}/decide/",
        )
    assert refused.value.status == 400
    expect(page.locator("[data-step-errors]")).to_have_text(IDENTITY_FIRST)
    req.refresh_from_db()
    assert req.decided_at is None and req.decision == ""

    # The identity check.
    page.goto(f"{live_server.url}{req.get_absolute_url()}")
    identity = page.locator("#identity")
    identity.locator("#id_identity_method").fill("國民身分證正本核對")
    identity.get_by_role("button", name="登錄身分查核").click()
    page.wait_for_url(f"**{req.get_absolute_url()}")
    expect(page.locator(".alert-success")).to_contain_text(f"已登錄「{req}」的身分查核。")
    expect(page.locator("[data-field=identity]")).to_contain_text("國民身分證正本核對 · 林怡君")
    req.refresh_from_db()
    assert (req.identity_method, req.identity_checked_by) == ("國民身分證正本核對", officer)

    # The extension: refused without its reason, nothing saved.
    extend = page.locator("#extend")
    expect(extend).to_contain_text(f"延長 15 日（至 {roc_day(today + dt.timedelta(days=30))}）")
    extend.locator("#id_extension_notified_on").fill(roc_day(today))
    extend.get_by_role("button", name="登錄延長").click()
    expect(page.locator("#extend #id_extension_reason ~ .invalid-feedback")).to_have_text(
        NO_EXTENSION_REASON
    )
    req.refresh_from_db()
    assert req.extended_at is None and req.extension_reason == ""
    expect(countdown).to_have_text(f"期限 {roc_day(first_day)}（剩 15 天）")

    # With the reason and the day the notice was sent: 15 days more.
    reason = "申請資料跨越三個學年度，部分成績紀錄須自檔案室調閱紙本，無法於 15 日內完成。"
    page.locator("#extend #id_extension_reason").fill(reason)
    expect(page.locator("#extend #id_extension_notified_on")).to_have_value(roc_day(today))
    page.locator("#extend").get_by_role("button", name="登錄延長").click()
    page.wait_for_url(f"**{req.get_absolute_url()}")
    last_day = today + dt.timedelta(days=30)
    expect(page.locator(".alert-success")).to_contain_text(
        f"已延長「{req}」的處理期限至 {roc_day(last_day)}。"
    )
    req.refresh_from_db()
    assert req.extended_at is not None
    assert (req.extension_reason, req.extension_notified_on) == (reason, today)
    assert request_rules.last_day(req) == first_day + dt.timedelta(days=15) == last_day
    expect(countdown).to_have_text(f"期限 {roc_day(last_day)}（剩 30 天）")
    expect(page.locator("[data-field=deadline]")).to_have_text(
        f"原期限 {roc_day(first_day)}，已延長至 {roc_day(last_day)}"
    )
    expect(page.locator("[data-field=extension]")).to_contain_text(reason)
    expect(page.locator("#extend")).to_have_count(0)  # once only
    expect(page.get_by_role("link", name="列印延長通知書")).to_be_visible()
    shot(page, "42-privacy-request")

    # The decision and the reply.
    decide = page.locator("#decide")
    decide.locator("#id_decision").select_option(label="准予")
    decide.locator("#id_decision_reason").fill(
        "請求人為當事人本人，所請資料為本校保有之學籍及成績紀錄。"
    )
    decide.get_by_role("button", name="登錄決定").click()
    page.wait_for_url(f"**{req.get_absolute_url()}")
    expect(page.locator(".alert-success")).to_contain_text(f"已登錄「{req}」的准駁決定：准予。")
    req.refresh_from_db()
    assert (req.decision, req.decided_by) == ("granted", officer)
    reply = page.locator("#reply")
    reply.locator("#id_reply_method").fill("掛號郵寄")
    reply_text = "請於上班時間攜帶身分證件至教務處註冊組閱覽，閱覽時由承辦人員陪同。"
    reply.locator("#id_reply_text").fill(reply_text)
    reply.get_by_role("button", name="登錄回覆").click()
    page.wait_for_url(f"**{req.get_absolute_url()}")
    expect(page.locator(".alert-success")).to_contain_text(f"已登錄「{req}」的回覆。")
    req.refresh_from_db()
    assert (req.reply_method, req.reply_text) == ("掛號郵寄", reply_text)
    assert timezone.localtime(req.replied_at).date() == today
    expect(page.locator("[data-request-state]")).to_contain_text("已回覆")
    expect(countdown).to_have_text(f"期限 {roc_day(last_day)}（已回覆）")

    # The reply letter.
    page.get_by_role("link", name="列印回覆函").click()
    page.wait_for_url(f"**/privacy/requests/{req.pk}/letter/")
    paper = page.locator(".paper[data-letter=reply]")
    expect(paper.locator("[data-field=school]")).to_have_text(f"{SCHOOL}　函")
    expect(paper.locator("[data-field=sender]")).to_contain_text(f"地址：{SCHOOL_ADDRESS}")
    expect(paper.locator("[data-field=sender]")).to_contain_text("承辦人：林怡君")
    expect(paper.locator("[data-field=to]")).to_contain_text("王小明")
    expect(paper.locator("[data-field=date] .n")).to_have_text(
        [str(roc.roc_year(today)), str(today.month), str(today.day)]
    )
    expect(paper.locator("[data-field=doc-number]")).to_contain_text(number)
    received = roc.format_roc(today, "long")
    expect(paper.locator("[data-field=subject]")).to_contain_text(
        f"臺端於{received}提出之個人資料「請求閱覽」請求，本校同意辦理，請查照。"
    )
    expect(paper.locator("[data-item=law]")).to_have_text(
        "依據：個人資料保護法第 3 條、第 10 條及第 13 條第 1 項。"
    )
    expect(paper.locator("[data-item=extension]")).to_contain_text(
        f"延長處理期限至{roc.format_roc(last_day, 'long')}"
    )
    expect(paper.locator("[data-item=result]")).to_contain_text(reply_text)
    expect(paper.locator("[data-field=signatures] th")).to_have_text(
        ["承辦人", "單位主管", "校長（決行）"]
    )
    shot(page, "43-privacy-reply-letter")


# 3. A paper transfer -----------------------------------------------------------------------
def test_paper_transfer_confirmed_by_the_colleague_in_one_click(live_server, page):
    teacher = person_with_login("teacher", STAFF, "劉雅婷")
    colleague = person_with_login("colleague", STAFF, "張志豪")
    what = "101 班學生緊急聯絡名冊"

    sign_in(page, live_server, "teacher")
    open_menu(page, "個資保護", "紙本個資轉交")
    page.wait_for_url("**/privacy/transfers/")
    page.get_by_role("link", name="新增紙本個資轉交紀錄").click()
    page.wait_for_url("**/privacy/transfers/add/")
    expect(page.locator("#id_sender")).to_have_count(0)  # the teacher records their own
    expect(page.get_by_label("彌封", exact=True)).to_be_checked()
    expect(page.locator("[data-section=protection]")).to_be_hidden()
    today = timezone.localdate()
    expect(page.locator("#id_handed_at")).to_have_value(re.compile(rf"^{roc_day(today)} "))
    page.fill("#id_what", what)
    page.fill("#id_copies", "2")
    page.select_option("#id_recipient", value=str(colleague.pk))
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/privacy/transfers/\d+/$"))
    transfer = PaperTransfer.objects.get()
    assert (transfer.what, transfer.copies, transfer.sealed) == (what, 2, True)
    assert (transfer.sender, transfer.recipient, transfer.external_recipient) == (
        teacher,
        colleague,
        "",
    )
    assert transfer.received_at is None
    expect(page.locator("[data-transfer-state]")).to_contain_text("待確認收件")
    expect(page.locator("#confirm")).to_have_count(0)  # the sender does not confirm
    told = Notification.objects.get(recipient=colleague)
    assert told.subject == f"【紙本個資轉交】劉雅婷 轉交「{what}」給您，請確認收件"

    # The colleague, on 待我確認收件: one button.
    sign_in(page, live_server, "colleague")
    open_menu(page, "個資保護", "待我確認收件")
    page.wait_for_url("**/privacy/transfers/awaiting/")
    row = page.locator(f"[data-awaiting-list] [data-transfer='{transfer.pk}']")
    expect(row).to_contain_text(what)
    expect(row).to_contain_text("轉交人：劉雅婷 · 2 份 · 彌封")
    expect(page.locator("[data-awaiting-list] [data-transfer]")).to_have_count(1)
    shot(page, "44-privacy-transfer-awaiting")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="確認收件").click()
    page.wait_for_url("**/privacy/transfers/awaiting/")
    expect(page.locator(".alert-success")).to_contain_text(f"已確認收件：「{what}」。")
    expect(page.locator("[data-awaiting-list]")).to_contain_text("目前沒有待您確認收件的紙本個資。")
    transfer.refresh_from_db()
    assert transfer.received_by == colleague and transfer.received_at is not None

    # The line is locked: only its notes may change.
    sign_in(page, live_server, "teacher")
    page.goto(f"{live_server.url}{transfer.get_absolute_url()}")
    expect(page.locator("[data-transfer-state]")).to_contain_text("已確認收件，僅能修改備註")
    expect(page.locator("[data-field=received]")).to_contain_text("張志豪")
    page.get_by_role("link", name="編輯備註").click()
    page.wait_for_url(f"**/privacy/transfers/{transfer.pk}/edit/")
    expect(page.locator("main .alert-info")).to_contain_text("收件人已確認收件，此紀錄只能修改備註")
    for field in ("#id_what", "#id_copies", "#id_recipient", "#id_handed_at"):
        expect(page.locator(field)).to_be_disabled()
    expect(page.locator("#id_notes")).to_be_enabled()


# 4. An activity notice ---------------------------------------------------------------------
def test_activity_notice_generated_and_copied(live_server, page):
    student_affairs = Unit.objects.create(name="學生事務處", code="student-affairs")
    teacher = person_with_login("teacher", STAFF, "王怡文")
    person = teacher.person
    person.unit = student_affairs
    person.extension = "231"
    person.save(update_fields=["unit", "extension"])
    activity = "115 學年度校慶園遊會攤位報名"

    sign_in(page, live_server, "teacher")
    open_menu(page, "個資保護", "活動個資告知")
    page.wait_for_url("**/privacy/notices/")
    page.get_by_role("link", name="新增活動個資告知事項").click()
    page.wait_for_url("**/privacy/notices/add/")
    expect(page.locator("#id_unit")).to_have_value(str(student_affairs.pk))
    expect(page.locator("#id_area")).to_have_value("中華民國境內")
    expect(page.locator("#id_contact")).to_have_value("學生事務處 王怡文（分機 231）")
    page.fill("#id_activity", activity)
    page.fill("#id_purpose", "辦理園遊會攤位報名、分配及活動聯繫")
    pick(page, "purposes", "109", "109 教育或訓練行政")
    pick(page, "categories", "C001", C001)
    pick(page, "categories", "C051", C051)
    page.fill("#id_period", "自報名日起至活動結束後一年")
    page.fill("#id_recipients", "本校學生事務處")
    page.fill("#id_method", "報名聯繫、攤位分配及公布攤位名單（班級、姓名）")
    page.get_by_label("會公布部分個資（例如姓名）", exact=True).check()
    page.get_by_role("button", name="儲存並產生告知事項").click()
    page.wait_for_url(re.compile(r"/privacy/notices/\d+/$"))
    notice = ActivityNotice.objects.get()
    assert (notice.activity, notice.unit, notice.created_by) == (
        activity,
        student_affairs,
        teacher,
    )
    assert notice.publishes_names
    assert sorted(notice.categories.values_list("code", flat=True)) == ["C001", "C051"]
    assert list(notice.purposes.values_list("code", flat=True)) == ["109"]
    expect(page.locator("[data-publish-hint]")).to_contain_text("條文 7.4")

    # The copy view: the notice as text, for the activity rules and the sign-up form.
    page.get_by_role("link", name="複製文字").click()
    page.wait_for_url(f"**/privacy/notices/{notice.pk}/copy/")
    full = page.locator("#full-text").input_value()
    assert full.startswith(f"「{activity}」個人資料蒐集告知事項\n")
    assert f"{SCHOOL}（以下簡稱本校）為辦理「{activity}」，依個人資料保護法第 8 條規定" in full
    assert f"一、機關名稱：{SCHOOL}（主辦單位：學生事務處）" in full
    assert "（特定目的：109 教育或訓練行政）" in full
    assert f"三、個人資料類別：{C001}、{C051}" in full
    assert "（五）公布：本活動將公布部分個人資料（例如：姓名）" in full
    rights = "；".join(
        f"{n}{right}"
        for n, right in zip(("（一）", "（二）", "（三）", "（四）", "（五）"), RIGHTS, strict=True)
    )
    assert (
        f"依個人資料保護法第 3 條規定，您得就本校保有之您的個人資料行使下列權利：{rights}。" in full
    )
    assert "請洽學生事務處 王怡文（分機 231）" in full
    assert "六、不提供之影響：" in full
    assert (
        f"同意{SCHOOL}於蒐集目的範圍內蒐集、處理及利用本人之個人資料，並同意公布部分個人資料"
        in full
    )
    short = page.locator("#short-text").input_value()
    assert short.startswith(f"【個人資料蒐集告知】{SCHOOL}為辦理「{activity}」")
    assert "查詢或閱覽、製給複製本、補充或更正、停止蒐集處理或利用及刪除" in short
    shot(page, "45-privacy-notice-copy")
    page.locator("[data-copy=full]").get_by_role("button", name="複製").click()
    expect(page.locator("[data-copy-status]")).not_to_be_empty()
