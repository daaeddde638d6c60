"""Demo data: one staff user per role, customers and agencies from several
countries. Seeding twice changes nothing the second time."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from demo import cases as demo_cases
from demo import messages as demo_messages
from demo import vault as demo_vault
from demo.people import AGENCIES, AGENCY_DOMAINS, CUSTOMERS, OFFICERS, PROPOSED_STAFF, SECOND_ADMIN, STAFF
from models import Agency, Customer, Grant, Role, User, db
from workflows import identity, notices, reports
from workflows.audit import Actor
from workflows.errors import InvalidInput

DEMO_ACTOR = Actor.system("demo")
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 (demo instances only, printed on purpose)
DOMAIN = "demo.example"

@dataclass
class DemoLogin:
    role: Role
    email: str
    password: str
    totp_secret: str | None
    customer: str | None = None
    agency: str | None = None


@dataclass
class Seeded:
    logins: list[DemoLogin]
    new_tokens: dict[str, str]  # agency name -> token, only for agencies created now


def _ensure_user(email, role, name, now, customer_id=None, agency_id=None) -> User:
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = identity.create_user(
            email, role, DEMO_PASSWORD, DEMO_ACTOR, now, name=name, customer_id=customer_id,
            agency_id=agency_id,
        ).user
        if role.needs_second_factor:
            # Demo staff come enrolled, so a newcomer needs no phone: the secret is
            # printed and `flask --app app demo-code EMAIL` shows the current code.
            user.totp_confirmed_at = now
    return user


def _second_admin(now: datetime) -> DemoLogin:
    """A grant of power needs two administrators (DESIGN 11.8): the demo has a second,
    who has proposed a new reviewer for the first to approve or refuse."""
    role, name = SECOND_ADMIN
    user = _ensure_user(f"admin2@{DOMAIN}", role, name, now)
    db.session.flush()
    email, new_name = PROPOSED_STAFF
    if db.session.scalar(select(Grant.id).where(Grant.email == email)) is None:
        identity.propose_user(email, new_name, Role.REVIEWER, Actor(user.email, user.id), now, (DOMAIN,))
    return DemoLogin(role, user.email, DEMO_PASSWORD, user.totp_secret)


def _officers(now: datetime) -> list[DemoLogin]:
    """The agencies' officers, in each state; the first verified one's login is printed."""
    for agency_name, email, name, status in OFFICERS:
        agency = db.session.scalar(select(Agency).where(Agency.name == agency_name))
        if agency is None or db.session.scalar(select(User.id).where(User.email == email)) is not None:
            continue
        user = _ensure_user(email, Role.OFFICER, name, now, agency_id=agency.id)
        db.session.flush()
        if status in ("verified", "suspended"):
            identity.verify_officer(user.id, "callback", agency.phone, "The duty desk", DEMO_ACTOR, now)
        if status == "suspended":
            identity.suspend_officer(user.id, "His name was used in a forged emergency request.", DEMO_ACTOR,
                                     now)
    first = next(email for _, email, _, status in OFFICERS if status == "verified")
    user = db.session.scalar(select(User).where(User.email == first))
    if user is None:
        return []
    return [DemoLogin(Role.OFFICER, user.email, DEMO_PASSWORD, user.totp_secret, agency=user.agency.name)]


def seed(now: datetime) -> Seeded:
    logins, tokens = [], {}
    for role, name in STAFF:
        user = _ensure_user(f"{role.value}@{DOMAIN}", role, name, now)
        logins.append(DemoLogin(role, user.email, DEMO_PASSWORD, user.totp_secret))
    logins.append(_second_admin(now))
    for name, kind, country, email, accounts, portal_email in CUSTOMERS:
        customer = db.session.scalar(select(Customer).where(Customer.name == name))
        if customer is None:
            customer = identity.create_customer(
                name, kind, country, [email], accounts, DEMO_ACTOR, now
            )
        if portal_email:
            user = _ensure_user(portal_email, Role.CUSTOMER, name, now, customer.id)
            logins.append(DemoLogin(Role.CUSTOMER, user.email, DEMO_PASSWORD, None, name))
    for name, country, kind, verified, phone in AGENCIES:
        if db.session.scalar(select(Agency.id).where(Agency.name == name)) is None:
            issued = identity.create_agency(
                name, country, DEMO_ACTOR, now, kind=kind, verified=verified, phone=phone,
                domains=tuple(AGENCY_DOMAINS.get(name, ())),
            )
            tokens[name] = issued.token
    logins += _officers(now)
    # The vault first: the disclosed demo cases are packaged as they are seeded.
    demo_vault.seed_vault(now, demo_vault.configured_mb())
    staff = {role: _ensure_user(f"{role.value}@{DOMAIN}", role, name, now) for role, name in STAFF}
    demo_cases.seed_cases(now, staff)
    officer = next(email for _, email, _, status in OFFICERS if status == "verified")
    demo_messages.seed_messages(now, db.session.get(User, staff[Role.REVIEWER].id), officer)
    # Notices whose order has ended go out, then the half-years that have ended are
    # published, as the provider would have done at the time.
    notices.release_due(now, DEMO_ACTOR)
    first = reports.Period.of(demo_cases.received_range(now)[0])
    reports.publish_past(now, DEMO_ACTOR, first)
    return Seeded(logins, tokens)


def current_code(email: str, now: datetime) -> tuple[str, int]:
    """A demo staff user's code now, and the seconds it stays valid."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.email.endswith("@" + DOMAIN) or not user.totp_secret:
        raise InvalidInput(f"{email} is not a demo staff user.")
    remaining = identity.STEP_SECONDS - int(now.timestamp()) % identity.STEP_SECONDS
    return identity.current_code(user.totp_secret, now), remaining


def describe(seeded: Seeded, now: datetime) -> str:
    lines = [
        "demo: ready",
        f"password: {DEMO_PASSWORD}",
        "note: staff and officers sign in with password, then a 6-digit code; no phone needed:",
        "note:   flask --app app demo-code EMAIL   prints the current code",
        "note:   or add totp_secret to any authenticator app",
    ]
    for login in seeded.logins:
        who = f"login: {login.role.value} {login.email}"
        if login.totp_secret:
            who += f" totp_secret={login.totp_secret}"
        if login.customer:
            who += f" customer={login.customer!r} (no second factor)"
        if login.agency:
            who += f" agency={login.agency!r} (the agency portal, /agency/)"
        lines.append(who)
    for name, token in seeded.new_tokens.items():
        lines.append(f"agency_token: {name}: {token}")
    return "\n".join(lines)
