"""Transparency reports end to end, on both engines: what the public downloads
matches the cases, a published revision never changes, its checkpoint is signed
and tied to the audit chain, national-security figures wait and come in bands,
bad periods and premature or repeated publication are refused, and the demo
publishes the half-years that have ended."""

import csv
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from demo import cases as demo_cases
from demo import seed as demo
from models import (
    AuditAction,
    AuditEvent,
    AuditHead,
    Case,
    ReportFrozen,
    Role,
    TransparencyReport,
    db,
    utcnow,
)
from models.base import UTCDateTime
from tests.conftest import assert_error, caller_for, confirm_by_callback, csrf_from, pairs, post_form, sign_in
from workflows import audit
from workflows.audit import Actor
from workflows.cases import machine as case_machine
from workflows.reports import checkpoint as signing
from workflows.reports import transparency
from workflows.reports.transparency import Period

PERIOD = Period(2025, 2)
START, END = datetime(2025, 7, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
ACTOR = Actor.system("test")
FIGURES = ("requests", "accounts_specified", "no_identifiers", "content_disclosed", "non_content_disclosed",
           "no_data_found",
           "rejected", "resolved_by_customer", "withdrawn", "pending", "emergency",
           "emergency_verification_failed", "with_ndo",
           "customer_notified", "challenged", "challenges_won")
MICROSECOND = timedelta(microseconds=1)


def stub_pdf(report: dict, history: list[dict]) -> bytes:
    """For tests not about the PDF (it has tests of its own): distinct per revision."""
    return f"%PDF-1.4 test {report['period']} r{report['revision']}".encode()


def current_period() -> Period:
    """A period that has certainly not ended: the one running now."""
    return Period.of(utcnow().date())


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def rows() -> list[TransparencyReport]:
    return db.session.scalars(sa.select(TransparencyReport).order_by(TransparencyReport.id)).all()


def published_events() -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.REPORT_PUBLISHED.value).order_by(AuditEvent.seq)).all()


@pytest.fixture
def period_cases(make_case, make_agency, make_customer):
    """Cases received in 2025-H2 from agencies in three countries, in most outcomes,
    plus national-security ones and two just outside the period. Returns a function
    that makes one more (`extra(state, at, ...)`)."""
    agencies = {c: make_agency(country=c).agency for c in ("US", "DE", "GB")}
    consumer = make_customer(kind="consumer", accounts=["carol@mail.example", "dave@mail.example"])

    def extra(state, at, country="US", process="search_warrant", **fields):
        legal = {"issued_on": (at.date() - timedelta(days=1)).isoformat(), **fields.pop("legal_process", {})}
        return make_case(state, process=process, agency=agencies[country], received_at=at.isoformat(),
                         legal_process=legal, **fields)

    middle = START + timedelta(days=60, hours=3)
    extra("disclosed", START)  # the first microsecond of the period
    extra("disclosed", middle, process="subpoena", categories=("subscriber",),
          identifiers=[a.identifier for a in consumer.accounts])
    extra("pending_approval", middle, request_type="emergency", emergency_justification="A threat to life.")
    extra("received", middle, ndo={"present": True, "statute": "18 U.S.C. 2705(b)", "ends_on": None})
    forged = extra("legal_review", middle, country="GB", request_type="emergency",
                   emergency_justification="A hostage taken an hour ago.")
    confirm_by_callback(forged.id, forged.assignee, outcome="failed",
                        note="The duty desk has no record of this request.")
    case_machine.advance(forged.id, case_machine.Move("reject", reason="verification_failed"),
                         caller_for(forged.assignee), utcnow())
    won = extra("challenged", middle, process="court_order", categories=("subscriber", "non_content"))
    reviewer = db.session.get(Case, won.id).assignee
    case_machine.advance(won.id, case_machine.Move("challenge_won"), caller_for(reviewer), utcnow())
    extra("resolved_by_customer", middle)
    extra("no_data", middle, country="DE", process="local_order", categories=("subscriber",))
    extra("rejected", middle, country="DE", process="local_order", categories=("subscriber",))
    extra("withdrawn", END - MICROSECOND, country="GB", process="cloud_act_order")  # the last microsecond
    extra("legal_review", middle, country="GB", process="cloud_act_order")
    extra("received", middle, process="nsl", request_type="national_security", categories=("subscriber",))
    extra("received", middle, process="fisa_order", request_type="national_security")
    extra("disclosed", START - MICROSECOND)  # 2025-H1
    extra("received", END)  # 2026-H1
    return extra


# ---- what the public downloads is what the cases say --------------------------------------------

COUNTS_SQL = """
SELECT a.country AS country,
    count(*) AS requests,
    sum(json_array_length(c.identifiers)) AS accounts_specified,
    sum(CASE WHEN json_array_length(c.identifiers) = 0 THEN 1 ELSE 0 END) AS no_identifiers,
    sum(CASE WHEN c.state = 'disclosed' AND CAST(d.categories AS TEXT) LIKE '%"content"%'
        THEN 1 ELSE 0 END) AS content_disclosed,
    sum(CASE WHEN c.state = 'disclosed' AND CAST(d.categories AS TEXT) NOT LIKE '%"content"%'
        THEN 1 ELSE 0 END) AS non_content_disclosed,
    sum(CASE WHEN c.state = 'no_data' THEN 1 ELSE 0 END) AS no_data_found,
    sum(CASE WHEN c.state = 'rejected' THEN 1 ELSE 0 END) AS rejected,
    sum(CASE WHEN c.state = 'resolved_by_customer' THEN 1 ELSE 0 END) AS resolved_by_customer,
    sum(CASE WHEN c.state = 'withdrawn' THEN 1 ELSE 0 END) AS withdrawn,
    sum(CASE WHEN c.state IN ('received', 'legal_review', 'redirected', 'challenged', 'pending_approval')
        THEN 1 ELSE 0 END) AS pending,
    sum(CASE WHEN c.emergency THEN 1 ELSE 0 END) AS emergency,
    sum(CASE WHEN c.emergency AND EXISTS (SELECT 1 FROM case_verifications v WHERE v.case_id = c.id
                                          AND v.outcome = 'failed') THEN 1 ELSE 0 END)
        AS emergency_verification_failed,
    sum(CASE WHEN c.ndo_present THEN 1 ELSE 0 END) AS with_ndo,
    sum(CASE WHEN EXISTS (SELECT 1 FROM notices n WHERE n.case_id = c.id AND n.released_at IS NOT NULL)
        THEN 1 ELSE 0 END) AS customer_notified,
    sum(CASE WHEN EXISTS (SELECT 1 FROM case_transitions t WHERE t.case_id = c.id AND t.trigger = 'challenge')
        THEN 1 ELSE 0 END) AS challenged,
    sum(CASE WHEN c.reject_reason = 'quashed' THEN 1 ELSE 0 END) AS challenges_won
FROM cases c
JOIN agencies a ON a.id = c.agency_id
LEFT JOIN disclosures d ON d.case_id = c.id
WHERE c.received_at >= :start AND c.received_at < :end AND c.process_type NOT IN ('nsl', 'fisa_order')
GROUP BY a.country
ORDER BY a.country
"""


def counted_in_sql(start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    query = sa.text(COUNTS_SQL).bindparams(sa.bindparam("start", type_=UTCDateTime()),
                                           sa.bindparam("end", type_=UTCDateTime()))
    found = db.session.execute(query, {"start": start, "end": end}).mappings().all()
    return {row["country"]: {name: int(row[name]) for name in FIGURES} for row in found}


def summed(by_country: dict[str, dict[str, int]]) -> dict[str, int]:
    return {name: sum(figures[name] for figures in by_country.values()) for name in FIGURES}


def test_published_json_and_csv_match_an_independent_count(app, client, cli, period_cases):
    result = cli("reports", "publish", str(PERIOD))
    assert result.exit_code == 0, result.output
    said = pairs(result.output)
    assert (said["period"], said["revision"]) == (str(PERIOD), "1")

    expected = counted_in_sql(START, END)
    assert set(expected) == {"US", "DE", "GB"}
    assert summed(expected)["requests"] == 11  # the NSL, the FISA order and the two outside are not counted
    api = client.get(f"/api/v1/transparency/{PERIOD}")
    download = client.get(f"/transparency/{PERIOD}.json")
    assert api.status_code == download.status_code == 200
    assert download.headers["Content-Type"].startswith("application/json")
    report = json.loads(download.data)
    assert api.get_json() == report
    assert report["by_country"] == expected
    assert report["totals"] == summed(expected)
    assert (report["period"], report["revision"], report["reason"]) == (str(PERIOD), 1, None)
    row = rows()[0]
    assert hashlib.sha256(download.data).hexdigest() == row.json_sha256 == said["json_sha256"]

    table = list(csv.reader(io.StringIO(client.get(f"/transparency/{PERIOD}.csv").get_data(as_text=True))))
    assert table[0] == ["period", str(PERIOD), "revision", "1"]
    assert table[1] == ["country", *FIGURES]
    total_at = next(i for i, r in enumerate(table) if r and r[0] == "TOTAL")
    assert {r[0]: dict(zip(FIGURES, map(int, r[1:]), strict=True)) for r in table[2:total_at]} == expected
    assert dict(zip(FIGURES, map(int, table[total_at][1:]), strict=True)) == summed(expected)

    pdf = client.get(f"/transparency/{PERIOD}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert hashlib.sha256(pdf.data).hexdigest() == row.pdf_sha256 == said["pdf_sha256"]
    assert f'filename="transparency-report-{PERIOD}-r1.pdf"' in pdf.headers["Content-Disposition"]


# ---- published revisions never change -----------------------------------------------------------

def downloads(client, query: str = "") -> dict[str, bytes]:
    return {kind: client.get(f"/transparency/{PERIOD}.{kind}{query}").data for kind in ("json", "csv", "pdf")}


def test_a_published_revision_never_changes_and_a_correction_is_a_new_one(app, client, cli, period_cases):
    first = transparency.publish(PERIOD, ACTOR, None, utcnow())
    before = downloads(client)
    hashes = (first.json_sha256, first.csv_sha256, first.pdf_sha256)
    assert [hashlib.sha256(before[k]).hexdigest() for k in ("json", "csv", "pdf")] == list(hashes)

    # Through the ORM: refused before any SQL is sent.
    row = db.session.get(TransparencyReport, first.id)
    row.reason = "quietly edited"
    with pytest.raises(ReportFrozen):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(TransparencyReport, first.id))
    with pytest.raises(ReportFrozen):
        db.session.flush()
    db.session.rollback()

    # Around the ORM: the database refuses (a trigger on each engine).
    for statement in ("UPDATE transparency_reports SET json_text = '{}', json_sha256 = 'x'",
                      "DELETE FROM transparency_reports"):
        with pytest.raises(sa.exc.DBAPIError):
            db.session.execute(sa.text(statement))
        db.session.rollback()
    assert downloads(client) == before

    # The cases move on: the draft sees it, the published revision does not.
    draft_before = transparency.draft(PERIOD, utcnow())["totals"]
    late = period_cases("legal_review", START + timedelta(days=10))
    reviewer = db.session.get(Case, late.id).assignee
    case_machine.advance(late.id, case_machine.Move("reject", reason="overbroad"), caller_for(reviewer),
                         utcnow())
    draft_after = transparency.draft(PERIOD, utcnow())["totals"]
    assert draft_after["requests"] == draft_before["requests"] + 1
    assert draft_after["rejected"] == draft_before["rejected"] + 1
    assert downloads(client) == before
    db.session.expire_all()
    assert (first.json_sha256, first.csv_sha256, first.pdf_sha256) == hashes

    # A correction: revision 2, with its reason, counting the case as it now stands.
    result = cli("reports", "publish", str(PERIOD), "--reason", "A demand logged late.")
    assert result.exit_code == 0, result.output
    assert pairs(result.output)["revision"] == "2"
    newest = client.get(f"/transparency/{PERIOD}.json").get_json()
    assert (newest["revision"], newest["reason"]) == (2, "A demand logged late.")
    assert newest["totals"] == draft_after
    assert downloads(client, "?revision=1") == before

    page = client.get(f"/transparency/{PERIOD}?revision=1").get_data(as_text=True)
    assert "Revision 1" in page and "A demand logged late." in page  # the history names the correction
    assert "This revision corrects an earlier one" not in page
    page = client.get(f"/transparency/{PERIOD}").get_data(as_text=True)
    assert "Revision 2" in page and "This revision corrects an earlier one: A demand logged late." in page
    history = transparency.history(PERIOD)
    assert [(h["revision"], h["reason"]) for h in history] == [(1, None), (2, "A demand logged late.")]
    assert history[0]["pdf_sha256"] == hashes[2] and history[1]["pdf_sha256"] != hashes[2]
    assert [r.revision for r in transparency.all_published()] == [2]


@pytest.mark.postgres_only
def test_postgres_refuses_to_truncate_published_reports(app, period_cases):
    transparency.publish(PERIOD, ACTOR, None, utcnow(), render=stub_pdf)
    with pytest.raises(sa.exc.DBAPIError):
        db.session.execute(sa.text("TRUNCATE transparency_reports"))
    db.session.rollback()
    assert count(TransparencyReport) == 1


# ---- the signed checkpoint ---------------------------------------------------------------------

def test_checkpoint_is_signed_and_is_the_publication_event(app, client, cli, period_cases):
    row = transparency.publish(PERIOD, ACTOR, None, utcnow(), render=stub_pdf)
    report = client.get(f"/transparency/{PERIOD}.json").get_json()
    key = client.get("/transparency/checkpoint-key.pem")
    assert key.status_code == 200 and key.get_data(as_text=True) == signing.public_key_pem()
    assert signing.verify_checkpoint(report, key.get_data(as_text=True))

    altered = json.loads(json.dumps(report))
    altered["totals"]["requests"] += 1
    assert not signing.verify_checkpoint(altered, signing.public_key_pem())
    altered = json.loads(json.dumps(report))
    altered["by_country"]["DE"]["rejected"] = 0
    assert not signing.verify_checkpoint(altered, signing.public_key_pem())
    other = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert not signing.verify_checkpoint(report, other)

    (event,) = published_events()
    checkpoint = report["checkpoint"]
    assert (checkpoint["audit_seq"], checkpoint["audit_hash"]) == (event.seq, event.hash)
    assert checkpoint["algorithm"] == "Ed25519" and checkpoint["key_id"] == signing.key_id()
    assert event.data["revision"] == 1 and event.data["totals"] == report["totals"] == row.snapshot["totals"]

    result = cli("audit", "verify")
    assert result.exit_code == 0, result.output
    said = pairs(result.output)
    assert said["status"] == "intact" and said["checkpoints"] == "1"


@pytest.mark.sqlite_only
def test_audit_verify_names_a_checkpoint_whose_event_was_rewritten(app, cli, period_cases):
    """Someone rewrites the published report's event and re-chains everything after
    it: the chain alone looks intact, the signed checkpoint does not."""
    transparency.publish(PERIOD, ACTOR, None, utcnow(), render=stub_pdf)
    audit.record(AuditAction.REPORT_PUBLISHED, ACTOR, subject=("note", 1), data={"after": True})
    db.session.commit()
    (event,) = published_events()[:1]
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.seq >= event.seq)
                                .order_by(AuditEvent.seq)).all()
    previous = event.prev_hash
    for e in events:
        data = dict(e.data)
        if e.seq == event.seq:
            data["totals"] = {**data["totals"], "requests": 0}
        fields = {**audit.event_fields(e), "data": data}
        new_hash = audit.chain_hash(previous, fields)
        db.session.execute(sa.text("UPDATE audit_events SET data = :data, prev_hash = :prev, hash = :hash "
                                   "WHERE seq = :seq"),
                           {"data": json.dumps(data), "prev": previous, "hash": new_hash, "seq": e.seq})
        previous = new_hash
    db.session.execute(sa.update(AuditHead).values(hash=previous))
    db.session.commit()
    assert audit.verify().intact

    result = cli("audit", "verify")
    assert result.exit_code == 1
    said = pairs(result.output)
    assert said["status"] == "broken" and said["checkpoints"] == "1"
    assert said["checkpoint"] == f"{PERIOD} revision 1: audit event {event.seq} no longer has the signed hash"


# ---- national security --------------------------------------------------------------------------

def test_national_security_waits_180_days_then_comes_in_bands(app, period_cases):
    opens = END + timedelta(days=180)
    early = transparency.publish(PERIOD, ACTOR, None, opens - MICROSECOND, render=stub_pdf).snapshot
    assert early["national_security"] == {"status": "deferred", "available_from": opens.date().isoformat()}
    assert "nsl" not in early["by_process"] and "fisa_order" not in early["by_process"]
    assert sum(early["by_process"].values()) == early["totals"]["requests"] == 11
    assert early["by_country"]["US"]["requests"] == 6  # the NSL and the FISA order are not among them

    later = transparency.publish(PERIOD, ACTOR, "National-security figures are due.", opens,
                                 render=stub_pdf).snapshot
    bands = {"requests": "0-499", "accounts": "0-499"}
    assert later["national_security"] == {"status": "published", "nsl": bands, "fisa_content": bands,
                                          "fisa_non_content": bands}
    assert {k: later[k] for k in ("totals", "by_country", "by_process", "enterprise")} == \
        {k: early[k] for k in ("totals", "by_country", "by_process", "enterprise")}
    text = transparency.to_csv(later)
    assert "nsl,0-499,0-499" in text and "deferred" not in text
    assert "national_security,deferred until," + opens.date().isoformat() in transparency.to_csv(early)


def test_bands_are_500_wide():
    assert [transparency.band(n) for n in (0, 1, 499, 500, 999, 1000, 12_345)] == [
        "0-499", "0-499", "0-499", "500-999", "500-999", "1000-1499", "12000-12499"]


# ---- bad input and who may do what ---------------------------------------------------------------



@pytest.mark.parametrize("period", [
    "2026-H3", "abc", "1999-H1", "2026-h1", "3000-H1", "2026-H1.", "-2026-H1",
    # Period.parse uses re.match with `$`, which also matches before a final newline.
    "2025-H2%0A",
])
def test_a_period_that_does_not_exist_is_404_everywhere(app, client, period):
    for suffix in ("", ".pdf", ".csv", ".json"):
        resp = client.get(f"/transparency/{period}{suffix}")
        assert resp.status_code == 404, suffix
        assert "There is no reporting period" in resp.get_data(as_text=True), suffix
    body = assert_error(client.get(f"/api/v1/transparency/{period}"), 404, "not_found")
    assert "periods are written like 2026-H1" in body["message"]


def test_an_unpublished_period_is_404_saying_so(app, client):
    for suffix in ("", ".pdf", ".csv", ".json"):
        resp = client.get(f"/transparency/{PERIOD}{suffix}")
        assert resp.status_code == 404
        assert f"The report for {PERIOD} has not been published yet." in resp.get_data(as_text=True)
    body = assert_error(client.get(f"/api/v1/transparency/{PERIOD}"), 404, "not_found")
    assert body["message"] == f"The report for {PERIOD} has not been published yet."
    assert f"There is no revision 3 of the {PERIOD} report." in client.get(
        f"/transparency/{PERIOD}?revision=3").get_data(as_text=True)


def test_publishing_refuses_a_running_period_and_a_repeat_without_reason(app, cli, period_cases):
    running = current_period()
    events = count(AuditEvent)
    result = cli("reports", "publish", str(running))
    assert result.exit_code == 1
    assert f"{running} has not ended (it runs to {running.ends_on})" in result.output
    assert count(TransparencyReport) == 0 and count(AuditEvent) == events

    assert cli("reports", "publish", str(PERIOD)).exit_code == 0
    events = count(AuditEvent)
    result = cli("reports", "publish", str(PERIOD))
    assert result.exit_code == 1
    assert "already published (revision 1); a correction needs a stated reason" in result.output
    result = cli("reports", "publish", str(PERIOD), "--reason", "   ")
    assert result.exit_code == 1
    assert count(TransparencyReport) == 1 and count(AuditEvent) == events

    result = cli("reports", "publish", str(PERIOD), "--reason", "Two cases were miscounted.")
    assert result.exit_code == 0 and pairs(result.output)["revision"] == "2"
    assert [r.reason for r in rows()] == [None, "Two cases were miscounted."]
    assert count(AuditEvent) == events + 1


def test_the_publish_button_is_for_approvers_and_refuses_what_the_cli_refuses(app, new_client, make_user,
                                                                              period_cases):
    draft_url, publish_url = f"/transparency/{PERIOD}/draft", f"/transparency/{PERIOD}/publish"
    anonymous = new_client()
    resp = anonymous.get(draft_url)
    assert resp.status_code == 302 and "/sign-in" in resp.headers["Location"]
    assert b"requests" not in resp.data.lower() and b"Draft" not in resp.data

    reviewer = new_client()
    sign_in(reviewer, make_user(Role.REVIEWER))
    page = reviewer.get(draft_url)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Draft, not published." in text and "Publish this report" not in text
    resp = reviewer.post(publish_url, data={"csrf_token": csrf_from(text)})
    assert resp.status_code == 403
    assert count(TransparencyReport) == 0 and not published_events()

    approver, approver_user = new_client(), make_user(Role.APPROVER)
    sign_in(approver, approver_user)
    text = approver.get(draft_url).get_data(as_text=True)
    assert "Publish this report" in text
    events = count(AuditEvent)
    running = current_period()
    resp = post_form(approver, f"/transparency/{running}/publish", page_url=draft_url)
    assert resp.status_code == 409
    assert count(TransparencyReport) == 0 and count(AuditEvent) == events

    resp = post_form(approver, publish_url, page_url=draft_url)
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/transparency/{PERIOD}")
    assert [r.revision for r in rows()] == [1]
    events = count(AuditEvent)
    resp = post_form(approver, publish_url, page_url=draft_url)
    assert resp.status_code == 422
    assert "a correction needs a stated reason" in resp.get_data(as_text=True)
    assert count(TransparencyReport) == 1 and count(AuditEvent) == events
    resp = post_form(approver, publish_url, {"reason": "A withdrawn demand was counted as pending."},
                     page_url=draft_url)
    assert resp.status_code == 303
    assert [(r.revision, r.published_by) for r in rows()] == [(1, approver_user.email),
                                                              (2, approver_user.email)]
    page = approver.get(f"/transparency/{PERIOD}").get_data(as_text=True)
    assert "A withdrawn demand was counted as pending." in page


def test_the_409_page_says_why_the_period_cannot_be_published(app, new_client, make_user):
    """The page comes back 409, but the form that would show the message is only
    drawn for periods that have ended, so the approver is not told why."""
    approver = new_client()
    sign_in(approver, make_user(Role.APPROVER))
    running = current_period()
    resp = post_form(approver, f"/transparency/{running}/publish", page_url=f"/transparency/{PERIOD}/draft")
    assert resp.status_code == 409
    assert f"{running} has not ended" in resp.get_data(as_text=True)


def test_the_cli_names_a_period_that_does_not_exist(app, cli):
    """`reports publish abc` parses the period outside committed(), so the message
    never reaches the terminal (a traceback does)."""
    result = cli("reports", "publish", "abc")
    assert result.exit_code == 1 and "There is no reporting period 'abc'" in result.output


def test_a_case_redirected_to_a_customer_registered_after_intake_counts_as_enterprise(
        app, make_case, make_customer, case_staff):
    """Case.enterprise is computed at intake (and after a lost challenge) only. A
    customer whose account a demand names may be registered later; the redirect then
    passes (it matches accounts live), yet the case stays out of the enterprise section."""
    received = START + timedelta(days=3)
    case = make_case("legal_review", identifiers=["late@corp.example"], received_at=received.isoformat(),
                     legal_process={"issued_on": START.date().isoformat()})
    make_customer(kind="enterprise", accounts=["late@corp.example"])
    case_machine.advance(case.id, case_machine.Move("redirect"), caller_for(case_staff("reviewer")), utcnow())
    enterprise = transparency.aggregate(PERIOD, utcnow())["enterprise"]
    assert (enterprise["requests"], enterprise["redirected"]) == (1, 1)


# ---- the demo ----------------------------------------------------------------------------------

DEMO_NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.seeded_demo(at=DEMO_NOW)
def test_the_demo_publishes_the_half_years_that_have_ended(app, client):
    now = DEMO_NOW
    (row,) = transparency.all_published()
    assert (row.period, row.revision, row.published_by) == ("2026-H1", 1, demo.DEMO_ACTOR.label)
    assert Period.of(demo_cases.received_range(now)[0]) == Period(2026, 1)
    report = row.snapshot
    assert report["national_security"] == {"status": "deferred", "available_from": "2026-12-28"}
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
    expected = counted_in_sql(start, end)
    assert report["by_country"] == expected and report["totals"] == summed(expected)
    assert report["totals"]["requests"] > 50
    assert signing.verify_checkpoint(report, signing.public_key_pem())
    assert transparency.verify_all(signing.public_key_pem()) == (1, [])
    assert client.get("/transparency").status_code == 200
    assert client.get("/transparency/2026-H1.pdf").data.startswith(b"%PDF")
    assert client.get("/transparency/2026-H2").status_code == 404

    demo.seed(now + timedelta(days=1))  # idempotent: nothing republished
    db.session.commit()
    assert count(TransparencyReport) == 1
