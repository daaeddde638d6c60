"""PDF documents from Jinja templates, through WeasyPrint, fetching nothing but our own CSS.

WeasyPrint follows every URL a document names: stylesheets, images, fonts, SVG
references, <link rel=attachment>. Left to its default fetcher it would read
file:///etc/passwd or a cloud metadata address for anyone who gets a URL into a
template or a figure. So the document is given a base URL under a reserved name
(.invalid never resolves), and the fetcher answers only for paths under its /static/,
from the app's static folder, existing regular files only, and refuses everything
else before any I/O: other schemes, other hosts, ../ escapes, symlinks out of the
folder.

data: URLs are refused too. The report needs none (its charts are inline SVG, its
CSS a static file), and allowing them would let whoever reaches a template hand the
image decoders arbitrary bytes. The rule stays what DESIGN section 8 says: bundled
static files and nothing else.
"""

import mimetypes
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

BASE_URL = "https://static.invalid/"
STATIC_PATH = "/static/"


class Refused(ValueError):
    """A URL outside the bundled static files. WeasyPrint catches it and skips the resource."""


class StaticFetcher(URLFetcher):
    """Serves files of one folder for URLs under BASE_URL's /static/; refuses any other URL."""

    def __init__(self, folder):
        # No protocol allowed and no redirects: the parent's handlers are never reached
        # (fetch below does not call them), and would refuse anyway if they were.
        super().__init__(allowed_protocols=(), allow_redirects=False)
        self.folder = Path(folder).resolve()

    def fetch(self, url, headers=None):
        path = self.resolve(url)
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": kind})

    def resolve(self, url: str) -> Path:
        """The file a URL names inside the folder, or Refused. Nothing is read to decide."""
        try:
            parts = urlsplit(url)
        except ValueError:
            raise Refused("malformed URL") from None
        base = urlsplit(BASE_URL)
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc) or parts.query:
            raise Refused("not a bundled static file")
        path = unquote(parts.path)
        if not path.startswith(STATIC_PATH) or "\\" in path or "\x00" in path:
            raise Refused("not a bundled static file")
        relative = PurePosixPath(path[len(STATIC_PATH):])
        if not relative.parts or any(p in ("", ".", "..") for p in relative.parts):
            raise Refused("not a bundled static file")
        candidate = (self.folder / relative).resolve()
        # resolve() follows symlinks, so a link pointing out of the folder fails here too.
        if not candidate.is_relative_to(self.folder) or not candidate.is_file():
            raise Refused("not a bundled static file")
        return candidate


def render(template: str, **context) -> bytes:
    """The template rendered with Flask's Jinja environment, as PDF bytes."""
    html = render_template(template, **context)
    fetcher = StaticFetcher(current_app.static_folder)
    # Tagged (PDF/UA-1): headings, lists and tables in a structure tree, the language,
    # and each chart's text as its alternative, for screen readers.
    return HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).write_pdf(pdf_variant="pdf/ua-1")
