"""The staff pages for cases: the queue, my cases, the intake form, the case page
with its actions, and the legal-process document."""

from dataclasses import dataclass, field
from functools import partial

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from models import Case as CaseRow
from models import Category, Role, State, db, utcnow
from views.api.agency_bodies import annex_iii_response
from views.auth import public_link
from views.errors import status_of
from views.forms import CaseForm, QueueFilterForm, post_text
from views.identity import actor, caller
from views.policy import allow
from views.security import PDF_VIEW_CSP
from workflows import cases, disclosure, notices, reports
from workflows.cases import BY_TRIGGER, CHANNEL_LABELS, REJECT_REASON_LABELS, REQUEST_TYPE_LABELS, Trigger
from workflows.errors import Conflict, InvalidInput, NotFound, ReauthRequired, TooLarge
from workflows.identity import ID_MAX
from workflows.schema import validate

bp = Blueprint("cases", __name__, url_prefix="/cases")
CASE = f"/<int(max={ID_MAX}):case_id>"
case_readers = allow(Role.INTAKE, Role.REVIEWER, Role.APPROVER, Role.AUDITOR)
case_workers = allow(Role.INTAKE, Role.REVIEWER, Role.APPROVER)
FILTER_KEYS = ("q", "sort", "state", "assignee", "due_soon", "overdue", "country", "process_type",
               "emergency", "ndo", "awaiting_approval", "open_objection", "hold_ends_soon")
# Filters the home page's counts link to, which the filter form does not offer.
NARROWING = {"awaiting_approval": "awaiting your approval (proposed by someone else)",
             "open_objection": "with a customer's objection not yet acknowledged",
             "hold_ends_soon": "preservations whose hold ends within {days} days"}
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
# The actions that cannot be undone: each form says what will happen beside a box to
# tick, and the action is refused (nothing changes) until it is ticked.
CONFIRM_WORDS = {
    "approve": "Disclose the ticked categories to the agency. A disclosure cannot be taken back.",
    "reject": "Refuse the demand and close the case. It cannot be reopened: the agency must send a new one.",
    "withdraw": "Close the case as withdrawn by the agency. Nothing is disclosed, and it cannot be reopened.",
    "no_data_found": "Close the case: none of the accounts named exists here. It cannot be reopened.",
    "resolve_by_customer": "Close the case: the customer answered the agency directly. It cannot be "
                           "reopened.",
    "challenge_won": "Close the case as rejected: the demand was quashed. It cannot be reopened.",
    "enforcing_refused": "Close the case as rejected by the enforcing authority. Nothing is disclosed, "
                         "and it cannot be reopened.",
    "release": "End the hold now. Records the customer deleted while it held them are then gone for good.",
}


@dataclass
class Failed:
    """An action form that came back refused: which one, why, and what was typed."""

    trigger: str
    message: str
    fields: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)


@bp.app_context_processor
def _words():
    return {
        "channel_labels": CHANNEL_LABELS, "request_type_labels": REQUEST_TYPE_LABELS,
        "reject_reasons": REJECT_REASON_LABELS, "transitions": BY_TRIGGER, "size_label": cases.size_label,
        "categories_text": cases.categories_text, "open_for_upload": disclosure.open_for_upload,
        "category_options": [(c.value, c.label) for c in Category],
        "link_status": disclosure.link_status, "relative_deadline": cases.relative_deadline,
        "link_roles": {r.value for r in disclosure.LINK_ROLES}, "sort_words": {
            "due": "emergencies first, then by deadline", "received": "newest received first",
            "state": "by state, then by deadline", "agency": "by agency, then by deadline"},
        "notice_roles": {r.value for r in notices.RELEASERS}, "today": notices.today(utcnow()),
        "confirm_words": CONFIRM_WORDS,
    }


def _folder():
    return disclosure.document_folder(current_app.instance_path)


@dataclass(frozen=True, slots=True)
class QueueLine:
    """One row of the queue as the page shows it, worked out here once: a template
    that works out fifty rows costs more than the query that found them."""

    id: int
    reference: str
    href: str
    status: str | None  # deadline_status
    emergency: bool
    ndo: bool
    pickable: bool  # open: may be ticked to take or assign
    due_iso: str
    due_text: str
    relative: str | None  # "due in 5 h"; none for a closed case or a held preservation
    state: str
    state_label: str
    agency: str
    country: str
    process: str
    assignee: str | None


def queue_lines(rows, choices, now) -> list[QueueLine]:
    base = url_for("cases.queue")
    lines = []
    for row in rows:
        agency, country = choices.agencies[row.agency_id]
        due_iso = row.due_at.isoformat()
        assignee = None
        if row.assignee_id:
            assignee = choices.assignees.get(row.assignee_id) or f"User {row.assignee_id}"
        lines.append(QueueLine(
            row.id, row.reference, f"{base}{row.id}", cases.deadline_status(row, now),
            row.emergency, row.ndo_present, row.is_open,
            due_iso, due_iso[:16].replace("T", " "),
            cases.relative_deadline(row.due_at, now)
            if row.is_open and row.state is not State.PRESERVED else None,
            row.state.value, row.state.label, agency, country, row.process_type.label, assignee))
    return lines


def listing(mine: bool, args=None, status: int = 200, **extra):
    """The queue, or my cases: filters from the query string (or `args`), one page,
    the counts. `extra` goes to the template (a refused bulk assignment's error)."""
    args = request.args if args is None else args
    kept = {k: args[k] for k in FILTER_KEYS if args.get(k)}
    choices = cases.queue_choices()
    form = QueueFilterForm(args)
    form.assignee.choices = [SelectChoice("", "Anyone"), SelectChoice("none", "Unassigned")] + [
        SelectChoice(str(user_id), email) for user_id, email in choices.assignees.items()]
    form.country.choices = [SelectChoice("", "Any")] + [SelectChoice(c, c) for c in choices.countries]
    if kept.get("q"):  # a search finds closed cases too, unless a state is chosen
        form.state.choices = [SelectChoice("", "Any state"), *form.state.choices[1:]]
    context = {"form": form, "choices": choices, "mine": mine, "kept": kept, "counts": cases.state_counts(),
               "now": utcnow(), "endpoint": "cases.mine" if mine else "cases.queue",
               "first": bool(args.get("after")), "after": args.get("after"),
               "narrowing": [(k, NARROWING[k].format(days=cases.ending_soon_days()),
                              {key: value for key, value in kept.items() if key != k})
                             for k in NARROWING if args.get(k) == "yes"],
               "assigner": current_user.role in cases.ASSIGNEE_ROLES,
               "assignable": cases.assignable() if current_user.role is Role.APPROVER else {}, **extra}
    try:
        filters = cases.parse_filters(args, me=current_user.id)
        after = args.get("after")
        after = cases.Cursor.decode(after, filters.sort) if after else None
    except InvalidInput as exc:
        return render_template("cases/queue.html", error=exc.message, page=None, **context), 422
    if mine:
        filters = filters.with_assignee(current_user.id)
    page = cases.page(filters, context["now"], after, rows_only=True)
    lines = queue_lines(page.cases, choices, context["now"])
    return render_template("cases/queue.html", page=page, lines=lines, **context), status


@bp.get("/", endpoint="queue")
@case_readers
def queue_page():
    return listing(mine=False)


@bp.get("/mine")
@case_readers
def mine():
    return listing(mine=True)


@bp.route("/new", methods=["GET", "POST"])
@allow(Role.INTAKE)
def new():
    form = CaseForm()
    form.agency_id.choices = [SelectChoice("", "Choose one")] + [
        SelectChoice(str(a.id), f"{a.name} ({a.country}){'' if a.verified else ', unverified'}")
        for a in cases.agencies()]
    if not form.is_submitted():
        form.received_at.data = form.received_at.data or utcnow().strftime(DATETIME_LOCAL)
        return render_template("cases/new.html", form=form)
    upload = form.document.data
    log_anyway = request.form.get("log_anyway") == "yes"
    try:
        case = cases.log_demand(form.body(), upload.stream if upload else None,
                                   upload.filename if upload else None, actor(), utcnow(), _folder(),
                                   current_user.id, warn_duplicates=not log_anyway)
    except cases.PossibleDuplicate as exc:  # nothing was kept: shown the cases, intake decides
        return render_template("cases/new.html", form=form, duplicates=exc.found), 409
    except (InvalidInput, TooLarge) as exc:
        form.show_errors(exc.fields)
        return render_template("cases/new.html", form=form, log_anyway=log_anyway), status_of(exc)
    flash(f"Logged {case.reference}.", "ok")
    return redirect(url_for("cases.show", case_id=case.id), 303)


def case_page(case_id: int, status: int = 200, **extra):
    page = cases.view(case_id, current_user.role, current_user.id, actor(), utcnow())
    return render_template("cases/show.html", page=page, now=utcnow(), message_max=cases.MESSAGE_MAX,
                           note_max=cases.NOTE_TEXT_MAX,
                           annex_iii=reports.annex_iii_applies(page.case),
                           notice_hold=notices.hold_for(page.case, utcnow()),
                           objection_window=notices.objection_window_binds(page.case, utcnow()),
                           reminders=cases.reminders_of_case(case_id),
                           assignable=cases.assignable() if current_user.role is Role.APPROVER else {},
                           **extra), status


@bp.get(CASE)
@case_readers
def show(case_id: int):
    return case_page(case_id)


@bp.post(f"{CASE}/transitions")
@case_workers
def transition(case_id: int):
    f = request.form
    trigger = f.get("trigger", "")
    if trigger in CONFIRM_WORDS and f.get("confirm") != "yes":
        typed = {**f.to_dict(), "categories": f.getlist("categories")}
        words = "Tick the box to confirm what this does."
        return case_page(case_id, 422, failed=Failed(trigger, words, {"confirm": words}, typed))
    try:
        move = cases.move_for(case_id, trigger, f.get("version"), f.get("note"), f.get("reason"),
                                 f.getlist("categories"), f.get("identifiers"))
        case = cases.advance(case_id, move, caller(), utcnow())
    except InvalidInput as exc:
        typed = {**f.to_dict(), "categories": f.getlist("categories")}
        failed = Failed(trigger, exc.message, exc.fields, typed)
        return case_page(case_id, 422, failed=failed)
    except Conflict as exc:
        return case_page(case_id, 409, conflict=exc.message)
    except ReauthRequired:
        flash("Confirm it's you to approve: approving needs a sign-in within the last 10 minutes.", "info")
        return redirect(url_for("auth.confirm", next=url_for("cases.show", case_id=case_id)))
    flash(f"{case.reference}: {Trigger(trigger).label}. The case is now {case.state.label.lower()}.", "ok")
    return redirect(url_for("cases.show", case_id=case_id), 303)


@bp.post(f"{CASE}/production/link")
@allow(Role.REVIEWER, Role.APPROVER)
def production_link(case_id: int):
    try:
        disclosure.reissue(case_id, current_user.role, actor(), current_user.id, request.form.get("note"),
                           utcnow())
    except (InvalidInput, Conflict) as exc:
        return case_page(case_id, status_of(exc), link_error=exc.message, link_note=request.form.get("note"))
    flash("A new collection link was issued; the agency finds it on its request. The previous link no "
          "longer works.", "ok")
    return redirect(url_for("cases.show", case_id=case_id), 303)


@bp.post(f"{CASE}/ndo")
@allow(Role.REVIEWER, Role.APPROVER)
def ndo_extension(case_id: int):
    f = request.form
    try:
        ends_on = notices.parse_end(f.get("ends_on"), bool(f.get("indefinite")))
        notices.extend_ndo(case_id, current_user.role, actor(), ends_on, f.get("note"), utcnow())
    except (InvalidInput, Conflict) as exc:
        return case_page(case_id, status_of(exc), ndo_error=exc.message, ndo_values=f.to_dict())
    flash("NDO extension recorded; notices still held now wait for the new date.", "ok")
    return redirect(url_for("cases.show", case_id=case_id, _anchor="ndo-heading"), 303)


@bp.post(f"{CASE}/callback")
@allow(Role.REVIEWER, Role.APPROVER)
def callback(case_id: int):
    f = request.form
    values = {k: f.get(k, "") for k in ("phone_called", "spoke_with", "outcome", "note")}
    try:
        body = validate(cases.Callback, {k: v for k, v in values.items() if v or k != "note"})
        recorded = cases.record_callback(case_id, body, caller(), utcnow())
    except (InvalidInput, Conflict) as exc:
        return case_page(case_id, status_of(exc), callback_error=exc, callback_values=values)
    if recorded.outcome.value == "confirmed":
        flash("Call-back recorded: the agency confirmed the request.", "ok")
    else:
        flash("Call-back recorded: the agency did not confirm the request. Reject it as verification "
              "failed.", "ok")
    return redirect(url_for("cases.show", case_id=case_id, _anchor="emergency-heading"), 303)


@bp.post(f"{CASE}/messages")
@case_workers
def message(case_id: int):
    """Write to the agency on its request; its officers are told by e-mail."""
    return post_text(
        cases.MessageBody,
        lambda text: cases.write_to_agency(case_id, text, caller(), utcnow(),
                                           public_link("agency_portal.request_page", case_id=case_id)),
        partial(case_page, case_id), "message", "Message sent to the agency.",
        url_for("cases.show", case_id=case_id, _anchor="messages-heading"))


@bp.post(f"{CASE}/notes")
@case_workers
def note(case_id: int):
    """An internal note: staff only, audited."""
    return post_text(
        cases.NoteBody, lambda text: cases.add_note(case_id, text, caller(), utcnow()),
        partial(case_page, case_id), "note", "Note saved.",
        url_for("cases.show", case_id=case_id, _anchor="notes-heading"))


@bp.post(f"{CASE}/document")
@case_workers
def upload(case_id: int):
    file = request.files.get("file")
    try:
        if not file or not file.filename:
            raise InvalidInput("Choose the PDF to upload.", fields={"file": "Choose the PDF to upload."})
        document = disclosure.store_document(case_id, file.stream, file.filename, actor(), utcnow(),
                                             _folder())
    except (InvalidInput, TooLarge, Conflict) as exc:
        return case_page(case_id, status_of(exc), upload_error=exc.message)
    flash(f"Uploaded {document.filename}.", "ok")
    return redirect(url_for("cases.show", case_id=case_id), 303)


def _send(case_id: int, document_id: int | None):
    """The document as a download, or (`?view=1`) shown in the browser's PDF viewer."""
    view = request.args.get("view") == "1"
    path, document = disclosure.fetch_document(case_id, document_id, actor(), utcnow(), _folder())
    response = send_file(path, mimetype="application/pdf", as_attachment=not view,
                         download_name=disclosure.document_download_name(document.filename))
    if view:
        response.headers["Content-Security-Policy"] = PDF_VIEW_CSP
    return response


@bp.get(f"{CASE}/document")
@case_readers
def document(case_id: int):
    return _send(case_id, None)


@bp.get(f"{CASE}/annex-iii.pdf")
@case_readers
def annex_iii(case_id: int):
    """The Annex III answer the agency fetches, as it reads to them."""
    case = db.session.get(CaseRow, case_id)
    if case is None:
        raise NotFound("No such case.")
    return annex_iii_response(case, actor(), utcnow())


@bp.get(f"{CASE}/documents/<int(max={ID_MAX}):document_id>")
@case_readers
def document_version(case_id: int, document_id: int):
    return _send(case_id, document_id)
