"""The case state machine (DESIGN section 3), driven through advance() as every view does.

The transition table, who may fire what and where each trigger may start are written
out here a second time, from the design, so the tests check the code against the
design and not against its own table."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import (
    AuditAction,
    AuditEvent,
    Case,
    CaseStateCount,
    CaseTransition,
    Disclosure,
    RejectReason,
    Role,
    State,
    StateWriteError,
    db,
    utcnow,
)
from tests.conftest import caller_for, case_body, window_ran
from workflows import audit
from workflows.cases.machine import Move, advance, allowed_from, available_triggers
from workflows.cases.states import Trigger
from workflows.errors import Conflict, InvalidInput, NotAllowed, NotFound, ReauthRequired

T = Trigger
INTAKE, REVIEWER, APPROVER = Role.INTAKE, Role.REVIEWER, Role.APPROVER
ALL_ROLES = list(Role)
OPEN = [State.RECEIVED, State.LEGAL_REVIEW, State.REDIRECTED, State.CHALLENGED, State.PENDING_APPROVAL]
TERMINAL = [State.DISCLOSED, State.NO_DATA, State.REJECTED, State.RESOLVED_BY_CUSTOMER, State.WITHDRAWN]

# DESIGN section 3, row by row: trigger, from, to, and a move that satisfies its guard.
ROWS = [
    (T.START_REVIEW, State.RECEIVED, State.LEGAL_REVIEW, {}),
    (T.REDIRECT, State.LEGAL_REVIEW, State.REDIRECTED, {}),
    (T.AGENCY_RETURNS, State.REDIRECTED, State.LEGAL_REVIEW,
     {"note": "The agency came back: the customer did not answer."}),
    (T.RESOLVE_BY_CUSTOMER, State.REDIRECTED, State.RESOLVED_BY_CUSTOMER, {}),
    (T.CHALLENGE, State.LEGAL_REVIEW, State.CHALLENGED, {"note": "The date range is overbroad."}),
    (T.CHALLENGE_LOST, State.CHALLENGED, State.LEGAL_REVIEW, {}),
    (T.CHALLENGE_WON, State.CHALLENGED, State.REJECTED, {}),
    (T.AMEND, State.LEGAL_REVIEW, State.LEGAL_REVIEW,
     {"note": "The agency named the account by letter.", "identifiers": ["named@contoso.example"]}),
    (T.PROPOSE_DISCLOSURE, State.LEGAL_REVIEW, State.PENDING_APPROVAL, {"categories": ["content"]}),
    (T.SEND_BACK, State.PENDING_APPROVAL, State.LEGAL_REVIEW, {"note": "Check the date range again."}),
    (T.APPROVE, State.PENDING_APPROVAL, State.DISCLOSED, {}),
    (T.NO_DATA_FOUND, State.LEGAL_REVIEW, State.NO_DATA, {}),
    (T.REJECT, State.LEGAL_REVIEW, State.REJECTED, {"reason": "overbroad"}),
    (T.WITHDRAW, State.LEGAL_REVIEW, State.WITHDRAWN, {"note": "The agency withdrew it by e-mail."}),
]
# Offered only on a European Production Order whose enforcing authority was notified
# (tests/test_enforcing.py walks them); the machine takes them in these states.
ENFORCING = {T.ENFORCING_CLEARED, T.ENFORCING_REFUSED}
MOVE_FIELDS = {trigger: fields for trigger, _, _, fields in ROWS}
SOURCE = {trigger: source for trigger, source, _, _ in ROWS}

# Who: the reviewer's triggers may also be fired by an approver; withdraw by intake too.
REVIEWER_TRIGGERS = [T.START_REVIEW, T.REDIRECT, T.AGENCY_RETURNS, T.RESOLVE_BY_CUSTOMER, T.CHALLENGE,
                     T.CHALLENGE_LOST, T.CHALLENGE_WON, T.AMEND, T.PROPOSE_DISCLOSURE, T.NO_DATA_FOUND,
                     T.REJECT]
WHO = {
    **{t: {REVIEWER, APPROVER} for t in REVIEWER_TRIGGERS},
    T.SEND_BACK: {APPROVER},
    T.APPROVE: {APPROVER},
    T.WITHDRAW: {INTAKE, REVIEWER, APPROVER},
    **{t: {REVIEWER, APPROVER} for t in ENFORCING},
}

# Where each trigger may start.
FROM = {
    State.RECEIVED: {T.START_REVIEW, T.WITHDRAW},
    State.LEGAL_REVIEW: {T.REDIRECT, T.CHALLENGE, T.AMEND, T.PROPOSE_DISCLOSURE, T.NO_DATA_FOUND,
                         T.REJECT, T.WITHDRAW, *ENFORCING},
    State.REDIRECTED: {T.AGENCY_RETURNS, T.RESOLVE_BY_CUSTOMER, T.WITHDRAW},
    State.CHALLENGED: {T.CHALLENGE_LOST, T.CHALLENGE_WON, T.WITHDRAW},
    State.PENDING_APPROVAL: {T.SEND_BACK, T.APPROVE, T.WITHDRAW, *ENFORCING},
    **{state: set() for state in TERMINAL},
}

UNKNOWN = "nobody@nowhere.example"


# ---- what a transition wrote -------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """Everything a transition may write, for one case and overall."""

    state: State
    version: int
    transitions: int
    events: int
    transition_events: int
    counts: dict
    disclosures: int


def state_counts() -> dict[State, int]:
    return {row.state: row.n for row in db.session.scalars(sa.select(CaseStateCount)) if row.n}


def written(case_id: int) -> Written:
    db.session.expire_all()
    case = db.session.get(Case, case_id)

    def count(query) -> int:
        return db.session.scalar(query)

    return Written(
        state=case.state, version=case.version,
        transitions=count(sa.select(sa.func.count()).select_from(CaseTransition)
                          .where(CaseTransition.case_id == case_id)),
        events=count(sa.select(sa.func.count()).select_from(AuditEvent)),
        transition_events=count(sa.select(sa.func.count()).select_from(AuditEvent)
                                .where(AuditEvent.action == AuditAction.CASE_TRANSITION.value)),
        counts=state_counts(),
        disclosures=count(sa.select(sa.func.count()).select_from(Disclosure)),
    )


def assert_counts_match_cases() -> None:
    actual = dict(db.session.execute(sa.select(Case.state, sa.func.count()).group_by(Case.state)).all())
    assert state_counts() == actual


def refused(exc_type, case_id: int, move: Move, caller, now=None, **expected):
    """Fire a move that must be refused; check the error and that nothing was written."""
    before = written(case_id)
    with pytest.raises(exc_type) as caught:
        advance(case_id, move, caller, now or utcnow())
    for attr, value in expected.items():
        assert getattr(caught.value, attr) == value, (attr, caught.value.message)
    assert written(case_id) == before
    return caught.value


def guard_refuses(case_id: int, move: Move, caller, now=None) -> InvalidInput:
    exc = refused(InvalidInput, case_id, move, caller, now, code="guard_failed")
    assert exc.reasons and set(exc.fields)
    return exc


def move(trigger: Trigger, **fields) -> Move:
    return Move(trigger.value, **fields)


@pytest.fixture(autouse=True)
def chain_stays_intact(app):
    """Whatever a test did to cases, the audit chain verifies afterwards."""
    yield
    db.session.rollback()
    result = audit.verify()
    assert result.intact, result.reason


@pytest.fixture
def case_in(make_case):
    """A case in `state` whose identifiers suit the trigger about to be fired."""

    def make(state: State, trigger: Trigger | None = None, **kw):
        if trigger is T.NO_DATA_FOUND:
            kw.setdefault("identifiers", [UNKNOWN])
        return make_case(state=state.value, **kw)

    return make


@pytest.fixture
def custom_case(make_case, make_agency, make_customer):
    """make_case with the process fields overridden (expiry, signature, type)."""

    def make(state: State, *, categories=("content",), identifiers=None, legal_process=None, **body):
        agency = make_agency().agency
        if identifiers is None:
            identifiers = [make_customer().accounts[0].identifier]
        payload = case_body(agency.id, identifiers=list(identifiers), categories=list(categories),
                            legal_process=legal_process or {}, **body)
        return make_case(state=state.value, agency=agency, body=payload, categories=categories)

    return make


# ---- every row of the table, by every role that may fire it ----------------------------


@pytest.mark.parametrize("row", ROWS, ids=[row[0].value for row in ROWS])
def test_each_transition_writes_state_log_audit_and_counts(app, case_in, make_user, row):
    """Fired by each role that may fire it (an approver fires every reviewer trigger too)."""
    for role in sorted(WHO[row[0]]):
        fire_and_check(row, case_in(row[1], row[0]), make_user(role))


def fire_and_check(row, case: Case, user) -> None:
    trigger, source, target, fields = row
    before = written(case.id)
    now = utcnow()

    moved = advance(case.id, move(trigger, **fields), caller_for(user), now)

    assert moved.state is target
    after = written(case.id)
    assert after.state is target and after.version == before.version + 1
    assert moved.is_open == (target in OPEN)

    # exactly one log row: the version it produced, from and to, who and why
    assert after.transitions == before.transitions + 1
    log = db.session.scalars(sa.select(CaseTransition).where(CaseTransition.case_id == case.id)
                             .order_by(CaseTransition.seq.desc())).first()
    assert (log.seq, log.trigger) == (after.version, trigger.value)
    assert (log.from_state, log.to_state) == (source, target)
    assert (log.actor_id, log.actor, log.note, log.at) == (user.id, user.email, fields.get("note"), now)

    # one transition event; approve adds the production it packaged and the link it issued
    production = [AuditAction.PRODUCTION_PACKAGED.value, AuditAction.PRODUCTION_LINK_ISSUED.value]
    extra = production if trigger is Trigger.APPROVE else []
    assert after.events == before.events + 1 + len(extra)
    assert after.transition_events == before.transition_events + 1
    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc())
                                .limit(1 + len(extra))).all()[::-1]
    assert [e.action for e in events[1:]] == extra
    event = events[0]
    assert event.action == AuditAction.CASE_TRANSITION.value
    assert (event.subject_type, event.subject_id, event.actor_id) == ("case", str(case.id), user.id)
    assert event.data["trigger"] == trigger.value
    assert (event.data["from"], event.data["to"], event.data["version"]) == (source.value, target.value,
                                                                              after.version)

    # the per-state counts move by one, and only those two
    expected = dict(before.counts)
    expected[source] -= 1
    expected[target] = expected.get(target, 0) + 1
    assert after.counts == {s: n for s, n in expected.items() if n}
    assert_counts_match_cases()
    assert after.disclosures == before.disclosures + (trigger is T.APPROVE)
    assert_effect(trigger, db.session.get(Case, case.id), user)


def assert_effect(trigger: Trigger, case: Case, user) -> None:
    """What the trigger changes besides the state (DESIGN section 3, last column)."""
    if trigger is T.START_REVIEW:
        assert case.assignee_id == user.id
    if trigger is T.PROPOSE_DISCLOSURE:
        assert (case.proposed_categories, case.proposed_by_id) == (["content"], user.id)
    if trigger is T.SEND_BACK:
        assert (case.proposed_categories, case.proposed_by_id) == (None, None)
    if trigger in (T.REJECT, T.CHALLENGE_WON):
        assert case.reject_reason is (RejectReason.OVERBROAD if trigger is T.REJECT else RejectReason.QUASHED)
    if trigger is T.APPROVE:
        assert (case.disclosure.categories, case.disclosure.approved_by_id) == (["content"], user.id)


def test_start_review_assigns_the_reviewer(app, make_case, make_user):
    case = make_case(state="received")
    assert case.assignee_id is None
    reviewer = make_user(REVIEWER)
    moved = advance(case.id, move(T.START_REVIEW), caller_for(reviewer), utcnow())
    assert moved.assignee_id == reviewer.id
    log = moved.transitions[-1]
    assert log.data == {"assignee_id": reviewer.id}


@pytest.mark.parametrize("role", ALL_ROLES)
def test_roles_may_fire_only_their_triggers(app, case_in, make_user, role):
    """Every trigger on a case in its source state: the wrong roles get NotAllowed and
    nothing is written; the right ones see the trigger among their actions."""
    cases = {state: case_in(state) for state in OPEN}
    user = make_user(role)
    for trigger, fields in MOVE_FIELDS.items():
        case = cases[SOURCE[trigger]]
        offered = available_triggers(case, role, user.id)
        if role in WHO[trigger]:
            assert trigger in offered
            continue
        assert trigger not in offered
        exc = refused(NotAllowed, case.id, move(trigger, **fields), caller_for(user))
        assert exc.code == "forbidden"


def test_the_proposer_is_not_offered_approve(app, make_case, make_user):
    proposer, other = make_user(APPROVER), make_user(APPROVER)
    case = make_case(state="legal_review")
    propose = move(T.PROPOSE_DISCLOSURE, categories=["content"])
    case = advance(case.id, propose, caller_for(proposer), utcnow())
    assert set(available_triggers(case, APPROVER, proposer.id)) == {T.SEND_BACK, T.WITHDRAW}
    assert set(available_triggers(case, APPROVER, other.id)) == {T.SEND_BACK, T.APPROVE, T.WITHDRAW}


# ---- triggers the state does not take -----------------------------------------------------


@pytest.mark.parametrize("state", OPEN + TERMINAL)
def test_each_state_offers_its_triggers_and_refuses_the_rest(app, case_in, make_user, state):
    """What each role is offered in each state, and a Conflict (nothing written) for
    every trigger the state does not take."""
    assert set(allowed_from(state)) == FROM[state]
    case = case_in(state)
    for role in ALL_ROLES:
        expected = {t for t in FROM[state] - ENFORCING if role in WHO[t]}
        assert set(available_triggers(case, role, make_user(role).id)) == expected, role
    approver = make_user(APPROVER)  # may fire every trigger: only the state can refuse
    # The preservation triggers too (not this machine's); expire is nobody's to fire (the
    # application's), so it is refused by role first: see test_preservations.
    for trigger in set(Trigger) - FROM[state] - {T.EXPIRE}:
        refused(Conflict, case.id, move(trigger, **MOVE_FIELDS.get(trigger, {})), caller_for(approver),
                code="illegal_transition")


def test_withdraw_from_every_open_state(app, make_case, make_user):
    intake = make_user(INTAKE)
    for state in OPEN:
        case = make_case(state=state.value)
        moved = advance(case.id, move(T.WITHDRAW, note="Withdrawn by letter."), caller_for(intake), utcnow())
        assert moved.state is State.WITHDRAWN and not moved.is_open
        log = moved.transitions[-1]
        assert (log.from_state, log.note) == (state, "Withdrawn by letter.")
    assert state_counts() == {State.WITHDRAWN: len(OPEN)}


def test_withdraw_is_refused_from_every_terminal_state(app, make_case, make_user):
    intake = make_user(INTAKE)
    for state in TERMINAL:
        case = make_case(state=state.value)
        refused(Conflict, case.id, move(T.WITHDRAW, note="Too late."), caller_for(intake),
                code="illegal_transition")


def test_stale_version_conflicts(app, make_case, make_user):
    case = make_case(state="legal_review")
    reviewer = make_user(REVIEWER)
    loaded = case.version
    exc = refused(Conflict, case.id, move(T.REJECT, reason="overbroad", version=loaded - 1),
                  caller_for(reviewer), code="stale_version")
    assert str(loaded) in exc.message
    moved = advance(case.id, move(T.CHALLENGE, note="Overbroad.", version=loaded), caller_for(reviewer),
                    utcnow())
    assert (moved.state, moved.version) == (State.CHALLENGED, loaded + 1)
    # a second reviewer acting on the page they loaded before the challenge
    refused(Conflict, case.id, move(T.CHALLENGE_WON, version=loaded), caller_for(reviewer),
            code="stale_version")


def test_unknown_trigger_or_case(app, make_case, make_user):
    case = make_case(state="legal_review")
    approver = caller_for(make_user(APPROVER))
    exc = refused(InvalidInput, case.id, Move("delete"), approver)
    assert "trigger" in exc.fields
    with pytest.raises(NotFound):
        advance(case.id + 1000, move(T.REJECT, reason="overbroad"), approver, utcnow())


# ---- guards --------------------------------------------------------------------------------


def test_redirect_refused_for_an_emergency(app, make_case, make_user):
    case = make_case(state="legal_review", process="emergency", request_type="emergency",
                     emergency_justification="A child is missing and in danger.")
    assert case.emergency
    exc = guard_refuses(case.id, move(T.REDIRECT), caller_for(make_user(REVIEWER)))
    assert exc.reasons == ["emergency"]


def test_redirect_refused_for_a_consumer_or_unknown_account(app, make_case, make_customer, make_user):
    reviewer = make_user(REVIEWER)
    consumer = make_customer(kind="consumer").accounts[0].identifier
    enterprise = make_customer(kind="enterprise").accounts[0].identifier
    for identifiers in ([consumer], [UNKNOWN], [enterprise, UNKNOWN]):
        case = make_case(state="legal_review", identifiers=identifiers)
        exc = guard_refuses(case.id, move(T.REDIRECT), caller_for(reviewer))
        assert exc.reasons == ["not_enterprise"]
        assert enterprise not in exc.fields["identifiers"]
    case = make_case(state="legal_review", identifiers=[enterprise])
    assert advance(case.id, move(T.REDIRECT), caller_for(reviewer), utcnow()).state is State.REDIRECTED


@pytest.mark.parametrize(("trigger", "role"), [
    (T.AGENCY_RETURNS, REVIEWER), (T.CHALLENGE, REVIEWER), (T.SEND_BACK, APPROVER), (T.WITHDRAW, INTAKE),
])
def test_triggers_that_need_a_note(app, make_case, make_user, trigger, role):
    case = make_case(state=SOURCE[trigger].value)
    caller = caller_for(make_user(role))
    for note in (None, "", "   \n  "):
        exc = guard_refuses(case.id, move(trigger, note=note), caller)
        assert "note_required" in exc.reasons and "note" in exc.fields


def test_a_note_longer_than_4000_characters_is_refused(app, make_case, make_user):
    case = make_case(state="legal_review")
    exc = refused(InvalidInput, case.id, move(T.CHALLENGE, note="x" * 5000), caller_for(make_user(REVIEWER)))
    assert "note" in exc.fields


def test_reject_needs_a_reason_and_other_needs_a_note(app, make_case, make_user):
    case = make_case(state="legal_review")
    reviewer = caller_for(make_user(REVIEWER))
    assert guard_refuses(case.id, move(T.REJECT), reviewer).reasons == ["reason_required"]
    exc = guard_refuses(case.id, move(T.REJECT, reason="other"), reviewer)
    assert exc.reasons == ["note_required"] and "note" in exc.fields
    exc = refused(InvalidInput, case.id, move(T.REJECT, reason="bored"), reviewer)
    assert "reason" in exc.fields
    moved = advance(case.id, move(T.REJECT, reason="other", note="Sent to the wrong provider."), reviewer,
                    utcnow())
    assert (moved.state, moved.reject_reason) == (State.REJECTED, RejectReason.OTHER)


def test_propose_disclosure_needs_categories(app, make_case, make_user):
    case = make_case(state="legal_review")
    reviewer = caller_for(make_user(REVIEWER))
    for categories in (None, []):
        exc = guard_refuses(case.id, move(T.PROPOSE_DISCLOSURE, categories=categories), reviewer)
        assert exc.reasons == ["categories_required"]
    exc = refused(InvalidInput, case.id, move(T.PROPOSE_DISCLOSURE, categories=["everything"]), reviewer)
    assert "categories" in exc.fields


def test_propose_disclosure_only_within_what_the_process_authorises(app, make_case, make_user):
    """A subpoena compels subscriber information only (18 U.S.C. 2703(c)(2))."""
    case = make_case(state="legal_review", process="subpoena", categories=("subscriber", "content"))
    reviewer = caller_for(make_user(REVIEWER))
    for categories in (["content"], ["subscriber", "content"], ["non_content"]):
        exc = guard_refuses(case.id, move(T.PROPOSE_DISCLOSURE, categories=categories), reviewer)
        assert exc.reasons == ["category_not_authorised"]
    moved = advance(case.id, move(T.PROPOSE_DISCLOSURE, categories=["subscriber"]), reviewer, utcnow())
    assert (moved.state, moved.proposed_categories) == (State.PENDING_APPROVAL, ["subscriber"])


def test_propose_disclosure_refused_without_a_signed_document(app, make_case, custom_case, make_user):
    """No document, or an unsigned one: the legal check authorises nothing at all."""
    missing = make_case(state="legal_review", categories=("subscriber",), document=False)
    unsigned = custom_case(State.LEGAL_REVIEW, categories=("subscriber",), legal_process={"signed": False})
    reviewer = caller_for(make_user(REVIEWER))
    for case in (missing, unsigned):
        exc = guard_refuses(case.id, move(T.PROPOSE_DISCLOSURE, categories=["subscriber"]), reviewer)
        assert exc.reasons == ["category_not_authorised"]


def test_approve_by_the_proposer_is_not_allowed(app, make_case, make_user):
    proposer, other = make_user(APPROVER), make_user(APPROVER)
    case = make_case(state="legal_review")
    advance(case.id, move(T.PROPOSE_DISCLOSURE, categories=["content"]), caller_for(proposer), utcnow())
    refused(NotAllowed, case.id, move(T.APPROVE), caller_for(proposer), code="own_proposal")
    window_ran(case.id)
    moved = advance(case.id, move(T.APPROVE), caller_for(other), utcnow())
    assert moved.state is State.DISCLOSED
    assert (moved.disclosure.proposed_by_id, moved.disclosure.approved_by_id) == (proposer.id, other.id)


def test_approve_needs_a_sign_in_within_ten_minutes(app, make_case, make_user):
    case = make_case(state="pending_approval")
    approver = make_user(APPROVER)
    now = utcnow()
    exc = refused(ReauthRequired, case.id, move(T.APPROVE),
                  caller_for(approver, authenticated_at=now - timedelta(minutes=11)), now)
    assert exc.code == "reauth_required"
    fresh_enough = caller_for(approver, authenticated_at=now - timedelta(minutes=9))
    moved = advance(case.id, move(T.APPROVE), fresh_enough, now)
    assert moved.state is State.DISCLOSED


def test_approve_reruns_the_legal_check_now(app, custom_case, make_user):
    """Proposed while the order was valid; by the time of approval it has expired."""
    expires = (utcnow() + timedelta(days=3)).date()
    case = custom_case(State.PENDING_APPROVAL, legal_process={"expires_on": expires.isoformat()})
    approver = make_user(APPROVER)
    later = utcnow() + timedelta(days=5)
    exc = guard_refuses(case.id, move(T.APPROVE), caller_for(approver, authenticated_at=later), later)
    assert exc.reasons == ["category_not_authorised"]
    assert advance(case.id, move(T.APPROVE), caller_for(approver), utcnow()).state is State.DISCLOSED


def test_approve_at_most_what_was_proposed(app, make_case, make_user):
    case = make_case(state="legal_review", categories=("subscriber", "content"))
    advance(case.id, move(T.PROPOSE_DISCLOSURE, categories=["subscriber"]), caller_for(make_user(REVIEWER)),
            utcnow())
    approver = caller_for(make_user(APPROVER))
    window_ran(case.id)
    exc = guard_refuses(case.id, move(T.APPROVE, categories=["subscriber", "content"]), approver)
    assert exc.reasons == ["beyond_proposal"]


def test_approve_creates_the_disclosure(app, make_case, make_customer, make_user):
    enterprise, consumer = make_customer(kind="enterprise"), make_customer(kind="consumer")
    matched = [enterprise.accounts[0], consumer.accounts[0]]
    identifiers = [UNKNOWN] + [a.identifier for a in matched]
    case = make_case(state="pending_approval", identifiers=identifiers,
                     categories=("subscriber", "non_content", "content"))
    assert case.proposed_categories == ["subscriber", "non_content", "content"]
    approver = make_user(APPROVER)
    now = utcnow()
    moved = advance(case.id, move(T.APPROVE, categories=["content", "subscriber"]), caller_for(approver), now)
    disclosure = db.session.scalars(sa.select(Disclosure).where(Disclosure.case_id == case.id)).one()
    assert disclosure.categories == ["subscriber", "content"]
    assert disclosure.account_ids == sorted(a.id for a in matched)
    assert disclosure.identifiers == sorted(a.identifier for a in matched)
    assert (disclosure.approved_by_id, disclosure.approved_at) == (approver.id, now)
    assert disclosure.proposed_by_id == case.proposed_by_id
    assert moved.transitions[-1].data == {"categories": ["subscriber", "content"],
                                          "account_ids": sorted(a.id for a in matched)}


def test_challenge_lost_may_narrow_but_not_widen(app, make_case, make_customer, make_user):
    first, second = make_customer().accounts[0].identifier, make_customer().accounts[0].identifier
    case = make_case(state="challenged", identifiers=[first, second], categories=("subscriber", "content"))
    reviewer = caller_for(make_user(REVIEWER))
    for fields in ({"categories": ["subscriber", "non_content"]}, {"categories": []},
                   {"identifiers": [first, UNKNOWN]}):
        exc = guard_refuses(case.id, move(T.CHALLENGE_LOST, **fields), reviewer)
        assert exc.reasons == ["not_narrower"] and set(exc.fields) == set(fields)
    exc = refused(InvalidInput, case.id, move(T.CHALLENGE_LOST, identifiers=[]), reviewer)
    assert "identifiers" in exc.fields  # a demand naming no account at all is not a narrowing
    moved = advance(case.id, move(T.CHALLENGE_LOST, categories=["subscriber"], identifiers=[first.upper()]),
                    reviewer, utcnow())
    assert moved.state is State.LEGAL_REVIEW
    assert (moved.categories, moved.identifiers) == (["subscriber"], [first])
    assert moved.transitions[-1].data == {
        "categories": {"before": ["subscriber", "content"], "after": ["subscriber"]},
        "identifiers": {"before": [first, second], "after": [first]},
    }


def test_challenge_lost_without_narrowing_keeps_the_demand(app, make_case, make_user):
    case = make_case(state="challenged", categories=("subscriber", "content"))
    moved = advance(case.id, move(T.CHALLENGE_LOST), caller_for(make_user(REVIEWER)), utcnow())
    assert (moved.state, moved.categories) == (State.LEGAL_REVIEW, ["subscriber", "content"])


def test_challenge_won_rejects_as_quashed(app, make_case, make_user):
    case = make_case(state="challenged")
    moved = advance(case.id, move(T.CHALLENGE_WON), caller_for(make_user(REVIEWER)), utcnow())
    assert (moved.state, moved.reject_reason) == (State.REJECTED, RejectReason.QUASHED)


def test_no_data_found_refused_when_an_identifier_matches(app, make_case, make_customer, make_user):
    known = make_customer(kind="consumer").accounts[0].identifier
    case = make_case(state="legal_review", identifiers=[UNKNOWN, known])
    exc = guard_refuses(case.id, move(T.NO_DATA_FOUND), caller_for(make_user(REVIEWER)))
    assert exc.reasons == ["accounts_match"] and known in exc.fields["identifiers"]


# ---- the state column has one door ------------------------------------------------------------


def test_setting_the_state_directly_raises(app, make_case):
    case = make_case(state="legal_review")
    with pytest.raises(StateWriteError):
        case.state = State.DISCLOSED
    db.session.rollback()
    assert written(case.id).state is State.LEGAL_REVIEW


def test_the_database_refuses_a_raw_state_update(app, make_case):
    """The migration's trigger lets the state change only together with the log row
    for the version the change produces, on both engines."""
    case = make_case(state="legal_review")
    case_id, version = case.id, case.version
    db.session.commit()

    def update(state: str, bump: bool = True) -> None:
        db.session.execute(sa.text(
            "UPDATE cases SET state = :state" + (", version = version + 1" if bump else "")
            + " WHERE id = :id"), {"state": state, "id": case_id})

    def log_row(seq: int, to_state: State) -> None:
        db.session.execute(sa.insert(CaseTransition.__table__).values(
            case_id=case_id, seq=seq, trigger="reject", from_state=State.LEGAL_REVIEW, to_state=to_state,
            actor="console", at=utcnow(), data={}))

    attempts = [
        lambda: update("disclosed", bump=False),  # no log row at all
        lambda: update("disclosed"),
        lambda: (log_row(version + 1, State.DISCLOSED), update("disclosed", bump=False)),  # old version
        lambda: (log_row(version + 1, State.REJECTED), update("disclosed")),  # a row for another state
    ]
    for attempt in attempts:
        with pytest.raises(sa.exc.DBAPIError, match="only through a transition"):
            attempt()
        db.session.rollback()
        assert written(case_id).state is State.LEGAL_REVIEW

    log_row(version + 1, State.REJECTED)
    update("rejected")
    db.session.commit()
    assert (written(case_id).state, written(case_id).version) == (State.REJECTED, version + 1)


def test_the_database_refuses_a_raw_update_that_reuses_an_earlier_log_row(app, make_case):
    """A rejected case (log: 2 -> legal_review, 3 -> rejected) must not go back to
    legal review by a raw UPDATE that rewinds its version to 2: no new log row."""
    case = make_case(state="rejected")
    case_id, version = case.id, case.version
    earlier = [t.seq for t in case.transitions if t.to_state is State.LEGAL_REVIEW]
    db.session.commit()
    with pytest.raises(sa.exc.DBAPIError, match="only through a transition"):
        db.session.execute(sa.text(
            "UPDATE cases SET state = 'legal_review', is_open = true, version = :v WHERE id = :id"),
            {"v": earlier[0], "id": case_id})
    db.session.rollback()
    assert (written(case_id).state, written(case_id).version) == (State.REJECTED, version)


@pytest.mark.postgres_only
def test_postgres_refuses_edits_of_the_transition_events(app, engine_name, make_case):
    make_case(state="disclosed")
    for statement in ("UPDATE audit_events SET data = '{}' WHERE action = 'case.transition'",
                      "DELETE FROM audit_events WHERE action = 'case.transition'"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            db.session.execute(sa.text(statement))
        db.session.rollback()
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "case.transition")).all()
    assert [e.data["trigger"] for e in events] == ["start_review", "propose_disclosure", "approve"]
