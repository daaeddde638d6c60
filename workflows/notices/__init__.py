"""Customer notices: who is told what and when (an outbox written with each
transition), holds and releases, objections, and the relay that e-mails them."""

from workflows.notices.objections import (
    ACKNOWLEDGERS,
    acknowledge,
    customer_notice,
    demand_copy,
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

__all__ = [
    "ACKNOWLEDGERS", "KIND_OF_TRIGGER", "LAST_TIME_ZONE", "RELAY_ACTOR", "RELEASERS", "MailSettings",
    "Pass", "RelayPolicy", "acknowledge", "customer_notice", "demand_copy", "extend_ndo", "failed",
    "file_objection", "for_customer", "held", "hold_for", "may_object", "message_id", "of_case",
    "on_transition", "parse_end", "release", "release_due", "retry", "run", "send_pass", "today",
    "unacknowledged", "view",
]
