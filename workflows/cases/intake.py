"""Logging a demand: numbering it and storing the case (demand.parse_case checked
it first), and keeping the counts that follow each case's state."""

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from models import (
    Account,
    Agency,
    AuditAction,
    Case,
    CaseDocument,
    CaseKind,
    CaseReferenceCounter,
    CaseStateCount,
    Category,
    Customer,
    CustomerKind,
    State,
    db,
)
from models.case import REFERENCE_PREFIX
from workflows import audit, legal
from workflows.audit import Actor
from workflows.cases.demand import NOT_LOGGED, Draft
from workflows.errors import Conflict, InvalidInput


def _upsert(table):
    """An INSERT that can take ON CONFLICT DO UPDATE, in the session's dialect."""
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(table)


def next_reference(year: int) -> str:
    """LE-YYYY-NNNNNN, numbered per year. The counter row is incremented in place
    (an upsert), so two cases created at the same moment never share a number."""
    table = CaseReferenceCounter.__table__
    stmt = _upsert(table).values(year=year, last=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.year], set_={"last": table.c.last + 1}
    ).returning(table.c.last)
    number = db.session.execute(stmt).scalar_one()
    return f"{REFERENCE_PREFIX}-{year:04d}-{number:06d}"


def count_state(*changes: tuple[State, int]) -> None:
    """Keep case_state_counts in step with cases entering (+1) or leaving (-1)
    states, the rows taken in state order (so two transactions never wait on each
    other's rows in opposite orders). A state entered and left at once is left alone."""
    net: dict[State, int] = {}
    for state, delta in changes:
        net[state] = net.get(state, 0) + delta
    statement = _count_statement(db.session.get_bind().dialect.name)
    for state, delta in sorted(net.items()):
        if delta:
            db.session.execute(statement, {"state": state.value, "delta": delta})


@cache
def _count_statement(dialect: str):
    """The upsert count_state runs, built once per engine with its values as
    parameters (every transition runs it twice)."""
    table = CaseStateCount.__table__
    delta = bindparam("delta", type_=table.c.n.type)
    return _upsert(table).values(state=bindparam("state"), n=delta).on_conflict_do_update(
        index_elements=[table.c.state], set_={"n": table.c.n + delta})


def recount_states() -> None:
    """Rebuild case_state_counts from the cases (after a bulk load or a repair)."""
    table = CaseStateCount.__table__
    db.session.execute(table.delete())
    rows = db.session.execute(select(Case.state, func.count()).group_by(Case.state)).all()
    if rows:
        db.session.execute(table.insert(), [{"state": s, "n": n} for s, n in rows])


def facts_of(case: Case, agency: Agency | None = None) -> legal.Facts:
    agency = agency or case.agency
    return legal.Facts(
        process_type=case.process_type, request_type=case.request_type,
        agency_country=agency.country, agency_verified=agency.verified,
        received_at=case.received_at, issued_on=case.issued_on, expires_on=case.expires_on,
        response_due=case.response_due, signed=case.signed, judicial=case.judicial,
        has_document=bool(case.documents), identifiers=tuple(case.identifiers),
        categories=tuple(Category(c) for c in case.categories),
        date_from=case.date_from, date_to=case.date_to, ndo_present=case.ndo_present,
        ndo_ends_on=case.ndo_ends_on, emergency_justification=case.emergency_justification,
    )


_TOUCHES_ENTERPRISE = select(
    select(Account.id).join(Customer, Account.customer_id == Customer.id)
    .where(Account.identifier.in_(bindparam("identifiers", expanding=True)),
           Customer.kind == CustomerKind.ENTERPRISE).exists())


def touches_enterprise(identifiers: list[str]) -> bool:
    """Whether a demand names an account of an enterprise customer (the report's
    enterprise section counts these). One statement, built once: intake and every
    transition ask."""
    if not identifiers:
        return False
    return bool(db.session.scalar(_TOUCHES_ENTERPRISE, {"identifiers": identifiers}))


def matched_accounts(identifiers: list[str]) -> list[tuple[Account, CustomerKind]]:
    """The accounts a demand names, with their customers' kind, as they stand now."""
    if not identifiers:
        return []
    rows = db.session.execute(
        select(Account, Customer.kind).join(Customer, Account.customer_id == Customer.id)
        .where(Account.identifier.in_(identifiers)).order_by(Account.id)
    ).all()
    return [(account, kind) for account, kind in rows]


def _check_followed(preservation_id: int, agency: Agency) -> None:
    """A production demand may name a preservation request of the same agency only
    (another agency's is answered as if it did not exist)."""
    followed = db.session.get(Case, preservation_id)
    problem = None
    if followed is None or followed.agency_id != agency.id:
        problem = f"preservation_id {preservation_id} is not a preservation request of this agency."
    elif followed.kind is not CaseKind.PRESERVATION:
        problem = f"preservation_id {preservation_id} ({followed.reference}) is a production demand, not a " \
                  "preservation request."
    if problem:
        raise InvalidInput(NOT_LOGGED + problem, reasons=["preservation_id"],
                           fields={"preservation_id": problem})


@dataclass(frozen=True)
class Duplicate:
    """An open case that looks like the same demand, and why."""

    id: int
    reference: str
    why: str


class PossibleDuplicate(Conflict):
    """A demand that looks like one already open: intake is warned, and may log it anyway."""

    code = "possible_duplicate"

    def __init__(self, found: list[Duplicate]):
        names = ", ".join(f"{d.reference} ({d.why})" for d in found)
        super().__init__(f"This looks like a demand already open: {names}. If it is a different one, "
                         "log it anyway.", reasons=["duplicate"])
        self.found = found


def duplicates_of(agency_id: int, case_number: str | None, sha256: str | None) -> list[Duplicate]:
    """Open cases from the same agency under the same case number, or with the same
    document (by its SHA-256), oldest first."""
    found: dict[int, Duplicate] = {}
    if case_number:
        for row in db.session.execute(select(Case.id, Case.reference).where(
                Case.agency_id == agency_id, Case.case_number == case_number, Case.is_open.is_(True))):
            found[row.id] = Duplicate(row.id, row.reference, "the same agency and case number")
    if sha256:
        for row in db.session.execute(select(Case.id, Case.reference).join(
                CaseDocument, CaseDocument.case_id == Case.id).where(
                CaseDocument.sha256 == sha256, Case.is_open.is_(True))):
            found.setdefault(row.id, Duplicate(row.id, row.reference, "the same document"))
    return [found[key] for key in sorted(found)]


def create_case(draft: Draft, agency: Agency, actor: Actor, now: datetime,
                created_by_id: int | None = None, duplicate_of: list[Duplicate] | None = None) -> Case:
    """Store a checked demand as a new case in `received`, with its reference and
    deadline, in the caller's transaction (commit follows). `duplicate_of`: open
    cases it looked like when intake logged it anyway (the audit event names them)."""
    if draft.preservation_id is not None:
        _check_followed(draft.preservation_id, agency)
    case = Case(
        reference=next_reference(now.year), agency_id=agency.id, received_at=draft.received_at,
        kind=draft.kind, preservation_id=draft.preservation_id,
        channel=draft.channel, request_type=draft.request_type, process_type=draft.process_type,
        issuing_authority=draft.issuing_authority, judicial=draft.judicial, issued_on=draft.issued_on,
        expires_on=draft.expires_on, signed=draft.signed, case_number=draft.case_number,
        response_due=draft.response_due, identifiers=draft.identifiers,
        categories=[c.value for c in draft.categories], date_from=draft.date_from, date_to=draft.date_to,
        ndo_present=draft.ndo_present, ndo_statute=draft.ndo_statute, ndo_ends_on=draft.ndo_ends_on,
        emergency_justification=draft.emergency_justification, emergency=draft.emergency,
        enforcing_state=draft.enforcing_state, enforcing_notified=draft.enforcing_notified,
        priority=0 if draft.emergency else 1, created_by_id=created_by_id, created_at=now,
        due_at=now,  # replaced below, once the facts are complete
    )
    case.agency = agency
    case.due_at = legal.due_at(facts_of(case, agency))
    case.accounts_specified = len(case.identifiers)
    case.named_no_account = not case.identifiers
    case.content_requested = Category.CONTENT.value in case.categories
    case.enterprise = touches_enterprise(case.identifiers)
    db.session.add(case)
    count_state((State.RECEIVED, +1))
    db.session.flush()
    audit.record(AuditAction.CASE_RECEIVED, actor, subject=("case", case.id), now=now, data={
        "reference": case.reference, "agency_id": agency.id, "process_type": case.process_type.value,
        "channel": case.channel.value,
        **({"logged_despite": [d.reference for d in duplicate_of]} if duplicate_of else {}),
    })
    return case
