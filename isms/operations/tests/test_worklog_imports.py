"""Import of the repair-request system's tickets (報修系統) into the work log (2.5.1)."""

import codecs
import csv
import datetime as dt
import io

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from isms.audit import trail
from isms.audit.models import AuditEntry
from isms.compliance.models import ObligationState
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
from isms.identity.models import InformationSystem
from isms.operations import worklog, worklog_imports
from isms.operations.models import WorkLogEntry, WorkLogImport

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 28, 6, 5, tzinfo=dt.UTC)  # 115/11/28 14:05 in Taipei
TPE = dt.timezone(dt.timedelta(hours=8))
LIST_URL = "/operations/work-log/imports/"
UPLOAD_URL = "/operations/work-log/imports/upload/"
HEADER = ["報修單號", "處理時間", "設備名稱", "類別", "故障描述", "處理措施", "處理人員"]
Kind = WorkLogEntry.Kind


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def admin(client_for):
    return client_for(SYSADMIN)


@pytest.fixture
def world(make_user):
    systems = {
        "sis": InformationSystem.objects.create(name="校務行政系統"),
        "mail": InformationSystem.objects.create(name="電子郵件系統"),
    }
    people = {"wang": make_user("wang", SYSADMIN), "lin": make_user("lin", SYSADMIN)}
    for user, name in ((people["wang"], "王大明"), (people["lin"], "林小華")):
        user.person.name = name
        user.person.save()
    return {"systems": systems, "people": people}


# Helpers -------------------------------------------------------------------------------------
def row(number, when="115/11/20 10:30", system="校務行政系統", kind="維修", **values):
    return [
        number,
        when,
        system,
        kind,
        values.get("description", "無法登入"),
        values.get("correction", ""),
        values.get("handler", "王大明"),
    ]


def csv_bytes(rows, *, encoding="utf-8", header=HEADER, before=()) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(before)
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows, header=HEADER, before=()) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for line in before:
        sheet.append(line)
    sheet.append(header)
    for line in rows:
        sheet.append(line)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(c, data: bytes, name="報修紀錄.csv"):
    return c.post(UPLOAD_URL, {"file": SimpleUploadedFile(name, data)})


def latest() -> WorkLogImport:
    return WorkLogImport.objects.latest("id")


def choose(c, imp, *, encoding=None, header_line=None, **columns):
    """Post the column choice; by default the guessed columns."""
    imp.refresh_from_db()
    data = {"header_line": header_line or imp.mapping.get("header_line") or 1}
    if imp.mapping.get("kind") == "csv":
        big5 = imp.encoding in ("cp950", "big5hkscs")
        data["encoding"] = encoding or (imp.encoding if big5 else "utf-8")
    guessed = imp.mapping.get("columns") or {}
    for field in worklog_imports.FIELDS:
        value = columns.get(field, guessed.get(field))
        data[field] = "" if value is None else str(value)
    return c.post(reverse("operations:worklogimport_columns", args=[imp.pk]), data)


def read(c, data, name="報修紀錄.csv", **choices) -> WorkLogImport:
    response = upload(c, data, name)
    assert response.status_code == 302, response.content.decode()[:3000]
    imp = latest()
    response = choose(c, imp, **choices)
    assert response.status_code == 302, response.content.decode()[:3000]
    imp.refresh_from_db()
    assert imp.status == WorkLogImport.Status.READ
    return imp


def apply(c, imp, **data):
    imp.refresh_from_db()
    data.setdefault("digest", imp.preview.get("digest", ""))
    return c.post(reverse("operations:worklogimport_apply", args=[imp.pk]), data)


def group(imp, name):
    return imp.preview["groups"][name]


def codes(imp):
    return [(e["line"], e["code"]) for e in imp.errors]


def ticket(number) -> WorkLogEntry:
    return WorkLogEntry.objects.get(ticket_number=number)


# Reading, the preview and the apply ------------------------------------------------------------
def test_a_utf8_export_is_previewed_and_nothing_is_written(admin, world):
    data = csv_bytes(
        [
            row("R-1", system="校務行政系統", kind="維修", handler="王大明"),
            row(
                "R-2",
                "2026-11-21 16:45",
                "3F 印表機",
                "例行檢查",
                handler="lin",
                correction="換碳粉",
            ),
            row("R-3", system="電子郵件系統", kind="網頁美化", handler="外包廠商 張先生"),
        ]
    )
    imp = read(admin, data)
    assert imp.rows == 3 and imp.errors == []
    assert imp.mapping["columns"] == {
        "ticket_number": 0,
        "operated_at": 1,
        "system": 2,
        "kind": 3,
        "description": 4,
        "correction": 5,
        "administrator": 6,
    }
    one, two, three = group(imp, "new")
    sis, mail = world["systems"]["sis"], world["systems"]["mail"]
    assert one["values"]["system_id"] == sis.pk and one["values"]["kind"] == Kind.MAINTENANCE
    assert one["values"]["administrator_id"] == world["people"]["wang"].pk
    assert dt.datetime.fromisoformat(one["values"]["operated_at"]) == dt.datetime(
        2026, 11, 20, 10, 30, tzinfo=TPE
    )
    assert two["values"]["system_id"] is None and two["values"]["system_name"] == "3F 印表機"
    assert two["values"]["kind"] == Kind.ROUTINE_CHECK and two["values"]["correction"] == "換碳粉"
    assert two["values"]["administrator_id"] == world["people"]["lin"].pk  # by user name
    assert three["values"]["system_id"] == mail.pk
    assert (three["values"]["kind"], three["values"]["kind_other"]) == (Kind.OTHER, "網頁美化")
    assert three["values"]["administrator_id"] is None
    assert three["values"]["administrator_name"] == "外包廠商 張先生"
    page = admin.get(imp.get_absolute_url()).content.decode()
    for expected in ("R-1", "115/11/20 10:30", "3F 印表機", "其它：網頁美化", "外包廠商 張先生"):
        assert expected in page, expected
    assert "apply-form" in page
    assert not WorkLogEntry.objects.exists()


def test_apply_adds_the_entries_each_audited_with_the_importer(admin, world):
    imp = read(admin, csv_bytes([row("R-1"), row("R-2", system="機房冷氣", kind="")]))
    before = AuditEntry.objects.count()
    response = apply(admin, imp)
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == WorkLogImport.Status.APPLIED and imp.applied_by == admin.user
    assert imp.preview["applied"] == {
        "added": 2,
        "updated": 0,
        "unchanged": 0,
        "locked": 0,
        "skipped_rows": 0,
    }
    one, two = ticket("R-1"), ticket("R-2")
    assert one.system == world["systems"]["sis"] and one.kind == Kind.MAINTENANCE
    assert one.administrator == world["people"]["wang"] and one.reviewed_at is None
    assert one.operated_at == dt.datetime(2026, 11, 20, 10, 30, tzinfo=TPE)
    assert (two.system_name, two.kind, two.kind_other) == ("機房冷氣", Kind.OTHER, "報修")
    entries = AuditEntry.objects.filter(id__gt=before)
    created = entries.filter(model_label="operations.worklogentry")
    assert sorted(e.object_id for e in created) == sorted([str(one.pk), str(two.pk)])
    assert {e.action for e in created} == {"create"}
    assert created.get(object_id=str(one.pk)).changes["ticket_number"] == [None, "R-1"]
    assert {e.actor_id for e in entries} == {admin.user.pk}
    applied = entries.get(model_label="operations.worklogimport")
    assert applied.changes["status"] == ["read", "applied"]
    assert trail.verify().ok
    # The new entries await the supervisor's review at once (the duty is refreshed).
    states = ObligationState.objects.filter(key=worklog.DUTY)
    assert set(states.values_list("subject_id", flat=True)) == {str(one.pk), str(two.pk)}
    page = admin.get(imp.get_absolute_url()).content.decode()
    assert "已匯入：新增 2 筆、更新 0 筆日誌" in page
    assert apply(admin, imp).status_code == 400  # an applied import is not applied again


def test_re_importing_the_same_tickets_never_duplicates(admin, world):
    data = csv_bytes([row("R-1"), row("R-2", kind="系統更新")])
    assert apply(admin, read(admin, data)).status_code == 302
    first = list(WorkLogEntry.objects.order_by("pk").values())
    entries = AuditEntry.objects.filter(model_label="operations.worklogentry").count()
    again = read(admin, data)
    assert [e["number"] for e in group(again, "unchanged")] == ["R-1", "R-2"]
    assert group(again, "new") == [] and group(again, "update") == []
    assert apply(admin, again).status_code == 302
    assert list(WorkLogEntry.objects.order_by("pk").values()) == first
    assert AuditEntry.objects.filter(model_label="operations.worklogentry").count() == entries
    # The ticket numbers compare without case, spaces or full width.
    same = read(admin, csv_bytes([row(" ｒ-1 "), row("r-2", kind="系統更新")]))
    assert len(group(same, "unchanged")) == 2 and WorkLogEntry.objects.count() == 2


def test_a_changed_ticket_updates_its_entry_field_by_field(admin, world):
    assert (
        apply(admin, read(admin, csv_bytes([row("R-1", correction="重設密碼")]))).status_code == 302
    )
    e = ticket("R-1")
    changed = csv_bytes(
        [
            row(
                "R-1",
                "115/11/20 11:00",
                "電子郵件系統",
                "",
                description="無法收信",
                handler="林小華",
            )
        ]
    )
    imp = read(admin, changed)
    (update,) = group(imp, "update")
    assert update["id"] == e.pk and update["line"] == 2
    assert set(update["changes"]) == {"operated_at", "system", "description", "administrator"}
    page = admin.get(imp.get_absolute_url()).content.decode()
    assert "無法登入 → 無法收信" in page and "校務行政系統 → 電子郵件系統" in page
    assert "王大明 → 林小華" in page and "115/11/20 10:30 → 115/11/20 11:00" in page
    before = AuditEntry.objects.count()
    assert apply(admin, imp).status_code == 302
    e.refresh_from_db()
    assert e.description == "無法收信" and e.system == world["systems"]["mail"]
    assert e.administrator == world["people"]["lin"]
    # Empty cells never clear: the kind and the correction stay.
    assert e.kind == Kind.MAINTENANCE and e.correction == "重設密碼"
    (audit,) = AuditEntry.objects.filter(id__gt=before, model_label="operations.worklogentry")
    assert audit.action == "update" and audit.actor_id == admin.user.pk
    assert audit.changes["description"] == ["無法登入", "無法收信"]
    assert "kind" not in audit.changes and "correction" not in audit.changes


def test_reviewed_and_voided_entries_are_listed_never_changed(admin, world, make_user):
    from isms.core import services as core_services

    imp = read(admin, csv_bytes([row("R-1"), row("R-2"), row("R-3")]))
    assert apply(admin, imp).status_code == 302
    boss = make_user("boss", SUPERVISOR)
    worklog.entry_review(ticket("R-1"), actor=boss)
    worklog.entry_review(ticket("R-2"), actor=boss)
    core_services.record_void(ticket("R-3"), actor=admin.user, reason="測試報修單")
    imp = read(
        admin,
        csv_bytes([row("R-1", description="覆核後才改"), row("R-2"), row("R-3")]),
    )
    assert [(e["number"], e["reason"]) for e in group(imp, "locked")] == [
        ("R-1", "reviewed"),
        ("R-3", "voided"),
    ]
    assert [e["number"] for e in group(imp, "unchanged")] == ["R-2"]
    page = admin.get(imp.get_absolute_url()).content.decode()
    assert "已經主管覆核或已作廢的日誌（不更新）" in page and "無法登入 → 覆核後才改" in page
    assert apply(admin, imp).status_code == 302
    assert ticket("R-1").description == "無法登入" and ticket("R-3").voided_at is not None


def test_a_big5_export_is_read_without_asking(admin, world):
    data = csv_bytes(
        [row("B-1", system="圖書館查詢電腦", kind="硬體維修", description="螢幕無畫面")],
        encoding="cp950",
    )
    imp = read(admin, data)
    assert imp.encoding == "cp950" and imp.errors == []
    (new,) = group(imp, "new")
    assert new["values"]["system_name"] == "圖書館查詢電腦"
    assert new["values"]["description"] == "螢幕無畫面"
    assert new["values"]["kind"] == Kind.MAINTENANCE
    assert apply(admin, imp).status_code == 302
    assert ticket("B-1").administrator == world["people"]["wang"]


def test_an_xlsx_export_with_a_title_line_date_cells_and_number_tickets(admin, world):
    rows = [
        [
            11501,
            dt.datetime(2026, 11, 20, 9, 15),
            "校務行政系統",
            "更新",
            "安裝修補程式",
            "",
            "王大明",
        ],
        [11502, 46346.5, "網站", "檢查", "檢查憑證", "", "lin"],  # an Excel serial: 11/20 12:00
        [11503, dt.date(2026, 11, 21), "網站", "", "主機重開", "", "王大明"],
    ]
    data = xlsx_bytes(rows, before=[["○○高中報修紀錄匯出"], []])
    imp = read(admin, data, name="報修.xlsx")
    assert imp.mapping["header_line"] == 3 and imp.errors == []
    first, second, third = group(imp, "new")
    assert first["number"] == "11501"
    when = [dt.datetime.fromisoformat(e["values"]["operated_at"]) for e in (first, second, third)]
    assert when == [
        dt.datetime(2026, 11, 20, 9, 15, tzinfo=TPE),
        dt.datetime(2026, 11, 20, 12, 0, tzinfo=TPE),
        dt.datetime(2026, 11, 21, 0, 0, tzinfo=TPE),
    ]
    assert first["values"]["kind"] == Kind.UPDATE and second["values"]["kind"] == Kind.ROUTINE_CHECK
    assert apply(admin, imp).status_code == 302
    assert WorkLogEntry.objects.filter(ticket_number__in=["11501", "11502", "11503"]).count() == 3


def test_the_header_line_can_be_chosen_and_the_time_column_prefers_the_work(admin, world):
    header = ["單號", "報修時間", "處理時間", "設備", "內容", "處理人"]
    data = csv_bytes(
        [["R-9", "115/11/19 08:00", "115/11/20 15:20", "網站", "首頁掛掉", "王大明"]],
        header=header,
        before=[["報修系統匯出"], ["匯出時間 115/11/28"]],
    )
    assert upload(admin, data).status_code == 302
    imp = latest()
    assert imp.mapping["header_line"] == 3
    assert imp.mapping["columns"]["operated_at"] == 2  # 處理時間 before 報修時間
    assert imp.mapping["columns"]["correction"] is None and imp.mapping["columns"]["kind"] is None
    response = choose(admin, imp)
    assert response.status_code == 302
    imp.refresh_from_db()
    (new,) = group(imp, "new")
    assert dt.datetime.fromisoformat(new["values"]["operated_at"]) == dt.datetime(
        2026, 11, 20, 15, 20, tzinfo=TPE
    )
    # The first line as header, by hand: no ticket column, so it is asked for.
    response = admin.post(
        reverse("operations:worklogimport_columns", args=[imp.pk]), {"reopen": "1"}
    )
    response = choose(admin, latest(), header_line=1)
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.mapping["header_line"] == 1 and imp.mapping["columns"]["ticket_number"] is None
    page = admin.get(imp.get_absolute_url()).content.decode()
    assert "標題列中找不到報修單號" in page


def test_columns_are_required_and_used_once(admin, world):
    assert upload(admin, csv_bytes([row("R-1")])).status_code == 302
    imp = latest()
    response = choose(admin, imp, administrator=None)
    assert response.status_code == 400
    assert "請選擇「處理人員」欄位" in response.content.decode()
    response = choose(admin, imp, correction=4)  # 故障描述 twice
    assert response.status_code == 400 and "此欄已對應為" in response.content.decode()
    imp.refresh_from_db()
    assert imp.status == WorkLogImport.Status.UPLOADED


def test_every_bad_row_is_reported_with_its_line_and_reason(admin, world):
    data = csv_bytes(
        [
            row("R-1"),  # line 2: fine
            row("", description="沒有單號"),  # 3
            row("R-3", "昨天"),  # 4
            row("R-4", "115/11/29 09:00"),  # 5: tomorrow
            row("R-5", system=""),  # 6
            row("R-6", description=""),  # 7
            row("R-7", handler=""),  # 8
            row("R-8"),  # 9
            row("R-8 "),  # 10: the same ticket again
            row("R-9", system="長" * 201),  # 11
            row("R-10", "115/02/30 10:00"),  # 12
            row("R-11", "2026-11-28 14:05"),  # 13: this very minute is fine
        ]
    )
    imp = read(admin, data)
    assert codes(imp) == [
        (3, "no_number"),
        (4, "bad_time"),
        (5, "future"),
        (6, "no_system"),
        (7, "no_description"),
        (8, "no_administrator"),
        (9, "duplicate"),
        (10, "duplicate"),
        (11, "too_long"),
        (12, "bad_time"),
    ]
    assert [e["number"] for e in group(imp, "new")] == ["R-1", "R-11"]
    page = admin.get(imp.get_absolute_url()).content.decode()
    for text in (
        "沒有報修單號",
        "無法辨識日期時間「昨天」",
        "晚於現在",
        "沒有設備或系統名稱",
        "沒有故障描述/處理內容",
        "沒有處理人員",
        "報修單號「R-8」在檔案中重複（第 9、10 行）",
        "設備或系統名稱「" + "長" * 40 + "」超過 200 字",
    ):
        assert text in page, text


def test_nothing_is_applied_with_bad_rows_unless_they_are_skipped(admin, world):
    imp = read(admin, csv_bytes([row("R-1"), row("R-2", system=""), row("R-3", handler="")]))
    assert len(imp.errors) == 2
    response = apply(admin, imp)
    assert response.status_code == 400
    page = response.content.decode()
    assert "檔案有 2 筆無法匯入的資料" in page and "未匯入任何資料" in page
    assert not WorkLogEntry.objects.exists()
    imp.refresh_from_db()
    assert imp.status == WorkLogImport.Status.READ
    response = apply(admin, imp, skip_bad="on")
    assert response.status_code == 302
    assert list(WorkLogEntry.objects.values_list("ticket_number", flat=True)) == ["R-1"]
    imp.refresh_from_db()
    assert imp.preview["applied"]["skipped_rows"] == 2


def test_a_failed_import_applies_no_row(admin, world, monkeypatch):
    assert apply(admin, read(admin, csv_bytes([row("R-1")]))).status_code == 302
    imp = read(admin, csv_bytes([row("R-1", description="已更新"), row("R-2"), row("R-3")]))
    audit_before = AuditEntry.objects.count()
    real = worklog.import_entries
    calls = {"n": 0}

    def failing(new, updates, *, actor, now=None):  # after every write: rows are there
        calls["n"] += 1
        real(new, updates, actor=actor, now=now)
        assert WorkLogEntry.objects.filter(ticket_number="R-3").exists()
        error = ValidationError({"description": "磁碟已滿"})
        error.entry = next(e for e in new if e.ticket_number == "R-3")
        raise error

    monkeypatch.setattr(worklog, "import_entries", failing)
    response = apply(admin, imp)
    assert response.status_code == 400
    page = response.content.decode()
    assert "第 4 行（報修單號 R-3）：磁碟已滿" in page and "未匯入任何資料" in page
    assert calls["n"] == 1
    assert list(WorkLogEntry.objects.values_list("ticket_number", "description")) == [
        ("R-1", "無法登入")
    ]
    assert AuditEntry.objects.count() == audit_before
    imp.refresh_from_db()
    assert imp.status == WorkLogImport.Status.READ and imp.applied_by is None


def test_the_service_refuses_what_the_rules_refuse(admin, world, make_user):
    e = WorkLogEntry(
        ticket_number="S-1",
        operated_at=NOW + dt.timedelta(hours=1),
        system_name="網站",
        kind=Kind.MAINTENANCE,
        description="x",
        administrator_name="王大明",
    )
    with pytest.raises(ValidationError) as refused:
        worklog.import_entries([e], [], actor=admin.user)
    assert "operated_at" in refused.value.message_dict and refused.value.entry is e
    taken = WorkLogEntry.objects.create(
        ticket_number="S-2",
        operated_at=NOW,
        system_name="網站",
        kind=Kind.UPDATE,
        description="x",
        administrator_name="王大明",
    )
    again = WorkLogEntry(
        ticket_number="S-2",
        operated_at=NOW,
        system_name="網站",
        kind=Kind.UPDATE,
        description="y",
        administrator_name="王大明",
    )
    with pytest.raises(ValidationError) as refused:
        worklog.import_entries([again], [], actor=admin.user)
    assert "已匯入" in refused.value.message_dict["ticket_number"][0]
    taken.reviewed_at = NOW
    taken.save()
    with pytest.raises(ValidationError):
        worklog.import_entries([], [(taken, {"description": "改"})], actor=admin.user)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        worklog.import_entries([], [], actor=make_user("staff", STAFF))
    assert WorkLogEntry.objects.count() == 1 and ticket("S-2").description == "x"


def test_a_stale_preview_is_not_applied(admin, world, make_user):
    assert apply(admin, read(admin, csv_bytes([row("R-1")]))).status_code == 302
    imp = read(admin, csv_bytes([row("R-1", description="更新內容"), row("R-2")]))
    digest = imp.preview["digest"]
    worklog.entry_review(ticket("R-1"), actor=make_user("boss", SUPERVISOR))  # after the preview
    response = apply(admin, imp, digest=digest)
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("已重新比對" in m for m in messages)
    assert not WorkLogEntry.objects.filter(ticket_number="R-2").exists()
    imp.refresh_from_db()
    assert imp.status == WorkLogImport.Status.READ and imp.preview["digest"] != digest
    assert [e["number"] for e in group(imp, "locked")] == ["R-1"]
    assert apply(admin, imp, digest=digest).status_code == 302  # an old digest: refused again
    assert not WorkLogEntry.objects.filter(ticket_number="R-2").exists()
    assert apply(admin, imp).status_code == 302
    assert ticket("R-2") and ticket("R-1").description == "無法登入"


def test_uploading_reading_reopening_and_discarding_are_audited(admin, world):
    imp = read(admin, csv_bytes([row("R-1")]))
    entries = AuditEntry.objects.filter(
        model_label="operations.worklogimport", object_id=str(imp.pk)
    )
    assert entries.count() == 2  # uploaded, read
    response = admin.post(
        reverse("operations:worklogimport_columns", args=[imp.pk]), {"reopen": "1"}
    )
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == WorkLogImport.Status.UPLOADED and imp.preview == {}
    assert apply(admin, imp, digest="x").status_code == 400
    response = admin.post(reverse("operations:worklogimport_discard", args=[imp.pk]))
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == WorkLogImport.Status.DISCARDED
    assert entries.count() == 4
    assert set(entries.values_list("actor_id", flat=True)) == {admin.user.pk}
    assert not WorkLogEntry.objects.exists()
    assert "已放棄此報修紀錄" in admin.get(imp.get_absolute_url()).content.decode()


# Matching ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("word", "kind"),
    [
        ("系統例行檢查", Kind.ROUTINE_CHECK),
        ("巡檢", Kind.ROUTINE_CHECK),
        ("Routine", Kind.ROUTINE_CHECK),
        ("系統維護", Kind.MAINTENANCE),
        ("維修", Kind.MAINTENANCE),
        ("硬碟故障維修", Kind.MAINTENANCE),
        ("ＲＥＰＡＩＲ", Kind.MAINTENANCE),
        ("系統更新操作", Kind.UPDATE),
        ("韌體更新", Kind.UPDATE),
        ("Windows 更新", Kind.UPDATE),
        ("其他", Kind.OTHER),
        ("其它", Kind.OTHER),
        ("網頁美化", None),
        ("維修後檢查", None),  # two kinds as long: not guessed
        ("", None),
    ],
)
def test_the_kind_dictionary(word, kind):
    assert worklog_imports.kind_of(word) == kind


def test_kind_words_map_other_and_empty(admin, world):
    imp = read(
        admin,
        csv_bytes(
            [row("K-1", kind="其他"), row("K-2", kind="網頁美化"), row("K-3", kind="")],
        ),
    )
    values = [(e["values"]["kind"], e["values"]["kind_other"]) for e in group(imp, "new")]
    assert values == [(Kind.OTHER, "報修"), (Kind.OTHER, "網頁美化"), (Kind.OTHER, "報修")]
    assert {k["word"] for k in imp.preview["kinds"]} == {"其他", "網頁美化"}


def test_systems_and_handlers_are_matched_by_name(admin, world, make_user):
    InformationSystem.objects.create(name="舊網站", voided_at=NOW)
    twin_a, twin_b = make_user("twin-a", SYSADMIN), make_user("twin-b", SYSADMIN)
    for twin in (twin_a, twin_b):
        twin.person.name = "張偉"
        twin.person.save()
    data = csv_bytes(
        [
            row("M-1", system=" 校務行政 系統 ", handler="王 大明"),
            row("M-2", system="ＳＩＳ", handler="張偉"),  # two of that name: kept as a name
            row("M-3", system="舊網站", handler="WANG"),  # voided: kept as a name
        ]
    )
    imp = read(admin, data)
    one, two, three = (e["values"] for e in group(imp, "new"))
    assert one["system_id"] == world["systems"]["sis"].pk
    assert one["administrator_id"] == world["people"]["wang"].pk
    assert two["system_name"] == "ＳＩＳ" and two["administrator_name"] == "張偉"
    assert two["administrator_id"] is None
    assert three["system_id"] is None and three["system_name"] == "舊網站"
    assert three["administrator_id"] == world["people"]["wang"].pk  # the user name
    twin_b.is_active = False
    twin_b.save()
    again = read(admin, data)
    assert group(again, "new")[1]["values"]["administrator_id"] == twin_a.pk


def test_a_handler_who_gets_a_login_is_linked_on_the_next_import(admin, world, make_user):
    data = csv_bytes([row("L-1", handler="周怡君")])
    assert apply(admin, read(admin, data)).status_code == 302
    assert ticket("L-1").administrator_name == "周怡君"
    chou = make_user("chou", SYSADMIN)
    chou.person.name = "周怡君"
    chou.person.save()
    imp = read(admin, data)
    (update,) = group(imp, "update")
    assert list(update["changes"]) == ["administrator"]
    page = admin.get(imp.get_absolute_url()).content.decode()
    assert "周怡君 → 周怡君（連結到登入帳號）" in page
    assert apply(admin, imp).status_code == 302
    e = ticket("L-1")
    assert e.administrator == chou and e.administrator_name == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("115/11/20 14:05", dt.datetime(2026, 11, 20, 14, 5, tzinfo=TPE)),
        ("115/11/20 下午 2:05", dt.datetime(2026, 11, 20, 14, 5, tzinfo=TPE)),
        ("民國115年11月20日 14時5分", dt.datetime(2026, 11, 20, 14, 5, tzinfo=TPE)),
        ("2026/11/20 14:05:30", dt.datetime(2026, 11, 20, 14, 5, 30, tzinfo=TPE)),
        ("2026-11-20T06:05:00+00:00", dt.datetime(2026, 11, 20, 14, 5, tzinfo=TPE)),
        (dt.datetime(2026, 11, 20, 14, 5), dt.datetime(2026, 11, 20, 14, 5, tzinfo=TPE)),
        (46346.0, dt.datetime(2026, 11, 20, 0, 0, tzinfo=TPE)),
        ("46346.5", dt.datetime(2026, 11, 20, 12, 0, tzinfo=TPE)),
        ("", None),
        (None, None),
    ],
)
def test_moments_are_read_in_taipei_time(value, expected):
    assert worklog_imports.parse_moment(value) == expected


@pytest.mark.parametrize("value", ["昨天", "115/13/01 10:00", "25:00", "99999999", -3.0])
def test_unreadable_moments_raise(value):
    with pytest.raises((ValueError, OverflowError)):
        worklog_imports.parse_moment(value)


# Files ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("報修.pdf", b"%PDF-1.4 something", "只接受 CSV 或 XLSX 格式的報修紀錄"),
        ("broken.xlsx", b"PK\x03\x04" + b"\x00" * 100, "無法讀取此 XLSX 檔案"),
        ("blank.csv", b"\r\n\r\n ,\r\n", "找不到標題列"),
    ],
)
def test_a_file_that_is_not_an_export_is_refused(admin, name, data, message):
    response = upload(admin, data, name)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not WorkLogImport.objects.exists()


def test_an_export_without_data_rows_is_refused_when_read(admin, world):
    assert upload(admin, csv_bytes([])).status_code == 302
    response = choose(admin, latest())
    assert response.status_code == 400
    assert "標題列之後沒有任何資料列" in response.content.decode()


def test_the_template_csv_reads_back_with_every_column_guessed(admin, world):
    response = admin.get(reverse("operations:worklog_import_template"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.content.startswith(codecs.BOM_UTF8)
    header = response.content.decode("utf-8-sig").strip().split(",")
    assert header == [
        "報修單號",
        "報修/處理日期時間",
        "設備或系統名稱",
        "類別",
        "故障描述/處理內容",
        "處理措施",
        "處理人員",
    ]
    data = response.content + "T-1,115/11/27 10:00,網站,系統更新,更新外掛,,王大明\r\n".encode()
    imp = read(admin, data)
    assert all(v is not None for v in imp.mapping["columns"].values())
    assert group(imp, "new")[0]["values"]["kind"] == Kind.UPDATE


# Access ---------------------------------------------------------------------------------------
WRITERS = {SYSADMIN}
READERS = {SECURITY_OFFICER, SUPERVISOR, PRINCIPAL}
OTHERS = {STAFF, PERSONNEL, GUARD, EQUIPMENT_HEAD}


@pytest.mark.parametrize("role", sorted(WRITERS | READERS | OTHERS))
def test_each_role_may_do_what_the_matrix_says(client_for, world, role):
    imp = read(client_for(SYSADMIN), csv_bytes([row("A-1")]))
    c = client_for(role)
    expected = 200 if role in WRITERS | READERS else 403
    for url in (LIST_URL, imp.get_absolute_url(), reverse("operations:worklog_import_template")):
        assert c.get(url).status_code == expected, url
    writes = [
        (UPLOAD_URL, {"file": SimpleUploadedFile("x.csv", csv_bytes([row("B-1")]))}),
        (reverse("operations:worklogimport_columns", args=[imp.pk]), {"reopen": "1"}),
        (reverse("operations:worklogimport_discard", args=[imp.pk]), {}),
    ]
    for url, data in writes:
        status = c.post(url, data).status_code
        assert status == (302 if role in WRITERS else 403), (url, status)
    if role in READERS:
        assert "apply-form" not in c.get(imp.get_absolute_url()).content.decode()
        assert 'name="file"' not in c.get(LIST_URL).content.decode()


@pytest.mark.parametrize("role", sorted(READERS | OTHERS))
def test_only_system_administrators_apply(client_for, world, role):
    imp = read(client_for(SYSADMIN), csv_bytes([row("A-1")]))
    assert apply(client_for(role), imp).status_code == 403
    assert not WorkLogEntry.objects.exists()


def test_anonymous_is_sent_to_sign_in_and_an_unknown_import_is_404(client, admin):
    for url in (LIST_URL, reverse("operations:worklog_import_template")):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]
    assert admin.get(reverse("operations:worklogimport_detail", args=[999])).status_code == 404


def test_the_menu_and_the_log_link_the_import(client_for, world):
    assert LIST_URL in client_for(SYSADMIN).get("/").content.decode()
    assert LIST_URL in client_for(SUPERVISOR).get("/").content.decode()
    assert LIST_URL not in client_for(STAFF).get("/").content.decode()
    page = client_for(SYSADMIN).get(reverse("operations:worklogentry_list")).content.decode()
    assert LIST_URL in page


# Speed ----------------------------------------------------------------------------------------
def _export(n, description="報修內容") -> bytes:
    kinds = ["維修", "例行檢查", "更新", "網頁美化", ""]
    systems = ["校務行政系統", "電子郵件系統", "3F 印表機"]
    handlers = ["王大明", "lin", "廠商"]
    rows = [
        row(
            f"P-{i:05d}",
            system=systems[i % 3],
            kind=kinds[i % len(kinds)],
            handler=handlers[i % 3],
            description=f"{description} {i}",
        )
        for i in range(n)
    ]
    rows.append(row("", description="壞資料"))
    return csv_bytes(rows)


def test_reading_previewing_and_applying_take_the_same_queries_for_10_and_200_rows(admin, world):
    counts, pages, applies = [], [], []
    for n in (10, 200):
        WorkLogEntry.objects.all().delete()
        # Every ticket is in the log already with another description: all are updated.
        assert apply(admin, read(admin, _export(n, "舊內容")), skip_bad="on").status_code == 302
        assert upload(admin, _export(n)).status_code == 302
        imp = latest()
        choose(admin, imp)  # compiles the templates and warms caches
        imp.refresh_from_db()
        assert imp.rows == n + 1 and len(imp.errors) == 1
        with CaptureQueriesContext(connection) as ctx:
            worklog_imports.run(imp, columns=imp.mapping["columns"], actor=admin.user)
        counts.append(len(ctx))
        admin.get(imp.get_absolute_url())
        with CaptureQueriesContext(connection) as ctx:
            assert admin.get(imp.get_absolute_url()).status_code == 200
        pages.append(len(ctx))
        imp.refresh_from_db()
        assert imp.preview["counts"]["update"] == n
        with CaptureQueriesContext(connection) as ctx:
            worklog_imports.apply(
                imp, actor=admin.user, digest_seen=imp.preview["digest"], skip_bad=True
            )
        applies.append(len(ctx))
        assert WorkLogEntry.objects.filter(description__startswith="報修內容").count() == n
    assert counts[0] == counts[1], counts
    assert pages[0] == pages[1], pages
    # Bulk writes in batches (SQLite's limit on query variables), not one per row.
    assert applies[1] - applies[0] < 10, applies
