"""The live demo feed: deterministic, ingestible by the real ingest, continuing the demo."""

from __future__ import annotations

import people
from click.testing import CliRunner

from safety import store
from safety.cli import cli
from safety.demo import generator as demo
from safety.demo import scenario
from safety.demo.live import LiveFeed
from safety.ingest import ingest_paths
from safety.monitor.status import study_status
from safety.store import queries


def _deliver(feed: LiveFeed, inbox, days: int) -> list[bytes]:
    contents = []
    for _ in range(days):
        feed.advance()
        for f in feed.write(inbox):
            contents.append(f.read_bytes())
            f.unlink()
    return contents


def test_1_same_seed_same_files_other_seed_other_story(tmp_path):
    a, b, c = (tmp_path / n for n in "abc")
    for d in (a, b, c):
        d.mkdir()
    first = _deliver(LiveFeed(seed=1), a, 8)
    assert first == _deliver(LiveFeed(seed=1), b, 8)
    assert first != _deliver(LiveFeed(seed=2), c, 8)


def test_2_first_delivery_restates_the_demo_and_supersedes_its_batches(tmp_path):
    db = tmp_path / "d.duckdb"
    demo.build_demo(db)
    config = demo.find_study_config(scenario.DEMO_STUDY_ID)
    status_sql = "SELECT status, count(*) FROM current_subject GROUP BY ALL ORDER BY 1"
    with store.read_connection(db) as con:
        before = study_status(con, config, scenario.DEMO_CUTOFF).cohort_table()
        statuses_before = con.execute(status_sql).fetchall()
    feed = LiveFeed()
    feed.advance()  # 2021-01-16: nobody dosed yet
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    results = ingest_paths(feed.write(inbox), db=db, user=people.DATA_MANAGER)
    assert sorted((r.domain, r.status, r.rows_quarantined) for r in results) == [
        ("AE", "loaded", 0),
        ("DM", "loaded", 0),
        ("DS", "loaded", 0),
        ("EX", "loaded", 0),
        ("LB", "loaded", 0),
    ]
    with store.read_connection(db) as con:
        after = study_status(con, config, scenario.DEMO_CUTOFF).cohort_table()
        ledger = queries.ingest.batch_ledger(con, scenario.DEMO_STUDY_ID)
        statuses = con.execute(status_sql).fetchall()
    # the same trial at the demo's cut-off, read back from the SDTM export
    assert after.equals(before)
    generator = ledger[ledger["file_name"].str.startswith("demo generator")]
    superseded = generator.set_index("domain")["superseded_by"]
    assert superseded[["DM", "EX", "AE", "LB"]].notna().all()
    assert superseded[["CONFIG", "VS"]].isna().all()  # not delivered: the demo's stays current
    assert statuses == statuses_before  # DS carries the withdrawal, DM the completions
    assert dict(statuses)["screening"] == 2 and dict(statuses)["withdrawn"] == 1


def test_3_the_screening_women_get_dosed_and_later_cuts_show_only_the_news(tmp_path):
    db = tmp_path / "d.duckdb"
    demo.build_demo(db)
    feed = LiveFeed()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for _ in range(10):
        feed.advance()
        ingest_paths(feed.write(inbox), db=db, user=people.DATA_MANAGER)
        for f in inbox.iterdir():
            f.unlink()
    with store.read_connection(db) as con:
        screening = con.execute(
            "SELECT count(*) FROM current_subject WHERE first_dose_date IS NULL"
        ).fetchone()[0]
        changes = queries.ingest.cut_change_summary(con, scenario.DEMO_STUDY_ID).set_index("domain")
    assert screening == 0  # both HIGH women dosed within 10 days (seed 1)
    assert changes.loc["AE", "removed"] == 0 and changes.loc["LB", "removed"] == 0


def test_4_demo_live_command_writes_complete_files(tmp_path):
    db, inbox = tmp_path / "cli.duckdb", tmp_path / "inbox"
    result = CliRunner().invoke(
        cli,
        ["demo", "--live", str(inbox), "--db", str(db), "--interval", "0", "--deliveries", "2"],
    )
    assert result.exit_code == 0, result.output
    assert db.exists()  # built first, as it did not exist
    names = sorted(p.name for p in inbox.iterdir())
    assert names[0] == "nct04232592_ae_20210116.csv" and not any(n.endswith(".part") for n in names)
    assert "2021-01-17:" in result.output
