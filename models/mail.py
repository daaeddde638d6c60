"""E-mail about people's own accounts (a password reset link, a warning of wrong
codes, a grant of power): an outbox like the notices', written in the transaction
that causes the message and sent later by the relay."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Sealed, db
from models.notice import Delivery
from models.user import enum_column


class SealedText(Sealed):
    """Sealed, without a length limit: a message's body may hold a single-use link."""

    impl = Text
    cache_ok = True


class MailKind(StrEnum):
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a kind of message)
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (a kind of message)
    MFA_FAILED = "mfa_failed"  # a wrong code after the right password
    MFA_LOCKED = "mfa_locked"
    INVITATION = "invitation"
    STAFF_GRANT = "staff_grant"  # to approvers and auditors: someone gained power
    PORTAL_USER_REQUEST = "portal_user_request"  # to a customer: accept a new portal user?
    PORTAL_USER_ADDED = "portal_user_added"  # to a customer: a new portal user exists
    AGENCY_MESSAGE = "agency_message"  # to officers: the provider wrote about a request
    AGENCY_ANSWER = "agency_answer"  # to the case's reviewer: the agency wrote
    REMINDER = "reminder"  # to staff: a case's deadline nears or passed (DESIGN 11.5)
    OBJECTION_RECEIPT = "objection_receipt"  # to a customer: we received your objection

    @property
    def label(self) -> str:
        return {"password_reset": "Password reset link", "password_changed": "Password changed",
                "mfa_failed": "Wrong sign-in code",
                "mfa_locked": "Sign-in locked for an hour", "invitation": "Invitation",
                "staff_grant": "Staff grant announced", "portal_user_request": "Portal user to accept",
                "portal_user_added": "Portal user added",
                "agency_message": "Message to the agency",
                "agency_answer": "Message from the agency", "reminder": "Reminder",
                "objection_receipt": "Objection received"}[self.value]


class MailMessage(db.Model):
    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "delivery", "next_attempt_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[MailKind] = mapped_column(enum_column(MailKind, "mail_kind"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)  # whom it is about
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column("body_sealed", SealedText())  # dropped once sent
    created_at: Mapped[datetime]
    delivery: Mapped[Delivery] = mapped_column(enum_column(Delivery, "delivery"))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


class ReminderKind(StrEnum):
    """What a reminder is about; each is sent at most once per case (DESIGN 11.5)."""

    DUE_SOON = "due_soon"  # due within 24 hours: to the assignee
    OVERDUE = "overdue"  # to the assignee and the approvers
    EMERGENCY_UNTAKEN = "emergency_untaken"  # an emergency nobody took in 30 minutes: to the approvers
    HOLD_ENDING = "hold_ending"  # a preservation's hold ends within the policy's days: to the assignee

    @property
    def label(self) -> str:
        return {"due_soon": "Due within 24 hours", "overdue": "Overdue",
                "emergency_untaken": "Emergency not taken", "hold_ending": "Preservation ending"}[self.value]


class CaseReminder(db.Model):
    """A reminder sent about a case: one row per case and kind, so a reminder is
    written exactly once, however many reminder runners there are. `mail_id` is
    the message that carries it (its delivery shows whether it went out)."""

    __tablename__ = "case_reminders"
    __table_args__ = (UniqueConstraint("case_id", "kind", name="uq_case_reminders_case_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[ReminderKind] = mapped_column(enum_column(ReminderKind, "reminder_kind"))
    created_at: Mapped[datetime]
    mail_id: Mapped[int | None] = mapped_column(ForeignKey("mail_outbox.id"), index=True)
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
