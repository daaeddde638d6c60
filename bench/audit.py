"""How verifying the audit chain holds up at 10,000,000 events, on SQLite or PostgreSQL.

    python bench/audit.py                      # SQLite file in a temporary folder, 10,000,000 events
    python bench/audit.py --events 1000000
    python bench/audit.py --postgres postgresql+psycopg://postgres@127.0.0.1/postgres

Builds a fresh database (on PostgreSQL a new database on that server, dropped at the
end), migrates it and writes N events straight into audit_events, each hashed by
workflows.audit's rule from the one before (a genuine chain). Then, in the same run:
  (a) a full verification, as `audit verify` runs it: events per second;
  (b) events appended through workflows.audit.record(), then a verification resumed
      from the checkpoint (a) left, as `audit verify --since-checkpoint` runs it;
  (c) the auditor's page (GET /audit/, which verifies from the newest checkpoint),
      against a bare page, with nothing and with 100 events added between views."""

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa
from flask_migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import seed  # noqa: E402

from models import GENESIS_HASH, AuditAction, AuditHead, Role, db, utcnow  # noqa: E402
from workflows import audit, reports  # noqa: E402
from workflows.audit import Actor  # noqa: E402
from workflows.identity import auth, users  # noqa: E402

BATCH = 50_000
COLUMNS = ("seq", "at", "actor_id", "actor", "action", "subject_type", "subject_id", "data", "prev_hash",
           "hash")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--postgres", metavar="URL", help="server URL; a database is made there and dropped")
    parser.add_argument("--appended", type=int, default=1000, help="events appended before (b)")
    parser.add_argument("--views", type=int, default=50, help="timed views of each page in (c)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dp-bench-") as folder, \
            seed.database(args.postgres, folder) as url:
        run(args, url, Path(folder))


def run(args, url: str, folder: Path) -> None:
    app = seed.bench_app(url, folder)
    with app.app_context():
        dialect = db.engine.dialect.name
        print(f"engine: {dialect}  events: {args.events:,}  date: {utcnow():%Y-%m-%d}")
        upgrade()
        token = sign_in_auditor()
        started = time.perf_counter()
        load_events(args.events, dialect)
        print(f"seed: {time.perf_counter() - started:.1f} s (hashing and bulk-loading the events)")

        full = reports.verify_audit(utcnow(), resume=False)
        assert full.result.intact, full.result.reason
        print(f"\n(a) full verification: {full.result.events:,} events in {full.seconds:.1f} s, "
              f"{full.rate:,.0f} events/s")

        append(args.appended)
        resumed = reports.verify_audit(utcnow())
        assert resumed.result.intact, resumed.result.reason
        print(f"(b) resumed from the checkpoint at event {resumed.started_from.seq:,}: "
              f"{resumed.result.events:,} events in {resumed.seconds * 1000:.1f} ms "
              f"({resumed.seconds / full.seconds:.5f} of the full walk)")
        db.session.commit()
    measure_page(app, token, args.views)
    with app.app_context():
        db.engine.dispose()


def sign_in_auditor() -> str:
    now = utcnow()
    user = users.create_user("auditor@bench.example", Role.AUDITOR, seed.PASSWORD, seed.ACTOR, now).user
    user.totp_confirmed_at = now
    token = auth.start_session(user, "127.0.0.1", "bench", now).token
    db.session.commit()
    return token


def event_rows(n: int, first_seq: int, prev_hash: str, start: datetime):
    """n events after `first_seq`, in the mix a busy year leaves: case views and
    transitions, sign-ins, notices; each hashed from the one before."""
    actions = [
        (AuditAction.CASE_VIEWED, "case", lambda i: {"reference": f"LR-2026-{i % 999_999:06d}"}),
        (AuditAction.CASE_TRANSITION, "case", lambda i: {
            "reference": f"LR-2026-{i % 999_999:06d}", "trigger": "start_review", "from": "received",
            "to": "legal_review", "version": 2, "note": None, "assignee_id": i % 20 + 1}),
        (AuditAction.SIGN_IN, "user", lambda i: {"ip": f"192.0.2.{i % 250}"}),
        (AuditAction.NOTICE_SENT, "notice", lambda i: {"case_id": i % 999_999, "kind": "intent_to_disclose"}),
    ]
    for i in range(n):
        seq = first_seq + i + 1
        action, subject_type, data = actions[i % len(actions)]
        event = SimpleNamespace(
            seq=seq, at=start + timedelta(milliseconds=seq), actor_id=i % 24 + 1,
            actor=f"reviewer{i % 24 + 1}@bench.example", action=str(action), subject_type=subject_type,
            subject_id=str(i % 999_999 + 1), data=data(i), prev_hash=prev_hash)
        event.hash = audit.chain_hash(prev_hash, audit.event_fields(event))
        prev_hash = event.hash
        yield event


def load_events(n: int, dialect: str) -> None:
    """Write n events after the head (the sign-in's), then move the head to the last."""
    head = db.session.execute(sa.select(AuditHead.seq, AuditHead.hash, AuditHead.at)).one()
    db.session.commit()
    start = (head.at or utcnow()) + timedelta(seconds=1)
    raw = db.engine.raw_connection()
    last = None
    try:
        cursor = raw.cursor()
        if dialect == "sqlite":
            sql = f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
            cursor.execute("BEGIN")
            batch = []
            for last in event_rows(n, head.seq, head.hash or GENESIS_HASH, start):
                batch.append((last.seq, last.at.astimezone(UTC).replace(tzinfo=None).isoformat(" "),
                              last.actor_id, last.actor, last.action, last.subject_type, last.subject_id,
                              json.dumps(last.data), last.prev_hash, last.hash))
                if len(batch) >= BATCH:
                    cursor.executemany(sql, batch)
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
        else:
            with cursor.copy(f"COPY audit_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for last in event_rows(n, head.seq, head.hash or GENESIS_HASH, start):
                    copy.write_row((last.seq, last.at, last.actor_id, last.actor, last.action,
                                    last.subject_type, last.subject_id, json.dumps(last.data),
                                    last.prev_hash, last.hash))
        at = last.at.astimezone(UTC)
        if dialect == "sqlite":
            cursor.execute("UPDATE audit_head SET seq = ?, hash = ?, at = ?",
                           (last.seq, last.hash, at.replace(tzinfo=None).isoformat(" ")))
        else:
            cursor.execute("UPDATE audit_head SET seq = %s, hash = %s, at = %s", (last.seq, last.hash, at))
        if dialect == "sqlite":
            cursor.execute("COMMIT")
        else:
            raw.commit()
        cursor.close()
    finally:
        raw.close()


def append(n: int) -> None:
    actor = Actor("reviewer1@bench.example", 1)
    for i in range(n):
        audit.record(AuditAction.CASE_VIEWED, actor, subject=("case", i + 1),
                     data={"reference": "LR-2026-000001"})
        db.session.commit()


def measure_page(app, token: str, views: int) -> None:
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = token, True
    for path in ("/bench-bare", "/audit/"):
        response = client.get(path)
        assert response.status_code == 200 and (path != "/audit/" or b"Chain intact" in response.data), path
    timings: dict[str, list[float]] = {"bare page": [], "/audit/, nothing new": [],
                                       "/audit/, 100 events new": []}
    for i in range(views + 5):
        for label in timings:
            if label.endswith("events new"):
                with app.app_context():
                    append(100)
            path = "/bench-bare" if label == "bare page" else "/audit/"
            started = time.perf_counter()
            client.get(path)
            if i >= 5:
                timings[label].append((time.perf_counter() - started) * 1000)
    bare = statistics.median(timings["bare page"])
    print(f"(c) GET, {views} views each, interleaved; median ms and ratio to the bare page")
    for label, values in timings.items():
        median = statistics.median(values)
        print(f"  {label:26s} median {median:7.2f}  x{median / bare:5.2f}")


if __name__ == "__main__":
    main()
