"""Text shown to people cannot be made to read as something else (DESIGN 11.8):
the bidirectional embeddings, overrides and isolates are refused in every text
people give us (names, notes, reasons, statements), by the one rule in
workflows.text that the API's schema patterns state too. The marks may come with
right-to-left text and are kept, except in file names (tests/test_documents.py)."""

import re

import pytest
import sqlalchemy as sa

from models import Agency, Case, CaseTransition, Role, db, utcnow
from tests.conftest import caller_for, sign_in
from workflows import schema
from workflows.cases.machine import Move, advance
from workflows.errors import InvalidInput
from workflows.text import BIDI_FORMATTING, clean_text, reorders

REORDERING = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
MARKS = ["\u200e", "\u200f", "\u061c"]


def test_the_rule_refuses_what_reorders_and_keeps_right_to_left_text():
    assert set(REORDERING) | set(MARKS) == BIDI_FORMATTING
    for c in REORDERING:
        assert reorders(f"invoice{c}fdp.exe")
        with pytest.raises(InvalidInput) as refused:
            clean_text(f"Agent{c} Smith", field="name", label="Names", max_length=100)
        assert "reorder" in refused.value.message and refused.value.reasons == ["name"]
    for kept in ("שלום עולם", "مذكرة تفتيش", "Agent \u200fSmith", "e\u0301t\u00e9"):
        assert clean_text(kept, field="name", label="Names", max_length=100) == kept


@pytest.mark.parametrize("pattern", [schema.LINE, schema.FILLED_LINE, schema.MULTILINE,
                                     schema.FILLED_MULTILINE])
def test_the_api_document_states_the_same_rule(pattern):
    for c in REORDERING:
        assert not re.fullmatch(pattern, f"note {c}with an override")
    for c in MARKS:
        assert re.fullmatch(pattern, f"note {c}with a mark")


def test_a_note_that_reorders_is_refused_and_nothing_is_written(app, make_case, case_staff):
    case = make_case("legal_review")
    with pytest.raises(InvalidInput) as refused:
        advance(case.id, Move("challenge", note="Overbroad \u202edetaler ton"),
                caller_for(case_staff("reviewer")), utcnow())
    assert "note" in refused.value.fields
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseTransition).where(
        CaseTransition.trigger == "challenge")) == 0


def test_the_api_refuses_an_override_in_a_body(app, new_client, make_user, make_case):
    from tests.conftest import PASSWORD, fresh_code

    case = make_case("legal_review")
    reviewer = make_user(Role.REVIEWER)
    client = new_client()
    signed = client.post("/api/v1/session", json={"email": reviewer.email, "password": PASSWORD,
                                                  "totp": fresh_code(reviewer)}).get_json()
    resp = client.post(f"/api/v1/cases/{case.id}/transitions",
                       headers={"X-CSRFToken": signed["csrf_token"]},
                       json={"trigger": "challenge", "note": "Overbroad \u2067and stale\u2069."})
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["error"] == "invalid_input" and "bidirectional" in body["fields"]["note"]
    db.session.expire_all()
    assert db.session.get(Case, case.id).state.value == "legal_review"


def test_the_case_page_refuses_an_override_in_a_note(app, new_client, make_user, make_case):
    from tests.test_case_pages import act, html

    case = make_case("legal_review")
    client = new_client()
    sign_in(client, make_user(Role.REVIEWER))
    refused = act(client, case.id, "challenge", note="Grounds \u202ehidden")
    assert refused.status_code == 422 and "reorder how text is displayed" in html(refused)


def test_an_agency_name_that_reorders_is_refused(app, cli):
    result = cli("agencies", "create", "Police\u202e ecilop", "--country", "FR")
    assert result.exit_code != 0 and "reorder" in result.stderr
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Agency)) == 0
