"""The agency's view of its own request (DESIGN section 9): where it stands and
how to collect the production, never the provider's internal notes, reviewers or
legal analysis. Declared once, as a model that serialises it and describes it."""

from datetime import datetime

from flask import Response, current_app, url_for
from pydantic import BaseModel, Field

from models import Case as CaseRow
from models import CaseKind, Category, ProcessType, RequestType, State, db
from views.api.case_bodies import (
    EXTENSIONS,
    OUTCOME_NOTE,
    PRESERVATION_ID,
    PRESERVED_UNTIL,
    LinkStatus,
    Message,
    Sha256,
    Time,
    messages_of,
    outcome,
    preservation_fields,
)
from workflows import cases, disclosure, reports
from workflows.audit import Actor
from workflows.cases import Outcome
from workflows.errors import NotFound


class AgencyProcess(BaseModel):
    type: ProcessType
    case_number: str


class AgencyProduction(BaseModel):
    sha256: Sha256 = Field(description="SHA-256 of the ZIP, to check the download against")
    size: int
    generated_at: Time
    link_status: LinkStatus
    link_expires_at: Time


class AgencyCase(BaseModel):
    """What the agency that sent a demand may see of it: where it stands, never the
    provider's internal notes, reviewers or legal analysis."""

    id: int
    reference: str
    kind: CaseKind
    state: State
    outcome: Outcome | None = Field(description=OUTCOME_NOTE)
    preserved_until: Time | None = Field(description=PRESERVED_UNTIL)
    extensions: int = Field(description=EXTENSIONS)
    preservation_id: int | None = Field(description=PRESERVATION_ID)
    received_at: Time
    due_at: Time
    request_type: RequestType
    legal_process: AgencyProcess
    identifiers: list[str]
    categories: list[Category]
    download_url: str | None = Field(description="once disclosed, while its link is open (7 days): a "
                                                 "one-time link to the production, called with the same "
                                                 "bearer token")
    production: AgencyProduction | None
    needed_from_you: list[str] = Field(description="what the provider waits for from the agency, in plain "
                                                   "words; empty when nothing")
    messages: list[Message] = Field(description="the thread with the provider, oldest first (the provider's "
                                                 "messages are signed by the provider, not by a person)")
    annex_iii_url: str | None = Field(description="a European Production or Preservation Order that ended "
                                                  "without disclosure: the provider's answer on the form of "
                                                  "Annex III to Regulation (EU) 2023/1543, as a PDF (same "
                                                  "bearer token)")


PROVIDER = "The provider"


def agency_case(case: CaseRow, now: datetime) -> AgencyCase:
    d = case.disclosure
    url = package = None
    if d is not None and d.package_name is not None:
        link, token = disclosure.current_link(d, now)
        if token:
            url = url_for("agency_api.production_download", case_id=case.id, token=token, _external=True)
        package = AgencyProduction(sha256=d.package_sha256, size=d.package_size, generated_at=d.packaged_at,
                                   link_status=disclosure.link_status(link, now),
                                   link_expires_at=link.expires_at)
    return AgencyCase(
        id=case.id, reference=case.reference, state=case.state, outcome=outcome(case),
        **preservation_fields(case), received_at=case.received_at, due_at=case.due_at,
        request_type=case.request_type,
        legal_process=AgencyProcess(type=case.process_type, case_number=case.case_number),
        identifiers=case.identifiers, categories=case.categories, download_url=url, production=package,
        needed_from_you=cases.needed_from_agency(case, now), messages=messages_of(case, PROVIDER),
        annex_iii_url=url_for("agency_api.annex_iii", case_id=case.id, _external=True)
        if reports.annex_iii_applies(case) else None)


def load_for_agency(case_id: int, agency_id: int) -> CaseRow:
    """An agency's own request; any other id reads exactly as one that does not exist."""
    case = db.session.get(CaseRow, case_id)
    if case is None or case.agency_id != agency_id:
        raise NotFound("No such request for your agency.")
    return case


def annex_iii_response(case: CaseRow, actor: Actor, now: datetime) -> Response:
    """The Annex III answer of an order that ended without disclosure, as a PDF (the
    reading audited); any other request has none (404, saying why)."""
    body = reports.fetch_annex_iii(case, actor, current_app.config["PROVIDER_NAME"], now)
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{reports.annex_iii_filename(case)}"',
        "Cache-Control": "no-store"})
