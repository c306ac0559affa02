"""The Labs page under AppTest on the demo database: charts, tables, eDISH and patient links."""

from __future__ import annotations

import json
from pathlib import Path

import people
import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "dashboard.py")


@pytest.fixture
def labs_page(demo_db, monkeypatch) -> AppTest:
    monkeypatch.setenv("SAFETY_DB", str(demo_db))
    at = people.signed_in(AppTest.from_file(APP, default_timeout=120))
    at.run()
    at.switch_page("pages/labs.py").run()
    assert not at.exception, at.exception
    return at


def _open_tab(at: AppTest, label: str) -> AppTest:
    """The Labs page with its tab ``label`` open (only the open tab runs)."""
    at.session_state["labs_tab"] = label
    at.run()
    assert not at.exception, at.exception
    return at


def _tables(at: AppTest, *columns: str) -> list:
    """The page's dataframes that have these columns (AppTest exposes no dataframe keys)."""
    return [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_labs_page_renders_time_course_visit_summary_and_edish(labs_page):
    at = labs_page
    assert at.title[0].value == "Labs"
    chosen = at.multiselect(key="lab_tests").value
    assert chosen == ["ALT", "AST", "BILI", "CREAT", "HGB", "PLAT"]
    def titles() -> list[str]:
        return [c["layout"]["title"]["text"] for c in _charts(at)]

    # the chart tabs draw one test at a time, picked among the chosen ones; only the open tab
    # runs; the test picked stays when the user changes tab
    options = at.radio(key="lab_test_shown").options
    assert [o.split(" ")[0] for o in options] == chosen
    # each label names its worst post-baseline grade when >= 1: the demo's ALT of 6 x ULN is
    # CTCAE v5.0 grade 3 (> 5.0 - 20.0 x ULN), bilirubin stays normal
    assert options[0] == "ALT (worst: grade 3)" and options[2] == "BILI"
    assert [t.split(" (")[0] for t in titles()] == ["Alanine Aminotransferase"]
    at.radio(key="lab_test_shown").set_value("PLAT").run()
    assert [t.split(" (")[0] for t in titles()] == ["Platelets"]
    _open_tab(at, "By visit")
    assert at.radio(key="lab_test_shown").value == "PLAT"
    assert titles() == ["PLAT: mean ± SD by cohort over scheduled visits"]
    _open_tab(at, "eDISH / Hy's law")
    assert any(t.startswith("eDISH") for t in titles())
    # a test no longer chosen is not shown: the first chosen one is
    at.multiselect(key="lab_tests").set_value(["HGB", "ALT"]).run()
    _open_tab(at, "Over time")
    assert at.radio(key="lab_test_shown").value == "HGB"
    assert titles()[0].startswith("Hemoglobin")


def test_alt_rise_of_the_high_dose_woman_shows_as_grade_2(labs_page):
    at = _open_tab(labs_page, "Worst grade")
    worst = _tables(at, "CTCAE term", "Grade 3-4")[0]
    alt_high = worst[(worst["CTCAE term"] == "Alanine aminotransferase increased")
                     & (worst["Cohort"] == "High dose")]
    # demo: HIGH #2, ALT 4 x ULN at DAY 7 = CTCAE v5.0 grade 2 (>3.0 - 5.0 x ULN)
    assert alt_high["Grade 2"].item().startswith("1 (")
    subjects = _tables(at, "Subject", "Worst grade")[0]
    links = subjects.loc[subjects["Worst grade"] == 2, "Subject"].tolist()
    # the link opens the patient at the page's cut-off (the demo's last data day)
    assert links and all(link.startswith("patient?study=NCT04232592&cutoff=2021-01-15&subject=")
                         for link in links)  # fmt: skip


def test_edish_quadrants_and_thresholds(labs_page):
    at = _open_tab(labs_page, "eDISH / Hy's law")
    counts = _tables(at, "Quadrant", "Total")[0].set_index("Quadrant")
    # the planted ALT rises (4 and 6 x ULN) with normal bilirubin: Temple's corollary, no Hy's law
    assert counts.loc["Temple's corollary", "High dose"] == 2
    assert counts.loc["Potential Hy's law", "Total"] == 0
    at.number_input(key="edish_alt").set_value(5.0).run()
    counts = _tables(at, "Quadrant", "Total")[0].set_index("Quadrant")
    assert counts.loc["Temple's corollary", "Total"] == 1  # only the 6 x ULN one is above 5
    # only the open tab runs; the line stays where the user put it when she comes back
    _open_tab(at, "Shift tables")
    _open_tab(at, "eDISH / Hy's law")
    assert at.number_input(key="edish_alt").value == 5.0
    counts = _tables(at, "Quadrant", "Total")[0].set_index("Quadrant")
    assert counts.loc["Temple's corollary", "Total"] == 1
    listing = _tables(at, "Subject", "Peak bilirubin x ULN")[0]
    assert listing["Subject"].str.startswith("patient?").all()


def test_shift_table_for_alt_by_cohort(labs_page):
    at = _open_tab(labs_page, "Shift tables")
    # the first shift table is the first chosen test's term: ALT increased
    table = _tables(at, "Cohort", "Baseline grade")[0]
    assert set(table["Cohort"]) == {"Control (vehicle)", "Low dose", "Medium dose", "High dose"}
    high = table[(table["Cohort"] == "High dose") & (table["Baseline grade"] == "0")]
    assert high["2"].item() == 1  # normal baseline -> worst grade 2


def test_switching_tests_and_statistic(labs_page):
    at = _open_tab(labs_page, "By visit")
    at.multiselect(key="lab_tests").set_value(["HGB"]).run()
    at.radio(key="lab_statistic").set_value("median").run()
    assert not at.exception, at.exception
    titles = [c["layout"]["title"]["text"] for c in _charts(at)]
    assert any("median (IQR)" in t for t in titles)


def test_every_table_header_reads_as_words(labs_page):
    # issue 17: "category", "unit", "missing", "total", "quadrant" were shown as stored
    headers = set()
    for tab in ("Over time", "By visit", "Shift tables", "Worst grade", "eDISH / Hy's law"):
        headers |= {str(c) for d in _open_tab(labs_page, tab).dataframe for c in d.value.columns}
    assert {"Category", "Unit", "Missing", "Total", "Quadrant", "Cohort"} <= headers
    raw = [h for h in headers if h.islower() or "_" in h]  # grade columns "0".."4" are digits
    assert raw == [], raw

