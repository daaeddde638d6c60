"""Managing who may sign in. Admins manage users and nothing else."""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from models import Agency, AuditAction, Customer, Role, User, db
from workflows import audit
from workflows.audit import Actor
from workflows.errors import Conflict, InvalidInput, NotAllowed, NotFound
from workflows.identity import auth, passwords, totp
from workflows.text import clean_text

NAME_MAX = 200
EMAIL_MAX = 254  # RFC 5321 section 4.5.3.1.3: a path holds at most 256 octets, brackets included
# Ids are PostgreSQL `integer` columns: a larger number names nothing, and would
# fail in the database driver rather than as "not found".
ID_MAX = 2_147_483_647


def unique_flush(message: str, field: str) -> None:
    """Flush, turning a unique-constraint race (two creators at once) into a Conflict;
    the caller rolls the transaction back."""
    try:
        db.session.flush()
    except IntegrityError as exc:
        raise Conflict(message, reasons=[field]) from exc


def parse_email(raw: str) -> str:
    raw = clean_text(raw, field="email", label="E-mail addresses", max_length=EMAIL_MAX)
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidInput(f"Not a valid e-mail address: {exc}", reasons=["email"]) from exc


def parse_role(raw: str) -> Role:
    try:
        return Role((raw or "").strip().lower())
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInput(f"Unknown role {raw!r}; use one of {allowed}.", reasons=["role"]) from None


@dataclass
class CreatedUser:
    user: User
    totp_secret: str | None  # shown once to whoever created a staff user


# The roles whose users belong to something: what, by which field, and what a
# refusal says when it is missing, or given for another role.
MEMBERSHIPS = {
    Role.CUSTOMER: (Customer, "customer_id", "A customer user needs an existing customer.",
                    "Only customer users belong to a customer."),
    Role.OFFICER: (Agency, "agency_id", "An officer needs an existing agency.",
                   "Only officers belong to an agency."),
}


def create_user(
    email: str,
    role: str | Role,
    password: str,
    actor: Actor,
    now: datetime,
    *,
    name: str = "",
    customer_id: int | None = None,
    agency_id: int | None = None,
    must_change_password: bool = False,
) -> CreatedUser:
    email = parse_email(email)
    role = parse_role(role)
    passwords.check_policy(password, email)
    name = clean_text(name, field="name", label="Names", max_length=NAME_MAX)
    owners = {"customer_id": customer_id, "agency_id": agency_id}
    for member, (model, field, needed, only) in MEMBERSHIPS.items():
        owner_id = owners[field]
        if role is member:
            in_range = owner_id is not None and 1 <= owner_id <= ID_MAX
            if not in_range or db.session.get(model, owner_id) is None:
                raise InvalidInput(needed, reasons=[field])
        elif owner_id is not None:
            raise InvalidInput(only, reasons=[field])
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A user with the e-mail {email} already exists.", reasons=["email"])
    secret = totp.new_secret() if role.needs_second_factor else None
    user = User(
        email=email, name=name, role=role, customer_id=customer_id, agency_id=agency_id,
        password_hash=passwords.hash_password(password), totp_secret=secret,
        must_change_password=must_change_password, created_at=now,
    )
    db.session.add(user)
    unique_flush(f"A user with the e-mail {email} already exists.", "email")
    audit.record(
        AuditAction.USER_CREATED, actor, subject=("user", user.id),
        data={"email": email, "role": role.value, "customer_id": customer_id,
              **({"agency_id": agency_id} if agency_id else {})}, now=now,
    )
    return CreatedUser(user, secret)


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.role, User.email)))


def set_active(user_id: int, active: bool, actor: Actor, now: datetime) -> User:
    """Disable or re-enable. Disabling ends every session of the user at once."""
    user = get_user(user_id)
    if not active and user.id == actor.user_id:
        raise NotAllowed("You cannot disable your own account.")
    # Conditional update: two admins pressing the button at once change it once.
    changed = db.session.execute(
        update(User)
        .where(User.id == user.id, User.active.is_(not active))
        .values(active=active)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise Conflict(f"{user.email} is already {'enabled' if active else 'disabled'}.")
    db.session.refresh(user)
    if not active:
        auth.revoke_sessions(user.id, now)
    audit.record(
        AuditAction.USER_ENABLED if active else AuditAction.USER_DISABLED,
        actor, subject=("user", user.id), data={"email": user.email}, now=now,
    )
    return user


def reset_mfa(user_id: int, actor: Actor, now: datetime) -> User:
    """A lost phone: new secret, enrolment again at next sign-in, sessions ended."""
    user = get_user(user_id)
    if not user.role.needs_second_factor and not user.mfa_enrolled:
        raise Conflict(f"{user.email} has no second factor to reset.")
    user.totp_secret = totp.new_secret() if user.role.needs_second_factor else None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    auth.revoke_sessions(user.id, now)
    audit.record(
        AuditAction.MFA_RESET, actor, subject=("user", user.id), data={"email": user.email}, now=now
    )
    return user


def offered_secret(user: User, key: str) -> str:
    """The TOTP secret offered to a customer who has none: derived, not stored, so
    showing the setup page changes nothing. It is stored once a code from it is
    confirmed (auth.add_second_factor); a new password offers a new secret."""
    mac = hmac.new(key.encode(), f"totp-offer:{user.id}:{user.password_hash}".encode(), hashlib.sha256)
    return base64.b32encode(mac.digest()[:20]).decode()
