"""Every page under Streamlit's AppTest, on the session's demo database."""

from __future__ import annotations

import json
from pathlib import Path

import people
import pytest
from streamlit.testing.v1 import AppTest

from safety import store

APP = str(Path(__file__).resolve().parents[1] / "dashboard.py")
PAGES = [
    "pages/overview.py",
    "pages/escalation.py",
    "pages/adverse_events.py",
    "pages/labs.py",
    "pages/patient.py",
    "pages/reports.py",
    "pages/data.py",
    "pages/alerts.py",
]


@pytest.fixture
def app(demo_db, monkeypatch) -> AppTest:
    monkeypatch.setenv("SAFETY_DB", str(demo_db))
    return people.signed_in(AppTest.from_file(APP, default_timeout=60))


def test_dashboard_opens_on_the_overview(app):
    app.run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Overview"
    assert (
        app.query_params["study"] == ["NCT04232592"] or app.query_params["study"] == "NCT04232592"
    )


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_error_and_its_headers_read_as_words(app, page):
    app.run()
    app.switch_page(page).run()
    assert not app.exception, app.exception
    for shown in people.every_tab(app):  # issue 17: `seq`, `pt`, ...
        assert people.raw_headers(people.shown_headers(shown)) == []


def test_every_page_reads_through_the_processes_one_read_only_instance(app, demo_db,
                                                                      monkeypatch):
    """Issue 16: a page's reads lease the shared instance (``store.shared``); a read opening its
    own connection pays a new instance and the rules' macros (~0.15 s of a cold page)."""
    reader, connects = store.shared_reader(demo_db), []
    connect = store._connect_with_retry

    def counted(path, read_only, wait):
        connects.append(read_only)
        return connect(path, read_only, wait)

    monkeypatch.setattr(store, "_connect_with_retry", counted)
    opens = reader.opens
    app.run()
    for page in PAGES:
        app.switch_page(page).run()
        assert not app.exception, app.exception
    assert connects and connects == [True] * (reader.opens - opens)


def test_overview_shows_four_cohorts_32_subjects_and_a_dlt(app):
    app.run()
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Enrolled"] == "32"
    assert int(metrics["Subjects with DLT"]) >= 1
    table = app.dataframe[0].value
    assert table["Cohort"].tolist() == ["Control (vehicle)", "Low dose", "Medium dose", "High dose"]
    assert table["Enrolled"].sum() == 32
    captions = [c.value for c in app.caption]
    assert any("Control cohort" in c for c in captions)
    # every dose cohort's decision carries its reason, with the numbers the design used
    assert any("dose level 3" in c and "BOIN" in c for c in captions)
    charts = app.get("plotly_chart")
    assert len(charts) == 3
    timeline = json.loads(charts[0].proto.spec)
    dosed = sum(len(mark[0].split(";")) for trace in timeline["data"]
                for mark in trace["customdata"])  # each marker: the subjects dosed that day
    assert dosed == table["Treated (N)"].sum()
    assert any("illustrative" in w.value for w in app.warning)


def test_earlier_cutoff_shows_fewer_treated(app):
    app.query_params["cutoff"] = "2020-03-01"
    app.run()
    assert not app.exception, app.exception
    table = app.dataframe[0].value
    assert table["Treated (N)"].sum() < 30
    assert table.loc[table["Cohort"] == "High dose", "Treated (N)"].item() == 0


def test_missing_database_is_built_on_first_run(tmp_path, monkeypatch):
    db = tmp_path / "fresh.duckdb"
    monkeypatch.setenv("SAFETY_DB", str(db))
    at = people.signed_in(AppTest.from_file(APP, default_timeout=120)).run()
    assert not at.exception, at.exception
    assert db.exists()
    assert at.title[0].value == "Overview"
    assert {m.label: m.value for m in at.metric}["Enrolled"] == "32"


def test_the_users_and_roles_page_is_the_administrator_s(demo_db, monkeypatch):
    monkeypatch.setenv("SAFETY_DB", str(demo_db))
    at = people.signed_in(AppTest.from_file(APP, default_timeout=60), people.ADMIN).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Users and roles"  # her only page: no clinical data
    matrix = at.dataframe[0].value.set_index("Action")
    assert matrix.loc["sign off DSMB reports (report.sign)", "safety officer"] == "✓"
    assert matrix.loc["see results by cohort (closed data) (view.closed)", "sponsor / study team"] == ""
    assert any("audit trail intact" in s.value for s in at.success)


def test_a_sponsor_never_gets_a_number_by_cohort_on_any_of_her_pages(demo_db, monkeypatch):
    monkeypatch.setenv("SAFETY_DB", str(demo_db))
    at = people.signed_in(AppTest.from_file(APP, default_timeout=60), people.SPONSOR).run()
    labels = ("Low dose", "Medium dose", "High dose", "LOW", "MED", "HIGH")
    for page in ("pages/overview.py", "pages/reports.py"):  # her menu (tests/browser: sign-in)
        at.switch_page(page).run()
        assert not at.exception, at.exception
        shown = [str(getattr(e, "value", "")) for kind in ("markdown", "caption", "info",
                 "metric", "subheader") for e in at.get(kind)]  # fmt: skip
        shown += [d.value.to_csv() for d in at.dataframe]
        shown += [c.proto.spec for c in at.get("plotly_chart")]
        found = [lb for lb in labels if any(lb in text for text in shown)]
        assert found == [], (page, found)
    assert not any("Alerts:" in p.proto.label for p in at.get("page_link"))  # no alert feed
