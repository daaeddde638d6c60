"""Who may call each endpoint. Every view declares a policy; a request to an
endpoint without one is refused (fail closed), and a test walks the URL map."""

from dataclasses import dataclass

from flask import current_app, g, make_response, redirect, request, url_for
from flask_login import current_user

from models import STAFF_ROLES, Agency, Role, db, utcnow
from workflows import identity


@dataclass(frozen=True)
class Policy:
    roles: frozenset[Role] | None  # None: anyone, signed in or not (unless `agency`)
    agency: bool = False  # an agency's bearer token, and nothing else, lets the call in

    @property
    def is_public(self) -> bool:
        return self.roles is None and not self.agency


PUBLIC = Policy(None)
AGENCY = Policy(None, agency=True)
# Flask's own endpoints, declared here since they are not our functions.
BUILTIN_POLICIES = {"static": PUBLIC}
# Pages a user who must change their password may still reach: signing out is
# always possible, in the browser and through the API.
PASSWORD_CHANGE_ENDPOINTS = {"auth.change_password", "auth.sign_out", "api.session_delete", "static"}


def _declare(policy: Policy):
    def decorator(view):
        view.access_policy = policy
        return view
    return decorator


def public(view):
    return _declare(PUBLIC)(view)


def allow(*roles: Role):
    if not roles:
        raise ValueError("allow() needs at least one role; use @public for open endpoints")
    return _declare(Policy(frozenset(roles)))


signed_in = allow(*Role)
staff = allow(*STAFF_ROLES)


def agency_token(view):
    """For agencies' API calls: `Authorization: Bearer <token>`. A staff or customer
    session never counts here, so these views take no cookies and need no CSRF token
    (the view is exempted where it is registered)."""
    return _declare(AGENCY)(view)


def current_agency() -> Agency:
    """The agency whose token let this request in (set by enforce())."""
    return g.agency


def current_token_id() -> int:
    """The id of the bearer token this request came with."""
    return g.token_id


def current_officer():
    """The officer whose own token let this request in, or None for the agency's
    system token (set by enforce())."""
    return g.get("officer")


def policy_for(endpoint: str) -> Policy | None:
    if endpoint in BUILTIN_POLICIES:
        return BUILTIN_POLICIES[endpoint]
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "access_policy", None)


def wants_json() -> bool:
    return request.path.startswith("/api/")


def _refuse(status: int, code: str, message: str):
    from views.errors import error_response

    return error_response(status, code, message)


def bearer_token() -> str | None:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _admit_agency():
    token = bearer_token()
    record = identity.authenticate_bearer(token, utcnow())
    if record is None:
        db.session.rollback()
        response = make_response(_refuse(
            401, "invalid_token",
            "Send your agency's API token as 'Authorization: Bearer <token>'."
            if token is None else "This API token is unknown or has been revoked.",
        ))
        # RFC 6750 section 3: no error code when the request carried no token at all.
        response.headers["WWW-Authenticate"] = (
            'Bearer realm="agency"' + ("" if token is None else ', error="invalid_token"'))
        return response
    db.session.commit()  # the token's last-used stamp
    g.agency, g.officer, g.token_id = record.agency, record.officer, record.id
    return None


def enforce():
    """before_request: apply the endpoint's policy."""
    if request.endpoint is None:
        return None  # routing failed; Flask answers 404/405
    policy = policy_for(request.endpoint)
    if policy is None:
        current_app.logger.error("endpoint %s has no access policy", request.endpoint)
        return _refuse(403, "forbidden", "This endpoint has no access policy.")
    if policy.agency:
        return _admit_agency()
    if policy.is_public:
        return None
    if not current_user.is_authenticated:
        if wants_json():
            return _refuse(401, "unauthenticated", "Sign in first (POST /api/v1/session).")
        return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
    if current_user.role not in policy.roles:
        return _refuse(403, "forbidden", "Your role may not do this.")
    if current_user.must_change_password and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
        if wants_json():
            return _refuse(403, "password_change_required", "Change your password first.")
        return redirect(url_for("auth.change_password"))
    return None


def init_app(app) -> None:
    app.before_request(enforce)
