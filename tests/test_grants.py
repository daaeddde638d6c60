"""Two people for every grant of power, and four eyes between people (DESIGN 11.8):
a staff user or a role change takes effect only when a second administrator
approves it; the new user sets their own password from an invitation; approvers
and auditors are told of each grant; and two reviewers and approvers made by the
same two administrators cannot take a disclosure through together."""

import re
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import (
    AuditAction,
    AuditEvent,
    Grant,
    GrantState,
    MailKind,
    MailMessage,
    Role,
    State,
    User,
    db,
    utcnow,
)
from tests.conftest import (
    MAIL_PUBLIC_URL,
    caller_for,
    csrf_from,
    fresh_code,
    post_form,
    relay_pass,
    sign_in,
    window_ran,
)
from workflows.audit import Actor
from workflows.cases import machine as case_machine
from workflows.errors import Conflict, InvalidInput, NotAllowed
from workflows.identity import grants

NEW_PASSWORD = "my own long passphrase"
INVITE = re.compile(r"https://due-process\.provider\.example/invitation/([A-Za-z0-9_-]+)")






@pytest.fixture
def admins(make_user, new_client):
    """Two administrators, each signed in in a browser of their own."""
    made = []
    for name in ("ada", "bo"):
        user = make_user(Role.ADMIN, email=f"{name}.admin@provider.example")
        client = new_client()
        assert sign_in(client, user).status_code == 302
        made.append((user, client))
    return made


def actor_of(user: User) -> Actor:
    return Actor(user.email, user.id)


def grant_of(email: str) -> Grant:
    return db.session.scalar(sa.select(Grant).where(Grant.email == email).order_by(Grant.id.desc()))


def propose(client, email: str, role: str = "reviewer"):
    return post_form(client, "/admin/users/new", {"email": email, "name": "Nina New", "role": role},
                     page_url="/admin/users/new")


def decide(client, grant_id: int, verb: str, note: str = ""):
    return post_form(client, f"/admin/grants/{grant_id}/{verb}", {"note": note}, page_url="/admin/grants")


def events(action: AuditAction) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action.value)
                              .order_by(AuditEvent.seq)).all()


def test_a_new_staff_user_needs_a_second_administrator_and_sets_their_own_password(
        app, admins, make_user, new_client, mailbox):
    (ada, ada_client), (bo, bo_client) = admins
    approver = make_user(Role.APPROVER, email="amara@provider.example")
    auditor = make_user(Role.AUDITOR, email="aurelio@provider.example")
    make_user(Role.AUDITOR, email="retired@provider.example", active=False)
    assert propose(ada_client, "nina@provider.example").status_code == 303
    grant = grant_of("nina@provider.example")
    assert db.session.scalar(sa.select(User).where(User.email == "nina@provider.example")) is None

    refused = decide(ada_client, grant.id, "approve")  # the proposer alone: refused
    assert refused.status_code == 403 and "you proposed it" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert grant_of("nina@provider.example").state is GrantState.PENDING

    assert decide(bo_client, grant.id, "approve").status_code == 303
    nina = db.session.scalar(sa.select(User).where(User.email == "nina@provider.example"))
    assert nina.role is Role.REVIEWER and not nina.must_change_password
    [created] = [e for e in events(AuditAction.USER_CREATED) if e.subject_id == str(nina.id)]
    assert created.actor_id == bo.id
    assert [e.actor_id for e in events(AuditAction.GRANT_PROPOSED)] == [ada.id]
    assert [e.actor_id for e in events(AuditAction.GRANT_APPROVED)] == [bo.id]

    relay_pass()
    by_subject = {m.subject: m for m in mailbox.handler.messages()}
    invitation = by_subject["You are invited to Due Process"]
    assert invitation.to == "nina@provider.example" and "as Reviewer" in invitation.text
    told = by_subject["nina@provider.example now holds the role Reviewer"]
    assert sorted(told.rcpt_tos) == sorted([approver.email, auditor.email])  # the active ones only
    assert "proposed by ada.admin@provider.example and approved by bo.admin@provider.example" in told.text

    # Nina sets her own password from the link, then enrols her authenticator.
    token = INVITE.search(invitation.text).group(1)
    browser = new_client()
    page = browser.get(f"/invitation/{token}")
    assert page.status_code == 200 and "nina@provider.example" in page.get_data(as_text=True)
    done = browser.post(f"/invitation/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                                      "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert done.status_code == 303
    page = browser.get("/sign-in").get_data(as_text=True)
    step = browser.post("/sign-in", data={"email": nina.email, "password": NEW_PASSWORD,
                                          "csrf_token": csrf_from(page)})
    assert step.headers["Location"].endswith("/sign-in/enrol")
    page = browser.get("/sign-in/enrol").get_data(as_text=True)
    db.session.refresh(nina)
    assert browser.post("/sign-in/enrol", data={"code": fresh_code(nina), "csrf_token": csrf_from(page)}
                        ).headers["Location"] == "/home"
    assert new_client().get(f"/invitation/{token}").status_code == 410  # spent


def test_a_role_change_waits_for_a_second_administrator_and_signs_the_user_out(app, admins, make_user,
                                                                                new_client):
    (_ada, ada_client), (bo, bo_client) = admins
    rita = make_user(Role.REVIEWER, email="rita@provider.example")
    rita_client = new_client()
    sign_in(rita_client, rita)
    page = f"/admin/users/{rita.id}"
    assert post_form(ada_client, f"{page}/role", {"role": "approver"}, page_url=page).status_code == 303
    db.session.refresh(rita)
    assert rita.role is Role.REVIEWER and rita_client.get("/home").status_code == 200
    detail = ada_client.get(page).get_data(as_text=True)
    assert "Approver, proposed by ada.admin@provider.example" in detail

    grant = grant_of(rita.email)
    assert decide(bo_client, grant.id, "approve").status_code == 303
    db.session.refresh(rita)
    assert rita.role is Role.APPROVER
    assert "/sign-in" in rita_client.get("/home").headers["Location"]  # signed out: the new role starts anew
    [changed] = events(AuditAction.USER_ROLE_CHANGED)
    assert changed.actor_id == bo.id and changed.data["previous_role"] == "reviewer"


def test_nobody_grants_power_to_themselves(app, admins):
    (ada, ada_client), (bo, _bo_client) = admins
    page = f"/admin/users/{ada.id}"
    own = post_form(ada_client, f"{page}/role", {"role": "approver"}, page_url=page)
    assert own.status_code == 403 and "your own role" in own.get_data(as_text=True)
    # Bo proposes a change of Ada's role: Ada, the user concerned, may not approve it.
    grants.propose_role(ada.id, Role.AUDITOR, actor_of(bo), utcnow())
    db.session.commit()
    refused = decide(ada_client, grant_of(ada.email).id, "approve")
    assert refused.status_code == 403 and "to yourself" in refused.get_data(as_text=True)


def test_a_proposal_may_be_refused_or_withdrawn_and_then_nothing_happens(app, admins):
    (_ada, ada_client), (_bo, bo_client) = admins
    propose(ada_client, "first@provider.example")
    propose(ada_client, "second@provider.example")
    first, second = grant_of("first@provider.example").id, grant_of("second@provider.example").id
    assert decide(bo_client, first, "refuse", "Not one of ours.").status_code == 303
    assert decide(ada_client, second, "refuse").status_code == 303  # withdrawn by its proposer
    db.session.expire_all()
    assert {g.state for g in db.session.scalars(sa.select(Grant))} == {GrantState.REFUSED}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(
        User.email.in_(["first@provider.example", "second@provider.example"]))) == 0
    assert decide(bo_client, grant_of("second@provider.example").id, "approve").status_code == 409
    # A refused address may be proposed again; one waiting grant per address.
    assert propose(ada_client, "first@provider.example").status_code == 303
    assert propose(bo_client, "first@provider.example").status_code == 409


def test_staff_addresses_must_be_on_the_configured_domains(app, admins):
    (_ada, ada_client), _ = admins
    app.config["STAFF_DOMAINS"] = ""
    page = propose(ada_client, "nina@provider.example")
    assert page.status_code == 422 and "No staff e-mail domains are configured" in page.get_data(as_text=True)
    app.config["STAFF_DOMAINS"] = "provider.example, provider-staff.example"
    assert propose(ada_client, "nina@provider-staff.example").status_code == 303
    assert propose(ada_client, "nina@sub.provider.example").status_code == 422


@pytest.mark.postgres_only
def test_two_approvals_at_once_grant_once(app, make_user):
    ada, bo, cy = (make_user(Role.ADMIN) for _ in range(3))
    grant = grants.propose_user("nina@provider.example", "Nina", Role.APPROVER, actor_of(ada), utcnow(),
                                ("provider.example",))
    db.session.commit()
    grant_id, results, barrier = grant.id, [], threading.Barrier(2)

    def approve(admin_id: int):
        with app.app_context():
            admin = db.session.get(User, admin_id)
            barrier.wait()
            try:
                grants.decide(grant_id, True, actor_of(admin), utcnow(), MAIL_PUBLIC_URL)
                db.session.commit()
                results.append("approved")
            except Conflict:
                db.session.rollback()
                results.append("conflict")

    threads = [threading.Thread(target=approve, args=(a.id,)) for a in (bo, cy)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["approved", "conflict"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(
        User.email == "nina@provider.example")) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MailMessage).where(
        MailMessage.kind == MailKind.INVITATION)) == 1


def test_an_operator_grant_at_the_server_is_announced_too(app, cli, make_user):
    approver = make_user(Role.APPROVER)
    result = cli("users", "create", "ops@provider.example", "--role", "admin", "--password",
                 "an operator's passphrase")
    assert result.exit_code == 0, result.output
    [told] = db.session.scalars(sa.select(MailMessage).where(MailMessage.kind == MailKind.STAFF_GRANT)).all()
    assert told.recipients == [approver.email] and "by an operator" in told.body
    cli("users", "create", "cora@contoso.example", "--role", "customer", "--customer-id",
        str(make_user(Role.CUSTOMER).customer_id))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MailMessage).where(
        MailMessage.kind == MailKind.STAFF_GRANT)) == 1  # a customer's user is no staff grant


# ---- four eyes between people ------------------------------------------------------

def granted(role: Role, proposer: User, approver: User, email: str) -> User:
    grant = grants.propose_user(email, "", role, actor_of(proposer), utcnow(), ("provider.example",))
    db.session.commit()
    grants.decide(grant.id, True, actor_of(approver), utcnow(), MAIL_PUBLIC_URL)
    db.session.commit()
    return db.session.scalar(sa.select(User).where(User.email == email))


def proposed_by(make_case, reviewer: User):
    case = make_case("legal_review")
    case_machine.advance(case.id, case_machine.Move("propose_disclosure", categories=["content"]),
                         caller_for(reviewer), utcnow())
    window_ran(case.id)
    return case


def approve(case, approver: User, at=None):
    return case_machine.advance(case.id, case_machine.Move("approve", note="Approved."),
                                caller_for(approver, at), at or utcnow())


def refusal_codes(case, approver: User, at=None) -> list[str]:
    with pytest.raises(InvalidInput) as refused:
        approve(case, approver, at)
    db.session.rollback()
    assert refused.value.code == "guard_failed"
    return refused.value.reasons


def test_two_administrators_cannot_take_a_disclosure_through_with_people_they_made(app, make_user, make_case):
    """The medium finding: administrators make a reviewer and an approver and use
    them together. Two are needed for any grant now, and even two cannot: the pair
    that granted both roles within 30 days is refused (same_grantor), and so is an
    approver less than a day old (new_approver)."""
    ada, bo, cy = (make_user(Role.ADMIN, email=f"{n}@provider.example") for n in ("ada", "bo", "cy"))
    reviewer = granted(Role.REVIEWER, ada, bo, "puppet.reviewer@provider.example")
    approver = granted(Role.APPROVER, bo, ada, "puppet.approver@provider.example")  # same pair, other way
    case = proposed_by(make_case, reviewer)

    assert sorted(refusal_codes(case, approver)) == ["new_approver", "same_grantor"]
    tomorrow = utcnow() + grants.NEW_APPROVER_PERIOD + timedelta(minutes=1)
    assert refusal_codes(case, approver, tomorrow) == ["same_grantor"]

    # Another pair granted this approver: past a day, they approve.
    other = granted(Role.APPROVER, ada, cy, "independent.approver@provider.example")
    assert refusal_codes(case, other) == ["new_approver"]
    assert approve(case, other, tomorrow).state is State.DISCLOSED


def test_the_same_pair_counts_only_within_thirty_days(app, make_user, make_case):
    ada, bo = make_user(Role.ADMIN), make_user(Role.ADMIN)
    reviewer = granted(Role.REVIEWER, ada, bo, "old.reviewer@provider.example")
    approver = granted(Role.APPROVER, ada, bo, "old.approver@provider.example")
    long_ago = utcnow() - grants.SAME_GRANTOR_PERIOD - timedelta(days=1)
    db.session.execute(sa.update(Grant).values(decided_at=long_ago, requested_at=long_ago))
    db.session.commit()
    case = proposed_by(make_case, reviewer)
    assert approve(case, approver).state is State.DISCLOSED


def test_the_reasons_are_shown_to_the_approver(app, make_user, make_case, new_client):
    ada, bo = make_user(Role.ADMIN), make_user(Role.ADMIN)
    reviewer = granted(Role.REVIEWER, ada, bo, "r@provider.example")
    approver = granted(Role.APPROVER, ada, bo, "a@provider.example")
    approver.password_hash = make_user(Role.APPROVER).password_hash  # the test's password, to sign in
    db.session.commit()
    case = proposed_by(make_case, reviewer)
    client = new_client()
    sign_in(client, approver)
    page = f"/cases/{case.id}"
    html = client.get(page).get_data(as_text=True)
    resp = client.post(f"{page}/transitions", data={
        "trigger": "approve", "note": "Approved.", "categories": "content", "version": str(case.version),
        "confirm": "yes", "csrf_token": csrf_from(html)})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "less than 24 hours ago" in text and "same two administrators" in text
    db.session.refresh(case)
    assert case.state is State.PENDING_APPROVAL


def test_roles_from_an_operator_do_not_count(app, make_user, make_case):
    """Users made at the server (`users create`, the demo) owe their role to no
    administrator: neither rule applies to them."""
    reviewer, approver = make_user(Role.REVIEWER), make_user(Role.APPROVER)
    assert grants.four_eyes_refusals(reviewer.id, approver.id, utcnow()) == []
    with pytest.raises(NotAllowed):
        grants.propose_user("x@provider.example", "", Role.REVIEWER, Actor.system("cli"), utcnow(),
                            ("provider.example",))


def test_only_an_active_administrator_proposes_or_decides(app, make_user):
    """The rule is the workflow's, whatever calls it."""
    ada, reviewer = make_user(Role.ADMIN), make_user(Role.REVIEWER)
    grant = grants.propose_user("nina@provider.example", "", Role.AUDITOR, actor_of(ada), utcnow(),
                                ("provider.example",))
    db.session.commit()
    with pytest.raises(NotAllowed):
        grants.propose_user("x@provider.example", "", Role.APPROVER, actor_of(reviewer), utcnow(),
                            ("provider.example",))
    with pytest.raises(NotAllowed):
        grants.decide(grant.id, True, actor_of(reviewer), utcnow(), MAIL_PUBLIC_URL)
    db.session.rollback()
    bo = make_user(Role.ADMIN, active=False)
    with pytest.raises(NotAllowed):
        grants.decide(grant.id, True, actor_of(bo), utcnow(), MAIL_PUBLIC_URL)
