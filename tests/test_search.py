"""Finding a case by what a reviewer knows (DESIGN 11.5): its reference, the agency's
case number or an account it names, exactly; failing those, the agency's name by its
start. In the queue page and in GET /api/v1/cases, on both engines; the account
index follows the case through intake and amendments, and the migration fills it
for cases logged before it."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from models import Case, CaseIdentifier, Role, State, db
from tests.conftest import api_headers, assert_error, caller_for, sign_in
from workflows.cases import relative_deadline
from workflows.cases.machine import Move, advance

URL = "/api/v1/cases"


@pytest.fixture
def world(make_case, make_agency):
    seattle = make_agency(name="Seattle Police Department").agency
    met = make_agency(name="Metropolitan Police Service", country="GB").agency
    return {
        "alice": make_case("legal_review", agency=seattle, identifiers=["alice@contoso.example"],
                           legal_process={"case_number": "26-1-00042-1"}),
        "bob": make_case("rejected", agency=met, identifiers=["bob@fabrikam.example"]),
        "carol": make_case("received", agency=met, identifiers=["carol@fabrikam.example"]),
    }


@pytest.fixture
def api(new_client, make_user):
    client = new_client()
    api_headers(client, make_user(Role.REVIEWER))
    return client


def found(client, **query) -> list[str]:
    resp = client.get(URL, query_string=query)
    assert resp.status_code == 200, resp.get_json()
    return [item["reference"] for item in resp.get_json()["items"]]


def test_a_reference_a_case_number_or_an_account_finds_its_case_exactly(app, api, world):
    alice, bob = world["alice"].reference, world["bob"].reference
    assert found(api, q=alice.lower()) == [alice]
    assert found(api, q="26-1-00042-1") == [alice]
    assert found(api, q="  ALICE@Contoso.example ") == [alice]  # as intake stores it
    assert found(api, q="bob@fabrikam.example") == [bob]  # closed cases too
    assert found(api, q="bob@fabrikam.example", state="legal_review") == []
    assert found(api, q="alice@contoso") == []  # exact, not a fragment


def test_otherwise_agency_names_by_their_start(app, api, world):
    met = sorted([world["bob"].reference, world["carol"].reference])
    assert sorted(found(api, q="metropolitan")) == met
    assert sorted(found(api, q="Metro")) == met
    assert found(api, q="police") == []  # a start, not a word inside
    assert found(api, q="100%") == [] and found(api, q="_") == []  # wildcards are plain characters


def test_the_list_pages_and_filters_as_the_queue_does(app, api, world, make_user):
    body = api.get(URL).get_json()
    assert sorted(i["reference"] for i in body["items"]) == sorted(
        [world["alice"].reference, world["carol"].reference])  # open cases without a search
    item = next(i for i in body["items"] if i["reference"] == world["alice"].reference)
    assert item["agency"]["name"] == "Seattle Police Department" and item["assignee"]["email"]
    assert body["next"] is None
    assert found(api, assignee="me") == []
    assert found(api, assignee="none") == [world["carol"].reference]


@pytest.mark.parametrize("query, reason", [({"q": "a\x00b"}, "q"), ({"q": "x" * 255}, "q"),
                                           ({"state": "lost"}, "state"), ({"assignee": "nobody"}, "assignee"),
                                           ({"after": "not-a-cursor"}, "after")])
def test_a_bad_query_is_a_clear_422(app, api, query, reason):
    body = assert_error(api.get(URL, query_string=query), 422, "invalid_input")
    assert body["reasons"] == [reason]


def test_customers_and_officers_cannot_list_cases(app, new_client, make_user):
    for role in (Role.CUSTOMER, Role.OFFICER, Role.ADMIN):
        client = new_client()
        sign_in(client, make_user(role))
        assert client.get(URL).status_code in (401, 403)


def test_the_account_index_follows_an_amendment(app, api, make_case, case_staff):
    case = make_case("legal_review", identifiers=[])
    advance(case.id, Move("amend", identifiers=["Dana@Fabrikam.example"], version=case.version,
                          note="The agency's amended warrant names one account."),
            caller_for(case_staff("reviewer")), datetime.now(UTC))
    assert found(api, q="dana@fabrikam.example") == [case.reference]
    rows = db.session.scalars(sa.select(CaseIdentifier.identifier).where(CaseIdentifier.case_id == case.id))
    assert list(rows) == ["dana@fabrikam.example"]


def test_the_queue_page_searches_and_says_what_is_due(app, new_client, make_user, world):
    client = new_client()
    sign_in(client, make_user(Role.REVIEWER))
    page = client.get("/cases/", query_string={"q": "26-1-00042-1"}).get_data(as_text=True)
    assert world["alice"].reference in page and world["carol"].reference not in page
    assert "Cases matching “26-1-00042-1”" in page and "due in " in page
    page = client.get("/cases/", query_string={"q": "nothing-like-it"}).get_data(as_text=True)
    assert "No case matches “nothing-like-it”." in page
    resp = client.get("/cases/", query_string={"q": "a\x01b"})
    assert resp.status_code == 422 and "control characters" in resp.get_data(as_text=True)


def test_the_migration_indexes_the_cases_logged_before_it(app, world):
    db.session.remove()
    downgrade(revision="0016")
    upgrade()
    rows = db.session.execute(sa.select(CaseIdentifier.case_id, CaseIdentifier.identifier)
                              .order_by(CaseIdentifier.case_id)).all()
    assert [r.identifier for r in rows] == ["alice@contoso.example", "bob@fabrikam.example",
                                            "carol@fabrikam.example"]


def test_relative_deadlines_read_as_a_reviewer_says_them():
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert relative_deadline(now + timedelta(hours=5, minutes=20), now) == "due in 5 h"
    assert relative_deadline(now + timedelta(minutes=20), now) == "due in 20 min"
    assert relative_deadline(now - timedelta(days=2, hours=3), now) == "overdue by 2 days"
    assert relative_deadline(now + timedelta(days=9), now) == "due in 9 days"


# ---- sorting --------------------------------------------------------------------------------------

@pytest.fixture
def spread(make_case, make_agency):
    """Six open cases from three agencies, received on different days, in three states."""
    agencies = [make_agency(name=name).agency for name in ("Zeta Police", "Alpha Sheriff", "Mid County DA")]
    made = []
    for n, (state, agency) in enumerate([("received", 0), ("legal_review", 1), ("challenged", 2),
                                         ("received", 1), ("legal_review", 2), ("challenged", 0)]):
        received = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=n)
        made.append(make_case(state, agency=agencies[agency], received_at=received.isoformat()))
    return made


def test_cases_sort_by_received_state_or_agency(app, api, spread):
    newest = [c.reference for c in sorted(spread, key=lambda c: c.received_at, reverse=True)]
    assert found(api, sort="received") == newest
    states = found(api, sort="state")
    by_ref = {c.reference: c for c in spread}
    assert [by_ref[r].state.value for r in states] == sorted(c.state.value for c in spread)
    names = [by_ref[r].agency.name for r in found(api, sort="agency")]
    assert names == sorted(names) and names[0] == "Alpha Sheriff"
    body = assert_error(api.get(URL, query_string={"sort": "colour"}), 422, "invalid_input")
    assert body["reasons"] == ["sort"]


@pytest.mark.parametrize("sort", ["due", "received", "state", "agency"])
def test_each_sort_pages_through_every_case_once(app, spread, sort):
    from workflows.cases import page, parse_filters

    filters = parse_filters({"sort": sort})
    whole = [c.id for c in page(filters, datetime.now(UTC), size=100).cases]
    walked, after = [], None
    while True:
        one = page(filters, datetime.now(UTC), after, size=2)
        walked += [c.id for c in one.cases]
        if one.next_cursor is None:
            break
        after = type(one.next_cursor).decode(one.next_cursor.encode(), sort)
    assert walked == whole and len(whole) == len(spread)


def test_a_page_link_of_another_sort_is_refused(app, api, spread):
    from workflows.cases import page, parse_filters

    cursor = page(parse_filters({"sort": "agency"}), datetime.now(UTC), size=2).next_cursor.encode()
    assert found(api, sort="agency", after=cursor)  # its own sort takes it
    resp = api.get(URL, query_string={"sort": "received", "after": cursor})
    body = assert_error(resp, 422, "invalid_input")
    assert body["reasons"] == ["after"]


def test_a_search_by_agency_prefix_pages_through_each_agencys_cases_in_deadline_order(app, make_case,
                                                                                       make_agency):
    """The cases of several agencies a prefix names come one index range per agency,
    merged: the same order and the same cases as one sorted query, page by page,
    closed cases included."""
    from workflows.cases import Filters, page

    named = [make_agency(name=name).agency for name in ("Alpha Sheriff", "Alpha Police", "Alphabet Unit")]
    other = make_agency(name="Beta Police").agency
    made = []
    for n, state in enumerate(["received", "legal_review", "rejected", "received", "challenged", "withdrawn",
                               "legal_review"]):
        received = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=n % 4, hours=n)
        made.append(make_case(state, agency=named[n % 3], received_at=received.isoformat()).id)
    make_case("received", agency=other)
    now = datetime.now(UTC)
    expected = db.session.scalars(sa.select(Case.id).where(Case.id.in_(made))
                                  .order_by(Case.priority, Case.due_at, Case.id)).all()
    walked, after = [], None
    while True:
        one = page(Filters(q="alpha"), now, after, size=2)
        walked += [c.id for c in one.cases]
        if one.next_cursor is None:
            break
        after = type(one.next_cursor).decode(one.next_cursor.encode(), "due")
    assert walked == expected and len(walked) == 7
    assert [c.id for c in page(Filters(q="alpha", state=State.RECEIVED), now).cases] == [
        i for i in expected if db.session.get(Case, i).state is State.RECEIVED]
