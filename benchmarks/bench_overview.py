"""Time the Overview's queries and the status command on a scaled demo database.

    python benchmarks/bench_overview.py [--studies 50] [--subjects 2000] [--db PATH] [--reuse]

Builds (unless --reuse) a scaled demo of K studies x N subjects, then prints rows per table,
the build time, each Overview query's median of 5 warm runs on the first study, the `status`
command's wall time, and peak memory (RSS) of this process and of the status subprocess.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from safety import store
from safety.config import parse_study_config
from safety.demo import generator as demo
from safety.monitor.status import study_status
from safety.store import queries


def timed(fn, repeat: int = 5) -> tuple[float, float]:
    """(first run, median of the warm runs) in seconds."""
    times = []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times[0], statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=50)
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--db", default="benchmarks/out/scaled.duckdb")
    parser.add_argument("--reuse", action="store_true", help="use an existing database")
    args = parser.parse_args()
    db = Path(args.db)
    db.parent.mkdir(parents=True, exist_ok=True)

    if not (args.reuse and db.exists()):
        start = time.perf_counter()
        demo.build_demo(db, studies=args.studies, subjects=args.subjects)
        print(
            f"build: {args.studies} studies x {args.subjects} subjects in "
            f"{time.perf_counter() - start:.1f} s, file {db.stat().st_size / 2**20:.0f} MiB"
        )

    with store.read_connection(db) as con:
        for table, n in queries.database.row_counts(con).items():
            print(f"rows {table}: {n:,}")
        study = queries.studies.studies(con).iloc[0]
        config = parse_study_config(study["config_toml"])
        cutoff = study["data_cutoff"].date()
        checks = {
            "cohort_summary": lambda: queries.subjects.cohort_summary(
                con, config.study_id, cutoff, config.dlt
            ),
            "dosing_timeline": lambda: queries.subjects.dosing_timeline(con, config.study_id, cutoff),
            "ae_counts_by_month": lambda: queries.adverse_events.ae_counts_by_month(con, config.study_id, cutoff),
            "study_status (all of the above + decisions)": lambda: study_status(
                con, config, cutoff
            ),
        }
        for name, fn in checks.items():
            first, warm = timed(fn)
            print(f"{name}: first {first * 1000:.0f} ms, warm median {warm * 1000:.0f} ms")

    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "safety", "status", "--db", str(db), "--json"],
        capture_output=True,
        text=True,
    )
    print(
        f"status --json (all {args.studies} studies): {time.perf_counter() - start:.1f} s, "
        f"exit {result.returncode}"
    )
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: this process {own:.0f} MiB, status subprocess {child:.0f} MiB")


if __name__ == "__main__":
    main()
