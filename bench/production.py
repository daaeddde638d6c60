"""How packaging a production and the agency's download hold up as an account grows,
on SQLite and PostgreSQL.

    python bench/production.py                            # 1,024 MB and 128 MB accounts, both engines
    python bench/production.py --mb 256                   # the demo's large account, by default
    python bench/production.py --database-url sqlite      # one engine: a SQLite file in a temporary folder
    python bench/production.py --database-url postgresql+psycopg://postgres@127.0.0.1/postgres

For each engine: builds a fresh database (on PostgreSQL a new database on that
server, dropped at the end), migrates it, and fills two accounts with the demo's
generator (workflows.demo_vault.fill_account): one of about --mb MB of stored files,
one an eighth of that, each with the everyday records too. Then, for each account,
approves a case for all three categories through advance() (which mints the
capability and calls produce()) and measures:
  - seconds to package and MB/s of stored bytes read;
  - the growth of the process's resident set during the approval (VmHWM from
    /proc/self/status, reset first through /proc/self/clear_refs);
  - on a second case for the same account, the tracemalloc peak of Python's own
    allocations during the approval (tracemalloc slows allocation, so that run is
    not timed);
  - the agency's download: collect() and reading stream() to the end, MB/s.
Aim: flat memory, that is peak memory for the large account about what it is for
the small one (a ratio near 1x, not 8x)."""

import argparse
import io
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import seed  # noqa: E402

from demo.documents import minimal_pdf  # noqa: E402
from demo.vault import MB, Holder, fill_account  # noqa: E402
from models import Agency, CustomerKind, Disclosure, Role, db, utcnow  # noqa: E402
from workflows import disclosure  # noqa: E402
from workflows.audit import Actor  # noqa: E402
from workflows.cases import Caller, Move, demand, intake  # noqa: E402  # noqa: E402
from workflows.cases import machine as case_machine  # noqa: E402
from workflows.disclosure import documents  # noqa: E402
from workflows.identity import directory, users  # noqa: E402

ACTOR = Actor.system("bench")
PASSWORD = "bench-password-2026"  # noqa: S105 (a throwaway database)
DEFAULT_SERVERS = ["sqlite", "postgresql+psycopg://postgres@127.0.0.1/postgres"]
FLAT_AIM = 1.5  # peak memory, large account over small one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=1024, help="stored MB of the large account (default 1024)")
    parser.add_argument("--database-url", action="append", metavar="URL",
                        help="'sqlite' for a temporary SQLite file, or a PostgreSQL server URL where a "
                             "database is made and dropped; repeatable (default: both)")
    args = parser.parse_args()
    for server in args.database_url or DEFAULT_SERVERS:
        with tempfile.TemporaryDirectory(prefix="dp-bench-") as folder, seed.database(server, folder) as url:
            run(url, Path(folder), args.mb)


@dataclass
class Staff:
    reviewer: Caller
    approver: Caller


@dataclass
class Result:
    label: str
    stored: int  # the account's stored bytes
    records: int
    seconds: float
    package: int  # bytes of the sealed package
    rss_growth: int
    traced_peak: int
    download_seconds: float


def run(url: str, folder: Path, mb: int) -> None:
    app = seed.bench_app(url, folder)
    with app.app_context():
        dialect = db.engine.dialect.name
        print(f"\nengine: {dialect}  large account: {mb:,} MB  small: {mb / 8:,.0f} MB  "
              f"date: {utcnow():%Y-%m-%d}")
        upgrade()
        now = utcnow()
        staff = make_staff(now)
        agency_id = directory.create_agency("Bench Field Office", "US", ACTOR, now, verified=True).agency.id
        customer = directory.create_customer("Bench Archive Inc", "enterprise", "US",
                                             ["legal@bench-archive.example"],
                                             ["large@bench-archive.example", "small@bench-archive.example"],
                                             ACTOR, now)
        db.session.commit()
        accounts = {a.identifier: a.id for a in customer.accounts}
        results = []
        for label, identifier, size in (("large", "large@bench-archive.example", mb * MB),
                                        ("small", "small@bench-archive.example", mb * MB // 8)):
            started = time.perf_counter()
            fill_account(Holder(accounts[identifier], identifier, "Bench Archive Inc", "US",
                                          CustomerKind.ENTERPRISE), now, size)
            db.session.commit()
            took = time.perf_counter() - started
            count, stored = disclosure.vault_size(accounts[identifier])
            print(f"seed {label}: {count:,} records, {stored / MB:,.1f} MB stored, {took:.1f} s "
                  f"({stored / MB / took:,.0f} MB/s)")
            results.append(measure(label, identifier, agency_id, staff, folder, count, stored))
        report(results)
        db.session.remove()
        db.engine.dispose()


def make_staff(now) -> Staff:
    made = []
    for role, email in ((Role.REVIEWER, "reviewer@bench.example"), (Role.APPROVER, "approver@bench.example")):
        user = users.create_user(email, role, PASSWORD, ACTOR, now).user
        user.totp_confirmed_at = now
        db.session.flush()
        made.append(Caller(user.id, role, now, Actor(user.email, user.id)))
    db.session.commit()
    return Staff(*made)


def pending_case(identifier: str, agency_id: int, staff: Staff, folder: Path) -> int:
    """A US search warrant for everything the account holds, proposed and awaiting approval."""
    now = utcnow()
    body = {
        "agency_id": agency_id, "received_at": now.isoformat(), "request_type": "criminal",
        "legal_process": {"type": "search_warrant", "issuing_authority": "U.S. District Court",
                          "judicial": True, "issued_on": now.date().isoformat(), "expires_on": None,
                          "signed": True, "case_number": f"2:26-mj-{uuid.uuid4().int % 100000:05d}",
                          "response_due": None},
        "identifiers": [identifier], "categories": ["subscriber", "non_content", "content"],
        "date_range": None, "ndo": {"present": False, "statute": "", "ends_on": None},
        "emergency_justification": None,
    }
    case = intake.create_case(demand.parse_case(body, now), db.session.get(Agency, agency_id), ACTOR, now)
    db.session.commit()
    case_id = case.id
    pdf = minimal_pdf(["Search warrant", f"Account: {identifier}"])
    documents.store(case_id, io.BytesIO(pdf), "warrant.pdf", ACTOR, now,
                    documents.folder_for(str(folder / "instance")))
    reviewer = staff.reviewer
    case_machine.advance(case_id, Move("start_review"), reviewer, utcnow())
    case_machine.advance(case_id, Move("propose_disclosure", categories=["subscriber", "non_content",
                                                                        "content"]), reviewer, utcnow())
    return case_id


def approve(case_id: int, staff: Staff) -> None:
    now = utcnow()
    caller = Caller(staff.approver.user_id, Role.APPROVER, now, staff.approver.actor)
    case_machine.advance(case_id, Move("approve"), caller, now)


def measure(label: str, identifier: str, agency_id: int, staff: Staff, folder: Path, records: int,
            stored: int) -> Result:
    timed = pending_case(identifier, agency_id, staff, folder)
    traced = pending_case(identifier, agency_id, staff, folder)
    db.session.expunge_all()

    rss_growth, seconds = seed.rss_growth(lambda: approve(timed, staff))
    traced_peak = seed.traced_peak(lambda: approve(traced, staff))

    done = db.session.scalar(sa.select(Disclosure).where(Disclosure.case_id == timed))
    package = done.package_size
    _, token = disclosure.current_link(done, utcnow())
    db.session.commit()
    started = time.perf_counter()
    collected = disclosure.collect(timed, agency_id, token, Actor("agency@bench.example", None),
                                   utcnow())
    received = sum(len(chunk) for chunk in disclosure.stream(collected))
    download = time.perf_counter() - started
    assert received == package, (received, package)
    return Result(label, stored, records, seconds, package, rss_growth, traced_peak, download)


def report(results: list[Result]) -> None:
    print("\naccount  stored MB   records  package s  MB/s  package MB  RSS growth MB  traced peak MB  "
          "download s  MB/s")
    for r in results:
        print(f"{r.label:7s}  {r.stored / MB:9,.1f}  {r.records:8,}  {r.seconds:9.1f}  "
              f"{r.stored / MB / r.seconds:4.0f}  {r.package / MB:10,.1f}  {r.rss_growth / MB:13.1f}  "
              f"{r.traced_peak / MB:14.1f}  "
              f"{r.download_seconds:10.2f}  {r.package / MB / r.download_seconds:4.0f}")
    large, small = results
    traced, rss = large.traced_peak / small.traced_peak, large.rss_growth / max(small.rss_growth, 1)
    verdict = "flat" if traced <= FLAT_AIM else "NOT FLAT"
    print(f"peak memory, large over small ({large.stored / small.stored:.0f}x the data): "
          f"traced {traced:.2f}x, RSS growth {rss:.2f}x  {verdict}")


if __name__ == "__main__":
    main()
