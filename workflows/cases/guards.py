"""The guards of the case machine: pure functions of a Context (the case, the
caller, what they sent, the legal check and the matched accounts), each
returning the reasons it refuses a transition; none means it passes."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from sqlalchemy import select

from models import (
    Account,
    Case,
    Category,
    CustomerKind,
    Disclosure,
    RejectReason,
    Role,
    db,
)
from workflows import identity, legal, notices
from workflows.audit import Actor
from workflows.cases.intake import facts_of, matched_accounts, touches_enterprise
from workflows.cases.preconditions import (
    LEFT_AFTER_FAILED_CALLBACK,
    TRAFFIC_OR_CONTENT,
    WAIT_FOR_CALLBACK,
    awaits_callback,
    callback_failed,
    enforcing_applies,
    enforcing_window_ends,
)
from workflows.cases.states import Trigger


@dataclass(frozen=True)
class Caller:
    """Who fires a trigger: their user id and role, when their session last
    proved password and code, and how the audit log names them."""

    user_id: int | None
    role: Role | None  # None: the application itself (a command such as `preservations expire`)
    authenticated_at: datetime
    actor: Actor


@dataclass(frozen=True)
class Reason:
    """Why a guard refused: a stable code, the form field it concerns, plain words."""

    code: str
    field: str
    message: str


@dataclass
class Context:
    """Everything the guards look at. Guards are pure functions of it; the legal
    check and the matched accounts are read once, and only by the triggers that
    look at them (start_review needs neither)."""

    case: Case
    caller: Caller
    note: str
    reason: RejectReason | None
    categories: list[Category] | None
    identifiers: list[str] | None
    now: datetime
    disclosure: Disclosure | None = None  # made by approve

    @cached_property
    def check(self) -> legal.LegalCheck:
        return legal.check(facts_of(self.case), self.now)

    @cached_property
    def accounts(self) -> list[tuple[Account, CustomerKind]]:
        return matched_accounts(self.case.identifiers)

    @property
    def enterprise(self) -> bool:
        """Whether the case names an enterprise customer's account, as the accounts
        stand now: from the matched accounts if a guard or effect read them, else
        asked of the database without loading them."""
        if "accounts" in self.__dict__:
            return any(kind is CustomerKind.ENTERPRISE for _, kind in self.accounts)
        return touches_enterprise(self.case.identifiers)


def _note_required(ctx: Context, what: str) -> list[Reason]:
    return [] if ctx.note else [Reason("note_required", "note", f"Write {what}.")]


NAMES_NONE = Reason("no_identifiers", "identifiers",
                    "The demand names no account. Amend it once the agency names the accounts, or "
                    "challenge it, or reject it as overbroad.")


def _redirect(ctx: Context) -> list[Reason]:
    if not ctx.case.identifiers:
        return [NAMES_NONE]
    reasons = []
    if ctx.case.emergency:
        reasons.append(Reason("emergency", "trigger",
                              "An emergency is answered, not redirected: lives may be at stake."))
    enterprise = {a.identifier for a, kind in ctx.accounts if kind is CustomerKind.ENTERPRISE}
    others = [i for i in ctx.case.identifiers if i not in enterprise]
    if others:
        reasons.append(Reason(
            "not_enterprise", "identifiers",
            "Only demands for an enterprise customer's accounts go to the customer; these are not: "
            + ", ".join(others) + ".",
        ))
    return reasons


def _categories_narrowed(ctx: Context, message: str) -> list[Reason]:
    """Categories, if given, may only be fewer than the demand's, and not none."""
    if ctx.categories is None:
        return []
    wider = [c.value for c in ctx.categories if c.value not in ctx.case.categories]
    return [Reason("not_narrower", "categories", message)] if wider or not ctx.categories else []


def _challenge_lost(ctx: Context) -> list[Reason]:
    reasons = _categories_narrowed(ctx, "After a lost challenge the categories may only be narrowed.")
    if ctx.identifiers is not None:
        wider = [i for i in ctx.identifiers if i not in ctx.case.identifiers]
        if wider or not ctx.identifiers:
            reasons.append(Reason("not_narrower", "identifiers",
                                  "After a lost challenge the identifiers may only be narrowed."))
    return reasons


def _amend(ctx: Context) -> list[Reason]:
    """The agency's amended demand, on the record: accounts named (or changed) and
    categories narrowed, never widened (a wider demand is a new demand)."""
    reasons = _note_required(ctx, "what the agency changed, and how it reached you")
    reasons += _categories_narrowed(ctx, "Amending may only narrow the categories; a demand for more is a "
                                         "new demand.")
    case = ctx.case
    categories = [c.value for c in ctx.categories] if ctx.categories is not None else case.categories
    identifiers = ctx.identifiers if ctx.identifiers is not None else case.identifiers
    if categories == case.categories and identifiers == case.identifiers:
        reasons.append(Reason("nothing_changed", "identifiers",
                              "Nothing was changed: give the accounts the agency now names, or the "
                              "categories it narrowed to."))
    return reasons


def _within_check(ctx: Context, chosen: list[Category] | None) -> list[Reason]:
    if not chosen:
        return [Reason("categories_required", "categories", "Choose the categories to disclose.")]
    outside = [c for c in chosen if c not in ctx.check.authorised_categories]
    if not outside:
        return []
    allowed = ", ".join(c.value for c in ctx.check.authorised_categories) or "none"
    blocking = [d.code.value for d in ctx.check.defects
                if d.severity is legal.Severity.BLOCKING and d.category is None]
    because = f"; blocking defects: {', '.join(blocking)}" if blocking else ""
    return [Reason(
        "category_not_authorised", "categories",
        "The legal process does not authorise " + ", ".join(c.value for c in outside)
        + f" (the legal check authorises: {allowed}{because}).",
    )]


def _something_to_disclose(ctx: Context, what: str = "disclose") -> list[Reason]:
    if not ctx.case.identifiers:
        return [NAMES_NONE]
    if ctx.accounts:
        return []
    return [Reason("no_matching_account", "identifiers",
                   f"No identifier matches an account, so there is nothing to {what}: "
                   "answer with no data found instead.")]


def _propose(ctx: Context) -> list[Reason]:
    return _within_check(ctx, ctx.categories) + _something_to_disclose(ctx)


def _approve(ctx: Context) -> list[Reason]:
    proposed = [Category(c) for c in ctx.case.proposed_categories or []]
    chosen = ctx.categories if ctx.categories is not None else proposed
    reasons = _within_check(ctx, chosen)  # re-run now: the process may have expired since
    reasons += _something_to_disclose(ctx)
    beyond = [c.value for c in chosen if c not in proposed]
    if beyond:
        reasons.append(Reason("beyond_proposal", "categories",
                              "Approve at most what was proposed; not proposed: " + ", ".join(beyond) + "."))
    reasons += _enforcing_window(ctx, chosen)
    reasons += [Reason(code, "trigger", message)
                for code, message in identity.four_eyes_refusals(ctx.case.proposed_by_id, ctx.caller.user_id,
                                                                 ctx.now)]
    until = notices.objection_window_binds(ctx.case, ctx.now)
    if until is not None:
        reasons.append(Reason("objection_window", "trigger",
                              f"The customer may object until {_when(until)}: nothing is disclosed before "
                              f"then ({notices.objection_days()} days after they were told, never past the "
                              "response deadline). It ends sooner if every customer told says they do not "
                              "object or objects."))
    waiting = notices.unacknowledged(ctx.case.id)
    if waiting:
        plural = "s" if waiting > 1 else ""
        reasons.append(Reason("objection_unacknowledged", "trigger",
                              f"The customer objected ({waiting} objection{plural} not yet acknowledged): "
                              "read and acknowledge each objection before approving."))
    return reasons


# ---- a European Production Order and its enforcing State (Reg. (EU) 2023/1543) ----------------

def _enforcing_window(ctx: Context, chosen: list[Category]) -> list[Reason]:
    ends = enforcing_window_ends(ctx.case)
    if ends is None or ends <= ctx.now or not any(c in TRAFFIC_OR_CONTENT for c in chosen):
        return []
    return [Reason("enforcing_authority_window", "trigger",
                   f"The enforcing authority ({ctx.case.enforcing_state}) was notified of this order: "
                   f"non-content records and stored content may be approved only from {_when(ends)}, 10 days "
                   "after receipt (Reg. 2023/1543 Art. 10(2)), unless it says earlier that it raises no "
                   "ground for refusal. Record that with \"Enforcing authority raises no ground\", or "
                   "approve basic subscriber information alone.")]


def _enforcing_answer(ctx: Context, what: str) -> list[Reason]:
    reasons = _note_required(ctx, what)
    if not enforcing_applies(ctx.case):
        reasons.append(Reason("not_needed", "trigger",
                              "No enforcing authority was notified of this demand for traffic or content "
                              "data, so there is no answer of one to record."))
    elif ctx.case.enforcing_cleared_at is not None:
        reasons.append(Reason("already_cleared", "trigger",
                              "The enforcing authority already said, on "
                              f"{_when(ctx.case.enforcing_cleared_at)}, that it raises no ground for "
                              "refusal."))
    return reasons


def _no_data_found(ctx: Context) -> list[Reason]:
    if not ctx.case.identifiers:
        return [NAMES_NONE]  # nothing was looked for, so "no data" would be untrue
    if not ctx.accounts:
        return []
    return [Reason("accounts_match", "identifiers", "These identifiers match accounts: "
                   + ", ".join(a.identifier for a, _ in ctx.accounts) + ".")]


def _reject(ctx: Context) -> list[Reason]:
    reasons = []
    if ctx.reason is None:
        reasons.append(Reason("reason_required", "reason", "Choose the reason for the rejection."))
    elif ctx.reason is RejectReason.QUASHED:
        reasons.append(Reason("quashed_needs_challenge", "reason",
                              "A demand is quashed only by a won challenge: challenge it first, "
                              "or choose another reason."))
    elif ctx.reason is RejectReason.REFUSED_BY_ENFORCING_AUTHORITY:
        reasons.append(Reason("use_enforcing_refused", "reason",
                              "Record the enforcing authority's refusal with \"Enforcing authority "
                              "refused\"."))
    elif ctx.reason is RejectReason.OTHER and not ctx.note:
        reasons.append(Reason("note_required", "note", "Explain the rejection in a note."))
    return reasons


# ---- preservation requests (DESIGN 11.2) ------------------------------------------

def period_end(case: Case) -> datetime:
    """When the preservation's first period ends: its days, counted from receipt."""
    return case.received_at + timedelta(days=legal.process_rule(case.process_type).preservation_days)


def open_followups(case_id: int) -> list[str]:
    """The open production demands that name this preservation: while one is open,
    the records stay held (Reg. 2023/1543 Art. 11(2); for a 2703(f) request, our
    policy: the data the process was served for is not let go mid-review)."""
    return list(db.session.scalars(select(Case.reference).where(
        Case.preservation_id == case_id, Case.is_open.is_(True)).order_by(Case.id)))


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _preserve(ctx: Context) -> list[Reason]:
    reasons = _within_check(ctx, ctx.categories) + _something_to_disclose(ctx, "preserve")
    end = period_end(ctx.case)
    if end <= ctx.now:
        reasons.append(Reason("period_over", "trigger",
                              f"The preservation period ended on {_when(end)}: nothing may be held on this "
                              "request now. Reject it, or ask the agency for a new one."))
    return reasons


def extensions_used_up(case: Case) -> bool:
    return case.extensions >= legal.process_rule(case.process_type).extensions_allowed


def _extend(ctx: Context) -> list[Reason]:
    case, rule = ctx.case, legal.process_rule(ctx.case.process_type)
    reasons = _note_required(ctx, "the renewed request: who asked, when and how")
    if extensions_used_up(case):
        reasons.append(Reason("extension_used", "trigger",
                              f"This preservation was extended already; the {rule.name} allows "
                              f"{rule.extensions_allowed} extension ({rule.source})."))
    if case.preserved_until is not None and case.preserved_until <= ctx.now:
        reasons.append(Reason("period_over", "trigger",
                              f"The preservation ended on {_when(case.preserved_until)}; it cannot be "
                              "extended after its end."))
    return reasons


def _expire(ctx: Context) -> list[Reason]:
    case, reasons = ctx.case, []
    if case.preserved_until is None or case.preserved_until > ctx.now:
        reasons.append(Reason("not_ended", "trigger", "The preservation has not reached its end."))
    pending = open_followups(case.id)
    if pending:
        reasons.append(Reason("production_pending", "trigger",
                              "A production demand that follows it is open (" + ", ".join(pending)
                              + "): the records stay held until it ends."))
    return reasons


# ---- emergencies and their call-back (DESIGN 11.4) ---------------------------------

def _callback(ctx: Context, trigger: Trigger) -> list[Reason]:
    """What the call-back on an emergency request allows: nothing is proposed or
    approved before one confirms it; after one that failed, only rejection (and
    sending a proposal back, to reach it)."""
    case = ctx.case
    if callback_failed(case):
        if trigger not in LEFT_AFTER_FAILED_CALLBACK:
            return [Reason("verification_failed", "trigger",
                           "The call-back to the agency did not confirm this emergency request: reject it "
                           "as \"Verification failed\"" + (", after sending the proposal back."
                                                              if case.state.value == "pending_approval"
                                                              else "."))]
        if trigger is Trigger.REJECT and ctx.reason not in (None, RejectReason.VERIFICATION_FAILED):
            return [Reason("use_verification_failed", "reason",
                           "The call-back did not confirm this request: the reason is \"Verification "
                           "failed\".")]
        return []
    if trigger is Trigger.REJECT and ctx.reason is RejectReason.VERIFICATION_FAILED:
        return [Reason("no_failed_callback", "reason",
                       "Verification failed is the reason only after a call-back that did not confirm "
                       "the request is recorded.")]
    if trigger in WAIT_FOR_CALLBACK and awaits_callback(case):
        number = case.agency.phone or "its directory number (none on file yet)"
        done = "proposed" if trigger is Trigger.PROPOSE_DISCLOSURE else "approved"
        return [Reason("emergency_unverified", "trigger",
                       f"An emergency request is confirmed before anything is {done}: "
                       f"call {case.agency.name} back on {number}, never a number the request gives, and "
                       "record the call-back.")]
    return []


def reasons_for(trigger: Trigger, ctx: Context) -> list[Reason]:
    """Every reason the guards refuse this trigger; none means it passes."""
    first = _callback(ctx, trigger)
    if first:
        return first
    guard = GUARDS.get(trigger)
    return guard(ctx) if guard else []


GUARDS = {
    Trigger.REDIRECT: _redirect,
    Trigger.AGENCY_RETURNS: lambda ctx: _note_required(ctx, "what the agency said when it came back"),
    Trigger.CHALLENGE: lambda ctx: _note_required(ctx, "the grounds of the challenge"),
    Trigger.CHALLENGE_LOST: _challenge_lost,
    Trigger.AMEND: _amend,
    Trigger.PROPOSE_DISCLOSURE: _propose,
    Trigger.SEND_BACK: lambda ctx: _note_required(ctx, "why the proposal goes back"),
    Trigger.APPROVE: _approve,
    Trigger.NO_DATA_FOUND: _no_data_found,
    Trigger.REJECT: _reject,
    Trigger.WITHDRAW: lambda ctx: _note_required(ctx, "how the agency withdrew the demand"),
    Trigger.ENFORCING_CLEARED: lambda ctx: _enforcing_answer(ctx, "how the enforcing authority said it "
                                                                    "raises no ground, and when"),
    Trigger.ENFORCING_REFUSED: lambda ctx: _enforcing_answer(ctx, "the ground for refusal the enforcing "
                                                                    "authority raised"),
    Trigger.PRESERVE: _preserve,
    Trigger.EXTEND: _extend,
    Trigger.RELEASE: lambda ctx: _note_required(ctx, "why the preservation is released"),
    Trigger.EXPIRE: _expire,
}
