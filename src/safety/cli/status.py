"""``status``: per cohort treated, in DLT window, DLTs, SAEs, the decision and the stopping rules."""

from __future__ import annotations

import json

import click

from safety import store
from safety.cli.base import db_option, json_default
from safety.monitor.status import study_statuses


@click.command()
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
    with store.read_connection(db) as con:
        result = study_statuses(con, study_id=study_id, cutoff=cutoff.date() if cutoff else None)
    if as_json:
        click.echo(
            json.dumps({"studies": [s.to_json() for s in result]}, indent=2, default=json_default)
        )
        return
    for s in result:
        click.echo(s.to_text())
