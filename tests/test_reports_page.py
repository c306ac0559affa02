"""The DSMB reports page under AppTest: build a report, preview it, download it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import people
from streamlit.testing.v1 import AppTest

from safety import store

APP = str(Path(__file__).resolve().parents[1] / "dashboard.py")


def test_reports_page_builds_previews_and_offers_downloads(demo_db, tmp_path, monkeypatch):
    db = shutil.copy(demo_db, tmp_path / "safety.duckdb")  # the page records a snapshot
    monkeypatch.setenv("SAFETY_DB", str(db))
    at = people.signed_in(AppTest.from_file(APP, default_timeout=120)).run()
    at.switch_page("pages/reports.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "DSMB reports"
    at.radio(key="report_kind").set_value("closed")
    at.button(key="report_build").click().run()
    assert not at.exception, at.exception
    (done,) = at.success
    assert "Closed report at 15 Jan 2021: snapshot" in done.value
    labels = [b.label for b in at.get("download_button")]
    assert labels[:5] == ["Whole folder (zip)", "PDF", "HTML", "XLSX", "manifest.json"]
    frames = [d.value for d in at.dataframe]  # the report's tables, its files, the snapshots
    assert any(list(f.columns[:2]) == ["Cohort", "Subject"] for f in frames)  # the listings
    assert any("At this dose the design would say" in f.columns and "Reason" in f.columns
               for f in frames)
    snapshots = frames[-1]
    assert snapshots["Kind"].iloc[0] == "closed"  # newest first (headers in words)
    with store.read_connection(db) as con:  # who was shown the closed report: audited
        viewed = con.execute("SELECT actor, detail FROM audit_log WHERE action = 'report.view'"
                             ).fetchall()  # fmt: skip
    shown = int(re.search(r"snapshot (\d+)", done.value).group(1))
    assert [(a, json.loads(d)["kind"]) for a, d in viewed
            if json.loads(d)["snapshot_id"] == shown] == [("sam", "closed")]  # once


def test_page_and_command_line_write_the_same_report(demo_db, tmp_path, monkeypatch):
    # Issue 17: the same frozen cut-off built on the page and by `safety report` gave other
    # figures (Streamlit's plotly template, the default once streamlit is imported), XLSX bytes
    # and content hash. The command runs in its own process: one without Streamlit.
    db = shutil.copy(demo_db, tmp_path / "safety.duckdb")
    monkeypatch.setenv("SAFETY_DB", str(db))
    at = people.signed_in(AppTest.from_file(APP, default_timeout=120)).run()
    at.switch_page("pages/reports.py").run()
    at.radio(key="report_kind").set_value("closed")
    at.button(key="report_build").click().run()
    assert not at.exception, at.exception
    page = at.session_state["report_result"][1]
    out = tmp_path / "cli"
    done = subprocess.run(
        [sys.executable, "-m", "safety", "report", "--db", str(db), "--study", "NCT04232592",
         "--cutoff", str(page.manifest["cutoff"]), "--out", str(out), "--closed", "--json"],
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    cli = json.loads(done.stdout)
    assert cli["content_sha256"] == page.manifest["content_sha256"]
    files = {f["path"]: f["sha256"] for f in cli["files"]}
    assert files == {f["path"]: f["sha256"] for f in page.manifest["files"]}
    assert any(p.endswith(".xlsx") for p in files) and any(p.endswith(".png") for p in files)
