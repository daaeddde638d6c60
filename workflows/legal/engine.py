"""The law on government demands for customer data, as a pure check over a case's facts.

What each process type may compel, from which countries, and the words of each defect
are data (rules.toml, read by rulebook.py), so lawyers can review them; this module
applies them. Nothing here reads the request, the database or the clock: time is `now`.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from models.terms import Category, ProcessType, RequestType
from workflows.legal.rulebook import (
    COUNTRY_CODE,
    DEFAULT_RULES_PATH,
    DefectCode,
    ProcessRule,
    Rules,
    Severity,
    default_rules,
    load_rules,
)

US = "US"
# A response date written on the process means "by the end of that day"; we read it in UTC
# so a deadline never depends on where the reviewer sits.
END_OF_DAY = time(23, 59, 59, tzinfo=UTC)


@dataclass(frozen=True)
class Facts:
    process_type: ProcessType
    request_type: RequestType
    agency_country: str  # ISO 3166-1 alpha-2, upper case
    agency_verified: bool
    received_at: datetime  # timezone-aware
    issued_on: date | None
    expires_on: date | None
    response_due: date | None
    signed: bool
    judicial: bool  # issued or validated by a judge or court
    has_document: bool
    identifiers: tuple[str, ...]
    categories: tuple[Category, ...]
    date_from: date | None
    date_to: date | None
    ndo_present: bool
    ndo_ends_on: date | None
    emergency_justification: str | None

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")
        if not COUNTRY_CODE.fullmatch(self.agency_country):
            raise ValueError(f"agency_country must be an ISO alpha-2 code, not {self.agency_country!r}")
        object.__setattr__(self, "process_type", ProcessType(self.process_type))
        object.__setattr__(self, "request_type", RequestType(self.request_type))
        object.__setattr__(self, "identifiers", tuple(self.identifiers))
        object.__setattr__(self, "categories", tuple(Category(c) for c in self.categories))


@dataclass(frozen=True)
class Defect:
    code: DefectCode
    severity: Severity
    message: str
    source: str
    category: Category | None = None

    def as_json(self) -> dict:
        return {"code": self.code.value, "severity": self.severity.value, "message": self.message,
                "category": self.category.value if self.category else None, "source": self.source}


@dataclass(frozen=True)
class LegalCheck:
    sufficient: bool
    authorised_categories: tuple[Category, ...]
    defects: tuple[Defect, ...]

    def as_json(self) -> dict:
        return {"sufficient": self.sufficient,
                "authorised_categories": [c.value for c in self.authorised_categories],
                "defects": [d.as_json() for d in self.defects]}


def check(facts: Facts, now: datetime, rules: Rules | None = None) -> LegalCheck:
    """Every defect of this demand, and the categories it may lawfully compel."""
    rules = rules or default_rules()
    rule = rules.processes[facts.process_type]
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    today = now.astimezone(UTC).date()
    received = facts.received_at.astimezone(UTC).date()
    requested = tuple(c for c in Category if c in facts.categories)
    found: list[tuple[DefectCode, Category | None, str | None, dict[str, Any]]] = []

    def add(code: DefectCode, category: Category | None = None, variant: str | None = None, **fields) -> None:
        found.append((code, category, variant, fields))

    if rule.document_required:
        if not facts.has_document:
            add(DefectCode.DOCUMENT_MISSING)
        if not facts.signed:
            add(DefectCode.UNSIGNED)
    if facts.issued_on and facts.issued_on > received:
        add(DefectCode.NOT_YET_VALID, issued_on=facts.issued_on)
    # At most one `expired` and one `process_not_available` per case: the first reason is named.
    late = (received - facts.issued_on).days if facts.issued_on else 0
    if rule.service_window_days and late > rule.service_window_days:
        add(DefectCode.EXPIRED, variant="late_service", issued_on=facts.issued_on, days=late,
            limit_days=rule.service_window_days)
    elif facts.expires_on and facts.expires_on < today:
        add(DefectCode.EXPIRED, expires_on=facts.expires_on)
    if not any(i.strip() for i in facts.identifiers):
        add(DefectCode.NO_IDENTIFIERS)
    for category in requested:
        if category not in rule.authorises:
            if category in rule.treaty_required_for and facts.agency_country != US:
                add(DefectCode.FOREIGN_CONTENT_REQUIRES_TREATY, category)
            else:
                add(DefectCode.CATEGORY_NOT_AUTHORISED, category)
        elif category in rule.judicial_issuer_required_for and not facts.judicial:
            add(DefectCode.JUDICIAL_AUTHORITY_REQUIRED, category)
    if not rule.open_to(facts.agency_country):
        add(DefectCode.PROCESS_NOT_AVAILABLE)
    elif rule.in_force_from and received < rule.in_force_from:
        add(DefectCode.PROCESS_NOT_AVAILABLE, variant="not_in_force", in_force_from=rule.in_force_from)
    if _is_emergency(facts, rule) and not (facts.emergency_justification or "").strip():
        add(DefectCode.EMERGENCY_UNJUSTIFIED)
    if not facts.agency_verified:
        add(DefectCode.AGENCY_UNVERIFIED)
    if facts.ndo_present and facts.ndo_ends_on is None:
        add(DefectCode.NDO_INDEFINITE)
    # An end date implies an order, even if the box for one was not ticked.
    if facts.ndo_ends_on and (facts.ndo_ends_on - received).days > rules.ndo_max_days:
        add(DefectCode.NDO_OVER_ONE_YEAR, ndo_ends_on=facts.ndo_ends_on,
            days=(facts.ndo_ends_on - received).days, limit_days=rules.ndo_max_days)
    if Category.CONTENT in requested and (facts.date_from is None or facts.date_to is None):
        add(DefectCode.UNBOUNDED_DATE_RANGE)

    common = {"process": rule.name, "country": facts.agency_country, "received_on": received.isoformat()}
    defects = sorted((_defect(rules, rule, common, *f) for f in found), key=_defect_order)
    blocking = [d for d in defects if d.severity is Severity.BLOCKING]
    if any(d.category is None for d in blocking):
        authorised: tuple[Category, ...] = ()
    else:
        barred = {d.category for d in blocking}
        authorised = tuple(c for c in requested if c in rule.authorises and c not in barred)
    return LegalCheck(sufficient=not blocking, authorised_categories=authorised, defects=tuple(defects))


def due_at(facts: Facts, rules: Rules | None = None) -> datetime:
    """When the answer is due: emergencies within hours, then the process's own period (epoc),
    then the response date on the process (end of that day, UTC), else the default period."""
    rules = rules or default_rules()
    rule = rules.processes[facts.process_type]
    received = facts.received_at.astimezone(UTC)
    if _is_emergency(facts, rule):
        return received + timedelta(hours=rules.emergency_response_hours)
    if rule.response_days:
        return received + timedelta(days=rule.response_days)
    if facts.response_due:
        return datetime.combine(facts.response_due, END_OF_DAY)
    return received + timedelta(days=rules.default_response_days)


def process_rule(process_type: ProcessType | str, rules: Rules | None = None) -> ProcessRule:
    """What this process type compels, from whom, and on what authority."""
    return (rules or default_rules()).processes[ProcessType(process_type)]


def init_app(app) -> None:
    """Load the rules at start-up, so a malformed file stops the application, not a case."""
    app.extensions["legal_rules"] = load_rules(app.config.get("LEGAL_RULES_PATH") or DEFAULT_RULES_PATH)


def rules_of(app) -> Rules:
    return app.extensions.get("legal_rules") or default_rules()


def _is_emergency(facts: Facts, rule: ProcessRule) -> bool:
    return facts.request_type == RequestType.EMERGENCY or rule.emergency


def _defect(rules: Rules, rule: ProcessRule, common: dict, code: DefectCode, category: Category | None,
            variant: str | None, fields: dict) -> Defect:
    wording = rules.wording[(code, variant)]
    values = {k: v.isoformat() if isinstance(v, date) else v for k, v in fields.items()}
    if category:
        values["category"] = category.label[0].lower() + category.label[1:]
    return Defect(code=code, severity=code.severity, category=category,
                  message=wording.message.format(**common, **values),
                  source=wording.source.format(process_source=rule.source))


def _defect_order(defect: Defect) -> tuple[int, int]:
    """Codes in DefectCode order, then categories in Category order: the same case reads the same."""
    category = list(Category).index(defect.category) if defect.category else -1
    return list(DefectCode).index(defect.code), category
