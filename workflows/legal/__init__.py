"""The legal check: rules as data (rules.toml, each with its source) and a pure
engine that compares a demand's process with the data it asks for."""

from workflows.legal.engine import Defect, Facts, LegalCheck, check, due_at, init_app, process_rule, rules_of
from workflows.legal.rulebook import (
    DEFAULT_RULES_PATH,
    DefectCode,
    ProcessRule,
    Rules,
    RulesError,
    Severity,
    default_rules,
    load_rules,
)

__all__ = [
    "DEFAULT_RULES_PATH", "Defect", "DefectCode", "Facts", "LegalCheck", "ProcessRule", "Rules",
    "RulesError", "Severity", "check", "default_rules", "due_at", "init_app", "load_rules",
    "process_rule", "rules_of",
]
