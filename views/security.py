"""Response headers of the security baseline, CSRF, malformed forms refused, and no
caching of private pages."""

from flask import abort, request, session
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
# A PDF shown in the browser: Chromium's viewer is a plugin inside a page it writes
# itself (with inline styles), so it needs object-src and inline styles; the PDF may
# load nothing else, and no page may frame it.
PDF_VIEW_CSP = ("default-src 'none'; object-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; "
                "frame-ancestors 'none'; form-action 'none'")


def _headers(response):
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if session.get("_user_id") or request.endpoint in ("auth.enrol", "auth.code"):
        h["Cache-Control"] = "no-store"
    return response


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _refuse_nameless_fields():
    """A form part without a usable name (werkzeug reads it as None) is a malformed
    body: refuse it with 400 before anything, the CSRF check included, reads the form."""
    if request.mimetype in FORM_TYPES and (None in request.form or None in request.files):
        abort(400, "The form has a field without a name.")


def init_app(app) -> None:
    # Before CSRF: before_request functions run in the order they are registered.
    app.before_request(_refuse_nameless_fields)
    csrf.init_app(app)
    app.after_request(_headers)
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
