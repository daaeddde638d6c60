"""The customer's side of notices: reading their own notices and the demand
behind one, objecting to an intended disclosure, and the approver's
acknowledgement that approve waits for (DESIGN section 5). A notice that is
another customer's, or not yet released, reads as not existing."""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from models import AuditAction, Case, Customer, MailKind, Notice, NoticeKind, Objection, Role, State, User, db
from workflows import audit, disclosure, mail
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
        select(Notice).options(selectinload(Notice.objection), selectinload(Notice.case))
        .where(Notice.customer_id == customer_id, Notice.released_at.is_not(None))
        .order_by(Notice.released_at.desc(), Notice.id.desc())
    ).all()


@dataclass(frozen=True)
class Demand:
    """One demand as its customer follows it in the portal: its notices (newest
    first), where it stands now, and until when they may object."""

    reference: str
    agency: str
    agency_country: str
    status: str
    objection_deadline: datetime | None  # while an objection can still hold approval back
    notices: list[Notice]


def _status(case: Case, shown: list[Notice], now: datetime) -> tuple[str, datetime | None]:
    kinds = {n.kind for n in shown}
    if case.state is State.DISCLOSED:
        return "Disclosed", None
    if case.state.is_terminal:
        return "Closed without disclosing anything", None
    if case.state is State.PENDING_APPROVAL and NoticeKind.INTENT_TO_DISCLOSE in kinds:
        end = case.objection_deadline
        if end is not None and end > now:
            return "We intend to disclose: you may object until", end
        return "We intend to disclose, once a second lawyer approves", None
    if case.state is State.REDIRECTED:
        return "Referred to you: we told the agency to ask you", None
    return "Under legal review", None


def demands_for(customer_id: int, now: datetime) -> list[Demand]:
    """The customer's released notices grouped by demand, the latest news first."""
    grouped: dict[int, list[Notice]] = {}
    for notice in for_customer(customer_id):
        grouped.setdefault(notice.case_id, []).append(notice)
    demands = []
    for shown in grouped.values():
        status, until = _status(shown[0].case, shown, now)
        first = shown[0].content
        demands.append(Demand(first["reference"], first["agency"], first["agency_country"], status, until,
                              shown))
    return demands


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
        _receipt(notice, case, objection, customer_id, user_id, now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return objection


def _receipt(notice: Notice, case: Case, objection: Objection, customer_id: int, user_id: int,
             now: datetime) -> None:
    """The customer's receipt: to whoever filed it and to the customer's notice
    addresses, so the organisation knows that one of its people objected."""
    filer = db.session.get(User, user_id)
    customer = db.session.get(Customer, customer_id)
    to = sorted({filer.email, *customer.notice_emails})
    window_end = case.objection_deadline if not case.emergency else None
    reference = notice.content["reference"]
    mail.enqueue(MailKind.OBJECTION_RECEIPT, to, f"We received your objection ({reference})",
                 "objection_receipt", now, user_id=user_id, reference=reference,
                 agency=notice.content["agency"], filed_at=objection.filed_at, filed_by=filer.email,
                 statement=objection.statement, window_end=window_end)


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
