"""First sign-in → forced password change → add a person, in a real browser."""

import os
from pathlib import Path

import pytest

from isms.audit.models import AuditEntry
from isms.core import services
from isms.core.models import Person, Unit
from isms.core.roles import SECURITY_OFFICER

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(
    os.environ.get("ISMS_SCREENSHOTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_first_sign_in_forces_a_password_change_then_adds_a_person(live_server, page):
    Unit.objects.create(name="教務處", code="academic")
    officer, default = services.user_create(
        actor=None, username="officer", roles=[SECURITY_OFFICER], password="Tmp-12ab-xyz"
    )
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("#id_username", "officer")
    page.fill("#id_password", default)
    shot(page, "01-sign-in")
    page.click("button[type=submit]")

    page.wait_for_url("**/password/")
    assert "預設通行碼" in page.content()
    page.fill("#id_old_password", default)
    page.fill("#id_new_password1", "abcdefgh")
    page.fill("#id_new_password2", "abcdefgh")
    page.click("main form button[type=submit]")
    error = page.locator(".invalid-feedback").first.inner_text()
    assert "通行碼" in error
    shot(page, "02-password-refused")
    page.fill("#id_old_password", default)
    page.fill("#id_new_password1", "Ee6ysnMEc")
    page.fill("#id_new_password2", "Ee6ysnMEc")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert "通行碼已變更" in page.content()

    page.goto(f"{live_server.url}/core/person/add/")
    page.fill("#id_name", "陳大文")
    page.select_option("#id_unit", label="教務處")
    page.fill("#id_title", "英文科教師")
    page.fill("#id_onboard_date", "115/08/01")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/core/person/*/")
    assert "陳大文" in page.content() and "115/08/01" in page.content()
    shot(page, "03-person-added")

    person = Person.objects.get(name="陳大文")
    entry = AuditEntry.objects.filter(model_label="core.person", object_id=str(person.pk)).get()
    assert entry.actor_id == officer.pk and entry.action == "create"

    page.goto(f"{live_server.url}/audit/entries/")
    assert "陳大文" in page.content()
    shot(page, "04-audit-trail")


def test_the_menu_collapses_on_a_phone(live_server, browser):
    user, _default = services.user_create(
        actor=None, username="teacher", roles=["staff"], password="Tmp-12ab-xyz"
    )
    services.password_change(user, new_password="Ee6ysnMEc")
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-TW")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "teacher")
    page.fill("#id_password", "Ee6ysnMEc")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    toggler = page.locator(".navbar-toggler")
    assert toggler.is_visible()
    toggler.click()
    page.wait_for_selector("#mainnav.show")
    shot(page, "05-phone-menu")
    context.close()
