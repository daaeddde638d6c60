"""The auditor's view of the log: the chain's state and its events, newest first."""

from flask import Blueprint, render_template, request
from sqlalchemy import select

from models import AuditEvent, Role, db
from views.policy import allow
from workflows import audit

bp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE = 50


@bp.get("/")
@allow(Role.AUDITOR)
def index():
    before = request.args.get("before", type=int)
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(PAGE)
    if before:
        query = query.where(AuditEvent.seq < before)
    events = list(db.session.scalars(query))
    return render_template(
        "audit/index.html", check=audit.verify(), events=events,
        older=events[-1].seq if len(events) == PAGE else None,
    )
