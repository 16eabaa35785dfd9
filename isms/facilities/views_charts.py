"""The environment chart of a room (clause 3.2): page, CSV download and JSON API.

- ``/facilities/rooms/<pk>/environment/`` (``facilities:room_chart``): range tabs (日／週／
  月／年), previous and next, an end date in the ROC calendar, the room's thresholds, its
  latest reading, the temperature and humidity charts (inline SVG drawn on the server,
  printable, with a data table for screen readers) and the alerts of the period.
- ``…/environment/csv/`` (``facilities:room_chart_csv``): the buckets as CSV (audited).
- ``GET /api/environment-series/?room=<pk>&range=week&end=YYYY-MM-DD``: the same buckets
  as JSON.

Access: whoever reads the rooms register (the security officer, the supervisor, the
principal, system administrators and the equipment head). A voided room stays viewable,
read-only: its readings are the evidence of 3.2 for the time it was in use.
"""

import datetime as dt
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from isms.audit import trail
from isms.core import roc
from isms.core.access import Access, MatrixPermission
from isms.core.fields import ROCDateField
from isms.core.generic import ProtectedView, csv_response, url_or_none
from isms.core.restapi import DateField, iso_moment
from isms.core.roles import EQUIPMENT_HEAD, MANAGERS, SYSADMIN

from . import charts
from .models import Alert, Reading, Room

# The readers of the rooms register.
READERS = MANAGERS | {SYSADMIN, EQUIPMENT_HEAD}
CHART_ACCESS = Access(view=READERS)
# Alerts listed on the page for a period (newest first); a year may hold more.
ALERTS_SHOWN = 50
MAX_PK = 2**63 - 1


def today() -> dt.date:
    return timezone.localdate()


# A year before the end date must still be in the ROC calendar (民國元年 and after).
EARLIEST_END = dt.date(roc.MIN_DATE.year + 1, 1, 1)


def _end_not_future(value):
    if value is not None and value > today():
        raise ValidationError(_("結束日期不得晚於今天（條文 3.2 的讀數只有已量測的）。"))
    if value is not None and value < EARLIEST_END:
        raise ValidationError(
            _("結束日期不得早於 %(date)s。") % {"date": roc.format_roc(EARLIEST_END)}
        )
    return value


class ChartForm(forms.Form):
    range = forms.ChoiceField(
        label=gettext_lazy("期間"), choices=charts.RANGE_CHOICES, required=False
    )
    end = ROCDateField(
        label=gettext_lazy("結束日期"),
        required=False,
        help_text=gettext_lazy("民國日期，例如 115/11/28；空白為現在。"),
    )

    def clean_end(self):
        return _end_not_future(self.cleaned_data.get("end"))


def get_room(pk) -> Room:
    """The room, voided or not (404 when there is none)."""
    try:
        return Room.objects.get(pk=pk)
    except (Room.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404 from exc


def alerts_for(room, series, limit=ALERTS_SHOWN):
    """The alerts of the room overlapping the period (opened before its end, and closed
    after its start or still open), newest first; at most ``limit`` + 1 (to tell "more")."""
    return list(
        Alert.objects.filter(room=room, opened_at__lt=series.end)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gt=series.start))
        .select_related("sensor")
        .order_by("-opened_at", "-id")[: limit + 1]
    )


def duration_text(delta: dt.timedelta) -> str:
    """3 天 4 小時 5 分 (minutes rounded down; under a minute: 不到 1 分)."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return _("不到 1 分")
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(_("%(n)d 天") % {"n": days})
    if hours:
        parts.append(_("%(n)d 小時") % {"n": hours})
    if minutes:
        parts.append(_("%(n)d 分") % {"n": minutes})
    return " ".join(parts)


def _fmt(value, places=1) -> str:
    return "" if value is None else f"{value:.{places}f}"


def _extremes(alert) -> str:
    parts = []
    if alert.temperature_low is not None or alert.temperature_high is not None:
        parts.append(
            _("溫度 %(low)s–%(high)s °C")
            % {"low": _fmt(alert.temperature_low), "high": _fmt(alert.temperature_high)}
        )
    if alert.humidity_low is not None or alert.humidity_high is not None:
        parts.append(
            _("濕度 %(low)s–%(high)s %%RH")
            % {"low": _fmt(alert.humidity_low), "high": _fmt(alert.humidity_high)}
        )
    return "；".join(parts)


def alert_rows(alerts, now):
    have_detail = url_or_none("facilities:alert_detail", 0) is not None
    return [
        {
            "alert": a,
            "url": reverse("facilities:alert_detail", args=[a.pk]) if have_detail else None,
            "duration": duration_text((a.closed_at or now) - a.opened_at),
            "extremes": _extremes(a),
        }
        for a in alerts
    ]


def bucket_rows(series):
    """The data table and the CSV: one row of text per bucket."""
    rows = []
    daily = series.spec.daily
    for b in series.buckets:
        t, h = b.temperature, b.humidity
        start = roc.format_roc(b.start) if daily else roc.format_roc_datetime(b.start)
        rows.append(
            (
                start,
                _fmt(t.low),
                _fmt(t.mean, 2),
                _fmt(t.high),
                _fmt(h.low),
                _fmt(h.mean, 2),
                _fmt(h.high),
                b.readings,
            )
        )
    return rows


def _query(range_name, end=None) -> str:
    params = QueryDict(mutable=True)
    params["range"] = range_name
    if end is not None:
        params["end"] = roc.format_roc(end)
    return params.urlencode()


def navigation(room, spec, end: dt.date | None) -> dict:
    """Links to the range tabs, the previous and next period, and now."""
    base = reverse("facilities:room_chart", args=[room.pk])
    current = today()
    shown = end or current
    previous = shown - dt.timedelta(days=spec.days)
    following = shown + dt.timedelta(days=spec.days)
    return {
        "tabs": [
            {
                "name": name,
                "label": label,
                "url": f"{base}?{_query(name, end)}",
                "active": name == spec.name,
            }
            for name, label in charts.RANGE_CHOICES
        ],
        "previous": (f"{base}?{_query(spec.name, previous)}" if previous >= EARLIEST_END else None),
        "next": (
            None
            if end is None
            else f"{base}?{_query(spec.name, following if following < current else None)}"
        ),
        "now": None if end is None else f"{base}?{_query(spec.name)}",
    }


class RoomChartView(ProtectedView):
    """The chart page of one room (voided rooms too, read-only)."""

    access = CHART_ACCESS
    action = "view"
    template_name = "facilities/charts/room.html"

    def params(self, request):
        """(form, range, end) from the query; bad input keeps the valid parts."""
        form = ChartForm(request.GET)
        if form.is_valid():
            data = form.cleaned_data
            return form, data["range"] or charts.DEFAULT_RANGE, data["end"]
        wanted = request.GET.get("range")
        range_name = wanted if wanted in charts.RANGES else charts.DEFAULT_RANGE
        return form, range_name, None

    def get(self, request, pk):
        room = get_room(pk)
        form, range_name, end = self.params(request)
        series = charts.series(room, range_name, end)
        now = timezone.now()
        alerts = alerts_for(room, series)
        latest = (
            Reading.objects.filter(room=room)
            .select_related("sensor")
            .order_by("-measured_at", "-id")
            .first()
        )
        ctx = {
            "room": room,
            "form": form,
            "series": series,
            "spec": series.spec,
            "end": end,
            "end_text": roc.format_roc(end) if end else "",
            "period": period_text(series),
            "charts": charts.charts(series),
            "rows": bucket_rows(series),
            "alerts": alert_rows(alerts[:ALERTS_SHOWN], now),
            "more_alerts": len(alerts) > ALERTS_SHOWN,
            "latest": latest,
            "latest_out": latest is not None and out_of_range(room, latest),
            "chart_nav": navigation(room, series.spec, end),
            "csv_url": reverse("facilities:room_chart_csv", args=[room.pk])
            + "?"
            + _query(series.spec.name, end),
            "links": {
                "rooms": url_or_none("facilities:room_list"),
                "room": url_or_none("facilities:room_detail", room.pk),
                "alerts": url_or_none("facilities:alert_list", query=f"room={room.pk}"),
            },
            "clause": "3.2",
        }
        status = 200 if form.is_valid() else 400
        return render(request, self.template_name, ctx, status=status)


def period_text(series) -> str:
    """115/11/27 14:05 至 115/11/28 14:05; whole days as 114/11/29 至 115/11/28."""
    if series.spec.daily:
        last = series.end - dt.timedelta(microseconds=1)
        return _("%(start)s 至 %(end)s") % {
            "start": roc.format_roc(series.start),
            "end": roc.format_roc(last),
        }
    return _("%(start)s 至 %(end)s") % {
        "start": roc.format_roc_datetime(series.start),
        "end": roc.format_roc_datetime(series.end),
    }


def out_of_range(room, reading) -> bool:
    t, h = reading.temperature_c, reading.humidity_pct
    return (t is not None and not room.temperature_min <= _dec(t) <= room.temperature_max) or (
        h is not None and not room.humidity_min <= _dec(h) <= room.humidity_max
    )


def _dec(value) -> Decimal:
    return Decimal(str(value))


CSV_HEADER = (
    gettext_lazy("區間開始"),
    gettext_lazy("區間結束"),
    gettext_lazy("最低溫度（°C）"),
    gettext_lazy("平均溫度（°C）"),
    gettext_lazy("最高溫度（°C）"),
    gettext_lazy("最低濕度（%RH）"),
    gettext_lazy("平均濕度（%RH）"),
    gettext_lazy("最高濕度（%RH）"),
    gettext_lazy("讀數筆數"),
)


class RoomChartCsvView(RoomChartView):
    """The buckets of the chart as CSV (recorded in the trail as an export)."""

    action = "export"

    def get(self, request, pk):
        room = get_room(pk)
        form, range_name, end = self.params(request)
        if not form.is_valid():
            errors = "; ".join(m for msgs in form.errors.values() for m in msgs)
            return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
        series = charts.series(room, range_name, end)
        trail.record(
            trail.Action.EXPORT,
            model_label="facilities.reading",
            object_id=str(room.pk),
            object_repr=str(room),
            changes={
                "format": [None, "csv"],
                "range": [None, range_name],
                "start": [None, series.start],
                "end": [None, series.end],
                "rows": [None, len(series.buckets)],
            },
            actor=request.user,
        )
        stamp = timezone.localtime(series.end - dt.timedelta(seconds=1)).strftime("%Y%m%d")
        name = f"environment-room{room.pk}-{range_name}-{stamp}.csv"
        rows = (
            [
                roc.format_roc_datetime(b.start),
                roc.format_roc_datetime(b.end),
                *(_fmt(v, 2) for v in _values(b)),
                b.readings,
            ]
            for b in series.buckets
        )
        return csv_response(name, [str(h) for h in CSV_HEADER], rows)


def _values(bucket):
    t, h = bucket.temperature, bucket.humidity
    return (t.low, t.mean, t.high, h.low, h.mean, h.high)


# API ---------------------------------------------------------------------------------------------
class SeriesQuerySerializer(serializers.Serializer):
    room = serializers.IntegerField(
        label=gettext_lazy("機房或電腦教室"), min_value=1, max_value=MAX_PK
    )
    range = serializers.ChoiceField(
        label=gettext_lazy("期間"), choices=charts.RANGE_CHOICES, default=charts.DEFAULT_RANGE
    )
    end = DateField(
        label=gettext_lazy("結束日期"),
        required=False,
        help_text=gettext_lazy(
            "該日（台北時間）結束為止；可寫 2026-11-28 或 115/11/28；省略為現在。"
        ),
    )

    def validate_room(self, value):
        room = Room.objects.filter(pk=value).first()
        if room is None:
            raise serializers.ValidationError(_("沒有這個機房或電腦教室。"))
        return room

    def validate_end(self, value):
        try:
            return _end_not_future(value)
        except ValidationError as error:
            raise serializers.ValidationError(error.messages) from None


class BucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    temperature_min = serializers.FloatField(allow_null=True)
    temperature_mean = serializers.FloatField(allow_null=True)
    temperature_max = serializers.FloatField(allow_null=True)
    humidity_min = serializers.FloatField(allow_null=True)
    humidity_mean = serializers.FloatField(allow_null=True)
    humidity_max = serializers.FloatField(allow_null=True)
    readings = serializers.IntegerField(min_value=0)


class ThresholdsSerializer(serializers.Serializer):
    temperature_min = serializers.FloatField()
    temperature_max = serializers.FloatField()
    humidity_min = serializers.FloatField()
    humidity_max = serializers.FloatField()


class SeriesSerializer(serializers.Serializer):
    room = serializers.IntegerField()
    room_name = serializers.CharField()
    range = serializers.ChoiceField(choices=charts.RANGE_CHOICES)
    step_seconds = serializers.IntegerField(
        help_text="Length of a bucket in seconds (a day bucket: 86400, local midnight to midnight)."
    )
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    thresholds = ThresholdsSerializer()
    buckets = BucketSerializer(many=True)


def series_json(series) -> dict:
    """The series as JSON (built directly: 365 buckets through DRF fields cost ~10 ms)."""
    buckets = []
    for b in series.buckets:
        row = b.as_dict()
        row["start"], row["end"] = iso_moment(b.start), iso_moment(b.end)
        buckets.append(row)
    return {
        "room": series.room.pk,
        "room_name": series.room.name,
        "range": series.spec.name,
        "step_seconds": int(series.spec.step.total_seconds()),
        "start": iso_moment(series.start),
        "end": iso_moment(series.end),
        "thresholds": series.thresholds,
        "buckets": buckets,
    }


class OneObjectSchema(AutoSchema):
    """The list action answers one object (the series), not a list of them."""

    def _is_list_view(self, serializer=None):
        return False


class EnvironmentSeriesViewSet(viewsets.ViewSet):
    """The environment chart of a room as JSON (clause 3.2)."""

    access = CHART_ACCESS
    permission_classes = [MatrixPermission]
    schema = OneObjectSchema()

    @extend_schema(
        summary="Temperature and humidity of a room, downsampled (clause 3.2)",
        description=(
            "day: 288 five-minute buckets from the readings; week: 168 hourly buckets; "
            "month: 180 four-hour buckets; year: 365 daily buckets (Asia/Taipei days), from "
            "the hourly roll-ups. Means are weighted by the number of values; a bucket "
            "without data has null values."
        ),
        parameters=[SeriesQuerySerializer],
        responses={200: SeriesSerializer},
    )
    def list(self, request):
        query = SeriesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        series = charts.series(data["room"], data["range"], data.get("end"))
        return Response(series_json(series))


urlpatterns = [
    path("rooms/<int:pk>/environment/", RoomChartView.as_view(), name="room_chart"),
    path("rooms/<int:pk>/environment/csv/", RoomChartCsvView.as_view(), name="room_chart_csv"),
]
# Not a register: the API is a viewset of its own, registered by isms/urls.py with
# router.register(prefix, viewset, basename=basename) for each of API_VIEWSETS.
API_ROUTES = ()
API_VIEWSETS = (("environment-series", EnvironmentSeriesViewSet, "facilities-environment-series"),)
