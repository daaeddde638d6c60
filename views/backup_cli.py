"""`flask --app app backup create|restore`: the whole database copied while the
app runs, and restored into an empty one (workflows/backups.py)."""

from pathlib import Path

import click

from models import utcnow
from workflows import backups
from workflows.audit import Actor
from workflows.errors import InvalidInput

backup_cli = click.Group("backup", help="Backups of the database, and their restore.")
CLI_ACTOR = Actor.system("cli")


def _emit(copy: backups.Copy, **more) -> None:
    for key, value in {"path": copy.path, "bytes": copy.size, "sha256": copy.sha256,
                       "audit_seq": copy.audit_seq, **more}.items():
        click.echo(f"{key}: {value}")


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
