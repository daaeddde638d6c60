"""The audit log is a hash chain that notices any edit, and on PostgreSQL the
database itself refuses edits. The hash rule is written out here a second time,
from the design, so the tests check the code against the rule and not against
itself: hash = sha256(prev_hash as 64 ASCII hex || canonical_json(fields))."""

import hashlib
import itertools
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from models import GENESIS_HASH, AuditAction, AuditEvent, AuditHead, Role, db, utcnow
from tests.conftest import TEST_ACTOR, csrf_from
from workflows import audit
from workflows.audit import Actor
from workflows.identity import directory, users

T0 = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)


# ---- a reference implementation of the published rule -----------------------


def reference_fields(seq, at, actor_id, actor, action, subject_type, subject_id, data) -> dict:
    return {
        "seq": seq,
        "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_id": actor_id,
        "actor": actor,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "data": data,
    }


def reference_hash(prev_hash: str, fields: dict) -> str:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(prev_hash.encode("ascii") + body.encode("utf-8")).hexdigest()


def hash_of(event: AuditEvent) -> str:
    return reference_hash(event.prev_hash, reference_fields(
        event.seq, event.at, event.actor_id, event.actor, event.action, event.subject_type,
        event.subject_id, event.data,
    ))


# ---- helpers ------------------------------------------------------------------


def all_events() -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)))


def head() -> tuple[int, str]:
    return tuple(db.session.execute(sa.select(AuditHead.seq, AuditHead.hash)).one())


def last_seq() -> int:
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.seq), 0)))


def actions_since(seq: int) -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)
    ))


def tamper(*statements) -> None:
    """Change the log the way someone with direct database access could. On
    PostgreSQL the append-only triggers stand in the way, so this attacker also
    holds the rights to switch them off for the transaction."""
    db.session.commit()
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            conn.execute(sa.text(statement) if isinstance(statement, str) else statement)
    db.session.expire_all()


def forged_row(seq: int, prev_hash: str, **overrides) -> dict:
    """A well-formed event with a correct hash of its own, as a careful forger makes it."""
    values = {
        "seq": seq, "at": T0 + timedelta(minutes=30), "actor_id": None, "actor": "cli",
        "action": str(AuditAction.USER_ENABLED), "subject_type": "user", "subject_id": "1",
        "data": {"email": "mallory@provider.example"}, **overrides,
    }
    fields = reference_fields(**values)
    return {**values, "prev_hash": prev_hash, "hash": reference_hash(prev_hash, fields)}


@pytest.fixture
def chain(app) -> list[AuditEvent]:
    """Five committed events from different actors, with and without subjects."""
    specs = [
        (AuditAction.USER_CREATED, TEST_ACTOR, ("user", 1), {"email": "a@provider.example"}),
        (AuditAction.SIGN_IN_FAILED, Actor("a@provider.example", 1, "192.0.2.7"), ("user", 1), None),
        (AuditAction.SIGN_IN, Actor("a@provider.example", 1, "192.0.2.7"), ("user", 1), None),
        (AuditAction.AGENCY_CREATED, TEST_ACTOR, ("agency", 4), {"name": "Polizia di Stato"}),
        (AuditAction.SIGN_OUT, Actor("a@provider.example", 1), None, {}),
    ]
    for n, (action, actor, subject, data) in enumerate(specs):
        audit.record(action, actor, subject=subject, data=data, now=T0 + timedelta(minutes=n))
    db.session.commit()
    events = all_events()
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    db.session.expunge_all()  # keep these as they were, whatever happens to the rows later
    return events


def assert_broken_at(seq: int, reason: str) -> None:
    result = audit.verify()
    assert not result.intact
    assert result.first_bad_seq == seq, result.reason
    assert reason in result.reason


# ---- the chain ------------------------------------------------------------------


def test_empty_log_is_intact(app):
    result = audit.verify()
    assert result.intact and result.events == 0
    assert (result.head_seq, result.head_hash) == (0, GENESIS_HASH)


def test_first_event_hash_follows_the_published_rule(app):
    # Given in an offset zone with microseconds: the hash covers the UTC instant.
    at = datetime(2026, 3, 2, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    audit.record(AuditAction.USER_CREATED, Actor.system("cli"), subject=("user", 7),
                 data={"note": "Zürich"}, now=at)
    db.session.commit()

    expected_json = (
        '{"action":"user.created","actor":"cli","actor_id":null,'
        '"at":"2026-03-02T10:00:00.123456Z","data":{"note":"Zürich"},"seq":1,'
        '"subject_id":"7","subject_type":"user"}'
    ).encode()
    expected = hashlib.sha256(b"0" * 64 + expected_json).hexdigest()
    [event] = all_events()
    assert event.prev_hash == GENESIS_HASH
    assert event.hash == expected
    assert hash_of(event) == expected  # read back from the database, still the same
    assert head() == (1, expected)


def test_record_appends_events_chained_in_order(app, chain):
    events = chain
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    for event in events:
        assert len(event.hash) == 64 and event.hash == hash_of(event)
    # The actor's address travels in the hashed data.
    assert events[1].data == {"ip": "192.0.2.7"}
    assert head() == (5, events[-1].hash)

    result = audit.verify()
    assert result.intact and result.first_bad_seq is None
    assert (result.events, result.head_seq, result.head_hash) == (5, 5, events[-1].hash)


def test_event_rolls_back_with_the_change_it_describes(app, chain):
    audit.record(AuditAction.USER_DISABLED, TEST_ACTOR, subject=("user", 1))
    db.session.rollback()
    assert [e.seq for e in all_events()] == [1, 2, 3, 4, 5]
    assert head() == (5, chain[-1].hash)
    assert audit.verify().intact


# ---- verify() notices tampering -------------------------------------------------


def test_edited_data_is_caught(app, chain):
    tamper("UPDATE audit_events SET data = '{\"name\": \"Someone Else\"}' WHERE seq = 4")
    assert_broken_at(4, "content does not match")


def test_edited_actor_is_caught(app, chain):
    tamper("UPDATE audit_events SET actor = 'b@provider.example' WHERE seq = 2")
    assert_broken_at(2, "content does not match")


def test_edited_event_with_its_own_hash_recomputed_breaks_the_next_link(app, chain):
    event = chain[2]
    fields = reference_fields(event.seq, event.at, event.actor_id, "b@provider.example",
                              event.action, event.subject_type, event.subject_id, event.data)
    new_hash = reference_hash(event.prev_hash, fields)
    tamper(sa.update(AuditEvent.__table__).where(AuditEvent.seq == 3)
           .values(actor="b@provider.example", hash=new_hash))
    assert_broken_at(4, "prev_hash does not match")


def test_deleted_event_is_caught(app, chain):
    tamper("DELETE FROM audit_events WHERE seq = 3")
    assert_broken_at(3, "expected event 3, found 4")


def test_deleted_last_event_is_caught_by_the_head(app, chain):
    tamper("DELETE FROM audit_events WHERE seq = 5")
    assert_broken_at(5, "chain head names event 5")


def test_emptied_log_is_caught_by_the_head(app, chain):
    tamper("DELETE FROM audit_events")
    assert_broken_at(1, "chain head names event 5")


def test_missing_head_is_caught(app, chain):
    tamper("DELETE FROM audit_head")
    try:
        assert_broken_at(6, "head row is missing")
    finally:
        # Put it back: the harness resets the head row between tests, it does not create it.
        tamper(sa.insert(AuditHead.__table__).values(id=1, seq=5, hash=chain[-1].hash))
    assert audit.verify().intact


def test_reordered_pair_is_caught(app, chain):
    # Swap the sequence numbers of events 2 and 3 (via a spare number: seq is the key).
    tamper(
        "UPDATE audit_events SET seq = -1 WHERE seq = 2",
        "UPDATE audit_events SET seq = 2 WHERE seq = 3",
        "UPDATE audit_events SET seq = 3 WHERE seq = -1",
    )
    assert [e.action for e in all_events()][1:3] == ["auth.sign_in", "auth.sign_in_failed"]
    assert_broken_at(2, "prev_hash does not match")


def test_event_appended_without_moving_the_head_is_caught(app, chain):
    # The forged event links correctly to the last one; only the head gives it away.
    tamper(sa.insert(AuditEvent.__table__).values(**forged_row(6, chain[-1].hash)))
    assert len(all_events()) == 6
    assert_broken_at(6, "chain head names event 5, log ends at 6")


def test_event_inserted_in_the_middle_is_caught(app, chain):
    # Renumber 3..5 up by one (from the top: seq is the key), slot a forged event
    # into 3 linked to event 2, and move the head. The forged event is consistent
    # in itself; the link from the old event 3 (now 4) to it is not.
    forged = forged_row(3, chain[1].hash)
    tamper(
        *[f"UPDATE audit_events SET seq = {seq + 1} WHERE seq = {seq}" for seq in (5, 4, 3)],
        sa.insert(AuditEvent.__table__).values(**forged),
        "UPDATE audit_head SET seq = 6",
    )
    events = all_events()
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[2].hash == forged["hash"] == hash_of(events[2])
    assert_broken_at(4, "prev_hash does not match")


# ---- the database refuses edits (PostgreSQL) --------------------------------------


@pytest.mark.postgres_only
@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET actor = 'someone else' WHERE seq = 2",
    "UPDATE audit_events SET data = '{}'",
    "DELETE FROM audit_events WHERE seq = 5",
    "TRUNCATE audit_events",
    "DELETE FROM audit_head",
    "TRUNCATE audit_head",
])
def test_database_refuses_changes_to_the_log(app, engine_name, chain, statement):
    with pytest.raises(sa.exc.DBAPIError) as refused:
        db.session.execute(sa.text(statement))
    assert "append-only" in str(refused.value)
    db.session.rollback()
    assert [e.hash for e in all_events()] == [e.hash for e in chain]
    assert audit.verify().intact


@pytest.mark.postgres_only
def test_database_refuses_orm_delete_of_an_event(app, engine_name, chain):
    db.session.delete(db.session.get(AuditEvent, 3))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    assert audit.verify().intact


# ---- concurrent appends -------------------------------------------------------------


THREADS = 8
APPENDS = 25


def test_concurrent_appends_never_fork_the_chain(app):
    """Every writer (worker process, host, relay) appends through the head row lock."""
    db.session.commit()
    start = threading.Barrier(THREADS)

    def writer(n: int) -> None:
        with app.app_context():
            try:
                start.wait(timeout=30)
                for i in range(APPENDS):
                    audit.record(AuditAction.SIGN_IN, Actor(f"writer{n}@provider.example", n),
                                 data={"writer": n, "i": i})
                    db.session.commit()
            finally:
                db.session.remove()

    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(writer, n) for n in range(THREADS)]:
            future.result(timeout=120)

    result = audit.verify()
    assert result.intact, result.reason
    assert result.events == result.head_seq == THREADS * APPENDS
    events = all_events()
    assert [e.seq for e in events] == list(range(1, THREADS * APPENDS + 1))
    for n in range(THREADS):
        mine = [e.data["i"] for e in events if e.data["writer"] == n]
        assert mine == list(range(APPENDS))  # each writer's events in its own order


# ---- what gets recorded ----------------------------------------------------------------


def test_failed_sign_in_appends_one_event(client, make_user):
    user = make_user(Role.REVIEWER)
    before = last_seq()
    page = client.get("/sign-in").get_data(as_text=True)
    resp = client.post("/sign-in", data={
        "email": user.email, "password": "not the password at all", "csrf_token": csrf_from(page)})
    assert resp.status_code == 401
    assert actions_since(before) == [AuditAction.SIGN_IN_FAILED]
    event = all_events()[-1]
    assert (event.actor, event.actor_id) == (user.email, user.id)
    assert (event.subject_type, event.subject_id) == ("user", str(user.id))
    assert "ip" in event.data and "password" not in json.dumps(event.data)
    assert audit.verify().intact


def test_failed_sign_in_of_unknown_user_appends_one_event(client):
    page = client.get("/sign-in").get_data(as_text=True)
    client.post("/sign-in", data={
        "email": "nobody@provider.example", "password": "whatever it is", "csrf_token": csrf_from(page)})
    assert actions_since(0) == [AuditAction.SIGN_IN_FAILED]
    event = all_events()[-1]
    assert (event.actor, event.actor_id, event.subject_id) == ("nobody@provider.example", None, None)


def test_user_creation_appends_one_event(app, make_customer):
    customer = make_customer()
    before = last_seq()
    created = users.create_user("New.Person@Provider.example", "customer", "long enough password",
                                TEST_ACTOR, utcnow(), customer_id=customer.id)
    db.session.commit()
    assert actions_since(before) == [AuditAction.USER_CREATED]
    event = all_events()[-1]
    assert (event.subject_type, event.subject_id) == ("user", str(created.user.id))
    assert event.data == {"email": "new.person@provider.example", "role": "customer",
                          "customer_id": customer.id}
    assert event.actor == TEST_ACTOR.label


def test_agency_creation_appends_one_event_and_the_token_issue(app):
    issued = directory.create_agency("Garda National Cyber Crime Bureau", "IE", TEST_ACTOR, utcnow(),
                                     verified=True)
    db.session.commit()
    assert actions_since(0) == [AuditAction.AGENCY_CREATED, AuditAction.AGENCY_TOKEN_ISSUED]
    created, token_event = all_events()
    assert (created.subject_type, created.subject_id) == ("agency", str(issued.agency.id))
    assert created.data["country"] == "IE" and created.data["verified"] is True
    # The token's prefix identifies it in the log; the token itself is never written.
    assert issued.token not in json.dumps(token_event.data)
    assert issued.token.startswith(token_event.data["prefix"])
