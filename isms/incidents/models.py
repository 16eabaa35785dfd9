"""Security incidents (clause 2.10, A-6): the record, its timeline and escalation steps."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.core.models import VoidableModel

from . import levels


class Incident(VoidableModel):
    """One suspected or confirmed security incident, from the first report to its close."""

    class Status(models.TextChoices):
        REPORTED = "reported", _("待研判")
        OPEN = "open", _("處理中")
        CLOSED = "closed", _("已結案")
        DISMISSED = "dismissed", _("非資安事件")

    class Category(models.TextChoices):
        # 2.10.1, in the clause's order.
        INTRUSION = "intrusion", _("系統被入侵")
        OUTBOUND_ATTACK = "outbound_attack", _("對外攻擊")
        TARGETED_ATTACK = "targeted_attack", _("針對性攻擊")
        MALWARE = "malware", _("散播惡意程式")
        RELAY = "relay", _("中繼站")
        SOCIAL_ENGINEERING = "social_engineering", _("電子郵件社交工程攻擊")
        SPAM = "spam", _("垃圾郵件")
        C2_SERVER = "c2_server", _("命令或控制伺服器")
        BOT = "bot", _("殭屍電腦")
        MALICIOUS_WEB = "malicious_web", _("惡意網頁")
        MALICIOUS_MESSAGE = "malicious_message", _("惡意留言")
        DEFACEMENT = "defacement", _("網頁置換")
        PHISHING_WEB = "phishing_web", _("釣魚網頁")
        DATA_LEAK = "data_leak", _("個資外洩")
        OTHER = "other", _("其他")

    class Source(models.TextChoices):
        # 2.10.7, 2.10.8, 2.10.10
        SELF = "self", _("自行通報")
        NOTIFIED = "notified", _("告知通報")
        WARNING = "warning", _("資安預警")

    class WarningAnswer(models.TextChoices):
        FALSE_POSITIVE = "false_positive", _("誤判")
        CONFIRMED = "confirmed", _("確實事件")
        UNDETERMINED = "undetermined", _("無法判斷")

    number = models.CharField(_("事件編號"), max_length=20, unique=True, editable=False)
    status = models.CharField(
        _("狀態"), max_length=10, choices=Status.choices, default=Status.REPORTED, db_index=True
    )
    title = models.CharField(_("事件摘要"), max_length=200)
    description = models.TextField(_("事件說明"))
    location = models.CharField(_("發生地點或系統"), max_length=200, blank=True)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("通報人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reported_incidents",
    )
    reporter_contact = models.CharField(_("通報人聯絡方式"), max_length=100, blank=True)

    category = models.CharField(_("事件類型"), max_length=20, choices=Category.choices, blank=True)
    category_other = models.CharField(_("其他類型說明"), max_length=100, blank=True)
    source = models.CharField(
        _("情報來源"), max_length=10, choices=Source.choices, default=Source.SELF
    )
    occurred_at = models.DateTimeField(_("發生時間"), null=True, blank=True)
    discovered_at = models.DateTimeField(_("知悉時間"))
    affected_systems = models.TextField(_("受影響系統"), blank=True)
    affected_equipment = models.TextField(_("受影響設備"), blank=True)

    # The facts the platform asks for (2.10.6), copied from the "copy for the platform" view.
    equipment_ip = models.CharField(_("設備 IP"), max_length=200, blank=True)
    equipment_url = models.CharField(_("網址 URL"), max_length=300, blank=True)
    equipment_model = models.CharField(_("廠牌型號"), max_length=200, blank=True)
    equipment_os = models.CharField(_("作業系統"), max_length=200, blank=True)
    affected_software = models.CharField(_("受影響軟體"), max_length=300, blank=True)
    protection = models.CharField(_("已安裝之防護"), max_length=300, blank=True)
    measures_taken = models.TextField(_("已採取之措施"), blank=True)
    needs_support = models.BooleanField(_("需要外部支援"), default=False)

    # Level (2.10.2)
    unconfirmed_case = models.CharField(
        _("0 級情形"), max_length=20, choices=levels.UNCONFIRMED_CHOICES, blank=True
    )
    confidentiality_impact = models.PositiveSmallIntegerField(
        _("機密性衝擊"), choices=levels.CONFIDENTIALITY, null=True, blank=True
    )
    integrity_impact = models.PositiveSmallIntegerField(
        _("完整性衝擊"), choices=levels.INTEGRITY, null=True, blank=True
    )
    availability_impact = models.PositiveSmallIntegerField(
        _("可用性衝擊"), choices=levels.AVAILABILITY, null=True, blank=True
    )
    level_computed = models.PositiveSmallIntegerField(
        _("研判等級"), null=True, blank=True, editable=False
    )
    level_override = models.PositiveSmallIntegerField(
        _("調整後等級"), choices=levels.LEVELS, null=True, blank=True
    )
    level_override_reason = models.TextField(_("調整等級理由"), blank=True)
    level = models.PositiveSmallIntegerField(
        _("事件等級"), choices=levels.LEVELS, null=True, blank=True, editable=False, db_index=True
    )
    classified_at = models.DateTimeField(_("研判時間"), null=True, blank=True, editable=False)
    classified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("研判者"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="+",
    )

    # Deadlines (2.10.9), recomputed by services.recompute_deadlines on every change.
    report_due_at = models.DateTimeField(_("通報期限"), null=True, blank=True, editable=False)
    close_due_at = models.DateTimeField(_("結案期限"), null=True, blank=True, editable=False)
    change_report_due_at = models.DateTimeField(
        _("等級變更通報期限"), null=True, blank=True, editable=False
    )
    change_reported_at = models.DateTimeField(_("等級變更通報時間"), null=True, blank=True)

    # The platform (2.10.6–2.10.8, 2.10.10)
    reported_at = models.DateTimeField(_("平台通報時間"), null=True, blank=True)
    platform_ticket = models.CharField(_("平台事件單編號"), max_length=50, blank=True)
    platform_reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("平台通報人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    notice_text = models.TextField(_("告知通報內容"), blank=True)
    notice_received_at = models.DateTimeField(_("收到告知通報時間"), null=True, blank=True)
    warning_answer = models.CharField(
        _("預警回覆"), max_length=20, choices=WarningAnswer.choices, blank=True
    )
    warning_reason = models.TextField(_("預警回覆理由"), blank=True)
    warning_linked_ticket = models.CharField(_("對應自行通報單號"), max_length=50, blank=True)
    warning_answered_at = models.DateTimeField(_("預警回覆時間"), null=True, blank=True)

    # Closing
    containment = models.TextField(_("損害控制"), blank=True)
    recovery = models.TextField(_("復原作業"), blank=True)
    root_cause = models.TextField(_("事件原因"), blank=True)
    prevention = models.TextField(_("改善及預防措施"), blank=True)
    closed_at = models.DateTimeField(_("結案時間"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("結案者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    dismiss_reason = models.TextField(_("不成立理由"), blank=True)
    improvement_required = models.BooleanField(_("需提出調查、處理及改善報告"), default=False)
    improvement_due_at = models.DateTimeField(_("改善報告期限"), null=True, blank=True)
    improvement_done_at = models.DateTimeField(_("改善報告完成時間"), null=True, blank=True)
    improvement_summary = models.TextField(_("改善報告摘要"), blank=True)

    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("資安事件")
        verbose_name_plural = _("資安事件")
        ordering = ["-discovered_at", "-id"]
        indexes = [models.Index(fields=["status", "close_due_at"])]

    def __str__(self):
        return f"{self.number} {self.title}"

    def get_absolute_url(self):
        return reverse("incidents:incident_detail", args=[self.pk])

    @property
    def category_label(self) -> str:
        if self.category == self.Category.OTHER and self.category_other:
            return f"{self.get_category_display()}（{self.category_other}）"
        return self.get_category_display() if self.category else ""

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.REPORTED, self.Status.OPEN) and not self.is_voided

    @property
    def escalated(self) -> bool:
        return self.level is not None and self.level >= levels.ESCALATION_LEVEL


class TimelineEntry(models.Model):
    """One step in an incident's life: who did what, when (shown on the incident page)."""

    class Kind(models.TextChoices):
        REPORTED = "reported", _("通報")
        CREATED = "created", _("建立")
        CLASSIFIED = "classified", _("研判")
        LEVEL_CHANGED = "level_changed", _("等級變更")
        UPDATED = "updated", _("更新")
        ESCALATED = "escalated", _("升級通報")
        PLATFORM_REPORTED = "platform_reported", _("平台通報")
        CHANGE_REPORTED = "change_reported", _("等級變更通報")
        WARNING_ANSWERED = "warning_answered", _("預警回覆")
        STEP_DONE = "step_done", _("應變步驟完成")
        HELP_REQUESTED = "help_requested", _("請求協助")
        NOTE = "note", _("處理紀錄")
        CLOSED = "closed", _("結案")
        DISMISSED = "dismissed", _("判定非資安事件")
        IMPROVEMENT = "improvement", _("改善報告")

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField(_("時間"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("執行者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_label = models.CharField(_("執行者"), max_length=150, blank=True)
    kind = models.CharField(_("類別"), max_length=20, choices=Kind.choices)
    text = models.TextField(_("內容"), blank=True)

    class Meta:
        verbose_name = _("事件處理紀錄")
        verbose_name_plural = _("事件處理紀錄")
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.incident.number} {self.get_kind_display()}"

    def get_absolute_url(self):
        return self.incident.get_absolute_url()


class EscalationStep(models.Model):
    """A step of 2.10.4 / 2.10.5 the officer ticks with time and person."""

    class Kind(models.TextChoices):
        PHONE_BUREAU = "phone_bureau", _("以電話聯絡教育局(處)資訊安全管理單位")
        PRINCIPAL_MEETING = "principal_meeting", _("校長召集會議研商處理方式")
        REQUEST_HELP = "request_help", _("通報教育局(處)資訊安全管理單位協助處理")

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(_("步驟"), max_length=20, choices=Kind.choices)
    required = models.BooleanField(_("必要"), default=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    done_at = models.DateTimeField(_("完成時間"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("完成者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.CharField(_("說明"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("應變步驟")
        verbose_name_plural = _("應變步驟")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "kind"], name="incident_step_unique")
        ]

    def __str__(self):
        return f"{self.incident.number} {self.get_kind_display()}"

    def get_absolute_url(self):
        return self.incident.get_absolute_url()


class IncidentDrill(VoidableModel):
    """A yearly incident-response drill (資通安全事件通報及應變辦法), evidence of the duty."""

    held_on = models.DateField(_("演練日期"))
    scenario = models.CharField(_("演練情境"), max_length=200)
    participants = models.TextField(_("參與人員"), blank=True)
    findings = models.TextField(_("檢討與改善"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)

    class Meta:
        verbose_name = _("資安事件應變演練")
        verbose_name_plural = _("資安事件應變演練")
        ordering = ["-held_on", "-id"]

    def __str__(self):
        return f"{self.held_on:%Y-%m-%d} {self.scenario}"

    def get_absolute_url(self):
        return reverse("incidents:incidentdrill_detail", args=[self.pk])
