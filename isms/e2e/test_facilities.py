"""Facilities (3.1–3.4, 7.9) in a real browser.

Rooms: the 系統管理人員 adds a server room (thresholds 20–25 °C, 50–70 %RH by default), sets
its controls (one left 未設置: a red gap), and records an inspection on the checklist —
a 不符合 without its note is refused, with it the finding is made for the room's keeper
(the 設備組長), due 30 days after the inspection, who records what was done: 已改善.

Temperature and humidity: the 系統管理人員 adds a sensor and creates its key (shown once);
the sensor posts two hours of readings with that key, a stretch above 25 °C and one
impossible reading among them: the impossible one is refused and shown on the sensor's
page, the excursion is one alert, opened and closed, on the alerts list and the room's
chart. A wrong key is refused.

Access log: the 設備組長 records a vendor's repair of a server that stores personal data
(refused without 陪同人員 and 在場專人, 3.1.3 and 7.9), an exit before the entry is refused,
the 守衛室 confirms the key's return, and the month's paper sheet is printed.
"""

import datetime as dt
import hashlib
import json
import re
import urllib.error
import urllib.request
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from isms.assets.models import Asset
from isms.core import roc
from isms.core.roles import EQUIPMENT_HEAD, GUARD, SYSADMIN
from isms.facilities import rooms as room_rules
from isms.facilities.models import (
    Alert,
    Control,
    Finding,
    Inspection,
    InspectionItem,
    Reading,
    Rejection,
    Room,
    RoomControl,
    Sensor,
    Visit,
)
from isms.notifications.models import Notification

from .test_account_request import person_with_login, sign_in
from .test_first_sign_in import SHOTS, shot
from .test_operations import roc_minute

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TAIPEI = ZoneInfo("Asia/Taipei")
ROOM_NAME = "行政大樓 3F 主機機房"
# The controls set 已設置 on the controls page, with what the room has.
DETAILS = {
    Control.SMOKE_HEAT_DETECTION: "偵煙探測器 2 具",
    Control.GAS_EXTINGUISHER: "FM-200 氣體滅火系統",
    Control.EARTHING: "機櫃接地，大樓避雷針",
    Control.ACCESS_CONTROL: "磁扣門禁，鑰匙由守衛室保管",
    Control.CLIMATE_CONTROL: "分離式冷氣 2 台、除濕機 1 台",
    Control.UPS: "UPS 10kVA 兩台",
    Control.CABLE_PROTECTION: "高架地板、線槽",
}
GAP = Control.EMERGENCY_LIGHTING


def roc_day(day: dt.date) -> str:
    return roc.format_roc(day)


def post_readings(live_server, key: str, body) -> tuple[int, dict]:
    """What the sensor does: POST its readings with its key, no browser session."""
    request = urllib.request.Request(
        f"{live_server.url}/api/environment-readings/",
        data=json.dumps(body).encode("utf-8"),
        method="POST",
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def shot_down_to(page, name, locator):
    """Like ``shot``, but the page only down to ``locator`` (a long page's part that matters)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    box = locator.bounding_box()
    width = page.evaluate("document.documentElement.scrollWidth")
    height = box["y"] + box["height"] + 16
    page.screenshot(
        path=str(SHOTS / f"{name}.png"),
        full_page=True,
        clip={"x": 0, "y": 0, "width": width, "height": height},
    )


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(TAIPEI).isoformat(timespec="seconds")


def test_room_inspection_finding_followed_up(live_server, page):
    admin = person_with_login("sysadmin", SYSADMIN, "陳志明")
    head = person_with_login("equipment", EQUIPMENT_HEAD, "李美玲")

    # The room: the thresholds of 3.2 are there already; its keeper is the 設備組長.
    sign_in(page, live_server, "sysadmin")
    page.goto(f"{live_server.url}/facilities/rooms/add/")
    thresholds = page.locator("[data-section=thresholds]")
    for field, value in (
        ("#id_temperature_min", "20"),
        ("#id_temperature_max", "25"),
        ("#id_humidity_min", "50"),
        ("#id_humidity_max", "70"),
    ):
        expect(thresholds.locator(field)).to_have_value(re.compile(rf"^{value}(\.0)?$"))
    expect(page.locator("#id_keeper")).to_have_value(str(admin.pk))  # the one signed in
    page.fill("#id_name", ROOM_NAME)
    page.get_by_label("主機機房", exact=True).check()
    page.fill("#id_location", "行政大樓 3 樓 301 室")
    page.select_option("#id_keeper", value=str(head.pk))
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/facilities/rooms/\d+/$"))
    room = Room.objects.get()
    assert (room.name, room.kind, room.keeper) == (ROOM_NAME, Room.Kind.SERVER_ROOM, head)
    assert (room.temperature_min, room.temperature_max) == (20, 25)
    assert (room.humidity_min, room.humidity_max) == (50, 70)
    assert room.monitored
    assert room.controls.count() == len(Control)
    assert set(room.controls.values_list("state", flat=True)) == {RoomControl.State.ABSENT}
    room_url = f"{live_server.url}{room.get_absolute_url()}"
    expect(page.locator("[data-field=temperature]")).to_have_text("20.0–25.0 °C")
    expect(page.locator("[data-field=humidity]")).to_have_text("50.0–70.0 %RH")
    expect(page.locator("[data-gaps] .text-bg-danger")).to_have_text(
        f"{len(Control)} 項控制措施未設置"
    )

    # The controls, on one page: all in place but the emergency lighting.
    page.get_by_role("link", name="編輯控制措施").first.click()
    page.wait_for_url(f"**/facilities/rooms/{room.pk}/controls/")
    for control in Control:
        row = page.locator(f"tr[data-control=state_{control.value}]")
        if control == GAP:
            expect(row.get_by_label("未設置", exact=True)).to_be_checked()
            continue
        row.get_by_label("已設置", exact=True).check()
        if control in DETAILS:
            row.locator("input[type=text]").fill(DETAILS[control])
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(room_url)
    expect(page.locator(".alert-success")).to_contain_text(
        f"已儲存控制措施（異動 {len(Control) - 1} 項）。"
    )
    states = dict(room.controls.values_list("control", "state"))
    assert states.pop(GAP) == RoomControl.State.ABSENT
    assert set(states.values()) == {RoomControl.State.PRESENT}
    assert room.controls.get(control=Control.UPS).detail == "UPS 10kVA 兩台"
    gap = page.locator(f"#controls tr[data-control={GAP}]")
    expect(gap.locator("[data-gap]")).to_have_text("未設置（缺口）")
    expect(gap.locator("[data-gap]")).to_have_class(re.compile(r"\btext-bg-danger\b"))
    expect(page.locator("#controls [data-gap]")).to_have_count(1)
    expect(page.locator(f"#controls tr[data-control={Control.UPS}]")).to_contain_text(
        "UPS 10kVA 兩台"
    )
    expect(page.locator("[data-gaps] .text-bg-danger")).to_have_text("1 項控制措施未設置")

    # The inspection: every control on one checklist; 不符合 without its note is refused.
    page.get_by_role("link", name="登錄機房檢查").first.click()
    page.wait_for_url(re.compile(r"/facilities/inspections/add/\?room=\d+$"))
    today = timezone.localdate()  # the page's default: today (read as it was drawn)
    expect(page.locator("#id_room")).to_have_value(str(room.pk))
    expect(page.locator("#id_inspected_on")).to_have_value(roc_day(today))
    expect(page.locator("#id_inspector")).to_have_value(str(admin.pk))
    page.fill("#id_temperature_c", "22.5")
    page.fill("#id_humidity_pct", "56")
    checklist = page.locator("[data-checklist]")
    for control in Control:
        row = checklist.locator(f"tr[data-control={control.value}]")
        expect(row).to_contain_text("未設置" if control == GAP else "已設置")
        row.get_by_label("不符合" if control == GAP else "符合", exact=True).check()
    page.fill("#id_note", "每月例行檢查；機房整潔，空調運作正常。")
    page.get_by_role("button", name="儲存").click()
    gap_row = checklist.locator(f"tr[data-control={GAP}]")
    expect(gap_row.locator(".invalid-feedback")).to_have_text(
        "「緊急照明設備」不符合時請說明缺失情形（條文 3.3）。"
    )
    expect(page.locator("[data-checklist] .invalid-feedback")).to_have_count(1)
    assert not Inspection.objects.exists() and not Finding.objects.exists()
    # What was chosen is kept on the refused form.
    expect(gap_row.get_by_label("不符合", exact=True)).to_be_checked()
    expect(
        checklist.locator(f"tr[data-control={Control.UPS}]").get_by_label("符合", exact=True)
    ).to_be_checked()
    expect(page.locator("#id_temperature_c")).to_have_value("22.5")
    shot(page, "27-inspection")
    gap_note = "機房未設置緊急照明，停電時無法安全作業。"
    gap_row.locator(f"#id_item_note_{GAP}").fill(gap_note)
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/facilities/inspections/\d+/$"))
    inspection = Inspection.objects.get()
    assert (inspection.room, inspection.inspector, inspection.inspected_on) == (room, admin, today)
    assert (inspection.temperature_c, inspection.humidity_pct) == (22.5, 56.0)
    items = dict(inspection.items.values_list("control", "result"))
    assert len(items) == len(Control)
    assert items.pop(GAP) == InspectionItem.Result.FAIL
    assert set(items.values()) == {InspectionItem.Result.PASS}
    assert inspection.items.get(control=GAP).note == gap_note

    # One finding, for the room's keeper, due 30 days after the inspection.
    finding = Finding.objects.get()
    due = today + dt.timedelta(days=30)
    assert (finding.room, finding.inspection, finding.control) == (room, inspection, GAP)
    assert (finding.assignee, finding.due_on, finding.description) == (head, due, gap_note)
    assert finding.status == Finding.Status.OPEN
    told = Notification.objects.get(recipient=head)
    assert told.subject == f"機房檢查缺失：{ROOM_NAME} 緊急照明設備"
    assert roc_day(due) in told.body
    row = page.locator(f"#findings tr[data-finding='{finding.pk}']")
    for text in ("緊急照明設備", "李美玲", roc_day(due), "待改善"):
        expect(row).to_contain_text(text)
    expect(page.locator(f"#items tr[data-item={GAP}]")).to_contain_text(gap_note)

    # The room's page: the gap, the inspection and the finding to follow up.
    page.goto(room_url)
    expect(page.locator("[data-gaps]")).to_contain_text("1 項缺失待改善")
    inspected = page.locator(f"#inspections tr[data-inspection='{inspection.pk}']")
    expect(inspected).to_contain_text(roc_day(today))
    expect(inspected).to_contain_text("陳志明")
    expect(inspected.locator(".text-danger")).to_have_text("1")
    open_row = page.locator(f"#findings tr[data-finding='{finding.pk}']")
    for text in ("緊急照明設備", gap_note, "李美玲", roc_day(due)):
        expect(open_row).to_contain_text(text)
    shot(page, "26-room")

    # The keeper follows it up on its page: what was done is required.
    sign_in(page, live_server, "equipment")
    page.goto(room_url)
    page.locator(f"#findings tr[data-finding='{finding.pk}']").get_by_role("link").click()
    page.wait_for_url(f"**{finding.get_absolute_url()}")
    expect(page.locator("[data-status]")).to_have_text("待改善")
    expect(page.locator("[data-field=due_on]")).to_have_text(roc_day(due))
    resolve = page.locator("#resolve")
    resolve.get_by_role("button", name="改善完成").click()
    expect(resolve.locator("#id_resolution ~ .invalid-feedback")).to_have_text(
        "請填寫改善情形（做了什麼、何時完成）。"
    )
    finding.refresh_from_db()
    assert finding.status == Finding.Status.OPEN and finding.resolution == ""
    resolution = "已於機房出入口及機櫃區加裝緊急照明燈 2 具，斷電測試可持續照明 90 分鐘。"
    page.locator("#resolve #id_resolution").fill(resolution)
    page.get_by_label("同時將此控制措施設為已設置", exact=True).check()
    page.locator("#resolve").get_by_role("button", name="改善完成").click()
    page.wait_for_url(f"**{finding.get_absolute_url()}")
    expect(page.locator(".alert-success")).to_contain_text("已登錄改善情形。")
    expect(page.locator("[data-status]")).to_have_text("已改善")
    expect(page.locator("[data-field=resolution]")).to_have_text(resolution)
    expect(page.locator("#resolve")).to_have_count(0)
    finding.refresh_from_db()
    assert finding.status == Finding.Status.DONE
    assert (finding.resolution, finding.resolved_by) == (resolution, head)
    assert finding.resolved_at is not None
    assert room.controls.get(control=GAP).state == RoomControl.State.PRESENT
    assert room_rules.absent_count(room) == 0

    # Back on the room's page: no gap, nothing left to follow up.
    page.goto(room_url)
    expect(page.locator("[data-gaps]")).to_have_text("控制措施皆已設置或不適用")
    expect(page.locator("#controls [data-gap]")).to_have_count(0)
    expect(page.locator("#findings")).to_contain_text("沒有待改善的缺失。")


def test_sensor_key_readings_alert_and_chart(live_server, page):
    admin = person_with_login("sysadmin", SYSADMIN, "陳志明")
    room = room_rules.save_room(
        Room(name=ROOM_NAME, kind=Room.Kind.SERVER_ROOM, location="行政大樓 3 樓", keeper=admin),
        actor=admin,
    )

    # The sensor, added from the room's sensors.
    sign_in(page, live_server, "sysadmin")
    page.goto(f"{live_server.url}/facilities/sensors/add/?room={room.pk}")
    expect(page.locator("#id_room")).to_have_value(str(room.pk))
    page.fill("#id_code", "srv-room-1")
    page.fill("#id_name", "主機機房機櫃前")
    page.fill("#id_silence_minutes", "15")
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/facilities/sensors/\d+/$"))
    sensor = Sensor.objects.get()
    assert (sensor.room, sensor.code, sensor.name) == (room, "srv-room-1", "主機機房機櫃前")
    assert sensor.silence_minutes == 15 and sensor.token_hash == ""
    sensor_url = f"{live_server.url}{sensor.get_absolute_url()}"
    expect(page.locator("[data-field=range]")).to_have_text("20.0～25.0°C、50.0～70.0%RH")
    expect(page.locator("[data-key-state]")).to_have_text("尚未建立金鑰。")

    # Its key: shown once, on the answer to its creation, never cached.
    with page.expect_response(
        lambda r: r.url.endswith(f"/sensors/{sensor.pk}/key/") and r.request.method == "POST"
    ) as answer:
        page.get_by_role("button", name="建立金鑰").click()
    assert answer.value.status == 200
    assert answer.value.headers["cache-control"] == "no-store"
    new_key = page.locator("[data-new-key]")
    expect(new_key).to_contain_text("已建立金鑰。金鑰只顯示這一次")
    key = new_key.get_by_role("textbox", name="感測器金鑰").input_value()
    assert re.fullmatch(r"isms_sn_[A-Za-z0-9_-]{43}", key)
    sensor.refresh_from_db()
    assert sensor.token_hash == hashlib.sha256(key.encode()).hexdigest()
    assert sensor.token_prefix == key[8:16]
    api_url = f"{live_server.url}/api/environment-readings/"
    curl = page.locator("[data-example=curl-one]")
    for text in (
        f"ISMS_URL='{api_url}'",
        "ISMS_KEY='PASTE-THE-KEY-HERE'",
        'curl -sS -X POST "$ISMS_URL"',
        '-H "Authorization: Token $ISMS_KEY"',
        '"sensor": "srv-room-1"',
    ):
        expect(curl).to_contain_text(text)
    expect(page.locator("[data-example=curl-batch]")).to_contain_text(f"ISMS_URL='{api_url}'")
    page.goto(sensor_url)
    expect(page.locator("[data-new-key]")).to_have_count(0)
    assert key not in page.content()
    expect(page.locator("[data-key-state]")).to_contain_text(f"開頭 isms_sn_{key[8:16]}…")

    # Two hours of readings, one every 5 minutes: 25 °C exceeded for half an hour, then
    # back in range; and one reading no sensor could have made (120 %RH).
    now = timezone.now().replace(second=0, microsecond=0)
    temperatures = [23.1, 23.2, 23.4, 23.6, 23.9, 24.3, 24.8, 25.4, 26.2, 27.1, 27.6, 26.8]
    temperatures += [25.9, 24.7, 24.1, 23.6, 23.4, 23.2, 23.1, 23.0, 23.0, 22.9, 22.9, 22.8]
    moments = [now - dt.timedelta(minutes=5 * (len(temperatures) - 1 - i)) for i in range(24)]
    batch = [
        {
            "sensor": "srv-room-1",
            "measured_at": iso(moment),
            "temperature_c": t,
            # The air conditioner off: warmer, and drier.
            "humidity_pct": round(58.6 - (t - 23) * 1.6 + (i % 3) * 0.3, 1),
        }
        for i, (moment, t) in enumerate(zip(moments, temperatures, strict=True))
    ]
    impossible = {
        "sensor": "srv-room-1",
        "measured_at": iso(now - dt.timedelta(minutes=62)),
        "temperature_c": 24.0,
        "humidity_pct": 120,
    }
    batch.insert(12, impossible)
    status, body = post_readings(live_server, key, batch)
    assert status == 201, body
    assert (body["accepted"], body["duplicates"]) == (24, 0)
    assert [r["index"] for r in body["rejected"]] == [12]
    assert list(body["rejected"][0]["errors"]) == ["humidity_pct"]
    assert "120" in body["rejected"][0]["errors"]["humidity_pct"][0]
    assert Reading.objects.filter(sensor=sensor).count() == 24
    assert not Reading.objects.filter(humidity_pct__gt=100).exists()
    refused = Rejection.objects.get()
    assert refused.sensor == sensor and "humidity_pct" in refused.reason
    sensor.refresh_from_db()
    assert (sensor.accepted_count, sensor.rejected_count) == (24, 1)
    assert sensor.last_reading_at == now

    # One excursion: opened at the first reading above 25 °C, closed at the first back.
    out = [i for i, t in enumerate(temperatures) if t > 25]
    assert out == list(range(7, 13))
    alert = Alert.objects.get()
    assert (alert.kind, alert.room, alert.sensor) == (Alert.Kind.EXCURSION, room, sensor)
    assert alert.opened_at == moments[out[0]] and alert.closed_at == moments[out[-1] + 1]
    assert alert.readings_out == len(out)
    assert (alert.temperature_low, alert.temperature_high) == (25.4, 27.6)
    assert alert.reason == "溫度 25.4°C 高於 25°C"
    assert Notification.objects.filter(
        recipient=admin, subject__startswith="溫濕度超出範圍"
    ).exists()
    assert Notification.objects.filter(recipient=admin, subject__startswith="已恢復").exists()

    # A wrong key: refused, nothing stored.
    status, body = post_readings(live_server, "isms_sn_" + "x" * 43, batch[:1])
    assert status == 401 and body["detail"] == "感測器金鑰無效或已撤銷。"
    assert Reading.objects.count() == 24

    # The sensor's page: the latest readings, the alert and the refused reading.
    page.reload()
    expect(page.locator("[data-report-state]")).to_have_text("回報中")
    expect(page.locator("[data-field=accepted]")).to_have_text("24")
    expect(page.locator("[data-field=rejected]")).to_contain_text("1")
    expect(page.locator("[data-field=last_reading]")).to_have_text(roc_minute(now))
    expect(page.locator("#latest tbody tr")).to_have_count(10)
    expect(page.locator("#alerts tbody tr")).to_have_count(1)
    expect(page.locator("#alerts tbody tr")).to_contain_text(roc_minute(alert.opened_at))
    expect(page.locator("#alerts tbody tr")).to_contain_text(roc_minute(alert.closed_at))
    expect(page.locator("[data-rejected-count]")).to_have_text("共 1 筆")
    rejection = page.locator(f"[data-rejection='{refused.pk}']")
    expect(rejection).to_contain_text("感測器（HTTP）")
    expect(rejection).to_contain_text("不可能的數值 120")
    expect(rejection).to_contain_text('"humidity_pct": 120')
    shot_down_to(page, "29-sensor", page.locator("#sensor-key .d-flex"))

    # The alerts list: the one excursion, over.
    page.goto(f"{live_server.url}/facilities/alerts/")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)
    for text in (
        roc_minute(alert.opened_at),
        ROOM_NAME,
        "溫濕度超出範圍",
        "srv-room-1",
        roc_minute(alert.closed_at),
        "30 分",
        "溫度 25.4～27.6°C",
    ):
        expect(rows.first).to_contain_text(text)

    # The room's chart of the day: temperature and humidity, and the excursion.
    page.goto(f"{live_server.url}/facilities/rooms/{room.pk}/environment/?range=day")
    expect(page.locator("figure[data-chart] svg")).to_have_count(2)
    expect(page.locator("figure[data-chart=temperature] figcaption")).to_have_text("溫度（°C）")
    expect(page.locator("figure[data-chart=humidity] figcaption")).to_have_text("相對濕度（%RH）")
    expect(page.locator("[data-thresholds]")).to_contain_text("溫度 20.0–25.0 °C")
    expect(page.locator("[data-latest]")).to_contain_text("22.8 °C")
    expect(page.locator("[data-latest] .badge")).to_have_count(0)
    excursion = page.locator(f"#alerts tr[data-alert='{alert.pk}']")
    for text in (roc_minute(alert.opened_at), "溫濕度超出範圍", "30 分", "溫度 25.4–27.6 °C"):
        expect(excursion).to_contain_text(text)
    expect(excursion).to_contain_text(f"恢復於 {roc_minute(alert.closed_at)}")
    shot(page, "28-room-chart")


def test_access_log_guard_confirms_key_and_print(live_server, page):
    admin = person_with_login("sysadmin", SYSADMIN, "陳志明")
    head = person_with_login("equipment", EQUIPMENT_HEAD, "李美玲")
    guard = person_with_login("guard", GUARD, "王大同")
    room = room_rules.save_room(
        Room(name=ROOM_NAME, kind=Room.Kind.SERVER_ROOM, location="行政大樓 3 樓", keeper=head),
        actor=admin,
    )
    server = Asset.objects.create(
        kind=Asset.Kind.SERVER,
        property_number="3140101-03-000123",
        name="學務系統資料庫伺服器",
        location=ROOM_NAME,
        state=Asset.State.IN_USE,
        stores_personal_data=True,
    )
    # The vendor came in an hour and a half ago and left 75 minutes later.
    entered = timezone.localtime().replace(second=0, microsecond=0) - dt.timedelta(minutes=90)
    exited = entered + dt.timedelta(minutes=75)
    day = entered.date()

    # A vendor's repair of a server holding personal data, without escort nor 在場專人.
    sign_in(page, live_server, "equipment")
    page.goto(f"{live_server.url}/facilities/visits/add/")
    expect(page.locator("#id_room")).to_have_value(str(room.pk))  # the one server room
    expect(page.locator("#id_escort")).to_have_value(str(head.pk))  # the one recording
    page.fill("#id_entered_at", roc_minute(entered))
    page.get_by_label("維修", exact=True).check()
    page.fill("#id_purpose_detail", "學務系統資料庫伺服器硬碟故障，更換硬碟並重建 RAID")
    page.get_by_label("有", exact=True).check()
    page.fill("#id_equipment_detail", "攜入 2TB 硬碟 1 顆")
    page.get_by_label("廠商", exact=True).check()
    expect(page.locator("[data-section=company]")).to_be_visible()
    expect(page.locator("[data-section=unit_other]")).to_be_hidden()
    page.fill("#id_company", "正德電腦有限公司")
    page.fill("#id_visitor_name", "張志豪")
    page.select_option("#id_escort", value="")
    page.select_option("#id_assets", value=str(server.pk))
    page.get_by_role("button", name="儲存").click()
    expect(page.locator("#id_present_person ~ .invalid-feedback")).to_have_text(
        "外部廠商更新或維修儲存個人資料檔案之電腦設備時，須指派專人在場確保資料安全，"
        "請選擇在場專人（條文 7.9）。"
    )
    expect(page.locator("#id_escort ~ .invalid-feedback")).to_have_text(
        "廠商人員進入機房須由本校人員陪同，請選擇陪同人員（條文 3.1.3 門禁管制）。"
    )
    assert not Visit.objects.exists()
    expect(page.locator("#id_company")).to_have_value("正德電腦有限公司")
    page.select_option("#id_escort", value=str(head.pk))
    page.select_option("#id_present_person", value=str(admin.pk))
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/facilities/visits/\d+/$"))
    visit = Visit.objects.get()
    assert (visit.room, visit.entered_at, visit.exited_at) == (room, entered, None)
    assert (visit.purpose, visit.unit) == (Visit.Purpose.REPAIR, Visit.Unit.VENDOR)
    assert (visit.company, visit.visitor_name) == ("正德電腦有限公司", "張志豪")
    assert visit.carries_equipment and visit.equipment_detail == "攜入 2TB 硬碟 1 顆"
    assert (visit.escort, visit.present_person, visit.recorded_by) == (head, admin, head)
    assert visit.personal_data  # ticked by the server chosen (7.9)
    assert list(visit.assets.all()) == [server]
    visit_url = f"{live_server.url}{visit.get_absolute_url()}"
    expect(page.locator("[data-field=personal_data]")).to_have_text("是")
    expect(page.locator("[data-field=present_person]")).to_have_text("陳志明")
    expect(page.locator("[data-field=assets]")).to_contain_text("存有個人資料")

    # The exit, mistyped before the entry: refused; then as it was.
    page.fill("#exit #id_exited_at", roc_minute(entered - dt.timedelta(minutes=30)))
    page.get_by_role("button", name="登錄離去時間").click()
    expect(page.locator("#exit .invalid-feedback")).to_have_text("離去時間不可早於進入時間。")
    visit.refresh_from_db()
    assert visit.exited_at is None
    page.fill("#exit #id_exited_at", roc_minute(exited))
    page.get_by_role("button", name="登錄離去時間").click()
    page.wait_for_url(visit_url)
    expect(page.locator("[data-field=exited_at]")).to_have_text(roc_minute(exited))
    visit.refresh_from_db()
    assert visit.exited_at == exited and visit.key_returned_at is None

    # The guard: the visit on the guard's page, the key confirmed with one button.
    sign_in(page, live_server, "guard")
    page.goto(f"{live_server.url}/facilities/visits/guard/")
    line = page.locator(f"[data-visit='{visit.pk}']")
    expect(line).to_contain_text(ROOM_NAME)
    expect(line).to_contain_text("張志豪 · 正德電腦有限公司 · 陪同：李美玲")
    expect(line).to_contain_text(f"進入：{roc_minute(entered)}")
    expect(line).to_contain_text(f"離去：{roc_minute(exited)}")
    button = line.get_by_role("button", name="確認鑰匙已繳回")
    expect(button).to_be_visible()
    shot(page, "30-guard")
    asked = []

    def accept(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    button.click()
    expect(page.locator(".alert-success")).to_contain_text(f"的鑰匙繳回（{ROOM_NAME}）。")
    assert asked == ["確認此紀錄的機房鑰匙已繳回守衛室？"]
    visit.refresh_from_db()
    assert visit.key_confirmed_by == guard and visit.key_returned_at is not None
    assert visit.exited_at == exited  # recorded before: kept
    if day == timezone.localdate():  # today's visits stay on the page, confirmed
        confirmed = page.locator(f"[data-visit='{visit.pk}'] [data-confirmed]")
        expect(confirmed).to_have_text(
            f"✓ 鑰匙已繳回（王大同，{roc_minute(visit.key_returned_at)}）"
        )
    else:  # run just after midnight: an earlier day's visit leaves once its key is back
        expect(page.locator(f"[data-visit='{visit.pk}']")).to_have_count(0)

    # The visit: closed, and who confirmed.
    page.goto(visit_url)
    expect(page.locator("[data-visit-state]")).to_have_attribute("data-visit-state", "closed")
    expect(page.locator("[data-visit-state] .badge").first).to_have_text("已結束")
    expect(page.locator("[data-field=key]")).to_have_text(
        f"王大同 · {roc_minute(visit.key_returned_at)}"
    )
    expect(page.locator("#key")).to_have_count(0)

    # The month's paper sheet.
    page.get_by_role("link", name="列印當月登記表").click()
    page.wait_for_url(re.compile(r"/facilities/visits/print/\?"))
    paper = page.locator(".paper")
    expect(paper).to_have_count(1)
    expect(paper.locator("h1")).to_contain_text("人員進出資訊機房登記表")
    expect(paper.locator("[data-room]")).to_have_text(f"機房：{ROOM_NAME}")
    expect(paper.locator("[data-month]")).to_have_text(
        f"民國 {roc.roc_year(day)} 年 {day.month} 月"
    )
    sheet = paper.locator(f"tbody[data-visit='{visit.pk}']")
    expect(sheet.locator("[data-field=date]")).to_have_text(
        f"{roc.roc_year(day)} 年 {day.month} 月 {day.day} 日"
    )
    expect(sheet.locator("[data-field=time]")).to_contain_text(
        f"進入： {entered.hour} 時 {entered:%M} 分"
    )
    expect(sheet.locator("[data-field=time]")).to_contain_text(
        f"離去： {exited.hour} 時 {exited:%M} 分"
    )
    expect(sheet.locator("[data-field=unit] .box")).to_have_text(
        ["☑廠商", "☐總務處", "☐設備組", "☐其他"]
    )
    expect(sheet.locator("[data-field=unit]")).to_contain_text("正德電腦有限公司")
    expect(sheet.locator("[data-field=equipment]")).to_contain_text("☑有")
    expect(sheet.locator("[data-field=repair]")).to_contain_text("☑維修")
    expect(sheet.locator("[data-field=visitor]")).to_have_text("姓名：張志豪")
    expect(sheet.locator("[data-sign=escort]")).to_contain_text("李美玲")
    expect(sheet.locator("[data-sign=present]")).to_have_text("在場專人（7.9）：陳志明")
    returned = timezone.localtime(visit.key_returned_at)
    expect(sheet.locator("[data-sign=guard]")).to_contain_text("王大同")
    expect(sheet.locator("[data-sign=guard]")).to_contain_text(
        f"{returned.hour} 時 {returned:%M} 分"
    )
    expect(paper.locator("tbody[data-empty]")).to_have_count(4)
    assert page.locator("nav.navbar").count() == 0
    shot(page, "31-access-log-print")
