"""Messages between the provider's staff and the agency on a request, and what the
agency portal shows of one request: what is needed from the agency, and the
production, collected once (DESIGN 11.4)."""

import hashlib
import io
import zipfile

import pytest
from sqlalchemy import func, select

from models import AuditAction, AuditEvent, CaseMessage, MessageSide, Role, db, utcnow
from tests.conftest import api_headers, assert_error, csrf_from, post_form, relay_pass, sign_in
from workflows import cases, identity
from workflows.audit import Actor
from workflows.errors import Conflict

AGENCY_API = "/api/v1/agency/requests"


def verified_officer(make_user, agency):
    officer = make_user(Role.OFFICER, agency=agency)
    identity.verify_officer(officer.id, "callback", agency.phone, "Sgt. Lee", Actor.system("staff"), utcnow())
    db.session.commit()
    return officer


def signed_in(new_client, user):
    client = new_client()
    sign_in(client, user)
    return client


def thread(case_id: int) -> list[CaseMessage]:
    db.session.expire_all()
    return db.session.scalars(select(CaseMessage).where(CaseMessage.case_id == case_id)
                              .order_by(CaseMessage.id)).all()


def test_a_reviewer_asks_the_officer_answers_and_each_side_is_told(app, new_client, make_user, make_agency,
                                                                  make_case, mailbox):
    agency = make_agency(name="Seattle Police Department").agency
    officer = verified_officer(make_user, agency)
    case = make_case("legal_review", agency=agency)
    case.created_by_id = officer.id
    reviewer = make_user(Role.REVIEWER)
    case.assignee_id = reviewer.id
    db.session.commit()

    staff = signed_in(new_client, reviewer)
    typed = "  Name the accounts, please.\nOne per line. "
    resp = post_form(staff, f"/cases/{case.id}/messages", {"text": typed}, page_url=f"/cases/{case.id}")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("#messages-heading")
    [asked] = thread(case.id)
    assert asked.side is MessageSide.PROVIDER and asked.text == "Name the accounts, please.\nOne per line."
    assert asked.author == reviewer.email

    relay_pass()
    [told] = [m for m in mailbox.handler.messages() if case.reference in m.subject]
    assert told.to == officer.email
    assert "Name the accounts" not in told.text  # the text stays behind a sign-in
    assert f"https://due-process.provider.example/agency/requests/{case.id}" in told.text

    portal = signed_in(new_client, officer)
    home = portal.get("/agency/").get_data(as_text=True)
    assert "We asked you something" in home
    page = portal.get(f"/agency/requests/{case.id}").get_data(as_text=True)
    assert "Name the accounts, please." in page and "Answer our message of" in page
    assert reviewer.email not in page and "The provider" in page  # never which reviewer

    resp = post_form(portal, f"/agency/requests/{case.id}/messages", {"text": "alice@contoso.example"},
                     page_url=f"/agency/requests/{case.id}")
    assert resp.status_code == 303
    answer = thread(case.id)[-1]
    assert answer.side is MessageSide.AGENCY and answer.author == officer.email
    page = portal.get(f"/agency/requests/{case.id}").get_data(as_text=True)
    assert "Answer our message of" not in page
    assert "We asked you something" not in portal.get("/agency/").get_data(as_text=True)

    relay_pass()
    [answered] = [m for m in mailbox.handler.messages() if m.to == reviewer.email]
    assert "the agency wrote" in answered.subject and f"/cases/{case.id}" in answered.text
    staff_page = staff.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "alice@contoso.example" in staff_page and officer.email in staff_page

    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == AuditAction.CASE_MESSAGE.value)
                                .order_by(AuditEvent.seq)).all()
    assert [e.data["side"] for e in events] == ["provider", "agency"]
    assert events[1].data["sha256"] == hashlib.sha256(b"alice@contoso.example").hexdigest()
    assert "text" not in events[0].data


def test_a_blank_message_is_refused_beside_its_field_and_nothing_is_written(app, new_client, make_user,
                                                                           make_agency, make_case):
    agency = make_agency().agency
    officer = verified_officer(make_user, agency)
    case = make_case("legal_review", agency=agency)
    staff = signed_in(new_client, make_user(Role.REVIEWER))
    resp = post_form(staff, f"/cases/{case.id}/messages", {"text": "   "}, page_url=f"/cases/{case.id}")
    assert resp.status_code == 422 and 'id="message-text-error"' in resp.get_data(as_text=True)
    portal = signed_in(new_client, officer)
    resp = post_form(portal, f"/agency/requests/{case.id}/messages", {"text": "x" * 4001},
                     page_url=f"/agency/requests/{case.id}")
    assert resp.status_code == 422 and 'aria-invalid="true"' in resp.get_data(as_text=True)
    assert thread(case.id) == []


def test_an_auditor_reads_the_thread_but_writes_nothing(app, new_client, make_user, make_case):
    case = make_case("legal_review")
    auditor = signed_in(new_client, make_user(Role.AUDITOR))
    page = auditor.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="messages-heading"' in page and 'id="message-text"' not in page
    resp = post_form(auditor, f"/cases/{case.id}/messages", {"text": "Hello"}, page_url=f"/cases/{case.id}")
    assert resp.status_code == 403 and thread(case.id) == []


def test_the_api_carries_messages_both_ways(app, new_client, make_user, make_agency, make_case):
    issued, other = make_agency(), make_agency()
    case = make_case("legal_review", agency=issued.agency)
    client = new_client()
    headers = api_headers(client, make_user(Role.REVIEWER))
    resp = client.post(f"/api/v1/cases/{case.id}/messages", json={"text": "Is the order signed?"},
                       headers=headers)
    assert resp.status_code == 201
    [sent] = resp.get_json()["messages"]
    assert sent["side"] == "provider" and sent["text"] == "Is the order signed?"

    agency = new_client()
    bearer = {"Authorization": f"Bearer {issued.token}"}
    body = agency.get(f"{AGENCY_API}/{case.id}", headers=bearer).get_json()
    assert body["messages"][0]["author"] == "The provider"
    assert body["needed_from_you"][0].startswith("Answer our message of")
    resp = agency.post(f"{AGENCY_API}/{case.id}/messages", json={"text": "Yes: page 3."}, headers=bearer)
    assert resp.status_code == 201
    body = resp.get_json()
    assert [m["side"] for m in body["messages"]] == ["provider", "agency"] and body["needed_from_you"] == []

    # another agency's token: the request does not exist for it, and nothing is written
    stranger = {"Authorization": f"Bearer {other.token}"}
    assert_error(agency.post(f"{AGENCY_API}/{case.id}/messages", json={"text": "Hi"}, headers=stranger),
                 404, "not_found")
    assert_error(agency.post(f"{AGENCY_API}/{case.id}/messages", json={"text": ""}, headers=bearer),
                 422, "invalid_input")
    assert_error(client.post(f"/api/v1/cases/{case.id}/messages", json={"text": "x", "side": "agency"},
                             headers=headers), 422, "invalid_input")
    assert len(thread(case.id)) == 2
    staff_view = client.get(f"/api/v1/cases/{case.id}").get_json()
    assert [m["text"] for m in staff_view["messages"]] == ["Is the order signed?", "Yes: page 3."]


def test_a_full_thread_is_refused(app, make_agency, make_case, make_user, monkeypatch):
    from tests.conftest import caller_for
    from workflows.cases import messages

    monkeypatch.setattr(messages, "THREAD_MAX", 1)
    case = make_case("legal_review")
    reviewer = make_user(Role.REVIEWER)
    cases.write_to_agency(case.id, "One", caller_for(reviewer), utcnow(), "https://x.example/")
    db.session.commit()
    with pytest.raises(Conflict) as refused:
        cases.write_to_agency(case.id, "Two", caller_for(reviewer), utcnow(), "https://x.example/")
    assert refused.value.code == "thread_full"
    db.session.rollback()
    assert len(thread(case.id)) == 1


def test_a_demand_naming_no_account_asks_the_agency_to_name_them(app, client, make_agency, make_case):
    issued = make_agency()
    case = make_case("legal_review", agency=issued.agency, identifiers=[])
    bearer = {"Authorization": f"Bearer {issued.token}"}
    body = client.get(f"{AGENCY_API}/{case.id}", headers=bearer).get_json()
    assert any(n.startswith("Name the accounts") for n in body["needed_from_you"])


# ---- collecting the production in the portal ------------------------------------------------

def collect(portal, case_id):
    page = portal.get(f"/agency/requests/{case_id}").get_data(as_text=True)
    link = page.split('name="link" value="')[1].split('"')[0] if 'name="link"' in page else "0"
    return portal.post(f"/agency/requests/{case_id}/production",
                       data={"csrf_token": csrf_from(page), "link": link})


def test_an_officer_collects_the_production_once(app, new_client, make_user, make_agency, make_case):
    agency = make_agency().agency
    case = make_case("disclosed", agency=agency)
    portal = signed_in(new_client, verified_officer(make_user, agency))
    page = portal.get(f"/agency/requests/{case.id}").get_data(as_text=True)
    assert "Download the production (once)" in page and "Collect the production, once" in page

    resp = collect(portal, case.id)
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    data = resp.get_data()
    assert hashlib.sha256(data).hexdigest() == case.disclosure.package_sha256
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert resp.headers["Cache-Control"] == "no-store"

    again = collect(portal, case.id)
    assert again.status_code == 410 and "Download the production" not in again.get_data(as_text=True)
    page = portal.get(f"/agency/requests/{case.id}").get_data(as_text=True)
    assert "Collected on" in page
    collected = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == AuditAction.PRODUCTION_COLLECTED.value))
    assert collected == 1


def test_a_stale_page_does_not_spend_a_newer_link(app, new_client, make_user, make_agency, make_case):
    agency = make_agency().agency
    case = make_case("disclosed", agency=agency)
    portal = signed_in(new_client, verified_officer(make_user, agency))
    page = portal.get(f"/agency/requests/{case.id}").get_data(as_text=True)
    resp = portal.post(f"/agency/requests/{case.id}/production",
                       data={"csrf_token": csrf_from(page), "link": "999999"})
    assert resp.status_code == 409 and "reload" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert case.disclosure.links[-1].used_at is None


def test_another_agencys_request_and_an_unverified_officer_see_nothing(app, new_client, make_user,
                                                                       make_agency, make_case):
    mine, theirs = make_agency().agency, make_agency().agency
    case = make_case("disclosed", agency=theirs)
    portal = signed_in(new_client, verified_officer(make_user, mine))
    assert portal.get(f"/agency/requests/{case.id}").status_code == 404
    assert collect(portal, case.id).status_code == 404
    resp = post_form(portal, f"/agency/requests/{case.id}/messages", {"text": "Hi"}, page_url="/agency/")
    assert resp.status_code == 404
    pending = signed_in(new_client, make_user(Role.OFFICER, agency=theirs))
    assert pending.get(f"/agency/requests/{case.id}").status_code == 404
    db.session.expire_all()
    assert case.disclosure.links[-1].used_at is None and thread(case.id) == []
