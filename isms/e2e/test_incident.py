"""A teacher reports → the officer classifies level 3 → the principal's escalation e-mail →
closing refused until the call is recorded → closed, in a real browser with real e-mail."""

import pytest

from isms.core import services as core_services
from isms.core.roles import PRINCIPAL, SECURITY_OFFICER, STAFF, SUPERVISOR
from isms.incidents.models import Incident
from isms.notifications import delivery
from isms.notifications.tests.conftest import MailServer, free_port, point_mail_at

from .test_first_sign_in import SHOTS, shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "Ee6ysnMEc"


def person(username, role, email):
    user, _default = core_services.user_create(
        actor=None, username=username, roles=[role], password="Tmp-12ab-xyz", email=email
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


@pytest.fixture
def mail(settings):
    server = MailServer(free_port())
    server.start()
    point_mail_at(settings, server.port)
    yield server
    server.stop()


def test_report_classify_escalate_and_close(live_server, page, mail):
    person("teacher", STAFF, "teacher@school.example.edu.tw")
    person("officer", SECURITY_OFFICER, "officer@school.example.edu.tw")
    person("boss", SUPERVISOR, "boss@school.example.edu.tw")
    person("principal", PRINCIPAL, "principal@school.example.edu.tw")

    # A teacher, on a phone-sized screen, reports what they saw.
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "teacher")
    page.goto(f"{live_server.url}/incidents/report/")
    page.fill("#id_description", "電腦教室 3 號機出現勒索畫面，檔案副檔名都被改了")
    page.fill("#id_location", "電腦教室二")
    page.fill("#id_contact", "分機 321")
    shot(page, "09-incident-report")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/incidents/mine/")
    incident = Incident.objects.get()
    assert incident.number in page.content() and "待研判" in page.content()
    delivery.deliver_due("e2e")
    assert any("officer@" in r for m in mail.messages for r in m.recipients)

    # The officer classifies it: integrity impact 3 → level 3, escalated.
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server, "officer")
    page.goto(f"{live_server.url}{incident.get_absolute_url()}")
    page.get_by_role("link", name="研判等級", exact=True).click()
    page.select_option("#id_category", "malware")
    page.check("input[name=confidentiality_impact][value='1']")
    page.check("input[name=integrity_impact][value='3']")
    page.check("input[name=availability_impact][value='2']")
    assert page.locator("[data-level]").inner_text() == "3"
    page.click("#incident-form button[type=submit]")
    page.wait_for_url(f"**{incident.get_absolute_url()}")
    assert "3 級" in page.content()
    shot(page, "10-incident-level-3")

    delivery.deliver_due("e2e")
    to_principal = [m for m in mail.messages if "principal@school.example.edu.tw" in m.recipients]
    assert to_principal, [m.recipients for m in mail.messages]
    assert "資安事件 3 級" in to_principal[0].subject and incident.number in to_principal[0].subject
    assert "2.10.4" in to_principal[0].body

    # The platform report, then closing: refused while the call to 教育局 is not recorded.
    page.get_by_role("link", name="記錄平台通報").click()
    page.fill("#id_platform_ticket", "TACERT-2026-0001")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**{incident.get_absolute_url()}")
    page.get_by_role("link", name="結案", exact=True).click()
    page.fill("#id_containment", "拔除網路線隔離 3 號機")
    page.fill("#id_recovery", "重灌並由備份還原")
    page.fill("#id_root_cause", "學生下載不明執行檔")
    page.fill("#id_prevention", "電腦教室啟用還原卡並限制安裝")
    page.click("main form button[type=submit]")
    assert "以電話聯絡教育局(處)資訊安全管理單位" in page.locator(".alert-danger").inner_text()
    shot(page, "11-incident-close-refused")
    incident.refresh_from_db()
    assert incident.status == "open"

    page.goto(f"{live_server.url}{incident.get_absolute_url()}")
    for _ in range(2):
        page.locator(".alert-danger").get_by_role("link", name="記錄完成").first.click()
        page.fill("#id_note", "已完成")
        page.click("main form button[type=submit]")
        page.wait_for_url(f"**{incident.get_absolute_url()}")
    page.get_by_role("link", name="結案", exact=True).click()
    for field in ("containment", "recovery", "root_cause", "prevention"):
        page.fill(f"#id_{field}", "已處理")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**{incident.get_absolute_url()}")
    assert "已結案" in page.content()
    incident.refresh_from_db()
    assert incident.status == "closed"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "12-incident-closed.png"), full_page=True)
