"""Trial-conduct tables of the DSMB reports: exposure and data timeliness."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd


def exposure_summary(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date) -> pd.DataFrame:
    """Study treatment given per cohort up to the cut-off, and the follow-up it bought.

    Columns: cohort_id, cohort_label, is_control, dose_level, subjects_dosed, administrations
    (EX records started on or before the cut-off), total_dose, dose_unit, first_dose_date,
    last_dose_date, follow_up_days (sum over dosed subjects of the days from the first dose to
    the cut-off or the end of study, whichever is first), median_follow_up_days.
    """
    return con.execute(
        """
        WITH ex AS (
            SELECT usubjid, count(*) AS administrations, sum(dose) AS total_dose,
                   mode(dose_unit) AS dose_unit, min(start_date) AS first_date,
                   max(start_date) AS last_date
            FROM current_exposure
            WHERE study_id = $s AND start_date <= $cutoff
            GROUP BY usubjid
        ),
        subj AS (
            SELECT s.usubjid, s.cohort_id, ex.administrations, ex.total_dose, ex.dose_unit,
                   ex.first_date, ex.last_date,
                   CASE WHEN s.first_dose_date <= $cutoff
                        THEN date_diff('day', s.first_dose_date,
                                       least($cutoff, coalesce(s.end_of_study_date, $cutoff))) + 1
                   END AS follow_up_days
            FROM current_subject s LEFT JOIN ex USING (usubjid)
            WHERE s.study_id = $s
        )
        SELECT c.cohort_id, c.label AS cohort_label, c.is_control, c.dose_level,
               count(subj.follow_up_days) AS subjects_dosed,
               coalesce(sum(subj.administrations), 0) AS administrations,
               sum(subj.total_dose) AS total_dose, mode(subj.dose_unit) AS dose_unit,
               min(subj.first_date) AS first_dose_date, max(subj.last_date) AS last_dose_date,
               coalesce(sum(subj.follow_up_days), 0) AS follow_up_days,
               median(subj.follow_up_days) AS median_follow_up_days
        FROM cohort c LEFT JOIN subj ON subj.cohort_id = c.cohort_id
        WHERE c.study_id = $s
        GROUP BY ALL
        ORDER BY c.is_control DESC, c.dose_level, c.cohort_id""",
        {"s": study_id, "cutoff": cutoff},
    ).df()


def data_timeliness(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date) -> pd.DataFrame:
    """How current each SDTM domain is at the cut-off (trial conduct, for the open report).

    Columns: domain (DM, EX, AE, LB, VS), records (dated on or before the cut-off), undated
    (records without a usable date), latest_record (the latest such date), days_behind (from
    the latest record to the cut-off), deliveries (loaded batches), last_loaded_at,
    rows_quarantined (over all the domain's batches).
    """
    return con.execute(
        """
        WITH dated AS (
            SELECT 'DM' AS domain, enrolled_date AS d FROM current_subject WHERE study_id = $s
            UNION ALL SELECT 'EX', start_date FROM current_exposure WHERE study_id = $s
            UNION ALL SELECT 'AE', start_date FROM current_adverse_event WHERE study_id = $s
            UNION ALL SELECT 'LB', collected_date FROM current_lab WHERE study_id = $s
            UNION ALL SELECT 'VS', collected_date FROM current_vital_sign WHERE study_id = $s
        ),
        r AS (
            SELECT domain, count(*) FILTER (WHERE d <= $cutoff) AS records,
                   count(*) FILTER (WHERE d IS NULL) AS undated,
                   max(d) FILTER (WHERE d <= $cutoff) AS latest_record
            FROM dated GROUP BY domain
        ),
        b AS (
            SELECT domain, count(*) FILTER (WHERE status = 'loaded') AS deliveries,
                   max(loaded_at) FILTER (WHERE status = 'loaded') AS last_loaded_at,
                   sum(rows_quarantined) AS rows_quarantined
            FROM ingest_batch WHERE study_id = $s GROUP BY domain
        ),
        domains AS (SELECT unnest(['DM', 'EX', 'AE', 'LB', 'VS']) AS domain,
                           unnest([1, 2, 3, 4, 5]) AS k)
        SELECT domains.domain, coalesce(r.records, 0) AS records,
               coalesce(r.undated, 0) AS undated, r.latest_record,
               date_diff('day', r.latest_record, $cutoff) AS days_behind,
               coalesce(b.deliveries, 0) AS deliveries, b.last_loaded_at,
               coalesce(b.rows_quarantined, 0) AS rows_quarantined
        FROM domains LEFT JOIN r USING (domain) LEFT JOIN b USING (domain)
        ORDER BY domains.k""",
        {"s": study_id, "cutoff": cutoff},
    ).df()

