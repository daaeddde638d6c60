"""The agencies' JSON API: submit a demand, follow its progress, collect the
production; officers manage their own tokens. Callers prove who they are with a
bearer token (views.policy.agency_token): the agency's system token, or an
officer's own, which acts as the officer. They see their own agency's requests
only, and never the provider's internal review."""

import base64
from typing import ClassVar

from flask import Blueprint, Response, request, url_for
from pydantic import BaseModel, Field

from models import Channel, db, utcnow
from views.api.agency_bodies import AgencyCase, agency_case, annex_iii_response, load_for_agency
from views.api.contract import Reply, operation, reply
from views.auth import public_link
from views.identity import client_ip
from views.policy import agency_token, current_agency, current_officer, current_token_id
from views.security import csrf
from workflows import cases, disclosure, identity
from workflows.audit import Actor
from workflows.errors import NotAllowed
from workflows.identity import ID_MAX
from workflows.schema import Body, text

bp = Blueprint("agency_api", __name__, url_prefix="/api/v1/agency")
# Token-authenticated: no cookie is read, so there is no cross-site request to forge.
csrf.exempt(bp)
REQUEST = f"/requests/<int(max={ID_MAX}):case_id>"


def agency_actor() -> Actor:
    agency, officer = current_agency(), current_officer()
    if officer is not None:
        return Actor(officer.email, officer.id, client_ip())
    return Actor(f"agency:{agency.id} {agency.name}"[:254], None, client_ip())


@bp.after_request
def _private(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/requests")
@agency_token
@operation("Submit a demand", body=cases.AgencyRequest, replies={
    201: Reply("Received; Location names the request", AgencyCase, headers=("Location",)),
    422: "A field is missing, malformed or not allowed here (agency_id, state, ...), or contradicts "
         "another (an NSL on a criminal request); nothing was stored"})
def request_create(body: cases.AgencyRequest):
    now = utcnow()
    draft = cases.draft_of(body, now, default_channel=Channel.API)
    officer = current_officer()
    case = cases.create_case(draft, current_agency(), agency_actor(), now,
                             created_by_id=officer.id if officer is not None else None)
    db.session.commit()
    location = url_for("agency_api.request_detail", case_id=case.id)
    return reply(agency_case(case, now), 201, {"Location": location})


@bp.get(REQUEST)
@agency_token
@operation("Follow one of your agency's requests", replies={
    200: Reply("The request", AgencyCase),
    404: "No such request for your agency (the same answer for another agency's)"})
def request_detail(case_id: int):
    return reply(agency_case(load_for_agency(case_id, current_agency().id), utcnow()))


@bp.get(REQUEST + "/annex-iii.pdf")
@agency_token
@operation("The provider's answer on the form of Annex III to Regulation (EU) 2023/1543, for a European "
           "Production or Preservation Order that ended without disclosure: the annex_iii_url of the request",
           replies={200: Reply("The form, as a PDF", media="application/pdf",
                               schema={"type": "string", "format": "binary"}),
                    404: "No such request for your agency, or it has no Annex III answer (not an EPOC or "
                         "EPOC-PR, or not ended without disclosure)"})
def annex_iii(case_id: int):
    return annex_iii_response(load_for_agency(case_id, current_agency().id), agency_actor(), utcnow())


@bp.post(REQUEST + "/messages")
@agency_token
@operation("Write to the provider on one of your agency's requests (an answer to its question, say)",
           body=cases.MessageBody, replies={
               201: Reply("The request with its messages", AgencyCase),
               404: "No such request for your agency (the same answer for another agency's)",
               409: "The request already holds its most messages (thread_full)"})
def request_message(case_id: int, body: cases.MessageBody):
    now = utcnow()
    officer = current_officer()
    cases.write_to_provider(case_id, current_agency().id, body.text, agency_actor(),
                            officer.id if officer is not None else None, now,
                            public_link("cases.show", case_id=case_id))
    db.session.commit()
    return reply(agency_case(load_for_agency(case_id, current_agency().id), now), 201)


@bp.get(REQUEST + "/production/<token>")
@agency_token
@operation("Collect the production, once: the download_url of the request", replies={
    200: Reply("The ZIP: manifest.json and the records; Repr-Digest carries its SHA-256. The download is "
               "audited. HEAD learns the size and hash without spending the link.", media="application/zip",
               schema={"type": "string", "format": "binary"}, headers=("Repr-Digest", "Content-Disposition")),
    404: "No such link for your agency: unknown, altered, or another agency's",
    410: "Already collected (link_collected), expired (link_expired) or replaced by a newer link "
         "(link_replaced); ask the provider for a new link"})
def production_download(case_id: int, token: str):
    """The production, once: a ZIP streamed from its sealed file. Repr-Digest (RFC
    9530) carries its SHA-256, also given in the request's `production`. A HEAD
    request learns the size and hash without spending the link."""
    if request.method == "HEAD":
        collected = disclosure.inspect(case_id, current_agency().id, token, utcnow())
    else:
        collected = disclosure.collect(case_id, current_agency().id, token, agency_actor(), utcnow())
    digest = base64.b64encode(bytes.fromhex(collected.sha256)).decode()
    headers = {
        "Content-Length": str(collected.size),
        "Content-Disposition": f'attachment; filename="{collected.filename}"',
        "Repr-Digest": f"sha-256=:{digest}:",
    }
    return Response(disclosure.stream(collected), mimetype="application/zip", headers=headers,
                    direct_passthrough=True)


# ---- an officer's own tokens ---------------------------------------------------------------

class TokenRequest(Body):
    WHAT: ClassVar[str] = "{name}"
    name: text(identity.TOKEN_NAME_MAX, filled=True, description="what the token is for, such as the "
                                                                   "system that will use it")


class IssuedToken(BaseModel):
    id: int
    name: str
    token: str = Field(description="shown this once; send it as Authorization: Bearer")


def _officer_or_refuse():
    officer = current_officer()
    if officer is None:
        raise NotAllowed("Only an officer's own token manages tokens; the agency's system token does not.",
                         code="officer_token_required")
    return officer


@bp.post("/tokens")
@agency_token
@operation("Make a new token that acts as you (an officer's token only), shown once", body=TokenRequest,
           replies={201: Reply("The new token", IssuedToken),
                    403: "Called with the agency's system token (officer_token_required)",
                    409: "You are not yet verified (officer_unverified)"})
def token_create(body: TokenRequest):
    officer = _officer_or_refuse()
    record, token = identity.issue_officer_token(officer, body.name, agency_actor(), utcnow())
    db.session.commit()
    return reply(IssuedToken(id=record.id, name=record.name, token=token), 201)


@bp.delete(f"/tokens/<int(max={ID_MAX}):token_id>")
@agency_token
@operation("Revoke one of your tokens (an officer's token only); it is refused from its next use",
           replies={204: "Revoked", 403: "Called with the agency's system token (officer_token_required)",
                    404: "No such token of yours", 409: "Already revoked"})
def token_revoke(token_id: int):
    officer = _officer_or_refuse()
    identity.revoke_officer_token(officer, token_id, agency_actor(), utcnow())
    db.session.commit()
    return "", 204


@bp.post(f"/tokens/<int(max={ID_MAX}):token_id>/rotation")
@agency_token
@operation("Rotate one of your tokens (an officer's token only): a new token with the same name, shown once; "
           "the old one is refused from its next use", replies={
               201: Reply("The new token", IssuedToken),
               403: "Called with the agency's system token (officer_token_required)",
               404: "No such token of yours", 409: "The token was revoked (token_revoked)"})
def token_rotate(token_id: int):
    officer = _officer_or_refuse()
    record, token = identity.rotate_token(token_id, agency_actor(), utcnow(), officer=officer)
    db.session.commit()
    return reply(IssuedToken(id=record.id, name=record.name, token=token), 201)


@bp.post("/tokens/current/rotation")
@agency_token
@operation("Rotate the token this call is made with (the agency's system token, or an officer's): a new "
           "one, shown once; this one is refused from now on", replies={
               201: Reply("The new token", IssuedToken)})
def current_token_rotate():
    record, token = identity.rotate_token(current_token_id(), agency_actor(), utcnow())
    db.session.commit()
    return reply(IssuedToken(id=record.id, name=record.name, token=token), 201)
