from models import Role
from tests.conftest import sign_in


def test_staff_signs_in_with_password_and_code(client, make_user):
    user = make_user(Role.REVIEWER)
    resp = sign_in(client, user)
    assert resp.status_code == 302 and resp.headers["Location"] == "/home"
    assert "Legal review" in client.get("/home").get_data(as_text=True)
