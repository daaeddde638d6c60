"""A preservation request in Chromium: a reviewer preserves the account it names,
extends the hold once on the agency's renewed request, and, once its period has
run and the expiry command has passed, sees that it expired and that nothing is
held any more."""

import re
from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from models import Case, Role, db, utcnow
from tests.browser.test_case_flow import action, expect_state, open_from_queue, sign_in
from workflows import audit, cases

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_reviewer_preserves_extends_and_sees_the_hold_expire(page, staff_user, make_agency, make_customer,
                                                               plant, make_case):
    agency = make_agency(name="Springfield Police Department", country="US", verified=True)
    account = make_customer(kind="enterprise").accounts[0].identifier
    plant(account, content=["Ship the crates on Friday."], non_content=2)
    case = make_case("legal_review", process="preservation_request", agency=agency.agency,
                     identifiers=[account], categories=("subscriber", "non_content", "content"))
    reference, case_id = case.reference, case.id
    db.session.remove()
    reviewer = staff_user(Role.REVIEWER)

    sign_in(page, reviewer.email, pyotp.TOTP(reviewer.totp_secret).now())
    open_from_queue(page, reference)
    expect_state(page, "Legal review")
    hold = page.locator("section", has=page.locator("#preservation-heading"))
    expect(hold).to_contain_text("Nothing is held yet")
    preserve = action(page, "preserve")
    expect(preserve.get_by_label("Stored content")).to_be_checked()
    preserve.get_by_label("Stored content").uncheck()  # the agency's letter asks for logs and profile only
    preserve.get_by_role("button", name="Preserve the records").click()
    expect(page.get_by_role("status")).to_have_text(f"{reference}: Preserve the records. The case is now "
                                                    "preserved.")
    expect_state(page, "Preserved")
    expect(hold).to_contain_text(re.compile(r"Held until \d{4}-\d\d-\d\d \d\d:\d\d UTC:\s+88 days left"))
    expect(hold.locator("dt:text-is('Held now') + dd")).to_have_text(
        re.compile(r"3 records:\s+1 subscriber, 2 non-content"))

    # The agency renews its request: one extension of 90 days, and no second one is offered.
    page.locator("summary#action-extend-heading").click()  # the other actions open on demand
    extend = action(page, "extend")
    extend.get_by_role("button", name="Extend the preservation").click()
    expect(extend.get_by_role("alert")).to_contain_text("Not done.")
    expect(extend.get_by_text("Write the renewed request")).to_be_visible()
    action(page, "extend").get_by_label("The renewed request: who asked, when and how").fill(
        "Detective Ruiz renewed the request by letter of 2 March.")
    action(page, "extend").get_by_role("button", name="Extend the preservation").click()
    expect(page.get_by_role("status")).to_have_text(f"{reference}: Extend the preservation. The case is now "
                                                    "preserved.")
    expect(hold).to_contain_text("178 days left")
    expect(hold.locator("dt:text-is('Extensions') + dd")).to_contain_text("1 of 1")
    expect(action(page, "extend")).to_have_count(0)

    # Time passes: the period ends, and the expiry run (flask --app app preservations expire) passes.
    db.session.execute(update(Case).where(Case.id == case_id).values(preserved_until=utcnow()
                                                                    - timedelta(minutes=1)))
    db.session.commit()
    run = cases.expire_preservations(utcnow(), audit.Actor.system("cli"))
    assert run.expired == [reference]
    db.session.remove()
    page.reload()
    expect_state(page, "Expired")
    expect(hold).to_contain_text("The hold ended on")
    expect(hold.locator("dt:text-is('Held now') + dd")).to_have_text("Nothing")
    actions = page.locator("section", has=page.locator("#actions-heading"))
    expect(actions).to_contain_text("The case is closed.")
    history = page.locator("section", has=page.locator("#timeline-heading"))
    expect(history).to_contain_text("Preservation expired")
    expect(history).to_contain_text("Hold ended on 3 records")
