"""Reading an uploaded list (isms/core/tabular.py): encodings, delimiters, XLSX, bad files."""

import codecs
import csv
import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from isms.core import tabular

FIELDS = ("number", "name", "place")
GUESSES = {"number": {"財產編號", "編號"}, "name": {"名稱", "name"}, "place": {"放置地點"}}


def csv_bytes(rows, *, encoding="utf-8", delimiter=",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows, sheets=1) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for n in range(1, sheets):
        book.create_sheet(f"其他{n}").append(["不讀這張"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def inspect(data, kind="csv", encoding=None, header_line=None):
    if encoding is None:
        encoding = tabular.detect_encoding(data) if kind == "csv" else ""
    return tabular.inspect(data, kind, encoding, header_line, fields=FIELDS, guesses=GUESSES)


ROWS = [["財產編號", "名稱", "放置地點"], ["3140101-03-0001", "伺服器", "電腦教室（一）"]]


# Encodings ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (codecs.BOM_UTF8 + "財產編號,名稱\r\n".encode(), "utf-8-sig"),
        ("財產編號,名稱\r\n".encode(), "utf-8"),
        ("財產編號,名稱\r\n".encode("cp950"), "cp950"),
        ("財產編號,保管人\r\nA1,王喆\r\n".encode("big5hkscs"), "big5hkscs"),
        (b"abc,def\r\n", "utf-8"),  # plain ASCII is UTF-8
        (b"\xff\xff,\x80\x81\r\n", ""),  # none of them: the person chooses
        (codecs.BOM_UTF8 + b"\xff\xfe", ""),  # a BOM and then garbage: ask as well
    ],
)
def test_the_encoding_is_detected_or_left_to_the_person(data, expected):
    assert tabular.detect_encoding(data) == expected


def test_big5_and_big5_hkscs_are_read_as_chinese():
    big5 = csv_bytes(ROWS, encoding="cp950")
    mapping = inspect(big5)
    assert mapping["header"] == ["財產編號", "名稱", "放置地點"]
    assert mapping["sample"] == [["3140101-03-0001", "伺服器", "電腦教室（一）"]]
    assert mapping["replaced"] == 0
    hkscs = csv_bytes([["編號", "名稱"], ["1", "王喆的筆電"]], encoding="big5hkscs")
    assert tabular.detect_encoding(hkscs) == "big5hkscs"
    assert inspect(hkscs)["sample"] == [["1", "王喆的筆電"]]


def test_a_wrong_encoding_counts_the_characters_it_could_not_decode():
    text, replaced = tabular.decode(csv_bytes(ROWS, encoding="cp950"), "utf-8")
    assert replaced > 0 and "\ufffd" in text
    assert inspect(csv_bytes(ROWS, encoding="cp950"), encoding="utf-8")["replaced"] > 0


def test_a_bom_is_dropped_from_the_first_header():
    data = codecs.BOM_UTF8 + csv_bytes(ROWS)
    assert inspect(data)["header"][0] == "財產編號"
    # utf-8 chosen by the person reads a BOM as well
    assert inspect(data, encoding="utf-8")["header"][0] == "財產編號"


def test_previews_show_the_first_lines_in_every_encoding():
    previews = tabular.encoding_previews(csv_bytes(ROWS, encoding="cp950"))
    assert [p[0] for p in previews] == ["utf-8", "cp950", "big5hkscs"]
    assert "財產編號" in previews[1][2] and "財產編號" not in previews[0][2]


def test_encoding_choice_offers_utf8_once():
    assert tabular.encoding_choice("utf-8-sig") == "utf-8"
    assert tabular.encoding_choice("cp950") == "cp950"


# Delimiters and the header --------------------------------------------------------------------
@pytest.mark.parametrize(("delimiter", "name"), [(",", "comma"), ("\t", "tab"), (";", "semicolon")])
def test_the_delimiter_is_the_one_found_on_every_line(delimiter, name):
    mapping = inspect(csv_bytes(ROWS, delimiter=delimiter))
    assert mapping["delimiter"] == delimiter
    assert tabular.DELIMITER_NAMES[mapping["delimiter"]] == name
    assert mapping["header"] == ["財產編號", "名稱", "放置地點"]


def test_a_comma_inside_a_tab_separated_cell_does_not_decide():
    text = "財產編號\t名稱\r\nA1\t桌機, 含螢幕\r\n"
    assert tabular.detect_delimiter(text) == "\t"


def test_columns_are_guessed_from_the_callers_synonyms():
    mapping = inspect(csv_bytes([[" 名 稱", "NAME", "財產_編號", "備註"], ["a", "b", "c", "d"]]))
    # spaces, underscores and case do not matter; a column goes to one field only
    assert mapping["columns"] == {"number": 2, "name": 0, "place": None}
    assert mapping["chosen"] is False


def test_a_header_on_line_2_is_read_when_chosen():
    data = csv_bytes([["○○高中財產清冊", "", ""], *ROWS])
    first = inspect(data)
    assert first["header_line"] == 1 and first["header"] == ["○○高中財產清冊"]
    assert first["columns"]["number"] is None
    second = inspect(data, header_line=2)
    assert second["header_line"] == 2
    assert second["columns"] == {"number": 0, "name": 1, "place": 2}
    assert second["sample"] == [ROWS[1]]


def test_blank_lines_before_the_header_are_skipped():
    data = b"\r\n , \r\n" + csv_bytes(ROWS)
    mapping = inspect(data)
    assert mapping["header_line"] == 3


def test_data_rows_skip_the_header_and_blank_lines_and_keep_line_numbers():
    data = csv_bytes(
        [["說明"], *ROWS[:1], ["A1", "x", "y"], ["", "", ""], ["A2", "多行\n名稱", "z"]]
    )
    mapping = inspect(data, header_line=2)
    rows = list(tabular.data_rows(data, mapping, "utf-8"))
    assert [line for line, _cells in rows] == [3, 5]
    assert rows[1][1][1] == "多行\n名稱"


def test_more_lines_than_the_guard_are_refused(monkeypatch):
    monkeypatch.setattr(tabular, "MAX_LINES", 3)
    data = csv_bytes([*ROWS, ["A2", "b", "c"], ["A3", "b", "c"]])
    with pytest.raises(tabular.FileError, match="檔案超過 3 行"):
        list(tabular.table(data, "csv", "utf-8"))


def test_a_broken_quote_is_reported_with_its_line():
    data = b'a,b\r\n"x,y\r\n' + b"z" * 10
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(5)
        with pytest.raises(tabular.FileError, match="第 2 行無法讀取"):
            list(tabular.table(data, "csv", "utf-8"))
    finally:
        csv.field_size_limit(limit)


def test_an_empty_file_or_header_is_a_file_error():
    with pytest.raises(tabular.FileError, match="找不到標題列"):
        inspect(b"\r\n , \r\n")
    with pytest.raises(tabular.FileError, match="找不到標題列"):
        inspect(csv_bytes(ROWS), header_line=9)


# XLSX -----------------------------------------------------------------------------------------
def test_xlsx_keeps_numbers_dates_and_reads_the_first_sheet_only():
    data = xlsx_bytes(
        [
            ["財產編號", "名稱", "取得日期", "數量", "單價", "是否"],
            [3140101, "伺服器", dt.datetime(2024, 8, 1), 2.0, 1234.5, True],
            ["A-2", None, dt.date(2023, 1, 2), None, 0.0, False],
        ],
        sheets=2,
    )
    mapping = inspect(data, kind="xlsx")
    assert mapping["kind"] == "xlsx" and mapping["delimiter"] == ","
    assert mapping["sample"] == [
        ["3140101", "伺服器", "2024-08-01T00:00:00", "2", "1234.5", "1"],
        ["A-2", "", "2023-01-02T00:00:00", "", "0", "0"],
    ]
    rows = list(tabular.data_rows(data, mapping))
    assert rows[0][0] == 2 and rows[0][1][0] == 3140101  # cells keep their own types
    assert tabular.cell_text(rows[0][1][0]) == "3140101"


def test_an_xlsx_header_on_line_2():
    data = xlsx_bytes([["財產清冊（115 年度）"], *ROWS])
    mapping = inspect(data, kind="xlsx", header_line=2)
    assert mapping["header_line"] == 2 and mapping["columns"]["number"] == 0


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04" + b"\x00" * 100,  # a zip with nothing in it
        b"not a zip at all",
    ],
)
def test_a_malformed_xlsx_is_a_file_error(data):
    with pytest.raises(tabular.FileError, match="無法讀取此 XLSX 檔案"):
        inspect(data, kind="xlsx")


def test_cell_text():
    assert tabular.cell_text(None) == ""
    assert tabular.cell_text(12345.0) == "12345"
    assert tabular.cell_text(1.5) == "1.5"
    assert tabular.cell_text(True) == "1"
    assert tabular.cell_text("  a ") == "a"
    assert tabular.cell_text(dt.date(2024, 1, 2)) == "2024-01-02"
    assert tabular.cell([1, 2], 5) is None and tabular.cell([1, 2], None) is None


# The upload -----------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("list.pdf", b"%PDF-1.4", "只接受 CSV 或 XLSX 格式的檔案"),
        ("list.docx", b"PK\x03\x04" + b"\x00" * 10, "只接受 CSV 或 XLSX"),
        ("list.txt", "編號\t名稱\r\n".encode("utf-16"), "UTF-16"),
        ("list.csv", b"a,b\x00c", "文字檔內容不正確"),
        ("list.xlsx", b"%PDF-1.4", "不符"),
    ],
)
def test_check_file_refuses_what_is_not_a_list(name, data, message):
    with pytest.raises(ValidationError) as error:
        tabular.check_file(SimpleUploadedFile(name, data))
    assert message in " ".join(error.value.messages)


@pytest.mark.django_db
def test_check_file_takes_the_callers_message_and_keeps_the_name():
    upload = SimpleUploadedFile("list.tsv", b"a\tb\r\n")
    assert tabular.check_file(upload) == "csv"
    assert upload.name == "list.tsv"
    assert tabular.check_file(SimpleUploadedFile("x.XLSX", xlsx_bytes(ROWS))) == "xlsx"
    with pytest.raises(ValidationError, match=r"清單（\.pdf）"):
        tabular.check_file(SimpleUploadedFile("x.pdf", b"%PDF"), "只接受清單（.%(ext)s）")


def test_csv_template_has_a_bom_and_the_headers():
    data = tabular.csv_template(["財產編號", "名稱"])
    assert data.startswith(codecs.BOM_UTF8)
    assert data[3:].decode() == "財產編號,名稱\r\n"
    assert inspect(data)["header"] == ["財產編號", "名稱"]
