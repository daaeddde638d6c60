"""An agency officer in Chromium, from nothing: registers with an address on the
agency's domain, confirms it by the mailed link and chooses a password, sets up
an authenticator, waits unverified (seeing none of the agency's requests), and
once staff have verified them by a call-back, sees the agency's requests, makes
an API token (shown once), sends a demand with its PDF, answers a reviewer's
message, and collects a production once."""

import hashlib
import re
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from models import MailMessage, Role, User, db, utcnow
from tests.conftest import PDF_BYTES, caller_for
from workflows import cases, identity
from workflows.audit import Actor

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSPHRASE = "a detective's own passphrase"


def test_an_officer_registers_is_verified_sends_answers_and_collects(page, make_agency, make_case, make_user):
    issued = make_agency(name="Seattle Police Department", phone="+1 206 555 0199")
    identity.add_agency_domain(issued.agency.id, "spd.example", Actor.system("cli"), utcnow())
    db.session.commit()
    asked = make_case("legal_review", agency=issued.agency)
    reference, asked_id = asked.reference, asked.id
    disclosed = make_case("disclosed", agency=issued.agency)
    produced, package_sha256 = disclosed.reference, disclosed.disclosure.package_sha256
    db.session.remove()

    page.goto("/sign-in")
    page.get_by_role("link", name="Register").click()
    page.get_by_label("Your work e-mail").fill("ana.ruiz@spd.example")
    page.get_by_label("Your full name and rank").fill("Det. Ana Ruiz")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    expect(page.locator("main")).to_contain_text("an address of Seattle Police Department")

    body = db.session.scalars(sa.select(MailMessage.body)).one()  # what the relay would send her
    link = re.search(r"/agency/invitation/[A-Za-z0-9_-]+", body).group(0)
    db.session.remove()
    page.goto(link)
    page.get_by_label("Choose a password").fill(PASSPHRASE)
    page.get_by_label("The same password again").fill(PASSPHRASE)
    page.get_by_role("button", name="Set the password").click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))

    page.get_by_label("E-mail").fill("ana.ruiz@spd.example")
    page.get_by_label("Password").fill(PASSPHRASE)
    page.locator("main").get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/sign-in/enrol$"))
    ana = db.session.scalar(sa.select(User).where(User.email == "ana.ruiz@spd.example"))
    secret, ana_id = ana.totp_secret, ana.id
    db.session.remove()
    page.get_by_label("Six-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page).to_have_url(re.compile(r"/agency/$"))
    main = page.locator("main")
    expect(main).to_contain_text("Not yet verified")
    expect(main).not_to_contain_text(reference)
    expect(page.get_by_role("button", name="Make a token")).to_have_count(0)

    identity.verify_officer(ana_id, "callback", "+1 206 555 0199", "Sgt. Lee at the front desk",
                            Actor.system("reviewer"), utcnow())
    db.session.commit()
    db.session.remove()
    page.reload()
    expect(main).to_contain_text("Verified")
    expect(main).to_contain_text(reference)
    page.get_by_label("Name of the new token").fill("Records system")
    page.get_by_role("button", name="Make a token").click()
    shown = page.get_by_role("status").filter(has_text="Copy it now")
    expect(shown).to_contain_text('Your new token "Records system".')
    expect(shown.locator("code")).to_have_text(re.compile(r"^dpa_[A-Za-z0-9_-]{20,}$"))

    # Ana sends a demand with its PDF through the portal.
    page.get_by_role("link", name="Send a request").click()
    form = page.locator("main form")
    form.get_by_label("Request type").select_option(label="Criminal")
    form.get_by_label("Legal process", exact=True).select_option(label="Search warrant")
    form.get_by_label("Issuing authority").fill("King County Superior Court")
    form.get_by_label("Case number").fill("26-1-00042-1")
    form.get_by_label("Issued on").fill(utcnow().date().isoformat())
    form.get_by_label("Issued or validated by a judge or court").check()
    form.get_by_label("Signed", exact=True).check()
    form.get_by_label("Accounts named").fill("alice@contoso.example")
    form.get_by_label("Stored content").check()
    form.get_by_label("Legal process document (PDF)").set_input_files(
        {"name": "warrant.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES})
    form.get_by_role("button", name="Send the request").click()
    expect(page).to_have_url(re.compile(r"/agency/$"))
    sent = re.search(r"your request is (\S+)\.", page.get_by_role("status").inner_text()).group(1)
    expect(main.get_by_role("table", name="Your agency's requests")).to_contain_text(sent)

    # A reviewer asks something on another request; Ana sees it waiting and answers.
    reviewer = make_user(Role.REVIEWER)
    cases.write_to_agency(asked_id, "Which accounts? The demand names one, the affidavit two.",
                          caller_for(reviewer), utcnow(), "https://due-process.example/")
    db.session.commit()
    db.session.remove()
    page.goto("/agency/")
    row = main.get_by_role("row").filter(has_text=reference)
    expect(row).to_contain_text("We asked you something")
    row.get_by_role("link", name=reference).click()
    expect(main.get_by_role("status")).to_contain_text("Answer our message of")
    thread = main.locator(".thread")
    expect(thread).to_contain_text("the affidavit two")
    expect(thread).to_contain_text("The provider")
    page.get_by_label("Your message to the provider").fill("Both: alice@contoso.example, bob@contoso.example")
    page.get_by_role("button", name="Send the message").click()
    expect(thread.locator(".message-mine")).to_contain_text("bob@contoso.example")
    expect(main).not_to_contain_text("Answer our message of")

    # The production, once: the file matches its published hash, and the button is gone.
    page.get_by_role("link", name="Seattle Police Department").click()
    main.get_by_role("link", name=produced).click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the production (once)").click()
    data = Path(download.value.path()).read_bytes()
    assert hashlib.sha256(data).hexdigest() == package_sha256
    page.reload()
    expect(main).to_contain_text("Collected on")
    expect(page.get_by_role("button", name="Download the production (once)")).to_have_count(0)
