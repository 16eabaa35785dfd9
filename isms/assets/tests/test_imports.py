"""Import of the property list (財產清冊) into the asset register (issue 6 point 5)."""

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

from isms.assets import imports, services
from isms.assets.models import Asset, AssetImport
from isms.audit.models import AuditEntry
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

NOW = dt.datetime(2026, 9, 15, 2, 0, tzinfo=dt.UTC)
LIST_URL = "/assets/imports/"
UPLOAD_URL = "/assets/imports/upload/"
HEADER = [
    "財產編號",
    "名稱",
    "類別",
    "廠牌",
    "型號",
    "序號",
    "放置地點",
    "使用單位",
    "保管人",
    "用途",
    "狀態",
]
Kind = Asset.Kind
State = Asset.State


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def head(client_for):
    return client_for(EQUIPMENT_HEAD)


@pytest.fixture
def world(db):
    units = {
        "info": Unit.objects.create(name="資訊組", code="info"),
        "acad": Unit.objects.create(name="教務處", code="acad"),
    }
    people = {
        "wang": Person.objects.create(name="王大明", unit=units["info"]),
        "lin": Person.objects.create(name="林小華", unit=units["acad"]),
    }
    return {"units": units, "people": people}


# Helpers -------------------------------------------------------------------------------------
def row(number, name="桌上型電腦", kind="個人電腦", **values):
    cells = {
        "brand": "",
        "model": "",
        "serial": "",
        "location": "",
        "unit": "",
        "custodian": "",
        "purpose": "",
        "state": "",
    }
    cells.update(values)
    return [number, name, kind, *cells.values()]


def csv_bytes(rows, *, encoding="utf-8", delimiter=",", header=HEADER, before=()) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
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


def upload(c, data: bytes, name="財產清冊.csv"):
    return c.post(UPLOAD_URL, {"file": SimpleUploadedFile(name, data)})


def latest() -> AssetImport:
    return AssetImport.objects.latest("id")


def choose(c, imp, *, encoding=None, default_kind="", header_line=None, **columns):
    """Post the column choice; by default the guessed columns."""
    imp.refresh_from_db()
    data = {
        "header_line": header_line or imp.mapping.get("header_line") or 1,
        "default_kind": default_kind,
    }
    if imp.mapping.get("kind") == "csv":
        big5 = imp.encoding in ("cp950", "big5hkscs")
        data["encoding"] = encoding or (imp.encoding if big5 else "utf-8")
    guessed = imp.mapping.get("columns") or {}
    for field in imports.FIELDS:
        value = columns.get(field, guessed.get(field))
        data[field] = "" if value is None else str(value)
    return c.post(reverse("assets:assetimport_columns", args=[imp.pk]), data)


def apply(c, imp, **data):
    imp.refresh_from_db()
    data.setdefault("digest", imp.preview.get("digest", ""))
    return c.post(reverse("assets:assetimport_apply", args=[imp.pk]), data)


def read(c, data, name="財產清冊.csv", **choices) -> AssetImport:
    response = upload(c, data, name)
    assert response.status_code == 302, response.content.decode()[:3000]
    imp = latest()
    response = choose(c, imp, **choices)
    assert response.status_code == 302, response.content.decode()[:3000]
    imp.refresh_from_db()
    assert imp.status == AssetImport.Status.READ
    return imp


def group(imp, name):
    return imp.preview["groups"][name]


def codes(imp):
    return [(e["line"], e["code"]) for e in imp.errors]


def asset(number, name="舊電腦", kind=Kind.PC, **values):
    return services.save_asset(
        Asset(property_number=number, name=name, kind=kind, **values), actor=None
    )


# Reading and the preview ----------------------------------------------------------------------
@pytest.mark.django_db
def test_a_utf8_list_is_previewed_as_new_updated_and_unchanged(head, world):
    same = asset("3140101-03-0001", name="伺服器", kind=Kind.SERVER, brand="HP")
    changed = asset("3140101-03-0002", name="舊名稱", location="圖書館")
    data = csv_bytes(
        [
            row("3140101-03-0001", "伺服器", "伺服器", brand="HP"),
            row(
                "3140101-03-0002",
                "教師電腦",
                "桌上型電腦",
                location="電腦教室（一）",
                unit="資訊組",
                custodian="王大明",
            ),
            row("3140101-03-0003", "筆記型電腦", "筆電", brand="ASUS", serial="SN-1"),
        ]
    )
    imp = read(head, data)
    assert imp.rows == 3 and imp.errors == []
    assert imp.encoding == "utf-8" and imp.mapping["header_line"] == 1
    assert [e["id"] for e in group(imp, "unchanged")] == [same.pk]
    (update,) = group(imp, "update")
    assert update["id"] == changed.pk and update["line"] == 3
    assert update["changes"] == {
        "name": ["舊名稱", "教師電腦"],
        "location": ["圖書館", "電腦教室（一）"],
        "unit": [None, [world["units"]["info"].pk, "資訊組"]],
        "custodian": [None, [world["people"]["wang"].pk, "王大明"]],
    }
    (new,) = group(imp, "new")
    assert new["number"] == "3140101-03-0003" and new["kind"] == Kind.NOTEBOOK
    assert new["values"] == {"name": "筆記型電腦", "brand": "ASUS", "serial": "SN-1"}
    assert new["state"] == State.NEW
    page = head.get(imp.get_absolute_url()).content.decode()
    assert "舊名稱 → 教師電腦" in page and "圖書館 → 電腦教室（一）" in page
    assert "— → 資訊組" in page and "3140101-03-0003" in page
    # Nothing is written by a preview.
    assert Asset.objects.count() == 2
    changed.refresh_from_db()
    assert changed.name == "舊名稱"


@pytest.mark.django_db
def test_apply_adds_and_updates_through_the_services_with_the_actor_audited(head, world):
    old = asset("A-1", name="舊名稱")
    imp = read(
        head, csv_bytes([row("A-1", "新名稱", unit="教務處"), row("A-2", "印表機", "印表機")])
    )
    before = AuditEntry.objects.count()
    response = apply(head, imp)
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == AssetImport.Status.APPLIED and imp.applied_by == head.user
    assert imp.preview["applied"]["added"] == 1 and imp.preview["applied"]["updated"] == 1
    old.refresh_from_db()
    assert old.name == "新名稱" and old.unit == world["units"]["acad"]
    new = Asset.objects.get(property_number="A-2")
    assert new.kind == Kind.PRINTER and new.state == State.NEW
    assert f"匯入 #{imp.pk}" in new.notes
    entries = AuditEntry.objects.filter(id__gt=before)
    asset_entries = entries.filter(model_label="assets.asset")
    assert {e.object_id for e in asset_entries} == {str(old.pk), str(new.pk)}
    assert all(e.actor_id == head.user.pk for e in entries)
    applied = entries.get(model_label="assets.assetimport")
    assert applied.changes["status"] == ["read", "applied"]
    page = head.get(imp.get_absolute_url()).content.decode()
    assert "已匯入：新增 1 筆、更新 1 筆資產" in page
    # An applied import cannot be applied again.
    assert apply(head, imp).status_code == 400


@pytest.mark.django_db
def test_uploading_reading_and_discarding_are_audited_with_the_actor(head, world):
    imp = read(head, csv_bytes([row("A-1")]))
    entries = AuditEntry.objects.filter(model_label="assets.assetimport", object_id=str(imp.pk))
    assert entries.count() == 2  # uploaded, read
    assert set(entries.values_list("actor_id", flat=True)) == {head.user.pk}
    response = head.post(reverse("assets:assetimport_discard", args=[imp.pk]))
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == AssetImport.Status.DISCARDED
    assert entries.count() == 3
    assert set(entries.values_list("actor_id", flat=True)) == {head.user.pk}
    assert apply(head, imp).status_code == 400
    assert not Asset.objects.exists()
    assert "已放棄此清冊" in head.get(imp.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_a_big5_list_is_read_without_asking(head, world):
    data = csv_bytes(
        [row("B-1", "教務處電腦", unit="教務處", custodian="林小華", location="教務處")],
        encoding="cp950",
    )
    imp = read(head, data)
    assert imp.encoding == "cp950" and imp.errors == []
    (new,) = group(imp, "new")
    assert new["name"] == "教務處電腦" and new["custodian"][1] == "林小華"


@pytest.mark.django_db
def test_a_big5_hkscs_name_is_read(head, world):
    Person.objects.create(name="王喆")
    data = csv_bytes([row("H-1", custodian="王喆")], encoding="big5hkscs")
    imp = read(head, data)
    assert imp.encoding == "big5hkscs" and imp.errors == []
    assert group(imp, "new")[0]["custodian"][1] == "王喆"


@pytest.mark.django_db
def test_an_encoding_that_cannot_be_told_is_chosen_from_previews(head, world):
    data = csv_bytes([row("B-1", "教務處電腦")], encoding="cp950") + b"\xff\xff\r\n"
    assert upload(head, data).status_code == 302
    imp = latest()
    assert imp.encoding == "" and "header" not in imp.mapping
    page = head.get(imp.get_absolute_url()).content.decode()
    assert "無法自動判斷編碼" in page and "Big5（cp950）" in page
    # Without an encoding the page asks again.
    response = head.post(reverse("assets:assetimport_columns", args=[imp.pk]), {"encoding": ""})
    assert response.status_code == 400
    response = head.post(
        reverse("assets:assetimport_columns", args=[imp.pk]), {"encoding": "cp950"}
    )
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.encoding == "cp950" and imp.mapping["header"][0] == "財產編號"
    assert imp.mapping["replaced"] > 0  # the undecodable bytes are counted, and shown
    assert "個字元無法以此編碼解碼" in head.get(imp.get_absolute_url()).content.decode()
    response = choose(head, imp)
    imp.refresh_from_db()
    assert [e["number"] for e in group(imp, "new")] == ["B-1"]
    # The last line holds only undecodable bytes: reported, not imported.
    assert codes(imp) == [(3, "no_name"), (3, "undecodable")]


@pytest.mark.django_db
def test_an_xlsx_list_with_a_title_line_and_numbers(head, world):
    data = xlsx_bytes(
        [
            [3140101, "伺服器", "伺服器主機", "Dell", "R740", 123456.0, "機房", "資訊組", "王大明"],
            ["A-2", "交換器", "網路交換器", None, None, None, "機房"],
        ],
        header=[
            "財產編號",
            "財產名稱",
            "財產類別",
            "廠牌",
            "型式",
            "序號",
            "存置地點",
            "保管單位",
            "保管人",
        ],
        before=[["○○高級中學 財產清冊"], []],
    )
    imp = read(head, data, name="財產清冊.xlsx")
    assert imp.mapping["kind"] == "xlsx" and imp.mapping["header_line"] == 3
    assert imp.errors == []
    first, second = group(imp, "new")
    assert first["number"] == "3140101" and first["kind"] == Kind.SERVER
    assert first["values"]["serial"] == "123456" and first["values"]["model"] == "R740"
    assert first["line"] == 4
    assert second["kind"] == Kind.NETWORK and second["line"] == 5
    assert apply(head, imp).status_code == 302
    assert Asset.objects.get(property_number="3140101").unit == world["units"]["info"]


@pytest.mark.django_db
def test_a_header_on_line_2_of_a_csv_is_found(head, world):
    data = csv_bytes([row("A-1")], before=[["115 年度財產清冊", "", "", ""]])
    imp = read(head, data)
    assert imp.mapping["header_line"] == 2
    assert group(imp, "new")[0]["line"] == 3


@pytest.mark.django_db
def test_the_header_line_can_be_chosen(head, world):
    # A header that names no property number: the officer points to it.
    data = csv_bytes(
        [["X-1", "電腦", "個人電腦"]], header=["號碼", "品項", "種類"], before=[["說明"]]
    )
    assert upload(head, data).status_code == 302
    imp = latest()
    assert imp.mapping["header_line"] == 1
    assert "標題列中找不到財產編號" in head.get(imp.get_absolute_url()).content.decode()
    response = choose(head, imp, header_line=2)
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == AssetImport.Status.UPLOADED and imp.mapping["header"] == [
        "號碼",
        "品項",
        "種類",
    ]


@pytest.mark.django_db
def test_columns_are_mapped_by_the_officer(head, world):
    data = csv_bytes(
        [["電腦教室", "X-1", "學生電腦", "個人電腦", "教學"]],
        header=["地方", "號碼", "品項", "種類", "目的"],
    )
    assert upload(head, data).status_code == 302
    imp = latest()
    # Nothing guessed for the required columns: they must be chosen.
    response = choose(head, imp)
    assert response.status_code == 400
    page = response.content.decode()
    assert "請選擇「財產編號」欄位。" in page and "請選擇「名稱」欄位。" in page
    # One column for two fields is refused.
    response = choose(head, imp, property_number=1, name=1)
    assert response.status_code == 400 and "此欄已對應為「財產編號」" in response.content.decode()
    response = choose(head, imp, property_number=1, name=2, kind=3, location=0, purpose=4)
    assert response.status_code == 302
    imp.refresh_from_db()
    (new,) = group(imp, "new")
    assert new["values"] == {"name": "學生電腦", "location": "電腦教室", "purpose": "教學"}
    assert new["kind"] == Kind.PC


@pytest.mark.django_db
def test_every_bad_row_is_reported_with_its_line_and_reason(head, world):
    Person.objects.create(name="陳同名", unit=world["units"]["info"])
    Person.objects.create(name="陳同名", unit=world["units"]["info"])
    voided = asset("V-1")
    Asset.objects.filter(pk=voided.pk).update(voided_at=NOW, void_reason="登錄錯誤")
    data = csv_bytes(
        [
            row("", "沒有編號的電腦"),  # 2
            row("D-1", "第一台"),  # 3
            row("K-1", "奇怪的東西", "飛行器"),  # 4
            row("D-1", "第二台"),  # 5
            row("U-1", unit="不存在的處室"),  # 6
            row("P-1", custodian="查無此人"),  # 7
            row("P-2", unit="資訊組", custodian="陳同名"),  # 8
            row("S-1", state="借出"),  # 9
            row("L-1", "很" * 201),  # 10
            row("N-1", ""),  # 11
            row("R-1", state="已報廢"),  # 12
            row("V-1"),  # 13
            row("OK-1"),  # 14
            row("d-1", "第三台"),  # 15: the same number in other case
        ]
    )
    imp = read(head, data)
    assert codes(imp) == [
        (2, "no_number"),
        (3, "duplicate"),
        (4, "kind"),
        (5, "duplicate"),
        (6, "unit"),
        (7, "person"),
        (8, "person_ambiguous"),
        (9, "state"),
        (10, "too_long"),
        (11, "no_name"),
        (12, "decommissioned"),
        (13, "voided"),
        (15, "duplicate"),
    ]
    assert [e["number"] for e in group(imp, "new")] == ["OK-1"]
    page = head.get(imp.get_absolute_url()).content.decode()
    assert "無法匯入的資料 13 筆" in page
    for text in (
        "沒有財產編號",
        "財產編號「D-1」在檔案中重複（第 3、5、15 行）",
        "無法對應類別「飛行器」",
        "找不到使用單位「不存在的處室」",
        "找不到保管人「查無此人」",
        "保管人「陳同名」有 2 位同名人員",
        "無法辨識狀態「借出」",
        "名稱「" + "很" * 40 + "」超過 200 字",
        "沒有名稱",
        "清冊中為已報廢的財產",
        "財產編號「V-1」已登記於已作廢的資產",
    ):
        assert text in page, text


@pytest.mark.django_db
def test_a_kind_is_chosen_for_words_the_dictionary_lacks(head, world):
    server = asset("S-1", name="伺服器", kind=Kind.SERVER)
    data = csv_bytes(
        [
            row("S-1", "伺服器", "主機設備（舊）"),
            row("K-1", "投影機", "投影機"),
            row("E-1", kind=""),
        ]
    )
    imp = read(head, data)
    assert codes(imp) == [(2, "kind"), (3, "kind"), (4, "no_kind")]
    response = choose(head, imp, default_kind=Kind.OTHER)
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.errors == []
    assert [(e["number"], e["kind"], e["kind_default"]) for e in group(imp, "new")] == [
        ("K-1", Kind.OTHER, True),
        ("E-1", Kind.OTHER, True),
    ]
    # The chosen kind fills new assets only: the server stays a server.
    assert [e["id"] for e in group(imp, "unchanged")] == [server.pk]
    assert {k["word"]: k["default"] for k in imp.preview["kinds"]} == {
        "主機設備（舊）": True,
        "投影機": True,
    }
    assert "無法對應，使用所選類別" in head.get(imp.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_a_wrong_default_kind_is_refused(head, world):
    assert upload(head, csv_bytes([row("A-1")])).status_code == 302
    assert choose(head, latest(), default_kind="spaceship").status_code == 400


@pytest.mark.parametrize(
    ("word", "kind"),
    [
        ("伺服器", Kind.SERVER),
        ("主機", Kind.SERVER),
        ("個人電腦", Kind.PC),
        ("桌上型電腦", Kind.PC),
        ("電腦", Kind.PC),
        ("桌上型電腦（含螢幕）", Kind.PC),
        ("筆記型電腦", Kind.NOTEBOOK),
        ("筆電", Kind.NOTEBOOK),
        ("平板", Kind.TABLET),
        ("iPad", Kind.TABLET),
        ("手機", Kind.SMARTPHONE),
        ("智慧型手機", Kind.SMARTPHONE),
        ("交換器", Kind.NETWORK),
        ("路由器", Kind.NETWORK),
        ("網路設備", Kind.NETWORK),
        ("隨身碟", Kind.USB),
        ("ＵＳＢ隨身碟", Kind.USB),
        ("硬碟", Kind.DISK),
        ("外接硬碟", Kind.DISK),
        ("磁帶", Kind.TAPE),
        ("光碟", Kind.OPTICAL),
        ("印表機", Kind.PRINTER),
        ("多功能事務機", Kind.PRINTER),
        ("雷射印表機", Kind.PRINTER),
        ("其他", Kind.OTHER),
        ("其它", Kind.OTHER),
        ("server", Kind.SERVER),
        ("電腦桌", None),  # furniture, not a computer
        ("投影機", None),
        ("", None),
    ],
)
def test_the_kind_dictionary(word, kind):
    assert imports.kind_of(word) == kind


# Rules of the register ------------------------------------------------------------------------
@pytest.mark.django_db
def test_an_import_never_changes_a_state_nor_puts_a_server_in_use(head, world):
    stored = asset("A-1", name="庫存電腦", state=State.STORAGE)
    data = csv_bytes(
        [
            row("A-1", "庫存電腦", state="使用中"),
            row("S-1", "新伺服器", "伺服器", state="使用中"),
            row("T-1", "公務平板", "平板", state="使用中"),
            row("P-1", "教室電腦", "個人電腦", state="使用中"),
            row("R-1", "印表機", "印表機", state="庫存"),
            row("N-1", "送修筆電", "筆電", state="維修中"),
            row("Z-1", "新電腦", "個人電腦"),
        ]
    )
    imp = read(head, data)
    assert imp.errors == []
    assert group(imp, "state") == [
        {
            "line": 2,
            "id": stored.pk,
            "number": "A-1",
            "name": "庫存電腦",
            "from": State.STORAGE,
            "to": State.IN_USE,
        }
    ]
    assert [e["number"] for e in group(imp, "needs_a1")] == ["S-1", "T-1"]
    states = {e["number"]: e["state"] for e in group(imp, "new")}
    assert states == {
        "S-1": State.NEW,
        "T-1": State.NEW,
        "P-1": State.IN_USE,
        "R-1": State.STORAGE,
        "N-1": State.REPAIR,
        "Z-1": State.NEW,
    }
    page = head.get(imp.get_absolute_url()).content.decode()
    assert "須先有啟用紀錄（A-1）的新資產" in page and "匯入不變更狀態" in page
    assert apply(head, imp).status_code == 302
    stored.refresh_from_db()
    assert stored.state == State.STORAGE
    assert dict(Asset.objects.values_list("property_number", "state")) == {
        "A-1": State.STORAGE,
        **states,
    }
    imp.refresh_from_db()
    assert [a[1] for a in imp.preview["applied"]["a1"]] == ["S-1", "T-1"]
    page = head.get(imp.get_absolute_url()).content.decode()
    assert "請填寫啟用紀錄（A-1）" in page
    server = Asset.objects.get(property_number="S-1")
    assert f"?asset={server.pk}&amp;kind=commission" in page  # the A-1 form, for this asset


@pytest.mark.django_db
def test_a_number_is_matched_without_case_or_spaces_and_never_added_twice(head, world):
    existing = asset("ab-01", name="舊")
    imp = read(head, csv_bytes([row(" AB-01 ", "新"), row("３１４", "全形編號")]))
    assert [e["id"] for e in group(imp, "update")] == [existing.pk]
    assert [e["number"] for e in group(imp, "new")] == ["314"]  # full-width digits
    assert apply(head, imp).status_code == 302
    assert Asset.objects.filter(property_number__iexact="ab-01").count() == 1
    existing.refresh_from_db()
    assert existing.name == "新" and existing.property_number == "ab-01"


@pytest.mark.django_db
def test_empty_cells_never_clear_the_register(head, world):
    kept = asset("A-1", name="電腦", brand="Acer", location="圖書館", unit=world["units"]["info"])
    imp = read(head, csv_bytes([row("A-1", "電腦", "")]))
    assert [e["id"] for e in group(imp, "unchanged")] == [kept.pk]


@pytest.mark.django_db
def test_the_register_assets_the_list_lacks_are_listed_not_changed(head, world):
    gone = asset("G-1", name="不在清冊")
    asset("G-2", name="已報廢", state=State.NEW)
    Asset.objects.filter(property_number="G-2").update(state=State.DECOMMISSIONED)
    asset("", name="隨身碟", kind=Kind.USB)  # no property number: not on the list anyway
    imp = read(head, csv_bytes([row("A-1")]))
    assert [e["id"] for e in group(imp, "missing")] == [gone.pk]
    assert apply(head, imp).status_code == 302
    gone.refresh_from_db()
    assert gone.state == State.NEW and not gone.is_voided


@pytest.mark.django_db
def test_a_custodian_sharing_a_name_is_told_apart_by_the_unit(head, world):
    Person.objects.create(name="王大明", unit=world["units"]["acad"])
    imp = read(
        head,
        csv_bytes(
            [
                row("A-1", unit="教務處", custodian="王大明"),
                row("A-2", unit="ACAD", custodian="王大明"),  # a unit's code works too
                row("A-3", custodian="王大明"),
            ]
        ),
    )
    new = group(imp, "new")
    assert [e["custodian"][0] for e in new] == [
        Person.objects.get(name="王大明", unit__code="acad").pk
    ] * 2
    assert codes(imp) == [(4, "person_ambiguous")]


# All or nothing -------------------------------------------------------------------------------
@pytest.mark.django_db
def test_nothing_is_applied_with_bad_rows_unless_they_are_skipped(head, world):
    imp = read(head, csv_bytes([row("A-1"), row("", "沒有編號"), row("A-2", unit="外太空")]))
    assert len(imp.errors) == 2
    response = apply(head, imp)
    assert response.status_code == 400
    page = response.content.decode()
    assert "檔案有 2 筆無法匯入的資料" in page and "未匯入任何資料" in page
    assert not Asset.objects.exists()
    imp.refresh_from_db()
    assert imp.status == AssetImport.Status.READ
    response = apply(head, imp, skip_bad="on")
    assert response.status_code == 302
    assert list(Asset.objects.values_list("property_number", flat=True)) == ["A-1"]
    imp.refresh_from_db()
    assert imp.preview["applied"]["skipped_rows"] == 2


@pytest.mark.django_db
def test_apply_is_all_or_nothing(head, world, monkeypatch):
    old = asset("A-1", name="舊名稱")
    imp = read(head, csv_bytes([row("A-1", "新名稱"), row("A-2"), row("A-3"), row("A-4")]))
    audit_before = AuditEntry.objects.count()
    real = services.import_assets
    calls = {"n": 0}

    def failing(new, updates, *, actor):  # after every write: the rows are in the database
        calls["n"] += 1
        real(new, updates, actor=actor)
        assert Asset.objects.filter(property_number="A-3").exists()
        error = ValidationError({"name": "磁碟已滿"})
        error.asset = next(a for a in new if a.property_number == "A-3")
        raise error

    monkeypatch.setattr(services, "import_assets", failing)
    response = apply(head, imp)
    assert response.status_code == 400
    page = response.content.decode()
    assert "第 4 行（財產編號 A-3）：磁碟已滿" in page and "未匯入任何資料" in page
    assert calls["n"] == 1
    assert list(Asset.objects.values_list("property_number", "name")) == [("A-1", "舊名稱")]
    assert AuditEntry.objects.count() == audit_before
    imp.refresh_from_db()
    assert imp.status == AssetImport.Status.READ and imp.applied_by is None
    old.refresh_from_db()
    assert old.name == "舊名稱"


@pytest.mark.django_db
def test_a_stale_preview_is_not_applied(head, world):
    imp = read(head, csv_bytes([row("A-1", "電腦"), row("A-2")]))
    digest = imp.preview["digest"]
    asset("A-1", name="其他人先登記")  # the register changed after the preview
    response = apply(head, imp, digest=digest)
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("已重新比對" in m for m in messages)
    assert list(Asset.objects.values_list("property_number", flat=True)) == ["A-1"]
    imp.refresh_from_db()
    assert imp.status == AssetImport.Status.READ
    assert imp.preview["digest"] != digest  # the new preview is stored for the officer
    assert [e["number"] for e in group(imp, "update")] == ["A-1"]
    # An old digest (another tab) is refused as well; the current one is applied.
    assert apply(head, imp, digest=digest).status_code == 302
    assert Asset.objects.count() == 1
    assert apply(head, imp).status_code == 302
    assert Asset.objects.count() == 2
    assert Asset.objects.get(property_number="A-1").name == "電腦"


@pytest.mark.django_db
def test_reopening_goes_back_to_the_columns(head, world):
    imp = read(head, csv_bytes([row("A-1")]))
    response = head.post(reverse("assets:assetimport_columns", args=[imp.pk]), {"reopen": "1"})
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == AssetImport.Status.UPLOADED and imp.preview == {}
    assert "讀取並預覽" in head.get(imp.get_absolute_url()).content.decode()
    assert apply(head, imp, digest="x").status_code == 400


# Files ----------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("財產清冊.pdf", b"%PDF-1.4 something", "只接受 CSV 或 XLSX 格式的財產清冊"),
        ("broken.xlsx", b"PK\x03\x04" + b"\x00" * 100, "無法讀取此 XLSX 檔案"),
        ("empty.csv", b"", "沒有任何檔案被提交"),
        ("blank.csv", b"\r\n\r\n ,\r\n", "找不到標題列"),
        ("unicode.txt", "財產編號\t名稱\r\n".encode("utf-16"), "UTF-16"),
    ],
)
def test_a_file_that_is_not_a_list_is_refused(head, name, data, message):
    response = upload(head, data, name)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AssetImport.objects.exists()


@pytest.mark.django_db
def test_a_list_without_data_rows_is_refused_when_read(head, world):
    assert upload(head, csv_bytes([])).status_code == 302
    response = choose(head, latest())
    assert response.status_code == 400
    assert "標題列之後沒有任何資料列" in response.content.decode()


@pytest.mark.django_db
def test_the_template_csv_has_the_expected_headers_and_reads_back(head, world):
    response = head.get(reverse("assets:import_template"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert response.content.startswith(codecs.BOM_UTF8)
    header = response.content.decode("utf-8-sig").strip().split(",")
    assert header == HEADER
    # Filled in and uploaded, every column is guessed.
    data = (
        response.content
        + "T-1,教師電腦,個人電腦,Acer,X1,S1,教室,資訊組,王大明,教學,使用中\r\n".encode()
    )
    imp = read(head, data)
    assert all(v is not None for v in imp.mapping["columns"].values())
    assert group(imp, "new")[0]["state"] == State.IN_USE


@pytest.mark.django_db
def test_tab_and_semicolon_lists(head, world):
    for delimiter in ("\t", ";"):
        imp = read(head, csv_bytes([row(f"T{ord(delimiter)}")], delimiter=delimiter), name="x.txt")
        assert imp.mapping["delimiter"] == delimiter and len(group(imp, "new")) == 1


# Access ---------------------------------------------------------------------------------------
WRITERS = {EQUIPMENT_HEAD, SYSADMIN}  # as the register's keepers
READERS = {SECURITY_OFFICER, SUPERVISOR, PRINCIPAL}
OTHERS = {STAFF, PERSONNEL, GUARD}


@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted(WRITERS | READERS | OTHERS))
def test_each_role_may_do_what_the_matrix_says(client_for, world, role):
    owner = client_for(EQUIPMENT_HEAD)
    imp = read(owner, csv_bytes([row("A-1")]))
    c = client_for(role)
    reads = [LIST_URL, imp.get_absolute_url(), reverse("assets:import_template")]
    expected = 200 if role in WRITERS | READERS else 403
    for url in reads:
        assert c.get(url).status_code == expected, url
    writes = [
        (UPLOAD_URL, {"file": SimpleUploadedFile("x.csv", csv_bytes([row("B-1")]))}),
        (reverse("assets:assetimport_columns", args=[imp.pk]), {"reopen": "1"}),
        (reverse("assets:assetimport_discard", args=[imp.pk]), {}),
    ]
    for url, data in writes:
        status = c.post(url, data).status_code
        if role in WRITERS:
            assert status in (302,), (url, status)
        else:
            assert status == 403, (url, status)
    if role in READERS:
        page = c.get(imp.get_absolute_url()).content.decode()
        assert "apply-form" not in page
        page = c.get(LIST_URL).content.decode()
        assert 'name="file"' not in page


@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted(READERS | OTHERS))
def test_only_writers_apply(client_for, world, role):
    imp = read(client_for(SYSADMIN), csv_bytes([row("A-1")]))
    assert apply(client_for(role), imp).status_code == 403
    assert not Asset.objects.exists()


@pytest.mark.django_db
def test_the_security_officer_reads_but_does_not_import(client_for, world):
    officer = client_for(SECURITY_OFFICER)
    imp = read(client_for(EQUIPMENT_HEAD), csv_bytes([row("A-1")]))
    assert officer.get(imp.get_absolute_url()).status_code == 200
    assert apply(officer, imp).status_code == 403
    assert not Asset.objects.exists()


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(client, world):
    for url in (LIST_URL, reverse("assets:import_template")):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.django_db
def test_an_unknown_import_is_404(head):
    assert head.get(reverse("assets:assetimport_detail", args=[999])).status_code == 404


@pytest.mark.django_db
def test_the_menu_links_the_import_for_those_who_may_see_it(client_for, world):
    assert "/assets/imports/" in client_for(EQUIPMENT_HEAD).get("/").content.decode()
    assert "/assets/imports/" not in client_for(STAFF).get("/").content.decode()


# Speed ----------------------------------------------------------------------------------------
def _population(n, world) -> bytes:
    units = ["資訊組", "教務處"]
    people = ["王大明", "林小華"]
    kinds = ["個人電腦", "伺服器", "筆電", "印表機", "交換器"]
    rows = [
        row(
            f"P-{i:05d}",
            f"設備{i}",
            kinds[i % len(kinds)],
            unit=units[i % 2],
            custodian=people[i % 2],
            state="使用中" if i % 3 else "庫存",
        )
        for i in range(n)
    ]
    rows.append(row("", "壞資料"))
    return csv_bytes(rows)


@pytest.mark.django_db
def test_reading_and_previewing_take_the_same_queries_for_10_and_200_rows(head, world):
    for i in range(0, 200, 7):  # some of the rows are already registered
        asset(f"P-{i:05d}", name="舊")
    counts, pages = [], []
    for n in (10, 200):
        assert upload(head, _population(n, world)).status_code == 302
        imp = latest()
        choose(head, imp)  # compiles the templates and warms caches
        imp.refresh_from_db()
        assert imp.rows == n + 1 and len(imp.errors) == 1
        with CaptureQueriesContext(connection) as ctx:
            imports.run(
                imp,
                columns=imp.mapping["columns"],
                default_kind="",
                actor=head.user,
            )
        counts.append(len(ctx))
        head.get(imp.get_absolute_url())
        with CaptureQueriesContext(connection) as ctx:
            assert head.get(imp.get_absolute_url()).status_code == 200
        pages.append(len(ctx))
    assert counts[0] == counts[1], counts
    assert pages[0] == pages[1], pages


@pytest.mark.django_db
def test_many_assets_are_written_in_bulk_each_audited_as_one_save(head):
    from isms.audit import trail

    old = asset("B-1", name="舊名稱")
    before = AuditEntry.objects.count()
    new = [Asset(property_number=f"B-{i}", name=f"電腦 {i}", kind="pc") for i in range(2, 5)]
    services.import_assets(
        new, [(old, {"name": "新名稱", "location": "電腦教室"})], actor=head.user
    )
    assert Asset.objects.count() == 4
    entries = AuditEntry.objects.filter(id__gt=before, model_label="assets.asset").order_by("id")
    assert [e.action for e in entries] == ["create", "create", "create", "update"]
    assert {e.actor_id for e in entries} == {head.user.pk}
    assert entries[0].changes["property_number"] == [None, "B-2"]
    assert entries[3].changes == {"name": ["舊名稱", "新名稱"], "location": ["", "電腦教室"]}
    assert trail.verify().ok
    count = AuditEntry.objects.count()
    with pytest.raises(ValidationError) as refused:  # a number already registered
        services.import_assets([Asset(property_number="B-2", name="x", kind="pc")], [], actor=None)
    assert refused.value.asset.property_number == "B-2"
    with pytest.raises(ValidationError):  # a name too long
        services.import_assets(
            [Asset(property_number="B-9", name="長" * 201, kind="pc")], [], actor=None
        )
    with pytest.raises(ValidationError):  # a server cannot arrive in use without its A-1
        services.import_assets(
            [Asset(property_number="B-8", name="主機", kind="server", state="in_use")],
            [],
            actor=None,
        )
    assert Asset.objects.count() == 4 and AuditEntry.objects.count() == count


@pytest.mark.django_db
def test_a_different_kind_is_listed_never_applied(head, world):
    pc = asset("K-1", name="電腦", kind=Kind.PC)
    imp = read(head, csv_bytes([row("K-1", "電腦", "伺服器", location="機房")]))
    (entry,) = imp.preview["groups"]["kind"]
    assert (entry["kind_from"], entry["kind_to"]) == ("pc", "server")
    page = head.get(imp.get_absolute_url()).content.decode()
    assert "類別與登記簿不同（匯入不變更類別）" in page
    assert apply(head, imp).status_code == 302  # no 500: the kind is simply not changed
    pc.refresh_from_db()
    assert pc.kind == Kind.PC and pc.location == "機房"
