"""Sign-in rate limits, counted in the database so every worker and host agrees.

An attempt is counted as failed before it is checked, in a short transaction of
its own, so parallel attempts cannot all slip under the limit while argon2 runs;
a successful attempt is then released.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, text

from models import AuditAction, AuditEvent, MailKind, MailMessage, SignInFailure, db
from workflows import audit, mail
from workflows.audit import Actor
from workflows.errors import RateLimited

WINDOW = timedelta(minutes=1)
KEEP = timedelta(hours=1)  # failure rows older than this are deleted
# One e-mail from one address: the sixth attempt within a minute is refused. Looser
# caps on one e-mail from anywhere and on one address for any e-mail stop
# distributed guessing and spraying, without letting a stranger lock a user out
# with five wrong passwords.
PER_PAIR = 5
PER_EMAIL = 30
PER_IP = 20
REFUSED = "Too many failed attempts. Wait a minute, then try again."
# Whoever reaches the code step has the password. The per-minute limits alone would
# let them try 30 codes a minute for ever; this caps them at 10 in any hour since the
# account's last sign-in (at three codes accepted per try, about 1,400 days on average
# for 6 digits). The owner is mailed at the first wrong code of an hour and at the lock.
CODE_LOCK_FAILURES = 10
CODE_LOCK_WINDOW = timedelta(hours=1)
CODE_LOCKED = ("Too many wrong codes for this account: signing in is locked for up to an hour. If you did "
               "not make these attempts, change your password and tell your administrator: someone may know "
               "your password.")


@dataclass(frozen=True)
class Attempt:
    id: int
    email: str
    ip: str


def _serialise(*keys: str) -> None:
    """Attempts on the same e-mail or address queue for the count-and-insert (a few
    milliseconds). SQLite transactions already hold the database's write lock."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(keys):  # one order everywhere: no deadlock
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})


def _about(action: AuditAction, subject: tuple[str, str | int]):
    return (AuditEvent.action == action.value, AuditEvent.subject_type == subject[0],
            AuditEvent.subject_id == str(subject[1]))


def _record_once(action: AuditAction, actor: Actor, subject: tuple[str, str | int], data: dict,
                 window: timedelta, now: datetime, commit: bool = True) -> bool:
    """Audit a refusal once per subject and window, not once per refused request;
    whether this was the first. Commits, unless told not to."""
    recorded = db.session.scalar(
        select(AuditEvent.seq).where(*_about(action, subject), AuditEvent.at > now - window).limit(1))
    if recorded is None:
        audit.record(action, actor, subject=subject, data=data, now=now)
    if commit:
        db.session.commit()
    return recorded is None


def _refuse(email: str, ip: str, limit: str, now: datetime) -> None:
    key = {"pair": f"{email}|{ip}", "email": email, "ip": ip}[limit]
    key_hash = hashlib.sha256(key.encode()).hexdigest()[:40]
    _record_once(AuditAction.SIGN_IN_THROTTLED, Actor(label=email or "anonymous", ip=ip),
                 ("sign_in_limit", key_hash), {"limit": limit}, WINDOW, now)
    raise RateLimited(REFUSED)


def _code_failures(user_id: int, now: datetime) -> int:
    """Wrong codes within CODE_LOCK_WINDOW and after the user's last sign-in."""
    since = now - CODE_LOCK_WINDOW
    signed_in = db.session.scalar(
        select(func.max(AuditEvent.at)).where(*_about(AuditAction.SIGN_IN, ("user", user_id))))
    if signed_in is not None and signed_in > since:
        since = signed_in
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        *_about(AuditAction.MFA_FAILED, ("user", user_id)), AuditEvent.at > since))


def refuse_locked_codes(user_id: int, email: str, ip: str, now: datetime) -> None:
    """RateLimited (mfa_locked) once CODE_LOCK_FAILURES wrong codes fell within
    CODE_LOCK_WINDOW and after the user's last sign-in; the lock lifts as the
    oldest of them ages out. The lock is audited, and its owner told, once a window."""
    failures = _code_failures(user_id, now)
    if failures < CODE_LOCK_FAILURES:
        return
    _lock(user_id, email, ip, failures, now)
    raise RateLimited(CODE_LOCKED, code="mfa_locked")


def code_failed(user_id: int, email: str, ip: str, now: datetime) -> None:
    """After a wrong code (already audited): tell the owner at the first of a window,
    and lock at the last allowed. Commits."""
    failures = _code_failures(user_id, now)
    if failures >= CODE_LOCK_FAILURES:
        _lock(user_id, email, ip, failures, now)
        return
    warned = db.session.scalar(select(MailMessage.id).where(
        MailMessage.user_id == user_id, MailMessage.kind == MailKind.MFA_FAILED,
        MailMessage.created_at > now - CODE_LOCK_WINDOW).limit(1))
    if warned is None:
        mail.enqueue(MailKind.MFA_FAILED, email, "A wrong sign-in code was entered for your account",
                     "mfa_failed", now, user_id=user_id, ip=ip, at=now, failures=failures,
                     most=CODE_LOCK_FAILURES)
    db.session.commit()


def _lock(user_id: int, email: str, ip: str, failures: int, now: datetime) -> None:
    if _record_once(AuditAction.MFA_LOCKED, Actor(email, user_id, ip), ("user", user_id),
                    {"failures": failures}, CODE_LOCK_WINDOW, now, commit=False):
        mail.enqueue(MailKind.MFA_LOCKED, email, "Signing in to your account is locked for an hour",
                     "mfa_locked", now, user_id=user_id, ip=ip, at=now, failures=failures)
    db.session.commit()


def reserve(email: str, ip: str, now: datetime) -> Attempt:
    """Count this attempt as a failure, or refuse it (RateLimited). Commits."""
    _serialise(f"sign-in:{email}", f"sign-in-ip:{ip}")
    pair, by_email, by_ip = db.session.execute(
        select(
            func.count().filter(SignInFailure.email == email, SignInFailure.ip == ip),
            func.count().filter(SignInFailure.email == email),
            func.count().filter(SignInFailure.ip == ip),
        ).where(SignInFailure.at > now - WINDOW)
        .where(or_(SignInFailure.email == email, SignInFailure.ip == ip))
    ).one()
    for limit, count, most in (("pair", pair, PER_PAIR), ("email", by_email, PER_EMAIL),
                               ("ip", by_ip, PER_IP)):
        if count >= most:
            _refuse(email, ip, limit, now)
    db.session.execute(
        delete(SignInFailure)
        .where(or_(SignInFailure.email == email, SignInFailure.ip == ip))
        .where(SignInFailure.at < now - KEEP)
    )
    row = SignInFailure(email=email, ip=ip, at=now)
    db.session.add(row)
    db.session.flush()
    attempt = Attempt(row.id, email, ip)
    db.session.commit()
    return attempt


def release(attempt: Attempt) -> None:
    """The attempt succeeded: it no longer counts against anyone."""
    db.session.execute(delete(SignInFailure).where(SignInFailure.id == attempt.id))
