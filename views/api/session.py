"""JSON API under /api/v1: the session, published transparency reports, and the
OpenAPI description."""

from typing import Annotated, ClassVar

from flask import Blueprint, current_app, jsonify, request, session
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf
from pydantic import AfterValidator, BaseModel, Field

from models import Role, db, utcnow
from views.api.contract import Reply, operation, reply
from views.api.openapi import document
from views.api.report_bodies import Report
from views.errors import error_response, status_of
from views.identity import Principal, client_ip
from views.policy import public, signed_in
from views.security import csrf
from workflows import identity, reports
from workflows.errors import InvalidCredentials, RateLimited
from workflows.schema import Body, unicode_text

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# What every engine and the password hasher can take: valid Unicode, no NUL.
NO_NUL = "^[^\x00]*$"
TOTP = "^(?: *[0-9]{3} ?[0-9]{3} *)?$"


class SessionRequest(Body):
    WHAT: ClassVar[str] = "{email, password, totp}"
    email: Annotated[str, Field(max_length=254, pattern=NO_NUL), AfterValidator(unicode_text)]
    password: Annotated[str, Field(max_length=1024, pattern=NO_NUL), AfterValidator(unicode_text)]
    totp: Annotated[str, Field(pattern=TOTP, description="the authenticator's 6 digits; staff only")] | None \
        = None


class SessionUser(BaseModel):
    id: int
    email: str
    role: Role


class Session(BaseModel):
    csrf_token: str = Field(description="send it as X-CSRFToken on every later call that changes something")
    user: SessionUser


@bp.post("/session")
@public
@csrf.exempt  # no session exists yet; JSON-only (415 otherwise) keeps forms out
@operation("Sign in with e-mail, password and TOTP code", body=SessionRequest, replies={
    200: Reply("Signed in; the session cookie is set", Session),
    401: "Wrong e-mail, password or code (invalid_credentials, one message for all)",
    403: "A staff user who has not yet set up an authenticator (mfa_enrolment_required)",
    429: "Too many failed attempts in the last minute (rate_limited), or ten wrong codes for the account "
         "in 15 minutes (mfa_locked)",
})
def session_create(body: SessionRequest):
    now = utcnow()
    try:
        user = identity.check_password(body.email, body.password, client_ip(), now)
        if user.mfa_required and not user.mfa_enrolled:
            db.session.commit()
            return error_response(
                403, "mfa_enrolment_required",
                "Set up your authenticator by signing in once in the browser.",
            )
        if user.mfa_required:
            identity.check_code(user, body.totp or "", client_ip(), now)
    except (InvalidCredentials, RateLimited) as exc:  # the workflow kept the failure
        return error_response(status_of(exc), exc.code, exc.message)
    if current_user.is_authenticated:  # signing in again replaces, never adds
        identity.end_session(current_user.session, client_ip(), now)
    session.clear()
    new = identity.start_session(user, client_ip(), request.user_agent.string, now)
    db.session.commit()
    login_user(Principal(user, new.record, new.token))
    session.permanent = True
    return reply(Session(csrf_token=generate_csrf(),
                         user=SessionUser(id=user.id, email=user.email, role=user.role)))


@bp.delete("/session")
@signed_in
@operation("Sign out (the server-side session is revoked)", replies={204: "Signed out"})
def session_delete():
    identity.end_session(current_user.session, client_ip(), utcnow())
    db.session.commit()
    logout_user()
    session.clear()
    return "", 204


@bp.get("/openapi.json")
@public
@operation("This document", replies={200: Reply("The OpenAPI 3.1 description of this API", schema={
    "type": "object"})})
def openapi():
    return jsonify(document(current_app, request.host_url.rstrip("/") + "/api/v1"))


@bp.get("/transparency/<period>")
@public
@operation("A published transparency report (its newest revision), public", params={
    "period": {"type": "string", "pattern": reports.PERIOD_PATTERN, "example": "2026-H1"}}, replies={
    200: Reply("The report's newest revision (DESIGN 9)", Report),
    404: "Not a period (2026-H3, abc), or not published yet"})
def transparency(period: str):
    """A published report's JSON (DESIGN section 9), its newest revision."""
    found = reports.Period.parse(period)
    return reply(Report.model_validate(reports.latest(found).snapshot))
