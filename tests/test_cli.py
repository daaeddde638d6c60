"""The command line is an interface contract (DESIGN section 9): each command
prints `key: value` lines, exits non-zero with a message a person can act on,
and leaves nothing half-written behind."""

import base64
import hashlib
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from app import create_app
from models import (
    Account,
    Agency,
    AgencyToken,
    AuditAction,
    AuditEvent,
    Customer,
    Role,
    User,
    db,
    utcnow,
)
from tests.conftest import base_config, pairs
from workflows.identity import passwords

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a long enough password"


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def counts() -> dict[str, int]:
    return {m.__name__: count(m) for m in (User, Customer, Account, Agency, AgencyToken, AuditEvent)}


def make_customer_via_cli(cli, name="Contoso Ltd", *accounts) -> int:
    result = cli("customers", "create", name, "--kind", "enterprise", "--country", "US",
                 "--email", "legal@contoso.example", *[f"--account={a}" for a in accounts])
    assert result.exit_code == 0, result.output
    return int(pairs(result.stdout)["customer_id"])


# ---- users create ----------------------------------------------------------------


@pytest.mark.parametrize("role", [r.value for r in Role if r.is_staff])
def test_create_staff_user_prints_id_and_totp_secret(cli, role):
    result = cli("users", "create", f"{role}@provider.example", "--role", role, "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2, lines
    user_id = re.fullmatch(r"user_id: (\d+)", lines[0])
    secret = re.fullmatch(r"totp_secret: ([A-Z2-7]+)", lines[1])
    assert user_id and secret, lines
    secret = secret.group(1)
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) >= 16  # at least 128 bits

    user = db.session.get(User, int(user_id.group(1)))
    assert (user.email, user.role) == (f"{role}@provider.example", Role(role))
    assert user.totp_secret == secret and user.totp_confirmed_at is None
    assert passwords.verify(user.password_hash, PASSWORD)
    assert PASSWORD not in user.password_hash


def test_create_customer_user_prints_id_only(cli):
    customer_id = make_customer_via_cli(cli, "Contoso Ltd", "alice@contoso.example")
    result = cli("users", "create", "counsel@contoso.example", "--role", "customer",
                 "--customer-id", str(customer_id), "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    user = db.session.get(User, int(re.fullmatch(r"user_id: (\d+)", line).group(1)))
    assert (user.role, user.customer_id, user.totp_secret) == (Role.CUSTOMER, customer_id, None)


def test_create_user_without_password_prints_a_generated_one(cli):
    result = cli("users", "create", "auditor@provider.example", "--role", "auditor")
    assert result.exit_code == 0, result.output
    out = pairs(result.stdout)
    assert list(out) == ["user_id", "totp_secret", "password"]
    assert len(out["password"]) >= passwords.MIN_LENGTH
    assert passwords.verify(db.session.get(User, int(out["user_id"])).password_hash, out["password"])


@pytest.mark.parametrize("args, message", [
    (["x@provider.example", "--role", "superuser", "--password", PASSWORD], "Invalid value for '--role'"),
    (["not-an-email", "--role", "reviewer", "--password", PASSWORD], "Not a valid e-mail address"),
    (["x@provider.example", "--role", "reviewer", "--password", "short"], "at least 12 characters"),
    (["x@provider.example", "--role", "customer", "--password", PASSWORD],
     "A customer user needs an existing customer"),
    (["x@provider.example", "--role", "customer", "--customer-id", "999", "--password", PASSWORD],
     "A customer user needs an existing customer"),
    (["x@provider.example", "--role", "customer", "--customer-id", "99999999999999999999",
      "--password", PASSWORD], "A customer user needs an existing customer"),
    (["x@provider.example", "--role", "reviewer", "--customer-id", "1", "--password", PASSWORD],
     "Only customer users belong to a customer"),
], ids=["unknown-role", "bad-email", "short-password", "customer-without-customer",
        "customer-unknown-customer", "customer-id-out-of-range", "staff-with-customer"])
def test_create_user_refuses_bad_input(cli, args, message):
    make_customer_via_cli(cli, "Contoso Ltd", "alice@contoso.example")
    before = counts()
    result = cli("users", "create", *args)
    assert result.exit_code != 0
    assert message in result.stderr
    assert result.stdout == ""
    assert counts() == before


def test_create_user_refuses_duplicate_email(cli):
    assert cli("users", "create", "dup@provider.example", "--role", "reviewer",
               "--password", PASSWORD).exit_code == 0
    before = counts()
    result = cli("users", "create", "Dup@Provider.example", "--role", "approver", "--password", PASSWORD)
    assert result.exit_code != 0
    assert "already exists" in result.stderr
    assert counts() == before


# ---- agencies create ---------------------------------------------------------------


def test_create_agency_prints_id_and_token_stored_only_hashed(cli):
    result = cli("agencies", "create", "Bundeskriminalamt", "--country", "de", "--verified")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(": ")[0] for line in lines] == ["agency_id", "token"]
    out = pairs(result.stdout)
    token = out["token"]
    assert len(token) >= 40

    agency = db.session.get(Agency, int(out["agency_id"]))
    assert (agency.name, agency.country, agency.verified) == ("Bundeskriminalamt", "DE", True)
    [stored] = agency.tokens
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    # Nowhere in the database, in any table, does the token appear in clear.
    db.session.commit()
    with db.engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                assert token not in repr(tuple(row)), f"token in clear in {table}"


def test_create_agency_unverified_by_default(cli):
    out = pairs(cli("agencies", "create", "Regional Cyber Unit", "--country", "IN").stdout)
    assert db.session.get(Agency, int(out["agency_id"])).verified is False


@pytest.mark.parametrize("country", ["USA", "U1", "", "ÜS"])
def test_create_agency_refuses_bad_country(cli, country):
    result = cli("agencies", "create", "Some Agency", "--country", country)
    assert result.exit_code != 0
    assert "ISO 3166-1 alpha-2" in result.stderr
    assert counts() == dict.fromkeys(counts(), 0)


def test_revoke_tokens_refuses_each_token_at_its_next_use_and_issues_none(cli, client, make_agency):
    leaked, other = make_agency(), make_agency()
    bearer = {"Authorization": f"Bearer {leaked.token}"}
    assert client.get("/api/v1/agency/requests/1", headers=bearer).status_code == 404  # in, no such request

    result = cli("agencies", "revoke-tokens", str(leaked.agency.id))
    assert result.exit_code == 0, result.output
    assert pairs(result.stdout) == {"agency_id": str(leaked.agency.id), "revoked": "1"}
    refused = client.get("/api/v1/agency/requests/1", headers=bearer)
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_token"
    other_bearer = {"Authorization": f"Bearer {other.token}"}
    assert client.get("/api/v1/agency/requests/1", headers=other_bearer).status_code == 404  # untouched
    assert len(db.session.get(Agency, leaked.agency.id).tokens) == 1  # nothing new was issued
    [event] = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.AGENCY_TOKENS_REVOKED.value)).all()
    assert event.data == {"revoked": 1, "prefixes": [leaked.token[:10]]}
    # Again: nothing left to revoke, and it says so.
    assert pairs(cli("agencies", "revoke-tokens", str(leaked.agency.id)).stdout)["revoked"] == "0"


@pytest.mark.parametrize("agency_id", ["999999", "0", "abc", "99999999999"])
def test_revoke_tokens_of_no_such_agency_is_a_clear_error(cli, agency_id):
    result = cli("agencies", "revoke-tokens", agency_id)
    assert result.exit_code != 0
    assert "agency" in result.stderr.lower() or "AGENCY_ID" in result.stderr


def test_create_agency_refuses_duplicate_name(cli):
    assert cli("agencies", "create", "Policia Federal", "--country", "BR").exit_code == 0
    before = counts()
    result = cli("agencies", "create", "Policia Federal", "--country", "PT")
    assert result.exit_code != 0
    assert "already exists" in result.stderr
    assert counts() == before


# ---- customers create ----------------------------------------------------------------


def test_create_customer_prints_id_and_creates_accounts(cli):
    result = cli("customers", "create", "Contoso Ltd", "--kind", "enterprise", "--country", "US",
                 "--email", "legal@contoso.example", "--account", "Alice@Contoso.example",
                 "--account", "acct-100200", "--account", "bob")
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    customer = db.session.get(Customer, int(re.fullmatch(r"customer_id: (\d+)", line).group(1)))
    assert (customer.name, customer.kind.value, customer.country) == ("Contoso Ltd", "enterprise", "US")
    assert customer.notice_emails == ["legal@contoso.example"]
    assert [(a.identifier, a.kind.value) for a in customer.accounts] == [
        ("alice@contoso.example", "email"), ("acct-100200", "account_id"), ("bob", "username")]


@pytest.mark.parametrize("accounts", [["alice@contoso.example"], ["mia@fabrikam.example"] * 2],
                         ids=["taken-by-another-customer", "repeated"])
def test_create_customer_refuses_duplicate_account(cli, accounts):
    make_customer_via_cli(cli, "Contoso Ltd", "alice@contoso.example")
    before = counts()
    result = cli("customers", "create", "Fabrikam GmbH", "--kind", "enterprise", "--country", "DE",
                 "--email", "recht@fabrikam.example", *[f"--account={a}" for a in accounts])
    assert result.exit_code != 0
    assert "already in use" in result.stderr and accounts[0] in result.stderr
    assert counts() == before
    assert db.session.scalar(sa.select(Customer.id).where(Customer.name == "Fabrikam GmbH")) is None


@pytest.mark.parametrize("args, message", [
    (["--account", "a" * 255], "Account identifiers have at most 254 characters"),
    (["--account", "alice\tsmith"], "Account identifiers may not contain control characters"),
    (["--email", "legal@contoso.example\x00"], "E-mail addresses may not contain control characters"),
], ids=["identifier-too-long", "identifier-with-tab", "email-with-nul"])
def test_create_customer_refuses_text_it_cannot_store(cli, args, message):
    result = cli("customers", "create", "Contoso Ltd", "--kind", "enterprise", "--country", "US",
                 "--email", "legal@contoso.example", *args)
    assert result.exit_code != 0
    assert message in result.stderr
    assert result.stdout == ""
    assert set(counts().values()) == {0}


def test_create_customer_refuses_bad_kind(cli):
    result = cli("customers", "create", "Contoso Ltd", "--kind", "government", "--country", "US",
                 "--email", "legal@contoso.example")
    assert result.exit_code != 0
    assert "Invalid value for '--kind'" in result.stderr
    assert count(Customer) == 0


# ---- audit verify ------------------------------------------------------------------------


def test_audit_verify_reports_intact_then_first_bad_event(cli):
    make_customer_via_cli(cli, "Contoso Ltd", "alice@contoso.example")
    cli("agencies", "create", "Bundeskriminalamt", "--country", "DE")
    result = cli("audit", "verify")
    assert result.exit_code == 0, result.output
    out = pairs(result.stdout)
    assert out["status"] == "intact"
    assert out["events"] == out["head_seq"] == "3"
    assert re.fullmatch(r"[0-9a-f]{64}", out["head_hash"])

    db.session.commit()
    with db.engine.begin() as conn:  # someone with database rights edits event 2
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text("UPDATE audit_events SET actor = 'nobody' WHERE seq = 2"))

    result = cli("audit", "verify")
    assert result.exit_code != 0
    out = pairs(result.stdout)
    assert out["status"] == "broken"
    assert out["first_bad_seq"] == "2"
    assert out["reason"]


# ---- demo ---------------------------------------------------------------------------------


@pytest.mark.seeded_demo()
@pytest.mark.sqlite_only  # the demo's seeding on PostgreSQL: tests/test_demo_cases.py
def test_demo_seeds_once_and_prints_logins(cli, app, seeded_demo):
    first = seeded_demo.first_run  # the copy starts from the state that first run left
    assert first.exit_code == 0, first.output
    seeded = counts()
    assert seeded["User"] >= len(Role) and seeded["Agency"] >= 2

    second = cli("demo", "--no-serve")
    assert second.exit_code == 0, second.output
    assert counts() == seeded  # no duplicates, and not even an audit event

    for result in (first, second):
        logins = [line for line in result.stdout.splitlines() if line.startswith("login: ")]
        assert {line.split()[1] for line in logins} == {r.value for r in Role}
        assert "password: " in result.stdout
    # Agency tokens are shown once, when made.
    assert "agency_token: " in first.stdout and "agency_token: " not in second.stdout
    assert (Path(app.instance_path) / "DEMO").exists()
    assert cli("audit", "verify").exit_code == 0


@pytest.mark.seeded_demo()
@pytest.mark.sqlite_only  # the demo's seeding on PostgreSQL: tests/test_demo_cases.py
def test_demo_code_prints_the_current_code(cli):
    user = db.session.scalar(sa.select(User).where(User.email == "approver@demo.example"))
    before = utcnow()
    result = cli("demo-code", "approver@demo.example")
    assert result.exit_code == 0, result.output
    out = pairs(result.stdout)
    totp = pyotp.TOTP(user.totp_secret)
    assert out["code"] in {totp.at(before), totp.at(before + timedelta(seconds=30))}
    assert 1 <= int(out["valid_for_seconds"]) <= 30


@pytest.mark.seeded_demo()
@pytest.mark.sqlite_only  # the demo's seeding on PostgreSQL: tests/test_demo_cases.py
def test_demo_code_refuses_other_users(cli, make_user):
    outsider = make_user(Role.APPROVER)
    for email in (outsider.email, "counsel@contoso.example", "nobody@demo.example"):
        result = cli("demo-code", email)
        assert result.exit_code != 0
        assert "not a demo staff user" in result.stderr


def test_demo_code_refuses_on_a_non_demo_instance(cli, make_user, app):
    make_user(Role.APPROVER, email="approver@demo.example")
    assert not (Path(app.instance_path) / "DEMO").exists()
    result = cli("demo-code", "approver@demo.example")
    assert result.exit_code != 0
    assert "Not a demo instance" in result.stderr
    assert "code:" not in result.stdout


# ---- init-db --------------------------------------------------------------------------------


def test_init_db_at_head_is_a_no_op(cli):
    before = counts()
    for _ in range(2):
        result = cli("init-db")
        assert result.exit_code == 0, result.output
        assert pairs(result.stdout)["schema"] == "head"
    assert counts() == before


def flask_cmd(instance: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """The real `flask --app app ...`, as an operator runs it, in its own instance folder."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("DUE_PROCESS_") and k not in ("DATABASE_URL", "SECRET_KEY")}
    environ.update(DUE_PROCESS_INSTANCE=str(instance), DUE_PROCESS_PASSWORD_HASH_PROFILE="fast",
                   DUE_PROCESS_DEMO_LARGE_ACCOUNT_MB="2", **env)
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=environ,
        capture_output=True, text=True, timeout=120,
    )


def test_init_db_creates_a_fresh_sqlite_database_idempotently(tmp_path):
    path = tmp_path / "fresh.sqlite3"
    url = f"sqlite:///{path}"
    app = create_app(base_config(url, tmp_path / "instance"))
    runner = app.test_cli_runner()
    outputs = []
    with app.app_context():
        for _ in range(2):
            result = runner.invoke(args=["init-db"])
            assert result.exit_code == 0, result.output
            outputs.append(pairs(result.stdout))
        db.engine.dispose()
    assert outputs[0] == outputs[1] == {"engine": "sqlite", "schema": "head"}

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
        tables = set(sa.inspect(conn).get_table_names())
        head = conn.execute(sa.text("SELECT id, seq, hash FROM audit_head")).all()
    engine.dispose()
    assert versions == [ScriptDirectory(str(ROOT / "migrations")).get_current_head()]
    assert {"users", "customers", "accounts", "agencies", "audit_events", "audit_head"} <= tables
    assert head == [(1, 0, "0" * 64)]  # one head row, not one per run


@pytest.mark.slow
def test_demo_from_the_shell_marks_the_instance(tmp_path):
    instance = tmp_path / "instance"
    proc = flask_cmd(instance, "demo", "--no-serve")
    assert proc.returncode == 0, proc.stderr
    assert pairs(proc.stdout)["demo"] == "ready"
    assert (instance / "DEMO").exists() and (instance / "due_process.sqlite3").exists()
    proc = flask_cmd(instance, "demo-code", "intake@demo.example")
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"\d{6}", pairs(proc.stdout)["code"])
