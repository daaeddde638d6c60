"""The demo's cases: about two hundred, in every state, from every demo agency,
under every process type, each lawful where it reached a proposal or a disclosure.

Seeding takes seconds: the harness seeds the demo once per run and engine, and
each test marked seeded_demo starts from a copy of it."""

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from demo import cases as demo_cases
from demo import seed as demo
from demo.documents import minimal_pdf
from models import (
    Account,
    Agency,
    AuditEvent,
    Case,
    Customer,
    CustomerKind,
    Disclosure,
    ProcessType,
    RejectReason,
    State,
    db,
)
from workflows import audit, legal
from workflows.cases.intake import facts_of
from workflows.disclosure import documents

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def seeded_cases() -> list[Case]:
    return list(db.session.scalars(sa.select(Case).order_by(Case.id)))


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def matched_kinds(identifiers: list[str]) -> list[CustomerKind]:
    """The kind of customer behind each identifier that names an account."""
    return list(db.session.scalars(
        sa.select(Customer.kind).join(Account).where(Account.identifier.in_(identifiers))))


@pytest.mark.seeded_demo(at=NOW)
def test_demo_seeds_about_two_hundred_lawful_cases_once(app):
    cases = seeded_cases()
    assert len(cases) == demo_cases.TOTAL
    events = count(AuditEvent)

    # Seeding again adds nothing, not even an audit event.
    demo.seed(NOW + timedelta(days=1))
    db.session.commit()
    assert count(Case) == demo_cases.TOTAL and count(AuditEvent) == events

    # Every state, process type and agency country; emergencies; NDOs with and without an end.
    assert {c.state for c in cases} == set(State)
    assert {c.process_type for c in cases} == set(ProcessType)
    assert {c.agency.country for c in cases} == set(db.session.scalars(sa.select(Agency.country)))
    assert any(c.emergency and c.priority == 0 for c in cases)
    assert any(c.ndo_present and c.ndo_ends_on for c in cases)
    assert any(c.ndo_present and c.ndo_ends_on is None for c in cases)

    # Received over the previous half-year and this one so far.
    first, last = demo_cases.received_range(NOW)
    assert (first, last) == (date(2026, 1, 1), NOW.date())
    received = [c.received_at for c in cases]
    assert first <= min(received).date() and max(received) < NOW
    assert min(received) < datetime(2026, 7, 1, tzinfo=UTC) <= max(received)

    for case in cases:
        check = legal.check(facts_of(case), case.received_at)
        authorised = {c.value for c in check.authorised_categories}
        if case.state is State.PENDING_APPROVAL:
            assert case.proposed_categories and set(case.proposed_categories) <= authorised, case.reference
        if case.state is State.DISCLOSED:
            approved = set(case.disclosure.categories)
            assert approved and approved <= authorised, case.reference
            assert case.disclosure.approved_by_id != case.disclosure.proposed_by_id
        kinds = matched_kinds(case.identifiers)
        if case.state is State.NO_DATA:
            assert kinds == [], case.reference
        if case.state in (State.REDIRECTED, State.RESOLVED_BY_CUSTOMER):
            assert not case.emergency
            assert kinds == [CustomerKind.ENTERPRISE] * len(case.identifiers), case.reference
        # Its log tells the story from `received` on, in time order, after the demand arrived.
        steps = case.transitions
        assert [t.seq for t in steps] == list(range(2, 2 + len(steps)))
        assert [t.to_state for t in steps[-1:]] == ([case.state] if steps else [])
        times = [case.received_at] + [t.at for t in steps]
        assert times == sorted(times) and times[-1] < NOW
    assert count(Disclosure) == sum(c.state is State.DISCLOSED for c in cases)

    # Most carry their process as a PDF; emergencies need none.
    with_document = [c for c in cases if c.documents]
    assert len(with_document) > len(cases) * 0.7
    assert not any(c.documents for c in cases if c.process_type is ProcessType.EMERGENCY)
    stored = documents.folder_for(app.instance_path) / with_document[0].document.stored_name
    assert stored.read_bytes().startswith(b"%PDF-1.4")

    # The same `now` plans the same cases, and what was planned is what was logged.
    def told(plans) -> list[tuple]:
        # A preservation that a production demand followed was released when that demand was answered.
        followed = {id(p.follows) for p in plans if p.follows is not None}
        return [(p.received_at, p.body["identifiers"], "release" if id(p) in followed
                 else p.steps[-1].trigger.value if p.steps else None) for p in plans]

    planned = told(demo_cases.plan_cases(NOW))
    assert planned == told(demo_cases.plan_cases(NOW))
    assert planned == [(c.received_at, c.identifiers, c.transitions[-1].trigger if c.transitions else None)
                       for c in cases]

    assert audit.verify().intact


def test_demo_pdf_is_a_pdf_a_reader_can_walk():
    pdf = minimal_pdf(["Demo legal process", "Case (2:26-mj-00123) \\ sealed"])
    assert pdf.startswith(b"%PDF-1.4\n") and pdf.endswith(b"%%EOF\n")
    assert b"(Demo legal process) Tj" in pdf
    assert b"(Case \\(2:26-mj-00123\\) \\\\ sealed) Tj" in pdf
    # startxref names the cross-reference table, whose entries point at each object.
    xref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert pdf[xref:].startswith(b"xref\n0 6\n")
    entries = pdf[xref:].split(b"\n")[3:8]
    assert all(len(e) == 19 and e.endswith(b" 00000 n ") for e in entries)
    assert [pdf[int(e[:10]):].split(b"\n", 1)[0] for e in entries] == [
        f"{n} 0 obj".encode() for n in range(1, 6)]
    # The stream's /Length is its exact size.
    rest = pdf.split(b"<< /Length ", 1)[1]
    length = int(rest.split(b" ", 1)[0])
    stream = rest.split(b"stream\n", 1)[1]
    assert stream[length:].startswith(b"\nendstream")


@pytest.mark.seeded_demo(at=NOW)
def test_the_demo_holds_two_demands_that_name_no_account(app):
    """A geofence warrant awaiting the agency's answer, and one rejected as overbroad."""
    unnamed = [c for c in seeded_cases() if not c.identifiers]
    assert sorted(c.state.value for c in unnamed) == ["legal_review", "rejected"]
    assert all(c.process_type is ProcessType.SEARCH_WARRANT and c.accounts_specified == 0 for c in unnamed)
    rejected = next(c for c in unnamed if c.state is State.REJECTED)
    assert rejected.reject_reason is RejectReason.OVERBROAD


@pytest.mark.seeded_demo(at=NOW)
def test_the_demo_holds_orders_whose_enforcing_authority_was_notified(app):
    """One waiting out its 10 days, one cleared early and answered, one refused."""
    from workflows.cases import enforcing_window_ends

    notified = [c for c in seeded_cases() if c.enforcing_notified]
    assert sorted(c.state.value for c in notified) == ["disclosed", "pending_approval", "rejected"]
    by_state = {c.state: c for c in notified}
    waiting = by_state[State.PENDING_APPROVAL]
    assert enforcing_window_ends(waiting) > NOW and waiting.enforcing_cleared_at is None
    assert by_state[State.DISCLOSED].enforcing_cleared_at is not None
    assert by_state[State.REJECTED].reject_reason is RejectReason.REFUSED_BY_ENFORCING_AUTHORITY


@pytest.mark.seeded_demo(at=NOW)
def test_every_answered_demo_emergency_was_confirmed_by_a_call_back_and_one_was_forged(app):
    from models import CallbackOutcome

    emergencies = [c for c in seeded_cases() if c.emergency]
    answered = [c for c in emergencies if c.proposed_categories or c.disclosure]
    assert answered and all(c.verification.outcome is CallbackOutcome.CONFIRMED for c in answered)
    assert all(c.verification.phone_called == c.agency.phone for c in answered)
    [forged] = [c for c in emergencies if c.verification and c.verification.outcome is CallbackOutcome.FAILED]
    assert (forged.state, forged.reject_reason) == (State.REJECTED, RejectReason.VERIFICATION_FAILED)


@pytest.mark.seeded_demo(at=NOW)
def test_the_demo_has_officers_at_every_agency_one_pending_and_one_suspended(app):
    from models import Role, User
    from workflows.identity import officer_status

    officers = list(db.session.scalars(sa.select(User).where(User.role == Role.OFFICER)))
    agencies = set(db.session.scalars(sa.select(Agency.id)))
    assert {o.agency_id for o in officers} == agencies
    statuses = [officer_status(o) for o in officers]
    assert statuses.count("suspended") == 1 and statuses.count("pending") >= 1
    assert all(o.officer_verification["phone"] == o.agency.phone for o in officers if o.officer_verified_at)


@pytest.mark.seeded_demo(at=NOW)
def test_the_demo_has_messages_with_agencies_one_waiting_for_the_signed_in_officer(app):
    from demo.people import OFFICERS
    from models import CaseMessage, MessageSide, User
    from workflows import cases

    messages = list(db.session.scalars(sa.select(CaseMessage).order_by(CaseMessage.id)))
    assert {m.side for m in messages} == {MessageSide.PROVIDER, MessageSide.AGENCY}
    unnamed = next(c for c in seeded_cases() if not c.identifiers and c.is_open)
    assert cases.waiting_on_agency(unnamed) is not None  # asked to name the accounts
    first = next(email for _, email, _, status in OFFICERS if status == "verified")
    officer = db.session.scalar(sa.select(User).where(User.email == first))
    theirs = [c.id for c in seeded_cases() if c.agency_id == officer.agency_id]
    assert len(cases.unanswered(theirs)) == 1  # one question waits; the other was answered
    answered = [m for m in messages if m.side is MessageSide.AGENCY]
    assert [m.author for m in answered] == [officer.email]
