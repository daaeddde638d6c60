"""Rows read to be changed: locked for the rest of the transaction, and read fresh."""

from sqlalchemy import select

from models import db
from workflows.errors import NotFound


def locked(model, row_id: int, missing: str):
    """The row, locked until the transaction ends (FOR UPDATE on PostgreSQL; a SQLite
    transaction holds the write lock already) and re-read, not taken from the
    session's cache; NotFound(missing) if there is none."""
    row = db.session.execute(
        select(model).where(model.id == row_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(missing)
    return row
