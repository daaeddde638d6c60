"""What holds a disclosure back besides the legal check, as plain rules about a
case: a European Production Order's notified enforcing authority (Reg. (EU)
2023/1543), and an emergency request's call-back to the agency (DESIGN 11.4).
The guards (workflows.cases.guards) turn them into refusals; the pages and the
API show them."""

from datetime import datetime, timedelta

from models import CallbackOutcome, Case, Category, ProcessType
from workflows.cases.states import Trigger

# ---- a European Production Order and its enforcing State ---------------------------

ENFORCING_WAIT = timedelta(days=10)  # Art. 10(2)
TRAFFIC_OR_CONTENT = (Category.NON_CONTENT, Category.CONTENT)  # what Art. 8(1) makes notifiable


def enforcing_applies(case: Case) -> bool:
    """Whether the order waits on its enforcing authority's answer: an EPOC for
    traffic or content data, with that authority notified. (Data asked for only to identify
    the user need no notification, Art. 8(1); our categories do not single it out,
    so a non-content demand is treated as one for traffic data.)"""
    return (case.process_type is ProcessType.EPOC and case.enforcing_notified
            and any(c.value in case.categories for c in TRAFFIC_OR_CONTENT))


def awaits_enforcing_answer(case: Case) -> bool:
    """Whether the page should offer to record the enforcing authority's answer."""
    return enforcing_applies(case) and case.enforcing_cleared_at is None


def enforcing_window_ends(case: Case) -> datetime | None:
    """Until when an approval must wait, or None. The notification suspends the
    10-day duty (Art. 8(4), 10(2)) but not an emergency's 8 hours (Art. 8(4),
    10(4)): an emergency order is answered, and the authority may still object
    to the use of the data within 96 hours."""
    if not enforcing_applies(case) or case.emergency or case.enforcing_cleared_at is not None:
        return None
    return case.received_at + ENFORCING_WAIT


# ---- an emergency and its call-back -----------------------------------------------

LEFT_AFTER_FAILED_CALLBACK = frozenset({Trigger.REJECT, Trigger.SEND_BACK})
WAIT_FOR_CALLBACK = frozenset({Trigger.PROPOSE_DISCLOSURE, Trigger.APPROVE})


def callback_failed(case: Case) -> bool:
    return case.verification is not None and case.verification.outcome is CallbackOutcome.FAILED


def awaits_callback(case: Case) -> bool:
    """An emergency request no call-back has confirmed yet."""
    return case.emergency and case.verification is None
