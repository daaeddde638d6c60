"""The rules as data: what each process type may compel, from which countries and
on what authority, and the words of each defect, read from rules.toml (beside
this module, so lawyers can review it) and checked as they are read, so a
malformed file stops the application at start-up, not a case. The engine
(engine.py) applies them."""

import re
import string
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import NoReturn

from models.terms import CaseKind, Category, ProcessType

DEFAULT_RULES_PATH = Path(__file__).with_name("rules.toml")
COUNTRY_CODE = re.compile(r"[A-Z]{2}")
MISTAKEN_CODES = {"UK": "GB", "EL": "GR"}  # EU usage, not ISO 3166-1


class DefectCode(StrEnum):
    DOCUMENT_MISSING = "document_missing"
    UNSIGNED = "unsigned"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    NO_IDENTIFIERS = "no_identifiers"
    CATEGORY_NOT_AUTHORISED = "category_not_authorised"
    PROCESS_NOT_AVAILABLE = "process_not_available"
    FOREIGN_CONTENT_REQUIRES_TREATY = "foreign_content_requires_treaty"
    JUDICIAL_AUTHORITY_REQUIRED = "judicial_authority_required"
    EMERGENCY_UNJUSTIFIED = "emergency_unjustified"
    AGENCY_UNVERIFIED = "agency_unverified"
    NDO_INDEFINITE = "ndo_indefinite"
    NDO_OVER_ONE_YEAR = "ndo_over_one_year"
    UNBOUNDED_DATE_RANGE = "unbounded_date_range"

    @property
    def severity(self) -> "Severity":
        return Severity.WARNING if self in WARNINGS else Severity.BLOCKING


class Severity(StrEnum):
    BLOCKING = "blocking"
    WARNING = "warning"


WARNINGS = frozenset({
    DefectCode.NDO_INDEFINITE, DefectCode.NDO_OVER_ONE_YEAR, DefectCode.UNBOUNDED_DATE_RANGE,
})
# Defects whose wording has a second form for a second reason: [defect.<code>.<variant>].
VARIANTS = {DefectCode.EXPIRED: ("late_service",), DefectCode.PROCESS_NOT_AVAILABLE: ("not_in_force",)}
# The case facts each message may name; every message may also name COMMON_FIELDS.
COMMON_FIELDS = frozenset({"process", "country", "received_on"})
MESSAGE_FIELDS = {
    (DefectCode.NOT_YET_VALID, None): {"issued_on"},
    (DefectCode.EXPIRED, None): {"expires_on"},
    (DefectCode.EXPIRED, "late_service"): {"issued_on", "days", "limit_days"},
    (DefectCode.CATEGORY_NOT_AUTHORISED, None): {"category"},
    (DefectCode.PROCESS_NOT_AVAILABLE, "not_in_force"): {"in_force_from"},
    (DefectCode.FOREIGN_CONTENT_REQUIRES_TREATY, None): {"category"},
    (DefectCode.JUDICIAL_AUTHORITY_REQUIRED, None): {"category"},
    (DefectCode.NDO_OVER_ONE_YEAR, None): {"ndo_ends_on", "days", "limit_days"},
}
SOURCE_FIELDS = frozenset({"process_source"})


class RulesError(Exception):
    """rules.toml is malformed; the message names the file and the bad entry."""


@dataclass(frozen=True)
class ProcessRule:
    process_type: ProcessType
    name: str  # as it reads inside a sentence: "search warrant"
    source: str
    authorises: tuple[Category, ...]
    countries: frozenset[str] | None  # None: any country
    excluded_countries: frozenset[str] = frozenset()
    document_required: bool = True
    emergency: bool = False  # needs a justification, answered within emergency hours
    in_force_from: date | None = None
    judicial_issuer_required_for: tuple[Category, ...] = ()
    treaty_required_for: tuple[Category, ...] = ()  # foreign agencies need a treaty for these
    service_window_days: int | None = None
    response_days: int | None = None
    # A preservation process (DESIGN 11.2): how long records are held from receipt,
    # how much each extension adds, and how many extensions there may be.
    preservation_days: int | None = None
    extension_days: int | None = None
    extensions_allowed: int = 0

    def open_to(self, country: str) -> bool:
        if country in self.excluded_countries:
            return False
        return self.countries is None or country in self.countries

    def as_json(self) -> dict:
        """What the case page shows of this process type."""
        open_to = "any" if self.countries is None else sorted(self.countries - self.excluded_countries)
        return {"process_type": self.process_type.value, "label": self.process_type.label, "name": self.name,
                "source": self.source, "authorises": [c.value for c in self.authorises],
                "countries": open_to, "excluded_countries": sorted(self.excluded_countries),
                "document_required": self.document_required, "emergency": self.emergency,
                "in_force_from": self.in_force_from.isoformat() if self.in_force_from else None,
                "judicial_issuer_required_for": [c.value for c in self.judicial_issuer_required_for],
                "response_days": self.response_days, "preservation_days": self.preservation_days,
                "extension_days": self.extension_days, "extensions_allowed": self.extensions_allowed}


@dataclass(frozen=True)
class Wording:
    message: str
    source: str


@dataclass(frozen=True)
class PreservationPolicy:
    ending_soon_days: int


@dataclass(frozen=True)
class Rules:
    processes: Mapping[ProcessType, ProcessRule]
    wording: Mapping[tuple[DefectCode, str | None], Wording]
    emergency_response_hours: int
    default_response_days: int
    ndo_max_days: int
    objection_days: int  # how long a customer told of an intended disclosure has to object
    preservation: PreservationPolicy = PreservationPolicy(ending_soon_days=14)


@cache
def default_rules() -> Rules:
    return load_rules(DEFAULT_RULES_PATH)


def load_rules(path: str | Path) -> Rules:
    """Read and validate a rules file; any mistake raises RulesError naming the entry."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise RulesError(f"{path.name}: cannot be read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path.name}: not valid TOML: {exc}") from exc
    return _Loader(path.name).rules(data)


class _Loader:
    PROCESS_REQUIRED = ("name", "source", "countries", "authorises")
    PROCESS_OPTIONAL = ("excluded_countries", "document_required", "emergency", "in_force_from",
                        "judicial_issuer_required_for", "treaty_required_for", "service_window_days",
                        "response_days", "preservation_days", "extension_days", "extensions_allowed")
    PRESERVATION_TIMES = ("preservation_days", "extension_days", "extensions_allowed")
    TIME_LIMITS = ("emergency_response_hours", "default_response_days", "ndo_max_days", "objection_days")

    def __init__(self, name: str):
        self.name = name

    def fail(self, where: str, problem: str) -> NoReturn:
        raise RulesError(f"{self.name}: [{where}] {problem}" if where else f"{self.name}: {problem}")

    def rules(self, data: dict) -> Rules:
        self.keys(data, "", ("time_limits", "preservation", "process", "defect"), what="table")
        limits = self.table(data, "", "time_limits")
        self.keys(limits, "time_limits", self.TIME_LIMITS)
        policy = self.table(data, "", "preservation")
        self.keys(policy, "preservation", ("ending_soon_days",))
        processes = self.entries(data, "process", ProcessType, "process type")
        defects = self.entries(data, "defect", DefectCode, "defect code")
        wording: dict[tuple[DefectCode, str | None], Wording] = {}
        for code, table in defects.items():
            where, variants = f"defect.{code}", VARIANTS.get(code, ())
            self.keys(table, where, ("message", "source"), variants)
            wording[(code, None)] = self.wording(table, where, MESSAGE_FIELDS.get((code, None), set()))
            for variant in variants:
                sub, sub_where = self.table(table, where, variant), f"{where}.{variant}"
                self.keys(sub, sub_where, ("message", "source"))
                fields = MESSAGE_FIELDS.get((code, variant), set())
                wording[(code, variant)] = self.wording(sub, sub_where, fields)
        return Rules(
            processes=MappingProxyType({t: self.process(t, processes[t]) for t in ProcessType}),
            wording=MappingProxyType(wording),
            preservation=PreservationPolicy(
                ending_soon_days=self.positive_int(policy, "preservation", "ending_soon_days")),
            **{key: self.positive_int(limits, "time_limits", key) for key in self.TIME_LIMITS})

    def entries(self, data: dict, kind: str, enum: type[StrEnum], what: str) -> dict:
        tables = self.table(data, "", kind)
        for key in tables:
            if key not in enum.__members__.values():
                self.fail(f"{kind}.{key}", f"unknown {what}; expected one of {', '.join(enum)}")
        for member in enum:
            if member not in tables:
                self.fail(f"{kind}.{member}", f"missing: every {what} needs an entry")
        return {member: self.table(tables, kind, member) for member in enum}

    def process(self, process_type: ProcessType, table: dict) -> ProcessRule:
        where = f"process.{process_type}"
        self.keys(table, where, self.PROCESS_REQUIRED, self.PROCESS_OPTIONAL)
        countries = table["countries"]
        if countries != "any" and not isinstance(countries, list):
            self.fail(where, f'countries: expected "any" or a list of country codes, got {_kind(countries)}')
        authorises = self.categories(table, where, "authorises")
        judicial = self.categories(table, where, "judicial_issuer_required_for")
        treaty = self.categories(table, where, "treaty_required_for")
        if set(judicial) - set(authorises):
            self.fail(where, "judicial_issuer_required_for: names a category this process does not authorise")
        if set(treaty) & set(authorises):
            self.fail(where, "treaty_required_for: names a category this process already authorises")
        in_force = table.get("in_force_from")
        preserving = process_type.kind is CaseKind.PRESERVATION
        for key in self.PRESERVATION_TIMES:
            if (key in table) != preserving:
                self.fail(where, f"{key}: " + ("missing: a preservation process needs it" if preserving
                                               else "only a preservation process has it"))
        return ProcessRule(
            process_type=process_type, name=self.text(table, where, "name"),
            source=self.text(table, where, "source"), authorises=authorises,
            countries=None if countries == "any" else self.countries(table, where, "countries"),
            excluded_countries=self.countries(table, where, "excluded_countries"),
            document_required=self.boolean(table, where, "document_required", True),
            emergency=self.boolean(table, where, "emergency", False),
            in_force_from=None if in_force is None else self.a_date(in_force, where, "in_force_from"),
            judicial_issuer_required_for=judicial, treaty_required_for=treaty,
            service_window_days=self.positive_int(table, where, "service_window_days", optional=True),
            response_days=self.positive_int(table, where, "response_days", optional=True),
            preservation_days=self.positive_int(table, where, "preservation_days", optional=True),
            extension_days=self.positive_int(table, where, "extension_days", optional=True),
            extensions_allowed=self.positive_int(table, where, "extensions_allowed", optional=True) or 0)

    def wording(self, table: dict, where: str, fields: Iterable[str]) -> Wording:
        message, source = self.text(table, where, "message"), self.text(table, where, "source")
        self.placeholders(message, where, "message", COMMON_FIELDS | set(fields))
        self.placeholders(source, where, "source", SOURCE_FIELDS)
        return Wording(message, source)

    def placeholders(self, text: str, where: str, key: str, allowed: Iterable[str]) -> None:
        allowed = sorted(allowed)
        try:
            parts = list(string.Formatter().parse(text))
        except ValueError as exc:
            self.fail(where, f"{key}: {exc} (write {{{{ or }}}} for a literal brace)")
        for _, field, spec, conversion in parts:
            if field is not None and (field not in allowed or spec or conversion):
                self.fail(where, f"{key}: unknown placeholder {{{field}}}; this one may use "
                          + ", ".join(f"{{{f}}}" for f in allowed))

    def keys(self, table: dict, where: str, required: Iterable[str], optional: Iterable[str] = (),
             what: str = "key") -> None:
        known = (*required, *optional)
        for key in table:
            if key not in known:
                self.fail(where, f"{key}: unknown {what}; expected {', '.join(known)}")
        for key in required:
            if key not in table:
                self.fail(where, f"{key}: missing")

    def table(self, table: dict, where: str, key: str) -> dict:
        value = table.get(key)
        here = f"{where}.{key}" if where else key
        if value is None:
            self.fail(here, "missing")
        if not isinstance(value, dict):
            self.fail(here, f"expected a table, got {_kind(value)}")
        return value

    def text(self, table: dict, where: str, key: str) -> str:
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"{key}: expected non-empty text, got {_kind(value)}")
        return value

    def boolean(self, table: dict, where: str, key: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.fail(where, f"{key}: expected true or false, got {_kind(value)}")
        return value

    def positive_int(self, table: dict, where: str, key: str, optional: bool = False) -> int | None:
        value = table.get(key)
        if value is None and optional:
            return None
        if type(value) is not int or value <= 0:
            self.fail(where, f"{key}: expected a positive whole number, got {_kind(value)}")
        return value

    def categories(self, table: dict, where: str, key: str) -> tuple[Category, ...]:
        values = self.list_of_text(table, where, key)
        for value in values:
            if value not in Category.__members__.values():
                self.fail(where, f"{key}: unknown category {value!r}; expected one of {', '.join(Category)}")
        return tuple(c for c in Category if c in values)

    def countries(self, table: dict, where: str, key: str) -> frozenset[str]:
        values = self.list_of_text(table, where, key)
        for value in values:
            if value in MISTAKEN_CODES:
                self.fail(where, f"{key}: {value!r} is not an ISO 3166-1 code; use {MISTAKEN_CODES[value]!r}")
            if not COUNTRY_CODE.fullmatch(value):
                self.fail(where, f"{key}: bad country code {value!r}; expected two capital letters")
        if key == "countries" and not values:
            self.fail(where, f'{key}: empty; list the countries or write "any"')
        return frozenset(values)

    def list_of_text(self, table: dict, where: str, key: str) -> list[str]:
        values = table.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            self.fail(where, f"{key}: expected a list of text, got {_kind(values)}")
        return values

    def a_date(self, value: object, where: str, key: str) -> date:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                self.fail(where, f"{key}: bad date {value!r}; expected YYYY-MM-DD")
        self.fail(where, f"{key}: expected a date like 2026-08-18, got {_kind(value)}")


def _kind(value: object) -> str:
    if isinstance(value, str):
        return repr(value)
    kinds = {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "a table",
             datetime: "a date and time", date: "a date"}
    return next((name for kind, name in kinds.items() if isinstance(value, kind)),
                "nothing" if value is None else type(value).__name__)
