"""Transparency reports: the half-year's figures (SQL), frozen revisions with
their PDF, CSV and signed audit checkpoint, and the charts drawn for them."""

from workflows.reports.annex_iii import annex_iii_pdf
from workflows.reports.annex_iii import applies as annex_iii_applies
from workflows.reports.annex_iii import fetch as fetch_annex_iii
from workflows.reports.annex_iii import filename as annex_iii_filename
from workflows.reports.audit_checkpoints import Checked, published_problem, report_problems
from workflows.reports.audit_checkpoints import last_full as last_full_verification
from workflows.reports.audit_checkpoints import newest as newest_checkpoint
from workflows.reports.audit_checkpoints import verify as verify_audit
from workflows.reports.charts import init_app as init_charts
from workflows.reports.charts import outcome_bars, outcome_shares, percent, process_label, process_mix, trend
from workflows.reports.checkpoint import init_app, key_id, new_key_pem, public_key_pem, verify_checkpoint
from workflows.reports.transparency import (
    ENTERPRISE_FIGURES,
    FIGURES,
    LATER_FIGURES,
    NATIONAL_SECURITY,
    PERIOD_PATTERN,
    PRESERVATION_FIGURES,
    Period,
    aggregate,
    all_published,
    band,
    draft,
    history,
    latest,
    publish,
    publish_past,
    render_pdf,
    to_csv,
    verify_all,
)

__all__ = [
    "ENTERPRISE_FIGURES",
    "FIGURES",
    "LATER_FIGURES",
    "NATIONAL_SECURITY",
    "PERIOD_PATTERN",
    "PRESERVATION_FIGURES",
    "Checked",
    "Period",
    "aggregate",
    "all_published",
    "annex_iii_applies",
    "annex_iii_filename",
    "annex_iii_pdf",
    "band",
    "draft",
    "fetch_annex_iii",
    "history",
    "init_app",
    "init_charts",
    "key_id",
    "last_full_verification",
    "latest",
    "new_key_pem",
    "newest_checkpoint",
    "outcome_bars",
    "outcome_shares",
    "percent",
    "process_label",
    "process_mix",
    "public_key_pem",
    "publish",
    "publish_past",
    "published_problem",
    "render_pdf",
    "report_problems",
    "to_csv",
    "trend",
    "verify_all",
    "verify_audit",
    "verify_checkpoint",
]
