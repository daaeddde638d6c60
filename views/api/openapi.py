"""The OpenAPI 3.1 description of /api/v1: what the document says about the API
as a whole. Each operation is declared beside its view (views.api.contract)."""

from views.api import contract

BASE = {
    "openapi": "3.1.0",
    "info": {
        "title": "Due Process API",
        "version": "1",
        "description": (
            "Staff and agency access to Due Process. Staff sign in with POST /session "
            "and send the returned csrf_token as X-CSRFToken on every later call that changes "
            "something. Agencies send `Authorization: Bearer <token>` and see only their own "
            "requests. Every error is {error, message, reasons}, with `fields` naming each bad "
            "field of a refused body."
        ),
    },
    "components": {
        "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "dp_session",
                        "description": "the cookie POST /session sets"},
            "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken",
                     "description": "the csrf_token POST /session returned"},
            "agencyToken": {"type": "http", "scheme": "bearer",
                            "description": "the agency's token from `flask agencies create`"},
        },
    },
}


def document(app, server_url: str) -> dict:
    return contract.document(app, server_url, BASE)
