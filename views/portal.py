"""The customer portal: a tenant's notices (newest first), each with the copy of
the demand and, for an intended disclosure, a place to object; and an optional
second factor. Another tenant's notice reads as one that does not exist."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from models import Role, db, utcnow
from views.auth import failed
from views.errors import status_of
from views.forms import SecondFactorForm
from views.identity import actor, client_ip
from views.policy import allow
from workflows import disclosure, identity, notices
from workflows.errors import Conflict, InvalidCredentials, InvalidInput, RateLimited
from workflows.identity import ID_MAX

bp = Blueprint("portal", __name__, url_prefix="/portal")
NOTICE = f"/notices/<int(max={ID_MAX}):notice_id>"
customers = allow(Role.CUSTOMER)


def _customer_id() -> int:
    return current_user.user.customer_id


@bp.get("/")
@customers
def home():
    return render_template("portal/home.html", customer=current_user.user.customer,
                           notices=notices.for_customer(_customer_id()))


def _notice_page(notice_id: int, status: int = 200, **extra):
    notice = notices.view(notice_id, _customer_id(), actor(), utcnow())
    return render_template("portal/notice.html", notice=notice, c=notice.content,
                           may_object=notices.may_object(notice), **extra), status


@bp.get(NOTICE)
@customers
def notice(notice_id: int):
    return _notice_page(notice_id)


@bp.post(NOTICE + "/objection")
@customers
def objection(notice_id: int):
    statement = request.form.get("statement")
    try:
        notices.file_objection(notice_id, _customer_id(), current_user.id, statement, actor(), utcnow())
    except (InvalidInput, Conflict) as exc:
        return _notice_page(notice_id, status_of(exc), objection_error=exc.message, statement=statement)
    flash("Your objection has been filed. A lawyer must read it before anything is disclosed.", "ok")
    return redirect(url_for("portal.notice", notice_id=notice_id), 303)


@bp.get(NOTICE + "/demand")
@customers
def demand(notice_id: int):
    path, document = notices.demand_copy(notice_id, _customer_id(), actor(), utcnow(),
                                         disclosure.document_folder(current_app.instance_path))
    return send_file(path, mimetype="application/pdf", as_attachment=True,
                     download_name=disclosure.document_download_name(document.filename))


@bp.route("/security", methods=["GET", "POST"])
@customers
def security():
    """A second factor is offered, not required: once set up, every sign-in asks for
    it. Showing the page stores nothing; confirming password and code does."""
    user = current_user.user
    form = SecondFactorForm()
    context = {"enrolled": user.mfa_enrolled, "email": user.email}
    if not user.mfa_enrolled:
        secret = identity.offered_secret(user, current_app.config["SECRET_KEY"])
        context.update(secret=secret, qr_svg=identity.qr_svg(identity.provisioning_uri(secret, user.email)))
    if user.mfa_enrolled or not form.validate_on_submit():
        return render_template("portal/security.html", form=form, **context), 422 if form.errors else 200
    try:
        identity.add_second_factor(user, form.password.data, context["secret"], form.code.data, client_ip(),
                               utcnow())
    except (InvalidCredentials, RateLimited) as exc:
        return failed(exc, form, "portal/security.html", **context)
    db.session.commit()
    flash("Your authenticator app is set up. Every sign-in now asks for a code from it.", "ok")
    return redirect(url_for("portal.security"), 303)
