"""Vendors and confidentiality (clauses 5.1, 6; forms A-8, A-9, A-10): outsourced service
companies with their contacts, contracts with their security terms and people, and the
confidentiality agreements (保密切結書) of contract staff, vendors and vendor employees."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.core import roc
from isms.core.models import VoidableModel

USER = settings.AUTH_USER_MODEL


class Vendor(VoidableModel):
    """An outsourced service company (委外廠商, 6.1)."""

    name = models.CharField(_("公司名稱"), max_length=200)
    tax_id = models.CharField(
        _("統一編號"), max_length=8, help_text=_("8 位數字，依財政部規則檢核。")
    )
    representative = models.CharField(_("負責人"), max_length=100, blank=True)
    address = models.CharField(_("地址"), max_length=300, blank=True)
    phone = models.CharField(_("電話"), max_length=30, blank=True)
    email = models.EmailField(_("電子郵件"), blank=True)
    notes = models.TextField(_("備註"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("委外廠商")
        verbose_name_plural = _("委外廠商")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tax_id"],
                condition=models.Q(voided_at__isnull=True),
                name="vendors_one_active_vendor_per_tax_id",
            )
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("vendors:vendor_detail", args=[self.pk])


class VendorContact(models.Model):
    """A contact person of a vendor (窗口)."""

    vendor = models.ForeignKey(
        Vendor, verbose_name=_("委外廠商"), on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(_("姓名"), max_length=100)
    title = models.CharField(_("職稱"), max_length=100, blank=True)
    phone = models.CharField(_("電話"), max_length=30, blank=True)
    email = models.EmailField(_("電子郵件"), blank=True)

    class Meta:
        verbose_name = _("廠商聯絡人")
        verbose_name_plural = _("廠商聯絡人")
        ordering = ["vendor", "id"]

    def __str__(self):
        return f"{self.vendor} {self.name}"


class Contract(VoidableModel):
    """A contract with a vendor (6.1.1): its period, services, security and confidentiality
    terms, the systems it touches and the vendor's people who work at the school."""

    vendor = models.ForeignKey(
        Vendor, verbose_name=_("委外廠商"), on_delete=models.PROTECT, related_name="contracts"
    )
    title = models.CharField(_("合約名稱"), max_length=200)
    number = models.CharField(_("合約編號"), max_length=100, blank=True)
    start_on = models.DateField(_("起始日"))
    end_on = models.DateField(_("終止日"))
    services = models.TextField(_("服務項目"), help_text=_("每行一項（A-9 所列的服務項目）。"))
    security_terms = models.BooleanField(
        _("合約訂有資訊安全責任"), default=False, help_text=_("條文 6.1.1")
    )
    confidentiality_terms = models.BooleanField(
        _("合約訂有保密規定"), default=False, help_text=_("條文 6.1.1")
    )
    systems = models.ManyToManyField(
        "identity.InformationSystem",
        verbose_name=_("服務的資訊系統"),
        blank=True,
        related_name="contracts",
    )
    people = models.ManyToManyField(
        "core.Person",
        verbose_name=_("到校服務人員"),
        blank=True,
        related_name="vendor_contracts",
        help_text=_("人員名錄中身分為「委外廠商人員」者。"),
    )
    owner = models.ForeignKey(
        USER, verbose_name=_("承辦人"), on_delete=models.PROTECT, related_name="+"
    )
    # When the end (or a change that removed people) was turned into account-removal tasks.
    access_removal_opened_at = models.DateTimeField(
        _("帳號移除工作開立時間"), null=True, blank=True, editable=False
    )
    notes = models.TextField(_("備註"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("委外合約")
        verbose_name_plural = _("委外合約")
        ordering = ["-start_on", "id"]
        indexes = [models.Index(fields=["end_on"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_on__gte=models.F("start_on")),
                name="vendors_contract_ends_after_start",
            )
        ]

    def __str__(self):
        return f"{self.vendor}：{self.title}"

    def get_absolute_url(self):
        return reverse("vendors:contract_detail", args=[self.pk])


class Agreement(VoidableModel):
    """A confidentiality agreement (保密切結書): A-8 of a contract staff member (5.1), A-9 of
    a vendor company (6.1.2) or A-10 of a vendor employee (6.1.3). Generated as a print view,
    then recorded as signed with the signed scan attached.

    The A-8's ID number and household address are personal data: kept encrypted
    (``crypto.seal``), shown masked, revealed only to the security officer (audited).
    """

    class Form(models.TextChoices):
        A8 = "A-8", _("A-8 保密切結書（非正式、約聘僱人員）")
        A9 = "A-9", _("A-9 服務委外單位服務暨保密切結書")
        A10 = "A-10", _("A-10 委外廠商人員保密切結書")

    class Status(models.TextChoices):
        DRAFT = "draft", _("待簽署")
        SIGNED = "signed", _("已簽署")

    form = models.CharField(_("表單"), max_length=4, choices=Form.choices)
    person = models.ForeignKey(
        "core.Person",
        verbose_name=_("切結人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="agreements",
    )
    vendor = models.ForeignKey(
        Vendor,
        verbose_name=_("委外廠商"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="agreements",
    )
    contract = models.ForeignKey(
        Contract,
        verbose_name=_("委外合約"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="agreements",
    )
    position = models.CharField(
        _("職務或工作"),
        max_length=200,
        blank=True,
        help_text=_("A-8：擔任之職務；A-10：於本校執行之工作。"),
    )
    services = models.TextField(_("服務項目"), blank=True, help_text=_("A-9：每行一項。"))
    national_id_sealed = models.TextField(editable=False, blank=True)
    national_id_last4 = models.CharField(max_length=4, editable=False, blank=True)
    address_sealed = models.TextField(editable=False, blank=True)
    status = models.CharField(
        _("狀態"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    signed_on = models.DateField(_("簽署日期"), null=True, blank=True)
    valid_until = models.DateField(
        _("有效期限"), null=True, blank=True, help_text=_("留空為服務期間持續有效。")
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
    notes = models.TextField(_("備註"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("保密切結書")
        verbose_name_plural = _("保密切結書")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["form", "status"]),
            models.Index(fields=["person", "form"]),
            models.Index(fields=["vendor", "form"]),
            # The register's order: its pages read 50 rows without sorting them all.
            models.Index(fields=["-created_at", "-id"], name="vendors_agreement_order_idx"),
        ]

    def __str__(self):
        who = self.person or self.vendor or ""
        when = roc.format_roc(self.signed_on) if self.signed_on else ""
        return f"{self.form} {who} {when}".strip()

    def get_absolute_url(self):
        return reverse("vendors:agreement_detail", args=[self.pk])
