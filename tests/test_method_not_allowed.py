"""A method a resource does not take gets 405 with Allow (RFC 9110 section
15.5.6), in the API's JSON error shape and on pages alike."""

import pytest


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("delete", "/api/v1/openapi.json", {"GET", "HEAD", "OPTIONS"}),
    ("put", "/api/v1/session", {"POST", "DELETE", "OPTIONS"}),
    ("post", "/transparency", {"GET", "HEAD", "OPTIONS"}),
])
def test_405_names_the_allowed_methods(client, method, path, allowed):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
    if path.startswith("/api/"):
        assert response.get_json()["error"] == "method_not_allowed"
