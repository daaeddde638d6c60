"""Messages on a request between the provider's staff and the agency that sent it
(DESIGN 11.4): "name the accounts", "the order is unsigned", and the agency's
answers. Both sides read one thread; the agency sees the provider as the
provider, never which reviewer wrote. Each message is audited (with a hash of
its text, so the log proves what was said without repeating it), and the other
side is told by e-mail that there is something to read, without the text: the
thread itself stays behind a sign-in.

A message is a record, not a transition: it never changes the case's state or
version, so writing one cannot collide with a reviewer acting on the case."""

import hashlib
from datetime import datetime
from typing import ClassVar

from sqlalchemy import func, select

from models import AuditAction, Case, CaseMessage, MailKind, MessageSide, Role, User, db
from workflows import audit, disclosure, mail
from workflows.audit import Actor
from workflows.cases.guards import Caller
from workflows.cases.states import WITHDRAWERS
from workflows.errors import Conflict, NotAllowed, NotFound
from workflows.rows import locked
from workflows.schema import Body, text

MESSAGE_MAX = 4000
THREAD_MAX = 500  # messages on one request: a runaway script stops here, not the disk
WRITERS = WITHDRAWERS  # intake, reviewers and approvers write; auditors read


class MessageBody(Body):
    """A message on a request."""

    WHAT: ClassVar[str] = "a message"
    LEAD: ClassVar[str] = "The message was not sent: "
    MESSAGES: ClassVar[dict[str, str]] = {"text": "text: write the message (at most 4000 characters)."}
    text: text(MESSAGE_MAX, filled=True, multiline=True, description="the message, in plain text")


def _post(case: Case, side: MessageSide, body: str, actor: Actor, author_id: int | None,
          now: datetime) -> CaseMessage:
    count = db.session.scalar(select(func.count()).select_from(CaseMessage)
                              .where(CaseMessage.case_id == case.id))
    if count >= THREAD_MAX:
        raise Conflict(f"{case.reference} already holds {THREAD_MAX} messages; write to the provider by "
                       "other means.", code="thread_full")
    message = CaseMessage(case_id=case.id, side=side, author_id=author_id, author=actor.label, text=body,
                          at=now)
    db.session.add(message)
    db.session.flush()
    audit.record(AuditAction.CASE_MESSAGE, actor, subject=("case", case.id), now=now, data={
        "reference": case.reference, "message_id": message.id, "side": side.value, "length": len(body),
        "sha256": hashlib.sha256(body.encode()).hexdigest()})
    return message


def officers_to_tell(case: Case) -> list[User]:
    """Whom to tell of the provider's message: the officer who sent the request,
    if they still act for the agency, else every verified officer of it."""
    submitter = db.session.get(User, case.created_by_id) if case.created_by_id else None
    if (submitter is not None and submitter.role is Role.OFFICER and submitter.active
            and submitter.officer_verified_at is not None):
        return [submitter]
    return list(db.session.scalars(select(User).where(
        User.role == Role.OFFICER, User.agency_id == case.agency_id, User.active.is_(True),
        User.officer_verified_at.is_not(None)).order_by(User.id)))


def write_to_agency(case_id: int, body: str, caller: Caller, now: datetime, portal_url: str) -> CaseMessage:
    """A member of staff writes to the agency on one of its requests. The caller
    commits. `portal_url`: the absolute address of the request in the agency portal,
    for the e-mail that says there is a message."""
    if caller.role not in WRITERS:
        who = caller.role.value if caller.role else "process"
        raise NotAllowed(f"A {who} may not write to the agency.")
    case = locked(Case, case_id, "No such case.")
    message = _post(case, MessageSide.PROVIDER, body, caller.actor, caller.user_id, now)
    recipients = [u.email for u in officers_to_tell(case)]
    if recipients:
        mail.enqueue(MailKind.AGENCY_MESSAGE, recipients, f"A message about your request {case.reference}",
                     "agency_message", now, reference=case.reference, case_number=case.case_number,
                     url=portal_url)
    return message


def write_to_provider(case_id: int, agency_id: int, body: str, actor: Actor, author_id: int | None,
                      now: datetime, case_url: str) -> CaseMessage:
    """The agency writes on one of its own requests (another agency's reads as one
    that does not exist). The caller commits. The case's assignee, if any, is told
    by e-mail; `case_url` is the staff case page."""
    case = locked(Case, case_id, "No such request for your agency.")
    if case.agency_id != agency_id:
        raise NotFound("No such request for your agency.")
    message = _post(case, MessageSide.AGENCY, body, actor, author_id, now)
    assignee = case.assignee
    if assignee is not None and assignee.active:
        mail.enqueue(MailKind.AGENCY_ANSWER, assignee.email, f"{case.reference}: the agency wrote",
                     "agency_answer", now, user_id=assignee.id, reference=case.reference,
                     agency=case.agency.name, url=case_url)
    return message


def waiting_on_agency(case: Case) -> CaseMessage | None:
    """The provider's latest message if the agency has not written since."""
    last = case.messages[-1] if case.messages else None
    return last if last is not None and last.side is MessageSide.PROVIDER else None


def unanswered(case_ids: list[int]) -> set[int]:
    """Which of these requests end with a message from the provider: one query."""
    if not case_ids:
        return set()
    latest = (select(CaseMessage.case_id, func.max(CaseMessage.id).label("last_id"))
              .where(CaseMessage.case_id.in_(case_ids)).group_by(CaseMessage.case_id).subquery())
    return set(db.session.scalars(
        select(CaseMessage.case_id).join(latest, CaseMessage.id == latest.c.last_id)
        .where(CaseMessage.side == MessageSide.PROVIDER)))


def needed_from_agency(case: Case, now: datetime) -> list[str]:
    """What the agency should do next on its request, in plain words: answer the
    provider, name the accounts, collect the production. Empty when nothing."""
    needs = []
    asked = waiting_on_agency(case)
    if asked is not None:
        needs.append(f"Answer our message of {asked.at:%Y-%m-%d %H:%M} UTC.")
    if case.is_open and not case.identifiers:
        needs.append("Name the accounts (identifiers) the demand is for: nothing can be disclosed on a "
                     "demand that names none. Write them in a message.")
    current = disclosure.current_link(case.disclosure, now)
    if current is not None and current[1] is not None:
        needs.append(f"Collect the production, once, before {current[0].expires_at:%Y-%m-%d %H:%M} UTC.")
    return needs
