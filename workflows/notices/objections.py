"""The customer's side of notices: reading their own notices and the demand
behind one, objecting to an intended disclosure, and the approver's
acknowledgement that approve waits for (DESIGN section 5). A notice that is
another customer's, or not yet released, reads as not existing."""

from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from models import AuditAction, Case, Notice, NoticeKind, Objection, Role, db
from workflows import audit, disclosure
from workflows.audit import Actor
from workflows.errors import Conflict, InvalidInput, NotAllowed, NotFound
from workflows.rows import locked
from workflows.text import clean_text

ACKNOWLEDGERS = frozenset({Role.APPROVER})
STATEMENT_MAX = 10_000
NOTE_MAX = 2000


def for_customer(customer_id: int) -> list[Notice]:
    """A customer's released notices, newest first. Held notices do not exist for them."""
    return db.session.scalars(
        select(Notice).options(selectinload(Notice.objection))
        .where(Notice.customer_id == customer_id, Notice.released_at.is_not(None))
        .order_by(Notice.released_at.desc(), Notice.id.desc())
    ).all()


def customer_notice(notice_id: int, customer_id: int) -> Notice:
    """One of the customer's released notices; anything else reads as not existing."""
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.customer_id != customer_id or notice.released_at is None:
        raise NotFound("No such notice.")
    return notice


def view(notice_id: int, customer_id: int, actor: Actor, now: datetime) -> Notice:
    """A customer opens a notice: audited, like every reading of a case."""
    notice = customer_notice(notice_id, customer_id)
    audit.record(AuditAction.NOTICE_VIEWED, actor, subject=("notice", notice.id), now=now,
                 data={"case_id": notice.case_id, "kind": notice.kind.value})
    db.session.commit()
    return notice


def demand_copy(notice_id: int, customer_id: int, actor: Actor, now: datetime, folder: Path):
    """The copy of the demand behind a customer's notice (its latest document)."""
    notice = customer_notice(notice_id, customer_id)
    if notice.document_id is None:
        raise NotFound("No copy of the demand was on file when this notice was written.")
    return disclosure.fetch_document(notice.case_id, notice.document_id, actor, now, folder)


def may_object(notice: Notice) -> bool:
    return (notice.kind is NoticeKind.INTENT_TO_DISCLOSE and notice.objection is None
            and not notice.case.state.is_terminal)


def file_objection(notice_id: int, customer_id: int, user_id: int, statement: str | None, actor: Actor,
                   now: datetime) -> Objection:
    text = clean_text(statement if isinstance(statement, str) else "", field="statement",
                      label="Statements", max_length=STATEMENT_MAX, multiline=True)
    if not text:
        raise InvalidInput("Write your objection: what you object to, and why.", reasons=["statement"],
                           fields={"statement": "Write your objection."})
    try:
        found = db.session.get(Notice, notice_id)
        if found is None or found.customer_id != customer_id or found.released_at is None:
            raise NotFound("No such notice.")
        # The case first, as approve locks it: an objection and an approval never
        # both go through on the strength of the other not having happened yet.
        case = locked(Case, found.case_id, "No such notice.")
        notice = locked(Notice, notice_id, "No such notice.")
        if notice.kind is not NoticeKind.INTENT_TO_DISCLOSE:
            raise Conflict("Only a notice of intent to disclose can be objected to.", code="wrong_kind")
        if notice.objection is not None:
            raise Conflict("You have already objected to this notice.", code="already_objected")
        if case.state.is_terminal:
            raise Conflict("This demand has been closed; an objection can no longer change it.",
                           code="case_closed")
        objection = Objection(notice_id=notice.id, case_id=notice.case_id, customer_id=customer_id,
                              statement=text, filed_by_id=user_id, filed_at=now)
        db.session.add(objection)
        db.session.flush()
        audit.record(AuditAction.OBJECTION_FILED, actor, subject=("case", notice.case_id), now=now, data={
            "notice_id": notice.id, "objection_id": objection.id, "customer_id": customer_id,
            "length": len(text),
        })
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return objection


def acknowledge(objection_id: int, role: Role, actor: Actor, user_id: int, note: str | None,
                now: datetime) -> Objection:
    """The approver has read the objection; approve may now go ahead."""
    if role not in ACKNOWLEDGERS:
        raise NotAllowed("Only an approver acknowledges objections.")
    text = clean_text(note if isinstance(note, str) else "", field="note", label="Notes", max_length=NOTE_MAX,
                      multiline=True)
    try:
        objection = locked(Objection, objection_id, "No such objection.")
        if objection.acknowledged_at is not None:
            raise Conflict("This objection has already been acknowledged.", code="already_acknowledged")
        objection.acknowledged_by_id, objection.acknowledged_at = user_id, now
        objection.acknowledgement = text or None
        audit.record(AuditAction.OBJECTION_ACKNOWLEDGED, actor, subject=("case", objection.case_id), now=now,
                     data={"objection_id": objection.id, "note": text or None})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return objection


def unacknowledged(case_id: int) -> int:
    """Objections the approver has not yet acknowledged (approve waits for none)."""
    return db.session.scalar(select(func.count()).select_from(Objection).where(
        Objection.case_id == case_id, Objection.acknowledged_at.is_(None))) or 0
