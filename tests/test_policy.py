"""Every endpoint declares who may call it, and the declaration is what happens.

The expectation table below is written out by hand on purpose: a new endpoint,
or a changed policy, fails these tests until someone decides here who may call it.
"""

import pytest
from flask import Blueprint, url_for
from sqlalchemy import func, select, update

from models import AuditEvent, Case, CaseDocument, CaseTransition, ProductionLink, Role, User, db
from tests.conftest import csrf_from, sign_in
from views.policy import PUBLIC, policy_for
from workflows import audit

# ---- the expectation table --------------------------------------------------

ANYONE = "public"  # no sign-in needed
SIGNED_IN = frozenset(
    {Role.INTAKE, Role.REVIEWER, Role.APPROVER, Role.ADMIN, Role.AUDITOR, Role.CUSTOMER, Role.OFFICER}
)
STAFF = frozenset({Role.INTAKE, Role.REVIEWER, Role.APPROVER, Role.ADMIN, Role.AUDITOR})
ADMIN = frozenset({Role.ADMIN})
AUDITOR = frozenset({Role.AUDITOR})
CUSTOMER = frozenset({Role.CUSTOMER})
OFFICER = frozenset({Role.OFFICER})
INTAKE = frozenset({Role.INTAKE})
CASE_READERS = frozenset({Role.INTAKE, Role.REVIEWER, Role.APPROVER, Role.AUDITOR})
CASE_WORKERS = frozenset({Role.INTAKE, Role.REVIEWER, Role.APPROVER})
LINK_ISSUERS = frozenset({Role.REVIEWER, Role.APPROVER})  # also: notice releases, NDO extensions
APPROVER = frozenset({Role.APPROVER})
AGENCY = "agency token"  # an agency's bearer token only; no session stands in for it, whatever its role

EXPECTED = {
    "static": ANYONE,
    "auth.sign_in": ANYONE,
    "auth.enrol": ANYONE,
    "auth.code": ANYONE,
    "auth.sign_out": SIGNED_IN,
    "auth.change_password": SIGNED_IN,
    "auth.confirm": STAFF,
    "auth.forgot_password": ANYONE,
    "auth.invitation": ANYONE,
    "auth.reset_password": ANYONE,
    "home.root": ANYONE,
    "home.index": STAFF,
    "portal.home": CUSTOMER,
    "portal.notice": CUSTOMER,
    "portal.objection": CUSTOMER,
    "portal.no_objection": CUSTOMER,
    "portal.demand": CUSTOMER,
    "portal.security": CUSTOMER,
    "portal.users": CUSTOMER,
    "portal.invite": CUSTOMER,
    "portal.answer": CUSTOMER,
    "portal.accept_by_link": ANYONE,
    "agency_portal.invitation": ANYONE,
    "agency_portal.register": ANYONE,
    "agency_portal.request_new": OFFICER,
    "agency_portal.home": OFFICER,
    "agency_portal.token_create": OFFICER,
    "agency_portal.token_revoke": OFFICER,
    "agency_portal.token_rotate": OFFICER,
    "agency_portal.request_page": OFFICER,
    "agency_portal.request_message": OFFICER,
    "agency_portal.production": OFFICER,
    "agency_portal.annex_iii": OFFICER,
    "agency_api.annex_iii": AGENCY,
    "cases.annex_iii": CASE_READERS,
    "cases.message": CASE_WORKERS,
    "cases.note": CASE_WORKERS,
    "cases_api.case_note": CASE_WORKERS,
    "cases_api.case_assignment": LINK_ISSUERS,
    "assignment.assign": LINK_ISSUERS,
    "assignment.take_next": LINK_ISSUERS,
    "assignment.assign_many": LINK_ISSUERS,
    "cases_api.case_message": CASE_WORKERS,
    "agency_api.request_message": AGENCY,
    "agency_api.token_rotate": AGENCY,
    "agency_api.current_token_rotate": AGENCY,
    "notices.index": CASE_READERS,
    "notices.release": LINK_ISSUERS,
    "notices.retry": LINK_ISSUERS,
    "notices.acknowledge": APPROVER,
    "cases.ndo_extension": LINK_ISSUERS,
    "cases.callback": LINK_ISSUERS,
    "admin.user_list": ADMIN,
    "admin.user_new": ADMIN,
    "admin.user_detail": ADMIN,
    "admin.user_disable": ADMIN,
    "admin.user_enable": ADMIN,
    "admin.user_reset_mfa": ADMIN,
    "admin.user_role": ADMIN,
    "admin.portal_user_new": ADMIN,
    "admin.grant_list": ADMIN,
    "admin.grant_approve": ADMIN,
    "admin.grant_refuse": ADMIN,
    "audit.index": AUDITOR,
    "audit.export": AUDITOR,
    "api.session_create": ANYONE,
    "api.session_enrolment": ANYONE,
    "api.session_delete": SIGNED_IN,
    "api.openapi": ANYONE,
    "api.transparency": ANYONE,
    "public.index": ANYONE,
    "public.report": ANYONE,
    "public.report_pdf": ANYONE,
    "public.report_csv": ANYONE,
    "public.report_json": ANYONE,
    "public.checkpoint_key": ANYONE,
    "public.report_draft": CASE_READERS,
    "public.report_publish": APPROVER,
    "cases.queue": CASE_READERS,
    "cases.mine": CASE_READERS,
    "cases.show": CASE_READERS,
    "cases.document": CASE_READERS,
    "cases.document_version": CASE_READERS,
    "cases.new": INTAKE,
    "cases.transition": CASE_WORKERS,
    "cases.upload": CASE_WORKERS,
    "cases.production_link": LINK_ISSUERS,
    "cases_api.case_create": INTAKE,
    "cases_api.case_document": CASE_WORKERS,
    "cases_api.case_detail": CASE_READERS,
    "cases_api.case_list": CASE_READERS,
    "cases_api.case_transition": CASE_WORKERS,
    "cases_api.production_link": LINK_ISSUERS,
    "cases_api.case_verification": LINK_ISSUERS,
    "agency_api.request_create": AGENCY,
    "agency_api.request_detail": AGENCY,
    "agency_api.production_download": AGENCY,
    "agency_api.token_create": AGENCY,
    "agency_api.token_revoke": AGENCY,
}

CALLERS = ["anonymous", "intake", "reviewer", "approver", "admin", "auditor", "customer", "officer"]
ENDPOINTS = sorted(EXPECTED)
TARGET_EMAIL = "target.person@provider.example"

# What a refused caller must never see, and an allowed caller does see on a 200.
PROTECTED_CONTENT = {
    "home.index": ["What this role does"],
    "agency_portal.home": ["requests", "Signed in as"],
    "portal.home": ["Your accounts"],
    "admin.user_list": ["All users", TARGET_EMAIL],
    "admin.user_new": ["Propose a staff user"],
    "admin.grant_list": ["Grants of power"],
    "admin.portal_user_new": ["Ask a customer to accept a portal user"],
    "portal.users": ["Who can read"],
    "admin.user_detail": [TARGET_EMAIL, "Disable and sign out everywhere"],
    "audit.index": ["Head hash", "Chain intact"],
    "audit.export": ['"export": "Due Process audit events"'],
    "cases.queue": ["CASE_REFERENCE"],
    "cases.show": ["CASE_REFERENCE", "Legal check"],
    "cases_api.case_detail": ["CASE_REFERENCE", "legal_check"],
}

# A body that would change something if the policy let it through.
POST_BODIES = {
    "cases.transition": {"trigger": "withdraw", "note": "Smuggled withdrawal."},
    "cases_api.case_transition": {"trigger": "withdraw", "note": "Smuggled withdrawal."},
    "cases.production_link": {"note": "Smuggled link."},
    "cases.ndo_extension": {"ends_on": "2031-01-01", "note": "Smuggled extension."},
    "cases_api.production_link": {"note": "Smuggled link."},
    "cases.callback": {"phone_called": "+1 202 555 0100", "spoke_with": "Smuggled", "outcome": "confirmed"},
    "cases_api.case_verification": {"phone_called": "+1 202 555 0100", "spoke_with": "Smuggled",
                                    "outcome": "confirmed"},
    "agency_portal.token_create": {"name": "Smuggled token"},
    "cases.message": {"text": "Smuggled message."},
    "cases.note": {"text": "Smuggled note."},
    "cases_api.case_note": {"text": "Smuggled note."},
    "assignment.assign": {"assignee": "me"},
    "assignment.assign_many": {"case": "1", "assign_to": "me"},
    "cases_api.case_assignment": {"assignee_id": None},
    "cases_api.case_message": {"text": "Smuggled message."},
    "admin.user_new": {
        "email": "smuggled@provider.example", "name": "Smuggled", "role": "approver",
        "customer_id": "", "password": "a long enough password",
    },
}
# Endpoints whose smuggled body hands the case back: the matrix gives the case to the caller first.
HANDED_TO_CALLER = {"cases_api.case_assignment"}


def declared(policy) -> object:
    """A policy as the table writes it."""
    if policy is None:
        return None
    if policy.agency:
        return AGENCY
    return ANYONE if policy.is_public else frozenset(policy.roles)


def undeclared_endpoints(app) -> list[str]:
    return sorted(r.endpoint for r in app.url_map.iter_rules() if policy_for(r.endpoint) is None)


# ---- the declarations -------------------------------------------------------


def test_every_endpoint_declares_a_policy(app):
    assert undeclared_endpoints(app) == []


def test_expectation_table_names_every_endpoint(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - EXPECTED.keys() == set(), "new endpoints: add them to EXPECTED"
    assert EXPECTED.keys() - endpoints == set(), "endpoints gone: remove them from EXPECTED"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_declared_policy_matches_the_table(app, endpoint):
    assert declared(policy_for(endpoint)) == EXPECTED[endpoint]


def test_builtin_static_endpoint_is_public(app):
    assert policy_for("static") is PUBLIC


# ---- the role x endpoint matrix ---------------------------------------------


def url_args(rule, target: User, case=None) -> dict:
    values = {"user_id": target.id, "filename": "style.css", "token": "A" * 43, "notice_id": 1,
              "objection_id": 1, "period": "2026-H1", "token_id": 1, "grant_id": 1}
    if case is not None:
        values.update(case_id=case.id, document_id=case.documents[-1].id)
    missing = set(rule.arguments) - values.keys()
    assert not missing, f"{rule.endpoint}: give the matrix a value for {missing}"
    return {name: values[name] for name in rule.arguments}


def calls_for(app, endpoint: str, target: User, case=None) -> list[tuple[str, str]]:
    """(method, path) for each method the endpoint accepts among GET, POST, DELETE."""
    calls = []
    for rule in app.url_map.iter_rules(endpoint):
        with app.test_request_context():
            path = url_for(endpoint, **url_args(rule, target, case))
        calls += [(m, path) for m in ("GET", "POST", "DELETE") if m in rule.methods]
    assert calls, f"{endpoint} accepts none of GET, POST, DELETE"
    return calls


def snapshot(target_id: int) -> tuple:
    """What an unsafe call could have changed."""
    db.session.expire_all()
    target = db.session.get(User, target_id)
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Case, CaseTransition, CaseDocument, ProductionLink)
    ) + tuple(db.session.execute(select(Case.id, Case.state, Case.version, Case.assignee_id)
                                 .order_by(Case.id)).all()) + (
        db.session.scalar(select(func.count()).select_from(User)),
        target.active, target.totp_secret, target.totp_confirmed_at,
        db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("user.%"))
        ),
    )


def call(client, method: str, path: str, endpoint: str, token: str):
    if method == "GET":
        return client.get(path)
    headers = {"X-CSRFToken": token}
    body = POST_BODIES.get(endpoint, {})
    if path.startswith("/api/"):
        return client.open(path, method=method, json=body, headers=headers)
    return client.open(path, method=method, data={**body, "csrf_token": token}, headers=headers)


def signed_in_client(new_client, make_user, caller: str):
    client = new_client()
    if caller == "anonymous":
        token = csrf_from(client.get("/sign-in").get_data(as_text=True))
        return client, token
    user = make_user(Role(caller))
    resp = sign_in(client, user)
    assert resp.status_code == 302 and not resp.headers["Location"].startswith("/sign-in"), (
        f"{caller} could not sign in"
    )
    token = csrf_from(client.get("/account/password").get_data(as_text=True))
    return client, token


def is_policy_redirect(resp) -> bool:
    """The policy sends an anonymous browser to sign in, remembering where it was going."""
    return resp.status_code == 302 and resp.headers["Location"].startswith("/sign-in?next=")


# SQLite only: the policy is a before_request hook that reads each view's
# declaration and the signed-in user's role; nothing in it depends on the engine.
# Each case builds an app, a database and a signed-in user; on PostgreSQL (where
# the matrix passes too) the cases cost twice as much and would more than double
# this file's runtime for no extra coverage. The declaration tests above and the
# separation-of-duties tests below run on both engines.
@pytest.mark.slow
@pytest.mark.parametrize("engine_name", ["sqlite"])
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_role_endpoint_matrix(app, new_client, make_user, make_case, endpoint, caller):
    target = make_user(Role.REVIEWER, email=TARGET_EMAIL)
    target_id = target.id
    # Endpoints about cases get a real one, so a refused caller could see or change it.
    about_cases = endpoint.startswith(("cases", "agency_api")) or any(
        "case_id" in rule.arguments for rule in app.url_map.iter_rules(endpoint))
    case = make_case("legal_review") if about_cases else None
    client, token = signed_in_client(new_client, make_user, caller)
    if endpoint in HANDED_TO_CALLER and caller != "anonymous":
        # The caller holds the case, so handing it back changes it, if the policy lets them.
        me = db.session.scalar(select(User).where(User.role == Role(caller)).order_by(User.id.desc()))
        db.session.execute(update(Case).where(Case.id == case.id).values(assignee_id=me.id))
        db.session.commit()
    expected = EXPECTED[endpoint]
    allowed = expected == ANYONE or (
        expected != AGENCY and caller != "anonymous" and Role(caller) in expected)
    head_hash = audit.verify().head_hash

    markers = [m.replace("CASE_REFERENCE", case.reference) if case else m
               for m in PROTECTED_CONTENT.get(endpoint, [])]
    for method, path in calls_for(app, endpoint, target, case):
        before = snapshot(target_id)
        resp = call(client, method, path, endpoint, token)
        body = resp.get_data(as_text=True)
        resp.close()
        where = f"{caller} {method} {path}"
        assert resp.status_code < 500, where
        assert "security token" not in body, f"{where}: CSRF refused, the policy was not reached"

        if allowed:
            assert resp.status_code not in (401, 403), where
            assert not is_policy_redirect(resp), where
            if expected != ANYONE:
                assert not (resp.status_code == 302
                            and resp.headers["Location"].startswith("/sign-in?")), where
            if method == "GET" and resp.status_code == 200:
                for marker in markers:
                    assert marker in body, f"{where}: allowed page lacks {marker!r}"
            continue

        if expected == AGENCY:
            assert resp.status_code == 401, where
            assert resp.get_json()["error"] == "invalid_token", where
            assert resp.headers["WWW-Authenticate"].startswith("Bearer"), where
        elif caller == "anonymous" and path.startswith("/api/"):
            assert resp.status_code == 401, where
            assert resp.get_json()["error"] == "unauthenticated", where
        elif caller == "anonymous":
            assert is_policy_redirect(resp), where
        else:
            assert resp.status_code == 403, where
            if path.startswith("/api/"):
                assert resp.get_json()["error"] == "forbidden", where
            else:
                assert "Your role may not do this." in body, where
        for marker in markers:
            assert marker not in body, f"{where}: refused response shows {marker!r}"
        assert head_hash not in body, where
        assert snapshot(target_id) == before, f"{where}: a refused call changed something"


# ---- fail closed ------------------------------------------------------------


def test_view_registered_without_a_policy_is_refused(app, new_client, make_user):
    def undeclared():
        return "the secret behind an undeclared view"

    extra = Blueprint("extra", __name__, url_prefix="/extra")
    extra.add_url_rule("/thing", "thing", undeclared, methods=["GET", "POST"])
    app.add_url_rule("/undeclared", "undeclared", undeclared)
    app.add_url_rule("/api/v1/undeclared", "api_undeclared", undeclared)
    app.register_blueprint(extra)

    assert undeclared_endpoints(app) == ["api_undeclared", "extra.thing", "undeclared"]

    anonymous = new_client()
    admin = new_client()
    sign_in(admin, make_user(Role.ADMIN))
    for client in (anonymous, admin):
        for path in ("/undeclared", "/extra/thing"):
            resp = client.get(path)
            assert resp.status_code == 403
            assert "the secret" not in resp.get_data(as_text=True)
        resp = client.get("/api/v1/undeclared")
        assert resp.status_code == 403
        assert resp.get_json()["error"] == "forbidden"
    token = csrf_from(admin.get("/account/password").get_data(as_text=True))
    resp = admin.post("/extra/thing", data={"csrf_token": token})
    assert resp.status_code == 403
    assert "the secret" not in resp.get_data(as_text=True)


# ---- separation of duties, spelled out --------------------------------------


def signed_in_as(new_client, make_user, role: Role):
    client = new_client()
    sign_in(client, make_user(role))
    return client


def test_admin_cannot_read_the_audit_log(new_client, make_user):
    admin = signed_in_as(new_client, make_user, Role.ADMIN)
    resp = admin.get("/audit/")
    assert resp.status_code == 403
    body = resp.get_data(as_text=True)
    assert "Head hash" not in body and audit.verify().head_hash not in body


def test_auditor_cannot_manage_users(new_client, make_user):
    target = make_user(Role.REVIEWER, email=TARGET_EMAIL)
    auditor = signed_in_as(new_client, make_user, Role.AUDITOR)
    token = csrf_from(auditor.get("/account/password").get_data(as_text=True))
    for path in ("/admin/users", "/admin/users/new", f"/admin/users/{target.id}"):
        resp = auditor.get(path)
        assert resp.status_code == 403, path
        assert TARGET_EMAIL not in resp.get_data(as_text=True), path
    for action in ("disable", "reset-mfa"):
        resp = auditor.post(f"/admin/users/{target.id}/{action}", data={"csrf_token": token})
        assert resp.status_code == 403, action
    db.session.refresh(target)
    assert target.active and target.totp_confirmed_at is not None


@pytest.mark.parametrize("path", ["/home", "/admin/users", "/admin/users/new", "/audit/"])
def test_customer_cannot_reach_staff_pages(new_client, make_user, path):
    customer = signed_in_as(new_client, make_user, Role.CUSTOMER)
    resp = customer.get(path)
    assert resp.status_code == 403
    assert "Your role may not do this." in resp.get_data(as_text=True)


@pytest.mark.parametrize("role", sorted(STAFF))
def test_staff_cannot_reach_the_customer_portal(new_client, make_user, role):
    resp = signed_in_as(new_client, make_user, role).get("/portal/")
    assert resp.status_code == 403
    assert "Your accounts" not in resp.get_data(as_text=True)
