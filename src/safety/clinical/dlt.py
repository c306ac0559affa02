"""The dose-limiting toxicity (DLT) rule: definition, parameters and SQL, in one place.

Who the rule applies to: the subjects of the **dose cohorts**. A DLT is a toxicity of a dose, so
control subjects never have DLT candidates (their adverse events stay in every AE analysis).

The protocol's DLT definition (``[dlt]`` in the study configuration) makes an adverse event a
DLT candidate when it starts inside the DLT assessment window and either

- its preferred term is one of ``always_terms`` (e.g. uterine perforation, anaphylaxis,
  teratoma), whatever its grade or causality, or
- its CTCAE grade is at least ``min_grade`` and, when ``require_related``, its causality is one
  of the study's related categories (a blank causality counts as related: the ingest's
  conservative convention, and the rule text says so);

and its term is not in ``excluded_terms`` (expected effects of the procedure). Lab criteria
(``[[dlt.lab_criteria]]``: a CTCAE term and a minimum grade) add lab-based candidates: per
subject and term, the first qualifying draw after the first dose inside the window, graded by
the store's CTCAE v5.0 grades (table ``lab_graded``); pre-dose baseline draws never count.
Each candidate carries the rule that made it (``dlt_rule``), with the numbers that decided it.

The window, in SDTM study days (SDTMIG 3.x --DY: the first dose day is day 1, no day 0): days
1 .. ``window_days``, i.e. first dose date <= onset date <= first dose date + window_days - 1.
At its start, time matters: when both the onset and the first dose (DM.RFXSTDTC) carry a time,
the onset must be at or after the dose (an AE at 07:00 before a 09:30 first dose began before
treatment); when either has only a date, the same day counts as on treatment (conservative).
Partial onset dates are imputed by the ingest (the earliest possible day that does not precede
the first dose). The same rule decides which labs are post-dose.

Adjudication (``monitor.adjudication``: confirm / reject / add, with a reason) overrides the
derived status; the latest adjudication of an event wins, whenever it was recorded (the review
of the data of a cut-off is part of that cut-off's cleaned data); ``known_by`` limits them to
those recorded up to a moment, to show the decisions as they were known then. A DLT added by
hand counts from its onset date. Counts and decisions use candidates, confirmed and added DLTs
(:data:`COUNTED_STATUSES`), never rejected ones.

Evaluable for DLT (a typical phase 1 protocol: "patients who discontinue before completing the
DLT period for reasons other than a DLT are not evaluable and will be replaced"). Per subject
at a cut-off (``dlt_state``, with ``state_reason`` in words):

- ``not treated``: no first dose by the cut-off;
- ``DLT``: a counted DLT by the cut-off (whatever happened after it);
- ``not evaluable``: left the study before the last day of the window without a DLT (the
  earliest of a DS disposition event, DM.RFPENDTC and DM.DTHDTC: withdrawal, loss to
  follow-up, death), from the day she left and at every later cut-off; or, when the protocol
  sets ``min_exposure``, her window ended with less than that share of the planned dose
  received inside it (EX: EXDOSE per administration, EXDOSFRQ QD/BID/TID/QID records count
  once per day they cover in the window, every other record once);
- ``evaluable``: the cut-off reached the last day of the window without a DLT;
- ``pending``: inside the window, no DLT yet (``days_left``: days after the cut-off until the
  window's last day).

How it is computed: the parameters of every study are columns of its row of table
``rule_parameters`` (:func:`rule_parameters`, written when the study is recorded); :data:`MACROS`
are DuckDB table macros that every connection of ``safety.store`` has:

- ``dlt_event(study_id, cutoff, known_by := NULL, in_subject := NULL)``: one row per DLT
  candidate or adjudicated DLT known at the cut-off;
- ``dose_cohort_ae(study_id, cutoff)``: the AEs of dosed dose-cohort subjects, with
  ``on_treatment`` by the rule above (also the hard-stop rule's events);
- ``ae_dlt_verdict(study_id, cutoff)``: every AE of a dosed subject of a dose cohort, with the
  rule's verdict (``is_candidate``, ``dlt_rule``, or ``not_dlt_reason``: why it is not one,
  e.g. "grade 2 < 3");
- ``subject_dlt_state(study_id, cutoff, known_by := NULL, in_subject := NULL)``: one row per
  subject of the study with her DLT-window state and why.

``in_subject`` (a USUBJID) puts the patient predicate inside the rule: every macro below it
reads that subject's rows only, so a patient profile's question costs one patient's rows, not
the whole study's DLT logic filtered afterwards.

Every question about DLTs (status, the patient profile, alerts, the AE tables, the reports and
the pages) selects from these two macros, so all of them count the same events.

References
----------
SDTMIG 3.x (study day --DY; RFXSTDTC, RFPENDTC, DTHDTC; DS disposition events).
ICH E9 (1998) 5.2 / ICH E2A (1994): treatment-emergent from the first dose.
Storer B.E. (1989); Liu S. and Yuan Y. (2015): decisions on patients evaluable for DLT.
"""

from __future__ import annotations

from safety.config import DltDefinition
from safety.ctcae.labmap import lbtestcd_for_term

COUNTED_STATUSES = ("candidate", "confirmed", "added")  # a rejected candidate does not count
DLT_STATES = ("not treated", "pending", "evaluable", "DLT", "not evaluable")


def rule_parameters(dlt: DltDefinition | None) -> dict:
    """A study's DLT definition as columns of table ``rule_parameters`` (terms lower-cased, lab
    criteria as parallel lists, with the LBTESTCDs that the lab criteria's CTCAE terms grade).
    Without a DLT definition (safety monitoring only) ``window_days`` is NULL: the rule applies
    to nobody, so no study has DLT candidates or DLT states it did not declare."""
    if dlt is None:
        return {"window_days": None, "min_grade": None, "require_related": None,
                "always_terms": [], "excluded_terms": [], "lab_terms": [], "lab_min_grades": [],
                "lab_test_codes": [], "min_exposure": None, "planned_administrations": 1}
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
        "min_exposure": dlt.min_exposure,
        "planned_administrations": int(dlt.planned_administrations),
    }


MACROS = """
CREATE OR REPLACE TEMP MACRO dlt_subject(in_study, in_subject := NULL) AS TABLE
-- The subjects of the dose cohorts, with their first dose and the last day of their window
-- (``in_subject``: that subject only, so a patient's question reads her rows alone).
SELECT s.study_id, s.usubjid, s.cohort_id, s.first_dose_date, s.first_dose_at,
       s.first_dose_date + r.window_days - 1 AS window_end
FROM current_subject s
JOIN cohort c ON c.study_id = s.study_id AND c.cohort_id = s.cohort_id
CROSS JOIN (SELECT window_days FROM rule_parameters WHERE study_id = in_study) r
WHERE s.study_id = in_study AND NOT c.is_control AND s.first_dose_date IS NOT NULL
  AND r.window_days IS NOT NULL  -- no DLT definition: nobody
  AND (in_subject IS NULL OR s.usubjid = in_subject);

CREATE OR REPLACE TEMP MACRO dose_cohort_ae(in_study, at_cutoff, in_subject := NULL) AS TABLE
-- The AEs of dosed subjects of the dose cohorts started by the cut-off, with whether each began
-- on treatment (date-times when both sides have one, else dates) and its study day.
SELECT ae.study_id, ae.usubjid, s.cohort_id, ae.seq, ae.pt, ae.start_date, ae.start_at,
       s.first_dose_at, s.window_end, ae.grade, ae.causality, ae.related,
       date_diff('day', s.first_dose_date, ae.start_date)
         + CASE WHEN ae.start_date >= s.first_dose_date THEN 1 ELSE 0 END AS onset_day,
       CASE WHEN ae.start_at IS NOT NULL AND s.first_dose_at IS NOT NULL
            THEN ae.start_at >= s.first_dose_at
            ELSE ae.start_date >= s.first_dose_date END AS on_treatment,
       ae.start_at IS NOT NULL AND s.first_dose_at IS NOT NULL AS timed
FROM current_adverse_event ae
JOIN dlt_subject(in_study, in_subject := in_subject) s USING (study_id, usubjid)
WHERE ae.study_id = in_study AND ae.start_date <= at_cutoff
  AND (in_subject IS NULL OR ae.usubjid = in_subject);

CREATE OR REPLACE TEMP MACRO dlt_rule_text(always, pt, grade, min_grade, require_related,
                                          causality, onset_day, window_days) AS
-- The rule that made an AE a DLT candidate, in words, with its numbers.
    CASE
      WHEN always THEN 'always-DLT term (' || pt || ')'
      ELSE 'grade ' || grade || ' >= ' || min_grade
           || CASE WHEN NOT require_related THEN ''
                   WHEN causality IS NULL THEN ', related (causality missing, counted as related)'
                   ELSE ', related (' || causality || ')' END
    END || ', onset on study day ' || onset_day || ' of ' || window_days;

CREATE OR REPLACE TEMP MACRO ae_dlt_check(in_study, at_cutoff, in_subject := NULL) AS TABLE
-- Every AE of a dosed subject of a dose cohort known at the cut-off, with the DLT rule's tests.
WITH rule AS (SELECT * FROM rule_parameters WHERE study_id = in_study),
checked AS (
    SELECT ae.* EXCLUDE (window_end),
           r.window_days, r.min_grade, r.require_related,
           ae.start_date <= ae.window_end AS before_window_end,
           list_contains(r.excluded_terms, lower(ae.pt)) AS excluded,
           list_contains(r.always_terms, lower(ae.pt)) AS always,
           coalesce(ae.grade >= r.min_grade, false) AS grade_ok,
           ae.related OR NOT r.require_related AS related_ok
    FROM dose_cohort_ae(in_study, at_cutoff, in_subject := in_subject) ae
    CROSS JOIN rule r
)
SELECT *,
       on_treatment AND before_window_end AND NOT excluded
         AND (always OR (grade_ok AND related_ok)) AS is_candidate
FROM checked;

CREATE OR REPLACE TEMP MACRO ae_dlt_verdict(in_study, at_cutoff) AS TABLE
-- The same AEs with the verdict in words: the rule that made a candidate, or why not.
SELECT *,
       dlt_rule_text(always, pt, grade, min_grade, require_related, causality, onset_day,
                     window_days) AS dlt_rule,
       CASE
         WHEN is_candidate THEN NULL
         WHEN NOT on_treatment AND timed AND onset_day = 1
           THEN 'began at ' || strftime(start_at, '%H:%M') || ', before the first dose at '
                || strftime(first_dose_at, '%H:%M') || ' on study day 1'
         WHEN NOT on_treatment THEN 'began before the first dose (study day ' || onset_day || ')'
         WHEN NOT before_window_end THEN 'began on study day ' || onset_day
                || ', after the ' || window_days || '-day window'
         WHEN excluded THEN pt || ' is an excluded term'
         WHEN grade IS NULL THEN 'no grade recorded'
         WHEN NOT grade_ok THEN 'grade ' || grade || ' < ' || min_grade
         WHEN NOT related_ok THEN 'not related (' || causality || ')'
       END AS not_dlt_reason
FROM ae_dlt_check(in_study, at_cutoff);

CREATE OR REPLACE TEMP MACRO dlt_candidate(in_study, at_cutoff, in_subject := NULL) AS TABLE
-- DLT candidates by the rule, before adjudication: AE-based and lab-based.
WITH rule AS (SELECT * FROM rule_parameters WHERE study_id = in_study),
dlt_ae AS (
    SELECT study_id, usubjid, seq, pt, start_date, onset_day, grade,
           dlt_rule_text(always, pt, grade, min_grade, require_related, causality, onset_day,
                         window_days) AS dlt_rule
    FROM ae_dlt_check(in_study, at_cutoff, in_subject := in_subject) WHERE is_candidate
),
-- Lab-based candidates: one per subject and term, the first qualifying post-dose draw.
dlt_lab AS (
    SELECT g.study_id, g.usubjid, g.seq, g.x.term AS term, g.onset_date, g.onset_day,
           g.x.grade AS grade,
           g.x.term || ' grade ' || g.x.grade || ' (CTCAE v5.0) on study day ' || g.onset_day
             || ': ' || g.test_code || ' ' || CAST(round(g.value, 4) AS VARCHAR)
             || coalesce(' ' || g.unit, '')
             || coalesce(' (ULN ' || CAST(g.uln AS VARCHAR) || ')', '')
             || coalesce(', ' || CAST(round(g.x_uln, 4) AS VARCHAR) || ' x ULN', '')
             || CASE WHEN g.baseline_range_flag IN ('HIGH', 'LOW') AND g.baseline <> 0
                     THEN ', ' || CAST(round(g.value / g.baseline, 4) AS VARCHAR)
                          || ' x baseline (abnormal baseline ' || CAST(g.baseline AS VARCHAR)
                          || ')'
                     ELSE '' END
             || '; protocol: grade >= '
             || r.lab_min_grades[list_position(r.lab_terms, lower(g.x.term))] AS dlt_rule
    FROM (SELECT l.study_id, l.usubjid, l.seq, l.test_code, l.value, l.unit, l.uln, l.x_uln,
                 l.baseline, l.baseline_range_flag,
                 l.collected_date AS onset_date,
                 date_diff('day', s.first_dose_date, l.collected_date) + 1 AS onset_day,
                 unnest([{'term': term_low, 'grade': grade_low},
                         {'term': term_high, 'grade': grade_high}]) AS x
          FROM lab_graded l
          JOIN dlt_subject(in_study, in_subject := in_subject) s USING (study_id, usubjid)
          WHERE l.study_id = in_study
            AND (in_subject IS NULL OR l.usubjid = in_subject)
            AND l.collected_date <= at_cutoff
            AND CASE WHEN l.collected_at IS NOT NULL AND s.first_dose_at IS NOT NULL
                     THEN l.collected_at >= s.first_dose_at
                     ELSE l.collected_date >= s.first_dose_date END
            AND l.collected_date <= s.window_end
            AND NOT l.baseline_flag
            AND list_contains((SELECT lab_test_codes FROM rule), upper(trim(l.test_code)))) g
    CROSS JOIN rule r
    WHERE list_contains(r.lab_terms, lower(g.x.term))
      AND g.x.grade >= r.lab_min_grades[list_position(r.lab_terms, lower(g.x.term))]
    QUALIFY row_number() OVER (PARTITION BY g.usubjid, lower(g.x.term)
                               ORDER BY g.onset_date, g.seq) = 1
)
SELECT study_id, usubjid, 'adverse_event' AS source, seq AS source_seq, pt AS term,
       start_date AS onset_date, onset_day, grade, dlt_rule
FROM dlt_ae
UNION ALL
SELECT study_id, usubjid, 'lab', seq, term, onset_date, onset_day, grade, dlt_rule FROM dlt_lab;

CREATE OR REPLACE TEMP MACRO latest_adjudication(in_study, days, known_by, by_day,
                                                 in_subject := NULL) AS TABLE
-- Per cut-off of ``days``: the latest adjudication of each event recorded by ``known_by`` (and,
-- with ``by_day``, by the end of that cut-off day: the decisions as they could be taken then).
SELECT d.cutoff, a.*
FROM (SELECT unnest(days) AS cutoff) d
JOIN dlt_adjudication a
  ON a.study_id = in_study
 AND (in_subject IS NULL OR a.usubjid = in_subject)
 AND a.decided_at <= least(coalesce(CAST(known_by AS TIMESTAMP), TIMESTAMP 'infinity'),
                           CASE WHEN by_day THEN CAST(d.cutoff + 1 AS TIMESTAMP)
                                ELSE TIMESTAMP 'infinity' END)
QUALIFY row_number() OVER (PARTITION BY d.cutoff, a.usubjid, a.source,
                                        coalesce(a.source_seq, -a.adjudication_id)
                           ORDER BY a.decided_at DESC, a.adjudication_id DESC) = 1;

CREATE OR REPLACE TEMP MACRO dlt_event(in_study, at_cutoff, known_by := NULL,
                                       in_subject := NULL) AS TABLE
SELECT d.study_id, d.usubjid, d.source, d.source_seq, d.term, d.onset_date, d.onset_day,
       d.grade, d.dlt_rule, coalesce(a.decision, 'candidate') AS dlt_status,
       a.reason AS adjudication_reason, a.decided_by, a.decided_at, a.signature_id
FROM dlt_candidate(in_study, at_cutoff, in_subject := in_subject) d
LEFT JOIN latest_adjudication(in_study, [at_cutoff], known_by, false, in_subject := in_subject) a
  ON a.usubjid = d.usubjid AND a.source = d.source AND a.source_seq = d.source_seq
UNION ALL
SELECT a.study_id, a.usubjid, a.source, a.source_seq, a.description, a.onset_date,
       date_diff('day', s.first_dose_date, a.onset_date) + 1,
       NULL, 'added by adjudication: ' || a.reason,
       a.decision, a.reason, a.decided_by, a.decided_at, a.signature_id
FROM latest_adjudication(in_study, [at_cutoff], known_by, false, in_subject := in_subject) a
JOIN dlt_subject(in_study, in_subject := in_subject) s USING (study_id, usubjid)
WHERE a.source = 'manual' AND a.onset_date <= at_cutoff;

CREATE OR REPLACE TEMP MACRO counted_dlt(in_study, days, known_by, by_day,
                                         in_subject := NULL) AS TABLE
-- Per cut-off of ``days``: the DLTs that count (candidates, confirmed and added; not rejected).
-- Candidates are the same at every cut-off once their onset has passed (the data are as
-- delivered), so they are found once, at the last cut-off.
WITH d AS (SELECT unnest(days) AS cutoff),
adj AS (SELECT * FROM latest_adjudication(in_study, days, known_by, by_day,
                                           in_subject := in_subject))
SELECT d.cutoff, c.usubjid, c.onset_date
FROM dlt_candidate(in_study, (SELECT max(cutoff) FROM d), in_subject := in_subject) c
JOIN d ON c.onset_date <= d.cutoff
LEFT JOIN adj a ON a.cutoff = d.cutoff AND a.usubjid = c.usubjid AND a.source = c.source
               AND a.source_seq = c.source_seq
WHERE coalesce(a.decision, 'candidate') IN ('candidate', 'confirmed', 'added')
UNION ALL
SELECT a.cutoff, a.usubjid, a.onset_date
FROM adj a JOIN dlt_subject(in_study, in_subject := in_subject) s USING (study_id, usubjid)
WHERE a.source = 'manual' AND a.onset_date <= a.cutoff AND a.decision = 'added';

CREATE OR REPLACE TEMP MACRO subject_departure(in_study, in_subject := NULL) AS TABLE
-- When and why each dosed subject left the study: the earliest of her DS disposition events
-- (a partial DSSTDTC at its earliest possible day, never before the first dose), DM.RFPENDTC
-- and DM.DTHDTC. COMPLETED is not leaving: SDTM records one disposition event per epoch, and
-- completing the treatment epoch (a single injection on day 1) is not discontinuing.
WITH ds AS (
    SELECT usubjid,
           min(greatest(coalesce(d.start_date,
                                 TRY_CAST(left(d.start_dtc, 7) || '-01' AS DATE),
                                 TRY_CAST(left(d.start_dtc, 4) || '-01-01' AS DATE)),
                        s.first_dose_date)) AS ds_date,
           arg_min(d.decod, coalesce(d.start_date, DATE '9999-12-31')) AS ds_decod
    FROM current_disposition d
    JOIN current_subject s USING (study_id, usubjid)
    WHERE d.study_id = in_study AND s.first_dose_date IS NOT NULL
      AND (in_subject IS NULL OR d.usubjid = in_subject)
      AND coalesce(upper(d.category), 'DISPOSITION EVENT') = 'DISPOSITION EVENT'
      AND coalesce(upper(d.decod), '') <> 'COMPLETED'
    GROUP BY usubjid
)
SELECT s.usubjid,
       least(ds.ds_date, s.end_of_study_date, s.death_date) AS departure_date,
       CASE WHEN s.death_date IS NOT NULL
                 AND s.death_date <= least(ds.ds_date, s.end_of_study_date, s.death_date)
              THEN 'died'
            WHEN ds.ds_date IS NOT NULL
                 AND ds.ds_date <= least(ds.ds_date, s.end_of_study_date, s.death_date)
              THEN lower(ds.ds_decod)
            ELSE 'end of participation (DM.RFPENDTC)' END AS departure_reason
FROM current_subject s LEFT JOIN ds USING (usubjid)
WHERE s.study_id = in_study AND s.first_dose_date IS NOT NULL
  AND (in_subject IS NULL OR s.usubjid = in_subject);

CREATE OR REPLACE TEMP MACRO subject_exposure(in_study, in_subject := NULL) AS TABLE
-- Dose received inside the DLT window (days 1 .. window_days) per subject of a dose cohort,
-- against the planned dose (the cohort's dose x planned_administrations).
SELECT s.usubjid,
       sum(coalesce(e.dose, 0)
           * CASE upper(e.frequency)
               WHEN 'QD' THEN 1 WHEN 'BID' THEN 2 WHEN 'TID' THEN 3 WHEN 'QID' THEN 4
               ELSE 0 END
           * (date_diff('day', e.start_date,
                        least(coalesce(e.end_date, e.start_date), s.window_end)) + 1)
           + CASE WHEN upper(e.frequency) IN ('QD', 'BID', 'TID', 'QID') THEN 0
                  ELSE coalesce(e.dose, 0) END) AS received,
       any_value(c.dose) * any_value(r.planned_administrations) AS planned
FROM dlt_subject(in_study, in_subject := in_subject) s
JOIN cohort c ON c.study_id = s.study_id AND c.cohort_id = s.cohort_id
CROSS JOIN (SELECT planned_administrations FROM rule_parameters WHERE study_id = in_study) r
LEFT JOIN current_exposure e
  ON e.study_id = s.study_id AND e.usubjid = s.usubjid
 AND e.start_date >= s.first_dose_date AND e.start_date <= s.window_end
GROUP BY s.usubjid;

CREATE OR REPLACE TEMP MACRO subject_dlt_state_days(in_study, days, known_by := NULL,
                                                   by_day := false, in_subject := NULL) AS TABLE
-- Every subject's state at each cut-off of ``days`` (one query for the decision history;
-- ``in_subject``: one subject's, the rule run on her rows alone).
WITH rule AS (SELECT * FROM rule_parameters WHERE study_id = in_study),
subj AS (
    SELECT d.cutoff AS at_cutoff, s.study_id, s.usubjid, s.cohort_id, s.age, s.sex, s.status,
           s.first_dose_date,
           s.end_of_study_date,
           s.first_dose_date IS NOT NULL AND s.first_dose_date <= at_cutoff AS treated,
           s.first_dose_date + r.window_days - 1 AS window_end,
           r.window_days, r.min_exposure,
           coalesce(n.dlts, 0) AS dlts, n.first_dlt_date,
           CASE WHEN dep.departure_date <= at_cutoff
                 AND dep.departure_date < s.first_dose_date + r.window_days - 1
                THEN dep.departure_date END AS left_on,
           dep.departure_reason,
           CASE WHEN x.planned > 0 THEN x.received / x.planned END AS received_fraction,
           coalesce(c.is_control, false) AS is_control
    FROM current_subject s
    CROSS JOIN (SELECT unnest(days) AS cutoff) d
    LEFT JOIN cohort c ON c.study_id = s.study_id AND c.cohort_id = s.cohort_id
    CROSS JOIN rule r
    LEFT JOIN (SELECT cutoff, usubjid, count(*) AS dlts, min(onset_date) AS first_dlt_date
               FROM counted_dlt(in_study, days, known_by, by_day, in_subject := in_subject)
               GROUP BY ALL) n ON n.cutoff = d.cutoff AND n.usubjid = s.usubjid
    LEFT JOIN subject_departure(in_study, in_subject := in_subject) dep
           ON dep.usubjid = s.usubjid
    LEFT JOIN subject_exposure(in_study, in_subject := in_subject) x ON x.usubjid = s.usubjid
    WHERE s.study_id = in_study AND (in_subject IS NULL OR s.usubjid = in_subject)
      AND r.window_days IS NOT NULL  -- no DLT definition: no states
),
stated AS (
    SELECT *,
           CASE
             WHEN NOT treated THEN 'not treated'
             WHEN dlts > 0 THEN 'DLT'
             WHEN left_on IS NOT NULL THEN 'not evaluable'
             WHEN window_end <= at_cutoff AND min_exposure IS NOT NULL AND NOT is_control
                  AND coalesce(received_fraction, 0) < min_exposure - 1e-9 THEN 'not evaluable'
             WHEN window_end <= at_cutoff THEN 'evaluable'
             ELSE 'pending'
           END AS dlt_state
    FROM subj
)
SELECT at_cutoff AS cutoff, study_id, usubjid, cohort_id, age, sex, status, first_dose_date,
       end_of_study_date, treated, window_end, dlts, dlt_state,
       CASE WHEN treated
            THEN greatest(date_diff('day', at_cutoff, window_end), 0) END AS days_left,
       left_on, received_fraction,
       CASE dlt_state
         WHEN 'not treated' THEN 'not dosed by the cut-off'
         WHEN 'DLT' THEN dlts || ' DLT' || CASE WHEN dlts = 1 THEN '' ELSE 's' END
              || ' in the ' || window_days || '-day window, the first on study day '
              || (date_diff('day', first_dose_date, first_dlt_date) + 1)
         WHEN 'not evaluable' THEN
           CASE WHEN left_on IS NOT NULL
                THEN 'left the study on ' || strftime(left_on, '%Y-%m-%d') || ' (study day '
                     || (date_diff('day', first_dose_date, left_on) + 1) || ', '
                     || departure_reason || ') without a DLT, before the last day of her '
                     || 'window (' || strftime(window_end, '%Y-%m-%d') || ')'
                ELSE 'received ' || CAST(round(100 * coalesce(received_fraction, 0), 1) AS VARCHAR)
                     || '% of the planned dose in the window; the protocol requires at least '
                     || CAST(round(100 * min_exposure, 1) AS VARCHAR) || '%'
           END
         WHEN 'evaluable' THEN 'completed the ' || window_days || '-day window on '
              || strftime(window_end, '%Y-%m-%d') || ' without a DLT'
              || CASE WHEN min_exposure IS NOT NULL AND NOT is_control
                      THEN ', received ' || CAST(round(100 * received_fraction, 1) AS VARCHAR)
                           || '% of the planned dose'
                      ELSE '' END
         ELSE 'inside the window: study day ' || (date_diff('day', first_dose_date, at_cutoff) + 1)
              || ' of ' || window_days || ', the window ends on ' || strftime(window_end, '%Y-%m-%d')
       END AS state_reason
FROM stated;

CREATE OR REPLACE TEMP MACRO subject_dlt_state(in_study, at_cutoff, known_by := NULL,
                                               in_subject := NULL) AS TABLE
SELECT * EXCLUDE (cutoff)
FROM subject_dlt_state_days(in_study, [at_cutoff], known_by := known_by,
                            in_subject := in_subject);
"""
