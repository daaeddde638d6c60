"""The staff home as the day's work (DESIGN 11.5): for each thing that waits on
someone, how many there are and the queue filters that list them.

Each count is capped (COUNT_CAP): a home page at a million cases stays as cheap
as one at a hundred, and "100+" says all a person needs to act. Every count
reads an index range: the queue's filters put the leading columns of the
queue's indexes first (see queue._query)."""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from models import Case, Delivery, Notice, Objection, Role, State, db
from workflows.cases import queue
from workflows.cases.assignment import ASSIGNEE_ROLES

COUNT_CAP = 100


@dataclass(frozen=True)
class Tally:
    """One line of the home page: what, how many (at most COUNT_CAP), and where
    they are listed: the queue with `filters` (query-string values), or a page."""

    key: str
    label: str
    n: int
    filters: dict[str, str] = field(default_factory=dict)
    page: str | None = None  # "notices": the notices page, instead of the queue
    urgent: bool = False  # shown in red while not zero

    @property
    def capped(self) -> bool:
        return self.n > COUNT_CAP

    @property
    def shown(self) -> str:
        return f"{COUNT_CAP:,}+" if self.capped else f"{self.n:,}"


def capped_count(query) -> int:
    """Rows of a queue query, counted up to COUNT_CAP + 1 ("100+" says enough)."""
    ids = query.with_only_columns(Case.id).order_by(None).limit(COUNT_CAP + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(ids))


def _queue_tally(key: str, label: str, args: dict[str, str], me: int, now: datetime,
                 urgent: bool = False) -> Tally:
    filters = queue.parse_filters(args, me=me)
    return Tally(key, label, capped_count(queue.query_for(filters, now)), args, urgent=urgent)


def open_objections() -> int:
    """Open cases with an objection nobody acknowledged: read from the objections
    (few), not by walking the open cases for them."""
    waiting = select(Objection.case_id).where(Objection.acknowledged_at.is_(None))
    # is_open inside a function: no engine walks the open-cases index for it (SQLite
    # would, while its statistics know no objection); each waiting case is read by id.
    still_open = func.coalesce(Case.is_open, False).is_(True)
    ids = (select(Case.id).where(Case.id.in_(waiting.scalar_subquery()), still_open)
           .limit(COUNT_CAP + 1).subquery())
    return db.session.scalar(select(func.count()).select_from(ids))


def failed_notices() -> int:
    ids = select(Notice.id).where(Notice.delivery == Delivery.FAILED).limit(COUNT_CAP + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(ids))


def day_of_work(role: Role, me: int, now: datetime) -> list[Tally]:
    """What waits, for this role: its own cases first, then the team's."""
    tallies = []
    if role in ASSIGNEE_ROLES:
        tallies += [
            _queue_tally("mine_overdue", "My cases overdue", {"assignee": str(me), "overdue": "yes"}, me, now,
                         urgent=True),
            _queue_tally("mine_due_soon", "My cases due within 48 hours",
                         {"assignee": str(me), "due_soon": "yes"}, me, now),
        ]
    if role is Role.APPROVER:
        tallies.append(_queue_tally("awaiting_my_approval", "Awaiting my approval",
                                    {"awaiting_approval": "yes"}, me, now, urgent=True))
    if role in (*ASSIGNEE_ROLES, Role.INTAKE, Role.AUDITOR):
        tallies += [
            _queue_tally("unassigned_emergencies", "Emergencies nobody has taken",
                         {"assignee": "none", "emergency": "yes"}, me, now, urgent=True),
            _queue_tally("overdue", "Overdue, all cases", {"overdue": "yes"}, me, now),
        ]
    if role in ASSIGNEE_ROLES or role is Role.AUDITOR:
        tallies += [
            Tally("open_objections", "Objections not yet acknowledged", open_objections(),
                  {"open_objection": "yes"}),
            _queue_tally("holds_ending", "Preservations ending within "
                         f"{queue.ending_soon_days()} days", {"hold_ends_soon": "yes"}, me, now),
            Tally("failed_notices", "Notices that failed to send", failed_notices(), page="notices"),
        ]
    if role is Role.INTAKE:
        tallies.append(_queue_tally("received", "Logged, no reviewer has started",
                                    {"state": State.RECEIVED.value, "assignee": "none"}, me, now))
    return tallies
