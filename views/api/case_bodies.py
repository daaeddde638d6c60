"""The case as the API writes it (DESIGN section 9): the whole case for staff and
the narrower view an agency gets of its own request, each declared once as a
model that serialises it and describes it in the OpenAPI document. Enums come
from the domain, so a new state or category reaches the document by itself."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema
from sqlalchemy import select

from models import (
    Agency,
    CallbackOutcome,
    CaseDocument,
    CaseKind,
    Category,
    Channel,
    MessageSide,
    ProcessType,
    ProductionLink,
    RequestType,
    Role,
    State,
    User,
    db,
)
from models import Case as CaseRow
from models import Disclosure as DisclosureRow
from workflows import cases, disclosure, legal
from workflows.cases import CaseFile, Outcome, Trigger, available_triggers, facts_of, outcome_of
from workflows.legal import DefectCode, Severity
from workflows.text import iso_utc

# Every time in the API: ISO 8601 in UTC, ending in Z.
Time = Annotated[datetime, PlainSerializer(iso_utc, return_type=str), WithJsonSchema(
    {"type": "string", "format": "date-time", "description": "UTC, ending in Z"})]
Sha256 = Annotated[str, Field(pattern="^[0-9a-f]{64}$")]
LinkStatus = Literal["available", "collected", "expired", "replaced"]


class Person(BaseModel):
    id: int
    name: str
    email: str


def person(user: User | None) -> Person | None:
    return None if user is None else Person(id=user.id, name=user.name, email=user.email)


class Document(BaseModel):
    """The legal process as stored: its name, size and SHA-256."""

    id: int
    filename: str
    sha256: Sha256
    size: int
    uploaded_at: Time


def document_body(document: CaseDocument) -> Document:
    return Document(id=document.id, filename=document.filename, sha256=document.sha256, size=document.size,
                    uploaded_at=document.uploaded_at)


class Link(BaseModel):
    """A collection link as staff see it (never its token)."""

    id: int
    status: LinkStatus
    issued_at: Time
    issued_by: str
    note: str | None
    expires_at: Time
    collected_at: Time | None


def link_body(link: ProductionLink, now: datetime) -> Link:
    return Link(id=link.id, status=disclosure.link_status(link, now), issued_at=link.issued_at,
                issued_by=link.issued_by, note=link.note, expires_at=link.expires_at,
                collected_at=link.used_at)


class Production(BaseModel):
    """The production package: its hash, size and manifest (record counts and each
    file's SHA-256), never a record."""

    sha256: Sha256
    size: int
    packaged_at: Time
    manifest: dict[str, Any]
    downloads: int
    links: list[Link]


class Disclosure(BaseModel):
    categories: list[Category]
    identifiers: list[str]
    approved_by: Person | None
    approved_at: Time
    emergency_justification: str | None
    production: Production | None


def _disclosure(d: DisclosureRow | None, now: datetime) -> Disclosure | None:
    if d is None:
        return None
    production = None
    if d.package_name is not None:
        production = Production(sha256=d.package_sha256, size=d.package_size, packaged_at=d.packaged_at,
                                manifest=d.manifest,
                                downloads=sum(1 for k in d.links if k.used_at is not None),
                                links=[link_body(k, now) for k in d.links])
    return Disclosure(categories=d.categories, identifiers=d.identifiers,
                          approved_by=person(db.session.get(User, d.approved_by_id)),
                          approved_at=d.approved_at,
                          emergency_justification=d.emergency_justification, production=production)


class Defect(BaseModel):
    code: DefectCode
    severity: Severity
    message: str
    category: Category | None
    source: str = Field(description="the law or rule the defect comes from")


class LegalCheck(BaseModel):
    sufficient: bool = Field(description="no blocking defect")
    authorised_categories: list[Category]
    defects: list[Defect]


class LegalProcessBody(BaseModel):
    type: ProcessType
    issuing_authority: str
    judicial: bool
    issued_on: date | None
    expires_on: date | None
    signed: bool
    case_number: str
    response_due: date | None
    enforcing_state: str | None = Field(description="a European Production Order: the State whose authority "
                                                    "was notified of it (Reg. 2023/1543 Art. 8)")
    enforcing_authority_notified: bool


class Enforcing(BaseModel):
    """A European Production Order for traffic or content data whose enforcing
    authority was notified: approval waits for its answer or for the window's end."""

    state: str
    window_ends: Time | None = Field(description="nothing of that data is sent before this, unless cleared; "
                                                 "null for an emergency order or once cleared")
    cleared_at: Time | None = Field(description="when the authority said it raises no ground for refusal")


class Verification(BaseModel):
    """A call-back that confirmed an emergency request, or did not."""

    method: Literal["callback"]
    phone_called: str = Field(description="the agency's directory number, as dialled")
    spoke_with: str
    outcome: CallbackOutcome
    note: str | None
    recorded_by: str
    at: Time


class Message(BaseModel):
    """One message on the request between the provider's staff and the agency."""

    id: int
    side: MessageSide = Field(description="who wrote it: provider (staff) or agency")
    author: str
    text: str
    at: Time


def messages_of(case: CaseRow, provider_author: str | None = None) -> list[Message]:
    """The thread, oldest first. `provider_author`: what the agency sees in place of
    the member of staff who wrote (the agency never learns which reviewer)."""
    def author(m) -> str:
        return provider_author if provider_author and m.side is MessageSide.PROVIDER else m.author

    return [Message(id=m.id, side=m.side, author=author(m), text=m.text, at=m.at) for m in case.messages]


class Note(BaseModel):
    """A member of staff's internal note: never shown to the agency or the customer."""

    id: int
    author: str
    text: str
    at: Time


class DateRangeBody(BaseModel):
    start: date | None = Field(serialization_alias="from")
    end: date | None = Field(serialization_alias="to")


class NdoBody(BaseModel):
    present: bool
    statute: str
    ends_on: date | None


class AgencySummary(BaseModel):
    id: int
    name: str
    country: str
    verified: bool


def agency_summary(agency: Agency) -> AgencySummary:
    return AgencySummary(id=agency.id, name=agency.name, country=agency.country, verified=agency.verified)


class Proposal(BaseModel):
    categories: list[Category]
    proposed_by: Person | None


class Transition(BaseModel):
    seq: int = Field(description="the case version this change produced")
    trigger: Trigger
    from_state: State = Field(serialization_alias="from")
    to_state: State = Field(serialization_alias="to")
    actor: str
    at: Time
    note: str | None
    data: dict[str, Any] | None


OUTCOME_NOTE = "what the demand came to; null for a preservation request, which discloses nothing (see state)"
PRESERVED_UNTIL = "a preservation request: when its hold ends (null until preserved)"
EXTENSIONS = "a preservation request: how many times its hold was extended"
PRESERVATION_ID = "a production demand: the preservation request it follows, whose held records it produces"


class Holds(BaseModel):
    """What a preservation holds: counts by category, never records."""

    records: int
    by_category: dict[str, int]
    deleted_by_customer: int = Field(description="held records the customer has deleted since; kept only "
                                                 "for the hold")


class Case(BaseModel):
    """Everything about a case a member of staff may see, with the legal check and
    the deadline as they stand now and the triggers this reader may fire."""

    id: int
    reference: str = Field(pattern="^LE-[0-9]{4}-[0-9]{6}$")
    kind: CaseKind
    state: State
    outcome: Outcome | None = Field(description=OUTCOME_NOTE)
    preserved_until: Time | None = Field(description=PRESERVED_UNTIL)
    extensions: int = Field(description=EXTENSIONS)
    preservation_id: int | None = Field(description=PRESERVATION_ID)
    holds: Holds | None = Field(description="a preservation request: what it holds now")
    followed_by: list[str] = Field(description="a preservation request: the production demands that "
                                               "name it")
    version: int = Field(description="send it back as `version` to detect changes")
    agency: AgencySummary
    received_at: Time
    channel: Channel
    request_type: RequestType
    legal_process: LegalProcessBody
    identifiers: list[str]
    categories: list[Category]
    date_range: DateRangeBody
    ndo: NdoBody
    emergency: bool
    emergency_justification: str | None
    enforcing: Enforcing | None = Field(description="null unless an enforcing authority's answer matters")
    verifications: list[Verification] = Field(description=(
        "an emergency request: the call-back to the agency's directory number (at most one); nothing is "
        "proposed or approved before one confirms it"))
    messages: list[Message] = Field(description="the thread with the agency, oldest first")
    notes: list[Note] = Field(description="staff's internal notes, oldest first; never shown to the agency "
                                          "or the customer")
    legal_check: LegalCheck
    available_triggers: list[Trigger] = Field(description="what the caller may fire now")
    due_at: Time
    due_status: Literal["overdue", "due_soon", "hold_ends_soon"] | None
    objection_deadline: Time | None = Field(description=(
        "until when the customers told of the current proposal may object; approve is refused with "
        "objection_window before then (not for an emergency, nor once every customer told has answered)"))
    assignee: Person | None
    proposal: Proposal | None
    disclosure: Disclosure | None
    document: Document | None
    transitions: list[Transition]


def outcome(case: CaseRow) -> Outcome | None:
    if case.kind is CaseKind.PRESERVATION:
        return None
    return outcome_of(case.state, case.disclosure.categories if case.disclosure else ())


def preservation_fields(case: CaseRow) -> dict:
    return {"kind": case.kind, "preserved_until": case.preserved_until, "extensions": case.extensions,
            "preservation_id": case.preservation_id}


def _followed_by(case: CaseRow) -> list[str]:
    if case.kind is not CaseKind.PRESERVATION:
        return []
    return list(db.session.scalars(select(CaseRow.reference).where(CaseRow.preservation_id == case.id)
                                   .order_by(CaseRow.id)))


def _legal_process(case: CaseRow) -> LegalProcessBody:
    return LegalProcessBody(
        type=case.process_type, issuing_authority=case.issuing_authority, judicial=case.judicial,
        issued_on=case.issued_on, expires_on=case.expires_on, signed=case.signed,
        case_number=case.case_number,
        response_due=case.response_due, enforcing_state=case.enforcing_state,
        enforcing_authority_notified=case.enforcing_notified)


def _verifications(case: CaseRow) -> list[Verification]:
    v = case.verification
    if v is None:
        return []
    return [Verification(method=v.method, phone_called=v.phone_called, spoke_with=v.spoke_with,
                         outcome=v.outcome, note=v.note, recorded_by=v.actor, at=v.at)]


def _enforcing(case: CaseRow) -> Enforcing | None:
    if not cases.enforcing_applies(case):
        return None
    return Enforcing(state=case.enforcing_state, window_ends=cases.enforcing_window_ends(case),
                     cleared_at=case.enforcing_cleared_at)


def staff_case(case: CaseRow, check: legal.LegalCheck, deadline: str | None, triggers: list[Trigger],
               now: datetime) -> Case:
    proposal = None
    if case.proposed_categories is not None:
        proposal = Proposal(categories=case.proposed_categories, proposed_by=person(case.proposed_by))
    agency = case.agency
    preserving = case.kind is CaseKind.PRESERVATION
    return Case(
        id=case.id, reference=case.reference, state=case.state, outcome=outcome(case), version=case.version,
        **preservation_fields(case), followed_by=_followed_by(case),
        holds=Holds(**disclosure.held_counts(case.id)) if preserving else None,
        agency=agency_summary(agency),
        received_at=case.received_at, channel=case.channel, request_type=case.request_type,
        legal_process=_legal_process(case), identifiers=case.identifiers, categories=case.categories,
        date_range=DateRangeBody(start=case.date_from, end=case.date_to),
        ndo=NdoBody(present=case.ndo_present, statute=case.ndo_statute, ends_on=case.ndo_ends_on),
        emergency=case.emergency, emergency_justification=case.emergency_justification,
        enforcing=_enforcing(case), verifications=_verifications(case), messages=messages_of(case),
        notes=[Note(id=n.id, author=n.author, text=n.text, at=n.at) for n in case.notes],
        legal_check=LegalCheck.model_validate(check.as_json()),
        available_triggers=triggers,
        due_at=case.due_at, due_status=deadline, objection_deadline=case.objection_deadline,
        assignee=person(case.assignee), proposal=proposal,
        disclosure=_disclosure(case.disclosure, now),
        document=document_body(case.document) if case.document else None,
        transitions=[Transition(seq=t.seq, trigger=t.trigger, from_state=t.from_state,
                                    to_state=t.to_state, actor=t.actor, at=t.at, note=t.note, data=t.data)
                     for t in case.transitions],
    )


def case_file_body(case_file: CaseFile) -> Case:
    """The case as casefile.view() read it (an audited reading)."""
    return staff_case(case_file.case, case_file.check, case_file.deadline, case_file.triggers, case_file.now)


def case_now(case: CaseRow, role: Role, user_id: int, now: datetime) -> Case:
    """The case as a write left it, for the caller who made the write."""
    return staff_case(case, legal.check(facts_of(case), now), cases.deadline_status(case, now),
                      available_triggers(case, role, user_id), now)

