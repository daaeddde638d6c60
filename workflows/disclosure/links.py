"""Collection links: how the agency that sent a demand collects its production,
once, within seven days, with a token derived under a key kept outside the
database; and how a reviewer gives it a new link. Every link issued, every
download and every refusal is an audit event."""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from models import AuditAction, Case, Disclosure, ProductionLink, Role, State, db
from workflows import audit
from workflows.audit import Actor
from workflows.disclosure import sealing
from workflows.disclosure.settings import folder, settings
from workflows.errors import Conflict, Gone, InvalidInput, NotAllowed, NotFound, PackageFailed
from workflows.rows import locked
from workflows.text import clean_text, iso_utc

LINK_LIFETIME = timedelta(days=7)
TOKEN_LENGTH = 43  # base64url of a SHA-256 HMAC, unpadded
LINK_ROLES = frozenset({Role.REVIEWER, Role.APPROVER})
NOTE_MAX = 2000


def _token(link: ProductionLink, case: Case, key: sealing.Key) -> str:
    """Derived from the link's nonce, its case, the case's agency and its expiry,
    under a key outside the database: editing any of those rows voids the token."""
    bound = f"{link.nonce}|{case.id}|{case.agency_id}|{int(link.expires_at.timestamp())}".encode()
    mac = hmac.new(settings().derived(key, b"due-process production link"), bound, hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def _token_for(link: ProductionLink, case: Case) -> str | None:
    """The link's token if it is intact (under any configured key), else None."""
    for key in settings().keys:  # the newest key first; older ones after a rotation
        token = _token(link, case, key)
        if hmac.compare_digest(_token_hash(token), link.token_hash):
            return token
    return None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(disclosure: Disclosure, case: Case, actor: Actor, user_id: int | None, note: str | None,
                now: datetime) -> ProductionLink:
    db.session.execute(
        update(ProductionLink).where(ProductionLink.disclosure_id == disclosure.id,
                                     ProductionLink.superseded_at.is_(None))
        .values(superseded_at=now)
    )
    link = ProductionLink(disclosure_id=disclosure.id, nonce=secrets.token_hex(16), issued_at=now,
                          expires_at=(now + LINK_LIFETIME).replace(microsecond=0), issued_by=actor.label,
                          issued_by_id=user_id, note=note)
    link.token_hash = _token_hash(_token(link, case, settings().keys[0]))
    db.session.add(link)
    db.session.flush()
    audit.record(AuditAction.PRODUCTION_LINK_ISSUED, actor, subject=("case", case.id), now=now, data={
        "reference": case.reference, "link_id": link.id, "expires_at": iso_utc(link.expires_at),
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
    path, keys = folder() / disclosure.package_name, settings().keys
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
        link = issue(disclosure, case, actor, user_id, text, now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return link
