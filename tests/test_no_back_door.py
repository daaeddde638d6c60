"""No back door (DESIGN section 7): customer data leaves the vault only as a
production, once, to the agency that sent the demand.

The canary sweep plants a unique string in the vault (every category, and inside
a stored file's bytes), then calls every endpoint the URL map declares, with every
method, as every kind of caller: signed in for real and past CSRF, so what is
tested is who may read what. A response carries the canary if its bytes do, or
if it is a ZIP and one of its entries does (the production's records are
deflated, so its raw bytes need not show the text). Exactly one response may:
the owning agency's first download.

The rest pins the other promises of that section: an admin manages users and
nothing else, and no module but workflows/disclosure.py can reach the vault.
Writing Case.state outside advance() is refused by the model: see
tests/test_case_machine.py::test_setting_the_state_directly_raises.
"""

import ast
import io
import json
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from models import (
    AuditEvent,
    Case,
    CaseDocument,
    CaseKind,
    Category,
    Disclosure,
    Notice,
    Objection,
    ProductionLink,
    Role,
    State,
    User,
    db,
    utcnow,
)
from tests.conftest import PASSWORD, PDF_BYTES, caller_for, case_body, csrf_from, fresh_code, sign_in
from workflows import disclosure
from workflows.cases import machine as case_machine
from workflows.cases.states import BY_TRIGGER, Trigger
from workflows.errors import NotAllowed

ROOT = Path(__file__).resolve().parent.parent
ALL_CATEGORIES = ("subscriber", "non_content", "content")
STAFF_CALLERS = (Role.INTAKE, Role.REVIEWER, Role.APPROVER, Role.ADMIN, Role.AUDITOR)
OWNER, OTHER_AGENCY, ANONYMOUS, CUSTOMER = "agency A (owner)", "agency B", "anonymous", "customer"
OFFICER = "an officer of agency A"
DOWNLOAD = "agency_api.production_download"
# Werkzeug adds HEAD and OPTIONS to every rule: HEAD runs the GET view and drops
# the body, OPTIONS answers with the Allow header. Neither can carry data.
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# These end the caller's session, so each caller calls them last; a caller that
# still has calls to make afterwards signs in again as a new user of the same role.
SESSION_ENDING = {
    ("auth.sign_out", "POST"), ("auth.change_password", "POST"), ("api.session_delete", "DELETE"),
}
NEW_PASSWORD = "a brand new long passphrase"
CSRF_REFUSED = (b"csrf_failed", b"security token of this form")


def carries(body: bytes, canary: bytes) -> bool:
    """The canary in the bytes, or in any entry of a ZIP."""
    if canary in body:
        return True
    if not zipfile.is_zipfile(io.BytesIO(body)):
        return False
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        return any(canary in zf.read(name) for name in zf.namelist())


def zip_entries(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def declared_pairs(app) -> list[tuple]:
    """(rule, method) for every rule and method the URL map declares, the
    session-ending ones last."""
    def order(pair):
        rule, method = pair
        return (rule.endpoint, method) in SESSION_ENDING, rule.rule, rule.endpoint, method

    pairs = [(rule, method) for rule in app.url_map.iter_rules()
             for method in sorted(rule.methods - SKIPPED_METHODS)]
    return sorted(pairs, key=order)


# ---- the world the sweep runs in ----------------------------------------------------


@dataclass
class Hit:
    caller: str
    endpoint: str
    method: str
    url: str
    status: int
    leaked: bool
    body: bytes
    link_live: bool | None = None  # for downloads of the disclosed case: was its link usable then


@dataclass
class Caller:
    """One kind of caller. Staff and customers have a browser session for pages and
    an API session for /api/ (separate users of the same role, so each user signs
    in once); anonymous callers and agencies use one client for both, agencies
    sending their bearer token on every call."""

    name: str
    role: Role | None
    pages: FlaskClient
    api: FlaskClient
    page_csrf: str
    api_csrf: str
    page_user: User | None = None
    headers: dict = field(default_factory=dict)
    stale: set = field(default_factory=set)  # "pages" / "api": signed out by a session-ending call


class World:
    """The canary in the vault, cases in several states, and signed-in callers."""

    def __init__(self, app, new_client, make_user, make_customer, make_agency, make_case, plant):
        self.app, self.new_client, self.make_user = app, new_client, make_user
        self.canary = f"CANARY-{uuid.uuid4().hex}"
        self.owner, self.other = make_agency(), make_agency()
        self.customer = make_customer(kind="enterprise")
        account = self.customer.accounts[0]
        self.identifier = account.identifier
        self.plant_canary(account.id, plant)

        self.disclosed = make_case("disclosed", identifiers=[self.identifier], categories=ALL_CATEGORIES,
                                   agency=self.owner.agency)
        # Other states, so that every id an endpoint takes is a real one; the
        # pending case names the canary's account too, and an approver in the sweep
        # may approve it (that is the front door: its package goes to agency A alone).
        pending = make_case("pending_approval", identifiers=[self.identifier], categories=ALL_CATEGORIES,
                            agency=self.owner.agency)
        review = make_case("legal_review", identifiers=[self.identifier], categories=ALL_CATEGORIES,
                           agency=self.other.agency)
        received = make_case("received", identifiers=[self.identifier], agency=self.other.agency)
        self.case_ids = [self.disclosed.id, pending.id, review.id, received.id]
        self.documents = {
            case_id: db.session.scalar(sa.select(sa.func.min(CaseDocument.id))
                                       .where(CaseDocument.case_id == case_id))
            for case_id in self.case_ids
        }
        # Admin actions in the sweep (disable, enable, reset MFA) act on this user,
        # who takes no part in it.
        self.victim = make_user(Role.REVIEWER)
        self.last_token: str | None = None
        self.ips = iter(range(1, 255))
        self.new_users = iter(range(1, 10_000))

    def plant_canary(self, account_id: int, plant) -> None:
        # plant() writes fixed subscriber and sign-in fields, so those two records
        # carrying the canary go through the vault's one writer directly.
        at = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
        disclosure.deposit([
            disclosure.Deposit(account_id, Category.SUBSCRIBER, "profile", None,
                               {"name": f"Holder {self.canary}", "phone": "+1 555 0100"}),
            disclosure.Deposit(account_id, Category.NON_CONTENT, "sign_in", at,
                               {"ip": "203.0.113.7", "device": self.canary}),
        ])
        plant(self.identifier, subscriber=False, non_content=0, content=[f"The word is {self.canary}."],
              files=[b"\x00\x01stored file " + self.canary.encode() + b" \xfe\xff"])

    # -- ids, filled in when the call is made ------------------------------------------

    def token(self) -> tuple[str, bool]:
        """The disclosed case's production token as the agency's link carries it
        now (a reviewer may have issued a new one), or the last one seen once the
        link is used; and whether the link is usable at this moment."""
        db.session.expire_all()
        found = disclosure.current_link(db.session.get(Case, self.disclosed.id).disclosure, utcnow())
        if found and found[1]:
            self.last_token = found[1]
            return found[1], True
        return self.last_token, False

    def link_id(self, case_id: int) -> str:
        """The id of the case's newest collection link, as the portal's page holds it."""
        db.session.expire_all()
        d = db.session.get(Case, case_id).disclosure
        return str(d.links[-1].id) if d is not None and d.links else "0"

    def version(self, case_id: int) -> str:
        db.session.expire_all()
        return str(db.session.get(Case, case_id).version)

    def url_values(self, rule) -> list[dict]:
        names = set(rule.arguments)
        known = {"case_id", "document_id", "user_id", "token", "filename", "notice_id", "objection_id",
                 "period", "token_id", "grant_id"}
        unknown = names - known
        assert not unknown, f"{rule.endpoint}: the sweep does not know how to fill {unknown}"
        rows = [{"case_id": c} for c in self.case_ids] if "case_id" in names else [{}]
        if "notice_id" in names:  # every notice the cases caused (the customer's, and held ones)
            rows = [{"notice_id": n} for n in db.session.scalars(sa.select(Notice.id).order_by(Notice.id))]
            assert rows, "the sweep's cases made no notice"
        if "objection_id" in names:
            rows = [{"objection_id": o} for o in db.session.scalars(sa.select(Objection.id))] or [
                {"objection_id": 1}]
        if "token" in names and "case_id" in names:
            rows.append({"case_id": self.disclosed.id})  # a second try: the owner's must be 410
        elif "token" in names:  # an invitation or reset link: one nobody was sent
            rows = [{"token": "no-such-invitation"}]
        for row in rows:
            if "document_id" in names:
                row["document_id"] = self.documents[row["case_id"]]
            if "user_id" in names:
                row["user_id"] = self.victim.id
            if "filename" in names:
                row["filename"] = "style.css"
            if "token_id" in names:  # the agency's own system token: no officer's to revoke
                row["token_id"] = 1
            if "grant_id" in names:  # the first grant proposed, by whichever administrator
                row["grant_id"] = 1
            if "period" in names:
                row["period"] = "2026-H1"
        return rows

    # -- plausible bodies for every write -------------------------------------------------

    def bodies(self) -> dict[str, Callable[[Caller, dict], tuple[str, dict]]]:
        """endpoint -> (caller, url values) -> ("json" | "form", body)."""
        day = (utcnow() - timedelta(days=2)).date().isoformat()

        def case_form(caller, values):
            return "form", {
                "agency_id": str(self.owner.agency.id),
                "received_at": (utcnow() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
                "channel": "email", "request_type": "criminal", "process_type": "search_warrant",
                "issuing_authority": "U.S. District Court", "judicial": "y", "issued_on": day, "signed": "y",
                "case_number": "2:26-mj-00999", "identifiers": self.identifier, "categories": ["content"],
                "date_from": "2026-01-01", "date_to": "2026-02-28",
                "document": (io.BytesIO(PDF_BYTES), "warrant.pdf"),
            }

        def confirm(caller, values):
            user = caller.page_user
            code = fresh_code(user) if user is not None and user.mfa_required else "123456"
            return "form", {"password": PASSWORD, "code": code}

        def upload(caller, values):
            return "form", {"file": (io.BytesIO(PDF_BYTES), "warrant.pdf")}

        new_user_numbers = self.new_users
        return {
            "auth.sign_in": lambda c, v: ("form", {"email": self.victim.email,
                                                   "password": "not the password"}),
            "auth.enrol": lambda c, v: ("form", {"code": "123456"}),
            "auth.code": lambda c, v: ("form", {"code": "123456"}),
            "auth.confirm": confirm,
            "auth.change_password": lambda c, v: ("form", {"current": PASSWORD, "new": NEW_PASSWORD,
                                                           "confirm": NEW_PASSWORD}),
            "auth.sign_out": lambda c, v: ("form", {}),
            "admin.user_new": lambda c, v: ("form", {
                "email": f"new{next(new_user_numbers)}@provider.example", "name": "New Reviewer",
                "role": "reviewer"}),
            "admin.user_role": lambda c, v: ("form", {"role": "approver"}),
            "admin.portal_user_new": lambda c, v: ("form", {
                "customer_id": str(self.customer.id), "email": f"portal{next(new_user_numbers)}@x.example",
                "name": "Portal Person"}),
            "portal.invite": lambda c, v: ("form", {"email": f"colleague{next(new_user_numbers)}@x.example",
                                                    "name": "A Colleague"}),
            "portal.answer": lambda c, v: ("form", {"answer": "accept"}),
            "portal.accept_by_link": lambda c, v: ("form", {"answer": "accept"}),
            "admin.grant_approve": lambda c, v: ("form", {}),
            "admin.grant_refuse": lambda c, v: ("form", {"note": "Not needed."}),
            "auth.invitation": lambda c, v: ("form", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}),
            "admin.user_disable": lambda c, v: ("form", {}),
            "admin.user_enable": lambda c, v: ("form", {}),
            "admin.user_reset_mfa": lambda c, v: ("form", {}),
            "cases.new": case_form,
            "cases.upload": upload,
            "cases.transition": lambda c, v: ("form", {"trigger": "approve",
                                                       "version": self.version(v["case_id"])}),
            "cases.production_link": lambda c, v: ("form", {"note": "The agency's transfer broke off."}),
            "api.session_create": lambda c, v: ("json", {"email": self.victim.email,
                                                         "password": "not the password", "totp": "123456"}),
            "api.session_delete": lambda c, v: ("json", None),
            "api.session_enrolment": lambda c, v: ("json", {"token": "not.a.token", "totp": "123456"}),
            "agency_portal.token_create": lambda c, v: ("form", {"name": "Sweep token"}),
            "agency_portal.request_new": case_form,
            "agency_api.token_create": lambda c, v: ("json", {"name": "Sweep token"}),
            "agency_api.token_revoke": lambda c, v: ("json", None),
            "agency_portal.token_revoke": lambda c, v: ("form", {}),
            "agency_portal.token_rotate": lambda c, v: ("form", {}),
            "agency_api.token_rotate": lambda c, v: ("json", None),
            "agency_api.current_token_rotate": lambda c, v: ("json", None),
            "cases.message": lambda c, v: ("form", {"text": "Name the accounts, please."}),
            "cases.note": lambda c, v: ("form", {"text": "Called the clerk."}),
            "cases_api.case_note": lambda c, v: ("json", {"text": "Called the clerk."}),
            "assignment.assign": lambda c, v: ("form", {"assignee": "me"}),
            "assignment.take_next": lambda c, v: ("form", {}),
            "assignment.assign_many": lambda c, v: ("form", {"case": str(v["case_id"]) if "case_id" in v
                                                             else "1", "assign_to": "me"}),
            "cases_api.case_assignment": lambda c, v: ("json", {"assignee_id": None}),
            "cases_api.case_message": lambda c, v: ("json", {"text": "Name the accounts, please."}),
            "agency_portal.request_message": lambda c, v: ("form", {"text": "Here they are."}),
            "agency_api.request_message": lambda c, v: ("json", {"text": "Here they are."}),
            "agency_portal.production": lambda c, v: ("form", {"link": self.link_id(v["case_id"])}),
            "agency_portal.invitation": lambda c, v: ("form", {"password": NEW_PASSWORD,
                                                               "confirm": NEW_PASSWORD}),
            "auth.forgot_password": lambda c, v: ("form", {"email": self.victim.email}),
            "agency_portal.register": lambda c, v: ("form", {"email": "someone@police.example",
                                                             "name": "Someone"}),
            "auth.reset_password": lambda c, v: ("form", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}),
            "cases_api.case_create": lambda c, v: ("json", case_body(self.owner.agency.id,
                                                                     identifiers=[self.identifier])),
            "cases_api.case_document": upload,
            "cases_api.case_transition": lambda c, v: ("json", {"trigger": "approve"}),
            "cases_api.production_link": lambda c, v: ("json", {"note": "The agency's transfer broke off."}),
            "agency_api.request_create": lambda c, v: ("json", case_body(identifiers=[self.identifier])),
            "cases.ndo_extension": lambda c, v: ("form", {"ends_on": "2031-01-01", "note": "Extended."}),
            "cases.callback": lambda c, v: ("form", {"phone_called": "+1 202 555 0100", "spoke_with": "Ames",
                                                     "outcome": "confirmed"}),
            "cases_api.case_verification": lambda c, v: ("json", {
                "phone_called": "+1 202 555 0100", "spoke_with": "Ames", "outcome": "confirmed"}),
            "notices.release": lambda c, v: ("form", {"note": "The order was lifted."}),
            "notices.retry": lambda c, v: ("form", {}),
            "notices.acknowledge": lambda c, v: ("form", {"note": "Read."}),
            "portal.objection": lambda c, v: ("form", {"statement": "We object to this disclosure."}),
            "portal.no_objection": lambda c, v: ("form", {}),
            "portal.security": lambda c, v: ("form", {"password": PASSWORD, "code": "123456"}),
            "public.report_publish": lambda c, v: ("form", {"reason": "A correction."}),
        }

    # -- callers ---------------------------------------------------------------------------

    def client(self) -> FlaskClient:
        """A browser of its own, from an address of its own: the deliberate failures
        (a wrong password, say) count toward each caller's own sign-in limit."""
        client = self.new_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{next(self.ips)}"
        return client

    def new_user(self, role: Role) -> User:
        if role is Role.CUSTOMER:
            return self.make_user(Role.CUSTOMER, customer=self.customer)
        if role is Role.OFFICER:  # an officer of the very agency whose case holds the canary
            return self.make_user(Role.OFFICER, agency=self.owner.agency)
        return self.make_user(role)

    def page_session(self, role: Role) -> tuple[FlaskClient, str, User]:
        client, user = self.client(), self.new_user(role)
        resp = sign_in(client, user)
        assert resp.status_code == 302 and not resp.headers["Location"].startswith("/sign-in"), role
        return client, csrf_from(client.get("/account/password").get_data(as_text=True)), user

    def api_session(self, role: Role) -> tuple[FlaskClient, str]:
        client, user = self.client(), self.new_user(role)
        credentials = {"email": user.email, "password": PASSWORD}
        if user.mfa_required:
            credentials["totp"] = fresh_code(user)
        resp = client.post("/api/v1/session", json=credentials)
        assert resp.status_code == 200, resp.get_json()
        return client, resp.get_json()["csrf_token"]

    def signed_in(self, name: str, role: Role) -> Caller:
        pages, page_csrf, user = self.page_session(role)
        api, api_csrf = self.api_session(role)
        return Caller(name, role, pages, api, page_csrf, api_csrf, page_user=user)

    def outsider(self, name: str, token: str | None = None) -> Caller:
        client = self.client()
        csrf = csrf_from(client.get("/sign-in").get_data(as_text=True))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return Caller(name, None, client, client, csrf, csrf, headers=headers)

    def callers(self) -> list[Caller]:
        """The owner comes last: everyone else tries its link while it still works."""
        return ([self.outsider(ANONYMOUS)] + [self.signed_in(role.value, role) for role in STAFF_CALLERS]
                + [self.signed_in(CUSTOMER, Role.CUSTOMER), self.signed_in(OFFICER, Role.OFFICER),
                   self.outsider(OTHER_AGENCY, self.other.token),
                   self.outsider(OWNER, self.owner.token)])

    def refresh(self, caller: Caller, side: str) -> None:
        """Sign in again, as a new user of the caller's role, after a sign-out."""
        if side == "pages":
            caller.pages, caller.page_csrf, caller.page_user = self.page_session(caller.role)
        else:
            caller.api, caller.api_csrf = self.api_session(caller.role)
        caller.stale.discard(side)

    # -- one call ----------------------------------------------------------------------------

    def call(self, caller: Caller, rule, method: str, values: dict, bodies: dict) -> Hit:
        side = "api" if rule.rule.startswith("/api/") else "pages"
        if side in caller.stale:
            self.refresh(caller, side)
        client = caller.api if side == "api" else caller.pages
        csrf = caller.api_csrf if side == "api" else caller.page_csrf
        values, live = dict(values), None
        if "token" in rule.arguments and "case_id" in rule.arguments:  # a production's link
            values["token"], live = self.token()
            live = live if values["case_id"] == self.disclosed.id else None
        url = self.app.url_map.bind("localhost").build(rule.endpoint, values, method=method)
        headers = {**caller.headers, "X-CSRFToken": csrf}
        kwargs = {}
        if method in WRITE_METHODS:
            kind, body = bodies[rule.endpoint](caller, values)
            if kind == "json" and body is not None:
                kwargs["json"] = body
            elif kind == "form":
                kwargs["data"] = {**body, "csrf_token": csrf}
        resp = client.open(url, method=method, headers=headers, **kwargs)
        data = resp.get_data()
        resp.close()
        if caller.role is not None and (rule.endpoint, method) in SESSION_ENDING:
            caller.stale.add(side)
        if rule.endpoint == "agency_api.current_token_rotate" and resp.status_code == 201:
            caller.headers["Authorization"] = f"Bearer {json.loads(data)['token']}"  # the old one is dead
        return Hit(caller.name, rule.endpoint, method, url, resp.status_code,
                   carries(data, self.canary.encode()), data, live)

    def sweep(self, caller: Caller) -> list[Hit]:
        bodies = self.bodies()
        return [self.call(caller, rule, method, values, bodies)
                for rule, method in declared_pairs(self.app) for values in self.url_values(rule)]


@pytest.fixture
def world(app, new_client, make_user, make_customer, make_agency, make_case, plant):
    return World(app, new_client, make_user, make_customer, make_agency, make_case, plant)


# ---- the canary sweep ---------------------------------------------------------------------


def test_every_write_endpoint_has_a_plausible_body(app, world):
    """A new write endpoint fails here until the sweep knows what to send it."""
    writes = {rule.endpoint for rule, method in declared_pairs(app) if method in WRITE_METHODS}
    assert writes == set(world.bodies())


@pytest.mark.slow
def test_the_canary_leaves_only_through_the_owners_one_download(app, world):
    canary = world.canary.encode()
    callers = world.callers()
    hits = [hit for caller in callers for hit in world.sweep(caller)]

    # Nothing was skipped: every caller called every (endpoint, method) the URL map
    # declares, and got past CSRF everywhere, so each refusal was the policy's.
    declared = {(rule.endpoint, method) for rule, method in declared_pairs(app)}
    for caller in callers:
        swept = {(h.endpoint, h.method) for h in hits if h.caller == caller.name}
        assert swept == declared, caller.name
    refused_csrf = [(h.caller, h.method, h.url) for h in hits
                    if h.status == 400 and any(m in h.body for m in CSRF_REFUSED)]
    assert refused_csrf == []
    # Every session really worked: each caller was let in somewhere.
    for caller in callers:
        assert any(h.status == 200 for h in hits if h.caller == caller.name), caller.name
    for caller in callers:
        if caller.role is not None and caller.role not in (Role.CUSTOMER, Role.OFFICER):
            assert any(h.status == 200 and h.endpoint == "home.index"
                       for h in hits if h.caller == caller.name), caller.name
    assert any(h.status == 200 and h.endpoint == "portal.home" for h in hits if h.caller == CUSTOMER)
    assert any(h.status == 200 and h.endpoint == "agency_portal.home" for h in hits if h.caller == OFFICER)
    assert any(h.status == 200 and h.endpoint == "agency_api.request_detail" for h in hits
               if h.caller == OTHER_AGENCY)

    leaks = [h for h in hits if h.leaked]
    assert {(h.caller, h.endpoint, h.method) for h in leaks} == {(OWNER, DOWNLOAD, "GET")}
    assert len(leaks) == 1

    # Everyone else tried the disclosed case's download while its link still worked.
    tries = [h for h in hits if h.endpoint == DOWNLOAD and h.link_live is not None]
    for caller in callers[:-1]:
        mine = [h for h in tries if h.caller == caller.name]
        assert len(mine) == 2 and all(h.link_live for h in mine), caller.name
        assert all(h.status in (401, 404) for h in mine), [(h.status, h.url) for h in mine]
    # The owner: once, then 410.
    assert [h.status for h in tries if h.caller == OWNER] == [200, 410]

    # The positive control: the detector found the canary because it is there, in
    # every category (deflated .jsonl entries: a raw search alone would miss them)
    # and in the stored file.
    collected = zip_entries(leaks[0].body)
    by_name = {name.rsplit("/", 1)[-1]: data for name, data in collected.items()}
    for category in ALL_CATEGORIES:
        assert canary in by_name[f"{category}.jsonl"], category
    files = [data for name, data in collected.items() if "/files/" in name]
    assert files and all(canary in data for data in files)

    # At rest the canary is readable nowhere but the vault: not in any file under
    # the instance folder (packages are sealed), nor in any other table.
    for path in Path(app.instance_path).rglob("*"):
        if path.is_file():
            assert canary not in path.read_bytes(), path
    assert len(list((Path(app.instance_path) / "productions").glob("*.sealed"))) >= 1
    db.session.expire_all()
    for event in db.session.scalars(sa.select(AuditEvent)):
        assert world.canary not in json.dumps(event.data, default=str), event.action
    for row in db.session.scalars(sa.select(Disclosure)):
        assert row.manifest and world.canary not in json.dumps(row.manifest)
    assert tables_holding(world.canary) == ["customer_records"]


def tables_holding(text: str) -> list[str]:
    """Every table with a row in which some column holds `text`."""
    found = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(sa.select(table)):
            values = [v if isinstance(v, bytes) else json.dumps(v, default=str).encode() for v in row]
            if any(text.encode() in v for v in values):
                found.append(table.name)
                break
    return sorted(found)


# ---- admins manage users, and nothing else ----------------------------------------------------


def move_body(trigger: Trigger) -> dict:
    """A body the trigger would accept from a role allowed to fire it."""
    needs = BY_TRIGGER[trigger].needs
    body = {"trigger": trigger.value}
    if "note" in needs or trigger is Trigger.REJECT:
        body["note"] = "Because."
    if trigger is Trigger.REJECT:
        body["reason"] = "overbroad"
    if trigger in (Trigger.PROPOSE_DISCLOSURE, Trigger.APPROVE, Trigger.PRESERVE):
        body["categories"] = ["content"]
    return body


@pytest.fixture
def cases_by_state(make_case):
    """One case in each state some trigger fires from, for an enterprise customer's
    account (so every guard would pass for an allowed role)."""
    made = {}

    def get(state: State, kind=CaseKind.PRODUCTION) -> Case:
        if (state, kind) not in made:
            process = "preservation_request" if kind is CaseKind.PRESERVATION else "search_warrant"
            made[state, kind] = make_case(state.value, process=process)
        return made[state, kind]

    return get


def snapshot() -> list:
    db.session.expire_all()
    return db.session.execute(sa.select(Case.id, Case.state, Case.version).order_by(Case.id)).all()


def test_an_admin_fires_no_trigger_by_page_api_or_workflow(world, cases_by_state, make_user):
    admin = make_user(Role.ADMIN)
    pages, page_csrf, _ = world.page_session(Role.ADMIN)
    api, api_csrf = world.api_session(Role.ADMIN)
    for trigger in Trigger:
        transition = BY_TRIGGER[trigger]
        kind = CaseKind.PRODUCTION if CaseKind.PRODUCTION in transition.kinds else CaseKind.PRESERVATION
        case = cases_by_state(transition.sources[0], kind)
        before = snapshot()
        body = move_body(trigger)
        form = {**body, "version": str(case.version), "csrf_token": page_csrf}
        page = pages.post(f"/cases/{case.id}/transitions", data=form)
        assert page.status_code == 403, trigger
        assert "Your role may not do this." in page.get_data(as_text=True), trigger
        resp = api.post(f"/api/v1/cases/{case.id}/transitions", json=body, headers={"X-CSRFToken": api_csrf})
        assert resp.status_code == 403 and resp.get_json()["error"] == "forbidden", trigger
        # Behind the views, the machine refuses an admin on its own account.
        with pytest.raises(NotAllowed):
            case_machine.advance(case.id, case_machine.Move(**body), caller_for(admin), utcnow())
        assert snapshot() == before, trigger

    # The same form and body are ones an allowed role's trigger takes: the refusal above was the role's.
    reviewer_pages, reviewer_csrf, _ = world.page_session(Role.REVIEWER)
    case = cases_by_state(State.RECEIVED)
    resp = reviewer_pages.post(f"/cases/{case.id}/transitions", data={
        **move_body(Trigger.START_REVIEW), "version": str(case.version), "csrf_token": reviewer_csrf})
    assert resp.status_code == 303
    reviewer_api, reviewer_api_csrf = world.api_session(Role.REVIEWER)
    case = cases_by_state(State.LEGAL_REVIEW)
    resp = reviewer_api.post(f"/api/v1/cases/{case.id}/transitions", json=move_body(Trigger.CHALLENGE),
                             headers={"X-CSRFToken": reviewer_api_csrf})
    assert resp.status_code == 200 and resp.get_json()["state"] == "challenged"


def test_an_admin_reads_no_records_and_issues_no_link(world):
    """The admin holds the real token of a production and still gets nothing; the
    agency then collects it with the same token, so the token was good."""
    pages, page_csrf, _ = world.page_session(Role.ADMIN)
    api, api_csrf = world.api_session(Role.ADMIN)
    case_id = world.disclosed.id
    token, live = world.token()
    assert live
    links_before = db.session.scalar(sa.select(sa.func.count()).select_from(ProductionLink))
    download = f"/api/v1/agency/requests/{case_id}/production/{token}"
    for client, csrf in ((pages, page_csrf), (api, api_csrf)):
        resp = client.get(download, headers={"X-CSRFToken": csrf})
        assert resp.status_code == 401 and resp.get_json()["error"] == "invalid_token"
        resp = client.get(f"/api/v1/agency/requests/{case_id}")
        assert resp.status_code == 401
    for url in (f"/cases/{case_id}", f"/cases/{case_id}/document", f"/api/v1/cases/{case_id}"):
        client = api if url.startswith("/api/") else pages
        assert client.get(url).status_code == 403, url
    resp = pages.post(f"/cases/{case_id}/production/link", data={"note": "Please.", "csrf_token": page_csrf})
    assert resp.status_code == 403
    resp = api.post(f"/api/v1/cases/{case_id}/production/link", json={"note": "Please."},
                    headers={"X-CSRFToken": api_csrf})
    assert resp.status_code == 403 and resp.get_json()["error"] == "forbidden"
    # disclosure.reissue() refuses an admin too, below the views:
    # test_disclosure.py::test_reissue_is_for_reviewers_and_approvers_with_a_reason
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProductionLink)) == links_before
    assert world.token() == (token, True)

    agency = world.client()
    resp = agency.get(download, headers={"Authorization": f"Bearer {world.owner.token}"})
    assert resp.status_code == 200 and carries(resp.get_data(), world.canary.encode())


def test_no_endpoint_writes_to_the_audit_log(app):
    under_audit = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/audit")]
    assert under_audit  # the auditor's page is there to be checked
    writable = [(r.rule, sorted(r.methods & WRITE_METHODS)) for r in under_audit if r.methods & WRITE_METHODS]
    assert writable == []
    # And an admin cannot even read it: test_policy.py::test_admin_cannot_read_the_audit_log.


@pytest.mark.postgres_only
@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET actor = 'nobody' WHERE actor_id = :admin",
    "DELETE FROM audit_events WHERE actor_id = :admin",
])
def test_the_database_refuses_edits_to_an_admins_own_events(app, engine_name, world, statement):
    """Whatever an admin did stays on record: the admin's own events (the
    sign-in) cannot be rewritten or removed, even by raw SQL. The full list of
    refused statements is in test_audit.py::test_database_refuses_changes_to_the_log."""
    world.page_session(Role.ADMIN)
    admin_id = db.session.scalar(sa.select(User.id).where(User.role == Role.ADMIN))
    mine = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.actor_id == admin_id))
    assert mine >= 1
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text(statement), {"admin": admin_id})
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.actor_id == admin_id)) == mine


# ---- only workflows/disclosure.py reaches the vault -------------------------------------------

VAULT_NAMES = ("models.vault", "CustomerRecord", "customer_records")
VAULT_DOOR = {"workflows/disclosure/door.py", "workflows/disclosure/holds.py",
              "workflows/disclosure/scope.py", "models/vault.py"}


def application_files() -> list[Path]:
    """The application's code and templates. migrations/ is left out on purpose:
    a migration creates the customer_records table, and runs only as a migration."""
    files = [ROOT / "app.py"]
    for folder in ("views", "workflows", "models"):
        files += sorted((ROOT / folder).rglob("*.py"))
    files += sorted(p for p in (ROOT / "templates").rglob("*") if p.is_file())
    return files


def test_no_module_but_the_disclosure_workflow_names_the_vault():
    files = application_files()
    assert len(files) > 40 and any(p.suffix == ".html" for p in files)  # the scan sees the code
    named = {str(p.relative_to(ROOT)): [n for n in VAULT_NAMES if n in p.read_text(encoding="utf-8")]
             for p in files}
    offenders = {path: names for path, names in named.items() if names and path not in VAULT_DOOR}
    assert offenders == {}
    assert named["workflows/disclosure/door.py"] and named["models/vault.py"]  # the scan would see a mention


def test_app_py_imports_nothing_from_the_vault():
    """import-linter takes packages only, so its contract cannot cover app.py; this does."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    assert "models" in imported  # the walk finds the factory's own imports
    assert not any(name == "models.vault" or name.startswith("models.vault.") for name in imported)
