"""The legal check on stored cases: each defect code a logged demand can carry comes
back from the database (SQLite and PostgreSQL) and out of the case JSON, with its
plain-words message and source. (`no_identifiers` cannot be stored: intake refuses a
demand that names no account; tests/test_legal.py covers it on the pure engine.)"""

from datetime import timedelta

import pytest

from models import Case, Role, db, utcnow
from tests.conftest import sign_in
from workflows import legal
from workflows.cases import intake

TODAY = utcnow().date()


def days(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


# code -> make_case arguments that produce it (besides whatever else they produce)
SCENARIOS = {
    "document_missing": dict(document=False),
    "unsigned": dict(legal_process={"signed": False}),
    "not_yet_valid": dict(legal_process={"issued_on": days(0)}),
    "expired": dict(process="subpoena", categories=("subscriber",),
                    legal_process={"issued_on": days(-30), "expires_on": days(-2)}),
    "category_not_authorised": dict(process="subpoena", categories=("subscriber", "content")),
    "process_not_available": dict(process="subpoena", country="DE", categories=("subscriber",)),
    "foreign_content_requires_treaty": dict(process="local_order", country="FR"),
    "judicial_authority_required": dict(process="epoc", country="DE", categories=("non_content",),
                                        legal_process={"judicial": False}),
    "emergency_unjustified": dict(process="emergency", request_type="emergency", document=False),
    "agency_unverified": dict(unverified=True),
    "ndo_indefinite": dict(ndo={"present": True, "statute": "18 U.S.C. 2705(b)", "ends_on": None}),
    "ndo_over_one_year": dict(ndo={"present": True, "statute": "18 U.S.C. 2705(b)", "ends_on": days(400)}),
    "unbounded_date_range": dict(date_range=None),
}


def test_every_storable_defect_code_has_a_scenario():
    assert set(SCENARIOS) == {c.value for c in legal.DefectCode} - {"no_identifiers"}


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_stored_case_carries_the_defect(app, client, make_case, make_agency, make_user, code):
    arguments = dict(SCENARIOS[code])
    if arguments.pop("unverified", False):
        arguments["agency"] = make_agency(verified=False).agency
    case_id = make_case(**arguments).id
    db.session.expire_all()

    stored = db.session.get(Case, case_id)
    check = legal.check(intake.facts_of(stored), utcnow())
    found = [d for d in check.defects if d.code.value == code]
    assert found, f"{code} not among {[d.code.value for d in check.defects]}"
    assert all(d.message and d.source for d in found)
    if legal.DefectCode(code).severity is legal.Severity.BLOCKING:
        assert not check.sufficient

    sign_in(client, make_user(Role.REVIEWER))
    shown = client.get(f"/api/v1/cases/{case_id}").get_json()["legal_check"]
    assert code in {d["code"] for d in shown["defects"]}
    assert shown["authorised_categories"] == [c.value for c in check.authorised_categories]
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert found[0].source.split(";")[0].split(",")[0] in page
