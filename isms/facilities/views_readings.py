"""Pages and API of temperature and humidity (clause 3.2): sensors, readings and alerts.

- 溫濕度感測器 (``/facilities/sensors/``, ``/api/sensors/``): the register of sensors, with
  each one's last reading, a 「未回報」 mark while its silence alert is open, and its
  accepted and refused counts; above the list, for system administrators, the refused
  readings naming unknown sensor codes in the last 7 days. A sensor's page shows its
  room's thresholds, its latest readings and alerts, **the refused readings** (the latest
  50, with the reason and an excerpt of what was sent) and its HTTP key: a system
  administrator creates (or replaces) and revokes it; a new key is shown once, on the page
  that answers the creation (``Cache-Control: no-store``), with copy-paste examples (curl
  for one reading and for a batch, PowerShell, Python / MicroPython).
- 溫濕度讀數 (``/facilities/readings/``, ``/api/environment-readings/``): every reading,
  with its values against the room's range; a reading by hand (a system administrator or
  the equipment head); never edited nor voided (a measurement). ``POST
  /api/environment-readings/`` takes one reading (an object) or a batch (a list) from a
  sensor's key (``Authorization: Token isms_sn_…``) or a system administrator's own token;
  each item is checked on its own by ``readings.ingest`` (no serializer per item).
- 溫濕度警示 (``/facilities/alerts/``, ``/api/environment-alerts/``): the excursion list —
  every alert, opened and closed by the readings and the worker, read-only; its page takes
  the keeper's acknowledgement (what was done) and links to the room's chart of that day.

Access: system administrators keep the sensors; the equipment head also records readings
by hand and acknowledges alerts; the security officer, the supervisor and the principal
read. The rules are in ``readings``; these views and the API only call it.
"""

import datetime as dt

import django_filters as df
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.http import QueryDict
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.settings import api_settings

from isms.audit import trail
from isms.core import devicekeys, roc
from isms.core.access import Access, MatrixPermission, can
from isms.core.devicekeys import DeviceKey
from isms.core.fields import ROCDateTimeField
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import ModelForm
from isms.core.generic import AddPage, DetailAction, DetailPage, EditPage, ListPage, url_or_none
from isms.core.registers import Column, Register, as_text
from isms.core.restapi import ModelSerializer, RegisterViewSet, service_errors
from isms.core.roles import EQUIPMENT_HEAD, MANAGERS, SYSADMIN

from . import readings
from .models import Alert, Reading, Rejection, Room, Sensor
from .nav import NAV

Kind = Alert.Kind
Source = Reading.Source

READERS = MANAGERS | {SYSADMIN, EQUIPMENT_HEAD}
KEEPERS = frozenset({SYSADMIN})
# A reading by hand and an alert's acknowledgement (readings.may_record).
RECORDERS = frozenset({SYSADMIN, EQUIPMENT_HEAD})
SENSOR_ACCESS = Access(view=READERS, add=KEEPERS, change=KEEPERS, void=KEEPERS)
KEY_ACCESS = Access(view=READERS, change=KEEPERS)
# A reading is recorded, never changed nor voided (a measurement).
READING_ACCESS = Access(view=READERS, add=RECORDERS)
# Alerts are opened and closed by the readings and the worker, never by people.
ALERT_ACCESS = Access(view=READERS)
ACKNOWLEDGE_ACCESS = Access(view=READERS, change=RECORDERS)
# What a sensor's page shows of its refused readings, latest readings and alerts.
SENSOR_PAGE_REJECTIONS = 50
SENSOR_PAGE_READINGS = 10
SENSOR_PAGE_ALERTS = 10
# The unknown sensor codes shown above the sensor list: this many days back.
UNKNOWN_CODE_DAYS = 7
# What the examples say where the key goes (ASCII: PowerShell 5.1 reads scripts as ANSI).
KEY_PLACEHOLDER = "PASTE-THE-KEY-HERE"


def one_decimal(value) -> str:
    return "" if value is None else f"{value:.1f}"


def _bound(value) -> str:
    return f"{float(value):.1f}"


def range_text(room) -> str:
    """The room's thresholds: 20.0～25.0°C、50.0～70.0%RH."""
    return _("%(t_min)s～%(t_max)s°C、%(h_min)s～%(h_max)s%%RH") % {
        "t_min": _bound(room.temperature_min),
        "t_max": _bound(room.temperature_max),
        "h_min": _bound(room.humidity_min),
        "h_max": _bound(room.humidity_max),
    }


def marked(value, low, high) -> str:
    """A value with one decimal, marked 偏高 / 偏低 out of the room's range."""
    if value is None:
        return ""
    if value > float(high):
        return _("%(value)s 偏高") % {"value": one_decimal(value)}
    if value < float(low):
        return _("%(value)s 偏低") % {"value": one_decimal(value)}
    return one_decimal(value)


def reading_is_out(reading) -> bool:
    return bool(
        readings.out_of_range(
            readings.thresholds(reading.room), reading.temperature_c, reading.humidity_pct
        )
    )


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A local day (Asia/Taipei) as a UTC span [start, end): filters keep the index usable."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=readings.TAIPEI)
    return start, start + dt.timedelta(days=1)


def chart_url(room_id: int, moment) -> str | None:
    """The room's chart of the local day of ``moment`` (another slice's page)."""
    params = QueryDict(mutable=True)
    params["range"] = "day"
    if moment is not None:
        params["end"] = roc.format_roc(timezone.localtime(moment).date())
    return url_or_none("facilities:room_chart", room_id, query=params.urlencode())


def api_url(request, name: str, fallback: str) -> str:
    try:
        path_ = reverse(name)
    except NoReverseMatch:
        path_ = fallback
    return request.build_absolute_uri(path_)


def readings_api_url(request) -> str:
    """The absolute address of ``/api/environment-readings/`` as this request reached us."""
    return api_url(request, "facilities-reading-list", "/api/environment-readings/")


# Sensors -----------------------------------------------------------------------------------------
def with_silence(qs):
    """Each sensor with ``silent``: its silence alert is open (a subquery, not a query a row)."""
    open_silence = Alert.objects.filter(
        sensor=OuterRef("pk"), kind=Kind.SILENCE, closed_at__isnull=True
    )
    return qs.annotate(silent=Exists(open_silence))


def _silent(sensor) -> bool:
    if not hasattr(sensor, "silent"):
        sensor.silent = sensor.pk in readings.silence_open([sensor])
    return sensor.silent


def _silent_mark(sensor) -> str:
    return str(_("未回報")) if sensor.voided_at is None and _silent(sensor) else ""


def _key_state(sensor) -> str:
    return str(_("已設定")) if sensor.token_hash else str(_("未設定"))


class SensorFilterSet(FilterSet):
    search_fields = ("code", "name", "room__name", "notes")
    room = df.ModelChoiceFilter(
        label=gettext_lazy("機房或電腦教室"), queryset=Room.objects.order_by("kind", "name", "id")
    )
    state = df.ChoiceFilter(
        label=gettext_lazy("回報狀態"),
        choices=[("silent", gettext_lazy("未回報")), ("reporting", gettext_lazy("回報中"))],
        method="filter_state",
    )

    class Meta:
        model = Sensor
        fields = ["room", "state"]

    def filter_state(self, queryset, name, value):
        silent = Alert.objects.filter(
            sensor=OuterRef("pk"), kind=Kind.SILENCE, closed_at__isnull=True
        )
        if value == "silent":
            return queryset.filter(Exists(silent))
        if value == "reporting":
            return queryset.exclude(Exists(silent))
        return queryset


class SensorForm(ModelForm):
    """A sensor; the rules (code, room, silence) are ``readings.sensor_errors``."""

    class Meta(ModelForm.Meta):
        model = Sensor
        fields = ["room", "code", "name", "silence_minutes", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "name": gettext_lazy("例如：主機機房機櫃前、電腦教室一後方。"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        sensor = self.instance
        self.fields["room"].queryset = Room.objects.filter(
            Q(voided_at__isnull=True) | Q(pk=sensor.room_id or 0)
        ).order_by("kind", "name", "id")
        query = self.request.GET.get("room", "") if self.request is not None else ""
        if query.isdigit() and len(query) < 19 and not self.is_bound and sensor.pk is None:
            self.initial.setdefault("room", int(query))

    def validate_unique(self):
        """The code's uniqueness is the service's rule (its message names the clause's way)."""

    def save(self, commit=True):
        sensor = super().save(commit=False)
        return readings.save_sensor(sensor, actor=self.request.user)


class SensorSerializer(ModelSerializer):
    """A sensor; its key's hash never leaves the server (``has_key`` and its prefix do)."""

    id = serializers.IntegerField(read_only=True)
    has_key = serializers.SerializerMethodField(label=gettext_lazy("已設定金鑰"))
    silent = serializers.SerializerMethodField(label=gettext_lazy("未回報"))
    silence_minutes = serializers.IntegerField(
        label=gettext_lazy("未回報警示（分鐘）"), required=False
    )

    class Meta:
        model = Sensor
        fields = [
            "id",
            "room",
            "code",
            "name",
            "silence_minutes",
            "notes",
            "has_key",
            "token_prefix",
            "token_created_at",
            "last_reading_at",
            "silent",
            "accepted_count",
            "rejected_count",
            "last_rejected_at",
            "created_at",
            "updated_at",
            "voided_at",
        ]
        read_only_fields = [
            "token_prefix",
            "token_created_at",
            "last_reading_at",
            "accepted_count",
            "rejected_count",
            "last_rejected_at",
            "created_at",
            "updated_at",
            "voided_at",
        ]
        # The code's uniqueness is the service's rule, with its own message.
        extra_kwargs = {"code": {"validators": []}}

    def get_has_key(self, obj) -> bool:
        return bool(obj.token_hash)

    def get_silent(self, obj) -> bool:
        return obj.voided_at is None and _silent(obj)

    def _save(self, sensor):
        try:
            readings.save_sensor(sensor, actor=self.context["request"].user)
        except ValidationError as error:
            raise service_errors(error) from None
        sensor.silent = sensor.pk in readings.silence_open([sensor])
        return sensor

    def create(self, validated_data):
        return self._save(Sensor(**validated_data))

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


class SensorRegister(Register):
    model = Sensor
    clause = "3.2"
    access = SENSOR_ACCESS
    columns = [
        Column("code", gettext_lazy("感測器代碼"), link=True),
        Column("name", gettext_lazy("名稱")),
        Column("room", gettext_lazy("機房或電腦教室"), accessor="room.name", sort="room__name"),
        Column("last_reading_at", gettext_lazy("最近讀數時間")),
        Column("silent", gettext_lazy("回報狀態"), accessor=_silent_mark, sort=None),
        Column("accepted_count", gettext_lazy("已接收讀數")),
        Column("rejected_count", gettext_lazy("已拒收讀數")),
        Column("last_rejected_at", gettext_lazy("最近拒收時間"), page=False),
        Column("silence_minutes", gettext_lazy("未回報警示（分鐘）"), page=False),
        Column("key", gettext_lazy("HTTP 金鑰"), accessor=_key_state, sort=None),
        Column("notes", gettext_lazy("備註"), page=False),
    ]
    filterset_class = SensorFilterSet
    form_class = SensorForm
    serializer_class = SensorSerializer
    select_related = ("room",)
    serializer_reads_related = False
    ordering = ("room__kind", "room__name", "code", "id")
    route = "sensors"
    nav_group = NAV
    nav_label = gettext_lazy("溫濕度感測器")
    detail_template = "facilities/readings/sensor_detail.html"

    @classmethod
    def base_queryset(cls):
        return with_silence(super().base_queryset())

    @classmethod
    def api_queryset(cls):
        return with_silence(super().api_queryset())

    @classmethod
    def void_record(cls, obj, *, actor, reason):
        return readings.void_sensor(obj, actor=actor, reason=reason)


class SensorFormMixin:
    template_name = "facilities/readings/form.html"


class SensorAdd(SensorFormMixin, AddPage):
    pass


class SensorEdit(SensorFormMixin, EditPage):
    pass


class SensorList(ListPage):
    """The register's list and, for system administrators, the unknown codes of late."""

    register = SensorRegister
    template_name = "facilities/readings/sensor_list.html"

    def extra_context(self) -> dict:
        if not readings.may_keep(self.request.user):
            return {"unknown_codes": None}
        since = timezone.now() - dt.timedelta(days=UNKNOWN_CODE_DAYS)
        return {"unknown_codes": readings.unknown_codes(since), "unknown_days": UNKNOWN_CODE_DAYS}


def _iso_now_shell() -> str:
    return "$(date -u +%Y-%m-%dT%H:%M:%SZ)"


def curl_one_example(url: str, code: str) -> str:
    """One reading, now, with curl (any POSIX shell; cron every minute)."""
    return f"""#!/bin/sh
# Report one temperature-humidity reading to Campus ISMS (clause 3.2).
# Cron, every minute:  * * * * * /usr/local/bin/isms-reading.sh
ISMS_URL='{url}'
ISMS_KEY='{KEY_PLACEHOLDER}'
# Read your sensor here; these are example values.
TEMPERATURE=23.4
HUMIDITY=55.2
NOW={_iso_now_shell()}

curl -sS -X POST "$ISMS_URL" \\
  -H "Authorization: Token $ISMS_KEY" \\
  -H 'Content-Type: application/json' \\
  --data-binary @- <<EOF
{{"sensor": "{code}", "measured_at": "$NOW",
 "temperature_c": $TEMPERATURE, "humidity_pct": $HUMIDITY}}
EOF
"""


def curl_batch_example(url: str, code: str) -> str:
    """A batch (readings kept while the network was down), with curl."""
    return f"""#!/bin/sh
# Send several readings at once (e.g. those kept while the network was down).
# Sending the same batch again is safe: readings already stored count as duplicates.
ISMS_URL='{url}'
ISMS_KEY='{KEY_PLACEHOLDER}'
# Moments as Unix seconds here (or ISO 8601 text, as in the one-reading example).
NOW=$(date +%s)

curl -sS -X POST "$ISMS_URL" \\
  -H "Authorization: Token $ISMS_KEY" \\
  -H 'Content-Type: application/json' \\
  --data-binary @- <<EOF
[
  {{"sensor": "{code}", "measured_at": $((NOW - 120)),
   "temperature_c": 23.4, "humidity_pct": 55.2}},
  {{"sensor": "{code}", "measured_at": $((NOW - 60)),
   "temperature_c": 23.5, "humidity_pct": 55.0}},
  {{"sensor": "{code}", "measured_at": $NOW, "temperature_c": 23.5}}
]
EOF
"""


def powershell_example(url: str, code: str) -> str:
    """Windows PowerShell (5.1 or 7): one reading, now."""
    return f"""# Report one temperature-humidity reading to Campus ISMS (clause 3.2).
# Task Scheduler: powershell.exe -NoProfile -ExecutionPolicy Bypass -File isms-reading.ps1
$IsmsUrl = '{url}'
$IsmsKey = '{KEY_PLACEHOLDER}'
# Read your sensor here; these are example values.
$reading = @{{
    sensor = '{code}'
    measured_at = (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')
    temperature_c = 23.4
    humidity_pct = 55.2
}}
$body = [Text.Encoding]::UTF8.GetBytes(($reading | ConvertTo-Json))
Invoke-RestMethod -Method Post -Uri $IsmsUrl -Headers @{{ Authorization = "Token $IsmsKey" }} `
    -ContentType 'application/json; charset=utf-8' -Body $body
"""


def python_example(url: str, code: str) -> str:
    """Python 3 (standard library), with the MicroPython (urequests) variant."""
    return f"""# Report one temperature-humidity reading to Campus ISMS (clause 3.2).
# Python 3, standard library only. MicroPython (ESP32, Pico W): see report_micropython.
import json
import time

ISMS_URL = '{url}'
ISMS_KEY = '{KEY_PLACEHOLDER}'
SENSOR = '{code}'


def reading(temperature_c, humidity_pct):
    # UTC time from the board's clock (set it with NTP first).
    now = '%04d-%02d-%02dT%02d:%02d:%02dZ' % tuple(time.gmtime()[:6])
    return {{'sensor': SENSOR, 'measured_at': now,
            'temperature_c': temperature_c, 'humidity_pct': humidity_pct}}


def report(temperature_c, humidity_pct):
    import urllib.request

    request = urllib.request.Request(
        ISMS_URL,
        data=json.dumps(reading(temperature_c, humidity_pct)).encode(),
        headers={{'Authorization': 'Token ' + ISMS_KEY, 'Content-Type': 'application/json'}},
        method='POST',
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def report_micropython(temperature_c, humidity_pct):
    import urequests  # noqa: the MicroPython HTTP client

    response = urequests.post(
        ISMS_URL,
        data=json.dumps(reading(temperature_c, humidity_pct)),
        headers={{'Authorization': 'Token ' + ISMS_KEY, 'Content-Type': 'application/json'}},
    )
    answer = response.json()
    response.close()
    return answer


if __name__ == '__main__':
    # Read your sensor here; these are example values.
    print(report(23.4, 55.2))
"""


class SensorDetail(DetailPage):
    """A sensor: its room's range, latest readings and alerts, refused readings and key."""

    register = SensorRegister

    def get(self, request, pk, *, status=200, **extra):
        sensor = self.get_object("view")
        user = request.user
        url = readings_api_url(request)
        room = sensor.room
        extra.update(
            sensor=sensor,
            room=room,
            room_url=url_or_none("facilities:room_detail", room.pk),
            range_text=range_text(room),
            silent=sensor.voided_at is None and _silent(sensor),
            latest=[
                (
                    r,
                    marked(r.temperature_c, room.temperature_min, room.temperature_max),
                    marked(r.humidity_pct, room.humidity_min, room.humidity_max),
                )
                for r in sensor.readings.order_by("-measured_at", "-id")[:SENSOR_PAGE_READINGS]
            ],
            alerts=list(sensor.alerts.order_by("-opened_at", "-id")[:SENSOR_PAGE_ALERTS]),
            rejections=list(
                Rejection.objects.filter(sensor=sensor).order_by("-received_at", "-id")[
                    :SENSOR_PAGE_REJECTIONS
                ]
            ),
            rejections_shown=SENSOR_PAGE_REJECTIONS,
            can_key=can(user, "change", KEY_ACCESS) and sensor.voided_at is None,
            api_url=url,
            key_placeholder=KEY_PLACEHOLDER,
            examples=[
                (
                    "curl-one",
                    _("Linux／Unix：一筆讀數（sh 與 curl）"),
                    curl_one_example(url, sensor.code),
                ),
                (
                    "curl-batch",
                    _("Linux／Unix：多筆讀數（批次）"),
                    curl_batch_example(url, sensor.code),
                ),
                ("powershell", _("Windows（PowerShell）"), powershell_example(url, sensor.code)),
                ("python", _("Python／MicroPython"), python_example(url, sensor.code)),
            ],
            links={
                "readings": url_or_none("facilities:reading_list", query=f"sensor={sensor.pk}"),
                "alerts": url_or_none("facilities:alert_list", query=f"sensor={sensor.pk}"),
                "chart": chart_url(room.pk, None),
            },
            batch_max=readings.batch_max(),
        )
        return devicekeys.no_store(super().get(request, pk, status=status, **extra), extra)


class SensorKeyView(devicekeys.KeyPageMixin, SensorDetail):
    """Create (or replace) and revoke the sensor's key; a new key is shown once, here."""

    access = KEY_ACCESS
    no_key_message = gettext_lazy("此感測器沒有金鑰。")
    revoked_message = gettext_lazy("已撤銷感測器金鑰，使用此金鑰的回報將被拒絕。")

    def create_key(self, record, actor):
        return readings.key_create(record, actor=actor)

    def revoke_key(self, record, actor):
        return readings.key_revoke(record, actor=actor)


# Readings ----------------------------------------------------------------------------------------
def _sensor_code(reading) -> str:
    return reading.sensor.code if reading.sensor_id else ""


def _temperature(reading) -> str:
    room = reading.room
    return marked(reading.temperature_c, room.temperature_min, room.temperature_max)


def _humidity(reading) -> str:
    room = reading.room
    return marked(reading.humidity_pct, room.humidity_min, room.humidity_max)


def _out_mark(reading) -> str:
    return str(_("超出範圍")) if reading_is_out(reading) else ""


def _recorder(reading) -> str:
    if reading.recorded_by_id:
        return reading.recorded_by.display_name
    return ""


class ReadingFilterSet(FilterSet):
    room = df.ModelChoiceFilter(
        label=gettext_lazy("機房或電腦教室"), queryset=Room.objects.order_by("kind", "name", "id")
    )
    sensor = df.ModelChoiceFilter(
        label=gettext_lazy("感測器"), queryset=Sensor.objects.order_by("code", "id")
    )
    source = df.ChoiceFilter(label=gettext_lazy("來源"), choices=Source.choices)
    measured_from = ROCDateFilter(label=gettext_lazy("量測日期起"), method="filter_from")
    measured_to = ROCDateFilter(label=gettext_lazy("量測日期迄"), method="filter_to")

    class Meta:
        model = Reading
        fields = ["room", "sensor", "source", "measured_from", "measured_to"]

    def filter_from(self, queryset, name, value):
        return queryset.filter(measured_at__gte=day_bounds(value)[0]) if value else queryset

    def filter_to(self, queryset, name, value):
        return queryset.filter(measured_at__lt=day_bounds(value)[1]) if value else queryset


class ReadingForm(ModelForm):
    """A reading read off the room's display (``readings.record_manual``, 人工登錄)."""

    measured_at = ROCDateTimeField(
        label=gettext_lazy("量測時間"),
        help_text=gettext_lazy("民國日期與時間，例如 115/11/29 14:05。"),
    )

    class Meta(ModelForm.Meta):
        model = Reading
        fields = ["room", "measured_at", "temperature_c", "humidity_pct"]
        help_texts = {
            "temperature_c": gettext_lazy("機房溫濕度顯示裝置上的溫度；溫度與濕度至少填一項。"),
            "humidity_pct": gettext_lazy("相對濕度（%RH）。"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fields = self.fields
        fields["room"].queryset = Room.objects.active().order_by("kind", "name", "id")
        fields["measured_at"].widget.attrs.setdefault("class", "form-control")
        for name in ("temperature_c", "humidity_pct"):
            fields[name].widget.attrs["step"] = "0.1"
        if not self.is_bound:
            now = timezone.localtime().replace(second=0, microsecond=0)
            self.initial.setdefault("measured_at", now)
            query = self.request.GET.get("room", "") if self.request is not None else ""
            if query.isdigit() and len(query) < 19:
                self.initial.setdefault("room", int(query))

    def save(self, commit=True):
        reading = super().save(commit=False)
        readings.record_manual(reading, actor=self.request.user)
        return reading


class ReadingSerializer(ModelSerializer):
    """A reading as the API gives it (GET); what a sensor posts is ``ITEM_SCHEMA``."""

    id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Reading
        fields = [
            "id",
            "room",
            "sensor",
            "measured_at",
            "temperature_c",
            "humidity_pct",
            "source",
            "recorded_by",
            "received_at",
        ]
        read_only_fields = fields


# One item of a POST: what readings.parse_item checks (documented, not run per item).
ITEM_SCHEMA = {
    "type": "object",
    "properties": {
        "sensor": {
            "type": "string",
            "maxLength": 64,
            "description": "感測器代碼；以感測器金鑰回報時可省略（即金鑰所屬的感測器）。",
        },
        "measured_at": {
            "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
            "description": (
                "量測時間：ISO 8601（未註明時區者為台北時間）或 Unix 秒數；"
                "不得晚於伺服器時間 10 分鐘以上，也不得早於一年前。"
            ),
        },
        "temperature_c": {
            "type": "number",
            "minimum": readings.TEMPERATURE_RANGE[0],
            "maximum": readings.TEMPERATURE_RANGE[1],
            "nullable": True,
            "description": "溫度（°C）；溫度與濕度至少須有一項。",
        },
        "humidity_pct": {
            "type": "number",
            "minimum": readings.HUMIDITY_RANGE[0],
            "maximum": readings.HUMIDITY_RANGE[1],
            "nullable": True,
            "description": "相對濕度（%RH）。",
        },
    },
    "required": ["measured_at"],
}
INGEST_REQUEST = {
    "application/json": {
        "oneOf": [ITEM_SCHEMA, {"type": "array", "items": ITEM_SCHEMA, "minItems": 1}],
        "description": "一筆讀數（物件）或多筆（陣列，最多 ISMS_ENV_BATCH_MAX 筆，預設 5000）。",
    }
}
IngestResult = inline_serializer(
    name="ReadingIngestResult",
    fields={
        "accepted": serializers.IntegerField(help_text="已儲存的讀數筆數"),
        "duplicates": serializers.IntegerField(help_text="已存在（重送）的讀數筆數"),
        "rejected": serializers.ListField(
            child=inline_serializer(
                name="ReadingRefused",
                fields={
                    "index": serializers.IntegerField(help_text="在批次中的位置（從 0 起）"),
                    "sensor": serializers.CharField(),
                    "errors": serializers.DictField(
                        child=serializers.ListField(child=serializers.CharField())
                    ),
                },
            ),
            help_text="被拒收的讀數與各欄位的原因",
        ),
    },
)


def _refuse_payload(sensor, raw, reason: str) -> None:
    """Count a body that is not a batch on the key's sensor (shown on its page)."""
    if sensor is not None:
        readings.reject_payload(raw, reason, source=Source.HTTP, sensor=sensor)


class SensorKeyAuthentication(devicekeys.KeyAuthentication):
    """``Authorization: Token isms_sn_…``: a sensor's key (3.2), before the people's tokens.

    Any other header is left to the next authentication. An unknown or revoked key (or the
    key of a voided sensor or room) is refused with 401 and audited (at most once an hour
    per key).
    """

    kind = readings.SENSOR_KEY

    def queryset(self):
        return Sensor.objects.filter(room__voided_at__isnull=True).select_related("room")


class SensorKeyScheme(OpenApiAuthenticationExtension):
    target_class = "isms.facilities.views_readings.SensorKeyAuthentication"
    name = "sensorKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Token isms_sn_…` — a temperature-humidity sensor's key (its page): POST "
                "/api/environment-readings/ for that sensor only."
            ),
        }


class ReadingPermission(MatrixPermission):
    """A sensor's key may only post readings; a person posts with a system administrator's
    role; people read by the access matrix."""

    def has_permission(self, request, view):
        device = request.auth if isinstance(request.auth, DeviceKey) else None
        if device is None:
            if view.action == "create":
                user = request.user
                return bool(user and user.is_authenticated and readings.may_keep(user))
            return super().has_permission(request, view)
        if view.action == "create":
            return True
        devicekeys.audit_refusal(
            readings.SENSOR_KEY,
            _("感測器金鑰只能用於回報讀數（POST /api/environment-readings/）。"),
            device.record,
            label=device.label,
        )
        return False


class ReadingViewSet(RegisterViewSet):
    """Readings: read by the office; posted by a sensor's key or a system administrator.

    ``POST /api/environment-readings/`` takes one reading (an object) or a batch (a list of
    at most ``ISMS_ENV_BATCH_MAX``). With ``Authorization: Token isms_sn_…`` the readings
    are the key's sensor's (``sensor`` may be left out; another sensor's code is refused
    for that item); with a system administrator's own token any sensor's, recorded by that
    person. Each item is checked on its own: 201 with the counts when anything was stored
    or all were already there, 400 when every item was refused. A reading is never changed
    (no PUT/PATCH).
    """

    authentication_classes = [
        SensorKeyAuthentication,
        *api_settings.DEFAULT_AUTHENTICATION_CLASSES,
    ]
    permission_classes = [ReadingPermission]
    parser_classes = [JSONParser]

    def __init_subclass__(cls, **kwargs):
        # The router names the methods of every register; a reading has no update.
        super().__init_subclass__(**kwargs)
        cls.http_method_names = [m for m in cls.http_method_names if m not in {"put", "patch"}]

    @extend_schema(
        request=INGEST_REQUEST,
        responses={
            201: IngestResult,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description=(
                    "全部被拒收（批次：同 201 的內容；單筆：各欄位的錯誤），"
                    "或內容不是物件或陣列、空陣列、超過筆數上限。"
                ),
            ),
        },
        description=(
            "回報溫濕度讀數（條文 3.2）：一筆（物件）或多筆（陣列）。以感測器金鑰"
            "（Authorization: Token isms_sn_…）或系統管理人員的 API 權杖傳送。"
            "同一感測器同一時間的讀數只存一次（重送視為重複）。"
        ),
    )
    def create(self, request, *args, **kwargs):
        device = request.auth if isinstance(request.auth, DeviceKey) else None
        sensor = device.record if device is not None else None
        raw = request.body  # read once, so that a refused body can be kept as sent
        try:
            data = request.data
        except exceptions.ParseError:
            _refuse_payload(sensor, raw, _("內容不是有效的 JSON。"))
            raise
        except exceptions.UnsupportedMediaType:
            _refuse_payload(sensor, raw, _("內容類型須為 application/json。"))
            raise
        single = isinstance(data, dict)
        items = [data] if single else data
        problem = ""
        if not isinstance(items, list):
            problem = _("請以 JSON 物件（一筆）或陣列（多筆）傳送讀數。")
        elif not items:
            problem = _("沒有讀數：陣列是空的。")
        elif len(items) > readings.batch_max():
            problem = _("一次最多傳送 %(max)d 筆讀數（這次 %(n)d 筆），請分批傳送。") % {
                "max": readings.batch_max(),
                "n": len(items),
            }
        if problem:
            _refuse_payload(sensor, items[:5] if isinstance(items, list) else items, problem)
            raise exceptions.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [problem]})
        if device is not None:
            with trail.acting_as(None, label=device.label):
                result = readings.ingest(items, source=Source.HTTP, key_sensor=sensor)
        else:
            result = readings.ingest(items, source=Source.HTTP, actor=request.user)
        if len(result.rejected) == len(items):
            if single:
                return Response(result.rejected[0]["errors"], status=status.HTTP_400_BAD_REQUEST)
            return Response(result.as_json(), status=status.HTTP_400_BAD_REQUEST)
        return Response(result.as_json(), status=status.HTTP_201_CREATED)


class ReadingRegister(Register):
    count_cap = 10_000
    model = Reading
    clause = "3.2"
    access = READING_ACCESS
    columns = [
        Column("measured_at", gettext_lazy("量測時間"), link=True),
        Column("room", gettext_lazy("機房或電腦教室"), accessor="room.name", sort="room__name"),
        Column("sensor", gettext_lazy("感測器"), accessor=_sensor_code, sort="sensor__code"),
        Column(
            "temperature", gettext_lazy("溫度（°C）"), accessor=_temperature, sort="temperature_c"
        ),
        Column("humidity", gettext_lazy("濕度（%RH）"), accessor=_humidity, sort="humidity_pct"),
        Column("out", gettext_lazy("範圍"), accessor=_out_mark, sort=None),
        Column("source", gettext_lazy("來源"), accessor="source", sort="source"),
        Column("recorded_by", gettext_lazy("登錄者"), accessor=_recorder, sort=None),
        Column("temperature_c", gettext_lazy("溫度數值（°C）"), page=False),
        Column("humidity_pct", gettext_lazy("濕度數值（%RH）"), page=False),
        Column("received_at", gettext_lazy("接收時間"), page=False),
    ]
    filterset_class = ReadingFilterSet
    form_class = ReadingForm
    serializer_class = ReadingSerializer
    viewset_base = ReadingViewSet
    select_related = ("room", "sensor", "recorded_by__person")
    serializer_reads_related = False
    ordering = ("-measured_at", "-id")
    route = "readings"
    nav_group = NAV
    nav_label = gettext_lazy("溫濕度讀數")
    detail_template = "facilities/readings/reading_detail.html"
    attachments = False

    @classmethod
    def urls(cls):
        # A reading is never edited (nor voided: it has no void): no edit page at all.
        return [p for p in super().urls() if p.name != f"{cls.prefix()}_edit"]


class ReadingAdd(AddPage):
    template_name = "facilities/readings/form.html"


class ReadingDetail(DetailPage):
    register = ReadingRegister

    def get(self, request, pk, *, status=200, **extra):
        reading = self.get_object("view")
        room = reading.room
        extra.update(
            reading=reading,
            room_url=url_or_none("facilities:room_detail", room.pk),
            range_text=range_text(room),
            temperature=marked(reading.temperature_c, room.temperature_min, room.temperature_max),
            humidity=marked(reading.humidity_pct, room.humidity_min, room.humidity_max),
            reasons=readings.out_of_range(
                readings.thresholds(room), reading.temperature_c, reading.humidity_pct
            ),
            chart=chart_url(room.pk, reading.measured_at),
        )
        return super().get(request, pk, status=status, **extra)


# Alerts (the excursion list) ---------------------------------------------------------------------
def duration_text(start, end) -> str:
    """How long: 3 小時 05 分 (or 2 天 3 小時)."""
    if start is None:
        return ""
    minutes = max(int(((end or timezone.now()) - start).total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("%(d)d 天 %(h)d 小時") % {"d": days, "h": hours}
    if hours:
        return _("%(h)d 小時 %(m)02d 分") % {"h": hours, "m": minutes}
    return _("%(m)d 分") % {"m": minutes}


def extremes_text(alert) -> str:
    parts = []
    if alert.temperature_high is not None:
        parts.append(
            _("溫度 %(low)s～%(high)s°C")
            % {
                "low": one_decimal(alert.temperature_low),
                "high": one_decimal(alert.temperature_high),
            }
        )
    if alert.humidity_high is not None:
        parts.append(
            _("濕度 %(low)s～%(high)s%%RH")
            % {"low": one_decimal(alert.humidity_low), "high": one_decimal(alert.humidity_high)}
        )
    return "；".join(parts)


def _closed(alert):
    return alert.closed_at if alert.closed_at is not None else str(_("進行中"))


def _duration(alert) -> str:
    return duration_text(alert.opened_at, alert.closed_at)


def _acknowledged(alert) -> str:
    if alert.acknowledged_at is None:
        return str(_("未確認"))
    return f"{alert.acknowledged_by.display_name} {as_text(alert.acknowledged_at)}"


def _alert_sensor(alert) -> str:
    return alert.sensor.code if alert.sensor_id else str(_("人工登錄"))


class AlertFilterSet(FilterSet):
    search_fields = ("reason", "note", "sensor__code", "room__name")
    room = df.ModelChoiceFilter(
        label=gettext_lazy("機房或電腦教室"), queryset=Room.objects.order_by("kind", "name", "id")
    )
    sensor = df.ModelChoiceFilter(
        label=gettext_lazy("感測器"), queryset=Sensor.objects.order_by("code", "id")
    )
    kind = df.ChoiceFilter(label=gettext_lazy("類別"), choices=Kind.choices)
    state = df.ChoiceFilter(
        label=gettext_lazy("狀態"),
        choices=[("open", gettext_lazy("進行中")), ("closed", gettext_lazy("已恢復"))],
        method="filter_state",
    )
    acknowledged = df.ChoiceFilter(
        label=gettext_lazy("確認"),
        choices=[("yes", gettext_lazy("已確認")), ("no", gettext_lazy("未確認"))],
        method="filter_acknowledged",
    )
    opened_from = ROCDateFilter(label=gettext_lazy("開始日期起"), method="filter_from")
    opened_to = ROCDateFilter(label=gettext_lazy("開始日期迄"), method="filter_to")

    class Meta:
        model = Alert
        fields = ["room", "sensor", "kind", "state", "acknowledged", "opened_from", "opened_to"]

    def filter_state(self, queryset, name, value):
        if value == "open":
            return queryset.filter(closed_at__isnull=True)
        if value == "closed":
            return queryset.filter(closed_at__isnull=False)
        return queryset

    def filter_acknowledged(self, queryset, name, value):
        if value == "yes":
            return queryset.filter(acknowledged_at__isnull=False)
        if value == "no":
            return queryset.filter(acknowledged_at__isnull=True)
        return queryset

    def filter_from(self, queryset, name, value):
        return queryset.filter(opened_at__gte=day_bounds(value)[0]) if value else queryset

    def filter_to(self, queryset, name, value):
        return queryset.filter(opened_at__lt=day_bounds(value)[1]) if value else queryset


class AlertSerializer(ModelSerializer):
    id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "room",
            "sensor",
            "kind",
            "opened_at",
            "closed_at",
            "temperature_low",
            "temperature_high",
            "humidity_low",
            "humidity_high",
            "readings_out",
            "reason",
            "acknowledged_by",
            "acknowledged_at",
            "note",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class AlertRegister(Register):
    model = Alert
    clause = "3.2"
    access = ALERT_ACCESS
    columns = [
        Column("opened_at", gettext_lazy("開始時間"), link=True),
        Column("room", gettext_lazy("機房或電腦教室"), accessor="room.name", sort="room__name"),
        Column("kind", gettext_lazy("類別")),
        Column("sensor", gettext_lazy("感測器"), accessor=_alert_sensor, sort="sensor__code"),
        Column("closed_at", gettext_lazy("恢復時間"), accessor=_closed, sort="closed_at"),
        Column("duration", gettext_lazy("持續時間"), accessor=_duration, sort=None),
        Column("extremes", gettext_lazy("極值"), accessor=extremes_text, sort=None),
        Column("readings_out", gettext_lazy("超出範圍讀數")),
        Column(
            "acknowledged", gettext_lazy("確認"), accessor=_acknowledged, sort="acknowledged_at"
        ),
        Column("reason", gettext_lazy("說明"), page=False),
        Column("note", gettext_lazy("處理說明"), page=False),
    ]
    filterset_class = AlertFilterSet
    serializer_class = AlertSerializer
    select_related = ("room", "sensor", "acknowledged_by__person")
    serializer_reads_related = False
    viewset_read_only = True
    ordering = ("-opened_at", "-id")
    route = "alerts"
    nav_group = NAV
    nav_label = gettext_lazy("溫濕度警示")
    detail_template = "facilities/readings/alert_detail.html"


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("處理說明"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
        help_text=gettext_lazy("例如：已請廠商檢修空調、已開啟除濕機。"),
        error_messages={"required": gettext_lazy("請寫明處理情形（例如：已請廠商檢修空調）。")},
    )


class AlertDetail(DetailPage):
    register = AlertRegister

    def get(self, request, pk, *, status=200, **extra):
        alert = self.get_object("view")
        room = alert.room
        extra.setdefault("acknowledge_form", AcknowledgeForm())
        extra.update(
            alert=alert,
            room_url=url_or_none("facilities:room_detail", room.pk),
            range_text=range_text(room),
            duration=_duration(alert),
            extremes=extremes_text(alert),
            chart=chart_url(room.pk, alert.opened_at),
            chart_closed=(
                chart_url(room.pk, alert.closed_at)
                if alert.closed_at is not None
                and timezone.localtime(alert.closed_at).date()
                != timezone.localtime(alert.opened_at).date()
                else None
            ),
            can_acknowledge=alert.acknowledged_at is None
            and can(request.user, "change", ACKNOWLEDGE_ACCESS),
        )
        return super().get(request, pk, status=status, **extra)


class AlertAcknowledgeView(DetailAction, AlertDetail):
    """確認警示: a refused acknowledgement shows the alert again with the reason (400)."""

    access = ACKNOWLEDGE_ACCESS
    form_class = AcknowledgeForm
    form_context = "acknowledge_form"

    def perform(self, alert, form, user):
        readings.acknowledge(alert, note=form.cleaned_data["note"], actor=user)

    def success_message(self, alert):
        return _("已確認「%(alert)s」。") % {"alert": alert}


SensorRegister.add_view = SensorAdd
SensorRegister.edit_view = SensorEdit
SensorRegister.detail_view = SensorDetail
ReadingRegister.add_view = ReadingAdd
ReadingRegister.detail_view = ReadingDetail
AlertRegister.detail_view = AlertDetail


def _without_list(patterns, name):
    return [p for p in patterns if p.name != name]


urlpatterns = [
    path("sensors/", SensorList.as_view(), name="sensor_list"),
    path("sensors/<int:pk>/key/", SensorKeyView.as_view(), name="sensor_key"),
    path("alerts/<int:pk>/acknowledge/", AlertAcknowledgeView.as_view(), name="alert_acknowledge"),
    *_without_list(SensorRegister.urls(), "sensor_list"),
    *ReadingRegister.urls(),
    *AlertRegister.urls(),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = (
    (SensorRegister, "sensors"),
    (ReadingRegister, "environment-readings"),
    (AlertRegister, "environment-alerts"),
)
