"""The agency portal (DESIGN 11.4): where an invited officer sets a password, and
an officer's home, with the agency's requests as they stand. An officer sees
their own agency's requests only, and no customer's data."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from models import Role, db, utcnow
from views.errors import status_of
from views.forms import InvitationForm
from views.identity import actor, client_ip
from views.policy import allow, public
from workflows import cases, identity
from workflows.errors import Conflict, Gone, InvalidInput, NotFound
from workflows.identity import ID_MAX

bp = Blueprint("agency_portal", __name__, url_prefix="/agency")
officers = allow(Role.OFFICER)
REQUESTS_SHOWN = 100


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
def invitation(token: str):
    """Set a password from a single-use invitation link."""
    now = utcnow()
    try:
        invited = identity.pending_invitation(token, now).user
    except (NotFound, Gone) as exc:
        identity.record_invitation_refusal(token, exc, client_ip(), now)
        return render_template("agency/invitation_gone.html", message=exc.message), status_of(exc)
    form = InvitationForm()
    if not form.validate_on_submit():
        return render_template("agency/invitation.html", form=form, invited=invited), \
            422 if form.errors else 200
    try:
        identity.accept_invitation(token, form.password.data, form.confirm.data, client_ip(), now)
    except InvalidInput as exc:
        db.session.rollback()
        form.password.errors = [*form.password.errors, exc.message]
        return render_template("agency/invitation.html", form=form, invited=invited), 422
    except (NotFound, Gone) as exc:
        return render_template("agency/invitation_gone.html", message=exc.message), status_of(exc)
    flash("Your password is set. Sign in with it; you will then set up your authenticator app.", "ok")
    return redirect(url_for("auth.sign_in"), 303)


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
