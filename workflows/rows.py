"""Rows read to be changed: locked for the rest of the transaction, and read fresh."""

from sqlalchemy import bindparam, select

from models import db
from workflows.errors import NotFound


def locking(model, *options):
    """The statement locked() runs for `model`: the row by its id (the parameter
    "row_id"), locked (FOR UPDATE on PostgreSQL; a SQLite transaction holds the
    write lock already) and re-read, not taken from the session's cache. `options`
    load related rows in the same statement (joinedload): only the row itself is
    locked. Build it once where a row is locked often."""
    return (select(model).where(model.id == bindparam("row_id")).options(*options)
            .with_for_update(of=model).execution_options(populate_existing=True))


def locked(model, row_id: int, missing: str, statement=None):
    """The row, locked until the transaction ends and read fresh (see locking());
    NotFound(missing) if there is none."""
    statement = locking(model) if statement is None else statement
    row = db.session.execute(statement, {"row_id": row_id}).scalar_one_or_none()
    if row is None:
        raise NotFound(missing)
    return row
