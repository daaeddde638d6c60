"""People who sign in: staff by role, customer users of one tenant, and officers
of one agency; and the single-use invitations that let them set a password."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Sealed, db, utcnow


class Role(StrEnum):
    INTAKE = "intake"
    REVIEWER = "reviewer"
    APPROVER = "approver"
    ADMIN = "admin"
    AUDITOR = "auditor"
    CUSTOMER = "customer"
    OFFICER = "officer"  # a person at an agency (DESIGN 11.4)

    @property
    def is_staff(self) -> bool:
        return self not in (Role.CUSTOMER, Role.OFFICER)

    @property
    def needs_second_factor(self) -> bool:
        """Staff and officers always sign in with a code; customers once they set one up."""
        return self is not Role.CUSTOMER

    @property
    def label(self) -> str:
        return self.value.capitalize()


STAFF_ROLES = frozenset(r for r in Role if r.is_staff)


def enum_column(enum_cls: type[StrEnum], name: str) -> Enum:
    """Store an enum by its value (not its Python name), checked by the database."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    # An officer: the agency they work for, and how staff verified that they do.
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    officer_verified_at: Mapped[datetime | None]
    officer_verification: Mapped[dict | None] = mapped_column(JSON)
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    # TOTP (RFC 6238). The secret exists from creation; the user confirms it at
    # first sign-in. totp_last_step makes each code usable once.
    totp_secret: Mapped[str | None] = mapped_column("totp_secret_sealed", Sealed())
    totp_confirmed_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]

    customer = relationship("Customer", back_populates="users")
    agency = relationship("Agency")

    @property
    def mfa_enrolled(self) -> bool:
        return self.totp_confirmed_at is not None

    @property
    def mfa_required(self) -> bool:
        """Staff and officers always need a second factor; customers once they enrolled one."""
        return self.role.needs_second_factor or self.mfa_enrolled

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class UserSession(db.Model):
    """A server-side sign-in: the cookie holds a token whose hash is stored here,
    so a session can be revoked (sign-out, password change, disable, MFA reset)."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Last time the user proved who they are (password and second factor);
    # sensitive actions ask for a recent one.
    authenticated_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user = relationship("User")


class SignInFailure(db.Model):
    """Failed sign-in attempts, counted per e-mail and per address for the rate limit.
    Kept in the database so every worker and host sees the same count."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_email_at", "email", "at"),
        Index("ix_sign_in_failures_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(db.Model):
    """A single-use link that lets a person set their own password: nobody else
    ever knows it. Only the token's SHA-256 is kept. `purpose`: an invitation,
    or a password reset (workflows.identity.links)."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16), default="invitation", server_default="invitation")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user = relationship("User")


class GrantState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class Grant(db.Model):
    """A grant of power over the system (DESIGN 11.8): a new staff user, or a change
    of a user's role. One administrator proposes it; it takes effect only when a
    second approves it. `pending_key` is set while it waits, so one address or user
    has at most one grant waiting (NULLs never collide)."""

    __tablename__ = "grants"
    __table_args__ = (Index("uq_grants_accept_token_hash", "accept_token_hash", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The user concerned: set once they exist (at approval, for a new user).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(enum_column(Role, "grant_role"))
    # A customer's portal user: the customer it is for, and the SHA-256 of the link
    # sent to the customer's notice address to accept it (no administrator does).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    accept_token_hash: Mapped[str | None] = mapped_column(String(64))
    previous_role: Mapped[Role | None] = mapped_column(enum_column(Role, "grant_previous_role"))
    state: Mapped[GrantState] = mapped_column(enum_column(GrantState, "grant_state"))
    pending_key: Mapped[str | None] = mapped_column(String(254), unique=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(String(1000))

    user = relationship("User", foreign_keys=[user_id])
    customer = relationship("Customer")
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    @property
    def is_new_user(self) -> bool:
        return self.previous_role is None

    @property
    def for_customer(self) -> bool:
        """A portal user: the customer accepts it, never an administrator."""
        return self.customer_id is not None
