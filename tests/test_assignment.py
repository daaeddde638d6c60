"""Who works a case (DESIGN 11.5): reviewers take a case or the next one and hand
back their own; approvers assign anyone who can review; several cases at once,
all or none. An assignment is audited and is not a transition."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import AuditAction, AuditEvent, Case, Role, db, utcnow
from tests.conftest import api_headers, assert_error, caller_for, post_form, sign_in
from tests.test_case_concurrency import in_threads
from workflows import cases
from workflows.errors import Conflict


def signed_in(new_client, user):
    client = new_client()
    sign_in(client, user)
    return client


def assignee_of(case_id: int) -> int | None:
    db.session.expire_all()
    return db.session.get(Case, case_id).assignee_id


def assigned_events(case_id: int) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.CASE_ASSIGNED.value, AuditEvent.subject_id == str(case_id))
        .order_by(AuditEvent.seq)))


def take(client, case_id: int, assignee="me", expected=None):
    data = {"assignee": assignee} | ({"expected": expected} if expected is not None else {})
    return post_form(client, f"/cases/{case_id}/assignment", data, page_url=f"/cases/{case_id}")


def test_a_reviewer_takes_a_case_and_hands_it_back(app, new_client, make_user, make_case):
    case = make_case("received")
    version = case.version
    reviewer = make_user(Role.REVIEWER)
    staff = signed_in(new_client, reviewer)
    page = staff.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Take this case" in page and "<strong>Unassigned</strong>" in page

    resp = take(staff, case.id, expected="none")
    assert resp.status_code == 303
    assert assignee_of(case.id) == reviewer.id
    assert db.session.get(Case, case.id).version == version  # not a transition
    page = staff.get(f"/cases/{case.id}").get_data(as_text=True)
    assert f"You have taken {case.reference}." in page and "Assigned to <strong>you</strong>" in page
    assert "Hand it back" in page

    # Another reviewer cannot take it, nor hand it back for them.
    other = signed_in(new_client, make_user(Role.REVIEWER))
    resp = take(other, case.id)
    assert resp.status_code == 409 and "already assigned to" in resp.get_data(as_text=True)
    assert take(other, case.id, "none").status_code == 403
    assert take(other, case.id, str(reviewer.id)).status_code == 403
    assert assignee_of(case.id) == reviewer.id

    assert take(staff, case.id, "none", expected=str(reviewer.id)).status_code == 303
    assert assignee_of(case.id) is None
    events = assigned_events(case.id)
    assert [(e.data["from"], e.data["to"]) for e in events] == [(None, reviewer.id), (reviewer.id, None)]
    assert {e.actor for e in events} == {reviewer.email}


def test_an_approver_assigns_only_active_people_who_can_review(app, new_client, make_user, make_case):
    case = make_case("legal_review")  # started by make_case's reviewer, who has it
    approver = make_user(Role.APPROVER)
    reviewer = make_user(Role.REVIEWER)
    staff = signed_in(new_client, approver)
    page = staff.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="assign-to"' in page and reviewer.email in page

    before = case.assignee_id
    assert take(staff, case.id, str(reviewer.id), expected=str(before)).status_code == 303
    assert assignee_of(case.id) == reviewer.id

    # The page it was sent from showed the earlier assignee: refused, not overwritten.
    resp = take(staff, case.id, "none", expected=str(before))
    assert resp.status_code == 409 and "since you loaded it" in resp.get_data(as_text=True)
    assert assignee_of(case.id) == reviewer.id

    clerk = make_user(Role.INTAKE)
    gone = make_user(Role.REVIEWER)
    gone.active = False
    db.session.commit()
    for who in (clerk.id, gone.id, 999_999):
        resp = take(staff, case.id, str(who))
        assert resp.status_code == 422 and "active reviewer or approver" in resp.get_data(as_text=True)
    assert take(staff, case.id, "somebody").status_code == 422
    assert assignee_of(case.id) == reviewer.id
    assert len(assigned_events(case.id)) == 1


def test_closed_cases_are_not_assigned_and_others_may_not_assign(app, new_client, make_user, make_case):
    closed = make_case("rejected")
    approver = signed_in(new_client, make_user(Role.APPROVER))
    resp = take(approver, closed.id)
    assert resp.status_code == 409 and "is closed" in resp.get_data(as_text=True)
    case = make_case("received")
    for role in (Role.INTAKE, Role.AUDITOR, Role.ADMIN):
        client = signed_in(new_client, make_user(role))
        assert take(client, case.id).status_code == 403
    assert assignee_of(case.id) is None and assigned_events(case.id) == []


def test_take_the_next_case_in_the_queues_order(app, new_client, make_user, make_case):
    later = make_case("received")
    sooner = make_case("legal_review")  # started by a reviewer, then handed back below
    emergency = make_case("received", process="emergency", request_type="emergency",
                          emergency_justification="A child is missing; location needed now.")
    make_case("pending_approval")  # waits for an approver, not a reviewer
    db.session.execute(sa.update(Case).where(Case.id == sooner.id).values(assignee_id=None))
    nine_days_later = later.due_at + timedelta(days=9)
    db.session.execute(sa.update(Case).where(Case.id == later.id).values(due_at=nine_days_later))
    db.session.commit()

    reviewer = make_user(Role.REVIEWER)
    staff = signed_in(new_client, reviewer)
    assert "Take the next case" in staff.get("/cases/").get_data(as_text=True)
    order = []
    for _ in range(3):
        resp = post_form(staff, "/cases/next", page_url="/cases/")
        assert resp.status_code == 303
        order.append(int(resp.headers["Location"].rsplit("/", 1)[1]))
    assert order == [emergency.id, sooner.id, later.id]
    assert all(assignee_of(i) == reviewer.id for i in order)
    resp = post_form(staff, "/cases/next", {"listing": "mine"}, page_url="/cases/")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/cases/mine")
    assert "No unassigned case is waiting for review." in staff.get("/cases/mine").get_data(as_text=True)


def test_several_cases_at_once_all_or_none(app, new_client, make_user, make_case):
    first, second, third = (make_case("received") for _ in range(3))
    reviewer = make_user(Role.REVIEWER)
    rival = make_user(Role.REVIEWER)
    cases.assign(third.id, rival.id, caller_for(rival), utcnow())
    db.session.commit()

    staff = signed_in(new_client, reviewer)
    page = staff.get("/cases/?state=received").get_data(as_text=True)
    assert f'aria-label="Choose {first.reference}"' in page and "Take the ticked cases" in page
    resp = post_form(staff, "/cases/assignments", {
        "case": [str(first.id), str(second.id), str(third.id)], "assign_to": "me", "state": "received"},
        page_url="/cases/")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "Nothing was assigned." in body and third.reference in body
    assert 'class="queue"' in body  # the queue again, as it was filtered
    assert [assignee_of(c.id) for c in (first, second)] == [None, None]

    resp = post_form(staff, "/cases/assignments", {
        "case": [str(first.id), str(second.id)], "assign_to": "me", "state": "received"}, page_url="/cases/")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/cases/?state=received")
    assert [assignee_of(c.id) for c in (first, second)] == [reviewer.id, reviewer.id]

    approver = signed_in(new_client, make_user(Role.APPROVER))
    resp = post_form(approver, "/cases/assignments", {
        "case": [str(first.id), str(second.id), str(third.id)], "assign_to": str(rival.id)},
        page_url="/cases/")
    assert resp.status_code == 303
    assert "3 cases are now assigned to " + rival.email in approver.get("/cases/").get_data(as_text=True)
    assert {assignee_of(c.id) for c in (first, second, third)} == {rival.id}
    for data in ({"assign_to": "me"}, {"case": ["x"], "assign_to": "me"},
                 {"case": [str(i) for i in range(1, 52)], "assign_to": "me"}):
        assert post_form(approver, "/cases/assignments", data, page_url="/cases/").status_code == 422


def test_the_api_assigns_a_case(app, new_client, make_user, make_case):
    case = make_case("received")
    reviewer = make_user(Role.REVIEWER)
    client = new_client()
    headers = api_headers(client, reviewer)
    url = f"/api/v1/cases/{case.id}/assignment"
    resp = client.post(url, json={"assignee_id": reviewer.id, "current_assignee_id": None}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["assignee"]["id"] == reviewer.id
    assert resp.get_json()["version"] == case.version
    other = make_user(Role.REVIEWER)
    assert_error(client.post(url, json={"assignee_id": other.id}, headers=headers), 403, "not_yours")
    assert_error(client.post(url, json={"assignee_id": None, "current_assignee_id": other.id},
                             headers=headers), 409, "assignment_changed")
    assert_error(client.post(url, json={}, headers=headers), 422, "invalid_input", ["assignee_id"])
    assert_error(client.post("/api/v1/cases/999999/assignment", json={"assignee_id": None}, headers=headers),
                 404, "not_found")

    boss = new_client()
    boss_headers = api_headers(boss, make_user(Role.APPROVER))
    resp = boss.post(url, json={"assignee_id": other.id, "current_assignee_id": reviewer.id},
                     headers=boss_headers)
    assert resp.status_code == 200 and resp.get_json()["assignee"]["id"] == other.id
    assert_error(boss.post(url, json={"assignee_id": make_user(Role.AUDITOR).id}, headers=boss_headers),
                 422, "invalid_input", ["assignee_id"])
    assert assignee_of(case.id) == other.id and len(assigned_events(case.id)) == 2


@pytest.mark.slow
def test_two_reviewers_taking_one_case_at_once_leave_one_assignee(app, make_user, make_case):
    case_id = make_case("received").id
    callers = [caller_for(make_user(Role.REVIEWER)) for _ in range(2)]

    def taker(caller):
        def job():
            cases.assign(case_id, caller.user_id, caller, utcnow(), expected=None)
            db.session.commit()
            return caller.user_id
        return job

    results = in_threads(app, [taker(c) for c in callers])
    winners = [r for r in results if not isinstance(r, Conflict)]
    assert len(winners) == 1 and [r.code for r in results if isinstance(r, Conflict)] in (
        ["taken"], ["assignment_changed"])
    assert assignee_of(case_id) == winners[0] and len(assigned_events(case_id)) == 1


@pytest.mark.slow
def test_two_reviewers_taking_the_next_case_at_once_get_different_cases(app, make_user, make_case):
    made = sorted(make_case("received").id for _ in range(2))
    callers = [caller_for(make_user(Role.REVIEWER)) for _ in range(2)]

    def taker(caller):
        def job():
            case = cases.take_next(caller, utcnow())
            db.session.commit()
            return case.id
        return job

    taken = in_threads(app, [taker(c) for c in callers])
    assert sorted(taken) == made
    assert {assignee_of(i) for i in made} == {c.user_id for c in callers}

