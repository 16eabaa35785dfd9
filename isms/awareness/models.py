"""Awareness (clauses 5.2, 8, 2.3, 7.5, 7.7): training sessions with attendance and each
person's yearly hours against the school's requirements, the semester legal-awareness
talks (法令宣導), and the offices' semester self-checks (辦公室自主檢查)."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.core import roc
from isms.core.models import VoidableModel

USER = settings.AUTH_USER_MODEL


class TrainingKind(models.TextChoices):
    MANAGEMENT = "management", _("資安管理教育訓練")
    AWARENESS = "awareness", _("資安通識教育訓練")
    PROFESSIONAL = "professional", _("資安專業教育訓練")


class TrainingSession(VoidableModel):
    """A training session or awareness activity (資訊安全教育訓練, 5.2)."""

    title = models.CharField(_("課程名稱"), max_length=200)
    held_on = models.DateField(_("日期"))
    hours = models.DecimalField(
        _("時數"),
        max_digits=4,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.5")), MaxValueValidator(Decimal("40"))],
    )
    kind = models.CharField(_("類別"), max_length=20, choices=TrainingKind.choices)
    organizer = models.CharField(_("主辦單位"), max_length=200, blank=True)
    location = models.CharField(_("地點"), max_length=200, blank=True)
    external = models.BooleanField(
        _("校外課程"), default=False, help_text=_("教職員參加校外機關辦理的課程。")
    )
    notes = models.TextField(_("備註"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("教育訓練")
        verbose_name_plural = _("教育訓練")
        ordering = ["-held_on", "-id"]
        indexes = [models.Index(fields=["held_on"])]

    def __str__(self):
        when = roc.format_roc(self.held_on) if self.held_on else ""
        return f"{self.title} {when}".strip()

    def get_absolute_url(self):
        return reverse("awareness:trainingsession_detail", args=[self.pk])


class Attendance(models.Model):
    """A person's attendance of a session, with the hours counted (the session's unless
    they left early) and a certificate as an attachment of the attendance."""

    session = models.ForeignKey(
        TrainingSession,
        verbose_name=_("教育訓練"),
        on_delete=models.CASCADE,
        related_name="attendances",
    )
    person = models.ForeignKey(
        "core.Person", verbose_name=_("人員"), on_delete=models.PROTECT, related_name="+"
    )
    hours = models.DecimalField(
        _("認列時數"),
        max_digits=4,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("40"))],
    )
    recorded_by = models.ForeignKey(
        USER,
        verbose_name=_("登錄者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)

    class Meta:
        verbose_name = _("出席紀錄")
        verbose_name_plural = _("出席紀錄")
        ordering = ["session", "person__name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "person"], name="awareness_attend_once")
        ]
        indexes = [models.Index(fields=["person", "session"])]

    def __str__(self):
        return f"{self.person} {self.session}"

    def get_absolute_url(self):
        return reverse("awareness:attendance_detail", args=[self.pk])


class TrainingRequirement(models.Model):
    """How many hours a year (calendar year, of the kinds listed) a group must attend.

    ``role`` is a role code (``security_officer``…) or ``""`` for every active staff member
    with a login; a person meets each requirement that applies to them.
    """

    role = models.CharField(_("適用角色"), max_length=30, blank=True)
    kinds = models.JSONField(_("認列類別"), default=list)
    hours = models.DecimalField(
        _("每年時數"),
        max_digits=4,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.5")), MaxValueValidator(Decimal("200"))],
    )
    notes = models.CharField(_("說明"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("教育訓練時數要求")
        verbose_name_plural = _("教育訓練時數要求")
        ordering = ["role", "id"]
        constraints = [
            models.UniqueConstraint(fields=["role"], name="awareness_one_requirement_per_role")
        ]

    def __str__(self):
        return f"{self.role or 'all'} {self.hours}"

    def get_absolute_url(self):
        return reverse("awareness:trainingrequirement_detail", args=[self.pk])


class LegalTalk(VoidableModel):
    """A legal-awareness talk at an assembly (法令宣導, clause 8): at least once a semester,
    covering intellectual property (8.1), personal data (8.2) and computer crime (8.3)."""

    held_on = models.DateField(_("日期"))
    occasion = models.CharField(
        _("集會場合"), max_length=200, help_text=_("例如：朝會、週會、教職員晨會、校務會議。")
    )
    audience = models.CharField(_("對象"), max_length=200, help_text=_("例如：全校師生。"))
    audience_count = models.PositiveIntegerField(_("參加人數"), null=True, blank=True)
    presenter = models.CharField(_("宣導人"), max_length=100)
    covers_ip = models.BooleanField(_("智慧財產權（8.1）"), default=False)
    covers_privacy = models.BooleanField(_("個人資料保護及隱私（8.2）"), default=False)
    covers_computer_crime = models.BooleanField(_("刑法妨害電腦使用罪章（8.3）"), default=False)
    summary = models.TextField(_("宣導內容摘要"), blank=True)
    recorded_by = models.ForeignKey(
        USER,
        verbose_name=_("登錄者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("法令宣導")
        verbose_name_plural = _("法令宣導")
        ordering = ["-held_on", "-id"]

    def __str__(self):
        when = roc.format_roc(self.held_on) if self.held_on else ""
        return f"{self.occasion} {when}".strip()

    def get_absolute_url(self):
        return reverse("awareness:legaltalk_detail", args=[self.pk])


# Office self-checks (2.3, 7.5, 7.7) ---------------------------------------------------------------
class OfficeHead(models.Model):
    """Who fills an office's semester self-check (the office's head, or a delegate)."""

    unit = models.OneToOneField(
        "core.Unit", verbose_name=_("單位"), on_delete=models.CASCADE, related_name="office_head"
    )
    user = models.ForeignKey(
        USER, verbose_name=_("單位主管（填表人）"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("單位自主檢查填表人")
        verbose_name_plural = _("單位自主檢查填表人")
        ordering = ["unit__name"]

    def __str__(self):
        return f"{self.unit} {self.user}"

    def get_absolute_url(self):
        return reverse("awareness:officehead_detail", args=[self.pk])


class SelfCheckItem(models.Model):
    """An item of the office self-check list; the school may edit, add and retire items."""

    text = models.CharField(_("檢查項目"), max_length=300)
    clause = models.CharField(_("條文"), max_length=20, blank=True)
    order = models.PositiveSmallIntegerField(_("順序"), default=0)
    active = models.BooleanField(_("使用中"), default=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("自主檢查項目")
        verbose_name_plural = _("自主檢查項目")
        ordering = ["order", "id"]

    def __str__(self):
        return self.text

    def get_absolute_url(self):
        return reverse("awareness:selfcheckitem_detail", args=[self.pk])


class SelfCheck(VoidableModel):
    """One office's self-check of one semester (學年度, 學期)."""

    unit = models.ForeignKey(
        "core.Unit", verbose_name=_("單位"), on_delete=models.PROTECT, related_name="+"
    )
    school_year = models.PositiveSmallIntegerField(_("學年度"))
    term = models.PositiveSmallIntegerField(
        _("學期"), validators=[MinValueValidator(1), MaxValueValidator(2)]
    )
    checked_on = models.DateField(_("檢查日期"))
    filled_by = models.ForeignKey(
        USER, verbose_name=_("填表人"), on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(_("說明"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("辦公室自主檢查")
        verbose_name_plural = _("辦公室自主檢查")
        ordering = ["-school_year", "-term", "unit__name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "school_year", "term"],
                condition=models.Q(voided_at__isnull=True),
                name="awareness_one_selfcheck_per_unit_term",
            )
        ]

    def __str__(self):
        from django.utils.translation import gettext

        term = gettext("%(year)d學年度第%(semester)d學期") % {
            "year": self.school_year,
            "semester": self.term,
        }
        return f"{self.unit} {term}"

    def get_absolute_url(self):
        return reverse("awareness:selfcheck_detail", args=[self.pk])


class SelfCheckResult(models.Model):
    """The answer to one item in one self-check; a failed item is a finding followed up."""

    check_record = models.ForeignKey(
        SelfCheck, verbose_name=_("自主檢查"), on_delete=models.CASCADE, related_name="results"
    )
    item = models.ForeignKey(
        SelfCheckItem, verbose_name=_("檢查項目"), on_delete=models.PROTECT, related_name="+"
    )
    # The item's text as it was asked (items may be edited later).
    text = models.CharField(_("檢查項目"), max_length=300)
    ok = models.BooleanField(_("符合"))
    note = models.CharField(_("說明"), max_length=300, blank=True)
    resolution = models.TextField(_("改善情形"), blank=True)
    resolved_at = models.DateTimeField(_("改善完成時間"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        USER,
        verbose_name=_("改善登錄者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("自主檢查結果")
        verbose_name_plural = _("自主檢查結果")
        ordering = ["check_record", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["check_record", "item"], name="awareness_one_result_per_item"
            )
        ]

    def __str__(self):
        return f"{self.check_record} {self.text}"
