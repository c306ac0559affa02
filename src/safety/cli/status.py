"""``status``: per cohort treated, in DLT window, DLTs, SAEs, the decision and the stopping rules,
and whether the audit trail is intact (a broken one is named on the first line, or under
``"audit"`` with ``--json`` and on stderr). By cohort, so only for a user who may see closed
results: a safety officer or DSMB member."""

from __future__ import annotations

import json

import click

from safety import store, views
from safety.cli.base import acting_user, db_option, json_default


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
    user = acting_user()
    with store.read_connection(db) as con:
        trail = views.audit_check(con)
        result = views.study_statuses(
            con, user, study_id=study_id, cutoff=cutoff.date() if cutoff else None
        )
    if as_json:
        doc = {"audit": trail.to_json(), "studies": [s.to_json() for s in result]}
        click.echo(json.dumps(doc, indent=2, default=json_default))
        if not trail.ok:
            click.echo(trail.describe(), err=True)
        return
    click.echo(trail.describe())
    for s in result:
        click.echo(s.to_text())
