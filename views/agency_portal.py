"""The agency portal (DESIGN 11.4): where an invited officer sets a password, and
an officer's home, with the agency's requests as they stand. An officer sees
their own agency's requests only, and no customer's data."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from models import Channel, Role, db, utcnow
from views.auth import invitation_page, public_url
from views.errors import status_of
from views.forms import CaseForm, RegistrationForm
from views.identity import actor, client_ip
from views.policy import allow, public
from workflows import cases, disclosure, identity
from workflows.errors import Conflict, InvalidInput, NotFound, RateLimited, TooLarge
from workflows.identity import ID_MAX

bp = Blueprint("agency_portal", __name__, url_prefix="/agency")
officers = allow(Role.OFFICER)
REQUESTS_SHOWN = 100


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
def invitation(token: str):
    """Set a password from a single-use invitation link."""
    return invitation_page(token, "agency/invitation.html")


@bp.route("/register", methods=["GET", "POST"])
@public
def register():
    """An officer asks to join their agency: an address on one of its registered
    domains gets a link to confirm it and set a password; staff then verify them."""
    form = RegistrationForm()
    if not form.validate_on_submit():
        return render_template("agency/register.html", form=form), 422 if form.errors else 200
    try:
        agency = identity.register(form.email.data, form.name.data, client_ip(), utcnow(), public_url())
    except (InvalidInput, RateLimited) as exc:
        db.session.rollback()
        field = {"email": form.email, "name": form.name}.get(exc.reasons[0] if exc.reasons else "")
        (field.errors if field is not None else form.form_errors).append(exc.message)
        return render_template("agency/register.html", form=form), status_of(exc)
    return render_template("agency/register_sent.html", email=form.email.data.strip(), agency=agency.name)


def _home(status_code: int = 200, **extra):
    officer = current_user.user
    agency = officer.agency
    return render_template("agency/home.html", officer=officer, agency=agency,
                           requests=cases.requests_for_officer(officer, REQUESTS_SHOWN),
                           status=identity.officer_status(officer), shown=REQUESTS_SHOWN,
                           tokens=identity.tokens_of(officer.id), **extra), status_code


@bp.get("/")
@officers
def home():
    return _home()


@bp.route("/requests/new", methods=["GET", "POST"])
@officers
def request_new():
    """A verified officer sends a demand with its PDF, for their own agency: the
    same checks as at the intake desk and in the API; the agency and the moment of
    receipt are the portal's, not the form's."""
    officer = current_user.user
    if identity.officer_status(officer) != "verified":
        flash("You can send requests once we have verified that you work for your agency.", "error")
        return redirect(url_for("agency_portal.home"), 303)
    form = CaseForm()
    context = {"form": form, "portal": True, "agency": officer.agency}
    if not form.is_submitted():
        return render_template("cases/new.html", **context)
    now = utcnow()
    body = {**form.body(), "agency_id": officer.agency_id, "received_at": now.isoformat(),
            "channel": Channel.PORTAL.value}
    upload = form.document.data
    try:
        case = cases.log_demand(body, upload.stream if upload else None, upload.filename if upload else None,
                                actor(), now, disclosure.document_folder(current_app.instance_path),
                                officer.id)
    except (InvalidInput, TooLarge) as exc:
        form.show_errors(exc.fields)
        return render_template("cases/new.html", **context), status_of(exc)
    flash(f"Sent: your request is {case.reference}. We answer by the date shown beside it.", "ok")
    return redirect(url_for("agency_portal.home"), 303)


@bp.post("/tokens")
@officers
def token_create():
    """A new API token that acts as this officer: shown on this page once."""
    name = request.form.get("name", "")
    try:
        _, token = identity.issue_officer_token(current_user.user, name, actor(), utcnow())
        db.session.commit()
    except (InvalidInput, Conflict) as exc:
        db.session.rollback()
        return _home(status_of(exc), token_error=exc.message, token_name=name)
    return _home(201, new_token=token, new_token_name=name)


@bp.post(f"/tokens/<int(max={ID_MAX}):token_id>/revoke")
@officers
def token_revoke(token_id: int):
    try:
        record = identity.revoke_officer_token(current_user.user, token_id, actor(), utcnow())
        db.session.commit()
    except (NotFound, Conflict) as exc:
        db.session.rollback()
        return _home(status_of(exc), token_error=exc.message)
    flash(f"The token {record.name or record.prefix} is revoked: it is refused from its next use.", "ok")
    return redirect(url_for("agency_portal.home", _anchor="tokens-heading"), 303)
