"""Demo facilities for `isms demo`: the demo school's server room and a computer classroom
with their controls, last month's inspection (one finding still open), a week of readings
from the server room's sensor with yesterday's air-conditioning failure (an excursion that
opened and closed), a reading by hand in the classroom, and the month's server-room access
log (a vendor's repair of the student-records server with the school's person present, and
today's visit whose key is not back yet) — through the services, as the people who do it."""

import datetime as dt
import math
import random

from django.db import transaction
from django.utils import timezone

from isms.assets.models import Asset
from isms.audit import trail
from isms.core.models import User

from . import readings, rooms, visits
from .models import Control, Reading, Room, RoomControl, Sensor, Visit

State = RoomControl.State
# control → (state, detail) of the demo server room
SERVER_ROOM_CONTROLS = {
    Control.SMOKE_HEAT_DETECTION: (State.PRESENT, "偵煙探測器 2 具，連動消防總機"),
    Control.GAS_EXTINGUISHER: (State.PRESENT, "FM-200 氣體滅火系統"),
    Control.NO_FLAMMABLES_FOOD: (State.PRESENT, "門口張貼禁止飲食告示"),
    Control.EARTHING: (State.PRESENT, "機櫃接地，大樓設有避雷針"),
    Control.ACCESS_CONTROL: (State.PRESENT, "感應卡門禁，鑰匙由守衛室保管"),
    Control.CLIMATE_CONTROL: (State.PRESENT, "箱型冷氣 2 台輪替"),
    Control.THERMO_HYGROMETER: (State.PRESENT, "溫濕度顯示器（連網感測器 srv-room-1）"),
    Control.UPS: (State.PRESENT, "10kVA UPS 2 台"),
    Control.VOLTAGE_STABILISER: (State.ABSENT, ""),
    Control.EMERGENCY_LIGHTING: (State.PRESENT, "緊急照明燈 1 具"),
    Control.CABLE_PROTECTION: (State.PRESENT, "高架地板與線槽"),
}
SENSOR = "srv-room-1"


@transaction.atomic
def load_demo() -> None:
    if Room.objects.exists():
        return
    admin = User.objects.filter(username="sysadmin").first()
    head = User.objects.filter(username="equipment").first()
    guard = User.objects.filter(username="guard").first()
    if admin is None or head is None:
        return
    now = timezone.now()
    with trail.acting_as(admin):
        server_room, classroom = _rooms(admin, head)
        _inspection(server_room, admin, now)
        _readings(server_room, classroom, admin, head, now)
    with trail.acting_as(head):
        _visits(server_room, admin, head, guard, now)


def _rooms(admin, head):
    server_room = rooms.save_room(
        Room(
            name="圖書館 3 樓主機機房",
            kind=Room.Kind.SERVER_ROOM,
            location="圖書館大樓 3 樓 301 室",
            keeper=admin,
        ),
        actor=admin,
    )
    rooms.save_controls(server_room, SERVER_ROOM_CONTROLS, actor=admin)
    classroom = rooms.save_room(
        Room(
            name="電腦教室（一）",
            kind=Room.Kind.COMPUTER_CLASSROOM,
            location="實習大樓 2 樓 205 室",
            keeper=head,
            monitored=False,
        ),
        actor=head,
    )
    rooms.save_controls(
        classroom,
        {
            Control.SMOKE_HEAT_DETECTION: (State.PRESENT, "偵煙探測器"),
            Control.GAS_EXTINGUISHER: (State.PRESENT, "CO2 滅火器 2 支"),
            Control.NO_FLAMMABLES_FOOD: (State.PRESENT, "上課規則禁止飲食"),
            Control.EARTHING: (State.PRESENT, "插座接地"),
            Control.ACCESS_CONTROL: (State.PRESENT, "下課上鎖，鑰匙由設備組保管"),
            Control.CABLE_PROTECTION: (State.PRESENT, "桌下線槽"),
        },
        actor=head,
    )
    return server_room, classroom


def _inspection(room, admin, now):
    """Last month's inspection: the emergency light's battery failed its test."""
    from .models import Inspection

    day = timezone.localdate(now) - dt.timedelta(days=20)
    results = {control: ("pass", "") for control in Control.values}
    results[Control.VOLTAGE_STABILISER] = ("fail", "未設置穩壓器，僅有 UPS")
    results[Control.EMERGENCY_LIGHTING] = ("fail", "緊急照明燈電池測試不亮，需更換電池")
    inspection = rooms.save_inspection(
        Inspection(
            room=room,
            inspected_on=day,
            inspector=admin,
            temperature_c=22.5,
            humidity_pct=58,
            note="每月例行檢查；UPS 自我測試正常。",
        ),
        results,
        actor=admin,
    )
    battery = inspection.findings.get(control=Control.EMERGENCY_LIGHTING)
    rooms.resolve_finding(
        battery, actor=admin, resolution="已更換緊急照明燈電池並測試正常。", mark_present=True
    )


def _readings(server_room, classroom, admin, head, now):
    """A week of five-minute readings of the server room up to now; yesterday afternoon
    the air conditioning failed for about an hour and a half."""
    sensor = readings.save_sensor(
        Sensor(room=server_room, code=SENSOR, name="機櫃前溫濕度感測器"), actor=admin
    )
    rng = random.Random(115)
    end = now.replace(second=0, microsecond=0)
    start = end - dt.timedelta(days=7)
    failure = timezone.localtime(now).replace(hour=14, minute=0, second=0, microsecond=0)
    failure -= dt.timedelta(days=1)
    items, moment = [], start
    while moment <= end:
        local = timezone.localtime(moment)
        day = 2 * math.pi * (local.hour * 60 + local.minute) / 1440
        t = 22.5 + 1.2 * math.sin(day - 1.5) + rng.gauss(0, 0.2)
        h = 60 + 5 * math.cos(day) + rng.gauss(0, 0.8)
        if failure <= moment < failure + dt.timedelta(minutes=95):
            t += 2.5 + 3.0 * (moment - failure).total_seconds() / 5700
        items.append(
            {
                "sensor": SENSOR,
                "measured_at": moment.isoformat(),
                "temperature_c": round(t, 1),
                "humidity_pct": round(h, 1),
            }
        )
        moment += dt.timedelta(minutes=5)
    with trail.acting_as(None, label=f"sensor: {sensor}"):
        for i in range(0, len(items), 500):
            readings.ingest(items[i : i + 500], source=Reading.Source.HTTP, now=now)
    readings.record_manual(
        Reading(
            room=classroom,
            measured_at=end - dt.timedelta(hours=3),
            temperature_c=26.0,
            humidity_pct=55.0,
        ),
        actor=head,
        now=now,
    )


def _visits(room, admin, head, guard, now):
    today = timezone.localtime(now).replace(hour=9, minute=30, second=0, microsecond=0)
    if today > now:
        today -= dt.timedelta(days=1)
    server = (
        Asset.objects.filter(kind=Asset.Kind.SERVER, stores_personal_data=True)
        .order_by("id")
        .first()
    )
    repair = visits.save_visit(
        Visit(
            room=room,
            entered_at=today - dt.timedelta(days=6),
            exited_at=today - dt.timedelta(days=6) + dt.timedelta(hours=1, minutes=40),
            purpose=Visit.Purpose.REPAIR,
            purpose_detail="校務行政系統主機硬碟更換",
            carries_equipment=True,
            equipment_detail="攜入新硬碟 2 顆，攜出故障硬碟 1 顆（已消磁）",
            unit=Visit.Unit.VENDOR,
            company="宏碩資訊股份有限公司",
            visitor_name="張志豪",
            escort=head,
            personal_data=True,
            present_person=admin,
        ),
        actor=head,
        assets=[server] if server is not None else [],
        now=now,
    )
    if guard is not None:
        visits.confirm_key(repair, actor=guard, now=repair.exited_at + dt.timedelta(minutes=5))
    check = visits.save_visit(
        Visit(
            room=room,
            entered_at=today - dt.timedelta(days=2, hours=-5),
            exited_at=today - dt.timedelta(days=2, hours=-5, minutes=-30),
            purpose=Visit.Purpose.OTHER,
            purpose_detail="每月機房巡檢與 UPS 自我測試",
            unit=Visit.Unit.EQUIPMENT_SECTION,
            visitor_name=head.display_name,
        ),
        actor=head,
        now=now,
    )
    if guard is not None:
        visits.confirm_key(check, actor=guard, now=check.exited_at + dt.timedelta(minutes=3))
    visits.save_visit(
        Visit(
            room=room,
            entered_at=today,
            purpose=Visit.Purpose.OTHER,
            purpose_detail="網路交換器設定變更",
            unit=Visit.Unit.OTHER,
            unit_other="資訊組",
            visitor_name=admin.display_name,
        ),
        actor=head,
        now=now,
    )
