"""A member of the public reads a transparency report in Chromium: the list of
periods, one period's page, and its PDF, whose pages and text are checked."""

import subprocess

import pytest
from playwright.sync_api import expect

from models import db, utcnow
from workflows.audit import Actor
from workflows.reports import transparency

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PERIOD = "2026-H1"


def demand_in_period(make_case, state: str, country: str, day: str):
    return make_case(state, country=country, received_at=f"{day}T10:00:00Z",
                     legal_process={"type": "subpoena", "issued_on": "2026-02-01", "judicial": False},
                     categories=("subscriber",))


def test_the_public_opens_a_period_and_downloads_its_pdf(page, make_case, tmp_path):
    demand_in_period(make_case, "disclosed", "US", "2026-03-02")
    demand_in_period(make_case, "rejected", "US", "2026-04-10")
    demand_in_period(make_case, "no_data", "DE", "2026-06-30")
    report = transparency.publish(transparency.Period.parse(PERIOD), Actor.system("test"), None, utcnow())
    totals = report.snapshot["totals"]
    assert totals["requests"] == 3
    db.session.remove()  # no transaction open while the browser works

    page.goto("/transparency")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Transparency")
    page.get_by_role("link", name=PERIOD).first.click()
    expect(page).to_have_url(f"{page.url.split('/transparency')[0]}/transparency/{PERIOD}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(PERIOD)
    summary = page.locator("section", has=page.get_by_role("heading", name="Summary"))
    expect(summary).to_contain_text("Requests")
    expect(summary).to_contain_text(str(totals["requests"]))
    expect(page.get_by_role("heading", name="Checkpoint")).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("link", name="PDF").first.click()
    saved = tmp_path / "report.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    info = subprocess.run(["pdfinfo", str(saved)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert pages > 1
    text = subprocess.run(["pdftotext", "-layout", str(saved), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert PERIOD in text and "Page 1 of" in text
    # The country table's total row: every figure, in the order of the columns.
    flat = " ".join(text.split())
    assert "All " + " ".join(str(totals[f]) for f in transparency.FIGURES) in flat, flat
    for country, figures in report.snapshot["by_country"].items():
        assert f"{country} " + " ".join(str(figures[f]) for f in transparency.FIGURES) in flat
