"""Every page a person signs in to reach passes axe-core's WCAG 2.1 A/AA rules, and
reads on a phone without sideways scrolling (wide tables scroll inside their box)."""

import re

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from models import Role, db, utcnow
from tests.conftest import PASSWORD
from workflows import identity
from workflows.audit import Actor
from workflows.reports import transparency

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = Axe()
# Only violations come back in full: the rules that passed are not sent over to
# Python node by node (axe still runs every rule of the four tags).
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
        "resultTypes": ["violations"]}
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

# The pages each role reaches after signing in (besides its landing page). "{case}" is
# a case awaiting approval, seeded for the test, so the queue has rows and the case
# page its legal check, proposal, history and action forms.
PAGES = {
    Role.ADMIN: ["/admin/users", "/admin/users/new", "/admin/users/1", "/admin/grants",
                 "/admin/portal-users/new", "/account/password"],
    Role.AUDITOR: ["/audit/", "/cases/{case}"],
    Role.REVIEWER: ["/account/password", "/notices/", "/transparency/2026-H1/draft"],
    Role.CUSTOMER: ["/portal/", "/portal/users", "/portal/security"],
    Role.INTAKE: ["/cases/", "/cases/mine", "/cases/new"],
    Role.APPROVER: ["/cases/{case}", "/sign-in/confirm?next=/cases/{case}"],
}


def assert_accessible(page: Page, what: str) -> None:
    results = AXE.run(page, options=WCAG)
    problems = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
    ]
    assert problems == [], f"{what}: {problems}"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{what}: page is {overflow}px wider than the screen"


def sign_in(page: Page, email: str, secret: str | None) -> None:
    page.goto("/sign-in")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("main button[type=submit]").click()
    if secret:
        expect(page).to_have_url(re.compile(r"/sign-in/code$"))
        assert_accessible(page, "code prompt")
        page.locator("#code").fill(pyotp.TOTP(secret).now())
        page.locator("main button[type=submit]").click()
    expect(page.locator("header .who")).to_be_attached()
    menu = page.locator("header").get_by_role("button", name="Menu")
    if menu.is_visible():  # a phone: the masthead is folded; open it, as a reader would
        menu.click()
        expect(page.locator("header .who")).to_be_visible()


@pytest.fixture(params=VIEWPORTS, ids=list(VIEWPORTS))
def viewport_page(request, browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORTS[request.param])
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_sign_in_and_enrolment_pages(viewport_page, staff_user):
    page = viewport_page
    newcomer = staff_user(Role.INTAKE, enrolled=False)
    page.goto("/sign-in")
    assert_accessible(page, "sign-in")
    page.locator("#email").fill(newcomer.email)
    page.locator("#password").fill("wrong password entirely")
    page.locator("main button[type=submit]").click()
    expect(page.locator(".alert")).to_be_visible()
    assert_accessible(page, "sign-in with an error")
    page.locator("#password").fill(PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/sign-in/enrol$"))
    assert_accessible(page, "enrolment")
    page.locator("#code").fill("000000")
    page.locator("main button[type=submit]").click()
    expect(page.locator(".error, .alert").first).to_be_visible()
    assert_accessible(page, "enrolment with an error")


@pytest.mark.parametrize("role", list(PAGES), ids=[r.value for r in PAGES])
def test_signed_in_pages(viewport_page, staff_user, make_user, make_case, role):
    page = viewport_page
    case_id = None
    if any("{case}" in path or path.startswith("/cases/") for path in PAGES[role]):
        case_id = make_case("pending_approval").id
        db.session.remove()  # no open transaction while the browser works
    if role is Role.ADMIN:  # a grant another administrator proposed, waiting on the grants page
        other = make_user(Role.ADMIN)
        identity.propose_user("pat.pending@provider.example", "Pat Pending", Role.AUDITOR,
                              Actor(other.email, other.id), utcnow(), ("provider.example",))
        db.session.commit()
        db.session.remove()
    if role is Role.CUSTOMER:
        email, secret = make_user(Role.CUSTOMER).email, None
        db.session.remove()  # no open transaction while the browser works
    else:
        user = staff_user(role)
        email, secret = user.email, user.totp_secret
    sign_in(page, email, secret)
    assert_accessible(page, f"{role.value} landing page")
    for path in PAGES[role]:
        response = page.goto(path.format(case=case_id))
        assert response.ok, f"{path}: {response.status}"
        assert_accessible(page, path)
    if role is Role.ADMIN:
        page.goto("/admin/users/new")
        page.locator("#email").fill("not an address")
        page.locator("main button[type=submit]").click()
        expect(page.locator(".error").first).to_be_visible()
        assert_accessible(page, "new user form with errors")
    if role is Role.INTAKE:
        page.goto("/cases/new")
        page.locator("main form button[type=submit]").click()
        expect(page.locator(".error").first).to_be_visible()
        assert_accessible(page, "intake form with errors")
    if role is Role.APPROVER:
        page.goto(f"/cases/{case_id}")
        page.locator("summary#action-send_back-heading").click()
        page.locator("form#action-send_back button[type=submit]").click()
        expect(page.locator("form#action-send_back .error")).to_be_visible()
        assert_accessible(page, "case page with a refused action")


def test_public_report_pages(viewport_page, make_case):
    """What anyone may read without signing in: the reports, and a clear 404."""
    make_case("disclosed", received_at="2026-03-02T10:00:00Z",
              legal_process={"type": "subpoena", "issued_on": "2026-02-01", "judicial": False},
              categories=("subscriber",))
    transparency.publish(transparency.Period.parse("2026-H1"), Actor.system("test"), None, utcnow())
    db.session.remove()  # no open transaction while the browser works
    page = viewport_page
    for path in ("/", "/transparency", "/transparency/2026-H1"):
        response = page.goto(path)
        assert response.ok, f"{path}: {response.status}"
        assert_accessible(page, path)
    response = page.goto("/transparency/2026-H3")
    assert response.status == 404
    assert_accessible(page, "an unknown period")


PUBLIC_FORMS = ["/password/forgot", "/agency/register"]


@pytest.mark.parametrize("path", PUBLIC_FORMS)
def test_public_forms(viewport_page, path):
    page = viewport_page
    page.goto(path)
    assert_accessible(page, path)
    page.locator("main button[type=submit]").click()
    expect(page.locator(".error").first).to_be_visible()
    assert_accessible(page, f"{path} with an error")


def test_officer_pages(viewport_page, make_user, make_agency, make_case):
    from tests.conftest import caller_for
    from workflows import cases

    agency = make_agency().agency
    officer = make_user(Role.OFFICER, agency=agency)
    identity.verify_officer(officer.id, "callback", agency.phone, "Sgt. Lee", Actor.system("staff"), utcnow())
    case_id = make_case("disclosed", agency=agency).id
    cases.write_to_agency(case_id, "The package is ready; tell us if anything is missing.",
                          caller_for(make_user(Role.REVIEWER)), utcnow(), "https://due-process.example/")
    db.session.commit()
    email, secret = officer.email, officer.totp_secret
    db.session.remove()
    page = viewport_page
    sign_in(page, email, secret)
    for path in ("/agency/", "/agency/requests/new", f"/agency/requests/{case_id}"):
        assert page.goto(path).ok, path
        assert_accessible(page, path)
