"""The inbox watcher: readiness rules in-process, then end to end with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import people
import pytest

from safety import store
from safety.demo import generator as demo
from safety.demo import scenario
from safety.demo.live import LiveFeed, write_then_rename
from safety.ingest.domains import domain_rank
from safety.monitor import alerts
from safety.store import queries
from safety.watch import Watcher

ROOT = Path(__file__).resolve().parents[1]
PILOT = Path(__file__).parent / "data" / "cdiscpilot01"
POLL = 0.3


def test_1_a_file_is_ready_only_after_an_unchanged_look(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    w = Watcher(inbox, db=tmp_path / "unused.duckdb", poll=POLL, user=people.DATA_MANAGER)
    (inbox / "dm.csv").write_text("a\n")
    (inbox / "ae.csv.part").write_text("half")  # a sender still writing: never read
    (inbox / ".lb.csv").write_text("hidden")
    (inbox / "vs.tmp").write_text("temporary")
    assert w.ready_files() == []  # first look
    (inbox / "dm.csv").write_text("a\nb\n")  # grew meanwhile
    assert w.ready_files() == []
    assert w.ready_files() == [inbox / "dm.csv"]  # unchanged for one look
    assert sorted(p.name for p in (inbox / "processed", inbox / "rejected")) == [
        "processed",
        "rejected",
    ]


@pytest.mark.parametrize(
    "name, rank",
    [
        ("DM.csv", 0),
        ("nct04232592_dm_20210116.csv", 0),
        ("2021-01-16-AE.xpt", 3),
        ("lb.parquet", 5),
        ("notes.csv", 7),
    ],
)  # DOMAIN_ORDER: DM, DS, EX, AE, SUPPAE, LB, VS; unknown last
def test_2_files_ready_together_load_dm_first(name, rank):
    assert domain_rank(name) == rank


@pytest.fixture
def live_db(tmp_path) -> Path:
    db = tmp_path / "live.duckdb"
    demo.build_demo(db)
    alerts.refresh_alerts(db)  # the baseline
    return db


def _start_watcher(inbox: Path, db: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "safety",
            "-v",
            "watch",
            str(inbox),
            "--db",
            str(db),
            "--poll",
            str(POLL),
        ],
        cwd=ROOT,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )


def _wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _batches(db: Path):
    with store.read_connection(db) as con:
        return queries.ingest.batch_ledger(con)


def test_3_watcher_end_to_end_with_real_processes(live_db, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    log = tmp_path / "watch.log"
    proc = _start_watcher(inbox, live_db, log)
    try:
        # (a) a half-written file, written in place in small pieces, is not read early
        dm = (PILOT / "dm.csv").read_bytes()
        slow = inbox / "slow_dm.csv"
        with open(slow, "wb") as handle:
            for i in range(0, len(dm), len(dm) // 8 + 1):
                handle.write(dm[i : i + len(dm) // 8 + 1])
                handle.flush()
                time.sleep(POLL / 2)  # keeps changing: never unchanged for a whole interval
                assert slow.exists(), "the watcher took a file that was still being written"
        moved = _wait_for(lambda: (inbox / "processed" / "slow_dm.csv").exists(), what="slow")
        assert moved
        ledger = _batches(live_db)
        row = ledger[ledger["file_name"] == "slow_dm.csv"].iloc[0]
        assert (row["status"], row["rows_in"], row["rows_quarantined"]) == ("loaded", 306, 0)

        # (b) a bad file is rejected with its reason, and the watcher goes on
        (inbox / "broken.csv").write_bytes(b"\xff\xfe\x00garbage,\x00\n\x01\x02")
        reason = _wait_for(
            lambda: (
                (inbox / "rejected" / "broken.csv.reason.txt").exists()
                and (inbox / "rejected" / "broken.csv.reason.txt").read_text()
            ),
            what="rejection",
        )
        assert "broken.csv" in reason
        assert (inbox / "rejected" / "broken.csv").exists()

        # (c) the live demo's deliveries, written then renamed, are ingested and raise alerts
        feed = LiveFeed()
        for _ in range(6):  # day 6: the SAE and DLT of HIGH's first newly dosed woman
            feed.advance()
            feed.write(inbox)

        def sae_alert() -> str | None:
            with store.read_connection(live_db) as con:
                a = queries.alerts.alert_feed(con, scenario.DEMO_STUDY_ID, unacknowledged_only=True)
            hit = a[(a["kind"] == "sae") & (a["usubjid"] == "NCT04232592-01-031")]
            return None if hit.empty else hit["title"].iloc[0]

        title = _wait_for(sae_alert, what="SAE alert")
        assert title == "SAE: Pelvic inflammatory disease in NCT04232592-01-031"
        _wait_for(lambda: not any(inbox.glob("*.csv")), what="inbox drained")
        processed = sorted(p.name for p in (inbox / "processed").glob("nct*.csv"))
        assert len(processed) == 14 and not any((inbox / "rejected").glob("nct*"))
        assert proc.poll() is None, "the watcher died"

        # (d) SIGTERM stops it cleanly
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    output = log.read_text()
    assert "stopped" in output
    assert "ALERT critical NCT04232592 SAE: Pelvic inflammatory disease" in output
    assert "Traceback" not in output


def test_4_sigint_while_idle_stops_with_status_0(live_db, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    proc = _start_watcher(inbox, live_db, tmp_path / "w.log")
    try:
        _wait_for(lambda: (inbox / "processed").exists(), what="watcher start")
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_5_write_then_rename_never_shows_a_partial_name(tmp_path):
    target = write_then_rename(tmp_path / "ae.csv", b"STUDYID\n")
    assert target.read_bytes() == b"STUDYID\n" and os.listdir(tmp_path) == ["ae.csv"]
