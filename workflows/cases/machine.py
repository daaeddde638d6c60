"""Binds the transition table (states.py) to a case: advance() is the one way a
case changes state.

Each call is one database transaction: the case row is locked (FOR UPDATE on
PostgreSQL; SQLite transactions take the write lock when they begin), the trigger
is checked against the state, the caller's role and the guards, then the
transition-log row, the new state, the per-state counts and the audit event are
written together. The UPDATE carries the version read (optimistic lock), so a
concurrent or stale change ends in Conflict (409), never in a double effect."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from transitions import Machine, MachineError

from models import (
    AuditAction,
    Case,
    CaseKind,
    CaseTransition,
    Category,
    Disclosure,
    RejectReason,
    Role,
    State,
    db,
)
from models.case import state_writer
from workflows import audit, disclosure, identity, legal, notices
from workflows.cases.demand import narrowed_identifiers
from workflows.cases.guards import (
    Caller,
    Context,
    extensions_used_up,
    open_followups,
    period_end,
    reasons_for,
)
from workflows.cases.intake import count_state
from workflows.cases.preconditions import (
    LEFT_AFTER_FAILED_CALLBACK,
    WAIT_FOR_CALLBACK,
    awaits_callback,
    awaits_enforcing_answer,
    callback_failed,
)
from workflows.cases.states import (
    BY_TRIGGER,
    Transition,
    Trigger,
    machine_table,
    outcome_of,
    states_of,
    transitions_of,
)
from workflows.errors import Conflict, InvalidInput, NotAllowed, ReauthRequired
from workflows.rows import locked, locking
from workflows.text import clean_text, iso_utc

NOTE_MAX = 4000
ENFORCING_ANSWERS = frozenset({Trigger.ENFORCING_CLEARED, Trigger.ENFORCING_REFUSED})
KIND_WORDS = {CaseKind.PRODUCTION: "production demand", CaseKind.PRESERVATION: "preservation request"}
# The triggers that change what a demand covers: a lost challenge narrows it, an
# amendment records the agency's own narrower (or newly specific) demand.
RESCOPING = frozenset({Trigger.CHALLENGE_LOST, Trigger.AMEND})


@dataclass(frozen=True)
class Move:
    """What the caller asks for. Fields a trigger does not use are ignored."""

    trigger: str
    note: str | None = None
    reason: str | None = None
    categories: list | None = None
    identifiers: list | None = None
    version: int | None = None


@cache
def _machine(kind: CaseKind) -> Machine:
    """The `transitions` machine for one kind of case, built once: a production
    demand and a preservation request each have their own table. Cases are bound
    to it only while a trigger fires (_next_state)."""
    return Machine(model=None, states=states_of(kind), transitions=machine_table(kind),
                   initial=states_of(kind)[0], auto_transitions=False)


class _Model:
    """What the machine moves: it holds a case's state while a trigger fires."""

    state: State


def _accepts(state: State, kind: CaseKind, trigger: Trigger) -> bool:
    return trigger.value in _machine(kind).get_triggers(state.name)


def _next_state(state: State, kind: CaseKind, trigger: Trigger) -> State:
    """Fire `trigger` in `state` through the machine; the state it leads to.
    MachineError if the machine refuses it."""
    machine, model = _machine(kind), _Model()
    machine.add_model(model, initial=state)
    try:
        model.trigger(trigger.value)
        return model.state
    finally:
        machine.remove_model(model)


def allowed_from(state: State, kind: CaseKind = CaseKind.PRODUCTION) -> list[Trigger]:
    """Triggers the machine accepts in `state`, whoever fires them."""
    return [t.trigger for t in transitions_of(kind) if _accepts(state, kind, t.trigger)]


def available_triggers(case: Case, role: Role, user_id: int) -> list[Trigger]:
    """What this user may fire on this case now (the actions their page shows)."""
    return [
        trigger for trigger in allowed_from(case.state, case.kind)
        if role in BY_TRIGGER[trigger].roles
        and not (trigger is Trigger.APPROVE and case.proposed_by_id == user_id)
        and not (trigger is Trigger.EXTEND and extensions_used_up(case))
        and not (trigger in ENFORCING_ANSWERS and not awaits_enforcing_answer(case))
        and not (trigger not in LEFT_AFTER_FAILED_CALLBACK and callback_failed(case))
        and not (trigger in WAIT_FOR_CALLBACK and awaits_callback(case))
    ]


# ---- effects: what a transition writes besides the state ----------------------

def _effects(transition: Transition, ctx: Context) -> dict:
    """Apply the trigger's effect to the case; return what the log should record."""
    case, trigger = ctx.case, transition.trigger
    if trigger is Trigger.START_REVIEW:
        case.assignee_id = ctx.caller.user_id
        return {"assignee_id": ctx.caller.user_id}
    if trigger in RESCOPING:
        data = {}
        if ctx.categories is not None:
            data["categories"] = {"before": case.categories, "after": [c.value for c in ctx.categories]}
            case.categories = data["categories"]["after"]
        if ctx.identifiers is not None:
            data["identifiers"] = {"before": case.identifiers, "after": ctx.identifiers}
            case.identifiers = ctx.identifiers
            ctx.__dict__.pop("accounts", None)  # matched again, against the accounts now named
        return data
    if trigger is Trigger.ENFORCING_CLEARED:
        case.enforcing_cleared_at = ctx.now
        return {"enforcing_state": case.enforcing_state}
    if trigger is Trigger.ENFORCING_REFUSED:
        case.reject_reason = RejectReason.REFUSED_BY_ENFORCING_AUTHORITY
        return {"enforcing_state": case.enforcing_state, "reason": case.reject_reason.value}
    if trigger is Trigger.CHALLENGE_WON:
        case.reject_reason = RejectReason.QUASHED
        return {"reason": RejectReason.QUASHED.value}
    if trigger is Trigger.REJECT:
        case.reject_reason = ctx.reason
        return {"reason": ctx.reason.value}
    if trigger is Trigger.PROPOSE_DISCLOSURE:
        case.proposed_categories = [c.value for c in ctx.categories]
        case.proposed_by_id = ctx.caller.user_id
        document = case.document  # the process the proposal rests on, for the record
        return {"categories": case.proposed_categories,
                "document_sha256": document.sha256 if document else None}
    if trigger is Trigger.SEND_BACK:
        case.proposed_categories, case.proposed_by_id = None, None
        return {}
    if trigger is Trigger.PRESERVE:
        case.preserved_until = case.due_at = period_end(case)
        accounts = sorted(a.id for a, _ in ctx.accounts)
        held = disclosure.hold_records(case.id, accounts, ctx.categories, case.date_from, case.date_to,
                                       ctx.now)
        return {"categories": [c.value for c in ctx.categories], "account_ids": accounts, "held": held,
                "preserved_until": iso_utc(case.preserved_until)}
    if trigger is Trigger.EXTEND:
        before = case.preserved_until
        days = legal.process_rule(case.process_type).extension_days
        case.preserved_until = case.due_at = before + timedelta(days=days)
        case.extensions += 1
        return {"preserved_until": {"before": iso_utc(before), "after": iso_utc(case.preserved_until)}}
    if trigger is Trigger.APPROVE:
        chosen = ctx.categories if ctx.categories is not None else [
            Category(c) for c in case.proposed_categories]
        granted = Disclosure(
            case_id=case.id, categories=[c.value for c in chosen],
            account_ids=sorted(a.id for a, _ in ctx.accounts),
            identifiers=sorted(a.identifier for a, _ in ctx.accounts),
            proposed_by_id=case.proposed_by_id, approved_by_id=ctx.caller.user_id,
            approved_at=ctx.now, emergency_justification=case.emergency_justification,
        )
        db.session.add(granted)
        ctx.disclosure = granted
        return {"categories": granted.categories, "account_ids": granted.account_ids}
    return {}


# ---- the one door ----------------------------------------------------------------

def _parse(move: Move, transition: Transition) -> tuple[str, RejectReason | None, list | None, list | None]:
    errors: dict[str, str] = {}
    note = ""
    if move.note is not None:
        if not isinstance(move.note, str):
            errors["note"] = "note must be text."
        else:
            try:
                note = clean_text(move.note, field="note", label="Notes", max_length=NOTE_MAX,
                                  multiline=True)
            except InvalidInput as exc:
                errors["note"] = exc.message
    reason = None
    if move.reason not in (None, "") and transition.trigger is Trigger.REJECT:
        try:
            reason = RejectReason(move.reason)
        except ValueError:
            errors["reason"] = ("Unknown reason; use one of "
                                + ", ".join(r.value for r in RejectReason) + ".")
    categories = None
    if move.categories is not None:
        if not isinstance(move.categories, list):
            errors["categories"] = "categories must be a list."
        else:
            try:
                categories = [c for c in Category if c in {Category(v) for v in move.categories}]
            except (ValueError, TypeError):
                errors["categories"] = ("Unknown category; use " + ", ".join(c.value for c in Category) + ".")
    identifiers = None
    if move.identifiers is not None and transition.trigger in RESCOPING:
        try:
            identifiers = narrowed_identifiers(move.identifiers)
        except InvalidInput as exc:
            errors.update(exc.fields)
    if errors:
        raise InvalidInput(" ".join(errors.values()), reasons=list(errors), fields=errors)
    return note, reason, categories, identifiers


_FOR_UPDATE = locking(Case, joinedload(Case.verification), joinedload(Case.disclosure))


def load_for_update(case_id: int) -> Case:
    """The case, locked, with the two rows every transition's guards or outcome may
    read (its call-back and its disclosure) in the same statement."""
    return locked(Case, case_id, "No such case.", statement=_FOR_UPDATE)


def advance(case_id: int, move: Move, caller: Caller, now: datetime) -> Case:
    """Fire one trigger on one case, in one transaction (committed here)."""
    try:
        trigger = Trigger(move.trigger)
    except ValueError:
        raise InvalidInput(
            f"Unknown trigger {move.trigger!r}; use one of " + ", ".join(t.value for t in Trigger) + ".",
            reasons=["trigger"], fields={"trigger": "Unknown trigger."},
        ) from None
    transition = BY_TRIGGER[trigger]
    note, reason, categories, identifiers = _parse(move, transition)
    package = None
    try:
        case = load_for_update(case_id)
        if caller.role is None and not transition.by_application:
            raise NotAllowed(f"Only a person may {trigger.label.lower()}.")
        if caller.role is not None and caller.role not in transition.roles:
            raise NotAllowed(f"A {caller.role.value} may not {trigger.label.lower()}.")
        if case.kind not in transition.kinds:
            raise Conflict(f"A {KIND_WORDS[case.kind]} cannot take {trigger.label.lower()}.",
                           code="illegal_transition")
        if move.version is not None and move.version != case.version:
            raise Conflict(f"The case changed since you loaded it (version {move.version}, now "
                           f"{case.version}); reload it and try again.", code="stale_version")
        if not _accepts(case.state, case.kind, trigger):
            raise Conflict(f"A case in {case.state.label.lower()} cannot take "
                           f"{trigger.label.lower()}.", code="illegal_transition")
        if trigger is Trigger.APPROVE:
            if case.proposed_by_id == caller.user_id:
                raise NotAllowed("You proposed this disclosure; another approver must approve it.",
                                 code="own_proposal")
            if not identity.recently_authenticated(caller.authenticated_at, now):
                raise ReauthRequired("Confirm your password and code again to approve: approving needs "
                                     "a sign-in within the last 10 minutes.")
        ctx = Context(case=case, caller=caller, note=note, reason=reason, categories=categories,
                      identifiers=identifiers, now=now)
        reasons = reasons_for(trigger, ctx)
        if reasons:
            raise InvalidInput(
                " ".join(r.message for r in reasons), code="guard_failed",
                reasons=[r.code for r in reasons], fields={r.field: r.message for r in reasons},
            )
        data = _write(case, transition, ctx, note)
        if ctx.disclosure is not None:
            # The approval and its production stand or fall together: if the package
            # cannot be written, nothing is disclosed and the case still awaits approval.
            # The package is written before any audit event, so the long write does not
            # hold the audit chain's lock.
            package = disclosure.produce(disclosure.mint(ctx.disclosure, case), now)
        audit.record(AuditAction.CASE_TRANSITION, caller.actor, subject=("case", case.id), now=now, data=data)
        if case.state.is_terminal and case.preservation_id is not None:
            _release_followed(case, caller, now)
        if package is not None:
            package.record(caller.actor, caller.user_id, now)
        db.session.commit()
    except (StaleDataError, IntegrityError):
        db.session.rollback()
        _discard(package)
        raise Conflict("Someone else changed this case at the same moment; reload it.",
                       code="concurrent_change") from None
    except BaseException:
        db.session.rollback()
        _discard(package)
        raise
    if package is not None:
        package.settle()  # committed: the disclosure names the file
    return case


def _release_followed(case: Case, caller: Caller, now: datetime) -> None:
    """A production demand that followed a preservation has ended: the
    preservation is released with it, in the same transaction, unless another
    open demand still follows it."""
    preservation = load_for_update(case.preservation_id)
    if preservation.state is not State.PRESERVED or open_followups(preservation.id):
        return
    transition = BY_TRIGGER[Trigger.RELEASE]
    note = f"The production demand that followed it, {case.reference}, ended ({case.state.label.lower()})."
    system = Caller(user_id=caller.user_id, role=None, authenticated_at=now, actor=caller.actor)
    ctx = Context(case=preservation, caller=system, note=note, reason=None, categories=None,
                  identifiers=None, now=now)
    data = _write(preservation, transition, ctx, note)
    audit.record(AuditAction.CASE_TRANSITION, caller.actor, subject=("case", preservation.id), now=now,
                 data=data)


def _discard(package: "disclosure.Package | None") -> None:
    if package is not None:
        package.discard()


_LOG_ROW = CaseTransition.__table__.insert()  # one statement, compiled once, for every log row


def _write(case: Case, transition: Transition, ctx: Context, note: str) -> dict:
    """Write the log row, the state, the counts and the notices; return what the
    transition's audit event records."""
    before = case.state
    # The log row goes in before the case row changes (the database lets a state
    # change only once its log row exists), so nothing is flushed until it is.
    with db.session.no_autoflush:
        data = _effects(transition, ctx)
        try:
            after = _next_state(before, case.kind, transition.trigger)
        except MachineError as exc:  # checked above; kept as a last line of defence
            raise Conflict(str(exc), code="illegal_transition") from None
        with state_writer():
            case.state = after
        case.is_open = not case.state.is_terminal
        # The figures the transparency report counts, in the same UPDATE as the state.
        disclosed = ctx.disclosure.categories if ctx.disclosure is not None else (
            case.disclosure.categories if case.disclosure else ())
        case.outcome = outcome_of(case.state, disclosed).value
        if transition.trigger is Trigger.CHALLENGE:
            case.challenged = True
        if transition.trigger is Trigger.REDIRECT:
            case.redirected = True
        if case.kind is CaseKind.PRESERVATION and case.state.is_terminal and before is State.PRESERVED:
            data["hold"] = disclosure.release_hold(case.id)
        if transition.trigger in RESCOPING:
            case.accounts_specified = len(case.identifiers)
            case.content_requested = Category.CONTENT.value in case.categories
        # Accounts are matched as they stand at each step (a customer may have been
        # registered since the demand arrived); the report counts the latest match.
        enterprise = ctx.enterprise
        if enterprise != case.enterprise:
            case.enterprise = enterprise
        db.session.execute(_LOG_ROW, {
            "case_id": case.id, "seq": case.version + 1, "trigger": transition.trigger.value,
            "from_state": before, "to_state": case.state, "actor_id": ctx.caller.user_id,
            "actor": ctx.caller.actor.label, "at": ctx.now, "note": note or None, "data": data,
        })
        count_state((before, -1), (case.state, +1))
        # The outbox: notices go in with the transition that causes them, or not at all.
        trigger = transition.trigger.value
        accounts = ctx.accounts if trigger in notices.KIND_OF_TRIGGER else []
        written = notices.on_transition(case, trigger, accounts, ctx.disclosure, ctx.now)
    db.session.flush()
    if written:
        data["notices"] = [{"id": n.id, "kind": n.kind.value, "customer_id": n.customer_id,
                            "held": n.hold_reason.value if n.hold_reason else None} for n in written]
    return {"reference": case.reference, "trigger": transition.trigger.value, "from": before.value,
            "to": case.state.value, "version": case.version, "note": note or None, **data}
