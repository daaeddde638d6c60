"""Transparency reports for everyone: the list of periods, each period's page and
its PDF, CSV and JSON, and the checkpoint key; for staff a draft preview, and for
approvers the button that publishes a revision."""

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from models import Role, utcnow
from views.errors import status_of
from views.identity import actor
from views.policy import allow, public
from workflows import reports
from workflows.errors import Conflict, InvalidInput
from workflows.reports import Period

bp = Blueprint("public", __name__, url_prefix="/transparency")
PERIOD = "/<period>"


def _revision() -> int | None:
    raw = request.args.get("revision", "")
    return int(raw) if raw.isdigit() and len(raw) < 6 else None


def _page(period: Period, report: dict, draft: bool, status: int = 200, **extra):
    approver = current_user.is_authenticated and current_user.role is Role.APPROVER
    urls = {"pdf": url_for("public.report_pdf", period=period),
            "csv": url_for("public.report_csv", period=period),
            "json": url_for("public.report_json", period=period),
            "api": url_for("api.transparency", period=period), "key": url_for("public.checkpoint_key")}
    return render_template(
        "reports/period.html", report=report, history=reports.history(period), draft=draft,
        public_key_pem=reports.public_key_pem(), urls=urls,
        can_publish=approver and draft and period.has_ended(utcnow()),
        publish_url=url_for("public.report_publish", period=period), **extra), status


@bp.get("")
@public
def index():
    rows = reports.all_published()
    periods = [{"period": r.period, "revision": r.revision, "published_at": r.snapshot["published_at"],
                "totals": r.snapshot["totals"]} for r in rows]
    trend = reports.trend([(p["period"], p["totals"]) for p in reversed(periods)]) if periods else None
    return render_template("reports/index.html", periods=periods, trend_svg=trend)


@bp.get(PERIOD)
@public
def report(period: str):
    found = Period.parse(period)
    return _page(found, reports.latest(found, _revision()).snapshot, draft=False)


@bp.get(PERIOD + "/draft")
@allow(Role.INTAKE, Role.REVIEWER, Role.APPROVER, Role.AUDITOR)
def report_draft(period: str):
    found = Period.parse(period)
    return _page(found, reports.draft(found, utcnow()), draft=True)


@bp.post(PERIOD + "/publish")
@allow(Role.APPROVER)
def report_publish(period: str):
    found = Period.parse(period)
    try:
        row = reports.publish(found, actor(), request.form.get("reason"), utcnow())
    except (Conflict, InvalidInput) as exc:
        return _page(found, reports.draft(found, utcnow()), draft=True, status=status_of(exc),
                     publish_error=exc.message)
    flash(f"Published {found}, revision {row.revision}.", "ok")
    return redirect(url_for("public.report", period=found), 303)


def _download(period: str, what: str, mimetype: str, suffix: str) -> Response:
    found = Period.parse(period)
    row = reports.latest(found, _revision())
    body = {"pdf": lambda: row.pdf, "csv": lambda: row.csv_text, "json": lambda: row.json_text}[what]()
    name = f"transparency-report-{found}-r{row.revision}.{suffix}"
    disposition = "inline" if what == "json" else "attachment"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'{disposition}; filename="{name}"', "Cache-Control": "public, max-age=300"})


@bp.get(PERIOD + ".pdf")
@public
def report_pdf(period: str):
    return _download(period, "pdf", "application/pdf", "pdf")


@bp.get(PERIOD + ".csv")
@public
def report_csv(period: str):
    return _download(period, "csv", "text/csv", "csv")


@bp.get(PERIOD + ".json")
@public
def report_json(period: str):
    return _download(period, "json", "application/json", "json")


@bp.get("/checkpoint-key.pem")
@public
def checkpoint_key():
    """The public half of the key that signs every report's audit checkpoint."""
    return Response(reports.public_key_pem(), mimetype="application/x-pem-file")
