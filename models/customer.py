"""Tenants of the cloud provider and the accounts they own."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import db, utcnow
from models.user import enum_column


class CustomerKind(StrEnum):
    ENTERPRISE = "enterprise"
    CONSUMER = "consumer"


class AccountKind(StrEnum):
    EMAIL = "email"
    USERNAME = "username"
    ACCOUNT_ID = "account_id"


class Customer(db.Model):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[CustomerKind] = mapped_column(enum_column(CustomerKind, "customer_kind"))
    country: Mapped[str] = mapped_column(String(2))
    notice_emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    accounts = relationship("Account", back_populates="customer", order_by="Account.id")
    users = relationship("User", back_populates="customer")


class Account(db.Model):
    """An identifier an agency may name in a demand: e-mail, username or account id."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    identifier: Mapped[str] = mapped_column(String(254), unique=True)
    kind: Mapped[AccountKind] = mapped_column(enum_column(AccountKind, "account_kind"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer = relationship("Customer", back_populates="accounts")
