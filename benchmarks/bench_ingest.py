"""Ingest throughput beside DuckDB's own read: LB deliveries of 1M and 10M rows; XPT; 100 AE rows.

Usage: ``python benchmarks/bench_ingest.py [--sizes 1000000,10000000] [--formats parquet,csv]
[--xpt-rows 1000000] [--out DIR]``

For every size and format the product's ingest and DuckDB's own read of the same file
(``CREATE TABLE lb AS SELECT * FROM read_parquet(...)`` / ``read_csv(...)`` into a new database
file) run each in a fresh process, in the same run; rows/s, peak RSS (VmHWM) and the ratio
ingest / DuckDB are printed. The files are written under ``--out`` (default a new folder in
/tmp) and never committed.

The lab rows are the real pilot LB (tests/data/cdiscpilot01/lb.csv, 59,580 rows) repeated with
new subject ids (``01-701-1015-k``) until ``--rows``; DM is repeated the same way so every lab
row has its subject. Each format is loaded by a fresh process into a fresh database (after DM),
so its peak RSS is the ingest's alone. XPT is written with pyreadstat, which needs the whole
frame in memory and is slow for 10M rows: by default it is scaled down to ``--xpt-rows``.
Then a 100-row AE delivery is loaded into the database holding the 10M lab rows, twice (a first
cut, then a second cut that supersedes it), timed in this process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyreadstat

ROOT = Path(__file__).resolve().parents[1]
PILOT = ROOT / "tests" / "data" / "cdiscpilot01"
CHILD = """
import json, sys, time
from safety.access import command_line_user
from safety.ingest import ingest_paths
db, path = sys.argv[1], sys.argv[2]
t = time.perf_counter()
r = ingest_paths([path], db=db, user=command_line_user())[0]
elapsed = time.perf_counter() - t
# VmHWM: this process's own peak (ru_maxrss would carry the parent's over fork + exec)
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
print(json.dumps({"status": r.status, "rows": r.rows_loaded, "quarantined": r.rows_quarantined,
                  "seconds": elapsed, "peak_rss_mb": rss, "reason": r.reason}))
"""
DUCKDB_CHILD = """
import json, sys, time
import duckdb
db, path, reader = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect(db)
t = time.perf_counter()
con.execute(f"CREATE TABLE lb AS SELECT * FROM {reader}($path)", {"path": path})
con.execute("CHECKPOINT")
elapsed = time.perf_counter() - t
rows = con.execute("SELECT count(*) FROM lb").fetchone()[0]
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
print(json.dumps({"rows": rows, "seconds": elapsed, "peak_rss_mb": rss}))
"""


def make_files(out: Path, rows: int, xpt_rows: int) -> dict[str, Path]:
    """Scaled DM and LB deliveries (CSV, Parquet, XPT unless ``xpt_rows`` is 0) built from the
    pilot files."""
    copies = -(-rows // 59_580)
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{out}'")
    con.execute(f"""CREATE TABLE lb AS SELECT * REPLACE (USUBJID || '-' || k AS USUBJID)
        FROM read_csv('{PILOT / 'lb.csv'}', all_varchar = true, header = true), range({copies}) r(k)
        LIMIT {rows}""")
    con.execute(f"""COPY (SELECT * REPLACE (USUBJID || '-' || k AS USUBJID, 'x' || USUBJID
        || '-' || k AS SUBJID) FROM read_csv('{PILOT / 'dm.csv'}', all_varchar = true,
        header = true), range({copies}) r(k)) TO '{out / 'dm.csv'}' (HEADER)""")
    con.execute(f"COPY lb TO '{out / 'lb.csv'}' (HEADER)")
    con.execute(f"COPY lb TO '{out / 'lb.parquet'}' (FORMAT parquet)")
    files = {"dm": out / "dm.csv", "csv": out / "lb.csv", "parquet": out / "lb.parquet"}
    if not xpt_rows:
        return files
    frame = con.execute(f"SELECT * FROM lb LIMIT {xpt_rows}").df()
    for col in ("LBSEQ", "LBSTRESN", "LBSTNRLO", "LBSTNRHI", "VISITNUM", "VISITDY", "LBDY"):
        frame[col] = frame[col].astype("float64")  # numeric variables, as in a real lb.xpt
    t = time.perf_counter()
    pyreadstat.write_xport(frame, str(out / "lb.xpt"), table_name="LB", file_format_version=5)
    print(f"  wrote lb.xpt ({len(frame):,} rows) in {time.perf_counter() - t:.1f} s",
          file=sys.stderr)
    return {**files, "xpt": out / "lb.xpt"}


def new_db_with_dm(path: Path, dm: Path) -> None:
    from safety import store
    from safety.access import command_line_user
    from safety.ingest import ingest_paths
    with store.new_database(path):
        pass
    result = ingest_paths([dm], db=path, user=command_line_user())[0]
    assert result.status == "loaded", result


def run_child(db: Path, path: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(db), str(path)], capture_output=True,
                          text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def duckdb_read(out: Path, path: Path, fmt: str) -> dict:
    """DuckDB's own read of ``path`` into a new database file, in a fresh process."""
    db = out / f"duckdb_{fmt}.duckdb"
    db.unlink(missing_ok=True)
    reader = {"parquet": "read_parquet", "csv": "read_csv"}[fmt]
    proc = subprocess.run([sys.executable, "-c", DUCKDB_CHILD, str(db), str(path), reader],
                          capture_output=True, text=True, check=True)
    db.unlink(missing_ok=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def small_ae_delivery(db: Path, out: Path) -> list[float]:
    """Seconds to load a 100-row AE delivery into the scaled database: first cut, then second."""
    from safety.access import command_line_user
    from safety.ingest import ingest_paths
    with duckdb.connect(str(db), read_only=True) as con:
        ids = [r[0] for r in con.execute(
            "SELECT usubjid FROM subject WHERE cohort_id IS NOT NULL LIMIT 100").fetchall()]
    ae = duckdb.sql(f"SELECT * FROM read_csv('{PILOT / 'ae.csv'}', all_varchar = true, "
                    "header = true) LIMIT 100").df()
    ae["USUBJID"] = ids
    times = []
    for cut in (1, 2):
        ae["AESEQ"] = [str(i + cut) for i in range(100)]
        path = out / f"ae_cut{cut}.csv"
        ae.to_csv(path, index=False)
        t = time.perf_counter()
        result = ingest_paths([path], db=db, user=command_line_user())[0]
        times.append(time.perf_counter() - t)
        assert result.rows_loaded == 100, result
    return times


def measure(out: Path, files: dict[str, Path], fmt: str) -> tuple[dict, Path]:
    """The product's ingest of one LB file (fresh database with DM, fresh process), and for
    Parquet and CSV DuckDB's own read of the same file with the ratio of their paces."""
    db = out / f"bench_{fmt}.duckdb"
    db.unlink(missing_ok=True)
    new_db_with_dm(db, files["dm"])
    result = run_child(db, files[fmt])
    result["rows_per_second"] = result["rows"] / result["seconds"]
    result["file_mb"] = files[fmt].stat().st_size / 2**20
    line = (f"  {fmt:8} {result['rows']:>11,} rows in {result['seconds']:7.1f} s = "
            f"{result['rows_per_second']:>10,.0f} rows/s, peak RSS {result['peak_rss_mb']:,.0f} MB")
    if fmt in ("parquet", "csv"):
        own = duckdb_read(out, files[fmt], fmt)
        own["rows_per_second"] = own["rows"] / own["seconds"]
        result["duckdb"] = own
        result["ratio"] = result["rows_per_second"] / own["rows_per_second"]
        line += (f"; DuckDB's own read {own['rows_per_second']:>10,.0f} rows/s in "
                 f"{own['peak_rss_mb']:,.0f} MB; ratio {result['ratio']:.2f}")
    print(line, file=sys.stderr)
    return result, db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000",
                        help="LB rows per delivery, comma-separated")
    parser.add_argument("--xpt-rows", type=int, default=0, help="also XPT of this many rows")
    parser.add_argument("--formats", default="parquet,csv")
    parser.add_argument("--ae", action="store_true",
                        help="then a 100-row AE delivery into the largest database, twice")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true",
                        help="use (and keep) the files an earlier run left in --out")
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    report: dict = {"sizes": {}}
    biggest = None
    for rows in (int(n) for n in args.sizes.split(",")):
        out = root / str(rows)
        out.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        names = {"dm": "dm.csv", "csv": "lb.csv", "parquet": "lb.parquet", "xpt": "lb.xpt"}
        files = {k: out / n for k, n in names.items() if (out / n).exists()}
        if not (args.reuse and {"dm", "csv", "parquet"} <= set(files)):
            files = make_files(out, rows, args.xpt_rows)
        print(f"{rows:,} LB rows: files in {out} ({time.perf_counter() - t:.1f} s)",
              file=sys.stderr)
        formats = args.formats.split(",") + (["xpt"] if args.xpt_rows else [])
        report["sizes"][rows] = {}
        for fmt in formats:
            report["sizes"][rows][fmt], db = measure(out, files, fmt)
            if fmt != "xpt":
                biggest = db
        for path in files.values() if not args.reuse else ():  # 10M rows: 1.4 GB of CSV
            path.unlink()
    if args.ae and biggest is not None:
        times = small_ae_delivery(biggest, biggest.parent)
        report["ae_100_rows_seconds"] = {"first_cut": times[0], "second_cut": times[1]}
        report["db_mb"] = biggest.stat().st_size / 2**20
        print(f"  100-row AE into {biggest} ({report['db_mb']:,.0f} MB): {times[0]:.2f} s, "
              f"next cut {times[1]:.2f} s", file=sys.stderr)
    report["bench_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
