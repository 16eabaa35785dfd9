"""The evidence binder (稽核佐證資料): for a range of days, a ZIP organised by clause.

A request is a ``Binder`` row (queued). The worker claims it with a conditional update,
builds the ZIP step by step — each register the modules registered (``registry.Records``)
as CSV and XLSX with its attachments, each obligation's coverage over the range — writes
``index.html`` last, and stores the file. Progress and a heartbeat are written after each
step, so the page can show them and a build whose worker died is taken up again.

Layout of the ZIP (one folder per clause that has files)::

    <school> 稽核佐證資料 <from>–<to>/
      index.html
      2.9.3 通行碼/通行碼變更紀錄.csv, .xlsx
      9 政策之評估/政策版本.csv, .xlsx, 附件/政策版本/<record>/<file>
"""

import csv
import datetime as dt
import hashlib
import io
import logging
import os
import re
import shutil
import tempfile
import zipfile

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import models, transaction
from django.db.models import Count
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from isms.audit import trail
from isms.core import jobs, roc
from isms.core.generic import csv_safe, xlsx_append
from isms.core.models import Attachment, SchoolProfile
from isms.core.registers import as_text
from isms.core.roles import role_label

from . import coverage, registry
from .models import Binder, Clause, ObligationSetting, ObligationState, PolicyRevision
from .rhythms import LAST_SECOND, day_start, local_date

logger = logging.getLogger(__name__)

# The longest range one binder covers (five years), and when a silent build is taken over.
MAX_DAYS = 5 * 366
STALE_AFTER = dt.timedelta(minutes=10)
# Records shown in index.html per register; the CSV and XLSX beside it hold every row.
INDEX_ROWS = 1000
# Subjects listed per obligation in index.html (all of them are counted).
INDEX_SUBJECTS = 2000
UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


class Cancelled(Exception):
    """The worker is stopping, or lost its claim: the binder goes back to the queue."""


# Requests ----------------------------------------------------------------------------------
def validate_range(date_from: dt.date, date_to: dt.date, today: dt.date | None = None) -> dict:
    """Field errors (zh-TW) of a requested range; empty when it is acceptable."""
    today = today or local_date(timezone.now())
    errors = {}
    if date_to > today:
        errors["date_to"] = _("迄日不可晚於今天（%(today)s）。") % {"today": roc.format_roc(today)}
    if date_from > date_to:
        errors["date_from"] = _("起日不可晚於迄日。")
    elif (date_to - date_from).days + 1 > MAX_DAYS:
        errors["date_from"] = _("期間最長 5 年，請縮短期間或分次產生。")
    return errors


def request_binder(*, date_from: dt.date, date_to: dt.date, actor) -> tuple[Binder, bool]:
    """Queue a binder for the range, unless the same range is already queued or building.

    Returns (binder, created). Raises ValidationError (a field → message dict) for a bad
    range; nothing is saved then.
    """
    errors = validate_range(date_from, date_to)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        same = Binder.objects.filter(
            date_from=date_from,
            date_to=date_to,
            status__in=[Binder.Status.QUEUED, Binder.Status.BUILDING],
        ).first()
        if same is not None:
            return same, False
        with trail.as_actor(actor):
            binder = Binder.objects.create(date_from=date_from, date_to=date_to, requested_by=actor)
    return binder, True


# Claims --------------------------------------------------------------------------------------
def requeue_stale(now=None) -> int:
    """Builds whose worker went silent (no heartbeat for STALE_AFTER) return to the queue."""
    now = now or timezone.now()
    count = 0
    stale = Binder.objects.filter(
        status=Binder.Status.BUILDING, heartbeat_at__lt=now - STALE_AFTER
    ).values_list("pk", "heartbeat_at", "claimed_by")
    for pk, beat, worker in stale:
        with transaction.atomic():
            if Binder.objects.filter(
                pk=pk, status=Binder.Status.BUILDING, heartbeat_at=beat
            ).update(status=Binder.Status.QUEUED, claimed_by="", step="", progress=0):
                trail.record_transition(
                    Binder.objects.get(pk=pk), "building", "queued", stale_worker=worker
                )
                count += 1
    return count


def pending(now=None) -> bool:
    """Whether a pass has binder work: one queued, or one whose worker went silent."""
    return jobs.has_work(
        Binder,
        queued=Binder.Status.QUEUED,
        running=Binder.Status.BUILDING,
        stale_after=STALE_AFTER,
        now=now,
    )


def claim_next(worker_id: str, now=None) -> Binder | None:
    """Take the oldest queued binder: ``UPDATE … WHERE status = 'queued'`` — one winner."""
    now = now or timezone.now()
    requeue_stale(now)
    return jobs.claim_first(
        Binder.objects.filter(status=Binder.Status.QUEUED).order_by("requested_at", "id"),
        running=Binder.Status.BUILDING,
        worker_id=worker_id,
        values={"heartbeat_at": now, "started_at": now, "progress": 0, "step": "", "error": ""},
        on_claim=lambda b: trail.record_transition(b, "queued", "building", worker=worker_id),
    )


def run_pending(worker_id: str, should_stop=lambda: False) -> int:
    """Build queued binders one after the other until none is left or the worker stops."""
    built = 0
    with trail.acting_as(label=f"worker:{worker_id}"):
        while not should_stop():
            binder = claim_next(worker_id)
            if binder is None:
                break
            if build(binder, worker_id, should_stop=should_stop):
                built += 1
        expire_old()
    return built


def expire_old(now=None) -> int:
    """Delete the ZIP of binders older than ISMS_BINDER_KEEP_DAYS (the row stays, audited)."""
    now = now or timezone.now()
    keep = dt.timedelta(days=settings.ISMS_BINDER_KEEP_DAYS)
    count = 0
    for binder in Binder.objects.filter(status=Binder.Status.READY, finished_at__lt=now - keep):
        with transaction.atomic():
            if Binder.objects.filter(pk=binder.pk, status=Binder.Status.READY).update(
                status=Binder.Status.EXPIRED, file=""
            ):
                trail.record_transition(binder, "ready", "expired")
                count += 1
        if binder.file:
            binder.file.storage.delete(binder.file.name)
    return count


# Building -------------------------------------------------------------------------------------
class Progress:
    """Writes progress and the heartbeat; notices a lost claim or a stopping worker."""

    def __init__(self, binder: Binder, worker_id: str, total: int, should_stop):
        self.binder, self.worker_id, self.total, self.should_stop = (
            binder,
            worker_id,
            max(total, 1),
            should_stop,
        )
        self.done = 0

    def step(self, text: str) -> None:
        if self.should_stop():
            raise Cancelled("the worker is stopping")
        percent = min(99, int(100 * self.done / self.total))
        updated = Binder.objects.filter(
            pk=self.binder.pk, status=Binder.Status.BUILDING, claimed_by=self.worker_id[:100]
        ).update(progress=percent, step=text[:200], heartbeat_at=timezone.now())
        if not updated:
            raise Cancelled("the claim was lost")
        self.done += 1


def build(binder: Binder, worker_id: str, *, should_stop=lambda: False, now=None) -> bool:
    """Build one claimed binder. True when it is ready; on failure it is marked failed."""
    with translation.override(settings.LANGUAGE_CODE):
        fd, tmp_path = tempfile.mkstemp(prefix="isms-binder-", suffix=".zip")
        os.close(fd)
        try:
            Builder(binder, worker_id, should_stop, now=now).write(tmp_path)
            return _store(binder, worker_id, tmp_path)
        except Cancelled as exc:
            logger.info("binder %s: %s; back to the queue", binder.pk, exc)
            with transaction.atomic():
                if Binder.objects.filter(
                    pk=binder.pk, status=Binder.Status.BUILDING, claimed_by=worker_id[:100]
                ).update(status=Binder.Status.QUEUED, claimed_by="", progress=0, step=""):
                    trail.record_transition(binder, "building", "queued")
            return False
        except Exception as exc:
            logger.exception("binder %s failed", binder.pk)
            message = _("產生失敗：%(error)s") % {"error": f"{type(exc).__name__}: {exc}"[:500]}
            with transaction.atomic():
                if Binder.objects.filter(
                    pk=binder.pk, status=Binder.Status.BUILDING, claimed_by=worker_id[:100]
                ).update(status=Binder.Status.FAILED, error=message, finished_at=timezone.now()):
                    trail.record_transition(binder, "building", "failed", error=message)
            return False
        finally:
            if os.path.exists(tmp_path):
                os.unlink(tmp_path)


def _store(binder: Binder, worker_id: str, tmp_path: str) -> bool:
    digest = hashlib.sha256()
    with open(tmp_path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    size = os.path.getsize(tmp_path)
    field = Binder._meta.get_field("file")
    with open(tmp_path, "rb") as fh:
        name = field.storage.save(field.generate_filename(binder, "binder.zip"), File(fh))
    with transaction.atomic():
        won = Binder.objects.filter(
            pk=binder.pk, status=Binder.Status.BUILDING, claimed_by=worker_id[:100]
        ).update(
            status=Binder.Status.READY,
            file=name,
            size=size,
            sha256=digest.hexdigest(),
            progress=100,
            step="",
            finished_at=timezone.now(),
        )
        if won:
            trail.record_transition(
                binder, "building", "ready", size=size, sha256=digest.hexdigest()
            )
    if not won:  # someone took it over meanwhile: theirs counts
        field.storage.delete(name)
    return bool(won)


def gap_text(gap, periodic: bool) -> str:
    """A missed period as its first and last day; a rolling gap as two moments."""
    if periodic:
        return f"{roc.format_roc(gap.start)}–{roc.format_roc(gap.end - LAST_SECOND)}"
    return f"{roc.format_roc_datetime(gap.start)}–{roc.format_roc_datetime(gap.end)}"


def subject_rows(subjects, periodic: bool, status_of: dict) -> str:
    """The index's table body of one duty's subjects, built in Python (thousands of rows)."""
    more = _("…另 %(n)s 段")
    in_progress = _("本期進行中（至 %(end)s）")
    texts: dict = {}  # subjects share their periods: format each one once

    def text(gap):
        key = (gap.start, gap.end)
        if key not in texts:
            texts[key] = escape(gap_text(gap, periodic))
        return texts[key]

    out = []
    for s in subjects:
        last = roc.format_roc_datetime(s.evidence[-1]) if s.evidence else "—"
        css = "good" if s.kept_all else "bad"
        measure = f"{s.kept} / {s.periods}" if periodic else f"{round(s.gap_days, 1)}"
        missed = s.missed
        notes = [text(g) for g in missed[:12]] or ["—"]
        if len(missed) > 12:
            notes.append(escape(more % {"n": len(missed) - 12}))
        for gap in s.gaps:
            if gap.open:
                end = roc.format_roc(gap.end - LAST_SECOND)
                notes.append(f'<span class="muted">{escape(in_progress % {"end": end})}</span>')
        gaps_html = "<br>".join(notes)
        out.append(
            f"<tr><td>{escape(s.label)}</td><td>{len(s.evidence)}</td><td>{last}</td>"
            f'<td class="{css}">{measure}</td><td>{gaps_html}</td>'
            f"<td>{escape(status_of.get(s.subject_id, '—'))}</td></tr>"
        )
    return mark_safe("".join(out))


def safe_name(text: str, limit: int = 80) -> str:
    cleaned = UNSAFE.sub("_", str(text)).strip(" .") or "_"
    return cleaned[:limit]


def folder_name(number: str, title: str) -> str:
    return safe_name(f"{number} {title}")


def unique(name: str, taken: set) -> str:
    """``name``, or ``name (2)``, ``name (3)``… so that two files never share a path."""
    if name not in taken:
        taken.add(name)
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    n = 2
    while True:
        candidate = f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})"
        if candidate not in taken:
            taken.add(candidate)
            return candidate
        n += 1


def in_range(qs, field_name: str, first: dt.date, last: dt.date):
    """Records whose ``field_name`` (a date or a moment) falls on the local days given."""
    field = qs.model._meta.get_field(field_name)
    if isinstance(field, models.DateTimeField):
        return qs.filter(
            **{
                f"{field_name}__gte": day_start(first),
                f"{field_name}__lt": day_start(last + dt.timedelta(days=1)),
            }
        )
    return qs.filter(**{f"{field_name}__range": (first, last)})


def xlsx_bytes(title: str, header: list[str], rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=safe_name(title, 31))
    sheet.append(header)
    for row in rows:
        xlsx_append(sheet, row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(csv_safe(row) for row in rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # BOM: Excel reads UTF-8


class Builder:
    """Writes one binder's ZIP; see the module docstring for its layout."""

    def __init__(self, binder: Binder, worker_id: str, should_stop, now=None):
        self.binder = binder
        self.first, self.last = binder.date_from, binder.date_to
        self.now = now or timezone.now()
        self.school = SchoolProfile.load()
        self.clauses = {c.number: c for c in Clause.objects.all()}
        self.obligations = registry.obligations()
        self.records = registry.records()
        self.progress = Progress(
            binder, worker_id, len(self.records) + len(self.obligations) + 1, should_stop
        )
        self.root = safe_name(
            _("%(school)s 稽核佐證資料 %(first)s-%(last)s")
            % {
                "school": self.school.name,
                "first": roc.format_roc(self.first).replace("/", "."),
                "last": roc.format_roc(self.last).replace("/", "."),
            },
            120,
        )
        self.paths: set[str] = set()

    def clause_title(self, number: str) -> str:
        clause = self.clauses.get(number)
        return clause.title if clause else ""

    def folder(self, number: str) -> str:
        return folder_name(number, self.clause_title(number))

    def write(self, path: str) -> None:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            self.zf = zf
            sections = [self.write_records(r) for r in self.records]
            by_key = {s["key"]: s for s in sections}
            duties = [self.duty(o, by_key) for o in self.obligations]
            self.progress.step(_("產生索引 index.html"))
            html = render_to_string(
                "compliance/binder/index.html", self.index_context(sections, duties)
            )
            self.add(f"{self.root}/index.html", html.encode("utf-8"))

    def add(self, path: str, data: bytes) -> str:
        path = unique(path, self.paths)
        self.zf.writestr(path, data)
        return path

    def relative(self, path: str) -> str:
        return path[len(self.root) + 1 :]

    # One register ------------------------------------------------------------------------
    def write_records(self, records) -> dict:
        self.progress.step(
            _("條文 %(clause)s：%(title)s") % {"clause": records.clause, "title": records.title}
        )
        qs = records.queryset()
        if records.date_field:
            qs = in_range(qs, records.date_field, self.first, self.last)
        columns = list(records.columns)
        voidable = any(f.name == "voided_at" for f in qs.model._meta.concrete_fields)
        header = [str(c.label) for c in columns]
        if voidable:
            header.append(str(_("作廢時間")))
        rows, objects = [], []
        for obj in qs.iterator(chunk_size=2000):
            row = [c.text(obj) for c in columns]
            if voidable:
                row.append(as_text(obj.voided_at))
            rows.append(row)
            if len(objects) < INDEX_ROWS:
                objects.append(obj.pk)
        folder = f"{self.root}/{self.folder(records.clause)}"
        title = safe_name(records.title)
        csv_path = self.add(f"{folder}/{title}.csv", csv_bytes(header, rows))
        xlsx_path = self.add(f"{folder}/{title}.xlsx", xlsx_bytes(title, header, rows))
        files = self.write_attachments(records, qs, folder, title) if records.attachments else {}
        index_rows = [(row, files.get(str(pk), [])) for row, pk in zip(rows, objects, strict=False)]
        return {
            "key": records.key,
            "records": records,
            "clauses": records.clauses,
            "title": records.title,
            "dated": bool(records.date_field),
            "header": header,
            "rows": index_rows,
            "count": len(rows),
            "csv": self.relative(csv_path),
            "xlsx": self.relative(xlsx_path),
            "attachment_count": sum(len(v) for v in files.values()),
            "with_attachments": records.attachments,
        }

    def write_attachments(self, records, qs, folder: str, title: str) -> dict:
        """Copy the records' (not voided) attachments; {record pk: [(name, path)]}."""
        ct = ContentType.objects.get_for_model(qs.model)
        files: dict[str, list] = {}
        ids = [str(pk) for pk in qs.values_list("pk", flat=True)]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            attachments = Attachment.objects.active().filter(content_type=ct, object_id__in=chunk)
            for attachment in attachments.order_by("object_id", "uploaded_at", "id"):
                target = (
                    f"{folder}/{_('附件')}/{title}/{safe_name(attachment.object_id)}/"
                    f"{safe_name(attachment.original_name, 120)}"
                )
                try:
                    src = attachment.file.open("rb")
                except OSError:
                    # A file lost from the disk is named in the index, not a failed binder.
                    logger.warning("binder: attachment %s has no file", attachment.pk)
                    files.setdefault(attachment.object_id, []).append(
                        (attachment.original_name, None)
                    )
                    continue
                target = unique(target, self.paths)
                with src, self.zf.open(target, "w") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                files.setdefault(attachment.object_id, []).append(
                    (attachment.original_name, self.relative(target))
                )
        return files

    # One duty --------------------------------------------------------------------------------
    def duty(self, obligation, sections_by_key) -> dict:
        self.progress.step(
            _("條文 %(clause)s：%(title)s")
            % {"clause": obligation.clause, "title": obligation.title}
        )
        overrides = {s.key: s for s in ObligationSetting.objects.filter(key=obligation.key)}
        result = coverage.coverage(
            obligation, self.first, self.last, now=self.now, overrides=overrides
        )
        states = dict(
            ObligationState.objects.filter(key=obligation.key).values_list("subject_id", "status")
        )
        labels = dict(ObligationState.Status.choices)
        counts = dict(
            ObligationState.objects.filter(key=obligation.key)
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        periodic = bool(result.rhythm.period) and not result.rhythm.is_event
        status_of = {sid: labels.get(status, "—") for sid, status in states.items()}
        return {
            "obligation": obligation,
            "rhythm": result.rhythm,
            "periodic": periodic,
            "custom": bool(overrides),
            "window": result.window,
            "role": role_label(obligation.responsible_role),
            "has_history": result.has_history,
            "subject_rows": subject_rows(result.subjects[:INDEX_SUBJECTS], periodic, status_of),
            "more_subjects": max(0, len(result.subjects) - INDEX_SUBJECTS),
            "subject_count": len(result.subjects),
            "kept_count": result.kept_count,
            "now_counts": [(labels[k], counts.get(k, 0)) for k in labels],
            "sections": [
                sections_by_key[r.key]
                for r in self.records
                if obligation.key in r.obligations and r.key in sections_by_key
            ],
        }

    # The index -------------------------------------------------------------------------------
    def index_context(self, sections, duties) -> dict:
        used = set()
        for s in sections:
            used.update(s["clauses"])
        for d in duties:
            used.add(d["obligation"].clause)
        entries = []
        for number in sorted(set(self.clauses) | used, key=registry.clause_sort_key):
            clause = self.clauses.get(number)
            own_duties = [d for d in duties if d["obligation"].clause == number]
            own_sections = [s for s in sections if number in s["clauses"]]
            entries.append(
                {
                    "number": number,
                    "title": clause.title if clause else "",
                    "text": clause.text if clause else "",
                    "form": clause.form if clause else "",
                    "depth": number.count("."),
                    "duties": own_duties,
                    "sections": own_sections,
                    "anchor": "c-" + number.replace(".", "-"),
                }
            )
        return {
            "school": self.school,
            "binder": self.binder,
            "first": self.first,
            "last": self.last,
            "generated_at": self.now,
            "policy_version": PolicyRevision.current(),
            "entries": entries,
            "covered": [e for e in entries if e["duties"] or e["sections"]],
            "duties": duties,
            "sections": sections,
            "index_rows": INDEX_ROWS,
        }
