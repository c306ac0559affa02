"""The Data and Alerts pages under AppTest, and every page on the CDISC pilot as a second study."""

from __future__ import annotations

import json
import time
from pathlib import Path

import people
import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest
from test_app import APP, PAGES

from safety import links, store
from safety.demo import generator as demo
from safety.ingest import ingest_paths
from safety.monitor import alerts
from safety.store import queries

PILOT = Path(__file__).parent / "data" / "cdiscpilot01"
PILOT_STUDY = "CDISCPILOT01"


@pytest.fixture(scope="module")
def demo_and_pilot_db(tmp_path_factory) -> Path:
    """The demo plus the CDISC pilot folder ingested into it, alerts evaluated once."""
    db = tmp_path_factory.mktemp("pilot") / "safety.duckdb"
    demo.build_demo(db)
    alerts.refresh_alerts(db)  # baseline
    results = ingest_paths([PILOT], db=db, user=people.DATA_MANAGER)
    assert {r.status for r in results} == {"loaded"}, [r.reason for r in results]
    alerts.refresh_alerts(db)  # the pilot's first evaluation: its baseline
    return db


@pytest.fixture(autouse=True)
def _through_the_entry_point(monkeypatch):
    """Every run goes through dashboard.py, as in the browser (see tests/test_patient_page.py:
    otherwise ``sidebar.selection``'s recovery rerun drops a form's submit click)."""
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def _frame(at: AppTest, column: str):
    """The first dataframe on the page with this column (AppTest keeps no key on tables)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _app(db: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("SAFETY_DB", str(db))
    return people.signed_in(AppTest.from_file(APP, default_timeout=120))


def test_pilot_is_a_second_study_in_the_picker(demo_and_pilot_db, monkeypatch):
    at = _app(demo_and_pilot_db, monkeypatch).run()
    assert not at.exception, at.exception
    ids = [o.split(":")[0] for o in at.selectbox(key="study_picker").options]
    assert ids == [PILOT_STUDY, "NCT04232592"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_the_pilot(demo_and_pilot_db, monkeypatch, page):
    at = _app(demo_and_pilot_db, monkeypatch)
    at.query_params["study"] = PILOT_STUDY
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="study_picker").value == PILOT_STUDY


def test_data_page_shows_ledger_counts_and_changes(demo_and_pilot_db, monkeypatch):
    at = _app(demo_and_pilot_db, monkeypatch)
    at.query_params["study"] = PILOT_STUDY
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    ledger = _frame(at, "sha256")
    assert set(ledger["domain"]) >= {"CONFIG", "DM", "AE", "LB", "VS", "DS", "SUPPAE", "EX"}
    assert (ledger["rows_in"] == ledger["rows_loaded"] + ledger["rows_quarantined"]).all()
    # AE came three times (CSV, XPT, Dataset-JSON): two cuts superseded, one current
    ae = ledger[ledger["domain"] == "AE"]
    assert ae["current"].sum() == 1 and ae["superseded_by"].notna().sum() == 2
    counts = _frame(at, "subjects")
    pilot = counts[counts["study_id"] == PILOT_STUDY].set_index("domain")
    assert pilot.loc["DM", "rows"] == 306 and pilot.loc["AE", "rows"] == 1191
    assert pilot.loc["LB", "rows"] == 59580
    assert set(counts["study_id"]) == {PILOT_STUDY, "NCT04232592"}
    changes = _frame(at, "added").set_index("domain")
    assert changes.loc["AE", ["added", "removed", "changed"]].tolist() == [0, 0, 0]


def test_data_page_quarantine_browser_filters_and_shows_the_raw_record(tmp_path, monkeypatch):
    db = tmp_path / "q.duckdb"
    demo.build_demo(db)
    ingest_paths([PILOT / "dm.csv"], db=db, user=people.DATA_MANAGER)
    ae = (PILOT / "ae.csv").read_text().splitlines()
    bad = ae[1].replace("01-701-1015", "01-999-9999")  # a subject not in DM
    (tmp_path / "ae.csv").write_text("\n".join([ae[0], bad, *ae[2:6]]) + "\n")
    ingest_paths([tmp_path / "ae.csv"], db=db, user=people.DATA_MANAGER)
    monkeypatch.setenv("SAFETY_DB", str(db))
    at = people.signed_in(AppTest.from_file(APP, default_timeout=120), people.DATA_MANAGER)
    at.query_params["study"] = PILOT_STUDY
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    saes = next(d.value for d in at.dataframe if "pt" in d.value.columns
                and "seq" in d.value.columns)
    # the SAEs the truncated file lacks: AESER Y or a seriousness criterion Y (README)
    rest = ae.iloc[386:]
    criteria = [c for c in ("AESDTH", "AESHOSP", "AESLIFE", "AESDISAB", "AESCONG", "AESMIE")
                if c in rest]
    serious = (rest["AESER"] == "Y") | (rest[criteria] == "Y").any(axis=1)
    assert set(saes["pt"]) == set(rest.loc[serious, "AEDECOD"]) >= {
        "SYNCOPE", "PARTIAL SEIZURES WITH SECONDARY GENERALISATION"}
    at.text_input(key=f"hold_reason_{held.hold_id}").input("site re-exported after a crash")
    at.text_input(key=f"hold_password_{held.hold_id}").input(people.SIGNATURE_PASSWORD)
    next(b for b in at.button if b.label == "Sign and confirm: load it").click().run()
    assert not at.exception, at.exception
    assert any("loaded, 386 rows in, 386 loaded" in s.value for s in at.success)
    with store.read_connection(db) as con:
        assert con.execute("SELECT count(*) FROM current_adverse_event").fetchall() == [(386,)]
        (batch,) = con.execute("SELECT batch_id FROM ingest_batch WHERE hold_id = $h",
                               {"h": held.hold_id}).fetchall()[0]
        assert con.execute("SELECT decided_by FROM held_delivery").fetchall() == [
            (people.DATA_MANAGER.id,)]
    at.selectbox(key="retract_batch").select(batch)
    at.text_input(key="retract_reason").input("the crash cut the export")
    at.text_input(key="retract_password").input(people.SIGNATURE_PASSWORD)
    next(b for b in at.button if b.label == "Sign and retract").click().run()
    assert not at.exception, at.exception
    with store.read_connection(db) as con:
        assert con.execute("SELECT count(*) FROM current_adverse_event").fetchall() == [(1191,)]
        assert con.execute("SELECT actor, meaning FROM audit_log a JOIN signature g USING "
                           "(audit_id) WHERE action = 'delivery.retract'").fetchall() == [
            (people.DATA_MANAGER.id, "I retract this delivery from the study")]
