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


@pytest.mark.parametrize("width", [1366, 390])
def test_the_country_table_names_each_country_and_sorts_by_any_column(browser, live_server, make_case, width):
    for state, country, day in [("disclosed", "US", "2026-03-02"), ("rejected", "US", "2026-04-10"),
                                ("no_data", "DE", "2026-06-30"), ("rejected", "KR", "2026-05-05"),
                                ("withdrawn", "GB", "2026-02-14"), ("no_data", "GB", "2026-01-20"),
                                ("rejected", "GB", "2026-03-21")]:
        demand_in_period(make_case, state, country, day)
    transparency.publish(transparency.Period.parse(PERIOD), Actor.system("test"), None, utcnow())
    db.session.remove()
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"/transparency/{PERIOD}")

    table = page.locator("table.by-country")
    names = table.locator("tbody:not(.total) th.cc .name")
    expect(names).to_have_text(["Germany", "South Korea", "United Kingdom", "United States"])  # by name
    expect(table.locator("tbody:not(.total) th.cc").nth(1)).to_contain_text("KR")

    requests = table.get_by_role("button", name="Requests", exact=True)
    requests.click()  # most requests first
    expect(names).to_have_text(["United Kingdom", "United States", "Germany", "South Korea"])
    expect(table.locator("th[data-column='1']")).to_have_attribute("aria-sort", "descending")
    expect(table.locator("th[data-column='0']")).to_have_attribute("aria-sort", "none")
    requests.click()
    expect(names).to_have_text(["Germany", "South Korea", "United States", "United Kingdom"])
    expect(table.locator("th[data-column='1']")).to_have_attribute("aria-sort", "ascending")
    expect(table.locator("tbody.total th")).to_have_text("All")  # the total stays last

    table.get_by_role("button", name="Rejected", exact=True).click()  # one each but Germany: ties by name
    expect(names).to_have_text(["South Korea", "United Kingdom", "United States", "Germany"])
    width_of_page = page.evaluate("document.documentElement.scrollWidth")
    assert width_of_page == width, f"the page scrolls sideways at {width}px: {width_of_page}"
    context.close()
