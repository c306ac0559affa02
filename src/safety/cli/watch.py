"""``watch INBOX``: ingest files as they arrive (``safety.watch``).

It runs until SIGTERM / SIGINT, which it turns into a clean stop: the file being ingested is
finished first, then the command exits 0.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from safety import store
from safety.access import Action, User
from safety.cli.base import acting_user, db_option, stop_on_signals
from safety.ingest.load import flatten
from safety.monitor.alerts import Alert
from safety.store import audit
from safety.watch import DEFAULT_POLL_SECONDS, Outcome, Watcher

log = logging.getLogger(__name__)


def _echo_outcome(o: Outcome) -> None:
    for r in flatten([o.result]):
        counts = f"{r.rows_in} in, {r.rows_loaded} loaded, {r.rows_quarantined} quarantined"
        tail = f" - {' '.join(str(r.reason).split())}" if r.reason else ""
        click.echo(f"{r.status:9} {r.domain or '?':6} {r.file}: {counts}{tail}")


def _alert_printer(user: User):
    """Alerts are about cohorts and patients: printed in full only for a user who may see
    results by cohort in their study, counted for anyone else (a data manager's watcher)."""

    def echo(alerts: list[Alert]) -> None:
        hidden = 0
        for a in alerts:
            if user.can(Action.VIEW_CLOSED, a.study_id):
                click.echo(f"ALERT {a.severity:8} {a.study_id} {a.title}")
            else:
                hidden += 1
        if hidden:
            click.echo(f"ALERT {hidden} new alert(s): see the dashboard's Alerts page")

    return echo


@click.command("watch")
@click.argument("inbox", type=click.Path(exists=True, file_okay=False, path_type=Path))
@db_option
@click.option(
    "--poll",
    type=click.FloatRange(min=0.05),
    default=DEFAULT_POLL_SECONDS,
    show_default=True,
    help="Seconds between looks; a file must be unchanged this long to be read.",
)
@click.option(
    "--study", "study_id", default=None, help="Study to load into (default: each file's STUDYID)."
)
def watch(inbox: Path, db: str | None, poll: float, study_id: str | None) -> None:
    """Ingest files as they arrive in INBOX; move them to processed/ or rejected/. Loads as the
    OS account (or service) running it: a data manager.

    Senders: write under a temporary name (.part, .tmp or a leading dot), then rename. Links
    and files still open for writing are not read; held and rejected files go to rejected/
    with a reason file.
    """
    user = acting_user()
    watcher = Watcher(
        inbox,
        db=db,
        poll=poll,
        study_id=study_id,
        user=user,
        on_outcome=_echo_outcome,
        on_alerts=_alert_printer(user),
    )
    stop = stop_on_signals()
    with store.read_connection(db) as con:
        trail = audit.verify_audit_trail(con)
    if not trail.ok:  # checked at start-up: say it loudly, keep loading the deliveries
        click.echo(trail.describe(), err=True)
    click.echo(
        f"watching {inbox} every {poll:g} s (database {store.resolve_db_path(db)}); "
        "stop with Ctrl-C or SIGTERM",
        err=True,
    )
    watcher.run(stop)
    click.echo("stopped", err=True)
