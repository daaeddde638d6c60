"""Call-backs on emergency requests (DESIGN 11.4): nothing is proposed or approved
on an emergency before a call-back to the agency's directory number confirms it;
one that fails leaves only rejection and is counted in the report. Through the
workflow, the API, the case page and the CLI, on both engines."""

import pytest
import sqlalchemy as sa

from models import (
    Agency,
    AuditAction,
    AuditEvent,
    CallbackOutcome,
    Case,
    CaseVerification,
    RejectReason,
    Role,
    State,
    db,
    utcnow,
)
from tests.conftest import assert_error, caller_for, confirm_by_callback, pairs, sign_in
from workflows.cases import Callback, record_callback
from workflows.cases.machine import Move, advance, available_triggers
from workflows.errors import Conflict, InvalidInput

JUSTIFICATION = "A child is missing and the abductor writes from this account."
FORGED_NOTE = "The duty desk has no record of the request; the sender's address is not theirs."


@pytest.fixture
def emergency(make_case):
    """emergency(state="legal_review", ...): an emergency request from an agency whose
    directory number is on file."""

    def make(state="legal_review", **kwargs):
        return make_case(state, process="emergency", request_type="emergency", document=False,
                         categories=("subscriber", "non_content"), emergency_justification=JUSTIFICATION,
                         **kwargs)

    return make


def fire(case_id, trigger, who, **fields):
    return advance(case_id, Move(trigger, **fields), caller_for(who), utcnow())


def refused(case_id, trigger, who, **fields) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        fire(case_id, trigger, who, **fields)
    db.session.rollback()
    return caught.value.reasons


def callback(case_id, who, phone, outcome="confirmed", note=None, spoke_with="Sergeant Ames"):
    return record_callback(case_id, Callback(phone_called=phone, spoke_with=spoke_with, outcome=outcome,
                                             note=note), caller_for(who), utcnow())


def events(action: AuditAction, case_id: int) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == action.value, AuditEvent.subject_id == str(case_id))))


# ---- the rule ------------------------------------------------------------------------------------

def test_nothing_is_proposed_before_a_call_back_confirms_the_emergency(app, emergency, case_staff):
    case = emergency()
    reviewer = case_staff("reviewer")
    assert "propose_disclosure" not in available_triggers(case, Role.REVIEWER, reviewer.id)
    reasons = refused(case.id, "propose_disclosure", reviewer, categories=["subscriber"])
    assert reasons == ["emergency_unverified"]

    phone = case.agency.phone
    recorded = callback(case.id, reviewer, phone.replace("+1", "+1 (").replace("555", "555) "))
    assert (recorded.outcome, recorded.phone_called, recorded.actor) == (
        CallbackOutcome.CONFIRMED, phone, reviewer.email)
    [event] = events(AuditAction.CASE_VERIFIED, case.id)
    assert event.data["outcome"] == "confirmed" and event.data["phone_called"] == phone

    fire(case.id, "propose_disclosure", reviewer, categories=["subscriber", "non_content"])
    done = fire(case.id, "approve", case_staff("approver2"))
    assert done.state is State.DISCLOSED


def test_an_emergency_cannot_reach_disclosed_without_a_confirmed_call_back(app, emergency, case_staff):
    """Even a proposal made before the rule (or slipped in) is not approved: approve checks too."""
    case = emergency()
    reviewer, approver = case_staff("reviewer"), case_staff("approver2")
    confirm_by_callback(case.id, reviewer)
    fire(case.id, "propose_disclosure", reviewer, categories=["subscriber"])
    db.session.execute(sa.delete(CaseVerification).where(CaseVerification.case_id == case.id))
    db.session.commit()
    db.session.expire_all()
    assert refused(case.id, "approve", approver) == ["emergency_unverified"]
    assert db.session.get(Case, case.id).state is State.PENDING_APPROVAL


def test_a_failed_call_back_leaves_only_rejection(app, emergency, case_staff):
    case = emergency()
    reviewer = case_staff("reviewer")
    confirm_by_callback(case.id, reviewer, outcome="failed", note=FORGED_NOTE)
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert available_triggers(case, Role.REVIEWER, reviewer.id) == ["reject"]
    for trigger, fields in (("propose_disclosure", {"categories": ["subscriber"]}), ("no_data_found", {}),
                            ("withdraw", {"note": "Withdrawn."}), ("challenge", {"note": "Grounds."})):
        assert refused(case.id, trigger, reviewer, **fields) == ["verification_failed"], trigger
    assert refused(case.id, "reject", reviewer, reason="overbroad") == ["use_verification_failed"]
    done = fire(case.id, "reject", reviewer, reason="verification_failed")
    assert (done.state, done.reject_reason) == (State.REJECTED, RejectReason.VERIFICATION_FAILED)


def test_a_failed_call_back_while_awaiting_approval_is_sent_back_then_rejected(app, emergency, case_staff):
    case = emergency()
    reviewer, approver = case_staff("reviewer"), case_staff("approver2")
    confirm_by_callback(case.id, reviewer)
    fire(case.id, "propose_disclosure", reviewer, categories=["subscriber"])
    db.session.execute(sa.update(CaseVerification).where(CaseVerification.case_id == case.id)
                       .values(outcome=CallbackOutcome.FAILED, note=FORGED_NOTE))
    db.session.commit()
    db.session.expire_all()
    assert available_triggers(db.session.get(Case, case.id), Role.APPROVER, approver.id) == ["send_back"]
    assert refused(case.id, "approve", approver) == ["verification_failed"]
    fire(case.id, "send_back", approver, note="The call-back did not confirm it.")
    assert fire(case.id, "reject", reviewer, reason="verification_failed").state is State.REJECTED


def test_verification_failed_is_a_reason_only_after_a_failed_call_back(app, emergency, make_case, case_staff):
    reviewer = case_staff("reviewer")
    for case in (emergency(), make_case("legal_review")):
        assert refused(case.id, "reject", reviewer, reason="verification_failed") == ["no_failed_callback"]


# ---- what a call-back must be --------------------------------------------------------------------

def test_only_the_directory_number_counts_and_a_wrong_one_is_audited(app, emergency, case_staff):
    case = emergency()
    reviewer = case_staff("reviewer")
    with pytest.raises(InvalidInput) as caught:
        callback(case.id, reviewer, "+1 206 555 0199")
    assert caught.value.reasons == ["not_directory_number"]
    assert case.agency.phone in caught.value.fields["phone_called"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseVerification)) == 0
    [event] = events(AuditAction.CASE_VERIFICATION_REFUSED, case.id)
    assert event.data["reasons"] == ["not_directory_number"]
    assert event.data["phone_called"] == "+1 206 555 0199"


def test_an_agency_without_a_directory_number_cannot_be_called_back(app, emergency, make_agency, case_staff):
    agency = make_agency()
    agency.agency.phone = None
    db.session.commit()
    case = emergency(agency=agency.agency)
    with pytest.raises(InvalidInput) as caught:
        callback(case.id, case_staff("reviewer"), "+1 202 555 0100")
    assert caught.value.reasons == ["no_directory_number"] and "agencies set-phone" in caught.value.message


def test_a_failed_call_back_needs_a_note(app, emergency, case_staff):
    case = emergency()
    with pytest.raises(InvalidInput) as caught:
        callback(case.id, case_staff("reviewer"), case.agency.phone, outcome="failed")
    assert caught.value.reasons == ["note_required"]


def test_one_call_back_per_case_and_only_on_an_open_emergency(app, emergency, make_case, case_staff):
    reviewer = case_staff("reviewer")
    case = emergency()
    confirm_by_callback(case.id, reviewer)
    with pytest.raises(Conflict) as again:
        callback(case.id, case_staff("approver2"), case.agency.phone, outcome="failed", note=FORGED_NOTE)
    assert again.value.code == "already_verified"
    assert db.session.get(Case, case.id).verification.outcome is CallbackOutcome.CONFIRMED

    ordinary = make_case("legal_review")
    with pytest.raises(Conflict) as plain:
        callback(ordinary.id, reviewer, ordinary.agency.phone)
    assert plain.value.code == "not_emergency"

    waiting = emergency("received")
    with pytest.raises(Conflict) as early:
        callback(waiting.id, reviewer, waiting.agency.phone)
    assert early.value.code == "illegal_transition"


def test_the_database_holds_one_call_back_per_case(app, emergency, case_staff):
    case = emergency()
    confirm_by_callback(case.id, case_staff("reviewer"))
    db.session.add(CaseVerification(case_id=case.id, method="callback", phone_called=case.agency.phone,
                                    spoke_with="Someone", outcome=CallbackOutcome.FAILED, actor="x",
                                    at=utcnow()))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize("role", [Role.INTAKE, Role.AUDITOR, Role.ADMIN])
def test_only_reviewers_and_approvers_record_a_call_back(app, emergency, make_user, role):
    from workflows.errors import NotAllowed

    case = emergency()
    with pytest.raises(NotAllowed):
        callback(case.id, make_user(role), case.agency.phone)


# ---- the API -------------------------------------------------------------------------------------

def test_the_api_records_a_call_back_and_shows_it_on_the_case(app, new_client, make_user, emergency):
    case = emergency()
    reviewer = make_user(Role.REVIEWER)
    client = new_client()
    signed = client.post("/api/v1/session", json=session_body(reviewer)).get_json()
    headers = {"X-CSRFToken": signed["csrf_token"]}
    url = f"/api/v1/cases/{case.id}/verifications"

    wrong = client.post(url, json={"method": "callback", "phone_called": "+1 206 555 0199",
                                   "spoke_with": "Sgt Ames", "outcome": "confirmed"}, headers=headers)
    assert_error(wrong, 422, "guard_failed", ["not_directory_number"])
    malformed = client.post(url, json={"phone_called": "call me", "spoke_with": "", "outcome": "maybe",
                                       "state": "disclosed"}, headers=headers)
    body = assert_error(malformed, 422, "invalid_input")
    assert {"phone_called", "spoke_with", "outcome", "state"} <= set(body["fields"])

    done = client.post(url, json={"method": "callback", "phone_called": case.agency.phone,
                                  "spoke_with": "Sgt Ames", "outcome": "confirmed"}, headers=headers)
    assert done.status_code == 201, done.get_json()
    [verification] = done.get_json()["verifications"]
    assert (verification["outcome"], verification["phone_called"], verification["recorded_by"]) == (
        "confirmed", case.agency.phone, reviewer.email)
    assert "propose_disclosure" in done.get_json()["available_triggers"]

    again = client.post(url, json={"phone_called": case.agency.phone, "spoke_with": "Sgt Ames",
                                   "outcome": "confirmed"}, headers=headers)
    assert_error(again, 409, "already_verified")


def session_body(user) -> dict:
    from tests.conftest import PASSWORD, fresh_code

    return {"email": user.email, "password": PASSWORD, "totp": fresh_code(user)}


def test_an_agency_cannot_record_its_own_call_back(app, client, make_agency, emergency):
    issued = make_agency()
    case = emergency(agency=issued.agency)
    resp = client.post(f"/api/v1/cases/{case.id}/verifications", json={
        "phone_called": issued.agency.phone, "spoke_with": "Me", "outcome": "confirmed"},
        headers={"Authorization": f"Bearer {issued.token}"})
    assert resp.status_code in (401, 403)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseVerification)) == 0


# ---- the case page -------------------------------------------------------------------------------

def test_the_case_page_puts_the_call_back_first_and_records_it(app, new_client, make_user, emergency):
    from tests.conftest import csrf_from
    from tests.test_case_pages import html, triggers_on

    case = emergency()
    reviewer = make_user(Role.REVIEWER)
    client = new_client()
    sign_in(client, reviewer)
    page = html(client.get(f"/cases/{case.id}"))
    main = page[page.index('class="case-main"'):]
    assert main.index("emergency-heading") < main.index("legal-heading")  # first thing the reviewer sees
    assert "call the agency back first" in page and case.agency.phone in page and "Call-back needed" in page

    url = f"/cases/{case.id}/callback"
    wrong = client.post(url, data={"csrf_token": csrf_from(page), "phone_called": "+1 206 555 0199",
                                   "spoke_with": "Sgt Ames", "outcome": "confirmed"})
    assert wrong.status_code == 422
    assert "Not the agency&#39;s directory number" in html(wrong) and 'value="Sgt Ames"' in html(wrong)

    done = client.post(url, data={"csrf_token": csrf_from(page), "phone_called": case.agency.phone,
                                  "spoke_with": "Sgt Ames", "outcome": "failed", "note": FORGED_NOTE})
    assert done.status_code == 303
    page = html(client.get(f"/cases/{case.id}"))
    assert "Call-back failed" in page and "treat the request as forged" in page
    assert triggers_on(page) == {"reject"}
    assert '<option value="verification_failed" selected>' in page
    assert "Call-back failed" in page[page.index("History"):]


# ---- the directory number ------------------------------------------------------------------------

def test_the_cli_records_an_agencys_directory_number(app, cli, make_agency):
    made = pairs(cli("agencies", "create", "Garda Siochana", "--country", "IE", "--phone",
                     "+353 1 666 0000").stdout)
    agency = db.session.get(Agency, int(made["agency_id"]))
    assert agency.phone == "+35316660000"

    result = cli("agencies", "set-phone", made["agency_id"], "+353 1 666 2222")
    assert result.exit_code == 0 and pairs(result.stdout)["phone"] == "+35316662222"
    event = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.AGENCY_PHONE_SET.value)).one()
    assert event.data == {"phone": "+35316662222", "before": "+35316660000"}

    for bad in ("01 666 0000", "+1 23", "+1 202 555 0100 ext 4"):
        refused = cli("agencies", "set-phone", made["agency_id"], bad)
        assert refused.exit_code != 0 and "international form" in refused.stderr
    assert cli("agencies", "set-phone", "99999", "+353 1 666 0000").exit_code != 0
    db.session.expire_all()
    assert db.session.get(Agency, agency.id).phone == "+35316662222"
