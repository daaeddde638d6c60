"""Customers with their accounts, and agencies with their API tokens."""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from models import (
    Account,
    AccountKind,
    Agency,
    AgencyDomain,
    AgencyKind,
    AgencyToken,
    AuditAction,
    Customer,
    CustomerKind,
    db,
)
from workflows import audit
from workflows.audit import Actor
from workflows.errors import Conflict, InvalidInput, NotFound
from workflows.identity.users import EMAIL_MAX, NAME_MAX, parse_email, unique_flush
from workflows.text import clean_text

TOKEN_PREFIX = "dpa_"  # noqa: S105 (a prefix, not a secret)
TOKEN_MAX = 128  # issued tokens are 47 characters; anything much longer is not one of ours
# last_used_at is for spotting idle or leaked tokens, not a request log: stamping it
# at most once a minute keeps every API call from writing the same row.
TOKEN_STAMP_EVERY = timedelta(minutes=1)
IDENTIFIER_MAX = EMAIL_MAX  # identifiers are often e-mail addresses; the column holds 254


# A telephone number as people write it: a leading +, then 8 to 15 digits (E.164)
# with spaces, dots, dashes or brackets between them. Kept as + and the digits.
PHONE_PATTERN = r"^\+(?:[ ().-]*[0-9]){8,15}[ ().-]*$"
PHONE_MAX = 32


def normalise_phone(raw: str) -> str:
    """+ and the digits of a number that matches PHONE_PATTERN."""
    return "+" + re.sub(r"\D", "", raw)


def parse_phone(raw: str, field: str = "phone") -> str:
    text = (raw or "").strip()
    if len(text) > PHONE_MAX or not re.fullmatch(PHONE_PATTERN, text):
        raise InvalidInput(f"A telephone number is written in international form, such as +1 206 555 0100, "
                           f"not {raw!r}.", reasons=[field], fields={field: "Not a number in international "
                                                                              "form (+ and 8 to 15 digits)."})
    return normalise_phone(text)


def parse_country(raw: str) -> str:
    code = (raw or "").strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise InvalidInput(
            f"Country must be an ISO 3166-1 alpha-2 code such as US or DE, not {raw!r}.",
            reasons=["country"],
        )
    return code


def _parse_enum(enum_cls, raw: str, field: str):
    try:
        return enum_cls((raw or "").strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        raise InvalidInput(f"Unknown {field} {raw!r}; use one of {allowed}.", reasons=[field]) from None


def parse_name(raw: str, what: str) -> str:
    name = clean_text(raw, field="name", label="Names", max_length=NAME_MAX)
    if not name:
        raise InvalidInput(f"{what} needs a name.", reasons=["name"])
    return name


def parse_identifier(raw: str) -> str:
    """An account identifier as stored: lower case (matching is case-blind)."""
    return clean_text(
        (raw or "").lower(), field="account", label="Account identifiers", max_length=IDENTIFIER_MAX
    )


def account_kind(identifier: str) -> AccountKind:
    if "@" in identifier:
        return AccountKind.EMAIL
    if identifier.isdigit() or identifier.startswith("acct-"):
        return AccountKind.ACCOUNT_ID
    return AccountKind.USERNAME


def create_customer(
    name: str, kind: str, country: str, emails: list[str], identifiers: list[str],
    actor: Actor, now: datetime,
) -> Customer:
    name = parse_name(name, "A customer")
    if not emails:
        raise InvalidInput("A customer needs a notice e-mail address.", reasons=["email"])
    customer = Customer(
        name=name, kind=_parse_enum(CustomerKind, kind, "kind"),
        country=parse_country(country), notice_emails=[parse_email(e) for e in emails],
        created_at=now,
    )
    db.session.add(customer)
    wanted = [parse_identifier(i) for i in identifiers if (i or "").strip()]
    taken = set(db.session.scalars(select(Account.identifier).where(Account.identifier.in_(wanted))))
    if taken or len(set(wanted)) != len(wanted):
        dupes = sorted(taken or {i for i in wanted if wanted.count(i) > 1})
        raise Conflict(f"Account identifiers already in use: {', '.join(dupes)}.", reasons=dupes)
    for identifier in wanted:
        customer.accounts.append(
            Account(identifier=identifier, kind=account_kind(identifier), created_at=now)
        )
    unique_flush("One of those account identifiers was registered at the same moment.", "account")
    audit.record(
        AuditAction.CUSTOMER_CREATED, actor, subject=("customer", customer.id),
        data={"name": customer.name, "kind": customer.kind.value, "country": customer.country,
              "accounts": wanted},
        now=now,
    )
    return customer


@dataclass
class IssuedToken:
    agency: Agency
    token: str  # the only time it exists in clear


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(agency: Agency, actor: Actor, now: datetime) -> str:
    """The agency's own system token, shown once."""
    return new_token(agency, actor, now)[1]


def new_token(agency: Agency, actor: Actor, now: datetime, officer=None,
              name: str = "") -> tuple[AgencyToken, str]:
    """A token of the agency (an officer's own when `officer` is given): the stored
    record, and the token in clear, which exists only now."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = AgencyToken(agency=agency, token_hash=hash_token(token), prefix=token[:10], created_at=now,
                         officer=officer, name=name)
    db.session.add(record)
    db.session.flush()
    audit.record(
        AuditAction.AGENCY_TOKEN_ISSUED, actor, subject=("agency", agency.id),
        data={"prefix": token[:10], **({"officer_id": officer.id, "name": name} if officer else {})},
        now=now,
    )
    return record, token


def revoke_tokens(agency_id: int, actor: Actor, now: datetime) -> int:
    """Revoke every live token of an agency (a leaked one, or all of a compromised
    agency's): each is refused at its next use. Returns how many were revoked. No
    new token is issued here: one person alone must not be able to speak for an
    agency, and so collect its productions."""
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        raise NotFound(f"There is no agency {agency_id}.")
    live = db.session.scalars(select(AgencyToken).where(
        AgencyToken.agency_id == agency.id, AgencyToken.revoked_at.is_(None)).with_for_update()).all()
    for record in live:
        record.revoked_at = now
    audit.record(AuditAction.AGENCY_TOKENS_REVOKED, actor, subject=("agency", agency.id), now=now,
                 data={"revoked": len(live), "prefixes": [r.prefix for r in live]})
    return len(live)


def authenticate_token(token: str | None, now: datetime) -> Agency | None:
    """The agency a bearer token speaks for, or None for an unknown or revoked one.
    Marks the token used (the caller commits)."""
    record = authenticate_bearer(token, now)
    return record.agency if record is not None else None


def authenticate_bearer(token: str | None, now: datetime) -> AgencyToken | None:
    """The live token record a bearer token is, or None: unknown, revoked, or an
    officer's token whose officer is suspended. Marks it used (the caller commits)."""
    if not token or len(token) > TOKEN_MAX or not token.isascii() or not token.startswith(TOKEN_PREFIX):
        return None
    record = db.session.scalar(select(AgencyToken).where(AgencyToken.token_hash == hash_token(token)))
    if record is None or record.revoked_at is not None:
        return None
    if record.officer is not None and not record.officer.active:
        return None
    if record.last_used_at is None or now - record.last_used_at >= TOKEN_STAMP_EVERY:
        record.last_used_at = now
    return record


def create_agency(
    name: str, country: str, actor: Actor, now: datetime, *, kind: str = "law_enforcement",
    verified: bool = False, phone: str | None = None, domains: tuple[str, ...] = (),
) -> IssuedToken:
    name = parse_name(name, "An agency")
    phone = parse_phone(phone) if phone is not None else None
    if db.session.scalar(select(Agency.id).where(Agency.name == name)) is not None:
        raise Conflict(f"An agency named {name!r} already exists.", reasons=["name"])
    agency = Agency(
        name=name, country=parse_country(country),
        kind=_parse_enum(AgencyKind, kind, "kind"), verified=verified, phone=phone, created_at=now,
    )
    db.session.add(agency)
    unique_flush(f"An agency named {name!r} already exists.", "name")
    audit.record(
        AuditAction.AGENCY_CREATED, actor, subject=("agency", agency.id),
        data={"name": agency.name, "country": agency.country, "kind": agency.kind.value,
              "verified": verified, "phone": phone},
        now=now,
    )
    for domain in domains:
        add_agency_domain(agency.id, domain, actor, now)
    return IssuedToken(agency, issue_token(agency, actor, now))


DOMAIN_PATTERN = r"(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"


def parse_domain(raw: str) -> str:
    domain = (raw or "").strip().lower().lstrip("@")
    if not re.fullmatch(DOMAIN_PATTERN, domain):
        raise InvalidInput(f"Not an e-mail domain: {raw!r} (for example police.example).", reasons=["domain"])
    return domain


def add_agency_domain(agency_id: int, domain: str, actor: Actor, now: datetime) -> AgencyDomain:
    """Register an e-mail domain of the agency: people with an address on it may
    register as its officers. One domain belongs to one agency. The caller commits."""
    domain = parse_domain(domain)
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        raise NotFound(f"No agency with id {agency_id}.")
    owner = db.session.scalar(select(AgencyDomain).where(AgencyDomain.domain == domain))
    if owner is not None:
        raise Conflict(f"{domain} is already registered for {owner.agency.name}.", reasons=["domain"])
    record = AgencyDomain(agency_id=agency.id, domain=domain, created_at=now)
    db.session.add(record)
    unique_flush(f"{domain} is already registered for an agency.", "domain")
    audit.record(AuditAction.AGENCY_DOMAIN_ADDED, actor, subject=("agency", agency.id), now=now,
                 data={"domain": domain})
    return record


def set_agency_phone(agency_id: int, phone: str, actor: Actor, now: datetime) -> Agency:
    """Record the number in the agency's published directory entry, which
    emergency call-backs must dial. Audited with the number it replaces."""
    number = parse_phone(phone)
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        raise NotFound(f"No agency with id {agency_id}.")
    before, agency.phone = agency.phone, number
    audit.record(AuditAction.AGENCY_PHONE_SET, actor, subject=("agency", agency.id), now=now,
                 data={"phone": number, "before": before})
    return agency
