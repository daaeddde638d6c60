"""Officers (DESIGN 11.4): invited by a single-use link for their agency, they set
their own password and a second factor, see their agency's requests and nothing
else, are verified by a call-back to the agency's directory number, and can be
suspended at once. On both engines, through the CLI and the browser."""

import re
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa

from models import (
    AgencyToken,
    AuditAction,
    AuditEvent,
    Case,
    Invitation,
    Role,
    User,
    UserSession,
    db,
    utcnow,
)
from tests.conftest import PASSWORD, csrf_from, pairs, sign_in
from workflows.identity import links, officers

NEW_PASSWORD = "a passphrase only I know"


def events(action: AuditAction) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action.value)
                                   .order_by(AuditEvent.seq)))


def invite(cli, agency, email="det.rivera@police.example") -> tuple[User, str]:
    result = cli("officers", "invite", email, "--agency-id", str(agency.id), "--name", "Det. Rivera")
    assert result.exit_code == 0, result.output
    out = pairs(result.stdout)
    assert list(out) == ["officer_id", "invite_url"]
    return db.session.get(User, int(out["officer_id"])), out["invite_url"]


def accept(client, url: str, password=NEW_PASSWORD, confirm=None):
    path = url.removeprefix("http://127.0.0.1:5000")
    page = client.get(path)
    return client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                   "password": password, "confirm": confirm or password})


def test_an_invited_officer_sets_a_password_and_a_second_factor_and_sees_the_agencys_requests(
        app, cli, client, make_agency, make_case):
    mine, other = make_agency(), make_agency()
    ours = make_case("legal_review", agency=mine.agency)
    theirs = make_case("legal_review", agency=other.agency)
    officer, url = invite(cli, mine.agency)
    assert url.startswith("http://127.0.0.1:5000/agency/invitation/")
    assert (officer.role, officer.agency_id, officer.officer_verified_at) == (
        Role.OFFICER, mine.agency.id, None)
    token = url.rsplit("/", 1)[1]
    [stored] = db.session.scalars(sa.select(Invitation)).all()
    assert stored.token_hash != token and len(stored.token_hash) == 64  # kept only as a digest
    assert stored.expires_at - stored.created_at == timedelta(hours=72)
    [invited] = events(AuditAction.OFFICER_INVITED)
    assert invited.data == {"email": officer.email, "agency_id": mine.agency.id}

    page = client.get(url.removeprefix("http://127.0.0.1:5000")).get_data(as_text=True)
    assert officer.email in page and mine.agency.name in page
    assert accept(client, url, confirm="something else entirely").status_code == 422
    assert accept(client, url, password="short").status_code == 422
    done = accept(client, url)
    assert done.status_code == 303 and done.headers["Location"] == "/sign-in"
    assert len(events(AuditAction.INVITATION_ACCEPTED)) == 1

    # Password, then the authenticator, then the agency's own page.
    page = client.get("/sign-in").get_data(as_text=True)
    step = client.post("/sign-in", data={"email": officer.email, "password": NEW_PASSWORD,
                                         "csrf_token": csrf_from(page)})
    assert step.headers["Location"] == "/sign-in/enrol"
    page = client.get("/sign-in/enrol").get_data(as_text=True)
    db.session.refresh(officer)
    landed = client.post("/sign-in/enrol", data={"code": pyotp.TOTP(officer.totp_secret).now(),
                                                 "csrf_token": csrf_from(page)})
    assert landed.headers["Location"] == "/agency/"
    home = client.get("/agency/").get_data(as_text=True)
    assert mine.agency.name in home and "Not yet verified" in home
    assert f"<title>{mine.agency.name} · Due Process</title>" in home
    # Nothing of the agency's before staff confirm the officer works there; then its own, never another's.
    assert ours.reference not in home and theirs.reference not in home
    officers.verify_officer(officer.id, "callback", mine.agency.phone, "Lt. Chen", officers.Actor.system("t"),
                            utcnow())
    db.session.commit()
    home = client.get("/agency/").get_data(as_text=True)
    assert ours.reference in home and theirs.reference not in home
    for staff_page in ("/home", "/cases/", f"/cases/{ours.id}", f"/api/v1/cases/{ours.id}"):
        assert client.get(staff_page).status_code == 403, staff_page


def test_an_invitation_works_once_and_for_72_hours(app, cli, client, new_client, make_agency):
    agency = make_agency().agency
    _, url = invite(cli, agency)
    assert accept(client, url).status_code == 303
    other, path = new_client(), url.removeprefix("http://127.0.0.1:5000")
    again = other.get(path)
    assert again.status_code == 410 and "already used" in again.get_data(as_text=True)
    csrf = csrf_from(other.get("/sign-in").get_data(as_text=True))
    posted = other.post(path, data={"csrf_token": csrf, "password": "another long passphrase",
                                    "confirm": "another long passphrase"})
    assert posted.status_code == 410
    assert [e.data["reason"] for e in events(AuditAction.INVITATION_REFUSED)] == ["invitation_used"] * 2

    _, late = invite(cli, agency, email="late@police.example")
    token = late.rsplit("/", 1)[1]
    later = utcnow() + timedelta(hours=72, seconds=1)
    try:
        links.pending(token, links.INVITATION, later)
    except Exception as exc:
        assert getattr(exc, "code", "") == "invitation_expired"
    else:
        raise AssertionError("an expired invitation was accepted")
    assert new_client().get("/agency/invitation/not-a-real-token").status_code == 404


def test_an_invitation_names_an_existing_agency_and_a_new_address(app, cli, make_agency, make_user):
    agency = make_agency().agency
    assert cli("officers", "invite", "x@police.example", "--agency-id", "99999").exit_code != 0
    taken = make_user(Role.REVIEWER)
    refused = cli("officers", "invite", taken.email, "--agency-id", str(agency.id))
    assert refused.exit_code != 0 and "already exists" in refused.stderr
    assert cli("officers", "invite", "not an address", "--agency-id", str(agency.id)).exit_code != 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)) == 0


def test_staff_verify_an_officer_on_the_agencys_directory_number(app, cli, new_client, make_user,
                                                                 make_agency):
    agency = make_agency(phone="+1 206 555 0140").agency
    officer = make_user(Role.OFFICER, agency=agency)
    wrong = cli("officers", "verify", str(officer.id), "--method", "callback", "--phone", "+1 206 555 0199",
                "--spoke-with", "Lt. Chen")
    assert wrong.exit_code != 0 and "directory number" in wrong.stderr
    done = cli("officers", "verify", str(officer.id), "--method", "callback", "--phone", "+1 (206) 555-0140",
               "--spoke-with", "Lt. Chen, watch commander")
    assert done.exit_code == 0 and pairs(done.stdout)["status"] == "verified"
    db.session.refresh(officer)
    assert officer.officer_verification == {"method": "callback", "phone": "+12065550140",
                                            "spoke_with": "Lt. Chen, watch commander", "by": "cli"}
    again = cli("officers", "verify", str(officer.id), "--method", "callback", "--phone", "+12065550140",
                "--spoke-with", "Lt. Chen")
    assert again.exit_code != 0 and "already verified" in again.stderr

    client = new_client()
    sign_in(client, officer)
    assert "Verified" in client.get("/agency/").get_data(as_text=True)
    staff = make_user(Role.REVIEWER)
    assert cli("officers", "verify", str(staff.id), "--method", "callback", "--phone", "+12065550140",
               "--spoke-with", "x").exit_code != 0  # not an officer


def test_a_suspended_officer_is_signed_out_at_once_and_cannot_sign_in(app, cli, new_client, make_user):
    officer = make_user(Role.OFFICER)
    client = new_client()
    sign_in(client, officer)
    assert client.get("/agency/").status_code == 200
    result = cli("officers", "suspend", str(officer.id), "--reason",
                 "A forged emergency came from this account.")
    assert result.exit_code == 0 and pairs(result.stdout)["status"] == "suspended"
    assert client.get("/agency/").status_code == 302  # the session ended
    live = db.session.scalar(sa.select(sa.func.count()).select_from(UserSession).where(
        UserSession.user_id == officer.id, UserSession.revoked_at.is_(None)))
    assert live == 0
    page = new_client()
    form = page.get("/sign-in").get_data(as_text=True)
    refused = page.post("/sign-in", data={"email": officer.email, "password": PASSWORD,
                                          "csrf_token": csrf_from(form)})
    assert refused.status_code == 401
    [event] = events(AuditAction.OFFICER_SUSPENDED)
    assert event.data["reason"] == "A forged emergency came from this account."
    assert cli("officers", "suspend", str(officer.id)).exit_code != 0  # already suspended


def test_an_administrator_cannot_make_an_officer(app, new_client, make_user):
    from tests.conftest import post_form

    client = new_client()
    sign_in(client, make_user(Role.ADMIN))
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert 'value="officer"' not in page
    resp = post_form(client, "/admin/users/new", {"email": "fake.officer@police.example", "name": "Fake",
                                                   "role": "officer", "customer_id": "",
                                                   "password": "a long enough password"},
                     page_url="/admin/users/new")
    assert resp.status_code == 422
    assert db.session.scalar(sa.select(User).where(User.email == "fake.officer@police.example")) is None


# ---- an officer's own API tokens ---------------------------------------------------------------

def make_token(client, name="Case system") -> tuple[int, str]:
    page = client.get("/agency/").get_data(as_text=True)
    resp = client.post("/agency/tokens", data={"csrf_token": csrf_from(page), "name": name})
    body = resp.get_data(as_text=True)
    found = re.search(r'<code class="hash">(dpa_[A-Za-z0-9_-]+)</code>', body)
    return resp.status_code, found.group(1) if found else body


def as_(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def verified_officer(make_user, agency=None):
    officer = make_user(Role.OFFICER, agency=agency)
    officer.officer_verified_at = utcnow()
    db.session.commit()
    return officer


def test_a_verified_officer_makes_a_token_that_acts_as_them(app, new_client, make_user, make_agency):
    from tests.conftest import case_body

    issued = make_agency()
    officer = verified_officer(make_user, issued.agency)
    client = new_client()
    sign_in(client, officer)
    status, token = make_token(client)
    assert status == 201 and token.startswith("dpa_")
    assert token not in client.get("/agency/").get_data(as_text=True)  # shown once
    [record] = db.session.scalars(sa.select(AgencyToken).where(AgencyToken.officer_id == officer.id)).all()
    assert (record.name, record.agency_id) == ("Case system", issued.agency.id)

    api = new_client()
    sent = api.post("/api/v1/agency/requests", json=case_body(), headers={"Authorization": f"Bearer {token}"})
    assert sent.status_code == 201, sent.get_json()
    case = db.session.get(Case, sent.get_json()["id"])
    assert case.created_by_id == officer.id and case.agency_id == issued.agency.id
    [received] = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.CASE_RECEIVED.value, AuditEvent.subject_id == str(case.id))).all()
    assert received.actor == officer.email
    page = client.get("/agency/").get_data(as_text=True)
    assert case.reference in page and "Never" not in page  # last used is shown

    revoke = client.post(f"/agency/tokens/{record.id}/revoke", data={"csrf_token": csrf_from(page)})
    assert revoke.status_code == 303
    refused = api.get(f"/api/v1/agency/requests/{case.id}", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    # The agency's own system token still works.
    assert api.get(f"/api/v1/agency/requests/{case.id}",
                   headers={"Authorization": f"Bearer {issued.token}"}).status_code == 200


def test_tokens_only_after_verification_and_only_ones_own(app, new_client, make_user):
    pending = make_user(Role.OFFICER)
    client = new_client()
    sign_in(client, pending)
    status, body = make_token(client)
    assert status == 409 and "verification" in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AgencyToken).where(
        AgencyToken.officer_id == pending.id)) == 0

    owner = verified_officer(make_user)
    owner_client = new_client()
    sign_in(owner_client, owner)
    assert make_token(owner_client)[0] == 201
    [theirs] = db.session.scalars(sa.select(AgencyToken).where(AgencyToken.officer_id == owner.id)).all()
    page = client.get("/agency/").get_data(as_text=True)
    other = client.post(f"/agency/tokens/{theirs.id}/revoke", data={"csrf_token": csrf_from(page)})
    assert other.status_code == 404
    db.session.refresh(theirs)
    assert theirs.revoked_at is None
    assert make_token(owner_client, name="")[0] == 422


def test_a_failed_call_back_suspends_the_officer_who_sent_the_emergency(app, new_client, make_user,
                                                                      make_agency, case_staff):
    from tests.conftest import caller_for, case_body, confirm_by_callback
    from workflows.cases.machine import Move, advance

    issued = make_agency()
    officer = verified_officer(make_user, issued.agency)
    client = new_client()
    sign_in(client, officer)
    _, token = make_token(client)
    body = case_body(request_type="emergency", emergency_justification="A child is missing.",
                     legal_process={"type": "emergency", "issuing_authority": "", "judicial": False,
                                    "signed": False, "case_number": "", "issued_on": None},
                     categories=["subscriber"])
    sent = new_client().post("/api/v1/agency/requests", json=body,
                             headers={"Authorization": f"Bearer {token}"})
    assert sent.status_code == 201, sent.get_json()
    case_id = sent.get_json()["id"]
    reviewer = case_staff("reviewer")
    advance(case_id, Move("start_review"), caller_for(reviewer), utcnow())
    confirm_by_callback(case_id, reviewer, outcome="failed", note="The agency sent no such request.")

    db.session.expire_all()
    assert not db.session.get(User, officer.id).active
    assert client.get("/agency/").status_code == 302  # signed out at once
    assert new_client().get(f"/api/v1/agency/requests/{case_id}",
                            headers={"Authorization": f"Bearer {token}"}).status_code == 401
    [event] = events(AuditAction.OFFICER_SUSPENDED)
    case = db.session.get(Case, case_id)
    assert case.reference in event.data["reason"] and event.data["tokens_revoked"] == 1


def test_officers_manage_their_tokens_through_the_api(app, new_client, make_user, make_agency):
    issued = make_agency()
    officer = verified_officer(make_user, issued.agency)
    client = new_client()
    sign_in(client, officer)
    _, first = make_token(client, name="Portal-made")
    api = new_client()
    made = api.post("/api/v1/agency/tokens", json={"name": "Records system"}, headers=as_(first))
    assert made.status_code == 201, made.get_json()
    second = made.get_json()
    assert second["name"] == "Records system" and second["token"].startswith("dpa_")
    assert api.get("/api/v1/agency/requests/999999", headers=as_(second["token"])).status_code == 404

    blank = api.post("/api/v1/agency/tokens", json={"name": " "}, headers=as_(first))
    assert blank.status_code == 422 and "name" in blank.get_json()["fields"]
    system = api.post("/api/v1/agency/tokens", json={"name": "x"}, headers=as_(issued.token))
    assert system.status_code == 403 and system.get_json()["error"] == "officer_token_required"

    other = verified_officer(make_user, issued.agency)
    other_client = new_client()
    sign_in(other_client, other)
    make_token(other_client)
    [others_record] = db.session.scalars(sa.select(AgencyToken).where(AgencyToken.officer_id == other.id))
    assert api.delete(f"/api/v1/agency/tokens/{others_record.id}", headers=as_(first)).status_code == 404

    gone = api.delete(f"/api/v1/agency/tokens/{second['id']}", headers=as_(first))
    assert gone.status_code == 204
    assert api.get("/api/v1/agency/requests/999999", headers=as_(second["token"])).status_code == 401
    again = api.delete(f"/api/v1/agency/tokens/{second['id']}", headers=as_(first))
    assert again.status_code == 409


def test_staff_revoke_every_token_of_an_officer_at_once(app, cli, new_client, make_user, make_agency):
    issued = make_agency()
    officer = verified_officer(make_user, issued.agency)
    client = new_client()
    sign_in(client, officer)
    tokens = [make_token(client, name=f"System {n}")[1] for n in range(2)]
    result = cli("officers", "revoke-tokens", str(officer.id))
    assert result.exit_code == 0 and pairs(result.stdout) == {"officer_id": str(officer.id), "revoked": "2"}
    api = new_client()
    for token in tokens:
        refused = api.get("/api/v1/agency/requests/1", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
    kept = api.get("/api/v1/agency/requests/999999", headers={"Authorization": f"Bearer {issued.token}"})
    assert kept.status_code == 404  # the agency's own token still works
    assert client.get("/agency/").status_code == 200  # not suspended
    assert cli("officers", "revoke-tokens", "99999").exit_code != 0


# ---- rotation: a new token in place of the old, in one step -----------------------------------

def test_an_officer_rotates_a_token_in_the_portal(app, new_client, make_user, make_agency):
    issued = make_agency()
    officer = verified_officer(make_user, issued.agency)
    client = new_client()
    sign_in(client, officer)
    _, old = make_token(client, name="Case system")
    [record] = db.session.scalars(sa.select(AgencyToken).where(AgencyToken.officer_id == officer.id)).all()
    page = client.get("/agency/").get_data(as_text=True)
    resp = client.post(f"/agency/tokens/{record.id}/rotate", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 201
    new = re.search(r'<code class="hash">(dpa_[A-Za-z0-9_-]+)</code>', resp.get_data(as_text=True)).group(1)
    assert new != old and "put this one where the old one was" in resp.get_data(as_text=True)

    api = new_client()

    def status_with(token):
        headers = {"Authorization": f"Bearer {token}"}
        return api.get("/api/v1/agency/requests/999999", headers=headers).status_code

    assert (status_with(old), status_with(new)) == (401, 404)
    tokens = db.session.scalars(sa.select(AgencyToken).where(AgencyToken.officer_id == officer.id)
                                .order_by(AgencyToken.id)).all()
    assert [(t.name, t.revoked_at is None) for t in tokens] == [("Case system", False), ("Case system", True)]
    [event] = events(AuditAction.AGENCY_TOKEN_ROTATED)
    assert event.data["old_prefix"] == old[:10] and event.data["new_prefix"] == new[:10]

    again = client.post(f"/agency/tokens/{record.id}/rotate", data={"csrf_token": csrf_from(page)})
    assert again.status_code == 409 and "revoked" in again.get_data(as_text=True)
    other = verified_officer(make_user, issued.agency)
    other_client = new_client()
    sign_in(other_client, other)
    csrf = csrf_from(other_client.get("/agency/").get_data(as_text=True))
    stranger = other_client.post(f"/agency/tokens/{tokens[-1].id}/rotate", data={"csrf_token": csrf})
    assert stranger.status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AgencyToken).where(
        AgencyToken.officer_id == officer.id, AgencyToken.revoked_at.is_(None))) == 1


def test_tokens_rotate_through_the_api_the_system_token_itself_included(app, new_client, make_user,
                                                                        make_agency):
    issued = make_agency()
    officer = verified_officer(make_user, issued.agency)
    client = new_client()
    sign_in(client, officer)
    _, mine = make_token(client, name="Records system")
    api = new_client()
    [record] = db.session.scalars(sa.select(AgencyToken).where(AgencyToken.officer_id == officer.id)).all()
    rotated = api.post(f"/api/v1/agency/tokens/{record.id}/rotation", headers=as_(mine))
    assert rotated.status_code == 201, rotated.get_json()
    body = rotated.get_json()
    assert body["name"] == "Records system" and body["token"] != mine
    assert api.get("/api/v1/agency/requests/999999", headers=as_(mine)).status_code == 401
    refused = api.post(f"/api/v1/agency/tokens/{record.id}/rotation", headers=as_(issued.token))
    assert refused.status_code == 403 and refused.get_json()["error"] == "officer_token_required"

    # The agency's system token rotates itself: whoever holds it gets the new one, nobody else.
    system = api.post("/api/v1/agency/tokens/current/rotation", headers=as_(issued.token))
    assert system.status_code == 201
    fresh = system.get_json()["token"]
    assert api.get("/api/v1/agency/requests/999999", headers=as_(issued.token)).status_code == 401
    assert api.get("/api/v1/agency/requests/999999", headers=as_(fresh)).status_code == 404
    new_record = db.session.get(AgencyToken, system.get_json()["id"])
    assert new_record.officer_id is None and new_record.agency_id == issued.agency.id
    assert len(events(AuditAction.AGENCY_TOKEN_ROTATED)) == 2


@pytest.mark.slow  # a race: threads released at once
def test_two_rotations_of_one_token_at_once_make_one_successor(app, make_agency):
    from tests.conftest import TEST_ACTOR
    from tests.test_case_concurrency import in_threads
    from workflows import identity
    from workflows.errors import Conflict

    issued = make_agency()
    agency_id = issued.agency.id
    [token_id] = db.session.scalars(sa.select(AgencyToken.id).where(AgencyToken.agency_id == agency_id)).all()

    def rotate():
        new, _ = identity.rotate_token(token_id, TEST_ACTOR, utcnow())
        db.session.commit()
        return new.id

    results = in_threads(app, [rotate, rotate])
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "int"]
    assert all(r.code == "token_revoked" for r in results if isinstance(r, Conflict))
    live = db.session.scalars(sa.select(AgencyToken).where(AgencyToken.agency_id == agency_id,
                                                           AgencyToken.revoked_at.is_(None))).all()
    assert [t.id for t in live] == [r for r in results if isinstance(r, int)]
    assert len(events(AuditAction.AGENCY_TOKEN_ROTATED)) == 1
