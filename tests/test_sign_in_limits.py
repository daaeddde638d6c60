"""The sign-in rate limit and the audit chain under load: parallel guesses stay
within the limit, refusals do not flood the log, argon2 never holds SQLite's
write lock, and verification reads one consistent snapshot."""

import threading
from collections import Counter

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from models import AuditAction, AuditEvent, MailKind, MailMessage, Role, SignInFailure, User, db, utcnow
from tests.conftest import PASSWORD
from workflows import audit
from workflows.audit import Actor
from workflows.errors import InvalidCredentials, RateLimited
from workflows.identity import auth, passwords, throttle

WRONG = "not the password at all"


def attempt(email: str, password: str, ip: str = "192.0.2.1") -> str:
    """One first-factor check, as the sign-in view makes it; returns the outcome."""
    try:
        auth.check_password(email, password, ip, utcnow())
    except InvalidCredentials:
        return "wrong"
    except RateLimited:
        return "refused"
    db.session.commit()
    return "ok"


def throttle_events() -> int:
    return db.session.scalar(
        select(func.count()).where(AuditEvent.action == AuditAction.SIGN_IN_THROTTLED.value)
    )


def test_an_unknown_email_costs_one_verification_not_a_fresh_hash(app, make_user, monkeypatch):
    """Unknown e-mails must cost what a wrong password costs, or timing tells them apart."""
    make_user(Role.REVIEWER)
    hashes = Counter()
    real = PasswordHasher.hash
    monkeypatch.setattr(PasswordHasher, "hash", lambda self, pw, **kw: (
        hashes.update(["hash"]), real(self, pw, **kw))[1])
    for n in range(4):
        assert attempt(f"nobody{n}@provider.example", WRONG, ip=f"192.0.2.{n}") == "wrong"
    assert hashes["hash"] <= 1  # the dummy hash, made once


def test_refusals_are_audited_once_per_window(app, make_user):
    user = make_user(Role.REVIEWER)
    outcomes = [attempt(user.email, WRONG) for _ in range(30)]
    assert outcomes == ["wrong"] * throttle.PER_PAIR + ["refused"] * (30 - throttle.PER_PAIR)
    assert throttle_events() == 1
    assert db.session.scalar(select(func.count()).select_from(SignInFailure)) == throttle.PER_PAIR


def test_a_stranger_elsewhere_cannot_lock_the_user_out(app, make_user):
    user = make_user(Role.REVIEWER)
    for _ in range(throttle.PER_PAIR):
        assert attempt(user.email, WRONG, ip="198.51.100.7") == "wrong"
    assert attempt(user.email, PASSWORD, ip="198.51.100.7") == "refused"
    assert attempt(user.email, PASSWORD, ip="203.0.113.9") == "ok"


def test_guesses_spread_over_addresses_meet_the_per_email_cap(app, make_user):
    user = make_user(Role.REVIEWER)
    outcomes = [attempt(user.email, WRONG, ip=f"10.0.{n // 4}.{n % 4}") for n in range(40)]
    assert outcomes.count("wrong") == throttle.PER_EMAIL
    assert attempt(user.email, PASSWORD, ip="10.9.9.9") == "refused"


def test_a_successful_attempt_does_not_count(app, make_user):
    user = make_user(Role.CUSTOMER)
    for _ in range(throttle.PER_PAIR + 3):
        assert attempt(user.email, PASSWORD) == "ok"
    assert db.session.scalar(select(func.count()).select_from(SignInFailure)) == 0


@pytest.mark.slow
def test_parallel_guesses_stay_within_the_limit(app, make_user):
    """Twelve guesses at once: only five are ever checked."""
    app.extensions["password_hasher"] = PasswordHasher(**passwords.PROFILES["rfc9106"])
    user = make_user(Role.REVIEWER)
    email = user.email
    db.session.commit()
    start, outcomes = threading.Barrier(12), Counter()

    def guess():
        with app.app_context():
            start.wait()
            outcomes.update([attempt(email, WRONG)])
            db.session.remove()

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == Counter(wrong=throttle.PER_PAIR, refused=12 - throttle.PER_PAIR)


def test_password_checks_run_outside_the_write_lock(app, make_user, monkeypatch):
    """While one sign-in's argon2 check runs, another request can still write."""
    user = make_user(Role.REVIEWER)
    email = user.email
    db.session.commit()
    checking, finish = threading.Event(), threading.Event()
    real_verify = passwords.verify

    def slow_verify(stored, password):
        checking.set()
        finish.wait(timeout=20)
        return real_verify(stored, password)

    monkeypatch.setattr(passwords, "verify", slow_verify)

    def sign_in_slowly():
        with app.app_context():
            attempt(email, WRONG)
            db.session.remove()

    slow = threading.Thread(target=sign_in_slowly)
    slow.start()
    try:
        assert checking.wait(timeout=20)
        audit.record(AuditAction.USER_CREATED, Actor.system("test"))  # a write, meanwhile
        db.session.commit()
    finally:
        finish.set()
        slow.join()
    assert audit.verify().intact


def test_verification_reads_one_snapshot_while_others_append(app):
    for _ in range(20):
        audit.record(AuditAction.SIGN_IN_FAILED, Actor.system("test"))
    db.session.commit()
    stop = threading.Event()

    def keep_appending():
        with app.app_context():
            while not stop.is_set():
                audit.record(AuditAction.SIGN_IN_FAILED, Actor.system("load"))
                db.session.commit()
            db.session.remove()

    writer = threading.Thread(target=keep_appending)
    writer.start()
    try:
        results = [audit.verify() for _ in range(15)]
    finally:
        stop.set()
        writer.join()
    assert all(r.intact for r in results), [r.reason for r in results if not r.intact]
    assert [r.head_seq for r in results] == sorted(r.head_seq for r in results)


def test_event_times_never_run_backwards_in_chain_order(app):
    later = utcnow()
    audit.record(AuditAction.SIGN_IN_FAILED, Actor.system("test"), now=later)
    earlier = later.replace(year=later.year - 1)
    event = audit.record(AuditAction.SIGN_IN_FAILED, Actor.system("test"), now=earlier)
    db.session.commit()
    assert event.at == later
    assert audit.verify().intact


def test_a_disabled_user_with_the_right_password_fails_like_anyone(app, make_user):
    user = make_user(Role.REVIEWER, active=False)
    assert attempt(user.email, PASSWORD) == "wrong"
    assert db.session.get(User, user.id).last_sign_in_at is None


# ---- wrong codes add up to a lock -------------------------------------------------------


def code_at(user: User, at) -> str:
    import pyotp

    return pyotp.TOTP(user.totp_secret).at(at)


def wrong_code_at(user: User, at) -> str:
    right = code_at(user, at)
    return next(c for c in ("000000", "111111", "222222") if c != right)


def test_ten_wrong_codes_lock_the_code_step_for_an_hour(app, make_user):
    """Whoever knows the password may not go on guessing codes: ten wrong ones within
    an hour lock the code step (even the right code is refused, unread) until
    the first of them is an hour old. Attempts are 20 s apart, under the
    per-minute limits, as a patient attacker would space them. The owner is mailed
    at the first wrong code and at the lock, once each."""
    from datetime import timedelta

    user = make_user(Role.REVIEWER)
    start = utcnow()
    for n in range(throttle.CODE_LOCK_FAILURES):
        with pytest.raises(InvalidCredentials):
            auth.check_code(user, wrong_code_at(user, start + timedelta(seconds=20 * n)), "198.51.100.7",
                            start + timedelta(seconds=20 * n))
    locked_at = start + timedelta(seconds=20 * throttle.CODE_LOCK_FAILURES)
    with pytest.raises(RateLimited) as locked:
        auth.check_code(user, code_at(user, locked_at), "198.51.100.7", locked_at)
    assert locked.value.code == "mfa_locked" and "someone may know your password" in locked.value.message
    db.session.refresh(user)
    assert user.totp_last_step is None  # the right code was not used up by the refusal
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == AuditAction.MFA_LOCKED.value)).all()
    assert len(events) == 1 and events[0].data["failures"] == throttle.CODE_LOCK_FAILURES
    assert events[0].at == start + timedelta(seconds=20 * (throttle.CODE_LOCK_FAILURES - 1))  # at the tenth
    told = db.session.scalars(select(MailMessage).where(MailMessage.user_id == user.id)
                              .order_by(MailMessage.id)).all()
    assert [(m.kind, m.recipients) for m in told] == [(MailKind.MFA_FAILED, [user.email]),
                                                      (MailKind.MFA_LOCKED, [user.email])]
    assert "198.51.100.7" in told[0].body and "locked for up to an hour" in told[1].body

    # Once the first failure is an hour old, the right code works again.
    later = start + throttle.CODE_LOCK_WINDOW + timedelta(seconds=1)
    auth.check_code(user, code_at(user, later), "198.51.100.7", later)
    db.session.commit()


def test_a_sign_in_wipes_the_slate(app, make_user):
    """Failures before the user's last sign-in do not count towards a lock."""
    from datetime import timedelta

    user = make_user(Role.REVIEWER)
    start = utcnow()
    for n in range(throttle.CODE_LOCK_FAILURES - 1):
        with pytest.raises(InvalidCredentials):
            auth.check_code(user, wrong_code_at(user, start + timedelta(seconds=20 * n)), "198.51.100.7",
                            start + timedelta(seconds=20 * n))
    signed_in = start + timedelta(seconds=200)
    audit.record(AuditAction.SIGN_IN, Actor(user.email, user.id, "198.51.100.7"), subject=("user", user.id),
                 now=signed_in)
    db.session.commit()
    after = signed_in + timedelta(seconds=20)
    with pytest.raises(InvalidCredentials):  # one more wrong code: a failure, not a lock
        auth.check_code(user, wrong_code_at(user, after), "198.51.100.7", after)
