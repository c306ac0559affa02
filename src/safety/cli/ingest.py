"""The ``ingest`` command: ``python -m safety ingest PATH... [--db PATH] [--study ID] [--json]``.

Exit status 0 when every file was loaded or was a duplicate; 2 when a file was rejected or the
input is bad (one line on stderr); 1 on an internal error. With ``--json`` stdout carries only
``{"batches": [...]}``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from safety import pipeline, store
from safety.cli.base import BadInput, acting_user, db_option
from safety.errors import SafetyError
from safety.ingest.load import BatchResult, require_ingest

log = logging.getLogger(__name__)

@click.command("ingest")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@db_option
@click.option("--study", "study_id", default=None,
              help="Study to load into (default: each file's STUDYID).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def ingest(paths: tuple[Path, ...], db: str | None, study_id: str | None, as_json: bool) -> None:
    """Load SDTM files or folders (XPT, CSV, Dataset-JSON, Parquet), one batch per file, as the
    OS account (or service) running the command: a data manager."""
    try:
        user = acting_user()
        require_ingest(user, study_id)
        if store.create_if_missing(db):
            click.echo(f"note: created a new database at {store.resolve_db_path(db)}", err=True)
        results = pipeline.deliver_paths(paths, db=db, study_id=study_id, user=user).results
    except SafetyError as exc:
        raise BadInput(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"batches": [r.to_json() for r in results]}))
    else:
        for r in results:
            click.echo(_line(r))
    rejected = [r for r in results if r.status == "rejected"]
    if rejected:
        first = rejected[0]
        more = f" (and {len(rejected) - 1} more rejected)" if len(rejected) > 1 else ""
        reason = " ".join(str(first.reason).split())
        if not reason.startswith(first.file):
            reason = f"{first.file}: {reason}"
        raise BadInput(reason + more)


def _line(r: BatchResult) -> str:
    counts = f"{r.rows_in} in, {r.rows_loaded} loaded, {r.rows_quarantined} quarantined"
    tail = f" - {r.reason}" if r.reason else ""
    return f"{r.status:9} {r.domain or '?':6} {r.file}: {counts}{tail}"
