"""Demo cases: about two hundred demands received over the last two half-years, in
every state, from every demo agency, under every kind of legal process.

Each case is logged through intake and moved only through advance(), at the
times it would have happened, so its transition log, its audit events and its
legal check read like the real thing: a case that reached a proposal or a
disclosure came with a process its agency could use on the day it arrived, and
only what the legal check authorised was proposed. The same `now` gives the same
cases (random.Random with a fixed seed)."""

import random
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from demo import emergencies, orders, preservations
from demo.documents import demo_pdf
from demo.plans import Plan, Step
from demo.wording import (
    ASKS,
    AUTHORITIES,
    CALLBACK_CONFIRMED_BY,
    CHANNELS,
    GEOFENCE_REJECTION,
    JUDICIAL,
    JUSTIFICATIONS,
    NDO_STATUTES,
    NOTES,
    UNKNOWN_IDENTIFIERS,
)
from models import (
    Account,
    Agency,
    Case,
    CaseKind,
    Category,
    Customer,
    CustomerKind,
    ProcessType,
    Role,
    State,
    User,
    db,
)
from workflows import cases, disclosure, legal, notices
from workflows.audit import Actor
from workflows.cases import Caller, Move, Trigger, states_of

TOTAL = 200
APPLICATION = Actor.system("demo")  # fires what the application fires (a preservation's expiry)
SEED = 2026
S, N, C = Category.SUBSCRIBER, Category.NON_CONTENT, Category.CONTENT

# How the cases end up: mostly closed, the open ones mostly recent.
STATE_WEIGHTS = {
    State.DISCLOSED: 30, State.REJECTED: 15, State.NO_DATA: 8, State.RESOLVED_BY_CUSTOMER: 6,
    State.WITHDRAWN: 6, State.REDIRECTED: 4, State.RECEIVED: 6, State.LEGAL_REVIEW: 11,
    State.CHALLENGED: 5, State.PENDING_APPROVAL: 7,
}
RECENT_DAYS = {State.RECEIVED: 6, State.LEGAL_REVIEW: 25, State.PENDING_APPROVAL: 20,
               State.REDIRECTED: 40, State.CHALLENGED: 90}
# How common each process is among the types open to an agency.
PROCESS_WEIGHTS = {
    ProcessType.SUBPOENA: 4, ProcessType.COURT_ORDER: 3, ProcessType.SEARCH_WARRANT: 4,
    ProcessType.EMERGENCY: 1, ProcessType.NSL: 1, ProcessType.FISA_ORDER: 1, ProcessType.MLAT: 2,
    ProcessType.CLOUD_ACT_ORDER: 3, ProcessType.EPOC: 4, ProcessType.LOCAL_ORDER: 2, ProcessType.INFORMAL: 1,
}
PROPOSING = {State.PENDING_APPROVAL, State.DISCLOSED}
REDIRECTING = {State.REDIRECTED, State.RESOLVED_BY_CUSTOMER}
NATIONAL_SECURITY = {ProcessType.NSL, ProcessType.FISA_ORDER}
# Geofence warrants that name no account: one awaiting the agency's answer, one rejected.
UNNAMED = (State.LEGAL_REVIEW, State.REJECTED)

def seed_cases(now: datetime, staff: Mapping[Role, User], folder: Path | None = None,
               total: int = TOTAL, seed: int = SEED) -> int:
    """Log and work `total` demo cases, unless the database has cases already.
    Commits as it goes (each intake, upload and transition); returns how many it made."""
    if db.session.scalar(select(Case.id).limit(1)) is not None:
        return 0
    folder = folder or disclosure.document_folder(current_app.instance_path)
    plans = plan_cases(now, total, seed)
    # Read once: every commit expires the ORM objects, and reloading them per step is slow.
    actors = {role: Actor(user.email, user.id) for role, user in staff.items()}
    for plan in plans:
        _play(plan, actors, folder, now)
    return len(plans)


def plan_cases(now: datetime, total: int = TOTAL, seed: int = SEED) -> list[Plan]:
    """What seed_cases will log, in the order it was received, from the agencies and
    accounts in the database; nothing is written."""
    agencies = list(db.session.scalars(select(Agency).order_by(Agency.id)))
    accounts = db.session.execute(
        select(Account.identifier, Customer.kind, Customer.id).join(Customer).order_by(Account.id)).all()
    if not agencies or not any(kind is CustomerKind.ENTERPRISE for _, kind, _ in accounts):
        return []  # nothing to make demands of: the demo's agencies and customers come first
    rng = random.Random(seed)  # noqa: S311 (invented demo data, repeatable on purpose)
    known = [i for i, _, _ in accounts]
    written = (preservations.plans(now, agencies, known) + orders.plans(now, agencies, known)
               + emergencies.plans(now, agencies, known))
    plans = _Planner(rng, now, agencies, accounts).plans(total - len(UNNAMED) - len(written))
    # The demands naming no account come from a generator of their own, so adding them
    # leaves every other demo case as it was.
    aside = _Planner(random.Random(seed + 1), now, agencies, accounts)  # noqa: S311
    for state in UNNAMED:
        found = next((plan for plan in (aside.unnamed(state) for _ in range(50)) if plan), None)
        plans += [found] if found else []
    return sorted(plans + written, key=lambda p: p.received_at)


def half_year_start(now: datetime) -> datetime:
    """The first day of the half-year before the current one."""
    if now.month <= 6:
        return datetime(now.year - 1, 7, 1, tzinfo=UTC)
    return datetime(now.year, 1, 1, tzinfo=UTC)


class _Planner:
    def __init__(self, rng: random.Random, now: datetime, agencies: list[Agency], accounts):
        self.rng, self.now, self.agencies = rng, now, agencies
        self.start = half_year_start(now)
        self.enterprise: dict[int, list[str]] = {}
        self.known = [identifier for identifier, _, _ in accounts]
        for identifier, kind, customer_id in accounts:
            if kind is CustomerKind.ENTERPRISE:
                self.enterprise.setdefault(customer_id, []).append(identifier)

    def plans(self, total: int) -> list[Plan]:
        # The first plans cover every state, process type and agency; the rest are drawn.
        # (Preservation requests have states and processes of their own: demo.preservations.)
        wanted = [(state, None, None) for state in states_of(CaseKind.PRODUCTION)]
        wanted += [(None, process, None) for process in ProcessType if process.kind is CaseKind.PRODUCTION]
        wanted += [(None, None, agency) for agency in self.agencies]
        states, weights = list(STATE_WEIGHTS), list(STATE_WEIGHTS.values())
        plans: list[Plan] = []
        for _ in range(total + len(wanted)):  # a wanted plan that cannot be made is skipped
            if len(plans) == total:
                break
            state, process, agency = wanted.pop(0) if wanted else (None, None, None)
            drawn = state or self.rng.choices(states, weights)[0]
            for attempt in range(50):
                # Another agency first; another state only if this one cannot be reached.
                chosen = state or (drawn if attempt < 25 else self.rng.choices(states, weights)[0])
                plan = self.plan(chosen, process, agency)
                if plan is not None:
                    plans.append(plan)
                    break
        return plans

    def received(self, state: State) -> datetime:
        latest = self.now - timedelta(hours=2)
        earliest = max(self.start, latest - timedelta(days=RECENT_DAYS[state])) if state in RECENT_DAYS \
            else self.start
        span = (latest - earliest).total_seconds()
        return (earliest + timedelta(seconds=self.rng.uniform(0, span))).replace(microsecond=0)

    def processes(self, agency: Agency, received: datetime, state: State) -> list[ProcessType]:
        """Process types this agency may use on that day; for a proposal, only those that compel."""
        found = []
        for process in ProcessType:
            if process.kind is not CaseKind.PRODUCTION:
                continue  # preservation requests are planned apart
            rule = legal.process_rule(process)
            if not rule.open_to(agency.country):
                continue
            if rule.in_force_from and received.date() < rule.in_force_from:
                continue
            if state in PROPOSING and (not rule.authorises or not agency.verified):
                continue
            if state in REDIRECTING and (process is ProcessType.EMERGENCY or process in NATIONAL_SECURITY):
                continue
            found.append(process)
        return found

    def plan(self, state: State, process: ProcessType | None, agency: Agency | None) -> Plan | None:
        rng = self.rng
        received = self.received(state)
        agency = agency or rng.choice(self.agencies + [a for a in self.agencies if a.country == "US"])
        choices = self.processes(agency, received, state)
        if process is None and choices:
            process = rng.choices(choices, [PROCESS_WEIGHTS[p] for p in choices])[0]
        if process not in choices:
            return None
        emergency = process is ProcessType.EMERGENCY
        asks = rng.choice(ASKS[process])
        if state is State.NO_DATA:
            identifiers = rng.sample(UNKNOWN_IDENTIFIERS, rng.choice([1, 1, 2]))
        elif state in REDIRECTING or (not emergency and state not in PROPOSING and rng.random() < 0.3):
            identifiers = rng.sample(accounts := rng.choice(list(self.enterprise.values())),
                                     rng.randint(1, len(accounts)))
        else:
            identifiers = rng.sample(self.known, rng.choice([1, 1, 1, 2, 3]))
        body = self.body(agency, process, received, asks, identifiers)
        steps = self.steps(state, process, agency, body, identifiers)
        if steps is None:
            return None
        document = process is not ProcessType.EMERGENCY and (process is not ProcessType.INFORMAL
                                                             or rng.random() < 0.5)
        return Plan(received, agency, body, document, timedelta(minutes=rng.randint(1, 90)), steps)

    def unnamed(self, state: State) -> Plan | None:
        """A geofence warrant: every device in an area over some hours, no account named."""
        agency = self.rng.choice(self.agencies)
        received = self.received(state)
        if ProcessType.SEARCH_WARRANT not in self.processes(agency, received, state):
            return None
        body = self.body(agency, ProcessType.SEARCH_WARRANT, received, [N], [])
        review = Step(Trigger.START_REVIEW, Role.REVIEWER, timedelta(hours=self.rng.uniform(1, 30)))
        steps = [review]
        if state is State.REJECTED:
            steps.append(Step(Trigger.REJECT, Role.REVIEWER, timedelta(days=self.rng.uniform(1, 4)),
                              reason="overbroad", note=GEOFENCE_REJECTION))
        return Plan(received, agency, body, True, timedelta(minutes=self.rng.randint(1, 90)), steps)

    def body(self, agency: Agency, process: ProcessType, received: datetime, asks: list[Category],
             identifiers: list[str]) -> dict:
        rng = self.rng
        day = received.date()
        issued = day - timedelta(days=rng.randint(0, 9 if process is ProcessType.SEARCH_WARRANT else 20))
        authority = AUTHORITIES.get(process, agency.name)
        if isinstance(authority, dict):
            authority = authority.get(agency.country, agency.name)
        judicial = process in JUDICIAL or (process is ProcessType.EPOC and asks != [S]) \
            or (process is ProcessType.LOCAL_ORDER and rng.random() < 0.5)
        informal = process is ProcessType.INFORMAL
        ndo = {"present": False, "statute": "", "ends_on": None}
        if process in NATIONAL_SECURITY:
            ndo = {"present": True, "statute": NDO_STATUTES[process], "ends_on": None}
        elif process is not ProcessType.EMERGENCY and not informal and rng.random() < 0.35:
            ends = None if rng.random() < 0.3 else (day + timedelta(days=rng.choice([90, 180, 365])))
            statute = NDO_STATUTES.get(process, "18 U.S.C. 2705(b)" if agency.country == "US"
                                       else "Court order under national law")
            ndo = {"present": True, "statute": statute, "ends_on": ends.isoformat() if ends else None}
        date_range = None
        if C in asks and rng.random() < 0.9:
            date_range = {"from": (day - timedelta(days=rng.randint(60, 400))).isoformat(),
                          "to": (day - timedelta(days=rng.randint(0, 20))).isoformat()}
        emergency = process is ProcessType.EMERGENCY
        request_type = ("emergency" if emergency else "national_security" if process in NATIONAL_SECURITY
                        else rng.choice(["criminal"] * 9 + ["civil"]))
        return {
            "agency_id": agency.id, "received_at": received.isoformat().replace("+00:00", "Z"),
            "channel": rng.choice(CHANNELS), "request_type": request_type,
            "legal_process": {
                "type": process.value, "issuing_authority": authority, "judicial": judicial,
                "issued_on": None if emergency else issued.isoformat(),
                "expires_on": None if emergency or rng.random() < 0.6
                else (issued + timedelta(days=rng.choice([120, 180]))).isoformat(),
                "signed": not informal and not emergency,
                "case_number": "" if informal or emergency else f"{_prefix(process)}-{day.year}-"
                                                                  f"{rng.randint(100, 99999):05d}",
                "response_due": (day + timedelta(days=rng.choice([10, 21, 30]))).isoformat()
                if not emergency and rng.random() < 0.3 else None,
            },
            "identifiers": identifiers, "categories": [c.value for c in asks], "date_range": date_range,
            "ndo": ndo, "emergency_justification": rng.choice(JUSTIFICATIONS) if emergency else None,
        }

    def steps(self, state: State, process: ProcessType, agency: Agency, body: dict,
              identifiers: list[str]) -> list[Step] | None:
        rng = self.rng
        fast = process is ProcessType.EMERGENCY
        unit = timedelta(minutes=20) if fast else timedelta(days=1)

        def wait(low: float, high: float) -> timedelta:
            return unit * rng.uniform(low, high)

        def step(trigger: Trigger, role: Role = Role.REVIEWER, low=0.5, high=4.0, **kw) -> Step:
            if trigger in NOTES and "note" not in kw:
                kw["note"] = rng.choice(NOTES[trigger])
            return Step(trigger, role, wait(low, high), **kw)

        review = step(Trigger.START_REVIEW, low=0.05, high=1.5)
        propose = [step(Trigger.PROPOSE_DISCLOSURE)]
        if fast:  # nothing is proposed before a call-back confirms the emergency
            propose[0].callback = ("confirmed", CALLBACK_CONFIRMED_BY, None)
        if rng.random() < 0.15 and not fast:
            propose += [step(Trigger.SEND_BACK, Role.APPROVER, 0.2, 2.0), step(Trigger.PROPOSE_DISCLOSURE)]
        if state is State.RECEIVED:
            return []
        if state is State.LEGAL_REVIEW:
            return [review]
        if state is State.CHALLENGED:
            return [review, step(Trigger.CHALLENGE)] if not fast else None
        if state is State.PENDING_APPROVAL:
            return [review, *propose]
        if state is State.REDIRECTED:
            return [review, step(Trigger.REDIRECT, high=2.0)]
        if state is State.RESOLVED_BY_CUSTOMER:
            return [review, step(Trigger.REDIRECT, high=2.0),
                    step(Trigger.RESOLVE_BY_CUSTOMER, low=5, high=30)]
        if state is State.NO_DATA:
            return [review, step(Trigger.NO_DATA_FOUND, low=0.1, high=2.0)]
        if state is State.WITHDRAWN:
            if rng.random() < 0.5:
                return [step(Trigger.WITHDRAW, Role.INTAKE, 0.1, 3.0)]
            return [review, step(Trigger.WITHDRAW, low=1, high=10)]
        if state is State.REJECTED:
            if not fast and rng.random() < 0.25:
                return [review, step(Trigger.CHALLENGE), step(Trigger.CHALLENGE_WON, low=10, high=40)]
            reason = _reject_reason(process, agency, body, rng)
            return [review, step(Trigger.REJECT, reason=reason, note=rng.choice(NOTES[Trigger.REJECT])
                                 if reason == "other" else None)]
        # Disclosed: sometimes after a lost challenge, or after the customer was asked first.
        before = [review]
        enterprise = all(any(i in a for a in self.enterprise.values()) for i in identifiers)
        roll = rng.random()
        if not fast and roll < 0.15:
            narrow = len(body["categories"]) > 1 and C.value in body["categories"]
            before += [step(Trigger.CHALLENGE), step(Trigger.CHALLENGE_LOST, low=10, high=40, narrow=narrow)]
        elif not fast and roll < 0.25 and enterprise:
            before += [step(Trigger.REDIRECT, high=2.0), step(Trigger.AGENCY_RETURNS, low=10, high=30)]
        return [*before, *propose, step(Trigger.APPROVE, Role.APPROVER, 0.1, 2.0)]


def _reject_reason(process: ProcessType, agency: Agency, body: dict, rng: random.Random) -> str:
    if not agency.verified:
        return "agency_unverified"
    if process is ProcessType.INFORMAL:
        return "insufficient_process"
    return rng.choice(["overbroad", "overbroad", "insufficient_process", "other"])


def _prefix(process: ProcessType) -> str:
    return {ProcessType.SUBPOENA: "GJ", ProcessType.COURT_ORDER: "MC", ProcessType.SEARCH_WARRANT: "MJ",
            ProcessType.NSL: "NSL", ProcessType.FISA_ORDER: "BR", ProcessType.MLAT: "MLAT",
            ProcessType.CLOUD_ACT_ORDER: "IPO", ProcessType.EPOC: "EPOC"}.get(process, "ORD")


def _play(plan: Plan, actors: Mapping[Role, Actor], folder: Path, now: datetime) -> None:
    """Log the demand, upload its process, then fire each step at its time."""
    logged_at = plan.received_at + plan.logged_after
    times, at = [], logged_at + timedelta(minutes=5)
    for step in plan.steps:
        at += step.after
        times.append(at)
    latest = now - timedelta(minutes=5)
    if times and times[-1] > latest:  # squeeze a long story into the time there was
        scale = (latest - logged_at).total_seconds() / (times[-1] - logged_at).total_seconds()
        times = [logged_at + (t - logged_at) * scale for t in times]
    clerk = actors[Role.INTAKE]
    body = plan.body if plan.follows is None else {**plan.body, "preservation_id": plan.follows.case_id}
    draft = cases.parse_case(body, logged_at)
    case = cases.create_case(draft, plan.agency, clerk, logged_at, created_by_id=clerk.user_id)
    db.session.commit()
    case_id, reference = case.id, case.reference
    plan.case_id = case_id
    if plan.document:
        disclosure.store_document(case_id, BytesIO(demo_pdf(plan, reference)), f"{reference}.pdf", clerk,
                        logged_at + timedelta(minutes=2), folder)
    for step, at in zip(plan.steps, times, strict=True):
        actor = actors[step.role] if step.role else APPLICATION
        caller = Caller(actor.user_id, step.role, at, actor)
        if step.callback is not None:
            outcome, spoke_with, words = step.callback
            cases.record_callback(case_id, cases.Callback(
                phone_called=plan.agency.phone, spoke_with=spoke_with, outcome=outcome, note=words),
                caller, at - timedelta(minutes=3))
        move = Move(step.trigger.value, note=step.note, reason=step.reason)
        if step.trigger in (Trigger.PROPOSE_DISCLOSURE, Trigger.PRESERVE):
            case = db.session.get(Case, case_id)
            chosen = legal.check(cases.facts_of(case), at).authorised_categories
            move = Move(step.trigger.value, categories=[c.value for c in chosen])
        elif step.narrow:
            case = db.session.get(Case, case_id)
            move = Move(step.trigger.value, categories=[c for c in case.categories if c != C.value])
        if step.trigger is Trigger.APPROVE:
            at = after_objection_window(case_id, at, latest)
            caller = Caller(actor.user_id, step.role, at, actor)
        cases.advance(case_id, move, caller, at)


def after_objection_window(case_id: int, at: datetime, latest: datetime) -> datetime:
    """When an approval may happen: once the customers' time to object has run,
    or, where the story leaves no time for that, once each customer said in the
    portal that they do not object."""
    end = notices.objection_window_binds(db.session.get(Case, case_id), at)
    if end is None:
        return at
    if end + timedelta(minutes=30) <= latest:
        return end + timedelta(minutes=30)
    for notice in notices.intent_notices_told(case_id):
        notices.say_no_objection(notice.id, notice.customer_id, Actor.system("demo customer"),
                                 at - timedelta(minutes=10))
    return at


def received_range(now: datetime) -> tuple[date, date]:
    """The days demo cases are received on: the previous half-year and this one so far."""
    return half_year_start(now).date(), now.date()
