"""Who is told what, and when (DESIGN section 5).

Notices are an outbox: on_transition() writes them in the transaction of the
transition that causes them (redirect, propose_disclosure, approve), one per
customer whose accounts the demand names. A notice under a non-disclosure order
waits until the order ends; an indefinite order or an emergency disclosure holds
it until a reviewer releases it. Once released, the customer sees it in the
portal at once, and the relay (workflows.notices.relay) e-mails it.

What the customer sees and does with a notice (reading it, objecting) is in
workflows.notices.objections."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from models import (
    Account,
    AuditAction,
    Case,
    Customer,
    CustomerKind,
    Delivery,
    Disclosure,
    HoldReason,
    Notice,
    NoticeKind,
    Role,
    db,
)
from models.terms import PROCESS_LABELS
from workflows import audit
from workflows.audit import Actor
from workflows.errors import Conflict, InvalidInput, NotAllowed
from workflows.notices import window
from workflows.rows import locked
from workflows.text import clean_text

RELEASERS = frozenset({Role.REVIEWER, Role.APPROVER})
NOTE_MAX = 2000
KIND_OF_TRIGGER = {"redirect": NoticeKind.REDIRECTED, "propose_disclosure": NoticeKind.INTENT_TO_DISCLOSE,
                   "approve": NoticeKind.DISCLOSED}


# An order's end date is a calendar date in a jurisdiction we may not know. A day
# has begun everywhere once it has begun at UTC-12, so a notice is released then:
# never early anywhere, at most a day late somewhere.
LAST_TIME_ZONE = timedelta(hours=-12)


def today(now: datetime) -> date:
    """The date that has begun everywhere (see LAST_TIME_ZONE)."""
    return (now.astimezone(UTC) + LAST_TIME_ZONE).date()


# ---- writing notices ------------------------------------------------------------

def hold_for(case: Case, now: datetime) -> tuple[HoldReason | None, date | None]:
    """Why a notice on this case waits, and until when. An emergency notice waits
    for a reviewer even after a dated NDO ends; an indefinite NDO waits for one."""
    dated = case.ndo_present and case.ndo_ends_on is not None
    until = case.ndo_ends_on if dated and case.ndo_ends_on > today(now) else None
    if case.ndo_present and case.ndo_ends_on is None:
        return HoldReason.NDO_INDEFINITE, None
    if case.emergency:
        return HoldReason.EMERGENCY, until
    if until:
        return HoldReason.NDO, until
    return None, None


def _content(case: Case, kind: NoticeKind, identifiers: list[str], disclosure: Disclosure | None) -> dict:
    """What the customer reads: plain values fixed when the notice is written."""
    content = {
        "reference": case.reference,
        "agency": case.agency.name,
        "agency_country": case.agency.country,
        "process_type": case.process_type.value,
        "process_label": PROCESS_LABELS[case.process_type],
        "case_number": case.case_number,
        "received_on": case.received_at.astimezone(UTC).date().isoformat(),
        "accounts": identifiers,
        "categories_requested": case.categories,
        "date_range": {"from": case.date_from.isoformat() if case.date_from else None,
                       "to": case.date_to.isoformat() if case.date_to else None},
    }
    if kind is NoticeKind.INTENT_TO_DISCLOSE:
        content["categories_to_disclose"] = case.proposed_categories
    if kind is NoticeKind.DISCLOSED:
        content["categories_disclosed"] = disclosure.categories
        content["disclosed_on"] = disclosure.approved_at.astimezone(UTC).date().isoformat()
    return content


def on_transition(case: Case, trigger: str, accounts: list[tuple[Account, CustomerKind]],
                  disclosure: Disclosure | None, now: datetime) -> list[Notice]:
    """Called by advance() inside its transaction, before it flushes: the notices
    this transition causes, one per customer whose accounts the demand names."""
    kind = KIND_OF_TRIGGER.get(trigger)
    if kind is None:
        return []
    if kind is NoticeKind.DISCLOSED:
        ids = set(disclosure.account_ids)
        accounts = [(a, k) for a, k in accounts if a.id in ids]
    by_customer: dict[int, list[str]] = {}
    for account, _ in accounts:
        by_customer.setdefault(account.customer_id, []).append(account.identifier)
    reason, until = hold_for(case, now)
    if kind is NoticeKind.INTENT_TO_DISCLOSE:
        case.objection_deadline = None  # a new proposal: its own window, if anyone is told of it
    if reason is HoldReason.NDO_INDEFINITE and by_customer and case.challenge_flagged_at is None:
        case.challenge_flagged_at = now  # nobody can be told while it lasts: challenge the order
    notices = []
    for customer_id, identifiers in sorted(by_customer.items()):
        customer = db.session.get(Customer, customer_id)
        held = reason is not None
        notice = Notice(
            case_id=case.id, customer_id=customer_id, kind=kind, created_at=now,
            document_id=case.document.id if case.document else None,
            content=_content(case, kind, sorted(identifiers), disclosure),
            hold_reason=reason, hold_until=until,
            released_at=None if held else now, released_by=None if held else "on transition",
            delivery=Delivery.WAITING if held else Delivery.PENDING,
            next_attempt_at=None if held else now, recipients=list(customer.notice_emails),
        )
        if not held:
            end = window.stamp(case, notice, now)
            if end is not None:
                case.objection_deadline = end  # flushed with the transition's UPDATE of the case
        db.session.add(notice)
        notices.append(notice)
    if notices and reason is None:
        case.customer_notified = True  # flushed with the transition's own UPDATE of the case
    return notices


# ---- holds and releases -----------------------------------------------------------

def _mark_notified(case_id: int) -> None:
    """The report's customer_notified figure. A plain UPDATE, not through the ORM:
    the case's version counts its own changes, and a notice going out is not one."""
    db.session.execute(update(Case).where(Case.id == case_id, Case.customer_notified.is_(False))
                       .values(customer_notified=True))


def _release(notice: Notice, actor: Actor, now: datetime, why: str) -> None:
    _mark_notified(notice.case_id)
    end = window.stamp(notice.case, notice, now)
    if end is not None:
        # Told while the proposal still waits: the window runs from now. A plain
        # UPDATE, as above: the case's version counts its own changes.
        later = Case.objection_deadline.is_(None) | (Case.objection_deadline < end)
        db.session.execute(update(Case).where(Case.id == notice.case_id, later)
                           .values(objection_deadline=end))
    notice.released_at = now
    notice.released_by = actor.label
    notice.delivery = Delivery.PENDING
    notice.next_attempt_at = now
    audit.record(AuditAction.NOTICE_RELEASED, actor, subject=("notice", notice.id), now=now, data={
        "case_id": notice.case_id, "kind": notice.kind.value, "customer_id": notice.customer_id,
        "hold_reason": notice.hold_reason.value if notice.hold_reason else None,
        "hold_until": notice.hold_until.isoformat() if notice.hold_until else None, "why": why,
    })


def release_due(now: datetime, actor: Actor) -> int:
    """Release every notice whose dated NDO has ended (the relay calls this)."""
    due = db.session.scalars(
        select(Notice).where(Notice.released_at.is_(None), Notice.hold_reason == HoldReason.NDO,
                             Notice.hold_until <= today(now))
        .order_by(Notice.id).with_for_update(skip_locked=True)
    ).all()
    for notice in due:
        _release(notice, actor, now, "the non-disclosure order ended")
    db.session.commit()
    return len(due)


def release(notice_id: int, role: Role, actor: Actor, note: str | None, now: datetime) -> Notice:
    """A reviewer releases a notice held for an indefinite NDO (once the order is
    lifted) or for an emergency disclosure."""
    if role not in RELEASERS:
        raise NotAllowed(f"A {role.value} may not release notices.")
    why = clean_text(note if isinstance(note, str) else "", field="note", label="Notes", max_length=NOTE_MAX,
                     multiline=True)
    if not why:
        raise InvalidInput("Write why the notice may now go to the customer.", reasons=["note_required"],
                           fields={"note": "Write why the notice may now go to the customer."})
    try:
        notice = locked(Notice, notice_id, "No such notice.")
        if notice.released_at is not None:
            raise Conflict("This notice has already been released.", code="already_released")
        if notice.hold_reason is HoldReason.NDO:
            raise Conflict(f"This notice waits for its NDO to end on {notice.hold_until}; it is released "
                           "then, by itself.", code="dated_hold")
        if notice.hold_until and notice.hold_until > today(now):
            raise Conflict(f"The non-disclosure order runs until {notice.hold_until}; release it then.",
                           code="ndo_in_force")
        _release(notice, actor, now, why)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return notice


def parse_end(raw: str | None, indefinite: bool) -> date | None:
    """The new end date from a form: a date (YYYY-MM-DD), or none for an indefinite order."""
    if indefinite:
        return None
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        raise InvalidInput("Give the new end date as YYYY-MM-DD, or tick that the order is now indefinite.",
                           reasons=["ends_on"], fields={"ends_on": "Give the new end date."}) from None


def extend_ndo(case_id: int, role: Role, actor: Actor, ends_on: date | None, note: str | None,
               now: datetime) -> Case:
    """Record an extension of the case's NDO (a new end date, or none: indefinite).
    Notices still held move to the new date."""
    if role not in RELEASERS:
        raise NotAllowed(f"A {role.value} may not record NDO extensions.")
    text = clean_text(note if isinstance(note, str) else "", field="note", label="Notes", max_length=NOTE_MAX,
                      multiline=True)
    try:
        case = locked(Case, case_id, "No such case.")
        if not case.ndo_present:
            raise Conflict("This case has no non-disclosure order to extend.", code="no_ndo")
        if ends_on is not None and ends_on < case.received_at.astimezone(UTC).date():
            raise InvalidInput("The NDO cannot end before the demand was received "
                               f"({case.received_at.astimezone(UTC).date()}).", reasons=["ends_on"],
                               fields={"ends_on": "The NDO cannot end before the demand was received."})
        if ends_on is not None and case.ndo_ends_on is not None and ends_on <= case.ndo_ends_on:
            raise InvalidInput(f"An extension ends after the current end date ({case.ndo_ends_on}).",
                               reasons=["ends_on"],
                               fields={"ends_on": "Choose a date after the current end."})
        before = case.ndo_ends_on
        case.ndo_ends_on = ends_on
        reason, until = hold_for(case, now)
        held = db.session.scalars(select(Notice).where(Notice.case_id == case.id,
                                                       Notice.released_at.is_(None))).all()
        for notice in held:
            notice.hold_reason, notice.hold_until = reason, until
            if reason is None:  # the order's (new) end date has already come
                _release(notice, actor, now, "the non-disclosure order's end date has passed")
        if reason is HoldReason.NDO_INDEFINITE and held and case.challenge_flagged_at is None:
            case.challenge_flagged_at = now
        audit.record(AuditAction.NDO_EXTENDED, actor, subject=("case", case.id), now=now, data={
            "reference": case.reference, "before": before.isoformat() if before else None,
            "after": ends_on.isoformat() if ends_on else None, "note": text or None,
            "held_notices": [n.id for n in held],
        })
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return case


def retry(notice_id: int, role: Role, actor: Actor, now: datetime) -> Notice:
    """Staff send a failed notice again (after fixing an address, say)."""
    if role not in RELEASERS:
        raise NotAllowed(f"A {role.value} may not retry deliveries.")
    try:
        notice = locked(Notice, notice_id, "No such notice.")
        if notice.delivery not in (Delivery.FAILED, Delivery.NOT_CONFIGURED):
            raise Conflict("Only a failed or unsent delivery can be retried.", code="not_failed")
        customer = db.session.get(Customer, notice.customer_id)
        notice.recipients = list(customer.notice_emails)
        notice.delivery, notice.attempts, notice.next_attempt_at = Delivery.PENDING, 0, now
        notice.last_error = None
        audit.record(AuditAction.NOTICE_RETRIED, actor, subject=("notice", notice.id), now=now,
                     data={"case_id": notice.case_id, "recipients": notice.recipients})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return notice


# ---- staff views ----------------------------------------------------------------------

_LIST_LOADS = (selectinload(Notice.customer), selectinload(Notice.objection))


def of_case(case_id: int) -> list[Notice]:
    return db.session.scalars(select(Notice).options(*_LIST_LOADS).where(Notice.case_id == case_id)
                              .order_by(Notice.id)).all()


def held() -> list[Notice]:
    """Notices not yet released, the soonest release first (reviewer holds last)."""
    return db.session.scalars(
        select(Notice).options(*_LIST_LOADS).where(Notice.released_at.is_(None))
        .order_by(Notice.hold_until.is_(None), Notice.hold_until, Notice.id)
    ).all()


def failed() -> list[Notice]:
    return db.session.scalars(
        select(Notice).options(*_LIST_LOADS)
        .where(Notice.delivery.in_([Delivery.FAILED, Delivery.NOT_CONFIGURED]))
        .order_by(Notice.id.desc())
    ).all()
