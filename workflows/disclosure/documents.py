"""The legal-process document of a case: a PDF, checked by its bytes, stored in
instance/ under a generated name with its SHA-256, handed out only as an
attachment, and every upload and download written to the audit log."""

import hashlib
import os
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select

from models import AuditAction, Case, CaseDocument, State, db
from workflows import audit
from workflows.audit import Actor
from workflows.errors import Conflict, InvalidInput, NotFound, TooLarge
from workflows.rows import locked
from workflows.text import BIDI_FORMATTING, clean_text

MAX_BYTES = 20 * 1024 * 1024
CHUNK = 64 * 1024
PDF_HEADER = b"%PDF-"
HEADER_WINDOW = 1024  # enough of the start to find the header after any leading blanks
TRAILER = b"%%EOF"
TRAILER_WINDOW = 2048
FILENAME_MAX = 200


def folder_for(instance_path: str) -> Path:
    folder = Path(instance_path) / "documents"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def parse_filename(raw: str | None) -> str:
    """The name the file was sent with, kept only to name the download. A name
    that tries to be a path is refused rather than quietly trimmed."""
    if isinstance(raw, str) and any(c in BIDI_FORMATTING for c in raw):
        # "invoice\u202efdp.exe" reads as "invoiceexe.pdf": the name would lie about the file.
        raise InvalidInput(
            "The file name holds characters that reverse the direction of the text, so it would not "
            "read as what it is; rename the file and send it again.",
            reasons=["file"], fields={"file": "The file name may not reverse the text direction."},
        )
    name = clean_text(raw, field="file", label="File names", max_length=FILENAME_MAX)
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        raise InvalidInput(
            f"The file name {name!r} looks like a path; send a plain name such as warrant.pdf.",
            reasons=["file"], fields={"file": "The file name may not contain a path."},
        )
    return name or "legal-process.pdf"


def _is_pdf(head: bytes, tail: bytes) -> bool:
    """A PDF starts with its header (after blanks or a byte-order mark at most) and
    ends with %%EOF. A header buried later (behind HTML, say) does not count."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(PDF_HEADER) and TRAILER in tail


def download_name(filename: str) -> str:
    """What a download is called: the sender's name, always ending in .pdf, so the
    saved file opens in a PDF reader whatever the upload was called."""
    stem = filename[:-4] if filename.lower().endswith(".pdf") else filename
    return f"{stem or 'legal-process'}.pdf"


@dataclass
class Upload:
    """A PDF that passed every check, waiting in the storage folder: under a draft
    name until attach() gives it its stored name. Nothing names it in the database
    yet, so discard() is all it takes to forget it."""

    path: Path
    filename: str
    sha256: str
    size: int

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def check_upload(stream: BinaryIO, filename: str | None, folder: Path) -> Upload:
    """Read an upload into the storage folder and check it (name, size, PDF bytes)
    before anything is written to the database; refused uploads leave no file."""
    name = parse_filename(filename)
    digest, size, head, tail = hashlib.sha256(), 0, b"", b""
    fd, draft = tempfile.mkstemp(prefix=".upload-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise TooLarge(f"The document is larger than {MAX_BYTES // (1024 * 1024)} MB.",
                                   reasons=["file"], fields={"file": "At most 20 MB."})
                if len(head) < HEADER_WINDOW:
                    head += chunk[:HEADER_WINDOW - len(head)]
                tail = (tail + chunk)[-TRAILER_WINDOW:]
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0 or not _is_pdf(head, tail):
            raise InvalidInput(
                "The file is not a PDF (its content, not its name, is checked). Upload the legal "
                "process as a PDF.", reasons=["file"], fields={"file": "Not a PDF."},
            )
    except BaseException:
        Path(draft).unlink(missing_ok=True)
        raise
    return Upload(Path(draft), name, digest.hexdigest(), size)


def attach(case: Case, upload: Upload, actor: Actor, now: datetime, folder: Path) -> CaseDocument:
    """Give a checked upload its stored name and its row, in the caller's
    transaction. The caller commits, or rolls back and calls upload.discard()."""
    stored = f"{uuid.uuid4().hex}.pdf"
    os.replace(upload.path, folder / stored)
    upload.path = folder / stored
    document = CaseDocument(case_id=case.id, stored_name=stored, filename=upload.filename,
                            sha256=upload.sha256, size=upload.size, uploaded_at=now, uploaded_by=actor.label)
    db.session.add(document)
    db.session.flush()
    audit.record(AuditAction.DOCUMENT_UPLOADED, actor, subject=("case", case.id), now=now, data={
        "reference": case.reference, "document_id": document.id, "sha256": document.sha256,
        "size": upload.size,
    })
    return document


def open_for_upload(case: Case) -> bool:
    """Documents may be added while a case is under review, not once it is closed
    and not while a disclosure proposed on the current one awaits approval."""
    return case.is_open and case.state is not State.PENDING_APPROVAL


def store(case_id: int, stream: BinaryIO, filename: str | None, actor: Actor, now: datetime,
          folder: Path) -> CaseDocument:
    """Check and store an upload for a case still under review; commits. Refuses
    (and leaves no file behind) anything that is not a PDF or is larger than 20 MB.
    While a disclosure awaits approval the document is frozen: the approver decides
    on the process the proposer read (send the case back to add a new one)."""
    upload = check_upload(stream, filename, folder)  # file work first, outside any lock
    try:
        case = locked(Case, case_id, "No such case.")
        if not case.is_open:
            raise Conflict(f"{case.reference} is closed ({case.state.label.lower()}); "
                           "its documents are final.")
        if not open_for_upload(case):
            raise Conflict(f"{case.reference} awaits approval of a disclosure proposed on its current "
                           "document; send it back to review before adding another.")
        document = attach(case, upload, actor, now, folder)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        upload.discard()
        raise
    return document


def fetch(case_id: int, document_id: int | None, actor: Actor, now: datetime,
          folder: Path) -> tuple[Path, CaseDocument]:
    """The stored file of a case's document (its latest when no id is given);
    the download is audited and committed before the file is handed out."""
    query = select(CaseDocument).where(CaseDocument.case_id == case_id)
    if document_id is not None:
        query = query.where(CaseDocument.id == document_id)
    document = db.session.execute(query.order_by(CaseDocument.id.desc()).limit(1)).scalar_one_or_none()
    if document is None:
        raise NotFound("This case has no such document.")
    path = folder / document.stored_name
    if not path.is_file():
        raise NotFound("The document's file is missing from storage; tell an administrator.")
    audit.record(AuditAction.DOCUMENT_DOWNLOADED, actor, subject=("case", case_id), now=now, data={
        "document_id": document.id, "sha256": document.sha256,
    })
    db.session.commit()
    return path, document
