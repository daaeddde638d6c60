"""Typed SQLAlchemy models, one module per domain noun."""

from models.agency import Agency, AgencyKind, AgencyToken
from models.audit import GENESIS_HASH, AuditAction, AuditEvent, AuditHead
from models.base import db, utcnow
from models.customer import Account, AccountKind, Customer, CustomerKind
from models.user import STAFF_ROLES, Role, SignInFailure, User, UserSession

__all__ = [
    "GENESIS_HASH",
    "STAFF_ROLES",
    "Account",
    "AccountKind",
    "Agency",
    "AgencyKind",
    "AgencyToken",
    "AuditAction",
    "AuditEvent",
    "AuditHead",
    "Customer",
    "CustomerKind",
    "Role",
    "SignInFailure",
    "User",
    "UserSession",
    "db",
    "utcnow",
]
