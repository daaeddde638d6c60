"""A reviewer on a 390-pixel phone: the masthead folds into a menu, the queue's rows
are cards that do not scroll sideways, and on a case the legal check, the actions
and the document come before the facts and the history. On a wide screen the
menu is open and has no button."""

import re

import pyotp
import pytest
from playwright.sync_api import expect

from models import Role, db
from tests.conftest import PASSWORD

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def top(page, selector: str) -> float:
    return page.locator(selector).bounding_box()["y"]


def test_a_reviewer_works_from_a_phone(phone, staff_user, make_case):
    page = phone
    case_id = make_case("legal_review").id
    for _ in range(3):
        make_case("received")
    db.session.remove()
    reviewer = staff_user(Role.REVIEWER)

    page.goto("/sign-in")
    page.get_by_label("E-mail").fill(reviewer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Continue").click()
    page.get_by_label("Six-digit code").fill(pyotp.TOTP(reviewer.totp_secret).now())
    page.locator("main").get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/home$"))

    menu = page.locator("header").get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Main")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(page.locator("header").get_by_role("button", name="Sign out")).to_be_visible()
    nav.get_by_role("link", name="Queue").click()

    expect(page.locator("table.queue thead")).to_be_hidden()
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(4)
    for i in range(4):
        box = rows.nth(i).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    expect(rows.first.locator(".cell-label", has_text="Due")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]

    page.goto(f"/cases/{case_id}")
    assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]
    legal, actions, document = top(page, "#legal-heading"), top(page, "#actions-heading"), \
        top(page, "#document-heading")
    facts, history = top(page, "#facts-heading"), top(page, "#timeline-heading")
    assert legal < actions < document < facts < history

    page.set_viewport_size({"width": 1366, "height": 900})
    expect(menu).to_be_hidden()
    expect(nav).to_be_visible()
