"""Call-backs on emergency requests (DESIGN 11.4). A forged emergency request is
the usual way criminals obtain user data from providers, so an emergency is
confirmed by calling the agency back on the number in its directory entry, never
a number the request itself gives, before anything is proposed or approved. A
call-back that does not confirm it leaves only rejection.

One call-back is recorded per case (the database holds it to that), under the
case's row lock, so two reviewers calling at once cannot both record an answer.
A refused record is audited too: a wrong number may be a social engineer's."""

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field
from sqlalchemy.exc import IntegrityError

from models import (
    AuditAction,
    CallbackOutcome,
    Case,
    CaseVerification,
    Role,
    State,
    User,
    db,
)
from workflows import audit, identity
from workflows.cases.guards import Caller
from workflows.cases.states import REVIEWERS
from workflows.errors import Conflict, InvalidInput, NotAllowed
from workflows.identity import PHONE_MAX, PHONE_PATTERN, normalise_phone
from workflows.rows import locked
from workflows.schema import Body, text

NOTE_MAX = 4000
CALLBACK_STATES = (State.LEGAL_REVIEW, State.PENDING_APPROVAL)
Phone = Annotated[str, Field(pattern=PHONE_PATTERN, max_length=PHONE_MAX, description=(
    "the number dialled, in international form (+ and 8 to 15 digits; spaces, dots, dashes and brackets "
    "are ignored); it must be the agency's directory number"))]


class Callback(Body):
    """A call-back to the agency, as the reviewer records it."""

    WHAT: ClassVar[str] = "a call-back"
    LEAD: ClassVar[str] = "The call-back was not recorded: "
    MESSAGES: ClassVar[dict[str, str]] = {
        "phone_called": "phone_called must be a number in international form, such as +1 206 555 0100.",
        "spoke_with": "spoke_with: say whom you spoke with.",
        "outcome": "outcome must be confirmed or failed: say what the agency said.",
    }
    method: Literal["callback"] = "callback"
    phone_called: Phone
    spoke_with: text(200, filled=True, description="whom the reviewer spoke with: name and rank or role")
    outcome: CallbackOutcome = Field(description="confirmed: the agency confirmed it sent the request; "
                                                 "failed: it did not (the request is taken as forged)")
    note: text(NOTE_MAX, multiline=True, description="what was said; required when the outcome is failed") \
        | None = None


def needs_callback(case: Case) -> bool:
    """An emergency request of this kind: nothing is proposed or approved before a
    confirmed call-back."""
    return case.emergency


def callback_outcome(case: Case) -> CallbackOutcome | None:
    return case.verification.outcome if case.verification is not None else None


def record_callback(case_id: int, callback: Callback, caller: Caller, now: datetime) -> CaseVerification:
    """Record the call-back on an open emergency request; committed here. A refusal
    is audited in a transaction of its own and raised."""
    try:
        case = locked(Case, case_id, "No such case.")
        if caller.role not in REVIEWERS:
            who = caller.role.value if caller.role else "process"
            raise NotAllowed(f"A {who} may not record a call-back.")
        _check(case, callback)
        verification = CaseVerification(
            case_id=case.id, method=callback.method, phone_called=normalise_phone(callback.phone_called),
            spoke_with=callback.spoke_with, outcome=callback.outcome, note=callback.note or None,
            actor_id=caller.user_id, actor=caller.actor.label, at=now)
        db.session.add(verification)
        try:
            db.session.flush()  # the one-per-case constraint: a last line of defence behind the lock
        except IntegrityError:
            raise Conflict("Someone else recorded a call-back on this case at the same moment; reload it.",
                           code="already_verified") from None
        audit.record(AuditAction.CASE_VERIFIED, caller.actor, subject=("case", case.id), now=now, data={
            "reference": case.reference, "method": verification.method,
            "phone_called": verification.phone_called, "spoke_with": verification.spoke_with,
            "outcome": verification.outcome.value})
        if verification.outcome is CallbackOutcome.FAILED:
            _suspend_submitter(case, caller, now)
        db.session.commit()
    except (InvalidInput, Conflict) as exc:
        db.session.rollback()
        _audit_refusal(case_id, callback, caller, now, exc)
        raise
    except BaseException:
        db.session.rollback()
        raise
    return verification


def _suspend_submitter(case: Case, caller: Caller, now: datetime) -> None:
    """The officer whose token submitted a request the agency disowns is suspended
    at once: their sessions and tokens end in the same transaction."""
    submitter = db.session.get(User, case.created_by_id) if case.created_by_id else None
    if submitter is None or submitter.role is not Role.OFFICER or not submitter.active:
        return
    identity.suspend_officer(submitter.id, f"The agency did not confirm emergency request {case.reference} "
                             "when called back on its directory number.", caller.actor, now)


def _check(case: Case, callback: Callback) -> None:
    if not needs_callback(case):
        raise Conflict("Only an emergency request is confirmed by a call-back.", code="not_emergency")
    if case.verification is not None:
        v = case.verification
        raise Conflict(f"A call-back was already recorded ({v.outcome.value}, by {v.actor}, "
                       f"{v.at:%Y-%m-%d %H:%M} UTC).", code="already_verified")
    if case.state not in CALLBACK_STATES:
        raise Conflict(f"A call-back is recorded while the case is in legal review or awaiting approval, "
                       f"not {case.state.label.lower()}.", code="illegal_transition")
    directory = case.agency.phone
    if not directory:
        raise InvalidInput(
            f"{case.agency.name} has no directory number on file. An administrator records it from the "
            "agency's published directory (flask --app app agencies set-phone); call that number, not "
            "one the request gives.", code="guard_failed", reasons=["no_directory_number"],
            fields={"phone_called": "The agency has no directory number on file."})
    if normalise_phone(callback.phone_called) != directory:
        raise InvalidInput(
            f"{callback.phone_called} is not {case.agency.name}'s directory number ({directory}). Call "
            "the agency back on its directory number, never on one the request gives.",
            code="guard_failed", reasons=["not_directory_number"],
            fields={"phone_called": f"Not the agency's directory number ({directory})."})
    if callback.outcome is CallbackOutcome.FAILED and not callback.note:
        raise InvalidInput("Write what the agency said: a failed call-back needs a note.",
                           code="guard_failed", reasons=["note_required"],
                           fields={"note": "Write what the agency said."})


def _audit_refusal(case_id: int, callback: Callback, caller: Caller, now: datetime, exc) -> None:
    if db.session.get(Case, case_id) is None:
        return
    audit.record(AuditAction.CASE_VERIFICATION_REFUSED, caller.actor, subject=("case", case_id), now=now,
                 data={"phone_called": callback.phone_called, "outcome": callback.outcome.value,
                       "reasons": exc.reasons or [exc.code]})
    db.session.commit()
