"""The OpenAPI 3.1 description of /api/v1. Each endpoint's entry lives here."""

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


def spec(server_url: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Due Process API",
            "version": "1",
            "description": (
                "Staff and agency access to Due Process. Staff sign in with POST /session "
                "and send the returned csrf_token as X-CSRFToken on every later call."
            ),
        },
        "servers": [{"url": server_url}],
        "components": {
            "schemas": {
                "Error": ERROR,
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
            "/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": {"description": "OK"}}},
            },
        },
    }
