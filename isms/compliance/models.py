"""The policy as data: clauses, revisions, obligation settings and states."""

import secrets

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.core.models import VoidableModel


class Clause(models.Model):
    """One clause of the school's policy (e.g. 2.4.1), with its current text."""

    number = models.CharField(_("條文編號"), max_length=20, unique=True)
    title = models.CharField(_("標題"), max_length=200)
    text = models.TextField(_("條文內容"), blank=True)
    module = models.CharField(_("模組"), max_length=30, blank=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上層條文"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    form = models.CharField(_("表單"), max_length=10, blank=True, help_text=_("例如 A-1"))
    sort_key = models.CharField(max_length=60, editable=False, db_index=True)

    class Meta:
        verbose_name = _("條文")
        verbose_name_plural = _("條文")
        ordering = ["sort_key"]

    def __str__(self):
        return f"{self.number} {self.title}"

    def get_absolute_url(self):
        return reverse("compliance:clause_detail", args=[self.pk])


class PolicyRevision(VoidableModel):
    """A version of the policy: adopted by the 校務會議, approved by the principal (clause 9).

    A yearly review that changes nothing is recorded too (kind ``review``): it is the
    evidence that the policy was looked at.
    """

    class Kind(models.TextChoices):
        REVISION = "revision", _("修訂")
        REVIEW = "review", _("年度檢視（未修訂）")

    kind = models.CharField(_("類別"), max_length=10, choices=Kind.choices, default=Kind.REVISION)
    version = models.CharField(_("版本"), max_length=30, unique=True)
    adopted_on = models.DateField(_("校務會議通過日期"))
    approved_on = models.DateField(_("校長核定日期"), null=True, blank=True)
    summary = models.TextField(_("修訂摘要"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("政策版本")
        verbose_name_plural = _("政策版本")
        ordering = ["-adopted_on", "-id"]

    def __str__(self):
        return str(self.version)

    def get_absolute_url(self):
        return reverse("compliance:policyrevision_detail", args=[self.pk])

    @classmethod
    def current(cls):
        """The version in force: the latest approved one that is not voided."""
        return (
            cls.objects.active()
            .filter(approved_on__isnull=False, kind=cls.Kind.REVISION)
            .order_by("-approved_on", "-adopted_on", "-id")
            .first()
        )


class ContactReview(models.Model):
    """The security officer confirmed the A-6 contact table is complete and current."""

    reviewed_by = models.ForeignKey(
        "core.User", verbose_name=_("覆核者"), on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("覆核時間"))
    note = models.CharField(_("說明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("通報聯絡人覆核")
        verbose_name_plural = _("通報聯絡人覆核")
        ordering = ["-reviewed_at"]

    def __str__(self):
        return f"{self.reviewed_at:%Y-%m-%d} {self.reviewed_by}"

    def get_absolute_url(self):
        return reverse("core:contacts")


class ObligationSetting(models.Model):
    """A school's own rhythm and reminder window for a duty, within the policy's limits."""

    key = models.CharField(_("義務"), max_length=80, unique=True)
    rhythm = models.CharField(_("頻率"), max_length=20)
    due_soon_days = models.PositiveSmallIntegerField(_("提前提醒天數"))
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("義務設定")
        verbose_name_plural = _("義務設定")

    def __str__(self):
        return f"{self.key}: {self.rhythm}"

    def get_absolute_url(self):
        return reverse("compliance:settings")


class ObligationState(models.Model):
    """The computed state of one duty for one subject; the worker's next look is indexed."""

    class Status(models.TextChoices):
        OK = "ok", _("正常")
        DUE_SOON = "due_soon", _("即將到期")
        OVERDUE = "overdue", _("逾期")
        NEVER_DONE = "never_done", _("從未執行")

    key = models.CharField(_("義務"), max_length=80)
    clause = models.CharField(_("條文"), max_length=20, db_index=True)
    subject_type = models.CharField(_("對象類型"), max_length=100)
    subject_id = models.CharField(_("對象編號"), max_length=64)
    subject_label = models.CharField(_("對象"), max_length=200)
    responsible_role = models.CharField(_("負責角色"), max_length=30, db_index=True)
    status = models.CharField(_("狀態"), max_length=20, choices=Status.choices)
    last_done_at = models.DateTimeField(_("最近執行"), null=True, blank=True)
    next_due_at = models.DateTimeField(_("下次到期"), null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    period_end = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("義務狀態")
        verbose_name_plural = _("義務狀態")
        ordering = ["next_due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key", "subject_type", "subject_id"], name="obligation_state_unique"
            )
        ]
        indexes = [models.Index(fields=["status", "clause"])]

    def __str__(self):
        return f"{self.key} · {self.subject_label}: {self.status}"

    def get_absolute_url(self):
        return reverse("compliance:obligationstate_detail", args=[self.pk])


class CalendarFeed(models.Model):
    """A person's secret iCalendar URL of their due duties; only the key's hash is kept."""

    user = models.ForeignKey("core.User", on_delete=models.CASCADE, related_name="calendar_feeds")
    prefix = models.CharField(_("前綴"), max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最後使用"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("撤銷時間"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("行事曆訂閱")
        verbose_name_plural = _("行事曆訂閱")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.user} ({self.prefix}…)"

    def get_absolute_url(self):
        return reverse("compliance:calendar")


def binder_path(instance, filename):
    # A random name: the file is only ever served by the permission-checked download view.
    return f"binders/{secrets.token_hex(16)}.zip"


class Binder(models.Model):
    """An evidence binder (稽核佐證資料) for a range of days, built by the worker."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排隊中")
        BUILDING = "building", _("產生中")
        READY = "ready", _("已完成")
        FAILED = "failed", _("失敗")
        EXPIRED = "expired", _("已過期刪除")

    date_from = models.DateField(_("起日"))
    date_to = models.DateField(_("迄日"))
    requested_by = models.ForeignKey(
        "core.User", verbose_name=_("申請人"), on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("申請時間"), auto_now_add=True)
    status = models.CharField(
        _("狀態"), max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.PositiveSmallIntegerField(_("進度"), default=0)
    step = models.CharField(_("目前步驟"), max_length=200, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    started_at = models.DateTimeField(_("開始時間"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成時間"), null=True, blank=True)
    file = models.FileField(upload_to=binder_path, max_length=200, blank=True)
    size = models.PositiveBigIntegerField(_("大小"), null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(_("錯誤訊息"), blank=True)

    class Meta:
        verbose_name = _("稽核佐證資料")
        verbose_name_plural = _("稽核佐證資料")
        ordering = ["-requested_at", "-id"]

    def __str__(self):
        return f"{self.date_from:%Y-%m-%d}–{self.date_to:%Y-%m-%d} #{self.pk}"

    def get_absolute_url(self):
        return reverse("compliance:binder_detail", args=[self.pk])

    @property
    def active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.BUILDING)
