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


def _capped(ids) -> object:
    """How many rows `ids` (a query of one column) has, counted up to COUNT_CAP + 1
    ("100+" says enough), as an expression for the one statement below."""
    return select(func.count()).select_from(ids.order_by(None).limit(COUNT_CAP + 1).subquery()) \
        .scalar_subquery()


def _cases(args: dict[str, str], me: int, now: datetime):
    return queue.query_for(queue.parse_filters(args, me=me), now).with_only_columns(Case.id)


def _open_objections():
    """Open cases with an objection nobody acknowledged: read from the objections
    (few), not by walking the open cases for them."""
    waiting = select(Objection.case_id).where(Objection.acknowledged_at.is_(None))
    # is_open inside a function: no engine walks the open-cases index for it (SQLite
    # would, while its statistics know no objection); each waiting case is read by id.
    still_open = func.coalesce(Case.is_open, False).is_(True)
    return select(Case.id).where(Case.id.in_(waiting.scalar_subquery()), still_open)


def _plan(role: Role, me: int) -> list[tuple[str, str, dict[str, str], str | None, bool]]:
    """(key, label, queue filters, page, urgent) for what waits, for this role: its
    own cases first, then the team's."""
    plan = []
    if role in ASSIGNEE_ROLES:
        mine = str(me)
        plan += [("mine_overdue", "My cases overdue", {"assignee": mine, "overdue": "yes"}, None, True),
                 ("mine_due_soon", "My cases due within 48 hours", {"assignee": mine, "due_soon": "yes"},
                  None, False)]
    if role is Role.APPROVER:
        plan.append(("awaiting_my_approval", "Awaiting my approval", {"awaiting_approval": "yes"}, None,
                     True))
    if role in (*ASSIGNEE_ROLES, Role.INTAKE, Role.AUDITOR):
        plan += [("unassigned_emergencies", "Emergencies nobody has taken",
                  {"assignee": "none", "emergency": "yes"}, None, True),
                 ("overdue", "Overdue, all cases", {"overdue": "yes"}, None, False)]
    if role in ASSIGNEE_ROLES or role is Role.AUDITOR:
        plan += [("open_objections", "Objections not yet acknowledged", {"open_objection": "yes"}, None,
                  False),
                 ("holds_ending", f"Preservations ending within {queue.ending_soon_days()} days",
                  {"hold_ends_soon": "yes"}, None, False),
                 ("failed_notices", "Notices that failed to send", {}, "notices", False)]
    if role is Role.INTAKE:
        plan.append(("received", "Logged, no reviewer has started",
                     {"state": State.RECEIVED.value, "assignee": "none"}, None, False))
    return plan


def day_of_work(role: Role, me: int, now: datetime) -> list[Tally]:
    """What waits, for this role: every count in one statement (one round trip)."""
    plan = _plan(role, me)
    if not plan:
        return []
    failed = select(Notice.id).where(Notice.delivery == Delivery.FAILED)
    counted = [_capped(_open_objections() if key == "open_objections" else failed if key == "failed_notices"
                       else _cases(args, me, now)).label(key) for key, _, args, _, _ in plan]
    counts = db.session.execute(select(*counted)).one()
    return [Tally(key, label, n, args, page=page, urgent=urgent)
            for (key, label, args, page, urgent), n in zip(plan, counts, strict=True)]
