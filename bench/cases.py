"""How the queue page and advance() hold up at a million cases, on SQLite or PostgreSQL.

    python bench/cases.py                      # SQLite file in a temporary folder, 1,000,000 cases
    python bench/cases.py --cases 100000
    python bench/cases.py --postgres postgresql+psycopg://postgres@127.0.0.1/postgres

Builds a fresh database (on PostgreSQL a new database on that server, dropped at the
end), migrates it, bulk-loads the cases, then measures in the same run:
  (a) GET /cases/ (the open queue and one state's: page 1, page 2, pages 50% and 90% of the
      way down) against a bare page that renders only base.html, as a signed-in reviewer;
  (b) start_review through advance() against the same writes done plainly.
Aims: the queue page within 2x the bare page; advance() at least half the plain rate."""

import argparse
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
from flask_migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import seed  # noqa: E402

from models import AuditAction, Case, CaseTransition, Role, State, User, db, utcnow  # noqa: E402
from workflows import audit  # noqa: E402
from workflows.audit import Actor  # noqa: E402
from workflows.cases import (  # noqa: E402
    Caller,
    Move,
    queue,
)
from workflows.cases import machine as case_machine  # noqa: E402
from workflows.identity import auth  # noqa: E402

QUEUE_AIM, SEARCH_AIM, ADVANCE_AIM = 2.0, 2.0, 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--postgres", metavar="URL", help="server URL; a database is made there and dropped")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--transitions", type=int, default=2000, help="cases moved by each method")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dp-bench-") as folder, \
            seed.database(args.postgres, folder) as url:
        run(args, url, Path(folder))


@dataclass(frozen=True)
class QueuePage:
    label: str
    filters: queue.Filters
    after: queue.Cursor | None

    @property
    def path(self) -> str:
        query = {"state": self.filters.state.value} if self.filters.state else {}
        if self.after:
            query["after"] = self.after.encode()
        return "/cases/" + ("?" + urlencode(query) if query else "")


def run(args, url: str, folder: Path) -> None:
    app = seed.bench_app(url, folder)
    with app.app_context():
        dialect = db.engine.dialect.name
        print(f"engine: {dialect}  cases: {args.cases:,}  date: {utcnow():%Y-%m-%d}")
        upgrade()
        now = utcnow()
        started = time.perf_counter()
        staff, counters, load = seed.load(args.cases, now, dialect)
        seed.finish(counters)
        total = time.perf_counter() - started
        print(f"seed: {total:.1f} s (generating and bulk-loading the cases {load:.1f} s, "
              f"{args.cases / load:,.0f} rows/s; then the counts and ANALYZE)")
        print("states: " + ", ".join(f"{s.value} {n:,}" for s, n in queue.state_counts().items()))
        token = sign_in(now)
        pages = queue_pages(now)
        for page in pages:
            if "deep" in page.label:
                explain(dialect, page)
        page_times = {page.label: time_queue_page(page) for page in pages}
        pages += search_pages()
    measure_pages(app, token, pages, page_times, args.requests, args.warmup)
    with app.app_context():
        measure_transitions(args.transitions, staff)
        print(f"audit: {'intact' if audit.verify().intact else 'BROKEN'}")
        db.engine.dispose()


# ---- (a) the queue page ---------------------------------------------------------------

def sign_in(now) -> str:
    """A reviewer with a live server-side session; returns the session token."""
    user = db.session.scalar(sa.select(User).where(User.role == Role.REVIEWER))
    token = auth.start_session(user, "127.0.0.1", "bench", now).token
    db.session.commit()
    return token


def queue_pages(now) -> list[QueuePage]:
    """For the open queue and for one state: page 1, page 2 (its next link), and pages
    halfway and 90% of the way down (the key of that row, found with one OFFSET query)."""
    pages = []
    for name, filters in (("open cases", queue.Filters()),
                          ("legal_review", queue.Filters(state=State.LEGAL_REVIEW))):
        second = queue.page(filters, now).next_cursor
        pages += [QueuePage(f"{name}, page 1", filters, None), QueuePage(f"{name}, page 2", filters, second)]
        pages += [QueuePage(f"{name}, {depth:.0%} deep", filters, deep_cursor(filters.state, depth))
                  for depth in (0.5, 0.9)]
    db.session.commit()
    return pages


def search_pages() -> list["QueuePage"]:
    """Searches as a reviewer types them (an old closed case's reference, an account,
    the start of an agency's name) and the staff home with its counts."""
    row = db.session.execute(sa.select(Case.reference, Case.identifiers).where(Case.is_open.is_(False))
                             .order_by(Case.id).offset(1000).limit(1)).one()
    db.session.commit()
    return [SearchPage("search: a reference", f"/cases/?q={row.reference}"),
            SearchPage("search: an account", f"/cases/?q={row.identifiers[0]}"),
            SearchPage("search: agency prefix", "/cases/?q=Agency+DE"),
            SearchPage("home (the day's work)", "/home", marker=b"What waits")]


@dataclass(frozen=True)
class SearchPage:
    label: str
    path: str
    marker: bytes = b'class="queue"'


def deep_cursor(state: State | None, depth: float) -> queue.Cursor:
    """The sort key of the row `depth` of the way down the filtered queue."""
    where = Case.state == state if state else Case.is_open.is_(True)
    n = db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(where))
    row = db.session.execute(
        sa.select(Case.priority, Case.due_at, Case.id).where(where)
        .order_by(Case.priority, Case.due_at, Case.id).offset(int(n * depth)).limit(1)
    ).one()
    return queue.Cursor(tuple(row))


def time_queue_page(page: QueuePage, n: int = 50) -> float:
    """Median ms of queue.page() alone (the query and reading 51 rows, as the queue page
    reads them), no HTTP or template."""
    times = []
    for _ in range(n + 5):
        db.session.expunge_all()
        started = time.perf_counter()
        queue.page(page.filters, utcnow(), page.after, rows_only=True)
        times.append((time.perf_counter() - started) * 1000)
        db.session.commit()
    return statistics.median(times[5:])


def explain(dialect: str, page: QueuePage) -> None:
    """The plan of the query queue.page() runs, captured as it runs."""
    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM cases" in statement and not captured:
            captured.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        queue.page(page.filters, utcnow(), page.after)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    statement, parameters = captured[0]
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    plan = db.session.connection().exec_driver_sql(prefix + statement, parameters).all()
    db.session.commit()
    print(f"\nplan of the queue query, {page.label}:")
    print("  " + re.sub(r"SELECT .*? FROM", "SELECT cases.* FROM", " ".join(statement.split())))
    for row in plan:
        print("  " + (str(row[-1]) if dialect == "sqlite" else row[0]))


def measure_pages(app, token: str, pages: list[QueuePage], page_times: dict[str, float], n: int,
                  warmup: int) -> None:
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = token, True
    paths = {"bare page": "/bench-bare"} | {page.label: page.path for page in pages}
    markers = {page.path: getattr(page, "marker", b'class="queue"') for page in pages}
    for path in paths.values():
        response = client.get(path)
        if response.status_code != 200 or (path != "/bench-bare" and markers[path] not in response.data):
            raise SystemExit(f"GET {path}: {response.status_code}\n{response.get_data(as_text=True)[:2000]}")
    timings: dict[str, list[float]] = {label: [] for label in paths}
    for i in range(warmup + n):
        for label, path in paths.items():  # interleaved, so drift hits every page alike
            started = time.perf_counter()
            client.get(path)
            if i >= warmup:
                timings[label].append((time.perf_counter() - started) * 1000)
    bare_median, bare_p95 = summary(timings["bare page"])
    print(f"\n(a) GET, {n} requests each after {warmup} warm-up, interleaved; ms; ratio to the bare page "
          f"(aim: at most {QUEUE_AIM:.0f}x for the queue, {SEARCH_AIM:.0f}x for searches and the home page); "
          "queue.page() alone")
    for label, values in timings.items():
        median, p95 = summary(values)
        ratio = median / bare_median
        aim = SEARCH_AIM if label.startswith(("search", "home")) else QUEUE_AIM
        verdict = "" if label == "bare page" else ("ok" if ratio <= aim else f"MISSES AIM ({aim:.0f}x)")
        alone = f"{page_times[label]:6.2f}" if label in page_times else "     -"
        print(f"  {label:24s} median {median:7.2f}  p95 {p95:7.2f}  x{ratio:5.2f} "
              f"(p95 x{p95 / bare_p95:5.2f})  queue.page() {alone}  {verdict}")


def summary(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


# ---- (b) transitions ----------------------------------------------------------------------

def measure_transitions(k: int, staff: seed.Staff) -> None:
    """start_review on k received cases through advance(), and on k others plainly:
    the transition row, the case row (state, version, assignee) and the audit event,
    one transaction each, with no state machine, guards, legal check or counts."""
    ids = list(db.session.scalars(
        sa.select(Case.id).where(Case.state == State.RECEIVED).order_by(Case.id).limit(2 * k)))
    if len(ids) < 2 * k:
        raise SystemExit(f"only {len(ids)} received cases; use fewer --transitions or more --cases")
    reviewer_id = staff.reviewer_ids[0]
    actor = Actor(db.session.get(User, reviewer_id).email, reviewer_id)
    cases = db.session.execute(sa.select(Case.id, Case.reference).where(Case.id.in_(ids[1::2]))).all()
    references = dict(cases)
    db.session.commit()
    through, plain = [], []
    for advanced_id, plain_id in zip(ids[0::2], ids[1::2], strict=True):
        now = utcnow()
        caller = Caller(reviewer_id, Role.REVIEWER, now, actor)
        started = time.perf_counter()
        case_machine.advance(advanced_id, Move("start_review"), caller, now)
        through.append(time.perf_counter() - started)
        db.session.expunge_all()
        started = time.perf_counter()
        plain_start_review(plain_id, references[plain_id], reviewer_id, actor, now)
        plain.append(time.perf_counter() - started)
    moved = db.session.scalar(sa.select(sa.func.count()).select_from(CaseTransition))
    assert moved == 2 * k, moved
    rate, plain_rate = k / sum(through), k / sum(plain)
    verdict = "ok" if rate / plain_rate >= ADVANCE_AIM else "MISSES AIM"
    print(f"\n(b) start_review on {k:,} cases each, one transaction per case")
    print(f"  advance():      {rate:8.0f} /s   median {statistics.median(through) * 1000:6.2f} ms")
    print(f"  plain writes:   {plain_rate:8.0f} /s   median {statistics.median(plain) * 1000:6.2f} ms")
    print(f"  ratio advance/plain: {rate / plain_rate:.3f} (aim >= {ADVANCE_AIM:.3f})  {verdict}")


_TRANSITIONS, _CASES = CaseTransition.__table__, Case.__table__


def plain_start_review(case_id: int, reference: str, user_id: int, actor: Actor, now) -> None:
    """What start_review must write, written directly: log row first (the database
    refuses a state change without it), then the case, then the audit event."""
    db.session.execute(_TRANSITIONS.insert().values(
        case_id=case_id, seq=2, trigger="start_review", from_state=State.RECEIVED.value,
        to_state=State.LEGAL_REVIEW.value, actor_id=user_id, actor=actor.label, at=now, note=None,
        data={"assignee_id": user_id}))
    updated = db.session.execute(_CASES.update().where(_CASES.c.id == case_id, _CASES.c.version == 1).values(
        state=State.LEGAL_REVIEW.value, version=2, assignee_id=user_id))
    assert updated.rowcount == 1, case_id
    audit.record(AuditAction.CASE_TRANSITION, actor, subject=("case", case_id), now=now, data={
        "reference": reference, "trigger": "start_review", "from": "received", "to": "legal_review",
        "version": 2, "note": None, "assignee_id": user_id})
    db.session.commit()


if __name__ == "__main__":
    main()
