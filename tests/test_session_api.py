"""The JSON session: POST /api/v1/session signs in, DELETE signs out.

Errors are always {"error": code, "message": text, "reasons": [...]}, and a
refused attempt leaves no session behind.
"""

import json

import pyotp
import pytest
from sqlalchemy import func, select

from models import AuditAction, Role, UserSession, db
from tests.conftest import PASSWORD, csrf_from, fresh_code, sign_in, totp_code
from tests.test_auth import (
    COOKIE,
    cookie_of,
    events,
    failure_count,
    is_signed_in,
    live_sessions_of,
    sessions_of,
    with_cookie,
    wrong_code,
)
from workflows.identity.auth import CODE_FAILURE, GENERIC_FAILURE

URL = "/api/v1/session"
WRONG_PASSWORD = "not the password at all"


def credentials(user, password: str = PASSWORD, code: str | None = None) -> dict:
    body = {"email": user.email, "password": password}
    if user.mfa_required:
        body["totp"] = code if code is not None else fresh_code(user)
    return body


def api_sign_in(client, user, **kwargs):
    return client.post(URL, json=credentials(user, **kwargs))


def assert_error(resp, status: int, code: str, message: str | None = None) -> dict:
    assert resp.status_code == status
    assert resp.is_json
    body = resp.get_json()
    # fields, where the refusal concerns fields: each one with what is wrong with it
    assert set(body) - {"fields"} == {"error", "message", "reasons"}
    assert all(isinstance(v, str) and v for v in body.get("fields", {"-": "-"}).values())
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["reasons"], list)
    if message is not None:
        assert body["message"] == message
    return body


def no_sessions() -> bool:
    return db.session.scalar(select(func.count()).select_from(UserSession)) == 0


# ---- signing in -------------------------------------------------------------


def test_staff_sign_in_returns_a_csrf_token_and_a_session_cookie(client, make_user):
    user = make_user(Role.REVIEWER)

    resp = api_sign_in(client, user)
    assert resp.status_code == 200
    body = resp.get_json()
    assert isinstance(body["csrf_token"], str) and body["csrf_token"]
    assert body["user"] == {"id": user.id, "email": user.email, "role": "reviewer"}
    set_cookie = resp.headers["Set-Cookie"]
    assert set_cookie.startswith(f"{COOKIE}=") and "HttpOnly" in set_cookie
    assert resp.headers["Cache-Control"] == "no-store"

    [record] = live_sessions_of(user)
    assert len(events(AuditAction.SIGN_IN, user)) == 1
    assert client.get("/home").status_code == 200, "the cookie carries the session"
    assert record.revoked_at is None


def test_customer_without_totp_signs_in_with_password_only(client, make_user):
    user = make_user(Role.CUSTOMER)

    resp = client.post(URL, json={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 200
    assert resp.get_json()["user"]["role"] == "customer"
    assert len(live_sessions_of(user)) == 1


def test_each_sign_in_is_a_new_session(client, make_user):
    user = make_user(Role.REVIEWER)
    api_sign_in(client, user)
    first = cookie_of(client)
    api_sign_in(client, user)

    assert cookie_of(client) != first
    old, new = sessions_of(user)
    assert old.token_hash != new.token_hash
    # Signing in again from the same client replaces its session, never adds one.
    assert old.revoked_at is not None and live_sessions_of(user) == [new]


# ---- signing out ------------------------------------------------------------


def test_sign_out_needs_the_csrf_header(client, make_user):
    user = make_user(Role.REVIEWER)
    api_sign_in(client, user)

    assert_error(client.delete(URL), 400, "csrf_failed")
    assert_error(client.delete(URL, headers={"X-CSRFToken": "not-a-token"}), 400, "csrf_failed")
    assert len(live_sessions_of(user)) == 1
    assert events(AuditAction.SIGN_OUT) == []
    assert is_signed_in(client)


def test_sign_out_ends_the_session(client, new_client, make_user):
    user = make_user(Role.REVIEWER)
    token = api_sign_in(client, user).get_json()["csrf_token"]
    copy = cookie_of(client)

    resp = client.delete(URL, headers={"X-CSRFToken": token})
    assert resp.status_code == 204 and resp.get_data() == b""
    [record] = sessions_of(user)
    assert record.revoked_at is not None
    assert len(events(AuditAction.SIGN_OUT, user)) == 1

    # The same cookie and token, replayed: the server-side session is gone.
    replayed = with_cookie(new_client, copy)
    assert_error(replayed.delete(URL, headers={"X-CSRFToken": token}), 401, "unauthenticated")
    assert not is_signed_in(replayed)
    # This client's own cookie was emptied: it is told to sign in.
    assert_error(client.delete(URL, headers={"X-CSRFToken": token}), 401, "unauthenticated")
    assert len(events(AuditAction.SIGN_OUT)) == 1


def test_sign_out_without_a_session_is_unauthenticated(client):
    token = csrf_from(client.get("/sign-in").get_data(as_text=True))  # valid, but nobody signed in

    assert_error(client.delete(URL, headers={"X-CSRFToken": token}), 401, "unauthenticated")
    assert events(AuditAction.SIGN_OUT) == []


def test_user_who_must_change_password_can_still_sign_out(client, make_user):
    user = make_user(Role.REVIEWER, must_change_password=True)
    token = api_sign_in(client, user).get_json()["csrf_token"]

    assert client.delete(URL, headers={"X-CSRFToken": token}).status_code == 204
    assert live_sessions_of(user) == []


# ---- refusals -----------------------------------------------------------------


def test_unknown_email_wrong_password_and_disabled_user_fail_alike(client, make_user):
    known = make_user(Role.CUSTOMER, email="known@customer.example")
    make_user(Role.CUSTOMER, email="gone@customer.example", active=False)
    attempts = [
        {"email": "nobody@customer.example", "password": PASSWORD},
        {"email": known.email, "password": WRONG_PASSWORD},
        {"email": "gone@customer.example", "password": PASSWORD},
    ]

    answers = [client.post(URL, json=body) for body in attempts]
    for resp in answers:
        assert_error(resp, 401, "invalid_credentials", GENERIC_FAILURE)
    assert len({resp.get_data() for resp in answers}) == 1
    assert no_sessions()
    assert failure_count() == 3


@pytest.mark.parametrize("code", ["missing", "wrong"])
def test_missing_or_wrong_totp_is_refused(client, make_user, code):
    user = make_user(Role.REVIEWER)
    body = {"email": user.email, "password": PASSWORD}
    if code == "wrong":
        body["totp"] = wrong_code(user)

    assert_error(client.post(URL, json=body), 401, "invalid_credentials", CODE_FAILURE)
    assert sessions_of(user) == []
    assert failure_count(user.email) == 1
    assert len(events(AuditAction.MFA_FAILED, user)) == 1


def test_replayed_totp_is_refused(client, make_user):
    user = make_user(Role.REVIEWER)
    code = totp_code(user)
    token = api_sign_in(client, user, code=code).get_json()["csrf_token"]
    client.delete(URL, headers={"X-CSRFToken": token})

    assert_error(api_sign_in(client, user, code=code), 401, "invalid_credentials", CODE_FAILURE)
    assert live_sessions_of(user) == [] and len(sessions_of(user)) == 1


def test_code_used_in_the_browser_is_spent_for_the_api(client, new_client, make_user):
    user = make_user(Role.REVIEWER)
    sign_in(new_client(), user)
    db.session.refresh(user)
    spent = pyotp.TOTP(user.totp_secret).generate_otp(user.totp_last_step)

    assert_error(api_sign_in(client, user, code=spent), 401, "invalid_credentials", CODE_FAILURE)
    assert len(live_sessions_of(user)) == 1, "only the browser's session"


@pytest.mark.parametrize("sent_as", ["form", "text", "none"])
def test_body_must_be_json(client, make_user, sent_as):
    user = make_user(Role.CUSTOMER)
    fields = {"email": user.email, "password": PASSWORD}
    resp = {
        "form": lambda: client.post(URL, data=fields),
        "text": lambda: client.post(URL, data=json.dumps(fields), content_type="text/plain"),
        "none": lambda: client.post(URL),
    }[sent_as]()

    assert_error(resp, 415, "unsupported_media_type")
    assert no_sessions()
    assert failure_count() == 0


@pytest.mark.parametrize(("raw", "status", "code"), [
    ("{not json", 400, "invalid_body"),
    ("[]", 422, "invalid_input"),
    ('"a string"', 422, "invalid_input"),
    ('{"email": "someone@provider.example"}', 422, "invalid_input"),
    ('{"email": 42, "password": "correct horse battery"}', 422, "invalid_input"),
    ('{"email": "someone@provider.example", "password": null}', 422, "invalid_input"),
    ('{"email": "someone@provider.example", "password": "a\\u0000b"}', 422, "invalid_input"),
    ('{"email": "someone@provider.example", "password": "a\\ud800b"}', 422, "invalid_input"),
    ('{"email": "someone@provider.example", "password": "x", "totp": "twelve"}', 422, "invalid_input"),
    ('{"email": "someone@provider.example", "password": "x", "remember": true}', 422, "invalid_input"),
], ids=["broken", "list", "string", "no-password", "number-email", "null-password", "nul-password",
        "surrogate-password", "letters-for-code", "unknown-key"])
def test_malformed_body_is_refused_unchecked(client, make_user, raw, status, code):
    """Only a well-formed body reaches the password check: nothing else counts as
    a failed sign-in or leaves an event."""
    make_user(Role.REVIEWER, email="someone@provider.example")

    resp = client.post(URL, data=raw, content_type="application/json")
    assert_error(resp, status, code)
    assert no_sessions()
    assert failure_count() == 0
    assert events(AuditAction.SIGN_IN_FAILED) == []


def test_sixth_failure_within_a_minute_is_rate_limited(client, make_user):
    user = make_user(Role.REVIEWER)
    for _ in range(5):
        assert api_sign_in(client, user, password=WRONG_PASSWORD).status_code == 401

    assert_error(api_sign_in(client, user), 429, "rate_limited")
    assert sessions_of(user) == []
    assert failure_count(user.email) == 5
    assert len(events(AuditAction.SIGN_IN_THROTTLED)) == 1


def enrolment_offer(client, user) -> dict:
    resp = client.post(URL, json={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 403, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) == {"error", "message", "reasons", "enrolment"}
    assert body["error"] == "mfa_enrolment_required"
    assert "POST /api/v1/session/enrolment" in body["message"]
    return body["enrolment"]


def test_staff_user_not_enrolled_enrols_through_the_api(client, make_user):
    user = make_user(Role.REVIEWER, enrolled=False)
    offer = enrolment_offer(client, user)
    assert offer["secret"] == user.totp_secret and offer["expires_in"] == 300
    assert offer["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={user.totp_secret}" in offer["otpauth_uri"]
    db.session.refresh(user)
    assert user.totp_confirmed_at is None and sessions_of(user) == []
    assert len(events(AuditAction.MFA_ENROLMENT_OFFERED)) == 1

    wrong = client.post(URL + "/enrolment", json={"token": offer["token"], "totp": "000000"})
    assert_error(wrong, 401, "invalid_credentials", CODE_FAILURE)
    done = client.post(URL + "/enrolment", json={"token": offer["token"],
                                                  "totp": pyotp.TOTP(offer["secret"]).now()})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["user"]["email"] == user.email and done.get_json()["csrf_token"]
    db.session.refresh(user)
    assert user.totp_confirmed_at is not None and len(sessions_of(user)) == 1
    assert len(events(AuditAction.MFA_ENROLLED)) == 1
    assert client.get(f"/api/v1/cases/{999999}").status_code == 404  # signed in: the case simply is not there

    # The token is spent: the user is enrolled now.
    again = client.post(URL + "/enrolment", json={"token": offer["token"], "totp": totp_code(user)})
    assert_error(again, 401, "invalid_credentials")


@pytest.mark.parametrize("token", ["not-a-token", "a" * 40, "x.y.z"])
def test_an_enrolment_token_not_ours_is_refused(client, make_user, token):
    user = make_user(Role.REVIEWER, enrolled=False)
    refused = client.post(URL + "/enrolment", json={"token": token, "totp": totp_code(user)})
    assert_error(refused, 401, "invalid_credentials")
    db.session.refresh(user)
    assert user.totp_confirmed_at is None


def test_an_enrolment_token_is_worthless_after_a_password_change_or_five_minutes(client, make_user,
                                                                                monkeypatch):
    from workflows.identity import hash_password

    user = make_user(Role.REVIEWER, enrolled=False)
    offer = enrolment_offer(client, user)
    user.password_hash = hash_password("another long passphrase")
    db.session.commit()
    changed = client.post(URL + "/enrolment", json={"token": offer["token"], "totp": totp_code(user)})
    assert_error(changed, 401, "invalid_credentials")

    other = make_user(Role.REVIEWER, enrolled=False)
    late = enrolment_offer(client, other)
    import time

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 301)
    expired = client.post(URL + "/enrolment", json={"token": late["token"], "totp": totp_code(other)})
    assert_error(expired, 401, "invalid_credentials")
    db.session.refresh(other)
    assert other.totp_confirmed_at is None


def test_enrolment_codes_count_toward_the_sign_in_limit(client, make_user):
    user = make_user(Role.REVIEWER, enrolled=False)
    offer = enrolment_offer(client, user)
    statuses = [client.post(URL + "/enrolment", json={"token": offer["token"], "totp": "000000"}).status_code
                for _ in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429


def test_not_enrolled_answer_needs_the_right_password(client, make_user):
    user = make_user(Role.REVIEWER, enrolled=False)

    resp = client.post(URL, json={"email": user.email, "password": WRONG_PASSWORD, "totp": ""})
    assert_error(resp, 401, "invalid_credentials", GENERIC_FAILURE)


# ---- the description --------------------------------------------------------


def test_openapi_is_public_and_describes_the_session(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200 and resp.is_json
    spec = resp.get_json()
    assert spec["openapi"].startswith("3.")
    session = spec["paths"]["/session"]
    assert {"post", "delete"} <= set(session)
    assert {"200", "401", "415", "429"} <= set(session["post"]["responses"])
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_an_anonymous_write_is_told_to_sign_in_not_about_a_token(client, make_agency):
    """Who may call is checked before the CSRF token: the answer says what to do."""
    agency = make_agency().agency
    resp = client.post("/api/v1/cases", json={"agency_id": agency.id})
    assert_error(resp, 401, "unauthenticated")
    page = client.post("/cases/new", data={"agency_id": str(agency.id)})
    assert page.status_code == 302 and "/sign-in" in page.headers["Location"]
