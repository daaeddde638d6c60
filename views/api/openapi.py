"""The OpenAPI 3.1 description of /api/v1. Each endpoint's entry lives here."""

from models import Category, Channel, ProcessType, RejectReason, RequestType, State
from workflows.cases import Trigger
from workflows.legal import DefectCode, Severity

ERROR = {
    "type": "object",
    "required": ["error", "message", "reasons"],
    "properties": {
        "error": {"type": "string", "description": "machine-readable code"},
        "message": {"type": "string", "description": "what went wrong, for a person"},
        "reasons": {"type": "array", "items": {"type": "string"}},
    },
}


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _values(enum_cls) -> list[str]:
    return [m.value for m in enum_cls]


def _nullable(schema: dict) -> dict:
    return {"oneOf": [schema, {"type": "null"}]}


def _json(description: str, schema: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


DAY = {"type": "string", "format": "date"}
MOMENT = {"type": "string", "format": "date-time", "description": "UTC, ending in Z"}
CATEGORIES = {"type": "array", "items": {"type": "string", "enum": _values(Category)}}
OUTCOMES = ["content_disclosed", "non_content_disclosed", "no_data_found", "rejected",
            "resolved_by_customer", "withdrawn", "pending"]
PERSON = _nullable({"type": "object", "properties": {
    "id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"}}})

LEGAL_PROCESS = {
    "type": "object",
    "required": ["type"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "enum": _values(ProcessType)},
        "issuing_authority": {"type": "string", "maxLength": 200},
        "judicial": {"type": "boolean", "description": "issued or validated by a judge or court"},
        "issued_on": _nullable(DAY),
        "expires_on": _nullable(DAY),
        "signed": {"type": "boolean"},
        "case_number": {"type": "string", "maxLength": 100},
        "response_due": _nullable(DAY),
    },
}

DEMAND_PROPERTIES = {
    "received_at": {**MOMENT, "description": "when the demand arrived; not in the future"},
    "channel": {"type": "string", "enum": _values(Channel),
                "description": "how it arrived (staff default: email; agency API: api)"},
    "request_type": {"type": "string", "enum": _values(RequestType)},
    "legal_process": _ref("LegalProcess"),
    "identifiers": {"type": "array", "minItems": 1, "maxItems": 1000,
                    "items": {"type": "string", "maxLength": 254},
                    "description": "the accounts named (e-mail, username, account id)"},
    "categories": {**CATEGORIES, "minItems": 1},
    "date_range": {"type": "object", "additionalProperties": False,
                   "properties": {"from": _nullable(DAY), "to": _nullable(DAY)}},
    "ndo": {"type": "object", "additionalProperties": False, "properties": {
        "present": {"type": "boolean"}, "statute": {"type": "string"}, "ends_on": _nullable(DAY)}},
    "emergency_justification": _nullable({"type": "string", "maxLength": 4000}),
}
DEMAND_REQUIRED = ["received_at", "request_type", "legal_process", "identifiers", "categories"]

CASE_SCHEMAS = {
    "LegalProcess": LEGAL_PROCESS,
    "CaseRequest": {
        "type": "object",
        "description": "A demand as intake logs it. Any other key (state, version, ...) is refused "
                       "with 422, never applied.",
        "required": ["agency_id", *DEMAND_REQUIRED],
        "additionalProperties": False,
        "properties": {"agency_id": {"type": "integer", "minimum": 1}, **DEMAND_PROPERTIES},
    },
    "AgencyRequest": {
        "type": "object",
        "description": "A demand as an agency submits it: the CaseRequest without agency_id (the "
                       "token names the agency). agency_id, state or any other key is refused with 422.",
        "required": DEMAND_REQUIRED,
        "additionalProperties": False,
        "properties": DEMAND_PROPERTIES,
    },
    "Defect": {
        "type": "object",
        "properties": {
            "code": {"type": "string", "enum": _values(DefectCode)},
            "severity": {"type": "string", "enum": _values(Severity)},
            "message": {"type": "string"},
            "category": _nullable({"type": "string", "enum": _values(Category)}),
            "source": {"type": "string", "description": "the law or rule the defect comes from"},
        },
    },
    "LegalCheck": {
        "type": "object",
        "properties": {
            "sufficient": {"type": "boolean", "description": "no blocking defect"},
            "authorised_categories": CATEGORIES,
            "defects": {"type": "array", "items": _ref("Defect")},
        },
    },
    "Document": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"}, "filename": {"type": "string"},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "size": {"type": "integer"},
            "uploaded_at": MOMENT,
        },
    },
    "Transition": {
        "type": "object",
        "properties": {
            "seq": {"type": "integer", "description": "the case version this change produced"},
            "trigger": {"type": "string", "enum": _values(Trigger)},
            "from": {"type": "string", "enum": _values(State)},
            "to": {"type": "string", "enum": _values(State)},
            "actor": {"type": "string"}, "at": MOMENT, "note": _nullable({"type": "string"}),
            "data": {"type": "object"},
        },
    },
    "Case": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "reference": {"type": "string", "pattern": "^LE-[0-9]{4}-[0-9]{6}$"},
            "state": {"type": "string", "enum": _values(State)},
            "outcome": {"type": "string", "enum": OUTCOMES},
            "version": {"type": "integer", "description": "send it back as `version` to detect changes"},
            "agency": {"type": "object", "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"}, "country": {"type": "string"},
                "verified": {"type": "boolean"}}},
            **{k: v for k, v in DEMAND_PROPERTIES.items() if k != "legal_process"},
            "legal_process": _ref("LegalProcess"),
            "emergency": {"type": "boolean"},
            "legal_check": _ref("LegalCheck"),
            "available_triggers": {"type": "array", "items": {"type": "string", "enum": _values(Trigger)},
                                   "description": "what the caller may fire now"},
            "due_at": MOMENT,
            "due_status": _nullable({"type": "string", "enum": ["overdue", "due_soon"]}),
            "assignee": PERSON,
            "proposal": _nullable({"type": "object", "properties": {
                "categories": CATEGORIES, "proposed_by": PERSON}}),
            "disclosure": _nullable({"type": "object", "properties": {
                "categories": CATEGORIES, "identifiers": {"type": "array", "items": {"type": "string"}},
                "approved_by": PERSON, "approved_at": MOMENT,
                "emergency_justification": _nullable({"type": "string"}),
                "production": _nullable(_ref("Production"))}}),
            "document": _nullable(_ref("Document")),
            "transitions": {"type": "array", "items": _ref("Transition")},
        },
    },
    "Link": {
        "type": "object",
        "description": "A collection link as staff see it (never its token).",
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string", "enum": ["available", "collected", "expired", "replaced"]},
            "issued_at": MOMENT, "issued_by": {"type": "string"}, "note": _nullable({"type": "string"}),
            "expires_at": MOMENT, "collected_at": _nullable(MOMENT),
        },
    },
    "Production": {
        "type": "object",
        "description": "The production package: its hash, size and manifest (record counts and each "
                       "file's SHA-256), never a record.",
        "properties": {
            "sha256": {"type": "string"}, "size": {"type": "integer"}, "packaged_at": MOMENT,
            "manifest": {"type": "object"}, "downloads": {"type": "integer"},
            "links": {"type": "array", "items": _ref("Link")},
        },
    },
    "Move": {
        "type": "object",
        "required": ["trigger"],
        "additionalProperties": False,
        "description": "Fire one trigger. Any other key (state, ...) is refused with 422.",
        "properties": {
            "trigger": {"type": "string", "enum": _values(Trigger)},
            "note": {"type": "string", "maxLength": 4000,
                     "description": "required by agency_returns, challenge (the grounds), send_back, "
                                    "withdraw, and reject with reason other"},
            "reason": {"type": "string", "enum": _values(RejectReason), "description": "reject"},
            "categories": {**CATEGORIES, "description": "propose_disclosure (required), approve, "
                                                       "challenge_lost (narrowing only)"},
            "identifiers": {"type": "array", "items": {"type": "string"},
                            "description": "challenge_lost (narrowing only)"},
            "version": {"type": "integer", "description": "the version last read; 409 if it changed"},
        },
    },
    "AgencyCase": {
        "type": "object",
        "description": "An agency's view of its own request.",
        "properties": {
            "id": {"type": "integer"},
            "reference": {"type": "string"},
            "state": {"type": "string", "enum": _values(State)},
            "outcome": {"type": "string", "enum": OUTCOMES},
            "received_at": MOMENT,
            "due_at": MOMENT,
            "request_type": {"type": "string", "enum": _values(RequestType)},
            "legal_process": {"type": "object", "properties": {
                "type": {"type": "string", "enum": _values(ProcessType)}, "case_number": {"type": "string"}}},
            "identifiers": {"type": "array", "items": {"type": "string"}},
            "categories": CATEGORIES,
            "download_url": _nullable({"type": "string", "format": "uri",
                                       "description": "once disclosed, while its link is open (7 days): "
                                                      "a one-time link to the production, called with "
                                                      "the same bearer token"}),
            "production": _nullable({"type": "object", "properties": {
                "sha256": {"type": "string", "description": "SHA-256 of the ZIP, to check the download"},
                "size": {"type": "integer"}, "generated_at": MOMENT,
                "link_status": {"type": "string", "enum": ["available", "collected", "expired", "replaced"]},
                "link_expires_at": MOMENT}}),
        },
    },
}

CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
STAFF = [{"session": [], "csrf": []}]
STAFF_ERRORS = {
    "400": _error("Missing or wrong X-CSRFToken, or a body that is not JSON"),
    "401": _error("Not signed in (unauthenticated)"),
    "403": _error("Your role may not do this (forbidden)"),
}
AGENCY = [{"agencyToken": []}]
AGENCY_401 = _error("No, unknown or revoked bearer token (invalid_token); WWW-Authenticate: Bearer")

CASE_PATHS = {
    "/cases": {
        "post": {
            "summary": "Log a demand (intake)",
            "security": STAFF,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _ref("CaseRequest")}}},
            "responses": {
                "201": {**_json("Logged in state received; Location names the case", "Case"),
                        "headers": {"Location": {"schema": {"type": "string"}}}},
                **STAFF_ERRORS,
                "415": _error("Body is not application/json"),
                "422": _error("A field is wrong or unknown (reasons name the fields, e.g. agency_id, "
                              "received_at, identifiers, categories, legal_process.type, state); "
                              "nothing was stored"),
            },
        },
    },
    "/cases/{case_id}": {
        "get": {
            "summary": "Read a case (intake, reviewer, approver, auditor); the view is audited",
            "security": [{"session": []}],
            "parameters": [CASE_ID],
            "responses": {
                "200": _json("The case", "Case"),
                "401": STAFF_ERRORS["401"], "403": STAFF_ERRORS["403"],
                "404": _error("No such case"),
            },
        },
    },
    "/cases/{case_id}/document": {
        "post": {
            "summary": "Attach the legal process as a PDF (intake, reviewer, approver)",
            "security": STAFF,
            "parameters": [CASE_ID],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary",
                                        "description": "a PDF (checked by content), at most 20 MB"}},
            }}}},
            "responses": {
                "201": _json("Stored", "Document"),
                **STAFF_ERRORS,
                "404": _error("No such case"),
                "409": _error("The case is closed"),
                "413": _error("Larger than 20 MB (too_large)"),
                "422": _error("No `file` field, not a PDF, or a file name that is a path"),
            },
        },
    },
    "/cases/{case_id}/transitions": {
        "post": {
            "summary": "Fire a trigger (the transition table decides who may fire which)",
            "security": STAFF,
            "parameters": [CASE_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Move")}}},
            "responses": {
                "200": _json("The case after the transition", "Case"),
                "400": STAFF_ERRORS["400"],
                "401": _error("Not signed in (unauthenticated), or approving without a sign-in "
                              "in the last 10 minutes (reauth_required)"),
                "403": _error("Role may not fire this trigger (forbidden), or approving your own "
                              "proposal (own_proposal)"),
                "404": _error("No such case"),
                "409": _error("Illegal in this state (illegal_transition), stale `version` "
                              "(stale_version), or a concurrent change (concurrent_change)"),
                "415": _error("Body is not application/json"),
                "422": _error("Unknown field or trigger (invalid_input), or a guard failed "
                              "(guard_failed; reasons such as note_required, reason_required, "
                              "categories_required, category_not_authorised)"),
            },
        },
    },
    "/cases/{case_id}/production/link": {
        "post": {
            "summary": "Issue the agency a new collection link (reviewer, approver); the current one "
                       "stops working. Audited.",
            "security": STAFF,
            "parameters": [CASE_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["note"], "additionalProperties": False,
                "properties": {"note": {"type": "string", "description": "why a new link is issued"}}}}}},
            "responses": {
                "201": _json("The new link (its token goes to the agency only)", "Link"),
                **STAFF_ERRORS,
                "404": _error("No such case"),
                "409": _error("The case has no production (no_production)"),
                "415": _error("Body is not application/json"),
                "422": _error("No note, or an unknown field"),
            },
        },
    },
    "/transparency/{period}": {
        "get": {
            "summary": "A published transparency report (its newest revision), public",
            "parameters": [{"name": "period", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^[0-9]{4}-H[12]$"}}],
            "responses": {
                "200": {"description": "The report: period, revision, published_at, totals, by_country, "
                                       "by_process, enterprise, national_security, checkpoint (DESIGN 9)",
                        "content": {"application/json": {"schema": {"type": "object"}}}},
                "404": _error("Not a period (2026-H3, abc), or not published yet"),
            },
        },
    },
    "/agency/requests": {
        "post": {
            "summary": "Submit a demand (agency token)",
            "security": AGENCY,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _ref("AgencyRequest")}}},
            "responses": {
                "201": {**_json("Received; Location names the request", "AgencyCase"),
                        "headers": {"Location": {"schema": {"type": "string"}}}},
                "400": _error("Body is not JSON"),
                "401": AGENCY_401,
                "415": _error("Body is not application/json"),
                "422": _error("A field is wrong or not allowed (agency_id, state, ...); nothing was stored"),
            },
        },
    },
    "/agency/requests/{case_id}": {
        "get": {
            "summary": "Follow one of your agency's requests",
            "security": AGENCY,
            "parameters": [CASE_ID],
            "responses": {
                "200": _json("The request", "AgencyCase"),
                "401": AGENCY_401,
                "404": _error("No such request for your agency (the same answer for another agency's)"),
            },
        },
    },
    "/agency/requests/{case_id}/production/{token}": {
        "get": {
            "summary": "Collect the production, once: the download_url of the request",
            "security": AGENCY,
            "parameters": [CASE_ID, {"name": "token", "in": "path", "required": True,
                                     "schema": {"type": "string"}}],
            "responses": {
                "200": {"description": "The ZIP: manifest.json and the records; Repr-Digest carries its "
                                       "SHA-256. The download is audited.",
                        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
                        "headers": {"Repr-Digest": {"schema": {"type": "string"}}}},
                "401": AGENCY_401,
                "404": _error("No such link for your agency: unknown, altered, or another agency's"),
                "410": _error("Already collected (link_collected), expired (link_expired) or replaced "
                              "by a newer link (link_replaced); ask the provider for a new link"),
            },
        },
    },
}


def spec(server_url: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Due Process API",
            "version": "1",
            "description": (
                "Staff and agency access to Due Process. Staff sign in with POST /session "
                "and send the returned csrf_token as X-CSRFToken on every later call. Agencies "
                "send `Authorization: Bearer <token>` and see only their own requests. Every "
                "error is {error, message, reasons}."
            ),
        },
        "servers": [{"url": server_url}],
        "components": {
            "schemas": {
                "Error": ERROR,
                **CASE_SCHEMAS,
                "SessionRequest": {
                    "type": "object",
                    "required": ["email", "password"],
                    "properties": {
                        "email": {"type": "string", "format": "email"},
                        "password": {"type": "string"},
                        "totp": {"type": "string", "pattern": "^[0-9]{6}$",
                                 "description": "required for staff"},
                    },
                },
                "Session": {
                    "type": "object",
                    "properties": {
                        "csrf_token": {"type": "string"},
                        "user": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "integer"},
                                "email": {"type": "string"},
                                "role": {"type": "string", "enum": [
                                    "intake", "reviewer", "approver", "admin", "auditor",
                                    "customer",
                                ]},
                            },
                        },
                    },
                },
            },
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "dp_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken"},
                "agencyToken": {"type": "http", "scheme": "bearer",
                                "description": "the token from `flask agencies create`"},
            },
        },
        "paths": {
            "/session": {
                "post": {
                    "summary": "Sign in with e-mail, password and TOTP code",
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/SessionRequest"}}}},
                    "responses": {
                        "200": {"description": "Signed in; the session cookie is set",
                                "content": {"application/json": {
                                    "schema": {"$ref": "#/components/schemas/Session"}}}},
                        "400": _error("Body is not {email, password, totp}"),
                        "401": _error("Wrong e-mail, password or code (one message for all)"),
                        "403": _error("Staff user has not yet enrolled an authenticator"),
                        "415": _error("Body is not application/json"),
                        "429": _error("Too many failed attempts in the last minute"),
                    },
                },
                "delete": {
                    "summary": "Sign out (the server-side session is revoked)",
                    "security": [{"session": [], "csrf": []}],
                    "responses": {
                        "204": {"description": "Signed out"},
                        "400": _error("Missing or wrong X-CSRFToken"),
                        "401": _error("Not signed in"),
                    },
                },
            },
            **CASE_PATHS,
            "/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": {"description": "OK"}}},
            },
        },
    }
