"""Operations (clauses 2.4, 2.5; form A-2): backup plans and their runs, restore tests,
the work log (資訊工作日誌) and time synchronisation (校時)."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.core import roc
from isms.core.models import KeyHolder, VoidableModel

USER = settings.AUTH_USER_MODEL


class BackupPlan(VoidableModel, KeyHolder):
    """What is backed up, how, where to and how often, for one system or server (2.4.1)."""

    class Content(models.TextChoices):
        SYSTEM_FILES = "system_files", _("系統檔案")
        WEBSITE = "website", _("網站")
        DATABASE = "database", _("資料庫")
        USER_FILES = "user_files", _("使用者檔案")
        CONFIGURATION = "configuration", _("設定檔")
        OTHER = "other", _("其他")

    class Medium(models.TextChoices):
        DEVICE = "device", _("異地備份設備")
        OPTICAL = "optical", _("光碟")
        USB = "usb", _("隨身碟")
        EXTERNAL_DISK = "external_disk", _("外接式硬碟")
        TAPE = "tape", _("磁帶")
        CLOUD = "cloud", _("雲端儲存")
        OTHER = "other", _("其他")

    name = models.CharField(_("名稱"), max_length=200)
    system = models.ForeignKey(
        "identity.InformationSystem",
        verbose_name=_("資訊系統"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="backup_plans",
    )
    server = models.ForeignKey(
        "assets.Asset",
        verbose_name=_("主機"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="backup_plans",
    )
    contents = models.JSONField(_("備份內容"), default=list, blank=True)
    contents_other = models.CharField(_("其他備份內容"), max_length=200, blank=True)
    method = models.CharField(_("備份方式"), max_length=300)
    destination = models.CharField(_("備份位置"), max_length=300)
    offsite = models.BooleanField(_("異地備份或異地存放"), default=False)
    offsite_location = models.CharField(_("異地存放地點"), max_length=300, blank=True)
    offsite_medium = models.CharField(
        _("異地存放媒體"), max_length=20, choices=Medium.choices, blank=True
    )
    rhythm_days = models.PositiveSmallIntegerField(
        _("備份頻率（天）"),
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(7)],
        help_text=_("每幾天至少備份一次；依條文 2.4.1 每週至少一次，最多 7 天。"),
    )
    responsible = models.ForeignKey(
        USER, verbose_name=_("負責系統管理人員"), on_delete=models.PROTECT, related_name="+"
    )
    # The product's own plan (``isms backup``): one at most.
    is_product = models.BooleanField(_("本平台自身備份"), default=False, editable=False)
    notes = models.TextField(_("備註"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("備份計畫")
        verbose_name_plural = _("備份計畫")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_product"],
                condition=models.Q(is_product=True),
                name="operations_one_product_plan",
            )
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("operations:backupplan_detail", args=[self.pk])


class BackupRun(models.Model):
    """One run of a plan: reported by the backup job, recorded by hand, or the product's."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", _("成功")
        FAILED = "failed", _("失敗")

    class Source(models.TextChoices):
        MANUAL = "manual", _("人工登錄")
        JOB = "job", _("備份程式回報")
        PRODUCT = "product", _("本平台備份指令")

    plan = models.ForeignKey(
        BackupPlan, verbose_name=_("備份計畫"), on_delete=models.PROTECT, related_name="runs"
    )
    started_at = models.DateTimeField(_("開始時間"))
    finished_at = models.DateTimeField(_("結束時間"), null=True, blank=True)
    status = models.CharField(_("結果"), max_length=20, choices=Status.choices)
    size_bytes = models.BigIntegerField(
        _("大小（位元組）"), null=True, blank=True, validators=[MinValueValidator(0)]
    )
    checksum = models.CharField(_("檢查碼"), max_length=200, blank=True)
    location = models.CharField(_("存放位置"), max_length=500, blank=True)
    log = models.TextField(_("執行紀錄"), blank=True)
    source = models.CharField(_("來源"), max_length=20, choices=Source.choices)
    recorded_by = models.ForeignKey(
        USER,
        verbose_name=_("登錄者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)

    class Meta:
        verbose_name = _("備份紀錄")
        verbose_name_plural = _("備份紀錄")
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["plan", "-started_at"]),
            models.Index(fields=["plan", "status", "-finished_at"]),
        ]

    def __str__(self):
        when = roc.format_roc_datetime(self.started_at) if self.started_at else ""
        return f"{self.plan} {when}".strip()

    def get_absolute_url(self):
        return reverse("operations:backuprun_detail", args=[self.pk])


class RestoreTest(VoidableModel):
    """A yearly check that a backup can be restored, usable and complete (2.4.2)."""

    class Checksum(models.TextChoices):
        MATCHED = "matched", _("相符")
        MISMATCHED = "mismatched", _("不符")
        NOT_COMPARED = "not_compared", _("未比對")

    plan = models.ForeignKey(
        BackupPlan, verbose_name=_("備份計畫"), on_delete=models.PROTECT, related_name="tests"
    )
    run = models.ForeignKey(
        BackupRun,
        verbose_name=_("還原的備份"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tests",
    )
    tested_on = models.DateField(_("測試日期"))
    restored_what = models.CharField(_("還原內容"), max_length=300)
    restored_to = models.CharField(_("還原至"), max_length=300)
    usable = models.BooleanField(_("資料可用"), default=False)
    complete = models.BooleanField(_("資料完整"), default=False)
    checksum = models.CharField(
        _("檢查碼比對"), max_length=20, choices=Checksum.choices, default=Checksum.NOT_COMPARED
    )
    tester = models.ForeignKey(
        USER, verbose_name=_("測試人員"), on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(_("說明"), blank=True)
    reviewed_by = models.ForeignKey(
        USER,
        verbose_name=_("主管覆核"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("覆核時間"), null=True, blank=True)
    review_note = models.TextField(_("覆核意見"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("備份還原測試")
        verbose_name_plural = _("備份還原測試")
        ordering = ["-tested_on", "-id"]

    def __str__(self):
        when = roc.format_roc(self.tested_on) if self.tested_on else ""
        return f"{self.plan} {when}".strip()

    def get_absolute_url(self):
        return reverse("operations:restoretest_detail", args=[self.pk])

    @property
    def passed(self) -> bool:
        """Usable, complete and no checksum found to differ."""
        return self.usable and self.complete and self.checksum != self.Checksum.MISMATCHED


class WorkLogEntry(VoidableModel):
    """One entry of the 資訊工作日誌 (A-2, 2.5.1), by hand or from the repair-request system."""

    class Kind(models.TextChoices):
        ROUTINE_CHECK = "routine_check", _("系統例行檢查")
        MAINTENANCE = "maintenance", _("系統維護")
        UPDATE = "update", _("系統更新操作")
        OTHER = "other", _("其它")

    operated_at = models.DateTimeField(_("操作日期"))
    system = models.ForeignKey(
        "identity.InformationSystem",
        verbose_name=_("系統名稱"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="work_log",
    )
    system_name = models.CharField(
        _("系統名稱（未登記）"),
        max_length=200,
        blank=True,
        help_text=_("系統未登記於資訊系統清冊時填寫（例如報修系統匯入的設備名稱）。"),
    )
    kind = models.CharField(_("操作事項"), max_length=20, choices=Kind.choices)
    kind_other = models.CharField(_("其它操作事項"), max_length=200, blank=True)
    description = models.TextField(_("操作說明"))
    correction = models.TextField(_("系統錯誤改正措施說明"), blank=True)
    administrator = models.ForeignKey(
        USER,
        verbose_name=_("系統管理人員"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    administrator_name = models.CharField(_("系統管理人員（報修系統）"), max_length=100, blank=True)
    # A ticket of the school's repair-request system (報修系統) stands in for the log (2.5.1).
    ticket_number = models.CharField(
        _("報修單號"), max_length=50, null=True, blank=True, unique=True
    )
    reviewed_by = models.ForeignKey(
        USER,
        verbose_name=_("主管覆核"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("覆核時間"), null=True, blank=True)
    review_note = models.TextField(_("覆核意見"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("資訊工作日誌")
        verbose_name_plural = _("資訊工作日誌")
        ordering = ["-operated_at", "-id"]
        indexes = [models.Index(fields=["reviewed_at", "operated_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.system or self.system_name}"

    def get_absolute_url(self):
        return reverse("operations:worklogentry_detail", args=[self.pk])


class TimeSync(models.Model):
    """A time synchronisation of a server with its measured offset (2.5.2, quarterly)."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("人工登錄")
        CHECK = "check", _("校時檢查指令")

    server = models.ForeignKey(
        "assets.Asset",
        verbose_name=_("主機"),
        on_delete=models.PROTECT,
        related_name="time_syncs",
    )
    host = models.CharField(_("主機位址"), max_length=255, blank=True)
    checked_at = models.DateTimeField(_("校時時間"))
    offset_ms = models.FloatField(_("時間誤差（毫秒）"), null=True, blank=True)
    reference = models.CharField(_("校時來源"), max_length=255, blank=True)
    ok = models.BooleanField(_("誤差在容許範圍內"), default=True)
    error = models.CharField(_("錯誤"), max_length=300, blank=True)
    source = models.CharField(_("來源"), max_length=20, choices=Source.choices)
    recorded_by = models.ForeignKey(
        USER,
        verbose_name=_("登錄者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.CharField(_("說明"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)

    class Meta:
        verbose_name = _("校時紀錄")
        verbose_name_plural = _("校時紀錄")
        ordering = ["-checked_at", "-id"]
        indexes = [models.Index(fields=["server", "-checked_at"])]

    def __str__(self):
        when = roc.format_roc_datetime(self.checked_at) if self.checked_at else ""
        return f"{self.server} {when}".strip()

    def get_absolute_url(self):
        return reverse("operations:timesync_detail", args=[self.pk])


def import_path(instance, filename):
    import secrets

    return f"worklog-imports/{secrets.token_hex(16)}"


class WorkLogImport(models.Model):
    """An export of the repair-request system (報修系統), read, previewed, applied all or
    nothing as work-log entries (2.5.1: the repair system stands in for the daily log)."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("已上傳")
        READ = "read", _("已預覽")
        APPLIED = "applied", _("已匯入")
        DISCARDED = "discarded", _("已放棄")

    file = models.FileField(upload_to=import_path, max_length=200)
    original_name = models.CharField(_("檔名"), max_length=255)
    encoding = models.CharField(_("編碼"), max_length=20, blank=True)
    mapping = models.JSONField(_("欄位對應"), default=dict, blank=True)
    status = models.CharField(
        _("狀態"), max_length=10, choices=Status.choices, default=Status.UPLOADED
    )
    rows = models.PositiveIntegerField(_("筆數"), default=0)
    errors = models.JSONField(_("錯誤"), default=list, blank=True)
    preview = models.JSONField(_("預覽"), default=dict, blank=True)
    uploaded_by = models.ForeignKey(
        USER, verbose_name=_("上傳者"), on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("上傳時間"), auto_now_add=True)
    applied_by = models.ForeignKey(
        USER,
        verbose_name=_("匯入者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    applied_at = models.DateTimeField(_("匯入時間"), null=True, blank=True)

    class Meta:
        verbose_name = _("報修紀錄匯入")
        verbose_name_plural = _("報修紀錄匯入")
        ordering = ["-uploaded_at", "-id"]

    def __str__(self):
        return self.original_name

    def get_absolute_url(self):
        return reverse("operations:worklogimport_detail", args=[self.pk])
