"""The account-mail outbox: a message is written in the transaction that causes it
(a reset asked for, a wrong code) and sent later by the relay beside the notices,
so a mail server that is slow or down never holds up a sign-in or leaves half of
a change behind.

Claims work as for notices (see workflows.notices.relay): a row is marked
`sending` with a lease in a short transaction that skips rows another relay
holds, the mail goes out outside any transaction, and only the holder of the
claim records the result. A body is sealed at rest and dropped once sent: a
password reset link lives no longer than it must."""

import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from flask import render_template
from sqlalchemy import and_, or_, select, update

from models import AuditAction, Delivery, MailKind, MailMessage, db
from workflows import audit
from workflows.audit import Actor
from workflows.mail.smtp import MailSettings, Permanent, Policy, Transient, classify, smtp_send

MAIL_ACTOR = Actor.system("mail relay")
NO_SERVER = "No mail server is configured (MAIL_SERVER)."


def enqueue(kind: MailKind, to: str | list[str], subject: str, template: str, now: datetime, *,
            user_id: int | None = None, **context) -> MailMessage:
    """Write one message for the relay: plain text rendered now from
    templates/email/account/<template>.txt. The caller commits."""
    recipients = [to] if isinstance(to, str) else sorted(set(to))
    body = render_template(f"email/account/{template}.txt", **context)
    message = MailMessage(kind=kind, user_id=user_id, recipients=recipients, subject=subject[:300], body=body,
                          created_at=now, delivery=Delivery.PENDING, next_attempt_at=now)
    db.session.add(message)
    return message


def of_user(user_id: int) -> list[MailMessage]:
    return list(db.session.scalars(select(MailMessage).where(MailMessage.user_id == user_id)
                                   .order_by(MailMessage.id)))


# ---- shared by both outboxes (notices and account mail) ----------------------

def claim(model, now: datetime, policy: Policy) -> tuple[list[int], datetime]:
    """Mark up to a batch of due rows of `model` (an outbox table) `sending` for this
    relay, and commit. The lease's end is the claim's mark: only the relay holding
    it records the result."""
    due = or_(and_(model.delivery == Delivery.PENDING, model.next_attempt_at <= now),
              and_(model.delivery == Delivery.SENDING, model.claimed_until < now))  # a relay died
    ids = db.session.scalars(
        select(model.id).where(due).order_by(model.next_attempt_at, model.id).limit(policy.batch)
        .with_for_update(skip_locked=True)
    ).all()
    until = now + policy.lease
    if ids:
        db.session.execute(update(model).where(model.id.in_(ids))
                           .values(delivery=Delivery.SENDING, claimed_until=until))
    db.session.commit()
    return list(ids), until


def park_unsent(model, now: datetime) -> int:
    """No mail server: what waits to be sent is marked so (with a claim left by a
    relay that had one, once its lease has run out). Commits."""
    unsent = or_(model.delivery == Delivery.PENDING,
                 and_(model.delivery == Delivery.SENDING, model.claimed_until < now))
    marked = db.session.execute(update(model).where(unsent).values(
        delivery=Delivery.NOT_CONFIGURED, next_attempt_at=None, claimed_until=None, last_error=NO_SERVER))
    db.session.commit()
    return marked.rowcount


def unpark(model, now: datetime) -> None:
    """A mail server now: what waited for one goes out with the rest. Commits."""
    db.session.execute(update(model).where(model.delivery == Delivery.NOT_CONFIGURED)
                       .values(delivery=Delivery.PENDING, next_attempt_at=now, last_error=None))
    db.session.commit()


def attempt(compose: Callable[[], EmailMessage], settings: MailSettings,
            send: Callable[[MailSettings, EmailMessage], dict]) -> tuple[Exception | None, dict]:
    """Compose and send one message, with no transaction open while it goes out;
    any fault counts as an attempt (worth retrying unless the server said no)."""
    try:
        message = compose()
        db.session.commit()
        return None, send(settings, message) or {}
    except (smtplib.SMTPException, OSError) as exc:
        return classify(exc), {}
    except Exception as exc:
        db.session.rollback()
        return Transient(f"{type(exc).__name__}: {exc}"), {}


def pass_clock(now: datetime) -> Callable[[], datetime]:
    """`now` moved on by the time a pass has taken: a long pass never claims with a
    lease already spent."""
    started = time.monotonic()
    return lambda: now + timedelta(seconds=time.monotonic() - started)


def deliver(model, label: str, clock: Callable[[], datetime], policy: Policy, settings: MailSettings,
            send: Callable[[MailSettings, EmailMessage], dict], compose_one: Callable[[object], EmailMessage],
            record_one: Callable[[int, datetime, Exception | None, dict], None], errors: list[str]) -> None:
    """Claim, send and record batches of an outbox's due rows until none are left:
    `compose_one(row)` makes a row's message, `record_one(row_id, claim_mark,
    error, refused)` records what happened."""
    while True:
        claimed, mark = claim(model, clock(), policy)
        for row_id in claimed:
            error, refused = attempt(lambda i=row_id: compose_one(db.session.get(model, i)), settings, send)
            if error is not None:
                errors.append(f"{label} {row_id}: {error}")
            record_one(row_id, mark, error, refused)
        if len(claimed) < policy.batch:
            return


def retry_or_fail(row, error: Exception, policy: Policy, now: datetime) -> bool:
    """After a failed attempt: failed for good (a refusal, or the last attempt; True),
    or pending again after the backoff (False). The caller audits and counts."""
    row.last_error = str(error)[:2000]
    if isinstance(error, Permanent) or row.attempts >= policy.max_attempts:
        row.delivery, row.next_attempt_at = Delivery.FAILED, None
        return True
    row.delivery, row.next_attempt_at = Delivery.PENDING, now + policy.backoff(row.attempts)
    return False


# ---- account mail --------------------------------------------------------------

@dataclass
class MailPass:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    not_configured: int = 0
    errors: list[str] = field(default_factory=list)


def compose(message: MailMessage, settings: MailSettings) -> EmailMessage:
    domain = parseaddr(settings.sender)[1].rpartition("@")[2] or "due-process.invalid"
    email = EmailMessage()
    email["From"] = settings.sender
    email["To"] = ", ".join(message.recipients)
    email["Subject"] = message.subject
    email["Message-ID"] = f"<mail-{message.id}-{message.created_at:%Y%m%d%H%M%S}@{domain}>"
    email["Date"] = format_datetime(message.created_at)
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body or "")
    return email


def _record(message_id: int, claim_mark: datetime, now: datetime, policy: Policy, result: MailPass,
            error: Exception | None, refused: dict) -> None:
    message = db.session.execute(
        select(MailMessage).where(MailMessage.id == message_id).with_for_update()).scalar_one()
    if message.delivery is not Delivery.SENDING or message.claimed_until != claim_mark:
        db.session.rollback()  # taken over by another relay: theirs to record
        return
    message.attempts += 1
    message.claimed_until = None
    about = {"kind": message.kind.value, "user_id": message.user_id, "attempts": message.attempts}
    if error is None:
        message.delivery, message.sent_at, message.next_attempt_at = Delivery.SENT, now, None
        message.body = None
        message.last_error = "refused: " + ", ".join(sorted(refused)) if refused else None
        audit.record(AuditAction.MAIL_SENT, MAIL_ACTOR, subject=("mail", message.id), now=now,
                     data=about | {"refused": sorted(refused)})
        result.sent += 1
    elif retry_or_fail(message, error, policy, now):
        audit.record(AuditAction.MAIL_FAILED, MAIL_ACTOR, subject=("mail", message.id), now=now,
                     data=about | {"error": message.last_error})
        result.failed += 1
    else:
        result.retrying += 1
    db.session.commit()


def send_pass(now: datetime, settings: MailSettings | None, policy: Policy,
              send: Callable[[MailSettings, EmailMessage], dict] = smtp_send,
              clock: Callable[[], datetime] | None = None) -> MailPass:
    """Send what is due; `clock` moves `now` on with the pass, as for notices."""
    result = MailPass()
    if settings is None:
        result.not_configured = park_unsent(MailMessage, now)
        return result
    unpark(MailMessage, now)
    deliver(MailMessage, "mail", clock or pass_clock(now), policy, settings, send,
            lambda message: compose(message, settings),
            lambda message_id, mark, error, refused: _record(message_id, mark, now, policy, result, error,
                                                             refused),
            result.errors)
    return result
