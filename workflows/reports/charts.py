"""The transparency report's charts, drawn on the server as SVG markup.

No JavaScript and no fetched resources: each chart is a self-contained <svg> with a
title and a description, styled by presentation attributes only (the pages' CSP
allows no inline CSS). Outcomes are told apart by pattern as well as colour, so a
chart still reads printed in greyscale, and every segment is outlined in ink so a
pale fill stays visible on white. Each chart's numbers are also in a table beside it
(in the templates), for screen readers and for anyone who wants the figures.

Every function is pure: plain values in, Markup out. Text from the data (country
codes, period names, process labels) is escaped before it goes into the markup.
"""

import math
from types import SimpleNamespace

from markupsafe import Markup, escape

from models.terms import PROCESS_LABELS, ProcessType
from workflows.cases import Outcome
from workflows.reports import svg
from workflows.reports.countries import by_name, country_name

OUTCOME_LABELS = {
    Outcome.CONTENT_DISCLOSED: "Content disclosed",
    Outcome.NON_CONTENT_DISCLOSED: "Non-content disclosed",
    Outcome.NO_DATA_FOUND: "No data found",
    Outcome.REJECTED: "Rejected",
    Outcome.RESOLVED_BY_CUSTOMER: "Resolved by customer",
    Outcome.WITHDRAWN: "Withdrawn",
    Outcome.PENDING: "Pending",
}
# The sixteen figures given in total and per country (DESIGN sections 9 and 11.6), in table order.
FIGURE_LABELS = {
    "requests": "Requests",
    "accounts_specified": "Accounts specified",
    "no_identifiers": "Naming no account",
    **{o.value: label for o, label in OUTCOME_LABELS.items()},
    "emergency": "Emergency",
    "emergency_verification_failed": "Emergency, call-back failed",
    "with_ndo": "Under non-disclosure order",
    "customer_notified": "Customer notified",
    "challenged": "Challenged",
    "challenges_won": "Challenges won",
}
ENTERPRISE_LABELS = {
    "requests": "Requests touching enterprise customers",
    "redirected": "Redirected to the customer",
    "resolved_by_customer": "Resolved by the customer",
    "customer_notified": "Customer notified",
    "content_disclosed": "Content disclosed",
    "non_content_disclosed": "Non-content disclosed",
}

# Short, so the table fits a phone; the definitions say what each means.
PRESERVATION_LABELS = {
    "requests": "Received",
    "extended": "Extended",
    "converted": "Followed up",
    "expired": "Ran out",
}

BAR = "#1f3a5f"
WIDTH = 400  # each chart's width in its own units (svg.TEXT says why it is small)

# Fill, pattern drawn over it, and the pattern's ink. No two outcomes share a pattern,
# so hue is never the only difference: rejected (red) and resolved by customer (green)
# also differ in lightness and in pattern, for readers who cannot tell the two apart.
OUTCOME_STYLES = {
    Outcome.CONTENT_DISCLOSED: ("#1f3a5f", None, None),
    Outcome.NON_CONTENT_DISCLOSED: ("#4f7fbf", "rising", "#ffffff"),
    Outcome.NO_DATA_FOUND: ("#d0d7de", "dots", svg.INK),
    Outcome.REJECTED: ("#a8321e", "level", "#ffffff"),
    Outcome.RESOLVED_BY_CUSTOMER: ("#2f7d5b", "cross", "#ffffff"),
    Outcome.WITHDRAWN: ("#f0c24b", "falling", svg.INK),
    Outcome.PENDING: ("#ffffff", "upright", svg.INK),
}
PATTERN_MARKS = {
    "rising": '<path d="M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4" stroke="{ink}" stroke-width="1.6"/>',
    "falling": '<path d="M-2,6 l4,4 M0,0 l8,8 M6,-2 l4,4" stroke="{ink}" stroke-width="1.6"/>',
    "cross": '<path d="M0,0 l8,8 M8,0 l-8,8" stroke="{ink}" stroke-width="1.2"/>',
    "level": '<path d="M0,4 h8" stroke="{ink}" stroke-width="1.6"/>',
    "upright": '<path d="M4,0 v8" stroke="{ink}" stroke-width="1.2"/>',
    "dots": '<circle cx="4" cy="4" r="1.4" fill="{ink}"/>',
}


def outcome_bars(by_country: dict, limit: int = 15, ident: str = "chart-by-country") -> Markup:
    """Horizontal bars per country, stacked by outcome; most requests first, the rest as "Other"."""
    rows = sorted(by_country.items(), key=lambda item: (-_requests(item[1]), str(item[0])))
    shown, rest = rows[:max(limit, 0)], rows[max(limit, 0):]
    if rest:
        other = {o.value: sum(_count(fig, o.value) for _, fig in rest) for o in Outcome}
        other["requests"] = sum(_requests(fig) for _, fig in rest)
        shown.append((f"Other ({len(rest)})", other))

    label_w = 12 + max((svg.text_width(name) for name, _ in shown), default=0)
    count_w = 10 + max((svg.text_width(f"{_requests(fig):,}", bold=True) for _, fig in shown), default=0)
    row_h = 22
    top = _legend_height() + 20
    height = top + max(len(shown), 1) * row_h + 6
    plot = (label_w, WIDTH - count_w)

    summary = f"{len(rows)} countries"
    if rows:
        first, figures = rows[0]
        summary += f"; most requests: {first}, {_requests(figures):,}"
    if rest:
        summary += (f"; the {len(shown) - 1} with most requests are shown, "
                    f"the other {len(rest)} summed as Other")
    parts = svg.open_chart(ident, WIDTH, height, "Requests by country, by outcome",
                  f"Horizontal bars, one per country, divided by outcome. {summary}.")
    parts.append(_patterns(ident))
    parts.append(_legend(ident, WIDTH, 0))
    biggest = max((_requests(fig) for _, fig in shown), default=0)
    if biggest == 0:
        parts.append(svg.note(WIDTH, top + 16, "No requests in this period."))
        return svg.close(parts)
    ticks = svg.ticks(biggest, 4)
    scale = (plot[1] - plot[0]) / ticks[-1]
    parts.append(svg.vertical_grid(ticks, plot[0], scale, top - 6, height - 6))
    for i, (name, figures) in enumerate(shown):
        y = top + i * row_h
        parts.append(svg.text(label_w - 6, y + 15, name, anchor="end"))
        x = plot[0]
        for outcome in Outcome:
            w = _count(figures, outcome.value) * scale
            if w > 0:
                parts.append(svg.rect(x, y + 4, w, row_h - 8, _fill(ident, outcome)))
                x += w
        parts.append(svg.text(x + 5, y + 15, f"{_requests(figures):,}", weight="bold"))
    return svg.close(parts)


def process_mix(by_process: dict, ident: str = "chart-process") -> Markup:
    """Horizontal bars of requests per legal process type, labelled, with counts."""
    order = list(ProcessType)
    rows = []
    for key, n in by_process.items():
        kind = _process_type(key)
        if kind is not None and kind.is_national_security:
            # National-security process is reported only in bands (DESIGN section 6);
            # a count here would defeat that, so it is never drawn, whatever comes in.
            continue
        label = PROCESS_LABELS[kind] if kind is not None else str(key)
        rows.append((label, int(n or 0), order.index(kind) if kind is not None else len(order)))
    rows.sort(key=lambda r: (-r[1], r[2], r[0]))

    label_w = 12 + max((svg.text_width(label) for label, _, _ in rows), default=0)
    count_w = 10 + max((svg.text_width(f"{n:,}", bold=True) for _, n, _ in rows), default=0)
    width, row_h, top = max(WIDTH, round(label_w + count_w + 150)), 22, 20
    height = top + max(len(rows), 1) * row_h + 6
    total = sum(n for _, n, _ in rows)
    desc = f"Horizontal bars, one per type of legal process; {total:,} requests in all."
    if rows and total:
        desc += f" Most common: {rows[0][0]}, {rows[0][1]:,}."
    parts = svg.open_chart(ident, width, height, "Requests by type of legal process", desc)
    if not rows:
        parts.append(svg.note(width, top + 16, "No requests in this period."))
        return svg.close(parts)
    ticks = svg.ticks(max(n for _, n, _ in rows), 4)
    scale = (width - count_w - label_w) / ticks[-1]
    parts.append(svg.vertical_grid(ticks, label_w, scale, top - 6, height - 6))
    for i, (label, n, _) in enumerate(rows):
        y = top + i * row_h
        parts.append(svg.text(label_w - 6, y + 15, label, anchor="end"))
        if n:
            parts.append(svg.rect(label_w, y + 4, n * scale, row_h - 8, BAR))
        parts.append(svg.text(label_w + n * scale + 5, y + 15, f"{n:,}", weight="bold"))
    return svg.close(parts)


def outcome_shares(totals: dict, ident: str = "chart-shares") -> Markup:
    """A small bar per outcome, its share of all requests, with the percentage and the count."""
    counts = [(o, _count(totals, o.value)) for o in Outcome]
    total = sum(n for _, n in counts)
    label_w = 12 + max(svg.text_width(label) for label in OUTCOME_LABELS.values())
    pct_w = 16 + svg.text_width("100%", bold=True) + svg.text_width(f"({max(total, 1):,})")
    width, row_h, top = max(WIDTH, round(label_w + pct_w + 120)), 24, 4
    height = top + len(counts) * row_h + 4
    shares = ", ".join(f"{OUTCOME_LABELS[o]} {percent(n, total)}" for o, n in counts)
    desc = (f"Share of the {total:,} requests by outcome: {shares}." if total
            else "No requests in this period, so no outcome has a share.")
    parts = svg.open_chart(ident, width, height, "Outcomes as a share of all requests", desc)
    parts.append(_patterns(ident))
    span = width - label_w - pct_w
    for i, (outcome, n) in enumerate(counts):
        y = top + i * row_h
        parts.append(svg.text(label_w - 6, y + 16, OUTCOME_LABELS[outcome], anchor="end"))
        # The full track in outline, so a small share is seen against the whole.
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{span}" height="{row_h - 8}" '
                     f'fill="#f6f8fa" stroke="{svg.GRID}" stroke-width="1"/>')
        if total and n:
            parts.append(svg.rect(label_w, y + 4, span * n / total, row_h - 8, _fill(ident, outcome)))
        parts.append(svg.text(width - pct_w + 6, y + 16, percent(n, total), weight="bold"))
        parts.append(svg.text(width - pct_w + 10 + svg.text_width("100%", bold=True), y + 16, f"({n:,})",
                           fill=svg.MUTED))
    return svg.close(parts)


def trend(points: list[tuple[str, dict]], ident: str = "chart-trend") -> Markup:
    """Requests per period as vertical bars stacked by outcome, oldest period first."""
    axis_w, plot_h, bottom_h = 40, 160, 34
    top = _legend_height() + 24
    height = top + plot_h + bottom_h
    base = top + plot_h
    totals = [_requests(fig) for _, fig in points]
    if points:
        span = f"{points[0][0]} to {points[-1][0]}" if len(points) > 1 else str(points[0][0])
        desc = (f"Vertical bars, one per period ({span}), divided by outcome. Requests: "
                + ", ".join(f"{name} {n:,}" for (name, _), n in zip(points, totals, strict=True)) + ".")
    else:
        desc = "No period has been published yet."
    parts = svg.open_chart(ident, WIDTH, height, "Requests per period, by outcome", desc)
    parts.append(_patterns(ident))
    parts.append(_legend(ident, WIDTH, 0))
    if not points:
        parts.append(svg.note(WIDTH, top + 20, "No period has been published yet."))
        return svg.close(parts)
    ticks = svg.ticks(max(totals), 4)
    scale = plot_h / ticks[-1]
    for tick in ticks:
        y = base - tick * scale
        parts.append(f'<line x1="{axis_w}" y1="{y:.1f}" x2="{WIDTH}" y2="{y:.1f}" stroke="{svg.GRID}" '
                     f'stroke-width="1"/>')
        parts.append(svg.text(axis_w - 5, y + 4, f"{tick:,}", anchor="end", fill=svg.MUTED, size=svg.SMALL))
    slot = (WIDTH - axis_w) / len(points)
    bar_w = min(48.0, slot * 0.6)
    crowded = slot < 60  # ten periods leave about 44 units each
    for i, (name, figures) in enumerate(points):
        centre = axis_w + slot * i + slot / 2
        y = base
        for outcome in Outcome:
            h = _count(figures, outcome.value) * scale
            if h > 0:
                y -= h
                parts.append(svg.rect(centre - bar_w / 2, y, bar_w, h, _fill(ident, outcome)))
        size = svg.SMALL if crowded else None
        parts.append(svg.text(centre, y - 4, f"{totals[i]:,}", anchor="middle", weight="bold", size=size))
        # "2025-H2" on two lines, year over half, so ten of them fit side by side.
        year, dash, half = str(name).partition("-")
        lines = [year, half] if dash else [name]
        for n, line in enumerate(lines):
            parts.append(svg.text(centre, base + 15 + 14 * n, line, anchor="middle", size=size))
    parts.append(f'<line x1="{axis_w}" y1="{base}" x2="{WIDTH}" y2="{base}" stroke="{svg.INK}" '
                 f'stroke-width="1"/>')
    return svg.close(parts)


def percent(n: int, total: int) -> str:
    """A whole-number percentage; a share too small to round to 1% is "<1%", never "0%"."""
    if not total or not n:
        return "0%"
    share = 100 * n / total
    return "<1%" if share < 0.5 else f"{math.floor(share + 0.5)}%"


def process_label(key: str) -> str:
    kind = _process_type(key)
    return PROCESS_LABELS[kind] if kind is not None else str(key)


def init_app(app) -> None:
    """Let the report templates (pages and PDF) draw charts and name the figures."""
    app.jinja_env.filters["pdf_alt"] = svg.pdf_alt
    app.jinja_env.globals["charts"] = SimpleNamespace(
        outcome_bars=outcome_bars, process_mix=process_mix, outcome_shares=outcome_shares, trend=trend,
        percent=percent, process_label=process_label,
        outcomes=[(o.value, label) for o, label in OUTCOME_LABELS.items()],
        figures=list(FIGURE_LABELS.items()), enterprise=list(ENTERPRISE_LABELS.items()),
        preservation=list(PRESERVATION_LABELS.items()), country_name=country_name, by_name=by_name,
    )


# ---- drawing: what the outcomes look like -----------------------------------


def _patterns(ident: str) -> str:
    defs = []
    for outcome, (fill, kind, ink) in OUTCOME_STYLES.items():
        if kind is None:
            continue
        defs.append(f'<pattern id="{escape(ident)}-{outcome.value}" width="8" height="8" '
                    f'patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="{fill}"/>'
                    f'{PATTERN_MARKS[kind].format(ink=ink)}</pattern>')
    return f"<defs>{''.join(defs)}</defs>"


def _fill(ident: str, outcome: Outcome) -> str:
    fill, kind, _ = OUTCOME_STYLES[outcome]
    return fill if kind is None else f"url(#{escape(ident)}-{outcome.value})"


LEGEND_COLUMNS = 2
LEGEND_ROW = 20


def _legend_height() -> int:
    return math.ceil(len(OUTCOME_LABELS) / LEGEND_COLUMNS) * LEGEND_ROW


def _legend(ident: str, width: int, y: float) -> str:
    column = width / LEGEND_COLUMNS
    items = []
    for i, (outcome, label) in enumerate(OUTCOME_LABELS.items()):
        x, row_y = (i % LEGEND_COLUMNS) * column, y + (i // LEGEND_COLUMNS) * LEGEND_ROW
        items.append(svg.rect(x + 1, row_y + 3, 14, 14, _fill(ident, outcome)))
        items.append(svg.text(x + 20, row_y + 15, label, size=12))
    return f'<g class="legend">{"".join(items)}</g>'


def _count(figures: dict, key: str) -> int:
    return int(figures.get(key) or 0)


def _requests(figures: dict) -> int:
    if "requests" in figures:
        return _count(figures, "requests")
    return sum(_count(figures, o.value) for o in Outcome)


def _process_type(key) -> ProcessType | None:
    try:
        return ProcessType(key)
    except ValueError:
        return None
