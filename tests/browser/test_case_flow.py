"""A demand's whole life in Chromium: intake logs it with its PDF, a reviewer proposes
disclosure, an approver whose sign-in is stale confirms it is them and approves, and
sees the production's manifest; the agency collects it once over HTTP.
Each person sees what happened in words, and refused actions say why beside the field."""

import hashlib
import io
import json
import re
import time
import urllib.error
import urllib.request
import zipfile
from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select, update

from models import Case, CaseTransition, Disclosure, Role, State, UserSession, db, utcnow
from tests.conftest import PASSWORD, PDF_BYTES, window_ran
from views.cases import CONFIRM_WORDS
from workflows import audit

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REFERENCE = re.compile(r"LE-\d{4}-\d{6}")


def sign_in(page: Page, email: str, code: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/sign-in/code$"))
    page.get_by_label("Six-digit code").fill(code)
    page.locator("main").get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/home$"))


def sign_out(page: Page) -> None:
    page.locator("header").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")


def expect_state(page: Page, label: str) -> None:
    expect(page.locator(".case-head .head-badges .state")).to_have_text(label)


def open_from_queue(page: Page, reference: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Queue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Queue")
    page.get_by_role("table").get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(reference)


def action(page: Page, trigger: str):
    """One action form of the case page (each is labelled by its own heading)."""
    return page.locator(f"form#action-{trigger}")


def agency_get(url: str, token: str) -> tuple[int, bytes]:
    """The agency's own HTTP client (not the browser): the live server on loopback."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_demand_goes_from_intake_to_disclosure(page, staff_user, make_agency, make_customer, plant, tmp_path,
                                               live_server):
    agency = make_agency(name="Springfield Police Department", country="US", verified=True)
    account = make_customer(kind="enterprise").accounts[0].identifier
    plant(account, content=["Ship the crates on Friday.", "Invoice attached."], non_content=4,
          files=[b"%PDF-1.4 an invoice"])
    db.session.remove()
    intake, reviewer, approver = (staff_user(r) for r in (Role.INTAKE, Role.REVIEWER, Role.APPROVER))
    warrant = tmp_path / "warrant.pdf"
    warrant.write_bytes(PDF_BYTES)
    yesterday = (utcnow() - timedelta(days=1)).date().isoformat()

    # Intake logs the demand as it arrived.
    sign_in(page, intake.email, pyotp.TOTP(intake.totp_secret).now())
    page.locator("main").get_by_role("link", name="Log a demand").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log a demand")
    form = page.locator("main form")
    form.get_by_label("Agency").select_option(label="Springfield Police Department (US)")  # no ", unverified"
    form.get_by_label("Request type").select_option(label="Criminal")
    form.get_by_label("Legal process", exact=True).select_option(label="Search warrant")
    form.get_by_label("Issuing authority").fill("U.S. District Court for the District of Oregon")
    form.get_by_label("Case number").fill("3:26-mj-00042")
    form.get_by_label("Issued on").fill(yesterday)
    form.get_by_label("Issued or validated by a judge or court").check()
    form.get_by_label("Signed", exact=True).check()
    form.get_by_label("Accounts named").fill(account)
    form.get_by_label("Stored content").check()
    form.get_by_label("Legal process document (PDF)").set_input_files(warrant)
    form.get_by_role("button", name="Log the demand").click()

    expect(page).to_have_url(re.compile(r"/cases/\d+$"))
    reference = page.get_by_role("heading", level=1).inner_text()
    assert REFERENCE.fullmatch(reference), reference
    expect(page.get_by_role("status")).to_have_text(f"Logged {reference}.")
    expect_state(page, "Received")
    expect(page.locator(".verdict")).to_contain_text("Sufficient.")
    expect(page.locator("section", has=page.locator("#document-heading"))).to_contain_text("warrant.pdf")
    expect(page.locator("section", has=page.locator("#facts-heading"))).to_contain_text(account)
    sign_out(page)

    # A reviewer takes it from the queue and proposes disclosing the content.
    sign_in(page, reviewer.email, pyotp.TOTP(reviewer.totp_secret).now())
    open_from_queue(page, reference)
    action(page, "start_review").get_by_role("button", name="Start legal review").click()
    expect(page.get_by_role("status")).to_have_text(
        f"{reference}: Start legal review. The case is now legal review.")
    expect_state(page, "Legal review")
    propose = action(page, "propose_disclosure")
    expect(propose.get_by_label("Stored content")).to_be_checked()
    propose.get_by_role("button", name="Propose disclosure").click()
    expect(page.get_by_role("status")).to_have_text(
        f"{reference}: Propose disclosure. The case is now pending approval.")
    expect_state(page, "Pending approval")
    sign_out(page)

    # A week later the customer's time to object has run (tests/test_objection_window.py).
    window_ran(db.session.scalar(select(Case.id).where(Case.reference == reference)))
    db.session.remove()

    # An approver, signed in more than 10 minutes ago as far as the server knows.
    sign_in(page, approver.email, pyotp.TOTP(approver.totp_secret).now())
    db.session.execute(update(UserSession).where(UserSession.user_id == approver.id)
                       .values(authenticated_at=utcnow() - timedelta(minutes=11)))
    db.session.commit()
    db.session.remove()
    open_from_queue(page, reference)
    expect_state(page, "Pending approval")
    approve = action(page, "approve")
    expect(approve.get_by_label("Stored content")).to_be_checked()
    approve.get_by_label(CONFIRM_WORDS["approve"]).check()  # a disclosure cannot be taken back
    approve.get_by_role("button", name="Approve disclosure").click()

    expect(page).to_have_url(re.compile(r"/sign-in/confirm\?next="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it's you")
    expect(page.get_by_role("status")).to_contain_text("Confirm it's you to approve")
    confirm = page.locator("main form")
    confirm.get_by_label("Password").fill(PASSWORD)
    # The sign-in spent this step's code: an authenticator app shows the next one.
    confirm.get_by_label("Six-digit code").fill(pyotp.TOTP(approver.totp_secret).at(time.time() + 30))
    confirm.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(reference)
    expect(page.get_by_role("status")).to_have_text("Confirmed: you may approve for the next 10 minutes.")
    expect_state(page, "Pending approval")
    action(page, "approve").get_by_label(CONFIRM_WORDS["approve"]).check()
    action(page, "approve").get_by_role("button", name="Approve disclosure").click()
    expect(page.get_by_role("status")).to_have_text(
        f"{reference}: Approve disclosure. The case is now disclosed.")
    expect_state(page, "Disclosed")
    disclosure = page.locator("section", has=page.get_by_role("heading", name="Disclosure", exact=True))
    expect(disclosure.locator("dt:text-is('Approved') + dd")).to_have_text("Stored content")
    expect(disclosure).to_contain_text(account)
    expect(page.locator("section", has=page.locator("#actions-heading"))).to_contain_text(
        "The case is closed.")

    # The approver sees what went out: counts and hashes, never the records.
    production = page.locator("section", has=page.locator("#production-heading"))
    expect(production.locator("table.manifest").first.locator("tbody tr")).to_have_text(
        re.compile(rf"{re.escape(account)}\s*3"))  # two messages and the stored file
    expect(production).to_contain_text("Link open")
    expect(production).not_to_contain_text("Ship the crates")
    sha256 = production.locator("dt:text-is('SHA-256') + dd").inner_text().strip()
    production.locator("details.files summary").click()
    expect(production.locator("details.files tbody tr")).to_have_count(2)

    # The agency collects it, once.
    case_id = int(page.url.rsplit("/", 1)[1])
    status, body = agency_get(f"{live_server.url}/api/v1/agency/requests/{case_id}", agency.token)
    url = json.loads(body)["download_url"]
    status, body = agency_get(url, agency.token)
    assert status == 200 and hashlib.sha256(body).hexdigest() == sha256
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        folder = json.loads(zf.read("manifest.json"))["accounts"][0]["folder"]
        assert b"Ship the crates on Friday." in zf.read(f"{folder}/content.jsonl")
    assert agency_get(url, agency.token)[0] == 410
    page.reload()
    expect(production).to_contain_text("Collected by the agency")

    case = db.session.scalars(select(Case).where(Case.reference == reference)).one()
    assert case.state is State.DISCLOSED
    assert case.created_by_id == intake.id
    disclosures = db.session.scalars(select(Disclosure).where(Disclosure.case_id == case.id)).all()
    assert len(disclosures) == 1 and disclosures[0].approved_by_id == approver.id
    assert disclosures[0].categories == ["content"]
    transitions = db.session.scalar(
        select(func.count()).select_from(CaseTransition).where(CaseTransition.case_id == case.id))
    assert transitions == 3
    assert audit.verify().intact
    db.session.remove()


REFUSALS = [
    # (state, who acts, action, its button, the field left empty, that field's label, state label)
    ("legal_review", Role.REVIEWER, "reject", "Reject", "Reason (required)", "Legal review"),
    ("pending_approval", Role.APPROVER, "send_back", "Send back to review",
     "Why the proposal goes back (required)", "Pending approval"),
]


@pytest.mark.parametrize(("state", "role", "trigger", "button", "label", "shown"), REFUSALS,
                         ids=[r[2] for r in REFUSALS])
def test_refused_action_shows_its_error_beside_the_field(page, staff_user, make_case, state, role,
                                                        trigger, button, label, shown):
    case = make_case(state)
    case_id, reference, version = case.id, case.reference, case.version
    db.session.remove()
    user = staff_user(role)
    sign_in(page, user.email, pyotp.TOTP(user.totp_secret).now())
    page.goto(f"/cases/{case_id}")

    page.locator(f"summary#action-{trigger}-heading").click()  # a rarer action: folded away until asked for
    form = action(page, trigger)
    expect(form.get_by_label(label)).to_be_visible()
    if trigger in CONFIRM_WORDS:  # ticked: what is left out is the field under test
        form.get_by_label(CONFIRM_WORDS[trigger]).check()
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        form.get_by_role("button", name=button).click()

    assert posted.value.status == 422
    expect(page.get_by_role("heading", level=1)).to_have_text(reference)
    expect_state(page, shown)
    expect(page.locator(".case-head").get_by_role("alert")).to_contain_text(f"Not done: {button}.")
    form = action(page, trigger)
    field = form.get_by_label(label)
    expect(field).to_be_visible()  # the refused form comes back open
    expect(field).to_have_attribute("aria-invalid", "true")
    error = form.locator(".field.has-error .error")
    expect(error).to_be_visible()
    expect(field).to_have_accessible_description(error.inner_text())

    case = db.session.get(Case, case_id)
    assert case.state is State(state) and case.version == version
    db.session.remove()
