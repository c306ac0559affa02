"""``notify send`` and ``notify status``: the notification outbox (``safety.notify``).

``send`` queues the messages of alerts not queued yet, then sends those due (as the watcher does
after every round), as an account that may load deliveries; exit 0 even when a message failed
(it stays due: the outbox retries), with one line per failure on stderr. ``status`` lists the
outbox of the studies whose deliveries the account may see, without the messages' content.
"""

from __future__ import annotations

import json

import click
import pandas as pd

from safety import notify, pipeline
from safety.access import Action, require
from safety.cli.base import acting_user, db_option, json_default


@click.group("notify")
def notify_group() -> None:
    """Alerts by e-mail and webhook: the outbox."""


@notify_group.command("send")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def send(db: str | None, as_json: bool) -> None:
    """Queue the new alerts' messages and send every message that is due."""
    user = acting_user()
    if not any(user.can(Action.INGEST, g.study_id) for g in user.grants):
        require(user, Action.INGEST)  # refuses, naming the account
    pipeline.raise_alerts(db)
    report = notify.send_due(db, user)
    for nid, error in report.failed:
        click.echo(f"notification {nid} not sent (will be retried): {error}", err=True)
    if as_json:
        click.echo(json.dumps({"sent": report.sent,
                               "failed": [{"notification_id": i, "error": e}
                                          for i, e in report.failed]}))  # fmt: skip
    else:
        click.echo(f"{len(report.sent)} sent, {len(report.failed)} failed (retried later)")


@notify_group.command("status")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def status(db: str | None, as_json: bool) -> None:
    """The outbox: every message's recipient, state, attempts and last error."""
    _, frame = notify.outbox(db, acting_user())
    rows = [{k: (None if not isinstance(v, str) and pd.isna(v) else
                 v.isoformat() if isinstance(v, pd.Timestamp) else v)
             for k, v in r.items()} for r in frame.to_dict("records")]  # fmt: skip
    if as_json:
        click.echo(json.dumps({"notifications": rows}, default=json_default))
        return
    counts = frame["status"].value_counts().to_dict() if len(frame) else {}
    click.echo(", ".join(f"{counts.get(s, 0)} {s}" for s in ("pending", "sending", "sent")))
    for r in rows:
        error = f": {r['last_error']}" if r["last_error"] else ""
        click.echo(f"{r['notification_id']} alert {r['alert_id']} {r['study_id']} "
                   f"{r['channel']} {r['recipient']} {r['status']} after {r['attempts']} "
                   f"attempt(s){error}")
