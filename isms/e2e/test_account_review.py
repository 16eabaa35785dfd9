"""2.7 and 2.8 in a real browser: the security officer starts a system's semester review,
its administrator (not the officer) works the checklist — a departed holder's account can
only be disabled — and completes it; a system administrator fills the A-4 list of
privileged accounts (each with its 人員姓名 and 權限說明) and the supervisor reviews it;
the print-outs, signed from the recorded steps; and a teacher is refused the review pages."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from isms.core.models import Person
from isms.core.roles import SECURITY_OFFICER, STAFF, SUPERVISOR, SYSADMIN
from isms.identity.models import (
    Account,
    AccountReview,
    InformationSystem,
    PrivilegedReview,
)

from .test_account_request import person_with_login, sign_in
from .test_first_sign_in import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

Kind, Status = Account.Kind, Account.Status


def account(system, username, kind=Kind.PERSONAL, **fields):
    """Register data as an import would leave it (a privileged one may lack its rights)."""
    fields.setdefault("last_sign_in", timezone.now() - dt.timedelta(days=3))
    return Account.objects.create(system=system, username=username, kind=kind, **fields)


def test_officer_starts_the_review_the_administrator_disables_and_completes(live_server, page):
    officer = person_with_login("officer", SECURITY_OFFICER, "陳怡君")
    admin = person_with_login("sysadmin", SYSADMIN, "王志明")
    school = InformationSystem.objects.create(name="校務行政系統")
    school.administrators.add(admin)
    InformationSystem.objects.create(name="公務電子郵件")  # not started this time
    lin = account(school, "lin.shufen", person=Person.objects.create(name="林淑芬"))
    left = Person.objects.create(
        name="張家豪", status=Person.Status.LEFT, leave_date=dt.date(2025, 7, 31)
    )
    chang = account(school, "chang.chiahao", person=left)
    root = account(school, "root", Kind.PRIVILEGED, person=admin.person, rights="全系統設定")
    lab = account(school, "lab.pc", Kind.SHARED, display_name="電腦教室")
    account(school, "old.user", person=left, status=Status.REMOVED)

    # The officer starts this semester's review of one system.
    sign_in(page, live_server, "officer")
    page.goto(f"{live_server.url}/identity/account-reviews/")
    page.select_option("#id_system", label="校務行政系統")
    page.fill("#id_note", "請於兩週內完成")
    page.get_by_role("button", name="發起本學期檢查").click()
    page.wait_for_url("**/identity/account-reviews/*/")
    review = AccountReview.objects.get()
    assert review.system == school and review.started_by == officer
    items = {i.account.username: i for i in review.items.select_related("account")}
    assert set(items) == {"lin.shufen", "chang.chiahao", "root", "lab.pc"}  # not the removed
    assert "已確認 0 / 4 個帳號" in page.content()
    # The system has an administrator: the officer starts, but does not decide.
    assert page.locator("input[type=radio]").count() == 0
    assert "由此系統的系統管理人員確認各帳號並完成檢查" in page.content()

    # Its administrator finds it on the list and works the checklist.
    sign_in(page, live_server, "sysadmin")
    page.goto(f"{live_server.url}/identity/account-reviews/")
    page.locator("main table").first.get_by_role("link", name="校務行政系統").click()
    page.wait_for_url(f"**{review.get_absolute_url()}")
    departed = page.locator(f"#item-{items['chang.chiahao'].pk}")
    assert "table-warning" in (departed.get_attribute("class") or "")
    assert departed.locator("[data-flag=departed]").count() == 1
    assert page.get_by_role("button", name="完成檢查").is_disabled()

    def choose(username, label):
        page.locator(f"#item-{items[username].pk}").get_by_label(label, exact=True).check()

    # A departed holder's account cannot be kept: its row offers 停用 only.
    assert departed.get_by_label("確認保留", exact=True).count() == 0
    assert departed.get_by_label("停用", exact=True).count() == 1
    # Keeping an unjustified shared account without a reason is refused; nothing is saved.
    choose("lin.shufen", "確認保留")
    choose("root", "確認保留")
    choose("lab.pc", "確認保留")
    choose("chang.chiahao", "停用")
    page.get_by_role("button", name="儲存檢查結果").click()
    shared = page.locator(f"#item-{items['lab.pc'].pk}")
    expect(shared.locator(".invalid-feedback")).to_have_text(
        "保留須說明理由（共用帳號未說明理由）。"
    )
    assert not review.items.exclude(decision="").exists()

    page.fill(f"input[name=note-{items['lab.pc'].pk}]", "電腦教室上課共用，下學期改個人帳號")
    page.fill(f"input[name=note-{items['chang.chiahao'].pk}]", "已於 7 月 31 日離職")
    page.get_by_role("button", name="儲存檢查結果").click()
    page.wait_for_url(f"**{review.get_absolute_url()}")
    assert "已儲存 4 個帳號的檢查結果（停用 1 個）" in page.content()
    chang.refresh_from_db()
    assert chang.status == Status.DISABLED and chang.disabled_on == timezone.localdate()
    assert "帳號定期檢查停用：已於 7 月 31 日離職" in chang.notes
    for kept in (lin, root, lab):
        kept.refresh_from_db()
        assert kept.status == Status.ACTIVE
    decided = {i.account.username: i.decision for i in review.items.select_related("account")}
    assert decided == {
        "lin.shufen": "keep",
        "chang.chiahao": "disable",
        "root": "keep",
        "lab.pc": "keep",
    }
    assert all(i.decided_by == admin for i in review.items.all())
    assert "已確認 4 / 4 個帳號" in page.content()
    shot(page, "14-account-review")

    page.fill("#id_note", "已逐一核對人事資料")
    page.get_by_role("button", name="完成檢查").click()
    page.wait_for_url(f"**{review.get_absolute_url()}")
    assert "已完成系統「校務行政系統」的帳號定期檢查" in page.content()
    review.refresh_from_db()
    assert review.completed_by == admin and review.completed_at is not None
    assert "已逐一核對人事資料" in review.note
    assert page.locator("input[type=radio]").count() == 0  # closed: no more changes

    page.get_by_role("link", name="列印紀錄").click()
    page.wait_for_url(f"**/identity/account-reviews/{review.pk}/print/")
    paper = page.locator(".paper").inner_text()
    for text in ("校務行政系統", "lin.shufen", "chang.chiahao", "root", "林淑芬", "張家豪"):
        assert text in paper
    assert "old.user" not in paper
    assert "已確認 4 / 4 個帳號" in paper and "此檢查尚未完成" not in paper
    assert paper.count("確認保留") == 3 and "已於 7 月 31 日離職" in paper
    # The signature boxes: who started it and who completed it, with the times; each
    # decision is signed in its row. No box for a step the app does not have.
    boxes = page.locator(".paper table.signatures td")
    assert boxes.count() == 2
    assert "陳怡君" in boxes.nth(0).inner_text() and "王志明" in boxes.nth(1).inner_text()
    assert all(
        re.search(r"\d{3}/\d{2}/\d{2} \d{2}:\d{2}", boxes.nth(i).inner_text()) for i in (0, 1)
    )
    assert "資訊業務主管" not in paper


def test_administrator_fills_the_a4_list_and_the_supervisor_reviews_it(live_server, page):
    admin = person_with_login("sysadmin", SYSADMIN, "王志明")
    person_with_login("boss", SUPERVISOR, "黃建華")
    school = InformationSystem.objects.create(name="校務行政系統")
    school.administrators.add(admin)
    directory = InformationSystem.objects.create(name="網域目錄服務")
    rights = "系統參數設定、帳號權限管理"
    account(school, "sysadmin", Kind.PRIVILEGED, person=admin.person, rights=rights)
    domain = account(directory, "domain.admin", Kind.PRIVILEGED, display_name="網域管理員")
    backup = account(directory, "backup.svc", Kind.PRIVILEGED, rights="備份排程、還原")
    account(directory, "old.root", Kind.PRIVILEGED, rights="全部", status=Status.DISABLED)
    account(school, "lin.shufen", person=Person.objects.create(name="林淑芬"))

    # A privileged account without its rights, or without a name for A-4's 人員姓名, blocks
    # the list until they are written down.
    sign_in(page, live_server, "sysadmin")
    page.goto(f"{live_server.url}/identity/privileged/")
    assert page.get_by_role("button", name="填寫本學期清單").is_disabled()
    nameless = page.locator("[data-blocking=holder]")
    expect(nameless).to_contain_text("下列特權帳號沒有人員姓名")
    nameless.get_by_role("link", name="網域目錄服務：backup.svc").click()
    page.wait_for_url(f"**{backup.get_absolute_url()}")
    page.get_by_role("link", name="編輯", exact=True).click()
    page.wait_for_url("**/edit/")
    page.fill("#id_display_name", "備份服務（資訊組）")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(f"**{backup.get_absolute_url()}")

    page.goto(f"{live_server.url}/identity/privileged/")
    assert page.locator("[data-blocking=holder]").count() == 0
    assert page.get_by_role("button", name="填寫本學期清單").is_disabled()
    page.locator("[data-blocking=rights]").get_by_role(
        "link", name="網域目錄服務：domain.admin"
    ).click()
    page.wait_for_url(f"**{domain.get_absolute_url()}")
    page.get_by_role("link", name="編輯", exact=True).click()
    page.wait_for_url("**/edit/")
    page.fill("#id_rights", "網域使用者與群組管理、群組原則設定")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(f"**{domain.get_absolute_url()}")
    domain.refresh_from_db()
    assert domain.rights == "網域使用者與群組管理、群組原則設定"

    page.goto(f"{live_server.url}/identity/privileged/")
    page.get_by_role("button", name="填寫本學期清單").click()
    page.wait_for_url("**/identity/privileged/reviews/*/")
    review = PrivilegedReview.objects.get()
    assert review.prepared_by == admin and review.reviewed_at is None
    items = review.items.select_related("account")
    assert {(i.account.username, i.holder, i.rights) for i in items} == {
        ("sysadmin", "王志明", rights),
        ("domain.admin", "網域管理員", "網域使用者與群組管理、群組原則設定"),
        ("backup.svc", "備份服務（資訊組）", "備份排程、還原"),
    }
    columns = page.locator("main table thead").last.inner_text().split()
    assert columns == ["系統名稱", "帳號", "人員姓名", "權限說明"]
    assert "填寫人" in page.content() and "填寫日期" in page.content()
    assert "待主管覆核" in page.content()
    assert page.locator("textarea[name=review_note]").count() == 0  # only the supervisor

    # The supervisor reviews it from the list.
    sign_in(page, live_server, "boss")
    page.goto(f"{live_server.url}/identity/privileged/")
    page.get_by_role("link", name=re.compile("由 王志明 填寫")).click()
    page.wait_for_url(f"**{review.get_absolute_url()}")
    page.fill("#id_review_note", "權限符合職務需要，同意。")
    page.get_by_role("button", name="覆核", exact=True).click()
    page.wait_for_url(f"**{review.get_absolute_url()}")
    assert "已覆核特權帳號清單" in page.content()
    review.refresh_from_db()
    assert review.reviewed_by.username == "boss" and review.reviewed_at is not None
    assert review.review_note == "權限符合職務需要，同意。"

    page.get_by_role("link", name="列印 A-4").click()
    page.wait_for_url(f"**/identity/privileged/reviews/{review.pk}/print/")
    paper = page.locator(".paper").inner_text()
    assert "文件編號：A-4" in paper and "系統特權帳號清單" in paper and "填寫日期" in paper
    columns = page.locator(".paper table.grid thead").inner_text().split()
    assert columns == ["系統名稱", "帳號", "人員姓名", "權限說明"]
    assert "填寫人" in paper and "填表" not in paper
    for text in (
        "校務行政系統",
        "sysadmin",
        "系統參數設定、帳號權限管理",
        "網域目錄服務",
        "domain.admin",
        "網域管理員",
        "網域使用者與群組管理、群組原則設定",
        "backup.svc",
        "備份服務（資訊組）",
        "王志明",  # holder, and who filled the list in
        "黃建華",  # the supervisor's review
        "權限符合職務需要，同意。",
    ):
        assert text in paper
    assert "old.root" not in paper and "lin.shufen" not in paper
    assert "此清單尚待主管覆核" not in paper
    shot(page, "15-privileged-review-print")


def test_a_teacher_is_refused_and_an_administrator_cannot_start_a_review(live_server, page):
    person_with_login("teacher", STAFF, "劉雅婷")
    admin = person_with_login("sysadmin", SYSADMIN, "王志明")
    InformationSystem.objects.create(name="校務行政系統").administrators.add(admin)

    sign_in(page, live_server, "teacher")
    for path in ("/identity/account-reviews/start/", "/identity/account-reviews/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 403
        assert "403" in page.content() and "發起本學期檢查" not in page.content()

    # A system administrator reads the reviews but only the security officer starts them.
    sign_in(page, live_server, "sysadmin")
    response = page.goto(f"{live_server.url}/identity/account-reviews/")
    assert response.status == 200 and "校務行政系統" in page.content()
    assert page.get_by_role("button", name="發起本學期檢查").count() == 0
    assert page.goto(f"{live_server.url}/identity/account-reviews/start/").status == 403
    assert not AccountReview.objects.exists()
