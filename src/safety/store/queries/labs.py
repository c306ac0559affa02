"""Lab results with their CTCAE v5.0 grades.

Every lab question reads table ``lab_graded``: the rows of the ``lab_grading`` view (grades
generated from the admiral criteria, :mod:`safety.ctcae.sql`), stored per study whenever its
labs or first-dose dates change (:func:`refresh_lab_grades`). Records count when collected on or
before the cut-off; "post-baseline" means collected after the first-dose day (the baseline is the
last value on or before it). Test codes are compared upper-cased.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from safety.store.queries.database import one_row


def refresh_lab_grades(con: duckdb.DuckDBPyConnection, study_id: str,
                       whole_study: bool = False) -> int:
    """Bring the stored CTCAE grades (table ``lab_graded``) of one study up to date with the
    ``lab_grading`` view; call in the same transaction as any change to the study's labs or
    subjects. Returns the number of rows graded.

    Only the subjects whose grades can have changed are graded again (:func:`_touched_subjects`:
    a lab record added, changed or gone, a first dose moved); a subject's other rows keep their
    grades and take the batch they are now current in. ``whole_study`` grades every subject
    (what else changes, e.g. a SUPPDM anticoagulation flag, is not compared).
    """
    params = {"study_id": study_id}
    stored = one_row(con, "SELECT count(*) FROM lab_graded WHERE study_id = $study_id", params)[0]
    if whole_study or not stored:
        con.execute("DELETE FROM lab_graded WHERE study_id = $study_id", params)
        return int(one_row(
            con, "INSERT INTO lab_graded SELECT * FROM lab_grading WHERE study_id = $study_id",
            params)[0])
    con.execute(f"CREATE OR REPLACE TEMP TABLE touched_subject AS {_TOUCHED_SUBJECTS}", params)
    con.execute(
        """
        DELETE FROM lab_graded WHERE study_id = $study_id
          AND usubjid IN (SELECT usubjid FROM touched_subject)""", params)
    # the same records, now current in a later batch (carried forward, or delivered again)
    con.execute(
        """
        UPDATE lab_graded AS g SET batch_id = l.batch_id
        FROM current_lab l
        WHERE g.study_id = $study_id AND l.study_id = $study_id AND l.usubjid = g.usubjid
          AND l.seq = g.seq AND l.batch_id <> g.batch_id""", params)
    graded = int(one_row(
        con,
        """
        INSERT INTO lab_graded SELECT * FROM lab_grading WHERE study_id = $study_id
          AND usubjid IN (SELECT usubjid FROM touched_subject)""", params)[0])
    con.execute("DROP TABLE touched_subject")
    return graded


# The lab columns that make a record (batch_id aside): a subject with any record added, changed
# or gone, or whose first dose moved, is graded again (baselines are per subject and test).
_RECORD = ("usubjid, seq, test_code, test_name, category, value, value_text, unit, lln, uln, "
           "range_flag, collected_dtc, collected_date, visit, visit_num, study_day, "
           "baseline_flag, collected_at")
_TOUCHED_SUBJECTS = f"""
SELECT usubjid FROM (
    (SELECT {_RECORD} FROM current_lab WHERE study_id = $study_id
     EXCEPT SELECT {_RECORD} FROM lab_graded WHERE study_id = $study_id)
    UNION ALL
    (SELECT {_RECORD} FROM lab_graded WHERE study_id = $study_id
     EXCEPT SELECT {_RECORD} FROM current_lab WHERE study_id = $study_id))
UNION
SELECT g.usubjid
FROM (SELECT DISTINCT usubjid, first_dose_date, first_dose_at FROM lab_graded
      WHERE study_id = $study_id) g
LEFT JOIN current_subject s ON s.study_id = $study_id AND s.usubjid = g.usubjid
WHERE s.first_dose_date IS DISTINCT FROM g.first_dose_date
   OR s.first_dose_at IS DISTINCT FROM g.first_dose_at
"""


_LAB_SUBJECTS = """
SELECT s.usubjid, s.cohort_id, c.label AS cohort_label, c.is_control, c.dose_level
FROM current_subject s LEFT JOIN cohort c USING (study_id, cohort_id)
WHERE s.study_id = $study_id
"""


def lab_tests(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date) -> pd.DataFrame:
    """The study's lab tests with what CTCAE v5.0 grades them.

    Columns: test_code, test_name, category, unit (most frequent), results, subjects,
    term_low, term_high, graded (results with a grade in some direction), abnormal (grade >= 1).
    """
    return con.execute(
        """
        SELECT test_code, any_value(test_name) AS test_name, any_value(category) AS category,
               mode(unit) AS unit, count(*) AS results, count(DISTINCT usubjid) AS subjects,
               any_value(term_low) AS term_low, any_value(term_high) AS term_high,
               count(worst_grade) AS graded, count(*) FILTER (WHERE worst_grade >= 1) AS abnormal
        FROM lab_graded
        WHERE study_id = $study_id AND collected_date <= $cutoff
        GROUP BY test_code
        ORDER BY any_value(category), test_code""",
        {"study_id": study_id, "cutoff": cutoff},
    ).df()


def lab_values(
    con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date, test_codes: list[str]
) -> pd.DataFrame:
    """Every result of the chosen tests with its grades, for the time course by cohort.

    Columns: usubjid, cohort_id, cohort_label, is_control, dose_level, seq, test_code,
    test_name, collected_date, study_day, visit, visit_num, baseline_flag, value, unit, lln, uln,
    baseline, baseline_range_flag, change, pchg, x_uln, term_low, grade_low, term_high,
    grade_high, worst_grade, grade_reason.
    """
    return con.execute(
        f"""
        WITH subj AS ({_LAB_SUBJECTS})
        SELECT subj.*, g.seq, g.test_code, g.test_name, g.collected_date, g.study_day, g.visit,
               g.visit_num, g.baseline_flag, g.value, g.unit, g.lln, g.uln, g.baseline,
               g.baseline_range_flag, g.change, g.pchg, g.x_uln, g.term_low, g.grade_low,
               g.term_high, g.grade_high, g.worst_grade, g.grade_reason
        FROM lab_graded g JOIN subj USING (usubjid)
        WHERE g.study_id = $study_id AND g.collected_date <= $cutoff
          AND list_contains($codes, upper(g.test_code))
        ORDER BY subj.is_control DESC, subj.dose_level, g.usubjid, g.test_code, g.collected_date,
                 g.seq""",
        {"study_id": study_id, "cutoff": cutoff, "codes": [c.upper() for c in test_codes]},
    ).df()


def lab_visit_summary(
    con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date, test_codes: list[str]
) -> pd.DataFrame:
    """Mean, SD, median and quartiles by cohort and scheduled visit (unscheduled draws left out).

    Columns: test_code, unit, cohort_id, cohort_label, is_control, dose_level, visit, visit_num,
    n, mean, sd, median, q1, q3.
    """
    return con.execute(
        f"""
        WITH subj AS ({_LAB_SUBJECTS})
        SELECT g.test_code, mode(g.unit) AS unit, subj.cohort_id, subj.cohort_label,
               subj.is_control, subj.dose_level, g.visit, g.visit_num,
               count(g.value) AS n, avg(g.value) AS mean, stddev_samp(g.value) AS sd,
               median(g.value) AS median, quantile_cont(g.value, 0.25) AS q1,
               quantile_cont(g.value, 0.75) AS q3
        FROM lab_graded g JOIN subj USING (usubjid)
        WHERE g.study_id = $study_id AND g.collected_date <= $cutoff
          AND list_contains($codes, upper(g.test_code))
          AND g.visit_num IS NOT NULL AND g.value IS NOT NULL
        GROUP BY ALL
        ORDER BY g.test_code, subj.is_control DESC, subj.dose_level, g.visit_num""",
        {"study_id": study_id, "cutoff": cutoff, "codes": [c.upper() for c in test_codes]},
    ).df()


def lab_subject_grades(
    con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date, test_codes: list[str]
) -> pd.DataFrame:
    """Per subject, test and CTCAE term: the baseline grade and the worst post-baseline grade.

    The baseline grade is the grade of the baseline result (last non-missing value on or before
    the first dose; highest LBSEQ on a tie); the worst grade is the highest grade of the results
    collected after the first-dose day up to the cut-off. NULL where there is none. Only subjects
    dosed by the cut-off. Columns: usubjid, cohort_id, cohort_label, is_control, dose_level, test_code, direction
    ("L"/"H"), term, baseline_grade, worst_grade, post_results (graded post-baseline results).
    """
    return con.execute(
        f"""
        WITH subj AS ({_LAB_SUBJECTS}),
        long AS (
            SELECT usubjid, test_code, collected_date, seq, value, first_dose_date,
                   unnest([{{'direction': 'L', 'term': term_low, 'grade': grade_low}},
                           {{'direction': 'H', 'term': term_high, 'grade': grade_high}}]) AS x
            FROM lab_graded
            WHERE study_id = $study_id AND collected_date <= $cutoff
              AND list_contains($codes, upper(test_code))
        )
        SELECT subj.*, l.test_code, l.x.direction AS direction, l.x.term AS term,
               arg_max(l.x.grade, date_diff('day', DATE '1970-01-01', l.collected_date)
                                  * 4294967296 + l.seq)
                   FILTER (WHERE l.value IS NOT NULL
                           AND l.collected_date <= l.first_dose_date) AS baseline_grade,
               max(l.x.grade) FILTER (WHERE l.collected_date > l.first_dose_date) AS worst_grade,
               count(l.x.grade) FILTER (WHERE l.collected_date > l.first_dose_date)
                   AS post_results
        FROM long l JOIN subj USING (usubjid)
        WHERE l.x.term IS NOT NULL AND l.first_dose_date <= $cutoff
        GROUP BY ALL
        ORDER BY subj.is_control DESC, subj.dose_level, l.test_code, direction, subj.usubjid""",
        {"study_id": study_id, "cutoff": cutoff, "codes": [c.upper() for c in test_codes]},
    ).df()


def lab_liver_peaks(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date) -> pd.DataFrame:
    """Per treated subject: peak post-baseline ALT, AST, total bilirubin and ALP as x ULN (eDISH).

    Peaks are over results collected after the first-dose day up to the cut-off (x ULN = value
    / the result's own ULN). Columns: usubjid, cohort_id, cohort_label, is_control, dose_level,
    alt_x_uln, alt_date, ast_x_uln, ast_date, bili_x_uln, bili_date, alp_x_uln.
    """
    return con.execute(
        f"""
        WITH subj AS ({_LAB_SUBJECTS}),
        peaks AS (
            SELECT usubjid,
                   max(x_uln) FILTER (WHERE upper(test_code) = 'ALT') AS alt_x_uln,
                   arg_max(collected_date, x_uln) FILTER (WHERE upper(test_code) = 'ALT')
                       AS alt_date,
                   max(x_uln) FILTER (WHERE upper(test_code) = 'AST') AS ast_x_uln,
                   arg_max(collected_date, x_uln) FILTER (WHERE upper(test_code) = 'AST')
                       AS ast_date,
                   max(x_uln) FILTER (WHERE upper(test_code) = 'BILI') AS bili_x_uln,
                   arg_max(collected_date, x_uln) FILTER (WHERE upper(test_code) = 'BILI')
                       AS bili_date,
                   max(x_uln) FILTER (WHERE upper(test_code) = 'ALP') AS alp_x_uln
            FROM current_lab l JOIN current_subject s USING (study_id, usubjid)
            CROSS JOIN LATERAL (SELECT CASE WHEN l.uln > 0 THEN l.value / l.uln END AS x_uln)
            WHERE l.study_id = $study_id AND l.collected_date <= $cutoff
              AND l.collected_date > s.first_dose_date
              AND upper(l.test_code) IN ('ALT', 'AST', 'BILI', 'ALP')
            GROUP BY usubjid
        )
        SELECT subj.*, p.* EXCLUDE (usubjid)
        FROM peaks p JOIN subj USING (usubjid)
        ORDER BY subj.is_control DESC, subj.dose_level, subj.usubjid""",
        {"study_id": study_id, "cutoff": cutoff},
    ).df()

