"""The ``report`` command: ``python -m safety report --study ID --cutoff YYYY-MM-DD --out DIR
[--closed] [--refreeze] [--db PATH] [--json]``.

Exit status 0 when the report was written, 2 on bad input (a malformed cut-off, an unknown
study, a cut-off after today; one line on stderr), 1 on an internal error.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from safety.cli.base import acting_user, db_option


@click.command("report")
@db_option
@click.option("--study", "study_id", required=True, help="The study (its id).")
@click.option(
    "--cutoff",
    "--as-of",
    "cutoff",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="Data cut-off: records dated on or before this day.",
)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="The report folder (created).",
)  # fmt: skip
@click.option("--closed", is_flag=True, help="The closed report (by cohort, with listings).")
@click.option(
    "--refreeze",
    is_flag=True,
    help="Use the data as they stand now, not as the first report of this cut-off froze them.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON on stdout.")
def report(
    db: str | None,
    study_id: str,
    cutoff,
    out: Path,
    closed: bool,
    refreeze: bool,
    as_json: bool,
) -> None:
    """Freeze the data at the cut-off and write the DSMB report (PDF, XLSX, CSV, HTML, manifest)."""
    from safety.report import generate_report

    result = generate_report(
        study_id, cutoff.date(), out, kind="closed" if closed else "open", db=db,
        refreeze=refreeze, user=acting_user(),
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(result.manifest | {"snapshot_id": result.snapshot_id}, indent=2))
        return
    m = result.manifest
    click.echo(
        f"{m['kind']} report of {m['study_id']} at {m['cutoff']} written to {result.folder} "
        f"({len(m['files'])} files, {result.seconds['total']:.1f} s); snapshot "
        f"{result.snapshot_id}, content sha256 {m['content_sha256']}"
    )
