"""The customer portal: a tenant's notices (newest first), each with the copy of
the demand and, for an intended disclosure, a place to object; and an optional
second factor. Another tenant's notice reads as one that does not exist."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from models import Role, db, utcnow
from views.auth import failed, public_url
from views.errors import status_of
from views.forms import AnswerForm, ColleagueForm, SecondFactorForm
from views.identity import actor, client_ip
from views.policy import allow, public
from workflows import disclosure, identity, notices
from workflows.errors import (
    Conflict,
    Gone,
    InvalidCredentials,
    InvalidInput,
    NotAllowed,
    NotFound,
    RateLimited,
)
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
                           demands=notices.demands_for(_customer_id(), utcnow()),
                           contact=current_app.config.get("LEGAL_CONTACT"))


def _notice_page(notice_id: int, status: int = 200, **extra):
    notice = notices.view(notice_id, _customer_id(), actor(), utcnow())
    return render_template("portal/notice.html", notice=notice, c=notice.content, now=utcnow(),
                           may_object=notices.may_object(notice),
                           contact=current_app.config.get("LEGAL_CONTACT"), **extra), status


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
    flash("Your objection has been filed. A lawyer must read it before anything is disclosed. We e-mailed "
          "you a receipt.", "ok")
    return redirect(url_for("portal.notice", notice_id=notice_id), 303)


@bp.post(NOTICE + "/no-objection")
@customers
def no_objection(notice_id: int):
    """The customer does not object: approval need not wait for the rest of the window."""
    try:
        notices.say_no_objection(notice_id, _customer_id(), actor(), utcnow())
    except Conflict as exc:
        return _notice_page(notice_id, status_of(exc), objection_error=exc.message)
    flash("Noted: you do not object. A lawyer still approves any disclosure, and only what the law allows.",
          "ok")
    return redirect(url_for("portal.notice", notice_id=notice_id), 303)


@bp.get(NOTICE + "/demand")
@customers
def demand(notice_id: int):
    path, document = notices.demand_copy(notice_id, _customer_id(), actor(), utcnow(),
                                         disclosure.document_folder(current_app.instance_path))
    return send_file(path, mimetype="application/pdf", as_attachment=True,
                     download_name=disclosure.document_download_name(document.filename))


@bp.get("/users")
@customers
def users():
    return _users_page(ColleagueForm())


def _users_page(form, status: int = 200):
    people = identity.people_of(_customer_id())
    return render_template("portal/users.html", customer=current_user.user.customer, form=form,
                           answer=AnswerForm(), me=current_user.id, **people), status


@bp.post("/users")
@customers
def invite():
    """A portal user adds a colleague: for the customer, asking is accepting."""
    form = ColleagueForm()
    if not form.validate_on_submit():
        return _users_page(form, 422)
    try:
        grant = identity.invite_colleague(current_user.user, form.email.data, form.name.data, actor(),
                                          utcnow(), public_url())
    except (InvalidInput, Conflict, NotAllowed) as exc:
        db.session.rollback()
        field = {"email": form.email, "name": form.name}.get(exc.reasons[0] if exc.reasons else "")
        (field.errors if field is not None else form.form_errors).append(exc.message)
        return _users_page(form, status_of(exc))
    db.session.commit()
    flash(f"{grant.email} is invited: they choose their own password from the link we e-mailed them. Your "
          "notice address is told.", "ok")
    return redirect(url_for("portal.users"), 303)


@bp.post(f"/requests/<int(max={ID_MAX}):grant_id>")
@customers
def answer(grant_id: int):
    """Accept or decline, in the portal, a portal user an administrator asked for."""
    form = AnswerForm()
    if not form.validate_on_submit():
        return _users_page(ColleagueForm(), 422)
    accept = form.answer.data == "accept"
    try:
        grant = identity.answer_in_portal(grant_id, current_user.user, accept, actor(), utcnow(),
                                          public_url())
    except (Conflict, NotAllowed) as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _users_page(ColleagueForm(), status_of(exc))
    db.session.commit()
    flash(f"Accepted {grant.email}: they are invited to choose a password." if accept
          else f"Declined {grant.email}: nobody was added.", "ok")
    return redirect(url_for("portal.users"), 303)


@bp.route("/accept/<token>", methods=["GET", "POST"])
@public
def accept_by_link(token: str):
    """The link sent to a customer's notice address: accept or decline a portal user
    an administrator asked for. Whoever reads that mailbox speaks for the customer."""
    try:
        grant = identity.pending_request(token)
    except (NotFound, Gone) as exc:
        return render_template("auth/link_gone.html", message=exc.message), status_of(exc)
    form = AnswerForm()
    if not form.validate_on_submit():
        return render_template("portal/accept.html", grant=grant, form=form), 422 if form.errors else 200
    accept = form.answer.data == "accept"
    try:
        identity.answer_by_link(token, accept, actor(), utcnow(), public_url())
    except (NotFound, Gone, Conflict) as exc:
        db.session.rollback()
        return render_template("auth/link_gone.html", message=exc.message), status_of(exc)
    db.session.commit()
    return render_template("portal/answered.html", email=grant.email, accepted=accept,
                           customer=grant.customer.name)


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
