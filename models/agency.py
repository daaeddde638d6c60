"""Government bodies that send demands, and their API tokens."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import db, utcnow
from models.user import enum_column


class AgencyKind(StrEnum):
    LAW_ENFORCEMENT = "law_enforcement"
    PROSECUTOR = "prosecutor"
    COURT = "court"
    REGULATOR = "regulator"
    NATIONAL_SECURITY = "national_security"


class Agency(db.Model):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    kind: Mapped[AgencyKind] = mapped_column(enum_column(AgencyKind, "agency_kind"))
    verified: Mapped[bool] = mapped_column(default=False)
    # The number in the agency's public directory (E.164): an emergency is confirmed
    # by calling it back, never a number the request itself gives.
    phone: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tokens = relationship("AgencyToken", back_populates="agency")
    domains = relationship("AgencyDomain", back_populates="agency", order_by="AgencyDomain.domain")


class AgencyDomain(db.Model):
    """An e-mail domain the agency is known to use: a person with an address on it
    may register as the agency's officer (and is then verified by staff). One
    domain belongs to one agency."""

    __tablename__ = "agency_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agency = relationship("Agency", back_populates="domains")


class AgencyToken(db.Model):
    """Bearer tokens are random 256-bit strings, so a SHA-256 digest is a safe
    stored form; the token itself is shown once, when it is issued."""

    __tablename__ = "agency_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    # An officer's own token acts as that officer; none: the agency's system token.
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    agency = relationship("Agency", back_populates="tokens")
    officer = relationship("User")
