"""The ``ingest`` command: load deliveries, decide on held ones, take a batch back.

    python -m safety ingest PATH... [--db PATH] [--study ID] [--json]
    python -m safety ingest --confirm HOLD --reason TEXT [--json]     (asks for a signature)
    python -m safety ingest --reject HOLD --reason TEXT [--json]
    python -m safety ingest --retract BATCH --reason TEXT [--json]    (asks for a signature)
    python -m safety ingest --held [--study ID] [--json]

Exit status 0 when every file was loaded or was a duplicate (or the decision was recorded); 2
when a file was rejected or held, or the input is bad (one line on stderr); 1 on an internal
error. With ``--json`` stdout carries only ``{"batches": [...]}`` (``{"holds": [...]}`` for
``--held``); a held file's record has ``hold_id`` and its ``comparison``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from safety import pipeline, store, views
from safety.access import MEANINGS, Signature, User, load_access_config, sign_with_password
from safety.cli.base import BadInput, acting_user, db_option, json_default
from safety.errors import SafetyError
from safety.ingest.holds import held_comparison, reason_given
from safety.ingest.load import BatchResult, require_ingest

log = logging.getLogger(__name__)


@click.command("ingest")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@db_option
@click.option("--study", "study_id", default=None,
              help="Study to load into (default: each file's STUDYID).")
@click.option("--confirm", "confirm", type=int, default=None, metavar="HOLD",
              help="Confirm the held delivery HOLD: load it as delivered (needs --reason and "
                   "your signature password).")
@click.option("--reject", "reject", type=int, default=None, metavar="HOLD",
              help="Reject the held delivery HOLD (needs --reason).")
@click.option("--retract", "retract", type=int, default=None, metavar="BATCH",
              help="Take back batch BATCH, restoring its domain's cut before it (needs --reason "
                   "and your signature password).")
@click.option("--reason", default=None, help="Why (for --confirm, --reject, --retract).")
@click.option("--held", "list_held", is_flag=True, help="List held deliveries.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def ingest(paths: tuple[Path, ...], db: str | None, study_id: str | None,
           confirm: int | None, reject: int | None, retract: int | None, reason: str | None,
           list_held: bool, as_json: bool) -> None:
    """Load SDTM or ADaM files or folders (XPT, SAS7BDAT, CSV, Dataset-JSON, Parquet), one
    batch per file; or confirm, reject or retract; as the OS account (or service) running the
    command: a data manager. Confirming and retracting are signed: the command asks for the
    account's signature password."""
    actions = [a for a, given in (("PATH", bool(paths)), ("--confirm", confirm is not None),
                                  ("--reject", reject is not None),
                                  ("--retract", retract is not None), ("--held", list_held))
               if given]
    if len(actions) != 1:
        raise BadInput("ingest: give PATH..., or one of --confirm, --reject, --retract, --held"
                       + (f" (got {', '.join(actions)})" if actions else ""))
    created = False
    try:
        user = acting_user()
        if list_held:
            _print_holds(db, user, study_id, as_json)
            return
        if paths:
            require_ingest(user, study_id)
            created = store.create_if_missing(db)
            delivery = pipeline.deliver_paths(paths, db=db, study_id=study_id, user=user)
        elif confirm is not None:
            reason = reason_given(reason, "confirming a held delivery")
            delivery = pipeline.confirm_delivery(db, confirm, user, reason,
                                                 _sign(user, "delivery.confirm"))
        elif reject is not None:
            delivery = pipeline.reject_delivery(db, reject, user, reason)
        else:
            reason = reason_given(reason, "retracting a batch")
            delivery = pipeline.retract_batch(db, retract, user, reason,
                                              _sign(user, "delivery.retract"))
    except SafetyError as exc:
        raise BadInput(str(exc)) from exc
    results = delivery.results
    if as_json:
        click.echo(json.dumps({"batches": [r.to_json() for r in results]}, default=json_default))
    else:
        for r in results:
            click.echo(_line(r))
            if r.status == "held" and r.comparison is not None:
                click.echo("          " + r.comparison.to_text().replace("\n", "\n          "))
    note = f" (a new database was created at {store.resolve_db_path(db)})" if created else ""
    failed = [r for r in results if r.status in ("rejected", "held") and reject is None]
    if failed:
        first = failed[0]
        more = f" (and {len(failed) - 1} more rejected or held)" if len(failed) > 1 else ""
        text = " ".join(str(first.reason).split())
        if not text.startswith(first.file):
            text = f"{first.file}: {text}"
        raise BadInput(text + more + note)
    if created:
        click.echo(f"note: created a new database at {store.resolve_db_path(db)}", err=True)


def _line(r: BatchResult) -> str:
    counts = f"{r.rows_in} in, {r.rows_loaded} loaded, {r.rows_quarantined} quarantined"
    if r.rows_carried:
        counts += f", {r.rows_carried} carried"
    tail = f" - {' '.join(str(r.reason).split())}" if r.reason else ""
    return f"{r.status:9} {r.domain or '?':6} {r.file}: {counts}{tail}"


def _sign(user: User, act: str) -> Signature:
    """The account's electronic signature for ``act``: its signature password, asked now
    (never an option: it would stay in the shell's history)."""
    password = click.prompt(f"Signature password of {user.name} ({MEANINGS[act]})",
                            hide_input=True, default="", show_default=False, err=True)
    return sign_with_password(user, MEANINGS[act], password, load_access_config())


def _print_holds(db: str | None, user: User, study_id: str | None, as_json: bool) -> None:
    try:
        with store.read_connection(db) as con:
            holds = views.held_deliveries(con, user, study_id)
    except SafetyError as exc:
        raise BadInput(str(exc)) from exc
    if as_json:
        records = json.loads(holds.drop(columns="comparison").to_json(orient="records",
                                                                     date_format="iso"))
        for record, (_, row) in zip(records, holds.iterrows(), strict=True):
            record["comparison"] = held_comparison(row).to_json()
        click.echo(json.dumps({"holds": records}))
        return
    for row in holds.to_dict(orient="records"):
        click.echo(f"hold {row['hold_id']} {row['status']:10} {row['study_id']} {row['domain']} "
                   f"{row['file_name']}: {row['reason']}")
