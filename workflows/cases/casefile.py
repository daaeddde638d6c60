"""The case file: what the staff pages show of a case, and how a demand typed in
at the intake desk is logged together with its document.

A case page shows the case, the legal check as it stands now, its history and the
actions the reader may take; reading it is an audit event (DESIGN section 7).
Logging a demand checks the form and the file first, so a refused document
leaves no case behind, and a refused case leaves no file."""

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from models import (
    Agency,
    AuditAction,
    Case,
    CaseKind,
    Category,
    Channel,
    RejectReason,
    RequestType,
    Role,
    State,
    User,
    db,
)
from workflows import audit, disclosure, legal, notices
from workflows.audit import Actor
from workflows.cases import demand, intake, preconditions, queue
from workflows.cases import machine as case_machine
from workflows.cases.assignment import ASSIGNEE_ROLES
from workflows.cases.states import Trigger
from workflows.errors import Conflict, InvalidInput, NotFound, TooLarge
from workflows.identity import ID_MAX
from workflows.text import whole_number

REJECT_REASON_LABELS = {
    RejectReason.INSUFFICIENT_PROCESS: "Insufficient legal process",
    RejectReason.OVERBROAD: "Overbroad: asks for more than the process allows",
    RejectReason.WRONG_JURISDICTION: "Wrong jurisdiction",
    RejectReason.AGENCY_UNVERIFIED: "The agency could not be verified",
    RejectReason.QUASHED: "Quashed after a challenge",
    RejectReason.OTHER: "Other (explain in the note)",
    RejectReason.REFUSED_BY_ENFORCING_AUTHORITY: "Refused by the enforcing authority",
    RejectReason.VERIFICATION_FAILED: "Verification failed: the call-back did not confirm it",
}
CHANNEL_LABELS = {
    Channel.API: "Agency API", Channel.PORTAL: "Agency portal", Channel.EMAIL: "E-mail", Channel.POST: "Post",
    Channel.FAX: "Fax", Channel.IN_PERSON: "In person",
}
REQUEST_TYPE_LABELS = {
    RequestType.CRIMINAL: "Criminal", RequestType.CIVIL: "Civil", RequestType.EMERGENCY: "Emergency",
    RequestType.NATIONAL_SECURITY: "National security",
}


@dataclass(frozen=True)
class Entry:
    """One line of a case's history, in words."""

    at: datetime
    actor: str
    title: str
    state: State | None = None  # the state a transition led to
    note: str | None = None
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Linked:
    """Another case this one names or is named by, as the page links it."""

    id: int
    reference: str
    state: State


@dataclass(frozen=True)
class Preservation:
    """What the page says of a preservation request: its hold and what follows it."""

    until: datetime | None
    days_left: int | None  # whole days to the end (0 on its last day); None until preserved
    ends_soon: bool
    extensions: int
    extensions_allowed: int
    extension_days: int
    holds: dict  # disclosure.held_counts(): counts by category, never records
    followed_by: list[Linked]


@dataclass
class CaseFile:
    """Everything the case page shows, loaded once."""

    case: Case
    check: legal.LegalCheck
    rule: legal.ProcessRule
    deadline: str | None  # "overdue", "due_soon" or None
    triggers: list[Trigger]
    timeline: list[Entry]
    now: datetime
    notices: list = field(default_factory=list)  # the customer notices this case caused
    people: dict[int, str] = field(default_factory=dict)  # user id -> e-mail
    preservation: Preservation | None = None  # a preservation request's hold
    follows: Linked | None = None  # the preservation a production demand follows

    @property
    def enforcing_applies(self) -> bool:
        """Whether the enforcing authority's answer matters to this order."""
        return preconditions.enforcing_applies(self.case)

    @property
    def enforcing_window_ends(self) -> datetime | None:
        return preconditions.enforcing_window_ends(self.case)

    def person(self, user_id: int | None) -> str:
        if not user_id:
            return "nobody"
        return self.people.get(user_id) or "someone no longer on file"


@dataclass(frozen=True)
class QueueChoices:
    """What the queue's filters offer, and the names its rows show: plain values
    read in two small queries, so a page of 50 cases loads no agency or user
    objects one by one."""

    agencies: dict[int, tuple[str, str]]  # id -> (name, country)
    assignees: dict[int, str]  # id -> e-mail, in e-mail order

    @property
    def countries(self) -> list[str]:
        return sorted({country for _, country in self.agencies.values()})


def queue_choices() -> QueueChoices:
    agencies = {row.id: (row.name, row.country)
                for row in db.session.execute(select(Agency.id, Agency.name, Agency.country))}
    assignees = {row.id: row.email for row in db.session.execute(
        select(User.id, User.email).where(User.role.in_(ASSIGNEE_ROLES)).order_by(User.email))}
    return QueueChoices(agencies, assignees)


def agencies() -> list[Agency]:
    """The agencies an intake clerk chooses from, by name."""
    return list(db.session.scalars(select(Agency).order_by(Agency.name)))


# ---- the case page -------------------------------------------------------------

def _load(case_id: int) -> Case:
    case = db.session.execute(
        select(Case).where(Case.id == case_id).options(
            joinedload(Case.agency), selectinload(Case.transitions), selectinload(Case.documents),
            selectinload(Case.disclosure), selectinload(Case.verification),
        ).execution_options(populate_existing=True)
    ).unique().scalar_one_or_none()
    if case is None:
        raise NotFound("There is no case with that number.")
    return case


def view(case_id: int, role: Role, user_id: int, actor: Actor, now: datetime) -> CaseFile:
    """The case as its page shows it to this user now. Records the view (committed)
    before the case is read, so the page always stands for a logged reading."""
    reference = db.session.scalar(select(Case.reference).where(Case.id == case_id))
    if reference is None:
        raise NotFound("There is no case with that number.")
    audit.record(AuditAction.CASE_VIEWED, actor, subject=("case", case_id), now=now,
                 data={"reference": reference})
    db.session.commit()
    case = _load(case_id)
    people = _people(case)
    return CaseFile(
        case=case, check=legal.check(intake.facts_of(case), now), rule=legal.process_rule(case.process_type),
        deadline=queue.deadline_status(case, now),
        triggers=case_machine.available_triggers(case, role, user_id),
        timeline=timeline(case, people), now=now, people=people, notices=notices.of_case(case.id),
        preservation=preservation_of(case, now) if case.kind is CaseKind.PRESERVATION else None,
        follows=_linked(case.preservation_id),
    )


def _linked(case_id: int | None) -> Linked | None:
    if case_id is None:
        return None
    row = db.session.execute(select(Case.id, Case.reference, Case.state).where(Case.id == case_id)).one()
    return Linked(row.id, row.reference, row.state)


def preservation_of(case: Case, now: datetime) -> Preservation:
    rule = legal.process_rule(case.process_type)
    rows = db.session.execute(select(Case.id, Case.reference, Case.state)
                              .where(Case.preservation_id == case.id).order_by(Case.id))
    days_left = None
    if case.preserved_until is not None and case.state is State.PRESERVED:
        days_left = max((case.preserved_until - now).days, 0)
    return Preservation(
        until=case.preserved_until, days_left=days_left, ends_soon=queue.ends_soon(case, now),
        extensions=case.extensions, extensions_allowed=rule.extensions_allowed,
        extension_days=rule.extension_days, holds=disclosure.held_counts(case.id),
        followed_by=[Linked(r.id, r.reference, r.state) for r in rows])


def _people(case: Case) -> dict[int, str]:
    """The e-mail of everyone the page names (plain values: no user objects, so no
    sealed secrets are opened to draw a page)."""
    ids = {case.created_by_id, case.assignee_id, case.proposed_by_id}
    ids |= {t.actor_id for t in case.transitions}
    ids |= {t.data.get("assignee_id") for t in case.transitions if isinstance(t.data, dict)}
    if case.disclosure is not None:
        ids |= {case.disclosure.approved_by_id, case.disclosure.proposed_by_id}
    ids = {i for i in ids if isinstance(i, int)}
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    return {row.id: row.email for row in rows}


def categories_text(values) -> str:
    """Category values in words, in the usual order (labels hold commas: ";" separates)."""
    chosen = {str(v) for v in values or []}
    return "; ".join(c.label for c in Category if c.value in chosen) or "none"


def _details(data: dict, people: dict[int, str]) -> tuple[str, ...]:
    """A transition's recorded data in words."""
    lines = []
    for key, value in (data or {}).items():
        if key == "assignee_id":
            lines.append(f"Assigned to {people.get(value) or 'user ' + str(value)}")
        elif key == "categories" and isinstance(value, dict):
            lines.append(f"Categories narrowed from {categories_text(value.get('before'))} "
                         f"to {categories_text(value.get('after'))}")
        elif key == "identifiers" and isinstance(value, dict) and not value.get("before"):
            lines.append("Accounts named: " + ", ".join(value.get("after") or []))
        elif key == "categories":
            lines.append(f"Categories: {categories_text(value)}")
        elif key == "identifiers" and isinstance(value, dict):
            lines.append("Identifiers changed from " + ", ".join(value.get("before") or [])
                         + " to " + ", ".join(value.get("after") or []))
        elif key == "reason":
            try:
                lines.append(f"Reason: {REJECT_REASON_LABELS[RejectReason(value)]}")
            except ValueError:
                lines.append(f"Reason: {value}")
        elif key == "account_ids":
            lines.append(f"Accounts matched: {len(value or [])}")
        elif key == "held" and isinstance(value, dict):
            lines.append("Records held: " + ", ".join(f"{n} {c.replace('_', '-')}" for c, n in value.items()))
        elif key == "preserved_until" and isinstance(value, dict):
            lines.append(f"Held until {_moment(value.get('after'))}, was {_moment(value.get('before'))}")
        elif key == "preserved_until":
            lines.append(f"Held until {_moment(value)}")
        elif key == "hold" and isinstance(value, dict):
            purged = value.get("purged") or 0
            lines.append(f"Hold ended on {value.get('released', 0)} records"
                         + (f"; {purged} the customer had deleted are now gone" if purged else ""))
        else:
            lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    return tuple(lines)


def _moment(iso: str | None) -> str:
    """An ISO time from a transition's data, as the page writes times."""
    if not iso:
        return "not set"
    return iso[:16].replace("T", " ") + " UTC"


def timeline(case: Case, people: dict[int, str] | None = None) -> list[Entry]:
    """Who did what and when: the logging, each transition, each document upload."""
    people = people if people is not None else _people(case)
    logged_by = people.get(case.created_by_id) or f"via {CHANNEL_LABELS[case.channel]}"
    entries = [Entry(case.created_at, logged_by, "Logged", State.RECEIVED,
                     details=(f"Received {case.received_at:%Y-%m-%d %H:%M} UTC",))]
    for t in case.transitions:
        try:
            title = Trigger(t.trigger).label
        except ValueError:
            title = t.trigger
        entries.append(Entry(t.at, t.actor, title, t.to_state, t.note, _details(t.data, people)))
    for d in case.documents:
        entries.append(Entry(d.uploaded_at, d.uploaded_by, "Document uploaded",
                             details=(f"{d.filename} ({size_label(d.size)}), SHA-256 {d.sha256}",)))
    v = case.verification
    if v is not None:
        title = "Call-back confirmed the request" if v.outcome.value == "confirmed" else "Call-back failed"
        entries.append(Entry(v.at, v.actor, title, note=v.note,
                             details=(f"Called {v.phone_called}, spoke with {v.spoke_with}",)))
    return sorted(entries, key=lambda e: e.at)


def size_label(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


# ---- from an action form to a move ------------------------------------------------

def _lines(text: str | None) -> list[str]:
    return [line.strip().lower() for line in (text or "").splitlines() if line.strip()]


def move_for(case_id: int, trigger: str, version: str | None, note: str | None, reason: str | None,
             categories: list[str], identifiers: str | None) -> case_machine.Move:
    """The move an action form asks for. Each trigger takes only what its form
    carries: categories for a proposal or an approval, a reason for a rejection,
    and, after a lost challenge or for an amendment, only the categories or
    identifiers actually changed."""
    if whole_number(version, ID_MAX) is None:
        raise Conflict("This form is out of date; reload the case and try again.", code="stale_version")
    chosen: list[str] | None = None
    narrowed: list[str] | None = None
    if trigger in (Trigger.PROPOSE_DISCLOSURE, Trigger.APPROVE, Trigger.PRESERVE):
        chosen = list(categories)
    elif trigger in (Trigger.CHALLENGE_LOST, Trigger.AMEND):
        case = db.session.get(Case, case_id)
        if case is None:
            raise NotFound("There is no case with that number.")
        if set(categories) != set(case.categories):
            chosen = list(categories)
        if identifiers is not None and _lines(identifiers) != list(case.identifiers):
            narrowed = _lines(identifiers)
    return case_machine.Move(
        trigger=trigger, version=int(version), note=note,
        reason=reason if trigger == Trigger.REJECT else None, categories=chosen, identifiers=narrowed,
    )


# ---- logging a demand at the intake desk ------------------------------------------

def log_demand(body: dict | demand.CaseRequest, stream: BinaryIO | None, filename: str | None, actor: Actor,
               now: datetime, folder: Path, created_by_id: int | None, warn_duplicates: bool = False) -> Case:
    """Check the demand (a body as sent, or as its schema read it) and its document
    together, then store both in one transaction (committed). InvalidInput.fields
    names every problem, the document's under "file". With `warn_duplicates`, a
    demand that looks like an open one (intake.duplicates_of) is refused with
    PossibleDuplicate, and nothing is kept; without, it is logged and the audit
    event names the cases it looked like."""
    errors: dict[str, str] = {}
    draft = agency = upload = None
    try:
        if isinstance(body, demand.CaseRequest):
            draft = demand.draft_of(body, now)
        else:
            draft = demand.parse_case(body, now)
    except InvalidInput as exc:
        errors.update(exc.fields or {"body": exc.message})
    if draft is not None:
        agency = db.session.get(Agency, draft.agency_id)
        if agency is None:
            errors["agency_id"] = "Choose the agency that sent the demand."
    refusal = InvalidInput
    if stream is not None:
        try:
            upload = disclosure.check_upload(stream, filename, folder)
        except (InvalidInput, TooLarge) as exc:
            errors["file"] = exc.message
            refusal = type(exc)  # an oversize file is a 413, whatever else is wrong
    if errors:
        if upload is not None:
            upload.discard()
        raise refusal("The demand was not logged: " + " ".join(errors.values()),
                      reasons=list(errors), fields=errors)
    try:
        found = intake.duplicates_of(agency.id, draft.case_number, upload.sha256 if upload else None)
        if found and warn_duplicates:
            raise intake.PossibleDuplicate(found)
        case = intake.create_case(draft, agency, actor, now, created_by_id=created_by_id, duplicate_of=found)
        if upload is not None:
            disclosure.attach_document(case, upload, actor, now, folder)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        if upload is not None:
            upload.discard()
        raise
    return case
