"""A-1 in a real browser: the 設備組長 fills in the 啟用 record of a new server (refused
without the checks of 2.2.3), the supervisor reviews it, the server is in use, the print-out."""

import pytest
from playwright.sync_api import expect

from isms.assets.models import Asset, CommissioningRecord
from isms.audit.models import AuditEntry
from isms.core.roles import EQUIPMENT_HEAD, SUPERVISOR

from .test_account_request import person_with_login, sign_in
from .test_first_sign_in import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_commission_a_server_review_it_and_print_a1(live_server, page):
    person_with_login("equipment", EQUIPMENT_HEAD, "李美玲")
    boss = person_with_login("boss", SUPERVISOR, "黃建華")
    server = Asset.objects.create(
        kind=Asset.Kind.SERVER,
        property_number="3140101-03-0007",
        name="校務行政伺服器",
        brand="Dell",
        model="PowerEdge R740",
        purpose="校務行政系統主機",
        location="資訊機房 A 櫃",
    )

    sign_in(page, live_server, "equipment")
    page.goto(f"{live_server.url}/assets/commissioning/add/?asset={server.pk}&kind=commission")
    expect(page.locator("#id_model_text")).to_have_value("Dell PowerEdge R740")
    expect(page.locator("#id_use")).to_have_value("校務行政系統主機")
    expect(page.locator("[data-section=exit]")).to_be_hidden()  # 啟用 chosen: its checks only
    # Without the checks of 2.2.3: refused on each field, nothing saved.
    page.get_by_role("button", name="送出，待主管覆核").click()
    expect(page.locator(".invalid-feedback").first).to_contain_text("條文 2.2.3")
    expect(page.locator(".invalid-feedback")).to_have_count(3)
    assert CommissioningRecord.objects.count() == 0
    page.get_by_label("掃毒").check()
    page.get_by_label("變更預設通行碼").check()
    page.get_by_label("系統更新").check()
    page.fill("#id_other", "確認 ESET Server Security 適用本作業系統，已關閉不必要的服務")
    page.get_by_role("button", name="送出，待主管覆核").click()
    page.wait_for_url("**/assets/commissioning/*/")
    record = CommissioningRecord.objects.get()
    assert record.executor.username == "equipment" and not record.reviewed
    expect(page.locator("[data-review-state]")).to_contain_text("待主管覆核")
    server.refresh_from_db()
    assert server.state == Asset.State.NEW

    sign_in(page, live_server, "boss")
    page.goto(f"{live_server.url}{record.get_absolute_url()}")
    expect(page.locator("[data-review-effect]")).to_contain_text("由「待啟用」改為「使用中」")
    page.fill("#id_note", "檢查項目齊全")
    page.get_by_role("button", name="覆核，確認檢查項目已執行").click()
    page.wait_for_url(f"**{record.get_absolute_url()}")
    expect(page.locator("[data-asset-state]")).to_have_text("使用中")
    record.refresh_from_db()
    server.refresh_from_db()
    assert record.reviewed_by == boss and record.review_note == "檢查項目齊全"
    assert server.state == Asset.State.IN_USE
    change = AuditEntry.objects.filter(
        model_label="assets.asset", object_id=str(server.pk), action="update"
    ).get()
    assert change.actor_id == boss.pk and change.changes["state"] == ["new", "in_use"]

    page.get_by_role("link", name="列印 A-1").click()
    page.wait_for_url("**/print/")
    paper = page.locator(".paper")
    expect(paper.locator(".doc-no")).to_have_text("文件編號：A-1")
    expect(paper.locator("h1")).to_contain_text("啟用與報廢紀錄單")
    expect(paper.locator("[data-kind=commission]")).to_have_text("☑ 啟用")
    expect(paper.locator("[data-kind=decommission]")).to_have_text("☐ 報廢")
    expect(paper.locator("[data-field=executor]")).to_have_text("李美玲")
    expect(paper.locator("[data-field=model]")).to_have_text("Dell PowerEdge R740")
    commission = paper.locator("[data-row=commission]")
    for text in ("☑ 掃毒", "☑ 變更預設通行碼", "☑ 系統更新", "☑ 其它：確認 ESET", "執行人：李美玲"):
        expect(commission).to_contain_text(text)
    expect(paper.locator("[data-row=decommission]")).to_contain_text(
        "☐ 刪除硬碟資料(資料無法再還原)"
    )
    expect(paper.locator("[data-sign=supervisor]")).to_contain_text("執行人主管覆核：黃建華")
    assert page.locator("nav.navbar").count() == 0
    shot(page, "20-a1-print")
