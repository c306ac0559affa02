"""``audit verify``: is the audit trail intact? Its hash chain, its head, every signed record,
and the audit heads DSMB manifests recorded (``safety.store.audit``).

Exit status 0 when intact (one line on stdout naming the head), 2 when broken (one line on
stderr naming the first bad entry and what is wrong with it).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from safety import store
from safety.cli.base import BadInput, db_option
from safety.store import audit as trail


@click.group("audit")
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
@db_option
@click.option("--manifest", "manifests", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A DSMB report's manifest.json whose audit head must still be in the trail "
                   "(repeatable).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def verify(db: str | None, manifests: tuple[Path, ...], as_json: bool) -> None:
    """Check the audit trail; name the first bad entry if it is broken."""
    anchors = [trail.manifest_anchor(m) for m in manifests]
    with store.read_connection(db) as con:
        check = trail.verify_audit_trail(con, anchors)
    if as_json:
        click.echo(json.dumps(check.to_json()))
    elif check.ok:
        click.echo(check.describe())
    if not check.ok:
        raise BadInput(check.describe())
