"""Sign-in (password, then TOTP enrolment or code), sign-out, password change."""

import hashlib
from datetime import datetime

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from models import User, db, utcnow
from views.errors import status_of
from views.forms import (
    CodeForm,
    ConfirmForm,
    ForgotPasswordForm,
    InvitationForm,
    PasswordChangeForm,
    SignInForm,
)
from views.identity import Principal, actor, client_ip
from views.policy import public, signed_in, staff
from workflows import identity
from workflows.errors import Gone, InvalidCredentials, InvalidInput, NotFound, RateLimited

bp = Blueprint("auth", __name__)

PENDING_SECONDS = 300  # the password step is good for five minutes
NEXT_MAX = 1000  # a longer next= could push the session cookie past browsers' 4 KB


def safe_next(target: str | None) -> str | None:
    """Only same-site paths: never an open redirect. Browsers drop tabs and line
    breaks from a URL ("/\t/evil.example" becomes "//evil.example"), and a line
    break cannot go in a header at all, so control characters are refused too."""
    if (
        target and len(target) <= NEXT_MAX and target.startswith("/") and not target.startswith("//")
        and "\\" not in target
        and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)
    ):
        return target
    return None


def password_stamp(user: User) -> str:
    """Changes whenever the password does, so a password step passed before a
    password change or an MFA reset elsewhere is worth nothing after it."""
    material = f"{user.password_hash}|{user.totp_confirmed_at}".encode()
    return hashlib.sha256(material).hexdigest()[:16]


def pending_user() -> User | None:
    """The user who passed the password step in this browser, if recently."""
    pending = session.get("mfa_pending")
    if not pending or utcnow().timestamp() - pending["at"] > PENDING_SECONDS:
        return None
    user = db.session.get(User, pending["uid"])
    if user is None or not user.active or pending.get("stamp") != password_stamp(user):
        return None
    return user


def complete_sign_in(user: User, now: datetime) -> None:
    """Rotate: drop everything the anonymous session held, then a new server session."""
    next_url = session.get("next")
    session.clear()
    new = identity.start_session(user, client_ip(), request.user_agent.string, now)
    db.session.commit()
    login_user(Principal(user, new.record, new.token))
    session.permanent = True
    g.next_url = next_url


def failed(exc, form, template: str, **context):
    """Show the form again; the workflow already kept the failure (rate limit, audit)."""
    form.form_errors.append(exc.message)
    return render_template(template, form=form, **context), status_of(exc)


def home_for(principal) -> str:
    if principal.role.value == "customer":
        return url_for("portal.home")
    if principal.role.value == "officer":
        return url_for("agency_portal.home")
    return url_for("home.index")


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = SignInForm()
    if not form.validate_on_submit():
        return render_template("auth/sign_in.html", form=form), 422 if form.errors else 200
    try:
        user = identity.check_password(form.email.data, form.password.data, client_ip(), utcnow())
    except (InvalidCredentials, RateLimited) as exc:
        return failed(exc, form, "auth/sign_in.html")
    next_url = safe_next(request.args.get("next"))
    if not user.mfa_required:
        complete_sign_in(user, utcnow())
        return redirect(next_url or home_for(current_user))
    session["mfa_pending"] = {"uid": user.id, "at": utcnow().timestamp(), "stamp": password_stamp(user)}
    session["next"] = next_url
    db.session.commit()
    return redirect(url_for("auth.code" if user.mfa_enrolled else "auth.enrol"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
def forgot_password():
    """Ask for a reset link. The answer is the same whether or not an account uses
    the address."""
    form = ForgotPasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/forgot.html", form=form), 422 if form.errors else 200
    try:
        identity.request_reset(form.email.data, client_ip(), utcnow(), public_url())
    except RateLimited as exc:
        return failed(exc, form, "auth/forgot.html")
    return render_template("auth/forgot_sent.html", email=form.email.data.strip(),
                           minutes=int(identity.PASSWORD_RESET.lifetime.total_seconds() // 60))


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    return set_password_from_link(
        token, identity.PASSWORD_RESET, "auth/reset.html",
        lambda password, confirm, ip, now: identity.reset_password(token, password, confirm, ip, now),
        "Your new password is set, and you are signed out everywhere. Sign in with it.")


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
def invitation(token: str):
    """A staff member's invitation, sent once two administrators agreed to it."""
    return invitation_page(token, "auth/invitation.html")


def invitation_page(token: str, template: str):
    """An invitation's link: the person sets their password, then signs in and enrols."""
    return set_password_from_link(
        token, identity.INVITATION, template,
        lambda password, confirm, ip, now: identity.accept_link(token, identity.INVITATION, password, confirm,
                                                                ip, now),
        "Your password is set. Sign in with it; you will then set up your authenticator app.")


def set_password_from_link(token: str, purpose, template: str, accept, done: str):
    """The page behind a single-use link: who it is for, then a new password twice.
    A spent, expired or unknown link says so (and a real one is audited)."""
    now = utcnow()
    try:
        owner = identity.pending_link(token, purpose, now).user
    except (NotFound, Gone) as exc:
        identity.record_link_refusal(token, exc, client_ip(), now)
        return render_template("auth/link_gone.html", message=exc.message), status_of(exc)
    form = InvitationForm()
    if not form.validate_on_submit():
        return render_template(template, form=form, invited=owner), 422 if form.errors else 200
    try:
        accept(form.password.data, form.confirm.data, client_ip(), now)
    except InvalidInput as exc:
        db.session.rollback()
        form.password.errors = [*form.password.errors, exc.message]
        return render_template(template, form=form, invited=owner), 422
    except (NotFound, Gone) as exc:
        return render_template("auth/link_gone.html", message=exc.message), status_of(exc)
    flash(done, "ok")
    return redirect(url_for("auth.sign_in"), 303)


def public_url() -> str:
    """Where links in e-mail point: the configured address, never the Host header
    of the request (which whoever asks for a reset controls)."""
    return current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000"


def public_link(endpoint: str, **values) -> str:
    """The absolute address of a page, for e-mail: the configured address and the
    page's path."""
    return public_url().rstrip("/") + url_for(endpoint, **values)


@bp.route("/sign-in/enrol", methods=["GET", "POST"])
@public
def enrol():
    user = pending_user()
    if user is None or user.mfa_enrolled or not user.totp_secret:
        return redirect(url_for("auth.sign_in"))
    form = CodeForm()
    uri = identity.provisioning_uri(user.totp_secret, user.email)
    context = {"secret": user.totp_secret, "qr_svg": identity.qr_svg(uri), "email": user.email}
    if not form.validate_on_submit():
        return render_template("auth/enrol.html", form=form, **context), 422 if form.errors else 200
    try:
        identity.confirm_enrolment(user, form.code.data, client_ip(), utcnow())
    except (InvalidCredentials, RateLimited) as exc:
        return failed(exc, form, "auth/enrol.html", **context)
    complete_sign_in(user, utcnow())
    flash("Your authenticator app is set up. You will need a code from it at every sign-in.", "ok")
    return redirect(g.next_url or home_for(current_user))


@bp.route("/sign-in/code", methods=["GET", "POST"])
@public
def code():
    user = pending_user()
    if user is None or not user.mfa_enrolled:
        return redirect(url_for("auth.sign_in"))
    form = CodeForm()
    if not form.validate_on_submit():
        return render_template("auth/code.html", form=form), 422 if form.errors else 200
    try:
        identity.check_code(user, form.code.data, client_ip(), utcnow())
    except (InvalidCredentials, RateLimited) as exc:
        return failed(exc, form, "auth/code.html")
    complete_sign_in(user, utcnow())
    return redirect(g.next_url or home_for(current_user))


@bp.route("/sign-in/confirm", methods=["GET", "POST"])
@staff
def confirm():
    """Prove it is still you (password and code) before an action that needs a
    recent sign-in; failures count toward the sign-in rate limit like any other."""
    form, back = ConfirmForm(), safe_next(request.args.get("next")) or home_for(current_user)
    if not form.validate_on_submit():
        return render_template("cases/confirm.html", form=form, back=back), 422 if form.errors else 200
    try:
        user = identity.check_password(current_user.email, form.password.data, client_ip(), utcnow())
        identity.check_code(user, form.code.data, client_ip(), utcnow())
    except (InvalidCredentials, RateLimited) as exc:
        return failed(exc, form, "cases/confirm.html", back=back)
    identity.reauthenticate(current_user.session, utcnow(), client_ip())
    flash("Confirmed: you may approve for the next 10 minutes.", "ok")
    return redirect(back)


@bp.post("/sign-out")
@signed_in
def sign_out():
    identity.end_session(current_user.session, client_ip(), utcnow())
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "ok")
    return redirect(url_for("auth.sign_in"))


@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
def change_password():
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return render_template("auth/password.html", form=form), 422 if form.errors else 200
    try:
        identity.change_password(current_user.user, form.current.data, form.new.data, actor(), utcnow())
    except (InvalidCredentials, RateLimited) as exc:
        form.current.errors.append(exc.message)  # counted and audited by the workflow
        return render_template("auth/password.html", form=form), (
            429 if isinstance(exc, RateLimited) else 422
        )
    except InvalidInput as exc:
        db.session.rollback()
        form.form_errors.append(exc.message)
        return render_template("auth/password.html", form=form), 422
    db.session.commit()
    logout_user()
    session.clear()
    flash("Password changed. You are signed out everywhere; sign in with the new password.", "ok")
    return redirect(url_for("auth.sign_in"))
