"""The same demand twice: intake is warned, with a link to the open case, when a
demand names the same agency and case number as one open, or carries the same
document; nothing is kept until intake logs it anyway, and the log records that."""

import re

import pytest
from sqlalchemy import func, select

from models import AuditAction, Case, Role, db
from tests.conftest import PDF_BYTES, sign_in
from tests.test_case_pages import events, html, intake_form, post_intake, stored_files

OTHER_PDF = PDF_BYTES.replace(b"%%EOF", b"% another document\n%%EOF")


@pytest.fixture
def clerk(new_client, make_user):
    """A signed-in intake clerk: (client, user)."""
    client, user = new_client(), make_user(Role.INTAKE)
    sign_in(client, user)
    return client, user


def count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Case))


def test_the_same_agency_and_case_number_is_flagged_and_may_be_logged_anyway(app, clerk, make_agency):
    agency = make_agency(country="US").agency
    client, user = clerk
    assert post_intake(client, intake_form(agency.id)).status_code == 303
    first = db.session.scalars(select(Case)).one()
    files = stored_files(app)

    warned = post_intake(client, intake_form(agency.id, identifiers="carol@contoso.example"),
                         document=(OTHER_PDF, "again.pdf"))
    page = html(warned)
    assert warned.status_code == 409
    assert "this looks like a demand already open" in page
    assert f'<a href="/cases/{first.id}">{first.reference}</a>: the same agency and case number' in page
    assert 'name="log_anyway"' in page and "attach the PDF again" in page
    assert 'value="carol@contoso.example' in page or "carol@contoso.example" in page  # what was typed stays
    assert count() == 1 and stored_files(app) == files  # nothing kept, not even the file

    logged = post_intake(client, {**intake_form(agency.id, identifiers="carol@contoso.example"),
                                  "log_anyway": "yes"}, document=(OTHER_PDF, "again.pdf"))
    assert logged.status_code == 303, html(logged)
    assert count() == 2
    second = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    [received] = events(AuditAction.CASE_RECEIVED, second.id)
    assert received.data["logged_despite"] == [first.reference] and received.actor_id == user.id


def test_the_same_document_is_flagged_whatever_its_numbers(app, clerk, make_agency):
    agency, other = make_agency(country="US").agency, make_agency(name="Another agency", country="GB").agency
    client, _ = clerk
    assert post_intake(client, intake_form(agency.id)).status_code == 303
    first = db.session.scalars(select(Case)).one()
    warned = post_intake(client, intake_form(other.id, case_number="GB-2026-77"))
    assert warned.status_code == 409
    assert f"{first.reference}</a>: the same document" in html(warned)
    assert count() == 1


def test_closed_cases_and_other_agencies_numbers_are_not_duplicates(app, clerk, make_agency, make_case):
    agency, other = make_agency(country="US").agency, make_agency(name="Another agency", country="GB").agency
    client, _ = clerk
    closed = make_case("withdrawn", agency=agency, legal_process={"case_number": "2:26-mj-00999"})
    assert closed.case_number == "2:26-mj-00999" and not closed.is_open
    assert post_intake(client, intake_form(agency.id), document=None).status_code == 303
    # The same number from another agency is another demand.
    assert post_intake(client, intake_form(other.id), document=None).status_code == 303
    assert count() == 3


def test_an_empty_case_number_matches_nothing(app, clerk, make_agency):
    agency = make_agency(country="US").agency
    client, _ = clerk
    assert post_intake(client, intake_form(agency.id, case_number=""), document=None).status_code == 303
    assert post_intake(client, intake_form(agency.id, case_number=""), document=None).status_code == 303
    assert count() == 2
    assert not re.search("already open", html(client.get("/cases/new")))
