"""Staff pages for customer notices: held notices with their release dates and
failed deliveries, and the actions on a notice (release, retry) and on an
objection (acknowledge). Each action returns to the case page."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from models import Notice, Objection, Role, db, utcnow
from views.cases import case_page
from views.errors import status_of
from views.identity import actor
from views.policy import allow
from workflows import cases, notices
from workflows.errors import Conflict, InvalidInput, NotAllowed, NotFound
from workflows.identity import ID_MAX

bp = Blueprint("notices", __name__, url_prefix="/notices")
NOTICE = f"/<int(max={ID_MAX}):notice_id>"
releasers = allow(Role.REVIEWER, Role.APPROVER)


@bp.get("/")
@allow(Role.INTAKE, Role.REVIEWER, Role.APPROVER, Role.AUDITOR)
def index():
    return render_template("notices/index.html", held=notices.held(), failed=notices.failed(),
                           reminders=cases.undelivered_reminders(), now=utcnow())


def _case_of(model, row_id: int) -> int:
    row = db.session.get(model, row_id)
    if row is None:
        raise NotFound("No such notice." if model is Notice else "No such objection.")
    return row.case_id


def _act(case_id: int, work, done: str):
    try:
        work()
    except (InvalidInput, Conflict, NotAllowed) as exc:
        return case_page(case_id, status_of(exc), notice_error=exc.message)
    flash(done, "ok")
    return redirect(url_for("cases.show", case_id=case_id, _anchor="notices-heading"), 303)


@bp.post(NOTICE + "/release")
@releasers
def release(notice_id: int):
    note = request.form.get("note")
    return _act(_case_of(Notice, notice_id),
                lambda: notices.release(notice_id, current_user.role, actor(), note, utcnow()),
                "Notice released: the customer sees it in the portal now, and the relay e-mails it.")


@bp.post(NOTICE + "/retry")
@releasers
def retry(notice_id: int):
    return _act(_case_of(Notice, notice_id),
                lambda: notices.retry(notice_id, current_user.role, actor(), utcnow()),
                "The notice will be e-mailed again on the relay's next pass.")


@bp.post(f"/objections/<int(max={ID_MAX}):objection_id>/acknowledge")
@allow(Role.APPROVER)
def acknowledge(objection_id: int):
    note = request.form.get("note")
    return _act(_case_of(Objection, objection_id),
                lambda: notices.acknowledge(objection_id, current_user.role, actor(), current_user.id, note,
                                            utcnow()),
                "Objection acknowledged. Approval may go ahead once every objection is acknowledged.")
