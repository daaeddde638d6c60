"""What a demo case will be: the demand as sent and the steps that work it, each
after the one before. demo.cases draws production demands; demo.preservations
writes the preservation requests."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from models import Agency, Role
from workflows.cases import Trigger


@dataclass
class Step:
    trigger: Trigger
    role: Role | None  # None: the application itself (expiry)
    after: timedelta  # after the previous step
    note: str | None = None
    reason: str | None = None
    narrow: bool = False  # challenge_lost: drop content from the categories


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
