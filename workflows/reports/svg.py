"""The drawing under the report's charts: an accessible <svg> (a title and a
description), text, boxes and gridlines as markup, and how wide a text is drawn,
so that no label runs past its chart. Presentation attributes only: the pages' CSP
allows no inline CSS. Every text from the data is escaped here."""

import math
import re

from markupsafe import Markup, escape

INK = "#1b1f24"
MUTED = "#57606a"
GRID = "#d0d7de"
FONT = "Liberation Sans, Helvetica, Arial, sans-serif"
# Charts are drawn small, at about the size they are read: the pages and the PDF enlarge
# them a little at most, and a phone shrinks them by a fifth, not by half, so their text
# stays legible everywhere (report.css, report_pdf.css).
TEXT = 13
SMALL = 11


def open_chart(ident: str, width: int, height: float, title: str, desc: str) -> list[str]:
    i = escape(ident)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height:.0f}" '
        f'width="{width}" height="{height:.0f}" role="img" aria-labelledby="{i}-title {i}-desc" '
        f'font-family="{FONT}" font-size="{TEXT}" fill="{INK}">',
        f'<title id="{i}-title">{escape(title)}</title><desc id="{i}-desc">{escape(desc)}</desc>',
    ]


def close(parts: list[str]) -> Markup:
    parts.append("</svg>")
    # Safe to mark: every text and attribute value from the data went through escape() above.
    return Markup("".join(parts))  # noqa: S704


def vertical_grid(ticks: list[int], x0: float, scale: float, y0: float, y1: float) -> str:
    lines = []
    for tick in ticks:
        x = x0 + tick * scale
        lines.append(f'<line x1="{x:.1f}" y1="{y0 + 6:.1f}" x2="{x:.1f}" y2="{y1:.1f}" stroke="{GRID}" '
                     f'stroke-width="1"/>')
        lines.append(text(x, y0, f"{tick:,}", anchor="middle", fill=MUTED, size=SMALL))
    return "".join(lines)


# Advance widths in em of DejaVu Sans, the widest of the fonts a chart may be drawn in
# (FONT names narrower ones first; DejaVu is what a Linux reader or the PDF falls back
# to), rounded up by class of character. A label column sized by them never clips.
_EM = {**dict.fromkeys("ijlIJ'|", 0.29), **dict.fromkeys(" ,.:;!", 0.32), **dict.fromkeys("f-", 0.36),
       **dict.fromkeys("()t[]", 0.40), "r": 0.42, **dict.fromkeys("csz", 0.56),
       **dict.fromkeys("abdeghknopquvxy0123456789LFPTYS?", 0.64), **dict.fromkeys("mwMW%", 0.99)}
_EM_OTHER = 0.80  # capitals and anything else
_BOLD = 1.16  # DejaVu Sans Bold over Book, at most


def text_width(text: str, size: int = TEXT, bold: bool = False) -> float:
    """How wide `text` is drawn at `size`, at most, in the chart's units."""
    return sum(_EM.get(c, _EM_OTHER) for c in str(text)) * size * (_BOLD if bold else 1)


def rect(x: float, y: float, w: float, h: float, fill: str) -> str:
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}" '
            f'stroke="{INK}" stroke-width="0.75"/>')


def text(x: float, y: float, text, anchor: str = "start", weight: str | None = None,
          fill: str | None = None, size: int | None = None) -> str:
    extra = ""
    if anchor != "start":
        extra += f' text-anchor="{anchor}"'
    if weight:
        extra += f' font-weight="{weight}"'
    if fill:
        extra += f' fill="{fill}"'
    if size:
        extra += f' font-size="{size}"'
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(text)}</text>'


def note(width: int, y: float, words: str) -> str:
    return text(width / 2, y, words, anchor="middle", fill=MUTED)


def ticks(top: int, count: int = 5) -> list[int]:
    """Round gridline values from 0 to at least `top` (steps of 1, 2 or 5 times a power of ten)."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, round(step))
    return list(range(0, math.ceil(top / step) * step + 1, step))



_TITLE_AND_DESC = re.compile(r'(<title id="[^"<]*">)([^<]*)(</title><desc id="[^"<]*">)([^<]*)(</desc>)')


def pdf_alt(svg: Markup) -> Markup:
    """The chart with its description in its title as well: a tagged PDF takes a
    figure's alternative text from the title alone (the page reads both)."""
    # Safe to mark: both parts were escaped when the chart was drawn, and are only joined.
    return Markup(_TITLE_AND_DESC.sub(r"\1\2. \4\3\4\5", str(svg), count=1))  # noqa: S704
