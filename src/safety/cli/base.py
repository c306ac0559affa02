"""What every command of the command line shares: the bad-input exception, the --db option, the
acting user, a clean stop on signals, JSON of dates."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import date

import click

from safety.access import User, command_line_user

log = logging.getLogger(__name__)


class BadInput(click.ClickException):
    """Bad input from the user or a file: one line on stderr, exit status 2."""

    exit_code = 2


db_option = click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    help="Database file (default: $SAFETY_DB, else data/safety.duckdb).",
)


def acting_user() -> User:
    """Who runs this command: the service of ``$SAFETY_SERVICE_TOKEN``, else the OS account,
    with its roles from the access configuration. No option names the user."""
    user = command_line_user()
    log.info("acting as %s", user.describe())
    return user


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (instead of killing the process mid-transaction)."""
    stop = threading.Event()

    def _stop(signum: int, _frame) -> None:
        log.info("received %s: stopping after the current step", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop


def json_default(value):
    """``json.dumps`` default: dates as ISO text."""
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
