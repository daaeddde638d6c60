"""The public report for everyone: countries by name beside their codes, chart
labels measured against the widest font they may be drawn in, and a tagged PDF
(structure, language, each chart's alternative text) whose every word stays inside
the page's text area. The PDF checks read the revision as published."""

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.conftest import TEST_ACTOR
from tests.test_report_rendering import render_period, snapshot
from workflows.reports import charts, countries, svg, transparency

SVG = "{http://www.w3.org/2000/svg}"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
only_sqlite = pytest.mark.parametrize("engine_name", ["sqlite"])


def test_countries_are_named_from_iso_3166():
    assert countries.country_name("DE") == "Germany"
    assert countries.country_name("KR") == "South Korea"  # the common name where ISO gives one
    assert countries.country_name("GB") == "United Kingdom"
    assert countries.country_name("XK") == "XK"  # not in ISO 3166-1: the code stays
    ordered = countries.by_name({"US": 1, "DE": 2, "KR": 3, "GB": 4})
    assert [code for code, _ in ordered] == ["DE", "KR", "GB", "US"]


@only_sqlite
def test_the_page_names_each_country_beside_its_code_in_name_order(app):
    html = render_period(app, snapshot(3))  # US, DE, GB
    rows = re.findall(r'<th scope="row" class="cc"><span class="name">([^<]+)</span>&nbsp;'
                      r'<span class="iso">(\w\w)', html)
    assert rows[:3] == [("Germany", "DE"), ("United Kingdom", "GB"), ("United States", "US")]
    assert "data-sortable" in html and "table-sort.js" in html


# ---- chart labels ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def dejavu_width():
    """Advance widths from the font itself (fonts-dejavu-core), as a check on the
    estimate the charts size their columns by."""
    if not DEJAVU.exists():
        pytest.skip("DejaVu Sans is not installed (fonts-dejavu-core)")
    from fontTools.ttLib import TTFont

    font = TTFont(DEJAVU)
    cmap, metrics, em = font.getBestCmap(), font["hmtx"], font["head"].unitsPerEm

    def width(text: str, size: float) -> float:
        return sum(metrics[cmap[ord(c)]][0] for c in text) / em * size

    return width


def long_labels_report() -> dict:
    report = snapshot(20)
    report["by_process"] = {key: 1234 for key in report["by_process"]}
    return report


@pytest.mark.parametrize("draw", ["outcome_shares", "outcome_bars", "process_mix", "trend"])
def test_no_chart_label_reaches_past_the_chart(draw, dejavu_width):
    report = long_labels_report()
    svg = {
        "outcome_shares": lambda: charts.outcome_shares(report["totals"]),
        "outcome_bars": lambda: charts.outcome_bars(report["by_country"]),
        "process_mix": lambda: charts.process_mix(report["by_process"]),
        "trend": lambda: charts.trend([("2025-H2", report["totals"]), ("2026-H1", report["totals"])]),
    }[draw]()
    root = ET.fromstring(str(svg))  # noqa: S314 (markup the app drew)
    width = float(root.get("viewBox").split()[2])
    default_size = float(root.get("font-size"))
    texts = list(root.iter(f"{SVG}text"))
    assert texts
    for text in texts:
        size = float(text.get("font-size") or default_size)
        drawn = dejavu_width(text.text, size) * (1.16 if text.get("font-weight") == "bold" else 1)
        x = float(text.get("x"))
        left = {"end": x - drawn, "middle": x - drawn / 2}.get(text.get("text-anchor"), x)
        assert left >= 0 and left + drawn <= width + 0.5, (text.text, left, left + drawn, width)


def test_the_estimate_is_never_narrower_than_the_font():
    labels = [*charts.OUTCOME_LABELS.values(), *charts.PROCESS_LABELS.values(), "Other (45)", "1,234,567"]
    if not DEJAVU.exists():
        pytest.skip("DejaVu Sans is not installed (fonts-dejavu-core)")
    from fontTools.ttLib import TTFont

    font = TTFont(DEJAVU)
    cmap, metrics, em = font.getBestCmap(), font["hmtx"], font["head"].unitsPerEm
    for label in labels:
        real = sum(metrics[cmap[ord(c)]][0] for c in label) / em * 13
        assert svg.text_width(label, 13) >= real, label


# ---- the published PDF -------------------------------------------------------------------

def structure(reader: PdfReader) -> tuple[list[str], list[str]]:
    """Every structure element's type, and every /Alt, walking the tree from its root."""
    kinds, alts = [], []

    def walk(node):
        node = node.get_object()
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not hasattr(node, "get"):
            return
        if "/S" in node:
            kinds.append(str(node["/S"]))
        if "/Alt" in node:
            alts.append(str(node["/Alt"]))
        if "/K" in node:
            walk(node["/K"])

    walk(reader.trailer["/Root"]["/StructTreeRoot"])
    return kinds, alts


@only_sqlite
@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils is not installed")
def test_the_published_pdf_is_tagged_and_nothing_is_cut_off(app, make_case, tmp_path):
    for state, country in [("disclosed", "US"), ("rejected", "DE"), ("no_data", "KR"), ("withdrawn", "GB")]:
        make_case(state, country=country, received_at="2026-03-02T10:00:00Z",
                  legal_process={"type": "subpoena", "issued_on": "2026-02-01", "judicial": False},
                  categories=("subscriber",))
    row = transparency.publish(transparency.Period.parse("2026-H1"), TEST_ACTOR, None,
                               datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    path = tmp_path / "report.pdf"
    path.write_bytes(row.pdf)

    reader = PdfReader(path)
    catalog = reader.trailer["/Root"]
    assert catalog["/MarkInfo"]["/Marked"] is True or str(catalog["/MarkInfo"]["/Marked"]) == "True"
    assert str(catalog["/Lang"]) == "en"
    kinds, alts = structure(reader)
    for kind in ("/H1", "/H2", "/Table", "/TH", "/TD", "/Caption", "/Figure", "/L", "/P"):
        assert kind in kinds, kind
    assert any(alt.startswith("Outcomes as a share of all requests. Share of the 4 requests") for alt in alts)
    assert any(alt.startswith("Requests by country, by outcome.") and "most requests" in alt for alt in alts)
    assert any(alt.startswith("Requests by type of legal process.") for alt in alts)

    # Every word inside the text area: a label running past its chart would start left
    # of the margin (or end right of it), where it is clipped.
    boxes = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True,
                           check=True).stdout
    pages = re.findall(r'<page width="([\d.]+)" height="[\d.]+">(.*?)</page>', boxes, re.S)
    for page_width, page in pages:
        for x_min, x_max, word in re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" '
                                             r'yMax="[\d.]+">([^<]*)</word>', page):
            assert float(x_min) >= 30 and float(x_max) <= float(page_width) - 30, (word, x_min, x_max)
    words = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                                    check=True).stdout.split())
    for label in (*charts.OUTCOME_LABELS.values(), "Germany DE", "South Korea KR", "United Kingdom GB"):
        assert label in words, label
