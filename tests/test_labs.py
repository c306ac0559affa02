"""Labs feed DLTs; shift tables, worst-grade counts and eDISH quadrants on hand-checked data."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from safety import charts, store
from safety.clinical import labs
from safety.config import DltDefinition, LabDltCriterion
from safety.store import queries

FIRST_DOSE = date(2024, 3, 1)
CUTOFF = date(2024, 6, 30)


def _dlt(min_grade: int = 3, window_days: int = 28) -> DltDefinition:
    return DltDefinition(
        window_days=window_days,
        min_grade=3,
        require_related=True,
        always_terms=(),
        excluded_terms=(),
        lab_criteria=(LabDltCriterion("Alanine aminotransferase increased", min_grade),),
    )


@pytest.fixture
def tiny(tmp_path):
    """Three dosed subjects with ALT results (ULN 40 U/L, normal baseline 20 U/L)."""
    path = tmp_path / "tiny.duckdb"
    with store.new_database(path) as con:
        queries.database.insert_frame(
            con,
            "cohort",
            pd.DataFrame(
                {
                    "study_id": ["T"],
                    "cohort_id": ["D1"],
                    "label": ["Dose 1"],
                    "dose_level": [1],
                    "is_control": [False],
                    "batch_id": [1],
                }
            ),
        )
        queries.database.insert_frame(
            con,
            "subject",
            pd.DataFrame(
                {
                    "study_id": "T",
                    "usubjid": ["IN", "OUT", "PRE"],
                    "cohort_id": "D1",
                    "status": "on study",
                    "first_dose_date": FIRST_DOSE,
                    "batch_id": 1,
                }
            ),
        )
        day = lambda d: FIRST_DOSE + timedelta(days=d - 1)  # noqa: E731  (study day -> date)
        rows = [
            # usubjid, seq, value, date, baseline_flag
            ("IN", 1, 20.0, day(1), True),  # pre-dose baseline on the dosing day
            ("IN", 2, 210.0, day(8), False),  # 5.25 x ULN: CTCAE v5.0 ALT G3 (>5.0-20.0 x ULN)
            ("IN", 3, 260.0, day(10), False),  # also G3: the first qualifying draw is the event
            ("OUT", 1, 20.0, day(1), True),
            ("OUT", 2, 210.0, day(29), False),  # grade 3 on day 29: outside a 28-day window
            ("PRE", 1, 210.0, day(1), True),  # grade 3 but pre-dose (baseline): never a DLT
            ("PRE", 2, 30.0, day(8), False),
        ]
        queries.database.insert_frame(
            con,
            "lab",
            pd.DataFrame(
                {
                    "study_id": "T",
                    "usubjid": [r[0] for r in rows],
                    "seq": [r[1] for r in rows],
                    "test_code": "ALT",
                    "value": [r[2] for r in rows],
                    "unit": "U/L",
                    "lln": 0.0,
                    "uln": 40.0,
                    "collected_date": [r[3] for r in rows],
                    "baseline_flag": [r[4] for r in rows],
                    "batch_id": 1,
                }
            ),
        )
        queries.labs.refresh_lab_grades(con, "T")  # as the ingest and the demo do after loading labs
    _record_rule(path, _dlt())
    return path


def _record_rule(db, dlt: DltDefinition) -> None:
    """Give study T this DLT definition (as recording a study's configuration does)."""
    with store.write_connection(db) as con:
        queries.studies.record_rule_parameters(con, "T", dlt, None)


def test_grade_3_alt_inside_the_window_is_a_lab_dlt_and_outside_is_not(tiny):
    with store.read_connection(tiny) as con:
        events = queries.dlt.dlt_events(con, "T", CUTOFF)
        states = queries.dlt.subject_dlt_states(con, "T", CUTOFF).set_index("usubjid")
    assert events["usubjid"].tolist() == ["IN"]
    event = events.iloc[0]
    assert (event["source"], event["source_seq"], event["grade"]) == ("lab", 2, 3)
    assert event["term"] == "Alanine aminotransferase increased"
    assert event["onset_day"] == 8 and event["dlt_status"] == "candidate"
    assert event["dlt_rule"].startswith(
        "Alanine aminotransferase increased grade 3 (CTCAE v5.0) on study day 8: ALT 210.0 U/L "
        "(ULN 40.0), 5.25 x ULN"
    )
    assert "protocol: grade >= 3" in event["dlt_rule"]
    assert states.loc["IN", "dlt_state"] == "DLT"
    assert states.loc["OUT", "dlt_state"] == "evaluable"
    assert states.loc["PRE", "dlt_state"] == "evaluable"


def test_lab_dlt_respects_the_protocol_grade_and_window(tiny):
    with store.read_connection(tiny) as con:
        early = queries.dlt.dlt_events(con, "T", FIRST_DOSE + timedelta(days=6))
        states = queries.dlt.subject_dlt_states(con, "T", CUTOFF)
    assert early.empty  # the grade-3 draw on day 8 is after this cut-off
    assert (states["dlt_state"] == "DLT").sum() == 1
    _record_rule(tiny, _dlt(min_grade=4))
    with store.read_connection(tiny) as con:
        assert queries.dlt.dlt_events(con, "T", CUTOFF).empty
    _record_rule(tiny, _dlt(window_days=42))
    with store.read_connection(tiny) as con:
        wide = queries.dlt.dlt_events(con, "T", CUTOFF)
    assert sorted(wide["usubjid"]) == ["IN", "OUT"]


def test_lab_dlt_can_be_rejected_by_adjudication(tiny):
    with store.write_connection(tiny) as con:  # the rule only, straight to the store (the
        # signed write path is tests/test_adjudication.py)
        queries.dlt.record_adjudication(
            con, study_id="T", usubjid="IN", source="lab", source_seq=2, decision="rejected",
            reason="haemolysed sample, repeat normal", decided_by="pytest",
            decided_at=pd.Timestamp("2024-03-12 10:00").to_pydatetime(), signature_id=1,
        )  # fmt: skip
    with store.read_connection(tiny) as con:
        events = queries.dlt.dlt_events(con, "T", CUTOFF)
        states = queries.dlt.subject_dlt_states(con, "T", CUTOFF).set_index("usubjid")
    assert events["dlt_status"].tolist() == ["rejected"]
    assert states.loc["IN", "dlt_state"] == "evaluable"


# ------------------------------------------------------------------ shift and worst-grade tables
def _subject_grades() -> pd.DataFrame:
    # Hand-made per-subject grades of one term in two cohorts (as queries.labs.lab_subject_grades).
    return pd.DataFrame(
        [
            ("S1", "A", "Anemia", 0, 0, 3),
            ("S2", "A", "Anemia", 0, 2, 3),
            ("S3", "A", "Anemia", 1, 3, 2),
            ("S4", "A", "Anemia", None, 1, 1),  # no baseline value
            ("S5", "B", "Anemia", 0, 0, 2),
            ("S6", "B", "Anemia", 0, None, 0),  # no post-baseline result: not in N
        ],
        columns=[
            "usubjid",
            "cohort_label",
            "term",
            "baseline_grade",
            "worst_grade",
            "post_results",
        ],
    ).astype({"baseline_grade": "Int8", "worst_grade": "Int8"})


def test_shift_table_counts_baseline_to_worst_grade_by_cohort():
    table = labs.shift_table(_subject_grades(), "Anemia").set_index(
        ["cohort_label", "baseline_grade"]
    )
    assert table.loc[("A", "0"), ["0", "2", "total"]].tolist() == [1, 1, 2]
    assert table.loc[("A", "1"), "3"] == 1
    assert table.loc[("A", "missing"), "1"] == 1
    assert table.loc[("B", "0"), ["0", "missing", "total"]].tolist() == [1, 1, 2]
    assert table.loc["A", "total"].sum() == 4 and table.loc["B", "total"].sum() == 2
    assert list(table.columns) == ["0", "1", "2", "3", "4", "missing", "total"]


def test_worst_grade_table_n_and_percent():
    out = labs.worst_grade_table(_subject_grades()).set_index("cohort_label")
    # A: 4 subjects with post-baseline results; worst grades 0, 2, 3, 1
    assert out.loc["A", ["N", "n_1", "n_2", "n_3", "n_4", "n_3_4"]].tolist() == [4, 1, 1, 1, 0, 1]
    assert out.loc["A", "grade_3"] == "1 (25.0%)"
    # B: S6 has no post-baseline result, so N = 1
    assert out.loc["B", "N"] == 1 and out.loc["B", "grade_1"] == "0 (0.0%)"


# ------------------------------------------------------------------ eDISH
def _peaks() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "usubjid": ["H", "T", "B", "N", "E", "M"],
            "cohort_label": ["A", "A", "B", "B", "B", "A"],
            "alt_x_uln": [5.0, 4.0, 1.0, 0.5, 3.0, np.nan],
            "ast_x_uln": [2.0, 3.5, 1.0, 0.5, 1.0, 1.0],
            "bili_x_uln": [2.5, 1.0, 3.0, 0.6, 2.0, 1.0],
            "alp_x_uln": [1.0, 1.0, 1.0, 1.0, 2.5, 1.0],
        }
    )


def test_edish_quadrants_on_the_hys_law_lines():
    out = labs.derive_edish(_peaks())
    # FDA DILI guidance (2009): ALT >= 3 x ULN and bilirubin >= 2 x ULN; on a line counts as over
    assert out["quadrant"].tolist()[:5] == [
        "Potential Hy's law",
        "Temple's corollary",
        "Hyperbilirubinemia",
        "Normal range",
        "Potential Hy's law",
    ]
    assert pd.isna(out["quadrant"].iloc[5])  # no ALT peak
    counts = labs.edish_quadrant_counts(out).set_index("quadrant")
    assert counts.loc["Potential Hy's law"].tolist() == [1, 1, 2]
    assert counts["Total"].sum() == 5
    cands = labs.hys_law_candidates(out)
    assert cands["usubjid"].tolist() == ["H", "E"]  # highest bilirubin first
    assert cands["cholestatic"].tolist() == [False, True]  # E: ALP 2.5 x ULN


def test_edish_with_ast_and_other_thresholds():
    out = labs.derive_edish(_peaks(), transaminase="AST", alt_threshold=3.5, bili_threshold=3.0)
    assert out["quadrant"].tolist() == [
        "Normal range",
        "Temple's corollary",
        "Hyperbilirubinemia",
        "Normal range",
        "Normal range",
        "Normal range",
    ]
    with pytest.raises(ValueError, match="ALT"):
        labs.derive_edish(_peaks(), transaminase="GGT")


def test_edish_chart_has_log_axes_and_lines():
    fig = charts.labs.edish(labs.derive_edish(_peaks()), {"A": "#111111", "B": "#222222"})
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert [s.x0 for s in fig.layout.shapes if s.type == "line" and s.x0 == s.x1] == [3.0]
    assert [s.y0 for s in fig.layout.shapes if s.type == "line" and s.y0 == s.y1] == [2.0]
    assert sorted(t.name for t in fig.data) == ["A", "B"]
    points = {u for t in fig.data for u in t.customdata[:, 0]}
    assert points == {"H", "T", "B", "N", "E"}


def test_lab_queries_on_the_demo(demo_db):
    with store.read_connection(demo_db) as con:
        grades = queries.labs.lab_subject_grades(con, "NCT04232592", date(2021, 1, 15), ["ALT"])
        peaks = queries.labs.lab_liver_peaks(con, "NCT04232592", date(2021, 1, 15))
    # The demo's planted rises (src/safety/demo.py): HIGH #2 ALT 4 x ULN (grade 2) and HIGH #4
    # ALT 6 x ULN with perihepatitis (grade 3); bilirubin stays normal in both.
    high = grades[grades["cohort_label"] == "High dose"]
    assert sorted(high.loc[high["worst_grade"] >= 2, "worst_grade"].tolist()) == [2, 3]
    assert (high.loc[high["worst_grade"] >= 2, "baseline_grade"] == 0).all()
    edish = labs.derive_edish(peaks)
    corollary = edish.loc[edish["quadrant"] == "Temple's corollary", "alt_x_uln"]
    assert sorted(corollary.tolist()) == [4.0, 6.0]


def test_shift_table_keeps_input_of_a_single_cohort_literal():
    grades = _subject_grades().query("cohort_label == 'B'")
    expected = pd.DataFrame(
        {
            "cohort_label": ["B"] * 6,
            "baseline_grade": ["0", "1", "2", "3", "4", "missing"],
            "0": [1, 0, 0, 0, 0, 0],
            "1": [0] * 6,
            "2": [0] * 6,
            "3": [0] * 6,
            "4": [0] * 6,
            "missing": [1, 0, 0, 0, 0, 0],
            "total": [2, 0, 0, 0, 0, 0],
        }
    )
    got = labs.shift_table(grades, "Anemia")
    assert_frame_equal(
        got, expected, check_dtype=False, check_column_type=False, check_index_type=False
    )
