"""Internal notes on a case (DESIGN 11.5): what a reviewer wants the next person to
know ("called the clerk, a corrected order follows Monday") without firing a
transition. Staff read them with the case; the agency and the customer never
see them (their views are built without them). Each note is audited, with a hash
of its text, as messages are."""

import hashlib
from datetime import datetime
from typing import ClassVar

from models import AuditAction, Case, CaseNote, db
from workflows import audit
from workflows.cases.guards import Caller
from workflows.cases.states import WITHDRAWERS
from workflows.errors import NotAllowed, NotFound
from workflows.schema import Body, text

NOTE_TEXT_MAX = 4000
WRITERS = WITHDRAWERS  # intake, reviewers and approvers write; auditors read


class NoteBody(Body):
    """An internal note on a case."""

    WHAT: ClassVar[str] = "a note"
    LEAD: ClassVar[str] = "The note was not saved: "
    MESSAGES: ClassVar[dict[str, str]] = {"text": "text: write the note (at most 4000 characters)."}
    text: text(NOTE_TEXT_MAX, filled=True, multiline=True, description="the note, in plain text; staff only")


def add_note(case_id: int, body: str, caller: Caller, now: datetime) -> CaseNote:
    """A member of staff notes something on a case. The caller commits. A note is
    not a transition: the case's state and version stay as they are."""
    if caller.role not in WRITERS:
        who = caller.role.value if caller.role else "process"
        raise NotAllowed(f"A {who} may not write notes on cases.")
    case = db.session.get(Case, case_id)
    if case is None:
        raise NotFound("No such case.")
    note = CaseNote(case_id=case.id, author_id=caller.user_id, author=caller.actor.label, text=body, at=now)
    db.session.add(note)
    db.session.flush()
    audit.record(AuditAction.CASE_NOTE, caller.actor, subject=("case", case.id), now=now, data={
        "reference": case.reference, "note_id": note.id, "length": len(body),
        "sha256": hashlib.sha256(body.encode()).hexdigest()})
    return note
