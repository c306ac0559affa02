"""Concurrency and crashes with real processes (issue 5, item 5).

- A reader process loops over short read-only connections (as the dashboard does) while this
  process ingests: it must never get an error and never see half a batch.
- An ingest process killed with SIGKILL, mid-transaction or at any moment, leaves the database
  as before or as after each file, never in between.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import people
import pytest

from safety import store
from safety.ingest import ingest_paths

PILOT = Path(__file__).parent / "data" / "cdiscpilot01"
STUDY = "CDISCPILOT01"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

READER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from safety import store
    db, stop = sys.argv[1], Path(sys.argv[2])
    reads, errors, torn, seen = 0, [], [], set()
    while not stop.exists():
        try:
            with store.read_connection(db) as con:
                rows = con.execute('''
                    SELECT (SELECT count(*) FROM current_lab),
                           (SELECT coalesce(sum(rows_loaded), 0) FROM ingest_batch
                            WHERE domain = 'LB' AND status = 'loaded' AND superseded_by IS NULL),
                           (SELECT count(*) FROM current_subject)''').fetchall()[0]
            reads += 1
            seen.add(rows[0])
            if rows[0] != rows[1] or rows[2] not in (0, 306):
                torn.append(list(rows))
        except Exception as exc:  # the test counts every error, whatever its kind
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.005)
    print(json.dumps({"reads": reads, "errors": errors, "torn": torn, "seen": sorted(seen)}))
""")


def new_db(path: Path) -> Path:
    with store.new_database(path):
        pass
    return path


def consistent(db: Path) -> dict[str, int]:
    """Per domain: current rows, checked equal to the rows_loaded of its current batches."""
    tables = {"DM": "subject", "LB": "lab", "VS": "vital_sign", "AE": "adverse_event"}
    counts = {}
    with store.read_connection(db) as con:
        for domain, table in tables.items():
            rows, loaded, orphans = con.execute(f"""
                SELECT (SELECT count(*) FROM current_{table} WHERE study_id = $s),
                       (SELECT coalesce(sum(rows_loaded), 0) FROM ingest_batch
                        WHERE study_id = $s AND domain = $d AND status = 'loaded'
                          AND superseded_by IS NULL),
                       (SELECT count(*) FROM {table} t
                        WHERE NOT EXISTS (SELECT 1 FROM ingest_batch b
                                          WHERE b.batch_id = t.batch_id))""",
                {"s": STUDY, "d": domain}).fetchall()[0]
            assert rows == loaded and orphans == 0, (domain, rows, loaded, orphans)
            counts[domain] = rows
    return counts


def test_reader_process_never_fails_nor_sees_half_a_batch(tmp_path):
    db = new_db(tmp_path / "live.duckdb")
    stop = tmp_path / "stop"
    lb = pd.read_csv(PILOT / "lb.csv", dtype=str, keep_default_na=False)
    added = lb.head(500).assign(LBSEQ=lambda f: (f["LBSEQ"].astype(int) + 100_000).astype(str))
    # a second cut of LB with 500 more records (a smaller one would be held: issue 14)
    pd.concat([lb, added]).to_csv(tmp_path / "lb_cut2.csv", index=False)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(db), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # the reader is looping before the first write
        results = ingest_paths([PILOT / "dm.csv", PILOT / "lb.csv"], db=db, user=people.DATA_MANAGER)
        results += ingest_paths([tmp_path / "lb_cut2.csv", PILOT / "vs.csv"], db=db, user=people.DATA_MANAGER)
        results += ingest_paths([PILOT / "lb.csv"], db=db, user=people.DATA_MANAGER)  # duplicate of cut 1: no-op
        time.sleep(0.5)
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    report = json.loads(out)
    assert [r.status for r in results] == ["loaded"] * 4 + ["duplicate"]
    assert report["errors"] == [] and report["torn"] == []
    assert report["reads"] > 5  # it read before, during and after the writes
    assert set(report["seen"]) <= {0, 59_580, 60_080} and 60_080 in report["seen"]


KILL_INSIDE_TRANSACTION = textwrap.dedent("""
    import os, signal, sys
    from safety.access import command_line_user
    from safety.store import queries
    from safety.ingest import ingest_paths
    real_insert = queries.database.insert_frame
    def insert_then_die(con, table, frame):
        n = real_insert(con, table, frame)
        if table == "lab":  # the rows are written, the transaction is not committed
            os.kill(os.getpid(), signal.SIGKILL)
        return n
    queries.database.insert_frame = insert_then_die
    ingest_paths(sys.argv[2:], db=sys.argv[1], user=command_line_user())
""")


def test_sigkill_inside_the_transaction_leaves_the_database_as_before(tmp_path):
    db = new_db(tmp_path / "k.duckdb")
    ingest_paths([PILOT / "dm.csv"], db=db, user=people.DATA_MANAGER)
    before = consistent(db)
    child = subprocess.run([sys.executable, "-c", KILL_INSIDE_TRANSACTION, str(db),
                            str(PILOT / "lb.csv")], capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert consistent(db) == before == {"DM": 306, "LB": 0, "VS": 0, "AE": 0}
    # and the database still takes the delivery afterwards
    assert ingest_paths([PILOT / "lb.csv"], db=db, user=people.DATA_MANAGER)[0].rows_loaded == 59_580
    assert consistent(db)["LB"] == 59_580


KILL_FILES = [str(PILOT / f) for f in ("dm.csv", "lb.csv", "vs.csv", "ae.csv")]
INGEST = ("import sys; from safety.ingest import ingest_paths; "
          "from safety.access import command_line_user; "
          "ingest_paths(sys.argv[2:], db=sys.argv[1], user=command_line_user())")


@pytest.fixture(scope="module")
def ingest_seconds(tmp_path_factory) -> float:
    """How long an uninterrupted ingest process of the kill test's files takes here."""
    db = new_db(tmp_path_factory.mktemp("timing") / "timing.duckdb")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", INGEST, str(db)] + KILL_FILES, check=True, timeout=120)
    return time.perf_counter() - started


@pytest.mark.parametrize("fraction", [0.35, 0.6, 0.8, 0.95])
def test_sigkill_at_any_moment_leaves_each_file_all_or_nothing(tmp_path, ingest_seconds,
                                                               fraction):
    db = new_db(tmp_path / "k.duckdb")
    child = subprocess.Popen([sys.executable, "-c", INGEST, str(db)] + KILL_FILES)
    time.sleep(ingest_seconds * fraction)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    counts = consistent(db)  # asserts rows == rows_loaded of the current batches, no orphans
    expected = {"DM": 306, "LB": 59_580, "VS": 29_643, "AE": 1191}
    assert all(counts[d] in (0, n) for d, n in expected.items()), counts
