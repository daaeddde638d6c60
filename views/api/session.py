"""JSON API under /api/v1: the session, published transparency reports, and the
OpenAPI description."""

from flask import Blueprint, jsonify, request, session
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf

from models import db, utcnow
from views.api.openapi import spec
from views.errors import error_response, status_of
from views.identity import Principal, client_ip
from views.policy import json_body, public, signed_in
from views.security import csrf
from workflows import identity, reports
from workflows.errors import InvalidCredentials, RateLimited
from workflows.text import storable

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def credentials(body) -> tuple[str, str, str] | None:
    """(email, password, totp) from the body, or None unless each is a string every
    engine and the password hasher can take (UTF-8, no NUL); totp may be left out."""
    if not isinstance(body, dict):
        return None
    values = (body.get("email"), body.get("password"), body.get("totp") or "")
    if not all(isinstance(v, str) and storable(v) for v in values):
        return None
    return values


def user_json(principal) -> dict:
    return {"id": principal.id, "email": principal.email, "role": principal.role.value}


@bp.post("/session")
@public
@csrf.exempt  # no session exists yet; JSON-only (415 otherwise) keeps forms out
@json_body
def session_create():
    given = credentials(request.get_json())
    if given is None:
        return error_response(
            400, "invalid_body",
            "Send {email, password, totp} as JSON strings of valid Unicode without NUL characters.",
        )
    email, password, code = given
    now = utcnow()
    try:
        user = identity.check_password(email, password, client_ip(), now)
        if user.mfa_required and not user.mfa_enrolled:
            db.session.commit()
            return error_response(
                403, "mfa_enrolment_required",
                "Set up your authenticator by signing in once in the browser.",
            )
        if user.mfa_required:
            identity.check_code(user, code, client_ip(), now)
    except (InvalidCredentials, RateLimited) as exc:  # the workflow kept the failure
        return error_response(status_of(exc), exc.code, exc.message)
    if current_user.is_authenticated:  # signing in again replaces, never adds
        identity.end_session(current_user.session, client_ip(), now)
    session.clear()
    new = identity.start_session(user, client_ip(), request.user_agent.string, now)
    db.session.commit()
    login_user(Principal(user, new.record, new.token))
    session.permanent = True
    return jsonify(csrf_token=generate_csrf(), user=user_json(current_user))


@bp.delete("/session")
@signed_in
def session_delete():
    identity.end_session(current_user.session, client_ip(), utcnow())
    db.session.commit()
    logout_user()
    session.clear()
    return "", 204


@bp.get("/openapi.json")
@public
def openapi():
    return jsonify(spec(request.host_url.rstrip("/") + "/api/v1"))


@bp.get("/transparency/<period>")
@public
def transparency(period: str):
    """A published report's JSON (DESIGN section 9), its newest revision."""
    found = reports.Period.parse(period)
    return jsonify(reports.latest(found).snapshot)
