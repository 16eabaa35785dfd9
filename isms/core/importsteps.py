"""The service steps of a file import, the same for every module that imports a file.

A module that imports a file into its register (the property list, the repair tickets, the
account reconciliation) keeps one row per uploaded file and a service module whose steps
the pages of ``isms/core/importflow.py`` call: ``save_upload`` → ``reinspect`` → ``run``
(read the rows and compare them: a preview with a digest) → ``reopen`` / ``discard`` →
``apply``. What is the module's own — its columns, how a row is read and compared with the
register, what an apply writes, and every message that names its own things — stays in the
module; the steps around it are ``ImportSteps`` here, built once per module with the
module's import model, its parts and its messages::

    STEPS = importsteps.ImportSteps(
        MyImport, fields=FIELDS, stale=Stale, inspect=inspect,
        read_and_compare=lambda imp, now: read_and_compare(imp, now=now),
        not_now=gettext_lazy("…（狀態：%(status)s）。"), bad_rows=gettext_lazy("… %(n)d …"),
    )

The module's public functions (``save_upload``, ``reinspect``, ``run``, ``reopen``,
``discard``, ``apply``) keep their own signatures and call it; ``apply`` gives the body
that writes what the preview lists. ``isms/assets/imports.py`` is the plain example,
``isms/identity/reconcile.py`` the one whose apply may run in the worker.

Rules kept for every import:

- The import row goes ``uploaded`` → ``read`` → ``applied`` or ``discarded`` (and back to
  ``uploaded`` when the header is read again or the import reopened); every move is made by
  a conditional or locked update and written to the audit trail as the person's, with what
  was done beside it (the encoding; the rows, bad rows, counts and columns of a read; the
  counts of an apply).
- The preview (``result``: ``preview`` or ``differences``) is stored with a digest of
  everything it shows and of the choices it was made with (``digest``).
- An apply runs in one transaction, all or nothing: the import is locked and must be in the
  expected state (else ``not_now``, a ValidationError); the digest the person saw must be
  the stored one, and the comparison is made again and must give the same digest — else the
  module's ``Stale`` is raised, after the new preview is stored, so that the person looks at
  it again; rows that could not be read refuse the apply (``bad_rows``) unless the person
  chose to skip them. Nothing is changed when any of these refuses.
- Stored results keep codes and values, not sentences; the pages make the text
  (``error_text``) in the reader's language.
"""

import hashlib
import json
import re
import unicodedata
from contextlib import contextmanager, nullcontext

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from isms.audit import trail

from . import tabular
from .services import move_status

# Lines after the first non-blank one searched for a header naming the key column.
HEADER_SEARCH = 10


# Reading --------------------------------------------------------------------------------------
def file_data(imp) -> bytes:
    """The uploaded file of an import, as stored."""
    with imp.file.open("rb") as fh:
        return fh.read()


def find_header(
    data: bytes,
    kind: str,
    encoding: str = "",
    header_line: int | None = None,
    *,
    guess,
    key: str,
    search: int = HEADER_SEARCH,
) -> dict:
    """The header row (on the line chosen, else the first one — or, when that names no
    ``key`` column, the first of the next ``search`` lines that does: a title often comes
    first), a few rows and the columns ``guess(header)`` gives, as ``tabular.inspect``."""
    mapping = tabular.inspect(data, kind, encoding, header_line)
    mapping["columns"] = guess(mapping["header"])
    if header_line is None and mapping["columns"][key] is None:
        found = _header_line(data, kind, encoding, mapping["delimiter"], guess, key, search)
        if found is not None and found != mapping["header_line"]:
            mapping = tabular.inspect(data, kind, encoding, found)
            mapping["columns"] = guess(mapping["header"])
    return mapping


def _header_line(data, kind, encoding, delimiter, guess, key, search) -> int | None:
    """The first of the first lines whose cells name a ``key`` column."""
    lines = tabular.table(data, kind, encoding, delimiter)
    try:
        looked = 0
        for line, cells in lines:
            if tabular.blank(cells):
                continue
            header = [tabular.cell_text(c) for c in cells]
            if guess(header)[key] is not None:
                return line
            looked += 1
            if looked > search:
                return None
    finally:
        lines.close()
    return None


def chosen_columns(mapping: dict, fields, required, labels) -> dict:
    """field → the column chosen for it (None: not used); FileError when a ``required``
    field has none."""
    columns = {f: (mapping.get("columns") or {}).get(f) for f in fields}
    for name in required:
        if columns[name] is None:
            raise tabular.FileError(_("請選擇「%(field)s」欄位。") % {"field": labels[name]})
    return columns


def require_rows(total: int) -> None:
    """A file with a header and no data row is refused (FileError)."""
    if total == 0:
        raise tabular.FileError(_("標題列之後沒有任何資料列。"))


def code_text(value) -> str:
    """A code (a property or ticket number): full-width digits and letters become
    half-width."""
    return unicodedata.normalize("NFKC", tabular.cell_text(value)).strip()


def code_key(code: str) -> str:
    """Codes are compared without case and without spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", code)).upper()


def word_table(words: dict, choices) -> dict:
    """word (``tabular.compact`` form) → value: each choice by its value and its label (in
    the active language), then each value's ``words``; a later word wins."""
    out = {}
    for value, label in choices:
        out[tabular.compact(str(value))] = value
        out[tabular.compact(str(label))] = value
    for value, items in words.items():
        for word in items:
            out[tabular.compact(word)] = value
    return out


def row_error(line, number, code, **values) -> dict:
    """An unusable row as stored: its line, its number, the reason's code and values."""
    return {"line": line, "number": number, "code": code, **values}


def error_text(error: dict, messages: dict, *, default: str, labels=None) -> str:
    """A stored row error as text in the active language: its code's message (``default``'s
    for a code not known), a ``field`` value shown by its label."""
    template = messages.get(error.get("code"), messages[default])
    values = {k: v for k, v in error.items() if k not in ("line", "code")}
    if "field" in values and labels is not None:
        values["field"] = str(labels.get(values["field"], values["field"]))
    return str(template) % values


class NumberedRows:
    """The data rows of a file keyed by a number column (a property or ticket number).

    ``rows`` gives each row that has a number as ``(line, cells, number, key)``; a row
    without one is an error (``no_number``). ``unique`` then keeps the usable rows whose
    number stands once in the file: a number twice makes every line of it unusable
    (``duplicate``) — which one is right? — and sorts the errors by line.
    """

    def __init__(self):
        self.total = 0  # data rows read
        self.errors: list[dict] = []
        self.lines_of: dict[str, list[int]] = {}  # every line of each number (by key)
        self.number_on: dict[int, str] = {}

    def rows(self, data: bytes, mapping: dict, encoding: str, column):
        for line, cells in tabular.data_rows(data, mapping, encoding):
            self.total += 1
            number = code_text(tabular.cell(cells, column))
            if not number:
                self.errors.append(row_error(line, "", "no_number"))
                continue
            key = code_key(number)
            self.lines_of.setdefault(key, []).append(line)
            self.number_on[line] = number[:60]
            yield line, cells, number, key

    def unique(self, parsed) -> dict:
        """The rows of ``parsed`` (each with a ``key``) by key, those of a number found once."""
        for lines in self.lines_of.values():
            if len(lines) > 1:
                others = "、".join(str(n) for n in lines)
                for line in lines:
                    number = self.number_on[line]
                    self.errors.append(
                        row_error(line, number, "duplicate", value=number, lines=others)
                    )
        rows = {row.key: row for row in parsed if len(self.lines_of[row.key]) == 1}
        self.errors.sort(key=lambda e: e["line"])
        return rows


def digest(errors: list, result: dict, rows: int, *chosen) -> str:
    """The digest of a preview: its errors, what it shows (not its digest nor what was
    applied), its rows and the choices it was made with (``chosen``)."""
    body = {k: v for k, v in result.items() if k not in ("digest", "applied")}
    payload = json.dumps([errors, body, rows, *chosen], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


# Applying -------------------------------------------------------------------------------------
def label(error: ValidationError, template, **values) -> ValidationError:
    """``error`` with each message put in ``template`` (``%(error)s`` and ``values``): the
    row or record it is about."""
    return ValidationError([str(template) % {**values, "error": m} for m in error.messages])


@contextmanager
def refusals_by_line(entries: dict, template, *, record: str, number: str):
    """A ValidationError raised in the block about one record (its ``record`` attribute)
    is raised again naming the line and number of the record's preview entry (``entries``
    by the record's ``number``) through ``template``; any other goes on as it is."""
    try:
        yield
    except ValidationError as error:
        entry = entries.get(getattr(getattr(error, record, None), number, None))
        if entry is None:
            raise
        raise label(error, template, line=entry["line"], number=entry["number"]) from None


class ImportSteps:
    """The steps of one kind of import on its model (``model``: an import row with
    ``Status`` uploaded/read/applied/discarded, ``file``, ``original_name``, ``encoding``,
    ``mapping``, ``rows``, ``errors``, ``uploaded_by``, ``applied_by``, ``applied_at`` and
    the ``result`` JSON field).

    The module gives its ``fields`` (the columns chosen), its ``Stale`` (``stale``), its
    header reading ``inspect(data, kind, encoding, header_line)`` and its
    ``read_and_compare(imp, now)`` → (errors, result with ``counts`` and ``digest``, rows);
    ``file_name`` is the stored file's name, ``read_values`` further fields a read stores,
    ``audit(counts, skip_bad)`` what the audit entry of an apply records beside the move.
    ``not_now`` (``%(status)s``) and ``bad_rows`` (``%(n)d``) are its messages refusing an
    apply, so that each module keeps its own words.
    """

    def __init__(
        self,
        model,
        *,
        fields,
        stale,
        inspect,
        read_and_compare,
        not_now,
        bad_rows,
        result: str = "preview",
        file_name: str = "list",
        read_values: dict | None = None,
        audit=None,
    ):
        self.model = model
        self.fields = tuple(fields)
        self.stale = stale
        self.inspect = inspect
        self.read_and_compare = read_and_compare
        self.not_now = not_now
        self.bad_rows = bad_rows
        self.result = result
        self.file_name = file_name
        self.read_values = dict(read_values or {})
        self.audit = audit or (lambda counts, skip_bad: {"applied": counts, "skip_bad": skip_bad})

    # Upload, header, columns ------------------------------------------------------------------
    def save_upload(self, *, upload, data: bytes, kind: str, actor, **values):
        """Store an uploaded file (already checked) with its encoding and header (FileError):
        a CSV's encoding detected (the header read only when it is), an XLSX's header read.
        ``values`` are the module's further fields of the new import."""
        encoding = tabular.detect_encoding(data) if kind == "csv" else ""
        if kind == "xlsx" or encoding:
            mapping = self.inspect(data, kind, encoding)
        else:
            mapping = {"kind": kind}
        imp = self.model(
            original_name=(upload.name or "")[:255],
            encoding=encoding,
            mapping=mapping,
            uploaded_by=actor,
            **values,
        )
        imp.file.save(self.file_name, ContentFile(data), save=False)
        with trail.as_actor(actor):
            imp.save()
        return imp

    def reinspect(self, imp, *, encoding: str, header_line: int | None, actor) -> None:
        """Read the header again in another encoding or from another line (FileError); the
        import is ``uploaded`` again, without a preview."""
        mapping = self.inspect(
            file_data(imp), imp.mapping.get("kind", "csv"), encoding, header_line
        )
        self._move(
            imp,
            self.model.Status.UPLOADED,
            actor=actor,
            values={"encoding": encoding, "mapping": mapping},
            stored=self._no_preview(),
            audit={"encoding": encoding},
        )

    def run(self, imp, *, columns: dict, actor, now=None, chosen=None, values=None) -> None:
        """Read every row by the chosen ``columns`` (and the module's further ``chosen``
        options, kept in the mapping), compare, and store the preview: the import is ``read``
        (FileError: nothing stored). ``values`` are the module's fields of the import the
        reading uses, stored with it."""
        mapping = {
            **imp.mapping,
            "columns": {f: columns.get(f) for f in self.fields},
            **(chosen or {}),
            "chosen": True,
        }
        imp.mapping = mapping
        for name, value in (values or {}).items():
            setattr(imp, name, value)
        errors, result, total = self.read_and_compare(imp, now)
        self._move(
            imp,
            self.model.Status.READ,
            actor=actor,
            values={"mapping": mapping, **(values or {})},
            stored={**self.read_values, "rows": total, "errors": errors, self.result: result},
            audit={
                "rows": total,
                "bad_rows": len(errors),
                self.result: result["counts"],
                "columns": {f: v for f, v in mapping["columns"].items() if v is not None},
            },
        )

    def _no_preview(self) -> dict:
        """The fields of an import without a preview."""
        return {"errors": [], self.result: {}, "rows": 0}

    def _move(self, imp, to, *, actor, values, stored, audit) -> None:
        """Store ``values``, the status ``to`` and ``stored`` in one update and its move in
        the audit trail with ``audit`` beside it, in one transaction; ``imp`` is read again."""
        old = imp.status
        with transaction.atomic():
            self.model.objects.filter(pk=imp.pk).update(**values, status=to, **stored)
            with trail.as_actor(actor):
                trail.record_transition(imp, old, to, **audit)
        imp.refresh_from_db()

    def reopen(self, imp, *, actor) -> bool:
        """Back to the choice of columns (the ones chosen are kept); the preview is dropped."""
        S = self.model.Status
        return move_status(
            imp, from_states=[S.READ], to=S.UPLOADED, actor=actor, **self._no_preview()
        )

    def discard(self, imp, *, actor) -> bool:
        """Give up an import that is not applied; the register is not changed."""
        S = self.model.Status
        return move_status(imp, from_states=[S.UPLOADED, S.READ], to=S.DISCARDED, actor=actor)

    # Apply ------------------------------------------------------------------------------------
    def check(self, locked, *, digest_seen: str, status: str) -> None:
        """The locked import is in ``status`` (else ``not_now``) and its stored preview is
        the one the person saw (else ``Stale``)."""
        if locked.status != status:
            raise ValidationError(str(self.not_now) % {"status": locked.get_status_display()})
        if str(digest_seen or "") != getattr(locked, self.result).get("digest"):
            raise self.stale()

    def refuse_bad_rows(self, errors: list, skip_bad: bool) -> None:
        """Rows that could not be read refuse an apply unless the person skips them."""
        if errors and not skip_bad:
            raise ValidationError(str(self.bad_rows) % {"n": len(errors)})

    def apply(
        self,
        imp,
        *,
        actor,
        digest_seen: str,
        body,
        skip_bad: bool = False,
        now=None,
        status: str | None = None,
        claimed=None,
        checked=None,
        values: dict | None = None,
        around=nullcontext,
    ) -> dict:
        """Apply the preview in one transaction: all or nothing.

        ``body(locked, result)`` writes what the preview lists and returns the counts of
        what was done. Raises ValidationError (nothing changed) or the module's ``Stale``
        (the preview was made again and stored; the person must look at it again).

        The import must be in ``status`` (``read`` unless given). ``claimed(locked)`` and
        ``checked(locked)`` run before and after the checks of the locked import (a worker's
        claim, its progress); ``values`` are further fields stored with the applied import;
        ``around()`` is a context entered around the transaction.
        """
        S = self.model.Status
        status = status or S.READ
        now = now or timezone.now()
        try:
            with around(), transaction.atomic():
                locked = self.model.objects.select_for_update().get(pk=imp.pk)
                if claimed is not None:
                    claimed(locked)
                self.check(locked, digest_seen=digest_seen, status=status)
                if checked is not None:
                    checked(locked)
                errors, result, total = self.read_and_compare(locked, now)
                if result["digest"] != getattr(locked, self.result).get("digest"):
                    raise self.stale((errors, result, total))
                self.refuse_bad_rows(errors, skip_bad)
                counts = body(locked, result)
                counts["skipped_rows"] = len(errors)
                result["applied"] = counts
                self.model.objects.filter(pk=imp.pk).update(
                    status=S.APPLIED,
                    applied_by=actor,
                    applied_at=now,
                    **{self.result: result},
                    **(values or {}),
                )
                with trail.as_actor(actor):
                    trail.record_transition(
                        locked, status, S.APPLIED, **self.audit(counts, bool(skip_bad))
                    )
        except self.stale as stale:
            if stale.args:
                errors, result, total = stale.args[0]
                self.model.objects.filter(pk=imp.pk, status=status).update(
                    errors=errors, **{self.result: result}, rows=total
                )
            imp.refresh_from_db()
            raise self.stale() from None
        imp.refresh_from_db()
        return counts
