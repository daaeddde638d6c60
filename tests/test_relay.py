"""The notice relay against a real SMTP server on loopback (tests/smtp_server.py),
on both engines: what the e-mail says, outages and 4xx/5xx replies (retried with
backoff, nothing lost), a relay killed mid-batch, two relays at once on
PostgreSQL, an NDO running out as time passes, and no mail server at all.

Time moves by passing `now` to the relay, never by sleeping."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import current_app

from models import AuditAction, AuditEvent, Delivery, HoldReason, Notice, NoticeKind, Role, db, utcnow
from tests.smtp_server import SmtpServer
from workflows import notices
from workflows.audit import Actor
from workflows.errors import Conflict
from workflows.identity import directory
from workflows.notices import relay

ROOT = Path(__file__).resolve().parent.parent
SENDER = "notices@provider.example"
PUBLIC_URL = "https://due-process.provider.example"
BASE = timedelta(seconds=10)  # NOTICE_RETRY_SECONDS
MAX_ATTEMPTS = 3
LEASE = timedelta(seconds=120)
STAFF = Actor.system("test staff")
NDO = {"present": True, "statute": "18 U.S.C. 2705(b)"}
# The relay moves a pass's `now` on by the time the pass has taken (so a long pass
# never claims with a spent lease): what it records is `now` plus a little.
SLACK = timedelta(seconds=5)


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def mail(app, smtp):
    """The test app, pointed at the loopback server, with a short retry base."""
    app.config.update(smtp.config(SENDER), PUBLIC_URL=PUBLIC_URL, NOTICE_MAX_ATTEMPTS=MAX_ATTEMPTS,
                      NOTICE_RETRY_SECONDS=BASE.total_seconds(), NOTICE_LEASE_SECONDS=LEASE.total_seconds())
    return smtp


def relay_pass(now: datetime | None = None, policy: relay.Policy | None = None) -> relay.Pass:
    """One pass with the app's settings, as the CLI makes it, at `now`."""
    config = current_app.config
    db.session.commit()  # the test holds no lock while the relay works
    result = relay.send_pass(now or utcnow(), relay.MailSettings.from_config(config),
                             policy or relay.Policy.from_config(config), config["PUBLIC_URL"])
    db.session.expire_all()
    return result


def counts(result: relay.Pass) -> dict:
    return {"released": result.released, "sent": result.sent, "retrying": result.retrying,
            "failed": result.failed, "not_configured": result.not_configured}


def nothing_done() -> dict:
    return {"released": 0, "sent": 0, "retrying": 0, "failed": 0, "not_configured": 0}


def only_notice(case) -> Notice:
    found = notices.of_case(case.id)
    assert len(found) == 1, found
    return found[0]


def notice_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Notice))


def events(action: AuditAction, notice: Notice) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == action.value, AuditEvent.subject_type == "notice",
        AuditEvent.subject_id == str(notice.id)).order_by(AuditEvent.seq)).all()


def cli_pairs(app, *args: str) -> list[tuple[str, str]]:
    """Run `flask --app app ARGS` in-process; its output as (key, value) lines, in order."""
    db.session.commit()
    result = app.test_cli_runner().invoke(args=list(args))
    db.session.expire_all()
    assert result.exit_code == 0, result.output
    return [tuple(line.split(": ", 1)) for line in result.stdout.splitlines()]


def printed(mail="configured", error=None, **done) -> dict:
    """What `notices send` prints for a pass that did `done`."""
    lines = {key: str(value) for key, value in (nothing_done() | done).items()} | {"mail": mail}
    account_mail = {"account_mail_sent": "0", "account_mail_retrying": "0", "account_mail_failed": "0"}
    return lines | account_mail | ({"error": error} if error else {})


def soon_after(moment: datetime, expected: datetime) -> bool:
    return expected <= moment <= expected + SLACK


def midnight(day) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


# ---- one notice, one e-mail -----------------------------------------------------------

def test_a_released_notice_is_mailed_once(app, mail, make_case):
    case = make_case("redirected")
    notice = only_notice(case)
    assert notice.delivery is Delivery.PENDING and notice.sent_at is None
    recipients = list(notice.customer.notice_emails)
    assert notice.recipients == recipients and recipients

    now = utcnow()
    assert counts(relay_pass(now)) == nothing_done() | {"sent": 1}

    [message] = mail.handler.messages()
    assert message.mail_from == SENDER and message.rcpt_tos == recipients
    assert message.sender == SENDER and message.to == ", ".join(recipients)
    assert case.reference in message.subject and "redirected" in message.subject
    assert message.message_id == relay.message_id(notice, SENDER)
    assert message.message_id.startswith(f"<notice-{notice.id}-") and message.message_id.endswith(
        "@provider.example>")
    link = f"{PUBLIC_URL}/portal/notices/{notice.id}"
    assert link in message.text
    assert f'href="{link}"' in message.html
    assert message.text and "<p>" not in message.text  # the plain part is not HTML

    db.session.refresh(notice)
    assert notice.delivery is Delivery.SENT and soon_after(notice.sent_at, now)
    assert notice.attempts == 1 and notice.last_error is None and notice.claimed_until is None
    [sent] = events(AuditAction.NOTICE_SENT, notice)
    assert sent.actor == relay.RELAY_ACTOR.label
    assert sent.data["recipients"] == recipients and sent.data["case_id"] == case.id

    assert counts(relay_pass(now + timedelta(days=1))) == nothing_done()
    assert len(mail.handler.messages()) == 1
    assert len(events(AuditAction.NOTICE_SENT, notice)) == 1


def test_each_kind_of_notice_says_what_happened(app, mail, make_case, make_agency):
    agency = make_agency(name="Springfield Police Department", country="US").agency
    redirected = make_case("redirected", agency=agency)
    disclosed = make_case("disclosed", agency=agency, categories=("subscriber", "content"),
                          legal_process={"case_number": "2:26-mj-04711"})
    assert counts(relay_pass()) == nothing_done() | {"sent": 3}
    by_kind = {}
    for message in mail.handler.messages():
        notice = db.session.get(Notice, message.notice_id)
        by_kind[notice.kind] = (notice, message)
    assert set(by_kind) == set(NoticeKind)

    _, told = by_kind[NoticeKind.REDIRECTED]
    assert told.rcpt_tos == only_notice(redirected).recipients
    for body in (told.text, told.html):
        assert "ask you directly" in body and "have not disclosed anything" in body
        assert "Springfield Police Department (US)" in body and redirected.reference in body

    notice, intent = by_kind[NoticeKind.INTENT_TO_DISCLOSE]
    assert notice.case_id == disclosed.id
    assert "We intend to disclose: Basic subscriber information; Stored content" in intent.text
    assert "object" in intent.text and "intend to disclose" in intent.html
    assert "Read the notice and object in your portal" in intent.html

    notice, done = by_kind[NoticeKind.DISCLOSED]
    assert "have disclosed" in done.subject
    disclosed_on = notice.content["disclosed_on"]
    # what was disclosed, to whom, under what process
    assert f"Disclosed:        Basic subscriber information; Stored content on {disclosed_on}" in done.text
    assert "Agency:           Springfield Police Department (US)" in done.text
    assert "Legal process:    Search warrant, 2:26-mj-04711" in done.text
    assert "copy of the demand" in done.text
    for needle in ("Basic subscriber information; Stored content", disclosed_on,
                   "Springfield Police Department (US)", "Search warrant, 2:26-mj-04711", "have disclosed"):
        assert needle in done.html, needle
    assert "intend to disclose" not in done.text and "object" not in done.text


# ---- failures: an outage, 4xx and 5xx replies ------------------------------------------

def test_an_outage_is_retried_after_the_backoff_and_nothing_is_lost(app, mail, make_case):
    notice = only_notice(make_case("redirected"))
    mail.stop()
    t0 = utcnow()
    result = relay_pass(t0)
    assert counts(result) == nothing_done() | {"retrying": 1}
    assert "ConnectionRefusedError" in result.errors[0]
    db.session.refresh(notice)
    assert notice.delivery is Delivery.PENDING and notice.attempts == 1 and notice.sent_at is None
    assert soon_after(notice.next_attempt_at, t0 + BASE) and "ConnectionRefusedError" in notice.last_error

    due = notice.next_attempt_at
    almost = due - timedelta(seconds=1)
    assert counts(relay_pass(almost)) == nothing_done()
    mail.start()
    assert counts(relay_pass(almost)) == nothing_done()  # the server is back, but it is not time yet
    assert mail.handler.messages() == []
    db.session.refresh(notice)
    assert notice.attempts == 1

    assert counts(relay_pass(due)) == nothing_done() | {"sent": 1}
    assert [m.notice_id for m in mail.handler.messages()] == [notice.id]
    db.session.refresh(notice)
    assert notice.delivery is Delivery.SENT and notice.attempts == 2 and notice.last_error is None
    assert counts(relay_pass(due + BASE * 100)) == nothing_done()
    assert len(mail.handler.messages()) == 1 and notice_count() == 1


def test_backoff_doubles_with_each_attempt_up_to_the_cap(app, mail, make_case):
    notice = only_notice(make_case("redirected"))
    mail.stop()
    policy = relay.Policy(max_attempts=10, base=BASE, cap=BASE * 5, lease=LEASE)
    now, delays = utcnow(), []
    for attempt in range(1, 6):
        assert counts(relay_pass(now, policy)) == nothing_done() | {"retrying": 1}
        db.session.refresh(notice)
        assert notice.attempts == attempt
        delays.append(notice.next_attempt_at - now)
        now = notice.next_attempt_at
    expected = [BASE, BASE * 2, BASE * 4, BASE * 5, BASE * 5]  # the last two capped
    assert all(want <= got <= want + SLACK for got, want in zip(delays, expected, strict=True)), delays
    assert notice.delivery is Delivery.PENDING


@pytest.mark.parametrize("stage", ["data", "rcpt"])
def test_a_4xx_reply_is_retried_then_sent(app, mail, make_case, stage):
    notice = only_notice(make_case("redirected"))
    mail.handler.fail_next(1, "451 4.3.0 Mailbox busy, try again later", stage=stage)
    t0 = utcnow()
    assert counts(relay_pass(t0)) == nothing_done() | {"retrying": 1}
    db.session.refresh(notice)
    assert notice.delivery is Delivery.PENDING and notice.attempts == 1
    assert "451" in notice.last_error and "Mailbox busy" in notice.last_error
    assert soon_after(notice.next_attempt_at, t0 + BASE)
    assert mail.handler.messages() == [] and mail.handler.refused

    assert counts(relay_pass(notice.next_attempt_at)) == nothing_done() | {"sent": 1}
    [message] = mail.handler.messages()
    assert message.message_id == relay.message_id(notice, SENDER)
    db.session.refresh(notice)
    assert notice.delivery is Delivery.SENT and notice.attempts == 2 and notice.last_error is None
    assert events(AuditAction.NOTICE_FAILED, notice) == []


@pytest.mark.parametrize("stage", ["data", "rcpt"])
def test_a_5xx_reply_fails_the_notice_at_once_until_staff_retry(app, mail, make_case, stage):
    notice = only_notice(make_case("redirected"))
    mail.handler.fail_next(1, "550 5.1.1 No such mailbox here", stage=stage)
    t0 = utcnow()
    assert counts(relay_pass(t0)) == nothing_done() | {"failed": 1}
    db.session.refresh(notice)
    assert notice.delivery is Delivery.FAILED and notice.attempts == 1 and notice.next_attempt_at is None
    assert "550" in notice.last_error and "No such mailbox here" in notice.last_error
    [failed] = events(AuditAction.NOTICE_FAILED, notice)
    assert failed.data["error"] == notice.last_error and failed.data["attempts"] == 1
    assert notice in notices.failed()  # shown to staff

    assert counts(relay_pass(t0 + timedelta(days=1))) == nothing_done()  # failed stays failed
    assert mail.handler.messages() == []

    retried = notices.retry(notice.id, Role.REVIEWER, STAFF, t0 + timedelta(days=1))
    assert retried.delivery is Delivery.PENDING and retried.attempts == 0 and retried.last_error is None
    assert len(events(AuditAction.NOTICE_RETRIED, notice)) == 1
    assert counts(relay_pass(t0 + timedelta(days=1))) == nothing_done() | {"sent": 1}
    assert [m.notice_id for m in mail.handler.messages()] == [notice.id]
    db.session.refresh(notice)
    assert notice.delivery is Delivery.SENT and notice not in notices.failed()


def test_transient_failures_give_up_after_the_last_attempt(app, mail, make_case):
    notice = only_notice(make_case("redirected"))
    mail.handler.fail_next(100, "451 4.7.1 Greylisted, come back later")
    now = utcnow()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        expected = {"retrying": 1} if attempt < MAX_ATTEMPTS else {"failed": 1}
        assert counts(relay_pass(now)) == nothing_done() | expected, attempt
        db.session.refresh(notice)
        assert notice.attempts == attempt
        now = notice.next_attempt_at or now
    assert notice.delivery is Delivery.FAILED and "Greylisted" in notice.last_error
    assert len(events(AuditAction.NOTICE_FAILED, notice)) == 1
    assert len(mail.handler.refused) == MAX_ATTEMPTS and mail.handler.messages() == []
    assert counts(relay_pass(now + timedelta(days=30))) == nothing_done()

    mail.handler.fail_next(0, "")  # the receiving side is fixed
    later = now + timedelta(days=30)
    notices.retry(notice.id, Role.APPROVER, STAFF, later)
    assert counts(relay_pass(later)) == nothing_done() | {"sent": 1}
    assert [m.notice_id for m in mail.handler.messages()] == [notice.id]
    assert notice_count() == 1


def two_address_customer():
    customer = directory.create_customer("Two Desks Ltd", "enterprise", "US",
                                         ["legal@twodesks.example", "privacy@twodesks.example"],
                                         ["ops@twodesks.example"], STAFF, utcnow())
    db.session.commit()
    return customer


def test_an_address_refused_for_now_gets_the_notice_on_a_later_attempt(app, mail, make_case):
    customer = two_address_customer()
    notice = only_notice(make_case("redirected", identifiers=["ops@twodesks.example"]))
    first, second = notice.recipients
    mail.handler.fail_next(1, "450 4.2.1 Mailbox full, try later", stage="rcpt")  # the first RCPT TO
    assert counts(relay_pass()) == nothing_done() | {"sent": 1}
    db.session.refresh(notice)
    assert notice.delivery is Delivery.PENDING and notice.recipients == [first]
    assert first in notice.last_error and notice.attempts == 1

    assert counts(relay_pass(notice.next_attempt_at)) == nothing_done() | {"sent": 1}
    one, two = mail.handler.messages()
    assert (one.rcpt_tos, two.rcpt_tos) == ([second], [first])  # each address got it once
    assert one.message_id == two.message_id == relay.message_id(notice, SENDER)
    db.session.refresh(notice)
    assert notice.delivery is Delivery.SENT and notice.last_error is None
    assert list(customer.notice_emails) == [first, second]
    assert [e.data["recipients"] for e in events(AuditAction.NOTICE_SENT, notice)] == [[second], [first]]


def test_an_address_refused_for_good_is_recorded_and_the_rest_delivered(app, mail, make_case):
    two_address_customer()
    notice = only_notice(make_case("redirected", identifiers=["ops@twodesks.example"]))
    first, second = notice.recipients
    mail.handler.fail_next(1, "550 5.1.1 No such user here", stage="rcpt")
    assert counts(relay_pass()) == nothing_done() | {"sent": 1}
    [message] = mail.handler.messages()
    assert message.rcpt_tos == [second]
    db.session.refresh(notice)
    assert notice.delivery is Delivery.SENT and notice.last_error == f"refused: {first}"
    [sent] = events(AuditAction.NOTICE_SENT, notice)
    assert sent.data["refused"] == [first] and sent.data["recipients"] == [second]
    assert counts(relay_pass(utcnow() + timedelta(days=1))) == nothing_done()


# ---- a relay killed mid-batch; two relays at once -----------------------------------------

def flask_env(app, smtp, database_url: str) -> dict:
    """The environment an operator gives `flask --app app notices send`, for the
    test's database, instance folder and SMTP server."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("DUE_PROCESS_", "MAIL_")) and k not in ("DATABASE_URL", "SECRET_KEY",
                                                                              "PUBLIC_URL")}
    environ.update(
        DATABASE_URL=database_url, DUE_PROCESS_INSTANCE=app.instance_path, SECRET_KEY="test-secret-key",
        DUE_PROCESS_PASSWORD_HASH_PROFILE="fast", MAIL_SERVER=smtp.host, MAIL_PORT=str(smtp.port),
        MAIL_FROM=SENDER, PUBLIC_URL=PUBLIC_URL,
        DUE_PROCESS_NOTICE_LEASE_SECONDS=str(int(LEASE.total_seconds())),
    )
    return environ


@pytest.mark.slow
def test_a_relay_killed_mid_batch_loses_nothing_and_makes_no_second_notice(app, mail, make_case,
                                                                          make_customer, database_url):
    customers = [make_customer() for _ in range(4)]
    case = make_case("redirected", identifiers=[c.accounts[0].identifier for c in customers])
    ids = [n.id for n in notices.of_case(case.id)]
    assert len(ids) == 4
    before = notice_count()

    # The server takes the first message, then receives the second and never answers:
    # the relay is killed while it waits for the reply.
    mail.handler.hold_after(1)
    db.session.commit()
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "notices", "send"], cwd=ROOT,
                               env=flask_env(app, mail, database_url), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        for _ in range(600):  # up to a minute, but no longer than the relay lives
            if mail.handler.holding.wait(0.1) or process.poll() is not None:
                break
        if not mail.handler.holding.is_set():
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"the relay sent no second message:\n{out.decode()}\n{err.decode()}")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    mail.handler.release()

    db.session.expire_all()
    left = {n.id: n for n in notices.of_case(case.id)}
    assert left[ids[0]].delivery is Delivery.SENT
    # the rest were claimed by the dead relay; one was in flight when it died
    assert [left[i].delivery for i in ids[1:]] == [Delivery.SENDING] * 3
    assert [m.notice_id for m in mail.handler.messages()] == ids[:2]

    # Until the dead relay's lease runs out, nobody else touches its claims.
    assert counts(relay_pass(utcnow())) == nothing_done()
    assert counts(relay_pass(utcnow() + LEASE + timedelta(seconds=5))) == nothing_done() | {"sent": 3}

    assert notice_count() == before
    sent = {n.id: n for n in notices.of_case(case.id)}
    assert all(n.delivery is Delivery.SENT for n in sent.values())
    delivered = defaultdict(list)
    for message in mail.handler.messages():
        delivered[message.notice_id].append(message.message_id)
    assert sorted(delivered) == ids  # every notice arrived
    for notice_id, message_ids in delivered.items():
        assert set(message_ids) == {relay.message_id(sent[notice_id], SENDER)}  # a repeat is recognisable
    assert [i for i, m in delivered.items() if len(m) > 1] == [ids[1]]  # only the one in flight, twice
    assert max(len(m) for m in delivered.values()) == 2


@pytest.mark.slow
@pytest.mark.postgres_only
def test_two_relays_at_once_deliver_each_notice_exactly_once(app, mail, make_case, make_customer):
    customers = [make_customer() for _ in range(30)]
    case = make_case("redirected", identifiers=[c.accounts[0].identifier for c in customers])
    ids = [n.id for n in notices.of_case(case.id)]
    assert len(ids) == 30
    mail.handler.delay = 0.005
    db.session.commit()

    settings = relay.MailSettings.from_config(app.config)
    policy = relay.Policy(batch=1, base=BASE, lease=LEASE)  # a claim per notice: 30 races
    start, lockstep, results, crashes = threading.Barrier(2), threading.Barrier(2), [], []
    now = utcnow()

    def send_in_step(settings, message):
        # Really sent; then each relay waits for the other, so their next claims
        # race every time instead of drifting apart.
        refused = relay.smtp_send(settings, message)
        with contextlib.suppress(threading.BrokenBarrierError):  # the other relay has run dry
            lockstep.wait(0.5)
        return refused

    def relay_thread():
        try:
            with app.app_context():  # a session of its own
                start.wait(10)
                results.append(relay.send_pass(now, settings, policy, PUBLIC_URL, send=send_in_step))
        except Exception as exc:  # reported below; a thread cannot fail the test itself
            crashes.append(exc)

    threads = [threading.Thread(target=relay_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert crashes == [] and len(results) == 2
    assert sum(r.sent for r in results) == 30 and all(r.retrying == r.failed == 0 for r in results)

    message_ids = mail.handler.message_ids()
    assert len(message_ids) == 30 and len(set(message_ids)) == 30
    assert sorted(m.notice_id for m in mail.handler.messages()) == ids
    db.session.expire_all()
    assert all(n.delivery is Delivery.SENT and n.attempts == 1 for n in notices.of_case(case.id))
    assert sum(len(events(AuditAction.NOTICE_SENT, n)) for n in notices.of_case(case.id)) == 30


# ---- an NDO running out --------------------------------------------------------------------

def test_a_notice_held_by_an_ndo_is_released_on_its_end_date_and_mailed_once(app, mail, make_case):
    ends_on = utcnow().date() + timedelta(days=10)
    case = make_case("pending_approval", ndo=NDO | {"ends_on": ends_on.isoformat()})
    notice = only_notice(case)
    assert notice.kind is NoticeKind.INTENT_TO_DISCLOSE
    assert notice.hold_reason is HoldReason.NDO and notice.hold_until == ends_on
    assert notice.delivery is Delivery.WAITING and notice.released_at is None
    customer_id = notice.customer_id

    # An end date is a date somewhere we may not know: the order has ended once the
    # day has begun everywhere, at UTC-12 (notices.LAST_TIME_ZONE).
    end = midnight(ends_on) - notices.LAST_TIME_ZONE
    for now in (utcnow(), end - timedelta(days=5), midnight(ends_on), end - timedelta(microseconds=1)):
        assert counts(relay_pass(now)) == nothing_done(), now
        assert notices.for_customer(customer_id) == []  # invisible to the customer while held
    assert mail.handler.messages() == [] and notice in notices.held()

    assert counts(relay_pass(end)) == nothing_done() | {"released": 1, "sent": 1}
    db.session.refresh(notice)
    assert notice.released_at == end and notice.delivery is Delivery.SENT and soon_after(notice.sent_at, end)
    [released] = events(AuditAction.NOTICE_RELEASED, notice)
    assert released.actor == relay.RELAY_ACTOR.label and released.data["hold_until"] == ends_on.isoformat()
    assert notices.for_customer(customer_id) == [notice] and notice not in notices.held()
    [message] = mail.handler.messages()
    assert message.notice_id == notice.id and "intend to disclose" in message.text

    for now in (end + timedelta(hours=1), end + timedelta(days=1)):
        assert counts(relay_pass(now)) == nothing_done()
    assert len(mail.handler.messages()) == 1
    assert len(events(AuditAction.NOTICE_RELEASED, notice)) == 1
    assert len(events(AuditAction.NOTICE_SENT, notice)) == 1


# ---- no mail server; the CLI -----------------------------------------------------------------

def test_without_a_mail_server_the_portal_alone_carries_the_notice(app, make_case, smtp):
    app.config.update(MAIL_SERVER=None, PUBLIC_URL=PUBLIC_URL)
    notice = only_notice(make_case("redirected"))
    lines = cli_pairs(app, "notices", "send")
    assert dict(lines) == printed(not_configured=1, mail="not configured")
    db.session.refresh(notice)
    assert notice.delivery is Delivery.NOT_CONFIGURED and notice.next_attempt_at is None
    assert "MAIL_SERVER" in notice.last_error
    assert notices.for_customer(notice.customer_id) == [notice]
    assert notice in notices.failed()  # staff see it went unsent
    assert dict(cli_pairs(app, "notices", "send"))["not_configured"] == "0"

    # A mail server is set up later: the next pass sends what waited for one.
    app.config.update(smtp.config(SENDER))
    assert dict(cli_pairs(app, "notices", "send")) == printed(sent=1)
    assert [m.notice_id for m in smtp.handler.messages()] == [notice.id]
    with pytest.raises(Conflict):  # sent: nothing for staff to retry
        notices.retry(notice.id, Role.REVIEWER, STAFF, utcnow())


def test_the_send_command_prints_what_the_pass_did(app, mail, make_case):
    waiting = only_notice(make_case("redirected"))
    held = only_notice(make_case("pending_approval",
                                 ndo=NDO | {"ends_on": (utcnow().date() + timedelta(days=3)).isoformat()}))
    assert held.delivery is Delivery.WAITING
    # The command reads the real clock: let the order end today.
    db.session.execute(sa.update(Notice).where(Notice.id == held.id)
                       .values(hold_until=notices.today(utcnow())))
    mail.handler.fail_next(1, "451 4.3.0 Try again later")  # the first claimed: the one waiting longest

    lines = cli_pairs(app, "notices", "send")
    assert [key for key, _ in lines] == ["released", "sent", "retrying", "failed", "not_configured", "mail",
                                         "account_mail_sent", "account_mail_retrying", "account_mail_failed",
                                         "error"]
    assert dict(lines) == printed(released=1, sent=1, retrying=1,
                                  error=f"notice {waiting.id}: 451 4.3.0 Try again later")
    assert [m.notice_id for m in mail.handler.messages()] == [held.id]
    db.session.refresh(waiting)
    assert waiting.delivery is Delivery.PENDING and waiting.attempts == 1

    assert dict(cli_pairs(app, "notices", "send")) == printed()
