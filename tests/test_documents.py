"""The legal-process document: a PDF checked by its bytes, kept under a generated
name with its digest, every upload and download in the audit log, and nothing left
behind by a refusal or a failure (DESIGN sections 7 and 8)."""

import hashlib
import re
from io import BytesIO
from pathlib import Path

import pytest
import sqlalchemy as sa

from models import AuditAction, AuditEvent, CaseDocument, db, utcnow
from tests.conftest import PDF_BYTES, TEST_ACTOR
from workflows import audit
from workflows.disclosure import documents
from workflows.errors import Conflict, InvalidInput, NotFound, TooLarge

STORED_NAME = re.compile(r"[0-9a-f]{32}\.pdf")


@pytest.fixture
def folder(app):
    return documents.folder_for(app.instance_path)


@pytest.fixture
def open_case(make_case):
    return make_case(state="received", document=False)


def files_in(folder) -> list[str]:
    """Every entry, hidden upload drafts included."""
    return sorted(p.name for p in folder.iterdir())


def events(action: AuditAction) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action.value)
                                   .order_by(AuditEvent.seq)))


def document_rows() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(CaseDocument))


def store(case_id, data: bytes, folder, filename="warrant.pdf"):
    return documents.store(case_id, BytesIO(data), filename, TEST_ACTOR, utcnow(), folder)


def pdf_of_size(size: int) -> bytes:
    head, tail = b"%PDF-1.7\n", b"\n%%EOF\n"
    return head + b"0" * (size - len(head) - len(tail)) + tail


def assert_nothing_stored(folder, before: list[str]) -> None:
    assert files_in(folder) == before
    db.session.rollback()
    assert document_rows() == 0
    assert events(AuditAction.DOCUMENT_UPLOADED) == []


def test_a_pdf_is_stored_under_a_generated_name(app, open_case, folder):
    document = store(open_case.id, PDF_BYTES, folder)
    assert STORED_NAME.fullmatch(document.stored_name)
    assert files_in(folder) == [document.stored_name]
    assert (folder / document.stored_name).read_bytes() == PDF_BYTES
    assert folder == Path(app.instance_path) / "documents"
    assert (document.filename, document.size) == ("warrant.pdf", len(PDF_BYTES))
    assert document.sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    db.session.expire_all()
    assert db.session.get(CaseDocument, document.id).case_id == open_case.id
    [event] = events(AuditAction.DOCUMENT_UPLOADED)
    assert (event.subject_type, event.subject_id) == ("case", str(open_case.id))
    assert event.actor == TEST_ACTOR.label
    assert event.data["sha256"] == document.sha256 and event.data["size"] == len(PDF_BYTES)
    assert audit.verify().intact


NOT_PDF = {
    "gif": b"GIF89a not a pdf at all",
    "html": b"<html><body>A warrant, honestly.</body></html>\n%%EOF",
    "no trailer": b"%PDF-1.4\nbut no trailer",
    "executable": b"MZ\x90\x00" + b"\x00" * 100 + b"%%EOF",
    "empty": b"",
}


def test_a_file_that_is_not_a_pdf_is_refused(app, open_case, folder):
    """Named .pdf, but the bytes decide."""
    before = files_in(folder)
    for what, data in NOT_PDF.items():
        with pytest.raises(InvalidInput) as refused:
            store(open_case.id, data, folder, "warrant.pdf")
        assert "file" in refused.value.fields, what
        assert_nothing_stored(folder, before)


def test_exactly_20_mb_is_accepted(app, open_case, folder):
    data = pdf_of_size(documents.MAX_BYTES)
    assert len(data) == 20 * 1024 * 1024
    document = store(open_case.id, data, folder)
    assert document.size == len(data)
    assert document.sha256 == hashlib.sha256(data).hexdigest()
    assert (folder / document.stored_name).stat().st_size == len(data)


def test_one_byte_over_20_mb_is_too_large(app, open_case, folder):
    before = files_in(folder)
    with pytest.raises(TooLarge) as refused:
        store(open_case.id, pdf_of_size(documents.MAX_BYTES + 1), folder)
    assert "file" in refused.value.fields
    assert_nothing_stored(folder, before)


PATH_NAMES = ["../evil.pdf", "a/b.pdf", "..\\evil.pdf", "/etc/passwd.pdf", "..", ".hidden.pdf",
              "warrant\x00.pdf"]


def test_file_names_that_are_paths_are_refused(app, open_case, folder):
    before = files_in(folder)
    for name in PATH_NAMES:
        with pytest.raises(InvalidInput) as refused:
            store(open_case.id, PDF_BYTES, folder, name)
        assert "file" in refused.value.reasons, name
        assert_nothing_stored(folder, before)
    assert not (folder.parent / "evil.pdf").exists()


@pytest.mark.parametrize("name", ["invoice\u202efdp.exe", "scan\u2067gpj.pdf", "\u200fwarrant.pdf",
                                  "w\u202aarrant.pdf"], ids=["override", "isolate", "mark", "embedding"])
def test_file_names_that_reverse_the_text_direction_are_refused(app, open_case, folder, name):
    """A name shown reversed ("invoice\u202efdp.exe" reads "invoiceexe.pdf") would lie about the file."""
    before = files_in(folder)
    with pytest.raises(InvalidInput) as refused:
        store(open_case.id, PDF_BYTES, folder, name)
    assert refused.value.fields == {"file": "The file name may not reverse the text direction."}
    assert_nothing_stored(folder, before)


def test_a_name_in_a_right_to_left_script_is_kept(app, open_case, folder):
    document = store(open_case.id, PDF_BYTES, folder, "مذكرة.pdf")
    assert document.filename == "مذكرة.pdf"


def test_a_closed_case_takes_no_documents(app, make_case, folder):
    case = make_case(state="withdrawn", document=False)
    with pytest.raises(Conflict):
        store(case.id, PDF_BYTES, folder)
    assert_nothing_stored(folder, [])


def test_an_unknown_case_takes_no_documents(app, folder):
    with pytest.raises(NotFound):
        store(999_999, PDF_BYTES, folder)
    assert_nothing_stored(folder, [])


def test_fetch_returns_the_latest_and_audits_each_download(app, open_case, folder):
    first = store(open_case.id, PDF_BYTES, folder, "first.pdf")
    second_bytes = PDF_BYTES.replace(b"1.4", b"1.7")
    second = store(open_case.id, second_bytes, folder, "second.pdf")

    path, document = documents.fetch(open_case.id, None, TEST_ACTOR, utcnow(), folder)
    assert document.id == second.id and path.read_bytes() == second_bytes
    path, document = documents.fetch(open_case.id, first.id, TEST_ACTOR, utcnow(), folder)
    assert document.id == first.id and path.read_bytes() == PDF_BYTES
    documents.fetch(open_case.id, None, TEST_ACTOR, utcnow(), folder)

    db.session.rollback()  # fetch committed its audit events: they survive a rollback
    downloads = events(AuditAction.DOCUMENT_DOWNLOADED)
    assert [e.data["document_id"] for e in downloads] == [second.id, first.id, second.id]
    assert all(e.subject_id == str(open_case.id) for e in downloads)
    assert downloads[1].data["sha256"] == first.sha256
    assert audit.verify().intact


def test_fetch_of_another_cases_document_is_not_found(app, make_case, folder):
    mine, theirs = make_case(state="received", document=False), make_case(state="received", document=False)
    theirs_doc = store(theirs.id, PDF_BYTES, folder)
    with pytest.raises(NotFound):
        documents.fetch(mine.id, theirs_doc.id, TEST_ACTOR, utcnow(), folder)
    with pytest.raises(NotFound):
        documents.fetch(mine.id, None, TEST_ACTOR, utcnow(), folder)  # mine has none
    db.session.rollback()
    assert events(AuditAction.DOCUMENT_DOWNLOADED) == []


def test_a_database_failure_after_the_file_is_written_leaves_no_file(app, open_case, folder, monkeypatch):
    """The commit fails (the database went away at that moment): the file already in
    the folder is removed, and no row or audit event remains."""
    real_commit = db.session.commit
    failures = []

    def commit_fails_once():
        if not failures:
            failures.append(files_in(folder))  # what the crash would have left behind
            raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))
        return real_commit()

    monkeypatch.setattr(db.session, "commit", commit_fails_once)
    with pytest.raises(sa.exc.OperationalError):
        store(open_case.id, PDF_BYTES, folder)
    assert len(failures) == 1 and any(STORED_NAME.fullmatch(name) for name in failures[0])
    assert_nothing_stored(folder, [])
    assert audit.verify().intact

    document = store(open_case.id, PDF_BYTES, folder)  # the retry goes through
    assert files_in(folder) == [document.stored_name]
