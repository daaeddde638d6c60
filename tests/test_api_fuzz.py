"""A generic OpenAPI client (schemathesis) over every operation of /api/v1, as
each kind of caller: no credentials, an agency's token, and staff sessions of
each role that uses the API.

For every operation it sends requests the document allows (positive) and
requests it forbids (negative), and checks the answers: no server error, a
documented status, the documented content type, headers and body schema, and
a negative request always refused. A positive request refused as invalid input
must be refused for a reason no schema can state (a time in the future, a
field contradicting another, a file that is not a PDF): anything else is a
constraint the server enforces and the document does not say.

Path parameters are pinned to cases that exist (an id drawn at random would
only ever meet 404), so the requests reach the handlers."""

from collections.abc import Callable
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from models import Role, utcnow
from tests.conftest import PASSWORD, TEST_ACTOR, fresh_code
from views.api.contract import PREFIX
from workflows import reports

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
pytestmark = pytest.mark.slow  # about 15 s per engine
EXAMPLES = 6  # per operation and mode, each sent as every caller: about 900 requests per caller and engine
CALLERS = ["nobody", "agency", "intake", "reviewer", "approver", "auditor"]
# On PostgreSQL, only the callers whose requests reach the database the most ways (what
# an engine could answer differently: a number out of range, a string it will not
# store); the others differ from them by role alone, which SQLite covers.
ON_BOTH_ENGINES = {"agency", "intake", "reviewer"}
# Fields whose refusal depends on the moment, on another field or on stored data (an
# agency that exists, a file's content), which no JSON Schema can state.
BEYOND_SCHEMA = {
    "received_at", "request_type", "legal_process.expires_on", "legal_process.response_due", "date_range.to",
    "ndo.present", "ndo.ends_on", "agency_id", "file",
    "kind", "preservation_id",  # what the process type opens; a preservation of the same agency
    "legal_process.enforcing_state",  # only with an EPOC, and a State the regulation binds
    "phone_called", "note",  # a call-back: the agency's directory number; a note when it failed
}


def _bad_positive(response, case) -> None:
    """A request the document allows, refused as malformed: only for a reason
    beyond any schema."""
    if response.status_code == 422 and case.operation.method.upper() == "POST":
        body = response.json()
        if body["error"] == "invalid_input":
            unstated = set(body.get("fields", {})) - BEYOND_SCHEMA
            assert not unstated, f"refused what the document allows: {body}"


class Caller:
    """Credentials for one kind of caller, applied to each generated case."""

    def __init__(self, cookies: dict, headers: dict):
        self.cookies, self.headers = cookies, headers

    def apply(self, case) -> None:
        case.cookies = dict(self.cookies)
        case.headers = {k: v for k, v in (case.headers or {}).items()
                        if k.lower() not in ("authorization", "x-csrftoken")}
        case.headers.update(self.headers)


@pytest.fixture
def world(app, make_agency, make_case, make_user, new_client):
    """An agency with its token and three of its cases (received, in review,
    disclosed), and a way to become each caller."""
    issued = make_agency()
    cases = [make_case("received", agency=issued.agency), make_case("legal_review", agency=issued.agency),
             make_case("pending_approval", agency=issued.agency)]
    # One report with its national-security bands out, one with them still deferred.
    last = reports.Period.of(reports.Period.of(utcnow().date()).starts_on - timedelta(days=1))
    periods = [reports.Period.of(last.starts_on - timedelta(days=1)), last]
    for period in periods:
        reports.publish(period, TEST_ACTOR, None, utcnow())

    def become(name: str) -> Caller:
        if name == "nobody":
            return Caller({}, {})
        if name == "agency":
            return Caller({}, {"Authorization": f"Bearer {issued.token}"})
        user = make_user(Role(name))
        client = new_client()
        resp = client.post(PREFIX + "/session", json={"email": user.email, "password": PASSWORD,
                                                      "totp": fresh_code(user)})
        assert resp.status_code == 200, resp.get_json()
        cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
        return Caller({cookie.key: cookie.value}, {"X-CSRFToken": resp.get_json()["csrf_token"]})

    return {"ids": [c.id for c in cases], "periods": [str(p) for p in periods], "become": become}


def loaded(app, client, world):
    spec = client.get(PREFIX + "/openapi.json").get_json()
    pinned = {"case_id": world["ids"], "period": world["periods"]}
    for item in spec["paths"].values():
        for op in item.values():
            for param in op.get("parameters", []):
                if param["name"] in pinned:
                    param["schema"] = {**param["schema"], "enum": pinned[param["name"]]}
    schema = schemathesis.openapi.from_dict(spec)
    schema.app = app
    return schema


def run(operation, callers: list[tuple[str, Caller]], app, mode: GenerationMode, extra: Callable) -> None:
    """Each generated request goes out once as every caller: drawing a request from
    the document costs far more than serving it."""
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def check(data):
        case = data.draw(operation.as_strategy(generation_mode=mode))
        for who, caller in callers:
            caller.apply(case)
            response = case.call(app=app)
            try:
                case.validate_response(response, checks=CHECKS + ([negative_data_rejection]
                                                                  if mode is GenerationMode.NEGATIVE else []))
                extra(response, case)
            except Exception as exc:
                exc.add_note(f"as the caller {who!r}")
                raise

    check()


def test_the_server_keeps_to_its_document(app, client, world, engine_name):
    callers = [(who, world["become"](who)) for who in CALLERS
               if engine_name == "sqlite" or who in ON_BOTH_ENGINES]
    schema = loaded(app, client, world)
    operations = [result.ok() for result in schema.get_all_operations()]
    # Signing out last, so the callers' sessions serve every other operation first.
    operations.sort(key=lambda op: (op.path == "/session" and op.method == "delete", op.path, op.method))
    for operation in operations:
        run(operation, callers, app, GenerationMode.POSITIVE, _bad_positive)
        if operation.body or operation.path_parameters:
            run(operation, callers, app, GenerationMode.NEGATIVE, lambda response, case: None)
