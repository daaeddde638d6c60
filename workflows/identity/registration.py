"""Officers who register themselves (DESIGN 11.4): anyone with an address on one of
an agency's registered domains may ask to join it in the agency portal. The
answer is the same whatever the address: a link goes to it (single use, 72
hours), and following it confirms the address and sets the officer's own
password. The officer then waits, like an invited one, for staff to verify them
by a call-back to the agency's directory number before they see or send anything.
An address on no agency's domain is told so; one that already belongs to a user
gets no second account (its owner is mailed that someone tried)."""

import secrets
from datetime import datetime

from sqlalchemy import select

from models import Agency, AgencyDomain, AuditAction, Invitation, MailKind, Role, User, db
from workflows import audit, mail
from workflows.audit import Actor
from workflows.errors import InvalidInput
from workflows.identity import links, throttle
from workflows.identity.users import NAME_MAX, create_user, parse_email
from workflows.text import clean_text


def agency_for(email: str) -> Agency | None:
    domain = email.rpartition("@")[2]
    return db.session.scalar(select(Agency).join(AgencyDomain).where(AgencyDomain.domain == domain))


def register(email: str, name: str, ip: str, now: datetime, public_url: str) -> Agency:
    """Mail a confirmation link; returns the agency the domain belongs to. Commits."""
    email = parse_email(email)
    name = clean_text(name, field="name", label="Names", max_length=NAME_MAX)
    throttle.reserve(f"register:{email}", ip, now)
    agency = agency_for(email)
    if agency is None:
        raise InvalidInput("That address is on no agency's registered domain. Ask the provider to register "
                           "your agency's domain, or use your work address.", reasons=["email"])
    actor = Actor(email, None, ip)
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = create_user(email, Role.OFFICER, secrets.token_urlsafe(32), actor, now, name=name,
                           agency_id=agency.id).user
        fresh = True
    else:  # a second link only for an officer of this agency who never set a password
        used = db.session.scalar(select(Invitation.id).where(Invitation.user_id == user.id,
                                                             Invitation.used_at.is_not(None)).limit(1))
        fresh = (user.role is Role.OFFICER and user.agency_id == agency.id and user.active
                 and user.last_sign_in_at is None and used is None)
    if fresh:
        token = links.issue(user, links.INVITATION, now)
        mail.enqueue(MailKind.INVITATION, email, f"Confirm your address for {agency.name} in Due Process",
                     "officer_registration", now, user_id=user.id, agency=agency.name,
                     link=f"{public_url.rstrip('/')}/agency/invitation/{token}",
                     hours=int(links.INVITATION.lifetime.total_seconds() // 3600))
    else:
        mail.enqueue(MailKind.INVITATION, email, "Someone tried to register your address in Due Process",
                     "officer_registration_taken", now, user_id=user.id, ip=ip, at=now)
    audit.record(AuditAction.OFFICER_REGISTERED, actor, subject=("user", user.id), now=now,
                 data={"email": email, "agency_id": agency.id, "new": fresh})
    db.session.commit()
    return agency
