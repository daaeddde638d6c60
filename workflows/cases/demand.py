"""A demand as it is sent: the one declaration of its body, read by the intake
form, the staff API and the agency API alike (and written into the OpenAPI
document from here), so the three accept and refuse exactly the same things.

The schema says what a well-formed demand is. What depends on the moment or on
several fields at once (received in the future, a process that expires before it
was issued, an NSL on a criminal request) is checked after it, in parse_case();
both report every problem by field, and nothing is stored unless all is right."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, ClassVar

from pydantic import Field, StrictBool

from models import CaseKind, Category, Channel, ProcessType, RequestType
from workflows import legal
from workflows.errors import InvalidInput
from workflows.identity import ID_MAX
from workflows.schema import Body, Day, Moment, text, validate, whole

IDENTIFIER_MAX = 254
IDENTIFIERS_MAX = 1000  # one demand; more is a bulk request, to be split or refused
TEXT_MAX = 4000
EARLIEST_RECEIVED = datetime(2000, 1, 1, tzinfo=UTC)
NOT_LOGGED = "The demand was not logged: "

Identifier = text(IDENTIFIER_MAX, filled=True,
                  description="an e-mail address, username or account id; compared in lower case")
NAME_ONE = ("Name at least one account (an e-mail address, username or account id): a demand that "
            "names none is overbroad.")
CHOOSE_CATEGORY = "Choose at least one data category: " + ", ".join(c.value for c in Category) + "."


class LegalProcess(Body):
    """The legal process served with the demand."""

    WHAT: ClassVar[str] = "legal_process"
    type: ProcessType
    issuing_authority: text(200) | None = None
    judicial: StrictBool | None = Field(None, description="issued or validated by a judge or court")
    issued_on: Day | None = None
    expires_on: Day | None = None
    signed: StrictBool | None = None
    case_number: text(100) | None = None
    response_due: Day | None = Field(None, description="the date the process asks for an answer by")
    enforcing_state: Annotated[str, Field(pattern="^[A-Z]{2}$")] | None = Field(None, description=(
        "a European Production Order: the State (ISO 3166-1 code) whose authority the issuing authority "
        "notified (Reg. 2023/1543 Art. 8)"))
    enforcing_authority_notified: StrictBool | None = Field(None, description=(
        "a European Production Order: whether that authority was notified; for traffic or content data "
        "nothing is sent for 10 days unless it clears the order (Art. 10(2))"))


class DateRange(Body):
    start: Day | None = Field(None, alias="from")
    end: Day | None = Field(None, alias="to")


class NonDisclosureOrder(Body):
    present: StrictBool | None = None
    statute: text(200) | None = Field(None, description="for example 18 U.S.C. 2705(b)")
    ends_on: Day | None = None


class AgencyRequest(Body):
    """A demand as an agency submits it (the token names the agency, the channel
    is the API). Any other key (agency_id, state, ...) is refused, never applied."""

    WHAT: ClassVar[str] = "a case"
    LEAD: ClassVar[str] = NOT_LOGGED
    MESSAGES: ClassVar[dict[str, str]] = {
        "agency_id": "agency_id does not belong here: the request is your agency's.",
        "identifiers:missing": "identifiers is required: the accounts the demand names, or [] if it names "
                               "none.",
        "categories:missing": CHOOSE_CATEGORY, "categories:too_short": CHOOSE_CATEGORY,
    }
    received_at: Moment = Field(description="when the demand arrived; not in the future, not before 2000")
    kind: CaseKind | None = Field(None, description=(
        "production (a demand for data) or preservation (a request to keep it until a production demand "
        "follows); by default, what the legal process is"))
    preservation_id: whole(1, ID_MAX) | None = Field(None, description=(
        "the preservation request (one of yours) this production demand follows; its held records are "
        "produced with the live ones"))
    request_type: RequestType
    legal_process: LegalProcess
    identifiers: Annotated[list[Identifier], Field(max_length=IDENTIFIERS_MAX, description=(
        "the accounts the demand names; none for a demand that names no account (a geofence, keyword or "
        "tower-dump demand), which is logged with the blocking defect no_identifiers"))]
    categories: Annotated[list[Category], Field(min_length=1)]
    date_range: DateRange | None = None
    ndo: NonDisclosureOrder | None = None
    emergency_justification: text(TEXT_MAX, multiline=True) | None = None


class CaseRequest(AgencyRequest):
    """A demand as the intake desk logs it."""

    MESSAGES: ClassVar[dict[str, str]] = {
        **{k: v for k, v in AgencyRequest.MESSAGES.items() if k != "agency_id"},
        "agency_id": "Choose the agency that sent the demand.",
    }
    agency_id: whole(1, ID_MAX)
    channel: Channel | None = Field(None, description="how it arrived; email unless said")


@dataclass
class Draft:
    """A demand that passed every check, ready to be stored."""

    agency_id: int | None
    received_at: datetime
    kind: CaseKind
    preservation_id: int | None
    channel: Channel
    request_type: RequestType
    process_type: ProcessType
    issuing_authority: str
    judicial: bool
    issued_on: date | None
    expires_on: date | None
    signed: bool
    case_number: str
    response_due: date | None
    identifiers: list[str]
    categories: list[Category]
    date_from: date | None
    date_to: date | None
    ndo_present: bool
    ndo_statute: str
    ndo_ends_on: date | None
    emergency_justification: str | None
    enforcing_state: str | None = None
    enforcing_notified: bool = False

    @property
    def emergency(self) -> bool:
        return self.request_type is RequestType.EMERGENCY or self.process_type is ProcessType.EMERGENCY


def distinct_identifiers(raw: list[str]) -> list[str]:
    """The identifiers in lower case, each once, in the order given."""
    return list(dict.fromkeys(item.lower() for item in raw))


def parse_case(body, now: datetime, *, agency_id_allowed: bool = True,
               default_channel: Channel = Channel.EMAIL) -> Draft:
    """Check a case body (the DESIGN section 9 shape) against its schema, then
    against the moment and itself. Raises InvalidInput whose `fields` maps each
    bad field to what is wrong with it."""
    demand = validate(CaseRequest if agency_id_allowed else AgencyRequest, body)
    return draft_of(demand, now, default_channel)


def draft_of(demand: AgencyRequest, now: datetime, default_channel: Channel = Channel.EMAIL) -> Draft:
    """The Draft of a demand its schema accepted, once it agrees with the moment
    and with itself (InvalidInput by field otherwise)."""
    process = demand.legal_process
    dates = demand.date_range or DateRange()
    ndo = demand.ndo or NonDisclosureOrder()
    draft = Draft(
        agency_id=getattr(demand, "agency_id", None), received_at=demand.received_at,
        kind=demand.kind or process.type.kind, preservation_id=demand.preservation_id,
        channel=getattr(demand, "channel", None) or default_channel, request_type=demand.request_type,
        process_type=process.type, issuing_authority=process.issuing_authority or "",
        judicial=bool(process.judicial), issued_on=process.issued_on, expires_on=process.expires_on,
        signed=bool(process.signed), case_number=process.case_number or "",
        response_due=process.response_due,
        identifiers=distinct_identifiers(demand.identifiers),
        categories=[c for c in Category if c in demand.categories],
        date_from=dates.start, date_to=dates.end, ndo_present=bool(ndo.present),
        ndo_statute=ndo.statute or "",
        ndo_ends_on=ndo.ends_on, emergency_justification=demand.emergency_justification or None,
        enforcing_state=process.enforcing_state,
        enforcing_notified=bool(process.enforcing_authority_notified),
    )
    errors = inconsistencies(draft, now)
    if errors:
        raise InvalidInput(NOT_LOGGED + " ".join(errors.values()), reasons=list(errors), fields=errors)
    return draft


def inconsistencies(d: Draft, now: datetime) -> dict[str, str]:
    """What a well-formed demand may still get wrong: the moment, and fields that
    contradict each other."""
    errors: dict[str, str] = {}
    received = d.received_at.date()
    checks = [
        ("received_at", d.received_at > now,
         "received_at is in the future: give the time the demand arrived."),
        ("received_at", d.received_at < EARLIEST_RECEIVED, "received_at is before 2000: check the date."),
        ("legal_process.expires_on", d.issued_on and d.expires_on and d.expires_on < d.issued_on,
         "The process cannot expire before it was issued."),
        ("date_range.to", d.date_from and d.date_to and d.date_to < d.date_from,
         "The date range ends before it starts."),
        ("legal_process.response_due", d.response_due and d.response_due < received,
         "The response date is before the demand was received."),
        ("ndo.present", d.ndo_ends_on and not d.ndo_present,
         "An NDO end date is given but no NDO: tick that an NDO is present."),
        ("ndo.ends_on", d.ndo_ends_on and d.ndo_ends_on < received,
         "The NDO cannot end before the demand was received."),
        ("request_type",
         d.process_type.is_national_security != (d.request_type is RequestType.NATIONAL_SECURITY),
         "National-security requests come with an NSL or a FISA order, and those come only with "
         "national-security requests."),
        ("request_type",
         d.process_type is ProcessType.EMERGENCY and d.request_type is not RequestType.EMERGENCY,
         "An emergency process goes with the emergency request type."),
    ]
    preserving = d.process_type.kind is CaseKind.PRESERVATION
    epoc = legal.process_rule(ProcessType.EPOC)
    checks += [
        ("legal_process.enforcing_state",
         (d.enforcing_state is not None or d.enforcing_notified) and d.process_type is not ProcessType.EPOC,
         "Only a European Production Order names an enforcing State."),
        ("legal_process.enforcing_state", d.enforcing_notified and d.enforcing_state is None,
         "Name the enforcing State whose authority was notified."),
        ("legal_process.enforcing_state", d.enforcing_state is not None and d.process_type is ProcessType.EPOC
         and not epoc.open_to(d.enforcing_state),
         f"{d.enforcing_state} is not a State bound by Regulation (EU) 2023/1543."),
    ]
    checks += [
        ("kind", d.kind is not d.process_type.kind,
         f"A {d.process_type.label.lower()} opens a {d.process_type.kind.value} case, not a {d.kind.value} "
         "case." + (" Preservation requests come with a preservation_request or an epoc_pr."
                    if d.kind is CaseKind.PRESERVATION else "")),
        ("preservation_id", preserving and d.preservation_id is not None,
         "Only a production demand follows a preservation; a preservation request names none."),
    ]
    for name, failed, message in checks:
        if failed:
            errors.setdefault(name, message)
    return errors


class Narrowing(Body):
    """The accounts a lost challenge leaves in the demand."""

    MESSAGES: ClassVar[dict[str, str]] = {"identifiers:too_short": NAME_ONE}
    identifiers: Annotated[list[Identifier], Field(min_length=1, max_length=IDENTIFIERS_MAX)]


def narrowed_identifiers(raw) -> list[str]:
    """The identifiers a narrowing names, checked as intake checks them."""
    return distinct_identifiers(validate(Narrowing, {"identifiers": raw}).identifiers)
