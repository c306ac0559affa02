"""The sponsor's ADaM derivations beside ours: where they disagree (table ``sponsor_value``).

An ADaM dataset carries the sponsor's own flags and grades; the product derives its own by its
rules and counts by those, and lists every disagreement as a data-quality finding so that a
reviewer sees both values and the reason ours was reached.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd


def sponsor_disagreements(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date
                          ) -> pd.DataFrame:
    """Records where the sponsor's ADaM derivation and ours differ, at the cut-off.

    Findings: ADAE TRTEMFL against our TEAE rule (``ae_teae``; a blank TRTEMFL is "not
    treatment-emergent", as ADaM OCCDS defines the flag); ADAE ATOXGR against our AE grade;
    ADLB ATOXGR / ATOXGRL / ATOXGRH against our CTCAE v5.0 grade (worst, low, high direction)
    where we grade the test; ADSL SAFFL against our safety analysis set (dosed subjects).

    Columns: usubjid, cohort_label, seq, pt (the lab test for lab findings), start_date,
    finding, counted_as — those of ``adverse_events.ae_data_quality``.
    """
    return con.execute(
        """
        WITH sponsor AS (
            SELECT * FROM current_sponsor_value WHERE study_id = $study_id
        ),
        subjects AS (
            SELECT s.usubjid, c.label AS cohort_label
            FROM current_subject s
            LEFT JOIN cohort c ON c.study_id = s.study_id AND c.cohort_id = s.cohort_id
            WHERE s.study_id = $study_id
        ),
        teae AS (
            SELECT t.usubjid, t.cohort_label, t.seq, t.pt, t.start_date, t.teae, t.teae_basis,
                   v.value AS trtemfl
            FROM ae_teae($study_id, $cutoff) t
            JOIN sponsor v ON v.domain = 'AE' AND v.variable = 'TRTEMFL'
                          AND v.usubjid = t.usubjid AND v.seq = t.seq
        ),
        ae_grade AS (
            SELECT a.usubjid, s.cohort_label, a.seq, a.pt, a.start_date, a.grade,
                   a.grade_derived, TRY_CAST(v.value AS INTEGER) AS atoxgr
            FROM current_adverse_event a
            JOIN subjects s USING (usubjid)
            JOIN sponsor v ON v.domain = 'AE' AND v.variable = 'ATOXGR'
                          AND v.usubjid = a.usubjid AND v.seq = a.seq
            WHERE a.study_id = $study_id AND (a.start_date IS NULL OR a.start_date <= $cutoff)
              AND v.value IS NOT NULL
        ),
        lab_grade AS (
            SELECT g.usubjid, s.cohort_label, g.seq, g.test_code, g.collected_date,
                   v.variable, TRY_CAST(v.value AS INTEGER) AS sponsor_grade,
                   CASE v.variable WHEN 'ATOXGRL' THEN coalesce(g.grade_low, 0)
                                   WHEN 'ATOXGRH' THEN coalesce(g.grade_high, 0)
                                   ELSE coalesce(g.worst_grade, 0) END AS our_grade
            FROM lab_graded g
            JOIN subjects s USING (usubjid)
            JOIN sponsor v ON v.domain = 'LB' AND v.variable IN ('ATOXGR', 'ATOXGRL', 'ATOXGRH')
                          AND v.usubjid = g.usubjid AND v.seq = g.seq
            WHERE g.study_id = $study_id AND g.collected_date <= $cutoff
              AND v.value IS NOT NULL
              AND (g.grade_low IS NOT NULL OR g.grade_high IS NOT NULL)
        ),
        population AS (
            SELECT usubjid FROM safety_population($study_id, $cutoff)
        ),
        found AS (
            SELECT usubjid, cohort_label, seq, pt, start_date,
                   'TRTEMFL ' || coalesce(trtemfl, 'blank') || ' (sponsor) but our TEAE rule: '
                     || CASE WHEN teae THEN 'treatment-emergent' ELSE 'not treatment-emergent'
                        END || ' (' || teae_basis || ')' AS finding,
                   CASE WHEN teae THEN 'TEAE' ELSE 'not a TEAE' END AS counted_as
            FROM teae WHERE teae <> coalesce(trtemfl = 'Y', false)
            UNION ALL
            SELECT usubjid, cohort_label, seq, pt, start_date,
                   'ATOXGR ' || atoxgr || ' (sponsor) but grade ' || coalesce(grade::VARCHAR, 'none')
                     || CASE WHEN grade_derived THEN ' (ours, from AESEV or the outcome)'
                             ELSE ' (AETOXGR as delivered)' END,
                   'grade ' || coalesce(grade::VARCHAR, 'none')
            FROM ae_grade WHERE atoxgr IS DISTINCT FROM grade
            UNION ALL
            SELECT usubjid, cohort_label, seq, test_code, collected_date,
                   variable || ' ' || sponsor_grade || ' (sponsor) but CTCAE v5.0 grade '
                     || our_grade || ' (ours)',
                   'grade ' || our_grade
            FROM lab_grade WHERE sponsor_grade IS DISTINCT FROM our_grade
            UNION ALL
            SELECT v.usubjid, s.cohort_label, NULL, NULL, NULL,
                   'SAFFL ' || coalesce(v.value, 'blank') || ' (sponsor) but '
                     || CASE WHEN p.usubjid IS NULL THEN 'not dosed by the cut-off (ours)'
                             ELSE 'dosed, in our safety analysis set' END,
                   CASE WHEN p.usubjid IS NULL THEN 'not in the safety analysis set'
                        ELSE 'in the safety analysis set' END
            FROM sponsor v
            JOIN subjects s USING (usubjid)
            LEFT JOIN population p USING (usubjid)
            WHERE v.domain = 'DM' AND v.variable = 'SAFFL'
              AND (p.usubjid IS NOT NULL) <> coalesce(v.value = 'Y', false)
        )
        SELECT * FROM found ORDER BY usubjid, seq NULLS FIRST, finding
        """,
        {"study_id": study_id, "cutoff": cutoff},
    ).df()


def sponsor_values(con: duckdb.DuckDBPyConnection, study_id: str) -> pd.DataFrame:
    """The sponsor's current derivations of a study, as delivered.

    Columns: domain, dataset, usubjid, seq, variable, value.
    """
    return con.execute(
        """
        SELECT domain, dataset, usubjid, seq, variable, value
        FROM current_sponsor_value WHERE study_id = $study_id
        ORDER BY domain, usubjid, seq, variable
        """,
        {"study_id": study_id},
    ).df()
