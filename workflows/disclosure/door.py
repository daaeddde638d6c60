"""The only door to customer data.

Nothing else in the application may import the vault (models.vault): an
import-linter contract and a test hold everyone to that. The door opens in one
place, the `approve` transition, which mints a Capability bound to one case, its
approved categories, the accounts its identifiers matched and its date range.
produce() spends that capability, exactly once, reading exactly those records into
a production package: a ZIP with a manifest of counts and SHA-256 hashes, written
as a stream and sealed at rest (workflows.disclosure.sealing) with a key kept outside the
database. The agency that sent the demand collects it once through an expiring
link (workflows.disclosure.links); a reviewer may issue a new link. Staff see
the manifest, never the records.

Every step is an audit event in the same transaction as the change it records."""

import hashlib
import hmac
import json
import os
import secrets
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import and_, select
from sqlalchemy.exc import SQLAlchemyError

from models import (
    Account,
    AuditAction,
    Case,
    Category,
    Disclosure,
    State,
    db,
)
from models.vault import CustomerRecord, VaultHold
from workflows import audit
from workflows.audit import Actor
from workflows.disclosure import leftovers, links, sealing
from workflows.disclosure.holds import holds_scope
from workflows.disclosure.scope import in_scope
from workflows.disclosure.settings import folder, settings
from workflows.errors import InvalidInput, PackageFailed
from workflows.text import iso_utc

FORMAT = "due-process-production/1"
ROWS_PER_FETCH = 500
BLOB_MAX = 16 * 1024 * 1024  # one stored file's bytes; larger files arrive in parts


class CapabilityError(Exception):
    """A capability that is forged, widened, meant for another case, or spent."""


# ---- the vault's one writer: demo data and connectors deposit here ---------------

@dataclass(frozen=True)
class Deposit:
    """One record for the vault. `blob` is a stored file's bytes."""

    account_id: int
    category: Category
    kind: str
    recorded_at: datetime | None
    data: dict
    blob: bytes | None = None


def deposit(records: Iterable[Deposit]) -> int:
    """Add records to the vault in the caller's transaction; returns how many.
    Writing reveals nothing: there is no way back out but a capability."""
    rows = []
    for r in records:
        if r.blob is not None and len(r.blob) > BLOB_MAX:
            raise InvalidInput(f"A stored file's part may be at most {BLOB_MAX} bytes.")
        rows.append({"account_id": r.account_id, "category": r.category, "kind": r.kind,
                     "recorded_at": r.recorded_at, "data": r.data, "blob": r.blob,
                     "size": len(r.blob) if r.blob is not None else 0})
    if rows:
        db.session.execute(CustomerRecord.__table__.insert(), rows)
    return len(rows)


def vault_size(account_id: int) -> tuple[int, int]:
    """How many records an account holds and their stored bytes (for the demo's
    summary and the benchmark); never what they say."""
    count, size = db.session.execute(
        select(db.func.count(), db.func.coalesce(db.func.sum(CustomerRecord.size), 0))
        .where(CustomerRecord.account_id == account_id)
    ).one()
    return int(count), int(size)


# ---- the capability ------------------------------------------------------------------

@dataclass(frozen=True)
class Capability:
    """The right to read one case's approved records, once. Its `secret` is known
    only to the transaction that minted it; the database keeps a keyed digest of
    the secret and everything the capability is bound to."""

    disclosure_id: int
    case_id: int
    categories: tuple[str, ...]
    account_ids: tuple[int, ...]
    date_from: date | None
    date_to: date | None
    secret: str
    preservation_id: int | None = None  # the preservation whose held records it may read too


def _binding(cap: Capability) -> bytes:
    bound = {
        "disclosure": cap.disclosure_id, "case": cap.case_id, "categories": sorted(cap.categories),
        "accounts": sorted(cap.account_ids),
        "from": cap.date_from.isoformat() if cap.date_from else None,
        "to": cap.date_to.isoformat() if cap.date_to else None,
    }
    if cap.preservation_id is not None:
        bound["preservation"] = cap.preservation_id
    return json.dumps(bound, sort_keys=True, separators=(",", ":")).encode()


def _digest(cap: Capability, key: sealing.Key) -> str:
    mac = hmac.new(settings().derived(key, b"due-process capability"), _binding(cap), hashlib.sha256)
    mac.update(b"\0" + cap.secret.encode())
    return mac.hexdigest()


def mint(disclosure: Disclosure, case: Case) -> Capability:
    """Called by the approve transition, in its transaction, once its Disclosure row
    exists: bind a capability to exactly what was approved."""
    if disclosure.capability_digest is not None:
        raise CapabilityError("This disclosure already has its capability.")
    cap = Capability(
        disclosure_id=disclosure.id, case_id=case.id, categories=tuple(disclosure.categories),
        account_ids=tuple(disclosure.account_ids), date_from=case.date_from, date_to=case.date_to,
        secret=secrets.token_urlsafe(32), preservation_id=case.preservation_id,
    )
    disclosure.capability_digest = _digest(cap, settings().keys[0])
    db.session.flush()
    return cap


def _redeem(cap: Capability, now: datetime) -> tuple[Disclosure, Case]:
    """Check a capability against its disclosure row and spend it."""
    disclosure = db.session.execute(
        select(Disclosure).where(Disclosure.id == cap.disclosure_id).with_for_update()
    ).scalar_one_or_none()
    if disclosure is None or disclosure.capability_digest is None:
        raise CapabilityError("No capability was minted for this disclosure.")
    case = db.session.get(Case, disclosure.case_id)
    on_record = Capability(
        disclosure_id=disclosure.id, case_id=disclosure.case_id,
        categories=tuple(disclosure.categories), account_ids=tuple(disclosure.account_ids),
        date_from=case.date_from, date_to=case.date_to, secret=cap.secret,
        preservation_id=case.preservation_id,
    )
    if _binding(on_record) != _binding(cap):
        raise CapabilityError("This capability is bound to another case, categories, accounts or dates.")
    if not any(hmac.compare_digest(_digest(cap, key), disclosure.capability_digest)
               for key in settings().keys):
        raise CapabilityError("This capability was not minted by an approval.")
    if disclosure.capability_spent_at is not None:
        raise CapabilityError("This capability has been used.")
    # The row itself must be an approval: of a case now disclosed, by someone other
    # than the proposer, for no more than was proposed.
    if case.state is not State.DISCLOSED or disclosure.approved_by_id == case.proposed_by_id \
            or not set(disclosure.categories) <= set(case.proposed_categories or ()):
        raise CapabilityError("This disclosure is not an approval of a proposal.")
    disclosure.capability_spent_at = now
    return disclosure, case


# ---- reading the records the capability names, and nothing else ------------------------

def _scope(cap: Capability, account_id: int, category: Category):
    if account_id not in cap.account_ids or category.value not in cap.categories:
        raise CapabilityError("Outside the capability.")  # _package only asks for what it holds
    return and_(in_scope(account_id, category, cap.date_from, cap.date_to), holds_scope(cap.preservation_id))


def _rows(cap: Capability, account_id: int, category: Category) -> Iterator:
    """The records, each with the digest a preservation held it at (or None)."""
    hold = (VaultHold.record_id == CustomerRecord.id) & (VaultHold.case_id == cap.preservation_id)
    stmt = (
        select(CustomerRecord.id, CustomerRecord.kind, CustomerRecord.recorded_at, CustomerRecord.data,
               CustomerRecord.size, CustomerRecord.blob.is_not(None).label("has_blob"),
               VaultHold.sha256.label("held_sha256"), VaultHold.held_at)
        .outerjoin(VaultHold, hold)
        .where(_scope(cap, account_id, category))
        .order_by(CustomerRecord.recorded_at, CustomerRecord.id)
        .execution_options(yield_per=ROWS_PER_FETCH)
    )
    yield from db.session.execute(stmt)


def _blob(cap: Capability, account_id: int, category: Category, record_id: int) -> bytes:
    return db.session.execute(
        select(CustomerRecord.blob).where(_scope(cap, account_id, category), CustomerRecord.id == record_id)
    ).scalar_one()


SLICE = 1024 * 1024  # a stored file goes into the ZIP a slice at a time
COMPRESSIBLE = ("text/", "application/json", "application/xml", "application/csv")


class _HashingEntry:
    """Writes to one ZIP entry, counting and hashing what goes in. A file that is
    already compressed (an image, a PDF, an archive) is stored as it is: deflating
    it again costs time and saves nothing."""

    def __init__(self, zf: zipfile.ZipFile, path: str, stamp: tuple, compress: bool = True):
        self.path = path
        info = zipfile.ZipInfo(path, date_time=stamp)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        self._entry = zf.open(info, "w", force_zip64=True)
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        for start in range(0, len(view), SLICE):
            piece = view[start:start + SLICE]
            self._entry.write(piece)
            self.sha256.update(piece)
        self.size += len(view)

    def close(self, records: int) -> dict:
        self._entry.close()
        return {"path": self.path, "sha256": self.sha256.hexdigest(), "size": self.size, "records": records}


def _write_zip(zf: zipfile.ZipFile, cap: Capability, case: Case, accounts: list[Account],
               now: datetime) -> dict:
    files, counts, held = [], {}, 0
    stamp = now.astimezone(UTC).timetuple()[:6]  # every entry dated when the package was made
    for account in accounts:
        folder = f"accounts/{account.id}"
        counts[account.identifier] = {}
        for category in Category:
            if category.value not in cap.categories:
                continue
            entry, n, stored = _HashingEntry(zf, f"{folder}/{category.value}.jsonl", stamp), 0, []
            for row in _rows(cap, account.id, category):
                line = {"record_id": row.id, "kind": row.kind, "recorded_at": iso_utc(row.recorded_at),
                        "data": row.data}
                if row.held_sha256:  # held by the preservation this demand follows
                    line["preserved"] = {"held_at": iso_utc(row.held_at), "record_sha256": row.held_sha256}
                    held += 1
                if row.has_blob:
                    line["file"] = f"{folder}/files/{row.id}"
                    kind = str((row.data or {}).get("content_type", ""))
                    stored.append((row.id, kind.startswith(COMPRESSIBLE)))
                entry.write(json.dumps(line, ensure_ascii=False, sort_keys=True).encode() + b"\n")
                n += 1
            files.append(entry.close(n))
            counts[account.identifier][category.value] = n
            for record_id, compress in stored:  # one file's bytes in memory at a time
                blob_entry = _HashingEntry(zf, f"{folder}/files/{record_id}", stamp, compress)
                blob_entry.write(_blob(cap, account.id, category, record_id))
                files.append(blob_entry.close(1))
    manifest = {
        "format": FORMAT,
        "case_reference": case.reference,
        "legal_process": {"type": case.process_type.value, "case_number": case.case_number},
        "categories": [c.value for c in Category if c.value in cap.categories],
        "accounts": [{"identifier": a.identifier, "folder": f"accounts/{a.id}"} for a in accounts],
        "date_range": {"from": cap.date_from.isoformat() if cap.date_from else None,
                       "to": cap.date_to.isoformat() if cap.date_to else None},
        "record_counts": counts,
        "files": files,
        "generated_at": iso_utc(now),
    }
    if case.emergency_justification:
        manifest["emergency_justification"] = case.emergency_justification
    if cap.preservation_id is not None:
        manifest["preservation"] = {
            "case_reference": case.preservation.reference, "records_held": held,
            "record_sha256": "SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of the record's "
                             "kind, recorded_at, data and file_sha256 (the SHA-256 of its file, or null), "
                             "taken when the record was preserved"}
    info = zipfile.ZipInfo("manifest.json", date_time=stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True))
    return manifest


@dataclass
class Package:
    """A package written by produce(): on disk, recorded on its disclosure, not yet
    committed. record() adds its audit events and first link; if the transaction
    does not commit, discard() removes the file."""

    path: Path
    disclosure: Disclosure
    case: Case
    lock: int  # a descriptor holding the file's lock until the transaction ends (settle or discard)

    def record(self, actor: Actor, user_id: int | None, now: datetime) -> None:
        d, case, manifest = self.disclosure, self.case, self.disclosure.manifest
        audit.record(AuditAction.PRODUCTION_PACKAGED, actor, subject=("case", case.id), now=now, data={
            "reference": case.reference, "package_sha256": d.package_sha256, "size": d.package_size,
            "categories": manifest["categories"], "accounts": [a["identifier"] for a in manifest["accounts"]],
            "records": sum(sum(c.values()) for c in manifest["record_counts"].values()),
            "emergency_justification": case.emergency_justification,
        })
        links.issue(d, case, actor, user_id, None, now)

    def settle(self) -> None:
        """The transaction has committed: the disclosure names the file now."""
        os.close(self.lock)

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        os.close(self.lock)


def produce(cap: Capability, now: datetime) -> Package:
    """Spend the capability on the sealed production package: written as a stream
    to a temporary file, renamed into place, and recorded on the disclosure in the
    caller's transaction. On any failure no file is left and the caller must roll
    back. It takes no audit lock: the caller records the events (Package.record)
    once the long write is done."""
    disclosure, case = _redeem(cap, now)
    accounts = db.session.execute(
        select(Account).where(Account.id.in_(cap.account_ids)).order_by(Account.id)
    ).scalars().all()
    keys, place = settings().keys, folder()
    leftovers.sweep(place, in_transaction=True)
    fd, part, lock = leftovers.new_part(place)
    final = place / f"{secrets.token_hex(16)}.sealed"
    try:
        with os.fdopen(fd, "wb") as raw:
            if not os.path.samestat(os.fstat(fd), os.stat(part)):  # swept in the instant before the lock
                raise FileNotFoundError(part)
            sealed = sealing.SealedWriter(raw, keys[0])
            with zipfile.ZipFile(sealed, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
                manifest = _write_zip(zf, cap, case, list(accounts), now)
            sealed.close()
            os.fsync(raw.fileno())
        os.replace(part, final)
        disclosure.package_name = final.name
        disclosure.package_sha256 = sealed.sha256.hexdigest()
        disclosure.package_size = sealed.size
        disclosure.packaged_at = now
        disclosure.manifest = manifest
        db.session.flush()
    except (OSError, SQLAlchemyError, sealing.SealError, zipfile.LargeZipFile) as exc:
        Path(part).unlink(missing_ok=True)
        final.unlink(missing_ok=True)
        os.close(lock)
        raise PackageFailed("The production package could not be written, so nothing was disclosed; "
                            f"the case still awaits approval. ({type(exc).__name__})") from exc
    except BaseException:
        Path(part).unlink(missing_ok=True)
        final.unlink(missing_ok=True)
        os.close(lock)
        raise
    return Package(final, disclosure, case, lock)
