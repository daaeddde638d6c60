"""User administration: create, disable, re-enable, reset MFA. Nothing else."""

from flask import Blueprint, flash, redirect, render_template, url_for
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from models import Customer, Role, db, utcnow
from views.errors import status_of
from views.forms import ActionForm, NewUserForm
from views.identity import actor
from views.policy import allow
from workflows import identity
from workflows.errors import Conflict, InvalidInput, NotAllowed

bp = Blueprint("admin", __name__, url_prefix="/admin")
admin_only = allow(Role.ADMIN)
# A user's page; an id no column can hold is a 404 from routing, not a driver error.
USER = f"/users/<int(max={identity.ID_MAX}):user_id>"


def _customer_choices() -> list[SelectChoice]:
    rows = db.session.execute(select(Customer.id, Customer.name).order_by(Customer.name))
    return [SelectChoice("", "None (staff)")] + [SelectChoice(str(i), n) for i, n in rows]


@bp.get("/users")
@admin_only
def user_list():
    return render_template("admin/users.html", users=identity.list_users(), form=ActionForm())


@bp.route("/users/new", methods=["GET", "POST"])
@admin_only
def user_new():
    form = NewUserForm()
    form.customer_id.choices = _customer_choices()
    if not form.validate_on_submit():
        return render_template("admin/user_new.html", form=form), 422 if form.errors else 200
    customer_id = int(form.customer_id.data) if form.customer_id.data else None
    try:
        created = identity.create_user(
            form.email.data, form.role.data, form.password.data, actor(), utcnow(),
            name=form.name.data, customer_id=customer_id, must_change_password=True,
        )
    except (InvalidInput, Conflict) as exc:
        db.session.rollback()
        fields = {"email": form.email, "customer_id": form.customer_id, "role": form.role,
                  "password": form.password, "name": form.name}
        field = fields.get(exc.reasons[0] if exc.reasons else "")
        (field.errors if field is not None else form.form_errors).append(exc.message)
        return render_template("admin/user_new.html", form=form), 422
    db.session.commit()
    flash(f"Created {created.user.email} ({created.user.role.label}).", "ok")
    return redirect(url_for("admin.user_detail", user_id=created.user.id))


@bp.get(USER)
@admin_only
def user_detail(user_id: int):
    return render_template("admin/user.html", user=identity.get_user(user_id), form=ActionForm())


def _act(user_id: int, change, done: str):
    """Run one admin action from a CSRF-checked button, then back to the user."""
    try:
        user = change(user_id, actor(), utcnow())
    except (Conflict, NotAllowed) as exc:
        db.session.rollback()
        flash(exc.message, "error")
        page = render_template("admin/user.html", user=identity.get_user(user_id), form=ActionForm())
        return page, status_of(exc)
    db.session.commit()
    flash(done.format(email=user.email), "ok")
    return redirect(url_for("admin.user_detail", user_id=user_id))


@bp.post(f"{USER}/disable")
@admin_only
def user_disable(user_id: int):
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
