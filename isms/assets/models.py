"""Assets and equipment (2.1, 2.2, 2.6, 3.5, 3.6, 4, 7.9, 7.10; forms A-1, A-7).

``Asset`` is the register. ``CommissioningRecord`` is the 啟用與報廢紀錄單 (A-1) of one
commissioning or decommissioning, reviewed by the supervisor; the rules that tie an
asset's state to it live in ``services``. ``EquipmentMovement`` is one line of the
設備進出紀錄表 (A-7): equipment taken out of its area and returned. ``RepairVisit``
records outside repair or maintenance of equipment holding personal data (7.9).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from isms.core.models import VoidableModel

USER = settings.AUTH_USER_MODEL


class Asset(VoidableModel):
    class Kind(models.TextChoices):
        SERVER = "server", _("伺服器")
        PC = "pc", _("個人電腦")
        NOTEBOOK = "notebook", _("筆記型電腦")
        TABLET = "tablet", _("平板電腦")
        SMARTPHONE = "smartphone", _("智慧型手機")
        NETWORK = "network", _("網路設備")
        USB = "usb", _("隨身碟")
        DISK = "disk", _("硬碟")
        TAPE = "tape", _("磁帶")
        OPTICAL = "optical", _("光碟")
        PRINTER = "printer", _("印表機")
        OTHER = "other", _("其他")

    class State(models.TextChoices):
        NEW = "new", _("待啟用")
        IN_USE = "in_use", _("使用中")
        STORAGE = "storage", _("庫存")
        REPAIR = "repair", _("維修中")
        DECOMMISSIONED = "decommissioned", _("已報廢")

    class Protection(models.TextChoices):
        NONE = "", _("未設定")
        PASSWORD = "password", _("通行碼")
        PATTERN = "pattern", _("圖形辨識")
        FACE = "face", _("臉孔辨識")
        FINGERPRINT = "fingerprint", _("指紋辨識")

    class Sensitivity(models.TextChoices):
        GENERAL = "general", _("一般")
        SENSITIVE = "sensitive", _("敏感")
        CONFIDENTIAL = "confidential", _("機密")

    class MediaControl(models.TextChoices):
        NONE = "", _("未設定")
        ENCRYPTED = "encrypted", _("檔案加密儲存")
        LOCKED = "locked", _("存放於上鎖儲櫃或安全處所")
        BOTH = "both", _("加密並上鎖存放")

    kind = models.CharField(_("類別"), max_length=20, choices=Kind.choices)
    property_number = models.CharField(
        _("財產編號"),
        max_length=50,
        blank=True,
        help_text=_("財產清冊上的編號；同一編號只能登記一次。隨身碟等非財產可留空。"),
    )
    name = models.CharField(_("名稱"), max_length=200)
    brand = models.CharField(_("廠牌"), max_length=100, blank=True)
    model = models.CharField(_("型號"), max_length=100, blank=True)
    serial = models.CharField(_("序號"), max_length=100, blank=True)
    location = models.CharField(_("放置地點"), max_length=200, blank=True)
    unit = models.ForeignKey(
        "core.Unit",
        verbose_name=_("使用單位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    custodian = models.ForeignKey(
        "core.Person",
        verbose_name=_("保管人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assets",
    )
    purpose = models.CharField(_("用途"), max_length=300, blank=True)
    state = models.CharField(_("狀態"), max_length=20, choices=State.choices, default=State.NEW)
    # 2.1: the systems a server hosts (one dedicated server per application is advised).
    systems = models.ManyToManyField(
        "identity.InformationSystem",
        verbose_name=_("承載的資訊系統"),
        blank=True,
        related_name="hosts",
    )
    # 2.6: a shared PC (computer classroom, staff room) has one purpose and set controls.
    shared = models.BooleanField(_("共用電腦"), default=False)
    downloads_restricted = models.BooleanField(_("限制從網路下載檔案"), default=False)
    installs_restricted = models.BooleanField(_("限制自行安裝軟體"), default=False)
    data_access_restricted = models.BooleanField(_("限制特定資料的存取"), default=False)
    # 4.1, 4.2: official portable devices.
    official_use = models.BooleanField(
        _("公務用"), default=True, help_text=_("公務用可攜式設備須設定保護機制（條文 4.1）。")
    )
    protection = models.CharField(
        _("保護機制"), max_length=20, choices=Protection.choices, blank=True, default=""
    )
    # 4.3: storage media by the sensitivity of the data they hold.
    sensitivity = models.CharField(
        _("資料機敏性"), max_length=20, choices=Sensitivity.choices, blank=True, default=""
    )
    media_control = models.CharField(
        _("控管措施"), max_length=20, choices=MediaControl.choices, blank=True, default=""
    )
    # 2.2.1: malware protection and updates; an inventory script may report them.
    antivirus = models.BooleanField(_("已安裝防毒軟體"), default=False)
    antivirus_updated_at = models.DateTimeField(_("病毒碼更新時間"), null=True, blank=True)
    auto_updates = models.BooleanField(_("作業系統自動更新"), default=False)
    patched_at = models.DateTimeField(_("最近更新修補時間"), null=True, blank=True)
    # 2.2.2: licensed software, with the evidence (licence numbers, contract, attachment).
    software_licensed = models.BooleanField(_("軟體皆有授權"), default=False)
    licence_evidence = models.TextField(_("授權證明"), blank=True)
    # 2.3.2: screen lock or screen saver.
    screen_lock = models.BooleanField(_("已設定螢幕保護或鎖定"), default=False)
    stores_personal_data = models.BooleanField(_("存有個人資料"), default=False)
    notes = models.TextField(_("備註"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("資產")
        verbose_name_plural = _("資產清冊")
        ordering = ["property_number", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["property_number"],
                condition=~Q(property_number=""),
                name="asset_unique_property_number",
            )
        ]
        indexes = [
            models.Index(fields=["kind", "state"]),
            models.Index(fields=["state", "id"]),
        ]

    def __str__(self):
        return f"{self.property_number} {self.name}".strip()

    def get_absolute_url(self):
        return reverse("assets:asset_detail", args=[self.pk])

    # What the policy asks of each kind -----------------------------------------------------
    PORTABLE = frozenset({Kind.NOTEBOOK, Kind.TABLET, Kind.SMARTPHONE})
    MEDIA = frozenset({Kind.USB, Kind.DISK, Kind.TAPE, Kind.OPTICAL})
    COMPUTERS = frozenset({Kind.SERVER, Kind.PC, Kind.NOTEBOOK})
    # Equipment that holds data: wiped before it is decommissioned or given another use.
    WITH_STORAGE = frozenset(
        {Kind.SERVER, Kind.PC, Kind.NOTEBOOK, Kind.TABLET, Kind.SMARTPHONE} | MEDIA
    )

    @property
    def portable(self) -> bool:
        return self.kind in self.PORTABLE

    @property
    def medium(self) -> bool:
        return self.kind in self.MEDIA

    @property
    def has_storage(self) -> bool:
        """Wiped before it is disposed of: storage by its kind, or personal data (7.10)."""
        return self.kind in self.WITH_STORAGE or self.stores_personal_data


class CommissioningRecord(VoidableModel):
    """啟用與報廢紀錄單 (A-1): one commissioning or decommissioning, reviewed."""

    class Kind(models.TextChoices):
        COMMISSION = "commission", pgettext_lazy("commissioning", "啟用")
        DECOMMISSION = "decommission", pgettext_lazy("commissioning", "報廢")
        REUSE = "reuse", _("移轉他用")

    asset = models.ForeignKey(
        Asset, verbose_name=_("資產"), on_delete=models.PROTECT, related_name="records"
    )
    kind = models.CharField(_("類別"), max_length=20, choices=Kind.choices)
    executor = models.ForeignKey(
        USER, verbose_name=_("執行人"), on_delete=models.PROTECT, related_name="+"
    )
    executed_on = models.DateField(_("執行日期"))
    use = models.CharField(_("設備用途"), max_length=200, blank=True)
    model_text = models.CharField(_("設備型號"), max_length=200, blank=True)
    # 啟用檢查項目 (2.2.3, 4.2)
    virus_scan = models.BooleanField(_("掃毒"), default=False)
    default_password_changed = models.BooleanField(_("變更預設通行碼"), default=False)
    system_updated = models.BooleanField(_("系統更新"), default=False)
    # 報廢檢查項目 (3.5, 7.10)
    wiped = models.BooleanField(_("刪除硬碟資料（資料無法再還原）"), default=False)
    wipe_method = models.CharField(_("刪除方式"), max_length=200, blank=True)
    other = models.CharField(_("其它"), max_length=300, blank=True)
    # 移轉他用 (7.10): to whom and which unit the equipment goes (empty: the same).
    new_custodian = models.ForeignKey(
        "core.Person",
        verbose_name=_("移轉後保管人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    new_unit = models.ForeignKey(
        "core.Unit",
        verbose_name=_("移轉後使用單位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
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
        verbose_name = _("啟用與報廢紀錄單")
        verbose_name_plural = _("啟用與報廢紀錄單")
        ordering = ["-executed_on", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.asset}"

    def get_absolute_url(self):
        return reverse("assets:commissioningrecord_detail", args=[self.pk])

    @property
    def reviewed(self) -> bool:
        return self.reviewed_at is not None


class EquipmentMovement(VoidableModel):
    """設備進出紀錄表 (A-7): equipment taken out of its area and brought back (3.6)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("待核准")
        AUTHORISED = "authorised", _("已核准")
        OUT = "out", _("已攜出")
        RETURNED = "returned", _("已歸還")
        REFUSED = "refused", _("不核准")

    number = models.CharField(_("編號"), max_length=20, unique=True, editable=False)
    asset = models.ForeignKey(
        Asset, verbose_name=_("設備"), on_delete=models.PROTECT, related_name="movements"
    )
    borrower = models.ForeignKey(
        "core.Person", verbose_name=_("攜出人"), on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(_("攜出事由"), max_length=300)
    destination = models.CharField(_("攜往地點"), max_length=200)
    out_on = models.DateField(_("攜出日期"))
    due_on = models.DateField(_("預定歸還日期"))
    status = models.CharField(
        _("狀態"), max_length=20, choices=Status.choices, default=Status.REQUESTED
    )
    requested_by = models.ForeignKey(
        USER, verbose_name=_("登記人"), on_delete=models.PROTECT, related_name="+"
    )
    authorised_by = models.ForeignKey(
        USER,
        verbose_name=_("核准人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    authorised_at = models.DateTimeField(_("核准時間"), null=True, blank=True)
    decision_note = models.CharField(_("核准說明"), max_length=300, blank=True)
    checked_out_by = models.ForeignKey(
        USER,
        verbose_name=_("點交人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    checked_out_at = models.DateTimeField(_("攜出時間"), null=True, blank=True)
    returned_at = models.DateTimeField(_("歸還時間"), null=True, blank=True)
    received_by = models.ForeignKey(
        USER,
        verbose_name=_("點收人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    return_condition = models.CharField(_("歸還狀況"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("設備進出紀錄")
        verbose_name_plural = _("設備進出紀錄")
        ordering = ["-out_on", "-id"]
        indexes = [models.Index(fields=["status", "due_on"])]

    def __str__(self):
        return f"{self.number} {self.asset}"

    def get_absolute_url(self):
        return reverse("assets:equipmentmovement_detail", args=[self.pk])


class RepairVisit(VoidableModel):
    """Outside repair or maintenance of equipment (7.9): who of the school stayed present."""

    asset = models.ForeignKey(
        Asset, verbose_name=_("設備"), on_delete=models.PROTECT, related_name="repairs"
    )
    visited_on = models.DateField(_("日期"))
    party = models.CharField(_("維修廠商或人員"), max_length=200)
    work = models.CharField(_("維修或更新內容"), max_length=300)
    offsite = models.BooleanField(
        _("送外維修"), default=False, help_text=_("設備送出校外維修（須另填設備進出紀錄）。")
    )
    present = models.ForeignKey(
        "core.Person",
        verbose_name=_("在場人員"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("儲存個人資料的設備由外部人員維修或更新時，須指派專人在場（條文 7.9）。"),
    )
    data_protection = models.CharField(
        _("資料保護措施"),
        max_length=300,
        blank=True,
        help_text=_("例如：送修前移除硬碟、備份後刪除資料。"),
    )
    recorded_by = models.ForeignKey(
        USER, verbose_name=_("登記人"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("外部維修紀錄")
        verbose_name_plural = _("外部維修紀錄")
        ordering = ["-visited_on", "-id"]

    def __str__(self):
        from isms.core.roc import format_roc

        return f"{format_roc(self.visited_on)} {self.asset} {self.party}"

    def get_absolute_url(self):
        return reverse("assets:repairvisit_detail", args=[self.pk])


def import_path(instance, filename):
    import secrets

    return f"asset-imports/{secrets.token_hex(16)}"


class AssetImport(models.Model):
    """A property list (財產清冊) uploaded, read and previewed, then applied all or nothing."""

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
        verbose_name = _("財產清冊匯入")
        verbose_name_plural = _("財產清冊匯入")
        ordering = ["-uploaded_at", "-id"]

    def __str__(self):
        return self.original_name

    def get_absolute_url(self):
        return reverse("assets:assetimport_detail", args=[self.pk])
