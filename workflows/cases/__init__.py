"""Cases: the state table, the machine that moves a case (advance), intake, the
queue and the case file as staff read it. Other packages and the views use what
is named here, not the modules behind it."""

from workflows.cases.casefile import (
    CHANNEL_LABELS,
    REJECT_REASON_LABELS,
    REQUEST_TYPE_LABELS,
    CaseFile,
    agencies,
    categories_text,
    log_demand,
    move_for,
    queue_choices,
    size_label,
    view,
)
from workflows.cases.demand import (
    IDENTIFIERS_MAX,
    AgencyRequest,
    CaseRequest,
    Draft,
    Identifier,
    draft_of,
    parse_case,
)
from workflows.cases.guards import Caller
from workflows.cases.intake import create_case, facts_of, recount_states
from workflows.cases.machine import NOTE_MAX, Move, advance, allowed_from, available_triggers
from workflows.cases.preconditions import enforcing_applies, enforcing_window_ends
from workflows.cases.preservations import ExpiryRun
from workflows.cases.preservations import expire_due as expire_preservations
from workflows.cases.queue import (
    Cursor,
    Filters,
    deadline_status,
    ends_soon,
    page,
    parse_filters,
    requests_for_officer,
    state_counts,
)
from workflows.cases.states import (
    BY_TRIGGER,
    OPEN_STATES,
    TRANSITIONS,
    Outcome,
    Transition,
    Trigger,
    machine_table,
    mermaid,
    outcome_of,
    states_of,
    transitions_of,
)
from workflows.cases.verification import Callback, callback_outcome, record_callback

__all__ = [
    "BY_TRIGGER",
    "CHANNEL_LABELS",
    "IDENTIFIERS_MAX",
    "NOTE_MAX",
    "OPEN_STATES",
    "REJECT_REASON_LABELS",
    "REQUEST_TYPE_LABELS",
    "TRANSITIONS",
    "AgencyRequest",
    "Callback",
    "Caller",
    "CaseFile",
    "CaseRequest",
    "Cursor",
    "Draft",
    "ExpiryRun",
    "Filters",
    "Identifier",
    "Move",
    "Outcome",
    "Transition",
    "Trigger",
    "advance",
    "agencies",
    "allowed_from",
    "available_triggers",
    "callback_outcome",
    "categories_text",
    "create_case",
    "deadline_status",
    "draft_of",
    "ends_soon",
    "enforcing_applies",
    "enforcing_window_ends",
    "expire_preservations",
    "facts_of",
    "log_demand",
    "machine_table",
    "mermaid",
    "move_for",
    "outcome_of",
    "page",
    "parse_case",
    "parse_filters",
    "queue_choices",
    "record_callback",
    "recount_states",
    "requests_for_officer",
    "size_label",
    "state_counts",
    "states_of",
    "transitions_of",
    "view",
]
