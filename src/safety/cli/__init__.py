"""The command line: ``python -m safety ...``, one thin module per command.

Exit status 0 on success, 2 on bad input (one line on stderr), 1 on an internal error. With
``--json`` stdout carries one JSON document and nothing else; logs go to stderr. Commands are
imported only when run, so ``design decide`` does not pay for the PDF stack or the database.
"""

from __future__ import annotations

import gc
import importlib
import logging
import sys

import click

from safety.cli.base import BadInput
from safety.errors import SafetyError
from safety.files import private_umask

log = logging.getLogger("safety")

COMMANDS = {  # command name -> "module:attribute", imported when the command runs
    "access": "safety.cli.access:access",
    "audit": "safety.cli.audit:audit",
    "demo": "safety.cli.demo:demo",
    "design": "safety.cli.design:design",
    "ingest": "safety.cli.ingest:ingest",
    "notify": "safety.cli.notify:notify_group",
    "report": "safety.cli.report:report",
    "status": "safety.cli.status:status",
    "watch": "safety.cli.watch:watch",
}


class SafetyGroup(click.Group):
    """Loads each command when it is asked for, and turns a SafetyError raised by any command
    into exit status 2 with its one-line message."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name].split(":")
        return getattr(importlib.import_module(module), attribute)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SafetyError as exc:
            raise BadInput(str(exc)) from exc


@click.group(cls=SafetyGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def cli(verbose: bool) -> None:
    """Safety monitoring for phase 1 dose-escalation trials."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    private_umask()  # databases, logs and report folders: the owner's (and group's) only


def _import_command(argv: list[str]) -> None:
    """Import the module of the command named in ``argv`` with the garbage collector off, then
    freeze what it made: the imports (pandas, DuckDB, the designs) make about a million objects
    and no garbage, so collecting while they load cost ~0.2 s, and traversing them again in
    later collections and the one at exit 0.2-0.4 s more, of every command (issue 16)."""
    name = next((a for a in argv if not a.startswith("-")), None)
    if name not in COMMANDS:
        return  # click says what is wrong
    gc.disable()
    try:
        importlib.import_module(COMMANDS[name].split(":")[0])
    finally:
        gc.freeze()
        gc.enable()


def main() -> None:
    """Entry point of ``python -m safety`` and the ``safety`` script."""
    try:
        _import_command(sys.argv[1:])
        cli.main(standalone_mode=False)
    except click.UsageError as exc:  # one line, as for any bad input
        command = exc.ctx.command_path if exc.ctx else "safety"
        click.echo(f"{command}: {' '.join(exc.format_message().split())}", err=True)
        sys.exit(2)
    except click.ClickException as exc:  # BadInput
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except Exception as exc:  # an internal error: say what, exit 1
        log.exception("internal error")
        click.echo(f"internal error: {exc}", err=True)
        sys.exit(1)
