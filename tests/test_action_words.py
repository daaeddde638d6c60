"""The case page says what an action will do before it is done (DESIGN 11.5): a
proposal says whether the customer is told now or when, and the categories the
legal check does not authorise are not offered at all."""

import re
from datetime import timedelta

import pytest

from models import Role, utcnow
from tests.conftest import confirm_by_callback, sign_in

STATUTE = "18 U.S.C. 2705(b)"


@pytest.fixture
def reviewer_page(new_client, make_user):
    client = new_client()
    sign_in(client, make_user(Role.REVIEWER))

    def read(case) -> str:
        return client.get(f"/cases/{case.id}").get_data(as_text=True)

    return read


def proposal_form(page: str) -> str:
    return re.search(r'<form[^>]*id="action-propose_disclosure".*?</form>', page, re.S).group(0)


def test_categories_the_check_does_not_authorise_are_not_offered(app, reviewer_page, make_case):
    case = make_case("legal_review", process="subpoena", categories=("subscriber", "content"),
                     legal_process={"judicial": False})
    form = proposal_form(reviewer_page(case))
    assert 'value="subscriber"' in form and 'value="content"' not in form
    assert "Not offered, because the legal check does not authorise it: Stored content." in form


def test_a_proposal_says_the_customer_is_told_now(app, reviewer_page, make_case):
    form = proposal_form(reviewer_page(make_case("legal_review")))
    assert "proposing tells the customer whose accounts are named, now, that we intend to disclose" in form


@pytest.mark.parametrize("ends_in, words", [
    (30, "the notice waits for the non-disclosure order to end on"),
    (None, "the non-disclosure order has no end date"),
])
def test_a_proposal_says_when_a_held_notice_goes_out(app, reviewer_page, make_case, ends_in, words):
    ends_on = (utcnow().date() + timedelta(days=ends_in)).isoformat() if ends_in else None
    case = make_case("legal_review", ndo={"present": True, "statute": STATUTE, "ends_on": ends_on})
    form = proposal_form(reviewer_page(case))
    assert words in form
    if ends_on:
        assert ends_on in form


def test_an_emergency_proposal_says_the_notice_waits_for_a_reviewer(app, reviewer_page, make_case,
                                                                    case_staff):
    case = make_case("legal_review", process="emergency", request_type="emergency", document=False,
                     categories=("subscriber",), emergency_justification="A child is missing.")
    confirm_by_callback(case.id, case_staff("reviewer"))
    assert "this is an emergency, so the customer is told once a reviewer releases" in proposal_form(
        reviewer_page(case))


# ---- what opens first, and what asks to be confirmed -------------------------------------

def opened(page: str) -> list[str]:
    """The action forms open when the page loads."""
    return re.findall(r'<details class="action" open>\s*<summary id="action-(\w+)-heading">', page)


def test_the_open_action_is_the_one_the_check_suggests(app, reviewer_page, make_case):
    assert opened(reviewer_page(make_case("legal_review"))) == ["propose_disclosure"]
    # A subpoena for content only: the check authorises nothing, so refusing comes first.
    nothing = make_case("legal_review", process="subpoena", categories=("content",),
                        legal_process={"judicial": False})
    page = reviewer_page(nothing)
    assert opened(page) == ["reject"]
    assert "there is nothing to propose" in proposal_form(page)


@pytest.fixture
def reviewer(new_client, make_user):
    client = new_client()
    sign_in(client, make_user(Role.REVIEWER))
    return client


def test_an_action_that_cannot_be_undone_is_confirmed_first(app, reviewer, make_case):
    from tests.test_case_pages import act, state_of
    from views.cases import CONFIRM_WORDS

    case = make_case("legal_review")
    page = reviewer.get(f"/cases/{case.id}").get_data(as_text=True)
    form = re.search(r'<form[^>]*id="action-withdraw".*?</form>', page, re.S).group(0)
    assert 'name="confirm" value="yes"' in form and CONFIRM_WORDS["withdraw"] in form
    challenge = re.search(r'<form[^>]*id="action-challenge".*?</form>', page, re.S).group(0)
    assert 'name="confirm"' not in challenge

    refused = act(reviewer, case.id, "withdraw", confirm=False, note="The agency called to withdraw.")
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'id="action-withdraw-confirm-error"' in body and "Tick the box to confirm what this does." in body
    assert "The agency called to withdraw." in body  # what was typed stays
    assert state_of(case.id).value == "legal_review"

    assert act(reviewer, case.id, "withdraw", note="The agency called to withdraw.").status_code == 303
    assert state_of(case.id).value == "withdrawn"
