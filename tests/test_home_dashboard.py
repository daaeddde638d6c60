"""The staff home as the day's work (DESIGN 11.5): counts of what waits, each a
link to the queue filtered to exactly those cases; for approvers, the proposals
someone else made."""

import re
from datetime import timedelta

import sqlalchemy as sa

from models import Case, Delivery, Notice, Objection, Role, db, utcnow
from tests.conftest import api_headers, caller_for, sign_in
from workflows.cases import dashboard
from workflows.cases.machine import Move, advance


def signed_in(new_client, user):
    client = new_client()
    sign_in(client, user)
    return client


def tallies(page: str) -> dict[str, tuple[str, str]]:
    """label -> (count shown, link) from the home page."""
    found = re.findall(r'<a class="tally-link" href="([^"]+)"><span class="tally-n">([^<]+)</span>\s*'
                       r'<span class="tally-label">([^<]+)</span>', page)
    return {label: (n, link.replace("&amp;", "&")) for link, n, label in found}


def references(page: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/cases/\d+">(LE-\d{4}-\d{6})</a>', page)


def set_case(case_id: int, **values) -> None:
    db.session.execute(sa.update(Case).where(Case.id == case_id).values(**values))
    db.session.commit()


def test_an_approver_sees_what_awaits_their_approval(app, new_client, make_user, make_case, case_staff):
    theirs = make_case("pending_approval")  # proposed by make_case's reviewer
    approver = make_user(Role.APPROVER)
    own = make_case("legal_review")
    advance(own.id, Move("propose_disclosure", categories=["content"]), caller_for(approver), utcnow())
    client = signed_in(new_client, approver)
    page = client.get("/home").get_data(as_text=True)
    n, link = tallies(page)["Awaiting my approval"]
    assert n == "1"
    assert references(client.get(link).get_data(as_text=True)) == [theirs.reference]
    assert "awaiting your approval" in client.get(link).get_data(as_text=True)
    # The other approver sees both.
    other = signed_in(new_client, case_staff("approver2"))
    assert tallies(other.get("/home").get_data(as_text=True))["Awaiting my approval"][0] == "2"


def test_a_reviewer_sees_their_deadlines_and_the_teams(app, new_client, make_user, make_case):
    reviewer = make_user(Role.REVIEWER)
    now = utcnow()
    late, soon, calm = (make_case("received") for _ in range(3))
    set_case(late.id, assignee_id=reviewer.id, due_at=now - timedelta(hours=3))
    set_case(soon.id, assignee_id=reviewer.id, due_at=now + timedelta(hours=20))
    set_case(calm.id, assignee_id=reviewer.id, due_at=now + timedelta(days=9))
    emergency = make_case("received", process="emergency", request_type="emergency",
                          emergency_justification="A child is missing; location needed now.")
    someone_elses = make_case("legal_review")
    set_case(someone_elses.id, due_at=now - timedelta(hours=1))

    client = signed_in(new_client, reviewer)
    shown = tallies(client.get("/home").get_data(as_text=True))
    assert "Awaiting my approval" not in shown
    expected = {"My cases overdue": [late], "My cases due within 48 hours": [soon],
                "Emergencies nobody has taken": [emergency]}
    for label, listed in expected.items():
        n, link = shown[label]
        assert n == str(len(listed)), label
        assert references(client.get(link).get_data(as_text=True)) == [c.reference for c in listed], label
    overdue = references(client.get(shown["Overdue, all cases"][1]).get_data(as_text=True))
    assert set(overdue) >= {late.reference, someone_elses.reference}
    assert shown["Overdue, all cases"][0] == str(len(overdue))


def test_objections_holds_and_failed_notices_are_counted(app, new_client, make_user, make_case):
    case = make_case("pending_approval")
    notice = db.session.scalar(sa.select(Notice).where(Notice.case_id == case.id))
    customer_user = make_user(Role.CUSTOMER, customer=notice.customer)
    db.session.add(Objection(notice_id=notice.id, case_id=case.id, customer_id=notice.customer_id,
                             statement="We object.", filed_by_id=customer_user.id, filed_at=utcnow()))
    notice.delivery = Delivery.FAILED
    db.session.commit()
    ending = make_case("preserved", process="preservation_request", categories=("subscriber",))
    lasting = make_case("preserved", process="preservation_request", categories=("subscriber",))
    set_case(ending.id, preserved_until=utcnow() + timedelta(days=3))
    set_case(lasting.id, preserved_until=utcnow() + timedelta(days=60))

    client = signed_in(new_client, make_user(Role.AUDITOR))
    shown = tallies(client.get("/home").get_data(as_text=True))
    n, link = shown["Objections not yet acknowledged"]
    assert n == "1" and references(client.get(link).get_data(as_text=True)) == [case.reference]
    n, link = shown["Preservations ending within 14 days"]
    assert n == "1" and references(client.get(link).get_data(as_text=True)) == [ending.reference]
    n, link = shown["Notices that failed to send"]
    assert n == "1" and link.endswith("/notices/#failed-heading")


def test_counts_stop_at_the_cap(app, new_client, make_user, make_case, monkeypatch):
    monkeypatch.setattr(dashboard, "COUNT_CAP", 2)
    for _ in range(3):
        case = make_case("received")
        set_case(case.id, due_at=utcnow() - timedelta(days=1))
    client = signed_in(new_client, make_user(Role.INTAKE))
    shown = tallies(client.get("/home").get_data(as_text=True))
    assert shown["Overdue, all cases"][0] == "2+"
    assert shown["Logged, no reviewer has started"][0] == "2+"


def test_the_api_lists_what_the_home_counts(app, new_client, make_user, make_case):
    theirs = make_case("pending_approval")
    client = new_client()
    api_headers(client, make_user(Role.APPROVER))
    resp = client.get("/api/v1/cases?awaiting_approval=yes")
    assert [c["reference"] for c in resp.get_json()["items"]] == [theirs.reference]
    for name in ("open_objection", "hold_ends_soon", "awaiting_approval"):
        assert client.get(f"/api/v1/cases?{name}=maybe").status_code == 422
