"""Due Process: the application factory."""

import contextlib
import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from flask import Flask
from flask_migrate import Migrate

ROOT = Path(__file__).resolve().parent
MIGRATIONS_DIR = ROOT / "migrations"

DEFAULTS = {
    "ENVIRONMENT": "production",
    "SQLALCHEMY_DATABASE_URI": None,  # set in create_app: SQLite in instance/
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "PASSWORD_HASH_PROFILE": "rfc9106",
    "SESSION_COOKIE_NAME": "dp_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": True,
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    "WTF_CSRF_SSL_STRICT": True,
    "MAX_CONTENT_LENGTH": 21 * 1024 * 1024,
    "DEMO": False,
    "STAFF_DOMAINS": "",  # the provider's e-mail domains: staff addresses must be on one
    "PROVIDER_NAME": "The service provider",  # how the provider names itself on the answers it signs
    "LEGAL_CONTACT": "",  # where customers write about a notice (an address or a line of text)
}

migrate = Migrate()


def _database_url(raw: str) -> str:
    """Accept the URL forms hosting platforms hand out; always speak psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix):]
    return raw


def _instance_secret(instance: Path, name: str, make) -> str:
    """A secret generated once into instance/ (mode 0600) when not configured.

    Several workers may start at once on a fresh folder. Each writes a whole secret
    to a file of its own and links it into place: the first link wins, the others
    use the winner's, and nobody ever reads a file still being written."""
    path = instance / name
    if not path.exists():
        fd, draft = tempfile.mkstemp(prefix=f".{name}.", dir=instance)  # mode 0600
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(make())
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):  # another worker was first
                os.link(draft, path)
        finally:
            os.unlink(draft)
    return path.read_text().strip()


def create_app(test_config: dict | None = None) -> Flask:
    test_config = dict(test_config or {})
    instance_path = test_config.pop("INSTANCE_PATH", None) or os.environ.get("DUE_PROCESS_INSTANCE")
    app = Flask(
        __name__, instance_relative_config=True,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
    )
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)

    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("DUE_PROCESS")
    for name in ("SECRET_KEY", "DATABASE_URL", "MAIL_SERVER", "MAIL_PORT", "MAIL_USE_TLS", "MAIL_USE_SSL",
                 "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_FROM", "PUBLIC_URL"):
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    if app.config.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = _database_url(app.config["DATABASE_URL"])
    # What the caller passes wins over the files and the environment: a test run
    # names its own database and never touches the one exported for the app.
    app.config.update(test_config)
    if test_config.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = _database_url(test_config["DATABASE_URL"])
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'due_process.sqlite3'}"
    if (instance / "DEMO").exists() and "DEMO" not in test_config:
        # Made by `flask --app app demo`: served over plain http on 127.0.0.1.
        app.config.update(DEMO=True, SESSION_COOKIE_SECURE=False)
        app.config["STAFF_DOMAINS"] = app.config["STAFF_DOMAINS"] or "demo.example"
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance, "secret_key", lambda: secrets.token_hex(32))
    if not app.config.get("FIELD_KEYS"):
        # Seals secrets stored in the database (TOTP seeds); newest key first, older
        # keys after a comma still open what they sealed, for rotation.
        app.config["FIELD_KEYS"] = _instance_secret(
            instance, "field_key", lambda: Fernet.generate_key().decode()
        )
    if not app.config.get("PACKAGE_KEYS"):
        # Seals production packages at rest (never stored in the database); newest
        # key first, older keys after a comma still open what they sealed.
        from workflows.disclosure import new_package_key

        app.config["PACKAGE_KEYS"] = _instance_secret(instance, "package_key", new_package_key)
    if not app.config.get("CHECKPOINT_KEY"):
        # Signs the audit checkpoints of published transparency reports (Ed25519);
        # its public half is published beside the reports.
        from workflows.reports import new_key_pem

        app.config["CHECKPOINT_KEY"] = _instance_secret(instance, "checkpoint_key", new_key_pem)
    if app.debug and app.config["ENVIRONMENT"] != "development":
        raise RuntimeError("Debug mode is for development only (set DUE_PROCESS_ENVIRONMENT).")

    from models import db
    from models.base import configure_engine, init_field_cipher
    from views import init_app as init_views
    from workflows import disclosure, identity, legal, reports

    init_field_cipher(app)
    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    identity.init_passwords(app)
    legal.init_app(app)  # a malformed rules file stops start-up here
    disclosure.init_app(app)  # so does a malformed package key
    with app.app_context():  # what a killed approval left behind, unless its writer still lives
        disclosure.sweep_leftovers(disclosure.production_folder(create=False))
    reports.init_app(app, app.config["CHECKPOINT_KEY"])
    init_views(app)
    return app
