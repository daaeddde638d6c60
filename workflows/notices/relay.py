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

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from flask import render_template
from sqlalchemy import select

from models import AuditAction, Category, Delivery, Notice, NoticeKind, db, utcnow
from workflows import audit, mail
from workflows.audit import Actor
from workflows.mail import MailSettings, Policy, smtp_send
from workflows.notices import outbox as notices

RELAY_ACTOR = Actor.system("notice relay")
SUBJECTS = {
    NoticeKind.REDIRECTED: "A government demand for your data has been redirected to you",
    NoticeKind.INTENT_TO_DISCLOSE: "We intend to disclose your data in answer to a government demand",
    NoticeKind.DISCLOSED: "We have disclosed your data in answer to a government demand",
}


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
    account_mail: mail.MailPass = field(default_factory=mail.MailPass)  # sent in the same pass


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
    elif mail.retry_or_fail(notice, error, policy, now):
        audit.record(AuditAction.NOTICE_FAILED, RELAY_ACTOR, subject=("notice", notice.id), now=now, data={
            "case_id": notice.case_id, "attempts": notice.attempts, "error": notice.last_error})
        result.failed += 1
    else:
        result.retrying += 1
    db.session.commit()


def send_pass(now: datetime, settings: MailSettings | None, policy: Policy, portal_url: str,
              send: Callable[[MailSettings, EmailMessage], dict] = smtp_send) -> Pass:
    """One pass: release what is due, then send what is released and due, then the
    account mail. `now` is when the pass starts; each claim reads it moved on by the
    time the pass has taken, so a long pass never claims with a lease already spent
    (and only the holder of a claim records its result)."""
    clock = mail.pass_clock(now)
    result = Pass(released=notices.release_due(now, RELAY_ACTOR))
    if settings is None:
        # No mail server: the portal alone carries the notice; staff see it unsent.
        result.not_configured = mail.park_unsent(Notice, now)
    else:
        mail.unpark(Notice, now)
        mail.deliver(Notice, "notice", clock, policy, settings, send,
                     lambda notice: compose(notice, settings, portal_url),
                     lambda notice_id, mark, error, refused: _record(notice_id, mark, now, policy, result,
                                                                     error, refused),
                     result.errors)
    result.account_mail = mail.send_pass(clock(), settings, policy, send, clock)
    result.errors.extend(result.account_mail.errors)
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
            other = result.account_mail
            if any((result.released, result.sent, result.retrying, result.failed, result.not_configured,
                    other.sent, other.retrying, other.failed)):
                log(f"released: {result.released} sent: {result.sent} retrying: {result.retrying} "
                    f"failed: {result.failed} not_configured: {result.not_configured} "
                    f"account_mail_sent: {other.sent} account_mail_failed: {other.failed}")
        done += 1
        if passes is None or done < passes:
            time.sleep(interval)
