"""JSON API under /api/v1: the session, published transparency reports, and the
OpenAPI description."""

from typing import Annotated, ClassVar

from flask import Blueprint, current_app, jsonify, request, session
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import AfterValidator, BaseModel, Field

from models import AuditAction, Role, User, db, utcnow
from views.api.contract import Reply, operation, reply
from views.api.errors import Error
from views.api.openapi import document
from views.api.report_bodies import Report
from views.auth import PENDING_SECONDS, password_stamp
from views.errors import error_response, status_of
from views.identity import Principal, client_ip
from views.policy import public, signed_in
from views.security import csrf
from workflows import audit, identity, reports
from workflows.audit import Actor
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


ENROLMENT_TOKEN = "^[A-Za-z0-9_.-]{1,512}$"  # noqa: S105 (a pattern, not a secret)


class Enrolment(BaseModel):
    """What a user needs to set up an authenticator without a browser: add the
    secret (or the otpauth URI) to the app, then send a code from it with the token."""

    token: str = Field(description=f"send it back with POST /session/enrolment within "
                                   f"{PENDING_SECONDS // 60} minutes; it is worth nothing once the password "
                                   "changes")
    secret: str = Field(description="the TOTP secret, base32")
    otpauth_uri: str = Field(description="the same secret as an otpauth:// URI (what a QR code holds)")
    expires_in: int = Field(description="seconds the token stays good")


class EnrolmentRequired(Error):
    """A user with the right password who has no authenticator set up yet."""

    enrolment: Enrolment


class EnrolmentRequest(Body):
    WHAT: ClassVar[str] = "{token, totp}"
    token: Annotated[str, Field(pattern=ENROLMENT_TOKEN,
                                description="from the mfa_enrolment_required answer")]
    totp: Annotated[str, Field(pattern=TOTP, description="a code from the newly set up authenticator")]


def _enrolments() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="api-mfa-enrolment")


def _enrolment_required(user: User, ip: str, now):
    """403 with what the user needs to enrol (the password was right: the browser's
    enrolment page shows the same secret at this point)."""
    token = _enrolments().dumps({"uid": user.id, "stamp": password_stamp(user)})
    uri = identity.provisioning_uri(user.totp_secret, user.email)
    audit.record(AuditAction.MFA_ENROLMENT_OFFERED, Actor(user.email, user.id, ip), subject=("user", user.id),
                 now=now, data={"via": "api"})
    db.session.commit()
    body = EnrolmentRequired(
        error="mfa_enrolment_required", reasons=["totp"],
        message="Set up an authenticator: add the secret to your app, then send a code from it with the "
                "token to POST /api/v1/session/enrolment.",
        enrolment=Enrolment(token=token, secret=user.totp_secret, otpauth_uri=uri,
                            expires_in=PENDING_SECONDS))
    return jsonify(body.model_dump(exclude_none=True)), 403


@bp.post("/session")
@public
@csrf.exempt  # no session exists yet; JSON-only (415 otherwise) keeps forms out
@operation("Sign in with e-mail, password and TOTP code", body=SessionRequest, replies={
    200: Reply("Signed in; the session cookie is set", Session),
    401: "Wrong e-mail, password or code (invalid_credentials, one message for all)",
    403: Reply("A staff user who has not yet set up an authenticator (mfa_enrolment_required): the answer "
               "holds what enrolling needs", EnrolmentRequired),
    429: "Too many failed attempts in the last minute (rate_limited), or ten wrong codes for the account "
         "in an hour (mfa_locked)",
})
def session_create(body: SessionRequest):
    now = utcnow()
    try:
        user = identity.check_password(body.email, body.password, client_ip(), now)
        if user.mfa_required and not user.mfa_enrolled:
            if not user.totp_secret:  # a customer's second factor is set up in the portal
                db.session.commit()
                return error_response(403, "mfa_enrolment_required",
                                      "Set up your authenticator in the browser first.")
            return _enrolment_required(user, client_ip(), now)
        if user.mfa_required:
            identity.check_code(user, body.totp or "", client_ip(), now)
    except (InvalidCredentials, RateLimited) as exc:  # the workflow kept the failure
        return error_response(status_of(exc), exc.code, exc.message)
    return _start(user, now)


def _start(user: User, now) -> object:
    if current_user.is_authenticated:  # signing in again replaces, never adds
        identity.end_session(current_user.session, client_ip(), now)
    session.clear()
    new = identity.start_session(user, client_ip(), request.user_agent.string, now)
    db.session.commit()
    login_user(Principal(user, new.record, new.token))
    session.permanent = True
    return reply(Session(csrf_token=generate_csrf(),
                         user=SessionUser(id=user.id, email=user.email, role=user.role)))


EXPIRED = "This enrolment has expired or is no longer valid; sign in again with POST /session."


@bp.post("/session/enrolment")
@public
@csrf.exempt  # no session exists yet; the signed token stands for the password step
@operation("Finish setting up the authenticator and sign in: the token from mfa_enrolment_required and a "
           "code from the app", body=EnrolmentRequest, replies={
               200: Reply("Enrolled and signed in; the session cookie is set", Session),
               401: "An expired or unknown token, a token from before a password change, or a wrong code "
                    "(invalid_credentials)",
               429: "Too many failed attempts (rate_limited), or ten wrong codes in an hour (mfa_locked)"})
def session_enrolment(body: EnrolmentRequest):
    now = utcnow()
    try:
        claim = _enrolments().loads(body.token, max_age=PENDING_SECONDS)
    except BadSignature:
        return error_response(401, "invalid_credentials", EXPIRED, ["token"])
    user = db.session.get(User, claim.get("uid")) if isinstance(claim, dict) else None
    if (user is None or not user.active or user.mfa_enrolled or not user.totp_secret
            or claim.get("stamp") != password_stamp(user)):
        return error_response(401, "invalid_credentials", EXPIRED, ["token"])
    try:
        identity.confirm_enrolment(user, body.totp, client_ip(), now)
    except (InvalidCredentials, RateLimited) as exc:
        return error_response(status_of(exc), exc.code, exc.message, ["totp"])
    return _start(user, now)


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
