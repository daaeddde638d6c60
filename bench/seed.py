"""Bulk loading for the benchmark: agencies in ~60 countries, reviewers, and N cases
written straight into the tables (executemany on SQLite, COPY on PostgreSQL).

The rows are what intake and advance() would have left behind (state, is_open,
priority, due_at, assignee, version), without their transition log or audit
events: the benchmark measures reading the queue and firing new transitions."""

import contextlib
import ctypes
import gc
import json
import random
import time
import tracemalloc
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import render_template_string
from sqlalchemy import func, select, text

from app import create_app
from models import Case, CaseReferenceCounter, Role, State, db
from models.case import REFERENCE_PREFIX
from views.policy import PUBLIC
from workflows.audit import Actor
from workflows.cases import intake
from workflows.identity import directory, users

ACTOR = Actor.system("bench")
PASSWORD = "bench-password-2026"  # noqa: S105 (a throwaway database)
BATCH = 50_000
YEARS = 5
OPEN_WITHIN = timedelta(days=180)  # open cases arrived in the last half-year

EU = ("DE", "FR", "IT", "ES", "NL", "BE", "AT", "SE", "FI", "IE", "PL", "PT", "CZ", "GR", "HU", "RO",
      "BG", "HR", "SK", "SI", "LT", "LV", "EE", "LU", "MT", "CY")
COUNTRIES = ("US", "GB", *EU, "DK", "AU", "CA", "NZ", "JP", "KR", "IN", "BR", "MX", "AR", "CL", "CO",
             "ZA", "NG", "KE", "EG", "TR", "IL", "AE", "SA", "SG", "MY", "TH", "ID", "PH", "VN", "CH",
             "NO", "IS", "UA", "PE", "PK")
# Roughly how demands arrive: most from the US, then the large EU states and the UK.
COUNTRY_WEIGHT = {"US": 40, "GB": 8, "DE": 8, "FR": 6, "IT": 4, "BR": 4, "IN": 4, "AU": 3, "ES": 3}

# State mix: mostly closed; about 7% open.
STATE_WEIGHTS = {
    State.DISCLOSED: 33, State.REJECTED: 19, State.NO_DATA: 14, State.RESOLVED_BY_CUSTOMER: 9,
    State.WITHDRAWN: 18, State.RECEIVED: 1.2, State.LEGAL_REVIEW: 3.2, State.REDIRECTED: 0.8,
    State.CHALLENGED: 0.6, State.PENDING_APPROVAL: 1.2,
}
VERSION_OF = {
    State.RECEIVED: 1, State.LEGAL_REVIEW: 2, State.REDIRECTED: 3, State.CHALLENGED: 3,
    State.PENDING_APPROVAL: 3, State.DISCLOSED: 4, State.NO_DATA: 3, State.REJECTED: 3,
    State.RESOLVED_BY_CUSTOMER: 4, State.WITHDRAWN: 2,
}
US_PROCESSES = ["subpoena"] * 5 + ["court_order"] * 3 + ["search_warrant"] * 4 + ["nsl", "fisa_order",
                                                                                  "emergency", "informal"]
OTHER_PROCESSES = ["mlat"] * 2 + ["local_order"] * 4 + ["emergency", "informal"]
# JSON columns are written as JSON text, made once.
CATEGORIES = [json.dumps(c) for c in (["subscriber"], ["subscriber", "non_content"], ["content"],
                                      ["subscriber", "non_content", "content"])]
CHANNELS = ["api", "api", "portal", "email", "email", "post", "fax"]

COLUMNS = (
    "id", "reference", "agency_id", "received_at", "channel", "request_type", "process_type",
    "issuing_authority", "judicial", "issued_on", "expires_on", "signed", "case_number", "response_due",
    "identifiers", "categories", "date_from", "date_to", "ndo_present", "ndo_statute", "ndo_ends_on",
    "emergency_justification", "emergency", "state", "is_open", "priority", "due_at", "assignee_id",
    "version", "proposed_categories", "proposed_by_id", "reject_reason", "created_at", "created_by_id",
)


@dataclass
class Staff:
    reviewer_ids: list[int]
    approver_ids: list[int]


def seed_directory(now: datetime) -> tuple[dict[str, list[int]], Staff]:
    """One agency per country (five in the US, two in GB and DE), 20 reviewers, 4 approvers."""
    agencies: dict[str, list[int]] = {}
    for country in COUNTRIES:
        for n in range({"US": 5, "GB": 2, "DE": 2}.get(country, 1)):
            issued = directory.create_agency(f"Agency {country} {n + 1}", country, ACTOR, now, verified=True)
            agencies.setdefault(country, []).append(issued.agency.id)
    staff = Staff([], [])
    for role, count, ids in ((Role.REVIEWER, 20, staff.reviewer_ids), (Role.APPROVER, 4, staff.approver_ids)):
        for n in range(count):
            user = users.create_user(f"{role.value}{n + 1}@bench.example", role, PASSWORD, ACTOR, now).user
            user.totp_confirmed_at = now
            db.session.flush()
            ids.append(user.id)
    db.session.commit()
    return agencies, staff


def case_rows(n: int, now: datetime, agencies: dict[str, list[int]], staff: Staff, counters: dict[int, int],
              seed: int = 1):
    """N cases as tuples in COLUMNS order, received in time order, ids from 1; `counters`
    gets the last reference number of each year."""
    rng = random.Random(seed)
    states, weights = list(STATE_WEIGHTS), list(STATE_WEIGHTS.values())
    countries = list(agencies)
    country_weights = [COUNTRY_WEIGHT.get(c, 0.6) for c in countries]
    span = YEARS * 365 * 86400
    drawn = []
    for state in rng.choices(states, weights, k=n):
        back = rng.uniform(0, OPEN_WITHIN.total_seconds()) if not state.is_terminal else rng.uniform(0, span)
        drawn.append((now - timedelta(seconds=back), state))
    drawn.sort(key=lambda pair: pair[0])
    for ident, ((received, state), country) in enumerate(
            zip(drawn, rng.choices(countries, country_weights, k=n), strict=True), start=1):
        received = received.replace(microsecond=received.microsecond or 1)
        counters[received.year] = counters.get(received.year, 0) + 1
        process = rng.choice(US_PROCESSES if country == "US" else OTHER_PROCESSES + (
            ["epoc"] * 3 if country in EU else ["cloud_act_order"] * 3 if country in ("GB", "AU") else []))
        emergency = process == "emergency"
        request_type = ("emergency" if emergency else "national_security" if process in ("nsl", "fisa_order")
                        else "criminal")
        issued = (received - timedelta(days=rng.randint(0, 10))).date()
        due = received + (timedelta(hours=8) if emergency else timedelta(days=10) if process == "epoc"
                          else timedelta(days=14))
        ndo = not emergency and rng.random() < 0.3
        categories = rng.choice(CATEGORIES)
        proposed = categories if state in (State.PENDING_APPROVAL, State.DISCLOSED) else None
        assignee = None if state is State.RECEIVED or (state is State.WITHDRAWN and rng.random() < 0.5) \
            else rng.choice(staff.reviewer_ids)
        yield (
            ident, f"{REFERENCE_PREFIX}-{received.year:04d}-{counters[received.year]:06d}",
            rng.choice(agencies[country]), received, rng.choice(CHANNELS), request_type, process,
            "Court" if process != "informal" else "",
            process not in ("subpoena", "nsl", "informal", "emergency"),
            None if emergency else issued, None, process not in ("informal", "emergency"),
            f"CN-{ident}", None, f'["user{rng.randint(1, 5_000_000)}@mail.example"]', categories,
            None, None, ndo, "18 U.S.C. 2705(b)" if ndo else "", None,
            "Danger to life." if emergency else None, emergency, state.value, not state.is_terminal,
            0 if emergency else 1, due, assignee, VERSION_OF[state], proposed,
            assignee if proposed else None, "overbroad" if state is State.REJECTED else None,
            received + timedelta(minutes=5), None,
        )


def _for_sqlite(row: tuple) -> list:
    """As SQLAlchemy stores it on SQLite: times as naive UTC text (models.base.UTCDateTime;
    every time here is UTC with non-zero microseconds, so isoformat has the same shape),
    dates as ISO text."""
    row = list(row)
    for i in _TIMES:
        row[i] = row[i].isoformat(" ")[:26]
    for i in _DATES:
        if row[i] is not None:
            row[i] = row[i].isoformat()
    return row


_TIMES = [COLUMNS.index(c) for c in ("received_at", "due_at", "created_at")]
_DATES = [COLUMNS.index(c) for c in ("issued_on", "expires_on", "response_due", "date_from", "date_to",
                                     "ndo_ends_on")]


def load_cases(rows, dialect: str) -> float:
    """Write the rows; returns the seconds it took."""
    started = time.perf_counter()
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if dialect == "sqlite":
            cursor.execute("PRAGMA cache_size = -1000000")  # 1 GB page cache while indexes grow
            sql = f"INSERT INTO cases ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
            cursor.execute("BEGIN")
            batch = []
            for row in rows:
                batch.append(_for_sqlite(row))
                if len(batch) >= BATCH:
                    cursor.executemany(sql, batch)
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
            cursor.execute("COMMIT")
        else:
            with cursor.copy(f"COPY cases ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute("SELECT setval(pg_get_serial_sequence('cases', 'id'), "
                           "(SELECT max(id) FROM cases))")
            raw.commit()
        cursor.close()
    finally:
        raw.close()
    return time.perf_counter() - started


def finish(counters: dict[int, int]) -> None:
    """The per-state counts, the reference counters, then fresh planner statistics."""
    intake.recount_states()
    # Each case's account, as intake's listener would have indexed it (one per bench case).
    first = "json_extract(identifiers, '$[0]')" if db.engine.dialect.name == "sqlite" else "identifiers->>0"
    db.session.execute(text(f"INSERT INTO case_identifiers (case_id, identifier) "
                            f"SELECT id, {first} FROM cases"))
    table = CaseReferenceCounter.__table__
    db.session.execute(table.delete())
    db.session.execute(table.insert(), [{"year": y, "last": n} for y, n in sorted(counters.items())])
    db.session.commit()
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("ANALYZE"))


def case_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Case))


# ---- the harness the benchmarks share --------------------------------------------------

@contextlib.contextmanager
def database(server: str | None, folder: str):
    """A database for one run: a SQLite file in `folder` (server None or "sqlite"), or
    a new database on a PostgreSQL server, dropped at the end."""
    if not server or server == "sqlite":
        yield f"sqlite:///{folder}/bench.sqlite3"
        return
    name = f"dp_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


BARE = '{% extends "base.html" %}{% block content %}<p>Bare page.</p>{% endblock %}'


def bench_app(url: str, folder: Path):
    """The app on the bench's database, with a bare page at /bench-bare (a template that
    extends base.html and nothing else): what every page costs, to measure others against."""
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-secret", "PASSWORD_HASH_PROFILE": "fast",
        "SESSION_COOKIE_SECURE": False, "INSTANCE_PATH": str(folder / "instance"), "DEMO": False,
    })

    def bare():
        return render_template_string(BARE)

    bare.access_policy = PUBLIC
    app.add_url_rule("/bench-bare", "bench_bare", bare)
    return app


def load(n: int, now: datetime, dialect: str) -> tuple[Staff, dict[int, int], float]:
    """The directory and n cases, bulk-loaded; returns the staff, the reference
    counters for finish() and the seconds the cases took."""
    agencies, staff = seed_directory(now)
    counters: dict[int, int] = {}
    return staff, counters, load_cases(case_rows(n, now, agencies, staff, counters), dialect)


# ---- memory ------------------------------------------------------------------------------

def settle() -> None:
    """Free what earlier steps left behind and hand it back to the system, so the
    resident set measured next starts from what is really in use."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def proc_status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def rss_growth(work) -> tuple[int, float]:
    """How far the resident set grew above where it stood while `work()` ran, and
    the seconds it took."""
    settle()
    Path("/proc/self/clear_refs").write_text("5")  # the high-water mark starts again from here
    before = proc_status("VmRSS")
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    return proc_status("VmHWM") - before, seconds


def traced_peak(work) -> int:
    """The peak of Python's own allocations while `work()` ran (tracemalloc slows
    allocation, so this run is not timed)."""
    settle()
    tracemalloc.start()
    tracemalloc.reset_peak()
    work()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak
