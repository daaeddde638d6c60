"""Published transparency reports: frozen revisions, never changed once written."""

from datetime import datetime

from sqlalchemy import JSON, LargeBinary, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, deferred, mapped_column

from models.base import db


class ReportFrozen(RuntimeError):
    """Raised when anything tries to change a published revision."""


class TransparencyReport(db.Model):
    """One published revision of one period: the JSON snapshot, the CSV and the PDF
    exactly as the public downloads them, their SHA-256, and the signed audit
    checkpoint. A correction is a new revision with a reason."""

    __tablename__ = "transparency_reports"
    __table_args__ = (UniqueConstraint("period", "revision", name="uq_transparency_reports_period_revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    revision: Mapped[int]
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(254))
    reason: Mapped[str | None] = mapped_column(Text)
    snapshot: Mapped[dict] = mapped_column(JSON)
    json_text: Mapped[str] = deferred(mapped_column(Text, nullable=False))
    json_sha256: Mapped[str] = mapped_column(String(64))
    csv_text: Mapped[str] = deferred(mapped_column(Text, nullable=False))
    csv_sha256: Mapped[str] = mapped_column(String(64))
    pdf: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    pdf_sha256: Mapped[str] = mapped_column(String(64))


@event.listens_for(TransparencyReport, "before_update")
@event.listens_for(TransparencyReport, "before_delete")
def _frozen(mapper, connection, target) -> None:
    raise ReportFrozen("A published report revision never changes; publish a correction instead.")
