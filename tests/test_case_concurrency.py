"""Two people acting on one case at the same moment: exactly one wins, the other gets
a 409, and nothing happens twice (DESIGN section 3). Each thread works as a server
worker does: an application context and a database session of its own."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from models import (
    Agency,
    AuditAction,
    AuditEvent,
    Case,
    CaseStateCount,
    CaseTransition,
    Disclosure,
    Role,
    State,
    db,
    utcnow,
)
from tests.conftest import TEST_ACTOR, caller_for, case_body
from views.errors import status_of
from workflows import audit
from workflows.cases import demand, intake
from workflows.cases.machine import Move, advance
from workflows.errors import Conflict

pytestmark = pytest.mark.slow  # races: threads released at once

ROUNDS = 5
TARGET = {"approve": State.DISCLOSED, "withdraw": State.WITHDRAWN, "reject": State.REJECTED,
          "propose_disclosure": State.PENDING_APPROVAL}


def in_threads(app, jobs: list) -> list:
    """Run each job in a thread of its own, all released at once; return what each
    returned or the WorkflowError it raised (anything else fails the test)."""
    db.session.commit()
    db.session.remove()  # the test's own session holds no lock (SQLite: BEGIN IMMEDIATE)
    start = threading.Barrier(len(jobs))

    def run(job):
        with app.app_context():
            try:
                start.wait(timeout=30)
                return job()
            except Conflict as exc:
                return exc
            finally:
                db.session.remove()

    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(run, job) for job in jobs]
        return [f.result(timeout=60) for f in futures]


def counts_match_cases() -> bool:
    counted = {row.state: row.n for row in db.session.scalars(sa.select(CaseStateCount)) if row.n}
    actual = dict(db.session.execute(sa.select(Case.state, sa.func.count()).group_by(Case.state)).all())
    return counted == actual


def transition_rows(case_id: int) -> list[CaseTransition]:
    return list(db.session.scalars(sa.select(CaseTransition).where(CaseTransition.case_id == case_id)
                                   .order_by(CaseTransition.seq)))


def transition_events(case_id: int) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.CASE_TRANSITION.value, AuditEvent.subject_id == str(case_id))
        .order_by(AuditEvent.seq)))


SCENARIOS = {
    # name: (state the case starts in, [(role, move), (role, move)])
    "approve-approve": ("pending_approval", [(Role.APPROVER, Move("approve")),
                                             (Role.APPROVER, Move("approve"))]),
    "approve-withdraw": ("pending_approval", [(Role.APPROVER, Move("approve")),
                                              (Role.INTAKE, Move("withdraw", note="Withdrawn by phone."))]),
    "reject-propose": ("legal_review", [(Role.REVIEWER, Move("reject", reason="overbroad")),
                                        (Role.REVIEWER, Move("propose_disclosure", categories=["content"]))]),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_conflicting_transitions_one_wins(app, make_case, make_user, scenario):
    start_state, moves = SCENARIOS[scenario]
    # two different people, neither the proposer; plain values, usable from any thread
    callers = [caller_for(make_user(role)) for role, _ in moves]
    # every round's case is made first: the threads leave the test's session detached
    case_ids = [make_case(state=start_state).id for _ in range(ROUNDS)]
    winners = []
    for case_id in case_ids:
        before_rows, before_events = len(transition_rows(case_id)), len(transition_events(case_id))

        def job(case_id, move, caller):
            return lambda: advance(case_id, move, caller, utcnow())

        pairs = zip(moves, callers, strict=True)
        results = in_threads(app, [job(case_id, move, caller) for (_, move), caller in pairs])

        lost = [r for r in results if isinstance(r, Conflict)]
        won = [m for (_, m), r in zip(moves, results, strict=True) if not isinstance(r, Conflict)]
        assert len(won) == 1 and len(lost) == 1, results
        assert status_of(lost[0]) == 409
        assert lost[0].code in ("illegal_transition", "concurrent_change")
        winner = won[0].trigger
        winners.append(winner)

        case = db.session.get(Case, case_id)
        assert case.state is TARGET[winner]
        rows = transition_rows(case_id)
        assert len(rows) == before_rows + 1 and rows[-1].trigger == winner
        assert rows[-1].seq == case.version
        events = transition_events(case_id)
        assert len(events) == before_events + 1 and events[-1].data["trigger"] == winner
        disclosures = db.session.scalar(sa.select(sa.func.count()).select_from(Disclosure)
                                        .where(Disclosure.case_id == case_id))
        assert disclosures == (1 if winner == "approve" else 0)
        assert counts_match_cases()
        db.session.commit()
    result = audit.verify()
    assert result.intact, result.reason
    assert len(winners) == ROUNDS


CASES_AT_ONCE = 20


def test_cases_created_at_once_get_distinct_consecutive_references(app, make_agency):
    agency_id = make_agency().agency.id
    now = utcnow()

    def create():
        agency = db.session.get(Agency, agency_id)
        case = intake.create_case(demand.parse_case(case_body(agency_id), now), agency, TEST_ACTOR, now)
        db.session.commit()
        return case.reference

    references = in_threads(app, [create] * CASES_AT_ONCE)

    pattern = re.compile(rf"LE-{now.year}-(\d{{6}})")
    assert all(pattern.fullmatch(r) for r in references), references
    numbers = sorted(int(pattern.fullmatch(r).group(1)) for r in references)
    assert numbers == list(range(1, CASES_AT_ONCE + 1))
    stored = db.session.scalars(sa.select(Case.reference)).all()
    assert sorted(stored) == sorted(references)
    assert db.session.get(CaseStateCount, State.RECEIVED).n == CASES_AT_ONCE
    received = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == AuditAction.CASE_RECEIVED.value))
    assert received == CASES_AT_ONCE
    result = audit.verify()
    assert result.intact, result.reason
