"""Preservation requests over time: the expiry run (`flask --app app preservations
expire`, later also the reminders runner)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from models import Case, CaseKind, State, db
from workflows.audit import Actor
from workflows.cases.guards import Caller
from workflows.cases.machine import Move, advance
from workflows.errors import Conflict, InvalidInput


@dataclass(frozen=True)
class ExpiryRun:
    expired: list[str]
    kept: list[tuple[str, str]]  # (reference, why it stays held)


def expire_due(now: datetime, actor: Actor) -> ExpiryRun:
    """Expire every preservation whose period has passed, one transaction each;
    one that a production demand still follows stays held and is named."""
    due = db.session.execute(
        select(Case.id, Case.reference).where(
            Case.kind == CaseKind.PRESERVATION, Case.state == State.PRESERVED, Case.preserved_until <= now)
        .order_by(Case.preserved_until, Case.id)
    ).all()
    db.session.rollback()  # end the read; each expiry is its own transaction
    caller = Caller(user_id=None, role=None, authenticated_at=now, actor=actor)
    expired, kept = [], []
    for case_id, reference in due:
        try:
            advance(case_id, Move(trigger="expire"), caller, now)
        except InvalidInput as exc:
            kept.append((reference, exc.message))
        except Conflict as exc:  # changed at the same moment (released, extended): its new state stands
            kept.append((reference, exc.message))
        else:
            expired.append(reference)
    return ExpiryRun(expired, kept)
