"""Staff and customer sign-in, the server-side session and its end, CSRF, headers.

Every test drives the real pages through the test client and then looks at the
database: what a failed attempt leaves behind matters as much as what it says.
"""

import hashlib
import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from models import AuditAction, AuditEvent, Role, SignInFailure, UserSession, db, utcnow
from tests.conftest import PASSWORD, csrf_from, fresh_code, post_form, sign_in, totp_code
from workflows.audit import Actor
from workflows.identity import passwords, users
from workflows.identity.auth import CODE_FAILURE, GENERIC_FAILURE

COOKIE = "dp_session"
NEW_PASSWORD = "a much longer passphrase"
THROTTLED = "Too many failed attempts. Wait a minute, then try again."


# ---- reading the outcome ----------------------------------------------------


def sessions_of(user) -> list[UserSession]:
    return list(db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)
    ))


def live_sessions_of(user) -> list[UserSession]:
    return [s for s in sessions_of(user) if s.revoked_at is None]


def events(action: AuditAction, user=None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action.value).order_by(AuditEvent.seq)
    if user is not None:
        query = query.where(AuditEvent.subject_type == "user", AuditEvent.subject_id == str(user.id))
    return list(db.session.scalars(query))


def failure_count(email: str | None = None) -> int:
    query = select(func.count()).select_from(SignInFailure)
    if email is not None:
        query = query.where(SignInFailure.email == email)
    return db.session.scalar(query)


def alert_text(resp) -> str:
    """The form-level error a person reads above the form."""
    match = re.search(r'<div class="alert" role="alert">(.*?)</div>', resp.get_data(as_text=True), re.S)
    assert match, "page shows no error"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def secret_shown(html: str) -> str:
    """The TOTP key as the enrolment page spells it out (grouped for reading)."""
    match = re.search(r'<code class="secret"[^>]*>([^<]*)</code>', html)
    assert match, "page shows no secret"
    return "".join(match.group(1).split())


def cookie_of(client) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None, "no session cookie"
    return cookie.value


def cookie_contents(app, value: str) -> dict:
    return app.session_interface.get_signing_serializer(app).loads(value)


def with_cookie(new_client, value: str) -> FlaskClient:
    """Another browser holding a copy of a cookie."""
    other = new_client()
    other.set_cookie(COOKIE, value)
    return other


def is_signed_in(client) -> bool:
    """Any signed-in user may see the password page; anyone else is sent to sign in."""
    resp = client.get("/account/password")
    if resp.status_code == 302:
        assert resp.headers["Location"].startswith("/sign-in")
        return False
    assert resp.status_code == 200
    return True


# ---- driving the pages step by step ------------------------------------------


def submit_password(client, email: str, password: str = PASSWORD, next_url: str | None = None):
    url = "/sign-in" + (f"?next={quote(next_url, safe='')}" if next_url is not None else "")
    page = client.get(url).get_data(as_text=True)
    return client.post(url, data={"email": email, "password": password, "csrf_token": csrf_from(page)})


def submit_code(client, code: str, step: str = "/sign-in/code"):
    page = client.get(step).get_data(as_text=True)
    return client.post(step, data={"code": code, "csrf_token": csrf_from(page)})


def sign_in_with_code(client, user, code: str):
    resp = submit_password(client, user.email)
    assert resp.headers["Location"] == "/sign-in/code"
    return submit_code(client, code)


def sign_out(client):
    return post_form(client, "/sign-out", page_url="/account/password")


def wrong_code(user) -> str:
    """Six digits that are not the user's code at any step the verifier accepts."""
    valid = {totp_code(user, k) for k in range(-2, 3)}
    return next(c for c in ("123456", "654321", "000000", "999999") if c not in valid)


# ---- signing in -------------------------------------------------------------

STAFF_HOME_HEADINGS = {
    Role.INTAKE: "Intake",
    Role.REVIEWER: "Legal review",
    Role.APPROVER: "Approval",
    Role.ADMIN: "Administration",
    Role.AUDITOR: "Audit",
}


@pytest.mark.parametrize("role", list(STAFF_HOME_HEADINGS))
def test_staff_sign_in_with_password_then_code_reaches_home(client, make_user, role):
    user = make_user(role)

    resp = submit_password(client, user.email)
    assert resp.status_code == 302 and resp.headers["Location"] == "/sign-in/code"
    assert sessions_of(user) == [], "the password alone signs nobody in"

    resp = submit_code(client, totp_code(user))
    assert resp.status_code == 302 and resp.headers["Location"] == "/home"
    home = client.get("/home")
    assert home.status_code == 200
    assert f"<h2>{STAFF_HOME_HEADINGS[role]}</h2>" in home.get_data(as_text=True)

    [record] = live_sessions_of(user)
    assert record.authenticated_at == record.created_at
    [event] = events(AuditAction.SIGN_IN, user)
    assert event.actor_id == user.id
    assert user.last_sign_in_at is not None
    assert failure_count() == 0


def test_customer_without_totp_signs_in_with_password_only_and_lands_on_portal(
    client, make_user, make_customer
):
    customer = make_customer(name="Contoso Ltd")
    user = make_user(Role.CUSTOMER, customer=customer)
    assert user.totp_secret is None

    resp = submit_password(client, user.email)
    assert resp.status_code == 302 and resp.headers["Location"] == "/portal/"
    portal = client.get("/portal/")
    assert portal.status_code == 200 and "Contoso Ltd" in portal.get_data(as_text=True)
    assert len(live_sessions_of(user)) == 1
    assert len(events(AuditAction.SIGN_IN, user)) == 1


def test_after_the_password_step_only_the_code_page_is_open(client, make_user):
    user = make_user(Role.REVIEWER)
    submit_password(client, user.email)

    assert client.get("/home").headers["Location"].startswith("/sign-in")
    assert not is_signed_in(client)
    assert client.get("/sign-in/code").status_code == 200
    assert sessions_of(user) == []


def test_password_step_is_good_for_five_minutes(client, make_user):
    user = make_user(Role.REVIEWER)
    submit_password(client, user.email)
    page = client.get("/sign-in/code").get_data(as_text=True)
    with client.session_transaction() as session:
        pending = session["mfa_pending"]
        session["mfa_pending"] = {**pending, "at": pending["at"] - 301}

    resp = client.post("/sign-in/code", data={"code": totp_code(user), "csrf_token": csrf_from(page)})
    assert resp.status_code == 302 and resp.headers["Location"] == "/sign-in"
    assert sessions_of(user) == []
    db.session.refresh(user)
    assert user.totp_last_step is None, "the code was not spent"


@pytest.mark.parametrize("change", ["password changed", "second factor reset"])
def test_password_step_is_void_after_a_change_elsewhere(client, make_user, change):
    user = make_user(Role.REVIEWER)
    submit_password(client, user.email)
    page = client.get("/sign-in/code").get_data(as_text=True)
    if change == "password changed":
        user.password_hash = passwords.hash_password(NEW_PASSWORD)
    else:
        users.reset_mfa(user.id, Actor.system("test"), utcnow())
    db.session.commit()

    resp = client.post("/sign-in/code", data={"code": totp_code(user), "csrf_token": csrf_from(page)})
    assert resp.status_code == 302 and resp.headers["Location"] == "/sign-in"
    assert sessions_of(user) == []


def test_code_and_enrolment_pages_need_the_password_step_first(client, new_client, make_user):
    enrolled, new = make_user(Role.REVIEWER), make_user(Role.REVIEWER, enrolled=False)
    for step in ("/sign-in/code", "/sign-in/enrol"):
        assert client.get(step).headers["Location"] == "/sign-in"

    submit_password(client, enrolled.email)
    assert client.get("/sign-in/enrol").headers["Location"] == "/sign-in", "already enrolled"

    other = new_client()
    submit_password(other, new.email)
    assert other.get("/sign-in/code").headers["Location"] == "/sign-in", "not enrolled yet"
    assert sessions_of(enrolled) == [] and sessions_of(new) == []


# ---- enrolment --------------------------------------------------------------


def test_first_sign_in_without_confirmed_totp_shows_qr_code_and_secret(client, make_user):
    user = make_user(Role.APPROVER, enrolled=False)

    resp = submit_password(client, user.email)
    assert resp.status_code == 302 and resp.headers["Location"] == "/sign-in/enrol"
    page = client.get("/sign-in/enrol")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r"<svg\b[^>]*>.*</svg>", html, re.S), "QR code is inline SVG"
    assert "<img" not in html and "otpauth://" not in html, "nothing for the browser to fetch"
    assert user.totp_secret == secret_shown(html), "the secret as text, for typing in"
    assert page.headers["Cache-Control"] == "no-store"
    assert sessions_of(user) == []
    assert user.totp_confirmed_at is None


def test_correct_code_confirms_enrolment_and_signs_in(client, make_user):
    user = make_user(Role.APPROVER, enrolled=False)
    submit_password(client, user.email)

    resp = submit_code(client, totp_code(user), step="/sign-in/enrol")
    assert resp.status_code == 302 and resp.headers["Location"] == "/home"
    assert client.get("/home").status_code == 200
    db.session.refresh(user)
    assert user.totp_confirmed_at is not None
    [enrolled] = events(AuditAction.MFA_ENROLLED, user)
    assert enrolled.actor_id == user.id
    assert len(live_sessions_of(user)) == 1

    sign_out(client)
    assert submit_password(client, user.email).headers["Location"] == "/sign-in/code"


def test_wrong_code_does_not_confirm_enrolment(client, make_user):
    user = make_user(Role.APPROVER, enrolled=False)
    submit_password(client, user.email)

    resp = submit_code(client, wrong_code(user), step="/sign-in/enrol")
    assert resp.status_code == 401
    assert alert_text(resp) == CODE_FAILURE
    assert "<svg" in resp.get_data(as_text=True), "the user can try again from the same page"
    db.session.refresh(user)
    assert user.totp_confirmed_at is None and user.totp_last_step is None
    assert events(AuditAction.MFA_ENROLLED) == []
    assert len(events(AuditAction.MFA_FAILED, user)) == 1
    assert sessions_of(user) == []
    assert not is_signed_in(client)


# ---- one answer for every wrong sign-in -------------------------------------


def test_unknown_email_wrong_password_and_disabled_user_fail_alike(client, make_user):
    make_user(Role.REVIEWER, email="known@provider.example")
    disabled = make_user(Role.REVIEWER, email="gone@provider.example", active=False)
    attempts = {
        "unknown e-mail": ("nobody@provider.example", PASSWORD),
        "wrong password": ("known@provider.example", "not the password at all"),
        "disabled user": ("gone@provider.example", PASSWORD),
    }

    answers = {}
    for case, (email, password) in attempts.items():
        resp = submit_password(client, email, password)
        body = resp.get_data(as_text=True).replace(email, "EMAIL")
        body = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "CSRF", body)
        answers[case] = (resp.status_code, alert_text(resp), body)

    assert {status for status, _, _ in answers.values()} == {401}
    assert {message for _, message, _ in answers.values()} == {GENERIC_FAILURE}
    assert len({body for _, _, body in answers.values()}) == 1, "pages differ only by the e-mail typed"
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0
    assert failure_count() == 3
    assert len(events(AuditAction.SIGN_IN_FAILED)) == 3
    assert events(AuditAction.SIGN_IN_FAILED, disabled), "the disabled user's attempt is on record"


# ---- rate limit -------------------------------------------------------------


@pytest.mark.parametrize("typed", ["exact", "shouted"])
def test_sixth_attempt_within_a_minute_is_refused_even_with_the_right_password(
    client, make_user, typed
):
    user = make_user(Role.REVIEWER)
    email = user.email if typed == "exact" else f"  {user.email.upper()} "
    for _ in range(5):
        assert submit_password(client, email, "not the password at all").status_code == 401

    resp = submit_password(client, user.email)
    assert resp.status_code == 429
    assert alert_text(resp) == THROTTLED
    assert failure_count(user.email) == 5, "a refused attempt is not checked, so not counted"
    assert len(events(AuditAction.SIGN_IN_THROTTLED)) == 1
    assert sessions_of(user) == []
    assert not is_signed_in(client)


def test_failures_older_than_a_minute_do_not_count(client, make_user):
    user = make_user(Role.REVIEWER)
    for _ in range(5):
        submit_password(client, user.email, "not the password at all")
    for failure in db.session.scalars(select(SignInFailure)):
        failure.at -= timedelta(seconds=61)
    db.session.commit()

    assert sign_in(client, user).headers["Location"] == "/home"
    assert len(live_sessions_of(user)) == 1
    assert events(AuditAction.SIGN_IN_THROTTLED) == []


def test_many_failures_from_one_address_throttle_every_account(client, make_user):
    user = make_user(Role.REVIEWER)
    for n in range(20):
        submit_password(client, f"guess{n}@provider.example", "not the password at all")
    assert failure_count(user.email) == 0

    resp = submit_password(client, user.email)
    assert resp.status_code == 429
    assert sessions_of(user) == []


# ---- second factor ----------------------------------------------------------


def test_replayed_code_is_refused(client, make_user):
    user = make_user(Role.REVIEWER)
    code = totp_code(user)
    assert sign_in_with_code(client, user, code).headers["Location"] == "/home"
    sign_out(client)

    resp = sign_in_with_code(client, user, code)
    assert resp.status_code == 401
    assert alert_text(resp) == CODE_FAILURE
    assert live_sessions_of(user) == [] and len(sessions_of(user)) == 1
    assert len(events(AuditAction.MFA_FAILED, user)) == 1
    assert not is_signed_in(client)


def test_code_of_an_earlier_step_than_one_used_is_refused(client, make_user):
    user = make_user(Role.REVIEWER)
    assert sign_in_with_code(client, user, totp_code(user, 1)).headers["Location"] == "/home"
    sign_out(client)

    assert sign_in_with_code(client, user, totp_code(user, 0)).status_code == 401
    assert live_sessions_of(user) == []


def test_wrong_code_is_refused_and_the_user_may_try_again(client, make_user):
    user = make_user(Role.REVIEWER)

    resp = sign_in_with_code(client, user, wrong_code(user))
    assert resp.status_code == 401
    assert alert_text(resp) == CODE_FAILURE
    assert sessions_of(user) == []
    assert failure_count(user.email) == 1
    db.session.refresh(user)
    assert user.totp_last_step is None

    assert submit_code(client, totp_code(user)).headers["Location"] == "/home"
    assert len(live_sessions_of(user)) == 1


def test_wrong_codes_count_toward_the_rate_limit(client, make_user):
    user = make_user(Role.REVIEWER)
    submit_password(client, user.email)
    for _ in range(5):
        assert submit_code(client, wrong_code(user)).status_code == 401

    resp = submit_code(client, totp_code(user))
    assert resp.status_code == 429
    assert alert_text(resp) == THROTTLED
    db.session.refresh(user)
    assert user.totp_last_step is None, "a refused attempt does not spend the code"
    assert submit_password(client, user.email).status_code == 429
    assert sessions_of(user) == []


def test_password_and_code_failures_share_one_count(client, make_user):
    user = make_user(Role.REVIEWER)
    for _ in range(3):
        submit_password(client, user.email, "not the password at all")
    submit_password(client, user.email)
    for _ in range(2):
        submit_code(client, wrong_code(user))

    assert submit_code(client, totp_code(user)).status_code == 429
    assert sessions_of(user) == []


# ---- session rotation ---------------------------------------------------------


def test_every_sign_in_gets_a_new_server_side_session_token(app, client, make_user):
    user = make_user(Role.REVIEWER)
    sign_in(client, user)
    first = cookie_contents(app, cookie_of(client))["_user_id"]
    sign_out(client)
    sign_in(client, user)
    second = cookie_contents(app, cookie_of(client))["_user_id"]

    assert first != second
    old, new = sessions_of(user)
    assert old.token_hash == hashlib.sha256(first.encode()).hexdigest()
    assert new.token_hash == hashlib.sha256(second.encode()).hexdigest()
    assert old.revoked_at is not None and new.revoked_at is None


def test_cookie_from_before_sign_in_does_not_carry_the_identity(app, client, new_client, make_user):
    user = make_user(Role.REVIEWER)
    sign_in_page = client.get("/sign-in").get_data(as_text=True)
    anonymous_cookie = cookie_of(client)
    submit_password(client, user.email)
    pending_cookie = cookie_of(client)
    submit_code(client, totp_code(user))
    signed_in_cookie = cookie_of(client)

    assert "_user_id" not in cookie_contents(app, anonymous_cookie)
    assert "_user_id" not in cookie_contents(app, pending_cookie)
    assert "mfa_pending" not in cookie_contents(app, signed_in_cookie)
    for before in (anonymous_cookie, pending_cookie):
        assert not is_signed_in(with_cookie(new_client, before))

    # The anonymous session's CSRF token went with it.
    resp = client.post("/sign-out", data={"csrf_token": csrf_from(sign_in_page)})
    assert resp.status_code == 400
    assert is_signed_in(client)


def test_session_cookie_is_http_only_and_same_site(client, make_user):
    user = make_user(Role.REVIEWER)
    resp = sign_in(client, user)
    set_cookie = resp.headers["Set-Cookie"]
    assert set_cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie


# ---- the end of a session ---------------------------------------------------


def test_sign_out_revokes_the_session(client, new_client, make_user):
    user = make_user(Role.REVIEWER)
    sign_in(client, user)
    copy = cookie_of(client)

    resp = sign_out(client)
    assert resp.status_code == 302 and resp.headers["Location"] == "/sign-in"
    assert not is_signed_in(client)
    replayed = with_cookie(new_client, copy).get("/home")
    assert replayed.status_code == 302 and replayed.headers["Location"].startswith("/sign-in")
    [record] = sessions_of(user)
    assert record.revoked_at is not None
    assert len(events(AuditAction.SIGN_OUT, user)) == 1


def test_password_change_signs_out_every_session(client, new_client, make_user):
    user = make_user(Role.REVIEWER)
    laptop, phone = client, new_client()
    sign_in(laptop, user)
    sign_in(phone, user)
    copy = cookie_of(laptop)

    resp = post_form(laptop, "/account/password", {
        "current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/sign-in"
    for browser in (laptop, phone, with_cookie(new_client, copy)):
        assert not is_signed_in(browser)
    assert live_sessions_of(user) == [] and len(sessions_of(user)) == 2
    assert len(events(AuditAction.PASSWORD_CHANGED, user)) == 1


@pytest.fixture
def admin_browser(new_client, make_user):
    admin = make_user(Role.ADMIN)
    browser = new_client()
    sign_in(browser, admin)
    return browser


def admin_action(browser, user, action: str):
    """An action button on the user's page; disabling is confirmed with its box ticked."""
    data = {"confirm": "yes"} if action == "disable" else {}
    return post_form(browser, f"/admin/users/{user.id}/{action}", data, page_url=f"/admin/users/{user.id}")


def test_disabling_a_user_signs_them_out_for_good(client, new_client, admin_browser, make_user):
    user = make_user(Role.REVIEWER)
    sign_in(client, user)
    copy = cookie_of(client)

    assert admin_action(admin_browser, user, "disable").status_code == 302
    assert not is_signed_in(client)
    assert live_sessions_of(user) == []

    assert admin_action(admin_browser, user, "enable").status_code == 302
    assert not is_signed_in(with_cookie(new_client, copy)), "re-enabling revives no old session"


def test_mfa_reset_signs_the_user_out_and_asks_for_enrolment_again(
    client, new_client, admin_browser, make_user
):
    user = make_user(Role.REVIEWER)
    old_secret = user.totp_secret
    sign_in(client, user)
    copy = cookie_of(client)

    assert admin_action(admin_browser, user, "reset-mfa").status_code == 302
    assert not is_signed_in(with_cookie(new_client, copy))
    assert live_sessions_of(user) == []

    assert submit_password(client, user.email).headers["Location"] == "/sign-in/enrol"
    db.session.refresh(user)
    assert user.totp_secret != old_secret
    assert secret_shown(client.get("/sign-in/enrol").get_data(as_text=True)) == user.totp_secret


@pytest.mark.parametrize(("column", "age", "alive"), [
    ("last_seen_at", timedelta(minutes=29), True),
    ("last_seen_at", timedelta(minutes=31), False),
    ("created_at", timedelta(hours=11, minutes=59), True),
    ("created_at", timedelta(hours=12, minutes=1), False),
], ids=["idle-29min", "idle-31min", "age-11h59", "age-12h01"])
def test_idle_and_absolute_timeouts_end_the_session(client, make_user, column, age, alive):
    user = make_user(Role.REVIEWER)
    sign_in(client, user)
    [record] = sessions_of(user)
    setattr(record, column, utcnow() - age)
    db.session.commit()

    resp = client.get("/home")
    db.session.refresh(record)
    if alive:
        assert resp.status_code == 200
        assert record.revoked_at is None
        assert utcnow() - record.last_seen_at < timedelta(minutes=1), "activity is noted"
        assert events(AuditAction.SESSION_EXPIRED) == []
        return
    assert resp.status_code == 302 and resp.headers["Location"] == "/sign-in?next=/home"
    assert record.revoked_at is not None
    page = client.get(resp.headers["Location"])
    assert "Your session ended. Sign in again." in page.get_data(as_text=True)
    [expired] = events(AuditAction.SESSION_EXPIRED, user)
    assert expired.actor_id == user.id


# ---- a password the user must change ------------------------------------------


def test_user_who_must_change_password_is_held_on_the_password_page(client, make_user):
    user = make_user(Role.REVIEWER, must_change_password=True)
    sign_in(client, user)

    resp = client.get("/home")
    assert resp.status_code == 302 and resp.headers["Location"] == "/account/password"
    landed = client.get("/", follow_redirects=True)
    assert landed.request.path == "/account/password"
    assert "temporary password" in landed.get_data(as_text=True)
    assert sign_out(client).headers["Location"] == "/sign-in", "signing out is always possible"


def test_changing_the_password_releases_the_user(client, make_user):
    user = make_user(Role.REVIEWER, must_change_password=True)
    sign_in(client, user)

    resp = post_form(client, "/account/password", {
        "current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/sign-in"
    db.session.refresh(user)
    assert not user.must_change_password
    assert live_sessions_of(user) == []

    assert submit_password(client, user.email, PASSWORD).status_code == 401
    assert sign_in(client, user, password=NEW_PASSWORD).headers["Location"] == "/home"
    assert client.get("/home").status_code == 200


@pytest.mark.parametrize(("current", "new", "confirm", "message"), [
    ("not the password at all", NEW_PASSWORD, NEW_PASSWORD, "The current password is not right."),
    (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", "The two new passwords differ."),
    (PASSWORD, "too short", "too short", "between 12 and 256 characters"),
    (PASSWORD, PASSWORD, PASSWORD, "Choose a password different from the current one."),
], ids=["wrong-current", "mismatch", "too-short", "unchanged"])
def test_invalid_password_change_is_refused_and_changes_nothing(
    client, make_user, current, new, confirm, message
):
    user = make_user(Role.REVIEWER, must_change_password=True)
    sign_in(client, user)
    old_hash = user.password_hash

    resp = post_form(client, "/account/password", {"current": current, "new": new, "confirm": confirm})
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    db.session.refresh(user)
    assert user.password_hash == old_hash and user.must_change_password
    assert len(live_sessions_of(user)) == 1 and is_signed_in(client)
    assert events(AuditAction.PASSWORD_CHANGED) == []


def test_guessing_the_current_password_counts_toward_the_rate_limit(client, make_user):
    """A borrowed session must not become a way to guess the password."""
    user = make_user(Role.REVIEWER)
    sign_in(client, user)
    wrong = {"current": "not the password at all", "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    for _ in range(5):
        assert post_form(client, "/account/password", wrong).status_code == 422
    assert len(events(AuditAction.PASSWORD_CHANGE_FAILED)) == 5
    assert failure_count(user.email) == 5

    right = {**wrong, "current": PASSWORD}
    resp = post_form(client, "/account/password", right)
    assert resp.status_code == 429
    assert THROTTLED in resp.get_data(as_text=True)
    db.session.refresh(user)
    assert events(AuditAction.PASSWORD_CHANGED) == []


# ---- CSRF and safe methods ----------------------------------------------------


@pytest.mark.parametrize("token", ["missing", "garbage", "another session's"])
def test_sign_out_without_a_valid_csrf_token_is_refused(client, new_client, make_user, token):
    user = make_user(Role.REVIEWER)
    sign_in(client, user)
    data = {
        "missing": {},
        "garbage": {"csrf_token": "not-a-token"},
        "another session's": {"csrf_token": csrf_from(new_client().get("/sign-in").get_data(as_text=True))},
    }[token]

    resp = client.post("/sign-out", data=data)
    assert resp.status_code == 400
    assert "security token" in resp.get_data(as_text=True)
    assert is_signed_in(client)
    assert len(live_sessions_of(user)) == 1
    assert events(AuditAction.SIGN_OUT) == []


def test_sign_in_without_csrf_token_is_refused_unchecked(client, make_user):
    user = make_user(Role.REVIEWER)
    client.get("/sign-in")

    resp = client.post("/sign-in", data={"email": user.email, "password": "not the password at all"})
    assert resp.status_code == 400
    assert failure_count() == 0
    assert events(AuditAction.SIGN_IN_FAILED) == []
    resp = client.post("/sign-in", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 400
    assert sessions_of(user) == []


def test_password_change_without_csrf_token_changes_nothing(client, make_user):
    user = make_user(Role.REVIEWER)
    sign_in(client, user)
    old_hash = user.password_hash

    resp = client.post("/account/password", data={
        "current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert resp.status_code == 400
    db.session.refresh(user)
    assert user.password_hash == old_hash
    assert is_signed_in(client)


def test_get_sign_out_changes_nothing(client, make_user):
    user = make_user(Role.REVIEWER)
    sign_in(client, user)

    assert client.get("/sign-out").status_code == 405
    assert is_signed_in(client)
    assert len(live_sessions_of(user)) == 1


# ---- response headers ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/sign-in", "/", "/home", "/account/password", "/no-such-page"])
@pytest.mark.parametrize("who", ["anonymous", "signed in"])
def test_security_headers_on_every_response(client, make_user, who, path):
    if who == "signed in":
        sign_in(client, make_user(Role.REVIEWER))
    resp = client.get(path)

    assert resp.headers["Content-Security-Policy"] == (
        "default-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] in {"no-referrer", "same-origin", "strict-origin"}
    if who == "signed in":
        assert resp.headers["Cache-Control"] == "no-store"


def test_code_page_is_not_cached(client, make_user):
    user = make_user(Role.REVIEWER)
    submit_password(client, user.email)
    assert client.get("/sign-in/code").headers["Cache-Control"] == "no-store"


# ---- where sign-in sends you ----------------------------------------------------

OFF_SITE = ["//evil.example", "https://evil.example", "/\\evil.example", "///evil.example",
            "/\t/evil.example", "/\n/evil.example", "javascript:alert(1)"]


@pytest.mark.parametrize("target", OFF_SITE)
def test_staff_sign_in_never_redirects_off_site(client, make_user, target):
    user = make_user(Role.REVIEWER)
    resp = submit_password(client, user.email, next_url=target)
    assert resp.headers["Location"] == "/sign-in/code"

    resp = submit_code(client, fresh_code(user))
    assert resp.status_code == 302 and resp.headers["Location"] == "/home"


@pytest.mark.parametrize("target", OFF_SITE)
def test_customer_sign_in_never_redirects_off_site(client, make_user, target):
    user = make_user(Role.CUSTOMER)
    resp = submit_password(client, user.email, next_url=target)
    assert resp.status_code == 302 and resp.headers["Location"] == "/portal/"


def test_sign_in_returns_to_the_page_asked_for(client, make_user):
    admin = make_user(Role.ADMIN)
    asked = client.get("/admin/users")
    assert asked.headers["Location"] == "/sign-in?next=/admin/users"

    submit_password(client, admin.email, next_url="/admin/users")
    assert submit_code(client, totp_code(admin)).headers["Location"] == "/admin/users"
