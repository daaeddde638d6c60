"""User administration through the browser pages, signed in as an admin."""

import html
import re
import threading

import pytest
from sqlalchemy import func, select

from models import AuditAction, AuditEvent, Role, User, UserSession, db, utcnow
from tests.conftest import PASSWORD, csrf_from, post_form, sign_in
from workflows import audit
from workflows.audit import Actor
from workflows.errors import Conflict
from workflows.identity import users

NEW_PASSWORD = "a brand new long passphrase"


@pytest.fixture
def admin(make_user):
    return make_user(Role.ADMIN, email="admin@provider.example")


@pytest.fixture
def admin_client(new_client, admin):
    client = new_client()
    resp = sign_in(client, admin)
    assert resp.headers["Location"] == "/home"
    return client


@pytest.fixture
def target(make_user):
    return make_user(Role.REVIEWER, email="rita.reviewer@provider.example")


def signed_in(new_client, user):
    client = new_client()
    resp = sign_in(client, user)
    assert resp.status_code == 302 and resp.headers["Location"] == "/home"
    return client


def events(action: AuditAction, subject_id: int | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action.value).order_by(AuditEvent.seq)
    if subject_id is not None:
        query = query.where(AuditEvent.subject_id == str(subject_id))
    return list(db.session.scalars(query))


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def reload(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def admin_post(client, user_id: int, action: str, confirm: bool = True):
    """An action button on the user's page, its confirmation ticked where it has one."""
    page = f"/admin/users/{user_id}"
    data = {"confirm": "yes"} if confirm and action == "disable" else {}
    return post_form(client, f"{page}/{action}", data, page_url=page)


def field_error(body: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', body, re.S)
    assert match, f"no error shown beside {field}"
    return html.unescape(match.group(1))


def password_step(client, email: str, password: str = PASSWORD):
    page = client.get("/sign-in").get_data(as_text=True)
    return client.post("/sign-in", data={
        "email": email, "password": password, "csrf_token": csrf_from(page)})


# ---- the list and creation --------------------------------------------------


def test_list_shows_each_user_with_role_and_status(admin_client, make_user, make_customer):
    make_user(Role.REVIEWER, email="rita@provider.example")
    make_user(Role.AUDITOR, email="aude@provider.example", active=False)
    make_user(Role.CUSTOMER, email="cora@contoso.example", customer=make_customer("Contoso"))

    resp = admin_client.get("/admin/users")
    assert resp.status_code == 200
    rows = {
        re.search(r">([^<>]+@[^<>]+)</a>", row).group(1): row
        for row in re.findall(r"<tr>(.*?)</tr>", resp.get_data(as_text=True), re.S)
        if "@" in row
    }
    assert set(rows) == {
        "admin@provider.example", "rita@provider.example", "aude@provider.example",
        "cora@contoso.example",
    }
    for email, role, status in [
        ("admin@provider.example", "Admin", "Active"),
        ("rita@provider.example", "Reviewer", "Active"),
        ("aude@provider.example", "Auditor", "Disabled"),
        ("cora@contoso.example", "Customer", "Active"),
    ]:
        assert f">{role}</span>" in rows[email], email
        assert f">{status}</span>" in rows[email], email


def new_user_form(**overrides) -> dict:
    return {"email": "nina.new@provider.example", "name": "Nina New", "role": "reviewer", **overrides}


def test_the_new_user_form_proposes_and_creates_nobody(admin_client, admin):
    """The form proposes; a second administrator approves (tests/test_grants.py)."""
    count = user_count()
    resp = post_form(admin_client, "/admin/users/new", new_user_form(), page_url="/admin/users/new")
    assert resp.status_code == 303 and resp.headers["Location"] == "/admin/grants"
    assert user_count() == count
    page = admin_client.get("/admin/grants").get_data(as_text=True)
    assert "Proposed nina.new@provider.example as Reviewer." in page
    assert "You proposed this: another administrator approves it." in page
    [event] = events(AuditAction.GRANT_PROPOSED)
    assert event.actor_id == admin.id
    assert event.data.items() >= {"email": "nina.new@provider.example", "role": "reviewer",
                                  "new_user": True}.items()


BAD_INPUT = {
    "malformed e-mail": ({"email": "not-an-address"}, "email", "Invalid email address"),
    "duplicate e-mail": ({"email": "Rita.Reviewer@Provider.example"}, "email", "already exists"),
    "not a staff domain": ({"email": "rita@gmail.example"}, "email", "Staff addresses must be on"),
    "unknown role": ({"role": "superuser"}, "role", "Not a valid choice"),
    "customer role": ({"role": "customer"}, "role", "Not a valid choice"),
    "officer role": ({"role": "officer"}, "role", "Not a valid choice"),
    "control character in the name": ({"name": "Nina\u202eweN"}, "name", "Names"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_refused_beside_the_field(admin_client, target, case):
    overrides, field, message = BAD_INPUT[case]
    count, proposed = user_count(), len(events(AuditAction.GRANT_PROPOSED))

    resp = post_form(admin_client, "/admin/users/new", new_user_form(**overrides),
                     page_url="/admin/users/new")

    assert resp.status_code == (409 if case == "duplicate e-mail" else 422)
    assert message in field_error(resp.get_data(as_text=True), field)
    db.session.rollback()
    assert user_count() == count
    assert len(events(AuditAction.GRANT_PROPOSED)) == proposed


# ---- disable and enable -----------------------------------------------------


def test_disable_ends_sessions_at_once_and_enable_restores_sign_in(
    new_client, admin_client, admin, target
):
    rita = signed_in(new_client, target)
    assert rita.get("/home").status_code == 200

    resp = admin_post(admin_client, target.id, "disable")
    assert resp.status_code == 302 and resp.headers["Location"] == f"/admin/users/{target.id}"
    assert not reload(target).active
    # Her open session is gone on her very next request.
    resp = rita.get("/home")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/sign-in?next=")
    assert db.session.scalar(select(func.count()).where(
        UserSession.user_id == target.id, UserSession.revoked_at.is_(None))) == 0
    # And she cannot sign in again: the same answer as a wrong password.
    resp = password_step(new_client(), target.email)
    assert resp.status_code == 401
    assert "do not match an active account" in resp.get_data(as_text=True)
    [disabled] = events(AuditAction.USER_DISABLED, target.id)
    assert disabled.actor_id == admin.id

    resp = admin_post(admin_client, target.id, "enable")
    assert resp.status_code == 302
    assert reload(target).active
    assert signed_in(new_client, reload(target)).get("/home").status_code == 200
    [enabled] = events(AuditAction.USER_ENABLED, target.id)
    assert enabled.actor_id == admin.id and enabled.seq > disabled.seq


def test_disabling_asks_for_confirmation_and_does_nothing_without_it(admin_client, target):
    page = admin_client.get(f"/admin/users/{target.id}").get_data(as_text=True)
    assert "every session of theirs ends at once" in page
    before = state(target.id)
    resp = admin_post(admin_client, target.id, "disable", confirm=False)
    assert resp.status_code == 422
    error = field_error(resp.get_data(as_text=True), "disable-confirm")
    assert error == "Tick the box to confirm what disabling does."
    assert state(target.id) == before  # still active, nothing audited


def test_admin_cannot_disable_themselves(admin_client, admin):
    resp = admin_post(admin_client, admin.id, "disable")
    assert resp.status_code == 403
    assert "You cannot disable your own account." in resp.get_data(as_text=True)
    assert reload(admin).active
    assert events(AuditAction.USER_DISABLED) == []
    assert admin_client.get("/admin/users").status_code == 200  # still signed in


def test_disabling_a_disabled_user_is_a_conflict_and_not_audited_twice(admin_client, target):
    assert admin_post(admin_client, target.id, "disable").status_code == 302
    resp = admin_post(admin_client, target.id, "disable")
    assert resp.status_code == 409
    assert "is already disabled" in resp.get_data(as_text=True)
    assert len(events(AuditAction.USER_DISABLED, target.id)) == 1


def test_enabling_an_active_user_is_a_conflict(admin_client, target):
    resp = admin_post(admin_client, target.id, "enable")
    assert resp.status_code == 409
    assert "is already enabled" in resp.get_data(as_text=True)
    assert events(AuditAction.USER_ENABLED) == []


def test_action_on_a_missing_user_is_not_found(admin_client):
    assert admin_client.get("/admin/users/99999").status_code == 404
    assert admin_post(admin_client, 99999, "disable").status_code == 404


# ---- reset of the second factor ---------------------------------------------


def test_reset_mfa_replaces_the_secret_and_forces_enrolment(new_client, admin_client, admin, target):
    rita = signed_in(new_client, target)
    old_secret = reload(target).totp_secret

    resp = admin_post(admin_client, target.id, "reset-mfa")

    assert resp.status_code == 302
    after = reload(target)
    assert after.totp_secret and after.totp_secret != old_secret
    assert after.totp_confirmed_at is None and after.totp_last_step is None
    assert rita.get("/home").headers["Location"].startswith("/sign-in?next=")
    assert db.session.scalar(select(func.count()).where(
        UserSession.user_id == target.id, UserSession.revoked_at.is_(None))) == 0
    assert password_step(new_client(), target.email).headers["Location"] == "/sign-in/enrol"
    [event] = events(AuditAction.MFA_RESET, target.id)
    assert event.actor_id == admin.id


def test_reset_mfa_of_a_customer_without_a_second_factor_is_a_conflict(admin_client, make_user):
    customer = make_user(Role.CUSTOMER)
    resp = admin_post(admin_client, customer.id, "reset-mfa")
    assert resp.status_code == 409
    assert events(AuditAction.MFA_RESET) == []


# ---- two admins at once -----------------------------------------------------


def disable_in_own_context(app, user_id: int, who: Actor, outcomes: list, start=None):
    """One admin's request: its own application context, session and transaction."""
    with app.app_context():
        try:
            if start is not None:
                start.wait(timeout=10)
            users.set_active(user_id, False, who, utcnow())
            db.session.commit()
            outcomes.append("changed")
        except Conflict:
            db.session.rollback()
            outcomes.append("conflict")
        finally:
            db.session.remove()


def admins(make_user) -> list[Actor]:
    return [
        Actor(u.email, u.id, "127.0.0.1")
        for u in (make_user(Role.ADMIN), make_user(Role.ADMIN))
    ]


def test_two_admins_disabling_at_once_change_it_once(app, make_user, target):
    outcomes: list[str] = []
    start = threading.Barrier(2)
    target_id = target.id
    first, second = admins(make_user)
    db.session.commit()  # the test's own session holds no transaction (nor SQLite's lock)
    threads = [
        threading.Thread(target=disable_in_own_context, args=(app, target_id, who, outcomes, start))
        for who in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["changed", "conflict"]
    assert not reload(target).active
    assert len(events(AuditAction.USER_DISABLED, target_id)) == 1
    assert audit.verify().intact


def test_second_of_two_sequential_disables_is_a_conflict(app, make_user, target):
    outcomes: list[str] = []
    first, second = admins(make_user)
    target_id = target.id
    db.session.commit()
    for who in (first, second):
        disable_in_own_context(app, target_id, who, outcomes)
    assert outcomes == ["changed", "conflict"]
    assert len(events(AuditAction.USER_DISABLED, target_id)) == 1


# ---- CSRF ---------------------------------------------------------------------


def admin_post_endpoints(app) -> list[str]:
    return sorted(
        r.endpoint for r in app.url_map.iter_rules()
        if r.endpoint.startswith("admin.") and "POST" in r.methods
    )


def test_csrf_table_covers_every_admin_post(app):
    assert admin_post_endpoints(app) == sorted(CSRF_CASES)


CSRF_CASES = {
    "admin.user_new": lambda t: ("/admin/users/new", new_user_form()),
    "admin.user_role": lambda t: (f"/admin/users/{t}/role", {"role": "reviewer"}),
    "admin.portal_user_new": lambda t: ("/admin/portal-users/new", {"customer_id": "1",
                                                                     "email": "cora@contoso.example"}),
    "admin.grant_approve": lambda t: ("/admin/grants/1/approve", {}),
    "admin.grant_refuse": lambda t: ("/admin/grants/1/refuse", {}),
    "admin.user_disable": lambda t: (f"/admin/users/{t}/disable", {"confirm": "yes"}),
    "admin.user_enable": lambda t: (f"/admin/users/{t}/enable", {}),
    "admin.user_reset_mfa": lambda t: (f"/admin/users/{t}/reset-mfa", {}),
}


def state(target_id: int) -> tuple:
    db.session.expire_all()
    user = db.session.get(User, target_id)
    return (
        user_count(), user.active, user.totp_secret, user.totp_confirmed_at,
        db.session.scalar(select(func.count()).select_from(AuditEvent)),
    )


@pytest.mark.parametrize("token", ["missing", "wrong"])
@pytest.mark.parametrize("endpoint", sorted(CSRF_CASES))
def test_admin_post_without_a_valid_csrf_token_changes_nothing(
    admin_client, make_user, endpoint, token
):
    # Each action would change this user were it let through.
    target = make_user(Role.APPROVER, active=endpoint != "admin.user_enable")
    target_id = target.id
    path, data = CSRF_CASES[endpoint](target_id)
    if token == "wrong":
        data = {**data, "csrf_token": "forged." + "x" * 40}
    before = state(target_id)

    resp = admin_client.post(path, data=data)

    assert resp.status_code == 400
    assert "security token" in resp.get_data(as_text=True)
    assert state(target_id) == before
