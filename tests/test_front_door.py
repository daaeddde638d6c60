"""The public front door at / (DESIGN 11.5): the reports first, then where a customer
who received a notice goes, and how an agency submits; never a staff sign-in form
for a member of the public. Signed-in people go on to their own home."""

import pytest

from models import Role, utcnow
from tests.conftest import sign_in
from workflows import reports
from workflows.audit import Actor


def test_a_member_of_the_public_finds_the_reports_a_customers_way_and_an_agencys(client):
    resp = client.get("/")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    for words in ("Transparency reports", "No report has been published yet", "Received a notice from us?",
                  "Agencies: how to submit", 'href="/agency/register"', 'href="/password/forgot"',
                  'href="/api/v1/openapi.json"'):
        assert words in page, words
    assert 'type="password"' not in page  # no sign-in form here
    assert page.index("Transparency reports") < page.index("Received a notice") < page.index("Agencies")


def test_the_latest_report_leads(client, make_case):
    make_case("disclosed", received_at="2026-03-02T10:00:00Z",
              legal_process={"type": "subpoena", "issued_on": "2026-02-01", "judicial": False},
              categories=("subscriber",))
    make_case("rejected", received_at="2026-04-02T10:00:00Z")
    reports.publish(reports.Period.parse("2026-H1"), Actor.system("test"), None, utcnow())
    page = client.get("/").get_data(as_text=True)
    assert "we received <strong>2</strong> demands" in page
    assert 'href="/transparency/2026-H1"' in page and "Read the 2026-H1 report" in page
    assert "<strong>1</strong> rejected" in page and "no data found" not in page  # zero outcomes left out


@pytest.mark.parametrize("role, home", [(Role.REVIEWER, "/home"), (Role.OFFICER, "/agency/")])
def test_signed_in_people_go_on_to_their_home(client, make_user, role, home):
    sign_in(client, make_user(role))
    resp = client.get("/")
    assert resp.status_code == 302 and resp.headers["Location"] == home
