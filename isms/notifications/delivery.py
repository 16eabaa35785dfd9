"""Delivering the outbox: claiming due rows, sending them, retrying, daily digests.

Several workers may run at once (DESIGN.md, Scale). They never hold a row together:
each row is taken with a conditional UPDATE that names the row's state as it was read,
so of two workers reading the same row only one update matches (STYLE.md, Healthchecks).
A worker that dies while holding rows leaves them in ``sending``; after STALE_AFTER any
worker takes them over. Delivery is therefore at-least-once: a worker killed between the
SMTP server's "250 OK" and its own write of ``sent`` causes one repeat, never a loss.
"""

import logging
import zoneinfo
from datetime import timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from isms.audit import trail
from isms.core import roc

from .models import Notification, NotificationPreference
from .services import no_address_error, recipient_address

log = logging.getLogger(__name__)

Status = Notification.Status

MAX_ATTEMPTS = 6
# Wait after the 1st, 2nd, ... failed attempt; the 6th failure marks the row failed.
BACKOFF_MINUTES = (1, 5, 15, 60, 240)
# A claim older than this belongs to a worker that crashed (a send takes seconds).
STALE_AFTER = timedelta(minutes=10)
DEFAULT_DIGEST_HOUR = 7
SMTP_TIMEOUT = 30
# Database trouble is the worker loop's to handle (reconnect and retry), not a row's fault.
DB_ERRORS = (OperationalError, InterfaceError)


def backoff(attempts: int) -> timedelta:
    """How long to wait after ``attempts`` failed attempts (1 → 1 min … 5+ → 4 h)."""
    index = min(max(attempts, 1), len(BACKOFF_MINUTES)) - 1
    return timedelta(minutes=BACKOFF_MINUTES[index])


def open_connection():
    """A mail connection with a timeout, so a silent SMTP server cannot hang the worker."""
    return get_connection(timeout=getattr(settings, "EMAIL_TIMEOUT", None) or SMTP_TIMEOUT)


# Claiming ------------------------------------------------------------------------------

_CLAIM_FIELDS = ("pk", "status", "claimed_by", "claimed_at", "attempts")


def _due(now):
    return Notification.objects.filter(
        Q(status=Status.QUEUED, next_attempt_at__lte=now)
        | Q(status=Status.SENDING, claimed_at__lt=now - STALE_AFTER)
    )


def _take(candidate, worker_id: str, now) -> bool:
    """Claim one row read as ``candidate``; True only for the worker whose update matched.

    The filter repeats everything read (status, holder, claim time, attempts), so the
    update matches only if nobody changed the row in between.
    """
    pk, status, claimed_by, claimed_at, attempts = candidate
    same = Notification.objects.filter(
        pk=pk, status=status, claimed_by=claimed_by, claimed_at=claimed_at, attempts=attempts
    )
    if status == Status.QUEUED:
        updated = same.filter(next_attempt_at__lte=now).update(
            status=Status.SENDING, claimed_by=worker_id, claimed_at=now
        )
        return updated == 1
    # A crashed worker's row. The crash counts as an attempt, so that a message which
    # kills every worker that touches it ends as failed instead of looping for ever.
    error = _("處理程序 %(worker)s 於寄送途中中斷（%(time)s 領取）。") % {
        "worker": claimed_by,
        "time": roc.format_roc_datetime(claimed_at, seconds=True),
    }
    if attempts + 1 >= MAX_ATTEMPTS:
        if same.update(
            status=Status.FAILED,
            attempts=attempts + 1,
            last_error=error,
            claimed_by="",
            claimed_at=None,
        ):
            row = Notification.objects.get(pk=pk)
            _record(row, Status.SENDING, Status.FAILED, message=error)
        return False
    updated = same.update(
        status=Status.SENDING,
        claimed_by=worker_id,
        claimed_at=now,
        attempts=attempts + 1,
        last_error=error,
    )
    return updated == 1


def claim_batch(worker_id: str, now=None, limit: int = 20) -> list[Notification]:
    """Take up to ``limit`` due rows for ``worker_id``: queued ones whose time has come,
    and rows of crashed workers. Urgent first, then oldest first.

    On PostgreSQL the candidates are read with FOR UPDATE SKIP LOCKED, so concurrent
    workers read disjoint rows instead of competing for the same ones; the conditional
    update stays the guarantee on every database.
    """
    now = now or timezone.now()
    due = _due(now).order_by("-urgent", "next_attempt_at", "pk")
    taken = []
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        for candidate in due.values_list(*_CLAIM_FIELDS)[:limit]:
            if _take(candidate, worker_id, now):
                taken.append(candidate[0])
    if not taken:
        return []
    return list(
        Notification.objects.filter(pk__in=taken, status=Status.SENDING, claimed_by=worker_id)
        .select_related("recipient", "recipient__person")
        .order_by("-urgent", "next_attempt_at", "pk")
    )


def release(rows, worker_id: str) -> int:
    """Give claimed rows back to the queue untouched (the worker is stopping)."""
    return Notification.objects.filter(
        pk__in=[r.pk for r in rows], status=Status.SENDING, claimed_by=worker_id
    ).update(status=Status.QUEUED, claimed_by="", claimed_at=None)


# Sending --------------------------------------------------------------------------------


def _record(row, old: str, new: str, *, message: str = "", changes: dict | None = None):
    """The audit entry of a state change made with QuerySet.update (which sends no signal)."""
    trail.record(
        trail.Action.UPDATE,
        row,
        changes={"status": [old, new], **(changes or {})},
        message=message,
    )


def _message_id(row) -> str:
    # Stable per row: if a crash makes us send twice, mail clients see one message.
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<isms-notification-{row.pk}.{row.created_at:%Y%m%d%H%M%S}@{domain}>"


def build_message(row, address: str, connection=None) -> EmailMessage:
    """The e-mail of one row: UTF-8 zh-TW subject and body, from DEFAULT_FROM_EMAIL."""
    with translation.override(settings.LANGUAGE_CODE):
        footer = _("此信由校園資安管理平台自動寄出，請勿直接回覆。")
    return EmailMessage(
        subject=" ".join(row.subject.split()),  # no line breaks in a header
        body=f"{row.body.rstrip()}\n\n-- \n{footer}\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        connection=connection,
        headers={
            "Message-ID": _message_id(row),
            "Auto-Submitted": "auto-generated",  # RFC 3834: no auto-replies to this
            "X-ISMS-Notification": str(row.pk),
        },
    )


def _finish(row, new_status: str, **fields) -> bool:
    """Write the outcome, provided the row is still ours (a stale claim may have been
    taken over by another worker meanwhile: then that worker's outcome counts)."""
    updated = Notification.objects.filter(
        pk=row.pk, status=Status.SENDING, claimed_by=row.claimed_by
    ).update(status=new_status, **fields)
    if not updated:
        log.warning("notification %s was taken over by another worker; outcome dropped", row.pk)
        return False
    for name, value in fields.items():
        setattr(row, name, value)
    row.status = new_status
    return True


@transaction.atomic  # the outcome and its audit entry: one commit
def _sent(row) -> None:
    now = timezone.now()
    if not _finish(row, Status.SENT, sent_at=now, last_error="", claimed_by="", claimed_at=None):
        return
    _record(row, Status.SENDING, Status.SENT, changes={"sent_at": [None, now]})
    if row.is_digest:
        items = list(Notification.objects.filter(bundle=row, status=Status.DIGEST))
        Notification.objects.filter(pk__in=[i.pk for i in items]).update(
            status=Status.SENT, sent_at=now
        )
        for item in items:
            _record(
                item,
                Status.DIGEST,
                Status.SENT,
                changes={"sent_at": [None, now]},
                message=_("已併入每日彙整通知 #%(pk)s 寄出。") % {"pk": row.pk},
            )


@transaction.atomic
def note_failure(row, error: str, *, final: bool = False) -> None:
    """Count a failed attempt: retry after the back-off, or fail for good after
    MAX_ATTEMPTS (or at once when ``final``: retrying cannot help)."""
    attempts = row.attempts + 1
    error = error[:2000]
    if final or attempts >= MAX_ATTEMPTS:
        if _finish(
            row, Status.FAILED, attempts=attempts, last_error=error, claimed_by="", claimed_at=None
        ):
            _record(row, Status.SENDING, Status.FAILED, message=error)
        return
    _finish(
        row,
        Status.QUEUED,
        attempts=attempts,
        last_error=error,
        next_attempt_at=timezone.now() + backoff(attempts),
        claimed_by="",
        claimed_at=None,
    )


def _describe(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}".strip()


def deliver(row: Notification, *, connection=None) -> bool:
    """Send one claimed row; True when the mail server accepted it.

    1. No e-mail address (removed since it was queued) → failed at once, with the reason.
    2. Send through the configured backend (settings EMAIL_*).
    3. Accepted → sent (a digest also marks the rows it lists sent).
    4. Refused or unreachable → attempts + 1 and the next attempt after ``backoff``;
       the MAX_ATTEMPTS-th failure → failed, which stays visible and can be re-sent.
    """
    try:
        address = recipient_address(row.recipient)
        if not address:
            with translation.override(settings.LANGUAGE_CODE):
                note_failure(row, no_address_error(row.recipient), final=True)
            return False
        accepted = build_message(row, address, connection).send()
        if not accepted:
            raise RuntimeError("mail backend accepted no recipient")
    except DB_ERRORS:
        raise
    except Exception as exc:
        log.warning("notification %s: attempt %s failed: %s", row.pk, row.attempts + 1, exc)
        if connection is not None:
            _close_quietly(connection)  # a broken session is re-opened on the next send
        note_failure(row, _describe(exc))
        return False
    _sent(row)
    return True


def _close_quietly(conn) -> None:
    try:
        conn.close()
    except Exception:  # closing a broken connection may fail too
        log.debug("closing the mail connection failed", exc_info=True)


def deliver_due(worker_id: str, *, limit: int = 20, should_stop=lambda: False) -> tuple[int, int]:
    """Claim and send batches until nothing is due; returns (sent, not sent).

    One mail connection serves a batch. Stopping between two messages gives the rest of
    the batch back to the queue at once instead of after STALE_AFTER.
    """
    sent = unsent = 0
    while not should_stop():
        batch = claim_batch(worker_id, timezone.now(), limit)
        if not batch:
            break
        conn = open_connection()
        try:
            conn.open()
        except Exception as exc:
            # Unreachable: every row of the batch failed this attempt with the same error
            # (trying each would wait out the connect timeout once per row).
            log.warning("mail server unreachable: %s", exc)
            for row in batch:
                note_failure(row, _describe(exc))
            unsent += len(batch)
            _close_quietly(conn)
            continue
        try:
            for index, row in enumerate(batch):
                if should_stop():
                    release(batch[index:], worker_id)
                    break
                try:
                    ok = deliver(row, connection=conn)
                except DB_ERRORS:
                    raise
                except Exception as exc:
                    # A fault of ours on this one row: push its next look forward, go on.
                    log.exception("notification %s could not be handled", row.pk)
                    note_failure(row, _describe(exc))
                    ok = False
                sent += ok
                unsent += not ok
        finally:
            _close_quietly(conn)
        if len(batch) < limit:
            break
    return sent, unsent


# Daily digests ------------------------------------------------------------------------


def _local_zone():
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def digest_key(user_id: int, day) -> str:
    return f"digest:{user_id}:{day.isoformat()}"


def _digest_text(recipient, items, day) -> tuple[str, str]:
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("校園資安管理平台：您今日的待辦事項（%(count)d 項）") % {"count": len(items)}
        lines = [
            _("%(name)s 您好：") % {"name": recipient.display_name},
            "",
            _("以下是 %(date)s 為您彙整的 %(count)d 則通知：")
            % {"date": roc.format_roc(day), "count": len(items)},
            "",
        ]
        for number, item in enumerate(items, 1):
            lines.append(f"{number}. {item.subject}")
            lines.extend(f"   {line}" if line else "" for line in item.body.strip().splitlines())
            lines.append("")
        lines.append(_("您選擇每日彙整寄送；緊急通知仍會立即寄出。可在「通知設定」頁面變更。"))
    return subject, "\n".join(lines)


def _release_to_queue(user_id: int) -> None:
    """Rows left waiting for a person who now wants immediate mail go out at once."""
    now = timezone.now()
    for row in Notification.objects.pending_digest().filter(recipient_id=user_id):
        row.status = Status.QUEUED
        row.next_attempt_at = now
        row.save(update_fields=["status", "next_attempt_at"])


def _build_digest(user_id: int, key: str, day, now) -> Notification | None:
    """Bundle a person's waiting rows into one digest row (None if there is nothing, or
    another worker built today's digest first)."""
    with transaction.atomic():
        waiting = Notification.objects.pending_digest().filter(
            recipient_id=user_id, created_at__lte=now
        )
        if connection.features.has_select_for_update:
            waiting = waiting.select_for_update(of=("self",))
        items = list(waiting.select_related("recipient__person").order_by("created_at", "pk"))
        if not items:
            return None
        subject, body = _digest_text(items[0].recipient, items, day)
        digest = Notification(
            recipient_id=user_id,
            subject=subject,
            body=body,
            dedup_key=key,
            urgent=True,
            is_digest=True,
            next_attempt_at=now,
            created_at=now,
        )
        try:
            with transaction.atomic():
                digest.save(force_insert=True)
        except IntegrityError:
            return None
        Notification.objects.filter(pk__in=[i.pk for i in items]).update(bundle=digest)
    return digest


def send_digests(now=None, *, worker_id: str = "digest", connection=None) -> int:
    """Send each digest recipient, once a day after their hour, one mail listing what
    waited for them; returns how many digests were sent.

    1. People with waiting rows, and their chosen hour (Asia/Taipei; default 7).
    2. Skip those whose hour has not come yet today, and those whose digest of today
       exists (key ``digest:<user>:<date>``: idempotent per person per day, also
       across workers, through the outbox's unique key).
    3. Build the digest row (urgent, so it is not itself held for a digest), bundle the
       waiting rows into it, claim it and send it now; a failure retries like any row.
    """
    now = now or timezone.now()
    local = timezone.localtime(now, _local_zone())
    day = local.date()
    waiting = set(
        Notification.objects.pending_digest()
        .filter(created_at__lte=now)
        .values_list("recipient_id", flat=True)
        .distinct()
    )
    if not waiting:
        return 0
    prefs = {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=waiting)}
    due = {}
    for user_id in waiting:
        pref = prefs.get(user_id)
        if pref is None or pref.mode != NotificationPreference.Mode.DAILY_DIGEST:
            _release_to_queue(user_id)
        elif local.hour >= pref.digest_hour:
            due[user_id] = digest_key(user_id, day)
    done = set(
        Notification.objects.filter(dedup_key__in=due.values()).values_list("dedup_key", flat=True)
    )
    sent = 0
    for user_id, key in sorted(due.items()):
        if key in done:
            continue
        digest = _build_digest(user_id, key, day, now)
        if digest is None:
            continue
        candidate = (digest.pk, Status.QUEUED, "", None, 0)
        if _take(candidate, worker_id, now):
            digest.status, digest.claimed_by, digest.claimed_at = Status.SENDING, worker_id, now
            sent += deliver(digest, connection=connection)
    return sent


def stalled_count(now=None) -> int:
    """Rows that should have been handled more than STALE_AFTER ago: no worker is running,
    or one crashed while holding them (the register warns about both)."""
    now = now or timezone.now()
    late = now - STALE_AFTER
    return Notification.objects.filter(
        Q(status=Status.QUEUED, next_attempt_at__lt=late)
        | Q(status=Status.SENDING, claimed_at__lt=late)
    ).count()
