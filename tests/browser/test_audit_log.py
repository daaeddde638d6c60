"""An auditor in Chromium, at 1366 and at 390 pixels: chooses which events to see,
pages through them, exports them, and checks a published checkpoint, with no
sideways scroll and nothing that axe calls serious."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from models import AuditAction, Role, db
from tests.browser.test_accessibility import assert_accessible, sign_in
from workflows.audit import Actor, record

pytestmark = [pytest.mark.browser]


@pytest.mark.parametrize("width", [1366, 390])
def test_an_auditor_chooses_events_and_exports_them(browser, live_server, staff_user, width, tmp_path):
    auditor = staff_user(Role.AUDITOR)
    start = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)  # after the sign-ins: times never run backwards
    for n in range(60):
        record(AuditAction.CASE_VIEWED, Actor("alice@provider.example", 41), subject=("case", 7),
               now=start + timedelta(minutes=n))
        record(AuditAction.SIGN_OUT, Actor("bob@provider.example", 42),
               now=start + timedelta(minutes=n, seconds=1))
    db.session.commit()
    db.session.remove()
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 900},
                                  accept_downloads=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, auditor.email, auditor.totp_secret)
    page.goto("/audit/")
    expect(page.get_by_role("status")).to_contain_text("Chain intact.")

    page.get_by_label("Who").fill("alice@provider.example")
    page.get_by_label("What").select_option("case.viewed")
    page.get_by_role("button", name="Show events").click()
    rows = page.locator("table.events tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("alice@provider.example")
    expect(page.locator("table.events")).not_to_contain_text("bob@provider.example")
    assert page.evaluate("document.documentElement.scrollWidth") == width
    assert_accessible(page, f"audit log, filtered, {width}px")

    page.get_by_role("link", name="Older events").click()
    expect(rows).to_have_count(10)
    expect(page.get_by_label("Who")).to_have_value("alice@provider.example")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export these events").click()
    saved = tmp_path / f"export-{width}.jsonl"
    download.value.save_as(saved)
    lines = saved.read_text().splitlines()
    assert json.loads(lines[0])["selection"] == {"actor": "alice@provider.example", "action": "case.viewed"}
    assert len(lines) == 61

    page.get_by_label("From").fill("2027-01-02")
    page.get_by_label("To").fill("2027-01-01")
    page.get_by_role("button", name="Show events").click()
    expect(page.get_by_role("alert")).to_contain_text("comes before its start")
    expect(page.get_by_label("To")).to_have_attribute("aria-invalid", "true")
    context.close()
