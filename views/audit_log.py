"""The auditor's view of the log: the chain's state (verified from the newest
signed checkpoint) and its events, newest first."""

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


@bp.get("/")
@allow(Role.AUDITOR)
def index():
    before = page_cursor(request.args.get("before"))
    # From the newest signed checkpoint: a view costs what was added since the last.
    # First, as it commits (which would expire the events read before it).
    checked = reports.verify_audit(utcnow())
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(PAGE)
    if before:
        query = query.where(AuditEvent.seq < before)
    events = list(db.session.scalars(query))
    return render_template(
        "audit/index.html", check=checked.result, started=checked.started_from,
        full=reports.last_full_verification(), events=events,
        older=events[-1].seq if len(events) == PAGE else None,
    )
