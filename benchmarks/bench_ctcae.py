"""Grade 10 million synthetic lab rows with CTCAE v5.0; print seconds and peak memory.

Run: ``.venv/bin/python benchmarks/bench_ctcae.py [n_rows] [--derive] [--sql]``.
``--sql`` grades in the store instead: the rows are generated inside DuckDB (``range()``) into
a fresh database with the product's schema, then ``lab_graded`` (the generated SQL view,
``safety.ctcae.sql``) is materialised with ``CREATE TABLE ... AS SELECT``; run it in its own
process for a clean peak-memory figure. Rows are made with a seeded numpy
generator: 20 CTCAE terms (the common safety labs), values spread around each term's limits,
5 % missing limits, 10 % baseline-abnormal flags.
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np
import pandas as pd

from safety.ctcae import derive_lab_grades, grade_frame

SEED = 20171127  # CTCAE v5.0 publication date

# term, unit, lln, uln: typical SI reference ranges, used only to spread synthetic values
TERMS = [
    ("Anemia", "g/L", 120.0, 160.0),
    ("Hemoglobin increased", "g/L", 120.0, 160.0),
    ("White blood cell decreased", "10^9/L", 4.0, 10.0),
    ("Leukocytosis", "10^9/L", 4.0, 10.0),
    ("Platelet count decreased", "10^9/L", 150.0, 400.0),
    ("Neutrophil count decreased", "10^9/L", 2.0, 7.5),
    ("Lymphocyte count decreased", "10^9/L", 1.0, 4.0),
    ("Alanine aminotransferase increased", "U/L", 0.0, 40.0),
    ("Aspartate aminotransferase increased", "U/L", 0.0, 40.0),
    ("Alkaline phosphatase increased", "U/L", 40.0, 130.0),
    ("Blood bilirubin increased", "umol/L", 3.0, 21.0),
    ("Creatinine increased", "umol/L", 60.0, 110.0),
    ("Hypokalemia", "mmol/L", 3.5, 5.1),
    ("Hyperkalemia", "mmol/L", 3.5, 5.1),
    ("Hyponatremia", "mmol/L", 135.0, 145.0),
    ("Hypernatremia", "mmol/L", 135.0, 145.0),
    ("Hypoglycemia", "mmol/L", 3.9, 6.1),
    ("Hypoalbuminemia", "g/L", 35.0, 50.0),
    ("CPK increased", "U/L", 30.0, 200.0),
    ("INR increased", None, 0.8, 1.2),
]


def synthetic_labs(n: int, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    k = rng.integers(0, len(TERMS), n)
    lln = np.array([t[2] for t in TERMS])[k]
    uln = np.array([t[3] for t in TERMS])[k]
    mid = (lln + uln) / 2
    value = mid * rng.lognormal(0.0, 0.6, n)
    baseline = mid * rng.lognormal(0.0, 0.3, n)
    lln = np.where(rng.random(n) < 0.05, np.nan, lln)
    uln = np.where(rng.random(n) < 0.05, np.nan, uln)
    terms = pd.Categorical.from_codes(k, [t[0] for t in TERMS])
    unit_names = np.array([t[1] for t in TERMS], dtype=object)[k]
    return pd.DataFrame(
        {
            "term": terms,
            "value": value,
            "lln": lln,
            "uln": uln,
            "baseline": baseline,
            "baseline_abnormal": rng.random(n) < 0.10,
            "unit": pd.array(unit_names, dtype="str"),
        }
    )


def synthetic_product_labs(n: int, seed: int = SEED) -> pd.DataFrame:
    """The product's lab columns: 10 visits per subject and test, first dose after visit 1."""
    rng = np.random.default_rng(seed)
    codes = [
        "HGB",
        "WBC",
        "PLAT",
        "NEUT",
        "ALT",
        "AST",
        "ALP",
        "BILI",
        "CREAT",
        "K",
        "SODIUM",
        "GLUC",
        "ALB",
        "CK",
        "INR",
        "PROT",
    ]
    units = [
        "g/L",
        "10^9/L",
        "10^9/L",
        "10^9/L",
        "U/L",
        "U/L",
        "U/L",
        "umol/L",
        "umol/L",
        "mmol/L",
        "mmol/L",
        "mmol/L",
        "g/L",
        "U/L",
        None,
        "g/L",
    ]
    mids = np.array([140, 7, 250, 4, 25, 25, 80, 10, 85, 4.3, 140, 5, 42, 100, 1.0, 70.0])
    visit = np.arange(n) % 10
    series = np.arange(n) // 10
    k = series % len(codes)
    subject = series // len(codes)
    value = mids[k] * rng.lognormal(0.0, 0.4, n)
    day0 = np.datetime64("2024-01-01")
    return pd.DataFrame(
        {
            "study_id": "BENCH",
            "usubjid": pd.array(subject.astype(str), dtype="str"),
            "seq": np.arange(n),
            "test_code": pd.Categorical.from_codes(k, codes).astype(str),
            "value": value,
            "unit": pd.array(np.array(units, dtype=object)[k], dtype="str"),
            "lln": mids[k] * 0.7,
            "uln": mids[k] * 1.3,
            "collected_date": day0 + (visit * 14).astype("timedelta64[D]"),
            "first_dose_date": day0 + np.timedelta64(1, "D"),
        }
    )


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def sql_main(n: int, threads: int | None = None) -> None:
    """Grade ``n`` lab rows through the store's ``lab_graded`` view (DuckDB SQL)."""
    import tempfile
    from pathlib import Path

    import duckdb

    from safety import store

    codes = [
        "HGB",
        "WBC",
        "PLAT",
        "NEUT",
        "ALT",
        "AST",
        "ALP",
        "BILI",
        "CREAT",
        "K",
        "SODIUM",
        "GLUC",
        "ALB",
        "CK",
        "INR",
        "PROT",
    ]
    units = [
        "g/L",
        "10^9/L",
        "10^9/L",
        "10^9/L",
        "U/L",
        "U/L",
        "U/L",
        "umol/L",
        "umol/L",
        "mmol/L",
        "mmol/L",
        "mmol/L",
        "g/L",
        "U/L",
        "",
        "g/L",
    ]
    mids = [140, 7, 250, 4, 25, 25, 80, 10, 85, 4.3, 140, 5, 42, 100, 1.0, 70.0]
    subjects = max(n // (10 * len(codes)), 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        con = duckdb.connect(str(path))
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        store.create_schema(con)
        t0 = time.perf_counter()
        con.execute(
            """
            INSERT INTO subject (study_id, usubjid, status, first_dose_date, batch_id)
            SELECT 'BENCH', 'S' || i, 'on study', DATE '2024-01-02', 1 FROM range($n) t(i)""",
            {"n": subjects},
        )
        con.execute(
            """
            INSERT INTO lab (study_id, usubjid, seq, test_code, value, unit, lln, uln,
                             collected_date, batch_id)
            SELECT 'BENCH', 'S' || (i // (10 * $k)), i, $codes[1 + (i // 10) % $k],
                   $mids[1 + (i // 10) % $k] * exp(0.4 * (hash(i) % 10000 / 10000.0 - 0.5) * 4),
                   nullif($units[1 + (i // 10) % $k], ''),
                   $mids[1 + (i // 10) % $k] * 0.7, $mids[1 + (i // 10) % $k] * 1.3,
                   DATE '2024-01-01' + CAST(14 * (i % 10) AS INTEGER), 1
            FROM range($n) t(i)""",
            {"n": n, "k": len(codes), "codes": codes, "units": units, "mids": mids},
        )
        t1 = time.perf_counter()
        print(f"made {n:,} lab rows in DuckDB in {t1 - t0:.1f} s; peak RSS {peak_mb():,.0f} MB")
        con.execute("CREATE TABLE graded AS SELECT * FROM lab_graded")
        t2 = time.perf_counter()
        rows = con.execute("SELECT count(*) FROM graded").fetchone()[0]
        counts = con.execute(
            "SELECT worst_grade, count(*) FROM graded GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        print(
            f"lab_graded (SQL view, baseline + both directions + reasons): {t2 - t1:.1f} s "
            f"for {rows:,} rows ({rows / (t2 - t1):,.0f} rows/s); peak RSS {peak_mb():,.0f} MB"
        )
        print("worst grades:", {("NA" if g is None else g): c for g, c in counts})
        t3 = time.perf_counter()
        one = con.execute(
            "SELECT count(*), max(worst_grade) FROM lab_graded WHERE usubjid = 'S7'"
        ).fetchall()
        print(f"one subject through the view: {time.perf_counter() - t3:.2f} s {one}")
        con.close()


def main(n: int = 10_000_000) -> None:
    t0 = time.perf_counter()
    labs = synthetic_labs(n)
    t1 = time.perf_counter()
    print(f"made {n:,} synthetic rows in {t1 - t0:.1f} s; peak RSS {peak_mb():,.0f} MB")
    graded = grade_frame(labs)
    t2 = time.perf_counter()
    counts = graded["grade"].value_counts(dropna=False).sort_index()
    print(
        f"grade_frame: {t2 - t1:.1f} s for {n:,} rows ({n / (t2 - t1):,.0f} rows/s); "
        f"peak RSS {peak_mb():,.0f} MB"
    )
    print("grades:", {("NA" if pd.isna(g) else int(g)): int(c) for g, c in counts.items()})
    del labs, graded
    if "--derive" in sys.argv:
        product = synthetic_product_labs(n)
        t3 = time.perf_counter()
        out = derive_lab_grades(product)
        t4 = time.perf_counter()
        print(
            f"derive_lab_grades: {t4 - t3:.1f} s for {len(out):,} rows; "
            f"peak RSS {peak_mb():,.0f} MB"
        )


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--sql" in sys.argv:
        sql_main(int(args[0]) if args else 10_000_000)
    else:
        main(int(args[0]) if args else 10_000_000)
