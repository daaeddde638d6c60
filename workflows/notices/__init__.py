"""Customer notices: who is told what and when (an outbox written with each
transition), holds and releases, objections, and the relay that e-mails them."""

from workflows.notices.objections import (
    ACKNOWLEDGERS,
    Demand,
    acknowledge,
    customer_notice,
    demand_copy,
    demands_for,
    file_objection,
    for_customer,
    may_object,
    unacknowledged,
    view,
)
from workflows.notices.outbox import (
    KIND_OF_TRIGGER,
    LAST_TIME_ZONE,
    RELEASERS,
    extend_ndo,
    failed,
    held,
    hold_for,
    of_case,
    on_transition,
    parse_end,
    release,
    release_due,
    retry,
    today,
)
from workflows.notices.relay import RELAY_ACTOR, MailSettings, Pass, message_id, run, send_pass
from workflows.notices.relay import Policy as RelayPolicy
from workflows.notices.window import binding_until as objection_window_binds
from workflows.notices.window import objection_days, say_no_objection
from workflows.notices.window import told_of_proposal as intent_notices_told

__all__ = [
    "ACKNOWLEDGERS",
    "KIND_OF_TRIGGER",
    "LAST_TIME_ZONE",
    "RELAY_ACTOR",
    "RELEASERS",
    "Demand",
    "MailSettings",
    "Pass",
    "RelayPolicy",
    "acknowledge",
    "customer_notice",
    "demand_copy",
    "demands_for",
    "extend_ndo",
    "failed",
    "file_objection",
    "for_customer",
    "held",
    "hold_for",
    "intent_notices_told",
    "may_object",
    "message_id",
    "objection_days",
    "objection_window_binds",
    "of_case",
    "on_transition",
    "parse_end",
    "release",
    "release_due",
    "retry",
    "run",
    "say_no_objection",
    "send_pass",
    "today",
    "unacknowledged",
    "view",
]
