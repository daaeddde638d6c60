"""A reviewer at 1366 and at 390 pixels: when the legal check authorises nothing the
form open first is Reject, and closing a case asks for a tick that says what it does."""

import pytest
from playwright.sync_api import expect

from models import Case, Role, State, db
from tests.browser.test_accessibility import assert_accessible, sign_in

pytestmark = [pytest.mark.browser]


@pytest.mark.parametrize("width", [1366, 390])
def test_closing_a_case_is_confirmed_and_the_check_picks_the_open_form(browser, live_server, staff_user,
                                                                        make_case, width):
    nothing = make_case("legal_review", process="subpoena", categories=("content",),
                        legal_process={"judicial": False})
    case_id = nothing.id
    db.session.remove()
    reviewer = staff_user(Role.REVIEWER)
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, reviewer.email, reviewer.totp_secret)
    page.goto(f"/cases/{case_id}")

    expect(page.locator("details.action[open] > summary")).to_have_text(["Reject"])
    withdraw = page.locator("details.action", has=page.locator("#action-withdraw"))
    withdraw.locator("summary").click()
    form = page.locator("form#action-withdraw")
    form.get_by_label("How the agency withdrew the demand").fill("By telephone, 9:10.")
    form.get_by_role("button", name="Withdrawn by the agency").click()
    alert = page.locator("form#action-withdraw").get_by_role("alert")
    expect(alert).to_contain_text("Not done.")
    box = page.locator("form#action-withdraw").get_by_label("Close the case as withdrawn by the agency")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(page.locator("form#action-withdraw textarea[name=note]")).to_have_value("By telephone, 9:10.")
    assert_accessible(page, f"a refused withdrawal, {width}px")

    box.check()
    page.locator("form#action-withdraw").get_by_role("button", name="Withdrawn by the agency").click()
    expect(page.get_by_role("status").first).to_contain_text("The case is now withdrawn.")
    context.close()
    db.session.expire_all()

    assert db.session.get(Case, case_id).state is State.WITHDRAWN
