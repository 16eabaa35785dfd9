"""Reading a list a person uploads: CSV (UTF-8 or Big5) or XLSX, with a header row.

Shared by every import (the account reconciliation of identity, the property list of
assets). The steps of reading a file:

1. ``check_file``: the upload is checked (``core.services.check_upload``; CSV or XLSX only;
   a UTF-16 "Unicode text" of Excel is refused with the way out).
2. ``detect_encoding``: UTF-8 with or without BOM, else Big5 (cp950, what Windows in
   Taiwan writes), else Big5-HKSCS (rarer characters of names), else "" — the person
   chooses, comparing the ``encoding_previews``.
3. ``inspect``: the delimiter (the one of comma, tab and semicolon found most consistently
   over the first lines), the header row (the first non-blank one, or the line chosen), a
   few sample rows and the columns guessed from the header by the caller's synonyms.
4. ``data_rows``: every row after the header as (line number, cells); ``cell_text`` turns
   a cell (XLSX cells keep their types) into text. More than ``MAX_LINES`` lines is refused.

Anything that makes the whole file unreadable raises ``FileError`` with a zh-TW message.
"""

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .services import check_upload

KINDS = ("csv", "xlsx")
EXTENSIONS = {"csv": "csv", "txt": "csv", "tsv": "csv", "xlsx": "xlsx"}
ACCEPT = ".csv,.txt,.tsv,.xlsx"  # the file input's accept attribute
# The encodings a CSV is read in; utf-8 is decoded as utf-8-sig (a BOM is dropped).
# Big5-HKSCS holds the rarer characters of names that cp950 lacks (some 造字 of personnel
# systems); it is tried after cp950, which Windows in Taiwan writes.
ENCODINGS = (
    ("utf-8", "UTF-8"),
    ("cp950", "Big5（cp950）"),
    ("big5hkscs", "Big5-HKSCS"),
)
ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8（BOM）",
    "cp950": "Big5（cp950）",
    "big5hkscs": "Big5-HKSCS",
}
DELIMITERS = (",", "\t", ";")
DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon"}
PREVIEW_ROWS = 5
# More lines than any school keeps in one list: a guard against runaway files.
MAX_LINES = 200_000
SNIFF_LINES = 5

TYPE_ERROR = gettext_lazy("只接受 CSV 或 XLSX 格式的檔案（.%(ext)s）。")


class FileError(ValueError):
    """The file as a whole cannot be read; the message (zh-TW) says why."""


# Files -----------------------------------------------------------------------------------------
def check_file(upload, type_error=TYPE_ERROR) -> str:
    """The file kind (csv or xlsx) of an upload after the size and content checks.

    ``type_error`` is the message (with ``%(ext)s``) for a file that is neither CSV nor XLSX.
    """
    name = upload.name or ""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in EXTENSIONS:
        raise ValidationError(str(type_error) % {"ext": ext or "?"}, code="type")
    upload.seek(0)
    if upload.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise ValidationError(
            _("此檔案為 UTF-16 編碼（Excel 的「Unicode 文字」）；請另存為 CSV UTF-8 或 XLSX。"),
            code="content",
        )
    upload.seek(0)
    if ext == "tsv":  # checked as the text file it is
        upload.name = name[:-4] + ".txt"
    try:
        check_upload(upload)
    finally:
        upload.name = name
    return EXTENSIONS[ext]


def detect_encoding(data: bytes) -> str:
    """utf-8-sig (a BOM), utf-8, cp950 (Big5), big5hkscs — the first that decodes cleanly,
    or "" (the person chooses)."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return ""
        return "utf-8-sig"
    for encoding in ("utf-8", "cp950", "big5hkscs"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return ""


def encoding_choice(encoding: str) -> str:
    """The encoding as offered on a page (UTF-8 with or without BOM is one choice)."""
    return "utf-8" if encoding in ("utf-8", "utf-8-sig") else encoding


def codec(encoding: str) -> str:
    return "utf-8-sig" if encoding in ("utf-8", "utf-8-sig") else encoding


def decode(data: bytes, encoding: str) -> tuple[str, int]:
    """The text of a CSV in the given encoding, and how many characters could not be decoded."""
    text = data.decode(codec(encoding), errors="replace")
    return text, text.count("\ufffd")


def detect_delimiter(text: str) -> str:
    """The delimiter found most consistently (the smallest count over the first lines)."""
    lines = []
    for line in text.splitlines():
        if line.strip():
            lines.append(line)
            if len(lines) == SNIFF_LINES:
                break
    best, best_count = ",", 0
    for delimiter in DELIMITERS:
        count = min((line.count(delimiter) for line in lines), default=0)
        if count > best_count:
            best, best_count = delimiter, count
    return best


def table(data: bytes, kind: str, encoding: str = "", delimiter: str = ","):
    """(line number, cells) of every row of the file; XLSX cells keep their own types."""
    if kind == "xlsx":
        yield from _xlsx_rows(data)
        return
    text, _replaced = decode(data, encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1
    try:
        for cells in reader:
            _guard(line)
            yield line, cells
            line = reader.line_num + 1
    except csv.Error as exc:
        raise FileError(
            _("第 %(line)d 行無法讀取（%(error)s）。") % {"line": line, "error": exc}
        ) from exc


def data_rows(data: bytes, mapping: dict, encoding: str = ""):
    """(line number, cells) of every non-blank row after the header line of ``inspect``."""
    header_line = mapping.get("header_line") or 1
    kind = mapping.get("kind", "csv")
    delimiter = mapping.get("delimiter", ",")
    for line, cells in table(data, kind, encoding, delimiter):
        if line <= header_line or blank(cells):
            continue
        yield line, cells


def _guard(line: int) -> None:
    if line > MAX_LINES:
        raise FileError(_("檔案超過 %(n)d 行，請分批匯出。") % {"n": MAX_LINES})


def _xlsx_rows(data: bytes):
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # BadZipFile, KeyError, InvalidFileException, XML errors
        raise FileError(_("無法讀取此 XLSX 檔案，請確認檔案未損壞。")) from exc
    try:
        if not book.worksheets:
            raise FileError(_("XLSX 檔案沒有工作表。"))
        sheet = book.worksheets[0]
        try:
            for number, cells in enumerate(
                sheet.iter_rows(min_row=1, min_col=1, values_only=True), start=1
            ):
                _guard(number)
                yield number, list(cells)
        except FileError:
            raise
        except Exception as exc:
            raise FileError(_("無法讀取此 XLSX 檔案，請確認檔案未損壞。")) from exc
    finally:
        book.close()


# Cells -----------------------------------------------------------------------------------------
def cell_text(value) -> str:
    """A cell as text: None → "", 12345.0 → "12345", datetimes in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def cell(cells, index):
    """The cell at ``index`` (a column chosen by the person), None when absent or unmapped."""
    if index is None or index >= len(cells):
        return None
    return cells[index]


def blank(cells) -> bool:
    return all(cell_text(c) == "" for c in cells)


def compact(header: str) -> str:
    """A header name as compared with the synonyms: NFKC, lower case, no spaces, _ or -."""
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", header)).lower()


def guess_columns(header: list[str], fields, guesses: dict) -> dict:
    """field → column index guessed from the header names (None when nothing fits).

    ``guesses`` maps each field to the header names (``compact`` form) it is taken from;
    the fields are tried in order and a column is given to one field only.
    """
    names = [compact(h) for h in header]
    guessed, taken = {}, set()
    for field in fields:
        guessed[field] = None
        for index, name in enumerate(names):
            if index not in taken and name in guesses.get(field, ()):
                guessed[field] = index
                taken.add(index)
                break
    return guessed


def inspect(
    data: bytes,
    kind: str,
    encoding: str = "",
    header_line: int | None = None,
    *,
    fields=(),
    guesses: dict | None = None,
) -> dict:
    """The header row, its line, the delimiter and a few rows of a file (FileError if none).

    Stored as an import's ``mapping``; ``columns`` holds the columns guessed for ``fields``
    until the person chooses (``chosen``).
    """
    delimiter = ","
    replaced = 0
    if kind == "csv":
        text, replaced = decode(data, encoding)
        delimiter = detect_delimiter(text)
    header, found_line, sample = None, None, []
    for line, cells in table(data, kind, encoding, delimiter):
        if header is None:
            if blank(cells) or (header_line and line < header_line):
                continue
            header, found_line = [cell_text(c) for c in cells], line
            continue
        if blank(cells):
            continue
        sample.append([cell_text(c) for c in cells])
        if len(sample) == PREVIEW_ROWS:
            break
    if header is None:
        raise FileError(_("檔案沒有任何資料（找不到標題列）。"))
    while header and header[-1] == "":
        header.pop()
    if not header:
        raise FileError(_("標題列是空的。"))
    return {
        "kind": kind,
        "delimiter": delimiter,
        "header": header,
        "header_line": found_line,
        "sample": [row[: len(header)] for row in sample],
        "replaced": replaced,
        "columns": guess_columns(header, fields, guesses or {}),
        "chosen": False,
    }


def encoding_previews(data: bytes) -> list[tuple[str, str, str]]:
    """(encoding, label, first lines) of a CSV decoded each way, for the person to compare."""
    head = data[:4000]
    out = []
    for encoding, label in ENCODINGS:
        text = head.decode(codec(encoding), errors="replace")
        out.append((encoding, label, "\n".join(text.splitlines()[:SNIFF_LINES])))
    return out


def csv_template(header) -> bytes:
    """An empty list with only its header row: CSV in UTF-8 with a BOM (Excel opens it)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([str(h) for h in header])
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")
