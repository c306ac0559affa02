"""The command line: ``python -m safety ...``.

Exit status 0 on success, 2 on bad input (one line on stderr), 1 on an internal error. With
``--json`` stdout carries one JSON document and nothing else; logs go to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import date
from pathlib import Path

import click

from safety import store
from safety.cli_base import BadInput, db_option
from safety.errors import SafetyError
from safety.escalation.commands import design
from safety.ingest.commands import ingest
from safety.live_commands import run_live_demo, watch
from safety.report.commands import report

log = logging.getLogger("safety")


class SafetyGroup(click.Group):
    """Turns a SafetyError raised by any command into exit status 2 with its one-line message."""

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


@cli.command()
@db_option
@click.option("--seed", type=int, default=None, help="Random seed (default: the demo's own).")
@click.option(
    "--studies",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many studies (a scaled database for load tests).",
)
@click.option(
    "--subjects",
    type=click.IntRange(min=4),
    default=None,
    help="Subjects per study (default: the registry's 32).",
)
@click.option("--live", "live_inbox", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Instead: write new daily deliveries of the demo study into "
              "this inbox (for `watch`); --seed then seeds the live story.")
@click.option("--interval", type=click.FloatRange(min=0), default=20.0, show_default=True,
              help="With --live: seconds between deliveries.")
@click.option("--deliveries", type=click.IntRange(min=1), default=60, show_default=True,
              help="With --live: how many daily deliveries.")
def demo(db: str | None, seed: int | None, studies: int, subjects: int | None,
         live_inbox: Path | None, interval: float, deliveries: int) -> None:
    """Build the demo database (NCT04232592, synthetic and deterministic), or feed it live."""
    from safety import demo as demo_module
    from safety.alerts import refresh_alerts

    if live_inbox is not None:
        run_live_demo(live_inbox, db, seed, interval, deliveries, subjects)
        return
    path = store.resolve_db_path(db)
    summary = demo_module.build_demo(
        path,
        seed=demo_module.DEMO_SEED if seed is None else seed,
        studies=studies,
        subjects=subjects,
    )
    refresh_alerts(path)  # the alert baseline: only data arriving later raise alerts
    click.echo(f"demo database written to {path}: {summary.describe()}")


@cli.command()
@db_option
@click.option("--study", "study_id", default=None, help="Only this study.")
@click.option(
    "--cutoff",
    "--as-of",
    "cutoff",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Data cut-off, records dated on or before it (default: each study's own).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def status(db: str | None, study_id: str | None, cutoff, as_json: bool) -> None:
    """Per cohort: treated, in DLT window, DLTs, SAEs, the decision and the stopping rules."""
    from safety.status import study_statuses

    with store.read_connection(db) as con:
        result = study_statuses(con, study_id=study_id, cutoff=cutoff.date() if cutoff else None)
    if as_json:
        click.echo(
            json.dumps({"studies": [s.to_json() for s in result]}, indent=2, default=_json_default)
        )
        return
    for s in result:
        click.echo(s.to_text())


cli.add_command(design)
cli.add_command(ingest)
cli.add_command(report)
cli.add_command(watch)


def _json_default(value):
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def main() -> None:
    """Entry point of ``python -m safety`` and the ``safety`` script."""
    try:
        cli.main(standalone_mode=False)
    except click.ClickException as exc:  # usage errors and BadInput
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except Exception as exc:  # an internal error: say what, exit 1
        log.exception("internal error")
        click.echo(f"internal error: {exc}", err=True)
        sys.exit(1)
