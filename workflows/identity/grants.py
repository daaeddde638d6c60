"""Two people for every grant of power (DESIGN 11.8). Creating a staff user, or
changing a user's role, is proposed by one administrator and takes effect only
when a second approves it: never the proposer, never the user concerned. A new
staff user gets a single-use invitation to set their own password (nobody else
ever knows it); every active approver and auditor is told of each grant by
e-mail, including those an operator makes at the server (`users create`).

The grants also say who owes their role to whom: `four_eyes_refusals` keeps an
approver from approving what a proposer proposed when both owe their roles to the
same two administrators lately, or when the approver's own role is new."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from models import STAFF_ROLES, Grant, GrantState, MailKind, Role, User, db
from models.audit import AuditAction
from workflows import audit, mail
from workflows.audit import Actor
from workflows.errors import Conflict, InvalidInput, NotAllowed, NotFound
from workflows.identity import auth, links
from workflows.identity.users import NAME_MAX, create_user, get_user, parse_email, parse_role, unique_flush
from workflows.text import clean_text

# The policy values of the four-eyes rule between people, in one place.
SAME_GRANTOR_PERIOD = timedelta(days=30)  # grants this recent tie a proposer and an approver together
NEW_APPROVER_PERIOD = timedelta(hours=24)  # an approver this new does not approve yet
NOTE_MAX = 1000


def parse_domains(raw) -> tuple[str, ...]:
    """The provider's staff e-mail domains from the configuration (a list, or text
    separated by commas or spaces)."""
    items = raw if isinstance(raw, list | tuple) else str(raw or "").replace(",", " ").split()
    return tuple(sorted({d.strip().lower().lstrip("@") for d in items if d.strip()}))


def _staff_role(raw) -> Role:
    role = parse_role(raw)
    if role not in STAFF_ROLES:
        raise InvalidInput(f"{role.label} is not a staff role. Officers are invited for their agency; a "
                           "customer's portal users are accepted by the customer.", reasons=["role"])
    return role


def _requester(actor: Actor) -> User:
    """The administrator proposing or deciding: the rule lives here, not only in the
    pages that call it."""
    user = db.session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None or user.role is not Role.ADMIN or not user.active:
        raise NotAllowed("Only an active administrator proposes or decides a grant.")
    return user


def propose_user(email: str, name: str, role, actor: Actor, now: datetime, domains: tuple[str, ...]) -> Grant:
    """A new staff user, waiting for a second administrator. The caller commits."""
    requester = _requester(actor)
    email, role = parse_email(email), _staff_role(role)
    name = clean_text(name, field="name", label="Names", max_length=NAME_MAX)
    if not domains:
        raise InvalidInput("No staff e-mail domains are configured (DUE_PROCESS_STAFF_DOMAINS), so no staff "
                           "user can be proposed.", reasons=["email"])
    if email.rpartition("@")[2] not in domains:
        raise InvalidInput(f"Staff addresses must be on the provider's domains ({', '.join(domains)}).",
                           reasons=["email"])
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A user with the e-mail {email} already exists.", reasons=["email"])
    grant = Grant(email=email, name=name, role=role, state=GrantState.PENDING, pending_key=f"new:{email}",
                  requested_by_id=requester.id, requested_at=now)
    db.session.add(grant)
    unique_flush(f"A grant for {email} is already waiting for approval.", "email")
    audit.record(AuditAction.GRANT_PROPOSED, actor, subject=("grant", grant.id), now=now,
                 data={"email": email, "role": role.value, "new_user": True})
    return grant


def propose_role(user_id: int, role, actor: Actor, now: datetime) -> Grant:
    """A staff user's new role, waiting for a second administrator. The caller commits."""
    requester = _requester(actor)
    user, role = get_user(user_id), _staff_role(role)
    if user.id == requester.id:
        raise NotAllowed("You cannot propose a change of your own role.")
    if user.role not in STAFF_ROLES:
        raise InvalidInput("Only a staff user's role can change.", reasons=["role"])
    if user.role is role:
        raise Conflict(f"{user.email} already has the role {role.label}.", reasons=["role"])
    grant = Grant(user_id=user.id, email=user.email, name=user.name, role=role, previous_role=user.role,
                  state=GrantState.PENDING, pending_key=f"user:{user.id}", requested_by_id=requester.id,
                  requested_at=now)
    db.session.add(grant)
    unique_flush(f"A grant for {user.email} is already waiting for approval.", "role")
    audit.record(AuditAction.GRANT_PROPOSED, actor, subject=("grant", grant.id), now=now,
                 data={"email": user.email, "role": role.value, "previous_role": user.role.value,
                       "user_id": user.id})
    return grant


@dataclass
class Decided:
    grant: Grant
    invitation: str | None = None  # the token mailed to a new user (for the caller's own use: tests)


def decide(grant_id: int, approve: bool, actor: Actor, now: datetime, public_url: str,
           note: str | None = None) -> Decided:
    """Approve (a second administrator) or refuse (any administrator, the proposer
    included: a withdrawal). The grant is locked while decided, so two decisions
    at once make one. The caller commits."""
    decider = _requester(actor)
    grant = db.session.scalar(select(Grant).where(Grant.id == grant_id).with_for_update()
                              .execution_options(populate_existing=True))
    if grant is None:
        raise NotFound("No such grant.")
    if grant.state is not GrantState.PENDING:
        raise Conflict(f"This grant was already {grant.state.value}.")
    note = clean_text(note, field="note", label="Notes", max_length=NOTE_MAX, multiline=True) or None
    if approve and grant.for_customer:
        raise NotAllowed("The customer accepts its own portal users: no administrator can.")
    if approve and decider.id == grant.requested_by_id:
        raise NotAllowed("A second administrator must approve this: you proposed it.")
    if approve and (decider.id == grant.user_id or decider.email == grant.email):
        raise NotAllowed("You cannot approve a grant to yourself.")
    grant.state = GrantState.APPROVED if approve else GrantState.REFUSED
    grant.pending_key, grant.decided_by_id, grant.decided_at, grant.note = None, decider.id, now, note
    grant.accept_token_hash = None  # a customer's link to a withdrawn request stops working
    decided = Decided(grant)
    if approve:
        decided.invitation = _new_user(grant, actor, now, public_url) if grant.is_new_user \
            else _new_role(grant, actor, now)
        announce(grant.user, grant.role, f"proposed by {grant.requested_by.email} and approved by "
                                         f"{decider.email}", now)
    audit.record(AuditAction.GRANT_APPROVED if approve else AuditAction.GRANT_REFUSED, actor,
                 subject=("grant", grant.id), now=now,
                 data={"email": grant.email, "role": grant.role.value, "user_id": grant.user_id,
                       **({"note": note} if note else {})})
    return decided


def _new_user(grant: Grant, actor: Actor, now: datetime, public_url: str) -> str:
    if db.session.scalar(select(User.id).where(User.email == grant.email)) is not None:
        raise Conflict(f"A user with the e-mail {grant.email} exists by now: refuse this grant.")
    created = create_user(grant.email, grant.role, secrets.token_urlsafe(32), actor, now, name=grant.name)
    grant.user = created.user
    token = links.issue(created.user, links.INVITATION, now)
    hours = int(links.INVITATION.lifetime.total_seconds() // 3600)
    mail.enqueue(MailKind.INVITATION, grant.email, "You are invited to Due Process", "invitation", now,
                 user_id=created.user.id, link=f"{public_url.rstrip('/')}/invitation/{token}",
                 role=grant.role.label, hours=hours)
    return token


def _new_role(grant: Grant, actor: Actor, now: datetime) -> None:
    changed = db.session.execute(
        update(User).where(User.id == grant.user_id, User.role == grant.previous_role)
        .values(role=grant.role).execution_options(synchronize_session=False)).rowcount
    if not changed:
        raise Conflict(f"{grant.email}'s role changed since this was proposed: refuse it and propose again.")
    db.session.refresh(grant.user)
    auth.revoke_sessions(grant.user_id, now)  # the new role starts at the next sign-in
    audit.record(AuditAction.USER_ROLE_CHANGED, actor, subject=("user", grant.user_id), now=now,
                 data={"email": grant.email, "role": grant.role.value,
                       "previous_role": grant.previous_role.value, "grant_id": grant.id})


def announce(user: User, role: Role, how: str, now: datetime) -> None:
    """Tell every active approver and auditor that `user` now holds `role`. The
    caller commits."""
    watchers = db.session.scalars(select(User.email).where(
        User.role.in_([Role.APPROVER, Role.AUDITOR]), User.active.is_(True), User.id != user.id)).all()
    if watchers:
        mail.enqueue(MailKind.STAFF_GRANT, list(watchers), f"{user.email} now holds the role {role.label}",
                     "staff_grant", now, user_id=user.id, email=user.email, name=user.name, role=role.label,
                     how=how, at=now)


def waiting() -> list[Grant]:
    return list(db.session.scalars(select(Grant).where(Grant.state == GrantState.PENDING)
                                   .order_by(Grant.requested_at, Grant.id)))


def decided_lately(limit: int = 20) -> list[Grant]:
    return list(db.session.scalars(select(Grant).where(Grant.state != GrantState.PENDING)
                                   .order_by(Grant.decided_at.desc(), Grant.id.desc()).limit(limit)))


def waiting_for(user_id: int) -> Grant | None:
    return db.session.scalar(select(Grant).where(Grant.user_id == user_id, Grant.state == GrantState.PENDING))


# ---- four eyes between people ------------------------------------------------------

def _latest(user_id: int | None) -> Grant | None:
    """The approved grant a user owes their present role to, if an administrator
    made it (an operator's `users create` is no such grant)."""
    if user_id is None:
        return None
    return db.session.scalar(
        select(Grant).where(Grant.user_id == user_id, Grant.state == GrantState.APPROVED)
        .order_by(Grant.decided_at.desc(), Grant.id.desc()).limit(1))


def four_eyes_refusals(proposer_id: int | None, approver_id: int | None,
                       now: datetime) -> list[tuple[str, str]]:
    """Why `approver_id` may not approve what `proposer_id` proposed, as (code,
    message) pairs: `new_approver` when the approver's role is less than
    NEW_APPROVER_PERIOD old, `same_grantor` when both owe their roles to the same
    pair of administrators within SAME_GRANTOR_PERIOD."""
    reasons = []
    approver, proposer = _latest(approver_id), _latest(proposer_id)
    if approver is not None and approver.decided_at > now - NEW_APPROVER_PERIOD:
        opens = approver.decided_at + NEW_APPROVER_PERIOD
        reasons.append(("new_approver", "Your role was granted less than 24 hours ago: you may approve "
                                        f"disclosures from {opens:%Y-%m-%d %H:%M} UTC. Ask another "
                                        "approver."))
    recent = now - SAME_GRANTOR_PERIOD
    if (approver is not None and proposer is not None and approver.decided_at > recent
            and proposer.decided_at > recent
            and {approver.requested_by_id, approver.decided_by_id}
            == {proposer.requested_by_id, proposer.decided_by_id}):
        reasons.append(("same_grantor", "You and the proposer were both given your roles by the same two "
                                        "administrators within the last 30 days: another approver must "
                                        "approve this."))
    return reasons
