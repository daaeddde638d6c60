"""Preservation requests (DESIGN 11.2): their own machine, the hold they take on
the vault, its survival of the customer's own deletion into a later production,
and the expiry run. Every row of the design's table is walked here, on both
engines, through advance() as the views call it."""

import hashlib
import io
import json
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import Account, AuditAction, AuditEvent, Case, CaseKind, Disclosure, Role, State, db, utcnow
from models.vault import CustomerRecord, VaultHold
from tests.conftest import assert_error, caller_for, case_body, pairs, sign_in
from workflows import audit, disclosure
from workflows.cases import expire_preservations
from workflows.cases.machine import Move, advance
from workflows.errors import Conflict, InvalidInput, NotAllowed

ALL = ("subscriber", "non_content", "content")
SYSTEM = audit.Actor.system("cli")


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def records_of(identifier: str, *, including_deleted=False) -> list[CustomerRecord]:
    stmt = (sa.select(CustomerRecord).join(Account, Account.id == CustomerRecord.account_id)
            .where(Account.identifier == identifier).order_by(CustomerRecord.id))
    if not including_deleted:
        stmt = stmt.where(CustomerRecord.deleted_at.is_(None))
    db.session.expire_all()
    return list(db.session.scalars(stmt))


def holds_of(case_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(VaultHold)
                             .where(VaultHold.case_id == case_id))


@pytest.fixture
def preservation(make_case, make_customer, plant):
    """preservation(state, process=...): a preservation request for an account whose
    vault holds a profile, three sign-ins and two messages (all in the demand's range)."""

    def make(state="legal_review", process="preservation_request", categories=ALL, **kwargs):
        customer = make_customer()
        identifier = customer.accounts[0].identifier
        plant(identifier, non_content=3, content=["Meet at the usual place.", "Bring the ledger."])
        if process == "epoc_pr":
            kwargs.setdefault("country", "DE")
            kwargs.setdefault("legal_process", {"judicial": False})
        case = make_case(state, process=process, identifiers=[identifier], categories=categories, **kwargs)
        return case, identifier

    return make


def fire(case_id, trigger, who, now=None, **fields):
    return advance(case_id, Move(trigger, **fields), caller_for(who), now or utcnow())


def unchanged(case_id):
    db.session.expire_all()
    case = db.session.get(Case, case_id)
    return case.state, case.version, case.preserved_until, case.extensions, holds_of(case_id)


# ---- the table, row by row ---------------------------------------------------------------------

def test_preserve_holds_the_records_as_they_stand_for_ninety_days(app, preservation, case_staff):
    case, identifier = preservation()
    assert case.kind is CaseKind.PRESERVATION
    preserved = fire(case.id, "preserve", case_staff("reviewer"), categories=list(ALL))
    assert preserved.state is State.PRESERVED and preserved.is_open
    assert preserved.preserved_until == preserved.received_at + timedelta(days=90)
    assert preserved.due_at == preserved.preserved_until  # the queue orders it by its end
    log = preserved.transitions[-1]
    assert log.data["held"] == {"subscriber": 1, "non_content": 3, "content": 2}
    assert disclosure.held_counts(case.id) == {
        "records": 6, "deleted_by_customer": 0,
        "by_category": {"subscriber": 1, "non_content": 3, "content": 2}}
    # each hold keeps the record's digest as it stood
    record = records_of(identifier)[0]
    held = db.session.get(VaultHold, (case.id, record.id))
    assert held.sha256 == disclosure.record_digest(record.kind, None, record.data, None)
    assert audit.verify().intact


def test_an_epoc_pr_holds_sixty_days_and_extends_by_thirty(app, preservation, case_staff):
    case, _ = preservation("preserved", process="epoc_pr")
    received = case.received_at
    assert case.preserved_until == case.received_at + timedelta(days=60)
    extended = fire(case.id, "extend", case_staff("reviewer"), note="Annex VI received from the prosecutor.")
    assert extended.preserved_until == received + timedelta(days=90)


def test_extend_once_then_a_second_extension_is_refused(app, preservation, case_staff):
    case, _ = preservation("preserved")
    first_end = case.preserved_until
    reviewer = case_staff("reviewer")
    with pytest.raises(InvalidInput) as missing:
        fire(case.id, "extend", reviewer)
    assert missing.value.reasons == ["note_required"]
    extended = fire(case.id, "extend", reviewer, note="Renewed request by letter of 2 May.")
    assert (extended.extensions, extended.state) == (1, State.PRESERVED)
    assert extended.preserved_until == first_end + timedelta(days=90)
    assert extended.transitions[-1].data["preserved_until"]["before"].startswith(
        first_end.strftime("%Y-%m-%dT"))
    before = unchanged(case.id)
    with pytest.raises(InvalidInput) as again:
        fire(case.id, "extend", reviewer, note="A third period, please.")
    assert again.value.reasons == ["extension_used"] and "18 U.S.C. 2703(f)" in again.value.message
    assert unchanged(case.id) == before


def test_no_extension_after_the_end(app, preservation, case_staff):
    case, _ = preservation("preserved")
    late = case.preserved_until + timedelta(minutes=1)
    before = unchanged(case.id)
    with pytest.raises(InvalidInput) as refused:
        fire(case.id, "extend", case_staff("reviewer"), now=late, note="Renewed, late.")
    assert refused.value.reasons == ["period_over"]
    assert unchanged(case.id) == before


def test_release_ends_the_hold(app, preservation, case_staff):
    case, identifier = preservation("preserved")
    with pytest.raises(InvalidInput) as missing:
        fire(case.id, "release", case_staff("reviewer"))
    assert missing.value.reasons == ["note_required"]
    released = fire(case.id, "release", case_staff("reviewer"), note="The agency closed its inquiry.")
    assert released.state is State.RELEASED and not released.is_open
    assert released.transitions[-1].data["hold"] == {"released": 6, "purged": 0}
    assert holds_of(case.id) == 0 and len(records_of(identifier)) == 6  # live records stay live


def test_expiry_waits_for_the_end_then_expires_and_releases(app, preservation, case_staff):
    case, _ = preservation("preserved")
    early = expire_preservations(case.preserved_until - timedelta(seconds=1), SYSTEM)
    assert (early.expired, early.kept) == ([], [])
    run = expire_preservations(case.preserved_until, SYSTEM)
    assert run.expired == [case.reference]
    db.session.expire_all()
    expired = db.session.get(Case, case.id)
    assert expired.state is State.EXPIRED and holds_of(case.id) == 0
    assert expired.transitions[-1].actor == "cli" and expired.transitions[-1].actor_id is None
    assert expire_preservations(case.preserved_until + timedelta(days=1), SYSTEM).expired == []


def test_nobody_fires_expire_by_hand(app, preservation, case_staff, make_user):
    case, _ = preservation("preserved")
    for role in (Role.REVIEWER, Role.APPROVER, Role.ADMIN):
        with pytest.raises(NotAllowed):
            fire(case.id, "expire", make_user(role), now=case.preserved_until + timedelta(days=1))


@pytest.mark.parametrize(("state", "trigger", "fields", "after"), [
    ("legal_review", "reject", {"reason": "insufficient_process"}, State.REJECTED),
    ("received", "withdraw", {"note": "Withdrawn by e-mail."}, State.WITHDRAWN),
    ("preserved", "withdraw", {"note": "Withdrawn by e-mail."}, State.WITHDRAWN),
])
def test_reject_and_withdraw_as_for_productions(app, preservation, case_staff, state, trigger, fields, after):
    case, _ = preservation(state)
    moved = fire(case.id, trigger, case_staff("reviewer"), **fields)
    assert moved.state is after and holds_of(case.id) == 0


def test_production_triggers_are_not_a_preservations(app, preservation, case_staff):
    case, _ = preservation()
    for trigger, fields in [("propose_disclosure", {"categories": ["content"]}), ("redirect", {}),
                            ("challenge", {"note": "Overbroad."})]:
        with pytest.raises(Conflict) as refused:
            fire(case.id, trigger, case_staff("reviewer"), **fields)
        assert refused.value.code == "illegal_transition" and "preservation request" in refused.value.message


def test_a_production_demand_takes_no_preservation_trigger(app, make_case, case_staff):
    case = make_case("legal_review")
    with pytest.raises(Conflict) as refused:
        fire(case.id, "preserve", case_staff("reviewer"), categories=["content"])
    assert "production demand" in refused.value.message


# ---- what preserving may hold ------------------------------------------------------------------

def test_categories_the_request_did_not_name_are_not_preserved(app, preservation, case_staff):
    case, _ = preservation(categories=("subscriber",))
    before = unchanged(case.id)
    with pytest.raises(InvalidInput) as refused:
        fire(case.id, "preserve", case_staff("reviewer"), categories=["subscriber", "content"])
    assert refused.value.reasons == ["category_not_authorised"]
    assert unchanged(case.id) == before


def test_a_process_the_agency_cannot_use_preserves_nothing(app, preservation, case_staff):
    case, _ = preservation(country="FR")  # 2703(f) is for US agencies
    with pytest.raises(InvalidInput) as refused:
        fire(case.id, "preserve", case_staff("reviewer"), categories=["subscriber"])
    assert "category_not_authorised" in refused.value.reasons and holds_of(case.id) == 0


def test_nothing_to_preserve_when_no_account_matches(app, make_case, case_staff):
    case = make_case("legal_review", process="preservation_request", identifiers=["nobody@nowhere.example"])
    with pytest.raises(InvalidInput) as refused:
        fire(case.id, "preserve", case_staff("reviewer"), categories=["content"])
    assert refused.value.reasons == ["no_matching_account"] and "nothing to preserve" in refused.value.message
    assert fire(case.id, "no_data_found", case_staff("reviewer")).state is State.NO_DATA


def test_a_request_received_longer_ago_than_its_period_cannot_be_preserved(app, preservation, case_staff):
    case, _ = preservation()
    with pytest.raises(InvalidInput) as refused:
        fire(case.id, "preserve", case_staff("reviewer"), now=case.received_at + timedelta(days=91),
             categories=["content"])
    assert "period_over" in refused.value.reasons


# ---- the hold survives the customer's deletion into the production that follows ------------------

def follow_up(make_case, preservation_case, identifier, **kwargs):
    return make_case("pending_approval", agency=preservation_case.agency, identifiers=[identifier],
                     categories=ALL, preservation_id=preservation_case.id, **kwargs)


def test_held_records_survive_deletion_into_the_production_then_are_purged(
        app, client, cli, preservation, make_case, make_agency, case_staff, plant):
    issued = make_agency()
    case, identifier = preservation("preserved", agency=issued.agency)
    result = cli("vault", "delete-account", identifier)
    assert result.exit_code == 0, result.output
    assert pairs(result.stdout) == {"identifier": identifier, "deleted": "0", "kept_under_hold": "6"}
    assert records_of(identifier) == [] and len(records_of(identifier, including_deleted=True)) == 6
    plant(identifier, subscriber=False, non_content=1, content=())  # a new sign-in after the deletion
    [event] = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.VAULT_ACCOUNT_DELETED.value)).all()
    assert event.data == {"identifier": identifier, "deleted": 0, "kept_under_hold": 6}

    production = follow_up(make_case, case, identifier)
    assert production.kind is CaseKind.PRODUCTION and production.preservation_id == case.id
    approved = fire(production.id, "approve", case_staff("approver2"))
    assert approved.state is State.DISCLOSED

    # The package: the six held records with the digest they were held at, and the live sign-in.
    d = db.session.scalar(sa.select(Disclosure).where(Disclosure.case_id == production.id))
    assert d.manifest["record_counts"] == {identifier: {"subscriber": 1, "non_content": 4, "content": 2}}
    assert d.manifest["preservation"]["case_reference"] == case.reference
    assert d.manifest["preservation"]["records_held"] == 6
    url = client.get(f"/api/v1/agency/requests/{production.id}",
                     headers=bearer(issued.token)).get_json()["download_url"]
    body = client.get(url, headers=bearer(issued.token)).get_data()
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    folder = d.manifest["accounts"][0]["folder"]
    lines = [json.loads(line) for category in ALL
             for line in files[f"{folder}/{category}.jsonl"].splitlines()]
    held = [line for line in lines if "preserved" in line]
    assert len(held) == 6 and len(lines) == 7
    for line in held:  # anyone can recompute the digest from the line itself
        assert line["preserved"]["record_sha256"] == disclosure.record_digest(
            line["kind"], line["recorded_at"], line["data"], None)
    for entry in d.manifest["files"]:
        assert hashlib.sha256(files[entry["path"]]).hexdigest() == entry["sha256"]

    # The production ended, so the preservation was released with it, and the
    # records the customer deleted are gone for good.
    db.session.expire_all()
    followed = db.session.get(Case, case.id)
    assert followed.state is State.RELEASED
    assert production.reference in followed.transitions[-1].note
    assert holds_of(case.id) == 0
    assert len(records_of(identifier, including_deleted=True)) == 1  # only the live sign-in
    assert audit.verify().intact


def test_without_the_preservation_the_deleted_records_are_not_produced(app, preservation, make_case,
                                                                       case_staff, cli):
    case, identifier = preservation("preserved")
    cli("vault", "delete-account", identifier)
    production = make_case("pending_approval", agency=case.agency, identifiers=[identifier], categories=ALL)
    fire(production.id, "approve", case_staff("approver2"))
    d = db.session.scalar(sa.select(Disclosure).where(Disclosure.case_id == production.id))
    assert d.manifest["record_counts"] == {identifier: {"subscriber": 0, "non_content": 0, "content": 0}}
    assert "preservation" not in d.manifest
    db.session.expire_all()
    assert db.session.get(Case, case.id).state is State.PRESERVED  # not its follow-up: still held


def test_an_open_follow_up_keeps_the_hold_past_its_end(app, preservation, make_case):
    case, identifier = preservation("preserved")
    production = make_case("legal_review", agency=case.agency, identifiers=[identifier], categories=ALL,
                           preservation_id=case.id)
    run = expire_preservations(case.preserved_until + timedelta(days=1), SYSTEM)
    assert run.expired == [] and run.kept[0][0] == case.reference
    assert production.reference in run.kept[0][1]
    db.session.expire_all()
    assert db.session.get(Case, case.id).state is State.PRESERVED and holds_of(case.id) == 6


def test_delete_account_without_a_hold_deletes_everything(app, cli, make_customer, plant):
    identifier = make_customer().accounts[0].identifier
    plant(identifier, non_content=2, content=["hello"])
    result = cli("vault", "delete-account", identifier.upper())
    assert pairs(result.stdout) == {"identifier": identifier, "deleted": "4", "kept_under_hold": "0"}
    assert records_of(identifier, including_deleted=True) == []


@pytest.mark.parametrize("identifier", ["nobody@nowhere.example", " "])
def test_delete_account_of_no_account_is_a_clear_error(app, cli, identifier):
    result = cli("vault", "delete-account", identifier)
    assert result.exit_code != 0 and "account" in result.stderr.lower()


def test_the_expire_command_names_what_it_expired_and_what_it_kept(app, cli, preservation, make_case):
    ended, _ = preservation("preserved")
    kept, identifier = preservation("preserved")
    make_case("received", agency=kept.agency, identifiers=[identifier], preservation_id=kept.id)
    # as if their periods had run: the end moved to an hour ago (not the state, which only advance() moves)
    db.session.execute(sa.update(Case).where(Case.id.in_([ended.id, kept.id]))
                       .values(preserved_until=utcnow() - timedelta(hours=1)))
    db.session.commit()
    result = cli("preservations", "expire")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "expired: 1" in lines and f"expired_case: {ended.reference}" in lines
    assert any(line.startswith(f"kept: {kept.reference}: ") for line in lines)


# ---- intake: the kind, and the preservation a production follows ---------------------------------

URL = "/api/v1/agency/requests"


def preservation_body(**overrides) -> dict:
    return case_body(legal_process={"type": "preservation_request", "judicial": False},
                     categories=list(ALL), **overrides)


def test_an_agency_sends_a_preservation_then_the_production_that_follows(app, client, make_agency):
    issued = make_agency()
    sent = client.post(URL, json=preservation_body(), headers=bearer(issued.token))
    assert sent.status_code == 201, sent.get_json()
    body = sent.get_json()
    assert (body["kind"], body["outcome"], body["preserved_until"], body["extensions"]) == (
        "preservation", None, None, 0)
    follows = client.post(URL, json=case_body(preservation_id=body["id"]), headers=bearer(issued.token))
    assert follows.status_code == 201, follows.get_json()
    assert (follows.get_json()["kind"], follows.get_json()["preservation_id"]) == ("production", body["id"])


@pytest.mark.parametrize(("body", "field", "words"), [
    (case_body(kind="preservation"), "kind", "opens a production case"),
    (preservation_body(kind="production"), "kind", "opens a preservation case"),
    (preservation_body(preservation_id=1), "preservation_id", "Only a production demand follows"),
    (case_body(preservation_id=999999), "preservation_id", "not a preservation request of this agency"),
    (case_body(kind="archive"), "kind", ""),
])
def test_intake_refuses_a_kind_or_preservation_that_does_not_fit(app, client, make_agency, body, field,
                                                                   words):
    issued = make_agency()
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Case))
    refused = assert_error(client.post(URL, json=body, headers=bearer(issued.token)), 422, "invalid_input",
                           [field])
    assert words in refused["fields"][field]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == before


def test_a_production_may_not_follow_another_agencys_preservation_or_a_production(app, client, make_agency,
                                                                                   make_case):
    issued = make_agency()
    theirs = make_case("received", process="preservation_request")
    mine = make_case("received", agency=issued.agency)
    for other in (theirs, mine):
        refused = assert_error(client.post(URL, json=case_body(preservation_id=other.id),
                                           headers=bearer(issued.token)), 422, "invalid_input",
                               ["preservation_id"])
        assert ("is a production demand" if other is mine else "not a preservation request of this agency") \
            in refused["fields"]["preservation_id"]
    assert theirs.reference not in json.dumps(refused)  # another agency's case is not named


# ---- the reviewer's pages -------------------------------------------------------------------------

def test_the_case_page_preserves_extends_and_shows_the_hold(app, new_client, make_user, preservation,
                                                            make_case):
    from tests.test_case_pages import act, html, triggers_on

    reviewer = make_user(Role.REVIEWER)
    client = new_client()
    sign_in(client, reviewer)
    case, identifier = preservation()
    page = html(client.get(f"/cases/{case.id}"))
    assert triggers_on(page) == {"preserve", "no_data_found", "reject", "withdraw"}
    assert "Nothing is held yet" in page and "for 90 days from receipt (18 U.S.C. 2703(f))" in page

    done = act(client, case.id, "preserve", categories=["subscriber", "content"])
    assert done.status_code == 303, html(done)
    page = html(client.get(f"/cases/{case.id}"))
    db.session.expire_all()
    left = (db.session.get(Case, case.id).preserved_until - utcnow()).days  # received yesterday: 88
    assert "Held until" in page and f"{left} days left" in page
    assert "3 records:\n      1 subscriber, 2 content" in page and "0 of 1" in page
    assert triggers_on(page) == {"extend", "release", "withdraw"}

    refused = act(client, case.id, "extend")  # no note
    assert refused.status_code == 422 and "Write the renewed request" in html(refused)
    assert act(client, case.id, "extend", note="Renewed by letter.").status_code == 303
    page = html(client.get(f"/cases/{case.id}"))
    assert f"{left + 90} days left" in page and "1 of 1" in page and "Held until" in page
    assert "Records held: 1 subscriber, 2 content" in page  # the history says what was held

    follower = make_case("received", agency=case.agency, identifiers=[identifier], preservation_id=case.id)
    page = html(client.get(f"/cases/{case.id}"))
    assert f'href="/cases/{follower.id}">{follower.reference}</a> (received)' in page
    assert "stay held past this date" in page
    follows = html(client.get(f"/cases/{follower.id}"))
    assert f'Preservation request <a href="/cases/{case.id}">{case.reference}</a> (preserved)' in follows


def test_a_hold_near_its_end_stands_out_in_the_queue(app, new_client, make_user, preservation):
    from tests.test_case_pages import html, row_of

    client = new_client()
    sign_in(client, make_user(Role.REVIEWER))
    near, _ = preservation("preserved")
    far, _ = preservation("preserved")
    db.session.execute(sa.update(Case).where(Case.id == near.id)
                       .values(preserved_until=utcnow() + timedelta(days=10)))
    db.session.commit()
    page = html(client.get("/cases/"))
    assert "Hold ends soon" in row_of(page, near.reference)
    assert 'class="row-hold_ends_soon"' in row_of(page, near.reference)
    assert "Hold ends soon" not in row_of(page, far.reference)
    shown = html(client.get(f"/cases/{near.id}"))
    assert "Ends in 9 days" in shown or "Ends in 10 days" in shown


def test_preservation_requests_are_not_counted_as_production_demands(app, preservation, make_case):
    from workflows.reports import transparency

    preservation("preserved")
    make_case("received")
    now = utcnow()
    period = transparency.Period.parse(f"{now.year}-H{1 if now.month <= 6 else 2}")
    report = transparency.aggregate(period, now)
    assert report["totals"]["requests"] == 1
    assert "preservation_request" not in report["by_process"] and "epoc_pr" not in report["by_process"]


def test_the_report_counts_preservation_requests_apart(app, preservation, make_case, make_agency, case_staff):
    from workflows.reports import transparency

    us, de = make_agency(country="US").agency, make_agency(country="DE").agency
    extended, _ = preservation("preserved", agency=us)
    fire(extended.id, "extend", case_staff("reviewer"), note="Renewed by letter.")
    followed, identifier = preservation("preserved", agency=us)
    make_case("received", agency=us, identifiers=[identifier], preservation_id=followed.id)
    ran_out, _ = preservation("preserved", process="epoc_pr", agency=de)
    assert expire_preservations(ran_out.preserved_until, SYSTEM).expired == [ran_out.reference]
    preservation("legal_review", agency=de)
    now = utcnow()
    period = transparency.Period.parse(f"{now.year}-H{1 if now.month <= 6 else 2}")
    report = transparency.aggregate(period, now)
    assert report["preservation"] == {
        "requests": 4, "extended": 1, "converted": 1, "expired": 1,
        "by_country": {"DE": {"requests": 2, "extended": 0, "converted": 0, "expired": 1},
                       "US": {"requests": 2, "extended": 1, "converted": 1, "expired": 0}}}
    assert report["totals"]["requests"] == 1  # the production demand that followed one
    rows = transparency.to_csv({**report, "revision": None}).splitlines()
    at = rows.index("preservation,requests,extended,converted,expired")
    assert rows[at + 1:at + 4] == ["DE,2,0,0,1", "US,2,1,1,0", "TOTAL,4,1,1,1"]
