"""Demo European Production Orders whose enforcing authority was notified (Reg.
(EU) 2023/1543 Art. 8): one waiting out its 10 days, one the authority cleared
early and that was then answered, one the authority refused. Written out, as the
preservation requests are, so the drawn production demands stay as they were."""

from datetime import datetime, timedelta

from demo.plans import Plan, written_plan
from models import Agency, Category, ProcessType, Role, State
from workflows import legal
from workflows.cases import Trigger

R, A = Role.REVIEWER, Role.APPROVER
ASKS = [Category.SUBSCRIBER.value, Category.NON_CONTENT.value, Category.CONTENT.value]
ENFORCING_STATE = "IE"  # where the provider's legal representative in the Union sits

# (state, days before now it was received, the steps as (trigger, role, days after receipt, note))
STORIES = [
    (State.PENDING_APPROVAL, 3,
     [(Trigger.START_REVIEW, R, 0.2, None), (Trigger.PROPOSE_DISCLOSURE, R, 1, None)]),
    (State.DISCLOSED, 20,
     [(Trigger.START_REVIEW, R, 0.3, None), (Trigger.PROPOSE_DISCLOSURE, R, 2, None),
      (Trigger.ENFORCING_CLEARED, R, 4, "The Irish central authority wrote through the e-evidence system on "
                                        "day 4 that it raises no ground for refusal."),
      (Trigger.APPROVE, A, 4.5, None)]),
    (State.REJECTED, 15,
     [(Trigger.START_REVIEW, R, 0.3, None),
      (Trigger.ENFORCING_REFUSED, R, 6, "The Irish central authority raised a ground for refusal under "
                                        "Art. 12(1) on day 6: the messages are covered by legal privilege "
                                        "under Irish law.")]),
]


def plans(now: datetime, agencies: list[Agency], known: list[str]) -> list[Plan]:
    """The orders, from the first German agency and the accounts on file; none if
    either is missing or the regulation was not yet in force."""
    agency = next((a for a in agencies if a.country == "DE"), None)
    rule = legal.process_rule(ProcessType.EPOC)
    if agency is None or len(known) < len(STORIES):
        return []
    made = []
    for n, (_state, days, steps) in enumerate(STORIES):
        received = now - timedelta(days=days)
        if rule.in_force_from and received.date() < rule.in_force_from:
            continue
        made.append(written_plan(agency, ProcessType.EPOC, received, [known[-1 - n]], steps, issued_days=2,
                                 categories=ASKS, enforcing_state=ENFORCING_STATE,
                                 enforcing_authority_notified=True))
    return made
