"""The sidebar's population filter (issue 17), the Labs chart and the dosing timeline that scale
(issue 16) and the evaluable history per dose, on the demo database and on frames built here.

Expected numbers: the demo enrols 32 women, 8 per cohort; at its cut-off 2021-01-15 High dose
has 6 dosed (tests/test_population.py, the issue's "6 treated"), and "dosed only" must be the
safety analysis set, the N of every table (macro safety_population); ICH E7 Q&A (2010) for the
age bands.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from safety import store
from safety.charts import labs as lab_charts
from safety.charts import overview as overview_charts
from safety.clinical.populations import AGE_UNKNOWN, PopulationFilter, age_band
from safety.escalation.outcomes import summary_by_dose
from safety.store import queries

CUTOFF = date(2021, 1, 15)


@pytest.fixture(scope="module")
def subjects(demo_db):
    with store.read_connection(demo_db) as con:
        return queries.subjects.population_subjects(con, "NCT04232592", CUTOFF)


def test_age_bands_follow_ich_e7():
    assert [age_band(a) for a in (17, 18, 64, 65, 74, 75, 84, 85)] == [
        "< 18", "18–64", "18–64", "65–74", "65–74", "75–84", "75–84", "≥ 85"]  # fmt: skip
    assert age_band(None) == AGE_UNKNOWN


def test_the_filter_keeps_whom_it_says(subjects):
    assert len(subjects) == 32 and int(subjects["dosed"].sum()) == 30  # High dose: 6 of 8
    assert set(subjects["sex"]) == {"F"}
    high = PopulationFilter(cohorts=("High dose",))
    assert len(high.select(subjects)) == 8
    assert high.describe() == "cohort High dose"
    assert PopulationFilter(sexes=("M",)).select(subjects).empty
    assert PopulationFilter().is_everyone and PopulationFilter().describe() == "all subjects"
    both = PopulationFilter(cohorts=("Low dose", "High dose"), dosed_only=True)
    assert len(both.select(subjects)) == 14  # Low 8 + High 6 dosed
    assert both.describe() == "cohort Low dose, High dose; dosed only"


@pytest.mark.parametrize("cutoff", [date(2020, 12, 10), CUTOFF])
def test_dosed_only_is_the_safety_analysis_set(demo_db, cutoff):
    with store.read_connection(demo_db) as con:
        subjects = queries.subjects.population_subjects(con, "NCT04232592", cutoff)
        n = con.execute("SELECT count(*) FROM safety_population('NCT04232592', ?)",
                        [cutoff]).fetchone()[0]  # fmt: skip
    dosed = PopulationFilter(dosed_only=True).select(subjects)
    assert len(subjects) == 32 and len(dosed) == n  # 2020-12-10: 25 (High dose 2 of 8)


def _values(subjects: int, results: int, grade=0) -> pd.DataFrame:
    n = subjects * results
    return pd.DataFrame({
        "usubjid": np.repeat([f"S-{i:05d}" for i in range(subjects)], results),
        "cohort_label": np.repeat([f"C{i % 4}" for i in range(subjects)], results),
        "test_code": "ALT", "test_name": "Alanine Aminotransferase",
        "study_day": np.tile(np.arange(1, results + 1), subjects).astype(float),
        "value": np.linspace(10, 50, n), "unit": "U/L", "lln": 5.0, "uln": 40.0,
        "worst_grade": grade, "visit": "DAY 1",
    })  # fmt: skip


def test_lab_chart_is_two_traces_per_cohort_whatever_the_subjects():
    fig = lab_charts.lab_time_course(_values(40, 10), "ALT")
    data = [t for t in fig.data if t.x is not None and len(t.x) and t.x[0] is not None]
    assert len(data) == 8  # 4 cohorts x (one gapped line + markers)
    lines = [t for t in data if t.mode == "lines"]
    # 10 subjects per cohort: 10 x 10 results and 9 gaps between them
    assert all(len(t.x) == 109 and np.isnan(np.asarray(t.x, dtype=float)).sum() == 9
               for t in lines)  # fmt: skip
    assert all(isinstance(t, go.Scatter) for t in data)
    assert {fig.layout[f"xaxis{i}"].matches for i in (2, 3, 4)} == {"x"}  # one time axis


def test_lab_chart_goes_webgl_then_samples_whole_subjects_and_says_so():
    webgl = lab_charts.lab_time_course(_values(200, 10), "ALT")  # 2,000 points, all shown
    assert any(isinstance(t, go.Scattergl) for t in webgl.data)
    assert sum(len(t.x) for t in webgl.data if t.mode == "markers" and t.x[0] is not None) == 2000
    big = _values(2000, 20)  # 40,000 points: the 2,000-subject study
    big.loc[big["usubjid"] == "S-01999", "worst_grade"] = 3
    fig = lab_charts.lab_time_course(big, "ALT")
    markers = [t for t in fig.data if t.mode == "markers" and t.customdata is not None]
    shown = sum(len(t.x) for t in markers)
    assert shown <= lab_charts.MAX_POINTS
    subjects = {c[0] for t in markers for c in t.customdata}
    assert "S-01999" in subjects  # the highest grades are kept first
    assert shown == 20 * len(subjects)  # whole subjects: every result of each one kept
    assert any(f"{len(subjects)} of 2000 subjects" in a.text for a in fig.layout.annotations)


def test_dosing_timeline_has_one_marker_per_cohort_and_day_then_week_holding_every_subject():
    # 3 women dosed the same day in one cohort stand on one spot: one marker lists all three
    few = pd.DataFrame({"usubjid": ["A", "B", "C", "D"], "cohort_label": ["Low dose"] * 4,
                        "first_dose_date": pd.to_datetime(["2020-03-02"] * 3 + ["2020-03-05"]),
                        "status": ["completed", "completed", "withdrawn", "on study"]})
    fig = overview_charts.dosing_timeline(few, {"Low dose": "#6baed6"}, date(2020, 4, 1))
    (trace,) = fig.data
    assert trace.customdata.tolist() == [
        ["A;B;C", "3 subjects: A, B, C", "2 completed, 1 withdrawn"], ["D", "D", "on study"]]
    assert "dosed %{x|%d %b %Y}" in trace.hovertemplate
    assert fig.layout.title.text == "Enrolment and dosing by cohort"
    # 1,200 women dosed on 600 days: by week (2020-01-06 is a Monday), every one once
    days = pd.date_range("2020-01-06", periods=600, freq="D")
    many = pd.DataFrame({"usubjid": [f"S-{i:04d}" for i in range(1200)],
                         "cohort_label": ["Low dose", "High dose"] * 600,
                         "first_dose_date": np.repeat(days, 2), "status": "on study"})
    fig = overview_charts.dosing_timeline(many, {"Low dose": "#6baed6", "High dose": "#08306b"},
                                          date(2022, 1, 1))
    assert fig.layout.title.text.endswith("(one marker per cohort and week)")
    marks = [(x, row[0].split(";")) for t in fig.data for x, row in zip(t.x, t.customdata,
                                                                         strict=True)]
    assert len(marks) == 2 * -(-600 // 7) <= overview_charts.TIMELINE_MAX_MARKERS
    dosed = many.set_index("usubjid")["first_dose_date"]
    assert sorted(u for _, ids in marks for u in ids) == sorted(many["usubjid"])
    assert all(pd.Timestamp(x) <= dosed[u] < pd.Timestamp(x) + pd.Timedelta(days=7)
               and pd.Timestamp(x).weekday() == 0 for x, ids in marks for u in ids)


def test_evaluable_history_per_dose():
    # Brock's notation: dose level, then N (no DLT) or T (DLT) per patient
    assert summary_by_dose("1NNN 2NTN 2NNN") == "dose 1: 3 / 0 DLTs · dose 2: 6 / 1 DLT"
    assert summary_by_dose("") == ""


def test_decision_table_reaches_the_current_cell_of_a_large_cohort():
    from safety.monitor import escalation_review as review

    # the CDISC pilot: 9 DLTs in 77 evaluable at dose level 1 (Overview, per dose)
    cell = review.CurrentCell(1, 77, 9)
    table = review.decision_table("boin", 0.3, review.decision_table_rows(cell, 3, None), cell)
    shown = review.around_current_cell(table, cell)
    assert shown.shape == (20, 16)
    assert shown.loc[77, "9 DLT"].startswith(review.CURRENT_MARK)
    small = review.CurrentCell(1, 5, 1)  # the demo's sizes: the whole table
    table = review.decision_table("boin", 0.3, review.decision_table_rows(small, 3, None), small)
    assert review.around_current_cell(table, small).shape == table.shape


def test_the_sidebar_filter_comes_from_the_url_and_narrows_the_labs_page(demo_db, subjects,
                                                                         monkeypatch):  # fmt: skip
    import json
    from pathlib import Path

    import people
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SAFETY_DB", str(demo_db))
    app = str(Path(__file__).resolve().parents[1] / "dashboard.py")
    at = people.signed_in(AppTest.from_file(app, default_timeout=120))
    at.query_params["pop_cohort"] = "High dose"  # a shared link
    at.run()
    at.switch_page("pages/labs.py").run()
    assert not at.exception, at.exception
    assert any("8 of 32 subjects" in c.value and "cohort High dose" in c.value
               for c in at.sidebar.caption)  # fmt: skip
    assert at.query_params["pop_cohort"] == "High dose"
    course = json.loads(at.get("plotly_chart")[0].proto.spec)
    shown = {c[0] for t in course["data"] if t.get("customdata") for c in t["customdata"]}
    high = set(subjects.loc[subjects["cohort_label"] == "High dose", "usubjid"])
    assert shown and shown <= high  # only High dose women are plotted


def test_a_pooled_only_user_gets_no_cohort_to_filter_by(demo_db):
    """A sponsor sees pooled views only (issue 15): a cohort filter would turn them into
    by-cohort numbers, so her population has no cohort; an administrator has none at all."""
    import people

    from safety import views
    from safety.errors import AccessDenied

    with store.read_connection(demo_db) as con:
        sponsor = views.population_subjects(con, people.SPONSOR, "NCT04232592", CUTOFF)
        officer = views.population_subjects(con, people.SAFETY_OFFICER, "NCT04232592", CUTOFF)
        with pytest.raises(AccessDenied):
            views.population_subjects(con, people.ADMIN, "NCT04232592", CUTOFF)
    assert len(sponsor) == len(officer) == 32
    assert "cohort_label" not in sponsor and "cohort_id" not in sponsor
    assert set(officer["cohort_label"]) == {"Control (vehicle)", "Low dose", "Medium dose", "High dose"}


@pytest.mark.parametrize("cutoff", [date(2020, 12, 10), CUTOFF])
def test_ae_tables_count_the_population_and_its_n(demo_db, cutoff):
    """The AE summary and SOC/PT table of one cohort's subjects are that cohort's column of the
    whole table (N included) and nothing elsewhere; of one subject, her own events only."""
    from safety import config as study_config
    from safety.clinical.teae import AeFilter
    from safety.monitor import adverse_events

    config = study_config.find_study_config("NCT04232592")
    with store.read_connection(demo_db) as con:
        everyone = adverse_events.ae_summary(con, config, cutoff)
        whole = adverse_events.soc_pt_incidence(con, config, cutoff)
        subjects = queries.subjects.population_subjects(con, "NCT04232592", cutoff)
        for label, group in subjects.groupby("cohort_label"):
            ids = tuple(sorted(group["usubjid"]))
            mine = adverse_events.ae_summary(con, config, cutoff, subjects=ids)
            inc = adverse_events.soc_pt_incidence(con, config, cutoff, AeFilter(subjects=ids))
            for frame, full in ((mine, everyone), (inc, whole)):
                here = frame["cohort_label"] == label
                assert (frame.loc[~here, ["N", "n"]] == 0).all().all()
                keys = [c for c in ("category", "level", "soc", "pt") if c in frame]
                got = frame[here].set_index(keys)[["N", "n", "events"]].sort_index()
                want = full[full["cohort_label"] == label].set_index(keys)[
                    ["N", "n", "events"]].sort_index()
                want = want.loc[got.index]  # terms of this cohort's events
                assert got.equals(want), label
        one = subjects.loc[subjects["dosed"], "usubjid"].iloc[0]
        listing = adverse_events.ae_listing(con, config, cutoff, AeFilter(subjects=(one,)))
        assert set(listing["usubjid"]) <= {one}
