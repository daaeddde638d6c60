"""A customer's portal users are the customer's (DESIGN 11.8). A portal user exists
only once the customer accepts it: an existing portal user of that customer
invites a colleague (accepting it by asking), or, when an administrator asks on
the customer's behalf, someone reading the customer's registered notice address
follows the link sent there, or an existing portal user accepts it in the
portal. No administrator makes a live portal user or knows its password: the new
user sets it from an invitation. Each new portal user is announced to the
notice address, and the portal lists the customer's users and their sign-ins."""

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select

from models import AuditAction, AuditEvent, Customer, Grant, GrantState, MailKind, Role, User, db
from workflows import audit, mail
from workflows.audit import Actor
from workflows.errors import Conflict, Gone, NotAllowed, NotFound
from workflows.identity import links
from workflows.identity.users import NAME_MAX, create_user, parse_email, unique_flush
from workflows.text import clean_text

TOKEN_MAX = 128
SIGN_INS_SHOWN = 20


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _customer(customer_id: int) -> Customer:
    customer = db.session.get(Customer, customer_id) if isinstance(customer_id, int) else None
    if customer is None:
        raise NotFound("No such customer.", reasons=["customer_id"])
    return customer


def _new_grant(customer: Customer, email: str, name: str, requester: User, now: datetime) -> Grant:
    email = parse_email(email)
    name = clean_text(name, field="name", label="Names", max_length=NAME_MAX)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A user with the e-mail {email} already exists.", reasons=["email"])
    grant = Grant(email=email, name=name, role=Role.CUSTOMER, customer_id=customer.id,
                  state=GrantState.PENDING, pending_key=f"new:{email}", requested_by_id=requester.id,
                  requested_at=now)
    db.session.add(grant)
    unique_flush(f"A request for {email} is already waiting.", "email")
    return grant


def _active_portal_users(customer_id: int) -> list[User]:
    return list(db.session.scalars(select(User).where(User.customer_id == customer_id, User.active.is_(True))
                                   .order_by(User.email)))


def request_portal_user(customer_id: int, email: str, name: str, actor: Actor, now: datetime,
                        public_url: str) -> Grant:
    """An administrator asks, on the customer's behalf, for a portal user. Nothing
    is made: the customer's notice address (and its portal users) get a link to
    accept it. The caller commits."""
    requester = db.session.get(User, actor.user_id) if actor.user_id else None
    if requester is None or requester.role is not Role.ADMIN:
        raise NotAllowed("Only an administrator asks a customer to accept a portal user.")
    customer = _customer(customer_id)
    grant = _new_grant(customer, email, name, requester, now)
    token = secrets.token_urlsafe(32)
    grant.accept_token_hash = _digest(token)
    recipients = sorted(set(customer.notice_emails) | {u.email for u in _active_portal_users(customer.id)})
    mail.enqueue(MailKind.PORTAL_USER_REQUEST, recipients,
                 f"Accept a new user of your Due Process portal? ({grant.email})", "portal_user_request", now,
                 customer=customer.name, email=grant.email, name=grant.name, requester=requester.email,
                 link=f"{public_url.rstrip('/')}/portal/accept/{token}")
    audit.record(AuditAction.GRANT_PROPOSED, actor, subject=("grant", grant.id), now=now,
                 data={"email": grant.email, "role": Role.CUSTOMER.value, "customer_id": customer.id,
                       "new_user": True})
    return grant


def invite_colleague(inviter: User, email: str, name: str, actor: Actor, now: datetime,
                     public_url: str) -> Grant:
    """An existing portal user adds a colleague: the customer accepts by asking. The
    caller commits."""
    if inviter.role is not Role.CUSTOMER or inviter.customer_id is None:
        raise NotAllowed("Only a customer's own portal users invite colleagues.")
    grant = _new_grant(_customer(inviter.customer_id), email, name, inviter, now)
    audit.record(AuditAction.GRANT_PROPOSED, actor, subject=("grant", grant.id), now=now,
                 data={"email": grant.email, "role": Role.CUSTOMER.value, "customer_id": inviter.customer_id,
                       "new_user": True})
    _accept(grant, inviter, actor, now, public_url, "invited by a portal user")
    return grant


def pending_request(token: str, *, lock: bool = False) -> Grant:
    """The request a link names, while it waits."""
    if not isinstance(token, str) or not token or len(token) > TOKEN_MAX:
        raise NotFound("This link is not valid.")
    query = select(Grant).where(Grant.accept_token_hash == _digest(token))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    grant = db.session.scalar(query)
    if grant is None:
        raise NotFound("This link is not valid.")
    if grant.state is not GrantState.PENDING:
        outcome = "accepted" if grant.state is GrantState.APPROVED else "declined"
        raise Gone(f"This request was already {outcome}.", code="request_decided")
    return grant


def _locked(grant_id: int, customer_id: int) -> Grant:
    grant = db.session.scalar(select(Grant).where(Grant.id == grant_id, Grant.customer_id == customer_id)
                              .with_for_update().execution_options(populate_existing=True))
    if grant is None:
        raise NotFound("No such request.")  # another customer's reads as none
    if grant.state is not GrantState.PENDING:
        raise Conflict(f"This request was already {grant.state.value}.")
    return grant


def answer_by_link(token: str, accept: bool, actor: Actor, now: datetime, public_url: str) -> Grant:
    """Someone at the customer's notice address accepts or declines. The caller commits."""
    grant = pending_request(token, lock=True)
    if accept:
        _accept(grant, None, actor, now, public_url, "accepted through the link sent to the notice address")
    else:
        _decline(grant, None, actor, now)
    return grant


def answer_in_portal(grant_id: int, user: User, accept: bool, actor: Actor, now: datetime,
                     public_url: str) -> Grant:
    """An existing portal user of the customer accepts or declines. The caller commits."""
    if user.role is not Role.CUSTOMER or user.customer_id is None:
        raise NotAllowed("Only the customer's own portal users answer for it.")
    grant = _locked(grant_id, user.customer_id)
    if accept:
        _accept(grant, user, actor, now, public_url, f"accepted by {user.email}")
    else:
        _decline(grant, user, actor, now)
    return grant


def _accept(grant: Grant, by: User | None, actor: Actor, now: datetime, public_url: str, how: str) -> None:
    if db.session.scalar(select(User.id).where(User.email == grant.email)) is not None:
        raise Conflict(f"A user with the e-mail {grant.email} exists by now.", reasons=["email"])
    created = create_user(grant.email, Role.CUSTOMER, secrets.token_urlsafe(32), actor, now, name=grant.name,
                          customer_id=grant.customer_id)
    grant.user = created.user
    grant.state, grant.pending_key, grant.accept_token_hash = GrantState.APPROVED, None, None
    grant.decided_by_id, grant.decided_at, grant.note = (by.id if by else None), now, how
    token = links.issue(created.user, links.INVITATION, now)
    customer = grant.customer
    mail.enqueue(MailKind.INVITATION, grant.email, f"You are invited to {customer.name}'s Due Process portal",
                 "portal_invitation", now, user_id=created.user.id, customer=customer.name,
                 link=f"{public_url.rstrip('/')}/invitation/{token}",
                 hours=int(links.INVITATION.lifetime.total_seconds() // 3600))
    told = sorted(set(customer.notice_emails) | {u.email for u in _active_portal_users(customer.id)
                                                 if u.id != created.user.id})
    mail.enqueue(MailKind.PORTAL_USER_ADDED, told, f"A new user of your Due Process portal: {grant.email}",
                 "portal_user_added", now, user_id=created.user.id, customer=customer.name, email=grant.email,
                 how=how, at=now)
    audit.record(AuditAction.GRANT_APPROVED, actor, subject=("grant", grant.id), now=now,
                 data={"email": grant.email, "role": Role.CUSTOMER.value, "customer_id": grant.customer_id,
                       "user_id": created.user.id, "how": how})


def _decline(grant: Grant, by: User | None, actor: Actor, now: datetime) -> None:
    grant.state, grant.pending_key, grant.accept_token_hash = GrantState.REFUSED, None, None
    grant.decided_by_id, grant.decided_at = (by.id if by else None), now
    grant.note = "declined by the customer"
    audit.record(AuditAction.GRANT_REFUSED, actor, subject=("grant", grant.id), now=now,
                 data={"email": grant.email, "role": Role.CUSTOMER.value, "customer_id": grant.customer_id})


def people_of(customer_id: int) -> dict:
    """What the portal shows a customer of its own users: who they are, their last
    sign-ins, and requests waiting for the customer's answer."""
    users = list(db.session.scalars(select(User).where(User.customer_id == customer_id).order_by(User.email)))
    by_id = {u.id: u for u in users}
    sign_ins = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == AuditAction.SIGN_IN.value, AuditEvent.subject_type == "user",
        AuditEvent.subject_id.in_([str(i) for i in by_id] or ["-"]))
        .order_by(AuditEvent.seq.desc()).limit(SIGN_INS_SHOWN)).all()
    waiting = list(db.session.scalars(select(Grant).where(Grant.customer_id == customer_id,
                                                          Grant.state == GrantState.PENDING)
                                      .order_by(Grant.requested_at)))
    return {"users": users, "waiting": waiting,
            "sign_ins": [(by_id[int(e.subject_id)], e.at, (e.data or {}).get("ip")) for e in sign_ins]}
