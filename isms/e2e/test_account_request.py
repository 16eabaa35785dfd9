"""A-3 in a real browser: a teacher asks for an e-mail account (a system closed to requests
is marked and refused), the equipment head executes it only once the authorisation is
ticked, the teacher confirms the password change, the supervisor reviews, the print-out."""

import pytest
from playwright.sync_api import expect

from isms.core import services as core_services
from isms.core.roles import EQUIPMENT_HEAD, STAFF, SUPERVISOR
from isms.identity.models import Account, AccountRequest, InformationSystem

from .test_first_sign_in import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "Ee6ysnMEc"


def person_with_login(username, role, name):
    from isms.core.models import Person

    person = Person.objects.create(name=name)
    user, _default = core_services.user_create(
        actor=None, username=username, roles=[role], password="Tmp-12ab-xyz", person=person
    )
    core_services.password_change(user, new_password=PASSWORD)
    return user


def sign_in(page, live_server, username):
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_request_execute_confirm_review_and_print(live_server, page):
    person_with_login("teacher", STAFF, "劉雅婷")
    person_with_login("equipment", EQUIPMENT_HEAD, "李美玲")
    person_with_login("boss", SUPERVISOR, "黃建華")
    mail = InformationSystem.objects.create(name="公務電子郵件")
    closed = InformationSystem.objects.create(name="校務行政系統", requests_open=False)

    sign_in(page, live_server, "teacher")
    page.goto(f"{live_server.url}/identity/requests/add/")
    expect(page.locator("select[name=lines-0-system]")).to_contain_text(
        "校務行政系統（不開放申請，僅可申請刪除、停用）"
    )
    # A system closed to requests: refused on its line, nothing saved.
    page.select_option("select[name=lines-0-system]", str(closed.pk))
    page.fill("input[name=lines-0-account_name]", "liu.yating")
    page.select_option("select[name=lines-0-action]", "add")
    page.get_by_role("button", name="送出申請").click()
    expect(page.locator("#lines-body .invalid-feedback")).to_contain_text("不開放帳號申請")
    assert AccountRequest.objects.count() == 0
    page.select_option("select[name=lines-0-system]", str(mail.pk))
    page.fill("textarea[name=remarks]", "擔任導師，需收發學校公務信件")
    page.get_by_role("button", name="送出申請").click()
    page.wait_for_url("**/identity/requests/*/")
    request = AccountRequest.objects.get()
    assert request.number in page.content()
    assert request.remarks == "擔任導師，需收發學校公務信件"

    sign_in(page, live_server, "equipment")
    page.goto(f"{live_server.url}{request.get_absolute_url()}")
    page.get_by_role("link", name="執行", exact=True).click()
    page.fill("textarea[name=execution_note], input[name=execution_note]", "已於郵件系統建立")
    page.locator("main form button[type=submit]").first.click()
    # Not without the authorisation tick (2.7): refused on the field, nothing changed.
    expect(page.locator("main form .invalid-feedback")).to_contain_text(
        "須確認申請人已經系統管理單位授權"
    )
    assert not Account.objects.filter(username="liu.yating").exists()
    page.get_by_label("已確認經系統管理單位授權").check()
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(f"**{request.get_absolute_url()}")
    account = Account.objects.get(username="liu.yating")
    assert request.lines.get().authorisation_checked
    assert account.default_password_expires_at is not None

    sign_in(page, live_server, "teacher")
    page.goto(f"{live_server.url}{request.get_absolute_url()}")
    page.get_by_role("button", name="我已變更通行碼").click()
    page.wait_for_url(f"**{request.get_absolute_url()}")
    account.refresh_from_db()
    assert account.password_changed_at is not None

    sign_in(page, live_server, "boss")
    page.goto(f"{live_server.url}{request.get_absolute_url()}")
    page.get_by_role("link", name="主管覆核").click()
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(f"**{request.get_absolute_url()}")
    request.refresh_from_db()
    assert request.status == "reviewed"
    page.goto(f"{live_server.url}/identity/requests/{request.pk}/print/")
    content = page.content()
    assert "黃建華" in content and "李美玲" in content and "liu.yating" in content
    assert "擔任導師，需收發學校公務信件" in content and "已確認經系統管理單位授權" in content
    expect(page.locator("[data-sign=equipment_head]")).to_contain_text("設備組長：李美玲")
    expect(page.locator("[data-sign=supervisor]")).to_contain_text("主管覆核：黃建華")
    expect(page.locator("tr.line.blank")).to_have_count(4)
    assert "單位主管" not in content and "資訊業務主管" not in content
    shot(page, "13-account-request-print")
