"""A page of cases as GET /api/v1/cases writes it: for each, enough to choose it and
open it, with the agency and the assignee each read once for the whole page."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select

from models import Agency, CaseKind, ProcessType, State, User, db
from models import Case as CaseRow
from views.api.case_bodies import AgencySummary, Person, Time, agency_summary, person
from workflows import cases


class CaseSummary(BaseModel):
    """A case as a list shows it: enough to choose one and open it."""

    id: int
    reference: str = Field(pattern="^LE-[0-9]{4}-[0-9]{6}$")
    kind: CaseKind
    state: State
    agency: AgencySummary
    process_type: ProcessType
    received_at: Time
    due_at: Time
    due_status: Literal["overdue", "due_soon", "hold_ends_soon"] | None
    emergency: bool
    ndo: bool = Field(description="a non-disclosure order holds the customer's notice")
    assignee: Person | None


class CaseList(BaseModel):
    items: list[CaseSummary] = Field(description="in the order `sort` asks for (by default emergencies "
                                                 "first, then by deadline)")
    next: str | None = Field(description="send it back as `after` for the next page; null on the last page")


def case_list(page: cases.Page, now: datetime) -> CaseList:
    rows = page.cases
    agencies = {a.id: a for a in db.session.scalars(
        select(Agency).where(Agency.id.in_({c.agency_id for c in rows})))} if rows else {}
    assigned = {c.assignee_id for c in rows if c.assignee_id}
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(assigned)))} if assigned \
        else {}

    def summary(case: CaseRow) -> CaseSummary:
        return CaseSummary(
            id=case.id, reference=case.reference, kind=case.kind, state=case.state,
            agency=agency_summary(agencies[case.agency_id]), process_type=case.process_type,
            received_at=case.received_at, due_at=case.due_at, due_status=cases.deadline_status(case, now),
            emergency=case.emergency, ndo=case.ndo_present,
            assignee=person(people.get(case.assignee_id)) if case.assignee_id else None)

    return CaseList(items=[summary(c) for c in rows],
                    next=page.next_cursor.encode() if page.next_cursor else None)
