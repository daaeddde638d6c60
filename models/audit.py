"""The append-only, hash-chained audit log."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import db

GENESIS_HASH = "0" * 64


class AuditAction(StrEnum):
    SIGN_IN = "auth.sign_in"
    SIGN_IN_FAILED = "auth.sign_in_failed"
    SIGN_IN_THROTTLED = "auth.sign_in_throttled"
    SIGN_OUT = "auth.sign_out"
    SESSION_EXPIRED = "auth.session_expired"
    MFA_ENROLLED = "auth.mfa_enrolled"
    MFA_ENROLMENT_OFFERED = "auth.mfa_enrolment_offered"
    MFA_FAILED = "auth.mfa_failed"
    MFA_LOCKED = "auth.mfa_locked"
    MFA_RESET = "auth.mfa_reset"
    PASSWORD_CHANGED = "auth.password_changed"  # noqa: S105 (an event name)
    PASSWORD_CHANGE_FAILED = "auth.password_change_failed"  # noqa: S105 (an event name)
    PASSWORD_RESET_REQUESTED = "auth.password_reset_requested"  # noqa: S105 (an event name)
    PASSWORD_RESET = "auth.password_reset"  # noqa: S105 (an event name)
    USER_CREATED = "user.created"
    USER_DISABLED = "user.disabled"
    USER_ENABLED = "user.enabled"
    USER_ROLE_CHANGED = "user.role_changed"
    GRANT_PROPOSED = "grant.proposed"
    GRANT_APPROVED = "grant.approved"
    GRANT_REFUSED = "grant.refused"
    OFFICER_INVITED = "officer.invited"
    OFFICER_REGISTERED = "officer.registered"
    OFFICER_VERIFIED = "officer.verified"
    OFFICER_SUSPENDED = "officer.suspended"
    INVITATION_ACCEPTED = "invitation.accepted"
    INVITATION_REFUSED = "invitation.refused"
    CUSTOMER_CREATED = "customer.created"
    AGENCY_CREATED = "agency.created"
    AGENCY_TOKEN_ISSUED = "agency.token_issued"  # noqa: S105 (an event name)
    AGENCY_TOKENS_REVOKED = "agency.tokens_revoked"
    AGENCY_PHONE_SET = "agency.phone_set"
    AGENCY_DOMAIN_ADDED = "agency.domain_added"
    CASE_RECEIVED = "case.received"
    CASE_TRANSITION = "case.transition"
    CASE_VIEWED = "case.viewed"
    BACKUP_CREATED = "backup.created"
    BACKUP_RESTORED = "backup.restored"
    AUDIT_EXPORTED = "audit.exported"
    DOCUMENT_UPLOADED = "case.document_uploaded"
    DOCUMENT_DOWNLOADED = "case.document_downloaded"
    VAULT_ACCOUNT_DELETED = "vault.account_deleted"
    PRODUCTION_PACKAGED = "production.packaged"
    PRODUCTION_COLLECTED = "production.collected"
    PRODUCTION_REFUSED = "production.refused"
    PRODUCTION_LINK_ISSUED = "production.link_issued"
    NOTICE_RELEASED = "notice.released"
    NOTICE_SENT = "notice.sent"
    NOTICE_FAILED = "notice.failed"
    NOTICE_RETRIED = "notice.retried"
    NOTICE_VIEWED = "notice.viewed"
    MAIL_SENT = "mail.sent"
    MAIL_FAILED = "mail.failed"
    OBJECTION_FILED = "objection.filed"
    OBJECTION_ACKNOWLEDGED = "objection.acknowledged"
    OBJECTION_WAIVED = "objection.waived"  # the customer does not object
    NDO_EXTENDED = "case.ndo_extended"
    CASE_VERIFIED = "case.verified"  # a call-back recorded, either way
    CASE_VERIFICATION_REFUSED = "case.verification_refused"
    CASE_MESSAGE = "case.message"  # between staff and the agency
    CASE_NOTE = "case.note"  # staff's internal note
    CASE_ASSIGNED = "case.assigned"  # who works the case, not a transition
    ANNEX_III_FETCHED = "case.annex_iii_fetched"  # the answer to an order that cannot be executed
    AGENCY_TOKEN_ROTATED = "agency.token_rotated"  # noqa: S105 (an event name)
    REPORT_PUBLISHED = "report.published"


class AuditEvent(db.Model):
    """One event. hash = sha256(prev_hash || canonical_json(event)); see workflows.audit."""

    __tablename__ = "audit_events"
    # Each filter of the auditor's page reads an index ending in the event number, so a
    # page of a selection, newest first, is one range however long the log.
    __table_args__ = (
        Index("ix_audit_events_subject_seq", "subject_type", "subject_id", "seq"),
        Index("ix_audit_events_action_seq", "action", "seq"),
        Index("ix_audit_events_actor_seq", "actor", "seq"),
    )

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor_id: Mapped[int | None]  # no foreign key: the log outlives what it names
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(db.Model):
    """A single row naming the chain's last event. Appenders lock it first, which
    serialises appends on every engine, and verify() checks it so a truncated
    tail is noticed."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime | None]  # the last event's time; the next is never earlier


class AuditCheckpoint(db.Model):
    """A point up to which the chain was verified: the event and its hash, when,
    and from which earlier checkpoint the walk began (0: the start of the chain),
    signed with the checkpoint key (kept outside the database). The next
    verification starts at the newest one whose signature holds."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    since_seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    verified_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(128))
