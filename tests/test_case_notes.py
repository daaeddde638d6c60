"""Internal notes on a case (DESIGN 11.5): staff write them without firing a
transition, staff read them, every one is audited, and neither the agency nor
the customer ever sees one, in any page or API answer."""

import hashlib

import sqlalchemy as sa

from models import AuditAction, AuditEvent, Case, CaseNote, Notice, Role, db
from tests.conftest import api_headers, assert_error, post_form, sign_in

NOTE = "Called the court clerk: a corrected order follows on Monday. Hold the proposal until then."


def notes_of(case_id: int) -> list[CaseNote]:
    db.session.expire_all()
    query = sa.select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.id)
    return db.session.scalars(query).all()


def signed_in(new_client, user):
    client = new_client()
    sign_in(client, user)
    return client


def test_a_reviewer_notes_something_and_staff_read_it(app, new_client, make_user, make_case):
    case = make_case("legal_review")
    version = case.version
    reviewer = make_user(Role.REVIEWER)
    staff = signed_in(new_client, reviewer)
    resp = post_form(staff, f"/cases/{case.id}/notes", {"text": f"  {NOTE}  "}, page_url=f"/cases/{case.id}")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("#notes-heading")
    [note] = notes_of(case.id)
    assert (note.text, note.author, note.author_id) == (NOTE, reviewer.email, reviewer.id)
    assert db.session.get(Case, case.id).version == version  # not a transition

    auditor = signed_in(new_client, make_user(Role.AUDITOR))
    page = auditor.get(f"/cases/{case.id}").get_data(as_text=True)
    assert NOTE in page and 'id="note-text"' not in page  # auditors read, and write nothing
    resp = post_form(auditor, f"/cases/{case.id}/notes", {"text": "x"}, page_url=f"/cases/{case.id}")
    assert resp.status_code == 403 and len(notes_of(case.id)) == 1

    noted = sa.select(AuditEvent).where(AuditEvent.action == AuditAction.CASE_NOTE.value)
    [event] = db.session.scalars(noted)
    assert event.data["sha256"] == hashlib.sha256(NOTE.encode()).hexdigest() and "text" not in event.data
    assert event.actor == reviewer.email


def test_a_blank_note_is_refused_beside_its_field(app, new_client, make_user, make_case):
    case = make_case("received")
    staff = signed_in(new_client, make_user(Role.INTAKE))
    resp = post_form(staff, f"/cases/{case.id}/notes", {"text": " \n "}, page_url=f"/cases/{case.id}")
    assert resp.status_code == 422 and 'id="note-text-error"' in resp.get_data(as_text=True)
    assert notes_of(case.id) == []


def test_the_api_writes_and_reads_notes(app, new_client, make_user, make_case):
    case = make_case("legal_review")
    client = new_client()
    headers = api_headers(client, make_user(Role.APPROVER))
    resp = client.post(f"/api/v1/cases/{case.id}/notes", json={"text": NOTE}, headers=headers)
    assert resp.status_code == 201
    assert [n["text"] for n in resp.get_json()["notes"]] == [NOTE]
    assert_error(client.post(f"/api/v1/cases/{case.id}/notes", json={"text": ""}, headers=headers),
                 422, "invalid_input")
    assert_error(client.post("/api/v1/cases/999999/notes", json={"text": NOTE}, headers=headers),
                 404, "not_found")
    assert len(notes_of(case.id)) == 1


def test_neither_the_agency_nor_the_customer_ever_sees_a_note(app, new_client, make_user, make_case,
                                                               make_agency, make_customer):
    from models import utcnow
    from workflows import identity
    from workflows.audit import Actor

    issued = make_agency()
    customer = make_customer(kind="enterprise")
    case = make_case("disclosed", agency=issued.agency, identifiers=[customer.accounts[0].identifier])
    client = new_client()
    client.post(f"/api/v1/cases/{case.id}/notes", json={"text": NOTE},
                headers=api_headers(client, make_user(Role.REVIEWER)))
    assert len(notes_of(case.id)) == 1

    agency = new_client().get(f"/api/v1/agency/requests/{case.id}",
                              headers={"Authorization": f"Bearer {issued.token}"})
    assert agency.status_code == 200 and "Called the court clerk" not in agency.get_data(as_text=True)
    officer = make_user(Role.OFFICER, agency=issued.agency)
    identity.verify_officer(officer.id, "callback", issued.agency.phone, "Desk", Actor.system("t"), utcnow())
    db.session.commit()
    portal = signed_in(new_client, officer)
    page = portal.get(f"/agency/requests/{case.id}")
    assert page.status_code == 200 and "Called the court clerk" not in page.get_data(as_text=True)

    reader = signed_in(new_client, make_user(Role.CUSTOMER, customer=customer))
    notices = db.session.scalars(sa.select(Notice.id).where(Notice.case_id == case.id)).all()
    assert notices
    for path in ["/portal/", *(f"/portal/notices/{n}" for n in notices)]:
        resp = reader.get(path)
        assert resp.status_code == 200, path
        assert "Called the court clerk" not in resp.get_data(as_text=True), path
