"""The room environment chart (clause 3.2): downsampling, SVG, page, CSV and API."""

import csv
import datetime as dt
import io
import itertools
import re
import zoneinfo
from collections import defaultdict

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

from isms import urls as root_urls
from isms.audit.models import AuditEntry
from isms.core import services as core_services
from isms.core.restapi import Router
from isms.core.roles import (
    EQUIPMENT_HEAD,
    GUARD,
    PERSONNEL,
    PRINCIPAL,
    SECURITY_OFFICER,
    STAFF,
    SUPERVISOR,
    SYSADMIN,
)
from isms.facilities import charts, views_charts
from isms.facilities.models import Alert, Reading, Rollup, Room, Sensor

TPE = zoneinfo.ZoneInfo("Asia/Taipei")
UTC = dt.UTC
# Saturday 28 November 2026, 14:03 in Taipei (06:03 UTC).
NOW = dt.datetime(2026, 11, 28, 14, 3, tzinfo=TPE)
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
READERS = {SECURITY_OFFICER, SUPERVISOR, PRINCIPAL, SYSADMIN, EQUIPMENT_HEAD}
OTHERS = {PERSONNEL, STAFF, GUARD}
API = "/api/environment-series/"

# The API viewset is registered on the router by isms/urls.py (the lead's file); these tests
# serve it from a URLconf of their own: this module (see the ``api_urls`` fixture).
_router = Router()
for _prefix, _viewset, _basename in views_charts.API_VIEWSETS:
    _router.register(_prefix, _viewset, basename=_basename)
urlpatterns = [path("api/", include(_router.urls)), *root_urls.urlpatterns]


@pytest.fixture
def api_urls(settings):
    settings.ROOT_URLCONF = __name__


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def room(make_user):
    keeper = make_user("keeper", SYSADMIN)
    return Room.objects.create(name="主機機房", kind=Room.Kind.SERVER_ROOM, keeper=keeper)


@pytest.fixture
def sensor(room):
    return Sensor.objects.create(room=room, code="srv-1", name="機櫃前")


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TPE)


def add_readings(room, rows, sensor=None):
    """Readings ``(moment, temperature, humidity)`` and the room's roll-ups, computed here
    in Python (independently of charts.rebuild_rollups)."""
    Reading.objects.bulk_create(
        Reading(
            room=room,
            sensor=sensor,
            measured_at=moment,
            temperature_c=t,
            humidity_pct=h,
            source=Reading.Source.HTTP if sensor else Reading.Source.MANUAL,
        )
        for moment, t, h in rows
    )
    write_rollups(room)


def python_rollups(room) -> dict:
    hours = defaultdict(lambda: {"t": [], "h": []})
    for moment, t, h in Reading.objects.filter(room=room).values_list(
        "measured_at", "temperature_c", "humidity_pct"
    ):
        hour = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if t is not None:
            hours[hour]["t"].append(t)
        if h is not None:
            hours[hour]["h"].append(h)
    return {
        hour: {
            "temperature_count": len(v["t"]),
            "temperature_sum": sum(v["t"]),
            "temperature_min": min(v["t"], default=None),
            "temperature_max": max(v["t"], default=None),
            "humidity_count": len(v["h"]),
            "humidity_sum": sum(v["h"]),
            "humidity_min": min(v["h"], default=None),
            "humidity_max": max(v["h"], default=None),
        }
        for hour, v in hours.items()
    }


def write_rollups(room):
    Rollup.objects.filter(room=room).delete()
    Rollup.objects.bulk_create(
        Rollup(room=room, hour=hour, **values) for hour, values in python_rollups(room).items()
    )


def stored_rollups(room) -> dict:
    return {
        r.hour: {f: getattr(r, f) for f in charts.ROLLUP_FIELDS}
        for r in Rollup.objects.filter(room=room)
    }


def rollup(room, hour, count, mean, low, high, h_count=None, h_mean=None, h_low=None, h_high=None):
    return Rollup(
        room=room,
        hour=hour,
        temperature_count=count,
        temperature_sum=count * mean,
        temperature_min=low,
        temperature_max=high,
        humidity_count=h_count or 0,
        humidity_sum=(h_count or 0) * (h_mean or 0),
        humidity_min=h_low,
        humidity_max=h_high,
    )


def index_of(series, moment):
    return next(i for i, b in enumerate(series.buckets) if b.start <= moment < b.end)


# Windows -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "count", "first", "last_end"),
    [
        ("day", 288, local(2026, 11, 27, 14, 5), local(2026, 11, 28, 14, 5)),
        ("week", 168, local(2026, 11, 21, 15), local(2026, 11, 28, 15)),
        ("month", 180, local(2026, 10, 29, 16), local(2026, 11, 28, 16)),
        ("year", 365, local(2025, 11, 29), local(2026, 11, 29)),
    ],
)
def test_a_window_ends_with_the_bucket_holding_now(name, count, first, last_end):
    edges = charts.window(name)
    assert len(edges) == count + 1
    assert edges[0] == first and edges[-1] == last_end
    assert all(e.tzinfo == UTC for e in edges)


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("day", local(2026, 11, 1)),
        ("week", local(2026, 10, 26)),
        ("month", local(2026, 10, 3)),
        ("year", local(2025, 11, 2)),
    ],
)
def test_an_end_date_ends_the_window_at_the_end_of_that_local_day(name, first):
    edges = charts.window(name, dt.date(2026, 11, 1))
    assert edges[-1] == local(2026, 11, 2) == dt.datetime(2026, 11, 1, 16, tzinfo=UTC)
    assert edges[0] == first


def test_a_moment_on_a_boundary_is_in_the_last_bucket():
    edges = charts.window("day", local(2026, 11, 28, 14, 5))
    assert edges[-2] == local(2026, 11, 28, 14, 5) and edges[-1] == local(2026, 11, 28, 14, 10)
    # Four-hour buckets start at local 00, 04, 08, 12, 16, 20.
    edges = charts.window("month", local(2026, 11, 28, 0, 0))
    assert edges[-2] == local(2026, 11, 28, 0) and edges[-1] == local(2026, 11, 28, 4)
    assert {e.astimezone(TPE).hour for e in edges} == {0, 4, 8, 12, 16, 20}


def test_an_unknown_range_is_refused(room):
    with pytest.raises(ValueError):
        charts.series(room, "decade")


# Downsampling ------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_day_is_downsampled_from_the_readings_in_five_minute_buckets(room, sensor):
    start = local(2026, 11, 27, 14, 5)
    add_readings(
        room,
        [
            (start - dt.timedelta(seconds=1), 99.0, 99.0),  # before the window
            (start, 21.0, 55.0),  # first bucket
            (local(2026, 11, 28, 13, 55), 20.0, 60.0),
            (local(2026, 11, 28, 13, 57), 22.0, None),
            (local(2026, 11, 28, 13, 59, 59, 900000), 27.0, 64.0),
            (local(2026, 11, 28, 14, 0), None, 40.0),  # the bucket holding now
            (local(2026, 11, 28, 14, 5), 99.0, 99.0),  # after the window
        ],
        sensor,
    )
    # Another source in the same room counts in the same bucket.
    add_readings(room, [(local(2026, 11, 28, 13, 56), 25.0, 62.0)])
    with CaptureQueriesContext(connection) as queries:
        s = charts.series(room, "day")
    assert len(queries) == 1
    assert len(s.buckets) == 288
    assert s.start == start and s.end == local(2026, 11, 28, 14, 5)
    first = s.buckets[0]
    assert (first.temperature.mean, first.humidity.mean, first.readings) == (21.0, 55.0, 1)
    b = s.buckets[index_of(s, local(2026, 11, 28, 13, 55))]
    assert index_of(s, local(2026, 11, 28, 13, 55)) == 286
    assert b.readings == 4
    assert (b.temperature.count, b.temperature.low, b.temperature.high) == (4, 20.0, 27.0)
    assert b.temperature.mean == pytest.approx((20 + 22 + 27 + 25) / 4)
    assert (b.humidity.count, b.humidity.low, b.humidity.high) == (3, 60.0, 64.0)
    assert b.humidity.mean == pytest.approx((60 + 64 + 62) / 3)
    last = s.buckets[-1]
    assert last.temperature.mean is None and last.temperature.low is None
    assert (last.humidity.mean, last.readings) == (40.0, 1)
    empty = s.buckets[100]
    assert empty.empty and empty.temperature.mean is None and empty.humidity.high is None
    assert empty.as_dict()["temperature_mean"] is None
    assert sum(b.readings for b in s.buckets) == 6


@pytest.mark.django_db
def test_hours_are_merged_weighted_by_their_counts(room):
    # A four-hour bucket of the month: 60 readings at a mean of 20 °C and 30 at 26 °C
    # give 22 °C (1,980 / 90), not the mean of the means (23 °C).
    start = local(2026, 11, 28, 4)
    Rollup.objects.bulk_create(
        [
            rollup(room, start, 60, 20.0, 19.0, 21.5, 60, 50.0, 45.0, 55.0),
            rollup(room, start + 2 * HOUR, 30, 26.0, 24.0, 28.5, 10, 80.0, 70.0, 90.0),
            rollup(room, start + 4 * HOUR, 5, 30.0, 30.0, 30.0),  # the next bucket
        ]
    )
    s = charts.series(room, "month")
    b = s.buckets[index_of(s, start)]
    assert b.start == start and b.end == start + 4 * HOUR
    assert b.temperature.mean == pytest.approx(22.0)
    assert (b.temperature.low, b.temperature.high, b.temperature.count) == (19.0, 28.5, 90)
    assert b.humidity.mean == pytest.approx((60 * 50 + 10 * 80) / 70)
    assert (b.humidity.low, b.humidity.high) == (45.0, 90.0)
    assert b.readings == 90
    following = s.buckets[index_of(s, start + 4 * HOUR)]
    assert (following.temperature.mean, following.humidity.mean) == (30.0, None)
    assert following.readings == 5
    # The week: one bucket per hour.
    week = charts.series(room, "week")
    assert len(week.buckets) == 168
    assert week.buckets[index_of(week, start)].temperature.mean == pytest.approx(20.0)
    assert week.buckets[index_of(week, start + HOUR)].empty


@pytest.mark.django_db
def test_year_buckets_are_taipei_days(room, sensor):
    add_readings(
        room,
        [
            (local(2026, 11, 26, 23, 30), 20.0, 50.0),  # 15:30 UTC on the 26th
            (local(2026, 11, 27, 0, 30), 24.0, 60.0),  # 16:30 UTC on the 26th
            (local(2026, 11, 27, 23, 59), 26.0, 70.0),
        ],
        sensor,
    )
    s = charts.series(room, "year")
    assert len(s.buckets) == 365
    day26 = s.buckets[index_of(s, local(2026, 11, 26, 12))]
    day27 = s.buckets[index_of(s, local(2026, 11, 27, 12))]
    assert day27.start == local(2026, 11, 27) == dt.datetime(2026, 11, 26, 16, tzinfo=UTC)
    assert (day26.temperature.mean, day26.readings) == (20.0, 1)
    assert (day27.temperature.mean, day27.readings) == (25.0, 2)
    assert (day27.humidity.low, day27.humidity.high) == (60.0, 70.0)
    assert s.buckets[-1].start == local(2026, 11, 28) and s.buckets[-1].empty


@pytest.mark.django_db
def test_days_of_a_zone_with_daylight_saving_have_their_real_length(room, settings):
    # Not Taipei's case (no DST since 1979), but the days stay calendar days anywhere:
    # 29 March 2026 in London has 23 hours.
    settings.TIME_ZONE = "Europe/London"
    london = zoneinfo.ZoneInfo("Europe/London")
    day = dt.datetime(2026, 3, 29, tzinfo=london)
    Rollup.objects.bulk_create(
        [rollup(room, day.astimezone(UTC) + k * HOUR, 1, float(k), k, k) for k in range(24)]
    )
    s = charts.series(room, "year", dt.date(2026, 3, 30))
    b = s.buckets[-2]
    assert b.start == day and b.end - b.start == 23 * HOUR
    assert (b.temperature.count, b.temperature.high) == (23, 22.0)
    assert s.buckets[-1].temperature.count == 1  # 00:00 of the 30th in London


@pytest.mark.django_db
def test_the_series_takes_one_query_whatever_the_range(room):
    Rollup.objects.bulk_create(
        rollup(room, local(2026, 11, 28) - k * HOUR, 60, 22.0, 21.0, 23.0) for k in range(2000)
    )
    for name in charts.RANGES:
        with CaptureQueriesContext(connection) as queries:
            charts.series(room, name)
        assert len(queries) == 1, name


# Roll-ups ----------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_rebuild_rollups_recomputes_the_hours_of_a_range(room, sensor, make_user):
    other = Room.objects.create(
        name="電腦教室一", kind=Room.Kind.COMPUTER_CLASSROOM, keeper=sensor.room.keeper
    )
    rows = [
        (local(2026, 11, 28, 9) + k * 7 * MINUTE, 20 + k % 5, None if k % 3 else 55.0 + k)
        for k in range(40)
    ]
    Reading.objects.bulk_create(
        Reading(
            room=room, sensor=sensor, measured_at=m, temperature_c=t, humidity_pct=h, source="http"
        )
        for m, t, h in rows
    )
    Reading.objects.create(
        room=room,
        measured_at=local(2026, 11, 28, 9, 30),
        temperature_c=None,
        humidity_pct=70.0,
        source="manual",
    )
    add_readings(other, [(local(2026, 11, 28, 9, 10), 30.0, 30.0)])
    outside = rollup(room, local(2026, 11, 28, 2), 1, 1.0, 1.0, 1.0)
    stale = rollup(room, local(2026, 11, 28, 14), 9, 9.0, 9.0, 9.0)  # no readings that hour
    wrong = rollup(room, local(2026, 11, 28, 10), 1, 99.0, 99.0, 99.0)
    Rollup.objects.bulk_create([outside, stale, wrong])
    with CaptureQueriesContext(connection) as queries:
        written = charts.rebuild_rollups(
            room, local(2026, 11, 28, 9, 20), local(2026, 11, 28, 14, 1)
        )
    # The aggregate, the upsert, the delete (Django reads the rows it deletes first).
    assert len([q for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]) <= 4
    expected = python_rollups(room)
    assert written == len(expected) == 5  # 09:00 … 13:00
    stored = stored_rollups(room)
    assert stored.pop(local(2026, 11, 28, 2).astimezone(UTC))["temperature_sum"] == 1.0
    assert set(stored) == set(expected)
    for hour, values in expected.items():
        for name, value in values.items():
            assert stored[hour][name] == pytest.approx(value), (hour, name)
    # Again: the same (an upsert, not duplicates); the other room is untouched.
    charts.rebuild_rollups(room, local(2026, 11, 28), local(2026, 11, 29))
    assert set(stored_rollups(room)) == set(expected)
    assert Rollup.objects.filter(room=other).count() == 1
    assert charts.rebuild_rollups(room, NOW, NOW - HOUR) == 0


# SVG ---------------------------------------------------------------------------------------------
def make_series(room, values, name="week"):
    """A series of ``values`` (temperature (low, mean, high) per bucket, or None)."""
    edges = charts.window(name)
    buckets = []
    for (a, b), value in zip(
        itertools.pairwise(edges), values + [None] * (len(edges) - 1 - len(values)), strict=True
    ):
        bucket = charts.Bucket(start=a, end=b)
        if value is not None:
            low, mean, high = value
            bucket.temperature.add(2, 2 * mean, low, high)
            bucket.humidity.add(2, 120.0, 59.0, 61.0)
            bucket.readings = 2
        buckets.append(bucket)
    return charts.Series(
        room=room, spec=charts.RANGES[name], start=edges[0], end=edges[-1], buckets=buckets
    )


@pytest.mark.django_db
def test_the_svg_shades_the_threshold_band_at_the_right_height(room):
    s = make_series(room, [(18.0, 22.0, 24.0), (22.0, 23.0, 27.0)])
    svg = charts.chart_svg(s, charts.QUANTITIES[0])
    # Data 18–27 and thresholds 20–25: ticks 18, 20, … 28.
    for tick in ("18", "20", "22", "24", "26", "28"):
        assert f">{tick}</text>" in svg
    band = re.search(
        r'<rect class="band" x="(\d+)" y="([\d.]+)" width="(\d+)" height="([\d.]+)"', svg
    )
    top = charts.TOP + (28 - 25) / 10 * charts.PLOT_H
    height = (25 - 20) / 10 * charts.PLOT_H
    assert float(band.group(2)) == pytest.approx(top, abs=0.05)
    assert float(band.group(4)) == pytest.approx(height, abs=0.1)
    assert 'data-low="20" data-high="25"' in svg
    assert svg.startswith("<svg") and 'role="img"' in svg and "<title" in svg and "<desc" in svg
    # Other thresholds move the band.
    room.temperature_min, room.temperature_max = 21, 23
    svg = charts.chart_svg(s, charts.QUANTITIES[0])
    y = float(re.search(r'class="band" x="\d+" y="([\d.]+)"', svg).group(1))
    assert y == pytest.approx(charts.TOP + (28 - 23) / 10 * charts.PLOT_H, abs=0.05)


@pytest.mark.django_db
def test_gaps_split_the_line_and_out_of_range_buckets_are_red(room):
    values = (
        [(21.0, 22.0, 23.0)] * 3
        + [None] * 2
        + [(21.0, 22.0, 26.0), (19.0, 21.0, 22.0)]
        + [None]
        + [(22.0, 22.0, 22.0)]
    )
    s = make_series(room, values)
    svg = charts.chart_svg(s, charts.QUANTITIES[0])
    mean = re.search(r'<path class="mean" d="([^"]+)"', svg).group(1)
    assert mean.count("M") == 2  # two runs of two or more buckets; the lone one is a dot
    assert mean.count("L") == (3 - 1) + (2 - 1)
    assert svg.count("<circle") - svg.count('r="2.5"') == 1  # the lone bucket
    out = re.search(r'<g class="out" fill="#dc3545">(.*?)</g>', svg).group(1)
    assert out.count("<circle") == 2  # 26 °C above 25, 19 °C below 20

    # At the extreme that is out: ticks 18 … 26, so 26 °C at the top, 19 °C near the bottom.
    def y(value):
        return charts._num(charts.TOP + (26 - value) / (26 - 18) * charts.PLOT_H)

    assert set(re.findall(r'cy="([\d.]+)"', out)) == {y(26), y(19)}
    # Coordinates are rounded (a small SVG).
    assert not re.search(r"\d\.\d\d", mean)
    assert "<script" not in svg
    # Humidity all inside its band: nothing red.
    assert 'class="out"' not in charts.chart_svg(s, charts.QUANTITIES[1])


@pytest.mark.django_db
def test_an_empty_period_says_so(room):
    svg = charts.chart_svg(make_series(room, []), charts.QUANTITIES[1])
    assert 'class="mean"' not in svg and "此期間沒有讀數" in svg
    assert 'class="band"' in svg


def test_axis_labels_are_local_times():
    def labels(name):
        edges = charts.window(name)
        buckets = [charts.Bucket(a, b) for a, b in itertools.pairwise(edges)]
        s = charts.Series(None, charts.RANGES[name], edges[0], edges[-1], buckets)
        return [text for _i, text in charts.x_labels(s)]

    assert labels("day")[:3] == ["15:00", "18:00", "21:00"] and "00:00" in labels("day")
    assert labels("week")[0] == "11/22" and labels("week")[-1] == "11/28"
    assert labels("month")[0] == "10/30"
    year = labels("year")
    assert year[0] == "114年12月" and year[1] == "115年1月" and year[-1] == "11月"
    assert len(year) == 12


def test_nice_ticks():
    assert charts.nice_ticks(18, 27) == [18, 20, 22, 24, 26, 28]
    assert charts.nice_ticks(50, 70) == [50, 55, 60, 65, 70]
    assert charts.nice_ticks(21.3, 21.9)[0] <= 21.3 and charts.nice_ticks(21.3, 21.9)[-1] >= 21.9
    assert charts.nice_ticks(22, 22) == [21, 21.5, 22, 22.5, 23]


# The page ----------------------------------------------------------------------------------------
def chart_url(room, **params):
    from urllib.parse import urlencode

    url = f"/facilities/rooms/{room.pk}/environment/"
    return f"{url}?{urlencode(params)}" if params else url


@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted(READERS | OTHERS))
def test_the_page_is_for_the_readers_of_the_rooms(client_for, room, role):
    status = client_for(role).get(chart_url(room)).status_code
    assert status == (200 if role in READERS else 403)


@pytest.mark.django_db
def test_the_page_needs_sign_in_and_an_existing_room(client, client_for, room):
    response = client.get(chart_url(room))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client_for().get(chart_url(room)).status_code == 403
    assert (
        client_for(SECURITY_OFFICER).get("/facilities/rooms/999999/environment/").status_code == 404
    )
    assert client_for(superuser=True).get(chart_url(room)).status_code == 200


@pytest.mark.django_db
def test_a_voided_room_stays_viewable_read_only(client_for, room, sensor):
    add_readings(room, [(NOW - 10 * MINUTE, 22.0, 60.0)], sensor)
    Room.objects.filter(pk=room.pk).update(voided_at=NOW, void_reason="搬遷")
    html = client_for(SUPERVISOR).get(chart_url(room)).content.decode()
    assert "data-voided" in html and "僅供查閱" in html
    assert '<form method="post"' not in html.split("<main", 1)[1]


@pytest.mark.django_db
def test_the_page_shows_thresholds_latest_reading_charts_and_table(client_for, room, sensor):
    room.temperature_min, room.temperature_max = 18, 26
    room.save()
    add_readings(room, [(NOW - 30 * MINUTE, 22.0, 60.0), (NOW - 2 * MINUTE, 27.5, 61.0)], sensor)
    response = client_for(SYSADMIN).get(chart_url(room))
    html = response.content.decode()
    assert response.status_code == 200
    assert "18.0–26.0 °C" in html and "50.0–70.0 %RH" in html
    latest = html.split("data-latest", 1)[1].split("</div></div>", 1)[0]
    assert "27.5 °C" in latest and "115/11/28 14:01" in latest and "超出範圍" in latest
    assert html.count('<svg class="env-chart"') == 2
    assert 'data-quantity="temperature"' in html and 'data-quantity="humidity"' in html
    assert html.count('<tr><th scope="row" class="fw-normal') == 288
    assert "115/11/28 13:30" in html  # the bucket of the first reading, in the table
    assert "<details" in html and "<summary>" in html
    assert 'aria-current="page" data-range="day"' in html
    assert "115/11/27 14:05" in html.split("data-period", 1)[1][:200]


@pytest.mark.django_db
def test_ranges_and_end_dates_navigate(client_for, room):
    c = client_for(SECURITY_OFFICER)
    html = c.get(chart_url(room, range="week")).content.decode()
    assert 'aria-current="page" data-range="week"' in html
    assert "range=week&amp;end=115%2F11%2F21" in html  # previous: the week before
    assert 'data-nav="next"' not in html and 'data-nav="now"' not in html
    html = c.get(chart_url(room, range="month", end="115/10/01")).content.decode()
    period = html.split("data-period", 1)[1][:200]
    assert "115/09/02 00:00" in period and "115/10/02 00:00" in period
    assert "range=month&amp;end=115%2F10%2F31" in html  # next: 30 days later
    assert 'data-nav="now"' in html
    # The next period reaching today is "now".
    html = c.get(chart_url(room, range="year", end="115/01/01")).content.decode()
    assert "114/01/02 至 115/01/01" in html.split("data-period", 1)[1][:200]  # whole days
    assert f'href="/facilities/rooms/{room.pk}/environment/?range=year" data-nav="next"' in html
    # The earliest end date: no way further back (1912 is a leap year).
    html = c.get(chart_url(room, range="year", end="2/01/01")).content.decode()
    assert 'data-nav="previous"' not in html and "1/01/03 至 2/01/01" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"end": "115/13/40"},
        {"end": "115/11/29"},  # tomorrow
        {"end": "1/12/31", "range": "year"},  # its year would start before 民國元年
        {"range": "decade"},
        {"end": "hello"},
    ],
)
def test_bad_parameters_are_field_errors_not_500(client_for, room, params):
    response = client_for(PRINCIPAL).get(chart_url(room, **params))
    assert response.status_code == 400
    html = response.content.decode()
    assert "data-errors" in html and html.count('<svg class="env-chart"') == 2


@pytest.mark.django_db
def test_the_alerts_of_the_period_newest_first(client_for, room, sensor):
    start = local(2026, 11, 27, 14, 5)
    common = {"room": room, "sensor": sensor, "scope": f"sensor:{sensor.pk}", "reason": "r"}
    before = Alert.objects.create(
        kind="excursion", opened_at=start - 5 * HOUR, closed_at=start - HOUR, **common
    )
    overlapping = Alert.objects.create(
        kind="excursion",
        opened_at=start - HOUR,
        closed_at=start + 2 * HOUR + 5 * MINUTE,
        temperature_high=27.4,
        temperature_low=25.2,
        readings_out=12,
        **common,
    )
    silent = Alert.objects.create(
        kind="silence", opened_at=NOW - 3 * HOUR, closed_at=NOW - 2 * HOUR, **common
    )
    still_open = Alert.objects.create(
        kind="excursion",
        opened_at=NOW - DAY - 2 * DAY,
        closed_at=None,
        humidity_high=80.0,
        room=room,
        scope=f"room:{room.pk}",
        reason="人工",
    )
    other_room = Room.objects.create(
        name="教室", kind=Room.Kind.COMPUTER_CLASSROOM, keeper=room.keeper
    )
    Alert.objects.create(
        kind="excursion", room=other_room, opened_at=NOW - HOUR, scope="room:x", reason="x"
    )
    html = client_for(EQUIPMENT_HEAD).get(chart_url(room)).content.decode()
    shown = [int(v) for v in re.findall(r'data-alert="(\d+)"', html)]
    assert shown == [silent.pk, overlapping.pk, still_open.pk]
    assert before.pk not in shown
    row = html.split(f'data-alert="{overlapping.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "3 小時 5 分" in row and "溫度 25.2–27.4 °C" in row and ">12<" in row
    row = html.split(f'data-alert="{still_open.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "3 天" in row and "尚未恢復" in row and "濕度 –80.0 %RH" in row
    # A week further back shows none of these.
    html = client_for(EQUIPMENT_HEAD).get(chart_url(room, end="115/11/10")).content.decode()
    assert "data-no-alerts" in html


def test_alert_links_when_the_alert_page_exists(monkeypatch):
    alert = Alert(pk=7, opened_at=NOW - HOUR, closed_at=None, kind="excursion")
    monkeypatch.setattr(views_charts, "url_or_none", lambda name, *a, **k: "/x/")
    monkeypatch.setattr(views_charts, "reverse", lambda name, args: f"/alerts/{args[0]}/")
    assert views_charts.alert_rows([alert], NOW)[0]["url"] == "/alerts/7/"
    monkeypatch.setattr(views_charts, "url_or_none", lambda name, *a, **k: None)
    assert views_charts.alert_rows([alert], NOW)[0]["url"] is None


def test_duration_text():
    assert views_charts.duration_text(dt.timedelta(seconds=30)) == "不到 1 分"
    assert views_charts.duration_text(dt.timedelta(days=2, minutes=1)) == "2 天 1 分"
    assert views_charts.duration_text(dt.timedelta(hours=5)) == "5 小時"


@pytest.mark.django_db
def test_the_page_query_count_does_not_grow_with_the_data(client_for, room, sensor):
    c = client_for(SECURITY_OFFICER)
    for name in charts.RANGES:
        c.get(chart_url(room, range=name))  # session, roles: warmed up

    def count(name):
        with CaptureQueriesContext(connection) as queries:
            assert c.get(chart_url(room, range=name)).status_code == 200
        return len(queries)

    small = {name: count(name) for name in charts.RANGES}
    add_readings(room, [(NOW - k * 3 * MINUTE, 22.0 + k % 7, 60.0) for k in range(480)], sensor)
    Rollup.objects.bulk_create(
        rollup(room, local(2026, 11, 28) - k * HOUR, 60, 22.0, 19.0, 26.0) for k in range(24, 8760)
    )
    for k in range(30):
        Alert.objects.create(
            room=room,
            sensor=sensor,
            kind="excursion",
            scope=f"s{k}",
            reason="r",
            opened_at=NOW - k * 11 * DAY,
            closed_at=NOW - k * 11 * DAY + HOUR,
        )
    large = {name: count(name) for name in charts.RANGES}
    assert large == small
    assert max(large.values()) <= 9  # session, user, roles, room, series, alerts, latest, …


# CSV ---------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_csv_has_one_row_per_bucket_and_is_audited(client_for, room, sensor):
    add_readings(
        room,
        [(local(2026, 11, 28, 13, 1), 21.0, 55.0), (local(2026, 11, 28, 13, 2), 22.0, None)],
        sensor,
    )
    c = client_for(SUPERVISOR)
    response = c.get(f"/facilities/rooms/{room.pk}/environment/csv/?range=day")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "environment-room" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "區間開始" and rows[0][-1] == "讀數筆數"
    assert len(rows) == 1 + 288
    row = next(r for r in rows if r[0] == "115/11/28 13:00")
    assert row[1] == "115/11/28 13:05"
    assert row[2:] == ["21.00", "21.50", "22.00", "55.00", "55.00", "55.00", "2"]
    assert rows[1][2:8] == [""] * 6 and rows[1][8] == "0"
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).latest("id")
    assert entry.actor_id == c.user.pk and entry.object_id == str(room.pk)
    assert client_for(STAFF).get(f"/facilities/rooms/{room.pk}/environment/csv/").status_code == 403
    bad = c.get(f"/facilities/rooms/{room.pk}/environment/csv/?end=nope")
    assert bad.status_code == 400
    assert AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).count() == 1


# API ---------------------------------------------------------------------------------------------
def token_client(user):
    _token, key = core_services.token_create(user=user, name="test", actor=user)
    c = Client()
    c.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return c


@pytest.mark.django_db
def test_the_api_gives_the_buckets_as_json(api_urls, make_user, room, sensor):
    Rollup.objects.bulk_create(
        [
            rollup(room, local(2026, 11, 28, 9), 60, 20.0, 19.0, 21.0, 60, 50.0, 45.0, 55.0),
            rollup(room, local(2026, 11, 28, 10), 30, 26.0, 25.0, 27.0),
        ]
    )
    c = token_client(make_user("api-officer", SECURITY_OFFICER))
    response = c.get(API, {"room": room.pk, "range": "week"})
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["room"], data["room_name"], data["range"], data["step_seconds"]) == (
        room.pk,
        "主機機房",
        "week",
        3600,
    )
    assert (
        data["start"] == "2026-11-21T15:00:00+08:00" and data["end"] == "2026-11-28T15:00:00+08:00"
    )
    assert data["thresholds"] == {
        "temperature_min": 20.0,
        "temperature_max": 25.0,
        "humidity_min": 50.0,
        "humidity_max": 70.0,
    }
    assert len(data["buckets"]) == 168
    nine = next(b for b in data["buckets"] if b["start"] == "2026-11-28T09:00:00+08:00")
    assert nine == {
        "start": "2026-11-28T09:00:00+08:00",
        "end": "2026-11-28T10:00:00+08:00",
        "temperature_min": 19.0,
        "temperature_mean": 20.0,
        "temperature_max": 21.0,
        "humidity_min": 45.0,
        "humidity_mean": 50.0,
        "humidity_max": 55.0,
        "readings": 60,
    }
    assert data["buckets"][0]["temperature_mean"] is None and data["buckets"][0]["readings"] == 0
    # A month ending on a date; the ROC form is accepted too.
    data = c.get(API, {"room": room.pk, "range": "month", "end": "2026-11-28"}).json()
    assert len(data["buckets"]) == 180 and data["end"] == "2026-11-29T00:00:00+08:00"
    four = next(b for b in data["buckets"] if b["start"] == "2026-11-28T08:00:00+08:00")
    assert four["temperature_mean"] == pytest.approx(22.0) and four["readings"] == 90
    assert (
        c.get(API, {"room": room.pk, "range": "year", "end": "115/11/28"}).json()["end"]
        == data["end"]
    )
    assert len(c.get(API, {"room": room.pk}).json()["buckets"]) == 288  # day by default


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"room": None, "range": "week"}, "room"),
        ({"room": "abc"}, "room"),
        ({"room": 999999}, "room"),
        ({"room": 2**70}, "room"),
        ({"range": "decade"}, "range"),
        ({"end": "2026-02-30"}, "end"),
        ({"end": "2026-11-29"}, "end"),  # tomorrow
        ({"end": "1900-01-01"}, "end"),
        ({"end": "1912-12-31"}, "end"),
    ],
)
def test_the_api_refuses_bad_input_with_field_errors(api_urls, make_user, room, params, field):
    c = token_client(make_user("api-sysadmin", SYSADMIN))
    params = {k: v for k, v in {"room": room.pk, **params}.items() if v is not None}
    response = c.get(API, params)
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.django_db
def test_the_api_is_for_the_readers_of_the_rooms(api_urls, make_user, room, client):
    assert client.get(API, {"room": room.pk}).status_code == 401
    for role in sorted(OTHERS):
        assert (
            token_client(make_user(f"api-{role}", role)).get(API, {"room": room.pk}).status_code
            == 403
        )
    for role in sorted(READERS):
        assert (
            token_client(make_user(f"api-r-{role}", role)).get(API, {"room": room.pk}).status_code
            == 200
        )
    assert token_client(make_user("api-none")).post(API, {"room": room.pk}).status_code in (
        403,
        405,
    )


@pytest.mark.django_db
def test_the_schema_describes_the_series_api(api_urls):
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    spec = SchemaGenerator(urlconf=__name__).get_schema(request=None, public=True)
    validate_schema(spec)
    operation = spec["paths"][API]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert params["room"]["required"] and params["range"]["schema"]["enum"] == [
        "day",
        "week",
        "month",
        "year",
    ]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert "$ref" in body and "items" not in body  # one object, not a paginated list
