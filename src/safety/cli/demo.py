"""``demo``: build the demo database (NCT04232592, synthetic and deterministic), or feed it live
(``--live INBOX``: a new day of cumulative SDTM deliveries for ``watch``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from safety import pipeline, store
from safety.cli.base import acting_user, db_option, stop_on_signals
from safety.demo import scenario


@click.command()
@db_option
@click.option("--seed", type=int, default=None, help="Random seed (default: the demo's own).")
@click.option(
    "--studies",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many studies (a scaled database for load tests).",
)
@click.option(
    "--subjects",
    type=click.IntRange(min=4),
    default=None,
    help="Subjects per study (default: the registry's 32).",
)
@click.option("--live", "live_inbox", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Instead: write new daily deliveries of the demo study into "
              "this inbox (for `watch`); --seed then seeds the live story.")
@click.option("--interval", type=click.FloatRange(min=0), default=20.0, show_default=True,
              help="With --live: seconds between deliveries.")
@click.option("--deliveries", type=click.IntRange(min=1), default=60, show_default=True,
              help="With --live: how many daily deliveries.")
def demo(db: str | None, seed: int | None, studies: int, subjects: int | None,
         live_inbox: Path | None, interval: float, deliveries: int) -> None:
    """Build the demo database (NCT04232592, synthetic and deterministic), or feed it live."""
    if live_inbox is not None:
        run_live_demo(live_inbox, db, seed, interval, deliveries, subjects)
        return
    path = store.resolve_db_path(db)
    summary = pipeline.build_demo(
        path, acting_user(), seed=scenario.DEMO_SEED if seed is None else seed, studies=studies,
        subjects=subjects,
    )  # fmt: skip
    click.echo(f"demo database written to {path}: {summary.describe()}")


def run_live_demo(
    inbox: Path,
    db: str | None,
    seed: int | None,
    interval: float,
    deliveries: int,
    subjects: int | None,
) -> None:
    """``demo --live``: build the demo first when the database is missing, then feed INBOX."""
    from safety.demo.live import LIVE_SEED, run_live

    path = store.resolve_db_path(db)
    if not path.exists():
        summary = pipeline.build_demo(path, acting_user(), subjects=subjects)
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
