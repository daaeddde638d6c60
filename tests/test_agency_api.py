"""The agencies' API (DESIGN section 9): a bearer token, and nothing else, lets an
agency submit demands and follow its own; it never sees another agency's
requests or the provider's internal review, and cannot set what is not its to set."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import AgencyToken, AuditAction, AuditEvent, Case, Channel, Role, db, utcnow
from tests.conftest import PASSWORD, TEST_ACTOR, assert_error, case_body, case_count, fresh_code, sign_in
from workflows.identity import directory

URL = "/api/v1/agency/requests"
AGENCY_KEYS = {"id", "reference", "state", "received_at", "due_at", "request_type", "legal_process",
               "identifiers", "categories", "outcome", "download_url", "production",
               "kind", "preserved_until", "extensions", "preservation_id", "needed_from_you", "messages",
               "annex_iii_url"}
NOT_FOUND = "No such request for your agency."


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}




def assert_token_refused(resp, with_error: bool) -> None:
    assert_error(resp, 401, "invalid_token")
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) is with_error


# ---- submitting ----------------------------------------------------------------


def test_agency_submits_a_demand(client, make_agency):
    issued = make_agency(country="US")

    resp = client.post(URL, json=case_body(), headers=bearer(issued.token))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert set(body) == AGENCY_KEYS
    assert resp.headers["Location"] == f"{URL}/{body['id']}"
    assert resp.headers["Cache-Control"] == "no-store"
    assert body["state"] == "received" and body["outcome"] == "pending"
    assert body["legal_process"] == {"type": "search_warrant", "case_number": "2:26-mj-00123"}
    assert body["identifiers"] == ["alice@contoso.example"] and body["categories"] == ["content"]
    assert body["received_at"].endswith("Z") and body["due_at"].endswith("Z")
    assert body["download_url"] is None

    case = db.session.get(Case, body["id"])
    assert case.agency_id == issued.agency.id and case.channel is Channel.API
    assert case.created_by_id is None
    [event] = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == AuditAction.CASE_RECEIVED.value))
    assert event.actor.startswith(f"agency:{issued.agency.id} ") and event.actor_id is None


def test_unverified_agency_may_submit_and_is_flagged(client, new_client, make_agency, make_user):
    issued = make_agency(verified=False)
    resp = client.post(URL, json=case_body(), headers=bearer(issued.token))
    assert resp.status_code == 201

    staff = new_client()
    user = make_user(Role.REVIEWER)
    staff.post("/api/v1/session", json={"email": user.email, "password": PASSWORD, "totp": fresh_code(user)})
    check = staff.get(f"/api/v1/cases/{resp.get_json()['id']}").get_json()["legal_check"]
    assert "agency_unverified" in {d["code"] for d in check["defects"]}
    assert check["sufficient"] is False


def test_posted_agency_id_is_refused_never_applied(client, make_agency):
    mine, theirs = make_agency(), make_agency()

    body = assert_error(client.post(URL, json=case_body(theirs.agency.id), headers=bearer(mine.token)), 422,
                        "invalid_input", ["agency_id"])
    assert "agency_id does not belong here" in body["message"]
    assert case_count() == 0


@pytest.mark.parametrize("extra", [{"state": "disclosed"}, {"version": 9}, {"assignee_id": 1}])
def test_posted_internal_fields_are_refused_never_applied(client, make_agency, extra):
    issued = make_agency()
    [key] = extra
    body = assert_error(client.post(URL, json={**case_body(), **extra}, headers=bearer(issued.token)), 422,
                        "invalid_input", [key])
    assert key in body["message"]
    assert case_count() == 0


@pytest.mark.parametrize("field, override", [
    ("received_at", {"received_at": (utcnow() + timedelta(hours=2)).isoformat()}),
    ("identifiers", {"identifiers": ["alice@contoso.example", "\u0007"]}),
    ("categories", {"categories": ["everything"]}),
    ("legal_process.type", {"legal_process": {"type": "pretty_please"}}),
], ids=["future-received", "bell-identifier", "unknown-category", "unknown-process"])
def test_bad_demand_is_refused_and_nothing_is_stored(client, make_agency, field, override):
    issued = make_agency()
    assert_error(client.post(URL, json=case_body(**override), headers=bearer(issued.token)), 422,
                 "invalid_input", [field])
    assert case_count() == 0


def test_submission_must_be_json(client, make_agency):
    issued = make_agency()
    resp = client.post(URL, data={"received_at": "2026-01-01"}, headers=bearer(issued.token))
    assert_error(resp, 415, "unsupported_media_type")
    assert case_count() == 0


# ---- following a request -------------------------------------------------------


def test_agency_reads_its_own_request_without_the_internal_review(client, make_agency, make_case, case_staff):
    issued = make_agency()
    case = make_case("challenged", agency=issued.agency)
    reviewer = case_staff("reviewer")

    resp = client.get(f"{URL}/{case.id}", headers=bearer(issued.token))
    assert resp.status_code == 200
    body = resp.get_json()
    assert set(body) == AGENCY_KEYS
    assert body["id"] == case.id and body["reference"] == case.reference
    assert body["state"] == "challenged" and body["outcome"] == "pending"
    text = resp.get_data(as_text=True)
    for internal in ("Overbroad date range.", reviewer.email, reviewer.name, "defects", "transitions",
                     "assignee", "legal_check"):
        assert internal not in text, internal


def test_disclosed_request_shows_its_outcome(client, make_agency, make_case):
    issued = make_agency()
    case = make_case("disclosed", agency=issued.agency, categories=("content",))

    body = client.get(f"{URL}/{case.id}", headers=bearer(issued.token)).get_json()
    assert body["state"] == "disclosed" and body["outcome"] == "content_disclosed"
    path = f"{URL}/{case.id}/production/"
    assert body["download_url"].startswith(f"http://localhost{path}")
    assert body["production"]["link_status"] == "available" and len(body["production"]["sha256"]) == 64


def test_an_open_request_has_no_production(client, make_agency, make_case):
    issued = make_agency()
    case = make_case("pending_approval", agency=issued.agency)
    body = client.get(f"{URL}/{case.id}", headers=bearer(issued.token)).get_json()
    assert body["download_url"] is None and body["production"] is None


def test_another_agencys_request_reads_as_unknown(client, make_agency, make_case):
    mine, theirs = make_agency(), make_agency()
    case = make_case(agency=theirs.agency)

    other = assert_error(client.get(f"{URL}/{case.id}", headers=bearer(mine.token)), 404, "not_found")
    unknown = assert_error(client.get(f"{URL}/{case.id + 1000}", headers=bearer(mine.token)), 404,
                           "not_found")
    assert other == unknown and other["message"] == NOT_FOUND
    assert case.reference not in str(other)


# ---- the token -------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_no_token_is_401(client, make_agency, make_case, method):
    issued = make_agency()
    case = make_case(agency=issued.agency)
    resp = client.get(f"{URL}/{case.id}") if method == "get" else client.post(URL, json=case_body())
    assert_token_refused(resp, with_error=False)
    assert case_count() == 1


@pytest.mark.parametrize("header", [
    "Bearer dpa_not-a-real-token",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "bearer " + "dpa_" + "x" * 500,
])
def test_bad_token_is_401(client, make_agency, header):
    make_agency()
    resp = client.post(URL, json=case_body(), headers={"Authorization": header})
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "invalid_token"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer ")
    assert case_count() == 0


def test_unknown_token_names_the_error_in_the_challenge(client, make_agency):
    make_agency()
    assert_token_refused(client.get(f"{URL}/1", headers=bearer("dpa_forged")), with_error=True)


def test_revoked_token_is_401(client, make_agency):
    issued = make_agency()
    record = db.session.scalar(select(AgencyToken).where(AgencyToken.agency_id == issued.agency.id))
    record.revoked_at = utcnow()
    db.session.commit()

    assert_token_refused(client.post(URL, json=case_body(), headers=bearer(issued.token)), with_error=True)
    assert case_count() == 0


@pytest.mark.parametrize("role", [Role.INTAKE, Role.ADMIN, Role.CUSTOMER])
def test_browser_session_never_authorises_the_agency_api(client, make_user, make_case, role):
    case = make_case()
    resp = sign_in(client, make_user(role))
    assert resp.status_code == 302 and not resp.headers["Location"].startswith("/sign-in")

    assert_token_refused(client.get(f"{URL}/{case.id}"), with_error=False)
    assert_token_refused(client.post(URL, json=case_body()), with_error=False)
    assert case_count() == 1


def test_api_session_never_authorises_the_agency_api(client, make_user):
    user = make_user(Role.INTAKE)
    resp = client.post("/api/v1/session", json={"email": user.email, "password": PASSWORD,
                                                "totp": fresh_code(user)})
    csrf = resp.get_json()["csrf_token"]

    assert_token_refused(client.post(URL, json=case_body(), headers={"X-CSRFToken": csrf}), with_error=False)
    assert case_count() == 0


def test_token_use_is_stamped(client, make_agency):
    issued = make_agency()
    client.get(f"{URL}/1", headers=bearer(issued.token))

    record = db.session.scalar(select(AgencyToken).where(AgencyToken.agency_id == issued.agency.id))
    db.session.refresh(record)
    assert record.last_used_at is not None
    assert utcnow() - record.last_used_at < timedelta(minutes=1)


def test_authenticate_token(app, make_agency):
    issued = make_agency()
    now = utcnow()

    assert directory.authenticate_token(issued.token, now).id == issued.agency.id
    record = db.session.scalar(select(AgencyToken).where(AgencyToken.agency_id == issued.agency.id))
    assert record.last_used_at == now
    # Within a minute the stamp stays: a busy client does not write on every call.
    assert directory.authenticate_token(issued.token, now + timedelta(seconds=30)) is not None
    assert record.last_used_at == now
    assert directory.authenticate_token(issued.token, now + timedelta(minutes=2)) is not None
    assert record.last_used_at == now + timedelta(minutes=2)

    for bad in (None, "", "dpa_unknown", issued.token + "x", issued.token[4:], "dpa_é" + issued.token[5:]):
        assert directory.authenticate_token(bad, now) is None, bad
    second = directory.issue_token(issued.agency, TEST_ACTOR, now)
    record.revoked_at = now
    assert directory.authenticate_token(issued.token, now) is None
    assert directory.authenticate_token(second, now).id == issued.agency.id


# ---- the description -----------------------------------------------------------


def test_openapi_describes_the_agency_api(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert {"post"} <= set(spec["paths"]["/agency/requests"])
    assert {"get"} <= set(spec["paths"]["/agency/requests/{case_id}"])
    assert spec["components"]["securitySchemes"]["agencyToken"] == {
        "type": "http", "scheme": "bearer", "description": "the agency's token from `flask agencies create`"}
    assert set(spec["components"]["schemas"]["AgencyCase"]["properties"]) == AGENCY_KEYS
    request_schema = spec["components"]["schemas"]["AgencyRequest"]
    assert "agency_id" not in request_schema["properties"]
    assert request_schema["additionalProperties"] is False
    download = spec["paths"]["/agency/requests/{case_id}/production/{token}"]["get"]
    assert {"200", "401", "404", "410"} <= set(download["responses"])
    for path in ("/agency/requests", "/agency/requests/{case_id}",
                 "/agency/requests/{case_id}/production/{token}"):
        for operation in spec["paths"][path].values():
            assert operation["security"] == [{"agencyToken": []}]
            assert "401" in operation["responses"]

