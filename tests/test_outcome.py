"""Each case has exactly one outcome (DESIGN section 6), from its state and, once
disclosed, from what was disclosed."""

import pytest

from models import Category, State
from workflows.cases.states import OPEN_STATES, Outcome, outcome_of


@pytest.mark.parametrize(("state", "disclosed", "expected"), [
    (State.DISCLOSED, [Category.CONTENT.value], Outcome.CONTENT_DISCLOSED),
    (State.DISCLOSED, ["subscriber", "content"], Outcome.CONTENT_DISCLOSED),
    (State.DISCLOSED, ["subscriber", "non_content"], Outcome.NON_CONTENT_DISCLOSED),
    (State.DISCLOSED, ["subscriber"], Outcome.NON_CONTENT_DISCLOSED),
    (State.NO_DATA, (), Outcome.NO_DATA_FOUND),
    (State.REJECTED, (), Outcome.REJECTED),
    (State.RESOLVED_BY_CUSTOMER, (), Outcome.RESOLVED_BY_CUSTOMER),
    (State.WITHDRAWN, (), Outcome.WITHDRAWN),
])
def test_terminal_states_have_their_outcome(state, disclosed, expected):
    assert outcome_of(state, disclosed) is expected


@pytest.mark.parametrize("state", OPEN_STATES)
def test_open_cases_are_pending(state):
    assert outcome_of(state, ()) is Outcome.PENDING


def test_every_outcome_is_reachable():
    reached = {outcome_of(s, ["content"]) for s in State} | {outcome_of(State.DISCLOSED, ["subscriber"])}
    assert reached == set(Outcome)
