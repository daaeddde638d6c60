"""The case state machine as data: triggers, the transition table, who may fire what.

DESIGN section 3. case_machine.py binds this table to a case; nothing else decides
which moves exist. The README's diagram is generated from TRANSITIONS (mermaid())."""

from dataclasses import dataclass
from enum import StrEnum

from models import Role
from models.terms import OPEN_STATES, TERMINAL_STATES, CaseKind, Category, State

__all__ = ["OPEN_STATES", "TERMINAL_STATES", "TRANSITIONS", "State", "Transition", "Trigger"]


class Trigger(StrEnum):
    START_REVIEW = "start_review"
    REDIRECT = "redirect"
    AGENCY_RETURNS = "agency_returns"
    RESOLVE_BY_CUSTOMER = "resolve_by_customer"
    CHALLENGE = "challenge"
    CHALLENGE_LOST = "challenge_lost"
    CHALLENGE_WON = "challenge_won"
    AMEND = "amend"
    PROPOSE_DISCLOSURE = "propose_disclosure"
    SEND_BACK = "send_back"
    APPROVE = "approve"
    NO_DATA_FOUND = "no_data_found"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    ENFORCING_CLEARED = "enforcing_cleared"
    ENFORCING_REFUSED = "enforcing_refused"
    PRESERVE = "preserve"
    EXTEND = "extend"
    RELEASE = "release"
    EXPIRE = "expire"

    @property
    def label(self) -> str:
        return TRIGGER_LABELS[self]


TRIGGER_LABELS = {
    Trigger.START_REVIEW: "Start legal review",
    Trigger.REDIRECT: "Redirect to the customer",
    Trigger.AGENCY_RETURNS: "Agency returned",
    Trigger.RESOLVE_BY_CUSTOMER: "Resolved by the customer",
    Trigger.CHALLENGE: "Challenge",
    Trigger.CHALLENGE_LOST: "Challenge lost",
    Trigger.CHALLENGE_WON: "Challenge won",
    Trigger.AMEND: "Amend the demand",
    Trigger.PROPOSE_DISCLOSURE: "Propose disclosure",
    Trigger.SEND_BACK: "Send back to review",
    Trigger.APPROVE: "Approve disclosure",
    Trigger.NO_DATA_FOUND: "No data found",
    Trigger.REJECT: "Reject",
    Trigger.WITHDRAW: "Withdrawn by the agency",
    Trigger.ENFORCING_CLEARED: "Enforcing authority raises no ground",
    Trigger.ENFORCING_REFUSED: "Enforcing authority refused",
    Trigger.PRESERVE: "Preserve the records",
    Trigger.EXTEND: "Extend the preservation",
    Trigger.RELEASE: "Release the preservation",
    Trigger.EXPIRE: "Preservation expired",
}

# An approver may also fire every reviewer trigger (DESIGN section 3), but never
# approves a disclosure they proposed (a guard in case_machine).
REVIEWERS = frozenset({Role.REVIEWER, Role.APPROVER})
APPROVERS = frozenset({Role.APPROVER})
WITHDRAWERS = frozenset({Role.INTAKE, Role.REVIEWER, Role.APPROVER})
NOBODY: frozenset[Role] = frozenset()  # fired by the application itself (expiry)
PRODUCTION = frozenset({CaseKind.PRODUCTION})
PRESERVATION = frozenset({CaseKind.PRESERVATION})
EITHER = PRODUCTION | PRESERVATION


@dataclass(frozen=True)
class Transition:
    trigger: Trigger
    sources: tuple[State, ...]
    dest: State | None  # None: the case stays in the state it is in
    roles: frozenset[Role]
    needs: tuple[str, ...] = ()  # input the trigger requires: "note", "reason", "categories"
    summary: str = ""
    kinds: frozenset[CaseKind] = PRODUCTION  # the kinds of case whose machine has it
    by_application: bool = False  # the application fires it (a command), not only a person


TRANSITIONS: tuple[Transition, ...] = (
    Transition(Trigger.START_REVIEW, (State.RECEIVED,), State.LEGAL_REVIEW, REVIEWERS,
               summary="assigns the reviewer", kinds=EITHER),
    Transition(Trigger.REDIRECT, (State.LEGAL_REVIEW,), State.REDIRECTED, REVIEWERS,
               summary="identifiers belong to an enterprise customer; not an emergency"),
    Transition(Trigger.AGENCY_RETURNS, (State.REDIRECTED,), State.LEGAL_REVIEW, REVIEWERS,
               needs=("note",), summary="note required"),
    Transition(Trigger.RESOLVE_BY_CUSTOMER, (State.REDIRECTED,), State.RESOLVED_BY_CUSTOMER, REVIEWERS,
               summary="terminal"),
    Transition(Trigger.CHALLENGE, (State.LEGAL_REVIEW,), State.CHALLENGED, REVIEWERS,
               needs=("note",), summary="grounds required"),
    Transition(Trigger.CHALLENGE_LOST, (State.CHALLENGED,), State.LEGAL_REVIEW, REVIEWERS,
               summary="may narrow categories or identifiers"),
    Transition(Trigger.CHALLENGE_WON, (State.CHALLENGED,), State.REJECTED, REVIEWERS,
               summary="reason quashed"),
    Transition(Trigger.AMEND, (State.LEGAL_REVIEW,), State.LEGAL_REVIEW, REVIEWERS,
               needs=("note",), summary="the agency named accounts or narrowed; the check runs again"),
    # A European Production Order whose enforcing authority was notified (Reg. 2023/1543 Art. 8, 12).
    Transition(Trigger.ENFORCING_CLEARED, (State.LEGAL_REVIEW, State.PENDING_APPROVAL), None, REVIEWERS,
               needs=("note",), summary="it raises no ground for refusal; approval need not wait"),
    Transition(Trigger.ENFORCING_REFUSED, (State.LEGAL_REVIEW, State.PENDING_APPROVAL), State.REJECTED,
               REVIEWERS, needs=("note",), summary="a ground for refusal raised in time"),
    Transition(Trigger.PROPOSE_DISCLOSURE, (State.LEGAL_REVIEW,), State.PENDING_APPROVAL, REVIEWERS,
               needs=("categories",), summary="categories within the legal check"),
    Transition(Trigger.SEND_BACK, (State.PENDING_APPROVAL,), State.LEGAL_REVIEW, APPROVERS,
               needs=("note",), summary="note required"),
    Transition(Trigger.APPROVE, (State.PENDING_APPROVAL,), State.DISCLOSED, APPROVERS,
               summary="not the proposer; fresh sign-in; legal check re-run"),
    # A preservation request's own machine (DESIGN 11.2).
    Transition(Trigger.PRESERVE, (State.LEGAL_REVIEW,), State.PRESERVED, REVIEWERS,
               needs=("categories",), kinds=PRESERVATION,
               summary="categories within the legal check; holds the records as they stand"),
    Transition(Trigger.EXTEND, (State.PRESERVED,), State.PRESERVED, REVIEWERS,
               needs=("note",), kinds=PRESERVATION, summary="the renewed request; once, before the end"),
    Transition(Trigger.RELEASE, (State.PRESERVED,), State.RELEASED, REVIEWERS,
               needs=("note",), kinds=PRESERVATION, by_application=True,
               summary="no longer needed, or its production demand ended"),
    Transition(Trigger.EXPIRE, (State.PRESERVED,), State.EXPIRED, NOBODY,
               kinds=PRESERVATION, by_application=True, summary="preservations expire, once the period ends"),
    Transition(Trigger.NO_DATA_FOUND, (State.LEGAL_REVIEW,), State.NO_DATA, REVIEWERS,
               summary="no identifier matches an account", kinds=EITHER),
    Transition(Trigger.REJECT, (State.LEGAL_REVIEW,), State.REJECTED, REVIEWERS,
               needs=("reason",), summary="reason code required", kinds=EITHER),
    Transition(Trigger.WITHDRAW, OPEN_STATES, State.WITHDRAWN, WITHDRAWERS,
               needs=("note",), summary="note required", kinds=EITHER),
)

BY_TRIGGER = {t.trigger: t for t in TRANSITIONS}


class Outcome(StrEnum):
    """DESIGN section 6: each request has exactly one outcome; the seven sum to the
    requests. The API shows it and the transparency report counts it."""

    CONTENT_DISCLOSED = "content_disclosed"
    NON_CONTENT_DISCLOSED = "non_content_disclosed"
    NO_DATA_FOUND = "no_data_found"
    REJECTED = "rejected"  # challenges won included
    RESOLVED_BY_CUSTOMER = "resolved_by_customer"
    WITHDRAWN = "withdrawn"
    PENDING = "pending"  # not yet terminal


OUTCOME_OF_STATE = {
    State.NO_DATA: Outcome.NO_DATA_FOUND,
    State.REJECTED: Outcome.REJECTED,
    State.RESOLVED_BY_CUSTOMER: Outcome.RESOLVED_BY_CUSTOMER,
    State.WITHDRAWN: Outcome.WITHDRAWN,
}


def outcome_of(state: State, disclosed_categories) -> Outcome:
    """A case's outcome from its state and, once disclosed, what was disclosed."""
    if state is State.DISCLOSED:
        disclosed = {str(c) for c in disclosed_categories or ()}
        if Category.CONTENT.value in disclosed:
            return Outcome.CONTENT_DISCLOSED
        return Outcome.NON_CONTENT_DISCLOSED
    return OUTCOME_OF_STATE.get(state, Outcome.PENDING)


def transitions_of(kind: CaseKind) -> tuple[Transition, ...]:
    return tuple(t for t in TRANSITIONS if kind in t.kinds)


def states_of(kind: CaseKind) -> list[State]:
    """The states a case of this kind can be in, in State order: where it starts
    and where its transitions lead."""
    dests = {t.dest for t in transitions_of(kind) if t.dest is not None} | {State.RECEIVED}
    return [s for s in State if s in dests]


def machine_table(kind: CaseKind = CaseKind.PRODUCTION) -> list[dict]:
    """The table in the form the `transitions` library reads."""
    states = set(states_of(kind))
    table = []
    for t in transitions_of(kind):
        sources = [s for s in t.sources if s in states]
        if t.dest is None:  # stays where it is: one row per source
            table += [{"trigger": t.trigger.value, "source": s, "dest": s} for s in sources]
        else:
            table.append({"trigger": t.trigger.value, "source": sources, "dest": t.dest})
    return table


def mermaid(kind: CaseKind = CaseKind.PRODUCTION) -> str:
    """The state diagram (Mermaid) the README shows, generated from TRANSITIONS."""
    states = set(states_of(kind))
    lines = ["stateDiagram-v2", f"    [*] --> {State.RECEIVED.value}"]
    for t in transitions_of(kind):
        roles = ", ".join(sorted(r.value for r in t.roles)) or "the application"
        lines += [f"    {s.value} --> {(t.dest or s).value}: {t.trigger.value} ({roles})"
                  for s in t.sources if s in states]
    lines += [f"    {state.value} --> [*]" for state in states_of(kind) if state in TERMINAL_STATES]
    return "\n".join(lines)
