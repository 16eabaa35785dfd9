"""Personal-data protection (clause 7; the Personal Data Protection Act, 個人資料保護法):

- the official code lists of specific purposes (特定目的) and data categories (個人資料之
  類別), shipped as data and editable;
- the inventory of personal-data files (個人資料檔案, 7.1, PDPA art. 17) with its yearly
  review, shown on a public page;
- notices for public activities (7.3), approvals to publish personal data on a web page
  (7.4), hand-overs of paper personal data (7.6);
- data-subject requests (7.8; PDPA arts. 3, 10, 11, 13) with their legal deadlines;
- the notification of the people concerned after a personal-data leak (PDPA art. 12).
"""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from isms.core import roc
from isms.core.models import VoidableModel

USER = settings.AUTH_USER_MODEL


# The official code lists ------------------------------------------------------------------------
class PurposeCode(models.Model):
    """One specific purpose (特定目的) of the official list, e.g. 109 教育或訓練行政."""

    code = models.CharField(_("代號"), max_length=10, unique=True)
    name = models.CharField(_("特定目的"), max_length=300)
    is_active = models.BooleanField(_("使用中"), default=True)

    class Meta:
        verbose_name = _("特定目的")
        verbose_name_plural = _("特定目的")
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"

    def get_absolute_url(self):
        return reverse("privacy:purposecode_detail", args=[self.pk])


class CategoryCode(models.Model):
    """One data category (個人資料之類別) of the official list, e.g. C001 辨識個人者."""

    code = models.CharField(_("代號"), max_length=10, unique=True)
    name = models.CharField(_("類別"), max_length=200)
    group = models.CharField(_("分類"), max_length=50, blank=True, help_text=_("例如：識別類"))
    description = models.TextField(_("說明"), blank=True)
    is_active = models.BooleanField(_("使用中"), default=True)

    class Meta:
        verbose_name = _("個人資料類別")
        verbose_name_plural = _("個人資料類別")
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"

    def get_absolute_url(self):
        return reverse("privacy:categorycode_detail", args=[self.pk])


# The inventory (7.1; PDPA art. 17) ------------------------------------------------------------
class PersonalDataFile(VoidableModel):
    """個人資料檔案: a set of personal data the school keeps, with the four items the law
    requires to publish (name; holding unit and contact; legal basis and specific
    purposes; data categories) and what the school needs to manage it."""

    class Visibility(models.TextChoices):
        PUBLIC = "public", _("公開於學校網站")
        INTERNAL = "internal", _("不公開（內部）")

    name = models.CharField(_("個人資料檔案名稱"), max_length=200)
    unit = models.ForeignKey(
        "core.Unit", verbose_name=_("保有單位"), on_delete=models.PROTECT, related_name="+"
    )
    contact_name = models.CharField(_("聯絡人"), max_length=100, blank=True)
    contact_phone = models.CharField(_("聯絡電話"), max_length=30, blank=True)
    contact_email = models.EmailField(_("聯絡電子郵件"), blank=True)
    legal_basis = models.TextField(
        _("保有依據"), help_text=_("法律或法規命令的名稱與條次，例如：高級中等教育法第 43 條。")
    )
    purposes = models.ManyToManyField(PurposeCode, verbose_name=_("特定目的"), related_name="files")
    purpose_note = models.TextField(
        _("特定目的補充說明"), blank=True, help_text=_("代號不足以說明時，以文字補充。")
    )
    categories = models.ManyToManyField(
        CategoryCode, verbose_name=_("個人資料之類別"), related_name="files"
    )
    systems = models.ManyToManyField(
        "identity.InformationSystem",
        verbose_name=_("存放的資訊系統"),
        blank=True,
        related_name="personal_data_files",
    )
    assets = models.ManyToManyField(
        "assets.Asset",
        verbose_name=_("存放的設備"),
        blank=True,
        related_name="personal_data_files",
    )
    paper = models.BooleanField(_("含紙本"), default=False)
    retention = models.CharField(
        _("保存期限"), max_length=200, help_text=_("例如：學生畢業後 5 年；永久保存。")
    )
    users = models.TextField(
        _("利用範圍（可使用者）"), help_text=_("可使用此檔案的單位或職務，例如：教務處註冊組。")
    )
    visibility = models.CharField(
        _("公開"), max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    internal_reason = models.TextField(
        _("不公開理由"),
        blank=True,
        help_text=_("不公開時須寫明依據（個人資料保護法第 17 條但書、政府資訊公開法第 18 條）。"),
    )
    notes = models.TextField(_("備註"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("個人資料檔案")
        verbose_name_plural = _("個人資料檔案")
        ordering = ["unit__name", "name", "id"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("privacy:personaldatafile_detail", args=[self.pk])


class FileReview(models.Model):
    """The yearly review of one file of the inventory: still held, still right."""

    file = models.ForeignKey(
        PersonalDataFile,
        verbose_name=_("個人資料檔案"),
        on_delete=models.PROTECT,
        related_name="reviews",
    )
    reviewed_at = models.DateTimeField(_("檢視時間"))
    reviewer = models.ForeignKey(
        USER, verbose_name=_("檢視人"), on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(_("檢視說明"), blank=True)

    class Meta:
        verbose_name = _("個人資料檔案年度檢視")
        verbose_name_plural = _("個人資料檔案年度檢視")
        ordering = ["-reviewed_at", "-id"]
        indexes = [models.Index(fields=["file", "reviewed_at"])]

    def __str__(self):
        if self.reviewed_at is None or self.file_id is None:
            return str(_("個人資料檔案年度檢視"))
        return f"{self.file} {roc.format_roc(timezone.localtime(self.reviewed_at).date())}"

    def get_absolute_url(self):
        return self.file.get_absolute_url()


# Notices for public activities (7.3) -----------------------------------------------------------
class ActivityNotice(VoidableModel):
    """The notice (個人資料蒐集告知事項) that stands in a public activity's rules and sign-up
    form: who collects, why, where and how long it is used, which data, the person's rights
    and what happens without the data (PDPA art. 8)."""

    activity = models.CharField(_("活動名稱"), max_length=200)
    unit = models.ForeignKey(
        "core.Unit", verbose_name=_("主辦單位"), on_delete=models.PROTECT, related_name="+"
    )
    purpose = models.TextField(_("蒐集目的"))
    purposes = models.ManyToManyField(
        PurposeCode, verbose_name=_("特定目的"), blank=True, related_name="notices"
    )
    categories = models.ManyToManyField(
        CategoryCode, verbose_name=_("個人資料之類別"), related_name="notices"
    )
    period = models.CharField(
        _("利用期間"), max_length=200, help_text=_("例如：自報名日起至活動結束後一年。")
    )
    area = models.CharField(_("利用地區"), max_length=200, help_text=_("例如：中華民國境內。"))
    recipients = models.CharField(
        _("利用對象"), max_length=300, help_text=_("例如：本校及活動協辦單位。")
    )
    method = models.CharField(
        _("利用方式"), max_length=300, help_text=_("例如：報名聯繫、保險、公布得獎名單（姓名）。")
    )
    publishes_names = models.BooleanField(
        _("會公布部分個資（例如姓名）"), default=False, help_text=_("條文 7.3")
    )
    consequence = models.TextField(
        _("不提供之影響"), help_text=_("例如：若不提供完整資料，將無法完成報名。")
    )
    contact = models.CharField(_("聯絡窗口"), max_length=200)
    held_from = models.DateField(_("活動起日"), null=True, blank=True)
    held_to = models.DateField(_("活動迄日"), null=True, blank=True)
    created_by = models.ForeignKey(
        USER, verbose_name=_("建立者"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("活動個資告知事項")
        verbose_name_plural = _("活動個資告知事項")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.activity

    def get_absolute_url(self):
        return reverse("privacy:activitynotice_detail", args=[self.pk])


# Publishing personal data on a unit's web page (7.4) ------------------------------------------
class PublishingApproval(VoidableModel):
    """A request to publish personal data on a web page the unit manages, approved by the
    unit's head, with what, where and until when; taken down by then."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待核准")
        APPROVED = "approved", _("已核准")
        REJECTED = "rejected", _("不核准")
        REMOVED = "removed", _("已下架")

    unit = models.ForeignKey(
        "core.Unit", verbose_name=_("單位"), on_delete=models.PROTECT, related_name="+"
    )
    what = models.TextField(_("公布內容"), help_text=_("公布哪些人的哪些個人資料。"))
    categories = models.ManyToManyField(
        CategoryCode, verbose_name=_("個人資料之類別"), related_name="publications"
    )
    where = models.URLField(_("網頁網址"), max_length=500)
    reason = models.TextField(_("公布目的及依據"))
    publish_from = models.DateField(_("公布起日"))
    publish_until = models.DateField(_("公布期限"))
    status = models.CharField(
        _("狀態"), max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    requested_by = models.ForeignKey(
        USER, verbose_name=_("申請人"), on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("申請時間"), auto_now_add=True)
    decided_by = models.ForeignKey(
        USER,
        verbose_name=_("核准主管"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("核定時間"), null=True, blank=True)
    decision_note = models.TextField(_("核定意見"), blank=True)
    removed_by = models.ForeignKey(
        USER,
        verbose_name=_("下架登錄者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    removed_at = models.DateTimeField(_("下架時間"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("網頁公布個資核准")
        verbose_name_plural = _("網頁公布個資核准")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(publish_until__gte=models.F("publish_from")),
                name="privacy_publishing_until_after_from",
            )
        ]

    def __str__(self):
        return f"{self.unit} {self.where}"

    def get_absolute_url(self):
        return reverse("privacy:publishingapproval_detail", args=[self.pk])


# Hand-overs of paper personal data (7.6) -------------------------------------------------------
class PaperTransfer(VoidableModel):
    """One hand-over of paper personal data: sealed (or another way of keeping it
    confidential), from whom, to whom, when, what; the receipt confirmed by the recipient."""

    what = models.CharField(_("文件內容"), max_length=300)
    file = models.ForeignKey(
        PersonalDataFile,
        verbose_name=_("所屬個人資料檔案"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfers",
    )
    copies = models.PositiveIntegerField(_("份數"), default=1)
    sealed = models.BooleanField(_("彌封"), default=True)
    protection = models.CharField(
        _("其他保密方式"), max_length=300, blank=True, help_text=_("未彌封時須寫明保密方式。")
    )
    sender = models.ForeignKey(
        USER, verbose_name=_("轉交人"), on_delete=models.PROTECT, related_name="+"
    )
    recipient = models.ForeignKey(
        USER,
        verbose_name=_("收件人（本校）"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    external_recipient = models.CharField(
        _("收件人（校外）"), max_length=200, blank=True, help_text=_("校外機關或人員。")
    )
    handed_at = models.DateTimeField(_("轉交時間"))
    received_at = models.DateTimeField(_("收件確認時間"), null=True, blank=True)
    received_by = models.ForeignKey(
        USER,
        verbose_name=_("收件確認者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    receipt_note = models.CharField(_("收件說明"), max_length=300, blank=True)
    notes = models.TextField(_("備註"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("紙本個資轉交紀錄")
        verbose_name_plural = _("紙本個資轉交紀錄")
        ordering = ["-handed_at", "-id"]
        indexes = [
            models.Index(fields=["received_at", "handed_at"]),
            models.Index(fields=["-handed_at", "-id"], name="privacy_transfer_order_idx"),
        ]

    def __str__(self):
        if self.handed_at is None:
            return self.what
        return f"{roc.format_roc(timezone.localtime(self.handed_at).date())} {self.what}"

    def get_absolute_url(self):
        return reverse("privacy:papertransfer_detail", args=[self.pk])


# Data-subject requests (7.8; PDPA arts. 3, 10, 11, 13) ---------------------------------------
class SubjectRequest(VoidableModel):
    """A request of a data subject (當事人) to exercise a right of PDPA art. 3."""

    class Kind(models.TextChoices):
        QUERY = "query", _("查詢")
        VIEW = "view", _("請求閱覽")
        COPY = "copy", _("請求製給複製本")
        CORRECT = "correct", _("請求補充或更正")
        STOP = "stop", _("請求停止蒐集、處理或利用")
        DELETE = "delete", _("請求刪除")

    class Channel(models.TextChoices):
        COUNTER = "counter", _("臨櫃")
        LETTER = "letter", _("書面郵寄")
        EMAIL = "email", _("電子郵件")
        OTHER = "other", _("其他")

    class Decision(models.TextChoices):
        GRANTED = "granted", _("准予")
        PARTIAL = "partial", _("部分准予")
        REFUSED = "refused", _("駁回")

    number = models.CharField(_("案號"), max_length=20, unique=True, editable=False)
    kind = models.CharField(_("請求事項"), max_length=10, choices=Kind.choices)
    received_at = models.DateTimeField(_("受理時間"))
    channel = models.CharField(_("受理方式"), max_length=10, choices=Channel.choices)
    requester_name = models.CharField(_("請求人姓名"), max_length=100)
    requester_contact = models.CharField(
        _("請求人聯絡方式"), max_length=300, help_text=_("回覆寄送的地址或電子郵件。")
    )
    by_agent = models.BooleanField(_("由代理人提出"), default=False)
    agent_name = models.CharField(_("代理人姓名"), max_length=100, blank=True)
    details = models.TextField(_("請求內容"))
    files = models.ManyToManyField(
        PersonalDataFile, verbose_name=_("涉及的個人資料檔案"), blank=True, related_name="requests"
    )
    handler = models.ForeignKey(
        USER, verbose_name=_("承辦人"), on_delete=models.PROTECT, related_name="+"
    )
    # Identity (PDPA enforcement rules): checked before any decision.
    identity_checked_at = models.DateTimeField(_("身分查核時間"), null=True, blank=True)
    identity_checked_by = models.ForeignKey(
        USER,
        verbose_name=_("身分查核人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    identity_method = models.CharField(_("身分查核方式"), max_length=200, blank=True)
    # One extension (art. 13), with the written reason sent to the requester.
    extended_at = models.DateTimeField(_("延長時間"), null=True, blank=True)
    extension_reason = models.TextField(_("延長原因"), blank=True)
    extension_notified_on = models.DateField(_("延長書面通知日期"), null=True, blank=True)
    decision = models.CharField(_("准駁決定"), max_length=10, choices=Decision.choices, blank=True)
    decision_reason = models.TextField(_("決定理由及依據"), blank=True)
    decided_at = models.DateTimeField(_("決定時間"), null=True, blank=True)
    decided_by = models.ForeignKey(
        USER,
        verbose_name=_("決定人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    replied_at = models.DateTimeField(_("回覆時間"), null=True, blank=True)
    reply_method = models.CharField(_("回覆方式"), max_length=100, blank=True)
    reply_text = models.TextField(_("回覆內容"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("當事人權利請求")
        verbose_name_plural = _("當事人權利請求")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["replied_at", "received_at"]),
            models.Index(fields=["-received_at", "-id"], name="privacy_request_order_idx"),
        ]

    def __str__(self):
        return f"{self.number} {self.requester_name}"

    def get_absolute_url(self):
        return reverse("privacy:subjectrequest_detail", args=[self.pk])


# Leak follow-up (PDPA art. 12) ----------------------------------------------------------------
class LeakNotification(models.Model):
    """How the people concerned were told of a personal-data leak (PDPA art. 12: the facts,
    what was done, and where to ask), recorded against the incident."""

    incident = models.OneToOneField(
        "incidents.Incident",
        verbose_name=_("資安事件"),
        on_delete=models.PROTECT,
        related_name="leak_notification",
    )
    notified_at = models.DateTimeField(_("通知時間"))
    people_count = models.PositiveIntegerField(_("通知人數"))
    method = models.CharField(
        _("通知方式"), max_length=200, help_text=_("例如：書面、電子郵件、電話、公告。")
    )
    content = models.TextField(
        _("通知內容"), help_text=_("個資被侵害的事實、已採取的因應措施及諮詢專線。")
    )
    recorded_by = models.ForeignKey(
        USER, verbose_name=_("登錄者"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("個資外洩當事人通知")
        verbose_name_plural = _("個資外洩當事人通知")
        ordering = ["-notified_at", "-id"]

    def __str__(self):
        if self.notified_at is None or self.incident_id is None:
            return str(_("個資外洩當事人通知"))
        return f"{self.incident} {roc.format_roc(timezone.localtime(self.notified_at).date())}"

    def get_absolute_url(self):
        return reverse("privacy:leaknotification_detail", args=[self.pk])
