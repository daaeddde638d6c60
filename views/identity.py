"""The signed-in principal: a user plus the server-side session that carries them."""

from flask import flash, request, session
from flask_login import LoginManager, UserMixin, current_user

from models import User, UserSession, db, utcnow
from workflows import identity
from workflows.audit import Actor
from workflows.cases import Caller

login_manager = LoginManager()
login_manager.session_protection = None  # sessions are server-side; see workflows.identity.auth


class Principal(UserMixin):
    def __init__(self, user: User, session: UserSession, token: str):
        self.user = user
        self.session = session
        self.token = token

    def get_id(self) -> str:
        # Flask-Login keeps this in the signed cookie; it names the server-side
        # session, not the user, so revoking the session signs the cookie out.
        return self.token

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def role(self):
        return self.user.role

    @property
    def must_change_password(self) -> bool:
        return self.user.must_change_password


@login_manager.user_loader
def _load(token: str) -> Principal | None:
    record = identity.resume_session(token, utcnow())
    db.session.commit()  # an expiry or a last-seen stamp
    if record is None:
        session.pop("_user_id", None)  # say it once, not on every request
        if not request.path.startswith("/api/"):
            # Flashed here, not on the sign-in page: the request that finds the
            # session ended is usually the one redirected there.
            flash("Your session ended. Sign in again.", "info")
        return None
    return Principal(record.user, record, token)


def client_ip() -> str:
    # Bounded: with TRUSTED_PROXIES the address comes from a header.
    return (request.remote_addr or "unknown")[:64]


def actor() -> Actor:
    """The audit actor for the current request."""
    if current_user.is_authenticated:
        return Actor(current_user.email, current_user.id, client_ip())
    return Actor("anonymous", None, client_ip())


def init_app(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = None


def caller():
    """The signed-in staff member as the state machine sees them."""
    return Caller(current_user.id, current_user.role, current_user.session.authenticated_at, actor())
