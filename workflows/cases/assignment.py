"""Who works a case (DESIGN 11.5): a reviewer takes a case, or the next one in the
queue's order, and may hand back their own; an approver assigns anyone who can
review, or nobody; several cases at once, all or none.

An assignment is not a transition: the case's state and version stay as they are
(the version counts state changes, which the transition log numbers). The case
row is locked while it is read and changed, so two people taking one case at the
same moment end with one assignee and one refusal, never two events. Each change
is audited with who had the case before and who has it now."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update

from models import AuditAction, Case, State, User, db
from workflows import audit
from workflows.cases.guards import Caller
from workflows.cases.states import APPROVERS, REVIEWERS
from workflows.errors import Conflict, InvalidInput, NotAllowed
from workflows.rows import locked

ASSIGNEE_ROLES = REVIEWERS  # a case goes to someone who can review it
# What "take the next case" offers: cases waiting for a reviewer's work. A held
# preservation or a proposal awaiting approval is not a reviewer's next task.
TAKEABLE = (State.RECEIVED, State.LEGAL_REVIEW, State.REDIRECTED, State.CHALLENGED)
MANY_MAX = 50  # one queue page
KEEP = object()  # assign(): the caller did not say whom they saw assigned


def person_label(user_id: int | None) -> str:
    if user_id is None:
        return "nobody"
    user = db.session.get(User, user_id)
    return user.email if user is not None else f"user {user_id}"


def assignable() -> dict[int, str]:
    """Whom a case can go to: active reviewers and approvers, id -> e-mail."""
    return {row.id: row.email for row in db.session.execute(
        select(User.id, User.email).where(User.role.in_(ASSIGNEE_ROLES), User.active.is_(True))
        .order_by(User.email))}


def _assignee(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.role not in ASSIGNEE_ROLES or not user.active:
        raise InvalidInput("Assign the case to an active reviewer or approver.", reasons=["assignee_id"],
                           fields={"assignee_id": "Choose an active reviewer or approver."})
    return user


def _check_rights(case: Case, assignee_id: int | None, caller: Caller) -> None:
    """Approvers assign anyone or nobody; a reviewer takes an unassigned case, or
    hands back their own."""
    if caller.role not in REVIEWERS:
        who = caller.role.value if caller.role else "process"
        raise NotAllowed(f"A {who} may not assign cases.")
    if caller.role in APPROVERS:
        return
    if assignee_id not in (None, caller.user_id):
        raise NotAllowed("A reviewer takes cases for themselves; an approver assigns them to others.",
                         code="not_yours")
    if assignee_id is None and case.assignee_id != caller.user_id:
        raise NotAllowed("Only an approver may take a case away from its reviewer.", code="not_yours")
    if assignee_id == caller.user_id and case.assignee_id not in (None, caller.user_id):
        raise Conflict(f"{case.reference} is already assigned to {person_label(case.assignee_id)}; an "
                       f"approver can reassign it.", code="taken")


def _assign_locked(case: Case, assignee_id: int | None, caller: Caller, now: datetime, expected) -> bool:
    """The change on a locked case; False when it is already as asked."""
    if expected is not KEEP and expected != case.assignee_id:
        raise Conflict(f"{case.reference} was assigned to {person_label(case.assignee_id)} since you "
                       f"loaded it; reload and try again.", code="assignment_changed")
    if not case.is_open:
        raise Conflict(f"{case.reference} is closed ({case.state.label.lower()}); a closed case is not "
                       f"assigned.", code="case_closed")
    _check_rights(case, assignee_id, caller)
    if assignee_id is not None:
        _assignee(assignee_id)
    before = case.assignee_id
    if before == assignee_id:
        return False
    # A plain UPDATE, not through the ORM's versioned flush: the version numbers the
    # case's state changes, and an assignment is not one.
    db.session.execute(update(Case).where(Case.id == case.id).values(assignee_id=assignee_id))
    audit.record(AuditAction.CASE_ASSIGNED, caller.actor, subject=("case", case.id), now=now, data={
        "reference": case.reference, "from": before, "to": assignee_id})
    return True


def assign(case_id: int, assignee_id: int | None, caller: Caller, now: datetime, expected=KEEP) -> Case:
    """Give one case to `assignee_id` (None: to nobody). `expected`, when given, is
    the assignee the caller saw: a change since is a Conflict, not overwritten.
    The caller commits."""
    case = locked(Case, case_id, "No such case.")
    _assign_locked(case, assignee_id, caller, now, expected)
    return case


def assign_many(case_ids: Iterable[int], assignee_id: int | None, caller: Caller, now: datetime) -> int:
    """The same assignment on several cases, all or none: the first case that
    refuses it stops the lot (the caller rolls back). Returns how many changed."""
    ids = sorted(set(case_ids))  # one lock order, so two batches cannot deadlock
    if not ids:
        raise InvalidInput("Choose at least one case.", reasons=["case_ids"])
    if len(ids) > MANY_MAX:
        raise InvalidInput(f"Assign at most {MANY_MAX} cases at once.", reasons=["case_ids"])
    changed = 0
    for case_id in ids:
        changed += _assign_locked(locked(Case, case_id, "No such case."), assignee_id, caller, now, KEEP)
    return changed


def take_next(caller: Caller, now: datetime) -> Case | None:
    """The first unassigned case waiting for review, in the queue's order
    (emergencies first, then by deadline), taken by the caller; None when there is
    none. On PostgreSQL a case another reviewer is taking is skipped, not waited
    for; SQLite's transactions hold the write lock from their start."""
    if caller.role not in REVIEWERS:
        raise NotAllowed("Only reviewers and approvers take cases.")
    case = db.session.execute(
        select(Case).where(Case.assignee_id.is_(None), Case.is_open.is_(True), Case.state.in_(TAKEABLE))
        .order_by(Case.priority, Case.due_at, Case.id).limit(1)
        .with_for_update(skip_locked=True).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if case is None:
        return None
    _assign_locked(case, caller.user_id, caller, now, None)
    return case
