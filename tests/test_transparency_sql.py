"""The transparency report's SQL against a reference anyone can check by reading it.

The reference below counts each case from the facts the figures summarise (its
state and what was disclosed, its identifiers, its transition log, its notices, the
accounts it names), not from the columns intake and advance() keep for the report.
Cases are made through intake and driven through real transitions, with Hypothesis
choosing the process, the agency's country, the accounts named, the NDO, the path
through the state machine and the moment of receipt (inside the period, on both of
its edges, just outside, and written in other time zones)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import MIGRATIONS_DIR
from models import (
    Account,
    CallbackOutcome,
    Case,
    CaseTransition,
    CaseVerification,
    Customer,
    CustomerKind,
    Disclosure,
    HoldReason,
    Notice,
    ProcessType,
    RejectReason,
    Role,
    State,
    db,
    utcnow,
)
from tests.conftest import caller_for, confirm_by_callback
from workflows.audit import Actor
from workflows.cases import machine as case_machine
from workflows.cases.states import outcome_of
from workflows.notices import outbox as notices
from workflows.reports import transparency
from workflows.reports.transparency import Period

OUTCOMES = ("content_disclosed", "non_content_disclosed", "no_data_found", "rejected", "resolved_by_customer",
            "withdrawn", "pending")
FIGURES = ("requests", "accounts_specified", "no_identifiers", *OUTCOMES, "emergency",
           "emergency_verification_failed", "with_ndo",
           "customer_notified",
           "challenged", "challenges_won")
ENTERPRISE = ("requests", "redirected", "resolved_by_customer", "customer_notified", "content_disclosed",
              "non_content_disclosed")
REPORT_COLUMNS = ("outcome", "accounts_specified", "content_requested", "enterprise", "challenged",
                  "redirected", "customer_notified")


# ---- the reference ---------------------------------------------------------------------

def bounds(period: Period) -> tuple[datetime, datetime]:
    """The period's first moment and the first moment after it, in UTC."""
    if period.half == 1:
        return datetime(period.year, 1, 1, tzinfo=UTC), datetime(period.year, 7, 1, tzinfo=UTC)
    return datetime(period.year, 7, 1, tzinfo=UTC), datetime(period.year + 1, 1, 1, tzinfo=UTC)


def bands_of(n: int) -> str:
    low = n - n % 500
    return f"{low}-{low + 499}"


def facts_by_case() -> dict[int, dict]:
    """Every case's report facts, from the source rows."""
    enterprise_ids = set(db.session.scalars(
        sa.select(Account.identifier).join(Customer, Account.customer_id == Customer.id)
        .where(Customer.kind == CustomerKind.ENTERPRISE)))
    notified = set(db.session.scalars(sa.select(Notice.case_id).where(Notice.released_at.is_not(None))))
    triggers: dict[int, set[str]] = {}
    named_at_intake: dict[int, list] = {}  # the `before` of the first change of identifiers
    for case_id, trigger, data in db.session.execute(
            sa.select(CaseTransition.case_id, CaseTransition.trigger, CaseTransition.data)
            .order_by(CaseTransition.case_id, CaseTransition.seq)):
        triggers.setdefault(case_id, set()).add(trigger)
        if isinstance((data or {}).get("identifiers"), dict):
            named_at_intake.setdefault(case_id, data["identifiers"]["before"])
    disclosed = dict(db.session.execute(sa.select(Disclosure.case_id, Disclosure.categories)).all())
    followed = set(db.session.scalars(sa.select(Case.preservation_id)
                                      .where(Case.preservation_id.is_not(None))))
    forged = set(db.session.scalars(sa.select(CaseVerification.case_id)
                                    .where(CaseVerification.outcome == CallbackOutcome.FAILED)))
    facts = {}
    for case in db.session.scalars(sa.select(Case).order_by(Case.id)):
        fired = triggers.get(case.id, set())
        facts[case.id] = {
            "received_at": case.received_at, "country": case.agency.country,
            "process": case.process_type.value, "content_asked": "content" in case.categories,
            "content_requested": "content" in case.categories,
            "outcome": outcome_of(case.state, disclosed.get(case.id)).value,
            "accounts_specified": len(case.identifiers),
            "no_identifiers": not named_at_intake.get(case.id, case.identifiers),
            "emergency": case.emergency, "with_ndo": case.ndo_present,
            "emergency_verification_failed": case.emergency and case.id in forged,
            "customer_notified": case.id in notified,
            "challenged": "challenge" in fired,
            "challenges_won": case.reject_reason == RejectReason.QUASHED,
            "redirected": "redirect" in fired,
            "enterprise": any(i in enterprise_ids for i in case.identifiers),
            "kind": case.kind.value, "extended": "extend" in fired, "converted": case.id in followed,
            "expired": case.state is State.EXPIRED,
        }
    return facts


def figures_of(fact: dict) -> dict[str, int]:
    counted = {name: 0 for name in FIGURES}
    counted["requests"] = 1
    counted["accounts_specified"] = fact["accounts_specified"]
    counted[fact["outcome"]] = 1
    for name in ("no_identifiers", "emergency", "emergency_verification_failed", "with_ndo",
                 "customer_notified", "challenged", "challenges_won"):
        counted[name] = int(fact[name])
    return counted


def add_into(into: dict, more: dict) -> None:
    for name, n in more.items():
        into[name] = into.get(name, 0) + n


def reference_report(period: Period, now: datetime) -> dict:
    start, end = bounds(period)
    totals = {name: 0 for name in FIGURES}
    by_country: dict[str, dict] = {}
    by_process = {p.value: 0 for p in ProcessType
                  if p not in (ProcessType.NSL, ProcessType.FISA_ORDER, ProcessType.PRESERVATION_REQUEST,
                               ProcessType.EPOC_PR)}
    enterprise = {name: 0 for name in ENTERPRISE}
    national = {"nsl": [0, 0], "fisa_content": [0, 0], "fisa_non_content": [0, 0]}
    kept = {"requests": 0, "extended": 0, "converted": 0, "expired": 0, "by_country": {}}
    for fact in facts_by_case().values():
        if not start <= fact["received_at"] < end:
            continue
        if fact["kind"] == "preservation":
            counted = {"requests": 1, **{k: int(fact[k]) for k in ("extended", "converted", "expired")}}
            add_into(kept, counted)
            add_into(kept["by_country"].setdefault(fact["country"], dict.fromkeys(counted, 0)), counted)
            continue
        if fact["process"] == "nsl":
            national["nsl"][0] += 1
            national["nsl"][1] += fact["accounts_specified"]
            continue
        if fact["process"] == "fisa_order":
            key = "fisa_content" if fact["content_asked"] else "fisa_non_content"
            national[key][0] += 1
            national[key][1] += fact["accounts_specified"]
            continue
        counted = figures_of(fact)
        add_into(totals, counted)
        add_into(by_country.setdefault(fact["country"], {name: 0 for name in FIGURES}), counted)
        by_process[fact["process"]] += 1
        if fact["enterprise"]:
            enterprise["requests"] += 1
            enterprise["redirected"] += int(fact["redirected"])
            enterprise["customer_notified"] += int(fact["customer_notified"])
            for outcome in ("resolved_by_customer", "content_disclosed", "non_content_disclosed"):
                enterprise[outcome] += counted[outcome]
    available = end + timedelta(days=180)
    if now >= available:
        ns = {"status": "published", **{key: {"requests": bands_of(r), "accounts": bands_of(a)}
                                        for key, (r, a) in national.items()}}
    else:
        ns = {"status": "deferred", "available_from": available.date().isoformat()}
    return {
        "period": str(period), "starts_on": start.date().isoformat(),
        "ends_on": (end - timedelta(days=1)).date().isoformat(), "totals": totals,
        "by_country": dict(sorted(by_country.items())), "by_process": by_process, "enterprise": enterprise,
        "national_security": ns,
        "preservation": {**kept, "by_country": dict(sorted(kept["by_country"].items()))},
    }


def assert_outcomes_sum_to_requests(report: dict) -> None:
    for where, figures in [("totals", report["totals"]), *report["by_country"].items()]:
        assert sum(figures[o] for o in OUTCOMES) == figures["requests"], (where, figures)


def assert_columns_match_facts() -> None:
    """Each case's report columns say what its source rows say (a sharper message
    than a wrong total when they do not)."""
    facts = facts_by_case()
    rows = db.session.execute(sa.select(Case.id, *[getattr(Case, c) for c in REPORT_COLUMNS])).all()
    for row in rows:
        fact = facts[row.id]
        assert {c: getattr(row, c) for c in REPORT_COLUMNS} == {c: fact[c] for c in REPORT_COLUMNS}, row.id


# ---- the cases -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Profile:
    country: str
    process: str
    request_type: str
    categories: tuple[tuple[str, ...], ...]
    # The legal check lets a disclosure be proposed (epoc is not in force before 2026-08-18).
    lawful: bool = True

    @property
    def emergency(self) -> bool:
        return self.request_type == "emergency"


PROFILES = (
    Profile("US", "search_warrant", "criminal", (("content",), ("subscriber", "non_content"),
                                                ("subscriber", "content"))),
    Profile("US", "subpoena", "criminal", (("subscriber",),)),
    Profile("US", "court_order", "civil", (("subscriber", "non_content"),)),
    Profile("US", "search_warrant", "emergency", (("content",), ("non_content",))),
    Profile("FR", "emergency", "emergency", (("subscriber", "content"),)),
    Profile("US", "nsl", "national_security", (("subscriber",),)),
    Profile("US", "fisa_order", "national_security", (("content",), ("non_content",),
                                                      ("subscriber", "non_content", "content"))),
    Profile("GB", "cloud_act_order", "criminal", (("content",), ("subscriber",))),
    Profile("FR", "mlat", "criminal", (("non_content",), ("subscriber", "content"))),
    Profile("BR", "local_order", "criminal", (("subscriber", "non_content"),)),
    Profile("DE", "epoc", "criminal", (("content",),), lawful=False),
    Profile("BR", "informal", "civil", (("subscriber",),), lawful=False),
)
ENTERPRISE_IDS = ("ent-a@corp.example", "ent-b@corp.example", "ent-c@other.example")
CONSUMER_IDS = ("con-a@mail.example", "con-b@mail.example")
UNKNOWN_IDS = ("nobody-1@nowhere.example", "nobody-2@nowhere.example")
WHEN = ("inside", "first", "last", "before", "after", "last_east", "after_west")
NDO = ("none", "none", "dated_past", "dated_future", "indefinite")
NARROW = ("challenge_lost", {"narrow": True})
TAIL_MOVES = {
    "withdraw": ("withdraw", {"note": "The agency withdrew it."}),
    "won": ("challenge_won", {}),
    "lost": ("challenge_lost", {}),
    "reject": ("reject", {"reason": "overbroad"}),
    "reject_forged": ("reject", {"reason": "verification_failed"}),
    "propose": ("propose_disclosure", {"categories": True}),
    "approve": ("approve", {}),
    "no_data": ("no_data_found", {}),
    "returns": ("agency_returns", {"note": "The customer did not answer."}),
    "send_back": ("send_back", {"note": "Narrow the categories."}),
}


def tails(base: str, profile: Profile, kind: str, n_ids: int) -> list[tuple]:
    known = kind != "unknown"
    disclose = profile.lawful and known
    if base == "legal_review" and profile.emergency:
        return [(), ("withdraw",), ("forged",)]
    if base in ("received", "legal_review"):
        return [(), ("withdraw",)]
    if base == "challenged":
        options = [(), ("won",), ("lost",), ("withdraw",), ("lost", "reject"), ("lost", "withdraw")]
        options += [("lost", "propose", "approve")] if disclose else []
        options += [("lost", "no_data")] if not known else []
        options += [("narrow",)] if n_ids > 1 else []
        return options
    if base == "redirected":
        return [(), ("returns",), ("withdraw",)] + ([("returns", "propose", "approve")] if disclose else [])
    if base == "pending_approval":
        return [(), ("send_back",), ("send_back", "reject"), ("withdraw",)]
    return [()]


def bases(profile: Profile, kind: str) -> list[str]:
    allowed = ["received", "legal_review", "challenged", "rejected", "withdrawn"]
    if kind == "unknown":
        return [*allowed, "no_data"]
    if profile.lawful:
        allowed += ["pending_approval", "disclosed"]
    if kind == "enterprise" and not profile.emergency and profile.process != "emergency":
        allowed += ["redirected", "resolved_by_customer"]
    return allowed


@st.composite
def case_specs(draw):
    profile = draw(st.sampled_from(PROFILES))
    categories = draw(st.sampled_from(profile.categories))
    kind = draw(st.sampled_from(("enterprise", "consumer", "mixed", "unknown", "enterprise_unknown")))
    pools = {"enterprise": ENTERPRISE_IDS, "consumer": CONSUMER_IDS, "unknown": UNKNOWN_IDS}
    if kind in pools:
        ids = draw(st.lists(st.sampled_from(pools[kind]), min_size=1, max_size=3, unique=True))
    elif kind == "mixed":
        ids = [draw(st.sampled_from(ENTERPRISE_IDS)), draw(st.sampled_from(CONSUMER_IDS))]
    else:
        ids = [draw(st.sampled_from(ENTERPRISE_IDS)), draw(st.sampled_from(UNKNOWN_IDS))]
    base = draw(st.sampled_from(bases(profile, kind)))
    return {
        "profile": profile, "categories": categories, "identifiers": ids, "kind": kind, "base": base,
        "tail": draw(st.sampled_from(tails(base, profile, kind, len(ids)))),
        "when": draw(st.sampled_from(WHEN)), "inside": draw(st.floats(0, 1)),
        "ndo": draw(st.sampled_from(NDO)), "release": draw(st.booleans()),
        "agency": draw(st.integers(0, 1)),
    }


PERIODS = [Period(year, half) for year in range(2001, 2027) for half in (1, 2)][:-1]  # up to 2026-H1


def received_text(when: str, inside: float, period: Period) -> str:
    """The moment of receipt as an agency might write it."""
    start, end = bounds(period)
    span = int((end - start) / timedelta(microseconds=1))
    moment = {
        "inside": start + timedelta(microseconds=int(inside * (span - 1))),
        "first": start, "last": end - timedelta(microseconds=1),
        "before": start - timedelta(microseconds=1), "after": end,
        "last_east": end - timedelta(microseconds=1), "after_west": end,
    }[when]
    if when == "last_east":  # already the next day where it was written
        return moment.astimezone(timezone(timedelta(hours=2))).isoformat()
    if when == "after_west":  # still the period's last day where it was written
        return moment.astimezone(timezone(timedelta(hours=-5))).isoformat()
    return moment.isoformat()


@dataclass
class World:
    agencies: dict[str, list]


@pytest.fixture
def world(make_agency, make_customer) -> World:
    agencies = {}
    for country in ("US", "US", "GB", "FR", "DE", "BR"):
        agencies.setdefault(country, []).append(make_agency(country=country).agency)
    agencies = {c: (found * 2)[:2] for c, found in agencies.items()}
    make_customer(kind="enterprise", accounts=list(ENTERPRISE_IDS[:2]))
    make_customer(kind="enterprise", country="DE", accounts=[ENTERPRISE_IDS[2]])
    make_customer(kind="consumer", accounts=list(CONSUMER_IDS))
    return World(agencies)


def drive(spec: dict, period: Period, world: World, make_case, case_staff) -> Case:
    """Log the demand through intake, drive it to its base state with make_case, then
    fire the rest of its path; release held notices when the spec says so."""
    profile, categories = spec["profile"], list(spec["categories"])
    received = datetime.fromisoformat(received_text(spec["when"], spec["inside"], period)).astimezone(UTC)
    day = received.date()
    ndo = {"none": {"present": False, "statute": "", "ends_on": None},
           "dated_past": {"present": True, "statute": "18 U.S.C. 2705(b)",
                          "ends_on": (day + timedelta(days=1)).isoformat()},
           "dated_future": {"present": True, "statute": "18 U.S.C. 2705(b)",
                            "ends_on": (utcnow().date() + timedelta(days=90)).isoformat()},
           "indefinite": {"present": True, "statute": "18 U.S.C. 2705(b)", "ends_on": None}}[spec["ndo"]]
    case = make_case(
        spec["base"], process=profile.process, agency=world.agencies[profile.country][spec["agency"]],
        identifiers=spec["identifiers"], categories=categories,
        legal_process={"issued_on": (day - timedelta(days=1)).isoformat()},
        received_at=received_text(spec["when"], spec["inside"], period), request_type=profile.request_type,
        ndo=ndo, emergency_justification="A child is missing." if profile.emergency else None,
    )
    for step in spec["tail"]:
        if step == "forged":  # the call-back finds it forged: only rejection is left
            confirm_by_callback(case.id, case_staff("reviewer"), "failed", "The agency sent no such request.")
            step = "reject_forged"
        trigger, fields = NARROW if step == "narrow" else TAIL_MOVES[step]
        if fields.get("categories"):
            fields = {**fields, "categories": categories}
        if fields.get("narrow"):
            fields = {"identifiers": spec["identifiers"][:1]}
        who = case_staff("approver2" if trigger in ("approve", "send_back") else "reviewer")
        if trigger == "propose_disclosure" and case.emergency and case.verification is None:
            confirm_by_callback(case.id, who)
        case_machine.advance(case.id, case_machine.Move(trigger, **fields), caller_for(who), utcnow())
    if spec["release"]:
        reviewer = case_staff("reviewer")
        held = db.session.scalars(sa.select(Notice).where(
            Notice.case_id == case.id, Notice.released_at.is_(None),
            Notice.hold_reason.in_([HoldReason.NDO_INDEFINITE, HoldReason.EMERGENCY]),
            Notice.hold_until.is_(None))).all()
        for notice in held:
            notices.release(notice.id, Role.REVIEWER, Actor(reviewer.email, reviewer.id),
                            "The order was lifted.", utcnow())
    return case


def ns_moments(period: Period) -> list[datetime]:
    """Just before and at the moment national-security figures become publishable, and today."""
    opens = bounds(period)[1] + timedelta(days=180)
    return [opens - timedelta(microseconds=1), opens, utcnow()]


# ---- the tests --------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(period=st.sampled_from(PERIODS), specs=st.lists(case_specs(), max_size=8),
       now_index=st.integers(0, 2))
def test_aggregate_matches_a_reference_counted_from_the_facts(app, world, make_case, case_staff, period,
                                                               specs, now_index):
    """The database is shared across examples: the reference counts every case in it,
    so cases left by earlier examples (other periods, or the same one) count too."""
    for spec in specs:
        drive(spec, period, world, make_case, case_staff)
    db.session.expire_all()
    assert_columns_match_facts()
    now = ns_moments(period)[now_index]
    report = transparency.aggregate(period, now)
    assert report == reference_report(period, now)
    assert_outcomes_sum_to_requests(report)
    db.session.commit()


def test_reference_sees_both_edges_and_excludes_national_security(app, world, make_case, case_staff):
    """A fixed set through the same path, so the edges and the national-security split
    are certainly exercised whatever Hypothesis draws."""
    period = Period(2025, 2)
    plain = {"profile": PROFILES[0], "categories": ("content",), "identifiers": [ENTERPRISE_IDS[0]],
             "kind": "enterprise", "tail": (), "inside": 0.5, "ndo": "none", "release": False, "agency": 0}
    for when, base in (("first", "disclosed"), ("last", "redirected"), ("last_east", "received"),
                       ("before", "disclosed"), ("after", "withdrawn"), ("after_west", "rejected")):
        drive({**plain, "when": when, "base": base}, period, world, make_case, case_staff)
    nsl = {**plain, "profile": PROFILES[5], "categories": ("subscriber",), "base": "disclosed",
           "identifiers": list(ENTERPRISE_IDS[:2])}
    drive({**nsl, "when": "inside"}, period, world, make_case, case_staff)
    drive({**plain, "profile": PROFILES[6], "when": "last", "base": "received"}, period, world, make_case,
          case_staff)
    db.session.expire_all()
    later = bounds(period)[1] + timedelta(days=180)
    report = transparency.aggregate(period, later)
    assert report == reference_report(period, later)
    assert report["totals"]["requests"] == 3  # first, last, and last written at +02:00
    assert report["totals"]["content_disclosed"] == 1 and report["enterprise"]["redirected"] == 1
    assert report["by_process"]["search_warrant"] == 3 and "nsl" not in report["by_process"]
    assert report["national_security"] == {
        "status": "published", "nsl": {"requests": "0-499", "accounts": "0-499"},
        "fisa_content": {"requests": "0-499", "accounts": "0-499"},
        "fisa_non_content": {"requests": "0-499", "accounts": "0-499"}}
    earlier = transparency.aggregate(Period(2025, 1), later)
    assert earlier["totals"]["requests"] == 1  # `before`: the last microsecond of 2025-H1
    following = transparency.aggregate(Period(2026, 1), later)
    assert following["totals"]["requests"] == 2  # `after` and `after_west`
    assert transparency.aggregate(period, later - timedelta(microseconds=1))["national_security"] == {
        "status": "deferred", "available_from": date(2026, 6, 30).isoformat()}


def backfill_sql() -> str:
    from alembic.script import ScriptDirectory

    migration = ScriptDirectory(str(MIGRATIONS_DIR)).get_revision("0005").module
    dialect = migration.POSTGRES if db.engine.dialect.name == "postgresql" else migration.SQLITE
    return migration.BACKFILL.format(**dialect)


def test_migration_backfill_computes_the_columns_the_code_keeps(app, world, make_case, case_staff):
    period = Period(2026, 1)
    plain = {"profile": PROFILES[0], "categories": ("content",), "identifiers": [ENTERPRISE_IDS[0]],
             "kind": "enterprise", "tail": (), "when": "inside", "inside": 0.3, "ndo": "none",
             "release": False, "agency": 0}
    for changes in (
        {"base": "disclosed"},                                                       # content, notified
        {"base": "disclosed", "categories": ("subscriber", "non_content"),
         "identifiers": [CONSUMER_IDS[0]]},                                          # non-content, consumer
        {"base": "challenged", "tail": ("won",)},                                    # challenged, quashed
        {"base": "challenged", "tail": ("narrow",), "identifiers": [ENTERPRISE_IDS[1], CONSUMER_IDS[1]]},
        {"base": "redirected", "tail": ("returns",), "ndo": "indefinite", "release": True},
        {"base": "resolved_by_customer", "identifiers": list(ENTERPRISE_IDS)},
        {"base": "no_data", "identifiers": list(UNKNOWN_IDS)},
        {"base": "pending_approval", "profile": PROFILES[3], "release": True},      # emergency, released
        {"base": "pending_approval", "profile": PROFILES[3]},                        # emergency, held
        {"base": "withdrawn", "identifiers": [ENTERPRISE_IDS[2], UNKNOWN_IDS[0]]},
        {"base": "received", "profile": PROFILES[6], "identifiers": [CONSUMER_IDS[0]]},
    ):
        drive({**plain, **changes}, period, world, make_case, case_staff)
    db.session.expire_all()
    columns = [getattr(Case, c) for c in REPORT_COLUMNS]

    def kept() -> dict:
        return {row.id: tuple(row[1:]) for row in db.session.execute(sa.select(Case.id, *columns))}

    by_code = kept()
    # Every column is set on some case, so resetting them is seen.
    assert {c: any(values[i] not in ("pending", 0, False) for values in by_code.values())
            for i, c in enumerate(REPORT_COLUMNS)} == dict.fromkeys(REPORT_COLUMNS, True)
    db.session.execute(sa.update(Case.__table__).values(
        outcome="pending", accounts_specified=0, content_requested=False, enterprise=False, challenged=False,
        redirected=False, customer_notified=False))
    assert set(kept().values()) == {("pending", 0, False, False, False, False, False)}
    db.session.execute(sa.text(backfill_sql()))
    db.session.commit()
    db.session.expire_all()
    assert kept() == by_code
    assert_columns_match_facts()
