"""The customer's objection window (DESIGN 11.5): an intent-to-disclose notice names
the moment before which nothing is disclosed; approve is refused with
objection_window until then, except for emergencies, notices held by an NDO, and
customers who answered. The portal groups notices by demand and sends a receipt
for an objection."""

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from models import AuditAction, AuditEvent, Case, MailMessage, Notice, NoticeKind, Role, db, utcnow
from tests.conftest import api_headers, caller_for, csrf_from, relay_pass, sign_in
from workflows import legal
from workflows.cases.machine import Move, advance
from workflows.errors import InvalidInput

DAYS = legal.default_rules().objection_days


def intent_notice(case_id: int) -> Notice:
    db.session.expire_all()
    return db.session.scalar(sa.select(Notice).where(Notice.case_id == case_id,
                                                     Notice.kind == NoticeKind.INTENT_TO_DISCLOSE))


def approve(case_id: int, approver, at):
    return advance(case_id, Move("approve"), caller_for(approver, authenticated_at=at), at)


def refused_reasons(case_id: int, approver, at) -> list[str]:
    with pytest.raises(InvalidInput) as refused:
        approve(case_id, approver, at)
    return refused.value.reasons


@pytest.fixture
def customer_case(make_customer, make_case, make_user):
    """make(**case_fields) -> (case, customer user): a case awaiting approval whose
    account belongs to a customer with a portal user."""
    def make(state="pending_approval", **fields):
        customer = make_customer(kind="consumer")
        user = make_user(Role.CUSTOMER, customer=customer)
        case = make_case(state, identifiers=[customer.accounts[0].identifier], keep_window=True, **fields)
        return case, user
    return make


def test_approval_waits_for_the_window_the_notice_names(app, new_client, customer_case, case_staff):
    before = utcnow()
    case, _ = customer_case()
    notice = intent_notice(case.id)
    deadline = db.session.get(Case, case.id).objection_deadline
    assert before + timedelta(days=DAYS) <= deadline <= utcnow() + timedelta(days=DAYS)
    assert notice.content["objection_deadline"] == deadline.isoformat()

    approver = case_staff("approver2")
    assert "Approval is refused before then" in _staff_page(new_client, approver, case.id)
    assert "objection_window" in refused_reasons(case.id, approver, utcnow())
    assert db.session.get(Case, case.id).state.value == "pending_approval"
    done = approve(case.id, approver, deadline + timedelta(seconds=1))
    assert done.state.value == "disclosed"


def test_the_window_never_runs_past_the_response_deadline(app, customer_case, case_staff):
    due = (utcnow() + timedelta(days=2)).date().isoformat()
    case, _ = customer_case(legal_process={"response_due": due})
    case = db.session.get(Case, case.id)
    assert case.objection_deadline == case.due_at < utcnow() + timedelta(days=3)


def test_no_window_for_an_emergency_or_a_notice_held_by_an_ndo(app, customer_case, case_staff):
    emergency, _ = customer_case(process="emergency", request_type="emergency",
                                 emergency_justification="A child is missing and in danger.")
    ends = (utcnow() + timedelta(days=60)).date().isoformat()
    gagged, _ = customer_case(ndo={"present": True, "statute": "18 U.S.C. 2705(b)", "ends_on": ends})
    for case in (emergency, gagged):
        assert db.session.get(Case, case.id).objection_deadline is None
        assert intent_notice(case.id).released_at is None  # held: nobody was told
        assert approve(case.id, case_staff("approver2"), utcnow()).state.value == "disclosed"


def test_a_customer_who_does_not_object_ends_the_wait(app, new_client, customer_case, case_staff):
    case, user = customer_case()
    notice = intent_notice(case.id)
    client = new_client()
    sign_in(client, user)
    page = client.get(f"/portal/notices/{notice.id}").get_data(as_text=True)
    assert "We will not disclose before" in page and "I do not object" in page
    token = csrf_from(page)
    resp = client.post(f"/portal/notices/{notice.id}/no-objection", data={"csrf_token": token})
    assert resp.status_code == 303
    assert client.post(f"/portal/notices/{notice.id}/no-objection",
                       data={"csrf_token": token}).status_code == 409
    [event] = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.OBJECTION_WAIVED.value))
    assert event.actor == user.email and event.data["notice_id"] == notice.id

    staff_page = _staff_page(new_client, case_staff("approver2"), case.id)
    assert "may object until" in staff_page and "they do not object" in staff_page
    assert "Approval is refused before then" not in staff_page  # answered: the window binds no more
    assert approve(case.id, case_staff("approver2"), utcnow()).state.value == "disclosed"


def test_an_objection_gets_a_receipt_and_still_needs_acknowledging(app, new_client, customer_case, case_staff,
                                                                   mailbox):
    case, user = customer_case()
    notice = intent_notice(case.id)
    client = new_client()
    sign_in(client, user)
    token = csrf_from(client.get(f"/portal/notices/{notice.id}").get_data(as_text=True))
    resp = client.post(f"/portal/notices/{notice.id}/objection",
                       data={"csrf_token": token, "statement": "The account is a former employee's."})
    assert resp.status_code == 303
    relay_pass()
    [receipt] = [m for m in mailbox.handler.messages() if "We received your objection" in m.subject]
    assert user.email in receipt.rcpt_tos and case.reference in receipt.subject
    assert "The account is a former employee's." in receipt.text
    assert db.session.scalar(sa.select(MailMessage.kind).where(MailMessage.id.is_not(None))
                             .order_by(MailMessage.id.desc()).limit(1)).value == "objection_receipt"
    # Answered: the window no longer holds approval back, the objection does.
    reasons = refused_reasons(case.id, case_staff("approver2"), utcnow())
    assert "objection_window" not in reasons and "objection_unacknowledged" in reasons


def test_a_notice_released_later_opens_its_window_then(app, customer_case, case_staff):
    from workflows import notices
    from workflows.audit import Actor

    case, _ = customer_case(ndo={"present": True, "statute": "18 U.S.C. 2705(b)", "ends_on": None})
    assert db.session.get(Case, case.id).objection_deadline is None
    reviewer = case_staff("reviewer")
    later = utcnow() + timedelta(hours=2)
    notices.release(intent_notice(case.id).id, Role.REVIEWER, Actor(reviewer.email, reviewer.id),
                    "The court lifted the order.", later)
    db.session.expire_all()
    deadline = db.session.get(Case, case.id).objection_deadline
    assert deadline == later + timedelta(days=DAYS)
    assert intent_notice(case.id).content["objection_deadline"] == deadline.isoformat()
    assert "objection_window" in refused_reasons(case.id, case_staff("approver2"), later)


def test_the_api_names_the_deadline(app, new_client, customer_case, make_user):
    case, _ = customer_case()
    client = new_client()
    api_headers(client, make_user(Role.AUDITOR))
    body = client.get(f"/api/v1/cases/{case.id}").get_json()
    named = datetime.fromisoformat(body["objection_deadline"].replace("Z", "+00:00"))
    assert named == db.session.get(Case, case.id).objection_deadline


def test_the_portal_groups_notices_by_demand(app, new_client, customer_case, case_staff):
    open_case, user = customer_case()
    client = new_client()
    sign_in(client, user)
    page = client.get("/portal/").get_data(as_text=True)
    assert "We intend to disclose: you may object until" in page
    approve(open_case.id, case_staff("approver2"), utcnow() + timedelta(days=DAYS + 1))
    page = client.get("/portal/").get_data(as_text=True)
    assert page.count(f"<h3>{open_case.reference}") == 1  # one demand, two notices
    assert page.count('href="/portal/notices/') == 2 and "<strong>Disclosed</strong>" in page


def _staff_page(new_client, user, case_id: int) -> str:
    client = new_client()
    sign_in(client, user)
    return client.get(f"/cases/{case_id}").get_data(as_text=True)
