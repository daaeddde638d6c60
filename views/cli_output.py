"""What every command shares: the actor the audit log names for the command line,
and its output, `key: value` lines."""

import click

from workflows.audit import Actor

CLI_ACTOR = Actor.system("cli")


def emit(**pairs) -> None:
    for key, value in pairs.items():
        click.echo(f"{key}: {value}")
