"""The outbox: every message that must reach a person, and each person's delivery choice.

A row is written once, by ``services.notify``, and then moves through its states only by
the worker (``delivery``) or by a person re-sending a failed one::

    queued ──claim──▶ sending ──▶ sent
       ▲                 │
       └── retry later ◀─┴──▶ failed (after MAX_ATTEMPTS; re-sendable)
    digest ──daily digest built──▶ (bundled into one digest row) ──▶ sent
"""

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NotificationQuerySet(models.QuerySet):
    def failed(self):
        return self.filter(status=Notification.Status.FAILED)

    def pending_digest(self):
        """Rows waiting for their recipient's next daily digest (not yet bundled)."""
        return self.filter(status=Notification.Status.DIGEST, bundle__isnull=True)


class Notification(models.Model):
    """One message in the outbox (DESIGN.md, Notifications): queued, retried, never lost."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("電子郵件")

    class Status(models.TextChoices):
        QUEUED = "queued", _("待寄送")
        SENDING = "sending", _("寄送中")
        SENT = "sent", _("已寄出")
        FAILED = "failed", _("寄送失敗")
        DIGEST = "digest", _("待每日彙整")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("收件人"),
        on_delete=models.PROTECT,
        related_name="notifications",
    )
    channel = models.CharField(
        _("管道"), max_length=20, choices=Channel.choices, default=Channel.EMAIL
    )
    subject = models.CharField(_("主旨"), max_length=255)
    body = models.TextField(_("內容"))
    dedup_key = models.CharField(
        _("去重複鍵"),
        max_length=200,
        unique=True,
        help_text=_("同一鍵值的通知只會排入一次。"),
    )
    urgent = models.BooleanField(_("緊急"), default=False, help_text=_("緊急通知一律立即寄送。"))
    is_digest = models.BooleanField(_("每日彙整"), default=False, editable=False)
    bundle = models.ForeignKey(
        "self",
        verbose_name=_("併入彙整通知"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="items",
        editable=False,
    )
    status = models.CharField(
        _("狀態"), max_length=20, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("嘗試次數"), default=0)
    next_attempt_at = models.DateTimeField(_("下次嘗試"), default=timezone.now, db_index=True)
    claimed_by = models.CharField(_("處理程序"), max_length=100, blank=True)
    claimed_at = models.DateTimeField(_("領取時間"), null=True, blank=True)
    sent_at = models.DateTimeField(_("寄出時間"), null=True, blank=True)
    last_error = models.TextField(_("最近錯誤"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), default=timezone.now, editable=False)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The worker's two look-ups: due queued rows, and stale claims of crashed workers.
            models.Index(fields=["status", "next_attempt_at"], name="notif_due"),
            models.Index(
                fields=["claimed_at"], name="notif_claimed", condition=Q(status="sending")
            ),
            models.Index(fields=["recipient", "status"], name="notif_recipient_status"),
            models.Index(fields=["-created_at"], name="notif_created"),
        ]

    def __str__(self):
        return self.subject

    def get_absolute_url(self):
        return reverse("notifications:notification_detail", args=[self.pk])


class NotificationPreference(models.Model):
    """How one person wants non-urgent notifications: at once, or in one daily digest."""

    class Mode(models.TextChoices):
        IMMEDIATE = "immediate", _("立即寄送")
        DAILY_DIGEST = "daily_digest", _("每日彙整一封")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登入帳號"),
        on_delete=models.CASCADE,
        related_name="notification_preference",
    )
    mode = models.CharField(
        _("寄送方式"), max_length=20, choices=Mode.choices, default=Mode.IMMEDIATE
    )
    digest_hour = models.PositiveSmallIntegerField(
        _("每日彙整寄送時間（時）"),
        default=7,
        validators=[MaxValueValidator(23)],
        help_text=_("臺北時間 0–23 時；緊急通知不受影響，一律立即寄送。"),
    )
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("通知設定")
        verbose_name_plural = _("通知設定")
        constraints = [
            models.CheckConstraint(condition=Q(digest_hour__lte=23), name="notif_pref_hour")
        ]

    def __str__(self):
        return f"{self.user}：{self.get_mode_display()}"

    def get_absolute_url(self):
        return reverse("notifications:preferences")
