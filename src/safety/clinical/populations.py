"""Analysis populations: who a table counts.

The **safety analysis set** at a cut-off: the subjects of the study's cohorts who received the
study treatment (first dose, DM.RFXSTDTC, on or before the cut-off). Every adverse-event table,
chart and report counts this set, and N in their headers is its size per cohort. Screening
subjects, screen failures and subjects enrolled but not dosed by the cut-off are not in it.

It is the DuckDB table macro ``safety_population(study_id, cutoff)`` (:data:`MACROS`, on every
connection of ``safety.store``): one row per subject with usubjid, cohort_id, cohort_label,
is_control, dose_level, first_dose_date, first_dose_at (its time, NULL when none was
collected), end_of_study_date, death_date, status, status_reason.

Every count of subjects on a page or in a report (N in a header, "subjects with ...", the
cohort table's worst grades and SAEs, deaths) is a count of this set, so the same question
gets the same number everywhere.

References
----------
ICH E9 (1998), section 5.2 and 6.2 (the set of subjects used for the safety analysis: those
who received at least one dose); ICH E3 (1995), 12.2.
"""

from __future__ import annotations

MACROS = """
CREATE OR REPLACE TEMP MACRO safety_population(in_study, at_cutoff) AS TABLE
SELECT s.usubjid, s.cohort_id, c.label AS cohort_label, c.is_control, c.dose_level,
       s.first_dose_date, s.first_dose_at, s.end_of_study_date, s.death_date, s.status,
       s.status_reason
FROM current_subject s
JOIN cohort c ON c.study_id = s.study_id AND c.cohort_id = s.cohort_id
WHERE s.study_id = in_study AND s.first_dose_date <= at_cutoff;
"""
