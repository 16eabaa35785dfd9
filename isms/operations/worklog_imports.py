"""Import of the repair-request system's tickets (報修系統) into the work log (2.5.1).

The policy lets the school's repair-request system stand in for the daily log; importing
its export keeps the log complete in one place. The steps, as every import's
(isms/core/importflow.py, isms/core/tabular.py):

1. ``save_upload``: the file is checked and read (CSV in UTF-8 or Big5, or XLSX; the
   encoding asked for when it cannot be told); the header row is the first one, or — when
   it names no ticket-number column — the first of the next lines that does.
2. ``read_rows``: every row after the header by the columns the administrator chose. A row
   that cannot be used is reported with its line number and the reason: no ticket number,
   a ticket number twice in the file (every line of it), no date and time or one that
   cannot be read or lies in the future, no device or system, no description, no handler,
   text longer than the log holds, characters that could not be decoded.
3. ``compare``: the rows against the log by ticket number (the unique key: a ticket is
   imported once, a re-import updates it or leaves it unchanged), the registered systems
   and the logins, in a constant number of queries: entries to add, entries to update
   (field by field, old → new), unchanged, and tickets whose entry is reviewed or voided
   (listed, never changed: a reviewed entry is read-only).
   - 設備或系統名稱 links a registered system of that name (ignoring spaces, case and
     full/half width), else it is kept as the entry's system name.
   - 處理人員 is matched to a login by its person's name, its name or its user name
     (several alike: those still active; still several: none), else kept as a name.
   - 類別 goes through ``KIND_WORDS``; a word not there (nor containing one of them) makes
     the entry 其它 with the word as what it was; no 類別 at all makes a new entry 其它：報修.
4. ``run``: 2–3 for an import, the result stored on it with a digest.
5. ``apply``: in one transaction, all or nothing, through ``worklog.import_entries`` (the
   same rules as an entry by hand; one audit entry per entry, written in bulk); the
   comparison is made again first and must be the one the administrator saw (its digest);
   nothing is applied while rows are unusable unless the administrator chose to skip them.

Stored results keep codes and values, not sentences, so that the pages show them in the
reader's language. An empty cell never clears what an entry holds.
"""

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy

from isms.core import importsteps, roc, tabular

from . import worklog
from .models import WorkLogEntry, WorkLogImport

Kind = WorkLogEntry.Kind
FileError = tabular.FileError
ENCODINGS = tabular.ENCODINGS
TYPE_ERROR = gettext_lazy("只接受 CSV 或 XLSX 格式的報修紀錄（.%(ext)s）。")

FIELDS = (
    "ticket_number",
    "operated_at",
    "system",
    "kind",
    "description",
    "correction",
    "administrator",
)
REQUIRED = ("ticket_number", "operated_at", "system", "description", "administrator")
FIELD_LABELS = {
    "ticket_number": gettext_lazy("報修單號"),
    "operated_at": gettext_lazy("報修/處理日期時間"),
    "system": gettext_lazy("設備或系統名稱"),
    "kind": gettext_lazy("類別"),
    "description": gettext_lazy("故障描述/處理內容"),
    "correction": gettext_lazy("處理措施"),
    "administrator": gettext_lazy("處理人員"),
}
# Header names each column is guessed from (tabular.compact form), the most telling first:
# a ticket has both 報修時間 and 處理時間, and the log records when the work was done.
GUESSES = {
    "ticket_number": (
        "報修單號",
        "報修編號",
        "報修單編號",
        "維修單號",
        "工單編號",
        "工單號碼",
        "案件編號",
        "案號",
        "單號",
        "編號",
        "ticketnumber",
        "ticketno",
        "ticket",
        "ticketid",
        "caseno",
        "no",
        "id",
    ),
    "operated_at": (
        "報修/處理日期時間",
        "處理日期時間",
        "處理時間",
        "處理日期",
        "完修日期時間",
        "完修時間",
        "完修日期",
        "完成時間",
        "完成日期",
        "維修日期時間",
        "維修時間",
        "維修日期",
        "報修日期時間",
        "報修時間",
        "報修日期",
        "日期時間",
        "日期",
        "時間",
        "handledat",
        "closedat",
        "resolvedat",
        "datetime",
        "date",
        "time",
    ),
    "system": (
        "設備或系統名稱",
        "設備/系統名稱",
        "設備/系統",
        "設備名稱",
        "系統名稱",
        "報修設備",
        "報修項目",
        "設備",
        "系統",
        "system",
        "device",
        "equipment",
        "asset",
    ),
    "kind": (
        "類別",
        "報修類別",
        "維修類別",
        "處理類別",
        "故障類別",
        "分類",
        "類型",
        "種類",
        "category",
        "type",
        "kind",
    ),
    "description": (
        "故障描述/處理內容",
        "處理內容",
        "故障描述",
        "故障情形",
        "問題描述",
        "報修內容",
        "處理情形",
        "描述",
        "內容",
        "說明",
        "description",
        "problem",
        "details",
    ),
    "correction": (
        "處理措施",
        "改正措施",
        "處理方式",
        "解決方式",
        "維修方式",
        "處理結果",
        "solution",
        "resolution",
        "fix",
        "action",
    ),
    "administrator": (
        "處理人員",
        "處理人",
        "維修人員",
        "維修人",
        "系統管理人員",
        "承辦人",
        "負責人",
        "技術人員",
        "handler",
        "technician",
        "assignee",
        "engineer",
    ),
}

# The words of a ticket's 類別 and the kind of A-2 each means (tabular.compact form).
KIND_WORDS = {
    Kind.ROUTINE_CHECK: (
        "系統例行檢查",
        "例行檢查",
        "例行",
        "定期檢查",
        "巡檢",
        "檢查",
        "routine",
        "check",
        "inspection",
    ),
    Kind.MAINTENANCE: (
        "系統維護",
        "維護",
        "維修",
        "修理",
        "修復",
        "故障",
        "故障排除",
        "障礙排除",
        "叫修",
        "硬體維修",
        "軟體維修",
        "網路維修",
        "maintenance",
        "repair",
        "fix",
    ),
    Kind.UPDATE: (
        "系統更新操作",
        "系統更新",
        "更新",
        "升級",
        "修補",
        "軟體更新",
        "韌體更新",
        "update",
        "upgrade",
        "patch",
    ),
}
# 其他 / 其它 say no more than "not one of the three": the entry is 其它：報修, as with
# no 類別. Stored data in the school's language, not UI: a re-import in another language
# must find it unchanged.
OTHER_WORDS = ("其它", "其他", "other")
REPAIR = "報修"
# A 類別 cell that is none of the words is matched by the longest word of at least this
# many characters it contains (「硬碟故障維修」 → 系統維護); two kinds as long → not matched.
CONTAINED_MIN = 2

# Codes of unusable rows; their text is made when shown (error_text).
ROW_ERRORS = {
    "no_number": gettext_lazy("沒有報修單號"),
    "duplicate": gettext_lazy("報修單號「%(value)s」在檔案中重複（第 %(lines)s 行）"),
    "no_time": gettext_lazy("沒有報修/處理日期時間"),
    "bad_time": gettext_lazy(
        "無法辨識日期時間「%(value)s」（例如 115/11/28 14:05 或 2026-11-28 14:05）"
    ),
    "future": gettext_lazy("日期時間「%(value)s」晚於現在；日誌只記錄已執行的操作"),
    "no_system": gettext_lazy("沒有設備或系統名稱"),
    "no_description": gettext_lazy("沒有故障描述/處理內容"),
    "no_administrator": gettext_lazy("沒有處理人員（尚未處理的報修單不列入工作日誌）"),
    "too_long": gettext_lazy("%(field)s「%(value)s」超過 %(limit)s 字"),
    "undecodable": gettext_lazy("含有無法解碼的字元（請確認檔案編碼）"),
}

# The groups of the preview, in the order the page shows them.
GROUPS = ("new", "update", "unchanged", "locked")
# What a change lists: the entry's parts as the A-2 shows them.
CHANGE_FIELDS = ("operated_at", "system", "kind", "description", "correction", "administrator")


class Stale(Exception):
    """The log (or the file's reading) changed since the preview the administrator saw."""


# Reading --------------------------------------------------------------------------------------
def _text(value) -> str:
    """A cell as text; line breaks as \\n (a CSV cell keeps \\r\\n)."""
    return tabular.cell_text(value).replace("\r\n", "\n").replace("\r", "\n").strip()


# Ticket numbers are codes: read half-width, compared without case and spaces.
_key = importsteps.code_key
_error = importsteps.row_error


def _aware(moment: dt.datetime) -> dt.datetime:
    if timezone.is_naive(moment):
        return timezone.make_aware(moment, timezone.get_current_timezone())
    return moment


EXCEL_SERIAL = re.compile(r"\d{5}(\.\d+)?")


def parse_moment(value) -> dt.datetime | None:
    """A ticket's date and time (Asia/Taipei unless it says otherwise): an XLSX date cell,
    an Excel serial number, ISO 8601 (2026-11-28 14:05), ROC (115/11/28 14:05, 下午 2:05)
    or a 4-digit year with slashes; a day alone is its 00:00. None when empty; ValueError
    when it cannot be read."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return _aware(value)
    if isinstance(value, dt.date):
        return _aware(dt.datetime.combine(value, dt.time()))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _serial(float(value))
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if not text:
        return None
    if EXCEL_SERIAL.fullmatch(text):
        return _serial(float(text))
    try:
        return _aware(dt.datetime.fromisoformat(text))
    except ValueError:
        pass
    return _aware(roc.parse_roc_datetime(text))


def _serial(number: float) -> dt.datetime:
    from openpyxl.utils.datetime import from_excel

    if not 1 <= number < 2958466:
        raise ValueError(number)
    return _aware(from_excel(number))


def kind_table() -> dict:
    """word → kind: the dictionary above and the kinds' own names (in the active language)."""
    out = importsteps.word_table(KIND_WORDS, Kind.choices)
    for word in OTHER_WORDS:
        out[tabular.compact(word)] = Kind.OTHER
    return out


def kind_of(word: str, table: dict | None = None) -> str | None:
    """The kind a 類別 word means, or None (not known)."""
    table = table if table is not None else kind_table()
    key = tabular.compact(word)
    if not key:
        return None
    if key in table:
        return table[key]
    best, kinds = 0, set()
    for known, kind in table.items():
        if len(known) < CONTAINED_MIN or known.isascii() or known not in key:
            continue
        if len(known) > best:
            best, kinds = len(known), {kind}
        elif len(known) == best:
            kinds.add(kind)
    return kinds.pop() if len(kinds) == 1 else None


class Directory:
    """Registered systems and logins in dicts, by name (two queries)."""

    def __init__(self):
        self.systems: dict[str, tuple[int, str]] = {}
        for pk, name in (
            worklog.InformationSystem.objects.active().order_by("pk").values_list("pk", "name")
        ):
            self.systems.setdefault(worklog.name_key(name), (pk, name))
        self.users: dict[str, dict[int, dict]] = {}
        for u in get_user_model().objects.values(
            "id", "username", "first_name", "last_name", "person__name", "is_active"
        ):
            full = f"{u['last_name']}{u['first_name']}"
            u["label"] = u["person__name"] or full or u["username"]
            for name in (
                u["username"],
                u["person__name"],
                full,
                f"{u['first_name']}{u['last_name']}",
            ):
                key = worklog.name_key(name or "")
                if key:
                    self.users.setdefault(key, {})[u["id"]] = u

    def system(self, text: str) -> tuple[int, str] | None:
        return self.systems.get(worklog.name_key(text))

    def user(self, text: str) -> tuple[int, str] | None:
        """The one login of this name (the active ones when several), else None."""
        found = list(self.users.get(worklog.name_key(text), {}).values())
        if len(found) > 1:
            found = [u for u in found if u["is_active"]]
        if len(found) == 1:
            return found[0]["id"], found[0]["label"]
        return None


@dataclass(slots=True)
class Row:
    line: int
    number: str
    key: str
    operated_at: dt.datetime | None = None
    system: tuple | None = None  # (id, name) of a registered system
    system_name: str = ""
    kind: str | None = None  # None: no 類別
    kind_other: str = ""
    kind_word: str = ""
    description: str = ""
    correction: str = ""
    administrator: tuple | None = None  # (id, label) of a login
    administrator_name: str = ""
    values: dict = field(default_factory=dict)


def error_text(error: dict) -> str:
    return importsteps.error_text(error, ROW_ERRORS, default="no_number", labels=FIELD_LABELS)


def _parse(row: Row, value, raw_moment, directory: Directory, kinds: dict, now) -> list[dict]:
    """Fill ``row`` from its cells (``value(name)`` gives a column's text); the problems
    that make it unusable, as error entries."""
    limits = worklog.LIMITS
    line, number = row.line, row.number[:60]
    problems = []

    def problem(code, **values):
        problems.append(_error(line, number, code, **values))

    def too_long(name, text, limit):
        problem("too_long", field=name, value=text[:40], limit=limit)

    if len(row.number) > limits["ticket_number"]:
        too_long("ticket_number", row.number, limits["ticket_number"])
    shown = tabular.cell_text(raw_moment)[:40]
    try:
        row.operated_at = parse_moment(raw_moment)
    except (ValueError, OverflowError):
        problem("bad_time", value=shown)
    else:
        if row.operated_at is None:
            problem("no_time")
        elif timezone.localtime(row.operated_at).date() < roc.MIN_DATE:
            problem("bad_time", value=shown)
        elif row.operated_at > now:
            problem("future", value=shown)
    text = value("system")
    if not text:
        problem("no_system")
    elif (system := directory.system(text)) is not None:
        row.system = system
    elif len(text) > limits["system_name"]:
        too_long("system", text, limits["system_name"])
    else:
        row.system_name = text
    if word := value("kind"):
        row.kind_word = word
        row.kind = kind_of(word, kinds)
        if row.kind is None:
            row.kind, row.kind_other = Kind.OTHER, word
            if len(word) > limits["kind_other"]:
                too_long("kind", word, limits["kind_other"])
        elif row.kind == Kind.OTHER:
            row.kind_other = REPAIR
    row.description = value("description")
    if not row.description:
        problem("no_description")
    row.correction = value("correction")
    text = value("administrator")
    if not text:
        problem("no_administrator")
    elif (user := directory.user(text)) is not None:
        row.administrator = user
    elif len(text) > limits["administrator_name"]:
        too_long("administrator", text, limits["administrator_name"])
    else:
        row.administrator_name = text
    texts = (row.number, row.system_name, row.kind_other, row.description, row.correction)
    if any("\ufffd" in t for t in (*texts, row.administrator_name)):
        problem("undecodable")
    return problems


def read_rows(data: bytes, mapping: dict, encoding: str, directory: Directory, now=None):
    """(usable rows by ticket key, errors, number of data rows)."""
    now = now or timezone.now()
    columns = importsteps.chosen_columns(mapping, FIELDS, REQUIRED, FIELD_LABELS)
    kinds = kind_table()
    parsed: list[Row] = []
    numbered = importsteps.NumberedRows()
    errors = numbered.errors
    for line, cells, number, key in numbered.rows(
        data, mapping, encoding, columns["ticket_number"]
    ):
        row = Row(line=line, number=number, key=key)

        def value(name, cells=cells):
            return _text(tabular.cell(cells, columns[name]))

        raw_moment = tabular.cell(cells, columns["operated_at"])
        problems = _parse(row, value, raw_moment, directory, kinds, now)
        if problems:
            errors.extend(problems)
            continue
        parsed.append(row)
    rows = numbered.unique(parsed)  # a ticket twice: every line of it is unusable
    return rows, errors, numbered.total


# Comparing ------------------------------------------------------------------------------------
LOG_FIELDS = (
    "id",
    "ticket_number",
    "operated_at",
    "system_id",
    "system__name",
    "system_name",
    "kind",
    "kind_other",
    "description",
    "correction",
    "administrator_id",
    "administrator__username",
    "administrator__person__name",
    "administrator_name",
    "reviewed_at",
    "voided_at",
)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def _parts_of_entry(e: dict) -> dict:
    """An entry's parts as a change lists them (codes and values)."""
    admin = e["administrator__person__name"] or e["administrator__username"]
    return {
        "operated_at": _iso(e["operated_at"]),
        "system": [e["system_id"], e["system__name"] if e["system_id"] else e["system_name"]],
        "kind": [e["kind"], e["kind_other"]],
        "description": e["description"],
        "correction": e["correction"],
        "administrator": [
            e["administrator_id"],
            admin if e["administrator_id"] else e["administrator_name"],
        ],
    }


def _values_of_row(row: Row, old: dict | None) -> dict:
    """The entry's fields as the row gives them; what the row leaves empty (類別, 處理措施)
    is kept from the entry (``old``), or for a new entry 其它：報修 and no correction."""
    values = {
        "operated_at": _iso(row.operated_at),
        "system_id": row.system[0] if row.system else None,
        "system_name": "" if row.system else row.system_name,
        "description": row.description,
        "administrator_id": row.administrator[0] if row.administrator else None,
        "administrator_name": "" if row.administrator else row.administrator_name,
    }
    if row.kind is not None:
        values.update(kind=row.kind, kind_other=row.kind_other)
    elif old is None:
        values.update(kind=Kind.OTHER, kind_other=REPAIR)
    else:
        values.update(kind=old["kind"], kind_other=old["kind_other"])
    if row.correction or old is None:
        values["correction"] = row.correction
    else:
        values["correction"] = old["correction"]
    return values


def _parts_of_row(row: Row, values: dict) -> dict:
    return {
        "operated_at": values["operated_at"],
        "system": [values["system_id"], row.system[1] if row.system else row.system_name],
        "kind": [values["kind"], values["kind_other"]],
        "description": values["description"],
        "correction": values["correction"],
        "administrator": [
            values["administrator_id"],
            row.administrator[1] if row.administrator else row.administrator_name,
        ],
    }


def _same(name, old, new) -> bool:
    if name in ("system", "administrator"):  # the same login or system, or the same name
        return old[0] == new[0] if old[0] or new[0] else old[1] == new[1]
    return old == new


def compare(rows: dict) -> dict:
    """The preview (groups of GROUPS, counts, the 類別 words used) of the usable rows
    against the log, in one query."""
    log, by_key = {}, {}
    for e in WorkLogEntry.objects.filter(ticket_number__isnull=False).values(*LOG_FIELDS):
        log[e["ticket_number"]] = e
        by_key.setdefault(_key(e["ticket_number"]), e)
    groups: dict[str, list] = {g: [] for g in GROUPS}
    words: dict[str, dict] = {}
    for row in sorted(rows.values(), key=lambda r: r.line):  # in the file's order
        if row.kind_word:
            used = words.setdefault(
                row.kind_word,
                {"word": row.kind_word, "kind": row.kind, "other": row.kind_other, "rows": 0},
            )
            used["rows"] += 1
        entry = log.get(row.number) or by_key.get(row.key)
        values = _values_of_row(row, entry)
        new_parts = _parts_of_row(row, values)
        if entry is None:
            groups["new"].append(
                {"line": row.line, "number": row.number, "values": values, "parts": new_parts}
            )
            continue
        old_parts = _parts_of_entry(entry)
        changes = {
            name: [old_parts[name], new_parts[name]]
            for name in CHANGE_FIELDS
            if not _same(name, old_parts[name], new_parts[name])
        }
        base = {"line": row.line, "id": entry["id"], "number": entry["ticket_number"]}
        if entry["voided_at"] is not None:
            groups["locked"].append({**base, "reason": "voided", "changes": changes})
        elif not changes:
            groups["unchanged"].append(base)
        elif entry["reviewed_at"] is not None:
            groups["locked"].append({**base, "reason": "reviewed", "changes": changes})
        else:
            groups["update"].append({**base, "changes": changes, "values": values})
    return {
        "groups": groups,
        "counts": {g: len(v) for g, v in groups.items()},
        "kinds": sorted(words.values(), key=lambda w: (-w["rows"], w["word"])),
    }


def digest(errors: list, preview: dict, rows: int, mapping: dict) -> str:
    return importsteps.digest(errors, preview, rows, {"columns": mapping.get("columns")})


file_data = importsteps.file_data


def read_and_compare(imp: WorkLogImport, now=None) -> tuple[list, dict, int]:
    """(errors, preview, rows) of an import as its file and the log stand now."""
    rows, errors, total = read_rows(file_data(imp), imp.mapping, imp.encoding, Directory(), now=now)
    importsteps.require_rows(total)
    preview = compare(rows)
    preview["mapped"] = {f: (imp.mapping.get("columns") or {}).get(f) is not None for f in FIELDS}
    preview["digest"] = digest(errors, preview, total, imp.mapping)
    return errors, preview, total


# The import's steps ---------------------------------------------------------------------------
def check_file(upload) -> str:
    """The file kind (csv or xlsx) of an upload after the size and content checks."""
    return tabular.check_file(upload, TYPE_ERROR)


def guess_columns(header: list[str]) -> dict:
    """field → column guessed from the header, each field's most telling name first."""
    names = [tabular.compact(h) for h in header]
    guessed, taken = {}, set()
    for f in FIELDS:
        guessed[f] = None
        for synonym in GUESSES[f]:
            index = next(
                (i for i, name in enumerate(names) if name == synonym and i not in taken), None
            )
            if index is not None:
                guessed[f] = index
                taken.add(index)
                break
    return guessed


def inspect(data: bytes, kind: str, encoding: str = "", header_line: int | None = None) -> dict:
    """The header row (found, or on the line chosen), a few rows and the guessed columns."""
    return importsteps.find_header(
        data, kind, encoding, header_line, guess=guess_columns, key="ticket_number"
    )


STEPS = importsteps.ImportSteps(
    WorkLogImport,
    fields=FIELDS,
    stale=Stale,
    inspect=inspect,
    read_and_compare=lambda imp, now: read_and_compare(imp, now=now),
    not_now=gettext_lazy("此報修紀錄目前無法匯入（狀態：%(status)s）。"),
    bad_rows=gettext_lazy("檔案有 %(n)d 筆無法匯入的資料；請修正後重新上傳，或勾選略過這些資料。"),
    file_name="tickets",
)


def save_upload(*, upload, data: bytes, kind: str, actor) -> WorkLogImport:
    """Store an uploaded export (already checked) with its encoding and header (FileError)."""
    return STEPS.save_upload(upload=upload, data=data, kind=kind, actor=actor)


def reinspect(imp: WorkLogImport, *, encoding: str, header_line: int | None, actor) -> None:
    """Read the header again in another encoding or from another line (FileError)."""
    STEPS.reinspect(imp, encoding=encoding, header_line=header_line, actor=actor)


def run(imp: WorkLogImport, *, columns: dict, actor) -> None:
    """Read every row by the chosen columns, compare, and store the preview (FileError)."""
    STEPS.run(imp, columns=columns, actor=actor)


def reopen(imp: WorkLogImport, *, actor) -> None:
    """Back to the choice of columns (the ones chosen are kept); the preview is dropped."""
    STEPS.reopen(imp, actor=actor)


def discard(imp: WorkLogImport, *, actor) -> bool:
    return STEPS.discard(imp, actor=actor)


# Applying -------------------------------------------------------------------------------------
# A refusal of the log names the row it is about.
LINE = gettext_lazy("第 %(line)d 行（報修單號 %(number)s）：%(error)s")


def _fields(values: dict) -> dict:
    return {
        **values,
        "operated_at": dt.datetime.fromisoformat(values["operated_at"]),
    }


def apply(imp: WorkLogImport, *, actor, digest_seen: str, skip_bad: bool = False, now=None) -> dict:
    """Apply the preview in one transaction: all or nothing.

    Raises ValidationError (nothing changed) or Stale (the preview was made again and
    stored; the administrator must look at it again). Returns the counts of what was done.
    """
    now = now or timezone.now()
    return STEPS.apply(
        imp,
        actor=actor,
        digest_seen=digest_seen,
        skip_bad=skip_bad,
        now=now,
        body=lambda locked, preview: _apply(preview["groups"], actor, now),
    )


def _apply(groups: dict, actor, now) -> dict:
    entries_by_number = {}
    new = []
    for entry in groups["new"]:
        new.append(WorkLogEntry(ticket_number=entry["number"], **_fields(entry["values"])))
        entries_by_number[entry["number"]] = entry
    updates = []
    for entry in groups["update"]:
        updates.append(
            (WorkLogEntry(pk=entry["id"], ticket_number=entry["number"]), _fields(entry["values"]))
        )
        entries_by_number[entry["number"]] = entry
    with importsteps.refusals_by_line(
        entries_by_number, LINE, record="entry", number="ticket_number"
    ):
        worklog.import_entries(new, updates, actor=actor, now=now)
    return {
        "added": len(new),
        "updated": len(updates),
        "unchanged": len(groups["unchanged"]),
        "locked": len(groups["locked"]),
    }


def template_csv() -> bytes:
    """An empty export with the expected headers (UTF-8 with BOM, for Excel)."""
    return tabular.csv_template([FIELD_LABELS[f] for f in FIELDS])


def kind_words() -> list[tuple[str, list[str]]]:
    """(kind label, the words that mean it) for the page that explains the mapping."""
    out = [
        (str(label), list(words))
        for label, words in ((Kind(v).label, KIND_WORDS[v]) for v in KIND_WORDS)
    ]
    return [*out, (str(Kind.OTHER.label), list(OTHER_WORDS))]
