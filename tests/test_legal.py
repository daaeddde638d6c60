"""The legal-process rules: what each kind of process may compel, and what makes it fall short.

Pure unit tests: no app, no database. Time is a parameter, so no clock tricks.
"""

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from models.terms import Category, ProcessType, RequestType
from workflows import legal
from workflows.legal import DefectCode, Facts, RulesError, Severity, check, due_at, load_rules

SUB, NON, CON = Category.SUBSCRIBER, Category.NON_CONTENT, Category.CONTENT
ALL = (SUB, NON, CON)
NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 8, 20, 9, 30, tzinfo=UTC)
WARNING_CODES = {DefectCode.NDO_INDEFINITE, DefectCode.NDO_OVER_ONE_YEAR, DefectCode.UNBOUNDED_DATE_RANGE}


def facts(**overrides) -> Facts:
    """A valid US search warrant for all three categories, received 2026-08-20, six days after issue."""
    baseline = dict(
        process_type=ProcessType.SEARCH_WARRANT, request_type=RequestType.CRIMINAL,
        agency_country="US", agency_verified=True, received_at=RECEIVED,
        issued_on=date(2026, 8, 14), expires_on=None, response_due=None,
        signed=True, judicial=True, has_document=True, identifiers=("alice@example.com",),
        categories=ALL, date_from=date(2026, 1, 1), date_to=date(2026, 6, 30),
        ndo_present=False, ndo_ends_on=None, emergency_justification=None,
    )
    return Facts(**{**baseline, **overrides})


def received_on(day: date, **overrides) -> dict:
    """Overrides for a demand received on `day` and issued that same day."""
    return dict(received_at=datetime.combine(day, RECEIVED.timetz()), issued_on=day, **overrides)


EMERGENCY = dict(process_type=ProcessType.EMERGENCY, request_type=RequestType.EMERGENCY, has_document=False,
                 signed=False, judicial=False, issued_on=None,
                 emergency_justification="Kidnapped child; the caller threatened to kill her tonight.")
NATSEC = dict(request_type=RequestType.NATIONAL_SECURITY)


def epoc(country="DE", **overrides) -> dict:
    return {"process_type": ProcessType.EPOC, "agency_country": country, **overrides}


def local(country="FR", **overrides) -> dict:
    return dict(process_type=ProcessType.LOCAL_ORDER, agency_country=country, judicial=False, **overrides)


D = DefectCode
# (id, overrides, expected defects as codes or (code, category), expected authorised categories)
SCENARIOS = [
    ("warrant ok", {}, set(), ALL),
    ("warrant received 14 days after issue ok", dict(issued_on=date(2026, 8, 6)), set(), ALL),
    ("warrant received 15 days after issue expired", dict(issued_on=date(2026, 8, 5)), {D.EXPIRED}, ()),
    ("expires today ok", dict(expires_on=NOW.date()), set(), ALL),
    ("expired yesterday", dict(expires_on=date(2026, 8, 31)), {D.EXPIRED}, ()),
    ("issued the day it was received ok", dict(issued_on=RECEIVED.date()), set(), ALL),
    ("issued after it was received", dict(issued_on=date(2026, 8, 21)), {D.NOT_YET_VALID}, ()),
    ("document missing", dict(has_document=False), {D.DOCUMENT_MISSING}, ()),
    ("unsigned", dict(signed=False), {D.UNSIGNED}, ()),
    ("document missing and unsigned", dict(has_document=False, signed=False),
     {D.DOCUMENT_MISSING, D.UNSIGNED}, ()),
    ("no identifiers", dict(identifiers=()), {D.NO_IDENTIFIERS}, ()),
    ("blank identifiers only", dict(identifiers=("  ", "")), {D.NO_IDENTIFIERS}, ()),
    ("agency unverified", dict(agency_verified=False), {D.AGENCY_UNVERIFIED}, ()),
    ("warrant from a foreign agency", dict(agency_country="DE"), {D.PROCESS_NOT_AVAILABLE}, ()),
    ("subpoena for subscriber ok", dict(process_type=ProcessType.SUBPOENA, categories=(SUB,)), set(), (SUB,)),
    ("subpoena for everything", dict(process_type=ProcessType.SUBPOENA),
     {(D.CATEGORY_NOT_AUTHORISED, NON), (D.CATEGORY_NOT_AUTHORISED, CON)}, (SUB,)),
    ("subpoena from a foreign agency", dict(process_type=ProcessType.SUBPOENA, categories=(SUB,),
                                            agency_country="CA"), {D.PROCESS_NOT_AVAILABLE}, ()),
    ("court order for subscriber and non-content ok",
     dict(process_type=ProcessType.COURT_ORDER, categories=(NON, SUB)), set(), (SUB, NON)),
    ("court order for content", dict(process_type=ProcessType.COURT_ORDER),
     {(D.CATEGORY_NOT_AUTHORISED, CON)}, (SUB, NON)),
    ("emergency with justification, no document, foreign agency ok",
     dict(EMERGENCY, agency_country="FR"), set(), ALL),
    ("emergency without justification", dict(EMERGENCY, emergency_justification=None),
     {D.EMERGENCY_UNJUSTIFIED}, ()),
    ("emergency with blank justification", dict(EMERGENCY, emergency_justification="  \n"),
     {D.EMERGENCY_UNJUSTIFIED}, ()),
    ("emergency process on a criminal request still needs a justification",
     dict(EMERGENCY, request_type=RequestType.CRIMINAL, emergency_justification=""),
     {D.EMERGENCY_UNJUSTIFIED}, ()),
    ("emergency request served with a warrant, unjustified", dict(request_type=RequestType.EMERGENCY),
     {D.EMERGENCY_UNJUSTIFIED}, ()),
    ("emergency request served with a warrant, justified",
     dict(request_type=RequestType.EMERGENCY, emergency_justification="Bomb threat against a school."),
     set(), ALL),
    ("nsl for subscriber ok", dict(NATSEC, process_type=ProcessType.NSL, categories=(SUB,)), set(), (SUB,)),
    ("nsl for non-content", dict(NATSEC, process_type=ProcessType.NSL, categories=(SUB, NON)),
     {(D.CATEGORY_NOT_AUTHORISED, NON)}, (SUB,)),
    ("fisa order ok", dict(NATSEC, process_type=ProcessType.FISA_ORDER), set(), ALL),
    ("fisa order from GB", dict(NATSEC, process_type=ProcessType.FISA_ORDER, agency_country="GB"),
     {D.PROCESS_NOT_AVAILABLE}, ()),
    ("mlat from FR ok", dict(process_type=ProcessType.MLAT, agency_country="FR"), set(), ALL),
    ("mlat from the US", dict(process_type=ProcessType.MLAT), {D.PROCESS_NOT_AVAILABLE}, ()),
    ("cloud act order from GB ok", dict(process_type=ProcessType.CLOUD_ACT_ORDER, agency_country="GB"),
     set(), ALL),
    ("cloud act order from AU ok", dict(process_type=ProcessType.CLOUD_ACT_ORDER, agency_country="AU"),
     set(), ALL),
    ("cloud act order from FR", dict(process_type=ProcessType.CLOUD_ACT_ORDER, agency_country="FR"),
     {D.PROCESS_NOT_AVAILABLE}, ()),
    ("epoc from DE received 2026-08-18 ok", epoc(**received_on(date(2026, 8, 18))), set(), ALL),
    ("epoc from DE received 2026-08-17", epoc(**received_on(date(2026, 8, 17))),
     {D.PROCESS_NOT_AVAILABLE}, ()),
    ("epoc from GR ok", epoc("GR"), set(), ALL),
    # preservation: 2703(f) for US agencies; the EPOC-PR for EU states bound by the regulation,
    # which a prosecutor may issue for every category (no judicial issuer needed).
    ("2703(f) preservation ok", dict(process_type=ProcessType.PRESERVATION_REQUEST, judicial=False), set(),
     ALL),
    ("2703(f) preservation from FR", dict(process_type=ProcessType.PRESERVATION_REQUEST, agency_country="FR"),
     {D.PROCESS_NOT_AVAILABLE}, ()),
    ("epoc-pr from DE by a prosecutor ok", epoc(process_type=ProcessType.EPOC_PR, judicial=False), set(),
     ALL),
    ("epoc-pr from DK", epoc("DK", process_type=ProcessType.EPOC_PR), {D.PROCESS_NOT_AVAILABLE}, ()),
    ("epoc-pr received 2026-08-17", epoc(process_type=ProcessType.EPOC_PR, **received_on(date(2026, 8, 17))),
     {D.PROCESS_NOT_AVAILABLE}, ()),
    ("epoc from DK", epoc("DK"), {D.PROCESS_NOT_AVAILABLE}, ()),
    ("epoc from the US", epoc("US"), {D.PROCESS_NOT_AVAILABLE}, ()),
    ("epoc without a judicial issuer", epoc(judicial=False),
     {(D.JUDICIAL_AUTHORITY_REQUIRED, NON), (D.JUDICIAL_AUTHORITY_REQUIRED, CON)}, (SUB,)),
    ("epoc without a judicial issuer, subscriber only ok", epoc(judicial=False, categories=(SUB,)),
     set(), (SUB,)),
    ("local order from FR for subscriber and non-content ok", local(categories=(SUB, NON)),
     set(), (SUB, NON)),
    ("local order from FR for content", local(), {(D.FOREIGN_CONTENT_REQUIRES_TREATY, CON)}, (SUB, NON)),
    ("local order from the US", local("US"), {D.PROCESS_NOT_AVAILABLE, (D.CATEGORY_NOT_AUTHORISED, CON)}, ()),
    ("informal letter", dict(process_type=ProcessType.INFORMAL, categories=(SUB,)),
     {(D.CATEGORY_NOT_AUTHORISED, SUB)}, ()),
    ("ndo without end date", dict(ndo_present=True), {D.NDO_INDEFINITE}, ALL),
    ("ndo ending 365 days after receipt ok", dict(ndo_present=True, ndo_ends_on=date(2027, 8, 20)),
     set(), ALL),
    ("ndo ending 366 days after receipt", dict(ndo_present=True, ndo_ends_on=date(2027, 8, 21)),
     {D.NDO_OVER_ONE_YEAR}, ALL),
    ("content without a start date", dict(date_from=None), {D.UNBOUNDED_DATE_RANGE}, ALL),
    ("content without an end date", dict(date_to=None), {D.UNBOUNDED_DATE_RANGE}, ALL),
    ("no date range but no content ok", dict(categories=(SUB, NON), date_from=None, date_to=None),
     set(), (SUB, NON)),
    ("nothing requested", dict(categories=()), set(), ()),
    ("subpoena, unverified, overbroad, from abroad, with a gag",
     dict(process_type=ProcessType.SUBPOENA, agency_country="MX", agency_verified=False, identifiers=(),
          signed=False, ndo_present=True, date_to=None),
     {D.UNSIGNED, D.NO_IDENTIFIERS, (D.CATEGORY_NOT_AUTHORISED, NON), (D.CATEGORY_NOT_AUTHORISED, CON),
      D.PROCESS_NOT_AVAILABLE, D.AGENCY_UNVERIFIED, D.NDO_INDEFINITE, D.UNBOUNDED_DATE_RANGE}, ()),
]


def as_pairs(expected) -> set[tuple[DefectCode, Category | None]]:
    return {item if isinstance(item, tuple) else (item, None) for item in expected}


@pytest.mark.parametrize(("overrides", "expected", "authorised"),
                         [pytest.param(o, e, a, id=i) for i, o, e, a in SCENARIOS])
def test_scenario(overrides, expected, authorised):
    result = check(facts(**overrides), NOW)
    assert {(d.code, d.category) for d in result.defects} == as_pairs(expected)
    assert result.authorised_categories == authorised
    assert result.sufficient == all(code in WARNING_CODES for code, _ in as_pairs(expected))
    for defect in result.defects:
        assert defect.severity == (Severity.WARNING if defect.code in WARNING_CODES else Severity.BLOCKING)
        assert defect.message.strip() and "{" not in defect.message and defect.source.strip()


def test_table_covers_every_defect_code_and_process_type():
    codes = {code for _, _, expected, _ in SCENARIOS for code, _ in as_pairs(expected)}
    processes = {facts(**overrides).process_type for _, overrides, _, _ in SCENARIOS}
    assert codes == set(DefectCode)
    assert processes == set(ProcessType)
    assert len(SCENARIOS) >= 40
    assert len({scenario_id for scenario_id, *_ in SCENARIOS}) == len(SCENARIOS)


def test_defects_come_in_a_fixed_order():
    overrides = dict(process_type=ProcessType.SUBPOENA, agency_country="MX", agency_verified=False,
                     identifiers=(), signed=False, ndo_present=True, date_to=None)
    codes = [(d.code, d.category) for d in check(facts(**overrides), NOW).defects]
    assert codes == [
        (D.UNSIGNED, None), (D.NO_IDENTIFIERS, None), (D.CATEGORY_NOT_AUTHORISED, NON),
        (D.CATEGORY_NOT_AUTHORISED, CON), (D.PROCESS_NOT_AVAILABLE, None), (D.AGENCY_UNVERIFIED, None),
        (D.NDO_INDEFINITE, None), (D.UNBOUNDED_DATE_RANGE, None),
    ]
    shuffled = facts(**overrides, categories=(CON, SUB, NON, CON))
    assert check(shuffled, NOW) == check(facts(**overrides), NOW)


def test_messages_name_the_case():
    subpoena = check(facts(process_type=ProcessType.SUBPOENA, categories=(SUB, CON)), NOW).defects[0]
    assert subpoena.message == "The subpoena cannot compel stored content."
    assert subpoena.source == "18 U.S.C. 2703(c)(2)"
    late = check(facts(issued_on=date(2026, 8, 1)), NOW).defects[0]
    assert "2026-08-01" in late.message and "2026-08-20" in late.message and "19 days" in late.message
    assert late.source == "Fed. R. Crim. P. 41(e)(2)(A)"
    expired = check(facts(expires_on=date(2026, 8, 25)), NOW).defects[0]
    assert "2026-08-25" in expired.message
    not_yet = check(facts(**epoc(**received_on(date(2026, 8, 17)))), NOW).defects[0]
    assert "2026-08-18" in not_yet.message and "2026-08-17" in not_yet.message
    assert "Art. 34" in not_yet.source
    dk = check(facts(**epoc("DK")), NOW).defects[0]
    assert "DK" in dk.message
    ndo = check(facts(ndo_present=True, ndo_ends_on=date(2028, 1, 1)), NOW).defects[0]
    assert "2028-01-01" in ndo.message and ndo.source == "DOJ policy on 2705(b) orders (2017)"


def test_as_json_is_plain_data():
    result = check(facts(**local()), NOW)
    data = json.loads(json.dumps(result.as_json()))
    assert data["sufficient"] is False
    assert data["authorised_categories"] == ["subscriber", "non_content"]
    assert data["defects"] == [{
        "code": "foreign_content_requires_treaty", "severity": "blocking", "category": "content",
        "source": "18 U.S.C. 2702(a), 2523, 3512", "message": data["defects"][0]["message"],
    }]
    assert "FR" in data["defects"][0]["message"]


def test_check_depends_only_on_its_arguments():
    case = facts(expires_on=date(2026, 9, 1))
    assert check(case, NOW) == check(case, NOW)
    assert check(case, NOW).sufficient
    assert not check(case, NOW + timedelta(days=1)).sufficient
    assert check(case, NOW, legal.default_rules()) == check(case, NOW)


def test_times_must_be_timezone_aware():
    with pytest.raises(ValueError, match="received_at"):
        facts(received_at=datetime(2026, 8, 20, 9, 30))
    with pytest.raises(ValueError, match="now"):
        check(facts(), datetime(2026, 9, 1))
    with pytest.raises(ValueError, match="agency_country"):
        facts(agency_country="usa")


def test_process_rules_describe_each_type():
    rule = legal.process_rule(ProcessType.EPOC)
    assert len(rule.countries - rule.excluded_countries) == 26
    assert rule.open_to("GR") and not rule.open_to("DK") and not rule.open_to("EL")
    assert legal.process_rule("subpoena").as_json()["authorises"] == ["subscriber"]
    assert legal.process_rule(ProcessType.INFORMAL).authorises == ()
    for process_type in ProcessType:
        assert legal.process_rule(process_type).source


def test_default_rules_load_once():
    assert legal.default_rules() is legal.default_rules()


# Deadlines ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "expected"), [
    pytest.param(EMERGENCY, RECEIVED + timedelta(hours=8), id="emergency process 8 hours"),
    pytest.param(dict(request_type=RequestType.EMERGENCY, response_due=date(2026, 9, 30)),
                 RECEIVED + timedelta(hours=8), id="emergency request beats the response date"),
    pytest.param(epoc(response_due=date(2026, 9, 30)), RECEIVED + timedelta(days=10), id="epoc 10 days"),
    pytest.param(dict(response_due=date(2026, 9, 4)), datetime(2026, 9, 4, 23, 59, 59, tzinfo=UTC),
                 id="response date, end of that day UTC"),
    pytest.param({}, RECEIVED + timedelta(days=14), id="default 14 days"),
])
def test_due_at(overrides, expected):
    due = due_at(facts(**overrides))
    assert due == expected
    assert due.utcoffset() == timedelta(0)


# Loading rules.toml ------------------------------------------------------------------------------

DEFAULT_TEXT = legal.DEFAULT_RULES_PATH.read_text()


def rules_file(tmp_path: Path, old: str, new: str) -> Path:
    assert old in DEFAULT_TEXT, old
    path = tmp_path / "rules.toml"
    path.write_text(DEFAULT_TEXT.replace(old, new, 1))
    return path


def without_table(name: str) -> str:
    return "\n\n".join(block for block in DEFAULT_TEXT.split("\n\n") if not block.startswith(f"[{name}]"))


@pytest.mark.parametrize(("old", "new", "error"), [
    pytest.param('authorises = ["subscriber"]', 'authorises = ["contnet"]',
                 "rules.toml: [process.subpoena] authorises: unknown category 'contnet'",
                 id="unknown category"),
    pytest.param("[process.informal]", "[process.subpena]\n", "[process.subpena] unknown process type",
                 id="unknown process type"),
    pytest.param("[defect.unsigned]", "[defect.unsinged]", "[defect.unsinged] unknown defect code",
                 id="unknown defect code"),
    pytest.param('message = "The {process} is not signed by the issuing official."\n', "",
                 "[defect.unsigned] message: missing", id="missing message"),
    pytest.param('source = "Fed. R. Crim. P. 41(e)(2)(A)"', 'source = " "',
                 "[defect.expired.late_service] source: expected non-empty text", id="blank source"),
    pytest.param('countries = ["GB", "AU"]', 'countries = ["GBR", "AU"]',
                 "[process.cloud_act_order] countries: bad country code 'GBR'", id="bad country code"),
    pytest.param('countries = ["GB", "AU"]', 'countries = ["UK", "AU"]',
                 "[process.cloud_act_order] countries: 'UK' is not an ISO 3166-1 code; use 'GB'",
                 id="UK for GB"),
    pytest.param("in_force_from = 2026-08-18", 'in_force_from = "2026-02-30"',
                 "[process.epoc] in_force_from: bad date '2026-02-30'", id="bad date"),
    pytest.param("in_force_from = 2026-08-18", "in_force_from = 20260818",
                 "[process.epoc] in_force_from: expected a date", id="number for a date"),
    pytest.param("response_days = 10", 'response_days = "ten"',
                 "[process.epoc] response_days: expected a positive whole number, got 'ten'",
                 id="text for a number"),
    pytest.param("document_required = false", 'document_required = "no"',
                 "[process.emergency] document_required: expected true or false", id="text for a boolean"),
    pytest.param("default_response_days = 14", "default_response_days = 0",
                 "[time_limits] default_response_days: expected a positive whole number", id="zero days"),
    pytest.param('authorises = ["subscriber"]', 'authorizes = ["subscriber"]',
                 "[process.subpoena] authorizes: unknown key", id="unknown key"),
    pytest.param("[time_limits]", "[time_limit]", "rules.toml: time_limit: unknown table",
                 id="unknown table"),
    pytest.param('message = "The {process} cannot compel {category}."',
                 'message = "The {process} cannot compel {categroy}."',
                 "[defect.category_not_authorised] message: unknown placeholder {categroy}",
                 id="unknown placeholder"),
    pytest.param('message = "The {process} is not signed by the issuing official."',
                 'message = "The {process} is not signed by the {category}."',
                 "[defect.unsigned] message: unknown placeholder {category}",
                 id="placeholder not for this defect"),
    pytest.param('judicial_issuer_required_for = ["non_content", "content"]',
                 'judicial_issuer_required_for = "all"',
                 "[process.epoc] judicial_issuer_required_for: expected a list of text",
                 id="text for a list"),
    pytest.param('countries = "any"\nauthorises = []', 'countries = "some"\nauthorises = []',
                 '[process.informal] countries: expected "any" or a list',
                 id="countries neither any nor list"),
    pytest.param("[process.subpoena]", "[process.subpoena", "rules.toml: not valid TOML", id="not toml"),
])
def test_malformed_rules_name_the_bad_entry(tmp_path, old, new, error):
    with pytest.raises(RulesError) as raised:
        load_rules(rules_file(tmp_path, old, new))
    assert error in str(raised.value)
    assert str(raised.value).startswith("rules.toml: ")


@pytest.mark.parametrize(("table", "error"), [
    ("process.informal", "[process.informal] missing: every process type needs an entry"),
    ("defect.ndo_indefinite", "[defect.ndo_indefinite] missing: every defect code needs an entry"),
    ("defect.expired.late_service", "[defect.expired.late_service] missing"),
])
def test_missing_entries_name_the_entry(tmp_path, table, error):
    path = tmp_path / "rules.toml"
    path.write_text(without_table(table))
    with pytest.raises(RulesError, match=error.replace("[", r"\[").replace("]", r"\]")):
        load_rules(path)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(RulesError, match=r"^absent\.toml: cannot be read"):
        load_rules(tmp_path / "absent.toml")


def test_loaded_copy_of_the_default_file_equals_the_default():
    rules = load_rules(legal.DEFAULT_RULES_PATH)
    assert rules.processes == legal.default_rules().processes
    assert rules.wording == legal.default_rules().wording
    assert (rules.emergency_response_hours, rules.default_response_days, rules.ndo_max_days) == (8, 14, 365)


def test_init_app_loads_the_configured_file_and_refuses_a_bad_one(tmp_path):
    app = Flask(__name__)
    legal.init_app(app)
    assert app.extensions["legal_rules"].processes == legal.default_rules().processes
    assert legal.rules_of(app) is app.extensions["legal_rules"]

    custom = rules_file(tmp_path, "ndo_max_days = 365", "ndo_max_days = 180")
    app = Flask(__name__)
    app.config["LEGAL_RULES_PATH"] = str(custom)
    legal.init_app(app)
    gag = facts(ndo_present=True, ndo_ends_on=RECEIVED.date() + timedelta(days=200))
    assert {d.code for d in check(gag, NOW, legal.rules_of(app)).defects} == {D.NDO_OVER_ONE_YEAR}

    app = Flask(__name__)
    broken = rules_file(tmp_path, 'authorises = ["subscriber"]', "authorises = [1]")
    app.config["LEGAL_RULES_PATH"] = str(broken)
    with pytest.raises(RulesError, match=r"\[process.subpoena\] authorises"):
        legal.init_app(app)
    assert "legal_rules" not in app.extensions


def test_facts_normalise_categories_given_as_text():
    changed = replace(facts(), categories=["content"])
    assert changed.categories == (CON,)
