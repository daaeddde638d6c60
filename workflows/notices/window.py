"""The customer's objection window (DESIGN 11.5): a notice of intent to disclose
names the moment before which nothing is disclosed, `objection_days` (a policy
value in rules.toml) after the customer is told, and never past the response
deadline. Approval waits for it, except:

- for an emergency (the danger does not wait, and its notice is held anyway);
- while the notice is held by a non-disclosure order (the customer cannot be
  told, so there is no window to wait for; one opens if the notice is released
  while the proposal still waits);
- once every customer told of this proposal has answered: objected (which the
  approver must then acknowledge) or said they do not object."""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import AuditAction, Case, CaseTransition, Notice, NoticeKind, State, db
from workflows import audit, legal
from workflows.audit import Actor
from workflows.errors import Conflict, NotFound
from workflows.rows import locked


def objection_days() -> int:
    return legal.default_rules().objection_days


def window_end(case: Case, told_at: datetime) -> datetime | None:
    """When a window opened by telling the customer at `told_at` closes; None
    where none applies (an emergency)."""
    if case.emergency:
        return None
    return min(told_at + timedelta(days=objection_days()), max(case.due_at, told_at))


def stamp(case: Case, notice: Notice, told_at: datetime) -> datetime | None:
    """A notice of intent reaches the customer at `told_at`, while the proposal
    waits for approval: the notice names the end of its window, which is
    returned for the caller to keep on the case (None: no window applies)."""
    if notice.kind is not NoticeKind.INTENT_TO_DISCLOSE or case.state is not State.PENDING_APPROVAL:
        return None
    end = window_end(case, told_at)
    if end is not None:
        notice.content = {**notice.content, "objection_deadline": end.isoformat()}
    return end


def latest_proposal(case_id: int) -> datetime | None:
    return db.session.scalar(select(CaseTransition.at).where(
        CaseTransition.case_id == case_id, CaseTransition.trigger == "propose_disclosure")
        .order_by(CaseTransition.seq.desc()).limit(1))


def told_of_proposal(case_id: int) -> list[Notice]:
    """The released notices of intent about the case's current proposal."""
    since = latest_proposal(case_id)
    query = select(Notice).options(selectinload(Notice.objection)).where(
        Notice.case_id == case_id, Notice.kind == NoticeKind.INTENT_TO_DISCLOSE,
        Notice.released_at.is_not(None))
    if since is not None:
        query = query.where(Notice.created_at >= since)
    return list(db.session.scalars(query))


def binding_until(case: Case, now: datetime) -> datetime | None:
    """The end of the window if it still holds approval back at `now`; else None."""
    end = case.objection_deadline
    if case.emergency or end is None or end <= now:
        return None
    told = told_of_proposal(case.id)
    if told and all(n.objection is not None or n.no_objection_at is not None for n in told):
        return None
    return end


def say_no_objection(notice_id: int, customer_id: int, actor: Actor, now: datetime) -> Notice:
    """The customer says they do not object: approval need not wait for the rest
    of the window on their account. Once, on an open case; committed here."""
    try:
        found = db.session.get(Notice, notice_id)
        if found is None or found.customer_id != customer_id or found.released_at is None:
            raise NotFound("No such notice.")
        case = locked(Case, found.case_id, "No such notice.")  # as approve and file_objection lock it
        notice = locked(Notice, notice_id, "No such notice.")
        if notice.kind is not NoticeKind.INTENT_TO_DISCLOSE:
            raise Conflict("Only a notice of intent to disclose asks whether you object.", code="wrong_kind")
        if notice.objection is not None:
            raise Conflict("You have already objected to this notice.", code="already_objected")
        if notice.no_objection_at is not None:
            raise Conflict("You have already told us you do not object.", code="already_answered")
        if case.state.is_terminal:
            raise Conflict("This demand has been closed.", code="case_closed")
        notice.no_objection_at = now
        audit.record(AuditAction.OBJECTION_WAIVED, actor, subject=("case", notice.case_id), now=now,
                     data={"notice_id": notice.id, "customer_id": customer_id})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return notice
