"""Signing in and staying signed in: password, second factor, server-side sessions.

The caller commits, except where a function says it commits: attempts are
counted (committed) before they are checked. Every outcome that matters is an
audit event.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from models import AuditAction, MailKind, User, UserSession, db
from workflows import audit, mail
from workflows.audit import Actor
from workflows.errors import InvalidCredentials, InvalidInput
from workflows.identity import passwords, throttle, totp
from workflows.text import storable

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
REAUTH_WINDOW = timedelta(minutes=10)
SEEN_RESOLUTION = timedelta(seconds=60)  # how often last_seen_at is written

GENERIC_FAILURE = "That e-mail and password do not match an active account."
CODE_FAILURE = "That code is not valid. Codes change every 30 seconds and work once."


def normalise_email(email: str) -> str:
    """Bounded and printable: whatever is typed ends up in the rate-limit table and
    the audit log. Text that cannot be stored becomes a placeholder (an unknown user)."""
    email = (email or "").strip().lower()[:254]
    if not email.isprintable() or not storable(email):
        return "(unprintable)"
    return email


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _fail(action: AuditAction, attempt: throttle.Attempt, now: datetime, user_id: int | None) -> None:
    """The reserved attempt stays counted; the failure is audited. Commits."""
    audit.record(
        action,
        Actor(label=attempt.email or "anonymous", user_id=user_id, ip=attempt.ip),
        subject=("user", user_id) if user_id else None,
        now=now,
    )
    db.session.commit()


def check_password(email: str, password: str, ip: str, now: datetime) -> User:
    """First factor. Unknown user, wrong password and disabled account fail alike.

    Commits the attempt before the (deliberately slow) argon2 check and runs that
    check outside any transaction: on SQLite a transaction holds the database's
    one write lock, and a burst of guesses must not stall everyone else."""
    email = normalise_email(email)
    password = password or ""
    if len(password) > passwords.MAX_LENGTH or not storable(password):
        password = ""  # never hash megabytes or broken text; fails like any wrong password
    attempt = throttle.reserve(email, ip, now)
    found = db.session.execute(
        select(User.id, User.password_hash, User.active).where(User.email == email)
    ).first()
    db.session.commit()
    ok = passwords.verify(found.password_hash if found else None, password)
    if not ok or found is None or not found.active:
        _fail(AuditAction.SIGN_IN_FAILED, attempt, now, found.id if found else None)
        raise InvalidCredentials(GENERIC_FAILURE)
    # A stronger hash after a parameter change, made before the write lock is taken.
    upgraded = passwords.hash_password(password) if passwords.needs_rehash(found.password_hash) else None
    throttle.release(attempt)
    user = db.session.get(User, found.id)
    if upgraded:
        user.password_hash = upgraded
    return user


def check_code(user: User, code: str, ip: str, now: datetime) -> None:
    """Second factor, for a user whose password was just checked."""
    attempt = throttle.reserve(user.email, ip, now)
    throttle.refuse_locked_codes(user.id, user.email, ip, now)  # locked: the code is not even read
    if not user.active or not totp.consume(user, code or "", now):
        _fail(AuditAction.MFA_FAILED, attempt, now, user.id)
        throttle.code_failed(user.id, user.email, attempt.ip, now)
        raise InvalidCredentials(CODE_FAILURE)
    throttle.release(attempt)


def confirm_enrolment(user: User, code: str, ip: str, now: datetime) -> None:
    """First sign-in: the user shows they hold the secret before it is trusted."""
    check_code(user, code, ip, now)
    user.totp_confirmed_at = now
    audit.record(
        AuditAction.MFA_ENROLLED, Actor(user.email, user.id, ip), subject=("user", user.id), now=now
    )


def add_second_factor(user: User, password: str, secret: str, code: str, ip: str, now: datetime) -> None:
    """A customer turns on TOTP: their password again (whoever holds only their
    session cannot lock them out), and a code from the new secret."""
    check_password(user.email, password, ip, now)
    attempt = throttle.reserve(user.email, ip, now)
    step = totp.matching_step(secret, code or "", now)
    if step is None:
        _fail(AuditAction.MFA_FAILED, attempt, now, user.id)
        raise InvalidCredentials(CODE_FAILURE)
    throttle.release(attempt)
    user.totp_secret, user.totp_last_step, user.totp_confirmed_at = secret, step, now
    audit.record(AuditAction.MFA_ENROLLED, Actor(user.email, user.id, ip), subject=("user", user.id), now=now)


@dataclass
class NewSession:
    token: str
    record: UserSession


def start_session(user: User, ip: str, user_agent: str, now: datetime) -> NewSession:
    """A fresh server-side session (a new token every sign-in: rotation)."""
    token = secrets.token_urlsafe(32)
    record = UserSession(
        token_hash=_token_hash(token), user_id=user.id, created_at=now, last_seen_at=now,
        authenticated_at=now, ip=ip, user_agent=(user_agent or "")[:300],
    )
    db.session.add(record)
    user.last_sign_in_at = now
    audit.record(
        AuditAction.SIGN_IN, Actor(user.email, user.id, ip), subject=("user", user.id), now=now
    )
    db.session.flush()
    return NewSession(token, record)


def resume_session(token: str, now: datetime) -> UserSession | None:
    """The live session for a cookie's token, or None when it is unknown, revoked,
    idle for too long, past its absolute lifetime, or its user is disabled."""
    record = db.session.scalar(
        select(UserSession).where(UserSession.token_hash == _token_hash(token or ""))
    )
    if record is None or record.revoked_at is not None or not record.user.active:
        return None
    if now - record.last_seen_at > IDLE_TIMEOUT or now - record.created_at > ABSOLUTE_TIMEOUT:
        record.revoked_at = now
        audit.record(
            AuditAction.SESSION_EXPIRED,
            Actor(record.user.email, record.user_id),
            subject=("user", record.user_id),
            now=now,
        )
        return None
    if now - record.last_seen_at > SEEN_RESOLUTION:
        record.last_seen_at = now
    return record


def end_session(record: UserSession, ip: str, now: datetime) -> None:
    record.revoked_at = now
    audit.record(
        AuditAction.SIGN_OUT,
        Actor(record.user.email, record.user_id, ip),
        subject=("user", record.user_id),
        now=now,
    )


def revoke_sessions(user_id: int, now: datetime) -> int:
    """Sign a user out everywhere. Returns how many sessions ended."""
    result = db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def recently_authenticated(authenticated_at: datetime, now: datetime) -> bool:
    """Whether a session's last proof of password and code is recent enough for an
    action that asks for it (approve)."""
    return now - authenticated_at <= REAUTH_WINDOW


def reauthenticate(record: UserSession, now: datetime, ip: str | None = None) -> None:
    """The signed-in user proved password and code again (checked by the caller),
    so actions that need a recent sign-in (approve) are open for REAUTH_WINDOW. Commits."""
    record.authenticated_at = now
    audit.record(
        AuditAction.SIGN_IN, Actor(record.user.email, record.user_id, ip), subject=("user", record.user_id),
        now=now, data={"reauthenticated": True},
    )
    db.session.commit()


def change_password(
    user: User, current: str, new: str, actor: Actor, now: datetime
) -> None:
    """The user changes their own password; every session of theirs ends.
    Wrong current passwords count toward the sign-in rate limit, so a borrowed
    session cannot be used to guess the password. Like check_password, the argon2
    work runs outside any transaction."""
    email, stored = user.email, user.password_hash
    attempt = throttle.reserve(email, actor.ip or "unknown", now)
    if not passwords.verify(stored, current or ""):
        _fail(AuditAction.PASSWORD_CHANGE_FAILED, attempt, now, user.id)
        raise InvalidCredentials("The current password is not right.", reasons=["current_password"])
    throttle.release(attempt)
    db.session.commit()
    if new == current:
        raise InvalidInput("Choose a password different from the current one.", reasons=["password"])
    passwords.check_policy(new, email)
    new_hash = passwords.hash_password(new)
    user.password_hash = new_hash
    user.must_change_password = False
    revoke_sessions(user.id, now)
    audit.record(AuditAction.PASSWORD_CHANGED, actor, subject=("user", user.id), now=now)
    tell_password_changed(user, actor.ip, now)


def tell_password_changed(user: User, ip: str | None, now: datetime) -> None:
    """Mail the owner: a change they did not make is how they learn someone has
    their account. The caller commits."""
    mail.enqueue(MailKind.PASSWORD_CHANGED, user.email, "Your Due Process password was changed",
                 "password_changed", now, user_id=user.id, ip=ip, at=now)
