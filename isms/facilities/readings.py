"""Temperature and humidity (3.2): the ingest of readings, their hourly roll-ups, and the
alerts of a room out of range or a sensor gone silent.

Readings arrive by hand (``record_manual``), over HTTP (``POST /api/environment-readings/``
with the sensor's own key or a system administrator's token) and over MQTT
(``isms mqtt-ingest``); the last two call ``ingest`` with a batch of items
``{sensor, measured_at, temperature_c, humidity_pct}``.

1. **Each item is checked on its own** (``parse_item``): ``sensor`` is the code of an
   active sensor in an active room (a key's request: its own sensor only); ``measured_at``
   is an ISO 8601 moment (one without an offset is Asia/Taipei time) or Unix seconds, at
   most ``ISMS_ENV_FUTURE_MINUTES`` ahead of the server and not older than a year;
   ``temperature_c`` is a number within −40…80 °C and ``humidity_pct`` within 0…100 %RH,
   at least one of them given. A refused item is counted on its sensor (or, for an unknown
   code, kept with the code) with the reason (``Rejection``), never stopping the others.
2. **A reading is stored once**: the same sensor and moment again (a retried request) is
   a duplicate, neither stored nor refused.
3. **Roll-ups**: the new readings are added to their room's hourly sums, counts and
   extremes in the same transaction (one upsert), for the chart.
4. **Alerts**: a sensor's new readings, in time order, open an excursion alert at the
   first reading out of the room's range and close it at the first reading back in range —
   one alert however many readings; readings older than the sensor's latest change no
   alert (they are history). A new reading closes the sensor's silence alert. Readings by
   hand do the same for the room (``scope`` ``room:<id>``).
5. **Silence** (``alert_silent``, every minute by the worker): an active sensor with no
   reading for its ``silence_minutes`` (since its last reading, or since it was added)
   opens a silence alert, once.
6. Opening an alert tells the room's keeper and every active system administrator through
   the outbox at once (urgent); closing it tells them it is over.

The trail: one entry per ingested batch (the request or MQTT flush, with the counts),
each reading by hand, and each alert opened or closed (with the sensor or the worker as
actor). Counters of a sensor (last reading, accepted, refused) are not audited.
"""

import datetime as dt
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail
from isms.core import devicekeys, roc
from isms.core.access import has_role
from isms.core.roles import EQUIPMENT_HEAD, SYSADMIN
from isms.core.services import site_url

from .models import Alert, Reading, Rejection, Rollup, Room, Sensor

Source = Reading.Source
Kind = Alert.Kind
CLAUSE = "3.2"
TAIPEI = ZoneInfo("Asia/Taipei")
TEMPERATURE_RANGE = (-40.0, 80.0)
HUMIDITY_RANGE = (0.0, 100.0)
# Readings older than this are refused: a sensor whose clock was never set says 1970.
MAX_AGE = dt.timedelta(days=366)
CODE_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
PAYLOAD_EXCERPT = 500
KEY_PREFIX = "isms_sn_"
SENSOR_KEY = devicekeys.KeyKind(
    prefix=KEY_PREFIX,
    model=Sensor,
    label="sensor",
    created=gettext_lazy("建立感測器金鑰"),
    revoked=gettext_lazy("撤銷感測器金鑰"),
    failed=gettext_lazy("感測器金鑰無效或已撤銷。"),
    refused=gettext_lazy("感測器金鑰無效或已撤銷（金鑰開頭 %(start)s）。"),
    voided=gettext_lazy("感測器金鑰所屬的感測器已作廢（金鑰開頭 %(start)s）。"),
    voided_record=gettext_lazy("此感測器已作廢。"),
)
# The duties fed by these records (duties_environment).
READINGS_DUTY = "facilities.environment_readings"
ALERT_DUTY = "facilities.environment_alert"


def future_limit() -> dt.timedelta:
    return dt.timedelta(minutes=max(int(getattr(settings, "ISMS_ENV_FUTURE_MINUTES", 10)), 0))


def batch_max() -> int:
    return max(int(getattr(settings, "ISMS_ENV_BATCH_MAX", 5000)), 1)


def may_keep(user) -> bool:
    """System administrators keep the sensors and may post readings with their own token."""
    return has_role(user, SYSADMIN)


def may_record(user) -> bool:
    """A reading by hand: a system administrator or the equipment head (a room's keepers)."""
    return has_role(user, SYSADMIN) or has_role(user, EQUIPMENT_HEAD)


def administrators():
    return (
        get_user_model()
        .objects.filter(groups__name=SYSADMIN, is_active=True)
        .distinct()
        .order_by("pk")
    )


# Checking one item -------------------------------------------------------------------------------
class ItemError(Exception):
    """An item refused: ``errors`` {field: [zh-TW message]}."""

    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors


def _number(value, name: str, bounds: tuple, unit: str, errors: dict):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                errors[name] = [_("須為數字。")]
                return None
        else:
            errors[name] = [_("須為數字。")]
            return None
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        errors[name] = [_("須為數字。")]
        return None
    low, high = bounds
    if not low <= value <= high:
        errors[name] = [
            _("不可能的數值 %(value)s：須介於 %(low)s 到 %(high)s %(unit)s 之間。")
            % {"value": _fmt(value), "low": _fmt(low), "high": _fmt(high), "unit": unit}
        ]
        return None
    return value


def _fmt(value: float) -> str:
    return f"{value:g}"


def parse_moment(value) -> dt.datetime | None:
    """ISO 8601 (an offset or Z; without one, Asia/Taipei) or Unix seconds → aware UTC."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if math.isnan(value) or math.isinf(value):
            return None
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not 10 <= len(value.strip()) <= 40:
        return None
    text = value.strip()
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TAIPEI)
    return moment.astimezone(dt.UTC)


def check_moment(moment, now: dt.datetime) -> str:
    """The refusal of a measured moment, or ""."""
    if moment is None:
        return _("時間格式不正確：請用 ISO 8601（例如 2026-11-29T10:15:00+08:00）或 Unix 秒數。")
    if moment > now + future_limit():
        return _("量測時間晚於現在（感測器時鐘可能不準）。")
    if moment < now - MAX_AGE:
        return _("量測時間早於一年前（感測器時鐘可能未設定）。")
    return ""


@dataclass
class Item:
    sensor: Sensor
    measured_at: dt.datetime
    temperature_c: float | None
    humidity_pct: float | None


def parse_item(raw, sensors: dict, now: dt.datetime, key_sensor: Sensor | None = None) -> Item:
    """One item of a batch, checked (``ItemError`` with field errors when refused).

    ``sensors`` maps codes to active sensors (with their rooms) read for the whole batch.
    """
    if not isinstance(raw, dict):
        raise ItemError({"non_field_errors": [_("每筆讀數須為 JSON 物件。")]})
    errors = {}
    code = raw.get("sensor")
    if code in (None, "") and key_sensor is not None:
        code = key_sensor.code
    sensor = None
    if not isinstance(code, str) or not code.strip():
        errors["sensor"] = [_("請填寫感測器代碼。")]
    else:
        sensor = sensors.get(code.strip())
        if sensor is None:
            errors["sensor"] = [_("未登記或已停用的感測器：%(code)s。") % {"code": code[:64]}]
        elif key_sensor is not None and sensor.pk != key_sensor.pk:
            errors["sensor"] = [
                _("此金鑰只能回報感測器 %(code)s 的讀數。") % {"code": key_sensor.code}
            ]
    moment = parse_moment(raw.get("measured_at"))
    if "measured_at" not in raw or raw.get("measured_at") in (None, ""):
        errors["measured_at"] = [_("請填寫量測時間。")]
    else:
        problem = check_moment(moment, now)
        if problem:
            errors["measured_at"] = [problem]
    t = _number(raw.get("temperature_c"), "temperature_c", TEMPERATURE_RANGE, "°C", errors)
    h = _number(raw.get("humidity_pct"), "humidity_pct", HUMIDITY_RANGE, "%RH", errors)
    if (
        raw.get("temperature_c") is None
        and raw.get("humidity_pct") is None
        and "temperature_c" not in errors
    ):
        errors["temperature_c"] = [_("溫度與濕度至少須有一項。")]
    if errors:
        raise ItemError(errors)
    return Item(sensor, moment, t, h)


def excerpt(raw) -> str:
    """What was refused, as kept on the sensor page (JSON, at most 500 characters)."""
    if isinstance(raw, bytes):
        text = raw.decode("utf-8", "replace")
    elif isinstance(raw, str):
        text = raw
    else:
        try:
            text = json.dumps(raw, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(raw)
    text = text.replace("\x00", "")
    return text if len(text) <= PAYLOAD_EXCERPT else text[: PAYLOAD_EXCERPT - 1] + "…"


def _reason(errors: dict) -> str:
    parts = []
    for name, messages in errors.items():
        text = "；".join(str(m) for m in messages)
        parts.append(text if name == "non_field_errors" else f"{name}: {text}")
    return "；".join(parts)[:300]


# The ingest ---------------------------------------------------------------------------------------
@dataclass
class Result:
    """What became of a batch: stored, duplicates, refused (index → field errors)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list = field(default_factory=list)  # [{"index", "sensor", "errors"}]
    opened: list = field(default_factory=list)  # alerts opened
    closed: list = field(default_factory=list)  # alerts closed

    def as_json(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [
                {"index": r["index"], "sensor": r["sensor"], "errors": r["errors"]}
                for r in self.rejected
            ],
        }


def active_sensors(codes) -> dict:
    """{code: sensor} of the active sensors in active rooms among ``codes`` (1 query)."""
    codes = {c.strip() for c in codes if isinstance(c, str) and c.strip()}
    if not codes:
        return {}
    qs = Sensor.objects.filter(
        code__in=codes, voided_at__isnull=True, room__voided_at__isnull=True
    ).select_related("room")
    return {s.code: s for s in qs}


def ingest(items, *, source: str, key_sensor: Sensor | None = None, actor=None, now=None):
    """Store a batch of readings from a sensor (HTTP or MQTT); see the module's steps.

    ``items`` is a list of decoded JSON values; ``key_sensor`` the sensor whose key sent
    them (its own readings only); ``actor`` the person whose token sent them (a system
    administrator) or None (a sensor; the trail's actor is then the caller's
    ``trail.acting_as`` label). Returns a ``Result``; never raises for a bad item.
    """
    if source not in (Source.HTTP, Source.MQTT):
        raise ValueError(f"unknown source {source!r}")
    now = now or timezone.now()
    result = Result()
    codes = [i.get("sensor") for i in items if isinstance(i, dict)]
    if key_sensor is not None:
        codes.append(key_sensor.code)
    sensors = active_sensors(codes)
    good: list[Item] = []
    refused: list[Rejection] = []
    seen = set()
    for index, raw in enumerate(items):
        try:
            item = parse_item(raw, sensors, now, key_sensor)
        except ItemError as error:
            code = raw.get("sensor") if isinstance(raw, dict) else None
            code = code.strip()[:64] if isinstance(code, str) else ""
            sensor = sensors.get(code) or key_sensor
            result.rejected.append({"index": index, "sensor": code, "errors": error.errors})
            refused.append(
                Rejection(
                    sensor=sensor,
                    sensor_code=code,
                    source=source,
                    received_at=now,
                    reason=_reason(error.errors),
                    payload=excerpt(raw),
                )
            )
            continue
        mark = (item.sensor.pk, item.measured_at)
        if mark in seen:
            result.duplicates += 1
            continue
        seen.add(mark)
        good.append(item)
    for attempt in range(2):
        try:
            with transaction.atomic():
                _store(good, result, source, actor, now)
                _refuse(refused)
            break
        except IntegrityError:
            # Another request stored some of the same readings meanwhile: again, once.
            if attempt:
                raise
            result.accepted, result.duplicates = 0, len(items) - len(good) - len(refused)
            result.opened, result.closed = [], []
    _tell(result, actor)
    if result.opened or result.closed:
        _refresh(ALERT_DUTY)
    return result


def _existing(good: list[Item]) -> set:
    """(sensor pk, moment) of the batch's readings already stored (1 query)."""
    if not good:
        return set()
    ids = {i.sensor.pk for i in good}
    low = min(i.measured_at for i in good)
    high = max(i.measured_at for i in good)
    rows = Reading.objects.filter(
        sensor_id__in=ids, measured_at__gte=low, measured_at__lte=high
    ).values_list("sensor_id", "measured_at")
    return set(rows)


def _store(good: list[Item], result: Result, source, actor, now) -> None:
    if not good:
        return
    # The sensors' latest readings as they are now, under a lock: a concurrent batch of the
    # same sensor waits, so alerts follow each sensor's readings in order.
    sensors = {i.sensor.pk: i.sensor for i in good}
    latest = dict(
        Sensor.objects.select_for_update()
        .filter(pk__in=list(sensors))
        .values_list("pk", "last_reading_at")
    )
    for pk, sensor in sensors.items():
        sensor.last_reading_at = latest.get(pk)
    stored = _existing(good)
    new = [i for i in good if (i.sensor.pk, i.measured_at) not in stored]
    result.duplicates += len(good) - len(new)
    if not new:
        return
    recorder = actor if getattr(actor, "is_authenticated", False) else None
    Reading.objects.bulk_create(
        [
            Reading(
                room_id=i.sensor.room_id,
                sensor=i.sensor,
                measured_at=i.measured_at,
                temperature_c=i.temperature_c,
                humidity_pct=i.humidity_pct,
                source=source,
                recorded_by=recorder,
                received_at=now,
            )
            for i in new
        ],
        batch_size=500,
    )
    result.accepted = len(new)
    add_to_rollups(new)
    by_sensor = defaultdict(list)
    for item in new:
        by_sensor[item.sensor.pk].append(item)
    _follow(by_sensor, result, now, actor)
    for items in by_sensor.values():
        sensor = items[0].sensor
        latest = max(i.measured_at for i in items)
        Sensor.objects.filter(pk=sensor.pk).update(
            last_reading_at=Greatest(Coalesce(F("last_reading_at"), latest), latest),
            accepted_count=F("accepted_count") + len(items),
        )
        sensor.last_reading_at = max(sensor.last_reading_at or latest, latest)
    names = "、".join(sorted({items[0].sensor.code for items in by_sensor.values()}))
    with trail.as_actor(actor):
        trail.record(
            trail.Action.CREATE,
            model_label="facilities.reading",
            object_repr=names[:200],
            message=_("接收溫濕度讀數 %(n)d 筆（感測器 %(sensors)s；%(source)s）")
            % {"n": len(new), "sensors": names, "source": Source(source).label},
        )


def _refuse(refused: list[Rejection]) -> None:
    if not refused:
        return
    Rejection.objects.bulk_create(refused, batch_size=500)
    counts = defaultdict(int)
    for r in refused:
        if r.sensor is not None:
            counts[r.sensor.pk] += 1
    when = refused[0].received_at
    for pk, n in counts.items():
        Sensor.objects.filter(pk=pk).update(
            rejected_count=F("rejected_count") + n, last_rejected_at=when
        )


def reject_payload(raw, reason: str, *, source: str, sensor: Sensor | None = None, now=None):
    """Count a payload that is not even a batch (malformed JSON, not a list or object)."""
    now = now or timezone.now()
    code = sensor.code if sensor is not None else ""
    _refuse(
        [
            Rejection(
                sensor=sensor,
                sensor_code=code,
                source=source,
                received_at=now,
                reason=reason[:300],
                payload=excerpt(raw),
            )
        ]
    )


def prune_rejections(now=None) -> int:
    """Keep the newest ``ISMS_ENV_REJECTIONS_KEPT`` refused readings (a worker job)."""
    kept = max(int(getattr(settings, "ISMS_ENV_REJECTIONS_KEPT", 10_000)), 0)
    edge = Rejection.objects.order_by("-received_at", "-id").values_list("id", flat=True)[
        kept : kept + 1
    ]
    edge = list(edge)
    if not edge:
        return 0
    deleted, _rows = Rejection.objects.filter(id__lte=edge[0]).delete()
    return deleted


# Roll-ups -----------------------------------------------------------------------------------------
def _hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def hourly(values) -> dict:
    """{(room pk, hour): [t count, t sum, t min, t max, h count, h sum, h min, h max]} of
    (room pk, moment, temperature, humidity) tuples."""
    out = {}
    for room, moment, t, h in values:
        key = (room, _hour(moment))
        row = out.get(key)
        if row is None:
            row = out[key] = [0, 0.0, None, None, 0, 0.0, None, None]
        if t is not None:
            row[0] += 1
            row[1] += t
            row[2] = t if row[2] is None or t < row[2] else row[2]
            row[3] = t if row[3] is None or t > row[3] else row[3]
        if h is not None:
            row[4] += 1
            row[5] += h
            row[6] = h if row[6] is None or h < row[6] else row[6]
            row[7] = h if row[7] is None or h > row[7] else row[7]
    return out


COLUMNS = (
    "temperature_count",
    "temperature_sum",
    "temperature_min",
    "temperature_max",
    "humidity_count",
    "humidity_sum",
    "humidity_min",
    "humidity_max",
)


def _merge(column: str, table: str) -> str:
    old, new = f"{table}.{column}", f"excluded.{column}"
    if column.endswith(("_count", "_sum")):
        return f"{column} = {old} + {new}"
    better = "<" if column.endswith("_min") else ">"
    return (
        f"{column} = CASE WHEN {old} IS NULL THEN {new} WHEN {new} IS NULL THEN {old} "
        f"WHEN {new} {better} {old} THEN {new} ELSE {old} END"
    )


def upsert_rollups(rows: dict) -> None:
    """Add hourly aggregates to the stored ones (one statement per 200 hours): counts and
    sums add up, extremes keep the more extreme. SQLite and PostgreSQL alike."""
    if not rows:
        return
    table = Rollup._meta.db_table
    names = ("room_id", "hour", *COLUMNS)
    quoted = ", ".join(names)
    merge = ", ".join(_merge(c, table) for c in COLUMNS)
    adapt = connection.ops.adapt_datetimefield_value
    items = sorted(rows.items())
    with connection.cursor() as cursor:
        for start in range(0, len(items), 200):
            chunk = items[start : start + 200]
            marks = ", ".join(["(" + ", ".join(["%s"] * len(names)) + ")"] * len(chunk))
            params = []
            for (room, hour), values in chunk:
                params.extend([room, adapt(hour), *values])
            cursor.execute(
                f"INSERT INTO {table} ({quoted}) VALUES {marks} "
                f"ON CONFLICT (room_id, hour) DO UPDATE SET {merge}",
                params,
            )


def add_to_rollups(items: list[Item]) -> None:
    upsert_rollups(
        hourly((i.sensor.room_id, i.measured_at, i.temperature_c, i.humidity_pct) for i in items)
    )


# Alerts -------------------------------------------------------------------------------------------
def thresholds(room: Room) -> tuple:
    return (
        float(room.temperature_min),
        float(room.temperature_max),
        float(room.humidity_min),
        float(room.humidity_max),
    )


def out_of_range(bounds: tuple, t, h) -> list[str]:
    """Why a reading is out of the room's range (3.2), or []."""
    t_min, t_max, h_min, h_max = bounds
    reasons = []
    if t is not None and t > t_max:
        reasons.append(_("溫度 %(v)s°C 高於 %(limit)s°C") % {"v": _fmt(t), "limit": _fmt(t_max)})
    elif t is not None and t < t_min:
        reasons.append(_("溫度 %(v)s°C 低於 %(limit)s°C") % {"v": _fmt(t), "limit": _fmt(t_min)})
    if h is not None and h > h_max:
        reasons.append(
            _("濕度 %(v)s%%RH 高於 %(limit)s%%RH") % {"v": _fmt(h), "limit": _fmt(h_max)}
        )
    elif h is not None and h < h_min:
        reasons.append(
            _("濕度 %(v)s%%RH 低於 %(limit)s%%RH") % {"v": _fmt(h), "limit": _fmt(h_min)}
        )
    return reasons


def sensor_scope(sensor_pk: int) -> str:
    return f"sensor:{sensor_pk}"


def room_scope(room_pk: int) -> str:
    return f"room:{room_pk}"


def _extremes(alert: Alert, t, h) -> None:
    if t is not None:
        alert.temperature_low = (
            t if alert.temperature_low is None else min(alert.temperature_low, t)
        )
        alert.temperature_high = (
            t if alert.temperature_high is None else max(alert.temperature_high, t)
        )
    if h is not None:
        alert.humidity_low = h if alert.humidity_low is None else min(alert.humidity_low, h)
        alert.humidity_high = h if alert.humidity_high is None else max(alert.humidity_high, h)


def _walk(scope, room, sensor, readings, open_alert, result, actor):
    """Follow one scope's new readings in time order; open, extend and close excursions.

    ``readings`` are (moment, temperature, humidity), already only those newer than the
    scope's latest earlier reading. Returns the alert left open (or None).
    """
    bounds = thresholds(room)
    alert = open_alert
    grown = alert is not None and alert.pk is not None
    added = 0
    for moment, t, h in sorted(readings, key=lambda r: r[0]):
        reasons = out_of_range(bounds, t, h)
        if reasons:
            if alert is None:
                alert = Alert(
                    room=room,
                    sensor=sensor,
                    kind=Kind.EXCURSION,
                    scope=scope,
                    opened_at=moment,
                    reason="；".join(reasons)[:300],
                    readings_out=0,
                )
                grown, added = False, 0
            _extremes(alert, t, h)
            alert.readings_out += 1
            added += 1
        elif alert is not None:
            alert.closed_at = moment
            _save_alert(alert, added, actor)
            result.closed.append(alert)
            if not grown:
                result.opened.append(alert)
            alert, grown, added = None, False, 0
    if alert is not None:
        was_new = alert.pk is None
        _save_alert(alert, added, actor)
        if was_new:
            result.opened.append(alert)
    return alert


def _save_alert(alert: Alert, added: int, actor) -> None:
    """Save an alert: opened or closed through ``save`` (in the trail), an open one's
    extremes and count by ``QuerySet.update`` (counters, not audited)."""
    if alert.pk is None or alert.closed_at is not None:
        with trail.as_actor(actor):
            alert.save()
        return
    if added:
        Alert.objects.filter(pk=alert.pk).update(
            readings_out=F("readings_out") + added,
            temperature_low=alert.temperature_low,
            temperature_high=alert.temperature_high,
            humidity_low=alert.humidity_low,
            humidity_high=alert.humidity_high,
        )
        alert.refresh_from_db(fields=["readings_out"])


def _open_alerts(scopes) -> dict:
    """{(kind, scope): open alert} for these scopes (1 query)."""
    if not scopes:
        return {}
    rows = Alert.objects.filter(closed_at__isnull=True, scope__in=list(scopes))
    return {(a.kind, a.scope): a for a in rows}


def _follow(by_sensor: dict, result: Result, now, actor) -> None:
    """The alerts of the sensors of a stored batch: excursions and the end of silences."""
    scopes = {sensor_scope(pk) for pk in by_sensor}
    open_ = _open_alerts(scopes)
    for pk, items in by_sensor.items():
        sensor = items[0].sensor
        scope = sensor_scope(pk)
        last = sensor.last_reading_at
        live = [
            (i.measured_at, i.temperature_c, i.humidity_pct)
            for i in items
            if last is None or i.measured_at > last
        ]
        if not live:
            continue
        silent = open_.get((Kind.SILENCE, scope))
        if silent is not None:
            silent.closed_at = max(m for m, _t, _h in live)
            _save_alert(silent, 0, actor)
            result.closed.append(silent)
        _walk(scope, sensor.room, sensor, live, open_.get((Kind.EXCURSION, scope)), result, actor)


def alert_silent(now=None) -> int:
    """Open a silence alert for each active sensor quiet for its ``silence_minutes``
    (the worker, every minute). Returns how many were opened.

    1. Active sensors in active monitored rooms without an open silence alert (1 query).
    2. Quiet since (its last reading, or its creation) + silence_minutes ≤ now: open one
       alert from that moment, as the worker; tell the keepers.
    """
    now = now or timezone.now()
    open_scopes = Alert.objects.filter(closed_at__isnull=True, kind=Kind.SILENCE).values("scope")
    sensors = Sensor.objects.filter(
        voided_at__isnull=True, room__voided_at__isnull=True, room__monitored=True
    ).select_related("room")
    opened = []
    taken = set(open_scopes.values_list("scope", flat=True))
    for sensor in sensors:
        scope = sensor_scope(sensor.pk)
        if scope in taken:
            continue
        since = sensor.last_reading_at or sensor.created_at
        quiet_from = since + dt.timedelta(minutes=sensor.silence_minutes)
        if quiet_from > now:
            continue
        alert = Alert(
            room=sensor.room,
            sensor=sensor,
            kind=Kind.SILENCE,
            scope=scope,
            opened_at=quiet_from,
            reason=(
                _("感測器 %(code)s 已 %(minutes)d 分鐘沒有讀數（最近讀數：%(last)s）")
                % {
                    "code": sensor.code,
                    "minutes": sensor.silence_minutes,
                    "last": roc.format_roc_datetime(sensor.last_reading_at)
                    if sensor.last_reading_at
                    else _("尚無"),
                }
            )[:300],
        )
        try:
            with transaction.atomic(), trail.acting_as(None, label="worker"):
                alert.save()
        except IntegrityError:
            continue  # another worker opened it a moment ago
        opened.append(alert)
    if opened:
        _tell(Result(opened=opened), None)
        _refresh(ALERT_DUTY)
    return len(opened)


def recipients(room: Room, admins=None) -> list:
    """The room's keeper (when active) and every active system administrator."""
    people = list(admins if admins is not None else administrators())
    keeper = room.keeper if room.keeper_id else None
    if keeper is not None and keeper.is_active and all(p.pk != keeper.pk for p in people):
        people.append(keeper)
    return people


def _describe(alert: Alert) -> str:
    if alert.kind == Kind.SILENCE:
        return alert.reason
    parts = [alert.reason]
    if alert.temperature_high is not None:
        parts.append(
            _("溫度 %(low)s～%(high)s°C")
            % {"low": _fmt(alert.temperature_low), "high": _fmt(alert.temperature_high)}
        )
    if alert.humidity_high is not None:
        parts.append(
            _("濕度 %(low)s～%(high)s%%RH")
            % {"low": _fmt(alert.humidity_low), "high": _fmt(alert.humidity_high)}
        )
    return "；".join(parts)


def _tell(result: Result, actor) -> None:
    """Tell the keepers of every alert opened (urgent) and closed in a batch."""
    if not result.opened and not result.closed:
        return
    from isms.notifications.services import notify

    admins = list(administrators())
    rooms = {}
    for alert in [*result.opened, *result.closed]:
        room = rooms.setdefault(
            alert.room_id, Room.objects.select_related("keeper").get(pk=alert.room_id)
        )
        what = alert.get_kind_display()
        url = site_url(alert.get_absolute_url())
        if alert in result.opened:
            for person in recipients(room, admins):
                notify(
                    recipient=person,
                    subject=_("%(what)s：%(room)s") % {"what": what, "room": room.name},
                    body=_(
                        "%(room)s 自 %(when)s 起%(what)s（條文 3.2；範圍 %(t_min)s～%(t_max)s°C、"
                        "%(h_min)s～%(h_max)s%%RH）。\n%(detail)s\n請儘速處理：%(url)s"
                    )
                    % {
                        "room": room.name,
                        "when": roc.format_roc_datetime(alert.opened_at),
                        "what": what,
                        "t_min": _fmt(float(room.temperature_min)),
                        "t_max": _fmt(float(room.temperature_max)),
                        "h_min": _fmt(float(room.humidity_min)),
                        "h_max": _fmt(float(room.humidity_max)),
                        "detail": _describe(alert),
                        "url": url,
                    },
                    dedup_key=f"facilities.alert_opened:{alert.pk}:{person.pk}",
                    urgent=True,
                    actor=actor,
                )
        if alert.closed_at is not None:
            for person in recipients(room, admins):
                notify(
                    recipient=person,
                    subject=_("已恢復：%(what)s：%(room)s") % {"what": what, "room": room.name},
                    body=_("%(room)s 的%(what)s已於 %(when)s 恢復。\n%(detail)s\n%(url)s")
                    % {
                        "room": room.name,
                        "what": what,
                        "when": roc.format_roc_datetime(alert.closed_at),
                        "detail": _describe(alert),
                        "url": url,
                    },
                    dedup_key=f"facilities.alert_closed:{alert.pk}:{person.pk}",
                    actor=actor,
                )


def _refresh(*keys) -> None:
    from isms.compliance import engine

    for key in keys:
        engine.refresh(key)


# Readings by hand -------------------------------------------------------------------------------
def manual_errors(reading: Reading, now) -> dict:
    errors = {}
    room = reading.room if reading.room_id else None
    if room is None:
        errors["room"] = _("請選擇機房或電腦教室。")
    elif room.voided_at is not None:
        errors["room"] = _("此機房或電腦教室已作廢。")
    if reading.measured_at is None:
        errors["measured_at"] = _("請填寫量測時間。")
    else:
        problem = check_moment(reading.measured_at, now)
        if problem:
            errors["measured_at"] = problem
    for name, bounds, unit in (
        ("temperature_c", TEMPERATURE_RANGE, "°C"),
        ("humidity_pct", HUMIDITY_RANGE, "%RH"),
    ):
        found = {}
        value = _number(getattr(reading, name), name, bounds, unit, found)
        if found:
            errors[name] = found[name][0]
        setattr(reading, name, value)
    if (
        reading.temperature_c is None
        and reading.humidity_pct is None
        and not errors.get("temperature_c")
    ):
        errors.setdefault("temperature_c", _("溫度與濕度至少須填一項（條文 3.2）。"))
    if (
        not errors
        and Reading.objects.filter(
            room=room, sensor__isnull=True, measured_at=reading.measured_at
        ).exists()
    ):
        errors["measured_at"] = _("此機房在這個時間已有人工登錄的讀數。")
    return errors


@transaction.atomic
def record_manual(reading: Reading, *, actor, now=None) -> Result:
    """A reading read off the room's display and entered by hand (3.2)."""
    if not may_record(actor):
        raise PermissionDenied
    now = now or timezone.now()
    if reading.pk is not None:
        raise ValidationError({"__all__": _("已記錄的讀數不能修改。")})
    reading.sensor = None
    reading.source = Source.MANUAL
    reading.recorded_by = actor
    errors = manual_errors(reading, now)
    if errors:
        raise ValidationError(errors)
    room = Room.objects.get(pk=reading.room_id)
    scope = room_scope(room.pk)
    latest = (
        Reading.objects.filter(room=room, sensor__isnull=True)
        .order_by("-measured_at")
        .values_list("measured_at", flat=True)
        .first()
    )
    with trail.as_actor(actor):
        reading.save()
    upsert_rollups(
        hourly([(room.pk, reading.measured_at, reading.temperature_c, reading.humidity_pct)])
    )
    result = Result(accepted=1)
    if latest is None or reading.measured_at > latest:
        open_ = _open_alerts({scope}).get((Kind.EXCURSION, scope))
        _walk(
            scope,
            room,
            None,
            [(reading.measured_at, reading.temperature_c, reading.humidity_pct)],
            open_,
            result,
            actor,
        )
    _tell(result, actor)
    _refresh(READINGS_DUTY, *([ALERT_DUTY] if result.opened or result.closed else []))
    return result


# Alerts by people -------------------------------------------------------------------------------
@transaction.atomic
def acknowledge(alert: Alert, *, note: str, actor) -> Alert:
    """A keeper says the alert is being dealt with (what was done); once."""
    if not may_record(actor):
        raise PermissionDenied
    stored = Alert.objects.select_for_update(of=("self",)).get(pk=alert.pk)
    note = (note or "").strip()
    if stored.acknowledged_at is not None:
        raise ValidationError({"__all__": _("此警示已確認。")})
    if not note:
        raise ValidationError({"note": _("請寫明處理情形（例如：已請廠商檢修空調）。")})
    stored.note = note
    stored.acknowledged_by = actor
    stored.acknowledged_at = timezone.now()
    with trail.as_actor(actor):
        stored.save(update_fields=["note", "acknowledged_by", "acknowledged_at", "updated_at"])
    return stored


# Sensors ------------------------------------------------------------------------------------------
def sensor_errors(sensor: Sensor) -> dict:
    errors = {}
    sensor.code = (sensor.code or "").strip()
    sensor.name = (sensor.name or "").strip()
    if not sensor.code:
        errors["code"] = _("請填寫感測器代碼。")
    elif not CODE_RE.match(sensor.code):
        errors["code"] = _("感測器代碼只能有英數字、點、底線或連字號（最多 64 字）。")
    elif Sensor.objects.filter(code=sensor.code).exclude(pk=sensor.pk).exists():
        errors["code"] = _("已有相同代碼的感測器。")
    if not sensor.name:
        errors["name"] = _("請填寫名稱。")
    elif len(sensor.name) > 200:
        errors["name"] = _("最多 %(limit)d 個字。") % {"limit": 200}
    room = sensor.room if sensor.room_id else None
    if room is None:
        errors["room"] = _("請選擇機房或電腦教室。")
    elif room.voided_at is not None:
        errors["room"] = _("此機房或電腦教室已作廢。")
    minutes = sensor.silence_minutes
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 10080:
        errors["silence_minutes"] = _("未回報警示須為 1 到 10080 分鐘（7 天）。")
    return errors


@transaction.atomic
def save_sensor(sensor: Sensor, *, actor) -> Sensor:
    """Add or change a sensor (its key and counters are never changed here)."""
    if not may_keep(actor):
        raise PermissionDenied
    if sensor.pk is not None:
        stored = Sensor.objects.select_for_update().get(pk=sensor.pk)
        if stored.voided_at is not None:
            raise ValidationError({"__all__": _("此感測器已作廢，不能修改。")})
        for name in (
            "token_prefix",
            "token_hash",
            "token_created_at",
            "last_reading_at",
            "accepted_count",
            "rejected_count",
            "last_rejected_at",
        ):
            setattr(sensor, name, getattr(stored, name))
        if stored.room_id != sensor.room_id and Reading.objects.filter(sensor=stored).exists():
            raise ValidationError(
                {"room": _("已有讀數的感測器不能改到其他機房：請作廢後另行新增。")}
            )
    else:
        sensor.token_prefix, sensor.token_hash, sensor.token_created_at = "", "", None
        sensor.last_reading_at, sensor.last_rejected_at = None, None
        sensor.accepted_count = sensor.rejected_count = 0
    errors = sensor_errors(sensor)
    if errors:
        raise ValidationError(errors)
    with trail.as_actor(actor):
        sensor.save()
    return sensor


@transaction.atomic
def void_sensor(sensor: Sensor, *, actor, reason: str) -> Sensor:
    """Take a sensor out of service: its key stops working, and its open alerts (nothing
    would close them any more) are closed now with the reason in their note."""
    from isms.core.services import record_void

    if not may_keep(actor):
        raise PermissionDenied
    sensor = Sensor.objects.select_for_update().get(pk=sensor.pk)
    record_void(sensor, actor=actor, reason=reason)
    now = timezone.now()
    note = _("感測器已作廢（%(reason)s），警示隨之結束。") % {"reason": sensor.void_reason}
    for alert in Alert.objects.filter(closed_at__isnull=True, scope=sensor_scope(sensor.pk)):
        alert.closed_at = max(now, alert.opened_at)
        alert.note = f"{alert.note}\n{note}".strip()
        with trail.as_actor(actor):
            alert.save(update_fields=["closed_at", "note", "updated_at"])
    _refresh(ALERT_DUTY, READINGS_DUTY)
    return sensor


def key_create(sensor: Sensor, *, actor) -> str:
    """A new key for the sensor's HTTP reports, shown once; the old one stops working."""
    if not may_keep(actor):
        raise PermissionDenied
    return devicekeys.create(SENSOR_KEY, sensor, actor=actor)


def key_revoke(sensor: Sensor, *, actor) -> Sensor:
    if not may_keep(actor):
        raise PermissionDenied
    return devicekeys.revoke(SENSOR_KEY, sensor, actor=actor)


def sensor_for_key(key: str) -> Sensor | None:
    return devicekeys.holder(
        SENSOR_KEY, key, Sensor.objects.filter(room__voided_at__isnull=True).select_related("room")
    )


def silence_open(sensors) -> set:
    """Pks of these sensors with an open silence alert (1 query)."""
    scopes = [sensor_scope(s.pk) for s in sensors]
    rows = Alert.objects.filter(closed_at__isnull=True, kind=Kind.SILENCE, scope__in=scopes)
    return set(rows.values_list("sensor_id", flat=True))


def unknown_codes(since: dt.datetime) -> list:
    """(code, count, last) of refused readings naming no registered sensor since ``since``."""
    from django.db.models import Count, Max

    return list(
        Rejection.objects.filter(sensor__isnull=True, received_at__gte=since)
        .exclude(Q(sensor_code=""))
        .values("sensor_code")
        .annotate(count=Count("id"), last=Max("received_at"))
        .order_by("-last")
        .values_list("sensor_code", "count", "last")[:50]
    )
