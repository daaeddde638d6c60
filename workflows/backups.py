"""Backups that restore: a copy of the whole database, taken while the app runs,
and its restore into an empty database. SQLite uses its online backup API (a
consistent copy while others write); PostgreSQL uses pg_dump and pg_restore in
their custom format (a consistent snapshot, restored in one transaction).

Each backup and each restore is an audit event: the backup's is the last event
in the copy, so a restored log says where it came from, and the restore's is the
first event after it."""

import hashlib
import os
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from models import AuditAction, AuditHead, db
from workflows import audit
from workflows.audit import Actor
from workflows.errors import InvalidInput

PG_TIMEOUT = 3600  # seconds a pg_dump or pg_restore may take


@dataclass(frozen=True)
class Copy:
    path: Path
    size: int
    sha256: str
    audit_seq: int  # the last event in the copy


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _libpq(url: sa.engine.URL) -> tuple[str, dict]:
    """A connection string pg_dump and pg_restore read, and the environment that
    carries the password (not on the command line, where `ps` would show it)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _run(command: list[str], env: dict) -> None:
    try:
        # A fixed program and options; the paths and the database come from the operator.
        subprocess.run(command, env=env, check=True, capture_output=True, text=True,  # noqa: S603
                       timeout=PG_TIMEOUT)
    except FileNotFoundError:
        raise InvalidInput(f"{command[0]} is not installed here (Debian: apt-get install postgresql-client).",
                           reasons=["tool"]) from None
    except subprocess.CalledProcessError as exc:
        raise InvalidInput(f"{command[0]} failed: {exc.stderr.strip()[-2000:]}", reasons=["tool"]) from None


def create(target: Path, actor: Actor, now: datetime) -> Copy:
    """Write a backup of the app's database to `target`, a new file. The backup's
    audit event is committed first, so the copy holds it."""
    target = Path(target)
    if target.exists():
        raise InvalidInput(f"{target} exists: a backup goes to a new file.", reasons=["path"])
    if not target.parent.is_dir():
        raise InvalidInput(f"There is no folder {target.parent}.", reasons=["path"])
    url = db.engine.url
    event = audit.record(AuditAction.BACKUP_CREATED, actor, now=now,
                         data={"file": target.name, "engine": url.get_backend_name()})
    db.session.commit()
    partial = target.with_name(target.name + ".partial")
    try:
        if url.get_backend_name() == "sqlite":
            with closing(sqlite3.connect(url.database)) as source, closing(sqlite3.connect(partial)) as copy:
                source.backup(copy)
        else:
            dsn, env = _libpq(url)
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(partial),
                  "--dbname", dsn], env)
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)
    return Copy(target, target.stat().st_size, _sha256(target), event.seq)


def restore(source: Path, actor: Actor, now: datetime) -> Copy:
    """Restore a backup into the app's database, which must be empty (no tables:
    a new database, or a SQLite file not yet made). Then records the restore."""
    source = Path(source)
    if not source.is_file():
        raise InvalidInput(f"There is no backup at {source}.", reasons=["path"])
    url = db.engine.url
    db.session.remove()
    db.engine.dispose()
    tables = sa.inspect(db.engine).get_table_names()
    db.engine.dispose()
    if tables:
        raise InvalidInput(f"The database is not empty ({len(tables)} tables): restore into a new one.",
                           reasons=["database"])
    if url.get_backend_name() == "sqlite":
        with closing(sqlite3.connect(source)) as copy, closing(sqlite3.connect(url.database)) as database:
            copy.backup(database)
    else:
        dsn, env = _libpq(url)
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
              "--dbname", dsn, str(source)], env)
    restored_at = db.session.scalar(sa.select(AuditHead.seq))
    event = audit.record(AuditAction.BACKUP_RESTORED, actor, now=now,
                         data={"file": source.name, "sha256": _sha256(source), "restored_head": restored_at})
    db.session.commit()
    return Copy(source, source.stat().st_size, _sha256(source), event.seq)
