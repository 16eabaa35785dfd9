"""2.1 in a real browser: the 設備組長 imports the school's property list (財產清冊匯入) into
the asset register — a Big5 CSV with new assets, one registered asset to update and one row
that cannot be used (applied only once the bad row is skipped), and an XLSX list with a
title line above its header, applied as it is."""

import csv
import datetime as dt
import io
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from isms.assets.models import Asset, AssetImport
from isms.audit.models import AuditEntry
from isms.core.models import Person, Unit
from isms.core.roles import EQUIPMENT_HEAD

from .test_account_request import person_with_login, sign_in
from .test_first_sign_in import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

Kind, State = Asset.Kind, Asset.State
IMPORTS = "/assets/imports/"
# The header of a property list as the school's property system exports it.
HEADER = ["財產編號", "財產名稱", "類別", "廠牌", "型號", "放置地點", "保管人", "使用單位", "狀態"]
# Each column and the field the import guesses for it (the select's value is the column).
GUESSED = {
    "property_number": "0",
    "name": "1",
    "kind": "2",
    "brand": "3",
    "model": "4",
    "location": "5",
    "custodian": "6",
    "unit": "7",
    "state": "8",
    "serial": "",
    "purpose": "",
}


def csv_bytes(rows, *, header=HEADER, encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def line(what, where) -> list:
    """A row of a property list: what the asset is, then where it is and whose."""
    return [*what, *where]


def xlsx_bytes(rows, *, header, before=()) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "財產清冊"
    for cells in (*before, header, *rows):
        sheet.append(list(cells))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def directory():
    """The units and people a property list names (their names are what it holds)."""
    info = Unit.objects.create(name="資訊組", code="info")
    academic = Unit.objects.create(name="教務處", code="academic")
    wang = Person.objects.create(name="王大明", unit=info)
    lin = Person.objects.create(name="林小華", unit=academic)
    return info, academic, wang, lin


def upload(page, live_server, filename, data, mime) -> AssetImport:
    page.goto(f"{live_server.url}{IMPORTS}")
    page.set_input_files("#id_file", files=[{"name": filename, "mimeType": mime, "buffer": data}])
    page.get_by_role("button", name="上傳", exact=True).click()
    page.wait_for_url(re.compile(r"/assets/imports/\d+/$"))
    imp = AssetImport.objects.latest("id")
    assert imp.original_name == filename and imp.status == AssetImport.Status.UPLOADED
    expect(page.locator("main")).to_contain_text("已上傳，請確認各欄位的對應。")
    return imp


def group(page, name):
    return page.locator(f"#group-{name}")


def expect_counts(page, **counts):
    """Each group of the preview with its number, in its summary."""
    for name, count in counts.items():
        expect(group(page, name).locator("summary .badge")).to_have_text(str(count))
        rows = group(page, name).locator("tbody tr")
        expect(rows).to_have_count(count)


def asset_entries(**filters):
    return AuditEntry.objects.filter(model_label="assets.asset", **filters)


def test_a_big5_property_list_is_previewed_and_applied_once_the_bad_row_is_skipped(
    live_server, page
):
    head = person_with_login("equipment", EQUIPMENT_HEAD, "李美玲")
    info, academic, wang, lin = directory()
    # A PC registered by hand last year: kept up to date, so it has no findings.
    now = timezone.now()
    office_pc = Asset.objects.create(
        kind=Kind.PC,
        property_number="3140101-03-000101",
        name="教師辦公室電腦",
        brand="HP",
        model="ProDesk 400 G6",
        location="圖書館",
        state=State.IN_USE,
        antivirus=True,
        antivirus_updated_at=now - dt.timedelta(days=1),
        auto_updates=True,
        patched_at=now - dt.timedelta(days=3),
        software_licensed=True,
        licence_evidence="校園授權 Microsoft 365 A3",
        screen_lock=True,
    )
    data = csv_bytes(
        [
            # line 2: a PC in use — no A-1 needed, so it is registered in use.
            line(
                ("3140101-03-000201", "電腦教室教師機", "桌上型電腦", "Acer", "Veriton M4690G"),
                ("電腦教室（一）", "王大明", "資訊組", "使用中"),
            ),
            # line 3: an official notebook in use — registered 待啟用 until its A-1 review.
            line(
                ("3140101-03-000202", "教務處筆記型電腦", "筆電", "ASUS", "ExpertBook B1"),
                ("教務處", "林小華", "教務處", "使用中"),
            ),
            # line 4: the registered PC, moved to the teachers' office and given a keeper.
            line(
                ("3140101-03-000101", "教師辦公室電腦", "個人電腦", "HP", "ProDesk 400 G7"),
                ("教師辦公室", "林小華", "教務處", "使用中"),
            ),
            # line 5: a word containing a dictionary word of three characters.
            line(
                ("3140101-03-000203", "資訊組雷射印表機", "雷射印表機", "Brother", "HL-L5100DN"),
                ("資訊組辦公室", "王大明", "資訊組", "庫存"),
            ),
            # line 6: a 類別 the dictionary does not know: this row cannot be used.
            line(
                ("3140101-03-000205", "單槍投影機", "投影機", "Epson", "EB-X51"),
                ("普通教室 201", "林小華", "教務處", "使用中"),
            ),
            # line 7: network equipment needs no A-1 record: registered in use.
            line(
                ("3140101-03-000204", "核心網路交換器", "交換器", "Cisco", "Catalyst 9200"),
                ("資訊機房", "王大明", "資訊組", "使用中"),
            ),
            # line 8: an official USB stick without a sensitivity: a 4.3 finding.
            line(
                ("3140101-03-000206", "公務隨身碟", "隨身碟", "Transcend", "JetFlash 790"),
                ("資訊組辦公室", "王大明", "資訊組", "使用中"),
            ),
        ],
        encoding="cp950",
    )
    data.decode("cp950")  # Big5 indeed, and not UTF-8:
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")

    # The upload, and the columns guessed from the Chinese header.
    sign_in(page, live_server, "equipment")
    imp = upload(page, live_server, "115學年度財產清冊.csv", data, "text/csv")
    assert imp.encoding == "cp950" and imp.mapping["header_line"] == 1
    expect(page.locator("main")).to_contain_text("編碼：Big5（cp950）。以逗號分隔。")
    expect(page.locator("main")).to_contain_text("標題列在第 1 行")
    expect(page.locator("main table thead th")).to_have_text(
        [f"{i}. {name}" for i, name in enumerate(HEADER, 1)]
    )
    expect(page.locator("main table tbody").first).to_contain_text("電腦教室教師機")
    for field, column in GUESSED.items():
        expect(page.locator(f"#id_{field}")).to_have_value(column)
    expect(page.locator("#id_encoding")).to_have_value("cp950")
    expect(page.locator("#id_default_kind")).to_have_value("")
    expect(page.locator("#id_header_line")).to_have_value("1")
    page.get_by_role("button", name="讀取並預覽").click()
    # The preview (on the same address): the bad row with its line and reason, then the
    # groups with their numbers.
    main = page.locator("main")
    expect(main).to_contain_text("已讀取 7 筆，其中 1 筆無法匯入；請檢視下列原因。")
    imp.refresh_from_db()
    assert imp.status == AssetImport.Status.READ and imp.rows == 7
    expect(page.locator("h1 + .badge")).to_have_text("已預覽")
    expect(main).to_contain_text("清冊共 7 筆資料；登記簿中有財產編號的資產 1 筆。")
    expect(page.get_by_role("heading", name="無法匯入的資料 1 筆")).to_be_visible()
    expect(main.locator("table").first.locator("tbody tr")).to_have_text(
        [re.compile(r"^\s*6\s*3140101-03-000205\s*無法對應類別「投影機」")]
    )
    expect_counts(
        page, new=5, update=1, unchanged=0, needs_a1=1, state=0, kind=0, transfer=0, missing=0
    )
    new = group(page, "new").locator("tbody tr")
    expect(new.first).to_contain_text("3140101-03-000201")
    expect(new.first).to_contain_text("電腦教室教師機")
    expect(new.first).to_contain_text("個人電腦")
    expect(new.nth(1)).to_contain_text("筆記型電腦")
    expect(new.nth(1)).to_contain_text("須 A-1")
    expect(new.nth(2)).to_contain_text("印表機")
    expect(new.nth(2)).to_contain_text("庫存")
    for text in ("資訊組", "王大明", "電腦教室（一）", "Veriton M4690G"):
        expect(new.first).to_contain_text(text)
    update = group(page, "update").locator("tbody tr")
    expect(update).to_contain_text("3140101-03-000101")
    for change in (
        "型號：ProDesk 400 G6 → ProDesk 400 G7",
        "放置地點：圖書館 → 教師辦公室",
        "使用單位：— → 教務處",
        "保管人：— → 林小華",
    ):
        expect(update).to_contain_text(change)
    expect(group(page, "needs_a1").locator("tbody tr")).to_contain_text("教務處筆記型電腦")
    expect(page.locator("#apply-form")).to_contain_text("將新增 5 筆、更新 1 筆資產。")
    shot(page, "22-asset-import-preview")

    # Applying without skipping the bad row is refused: nothing is written.
    last_entry = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()
    skip = page.get_by_label("略過 1 筆無法匯入的資料，只匯入其餘資料")
    expect(skip).not_to_be_checked()
    page.get_by_role("button", name="匯入登記簿").click()
    page.wait_for_url(f"**{imp.get_absolute_url()}apply/")
    expect(page.locator(".alert-danger")).to_have_text(
        [
            re.compile("檔案有 1 筆無法匯入的資料；請修正後重新上傳，或勾選略過這些資料。"),
            re.compile("未匯入任何資料。"),
        ]
    )
    assert list(Asset.objects.values_list("property_number", flat=True)) == ["3140101-03-000101"]
    office_pc.refresh_from_db()
    assert office_pc.location == "圖書館" and office_pc.model == "ProDesk 400 G6"
    assert office_pc.unit is None and office_pc.custodian is None
    assert not asset_entries(id__gt=last_entry).exists()
    imp.refresh_from_db()
    assert imp.status == AssetImport.Status.READ and imp.applied_at is None

    # Ticking the box imports the rest.
    skip.check()
    page.get_by_role("button", name="匯入登記簿").click()
    page.wait_for_url(f"**{imp.get_absolute_url()}")
    expect(page.locator("h1 + .badge")).to_have_text("已匯入")
    expect(page.locator(".alert-success").first).to_contain_text(
        "已匯入：新增 5 筆、更新 1 筆資產。"
    )
    result = page.locator(".alert-success").last
    expect(result).to_contain_text(
        "已匯入：新增 5 筆、更新 1 筆資產，0 筆資料相同；略過 1 筆無法匯入的資料。"
    )
    expect(result).to_contain_text("下列 1 筆在清冊中為使用中，已登記為待啟用")
    expect(result.get_by_role("link", name="3140101-03-000202 教務處筆記型電腦")).to_be_visible()
    expect(result.get_by_role("link", name="填寫啟用紀錄")).to_have_attribute(
        "href", re.compile(r"/assets/commissioning/add/\?asset=\d+&kind=commission$")
    )
    expect(page.locator("#apply-form")).to_have_count(0)

    imp.refresh_from_db()
    assert imp.status == AssetImport.Status.APPLIED and imp.applied_by == head
    applied = imp.preview["applied"]
    assert (applied["added"], applied["updated"], applied["skipped_rows"]) == (5, 1, 1)
    assets = {a.property_number: a for a in Asset.objects.select_related("unit", "custodian")}
    assert set(assets) == {
        "3140101-03-000101",
        "3140101-03-000201",
        "3140101-03-000202",
        "3140101-03-000203",
        "3140101-03-000204",
        "3140101-03-000206",
    }
    assert "3140101-03-000205" not in assets  # the bad row
    expected = {
        "3140101-03-000201": (Kind.PC, State.IN_USE, info, wang),
        "3140101-03-000202": (Kind.NOTEBOOK, State.NEW, academic, lin),
        "3140101-03-000203": (Kind.PRINTER, State.STORAGE, info, wang),
        "3140101-03-000204": (Kind.NETWORK, State.IN_USE, info, wang),
        "3140101-03-000206": (Kind.USB, State.IN_USE, info, wang),
    }
    for number, wanted in expected.items():
        added = assets[number]
        assert (added.kind, added.state, added.unit, added.custodian) == wanted, number
        assert f"匯入 #{imp.pk}" in added.notes and "115學年度財產清冊.csv" in added.notes
    pc = assets["3140101-03-000201"]
    assert (pc.name, pc.brand, pc.model, pc.location) == (
        "電腦教室教師機",
        "Acer",
        "Veriton M4690G",
        "電腦教室（一）",
    )
    office_pc = assets["3140101-03-000101"]
    assert office_pc.location == "教師辦公室" and office_pc.model == "ProDesk 400 G7"
    assert office_pc.unit == academic and office_pc.custodian == lin
    assert office_pc.state == State.IN_USE and office_pc.notes == ""

    # One audit entry per asset added or changed, with the 設備組長 as actor.
    entries = asset_entries(id__gt=last_entry)
    assert entries.count() == 6 and not entries.exclude(actor=head).exists()
    created = entries.filter(action=AuditEntry.Action.CREATE)
    assert set(created.values_list("object_id", flat=True)) == {
        str(assets[number].pk) for number in expected
    }
    change = asset_entries(
        action=AuditEntry.Action.UPDATE, object_id=str(office_pc.pk), actor=head
    ).get()
    assert change.changes["location"] == ["圖書館", "教師辦公室"]
    assert change.changes["model"] == ["ProDesk 400 G6", "ProDesk 400 G7"]
    assert change.changes["unit_id"] == [None, academic.pk]
    assert change.changes["custodian_id"] == [None, lin.pk]

    # The register: the imported assets with what the policy still asks of them.
    page.goto(f"{live_server.url}/assets/assets/")
    headers = page.locator("table.table-register thead th")
    expect(headers).to_have_text(
        ["財產編號", "名稱", "類別", "放置地點", "使用單位", "保管人", "狀態", "待處理"]
    )
    expect(page.locator("#register-table")).to_contain_text("共 6 筆")
    rows = page.locator("table.table-register tbody tr")
    expect(rows).to_have_count(6)

    def row(number):
        return rows.filter(has_text=number)

    expect(row("3140101-03-000101").locator("td").last).to_have_text("")
    expect(row("3140101-03-000201").locator("td").last).to_have_text(
        "防毒未更新、系統未更新、授權未確認、未設螢幕保護"
    )
    expect(row("3140101-03-000202").locator("td").nth(6)).to_have_text("待啟用")
    expect(row("3140101-03-000206").locator("td").last).to_have_text("媒體未依機敏性控管")
    expect(row("3140101-03-000203").locator("td").last).to_have_text("")
    shot(page, "23-asset-register")


def test_an_xlsx_property_list_with_a_title_line_is_applied_without_errors(live_server, page):
    head = person_with_login("equipment", EQUIPMENT_HEAD, "李美玲")
    info, academic, wang, lin = directory()
    # Other words a spreadsheet kept by hand uses, each field in its own column.
    columns = {
        "property_number": "財產編號",
        "name": "品名",
        "kind": "財產類別",
        "brand": "廠牌",
        "model": "型式",
        "serial": "序號",
        "location": "存置地點",
        "unit": "保管單位",
        "custodian": "保管人",
        "purpose": "用途",
        "state": "使用狀態",
    }
    header = list(columns.values())
    printer = Asset.objects.create(
        kind=Kind.PRINTER,
        property_number="3140101-03-000301",
        name="多功能事務機",
        location="教務處",
        state=State.IN_USE,
    )
    data = xlsx_bytes(
        [
            line(
                ("3140101-03-000301", "多功能事務機", "事務機", "Fuji Xerox", "ApeosPort C2560"),
                ("FX-778812", "教務處", "教務處", "林小華", "公文列印", "使用中"),
            ),
            line(
                ("3140101-03-000302", "校務行政伺服器", "伺服器", "Dell", "PowerEdge R750"),
                (20261129, "資訊機房 A 櫃", "資訊組", "王大明", "校務行政系統主機", "使用中"),
            ),
            line(
                ("3140101-03-000303", "教學用平板", "平板電腦", "Apple", "iPad 第 10 代"),
                ("DMPXK2", "資訊組", "資訊組", "王大明", "行動學習", "庫存"),
            ),
        ],
        header=header,
        before=[["穀保家商 財產清冊（資訊設備）"], []],
    )

    sign_in(page, live_server, "equipment")
    imp = upload(
        page,
        live_server,
        "財產清冊.xlsx",
        data,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    # The title line is skipped: the header is the first line naming a property number.
    assert imp.mapping["kind"] == "xlsx" and imp.mapping["header_line"] == 3
    expect(page.locator("main")).to_contain_text("標題列在第 3 行")
    expect(page.locator("main table thead th")).to_have_text(
        [f"{i}. {name}" for i, name in enumerate(header, 1)]
    )
    expect(page.locator("#id_encoding")).to_have_count(0)  # a workbook has no encoding
    expect(page.locator("#id_header_line")).to_have_value("3")
    for index, field in enumerate(columns):
        expect(page.locator(f"#id_{field}")).to_have_value(str(index))
    page.get_by_role("button", name="讀取並預覽").click()
    expect(page.locator("main")).to_contain_text("已讀取並比對 3 筆。")
    expect(page.get_by_role("heading", name=re.compile("無法匯入的資料"))).to_have_count(0)
    expect_counts(
        page, new=2, update=1, unchanged=0, needs_a1=1, state=0, kind=0, transfer=0, missing=0
    )
    expect(group(page, "new").locator("tbody tr").first).to_contain_text("20261129")
    expect(group(page, "needs_a1").locator("tbody tr")).to_contain_text("校務行政伺服器")
    expect(page.locator("#id_skip_bad")).to_have_count(0)  # nothing to skip

    page.get_by_role("button", name="匯入登記簿").click()
    # Back on the import's page (the same address) once applied.
    expect(page.locator("h1 + .badge")).to_have_text("已匯入")
    expect(page.locator(".alert-success").last).to_contain_text(
        "已匯入：新增 2 筆、更新 1 筆資產，0 筆資料相同；略過 0 筆無法匯入的資料。"
    )
    imp.refresh_from_db()
    assert imp.status == AssetImport.Status.APPLIED and imp.applied_by == head
    assert imp.errors == [] and imp.preview["applied"]["skipped_rows"] == 0

    server = Asset.objects.get(property_number="3140101-03-000302")
    # In use on the list, but a server is used only after a reviewed A-1 record (2.2.3).
    assert (server.kind, server.state) == (Kind.SERVER, State.NEW)
    assert (server.unit, server.custodian, server.serial) == (info, wang, "20261129")
    assert server.purpose == "校務行政系統主機" and server.model == "PowerEdge R750"
    tablet = Asset.objects.get(property_number="3140101-03-000303")
    assert (tablet.kind, tablet.state, tablet.custodian) == (Kind.TABLET, State.STORAGE, wang)
    printer.refresh_from_db()
    assert (printer.unit, printer.custodian) == (academic, lin)
    assert (printer.brand, printer.serial, printer.purpose) == (
        "Fuji Xerox",
        "FX-778812",
        "公文列印",
    )
    assert printer.kind == Kind.PRINTER and printer.state == State.IN_USE
    for asset, action in ((server, "create"), (tablet, "create"), (printer, "update")):
        assert asset_entries(object_id=str(asset.pk), action=action, actor=head).count() == 1
