"""Adverse-event tables, all read from the TEAE rule's table macro ``ae_teae`` (the rule is in
:mod:`safety.clinical.teae`) over the safety analysis set (``safety_population``).

Population: subjects of a cohort dosed on or before the cut-off; an AE counts at the cut-off
when its start date (imputed when partial, see the ingest) is on or before the cut-off, or is
unknown. Filters are parameters (``clinical.teae.AeFilter.params``: $ae_min_grade, $ae_serious,
$ae_related, $ae_dlt_window_only; NULL = no filter); the summary's categories are fixed SQL fragments
(``clinical.teae.AE_CATEGORIES``), looked up by key, never pasted from input.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from safety.clinical.teae import AE_CATEGORIES, NO_FILTER, AeFilter


def ae_counts_by_month(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date) -> pd.DataFrame:
    """TEAEs of the safety analysis set by onset month and cohort.

    Columns: month (first day), cohort_id, cohort_label, aes, grade3plus, serious, subjects
    (the subjects with those AEs, ``;``-joined, for the click-through).
    """
    return con.execute(
        """
        SELECT date_trunc('month', start_date) AS month, cohort_id, cohort_label,
               count(*) AS aes,
               count(*) FILTER (WHERE grade >= 3) AS grade3plus,
               count(*) FILTER (WHERE serious) AS serious,
               string_agg(DISTINCT usubjid, ';' ORDER BY usubjid) AS subjects
        FROM ae_emergence($study_id, $cutoff)
        WHERE teae AND start_date IS NOT NULL
        GROUP BY ALL
        ORDER BY month, cohort_label
        """,
        {"study_id": study_id, "cutoff": cutoff},
    ).df()


def hard_stop_events(
    con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date, terms: list[str]
) -> pd.DataFrame:
    """AEs of the dose cohorts on treatment (``dose_cohort_ae``, the DLT rule's time rule) whose
    preferred term is a hard-stop term (case-insensitive), at the cut-off. The control arm's
    events do not stop the escalation: decisions depend on the dose cohorts only.

    Columns: usubjid, seq, pt, grade, start_date.
    """
    if not terms:  # no hard-stop rule: nothing to look up (the decision history asks daily)
        return pd.DataFrame({"usubjid": [], "seq": [], "pt": [], "grade": [], "start_date": []})
    return con.execute(
        """
        SELECT usubjid, seq, pt, grade, start_date FROM dose_cohort_ae($study_id, $cutoff)
        WHERE on_treatment AND list_contains($terms, lower(pt))
        ORDER BY start_date, usubjid
        """,
        {"study_id": study_id, "cutoff": cutoff, "terms": [t.lower() for t in terms]},
    ).df()


def deaths(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date) -> pd.DataFrame:
    """Deaths in the safety analysis set by the cut-off, one row per subject who died.

    A subject died by the cut-off when her death date (DM.DTHDTC, else the date of a DS DEATH
    disposition event) is on or before it, or, without a death date, when a fatal AE (AEOUT
    FATAL, AESDTH Y or grade 5) ended (or, without an end, started) on or before it.

    Columns: usubjid, cohort_id, cohort_label, is_control, dose_level, first_dose_date,
    death_date (NULL when only a fatal AE says so), study_day (of the death, SDTM --DY),
    fatal_events (the fatal AEs' preferred terms, "; "), related (a fatal AE counted as
    related), teae (a fatal AE is treatment-emergent), serious (a fatal AE is serious),
    fatal_seqs (AESEQ list).
    """
    return con.execute(
        """
        WITH p AS (SELECT * FROM safety_population($study_id, $cutoff)),
        ds AS (
            SELECT usubjid, min(start_date) AS ds_death FROM current_disposition
            WHERE study_id = $study_id AND decod = 'DEATH' GROUP BY usubjid
        ),
        fatal AS (
            SELECT usubjid, string_agg(pt, '; ' ORDER BY start_date, seq) AS fatal_events,
                   list(seq ORDER BY start_date, seq) AS fatal_seqs,
                   bool_or(related) AS related, bool_or(teae) AS teae,
                   bool_or(serious) AS serious,
                   min(coalesce(end_date, start_date)) AS fatal_date
            FROM ae_emergence($study_id, $cutoff) WHERE fatal GROUP BY usubjid
        ),
        died AS (
            SELECT p.*, coalesce(p.death_date, ds.ds_death) AS known_death,
                   f.fatal_events, f.fatal_seqs, f.related, f.teae, f.serious, f.fatal_date
            FROM p LEFT JOIN ds USING (usubjid) LEFT JOIN fatal f USING (usubjid)
        )
        SELECT usubjid, cohort_id, cohort_label, is_control, dose_level, first_dose_date,
               known_death AS death_date,
               date_diff('day', first_dose_date, coalesce(known_death, fatal_date))
                 + CASE WHEN coalesce(known_death, fatal_date) >= first_dose_date
                        THEN 1 ELSE 0 END AS study_day,
               fatal_events, coalesce(related, false) AS related,
               coalesce(teae, false) AS teae, coalesce(serious, false) AS serious, fatal_seqs
        FROM died
        WHERE coalesce(known_death, fatal_date) <= $cutoff
        ORDER BY is_control DESC, dose_level, coalesce(known_death, fatal_date), usubjid
        """,
        {"study_id": study_id, "cutoff": cutoff},
    ).df()


def ae_data_quality(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date) -> pd.DataFrame:
    """Adverse-event records that contradict themselves, kept as delivered and listed here
    (the product counts them by the conservative reading, e.g. serious when a criterion is Y).

    Findings: AESER N (or blank) although a seriousness criterion is Y; AESER Y without any
    criterion Y (when criteria were delivered); a fatal outcome (AEOUT FATAL or AESDTH Y) with
    AETOXGR below 5; AETOXGR 5 without a fatal outcome; AESDTH Y without AEOUT FATAL, or AEOUT
    FATAL without AESDTH Y (when criteria were delivered).

    Columns: usubjid, cohort_label, seq, pt, start_date, finding, counted_as.
    """
    return con.execute(
        """
        WITH ae AS (
            SELECT a.*, c.label AS cohort_label,
                   coalesce(contains(a.serious_criteria, 'AESDTH'), false) AS sdth,
                   upper(a.outcome) = 'FATAL' AS out_fatal
            FROM current_adverse_event a
            JOIN current_subject s USING (study_id, usubjid)
            LEFT JOIN cohort c ON c.study_id = s.study_id AND c.cohort_id = s.cohort_id
            WHERE a.study_id = $study_id AND (a.start_date IS NULL OR a.start_date <= $cutoff)
        ),
        found AS (
            SELECT usubjid, cohort_label, seq, pt, start_date,
                   'AESER ' || coalesce(serious_raw, 'blank') || ' but ' || serious_criteria
                     || ' is Y' AS finding, 'serious' AS counted_as
            FROM ae WHERE coalesce(serious_raw, '') <> 'Y' AND serious_criteria <> ''
            UNION ALL
            SELECT usubjid, cohort_label, seq, pt, start_date,
                   'AESER Y but no seriousness criterion is Y', 'serious'
            FROM ae WHERE serious_raw = 'Y' AND serious_criteria = ''
            UNION ALL
            SELECT usubjid, cohort_label, seq, pt, start_date,
                   'fatal (' || CASE WHEN out_fatal THEN 'AEOUT FATAL' ELSE 'AESDTH Y' END
                     || ') but AETOXGR ' || grade, 'grade ' || grade || ' as delivered, fatal'
            FROM ae WHERE (out_fatal OR sdth) AND NOT grade_derived AND grade < 5
            UNION ALL
            SELECT usubjid, cohort_label, seq, pt, start_date,
                   'AETOXGR 5 but AEOUT ' || coalesce(outcome, 'blank'), 'grade 5, fatal'
            FROM ae WHERE grade = 5 AND NOT grade_derived AND NOT coalesce(out_fatal, false)
            UNION ALL
            SELECT usubjid, cohort_label, seq, pt, start_date,
                   'AESDTH Y but AEOUT ' || coalesce(outcome, 'blank'), 'fatal'
            FROM ae WHERE sdth AND NOT coalesce(out_fatal, false)
            UNION ALL
            SELECT usubjid, cohort_label, seq, pt, start_date,
                   'AEOUT FATAL but AESDTH is not Y', 'fatal'
            FROM ae WHERE out_fatal AND NOT sdth AND serious_criteria IS NOT NULL
        )
        SELECT * FROM found ORDER BY usubjid, seq, finding
        """,
        {"study_id": study_id, "cutoff": cutoff},
    ).df()


_LISTING_COLUMNS = """usubjid, cohort_id, cohort_label, is_control, seq, verbatim, pt, soc,
       start_dtc, start_date, start_imputed, end_date, study_day, grade, serious,
       related, causality, outcome, action_taken, is_dlt, fatal, leads_to_discontinuation,
       teae, teae_basis"""


# The TEAEs a table counts: the rule's rows (macro ae_teae), narrowed by the table's filters;
# ``pop``: the safety analysis set within the sidebar's population (its N).
_IN_POPULATION = "($ae_subjects IS NULL OR list_contains($ae_subjects::VARCHAR[], usubjid))"
_TEAE = f"""
pop AS (SELECT * FROM safety_population($study_id, $cutoff) WHERE {_IN_POPULATION}),
ae_flagged AS (SELECT * FROM ae_teae($study_id, $cutoff) WHERE {_IN_POPULATION}),
teae AS (
    SELECT * FROM ae_flagged
    WHERE teae
      AND ($ae_min_grade IS NULL OR grade >= $ae_min_grade)
      AND ($ae_serious IS NULL OR serious = $ae_serious)
      AND ($ae_related IS NULL OR related = $ae_related)
      AND (NOT $ae_dlt_window_only
           OR study_day <= (SELECT window_days FROM rule_parameters WHERE study_id = $study_id))
)"""


def _ae_params(study_id: str, cutoff: date, filters: AeFilter = NO_FILTER) -> dict:
    return {"study_id": study_id, "cutoff": cutoff, **filters.params()}


def ae_teae_flags(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
) -> pd.DataFrame:
    """Every AE of the dosed subjects at the cut-off with its treatment-emergence flag.

    Columns: the listing columns (usubjid, cohort_id, cohort_label, is_control, seq, verbatim,
    pt, soc, start_dtc, start_date, start_imputed, end_date, study_day, grade,
    serious, related, causality, outcome, action_taken, is_dlt, fatal,
    leads_to_discontinuation, teae, teae_basis) plus first_dose_date, onset_precision
    (day | month | year | NULL), onset_earliest, onset_latest.
    """
    return con.execute(
        f"WITH {_TEAE} "
        f"SELECT {_LISTING_COLUMNS}, first_dose_date, onset_precision, onset_earliest, "
        "onset_latest FROM ae_flagged ORDER BY usubjid, seq",
        _ae_params(study_id, cutoff),
    ).df()


def ae_summary_counts(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    emergent_only: bool = True,
    subjects: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Subjects and events per cohort in each AE_CATEGORIES row (TEAEs; all AEs if not
    emergent_only), of the population's ``subjects`` (None: everyone).

    Columns: cohort_id, cohort_label, is_control, dose_level, subjects (N dosed at the
    cut-off), then for each category key k: n_k (subjects with >= 1 such event) and events_k.
    One row per cohort of the study, control first, then by dose level.
    """
    source = "teae" if emergent_only else "ae_flagged"  # one of two fixed CTE names
    counts = ",\n".join(
        f"count(DISTINCT e.usubjid) FILTER (WHERE {cond}) AS n_{key}, "
        f"count(e.usubjid) FILTER (WHERE {cond}) AS events_{key}"
        for key, (_, cond) in AE_CATEGORIES.items()
    )
    return con.execute(
        f"""
        WITH {_TEAE},
        n AS (SELECT cohort_id, count(*) AS subjects FROM pop
              GROUP BY cohort_id),
        e AS (SELECT cohort_id, {counts} FROM {source} e GROUP BY cohort_id)
        SELECT c.cohort_id, c.label AS cohort_label, c.is_control, c.dose_level,
               coalesce(n.subjects, 0) AS subjects, e.* EXCLUDE (cohort_id)
        FROM cohort c LEFT JOIN n USING (cohort_id) LEFT JOIN e USING (cohort_id)
        WHERE c.study_id = $study_id
        ORDER BY c.is_control DESC, c.dose_level, c.cohort_id""",
        _ae_params(study_id, cutoff, AeFilter(subjects=subjects)),
    ).df()


def ae_incidence(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    filters: AeFilter = NO_FILTER,
) -> pd.DataFrame:
    """Subjects with a TEAE per cohort: overall, by SOC and by SOC and PT, with worst grades.

    Columns: level ('any' | 'soc' | 'pt'), soc (AEBODSYS; NULL on the 'any' row), pt (AEDECOD;
    NULL on 'any' and 'soc' rows), cohort_id, cohort_label, is_control, dose_level,
    subjects (N dosed), n (subjects with >= 1 matching TEAE), events, worst_grade_1 ..
    worst_grade_5 (subjects by their worst grade among the matching TEAEs), total_n (n summed
    over cohorts). Every term has a row for every cohort (n = 0 when none). Sorted by
    frequency: the 'any' row, then SOCs by total_n, each followed by its PTs by total_n.
    """
    return con.execute(
        f"""
        WITH {_TEAE},
        per_subject AS (
            SELECT soc, pt, cohort_id, usubjid, max(grade) AS worst_grade, count(*) AS events,
                   grouping(soc, pt) AS g
            FROM teae
            GROUP BY GROUPING SETS ((cohort_id, usubjid), (soc, cohort_id, usubjid),
                                    (soc, pt, cohort_id, usubjid))
        ),
        cells AS (
            SELECT CASE g WHEN 3 THEN 'any' WHEN 1 THEN 'soc' ELSE 'pt' END AS level,
                   soc, pt, cohort_id, count(*) AS n, sum(events) AS events,
                   count(*) FILTER (WHERE worst_grade = 1) AS worst_grade_1,
                   count(*) FILTER (WHERE worst_grade = 2) AS worst_grade_2,
                   count(*) FILTER (WHERE worst_grade = 3) AS worst_grade_3,
                   count(*) FILTER (WHERE worst_grade = 4) AS worst_grade_4,
                   count(*) FILTER (WHERE worst_grade = 5) AS worst_grade_5
            FROM per_subject GROUP BY ALL
        ),
        terms AS (SELECT DISTINCT level, soc, pt FROM cells),
        n AS (SELECT cohort_id, count(*) AS subjects FROM pop
              GROUP BY cohort_id),
        cohorts AS (
            SELECT c.cohort_id, c.label AS cohort_label, c.is_control, c.dose_level,
                   coalesce(n.subjects, 0) AS subjects
            FROM cohort c LEFT JOIN n USING (cohort_id) WHERE c.study_id = $study_id
        ),
        grid AS (
            SELECT t.level, t.soc, t.pt, c.*, coalesce(x.n, 0) AS n,
                   coalesce(x.events, 0) AS events,
                   coalesce(x.worst_grade_1, 0) AS worst_grade_1,
                   coalesce(x.worst_grade_2, 0) AS worst_grade_2,
                   coalesce(x.worst_grade_3, 0) AS worst_grade_3,
                   coalesce(x.worst_grade_4, 0) AS worst_grade_4,
                   coalesce(x.worst_grade_5, 0) AS worst_grade_5
            FROM terms t CROSS JOIN cohorts c
            LEFT JOIN cells x ON x.level = t.level AND x.soc IS NOT DISTINCT FROM t.soc
                 AND x.pt IS NOT DISTINCT FROM t.pt AND x.cohort_id = c.cohort_id
        ),
        ranked AS (
            SELECT *, sum(n) OVER (PARTITION BY level, soc, pt) AS total_n FROM grid
        )
        SELECT *, max(total_n) FILTER (WHERE level = 'soc') OVER (PARTITION BY soc) AS soc_total
        FROM ranked
        ORDER BY level <> 'any', soc_total DESC, soc, level <> 'soc', total_n DESC, pt,
                 is_control DESC, dose_level, cohort_id""",
        _ae_params(study_id, cutoff, filters),
    ).df().drop(columns="soc_total")


def ae_listing(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    filters: AeFilter = NO_FILTER,
    *,
    category: str = "any",
    cohort_ids: list[str] | None = None,
    soc: str | None = None,
    pt: str | None = None,
    usubjids: list[str] | None = None,
    grade: int | None = None,
    onset_from_day: int | None = None,
    onset_to_day: int | None = None,
    first_per_subject: bool = False,
) -> pd.DataFrame:
    """The TEAEs behind a cell: filtered as the tables are, then narrowed to the cell.

    ``category`` is a key of AE_CATEGORIES; ``onset_from_day`` / ``onset_to_day`` bound
    the onset's study day (inclusive; SDTM --DY, the first dose day is day 1); ``first_per_subject`` keeps each subject's earliest matching
    TEAE (the event that enters the cumulative incidence). Columns: the listing columns of
    :func:`ae_teae_flags` (without first_dose_date and the onset range). Sorted by cohort,
    subject, onset.
    """
    if category not in AE_CATEGORIES:
        raise ValueError(f"unknown AE category {category!r}; expected one of {list(AE_CATEGORIES)}")
    condition = AE_CATEGORIES[category][1]  # a fixed fragment, looked up by key
    params = _ae_params(study_id, cutoff, filters)
    params.update(
        ae_cohort_ids=None if cohort_ids is None else list(cohort_ids), ae_soc=soc, ae_pt=pt,
        ae_usubjids=None if usubjids is None else list(usubjids),
        ae_grade=None if grade is None else int(grade),
        ae_onset_from=None if onset_from_day is None else int(onset_from_day),
        ae_onset_to=None if onset_to_day is None else int(onset_to_day),
        ae_first_only=bool(first_per_subject),
    )
    return con.execute(
        f"""
        WITH {_TEAE},
        chosen AS (
            SELECT * FROM teae
            WHERE {condition}
              AND ($ae_cohort_ids IS NULL OR list_contains($ae_cohort_ids, cohort_id))
              AND ($ae_soc IS NULL OR soc = $ae_soc)
              AND ($ae_pt IS NULL OR pt = $ae_pt)
              AND ($ae_usubjids IS NULL OR list_contains($ae_usubjids, usubjid))
              AND ($ae_grade IS NULL OR grade = $ae_grade)
              AND ($ae_onset_from IS NULL OR study_day >= $ae_onset_from)
              AND ($ae_onset_to IS NULL OR study_day <= $ae_onset_to)
        )
        SELECT {_LISTING_COLUMNS} FROM chosen
        WHERE NOT $ae_first_only OR (usubjid, seq) IN (
            SELECT (usubjid, arg_min(seq, study_day * 100000 + seq)) FROM chosen
            GROUP BY usubjid)
        ORDER BY is_control DESC, dose_level, usubjid, start_date, seq""",
        params,
    ).df()


def ae_first_onsets(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    filters: AeFilter = NO_FILTER,
) -> pd.DataFrame:
    """Per dosed subject: the study day of the first matching TEAE, and the last day observed.

    Days are SDTM study days (the first dose day is day 1). Columns: usubjid, cohort_id,
    cohort_label, is_control, dose_level, first_dose_date, first_teae_day (study day of the
    earliest matching TEAE; NULL when none), observed_days (study day of the earliest of the
    cut-off, end of study and end of follow-up: the censoring day of a subject without a TEAE).
    """
    return con.execute(
        f"""
        WITH {_TEAE},
        first AS (SELECT usubjid, min(study_day) AS first_teae_day FROM teae GROUP BY usubjid)
        SELECT p.usubjid, p.cohort_id, p.cohort_label, p.is_control, p.dose_level,
               p.first_dose_date, f.first_teae_day,
               greatest(date_diff('day', p.first_dose_date,
                                  least($cutoff, coalesce(p.end_of_study_date, $cutoff),
                                        coalesce(p.first_dose_date + st.follow_up_days, $cutoff))),
                        0) + 1 AS observed_days
        FROM pop p
        CROSS JOIN (SELECT follow_up_days FROM rule_parameters WHERE study_id = $study_id) st
        LEFT JOIN first f USING (usubjid)
        ORDER BY p.is_control DESC, p.dose_level, p.usubjid""",
        _ae_params(study_id, cutoff, filters),
    ).df()


def ae_onset_days(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    filters: AeFilter = NO_FILTER,
) -> pd.DataFrame:
    """Matching TEAEs by cohort, onset study day and grade (onset histogram, heatmap).

    Columns: cohort_id, cohort_label, is_control, dose_level, study_day (SDTM --DY of the
    onset, the first dose day is day 1), grade, events, subjects. TEAEs with an unknown onset
    are left out.
    """
    return con.execute(
        f"""
        WITH {_TEAE}
        SELECT cohort_id, cohort_label, is_control, dose_level, study_day, grade,
               count(*) AS events, count(DISTINCT usubjid) AS subjects
        FROM teae WHERE study_day IS NOT NULL
        GROUP BY ALL
        ORDER BY is_control DESC, dose_level, study_day, grade""",
        _ae_params(study_id, cutoff, filters),
    ).df()

