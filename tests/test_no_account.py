"""Demands that name no account (DESIGN 11.3): a geofence, keyword or tower-dump
demand is logged like any other, at every door; the legal check blocks it
(no_identifiers) and says why; it can be challenged or rejected, and, once the
agency names the accounts or narrows the demand, amended (trigger `amend`),
which re-runs the check. Nothing can be disclosed on it, redirected or closed as
"no data found" while it names no one."""

import re

import pytest
from sqlalchemy import func, select

from models import AuditAction, AuditEvent, Case, Role, State, db
from tests.conftest import PASSWORD, PDF_BYTES, assert_error, case_body, fresh_code, sign_in
from tests.test_case_pages import act, html, intake_form, post_intake
from tests.test_cases_api import Staff

GEOFENCE = {"identifiers": [], "legal_process": {"type": "search_warrant", "case_number": "GF-2026-17",
                                                  "issuing_authority": "Superior Court", "judicial": True,
                                                  "signed": True}}


@pytest.fixture
def api_staff(new_client, make_user):
    """api_staff(Role.REVIEWER): a client signed in over the API, as in test_cases_api."""
    def sign(role: Role) -> Staff:
        user, client = make_user(role), new_client()
        resp = client.post("/api/v1/session", json={"email": user.email, "password": PASSWORD,
                                                    "totp": fresh_code(user)})
        assert resp.status_code == 200, resp.get_json()
        return Staff(client, resp.get_json()["csrf_token"], user)
    return sign


@pytest.fixture
def page_staff(new_client, make_user):
    """page_staff(Role.REVIEWER) -> (a browser client signed in, the user)."""
    def sign(role: Role):
        user, client = make_user(role), new_client()
        sign_in(client, user)
        return client, user
    return sign


def current(case_id: int) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case_id)


def defects(body: dict) -> set[str]:
    return {d["code"] for d in body["legal_check"]["defects"]}


@pytest.fixture
def no_account_case(api_staff, make_agency):
    """A geofence warrant logged through the staff API with its PDF, in legal review."""
    agency = make_agency().agency
    intake = api_staff(Role.INTAKE)
    resp = intake.post("/api/v1/cases", case_body(agency.id, **GEOFENCE))
    assert resp.status_code == 201, resp.get_json()
    case_id = resp.get_json()["id"]
    assert intake.upload(case_id, PDF_BYTES).status_code == 201
    reviewer = api_staff(Role.REVIEWER)
    assert reviewer.fire(case_id, "start_review").status_code == 200
    return case_id, reviewer


def test_intake_logs_a_demand_that_names_no_account(api_staff, make_agency):
    agency = make_agency().agency
    resp = api_staff(Role.INTAKE).post("/api/v1/cases", case_body(agency.id, **GEOFENCE))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["identifiers"] == [] and body["state"] == "received"
    no_one = [d for d in body["legal_check"]["defects"] if d["code"] == "no_identifiers"]
    assert no_one and no_one[0]["severity"] == "blocking"
    assert "nothing can be disclosed" in no_one[0]["message"] and "amend" in no_one[0]["message"]
    assert body["legal_check"]["authorised_categories"] == []
    case = current(body["id"])
    assert case.accounts_specified == 0 and case.identifiers == []


def test_an_agency_may_submit_one_too(client, make_agency):
    issued = make_agency()
    body = case_body(**GEOFENCE)
    resp = client.post("/api/v1/agency/requests", json=body,
                       headers={"Authorization": f"Bearer {issued.token}"})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["identifiers"] == []


def test_the_intake_form_logs_one_with_the_accounts_left_empty(page_staff, make_agency):
    agency = make_agency().agency
    client, _ = page_staff(Role.INTAKE)
    resp = post_intake(client, intake_form(agency.id, identifiers="\r\n"))
    assert resp.status_code == 303, html(resp)
    case = db.session.scalars(select(Case)).one()
    assert case.identifiers == [] and case.state is State.RECEIVED


@pytest.mark.parametrize("trigger, fields, reason", [
    ("propose_disclosure", {"categories": ["content"]}, "no_identifiers"),
    ("redirect", {}, "no_identifiers"),
    ("no_data_found", {}, "no_identifiers"),
])
def test_nothing_is_disclosed_redirected_or_closed_on_it(no_account_case, trigger, fields, reason):
    case_id, reviewer = no_account_case
    body = assert_error(reviewer.fire(case_id, trigger, **fields), 422, "guard_failed", [reason])
    assert "names no account" in body["message"]
    assert current(case_id).state is State.LEGAL_REVIEW


@pytest.mark.parametrize("trigger, fields, state", [
    ("challenge", {"note": "A geofence over a city block is a general warrant."}, "challenged"),
    ("reject", {"reason": "overbroad"}, "rejected"),
])
def test_it_can_be_challenged_or_rejected_as_overbroad(no_account_case, trigger, fields, state):
    case_id, reviewer = no_account_case
    resp = reviewer.fire(case_id, trigger, **fields)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == state


def test_amend_names_the_accounts_and_the_check_runs_again(no_account_case, make_customer):
    case_id, reviewer = no_account_case
    customer = make_customer(kind="enterprise", accounts=["dana@fabrikam.example"])
    resp = reviewer.fire(case_id, "amend", identifiers=["Dana@Fabrikam.example"], version=2,
                         note="The agency's amended warrant of 3 March names one account.")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["state"] == "legal_review" and body["version"] == 3
    assert body["identifiers"] == ["dana@fabrikam.example"]
    assert "no_identifiers" not in defects(body)
    assert body["legal_check"]["authorised_categories"] == ["content"]
    last = body["transitions"][-1]
    assert last["trigger"] == "amend" and last["from"] == last["to"] == "legal_review"
    assert last["data"] == {"identifiers": {"before": [], "after": ["dana@fabrikam.example"]}}
    case = current(case_id)
    assert case.accounts_specified == 1 and case.enterprise is True
    assert customer.accounts[0].identifier == "dana@fabrikam.example"
    amended = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == AuditAction.CASE_TRANSITION.value, AuditEvent.subject_id == str(case_id)))
    assert amended == 2  # start_review, amend
    # Now the review goes on as for any demand.
    proposed = reviewer.fire(case_id, "propose_disclosure", categories=["content"])
    assert proposed.status_code == 200, proposed.get_json()


def test_amend_may_narrow_the_categories(staff_api_case):
    case_id, reviewer = staff_api_case
    resp = reviewer.fire(case_id, "amend", categories=["subscriber"], note="Narrowed to subscriber data.")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["categories"] == ["subscriber"]
    assert current(case_id).content_requested is False


@pytest.fixture
def staff_api_case(api_staff, make_case):
    case = make_case("legal_review", categories=("subscriber", "content"))
    return case.id, api_staff(Role.REVIEWER)


@pytest.mark.parametrize("fields, reason", [
    ({"note": "Nothing new."}, "nothing_changed"),
    ({"categories": ["subscriber", "content"], "note": "Same again."}, "nothing_changed"),
    ({"identifiers": ["named@contoso.example"]}, "note_required"),
    ({"categories": ["subscriber", "content", "non_content"], "note": "Wider."}, "not_narrower"),
])
def test_amend_refuses_what_changes_nothing_or_widens(staff_api_case, fields, reason):
    case_id, reviewer = staff_api_case
    before = current(case_id)
    snapshot = (before.version, before.identifiers, before.categories)
    assert_error(reviewer.fire(case_id, "amend", **fields), 422, "guard_failed", [reason])
    after = current(case_id)
    assert (after.version, after.identifiers, after.categories) == snapshot


def test_amend_to_no_account_at_all_is_refused(staff_api_case):
    case_id, reviewer = staff_api_case
    assert_error(reviewer.fire(case_id, "amend", identifiers=[], note="x"), 422, "invalid_input",
                 ["identifiers"])


def test_amend_is_a_reviewers_step_in_legal_review(api_staff, make_case):
    case = make_case("legal_review")
    assert_error(api_staff(Role.INTAKE).fire(case.id, "amend", identifiers=["x@y.example"], note="n"), 403,
                 "forbidden")
    challenged = make_case("challenged")
    assert_error(api_staff(Role.REVIEWER).fire(challenged.id, "amend", identifiers=["x@y.example"],
                                               note="n"), 409, "illegal_transition")


def test_the_case_page_says_why_and_offers_the_amendment_open(page_staff, make_agency, make_case):
    case = make_case("legal_review", identifiers=())
    assert current(case.id).identifiers == []
    client, _ = page_staff(Role.REVIEWER)
    page = html(client.get(f"/cases/{case.id}"))
    assert "names no account" in page and "nothing can be disclosed" in page
    amend = re.search(r'<details class="action" open>\s*<summary id="action-amend-heading">', page)
    assert amend, "the amendment is the open action on a demand that names no one"
    assert '<details class="action">\n<summary id="action-propose_disclosure-heading">' in page
    resp = act(client, case.id, "amend", identifiers="erin@contoso.example\r\n", categories=["content"],
               note="Named by the agency on the phone, confirmed by letter.")
    assert resp.status_code == 303, html(resp)
    assert current(case.id).identifiers == ["erin@contoso.example"]
    page = html(client.get(f"/cases/{case.id}"))
    assert "Accounts named: erin@contoso.example" in page


# ---- counted in the report -------------------------------------------------------------


def test_the_report_counts_demands_received_naming_no_account(no_account_case, make_case):
    """An amendment that names accounts does not take a demand out of the count: it
    was received naming none."""
    from workflows.reports import transparency

    case_id, reviewer = no_account_case
    make_case("legal_review")  # names an account: not counted
    make_case("received", identifiers=())
    assert reviewer.fire(case_id, "amend", identifiers=["someone@contoso.example"],
                         note="Named by the agency.").status_code == 200
    db.session.expire_all()
    period = transparency.Period.of(current(case_id).received_at.date())
    report = transparency.aggregate(period, current(case_id).received_at.replace(year=2100))
    assert report["totals"]["requests"] == 3 and report["totals"]["no_identifiers"] == 2
    assert sum(c["no_identifiers"] for c in report["by_country"].values()) == 2


def test_migration_0006_backfills_what_intake_keeps(no_account_case, make_case):
    from alembic.script import ScriptDirectory
    from sqlalchemy import text, update

    from app import MIGRATIONS_DIR

    case_id, reviewer = no_account_case
    make_case("legal_review")
    make_case("received", identifiers=())
    assert reviewer.fire(case_id, "amend", identifiers=["someone@contoso.example"],
                         note="Named by the agency.").status_code == 200

    def kept() -> dict[int, bool]:
        db.session.expire_all()
        return dict(db.session.execute(select(Case.id, Case.named_no_account)).all())

    by_code = kept()
    assert sorted(by_code.values()) == [False, True, True]
    db.session.execute(update(Case.__table__).values(named_no_account=False))
    migration = ScriptDirectory(str(MIGRATIONS_DIR)).get_revision("0006").module
    dialect = migration.POSTGRES if db.engine.dialect.name == "postgresql" else migration.SQLITE
    db.session.execute(text(migration.BACKFILL.format(**dialect)))
    db.session.commit()
    assert kept() == by_code
