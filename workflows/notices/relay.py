"""The outbox relay: releases notices whose NDO has ended and e-mails released
notices over SMTP (`flask --app app notices send` for one pass, `notices run` to
keep going).

A notice is claimed before it is sent: its row is marked `sending` with a lease,
in a short transaction that skips rows another relay holds (FOR UPDATE SKIP
LOCKED on PostgreSQL; SQLite transactions take turns), so two relays never send
the same notice. The mail goes out outside any transaction, then the result is
recorded. If a relay dies between sending and recording, the lease runs out and
the next pass sends the same message again under the same Message-ID, which is
derived from the notice, so the receiving side can tell it is a repeat; no
second notice is ever made.

Failures: a 4xx reply, a refused connection or a timeout is retried with
exponential backoff; a 5xx reply, or running out of attempts, marks the notice
failed, for staff to see and retry."""

import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from flask import render_template
from sqlalchemy import and_, or_, select, update

from models import AuditAction, Category, Delivery, Notice, NoticeKind, db, utcnow
from workflows import audit
from workflows.audit import Actor
from workflows.notices import outbox as notices

RELAY_ACTOR = Actor.system("notice relay")
SUBJECTS = {
    NoticeKind.REDIRECTED: "A government demand for your data has been redirected to you",
    NoticeKind.INTENT_TO_DISCLOSE: "We intend to disclose your data in answer to a government demand",
    NoticeKind.DISCLOSED: "We have disclosed your data in answer to a government demand",
}


@dataclass(frozen=True)
class MailSettings:
    """SMTP settings from the configuration (MAIL_*); None when no server is set."""

    server: str
    port: int
    use_tls: bool  # STARTTLS after connecting
    use_ssl: bool  # TLS from the first byte (port 465)
    username: str | None
    password: str | None
    sender: str
    timeout: float

    @classmethod
    def from_config(cls, config) -> "MailSettings | None":
        if not config.get("MAIL_SERVER"):
            return None
        use_ssl = _flag(config.get("MAIL_USE_SSL"))
        use_tls = _flag(config.get("MAIL_USE_TLS"))
        port = int(config.get("MAIL_PORT") or (465 if use_ssl else 587 if use_tls else 25))
        return cls(server=config["MAIL_SERVER"], port=port, use_tls=use_tls, use_ssl=use_ssl,
                   username=config.get("MAIL_USERNAME") or None, password=config.get("MAIL_PASSWORD") or None,
                   sender=config.get("MAIL_FROM") or "notices@due-process.invalid",
                   timeout=float(config.get("MAIL_TIMEOUT") or 30))


def _flag(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on") if value is not None else False


@dataclass(frozen=True)
class Policy:
    """How hard the relay tries: the first retry after `base`, doubling up to `cap`,
    `failed` after `max_attempts`; a claim lasts `lease`."""

    max_attempts: int = 8
    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=6)
    lease: timedelta = timedelta(minutes=5)
    batch: int = 50

    @classmethod
    def from_config(cls, config) -> "Policy":
        return cls(max_attempts=int(config.get("NOTICE_MAX_ATTEMPTS") or 8),
                   base=timedelta(seconds=float(config.get("NOTICE_RETRY_SECONDS") or 60)),
                   lease=timedelta(seconds=float(config.get("NOTICE_LEASE_SECONDS") or 300)))

    def backoff(self, attempts: int) -> timedelta:
        doublings = min(attempts - 1, 30)  # past 30 the cap has long been reached
        return min(self.base * 2 ** doublings, self.cap)


class Transient(Exception):
    """Worth trying again later."""


class Permanent(Exception):
    """The server refused the message for good."""


def _text(reply) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _classify(exc: Exception) -> Exception:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        text = "; ".join(f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in exc.recipients.items())
        return Transient(text) if any(400 <= c < 500 for c in codes) else Permanent(text)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return Transient(f"SMTP login refused ({exc.smtp_code}): check MAIL_USERNAME and MAIL_PASSWORD")
    if isinstance(exc, smtplib.SMTPResponseException):
        text = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        return Permanent(text) if 500 <= exc.smtp_code < 600 else Transient(text)
    return Transient(f"{type(exc).__name__}: {exc}")  # refused connection, timeout, disconnect


def smtp_send(settings: MailSettings, message: EmailMessage) -> dict:
    """Send one message; return the recipients refused (some may be, if not all)."""
    context = ssl.create_default_context()  # certificates and host names are checked, either way
    if settings.use_ssl:
        smtp = smtplib.SMTP_SSL(settings.server, settings.port, timeout=settings.timeout, context=context)
    else:
        smtp = smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout)
    with smtp:
        if settings.use_tls:
            smtp.starttls(context=context)
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        return smtp.send_message(message)


def message_id(notice: Notice, sender: str) -> str:
    """The same for every attempt at one notice, so a repeat is recognisable."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "due-process.invalid"
    return f"<notice-{notice.id}-{notice.created_at:%Y%m%d%H%M%S}@{domain}>"


def compose(notice: Notice, settings: MailSettings, portal_url: str) -> EmailMessage:
    context = {"notice": notice, "c": notice.content, "kind": notice.kind.value,
               "labels": {c.value: c.label for c in Category},
               "portal_url": f"{portal_url.rstrip('/')}/portal/notices/{notice.id}"}
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(notice.recipients)
    message["Subject"] = f"{SUBJECTS[notice.kind]} ({notice.content['reference']})"
    message["Message-ID"] = message_id(notice, settings.sender)
    message["Date"] = format_datetime(notice.released_at or notice.created_at)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_template("email/notice.txt", **context))
    message.add_alternative(render_template("email/notice.html", **context), subtype="html")
    return message


@dataclass
class Pass:
    """What one pass did, printed by the CLI as key: value lines."""

    released: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    not_configured: int = 0
    errors: list[str] = field(default_factory=list)


def _claim(now: datetime, policy: Policy) -> tuple[list[int], datetime]:
    """Mark up to a batch of due notices `sending` for this relay, and commit. The
    lease's end is the claim's mark: only the relay holding it records the result."""
    due = or_(and_(Notice.delivery == Delivery.PENDING, Notice.next_attempt_at <= now),
              and_(Notice.delivery == Delivery.SENDING, Notice.claimed_until < now))  # a relay died
    ids = db.session.scalars(
        select(Notice.id).where(due).order_by(Notice.next_attempt_at, Notice.id).limit(policy.batch)
        .with_for_update(skip_locked=True)
    ).all()
    until = now + policy.lease
    if ids:
        db.session.execute(update(Notice).where(Notice.id.in_(ids))
                           .values(delivery=Delivery.SENDING, claimed_until=until))
    db.session.commit()
    return list(ids), until


def _record(notice_id: int, claim: datetime, now: datetime, policy: Policy, result: Pass,
            error: Exception | None, refused: dict) -> None:
    notice = db.session.execute(select(Notice).where(Notice.id == notice_id).with_for_update()).scalar_one()
    if notice.delivery is not Delivery.SENDING or notice.claimed_until != claim:
        db.session.rollback()  # taken over by another relay, or put back by staff: theirs to record
        return
    notice.attempts += 1
    notice.claimed_until = None
    temporary = sorted(a for a, (code, _) in refused.items() if 400 <= code < 500)
    lasting = sorted(a for a, (code, _) in refused.items() if not 400 <= code < 500)
    if error is None:
        audit.record(AuditAction.NOTICE_SENT, RELAY_ACTOR, subject=("notice", notice.id), now=now, data={
            "case_id": notice.case_id, "kind": notice.kind.value, "attempts": notice.attempts,
            "recipients": [r for r in notice.recipients if r not in refused], "refused": sorted(refused)})
        result.sent += 1
        if temporary and notice.attempts < policy.max_attempts:
            # Delivered to some; the addresses refused for now get it on a later attempt.
            notice.recipients = temporary
            notice.delivery = Delivery.PENDING
            notice.next_attempt_at = now + policy.backoff(notice.attempts)
            notice.last_error = "refused for now: " + ", ".join(temporary) + (
                "; refused: " + ", ".join(lasting) if lasting else "")
            db.session.commit()
            return
        notice.delivery, notice.sent_at, notice.next_attempt_at = Delivery.SENT, now, None
        notice.last_error = "refused: " + ", ".join(temporary + lasting) if refused else None
    elif isinstance(error, Permanent) or notice.attempts >= policy.max_attempts:
        notice.delivery, notice.next_attempt_at, notice.last_error = Delivery.FAILED, None, str(error)[:2000]
        audit.record(AuditAction.NOTICE_FAILED, RELAY_ACTOR, subject=("notice", notice.id), now=now, data={
            "case_id": notice.case_id, "attempts": notice.attempts, "error": notice.last_error})
        result.failed += 1
    else:
        notice.delivery = Delivery.PENDING
        notice.next_attempt_at = now + policy.backoff(notice.attempts)
        notice.last_error = str(error)[:2000]
        result.retrying += 1
    db.session.commit()


def send_pass(now: datetime, settings: MailSettings | None, policy: Policy, portal_url: str,
              send: Callable[[MailSettings, EmailMessage], dict] = smtp_send) -> Pass:
    """One pass: release what is due, then send what is released and due. `now`
    is when the pass starts; each claim reads it moved on by the time the pass has
    taken, so a long pass never claims with a lease already spent (and only the
    holder of a claim records its result)."""
    started = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    result = Pass(released=notices.release_due(now, RELAY_ACTOR))
    if settings is None:
        # No mail server: the portal alone carries the notice; staff see it unsent
        # (with a claim left by a relay that had one, once its lease has run out).
        unsent = or_(Notice.delivery == Delivery.PENDING,
                     and_(Notice.delivery == Delivery.SENDING, Notice.claimed_until < now))
        marked = db.session.execute(update(Notice).where(unsent)
                                    .values(delivery=Delivery.NOT_CONFIGURED, next_attempt_at=None,
                                            claimed_until=None,
                                            last_error="No mail server is configured (MAIL_SERVER)."))
        db.session.commit()
        result.not_configured = marked.rowcount
        return result
    # A mail server now: what waited for one goes out with the rest.
    db.session.execute(update(Notice).where(Notice.delivery == Delivery.NOT_CONFIGURED)
                       .values(delivery=Delivery.PENDING, next_attempt_at=now, last_error=None))
    db.session.commit()
    while True:
        claimed, claim = _claim(clock(), policy)
        for notice_id in claimed:
            error, refused = None, {}
            try:
                message = compose(db.session.get(Notice, notice_id), settings, portal_url)
                db.session.commit()  # no transaction stays open while the mail goes out
                refused = send(settings, message) or {}
            except (smtplib.SMTPException, OSError) as exc:
                error = _classify(exc)
            except Exception as exc:  # any fault counts as an attempt; the pass goes on
                db.session.rollback()
                error = Transient(f"{type(exc).__name__}: {exc}")
            if error is not None:
                result.errors.append(f"notice {notice_id}: {error}")
            _record(notice_id, claim, now, policy, result, error, refused)
        if len(claimed) < policy.batch:
            return result


def run(settings: MailSettings | None, policy: Policy, portal_url: str, interval: float,
        passes: int | None = None, clock: Callable[[], datetime] = utcnow, log=print) -> None:
    """Keep relaying: a pass every `interval` seconds (`passes` bounds it, for tests)."""
    done = 0
    while passes is None or done < passes:
        try:
            result = send_pass(clock(), settings, policy, portal_url)
        except Exception as exc:  # a database hiccup must not stop the relay for good
            db.session.rollback()
            log(f"error: {type(exc).__name__}: {exc}")
        else:
            if result.released or result.sent or result.retrying or result.failed or result.not_configured:
                log(f"released: {result.released} sent: {result.sent} retrying: {result.retrying} "
                    f"failed: {result.failed} not_configured: {result.not_configured}")
        done += 1
        if passes is None or done < passes:
            time.sleep(interval)
