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
from safety.demo import scenario
from safety.demo.live import LiveFeed, write_then_rename
from safety.ingest.domains import domain_rank
from safety.monitor import alerts
from safety.store import queries
from safety.watch import Watcher

ROOT = Path(__file__).resolve().parents[1]
PILOT = Path(__file__).parent / "data" / "cdiscpilot01"
POLL = 0.3


def test_1_a_file_is_ready_only_after_two_unchanged_looks(tmp_path):
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
    assert w.ready_files() == []  # unchanged for one look: not yet (STABLE_LOOKS = 2)
    assert w.ready_files() == [inbox / "dm.csv"]  # unchanged for two looks
    assert sorted(p.name for p in (inbox / "processed", inbox / "rejected")) == [
        "processed",
        "rejected",
    ]


@pytest.mark.parametrize(
    "domain, rank",
    [("DM", 0), ("SUPPDM", 0.5), ("DS", 1), ("AE", 3), ("SUPPAE", 3.5), ("LB", 5),
     ("SUPPLB", 5.5), ("MH", 8), (None, 8)],
)  # DOMAIN_ORDER: DM, DS, EX, AE, SUPPAE, LB, VS, SUPPDM; a SUPP-- after its parent; unknown last
def test_2_files_ready_together_load_dm_first(domain, rank):
    assert domain_rank(domain) == rank


@pytest.fixture
def live_db(fresh_demo) -> Path:
    db = fresh_demo
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


# --- issue 14, defect 6: a paused sender, a vanished file, links, reason files ---------------

def test_6a_a_file_still_open_for_writing_is_not_taken_even_when_its_sender_pauses(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    w = Watcher(inbox, db=tmp_path / "unused.duckdb", poll=POLL, user=people.DATA_MANAGER)
    data = (PILOT / "ae.csv").read_bytes()
    with open(inbox / "ae.csv", "wb") as sender:
        sender.write(data[: len(data) // 2])  # 588 of 1,191 rows, then a long pause
        sender.flush()
        for _ in range(5):  # unchanged for five polls, but the sender still has it open
            assert w.ready_files() == []
        sender.write(data[len(data) // 2:])
    assert w.ready_files() == [] and w.ready_files() == []  # changed: two unchanged looks again
    assert w.ready_files() == [inbox / "ae.csv"]
    assert (inbox / "ae.csv").read_bytes() == data


def test_6b_a_file_that_vanishes_between_listing_and_reading_is_skipped(tmp_path, caplog):
    db = tmp_path / "w.duckdb"
    store.create_if_missing(db)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    w = Watcher(inbox, db=db, poll=POLL, user=people.DATA_MANAGER)
    (inbox / "dm.csv").write_bytes((PILOT / "dm.csv").read_bytes())
    ready = [w.ready_files() for _ in range(3)][-1]
    assert ready == [inbox / "dm.csv"]
    (inbox / "dm.csv").unlink()  # another consumer took it
    with caplog.at_level("INFO", logger="safety.watch"):
        assert w.process(ready[0]) is None
    assert "dm.csv vanished before it was read; skipped" in caplog.text
    assert not any((inbox / "rejected").iterdir())
    (inbox / "dm.csv").write_bytes((PILOT / "dm.csv").read_bytes())  # and the watcher goes on
    outcomes = [o for _ in range(3) for o in w.poll_once()]
    assert [o.result.status for o in outcomes] == ["loaded"]


def test_6c_links_are_never_followed_and_reason_files_never_quote_a_file(tmp_path):
    db = tmp_path / "w.duckdb"
    store.create_if_missing(db)
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    secret = outside / "secret.csv"
    secret.write_text("password=hunter2\nxx,yy,zz\n")
    victim = outside / "victim.txt"
    victim.write_text("untouched")
    w = Watcher(inbox, db=db, poll=POLL, user=people.DATA_MANAGER)
    (inbox / "ae.csv").symlink_to(secret)  # a link out of the inbox
    os.link(secret, inbox / "lb.csv")  # a second name of an outside file
    (inbox / "dm.csv").write_text("STUDYID,DOMAIN\nCDISCPILOT01,DM\nSECRET-ROW,two,three\n")
    (inbox / "rejected" / "dm.csv.reason.txt").symlink_to(victim)  # a trap for the writer
    for _ in range(4):
        w.poll_once()
    assert (inbox / "ae.csv").is_symlink() and (inbox / "lb.csv").exists()  # left, unread
    assert victim.read_text() == "untouched"
    reasons = [p.read_text() for p in (inbox / "rejected").glob("*.reason*.txt")
               if not p.is_symlink()]
    assert len(reasons) == 1 and "dm.csv" in reasons[0]
    assert not any(s in r for r in reasons for s in ("SECRET", "hunter2", "xx,yy", "two,three"))
    with store.read_connection(db) as con:
        assert con.execute("SELECT count(*) FROM ingest_batch").fetchall() == [(0,)]


def test_6d_watcher_race_with_a_careless_and_a_hostile_sender(tmp_path):
    """A watcher process against senders that write in place and pause, delete what they just
    wrote, swap files for links and send AE before DM: it survives, reads nothing outside the
    inbox, loads every finished file whole, and the new subject's SAE loads."""
    import pandas as pd

    db = tmp_path / "race.duckdb"
    from safety.ingest import ingest_paths
    from safety.pipeline import raise_alerts

    ingest_paths([PILOT / "dm.csv", PILOT / "ae.csv"], db=db, user=people.DATA_MANAGER)
    raise_alerts(db)
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    secret = outside / "secret.csv"
    secret.write_text("password=hunter2\nxx,yy,zz\n")
    dm, ae = (pd.read_csv(PILOT / f"{d}.csv", dtype=str, keep_default_na=False)
              for d in ("dm", "ae"))
    dm_new = pd.concat([dm, dm.head(1).assign(USUBJID="01-701-9001", SUBJID="9001")])
    ae_new = pd.concat([ae, ae.head(1).assign(USUBJID="01-701-9001", AESER="Y",
                                              AEDECOD="SYNCOPE")])
    log = tmp_path / "watch.log"
    proc = _start_watcher(inbox, db, log)
    try:
        _wait_for(lambda: (inbox / "processed").exists(), what="watcher start")
        write_then_rename(inbox / "AE_2015.csv", ae_new.to_csv(index=False).encode())
        data = dm_new.to_csv(index=False).encode()
        with open(inbox / "DM_2015.csv", "wb") as sender:  # in place, with long pauses
            for i in range(0, len(data), len(data) // 3 + 1):
                sender.write(data[i: i + len(data) // 3 + 1])
                sender.flush()
                for n in range(3):  # meanwhile: files that vanish, links, a swap
                    gone = inbox / f"tmp_{i}_{n}.csv"
                    gone.write_bytes(data[:100])
                    gone.unlink()
                    link = inbox / f"link_{i}_{n}.csv"
                    link.symlink_to(secret)
                    time.sleep(POLL)
        swap = inbox / "swap.csv"
        swap.write_bytes(data)
        time.sleep(POLL * 1.5)
        swap.unlink()
        swap.symlink_to(secret)

        def loaded() -> bool:
            ledger = _batches(db)
            return {"DM_2015.csv", "AE_2015.csv"} <= set(ledger["file_name"])
        _wait_for(loaded, what="both deliveries")
        _wait_for(lambda: not (inbox / ".processing").exists()
                  or not any((inbox / ".processing").iterdir()), what="staging empty")
        assert proc.poll() is None, "the watcher died"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    ledger = _batches(db)
    row = ledger[ledger["file_name"] == "DM_2015.csv"].iloc[0]
    assert (row["status"], row["rows_in"], row["rows_loaded"]) == ("loaded", 307, 307)
    assert (ledger["rows_in"] == ledger["rows_loaded"] + ledger["rows_quarantined"]).all()
    assert not (ledger["file_name"].str.startswith(("link_", "swap", "tmp_"))).any()
    with store.read_connection(db) as con:
        sae = con.execute("SELECT count(*) FROM current_adverse_event WHERE usubjid = "
                          "'01-701-9001' AND serious").fetchall()
    assert sae == [(1,)]
    texts = [p.read_text() for p in inbox.rglob("*.reason.txt") if not p.is_symlink()]
    assert not any("hunter2" in t or "xx,yy" in t for t in texts)
    output = log.read_text()
    assert "Traceback" not in output and "hunter2" not in output
