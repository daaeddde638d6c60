"""Staff sign-in as a person does it in a browser: password, then code or enrolment."""

import re

import pyotp
import pytest
from playwright.sync_api import Page, expect

from models import Role, User, db
from tests.conftest import PASSWORD
from workflows.identity.auth import GENERIC_FAILURE

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def submit_password(page: Page, email: str, password: str) -> None:
    page.goto("/sign-in")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("main button[type=submit]").click()


def expect_home(page: Page, name: str, role: Role) -> None:
    expect(page).to_have_url(re.compile(r"/home$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name}")
    expect(page.locator(".lede strong")).to_have_text(role.label)


def test_enrolled_reviewer_signs_in_with_password_and_code(page, staff_user):
    reviewer = staff_user(Role.REVIEWER)

    submit_password(page, reviewer.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/sign-in/code$"))
    page.locator("#code").fill(pyotp.TOTP(reviewer.totp_secret).now())
    page.locator("main button[type=submit]").click()

    expect_home(page, reviewer.name, Role.REVIEWER)


def test_new_staff_user_enrols_from_the_shown_secret_and_signs_in(page, staff_user):
    newcomer = staff_user(Role.INTAKE, enrolled=False)

    submit_password(page, newcomer.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/sign-in/enrol$"))
    expect(page.locator("figure.qr svg")).to_be_visible()
    shown = page.locator("code.secret").inner_text()
    secret = "".join(shown.split())  # shown in groups of four; apps take it with or without spaces
    assert secret == newcomer.totp_secret
    page.locator("#code").fill(pyotp.TOTP(secret).now())
    page.locator("main button[type=submit]").click()

    expect_home(page, newcomer.name, Role.INTAKE)
    expect(page.get_by_role("status")).to_contain_text("Your authenticator app is set up")
    enrolled = db.session.get(User, newcomer.id)
    assert enrolled.mfa_enrolled
    db.session.remove()


def test_wrong_password_shows_the_error_and_stays_on_sign_in(page, staff_user):
    reviewer = staff_user(Role.REVIEWER)

    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        submit_password(page, reviewer.email, "not the password at all")

    assert posted.value.status == 401
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    expect(page.get_by_role("alert")).to_have_text(GENERIC_FAILURE)
    expect(page.locator("#email")).to_have_value(reviewer.email)
    expect(page.locator("#password")).to_have_value("")
