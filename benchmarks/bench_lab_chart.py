"""Labs time course at real sizes (issue 16): figure build time, traces, points sent and JSON
size for a demo-sized study (32 subjects) and a scaled one (2,000 subjects), 20 results each.

    python benchmarks/bench_lab_chart.py
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from safety.charts.labs import lab_time_course


def values(subjects: int, results: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = subjects * results
    return pd.DataFrame({
        "usubjid": np.repeat([f"S-{i:05d}" for i in range(subjects)], results),
        "cohort_label": np.repeat([f"Cohort {i % 4}" for i in range(subjects)], results),
        "test_code": "ALT", "test_name": "Alanine Aminotransferase",
        "study_day": np.tile(np.arange(1, results + 1) * 7, subjects).astype(float),
        "value": rng.lognormal(3, 0.4, n), "unit": "U/L", "lln": 5.0, "uln": 40.0,
        "worst_grade": rng.choice([0, 0, 0, 1, 2], n), "visit": "WEEK",
    })  # fmt: skip


def measure(build, frame: pd.DataFrame) -> dict:
    start = time.perf_counter()
    fig = build(frame, "ALT")
    built = time.perf_counter() - start
    start = time.perf_counter()
    size = len(fig.to_json())
    serialised = time.perf_counter() - start
    points = sum(len(t.x) for t in fig.data if t.x is not None and t.mode == "markers")
    return {"build_s": round(built, 3), "json_s": round(serialised, 3), "traces": len(fig.data),
            "markers": points, "json_MB": round(size / 1e6, 2),
            "webgl": any(t.type == "scattergl" for t in fig.data)}  # fmt: skip


if __name__ == "__main__":
    measure(lab_time_course, values(32))  # plotly loads its validators on first use
    for subjects in (32, 2000):
        print(subjects, "subjects:", measure(lab_time_course, values(subjects)))
