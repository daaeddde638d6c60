"""The reviewers' queue: filters, the order (emergencies first, then by deadline),
keyset pagination that costs the same on page 1 and page 20,000, and the counts
per state (kept in case_state_counts, so they cost one small read)."""

import base64
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import func, select, tuple_, union, union_all

from models import Agency, Case, CaseIdentifier, CaseStateCount, Objection, ProcessType, State, User, db
from workflows import identity, legal
from workflows.errors import InvalidInput
from workflows.identity import ID_MAX
from workflows.text import clean_text, whole_number

PAGE_SIZE = 50
DUE_SOON = timedelta(hours=48)  # DESIGN section 4: "due soon" is under 48 hours


SEARCH_MAX = 254  # the longest thing searched for: an account identifier


@dataclass(frozen=True)
class Filters:
    q: str | None = None  # a search: every state unless `state` says one
    state: State | None = None  # None: every open case (every case, with a search)
    assignee_id: int | None = None
    unassigned: bool = False
    due_soon: bool = False
    overdue: bool = False
    country: str | None = None
    process_type: ProcessType | None = None
    emergency: bool | None = None
    ndo: bool | None = None
    awaiting_approval_of: int | None = None  # proposals this approver may approve (not their own)
    open_objection: bool = False  # a customer's objection nobody has acknowledged
    hold_ends_soon: bool = False  # held preservations near the end of their hold
    sort: str = "due"

    def with_assignee(self, user_id: int) -> "Filters":
        return replace(self, assignee_id=user_id, unassigned=False)


SORTS = {"due": "Deadline, emergencies first", "received": "Newest received", "state": "State",
         "agency": "Agency"}
# The sort key of each sort, as the page orders it (id last, so the order is total).
KEY_TYPES = {"due": (int, datetime, int), "received": (datetime, int), "state": (State, int, datetime, int),
             "agency": (str, int, datetime, int)}


def _sort_columns(sort: str) -> tuple:
    return {
        "due": (Case.priority, Case.due_at, Case.id),
        "received": (Case.received_at, Case.id),  # newest first
        "state": (Case.state, Case.priority, Case.due_at, Case.id),
        "agency": (Agency.name, Case.priority, Case.due_at, Case.id),
    }[sort]


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the sort key of its last row, under the sort it was made for."""

    key: tuple
    sort: str = "due"

    def encode(self) -> str:
        def one(value):
            if isinstance(value, datetime):
                return int(value.timestamp() * 1_000_000)
            return value.value if isinstance(value, State) else value

        raw = json.dumps([self.sort, *(one(v) for v in self.key)], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, sort: str = "due") -> "Cursor":
        try:
            parts = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode())
            types = KEY_TYPES[sort]
            if not isinstance(parts, list) or parts[0] != sort or len(parts) != len(types) + 1:
                raise ValueError
            key = []
            for kind, value in zip(types, parts[1:], strict=True):
                if kind is datetime:
                    if type(value) is not int:
                        raise ValueError
                    key.append(datetime.fromtimestamp(value / 1_000_000, UTC))
                elif kind is int:
                    if type(value) is not int or not 0 <= value <= ID_MAX:
                        raise ValueError
                    key.append(value)
                elif kind is State:
                    key.append(State(value))
                elif not isinstance(value, str) or len(value) > 200:
                    raise ValueError
                else:
                    key.append(value)
        except (ValueError, TypeError, UnicodeDecodeError, OverflowError, OSError, IndexError):
            raise InvalidInput("That page link is damaged, or belongs to another sort; start again from the "
                               "first page.", reasons=["after"]) from None
        return cls(tuple(key), sort)


@dataclass(frozen=True)
class Page:
    cases: list  # Case objects, or QueueRows (page(rows_only=True))
    next_cursor: Cursor | None


def _flag(raw: str | None, name: str) -> bool | None:
    if raw in (None, ""):
        return None
    if raw in ("1", "yes", "true"):
        return True
    if raw in ("0", "no", "false"):
        return False
    raise InvalidInput(f"{name} takes yes or no.", reasons=[name])


def ending_soon_days() -> int:
    return legal.default_rules().preservation.ending_soon_days


def parse_filters(args, me: int | None = None) -> Filters:
    """Filters from query-string arguments; anything unknown is a clear 422. `me`
    is the signed-in user, for "assignee=me" and "awaiting_approval=yes"."""
    def one(enum_cls, name):
        raw = args.get(name) or None
        if raw is None:
            return None
        try:
            return enum_cls(raw)
        except ValueError:
            raise InvalidInput(f"Unknown {name.replace('_', ' ')} {raw!r}.", reasons=[name]) from None

    assignee = args.get("assignee") or None
    if assignee == "me" and me is not None:
        assignee = str(me)
    assignee_id = None
    if assignee not in (None, "none"):
        assignee_id = whole_number(assignee, ID_MAX)
        if assignee_id is None:
            raise InvalidInput("Unknown assignee.", reasons=["assignee"])
    country = (args.get("country") or "").strip().upper() or None
    if country and (len(country) != 2 or not country.isalpha() or not country.isascii()):
        raise InvalidInput("Country is a two-letter code such as US or DE.", reasons=["country"])
    q = " ".join(clean_text(args.get("q"), field="q", label="Searches", max_length=SEARCH_MAX).split())
    sort = args.get("sort") or "due"
    if sort not in SORTS:
        raise InvalidInput(f"Sort by one of: {', '.join(SORTS)}.", reasons=["sort"])
    return Filters(
        q=q or None, sort=sort, state=one(State, "state"), assignee_id=assignee_id,
        unassigned=assignee == "none",
        due_soon=bool(_flag(args.get("due_soon"), "due_soon")),
        overdue=bool(_flag(args.get("overdue"), "overdue")),
        country=country, process_type=one(ProcessType, "process_type"),
        emergency=_flag(args.get("emergency"), "emergency"), ndo=_flag(args.get("ndo"), "ndo"),
        awaiting_approval_of=me if _flag(args.get("awaiting_approval"), "awaiting_approval") else None,
        open_objection=bool(_flag(args.get("open_objection"), "open_objection")),
        hold_ends_soon=bool(_flag(args.get("hold_ends_soon"), "hold_ends_soon")),
    )


def _exact(q: str):
    """The cases q names exactly: each of the three looked up in its own index, as
    one list of ids (an OR across the three columns would read the whole table on
    PostgreSQL)."""
    return Case.id.in_(union(
        select(Case.id).where(Case.reference == q.upper()),
        select(Case.id).where(Case.case_number == q),
        select(CaseIdentifier.case_id).where(CaseIdentifier.identifier == q.lower())))


def _agencies_named(q: str):
    prefix = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return select(Agency.id).where(func.lower(Agency.name).like(prefix, escape="\\"))


def resolve_search(q: str) -> tuple[object, list[int] | None]:
    """What a search finds (DESIGN 11.5): a reference, an agency's case number or an
    account identifier, exactly (identifiers in lower case, as intake stores them);
    failing all three, the cases of agencies whose name starts with it. Returns the
    condition, and for a prefix the agencies it names."""
    exact = _exact(q)
    if db.session.scalar(select(Case.id).where(exact).limit(1)) is not None:
        return exact, None
    agencies = list(db.session.scalars(_agencies_named(q).order_by(Agency.id)))
    return Case.agency_id.in_(agencies), agencies


def query_for(filters: Filters, now: datetime, search=None):
    """The cases the filters choose, unordered; `search` stands for what the
    search `q` finds, when the caller has worked that out. Deadline ranges name
    both priorities, so each engine reads two ranges of the queue's index
    (priority comes before due_at there) instead of every open case."""
    query = select(Case)
    if filters.q is not None:
        query = query.where(search if search is not None else resolve_search(filters.q)[0])
    if filters.state is not None:
        query = query.where(Case.state == filters.state)
    elif filters.q is None:
        query = query.where(Case.is_open.is_(True))
    if filters.assignee_id is not None:
        query = query.where(Case.assignee_id == filters.assignee_id)
    elif filters.unassigned:
        query = query.where(Case.assignee_id.is_(None))
    if filters.due_soon or filters.overdue:
        # Deadlines matter only while a case is open.
        query = query.where(Case.is_open.is_(True), Case.priority.in_((0, 1)))
    if filters.due_soon:
        query = query.where(Case.due_at >= now, Case.due_at < now + DUE_SOON)
    if filters.overdue:
        query = query.where(Case.due_at < now)
    if filters.country:
        query = query.where(Case.agency_id.in_(select(Agency.id).where(Agency.country == filters.country)))
    if filters.process_type is not None:
        query = query.where(Case.process_type == filters.process_type)
    if filters.emergency is not None:
        # priority 0 is an emergency: the queue's indexes lead with it
        query = query.where(Case.emergency.is_(filters.emergency),
                            Case.priority == (0 if filters.emergency else 1))
    if filters.ndo is not None:
        query = query.where(Case.ndo_present.is_(filters.ndo))
    if filters.awaiting_approval_of is not None:
        query = query.where(Case.state == State.PENDING_APPROVAL,
                            (Case.proposed_by_id != filters.awaiting_approval_of)
                            | Case.proposed_by_id.is_(None))
    if filters.open_objection:
        query = query.where(Case.is_open.is_(True), Case.id.in_(
            select(Objection.case_id).where(Objection.acknowledged_at.is_(None))))
    if filters.hold_ends_soon:
        query = query.where(Case.state == State.PRESERVED,
                            Case.preserved_until <= now + timedelta(days=ending_soon_days()))
    return query


class QueueRow(NamedTuple):
    """What a row of the queue page shows, read as a plain row: a page of the queue
    needs no Case objects (loading fifty of them costs more than finding them)."""

    id: int
    reference: str
    state: State
    is_open: bool
    priority: int
    due_at: datetime
    received_at: datetime
    emergency: bool
    ndo_present: bool
    agency_id: int
    process_type: ProcessType
    assignee_id: int | None
    preserved_until: datetime | None


ROW_COLUMNS = tuple(getattr(Case, name) for name in QueueRow._fields)


def page(filters: Filters, now: datetime, after: Cursor | None = None, size: int = PAGE_SIZE,
         *, rows_only: bool = False) -> Page:
    """One page of the queue in the filters' sort: by default emergencies first, then
    by deadline; or newest received first; or by state or agency name, each then by
    deadline. Keyset pages: a page deep in the list starts where the last one ended.
    `rows_only`: the page holds QueueRows, not Case objects."""
    sort = filters.sort
    search = None
    if filters.q is not None:
        search, agencies = resolve_search(filters.q)
        if sort == "due" and agencies is not None and len(agencies) <= MERGED_AGENCIES_MAX:
            return _merged(filters, now, after, size, agencies, rows_only)
    query = query_for(filters, now, search)
    if rows_only:
        query = query.with_only_columns(*ROW_COLUMNS)
    if sort == "agency":
        query = query.join(Agency, Agency.id == Case.agency_id)
    columns = _sort_columns(sort)
    newest_first = sort == "received"
    if after is not None:
        # A plain row comparison: both engines turn it into a range on the index.
        mark = tuple_(*columns)
        query = query.where(mark < tuple_(*after.key) if newest_first else mark > tuple_(*after.key))
    order = [c.desc() for c in columns] if newest_first else list(columns)
    result = db.session.execute(query.order_by(*order).limit(size + 1))
    rows = list(map(QueueRow._make, result)) if rows_only else result.scalars().all()
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, Cursor(_key(rows[-1], sort), sort) if more else None)


MERGED_AGENCIES_MAX = 20


def _merged(filters: Filters, now: datetime, after: Cursor | None, size: int, agencies: list[int],
            rows_only: bool) -> Page:
    """The cases of a few agencies (a search by the start of a name), in deadline
    order: one index range per agency (ix_cases_agency_due), merged by the database
    in one statement, so a page reads at most size + 1 keys of each agency, and
    then the rows of the page's cases, instead of sorting all their cases."""
    if not agencies:
        return Page([], None)
    columns = _sort_columns("due")
    ranges = []
    for agency_id in agencies:
        query = query_for(filters, now, Case.agency_id == agency_id).with_only_columns(*columns)
        if after is not None:
            query = query.where(tuple_(*columns) > tuple_(*after.key))
        ranges.append(query.order_by(*columns).limit(size + 1).subquery().select())
    merged = union_all(*ranges).subquery()
    keys = select(merged).order_by(*merged.c).limit(size + 1).subquery()
    query = select(*ROW_COLUMNS) if rows_only else select(Case)
    result = db.session.execute(query.join(keys, keys.c.id == Case.id).order_by(*keys.c))
    rows = list(map(QueueRow._make, result)) if rows_only else result.scalars().all()
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, Cursor(_key(rows[-1], "due"), "due") if more else None)


def _key(case: Case, sort: str) -> tuple:
    if sort == "received":
        return (case.received_at, case.id)
    tail = (case.priority, case.due_at, case.id)
    if sort == "state":
        return (case.state, *tail)
    if sort == "agency":
        return (db.session.get(Agency, case.agency_id).name, *tail)
    return tail


def state_counts() -> dict[State, int]:
    counts = dict.fromkeys(State, 0)
    for state, n in db.session.execute(select(CaseStateCount.state, CaseStateCount.n)):
        counts[state] = n
    return counts


def ends_soon(case: Case, now: datetime) -> bool:
    """A held preservation within the policy's days of its end (DESIGN 11.2)."""
    if case.state is not State.PRESERVED or case.preserved_until is None:
        return False
    return case.preserved_until - now <= timedelta(days=ending_soon_days())


def deadline_status(case: Case, now: datetime) -> str | None:
    """"overdue", "due_soon" or None: computed, never stored (DESIGN section 4).
    A held preservation has no answer due; "hold_ends_soon" when its hold nears
    its end (it is then expired, or kept while a production demand follows it)."""
    if not case.is_open:
        return None
    if case.state is State.PRESERVED:
        return "hold_ends_soon" if ends_soon(case, now) else None
    if case.due_at < now:
        return "overdue"
    if case.due_at < now + DUE_SOON:
        return "due_soon"
    return None


def relative_deadline(due_at: datetime, now: datetime) -> str:
    """"due in 5 h", "overdue by 2 days": beside the absolute time, what a reader
    acts on."""
    span = abs(due_at - now)
    if span < timedelta(hours=1):
        amount = f"{max(1, int(span.total_seconds() // 60))} min"
    elif span < timedelta(hours=48):
        amount = f"{int(span.total_seconds() // 3600)} h"
    else:
        amount = f"{span.days} days"
    return f"overdue by {amount}" if due_at < now else f"due in {amount}"


def requests_for_officer(officer: User, limit: int) -> list:
    """An officer's agency's requests, newest first, as plain rows (reference,
    kind, state, dates): none until staff have verified that the officer works
    there, and never another agency's."""
    if identity.officer_status(officer) != "verified":
        return []
    return db.session.execute(
        select(Case.id, Case.reference, Case.kind, Case.state, Case.received_at, Case.due_at, Case.is_open)
        .where(Case.agency_id == officer.agency_id).order_by(Case.received_at.desc()).limit(limit)).all()
