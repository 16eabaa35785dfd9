"""Facilities (clauses 3.1–3.4, 7.9): server rooms and computer classrooms with their
physical controls and inspections, temperature and humidity readings (3.2) with their
sensors, alerts and hourly roll-ups, and the server-room access log
(穀保家商人員進出資訊機房登記表)."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.core import roc
from isms.core.models import KeyHolder, VoidableModel

USER = settings.AUTH_USER_MODEL


class Control(models.TextChoices):
    """The physical controls of 3.1–3.4, in the policy's order (``CONTROL_CLAUSES``)."""

    SMOKE_HEAT_DETECTION = "smoke_heat_detection", _("偵煙或偵熱設備")
    GAS_EXTINGUISHER = "gas_extinguisher", _("滅火設備（氣體式滅火器）")
    NO_FLAMMABLES_FOOD = "no_flammables_food", _("未擺放易燃物或飲食")
    EARTHING = "earthing", _("電源接地或避雷裝置")
    ACCESS_CONTROL = "access_control", _("門禁管制")
    CLIMATE_CONTROL = "climate_control", _("溫濕度控制設備（空調、除濕）")
    THERMO_HYGROMETER = "thermo_hygrometer", _("溫濕度顯示裝置")
    UPS = "ups", _("不斷電系統（UPS）")
    VOLTAGE_STABILISER = "voltage_stabiliser", _("穩壓器等電源保護措施")
    EMERGENCY_LIGHTING = "emergency_lighting", _("緊急照明設備")
    CABLE_PROTECTION = "cable_protection", _("纜線保護設施（高架地板、線槽、套管）")


# Control → the clause that asks for it.
CONTROL_CLAUSES = {
    Control.SMOKE_HEAT_DETECTION: "3.1.1",
    Control.GAS_EXTINGUISHER: "3.1.1",
    Control.NO_FLAMMABLES_FOOD: "3.1.1",
    Control.EARTHING: "3.1.2",
    Control.ACCESS_CONTROL: "3.1.3",
    Control.CLIMATE_CONTROL: "3.2",
    Control.THERMO_HYGROMETER: "3.2",
    Control.UPS: "3.3",
    Control.VOLTAGE_STABILISER: "3.3",
    Control.EMERGENCY_LIGHTING: "3.3",
    Control.CABLE_PROTECTION: "3.4",
}
# 3.1 and 3.4 name 主機機房及電腦教室; 3.2 and 3.3 name 重要的資訊設備(如：主機機房等): in a
# computer classroom these may be marked 不適用 without a reason.
SERVER_ROOM_ONLY = frozenset(
    {
        Control.CLIMATE_CONTROL,
        Control.THERMO_HYGROMETER,
        Control.UPS,
        Control.VOLTAGE_STABILISER,
        Control.EMERGENCY_LIGHTING,
    }
)


class Room(VoidableModel):
    """A server room (主機機房) or computer classroom (電腦教室) and its thresholds (3.2)."""

    class Kind(models.TextChoices):
        SERVER_ROOM = "server_room", _("主機機房")
        COMPUTER_CLASSROOM = "computer_classroom", _("電腦教室")

    name = models.CharField(_("名稱"), max_length=200)
    kind = models.CharField(_("類別"), max_length=30, choices=Kind.choices)
    location = models.CharField(_("位置"), max_length=200, blank=True)
    keeper = models.ForeignKey(
        USER, verbose_name=_("管理人"), on_delete=models.PROTECT, related_name="+"
    )
    # 3.2: monitored rooms take readings and have the daily duty of readings arriving.
    monitored = models.BooleanField(
        _("溫濕度監控"),
        default=True,
        help_text=_("主機機房等重要資訊設備所在處應監控溫濕度（條文 3.2）。"),
    )
    temperature_min = models.DecimalField(
        _("溫度下限（°C）"), max_digits=4, decimal_places=1, default=20
    )
    temperature_max = models.DecimalField(
        _("溫度上限（°C）"), max_digits=4, decimal_places=1, default=25
    )
    humidity_min = models.DecimalField(
        _("濕度下限（%RH）"), max_digits=4, decimal_places=1, default=50
    )
    humidity_max = models.DecimalField(
        _("濕度上限（%RH）"), max_digits=4, decimal_places=1, default=70
    )
    notes = models.TextField(_("備註"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("機房與電腦教室")
        verbose_name_plural = _("機房與電腦教室")
        ordering = ["kind", "name", "id"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("facilities:room_detail", args=[self.pk])


class RoomControl(models.Model):
    """What a room has of one control of 3.1–3.4 (one row per room and control)."""

    class State(models.TextChoices):
        PRESENT = "present", _("已設置")
        ABSENT = "absent", _("未設置")
        NOT_APPLICABLE = "not_applicable", _("不適用")

    room = models.ForeignKey(
        Room, verbose_name=_("機房或電腦教室"), on_delete=models.CASCADE, related_name="controls"
    )
    control = models.CharField(_("控制措施"), max_length=30, choices=Control.choices)
    state = models.CharField(
        _("設置情形"), max_length=20, choices=State.choices, default=State.ABSENT
    )
    detail = models.CharField(
        _("說明"),
        max_length=300,
        blank=True,
        help_text=_("例如：FM-200 氣體滅火系統、UPS 10kVA 兩台、高架地板。"),
    )
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("機房控制措施")
        verbose_name_plural = _("機房控制措施")
        ordering = ["room", "id"]
        constraints = [
            models.UniqueConstraint(fields=["room", "control"], name="facilities_one_control")
        ]

    def __str__(self):
        return f"{self.room} {self.get_control_display()}"


class Inspection(VoidableModel):
    """One inspection of a room: a result per control, notes, photos (attachments)."""

    room = models.ForeignKey(
        Room, verbose_name=_("機房或電腦教室"), on_delete=models.PROTECT, related_name="inspections"
    )
    inspected_on = models.DateField(_("檢查日期"))
    inspector = models.ForeignKey(
        USER, verbose_name=_("檢查人"), on_delete=models.PROTECT, related_name="+"
    )
    temperature_c = models.FloatField(_("檢查時溫度（°C）"), null=True, blank=True)
    humidity_pct = models.FloatField(_("檢查時濕度（%RH）"), null=True, blank=True)
    note = models.TextField(_("檢查說明"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("機房檢查")
        verbose_name_plural = _("機房檢查")
        ordering = ["-inspected_on", "-id"]
        indexes = [models.Index(fields=["room", "-inspected_on"])]

    def __str__(self):
        when = roc.format_roc(self.inspected_on) if self.inspected_on else ""
        return f"{self.room} {when}".strip()

    def get_absolute_url(self):
        return reverse("facilities:inspection_detail", args=[self.pk])


class InspectionItem(models.Model):
    """The result of one control in one inspection."""

    class Result(models.TextChoices):
        PASS = "pass", _("符合")
        FAIL = "fail", _("不符合")
        NOT_APPLICABLE = "not_applicable", _("不適用")

    inspection = models.ForeignKey(
        Inspection, verbose_name=_("機房檢查"), on_delete=models.CASCADE, related_name="items"
    )
    control = models.CharField(_("控制措施"), max_length=30, choices=Control.choices)
    result = models.CharField(_("檢查結果"), max_length=20, choices=Result.choices)
    note = models.CharField(_("說明"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("檢查項目")
        verbose_name_plural = _("檢查項目")
        ordering = ["inspection", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["inspection", "control"], name="facilities_one_item_per_control"
            )
        ]

    def __str__(self):
        return f"{self.inspection} {self.get_control_display()}"


class Finding(VoidableModel):
    """A control found wanting in an inspection, followed up to done (缺失追蹤)."""

    class Status(models.TextChoices):
        OPEN = "open", _("待改善")
        DONE = "done", _("已改善")

    room = models.ForeignKey(
        Room, verbose_name=_("機房或電腦教室"), on_delete=models.PROTECT, related_name="findings"
    )
    inspection = models.ForeignKey(
        Inspection,
        verbose_name=_("機房檢查"),
        on_delete=models.PROTECT,
        related_name="findings",
    )
    control = models.CharField(_("控制措施"), max_length=30, choices=Control.choices)
    description = models.TextField(_("缺失說明"))
    assignee = models.ForeignKey(
        USER, verbose_name=_("改善負責人"), on_delete=models.PROTECT, related_name="+"
    )
    due_on = models.DateField(_("改善期限"))
    status = models.CharField(_("狀態"), max_length=10, choices=Status.choices, default=Status.OPEN)
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
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("檢查缺失")
        verbose_name_plural = _("檢查缺失")
        ordering = ["status", "due_on", "id"]
        indexes = [models.Index(fields=["status", "due_on"])]

    def __str__(self):
        return f"{self.room} {self.get_control_display()}"

    def get_absolute_url(self):
        return reverse("facilities:finding_detail", args=[self.pk])


# Temperature and humidity (3.2) ------------------------------------------------------------------
class Sensor(VoidableModel, KeyHolder):
    """A temperature-humidity sensor in a room, reporting over HTTP (its own revocable key)
    or MQTT (by its ``code`` in the payload)."""

    room = models.ForeignKey(
        Room, verbose_name=_("機房或電腦教室"), on_delete=models.PROTECT, related_name="sensors"
    )
    code = models.CharField(
        _("感測器代碼"),
        max_length=64,
        unique=True,
        help_text=_("讀數中的 sensor 欄位，例如 srv-room-1；英數字、點、底線或連字號。"),
    )
    name = models.CharField(_("名稱"), max_length=200)
    silence_minutes = models.PositiveIntegerField(
        _("未回報警示（分鐘）"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(10080)],
        help_text=_("超過此分鐘數沒有讀數即發出警示。"),
    )
    # Kept by the ingest (QuerySet.update, no trail entry: counters, not the record).
    last_reading_at = models.DateTimeField(_("最近讀數時間"), null=True, blank=True, editable=False)
    accepted_count = models.PositiveBigIntegerField(_("已接收讀數"), default=0, editable=False)
    rejected_count = models.PositiveBigIntegerField(_("已拒收讀數"), default=0, editable=False)
    last_rejected_at = models.DateTimeField(
        _("最近拒收時間"), null=True, blank=True, editable=False
    )
    notes = models.TextField(_("備註"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("溫濕度感測器")
        verbose_name_plural = _("溫濕度感測器")
        ordering = ["room", "code", "id"]

    def __str__(self):
        return f"{self.name}（{self.code}）"

    def get_absolute_url(self):
        return reverse("facilities:sensor_detail", args=[self.pk])


class Reading(models.Model):
    """One temperature-humidity reading (溫濕度): from a sensor, or entered by hand.

    Never changed once recorded (a measurement). The trail records each ingested batch
    (one entry per request or MQTT flush) and each reading entered by hand.
    """

    class Source(models.TextChoices):
        MANUAL = "manual", _("人工登錄")
        HTTP = "http", _("感測器（HTTP）")
        MQTT = "mqtt", _("感測器（MQTT）")

    room = models.ForeignKey(
        Room, verbose_name=_("機房或電腦教室"), on_delete=models.PROTECT, related_name="readings"
    )
    sensor = models.ForeignKey(
        Sensor,
        verbose_name=_("感測器"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="readings",
    )
    measured_at = models.DateTimeField(_("量測時間"))
    temperature_c = models.FloatField(_("溫度（°C）"), null=True, blank=True)
    humidity_pct = models.FloatField(_("濕度（%RH）"), null=True, blank=True)
    source = models.CharField(_("來源"), max_length=10, choices=Source.choices)
    recorded_by = models.ForeignKey(
        USER,
        verbose_name=_("登錄者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    received_at = models.DateTimeField(_("接收時間"), auto_now_add=True)

    class Meta:
        verbose_name = _("溫濕度讀數")
        verbose_name_plural = _("溫濕度讀數")
        ordering = ["-measured_at", "-id"]
        indexes = [
            models.Index(fields=["room", "measured_at"]),
            # The readings list of every room, newest first.
            models.Index(fields=["-measured_at", "-id"], name="facilities_reading_newest"),
        ]
        constraints = [
            # A sensor's retried batch is the same readings again, not new ones.
            models.UniqueConstraint(
                fields=["sensor", "measured_at"],
                condition=models.Q(sensor__isnull=False),
                name="facilities_one_reading_per_sensor_moment",
            )
        ]

    def __str__(self):
        when = roc.format_roc_datetime(self.measured_at) if self.measured_at else ""
        return f"{self.room} {when}".strip()

    def get_absolute_url(self):
        return reverse("facilities:reading_detail", args=[self.pk])


class Rollup(models.Model):
    """The readings of one room in one clock hour (UTC), kept at ingest: the chart's
    week, month and year views read these, not the readings.

    ``hour`` is the hour's start (UTC, minutes zero). The sums and counts give the means;
    a value missing from a reading (a sensor without humidity) is not counted.
    """

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    temperature_count = models.PositiveIntegerField(default=0)
    temperature_sum = models.FloatField(default=0)
    temperature_min = models.FloatField(null=True)
    temperature_max = models.FloatField(null=True)
    humidity_count = models.PositiveIntegerField(default=0)
    humidity_sum = models.FloatField(default=0)
    humidity_min = models.FloatField(null=True)
    humidity_max = models.FloatField(null=True)

    class Meta:
        verbose_name = _("溫濕度每小時統計")
        verbose_name_plural = _("溫濕度每小時統計")
        ordering = ["room", "hour"]
        constraints = [
            models.UniqueConstraint(fields=["room", "hour"], name="facilities_one_rollup_per_hour")
        ]

    def __str__(self):
        return f"{self.room_id} {self.hour:%Y-%m-%d %H}:00Z"


class Alert(models.Model):
    """An excursion out of a room's range, or a sensor gone silent: one alert from its
    start until readings are back (in range), never one per reading.

    ``scope`` says what the alert is about, so that at most one is open for it:
    ``sensor:<id>`` for a sensor's readings or its silence, ``room:<id>`` for readings
    entered by hand.
    """

    class Kind(models.TextChoices):
        EXCURSION = "excursion", _("溫濕度超出範圍")
        SILENCE = "silence", _("感測器未回報")

    room = models.ForeignKey(
        Room, verbose_name=_("機房或電腦教室"), on_delete=models.PROTECT, related_name="alerts"
    )
    sensor = models.ForeignKey(
        Sensor,
        verbose_name=_("感測器"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="alerts",
    )
    kind = models.CharField(_("類別"), max_length=20, choices=Kind.choices)
    scope = models.CharField(max_length=40, editable=False)
    opened_at = models.DateTimeField(_("開始時間"))
    closed_at = models.DateTimeField(_("恢復時間"), null=True, blank=True)
    # Excursions: the extremes seen while open, and the readings out of range.
    temperature_low = models.FloatField(_("最低溫度（°C）"), null=True, blank=True)
    temperature_high = models.FloatField(_("最高溫度（°C）"), null=True, blank=True)
    humidity_low = models.FloatField(_("最低濕度（%RH）"), null=True, blank=True)
    humidity_high = models.FloatField(_("最高濕度（%RH）"), null=True, blank=True)
    readings_out = models.PositiveIntegerField(_("超出範圍讀數"), default=0)
    reason = models.CharField(_("說明"), max_length=300)
    acknowledged_by = models.ForeignKey(
        USER,
        verbose_name=_("確認者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    acknowledged_at = models.DateTimeField(_("確認時間"), null=True, blank=True)
    note = models.TextField(_("處理說明"), blank=True)
    created_at = models.DateTimeField(_("建立時間"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新時間"), auto_now=True)

    class Meta:
        verbose_name = _("溫濕度警示")
        verbose_name_plural = _("溫濕度警示")
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["room", "-opened_at"]),
            models.Index(fields=["closed_at", "kind"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "scope"],
                condition=models.Q(closed_at__isnull=True),
                name="facilities_one_open_alert",
            )
        ]

    def __str__(self):
        when = roc.format_roc_datetime(self.opened_at) if self.opened_at else ""
        return f"{self.room} {self.get_kind_display()} {when}".strip()

    def get_absolute_url(self):
        return reverse("facilities:alert_detail", args=[self.pk])


class Rejection(models.Model):
    """A reading refused at ingest (impossible value, unknown sensor, malformed payload),
    kept for the sensor page; the worker keeps the newest ``ISMS_ENV_REJECTIONS_KEPT``."""

    sensor = models.ForeignKey(
        Sensor,
        verbose_name=_("感測器"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="rejections",
    )
    sensor_code = models.CharField(_("讀數中的感測器代碼"), max_length=64, blank=True)
    source = models.CharField(_("來源"), max_length=10, choices=Reading.Source.choices)
    received_at = models.DateTimeField(_("接收時間"), db_index=True)
    reason = models.CharField(_("拒收原因"), max_length=300)
    payload = models.CharField(_("內容（節錄）"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("拒收的讀數")
        verbose_name_plural = _("拒收的讀數")
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["sensor", "-received_at"])]

    def __str__(self):
        return f"{self.sensor_code or '?'} {self.reason}"


# The server-room access log (人員進出資訊機房登記表) ---------------------------------------------
class Visit(VoidableModel):
    """One line of the server-room access log: who went in, when, why, with what, who
    escorted them and the guard's confirmation that the key came back."""

    class Purpose(models.TextChoices):
        REPAIR = "repair", _("維修")
        OTHER = "other", _("其他")

    class Unit(models.TextChoices):
        VENDOR = "vendor", _("廠商")
        GENERAL_AFFAIRS = "general_affairs", _("總務處")
        EQUIPMENT_SECTION = "equipment_section", _("設備組")
        OTHER = "other", _("其他")

    room = models.ForeignKey(
        Room, verbose_name=_("機房"), on_delete=models.PROTECT, related_name="visits"
    )
    entered_at = models.DateTimeField(_("進入時間"))
    exited_at = models.DateTimeField(_("離去時間"), null=True, blank=True)
    purpose = models.CharField(_("事由"), max_length=10, choices=Purpose.choices)
    purpose_detail = models.CharField(
        _("事由說明"), max_length=300, help_text=_("維修：維修的設備或項目；其他：寫明事由。")
    )
    carries_equipment = models.BooleanField(_("攜出（入）設備"), default=False)
    equipment_detail = models.CharField(_("攜出（入）設備說明"), max_length=300, blank=True)
    unit = models.CharField(_("單位"), max_length=20, choices=Unit.choices)
    unit_other = models.CharField(_("其他單位"), max_length=100, blank=True)
    company = models.CharField(_("廠商名稱"), max_length=200, blank=True)
    # The registered vendor (6.1), when the company is one: its contracts and agreements
    # are then checked against the visit, and the visit is listed on the vendor's page.
    vendor = models.ForeignKey(
        "vendors.Vendor",
        verbose_name=_("委外廠商"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="visits",
    )
    visitor_name = models.CharField(_("進入機房人員姓名"), max_length=100)
    escort = models.ForeignKey(
        USER,
        verbose_name=_("陪同人員"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # 7.9: a vendor servicing equipment that stores personal data works with the school's
    # person present.
    assets = models.ManyToManyField(
        "assets.Asset", verbose_name=_("維修或更新的設備"), blank=True, related_name="+"
    )
    personal_data = models.BooleanField(
        _("涉及存有個人資料之設備"),
        default=False,
        help_text=_("外部廠商更新或維修儲存個人資料檔案之電腦設備時，須指派專人在場（條文 7.9）。"),
    )
    present_person = models.ForeignKey(
        USER,
        verbose_name=_("在場專人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    key_returned_at = models.DateTimeField(_("鑰匙繳回時間"), null=True, blank=True)
    key_confirmed_by = models.ForeignKey(
        USER,
        verbose_name=_("守衛室確認者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
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
        verbose_name = _("機房進出紀錄")
        verbose_name_plural = _("機房進出紀錄")
        ordering = ["-entered_at", "-id"]
        indexes = [
            models.Index(fields=["room", "entered_at"]),
            models.Index(fields=["key_returned_at", "entered_at"]),
        ]

    def __str__(self):
        when = roc.format_roc_datetime(self.entered_at) if self.entered_at else ""
        return f"{self.visitor_name} {when}".strip()

    def get_absolute_url(self):
        return reverse("facilities:visit_detail", args=[self.pk])

    @property
    def closed(self) -> bool:
        """Left the room and the key is back: nothing more to do."""
        return self.exited_at is not None and self.key_returned_at is not None
