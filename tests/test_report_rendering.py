"""Drawing a transparency report from its snapshot: the SVG charts, the public pages, the PDF,
and the PDF renderer's URL fetcher, which serves the bundled static files and nothing else.

Rendering needs an application context and hardly any data (one test publishes an empty
revision, to run the page's verification commands on a real checkpoint), so the tests that need
the app run on SQLite only (`engine_name` is pinned); the chart tests need neither.
"""

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from itertools import product
from string import ascii_uppercase

import pytest
from flask import render_template
from jinja2 import ChoiceLoader, DictLoader

from tests.conftest import TEST_ACTOR
from workflows.cases.states import Outcome
from workflows.reports import charts, pdf, transparency
from workflows.reports import checkpoint as signing
from workflows.reports.countries import country_name

SVG = "{http://www.w3.org/2000/svg}"
OUTCOMES = [o.value for o in Outcome]
OTHERS = ["emergency", "emergency_verification_failed", "with_ndo", "customer_notified", "challenged",
          "challenges_won"]
PUBLIC_KEY = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
    "-----END PUBLIC KEY-----\n"
)
URLS = {
    "pdf": "/transparency/2026-H1.pdf", "csv": "/transparency/2026-H1.csv",
    "json": "/transparency/2026-H1.json", "api": "/api/v1/transparency/2026-H1",
    "key": "/transparency/key.pem",
}
only_sqlite = pytest.mark.parametrize("engine_name", ["sqlite"])
needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdftotext") and shutil.which("pdfinfo")), reason="poppler-utils is not installed"
)


# ---- synthetic reports -----------------------------------------------------------


def figures(requests: int, step: int = 0) -> dict:
    """One country's sixteen figures: the requests spread over the seven outcomes."""
    share, rest = divmod(requests, len(OUTCOMES))
    outcomes = {key: share + (1 if (i + step) % len(OUTCOMES) < rest else 0)
                for i, key in enumerate(OUTCOMES)}
    return {
        "requests": requests, "accounts_specified": requests + requests // 3,
        "no_identifiers": requests // 20, **outcomes,
        "emergency": requests // 10, "emergency_verification_failed": requests // 40,
        "with_ndo": requests // 4, "customer_notified": requests // 2,
        "challenged": requests // 5, "challenges_won": requests // 12,
    }


def snapshot(countries: int = 60, **changes) -> dict:
    """A published report with `countries` countries of falling size, as the lead's snapshot holds it."""
    codes = ["US", "DE", "GB"] + [a + b for a, b in product(ascii_uppercase, repeat=2)
                                  if a + b not in ("US", "DE", "GB")]
    by_country = {code: figures(400 - 6 * i, i) for i, code in enumerate(codes[:countries])}
    totals = {key: sum(f[key] for f in by_country.values()) for key in figures(1)}
    report = {
        "period": "2026-H1", "revision": 1, "published_at": "2026-11-28T22:30:00Z", "reason": None,
        "starts_on": "2026-01-01", "ends_on": "2026-06-30", "totals": totals,
        "by_country": dict(sorted(by_country.items())),
        "by_process": {"subpoena": 400, "court_order": 100, "search_warrant": 300, "emergency": 60,
                       "mlat": 40, "cloud_act_order": 20, "epoc": 30, "local_order": 200, "informal": 0},
        "enterprise": {"requests": 400, "redirected": 120, "resolved_by_customer": 50,
                       "customer_notified": 300, "content_disclosed": 60, "non_content_disclosed": 90},
        "national_security": {"status": "published",
                              "nsl": {"requests": "0-499", "accounts": "0-499"},
                              "fisa_content": {"requests": "0-499", "accounts": "500-999"},
                              "fisa_non_content": {"requests": "0-499", "accounts": "0-499"}},
        "checkpoint": {"audit_seq": 1234, "audit_hash": "ab" * 32, "signed_at": "2026-11-28T22:30:01Z",
                       "algorithm": "Ed25519", "key_id": "0123456789abcdef", "signature": "A" * 86 + "=="},
    }
    report.update(changes)
    return report


def draft(countries: int = 3) -> dict:
    return snapshot(countries, revision=None, published_at=None, checkpoint=None,
                    national_security={"status": "deferred", "available_from": "2026-12-27"})


HISTORY = [
    {"revision": 1, "published_at": "2026-11-20T10:00:00Z", "reason": None,
     "pdf_sha256": "c" * 64, "json_sha256": "d" * 64},
    {"revision": 2, "published_at": "2026-11-28T22:30:00Z",
     "reason": "Two requests from CA were counted as US.", "pdf_sha256": "e" * 64, "json_sha256": "f" * 64},
]


def render_period(app, report, **context):
    context = {"history": HISTORY, "draft": False, "public_key_pem": PUBLIC_KEY, "urls": URLS,
               "can_publish": False, "publish_url": "/transparency/2026-H1/publish", **context}
    with app.test_request_context("/transparency/2026-H1"):
        return render_template("reports/period.html", report=report, **context)


def svg_tree(markup) -> ET.Element:
    root = ET.fromstring(str(markup))  # noqa: S314 - our own charts, the markup under test
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text")]


def plotted(root: ET.Element) -> list[ET.Element]:
    """The drawn rectangles, without the legend's swatches and the patterns' tiles."""
    legend = set(root.find(f"{SVG}g[@class='legend']").iter(f"{SVG}rect"))
    return [r for r in root.iter(f"{SVG}rect") if r.get("x") is not None and r not in legend]


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def pdf_pages(data: bytes, tmp_path) -> int:
    path = tmp_path / "count.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))


# ---- charts -------------------------------------------------------------------------

CHARTS = {
    "outcome_bars": lambda: charts.outcome_bars(snapshot(20)["by_country"]),
    "process_mix": lambda: charts.process_mix(snapshot(1)["by_process"]),
    "outcome_shares": lambda: charts.outcome_shares(snapshot(5)["totals"]),
    "trend": lambda: charts.trend([("2025-H2", figures(90)), ("2026-H1", figures(120))]),
}


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_each_chart_is_an_accessible_svg_image(name):
    root = svg_tree(CHARTS[name]())
    assert root.get("role") == "img"
    width, height = (float(v) for v in root.get("viewBox").split()[2:])
    assert width > 0 and height > 0
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title.text and desc.text
    assert root.get("aria-labelledby").split() == [title.get("id"), desc.get("id")]
    # Nothing to run and nothing to fetch: no script, no style sheet, no external reference.
    markup = str(CHARTS[name]())
    for banned in ("<script", "<style", "href=", "<image", "<foreignObject"):
        assert banned not in markup
    # Every shape lies inside the drawing.
    for rect in root.iter(f"{SVG}rect"):
        if rect.get("x") is not None:
            left, right = float(rect.get("x")), float(rect.get("x")) + float(rect.get("width"))
            assert left >= 0 and right <= width + 0.5


def test_every_outcome_has_its_own_pattern_or_fill():
    """No two outcomes share a pattern: printed in greyscale, or seen without colour, they still differ."""
    looks = {(fill, pattern) for fill, pattern, _ in charts.OUTCOME_STYLES.values()}
    assert len(looks) == len(Outcome)
    assert len({pattern for _, pattern, _ in charts.OUTCOME_STYLES.values()}) == len(Outcome)


def test_text_from_the_data_is_escaped():
    evil = '<script>alert("x")</script>'
    drawn = {
        "bars": charts.outcome_bars({evil: figures(10), "US": figures(5)}),
        "process": charts.process_mix({evil: 3, "subpoena": 1}),
        "trend": charts.trend([(evil, figures(4))]),
    }
    for name, svg in drawn.items():
        assert "<script" not in str(svg), name
        assert "&lt;script&gt;" in str(svg), name
        assert evil in texts(svg_tree(svg)), name  # shown as the text it is
    assert charts.process_label(evil) == evil  # an unknown type is named by its key, escaped on output


def test_countries_beyond_the_limit_are_summed_as_other():
    by_country = {code: figures(n) for code, n in [("AA", 5), ("BB", 50), ("CC", 7), ("DD", 40), ("EE", 1)]}
    labels = texts(svg_tree(charts.outcome_bars(by_country, limit=2)))
    assert labels.index("BB") < labels.index("DD") < labels.index("Other (3)")
    for hidden in ("AA", "CC", "EE"):
        assert hidden not in labels
    assert "13" in labels  # 5 + 7 + 1, the Other bar's total

    everyone = texts(svg_tree(charts.outcome_bars(by_country)))
    assert not any(label.startswith("Other") for label in everyone)
    assert {"AA", "BB", "CC", "DD", "EE"} <= set(everyone)


def test_bars_are_drawn_to_scale():
    root = svg_tree(charts.outcome_bars({"US": figures(70), "DE": figures(35)}))
    rows = {}
    for rect in plotted(root):
        rows.setdefault(rect.get("y"), []).append(float(rect.get("width")))
    us, de = sorted((sum(widths) for widths in rows.values()), reverse=True)
    assert us == pytest.approx(2 * de, rel=0.01)


@pytest.mark.parametrize("periods", [1, 10])
def test_trend_draws_every_period(periods):
    names = [f"{2021 + i // 2}-H{i % 2 + 1}" for i in range(periods)]
    points = [(name, figures(100 + 10 * i)) for i, name in enumerate(names)]
    root = svg_tree(charts.trend(points))
    labels = texts(root)
    for name, (_, fig) in zip(names, points, strict=True):
        year, half = name.split("-")
        assert year in labels and half in labels
        assert f"{fig['requests']:,}" in labels
    width = float(root.get("viewBox").split()[2])
    stacked = plotted(root)
    assert len(stacked) == periods * len(Outcome)  # every outcome of every period has a segment
    assert all(0 <= float(r.get("x")) <= width for r in stacked)


def test_zero_totals_do_not_divide_by_zero():
    zeros = dict.fromkeys([*OUTCOMES, "requests", "accounts_specified", "no_identifiers", *OTHERS], 0)
    shares = texts(svg_tree(charts.outcome_shares(zeros)))
    assert shares.count("0%") == len(Outcome)
    assert "No requests in this period." in texts(svg_tree(charts.outcome_bars({"US": zeros})))
    assert "No requests in this period." in texts(svg_tree(charts.outcome_bars({})))
    assert "0" in texts(svg_tree(charts.process_mix(dict.fromkeys(["subpoena", "mlat"], 0))))
    assert "0" in texts(svg_tree(charts.trend([("2026-H1", zeros)])))
    assert "No period has been published yet." in texts(svg_tree(charts.trend([])))


def test_percentages_round_and_never_hide_a_small_share():
    assert charts.percent(0, 0) == "0%"
    assert charts.percent(1, 1000) == "<1%"
    assert charts.percent(1, 2) == "50%"
    assert charts.percent(2, 3) == "67%"
    assert charts.percent(1, 8) == "13%"  # 12.5 rounds up, not to even


def test_national_security_process_is_never_drawn():
    """Those counts are reported only in bands; a bar would give the exact number away."""
    labels = texts(svg_tree(charts.process_mix({"nsl": 7, "fisa_order": 3, "subpoena": 1})))
    assert "Subpoena" in labels
    assert not any("National security" in t or "FISA" in t for t in labels)
    assert "7" not in labels and "3" not in labels


# ---- pages ---------------------------------------------------------------------------


class Outline(HTMLParser):
    """Headings in order, tables and their captions, header cells and their scope."""

    def __init__(self):
        super().__init__()
        self.headings, self.tables, self.unscoped, self.svgs = [], [], [], 0
        self._in = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("h1", "h2", "h3", "h4"):
            self.headings.append(int(tag[1]))
        elif tag == "table":
            self.tables.append(None)
        elif tag == "caption":
            self._in = "caption"
            self.tables[-1] = ""
        elif tag == "th" and "scope" not in attrs:
            self.unscoped.append(attrs)
        elif tag == "svg":
            self.svgs += 1
            assert attrs.get("role") == "img"

    def handle_data(self, data):
        if self._in == "caption":
            self.tables[-1] += data

    def handle_endtag(self, tag):
        if tag == "caption":
            self._in = None


def outline(html: str) -> Outline:
    parsed = Outline()
    parsed.feed(html)
    return parsed


@only_sqlite
def test_period_page_shows_every_country_and_all_sixteen_figures(app):
    report = snapshot(60)
    html = render_period(app, report)
    body = html[html.index('class="figures by-country"'):]
    body = body[:body.index("</table>")]
    for code, fig in report["by_country"].items():
        row = body[body.index(f'<th scope="row" class="cc"><span class="name">{country_name(code)}</span>'):]
        row = row[:row.index("</tr>")]
        assert row.count("<td") == 16
        assert f">{fig['requests']:,}<" in row and f">{fig['challenges_won']:,}<" in row
    assert f">{report['totals']['requests']:,}<" in body  # the total row
    assert "Draft, not published" not in html
    assert 'name="reason"' not in html  # no publish form for the public
    # What the page must say, in words.
    for words in ("Transparency report 2026-H1", "1 January 2026", "30 June 2026",
                  "Revision 1", "28 November 2026, 22:30 UTC", "Outcomes of all requests",
                  "Requests touching enterprise customers", "National-security demands, in bands of 500",
                  "500-999", "180 days", "Accounts specified", "added up over the requests",
                  "counted once, in the period in which we received it",
                  "as it stood when the report was published",
                  "counted in no other figure", "ab" * 32, "0123456789abcdef", "1,234", "Ed25519",
                  "BEGIN PUBLIC KEY", "Two requests from CA were counted as US.", "e" * 64):
        assert words in html, words
    for url in URLS.values():
        assert f'href="{url}"' in html


@only_sqlite
def test_period_page_is_outlined_for_assistive_technology(app):
    page = outline(render_period(app, snapshot(8)))
    assert page.headings[0] == 1 and page.headings.count(1) == 1
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        assert after <= before + 1, page.headings  # no level skipped
    assert page.tables and all(caption and caption.strip() for caption in page.tables)
    assert page.unscoped == []
    assert page.svgs == 3  # shares, by country, legal process: each beside its table


@only_sqlite
def test_draft_page_warns_and_offers_publication_to_those_who_may(app):
    html = render_period(app, draft(), draft=True, history=[], can_publish=True)
    assert "Draft, not published." in html
    assert "Not signed yet" in html
    assert "Deferred until" in html and "27 December 2026" in html and "180 days" in html
    assert "National-security demands, in bands of 500" not in html
    form = html[html.index("<form method=\"post\" action=\"/transparency/2026-H1/publish\""):]
    form = form[:form.index("</form>")]
    assert 'name="csrf_token"' in form and 'name="reason"' in form

    public = render_period(app, draft(), draft=True, history=[], can_publish=False)
    assert "<form method=\"post\" action=\"/transparency/2026-H1/publish\"" not in public

    error = "2026-H1 is already published; a correction needs a stated reason."
    refused = render_period(app, draft(), draft=True, history=[], can_publish=True, publish_error=error)
    assert 'aria-invalid="true"' in refused
    assert f'id="publish-reason-error">{error}' in refused


@only_sqlite
def test_page_escapes_values_from_the_report(app):
    evil = '<img src="x" onerror="alert(1)">'
    report = snapshot(2, reason=evil)
    report["by_country"][evil] = figures(3)
    html = render_period(app, report)
    assert evil not in html
    assert "&lt;img src=&#34;x&#34; onerror=&#34;alert(1)&#34;&gt;" in html


@only_sqlite
def test_process_table_and_chart_leave_out_national_security(app):
    report = draft(2)
    report["by_process"] = {**report["by_process"], "nsl": 9, "fisa_order": 4}
    html = render_period(app, report)
    section = html[html.index('id="process"'):html.index('id="enterprise"')]
    assert "Subpoena" in section
    assert "National security letter" not in section and "FISA" not in section


@only_sqlite
def test_index_lists_published_periods_with_links_and_the_trend(app):
    periods = [{"period": p, "revision": r, "published_at": "2026-11-28T22:30:00Z", "totals": figures(n)}
               for p, r, n in [("2026-H1", 2, 120), ("2025-H2", 1, 90)]]
    trend = charts.trend([(p["period"], p["totals"]) for p in reversed(periods)])
    with app.test_request_context("/transparency"):
        html = render_template("reports/index.html", periods=periods, trend_svg=trend)
    assert 'href="/transparency/2026-H1"' in html and 'href="/transparency/2025-H2"' in html
    assert html.index("2026-H1</a>") < html.index("2025-H2</a>")  # newest first
    assert "revision 2" in html and ">120<" in html and ">90<" in html
    assert str(trend) in html
    page = outline(html)
    assert page.unscoped == [] and all(page.tables)

    with app.test_request_context("/transparency"):
        empty = render_template("reports/index.html", periods=[], trend_svg=charts.trend([]))
    assert "No report has been published yet." in empty


@only_sqlite
@pytest.mark.skipif(not (shutil.which("jq") and shutil.which("openssl") and shutil.which("bash")),
                    reason="jq, openssl and bash are needed to run the page's commands")
def test_the_pages_verification_commands_check_a_real_checkpoint(app, tmp_path):
    """The commands the page prints verify a revision really published, and fail on a changed figure."""
    period = transparency.Period.parse("2026-H1")
    row = transparency.publish(period, TEST_ACTOR, None, datetime(2026, 11, 28, 22, 30, tzinfo=UTC))
    key = signing.public_key_pem()
    page = render_period(app, row.snapshot, history=transparency.history(period), public_key_pem=key)
    script = unescape(re.search(r'<pre class="command"[^>]*><code>(.*?)</code></pre>', page, re.S).group(1))
    (tmp_path / "checkpoint-key.pem").write_text(key)

    def check(report_json: str) -> subprocess.CompletedProcess:
        (tmp_path / "report.json").write_text(report_json)
        return subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                              timeout=30)

    genuine = check(row.json_text)
    assert genuine.returncode == 0 and "Signature Verified Successfully" in genuine.stdout, genuine
    altered = json.loads(row.json_text)
    altered["totals"]["rejected"] += 1
    forged = check(json.dumps(altered, indent=2, sort_keys=True))
    assert forged.returncode != 0 and "Signature Verified Successfully" not in forged.stdout


# ---- the PDF -----------------------------------------------------------------------------


@pytest.mark.slow
@only_sqlite
@needs_poppler
def test_pdf_of_sixty_countries_spans_pages_with_numbers_and_repeated_headers(app, tmp_path):
    report = snapshot(60)
    data = pdf.render("reports/report_pdf.html", report=report, history=HISTORY,
                      public_key_pem=PUBLIC_KEY, generated_by="Due Process test")
    assert data.startswith(b"%PDF")
    pages = pdf_pages(data, tmp_path)
    assert pages > 1
    text = pdf_text(data, tmp_path)
    per_page = text.split("\f")
    assert "Page 1 of" in per_page[0] and f"Page {pages} of {pages}" in text
    assert f"{report['totals']['requests']:,}" in text
    assert f"{report['totals']['accounts_specified']:,}" in text
    # The country table's header is repeated on every page the table spans.
    with_header = [page for page in per_page if "Requests that were" in page]
    assert len(with_header) >= 2
    assert all("Country" in page and "Challenges" in page for page in with_header)
    words = " ".join(text.split())
    assert "Two requests from CA were counted as US." in words and "0123456789abcdef" in words


@only_sqlite
@needs_poppler
def test_pdf_of_a_draft_says_so(app, tmp_path):
    data = pdf.render("reports/report_pdf.html", report=draft(), history=[], public_key_pem=PUBLIC_KEY,
                      generated_by="Due Process test")
    text = " ".join(pdf_text(data, tmp_path).split())
    assert "Draft, not published." in text
    assert "Deferred until 27 December 2026." in text
    assert "Not signed yet" in text


# ---- the fetcher ---------------------------------------------------------------------------

HOSTILE = """<!doctype html>
<html><head>
<link rel="stylesheet" href="static/report_pdf.css">
<link rel="stylesheet" href="http://169.254.169.254/latest/meta-data/">
<link rel="stylesheet" href="static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd">
<link rel="stylesheet" href="https://static.invalid/static/../../etc/passwd">
<link rel="attachment" href="file:///etc/passwd">
</head><body>
<p>Hostile</p>
<img src="file:///etc/passwd" alt="">
<img src="static/report.css/../../../../../etc/hostname" alt="">
<div style="background: url(file:///etc/passwd); height: 20px">styled</div>
<p>{{ value }}</p>
</body></html>
"""
REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "file:///etc/passwd",
    "https://static.invalid/static/../../etc/passwd",  # absolute: reaches the fetcher as written
    "https://static.invalid/etc/hostname",  # relative: the ../ folded by URL joining, out of /static/
    "https://static.invalid/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
]


class RecordingFetcher(pdf.StaticFetcher):
    """The real fetcher, noting what it was asked and whether it answered."""

    calls: list = []

    def fetch(self, url, headers=None):
        try:
            response = super().fetch(url, headers)
        except Exception:
            self.calls.append((url, "refused"))
            raise
        self.calls.append((url, "served"))
        return response


@only_sqlite
@needs_poppler
def test_pdf_fetches_nothing_but_bundled_static_files(app, tmp_path, monkeypatch):
    app.jinja_env.loader = ChoiceLoader([DictLoader({"hostile.html": HOSTILE}),
                                                app.jinja_env.loader])
    monkeypatch.setattr(pdf, "StaticFetcher", RecordingFetcher)
    monkeypatch.setattr(RecordingFetcher, "calls", [])
    value = '<img src="file:///etc/passwd"><link rel="stylesheet" href="http://169.254.169.254/latest/meta-data/">'

    data = pdf.render("hostile.html", value=value)

    calls = dict(RecordingFetcher.calls)
    assert calls.pop(pdf.BASE_URL + "static/report_pdf.css") == "served"
    for url in REFUSED:
        assert calls.get(url) == "refused", (url, RecordingFetcher.calls)
    assert set(calls.values()) == {"refused"}  # nothing else was served
    text = pdf_text(data, tmp_path)
    assert "Hostile" in text
    assert value in " ".join(text.split())  # the data value came out as text, not as elements
    assert "root:" not in text
    path = tmp_path / "hostile.pdf"
    path.write_bytes(data)
    attached = subprocess.run(["pdfdetach", "-list", str(path)], capture_output=True, text=True)
    if attached.returncode == 0:
        assert attached.stdout.startswith("0 embedded files"), attached.stdout


@only_sqlite
def test_fetcher_resolves_only_existing_files_inside_the_static_folder(app, tmp_path):
    fetcher = pdf.StaticFetcher(app.static_folder)
    served = fetcher.fetch(pdf.BASE_URL + "static/report_pdf.css")
    assert served.read().startswith(b"/*") and served.content_type == "text/css"
    for url in [
        "file:///etc/passwd", "http://169.254.169.254/latest/meta-data/", "data:text/plain,root:x",
        "https://static.invalid/etc/passwd", "https://elsewhere.example/static/report_pdf.css",
        "http://static.invalid/static/report_pdf.css", "https://static.invalid/static/report_pdf.css?x=1",
        "https://static.invalid/static/../app.py", "https://static.invalid/static/%2e%2e/app.py",
        "https://static.invalid/static/..%2fapp.py", "https://static.invalid/static/..%5capp.py",
        "https://static.invalid/static/", "https://static.invalid/static/missing.css",
        "https://static.invalid/static/report_pdf.css%00.png", "//static.invalid/static/report_pdf.css",
        "static/report_pdf.css",
    ]:
        with pytest.raises(pdf.Refused):
            fetcher.fetch(url)


def test_fetcher_refuses_a_symlink_out_of_its_folder(tmp_path):
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "ok.css").write_text("p {}")
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0")
    (folder / "link.css").symlink_to(secret)
    (folder / "sub").mkdir()
    fetcher = pdf.StaticFetcher(folder)
    assert fetcher.fetch(pdf.BASE_URL + "static/ok.css").read() == b"p {}"
    for name in ("link.css", "sub", "sub/"):
        with pytest.raises(pdf.Refused):
            fetcher.fetch(pdf.BASE_URL + "static/" + name)
