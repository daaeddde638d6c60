"""The OpenAPI document against the server: it is valid OpenAPI 3.1, it names
every route under /api/v1 with each of its methods, and what it says about each
operation's callers comes from the view's access policy."""

import re

import pytest
from openapi_spec_validator import validate

from views.api.contract import CONVERTER, PREFIX

pytestmark = pytest.mark.sqlite_only  # the document does not depend on the engine


@pytest.fixture
def spec(client):
    return client.get(PREFIX + "/openapi.json").get_json()


def api_routes(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            path = CONVERTER.sub(lambda m: "{" + m["name"] + "}", rule.rule)[len(PREFIX):]
            found.update((path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"})
    return found


def test_the_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"] == "3.1.0"
    validate(spec)


def test_every_route_under_the_api_is_described_and_nothing_else(app, spec):
    described = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert described == api_routes(app)


def test_each_operation_says_who_may_call_it(spec):
    ops = {(path, method): op for path, item in spec["paths"].items() for method, op in item.items()}
    assert ops["/session", "post"]["security"] == []
    assert ops["/session", "delete"]["security"] == [{"session": [], "csrf": []}]
    assert ops["/openapi.json", "get"]["security"] == []
    for (path, method), op in ops.items():
        if path.startswith("/agency/"):
            assert op["security"] == [{"agencyToken": []}], path
        elif op["security"]:
            assert "401" in op["responses"], (path, method)


def test_every_schema_the_document_names_is_in_it(spec):
    text = str(spec)
    for name in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert name in spec["components"]["schemas"], name


def test_a_method_the_document_does_not_name_is_405_with_allow(client, spec):
    """What a generic client tries on every path: a method not described is refused
    with 405, and Allow names exactly the described ones (GET brings HEAD)."""
    for path, item in spec["paths"].items():
        url = PREFIX + re.sub(r"\{\w+\}", "1", path)
        described = {method.upper() for method in item}
        allowed = described | {"OPTIONS"} | ({"HEAD"} if "GET" in described else set())
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - described:
            resp = client.open(url, method=method)
            assert resp.status_code == 405, (method, path)
            assert set(resp.headers["Allow"].replace(" ", "").split(",")) == allowed, (method, path)


PYDANTIC_WORDS = {"ge", "le", "gt", "lt", "max_length", "min_length", "multiple_of", "strict"}


def test_every_constraint_is_written_in_json_schema_words(spec):
    """A bound the server enforces but the document names in pydantic's words
    (ge, max_length) is a bound no client sees."""
    def walk(node, where):
        if isinstance(node, dict):
            if "type" in node or "anyOf" in node or "$ref" in node:
                assert not PYDANTIC_WORDS & set(node), (where, node)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for n, value in enumerate(node):
                walk(value, f"{where}/{n}")

    walk(spec, "#")
