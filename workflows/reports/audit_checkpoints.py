"""Verification that keeps up with the log: each verification that finds the
chain intact leaves a checkpoint (the head it reached, signed with the checkpoint
key), and the next one starts at the newest checkpoint whose signature holds, so
it costs what was added since.

What a resumed verification proves: the events after the checkpoint chain from
its hash, and the event it names still has that hash, so no event up to it was
changed and re-hashed (that would change every later hash). An edit that left
the stored hashes alone is found by a full verification (`audit verify`), which
starts from the first event. A checkpoint row written without the key does not
verify, and is passed over."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from models import AuditCheckpoint, AuditEvent, AuditHead, db
from workflows import audit
from workflows.audit import canonical_json
from workflows.reports import checkpoint

SCANNED_MAX = 20  # checkpoints tried, newest first, before starting from the first event


@dataclass(frozen=True)
class Checked:
    """A verification, the checkpoint it started from (None: the first event),
    and how long the walk took."""

    result: audit.Verification
    started_from: AuditCheckpoint | None
    seconds: float

    @property
    def rate(self) -> float:
        """Events verified per second."""
        return self.result.events / self.seconds if self.seconds > 0 else 0.0


def signed_part(seq: int, hash_: str, since_seq: int, verified_at: datetime) -> bytes:
    return canonical_json({"purpose": "audit-verified", "audit_seq": seq, "audit_hash": hash_,
                           "since_seq": since_seq,
                           "verified_at": verified_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")})


def holds(row: AuditCheckpoint, public_pem: str) -> bool:
    """Whether the row is signed by this key, as written."""
    return checkpoint.signature_holds(signed_part(row.seq, row.hash, row.since_seq, row.verified_at),
                                      row.signature, public_pem)


def newest_valid(public_pem: str) -> AuditCheckpoint | None:
    rows = db.session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(SCANNED_MAX))
    return next((row for row in rows if holds(row, public_pem)), None)


def newest() -> AuditCheckpoint | None:
    """The newest checkpoint whose signature holds with this app's key."""
    return newest_valid(checkpoint.public_key_pem())


def last_full() -> AuditCheckpoint | None:
    """The newest checkpoint reached from the first event (a full verification)."""
    return db.session.scalar(select(AuditCheckpoint).where(AuditCheckpoint.since_seq == 0)
                             .order_by(AuditCheckpoint.seq.desc()).limit(1))


def verify(now: datetime, *, resume: bool = True) -> Checked:
    """Verify the chain, from the newest valid checkpoint when `resume`, else from
    its first event; if intact and past that point, leave a checkpoint at the head
    (committed). Two verifications at once from the same point leave one checkpoint."""
    start = newest() if resume else None
    db.session.commit()  # the walk reads its own snapshot; nothing is held meanwhile
    began = time.perf_counter()
    result = audit.verify(start=(start.seq, start.hash) if start else None)
    seconds = time.perf_counter() - began
    if result.intact and result.head_seq > (start.seq if start else 0):
        _leave(result.head_seq, result.head_hash, start.seq if start else 0, now)
    return Checked(result, start, seconds)


def _leave(seq: int, hash_: str, since_seq: int, now: datetime) -> None:
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(AuditCheckpoint.__table__).values(
        seq=seq, hash=hash_, since_seq=since_seq, verified_at=now, key_id=checkpoint.key_id(),
        signature=checkpoint.signature_of(signed_part(seq, hash_, since_seq, now)),
    ).on_conflict_do_nothing(index_elements=["seq", "since_seq"]))
    db.session.commit()


# ---- checkpoints published elsewhere ----------------------------------------------------

def published_problem(seq, hash_) -> str | None:
    """What is wrong with the log, measured against a checkpoint published outside
    it (a transparency report's `audit_seq` and `audit_hash`), or None if the log
    still holds that event with that hash. A database restored from a backup older
    than the publication ends before the event; one rewritten since has another hash."""
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1 or not isinstance(hash_, str):
        return "it names no audit event (audit_seq, audit_hash)"
    found = db.session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))
    if found == hash_:
        return None
    head = db.session.scalar(select(AuditHead.seq))
    if found is None and head is not None and head < seq:
        return (f"the log ends at event {head:,}, before event {seq:,}, which was published: the database "
                "was rolled back to an older state (a restored backup?) or its end was cut off")
    return f"event {seq:,} has another hash than the one published: the log was rewritten from there on"


def report_problems(report: dict, public_pem: str) -> list[str]:
    """A published report's JSON, as anyone can download it, against this log and
    this key: its checkpoint's signature, and the event it vouches for."""
    name = f"{report.get('period', '?')} revision {report.get('revision', '?')}"
    problems = []
    if not checkpoint.verify_checkpoint(report, public_pem):
        problems.append(f"{name}: its checkpoint is not signed by this key")
    signed = report.get("checkpoint") if isinstance(report.get("checkpoint"), dict) else {}
    problem = published_problem(signed.get("audit_seq"), signed.get("audit_hash"))
    if problem:
        problems.append(f"{name}: {problem}")
    return problems
