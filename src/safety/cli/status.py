"""``status``: per cohort treated, in DLT window, DLTs, SAEs, the decision and the stopping rules,
and whether the audit trail is intact (a broken one is named on the first line, or under
``"audit"`` with ``--json`` and on stderr); ``--explain COHORT``: every record and step behind
one cohort's decision. By cohort, so only for a user who may see closed results: a safety
officer or DSMB member."""

from __future__ import annotations

import json

import click
import pandas as pd

from safety import store, views
from safety.cli.base import BadInput, acting_user, db_option, json_default
from safety.config import stored_study_config
from safety.errors import SafetyError
from safety.store import queries


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
@click.option("--explain", "explain", default=None, metavar="COHORT",
              help="Every input record and step behind this cohort's decision.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def status(db: str | None, study_id: str | None, cutoff, explain: str | None,
           as_json: bool) -> None:
    """Per cohort: treated, in DLT window, DLTs, SAEs, the decision and the stopping rules."""
    user = acting_user()
    day = cutoff.date() if cutoff else None
    with store.read_connection(db) as con:
        if explain is not None:
            try:
                result = _explain(con, user, study_id, explain, day)
            except SafetyError as exc:
                raise BadInput(str(exc)) from exc
            click.echo(json.dumps(result.to_json(), indent=2, default=json_default)
                       if as_json else result.to_text())
            return
        trail = views.audit_check(con)
        result = views.study_statuses(con, user, study_id=study_id, cutoff=day)
    if as_json:
        doc = {"audit": trail.to_json(), "studies": [s.to_json() for s in result]}
        click.echo(json.dumps(doc, indent=2, default=json_default))
        if not trail.ok:
            click.echo(trail.describe(), err=True)
        return
    click.echo(trail.describe())
    for s in result:
        click.echo(s.to_text())


def _explain(con, user, study_id: str | None, cohort_id: str, cutoff):
    """The explanation of one cohort: of ``--study``, or of the one study that has the cohort."""
    studies = queries.studies.studies(con)
    if study_id is not None:
        studies = studies[studies["study_id"].str.lower() == study_id.lower()]
        if studies.empty:
            raise BadInput(f"no study {study_id!r} in the database")
    configs = [stored_study_config(r.config_toml, r.study_id) for r in studies.itertuples()]
    having = [c for c in configs if any(k.cohort_id.lower() == cohort_id.lower()
                                        for k in c.cohorts)]
    if len(having) != 1:
        where = "no study" if not having else f"{len(having)} studies"
        raise BadInput(f"{where} in the database {'has' if not having else 'have'} a cohort "
                       f"{cohort_id!r}; name the study with --study")
    config = having[0]
    row = studies[studies["study_id"] == config.study_id].iloc[0]
    day = cutoff or (row["data_cutoff"].date() if pd.notna(row["data_cutoff"]) else None)
    if day is None:
        raise BadInput(f"{config.study_id} has no data cut-off yet; give --cutoff")
    return views.explain_cohort(con, user, config, day, cohort_id)
