"""Production files on disk while they are unfinished: a package is locked (flock)
by its writer from its first byte until its transaction ends, and whatever no
live writer holds (a half-written .part, a sealed package no committed
disclosure names) is swept, whatever its age. The kernel frees a lock when its
process dies, so a killed worker's files go at the next sweep."""

import fcntl
import os
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from models import Disclosure, db


def new_part(place: Path) -> tuple[int, str, int]:
    """A new .part file in `place`, locked: its descriptor, its path, and a second
    descriptor holding the same lock past the writing (close it when the
    transaction ends). The caller checks the path still names the file: a sweep
    may take it in the instant before the lock."""
    fd, part = tempfile.mkstemp(prefix=".production-", suffix=".part", dir=place)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd, part, os.dup(fd)


def _claim(path: Path) -> int | None:
    """An open descriptor on `path` holding its exclusive lock, or None when a live
    writer holds it (or the file is gone). The lock is the kernel's (flock): it
    lasts while its writer's process does, so a crash frees it at once."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def sweep(folder: Path, *, in_transaction: bool = False) -> int:
    """Remove what a crashed or killed approval left behind, whatever its age: a
    half-written .part file, or a sealed package no committed disclosure names.
    A file whose writer is still at work is locked by it and left alone; a
    package is locked from its first byte until its transaction ends. Returns how
    many files went. Without the database (not yet created), .part files only.
    `in_transaction`: called inside the caller's transaction (an approval about to
    write its package), which it neither commits nor rolls back."""
    if not folder.is_dir():
        return 0
    found = [p for p in folder.iterdir() if p.suffix in (".part", ".sealed")]
    if not found:
        return 0
    query = select(Disclosure.package_name).where(
        Disclosure.package_name.in_([p.name for p in found if p.suffix == ".sealed"]))
    if in_transaction:
        return _remove_unheld(found, set(db.session.scalars(query)))
    try:
        named = set(db.session.scalars(query))
        db.session.commit()  # no transaction held while the files are handled
    except SQLAlchemyError:
        db.session.rollback()
        found = [p for p in found if p.suffix == ".part"]  # never named by anything
        named = set()
    return _remove_unheld(found, named)


def _remove_unheld(found: list[Path], named: set[str]) -> int:
    removed = 0
    for path in found:
        if path.name in named:
            continue
        fd = _claim(path)
        if fd is None:
            continue
        try:
            path.unlink(missing_ok=True)
            removed += 1
        finally:
            os.close(fd)
    return removed
