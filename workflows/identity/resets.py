"""Forgotten passwords: anyone may ask for a reset link by e-mail. The answer is the
same whether or not the address belongs to an account (only its owner learns
which, from their mailbox); a link works once, for one hour; asking is
rate-limited like signing in, and one account gets at most RESETS_PER_HOUR links
an hour, so nobody can fill a mailbox with them. A reset ends every session and
leaves the second factor as it was: a stolen mailbox alone does not sign anyone
in as staff."""

from datetime import datetime, timedelta

from sqlalchemy import func, select

from models import AuditAction, MailKind, MailMessage, User, db
from workflows import audit, mail
from workflows.audit import Actor
from workflows.identity import auth, links, throttle

RESETS_PER_HOUR = 3
SUBJECT_RESET = "Reset your Due Process password"
SUBJECT_CHANGED = "Your Due Process password was changed"


def request_reset(email: str, ip: str, now: datetime, public_url: str) -> None:
    """Mail a reset link to the account with this address, if there is an active
    one. Raises RateLimited, for any address alike; otherwise says nothing. Commits."""
    email = auth.normalise_email(email)
    throttle.reserve(f"reset:{email}", ip, now)  # counted and committed: asking is never free
    user = db.session.scalar(select(User).where(User.email == email, User.active.is_(True)))
    actor = Actor(email or "anonymous", user.id if user else None, ip)
    if user is None:
        audit.record(AuditAction.PASSWORD_RESET_REQUESTED, actor, now=now, data={"sent": False})
        db.session.commit()
        return
    db.session.scalar(select(User.id).where(User.id == user.id).with_for_update())  # one request at a time
    sent = db.session.scalar(select(func.count()).select_from(MailMessage).where(
        MailMessage.user_id == user.id, MailMessage.kind == MailKind.PASSWORD_RESET,
        MailMessage.created_at > now - timedelta(hours=1)))
    if sent >= RESETS_PER_HOUR:
        audit.record(AuditAction.PASSWORD_RESET_REQUESTED, actor, subject=("user", user.id), now=now,
                     data={"sent": False, "reason": "too_many"})
        db.session.commit()
        return
    token = links.issue(user, links.PASSWORD_RESET, now)
    mail.enqueue(MailKind.PASSWORD_RESET, user.email, SUBJECT_RESET, "password_reset", now, user_id=user.id,
                 link=f"{public_url.rstrip('/')}/password/reset/{token}", ip=ip, at=now,
                 minutes=int(links.PASSWORD_RESET.lifetime.total_seconds() // 60))
    audit.record(AuditAction.PASSWORD_RESET_REQUESTED, actor, subject=("user", user.id), now=now,
                 data={"sent": True})
    db.session.commit()


def reset_password(token: str, password: str, confirm: str, ip: str, now: datetime) -> User:
    """Set a new password from a reset link; the owner is told by e-mail. Commits."""
    user = links.accept(token, links.PASSWORD_RESET, password, confirm, ip, now)
    auth.tell_password_changed(user, ip, now)
    db.session.commit()
    return user

