"""The staff pages for cases: the queue and its filters, my cases, the intake form,
the case page with its legal check and its actions, the document, and the
re-authentication that approving needs."""

import re
from datetime import timedelta
from html import escape
from io import BytesIO
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from models import (
    AuditAction,
    AuditEvent,
    Case,
    CaseDocument,
    CaseTransition,
    Disclosure,
    Role,
    State,
    UserSession,
    db,
    utcnow,
)
from tests.conftest import (
    PDF_BYTES,
    caller_for,
    case_body,
    case_count,
    csrf_from,
    fresh_code,
    sign_in,
    window_ran,
)
from workflows import legal
from workflows.cases import intake
from workflows.cases import machine as case_machine

# ---- helpers ------------------------------------------------------------------


@pytest.fixture
def staff(new_client, make_user):
    """staff(Role.REVIEWER) -> (client signed in as a new user of that role, the user)."""

    def make(role, user=None):
        user = user or make_user(role)
        client = new_client()
        resp = sign_in(client, user)
        assert resp.status_code == 302 and "/sign-in" not in resp.headers["Location"]
        return client, user

    return make


def html(resp) -> str:
    return resp.get_data(as_text=True)


def triggers_on(page: str) -> set[str]:
    return set(re.findall(r'name="trigger" value="(\w+)"', page))


def references(page: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/cases/\d+">(LE-\d{4}-\d{6})</a>', page)


def row_of(page: str, reference: str) -> str:
    # The row may open with the cell that ticks it for assignment.
    pick = r'(?:<td class="pick">(?:<input[^>]*>)?</td>\s*)?'
    match = re.search(rf"<tr[^>]*>\s*{pick}<th scope=\"row\"><a[^>]*>{reference}</a>.*?</tr>", page, re.S)
    assert match, f"{reference} is not in the table"
    return match.group(0)


def count_shown(page: str, state: str) -> int:
    match = re.search(rf'state={state}"[^>]*>[^<]*<span class="count">(\d+)</span>', page)
    assert match, f"no count for {state}"
    return int(match.group(1))


def act(client, case_id: int, trigger: str, confirm: bool = True, **fields):
    """Submit one action form of the case page, as the browser does: with its
    confirmation ticked, where it has one, unless `confirm` is False."""
    page = html(client.get(f"/cases/{case_id}"))
    form = re.search(rf'<form[^>]*id="action-{trigger}".*?</form>', page, re.S)
    assert form, f"no {trigger} form on the page"
    version = re.search(r'name="version" value="(\d+)"', form.group(0)).group(1)
    data = {"csrf_token": csrf_from(page), "trigger": trigger, "version": version, **fields}
    if confirm and 'name="confirm"' in form.group(0):
        data["confirm"] = "yes"
    return client.post(f"/cases/{case_id}/transitions", data=data)



def document_count() -> int:
    return db.session.scalar(select(func.count()).select_from(CaseDocument))


def stored_files(app) -> list[str]:
    folder = Path(app.instance_path) / "documents"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def events(action: AuditAction, case_id: int | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action.value).order_by(AuditEvent.seq)
    if case_id is not None:
        query = query.where(AuditEvent.subject_type == "case", AuditEvent.subject_id == str(case_id))
    return list(db.session.scalars(query))


def state_of(case_id: int) -> State:
    db.session.expire_all()
    return db.session.get(Case, case_id).state


# ---- the queue ----------------------------------------------------------------


def test_queue_shows_open_cases_with_counts_per_state(staff, make_case):
    received = make_case("received")
    review = make_case("legal_review")
    closed = make_case("rejected")
    client, _ = staff(Role.REVIEWER)
    page = html(client.get("/cases/"))
    assert set(references(page)) == {received.reference, review.reference}
    assert count_shown(page, "received") == 1
    assert count_shown(page, "legal_review") == 1
    assert count_shown(page, "rejected") == 1
    assert count_shown(page, "disclosed") == 0
    assert '<a href="/cases/?state=rejected"' in page
    # The count links filter: closed cases are reached through their state.
    assert references(html(client.get("/cases/?state=rejected"))) == [closed.reference]


def test_queue_filters(staff, make_case, make_agency):
    today = utcnow().date()
    us = make_case("received")
    de = make_case("legal_review", process="epoc", country="DE", categories=("subscriber",))
    emergency = make_case("received", process="emergency", request_type="emergency",
                          emergency_justification="A child is missing.", document=False)
    gagged = make_case("received", ndo={"present": True, "statute": "18 U.S.C. 2705(b)",
                                        "ends_on": (today + timedelta(days=90)).isoformat()})
    client, _ = staff(Role.AUDITOR)

    def shown(query: str) -> set[str]:
        resp = client.get(f"/cases/?{query}")
        assert resp.status_code == 200
        return set(references(html(resp)))

    assert shown("") == {us.reference, de.reference, emergency.reference, gagged.reference}
    assert shown("country=DE") == {de.reference}
    assert shown("country=de") == {de.reference}
    assert shown("state=legal_review") == {de.reference}
    assert shown("assignee=none") == {us.reference, emergency.reference, gagged.reference}
    assert shown(f"assignee={de.assignee_id}") == {de.reference}
    assert shown("process_type=epoc") == {de.reference}
    assert shown("emergency=yes") == {emergency.reference}
    assert emergency.reference not in shown("emergency=no")
    assert shown("ndo=yes") == {gagged.reference}
    assert shown("country=US&ndo=no&emergency=no") == {us.reference}
    # Emergencies come first.
    assert references(html(client.get("/cases/")))[0] == emergency.reference
    # The form shows the filters in force.
    page = html(client.get("/cases/?country=DE&emergency=no"))
    assert '<option selected value="DE">' in page or '<option value="DE" selected>' in page


@pytest.mark.parametrize("query, message", [
    ("state=lost", "Unknown state"),
    ("country=Germany", "two-letter code"),
    ("emergency=maybe", "emergency takes yes or no"),
    ("after=not-a-cursor", "page link is damaged"),
])
def test_queue_explains_bad_filters(staff, make_case, query, message):
    make_case("received")
    client, _ = staff(Role.REVIEWER)
    resp = client.get(f"/cases/?{query}")
    assert resp.status_code == 422
    assert message in html(resp)
    assert references(html(resp)) == []


def test_queue_pages_with_a_cursor_and_keeps_the_filters(staff, make_case, make_agency):
    agency = make_agency(country="US").agency
    made = {
        make_case("received", agency=agency, identifiers=[f"user{n}@example.com"], document=False).reference
        for n in range(55)
    }
    other = make_case("received", country="FR", process="local_order", categories=("subscriber",))
    client, _ = staff(Role.REVIEWER)
    first = html(client.get("/cases/?country=US"))
    assert len(references(first)) == 50
    assert other.reference not in references(first)
    assert "First page" not in first
    link = re.search(r'<a href="([^"]+)">Next page</a>', first).group(1).replace("&amp;", "&")
    assert "country=US" in link and "after=" in link
    second = html(client.get(link))
    assert len(references(second)) == 5
    assert set(references(first)) | set(references(second)) == made
    assert not set(references(first)) & set(references(second))
    assert "Next page" not in second
    assert '<a href="/cases/?country=US">First page</a>' in second


def test_overdue_and_due_soon_are_marked_in_words(staff, make_case, make_agency):
    now = utcnow()
    agency = make_agency().agency
    overdue = make_case("received", agency=agency, body=case_body(
        agency.id, received_at=(now - timedelta(days=20)).isoformat(),
        legal_process={"type": "subpoena", "issued_on": (now - timedelta(days=21)).date().isoformat()},
        categories=["subscriber"], identifiers=["late@example.com"]))
    tomorrow_on = (now + timedelta(days=1)).date().isoformat()
    soon = make_case("received", agency=agency, body=case_body(
        agency.id, legal_process={"type": "subpoena", "response_due": tomorrow_on},
        categories=["subscriber"], identifiers=["soon@example.com"]))
    relaxed = make_case("received", agency=agency, identifiers=["relaxed@example.com"])
    client, _ = staff(Role.REVIEWER)
    page = html(client.get("/cases/"))
    assert "Overdue</span>" in row_of(page, overdue.reference)
    assert "Due soon</span>" in row_of(page, soon.reference)
    assert "Overdue</span>" not in row_of(page, relaxed.reference)
    assert "Due soon</span>" not in row_of(page, relaxed.reference)
    assert references(html(client.get("/cases/?overdue=yes"))) == [overdue.reference]
    assert references(html(client.get("/cases/?due_soon=yes"))) == [soon.reference]
    case_page = html(client.get(f"/cases/{overdue.id}"))
    assert "Overdue</span>" in case_page


def test_my_cases_are_the_ones_assigned_to_me(staff, make_case, case_staff):
    mine = make_case("legal_review")  # started by case_staff("reviewer")
    unassigned = make_case("received")
    client, me = staff(Role.REVIEWER, user=case_staff("reviewer"))
    assert mine.assignee_id == me.id
    page = html(client.get("/cases/mine"))
    assert references(page) == [mine.reference]
    assert unassigned.reference not in page
    assert 'name="assignee"' not in page
    other, _ = staff(Role.REVIEWER)
    assert references(html(other.get("/cases/mine"))) == []


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CUSTOMER])
@pytest.mark.parametrize("path", [
    "/cases/", "/cases/mine", "/cases/new", "/cases/{id}", "/cases/{id}/document"])
def test_admins_and_customers_have_no_case_pages(staff, make_case, role, path):
    case = make_case("received")
    client, _ = staff(role)
    resp = client.get(path.format(id=case.id))
    assert resp.status_code == 403
    assert case.reference not in html(resp)
    assert events(AuditAction.CASE_VIEWED) == []


def test_only_intake_logs_demands(staff):
    client, _ = staff(Role.REVIEWER)
    assert client.get("/cases/new").status_code == 403


# ---- the intake form -----------------------------------------------------------


def intake_form(agency_id: int, /, **changes) -> dict:
    now = utcnow()
    form = {
        "agency_id": str(agency_id), "received_at": (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "channel": "post", "request_type": "criminal", "process_type": "search_warrant",
        "issuing_authority": "U.S. District Court, W.D. Wash.", "judicial": "y",
        "issued_on": (now - timedelta(days=1)).date().isoformat(), "expires_on": "", "signed": "y",
        "case_number": "2:26-mj-00999", "response_due": "",
        "identifiers": "Alice@contoso.example\r\nbob@contoso.example\r\n",
        "categories": ["subscriber", "content"], "date_from": "2026-01-01", "date_to": "2026-02-28",
        "ndo_statute": "", "ndo_ends_on": "", "emergency_justification": "",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def post_intake(client, data: dict, document=(PDF_BYTES, "warrant.pdf")):
    page = html(client.get("/cases/new"))
    body = {**data, "csrf_token": csrf_from(page)}
    if document is not None:
        body["document"] = (BytesIO(document[0]), document[1])
    return client.post("/cases/new", data=body, content_type="multipart/form-data")


def test_intake_form_offers_agencies_with_country_and_verification(staff, make_agency):
    make_agency(name="Bundeskriminalamt", country="DE")
    make_agency(name="Regional Cyber Unit", country="IN", verified=False)
    client, _ = staff(Role.INTAKE)
    page = html(client.get("/cases/new"))
    assert "Bundeskriminalamt (DE)" in page
    assert "Regional Cyber Unit (IN), unverified" in page
    assert 'enctype="multipart/form-data"' in page
    for name in ("received_at", "identifiers", "document", "ndo_ends_on", "emergency_justification"):
        assert f'<label for="{name}">' in page
    assert "<legend>Data requested</legend>" in page


def test_intake_logs_the_demand_with_its_document(app, staff, make_agency):
    agency = make_agency(country="US").agency
    client, clerk = staff(Role.INTAKE)
    resp = post_intake(client, intake_form(agency.id))
    assert resp.status_code == 303, html(resp)
    case = db.session.scalars(select(Case)).one()
    assert resp.headers["Location"] == f"/cases/{case.id}"
    assert case.state is State.RECEIVED and case.created_by_id == clerk.id
    assert case.identifiers == ["alice@contoso.example", "bob@contoso.example"]
    assert case.categories == ["subscriber", "content"] and case.channel.value == "post"
    assert case.judicial and case.signed
    doc = case.document
    assert doc.filename == "warrant.pdf" and doc.size == len(PDF_BYTES)
    assert (Path(app.instance_path) / "documents" / doc.stored_name).read_bytes() == PDF_BYTES
    assert stored_files(app) == [doc.stored_name]
    page = html(client.get(resp.headers["Location"]))
    assert f"Logged {case.reference}" in page
    assert "warrant.pdf" in page
    assert [e.actor_id for e in events(AuditAction.CASE_RECEIVED, case.id)] == [clerk.id]


def test_intake_without_a_document_is_logged_and_flagged(staff, make_agency):
    agency = make_agency().agency
    client, _ = staff(Role.INTAKE)
    resp = post_intake(client, intake_form(agency.id), document=None)
    assert resp.status_code == 303
    case = db.session.scalars(select(Case)).one()
    assert case.documents == []
    page = html(client.get(resp.headers["Location"]))
    assert "No document uploaded yet." in page


def tomorrow() -> str:
    return (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize("changes, document, field, message", [
    ({"received_at": "FUTURE"}, (PDF_BYTES, "warrant.pdf"), "received_at", "is in the future"),
    ({"identifiers": "alice@contoso.example\r\nal\x07ice"}, (PDF_BYTES, "warrant.pdf"), "identifiers",
     "may not be blank, nor contain control characters"),
    ({"process_type": "royal_decree"}, (PDF_BYTES, "warrant.pdf"), "process_type", "is not one of"),
    ({"agency_id": ""}, (PDF_BYTES, "warrant.pdf"), "agency_id", "Choose the agency"),
    ({"agency_id": "999999"}, (PDF_BYTES, "warrant.pdf"), "agency_id", "Choose the agency that sent"),
    ({"issued_on": "1 March"}, (PDF_BYTES, "warrant.pdf"), "issued_on", "must be a date written YYYY-MM-DD"),
    ({"categories": []}, (PDF_BYTES, "warrant.pdf"), "categories", "Choose at least one category"),
    ({}, (b"GIF89a not a pdf at all", "warrant.pdf"), "document", "is not a PDF"),
    ({}, (PDF_BYTES, "../x.pdf"), "document", "looks like a path"),
], ids=["future", "bell-in-identifier", "unknown-process", "no-agency", "unknown-agency", "bad-date",
        "no-categories", "not-a-pdf", "path-name"])
def test_intake_refuses_bad_input_and_saves_nothing(app, staff, make_agency, changes, document, field,
                                                    message):
    agency = make_agency().agency
    client, _ = staff(Role.INTAKE)
    if changes.get("received_at") == "FUTURE":
        changes = {"received_at": tomorrow()}
    resp = post_intake(client, intake_form(agency.id, **changes), document=document)
    page = html(resp)
    assert resp.status_code == 422, page
    assert "The demand was not logged." in page
    error = re.search(rf'id="{field}-error">([^<]*)<', page) if field != "categories" else \
        re.search(r'id="categories-error">([^<]*)<', page)
    assert error and message in error.group(1).replace("&#39;", "'"), page
    # What was typed is still there.
    assert 'value="2:26-mj-00999"' in page
    assert case_count() == 0 and document_count() == 0
    assert stored_files(app) == []


def test_intake_ignores_fields_that_are_not_on_the_form(staff, make_agency):
    agency = make_agency().agency
    client, _ = staff(Role.INTAKE)
    data = intake_form(agency.id, state="disclosed", assignee_id="1", reference="LE-1999-000001",
                       version="7", is_open="false", priority="0")
    resp = post_intake(client, data)
    assert resp.status_code == 303
    case = db.session.scalars(select(Case)).one()
    assert case.state is State.RECEIVED and case.is_open and case.assignee_id is None
    assert case.reference != "LE-1999-000001" and case.version == 1 and case.priority == 1


# ---- the case page ---------------------------------------------------------------


def test_case_page_explains_each_defect_with_its_source(staff, make_case):
    case = make_case("received", process="subpoena", categories=("subscriber", "content"), document=False,
                     ndo={"present": True, "statute": "18 U.S.C. 2705(b)", "ends_on": None})
    check = legal.check(intake.facts_of(case), utcnow())
    assert {d.code.value for d in check.defects} >= {"document_missing", "category_not_authorised",
                                                     "ndo_indefinite"}
    client, _ = staff(Role.REVIEWER)
    page = html(client.get(f"/cases/{case.id}"))
    assert "Not sufficient." in page
    for defect in check.defects:
        assert escape(defect.message) in page
        assert escape(defect.source) in page
    assert page.count("Blocking</span>") == sum(d.severity.value == "blocking" for d in check.defects)
    assert "Warning</span>" in page
    assert "No end date (indefinite)." in page
    assert "18 U.S.C. 2705(b)" in page
    assert "18 U.S.C. 2703(c)(2)" in page  # what a subpoena compels, and on what authority


def test_case_page_shows_the_facts(staff, make_case):
    case = make_case("received", identifiers=["alice@contoso.example", "acct-100200"])
    client, _ = staff(Role.AUDITOR)
    page = html(client.get(f"/cases/{case.id}"))
    for text in (case.reference, case.agency.name, "Verified", "Search warrant", "U.S. District Court",
                 "2:26-mj-00123", "alice@contoso.example", "acct-100200", "Stored content", "2026-01-01",
                 "Sufficient.", case.document.sha256, "process.pdf"):
        assert escape(text) in page, text


@pytest.mark.parametrize("role, expected", [
    (Role.REVIEWER, {"start_review", "withdraw"}),
    (Role.APPROVER, {"start_review", "withdraw"}),
    (Role.INTAKE, {"withdraw"}),
    (Role.AUDITOR, set()),
])
def test_case_page_offers_only_the_actions_of_the_role(staff, make_case, role, expected):
    case = make_case("received")
    client, _ = staff(role)
    page = html(client.get(f"/cases/{case.id}"))
    assert triggers_on(page) == expected
    if role is Role.AUDITOR:
        assert "/transitions" not in page
        assert 'type="file"' not in page
        assert "Auditors read cases; they change nothing." in page


def test_closed_case_offers_no_actions_and_no_upload(staff, make_case):
    case = make_case("rejected")
    client, _ = staff(Role.REVIEWER)
    page = html(client.get(f"/cases/{case.id}"))
    assert triggers_on(page) == set()
    assert 'type="file"' not in page
    assert "The case is closed." in page
    assert "Overbroad" in page  # the recorded reason, in words


def test_approver_does_not_see_approve_on_their_own_proposal(staff, make_case, make_user):
    proposer = make_user(Role.APPROVER)
    case = make_case("received")
    for trigger, fields in (("start_review", {}), ("propose_disclosure", {"categories": ["content"]})):
        case_machine.advance(case.id, case_machine.Move(trigger, **fields), caller_for(proposer), utcnow())
    client, _ = staff(Role.APPROVER, user=proposer)
    page = html(client.get(f"/cases/{case.id}"))
    assert "approve" not in triggers_on(page)
    assert "send_back" in triggers_on(page)
    assert "another approver must approve it" in page
    other, _ = staff(Role.APPROVER)
    assert "approve" in triggers_on(html(other.get(f"/cases/{case.id}")))


def test_every_case_view_is_audited(staff, make_case):
    case = make_case("received")
    client, auditor = staff(Role.AUDITOR)
    assert client.get(f"/cases/{case.id}").status_code == 200
    assert client.get(f"/cases/{case.id}").status_code == 200
    viewed = events(AuditAction.CASE_VIEWED, case.id)
    assert [e.actor_id for e in viewed] == [auditor.id, auditor.id]
    assert viewed[0].data["reference"] == case.reference


def test_unknown_case_is_a_404_and_not_audited(staff):
    client, _ = staff(Role.REVIEWER)
    resp = client.get("/cases/4242")
    assert resp.status_code == 404
    assert "Not found" in html(resp)
    assert client.get("/cases/99999999999").status_code == 404
    assert events(AuditAction.CASE_VIEWED) == []


# ---- actions through the forms -------------------------------------------------


def test_review_propose_and_approve_through_the_forms(staff, make_case):
    case = make_case("received", categories=("subscriber", "content"))
    reviewer, reviewer_user = staff(Role.REVIEWER)
    resp = act(reviewer, case.id, "start_review", note="Taking this one.")
    assert resp.status_code == 303 and resp.headers["Location"] == f"/cases/{case.id}"
    assert state_of(case.id) is State.LEGAL_REVIEW
    page = html(reviewer.get(f"/cases/{case.id}"))
    assert "The case is now legal review." in page
    assert "Taking this one." in page  # the note, in the history
    # The proposal form comes with the authorised categories ticked.
    assert re.search(r'id="action-propose_disclosure-categories-content" value="content" checked', page)
    resp = act(reviewer, case.id, "propose_disclosure", categories=["subscriber"])
    assert resp.status_code == 303
    assert state_of(case.id) is State.PENDING_APPROVAL

    approver, approver_user = staff(Role.APPROVER)
    window_ran(case.id)
    page = html(approver.get(f"/cases/{case.id}"))
    assert f"Proposed by</dt><dd>{reviewer_user.email}" in page
    assert re.search(r'id="action-approve-categories-subscriber" value="subscriber" checked', page)
    assert 'id="action-approve-categories-content"' not in page  # only what was proposed
    resp = act(approver, case.id, "approve", categories=["subscriber"])
    assert resp.status_code == 303, html(resp)
    assert state_of(case.id) is State.DISCLOSED
    disclosure = db.session.scalars(select(Disclosure).where(Disclosure.case_id == case.id)).one()
    assert disclosure.categories == ["subscriber"] and disclosure.approved_by_id == approver_user.id
    page = html(approver.get(f"/cases/{case.id}"))
    assert '<h2 id="disclosure-heading">Disclosure</h2>' in page
    assert f"{approver_user.email}, " in page
    assert triggers_on(page) == set()
    assert [t.trigger for t in db.session.scalars(
        select(CaseTransition).where(CaseTransition.case_id == case.id).order_by(CaseTransition.seq))] == [
        "start_review", "propose_disclosure", "approve"]


def test_a_refused_action_shows_its_errors_beside_its_fields(staff, make_case):
    case = make_case("legal_review", categories=("content",))
    client, _ = staff(Role.REVIEWER)
    resp = act(client, case.id, "propose_disclosure", note="Nothing ticked")
    page = html(resp)
    assert resp.status_code == 422
    assert re.search(r'id="action-propose_disclosure-categories-error">Choose the categories', page)
    assert "Nothing ticked</textarea>" in page  # what was typed stays
    resp = act(client, case.id, "reject", note="")
    assert resp.status_code == 422
    assert re.search(r'id="action-reject-reason-error">Choose the reason', html(resp))
    resp = act(client, case.id, "challenge", note="   ")
    assert resp.status_code == 422
    assert re.search(r'id="action-challenge-note-error">Write the grounds', html(resp))
    assert state_of(case.id) is State.LEGAL_REVIEW
    resp = act(client, case.id, "reject", reason="overbroad")
    assert resp.status_code == 303
    assert state_of(case.id) is State.REJECTED


def test_a_stale_form_is_a_conflict_that_changes_nothing(staff, make_case):
    case = make_case("received")
    first, _ = staff(Role.REVIEWER)
    second, _ = staff(Role.REVIEWER)
    page = html(first.get(f"/cases/{case.id}"))  # version 1
    assert act(second, case.id, "start_review").status_code == 303
    resp = first.post(f"/cases/{case.id}/transitions", data={
        "csrf_token": csrf_from(page), "trigger": "withdraw", "version": "1", "note": "Withdrawn by phone.",
        "confirm": "yes"})
    assert resp.status_code == 409
    assert "Nothing was done: the case changed" in html(resp)
    assert "The case changed since you loaded it" in html(resp)
    assert state_of(case.id) is State.LEGAL_REVIEW
    resp = first.post(f"/cases/{case.id}/transitions", data={
        "csrf_token": csrf_from(page), "trigger": "withdraw", "note": "No version.", "confirm": "yes"})
    assert resp.status_code == 409
    assert state_of(case.id) is State.LEGAL_REVIEW


def test_a_role_cannot_post_an_action_it_is_not_offered(staff, make_case):
    case = make_case("received")
    client, _ = staff(Role.INTAKE)
    page = html(client.get(f"/cases/{case.id}"))
    resp = client.post(f"/cases/{case.id}/transitions", data={
        "csrf_token": csrf_from(page), "trigger": "start_review", "version": "1"})
    assert resp.status_code == 403
    auditor, _ = staff(Role.AUDITOR)
    page = html(auditor.get(f"/cases/{case.id}"))
    resp = auditor.post(f"/cases/{case.id}/transitions", data={
        "csrf_token": csrf_from(page), "trigger": "withdraw", "version": "1", "note": "x"})
    assert resp.status_code == 403
    assert state_of(case.id) is State.RECEIVED


def test_challenge_lost_records_only_what_it_narrows(staff, make_case):
    case = make_case("challenged", identifiers=["alice@contoso.example", "bob@contoso.example"],
                     categories=("subscriber", "content"))
    client, _ = staff(Role.REVIEWER)
    page = html(client.get(f"/cases/{case.id}"))
    assert "alice@contoso.example\nbob@contoso.example</textarea>" in page
    resp = act(client, case.id, "challenge_lost", categories=["subscriber", "content"],
               identifiers="alice@contoso.example\r\n", note="The court kept Alice only.")
    assert resp.status_code == 303, html(resp)
    db.session.expire_all()
    narrowed = db.session.get(Case, case.id)
    assert narrowed.identifiers == ["alice@contoso.example"]
    assert narrowed.categories == ["subscriber", "content"]
    last = narrowed.transitions[-1]
    assert set(last.data) == {"identifiers"}
    page = html(client.get(f"/cases/{case.id}"))
    assert ("Identifiers changed from alice@contoso.example, bob@contoso.example "
            "to alice@contoso.example") in page


# ---- approving needs a recent sign-in ---------------------------------------------


def test_approve_with_a_stale_sign_in_asks_to_confirm_then_succeeds(staff, make_case):
    case = make_case("pending_approval")
    client, approver = staff(Role.APPROVER)
    db.session.execute(update(UserSession).where(UserSession.user_id == approver.id)
                       .values(authenticated_at=utcnow() - timedelta(minutes=11)))
    db.session.commit()
    resp = act(client, case.id, "approve", categories=["content"])
    assert resp.status_code == 302
    confirm = resp.headers["Location"]
    assert confirm.startswith("/sign-in/confirm?next=") and f"cases/{case.id}" in confirm
    assert state_of(case.id) is State.PENDING_APPROVAL
    page = html(client.get(confirm))
    assert "Confirm it&#39;s you to approve" in page
    wrong = client.post(confirm, data={"csrf_token": csrf_from(page), "password": "not my password",
                                       "code": fresh_code(approver)})
    assert wrong.status_code == 401
    assert state_of(case.id) is State.PENDING_APPROVAL
    assert events(AuditAction.SIGN_IN_FAILED)[-1].actor_id == approver.id
    resp = client.post(confirm, data={"csrf_token": csrf_from(page), "password": "correct horse battery",
                                      "code": fresh_code(approver)})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/cases/{case.id}"
    assert any(e.data.get("reauthenticated") and e.actor_id == approver.id
               for e in events(AuditAction.SIGN_IN))
    resp = act(client, case.id, "approve", categories=["content"])
    assert resp.status_code == 303, html(resp)
    assert state_of(case.id) is State.DISCLOSED


def test_confirm_refuses_an_outside_next(staff):
    client, user = staff(Role.REVIEWER)
    page = html(client.get("/sign-in/confirm?next=//evil.example/"))
    resp = client.post("/sign-in/confirm?next=//evil.example/", data={
        "csrf_token": csrf_from(page), "password": "correct horse battery", "code": fresh_code(user)})
    assert resp.status_code == 302 and resp.headers["Location"] == "/home"


# ---- the document -------------------------------------------------------------------


def test_document_download_is_an_audited_attachment(staff, make_case):
    case = make_case("received")
    client, auditor = staff(Role.AUDITOR)
    resp = client.get(f"/cases/{case.id}/document")
    assert resp.status_code == 200
    assert resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert "process.pdf" in resp.headers["Content-Disposition"]
    assert resp.data == PDF_BYTES
    downloaded = events(AuditAction.DOCUMENT_DOWNLOADED, case.id)
    assert [e.actor_id for e in downloaded] == [auditor.id]
    assert client.get(f"/cases/{case.id}/documents/{case.document.id}").data == PDF_BYTES
    assert client.get(f"/cases/{case.id}/documents/99999").status_code == 404
    bare = make_case("received", document=False)
    assert client.get(f"/cases/{bare.id}/document").status_code == 404


def test_upload_a_new_version_from_the_case_page(app, staff, make_case):
    case = make_case("legal_review")
    first = case.document
    client, _ = staff(Role.REVIEWER)
    page = html(client.get(f"/cases/{case.id}"))
    newer = PDF_BYTES.replace(b"Catalog", b"Catalog /V2")
    resp = client.post(f"/cases/{case.id}/document", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page), "file": (BytesIO(newer), "warrant-v2.pdf")})
    assert resp.status_code == 303
    page = html(client.get(f"/cases/{case.id}"))
    assert "Uploaded warrant-v2.pdf." in page
    assert "Earlier versions" in page
    assert f'/cases/{case.id}/documents/{first.id}' in page
    assert client.get(f"/cases/{case.id}/document").data == newer
    assert client.get(f"/cases/{case.id}/documents/{first.id}").data == PDF_BYTES
    assert document_count() == 2


@pytest.mark.parametrize("file, status, message", [
    ((b"just text", "notes.pdf"), 422, "is not a PDF"),
    ((PDF_BYTES, "../../etc/x.pdf"), 422, "looks like a path"),
    (None, 422, "Choose the PDF to upload."),
])
def test_a_bad_upload_is_refused_beside_the_field(app, staff, make_case, file, status, message):
    case = make_case("legal_review")
    client, _ = staff(Role.REVIEWER)
    page = html(client.get(f"/cases/{case.id}"))
    data = {"csrf_token": csrf_from(page)}
    if file:
        data["file"] = (BytesIO(file[0]), file[1])
    resp = client.post(f"/cases/{case.id}/document", content_type="multipart/form-data", data=data)
    assert resp.status_code == status
    assert re.search(rf'id="upload-error">[^<]*{re.escape(escape(message))}', html(resp))
    assert document_count() == 1
    assert len(stored_files(app)) == 1


def test_closed_case_refuses_uploads(staff, make_case):
    case = make_case("withdrawn")
    client, _ = staff(Role.INTAKE)
    page = html(client.get(f"/cases/{case.id}"))
    resp = client.post(f"/cases/{case.id}/document", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page), "file": (BytesIO(PDF_BYTES), "late.pdf")})
    assert resp.status_code == 409
    assert "its documents are final" in html(resp)
    assert document_count() == 1


def test_the_document_opens_in_the_browser_as_well_as_downloading(staff, make_case):
    case = make_case("legal_review")
    client, _ = staff(Role.REVIEWER)
    page = html(client.get(f"/cases/{case.id}"))
    assert f'href="/cases/{case.id}/document?view=1"' in page and "Open in the browser" in page
    shown = client.get(f"/cases/{case.id}/document?view=1")
    assert shown.status_code == 200 and shown.mimetype == "application/pdf"
    assert shown.headers["Content-Disposition"].startswith("inline")
    assert "object-src 'self'" in shown.headers["Content-Security-Policy"]
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    saved = client.get(f"/cases/{case.id}/document")
    assert saved.headers["Content-Disposition"].startswith("attachment")
    assert "object-src 'none'" in saved.headers["Content-Security-Policy"]
    assert shown.data == saved.data
