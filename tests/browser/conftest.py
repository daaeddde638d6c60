"""Browser fixtures: the app served on a real port, driven by Debian's Chromium.

One Chromium for the whole session; each test gets its own database, server and
browser context (so no cookies leak between tests).

SQLite here takes its write lock when a transaction begins, and the server runs in
other threads of this process: seed through the factories (they commit), then let
the session go before the browser acts. `staff_user` does both.
"""

import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from models import Role, db
from tests.conftest import make_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 10_000


def browser_unavailable(reason: str) -> None:
    """Skip, unless this run promised a browser (REQUIRE_BROWSER=1): then fail."""
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and REQUIRE_BROWSER=1 requires the browser tests to run", pytrace=False)
    pytest.skip(f"{reason}: browser tests skipped (install Debian's chromium package to run them)")


@pytest.fixture(scope="session")
def browser():
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        browser_unavailable(f"{CHROMIUM} is not installed")
    # Never `playwright install`: it downloads browsers; the system Chromium is used instead.
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass(frozen=True)
class LiveServer:
    app: Flask
    url: str


@pytest.fixture
def live_server(sqlite_template, tmp_path):
    """The app on 127.0.0.1 and a free port, over a fresh copy of the migrated SQLite template."""
    path = tmp_path / "live.sqlite3"
    shutil.copy(sqlite_template, path)
    app = make_app(f"sqlite:///{path}", tmp_path / "instance")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll, so shutting the server down after the test takes milliseconds, not half a second.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              name="live-server", daemon=True)
    thread.start()
    yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(live_server):
    """The live server's app: tests/conftest.py's factories seed its database."""
    with live_server.app.app_context():
        yield live_server.app
        db.session.remove()


@dataclass(frozen=True)
class StaffUser:
    """Plain values of a seeded user: reading them opens no transaction."""

    id: int
    email: str
    name: str
    role: Role
    totp_secret: str


@pytest.fixture
def staff_user(make_user):
    def make(role=Role.REVIEWER, **kwargs) -> StaffUser:
        user = make_user(role, **kwargs)  # committed
        seeded = StaffUser(user.id, user.email, user.name, user.role, user.totp_secret)
        db.session.remove()  # no open transaction, so no write lock, while the browser works
        return seeded

    return make


@pytest.fixture
def page(browser, live_server, tmp_path):
    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failing browser test, keep a screenshot and say where it is."""
    report = yield
    funcargs = getattr(item, "funcargs", {})
    page = funcargs.get("page")
    if report.when == "call" and report.failed and page is not None and not page.is_closed():
        path = funcargs["tmp_path"] / "failure.png"
        try:
            page.screenshot(path=path, full_page=True)
            report.sections.append(("screenshot", f"{path} (page was {page.url})"))
        except Exception as exc:  # a screenshot must never hide the real failure
            report.sections.append(("screenshot", f"none: {exc}"))
    return report
