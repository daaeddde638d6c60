"""The agency portal (DESIGN 11.4): where an invited officer sets a password, and
an officer's home, with the agency's requests as they stand. An officer sees
their own agency's requests only, and no customer's data."""

import base64
from functools import partial

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from models import Channel, Role, db, utcnow
from views.api.agency_bodies import annex_iii_response, load_for_agency
from views.auth import invitation_page, public_link, public_url
from views.errors import status_of
from views.forms import CaseForm, RegistrationForm, post_text
from views.identity import actor, client_ip
from views.policy import allow, public
from workflows import cases, disclosure, identity, reports
from workflows.errors import Conflict, Gone, InvalidInput, NotFound, PackageFailed, RateLimited, TooLarge
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
    requests = cases.requests_for_officer(officer, REQUESTS_SHOWN)
    return render_template("agency/home.html", officer=officer, agency=agency, requests=requests,
                           waiting=cases.unanswered([r.id for r in requests]),
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


@bp.post(f"/tokens/<int(max={ID_MAX}):token_id>/rotate")
@officers
def token_rotate(token_id: int):
    """A new token in place of one of the officer's own: shown once; the old one is
    refused from its next use."""
    try:
        record, token = identity.rotate_token(token_id, actor(), utcnow(), officer=current_user.user)
        db.session.commit()
    except (NotFound, Conflict) as exc:
        db.session.rollback()
        return _home(status_of(exc), token_error=exc.message)
    return _home(201, new_token=token, new_token_name=record.name or record.prefix, rotated=True)


# ---- one request: where it stands, the messages, the production --------------------

REQUEST = f"/requests/<int(max={ID_MAX}):case_id>"


def _verified_officer():
    """The signed-in officer, once verified: only then do they act for the agency."""
    officer = current_user.user
    if identity.officer_status(officer) != "verified":
        raise NotFound("No such request for your agency.")
    return officer


def _request_page(case_id: int, status_code: int = 200, **extra):
    officer = _verified_officer()
    case = load_for_agency(case_id, officer.agency_id)
    now = utcnow()
    current = disclosure.current_link(case.disclosure, now)
    return render_template("agency/request.html", case=case, agency=officer.agency, now=now,
                           needed=cases.needed_from_agency(case, now), link=current[0] if current else None,
                           link_open=bool(current and current[1]), message_max=cases.MESSAGE_MAX,
                           annex_iii=reports.annex_iii_applies(case),
                           **extra), status_code


@bp.get(REQUEST)
@officers
def request_page(case_id: int):
    return _request_page(case_id)


@bp.get(REQUEST + "/annex-iii.pdf")
@officers
def annex_iii(case_id: int):
    """The provider's Annex III answer on an order that ended without disclosure."""
    return annex_iii_response(load_for_agency(case_id, _verified_officer().agency_id), actor(), utcnow())


@bp.post(REQUEST + "/messages")
@officers
def request_message(case_id: int):
    """An officer writes to the provider on one of the agency's requests."""
    officer = _verified_officer()
    return post_text(
        cases.MessageBody,
        lambda text: cases.write_to_provider(case_id, officer.agency_id, text, actor(), officer.id, utcnow(),
                                             public_link("cases.show", case_id=case_id)),
        partial(_request_page, case_id), "message", "Sent: the provider reads it on your request.",
        url_for("agency_portal.request_page", case_id=case_id, _anchor="messages-heading"))


def _why_not(link, token: str | None, now) -> str:
    if token is not None:
        return "The provider issued a new link since this page was loaded; reload it."
    status = disclosure.link_status(link, now)
    if status == "collected":
        return f"It was already collected, on {link.used_at:%Y-%m-%d %H:%M} UTC."
    if status == "expired":
        return "Its link expired; ask the provider for a new one in a message."
    return "The provider replaced its link; reload this page."


@bp.post(REQUEST + "/production")
@officers
def production(case_id: int):
    """Collect the production, once: the ZIP, streamed from its sealed file, with its
    SHA-256 in Repr-Digest as in the API. A second click finds the link spent."""
    officer = _verified_officer()
    case = load_for_agency(case_id, officer.agency_id)
    now = utcnow()
    current = disclosure.current_link(case.disclosure, now)
    if current is None:
        return _request_page(case_id, 409, collect_error="There is no production to collect on this request.")
    link, token = current
    if token is None or str(link.id) != request.form.get("link", ""):
        return _request_page(case_id, 410 if token is None else 409,
                             collect_error=f"The production was not downloaded. {_why_not(link, token, now)}")
    try:
        collected = disclosure.collect(case_id, officer.agency_id, token, actor(), now)
    except (Gone, PackageFailed) as exc:
        db.session.rollback()
        return _request_page(case_id, status_of(exc), collect_error=exc.message)
    digest = base64.b64encode(bytes.fromhex(collected.sha256)).decode()
    headers = {"Content-Length": str(collected.size),
               "Content-Disposition": f'attachment; filename="{collected.filename}"',
               "Repr-Digest": f"sha-256=:{digest}:", "Cache-Control": "no-store"}
    return Response(disclosure.stream(collected), mimetype="application/zip", headers=headers,
                    direct_passthrough=True)
