"""The staff JSON API for cases: log a demand, attach its process document, read a
case, fire a trigger, issue a new collection link. Sessions come from POST
/api/v1/session; writes carry X-CSRFToken. Every state change goes through
cases.advance()."""

from typing import Annotated, ClassVar

from flask import Blueprint, current_app, request, url_for
from flask_login import current_user
from pydantic import Field
from werkzeug.exceptions import RequestEntityTooLarge

from models import Case as CaseRow
from models import Category, ProcessType, RejectReason, Role, State, db, utcnow
from views.api.case_bodies import (
    Case,
    Document,
    Link,
    case_file_body,
    case_now,
    document_body,
    link_body,
)
from views.api.case_list_bodies import CaseList
from views.api.case_list_bodies import case_list as case_list_body
from views.api.contract import Reply, operation, reply
from views.auth import public_link
from views.errors import error_response
from views.identity import actor, caller
from views.policy import allow
from workflows import cases, disclosure
from workflows.cases import SEARCH_MAX
from workflows.errors import InvalidInput
from workflows.identity import ID_MAX
from workflows.schema import LINE, Body, text, whole

bp = Blueprint("cases_api", __name__, url_prefix="/api/v1")
CASE = f"/cases/<int(max={ID_MAX}):case_id>"
DOCUMENT_MB = disclosure.DOCUMENT_MAX_BYTES // (1024 * 1024)


class Move(Body):
    """Fire one trigger. Any other key (a `state`, say) is refused, never applied."""

    WHAT: ClassVar[str] = "a transition"
    trigger: cases.Trigger
    note: text(cases.NOTE_MAX, multiline=True, description=(
        "required by agency_returns, challenge (the grounds), amend, send_back, withdraw, and reject with "
        "reason other")) | None = None
    reason: RejectReason | None = Field(None, description="reject: why")
    categories: list[Category] | None = Field(None, description=(
        "propose_disclosure (required), approve, challenge_lost and amend (narrowing only)"))
    identifiers: Annotated[list[cases.Identifier], Field(min_length=1, max_length=cases.IDENTIFIERS_MAX)] \
        | None = Field(None, description="challenge_lost (narrowing only), amend (the accounts the agency "
                                         "now names)")
    version: whole(1, ID_MAX, description="the version last read; 409 if it changed") | None = None


class NewLink(Body):
    WHAT: ClassVar[str] = "{note}"
    note: text(disclosure.NOTE_MAX, filled=True, multiline=True, description="why a new link is issued")


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    # A body past MAX_CONTENT_LENGTH never reaches disclosure.store_document(); answer it as
    # that check does, so a client sees one error for one problem.
    db.session.rollback()
    return error_response(413, "too_large", f"The document is larger than {DOCUMENT_MB} MB.", ["file"])


def _folder():
    return disclosure.document_folder(current_app.instance_path)


YES_NO = {"type": "string", "enum": ["yes", "no"]}
LIST_QUERY = {
    "q": {"type": "string", "maxLength": SEARCH_MAX, "pattern": LINE, "description": (
        "a reference, an agency's case number or an account identifier (exact); otherwise the start of an "
        "agency's name. With q and no state, closed cases are found too")},
    "state": {"type": "string", "enum": [s.value for s in State],
              "description": "one state; without it, the open cases"},
    "assignee": {"type": "string", "pattern": "^(me|none|[1-9][0-9]{0,9})$",
                 "description": "me, none (unassigned) or a user's id"},
    "country": {"type": "string", "pattern": "^[A-Za-z]{2}$", "description": "the agency's country"},
    "process_type": {"type": "string", "enum": [p.value for p in ProcessType]},
    "emergency": YES_NO, "ndo": YES_NO,
    "due_soon": {**YES_NO, "description": "yes: due within 48 hours"}, "overdue": YES_NO,
    "awaiting_approval": {**YES_NO, "description": "yes: proposals awaiting approval that the caller did not "
                                                   "make"},
    "open_objection": {**YES_NO, "description": "yes: open cases with an objection not yet acknowledged"},
    "hold_ends_soon": {**YES_NO, "description": "yes: preservations whose hold ends within the policy's "
                                                "days"},
    "sort": {"type": "string", "enum": list(cases.SORTS), "description": (
        "due (the default: emergencies first, then by deadline), received (newest first), state or agency "
        "(each then by deadline)")},
    "after": {"type": "string", "maxLength": 400, "description": "the `next` of the page before, same sort"},
}


@bp.get("/cases")
@allow(Role.INTAKE, Role.REVIEWER, Role.APPROVER, Role.AUDITOR)
@operation("Find cases: search, filter, one page at a time (intake, reviewer, approver, auditor)",
           query=LIST_QUERY, replies={
               200: Reply("One page of cases", CaseList),
               422: "A filter that is not one of its values, or a damaged `after` (invalid_input)"})
def case_list():
    args = request.args.to_dict()
    filters = cases.parse_filters(args, me=current_user.id)
    after = cases.Cursor.decode(args["after"], filters.sort) if args.get("after") else None
    now = utcnow()
    return reply(case_list_body(cases.page(filters, now, after), now))


@bp.post("/cases")
@allow(Role.INTAKE)
@operation("Log a demand (intake)", body=cases.CaseRequest, replies={
    201: Reply("Logged in state received; Location names the case", Case, headers=("Location",)),
    422: "A field is missing, malformed or unknown (reasons name the fields, e.g. agency_id, received_at, "
         "identifiers, categories, legal_process.type, state), or contradicts another; nothing was stored"})
def case_create(body: cases.CaseRequest):
    now = utcnow()
    # The intake desk's own door, without a file: the document follows on /document.
    case = cases.log_demand(body, None, None, actor(), now, _folder(), created_by_id=current_user.id)
    location = url_for("cases_api.case_detail", case_id=case.id)
    return reply(case_now(case, current_user.role, current_user.id, now), 201, {"Location": location})


UPLOAD = {"type": "object", "required": ["file"], "properties": {"file": {
    "type": "string", "format": "binary", "contentMediaType": "application/pdf",
    "description": f"the legal process as a PDF (checked by its content), at most {DOCUMENT_MB} MB"}}}


@bp.post(CASE + "/document")
@allow(Role.INTAKE, Role.REVIEWER, Role.APPROVER)
@operation("Attach the legal process as a PDF (intake, reviewer, approver)", upload=UPLOAD, replies={
    201: Reply("Stored", Document),
    404: "No such case",
    409: "The case is closed",
    413: f"Larger than {DOCUMENT_MB} MB (too_large)",
    422: "No `file` field, not a PDF, or a file name that is a path"})
def case_document(case_id: int):
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("Send the legal process as a PDF in the multipart field 'file'.",
                           reasons=["file"], fields={"file": "No file was sent."})
    document = disclosure.store_document(case_id, upload.stream, upload.filename, actor(), utcnow(),
                                         _folder())
    return reply(document_body(document), 201)


@bp.get(CASE)
@allow(Role.INTAKE, Role.REVIEWER, Role.APPROVER, Role.AUDITOR)
@operation("Read a case (intake, reviewer, approver, auditor); the view is audited", replies={
    200: Reply("The case", Case), 404: "No such case"})
def case_detail(case_id: int):
    return reply(case_file_body(cases.view(case_id, current_user.role, current_user.id, actor(), utcnow())))


@bp.post(CASE + "/transitions")
@allow(Role.INTAKE, Role.REVIEWER, Role.APPROVER)  # the transition table decides per trigger
@operation("Fire a trigger (the transition table decides who may fire which)", body=Move, replies={
    200: Reply("The case after the transition", Case),
    401: "Not signed in (unauthenticated), or approving without a sign-in in the last 10 minutes "
         "(reauth_required)",
    403: "Role may not fire this trigger (forbidden), or approving your own proposal (own_proposal)",
    404: "No such case",
    409: "Illegal in this state (illegal_transition), stale `version` (stale_version), or a concurrent "
         "change (concurrent_change)",
    422: "A malformed or unknown field (invalid_input), or a guard failed (guard_failed; reasons such as "
         "note_required, reason_required, categories_required, category_not_authorised)"})
def case_transition(case_id: int, body: Move):
    move = cases.Move(trigger=body.trigger.value, note=body.note, version=body.version,
                      reason=body.reason.value if body.reason else None,
                      categories=[c.value for c in body.categories] if body.categories is not None else None,
                      identifiers=body.identifiers)
    now = utcnow()
    case = cases.advance(case_id, move, caller(), now)
    return reply(case_now(case, current_user.role, current_user.id, now))


@bp.post(CASE + "/verifications")
@allow(Role.REVIEWER, Role.APPROVER)
@operation("Record the call-back that confirms an emergency request, or finds it forged (reviewer, "
           "approver); audited, refusals too", body=cases.Callback, replies={
               201: Reply("The case with its call-back", Case),
               404: "No such case",
               409: "Not an emergency (not_emergency), a call-back already recorded (already_verified), or "
                    "the case is not in legal review or awaiting approval (illegal_transition)",
               422: "A malformed field (invalid_input), or a number that is not the agency's directory "
                    "number (guard_failed: not_directory_number, no_directory_number), or a failed "
                    "call-back without a note (guard_failed: note_required)"})
def case_verification(case_id: int, body: cases.Callback):
    now = utcnow()
    cases.record_callback(case_id, body, caller(), now)
    return _case_as_now(case_id, now, 201)


def _case_as_now(case_id: int, now, status: int = 200):
    """The case as the caller reads it after a change (committed by then)."""
    return reply(case_now(db.session.get(CaseRow, case_id), current_user.role, current_user.id, now), status)


@bp.post(CASE + "/messages")
@allow(Role.INTAKE, Role.REVIEWER, Role.APPROVER)
@operation("Write to the agency on its request (intake, reviewer, approver); its officers are told by "
           "e-mail that there is a message, and read it in the agency portal or the API. Audited.",
           body=cases.MessageBody, replies={
               201: Reply("The case with its messages", Case),
               404: "No such case",
               409: "The request already holds its most messages (thread_full)"})
def case_message(case_id: int, body: cases.MessageBody):
    now = utcnow()
    cases.write_to_agency(case_id, body.text, caller(), now,
                          public_link("agency_portal.request_page", case_id=case_id))
    db.session.commit()
    return _case_as_now(case_id, now, 201)


@bp.post(CASE + "/notes")
@allow(Role.INTAKE, Role.REVIEWER, Role.APPROVER)
@operation("Write an internal note on a case (intake, reviewer, approver): staff read it with the case; the "
           "agency and the customer never do. Audited.", body=cases.NoteBody, replies={
               201: Reply("The case with its notes", Case),
               404: "No such case"})
def case_note(case_id: int, body: cases.NoteBody):
    now = utcnow()
    cases.add_note(case_id, body.text, caller(), now)
    db.session.commit()
    return _case_as_now(case_id, now, 201)


class Assignment(Body):
    """Who works a case. A reviewer assigns themselves (an unassigned case) or
    nobody (their own); an approver anyone who can review, or nobody."""

    WHAT: ClassVar[str] = "an assignment"
    assignee_id: whole(1, ID_MAX, description="an active reviewer's or approver's id; null: nobody") | None
    current_assignee_id: whole(1, ID_MAX, description=(
        "the assignee you saw (null: nobody); 409 assignment_changed if someone else has it now")) \
        | None = None


@bp.post(CASE + "/assignment")
@allow(Role.REVIEWER, Role.APPROVER)
@operation("Assign a case (reviewers take unassigned cases or hand back their own; approvers assign anyone "
           "who can review). Not a transition: state and version stay. Audited.", body=Assignment, replies={
               200: Reply("The case with its assignee", Case),
               403: "A reviewer assigning someone else, or taking back another's case (not_yours)",
               404: "No such case",
               409: "Closed (case_closed), already another reviewer's (taken), or assigned otherwise "
                    "than `current_assignee_id` says (assignment_changed)",
               422: "Not an active reviewer or approver (invalid_input)"})
def case_assignment(case_id: int, body: Assignment):
    now = utcnow()
    expected = body.current_assignee_id if "current_assignee_id" in body.model_fields_set else cases.KEEP
    cases.assign(case_id, body.assignee_id, caller(), now, expected)
    db.session.commit()
    return _case_as_now(case_id, now)


@bp.post(CASE + "/production/link")
@allow(Role.REVIEWER, Role.APPROVER)
@operation("Issue the agency a new collection link (reviewer, approver); the current one stops working. "
           "Audited.", body=NewLink, replies={
               201: Reply("The new link (its token goes to the agency only)", Link),
               404: "No such case",
               409: "The case has no production (no_production)"})
def production_link(case_id: int, body: NewLink):
    now = utcnow()
    link = disclosure.reissue(case_id, current_user.role, actor(), current_user.id, body.note, now)
    return reply(link_body(link, now), 201)
