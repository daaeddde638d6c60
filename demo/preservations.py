"""Demo preservation requests: one in each state a preservation can be in, a
hold near its end, one extended, and one that a production demand followed
(and that was released when that demand was answered). Written out rather than
drawn, so a reviewer meets each case of the story; the production demands drawn
in demo.cases are not affected."""

from datetime import datetime, timedelta

from demo.plans import Plan, written_plan
from demo.vault import LARGE_ACCOUNT
from demo.wording import UNKNOWN_IDENTIFIERS
from models import Agency, ProcessType, Role, State
from workflows import legal
from workflows.cases import Trigger

R, A = Role.REVIEWER, Role.APPROVER


# (state, process, agency country, days before now it was received, the steps as
#  (trigger, role, days after receipt, note or reason))
STORIES = [
    (State.RECEIVED, ProcessType.PRESERVATION_REQUEST, "US", 1.5, []),
    (State.LEGAL_REVIEW, ProcessType.PRESERVATION_REQUEST, "US", 4, [(Trigger.START_REVIEW, R, 0.5, None)]),
    # Ends in about ten days: it stands out in the queue.
    (State.PRESERVED, ProcessType.PRESERVATION_REQUEST, "US", 80,
     [(Trigger.START_REVIEW, R, 0.3, None), (Trigger.PRESERVE, R, 0.6, None)]),
    (State.PRESERVED, ProcessType.EPOC_PR, "DE", 70,
     [(Trigger.START_REVIEW, R, 0.2, None), (Trigger.PRESERVE, R, 0.4, None),
      (Trigger.EXTEND, R, 55, "The public prosecutor's office in Wiesbaden extended the order by 30 days "
                              "(Annex VI form received through the e-evidence system).")]),
    (State.RELEASED, ProcessType.PRESERVATION_REQUEST, "US", 60,
     [(Trigger.START_REVIEW, R, 0.4, None), (Trigger.PRESERVE, R, 0.8, None),
      (Trigger.RELEASE, R, 31, "The agency wrote that it closed the inquiry and no longer needs the "
                               "records.")]),
    (State.EXPIRED, ProcessType.PRESERVATION_REQUEST, "US", 125,
     [(Trigger.START_REVIEW, R, 0.3, None), (Trigger.PRESERVE, R, 0.7, None),
      (Trigger.EXPIRE, None, 90.2, None)]),
    (State.WITHDRAWN, ProcessType.PRESERVATION_REQUEST, "US", 35,
     [(Trigger.START_REVIEW, R, 0.3, None), (Trigger.PRESERVE, R, 0.5, None),
      (Trigger.WITHDRAW, R, 12, "The agency withdrew the request by e-mail: the suspect was identified "
                                "by other means.")]),
    (State.REJECTED, ProcessType.PRESERVATION_REQUEST, "IN", 20,
     [(Trigger.START_REVIEW, R, 0.5, None), (Trigger.REJECT, R, 1.2, "wrong_jurisdiction")]),
    (State.NO_DATA, ProcessType.PRESERVATION_REQUEST, "US", 9,
     [(Trigger.START_REVIEW, R, 0.2, None), (Trigger.NO_DATA_FOUND, R, 0.5, None)]),
]
# A preservation that a search warrant followed 40 days later; the warrant was
# answered, and the preservation released with it.
FOLLOWED_DAYS, FOLLOW_UP_DAYS = 100, 60


def plans(now: datetime, agencies: list[Agency], known: list[str]) -> list[Plan]:
    """The demo's preservation requests (and the one production demand that follows
    one), from the agencies and accounts in the database."""
    by_country: dict[str, Agency] = {}
    for agency in agencies:
        by_country.setdefault(agency.country, agency)
    known = [i for i in known if i != LARGE_ACCOUNT]  # a hold hashes every file it keeps: keep the demo quick
    if "US" not in by_country or len(known) < 10:
        return []
    made, n = [], 0
    for state, process, country, days, steps in STORIES:
        agency = by_country.get(country)
        received = now - timedelta(days=days)
        rule = legal.process_rule(process)
        if agency is None or (rule.in_force_from and received.date() < rule.in_force_from):
            continue
        identifiers = [UNKNOWN_IDENTIFIERS[0]] if state is State.NO_DATA else [known[n % len(known)]]
        n += 1
        made.append(written_plan(agency, process, received, identifiers, steps))
    us = by_country["US"]
    followed = written_plan(us, ProcessType.PRESERVATION_REQUEST, now - timedelta(days=FOLLOWED_DAYS),
                            [known[n]],
                            [(Trigger.START_REVIEW, R, 0.2, None), (Trigger.PRESERVE, R, 0.3, None)])
    follow_up = written_plan(us, ProcessType.SEARCH_WARRANT, now - timedelta(days=FOLLOW_UP_DAYS), [known[n]],
                             [(Trigger.START_REVIEW, R, 0.3, None), (Trigger.PROPOSE_DISCLOSURE, R, 2, None),
                              (Trigger.APPROVE, A, 2.5, None)], issued_days=3)
    follow_up.follows = followed
    return [*made, followed, follow_up]
