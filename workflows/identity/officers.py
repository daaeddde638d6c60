"""Officers (DESIGN 11.4): the people at an agency who sign in. An officer is
invited by a single-use link and sets their own password (nobody else knows it),
sets up a second factor at first sign-in like staff, and is verified by staff
through a call-back to the agency's directory number before acting for it.
Staff can suspend an officer: every session ends at once.

Invitations are single-use links (workflows.identity.links)."""

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from models import Agency, AgencyToken, AuditAction, Role, User, db
from workflows import audit
from workflows.audit import Actor
from workflows.errors import Conflict, InvalidInput, NotFound
from workflows.identity import auth, links
from workflows.identity.directory import new_token, normalise_phone, parse_phone
from workflows.identity.users import NAME_MAX, create_user
from workflows.text import clean_text

VERIFY_METHODS = ("callback",)


@dataclass
class Invited:
    user: User
    token: str  # shown once, in the link


def invite_officer(email: str, agency_id: int, actor: Actor, now: datetime, name: str = "") -> Invited:
    """A new officer of `agency_id`, with no usable password until they accept."""
    if db.session.get(Agency, agency_id) is None:
        raise NotFound(f"No agency with id {agency_id}.")
    created = create_user(email, Role.OFFICER, secrets.token_urlsafe(32), actor, now, name=name,
                          agency_id=agency_id)
    token = links.issue(created.user, links.INVITATION, now)
    audit.record(AuditAction.OFFICER_INVITED, actor, subject=("user", created.user.id), now=now,
                 data={"email": created.user.email, "agency_id": agency_id})
    return Invited(created.user, token)


def _officer(officer_id: int) -> User:
    """The officer, locked until the transaction ends: two staff acting on one
    officer at once act one after the other."""
    user = db.session.scalar(select(User).where(User.id == officer_id).with_for_update()
                             .execution_options(populate_existing=True))
    if user is None or user.role is not Role.OFFICER:
        raise NotFound(f"No officer with id {officer_id}.")
    return user


def verify_officer(officer_id: int, method: str, phone: str, spoke_with: str, actor: Actor,
                   now: datetime) -> User:
    """Staff confirm the officer works for the agency: a call-back to the agency's
    directory number, never one the officer gave, and whom they spoke with."""
    user = _officer(officer_id)
    if method not in VERIFY_METHODS:
        raise InvalidInput(f"Unknown method {method!r}; use callback.", reasons=["method"])
    agency = user.agency
    if not agency.phone:
        raise InvalidInput(f"{agency.name} has no directory number on file: record it first "
                           "(flask --app app agencies set-phone).", reasons=["phone"])
    if normalise_phone(parse_phone(phone)) != agency.phone:
        raise InvalidInput(f"{phone} is not {agency.name}'s directory number ({agency.phone}): call the "
                           "agency back on its directory number.", reasons=["phone"])
    who = clean_text(spoke_with, field="spoke_with", label="Names", max_length=NAME_MAX)
    if not who:
        raise InvalidInput("Say whom you spoke with at the agency.", reasons=["spoke_with"])
    if not user.active:
        raise Conflict(f"{user.email} is suspended.")
    if user.officer_verified_at is not None:
        raise Conflict(f"{user.email} was already verified on {user.officer_verified_at:%Y-%m-%d}.")
    user.officer_verified_at = now
    user.officer_verification = {"method": method, "phone": agency.phone, "spoke_with": who,
                                 "by": actor.label}
    audit.record(AuditAction.OFFICER_VERIFIED, actor, subject=("user", user.id), now=now,
                 data={"email": user.email, "agency_id": agency.id, **user.officer_verification})
    return user


def suspend_officer(officer_id: int, reason: str, actor: Actor, now: datetime) -> User:
    """No more sign-ins, and every session ends at once."""
    user = _officer(officer_id)
    if not user.active:
        raise Conflict(f"{user.email} is already suspended.")
    why = clean_text(reason, field="reason", label="Reasons", max_length=1000)
    user.active = False
    auth.revoke_sessions(user.id, now)
    tokens = _live_tokens(user.id)
    for record in tokens:
        record.revoked_at = now
    audit.record(AuditAction.OFFICER_SUSPENDED, actor, subject=("user", user.id), now=now,
                 data={"email": user.email, "agency_id": user.agency_id, "reason": why or None,
                       "tokens_revoked": len(tokens)})
    return user


# ---- an officer's own API tokens ----------------------------------------------------

TOKEN_NAME_MAX = 100


def _live_tokens(officer_id: int) -> list[AgencyToken]:
    return list(db.session.scalars(select(AgencyToken).where(
        AgencyToken.officer_id == officer_id, AgencyToken.revoked_at.is_(None)).with_for_update()))


def tokens_of(officer_id: int) -> list[AgencyToken]:
    """The officer's tokens, newest first, revoked ones too (to show when)."""
    return list(db.session.scalars(select(AgencyToken).where(AgencyToken.officer_id == officer_id)
                                   .order_by(AgencyToken.id.desc())))


def issue_officer_token(officer: User, name: str, actor: Actor, now: datetime) -> tuple[AgencyToken, str]:
    """A token that acts as this officer: its record, and the token in clear, shown
    once. Only a verified officer gets one."""
    if officer.role is not Role.OFFICER or not officer.active:
        raise Conflict("Only an active officer has API tokens.")
    if officer.officer_verified_at is None:
        raise Conflict("Your agency has not yet confirmed that you work there: tokens come after that "
                       "verification.", code="officer_unverified")
    label = clean_text(name, field="name", label="Token names", max_length=TOKEN_NAME_MAX)
    if not label:
        raise InvalidInput("Name the token, for instance after the system that will use it.",
                           reasons=["name"], fields={"name": "Name the token."})
    return new_token(officer.agency, actor, now, officer=officer, name=label)


def revoke_officer_tokens(officer_id: int, actor: Actor, now: datetime) -> int:
    """Staff revoke every live token of one officer (a leaked laptop, say), without
    suspending them: each is refused at its next use. Returns how many."""
    user = _officer(officer_id)
    tokens = _live_tokens(user.id)
    for record in tokens:
        record.revoked_at = now
    audit.record(AuditAction.AGENCY_TOKENS_REVOKED, actor, subject=("agency", user.agency_id), now=now,
                 data={"revoked": len(tokens), "prefixes": [r.prefix for r in tokens], "officer_id": user.id})
    return len(tokens)


def revoke_officer_token(officer: User, token_id: int, actor: Actor, now: datetime) -> AgencyToken:
    """The officer revokes one of their own tokens: refused at its next use."""
    record = db.session.scalar(select(AgencyToken).where(
        AgencyToken.id == token_id, AgencyToken.officer_id == officer.id).with_for_update())
    if record is None:
        raise NotFound("No such token of yours.")
    if record.revoked_at is not None:
        raise Conflict("This token was already revoked.")
    record.revoked_at = now
    audit.record(AuditAction.AGENCY_TOKENS_REVOKED, actor, subject=("agency", officer.agency_id), now=now,
                 data={"revoked": 1, "prefixes": [record.prefix], "officer_id": officer.id})
    return record


def rotate_token(token_id: int, actor: Actor, now: datetime, officer: User | None = None,
                 ) -> tuple[AgencyToken, str]:
    """A new token in place of a live one, in one step: the same agency, officer and
    name, and the old one refused from its next use. Never two live tokens where
    there was one, never none. `officer`: only a token of theirs (the portal and
    an officer's own API token); None: the token named, of any kind (the token that
    makes the call rotates itself). The new token exists in clear only now."""
    query = select(AgencyToken).where(AgencyToken.id == token_id)
    if officer is not None:
        query = query.where(AgencyToken.officer_id == officer.id)
    record = db.session.scalar(query.with_for_update().execution_options(populate_existing=True))
    if record is None:
        raise NotFound("No such token of yours.")
    if record.revoked_at is not None:
        raise Conflict("This token was revoked: make a new one instead.", code="token_revoked")
    holder = record.officer
    if holder is not None and (not holder.active or holder.officer_verified_at is None):
        raise Conflict("Only a verified, active officer's token is rotated.")
    new, token = new_token(record.agency, actor, now, officer=holder, name=record.name)
    record.revoked_at = now
    audit.record(AuditAction.AGENCY_TOKEN_ROTATED, actor, subject=("agency", record.agency_id), now=now,
                 data={"old_prefix": record.prefix, "new_prefix": new.prefix, "old_id": record.id,
                       "new_id": new.id, **({"officer_id": holder.id} if holder else {})})
    return new, token


def officer_status(user: User) -> str:
    if not user.active:
        return "suspended"
    if user.officer_verified_at is None:
        return "pending"
    return "verified"
