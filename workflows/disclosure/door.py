"""The only door to customer data.

Nothing else in the application may import the vault (models.vault): an
import-linter contract and a test hold everyone to that. The door opens in one
place, the `approve` transition, which mints a Capability bound to one case, its
approved categories, the accounts its identifiers matched and its date range.
produce() spends that capability, exactly once, reading exactly those records into
a production package: a ZIP with a manifest of counts and SHA-256 hashes, written
as a stream and sealed at rest (workflows.disclosure.sealing) with a key kept outside the
database. The agency that sent the demand collects it once through an expiring
link (collect()); a reviewer may issue a new link (reissue()). Staff see the
manifest, never the records.

Every step is an audit event in the same transaction as the change it records."""

import base64
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from models import (
    Account,
    AuditAction,
    Case,
    Category,
    Disclosure,
    ProductionLink,
    Role,
    State,
    db,
)
from models.vault import CustomerRecord
from workflows import audit
from workflows.audit import Actor
from workflows.disclosure import sealing
from workflows.errors import Conflict, Gone, InvalidInput, NotAllowed, NotFound, PackageFailed
from workflows.rows import locked
from workflows.text import clean_text

LINK_LIFETIME = timedelta(days=7)
FORMAT = "due-process-production/1"
ROWS_PER_FETCH = 500
BLOB_MAX = 16 * 1024 * 1024  # one stored file's bytes; larger files arrive in parts
TOKEN_LENGTH = 43  # base64url of a SHA-256 HMAC, unpadded
LINK_ROLES = frozenset({Role.REVIEWER, Role.APPROVER})
NOTE_MAX = 2000


class CapabilityError(Exception):
    """A capability that is forged, widened, meant for another case, or spent."""


# ---- configuration -----------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    folder: Path
    keys: list[sealing.Key]

    def derived(self, key: sealing.Key, purpose: bytes) -> bytes:
        return hmac.new(key.secret, purpose, hashlib.sha256).digest()


def init_app(app: Flask) -> None:
    """Read PACKAGE_KEYS (refusing a malformed one at start-up) and name the folder."""
    folder = Path(app.instance_path) / "productions"
    app.extensions["disclosure"] = Settings(folder, sealing.parse_keys(app.config["PACKAGE_KEYS"]))


def _settings() -> Settings:
    return current_app.extensions["disclosure"]


def _folder() -> Path:
    folder = _settings().folder
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


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


def _binding(cap: Capability) -> bytes:
    return json.dumps({
        "disclosure": cap.disclosure_id, "case": cap.case_id, "categories": sorted(cap.categories),
        "accounts": sorted(cap.account_ids),
        "from": cap.date_from.isoformat() if cap.date_from else None,
        "to": cap.date_to.isoformat() if cap.date_to else None,
    }, sort_keys=True, separators=(",", ":")).encode()


def _digest(cap: Capability, key: sealing.Key) -> str:
    mac = hmac.new(_settings().derived(key, b"due-process capability"), _binding(cap), hashlib.sha256)
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
        secret=secrets.token_urlsafe(32),
    )
    disclosure.capability_digest = _digest(cap, _settings().keys[0])
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
    )
    if _binding(on_record) != _binding(cap):
        raise CapabilityError("This capability is bound to another case, categories, accounts or dates.")
    if not any(hmac.compare_digest(_digest(cap, key), disclosure.capability_digest)
               for key in _settings().keys):
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
    clauses = [CustomerRecord.account_id == account_id, CustomerRecord.category == category]
    dated = []
    if cap.date_from:
        dated.append(CustomerRecord.recorded_at >= datetime.combine(cap.date_from, time(), UTC))
    if cap.date_to:
        end = datetime.combine(cap.date_to + timedelta(days=1), time(), UTC)
        dated.append(CustomerRecord.recorded_at < end)
    if dated and category is Category.SUBSCRIBER:  # a profile is tied to no moment: in any range
        clauses.append(or_(CustomerRecord.recorded_at.is_(None), and_(*dated)))
    elif dated:  # an undated log line or message cannot be shown to fall in the range: left out
        clauses.append(and_(*dated))
    return and_(*clauses)


def _rows(cap: Capability, account_id: int, category: Category) -> Iterator:
    stmt = (
        select(CustomerRecord.id, CustomerRecord.kind, CustomerRecord.recorded_at, CustomerRecord.data,
               CustomerRecord.size, CustomerRecord.blob.is_not(None).label("has_blob"))
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


def _moment(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _write_zip(zf: zipfile.ZipFile, cap: Capability, case: Case, accounts: list[Account],
               now: datetime) -> dict:
    files, counts = [], {}
    stamp = now.astimezone(UTC).timetuple()[:6]  # every entry dated when the package was made
    for account in accounts:
        folder = f"accounts/{account.id}"
        counts[account.identifier] = {}
        for category in Category:
            if category.value not in cap.categories:
                continue
            entry, n, stored = _HashingEntry(zf, f"{folder}/{category.value}.jsonl", stamp), 0, []
            for row in _rows(cap, account.id, category):
                line = {"record_id": row.id, "kind": row.kind, "recorded_at": _moment(row.recorded_at),
                        "data": row.data}
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
        "generated_at": _moment(now),
    }
    if case.emergency_justification:
        manifest["emergency_justification"] = case.emergency_justification
    info = zipfile.ZipInfo("manifest.json", date_time=stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True))
    return manifest


LEFTOVER_AGE = timedelta(hours=1)


def _sweep_leftovers(folder: Path, now: datetime) -> None:
    """Remove what a crashed approval left behind: a half-written .part file, or a
    sealed package no disclosure names. Anything younger than an hour may belong
    to an approval still under way, and is left alone."""
    cutoff = (now - LEFTOVER_AGE).timestamp()
    old = [p for p in folder.iterdir() if p.suffix in (".part", ".sealed") and p.stat().st_mtime < cutoff]
    if not old:
        return
    named = set(db.session.scalars(select(Disclosure.package_name).where(
        Disclosure.package_name.in_([p.name for p in old if p.suffix == ".sealed"]))))
    for path in old:
        if path.name not in named:
            path.unlink(missing_ok=True)


@dataclass
class Package:
    """A package written by produce(): on disk, recorded on its disclosure, not yet
    committed. record() adds its audit events and first link; if the transaction
    does not commit, discard() removes the file."""

    path: Path
    disclosure: Disclosure
    case: Case

    def record(self, actor: Actor, user_id: int | None, now: datetime) -> None:
        d, case, manifest = self.disclosure, self.case, self.disclosure.manifest
        audit.record(AuditAction.PRODUCTION_PACKAGED, actor, subject=("case", case.id), now=now, data={
            "reference": case.reference, "package_sha256": d.package_sha256, "size": d.package_size,
            "categories": manifest["categories"], "accounts": [a["identifier"] for a in manifest["accounts"]],
            "records": sum(sum(c.values()) for c in manifest["record_counts"].values()),
            "emergency_justification": case.emergency_justification,
        })
        _issue_link(d, case, actor, user_id, None, now)

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


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
    settings, folder = _settings(), _folder()
    _sweep_leftovers(folder, now)
    fd, part = tempfile.mkstemp(prefix=".production-", suffix=".part", dir=folder)
    final = folder / f"{secrets.token_hex(16)}.sealed"
    try:
        with os.fdopen(fd, "wb") as raw:
            sealed = sealing.SealedWriter(raw, settings.keys[0])
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
        raise PackageFailed("The production package could not be written, so nothing was disclosed; "
                            f"the case still awaits approval. ({type(exc).__name__})") from exc
    except BaseException:
        Path(part).unlink(missing_ok=True)
        final.unlink(missing_ok=True)
        raise
    return Package(final, disclosure, case)


# ---- collection links --------------------------------------------------------------

def _token(link: ProductionLink, case: Case, key: sealing.Key) -> str:
    """Derived from the link's nonce, its case, the case's agency and its expiry,
    under a key outside the database: editing any of those rows voids the token."""
    bound = f"{link.nonce}|{case.id}|{case.agency_id}|{int(link.expires_at.timestamp())}".encode()
    mac = hmac.new(_settings().derived(key, b"due-process production link"), bound, hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def _token_for(link: ProductionLink, case: Case) -> str | None:
    """The link's token if it is intact (under any configured key), else None."""
    for key in _settings().keys:  # the newest key first; older ones after a rotation
        token = _token(link, case, key)
        if hmac.compare_digest(_token_hash(token), link.token_hash):
            return token
    return None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _issue_link(disclosure: Disclosure, case: Case, actor: Actor, user_id: int | None, note: str | None,
                now: datetime) -> ProductionLink:
    db.session.execute(
        update(ProductionLink).where(ProductionLink.disclosure_id == disclosure.id,
                                     ProductionLink.superseded_at.is_(None))
        .values(superseded_at=now)
    )
    link = ProductionLink(disclosure_id=disclosure.id, nonce=secrets.token_hex(16), issued_at=now,
                          expires_at=(now + LINK_LIFETIME).replace(microsecond=0), issued_by=actor.label,
                          issued_by_id=user_id, note=note)
    link.token_hash = _token_hash(_token(link, case, _settings().keys[0]))
    db.session.add(link)
    db.session.flush()
    audit.record(AuditAction.PRODUCTION_LINK_ISSUED, actor, subject=("case", case.id), now=now, data={
        "reference": case.reference, "link_id": link.id, "expires_at": _moment(link.expires_at),
        "reissue": note is not None, "note": note,
    })
    return link


def link_status(link: ProductionLink, now: datetime) -> str:
    if link.used_at is not None:
        return "collected"
    if link.superseded_at is not None:
        return "replaced"
    if now >= link.expires_at:
        return "expired"
    return "available"


def current_link(disclosure: Disclosure | None, now: datetime) -> tuple[ProductionLink, str | None] | None:
    """The newest link and, while it can still be used, its token (for the agency
    that owns the case, and for no one else)."""
    if disclosure is None or not disclosure.links:
        return None
    link = disclosure.links[-1]
    if link_status(link, now) != "available":
        return link, None
    return link, _token_for(link, disclosure.case)


@dataclass(frozen=True)
class Collected:
    """A production the agency may now receive: its file is open, and stream()
    yields its bytes."""

    reference: str
    size: int
    sha256: str
    chunks: Iterator[bytes]

    @property
    def filename(self) -> str:
        return f"{self.reference}-production.zip"


GONE = {
    "collected": "This link has been used: a production is collected once. Ask the provider to issue a "
                 "new link.",
    "expired": "This link has expired. Ask the provider to issue a new link.",
    "replaced": "This link was replaced by a newer one.",
}


def _find_link(case_id: int, agency_id: int, token: str) -> tuple[ProductionLink, Disclosure, Case]:
    """This case's link for this token, locked; anything else is one 404, whoever asks."""
    if len(token) != TOKEN_LENGTH:
        raise NotFound("No such production link.")
    row = db.session.execute(
        select(ProductionLink, Disclosure, Case)
        .join(Disclosure, ProductionLink.disclosure_id == Disclosure.id)
        .join(Case, Disclosure.case_id == Case.id)
        .where(ProductionLink.token_hash == _token_hash(token))
        .with_for_update(of=ProductionLink)
    ).one_or_none()
    if row is None or row.Case.id != case_id or row.Case.agency_id != agency_id \
            or not hmac.compare_digest(_token_for(row.ProductionLink, row.Case) or "", token):
        db.session.rollback()
        raise NotFound("No such production link.")
    return row.ProductionLink, row.Disclosure, row.Case


def inspect(case_id: int, agency_id: int, token: str, now: datetime) -> Collected:
    """What a download would give (size, hash), without spending the link: the
    answer to a HEAD request."""
    link, disclosure, case = _find_link(case_id, agency_id, token)
    status = link_status(link, now)
    db.session.rollback()
    if status != "available":
        raise Gone(GONE[status], code=f"link_{status}")
    return Collected(case.reference, disclosure.package_size, disclosure.package_sha256, iter(()))


def collect(case_id: int, agency_id: int, token: str, actor: Actor, now: datetime) -> Collected:
    """The agency's one download. Any token that is not this case's own link is a
    404 (whoever asks); a used, expired or replaced link is 410, and the refusal is
    audited. Two downloads at once: the link row is locked, one wins. The whole
    package is checked before the link is spent, so a damaged or missing file does
    not cost the agency its link."""
    link, disclosure, case = _find_link(case_id, agency_id, token)
    status = link_status(link, now)
    if status != "available":
        audit.record(AuditAction.PRODUCTION_REFUSED, actor, subject=("case", case.id), now=now,
                     data={"reference": case.reference, "link_id": link.id, "status": status})
        db.session.commit()
        raise Gone(GONE[status], code=f"link_{status}")
    path, keys = _folder() / disclosure.package_name, _settings().keys
    try:
        for _ in sealing.open_sealed(path, keys):  # every chunk's tag, before anything is spent
            pass
        chunks = sealing.open_sealed(path, keys)
    except (OSError, sealing.SealError) as exc:
        db.session.rollback()
        raise PackageFailed("The production cannot be read just now; your link has not been used. "
                            "Try again later, or contact the provider.") from exc
    link.used_at = now
    audit.record(AuditAction.PRODUCTION_COLLECTED, actor, subject=("case", case.id), now=now, data={
        "reference": case.reference, "link_id": link.id, "package_sha256": disclosure.package_sha256,
        "size": disclosure.package_size,
    })
    try:
        db.session.commit()
    except BaseException:
        chunks.close()
        raise
    return Collected(case.reference, disclosure.package_size, disclosure.package_sha256, chunks)


def stream(collected: Collected) -> Iterator[bytes]:
    """The package's bytes, chunk by chunk as the response goes out (never whole
    in memory), each authenticated before it is released."""
    return collected.chunks


def reissue(case_id: int, role: Role, actor: Actor, user_id: int, note: str | None,
            now: datetime) -> ProductionLink:
    """A reviewer gives the agency a new link (the old one stops working)."""
    if role not in LINK_ROLES:
        raise NotAllowed(f"A {role.value} may not issue production links.")
    text = clean_text(note, field="note", label="Notes", max_length=NOTE_MAX, multiline=True) \
        if isinstance(note, str) else ""
    if not text:
        raise InvalidInput("Write why a new link is issued.", reasons=["note_required"],
                           fields={"note": "Write why a new link is issued."})
    try:
        case = locked(Case, case_id, "No such case.")
        disclosure = case.disclosure
        if case.state is not State.DISCLOSED or disclosure is None or disclosure.package_name is None:
            raise Conflict("Only a disclosed case with a production package has a link to issue.",
                           code="no_production")
        link = _issue_link(disclosure, case, actor, user_id, text, now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return link
