"""The Adverse events page under AppTest, on the session's demo database.

Selections are set the way Streamlit allows programmatically: a dict with a "selection" key in
Session State under the widget's key, as a click in the browser would leave it.
"""

from __future__ import annotations

import json
from pathlib import Path

import people
import pytest
from streamlit.testing.v1 import AppTest

from safety import store
from safety.clinical import ae_statistics
from safety.config import load_study_config
from safety.demo.scenario import DEMO_CUTOFF
from safety.monitor import adverse_events

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard.py")
PAGE = "pages/adverse_events.py"
HIGH = "High dose (N=6)"


@pytest.fixture
def page(demo_db, monkeypatch) -> AppTest:
    monkeypatch.setenv("SAFETY_DB", str(demo_db))
    at = people.signed_in(AppTest.from_file(APP, default_timeout=60))
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _frame(at: AppTest, first_column: str):
    for df in at.dataframe:
        if df.value.columns[0] == first_column or first_column in df.value.columns[:2]:
            return df.value
    raise AssertionError(f"no table starting with {first_column!r}")


def _open_tab(at: AppTest, label: str) -> AppTest:
    """The page with its tab ``label`` open (only the open tab runs)."""
    at.session_state["ae_tab"] = label
    at.run()
    assert not at.exception, at.exception
    return at


def _markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_summary_has_cohort_columns_with_n_and_control_first(page):
    assert page.title[0].value == "Adverse events"
    summary = _frame(page, "category")
    assert list(summary.columns[2:]) == [
        "Control (vehicle) (N=8)", "Low dose (N=8)", "Medium dose (N=8)", HIGH]
    assert summary["Subjects with"].tolist()[0] == "Any TEAE"
    dlt = summary.set_index("category").loc["dlt"]
    assert dlt[HIGH] == "2 (33.3%)" and dlt["Medium dose (N=8)"] == "1 (12.5%)"
    assert any("illustrative" in w.value for w in page.warning)
    # only the open tab runs: the summary's tables, then each tab's charts
    charts = {"Summary": 0, "SOC / PT": 1, "Compared with control": 2, "Timing": 3}
    for tab, n in charts.items():  # bars; forest and volcano; curves, histogram and heatmap
        assert len(_open_tab(page, tab).get("plotly_chart")) == n, tab


def test_choices_inside_a_tab_survive_switching_tabs(page):
    # Streamlit drops the state of a widget a run does not draw: they are kept aside
    _open_tab(page, "Compared with control")
    page.multiselect(key="ae_rd_doses").set_value(["High dose"]).run()
    page.slider(key="ae_rd_top").set_value(10).run()
    _open_tab(_open_tab(page, "Timing"), "Compared with control")
    assert page.multiselect(key="ae_rd_doses").value == ["High dose"]
    assert page.slider(key="ae_rd_top").value == 10
    assert set(_frame(page, "Preferred term")["Cohort"]) == {"High dose"}


def test_selecting_a_summary_cell_lists_its_events_with_patient_links(page):
    page.session_state["ae_summary_table"] = {
        "selection": {"rows": [], "columns": [], "cells": [(4, HIGH)]}}  # DLT x High dose
    page.run()
    assert not page.exception, page.exception
    assert any(m.startswith(f"**DLT (candidate or confirmed) in {HIGH}**: 2 subjects")
               for m in _markdown(page))
    listing = _frame(page, "Subject")
    assert len(listing) == 2
    assert set(listing["Preferred term"]) == {"Anaphylactic reaction",
                                              "Pelvic inflammatory disease"}
    assert all(link.startswith("patient?study=NCT04232592&cutoff=")
               for link in listing["Subject"])


def test_selecting_a_soc_narrows_the_pt_table_and_a_bar_lists_its_events(page):
    _open_tab(page, "SOC / PT")
    socs = _frame(page, "soc")
    first_soc = socs["soc"].iloc[0]
    page.session_state["ae_soc_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    page.run()
    assert not page.exception, page.exception
    pts = [df.value for df in page.dataframe if list(df.value.columns[:2]) == ["soc", "pt"]][0]
    assert set(pts["soc"]) == {first_soc}
    assert f"##### Preferred terms in {first_soc}" in _markdown(page)
    page.session_state["ae_pt_bars"] = {"selection": {
        "points": [{"customdata": ["LOW", first_soc, pts["pt"].iloc[0], 0, 8]}],
        "point_indices": [0], "box": [], "lasso": []}}
    page.run()
    assert not page.exception, page.exception
    assert any(m.startswith(f"**{pts['pt'].iloc[0]} in Low dose**") for m in _markdown(page))
    assert any(m.startswith("##### Worst grade:") for m in _markdown(page))


def test_grade_filter_narrows_the_soc_pt_table(page):
    _open_tab(page, "SOC / PT")
    before = _frame(page, "soc")
    page.selectbox(key="ae_grade").select(3).run()
    assert not page.exception, page.exception
    after = _frame(page, "soc")
    assert len(after) < len(before)
    assert after["Total"].sum() == 5  # the five grade 3 events are in five women
    assert any("grade ≥ 3" in c.value for c in page.caption)


def test_comparison_with_control_states_the_caveats_and_method(page):
    _open_tab(page, "Compared with control")
    warnings = " ".join(w.value for w in page.warning)
    assert "Small numbers" in warnings and "not adjusted" in warnings
    captions = " ".join(c.value for c in page.caption)
    assert "Newcombe" in captions and "Fisher" in captions
    rd = _frame(page, "Preferred term")
    assert set(rd["Cohort"]) == {"Low dose", "Medium dose", "High dose"}
    forest = json.loads(page.get("plotly_chart")[0].proto.spec)
    assert forest["data"][0]["error_x"]["type"] == "data"


def test_timing_views_drill_down_to_first_events(page, demo_db):
    config = load_study_config(ROOT / "data" / "studies" / "nct04232592.toml")
    with store.read_connection(demo_db) as con:
        curves = ae_statistics.cumulative_incidence(adverse_events.first_teae_times(con, config, DEMO_CUTOFF))
    step = curves[(curves["cohort_id"] == "HIGH") & (curves["events"] > 0)].iloc[0]
    _open_tab(page, "Timing")
    page.session_state["ae_cuminc"] = {"selection": {
        "points": [{"customdata": ["HIGH", step["usubjids"], int(step["at_risk"]),
                                   int(step["events"])], "x": int(step["day"])}],
        "point_indices": [0], "box": [], "lasso": []}}
    page.run()
    assert not page.exception, page.exception
    assert any(m.startswith(f"**First TEAE on study day {step['day']} in High dose**")
               for m in _markdown(page))
    listing = [df.value for df in page.dataframe if "Subject" in df.value.columns][-1]
    assert len(listing) == step["events"]  # one first event per subject
    assert set(listing["Subject"].str.split("subject=").str[1]) == set(
        step["usubjids"].split(", "))
