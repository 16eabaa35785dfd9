"""Accounts and access (clauses 2.7–2.9, 6.2; forms A-3, A-4, A-5).

Information systems, every account on them, account requests (A-3) and their lines,
off-boarding tasks, semester reviews of each system's accounts, the semester review of
privileged accounts (A-4), and imports of account lists for reconciliation.
"""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from isms.core.models import Person, Unit, VoidableModel

USER = settings.AUTH_USER_MODEL


class InformationSystem(VoidableModel):
    """A system the school runs (校務行政系統, e-mail, website, Wi-Fi, directory, …)."""

    class SignIn(models.TextChoices):
        LOCAL = "local", _("系統自有帳號")
        DIRECTORY = "directory", _("目錄服務（AD/LDAP）")
        SSO = "sso", _("單一簽入（SSO/OpenID）")
        EDUCATION_ID = "education_id", _("教育雲端帳號")
        OTHER = "other", _("其他")

    name = models.CharField(_("系統名稱"), max_length=100, unique=True)
    purpose = models.CharField(_("用途"), max_length=300, blank=True)
    owner_unit = models.ForeignKey(
        Unit, verbose_name=_("權責單位"), null=True, blank=True, on_delete=models.PROTECT
    )
    administrators = models.ManyToManyField(
        USER, verbose_name=_("系統管理人員"), blank=True, related_name="administered_systems"
    )
    core_business = models.BooleanField(
        _("核心業務"),
        default=False,
        help_text=_("核心業務系統遭入侵或停頓時，資安事件等級較高（條文 2.10.2）。"),
    )
    hosting = models.CharField(_("主機或代管"), max_length=200, blank=True)
    url = models.URLField(_("網址"), blank=True)
    sign_in = models.CharField(
        _("登入方式"), max_length=20, choices=SignIn.choices, default=SignIn.LOCAL
    )
    holds_personal_data = models.BooleanField(_("存有個人資料"), default=False)
    # Who may ask for an account with the A-3 form (2.7 授權使用): the system's managing
    # unit decides; closed systems get accounts from their administrators only.
    requests_open = models.BooleanField(
        _("開放帳號申請"),
        default=True,
        help_text=_("關閉時，不能以帳號申請單申請此系統的帳號，由系統管理人員直接建立。"),
    )
    request_units = models.ManyToManyField(
        "core.Unit",
        verbose_name=_("可申請單位"),
        blank=True,
        related_name="+",
        help_text=_("只有這些單位的人員可以申請此系統的帳號；留空表示全校人員皆可申請。"),
    )
    notes = models.TextField(_("備註"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("資訊系統")
        verbose_name_plural = _("資訊系統")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("identity:system_detail", args=[self.pk])


class Account(VoidableModel):
    """One account on one system (2.7): whose it is, what kind, and its state."""

    class Kind(models.TextChoices):
        PERSONAL = "personal", _("個人")
        SHARED = "shared", _("共用")
        SERVICE = "service", _("服務")
        PRIVILEGED = "privileged", _("特權")

    class Status(models.TextChoices):
        ACTIVE = "active", _("啟用")
        DISABLED = "disabled", _("停用")
        REMOVED = "removed", _("已刪除")

    class Source(models.TextChoices):
        MANUAL = "manual", _("手動登錄")
        REQUEST = "request", _("帳號申請單")
        IMPORT = "import", _("帳號清單匯入")

    system = models.ForeignKey(
        InformationSystem, verbose_name=_("系統"), on_delete=models.PROTECT, related_name="accounts"
    )
    username = models.CharField(_("帳號"), max_length=150)
    # The account name as systems compare it (case-insensitive): unique per system.
    username_key = models.CharField(max_length=150, editable=False)
    person = models.ForeignKey(
        Person,
        verbose_name=_("使用人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
    )
    display_name = models.CharField(_("顯示名稱"), max_length=150, blank=True)
    email = models.EmailField(_("電子郵件"), blank=True)
    kind = models.CharField(_("類型"), max_length=12, choices=Kind.choices, default=Kind.PERSONAL)
    rights = models.TextField(
        _("特權權限"), blank=True, help_text=_("特權帳號所擁有的權限（A-4）。")
    )
    shared_justification = models.TextField(
        _("共用理由"), blank=True, help_text=_("共用帳號須以書面說明理由（條文 2.9.2）。")
    )
    status = models.CharField(
        _("狀態"), max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    created_on = models.DateField(_("建立日期"), null=True, blank=True)
    disabled_on = models.DateField(_("停用日期"), null=True, blank=True)
    removed_on = models.DateField(_("刪除日期"), null=True, blank=True)
    last_sign_in = models.DateTimeField(_("最後登入"), null=True, blank=True)
    source = models.CharField(
        _("來源"), max_length=10, choices=Source.choices, default=Source.MANUAL
    )
    request_line = models.ForeignKey(
        "AccountRequestLine",
        verbose_name=_("建立依據"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    default_password_expires_at = models.DateTimeField(_("預設通行碼到期"), null=True, blank=True)
    password_changed_at = models.DateTimeField(_("確認變更通行碼"), null=True, blank=True)
    # The holder themself, or the office on their word (recorded as such).
    password_confirmed_by = models.ForeignKey(
        USER,
        verbose_name=_("通行碼變更確認人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    notes = models.TextField(_("備註"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        # "帳號" alone is also an account's name (its column): the record has its own context.
        verbose_name = pgettext_lazy("record", "帳號")
        verbose_name_plural = pgettext_lazy("records", "帳號")
        ordering = ["system__name", "username_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "username_key"], name="account_unique_per_system"
            )
        ]
        indexes = [models.Index(fields=["status", "kind"])]

    def __str__(self):
        return f"{self.system.name}：{self.username}"

    def save(self, *args, **kwargs):
        self.username_key = self.username.strip().lower()
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("identity:account_detail", args=[self.pk])

    @property
    def unjustified_shared(self) -> bool:
        return self.kind == self.Kind.SHARED and not self.shared_justification.strip()


class AccountRequest(VoidableModel):
    """An account request (帳號申請單, A-3): who asks, and its lines."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("已送出")
        EXECUTED = "executed", _("已執行")
        REVIEWED = "reviewed", _("主管已覆核")
        REJECTED = "rejected", _("退回")

    number = models.CharField(_("申請單編號"), max_length=20, unique=True, editable=False)
    applicant = models.ForeignKey(
        Person, verbose_name=_("申請人"), on_delete=models.PROTECT, related_name="account_requests"
    )
    unit = models.ForeignKey(
        Unit, verbose_name=_("單位"), null=True, blank=True, on_delete=models.PROTECT
    )
    extension = models.CharField(_("分機"), max_length=20, blank=True)
    requested_on = models.DateField(_("申請日期"))
    remarks = models.TextField(_("備註"), blank=True)  # the applicant's, printed on A-3
    submitted_by = models.ForeignKey(
        USER, verbose_name=_("填單人"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("狀態"), max_length=10, choices=Status.choices, default=Status.SUBMITTED, db_index=True
    )
    reviewed_by = models.ForeignKey(
        USER,
        verbose_name=_("覆核主管"),
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
        verbose_name = _("帳號申請單")
        verbose_name_plural = _("帳號申請單")
        ordering = ["-requested_on", "-id"]

    def __str__(self):
        return f"{self.number} {self.applicant}"

    def get_absolute_url(self):
        return reverse("identity:accountrequest_detail", args=[self.pk])


class AccountRequestLine(models.Model):
    """One line of A-3: a system, an account, an action; executed with a record of how."""

    class Action(models.TextChoices):
        ADD = "add", _("新增")
        DELETE = "delete", _("刪除")
        REENABLE = "reenable", _("重新啟用")
        DISABLE = "disable", _("停用")
        CHANGE = "change", _("異動")
        RESET_PASSWORD = "reset_password", _("重設通行碼")

    request = models.ForeignKey(AccountRequest, on_delete=models.CASCADE, related_name="lines")
    system = models.ForeignKey(InformationSystem, verbose_name=_("系統"), on_delete=models.PROTECT)
    account_name = models.CharField(_("帳號"), max_length=150)
    action = models.CharField(_("申請項目"), max_length=20, choices=Action.choices)
    note = models.CharField(_("說明"), max_length=300, blank=True)
    executed_at = models.DateTimeField(_("執行時間"), null=True, blank=True)
    executed_by = models.ForeignKey(
        USER,
        verbose_name=_("執行人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    execution_note = models.CharField(_("執行說明"), max_length=300, blank=True)
    # 2.7: the executor checked that the system's managing unit authorises this use.
    authorisation_checked = models.BooleanField(_("已確認經系統管理單位授權"), default=False)
    account = models.ForeignKey(
        Account,
        verbose_name=_("帳號紀錄"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="request_lines",
    )

    class Meta:
        verbose_name = _("帳號申請項目")
        verbose_name_plural = _("帳號申請項目")
        ordering = ["id"]

    def __str__(self):
        return f"{self.request.number} {self.get_action_display()} {self.account_name}"

    def get_absolute_url(self):
        return self.request.get_absolute_url()


class OffboardingTask(models.Model):
    """Remove an account of a person who left or moved, or of a vendor whose contract ended."""

    class Reason(models.TextChoices):
        LEFT = "left", _("離職")
        MOVED = "moved", _("調職")
        VENDOR_ENDED = "vendor_ended", _("委外服務終止")

    account = models.ForeignKey(
        Account,
        verbose_name=pgettext_lazy("record", "帳號"),
        on_delete=models.PROTECT,
        related_name="offboarding",
    )
    person = models.ForeignKey(Person, verbose_name=_("人員"), on_delete=models.PROTECT)
    reason = models.CharField(_("原因"), max_length=20, choices=Reason.choices)
    effective_on = models.DateField(_("生效日期"))
    due_on = models.DateField(_("完成期限"))
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    done_at = models.DateTimeField(_("完成時間"), null=True, blank=True)
    done_by = models.ForeignKey(
        USER,
        verbose_name=_("完成者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    outcome = models.CharField(
        _("處理結果"),
        max_length=10,
        choices=[("removed", _("已刪除")), ("disabled", _("已停用")), ("kept", _("保留（說明）"))],
        blank=True,
    )
    note = models.CharField(_("說明"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("帳號移除工作")
        verbose_name_plural = _("帳號移除工作")
        ordering = ["done_at", "due_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=models.Q(done_at__isnull=True),
                name="offboarding_one_open_task_per_account",
            )
        ]

    def __str__(self):
        return f"{self.account} ({self.get_reason_display()})"

    def get_absolute_url(self):
        return reverse("identity:offboardingtask_detail", args=[self.pk])


class AccountReview(models.Model):
    """The semester check of one system's accounts (2.7), started by the security officer."""

    system = models.ForeignKey(
        InformationSystem, verbose_name=_("系統"), on_delete=models.PROTECT, related_name="reviews"
    )
    school_year = models.PositiveSmallIntegerField(_("學年度"))
    semester = models.PositiveSmallIntegerField(
        _("學期"), choices=[(1, _("第 1 學期")), (2, _("第 2 學期"))]
    )
    started_by = models.ForeignKey(
        USER, verbose_name=_("發起人"), on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(_("發起時間"))
    completed_by = models.ForeignKey(
        USER,
        verbose_name=_("確認人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    completed_at = models.DateTimeField(_("完成時間"), null=True, blank=True)
    note = models.TextField(_("說明"), blank=True)

    class Meta:
        verbose_name = _("帳號定期檢查")
        verbose_name_plural = _("帳號定期檢查")
        ordering = ["-school_year", "-semester", "system__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "school_year", "semester"], name="account_review_per_term"
            )
        ]

    def __str__(self):
        return f"{self.system} {self.school_year}-{self.semester}"

    def get_absolute_url(self):
        return reverse("identity:accountreview_detail", args=[self.pk])


class AccountReviewItem(models.Model):
    """One account in a semester review: confirmed, or disabled, by the system's owner."""

    class Decision(models.TextChoices):
        KEEP = "keep", _("確認保留")
        DISABLE = "disable", _("停用")

    review = models.ForeignKey(AccountReview, on_delete=models.CASCADE, related_name="items")
    account = models.ForeignKey(
        Account, verbose_name=pgettext_lazy("record", "帳號"), on_delete=models.PROTECT
    )
    decision = models.CharField(_("結果"), max_length=10, choices=Decision.choices, blank=True)
    decided_by = models.ForeignKey(
        USER,
        verbose_name=_("確認人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("確認時間"), null=True, blank=True)
    note = models.CharField(_("說明"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("帳號檢查項目")
        verbose_name_plural = _("帳號檢查項目")
        ordering = ["account__username_key"]
        constraints = [
            models.UniqueConstraint(fields=["review", "account"], name="review_item_unique")
        ]

    def __str__(self):
        return f"{self.review} {self.account.username}"

    def get_absolute_url(self):
        return self.review.get_absolute_url()


class PrivilegedReview(models.Model):
    """A-4: the list of privileged accounts with their rights, reviewed each semester."""

    school_year = models.PositiveSmallIntegerField(_("學年度"))
    semester = models.PositiveSmallIntegerField(
        _("學期"), choices=[(1, _("第 1 學期")), (2, _("第 2 學期"))]
    )
    prepared_by = models.ForeignKey(
        USER, verbose_name=_("填寫人"), on_delete=models.PROTECT, related_name="+"
    )
    prepared_at = models.DateTimeField(_("填寫時間"))
    reviewed_by = models.ForeignKey(
        USER,
        verbose_name=_("覆核主管"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("覆核時間"), null=True, blank=True)
    review_note = models.TextField(_("覆核意見"), blank=True)

    class Meta:
        verbose_name = _("特權帳號清單覆核")
        verbose_name_plural = _("特權帳號清單覆核")
        ordering = ["-school_year", "-semester"]
        constraints = [
            models.UniqueConstraint(
                fields=["school_year", "semester"], name="privileged_review_per_term"
            )
        ]

    def __str__(self):
        return f"{self.school_year}-{self.semester}"

    def get_absolute_url(self):
        return reverse("identity:privilegedreview_detail", args=[self.pk])


class PrivilegedReviewItem(models.Model):
    """A privileged account as it stood when the A-4 list was prepared."""

    review = models.ForeignKey(PrivilegedReview, on_delete=models.CASCADE, related_name="items")
    account = models.ForeignKey(
        Account, verbose_name=pgettext_lazy("record", "帳號"), on_delete=models.PROTECT
    )
    rights = models.TextField(_("權限說明"))
    holder = models.CharField(_("人員姓名"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("特權帳號清單項目")
        verbose_name_plural = _("特權帳號清單項目")
        ordering = ["account__system__name", "account__username_key"]

    def __str__(self):
        return f"{self.review} {self.account}"

    def get_absolute_url(self):
        return self.review.get_absolute_url()


def import_path(instance, filename):
    import secrets

    return f"imports/{secrets.token_hex(16)}"


class AccountImport(models.Model):
    """An account list exported from a system, read and compared with the register."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("已上傳")
        READING = "reading", _("讀取中")
        READ = "read", _("已比對")
        FAILED = "failed", _("無法讀取")
        QUEUED = "queued", _("等待套用")
        APPLYING = "applying", _("套用中")
        APPLIED = "applied", _("已套用")
        DISCARDED = "discarded", _("已放棄")

    system = models.ForeignKey(
        InformationSystem, verbose_name=_("系統"), on_delete=models.PROTECT, related_name="imports"
    )
    file = models.FileField(upload_to=import_path, max_length=200)
    original_name = models.CharField(_("檔名"), max_length=255)
    encoding = models.CharField(_("編碼"), max_length=20, blank=True)
    mapping = models.JSONField(_("欄位對應"), default=dict, blank=True)
    unused_days = models.PositiveSmallIntegerField(_("未使用天數"), default=180)
    status = models.CharField(
        _("狀態"), max_length=10, choices=Status.choices, default=Status.UPLOADED
    )
    progress = models.PositiveSmallIntegerField(_("進度"), default=0)
    rows = models.PositiveIntegerField(_("筆數"), default=0)
    errors = models.JSONField(_("錯誤"), default=list, blank=True)
    differences = models.JSONField(_("差異"), default=dict, blank=True)
    uploaded_by = models.ForeignKey(
        USER, verbose_name=_("上傳者"), on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("上傳時間"), auto_now_add=True)
    applied_by = models.ForeignKey(
        USER,
        verbose_name=_("套用者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    applied_at = models.DateTimeField(_("套用時間"), null=True, blank=True)
    # A large apply runs in the worker: the officer's choices wait here with the request.
    apply_options = models.JSONField(_("套用選項"), default=dict, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    apply_error = models.TextField(_("套用失敗原因"), blank=True)

    class Meta:
        verbose_name = _("帳號清單匯入")
        verbose_name_plural = _("帳號清單匯入")
        ordering = ["-uploaded_at", "-id"]

    def __str__(self):
        return f"{self.system} {self.original_name}"

    def get_absolute_url(self):
        return reverse("identity:accountimport_detail", args=[self.pk])

    @property
    def applying(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.APPLYING)

    @property
    def progress_key(self) -> str:
        return f"identity-import-{self.pk}"
