"""Fixtures: a fresh database per test, on SQLite and (with TEST_DATABASE_URL) PostgreSQL.

The suite runs in pytest-xdist workers; each has its own of everything below.
SQLite: the schema is migrated once into a template file, copied for each test.
PostgreSQL: a database of the worker's own, migrated once, emptied before each test.
A test marked seeded_demo starts instead from a copy of a demo seeded once.
"""

import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask.testing import FlaskClient
from flask_migrate import upgrade
from jinja2 import BytecodeCache
from werkzeug.routing import Rule

from app import create_app
from models import GENESIS_HASH, Case, Customer, Role, User, db, utcnow
from workflows.audit import Actor
from workflows.disclosure import new_package_key
from workflows.identity import directory, users
from workflows.reports import new_key_pem

PASSWORD = "correct horse battery"
TEST_ACTOR = Actor.system("test")
ENGINES = ["sqlite", "postgresql"]


# Keys made once per worker, so no test's app generates and writes them again;
# tests/test_bad_input.py covers the instance folder's own key files.
TEST_KEYS = {
    "FIELD_KEYS": Fernet.generate_key().decode(),
    "PACKAGE_KEYS": new_package_key(),
    "CHECKPOINT_KEY": new_key_pem(),
}


def base_config(uri: str, instance) -> dict:
    return {
        **TEST_KEYS,
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": uri,
        "SECRET_KEY": "test-secret-key",
        "PASSWORD_HASH_PROFILE": "fast",
        "SESSION_COOKIE_SECURE": False,
        "INSTANCE_PATH": str(instance),
        "DEMO": False,
        "DEMO_LARGE_ACCOUNT_MB": 2,  # the demo's large account, kept small for tests
        "STAFF_DOMAINS": "provider.example",
    }


# ---- apps, cheaply made -----------------------------------------------------------
# Every test makes an app of its own. Two things a new app does again each time
# cost more than most tests: compiling every template (Jinja) and every URL rule's
# builder (werkzeug). Both are shared across the run's apps; what they produce
# depends only on the template's source and the rule's text, and what the app does
# with it is unchanged.


class SharedTemplateCache(BytecodeCache):
    """Compiled templates kept across the apps of a run; Jinja checks each
    template's source checksum before reusing it."""

    def __init__(self):
        self.compiled = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = SharedTemplateCache()


_ENGINES: dict[str, sa.Engine] = {}


def make_app(uri: str, instance, share_engine: bool = False):
    """create_app with the test settings, sharing compiled templates with the run,
    and the engine (its pool and its cache of compiled SQL) with the worker's
    earlier apps on the same database: each test still gets the database emptied,
    or a fresh copy of the SQLite file, and every connection it used is closed
    when it ends."""
    app = create_app(base_config(uri, instance))
    app.jinja_env.bytecode_cache = TEMPLATE_CACHE
    engines = getattr(db, "_app_engines", {}).get(app)
    if share_engine and engines and None in engines:  # Flask-SQLAlchemy 3.1's engine per app
        if uri in _ENGINES:
            engines[None].dispose()
            engines[None] = _ENGINES[uri]
        else:
            _ENGINES[uri] = engines[None]
    return app


def _shared_url_builders(compile_builder):
    """werkzeug's Rule._compile_builder, remembered by what the builder is made of:
    the rule's parsed parts, its defaults and its converters (the builder takes the
    rule as its first argument, so one function serves every app's copy of it)."""
    made = {}

    def builder(rule, append_unknown=True):
        key = (rule.rule, tuple(rule._trace), append_unknown,
               tuple(sorted((k, repr(v)) for k, v in (rule.defaults or {}).items())),
               tuple(sorted((k, type(c), getattr(c, "regex", None)) for k, c in rule._converters.items())))
        if key not in made:
            made[key] = compile_builder(rule, append_unknown)
        return made[key]

    return builder


@pytest.fixture(scope="session", autouse=True)
def _shared_rule_builders():
    original = getattr(Rule, "_compile_builder", None)
    if original is None:  # another werkzeug: apps are made the slower way
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Rule, "_compile_builder", _shared_url_builders(original))
        yield


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.sqlite3"
    app = create_app(base_config(f"sqlite:///{path}", folder / "instance"))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


def postgres_database(name: str) -> str:
    """The URL of database `name` on the server TEST_DATABASE_URL names."""
    server = os.environ["TEST_DATABASE_URL"]
    return sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)


def fresh_sqlite(template: Path, path: Path) -> None:
    """`path` becomes a fresh copy of the template, under a new inode: a connection
    left open on the old file cannot see or touch the new one."""
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copy(template, path)


@pytest.fixture(scope="session")
def sqlite_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("sqlite")


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A database of this run's own on the PostgreSQL server, migrated to head."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        return None
    name = f"dp_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = postgres_database(name)
    app = create_app(base_config(url, tmp_path_factory.mktemp("pg-instance")))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url
    _forget_postgres(url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_EMPTYING: dict[str, tuple[sa.Engine, str]] = {}


def _empty_postgres(url: str) -> None:
    """Every table emptied and every sequence restarted, in one round trip.

    DELETE rather than TRUNCATE: a test leaves a few rows in a few tables, and
    deleting them costs far less than the new files TRUNCATE makes for every table.
    The engine and the statement are made once per database."""
    if url not in _EMPTYING:
        engine = sa.create_engine(url, poolclass=sa.pool.StaticPool)
        with engine.connect() as conn:
            tables = [t for t in sa.inspect(conn).get_table_names()
                      if t not in ("alembic_version", "audit_head")]
            sequences = conn.scalars(sa.text(
                "SELECT quote_ident(relname) FROM pg_class"
                " WHERE relkind = 'S' AND relnamespace = current_schema()::regnamespace"
            )).all()
        statement = ";\n".join([
            # replica mode skips the append-only triggers (and the foreign keys'):
            # only the test harness does this.
            "SET LOCAL session_replication_role = replica",
            *(f'DELETE FROM "{table}"' for table in tables),
            *(f"ALTER SEQUENCE {sequence} RESTART" for sequence in sequences),
            "DELETE FROM audit_head",
            f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS_HASH}')",
        ])
        _EMPTYING[url] = engine, statement
    engine, statement = _EMPTYING[url]
    with engine.begin() as conn:
        conn.exec_driver_sql(statement)


def _forget_postgres(url: str) -> None:
    if url in _EMPTYING:
        _EMPTYING.pop(url)[0].dispose()


ENGINE_MARKERS = {"postgres_only": "postgresql", "sqlite_only": "sqlite"}


def pytest_report_header(config):
    if not os.environ.get("TEST_DATABASE_URL"):
        return "engines: SQLite only (set TEST_DATABASE_URL to run every database test on PostgreSQL too)"
    return "engines: SQLite and PostgreSQL"


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """A test about one engine's behaviour (a PostgreSQL trigger, a SQLite pragma)
    is not collected for the other engine, rather than skipped there; nor is a
    PostgreSQL test when TEST_DATABASE_URL names no server (the header says so).

    Tests that start from the same seeded demo run in one worker, which seeds it once."""
    keep, drop = [], []
    postgres = bool(os.environ.get("TEST_DATABASE_URL"))
    for item in items:
        engine = getattr(item, "callspec", None) and item.callspec.params.get("engine_name")
        wanted = ({ENGINE_MARKERS[m.name] for m in item.iter_markers() if m.name in ENGINE_MARKERS}
                  or set(ENGINES))
        if not postgres:
            wanted.discard("postgresql")
        (drop if engine and engine not in wanted else keep).append(item)
        seeded = item.get_closest_marker("seeded_demo")
        if seeded:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.xdist_group(f"demo-{DemoSeed.of(seeded).key}-{engine}"))
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# ---- the demo, seeded once ----------------------------------------------------

@dataclass(frozen=True)
class DemoSeed:
    """How a seeded demo is made: `flask --app app demo --no-serve` (now), or
    demo.seed(at) as the demo's own tests call it."""

    at: datetime | None  # None: through the command line, at the current time

    @classmethod
    def of(cls, marker) -> "DemoSeed":
        return cls(marker.kwargs.get("at"))

    @property
    def key(self) -> str:
        return "cli" if self.at is None else self.at.strftime("%Y%m%dT%H%M")


@dataclass(frozen=True)
class SeededDemo:
    """A test's own copy of a seeded demo: its database URL and, for a demo seeded
    through the command line, that first run's result (logins and tokens are
    printed only then)."""

    url: str
    first_run: object | None


class DemoTemplates:
    """Each kind of seeded demo made once per engine and worker (seeding takes
    seconds), kept as a database and an instance folder that each test copies:
    a SQLite file, or a PostgreSQL database used as a template."""

    def __init__(self, tmp_path_factory, request):
        self.tmp_path_factory, self.request = tmp_path_factory, request
        self.made: dict[tuple[str, DemoSeed], tuple[str, Path, object]] = {}
        self.copies: list[str] = []

    def copy(self, engine_name: str, seed: DemoSeed, tmp_path: Path) -> SeededDemo:
        if (engine_name, seed) not in self.made:
            self.made[engine_name, seed] = self._make(engine_name, seed)
        template, instance, first_run = self.made[engine_name, seed]
        shutil.copytree(instance, tmp_path / "instance")
        if engine_name == "sqlite":
            path = tmp_path / "test.sqlite3"
            shutil.copy(template, path)
            return SeededDemo(f"sqlite:///{path}", first_run)
        name = f"{template}_{len(self.copies)}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self.copies.append(name)
        return SeededDemo(postgres_database(name), first_run)

    def drop_copies(self) -> None:
        while self.copies:
            self._admin(f'DROP DATABASE IF EXISTS "{self.copies.pop()}" WITH (FORCE)')

    def _make(self, engine_name: str, seed: DemoSeed):
        folder = self.tmp_path_factory.mktemp(f"demo-{seed.key}-{engine_name}")
        if engine_name == "sqlite":
            template = folder / "demo.sqlite3"
            shutil.copy(self.request.getfixturevalue("sqlite_template"), template)
            url = f"sqlite:///{template}"
        else:
            template = f"dp_demo_{uuid.uuid4().hex[:10]}"
            self._admin(f'CREATE DATABASE "{template}"')
            url = postgres_database(template)
        app = make_app(url, folder / "instance")
        with app.app_context():
            if engine_name != "sqlite":
                upgrade()
            first_run = self._seed(app, seed)
            db.session.remove()
            db.engine.dispose()
        return template, folder / "instance", first_run

    @staticmethod
    def _seed(app, seed: DemoSeed):
        if seed.at is None:
            result = app.test_cli_runner().invoke(args=["demo", "--no-serve"])
            if result.exception and not isinstance(result.exception, SystemExit):
                raise result.exception
            return result
        from demo import seed as demo

        demo.seed(seed.at)
        db.session.commit()
        return None

    def _admin(self, statement: str) -> None:
        admin = sa.create_engine(os.environ["TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(statement))
        admin.dispose()

    def drop_templates(self) -> None:
        for (engine_name, _), (template, _, _) in self.made.items():
            if engine_name != "sqlite":
                self._admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')


@pytest.fixture(scope="session")
def demo_templates(tmp_path_factory, request):
    templates = DemoTemplates(tmp_path_factory, request)
    yield templates
    templates.drop_templates()


@pytest.fixture
def seeded_demo(request, engine_name, tmp_path, demo_templates):
    """For a test marked seeded_demo(at=...) or seeded_demo(): its own copy of the
    demo seeded at that moment, or through `flask --app app demo --no-serve`; the
    `app` fixture opens it."""
    marker = request.node.get_closest_marker("seeded_demo")
    assert marker, "seeded_demo is for tests marked @pytest.mark.seeded_demo"
    yield demo_templates.copy(engine_name, DemoSeed.of(marker), tmp_path)
    demo_templates.drop_copies()


@pytest.fixture(params=ENGINES)
def engine_name(request):
    if request.param == "postgresql" and not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL to run these tests on it too")
    return request.param


@pytest.fixture
def database_url(engine_name, tmp_path, request):
    if request.node.get_closest_marker("seeded_demo"):
        return request.getfixturevalue("seeded_demo").url
    if engine_name == "sqlite":
        # One path per worker, so its engine is reused: a fresh copy each test,
        # after the last test's connections are closed.
        path = request.getfixturevalue("sqlite_folder") / "test.sqlite3"
        url = f"sqlite:///{path}"
        if url in _ENGINES:
            _ENGINES[url].dispose()
        fresh_sqlite(request.getfixturevalue("sqlite_template"), path)
        return url
    url = request.getfixturevalue("postgres_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def app(database_url, tmp_path, request):
    seeded = request.node.get_closest_marker("seeded_demo")  # a database of its own
    app = make_app(database_url, tmp_path / "instance", share_engine=not seeded)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


class RequestScopedClient(FlaskClient):
    """Runs every request in an application context of its own, as a server does.

    The `app` fixture keeps one application context open for the whole test, and
    Flask would reuse it for requests: `g` (where Flask-Login caches the signed-in
    user and Flask-WTF the CSRF token) and the database session would carry over
    from one request to the next, so a revoked cookie could still look signed in.
    The test's own database session commits first, so it holds no lock while the
    request runs and re-reads whatever the request wrote."""

    def open(self, *args, **kwargs):
        db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def new_client(app):
    """Another browser: call it for a client with its own cookie jar."""
    app.test_client_class = RequestScopedClient
    return app.test_client


@pytest.fixture
def client(new_client):
    return new_client()


# ---- factories --------------------------------------------------------------


@pytest.fixture
def make_customer(app):
    counter = iter(range(1, 10_000))

    def make(name=None, kind="enterprise", country="US", accounts=None) -> Customer:
        n = next(counter)
        customer = directory.create_customer(
            name or f"Customer {n}", kind, country, [f"legal{n}@customer{n}.example"],
            accounts if accounts is not None else [f"user{n}@customer{n}.example"],
            TEST_ACTOR, utcnow(),
        )
        db.session.commit()
        return customer

    return make


@pytest.fixture
def make_agency(app):
    counter = iter(range(1, 10_000))

    def make(name=None, country="US", verified=True, kind="law_enforcement", phone=None):
        n = next(counter)
        issued = directory.create_agency(
            name or f"Agency {n}", country, TEST_ACTOR, utcnow(), kind=kind,
            verified=verified, phone=phone or f"+1 202 555 {n:04d}",
        )
        db.session.commit()
        return issued

    return make


@pytest.fixture
def make_user(app, make_customer, make_agency):
    counter = iter(range(1, 10_000))

    def make(role=Role.REVIEWER, email=None, password=PASSWORD, enrolled=True, customer=None,
             active=True, must_change_password=False, agency=None) -> User:
        role = Role(role)
        if role is Role.CUSTOMER and customer is None:
            customer = make_customer()
        if role is Role.OFFICER and agency is None:
            agency = make_agency().agency
        created = users.create_user(
            email or f"{role.value}{next(counter)}@provider.example", role, password, TEST_ACTOR,
            utcnow(), name=f"Test {role.label}", customer_id=customer.id if customer else None,
            agency_id=agency.id if agency else None, must_change_password=must_change_password,
        )
        user = created.user
        if enrolled and role.needs_second_factor:
            user.totp_confirmed_at = utcnow()
        user.active = active
        db.session.commit()
        return user

    return make


# ---- signing in -------------------------------------------------------------


def totp_code(user: User, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows now (or `steps_ahead` periods later)."""
    return pyotp.TOTP(user.totp_secret).at(utcnow() + timedelta(seconds=30 * steps_ahead))


def fresh_code(user: User) -> str:
    """A code this user has not used yet. Codes are single-use per 30-second step,
    so a test signing the same user in twice moves on to the next step (the
    verifier accepts one step of clock drift)."""
    db.session.refresh(user)
    current = pyotp.TOTP(user.totp_secret).timecode(utcnow())
    ahead = 0 if user.totp_last_step is None or user.totp_last_step < current else 1
    if user.totp_last_step is not None and user.totp_last_step >= current + 1:
        user.totp_last_step = None  # both usable steps spent: only the harness may do this
        db.session.commit()
        ahead = 0
    return totp_code(user, ahead)


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def sign_in(client, user: User, password: str = PASSWORD):
    """The whole browser flow: password page, then enrolment or code page."""
    page = client.get("/sign-in").get_data(as_text=True)
    resp = client.post("/sign-in", data={
        "email": user.email, "password": password, "csrf_token": csrf_from(page)})
    if not user.mfa_required:
        return resp
    step = resp.headers["Location"]
    page = client.get(step).get_data(as_text=True)
    return client.post(step, data={"code": fresh_code(user), "csrf_token": csrf_from(page)})


def post_form(client, url: str, data: dict | None = None, page_url: str | None = None):
    """POST a form the way a browser does: with the CSRF token from a page."""
    token = csrf_from(client.get(page_url or "/account/password").get_data(as_text=True))
    return client.post(url, data={**(data or {}), "csrf_token": token})


# ---- cases ------------------------------------------------------------------

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def case_body(agency_id=None, **overrides) -> dict:
    """A valid DESIGN section 9 case body: a signed US search warrant for content,
    received yesterday, issued the day before. Override any top-level key, or the
    process with `legal_process={...}` (merged into the default)."""
    now = utcnow()
    process = {
        "type": "search_warrant", "issuing_authority": "U.S. District Court", "judicial": True,
        "issued_on": (now - timedelta(days=2)).date().isoformat(), "expires_on": None, "signed": True,
        "case_number": "2:26-mj-00123", "response_due": None,
    }
    process.update(overrides.pop("legal_process", {}))
    body = {
        "received_at": (now - timedelta(days=1)).isoformat(), "request_type": "criminal",
        "legal_process": process, "identifiers": ["alice@contoso.example"], "categories": ["content"],
        "date_range": {"from": "2026-01-01", "to": "2026-02-28"},
        "ndo": {"present": False, "statute": "", "ends_on": None}, "emergency_justification": None,
    }
    if agency_id is not None:
        body["agency_id"] = agency_id
    body.update(overrides)
    return body


# How make_case reaches each state from `received`: (trigger, move fields) steps.
PATHS = {
    "received": [],
    "legal_review": [("start_review", {})],
    "redirected": [("start_review", {}), ("redirect", {})],
    "resolved_by_customer": [("start_review", {}), ("redirect", {}), ("resolve_by_customer", {})],
    "challenged": [("start_review", {}), ("challenge", {"note": "Overbroad date range."})],
    "pending_approval": [("start_review", {}), ("propose_disclosure", {"categories": None})],
    "disclosed": [("start_review", {}), ("propose_disclosure", {"categories": None}), ("approve", {})],
    "no_data": [("start_review", {}), ("no_data_found", {})],
    "rejected": [("start_review", {}), ("reject", {"reason": "overbroad"})],
    "withdrawn": [("withdraw", {"note": "The agency withdrew the demand by e-mail."})],
    # a preservation request (process preservation_request or epoc_pr)
    "preserved": [("start_review", {}), ("preserve", {"categories": None})],
    "released": [("start_review", {}), ("preserve", {"categories": None}),
                 ("release", {"note": "The agency no longer needs the records."})],
}


@pytest.fixture
def case_staff(make_user):
    """One reviewer and two approvers, made on first use, for make_case to act as."""
    made = {}

    def get(role: str):
        if role not in made:
            made[role] = make_user(Role.APPROVER if role.startswith("approver") else Role(role))
        return made[role]

    return get


def confirm_by_callback(case_id: int, who: User, outcome="confirmed", note=None):
    """Record the call-back an emergency request needs before a proposal: to the
    agency's directory number."""
    from workflows.cases.verification import Callback, record_callback

    phone = db.session.get(Case, case_id).agency.phone
    return record_callback(case_id, Callback(phone_called=phone, spoke_with="Duty officer Ames",
                                             outcome=outcome, note=note),
                           caller_for(who), utcnow())


def window_ran(case_id: int) -> None:
    """The customers' time to object has run (DESIGN 11.5): tests that approve right
    after proposing say so; tests/test_objection_window.py tests the window itself."""
    db.session.execute(sa.update(Case).where(Case.id == case_id, Case.objection_deadline.is_not(None))
                       .values(objection_deadline=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def caller_for(user: User, authenticated_at=None):
    from workflows.cases import Caller

    return Caller(user.id, user.role, authenticated_at or utcnow(), Actor(user.email, user.id))


@pytest.fixture
def make_case(app, make_agency, make_customer, case_staff):
    """make_case(state="pending_approval", process="epoc", country="DE", ...): a case
    logged through intake and driven through advance() to `state`. Identifiers
    default to an account of a fresh enterprise customer (so redirect and
    disclosure have something to match); state no_data gets an unknown one."""
    from workflows.cases import demand, intake
    from workflows.cases import machine as case_machine
    from workflows.disclosure import documents

    def make(state="received", *, process="search_warrant", country="US", agency=None,
             identifiers=None, categories=("content",), document=True, body=None, keep_window=False,
             **overrides):
        now = utcnow()
        if agency is None:
            agency = make_agency(country=country).agency
        if identifiers is None:
            if state == "no_data":
                identifiers = [f"nobody-{uuid.uuid4().hex[:8]}@nowhere.example"]
            else:
                customer = make_customer(kind="enterprise")
                identifiers = [customer.accounts[0].identifier]
        payload = body or case_body(
            agency.id, identifiers=list(identifiers), categories=list(categories),
            legal_process={"type": process, **overrides.pop("legal_process", {})}, **overrides,
        )
        created = intake.create_case(demand.parse_case(payload, now), agency, TEST_ACTOR, now)
        db.session.commit()
        if document:
            from io import BytesIO

            documents.store(created.id, BytesIO(PDF_BYTES), "process.pdf", TEST_ACTOR, now,
                            documents.folder_for(app.instance_path))
        for trigger, fields in PATHS[state]:
            who = case_staff("approver2" if trigger == "approve" else "reviewer")
            if trigger == "propose_disclosure" and created.emergency:
                confirm_by_callback(created.id, who)
            if fields.get("categories", "") is None:
                fields = {**fields, "categories": list(categories)}
            if trigger == "approve":
                window_ran(created.id)
            case_machine.advance(created.id, case_machine.Move(trigger, **fields), caller_for(who), utcnow())
        if state == "pending_approval" and not keep_window:
            window_ran(created.id)
        db.session.expire_all()
        return db.session.get(type(created), created.id)

    return make


@pytest.fixture
def plant(app):
    """plant("alice@contoso.example", content=["a message"], non_content=2, subscriber=True,
    files=[b"bytes"], at=datetime): vault records for an existing account, through the
    vault's one writer. Texts become messages' bodies; a number makes that many
    sign-in records. Returns how many records were planted."""
    from datetime import UTC, datetime

    from models import Account, Category
    from workflows.disclosure.door import Deposit, deposit

    def make(identifier: str, *, subscriber=True, non_content=1, content=(), files=(), at=None) -> int:
        account = db.session.scalar(sa.select(Account).where(Account.identifier == identifier))
        moment = at or datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
        records = []
        if subscriber:
            records.append(Deposit(account.id, Category.SUBSCRIBER, "profile", None,
                                   {"name": f"Holder of {identifier}", "phone": "+1 555 0100"}))
        for n in range(non_content):
            records.append(Deposit(account.id, Category.NON_CONTENT, "sign_in", moment + timedelta(minutes=n),
                                   {"ip": f"203.0.113.{n % 250 + 1}", "result": "success"}))
        for text in content:
            records.append(Deposit(account.id, Category.CONTENT, "message", moment,
                                   {"subject": "Note", "body": text}))
        for n, blob in enumerate(files):
            records.append(Deposit(account.id, Category.CONTENT, "file", moment,
                                   {"name": f"file-{n}.bin", "content_type": "application/octet-stream"},
                                   blob=blob))
        count = deposit(records)
        db.session.commit()
        return count

    return make


@pytest.fixture
def cli(app):
    """Run `flask --app app ARGS...` in-process against the test database."""
    runner = app.test_cli_runner()

    def run(*args: str):
        # Nothing left open: the command commits or rolls back by itself, and on
        # SQLite an open transaction would hold the write lock a migration needs.
        db.session.commit()
        result = runner.invoke(args=list(args))
        db.session.expire_all()
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return run


def pairs(output: str) -> dict[str, str]:
    """The `key: value` lines a command printed."""
    return dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)


def case_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Case))


def assert_error(resp, status: int, code: str, reasons: list[str] | None = None) -> dict:
    """A JSON API error of the DESIGN section 9 shape, with at least `reasons`."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    # fields, where the refusal concerns fields: each one with what is wrong with it
    assert set(body) - {"fields"} == {"error", "message", "reasons"}
    assert all(isinstance(v, str) and v for v in body.get("fields", {"-": "-"}).values())
    assert body["error"] == code and body["message"]
    if reasons is not None:
        assert set(reasons) <= set(body["reasons"]), body
    return body


# ---- account mail, sent by the relay to a real SMTP server on loopback ------------

MAIL_PUBLIC_URL = "https://due-process.provider.example"


@pytest.fixture
def mailbox(app):
    """An SMTP server on loopback that the app's relay sends to; links in mail start
    with MAIL_PUBLIC_URL."""
    from tests.smtp_server import SmtpServer

    server = SmtpServer().start()
    app.config.update(server.config("accounts@provider.example"), PUBLIC_URL=MAIL_PUBLIC_URL)
    yield server
    server.stop()


def relay_pass() -> None:
    """One relay pass with the app's settings, as `notices send` makes it."""
    from flask import current_app

    from workflows.notices import relay

    db.session.commit()  # the test holds no lock while the relay works
    config = current_app.config
    relay.send_pass(utcnow(), relay.MailSettings.from_config(config), relay.Policy.from_config(config),
                    config["PUBLIC_URL"])
    db.session.expire_all()


def api_headers(client, user: User) -> dict:
    """Sign `user` in over POST /api/v1/session on `client`: the headers its writes
    carry (X-CSRFToken)."""
    resp = client.post("/api/v1/session", json={"email": user.email, "password": PASSWORD,
                                                "totp": fresh_code(user)})
    assert resp.status_code == 200, resp.get_json()
    return {"X-CSRFToken": resp.get_json()["csrf_token"]}
