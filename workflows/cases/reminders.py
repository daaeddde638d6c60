"""Reminders by e-mail (DESIGN 11.5), written to the account-mail outbox and sent
by its relay:

- a case due within 24 hours: to its assignee (to the approvers while nobody has it);
- an overdue case: to its assignee and every approver;
- an emergency nobody has taken 30 minutes after it was logged: to every approver;
- a preservation whose hold ends within the policy's days: to its assignee (or
  the approvers).

Each is written exactly once per case and kind: a case_reminders row, unique on
(case, kind), goes in with its message in one transaction, so a second runner,
or a second pass, finds the row (or loses the race to insert it) and writes
nothing. A held preservation has no answer due, so it gets only the last kind.
A message that cannot be delivered is shown to staff on the notices page."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from models import Case, CaseReminder, Delivery, MailKind, MailMessage, ReminderKind, Role, State, User, db
from workflows import mail
from workflows.cases.queue import ending_soon_days

DUE_SOON = timedelta(hours=24)
UNTAKEN = timedelta(minutes=30)
BATCH = 200  # cases per kind and pass: a first run over years of overdue cases goes in steps


@dataclass
class ReminderPass:
    written: dict[str, int] = field(default_factory=lambda: {k.value: 0 for k in ReminderKind})
    raced: int = 0  # written by another runner at the same moment

    @property
    def total(self) -> int:
        return sum(self.written.values())


def _candidates(kind: ReminderKind, now: datetime):
    """Cases that need `kind` now and have not had it."""
    query = select(Case.id).where(Case.is_open.is_(True), ~exists().where(
        CaseReminder.case_id == Case.id, CaseReminder.kind == kind))
    answer_due = (Case.state != State.PRESERVED, Case.priority.in_((0, 1)))
    if kind is ReminderKind.DUE_SOON:
        query = query.where(*answer_due, Case.due_at >= now, Case.due_at < now + DUE_SOON)
    elif kind is ReminderKind.OVERDUE:
        query = query.where(*answer_due, Case.due_at < now)
    elif kind is ReminderKind.EMERGENCY_UNTAKEN:
        query = query.where(Case.assignee_id.is_(None), Case.priority == 0, Case.emergency.is_(True),
                            Case.created_at <= now - UNTAKEN)
    else:
        query = query.where(Case.state == State.PRESERVED,
                            Case.preserved_until <= now + timedelta(days=ending_soon_days()))
    return query.order_by(Case.priority, Case.due_at, Case.id).limit(BATCH)


def _approvers() -> list[str]:
    """Every active approver's address, read once a pass."""
    return list(db.session.scalars(select(User.email).where(User.role == Role.APPROVER, User.active.is_(True))
                                   .order_by(User.id)))


def recipients(case: Case, kind: ReminderKind, approvers: list[str]) -> list[str]:
    """Who is reminded: the assignee, the approvers, or both (DESIGN 11.5). While
    nobody has the case, the approvers, who can assign it."""
    assignee = case.assignee.email if case.assignee is not None and case.assignee.active else None
    if kind is ReminderKind.EMERGENCY_UNTAKEN:
        return approvers
    if kind is ReminderKind.OVERDUE:
        return ([assignee] if assignee else []) + [a for a in approvers if a != assignee]
    return [assignee] if assignee else approvers


SUBJECTS = {
    ReminderKind.DUE_SOON: "{reference} is due within 24 hours",
    ReminderKind.OVERDUE: "{reference} is overdue",
    ReminderKind.EMERGENCY_UNTAKEN: "Emergency {reference}: nobody has taken it",
    ReminderKind.HOLD_ENDING: "{reference}: the preservation ends soon",
}


def _write(case_id: int, kind: ReminderKind, now: datetime, case_url: Callable[[int], str],
           approvers: list[str]) -> bool:
    """One reminder and its message, committed together; False if another runner
    wrote it first."""
    case = db.session.get(Case, case_id)
    people = recipients(case, kind, approvers)
    message = None
    if people:
        message = mail.enqueue(
            MailKind.REMINDER, people, SUBJECTS[kind].format(reference=case.reference),
            "reminder", now, what=kind.value, reference=case.reference,
            agency=case.agency.name, due_at=case.due_at, preserved_until=case.preserved_until,
            assigned=case.assignee is not None, url=case_url(case.id))
        db.session.flush()
    db.session.add(CaseReminder(case_id=case.id, kind=kind, created_at=now,
                                mail_id=message.id if message else None,
                                recipients=people))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def write_due(now: datetime, case_url: Callable[[int], str]) -> ReminderPass:
    """One pass: every reminder due now and not yet written, each in its own
    transaction (a mail server is never waited on here; the relay sends)."""
    result = ReminderPass()
    approvers = _approvers()
    for kind in ReminderKind:
        ids = list(db.session.scalars(_candidates(kind, now)))
        db.session.commit()
        for case_id in ids:
            if _write(case_id, kind, now, case_url, approvers):
                result.written[kind.value] += 1
            else:
                result.raced += 1
    return result


def of_case(case_id: int) -> list[tuple[CaseReminder, MailMessage | None]]:
    """The reminders sent about a case, oldest first, with their messages."""
    return list(db.session.execute(
        select(CaseReminder, MailMessage).outerjoin(MailMessage, MailMessage.id == CaseReminder.mail_id)
        .where(CaseReminder.case_id == case_id).order_by(CaseReminder.id)).all())


def undelivered() -> list[tuple[CaseReminder, MailMessage, str]]:
    """Reminders whose message the relay gave up on, newest first, with the case's
    reference: shown to staff beside the notices not delivered."""
    return list(db.session.execute(
        select(CaseReminder, MailMessage, Case.reference)
        .join(MailMessage, MailMessage.id == CaseReminder.mail_id).join(Case, Case.id == CaseReminder.case_id)
        .where(MailMessage.delivery == Delivery.FAILED).order_by(CaseReminder.id.desc()).limit(200)).all())
