"""Command line (`flask --app app ...`). Each command prints `key: value` lines."""

import secrets
import time
from pathlib import Path

import click
from flask import current_app
from flask_migrate import upgrade

import demo
from models import Role, db, utcnow
from views.cli_output import CLI_ACTOR, emit
from views.integrity_cli import audit_cli, backup_cli
from workflows import cases, disclosure, identity, mail, notices, reports
from workflows.errors import WorkflowError


def committed(fn, *args, **kwargs):
    """Run a workflow and commit, or roll back and exit non-zero with its message."""
    try:
        result = fn(*args, **kwargs)
    except WorkflowError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    return result


def demo_marker() -> Path:
    return Path(current_app.instance_path) / "DEMO"


@click.command("init-db")
def init_db():
    """Create or upgrade the schema to the latest migration."""
    upgrade()
    emit(engine=db.engine.dialect.name, schema="head")


users_cli = click.Group("users", help="Manage users.")
agencies_cli = click.Group("agencies", help="Manage agencies.")
customers_cli = click.Group("customers", help="Manage customers.")
notices_cli = click.Group("notices", help="The customer-notice outbox relay.")
reminders_cli = click.Group("reminders", help="Reminders to staff about deadlines (DESIGN 11.5).")
reports_cli = click.Group("reports", help="Transparency reports.")
preservations_cli = click.Group("preservations", help="Preservation requests and their holds.")
vault_cli = click.Group("vault", help="Customer data, as the customer acts on it.")
officers_cli = click.Group("officers", help="People at agencies: invitations, verification, suspension.")
productions_cli = click.Group("productions", help="Sealed production packages on disk.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--password", help="Initial password; generated and printed when omitted.")
@click.option("--customer-id", type=int, help="The customer a customer user belongs to.")
@click.option("--name", default="")
def users_create(email, role, password, customer_id, name):
    """Create a user. Staff get a TOTP secret to enrol at first sign-in. For set-up
    by an operator at the server; a staff user made here is announced to every
    approver and auditor like any other grant."""
    generated = password is None
    password = password or secrets.token_urlsafe(12)

    def create(*args, **kwargs):
        created = identity.create_user(*args, **kwargs)
        if created.user.role.is_staff:
            identity.announce(created.user, created.user.role, "created at the server by an operator "
                              "(flask --app app users create)", kwargs["now"])
        return created

    created = committed(create, email, role, password, CLI_ACTOR, now=utcnow(), name=name,
                        customer_id=customer_id)
    emit(user_id=created.user.id)
    if created.totp_secret:
        emit(totp_secret=created.totp_secret)
    if generated:
        emit(password=password)


@agencies_cli.command("create")
@click.argument("name")
@click.option("--country", required=True, help="ISO 3166-1 alpha-2, e.g. US")
@click.option("--verified", is_flag=True, help="Identity of the agency has been verified.")
@click.option("--kind", default="law_enforcement")
@click.option("--phone", help="The number in the agency's published directory, e.g. +1 206 555 0100; "
                              "emergency call-backs dial it.")
@click.option("--domain", "domains", multiple=True,
              help="An e-mail domain of the agency (repeat for several): people with an address on it may "
                   "register as its officers.")
def agencies_create(name, country, verified, kind, phone, domains):
    """Register an agency and issue its API token (shown once)."""
    issued = committed(
        identity.create_agency, name, country, CLI_ACTOR, utcnow(), kind=kind, verified=verified, phone=phone,
        domains=domains,
    )
    emit(agency_id=issued.agency.id, token=issued.token)


@agencies_cli.command("add-domain")
@click.argument("agency_id", type=click.IntRange(1, identity.ID_MAX))
@click.argument("domain")
def agencies_add_domain(agency_id, domain):
    """Register an e-mail domain of the agency: people with an address on it may
    register as its officers, and staff then verify each of them."""
    record = committed(identity.add_agency_domain, agency_id, domain, CLI_ACTOR, utcnow())
    emit(agency_id=agency_id, domain=record.domain)


@agencies_cli.command("set-phone")
@click.argument("agency_id", type=click.IntRange(1, identity.ID_MAX))
@click.argument("phone")
def agencies_set_phone(agency_id, phone):
    """Record the number in the agency's published directory entry (never one a
    request gave): emergency call-backs must dial it."""
    agency = committed(identity.set_agency_phone, agency_id, phone, CLI_ACTOR, utcnow())
    emit(agency_id=agency_id, phone=agency.phone)


@agencies_cli.command("revoke-tokens")
@click.argument("agency_id", type=click.IntRange(1, identity.ID_MAX))
def agencies_revoke_tokens(agency_id):
    """Revoke every API token of an agency: each is refused at its next use."""
    revoked = committed(identity.revoke_tokens, agency_id, CLI_ACTOR, utcnow())
    emit(agency_id=agency_id, revoked=revoked)


@customers_cli.command("create")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(["enterprise", "consumer"]))
@click.option("--country", required=True)
@click.option("--email", "emails", required=True, multiple=True, help="Notice address.")
@click.option("--account", "accounts", multiple=True, help="Account identifier (repeatable).")
def customers_create(name, kind, country, emails, accounts):
    """Register a customer with its notice address and accounts."""
    customer = committed(
        identity.create_customer, name, kind, country, list(emails), list(accounts),
        CLI_ACTOR, utcnow(),
    )
    emit(customer_id=customer.id)


@reports_cli.command("publish")
@click.argument("period")
@click.option("--reason", default=None, help="Why a published period is corrected (required then).")
def reports_publish(period, reason):
    """Freeze a new revision of PERIOD (2026-H1, 2026-H2): JSON, CSV, PDF, signed checkpoint."""
    def publish():
        return reports.publish(reports.Period.parse(period), CLI_ACTOR, reason, utcnow())

    row = committed(publish)
    emit(period=row.period, revision=row.revision, pdf_sha256=row.pdf_sha256, json_sha256=row.json_sha256,
         audit_seq=row.snapshot["checkpoint"]["audit_seq"])


@click.command("demo")
@click.option("--no-serve", is_flag=True, help="Seed only; do not start the server.")
@click.option("--port", default=5000, show_default=True)
def demo_command(no_serve, port):
    """Create the database, seed demo data (idempotent), print logins, serve."""
    upgrade()
    logins = committed(demo.seed_demo, utcnow())
    demo_marker().touch()
    click.echo(demo.describe(logins, utcnow()))
    # One relay pass: notices reach the portal; without MAIL_SERVER their e-mail is
    # marked not configured (`notices run` beside the server sends them when it is).
    settings, policy, _ = _relay_settings()
    passed = notices.send_pass(utcnow(), settings, policy, f"http://127.0.0.1:{port}")
    emit(notices_released=passed.released, mail="configured" if settings else "not configured")
    if no_serve:
        return
    app = current_app._get_current_object()
    app.config.update(DEMO=True, SESSION_COOKIE_SECURE=False)
    emit(url=f"http://127.0.0.1:{port}")
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", port, app, threaded=True, use_reloader=False, use_debugger=False)


@click.command("demo-code")
@click.argument("email")
def demo_code(email):
    """Print a demo user's current TOTP code (demo instances only)."""
    if not demo_marker().exists():
        raise click.ClickException("Not a demo instance: codes come from the user's own app.")
    code, remaining = committed(demo.current_code, email, utcnow())
    emit(code=code, valid_for_seconds=remaining)


@preservations_cli.command("expire")
def preservations_expire():
    """Expire every preservation whose period has passed (one that a production
    demand still follows stays held, and is named)."""
    run = cases.expire_preservations(utcnow(), CLI_ACTOR)
    emit(expired=len(run.expired))
    for reference in run.expired:
        emit(expired_case=reference)
    for reference, why in run.kept:
        emit(kept=f"{reference}: {why}")


@vault_cli.command("delete-account")
@click.argument("identifier")
def vault_delete_account(identifier):
    """The customer deletes their own data: live records go, records a
    preservation holds are kept until the hold ends."""
    try:
        result = disclosure.delete_account(identifier, CLI_ACTOR, utcnow())
    except WorkflowError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    emit(identifier=identifier.strip().lower(), deleted=result["deleted"],
         kept_under_hold=result["kept_under_hold"])


def public_url() -> str:
    return (current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/")


@officers_cli.command("invite")
@click.argument("email")
@click.option("--agency-id", type=click.IntRange(1, identity.ID_MAX), required=True)
@click.option("--name", default="")
def officers_invite(email, agency_id, name):
    """Invite a person at an agency: the single-use link (72 hours) lets them set
    their own password; send it to the address on the agency's records."""
    invited = committed(identity.invite_officer, email, agency_id, CLI_ACTOR, utcnow(), name=name)
    emit(officer_id=invited.user.id, invite_url=f"{public_url()}/agency/invitation/{invited.token}")


@officers_cli.command("verify")
@click.argument("officer_id", type=click.IntRange(1, identity.ID_MAX))
@click.option("--method", type=click.Choice(["callback"]), required=True)
@click.option("--phone", required=True, help="The agency's directory number you called.")
@click.option("--spoke-with", required=True, help="Whom you spoke with at the agency.")
def officers_verify(officer_id, method, phone, spoke_with):
    """Record that a call-back to the agency's directory number confirmed the officer."""
    user = committed(identity.verify_officer, officer_id, method, phone, spoke_with, CLI_ACTOR, utcnow())
    emit(officer_id=user.id, status=identity.officer_status(user))


@officers_cli.command("revoke-tokens")
@click.argument("officer_id", type=click.IntRange(1, identity.ID_MAX))
def officers_revoke_tokens(officer_id):
    """Revoke every API token of an officer: each is refused at its next use."""
    revoked = committed(identity.revoke_officer_tokens, officer_id, CLI_ACTOR, utcnow())
    emit(officer_id=officer_id, revoked=revoked)


@officers_cli.command("suspend")
@click.argument("officer_id", type=click.IntRange(1, identity.ID_MAX))
@click.option("--reason", default="")
def officers_suspend(officer_id, reason):
    """Suspend an officer: no more sign-ins, every session ended."""
    user = committed(identity.suspend_officer, officer_id, reason, CLI_ACTOR, utcnow())
    emit(officer_id=user.id, status=identity.officer_status(user))


@productions_cli.command("sweep")
def productions_sweep():
    """Remove what killed approvals left behind (half-written or never committed
    packages), whatever their age; a package still being written is left alone."""
    emit(removed=disclosure.sweep_leftovers(disclosure.production_folder()))


def _relay_settings():
    config = current_app.config
    return (notices.MailSettings.from_config(config), notices.RelayPolicy.from_config(config),
            config.get("PUBLIC_URL") or "http://127.0.0.1:5000")


@notices_cli.command("send")
def notices_send():
    """One relay pass: release notices whose NDO ended, e-mail what is due."""
    settings, policy, portal_url = _relay_settings()
    result = notices.send_pass(utcnow(), settings, policy, portal_url)
    emit(released=result.released, sent=result.sent, retrying=result.retrying, failed=result.failed,
         not_configured=result.not_configured, mail="configured" if settings else "not configured",
         account_mail_sent=result.account_mail.sent, account_mail_retrying=result.account_mail.retrying,
         account_mail_failed=result.account_mail.failed)
    for error in result.errors:
        emit(error=error)


@notices_cli.command("run")
@click.option("--interval", default=30.0, show_default=True, help="Seconds between passes.")
def notices_run(interval):
    """Keep relaying until stopped (Ctrl-C or SIGTERM)."""
    settings, policy, portal_url = _relay_settings()
    emit(relay="running", interval=interval, mail="configured" if settings else "not configured")
    try:
        notices.run(settings, policy, portal_url, interval, log=click.echo)
    except KeyboardInterrupt:
        emit(relay="stopped")


def _case_url(case_id: int) -> str:
    return f"{public_url()}/cases/{case_id}"


def _reminder_pass(settings, policy) -> dict:
    """Write the reminders due now, then send the account mail that is due."""
    written = cases.write_reminders(utcnow(), _case_url)
    sent = mail.send_pass(utcnow(), settings, policy)
    return {**{f"written_{kind}": n for kind, n in written.written.items()}, "raced": written.raced,
            "mail_sent": sent.sent, "mail_retrying": sent.retrying, "mail_failed": sent.failed,
            "mail_not_configured": sent.not_configured, "errors": sent.errors}


@reminders_cli.command("send")
def reminders_send():
    """One pass: write each reminder due now (once per case and kind), then send."""
    settings, policy, _ = _relay_settings()
    result = _reminder_pass(settings, policy)
    errors = result.pop("errors")
    emit(**result, mail="configured" if settings else "not configured")
    for error in errors:
        emit(error=error)


@reminders_cli.command("run")
@click.option("--interval", default=60.0, show_default=True, help="Seconds between passes.")
@click.option("--passes", type=click.IntRange(min=1), help="Stop after this many passes.")
def reminders_run(interval, passes):
    """Keep reminding until stopped (Ctrl-C or SIGTERM), beside the notice relay."""
    settings, policy, _ = _relay_settings()
    emit(reminders="running", interval=interval, mail="configured" if settings else "not configured")
    done = 0
    try:
        while passes is None or done < passes:
            try:
                result = _reminder_pass(settings, policy)
            except Exception as exc:  # a database hiccup must not stop the runner for good
                db.session.rollback()
                emit(error=f"{type(exc).__name__}: {exc}")
            else:
                errors = result.pop("errors")
                if any(v for v in result.values()) or errors:
                    click.echo(" ".join(f"{k}: {v}" for k, v in result.items() if v))
            done += 1
            if passes is None or done < passes:
                time.sleep(interval)
    except KeyboardInterrupt:
        emit(reminders="stopped")


def init_app(app) -> None:
    for command in (init_db, users_cli, agencies_cli, customers_cli, audit_cli, backup_cli, notices_cli,
                    reminders_cli, reports_cli,
                    preservations_cli, vault_cli, officers_cli, productions_cli, demo_command,
                    demo_code):
        app.cli.add_command(command)
