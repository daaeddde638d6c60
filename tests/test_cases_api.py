"""The staff case API (DESIGN section 9): log a demand, attach its process, read a
case, fire triggers. Bad input is a 4xx in the one error shape, and leaves
nothing behind; every state change goes through the machine's rules."""

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from io import BytesIO

import pytest
from sqlalchemy import func, select

from models import AuditAction, AuditEvent, Case, CaseDocument, Role, State, UserSession, db, utcnow
from tests.conftest import PASSWORD, PDF_BYTES, assert_error, case_body, case_count, fresh_code, window_ran
from workflows.disclosure import documents

CASE_KEYS = {
    "id", "reference", "state", "outcome", "version", "agency", "received_at", "channel",
    "request_type", "legal_process", "identifiers", "categories", "date_range", "ndo", "emergency",
    "emergency_justification", "legal_check", "available_triggers", "due_at", "due_status",
    "assignee", "proposal", "disclosure", "document", "transitions",
    # DESIGN 11.7: preservation requests and the demands that follow them
    "kind", "preserved_until", "extensions", "preservation_id", "holds", "followed_by",
    "enforcing", "verifications", "messages", "notes", "objection_deadline",
}
PROCESS_KEYS = {"type", "issuing_authority", "judicial", "issued_on", "expires_on", "signed",
                "case_number", "response_due", "enforcing_state", "enforcing_authority_notified"}
DEFECT_KEYS = {"code", "severity", "message", "category", "source"}
TRANSITION_KEYS = {"seq", "trigger", "from", "to", "actor", "at", "note", "data"}
DOCUMENT_KEYS = {"id", "sha256", "size", "filename", "uploaded_at"}
MB = 1024 * 1024


@dataclass
class Staff:
    """A member of staff signed in through POST /api/v1/session."""

    client: object
    csrf: str
    user: object

    def post(self, url, body=None, **kwargs):
        return self.client.post(url, json=body, headers={"X-CSRFToken": self.csrf}, **kwargs)

    def get(self, url):
        return self.client.get(url)

    def upload(self, case_id, data: bytes, filename="warrant.pdf"):
        return self.client.post(f"/api/v1/cases/{case_id}/document", headers={"X-CSRFToken": self.csrf},
                                data={"file": (BytesIO(data), filename)}, content_type="multipart/form-data")

    def fire(self, case_id, trigger, **fields):
        return self.post(f"/api/v1/cases/{case_id}/transitions", {"trigger": trigger, **fields})


@pytest.fixture
def staff(new_client, make_user):
    """staff(Role.INTAKE) or staff(user): a fresh client signed in over the API."""

    def sign_in(who) -> Staff:
        user = make_user(who) if isinstance(who, Role) else who
        client = new_client()
        credentials = {"email": user.email, "password": PASSWORD}
        if user.mfa_required:
            credentials["totp"] = fresh_code(user)
        resp = client.post("/api/v1/session", json=credentials)
        assert resp.status_code == 200, resp.get_json()
        return Staff(client, resp.get_json()["csrf_token"], user)

    return sign_in




def current(case_id: int) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case_id)


# ---- logging a demand ----------------------------------------------------------


def test_intake_logs_a_demand_and_gets_the_case_json(staff, make_agency):
    agency = make_agency(country="US").agency
    intake = staff(Role.INTAKE)

    resp = intake.post("/api/v1/cases", case_body(agency.id))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert set(body) == CASE_KEYS
    assert resp.headers["Location"] == f"/api/v1/cases/{body['id']}"
    assert body["state"] == "received" and body["outcome"] == "pending" and body["version"] == 1
    assert body["reference"].startswith(f"LE-{utcnow().year}-")
    assert body["agency"] == {"id": agency.id, "name": agency.name, "country": "US", "verified": True}
    assert set(body["legal_process"]) == PROCESS_KEYS
    assert body["legal_process"]["type"] == "search_warrant"
    assert body["identifiers"] == ["alice@contoso.example"] and body["categories"] == ["content"]
    assert body["date_range"] == {"from": "2026-01-01", "to": "2026-02-28"}
    assert set(body["ndo"]) == {"present", "statute", "ends_on"}
    assert body["received_at"].endswith("Z") and body["due_at"].endswith("Z")
    assert body["channel"] == "email" and body["emergency"] is False
    check = body["legal_check"]
    assert set(check) == {"sufficient", "authorised_categories", "defects"}
    assert check["sufficient"] is False  # no document yet
    assert all(set(d) == DEFECT_KEYS for d in check["defects"])
    assert "document_missing" in {d["code"] for d in check["defects"]}
    assert body["available_triggers"] == ["withdraw"]  # all intake may fire
    assert body["assignee"] is None and body["proposal"] is None and body["disclosure"] is None
    assert body["document"] is None and body["transitions"] == []

    case = current(body["id"])
    assert case.created_by_id == intake.user.id and case.state is State.RECEIVED
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == AuditAction.CASE_RECEIVED.value, AuditEvent.actor_id == intake.user.id)) == 1


@pytest.mark.parametrize("field, override", [
    ("received_at", {"received_at": (utcnow() + timedelta(days=1)).isoformat()}),
    ("identifiers", {"identifiers": ["alice@contoso.example", "  "]}),
    ("categories", {"categories": ["content", "thoughts"]}),
    ("legal_process.type", {"legal_process": {"type": "royal_decree"}}),
    ("state", {"state": "disclosed"}),
    ("version", {"version": 7}),
], ids=["future-received", "blank-identifier", "unknown-category", "unknown-process", "state", "version"])
def test_bad_demand_is_refused_and_nothing_is_stored(staff, make_agency, field, override):
    agency = make_agency().agency
    intake = staff(Role.INTAKE)
    before = case_count()

    assert_error(intake.post("/api/v1/cases", case_body(agency.id, **override)), 422, "invalid_input",
                 [field])
    assert case_count() == before


def test_unknown_agency_is_refused(staff):
    intake = staff(Role.INTAKE)

    assert_error(intake.post("/api/v1/cases", case_body(424242)), 422, "invalid_input", ["agency_id"])
    assert case_count() == 0


def test_demand_must_be_json(staff, make_agency):
    intake = staff(Role.INTAKE)
    resp = intake.client.post("/api/v1/cases", data={"agency_id": "1"},
                              headers={"X-CSRFToken": intake.csrf})
    assert_error(resp, 415, "unsupported_media_type")


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.APPROVER, Role.ADMIN, Role.AUDITOR, Role.CUSTOMER])
def test_only_intake_logs_demands(staff, make_agency, role):
    agency = make_agency().agency
    assert_error(staff(role).post("/api/v1/cases", case_body(agency.id)), 403, "forbidden")
    assert case_count() == 0


def test_writes_need_the_csrf_header(staff, make_agency):
    agency = make_agency().agency
    intake = staff(Role.INTAKE)
    assert_error(intake.client.post("/api/v1/cases", json=case_body(agency.id)), 400, "csrf_failed")
    assert case_count() == 0


def test_anonymous_caller_is_told_to_sign_in(client, make_case):
    case = make_case()
    assert_error(client.get(f"/api/v1/cases/{case.id}"), 401, "unauthenticated")


# ---- the process document ------------------------------------------------------


@pytest.mark.parametrize("role", [Role.INTAKE, Role.REVIEWER, Role.APPROVER])
def test_document_upload_is_stored_with_its_digest(staff, make_case, role):
    case = make_case(document=False)
    resp = staff(role).upload(case.id, PDF_BYTES, "warrant.pdf")

    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert set(body) == DOCUMENT_KEYS
    assert body["sha256"] == hashlib.sha256(PDF_BYTES).hexdigest()
    assert body["size"] == len(PDF_BYTES) and body["filename"] == "warrant.pdf"
    assert body["uploaded_at"].endswith("Z")
    [document] = current(case.id).documents
    assert document.id == body["id"]


def test_uploaded_document_clears_the_missing_document_defect(staff, make_case):
    case = make_case(document=False)
    reviewer = staff(Role.REVIEWER)
    codes = {d["code"] for d in reviewer.get(f"/api/v1/cases/{case.id}").get_json()["legal_check"]["defects"]}
    assert "document_missing" in codes

    reviewer.upload(case.id, PDF_BYTES)
    body = reviewer.get(f"/api/v1/cases/{case.id}").get_json()
    assert body["legal_check"]["sufficient"] is True
    assert set(body["document"]) == DOCUMENT_KEYS


def stored_files(app) -> list:
    return [p for p in documents.folder_for(app.instance_path).iterdir()]


@pytest.mark.parametrize("data, filename, status, code", [
    (b"MZ\x90\x00 this is a program, not a PDF", "warrant.pdf", 422, "invalid_input"),
    (PDF_BYTES, "../x.pdf", 422, "invalid_input"),
    (PDF_BYTES, "invoice\u202efdp.exe", 422, "invalid_input"),
    (PDF_BYTES + b"\0" * (20 * MB), "big.pdf", 413, "too_large"),  # past 20 MB: the workflow refuses
    (PDF_BYTES + b"\0" * (22 * MB), "huge.pdf", 413, "too_large"),  # past the request limit
], ids=["not-a-pdf", "path-name", "reversed-name", "over-20-mb", "over-request-limit"])
def test_bad_upload_is_refused_and_nothing_is_kept(app, staff, make_case, data, filename, status, code):
    case = make_case(document=False)
    resp = staff(Role.INTAKE).upload(case.id, data, filename)

    assert_error(resp, status, code, ["file"])
    assert db.session.scalar(select(func.count()).select_from(CaseDocument)) == 0
    assert stored_files(app) == []


def test_upload_without_the_file_field_is_refused(staff, make_case):
    case = make_case(document=False)
    intake = staff(Role.INTAKE)
    resp = intake.client.post(f"/api/v1/cases/{case.id}/document", headers={"X-CSRFToken": intake.csrf},
                              data={"document": "nothing"}, content_type="multipart/form-data")
    assert_error(resp, 422, "invalid_input", ["file"])


def test_upload_to_an_unknown_case_is_404(staff):
    assert_error(staff(Role.INTAKE).upload(999, PDF_BYTES), 404, "not_found")


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR])
def test_upload_needs_a_case_working_role(staff, make_case, role):
    case = make_case(document=False)
    assert_error(staff(role).upload(case.id, PDF_BYTES), 403, "forbidden")
    assert current(case.id).documents == []


# ---- reading a case ------------------------------------------------------------


@pytest.mark.parametrize("role, triggers", [
    (Role.INTAKE, ["withdraw"]),
    (Role.REVIEWER, ["redirect", "challenge", "amend", "propose_disclosure", "no_data_found", "reject",
                     "withdraw"]),
    (Role.AUDITOR, []),
])
def test_available_triggers_are_the_callers(staff, make_case, role, triggers):
    case = make_case("legal_review")
    body = staff(role).get(f"/api/v1/cases/{case.id}").get_json()
    assert set(body) == CASE_KEYS
    assert body["available_triggers"] == triggers


def test_reading_a_case_is_audited(staff, make_case):
    case = make_case()
    auditor = staff(Role.AUDITOR)
    assert auditor.get(f"/api/v1/cases/{case.id}").status_code == 200

    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == AuditAction.CASE_VIEWED.value))
    assert event.actor_id == auditor.user.id and event.subject_id == str(case.id)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CUSTOMER])
def test_admins_and_customers_cannot_read_cases(staff, make_case, role):
    case = make_case()
    body = assert_error(staff(role).get(f"/api/v1/cases/{case.id}"), 403, "forbidden")
    assert case.reference not in str(body)


def test_unknown_case_is_404(staff):
    assert_error(staff(Role.REVIEWER).get("/api/v1/cases/12345"), 404, "not_found")


@pytest.mark.parametrize("state, categories, outcome", [
    ("received", ("content",), "pending"),
    ("pending_approval", ("content",), "pending"),
    ("disclosed", ("content", "subscriber"), "content_disclosed"),
    ("disclosed", ("subscriber", "non_content"), "non_content_disclosed"),
    ("no_data", ("content",), "no_data_found"),
    ("rejected", ("content",), "rejected"),
    ("resolved_by_customer", ("content",), "resolved_by_customer"),
    ("withdrawn", ("content",), "withdrawn"),
])
def test_outcome_follows_design_section_6(staff, make_case, state, categories, outcome):
    case = make_case(state, categories=categories)
    body = staff(Role.AUDITOR).get(f"/api/v1/cases/{case.id}").get_json()
    assert body["state"] == state and body["outcome"] == outcome


def test_due_status_is_computed(staff, make_agency, make_case):
    agency = make_agency().agency
    yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
    overdue = make_case(agency=agency, body=case_body(
        agency.id, received_at=(utcnow() - timedelta(days=3)).isoformat(),
        legal_process={"response_due": yesterday}))
    soon = make_case(agency=agency, body=case_body(
        agency.id, legal_process={"response_due": utcnow().date().isoformat()}))
    later = make_case(agency=agency)
    reviewer = staff(Role.REVIEWER)

    statuses = [reviewer.get(f"/api/v1/cases/{c.id}").get_json()["due_status"]
                for c in (overdue, soon, later)]
    assert statuses == ["overdue", "due_soon", None]


# ---- transitions ---------------------------------------------------------------


def test_reviewer_starts_review_and_is_assigned(staff, make_case):
    case = make_case()
    reviewer = staff(Role.REVIEWER)

    resp = reviewer.fire(case.id, "start_review", version=1)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert set(body) == CASE_KEYS
    assert body["state"] == "legal_review" and body["version"] == 2
    me = reviewer.user
    assert body["assignee"] == {"id": me.id, "name": me.name, "email": me.email}
    [step] = body["transitions"]
    assert set(step) == TRANSITION_KEYS
    assert (step["seq"], step["trigger"], step["from"], step["to"]) == (2, "start_review", "received",
                                                                      "legal_review")
    assert step["actor"] == reviewer.user.email and step["at"].endswith("Z")


def test_illegal_trigger_for_the_state_is_409(staff, make_case):
    case = make_case()
    body = assert_error(staff(Role.APPROVER).fire(case.id, "approve"), 409, "illegal_transition")
    assert "received" in body["message"]
    assert current(case.id).state is State.RECEIVED


def test_stale_version_is_409(staff, make_case):
    case = make_case("legal_review")
    assert_error(staff(Role.REVIEWER).fire(case.id, "challenge", note="Overbroad.", version=1), 409,
                 "stale_version")
    assert current(case.id).state is State.LEGAL_REVIEW


@pytest.mark.parametrize("trigger, fields, reason", [
    ("challenge", {}, "note_required"),
    ("reject", {}, "reason_required"),
    ("reject", {"reason": "other"}, "note_required"),
    ("withdraw", {"note": "   "}, "note_required"),
    ("propose_disclosure", {}, "categories_required"),
    ("propose_disclosure", {"categories": []}, "categories_required"),
])
def test_failed_guard_is_422_with_reasons(staff, make_case, trigger, fields, reason):
    case = make_case("legal_review")
    version = case.version
    assert_error(staff(Role.REVIEWER).fire(case.id, trigger, **fields), 422, "guard_failed", [reason])
    after = current(case.id)
    assert after.state is State.LEGAL_REVIEW and after.version == version


def test_unknown_reason_is_refused(staff, make_case):
    case = make_case("legal_review")
    assert_error(staff(Role.REVIEWER).fire(case.id, "reject", reason="bored"), 422, "invalid_input",
                 ["reason"])


def test_posted_state_is_refused_never_applied(staff, make_case):
    case = make_case("legal_review")
    reviewer = staff(Role.REVIEWER)
    body = assert_error(reviewer.fire(case.id, "challenge", note="Overbroad.", state="disclosed"), 422,
                        "invalid_input", ["state"])
    assert "state" in body["message"]
    assert_error(reviewer.post(f"/api/v1/cases/{case.id}/transitions", {"state": "disclosed"}), 422,
                 "invalid_input", ["state", "trigger"])
    assert current(case.id).state is State.LEGAL_REVIEW


@pytest.mark.parametrize("body, reason", [
    ({"trigger": "teleport"}, "trigger"),
    ({"trigger": 5}, "trigger"),
    ({"trigger": "challenge", "note": "x", "version": "1"}, "version"),
    ({"trigger": "challenge", "note": "x", "version": True}, "version"),
    ({"trigger": "challenge", "note": "x", "version": -2}, "version"),
    ({"trigger": "challenge", "note": "x", "version": 2.5}, "version"),
    ({"trigger": "challenge", "note": "bell\x07"}, "note"),
    ({"trigger": "challenge", "note": "x" * 4001}, "note"),
    ({"trigger": "reject", "reason": "bored"}, "reason"),
    ({"trigger": "approve", "categories": ["everything"]}, "categories"),
    ({"trigger": "challenge_lost", "identifiers": []}, "identifiers"),
    (["challenge"], "body"),
], ids=["unknown-trigger", "number-trigger", "text-version", "bool-version", "negative-version",
        "fraction-version", "control-in-note", "long-note", "unknown-reason", "unknown-category",
        "no-identifiers", "list-body"])
def test_malformed_move_is_refused(staff, make_case, body, reason):
    case = make_case("legal_review")
    resp = staff(Role.REVIEWER).post(f"/api/v1/cases/{case.id}/transitions", body)
    assert_error(resp, 422, "invalid_input", [reason])


def test_a_version_written_with_a_point_is_the_same_version(staff, make_case):
    case = make_case("legal_review")
    resp = staff(Role.REVIEWER).post(f"/api/v1/cases/{case.id}/transitions",
                                     {"trigger": "challenge", "note": "Overbroad.", "version": 2.0})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == "challenged"


@pytest.mark.parametrize("role, trigger, state", [
    (Role.INTAKE, "start_review", "received"),
    (Role.INTAKE, "reject", "legal_review"),
    (Role.REVIEWER, "approve", "pending_approval"),
    (Role.REVIEWER, "send_back", "pending_approval"),
])
def test_role_not_allowed_for_the_trigger_is_403(staff, make_case, role, trigger, state):
    case = make_case(state)
    assert_error(staff(role).fire(case.id, trigger, note="n", reason="overbroad"), 403, "forbidden")
    assert current(case.id).state.value == state


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR])
def test_admins_and_auditors_fire_nothing(staff, make_case, role):
    case = make_case()
    assert_error(staff(role).fire(case.id, "withdraw", note="n"), 403, "forbidden")


def test_intake_may_withdraw(staff, make_case):
    case = make_case()
    body = staff(Role.INTAKE).fire(case.id, "withdraw", note="The agency withdrew by phone.").get_json()
    assert body["state"] == "withdrawn" and body["outcome"] == "withdrawn"
    assert body["transitions"][-1]["note"] == "The agency withdrew by phone."
    assert body["available_triggers"] == [] and body["due_status"] is None


def test_approve_by_the_proposer_is_403(staff, make_case, case_staff):
    case = make_case("legal_review")
    approver = staff(case_staff("approver"))
    assert approver.fire(case.id, "propose_disclosure", categories=["content"]).status_code == 200

    body = approver.get(f"/api/v1/cases/{case.id}").get_json()
    assert "approve" not in body["available_triggers"]
    assert_error(approver.fire(case.id, "approve"), 403, "own_proposal")
    assert current(case.id).state is State.PENDING_APPROVAL


def test_approve_with_a_stale_sign_in_needs_reauthentication(staff, make_case):
    case = make_case("pending_approval")
    approver = staff(Role.APPROVER)
    record = db.session.scalar(select(UserSession).where(UserSession.user_id == approver.user.id))
    record.authenticated_at = utcnow() - timedelta(minutes=11)
    db.session.commit()

    body = assert_error(approver.fire(case.id, "approve"), 401, "reauth_required")
    assert "10 minutes" in body["message"]
    assert current(case.id).state is State.PENDING_APPROVAL


def test_full_flow_through_the_api_reaches_disclosed(staff, make_agency, make_customer):
    agency = make_agency(country="US").agency
    account = make_customer(kind="consumer").accounts[0].identifier
    intake, reviewer = staff(Role.INTAKE), staff(Role.REVIEWER)
    proposer, approver = staff(Role.APPROVER), staff(Role.APPROVER)

    created = intake.post("/api/v1/cases", case_body(agency.id, identifiers=[account],
                                                     categories=["content", "subscriber"]))
    case_id = created.get_json()["id"]
    assert intake.upload(case_id, PDF_BYTES).status_code == 201
    assert reviewer.fire(case_id, "start_review", version=1).status_code == 200
    resp = proposer.fire(case_id, "propose_disclosure", categories=["content"], version=2)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["proposal"]["categories"] == ["content"]
    assert resp.get_json()["proposal"]["proposed_by"]["id"] == proposer.user.id
    assert "approve" in approver.get(f"/api/v1/cases/{case_id}").get_json()["available_triggers"]

    window_ran(case_id)
    resp = approver.fire(case_id, "approve", version=3)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["state"] == "disclosed" and body["outcome"] == "content_disclosed"
    assert body["disclosure"]["categories"] == ["content"]
    assert body["disclosure"]["identifiers"] == [account]
    assert body["disclosure"]["approved_by"]["id"] == approver.user.id
    assert body["disclosure"]["approved_at"].endswith("Z")
    assert [(t["trigger"], t["to"]) for t in body["transitions"]] == [
        ("start_review", "legal_review"), ("propose_disclosure", "pending_approval"),
        ("approve", "disclosed"),
    ]
    assert body["available_triggers"] == []

    assert_error(approver.fire(case_id, "approve"), 409, "illegal_transition")


# ---- the description -----------------------------------------------------------


def test_openapi_describes_every_case_endpoint(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert {"post"} <= set(paths["/cases"])
    assert {"get"} <= set(paths["/cases/{case_id}"])
    assert {"post"} <= set(paths["/cases/{case_id}/document"])
    assert {"post"} <= set(paths["/cases/{case_id}/transitions"])
    assert {"201", "409", "422"} <= set(paths["/cases/{case_id}/production/link"]["post"]["responses"])
    assert {"401", "403", "409", "422"} <= set(paths["/cases/{case_id}/transitions"]["post"]["responses"])
    assert {"413", "422"} <= set(paths["/cases/{case_id}/document"]["post"]["responses"])
    schemas = spec["components"]["schemas"]
    assert set(schemas["Case"]["properties"]) == CASE_KEYS
    assert set(schemas["LegalProcess"]["properties"]) == PROCESS_KEYS
    assert set(schemas["Defect"]["properties"]) == DEFECT_KEYS
    assert set(schemas["Transition"]["properties"]) == TRANSITION_KEYS
    assert set(schemas["Move"]["properties"]) == {"trigger", "note", "reason", "categories", "identifiers",
                                                  "version"}
