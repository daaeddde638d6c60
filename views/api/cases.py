"""The staff JSON API for cases: log a demand, attach its process document, read a
case, fire a trigger. Sessions come from POST /api/v1/session; writes carry
X-CSRFToken. Every state change goes through cases.advance()."""

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from models import Role, db, utcnow
from views.api import case_json
from views.errors import error_response
from views.identity import actor, caller
from views.policy import allow, json_body
from workflows import cases, disclosure
from workflows.errors import InvalidInput
from workflows.identity import ID_MAX

bp = Blueprint("cases_api", __name__, url_prefix="/api/v1")
CASE = f"/cases/<int(max={ID_MAX}):case_id>"
MOVE_KEYS = ("trigger", "note", "reason", "categories", "identifiers", "version")


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    # A body past MAX_CONTENT_LENGTH never reaches disclosure.store_document(); answer it as
    # that check does, so a client sees one error for one problem.
    db.session.rollback()
    return error_response(413, "too_large", f"The document is larger than "
                          f"{disclosure.DOCUMENT_MAX_BYTES // (1024 * 1024)} MB.", ["file"])


def _folder():
    return disclosure.document_folder(current_app.instance_path)


@bp.post("/cases")
@allow(Role.INTAKE)
@json_body
def case_create():
    now = utcnow()
    # The intake desk's own door, without a file: the document follows on /document.
    case = cases.log_demand(request.get_json(), None, None, actor(), now, _folder(),
                               created_by_id=current_user.id)
    location = url_for("cases_api.case_detail", case_id=case.id)
    body = case_json.case_now(case, current_user.role, current_user.id, now)
    return jsonify(body), 201, {"Location": location}


@bp.post(CASE + "/document")
@allow(Role.INTAKE, Role.REVIEWER, Role.APPROVER)
def case_document(case_id: int):
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("Send the legal process as a PDF in the multipart field 'file'.",
                           reasons=["file"], fields={"file": "No file was sent."})
    document = disclosure.store_document(case_id, upload.stream, upload.filename, actor(), utcnow(),
                                         _folder())
    return jsonify(case_json.document_json(document)), 201


@bp.get(CASE)
@allow(Role.INTAKE, Role.REVIEWER, Role.APPROVER, Role.AUDITOR)
def case_detail(case_id: int):
    case_file = cases.view(case_id, current_user.role, current_user.id, actor(), utcnow())
    return jsonify(case_json.case_file_json(case_file))


@bp.post(CASE + "/transitions")
@allow(Role.INTAKE, Role.REVIEWER, Role.APPROVER)  # the transition table decides per trigger
@json_body
def case_transition(case_id: int):
    move = parse_move(request.get_json())
    now = utcnow()
    case = cases.advance(case_id, move, caller(), now)
    return jsonify(case_json.case_now(case, current_user.role, current_user.id, now))


def parse_move(body) -> cases.Move:
    """A Move from the body; any other key (a `state`, say) is refused, not ignored."""
    if not isinstance(body, dict):
        raise InvalidInput("Send {trigger, note?, reason?, categories?, identifiers?, version?} as an "
                           "object.", reasons=["body"])
    errors = {key: f"{key!r} is not a field of a transition." for key in sorted(set(body) - set(MOVE_KEYS))}
    if not isinstance(body.get("trigger"), str):
        errors["trigger"] = "trigger is required: the name of the transition to fire."
    version = body.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)
                                or not 0 < version <= ID_MAX):
        errors["version"] = "version must be the case's version number, as last read."
    if errors:
        raise InvalidInput(" ".join(errors.values()), reasons=list(errors), fields=errors)
    return cases.Move(**{key: body.get(key) for key in MOVE_KEYS})


@bp.post(CASE + "/production/link")
@allow(Role.REVIEWER, Role.APPROVER)
@json_body
def production_link(case_id: int):
    """Issue the agency a new collection link (the current one stops working)."""
    body = request.get_json()
    if not isinstance(body, dict) or set(body) - {"note"}:
        raise InvalidInput("Send {note}: why a new link is issued.", reasons=["body"])
    now = utcnow()
    link = disclosure.reissue(case_id, current_user.role, actor(), current_user.id, body.get("note"), now)
    return jsonify(case_json.link_json(link, now)), 201
