"""An officer sends a demand with its PDF through the agency portal (DESIGN 11.4):
the intake desk's checks, the officer's own agency, received when sent, and
nothing stored when anything is wrong."""

import io

import sqlalchemy as sa

from models import Case, Channel, Role, db, utcnow
from tests.conftest import PDF_BYTES, csrf_from, sign_in
from workflows import identity
from workflows.audit import Actor


def form(**overrides) -> dict:
    day = utcnow().date().isoformat()
    return {"request_type": "criminal", "process_type": "search_warrant", "issuing_authority": "King County "
            "Superior Court", "judicial": "y", "issued_on": day, "signed": "y", "case_number": "26-1-00042-1",
            "identifiers": "alice@contoso.example", "categories": ["content"], "date_from": "2026-01-01",
            "date_to": "2026-02-28", "document": (io.BytesIO(PDF_BYTES), "warrant.pdf"), **overrides}


def officer_client(new_client, make_user, agency, verified=True):
    officer = make_user(Role.OFFICER, agency=agency)
    if verified:
        identity.verify_officer(officer.id, "callback", agency.phone, "Sgt. Lee", Actor.system("staff"),
                                utcnow())
        db.session.commit()
    client = new_client()
    sign_in(client, officer)
    return officer, client


def send(client, data: dict):
    page = client.get("/agency/requests/new")
    csrf = csrf_from(page.get_data(as_text=True))
    return client.post("/agency/requests/new", data={**data, "csrf_token": csrf},
                       content_type="multipart/form-data")


def cases() -> list[Case]:
    return db.session.scalars(sa.select(Case).order_by(Case.id)).all()


def test_a_verified_officer_sends_a_demand_with_its_pdf(app, new_client, make_user, make_agency):
    agency = make_agency(name="Seattle Police Department").agency
    officer, client = officer_client(new_client, make_user, agency)
    resp = send(client, form(agency_id="999", received_at="2020-01-01T00:00", channel="fax"))
    assert resp.status_code == 303 and resp.headers["Location"] == "/agency/"
    [case] = cases()
    assert case.agency_id == agency.id and case.created_by_id == officer.id  # not what the form said
    assert case.channel is Channel.PORTAL and (utcnow() - case.received_at).total_seconds() < 60
    assert case.documents[-1].filename == "warrant.pdf"
    home = client.get("/agency/").get_data(as_text=True)
    assert case.reference in home and "Send a request" in home


def test_a_bad_demand_is_refused_beside_its_fields_and_nothing_is_stored(app, new_client, make_user,
                                                                          make_agency):
    agency = make_agency().agency
    _, client = officer_client(new_client, make_user, agency)
    resp = send(client, form(process_type="", document=(io.BytesIO(b"not a pdf"), "warrant.pdf")))
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "The request was not sent." in page and 'id="process_type-error"' in page
    assert 'id="document-error"' in page
    assert cases() == []


def test_an_unverified_officer_sends_nothing(app, new_client, make_user, make_agency):
    agency = make_agency().agency
    _, client = officer_client(new_client, make_user, agency, verified=False)
    assert client.get("/agency/requests/new").status_code == 303
    page = client.get("/agency/").get_data(as_text=True)
    assert "Send a request" not in page
    csrf = csrf_from(page)
    resp = client.post("/agency/requests/new", data={**form(), "csrf_token": csrf},
                       content_type="multipart/form-data")
    assert resp.status_code == 303 and cases() == []
