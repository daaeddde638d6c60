"""Backups that restore, on both engines: a backup taken while the app runs
restores into a new, empty database where the chain, the published checkpoints
and the cases all verify; a database rolled back behind a published report is
caught by anyone holding the report; and a restore never lands on live data."""

import json
import os
import uuid

import pytest
import sqlalchemy as sa

from models import AuditAction, AuditEvent, Case, Role, TransparencyReport, db
from tests.conftest import TEST_ACTOR, make_app, pairs, postgres_database
from tests.test_bad_input import signed_in_as
from workflows import reports
from workflows.audit import record

PERIOD = "2026-H1"


@pytest.fixture
def empty_database(engine_name, tmp_path):
    """A new database on the test's engine, with nothing in it."""
    if engine_name == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    name = f"dp_restore_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(os.environ["TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield postgres_database(name)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def restored(empty_database, tmp_path):
    """An app on the empty database, with the same keys (the checkpoint key among
    them) but an instance folder of its own: run(*args) runs its command line."""
    other = make_app(empty_database, tmp_path / "restored-instance")
    runner = other.test_cli_runner()

    def run(*args):
        db.session.commit()
        with other.app_context():
            result = runner.invoke(args=list(args))
            db.session.remove()
            db.engine.dispose()
        return result

    run.app = other
    return run


def figures() -> dict:
    db.session.expire_all()
    return {
        "cases": db.session.scalar(sa.select(sa.func.count()).select_from(Case)),
        "states": sorted(db.session.execute(sa.select(Case.reference, Case.state, Case.version)).all()),
        "events": db.session.scalar(sa.select(sa.func.max(AuditEvent.seq))),
        "reports": db.session.scalar(sa.select(sa.func.count()).select_from(TransparencyReport)),
    }


def in_restored(restored, work):
    with restored.app.app_context():
        try:
            return work()
        finally:
            db.session.remove()
            db.engine.dispose()


def test_a_backup_restores_into_a_new_database_where_everything_verifies(app, cli, make_case, restored,
                                                                         tmp_path):
    make_case("legal_review")
    make_case("pending_approval")
    assert cli("reports", "publish", PERIOD).exit_code == 0
    path = tmp_path / "due-process.backup"

    made = cli("backup", "create", str(path))
    assert made.exit_code == 0, made.output
    out = pairs(made.stdout)
    assert path.is_file() and int(out["bytes"]) == path.stat().st_size
    assert len(out["sha256"]) == 64
    before = figures()
    assert int(out["audit_seq"]) == before["events"]  # the backup's own event is the last in the copy

    back = restored("backup", "restore", str(path))
    assert back.exit_code == 0, back.output
    assert pairs(back.stdout)["sha256"] == out["sha256"]

    verified = restored("audit", "verify")
    assert verified.exit_code == 0, verified.output
    result = pairs(verified.stdout)
    assert result["status"] == "intact" and result["checkpoints"] == "1"  # the published report too
    assert int(result["head_seq"]) == before["events"] + 1  # the restore, recorded after the copy

    def look():
        after = figures()
        newest = sa.select(AuditEvent.action).order_by(AuditEvent.seq.desc()).limit(2)
        actions = db.session.scalars(newest).all()
        return after, actions

    after, actions = in_restored(restored, look)
    assert actions == [AuditAction.BACKUP_RESTORED.value, AuditAction.BACKUP_CREATED.value]
    after.pop("events"), before.pop("events")
    assert after == before


def test_a_database_rolled_back_behind_a_published_report_is_caught(app, cli, client, make_case, restored,
                                                                    tmp_path):
    make_case("legal_review")
    path = tmp_path / "older.backup"
    assert cli("backup", "create", str(path)).exit_code == 0
    make_case("pending_approval")  # work done after the backup...
    assert cli("reports", "publish", PERIOD).exit_code == 0  # ...and a report published on it
    published = tmp_path / f"{PERIOD}.json"
    downloaded = client.get(f"/transparency/{PERIOD}.json")  # as the public has it
    assert downloaded.status_code == 200
    published.write_bytes(downloaded.data)
    signed = json.loads(downloaded.data)["checkpoint"]

    # The live database holds what the report vouches for.
    assert cli("audit", "verify", "--against", str(published)).exit_code == 0

    # The older backup, restored, ends before it.
    assert restored("backup", "restore", str(path)).exit_code == 0
    caught = restored("audit", "verify", "--against", str(published))
    assert caught.exit_code == 1
    assert "status: broken" in caught.stdout
    assert f"before event {signed['audit_seq']:,}, which was published" in caught.stdout
    assert "rolled back" in caught.stdout


def test_a_rewritten_log_is_caught_against_the_published_report_and_a_forged_report_is_not_trusted(
        app, cli, client, make_case, tmp_path):
    make_case("legal_review")
    assert cli("reports", "publish", PERIOD).exit_code == 0
    report = json.loads(client.get(f"/transparency/{PERIOD}.json").data)
    seq = report["checkpoint"]["audit_seq"]
    assert reports.published_problem(seq, report["checkpoint"]["audit_hash"]) is None
    assert "another hash" in reports.published_problem(seq, "0" * 64)

    report["totals"]["requests"] += 1000  # figures altered after signing
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(report))
    result = cli("audit", "verify", "--against", str(forged))
    assert result.exit_code == 1 and "not signed by this key" in result.stdout

    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json")
    result = cli("audit", "verify", "--against", str(garbage))
    assert result.exit_code == 1 and "not a report's JSON" in result.stdout


def test_a_restore_refuses_a_database_that_is_not_empty_and_a_backup_never_overwrites(app, cli, make_case,
                                                                                      tmp_path):
    make_case("legal_review")
    path = tmp_path / "one.backup"
    assert cli("backup", "create", str(path)).exit_code == 0
    size = path.stat().st_size
    again = cli("backup", "create", str(path))
    assert again.exit_code != 0 and "exists" in again.output and path.stat().st_size == size

    before = figures()
    refused = cli("backup", "restore", str(path))  # into the live database
    assert refused.exit_code != 0 and "not empty" in refused.output
    assert figures() == before

    missing = cli("backup", "restore", str(tmp_path / "nothing.backup"))
    assert missing.exit_code != 0


def test_an_auditor_checks_a_published_checkpoint_on_the_log_page(app, cli, client, new_client, make_user,
                                                                  make_case):
    make_case("legal_review")
    assert cli("reports", "publish", PERIOD).exit_code == 0
    signed = json.loads(client.get(f"/transparency/{PERIOD}.json").data)["checkpoint"]
    auditor = signed_in_as(new_client, make_user, Role.AUDITOR)
    record(AuditAction.SIGN_IN, TEST_ACTOR)
    db.session.commit()

    page = auditor.get("/audit/", query_string={"seq": signed["audit_seq"], "hash": signed["audit_hash"]})
    assert page.status_code == 200 and "The log holds that checkpoint." in page.get_data(as_text=True)
    page = auditor.get("/audit/", query_string={"seq": signed["audit_seq"], "hash": "a" * 64})
    assert "The log does not hold that checkpoint." in page.get_data(as_text=True)
    page = auditor.get("/audit/", query_string={"seq": 10**6, "hash": "a" * 64})
    assert "rolled back" in page.get_data(as_text=True)
    bad = auditor.get("/audit/", query_string={"seq": "x", "hash": "a" * 64})
    assert bad.status_code == 400
    bad = auditor.get("/audit/", query_string={"seq": 3, "hash": "not-a-hash"})
    assert bad.status_code == 400 and "64 hexadecimal" in bad.get_data(as_text=True)
