"""User administration: propose a staff user or a role change (a second
administrator approves it), disable, re-enable, reset MFA. Nothing else: no
administrator creates a live user, knows a password, or reads a case."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from models import Customer, Role, db, utcnow
from views.auth import public_url
from views.errors import status_of
from views.forms import ActionForm, GrantDecisionForm, NewUserForm, PortalUserRequestForm, RoleForm
from views.identity import actor
from views.policy import allow
from workflows import identity
from workflows.errors import Conflict, InvalidInput, NotAllowed, NotFound

bp = Blueprint("admin", __name__, url_prefix="/admin")
admin_only = allow(Role.ADMIN)
# A user's page; an id no column can hold is a 404 from routing, not a driver error.
USER = f"/users/<int(max={identity.ID_MAX}):user_id>"
GRANT = f"/grants/<int(max={identity.ID_MAX}):grant_id>"


def staff_domains() -> tuple[str, ...]:
    return identity.parse_domains(current_app.config.get("STAFF_DOMAINS"))


@bp.get("/users")
@admin_only
def user_list():
    return render_template("admin/users.html", users=identity.list_users(), form=ActionForm(),
                           waiting=len(identity.waiting()))


@bp.route("/users/new", methods=["GET", "POST"])
@admin_only
def user_new():
    form = NewUserForm()
    context = {"form": form, "domains": staff_domains()}
    if not form.validate_on_submit():
        return render_template("admin/user_new.html", **context), 422 if form.errors else 200
    try:
        grant = identity.propose_user(form.email.data, form.name.data, form.role.data, actor(), utcnow(),
                                      staff_domains())
    except (InvalidInput, Conflict, NotAllowed) as exc:
        db.session.rollback()
        field = {"email": form.email, "role": form.role, "name": form.name}.get(
            exc.reasons[0] if exc.reasons else "")
        (field.errors if field is not None else form.form_errors).append(exc.message)
        return render_template("admin/user_new.html", **context), status_of(exc)
    db.session.commit()
    flash(f"Proposed {grant.email} as {grant.role.label}. Another administrator must approve it; then "
          "they are sent an invitation to set their own password.", "ok")
    return redirect(url_for("admin.grant_list"), 303)


def _customer_choices() -> list[SelectChoice]:
    rows = db.session.execute(select(Customer.id, Customer.name).order_by(Customer.name))
    return [SelectChoice("", "Choose a customer")] + [SelectChoice(str(i), n) for i, n in rows]


@bp.route("/portal-users/new", methods=["GET", "POST"])
@admin_only
def portal_user_new():
    """Ask a customer to accept a portal user: the customer's notice address gets the
    link; no administrator makes the user."""
    form = PortalUserRequestForm()
    form.customer_id.choices = _customer_choices()
    if not form.validate_on_submit() or not form.customer_id.data:
        if request.method == "POST" and not form.customer_id.data and not form.customer_id.errors:
            form.customer_id.errors = ["Choose the customer."]
        return render_template("admin/portal_user_new.html", form=form), 422 if form.errors else 200
    try:
        grant = identity.request_portal_user(int(form.customer_id.data), form.email.data, form.name.data,
                                             actor(), utcnow(), public_url())
    except (InvalidInput, Conflict, NotAllowed, NotFound) as exc:
        db.session.rollback()
        field = {"email": form.email, "name": form.name, "customer_id": form.customer_id}.get(
            exc.reasons[0] if exc.reasons else "")
        (field.errors if field is not None else form.form_errors).append(exc.message)
        return render_template("admin/portal_user_new.html", form=form), status_of(exc)
    db.session.commit()
    flash(f"Asked {grant.customer.name} to accept {grant.email}: a link went to its notice address. Nothing "
          "is made unless the customer accepts.", "ok")
    return redirect(url_for("admin.grant_list"), 303)


@bp.get(USER)
@admin_only
def user_detail(user_id: int):
    return _user_page(user_id)


def _user_page(user_id: int, role_form: RoleForm | None = None, status: int = 200, confirm_error=None):
    user = identity.get_user(user_id)
    role_form = role_form or RoleForm(role=user.role.value if user.role.is_staff else None)
    return render_template("admin/user.html", user=user, form=ActionForm(), role_form=role_form,
                           waiting=identity.waiting_for(user.id), confirm_error=confirm_error), status


def _act(user_id: int, change, done: str):
    """Run one admin action from a CSRF-checked button, then back to the user."""
    try:
        user = change(user_id, actor(), utcnow())
    except (Conflict, NotAllowed) as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _user_page(user_id, status=status_of(exc))
    db.session.commit()
    flash(done.format(email=user.email), "ok")
    return redirect(url_for("admin.user_detail", user_id=user_id))


@bp.post(f"{USER}/disable")
@admin_only
def user_disable(user_id: int):
    if request.form.get("confirm") != "yes":  # it ends every session of theirs at once
        return _user_page(user_id, status=422, confirm_error="Tick the box to confirm what disabling does.")
    return _act(
        user_id, lambda uid, who, now: identity.set_active(uid, False, who, now),
        "{email} is disabled and signed out everywhere.",
    )


@bp.post(f"{USER}/enable")
@admin_only
def user_enable(user_id: int):
    return _act(
        user_id, lambda uid, who, now: identity.set_active(uid, True, who, now),
        "{email} can sign in again.",
    )


@bp.post(f"{USER}/reset-mfa")
@admin_only
def user_reset_mfa(user_id: int):
    return _act(
        user_id, identity.reset_mfa,
        "{email} must set up a new authenticator at next sign-in; their sessions ended.",
    )


@bp.post(f"{USER}/role")
@admin_only
def user_role(user_id: int):
    identity.get_user(user_id)  # 404 before anything else
    form = RoleForm()
    if not form.validate_on_submit():
        return _user_page(user_id, form, 422)
    try:
        grant = identity.propose_role(user_id, form.role.data, actor(), utcnow())
    except (InvalidInput, Conflict, NotAllowed) as exc:
        db.session.rollback()
        form.role.errors = [*form.role.errors, exc.message]
        return _user_page(user_id, form, status_of(exc))
    db.session.commit()
    flash(f"Proposed {grant.role.label} for {grant.email}. Another administrator must approve it.", "ok")
    return redirect(url_for("admin.grant_list"), 303)


@bp.get("/grants")
@admin_only
def grant_list():
    return _grants_page()


def _grants_page(status: int = 200):
    return render_template("admin/grants.html", waiting=identity.waiting(), decided=identity.decided_lately(),
                           form=GrantDecisionForm(), me=actor().user_id), status


def _decide(grant_id: int, approve: bool):
    form = GrantDecisionForm()
    if not form.validate_on_submit():
        flash("The note is too long (1,000 characters at most).", "error")
        return _grants_page(422)
    try:
        decided = identity.decide(grant_id, approve, actor(), utcnow(), public_url(), form.note.data)
    except (InvalidInput, Conflict, NotAllowed, NotFound) as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _grants_page(status_of(exc))
    db.session.commit()
    grant = decided.grant
    if not approve:
        what = "Withdrawn" if grant.for_customer else "Refused"
        flash(f"{what}: {grant.role.label} for {grant.email}.", "ok")
    elif grant.is_new_user:
        flash(f"Approved: {grant.email} is invited as {grant.role.label}; the invitation is on its way by "
              "e-mail. Approvers and auditors are told.", "ok")
    else:
        flash(f"Approved: {grant.email} is now {grant.role.label} and was signed out. Approvers and auditors "
              "are told.", "ok")
    return redirect(url_for("admin.grant_list"), 303)


@bp.post(f"{GRANT}/approve")
@admin_only
def grant_approve(grant_id: int):
    return _decide(grant_id, True)


@bp.post(f"{GRANT}/refuse")
@admin_only
def grant_refuse(grant_id: int):
    return _decide(grant_id, False)
