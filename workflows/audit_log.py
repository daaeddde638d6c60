"""The audit log as auditors read it: a selection of events (by actor, action,
case and time), a page of it at a time however long the log, and an export of it
that carries what is needed to check it offline.

Paging is by event number, newest first, so a page deep in ten million events
costs what the first one does. Each filter reads an index that ends in the event
number (migration 0023). A time range needs no index of its own: in chain order
time never runs backwards (workflows.audit.record), so its bounds are found by a
binary search over event numbers, some twenty-five reads of the primary key."""

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from models import AuditAction, AuditEvent, AuditHead, Case, db
from workflows import audit
from workflows.errors import InvalidInput
from workflows.text import clean_text

PAGE = 50
EXPORT_MAX = 100_000  # events in one export; a larger selection is narrowed first
ACTOR_MAX = 254
ACTIONS = sorted(a.value for a in AuditAction)
RULE = ("hash = sha256(prev_hash || canonical_json(fields)), prev_hash as 64 lowercase hex characters "
        "(the first event's is 64 zeros); fields = seq, at, actor_id, actor, action, subject_type, "
        "subject_id, data; canonical_json: sorted keys, no whitespace, UTF-8, non-ASCII kept")


@dataclass(frozen=True)
class Selection:
    """Which events: each field narrows; none selects the whole log."""

    actor: str | None = None  # exactly as the log names them: an e-mail, or "cli"
    action: str | None = None
    case: str | None = None  # a case's reference, as typed
    case_id: int | None = None
    since: date | None = None  # from the start of this day (UTC)
    until: date | None = None  # to the end of this day (UTC)

    @property
    def narrowed(self) -> bool:
        return any((self.actor, self.action, self.case, self.since, self.until))

    def as_args(self) -> dict[str, str]:
        """The query-string arguments that select the same events."""
        return {key: str(value) for key, value in asdict(self).items() if value and key != "case_id"}


def parse(args) -> Selection:
    """A selection from query-string arguments; InvalidInput names each bad field."""
    errors: dict[str, str] = {}
    actor = action = case = None
    case_id = None
    since = until = None
    try:
        actor = clean_text(args.get("actor") or "", field="actor", label="Actors",
                           max_length=ACTOR_MAX) or None
    except InvalidInput as exc:
        errors["actor"] = exc.message
    raw_action = (args.get("action") or "").strip()
    if raw_action:
        if raw_action in ACTIONS:
            action = raw_action
        else:
            errors["action"] = "Choose an action from the list."
    raw_case = (args.get("case") or "").strip().upper()
    if raw_case:
        if len(raw_case) > 32:
            errors["case"] = "A case reference is at most 32 characters."
        else:
            case_id = db.session.scalar(select(Case.id).where(Case.reference == raw_case))
            if case_id is None:
                errors["case"] = f"There is no case {raw_case}."
            case = raw_case
    for key in ("since", "until"):
        raw = (args.get(key) or "").strip()
        if raw:
            try:
                day = date.fromisoformat(raw)
            except ValueError:
                errors[key] = "Give a date as YYYY-MM-DD."
                continue
            if key == "since":
                since = day
            else:
                until = day
    if since and until and since > until:
        errors["until"] = "The end of the range comes before its start."
    if errors:
        raise InvalidInput(" ".join(errors.values()), reasons=list(errors), fields=errors)
    return Selection(actor=actor, action=action, case=case, case_id=case_id, since=since, until=until)


def _first_at_or_after(moment: datetime) -> int:
    """The number of the first event at or after `moment` (head + 1 if none):
    a binary search, as events' times never decrease along the chain."""
    low, high = 1, (db.session.scalar(select(AuditHead.seq)) or 0) + 1
    while low < high:
        middle = (low + high) // 2
        at = db.session.scalar(select(AuditEvent.at).where(AuditEvent.seq == middle))
        if at is None or at >= moment:  # a missing event ends the search early; verify() reports it
            high = middle
        else:
            low = middle + 1
    return low


def _query(selection: Selection):
    query = select(AuditEvent)
    if selection.actor:
        query = query.where(AuditEvent.actor == selection.actor)
    if selection.action:
        query = query.where(AuditEvent.action == selection.action)
    if selection.case_id is not None:
        query = query.where(AuditEvent.subject_type == "case",
                            AuditEvent.subject_id == str(selection.case_id))
    if selection.since:
        start = datetime.combine(selection.since, time(), UTC)
        query = query.where(AuditEvent.seq >= _first_at_or_after(start))
    if selection.until:
        end = datetime.combine(selection.until + timedelta(days=1), time(), UTC)
        query = query.where(AuditEvent.seq < _first_at_or_after(end))
    return query


def page(selection: Selection, before: int | None = None,
         size: int = PAGE) -> tuple[list[AuditEvent], int | None]:
    """Up to `size` selected events before event number `before`, newest first, and
    the number to page on from (None on the last page)."""
    query = _query(selection)
    if before:
        query = query.where(AuditEvent.seq < before)
    events = list(db.session.scalars(query.order_by(AuditEvent.seq.desc()).limit(size + 1)))
    more = len(events) > size
    events = events[:size]
    return events, (events[-1].seq if more else None)


def count_at_most(selection: Selection, most: int) -> int:
    """How many events the selection holds, counting no further than `most` + 1."""
    capped = _query(selection).with_only_columns(AuditEvent.seq).limit(most + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(capped))


def export_lines(selection: Selection, head: tuple[int, str], checkpoint: dict | None,
                 now: datetime) -> Iterator[str]:
    """JSON Lines: first what the export is (the selection, the chain's head and the
    newest signed checkpoint when it was made, the hash rule), then each selected
    event, oldest first, with every field its hash covers, its prev_hash and its hash,
    so each can be recomputed offline (scripts/verify_audit_export.py)."""
    yield json.dumps({"export": "Due Process audit events", "exported_at": now.isoformat(),
                      "selection": selection.as_args(), "head": {"seq": head[0], "hash": head[1]},
                      "checkpoint": checkpoint, "rule": RULE}, sort_keys=True) + "\n"
    rows = db.session.execute(_query(selection).order_by(AuditEvent.seq),
                              execution_options={"yield_per": 2000}).scalars()
    for event in rows:
        yield json.dumps({**audit.event_fields(event), "prev_hash": event.prev_hash, "hash": event.hash},
                         sort_keys=True, ensure_ascii=False) + "\n"
