"""The dose-limiting toxicity (DLT) rule: definition, parameters and SQL, in one place.

The protocol's DLT definition (``[dlt]`` in the study configuration) makes an adverse event a
DLT candidate when it starts inside the DLT assessment window (from the first dose, day 1, for
``window_days`` days: first dose date <= onset < first dose date + window_days) and either

- its preferred term is one of ``always_terms`` (e.g. uterine perforation, anaphylaxis,
  teratoma), whatever its grade or causality, or
- its CTCAE grade is at least ``min_grade`` and, when ``require_related``, its causality is one
  of the study's related categories;

and its term is not in ``excluded_terms`` (expected effects of the procedure). Lab criteria
(``[[dlt.lab_criteria]]``: a CTCAE term and a minimum grade) add lab-based candidates: per
subject and term, the first qualifying draw after the first dose inside the window, graded by
the store's CTCAE v5.0 grades (table ``lab_graded``); pre-dose baseline draws never count.
Each candidate carries the rule that made it (``dlt_rule``).

Adjudication (``monitor.adjudication``: confirm / reject / add, with a reason) overrides the
derived status; the latest adjudication of an event wins, whenever it was recorded (the review
of the data of a cut-off is part of that cut-off's cleaned data); ``known_by`` limits them to
those recorded up to a moment, to show the decisions as they were known then. A DLT added by
hand counts from its onset date. Counts and decisions use candidates, confirmed and added DLTs
(:data:`COUNTED_STATUSES`), never rejected ones.

Per subject at a cut-off (``dlt_state``): ``not treated``; ``DLT``; ``evaluable`` (window
completed without DLT: the cut-off reached its last day); ``not evaluable`` (withdrew or died
before the window ended, without a DLT); ``pending`` (inside the window, no DLT yet, with
``days_left``).

How it is computed: the parameters of every study are columns of its row of table
``rule_parameters`` (:func:`rule_parameters`, written when the study is recorded); :data:`MACROS`
are DuckDB table macros that every connection of ``safety.store`` has:

- ``dlt_event(study_id, cutoff, known_by := NULL)``: one row per DLT candidate or adjudicated
  DLT known at the cut-off;
- ``subject_dlt_state(study_id, cutoff, known_by := NULL)``: one row per subject of the study
  with her DLT-window state.

Every question about DLTs (status, the patient profile, alerts, the AE tables, the reports and
the pages) selects from these two macros, so all of them count the same events.
"""

from __future__ import annotations

from safety.config import DltDefinition
from safety.ctcae.labmap import lbtestcd_for_term

COUNTED_STATUSES = ("candidate", "confirmed", "added")  # a rejected candidate does not count
DLT_STATES = ("not treated", "pending", "evaluable", "DLT", "not evaluable")


def rule_parameters(dlt: DltDefinition) -> dict:
    """A study's DLT definition as columns of table ``rule_parameters`` (terms lower-cased, lab
    criteria as parallel lists, with the LBTESTCDs that the lab criteria's CTCAE terms grade)."""
    return {
        "window_days": int(dlt.window_days),
        "min_grade": int(dlt.min_grade),
        "require_related": bool(dlt.require_related),
        "always_terms": [t.lower() for t in dlt.always_terms],
        "excluded_terms": [t.lower() for t in dlt.excluded_terms],
        "lab_terms": [c.term.lower() for c in dlt.lab_criteria],
        "lab_min_grades": [int(c.min_grade) for c in dlt.lab_criteria],
        "lab_test_codes": sorted(
            {code.upper() for c in dlt.lab_criteria for code in lbtestcd_for_term(c.term)}
        ),
    }


MACROS = """
CREATE OR REPLACE TEMP MACRO dlt_event(in_study, at_cutoff, known_by := NULL) AS TABLE
WITH rule AS (SELECT * FROM rule_parameters WHERE study_id = in_study),
-- AE-based candidates, with the rule that made each one.
dlt_ae AS (
    SELECT ae.study_id, ae.usubjid, ae.seq, ae.pt, ae.start_date,
           date_diff('day', s.first_dose_date, ae.start_date) + 1 AS onset_day, ae.grade,
           CASE
             WHEN list_contains(r.always_terms, lower(ae.pt)) THEN 'always-DLT term'
             ELSE 'grade ' || ae.grade || ' >= ' || r.min_grade
                  || CASE WHEN r.require_related THEN ', related (' || ae.causality || ')'
                          ELSE '' END
           END AS dlt_rule
    FROM current_adverse_event ae
    JOIN current_subject s USING (study_id, usubjid)
    CROSS JOIN rule r
    WHERE ae.study_id = in_study
      AND ae.start_date <= at_cutoff
      AND s.first_dose_date IS NOT NULL
      AND ae.start_date >= s.first_dose_date
      AND ae.start_date < s.first_dose_date + r.window_days
      AND NOT list_contains(r.excluded_terms, lower(ae.pt))
      AND (list_contains(r.always_terms, lower(ae.pt))
           OR (ae.grade >= r.min_grade AND (ae.related OR NOT r.require_related)))
),
-- Lab-based candidates: one per subject and term, the first qualifying post-dose draw.
dlt_lab AS (
    SELECT g.study_id, g.usubjid, g.seq, g.x.term AS term, g.onset_date, g.onset_day,
           g.x.grade AS grade,
           g.x.term || ' grade ' || g.x.grade || ' (CTCAE v5.0) on day ' || g.onset_day || ': '
             || g.test_code || ' ' || CAST(round(g.value, 3) AS VARCHAR)
             || coalesce(' ' || g.unit, '')
             || coalesce(', ' || CAST(round(g.x_uln, 1) AS VARCHAR) || ' x ULN', '')
             || '; protocol: grade >= '
             || r.lab_min_grades[list_position(r.lab_terms, lower(g.x.term))] AS dlt_rule
    FROM (SELECT study_id, usubjid, seq, test_code, value, unit, x_uln,
                 collected_date AS onset_date,
                 date_diff('day', first_dose_date, collected_date) + 1 AS onset_day,
                 unnest([{'term': term_low, 'grade': grade_low},
                         {'term': term_high, 'grade': grade_high}]) AS x
          FROM lab_graded l
          WHERE l.study_id = in_study
            AND collected_date <= at_cutoff
            AND first_dose_date IS NOT NULL
            AND collected_date >= first_dose_date
            AND collected_date < first_dose_date
                                 + (SELECT window_days FROM rule)
            AND NOT baseline_flag
            AND list_contains((SELECT lab_test_codes FROM rule), upper(trim(test_code)))) g
    CROSS JOIN rule r
    WHERE list_contains(r.lab_terms, lower(g.x.term))
      AND g.x.grade >= r.lab_min_grades[list_position(r.lab_terms, lower(g.x.term))]
    QUALIFY row_number() OVER (PARTITION BY g.usubjid, lower(g.x.term)
                               ORDER BY g.onset_date, g.seq) = 1
),
adjudication AS (
    SELECT * FROM dlt_adjudication
    WHERE study_id = in_study
      AND decided_at <= coalesce(CAST(known_by AS TIMESTAMP), TIMESTAMP 'infinity')
    QUALIFY row_number() OVER (PARTITION BY usubjid, source, coalesce(source_seq, -adjudication_id)
                               ORDER BY decided_at DESC, adjudication_id DESC) = 1
)
SELECT d.study_id, d.usubjid, 'adverse_event' AS source, d.seq AS source_seq, d.pt AS term,
       d.start_date AS onset_date, d.onset_day, d.grade, d.dlt_rule,
       coalesce(a.decision, 'candidate') AS dlt_status, a.reason AS adjudication_reason,
       a.decided_by, a.decided_at, a.signature_id
FROM dlt_ae d
LEFT JOIN adjudication a
  ON a.usubjid = d.usubjid AND a.source = 'adverse_event' AND a.source_seq = d.seq
UNION ALL
SELECT d.study_id, d.usubjid, 'lab', d.seq, d.term, d.onset_date, d.onset_day, d.grade,
       d.dlt_rule, coalesce(a.decision, 'candidate'), a.reason, a.decided_by, a.decided_at,
       a.signature_id
FROM dlt_lab d
LEFT JOIN adjudication a
  ON a.usubjid = d.usubjid AND a.source = 'lab' AND a.source_seq = d.seq
UNION ALL
SELECT a.study_id, a.usubjid, a.source, a.source_seq, a.description, a.onset_date,
       date_diff('day', s.first_dose_date, a.onset_date) + 1, NULL, 'added by adjudication',
       a.decision, a.reason, a.decided_by, a.decided_at, a.signature_id
FROM adjudication a JOIN current_subject s USING (study_id, usubjid)
WHERE a.source = 'manual' AND a.onset_date <= at_cutoff;

CREATE OR REPLACE TEMP MACRO subject_dlt_state(in_study, at_cutoff, known_by := NULL) AS TABLE
SELECT s.study_id, s.usubjid, s.cohort_id, s.age, s.sex, s.status, s.first_dose_date,
       s.end_of_study_date,
       s.first_dose_date IS NOT NULL AND s.first_dose_date <= at_cutoff AS treated,
       s.first_dose_date + r.window_days - 1 AS window_end,
       coalesce(n.dlts, 0) AS dlts,
       CASE
         WHEN s.first_dose_date IS NULL OR s.first_dose_date > at_cutoff THEN 'not treated'
         WHEN coalesce(n.dlts, 0) > 0 THEN 'DLT'
         WHEN s.first_dose_date + r.window_days - 1 <= at_cutoff THEN 'evaluable'
         WHEN s.status IN ('withdrawn', 'died') AND s.end_of_study_date <= at_cutoff
           THEN 'not evaluable'
         ELSE 'pending'
       END AS dlt_state,
       CASE WHEN s.first_dose_date <= at_cutoff
            THEN greatest(date_diff('day', at_cutoff, s.first_dose_date + r.window_days - 1), 0)
       END AS days_left
FROM current_subject s
CROSS JOIN (SELECT * FROM rule_parameters WHERE study_id = in_study) r
LEFT JOIN (SELECT usubjid, count(*) AS dlts FROM dlt_event(in_study, at_cutoff, known_by := known_by)
           WHERE dlt_status IN ('candidate', 'confirmed', 'added')
           GROUP BY usubjid) n USING (usubjid)
WHERE s.study_id = in_study;
"""
