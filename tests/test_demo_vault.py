"""The demo's customer data: every demo account's vault holds a profile, sign-ins,
message metadata, messages and files, the same each time; one account is large.
What the vault holds is read the only way there is: a case approved, its package
collected as the agency collects it."""

import io
import ipaddress
import json
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from demo import people
from demo import vault as demo_vault
from models import Account, Case, Disclosure, db
from tests.conftest import TEST_ACTOR, _empty_postgres, caller_for, fresh_sqlite
from workflows import disclosure
from workflows.audit import Actor
from workflows.cases import machine as case_machine
from workflows.disclosure import door
from workflows.identity import directory

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
MB = 1024 * 1024
LARGE_MB = 3
ALL = ("subscriber", "non_content", "content")
DOCUMENTATION_NETWORKS = [ipaddress.ip_network(n) for n in
                          ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
DEMO_IDENTIFIERS = [identifier for *_, accounts, _ in people.CUSTOMERS for identifier in accounts]


def demo_customers() -> dict[str, int]:
    """The demo's customers and accounts, without its staff, agencies and cases."""
    for name, kind, country, email, accounts, _ in people.CUSTOMERS:
        directory.create_customer(name, kind, country, [email], accounts, TEST_ACTOR, NOW)
    db.session.commit()
    return dict(db.session.execute(sa.select(Account.identifier, Account.id)).all())


def sizes(accounts: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {identifier: disclosure.vault_size(account_id) for identifier, account_id in accounts.items()}


def fresh_database(app, request) -> None:
    """Start again from an empty migrated database, the way the harness does between tests."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    db.session.remove()
    db.engine.dispose()
    if url.startswith("sqlite"):
        fresh_sqlite(request.getfixturevalue("sqlite_template"), Path(sa.engine.make_url(url).database))
    else:
        _empty_postgres(url)


@pytest.mark.slow
def test_seeding_fills_each_demo_account_once_and_the_same_each_time(app, request, plant):
    accounts = demo_customers()
    plant("alice@contoso.example", content=["already here"], non_content=2)  # 4 records, no files

    written = demo_vault.seed_vault(NOW, LARGE_MB)
    first = sizes(accounts)
    # An account that already held records is left alone; every other one is filled.
    assert first["alice@contoso.example"] == (4, 0)
    assert written == sum(count for count, _ in first.values()) - 4
    filled = {k: v for k, v in first.items() if k != "alice@contoso.example"}
    assert all(count > 300 and stored > 0 for count, stored in filled.values())
    # The large account holds the configured size, within 10%; the others far less.
    large = first[demo_vault.LARGE_ACCOUNT][1]
    assert 0.9 * LARGE_MB * MB <= large <= 1.1 * LARGE_MB * MB
    assert all(stored < large / 2 for k, (_, stored) in filled.items() if k != demo_vault.LARGE_ACCOUNT)

    # Seeding again writes nothing.
    assert demo_vault.seed_vault(NOW, LARGE_MB) == 0
    assert sizes(accounts) == first

    # A fresh database seeded at the same moment holds the same records.
    fresh_database(app, request)
    accounts = demo_customers()
    demo_vault.seed_vault(NOW, LARGE_MB)
    replay = sizes(accounts)
    assert replay.pop("alice@contoso.example")[0] > 300  # filled this time: nothing was there
    assert replay == filled


def collect_package(case_id: int) -> dict[str, bytes]:
    """The production of a disclosed case, collected with its link as the agency does."""
    case = db.session.get(Case, case_id)
    _, token = disclosure.current_link(case.disclosure, datetime.now(UTC))
    collected = disclosure.collect(case.id, case.agency_id, token, Actor("agency test"), datetime.now(UTC))
    data = b"".join(disclosure.stream(collected))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def records(files: dict[str, bytes], folder: str, category: str) -> list[dict]:
    return [json.loads(line) for line in files[f"{folder}/{category}.jsonl"].splitlines()]


def test_every_demo_account_holds_realistic_records_in_all_three_categories(app, make_case, case_staff):
    demo_customers()
    demo_vault.seed_vault(NOW, LARGE_MB)
    case = make_case("pending_approval", identifiers=DEMO_IDENTIFIERS, categories=ALL, date_range=None)
    case_machine.advance(case.id, case_machine.Move("approve"), caller_for(case_staff("approver2")),
                         datetime.now(UTC))
    files = collect_package(case.id)
    manifest = json.loads(files["manifest.json"])
    assert set(manifest["record_counts"]) == set(DEMO_IDENTIFIERS)
    countries = {identifier: country for _, _, country, _, accounts, _ in people.CUSTOMERS
                 for identifier in accounts}
    e_mail = re.compile(r"[a-z0-9.-]+@[a-z0-9.-]+\.example")

    for account in manifest["accounts"]:
        identifier, folder = account["identifier"], account["folder"]
        counts = manifest["record_counts"][identifier]
        assert counts["subscriber"] == 1 and counts["non_content"] > 300 and counts["content"] > 30

        [profile] = records(files, folder, "subscriber")
        assert profile["kind"] == "profile" and profile["recorded_at"] is None
        assert set(profile["data"]) == {"name", "recovery_email", "phone", "created", "billing_country",
                                        "plan"}
        assert profile["data"]["billing_country"] == countries[identifier]
        assert e_mail.fullmatch(profile["data"]["recovery_email"])

        non_content = records(files, folder, "non_content")
        assert {r["kind"] for r in non_content} == {"sign_in", "message_metadata"}
        moments = [r["recorded_at"] for r in non_content]
        assert min(moments) >= "2025-07-01" and max(moments) <= NOW.isoformat()
        for r in non_content:
            if r["kind"] == "sign_in":
                ip = ipaddress.ip_address(r["data"]["ip"])
                assert any(ip in net for net in DOCUMENTATION_NETWORKS), ip
                assert r["data"]["result"] in ("success", "failure") and r["data"]["user_agent"]
            else:
                assert e_mail.fullmatch(r["data"]["from"]) and e_mail.fullmatch(r["data"]["to"])
                assert r["data"]["size"] > 0 and r["data"]["message_id"].startswith("<")
        assert {r["data"]["result"] for r in non_content if r["kind"] == "sign_in"} == {"success", "failure"}

        content = records(files, folder, "content")
        assert {r["kind"] for r in content} == {"message", "file"}
        for r in content:
            if r["kind"] == "message":
                assert r["data"]["subject"] and len(r["data"]["body"].split()) > 5
            else:
                stored = files[r["file"]]
                assert 0 < len(stored) < door.BLOB_MAX and r["data"]["name"]
                if r["data"]["content_type"] == "text/csv":
                    assert stored.startswith(b"date,category,vendor,amount,currency\n")

    large = next(a["folder"] for a in manifest["accounts"] if a["identifier"] == demo_vault.LARGE_ACCOUNT)
    stored = sum(f["size"] for f in manifest["files"] if f["path"].startswith(f"{large}/files/"))
    assert 0.9 * LARGE_MB * MB <= stored <= 1.1 * LARGE_MB * MB
    assert any(f["size"] >= MB for f in manifest["files"] if f["path"].startswith(f"{large}/files/"))


@pytest.mark.seeded_demo(at=NOW)
def test_demo_seed_fills_the_vault_before_its_cases_are_disclosed(app):
    manifests = db.session.scalars(sa.select(Disclosure.manifest)).all()
    assert manifests
    # Every disclosed demo case found records for the accounts it matched ...
    for manifest in manifests:
        assert all(sum(counts.values()) > 0 for counts in manifest["record_counts"].values()), manifest
    # ... and some of them disclosed the large account's stored files.
    large_files = 0
    for manifest in manifests:
        for account in manifest["accounts"]:
            if account["identifier"] == demo_vault.LARGE_ACCOUNT:
                folder = account["folder"] + "/files/"
                large_files += sum(f["path"].startswith(folder) for f in manifest["files"])
    assert large_files > 0
