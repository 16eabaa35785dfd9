"""Reconciliation of an account list exported from a system (2.7; issue 5 point 7).

1. ``check_file`` and ``inspect`` (isms/core/tabular.py, shared by every import): the
   upload is checked (``core.services.check_upload``; CSV or XLSX only), the encoding of a
   CSV detected (UTF-8 with or without BOM, else Big5/cp950, else the officer chooses),
   its delimiter taken from the first lines (the one of comma, tab and semicolon found
   most consistently), and the header row read.
2. ``read_rows``: every row after the header, by the columns the officer chose. A row that
   cannot be read is reported with its line number and the reason; its account name (when
   there is one) is kept aside so that skipping the row never reads as "gone".
3. ``compare``: the rows against the system's register and the people directory, in a
   constant number of queries (three bulk reads into dicts) whatever the number of rows.
4. ``run``: 1–3 for an import, the result stored on it (``errors``, ``differences``).
5. ``apply``: in one transaction, all or nothing, only through ``identity.services``;
   the comparison is made again first and must be the one the officer saw (its digest).

Stored results keep codes and values, not sentences, so that the pages show them in the
reader's language.
"""

import datetime as dt
import logging
import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail
from isms.core import importsteps, jobs, progress, roc, tabular
from isms.core.models import Person

from . import services
from .models import Account, AccountImport, OffboardingTask

Status = Account.Status
Kind = Account.Kind

logger = logging.getLogger("isms.identity.reconcile")

# The file reading is shared with every import (isms/core/tabular.py); its names stay
# available here (reconcile.ENCODINGS, reconcile.FileError, ...) for the pages and tests.
KINDS = tabular.KINDS
EXTENSIONS = tabular.EXTENSIONS
ENCODINGS = tabular.ENCODINGS
DELIMITERS = tabular.DELIMITERS
PREVIEW_ROWS = tabular.PREVIEW_ROWS
MAX_LINES = tabular.MAX_LINES
SNIFF_LINES = tabular.SNIFF_LINES

# The columns the officer maps; only the account name is required.
FIELDS = ("account", "display_name", "email", "enabled", "last_sign_in", "privileged")
FIELD_LABELS = {
    "account": gettext_lazy("帳號"),
    "display_name": gettext_lazy("顯示名稱"),
    "email": gettext_lazy("電子郵件"),
    "enabled": gettext_lazy("啟用"),
    "last_sign_in": gettext_lazy("最後登入"),
    "privileged": gettext_lazy("特權（管理者）"),
}
# Header names (lower case, no spaces, underscores or hyphens) each column is guessed from.
GUESSES = {
    "account": {
        "帳號",
        "帳戶",
        "使用者帳號",
        "登入帳號",
        "account",
        "accountname",
        "username",
        "user",
        "userid",
        "login",
        "loginname",
        "uid",
        "samaccountname",
        "userprincipalname",
    },
    "display_name": {
        "顯示名稱",
        "姓名",
        "名稱",
        "使用者名稱",
        "使用人",
        "displayname",
        "name",
        "fullname",
        "cn",
    },
    "email": {"電子郵件", "電子信箱", "信箱", "email", "mail", "emailaddress"},
    "enabled": {"啟用", "狀態", "帳號狀態", "enabled", "enable", "status", "active", "isactive"},
    "last_sign_in": {
        "最後登入",
        "最後登入時間",
        "最近登入",
        "最近登入時間",
        "上次登入",
        "lastlogin",
        "lastlogon",
        "lastsignin",
        "lastlogontimestamp",
        "lastlogindate",
        "lastlogintime",
        "lastlogondate",
    },
    "privileged": {"特權", "管理者", "管理員", "admin", "isadmin", "privileged", "administrator"},
}

TRUE_WORDS = {"1", "true", "t", "y", "yes", "是", "enabled", "enable", "啟用", "active", "on"}
FALSE_WORDS = {"0", "false", "f", "n", "no", "否", "disabled", "disable", "停用", "inactive", "off"}
# A privileged column marks an account with one of these; any other value is "not marked".
PRIVILEGED_WORDS = TRUE_WORDS | {
    "admin",
    "administrator",
    "administrators",
    "管理者",
    "管理員",
    "系統管理員",
    "特權",
    "root",
    "superuser",
}
# Account names that are privileged whatever the file says.
PRIVILEGED_NAMES = {"admin", "administrator", "root", "sa", "sysadmin", "superuser", "supervisor"}
# A last sign-in column says "never" with one of these (or leaves the cell empty).
NEVER_WORDS = {"", "-", "--", "never", "n/a", "na", "none", "null", "從未", "從未登入", "無"}
EXCEL_SERIAL = re.compile(r"\d{1,5}(\.\d+)?")
WESTERN_COMPACT = re.compile(r"(19|20)\d{6}")
FILETIME = re.compile(r"\d{17,19}")
FILETIME_NEVER = {0, 9223372036854775807}

LIMITS = {"account": 150, "display_name": 150, "email": 254}

# Codes of unreadable rows; their text is made when shown (error_text).
ROW_ERRORS = {
    "no_account": gettext_lazy("沒有帳號名稱"),
    "duplicate": gettext_lazy("帳號「%(value)s」在檔案中重複（第 %(lines)s 行，帳號不分大小寫）"),
    "enabled": gettext_lazy(
        "無法辨識啟用狀態「%(value)s」"
        "（可用 1/0、true/false、Y/N、是/否、enabled/disabled、啟用/停用）"
    ),
    "date": gettext_lazy("無法辨識最後登入時間「%(value)s」"),
    "email": gettext_lazy("電子郵件「%(value)s」格式不正確"),
    "too_long": gettext_lazy("「%(value)s」超過 %(limit)s 字"),
    "undecodable": gettext_lazy("帳號含有無法解碼的字元（請確認檔案編碼）"),
}

# The groups of differences, in the order the page shows them.
GROUPS = (
    "new",
    "gone",
    "departed",
    "unused",
    "shared",
    "privileged",
    "status",
    "updates",
    "suggest",
)


class Stale(Exception):
    """The register (or the day) changed since the comparison the officer saw."""


# Files -----------------------------------------------------------------------------------------
FileError = tabular.FileError
detect_encoding = tabular.detect_encoding
codec = tabular.codec
decode = tabular.decode
detect_delimiter = tabular.detect_delimiter
table = tabular.table
cell_text = tabular.cell_text
encoding_previews = tabular.encoding_previews
_blank = tabular.blank
_compact = tabular.compact

TYPE_ERROR = gettext_lazy("只接受 CSV 或 XLSX 格式的帳號清單（.%(ext)s）。")


def check_file(upload) -> str:
    """The file kind (csv or xlsx) of an upload after the size and content checks."""
    return tabular.check_file(upload, TYPE_ERROR)


def guess_columns(header: list[str]) -> dict:
    """field → column index guessed from the header names (None when nothing fits)."""
    return tabular.guess_columns(header, FIELDS, GUESSES)


def inspect(data: bytes, kind: str, encoding: str = "", header_line: int | None = None) -> dict:
    """The header row, its line, the delimiter and a few rows of a file (FileError if none).

    Stored as the import's ``mapping``; ``columns`` holds the guessed columns until the
    officer chooses.
    """
    return tabular.inspect(data, kind, encoding, header_line, fields=FIELDS, guesses=GUESSES)


# Values ---------------------------------------------------------------------------------------
def _word(value) -> str:
    return unicodedata.normalize("NFKC", cell_text(value)).strip().lower()


def parse_enabled(value) -> bool:
    if isinstance(value, bool):
        return value
    word = _word(value)
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(word)


def parse_privileged(value) -> bool:
    if isinstance(value, bool):
        return value
    return _word(value) in PRIVILEGED_WORDS


def _aware(value: dt.datetime) -> dt.datetime:
    if timezone.is_naive(value):
        return timezone.make_aware(value, timezone.get_default_timezone())
    return value


def parse_moment(value) -> dt.datetime | None:
    """A last sign-in: ISO 8601, ROC dates, Excel dates (cells or serial numbers), AD
    FILETIME; None for "never". ValueError when it is none of these."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return _aware(value)
    if isinstance(value, dt.date):
        return _aware(dt.datetime.combine(value, dt.time()))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _serial(float(value))
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if text.lower() in NEVER_WORDS:
        return None
    if EXCEL_SERIAL.fullmatch(text):
        return _serial(float(text))
    if FILETIME.fullmatch(text):
        ticks = int(text)
        if ticks in FILETIME_NEVER:
            return None
        return dt.datetime(1601, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ticks // 10)
    if WESTERN_COMPACT.fullmatch(text):
        return _aware(dt.datetime.strptime(text, "%Y%m%d"))
    try:
        return _aware(dt.datetime.fromisoformat(text))
    except ValueError:
        pass
    return _aware(roc.parse_roc_datetime(text))


def _serial(number: float) -> dt.datetime | None:
    from openpyxl.utils.datetime import from_excel

    if number == 0:
        return None
    if not 1 <= number < 2958466:
        raise ValueError(number)
    return _aware(from_excel(number))


# Reading --------------------------------------------------------------------------------------
@dataclass(slots=True)
class Row:
    line: int
    username: str
    key: str
    display_name: str = ""
    email: str = ""
    enabled: bool | None = None  # None: no enabled column (present in the list)
    last_sign_in: dt.datetime | None = None
    privileged: bool = False


def _error(line, account, code, **values) -> dict:
    return {"line": line, "account": account, "code": code, **values}


def error_text(error: dict) -> str:
    return importsteps.error_text(error, ROW_ERRORS, default="no_account")


def read_rows(data: bytes, mapping: dict, encoding: str = ""):
    """(rows by account key, errors, keys of unreadable rows, number of data rows)."""
    columns = {f: mapping["columns"].get(f) for f in FIELDS}
    if columns["account"] is None:
        raise FileError(_("請選擇帳號欄位；沒有帳號欄位的清單無法比對。"))

    def cell(cells, field):
        return tabular.cell(cells, columns[field])

    parsed: list[Row] = []
    lines_of: dict[str, list[int]] = {}  # every line of each account name
    errors: list[dict] = []
    bad_keys: set[str] = set()
    total = 0
    for line, cells in tabular.data_rows(data, mapping, encoding):
        total += 1
        username = cell_text(cell(cells, "account"))
        if not username:
            errors.append(_error(line, "", "no_account"))
            continue
        key = username.lower()
        lines_of.setdefault(key, []).append(line)
        problems = []
        if "\ufffd" in username:
            problems.append(_error(line, username, "undecodable"))
        if len(username) > LIMITS["account"]:
            problems.append(_error(line, username, "too_long", value=username[:40], limit=150))
        row = Row(line=line, username=username, key=key)
        if columns["display_name"] is not None:
            row.display_name = cell_text(cell(cells, "display_name"))
            if len(row.display_name) > LIMITS["display_name"]:
                problems.append(
                    _error(line, username, "too_long", value=row.display_name[:40], limit=150)
                )
        if columns["email"] is not None:
            row.email = cell_text(cell(cells, "email"))
            if row.email:
                try:
                    if len(row.email) > LIMITS["email"]:
                        raise ValidationError("too long")
                    validate_email(row.email)
                except ValidationError:
                    problems.append(_error(line, username, "email", value=row.email[:80]))
        if columns["enabled"] is not None:
            raw = cell(cells, "enabled")
            try:
                row.enabled = parse_enabled(raw)
            except ValueError:
                problems.append(_error(line, username, "enabled", value=cell_text(raw)[:40]))
        if columns["last_sign_in"] is not None:
            raw = cell(cells, "last_sign_in")
            try:
                row.last_sign_in = parse_moment(raw)
            except (ValueError, OverflowError):
                problems.append(_error(line, username, "date", value=cell_text(raw)[:40]))
        if columns["privileged"] is not None:
            row.privileged = parse_privileged(cell(cells, "privileged"))
        if problems:
            errors.extend(problems)
            bad_keys.add(key)
            continue
        parsed.append(row)
    # Duplicates (case-insensitive): every occurrence is unreadable — which one is right?
    rows: dict[str, Row] = {}
    for row in parsed:
        lines = lines_of[row.key]
        if len(lines) > 1:
            others = "、".join(str(n) for n in lines)
            errors.append(
                _error(row.line, row.username, "duplicate", value=row.username, lines=others)
            )
            bad_keys.add(row.key)
            continue
        rows[row.key] = row
    errors.sort(key=lambda e: e["line"])
    return rows, errors, bad_keys, total


# Comparing ------------------------------------------------------------------------------------
ACCOUNT_FIELDS = (
    "id",
    "username",
    "username_key",
    "person_id",
    "display_name",
    "email",
    "kind",
    "rights",
    "shared_justification",
    "status",
    "last_sign_in",
)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment is not None else None


def _same_moment(a: dt.datetime | None, b: dt.datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs((a - b).total_seconds()) < 1


class Directory:
    """The people directory in dicts: by id, by e-mail, by name; who has departed."""

    def __init__(self, today: dt.date):
        fields = ("id", "name", "english_name", "email", "status", "leave_date", "kind")
        self.people = {p["id"]: p for p in Person.objects.values(*fields, "voided_at")}
        self.departed = set(services.departed_people(today).values_list("pk", flat=True))
        self.by_email: dict[str, list[int]] = {}
        self.by_name: dict[str, list[int]] = {}
        for p in self.people.values():
            if p["voided_at"] is not None:
                continue
            if p["email"]:
                self.by_email.setdefault(p["email"].strip().lower(), []).append(p["id"])
            for name in (p["name"], p["english_name"]):
                if name and name.strip():
                    self.by_name.setdefault(name.strip().lower(), []).append(p["id"])

    def match(self, email: str, name: str) -> dict | None:
        """The one person with this e-mail, else the one with this name (ambiguity noted)."""
        for by, value, index in (("email", email, self.by_email), ("name", name, self.by_name)):
            value = (value or "").strip().lower()
            if not value:
                continue
            found = index.get(value, [])
            if len(found) == 1:
                return {**self.person(found[0]), "by": by}
            if len(found) > 1:
                return {"id": None, "by": by, "ambiguous": len(found), "value": value}
        return None

    def person(self, pk) -> dict:
        p = self.people.get(pk)
        if p is None:
            return {"id": pk, "name": "", "departed": pk in self.departed}
        return {
            "id": pk,
            "name": p["name"],
            "departed": pk in self.departed,
            "leave_date": p["leave_date"].isoformat() if p["leave_date"] else None,
            "vendor": p["kind"] == Person.Kind.VENDOR,
        }


def compare(system, rows: dict, bad_keys: set, columns: dict, unused_days: int, now=None) -> dict:
    """The differences between the file's rows and the register, grouped (see GROUPS)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    register, voided = {}, set()
    for a in Account.objects.filter(system=system).values(*ACCOUNT_FIELDS, "voided_at"):
        if a["voided_at"] is None:
            register[a["username_key"]] = a
        else:
            voided.add(a["username_key"])
    people = Directory(today)
    on_a4, a4_filled = _on_a4(today)
    mapped = {f: columns.get(f) is not None for f in FIELDS}
    groups: dict[str, list] = {g: [] for g in GROUPS}
    cutoff = now - dt.timedelta(days=unused_days)

    for row in sorted(rows.values(), key=lambda r: r.line):  # in the file's order
        key = row.key
        account = register.get(key)
        present = row.enabled is not False  # enabled, or listed without an enabled column
        base = {"key": key, "username": row.username, "line": row.line}
        if account is None:
            match = people.match(row.email, row.display_name)
            groups["new"].append(
                {
                    **base,
                    "id": None,
                    "display_name": row.display_name,
                    "email": row.email,
                    "enabled": row.enabled,
                    "last_sign_in": _iso(row.last_sign_in),
                    "person": match,
                    # A voided record holds the name (unique per system): it cannot be added.
                    "voided": key in voided,
                }
            )
            if present and match and match.get("id") and match["departed"]:
                groups["departed"].append({**base, "id": None, "person": match, "new": True})
            if row.privileged or key in PRIVILEGED_NAMES:
                groups["privileged"].append(
                    {
                        **base,
                        "id": None,
                        "kind": None,
                        "has_rights": False,
                        "why": "column" if row.privileged else "name",
                    }
                )
        else:
            base["id"] = account["id"]
            target = None
            if row.enabled is not None:
                target = Status.ACTIVE if row.enabled else Status.DISABLED
            if account["status"] == Status.REMOVED:
                target = target or Status.ACTIVE
            if target is not None and target != account["status"]:
                groups["status"].append({**base, "from": account["status"], "to": target})
            pid = account["person_id"]
            if present and pid is not None and pid in people.departed:
                groups["departed"].append({**base, "person": people.person(pid), "new": False})
            if account["kind"] == Kind.SHARED:
                groups["shared"].append(
                    {**base, "justified": bool(account["shared_justification"].strip())}
                )
            has_rights = bool(account["rights"].strip())
            listed_privileged = account["kind"] == Kind.PRIVILEGED and has_rights
            why = None
            if (row.privileged or key in PRIVILEGED_NAMES) and not listed_privileged:
                why = "column" if row.privileged else "name"
            elif listed_privileged and present and account["id"] not in on_a4:
                # 2.8: a privileged account in use belongs on this semester's A-4 list.
                why = "a4" if a4_filled else "no_a4"
            if why:
                groups["privileged"].append(
                    {**base, "kind": account["kind"], "has_rights": has_rights, "why": why}
                )
            changes = {}
            if row.display_name and row.display_name != account["display_name"]:
                changes["display_name"] = [account["display_name"], row.display_name]
            if row.email and row.email != account["email"]:
                changes["email"] = [account["email"], row.email]
            if row.last_sign_in is not None and not _same_moment(
                row.last_sign_in, account["last_sign_in"]
            ):
                changes["last_sign_in"] = [_iso(account["last_sign_in"]), _iso(row.last_sign_in)]
            if changes:
                groups["updates"].append({**base, "changes": changes})
            if pid is None:
                match = people.match(
                    row.email or account["email"], row.display_name or account["display_name"]
                )
                if match and match.get("id"):
                    groups["suggest"].append({**base, "kind": account["kind"], "person": match})
        if mapped["last_sign_in"] and present:
            if row.last_sign_in is None:
                groups["unused"].append({**base, "last_sign_in": None, "never": True})
            elif row.last_sign_in < cutoff:
                groups["unused"].append(
                    {**base, "last_sign_in": _iso(row.last_sign_in), "never": False}
                )

    for key in sorted(register):
        account = register[key]
        if key in rows or key in bad_keys or account["status"] == Status.REMOVED:
            continue
        groups["gone"].append(
            {
                "key": key,
                "id": account["id"],
                "username": account["username"],
                "status": account["status"],
                "kind": account["kind"],
                "person": people.person(account["person_id"]) if account["person_id"] else None,
            }
        )
    return {
        "groups": groups,
        "counts": {g: len(v) for g, v in groups.items()},
        "mapped": mapped,
        "unused_days": unused_days,
        "register": len(register),
        "compared_on": today.isoformat(),
    }


def _on_a4(today: dt.date) -> tuple[set, bool]:
    """The accounts on this semester's A-4 list (as filled in), and whether it was filled."""
    from .models import PrivilegedReview, PrivilegedReviewItem
    from .reviews import current_term

    term = current_term(today)
    this_term = {"school_year": term.school_year, "semester": term.semester}
    accounts = set(
        PrivilegedReviewItem.objects.filter(
            review__school_year=term.school_year, review__semester=term.semester
        ).values_list("account_id", flat=True)
    )
    return accounts, PrivilegedReview.objects.filter(**this_term).exists()


def digest(errors: list, differences: dict, rows: int) -> str:
    return importsteps.digest(errors, differences, rows)


def read_and_compare(imp: AccountImport, now=None):
    """(errors, differences, rows) of an import as its file and the register stand now."""
    rows, errors, bad_keys, total = read_rows(file_data(imp), imp.mapping, imp.encoding)
    importsteps.require_rows(total)
    differences = compare(
        imp.system, rows, bad_keys, imp.mapping.get("columns", {}), imp.unused_days, now=now
    )
    differences["bad_keys"] = sorted(bad_keys)
    differences["digest"] = digest(errors, differences, total)
    return errors, differences, total


file_data = importsteps.file_data

STEPS = importsteps.ImportSteps(
    AccountImport,
    fields=FIELDS,
    stale=Stale,
    inspect=inspect,
    read_and_compare=lambda imp, now: read_and_compare(imp, now=now),
    not_now=gettext_lazy("此清單目前無法套用（狀態：%(status)s）。"),
    bad_rows=gettext_lazy("檔案有 %(n)d 筆無法讀取的資料；請修正後重新上傳，或勾選略過這些資料。"),
    result="differences",
    read_values={"progress": 100},
    audit=lambda counts, skip_bad: {"applied": counts},
)


def save_upload(*, system, upload, data: bytes, kind: str, unused_days: int, actor):
    """Store an uploaded list (already checked) with its encoding and header (FileError)."""
    return STEPS.save_upload(
        upload=upload, data=data, kind=kind, actor=actor, system=system, unused_days=unused_days
    )


def reinspect(imp: AccountImport, *, encoding: str, header_line: int | None, actor) -> None:
    """Read the header again in another encoding or from another line (FileError)."""
    STEPS.reinspect(imp, encoding=encoding, header_line=header_line, actor=actor)


def run(imp: AccountImport, *, columns: dict, unused_days: int, actor, now=None) -> None:
    """Read every row by the chosen columns, compare, and store the result (FileError)."""
    STEPS.run(imp, columns=columns, actor=actor, now=now, values={"unused_days": unused_days})


def reopen(imp: AccountImport, *, actor) -> None:
    """Back to the choice of columns (the ones chosen are kept); the result is dropped."""
    STEPS.reopen(imp, actor=actor)


def discard(imp: AccountImport, *, actor) -> bool:
    return STEPS.discard(imp, actor=actor)


# Applying -------------------------------------------------------------------------------------
# Each service call recomputes the account duties (~0.3 s with 10,000 accounts); during an
# apply they are collected and refreshed once after the commit (services.deferred_refresh).
# A comparison with more changes than ISMS_IMPORT_INLINE_CHANGES is applied by the worker
# (isms/core/jobs.py), still in one transaction, its progress in isms/core/progress.py.

STALE_AFTER = dt.timedelta(minutes=10)
PROGRESS_EVERY = 0.5  # seconds between two writes of the progress file
DETAIL_BATCH = 500  # accounts whose names, e-mail or sign-in are written at once
APPLY_GROUPS = ("new", "gone", "status", "updates")


def _label(username: str, error: ValidationError) -> ValidationError:
    return importsteps.label(error, _("帳號「%(name)s」：%(error)s"), name=username)


def change_count(differences: dict) -> int:
    """The changes an apply makes at most (the departed are counted once per account)."""
    counts = differences.get("counts") or {}
    return sum(counts.get(g, 0) for g in (*APPLY_GROUPS, "departed"))


def runs_in_worker(imp: AccountImport) -> bool:
    return change_count(imp.differences or {}) > settings.ISMS_IMPORT_INLINE_CHANGES


def _options(digest_seen, skip_bad=False, skip_new=(), unmatched_kind="", adopt=()) -> dict:
    if unmatched_kind not in ("", Kind.SHARED, Kind.SERVICE):
        raise ValidationError(_("未對應使用人的新帳號類型不正確。"))
    return {
        "digest_seen": str(digest_seen or ""),
        "skip_bad": bool(skip_bad),
        "skip_new": sorted({str(k) for k in skip_new}),
        "unmatched_kind": unmatched_kind,
        "adopt": sorted({int(a) for a in adopt}),
    }


def request_apply(imp: AccountImport, *, actor, now=None, **choices) -> dict | None:
    """Apply now and return the counts, or (many changes) queue it for the worker: None.

    ``choices`` are ``apply``'s (digest_seen, skip_bad, skip_new, unmatched_kind, adopt).
    Raises ValidationError or Stale as ``apply`` does; nothing is changed then.
    """
    options = _options(**choices)
    if not runs_in_worker(imp):
        return apply(imp, actor=actor, now=now, **options)
    with transaction.atomic():
        locked = AccountImport.objects.select_for_update().get(pk=imp.pk)
        STEPS.check(locked, digest_seen=options["digest_seen"], status=AccountImport.Status.READ)
        STEPS.refuse_bad_rows(locked.errors, options["skip_bad"])
        AccountImport.objects.filter(pk=imp.pk).update(
            status=AccountImport.Status.QUEUED,
            apply_options=options,
            applied_by=actor,
            apply_error="",
            claimed_by="",
            heartbeat_at=None,
        )
        with trail.as_actor(actor):
            trail.record_transition(
                locked,
                AccountImport.Status.READ,
                AccountImport.Status.QUEUED,
                changes=change_count(locked.differences),
            )
    progress.clear(imp.progress_key)
    imp.refresh_from_db()
    return None


def apply(
    imp: AccountImport,
    *,
    actor,
    digest_seen: str,
    skip_bad: bool = False,
    skip_new=(),
    unmatched_kind: str = "",
    adopt=(),
    now=None,
    worker_id: str = "",
    tracker=None,
) -> dict:
    """Apply the comparison in one transaction: all or nothing.

    Raises ValidationError (nothing changed) or Stale (the comparison was made again and
    stored; the officer must look at it again). Returns the counts of what was done. The
    worker passes its ``worker_id`` (the import must be claimed by it) and a progress
    ``tracker``; a request applies an import that is ``read``.
    """
    options = _options(digest_seen, skip_bad, skip_new, unmatched_kind, adopt)
    now = now or timezone.now()
    today = timezone.localdate(now)
    tracker = tracker or progress.SILENT
    note = _("帳號清單比對（%(file)s，匯入 #%(pk)d）") % {"file": imp.original_name, "pk": imp.pk}
    expected = AccountImport.Status.APPLYING if worker_id else AccountImport.Status.READ

    def claimed(locked):
        if worker_id and locked.claimed_by != worker_id[:100]:
            raise progress.Cancelled("the claim was lost")

    def body(locked, differences):
        return _apply(
            locked,
            differences["groups"],
            actor,
            note,
            today,
            skip_new=set(options["skip_new"]),
            unmatched_kind=options["unmatched_kind"],
            adopt=set(options["adopt"]),
            tracker=tracker,
        )

    return STEPS.apply(
        imp,
        actor=actor,
        digest_seen=options["digest_seen"],
        skip_bad=options["skip_bad"],
        now=now,
        body=body,
        status=expected,
        claimed=claimed,
        checked=lambda locked: tracker.begin(_("讀取並比對清單")),
        values={"apply_options": options, "apply_error": "", "progress": 100},
        around=services.deferred_refresh,
    )


# The worker's side: claim a queued apply, run it, release it --------------------------------
def _release(imp: AccountImport, worker_id: str, to: str, error: str = "") -> bool:
    """Give a claimed import back: to ``queued`` (worker stopping) or ``read`` (failed)."""
    with transaction.atomic():
        done = AccountImport.objects.filter(
            pk=imp.pk, status=AccountImport.Status.APPLYING, claimed_by=worker_id[:100]
        ).update(status=to, claimed_by="", heartbeat_at=None, apply_error=error)
        if done:
            extra = {"error": error} if error else {}
            trail.record_transition(imp, AccountImport.Status.APPLYING, to, **extra)
    progress.clear(imp.progress_key)
    return bool(done)


def _silent(imp: AccountImport, now) -> bool:
    seen = progress.read(imp.progress_key)
    if seen is not None:
        return seen["age"] > STALE_AFTER.total_seconds()
    return imp.heartbeat_at is None or imp.heartbeat_at < now - STALE_AFTER


def release_stale(now=None) -> int:
    """Applies whose worker went silent (killed, machine restarted) go back to the officer.

    Their transaction never committed, so nothing was applied; they are not queued again
    by themselves, in case the apply itself is what stopped the worker.
    """
    now = now or timezone.now()
    count = 0
    for imp in AccountImport.objects.filter(
        status=AccountImport.Status.APPLYING, heartbeat_at__lt=now - STALE_AFTER
    ):
        if _silent(imp, now) and _release(
            imp,
            imp.claimed_by,
            AccountImport.Status.READ,
            _("背景套用中斷（工作程序停止回應），未套用任何變更；請重新套用。"),
        ):
            count += 1
    return count


def pending(now=None) -> bool:
    return jobs.has_work(
        AccountImport,
        queued=AccountImport.Status.QUEUED,
        running=AccountImport.Status.APPLYING,
        stale_after=STALE_AFTER,
        now=now,
    )


def claim_next(worker_id: str, now=None) -> AccountImport | None:
    """Take the oldest queued apply: ``UPDATE … WHERE status = 'queued'`` — one winner."""
    now = now or timezone.now()
    release_stale(now)
    return jobs.claim_first(
        AccountImport.objects.filter(status=AccountImport.Status.QUEUED).order_by("id"),
        running=AccountImport.Status.APPLYING,
        worker_id=worker_id,
        values={"heartbeat_at": now, "apply_error": ""},
        on_claim=lambda imp: trail.record_transition(
            imp, AccountImport.Status.QUEUED, AccountImport.Status.APPLYING, worker=worker_id
        ),
    )


def run_claimed(imp: AccountImport, worker_id: str, should_stop=lambda: False) -> bool:
    """Apply one claimed import with the officer's stored choices, as the officer."""
    options = imp.apply_options or {}
    tracker = progress.Tracker(
        imp.progress_key,
        change_count(imp.differences) + 1,
        should_stop=should_stop,
        every=PROGRESS_EVERY,
    )
    try:
        with translation.override(settings.LANGUAGE_CODE):
            try:
                apply(
                    imp,
                    actor=imp.applied_by,
                    digest_seen=options.get("digest_seen", ""),
                    skip_bad=options.get("skip_bad", False),
                    skip_new=options.get("skip_new", ()),
                    unmatched_kind=options.get("unmatched_kind", ""),
                    adopt=options.get("adopt", ()),
                    worker_id=worker_id,
                    tracker=tracker,
                )
                return True
            except progress.Cancelled:
                _release(imp, worker_id, AccountImport.Status.QUEUED)
            except Stale:
                _release(
                    imp,
                    worker_id,
                    AccountImport.Status.READ,
                    _("登記簿或清單在比對後有變動，已重新比對；請再檢視差異後套用。"),
                )
            except (ValidationError, FileError) as error:
                messages = error.messages if isinstance(error, ValidationError) else [str(error)]
                _release(
                    imp,
                    worker_id,
                    AccountImport.Status.READ,
                    "\n".join([*messages, _("未套用任何變更。")]),
                )
            except Exception as exc:
                logger.exception("import %s: apply failed", imp.pk)
                _release(
                    imp,
                    worker_id,
                    AccountImport.Status.READ,
                    _("套用失敗，未套用任何變更：%(error)s")
                    % {"error": f"{type(exc).__name__}: {exc}"[:500]},
                )
    finally:
        progress.clear(imp.progress_key)
    return False


def run_pending(worker_id: str, should_stop=lambda: False) -> int:
    """Apply queued imports one after the other until none is left or the worker stops."""
    applied = 0
    with trail.acting_as(label=f"worker:{worker_id}"):
        while not should_stop():
            imp = claim_next(worker_id)
            if imp is None:
                break
            if run_claimed(imp, worker_id, should_stop=should_stop):
                applied += 1
    return applied


def _apply(imp, groups, actor, note, today, *, skip_new, unmatched_kind, adopt, tracker) -> dict:
    counts = dict.fromkeys(
        ("added", "removed", "status", "updated", "adopted", "offboarded", "not_reenabled"), 0
    )
    tasks_before = OffboardingTask.objects.count()
    ids = {e["id"] for g in ("gone", "status", "updates", "suggest") for e in groups[g]}
    accounts = Account.objects.select_related("system").in_bulk([i for i in ids if i])
    people = Person.objects.in_bulk(
        {
            e["person"]["id"]
            for g in ("new", "suggest", "departed")
            for e in groups[g]
            if e.get("person") and e["person"].get("id")
        }
    )

    # 1. Field updates: names, e-mail and sign-in in bulk (a rule the account breaks
    # otherwise, a privileged one without rights, must not stop recording them); an
    # adopted holder is one save, checked in full.
    tracker.begin(_("更新帳號資料"))
    suggestions = {e["id"]: e for e in groups["suggest"]}
    details = {}
    for entry in groups["updates"]:
        values = {}
        for field, (_old, new) in entry["changes"].items():
            values[field] = dt.datetime.fromisoformat(new) if field == "last_sign_in" else new
        details[entry["id"]] = values
        counts["updated"] += 1
    for pk in adopt:
        entry = suggestions.get(pk)
        if entry is None:
            raise ValidationError(_("建議的使用人已不適用，請重新比對。"))
        account = accounts[pk]
        for field, value in details.pop(pk, {}).items():
            setattr(account, field, value)
        account.person = people[entry["person"]["id"]]
        try:
            services.save_account(account, actor=actor)
        except ValidationError as error:
            raise _label(account.username, error) from None
        counts["adopted"] += 1
        tracker.advance()
    batch = list(details.items())
    for start in range(0, len(batch), DETAIL_BATCH):
        chunk = batch[start : start + DETAIL_BATCH]
        services.update_details([(accounts[pk], values) for pk, values in chunk], actor=actor)
        tracker.advance(len(chunk))

    # 2. Status: enabled/disabled as the system says; accounts no longer listed removed.
    tracker.begin(_("更新帳號狀態"))
    for entry in groups["status"]:
        tracker.advance()
        if entry["to"] == Status.ACTIVE:
            # Enabled on the system, disabled or removed in the register: access is given
            # back only through an A-3 request (重新啟用) or by the system's administrator,
            # never by an import; it stays listed for the officer to act on.
            counts["not_reenabled"] += 1
            continue
        _set_status(accounts[entry["id"]], entry["to"], actor, note)
        counts["status"] += 1
    for entry in groups["gone"]:
        _set_status(accounts[entry["id"]], Status.REMOVED, actor, note)
        counts["removed"] += 1
        tracker.advance()

    # 3. New accounts (the officer may leave some out).
    tracker.begin(_("新增帳號"))
    for entry in groups["new"]:
        tracker.advance()
        if entry["key"] in skip_new or entry.get("voided"):
            continue
        match = entry.get("person") or {}
        person = people.get(match.get("id")) if match.get("id") else None
        kind = Kind.PERSONAL if person is not None else unmatched_kind
        if not kind:
            continue
        account = Account(
            system=imp.system,
            username=entry["username"],
            person=person,
            display_name=entry["display_name"],
            email=entry["email"],
            kind=kind,
            status=Status.DISABLED if entry["enabled"] is False else Status.ACTIVE,
            last_sign_in=dt.datetime.fromisoformat(entry["last_sign_in"])
            if entry["last_sign_in"]
            else None,
            source=Account.Source.IMPORT,
            notes=note,
        )
        try:
            services.save_account(account, actor=actor)
        except ValidationError as error:
            raise _label(account.username, error) from None
        counts["added"] += 1

    # 4. Departed people's accounts still enabled: removal tasks (each person once).
    tracker.begin(_("建立帳號移除工作"))
    done = set()
    for entry in groups["departed"]:
        tracker.advance()
        pid = entry["person"]["id"]
        if pid in done or pid not in people:
            continue
        done.add(pid)
        person = people[pid]
        services.offboard(
            person,
            actor=actor,
            reason=services.departure_reason(person),
            effective_on=person.leave_date or today,
        )
    # Tasks are also opened by the services themselves (an account of a departed person
    # added in step 3): count them all.
    counts["offboarded"] = OffboardingTask.objects.count() - tasks_before
    return counts


def _set_status(account: Account, status: str, actor, note: str) -> None:
    try:
        services.set_status(account, status, actor=actor, note=note)
    except ValidationError as error:
        raise _label(account.username, error) from None


def unused_days_default() -> int:
    return settings.ISMS_ACCOUNT_UNUSED_DAYS
