"""A customer objects in Chromium, and the approver cannot approve until they have
acknowledged the objection: the customer signs in, reads the notice of intent to
disclose, files an objection; the approver sees it on the case page, is refused at
Approve, acknowledges it, approves.

Set PORTAL_SCREENSHOTS to a folder to keep screenshots of the portal's pages at a
desktop and a phone width (for looking at them, not for any assertion)."""

import os
import re
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from models import Case, Notice, NoticeKind, Objection, Role, State, db
from tests.conftest import PASSWORD
from views.cases import CONFIRM_WORDS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = (1280, 390)
STATEMENT = ("We object. The mailbox named is shared by our whole finance team, so its stored content "
             "reaches far beyond the person under investigation. Limit the demand to that person's messages.")


def screenshot(page: Page, name: str) -> None:
    folder = os.environ.get("PORTAL_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=Path(folder) / f"{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def enter_password(page: Page, email: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Continue").click()


def sign_out(page: Page) -> None:
    page.locator("header").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")


def expect_state(page: Page, label: str) -> None:
    expect(page.locator(".case-head .head-badges .state")).to_have_text(label)


def test_customer_objects_and_the_approver_must_acknowledge_before_approving(page, staff_user, make_case,
                                                                            make_customer, make_user):
    customer = make_customer(name="Contoso Finance", kind="enterprise")
    account = customer.accounts[0].identifier
    case = make_case("pending_approval", identifiers=[account], keep_window=True)
    case_id, reference = case.id, case.reference
    customer_email = make_user(Role.CUSTOMER, customer=customer).email
    db.session.remove()  # no open transaction while the browser works
    approver = staff_user(Role.APPROVER)  # not the proposer (make_case's reviewer proposed)

    # The customer signs in with a password alone, and lands on its notices.
    enter_password(page, customer_email)
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Contoso Finance")
    notices_table = page.get_by_role("list", name="Demands for your data")
    expect(notices_table.locator("li.demand")).to_have_count(1)
    expect(notices_table).to_contain_text("We intend to disclose: you may object until")
    expect(notices_table).to_contain_text(reference)
    screenshot(page, "portal-home")

    # It reads the notice of intent to disclose.
    notices_table.get_by_role("link", name="Intent to disclose").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Intent to disclose")
    expect(page.locator("dt:text-is('Reference') + dd")).to_have_text(reference)
    expect(page.locator("dt:text-is('We intend to disclose') + dd")).to_have_text("Stored content")
    expect(page.locator("dt:text-is('Your accounts named') + dd")).to_have_text(account)
    expect(page.get_by_role("link", name="Download the copy of the demand (PDF)")).to_be_visible()
    expect(page.locator(".lede")).to_contain_text("We will not disclose before")
    screenshot(page, "portal-notice")

    # It writes its objection and files it.
    page.get_by_label("What you object to, and why").fill(STATEMENT)
    page.get_by_role("button", name="File the objection").click()
    expect(page.get_by_role("status")).to_contain_text("Your objection has been filed.")
    objection_card = page.locator("section", has=page.get_by_role("heading", name="Your objection"))
    expect(objection_card.locator("blockquote")).to_have_text(STATEMENT)
    expect(objection_card).to_contain_text("A lawyer will read it before any decision to disclose.")
    expect(page.get_by_label("What you object to, and why")).to_have_count(0)  # filed once
    screenshot(page, "portal-objection-filed")
    page.get_by_role("link", name="Notices").first.click()
    expect(notices_table).to_contain_text("You objected")
    page.get_by_role("link", name="Sign-in security: add a second factor").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign-in security")
    screenshot(page, "portal-security")
    sign_out(page)

    # The approver signs in fresh (approving needs a sign-in within 10 minutes) and opens the case.
    enter_password(page, approver.email)
    expect(page).to_have_url(re.compile(r"/sign-in/code$"))
    page.get_by_label("Six-digit code").fill(pyotp.TOTP(approver.totp_secret).now())
    page.locator("main").get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/home$"))
    page.goto(f"/cases/{case_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(reference)
    notices_card = page.locator("section", has=page.locator("#notices-heading"))
    expect(notices_card.locator(".objection blockquote")).to_have_text(STATEMENT)

    # Approve is refused while the objection is unacknowledged.
    approve = page.locator("form#action-approve")
    approve.get_by_label(CONFIRM_WORDS["approve"]).check()
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        approve.get_by_role("button", name="Approve disclosure").click()
    assert posted.value.status == 422
    alert = page.locator(".case-head").get_by_role("alert")
    expect(alert).to_contain_text("Not done: Approve disclosure.")
    expect(alert).to_contain_text("acknowledge each objection before approving")
    expect(page.locator("form#action-approve").get_by_role("alert")).to_contain_text("The customer objected")
    expect_state(page, "Pending approval")

    # The approver acknowledges it, then approves.
    notices_card = page.locator("section", has=page.locator("#notices-heading"))
    notices_card.get_by_label("Your answer to the objection (optional)").fill(
        "Read. The warrant names this mailbox; the court has weighed its breadth.")
    notices_card.get_by_role("button", name="Acknowledge the objection").click()
    expect(page.get_by_role("status")).to_contain_text("Objection acknowledged.")
    expect(notices_card.locator(".objection")).to_contain_text("Acknowledged")
    expect(notices_card.get_by_role("button", name="Acknowledge the objection")).to_have_count(0)
    page.locator("form#action-approve").get_by_label(CONFIRM_WORDS["approve"]).check()
    page.locator("form#action-approve").get_by_role("button", name="Approve disclosure").click()
    expect(page.get_by_role("status")).to_have_text(
        f"{reference}: Approve disclosure. The case is now disclosed.")
    expect_state(page, "Disclosed")
    sign_out(page)

    # The customer is told, and sees that a lawyer read its objection.
    enter_password(page, customer_email)
    notices_table = page.get_by_role("list", name="Demands for your data")
    demand = notices_table.locator("li.demand")
    expect(demand).to_have_count(1)  # one demand, its two notices
    expect(demand.locator(".demand-status")).to_have_text("Disclosed")
    expect(demand.locator("ul li")).to_have_count(2)
    expect(demand.locator("ul li").first).to_contain_text("Data disclosed")  # newest first
    screenshot(page, "portal-home-after")
    notices_table.get_by_role("link", name="Data disclosed").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Data disclosed")
    expect(page.locator("dt:text-is('Disclosed') + dd")).to_contain_text("Stored content")
    screenshot(page, "portal-disclosed")
    page.go_back()
    notices_table.get_by_role("link", name="Intent to disclose").click()
    expect(page.locator("section", has=page.get_by_role("heading", name="Your objection"))).to_contain_text(
        "A lawyer read it on")
    screenshot(page, "portal-objection-read")

    case = db.session.get(Case, case_id)
    assert case.state is State.DISCLOSED
    objection = db.session.scalars(select(Objection).where(Objection.case_id == case_id)).one()
    assert objection.statement == STATEMENT and objection.acknowledged_by_id == approver.id
    kinds = db.session.scalars(select(Notice.kind).where(Notice.case_id == case_id)).all()
    assert sorted(kinds) == sorted([NoticeKind.INTENT_TO_DISCLOSE, NoticeKind.DISCLOSED])
    db.session.remove()
