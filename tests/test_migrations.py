"""The migrations are the schema: on each engine they reach head and match the models."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import upgrade

from app import MIGRATIONS_DIR
from models import GENESIS_HASH, AuditHead, db


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_upgrade_is_idempotent_and_stamps_head(app):
    upgrade()
    upgrade()
    with db.engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    assert versions == [ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()]


def test_the_chain_starts_at_the_genesis_head(app):
    head = db.session.get(AuditHead, 1)
    assert (head.seq, head.hash) == (0, GENESIS_HASH)


@pytest.mark.sqlite_only
def test_sqlite_connections_enforce_foreign_keys_and_use_wal(app):
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_totp_secrets_are_sealed_at_rest(app, make_user):
    """A copy of the database alone does not give away anyone's second factor."""
    user = make_user()
    stored = db.session.execute(
        sa.text("SELECT totp_secret_sealed FROM users WHERE id = :id"), {"id": user.id}
    ).scalar_one()
    assert user.totp_secret and user.totp_secret not in stored
    assert app.extensions["field_cipher"].decrypt(stored.encode()).decode() == user.totp_secret
