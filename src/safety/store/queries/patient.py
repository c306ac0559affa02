"""One patient's records, for the patient profile.

Every query names the study and the subject; the fact tables are written in (study, usubjid,
date) order (demo generator, ingest), so DuckDB's zone maps skip every other row group
(../shared/STACK.md: 2 ms for one subject's labs in 10M rows).
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd

from safety.store.queries.database import one_row
from safety.store.queries.signatures import SIGNATURE_TEXT


def patient_subject(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str, cutoff: date
) -> pd.DataFrame:
    """The patient's demography, cohort and course at the cut-off (one row; none if unknown).

    Columns: study_id, usubjid, subjid, site_id, cohort_id, cohort_label, dose_level, dose,
    dose_unit, is_control, dose_illustrative, sex, age, race, enrolled_date, first_dose_date,
    last_dose_date, end_of_study_date, status (latest), status_reason, death_date,
    status_at_cutoff (a subject who left after the cut-off was still on study then),
    days_on_study (first dose = day 1, to the end of study or the cut-off; NULL when not dosed).
    """
    return con.execute(
        """
        SELECT s.study_id, s.usubjid, s.subjid, s.site_id, s.cohort_id, c.label AS cohort_label,
               c.dose_level, c.dose, c.dose_unit, c.is_control, c.dose_illustrative, s.sex,
               s.age, s.race, s.enrolled_date, s.first_dose_date, s.last_dose_date,
               s.end_of_study_date, s.status, s.status_reason, s.death_date,
               CASE
                 WHEN s.first_dose_date IS NULL OR s.first_dose_date > $cutoff THEN
                   CASE WHEN s.status = 'screen failure' THEN s.status ELSE 'screening' END
                 WHEN s.status IN ('completed', 'withdrawn', 'died')
                      AND coalesce(s.end_of_study_date, s.death_date) > $cutoff THEN 'on study'
                 ELSE s.status
               END AS status_at_cutoff,
               CASE WHEN s.first_dose_date <= $cutoff THEN
                 date_diff('day', s.first_dose_date,
                           least($cutoff, coalesce(s.end_of_study_date, s.death_date, $cutoff)))
                 + 1
               END AS days_on_study
        FROM current_subject s LEFT JOIN cohort c USING (study_id, cohort_id)
        WHERE s.study_id = $study_id AND s.usubjid = $usubjid""",
        {"study_id": study_id, "usubjid": usubjid, "cutoff": cutoff},
    ).df()


def patient_dlt_state(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str, cutoff: date
) -> pd.DataFrame:
    """The patient's row of ``dlt.subject_dlt_states`` (same rule, same columns), one row."""
    return con.execute(
        """
        SELECT usubjid, cohort_id, age, sex, status, first_dose_date, treated, window_end, dlts,
               dlt_state, days_left, state_reason, left_on, received_fraction
        FROM subject_dlt_state($study_id, $cutoff, in_subject := $usubjid)""",
        {"study_id": study_id, "cutoff": cutoff, "usubjid": usubjid},
    ).df()


def patient_dlt_events(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str, cutoff: date
) -> pd.DataFrame:
    """The patient's rows of ``dlt.dlt_events``: candidates, adjudicated and added DLTs.

    Columns: source, source_seq, term, onset_date, onset_day, grade, dlt_rule, dlt_status,
    adjudication_reason, decided_by, decided_at, signature (name, time and meaning).
    """
    return con.execute(
        f"""
        SELECT d.source, d.source_seq, d.term, d.onset_date, d.onset_day, d.grade, d.dlt_rule,
               d.dlt_status, d.adjudication_reason, d.decided_by, d.decided_at,
               {SIGNATURE_TEXT} AS signature
        FROM dlt_event($study_id, $cutoff, in_subject := $usubjid) d
        LEFT JOIN signature g USING (signature_id)
        ORDER BY d.onset_date, d.source, d.source_seq""",
        {"study_id": study_id, "cutoff": cutoff, "usubjid": usubjid},
    ).df()


def patient_adverse_events(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str, cutoff: date
) -> pd.DataFrame:
    """The patient's adverse events that started on or before the cut-off, by onset.

    Columns: seq, pt, soc, verbatim, start_date, start_imputed, end_date (NULL when ongoing
    or ending after the cut-off), ongoing (at the cut-off), grade, serious, related, causality,
    outcome, action_taken, start_day and end_day (SDTM study days: first dose = day 1, no day 0).
    """
    return con.execute(
        """
        SELECT ae.seq, ae.pt, ae.soc, ae.verbatim, ae.start_date, ae.start_imputed,
               CASE WHEN ae.end_date <= $cutoff THEN ae.end_date END AS end_date,
               ae.end_date IS NULL OR ae.end_date > $cutoff AS ongoing,
               ae.grade, ae.serious, ae.related, ae.causality,
               CASE WHEN ae.end_date <= $cutoff THEN ae.outcome END AS outcome,
               ae.action_taken,
               date_diff('day', s.first_dose_date, ae.start_date)
                 + CASE WHEN ae.start_date >= s.first_dose_date THEN 1 ELSE 0 END AS start_day,
               CASE WHEN ae.end_date <= $cutoff THEN
                 date_diff('day', s.first_dose_date, ae.end_date)
                 + CASE WHEN ae.end_date >= s.first_dose_date THEN 1 ELSE 0 END
               END AS end_day
        FROM current_adverse_event ae JOIN current_subject s USING (study_id, usubjid)
        WHERE ae.study_id = $study_id AND ae.usubjid = $usubjid AND ae.start_date <= $cutoff
        ORDER BY ae.start_date, ae.seq""",
        {"study_id": study_id, "usubjid": usubjid, "cutoff": cutoff},
    ).df()


def patient_labs(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str, cutoff: date
) -> pd.DataFrame:
    """The patient's lab results collected on or before the cut-off, by date and test, with
    their stored CTCAE v5.0 grades (table ``lab_graded``, the same grades every page uses).

    Columns: study_id, usubjid, seq, test_code, test_name, category, value, value_text, unit,
    lln, uln, range_flag, collected_date, visit, visit_num, study_day, baseline_flag,
    first_dose_date, baseline, x_uln, term_low, grade_low, term_high, grade_high, worst_grade,
    grade_reason.
    """
    return con.execute(
        """
        SELECT study_id, usubjid, seq, test_code, test_name, category, value, value_text, unit,
               lln, uln, range_flag, collected_date, visit, visit_num, study_day, baseline_flag,
               first_dose_date, baseline, x_uln, term_low, grade_low, term_high, grade_high,
               worst_grade, grade_reason
        FROM lab_graded
        WHERE study_id = $study_id AND usubjid = $usubjid AND collected_date <= $cutoff
        ORDER BY collected_date, test_code, seq""",
        {"study_id": study_id, "usubjid": usubjid, "cutoff": cutoff},
    ).df()


def patient_vital_signs(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str, cutoff: date
) -> pd.DataFrame:
    """The patient's vital signs collected on or before the cut-off, by date and test.

    Columns: seq, test_code, test_name, value, unit, position, collected_date, visit,
    visit_num, study_day.
    """
    return con.execute(
        """
        SELECT seq, test_code, test_name, value, unit, position, collected_date, visit,
               visit_num, study_day
        FROM current_vital_sign
        WHERE study_id = $study_id AND usubjid = $usubjid AND collected_date <= $cutoff
        ORDER BY collected_date, test_code, seq""",
        {"study_id": study_id, "usubjid": usubjid, "cutoff": cutoff},
    ).df()


def patient_exposure(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str, cutoff: date
) -> pd.DataFrame:
    """The patient's dosing records that started on or before the cut-off.

    Columns: seq, treatment, dose, dose_unit, route, start_date, end_date, start_day (SDTM
    study day).
    """
    return con.execute(
        """
        SELECT e.seq, e.treatment, e.dose, e.dose_unit, e.route, e.start_date, e.end_date,
               date_diff('day', s.first_dose_date, e.start_date)
                 + CASE WHEN e.start_date >= s.first_dose_date THEN 1 ELSE 0 END AS start_day
        FROM current_exposure e JOIN current_subject s USING (study_id, usubjid)
        WHERE e.study_id = $study_id AND e.usubjid = $usubjid AND e.start_date <= $cutoff
        ORDER BY e.start_date, e.seq""",
        {"study_id": study_id, "usubjid": usubjid, "cutoff": cutoff},
    ).df()


def patient_audit(con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str) -> pd.DataFrame:
    """The audit log of one patient (adjudications, reviews), newest first.

    Columns: audit_id, logged_at, actor, action, detail (JSON text).
    """
    return con.execute(
        """
        SELECT audit_id, logged_at, actor, action, detail FROM audit_log
        WHERE study_id = $study_id AND usubjid = $usubjid
        ORDER BY logged_at DESC, audit_id DESC""",
        {"study_id": study_id, "usubjid": usubjid},
    ).df()


def subject_reviews(con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str) -> pd.DataFrame:
    """Every review of one patient, newest first (the first row is the current one).

    Columns: review_id, status, note, reviewed_by, reviewed_at.
    """
    return con.execute(
        """
        SELECT review_id, status, note, reviewed_by, reviewed_at FROM subject_review
        WHERE study_id = $study_id AND usubjid = $usubjid
        ORDER BY review_id DESC""",
        {"study_id": study_id, "usubjid": usubjid},
    ).df()


def latest_reviews(con: duckdb.DuckDBPyConnection, study_id: str) -> pd.DataFrame:
    """The current review of every reviewed patient of a study. Columns: usubjid, status,
    reviewed_by, reviewed_at."""
    return con.execute(
        """
        SELECT usubjid, status, reviewed_by, reviewed_at FROM subject_review
        WHERE study_id = $study_id
        QUALIFY row_number() OVER (PARTITION BY usubjid ORDER BY review_id DESC) = 1""",
        {"study_id": study_id},
    ).df()


def record_subject_review(
    con: duckdb.DuckDBPyConnection,
    *,
    study_id: str,
    usubjid: str,
    status: str,
    note: str | None,
    reviewed_by: str,
    reviewed_at: datetime,
) -> int:
    """Append one review of a patient; returns its id."""
    return int(
        one_row(
            con,
            """
            INSERT INTO subject_review (study_id, usubjid, status, note, reviewed_by, reviewed_at)
            VALUES ($study_id, $usubjid, $status, $note, $reviewed_by, $reviewed_at)
            RETURNING review_id""",
            {
                "study_id": study_id,
                "usubjid": usubjid,
                "status": status,
                "note": note,
                "reviewed_by": reviewed_by,
                "reviewed_at": reviewed_at,
            },
        )[0]
    )

