"""Officers who register themselves (DESIGN 11.4): an address on one of an agency's
registered domains, confirmed by the link mailed to it, then verified by staff
before the officer sees anything."""

import html
import re

import pytest
import sqlalchemy as sa

from models import AgencyDomain, AuditAction, AuditEvent, MailKind, MailMessage, Role, User, db, utcnow
from tests.conftest import csrf_from, fresh_code, pairs, relay_pass
from workflows.audit import Actor
from workflows.errors import Conflict, InvalidInput
from workflows.identity import directory

LINK = re.compile(r"https://due-process\.provider\.example/agency/invitation/([A-Za-z0-9_-]+)")
PASSPHRASE = "an officer's own passphrase"




@pytest.fixture
def agency(make_agency):
    agency = make_agency(name="Seattle Police", phone="+1 206 555 0199").agency
    directory.add_agency_domain(agency.id, "SPD.example", Actor.system("cli"), utcnow())
    db.session.commit()
    return agency




def register(client, email: str, name: str = "Det. Ana Ruiz"):
    page = client.get("/agency/register").get_data(as_text=True)
    return client.post("/agency/register", data={"email": email, "name": name, "csrf_token": csrf_from(page)})


def test_an_officer_registers_confirms_and_waits_for_verification(app, agency, new_client, mailbox, cli):
    resp = register(new_client(), "ana.ruiz@spd.example")
    assert resp.status_code == 200 and "Seattle Police" in resp.get_data(as_text=True)
    ana = db.session.scalar(sa.select(User).where(User.email == "ana.ruiz@spd.example"))
    assert ana.role is Role.OFFICER and ana.agency_id == agency.id and ana.officer_verified_at is None
    relay_pass()
    [message] = mailbox.handler.messages()
    assert message.to == "ana.ruiz@spd.example" and "Seattle Police" in message.subject
    token = LINK.search(message.text).group(1)

    browser = new_client()
    page = browser.get(f"/agency/invitation/{token}").get_data(as_text=True)
    assert browser.post(f"/agency/invitation/{token}", data={
        "password": PASSPHRASE, "confirm": PASSPHRASE, "csrf_token": csrf_from(page)}).status_code == 303
    page = browser.get("/sign-in").get_data(as_text=True)
    browser.post("/sign-in", data={"email": ana.email, "password": PASSPHRASE, "csrf_token": csrf_from(page)})
    page = browser.get("/sign-in/enrol").get_data(as_text=True)
    db.session.refresh(ana)
    assert browser.post("/sign-in/enrol", data={"code": fresh_code(ana), "csrf_token": csrf_from(page)}
                        ).headers["Location"] == "/agency/"
    home = browser.get("/agency/").get_data(as_text=True)
    assert "Not yet verified" in home  # nothing before staff verify her
    result = cli("officers", "verify", str(ana.id), "--method", "callback", "--phone", "+1 206 555 0199",
                 "--spoke-with", "Sgt. Lee")
    assert result.exit_code == 0, result.output
    events = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.OFFICER_REGISTERED.value)).all()
    assert [e.data["new"] for e in events] == [True]


def test_an_address_on_no_agency_domain_is_refused(app, agency, new_client):
    for email in ("ana@gmail.example", "ana@sub.spd.example", "ana@spd.example.evil.example"):
        resp = register(new_client(), email)
        assert resp.status_code == 422
        assert "on no agency's registered domain" in html.unescape(resp.get_data(as_text=True))
    officers = sa.select(sa.func.count()).select_from(User).where(User.role == Role.OFFICER)
    assert db.session.scalar(officers) == 0


def test_registering_a_taken_address_makes_nothing_new_and_tells_its_owner(app, agency, new_client,
                                                                           make_user, mailbox):
    ana = make_user(Role.OFFICER, email="ana.ruiz@spd.example", agency=agency)
    ana.last_sign_in_at = utcnow()  # she has signed in before
    db.session.commit()
    count = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    first = register(new_client(), "ana.ruiz@spd.example").get_data(as_text=True)
    assert "Check your e-mail" in first
    [message] = db.session.scalars(sa.select(MailMessage).where(MailMessage.kind == MailKind.INVITATION))
    assert "already has an account" in message.body and "/agency/invitation/" not in message.body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == count


def test_registering_again_before_confirming_sends_a_new_link_and_spends_the_old(app, agency, new_client,
                                                                                 mailbox):
    register(new_client(), "ana.ruiz@spd.example")
    register(new_client(), "ana.ruiz@spd.example")
    relay_pass()
    first, second = (LINK.search(m.text).group(1) for m in mailbox.handler.messages())
    assert new_client().get(f"/agency/invitation/{first}").status_code == 410
    assert new_client().get(f"/agency/invitation/{second}").status_code == 200


def test_registration_is_rate_limited(app, agency, client):
    answers = [register(client, f"officer{n}@spd.example").status_code for n in range(21)]
    assert 429 in answers and answers[0] == 200


def test_domains_belong_to_one_agency_and_must_be_domains(app, agency, make_agency, cli):
    other = make_agency().agency
    with pytest.raises(Conflict):
        directory.add_agency_domain(other.id, "spd.example", Actor.system("cli"), utcnow())
    db.session.rollback()
    for bad in ("", "localhost", "spd", "spd..example", "-spd.example", "spd.example/x"):
        with pytest.raises(InvalidInput):
            directory.add_agency_domain(other.id, bad, Actor.system("cli"), utcnow())
        db.session.rollback()
    result = cli("agencies", "add-domain", str(other.id), "@Other-Police.example")
    assert result.exit_code == 0 and pairs(result.stdout)["domain"] == "other-police.example"
    created = cli("agencies", "create", "Tacoma Police", "--country", "US", "--domain", "tpd.example",
                  "--domain", "tacoma-police.example")
    assert created.exit_code == 0, created.output
    agency_id = int(pairs(created.stdout)["agency_id"])
    domains = db.session.scalars(sa.select(AgencyDomain.domain).where(AgencyDomain.agency_id == agency_id))
    assert sorted(domains) == ["tacoma-police.example", "tpd.example"]
