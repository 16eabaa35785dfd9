"""2.7 in a real browser: the security officer reconciles the account list a system exports
with the register (帳號清單比對) — a small Big5 list applied in the request, a larger list
applied by the worker while the page shows its progress, and a file with unreadable rows
that is applied only once the officer says to skip them."""

import csv
import datetime as dt
import io
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from isms.core.models import Person
from isms.core.roles import SECURITY_OFFICER
from isms.identity import reconcile
from isms.identity.models import Account, AccountImport, InformationSystem, OffboardingTask

from .test_account_request import person_with_login, sign_in
from .test_first_sign_in import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

Kind, Status = Account.Kind, Account.Status
HEADER = ["帳號", "顯示名稱", "電子郵件", "啟用", "最後登入"]


def csv_bytes(rows, *, header=HEADER, encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def account(system, username, person=None, kind=Kind.PERSONAL, **fields):
    """Register data as earlier work left it."""
    return Account.objects.create(
        system=system, username=username, person=person, kind=kind, **fields
    )


def ago(**delta) -> dt.datetime:
    return timezone.now() - dt.timedelta(**delta)


def roc(moment: dt.datetime) -> str:
    """A moment as a school system prints it: 115/11/26 08:30 (Taipei time)."""
    local = timezone.localtime(moment)
    return f"{local.year - 1911}/{local:%m/%d %H:%M}"


def filetime(moment: dt.datetime) -> str:
    """A moment as Active Directory exports lastLogonTimestamp (100 ns since 1601)."""
    delta = moment - dt.datetime(1601, 1, 1, tzinfo=dt.UTC)
    return str((delta.days * 86400 + delta.seconds) * 10_000_000)


def upload(page, live_server, system_name, filename, data) -> AccountImport:
    page.goto(f"{live_server.url}/identity/reconcile/")
    page.select_option("#id_system", label=system_name)
    page.set_input_files(
        "#id_file", files=[{"name": filename, "mimeType": "text/csv", "buffer": data}]
    )
    page.get_by_role("button", name="上傳", exact=True).click()
    page.wait_for_url(re.compile(r"/identity/reconcile/\d+/$"))
    return AccountImport.objects.latest("id")


def read_and_compare(page, imp):
    page.get_by_role("button", name="讀取並比對").click()
    expect(page.locator("#group-new")).to_be_visible()
    assert page.url.endswith(imp.get_absolute_url())
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.READ


class Gate:
    """Lets the page's htmx polls reach the server only while the test is not using the
    database itself.

    The live server runs in threads of this process and, with the in-memory SQLite of the
    tests, on this thread's very connection: a poll served while the worker's transaction
    runs here would run inside it. Each poll is therefore made from within a Playwright
    call of this thread (``route.fetch``), and held while the gate is shut.
    """

    def __init__(self, page, url):
        self.page, self.shut, self.held, self.busy = page, False, [], 0
        page.route(url, self._route)

    def _route(self, route):
        if not route.request.headers.get("hx-request"):
            route.continue_()  # the page's own loads: the test waits for them anyway
        elif self.shut:
            self.held.append(route)
        else:
            self._forward(route)

    def _forward(self, route):
        self.busy += 1
        try:
            route.fulfill(response=route.fetch())
        finally:
            self.busy -= 1

    def close(self):
        self.shut = True
        while self.busy:  # a poll under way when the gate shut
            self.page.wait_for_timeout(50)

    def open(self):
        self.shut = False
        held, self.held = self.held, []
        for route in held:
            self._forward(route)


def test_a_big5_list_is_compared_and_applied_in_the_request(live_server, page):
    person_with_login("officer", SECURITY_OFFICER, "陳怡君")
    school = InformationSystem.objects.create(name="校務行政系統")
    InformationSystem.objects.create(name="公務電子郵件")
    lin = Person.objects.create(name="林淑芬", email="lin.shufen@school.edu.tw")
    chen = Person.objects.create(name="陳大文", email="chen.tawen@school.edu.tw")
    left = Person.objects.create(
        name="張家豪", status=Person.Status.LEFT, leave_date=timezone.localdate() - dt.timedelta(90)
    )
    wang = Person.objects.create(name="王志明")
    wu = Person.objects.create(name="吳建國")
    kept = account(school, "lin.shufen", lin, display_name="林淑芬", last_sign_in=ago(days=9))
    departed = account(school, "chang.chiahao", left, display_name="張家豪")
    disabled = account(school, "wang.zhiming", wang, display_name="王志明")
    gone = account(school, "wu.chienkuo", wu, display_name="吳建國")
    data = csv_bytes(
        [
            ["lin.shufen", "林淑芬", "lin.shufen@school.edu.tw", "啟用", roc(ago(days=1))],
            ["chang.chiahao", "張家豪", "", "啟用", roc(ago(days=20))],
            ["wang.zhiming", "王志明", "", "停用", roc(ago(days=200))],
            ["chen.tawen", "陳大文", "chen.tawen@school.edu.tw", "是", roc(ago(days=2))],
            ["library", "圖書館公用電腦", "", "啟用", ""],
            ["admin", "系統管理者", "", "1", roc(ago(hours=5))],
        ],
        encoding="cp950",
    )
    data.decode("cp950")  # Big5 indeed, and not UTF-8:
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")

    # The upload, and the columns guessed from the Chinese header.
    sign_in(page, live_server, "officer")
    imp = upload(page, live_server, "校務行政系統", "校務系統帳號清單.csv", data)
    assert imp.system == school and imp.encoding == "cp950"
    expect(page.locator("main")).to_contain_text("已上傳，請確認各欄位的對應。")
    expect(page.locator("main")).to_contain_text("編碼：Big5（cp950）。以逗號分隔。")
    header = page.locator("main table thead th")
    expect(header).to_have_text([f"{i}. {name}" for i, name in enumerate(HEADER, 1)])
    expect(page.locator("main table tbody")).to_contain_text("圖書館公用電腦")
    for field, column in {
        "account": "0",
        "display_name": "1",
        "email": "2",
        "enabled": "3",
        "last_sign_in": "4",
        "privileged": "",
    }.items():
        expect(page.locator(f"#id_{field}")).to_have_value(column)
    expect(page.locator("#id_encoding")).to_have_value("cp950")
    read_and_compare(page, imp)
    expect(page.locator("main")).to_contain_text("已讀取並比對 6 筆。")

    # The differences, grouped.
    def group(name):
        return page.locator(f"#group-{name}")

    def rows(name):
        return group(name).locator("tbody tr")

    expect(rows("new")).to_have_count(3)
    expect(rows("new").first).to_contain_text("chen.tawen")
    expect(rows("new").first).to_contain_text("陳大文 （依電子郵件）")
    expect(rows("gone")).to_have_count(1)
    expect(rows("gone")).to_contain_text("wu.chienkuo")
    expect(rows("departed")).to_have_count(1)
    expect(rows("departed")).to_contain_text("chang.chiahao")
    expect(rows("departed")).to_contain_text("張家豪 已離職")
    expect(rows("unused")).to_have_count(1)
    expect(rows("unused")).to_contain_text("library")
    expect(rows("unused")).to_contain_text("從未登入")
    expect(rows("privileged")).to_have_count(1)
    expect(rows("privileged")).to_contain_text("admin")
    expect(rows("status")).to_have_count(1)
    expect(rows("status")).to_contain_text("wang.zhiming")
    expect(group("shared").locator("tbody tr")).to_have_count(0)
    expect(page.locator("#id_unmatched_kind")).to_have_value("")

    # The unmatched new accounts as shared ones, except admin; apply.
    page.select_option("#id_unmatched_kind", label="共用")
    page.get_by_label("不新增 admin", exact=True).check()
    shot(page, "16-reconcile-differences")
    page.get_by_role("button", name="套用到登記簿").click()
    expect(page.locator("h1 + .badge")).to_have_text("已套用")
    expect(page.locator("main")).to_contain_text(
        "已套用：新增 2 個帳號、標記 1 個為已刪除、變更 1 個的啟用狀態、更新 3 個的資料、"
        "指定 0 個的使用人、建立 1 項帳號移除工作；略過 0 筆無法讀取的資料。"
    )
    expect(page.locator("#apply-form")).to_have_count(0)

    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.APPLIED and imp.applied_by.username == "officer"
    for a in (kept, departed, disabled, gone):
        a.refresh_from_db()
    assert gone.status == Status.REMOVED and "帳號清單比對" in gone.notes
    assert disabled.status == Status.DISABLED
    assert kept.status == Status.ACTIVE and kept.email == "lin.shufen@school.edu.tw"
    assert departed.status == Status.ACTIVE  # still enabled on the system: a removal task
    task = OffboardingTask.objects.get()
    assert task.account == departed and task.person == left and task.done_at is None
    assert task.reason == OffboardingTask.Reason.LEFT
    added = {a.username: a for a in Account.objects.filter(source=Account.Source.IMPORT)}
    assert set(added) == {"chen.tawen", "library"}
    assert added["chen.tawen"].kind == Kind.PERSONAL and added["chen.tawen"].person == chen
    assert added["library"].kind == Kind.SHARED and added["library"].person is None
    assert added["library"].display_name == "圖書館公用電腦"
    assert not Account.objects.filter(username="admin").exists()


def test_a_large_list_is_applied_by_the_worker_while_the_page_shows_progress(
    live_server, page, settings
):
    settings.ISMS_IMPORT_INLINE_CHANGES = 0  # every apply goes to the worker
    person_with_login("officer", SECURITY_OFFICER, "陳怡君")
    directory = InformationSystem.objects.create(name="網域目錄服務")
    lin = Person.objects.create(name="林淑芬", email="lin.shufen@school.edu.tw")
    chen = Person.objects.create(name="陳大文", email="chen.tawen@school.edu.tw")
    kept = account(directory, "lin.shufen", lin, display_name="林淑芬", email=lin.email)
    old = [
        account(directory, f"lab-old-{n:02d}", kind=Kind.SERVICE, display_name="舊電腦教室")
        for n in (1, 2, 3)
    ]
    machines = [f"pc-{room}-{seat:02d}" for room in (301, 302, 303, 304) for seat in range(1, 41)]
    data = csv_bytes(
        [
            ["lin.shufen", "林淑芬", "lin.shufen@school.edu.tw", "True", filetime(ago(days=1))],
            ["chen.tawen", "陳大文", "chen.tawen@school.edu.tw", "True", filetime(ago(days=3))],
            *[[m, f"電腦教室 {m}", "", "True", filetime(ago(days=2))] for m in machines],
        ],
        header=["sAMAccountName", "displayName", "mail", "Enabled", "lastLogonTimestamp"],
    )

    sign_in(page, live_server, "officer")
    imp = upload(page, live_server, "網域目錄服務", "ad-users.csv", data)
    for field, column in {"account": "0", "display_name": "1", "last_sign_in": "4"}.items():
        expect(page.locator(f"#id_{field}")).to_have_value(column)
    read_and_compare(page, imp)
    expect(page.locator("main")).to_contain_text(f"已讀取並比對 {len(machines) + 2} 筆。")
    expect(page.locator("#group-new summary .badge")).to_have_text(str(len(machines) + 1))
    expect(page.locator("#apply-form")).to_contain_text("將交由背景程序套用，本頁會顯示進度")
    page.select_option("#id_unmatched_kind", label="服務")

    gate = Gate(page, f"**{imp.get_absolute_url()}")
    page.get_by_role("button", name="套用到登記簿").click()
    box = page.locator("#apply-progress")
    expect(box).to_contain_text("等待套用")
    expect(box).to_contain_text("等待背景工作程序（isms worker）處理")
    expect(page.locator("main")).to_contain_text("變更較多，已交由背景程序在同一交易中套用")
    expect(page.locator("#apply-form")).to_have_count(0)
    shot(page, "17-reconcile-progress")

    # Nothing changes before the worker runs; then it applies the officer's choices.
    gate.close()
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.QUEUED
    assert imp.apply_options["unmatched_kind"] == Kind.SERVICE
    assert not Account.objects.filter(source=Account.Source.IMPORT).exists()
    assert reconcile.run_pending("e2e") == 1
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.APPLIED and imp.claimed_by == "e2e"
    gate.open()

    # The page polls every 2 s and reloads itself when the apply is over.
    expect(page.locator("h1 + .badge")).to_have_text("已套用", timeout=10_000)
    expect(page.locator("main")).to_contain_text(
        f"已套用：新增 {len(machines) + 1} 個帳號、標記 3 個為已刪除", timeout=10_000
    )
    expect(page.locator("#apply-progress")).to_have_count(0)
    assert imp.applied_by.username == "officer"
    added = Account.objects.filter(system=directory, source=Account.Source.IMPORT)
    assert added.count() == len(machines) + 1
    assert set(added.filter(kind=Kind.SERVICE).values_list("username", flat=True)) == set(machines)
    assert added.get(username="chen.tawen").person == chen
    for a in (*old, kept):
        a.refresh_from_db()
    assert {a.status for a in old} == {Status.REMOVED}
    assert kept.status == Status.ACTIVE and kept.last_sign_in > ago(days=2)


def test_unreadable_rows_are_listed_and_applied_only_when_skipped(live_server, page):
    person_with_login("officer", SECURITY_OFFICER, "陳怡君")
    mail = InformationSystem.objects.create(name="公務電子郵件")
    lin = Person.objects.create(name="林淑芬", email="lin.shufen@school.edu.tw")
    chen = Person.objects.create(name="陳大文", email="chen.tawen@school.edu.tw")
    kept = account(mail, "lin.shufen", lin, email=lin.email)
    gone = account(mail, "wu.chienkuo", Person.objects.create(name="吳建國"))
    data = csv_bytes(
        [
            ["chen.tawen", "陳大文", "chen.tawen@school.edu.tw", "1", roc(ago(days=1))],
            ["lin.shufen", "林淑芬", "lin.shufen.school.edu.tw", "1", roc(ago(days=1))],
            ["huang.meiling", "黃美玲", "huang.meiling@school.edu.tw", "1", "上週三"],
        ],
        encoding="utf-8-sig",  # Excel's "CSV UTF-8"
    )

    sign_in(page, live_server, "officer")
    imp = upload(page, live_server, "公務電子郵件", "mail-accounts.csv", data)
    expect(page.locator("main")).to_contain_text("編碼：UTF-8（BOM）。")
    read_and_compare(page, imp)
    expect(page.locator("main")).to_contain_text("已讀取 3 筆，其中 2 筆無法讀取；請檢視下列原因。")
    expect(page.get_by_role("heading", name="無法讀取的資料 2 筆")).to_be_visible()
    bad = page.locator("main table").first.locator("tbody tr")
    expect(bad).to_have_text(
        [
            re.compile(r"^\s*3\s*lin\.shufen\s*電子郵件「lin\.shufen\.school\.edu\.tw」格式不正確"),
            re.compile(r"^\s*4\s*huang\.meiling\s*無法辨識最後登入時間「上週三」"),
        ]
    )
    # An unreadable row's account is neither gone nor new.
    expect(page.locator("#group-gone tbody tr")).to_have_text([re.compile("wu.chienkuo")])
    expect(page.locator("#group-new tbody tr")).to_have_text([re.compile("chen.tawen")])

    # Applying without skipping the unreadable rows is refused: nothing changes.
    before = sorted(Account.objects.values_list("username", "status", "email"))
    skip = page.get_by_label("略過 2 筆無法讀取的資料，只套用其餘資料")
    expect(skip).not_to_be_checked()
    page.get_by_role("button", name="套用到登記簿").click()
    page.wait_for_url(f"**{imp.get_absolute_url()}apply/")
    alerts = page.locator(".alert-danger")
    expect(alerts).to_have_text(
        [
            re.compile("檔案有 2 筆無法讀取的資料；請修正後重新上傳，或勾選略過這些資料。"),
            re.compile("未套用任何變更。"),
        ]
    )
    assert sorted(Account.objects.values_list("username", "status", "email")) == before
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.READ and imp.applied_at is None

    # Ticking the box applies the rest.
    skip.check()
    page.get_by_role("button", name="套用到登記簿").click()
    page.wait_for_url(f"**{imp.get_absolute_url()}")
    expect(page.locator("h1 + .badge")).to_have_text("已套用")
    expect(page.locator("main")).to_contain_text(
        "已套用：新增 1 個帳號、標記 1 個為已刪除、變更 0 個的啟用狀態、更新 0 個的資料、"
        "指定 0 個的使用人、建立 0 項帳號移除工作；略過 2 筆無法讀取的資料。"
    )
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.APPLIED
    assert imp.differences["applied"]["skipped_rows"] == 2
    gone.refresh_from_db()
    kept.refresh_from_db()
    assert gone.status == Status.REMOVED
    assert kept.status == Status.ACTIVE and kept.email == "lin.shufen@school.edu.tw"
    assert Account.objects.get(system=mail, username="chen.tawen").person == chen
    assert not Account.objects.filter(username="huang.meiling").exists()
