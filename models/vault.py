"""The vault: the customer data itself, one row per record, per account and
category. Demo data only; a real deployment plugs in a connector to its stores.

Only workflows.disclosure imports this module (an import-linter contract and a
test say so): nothing else in the application can name the table."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from models.base import db
from models.terms import Category
from models.user import enum_column


class CustomerRecord(db.Model):
    """One record: a subscriber profile, a sign-in, a message's metadata, a stored
    message or file. `data` holds its fields; a stored file's bytes are in `blob`."""

    __tablename__ = "customer_records"
    __table_args__ = (
        Index("ix_customer_records_scope", "account_id", "category", "recorded_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    category: Mapped[Category] = mapped_column(enum_column(Category, "record_category"))
    kind: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime | None]  # None: not tied to a moment (a profile)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    blob: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    size: Mapped[int] = mapped_column(default=0)
    # Set when the customer deleted the record while a preservation held it: it is
    # gone from the service and kept only for the hold (and purged when the last
    # hold on it ends).
    deleted_at: Mapped[datetime | None]


class VaultHold(db.Model):
    """A preservation's hold on one record, taken when the case was preserved:
    the record's digest then, so a later production can show it is unchanged."""

    __tablename__ = "vault_holds"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("customer_records.id"), primary_key=True, index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    held_at: Mapped[datetime]
