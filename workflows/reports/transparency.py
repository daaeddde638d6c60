"""Transparency reports (DESIGN section 6): the figures for a half-year, counted
in SQL; publication of frozen revisions with a signed audit checkpoint.

The figures come from one GROUP BY over the period's cases (by agency country,
legal process, enterprise or not, and whether content was asked for), using the
columns intake and advance() keep on each case (outcome, accounts_specified,
challenged, ...). The few hundred grouped rows are then folded into the report's
sections: by country and in total, by process, the enterprise section and the
national-security bands. National-security requests (NSLs, FISA orders) appear in
no figure but their own bands, and only once the period ended 180 days before.

Publishing freezes a revision: the JSON snapshot, the CSV and the PDF, their
SHA-256, and a checkpoint of the audit chain's head signed with an Ed25519 key
kept in instance/ (never in the database). A correction is a new revision with a
stated reason; published revisions never change (the database refuses)."""

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache

from sqlalchemy import and_, bindparam, exists, func, select
from sqlalchemy import case as when

from models import (
    Agency,
    AuditAction,
    AuditEvent,
    AuditHead,
    CallbackOutcome,
    Case,
    CaseKind,
    CaseVerification,
    ProcessType,
    RejectReason,
    TransparencyReport,
    db,
)
from workflows import audit
from workflows.audit import Actor
from workflows.cases import Outcome
from workflows.errors import Conflict, InvalidInput, NotFound
from workflows.reports import checkpoint, pdf
from workflows.reports.preservation_figures import PRESERVATION_FIGURES, preservation_block
from workflows.text import clean_text, iso_utc

NATIONAL_SECURITY = (ProcessType.NSL, ProcessType.FISA_ORDER)

# The processes a production demand comes with: preservation requests are counted apart (DESIGN 11.6).
PRODUCTION_PROCESSES = tuple(p for p in ProcessType if p.kind is CaseKind.PRODUCTION)
NS_DELAY = timedelta(days=180)  # national-security figures only for periods ended this long ago
BAND = 500  # national-security figures are published only in bands of this width
FIGURES = ("requests", "accounts_specified", "no_identifiers", *[o.value for o in Outcome], "emergency",
           "emergency_verification_failed", "with_ndo", "customer_notified", "challenged", "challenges_won")
# Figures added after reports were first published: absent from the revisions before them.
LATER_FIGURES = frozenset({"emergency_verification_failed"})
ENTERPRISE_FIGURES = ("requests", "redirected", "resolved_by_customer", "customer_notified",
                      "content_disclosed", "non_content_disclosed")
PERIOD_PATTERN = "^[0-9]{4}-H[12]$"  # 2026-H1: the first half of 2026
PERIOD = re.compile(r"([0-9]{4})-H([12])")
REASON_MAX = 2000


# ---- periods ------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Period:
    year: int
    half: int

    @classmethod
    def of(cls, day: date) -> "Period":
        return cls(day.year, 1 if day.month <= 6 else 2)

    @classmethod
    def parse(cls, text: str) -> "Period":
        """`2026-H1` (January to June) or `2026-H2` (July to December); anything
        else is a 404, as for a page that does not exist."""
        match = PERIOD.fullmatch(text or "")
        if not match or not 2000 <= int(match.group(1)) <= 2999:
            raise NotFound(f"There is no reporting period {text!r}: periods are written like 2026-H1 "
                           "(January to June) or 2026-H2 (July to December).")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.year}-H{self.half}"

    @property
    def starts_on(self) -> date:
        return date(self.year, 1 if self.half == 1 else 7, 1)

    @property
    def ends_on(self) -> date:
        return date(self.year, 6, 30) if self.half == 1 else date(self.year, 12, 31)

    @property
    def start(self) -> datetime:
        return datetime(self.starts_on.year, self.starts_on.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the period."""
        if self.half == 1:
            return datetime(self.year, 7, 1, tzinfo=UTC)
        return datetime(self.year + 1, 1, 1, tzinfo=UTC)

    def has_ended(self, now: datetime) -> bool:
        return now >= self.end

    def national_security_from(self) -> date:
        return (self.end + NS_DELAY).date()


# ---- aggregation ------------------------------------------------------------------------

# The figures the GROUP BY returns, in this order, after its four keys.
GROUPED = (*FIGURES, "redirected")


@cache
def _grouped_statement():
    """One pass over a period's cases: the figures per (agency, process type,
    enterprise, content asked for). Content is looked at for FISA orders only (the
    one place it splits a figure), and agencies are named by country afterwards,
    so the scan needs no join; ix_cases_report holds every column it reads, and
    only an emergency's row looks up its call-back (by the unique case_id of
    case_verifications). Built once: the period's bounds are parameters."""
    content_asked = when((Case.process_type == ProcessType.FISA_ORDER, Case.content_requested), else_=False)
    flags = {
        **{o.value: Case.outcome == o.value for o in Outcome},
        "no_identifiers": Case.named_no_account.is_(True),
        "emergency": Case.emergency.is_(True), "with_ndo": Case.ndo_present.is_(True),
        # An emergency whose call-back to the agency's directory number did not confirm it.
        "emergency_verification_failed": and_(Case.emergency.is_(True), exists().where(
            CaseVerification.case_id == Case.id, CaseVerification.outcome == CallbackOutcome.FAILED)),
        "customer_notified": Case.customer_notified.is_(True), "challenged": Case.challenged.is_(True),
        "challenges_won": Case.reject_reason == RejectReason.QUASHED, "redirected": Case.redirected.is_(True),
    }
    figures = [func.count(), func.coalesce(func.sum(Case.accounts_specified), 0),
               *[func.count().filter(flags[name]) for name in GROUPED[2:]]]
    keys = [Case.agency_id, Case.process_type, Case.enterprise, content_asked]
    return (select(*keys, *figures)
            .where(Case.received_at >= bindparam("start"), Case.received_at < bindparam("end"),
                   Case.kind == CaseKind.PRODUCTION)
            .group_by(*keys))


def _grouped(period: Period) -> list[tuple]:
    # Core, not the ORM: plain tuples, without the ORM's per-row bookkeeping.
    return db.session.connection().execute(
        _grouped_statement(), {"start": period.start, "end": period.end}).all()


def _zero(names=FIGURES) -> dict[str, int]:
    return dict.fromkeys(names, 0)


def _add(into: dict, figures: tuple) -> None:
    for name, n in zip(FIGURES, figures, strict=False):  # `redirected` stays out of the country figures
        into[name] += n


def band(n: int) -> str:
    low = n // BAND * BAND
    return f"{low}-{low + BAND - 1}"


def aggregate(period: Period, now: datetime) -> dict:
    """The report's figures for `period` as the cases stand at `now` (DESIGN 6, 9)."""
    totals, by_country = _zero(), {}
    by_process = {p.value: 0 for p in PRODUCTION_PROCESSES if p not in NATIONAL_SECURITY}
    enterprise = _zero(ENTERPRISE_FIGURES)
    ns = {key: {"requests": 0, "accounts": 0} for key in ("nsl", "fisa_content", "fisa_non_content")}
    rows = _grouped(period)
    countries = dict(db.session.execute(select(Agency.id, Agency.country).where(
        Agency.id.in_({row[0] for row in rows}))).all()) if rows else {}
    preservation = preservation_block(period.start, period.end, countries)
    at = {name: i for i, name in enumerate(GROUPED)}
    for agency_id, process_type, is_enterprise, content_asked, *figures in rows:
        process = ProcessType(process_type)
        if process in NATIONAL_SECURITY:
            key = "nsl" if process is ProcessType.NSL else (
                "fisa_content" if content_asked else "fisa_non_content")
            ns[key]["requests"] += figures[at["requests"]]
            ns[key]["accounts"] += figures[at["accounts_specified"]]
            continue
        _add(totals, figures)
        country = countries[agency_id]
        if country not in by_country:
            by_country[country] = _zero()
        _add(by_country[country], figures)
        by_process[process.value] += figures[at["requests"]]
        if is_enterprise:
            for name in ENTERPRISE_FIGURES:
                enterprise[name] += figures[at[name]]
    if now.date() >= period.national_security_from():
        national_security = {"status": "published", **{
            key: {"requests": band(v["requests"]), "accounts": band(v["accounts"])}
            for key, v in ns.items()}}
    else:
        national_security = {"status": "deferred",
                             "available_from": period.national_security_from().isoformat()}
    return {
        "period": str(period), "starts_on": period.starts_on.isoformat(),
        "ends_on": period.ends_on.isoformat(), "totals": totals,
        "by_country": dict(sorted(by_country.items())), "by_process": by_process, "enterprise": enterprise,
        "national_security": national_security, "preservation": preservation,
    }


def draft(period: Period, now: datetime) -> dict:
    """The figures as they would be published now, for staff to preview."""
    return {**aggregate(period, now), "revision": None, "published_at": None, "reason": None,
            "checkpoint": None}


# ---- publication ----------------------------------------------------------------------------

CSV_COLUMNS = ("country", *FIGURES)


def to_csv(report: dict) -> str:
    """One row per agency country, then the total; national security apart, in bands."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["period", report["period"], "revision", report["revision"] or "draft"])
    writer.writerow(CSV_COLUMNS)
    for country, figures in report["by_country"].items():
        writer.writerow([country, *[figures[f] for f in FIGURES]])
    writer.writerow(["TOTAL", *[report["totals"][f] for f in FIGURES]])
    writer.writerow([])
    writer.writerow(["legal_process", "requests"])
    for process, n in report["by_process"].items():
        writer.writerow([process, n])
    writer.writerow([])
    writer.writerow(["enterprise", *ENTERPRISE_FIGURES])
    writer.writerow(["", *[report["enterprise"][f] for f in ENTERPRISE_FIGURES]])
    writer.writerow([])
    ns = report["national_security"]
    if ns["status"] == "published":
        writer.writerow(["national_security", "requests", "accounts"])
        for key in ("nsl", "fisa_content", "fisa_non_content"):
            writer.writerow([key, ns[key]["requests"], ns[key]["accounts"]])
    else:
        writer.writerow(["national_security", "deferred until", ns["available_from"]])
    writer.writerow([])
    kept = report["preservation"]
    writer.writerow(["preservation", *PRESERVATION_FIGURES])
    for country, figures in kept["by_country"].items():
        writer.writerow([country, *[figures[f] for f in PRESERVATION_FIGURES]])
    writer.writerow(["TOTAL", *[kept[f] for f in PRESERVATION_FIGURES]])
    return out.getvalue()


def published(period: Period) -> list[TransparencyReport]:
    """Every revision of a period, oldest first (without the heavy columns)."""
    return db.session.scalars(select(TransparencyReport).where(TransparencyReport.period == str(period))
                              .order_by(TransparencyReport.revision)).all()


def latest(period: Period, revision: int | None = None) -> TransparencyReport:
    query = select(TransparencyReport).where(TransparencyReport.period == str(period))
    if revision is not None:
        query = query.where(TransparencyReport.revision == revision)
    report = db.session.scalars(query.order_by(TransparencyReport.revision.desc()).limit(1)).first()
    if report is None:
        raise NotFound(f"There is no revision {revision} of the {period} report." if revision is not None
                       else f"The report for {period} has not been published yet.")
    return report


def all_published() -> list[TransparencyReport]:
    """The newest revision of every published period, newest period first."""
    newest = (select(TransparencyReport.period, func.max(TransparencyReport.revision).label("revision"))
              .group_by(TransparencyReport.period).subquery())
    return db.session.scalars(
        select(TransparencyReport).join(newest, (TransparencyReport.period == newest.c.period)
                                        & (TransparencyReport.revision == newest.c.revision))
        .order_by(TransparencyReport.period.desc())
    ).all()


def render_pdf(report: dict, history: list[dict]) -> bytes:
    return pdf.render("reports/report_pdf.html", report=report, history=history,
                      public_key_pem=checkpoint.public_key_pem(), generated_by="Due Process")


def publish(period: Period, actor: Actor, reason: str | None, now: datetime,
            render: Callable[[dict, list[dict]], bytes] = render_pdf) -> TransparencyReport:
    """Freeze a new revision of `period`. The first needs no reason; a correction
    does. The period must have ended. Commits."""
    if not period.has_ended(now):
        raise Conflict(f"{period} has not ended (it runs to {period.ends_on}); publish it from "
                       f"{period.end.date()}.", code="period_not_ended")
    text = clean_text(reason if isinstance(reason, str) else "", field="reason", label="Reasons",
                      max_length=REASON_MAX, multiline=True)
    try:
        # One publisher at a time: the audit head is locked first, as every append
        # does, and held until the revision is written (rendering the PDF included).
        db.session.execute(select(AuditHead.id).where(AuditHead.id == 1).with_for_update())
        earlier = published(period)
        if earlier and not text:
            raise InvalidInput(f"{period} is already published (revision {earlier[-1].revision}); a "
                               "correction needs a stated reason.", reasons=["reason"],
                               fields={"reason": "State why the report is corrected."})
        revision = len(earlier) + 1
        report = {**aggregate(period, now), "revision": revision,
                  "published_at": iso_utc(now),
                  "reason": text or None}
        event = audit.record(AuditAction.REPORT_PUBLISHED, actor, subject=("report", str(period)), now=now,
                             data={"period": str(period), "revision": revision, "reason": text or None,
                                   "totals": report["totals"]})
        report["checkpoint"] = {"audit_seq": event.seq, "audit_hash": event.hash,
                                "signed_at": report["published_at"], "algorithm": "Ed25519",
                                "key_id": checkpoint.key_id(), "signature": ""}
        report["checkpoint"]["signature"] = checkpoint.sign(report)
        history = [_history(r) for r in earlier]
        document = render(report, history)
        text_json = json.dumps(report, indent=2, sort_keys=True)
        text_csv = to_csv(report)
        row = TransparencyReport(
            period=str(period), revision=revision, published_at=now, published_by=actor.label,
            reason=text or None, snapshot=report, json_text=text_json,
            json_sha256=hashlib.sha256(text_json.encode()).hexdigest(), csv_text=text_csv,
            csv_sha256=hashlib.sha256(text_csv.encode()).hexdigest(), pdf=document,
            pdf_sha256=hashlib.sha256(document).hexdigest(),
        )
        db.session.add(row)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return row


def _history(row: TransparencyReport) -> dict:
    return {"revision": row.revision, "published_at": row.snapshot["published_at"], "reason": row.reason,
            "pdf_sha256": row.pdf_sha256, "json_sha256": row.json_sha256}


def history(period: Period) -> list[dict]:
    return [_history(r) for r in published(period)]


def verify_all(public_pem: str) -> tuple[int, list[str]]:
    """Every published checkpoint: signed by the key, and still the chain's hash at
    its sequence number (so the log before it was not rewritten). Returns how many
    were checked and what is wrong."""
    problems, rows = [], db.session.scalars(select(TransparencyReport).order_by(TransparencyReport.id)).all()
    for row in rows:
        signed = row.snapshot.get("checkpoint") or {}
        name = f"{row.period} revision {row.revision}"
        if not checkpoint.verify_checkpoint(row.snapshot, public_pem):
            problems.append(f"{name}: the signature does not verify")
        seq = signed.get("audit_seq")
        found = db.session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))
        if found != signed.get("audit_hash"):
            problems.append(f"{name}: audit event {seq} no longer has the signed hash")
    return len(rows), problems


def publish_past(now: datetime, actor: Actor, since: Period) -> list[TransparencyReport]:
    """Publish every period from `since` that has ended and is not yet published
    (the demo's reports)."""
    made, period = [], since
    while period.has_ended(now):
        if not published(period):
            made.append(publish(period, actor, None, now))
        period = Period(period.year + period.half - 1, 2 if period.half == 1 else 1)
    return made
