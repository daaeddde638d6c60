"""The SQLAlchemy handle every model and workflow shares."""

from datetime import UTC, datetime

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, String, event
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.types import TypeDecorator

# Named constraints keep Alembic batch migrations on SQLite deterministic.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timestamps go in as UTC and come out aware, on SQLite (which keeps no
    zone) as on PostgreSQL (timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Sealed(TypeDecorator):
    """A string stored encrypted (Fernet: AES-128-CBC with HMAC-SHA256) under a key
    kept outside the database, so a copy of the database alone does not reveal it."""

    impl = String(255)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return current_app.extensions["field_cipher"].encrypt(value.encode()).decode()

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return current_app.extensions["field_cipher"].decrypt(value.encode()).decode()


def init_field_cipher(app) -> None:
    keys = [k.strip() for k in str(app.config["FIELD_KEYS"]).split(",") if k.strip()]
    app.extensions["field_cipher"] = MultiFernet([Fernet(k) for k in keys])


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime},
    )


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    """Aware UTC now; every stored timestamp is UTC."""
    return datetime.now(UTC)


def configure_engine(engine) -> None:
    """Engine-level settings the schema and the workflows rely on."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA busy_timeout = 15000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        # SQLite has one writer. Taking the write lock when a transaction begins
        # (rather than at its first write) means a transaction never fails half
        # way with "database is locked": it waits its turn, then runs whole.
        # Read-only snapshots (see snapshot()) take no lock: WAL gives them a
        # consistent view while writers go on.
        if connection.get_execution_options().get(SNAPSHOT_OPTION):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


SNAPSHOT_OPTION = "due_process_snapshot"


def snapshot(engine):
    """A read-only connection that sees one consistent state of the database for
    its whole transaction, without blocking writers."""
    if engine.dialect.name == "postgresql":
        return engine.connect().execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
    return engine.connect().execution_options(**{SNAPSHOT_OPTION: True})
