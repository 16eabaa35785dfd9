"""Browser tests: Playwright for Python driving Debian's /usr/bin/chromium, headless."""

import os
import shutil

import pytest

CHROMIUM = os.environ.get("ISMS_CHROMIUM", "/usr/bin/chromium")
# The flags this machine needs: no sandbox as root, and no background calls to a
# network that is not there.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are still ordinary synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        if os.environ.get("ISMS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM}; CI must install Debian's chromium")
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-TW", timezone_id="Asia/Taipei")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()
