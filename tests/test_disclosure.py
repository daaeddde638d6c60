"""Approve -> production package -> the agency's one download, on both engines: the
capability, the sealed package and its manifest, the one-time link, re-issue."""

import dataclasses
import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from models import AuditAction, AuditEvent, Case, Disclosure, ProductionLink, Role, State, db, utcnow
from tests.conftest import PASSWORD, assert_error, caller_for, fresh_code, post_form, sign_in
from workflows import audit, disclosure
from workflows.cases import machine as case_machine
from workflows.disclosure import links, sealing, settings
from workflows.errors import Conflict, Gone, InvalidInput, NotAllowed, NotFound, PackageFailed


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def pending_case(make_case, make_customer, plant, **kwargs):
    """A case awaiting approval for a customer whose vault holds records."""
    customer = make_customer()
    identifier = customer.accounts[0].identifier
    plant(identifier, content=["Meet at the usual place.", "Bring the ledger."], non_content=3,
          files=[b"\x00\x01binary file bytes"])
    return make_case("pending_approval", identifiers=[identifier], **kwargs), identifier


def api_session(client, user) -> str:
    resp = client.post("/api/v1/session", json={"email": user.email, "password": PASSWORD,
                                                "totp": fresh_code(user)})
    return resp.get_json()["csrf_token"]


def approve(case, case_staff, **fields):
    return case_machine.advance(case.id, case_machine.Move("approve", **fields),
                                caller_for(case_staff("approver2")), utcnow())


def production_files(app) -> list:
    folder = settings.folder()
    return sorted(p.name for p in folder.iterdir())


def events(action: AuditAction) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action.value)
                              .order_by(AuditEvent.seq)).all()


def read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


# ---- end to end ------------------------------------------------------------------

def test_approve_packages_and_the_agency_collects_once(app, client, make_case, make_customer, plant,
                                                       case_staff, make_agency):
    issued = make_agency()
    case, identifier = pending_case(make_case, make_customer, plant, agency=issued.agency,
                                    categories=("content", "non_content", "subscriber"),
                                    legal_process={"type": "search_warrant"})
    approve(case, case_staff)
    db.session.expire_all()
    d = db.session.scalar(sa.select(Disclosure).where(Disclosure.case_id == case.id))
    assert d.package_name and d.capability_spent_at is not None
    # sealed at rest: the stored file is not the ZIP and does not contain the text
    stored = (settings.folder() / d.package_name).read_bytes()
    assert stored.startswith(sealing.MAGIC) and b"usual place" not in stored and b"PK" not in stored[:64]

    detail = client.get(f"/api/v1/agency/requests/{case.id}", headers=bearer(issued.token)).get_json()
    assert detail["state"] == "disclosed"
    assert detail["production"]["sha256"] == d.package_sha256
    assert detail["production"]["link_status"] == "available"
    url = detail["download_url"]
    assert url.startswith("http://localhost/api/v1/agency/requests/")

    resp = client.get(url, headers=bearer(issued.token))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "application/zip"
    assert f"{case.reference}-production.zip" in resp.headers["Content-Disposition"]
    body = resp.get_data()
    assert hashlib.sha256(body).hexdigest() == d.package_sha256 == detail["production"]["sha256"]
    assert int(resp.headers["Content-Length"]) == len(body) == d.package_size

    files = read_zip(body)
    manifest = json.loads(files["manifest.json"])
    assert manifest["case_reference"] == case.reference
    assert manifest["categories"] == ["subscriber", "non_content", "content"]
    assert manifest["accounts"] == [{"identifier": identifier, "folder": manifest["accounts"][0]["folder"]}]
    assert manifest["record_counts"] == {identifier: {"subscriber": 1, "non_content": 3, "content": 3}}
    assert manifest["generated_at"].endswith("Z")
    for entry in manifest["files"]:  # every file is listed with its true hash, size and count
        assert hashlib.sha256(files[entry["path"]]).hexdigest() == entry["sha256"]
        assert len(files[entry["path"]]) == entry["size"]
    assert set(files) == {"manifest.json"} | {e["path"] for e in manifest["files"]}
    content = [json.loads(line) for line in files[f"{manifest['accounts'][0]['folder']}/content.jsonl"]
               .splitlines()]
    assert sorted(r["data"].get("body", "") for r in content) == ["", "Bring the ledger.",
                                                                 "Meet at the usual place."]
    stored_file = next(r for r in content if r["kind"] == "file")
    assert files[stored_file["file"]] == b"\x00\x01binary file bytes"

    # once: the second try is 410, audited; the request no longer offers a link
    again = client.get(url, headers=bearer(issued.token))
    assert_error(again, 410, "link_collected")
    detail = client.get(f"/api/v1/agency/requests/{case.id}", headers=bearer(issued.token)).get_json()
    assert detail["download_url"] is None and detail["production"]["link_status"] == "collected"

    collected = events(AuditAction.PRODUCTION_COLLECTED)
    assert len(collected) == 1 and collected[0].data["package_sha256"] == d.package_sha256
    assert [e.data["status"] for e in events(AuditAction.PRODUCTION_REFUSED)] == ["collected"]
    assert len(events(AuditAction.PRODUCTION_PACKAGED)) == 1
    assert audit.verify().intact


def test_only_the_approved_categories_accounts_and_dates_are_packaged(app, make_case, make_customer, plant,
                                                                       case_staff):
    customer = make_customer(accounts=["in-scope@x.example", "other@x.example"])
    plant("in-scope@x.example", content=["inside the range"], non_content=2)
    plant("in-scope@x.example", subscriber=False, content=["after the range"], non_content=1,
          at=datetime(2026, 3, 1, 0, 0, tzinfo=UTC))  # the case asks for 2026-01-01..2026-02-28
    plant("in-scope@x.example", subscriber=False, content=["on the last day"], non_content=0,
          at=datetime(2026, 2, 28, 23, 59, tzinfo=UTC))
    plant("other@x.example", content=["someone else's secret"], non_content=1)
    assert customer
    case = make_case("pending_approval", identifiers=["in-scope@x.example"],
                     categories=("content", "non_content"))
    approve(case, case_staff, categories=["content"])  # narrowed at approval
    db.session.expire_all()
    d = db.session.get(Case, case.id).disclosure
    assert d.manifest["categories"] == ["content"]
    assert d.manifest["record_counts"] == {"in-scope@x.example": {"content": 2}}
    assert [f["path"].rsplit("/", 1)[1] for f in d.manifest["files"]] == ["content.jsonl"]


def test_emergency_disclosure_takes_the_same_path_with_its_justification(app, client, make_case,
                                                                         make_customer, plant, case_staff,
                                                                         make_agency):
    issued = make_agency()
    why = "A child is missing; the account holder was the last to contact her."
    case, _ = pending_case(make_case, make_customer, plant, agency=issued.agency, process="emergency",
                           request_type="emergency", emergency_justification=why,
                           categories=("subscriber",))
    approve(case, case_staff)
    db.session.expire_all()
    d = db.session.get(Case, case.id).disclosure
    assert d.emergency_justification == why
    assert d.manifest["emergency_justification"] == why
    assert events(AuditAction.PRODUCTION_PACKAGED)[0].data["emergency_justification"] == why
    detail = client.get(f"/api/v1/agency/requests/{case.id}", headers=bearer(issued.token)).get_json()
    url = detail["download_url"]
    manifest = json.loads(read_zip(client.get(url, headers=bearer(issued.token)).get_data())["manifest.json"])
    assert manifest["emergency_justification"] == why


# ---- the link ------------------------------------------------------------------------

@pytest.fixture
def disclosed(app, make_case, make_customer, plant, case_staff, make_agency):
    issued = make_agency()
    case, _ = pending_case(make_case, make_customer, plant, agency=issued.agency)
    approve(case, case_staff)
    _, token = disclosure.current_link(db.session.get(Case, case.id).disclosure, utcnow())
    return case, issued, token


def test_another_agencys_token_gets_404_and_the_link_stays_unused(client, disclosed, make_agency):
    case, issued, token = disclosed
    other = make_agency()
    url = f"/api/v1/agency/requests/{case.id}/production/{token}"
    assert_error(client.get(url, headers=bearer(other.token)), 404, "not_found")
    assert client.get(url, headers=bearer(issued.token)).status_code == 200


@pytest.mark.parametrize("tamper", ["flip", "short", "long", "other_case"])
def test_tampered_link_is_404(client, disclosed, make_case, tamper):
    case, issued, token = disclosed
    case_id = case.id
    if tamper == "flip":
        token = ("A" if token[0] != "A" else "B") + token[1:]
    elif tamper == "short":
        token = token[:-1]
    elif tamper == "long":
        token += "A"
    else:
        case_id = make_case("received", agency=issued.agency).id
    url = f"/api/v1/agency/requests/{case_id}/production/{token}"
    assert_error(client.get(url, headers=bearer(issued.token)), 404, "not_found")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProductionLink)
                             .where(ProductionLink.used_at.is_not(None))) == 0


def test_no_token_or_a_staff_cookie_is_401(client, disclosed, make_user):
    case, _, token = disclosed
    url = f"/api/v1/agency/requests/{case.id}/production/{token}"
    assert client.get(url).status_code == 401
    sign_in(client, make_user(Role.APPROVER))
    assert client.get(url).status_code == 401


def test_expired_link_is_410_and_a_reissued_link_works(app, client, disclosed, make_user):
    case, issued, token = disclosed
    link = db.session.scalars(sa.select(ProductionLink)).one()
    assert link.expires_at - link.issued_at <= timedelta(days=7)
    agency_actor = audit.Actor("agency")
    with pytest.raises(Gone) as gone:  # a second after it expires (time is a parameter)
        disclosure.collect(case.id, issued.agency.id, token, agency_actor, link.expires_at)
    assert gone.value.code == "link_expired"
    from views.api.agency_bodies import agency_case

    with app.test_request_context():
        later = agency_case(db.session.get(Case, case.id), link.expires_at + timedelta(seconds=1))
    assert later.download_url is None and later.production.link_status == "expired"
    url = f"/api/v1/agency/requests/{case.id}/production/{token}"

    reviewer = make_user(Role.REVIEWER)
    staff = app.test_client()
    csrf = api_session(staff, reviewer)
    resp = staff.post(f"/api/v1/cases/{case.id}/production/link", json={"note": "The first link expired."},
                      headers={"X-CSRFToken": csrf})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.get_json()["status"] == "available"
    new_url = client.get(f"/api/v1/agency/requests/{case.id}",
                         headers=bearer(issued.token)).get_json()["download_url"]
    assert new_url and new_url != url
    assert_error(client.get(url, headers=bearer(issued.token)), 410, "link_replaced")
    assert client.get(new_url, headers=bearer(issued.token)).status_code == 200
    reissued = [e for e in events(AuditAction.PRODUCTION_LINK_ISSUED) if e.data["reissue"]]
    assert [(e.actor_id, e.data["note"]) for e in reissued] == [(reviewer.id, "The first link expired.")]


def test_reissue_is_for_reviewers_and_approvers_with_a_reason(app, disclosed, make_user):
    case, _, _ = disclosed
    actor = audit.Actor("x", None)
    for role in (Role.INTAKE, Role.ADMIN, Role.AUDITOR, Role.CUSTOMER):
        with pytest.raises(NotAllowed):
            disclosure.reissue(case.id, role, actor, 1, "because", utcnow())
    with pytest.raises(InvalidInput):
        disclosure.reissue(case.id, Role.REVIEWER, actor, 1, "   ", utcnow())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProductionLink)) == 1


def test_reissue_on_a_case_without_a_production_is_409(app, make_case, make_user):
    case = make_case("legal_review")
    with pytest.raises(Conflict):
        disclosure.reissue(case.id, Role.REVIEWER, audit.Actor("x", None), 1, "why", utcnow())
    with pytest.raises(NotFound):
        disclosure.reissue(10**6, Role.REVIEWER, audit.Actor("x", None), 1, "why", utcnow())


def test_two_downloads_at_once_one_wins(app, disclosed):
    import threading

    case, issued, token = disclosed
    case_id, agency_id = case.id, issued.agency.id
    db.session.commit()
    db.session.remove()  # the test's own session holds no lock while the threads run
    results, barrier = [], threading.Barrier(2)

    def collect():
        with app.app_context():
            barrier.wait()
            try:
                disclosure.collect(case_id, agency_id, token, audit.Actor("agency"), utcnow())
                results.append("ok")
            except Gone:
                results.append("gone")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=collect) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["gone", "ok"]
    assert len(events(AuditAction.PRODUCTION_COLLECTED)) == 1


def test_reissue_from_the_case_page(app, client, disclosed, make_user):
    case, _, _ = disclosed
    reviewer = make_user(Role.REVIEWER)
    sign_in(client, reviewer)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Production" in page and "Issue a new link" in page
    d = db.session.get(Case, case.id).disclosure
    assert d.package_sha256 in page
    for f in d.manifest["files"]:
        assert f["sha256"] in page
    resp = post_form(client, f"/cases/{case.id}/production/link", {"note": ""}, f"/cases/{case.id}")
    assert resp.status_code == 422 and "Write why a new link is issued." in resp.get_data(as_text=True)
    resp = post_form(client, f"/cases/{case.id}/production/link", {"note": "Transfer broke off."},
                     f"/cases/{case.id}")
    assert resp.status_code == 303
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProductionLink)) == 2


# ---- the capability -------------------------------------------------------------------

@pytest.fixture
def minted(app, make_case, make_customer, plant, case_staff, monkeypatch):
    """The capability a real approval minted, caught before produce() spent it:
    the case is disclosed and the capability still unused."""
    case, _ = pending_case(make_case, make_customer, plant)
    caught = []

    def catch(cap, now):
        caught.append(cap)
        return SimpleNamespace(record=lambda *args: None, discard=lambda: None, settle=lambda: None)

    monkeypatch.setattr(case_machine.disclosure, "produce", catch)
    approve(case, case_staff)
    monkeypatch.undo()
    return caught[0], db.session.get(Case, case.id)


def produce(cap):
    return disclosure.produce(cap, utcnow())


def test_a_capability_is_spent_once(minted):
    cap, _ = minted
    produce(cap)
    with pytest.raises(disclosure.CapabilityError, match="used"):
        produce(cap)


@pytest.mark.parametrize("change", [
    {"secret": "guessed"},
    {"categories": ("content", "non_content")},
    {"account_ids": (1, 2, 3)},
    {"date_from": None},
    {"case_id": 999},
    {"disclosure_id": 999},
])
def test_a_forged_or_widened_capability_is_refused(minted, change):
    cap, _ = minted
    with pytest.raises(disclosure.CapabilityError):
        produce(dataclasses.replace(cap, **change))
    assert produce(cap)  # the genuine one still works, once


def test_a_capability_for_one_case_does_not_open_another(minted, make_case, make_customer, plant, case_staff):
    cap, _ = minted
    other, _ = pending_case(make_case, make_customer, plant)
    approve(other, case_staff)
    other_disclosure = db.session.get(Case, other.id).disclosure
    with pytest.raises(disclosure.CapabilityError):
        produce(dataclasses.replace(cap, disclosure_id=other_disclosure.id, case_id=other.id))


def test_a_disclosure_row_widened_in_the_database_is_refused(minted):
    cap, _ = minted
    d = db.session.get(Disclosure, cap.disclosure_id)
    d.categories = ["content", "non_content", "subscriber"]
    db.session.flush()
    with pytest.raises(disclosure.CapabilityError):
        produce(cap)
    with pytest.raises(disclosure.CapabilityError):
        produce(dataclasses.replace(cap, categories=("content", "non_content", "subscriber")))


def test_a_disclosure_that_is_no_approval_opens_nothing(minted, make_user):
    """A row written by hand (say, on a case still in review) is no approval."""
    cap, case = minted
    d = db.session.get(Disclosure, cap.disclosure_id)
    d.approved_by_id = case.proposed_by_id  # as if the proposer had approved it
    db.session.flush()
    with pytest.raises(disclosure.CapabilityError, match="not an approval"):
        produce(cap)


def test_no_capability_no_records(app):
    fake = disclosure.Capability(1, 1, ("content",), (1,), None, None, "x")
    with pytest.raises(disclosure.CapabilityError):
        produce(fake)


# ---- failure ----------------------------------------------------------------------------

def test_a_package_write_failing_half_way_discloses_nothing(app, make_case, make_customer, plant, case_staff,
                                                             monkeypatch):
    case, _ = pending_case(make_case, make_customer, plant)
    written = []
    real_write = sealing.SealedWriter.write

    def failing_write(self, data):
        written.append(len(data))
        if sum(written) > 200:
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(sealing.SealedWriter, "write", failing_write)
    case_staff("approver2")  # made now, so that creating the approver is not counted below
    before = db.session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
    with pytest.raises(PackageFailed):
        approve(case, case_staff)
    assert sum(written) > 200  # it did fail part way through
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert case.state is State.PENDING_APPROVAL and case.disclosure is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProductionLink)) == 0
    assert db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.seq > before)).all() == []
    assert production_files(app) == []

    monkeypatch.undo()
    approve(case, case_staff)  # the same approval goes through once the disk is back
    db.session.expire_all()
    assert db.session.get(Case, case.id).state is State.DISCLOSED
    assert len(production_files(app)) == 1


def test_a_failed_package_is_a_503_in_the_api(app, client, make_case, make_customer, plant, case_staff,
                                             monkeypatch):
    case, _ = pending_case(make_case, make_customer, plant)
    csrf = api_session(client, case_staff("approver2"))
    monkeypatch.setattr(sealing.SealedWriter, "close", lambda self: (_ for _ in ()).throw(OSError("disk")))
    resp = client.post(f"/api/v1/cases/{case.id}/transitions", json={"trigger": "approve"},
                       headers={"X-CSRFToken": csrf})
    body = assert_error(resp, 503, "package_failed")
    assert "nothing was disclosed" in body["message"]
    db.session.expire_all()
    assert db.session.get(Case, case.id).state is State.PENDING_APPROVAL
    assert production_files(app) == []


def test_a_package_altered_at_rest_does_not_open_and_does_not_spend_the_link(client, disclosed):
    case, issued, token = disclosed
    d = db.session.get(Case, case.id).disclosure
    path = settings.folder() / d.package_name
    kept = path.read_bytes()
    data = bytearray(kept)
    data[-1] ^= 0x01  # the last chunk: everything before it would stream out fine
    path.write_bytes(bytes(data))
    with pytest.raises(sealing.SealError):
        b"".join(sealing.open_sealed(path, settings.settings().keys))
    url = f"/api/v1/agency/requests/{case.id}/production/{token}"
    assert_error(client.get(url, headers=bearer(issued.token)), 503, "package_failed")
    assert db.session.scalars(sa.select(ProductionLink.used_at)).one() is None
    path.write_bytes(kept)
    assert client.get(url, headers=bearer(issued.token)).status_code == 200


def test_head_tells_size_and_hash_without_spending_the_link(client, disclosed):
    case, issued, token = disclosed
    d = db.session.get(Case, case.id).disclosure
    url = f"/api/v1/agency/requests/{case.id}/production/{token}"
    head = client.head(url, headers=bearer(issued.token))
    assert head.status_code == 200 and head.get_data() == b""
    assert int(head.headers["Content-Length"]) == d.package_size and "Repr-Digest" in head.headers
    assert db.session.scalars(sa.select(ProductionLink.used_at)).one() is None
    assert events(AuditAction.PRODUCTION_COLLECTED) == []
    assert client.get(url, headers=bearer(issued.token)).status_code == 200
    assert client.head(url, headers=bearer(issued.token)).status_code == 410


def test_the_link_is_bound_to_its_agency_even_against_a_database_edit(client, disclosed, make_agency):
    """Moving the case to another agency in the database does not hand that agency the link."""
    case, _, token = disclosed
    other = make_agency()
    db.session.execute(sa.update(Case).where(Case.id == case.id).values(agency_id=other.agency.id))
    db.session.commit()
    url = f"/api/v1/agency/requests/{case.id}/production/{token}"
    assert_error(client.get(url, headers=bearer(other.token)), 404, "not_found")


def test_leftovers_of_a_crashed_approval_are_swept_whatever_their_age(app, make_case, make_customer, plant,
                                                                      case_staff):
    """No live writer holds these: they go at the next approval, however new."""
    folder = settings.folder()
    part, orphan = folder / ".production-x.part", folder / ("f" * 32 + ".sealed")
    for path in (part, orphan):
        path.write_bytes(b"left behind")
    case, _ = pending_case(make_case, make_customer, plant)
    approve(case, case_staff)
    assert not part.exists() and not orphan.exists()
    d = db.session.get(Case, case.id).disclosure
    assert production_files(app) == [d.package_name]


def test_a_file_whose_writer_lives_is_left_alone_until_the_writer_is_gone(app):
    import fcntl
    import os

    folder = settings.folder()
    part = folder / ".production-busy.part"
    part.write_bytes(b"being written")
    writer = os.open(part, os.O_RDWR)
    fcntl.flock(writer, fcntl.LOCK_EX)  # as produce() holds it
    try:
        assert disclosure.sweep_leftovers(folder) == 0 and part.exists()
    finally:
        os.close(writer)  # the writer ends (a crash frees the lock the same way)
    assert disclosure.sweep_leftovers(folder) == 1 and not part.exists()


@pytest.mark.postgres_only  # on SQLite a sweep elsewhere waits for the approval's write lock to end
def test_a_package_waiting_for_its_transaction_is_not_swept(app, make_case, make_customer, plant, case_staff,
                                                            monkeypatch):
    """Between the rename and the commit the package is named by nothing committed:
    only its lock keeps a sweep elsewhere (another worker) from taking it."""
    import threading

    case, _ = pending_case(make_case, make_customer, plant)
    swept, issue = [], links.issue

    def sweep_elsewhere():
        with app.app_context():
            swept.append((disclosure.sweep_leftovers(settings.folder()), production_files(app)))

    def issue_after_a_sweep(*args, **kwargs):  # the approval's transaction is still open here
        elsewhere = threading.Thread(target=sweep_elsewhere)
        elsewhere.start()
        elsewhere.join()
        return issue(*args, **kwargs)

    monkeypatch.setattr(links, "issue", issue_after_a_sweep)
    approve(case, case_staff)
    d = db.session.get(Case, case.id).disclosure
    assert swept == [(0, [d.package_name])]
    assert production_files(app) == [d.package_name]


def test_a_killed_writer_leaves_nothing_after_a_restart(app, cli):
    """A process killed mid-packaging: the kernel frees its lock, and the next app
    to start (a worker, a command) removes the file; so does `productions sweep`."""
    import signal
    import subprocess
    import sys

    folder = settings.folder()
    parts = [folder / ".production-killed-1.part", folder / ".production-killed-2.part"]
    holder = ("import fcntl, os, sys, time\n"
              "fds = [os.open(p, os.O_RDWR | os.O_CREAT) for p in sys.argv[1:]]\n"
              "[fcntl.flock(fd, fcntl.LOCK_EX) for fd in fds]\n"
              "print('holding', flush=True)\n"
              "time.sleep(60)\n")
    writer = subprocess.Popen([sys.executable, "-c", holder, *map(str, parts)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert writer.stdout.readline().strip() == "holding"
        assert disclosure.sweep_leftovers(folder) == 0
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    from tests.conftest import make_app

    make_app(app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path)  # start-up sweeps
    assert not parts[0].exists() and not parts[1].exists()
    parts[0].write_bytes(b"another")
    result = cli("productions", "sweep")
    assert result.exit_code == 0 and result.stdout.strip() == "removed: 1"


def approve_failing_after_the_package(case, case_staff, monkeypatch) -> None:
    """Approve while the database fails after the package is written (its first link
    cannot be stored): the approval must leave nothing behind."""
    from sqlalchemy.exc import OperationalError

    def broken(*args, **kwargs):
        raise OperationalError("INSERT INTO production_links", {}, Exception("disk I/O error"))

    monkeypatch.setattr(links, "issue", broken)
    with pytest.raises(Exception, match="disk I/O error"):
        approve(case, case_staff)
    db.session.expire_all()
    assert db.session.get(Case, case.id).state is State.PENDING_APPROVAL
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Disclosure)) == 0


def test_the_sweep_before_a_package_commits_nothing_of_the_approval(app, make_case, make_customer, plant,
                                                                    case_staff, monkeypatch):
    """The approval sweeps leftovers inside its own transaction: when it then fails,
    nothing of it was committed on the way."""
    (settings.folder() / ".production-old.part").write_bytes(b"left behind")
    case, _ = pending_case(make_case, make_customer, plant)
    approve_failing_after_the_package(case, case_staff, monkeypatch)
    assert production_files(app) == []  # the leftover went, and so did the failed package


def test_a_failure_after_the_package_is_written_leaves_no_file(app, make_case, make_customer, plant,
                                                                case_staff, monkeypatch):
    case, _ = pending_case(make_case, make_customer, plant)
    approve_failing_after_the_package(case, case_staff, monkeypatch)
    assert production_files(app) == []


def test_undated_records_stay_out_of_a_dated_demand_except_the_profile(app, make_case, make_customer,
                                                                       case_staff):
    from models import Account, Category

    customer = make_customer()
    account = customer.accounts[0]
    disclosure.deposit([
        disclosure.Deposit(account.id, Category.SUBSCRIBER, "profile", None, {"name": "A"}),
        disclosure.Deposit(account.id, Category.CONTENT, "message", None, {"body": "undated"}),
        disclosure.Deposit(account.id, Category.CONTENT, "message", datetime(2026, 2, 1, tzinfo=UTC),
                           {"body": "dated, inside"}),
    ])
    db.session.commit()
    assert db.session.get(Account, account.id)
    case = make_case("pending_approval", identifiers=[account.identifier],
                     categories=("subscriber", "content"))  # dated 2026-01-01..2026-02-28
    approve(case, case_staff)
    db.session.expire_all()
    counts = db.session.get(Case, case.id).disclosure.manifest["record_counts"][account.identifier]
    assert counts == {"subscriber": 1, "content": 1}


def test_a_missing_package_file_does_not_spend_the_link(client, disclosed):
    case, issued, token = disclosed
    d = db.session.get(Case, case.id).disclosure
    path = settings.folder() / d.package_name
    kept = path.read_bytes()
    path.unlink()
    url = f"/api/v1/agency/requests/{case.id}/production/{token}"
    assert_error(client.get(url, headers=bearer(issued.token)), 503, "package_failed")
    path.write_bytes(kept)
    resp = client.get(url, headers=bearer(issued.token))
    assert resp.status_code == 200 and hashlib.sha256(resp.get_data()).hexdigest() == d.package_sha256
