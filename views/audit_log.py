"""The auditor's view of the log: the chain's state (verified from the newest
signed checkpoint) and its events, newest first."""

import re

from flask import Blueprint, Response, abort, render_template, request, stream_with_context
from sqlalchemy import select

from models import AuditAction, AuditHead, Role, db, utcnow
from views.identity import actor
from views.policy import allow
from workflows import audit, audit_log, reports
from workflows.errors import InvalidInput

bp = Blueprint("audit", __name__, url_prefix="/audit")
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
    context = {"check": checked.result, "started": checked.started_from, "published": published,
               "published_problem": reports.published_problem(*published) if published else None,
               "full": reports.last_full_verification(), "actions": audit_log.ACTIONS,
               "args": request.args}
    try:
        selection = audit_log.parse(request.args)
    except InvalidInput as exc:
        return render_template("audit/index.html", selection=None, error=exc.message, fields=exc.fields,
                               events=[], older=None, **context), 422
    events, older = audit_log.page(selection, before)
    return render_template("audit/index.html", selection=selection, events=events, older=older,
                           fields={}, **context)


@bp.get("/export")
@allow(Role.AUDITOR)
def export():
    """The selected events as JSON Lines, with what is needed to check them offline.
    The export is itself an audit event, written before the file is sent."""
    try:
        selection = audit_log.parse(request.args)
    except InvalidInput as exc:
        abort(422, description=exc.message)
    matched = audit_log.count_at_most(selection, audit_log.EXPORT_MAX)
    if matched > audit_log.EXPORT_MAX:
        abort(422, description=f"More than {audit_log.EXPORT_MAX:,} events match: narrow the selection "
                               "(an actor, an action, a case or a shorter time range) and export each part.")
    now = utcnow()
    audit.record(AuditAction.AUDIT_EXPORTED, actor(), now=now,
                 data={"selection": selection.as_args(), "events": matched})
    db.session.commit()
    head = tuple(db.session.execute(select(AuditHead.seq, AuditHead.hash)).one())
    newest = reports.newest_checkpoint()
    signed = None if newest is None else {
        "seq": newest.seq, "hash": newest.hash, "since_seq": newest.since_seq,
        "verified_at": newest.verified_at.isoformat(), "key_id": newest.key_id, "signature": newest.signature}
    lines = audit_log.export_lines(selection, head, signed, now)
    name = f"audit-events-{now:%Y%m%dT%H%M%SZ}.jsonl"
    return Response(stream_with_context(lines), mimetype="application/x-ndjson",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
