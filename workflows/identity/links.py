"""Single-use links that let a person set their own password, so nobody else ever
knows it: an invitation (72 hours) or a password reset asked for by e-mail (one
hour). Only the token's SHA-256 is stored; a link works once, for its purpose
only, and every refusal of a real link is audited."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from models import AuditAction, Invitation, User, db
from workflows import audit
from workflows.audit import Actor
from workflows.errors import Gone, InvalidInput, NotFound
from workflows.identity import auth, passwords

TOKEN_MAX = 128


@dataclass(frozen=True)
class Purpose:
    name: str
    lifetime: timedelta
    invalid: str
    used: str
    expired: str
    accepted: AuditAction


INVITATION = Purpose(
    "invitation", timedelta(hours=72), "This invitation link is not valid.",
    "This invitation link was already used. Sign in with the password you set, or ask for a new invitation.",
    "This invitation link has expired. Ask the person who invited you for a new one.",
    AuditAction.INVITATION_ACCEPTED)
PASSWORD_RESET = Purpose(
    "password_reset", timedelta(hours=1), "This password reset link is not valid.",
    "This password reset link was already used. Ask for a new one if you need it.",
    "This password reset link has expired (links work for one hour). Ask for a new one.",
    AuditAction.PASSWORD_RESET)
PURPOSES = {p.name: p for p in (INVITATION, PASSWORD_RESET)}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(user: User, purpose: Purpose, now: datetime) -> str:
    """A new link for `user`; earlier unused links of the same purpose stop working.
    Returns the token, which only the link carries."""
    db.session.execute(update(Invitation).where(
        Invitation.user_id == user.id, Invitation.purpose == purpose.name, Invitation.used_at.is_(None),
        Invitation.expires_at > now).values(expires_at=now))
    token = secrets.token_urlsafe(32)
    db.session.add(Invitation(token_hash=digest(token), user_id=user.id, purpose=purpose.name, created_at=now,
                              expires_at=now + purpose.lifetime))
    return token


def pending(token: str, purpose: Purpose, now: datetime, *, lock: bool = False) -> Invitation:
    """The link a token names, while it may still be used; `lock`: read anew and
    locked until the transaction ends, so two uses at once spend it once."""
    if not isinstance(token, str) or not token or len(token) > TOKEN_MAX:
        raise NotFound(purpose.invalid)
    query = select(Invitation).where(Invitation.token_hash == digest(token),
                                     Invitation.purpose == purpose.name)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    link = db.session.scalar(query)
    if link is None:
        raise NotFound(purpose.invalid)
    if link.used_at is not None:
        raise Gone(purpose.used, code=f"{purpose.name}_used")
    if link.expires_at <= now or not link.user.active:
        raise Gone(purpose.expired, code=f"{purpose.name}_expired")
    return link


def accept(token: str, purpose: Purpose, password: str, confirm: str, ip: str, now: datetime) -> User:
    """The person sets their password; the link is spent and every session of theirs
    ends. Committed here; a refusal of a real link is audited. The (slow) hash is
    made before the link is locked; the link is then read again under the lock, so
    of two uses at once one sets the password and the other is refused."""
    try:
        link = pending(token, purpose, now)
    except (NotFound, Gone) as exc:
        record_refusal(token, exc, ip, now)
        raise
    email = link.user.email
    if password != confirm:
        raise InvalidInput("The two passwords differ.", reasons=["confirm"],
                           fields={"confirm": "Type the same password twice."})
    passwords.check_policy(password, email)
    db.session.commit()  # no transaction held open while hashing
    hashed = passwords.hash_password(password)
    try:
        link = pending(token, purpose, now, lock=True)
    except (NotFound, Gone) as exc:
        db.session.rollback()
        record_refusal(token, exc, ip, now)
        raise
    user = link.user
    user.password_hash = hashed
    user.must_change_password = False
    link.used_at = now
    auth.revoke_sessions(user.id, now)
    audit.record(purpose.accepted, Actor(user.email, user.id, ip), subject=("user", user.id), now=now,
                 data={"email": user.email})
    db.session.commit()
    return user


def record_refusal(token: str, exc: Exception, ip: str, now: datetime) -> None:
    """Audit the use of a real link that is spent or expired (committed here): a
    link used twice may be a link someone else has."""
    if not isinstance(token, str) or len(token) > TOKEN_MAX:
        return
    found = db.session.scalar(select(Invitation).where(Invitation.token_hash == digest(token)))
    if found is not None:
        audit.record(AuditAction.INVITATION_REFUSED, Actor("invitation", None, ip), now=now,
                     subject=("user", found.user_id),
                     data={"reason": getattr(exc, "code", "refused"), "purpose": found.purpose})
        db.session.commit()
