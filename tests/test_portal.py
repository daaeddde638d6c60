"""The customer portal and the staff pages for notices, through the HTTP client on
both engines: a tenant's notices and nothing else, the copy of the demand, the
objection form, the approver's acknowledgement, held and failed notices, the NDO
extension form, and the optional second factor."""

import re
import socket
from datetime import timedelta
from html import escape

import pyotp
import pytest
import sqlalchemy as sa

from models import AuditAction, AuditEvent, Delivery, Notice, NoticeKind, Objection, Role, User, db, utcnow
from tests.conftest import PASSWORD, PDF_BYTES, csrf_from, fresh_code, post_form, sign_in
from workflows import notices
from workflows.audit import Actor
from workflows.notices import relay

STATUTE = "18 U.S.C. 2705(b)"


# ---- helpers ------------------------------------------------------------------------


def html(resp) -> str:
    return resp.get_data(as_text=True)


def ndo(ends_on) -> dict:
    return {"present": True, "statute": STATUTE, "ends_on": ends_on.isoformat() if ends_on else None}


def notices_of(case_id: int) -> list[Notice]:
    db.session.expire_all()
    return db.session.scalars(sa.select(Notice).where(Notice.case_id == case_id).order_by(Notice.id)).all()


def notice_of(case_id: int, kind: NoticeKind) -> Notice:
    [notice] = [n for n in notices_of(case_id) if n.kind is kind]
    return notice


def events(action: AuditAction) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action.value)
                              .order_by(AuditEvent.seq)).all()


def objection_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Objection))


def listed(page: str) -> list[int]:
    """The notice ids the portal's home page links to, in the order shown."""
    return [int(n) for n in re.findall(r'href="/portal/notices/(\d+)"', page)]


def fact(page: str, term: str) -> str:
    """The text of one <dt>term</dt><dd>...</dd> pair, tags stripped."""
    match = re.search(rf"<dt>{re.escape(term)}</dt>\s*<dd>(.*?)</dd>", page, re.S)
    assert match, f"no {term!r} on the page"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(1))).strip()


@pytest.fixture
def signed_in(new_client):
    """signed_in(user) -> a client of its own, signed in as that user."""

    def make(user):
        client = new_client()
        resp = sign_in(client, user)
        assert resp.status_code == 302 and "/sign-in" not in resp.headers["Location"], html(resp)
        return client

    return make


@pytest.fixture
def tenant(make_customer, make_user, signed_in):
    """tenant() -> (customer, its portal user, a client signed in as that user)."""

    def make():
        customer = make_customer(kind="enterprise")
        user = make_user(Role.CUSTOMER, customer=customer)
        return customer, user, signed_in(user)

    return make


def account(customer) -> str:
    return customer.accounts[0].identifier


# ---- the customer's portal ------------------------------------------------------------------


def test_a_customer_sees_its_released_notices_newest_first(app, tenant, make_case):
    customer, _, client = tenant()
    first = make_case("pending_approval", identifiers=[account(customer)])
    second = make_case("redirected", identifiers=[account(customer)])
    held = make_case("pending_approval", identifiers=[account(customer)],
                     ndo=ndo(utcnow().date() + timedelta(days=30)))

    page = html(client.get("/portal/"))
    assert listed(page) == [notice_of(second.id, NoticeKind.REDIRECTED).id,
                            notice_of(first.id, NoticeKind.INTENT_TO_DISCLOSE).id]
    assert second.reference in page and first.reference in page
    assert held.reference not in page  # held: it does not exist for the customer yet
    assert escape(customer.name) in page and account(customer) in page


def test_a_customer_reads_a_notice_and_downloads_the_demand(app, tenant, make_case, make_agency):
    customer, user, client = tenant()
    agency = make_agency(name="Springfield Police Department", country="US").agency
    case = make_case("disclosed", identifiers=[account(customer)], agency=agency,
                     categories=("non_content", "content"), legal_process={"case_number": "3:26-mj-00042"})
    notice = notice_of(case.id, NoticeKind.DISCLOSED)

    resp = client.get(f"/portal/notices/{notice.id}")
    assert resp.status_code == 200
    page = html(resp)
    assert "<h1>Data disclosed</h1>" in page
    assert fact(page, "Reference") == case.reference
    assert fact(page, "Agency") == "Springfield Police Department (US)"
    assert fact(page, "Legal process") == "Search warrant, 3:26-mj-00042"
    assert fact(page, "Received") == (utcnow() - timedelta(days=1)).date().isoformat()
    assert fact(page, "Your accounts named") == account(customer)
    requested = fact(page, "Data requested")
    assert "Stored content" in requested and "Transactional records" in requested
    disclosed = fact(page, "Disclosed")
    assert "Stored content" in disclosed and "Transactional records" in disclosed
    assert disclosed.endswith(f"on {utcnow().date().isoformat()}")
    assert fact(page, "Notice dated").startswith(notice.released_at.strftime("%Y-%m-%d"))
    assert fact(page, "Period of data requested") == "2026-01-01 to 2026-02-28"
    assert 'name="statement"' not in page  # nothing to object to once disclosed
    [viewed] = events(AuditAction.NOTICE_VIEWED)
    assert viewed.actor_id == user.id and viewed.subject_id == str(notice.id)

    resp = client.get(f"/portal/notices/{notice.id}/demand")
    assert resp.status_code == 200
    assert resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert resp.get_data() == PDF_BYTES
    [downloaded] = events(AuditAction.DOCUMENT_DOWNLOADED)
    assert downloaded.actor == user.email and downloaded.actor_id == user.id
    assert downloaded.subject_type == "case" and downloaded.subject_id == str(case.id)


def test_a_customer_files_an_objection_through_the_form(app, tenant, make_case):
    customer, user, client = tenant()
    case = make_case("pending_approval", identifiers=[account(customer)])
    notice = notice_of(case.id, NoticeKind.INTENT_TO_DISCLOSE)
    url = f"/portal/notices/{notice.id}"
    page = html(client.get(url))
    assert fact(page, "We intend to disclose") == "Stored content"
    assert 'name="statement"' in page

    statement = "The account belongs to a contractor who left in 2025 & we hold no <data> of theirs."
    resp = client.post(f"{url}/objection", data={"statement": statement, "csrf_token": csrf_from(page)})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(url)
    page = html(client.get(url))
    assert "Your objection has been filed" in page
    assert escape(statement) in page and "You objected on" in page
    assert 'name="statement"' not in page  # once: no second form
    assert "You objected" in html(client.get("/portal/"))
    [objection] = db.session.scalars(sa.select(Objection)).all()
    assert objection.statement == statement and objection.filed_by_id == user.id
    assert objection.notice_id == notice.id and objection.customer_id == customer.id

    again = client.post(f"{url}/objection", data={"statement": "Also this.", "csrf_token": csrf_from(page)})
    assert again.status_code == 409 and objection_count() == 1


@pytest.mark.parametrize("statement", ["", "   \r\n  "])
def test_an_empty_objection_is_a_form_error(app, tenant, make_case, statement):
    customer, _, client = tenant()
    case = make_case("pending_approval", identifiers=[account(customer)])
    url = f"/portal/notices/{notice_of(case.id, NoticeKind.INTENT_TO_DISCLOSE).id}"
    page = html(client.get(url))
    resp = client.post(f"{url}/objection", data={"statement": statement, "csrf_token": csrf_from(page)})
    assert resp.status_code == 422
    page = html(resp)
    assert "Write your objection" in page and 'aria-invalid="true"' in page
    assert 'name="statement"' in page  # the form is back, to try again
    assert objection_count() == 0 and events(AuditAction.OBJECTION_FILED) == []


def test_another_tenants_notices_are_404_whatever_id_is_guessed(app, tenant, make_case, make_customer):
    mine, _, client = tenant()
    own = make_case("pending_approval", identifiers=[account(mine)])
    own_held = make_case("redirected", identifiers=[account(mine)], ndo=ndo(None))
    other = make_customer(kind="enterprise")
    make_case("pending_approval", identifiers=[account(other)])
    make_case("disclosed", identifiers=[account(other)])
    make_case("redirected", identifiers=[account(other), account(mine)])  # one notice each

    own_ids = {n.id for n in notices.for_customer(mine.id)}
    all_ids = db.session.scalars(sa.select(Notice.id)).all()
    assert len(own_ids) == 2 and len(all_ids) == 7
    assert notice_of(own.id, NoticeKind.INTENT_TO_DISCLOSE).id in own_ids
    assert notice_of(own_held.id, NoticeKind.REDIRECTED).id not in own_ids
    csrf = csrf_from(html(client.get("/portal/")))
    before = {a: len(events(a)) for a in (AuditAction.NOTICE_VIEWED, AuditAction.DOCUMENT_DOWNLOADED)}

    for notice_id in [*sorted(set(all_ids) - own_ids), max(all_ids) + 1, 0]:
        url = f"/portal/notices/{notice_id}"
        assert client.get(url).status_code == 404, url
        assert client.get(f"{url}/demand").status_code == 404, url
        posted = client.post(f"{url}/objection", data={"statement": "We object.", "csrf_token": csrf})
        assert posted.status_code == 404, url
        empty = client.post(f"{url}/objection", data={"statement": "", "csrf_token": csrf})
        assert empty.status_code == 404, url  # an empty statement does not tell a guessed id apart
    assert objection_count() == 0
    assert {a: len(events(a)) for a in before} == before
    for notice_id in own_ids:
        assert client.get(f"/portal/notices/{notice_id}").status_code == 200


def test_staff_and_strangers_do_not_use_the_portal(app, client, make_user, signed_in):
    signed_out = client.get("/portal/")
    assert signed_out.status_code == 302 and "/sign-in" in signed_out.headers["Location"]
    reviewer = signed_in(make_user(Role.REVIEWER))
    assert reviewer.get("/portal/").status_code == 403
    customer = signed_in(make_user(Role.CUSTOMER))
    assert customer.get("/notices/").status_code == 403


# ---- staff pages --------------------------------------------------------------------------


@pytest.fixture
def objected(make_case, make_customer, make_user):
    """A case pending approval whose customer objected; returns (case, objection)."""
    customer = make_customer(kind="enterprise")
    case = make_case("pending_approval", identifiers=[account(customer)])
    user = make_user(Role.CUSTOMER, customer=customer)
    notice = notice_of(case.id, NoticeKind.INTENT_TO_DISCLOSE)
    objection = notices.file_objection(notice.id, customer.id, user.id, "The account is a shared mailbox.",
                                       Actor(user.email, user.id), utcnow())
    return case, objection


def test_the_case_page_lists_notices_and_the_approver_acknowledges_the_objection(objected, case_staff,
                                                                                   make_user, signed_in):
    case, objection = objected
    url = f"/cases/{case.id}"
    acknowledge = f"/notices/objections/{objection.id}/acknowledge"

    reviewer = signed_in(case_staff("reviewer"))
    page = html(reviewer.get(url))
    assert "Customer notices" in page and "Intent to disclose" in page and "Released" in page
    assert "The account is a shared mailbox." in page
    assert "Not yet acknowledged" in page and acknowledge not in page
    assert post_form(reviewer, acknowledge, {"note": "Seen."}, page_url=url).status_code == 403
    db.session.expire_all()
    assert db.session.get(Objection, objection.id).acknowledged_at is None

    approver_user = case_staff("approver2")  # not the proposer
    approver = signed_in(approver_user)
    page = html(approver.get(url))
    assert f'action="{acknowledge}"' in page and "Acknowledge the objection" in page
    resp = post_form(approver, acknowledge, {"note": "Shared mailboxes are still the customer's."},
                     page_url=url)
    assert resp.status_code == 303 and f"/cases/{case.id}" in resp.headers["Location"]
    db.session.expire_all()
    done = db.session.get(Objection, objection.id)
    assert done.acknowledged_by_id == approver_user.id and done.acknowledged_at is not None
    assert [e.actor for e in events(AuditAction.OBJECTION_ACKNOWLEDGED)] == [approver_user.email]
    page = html(approver.get(url))
    assert "Acknowledged" in page and "Shared mailboxes are still the customer&#39;s." in page
    assert acknowledge not in page
    assert post_form(approver, acknowledge, {}, page_url=url).status_code == 409  # once


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_notices_page_shows_held_notices_and_failed_deliveries(app, make_case, make_user, signed_in):
    ends = utcnow().date() + timedelta(days=12)
    dated = make_case("redirected", ndo=ndo(ends))
    indefinite = make_case("pending_approval", ndo=ndo(None))
    sent = make_case("redirected")
    # A real delivery attempt against a mail server that refuses the connection.
    settings = relay.MailSettings(server="127.0.0.1", port=closed_port(), use_tls=False, use_ssl=False,
                                  username=None, password=None, sender="notices@provider.example", timeout=5)
    result = relay.send_pass(utcnow(), settings, relay.Policy(max_attempts=1), "http://portal.example")
    assert result.failed == 1
    failed = notices_of(sent.id)[0]
    assert failed.delivery is Delivery.FAILED and failed.last_error

    for role in (Role.REVIEWER, Role.AUDITOR):
        resp = signed_in(make_user(role)).get("/notices/")
        assert resp.status_code == 200
        page = html(resp)
        held = page.split('id="held-heading"')[1].split('id="failed-heading"')[0]
        assert "Held (2)" in page
        assert held.index(dated.reference) < held.index(indefinite.reference)  # the soonest release first
        assert f"On <time datetime=\"{ends.isoformat()}\">{ends.isoformat()}</time>, by the relay" in held
        assert "Indefinite non-disclosure order" in held and "By a reviewer" in held
        undelivered = page.split('id="failed-heading"')[1]
        assert "Not delivered by e-mail (1)" in page
        assert sent.reference in undelivered and escape(failed.last_error) in undelivered
        assert dated.reference not in undelivered

    reviewer = signed_in(make_user(Role.REVIEWER))
    page = html(reviewer.get(f"/cases/{dated.id}"))
    assert f"Held</span> by the NDO until {ends.isoformat()}" in page
    page = html(reviewer.get(f"/cases/{indefinite.id}"))
    assert "Release the notice" in page  # an indefinite hold waits for a reviewer
    page = html(reviewer.get(f"/cases/{sent.id}"))
    assert "Failed</span> after 1 attempt" in page and "E-mail it again" in page


def test_the_ndo_extension_form_refuses_a_date_before_receipt(app, make_case, case_staff, signed_in):
    ends = utcnow().date() + timedelta(days=12)
    case = make_case("pending_approval", ndo=ndo(ends))
    url = f"/cases/{case.id}"
    reviewer = signed_in(case_staff("reviewer"))

    early = (utcnow() - timedelta(days=4)).date().isoformat()
    resp = post_form(reviewer, f"{url}/ndo", {"ends_on": early, "note": "Typo?"}, page_url=url)
    assert resp.status_code == 422
    page = html(resp)
    assert "The NDO cannot end before the demand was received" in page and "Not recorded." in page
    assert f'value="{early}"' in page  # what was typed comes back
    resp = post_form(reviewer, f"{url}/ndo", {"ends_on": "next week"}, page_url=url)
    assert resp.status_code == 422 and "YYYY-MM-DD" in html(resp)
    db.session.expire_all()
    assert db.session.get(type(case), case.id).ndo_ends_on == ends
    assert notices_of(case.id)[0].hold_until == ends and events(AuditAction.NDO_EXTENDED) == []

    later = ends + timedelta(days=30)
    resp = post_form(reviewer, f"{url}/ndo", {"ends_on": later.isoformat()}, page_url=url)
    assert resp.status_code == 303
    assert notices_of(case.id)[0].hold_until == later


# ---- the optional second factor ------------------------------------------------------------


def test_a_customer_turns_on_a_second_factor(app, tenant, new_client):
    _, user, client = tenant()
    page = html(client.get("/portal/security"))
    assert "<svg" in page and "Secret key" in page
    shown = re.search(r'aria-label="Secret key">([A-Z2-7 ]+)<', page).group(1)
    secret = shown.replace(" ", "")
    db.session.expire_all()
    assert db.session.get(User, user.id).totp_secret is None  # showing the page stores nothing
    assert shown in html(client.get("/portal/security"))  # the same secret on a reload

    good = pyotp.TOTP(secret).now()
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    resp = client.post("/portal/security", data={"password": PASSWORD, "code": wrong,
                                                 "csrf_token": csrf_from(page)})
    assert resp.status_code == 401 and "<svg" in html(resp)  # refused, and the secret is offered again
    resp = client.post("/portal/security", data={"password": "not the password", "code": good,
                                                 "csrf_token": csrf_from(page)})
    assert resp.status_code == 401  # a stolen session alone cannot add a factor
    db.session.expire_all()
    assert db.session.get(User, user.id).totp_confirmed_at is None
    assert db.session.get(User, user.id).totp_secret is None

    resp = client.post("/portal/security", data={"password": PASSWORD, "code": good,
                                                 "csrf_token": csrf_from(page)})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/portal/security")
    db.session.expire_all()
    enrolled = db.session.get(User, user.id)
    assert enrolled.totp_confirmed_at is not None
    [event] = events(AuditAction.MFA_ENROLLED)
    assert event.actor_id == user.id
    page = html(client.get("/portal/security"))
    assert "Second factor on" in page and "<svg" not in page and secret[:4] not in page

    browser = new_client()
    sign_in_page = html(browser.get("/sign-in"))
    resp = browser.post("/sign-in", data={"email": user.email, "password": PASSWORD,
                                          "csrf_token": csrf_from(sign_in_page)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/sign-in/code")
    assert browser.get("/portal/").status_code != 200  # not signed in on the password alone
    code_page = html(browser.get("/sign-in/code"))
    resp = browser.post("/sign-in/code",
                        data={"code": fresh_code(enrolled), "csrf_token": csrf_from(code_page)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/")
    assert browser.get("/portal/").status_code == 200
