"""Typed SQLAlchemy models, one module per domain noun."""

from models.agency import Agency, AgencyDomain, AgencyKind, AgencyToken
from models.audit import GENESIS_HASH, AuditAction, AuditEvent, AuditHead
from models.base import db, utcnow
from models.case import (
    Case,
    CaseDocument,
    CaseIdentifier,
    CaseMessage,
    CaseReferenceCounter,
    CaseStateCount,
    CaseTransition,
    CaseVerification,
    Disclosure,
    ProductionLink,
    StateWriteError,
)
from models.customer import Account, AccountKind, Customer, CustomerKind
from models.mail import MailKind, MailMessage
from models.notice import Delivery, HoldReason, Notice, NoticeKind, Objection
from models.report import ReportFrozen, TransparencyReport
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
from models.user import STAFF_ROLES, Grant, GrantState, Invitation, Role, SignInFailure, User, UserSession

__all__ = [
    "GENESIS_HASH",
    "STAFF_ROLES",
    "Account",
    "AccountKind",
    "Agency",
    "AgencyDomain",
    "AgencyKind",
    "AgencyToken",
    "AuditAction",
    "AuditEvent",
    "AuditHead",
    "CallbackOutcome",
    "Case",
    "CaseDocument",
    "CaseIdentifier",
    "CaseKind",
    "CaseMessage",
    "CaseReferenceCounter",
    "CaseStateCount",
    "CaseTransition",
    "CaseVerification",
    "Category",
    "Channel",
    "Customer",
    "CustomerKind",
    "Delivery",
    "Disclosure",
    "Grant",
    "GrantState",
    "HoldReason",
    "Invitation",
    "MailKind",
    "MailMessage",
    "MessageSide",
    "Notice",
    "NoticeKind",
    "Objection",
    "ProcessType",
    "ProductionLink",
    "RejectReason",
    "ReportFrozen",
    "RequestType",
    "Role",
    "SignInFailure",
    "State",
    "StateWriteError",
    "TransparencyReport",
    "User",
    "UserSession",
    "db",
    "utcnow",
]
