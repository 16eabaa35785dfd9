"""The official code lists of the Personal Data Protection Act (法務部「個人資料保護法之
特定目的及個人資料之類別」, as amended 2012-10-01; PDPA art. 53): the specific purposes
(特定目的, 001–182) and the data categories (個人資料之類別, C001–C132), shipped as data in
``isms/privacy/data/*.csv`` (loaded by migration 0002) and editable by the security officer.
The inventory (7.1, PDPA art. 17) and the activity notices (7.3) choose from them.

Rules:

- A code is kept, never deleted nor voided: one no longer wanted is marked not in use
  (``is_active``). A file or notice that chose it keeps it; the pickers offer only codes in
  use (``active_purposes``, ``active_categories``).
- Formats: a specific purpose is 3 digits (``109``), a data category C and 3 digits
  (``C001``). Full-width forms and Chinese numerals (``一○九``, ``Ｃ○○一``) read as digits.
- A code's name is required; a code is unique within its list; once saved it is not
  changed (mark it not in use and add the right one).
- Importing a list (CSV in UTF-8 or Big5, or XLSX; header ``code,name`` for purposes,
  ``code,group,name,description`` for categories; the Chinese headers 代號, 名稱 … too):

  1. every row is checked (code present, code format, code not repeated, name present,
     lengths); a file with any bad row applies nothing and each bad row is reported with
     its line number;
  2. a code already kept takes the file's name (and group and description);
  3. a code not yet kept is added;
  4. nothing is deleted; with ``deactivate_missing`` the file is the list in force: the
     codes not in it are marked not in use and those in it are in use again.

Only the security officer writes (``PermissionDenied`` otherwise); every write is audited
with the acting person, also from the command line.
"""

import csv
import hashlib
import io
import json
import re
import unicodedata
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Min
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail
from isms.core import tabular
from isms.core.access import has_role
from isms.core.roles import SECURITY_OFFICER

from .models import CategoryCode, PurposeCode

CLAUSE = "7.1"
WRITERS = frozenset({SECURITY_OFFICER})
PURPOSES, CATEGORIES = "purposes", "categories"
KINDS = (PURPOSES, CATEGORIES)
MODELS = {PURPOSES: PurposeCode, CATEGORIES: CategoryCode}
KIND_LABELS = {
    PURPOSES: gettext_lazy("特定目的"),
    CATEGORIES: gettext_lazy("個人資料類別"),
}
# The columns of a list file, in order (also the export's header).
COLUMNS = {
    PURPOSES: ("code", "name"),
    CATEGORIES: ("code", "group", "name", "description"),
}
# The fields an import writes besides the code.
FIELDS = {PURPOSES: ("name",), CATEGORIES: ("group", "name", "description")}
# Header names a column is taken from (``tabular.compact`` form).
GUESSES = {
    "code": ("code", "代號", "代碼", "編號"),
    "group": ("group", "分類", "類別分類", "群組"),
    "name": ("name", "名稱", "特定目的", "類別", "項目", "個人資料類別", "特定目的項目"),
    "description": ("description", "說明", "描述", "例示", "例如"),
}
PATTERNS = {PURPOSES: re.compile(r"\d{3}"), CATEGORIES: re.compile(r"C\d{3}")}
FORMAT_RULES = {
    PURPOSES: gettext_lazy("特定目的代號須為 3 位數字，例如 109"),
    CATEGORIES: gettext_lazy("個人資料類別代號須為 C 加 3 位數字，例如 C001"),
}
DATA_DIR = Path(__file__).resolve().parent / "data"
DATA_FILES = {PURPOSES: DATA_DIR / "purposes.csv", CATEGORIES: DATA_DIR / "categories.csv"}
# The largest list file carried from the preview to the apply.
MAX_FILE_BYTES = 2 * 1024 * 1024
FILE_TYPE_ERROR = gettext_lazy("只接受 CSV 或 XLSX 格式的代號清單（.%(ext)s）。")
# Chinese numerals as the official list writes its codes (〇〇一, 一〇九).
NUMERALS = str.maketrans("〇○零一二三四五六七八九", "000123456789")
# A cell an export kept as text (CSV injection): the leading ' goes when read back.
ESCAPED = re.compile(r"^'(?=[=+\-@\t\r])")


class Stale(ValidationError):
    """The list compared again differs from the preview seen; look at it again."""


def may_write(user) -> bool:
    """The security officer keeps the code lists (7.1)."""
    return bool(user is not None and getattr(user, "is_active", False)) and has_role(user, *WRITERS)


def _require_writer(actor) -> None:
    if not may_write(actor):
        raise PermissionDenied


def model_for(kind: str):
    if kind not in MODELS:
        raise ValueError(f"unknown code list: {kind}")
    return MODELS[kind]


def kind_of(obj) -> str:
    return CATEGORIES if isinstance(obj, CategoryCode) else PURPOSES


# Reading the lists ------------------------------------------------------------------------------
def active_purposes():
    """The specific purposes a picker offers (in use), in code order."""
    return PurposeCode.objects.filter(is_active=True).order_by("code")


def active_categories():
    """The data categories a picker offers (in use), in code order."""
    return CategoryCode.objects.filter(is_active=True).order_by("code")


def purpose(code: str) -> PurposeCode:
    """A specific purpose by its code (``purpose("109")``); DoesNotExist when not kept."""
    return PurposeCode.objects.get(code=normalize_code(PURPOSES, code))


def category(code: str) -> CategoryCode:
    """A data category by its code (``category("C001")``); DoesNotExist when not kept."""
    return CategoryCode.objects.get(code=normalize_code(CATEGORIES, code))


def category_groups() -> list[str]:
    """The groups of the data categories in the official order (by their first code)."""
    return list(
        CategoryCode.objects.exclude(group="")
        .values("group")
        .annotate(first=Min("code"))
        .order_by("first")
        .values_list("group", flat=True)
    )


# Codes ------------------------------------------------------------------------------------------
def normalize_code(kind: str, value) -> str:
    """A code as kept: no spaces, half-width, upper case, Chinese numerals as digits; a
    purpose given as 1 or 2 digits gets its leading zeros (9 → 009)."""
    text = unicodedata.normalize("NFKC", str(value or "")).strip().upper()
    text = "".join(text.split()).translate(NUMERALS)
    if kind == PURPOSES and text.isdigit() and len(text) < 3:
        text = text.zfill(3)
    return text


def code_error(kind: str, code: str) -> str | None:
    """Why ``code`` (normalized) is not a code of the list, or None."""
    if not code:
        return _("請填寫代號。")
    if not PATTERNS[kind].fullmatch(code):
        if kind == PURPOSES:
            return _("特定目的代號為 3 位數字，例如 109（個人資料保護法第 53 條）。")
        return _("個人資料類別代號為 C 加 3 位數字，例如 C001（個人資料保護法第 53 條）。")
    return None


def _limit(model, name: str) -> int | None:
    return model._meta.get_field(name).max_length


def code_errors(obj) -> dict:
    """Field → zh-TW message for one code as it would be saved (nothing saved)."""
    kind = kind_of(obj)
    model = type(obj)
    errors = {}
    obj.code = normalize_code(kind, obj.code)
    for name in FIELDS[kind]:
        value = getattr(obj, name)
        setattr(obj, name, value.strip() if isinstance(value, str) else "")
    if error := code_error(kind, obj.code):
        errors["code"] = error
    elif model.objects.filter(code=obj.code).exclude(pk=obj.pk or 0).exists():
        errors["code"] = _("代號 %(code)s 已經存在；請修改原有的代號。") % {"code": obj.code}
    if not obj.name:
        errors["name"] = _("請填寫名稱。")
    for name in FIELDS[kind]:
        limit = _limit(model, name)
        if limit and len(getattr(obj, name)) > limit and name not in errors:
            errors[name] = _("最多 %(limit)d 個字。") % {"limit": limit}
    if obj.pk is not None and "code" not in errors:
        stored = model.objects.filter(pk=obj.pk).values_list("code", flat=True).first()
        if stored is not None and stored != obj.code:
            errors["code"] = _("代號不能修改；請將此代號改為不使用，另新增正確的代號（條文 7.1）。")
    return errors


@transaction.atomic
def save_code(obj, *, actor):
    """Add or change one code (its name, group, description, in use or not)."""
    _require_writer(actor)
    if errors := code_errors(obj):
        raise ValidationError(errors)
    with trail.as_actor(actor):
        obj.save()
    return obj


# Importing a list -------------------------------------------------------------------------------
def check_upload(upload) -> str:
    """The file kind (csv or xlsx) of an uploaded list after the size and content checks."""
    return tabular.check_file(upload, FILE_TYPE_ERROR)


def _text(value) -> str:
    return ESCAPED.sub("", tabular.cell_text(value))


def read_list(data: bytes, kind: str, *, file_kind: str = "csv", encoding: str = ""):
    """(rows as {line, code, name, …}, the encoding used) of a list file; FileError when
    the file cannot be read or has no code or name column."""
    model_for(kind)
    if file_kind == "csv" and not encoding:
        encoding = tabular.detect_encoding(data) or "cp950"
    fields = COLUMNS[kind]
    mapping = tabular.inspect(data, file_kind, encoding, fields=fields, guesses=GUESSES)
    columns = mapping["columns"]
    missing = [name for name in ("code", "name") if columns.get(name) is None]
    if missing:
        raise tabular.FileError(
            _("代號清單第 %(line)d 行須為標題列，含「code」（代號）與「name」（名稱）欄。")
            % {"line": mapping["header_line"]}
        )
    rows = []
    for line, cells in tabular.data_rows(data, mapping, encoding):
        row = {"line": line}
        for name in fields:
            row[name] = _text(tabular.cell(cells, columns.get(name)))
        rows.append(row)
    if not rows:
        # An empty list with 清單外的代號改為不使用 would retire every code.
        raise tabular.FileError(_("代號清單沒有任何代號。"))
    return rows, encoding


def read_official(kind: str) -> list[dict]:
    """The rows of the list shipped with the product (isms/privacy/data)."""
    rows, _encoding = read_list(DATA_FILES[kind].read_bytes(), kind)
    return rows


def row_errors(kind: str, rows: list[dict]) -> list[dict]:
    """Each bad row of a list as {line, message} (zh-TW, with its line number)."""
    model = model_for(kind)
    errors = []
    first_line = {}
    for row in rows:
        line = row["line"]
        given = (row.get("code") or "").strip()
        code = row["code"] = normalize_code(kind, given)
        for name in FIELDS[kind]:
            row[name] = (row.get(name) or "").strip()
        problems = []
        if not code:
            problems.append(_("沒有代號"))
        elif code_error(kind, code):
            rule = FORMAT_RULES[kind]
            problems.append(_("代號「%(code)s」格式不符，%(rule)s") % {"code": given, "rule": rule})
        elif code in first_line:
            problems.append(
                _("代號 %(code)s 與第 %(first)d 行重複") % {"code": code, "first": first_line[code]}
            )
        else:
            first_line[code] = line
        if not row["name"]:
            problems.append(_("沒有名稱"))
        for name in FIELDS[kind]:
            limit = _limit(model, name)
            if limit and len(row[name]) > limit:
                problems.append(
                    _("%(field)s超過 %(limit)d 個字")
                    % {"field": model._meta.get_field(name).verbose_name, "limit": limit}
                )
        if problems:
            errors.append(
                {
                    "line": line,
                    "message": _("第 %(line)d 行：%(problems)s。")
                    % {"line": line, "problems": "；".join(problems)},
                }
            )
    return errors


def compare(kind: str, rows: list[dict], *, deactivate_missing: bool = False) -> dict:
    """The preview of importing ``rows``: the bad rows, and the codes to add, change,
    mark not in use or in use again, in two queries; ``digest`` identifies it."""
    model = model_for(kind)
    errors = row_errors(kind, rows)
    fields = FIELDS[kind]
    kept = {obj.code: obj for obj in model.objects.order_by("code")}
    added, changed, reactivated, unchanged = [], [], [], 0
    seen = set()
    for row in rows:
        code = row["code"]
        if not code or code in seen or code_error(kind, code):
            continue
        seen.add(code)
        obj = kept.get(code)
        values = {name: row[name] for name in fields}
        if obj is None:
            added.append({"code": code, **values})
            continue
        diffs = {
            name: [getattr(obj, name), values[name]]
            for name in fields
            if getattr(obj, name) != values[name]
        }
        if diffs:
            changed.append({"code": code, "name": obj.name, "changes": diffs})
        if deactivate_missing and not obj.is_active:
            reactivated.append({"code": code, "name": values["name"]})
        if not diffs and not (deactivate_missing and not obj.is_active):
            unchanged += 1
    deactivated = []
    if deactivate_missing:
        deactivated = [
            {"code": code, "name": obj.name}
            for code, obj in kept.items()
            if obj.is_active and code not in seen
        ]
    preview = {
        "kind": kind,
        "rows": len(rows),
        "errors": errors,
        "added": added,
        "changed": changed,
        "deactivated": deactivated,
        "reactivated": reactivated,
        "unchanged": unchanged,
        "deactivate_missing": bool(deactivate_missing),
    }
    preview["digest"] = hashlib.sha256(
        json.dumps(preview, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    preview["has_changes"] = bool(added or changed or deactivated or reactivated)
    return preview


def refusal(preview: dict) -> ValidationError:
    """The refusal of a list with bad rows: one message per row (nothing applied)."""
    return ValidationError(
        {
            "file": [
                _(
                    "代號清單有 %(n)d 行錯誤，未匯入任何一筆；請修正後重新匯入"
                    "（個人資料保護法第 53 條）。"
                )
                % {"n": len(preview["errors"])},
                *[error["message"] for error in preview["errors"]],
            ]
        }
    )


@transaction.atomic
def import_rows(
    kind: str,
    rows: list[dict],
    *,
    actor,
    deactivate_missing: bool = False,
    digest_seen: str | None = None,
) -> dict:
    """Apply a list: all or nothing (see the module's rules). Returns the preview applied.

    Refused with a ``ValidationError`` (field ``file``: the count, then each bad row with
    its line number) while any row is bad, and as ``Stale`` when ``digest_seen`` is given
    and the preview made again differs.
    """
    _require_writer(actor)
    model = model_for(kind)
    # Rows are compared under the lock of the list, so two imports do not interleave.
    list(model.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
    preview = compare(kind, rows, deactivate_missing=deactivate_missing)
    if preview["errors"]:
        raise refusal(preview)
    if digest_seen is not None and digest_seen != preview["digest"]:
        raise Stale(_("代號清單在預覽後有變動，已重新比對；請再檢視預覽後匯入。"))
    fields = FIELDS[kind]
    entries = []
    new = [model(code=item["code"], **{n: item[n] for n in fields}) for item in preview["added"]]
    if new:
        model.objects.bulk_create(new)
        for obj in new:
            created = {"code": [None, obj.code]} | {n: [None, getattr(obj, n)] for n in fields}
            entries.append(("create", obj, created))
    touched = {}
    kept = {obj.code: obj for obj in model.objects.filter(code__in=_codes_touched(preview))}
    for item in preview["changed"]:
        obj = kept[item["code"]]
        for name, (_old, value) in item["changes"].items():
            setattr(obj, name, value)
        touched.setdefault(obj.code, {}).update(item["changes"])
    for item in preview["reactivated"]:
        obj = kept[item["code"]]
        obj.is_active = True
        touched.setdefault(obj.code, {})["is_active"] = [False, True]
    for item in preview["deactivated"]:
        obj = kept[item["code"]]
        obj.is_active = False
        touched.setdefault(obj.code, {})["is_active"] = [True, False]
    if touched:
        model.objects.bulk_update(
            [kept[code] for code in touched], [*fields, "is_active"], batch_size=500
        )
        entries += [("update", kept[code], changes) for code, changes in touched.items()]
    trail.record_many(entries, actor=actor)
    return preview


def _codes_touched(preview: dict) -> list[str]:
    return [
        item["code"] for part in ("changed", "reactivated", "deactivated") for item in preview[part]
    ]


def import_file(
    kind: str,
    data: bytes,
    *,
    actor,
    file_kind: str = "csv",
    encoding: str = "",
    deactivate_missing: bool = False,
    digest_seen: str | None = None,
) -> dict:
    """Read a list file and apply it (``import_rows``); FileError when unreadable."""
    _require_writer(actor)
    rows, _used = read_list(data, kind, file_kind=file_kind, encoding=encoding)
    return import_rows(
        kind, rows, actor=actor, deactivate_missing=deactivate_missing, digest_seen=digest_seen
    )


def summary(preview: dict) -> str:
    """What an import did, in one zh-TW sentence."""
    return _(
        "%(list)s：新增 %(added)d 筆、更新 %(changed)d 筆、停用 %(deactivated)d 筆、"
        "重新啟用 %(reactivated)d 筆、未變動 %(unchanged)d 筆。"
    ) % {
        "list": KIND_LABELS[preview["kind"]],
        "added": len(preview["added"]),
        "changed": len(preview["changed"]),
        "deactivated": len(preview["deactivated"]),
        "reactivated": len(preview["reactivated"]),
        "unchanged": preview["unchanged"],
    }


# Exporting a list -------------------------------------------------------------------------------
def export_rows(kind: str):
    """(header, rows) of a list as kept, in the import's format (every code, in use or not)."""
    model = model_for(kind)
    header = list(COLUMNS[kind])
    rows = model.objects.order_by("code").values_list(*header)
    return header, [list(row) for row in rows]


def export_csv(kind: str) -> str:
    """A list as CSV text (the shipped files' format); formula-like cells kept as text."""
    from isms.core.generic import csv_safe

    header, rows = export_rows(kind)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(csv_safe(row))
    return buffer.getvalue()
