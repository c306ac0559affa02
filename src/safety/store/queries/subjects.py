"""Subjects and cohorts: who is enrolled, dosed and where, per cohort and over time."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from safety.store.queries.database import one_row


def cohort_summary(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date) -> pd.DataFrame:
    """Per cohort at the cut-off: who is enrolled and treated, and their adverse events.

    The adverse events are those every AE table counts: the TEAEs of the safety analysis set
    (``ae_emergence`` over ``safety_population``, :mod:`safety.clinical.teae`), so ``treated`` is
    the N of every AE header. The DLT-window counts come from the DLT rule
    (``dlt.subject_dlt_states``), not from here.
    Columns: cohort_id, label, is_control, dose_level, dose, dose_unit, dose_illustrative,
    planned_subjects, subjects (enrolled), treated (N of the safety analysis set), saes
    (subjects with a serious TEAE), aes (TEAEs), subjects_with_ae (subjects with a TEAE),
    worst_grade_1 .. worst_grade_5 (subjects by their worst TEAE grade) and
    worst_grade_1_subjects .. worst_grade_5_subjects (those subjects, ``;``-joined, for the
    click-through; NULL when none).
    """
    return con.execute(
        """
        WITH subj AS (
            SELECT usubjid, cohort_id FROM current_subject WHERE study_id = $study_id
        ),
        dosed AS (SELECT usubjid FROM safety_population($study_id, $cutoff)),
        ae_by_subject AS (
            SELECT usubjid, count(*) AS aes, max(grade) AS worst_grade, bool_or(serious) AS any_sae
            FROM ae_emergence($study_id, $cutoff)
            WHERE teae
            GROUP BY usubjid
        )
        SELECT c.cohort_id, c.label, c.is_control, c.dose_level, c.dose, c.dose_unit,
               c.dose_illustrative, c.planned_subjects,
               count(ss.usubjid) AS subjects,
               count(d.usubjid) AS treated,
               count(*) FILTER (WHERE a.any_sae) AS saes,
               coalesce(sum(a.aes), 0) AS aes,
               count(a.usubjid) AS subjects_with_ae,
               count(*) FILTER (WHERE a.worst_grade = 1) AS worst_grade_1,
               count(*) FILTER (WHERE a.worst_grade = 2) AS worst_grade_2,
               count(*) FILTER (WHERE a.worst_grade = 3) AS worst_grade_3,
               count(*) FILTER (WHERE a.worst_grade = 4) AS worst_grade_4,
               count(*) FILTER (WHERE a.worst_grade = 5) AS worst_grade_5,
               string_agg(a.usubjid, ';' ORDER BY a.usubjid) FILTER (WHERE a.worst_grade = 1)
                   AS worst_grade_1_subjects,
               string_agg(a.usubjid, ';' ORDER BY a.usubjid) FILTER (WHERE a.worst_grade = 2)
                   AS worst_grade_2_subjects,
               string_agg(a.usubjid, ';' ORDER BY a.usubjid) FILTER (WHERE a.worst_grade = 3)
                   AS worst_grade_3_subjects,
               string_agg(a.usubjid, ';' ORDER BY a.usubjid) FILTER (WHERE a.worst_grade = 4)
                   AS worst_grade_4_subjects,
               string_agg(a.usubjid, ';' ORDER BY a.usubjid) FILTER (WHERE a.worst_grade = 5)
                   AS worst_grade_5_subjects
        FROM cohort c
        LEFT JOIN subj ss ON ss.cohort_id = c.cohort_id
        LEFT JOIN dosed d ON d.usubjid = ss.usubjid
        LEFT JOIN ae_by_subject a ON a.usubjid = ss.usubjid
        WHERE c.study_id = $study_id
        GROUP BY ALL
        ORDER BY c.is_control DESC, c.dose_level
        """,
        {"study_id": study_id, "cutoff": cutoff},
    ).df()


def dosing_timeline(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date) -> pd.DataFrame:
    """Enrolment and dosing per subject, for the timeline by cohort.

    Columns: usubjid, cohort_id, cohort_label, dose_level, enrolled_date, first_dose_date
    (NULL when not dosed by the cut-off), status.
    """
    return con.execute(
        """
        SELECT s.usubjid, s.cohort_id, c.label AS cohort_label, c.dose_level, s.enrolled_date,
               CASE WHEN s.first_dose_date <= $cutoff THEN s.first_dose_date END AS first_dose_date,
               s.status
        FROM current_subject s LEFT JOIN cohort c USING (study_id, cohort_id)
        WHERE s.study_id = $study_id AND (s.enrolled_date IS NULL OR s.enrolled_date <= $cutoff)
        ORDER BY coalesce(s.first_dose_date, s.enrolled_date), s.usubjid
        """,
        {"study_id": study_id, "cutoff": cutoff},
    ).df()


def subject_study(con: duckdb.DuckDBPyConnection, usubjid: str) -> str | None:
    """The study a USUBJID belongs to (the first by study id if several do), or None."""
    row = one_row(
        con,
        "SELECT min(study_id) FROM current_subject WHERE usubjid = $usubjid",
        {"usubjid": usubjid},
    )
    return row[0] if row else None


def subject_site(con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str) -> tuple[bool, str | None]:
    """(the subject is in the study, their site: DM.SITEID, None when not recorded)."""
    row = one_row(
        con,
        "SELECT site_id FROM current_subject WHERE study_id = $study_id AND usubjid = $usubjid",
        {"study_id": study_id, "usubjid": usubjid},
    )
    return (False, None) if row is None else (True, row[0])


def study_roster(con: duckdb.DuckDBPyConnection, study_id: str) -> pd.DataFrame:
    """The study's subjects in the order the profile steps through them, with review status.

    Order: control cohort first, then by dose level; within a cohort by first dose date
    (undosed last), then USUBJID. Columns: usubjid, site_id, cohort_id, cohort_label,
    dose_level, is_control, first_dose_date, status, review_status (latest review; NULL when
    never reviewed).
    """
    return con.execute(
        """
        WITH review AS (
            SELECT usubjid, arg_max(status, review_id) AS review_status
            FROM subject_review WHERE study_id = $study_id GROUP BY usubjid
        )
        SELECT s.usubjid, s.site_id, s.cohort_id, c.label AS cohort_label, c.dose_level,
               c.is_control, s.first_dose_date, s.status, r.review_status
        FROM current_subject s
        LEFT JOIN cohort c USING (study_id, cohort_id)
        LEFT JOIN review r USING (usubjid)
        WHERE s.study_id = $study_id
        ORDER BY c.is_control DESC NULLS LAST, c.dose_level NULLS LAST,
                 s.first_dose_date NULLS LAST, s.usubjid""",
        {"study_id": study_id},
    ).df()



def population_subjects(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date) -> pd.DataFrame:
    """Every subject of a cohort of the study, for the population filter (macro
    ``population_subjects``, clinical/populations.py): usubjid, cohort_id, cohort_label,
    site_id, sex, age, dosed (by the cut-off)."""
    return con.execute(
        "SELECT * FROM population_subjects($study_id, $cutoff) ORDER BY usubjid",
        {"study_id": study_id, "cutoff": cutoff},
    ).df()
