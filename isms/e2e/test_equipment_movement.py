"""A-7 in a real browser: a teacher asks to take a notebook out (a due day before the day
out is refused), the equipment head authorises and hands it over, receives it back with
its condition (not without it), and the 設備進出紀錄表 shows the row with who signed."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from isms.assets import movements
from isms.assets.models import Asset, EquipmentMovement
from isms.core import roc
from isms.core.roles import EQUIPMENT_HEAD, STAFF, SUPERVISOR

from .test_account_request import person_with_login, sign_in
from .test_first_sign_in import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_request_authorise_check_out_return_and_print(live_server, page):
    teacher = person_with_login("teacher", STAFF, "劉雅婷")
    head = person_with_login("equipment", EQUIPMENT_HEAD, "李美玲")
    boss = person_with_login("boss", SUPERVISOR, "黃建華")
    colleague = person_with_login("colleague", STAFF, "陳志明")
    notebook = Asset.objects.create(
        kind="notebook",
        property_number="31401-015",
        name="筆記型電腦 Acer TravelMate",
        state="in_use",
    )
    tablet = Asset.objects.create(
        kind="tablet", property_number="31402-003", name="平板電腦 iPad 第 9 代", state="in_use"
    )
    today = timezone.localdate()
    # Another line of this month's log: a colleague's tablet, authorised by the supervisor.
    earlier = movements.file_movement(
        actor=colleague,
        asset=tablet,
        reason="資訊科技課程示範",
        destination="本校圖書館會議室",
        out_on=today,
        due_on=today + dt.timedelta(days=1),
    )
    movements.authorise(earlier, actor=boss, note="")
    movements.check_out(earlier, actor=head)

    sign_in(page, live_server, "teacher")
    page.goto(f"{live_server.url}/assets/movements/add/")
    page.select_option("select[name=asset]", str(notebook.pk))
    page.fill("input[name=reason]", "帶學生參加全國科展，現場簡報")
    page.fill("input[name=destination]", "國立臺灣科學教育館")
    page.fill("input[name=out_on]", roc.format_roc(today + dt.timedelta(days=2)))
    page.fill("input[name=due_on]", roc.format_roc(today + dt.timedelta(days=1)))
    page.get_by_role("button", name="送出申請").click()
    # A due day before the day out: refused on its field, nothing saved.
    expect(page.locator("main form .invalid-feedback")).to_contain_text(
        "預定歸還日期不可早於攜出日期"
    )
    assert not EquipmentMovement.objects.filter(asset=notebook).exists()
    page.fill("input[name=out_on]", roc.format_roc(today))
    page.fill("input[name=due_on]", roc.format_roc(today + dt.timedelta(days=3)))
    page.get_by_role("button", name="送出申請").click()
    page.wait_for_url("**/assets/movements/*/")
    movement = EquipmentMovement.objects.get(asset=notebook)
    assert movement.borrower == teacher.person and movement.status == "requested"
    expect(page.locator("[data-status]")).to_have_text("待核准")
    expect(page.locator("[data-step]")).to_have_count(0)  # the teacher takes no step

    sign_in(page, live_server, "equipment")
    page.goto(f"{live_server.url}{movement.get_absolute_url()}")
    page.fill("[data-step=authorise] textarea[name=note]", "請於歸還時一併交回電源線")
    page.get_by_role("button", name="核准攜出").click()
    page.wait_for_url(f"**{movement.get_absolute_url()}")
    expect(page.locator("[data-status]")).to_have_text("已核准")
    page.get_by_role("button", name="點交", exact=True).click()
    page.wait_for_url(f"**{movement.get_absolute_url()}")
    expect(page.locator("[data-status]")).to_have_text("已攜出")
    # Received back without saying in what condition: refused, still out.
    page.get_by_role("button", name="點收歸還").click()
    expect(page.locator("[data-step=return] .invalid-feedback")).to_contain_text("請填寫歸還狀況")
    movement.refresh_from_db()
    assert movement.status == "out"
    page.fill("input[name=return_condition]", "良好，電源線已交回")
    page.get_by_role("button", name="點收歸還").click()
    page.wait_for_url(f"**{movement.get_absolute_url()}")
    expect(page.locator("[data-status]")).to_have_text("已歸還")
    movement.refresh_from_db()
    assert movement.received_by == head and movement.return_condition == "良好，電源線已交回"
    assert movement.checked_out_by == head and movement.authorised_by == head

    page.get_by_role("link", name="列印設備進出紀錄表").click()
    row = page.locator(f"tr[data-number='{movement.number}']")
    expect(row).to_contain_text("31401-015")
    expect(row).to_contain_text("劉雅婷")
    expect(row.locator("[data-sign=authorised]")).to_contain_text("李美玲")
    expect(row.locator("[data-sign=checked_out]")).to_contain_text("李美玲")
    expect(row.locator("[data-sign=received]")).to_contain_text("李美玲")
    expect(row).to_contain_text("良好，電源線已交回")

    # The log of the month: both movements, in the order they went out.
    page.goto(f"{live_server.url}/assets/movements/")
    page.get_by_role("link", name="列印設備進出紀錄表（A-7）").click()
    expect(page.locator("tr.row-movement")).to_have_count(2)
    expect(
        page.locator(f"tr[data-number='{earlier.number}'] [data-sign=authorised]")
    ).to_contain_text("黃建華")
    expect(page.locator(f"tr[data-number='{movement.number}']")).to_contain_text(
        "國立臺灣科學教育館"
    )
    page.set_viewport_size({"width": 1400, "height": 900})
    shot(page, "21-a7-print")
