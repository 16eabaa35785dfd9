"""Filling the outbox and the changes people make to it. Each takes the acting person."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from isms.audit import trail

from .models import Notification, NotificationPreference

Status = Notification.Status


def recipient_address(user) -> str:
    """The e-mail address a login receives notifications at (its own, else its person's)."""
    if user.email:
        return user.email
    person = user.person if user.person_id else None
    return (person.email if person is not None else "") or ""


def preference_for(user) -> NotificationPreference:
    """The person's choice; an unsaved default (immediate) when they never chose."""
    pref = NotificationPreference.objects.filter(user=user).first()
    return pref or NotificationPreference(user=user)


def no_address_error(user) -> str:
    return _(
        "收件人「%(user)s」沒有電子郵件地址，無法寄送。請在登入帳號或人員資料補上電子郵件。"
    ) % {"user": user}


def queued_before(dedup_key: str) -> bool:
    return Notification.objects.filter(dedup_key=dedup_key).exists()


def notify(
    *,
    recipient,
    subject: str,
    body: str,
    dedup_key: str,
    urgent: bool = False,
    actor=None,
) -> Notification | None:
    """Queue a message for ``recipient`` once: None when ``dedup_key`` was queued before.

    1. A key already in the outbox → None (the same reminder is never queued twice).
    2. A recipient without an e-mail address → the row is kept, marked failed with the
       reason, so the failure is visible in the register (nothing is dropped silently).
    3. Not urgent and the recipient chose the daily digest → waits for the digest.
    4. Otherwise queued for immediate delivery by the worker.

    Two workers evaluating the same deadline at once race on the unique ``dedup_key``:
    the loser's INSERT fails inside its own savepoint and it gets None, while the caller's
    transaction stays usable.
    """
    if queued_before(dedup_key):
        return None
    now = timezone.now()
    row = Notification(
        recipient=recipient,
        subject=subject[:255],
        body=body,
        dedup_key=dedup_key,
        urgent=urgent,
        next_attempt_at=now,
        created_at=now,
    )
    if not recipient_address(recipient):
        row.status = Status.FAILED
        row.last_error = no_address_error(recipient)
    elif not urgent and preference_for(recipient).mode == NotificationPreference.Mode.DAILY_DIGEST:
        row.status = Status.DIGEST
    try:
        with transaction.atomic(), trail.as_actor(actor):
            row.save(force_insert=True)
    except IntegrityError:
        if Notification.objects.filter(dedup_key=dedup_key).exists():
            return None  # another worker queued it between our look and our insert
        raise
    return row


@transaction.atomic
def notification_resend(notification: Notification, *, actor) -> Notification:
    """Put a failed notification back in the queue, its attempts counted afresh."""
    row = (
        Notification.objects.select_for_update().select_related("recipient").get(pk=notification.pk)
    )
    if row.status != Status.FAILED:
        raise ValidationError(_("只有寄送失敗的通知可以重新寄送。"))
    if not recipient_address(row.recipient):
        raise ValidationError(no_address_error(row.recipient))
    row.status = Status.QUEUED
    row.attempts = 0
    row.next_attempt_at = timezone.now()
    row.claimed_by = ""
    row.claimed_at = None
    row.last_error = ""
    with trail.as_actor(actor):
        row.save()
    notification.refresh_from_db()
    return row


@transaction.atomic
def notification_preference_set(
    *, user, mode: str, digest_hour: int, actor
) -> NotificationPreference:
    """Save a person's delivery choice; leaving the digest releases what was waiting for it."""
    pref = NotificationPreference.objects.select_for_update().filter(user=user).first()
    pref = pref or NotificationPreference(user=user)
    pref.mode = mode
    pref.digest_hour = digest_hour
    pref.full_clean()
    with trail.as_actor(actor):
        pref.save()
        if mode == NotificationPreference.Mode.IMMEDIATE:
            # Waiting rows would otherwise wait for a digest that never comes.
            now = timezone.now()
            for row in Notification.objects.pending_digest().filter(recipient=user):
                row.status = Status.QUEUED
                row.next_attempt_at = now
                row.save(update_fields=["status", "next_attempt_at"])
    return pref
