"""Customer notices (DESIGN section 5), on both engines: the outbox rows the
transitions write, the holds of NDOs and emergencies and their release, NDO
extensions, and the objections a customer files before a disclosure."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from models import (
    AuditAction,
    AuditEvent,
    Case,
    Delivery,
    HoldReason,
    Notice,
    NoticeKind,
    Objection,
    Role,
    State,
    db,
    utcnow,
)
from tests.conftest import caller_for
from workflows import notices
from workflows.audit import Actor
from workflows.cases import machine as case_machine
from workflows.disclosure import sealing
from workflows.errors import Conflict, InvalidInput, NotAllowed, NotFound, PackageFailed

STATUTE = "18 U.S.C. 2705(b)"
RELAY = Actor.system("relay under test")


# ---- helpers ------------------------------------------------------------------------


def ndo(ends_on: date | None) -> dict:
    """The DESIGN body's NDO: present, with an end date or none (indefinite)."""
    return {"present": True, "statute": STATUTE, "ends_on": ends_on.isoformat() if ends_on else None}


def today() -> date:
    return utcnow().date()


def begun_everywhere(day: date) -> datetime:
    """The moment `day` has begun in every time zone (midnight at UTC-12): the
    earliest an order ending that day lets its notice go."""
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


def notices_of(case_id: int) -> list[Notice]:
    db.session.expire_all()
    return db.session.scalars(sa.select(Notice).where(Notice.case_id == case_id).order_by(Notice.id)).all()


def all_notices() -> list[Notice]:
    db.session.expire_all()
    return db.session.scalars(sa.select(Notice).order_by(Notice.id)).all()


def events(action: AuditAction) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action.value)
                              .order_by(AuditEvent.seq)).all()


def objection_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Objection))


def fire(case_id: int, trigger: str, who, **fields) -> Case:
    return case_machine.advance(case_id, case_machine.Move(trigger, **fields), caller_for(who), utcnow())


def actor_of(user) -> Actor:
    return Actor(user.email, user.id)


def only(notices_list: list[Notice], kind: NoticeKind) -> Notice:
    found = [n for n in notices_list if n.kind is kind]
    assert len(found) == 1, [(n.id, n.kind) for n in notices_list]
    return found[0]


def visible_to(customer_id: int) -> list[int]:
    db.session.expire_all()
    return [n.id for n in notices.for_customer(customer_id)]


@pytest.fixture
def intent(make_case, make_customer, make_user):
    """An intent_to_disclose notice, released, with the customer user who may object to it."""
    customer = make_customer()
    case = make_case("pending_approval", identifiers=[customer.accounts[0].identifier])
    user = make_user(Role.CUSTOMER, customer=customer)
    return only(notices_of(case.id), NoticeKind.INTENT_TO_DISCLOSE), user


# ---- the outbox ---------------------------------------------------------------------


def test_redirect_tells_each_customer_whose_accounts_are_named(app, make_case, make_customer):
    first = make_customer(kind="enterprise", accounts=["ann@first.example", "bob@first.example"])
    second = make_customer(kind="enterprise", accounts=["cat@second.example"])
    named = ["bob@first.example", "cat@second.example", "ann@first.example"]
    case = make_case("redirected", identifiers=named)

    written = notices_of(case.id)
    assert [n.kind for n in written] == [NoticeKind.REDIRECTED] * 2
    by_customer = {n.customer_id: n for n in written}
    assert set(by_customer) == {first.id, second.id}
    # each customer reads only its own accounts, and the notice goes to its own address
    assert by_customer[first.id].content["accounts"] == ["ann@first.example", "bob@first.example"]
    assert by_customer[second.id].content["accounts"] == ["cat@second.example"]
    assert by_customer[first.id].recipients == first.notice_emails
    assert by_customer[second.id].recipients == second.notice_emails
    for n in written:  # no NDO: the customer may be told at once
        assert n.hold_reason is None and n.hold_until is None
        assert n.released_at is not None and n.delivery is Delivery.PENDING
        assert n.content["reference"] == case.reference
    # the transition's audit event names the notices it wrote
    transition = events(AuditAction.CASE_TRANSITION)[-1]
    assert transition.data["trigger"] == "redirect"
    assert sorted(n["id"] for n in transition.data["notices"]) == [n.id for n in written]


def test_propose_disclosure_writes_an_intent_to_disclose(app, make_case, make_customer):
    customer = make_customer()
    case = make_case("pending_approval", identifiers=[customer.accounts[0].identifier],
                     categories=("content", "non_content"))
    notice = only(notices_of(case.id), NoticeKind.INTENT_TO_DISCLOSE)
    assert notice.customer_id == customer.id
    assert sorted(notice.content["categories_requested"]) == ["content", "non_content"]
    assert sorted(notice.content["categories_to_disclose"]) == ["content", "non_content"]
    assert "categories_disclosed" not in notice.content
    assert notice.released_at is not None and notice.delivery is Delivery.PENDING


def test_approve_writes_a_disclosed_notice_saying_what_went_to_whom(app, make_case, make_customer,
                                                                      make_agency, case_staff):
    customer = make_customer()
    agency = make_agency(name="Springfield Police Department", country="US").agency
    case = make_case("pending_approval", identifiers=[customer.accounts[0].identifier], agency=agency,
                     categories=("content", "non_content"),
                     legal_process={"case_number": "3:26-mj-00042"})
    fire(case.id, "approve", case_staff("approver2"), categories=["content"])  # narrowed at approval

    written = notices_of(case.id)
    assert sorted(n.kind for n in written) == sorted([NoticeKind.INTENT_TO_DISCLOSE, NoticeKind.DISCLOSED])
    c = only(written, NoticeKind.DISCLOSED).content
    assert c["categories_disclosed"] == ["content"]
    assert sorted(c["categories_requested"]) == ["content", "non_content"]
    assert c["agency"] == "Springfield Police Department" and c["agency_country"] == "US"
    assert c["process_type"] == "search_warrant" and c["process_label"] == "Search warrant"
    assert c["case_number"] == "3:26-mj-00042"
    assert c["accounts"] == [customer.accounts[0].identifier]
    assert c["disclosed_on"] == today().isoformat()
    assert c["received_on"] == (utcnow() - timedelta(days=1)).date().isoformat()


def test_unknown_identifiers_get_no_notice(app, make_case, make_customer):
    customer = make_customer()
    known = customer.accounts[0].identifier
    case = make_case("pending_approval", identifiers=["nobody@nowhere.example", known])
    notice = only(notices_of(case.id), NoticeKind.INTENT_TO_DISCLOSE)
    assert notice.customer_id == customer.id and notice.content["accounts"] == [known]

    make_case("no_data")  # nobody's account: nobody to tell
    assert len(all_notices()) == 1


@pytest.mark.parametrize("state", ["legal_review", "challenged", "rejected", "no_data", "withdrawn"])
def test_transitions_that_tell_nobody_write_no_notice(app, make_case, state):
    make_case(state)
    assert all_notices() == []


def test_send_back_and_reject_write_no_further_notice(app, make_case, case_staff):
    case = make_case("pending_approval")
    fire(case.id, "send_back", case_staff("approver"), note="Narrow the date range first.")
    fire(case.id, "reject", case_staff("reviewer"), reason="overbroad")
    assert [n.kind for n in notices_of(case.id)] == [NoticeKind.INTENT_TO_DISCLOSE]


def test_a_refused_transition_writes_no_notice(app, make_case, make_customer, case_staff):
    enterprise = make_customer(kind="enterprise").accounts[0].identifier
    consumer = make_customer(kind="consumer").accounts[0].identifier
    case = make_case("legal_review", identifiers=[enterprise, consumer])
    reviewer = case_staff("reviewer")

    with pytest.raises(InvalidInput) as refused:  # a guard: only enterprise demands are redirected
        fire(case.id, "redirect", reviewer)
    assert refused.value.code == "guard_failed" and "not_enterprise" in refused.value.reasons
    with pytest.raises(Conflict) as stale:  # a stale version
        fire(case.id, "propose_disclosure", reviewer, categories=["content"], version=case.version - 1)
    assert stale.value.code == "stale_version"
    with pytest.raises(Conflict):  # not from this state
        fire(case.id, "approve", case_staff("approver2"))
    assert all_notices() == []
    assert db.session.get(Case, case.id).state is State.LEGAL_REVIEW


def test_an_approval_that_fails_after_writing_its_notice_takes_the_notice_with_it(app, make_case, case_staff,
                                                                                 monkeypatch):
    """The disclosed notice is flushed before the package is written: a package
    failure must roll the notice back with the approval."""
    case = make_case("pending_approval")
    approver = case_staff("approver2")
    monkeypatch.setattr(sealing.SealedWriter, "close", lambda self: (_ for _ in ()).throw(OSError("disk")))
    with pytest.raises(PackageFailed):
        fire(case.id, "approve", approver)
    assert [n.kind for n in notices_of(case.id)] == [NoticeKind.INTENT_TO_DISCLOSE]

    monkeypatch.undo()
    fire(case.id, "approve", approver)
    kinds = sorted(n.kind.value for n in notices_of(case.id))
    assert kinds == ["disclosed", "intent_to_disclose"]  # exactly one disclosed notice


# ---- holds ---------------------------------------------------------------------------


def test_a_dated_ndo_holds_the_notice_until_its_end_date(app, make_case, make_customer):
    customer = make_customer()
    ends = today() + timedelta(days=10)
    case = make_case("pending_approval", identifiers=[customer.accounts[0].identifier], ndo=ndo(ends))
    notice = only(notices_of(case.id), NoticeKind.INTENT_TO_DISCLOSE)
    assert notice.hold_reason is HoldReason.NDO and notice.hold_until == ends
    assert notice.released_at is None and notice.delivery is Delivery.WAITING
    assert notice.next_attempt_at is None
    assert db.session.get(Case, case.id).challenge_flagged_at is None  # it ends by itself
    # while held, the notice does not exist for the customer
    assert visible_to(customer.id) == []
    with pytest.raises(NotFound):
        notices.customer_notice(notice.id, customer.id)

    # a second earlier the day before still runs somewhere (at UTC-12)
    assert notices.release_due(begun_everywhere(ends) - timedelta(seconds=1), RELAY) == 0
    assert notices_of(case.id)[0].released_at is None

    on_the_day = begun_everywhere(ends)
    assert notices.release_due(on_the_day, RELAY) == 1
    notice = notices_of(case.id)[0]
    assert notice.released_at == on_the_day and notice.delivery is Delivery.PENDING
    assert notice.next_attempt_at == on_the_day and notice.released_by == RELAY.label
    assert visible_to(customer.id) == [notice.id]
    assert notices.customer_notice(notice.id, customer.id).id == notice.id
    released = events(AuditAction.NOTICE_RELEASED)
    assert len(released) == 1 and released[0].subject_id == str(notice.id)
    assert released[0].data["hold_reason"] == "ndo" and released[0].data["hold_until"] == ends.isoformat()
    assert notices.release_due(on_the_day + timedelta(days=1), RELAY) == 0  # released once


def test_a_dated_ndos_notice_cannot_be_released_by_hand(app, make_case, case_staff):
    case = make_case("redirected", ndo=ndo(today() + timedelta(days=5)))
    notice = notices_of(case.id)[0]
    with pytest.raises(Conflict) as refused:
        notices.release(notice.id, Role.REVIEWER, actor_of(case_staff("reviewer")), "The customer asked.",
                        utcnow())
    assert refused.value.code == "dated_hold"
    assert notices_of(case.id)[0].released_at is None and events(AuditAction.NOTICE_RELEASED) == []


@pytest.fixture
def indefinite(make_case, make_customer):
    customer = make_customer()
    case = make_case("pending_approval", identifiers=[customer.accounts[0].identifier], ndo=ndo(None))
    return case, customer, notices_of(case.id)[0]


def test_an_indefinite_ndo_holds_the_notice_and_flags_the_case(indefinite):
    case, customer, notice = indefinite
    assert notice.hold_reason is HoldReason.NDO_INDEFINITE and notice.hold_until is None
    assert notice.released_at is None and notice.delivery is Delivery.WAITING
    assert db.session.get(Case, case.id).challenge_flagged_at is not None
    assert notices.release_due(utcnow() + timedelta(days=3650), RELAY) == 0  # time alone never ends it
    assert visible_to(customer.id) == []
    with pytest.raises(NotFound):
        notices.customer_notice(notice.id, customer.id)


@pytest.mark.parametrize("role", [Role.INTAKE, Role.ADMIN, Role.AUDITOR, Role.CUSTOMER])
def test_only_a_reviewer_or_approver_releases_a_held_notice(indefinite, make_user, role):
    case, _, notice = indefinite
    user = make_user(role, customer=indefinite[1] if role is Role.CUSTOMER else None)
    with pytest.raises(NotAllowed):
        notices.release(notice.id, role, actor_of(user), "The order was lifted.", utcnow())
    assert notices_of(case.id)[0].released_at is None and events(AuditAction.NOTICE_RELEASED) == []


@pytest.mark.parametrize("note", ["", "   \n ", None])
def test_a_release_needs_a_note(indefinite, case_staff, note):
    case, _, notice = indefinite
    with pytest.raises(InvalidInput) as refused:
        notices.release(notice.id, Role.REVIEWER, actor_of(case_staff("reviewer")), note, utcnow())
    assert "note_required" in refused.value.reasons
    assert notices_of(case.id)[0].released_at is None and events(AuditAction.NOTICE_RELEASED) == []


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.APPROVER])
def test_a_reviewer_or_approver_releases_an_indefinite_hold(indefinite, make_user, role):
    case, customer, notice = indefinite
    user = make_user(role)
    now = utcnow()
    notices.release(notice.id, role, actor_of(user), "The court lifted the order on appeal.", now)
    notice = notices_of(case.id)[0]
    assert notice.released_at == now and notice.released_by == user.email
    assert notice.delivery is Delivery.PENDING and notice.next_attempt_at == now
    assert visible_to(customer.id) == [notice.id]
    [event] = events(AuditAction.NOTICE_RELEASED)
    assert event.actor == user.email and event.actor_id == user.id
    assert event.data["why"] == "The court lifted the order on appeal."
    assert event.data["hold_reason"] == "ndo_indefinite"

    with pytest.raises(Conflict) as again:
        notices.release(notice.id, role, actor_of(user), "Once more.", utcnow())
    assert again.value.code == "already_released" and len(events(AuditAction.NOTICE_RELEASED)) == 1


def test_an_emergency_disclosure_notice_waits_for_a_reviewer(app, make_case, make_customer, case_staff):
    customer = make_customer()
    case = make_case("pending_approval", identifiers=[customer.accounts[0].identifier], process="emergency",
                     request_type="emergency", categories=("subscriber",),
                     emergency_justification="A child is missing; the account holder last contacted her.")
    fire(case.id, "approve", case_staff("approver2"))
    disclosed = only(notices_of(case.id), NoticeKind.DISCLOSED)
    assert disclosed.hold_reason is HoldReason.EMERGENCY and disclosed.hold_until is None
    assert disclosed.released_at is None and disclosed.delivery is Delivery.WAITING
    assert notices.release_due(utcnow() + timedelta(days=365), RELAY) == 0
    assert visible_to(customer.id) == []

    reviewer = case_staff("reviewer")
    notices.release(disclosed.id, Role.REVIEWER, actor_of(reviewer), "The emergency is over.", utcnow())
    assert visible_to(customer.id) == [disclosed.id]
    assert events(AuditAction.NOTICE_RELEASED)[-1].data["hold_reason"] == "emergency"


# ---- NDO extensions ---------------------------------------------------------------------


@pytest.fixture
def dated(make_case, make_customer):
    """A case under an NDO ending in ten days, with its held intent notice."""
    ends = today() + timedelta(days=10)
    customer = make_customer()
    case = make_case("pending_approval", identifiers=[customer.accounts[0].identifier], ndo=ndo(ends))
    return case, ends


def test_an_extension_moves_the_held_notices(dated, case_staff):
    case, ends = dated
    reviewer = case_staff("reviewer")
    later = ends + timedelta(days=20)
    notices.extend_ndo(case.id, Role.REVIEWER, actor_of(reviewer), later, "Extended by order of 3 March.",
                       utcnow())
    db.session.expire_all()
    assert db.session.get(Case, case.id).ndo_ends_on == later
    notice = notices_of(case.id)[0]
    assert notice.hold_reason is HoldReason.NDO and notice.hold_until == later
    [event] = events(AuditAction.NDO_EXTENDED)
    assert event.actor == reviewer.email and event.subject_id == str(case.id)
    assert event.data["before"] == ends.isoformat() and event.data["after"] == later.isoformat()
    assert event.data["held_notices"] == [notice.id]
    assert event.data["note"] == "Extended by order of 3 March."

    assert notices.release_due(begun_everywhere(ends), RELAY) == 0  # the old date no longer releases it
    assert notices.release_due(begun_everywhere(later), RELAY) == 1


BAD_EXTENSIONS = {
    "before_received": lambda ends: today() - timedelta(days=5),  # received yesterday
    "same_as_current": lambda ends: ends,
    "earlier_than_current": lambda ends: ends - timedelta(days=3),
}


@pytest.mark.parametrize("which", BAD_EXTENSIONS)
def test_an_extension_that_does_not_extend_is_refused(dated, case_staff, which):
    case, ends = dated
    with pytest.raises(InvalidInput) as refused:
        notices.extend_ndo(case.id, Role.REVIEWER, actor_of(case_staff("reviewer")),
                           BAD_EXTENSIONS[which](ends), None, utcnow())
    assert refused.value.reasons == ["ends_on"] and "ends_on" in refused.value.fields
    if which == "before_received":
        assert "before the demand was received" in refused.value.message
    db.session.expire_all()
    assert db.session.get(Case, case.id).ndo_ends_on == ends
    assert notices_of(case.id)[0].hold_until == ends
    assert events(AuditAction.NDO_EXTENDED) == []


@pytest.mark.parametrize("role", [Role.INTAKE, Role.ADMIN, Role.AUDITOR, Role.CUSTOMER])
def test_only_a_reviewer_or_approver_records_an_extension(dated, make_user, role):
    case, ends = dated
    user = make_user(role)
    with pytest.raises(NotAllowed):
        notices.extend_ndo(case.id, role, actor_of(user), ends + timedelta(days=30), None, utcnow())
    db.session.expire_all()
    assert db.session.get(Case, case.id).ndo_ends_on == ends and notices_of(case.id)[0].hold_until == ends
    assert events(AuditAction.NDO_EXTENDED) == []


def test_an_extension_to_indefinite_flags_the_case_and_needs_a_reviewer(dated, case_staff):
    case, ends = dated
    approver = case_staff("approver")
    notices.extend_ndo(case.id, Role.APPROVER, actor_of(approver), None, "Now without end.", utcnow())
    db.session.expire_all()
    flagged = db.session.get(Case, case.id)
    assert flagged.ndo_present and flagged.ndo_ends_on is None and flagged.challenge_flagged_at is not None
    notice = notices_of(case.id)[0]
    assert notice.hold_reason is HoldReason.NDO_INDEFINITE and notice.hold_until is None
    assert notices.release_due(begun_everywhere(ends) + timedelta(days=1), RELAY) == 0
    assert events(AuditAction.NDO_EXTENDED)[0].data["after"] is None


@pytest.mark.parametrize("start", ["indefinite", "dated"])
def test_an_ndo_that_has_already_ended_when_recorded_does_not_strand_its_notice(make_case, make_customer,
                                                                                case_staff, start):
    """The court's new end date may already be past when it is recorded (an
    indefinite order lifted as of yesterday; an extension entered late). The held
    notice must still reach the customer: released now or by the relay's next pass,
    or at least releasable by a reviewer."""
    customer = make_customer()
    received = today() - timedelta(days=1)
    first_end = None if start == "indefinite" else today() + timedelta(days=2)
    case = make_case("pending_approval", identifiers=[customer.accounts[0].identifier], ndo=ndo(first_end))
    later = utcnow() + timedelta(days=10)  # when the extension is recorded
    new_end = received if start == "indefinite" else first_end + timedelta(days=3)
    reviewer = case_staff("reviewer")
    notices.extend_ndo(case.id, Role.REVIEWER, actor_of(reviewer), new_end, "Order ended.", later)

    notices.release_due(later, RELAY)
    notice = notices_of(case.id)[0]
    if notice.released_at is None:
        notices.release(notice.id, Role.REVIEWER, actor_of(reviewer), "The order has ended.", later)
        notice = notices_of(case.id)[0]
    assert notice.released_at is not None and notice.delivery is Delivery.PENDING
    assert visible_to(customer.id) == [notice.id]


def test_a_case_without_an_ndo_has_none_to_extend(app, make_case, case_staff):
    case = make_case("pending_approval")
    with pytest.raises(Conflict) as refused:
        notices.extend_ndo(case.id, Role.REVIEWER, actor_of(case_staff("reviewer")),
                           today() + timedelta(days=30), None, utcnow())
    assert refused.value.code == "no_ndo" and events(AuditAction.NDO_EXTENDED) == []


# ---- objections ------------------------------------------------------------------------


def test_a_customer_objects_to_an_intended_disclosure_once(intent):
    notice, user = intent
    now = utcnow()
    objection = notices.file_objection(notice.id, user.customer_id, user.id,
                                       "  The account belongs to a former employee.\n", actor_of(user), now)
    db.session.expire_all()
    stored = db.session.get(Objection, objection.id)
    assert stored.notice_id == notice.id and stored.case_id == notice.case_id
    assert stored.customer_id == user.customer_id and stored.filed_by_id == user.id
    assert stored.statement == "The account belongs to a former employee."
    assert stored.acknowledged_at is None
    [event] = events(AuditAction.OBJECTION_FILED)
    assert event.actor == user.email and event.actor_id == user.id
    assert event.subject_type == "case" and event.subject_id == str(notice.case_id)
    assert event.data["notice_id"] == notice.id and event.data["objection_id"] == objection.id
    assert notices.unacknowledged(notice.case_id) == 1

    with pytest.raises(Conflict) as again:
        notices.file_objection(notice.id, user.customer_id, user.id, "And another thing.", actor_of(user),
                               utcnow())
    assert again.value.code == "already_objected"
    assert objection_count() == 1 and len(events(AuditAction.OBJECTION_FILED)) == 1
    db.session.expire_all()
    assert db.session.get(Objection, objection.id).statement == "The account belongs to a former employee."


@pytest.mark.parametrize("kind", ["redirected", "disclosed"])
def test_only_an_intent_to_disclose_can_be_objected_to(app, make_case, make_customer, make_user, kind):
    customer = make_customer()
    case = make_case(kind, identifiers=[customer.accounts[0].identifier])
    notice = only(notices_of(case.id), NoticeKind(kind))
    user = make_user(Role.CUSTOMER, customer=customer)
    with pytest.raises(Conflict) as refused:
        notices.file_objection(notice.id, customer.id, user.id, "We object.", actor_of(user), utcnow())
    assert refused.value.code == "wrong_kind"
    assert objection_count() == 0 and events(AuditAction.OBJECTION_FILED) == []


@pytest.mark.parametrize("statement", ["", "  \n\t ", None])
def test_an_empty_objection_is_refused(intent, statement):
    notice, user = intent
    with pytest.raises(InvalidInput) as refused:
        notices.file_objection(notice.id, user.customer_id, user.id, statement, actor_of(user), utcnow())
    assert refused.value.reasons == ["statement"]
    assert objection_count() == 0 and events(AuditAction.OBJECTION_FILED) == []


def test_another_customers_notice_cannot_be_objected_to(intent, make_customer, make_user):
    notice, _ = intent
    stranger = make_user(Role.CUSTOMER, customer=make_customer())
    with pytest.raises(NotFound):
        notices.file_objection(notice.id, stranger.customer_id, stranger.id, "Not ours, but we object.",
                               actor_of(stranger), utcnow())
    with pytest.raises(NotFound):  # nor one that does not exist at all
        notices.file_objection(notice.id + 1000, stranger.customer_id, stranger.id, "We object.",
                               actor_of(stranger), utcnow())
    assert objection_count() == 0 and events(AuditAction.OBJECTION_FILED) == []


def test_a_held_intent_cannot_be_objected_to(make_case, make_customer, make_user):
    customer = make_customer()
    case = make_case("pending_approval", identifiers=[customer.accounts[0].identifier], ndo=ndo(None))
    user = make_user(Role.CUSTOMER, customer=customer)
    with pytest.raises(NotFound):  # it does not exist for the customer yet
        notices.file_objection(notices_of(case.id)[0].id, customer.id, user.id, "We object.", actor_of(user),
                               utcnow())
    assert objection_count() == 0


def test_an_objection_on_a_closed_case_is_refused(intent, case_staff):
    notice, user = intent
    fire(notice.case_id, "send_back", case_staff("approver"), note="Not enough to go on.")
    fire(notice.case_id, "reject", case_staff("reviewer"), reason="overbroad")
    assert not notices.may_object(db.session.get(Notice, notice.id))
    with pytest.raises(Conflict) as refused:
        notices.file_objection(notice.id, user.customer_id, user.id, "We object.", actor_of(user), utcnow())
    assert refused.value.code == "case_closed" and objection_count() == 0


def test_approve_waits_until_the_approver_acknowledges_the_objection(intent, case_staff):
    notice, user = intent
    case_id = notice.case_id
    objection = notices.file_objection(notice.id, user.customer_id, user.id, "The data is privileged.",
                                       actor_of(user), utcnow())
    approver = case_staff("approver2")

    with pytest.raises(InvalidInput) as refused:
        fire(case_id, "approve", approver)
    assert refused.value.code == "guard_failed" and refused.value.reasons == ["objection_unacknowledged"]
    assert "acknowledge" in refused.value.message
    assert db.session.get(Case, case_id).state is State.PENDING_APPROVAL
    assert [n.kind for n in notices_of(case_id)] == [NoticeKind.INTENT_TO_DISCLOSE]

    reviewer = case_staff("reviewer")
    with pytest.raises(NotAllowed):
        notices.acknowledge(objection.id, Role.REVIEWER, actor_of(reviewer), reviewer.id, None, utcnow())
    db.session.expire_all()
    assert db.session.get(Objection, objection.id).acknowledged_at is None
    with pytest.raises(InvalidInput):
        fire(case_id, "approve", approver)

    notices.acknowledge(objection.id, Role.APPROVER, actor_of(approver), approver.id,
                        "Privilege does not cover subscriber records; noted.", utcnow())
    db.session.expire_all()
    acknowledged = db.session.get(Objection, objection.id)
    assert acknowledged.acknowledged_by_id == approver.id and acknowledged.acknowledged_at is not None
    assert acknowledged.acknowledgement == "Privilege does not cover subscriber records; noted."
    [event] = events(AuditAction.OBJECTION_ACKNOWLEDGED)
    assert event.actor == approver.email and event.data["objection_id"] == objection.id
    assert notices.unacknowledged(case_id) == 0
    with pytest.raises(Conflict) as again:
        notices.acknowledge(objection.id, Role.APPROVER, actor_of(approver), approver.id, None, utcnow())
    assert again.value.code == "already_acknowledged"

    fire(case_id, "approve", approver)
    db.session.expire_all()
    assert db.session.get(Case, case_id).state is State.DISCLOSED
    assert only(notices_of(case_id), NoticeKind.DISCLOSED).released_at is not None
