"""Time DSMB report builds: the demo and the CDISC pilot, open and closed, first and repeated.

    python benchmarks/bench_report.py [--db PATH] [--runs 3]

Builds (in a temporary folder unless --db names one to reuse) the demo database and ingests the
CDISC pilot (tests/data/cdiscpilot01) into it, then, in this one process, writes each report
``--runs`` times into new folders and prints each build's total and its stages (freeze and
tables, figures, documents) as ``generate_report`` measures them. The first build of the process
includes starting kaleido's Chromium; later builds of the same cut-off reuse its freeze point.
The README's "DSMB reports" section quotes these numbers.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from datetime import date
from pathlib import Path

from safety import pipeline
from safety.access import command_line_user
from safety.ingest import ingest_paths
from safety.report import generate_report

ROOT = Path(__file__).resolve().parents[1]
PILOT = ROOT / "tests" / "data" / "cdiscpilot01"
REPORTS = (("NCT04232592", "2021-01-15"), ("CDISCPILOT01", "2015-03-05"))


def build(db: Path) -> None:
    pipeline.build_demo(db)
    ingest_paths([PILOT], db=db, user=command_line_user())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-report-"))
    db = args.db or work / "safety.duckdb"
    if not db.exists():
        build(db)
    user = command_line_user()
    for study, cutoff in REPORTS:
        for kind in ("open", "closed"):
            totals = []
            for run in range(args.runs):
                result = generate_report(study, date.fromisoformat(cutoff),
                                         work / f"{study}-{kind}-{run}", kind=kind, db=db,
                                         user=user)
                s = result.seconds
                totals.append(s["total"])
                print(f"{study} {kind:<6} run {run + 1}: {s['total']:5.1f} s (freeze and tables "
                      f"{s['freeze_and_tables']:.1f}, figures {s['figures']:.1f}, documents "
                      f"{s['documents']:.1f}), {len(result.manifest['files'])} files")
            print(f"{study} {kind}: median {statistics.median(totals):.1f} s")


if __name__ == "__main__":
    main()
