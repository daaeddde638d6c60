"""Forgotten passwords (DESIGN 11.4): a reset link by e-mail, the same answer for
any address, single use, one hour, rate-limited, sent by the relay to a real SMTP
server on loopback; the account-mail outbox it goes through."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import (
    AuditAction,
    AuditEvent,
    Delivery,
    Invitation,
    MailKind,
    MailMessage,
    Role,
    UserSession,
    db,
    utcnow,
)
from tests.conftest import PASSWORD, csrf_from, fresh_code, pairs, relay_pass, sign_in
from workflows.errors import Gone
from workflows.identity import links, resets

NEW_PASSWORD = "a brand new passphrase"
LINK = re.compile(r"https://due-process\.provider\.example/password/reset/([A-Za-z0-9_-]+)")






def ask(client, email: str, **headers):
    page = client.get("/password/forgot", headers=headers).get_data(as_text=True)
    return client.post("/password/forgot", data={"email": email, "csrf_token": csrf_from(page)},
                       headers=headers)


def messages(kind: MailKind) -> list[MailMessage]:
    return db.session.scalars(sa.select(MailMessage).where(MailMessage.kind == kind)
                              .order_by(MailMessage.id)).all()


def emailed_token(mailbox) -> str:
    relay_pass()
    received = [m for m in mailbox.handler.messages() if "Reset" in m.subject]
    return LINK.search(received[-1].text).group(1)


def choose(client, token: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    page = client.get(f"/password/reset/{token}")
    if page.status_code != 200:
        return page
    return client.post(f"/password/reset/{token}", data={
        "password": password, "confirm": password if confirm is None else confirm,
        "csrf_token": csrf_from(page.get_data(as_text=True))})


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(app, new_client, make_user,
                                                                          mailbox):
    user = make_user(Role.REVIEWER, email="known@provider.example")
    known = ask(new_client(), "Known@Provider.example")
    unknown = ask(new_client(), "nobody@provider.example")
    assert known.status_code == unknown.status_code == 200
    strip = re.compile(r'name="csrf_token"[^>]*>|<strong>[^<]*</strong>', re.I)
    assert strip.sub("", known.get_data(as_text=True)) == strip.sub("", unknown.get_data(as_text=True))
    assert [m.recipients for m in messages(MailKind.PASSWORD_RESET)] == [[user.email]]
    events = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.PASSWORD_RESET_REQUESTED.value).order_by(AuditEvent.seq)).all()
    assert [(e.subject_id, e.data["sent"]) for e in events] == [(str(user.id), True), (None, False)]


def test_the_link_sets_a_new_password_once_and_ends_every_session(app, client, new_client, make_user,
                                                                  mailbox):
    user = make_user(Role.REVIEWER, email="forgetful@provider.example")
    assert sign_in(client, user).status_code == 302
    ask(new_client(), user.email)
    token = emailed_token(mailbox)
    received = mailbox.handler.messages()[-1]
    assert received.to == user.email and "within 60 minutes" in received.text
    stored = messages(MailKind.PASSWORD_RESET)[0]
    assert stored.delivery is Delivery.SENT and stored.body is None  # the link does not outlive its sending

    other = new_client()
    done = choose(other, token)
    assert done.status_code == 303 and done.headers["Location"].endswith("/sign-in")
    assert "/sign-in" in client.get("/home").headers["Location"]  # the old session ended
    live = db.session.scalar(sa.select(sa.func.count()).select_from(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None)))
    assert live == 0
    assert choose(new_client(), token).status_code == 410  # spent

    # The new password works, the old does not; the second factor is still asked for.
    fresh = new_client()
    page = fresh.get("/sign-in").get_data(as_text=True)
    assert fresh.post("/sign-in", data={"email": user.email, "password": PASSWORD,
                                        "csrf_token": csrf_from(page)}).status_code == 401
    page = fresh.get("/sign-in").get_data(as_text=True)
    step = fresh.post("/sign-in", data={"email": user.email, "password": NEW_PASSWORD,
                                        "csrf_token": csrf_from(page)})
    assert step.headers["Location"].endswith("/sign-in/code")
    page = fresh.get("/sign-in/code").get_data(as_text=True)
    assert fresh.post("/sign-in/code", data={"code": fresh_code(user), "csrf_token": csrf_from(page)}
                      ).status_code == 302

    # The owner is told of the change, in a message of its own.
    relay_pass()
    assert [m.subject for m in mailbox.handler.messages()][-1] == "Your Due Process password was changed"
    reset = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.PASSWORD_RESET.value)).all()
    assert [e.subject_id for e in reset] == [str(user.id)]


def test_a_link_lasts_an_hour_and_a_newer_one_replaces_it(app, new_client, make_user, mailbox):
    user = make_user(Role.CUSTOMER, email="customer@tenant.example")
    ask(new_client(), user.email)
    first = emailed_token(mailbox)
    with pytest.raises(Gone) as expired:
        links.pending(first, links.PASSWORD_RESET, utcnow() + timedelta(hours=1, seconds=1))
    assert expired.value.code == "password_reset_expired"
    ask(new_client(), user.email)
    second = emailed_token(mailbox)
    assert choose(new_client(), first).status_code == 410
    assert choose(new_client(), second).status_code == 303


def test_mismatched_or_weak_passwords_are_form_errors_and_spend_nothing(app, new_client, make_user, mailbox):
    user = make_user(Role.REVIEWER)
    ask(new_client(), user.email)
    token = emailed_token(mailbox)
    assert choose(new_client(), token, confirm="something else entirely").status_code == 422
    assert choose(new_client(), token, password="short").status_code == 422
    link = db.session.scalar(sa.select(Invitation).where(Invitation.user_id == user.id))
    assert link.used_at is None and link.purpose == "password_reset"


def test_a_reset_link_is_no_invitation_and_an_invitation_no_reset_link(app, new_client, make_user, cli,
                                                                        make_agency, mailbox):
    user = make_user(Role.REVIEWER)
    ask(new_client(), user.email)
    token = emailed_token(mailbox)
    assert new_client().get(f"/agency/invitation/{token}").status_code == 404
    agency = make_agency().agency
    invited = cli("officers", "invite", "officer@police.example", "--agency-id", str(agency.id))
    invitation = pairs(invited.stdout)["invite_url"].rsplit("/", 1)[1]
    assert new_client().get(f"/password/reset/{invitation}").status_code == 404
    assert new_client().get("/password/reset/not-a-token").status_code == 404


def test_disabled_accounts_get_nothing_and_one_account_three_an_hour(app, new_client, make_user, mailbox):
    disabled = make_user(Role.REVIEWER, email="gone@provider.example")
    disabled.active = False
    user = make_user(Role.REVIEWER, email="busy@provider.example")
    db.session.commit()
    assert ask(new_client(), disabled.email).status_code == 200
    for n in range(resets.RESETS_PER_HOUR + 1):
        assert ask(new_client(), user.email, **{"X-Forwarded-For": f"198.51.100.{n}"}).status_code == 200
    assert [m.user_id for m in messages(MailKind.PASSWORD_RESET)] == [user.id] * resets.RESETS_PER_HOUR


def test_asking_is_rate_limited_like_signing_in(app, client, make_user, mailbox):
    user = make_user(Role.REVIEWER)
    answers = [ask(client, user.email).status_code for _ in range(6)]
    assert answers[-1] == 429 and 429 not in answers[:5]


def test_the_link_points_at_the_configured_address_whatever_the_host_header(app, new_client, make_user,
                                                                           mailbox):
    user = make_user(Role.REVIEWER)
    assert ask(new_client(), user.email, Host="evil.example").status_code == 200
    relay_pass()
    text = mailbox.handler.messages()[-1].text
    assert "evil.example" not in text and LINK.search(text)


def test_the_sign_in_page_offers_the_reset(app, client):
    page = client.get("/sign-in").get_data(as_text=True)
    assert 'href="/password/forgot"' in page
