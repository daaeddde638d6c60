"""Customer notices (an outbox: rows written with the transition that causes
them, delivered later by the relay) and the objections customers file."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import db
from models.user import enum_column


class NoticeKind(StrEnum):
    REDIRECTED = "redirected"
    INTENT_TO_DISCLOSE = "intent_to_disclose"
    DISCLOSED = "disclosed"

    @property
    def label(self) -> str:
        return {"redirected": "Demand redirected to you", "intent_to_disclose": "Intent to disclose",
                "disclosed": "Data disclosed"}[self.value]


class HoldReason(StrEnum):
    """Why a notice waits. NDO: until its end date (the relay releases it).
    NDO_INDEFINITE and EMERGENCY: until a reviewer releases it."""

    NDO = "ndo"
    NDO_INDEFINITE = "ndo_indefinite"
    EMERGENCY = "emergency"

    @property
    def label(self) -> str:
        return {"ndo": "Non-disclosure order with an end date",
                "ndo_indefinite": "Indefinite non-disclosure order",
                "emergency": "Emergency disclosure"}[self.value]

    @property
    def needs_reviewer(self) -> bool:
        return self is not HoldReason.NDO


class Delivery(StrEnum):
    """The e-mail's progress; the portal shows a notice once it is released,
    whatever happens to the e-mail."""

    WAITING = "waiting"  # held, not yet released
    PENDING = "pending"  # released; the relay will send it (again, after a failure, at next_attempt_at)
    SENDING = "sending"  # claimed by a relay until claimed_until
    SENT = "sent"
    FAILED = "failed"  # given up: shown to staff, who may retry
    NOT_CONFIGURED = "not_configured"  # no mail server: the portal alone carries it


class Notice(db.Model):
    __tablename__ = "notices"
    __table_args__ = (
        Index("ix_notices_outbox", "delivery", "next_attempt_at", "id"),
        Index("ix_notices_customer", "customer_id", "released_at"),
        Index("ix_notices_held", "released_at", "hold_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[NoticeKind] = mapped_column(enum_column(NoticeKind, "notice_kind"))
    created_at: Mapped[datetime]
    # What the customer is told, fixed when the notice is written (plain values).
    content: Mapped[dict] = mapped_column(JSON)
    # The copy of the demand the customer may download: the document on file when
    # the notice was written (a later upload is not theirs to see by this notice).
    document_id: Mapped[int | None] = mapped_column(ForeignKey("case_documents.id"))
    hold_reason: Mapped[HoldReason | None] = mapped_column(enum_column(HoldReason, "hold_reason"))
    hold_until: Mapped[date | None]
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(254))
    delivery: Mapped[Delivery] = mapped_column(enum_column(Delivery, "delivery"))
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    no_objection_at: Mapped[datetime | None]  # the customer said they do not object

    case = relationship("Case")
    customer = relationship("Customer")
    objection = relationship("Objection", back_populates="notice", uselist=False)


class Objection(db.Model):
    """A customer's written objection to an intended disclosure. The approver
    must acknowledge it before approving."""

    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    statement: Mapped[str] = mapped_column(Text)
    filed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[datetime]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None]
    acknowledgement: Mapped[str | None] = mapped_column(Text)

    notice = relationship("Notice", back_populates="objection")
