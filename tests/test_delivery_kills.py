"""kill -9 during deliveries (issue 14, defect 5): a kill at any moment never loses an alert.

Real processes on a real DuckDB file: the CDISC pilot's DM and AE (tests/data/cdiscpilot01,
credit CDISC) with the alert baseline recorded, then a delivery that brings a new subject and
her SAE (DM_2015.csv, AE_2015.csv). The process running it is killed (SIGKILL) exactly between
the commit of the AE batch and the alert evaluation, and at seeded random moments. After each
kill the database opens, the ledger invariant holds, ``status`` works, and the next process that
runs a delivery (even one that is only a duplicate now) raises the SAE alert, once.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import people
import pytest

from safety import pipeline, store
from safety.config import stored_study_config
from safety.ingest import ingest_paths
from safety.monitor.status import study_status
from safety.store import queries

ROOT = Path(__file__).resolve().parents[1]
PILOT = Path(__file__).parent / "data" / "cdiscpilot01"
STUDY = "CDISCPILOT01"
NEW = "01-701-9001"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, list[Path]]:
    folder = tmp_path_factory.mktemp("kills")
    db = folder / "base.duckdb"
    ingest_paths([PILOT / "dm.csv", PILOT / "ae.csv"], db=db, user=people.DATA_MANAGER)
    pipeline.raise_alerts(db)  # the baseline: only what arrives later is news
    dm, ae = (pd.read_csv(PILOT / f"{d}.csv", dtype=str, keep_default_na=False)
              for d in ("dm", "ae"))
    pd.concat([dm, dm.head(1).assign(USUBJID=NEW, SUBJID="9001")]).to_csv(
        folder / "DM_2015.csv", index=False)
    pd.concat([ae, ae.head(1).assign(USUBJID=NEW, AESER="Y", AEDECOD="SYNCOPE")]).to_csv(
        folder / "AE_2015.csv", index=False)
    return db, [folder / "DM_2015.csv", folder / "AE_2015.csv"]


def copy_of(db: Path, tmp_path: Path) -> Path:
    target = tmp_path / "k.duckdb"
    shutil.copy(db, target)
    return target


def sae_alerts(db: Path) -> int:
    with store.read_connection(db) as con:
        feed = queries.alerts.alert_feed(con, STUDY)
    return int(((feed["kind"] == "sae") & (feed["usubjid"] == NEW)).sum())


def consistent(db: Path) -> None:
    """The database opens, the ledger adds up, status works."""
    with store.read_connection(db) as con:
        assert con.execute("SELECT count(*) FROM ingest_batch WHERE rows_in <> rows_loaded + "
                           "rows_quarantined").fetchall() == [(0,)]
        assert con.execute("""
            SELECT count(*) FROM ingest_batch b WHERE b.status = 'loaded' AND b.domain = 'AE'
              AND (SELECT count(*) FROM adverse_event a WHERE a.batch_id = b.batch_id)
                  <> b.rows_loaded + b.rows_carried""").fetchall() == [(0,)]
        config = stored_study_config(queries.studies.study_config_text(con, STUDY), STUDY)
        assert study_status(con, config, store.now().date()).cohorts


KILL_BEFORE_ALERTS = textwrap.dedent("""
    import os, signal, sys
    from safety import pipeline
    def die(db=None, now=None):  # the batch is committed; the alerts were not evaluated yet
        os.kill(os.getpid(), signal.SIGKILL)
    pipeline.refresh_alerts = die
    from safety.cli import main
    sys.argv = ["safety", "ingest", *sys.argv[2:], "--db", sys.argv[1]]
    main()
""")


@pytest.fixture(scope="module")
def killed_before_alerts(setup, tmp_path_factory) -> tuple[Path, float]:
    """A delivery process killed right after its AE batch committed, before the alerts; and how
    long it ran (imports, DM and AE loaded: the window the random kills below fall in)."""
    base, files = setup
    db = tmp_path_factory.mktemp("before-alerts") / "k.duckdb"
    shutil.copy(base, db)
    started = time.perf_counter()
    child = subprocess.run([sys.executable, "-c", KILL_BEFORE_ALERTS, str(db), *map(str, files)],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    return db, time.perf_counter() - started


def test_5a_a_kill_between_commit_and_alerts_leaves_them_pending_not_lost(setup,
                                                                        killed_before_alerts):
    _, files = setup
    db, _ = killed_before_alerts
    consistent(db)
    with store.read_connection(db) as con:
        assert con.execute("SELECT count(*) FROM current_adverse_event WHERE usubjid = $u "
                           "AND serious", {"u": NEW}).fetchall() == [(1,)]
    assert sae_alerts(db) == 0  # committed, alerts still due
    # the sender sends the same files again: duplicates now, and the alert is raised
    delivery = pipeline.deliver_paths(files, db=db, user=people.DATA_MANAGER)
    assert {r.status for r in delivery.results} == {"duplicate"}
    assert [a.title for a in delivery.alerts if a.kind == "sae"] == [f"SAE: SYNCOPE in {NEW}"]
    assert sae_alerts(db) == 1


INGEST = ("import sys; from safety import pipeline; from safety.access import command_line_user; "
          "pipeline.deliver_paths(sys.argv[2:], db=sys.argv[1], user=command_line_user())")


@pytest.mark.parametrize("seed", [1, 2])
def test_5b_a_kill_at_a_random_moment_never_loses_an_alert(setup, killed_before_alerts,
                                                           tmp_path, seed):
    base, files = setup
    db = copy_of(base, tmp_path)
    child = subprocess.Popen([sys.executable, "-c", INGEST, str(db), *map(str, files)],
                             cwd=ROOT)
    # from the imports to past the alerts: before DM, between DM and AE, after AE, in alerts
    time.sleep(random.Random(seed).uniform(0.5, 1.3) * killed_before_alerts[1])
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    consistent(db)
    pipeline.deliver_paths(files, db=db, user=people.DATA_MANAGER)  # the next delivery completes it
    consistent(db)
    assert sae_alerts(db) == 1
    with store.read_connection(db) as con:
        assert con.execute("SELECT count(*) FROM current_adverse_event").fetchall() == [(1192,)]


def test_exit_2_prints_exactly_one_line_on_stderr(tmp_path):
    bad = tmp_path / "ae.xpt"
    bad.write_bytes((PILOT / "ae.csv").read_bytes())  # a CSV named .xpt
    run = subprocess.run([sys.executable, "-m", "safety", "ingest", str(bad), "--db",
                          str(tmp_path / "new.duckdb")], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "is not a SAS transport (XPT) file" in run.stderr
    assert "a new database was created" in run.stderr
