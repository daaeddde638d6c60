"""Logging a demand: checking what was sent, numbering it, and storing the case.

One parser serves the intake form, the staff API and the agency API, so the three
accept and refuse exactly the same things. Every problem is collected and reported
by field; nothing is stored unless all of it is right."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from models import (
    Account,
    Agency,
    AuditAction,
    Case,
    CaseReferenceCounter,
    CaseStateCount,
    Category,
    Channel,
    Customer,
    CustomerKind,
    ProcessType,
    RequestType,
    State,
    db,
)
from models.case import REFERENCE_PREFIX
from workflows import audit, legal
from workflows.audit import Actor
from workflows.errors import InvalidInput
from workflows.identity import ID_MAX
from workflows.text import clean_text, whole_number

IDENTIFIER_MAX = 254
IDENTIFIERS_MAX = 1000  # one demand; more is a bulk request, to be split or refused
TEXT_MAX = 4000
EARLIEST_RECEIVED = datetime(2000, 1, 1, tzinfo=UTC)

TOP_LEVEL = {
    "agency_id", "received_at", "channel", "request_type", "legal_process", "identifiers",
    "categories", "date_range", "ndo", "emergency_justification",
}
PROCESS_KEYS = {
    "type", "issuing_authority", "judicial", "issued_on", "expires_on", "signed", "case_number",
    "response_due",
}


@dataclass
class Draft:
    """A demand that passed every check, ready to be stored."""

    agency_id: int | None
    received_at: datetime
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

    @property
    def emergency(self) -> bool:
        return self.request_type is RequestType.EMERGENCY or self.process_type is ProcessType.EMERGENCY


@dataclass
class FieldReader:
    """Reads fields from a JSON-shaped dict, noting each problem against its field."""

    errors: dict[str, str] = field(default_factory=dict)

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def obj(self, body, name: str, keys: set[str], required: bool = False) -> dict:
        if body is None:
            if required:
                self.fail(name, f"{name} is required.")
            return {}
        if not isinstance(body, dict):
            self.fail(name, f"{name} must be an object.")
            return {}
        for extra in sorted(set(body) - keys):
            self.fail(f"{name}.{extra}" if name != "body" else extra,
                      f"{extra!r} is not a field of {'a case' if name == 'body' else name}.")
        return body

    def enum(self, value, name: str, enum_cls, default=None):
        if value is None and default is not None:
            return default
        try:
            return enum_cls(value)
        except ValueError:
            allowed = ", ".join(m.value for m in enum_cls)
            shown = "nothing" if value is None else repr(value)
            self.fail(name, f"{name}: {shown} is not one of {allowed}.")
            return None

    def boolean(self, value, name: str, default: bool = False) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(name, f"{name} must be true or false.")
            return default
        return value

    def text(self, value, name: str, max_length: int, multiline: bool = False) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            self.fail(name, f"{name} must be text.")
            return ""
        try:
            return clean_text(value, field=name, label=name, max_length=max_length, multiline=multiline)
        except InvalidInput as exc:
            self.fail(name, exc.message)
            return ""

    def day(self, value, name: str) -> date | None:
        if value in (None, ""):
            return None
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.fail(name, f"{name} must be a date written YYYY-MM-DD.")
        return None

    def moment(self, value, name: str) -> datetime | None:
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
                # A time without a zone is read as UTC, the zone every stored time is in.
                return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
            except (ValueError, OverflowError):  # not a time, or one UTC cannot hold (year 0 or 10000)
                pass
        self.fail(name, f"{name} must be a date and time such as 2026-03-02T10:00:00Z.")
        return None


def parse_identifiers(raw, reader: FieldReader) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(i, str) for i in raw):
        reader.fail("identifiers", "identifiers must be a list of account identifiers (text).")
        return []
    seen: dict[str, None] = {}
    for item in raw:
        try:
            value = clean_text(item.lower(), field="identifiers", label="Identifiers",
                               max_length=IDENTIFIER_MAX)
        except InvalidInput as exc:
            reader.fail("identifiers", exc.message)
            return []
        if value:
            seen.setdefault(value, None)
    if not seen:
        reader.fail("identifiers", "Name at least one account (an e-mail address, username or "
                                   "account id): a demand that names none is overbroad.")
    elif len(seen) > IDENTIFIERS_MAX:
        reader.fail("identifiers", f"At most {IDENTIFIERS_MAX} identifiers per demand.")
    return list(seen)


def parse_categories(raw, reader: FieldReader) -> list[Category]:
    if not isinstance(raw, list) or not raw:
        reader.fail("categories", "Choose at least one data category: "
                                  + ", ".join(c.value for c in Category) + ".")
        return []
    chosen = {reader.enum(item, "categories", Category) for item in raw}
    return [c for c in Category if c in chosen]


def parse_case(body, now: datetime, *, agency_id_allowed: bool = True,
               default_channel: Channel = Channel.EMAIL) -> Draft:
    """Check a case body (the DESIGN section 9 shape). Raises InvalidInput whose
    `fields` maps each bad field to what is wrong with it."""
    r = FieldReader()
    # Through the agency API the agency is the token's and the channel is the API.
    keys = TOP_LEVEL if agency_id_allowed else TOP_LEVEL - {"agency_id", "channel"}
    body = r.obj(body, "body", keys, required=True)
    if "agency_id" in body and not agency_id_allowed:
        r.errors["agency_id"] = "agency_id does not belong here: the request is your agency's."

    agency_id = None
    if agency_id_allowed:
        agency_id = whole_number(body.get("agency_id"), ID_MAX)
        if agency_id is None:
            r.fail("agency_id", "Choose the agency that sent the demand.")

    received_at = r.moment(body.get("received_at"), "received_at")
    if received_at is not None and received_at > now:
        r.fail("received_at", "received_at is in the future: give the time the demand arrived.")
    elif received_at is not None and received_at < EARLIEST_RECEIVED:
        r.fail("received_at", "received_at is before 2000: check the date.")

    channel = r.enum(body.get("channel"), "channel", Channel, default=default_channel)
    request_type = r.enum(body.get("request_type"), "request_type", RequestType)
    process = r.obj(body.get("legal_process"), "legal_process", PROCESS_KEYS, required=True)
    process_type = r.enum(process.get("type"), "legal_process.type", ProcessType)
    issued_on = r.day(process.get("issued_on"), "legal_process.issued_on")
    expires_on = r.day(process.get("expires_on"), "legal_process.expires_on")
    if issued_on and expires_on and expires_on < issued_on:
        r.fail("legal_process.expires_on", "The process cannot expire before it was issued.")

    identifiers = parse_identifiers(body.get("identifiers"), r)
    categories = parse_categories(body.get("categories"), r)

    date_range = r.obj(body.get("date_range"), "date_range", {"from", "to"})
    date_from = r.day(date_range.get("from"), "date_range.from")
    date_to = r.day(date_range.get("to"), "date_range.to")
    if date_from and date_to and date_to < date_from:
        r.fail("date_range.to", "The date range ends before it starts.")

    response_due = r.day(process.get("response_due"), "legal_process.response_due")
    if response_due and received_at and response_due < received_at.date():
        r.fail("legal_process.response_due", "The response date is before the demand was received.")

    ndo = r.obj(body.get("ndo"), "ndo", {"present", "statute", "ends_on"})
    ndo_present = r.boolean(ndo.get("present"), "ndo.present")
    ndo_ends_on = r.day(ndo.get("ends_on"), "ndo.ends_on")
    if ndo_ends_on and not ndo_present:
        r.fail("ndo.present", "An NDO end date is given but no NDO: tick that an NDO is present.")
    if ndo_ends_on and received_at and ndo_ends_on < received_at.date():
        r.fail("ndo.ends_on", "The NDO cannot end before the demand was received.")

    justification = r.text(body.get("emergency_justification"), "emergency_justification", TEXT_MAX,
                           multiline=True) or None

    if process_type and request_type:
        if process_type.is_national_security != (request_type is RequestType.NATIONAL_SECURITY):
            r.fail("request_type", "National-security requests come with an NSL or a FISA order, "
                                   "and those come only with national-security requests.")
        if process_type is ProcessType.EMERGENCY and request_type is not RequestType.EMERGENCY:
            r.fail("request_type", "An emergency process goes with the emergency request type.")

    draft_fields = dict(
        agency_id=agency_id, received_at=received_at, channel=channel, request_type=request_type,
        process_type=process_type,
        issuing_authority=r.text(process.get("issuing_authority"), "legal_process.issuing_authority", 200),
        judicial=r.boolean(process.get("judicial"), "legal_process.judicial"),
        issued_on=issued_on, expires_on=expires_on,
        signed=r.boolean(process.get("signed"), "legal_process.signed"),
        case_number=r.text(process.get("case_number"), "legal_process.case_number", 100),
        response_due=response_due,
        identifiers=identifiers, categories=categories, date_from=date_from, date_to=date_to,
        ndo_present=ndo_present, ndo_statute=r.text(ndo.get("statute"), "ndo.statute", 200),
        ndo_ends_on=ndo_ends_on, emergency_justification=justification,
    )
    if r.errors:
        raise InvalidInput(
            "The demand was not logged: " + " ".join(r.errors.values()),
            reasons=list(r.errors), fields=r.errors,
        )
    return Draft(**draft_fields)


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


def count_state(state: State, delta: int) -> None:
    """Keep case_state_counts in step with a case entering (+1) or leaving (-1) a state."""
    table = CaseStateCount.__table__
    stmt = _upsert(table).values(state=state.value, n=delta)
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=[table.c.state], set_={"n": table.c.n + delta}
    ))


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


def touches_enterprise(identifiers: list[str]) -> bool:
    """Whether a demand names an account of an enterprise customer (the report's
    enterprise section counts these)."""
    if not identifiers:
        return False
    return bool(db.session.scalar(select(exists().where(
        Account.identifier.in_(identifiers), Account.customer_id == Customer.id,
        Customer.kind == CustomerKind.ENTERPRISE))))


def create_case(draft: Draft, agency: Agency, actor: Actor, now: datetime,
                created_by_id: int | None = None) -> Case:
    """Store a checked demand as a new case in `received`, with its reference and
    deadline, in the caller's transaction (commit follows)."""
    case = Case(
        reference=next_reference(now.year), agency_id=agency.id, received_at=draft.received_at,
        channel=draft.channel, request_type=draft.request_type, process_type=draft.process_type,
        issuing_authority=draft.issuing_authority, judicial=draft.judicial, issued_on=draft.issued_on,
        expires_on=draft.expires_on, signed=draft.signed, case_number=draft.case_number,
        response_due=draft.response_due, identifiers=draft.identifiers,
        categories=[c.value for c in draft.categories], date_from=draft.date_from, date_to=draft.date_to,
        ndo_present=draft.ndo_present, ndo_statute=draft.ndo_statute, ndo_ends_on=draft.ndo_ends_on,
        emergency_justification=draft.emergency_justification, emergency=draft.emergency,
        priority=0 if draft.emergency else 1, created_by_id=created_by_id, created_at=now,
        due_at=now,  # replaced below, once the facts are complete
    )
    case.agency = agency
    case.due_at = legal.due_at(facts_of(case, agency))
    case.accounts_specified = len(case.identifiers)
    case.content_requested = Category.CONTENT.value in case.categories
    case.enterprise = touches_enterprise(case.identifiers)
    db.session.add(case)
    count_state(State.RECEIVED, +1)
    db.session.flush()
    audit.record(AuditAction.CASE_RECEIVED, actor, subject=("case", case.id), now=now, data={
        "reference": case.reference, "agency_id": agency.id, "process_type": case.process_type.value,
        "channel": case.channel.value,
    })
    return case
