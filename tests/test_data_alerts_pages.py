"""The Data and Alerts pages under AppTest, and every page on the CDISC pilot as a second study."""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import date
from pathlib import Path

import people
import pytest
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest
from test_app import APP, PAGES

from safety import links, store, views
from safety.config import MONITORING_ONLY, find_study_config
from safety.demo import generator as demo
from safety.errors import AccessDenied
from safety.ingest import ingest_paths
from safety.monitor import alerts
from safety.monitor.status import study_status
from safety.report.snapshot import freeze_point
from safety.report.tables import report_content
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


def test_a_lab_graded_in_another_unit_says_so_on_its_time_course(demo_and_pilot_db, monkeypatch):
    # the CDISC pilot reports hemoglobin in mmol/L; CTCAE v5.0 grades anemia in g/L, so the
    # values are converted with 16.11 g/L per mmol/L (safety.ctcae.conversion) and the chart
    # says it
    at = _app(demo_and_pilot_db, monkeypatch)
    at.query_params["study"] = PILOT_STUDY
    at.run()
    at.switch_page("pages/labs.py").run()
    at.multiselect(key="lab_tests").set_value(["HGB"]).run()
    assert not at.exception, at.exception
    (course,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert "(mmol/L; graded in g/L: 1 mmol/L = 16.11 g/L)" in course["layout"]["title"]["text"]


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
    # counts and changes compare whole cuts: built only in their open tab
    assert not any("subjects" in d.value.columns for d in at.dataframe)
    at.session_state["data_tab"] = "Counts"
    at.run()
    counts = _frame(at, "subjects")
    pilot = counts[counts["study_id"] == PILOT_STUDY].set_index("domain")
    assert pilot.loc["DM", "rows"] == 306 and pilot.loc["AE", "rows"] == 1191
    assert pilot.loc["LB", "rows"] == 59580
    assert set(counts["study_id"]) == {PILOT_STUDY, "NCT04232592"}
    at.session_state["data_tab"] = "Changes since last cut"
    at.run()
    changes = _frame(at, "Added").set_index("Domain")  # headers in words (safety.display)
    assert changes.loc["AE", ["Added", "Removed", "Changed"]].tolist() == [0, 0, 0]


def test_data_page_quarantine_browser_filters_and_shows_the_raw_record(fresh_demo, tmp_path,
                                                                       monkeypatch):
    db = fresh_demo
    ingest_paths([PILOT / "dm.csv"], db=db, user=people.DATA_MANAGER)
    ae = (PILOT / "ae.csv").read_text().splitlines()
    bad = ae[1].replace("01-701-1015", "01-999-9999")  # a subject not in DM
    (tmp_path / "ae.csv").write_text("\n".join([ae[0], bad, *ae[2:6]]) + "\n")
    ingest_paths([tmp_path / "ae.csv"], db=db, user=people.DATA_MANAGER)
    at = _app(db, monkeypatch)
    at.query_params["study"] = PILOT_STUDY
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    summary = _frame(at, "rows")
    assert summary["rule"].tolist() == ["not_in_dm"]
    at.selectbox(key="quarantine_rule").select("not_in_dm").run()
    rows = at.dataframe(key="quarantine_rows").value
    assert len(rows) == 1 and "01-999-9999" not in rows.columns
    assert at.get("download_button")  # the CSV download of the filtered rows
    at.text_input(key="quarantine_reason").input("no such words").run()
    assert at.dataframe(key="quarantine_rows").value.empty


def test_data_page_works_on_an_empty_database(tmp_path, monkeypatch):
    db = tmp_path / "empty.duckdb"
    with store.new_database(db):
        pass
    at = _app(db, monkeypatch).run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    assert any("upload its DM first" in i.value for i in at.info)


def test_alerts_page_acknowledge_round_trip_to_the_audit_log(fresh_demo, monkeypatch):
    db = fresh_demo
    alerts.refresh_alerts(db)
    ingest_paths([PILOT / "dm.csv", PILOT / "ae.csv"], db=db, user=people.DATA_MANAGER)
    alerts.refresh_alerts(db)  # the pilot's baseline: nothing open
    with store.write_connection(db) as con:  # an alert as refresh_alerts stores it
        queries.database.insert_frame(con, "alert", _one_alert())
    at = _app(db, monkeypatch)
    at.query_params["study"] = "NCT04232592"
    at.run()
    # what needs someone: the demo's 4 DLT candidates and 5 SAEs (baseline), and the new SAE
    assert "Alerts: 10 need someone" in at.get("page_link")[0].proto.label
    at.switch_page("pages/alerts.py").run()
    assert not at.exception, at.exception
    table = at.dataframe(key="alerts_table").value
    assert table["title"].tolist() == ["SAE: Endometritis in NCT04232592-01-099"]
    assert table["cohort_label"].tolist() == ["High dose"]  # the label every page uses, not HIGH
    pick = next(m for m in at.multiselect if m.label.startswith("Alerts to acknowledge"))
    pick.select(int(table["alert_id"].iloc[0]))
    at.text_area(key="ack_comment").input("Seen; site called, patient admitted.")
    at.text_input(key="ack_password").input(people.SIGNATURE_PASSWORD)
    next(b for b in at.button if b.label == "Sign and acknowledge").click().run()
    assert not at.exception, at.exception
    assert any("Acknowledged 1 alert" in s.value for s in at.success)
    with store.read_connection(db) as con:
        feed = queries.alerts.alert_feed(con, "NCT04232592")
        entry = con.execute(
            "SELECT actor, action, detail FROM audit_log WHERE action = 'alert.acknowledge'"
        ).fetchall()
    row = feed[feed["alert_key"] == "sae|NCT04232592-01-099|Endometritis|2021-01-20"].iloc[0]
    assert row["acknowledged_by"] == "sam"
    assert row["ack_signature"].startswith("Sam Safety (sam), ")
    assert row["ack_comment"] == "Seen; site called, patient admitted."
    assert entry[0][:2] == ("sam", "alert.acknowledge")
    assert json.loads(entry[0][2])["comment"] == "Seen; site called, patient admitted."
    assert "Alerts: 9 need someone" in at.get("page_link")[0].proto.label


def _one_alert():
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "study_id": "NCT04232592",
                "alert_key": "sae|NCT04232592-01-099|Endometritis|2021-01-20",
                "kind": "sae",
                "severity": "critical",
                "raised_at": store.now(),
                "batch_id": 99,
                "usubjid": "NCT04232592-01-099",
                "cohort_id": "HIGH",
                "title": "SAE: Endometritis in NCT04232592-01-099",
                "detail": "grade 3",
                "link": links.patient_link("NCT04232592", "NCT04232592-01-099"),
            }
        ]
    )


@pytest.mark.parametrize("user_picked", [False, True])
def test_cutoff_follows_new_data_unless_the_user_picked_one(fresh_demo, tmp_path, monkeypatch,
                                                            user_picked):
    from datetime import date

    from safety.demo.live import LiveFeed

    db = fresh_demo
    at = _app(db, monkeypatch).run()
    assert at.date_input(key="cutoff").value == date(2021, 1, 15)
    if user_picked:
        at.date_input(key="cutoff").set_value(date(2021, 1, 10)).run()
    feed, inbox = LiveFeed(), tmp_path / "inbox"
    inbox.mkdir()
    for _ in range(3):
        feed.advance()
        ingest_paths(feed.write(inbox), db=db, user=people.DATA_MANAGER)
    time.sleep(2.1)  # data.data_version is cached for 2 s
    at.run()  # what the auto-refresh does when the data version changes
    assert not at.exception, at.exception
    expected = date(2021, 1, 10) if user_picked else date(2021, 1, 18)
    assert at.date_input(key="cutoff").value == expected


def test_data_page_shows_a_held_delivery_confirms_it_and_retracts_it(tmp_path, monkeypatch):
    # issue 14: a truncated cumulative AE of the CDISC pilot is held with its comparison; a data
    # manager confirms it with a reason on the Data page, then takes it back
    import pandas as pd

    db = tmp_path / "holds.duckdb"
    ingest_paths([PILOT / "dm.csv", PILOT / "ae.csv"], db=db, user=people.DATA_MANAGER)
    ae = pd.read_csv(PILOT / "ae.csv", dtype=str, keep_default_na=False)
    ae.head(386).to_csv(tmp_path / "ae.csv", index=False)
    (held,) = ingest_paths([tmp_path / "ae.csv"], db=db, user=people.DATA_MANAGER)
    assert held.status == "held"
    monkeypatch.setenv("SAFETY_DB", str(db))
    at = people.signed_in(AppTest.from_file(APP, default_timeout=120), people.DATA_MANAGER)
    at.query_params["study"] = PILOT_STUDY
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    assert any("1 held delivery waits" in w.value for w in at.warning)  # said above the tabs
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


# --- a study that is not a dose escalation; the worklist (issue 17) ---------------------------

ESCALATION_WORDS = re.compile(r"DLT|Next patients|[Ss]topping rule|[Dd]ecision|[Ee]scalation "
                              r"(decision|at)|would say")


def _texts(at: AppTest) -> list[str]:
    """What a page shows in words: text elements, table headers and cells, choices."""
    out = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error",
                 "success", "metric"):
        out += [f"{getattr(e, 'label', '')} {e.value}" for e in getattr(at, kind)]
    for d in at.dataframe:
        out += [str(c) for c in d.value.columns]
        out += d.value.astype(str).fillna("").stack().tolist()
    for s in at.selectbox:
        out += [str(o) for o in s.options]
    return out


@pytest.mark.parametrize("page", PAGES)
def test_the_pilot_shows_no_decision_dlt_count_or_rule_and_says_so_once(demo_and_pilot_db,
                                                                        monkeypatch, page):
    # data/studies/cdiscpilot01.toml declares no escalation design or DLT definition: a
    # parallel-group, placebo-controlled study is monitored for safety only
    at = _app(demo_and_pilot_db, monkeypatch)
    at.query_params["study"] = PILOT_STUDY
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    for tab, shown_tab in enumerate(people.every_tab(at)):
        texts = [people.plain(str(t)) for t in _texts(shown_tab)]
        said = [t for t in texts if MONITORING_ONLY in t]
        assert len(said) <= 1, said
        if tab == 0 and page in ("pages/overview.py", "pages/escalation.py", "pages/patient.py"):
            assert len(said) == 1  # where a decision or DLT state would be
        shown = [t.replace(MONITORING_ONLY, "") for t in texts]
        assert [t for t in shown if ESCALATION_WORDS.search(t)] == []
        assert people.raw_headers(people.shown_headers(shown_tab)) == []  # headers in words


def test_the_pilot_status_and_closed_report_have_no_dlts_and_the_demo_still_does(
        demo_and_pilot_db):
    with store.read_connection(demo_and_pilot_db) as con:
        pilot = find_study_config(PILOT_STUDY)
        status = study_status(con, pilot, date(2015, 3, 5))
        content = report_content(con, pilot, date(2015, 3, 5), kind="closed")
        demo_status = study_status(con, find_study_config("NCT04232592"), date(2021, 1, 15))
    doc = status.to_json()
    assert (doc["escalation"], doc["design"], doc["rules"]) == (False, "none", [])
    assert doc["recommendation"]["reason"] == MONITORING_ONLY
    assert {(c["decision"], c["dlts"], c["in_dlt_window"], tuple(c["rules"]))
            for c in doc["cohorts"]} == {("none", None, None, ())}
    # CDISC pilot README "Facts for tests": 86 placebo, 84 low, 84 high dosed
    assert [c["treated"] for c in doc["cohorts"]] == [86, 84, 84]
    assert not ESCALATION_WORDS.search(status.to_text().replace(MONITORING_ONLY, ""))
    words = [content.design_description, content.recommendation or ""] + [
        f"{t.title} {t.note} {' '.join(map(str, t.frame.columns))} "
        f"{' '.join(t.frame.astype(str).fillna('').stack())}" for t in content.tables]
    assert [w for w in words if ESCALATION_WORDS.search(w.replace(MONITORING_ONLY, ""))] == []
    assert {t.key for t in content.tables} >= {"sae_listing", "deaths_listing", "ae_summary"}
    # the demo is a dose escalation: its decision, DLTs and rules are all there
    assert demo_status.escalation and demo_status.rules and demo_status.totals["dlts"] == 3
    # the control group's dose reads as what it is given, from each study's configuration
    assert status.cohort_table()["Dose"].tolist() == ["placebo", "54 mg", "81 mg"]
    assert demo_status.cohort_table()["Dose"].iloc[0] == "vehicle"
    for key, column in (("enrolment", "Dose"), ("exposure", "Dose per subject (mean)")):
        assert content.table(key).frame[column].iloc[0] == "placebo", key
    # the title page's data version speaks of no DLT adjudication for a study without DLTs
    with store.read_connection(demo_and_pilot_db) as con:
        point = freeze_point(con, PILOT_STUDY, date(2015, 3, 5))
    assert "adjudication" not in point.describe(dlt=False)
    assert "no DLT adjudication" in point.describe(dlt=True)


def test_the_worklist_lists_what_waits_for_someone_on_a_fresh_database(demo_and_pilot_db,
                                                                       tmp_path, monkeypatch):
    # A fresh database: every alert is baseline (acknowledged by system), yet the demo's 4 DLT
    # candidates (scenario: Endometritis 018, Anaphylactic reaction 024, Pelvic inflammatory
    # disease and ALT increased 026) and its 5 SAEs wait for someone (issue 17)
    db = shutil.copy(demo_and_pilot_db, tmp_path / "safety.duckdb")
    at = _app(db, monkeypatch)
    at.query_params["study"] = "NCT04232592"
    at.run()
    assert "Alerts: 9 need someone" in at.get("page_link")[0].proto.label
    at.switch_page("pages/alerts.py").run()
    assert not at.exception, at.exception
    items = _frame(at, "to_do")  # the open items (AppTest keeps no key on this table)
    assert items["item"].value_counts().to_dict() == {"SAE to review": 5,
                                                      "DLT candidate to adjudicate": 4}
    assert set(items["yours"]) == {"yes"}  # a safety officer may act on every one
    # acting closes an item: an adjudication, a person's acknowledgement of a baseline SAE
    dlt = items[items["item"] == "DLT candidate to adjudicate"].iloc[0]
    with store.read_connection(db) as con:
        event = queries.dlt.dlt_events(con, "NCT04232592", date(2021, 1, 15))
        sae = queries.alerts.alert_feed(con, "NCT04232592")
    event = event[event["usubjid"] == dlt["usubjid"]].iloc[0]
    people.adjudicate(db, "NCT04232592", dlt["usubjid"], event["source"],
                      int(event["source_seq"]), "confirmed", "grade 3, related: a DLT")
    baseline_sae = sae[(sae["kind"] == "sae") & (sae["acknowledged_by"] == "system")].iloc[0]
    assert people.acknowledge(db, [int(baseline_sae["alert_id"])], "reviewed the SAE") == [
        int(baseline_sae["alert_id"])]
    st.cache_data.clear()  # the data version is cached 2 s (ui/data.py): ask again at once
    at.run()
    assert len(_frame(at, "to_do")) == 7
    assert "Alerts: 7 need someone" in at.get("page_link")[0].proto.label


def test_the_worklist_is_role_aware(demo_and_pilot_db):
    with store.read_connection(demo_and_pilot_db) as con:
        config = find_study_config("NCT04232592")
        officer = views.worklist(con, people.SAFETY_OFFICER, config)
        dsmb = views.worklist(con, people.DSMB, config)  # sees by cohort, acts on none
        manager = views.worklist(con, people.DATA_MANAGER, config)  # held deliveries only
        for nobody in (people.SPONSOR, people.INVESTIGATOR):  # no results by cohort
            with pytest.raises(AccessDenied):
                views.worklist(con, nobody, config)
    assert len(officer) == len(dsmb) == 9 and officer["yours"].all()
    assert not dsmb["yours"].any()
    assert manager.empty  # nothing held in this database
