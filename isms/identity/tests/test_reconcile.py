"""Reconciliation of an account list exported from a system (2.7; issue 5 point 7)."""

import csv
import datetime as dt
import io
import os

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.core.models import Person
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
from isms.identity import reconcile, services
from isms.identity.models import Account, AccountImport, InformationSystem, OffboardingTask

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
LIST_URL = "/identity/reconcile/"
HEADER = ["帳號", "顯示名稱", "電子郵件", "啟用", "最後登入"]


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


# Helpers -------------------------------------------------------------------------------------
def system(name="校務行政系統", **values):
    return InformationSystem.objects.create(name=name, **values)


def person(name="陳大文", **values):
    return Person.objects.create(name=name, **values)


def account(username, on, holder=None, **values):
    values.setdefault("kind", Account.Kind.PERSONAL if holder else Account.Kind.SERVICE)
    obj = Account(system=on, username=username, person=holder, **values)
    return services.save_account(obj, actor=None)


def csv_bytes(rows, *, encoding="utf-8", delimiter=",", header=HEADER) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows, header=HEADER) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(c, on, data: bytes, name="accounts.csv", unused_days=180):
    return c.post(
        LIST_URL,
        {"system": on.pk, "file": SimpleUploadedFile(name, data), "unused_days": unused_days},
    )


def latest():
    return AccountImport.objects.latest("id")


def choose(c, imp, *, encoding=None, **columns):
    """Post the column choice; by default the guessed columns."""
    imp.refresh_from_db()
    data = {
        "header_line": imp.mapping.get("header_line") or 1,
        "unused_days": imp.unused_days,
    }
    if imp.mapping.get("kind") == "csv":
        big5 = imp.encoding in ("cp950", "big5hkscs")
        data["encoding"] = encoding or (imp.encoding if big5 else "utf-8")
    guessed = imp.mapping.get("columns") or {}
    for field in reconcile.FIELDS:
        value = columns.get(field, guessed.get(field))
        data[field] = "" if value is None else str(value)
    return c.post(reverse("identity:accountimport_columns", args=[imp.pk]), data)


def apply(c, imp, **data):
    imp.refresh_from_db()
    data.setdefault("digest", imp.differences.get("digest", ""))
    return c.post(reverse("identity:accountimport_apply", args=[imp.pk]), data)


def read(c, on, data, name="accounts.csv", **columns):
    response = upload(c, on, data, name)
    assert response.status_code == 302, response.content.decode()[:2000]
    imp = latest()
    response = choose(c, imp, **columns)
    assert response.status_code == 302, response.content.decode()[:3000]
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.READ
    return imp


def group(imp, name):
    return imp.differences["groups"][name]


def names(imp, name):
    return [e["username"] for e in group(imp, name)]


@pytest.fixture
def officer(client_for):
    return client_for(SECURITY_OFFICER)


# Encodings, delimiters and formats ------------------------------------------------------------
ROWS = [
    ["chen", "陳大文", "chen@school.edu.tw", "是", "2026-11-01 08:00"],
    ["lin", "林小美", "lin@school.edu.tw", "啟用", "115/10/15 09:30"],
    ["wang", "王曉明", "", "停用", ""],
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "encoding,expected",
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp950", "cp950"), ("big5", "cp950")],
)
def test_csv_encodings_are_detected_and_chinese_names_read(officer, encoding, expected):
    s = system()
    imp = read(officer, s, csv_bytes(ROWS, encoding=encoding))
    assert imp.encoding == expected
    assert imp.mapping["header"] == HEADER
    assert imp.mapping["columns"] == {
        "account": 0,
        "display_name": 1,
        "email": 2,
        "enabled": 3,
        "last_sign_in": 4,
        "privileged": None,
    }
    new = {e["username"]: e for e in group(imp, "new")}
    assert new["chen"]["display_name"] == "陳大文"
    assert new["lin"]["display_name"] == "林小美"
    assert new["wang"]["enabled"] is False
    assert new["lin"]["last_sign_in"] == "2026-10-15T01:30:00+00:00"  # 115/10/15 09:30 Taipei
    assert imp.rows == 3 and imp.errors == []
    page = officer.get(imp.get_absolute_url())
    assert "陳大文" in page.content.decode()


@pytest.mark.django_db
def test_big5_hkscs_names_are_detected(officer):
    s = system()
    rows = [["lee", "李嗰", "", "是", ""], ["chen", "陳喆", "", "是", ""]]  # not in cp950
    imp = read(officer, s, csv_bytes(rows, encoding="big5hkscs"))
    assert imp.encoding == "big5hkscs"
    assert {e["display_name"] for e in group(imp, "new")} == {"李嗰", "陳喆"}


@pytest.mark.django_db
def test_the_header_and_a_sample_are_shown_before_reading(officer):
    s = system()
    upload(officer, s, csv_bytes(ROWS, encoding="cp950"))
    imp = latest()
    assert imp.status == AccountImport.Status.UPLOADED
    page = officer.get(imp.get_absolute_url()).content.decode()
    for text in ("顯示名稱", "最後登入", "林小美", "Big5"):
        assert text in page


@pytest.mark.django_db
def test_a_file_neither_utf8_nor_big5_asks_for_the_encoding(officer):
    s = system()
    data = "帳號,顯示名稱\nchen,陳大文\n".encode() + b"\xff\xfe\x80,\x80\n"
    assert reconcile.detect_encoding(data) == ""
    response = upload(officer, s, data)
    assert response.status_code == 302
    imp = latest()
    assert imp.encoding == "" and "header" not in imp.mapping
    page = officer.get(imp.get_absolute_url()).content.decode()
    assert 'name="encoding"' in page and "UTF-8" in page and "Big5" in page
    assert 'name="account"' not in page  # no column choice before the encoding is chosen
    response = officer.post(
        reverse("identity:accountimport_columns", args=[imp.pk]), {"encoding": "utf-8"}
    )
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.encoding == "utf-8" and imp.mapping["header"] == ["帳號", "顯示名稱"]
    assert imp.mapping["replaced"] > 0
    imp = latest()
    response = choose(officer, imp)
    imp.refresh_from_db()
    assert names(imp, "new") == ["chen"]
    assert [e["line"] for e in imp.errors] == [3]  # the undecodable account name


@pytest.mark.django_db
def test_the_officer_may_change_a_detected_encoding(officer):
    s = system()
    upload(officer, s, csv_bytes(ROWS, encoding="cp950"))
    imp = latest()
    response = choose(officer, imp, encoding="utf-8")
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.UPLOADED  # the header is shown again first
    assert imp.encoding == "utf-8" and imp.mapping["replaced"] > 0


@pytest.mark.django_db
def test_xlsx_with_excel_dates_numbers_and_booleans(officer):
    s = system()
    rows = [
        ["chen", "陳大文", "chen@school.edu.tw", True, dt.datetime(2026, 11, 1, 8, 0)],
        [12345, "林小美", None, 1, 46300.5],  # an Excel serial number: 2026-10-05 12:00
        ["wang", "王曉明", None, "N", None],
    ]
    imp = read(officer, s, xlsx_bytes(rows), name="accounts.xlsx")
    assert imp.encoding == "" and imp.mapping["kind"] == "xlsx"
    new = {e["username"]: e for e in group(imp, "new")}
    assert set(new) == {"chen", "12345", "wang"}
    assert new["chen"]["enabled"] is True and new["wang"]["enabled"] is False
    assert new["chen"]["last_sign_in"] == "2026-11-01T00:00:00+00:00"
    assert new["12345"]["last_sign_in"] == "2026-10-05T04:00:00+00:00"
    assert new["12345"]["display_name"] == "林小美"


@pytest.mark.django_db
@pytest.mark.parametrize("delimiter", ["\t", ";"])
def test_tab_and_semicolon_delimited_files(officer, delimiter):
    s = system()
    rows = [["chen", "Chen, Ta-wen", "", "Y", ""], ["lin", "Lin, Mei", "", "N", ""]]
    imp = read(officer, s, csv_bytes(rows, delimiter=delimiter), name="accounts.txt")
    assert imp.mapping["delimiter"] == delimiter
    assert {e["username"]: e["display_name"] for e in group(imp, "new")} == {
        "chen": "Chen, Ta-wen",
        "lin": "Lin, Mei",
    }


@pytest.mark.django_db
def test_a_file_without_an_account_column_is_refused_with_the_reason(officer):
    s = system()
    data = csv_bytes([["陳大文", "chen@school.edu.tw"]], header=["姓名", "Email"])
    upload(officer, s, data)
    imp = latest()
    assert imp.mapping["columns"]["account"] is None
    page = officer.get(imp.get_absolute_url()).content.decode()
    assert "找不到帳號欄位" in page
    response = choose(officer, imp)
    assert response.status_code == 400
    assert "請選擇帳號欄位；沒有帳號欄位的清單無法比對。" in response.content.decode()
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.UPLOADED and imp.differences == {}
    with pytest.raises(reconcile.FileError):
        reconcile.read_rows(data, {**imp.mapping, "columns": {"account": None}}, "utf-8")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name,data,message",
    [
        ("garbage.csv", b"\x00\x01\x02\xff" * 100, "文字檔內容不正確"),
        ("empty.csv", b"", ""),
        ("accounts.pdf", b"%PDF-1.4 something", "只接受 CSV 或 XLSX"),
        ("accounts.docx", b"PK\x03\x04" + b"\x00" * 100, "只接受 CSV 或 XLSX"),
        ("broken.xlsx", b"PK\x03\x04" + b"\x00" * 100, "無法讀取此 XLSX 檔案"),
        ("fake.xlsx", b"account,name\nchen,x\n", "檔案內容與副檔名 .xlsx 不符"),
        ("blank.csv", b"\r\n\r\n ,\r\n", "找不到標題列"),
        ("unicode.txt", "帳號\t姓名\r\n".encode("utf-16"), "UTF-16"),
    ],
)
def test_malformed_files_are_refused(officer, name, data, message):
    s = system()
    response = upload(officer, s, data, name=name)
    assert response.status_code == 400
    if message:
        assert message in response.content.decode()
    assert not AccountImport.objects.exists()


@pytest.mark.django_db
def test_a_header_without_data_rows_cannot_be_compared(officer):
    s = system()
    account("chen", s, person())
    upload(officer, s, csv_bytes([]))
    response = choose(officer, latest())
    assert response.status_code == 400
    assert "標題列之後沒有任何資料列" in response.content.decode()
    assert latest().status == AccountImport.Status.UPLOADED


@pytest.mark.django_db
def test_a_title_row_above_the_header_can_be_skipped(officer):
    s = system()
    data = "校務系統帳號清單 2026/11/30\r\n".encode() + csv_bytes(ROWS)
    upload(officer, s, data)
    imp = latest()
    assert imp.mapping["header"] == ["校務系統帳號清單 2026/11/30"]
    response = choose(officer, imp, header_line=2)
    response = officer.post(
        reverse("identity:accountimport_columns", args=[imp.pk]),
        {"encoding": "utf-8", "header_line": 2, "unused_days": 180, "account": "0"},
    )
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.mapping["header"] == HEADER and imp.mapping["header_line"] == 2
    choose(officer, imp)
    imp.refresh_from_db()
    assert sorted(names(imp, "new")) == ["chen", "lin", "wang"]
    assert group(imp, "new")[0]["line"] == 3


# Bad rows ------------------------------------------------------------------------------------
BAD = [
    ["chen", "陳大文", "", "是", ""],  # line 2: fine
    ["", "無名氏", "", "是", ""],  # 3: no account name
    ["lin", "林小美", "", "maybe", ""],  # 4: enabled unreadable
    ["wang", "王曉明", "", "1", "yesterday"],  # 5: date unreadable
    ["Dup", "甲", "", "1", ""],  # 6: duplicate (case-insensitive) of line 7
    ["dup", "乙", "", "1", ""],  # 7
    ["mail", "丙", "not-an-email", "1", ""],  # 8: e-mail
]


def _bad_setup(officer):
    s = system()
    keep = account("lin", s, person("林小美"))
    gone = account("old", s, person("老帳號"))
    imp = read(officer, s, csv_bytes(BAD))
    return s, keep, gone, imp


@pytest.mark.django_db
def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_applied(officer):
    _s, _keep, gone, imp = _bad_setup(officer)
    assert [(e["line"], e["code"]) for e in imp.errors] == [
        (3, "no_account"),
        (4, "enabled"),
        (5, "date"),
        (6, "duplicate"),
        (7, "duplicate"),
        (8, "email"),
    ]
    texts = [reconcile.error_text(e) for e in imp.errors]
    assert texts[1].startswith("無法辨識啟用狀態「maybe」")
    assert "第 6、7 行" in texts[3]
    page = officer.get(imp.get_absolute_url()).content.decode()
    assert "無法讀取的資料 6 筆" in page and "略過 6 筆無法讀取的資料" in page
    # The unreadable rows' accounts are not "gone" nor "new".
    assert names(imp, "gone") == ["old"]
    assert names(imp, "new") == ["chen"]
    before = Account.objects.count(), AuditEntry.objects.count()
    response = apply(officer, imp, unmatched_kind="shared")
    assert response.status_code == 400
    assert "勾選略過" in response.content.decode()
    assert (Account.objects.count(), AuditEntry.objects.count()) == before
    gone.refresh_from_db()
    assert gone.status == Account.Status.ACTIVE
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.READ and imp.applied_at is None


@pytest.mark.django_db
def test_bad_rows_are_skipped_only_when_the_officer_says_so(officer):
    s, keep, gone, imp = _bad_setup(officer)
    response = apply(officer, imp, unmatched_kind="shared", skip_bad="on")
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.APPLIED
    assert imp.differences["applied"]["skipped_rows"] == 6
    gone.refresh_from_db()
    keep.refresh_from_db()
    assert gone.status == Account.Status.REMOVED
    assert keep.status == Account.Status.ACTIVE  # its row was unreadable: left alone
    added = Account.objects.get(system=s, username="chen")
    assert added.source == Account.Source.IMPORT and added.kind == Account.Kind.SHARED
    assert not Account.objects.filter(username_key__in=["dup", "mail", "wang"]).exists()


# Differences -------------------------------------------------------------------------------
@pytest.fixture
def world(db):
    s = system()
    other = system("電子郵件")
    alice = person("林愛麗", email="alice@school.edu.tw")
    bob = person("王大明")
    gone_person = person("張離職", status=Person.Status.LEFT, leave_date=dt.date(2026, 10, 31))
    later = person("周將離", leave_date=dt.date(2026, 12, 31))  # not yet departed
    person("李同名")
    person("李同名")
    chen = person("陳建議", email="chen.s@school.edu.tw")
    acc = {
        "alice": account("alice", s, alice, display_name="Alice", email="alice@school.edu.tw"),
        "bob": account("bob", s, bob),
        "left": account("left", s, gone_person),
        "left_other": account("left.mail", other, gone_person),
        "later": account("later", s, later),
        "lib": account("lib", s, kind=Account.Kind.SHARED),
        "hall": account("hall", s, kind=Account.Kind.SHARED, shared_justification="門口公用"),
        "admin": account("Admin", s, kind=Account.Kind.SERVICE),
        "root": account("root", s, kind=Account.Kind.PRIVILEGED, rights="全部"),
        "off": account("off", s, bob, status=Account.Status.DISABLED),
        "removed": account("back", s, bob, status=Account.Status.REMOVED),
        "gone": account("gone", s, bob),
        "svc": account("svc", s, display_name="陳建議"),
        "stale": account("stale", s, bob),
    }
    header = [*HEADER, "管理者"]
    rows = [
        ["alice", "愛麗絲", "alice@school.edu.tw", "1", "2026-11-29T10:00:00+08:00", ""],
        ["bob", "王大明", "", "0", "2026-11-20", ""],  # status mismatch: active → disabled
        ["left", "張離職", "", "1", "2026-11-28", ""],  # departed, still enabled
        ["later", "周將離", "", "1", "2026-11-28", ""],
        ["lib", "圖書館", "", "1", "", ""],  # shared, unjustified, never used
        ["hall", "川堂", "", "1", "2026-11-28", ""],
        ["ADMIN", "系統管理", "", "1", "2026-11-28", ""],  # privileged by name, not in A-4
        ["root", "root", "", "1", "2026-11-28", "是"],  # privileged and listed: fine
        ["bob2", "王大明", "", "1", "2026-11-28", "admin"],  # new, matched by name, privileged
        ["off", "王大明", "", "1", "2026-11-28", ""],  # disabled → enabled
        ["back", "王大明", "", "1", "2026-11-28", ""],  # removed in the register, still there
        ["svc", "陳建議", "", "1", "2026-11-28", ""],  # no person: a suggestion
        ["stale", "王大明", "", "1", "2026-01-02", ""],  # unused for over 180 days
        ["newmail", "", "chen.s@school.edu.tw", "1", "2026-11-28", ""],  # matched by e-mail
        ["nobody", "無此人", "", "1", "2026-11-28", ""],  # unmatched
        ["twin", "李同名", "", "1", "2026-11-28", ""],  # two people of that name
        ["ghost", "張離職", "", "1", "2026-11-28", ""],  # new, of a departed person
    ]
    data = csv_bytes(rows, header=header)
    return {"system": s, "other": other, "acc": acc, "data": data, "people": locals()}


@pytest.mark.django_db
def test_every_difference_category(officer, world):
    imp = read(officer, world["system"], world["data"])
    assert imp.mapping["columns"]["privileged"] == 5
    assert sorted(names(imp, "new")) == ["bob2", "ghost", "newmail", "nobody", "twin"]
    new = {e["username"]: e for e in group(imp, "new")}
    assert new["bob2"]["person"]["name"] == "王大明" and new["bob2"]["person"]["by"] == "name"
    assert new["newmail"]["person"]["name"] == "陳建議"
    assert new["newmail"]["person"]["by"] == "email"
    assert new["nobody"]["person"] is None
    assert new["twin"]["person"] == {"id": None, "by": "name", "ambiguous": 2, "value": "李同名"}
    assert names(imp, "gone") == ["gone"]  # "back" was removed already; not listed twice
    departed = {e["username"]: e for e in group(imp, "departed")}
    assert set(departed) == {"left", "ghost"}
    assert departed["ghost"]["new"] is True and departed["left"]["new"] is False
    assert departed["left"]["person"]["leave_date"] == "2026-10-31"
    unused = {e["username"]: e for e in group(imp, "unused")}
    assert set(unused) == {"lib", "stale"}
    assert unused["lib"]["never"] is True and unused["stale"]["never"] is False
    shared = {e["username"]: e["justified"] for e in group(imp, "shared")}
    assert shared == {"lib": False, "hall": True}
    privileged = {e["username"]: e for e in group(imp, "privileged")}
    assert set(privileged) == {"ADMIN", "bob2", "root"}
    assert privileged["root"]["why"] == "no_a4"  # privileged and listed, but no A-4 yet
    assert privileged["ADMIN"]["why"] == "name" and privileged["ADMIN"]["kind"] == "service"
    assert privileged["bob2"]["why"] == "column" and privileged["bob2"]["id"] is None
    status = {e["username"]: (e["from"], e["to"]) for e in group(imp, "status")}
    assert status == {
        "bob": ("active", "disabled"),
        "off": ("disabled", "active"),
        "back": ("removed", "active"),
    }
    updates = {e["username"]: e["changes"] for e in group(imp, "updates")}
    assert updates["alice"] == {
        "display_name": ["Alice", "愛麗絲"],
        "last_sign_in": [None, "2026-11-29T02:00:00+00:00"],
    }
    suggest = {e["username"]: e for e in group(imp, "suggest")}
    assert set(suggest) == {"svc"} and suggest["svc"]["person"]["name"] == "陳建議"
    page = officer.get(imp.get_absolute_url()).content.decode()
    for title in reconcile.GROUPS:
        assert f'id="group-{title}"' in page
    assert "有 2 人符合，無法判斷" in page and "已離職" in page


@pytest.mark.django_db
def test_privileged_accounts_are_compared_with_this_semesters_a4_list(officer, world):
    from isms.identity import reviews

    s, root = world["system"], world["acc"]["root"]
    web = account("web", s, kind=Account.Kind.PRIVILEGED, rights="網站後台", display_name="網管")
    Account.objects.filter(pk=root.pk).update(display_name="系統管理者")  # A-4 人員姓名
    review = reviews.prepare_privileged(actor=officer.user)
    assert set(review.items.values_list("account_id", flat=True)) == {root.pk, web.pk}
    rows = [["root", "", "", "1", ""], ["web", "", "", "1", ""]]
    imp = read(officer, s, csv_bytes(rows))
    assert names(imp, "privileged") == []  # both on the list
    late = account("late", s, kind=Account.Kind.PRIVILEGED, rights="備份")
    imp = read(officer, s, csv_bytes([*rows, ["late", "", "", "1", ""]]))
    (entry,) = group(imp, "privileged")
    assert (entry["username"], entry["why"]) == ("late", "a4")
    page = officer.get(imp.get_absolute_url()).content.decode()
    assert "不在本學期特權帳號清單（A-4）" in page
    # Disabled on the system: not in use, so not expected on the list.
    imp = read(officer, s, csv_bytes([*rows, ["late", "", "", "0", ""]]))
    assert names(imp, "privileged") == [] and late.pk


@pytest.mark.django_db
def test_apply_changes_the_register_through_the_services_in_one_step(officer, world):
    acc, s = world["acc"], world["system"]
    imp = read(officer, s, world["data"])
    response = apply(
        officer,
        imp,
        unmatched_kind="service",
        skip_new=["twin"],
        adopt=[str(acc["svc"].pk)],
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.APPLIED
    assert imp.applied_by == officer.user and imp.applied_at == NOW
    assert imp.differences["applied"] == {
        "added": 4,
        "removed": 1,
        "status": 1,  # bob disabled on the system
        "not_reenabled": 2,  # off and back: enabled on the system, not in the register
        "updated": len(group(imp, "updates")),
        "adopted": 1,
        "offboarded": 1,  # ghost, added now (left and left.mail had tasks from the start)
        "skipped_rows": 0,
    }
    for a in acc.values():
        a.refresh_from_db()
    assert acc["gone"].status == Account.Status.REMOVED
    assert acc["bob"].status == Account.Status.DISABLED
    # Access is never given back by an import (2.7): only by an A-3 request.
    assert acc["off"].status == Account.Status.DISABLED
    assert acc["removed"].status == Account.Status.REMOVED
    assert acc["alice"].display_name == "愛麗絲"
    assert acc["alice"].last_sign_in == dt.datetime(2026, 11, 29, 2, 0, tzinfo=dt.UTC)
    assert acc["svc"].person.name == "陳建議"
    assert "帳號清單比對" in acc["gone"].notes
    added = {a.username: a for a in Account.objects.filter(source=Account.Source.IMPORT)}
    assert set(added) == {"bob2", "ghost", "newmail", "nobody"}
    assert added["bob2"].kind == Account.Kind.PERSONAL and added["bob2"].person.name == "王大明"
    assert added["newmail"].person.name == "陳建議"
    assert added["nobody"].kind == Account.Kind.SERVICE and added["nobody"].person is None
    assert added["newmail"].last_sign_in == dt.datetime(2026, 11, 28, tzinfo=dt.UTC) - dt.timedelta(
        hours=8
    )
    tasks = OffboardingTask.objects.filter(done_at__isnull=True)
    assert {t.account.username for t in tasks} == {"left", "left.mail", "ghost"}
    assert {t.reason for t in tasks} == {OffboardingTask.Reason.LEFT}
    # Every change is audited with the officer as the actor.
    entries = AuditEntry.objects.filter(model_label="identity.account", actor=officer.user)
    assert entries.filter(action="create").count() == 4
    assert entries.filter(object_id=str(acc["gone"].pk), action="update").exists()
    assert (
        AuditEntry.objects.filter(
            model_label="identity.accountimport", object_id=str(imp.pk), actor=officer.user
        ).count()
        >= 3
    )  # uploaded, read, applied
    # Applied once: the page shows the result and no apply form.
    page = officer.get(imp.get_absolute_url()).content.decode()
    assert "已套用：新增 4 個帳號" in page and 'id="apply-form"' not in page
    assert "另有 2 個帳號在系統中仍啟用，但登記簿為停用或已刪除，未自動重新啟用" in page
    assert apply(officer, imp).status_code == 400


@pytest.mark.django_db
def test_unmatched_new_accounts_are_not_added_unless_a_kind_is_chosen(officer):
    s = system()
    imp = read(officer, s, csv_bytes([["nobody", "無此人", "", "1", ""]]))
    assert apply(officer, imp).status_code == 302
    assert not Account.objects.exists()


@pytest.mark.django_db
def test_apply_is_all_or_nothing(officer, world, monkeypatch):
    imp = read(officer, world["system"], world["data"])
    accounts_before = sorted(
        Account.objects.values_list("username", "status", "display_name", "person_id")
    )
    audit_before = AuditEntry.objects.count()
    tasks_before = OffboardingTask.objects.count()
    real = services.offboard

    def failing(*args, **kwargs):  # the last step: everything before it has been written
        real(*args, **kwargs)
        raise ValidationError("磁碟已滿")

    monkeypatch.setattr(services, "offboard", failing)
    response = apply(officer, imp, unmatched_kind="shared", adopt=[str(world["acc"]["svc"].pk)])
    assert response.status_code == 400
    assert "未套用任何變更" in response.content.decode()
    after = sorted(Account.objects.values_list("username", "status", "display_name", "person_id"))
    assert after == accounts_before
    assert AuditEntry.objects.count() == audit_before
    assert OffboardingTask.objects.count() == tasks_before
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.READ and imp.applied_by is None


@pytest.mark.django_db
def test_a_register_account_failing_its_checks_stops_the_whole_apply(officer):
    s = system()
    ok = account("gone", s, person())
    holder = person("林管理")
    broken = account("root", s, kind=Account.Kind.PRIVILEGED, rights="全部")
    # As if entered before the rule; adopting its suggested holder checks it in full.
    Account.objects.filter(pk=broken.pk).update(rights="")
    imp = read(officer, s, csv_bytes([["root", "林管理", "", "1", ""], ["new", "", "", "1", ""]]))
    assert [e["id"] for e in group(imp, "suggest")] == [broken.pk]
    response = apply(officer, imp, unmatched_kind="shared", adopt=[broken.pk])
    assert response.status_code == 400
    assert "帳號「root」：特權帳號須列出所擁有的權限" in response.content.decode()
    broken.refresh_from_db()
    assert broken.person_id is None and holder.pk
    ok.refresh_from_db()
    assert ok.status == Account.Status.ACTIVE
    assert not Account.objects.filter(username="new").exists()


@pytest.mark.django_db
def test_an_account_breaking_a_rule_is_still_disabled_and_its_sign_in_recorded(officer):
    s = system()
    broken = account("root", s, kind=Account.Kind.PRIVILEGED, rights="全部")
    Account.objects.filter(pk=broken.pk).update(rights="")
    imp = read(officer, s, csv_bytes([["root", "管理者", "", "0", "2026-11-01"]]))
    assert apply(officer, imp).status_code == 302
    broken.refresh_from_db()
    assert broken.status == Account.Status.DISABLED and broken.display_name == "管理者"
    assert broken.last_sign_in is not None


@pytest.mark.django_db
def test_a_register_changed_since_the_comparison_is_compared_again(officer):
    s = system()
    imp = read(officer, s, csv_bytes([["chen", "陳大文", "", "1", ""]]))
    account("late", s, person())  # added meanwhile: now "gone" from the file
    response = apply(officer, imp, unmatched_kind="shared")
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.READ
    assert names(imp, "gone") == ["late"]
    assert not Account.objects.filter(username="chen").exists()
    assert apply(officer, imp, unmatched_kind="shared").status_code == 302
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.APPLIED
    assert Account.objects.get(username="late").status == Account.Status.REMOVED


@pytest.mark.django_db
def test_an_outdated_page_cannot_apply(officer):
    s = system()
    imp = read(officer, s, csv_bytes([["chen", "陳大文", "", "1", ""]]))
    response = apply(officer, imp, digest="0" * 64, unmatched_kind="shared")
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.READ


@pytest.mark.django_db
def test_reopen_and_discard(officer):
    s = system()
    imp = read(officer, s, csv_bytes(ROWS))
    url = reverse("identity:accountimport_columns", args=[imp.pk])
    assert officer.post(url, {"reopen": "1"}).status_code == 302
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.UPLOADED
    assert imp.mapping["columns"]["enabled"] == 3  # the columns chosen are kept
    officer.post(reverse("identity:accountimport_discard", args=[imp.pk]))
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.DISCARDED
    assert choose(officer, imp).status_code == 302
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.DISCARDED


# Values -----------------------------------------------------------------------------------------
# Active Directory's lastLogonTimestamp: 100-nanosecond ticks since 1601-01-01 UTC.
FILETIME = str(
    (dt.datetime(2025, 10, 30, 12, 30, tzinfo=dt.UTC) - dt.datetime(1601, 1, 1, tzinfo=dt.UTC))
    // dt.timedelta(microseconds=1)
    * 10
)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2026-11-01", dt.datetime(2026, 10, 31, 16, 0, tzinfo=dt.UTC)),
        ("2026-11-01T08:30:00Z", dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC)),
        ("2026-11-01 08:30:00+08:00", dt.datetime(2026, 11, 1, 0, 30, tzinfo=dt.UTC)),
        ("115/11/01 08:30", dt.datetime(2026, 11, 1, 0, 30, tzinfo=dt.UTC)),
        ("民國115年11月1日", dt.datetime(2026, 10, 31, 16, 0, tzinfo=dt.UTC)),
        ("1151101", dt.datetime(2026, 10, 31, 16, 0, tzinfo=dt.UTC)),
        ("20261101", dt.datetime(2026, 10, 31, 16, 0, tzinfo=dt.UTC)),
        ("2026/11/1 下午 02:05:00", dt.datetime(2026, 11, 1, 6, 5, tzinfo=dt.UTC)),
        ("46300", dt.datetime(2026, 10, 4, 16, 0, tzinfo=dt.UTC)),
        ("46300.5", dt.datetime(2026, 10, 5, 4, 0, tzinfo=dt.UTC)),
        (FILETIME, dt.datetime(2025, 10, 30, 12, 30, tzinfo=dt.UTC)),
        ("", None),
        ("never", None),
        ("從未登入", None),
        ("0", None),
        ("9223372036854775807", None),
    ],
)
def test_last_sign_in_forms(text, expected):
    assert reconcile.parse_moment(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "115/02/30", "99999999"])
def test_unreadable_last_sign_in(text):
    with pytest.raises(ValueError):
        reconcile.parse_moment(text)


@pytest.mark.parametrize(
    "words,expected",
    [
        (["1", "true", "TRUE", "Y", "yes", "是", "enabled", "啟用", "Ｙ", True, 1], True),
        (["0", "false", "N", "no", "否", "disabled", "停用", False, 0], False),
    ],
)
def test_enabled_words(words, expected):
    for word in words:
        assert reconcile.parse_enabled(word) is expected, word
    with pytest.raises(ValueError):
        reconcile.parse_enabled("")


# Access ---------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("role", [SECURITY_OFFICER, SYSADMIN])
def test_the_officer_and_sysadmins_upload_and_apply(client_for, role):
    c = client_for(role)
    s = system()
    assert c.get(LIST_URL).status_code == 200
    imp = read(c, s, csv_bytes(ROWS))
    assert apply(c, imp, unmatched_kind="shared").status_code == 302
    assert Account.objects.filter(system=s).count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize("role", [SUPERVISOR, PRINCIPAL])
def test_the_supervisor_and_principal_read_only(client_for, officer, role):
    s = system()
    imp = read(officer, s, csv_bytes(ROWS))
    c = client_for(role)
    page = c.get(LIST_URL)
    assert page.status_code == 200 and 'type="file"' not in page.content.decode()
    detail = c.get(imp.get_absolute_url())
    assert detail.status_code == 200 and 'id="apply-form"' not in detail.content.decode()
    assert upload(c, s, csv_bytes(ROWS)).status_code == 403
    assert apply(c, imp, unmatched_kind="shared").status_code == 403
    assert choose(c, imp).status_code == 403
    assert c.post(reverse("identity:accountimport_discard", args=[imp.pk])).status_code == 403
    assert not Account.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", [STAFF, EQUIPMENT_HEAD, PERSONNEL, GUARD, None])
def test_others_are_refused(client_for, officer, role):
    s = system()
    imp = read(officer, s, csv_bytes(ROWS))
    c = client_for(*([role] if role else []))
    assert c.get(LIST_URL).status_code == 403
    assert c.get(imp.get_absolute_url()).status_code == 403
    assert upload(c, s, csv_bytes(ROWS)).status_code == 403
    assert apply(c, imp, unmatched_kind="shared").status_code == 403


@pytest.mark.django_db
def test_a_systems_administrators_reconcile_their_system_only(client_for, officer):
    mine, theirs = system("我的系統"), system("別人的系統")
    c = client_for(STAFF)
    mine.administrators.add(c.user)
    others = read(officer, theirs, csv_bytes(ROWS))
    page = c.get(LIST_URL).content.decode()
    assert "我的系統" in page and "別人的系統" not in page
    assert c.get(others.get_absolute_url()).status_code == 404
    assert apply(c, others, unmatched_kind="shared").status_code == 404
    assert upload(c, theirs, csv_bytes(ROWS)).status_code == 400  # not a choice for them
    imp = read(c, mine, csv_bytes(ROWS))
    assert apply(c, imp, unmatched_kind="shared").status_code == 302
    assert Account.objects.filter(system=mine).count() == 3
    assert not Account.objects.filter(system=theirs).exists()


@pytest.mark.django_db
def test_the_menu_links_the_page(officer):
    page = officer.get("/").content.decode()
    assert "帳號清單比對" in page and LIST_URL in page


# Queries ----------------------------------------------------------------------------------------
def _population(n, s, people):
    rows = []
    for i in range(n):
        name = f"user{i:04d}"
        holder = people[i % len(people)]
        Account.objects.create(
            system=s,
            username=name,
            person=holder,
            status=Account.Status.ACTIVE if i % 3 else Account.Status.DISABLED,
        )
        enabled = "1" if i % 2 else "0"
        rows.append([name, f"使用者{i}", f"{name}@school.edu.tw", enabled, "2026-11-01"])
    rows.append([f"extra{n}", "新來的", "", "1", ""])
    return csv_bytes(rows)


@pytest.mark.django_db
def test_reading_and_comparing_take_the_same_queries_for_10_and_200_rows(officer):
    people = [
        person(f"人員{i}", status=Person.Status.LEFT if i % 5 == 0 else Person.Status.ACTIVE)
        for i in range(20)
    ]
    counts = []
    pages = []
    for n in (10, 200):
        s = system(f"系統{n}")
        upload(officer, s, _population(n, s, people))
        imp = latest()
        choose(officer, imp)  # compiles the templates and warms caches
        imp.refresh_from_db()
        assert imp.rows == n + 1
        with CaptureQueriesContext(connection) as ctx:
            reconcile.run(
                imp,
                columns=imp.mapping["columns"],
                unused_days=imp.unused_days,
                actor=officer.user,
            )
        counts.append(len(ctx))
        officer.get(imp.get_absolute_url())
        with CaptureQueriesContext(connection) as ctx:
            assert officer.get(imp.get_absolute_url()).status_code == 200
        pages.append(len(ctx))
    assert counts[0] == counts[1], counts
    assert pages[0] == pages[1], pages


# Large applies: in the worker, with progress ---------------------------------------------------
def snapshot():
    return sorted(Account.objects.values_list("username", "status", "display_name", "person_id"))


@pytest.fixture
def in_worker(settings):
    settings.ISMS_IMPORT_INLINE_CHANGES = 0  # every apply goes to the worker
    return settings


@pytest.mark.django_db
def test_a_large_apply_is_queued_with_the_choices_and_changes_nothing_yet(
    officer, world, in_worker
):
    imp = read(officer, world["system"], world["data"])
    before = snapshot()
    svc = world["acc"]["svc"]
    response = apply(officer, imp, unmatched_kind="service", skip_new=["twin"], adopt=[svc.pk])
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.QUEUED and imp.applied_by == officer.user
    assert imp.apply_options == {
        "digest_seen": imp.differences["digest"],
        "skip_bad": False,
        "skip_new": ["twin"],
        "unmatched_kind": "service",
        "adopt": [svc.pk],
    }
    assert snapshot() == before
    entry = AuditEntry.objects.filter(
        model_label="identity.accountimport", object_id=str(imp.pk)
    ).latest("id")
    assert entry.actor == officer.user and entry.changes["status"] == ["read", "queued"]
    page = officer.get(imp.get_absolute_url()).content.decode()
    assert 'id="apply-progress"' in page and 'hx-trigger="every 2s"' in page
    assert 'id="apply-form"' not in page  # not twice
    assert "等待背景工作程序" in page
    # A second submission, or another column choice, is refused while it waits.
    assert apply(officer, imp).status_code == 400
    response = choose(officer, imp)
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.QUEUED


@pytest.mark.django_db
def test_the_worker_applies_it_as_the_officer_and_the_page_reloads(officer, world, in_worker):
    from django.core.management import call_command

    acc = world["acc"]
    imp = read(officer, world["system"], world["data"])
    apply(officer, imp, unmatched_kind="service", skip_new=["twin"], adopt=[acc["svc"].pk])
    call_command("worker", "--once", "--worker-id", "w1")
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.APPLIED and imp.claimed_by == "w1"
    assert imp.differences["applied"]["added"] == 4  # "twin" left out, "nobody" a service
    assert imp.differences["applied"]["adopted"] == 1
    assert Account.objects.get(username="nobody").kind == Account.Kind.SERVICE
    assert not Account.objects.filter(username="twin").exists()
    acc["gone"].refresh_from_db()
    assert acc["gone"].status == Account.Status.REMOVED
    # The changes are the officer's, though the worker made them.
    added = Account.objects.filter(source=Account.Source.IMPORT).values_list("pk", flat=True)
    entries = AuditEntry.objects.filter(
        model_label="identity.account", action="create", object_id__in=[str(p) for p in added]
    )
    assert entries.count() == 4 and {e.actor for e in entries} == {officer.user}
    transitions = [
        e.changes["status"]
        for e in AuditEntry.objects.filter(
            model_label="identity.accountimport", object_id=str(imp.pk)
        ).order_by("id")
        if "status" in e.changes
    ]
    assert transitions[-3:] == [["read", "queued"], ["queued", "applying"], ["applying", "applied"]]
    # The polling partial now asks for the whole page.
    poll = officer.get(imp.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert poll.headers.get("HX-Refresh") == "true"
    page = officer.get(imp.get_absolute_url()).content.decode()
    assert "已套用：新增 4 個帳號" in page and 'id="apply-progress"' not in page


@pytest.mark.django_db
def test_progress_is_written_while_the_apply_runs_and_removed_after(
    officer, in_worker, monkeypatch
):
    from isms.core import progress

    s = system()
    rows = [[f"user{i:03d}", f"使用者{i}", "", "1", ""] for i in range(120)]
    imp = read(officer, s, csv_bytes(rows))
    apply(officer, imp, unmatched_kind="shared")
    worker = reconcile.claim_next("w1")
    assert worker.pk == imp.pk
    seen = []

    def should_stop():  # asked at every progress write: record what the page would show
        seen.append(progress.read(imp.progress_key))
        return False

    monkeypatch.setattr(reconcile, "PROGRESS_EVERY", 0)  # write at every unit of work
    assert reconcile.run_claimed(worker, "w1", should_stop=should_stop)
    states = [s for s in seen if s is not None]
    percents = [s["percent"] for s in states]
    assert percents == sorted(percents) and percents[-1] > 50
    assert {s["step"] for s in states} >= {"讀取並比對清單", "新增帳號"}
    assert progress.read(imp.progress_key) is None
    assert Account.objects.filter(system=s).count() == 120


@pytest.mark.django_db
def test_the_progress_partial_shows_the_workers_step(officer, world, in_worker):
    from isms.core import progress

    imp = read(officer, world["system"], world["data"])
    apply(officer, imp)
    reconcile.claim_next("w1")
    progress.write(imp.progress_key, 42, "新增帳號")
    poll = officer.get(imp.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert 'aria-valuenow="42"' in poll and "套用中：新增帳號" in poll
    assert "<html" not in poll


@pytest.mark.django_db
def test_a_register_changed_while_queued_sends_it_back_compared_again(officer, in_worker):
    s = system()
    imp = read(officer, s, csv_bytes([["chen", "陳大文", "", "1", ""]]))
    apply(officer, imp, unmatched_kind="shared")
    account("late", s, person("林晚到"))  # added meanwhile: now "gone" from the file
    assert reconcile.run_pending("w1") == 0
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.READ
    assert "已重新比對" in imp.apply_error and names(imp, "gone") == ["late"]
    assert not Account.objects.filter(username="chen").exists()
    page = officer.get(imp.get_absolute_url()).content.decode()
    assert "已重新比對" in page and 'id="apply-form"' in page
    assert 'value="shared" selected' in page  # the choice is offered again


@pytest.mark.django_db
def test_a_failing_apply_in_the_worker_changes_nothing_and_says_why(
    officer, world, in_worker, monkeypatch
):
    imp = read(officer, world["system"], world["data"])
    apply(officer, imp, unmatched_kind="shared")
    before, tasks = snapshot(), OffboardingTask.objects.count()
    real = services.offboard

    def failing(*args, **kwargs):
        real(*args, **kwargs)
        raise ValidationError("磁碟已滿")

    monkeypatch.setattr(services, "offboard", failing)
    assert reconcile.run_pending("w1") == 0
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.READ
    assert "磁碟已滿" in imp.apply_error and imp.apply_error.endswith("\n未套用任何變更。")
    assert snapshot() == before and OffboardingTask.objects.count() == tasks


@pytest.mark.django_db
def test_an_unexpected_error_in_the_worker_is_reported_not_lost(officer, in_worker, monkeypatch):
    s = system()
    imp = read(officer, s, csv_bytes([["chen", "陳大文", "", "1", ""]]))
    apply(officer, imp, unmatched_kind="shared")

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "save_account", broken)
    assert reconcile.run_pending("w1") == 0
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.READ
    assert imp.apply_error.startswith("套用失敗，未套用任何變更：RuntimeError: boom")


@pytest.mark.django_db
def test_a_stopping_worker_rolls_back_and_queues_it_again(officer, world, in_worker):
    imp = read(officer, world["system"], world["data"])
    apply(officer, imp, unmatched_kind="shared")
    before = snapshot()
    calls = []

    def stop_midway():
        calls.append(1)
        return len(calls) > 2  # the claim is made, then the apply stops at a step

    assert reconcile.run_pending("w1", should_stop=stop_midway) == 0
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.QUEUED and imp.claimed_by == ""
    assert snapshot() == before
    assert reconcile.run_pending("w2") == 1
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.APPLIED


@pytest.mark.django_db
def test_an_apply_whose_worker_went_silent_goes_back_to_the_officer(officer, world, in_worker):
    from isms.core import progress

    imp = read(officer, world["system"], world["data"])
    apply(officer, imp)
    reconcile.claim_next("dead")
    assert not reconcile.pending()
    # Ten minutes on, a progress file still being written keeps it alive ...
    later = NOW + reconcile.STALE_AFTER + dt.timedelta(seconds=1)
    progress.write(imp.progress_key, 10, "更新帳號資料")
    written = (later - dt.timedelta(seconds=30)).timestamp()
    os.utime(progress._path(imp.progress_key), (written, written))
    with time_machine.travel(later, tick=False):
        assert reconcile.pending()  # worth a look
        assert reconcile.release_stale() == 0
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.APPLYING
    # ... without one it is given back, with the reason, and nothing was applied.
    progress.clear(imp.progress_key)
    with time_machine.travel(later, tick=False):
        assert reconcile.release_stale() == 1
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.READ and "背景套用中斷" in imp.apply_error


@pytest.mark.django_db
def test_a_small_apply_stays_in_the_request(officer, settings):
    settings.ISMS_IMPORT_INLINE_CHANGES = 1
    s = system()
    imp = read(officer, s, csv_bytes([["chen", "陳大文", "", "1", ""]]))
    assert not reconcile.runs_in_worker(imp)
    assert apply(officer, imp, unmatched_kind="shared").status_code == 302
    imp.refresh_from_db()
    assert imp.status == AccountImport.Status.APPLIED and imp.claimed_by == ""
    imp2 = read(officer, s, csv_bytes([["lin", "林", "", "1", ""], ["wu", "吳", "", "1", ""]]))
    assert reconcile.runs_in_worker(imp2)  # two changes (chen gone, lin new, wu new)
    page = officer.get(imp2.get_absolute_url()).content.decode()
    assert "將交由背景程序套用" in page


@pytest.mark.django_db
def test_the_progress_of_another_systems_import_is_not_shown(client_for, officer, in_worker):
    s = system()
    imp = read(officer, s, csv_bytes([["chen", "陳大文", "", "1", ""]]))
    apply(officer, imp, unmatched_kind="shared")
    teacher = client_for(STAFF)
    assert teacher.get(imp.get_absolute_url(), HTTP_HX_REQUEST="true").status_code == 403


@pytest.mark.django_db
def test_details_are_written_in_bulk_each_account_audited_as_one_save(officer):
    from isms.audit import trail

    s = system()
    a = account("chen", s, person(), display_name="陳", email="old@school.edu.tw")
    b = account("lin", s, person("林"))
    moment = dt.datetime(2026, 11, 29, 1, tzinfo=dt.UTC)
    before = AuditEntry.objects.count()
    n = services.update_details(
        [
            (a, {"display_name": "陳大文", "email": "chen@school.edu.tw"}),
            (b, {"last_sign_in": moment}),
        ],
        actor=officer.user,
    )
    assert n == 2 and AuditEntry.objects.count() == before + 2
    a.refresh_from_db()
    assert (a.display_name, a.email) == ("陳大文", "chen@school.edu.tw")
    entry = AuditEntry.objects.filter(object_id=str(a.pk), model_label="identity.account").latest(
        "id"
    )
    assert entry.actor == officer.user and entry.action == "update"
    assert entry.changes == {
        "display_name": ["陳", "陳大文"],
        "email": ["old@school.edu.tw", "chen@school.edu.tw"],
    }
    assert trail.verify().ok  # the chain is whole
    # A value the field cannot hold: nothing is written.
    with pytest.raises(ValidationError) as refused:
        services.update_details([(b, {"display_name": "長" * 151})], actor=officer.user)
    assert "帳號「lin」" in str(refused.value)
    b.refresh_from_db()
    assert b.display_name == "" and AuditEntry.objects.count() == before + 2
    with pytest.raises(ValueError):
        services.update_details([(b, {"status": "removed"})], actor=officer.user)
