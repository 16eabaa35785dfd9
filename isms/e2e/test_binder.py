"""The evidence binder in a real browser: request, watch the progress, download the ZIP."""

import zipfile

import pytest
from django.utils import timezone

from isms.audit.models import AuditEntry
from isms.compliance import binder as binder_service
from isms.compliance.models import Binder
from isms.core import roc, services
from isms.core.roles import SECURITY_OFFICER

from .test_first_sign_in import SHOTS, shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_officer_builds_and_downloads_an_evidence_binder(live_server, page, tmp_path):
    officer, _default = services.user_create(
        actor=None, username="officer", roles=[SECURITY_OFFICER], password="Tmp-12ab-xyz"
    )
    services.password_change(officer, new_password="Ee6ysnMEc")
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "officer")
    page.fill("#id_password", "Ee6ysnMEc")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.get_by_role("button", name="法遵").click()
    page.locator("#mainnav").get_by_role("link", name="稽核佐證資料").click()
    page.wait_for_url("**/compliance/binders/")
    page.fill("#id_date_from", "115/13/01")
    page.click("main form button[type=submit]")
    assert "日期不存在" in page.locator(".invalid-feedback").first.inner_text()
    assert Binder.objects.count() == 0

    today = roc.format_roc(timezone.localdate())
    page.fill("#id_date_from", "115/01/01")
    page.fill("#id_date_to", today)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/compliance/binders/*/")
    assert "排隊中" in page.content()

    # What `isms worker` does in its pass; the page, polling, shows the result.
    binder_service.run_pending("e2e")
    page.wait_for_selector("text=下載 ZIP")
    shot(page, "07-binder")
    with page.expect_download() as info:
        page.click("text=下載 ZIP")
    download = info.value
    assert download.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(download.path()) as zf:
        (index,) = [name for name in zf.namelist() if name.endswith("/index.html")]
        zf.extractall(tmp_path)
    # The index opens from the unpacked folder, as the auditor will read it.
    page.goto((tmp_path / index).as_uri())
    assert "資訊安全稽核佐證資料" in page.content()
    page.get_by_role("link", name="2.9.3 通行碼設定與使用規則").first.click()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "08-binder-index.png"))  # the section, not the whole
    assert AuditEntry.objects.filter(
        model_label="compliance.binder", action="export", actor=officer
    ).exists()
