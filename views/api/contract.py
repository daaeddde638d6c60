"""Each API operation declared once, beside its view: the body it takes (a model
that validates it), the bodies it answers with (models that serialise them), and
/api/v1/openapi.json built from those declarations, the URL map and each view's
access policy, so the document cannot say one thing while the server does another.

    @bp.post("/cases/<int(max=...):case_id>/transitions")
    @allow(Role.REVIEWER)
    @operation("Fire a trigger", body=Move, replies={200: Reply("The case", Case), 409: "..."})
    def case_transition(case_id, body): ...
"""

import re
from dataclasses import dataclass, field
from functools import wraps

from flask import jsonify, request
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from werkzeug.exceptions import BadRequest

from views.api.errors import Error
from views.errors import error_response
from workflows.schema import Body, validate

PREFIX = "/api/v1"
REF = "#/components/schemas/{model}"
MEDIA_JSON = "application/json"


@dataclass(frozen=True)
class Reply:
    """One documented answer: an Error body unless `model` or `media` says otherwise."""

    description: str
    model: type[BaseModel] | None = None
    media: str = MEDIA_JSON
    headers: tuple[str, ...] = ()
    schema: dict | None = None  # for a body no model describes (a file)


@dataclass(frozen=True)
class Operation:
    summary: str
    body: type[Body] | None = None
    upload: dict | None = None  # a multipart/form-data schema
    replies: dict[int, Reply] = field(default_factory=dict)
    params: dict[str, dict] = field(default_factory=dict)  # path parameter -> schema, where not from the rule
    query: dict[str, dict] = field(default_factory=dict)  # optional query parameter -> schema


def _reply(value: Reply | str) -> Reply:
    """A refusal may be declared by its description alone: its body is an Error."""
    return value if isinstance(value, Reply) else Reply(value)


def operation(summary: str, *, body: type[Body] | None = None, upload: dict | None = None,
              replies: dict | None = None, params: dict | None = None, query: dict | None = None):
    """Declare an API operation. With `body`, the request must be application/json
    (415), parse (400) and validate against the model (422 naming each field); the
    view receives the model as `body`."""
    declared = Operation(summary, body, upload, {code: _reply(v) for code, v in (replies or {}).items()},
                         params or {}, query or {})

    def decorator(view):
        if body is None:
            view.api_operation = declared
            return view

        @wraps(view)
        def wrapper(*args, **kwargs):
            refused = _json_refusal()
            if refused is not None:
                return refused
            return view(*args, body=validate(body, request.get_json()), **kwargs)

        wrapper.api_operation = declared
        return wrapper

    return decorator


def _json_refusal():
    """JSON bodies only (which also keeps cross-site HTML forms out), parsed once:
    text that is not JSON, not UTF-8 or nested too deep is a 400, never a 500."""
    if not request.is_json:
        return error_response(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        request.get_json()
    except (BadRequest, RecursionError):
        return error_response(400, "invalid_body", "The body is not valid JSON: send UTF-8 text nested at "
                                                   "most a few hundred levels deep.")
    return None


def reply(model: BaseModel, status: int = 200, headers: dict | None = None):
    """A response body from its model, as the document describes it."""
    return jsonify(model.model_dump(mode="json", by_alias=True)), status, headers or {}


# ---- the document -------------------------------------------------------------------------

CONVERTER = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")


def _path(rule: str, declared: dict[str, dict]) -> tuple[str, list[dict]]:
    """The OpenAPI path and its parameters from a werkzeug rule."""
    params = []
    for match in CONVERTER.finditer(rule):
        name = match["name"]
        schema = declared.get(name)
        if schema is None and match["converter"] == "int":
            maximum = re.search(r"max=(\d+)", match["args"] or "")
            schema = {"type": "integer", "minimum": 1, **({"maximum": int(maximum[1])} if maximum else {})}
        params.append({"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}})
    return CONVERTER.sub(lambda m: "{" + m["name"] + "}", rule)[len(PREFIX):], params


def _security(policy, method: str) -> tuple[list, dict[int, Reply]]:
    """Who may call, from the view's access policy, and the refusals that follow."""
    if policy.agency:
        return [{"agencyToken": []}], {401: Reply(
            "No, unknown or revoked bearer token (invalid_token); WWW-Authenticate: Bearer")}
    if policy.is_public:
        return [], {}
    roles = ", ".join(sorted(role.value for role in policy.roles))
    refusals = {401: Reply("Not signed in (unauthenticated)"),
                403: Reply(f"Your role may not do this (forbidden; allowed: {roles}), or your password "
                           "must be changed first (password_change_required)")}
    if method == "GET":
        return [{"session": []}], refusals
    return [{"session": [], "csrf": []}], {400: Reply("Missing or wrong X-CSRFToken (csrf_failed)"),
                                           **refusals}


def _content(reply_: Reply, refs: dict) -> dict:
    schema = reply_.schema if reply_.schema is not None else refs[(reply_.model or Error, "serialization")]
    return {reply_.media: {"schema": schema}}


def _describe(op: Operation, method: str, params: list, policy, refs: dict) -> dict:
    security, refusals = _security(policy, method)
    replies = dict(refusals)
    entry: dict = {"summary": op.summary, "operationId": None, "security": security}
    if params:
        entry["parameters"] = params
    if op.body is not None:
        entry["requestBody"] = {"required": True, "content": {
            MEDIA_JSON: {"schema": refs[(op.body, "validation")]}}}
        csrf = replies.get(400)
        replies[400] = Reply((csrf.description + ", or " if csrf else "") + "a body that is not JSON "
                             "(invalid_body)")
        replies[415] = Reply("The body is not application/json (unsupported_media_type)")
        replies[422] = Reply("A field is missing, malformed or not a field of this body (invalid_input; "
                             "reasons and fields name each one); nothing was stored")
    if op.upload is not None:
        entry["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": op.upload}}}
    replies.update(op.replies)
    entry["responses"] = {}
    for status in sorted(replies):
        reply_ = replies[status]
        answer: dict = {"description": reply_.description}
        if status != 204 and (reply_.model is not None or reply_.schema is not None or status >= 400):
            answer["content"] = _content(reply_, refs)
        if reply_.headers:
            answer["headers"] = {name: {"schema": {"type": "string"}} for name in reply_.headers}
        entry["responses"][str(status)] = answer
    return entry


def declared(app) -> list[tuple[str, str, str, Operation, object]]:
    """(path rule, method, endpoint, operation, policy) for every declared operation."""
    found = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        op = getattr(view, "api_operation", None)
        if op is None:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.rule, method, rule.endpoint, op, view.access_policy))
    return found


def document(app, server_url: str, base: dict) -> dict:
    """The OpenAPI 3.1 document: `base` (title, security schemes) with a path for
    every declared operation and a schema for every model they name."""
    operations = declared(app)
    models = {(Error, "serialization")}
    for _, _, _, op, _ in operations:
        if op.body is not None:
            models.add((op.body, "validation"))
        models.update((r.model, "serialization") for r in op.replies.values() if r.model is not None)
    keyed, top = models_json_schema(sorted(models, key=lambda m: (m[0].__name__, m[1])), ref_template=REF)
    spec = {**base, "servers": [{"url": server_url}]}
    spec["components"] = {**base.get("components", {})}
    spec["components"]["schemas"] = {**spec["components"].get("schemas", {}), **top.get("$defs", {})}
    paths = dict(base.get("paths", {}))
    for rule, method, endpoint, op, policy in operations:
        path, params = _path(rule, op.params)
        params += [{"name": name, "in": "query", "required": False, "schema": schema}
                   for name, schema in op.query.items()]
        entry = _describe(op, method, params, policy, keyed)
        entry["operationId"] = endpoint.replace(".", "_")
        paths.setdefault(path, {})[method.lower()] = entry
    spec["paths"] = paths
    return spec
