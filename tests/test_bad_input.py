"""Malformed input gets a 4xx with a message a person can act on, never a 500:
numbers no column can hold, JSON nested past the parser's limit, strings the
database cannot store (NUL, unpaired surrogates), text too long for its column."""

import hashlib
import html
import json
import os
import re
import stat
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import func, select

from app import _instance_secret
from models import Account, Agency, AuditAction, AuditEvent, Customer, Role, User, UserSession, db, utcnow
from tests.conftest import PASSWORD, TEST_ACTOR, assert_error, fresh_code, post_form, sign_in
from tests.test_auth import events, failure_count
from workflows.errors import InvalidInput
from workflows.identity import directory, users

HUGE = "99999999999999999999"  # past 64 bits: SQLite's driver overflows
PAST_INTEGER = "2147483648"  # past PostgreSQL's `integer`
SESSION_URL = "/api/v1/session"
BAD_TEXT = {
    "nul": "bad\x00text",
    "lone-surrogate": "bad\ud800text",
    "line-break": "bad\ntext",
    "escape": "bad\x1b[31mtext",
}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def counts() -> dict[str, int]:
    return {m.__name__: count(m) for m in (User, Customer, Account, Agency, AuditEvent)}


def signed_in_as(new_client, make_user, role: Role):
    client = new_client()
    resp = sign_in(client, make_user(role, email=f"{role.value}@provider.example"))
    assert resp.status_code == 302 and resp.headers["Location"] == "/home"
    return client


@pytest.fixture
def admin_client(new_client, make_user):
    return signed_in_as(new_client, make_user, Role.ADMIN)


@pytest.fixture
def auditor_client(new_client, make_user):
    return signed_in_as(new_client, make_user, Role.AUDITOR)


def assert_json_error(resp, status: int, code: str, fields: list[str] | None = None) -> dict:
    """The error, naming exactly `fields` (none unless given)."""
    assert resp.status_code == status
    body = resp.get_json()
    assert set(body) == {"error", "message", "reasons"} | ({"fields"} if fields else set())
    assert body["error"] == code and body["message"] and body["reasons"] == (fields or [])
    assert set(body.get("fields", {})) == set(fields or [])
    return body


# ---- numbers in URLs ---------------------------------------------------------


@pytest.mark.parametrize("user_id", [HUGE, PAST_INTEGER, "2147483647"])
def test_user_page_with_an_id_no_user_can_have_is_not_found(admin_client, user_id):
    assert admin_client.get(f"/admin/users/{user_id}").status_code == 404


@pytest.mark.parametrize("action", ["disable", "enable", "reset-mfa"])
@pytest.mark.parametrize("user_id", [HUGE, PAST_INTEGER])
def test_action_on_an_id_no_user_can_have_is_not_found(admin_client, action, user_id):
    before = counts()
    resp = post_form(admin_client, f"/admin/users/{user_id}/{action}", page_url="/admin/users")
    assert resp.status_code == 404
    assert counts() == before


@pytest.mark.parametrize("before", [HUGE, PAST_INTEGER, "0", "-1", "abc", "9" * 5000],
                         ids=["past-64-bits", "past-integer", "zero", "negative", "not-a-number",
                              "5000-digits"])
def test_audit_page_cursor_out_of_range_is_a_400_with_a_message(auditor_client, before):
    resp = auditor_client.get("/audit/", query_string={"before": before})
    assert resp.status_code == 400
    assert "must be an event number from 1 to 2147483647" in html.unescape(resp.get_data(as_text=True))


def test_audit_page_cursor_at_the_top_of_the_range_shows_the_newest_events(auditor_client):
    newest = db.session.scalar(select(func.max(AuditEvent.seq)))
    resp = auditor_client.get("/audit/?before=2147483647")
    assert resp.status_code == 200
    assert f'<span class="cell-label">Event </span>{newest}</td>' in resp.get_data(as_text=True)


# ---- JSON bodies ---------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    b"[" * 100_000,
    b'{"email": "a@provider.example", "password": ' + b"[" * 100_000,
    b'{"email": "\xff\xfe@provider.example", "password": "correct horse battery"}',
], ids=["nested-array", "nested-in-object", "not-utf8"])
def test_session_body_that_cannot_be_parsed_is_a_400(client, make_user, raw):
    make_user(Role.REVIEWER, email="someone@provider.example")
    resp = client.post(SESSION_URL, data=raw, content_type="application/json")
    assert_json_error(resp, 400, "invalid_body")
    assert count(UserSession) == 0 and failure_count() == 0


@pytest.mark.parametrize("field", ["email", "password", "totp"])
@pytest.mark.parametrize("bad", [BAD_TEXT["nul"], BAD_TEXT["lone-surrogate"]], ids=["nul", "lone-surrogate"])
def test_session_strings_no_database_can_store_are_a_422_unchecked(client, make_user, field, bad):
    user = make_user(Role.REVIEWER, email="someone@provider.example")
    body = {"email": user.email, "password": PASSWORD, "totp": "123456", field: bad}
    # json.dumps writes "\ud800" and "\u0000" as escapes, as a client could.
    resp = client.post(SESSION_URL, data=json.dumps(body), content_type="application/json")
    assert_json_error(resp, 422, "invalid_input", [field])
    assert count(UserSession) == 0 and failure_count() == 0
    assert events(AuditAction.SIGN_IN_FAILED) == []


def test_session_totp_must_be_a_string(client, make_user):
    user = make_user(Role.REVIEWER, email="someone@provider.example")
    resp = client.post(SESSION_URL, json={"email": user.email, "password": PASSWORD, "totp": [1, 2]})
    assert_json_error(resp, 422, "invalid_input", ["totp"])


# ---- text given to workflows ------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_TEXT.values(), ids=BAD_TEXT.keys())
def test_user_name_with_characters_no_name_has_is_refused(app, bad):
    before = counts()
    with pytest.raises(InvalidInput) as refused:
        users.create_user("nina@provider.example", Role.REVIEWER, PASSWORD, TEST_ACTOR, utcnow(),
                          name=bad)
    db.session.rollback()
    assert refused.value.reasons == ["name"]
    assert counts() == before


@pytest.mark.parametrize("bad", BAD_TEXT.values(), ids=BAD_TEXT.keys())
@pytest.mark.parametrize("field", ["name", "email", "account"])
def test_customer_text_with_characters_it_cannot_have_is_refused(app, field, bad):
    given = {"name": "Contoso Ltd", "email": "legal@contoso.example", "account": "alice@contoso.example"}
    given[field] = bad
    before = counts()
    with pytest.raises(InvalidInput) as refused:
        directory.create_customer(given["name"], "enterprise", "US", [given["email"]],
                                  [given["account"]], TEST_ACTOR, utcnow())
    db.session.rollback()
    assert refused.value.reasons == [field]
    assert counts() == before


@pytest.mark.parametrize("bad", BAD_TEXT.values(), ids=BAD_TEXT.keys())
def test_agency_name_with_characters_no_name_has_is_refused(app, bad):
    before = counts()
    with pytest.raises(InvalidInput) as refused:
        directory.create_agency(bad, "US", TEST_ACTOR, utcnow())
    db.session.rollback()
    assert refused.value.reasons == ["name"]
    assert counts() == before


def test_account_identifier_longer_than_254_characters_is_refused(app):
    before = counts()
    with pytest.raises(InvalidInput, match="at most 254 characters") as refused:
        directory.create_customer("Contoso Ltd", "enterprise", "US", ["legal@contoso.example"],
                                  ["a" * 255], TEST_ACTOR, utcnow())
    db.session.rollback()
    assert refused.value.reasons == ["account"]
    assert counts() == before


def test_account_identifier_of_254_characters_is_stored(app):
    customer = directory.create_customer("Contoso Ltd", "enterprise", "US", ["legal@contoso.example"],
                                         ["A" * 254], TEST_ACTOR, utcnow())
    db.session.commit()
    assert [a.identifier for a in customer.accounts] == ["a" * 254]


def test_customer_id_outside_the_integer_range_is_no_customer(app):
    for customer_id in (int(HUGE), int(PAST_INTEGER), 0, -1):
        with pytest.raises(InvalidInput, match="needs an existing customer"):
            users.create_user("cora@contoso.example", Role.CUSTOMER, PASSWORD, TEST_ACTOR, utcnow(),
                              customer_id=customer_id)
        db.session.rollback()


def test_admin_form_name_with_nul_is_refused_beside_the_field(admin_client):
    before = counts()
    resp = post_form(admin_client, "/admin/users/new", {
        "email": "nina.new@provider.example", "name": "Nina\x00New", "role": "reviewer",
        "customer_id": "", "password": "initial password 1",
    }, page_url="/admin/users/new")
    assert resp.status_code == 422
    match = re.search(r'<p class="error" id="name-error">(.*?)</p>', resp.get_data(as_text=True), re.S)
    assert match and "control characters" in html.unescape(match.group(1))
    assert counts() == before


# ---- the instance secrets ------------------------------------------------------------


@pytest.fixture
def no_configured_secrets(monkeypatch):
    for name in ("SECRET_KEY", "DUE_PROCESS_SECRET_KEY", "DUE_PROCESS_FIELD_KEYS", "DUE_PROCESS_PACKAGE_KEYS",
                 "DUE_PROCESS_CHECKPOINT_KEY", "DATABASE_URL", "DUE_PROCESS_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def in_threads(n: int, work) -> list:
    """Run `work` in n threads released at the same moment; its results, or raise its error."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def run(i):
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


@pytest.mark.slow
def test_workers_starting_at_once_on_a_fresh_folder_share_one_secret_key(tmp_path, no_configured_secrets):
    """Gunicorn workers are processes: start several at once on an empty instance folder."""
    instance = tmp_path / "instance"
    # Each worker imports everything, says it is ready, then waits for one signal,
    # so all of them reach the key files within a millisecond or so.
    script = (
        "import sys, time, pathlib; from app import create_app; "
        "pathlib.Path(sys.argv[3]).touch(); "
        "go = pathlib.Path(sys.argv[4])\n"
        "while not go.exists(): time.sleep(0.0005)\n"
        "app = create_app({'TESTING': True, 'INSTANCE_PATH': sys.argv[1], "
        "'SQLALCHEMY_DATABASE_URI': 'sqlite:///' + sys.argv[2]}); "
        "import hashlib; c = app.config; "
        "print(c['SECRET_KEY'], c['FIELD_KEYS'], c['PACKAGE_KEYS'], "
        "hashlib.sha256(c['CHECKPOINT_KEY'].encode()).hexdigest())"
    )
    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items()
           if k not in ("SECRET_KEY", "DUE_PROCESS_FIELD_KEYS", "DUE_PROCESS_PACKAGE_KEYS",
                        "DUE_PROCESS_CHECKPOINT_KEY")}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(instance), str(tmp_path / "db.sqlite3"),
             str(tmp_path / f"ready-{n}"), str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for n in range(6)
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{n}").exists() for n in range(6)):
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.01)
    go.touch()
    outputs = [w.communicate(timeout=120) for w in workers]
    assert all(w.returncode == 0 for w in workers), [err for _, err in outputs]
    keys = {tuple(out.split()) for out, _ in outputs}

    assert len(keys) == 1
    secret_key, field_key, package_key, checkpoint_key = next(iter(keys))
    assert (instance / "secret_key").read_text() == secret_key
    assert (instance / "field_key").read_text() == field_key
    assert (instance / "package_key").read_text() == package_key
    pem = (instance / "checkpoint_key").read_text().strip()
    assert hashlib.sha256(pem.encode()).hexdigest() == checkpoint_key
    names = ["checkpoint_key", "field_key", "package_key", "secret_key"]
    for name in names:
        assert stat.S_IMODE((instance / name).stat().st_mode) == 0o600
    assert sorted(p.name for p in instance.iterdir()) == names


def test_nobody_reads_a_secret_still_being_written(tmp_path):
    """A slow generator widens the moment a half-made file could be seen."""

    def slow_secret(i):
        def make():
            time.sleep(0.05)
            return f"secret-{i}"
        return _instance_secret(tmp_path, "secret_key", make)

    found = in_threads(8, slow_secret)

    assert len(set(found)) == 1 and found[0].startswith("secret-")
    assert (tmp_path / "secret_key").read_text() == found[0]
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


# ---- malformed forms ----------------------------------------------------------------

NAMELESS_PARTS = {
    "field": b"--b\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--b--\r\n",
    "file": (b'--b\r\nContent-Disposition: form-data; filename="warrant.pdf"\r\n'
             b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--b--\r\n"),
}


@pytest.mark.parametrize("part", list(NAMELESS_PARTS))
@pytest.mark.parametrize("url", ["/sign-in", "/api/v1/session", "/api/v1/cases"])
def test_a_form_part_without_a_name_is_a_400_not_a_crash(new_client, make_user, url, part):
    client = new_client()
    if url == "/api/v1/cases":  # a staff endpoint: only a signed-in caller gets as far as the form
        intake = make_user(Role.INTAKE)
        resp = client.post("/api/v1/session", json={"email": intake.email, "password": PASSWORD,
                                                    "totp": fresh_code(intake)})
        assert resp.status_code == 200
    resp = client.post(url, data=NAMELESS_PARTS[part], content_type="multipart/form-data; boundary=b")
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    if url.startswith("/api/"):
        body = assert_error(resp, 400, "bad_request")
        assert "without a name" in body["message"]
    else:
        assert "without a name" in resp.get_data(as_text=True)
