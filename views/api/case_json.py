"""The JSON shape of a case (DESIGN section 9): the whole case for staff, and the
narrower view an agency gets of its own request. Both APIs build from here, so a
key means the same thing wherever it appears."""

from datetime import UTC, date, datetime

from flask import url_for

from models import Case, CaseDocument, Disclosure, ProductionLink, Role, User, db
from workflows import cases, disclosure, legal
from workflows.cases import CaseFile, Trigger, available_triggers, facts_of, outcome_of
from workflows.errors import NotFound


def moment(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, the form every time in the API takes."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def outcome(case: Case) -> str:
    return outcome_of(case.state, case.disclosure.categories if case.disclosure else ()).value


def person(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"id": user.id, "name": user.name, "email": user.email}


def document_json(document: CaseDocument) -> dict:
    return {"id": document.id, "filename": document.filename, "sha256": document.sha256,
            "size": document.size, "uploaded_at": moment(document.uploaded_at)}


def _legal_process(case: Case) -> dict:
    return {
        "type": case.process_type.value, "issuing_authority": case.issuing_authority,
        "judicial": case.judicial, "issued_on": day(case.issued_on), "expires_on": day(case.expires_on),
        "signed": case.signed, "case_number": case.case_number, "response_due": day(case.response_due),
    }


def link_json(link: ProductionLink, now: datetime) -> dict:
    return {"id": link.id, "status": disclosure.link_status(link, now), "issued_at": moment(link.issued_at),
            "issued_by": link.issued_by, "note": link.note, "expires_at": moment(link.expires_at),
            "collected_at": moment(link.used_at)}


def production_json(d: Disclosure, now: datetime) -> dict | None:
    """The production as staff see it: the manifest (counts and hashes) and the
    collection links, never a record and never a link's token."""
    if d.package_name is None:
        return None
    return {"sha256": d.package_sha256, "size": d.package_size, "packaged_at": moment(d.packaged_at),
            "manifest": d.manifest, "downloads": sum(1 for k in d.links if k.used_at is not None),
            "links": [link_json(k, now) for k in d.links]}


def _disclosure(case: Case, now: datetime) -> dict | None:
    d = case.disclosure
    if d is None:
        return None
    return {"categories": d.categories, "identifiers": d.identifiers,
            "approved_by": person(db.session.get(User, d.approved_by_id)),
            "approved_at": moment(d.approved_at), "emergency_justification": d.emergency_justification,
            "production": production_json(d, now)}


def _transition(t) -> dict:
    return {"seq": t.seq, "trigger": t.trigger, "from": t.from_state.value, "to": t.to_state.value,
            "actor": t.actor, "at": moment(t.at), "note": t.note, "data": t.data}


def staff_case(case: Case, check: legal.LegalCheck, deadline: str | None, triggers: list[Trigger],
               now: datetime) -> dict:
    """Everything about a case a member of staff may see, with the legal check and
    the deadline as they stand now and the triggers this reader may fire."""
    proposal = None
    if case.proposed_categories is not None:
        proposal = {"categories": case.proposed_categories, "proposed_by": person(case.proposed_by)}
    return {
        "id": case.id,
        "reference": case.reference,
        "state": case.state.value,
        "outcome": outcome(case),
        "version": case.version,
        "agency": {"id": case.agency.id, "name": case.agency.name, "country": case.agency.country,
                   "verified": case.agency.verified},
        "received_at": moment(case.received_at),
        "channel": case.channel.value,
        "request_type": case.request_type.value,
        "legal_process": _legal_process(case),
        "identifiers": case.identifiers,
        "categories": case.categories,
        "date_range": {"from": day(case.date_from), "to": day(case.date_to)},
        "ndo": {"present": case.ndo_present, "statute": case.ndo_statute, "ends_on": day(case.ndo_ends_on)},
        "emergency": case.emergency,
        "emergency_justification": case.emergency_justification,
        "legal_check": check.as_json(),
        "available_triggers": [t.value for t in triggers],
        "due_at": moment(case.due_at),
        "due_status": deadline,
        "assignee": person(case.assignee),
        "proposal": proposal,
        "disclosure": _disclosure(case, now),
        "document": document_json(case.document) if case.document else None,
        "transitions": [_transition(t) for t in case.transitions],
    }


def case_file_json(case_file: CaseFile) -> dict:
    """The case as casefile.view() read it (an audited reading)."""
    return staff_case(case_file.case, case_file.check, case_file.deadline, case_file.triggers, case_file.now)


def case_now(case: Case, role: Role, user_id: int, now: datetime) -> dict:
    """The case as a write left it, for the caller who made the write."""
    return staff_case(case, legal.check(facts_of(case), now), cases.deadline_status(case, now),
                      available_triggers(case, role, user_id), now)


def _agency_production(case: Case, now: datetime) -> tuple[str | None, dict | None]:
    """The one-time download link while it can be used, and the package's hash to
    check the download against."""
    d = case.disclosure
    if d is None or d.package_name is None:
        return None, None
    link, token = disclosure.current_link(d, now)
    url = url_for("agency_api.production_download", case_id=case.id, token=token, _external=True) \
        if token else None
    return url, {"sha256": d.package_sha256, "size": d.package_size, "generated_at": moment(d.packaged_at),
                 "link_status": disclosure.link_status(link, now), "link_expires_at": moment(link.expires_at)}


def agency_case(case: Case, now: datetime) -> dict:
    """What the agency that sent a demand may see of it: where it stands, never
    the provider's internal notes, reviewers or legal analysis."""
    download_url, package = _agency_production(case, now)
    return {
        "id": case.id,
        "reference": case.reference,
        "state": case.state.value,
        "outcome": outcome(case),
        "received_at": moment(case.received_at),
        "due_at": moment(case.due_at),
        "request_type": case.request_type.value,
        "legal_process": {"type": case.process_type.value, "case_number": case.case_number},
        "identifiers": case.identifiers,
        "categories": case.categories,
        "download_url": download_url,
        "production": package,
    }


def load_for_agency(case_id: int, agency_id: int) -> Case:
    """An agency's own request; any other id reads exactly as one that does not exist."""
    case = db.session.get(Case, case_id)
    if case is None or case.agency_id != agency_id:
        raise NotFound("No such request for your agency.")
    return case
