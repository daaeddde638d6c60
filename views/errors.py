"""One shape for every error: JSON {error, message, reasons} under /api, a page elsewhere."""

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from models import db
from workflows.errors import (
    Conflict,
    Gone,
    InvalidCredentials,
    InvalidInput,
    NotAllowed,
    NotFound,
    PackageFailed,
    RateLimited,
    ReauthRequired,
    TooLarge,
    WorkflowError,
)

STATUS = {
    InvalidInput: 422,
    InvalidCredentials: 401,
    RateLimited: 429,
    NotAllowed: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    ReauthRequired: 401,
    Gone: 410,
    PackageFailed: 503,
}


def status_of(exc: WorkflowError) -> int:
    return next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)


def error_response(status: int, code: str, message: str, reasons: list[str] | None = None,
                   fields: dict[str, str] | None = None):
    if request.path.startswith("/api/"):
        body = {"error": code, "message": message, "reasons": reasons or []}
        if fields:
            body["fields"] = fields
        return jsonify(body), status
    return render_template(
        "errors/error.html", status=status, message=message, reasons=reasons or []
    ), status


def _workflow_error(exc: WorkflowError):
    db.session.rollback()
    return error_response(status_of(exc), exc.code, exc.message, exc.reasons, exc.fields)


def _csrf_error(exc: CSRFError):
    db.session.rollback()
    return error_response(
        400, "csrf_failed",
        "The security token of this form or request is missing or expired. "
        "Reload the page and try again; API clients send X-CSRFToken from POST /api/v1/session.",
    )


def _http_error(exc: HTTPException):
    db.session.rollback()
    code = (exc.name or "error").lower().replace(" ", "_")
    body, status = error_response(exc.code or 500, code, exc.description or exc.name)
    # The exception's own headers stay: a 405 names the methods it allows in Allow
    # (RFC 9110 section 15.5.6), as werkzeug's default page would.
    headers = {name: value for name, value in exc.get_headers() if name.lower() != "content-type"}
    return body, status, headers


def init_app(app) -> None:
    app.register_error_handler(WorkflowError, _workflow_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
