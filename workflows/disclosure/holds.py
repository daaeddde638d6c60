"""Preservation holds on the vault (DESIGN 11.2).

Preserving a case takes a hold on the records in its scope as they stand, with
each record's digest at that moment. A customer who deletes their data
(delete_account) removes every live record, but a held record is only marked
deleted and kept until its last hold ends; then it is purged. A production demand
that follows a preservation is produced from the held records as well as the
live ones (door.py reads them through holds_scope). Staff see counts, never
records."""

import hashlib
import json
from datetime import datetime

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from models import Account, AuditAction, Category, db
from models.vault import CustomerRecord, VaultHold
from workflows import audit
from workflows.audit import Actor
from workflows.disclosure.scope import in_scope
from workflows.errors import InvalidInput, NotFound
from workflows.text import iso_utc

ROWS_PER_FETCH = 500


def record_digest(kind: str, recorded_at: str | None, data: dict, blob: bytes | None) -> str:
    """SHA-256 of one record as it stands: the canonical JSON (sorted keys, no
    spaces) of its kind, time, fields and, for a stored file, the SHA-256 of its
    bytes. A production package shows this digest for each held record."""
    body = {"kind": kind, "recorded_at": recorded_at, "data": data,
            "file_sha256": hashlib.sha256(blob).hexdigest() if blob is not None else None}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest()


def hold(case_id: int, account_ids: list[int], categories: list[Category], date_from, date_to,
         now: datetime) -> dict[str, int]:
    """Hold the live records of these accounts and categories in the case's date
    range, in the caller's transaction; returns how many per category."""
    counts = {c.value: 0 for c in categories}
    rows = []
    for account_id in sorted(account_ids):
        for category in categories:
            stmt = (select(CustomerRecord.id, CustomerRecord.kind, CustomerRecord.recorded_at,
                           CustomerRecord.data, CustomerRecord.blob.is_not(None).label("has_blob"))
                    .where(in_scope(account_id, category, date_from, date_to),
                           CustomerRecord.deleted_at.is_(None))
                    .order_by(CustomerRecord.id).execution_options(yield_per=ROWS_PER_FETCH))
            for row in db.session.execute(stmt):
                blob = db.session.scalar(select(CustomerRecord.blob).where(CustomerRecord.id == row.id)) \
                    if row.has_blob else None
                rows.append({"case_id": case_id, "record_id": row.id, "held_at": now,
                             "sha256": record_digest(row.kind, iso_utc(row.recorded_at), row.data, blob)})
                counts[category.value] += 1
                if len(rows) >= ROWS_PER_FETCH:
                    db.session.execute(VaultHold.__table__.insert(), rows)
                    rows = []
    if rows:
        db.session.execute(VaultHold.__table__.insert(), rows)
    return counts


def release(case_id: int) -> dict[str, int]:
    """End a preservation's hold; purge what the customer deleted and no other
    hold keeps. Returns how many holds ended and how many records were purged."""
    released = db.session.execute(delete(VaultHold).where(VaultHold.case_id == case_id)).rowcount
    # A record is marked deleted only while held, so these are the ones this hold kept.
    purged = db.session.execute(delete(CustomerRecord).where(
        CustomerRecord.deleted_at.is_not(None), ~exists().where(VaultHold.record_id == CustomerRecord.id),
    )).rowcount
    return {"released": released, "purged": purged}


def held_counts(case_id: int) -> dict:
    """What a preservation holds, by category, and how many of those records the
    customer has deleted since (kept only for the hold). Counts, never records."""
    rows = db.session.execute(
        select(CustomerRecord.category, func.count(), func.count(CustomerRecord.deleted_at))
        .join(VaultHold, VaultHold.record_id == CustomerRecord.id)
        .where(VaultHold.case_id == case_id).group_by(CustomerRecord.category)
    ).all()
    found = {Category(c): int(n) for c, n, _ in rows}
    by_category = {c.value: found[c] for c in Category if c in found}
    return {"records": sum(by_category.values()), "by_category": by_category,
            "deleted_by_customer": sum(int(d) for _, _, d in rows)}


def holds_scope(preservation_id: int | None):
    """The clause a production's read adds: live records, or those this
    preservation holds (even if the customer has deleted them since)."""
    live = CustomerRecord.deleted_at.is_(None)
    if preservation_id is None:
        return live
    held = aliased(VaultHold)  # the production's read joins VaultHold itself (for the digests)
    return or_(live, exists().where(held.case_id == preservation_id, held.record_id == CustomerRecord.id))


def delete_account(identifier: str, actor: Actor, now: datetime) -> dict[str, int]:
    """The customer deletes their data in the service: every live record of the
    account goes, except those a preservation holds, which are marked deleted and
    kept until the hold ends. Commits; audited with the counts."""
    identifier = (identifier or "").strip().lower()
    if not identifier:
        raise InvalidInput("Give the account's identifier.")
    account = db.session.scalar(select(Account).where(Account.identifier == identifier))
    if account is None:
        raise NotFound(f"No account {identifier!r}.")
    held = exists().where(VaultHold.record_id == CustomerRecord.id)
    mine = and_(CustomerRecord.account_id == account.id, CustomerRecord.deleted_at.is_(None))
    kept = db.session.execute(update(CustomerRecord).where(mine, held).values(deleted_at=now)).rowcount
    deleted = db.session.execute(delete(CustomerRecord).where(mine, ~held)).rowcount
    audit.record(AuditAction.VAULT_ACCOUNT_DELETED, actor, subject=("account", account.id), now=now,
                 data={"identifier": account.identifier, "deleted": deleted, "kept_under_hold": kept})
    db.session.commit()
    return {"deleted": deleted, "kept_under_hold": kept}
