"""Import of the property list (財產清冊) into the asset register (issue 6 point 5).

1. ``save_upload``: the file is checked and read as every import is (isms/core/tabular.py:
   CSV in UTF-8 or Big5, or XLSX; the encoding asked for when it cannot be told); the
   header row is the first one, or — when it names no property-number column — the first
   of the next lines that does (a title such as 「○○高中財產清冊」 often comes first).
2. ``read_rows``: every row after the header by the columns the officer chose. A row that
   cannot be used is reported with its line number and the reason: no property number or
   name, a property number twice in the file (every line of it), a 類別 word the kind
   dictionary does not know (unless the officer chose a kind for such words), a unit or a
   custodian not found (or a name shared by several people), a state word not known, text
   longer than the register holds, characters that could not be decoded.
3. ``compare``: the rows against the register (by property number), the units and the
   people, in a constant number of queries (bulk reads into dicts) whatever the rows:
   assets to add, assets to update (field by field, old → new), unchanged, new servers
   and official portable devices listed as in use (imported as 待啟用: they need a reviewed
   A-1 commissioning record first, 2.2.3, 4.2), states and kinds that differ (an import
   never changes an existing asset's state or kind), a new use, custodian or unit of
   equipment holding personal data (listed, not applied: that is a 移轉他用, which needs a
   reviewed A-1 record after the wipe, 7.10), and the register's assets the list lacks.
4. ``run``: 2–3 for an import, the result stored on it with a digest.
5. ``apply``: in one transaction, all or nothing, only through ``services.save_asset``
   (so the duplicate-number rule and every other rule hold); the comparison is made
   again first and must be the one the officer saw (its digest); nothing is applied while
   rows are unreadable unless the officer chose to skip them.

Stored results keep codes and values, not sentences, so that the pages show them in the
reader's language. An empty cell never clears what the register holds.
"""

import re
import unicodedata
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.core import importsteps, tabular
from isms.core.models import Person, Unit

from . import services
from .models import Asset, AssetImport

Kind = Asset.Kind
State = Asset.State
FileError = tabular.FileError
ENCODINGS = tabular.ENCODINGS
TYPE_ERROR = gettext_lazy("只接受 CSV 或 XLSX 格式的財產清冊（.%(ext)s）。")

# The columns the officer maps; the property number and the name are required.
FIELDS = (
    "property_number",
    "name",
    "kind",
    "brand",
    "model",
    "serial",
    "location",
    "unit",
    "custodian",
    "purpose",
    "state",
)
REQUIRED = ("property_number", "name")
FIELD_LABELS = {
    "property_number": gettext_lazy("財產編號"),
    "name": gettext_lazy("名稱"),
    "kind": gettext_lazy("類別"),
    "brand": gettext_lazy("廠牌"),
    "model": gettext_lazy("型號"),
    "serial": gettext_lazy("序號"),
    "location": gettext_lazy("放置地點"),
    "unit": gettext_lazy("使用單位"),
    "custodian": gettext_lazy("保管人"),
    "purpose": gettext_lazy("用途"),
    "state": gettext_lazy("狀態"),
}
# Text copied as it is, with the register's limits.
TEXT_FIELDS = ("name", "brand", "model", "serial", "location", "purpose")
LIMITS = {
    name: Asset._meta.get_field(name).max_length for name in ("property_number", *TEXT_FIELDS)
}
# Header names (tabular.compact form) each column is guessed from: the words of the
# property lists of school property systems and of spreadsheets kept by hand.
GUESSES = {
    "property_number": {
        "財產編號",
        "財產編碼",
        "財產號碼",
        "財產代碼",
        "財產標籤",
        "財物編號",
        "物品編號",
        "資產編號",
        "編號",
        "propertynumber",
        "propertyno",
        "assetnumber",
        "assetno",
        "assettag",
        "tag",
    },
    "name": {
        "名稱",
        "財產名稱",
        "財物名稱",
        "物品名稱",
        "設備名稱",
        "資產名稱",
        "品名",
        "name",
        "assetname",
        "description",
    },
    "kind": {
        "類別",
        "種類",
        "類型",
        "分類",
        "設備類別",
        "財產類別",
        "資產類別",
        "設備種類",
        "kind",
        "type",
        "category",
    },
    "brand": {"廠牌", "品牌", "製造商", "廠牌名稱", "brand", "manufacturer", "make", "vendor"},
    "model": {"型號", "型式", "規格", "型式規格", "型號規格", "型式/規格", "model"},
    "serial": {
        "序號",
        "機身序號",
        "產品序號",
        "出廠序號",
        "出廠編號",
        "機器序號",
        "serial",
        "serialnumber",
        "serialno",
        "sn",
        "s/n",
    },
    "location": {
        "放置地點",
        "存置地點",
        "存放地點",
        "放置位置",
        "存放位置",
        "所在位置",
        "地點",
        "位置",
        "location",
        "room",
    },
    "unit": {
        "使用單位",
        "保管單位",
        "單位",
        "處室",
        "使用處室",
        "保管處室",
        "unit",
        "department",
        "dept",
    },
    "custodian": {"保管人", "使用人", "保管者", "使用者", "custodian", "owner", "keeper"},
    "purpose": {"用途", "使用用途", "設備用途", "purpose", "use", "usage"},
    "state": {"狀態", "使用狀態", "財產狀態", "設備狀態", "現況", "state", "status"},
}

# The words of a property list's 類別 column and the kind each means (tabular.compact form).
KIND_WORDS = {
    Kind.SERVER: ("伺服器", "伺服主機", "主機", "server"),
    Kind.PC: ("個人電腦", "桌上型電腦", "桌上型個人電腦", "電腦", "桌機", "pc", "desktop"),
    Kind.NOTEBOOK: ("筆記型電腦", "筆記型個人電腦", "筆電", "notebook", "laptop"),
    Kind.TABLET: ("平板", "平板電腦", "tablet", "ipad"),
    Kind.SMARTPHONE: ("手機", "智慧型手機", "行動電話", "smartphone", "phone", "iphone"),
    Kind.NETWORK: (
        "交換器",
        "網路交換器",
        "路由器",
        "網路設備",
        "集線器",
        "防火牆",
        "無線基地台",
        "switch",
        "router",
        "firewall",
        "network",
    ),
    Kind.USB: ("隨身碟", "usb隨身碟", "usb"),
    Kind.DISK: ("硬碟", "外接硬碟", "外接式硬碟", "行動硬碟", "隨身硬碟", "disk", "hdd", "ssd"),
    Kind.TAPE: ("磁帶", "tape"),
    Kind.OPTICAL: ("光碟", "光碟片", "cd", "dvd", "optical"),
    Kind.PRINTER: ("印表機", "事務機", "多功能事務機", "影印機", "printer"),
    Kind.OTHER: ("其他", "其它", "other"),
}
# A 類別 cell that is none of the words is matched by the longest word of at least this
# many characters it contains (「桌上型電腦（含螢幕）」 → 個人電腦); shorter words (電腦, 主機)
# only as the whole cell, so that 「電腦桌」 is not taken for a computer.
CONTAINED_MIN = 3
STATE_WORDS = {
    State.IN_USE: ("使用中", "使用", "在用", "啟用", "inuse", "active"),
    State.STORAGE: ("庫存", "閒置", "備用", "存放", "storage", "stock", "idle"),
    State.REPAIR: ("維修中", "維修", "送修", "送修中", "repair"),
    State.NEW: ("待啟用", "未啟用", "新購", "new"),
    State.DECOMMISSIONED: ("已報廢", "報廢", "decommissioned", "disposed"),
}


def kind_table() -> dict:
    """word → kind: the dictionary above and the kinds' own names (in the active language)."""
    return importsteps.word_table(KIND_WORDS, Kind.choices)


def state_table() -> dict:
    return importsteps.word_table(STATE_WORDS, State.choices)


def kind_of(word: str, table: dict | None = None) -> str | None:
    """The kind a 類別 word means, or None."""
    table = table if table is not None else kind_table()
    key = tabular.compact(word)
    if not key:
        return None
    if key in table:
        return table[key]
    best = None
    for known, kind in table.items():
        contained = len(known) >= CONTAINED_MIN and not known.isascii() and known in key
        if contained and (best is None or len(known) > len(best[0])):
            best = (known, kind)
    return best[1] if best else None


# Codes of unusable rows; their text is made when shown (error_text).
ROW_ERRORS = {
    "no_number": gettext_lazy("沒有財產編號"),
    "no_name": gettext_lazy("沒有名稱"),
    "duplicate": gettext_lazy("財產編號「%(value)s」在檔案中重複（第 %(lines)s 行）"),
    "kind": gettext_lazy(
        "無法對應類別「%(value)s」（請在欄位對應選擇無法對應時的類別，或修正檔案）"
    ),
    "no_kind": gettext_lazy("新資產沒有類別（請對應類別欄位或選擇預設類別）"),
    "unit": gettext_lazy("找不到使用單位「%(value)s」（請先在單位資料中建立，或修正檔案）"),
    "person": gettext_lazy("找不到保管人「%(value)s」（請先在人員資料中建立，或修正檔案）"),
    "person_ambiguous": gettext_lazy(
        "保管人「%(value)s」有 %(n)s 位同名人員，無法判斷是哪一位（請對應使用單位）"
    ),
    "state": gettext_lazy("無法辨識狀態「%(value)s」（可用 使用中、庫存、維修中、待啟用）"),
    "decommissioned": gettext_lazy("清冊中為已報廢的財產，不能新增到登記簿"),
    "voided": gettext_lazy("財產編號「%(value)s」已登記於已作廢的資產，無法匯入"),
    "too_long": gettext_lazy("%(field)s「%(value)s」超過 %(limit)s 字"),
    "undecodable": gettext_lazy("含有無法解碼的字元（請確認檔案編碼）"),
}

# The groups of the preview, in the order the page shows them.
GROUPS = ("new", "update", "unchanged", "needs_a1", "state", "kind", "transfer", "missing")
# 移轉他用 (7.10): what an import does not change on equipment holding personal data.
TRANSFER = ("purpose", "unit", "custodian")


class Stale(Exception):
    """The register (or the file's reading) changed since the preview the officer saw."""


# Reading --------------------------------------------------------------------------------------
def _text(value) -> str:
    return tabular.cell_text(value)


# Property numbers are codes: read half-width, compared without case and spaces.
_key = importsteps.code_key
_error = importsteps.row_error


def _name_key(name: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or "")).lower()


class Directory:
    """Units and people in dicts: a unit by name or code, a person by name (two queries)."""

    def __init__(self):
        units = list(Unit.objects.values("id", "name", "code"))
        self.units: dict[str, tuple[int, str]] = {}
        for u in units:
            self.units.setdefault(_name_key(u["code"]), (u["id"], u["name"]))
        for u in units:  # a name wins over a code that reads the same
            self.units[_name_key(u["name"])] = (u["id"], u["name"])
        self.people: dict[str, list[dict]] = {}
        for p in Person.objects.active().values("id", "name", "english_name", "unit_id", "status"):
            for name in {_name_key(p["name"]), _name_key(p["english_name"])}:
                if name:
                    self.people.setdefault(name, []).append(p)

    def unit(self, text: str) -> tuple[int, str] | None:
        return self.units.get(_name_key(text))

    def person(self, text: str, unit_id: int | None) -> tuple[dict | None, int]:
        """(the one person of this name, how many there are): narrowed by the row's unit,
        then to those still in service, when the name alone is not enough."""
        found = self.people.get(_name_key(text), [])
        if len(found) > 1 and unit_id is not None:
            found = [p for p in found if p["unit_id"] == unit_id] or found
        if len(found) > 1:
            found = [p for p in found if p["status"] != Person.Status.LEFT] or found
        if len(found) == 1:
            return found[0], 1
        return None, len(found)


@dataclass(slots=True)
class Row:
    line: int
    number: str
    key: str
    values: dict = field(default_factory=dict)  # text fields with a value
    kind: str | None = None  # the kind the 類別 word means (None: no word)
    kind_word: str = ""
    kind_default: bool = False  # the word is unknown: the officer's kind is used
    unit: tuple | None = None  # (id, name)
    custodian: tuple | None = None
    state: str | None = None  # the state the file says (None: no word)


def error_text(error: dict) -> str:
    return importsteps.error_text(error, ROW_ERRORS, default="no_number", labels=FIELD_LABELS)


def read_rows(data: bytes, mapping: dict, encoding: str, directory: Directory):
    """(usable rows by property-number key, errors, number of data rows, every key read)."""
    columns = importsteps.chosen_columns(mapping, FIELDS, REQUIRED, FIELD_LABELS)
    default_kind = mapping.get("default_kind") or ""
    kinds, states = kind_table(), state_table()

    def value(cells, name):
        return _text(tabular.cell(cells, columns[name]))

    parsed: list[Row] = []
    numbered = importsteps.NumberedRows()
    errors = numbered.errors
    for line, cells, number, key in numbered.rows(
        data, mapping, encoding, columns["property_number"]
    ):
        row = Row(line=line, number=number, key=key)
        problems = []
        if len(number) > LIMITS["property_number"]:
            problems.append(
                _error(
                    line,
                    number[:40],
                    "too_long",
                    field="property_number",
                    value=number[:40],
                    limit=LIMITS["property_number"],
                )
            )
        for name in TEXT_FIELDS:
            if columns[name] is None:
                continue
            text = value(cells, name)
            if len(text) > LIMITS[name]:
                problems.append(
                    _error(
                        line, number, "too_long", field=name, value=text[:40], limit=LIMITS[name]
                    )
                )
            if text:
                row.values[name] = text
        if not row.values.get("name"):
            problems.append(_error(line, number, "no_name"))
        if "\ufffd" in number or any("\ufffd" in v for v in row.values.values()):
            problems.append(_error(line, number, "undecodable"))
        if columns["kind"] is not None:
            row.kind_word = value(cells, "kind")
            if row.kind_word:
                row.kind = kind_of(row.kind_word, kinds)
                if row.kind is None:
                    if default_kind:
                        row.kind, row.kind_default = default_kind, True
                    else:
                        problems.append(_error(line, number, "kind", value=row.kind_word[:40]))
        if columns["unit"] is not None and (text := value(cells, "unit")):
            row.unit = directory.unit(text)
            if row.unit is None:
                problems.append(_error(line, number, "unit", value=text[:40]))
        if columns["custodian"] is not None and (text := value(cells, "custodian")):
            person, count = directory.person(text, row.unit[0] if row.unit else None)
            if person is not None:
                row.custodian = (person["id"], person["name"])
            elif count:
                problems.append(_error(line, number, "person_ambiguous", value=text[:40], n=count))
            else:
                problems.append(_error(line, number, "person", value=text[:40]))
        if columns["state"] is not None and (text := value(cells, "state")):
            row.state = states.get(tabular.compact(text))
            if row.state is None:
                problems.append(_error(line, number, "state", value=text[:40]))
        if problems:
            errors.extend(problems)
            continue
        parsed.append(row)
    rows = numbered.unique(parsed)  # a number twice: every line of it is unusable
    return rows, errors, numbered.total, set(numbered.lines_of)


# Comparing ------------------------------------------------------------------------------------
REGISTER_FIELDS = (
    "id",
    "property_number",
    *TEXT_FIELDS,
    "kind",
    "unit_id",
    "unit__name",
    "custodian_id",
    "custodian__name",
    "state",
    "stores_personal_data",
    "voided_at",
)


def _pair(pk, name) -> list | None:
    return [pk, name] if pk is not None else None


def compare(rows: dict, seen: set, mapping: dict) -> tuple[dict, list]:
    """(the preview: groups of GROUPS, counts, the kind words used; errors of rows that the
    register refuses) of the usable rows against the register, in one query."""
    register, by_key = {}, {}
    for a in Asset.objects.exclude(property_number="").values(*REGISTER_FIELDS):
        register[a["property_number"]] = a
        by_key.setdefault(_key(a["property_number"]), a)
    default_kind = mapping.get("default_kind") or ""
    groups: dict[str, list] = {g: [] for g in GROUPS}
    errors: list[dict] = []
    words: dict[str, dict] = {}
    for row in sorted(rows.values(), key=lambda r: r.line):  # in the file's order
        if row.kind_word:
            used = words.setdefault(
                row.kind_word,
                {"word": row.kind_word, "kind": row.kind, "default": row.kind_default, "rows": 0},
            )
            used["rows"] += 1
        asset = register.get(row.number) or by_key.get(row.key)
        if asset is None:
            kind = row.kind or default_kind
            if not kind:
                errors.append(_error(row.line, row.number, "no_kind"))
                continue
            if row.state == State.DECOMMISSIONED:
                errors.append(_error(row.line, row.number, "decommissioned"))
                continue
            state = row.state or State.NEW
            needs_a1 = state == State.IN_USE and services.needs_commissioning(Asset(kind=kind))
            if needs_a1:
                state = State.NEW  # put in use only after a reviewed A-1 (2.2.3, 4.2)
            entry = {
                "line": row.line,
                "number": row.number,
                "name": row.values["name"],
                "kind": kind,
                "kind_default": row.kind_default or not row.kind,
                "state": state,
                "needs_a1": needs_a1,
                "values": row.values,
                "unit": list(row.unit) if row.unit else None,
                "custodian": list(row.custodian) if row.custodian else None,
            }
            groups["new"].append(entry)
            if needs_a1:
                groups["needs_a1"].append(
                    {"line": row.line, "number": row.number, "name": entry["name"], "kind": kind}
                )
            continue
        if asset["voided_at"] is not None:
            errors.append(_error(row.line, row.number, "voided", value=asset["property_number"]))
            continue
        changes = {}
        for name in TEXT_FIELDS:
            new = row.values.get(name)
            if new and new != asset[name]:
                changes[name] = [asset[name], new]
        # An import never changes a registered asset's kind: the kind decides which A-1
        # checks and findings apply (2.2.3, 3.5, 4). A difference is only listed.
        kind_differs = row.kind and not row.kind_default and row.kind != asset["kind"]
        for name in ("unit", "custodian"):
            new = getattr(row, name)
            if new and new[0] != asset[f"{name}_id"]:
                changes[name] = [_pair(asset[f"{name}_id"], asset[f"{name}__name"]), list(new)]
        base = {
            "line": row.line,
            "id": asset["id"],
            "number": asset["property_number"],
            "name": asset["name"],
        }
        # Equipment holding personal data changes use, custodian or unit only through a
        # reviewed 移轉他用 record after its wipe (7.10): such differences are only listed.
        if services.in_transfer_scope(asset["state"], asset["stores_personal_data"]):
            transfer = {f: changes.pop(f) for f in TRANSFER if f in changes}
            if transfer:
                groups["transfer"].append({**base, "changes": transfer})
        groups["update" if changes else "unchanged"].append(
            {**base, "changes": changes} if changes else base
        )
        if row.state and row.state != asset["state"]:
            groups["state"].append({**base, "from": asset["state"], "to": row.state})
        if kind_differs:
            groups["kind"].append({**base, "kind_from": asset["kind"], "kind_to": row.kind})
    for number in sorted(register):
        a = register[number]
        if (
            a["voided_at"] is None
            and a["state"] != State.DECOMMISSIONED
            and _key(number) not in seen
        ):
            groups["missing"].append(
                {"id": a["id"], "number": number, "name": a["name"], "state": a["state"]}
            )
    preview = {
        "groups": groups,
        "counts": {g: len(v) for g, v in groups.items()},
        "kinds": sorted(words.values(), key=lambda w: (-w["rows"], w["word"])),
        "mapped": {f: (mapping.get("columns") or {}).get(f) is not None for f in FIELDS},
        "default_kind": default_kind,
        "register": len(register),
    }
    return preview, errors


def digest(errors: list, preview: dict, rows: int, mapping: dict) -> str:
    chosen = {"columns": mapping.get("columns"), "default_kind": mapping.get("default_kind", "")}
    return importsteps.digest(errors, preview, rows, chosen)


file_data = importsteps.file_data


def read_and_compare(imp: AssetImport) -> tuple[list, dict, int]:
    """(errors, preview, rows) of an import as its file and the register stand now."""
    rows, errors, total, seen = read_rows(file_data(imp), imp.mapping, imp.encoding, Directory())
    importsteps.require_rows(total)
    preview, refused = compare(rows, seen, imp.mapping)
    errors = sorted(errors + refused, key=lambda e: e["line"])
    preview["digest"] = digest(errors, preview, total, imp.mapping)
    return errors, preview, total


# The import's steps (isms/core/importsteps.py) -----------------------------------------------
def check_file(upload) -> str:
    """The file kind (csv or xlsx) of an upload after the size and content checks."""
    return tabular.check_file(upload, TYPE_ERROR)


def _guess(header: list[str]) -> dict:
    return tabular.guess_columns(header, FIELDS, GUESSES)


def inspect(data: bytes, kind: str, encoding: str = "", header_line: int | None = None) -> dict:
    """The header row (found, or on the line chosen), a few rows and the guessed columns."""
    mapping = importsteps.find_header(
        data, kind, encoding, header_line, guess=_guess, key="property_number"
    )
    mapping["default_kind"] = ""
    return mapping


STEPS = importsteps.ImportSteps(
    AssetImport,
    fields=FIELDS,
    stale=Stale,
    inspect=inspect,
    read_and_compare=lambda imp, now: read_and_compare(imp),
    not_now=gettext_lazy("此清冊目前無法匯入（狀態：%(status)s）。"),
    bad_rows=gettext_lazy("檔案有 %(n)d 筆無法匯入的資料；請修正後重新上傳，或勾選略過這些資料。"),
    # The new assets awaiting an A-1 record are for the result page, not the audit trail.
    audit=lambda counts, skip_bad: {
        "applied": {k: v for k, v in counts.items() if k != "a1"},
        "skip_bad": skip_bad,
    },
)


def save_upload(*, upload, data: bytes, kind: str, actor) -> AssetImport:
    """Store an uploaded list (already checked) with its encoding and header (FileError)."""
    return STEPS.save_upload(upload=upload, data=data, kind=kind, actor=actor)


def reinspect(imp: AssetImport, *, encoding: str, header_line: int | None, actor) -> None:
    """Read the header again in another encoding or from another line (FileError)."""
    STEPS.reinspect(imp, encoding=encoding, header_line=header_line, actor=actor)


def run(imp: AssetImport, *, columns: dict, default_kind: str = "", actor) -> None:
    """Read every row by the chosen columns, compare, and store the preview (FileError)."""
    if default_kind not in ("", *Kind.values):
        raise ValidationError({"default_kind": _("類別不正確。")})
    STEPS.run(imp, columns=columns, actor=actor, chosen={"default_kind": default_kind})


def reopen(imp: AssetImport, *, actor) -> None:
    """Back to the choice of columns (the ones chosen are kept); the preview is dropped."""
    STEPS.reopen(imp, actor=actor)


def discard(imp: AssetImport, *, actor) -> bool:
    return STEPS.discard(imp, actor=actor)


# Applying -------------------------------------------------------------------------------------
# A refusal of the register names the row it is about.
LINE = gettext_lazy("第 %(line)d 行（財產編號 %(number)s）：%(error)s")


def _label(entry: dict, error: ValidationError) -> ValidationError:
    return importsteps.label(error, LINE, line=entry["line"], number=entry["number"])


def apply(imp: AssetImport, *, actor, digest_seen: str, skip_bad: bool = False, now=None) -> dict:
    """Apply the preview in one transaction: all or nothing.

    Raises ValidationError (nothing changed) or Stale (the preview was made again and
    stored; the officer must look at it again). Returns the counts of what was done.
    """
    return STEPS.apply(
        imp,
        actor=actor,
        digest_seen=digest_seen,
        skip_bad=skip_bad,
        now=now,
        body=lambda locked, preview: _apply(locked, preview["groups"], actor),
    )


def _apply(imp: AssetImport, groups: dict, actor) -> dict:
    note = _("由財產清冊匯入（%(file)s，匯入 #%(pk)d）") % {
        "file": imp.original_name,
        "pk": imp.pk,
    }
    counts = {"added": 0, "updated": 0, "unchanged": len(groups["unchanged"]), "a1": []}
    assets = Asset.objects.in_bulk([e["id"] for e in groups["update"]])
    entries, updates = {}, []
    for entry in groups["update"]:
        asset = assets[entry["id"]]
        values = {}
        for name, (_old, new) in entry["changes"].items():
            if name in ("unit", "custodian"):
                values[f"{name}_id"] = new[0] if new else None
            else:
                values[name] = new
        updates.append((asset, values))
        entries[asset.property_number] = entry
    new_assets = []
    for entry in groups["new"]:
        asset = Asset(
            property_number=entry["number"],
            kind=entry["kind"],
            state=entry["state"],
            unit_id=entry["unit"][0] if entry["unit"] else None,
            custodian_id=entry["custodian"][0] if entry["custodian"] else None,
            notes=note,
            **entry["values"],
        )
        new_assets.append(asset)
        entries[asset.property_number] = entry
    # One bulk write each for the added and the updated assets, one audit entry per asset
    # (5,000 rows: seconds, not a minute holding the database).
    with importsteps.refusals_by_line(entries, LINE, record="asset", number="property_number"):
        services.import_assets(new_assets, updates, actor=actor)
    counts["updated"] = sum(1 for _asset, values in updates if values)
    counts["added"] = len(new_assets)
    counts["a1"] = [
        [asset.pk, asset.property_number, asset.name]
        for asset, entry in zip(new_assets, groups["new"], strict=True)
        if entry["needs_a1"]
    ]
    counts["needs_a1"] = len(counts["a1"])
    services.refresh_duties()
    return counts


def template_csv() -> bytes:
    """An empty property list with the expected headers (UTF-8 with BOM, for Excel)."""
    return tabular.csv_template([FIELD_LABELS[f] for f in FIELDS])


def kind_words() -> list[tuple[str, list[str]]]:
    """(kind label, the words that mean it) for the page that explains the mapping."""
    return [(str(label), list(KIND_WORDS[value])) for value, label in Kind.choices]
