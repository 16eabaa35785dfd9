"""The facilities bench (issue 8).

1. **A year of one-minute readings** (525,600) of one bench server room, with their hourly
   roll-ups and a few excursions, seeded once with bulk inserts (the ingest's rules are
   tested elsewhere).
2. **The room chart** for a day, a week, a month and a year (target: the year p95 ≤ 300 ms),
   each beside its floor: the same rows read and put through a bare template loop.
3. **The readings ingest over HTTP**: the product served by gunicorn (as ``./dev run``
   serves it) on a loopback port against the bench database, and a load generator of
   ``SENDERS`` threads, each a sensor with its own key, posting batches of ``BATCH``
   readings (target ≥ 2,000 readings/s on SQLite). Its floor: the same readings stored
   by ``bulk_create`` in this process (no HTTP, no checks, no roll-ups, no alerts).
   The ingest's readings are deleted again afterwards, so every run starts alike.
"""

import datetime as dt
import http.client
import json
import math
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOM = "bench 主機機房"
INGEST_ROOM = "bench 電腦教室（讀數接收）"
MINUTES = 365 * 24 * 60
SENDERS = 4
BATCH = 500
BATCHES_PER_SENDER = 30
HERE = Path(__file__).resolve().parent
CHART_LOOP = (
    "<table>{% for b in rows %}<tr><td>{{ b.start }}</td><td>{{ b.temperature_min }}</td>"
    "<td>{{ b.temperature_mean }}</td><td>{{ b.temperature_max }}</td>"
    "<td>{{ b.humidity_min }}</td><td>{{ b.humidity_mean }}</td><td>{{ b.humidity_max }}</td>"
    "</tr>{% endfor %}</table>"
)


def keeper():
    from bench.operations import administrator

    return administrator()


def _room(name, kind):
    from isms.facilities.models import Room

    room = Room.objects.filter(name=name).first()
    if room is None:
        room = Room.objects.create(name=name, kind=kind, keeper=keeper())
    return room


def seed():
    """The bench server room with a year of one-minute readings up to now (once)."""
    from django.utils import timezone

    from isms.facilities import readings
    from isms.facilities.models import Alert, Reading, Room, Sensor

    room = _room(ROOM, Room.Kind.SERVER_ROOM)
    sensor, _created = Sensor.objects.get_or_create(
        code="bench-srv", defaults={"room": room, "name": "bench 機櫃前"}
    )
    if Reading.objects.filter(room=room).count() >= MINUTES:
        return room
    Reading.objects.filter(room=room).delete()
    from isms.facilities.models import Rollup

    Rollup.objects.filter(room=room).delete()
    rng = random.Random(8)
    end = timezone.now().replace(second=0, microsecond=0)
    start = end - dt.timedelta(minutes=MINUTES)
    batch, values = [], []
    for n in range(MINUTES):
        moment = start + dt.timedelta(minutes=n + 1)
        day = 2 * math.pi * (n % 1440) / 1440
        t = round(22.5 + 1.5 * math.sin(day) + rng.gauss(0, 0.3), 1)
        h = round(60 + 6 * math.cos(day) + rng.gauss(0, 1.0), 1)
        if n % 50_000 < 90:  # an excursion now and then: the air conditioning failing
            t += 4.0
        batch.append(
            Reading(
                room=room,
                sensor=sensor,
                measured_at=moment,
                temperature_c=t,
                humidity_pct=h,
                source=Reading.Source.HTTP,
                received_at=moment,
            )
        )
        values.append((room.pk, moment, t, h))
        if len(batch) >= 20_000:
            Reading.objects.bulk_create(batch, batch_size=5000)
            readings.upsert_rollups(readings.hourly(values))
            batch, values = [], []
    Reading.objects.bulk_create(batch, batch_size=5000)
    readings.upsert_rollups(readings.hourly(values))
    Sensor.objects.filter(pk=sensor.pk).update(last_reading_at=end, accepted_count=MINUTES)
    alerts = []
    for n in range(0, MINUTES, 50_000):
        opened = start + dt.timedelta(minutes=n + 1)
        alerts.append(
            Alert(
                room=room,
                sensor=sensor,
                kind=Alert.Kind.EXCURSION,
                scope=f"sensor:{sensor.pk}",
                opened_at=opened,
                closed_at=opened + dt.timedelta(minutes=90),
                temperature_low=25.2,
                temperature_high=28.4,
                readings_out=90,
                reason="溫度 26.1°C 高於 25°C",
            )
        )
    Alert.objects.bulk_create(alerts)
    return room


# The ingest over HTTP -------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int):
    """gunicorn on the bench database, as ``./dev run`` runs the product."""
    env = dict(os.environ)
    env["ALLOWED_HOSTS"] = "127.0.0.1"
    env.pop("ISMS_ACTOR_LABEL", None)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [
            str(gunicorn),
            "isms.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            os.environ.get("ISMS_WORKERS", "2"),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=str(HERE.parent),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def _senders():
    """SENDERS sensors in the ingest room, each with a fresh key (the old readings gone)."""
    from isms.facilities import readings
    from isms.facilities.models import Room, Sensor

    room = _room(INGEST_ROOM, Room.Kind.COMPUTER_CLASSROOM)
    admin = keeper()
    out = []
    for n in range(SENDERS):
        sensor, _created = Sensor.objects.get_or_create(
            code=f"bench-ingest-{n}", defaults={"room": room, "name": f"bench 接收 {n}"}
        )
        out.append((sensor, readings.key_create(sensor, actor=admin)))
    _clear(room)
    return room, out


def _clear(room):
    from isms.facilities.models import Alert, Reading, Rejection, Rollup, Sensor

    Reading.objects.filter(room=room).delete()
    Rollup.objects.filter(room=room).delete()
    Alert.objects.filter(room=room).delete()
    Rejection.objects.filter(sensor__room=room).delete()
    Sensor.objects.filter(room=room).update(last_reading_at=None, accepted_count=0)


def _payloads(code: str, base: dt.datetime, rng) -> list[bytes]:
    """BATCHES_PER_SENDER batches of BATCH readings one second apart, oldest first."""
    out = []
    for b in range(BATCHES_PER_SENDER):
        items = []
        for i in range(BATCH):
            moment = base + dt.timedelta(seconds=b * BATCH + i)
            items.append(
                {
                    "sensor": code,
                    "measured_at": moment.isoformat().replace("+00:00", "Z"),
                    "temperature_c": round(21 + rng.random() * 3, 1),
                    "humidity_pct": round(55 + rng.random() * 10, 1),
                }
            )
        out.append(json.dumps(items).encode())
    return out


def ingest() -> dict:
    from django.utils import timezone

    from isms.facilities.models import Reading

    room, senders = _senders()
    rng = random.Random(9)
    base = timezone.now() - dt.timedelta(hours=12)
    work = [(key, _payloads(s.code, base, rng)) for s, key in senders]
    port = _free_port()
    server = _serve(port)
    latencies, statuses = [], []
    lock = threading.Lock()

    def send(key, payloads):
        mine, codes = [], []
        for body in payloads:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            start = time.perf_counter()
            conn.request(
                "POST",
                "/api/environment-readings/",
                body=body,
                headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - start) * 1000)
            codes.append(response.status)
            conn.close()
        with lock:
            latencies.extend(mine)
            statuses.extend(codes)

    try:
        # One warm-up request per sender (imports, connections), its readings deleted after.
        threads = [threading.Thread(target=send, args=(key, payloads)) for key, payloads in work]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=30)
    stored = Reading.objects.filter(room=room).count()
    sent = SENDERS * BATCHES_PER_SENDER * BATCH
    floor_s = _floor(room, senders, base, rng)
    _clear(room)
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    rate = stored / wall if wall else 0
    return {
        "senders": SENDERS,
        "batch": BATCH,
        "readings_sent": sent,
        "readings_stored": stored,
        "statuses": sorted(set(statuses)),
        "seconds": round(wall, 2),
        "readings_per_second": round(rate),
        "request_p95_ms": round(p95, 1),
        "floor_readings_per_second": round(sent / floor_s) if floor_s else 0,
        "ok": stored == sent and rate >= 2000,
    }


def _floor(room, senders, base, rng) -> float:
    """The same number of readings stored by bulk_create in this process."""
    from isms.facilities.models import Reading

    _clear(room)
    rows = []
    for sensor, _key in senders:
        for i in range(BATCHES_PER_SENDER * BATCH):
            rows.append(
                Reading(
                    room=room,
                    sensor=sensor,
                    measured_at=base + dt.timedelta(seconds=i),
                    temperature_c=round(21 + rng.random() * 3, 1),
                    humidity_pct=round(55 + rng.random() * 10, 1),
                    source=Reading.Source.HTTP,
                    received_at=base,
                )
            )
    start = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        Reading.objects.bulk_create(rows[i : i + BATCH])
    return time.perf_counter() - start


READING_LOOP = (
    "<table>{% for r in rows %}<tr><td><a href='/facilities/readings/{{ r.pk }}/'>"
    "{{ r.measured_at }}</a></td><td>{{ r.room.name }}</td><td>{{ r.sensor.code }}</td>"
    "<td>{{ r.temperature_c }}</td><td>{{ r.humidity_pct }}</td>"
    "<td>{{ r.get_source_display }}</td></tr>{% endfor %}</table>"
)


def readings_floor(engine, room=None):
    """The readings list's 50 rows through a bare template loop."""
    from isms.facilities.models import Reading

    template = engine.from_string(READING_LOOP)

    def floor():
        qs = Reading.objects.select_related("room", "sensor", "recorded_by")
        if room is not None:
            qs = qs.filter(room=room)
        return template.render({"rows": list(qs.order_by("-measured_at", "-id")[:50])})

    return floor


def chart_floor(engine, room, range_name):
    """The chart's own query (the buckets of the range) through a bare template loop."""
    from isms.facilities import charts

    template = engine.from_string(CHART_LOOP)

    def floor():
        series = charts.series(room, range_name)
        return template.render({"rows": [b.as_dict() for b in series.buckets]})

    return floor


def chart_json_floor(room, range_name):
    from isms.facilities import charts

    def floor():
        series = charts.series(room, range_name)
        return json.dumps([b.as_dict() for b in series.buckets], default=str)

    return floor


def bench(page, api, engine) -> dict:
    room = seed()
    for range_name, label in (("day", "日"), ("week", "週"), ("month", "月"), ("year", "年")):
        page(
            f"room chart page, {range_name} ({label})",
            f"/facilities/rooms/{room.pk}/environment/?range={range_name}",
            chart_floor(engine, room, range_name),
            target_ms=300,
            ratio=99,
        )
    page("readings list page", "/facilities/readings/", readings_floor(engine))
    page(
        "readings list page, one room",
        f"/facilities/readings/?room={room.pk}",
        readings_floor(engine, room),
    )
    api(
        "environment series API, year",
        f"/api/environment-series/?room={room.pk}&range=year",
        chart_json_floor(room, "year"),
    )
    return {"room": room.pk, "readings": MINUTES, "ingest": ingest()}
