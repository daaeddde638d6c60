"""A customer's portal users are the customer's (DESIGN 11.8): no administrator
makes a live one or knows its password. The medium finding this answers: an
administrator made a portal user for another customer, with a password of their
own, signed in as it and read all of that customer's notices."""

import re

import pytest
import sqlalchemy as sa

from models import AuditAction, AuditEvent, Grant, GrantState, MailKind, MailMessage, Role, User, db
from tests.conftest import PASSWORD, csrf_from, post_form, relay_pass, sign_in

ACCEPT = re.compile(r"https://due-process\.provider\.example/portal/accept/([A-Za-z0-9_-]+)")
INVITE = re.compile(r"https://due-process\.provider\.example/invitation/([A-Za-z0-9_-]+)")






@pytest.fixture
def admin_client(make_user, new_client):
    client = new_client()
    sign_in(client, make_user(Role.ADMIN, email="ada.admin@provider.example"))
    return client


def user_named(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email))


def ask(admin_client, customer, email="cora@contoso.example"):
    return post_form(admin_client, "/admin/portal-users/new",
                     {"customer_id": str(customer.id), "email": email, "name": "Cora"},
                     page_url="/admin/portal-users/new")


def answer_link(client, token: str, answer: str):
    page = client.get(f"/portal/accept/{token}")
    if page.status_code != 200:
        return page
    csrf = csrf_from(page.get_data(as_text=True))
    return client.post(f"/portal/accept/{token}", data={"answer": answer, "csrf_token": csrf})


def test_no_administrator_makes_a_live_portal_user(app, admin_client, make_customer, new_client, make_user):
    """Every way the admin pages offer: the new-user form refuses the customer role,
    a request makes nobody, and an administrator cannot accept it."""
    customer = make_customer("Contoso", accounts=["alice@contoso.example"])
    page = post_form(admin_client, "/admin/users/new", {
        "email": "cora@contoso.example", "role": "customer", "customer_id": str(customer.id),
        "password": "the admin's own passphrase"}, page_url="/admin/users/new")
    assert page.status_code == 422 and user_named("cora@contoso.example") is None

    assert ask(admin_client, customer).status_code == 303
    grant = db.session.scalar(sa.select(Grant).where(Grant.email == "cora@contoso.example"))
    assert grant.for_customer and grant.state is GrantState.PENDING
    assert user_named("cora@contoso.example") is None
    other_admin = new_client()
    sign_in(other_admin, make_user(Role.ADMIN))
    refused = post_form(other_admin, f"/admin/grants/{grant.id}/approve", {}, page_url="/admin/grants")
    assert refused.status_code == 403 and "The customer accepts its own portal users" in refused.get_data(
        as_text=True)
    assert user_named("cora@contoso.example") is None
    # The password cannot be set by anyone but Cora: no form takes one.
    assert 'type="password"' not in admin_client.get("/admin/portal-users/new").get_data(as_text=True)


def test_the_notice_address_accepts_and_the_new_user_sets_their_password(app, admin_client, make_customer,
                                                                         new_client, mailbox):
    customer = make_customer("Contoso", accounts=["alice@contoso.example"])
    customer.notice_emails = ["legal@contoso.example"]
    db.session.commit()
    ask(admin_client, customer)
    relay_pass()
    [request] = mailbox.handler.messages()
    assert request.rcpt_tos == ["legal@contoso.example"] and "ada.admin@provider.example" in request.text
    token = ACCEPT.search(request.text).group(1)

    page = new_client().get(f"/portal/accept/{token}").get_data(as_text=True)
    assert "cora@contoso.example" in page and "Contoso" in page
    assert answer_link(new_client(), token, "accept").status_code == 200
    cora = user_named("cora@contoso.example")
    assert cora.role is Role.CUSTOMER and cora.customer_id == customer.id
    assert answer_link(new_client(), token, "accept").status_code == 404  # spent: the link names nothing now

    relay_pass()
    by_subject = {m.subject: m for m in mailbox.handler.messages()}
    invitation = by_subject["You are invited to Contoso's Due Process portal"]
    assert invitation.rcpt_tos == ["cora@contoso.example"]
    added = by_subject["A new user of your Due Process portal: cora@contoso.example"]
    assert added.rcpt_tos == ["legal@contoso.example"]
    assert "accepted through the link sent to the notice address" in added.text

    link = INVITE.search(invitation.text).group(1)
    browser = new_client()
    form = browser.get(f"/invitation/{link}").get_data(as_text=True)
    assert browser.post(f"/invitation/{link}", data={"password": "cora's own passphrase",
                                                     "confirm": "cora's own passphrase",
                                                     "csrf_token": csrf_from(form)}).status_code == 303
    sign_in(browser, cora, "cora's own passphrase")
    assert "Contoso" in browser.get("/portal/").get_data(as_text=True)
    [approved] = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.GRANT_APPROVED.value)).all()
    assert approved.actor_id is None and approved.data["customer_id"] == customer.id


def test_declining_or_withdrawing_makes_nobody(app, admin_client, make_customer, new_client, mailbox):
    customer = make_customer("Contoso")
    ask(admin_client, customer, "first@contoso.example")
    ask(admin_client, customer, "second@contoso.example")
    relay_pass()
    tokens = {m.subject.split("(")[1].rstrip(")"): ACCEPT.search(m.text).group(1)
              for m in mailbox.handler.messages()}
    assert answer_link(new_client(), tokens["first@contoso.example"], "decline").status_code == 200
    second = db.session.scalar(sa.select(Grant).where(Grant.email == "second@contoso.example"))
    post_form(admin_client, f"/admin/grants/{second.id}/refuse", {}, page_url="/admin/grants")  # withdrawn
    assert answer_link(new_client(), tokens["second@contoso.example"], "accept").status_code == 404
    assert user_named("first@contoso.example") is None and user_named("second@contoso.example") is None


def test_a_portal_user_answers_requests_and_invites_colleagues_for_their_customer_only(
        app, admin_client, make_customer, make_user, new_client):
    contoso, fabrikam = make_customer("Contoso"), make_customer("Fabrikam")
    carla = make_user(Role.CUSTOMER, email="carla@contoso.example", customer=contoso)
    frank = make_user(Role.CUSTOMER, email="frank@fabrikam.example", customer=fabrikam)
    ask(admin_client, contoso, "cora@contoso.example")
    grant = db.session.scalar(sa.select(Grant).where(Grant.email == "cora@contoso.example"))

    outsider = new_client()
    sign_in(outsider, frank)
    assert "cora@contoso.example" not in outsider.get("/portal/users").get_data(as_text=True)
    refused = post_form(outsider, f"/portal/requests/{grant.id}", {"answer": "accept"},
                        page_url="/portal/users")
    assert refused.status_code == 404 and user_named("cora@contoso.example") is None

    client = new_client()
    sign_in(client, carla)
    page = client.get("/portal/users").get_data(as_text=True)
    assert "cora@contoso.example" in page and "ada.admin@provider.example" in page
    assert post_form(client, f"/portal/requests/{grant.id}", {"answer": "accept"},
                     page_url="/portal/users").status_code == 303
    assert user_named("cora@contoso.example").customer_id == contoso.id

    assert post_form(client, "/portal/users", {"email": "dan@contoso.example", "name": "Dan"},
                     page_url="/portal/users").status_code == 303
    dan = user_named("dan@contoso.example")
    assert dan.customer_id == contoso.id and dan.role is Role.CUSTOMER
    told = db.session.scalars(sa.select(MailMessage).where(MailMessage.kind == MailKind.PORTAL_USER_ADDED)
                              .order_by(MailMessage.id)).all()
    assert [m.user_id for m in told] == [user_named("cora@contoso.example").id, dan.id]
    assert "invited by a portal user" in told[-1].body
    page = client.get("/portal/users").get_data(as_text=True)
    assert all(email in page for email in ("carla@contoso.example", "cora@contoso.example",
                                           "dan@contoso.example"))
    assert "frank@fabrikam.example" not in page
    assert re.search(r"UTC</time>: carla@contoso\.example", page)  # her own sign-in, listed


def test_an_administrator_may_still_disable_a_portal_user(app, admin_client, make_customer, make_user):
    cora = make_user(Role.CUSTOMER, customer=make_customer("Contoso"))
    page = f"/admin/users/{cora.id}"
    assert post_form(admin_client, f"{page}/disable", {"confirm": "yes"}, page_url=page).status_code == 302
    db.session.refresh(cora)
    assert not cora.active
    assert PASSWORD  # the fixture's password is the harness's, never an administrator's
