"""The append-only, hash-chained audit log.

Each event's hash is sha256(prev_hash || canonical_json(event)), where prev_hash
is the previous event's hash as 64 lowercase hex characters (the first event
chains to 64 zeros) and canonical_json is the event's fields as JSON with sorted
keys, no whitespace, UTF-8. Anyone holding an export can recompute the chain.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, select, update

from models import GENESIS_HASH, AuditAction, AuditEvent, AuditHead, db, utcnow
from models.base import snapshot


@dataclass(frozen=True)
class Actor:
    """Who did something: a signed-in user, or a named system actor ("cli")."""

    label: str
    user_id: int | None = None
    ip: str | None = None

    @classmethod
    def system(cls, label: str) -> "Actor":
        return cls(label=label)


def canonical_json(fields: dict) -> bytes:
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_fields(event) -> dict:
    """Exactly the fields the hash covers."""
    return {
        "seq": event.seq,
        "at": _timestamp(event.at),
        "actor_id": event.actor_id,
        "actor": event.actor,
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "data": event.data,
    }


def chain_hash(prev_hash: str, fields: dict) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(fields)).hexdigest()


_EVENTS = AuditEvent.__table__
_HEAD = AuditHead.__table__
# Built once: every append runs the same three statements, compiled once.
_LOCK_HEAD = select(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.at).where(_HEAD.c.id == 1).with_for_update()
_INSERT_EVENT = _EVENTS.insert()
_MOVE_HEAD = (
    update(_HEAD).where(_HEAD.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"), at=bindparam("new_at"))
)


def record(
    action: AuditAction,
    actor: Actor,
    *,
    subject: tuple[str, object] | None = None,
    data: dict | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one event inside the caller's transaction; it commits with the change
    it describes, or not at all. Returns the event (not attached to the session)."""
    # Lock the head row first: concurrent appenders queue here, so the chain never
    # forks (PostgreSQL row lock; SQLite transactions already hold the write lock).
    head_seq, head_hash, head_at = db.session.execute(_LOCK_HEAD).one()
    payload = dict(data or {})
    if actor.ip:
        payload.setdefault("ip", actor.ip)
    # In chain order, time never runs backwards (a request's `now` may have been
    # taken before another request's event got in first).
    at = now or utcnow()
    if head_at is not None and at < head_at:
        at = head_at
    event = AuditEvent(
        seq=head_seq + 1,
        at=at,
        actor_id=actor.user_id,
        actor=actor.label,
        action=str(action),
        subject_type=subject[0] if subject else None,
        subject_id=str(subject[1]) if subject else None,
        data=payload,
        prev_hash=head_hash,
    )
    event.hash = chain_hash(head_hash, event_fields(event))
    db.session.execute(_INSERT_EVENT, {c.key: getattr(event, c.key) for c in _EVENTS.columns})
    db.session.execute(_MOVE_HEAD, {"new_seq": event.seq, "new_hash": event.hash, "new_at": at})
    return event


@dataclass(frozen=True)
class Verification:
    intact: bool
    events: int  # events whose hash this walk recomputed
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    reason: str | None = None
    start_seq: int = 0  # the walk began after this event (0: at the start of the chain)


def verify(batch_size: int = 2000, start: tuple[int, str] | None = None) -> Verification:
    """Walk the chain in order and recompute every hash: from its first event, or
    from `start`, an event (seq, hash) already verified, which must still be there
    with that hash (the events before it are then vouched for by whoever verified
    it: see workflows.reports.audit_checkpoints).

    Reads one consistent snapshot (head and events together), so appends that
    commit while it runs neither look like tampering nor block on it."""
    start_seq, prev_hash = start or (0, GENESIS_HASH)
    expected_seq, count = start_seq + 1, 0

    def broken(seq: int, reason: str) -> Verification:
        return Verification(False, count, expected_seq - 1, prev_hash, seq, reason, start_seq)

    with snapshot(db.engine) as conn, conn.begin():
        head = conn.execute(select(AuditHead.seq, AuditHead.hash)).all()
        if start is not None:
            found = conn.execute(select(AuditEvent.hash).where(AuditEvent.seq == start_seq)).scalar()
            if found is None:
                return broken(start_seq, f"event {start_seq}, verified before, is no longer in the log")
            if found != prev_hash:
                return broken(start_seq, f"event {start_seq} no longer has the hash it was verified with")
        rows = conn.execute(
            select(AuditEvent.__table__).where(AuditEvent.seq > start_seq).order_by(AuditEvent.seq),
            execution_options={"yield_per": batch_size},
        )
        for event in rows:
            if event.seq != expected_seq:
                return broken(expected_seq, f"expected event {expected_seq}, found {event.seq}")
            if event.prev_hash != prev_hash:
                return broken(event.seq, "prev_hash does not match the previous event")
            if chain_hash(prev_hash, event_fields(event)) != event.hash:
                return broken(event.seq, "content does not match its hash")
            prev_hash, expected_seq, count = event.hash, expected_seq + 1, count + 1
    if len(head) != 1:
        return broken(expected_seq, "the chain head row is missing")
    head_seq, head_hash = head[0]
    if head_seq != expected_seq - 1 or head_hash != prev_hash:
        first_bad = min(head_seq, expected_seq - 1) + 1
        return broken(first_bad, f"chain head names event {head_seq}, log ends at {expected_seq - 1}")
    return Verification(True, count, head_seq, head_hash, start_seq=start_seq)
