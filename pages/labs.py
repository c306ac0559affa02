"""Labs: results over time by cohort with CTCAE v5.0 grades, shift and worst-grade tables, eDISH."""

import pandas as pd
import streamlit as st

from safety import charts, links
from safety.access import Action
from safety.clinical import labs
from safety.ctcae.conversion import grading_conversion
from safety.display import readable
from safety.escaping import md
from ui import data, drill, population, sidebar, widgets

DEFAULT_TESTS = ("ALT", "AST", "BILI", "CREAT", "HGB", "PLAT")

sel = sidebar.selection(needs=Action.VIEW_CLOSED)
st.title("Labs")
st.caption(
    "CTCAE v5.0 grades computed in the database from admiral's criteria tables (SI and US "
    "conventional units; hemoglobin in mmol/L converted to g/L with 16.11 g/L per mmol/L). "
    "Baseline: last value on or before the first dose. Post-baseline: after the first-dose day. "
    + labs.inr_assumption(sel.config.labs)
)

tests = data.lab_tests(sel.db, sel.user, sel.study_id, sel.cutoff, sel.version)
if tests.empty:
    st.info("No lab results for this study up to the cut-off.")
    st.stop()

codes = tests["test_code"].tolist()
names = dict(zip(tests["test_code"], tests["test_name"].fillna(""), strict=True))
chosen = st.multiselect(
    "Tests",
    codes,
    default=[c for c in DEFAULT_TESTS if c in codes] or codes[:3],
    format_func=lambda c: f"{c} — {names.get(c, '')}",
    key="lab_tests",
)
with st.expander("Grading coverage: every result has a grade or a stated reason"):
    coverage = readable(tests.rename(columns={
        "test_code": "Test", "test_name": "Name", "term_low": "CTCAE term (low)",
        "term_high": "CTCAE term (high)", "graded": "Graded", "abnormal": "Grade ≥ 1"}))
    st.dataframe(coverage, hide_index=True, key="lab_coverage")
    widgets.download_table(coverage, "lab_grading_coverage")
if not chosen:
    st.info("Pick one or more tests.")
    st.stop()

frames = data.lab_frames(sel.db, sel.user, sel.study_id, sel.cutoff, tuple(chosen), sel.version)
grades = sel.keep(frames["grades"])
timeline = data.frame(sel.db, sel.user, "dosing_timeline", sel.study_id, sel.cutoff, sel.version)
cohort_rows = timeline.drop_duplicates("cohort_id").rename(columns={"cohort_label": "label"})
cohort_rows["is_control"] = cohort_rows["dose_level"].isna()
colours = charts.style.cohort_colours(cohort_rows.fillna({"dose_level": 1}))
link_column = st.column_config.LinkColumn(
    "Subject", display_text=r"subject=([^&]*)", help="Open the patient page"
)


def _links(usubjids) -> pd.Series:
    return pd.Series([links.patient_link(sel.study_id, u, sel.cutoff) for u in usubjids], dtype="str")


def _unit_note(code: str) -> str:
    """How a test stored in one unit is graded in another (HGB mmol/L -> g/L), else ''."""
    unit = tests.set_index("test_code")["unit"].get(code)  # the test's most frequent unit
    conv = grading_conversion(code, unit) if isinstance(unit, str) else None
    return f"graded in {conv.to_unit}: 1 {unit} = {conv.factor:g} {conv.to_unit}" if conv else ""


def _test_shown() -> str:
    """The one test the chart tabs draw (a browser draws one chart of thousands of points in
    about a second, six take ten); the same choice on both tabs. Each label says the test's
    worst post-baseline grade when it is 1 or more, so no abnormal test goes unseen."""
    worst = labs.worst_grade_by_test(grades)
    return st.radio(
        "Test", chosen, horizontal=True, **widgets.kept("lab_test_shown", chosen[0], chosen),
        format_func=lambda c: f"{c} (worst: grade {worst[c]})" if worst.get(c, 0) >= 1 else c,
    )  # fmt: skip


# Only the open tab runs (its charts are most of the page); the tab is kept in the URL.
tab_time, tab_visit, tab_shift, tab_worst, tab_edish = st.tabs(
    ["Over time", "By visit", "Shift tables", "Worst grade", "eDISH / Hy's law"],
    key="labs_tab", on_change="rerun", bind="query-params",
)

if tab_time.open:
    with tab_time:
        code = _test_shown()
        course = data.lab_time_course(sel.db, sel.user, sel.study_id, sel.cutoff, code,
                                      _unit_note(code), sel.subjects, sel.version)  # fmt: skip
        drill.chart(course, f"lab_time_{code}")
        widgets.download_figure(course, f"lab_{code}_over_time")

if tab_visit.open:
    with tab_visit:
        code = _test_shown()
        statistic = st.radio(
            "Statistic",
            ["mean", "median"],
            horizontal=True,
            **widgets.kept("lab_statistic", "mean"),
            format_func={"mean": "Mean ± SD", "median": "Median (IQR)"}.get,
        )
        population.whole_cohorts_note(sel.subjects, "The summaries by visit")
        by_visit = data.lab_visit_figure(sel.db, sel.user, sel.study_id, sel.cutoff,
                                         tuple(chosen), code, statistic, tuple(colours.items()),
                                         sel.version)  # fmt: skip
        st.plotly_chart(by_visit, key=f"lab_visit_{code}")
        widgets.download_figure(by_visit, f"lab_{code}_by_visit")

if tab_shift.open:
    with tab_shift:
        st.caption(
            "Subjects by baseline CTCAE grade (rows) and worst post-baseline grade (columns), "
            "per cohort; dosed subjects only."
        )
        shifts = data.lab_shift_tables(sel.db, sel.user, sel.study_id, sel.cutoff, tuple(chosen),
                                       sel.subjects, sel.version)  # fmt: skip
        for term, table in shifts.items():
            st.markdown(f"**{md(term)}**")
            st.dataframe(table, hide_index=True, key=f"lab_shift_{term}")
            widgets.download_table(table, f"shift_{term}")

if tab_worst.open:
    with tab_worst:
        st.caption(
            "Subjects by worst post-baseline CTCAE grade, n (%); N = subjects with a graded "
            "post-baseline result."
        )
        worst = labs.worst_grade_table(grades)
        st.dataframe(
            worst[
                ["term", "cohort_label", "N", "grade_1", "grade_2", "grade_3", "grade_4",
                 "grade_3_4"]
            ].rename(
                columns={
                    "term": "CTCAE term",
                    "cohort_label": "Cohort",
                    "grade_1": "Grade 1",
                    "grade_2": "Grade 2",
                    "grade_3": "Grade 3",
                    "grade_4": "Grade 4",
                    "grade_3_4": "Grade 3-4",
                }
            ),
            hide_index=True,
            key="lab_worst",
        )
        widgets.download_table(worst, "lab_worst_grade")
        abnormal = grades[grades["worst_grade"].fillna(0) >= 1]
        st.markdown("**Subjects with a post-baseline grade ≥ 1** "
                    f"({abnormal['usubjid'].nunique()})")
        drill.table(
            pd.DataFrame(
                {
                    "Subject": _links(abnormal["usubjid"]),
                    "Cohort": abnormal["cohort_label"].to_numpy(),
                    "CTCAE term": abnormal["term"].to_numpy(),
                    "Baseline grade": abnormal["baseline_grade"].to_numpy(),
                    "Worst grade": abnormal["worst_grade"].to_numpy(),
                }
            ),
            "lab_abnormal_subjects",
            abnormal["usubjid"].tolist(),
            hide_index=True,
            column_config={"Subject": link_column},
        )
        widgets.download_table(abnormal, "lab_abnormal_subjects")

if tab_edish.open:
    with tab_edish:
        left, mid, right = st.columns(3)
        transaminase = left.radio("Transaminase", ["ALT", "AST"], horizontal=True,
                                  **widgets.kept("edish_x", "ALT"))
        alt_threshold = mid.number_input(
            f"{transaminase} line (x ULN)",
            min_value=0.5,
            max_value=50.0,
            step=0.5,
            **widgets.kept("edish_alt", labs.HY_LAW_ALT_X_ULN),
        )
        bili_threshold = right.number_input(
            "Bilirubin line (x ULN)",
            min_value=0.5,
            max_value=50.0,
            step=0.5,
            **widgets.kept("edish_bili", labs.HY_LAW_BILI_X_ULN),
        )
        peaks = sel.keep(data.liver_peaks(sel.db, sel.user, sel.study_id, sel.cutoff, sel.version))
        edish = labs.derive_edish(
            peaks,
            transaminase=transaminase,
            alt_threshold=alt_threshold,
            bili_threshold=bili_threshold,
        )
        edish_chart = data.chart("labs.edish", edish, colours, alt_threshold, bili_threshold)
        widgets.download_figure(edish_chart, "edish")
        drill.chart(edish_chart, "lab_edish")
        st.markdown("**Subjects per quadrant**")
        quadrants = readable(labs.edish_quadrant_counts(edish))
        st.dataframe(quadrants, hide_index=True, key="edish_counts")
        widgets.download_table(quadrants, "edish_quadrants")
        candidates = labs.hys_law_candidates(edish)
        st.markdown(f"**Potential Hy's law cases** ({len(candidates)})")
        st.caption(
            f"Peak {transaminase} ≥ {alt_threshold:g} x ULN and peak total bilirubin ≥ "
            f"{bili_threshold:g} x ULN after the first dose (FDA DILI guidance, 2009). "
            "Cholestatic: peak ALP ≥ 2 x ULN, not Hy's law by definition; review the timing."
        )
        listing = edish[edish["quadrant"].notna()].sort_values(
            ["bili_x_uln", "transaminase_x_uln"], ascending=False
        )
        shown = candidates if len(candidates) else listing
        if not len(candidates):
            st.caption("None: all subjects with liver tests, highest bilirubin first.")
        drill.table(
            pd.DataFrame(
                {
                    "Subject": _links(shown["usubjid"]),
                    "Cohort": shown["cohort_label"].to_numpy(),
                    "Quadrant": shown["quadrant"].to_numpy(),
                    f"Peak {transaminase} x ULN": shown["transaminase_x_uln"].round(2).to_numpy(),
                    "Peak bilirubin x ULN": shown["bili_x_uln"].round(2).to_numpy(),
                    "Peak ALP x ULN": shown["alp_x_uln"].round(2).to_numpy(),
                }
            ),
            "edish_listing",
            shown["usubjid"].tolist(),
            hide_index=True,
            column_config={"Subject": link_column},
        )
        widgets.download_table(shown, "edish_subjects")
