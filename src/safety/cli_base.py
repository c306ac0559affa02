"""What every command of the command line shares: the bad-input exception and the --db option."""

from __future__ import annotations

import click


class BadInput(click.ClickException):
    """Bad input from the user or a file: one line on stderr, exit status 2."""

    exit_code = 2


db_option = click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    help="Database file (default: $SAFETY_DB, else data/safety.duckdb).",
)
