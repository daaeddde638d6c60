"""A European Production Order and its enforcing State (DESIGN 11.3, Reg. (EU)
2023/1543): when the enforcing authority was notified of an order for traffic or
content data, nothing of that data goes out for 10 days from receipt (Art. 10(2))
unless the authority clears it sooner; a ground for refusal it raises ends the case
rejected. Walked through advance() as the views call it, on both engines, then
through the API and the case page."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import AuditAction, AuditEvent, Case, CaseTransition, RejectReason, Role, State, db, utcnow
from tests.conftest import assert_error, caller_for, case_body, sign_in, window_ran
from workflows.cases.machine import Move, advance, available_triggers
from workflows.errors import InvalidInput
from workflows.text import iso_utc

URL = "/api/v1/agency/requests"
NOTIFIED = {"enforcing_state": "IE", "enforcing_authority_notified": True}
ANSWERS = {"enforcing_cleared", "enforcing_refused"}


@pytest.fixture
def order(make_case):
    """order(state, categories=..., notified=True, **make_case arguments): an EPOC from
    a German authority whose enforcing State is Ireland."""

    def make(state="pending_approval", categories=("subscriber", "content"), notified=True, **kwargs):
        process = {"judicial": True, "issuing_authority": "Amtsgericht Berlin-Tiergarten",
                   **(NOTIFIED if notified else {}), **kwargs.pop("legal_process", {})}
        return make_case(state, process="epoc", country="DE", categories=categories, legal_process=process,
                         **kwargs)

    return make


def fire(case_id, trigger, who, now=None, **fields):
    now = now or utcnow()
    return advance(case_id, Move(trigger, **fields), caller_for(who, authenticated_at=now), now)


def refusal(case_id, trigger, who, now=None, **fields) -> InvalidInput:
    """Fire a move the guards must refuse, and check nothing was written."""
    db.session.expire_all()
    before = db.session.get(Case, case_id)
    state, version = before.state, before.version
    with pytest.raises(InvalidInput) as caught:
        fire(case_id, trigger, who, now, **fields)
    db.session.rollback()
    db.session.expire_all()
    after = db.session.get(Case, case_id)
    assert (after.state, after.version) == (state, version)
    return caught.value


# ---- the window ---------------------------------------------------------------------------------

def test_approval_of_content_waits_ten_days_from_receipt(app, order, case_staff):
    case = order()
    approver = case_staff("approver2")
    exc = refusal(case.id, "approve", approver)
    assert exc.reasons == ["enforcing_authority_window"]
    assert "(IE)" in exc.message and "Art. 10(2)" in exc.message

    ends = case.received_at + timedelta(days=10)
    assert refusal(case.id, "approve", approver, now=ends - timedelta(seconds=1)).reasons == [
        "enforcing_authority_window"]
    done = fire(case.id, "approve", approver, now=ends)
    assert done.state is State.DISCLOSED


def test_data_that_only_identifies_the_user_need_not_wait(app, order, case_staff):
    """Art. 8(1): no notification, and so no wait, for subscriber data alone."""
    case = order()
    done = fire(case.id, "approve", case_staff("approver2"), categories=["subscriber"])
    assert (done.state, done.disclosure.categories) == (State.DISCLOSED, ["subscriber"])


@pytest.mark.parametrize("legal_process", [{}, {"enforcing_state": "IE"}], ids=["no-state", "not-notified"])
def test_an_order_nobody_was_notified_of_does_not_wait(app, order, case_staff, legal_process):
    case = order(notified=False, legal_process=legal_process)
    assert ANSWERS.isdisjoint(available_triggers(case, Role.REVIEWER, case_staff("reviewer").id))
    assert fire(case.id, "approve", case_staff("approver2")).state is State.DISCLOSED


def test_an_emergency_order_is_answered_without_waiting(app, order, case_staff):
    """Art. 10(4): 8 hours for an emergency order, whatever the notified authority does."""
    case = order(request_type="emergency",
                 emergency_justification="A kidnapped child; the account holder is the suspect.")
    assert case.emergency
    assert fire(case.id, "approve", case_staff("approver2")).state is State.DISCLOSED


# ---- the authority's answer --------------------------------------------------------------------

def test_a_clearance_lifts_the_wait_and_stays_in_the_state(app, order, case_staff):
    case = order()
    version = case.version
    reviewer = case_staff("reviewer")
    assert set(available_triggers(case, Role.REVIEWER, reviewer.id)) >= ANSWERS
    cleared = fire(case.id, "enforcing_cleared", reviewer,
                   note="The Irish authority wrote on 3 December: no ground for refusal.")
    assert cleared.state is State.PENDING_APPROVAL and cleared.version == version + 1
    assert cleared.enforcing_cleared_at is not None
    last = cleared.transitions[-1]
    assert (last.trigger, last.from_state, last.to_state, last.data) == (
        "enforcing_cleared", State.PENDING_APPROVAL, State.PENDING_APPROVAL, {"enforcing_state": "IE"})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.subject_type == "case", AuditEvent.subject_id == str(case.id),
        AuditEvent.action == AuditAction.CASE_TRANSITION)) == len(
        cleared.transitions)
    assert ANSWERS.isdisjoint(available_triggers(cleared, Role.REVIEWER, reviewer.id))

    assert refusal(case.id, "enforcing_cleared", reviewer, note="Again.").reasons == ["already_cleared"]
    assert fire(case.id, "approve", case_staff("approver2")).state is State.DISCLOSED


def test_a_clearance_in_legal_review_carries_into_the_approval(app, order, case_staff):
    case = order("legal_review")
    fire(case.id, "enforcing_cleared", case_staff("reviewer"), note="Cleared by e-mail today.")
    fire(case.id, "propose_disclosure", case_staff("reviewer"), categories=["subscriber", "content"])
    window_ran(case.id)
    assert fire(case.id, "approve", case_staff("approver2")).state is State.DISCLOSED


def test_a_refusal_ends_the_case_rejected(app, order, case_staff):
    case = order()
    refused = fire(case.id, "enforcing_refused", case_staff("reviewer"),
                   note="Art. 12(1)(a): immunity of the person concerned, raised on day 6.")
    assert (refused.state, refused.reject_reason, refused.is_open) == (
        State.REJECTED, RejectReason.REFUSED_BY_ENFORCING_AUTHORITY, False)
    assert refused.disclosure is None
    assert refused.transitions[-1].data == {"enforcing_state": "IE",
                                            "reason": "refused_by_enforcing_authority"}


@pytest.mark.parametrize("trigger", sorted(ANSWERS))
def test_an_answer_needs_a_note_and_a_notified_authority(app, order, case_staff, trigger):
    reviewer = case_staff("reviewer")
    assert "note_required" in refusal(order().id, trigger, reviewer).reasons
    unnotified = order(notified=False)
    assert refusal(unnotified.id, trigger, reviewer, note="An answer.").reasons == ["not_needed"]
    subscriber_only = order(categories=("subscriber",))
    assert refusal(subscriber_only.id, trigger, reviewer, note="An answer.").reasons == ["not_needed"]


def test_the_refusal_reason_is_not_chosen_by_hand(app, order, case_staff):
    exc = refusal(order("legal_review").id, "reject", case_staff("reviewer"),
                  reason="refused_by_enforcing_authority")
    assert exc.reasons == ["use_enforcing_refused"]


def test_the_answers_are_not_offered_after_the_case_closed(app, order, case_staff):
    case = order()
    approver = case_staff("approver2")
    done = fire(case.id, "approve", approver, now=case.received_at + timedelta(days=10))
    assert ANSWERS.isdisjoint(available_triggers(done, Role.APPROVER, approver.id))


# ---- intake --------------------------------------------------------------------------------------

def epoc_body(**process) -> dict:
    return case_body(categories=["content"], legal_process={
        "type": "epoc", "issuing_authority": "Amtsgericht Berlin-Tiergarten", **process})


@pytest.mark.parametrize(("process", "words"), [
    ({"type": "search_warrant", "enforcing_state": "IE"}, "Only a European Production Order"),
    ({"type": "search_warrant", "enforcing_authority_notified": True}, "Only a European Production Order"),
    ({"enforcing_authority_notified": True}, "Name the enforcing State"),
    ({"enforcing_state": "DK"}, "not a State bound by Regulation (EU) 2023/1543"),
    ({"enforcing_state": "US", "enforcing_authority_notified": True}, "not a State bound"),
    ({"enforcing_state": "ie"}, ""),
    ({"enforcing_authority_notified": "yes"}, ""),
], ids=["state-on-warrant", "notified-on-warrant", "notified-no-state", "denmark", "us", "lower", "not-bool"])
def test_intake_refuses_an_enforcing_state_that_does_not_fit(app, client, make_agency, process, words):
    issued = make_agency(country="DE")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Case))
    body = epoc_body(**process)
    sent = client.post(URL, json=body, headers={"Authorization": f"Bearer {issued.token}"})
    key = "enforcing_authority_notified" if "enforcing_authority_notified" in process and not words else \
        "enforcing_state"
    refused = assert_error(sent, 422, "invalid_input")
    field = f"legal_process.{key}"
    assert field in refused["fields"], refused
    assert words in refused["fields"][field]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == before


def test_the_agency_sends_an_order_and_staff_see_the_window(app, client, make_agency, new_client, make_user):
    issued = make_agency(country="DE")
    sent = client.post(URL, json=epoc_body(**NOTIFIED), headers={"Authorization": f"Bearer {issued.token}"})
    assert sent.status_code == 201, sent.get_json()
    body = sent.get_json()

    reviewer = make_user(Role.REVIEWER)
    staff = new_client()
    sign_in(staff, reviewer)
    seen = staff.get(f"/api/v1/cases/{body['id']}").get_json()
    assert (seen["legal_process"]["enforcing_state"], seen["legal_process"]["enforcing_authority_notified"]) \
        == ("IE", True)
    assert ANSWERS.isdisjoint(seen["available_triggers"])  # answered once the case is in review
    case = db.session.get(Case, body["id"])
    assert seen["enforcing"] == {
        "state": "IE", "cleared_at": None,
        "window_ends": iso_utc(case.received_at + timedelta(days=10))}


# ---- the case page -------------------------------------------------------------------------------

def test_the_case_page_shows_the_wait_and_records_the_answer(app, new_client, make_user, order):
    from tests.test_case_pages import act, html, triggers_on

    case = order("legal_review")
    reviewer = make_user(Role.REVIEWER)
    client = new_client()
    sign_in(client, reviewer)
    page = html(client.get(f"/cases/{case.id}"))
    assert triggers_on(page) >= ANSWERS
    assert "Enforcing authority (IE)" in page and "Non-content records and stored content wait until" in page
    assert "IE, its authority notified" in page
    assert "Refused by the enforcing authority" not in page  # not a reason to pick by hand

    refused = act(client, case.id, "enforcing_cleared", note="")
    assert refused.status_code == 422 and "How and when the enforcing authority said so" in html(refused)
    done = act(client, case.id, "enforcing_cleared", note="Cleared by the Irish authority by letter.")
    assert done.status_code == 303
    page = html(client.get(f"/cases/{case.id}"))
    assert "Cleared on" in page and ANSWERS.isdisjoint(triggers_on(page))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseTransition).where(
        CaseTransition.case_id == case.id, CaseTransition.trigger == "enforcing_cleared")) == 1
