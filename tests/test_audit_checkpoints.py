"""Verification that keeps up: each intact verification leaves a signed
checkpoint at the head, the next starts there and walks only what was added
since, and a checkpoint cannot be used to hide an edit it does not vouch for."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from models import AuditAction, AuditCheckpoint, AuditEvent, Role, db, utcnow
from tests.conftest import pairs
from tests.test_audit import reference_fields, reference_hash, tamper
from tests.test_bad_input import signed_in_as
from workflows import reports
from workflows.audit import Actor, record

T0 = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)


def append(n: int, start_minute: int = 0) -> None:
    for i in range(n):
        record(AuditAction.SIGN_IN, Actor(f"user{i}@provider.example", i + 1), subject=("user", i + 1),
               now=T0 + timedelta(minutes=start_minute + i))
    db.session.commit()


def checkpoints() -> list[tuple[int, int]]:
    db.session.expire_all()
    return [tuple(row) for row in db.session.execute(
        sa.select(AuditCheckpoint.seq, AuditCheckpoint.since_seq).order_by(AuditCheckpoint.seq))]


def rehash_from(seq: int, **changes) -> None:
    """Edit event `seq` and recompute its hash and every later one, as someone with
    database rights and the published hash rule could: the chain stays well formed."""
    rows = db.session.execute(sa.select(AuditEvent.__table__).where(AuditEvent.seq >= seq)
                              .order_by(AuditEvent.seq)).mappings().all()
    prev = db.session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.seq == seq - 1))
    statements = []
    for row in rows:
        values = {**row, **(changes if row["seq"] == seq else {})}
        fields = reference_fields(*(values[key] for key in (
            "seq", "at", "actor_id", "actor", "action", "subject_type", "subject_id", "data")))
        new_hash = reference_hash(prev, fields)
        statements.append(sa.update(AuditEvent.__table__).where(AuditEvent.seq == row["seq"])
                          .values(prev_hash=prev, hash=new_hash, **(changes if row["seq"] == seq else {})))
        prev = new_hash
    statements.append(sa.text(f"UPDATE audit_head SET hash = '{prev}'"))
    tamper(*statements)


def test_a_verification_leaves_a_signed_checkpoint_and_the_next_walks_only_what_came_since(app):
    append(5)
    first = reports.verify_audit(utcnow())
    assert first.result.intact and first.started_from is None
    assert (first.result.events, first.result.head_seq) == (5, 5)
    assert checkpoints() == [(5, 0)]

    append(3, start_minute=10)
    second = reports.verify_audit(utcnow())
    assert second.result.intact
    assert second.started_from.seq == 5
    assert (second.result.start_seq, second.result.events, second.result.head_seq) == (5, 3, 8)
    assert checkpoints() == [(5, 0), (8, 5)]

    # Nothing added: nothing walked, and no new checkpoint.
    third = reports.verify_audit(utcnow())
    assert third.result.intact and third.result.events == 0 and checkpoints() == [(5, 0), (8, 5)]

    # A full verification walks everything, whatever the checkpoints say.
    full = reports.verify_audit(utcnow(), resume=False)
    assert full.result.intact and full.result.events == 8 and full.started_from is None
    assert reports.last_full_verification().seq == 8


def test_an_event_before_the_checkpoint_edited_and_rehashed_is_caught_by_the_resumed_walk(app):
    append(6)
    reports.verify_audit(utcnow())
    append(2, start_minute=10)
    rehash_from(3, actor="mallory@provider.example")  # the whole chain re-hashed from event 3

    resumed = reports.verify_audit(utcnow())
    assert not resumed.result.intact
    assert resumed.result.first_bad_seq == 6
    assert "no longer has the hash it was verified with" in resumed.result.reason
    assert checkpoints() == [(6, 0)]  # a broken chain leaves no checkpoint


def test_the_log_cut_back_behind_a_checkpoint_is_caught(app):
    append(6)
    reports.verify_audit(utcnow())
    head = db.session.execute(sa.select(AuditEvent.hash).where(AuditEvent.seq == 4)).scalar_one()
    tamper("DELETE FROM audit_events WHERE seq > 4", f"UPDATE audit_head SET seq = 4, hash = '{head}'")

    resumed = reports.verify_audit(utcnow())
    assert not resumed.result.intact
    assert resumed.result.first_bad_seq == 6
    assert "no longer in the log" in resumed.result.reason


def test_a_checkpoint_written_without_the_key_is_passed_over(app):
    append(4)
    reports.verify_audit(utcnow())
    append(4, start_minute=10)
    rehash_from(2, data={"forged": True})
    # The forger adds a checkpoint at the new head, with a signature the key never made.
    forged_hash = db.session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.seq == 8))
    db.session.execute(sa.insert(AuditCheckpoint).values(
        seq=8, hash=forged_hash, since_seq=0, verified_at=utcnow(), key_id="0" * 16,
        signature="A" * 86 + "=="))
    db.session.commit()

    resumed = reports.verify_audit(utcnow())
    assert resumed.started_from.seq == 4  # the forged row does not verify: the real one does
    assert not resumed.result.intact and resumed.result.first_bad_seq == 4


def test_an_edit_that_leaves_the_hashes_alone_is_found_by_a_full_walk_not_a_resumed_one(app):
    """The limit a resumed verification has, and why a full one stays: see the docstring
    of workflows.reports.audit_checkpoints."""
    append(5)
    reports.verify_audit(utcnow())
    tamper("UPDATE audit_events SET actor = 'nobody' WHERE seq = 2")

    assert reports.verify_audit(utcnow()).result.intact
    full = reports.verify_audit(utcnow(), resume=False)
    assert not full.result.intact and full.result.first_bad_seq == 2


def test_two_verifications_at_once_leave_one_checkpoint(app):
    append(5)
    barrier, errors = threading.Barrier(2), []

    def run():
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                assert reports.verify_audit(utcnow()).result.intact
            except Exception as exc:
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert checkpoints() == [(5, 0)]


@pytest.fixture
def auditor(new_client, make_user):
    return signed_in_as(new_client, make_user, Role.AUDITOR)


def test_the_auditors_page_resumes_from_the_checkpoint(app, auditor):
    append(3)
    first = auditor.get("/audit/").get_data(as_text=True)
    assert "Chain intact." in first and "from the first event" in first
    (mark, since), = checkpoints()
    assert since == 0
    append(2, start_minute=10)
    second = auditor.get("/audit/").get_data(as_text=True)
    assert f"The 2 events added since the signed checkpoint at event {mark:,}" in second
    assert checkpoints()[-1] == (mark + 2, mark)


def test_audit_verify_since_checkpoint_walks_only_new_events(cli):
    append(4)
    full = pairs(cli("audit", "verify").stdout)
    assert full["status"] == "intact" and full["started_after"] == "0" and full["verified"] == "4"
    append(2, start_minute=10)
    resumed = pairs(cli("audit", "verify", "--since-checkpoint").stdout)
    assert resumed["status"] == "intact" and resumed["events"] == "6"
    assert resumed["started_after"] == "4" and resumed["verified"] == "2"
    assert int(resumed["events_per_second"]) >= 0
