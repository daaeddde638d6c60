"""Blueprints and request plumbing. Views stay thin: parse, call a workflow, render."""

from views import (
    admin,
    agency_portal,
    assignment,
    audit_log,
    auth,
    cases,
    cli,
    errors,
    home,
    identity,
    notices,
    policy,
    portal,
    public,
    security,
)
from views.api import agency as agency_api
from views.api import cases as cases_api
from views.api import session as api
from workflows import reports


def init_app(app) -> None:
    identity.init_app(app)
    # Who may call comes before the CSRF check: an anonymous call to a staff endpoint
    # is told to sign in (401, or the sign-in page), not that a token is missing.
    policy.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    for module in (auth, home, portal, agency_portal, admin, audit_log, api, cases_api, agency_api, cases,
                   assignment, notices, public):
        app.register_blueprint(module.bp)
    cli.init_app(app)
    reports.init_charts(app)

    @app.context_processor
    def _globals():
        return {"demo_instance": app.config.get("DEMO", False)}
