"""What a demo case will be: the demand as sent and the steps that work it, each
after the one before. demo.cases draws production demands; demo.preservations
and demo.orders write their stories out with written_plan."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from models import Agency, Category, ProcessType, Role
from workflows.cases import Trigger

ALL = [Category.SUBSCRIBER.value, Category.NON_CONTENT.value, Category.CONTENT.value]
AUTHORITIES = {
    ProcessType.SEARCH_WARRANT: "U.S. District Court",
    ProcessType.EPOC_PR: "Staatsanwaltschaft Wiesbaden",
    ProcessType.EPOC: "Amtsgericht Wiesbaden",
}
CASE_NUMBER_PREFIXES = {ProcessType.SEARCH_WARRANT: "MJ", ProcessType.EPOC: "EPOC"}


@dataclass
class Step:
    trigger: Trigger
    role: Role | None  # None: the application itself (expiry)
    after: timedelta  # after the previous step
    note: str | None = None
    reason: str | None = None
    narrow: bool = False  # challenge_lost: drop content from the categories
    # An emergency's call-back to the agency's directory number, recorded just before
    # this step: (outcome, whom the reviewer spoke with, note).
    callback: tuple[str, str, str | None] | None = None


@dataclass
class Plan:
    received_at: datetime
    agency: Agency
    body: dict
    document: bool
    logged_after: timedelta  # intake staff log it some minutes after it arrives
    steps: list[Step] = field(default_factory=list)
    follows: "Plan | None" = None  # the preservation request this production demand names
    case_id: int | None = None  # once logged


def written_plan(agency: Agency, process: ProcessType, received: datetime, identifiers: list[str],
                 steps: list[tuple], issued_days: int = 0, categories: list[str] = ALL,
                 body_fields: dict | None = None, **process_fields) -> Plan:
    """A story written out: a signed demand received by e-mail, then `steps` as
    (trigger, role, days after receipt, note, or the reason of a rejection)."""
    received = received.replace(microsecond=0)
    day = received.date()
    body = {
        "agency_id": agency.id, "received_at": received.isoformat().replace("+00:00", "Z"),
        "channel": "email", "request_type": "criminal",
        "legal_process": {
            "type": process.value, "issuing_authority": AUTHORITIES.get(process, agency.name),
            "judicial": process in (ProcessType.SEARCH_WARRANT, ProcessType.EPOC),
            "issued_on": (day - timedelta(days=issued_days)).isoformat(), "expires_on": None,
            "signed": True,
            "case_number": f"{CASE_NUMBER_PREFIXES.get(process, 'PR')}-{received:%Y-%j%H%M}",
            "response_due": None, **process_fields,
        },
        "identifiers": identifiers, "categories": categories,
        "date_range": {"from": (day - timedelta(days=180)).isoformat(), "to": day.isoformat()},
        "ndo": {"present": False, "statute": "", "ends_on": None}, "emergency_justification": None,
        **(body_fields or {}),
    }
    played, previous = [], timedelta(minutes=0)
    for trigger, role, at_days, words in steps:
        at = timedelta(days=at_days)
        reason = words if trigger is Trigger.REJECT else None
        note = None if trigger is Trigger.REJECT else words
        played.append(Step(trigger, role, at - previous, note=note, reason=reason))
        previous = at
    return Plan(received, agency, body, True, timedelta(minutes=20), played)
