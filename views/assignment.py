"""Taking and assigning cases from the staff pages: one case from its page, the
next case from the queue, several ticked in the queue at once."""

from urllib.parse import urlencode

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from models import Case as CaseRow
from models import db, utcnow
from views.cases import CASE, FILTER_KEYS, case_page, listing
from views.errors import status_of
from views.identity import caller
from views.policy import allow
from workflows import cases
from workflows.errors import Conflict, InvalidInput, NotAllowed
from workflows.identity import ID_MAX
from workflows.text import whole_number

bp = Blueprint("assignment", __name__, url_prefix="/cases")
assigners = allow(*cases.ASSIGNEE_ROLES)


def _person(raw: str | None, field: str):
    """"me", "none" or a user's id, as the forms send them."""
    if raw == "me":
        return current_user.id
    if raw == "none":
        return None
    user_id = whole_number(raw, ID_MAX)
    if user_id is None:
        message = "Choose whom to assign."
        raise InvalidInput(message, reasons=[field], fields={field: message})
    return user_id


def _done(assignee_id: int | None, what: str, plural: bool = False) -> str:
    if assignee_id == current_user.id:
        return f"You have taken {what}."
    if assignee_id is None:
        return f"{what} {'are' if plural else 'is'} now unassigned."
    return f"{what} {'are' if plural else 'is'} now assigned to {cases.person_label(assignee_id)}."


@bp.post(f"{CASE}/assignment")
@assigners
def assign(case_id: int):
    """Take this case, hand it back, or (approvers) assign it. The form carries
    the assignee the page showed; a change since is refused, not overwritten."""
    try:
        assignee_id = _person(request.form.get("assignee"), "assignee")
        expected = request.form.get("expected", "")
        expected = None if expected == "none" else whole_number(expected, ID_MAX)
        cases.assign(case_id, assignee_id, caller(), utcnow(),
                     expected if "expected" in request.form else cases.KEEP)
        db.session.commit()
    except (InvalidInput, Conflict, NotAllowed) as exc:
        db.session.rollback()
        return case_page(case_id, status_of(exc), assign_error=exc.message)
    flash(_done(assignee_id, db.session.get(CaseRow, case_id).reference), "ok")
    return redirect(url_for("cases.show", case_id=case_id), 303)


def _queue_args() -> dict:
    """The queue's filters and page as they were when the form was sent."""
    return {k: v for k, v in request.form.items() if k in (*FILTER_KEYS, "after") and v}


def _queue_url() -> str:
    """Back to the queue (or my cases) as it was."""
    endpoint = "cases.mine" if request.form.get("listing") == "mine" else "cases.queue"
    kept = _queue_args()
    return url_for(endpoint) + ("?" + urlencode(kept) if kept else "")


@bp.post("/next")
@assigners
def take_next():
    """The first unassigned case waiting for review, in the queue's order, is yours."""
    case = cases.take_next(caller(), utcnow())
    db.session.commit()
    if case is None:
        flash("No unassigned case is waiting for review.", "ok")
        return redirect(_queue_url(), 303)
    flash(f"You have taken {case.reference}, the next case waiting for review.", "ok")
    return redirect(url_for("cases.show", case_id=case.id), 303)


@bp.post("/assignments")
@assigners
def assign_many():
    """The cases ticked in the queue, taken or assigned together: all or none."""
    try:
        assignee_id = _person(request.form.get("assign_to"), "assign_to")
        ids = [whole_number(raw, ID_MAX) for raw in request.form.getlist("case")]
        if None in ids:
            raise InvalidInput("One of the chosen cases is not a case.", reasons=["case"])
        changed = cases.assign_many(ids, assignee_id, caller(), utcnow())
        db.session.commit()
    except (InvalidInput, Conflict, NotAllowed) as exc:
        db.session.rollback()
        return listing(request.form.get("listing") == "mine", MultiDict(_queue_args()), status_of(exc),
                       bulk_error=exc.message)
    n = len(set(ids))
    flash(_done(assignee_id, f"{n} case{'' if n == 1 else 's'}", plural=n != 1) if changed else
          "Nothing changed: the chosen cases were already assigned that way.", "ok")
    return redirect(_queue_url(), 303)
