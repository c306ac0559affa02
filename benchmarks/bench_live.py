"""Live monitoring latency: from a delivery landing in the inbox to its alerts being queryable.

Usage: ``python benchmarks/bench_live.py [--studies 1] [--subjects 32] [--deliveries 10]
[--poll 0.5] [--out DIR]``

Builds the demo (or a scaled one: ``--studies K --subjects N``) in a fresh database, records
the alert baseline, starts a real ``python -m safety watch`` process on an inbox and then, one
at a time, writes the live demo's daily deliveries (cumulative SDTM exports of the demo study,
``safety.live_demo``) by write-then-rename. For each delivery it measures, from the rename:

- ``ingested``: every file of it is in ``processed/`` (ingest committed);
- ``alerts``: ``alert_state.evaluated_batch`` has reached the delivery's last batch, i.e. the
  alerts it raises (if any) are stored and any page can read them.

A page shows the alert at its next auto-refresh tick, so the time to the screen is ``alerts``
plus at most ``pages.common.LIVE_REFRESH_SECONDS`` (10 s) plus the page's own render time.
The watcher's poll interval counts twice at most: a file is read only once two looks one
interval apart agree.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from safety import store
from safety.demo import generator as demo
from safety.demo import scenario
from safety.demo.live import LiveFeed
from safety.monitor import alerts
from safety.store import queries

ROOT = Path(__file__).resolve().parents[1]


def _evaluated(db: Path, files: list[str]) -> tuple[bool, bool, int]:
    """(all files ingested, alerts evaluated for them, alerts raised at their batches)."""
    with store.read_connection(db) as con:
        ledger = queries.ingest.batch_ledger(con, scenario.DEMO_STUDY_ID)
        done = ledger[ledger["file_name"].isin(files)]
        if len(done) < len(files):
            return False, False, 0
        last = int(done["batch_id"].max())
        evaluated = queries.alerts.alert_evaluated_batch(con, scenario.DEMO_STUDY_ID) or 0
        raised = len(queries.alerts.alerts_after_batch(con, int(done["batch_id"].min())))
    return True, evaluated >= last, raised


def run(studies: int, subjects: int | None, deliveries: int, poll: float, out: Path) -> list[dict]:
    db, inbox = out / "live_bench.duckdb", out / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    summary = demo.build_demo(db, studies=studies, subjects=subjects)
    alerts.refresh_alerts(db)
    print(f"built {summary.describe()} in {time.perf_counter() - started:.1f} s", flush=True)
    watcher = subprocess.Popen(
        [sys.executable, "-m", "safety", "watch", str(inbox), "--db", str(db), "--poll", str(poll)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(out / "watch.log", "wb"),
    )
    feed = LiveFeed(subjects=subjects)
    rows = []
    try:
        time.sleep(2 * poll)
        for _ in range(deliveries):
            day = feed.advance()
            t0 = time.perf_counter()
            files = [f.name for f in feed.write(inbox)]
            written = time.perf_counter() - t0
            if not files:
                continue
            t0 = time.perf_counter()
            ingested_at = None
            while True:
                ingested, evaluated, raised = _evaluated(db, files)
                now = time.perf_counter() - t0
                if ingested and ingested_at is None:
                    ingested_at = now
                if evaluated:
                    break
                if now > 600:
                    raise RuntimeError(f"no alert evaluation for {files} after 600 s")
                time.sleep(0.05)
            rows.append(
                {
                    "day": day,
                    "files": len(files),
                    "write_s": written,
                    "ingested_s": ingested_at,
                    "alerts_s": now,
                    "raised": raised,
                }
            )
            print(
                f"{day}: {len(files)} files (written in {written:.2f} s), ingested "
                f"{ingested_at:.2f} s, alerts queryable {now:.2f} s, {raised} alert(s)",
                flush=True,
            )
    finally:
        watcher.terminate()
        watcher.wait(30)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=1)
    parser.add_argument("--subjects", type=int, default=None)
    parser.add_argument("--deliveries", type=int, default=10)
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        out = args.out or Path(tmp)
        rows = run(args.studies, args.subjects, args.deliveries, args.poll, out)
    latencies = [r["alerts_s"] for r in rows]
    with_alert = [r["alerts_s"] for r in rows if r["raised"]]
    print(
        f"\nstudies={args.studies} subjects={args.subjects or 32} poll={args.poll} s: "
        f"{len(rows)} deliveries; inbox -> alerts queryable: median "
        f"{statistics.median(latencies):.2f} s, max {max(latencies):.2f} s"
        + (
            f"; deliveries that raised alerts: {', '.join(f'{x:.2f}' for x in with_alert)} s"
            if with_alert
            else ""
        )
    )


if __name__ == "__main__":
    main()
