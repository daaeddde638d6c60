"""Intake, at 1366 and at 390 pixels, logs a demand that arrives a second time:
warned, with a link to the open case, then logs it anyway."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from models import Case, Role, db, utcnow
from tests.browser.test_accessibility import assert_accessible, sign_in
from tests.conftest import PDF_BYTES

pytestmark = [pytest.mark.browser]


@pytest.mark.parametrize("width", [1366, 390])
def test_intake_is_warned_of_the_same_demand_and_logs_it_anyway(browser, live_server, staff_user, make_case,
                                                                 make_agency, tmp_path, width):
    agency = make_agency(name="Springfield Police Department", country="US", verified=True)
    first = make_case("legal_review", agency=agency.agency, legal_process={"case_number": "3:26-mj-00042"})
    first_id, reference = first.id, first.reference
    db.session.remove()
    intake = staff_user(Role.INTAKE)
    warrant = tmp_path / "warrant.pdf"
    warrant.write_bytes(PDF_BYTES.replace(b"%%EOF", b"% the second copy\n%%EOF"))
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, intake.email, intake.totp_secret)

    def fill_in():
        form = page.locator("main form")
        form.get_by_label("Agency").select_option(label="Springfield Police Department (US)")
        form.get_by_label("Request type").select_option(label="Criminal")
        form.get_by_label("Legal process", exact=True).select_option(label="Search warrant")
        form.get_by_label("Issuing authority").fill("U.S. District Court for the District of Oregon")
        form.get_by_label("Case number").fill("3:26-mj-00042")
        form.get_by_label("Issued on").fill((utcnow() - timedelta(days=1)).date().isoformat())
        form.get_by_label("Accounts named").fill("someone@contoso.example")
        form.get_by_label("Stored content").check()
        form.get_by_label("Legal process document (PDF)").set_input_files(warrant)
        return form

    page.goto("/cases/new")
    fill_in().get_by_role("button", name="Log the demand").click()
    warning = page.locator("#duplicates")
    expect(warning).to_contain_text("this looks like a demand already open")
    expect(warning.get_by_role("link", name=reference)).to_have_attribute("href", f"/cases/{first_id}")
    assert_accessible(page, f"intake warned of a duplicate, {width}px")

    form = page.locator("main form")
    expect(form.get_by_label("Case number")).to_have_value("3:26-mj-00042")  # what was typed stays
    form.get_by_label("Legal process document (PDF)").set_input_files(warrant)  # attached again
    form.get_by_label(re.compile("Log it anyway")).check()
    form.get_by_role("button", name="Log the demand").click()
    expect(page).to_have_url(re.compile(r"/cases/\d+$"))
    expect(page.get_by_role("status")).to_contain_text("Logged ")
    context.close()
    db.session.expire_all()
    assert db.session.query(Case).count() == 2
