"""Logging a demand: the one parser every door uses (form, staff API, agency API),
the reference it is given and the deadline it gets. A body that is wrong anywhere is
refused field by field, and nothing of it is stored."""

import copy
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from models import (
    AuditAction,
    AuditEvent,
    Case,
    CaseReferenceCounter,
    CaseStateCount,
    Category,
    Channel,
    ProcessType,
    RequestType,
    State,
    db,
)
from tests.conftest import TEST_ACTOR
from workflows import audit
from workflows.cases import demand, intake
from workflows.errors import InvalidInput

RECEIVED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)

# DESIGN section 9, verbatim.
EXAMPLE = {
    "agency_id": 3, "received_at": "2026-03-02T10:00:00Z", "request_type": "criminal",
    "legal_process": {"type": "search_warrant", "issuing_authority": "U.S. District Court",
                      "judicial": True, "issued_on": "2026-03-01", "expires_on": None, "signed": True,
                      "case_number": "2:26-mj-00123", "response_due": None},
    "identifiers": ["alice@contoso.example"], "categories": ["content"],
    "date_range": {"from": "2026-01-01", "to": "2026-02-28"},
    "ndo": {"present": True, "statute": "18 U.S.C. 2705(b)", "ends_on": "2026-09-01"},
    "emergency_justification": None,
}


DROP = object()


def body(**changes) -> dict:
    """The example with changes; a dotted key ("legal_process.type") changes a nested
    field, and the value DROP removes the key."""
    result = copy.deepcopy(EXAMPLE)
    for key, value in changes.items():
        *path, last = key.split(".")
        target = result
        for part in path:
            target = target[part]
        if value is DROP:
            target.pop(last, None)
        else:
            target[last] = value
    return result


def test_the_design_example_parses():
    draft = demand.parse_case(EXAMPLE, NOW)
    assert draft.agency_id == 3
    assert draft.received_at == RECEIVED
    assert (draft.channel, draft.request_type, draft.process_type) == (
        Channel.EMAIL, RequestType.CRIMINAL, ProcessType.SEARCH_WARRANT)
    assert (draft.issuing_authority, draft.judicial, draft.signed, draft.case_number) == (
        "U.S. District Court", True, True, "2:26-mj-00123")
    assert (draft.issued_on, draft.expires_on, draft.response_due) == (date(2026, 3, 1), None, None)
    assert draft.identifiers == ["alice@contoso.example"]
    assert draft.categories == [Category.CONTENT]
    assert (draft.date_from, draft.date_to) == (date(2026, 1, 1), date(2026, 2, 28))
    assert (draft.ndo_present, draft.ndo_statute, draft.ndo_ends_on) == (
        True, "18 U.S.C. 2705(b)", date(2026, 9, 1))
    assert draft.emergency_justification is None and not draft.emergency


def test_a_whole_number_written_with_a_point_is_a_whole_number():
    """JSON has one kind of number, and JSON Schema counts 3.0 as the integer 3."""
    assert demand.parse_case(body(agency_id=3.0), NOW).agency_id == 3


def test_channel_defaults_to_the_door_and_can_be_named():
    assert demand.parse_case(EXAMPLE, NOW, default_channel=Channel.API).channel is Channel.API
    assert demand.parse_case(body(channel="fax"), NOW).channel is Channel.FAX


def test_the_agency_api_body_has_no_agency_id():
    draft = demand.parse_case(body(agency_id=DROP), NOW, agency_id_allowed=False)
    assert draft.agency_id is None


# (what is wrong, the body, the field the error names)
BAD = [
    ("received in the future", body(received_at="2026-03-03T12:00:01Z"), "received_at"),
    ("received before 2000", body(received_at="1999-12-31T23:59:59Z"), "received_at"),
    ("received_at not a date", body(received_at="yesterday"), "received_at"),
    ("received_at no such day", body(received_at="2026-02-30T10:00:00Z"), "received_at"),
    ("received_at a number", body(received_at=1772445600), "received_at"),
    ("received_at missing", body(received_at=DROP), "received_at"),
    ("issued_on written the US way", body(**{"legal_process.issued_on": "03/01/2026"}),
     "legal_process.issued_on"),
    ("issued_on no such day", body(**{"legal_process.issued_on": "2026-02-30"}), "legal_process.issued_on"),
    ("date range from not a date", body(**{"date_range.from": "soon"}), "date_range.from"),
    ("ndo ends_on not a date", body(**{"ndo.ends_on": "2026-13-01"}), "ndo.ends_on"),
    ("no identifiers key", body(identifiers=DROP), "identifiers"),
    ("blank identifiers", body(identifiers=["  ", ""]), "identifiers"),
    ("a blank identifier among others", body(identifiers=["alice@contoso.example", " "]), "identifiers"),
    ("identifiers not a list", body(identifiers="alice@contoso.example"), "identifiers"),
    ("non-string identifier", body(identifiers=["alice@contoso.example", 42]), "identifiers"),
    ("nested identifier", body(identifiers=[["alice@contoso.example"]]), "identifiers"),
    ("NUL in an identifier", body(identifiers=["alice@contoso.example\x00"]), "identifiers"),
    ("line break in an identifier", body(identifiers=["alice@contoso.example\nbob@x.example"]),
     "identifiers"),
    ("bell in an identifier", body(identifiers=["al\x07ice@contoso.example"]), "identifiers"),
    ("unpaired surrogate in an identifier", body(identifiers=["alice\ud800@contoso.example"]), "identifiers"),
    ("unknown category", body(categories=["content", "everything"]), "categories"),
    ("no categories", body(categories=[]), "categories"),
    ("unknown process type", body(**{"legal_process.type": "pinky_promise"}), "legal_process.type"),
    ("no process type", body(**{"legal_process.type": DROP}), "legal_process.type"),
    ("no legal process", body(legal_process=DROP), "legal_process"),
    ("unknown request type", body(request_type="curious"), "request_type"),
    ("judicial as text", body(**{"legal_process.judicial": "yes"}), "legal_process.judicial"),
    ("judicial as a number", body(**{"legal_process.judicial": 1}), "legal_process.judicial"),
    ("signed as text", body(**{"legal_process.signed": "true"}), "legal_process.signed"),
    ("expires before issued", body(**{"legal_process.expires_on": "2026-02-28"}), "legal_process.expires_on"),
    ("date range reversed", body(**{"date_range.from": "2026-02-28", "date_range.to": "2026-01-01"}),
     "date_range.to"),
    ("NDO ends before received", body(**{"ndo.ends_on": "2026-03-01"}), "ndo.ends_on"),
    ("NDO end without an NDO", body(**{"ndo.present": False}), "ndo.present"),
    ("state set by the sender", body(state="disclosed"), "state"),
    ("version set by the sender", body(version=7), "version"),
    ("assignee set by the sender", body(assignee_id=1), "assignee_id"),
    ("unknown process field", body(**{"legal_process.approved": True}), "legal_process.approved"),
    ("unknown channel", body(channel="pigeon"), "channel"),
    ("agency_id not a number", body(agency_id="three"), "agency_id"),
    ("agency_id as digits in text", body(agency_id="3"), "agency_id"),
    ("agency_id false", body(agency_id=False), "agency_id"),
    ("agency_id a fraction", body(agency_id=3.5), "agency_id"),
    ("agency_id zero", body(agency_id=0), "agency_id"),
    ("agency_id past the column", body(agency_id=2**31), "agency_id"),
    ("received_at without a day", body(received_at="2026-03"), "received_at"),
    ("received_at with hour 24", body(received_at="2026-03-02T24:00:00Z"), "received_at"),
    ("agency_id missing", body(agency_id=DROP), "agency_id"),
    ("NSL with a criminal request type", body(**{"legal_process.type": "nsl"}), "request_type"),
    ("national security with a warrant", body(request_type="national_security"), "request_type"),
    ("emergency process, criminal request", body(**{"legal_process.type": "emergency"}), "request_type"),
    ("5000-character justification", body(emergency_justification="x" * 5000), "emergency_justification"),
    ("5000-character issuing authority", body(**{"legal_process.issuing_authority": "x" * 5000}),
     "legal_process.issuing_authority"),
    ("body not an object", ["alice@contoso.example"], "body"),
]


# Mistakes that take other fields down with them (no process: no process type either).
KNOCK_ON = {"no legal process", "body not an object"}


@pytest.mark.parametrize(("name", "bad", "field"), [pytest.param(*case, id=case[0]) for case in BAD])
def test_bad_input_is_refused_by_field(name, bad, field):
    with pytest.raises(InvalidInput) as refused:
        demand.parse_case(bad, NOW)
    assert field in refused.value.fields, refused.value.fields
    assert refused.value.fields[field] in refused.value.message
    assert set(refused.value.reasons) == set(refused.value.fields)
    if name not in KNOCK_ON:
        assert set(refused.value.fields) == {field}  # one mistake, one message, beside its field


def test_agency_id_is_refused_where_the_agency_is_known():
    """The agency API knows who is calling; a body naming an agency is refused, not obeyed."""
    with pytest.raises(InvalidInput) as refused:
        demand.parse_case(EXAMPLE, NOW, agency_id_allowed=False)
    assert set(refused.value.fields) == {"agency_id"}


def test_every_problem_is_reported_at_once():
    bad = body(received_at="yesterday", identifiers=[" "], categories=["everything"], state="disclosed")
    with pytest.raises(InvalidInput) as refused:
        demand.parse_case(bad, NOW)
    assert set(refused.value.fields) == {"received_at", "identifiers", "categories", "state"}


def test_nothing_is_stored_for_a_refused_body(app, make_agency):
    """Through the path every door takes (parse, then create): a refusal leaves no
    case, no reference number used up, no count and no audit event."""
    agency = make_agency().agency
    events = audit.verify().events
    for _, bad, _ in BAD:
        with pytest.raises(InvalidInput):
            intake.create_case(demand.parse_case(bad, NOW), agency, TEST_ACTOR, NOW)
        db.session.commit()
    for model in (Case, CaseReferenceCounter, CaseStateCount):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0, model
    assert audit.verify().events == events


def test_identifiers_are_lower_cased_and_de_duplicated():
    draft = demand.parse_case(body(identifiers=[
        "Alice@Contoso.example", "alice@contoso.example", "  BOB@contoso.example ", "bob@contoso.example",
        "carol",
    ]), NOW)
    assert draft.identifiers == ["alice@contoso.example", "bob@contoso.example", "carol"]


def test_categories_are_kept_in_a_fixed_order_without_repeats():
    draft = demand.parse_case(body(categories=["content", "subscriber", "content"]), NOW)
    assert draft.categories == [Category.SUBSCRIBER, Category.CONTENT]


def test_received_at_without_a_zone_is_utc_and_other_zones_are_converted():
    assert demand.parse_case(body(received_at="2026-03-02T10:00:00"), NOW).received_at == RECEIVED
    assert demand.parse_case(body(received_at="2026-03-02T11:00:00+01:00"), NOW).received_at == RECEIVED


# ---- storing: reference, deadline, priority -----------------------------------------------


REFERENCE = re.compile(r"LE-(\d{4})-(\d{6})")


def create(draft_body, agency, now=NOW) -> Case:
    case = intake.create_case(demand.parse_case(draft_body, now), agency, TEST_ACTOR, now)
    db.session.commit()
    return case


def test_references_are_numbered_per_year(app, make_agency):
    agency = make_agency().agency
    made = [create(EXAMPLE, agency, now) for now in (
        NOW, NOW + timedelta(days=1), datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC), NOW + timedelta(days=2),
        datetime(2027, 1, 5, tzinfo=UTC),
    )]
    assert [c.reference for c in made] == [
        "LE-2026-000001", "LE-2026-000002", "LE-2027-000001", "LE-2026-000003", "LE-2027-000002"]
    assert all(REFERENCE.fullmatch(c.reference) for c in made)


def test_a_new_case_is_received_counted_and_audited(app, make_agency):
    agency = make_agency().agency
    case = create(EXAMPLE, agency)
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert (case.state, case.is_open, case.version, case.agency_id) == (State.RECEIVED, True, 1, agency.id)
    assert (case.created_at, case.received_at) == (NOW, RECEIVED)
    assert db.session.get(CaseStateCount, State.RECEIVED).n == 1
    event = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event.action == AuditAction.CASE_RECEIVED.value
    assert (event.subject_id, event.data["reference"]) == (str(case.id), case.reference)
    assert audit.verify().intact


def test_due_dates_follow_the_rules(app, make_agency):
    us, de = make_agency(country="US").agency, make_agency(country="DE").agency
    emergency = {"request_type": "emergency", "emergency_justification": "Threat to life.",
                 "legal_process.type": "emergency", "legal_process.judicial": False}

    # emergency: 8 hours from receipt, whatever the process says
    assert create(body(**emergency), us).due_at == RECEIVED + timedelta(hours=8)
    urgent_warrant = body(request_type="emergency", emergency_justification="Threat to life.",
                          **{"legal_process.response_due": "2026-03-20"})
    assert create(urgent_warrant, us).due_at == RECEIVED + timedelta(hours=8)
    # epoc: 10 days (Reg. 2023/1543 Art. 10(2)), even when a response date is written on it
    epoc_received = datetime(2026, 9, 1, 8, 30, tzinfo=UTC)
    epoc = body(received_at=epoc_received.isoformat(), **{
        "legal_process.type": "epoc", "legal_process.issued_on": "2026-08-31",
        "legal_process.response_due": "2026-12-01", "ndo.ends_on": None, "ndo.present": False})
    epoc_now = epoc_received + timedelta(hours=1)
    assert create(epoc, de, epoc_now).due_at == epoc_received + timedelta(days=10)
    # a response date on the process: the end of that day, UTC
    dated = body(**{"legal_process.response_due": "2026-03-20"})
    assert create(dated, us).due_at == datetime(2026, 3, 20, 23, 59, 59, tzinfo=UTC)
    # otherwise 14 days
    assert create(EXAMPLE, us).due_at == RECEIVED + timedelta(days=14)


def test_emergencies_are_flagged_and_go_first(app, make_agency):
    agency = make_agency().agency
    ordinary = create(EXAMPLE, agency)
    by_request = create(body(request_type="emergency", emergency_justification="Kidnapping in progress."),
                        agency)
    by_process = create(body(request_type="emergency", emergency_justification="Bomb threat.",
                             **{"legal_process.type": "emergency"}), agency)
    assert (ordinary.emergency, ordinary.priority) == (False, 1)
    for case in (by_request, by_process):
        assert (case.emergency, case.priority) == (True, 0)
    assert by_process.emergency_justification == "Bomb threat."
