"""Red team: an administrator alone, through the pages (a signed-in browser
session with its CSRF token) and through the API, tries every path we know of
to read a customer's notices, the demands or the data, or to take a disclosure
through (DESIGN 7, 8, 11.8). The module fails if any succeeds. A canary sits in
the customer's vault records, in the demand's PDF and in the agency's case
number, which every notice and case page shows; no response to the
administrator may hold any of them.

Paths tried:
1. every GET route the URL map has, with the customer's real case, notice,
   objection and document ids, through the pages and the API;
2. making a customer user for the victim with a known password (the new-user
   form with role=customer and a customer id), then signing in as it;
3. asking for a portal user for the victim, then approving that request as an
   administrator, guessing the customer's accept link, and reading the link
   anywhere an administrator's page shows mail;
4. making a reviewer and an approver (the new-user form), approving them
   oneself, and signing in as them with any password;
5. raising one's own role to reviewer or approver, and approving a change of
   one's own role that another administrator proposed;
6. resetting the password of the victim's portal user and of an approver
   (/password/forgot), then looking for the link in every administrator page;
7. resetting the second factor of the victim's portal user, then signing in as
   it (the password is still nobody's but the owner's);
8. firing every transition, by page and API, on the pending case (approve
   included);
9. the admin API: every /api/v1 route under the administrator's API session;
10. accepting a staff invitation meant for someone else by guessing its link.
"""

import re
import uuid
from io import BytesIO

import pytest
import sqlalchemy as sa

from models import Case, Grant, MailMessage, Notice, Objection, Role, State, User, db, utcnow
from tests.conftest import PASSWORD, caller_for, csrf_from, fresh_code, sign_in
from workflows.audit import Actor
from workflows.cases import machine as case_machine
from workflows.cases.states import Trigger
from workflows.disclosure import documents

CANARY = f"rtc{uuid.uuid4().hex[:16]}"
PDF_WITH_CANARY = (b"%PDF-1.4\n% " + CANARY.encode()
                   + b"\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


class Target:
    def __init__(self, app, make_customer, make_user, make_case, plant):
        self.customer = make_customer("Victim Corp", kind="enterprise")
        self.customer.notice_emails = ["legal@victim.example"]
        identifier = self.customer.accounts[0].identifier
        plant(identifier, subscriber=True, content=[f"secret {CANARY}"], non_content=1)
        self.portal_user = make_user(Role.CUSTOMER, email="counsel@victim.example", customer=self.customer)
        case = make_case("legal_review", identifiers=[identifier], legal_process={"case_number": CANARY},
                         document=False)
        documents.store(case.id, BytesIO(PDF_WITH_CANARY), "warrant.pdf", Actor.system("intake"), utcnow(),
                        documents.folder_for(app.instance_path))
        reviewer = make_user(Role.REVIEWER)
        case_machine.advance(case.id, case_machine.Move("propose_disclosure", categories=["content"]),
                             caller_for(reviewer), utcnow())
        self.case = db.session.get(Case, case.id)
        self.approver = make_user(Role.APPROVER, email="approver@provider.example")
        db.session.commit()
        assert db.session.scalars(sa.select(Notice).where(Notice.customer_id == self.customer.id)).all()


@pytest.fixture
def target(app, make_customer, make_user, make_case, plant):
    return Target(app, make_customer, make_user, make_case, plant)


@pytest.fixture
def admin(make_user, new_client):
    user = make_user(Role.ADMIN, email="mallory.admin@provider.example")
    pages = new_client()
    assert sign_in(pages, user).status_code == 302
    api = new_client()
    resp = api.post("/api/v1/session", json={"email": user.email, "password": PASSWORD,
                                              "totp": fresh_code(user)})
    assert resp.status_code == 200
    return user, pages, csrf_from(pages.get("/account/password").get_data(as_text=True)), api, \
        resp.get_json()["csrf_token"]


def leaks(body: bytes) -> bool:
    return CANARY.encode() in body


def tokens_in_mail() -> list[str]:
    """Every link token the outbox holds (bodies are sealed; read here as the relay would)."""
    found = []
    for message in db.session.scalars(sa.select(MailMessage)):
        found += re.findall(r"/(?:invitation|password/reset|portal/accept)/([A-Za-z0-9_-]{20,})",
                            message.body or "")
    return found


def admin_pages(pages) -> list[bytes]:
    paths = ("/admin/users", "/admin/grants", "/home", "/admin/users/new", "/admin/portal-users/new")
    return [pages.get(path).get_data() for path in paths]


def can_sign_in(new_client, email: str, password: str) -> bool:
    client = new_client()
    page = client.get("/sign-in").get_data(as_text=True)
    resp = client.post("/sign-in", data={"email": email, "password": password, "csrf_token": csrf_from(page)})
    return resp.status_code == 302 and not resp.headers["Location"].endswith("/sign-in")


def test_1_and_9_no_route_shows_the_canary_to_an_administrator(app, target, admin):
    _, pages, _, api, _ = admin
    objection_ids = list(db.session.scalars(sa.select(Objection.id))) or [1]
    values = {"case_id": target.case.id, "notice_id": None, "objection_id": objection_ids[0],
              "document_id": target.case.documents[-1].id, "user_id": target.portal_user.id,
              "token": "x" * 43, "filename": "style.css", "period": "2026-H1", "token_id": 1, "grant_id": 1}
    mine = Notice.customer_id == target.customer.id
    notice_ids = list(db.session.scalars(sa.select(Notice.id).where(mine)))
    tried = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        for notice_id in notice_ids if "notice_id" in rule.arguments else [None]:
            args = {name: (notice_id if name == "notice_id" else values[name]) for name in rule.arguments}
            with app.test_request_context():
                from flask import url_for
                path = url_for(rule.endpoint, **args)
            client = api if path.startswith("/api/") else pages
            resp = client.get(path)
            assert not leaks(resp.get_data()), f"{path} showed the canary to an administrator"
            tried += 1
    assert tried > 40


def test_2_an_administrator_makes_no_customer_user_with_a_password_they_know(app, target, admin, new_client):
    _, pages, csrf, _, _ = admin
    resp = pages.post("/admin/users/new", data={
        "email": "mallory@victim.example", "name": "Mallory", "role": "customer",
        "customer_id": str(target.customer.id), "password": "mallory's passphrase", "csrf_token": csrf})
    assert resp.status_code == 422
    assert db.session.scalar(sa.select(User).where(User.email == "mallory@victim.example")) is None
    assert not can_sign_in(new_client, "mallory@victim.example", "mallory's passphrase")


def test_3_a_requested_portal_user_waits_for_the_customer(app, target, admin, new_client):
    _, pages, csrf, _, _ = admin
    resp = pages.post("/admin/portal-users/new", data={
        "customer_id": str(target.customer.id), "email": "mallory@victim.example", "name": "M",
        "csrf_token": csrf})
    assert resp.status_code == 303
    grant = db.session.scalar(sa.select(Grant).where(Grant.email == "mallory@victim.example"))
    assert pages.post(f"/admin/grants/{grant.id}/approve", data={"csrf_token": csrf}).status_code == 403
    assert new_client().get(f"/portal/accept/{'A' * 43}").status_code == 404
    for body in admin_pages(pages):
        assert not any(token.encode() in body for token in tokens_in_mail())
    assert db.session.scalar(sa.select(User).where(User.email == "mallory@victim.example")) is None


def test_4_staff_one_administrator_proposes_need_a_second_and_no_known_password(app, target, admin,
                                                                                 new_client):
    _, pages, csrf, _, _ = admin
    for email, role in (("puppet.reviewer@provider.example", "reviewer"),
                        ("puppet.approver@provider.example", "approver")):
        assert pages.post("/admin/users/new", data={"email": email, "name": "P", "role": role,
                                                    "csrf_token": csrf}).status_code == 303
        grant = db.session.scalar(sa.select(Grant).where(Grant.email == email))
        assert pages.post(f"/admin/grants/{grant.id}/approve", data={"csrf_token": csrf}).status_code == 403
        assert db.session.scalar(sa.select(User).where(User.email == email)) is None
        assert not can_sign_in(new_client, email, PASSWORD)


def test_5_no_administrator_raises_their_own_role(app, target, admin, make_user):
    user, pages, csrf, _, _ = admin
    for role in ("reviewer", "approver"):
        resp = pages.post(f"/admin/users/{user.id}/role", data={"role": role, "csrf_token": csrf})
        assert resp.status_code == 403
    from workflows.identity import grants

    accomplice = make_user(Role.ADMIN)
    grants.propose_role(user.id, Role.APPROVER, Actor(accomplice.email, accomplice.id), utcnow())
    db.session.commit()
    grant = db.session.scalar(sa.select(Grant).where(Grant.user_id == user.id))
    assert pages.post(f"/admin/grants/{grant.id}/approve", data={"csrf_token": csrf}).status_code == 403
    db.session.refresh(user)
    assert user.role is Role.ADMIN


def test_6_and_7_resets_go_to_the_owner_and_no_administrator_page_shows_them(app, target, admin, new_client):
    _, pages, csrf, _, _ = admin
    for email in (target.portal_user.email, target.approver.email):
        page = pages.get("/password/forgot").get_data(as_text=True)
        pages.post("/password/forgot", data={"email": email, "csrf_token": csrf_from(page)})
    tokens = tokens_in_mail()
    assert len(tokens) == 2
    for body in admin_pages(pages):
        assert not any(token.encode() in body for token in tokens)
    # The second factor of the portal user reset: still nobody's password but hers.
    reset = pages.post(f"/admin/users/{target.portal_user.id}/reset-mfa", data={"csrf_token": csrf})
    assert reset.status_code in (302, 409)
    for password in ("", "password", "mallory's passphrase", "demo-password-2026"):
        assert not can_sign_in(new_client, target.portal_user.email, password)


def test_8_no_transition_fires_for_an_administrator(app, target, admin):
    _, pages, csrf, api, api_csrf = admin
    for trigger in Trigger:
        case = db.session.get(Case, target.case.id)
        resp = pages.post(f"/cases/{case.id}/transitions", data={
            "trigger": trigger.value, "note": "Pushed through.", "categories": "content", "reason": "other",
            "version": str(case.version), "csrf_token": csrf})
        assert resp.status_code == 403, trigger
        resp = api.post(f"/api/v1/cases/{case.id}/transitions", headers={"X-CSRFToken": api_csrf},
                        json={"trigger": trigger.value, "note": "Pushed through."})
        assert resp.status_code == 403, trigger
    db.session.expire_all()
    assert db.session.get(Case, target.case.id).state is State.PENDING_APPROVAL


def test_10_no_invitation_is_taken_by_guessing(app, target, admin, new_client):
    for guess in ("A" * 43, "0" * 43, CANARY):
        assert new_client().get(f"/invitation/{guess}").status_code == 404
        assert new_client().get(f"/password/reset/{guess}").status_code == 404
        assert new_client().get(f"/portal/accept/{guess}").status_code == 404


def test_the_canary_is_where_its_readers_see_it(app, target, new_client, make_user):
    """So the sweeps above could fail: the customer's portal and the case's reviewer
    do see it."""
    customer = new_client()
    sign_in(customer, target.portal_user)
    notice_id = db.session.scalar(sa.select(Notice.id).where(Notice.customer_id == target.customer.id))
    assert leaks(customer.get(f"/portal/notices/{notice_id}").get_data())
    assert leaks(customer.get(f"/portal/notices/{notice_id}/demand").get_data())
    reviewer = new_client()
    sign_in(reviewer, make_user(Role.REVIEWER))
    assert leaks(reviewer.get(f"/cases/{target.case.id}").get_data())
