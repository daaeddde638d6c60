"""How the transparency report's aggregation holds up at a million cases, on SQLite and
PostgreSQL, and what rendering a 60-country report's PDF costs.

    python bench/transparency.py                           # 1,000,000 cases; SQLite, then PostgreSQL
    python bench/transparency.py --cases 100000            # smaller, for a quick look
    python bench/transparency.py --database-url sqlite     # one engine: a SQLite file in a temporary folder
    python bench/transparency.py --database-url postgresql+psycopg://postgres@127.0.0.1/postgres

First the PDF: a synthetic published snapshot with 60 agency countries (and a
history of two earlier revisions) rendered through transparency.render_pdf, in an
app of its own on an empty SQLite database: seconds per render (median), the growth
of the resident set during one render (VmHWM from /proc/self/status, reset through
/proc/self/clear_refs), and the tracemalloc peak of another.

Then, for each engine: builds a fresh database (on PostgreSQL a new database on that
server, dropped at the end), migrates it, bulk-loads the cases with bench/seed.py
and fills the columns the report counts (seed.py writes the rows directly, so
nothing kept them), then times transparency.aggregate() for the last half-year that
has ended against a plain GROUP BY of the same rows by country and state,
interleaved, and prints both medians, their ratio and the plans of both queries.
Aim: aggregate() at most 1.5x the plain GROUP BY. The schema's ix_cases_report
holds every column aggregate()'s query reads, so the half-year is read from the
index alone."""

import argparse
import base64
import hashlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import seed  # noqa: E402

from models import Case, ProcessType, db, utcnow  # noqa: E402
from models.base import UTCDateTime  # noqa: E402
from workflows.cases.states import Outcome  # noqa: E402
from workflows.reports import checkpoint as signing  # noqa: E402
from workflows.reports import transparency  # noqa: E402
from workflows.reports.transparency import Period  # noqa: E402

DEFAULT_SERVERS = ["sqlite", "postgresql+psycopg://postgres@127.0.0.1/postgres"]
RATIO_AIM = 1.5
MB = 1024 * 1024

# The columns intake, advance() and the notice releases keep for the report, set the
# way those would have: the outcome from the state (disclosed categories are the
# requested ones in seed.py's rows), one account per demand as seed.py writes, a
# quarter of rejections are won challenges and a twenty-fifth of disclosures followed
# a lost one, redirects for the redirect states and some that came back, enterprise
# for those and a seventh of the rest, and the customer told where a notice went
# out without an NDO. {content} is the categories column as text.
REPORT_COLUMNS = """
UPDATE cases SET
    outcome = CASE
        WHEN state = 'disclosed' AND {content} LIKE '%"content"%' THEN 'content_disclosed'
        WHEN state = 'disclosed' THEN 'non_content_disclosed'
        WHEN state = 'no_data' THEN 'no_data_found'
        WHEN state IN ('rejected', 'resolved_by_customer', 'withdrawn') THEN state
        ELSE 'pending' END,
    accounts_specified = json_array_length(identifiers),
    content_requested = {content} LIKE '%"content"%',
    reject_reason = CASE WHEN state = 'rejected' AND id % 4 = 0 THEN 'quashed' ELSE reject_reason END,
    challenged = (state = 'challenged' OR (state = 'rejected' AND id % 4 = 0)
                  OR (state = 'disclosed' AND id % 25 = 0)),
    redirected = (state IN ('redirected', 'resolved_by_customer')
                  OR (state IN ('disclosed', 'withdrawn') AND id % 20 = 0)),
    enterprise = (state IN ('redirected', 'resolved_by_customer')
                  OR (state IN ('disclosed', 'withdrawn') AND id % 20 = 0) OR id % 7 = 0),
    customer_notified = (state IN ('disclosed', 'redirected', 'resolved_by_customer', 'pending_approval')
                         AND NOT ndo_present AND NOT emergency)
"""
CONTENT = {"sqlite": "categories", "postgresql": "CAST(categories AS TEXT)"}

PLAIN_GROUP_BY = """
SELECT agencies.country, cases.state, count(*)
FROM cases JOIN agencies ON agencies.id = cases.agency_id
WHERE cases.received_at >= :start AND cases.received_at < :end
GROUP BY 1, 2
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--database-url", action="append", metavar="URL",
                        help="'sqlite' for a temporary SQLite file, or a PostgreSQL server URL where a "
                             "database is made and dropped; repeatable (default: both)")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs of each query (default 15)")
    parser.add_argument("--renders", type=int, default=5, help="timed PDF renders (default 5)")
    parser.add_argument("--no-pdf", action="store_true", help="skip the PDF")
    args = parser.parse_args()
    print(f"date: {utcnow():%Y-%m-%d}")
    if not args.no_pdf:
        with tempfile.TemporaryDirectory(prefix="dp-bench-") as folder:
            measure_pdf(Path(folder), args.renders)
    for server in args.database_url or DEFAULT_SERVERS:
        with tempfile.TemporaryDirectory(prefix="dp-bench-") as folder, seed.database(server, folder) as url:
            run(url, Path(folder), args)


# ---- the aggregation --------------------------------------------------------------------------

def run(url: str, folder: Path, args) -> None:
    app = seed.bench_app(url, folder)
    with app.app_context():
        dialect = db.engine.dialect.name
        print(f"\nengine: {dialect}  cases: {args.cases:,}")
        upgrade()
        now = utcnow()
        started = time.perf_counter()
        _, counters, load = seed.load(args.cases, now, dialect)
        filled = fill_report_columns(dialect)
        seed.finish(counters)
        if dialect == "postgresql":
            vacuum()  # the UPDATE left a dead version of every row behind
        print(f"seed: {time.perf_counter() - started:.1f} s (bulk load {load:.1f} s, report columns "
              f"{filled:.1f} s, then the counts and ANALYZE)")
        period = last_ended(now)
        measure_aggregate(dialect, period, now, args.repeat)
        db.session.remove()
        db.engine.dispose()


def fill_report_columns(dialect: str) -> float:
    started = time.perf_counter()
    db.session.execute(sa.text(REPORT_COLUMNS.format(content=CONTENT[dialect])))
    db.session.commit()
    return time.perf_counter() - started


def vacuum() -> None:
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM cases"))


def last_ended(now) -> Period:
    running = Period.of(now.date())
    return Period(running.year, 1) if running.half == 2 else Period(running.year - 1, 2)


def plain_group_by(period: Period) -> list:
    query = sa.text(PLAIN_GROUP_BY).bindparams(sa.bindparam("start", type_=UTCDateTime()),
                                               sa.bindparam("end", type_=UTCDateTime()))
    return db.session.execute(query, {"start": period.start, "end": period.end}).all()


def measure_aggregate(dialect: str, period: Period, now, repeat: int) -> None:
    report = transparency.aggregate(period, now)
    plain = plain_group_by(period)
    db.session.commit()
    in_period = db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(
        Case.received_at >= period.start, Case.received_at < period.end))
    national = db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(
        Case.received_at >= period.start, Case.received_at < period.end,
        Case.process_type.in_([ProcessType.NSL, ProcessType.FISA_ORDER])))
    db.session.commit()
    assert report["totals"]["requests"] == in_period - national, (report["totals"], in_period, national)
    assert sum(n for *_, n in plain) == in_period
    assert sum(report["totals"][o.value] for o in Outcome) == report["totals"]["requests"]
    statement, parameters = captured_query(period, now)
    grouped = len(db.session.connection().exec_driver_sql(statement, parameters).all())
    db.session.commit()
    print(f"period {period}: {in_period:,} cases ({national:,} national security), "
          f"{len(report['by_country'])} countries; aggregate()'s query returns {grouped:,} rows, "
          f"the plain GROUP BY {len(plain)}")
    explain(dialect, statement, parameters, period)

    def its_query():
        db.session.connection().exec_driver_sql(statement, parameters).all()

    timings: dict[str, list[float]] = {"aggregate()": [], "its query alone": [], "plain GROUP BY": []}
    work = {"aggregate()": lambda: transparency.aggregate(period, now), "its query alone": its_query,
            "plain GROUP BY": lambda: plain_group_by(period)}
    for i in range(repeat + 2):  # interleaved, the first two runs of each a warm-up
        for label in timings:
            started = time.perf_counter()
            work[label]()
            took = (time.perf_counter() - started) * 1000
            db.session.commit()
            if i >= 2:
                timings[label].append(took)
    medians = {label: statistics.median(values) for label, values in timings.items()}
    plain_ms = medians["plain GROUP BY"]
    print(f"\n{repeat} runs each after 2 warm-up, interleaved; ms (ratio to the plain GROUP BY)")
    for label, values in timings.items():
        print(f"  {label:16s} median {medians[label]:8.1f} (x{medians[label] / plain_ms:4.2f})  "
              f"min {min(values):8.1f}  max {max(values):8.1f}")
    rest = medians["aggregate()"] - medians["its query alone"]
    print(f"  aggregate() beyond its query (building the statement, loading the rows, folding them): "
          f"{rest:.1f} ms")
    ratio = medians["aggregate()"] / plain_ms
    print(f"  ratio aggregate()/plain: {ratio:.2f} (aim <= {RATIO_AIM})  "
          f"{'ok' if ratio <= RATIO_AIM else 'MISSES AIM'}")


def captured_query(period: Period, now) -> tuple[str, object]:
    """The statement aggregate() sends, and its parameters, captured as it runs."""
    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM cases" in statement and not captured:
            captured.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        transparency.aggregate(period, now)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    db.session.commit()
    return captured[0]


def explain(dialect: str, statement: str, parameters, period: Period) -> None:
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    print("\nplan of aggregate()'s query:")
    print("  " + " ".join(statement.split()))
    for row in db.session.connection().exec_driver_sql(prefix + statement, parameters).all():
        print("  " + (str(row[-1]) if dialect == "sqlite" else row[0]))
    print("plan of the plain GROUP BY:")
    query = sa.text(prefix + PLAIN_GROUP_BY).bindparams(sa.bindparam("start", type_=UTCDateTime()),
                                                        sa.bindparam("end", type_=UTCDateTime()))
    for row in db.session.execute(query, {"start": period.start, "end": period.end}).all():
        print("  " + (str(row[-1]) if dialect == "sqlite" else row[0]))
    db.session.commit()


# ---- the PDF ----------------------------------------------------------------------------------

def synthetic_report(countries: tuple[str, ...], seed_value: int = 6) -> tuple[dict, list[dict]]:
    """A published snapshot of the JSON's shape: every country's outcomes sum to its
    requests, the totals to the countries', the processes to the total; third
    revision, with two earlier ones in its history."""
    rng = random.Random(seed_value)
    outcomes = [o.value for o in Outcome]
    by_country = {}
    for country in sorted(countries):
        requests = rng.randint(3, 40) * (40 if country == "US" else 8 if country in ("GB", "DE") else 1)
        split = [0] * len(outcomes)
        for _ in range(requests):
            split[rng.choices(range(len(outcomes)), [14, 19, 14, 19, 9, 18, 7])[0]] += 1
        figures = {"requests": requests, "accounts_specified": requests + rng.randint(0, requests // 2),
                   **dict(zip(outcomes, split, strict=True))}
        for name in ("emergency", "with_ndo", "customer_notified", "challenged"):
            figures[name] = rng.randint(0, requests // 3)
        figures["challenges_won"] = rng.randint(0, figures["challenged"])
        by_country[country] = figures
    totals = {name: sum(f[name] for f in by_country.values()) for name in transparency.FIGURES}
    processes = [p.value for p in ProcessType if p not in transparency.NATIONAL_SECURITY]
    by_process = dict.fromkeys(processes, 0)
    for _ in range(totals["requests"]):
        by_process[rng.choice(processes)] += 1
    enterprise = {"requests": totals["requests"] // 4, "redirected": totals["requests"] // 10,
                  "resolved_by_customer": totals["resolved_by_customer"] // 2,
                  "customer_notified": totals["customer_notified"] // 4,
                  "content_disclosed": totals["content_disclosed"] // 4,
                  "non_content_disclosed": totals["non_content_disclosed"] // 4}
    band = {"requests": "0-499", "accounts": "500-999"}
    report = {
        "period": "2026-H1", "revision": 3, "published_at": "2026-11-28T22:30:00Z",
        "reason": "Two demands from one agency were counted under the wrong country.",
        "starts_on": "2026-01-01", "ends_on": "2026-06-30", "totals": totals, "by_country": by_country,
        "by_process": by_process, "enterprise": enterprise,
        "national_security": {"status": "published", "nsl": band, "fisa_content": band,
                              "fisa_non_content": band},
        "checkpoint": {"audit_seq": 1_234_567, "audit_hash": hashlib.sha256(b"head").hexdigest(),
                       "signed_at": "2026-11-28T22:30:00Z", "algorithm": "Ed25519",
                       "key_id": signing.key_id(),
                       "signature": base64.b64encode(rng.randbytes(64)).decode()},
    }
    history = [{"revision": n, "published_at": f"2026-11-{n + 10}T09:00:00Z",
                "reason": None if n == 1 else "A withdrawn demand was counted as pending.",
                "pdf_sha256": hashlib.sha256(f"pdf {n}".encode()).hexdigest(),
                "json_sha256": hashlib.sha256(f"json {n}".encode()).hexdigest()} for n in (1, 2)]
    return report, history


def measure_pdf(folder: Path, renders: int) -> None:
    app = seed.bench_app(f"sqlite:///{folder}/pdf.sqlite3", folder)
    with app.app_context():
        upgrade()
        report, history = synthetic_report(seed.COUNTRIES)
        first = time.perf_counter()
        document = transparency.render_pdf(report, history)  # loads fonts, compiles templates
        first = time.perf_counter() - first
        assert document.startswith(b"%PDF"), document[:16]
        times = []
        for _ in range(renders):
            started = time.perf_counter()
            transparency.render_pdf(report, history)
            times.append(time.perf_counter() - started)

        rss_growth, _ = seed.rss_growth(lambda: transparency.render_pdf(report, history))
        traced_peak = seed.traced_peak(lambda: transparency.render_pdf(report, history))
        db.engine.dispose()
    requests = report["totals"]["requests"]
    print(f"\nPDF of a {len(report['by_country'])}-country report ({requests:,} requests, revision 3 with "
          f"2 earlier in its history): {len(document) / 1024:,.0f} KB")
    print(f"  first render {first:.2f} s; then {renders} renders: median {statistics.median(times):.2f} s, "
          f"min {min(times):.2f} s, max {max(times):.2f} s")
    print(f"  RSS growth during one render {rss_growth / MB:.1f} MB; "
          f"tracemalloc peak {traced_peak / MB:.1f} MB")


if __name__ == "__main__":
    main()
