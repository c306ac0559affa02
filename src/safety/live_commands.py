"""The live-monitoring commands: ``watch INBOX`` and the ``--live INBOX`` mode of ``demo``.

Both run until done or until SIGTERM / SIGINT, which they turn into a clean stop: the file being
ingested (or the delivery being written) is finished first, then the command exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import date
from pathlib import Path

import click

from safety import store
from safety.alerts import Alert, refresh_alerts
from safety.cli_base import db_option
from safety.watch import DEFAULT_POLL_SECONDS, Outcome, Watcher

log = logging.getLogger(__name__)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (instead of killing the process mid-transaction)."""
    stop = threading.Event()

    def _stop(signum: int, _frame) -> None:
        log.info("received %s: stopping after the current file", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop


def _echo_outcome(o: Outcome) -> None:
    r = o.result
    counts = f"{r.rows_in} in, {r.rows_loaded} loaded, {r.rows_quarantined} quarantined"
    tail = f" - {' '.join(str(r.reason).split())}" if r.reason else ""
    click.echo(f"{r.status:9} {r.domain or '?':6} {o.source.name}: {counts}{tail}")


def _echo_alerts(alerts: list[Alert]) -> None:
    for a in alerts:
        click.echo(f"ALERT {a.severity:8} {a.study_id} {a.title}")


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
@click.option("--actor", default=None, help="Who loads (default: the OS user).")
def watch(
    inbox: Path, db: str | None, poll: float, study_id: str | None, actor: str | None
) -> None:
    """Ingest files as they arrive in INBOX; move them to processed/ or rejected/.

    Senders: write under a temporary name (.part, .tmp or a leading dot), then rename.
    """
    watcher = Watcher(
        inbox,
        db=db,
        poll=poll,
        study_id=study_id,
        actor=actor,
        on_outcome=_echo_outcome,
        on_alerts=_echo_alerts,
    )
    stop = stop_on_signals()
    click.echo(
        f"watching {inbox} every {poll:g} s (database {store.resolve_db_path(db)}); "
        "stop with Ctrl-C or SIGTERM",
        err=True,
    )
    watcher.run(stop)
    click.echo("stopped", err=True)


def run_live_demo(
    inbox: Path,
    db: str | None,
    seed: int | None,
    interval: float,
    deliveries: int,
    subjects: int | None,
) -> None:
    """``demo --live``: build the demo first when the database is missing, then feed INBOX."""
    from safety import demo as demo_module
    from safety.live_demo import LIVE_SEED, run_live

    path = store.resolve_db_path(db)
    if not path.exists():
        summary = demo_module.build_demo(path, subjects=subjects)
        refresh_alerts(path)  # the baseline, so that only the live data raise alerts
        click.echo(f"demo database written to {path}: {summary.describe()}", err=True)
    stop = stop_on_signals()

    def _echo(day: date, files: list[Path]) -> None:
        names = ", ".join(f.name for f in files) or "nothing changed"
        click.echo(f"{day}: {names}")

    done = run_live(
        inbox,
        seed=LIVE_SEED if seed is None else seed,
        interval=interval,
        deliveries=deliveries,
        subjects=subjects,
        stop=stop,
        on_delivery=_echo,
    )
    click.echo(f"{done} deliveries written to {inbox}", err=True)
