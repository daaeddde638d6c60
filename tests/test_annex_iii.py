"""The provider's answer on the form of Annex III to Regulation (EU) 2023/1543 when
a European Production or Preservation Order ends without disclosure (DESIGN 11.3):
fetched by the agency that sent it (API and portal), read by staff, and nobody
else's; the ground on the form follows how the case ended."""

import subprocess

import pytest
import sqlalchemy as sa

from models import Role, db, utcnow
from tests.conftest import assert_error, caller_for, sign_in
from workflows.cases.machine import Move, advance

URL = "/api/v1/agency/requests"
NOTIFIED = {"enforcing_state": "IE", "enforcing_authority_notified": True, "judicial": True,
            "issuing_authority": "Amtsgericht Berlin-Tiergarten", "case_number": "EPOC-2026-0042"}


def text_of(pdf: bytes) -> str:
    """The PDF's text, as a reader's tools extract it."""
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True)
    return " ".join(done.stdout.decode().split())


def fire(case_id, trigger, who, **fields):
    now = utcnow()
    return advance(case_id, Move(trigger, **fields), caller_for(who, authenticated_at=now), now)


@pytest.fixture
def epoc(make_case, make_agency):
    """epoc(state, identifiers=...): an EPOC from a German court, enforcing State Ireland."""

    def make(state="legal_review", notified=True, **kwargs):
        issued = make_agency(country="DE")
        process = NOTIFIED if notified else {**NOTIFIED, "enforcing_authority_notified": False}
        case = make_case(state, process="epoc", country="DE", agency=issued.agency, legal_process=process,
                         categories=("subscriber", "content"), **kwargs)
        return case, issued

    return make


def fetch(client, case_id, token):
    return client.get(f"{URL}/{case_id}/annex-iii.pdf", headers={"Authorization": f"Bearer {token}"})


def test_a_refused_order_gets_the_form_with_the_enforcing_ground(app, client, epoc, case_staff):
    case, issued = epoc("pending_approval")
    fire(case.id, "enforcing_refused", case_staff("reviewer"), note="Immunity of the person concerned.")
    body = client.get(f"{URL}/{case.id}", headers={"Authorization": f"Bearer {issued.token}"}).get_json()
    assert body["annex_iii_url"] == f"http://localhost{URL}/{case.id}/annex-iii.pdf"

    resp = fetch(client, case.id, issued.token)
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["Cache-Control"] == "no-store"
    assert f'filename="{case.reference}-annex-iii.pdf"' in resp.headers["Content-Disposition"]
    text = text_of(resp.get_data())
    for expected in ("Regulation (EU) 2023/1543, Annex III",
                     "Information on the impossibility to execute an EPOC", case.reference, "EPOC-2026-0042",
                     "Amtsgericht Berlin-Tiergarten", "Enforcing State IE",
                     "☒ The enforcing authority raised a ground for refusal: this one", "Article 12"):
        assert expected in text, expected
    assert "Immunity of the person concerned." not in text  # the internal note stays internal


def test_the_ground_follows_how_the_order_ended(app, client, epoc, case_staff):
    reviewer = case_staff("reviewer")
    none_held, issued = epoc("no_data")
    text = text_of(fetch(client, none_held.id, issued.token).get_data())
    assert "☒ De facto impossibility" in text and text.count("☒") == 1

    unsigned, issued = epoc()
    fire(unsigned.id, "reject", reviewer, reason="insufficient_process", note="Unsigned.")
    text = text_of(fetch(client, unsigned.id, issued.token).get_data())
    assert "☒ The order is incomplete" in text and "Send a corrected or completed order" in text

    unnamed, issued = epoc(identifiers=[])
    fire(unnamed.id, "reject", reviewer, reason="overbroad", note="A geofence.")
    text = text_of(fetch(client, unnamed.id, issued.token).get_data())
    assert "☒ The order is incomplete" in text and "names no user, account or identifier" in text


@pytest.mark.parametrize("state", ["legal_review", "disclosed"])
def test_an_order_still_open_or_disclosed_has_no_form(app, client, epoc, state):
    case, issued = epoc(state, notified=False)
    assert client.get(f"{URL}/{case.id}", headers={"Authorization": f"Bearer {issued.token}"}).get_json()[
        "annex_iii_url"] is None
    body = assert_error(fetch(client, case.id, issued.token), 404, "not_found")
    assert "Annex III" in body["message"]


def test_a_us_demand_has_no_form_and_another_agency_reads_nothing(app, client, make_case, make_agency, epoc,
                                                                   case_staff):
    issued = make_agency()
    us = make_case("rejected", agency=issued.agency)
    assert_error(fetch(client, us.id, issued.token), 404, "not_found")
    case, _ = epoc("no_data")
    stranger = make_agency(country="DE")
    body = assert_error(fetch(client, case.id, stranger.token), 404, "not_found")
    assert body["message"] == "No such request for your agency."


def test_officers_and_staff_open_it_from_their_pages(app, new_client, make_user, epoc):
    from workflows import identity
    from workflows.audit import Actor

    case, issued = epoc("no_data")
    officer = make_user(Role.OFFICER, agency=issued.agency)
    identity.verify_officer(officer.id, "callback", issued.agency.phone, "Desk", Actor.system("staff"),
                            utcnow())
    db.session.commit()
    portal = new_client()
    sign_in(portal, officer)
    page = portal.get(f"/agency/requests/{case.id}").get_data(as_text=True)
    assert f"/agency/requests/{case.id}/annex-iii.pdf" in page
    assert portal.get(f"/agency/requests/{case.id}/annex-iii.pdf").mimetype == "application/pdf"

    auditor = new_client()
    sign_in(auditor, make_user(Role.AUDITOR))
    assert f"/cases/{case.id}/annex-iii.pdf" in auditor.get(f"/cases/{case.id}").get_data(as_text=True)
    resp = auditor.get(f"/cases/{case.id}/annex-iii.pdf")
    assert resp.status_code == 200 and case.reference in text_of(resp.get_data())
    assert auditor.get("/cases/999999/annex-iii.pdf").status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(type(case))) == 1


def test_every_reading_of_the_form_is_audited(app, client, epoc):
    import hashlib

    from models import AuditAction, AuditEvent

    case, issued = epoc("no_data")
    pdf = fetch(client, case.id, issued.token).get_data()
    assert_error(fetch(client, epoc("legal_review")[0].id, issued.token), 404, "not_found")
    [event] = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.ANNEX_III_FETCHED.value)).all()
    assert event.subject_id == str(case.id) and event.actor.startswith(f"agency:{issued.agency.id} ")
    assert event.data == {"reference": case.reference, "ground": "de_facto_impossibility",
                          "sha256": hashlib.sha256(pdf).hexdigest(), "ip": "127.0.0.1"}
