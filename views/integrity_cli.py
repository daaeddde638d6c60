"""`flask --app app audit verify` and `backup create|restore`: that the log is whole
(from the first event or the newest signed checkpoint, and against published
reports), and the whole database copied while the app runs, then restored into an
empty one (workflows/backups.py)."""

import json
import sys
from pathlib import Path

import click

from models import utcnow
from views.cli_output import CLI_ACTOR, emit
from workflows import backups, reports
from workflows.errors import InvalidInput

audit_cli = click.Group("audit", help="The audit log.")
backup_cli = click.Group("backup", help="Backups of the database, and their restore.")


def _emit(copy: backups.Copy, **more) -> None:
    emit(path=copy.path, bytes=copy.size, sha256=copy.sha256, audit_seq=copy.audit_seq, **more)


@backup_cli.command("create")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_create(path):
    """Copy the whole database to PATH, a new file, while the app runs (SQLite's
    online backup; pg_dump on PostgreSQL). Keep the instance folder's keys apart."""
    try:
        copy = backups.create(path, CLI_ACTOR, utcnow())
    except InvalidInput as exc:
        raise click.ClickException(exc.message) from None
    _emit(copy)


@backup_cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_restore(path):
    """Restore the backup at PATH into the configured database, which must be empty.
    Then check it against the newest published report: audit verify --against."""
    try:
        copy = backups.restore(path, CLI_ACTOR, utcnow())
    except InvalidInput as exc:
        raise click.ClickException(exc.message) from None
    _emit(copy, next="flask --app app audit verify --against <the newest published report's JSON>")


@audit_cli.command("verify")
@click.option("--since-checkpoint", is_flag=True,
              help="Start at the newest signed checkpoint instead of the first event.")
@click.option("--against", "published", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A published report's JSON (as downloaded): the log must still hold the event its "
                   "signed checkpoint names. Repeatable.")
def audit_verify(since_checkpoint, published):
    """Recompute the hash chain; exit 1 and name the first bad event if broken. An
    intact chain leaves a signed checkpoint at its head, where --since-checkpoint
    starts next time. --against finds a database rolled back behind a publication."""
    checked = reports.verify_audit(utcnow(), resume=since_checkpoint)
    result = checked.result
    checked_reports, problems = reports.verify_all(reports.public_key_pem())
    problems += [problem for path in published for problem in _published_problems(path)]
    if result.intact and not problems:
        emit(status="intact", events=result.head_seq, head_seq=result.head_seq,
             head_hash=result.head_hash, checkpoints=checked_reports, started_after=result.start_seq,
             verified=result.events, seconds=f"{checked.seconds:.3f}",
             events_per_second=f"{checked.rate:.0f}")
        return
    if result.intact:
        emit(status="broken", checkpoints=checked_reports)
    else:
        emit(status="broken", first_bad_seq=result.first_bad_seq, reason=result.reason)
    for problem in problems:
        emit(checkpoint=problem)
    sys.exit(1)


def _published_problems(path: str) -> list[str]:
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [f"{path}: not a report's JSON ({exc.__class__.__name__})"]
    if not isinstance(report, dict):
        return [f"{path}: not a report's JSON"]
    return reports.report_problems(report, reports.public_key_pem())
