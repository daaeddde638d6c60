"""The auditor's view of the log: the chain's state (verified from the newest
signed checkpoint) and its events, newest first."""

import re

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from models import AuditEvent, Role, db, utcnow
from views.policy import allow
from workflows import reports

bp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE = 50
SEQ_MAX = 2_147_483_647  # audit_events.seq is a PostgreSQL `integer`


def page_cursor(raw: str | None) -> int | None:
    """?before=N pages back to the events before number N."""
    if not raw:
        return None
    try:
        before = int(raw)
    except ValueError:  # not a number, or one of thousands of digits
        before = None
    if before is None or not 1 <= before <= SEQ_MAX:
        abort(400, description=f"'before' must be an event number from 1 to {SEQ_MAX}.")
    return before


HASH = re.compile(r"[0-9a-f]{64}")


def published_checkpoint(args) -> tuple[int, str] | None:
    """?seq=N&hash=H: a checkpoint published in a transparency report, to check."""
    if not args.get("seq") and not args.get("hash"):
        return None
    raw_seq, raw_hash = args.get("seq", "").strip(), args.get("hash", "").strip().lower()
    if not raw_seq.isdigit() or not 1 <= int(raw_seq) <= SEQ_MAX:
        abort(400, description=f"The event number must be a number from 1 to {SEQ_MAX}.")
    if not HASH.fullmatch(raw_hash):
        abort(400, description="The hash must be 64 hexadecimal characters, as the report prints it.")
    return int(raw_seq), raw_hash


@bp.get("/")
@allow(Role.AUDITOR)
def index():
    before = page_cursor(request.args.get("before"))
    published = published_checkpoint(request.args)
    # From the newest signed checkpoint: a view costs what was added since the last.
    # First, as it commits (which would expire the events read before it).
    checked = reports.verify_audit(utcnow())
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(PAGE)
    if before:
        query = query.where(AuditEvent.seq < before)
    events = list(db.session.scalars(query))
    problem = reports.published_problem(*published) if published else None
    return render_template(
        "audit/index.html", check=checked.result, started=checked.started_from,
        published=published, published_problem=problem,
        full=reports.last_full_verification(), events=events,
        older=events[-1].seq if len(events) == PAGE else None,
    )
