"""A demand for customer data, its transition log, its legal-process documents,
and what was approved for disclosure."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import db, utcnow
from models.terms import (
    CallbackOutcome,
    CaseKind,
    Category,
    Channel,
    MessageSide,
    ProcessType,
    RejectReason,
    RequestType,
    State,
)
from models.user import enum_column

REFERENCE_PREFIX = "LE"


class StateWriteError(RuntimeError):
    """Raised when anything but the state machine writes Case.state."""


_state_writer: ContextVar[bool] = ContextVar("case_state_writer", default=False)


@contextmanager
def state_writer() -> Iterator[None]:
    """Opened by the state machine (workflows.cases.advance) alone."""
    token = _state_writer.set(True)
    try:
        yield
    finally:
        _state_writer.reset(token)


class Case(db.Model):
    __tablename__ = "cases"
    __table_args__ = (
        # The queue: open cases (or one state, or one assignee's), emergencies
        # first, then by deadline; keyset pagination walks these indexes.
        Index("ix_cases_queue_open", "is_open", "priority", "due_at", "id"),
        Index("ix_cases_queue_state", "state", "priority", "due_at", "id"),
        Index("ix_cases_queue_assignee", "assignee_id", "is_open", "priority", "due_at", "id"),
        Index("ix_cases_received_at", "received_at"),
        # A search by the start of an agency's name: each agency's cases in deadline order.
        Index("ix_cases_agency_due", "agency_id", "priority", "due_at", "id"),
        # The transparency report's one scan: every column it reads, so a half-year
        # is aggregated from the index alone.
        Index("ix_cases_report", "received_at", "agency_id", "process_type", "enterprise",
              "content_requested", "outcome", "accounts_specified", "named_no_account", "emergency",
              "ndo_present", "customer_notified", "challenged", "redirected", "reject_reason", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[CaseKind] = mapped_column(enum_column(CaseKind, "case_kind"), default=CaseKind.PRODUCTION,
                                           server_default=CaseKind.PRODUCTION.value)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    received_at: Mapped[datetime]
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "case_channel"))
    request_type: Mapped[RequestType] = mapped_column(enum_column(RequestType, "request_type"))

    process_type: Mapped[ProcessType] = mapped_column(enum_column(ProcessType, "process_type"))
    issuing_authority: Mapped[str] = mapped_column(String(200), default="")
    judicial: Mapped[bool] = mapped_column(default=False)
    issued_on: Mapped[date | None]
    expires_on: Mapped[date | None]
    signed: Mapped[bool] = mapped_column(default=False)
    case_number: Mapped[str] = mapped_column(String(100), default="", index=True)  # searched exactly
    response_due: Mapped[date | None]

    identifiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    date_from: Mapped[date | None]
    date_to: Mapped[date | None]

    ndo_present: Mapped[bool] = mapped_column(default=False)
    ndo_statute: Mapped[str] = mapped_column(String(200), default="")
    ndo_ends_on: Mapped[date | None]
    emergency_justification: Mapped[str | None] = mapped_column(Text)
    emergency: Mapped[bool] = mapped_column(default=False)
    # A European Production Order (Reg. 2023/1543): the State whose authority was
    # notified of it (Art. 8), and when that authority said it raises no ground.
    enforcing_state: Mapped[str | None] = mapped_column(String(2))
    enforcing_notified: Mapped[bool] = mapped_column(default=False, server_default="0")
    enforcing_cleared_at: Mapped[datetime | None]

    state: Mapped[State] = mapped_column(enum_column(State, "case_state"))
    is_open: Mapped[bool] = mapped_column(default=True)
    priority: Mapped[int] = mapped_column(default=1)  # 0 emergency, 1 other: the queue's first key
    due_at: Mapped[datetime]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)

    proposed_categories: Mapped[list[str] | None] = mapped_column(JSON)
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reject_reason: Mapped[RejectReason | None] = mapped_column(enum_column(RejectReason, "reject_reason"))
    # Set when an indefinite NDO holds a customer notice: such an order should be challenged.
    challenge_flagged_at: Mapped[datetime | None]
    # Until when the customers told of the current proposal may object (DESIGN 11.5):
    # approve waits for it. None: nobody was told (held, an emergency) or no proposal.
    objection_deadline: Mapped[datetime | None]

    # What the transparency report counts, kept in step by intake, advance() and the
    # notice releases (like is_open), so a half-year is aggregated in one scan.
    outcome: Mapped[str] = mapped_column(String(32), default="pending")
    accounts_specified: Mapped[int] = mapped_column(default=0)
    # Named no account when received (a geofence or keyword demand); an amendment that
    # names accounts later does not take it out of the report's count.
    named_no_account: Mapped[bool] = mapped_column(default=False)
    content_requested: Mapped[bool] = mapped_column(default=False)  # splits FISA orders in the report
    enterprise: Mapped[bool] = mapped_column(default=False)  # names an enterprise customer's account
    challenged: Mapped[bool] = mapped_column(default=False)  # was ever challenged
    redirected: Mapped[bool] = mapped_column(default=False)  # was ever sent to the customer
    customer_notified: Mapped[bool] = mapped_column(default=False)  # a notice of it was released

    # A preservation request (kind preservation): until when the records are held,
    # and how many times that was extended. A production demand that follows one
    # names it in preservation_id.
    preserved_until: Mapped[datetime | None]
    extensions: Mapped[int] = mapped_column(default=0, server_default="0")
    preservation_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    # Optimistic lock: every UPDATE says WHERE version = <the version read>.
    __mapper_args__ = {"version_id_col": version}

    agency = relationship("Agency")
    assignee = relationship("User", foreign_keys=[assignee_id])
    proposed_by = relationship("User", foreign_keys=[proposed_by_id])
    transitions = relationship("CaseTransition", back_populates="case", order_by="CaseTransition.seq")
    documents = relationship("CaseDocument", back_populates="case", order_by="CaseDocument.id")
    disclosure = relationship("Disclosure", back_populates="case", uselist=False)
    verification = relationship("CaseVerification", back_populates="case", uselist=False)
    messages = relationship("CaseMessage", back_populates="case", order_by="CaseMessage.id")
    notes = relationship("CaseNote", order_by="CaseNote.id")
    # The accounts named, a row each, for finding the case by one (kept equal to
    # `identifiers` by the listener below).
    identifier_rows = relationship("CaseIdentifier", cascade="all, delete-orphan")
    preservation = relationship("Case", remote_side=[id], foreign_keys=[preservation_id])

    def __init__(self, **fields):
        with state_writer():
            super().__init__(state=State.RECEIVED, is_open=True, **fields)

    @property
    def category_list(self) -> list[Category]:
        return [Category(c) for c in self.categories]

    @property
    def document(self) -> "CaseDocument | None":
        return self.documents[-1] if self.documents else None


@event.listens_for(Case.identifiers, "set")
def _index_identifiers(target, value, oldvalue, initiator):
    """Whenever a case's identifiers are set (intake, an amendment, a narrowing),
    its search rows follow in the same flush: rows still named are kept, the rest go."""
    kept = {row.identifier: row for row in target.identifier_rows}
    target.identifier_rows = [kept.get(i) or CaseIdentifier(identifier=i) for i in dict.fromkeys(value or ())]


@event.listens_for(Case.state, "set")
def _state_only_through_advance(target, value, oldvalue, initiator):
    if not _state_writer.get():
        raise StateWriteError("A case's state changes only through workflows.cases.advance().")


class CaseIdentifier(db.Model):
    """One account a case names: how a reviewer finds every case about an account."""

    __tablename__ = "case_identifiers"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    identifier: Mapped[str] = mapped_column(String(254), primary_key=True, index=True)


class CaseTransition(db.Model):
    """The transition log: one row per state change. seq is the case version the
    change produced; the database lets a case's state change only when the row for
    that version and state exists (see the migration's trigger)."""

    __tablename__ = "case_transitions"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_transitions_case_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int]
    trigger: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[State] = mapped_column(enum_column(State, "from_state"))
    to_state: Mapped[State] = mapped_column(enum_column(State, "to_state"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    case = relationship("Case", back_populates="transitions")


class CaseDocument(db.Model):
    """An uploaded legal-process document. The file lives in instance/ under a
    generated name; the row keeps its digest and the name it was sent with."""

    __tablename__ = "case_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # intake looks for the same document
    size: Mapped[int]
    uploaded_at: Mapped[datetime]
    uploaded_by: Mapped[str] = mapped_column(String(254))

    case = relationship("Case", back_populates="documents")


class CaseVerification(db.Model):
    """The call-back that confirmed an emergency request, or found it forged: to
    the agency's directory number, never one the request gave. One per case, so
    two reviewers calling at once cannot both record an answer."""

    __tablename__ = "case_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    method: Mapped[str] = mapped_column(String(16))  # "callback"
    phone_called: Mapped[str] = mapped_column(String(32))
    spoke_with: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[CallbackOutcome] = mapped_column(enum_column(CallbackOutcome, "callback_outcome"))
    note: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime]

    case = relationship("Case", back_populates="verification")


class CaseMessage(db.Model):
    """A message between the provider's staff and the agency about one request
    ("name the accounts", say): both sides read the thread, each sees who wrote
    from its own side, and every message is audited."""

    __tablename__ = "case_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    side: Mapped[MessageSide] = mapped_column(enum_column(MessageSide, "message_side"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # none: the agency's system token
    author: Mapped[str] = mapped_column(String(254))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]

    case = relationship("Case", back_populates="messages")


class CaseNote(db.Model):
    """A member of staff's internal note on a case: read by staff only, never shown
    to the agency or the customer, and audited."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author: Mapped[str] = mapped_column(String(254))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class Disclosure(db.Model):
    """What an approver approved: the categories, and the accounts the case's
    identifiers matched when it was approved."""

    __tablename__ = "disclosures"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    categories: Mapped[list[str]] = mapped_column(JSON)
    account_ids: Mapped[list[int]] = mapped_column(JSON)
    identifiers: Mapped[list[str]] = mapped_column(JSON)
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime]
    emergency_justification: Mapped[str | None] = mapped_column(Text)
    # The capability approve minted: a keyed digest of what it is bound to (the key
    # lives outside the database), and when it was spent on the production.
    capability_digest: Mapped[str | None] = mapped_column(String(64))
    capability_spent_at: Mapped[datetime | None]
    # The production package: an encrypted file in instance/productions; its
    # manifest (counts and hashes, never records) is what staff may see.
    package_name: Mapped[str | None] = mapped_column(String(80), unique=True)
    package_sha256: Mapped[str | None] = mapped_column(String(64))
    package_size: Mapped[int | None] = mapped_column(BigInteger)
    packaged_at: Mapped[datetime | None]
    manifest: Mapped[dict | None] = mapped_column(JSON)

    case = relationship("Case", back_populates="disclosure")
    links = relationship("ProductionLink", back_populates="disclosure", order_by="ProductionLink.id")


class ProductionLink(db.Model):
    """A one-time link through which the agency collects a production. The token
    is derived from `nonce` with a key kept outside the database, so the app can
    show it again to the agency; the row keeps only its hash for the lookup."""

    __tablename__ = "production_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    disclosure_id: Mapped[int] = mapped_column(ForeignKey("disclosures.id"), index=True)
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    issued_by: Mapped[str] = mapped_column(String(254))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    used_at: Mapped[datetime | None]
    superseded_at: Mapped[datetime | None]

    disclosure = relationship("Disclosure", back_populates="links")


class CaseReferenceCounter(db.Model):
    """The last reference number handed out per year (LE-YYYY-NNNNNN)."""

    __tablename__ = "case_reference_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)


class CaseStateCount(db.Model):
    """How many cases are in each state, kept in step by intake and advance(), so
    the queue's counts cost one small read however many cases there are."""

    __tablename__ = "case_state_counts"

    state: Mapped[State] = mapped_column(enum_column(State, "counted_state"), primary_key=True)
    n: Mapped[int] = mapped_column(default=0)
