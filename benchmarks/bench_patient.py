"""Time the patient profile's queries on a scaled demo database.

    python benchmarks/bench_patient.py [--studies 50] [--subjects 2000] [--db PATH] [--reuse]

Builds (unless --reuse finds a database of the current schema) a scaled demo of K studies x N
subjects, then, for patients of the first and the last study (a HIGH-dose DLT patient, and
others spread over the cohorts), times each query the profile runs: the median of 5 warm runs
and the first run. The goal (issue 7) is < 0.2 s for each, and for the whole profile.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from safety import store
from safety.config import parse_study_config
from safety.demo import generator as demo
from safety.errors import StoreError
from safety.monitor import patient
from safety.store import queries

GOAL_SECONDS = 0.2


def timed(fn, repeat: int = 5) -> tuple[float, float]:
    """(first run, median of the warm runs) in seconds."""
    times = []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times[0], statistics.median(times[1:])


def _usable(db: Path) -> bool:
    try:
        with store.read_connection(db, wait=1):
            return True
    except StoreError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=50)
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--db", default="benchmarks/out/patient_scaled.duckdb")
    parser.add_argument("--reuse", action="store_true", help="use an existing database")
    args = parser.parse_args()
    db = Path(args.db)
    db.parent.mkdir(parents=True, exist_ok=True)

    if not (args.reuse and db.exists() and _usable(db)):
        start = time.perf_counter()
        summary = demo.build_demo(db, studies=args.studies, subjects=args.subjects)
        print(f"build: {summary.describe()} in {time.perf_counter() - start:.1f} s")

    worst = 0.0
    with store.read_connection(db) as con:
        counts = queries.database.row_counts(con)
        print(", ".join(f"{t} {n:,}" for t, n in counts.items()))
        all_studies = queries.studies.studies(con)
        for study in (all_studies.iloc[0], all_studies.iloc[-1]):
            config = parse_study_config(study["config_toml"])
            cutoff = study["data_cutoff"].date()
            study_id = config.study_id
            roster = queries.subjects.study_roster(con, study_id)
            dlts = queries.dlt.dlt_events(con, study_id, cutoff)
            high_dlt = dlts[dlts["cohort_id"] == "HIGH"]["usubjid"].iloc[0]
            others = roster["usubjid"].iloc[[0, len(roster) // 2, len(roster) - 1]].tolist()
            for usubjid in [high_dlt, *others]:
                c, sid, dlt = con, study_id, config.dlt
                steps = {
                    "subject_study": (queries.subjects.subject_study, c, usubjid),
                    "study_roster": (queries.subjects.study_roster, c, sid),
                    "patient_subject": (queries.patient.patient_subject, c, sid, usubjid, cutoff),
                    "patient_dlt_state": (queries.patient.patient_dlt_state, c, sid, usubjid, cutoff, dlt),
                    "patient_dlt_events": (
                        queries.patient.patient_dlt_events,
                        c,
                        sid,
                        usubjid,
                        cutoff,
                        dlt,
                    ),
                    "patient_adverse_events": (
                        queries.patient.patient_adverse_events,
                        c,
                        sid,
                        usubjid,
                        cutoff,
                    ),
                    "patient_labs": (queries.patient.patient_labs, c, sid, usubjid, cutoff),
                    "patient_vital_signs": (queries.patient.patient_vital_signs, c, sid, usubjid, cutoff),
                    "patient_exposure": (queries.patient.patient_exposure, c, sid, usubjid, cutoff),
                    "patient_audit": (queries.patient.patient_audit, c, sid, usubjid),
                    "subject_reviews": (queries.patient.subject_reviews, c, sid, usubjid),
                    "whole profile (load_profile)": (
                        patient.load_profile,
                        c,
                        config,
                        usubjid,
                        cutoff,
                    ),
                }
                print(f"\n{study_id} {usubjid} (cut-off {cutoff})")
                for name, (fn, *fn_args) in steps.items():
                    first, warm = timed(lambda fn=fn, fn_args=fn_args: fn(*fn_args))
                    worst = max(worst, warm)
                    flag = "" if warm < GOAL_SECONDS else "  SLOWER THAN GOAL"
                    print(
                        f"  {name:<30} warm {warm * 1000:7.1f} ms  first {first * 1000:7.1f} ms{flag}"
                    )
    print(f"\nslowest warm median: {worst * 1000:.1f} ms (goal < {GOAL_SECONDS * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
