"""The adverse-event tables of a study at a cut-off, as the Adverse events page and the DSMB
reports show them: a connection and a study configuration in, a frame out. The TEAE rule and
the tables' formatting are in :mod:`safety.clinical.teae`; the SQL in
:mod:`safety.store.queries.adverse_events`.
"""

from __future__ import annotations

import logging
from datetime import date

import duckdb
import pandas as pd

from safety.clinical.teae import AE_CATEGORIES, NO_FILTER, AeFilter
from safety.config import StudyConfig
from safety.store import queries

log = logging.getLogger(__name__)


def derive_teae_flag(
    con: duckdb.DuckDBPyConnection, config: StudyConfig, cutoff: date
) -> pd.DataFrame:
    """Every AE of the dosed subjects at the cut-off, flagged treatment-emergent or not.

    Parameters
    ----------
    con
        A connection to the safety database.
    config
        The study configuration (study id, follow-up weeks, DLT definition).
    cutoff
        The data cut-off: subjects dosed and AEs started on or before it count.

    Returns
    -------
    DataFrame
        One row per AE: usubjid, cohort_id, cohort_label, is_control, seq, verbatim (AETERM),
        pt (AEDECOD), soc (AEBODSYS), start_dtc (AESTDTC as given), start_date (imputed),
        start_imputed, end_date, study_day, grade, serious, related,
        causality, outcome, action_taken, is_dlt, fatal, leads_to_discontinuation, **teae**
        (bool), **teae_basis** (on or after first dose | partial onset, may be on treatment |
        onset unknown | before first dose | after follow-up), first_dose_date,
        onset_precision (day | month | year), onset_earliest, onset_latest.

    References
    ----------
    ICH E9 (1998) 7.2.2; admiral ``derive_var_trtemfl``. The rule is described in the module
    docstring.
    """
    return queries.adverse_events.ae_teae_flags(con, config.study_id, cutoff)


def ae_summary(
    con: duckdb.DuckDBPyConnection,
    config: StudyConfig,
    cutoff: date,
    emergent_only: bool = True,
    subjects: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """The AE summary by cohort (AET01): subjects with any, related, serious, grade >= 3, DLT,
    discontinuing and fatal TEAEs.

    Parameters
    ----------
    emergent_only
        Count TEAEs (default); False counts every AE reported for the dosed subjects.
    subjects
        The population filter's subjects (None: the whole safety analysis set).

    Returns
    -------
    DataFrame
        Long: one row per category and cohort, control first then by dose level, categories in
        the order of ``AE_CATEGORIES``. Columns: category (key), label, cohort_id,
        cohort_label, is_control, dose_level, N (subjects dosed), n (subjects with >= 1 such
        event), pct (100 n / N; NaN when N = 0), events.

    References
    ----------
    Roche TLG catalogue, AET01 "Safety summary".
    """
    wide = queries.adverse_events.ae_summary_counts(
        con, config.study_id, cutoff, emergent_only=emergent_only, subjects=subjects
    )
    frames = [
        wide[["cohort_id", "cohort_label", "is_control", "dose_level", "subjects"]].assign(
            category=key,
            label=label,
            n=wide[f"n_{key}"].fillna(0).astype("int64"),
            events=wide[f"events_{key}"].fillna(0).astype("int64"),
        )
        for key, (label, _) in AE_CATEGORIES.items()
        if key != "dlt" or config.is_escalation  # no DLT definition: no DLT row
    ]
    long = pd.concat(frames, ignore_index=True).rename(columns={"subjects": "N"})
    long["N"] = long["N"].astype("int64")
    long["pct"] = 100 * long["n"] / long["N"].where(long["N"] > 0)
    return long[
        ["category", "label", "cohort_id", "cohort_label", "is_control", "dose_level", "N", "n",
         "pct", "events"]
    ]


def soc_pt_incidence(
    con: duckdb.DuckDBPyConnection,
    config: StudyConfig,
    cutoff: date,
    filters: AeFilter = NO_FILTER,
) -> pd.DataFrame:
    """Subjects with a TEAE by SOC and PT and cohort, with the worst-grade breakdown (AET02/04).

    Returns
    -------
    DataFrame
        level ('any' | 'soc' | 'pt'), soc, pt, cohort_id, cohort_label, is_control,
        dose_level, N, n, pct, events, worst_grade_1 .. worst_grade_5 (subjects by their worst
        grade among the counted TEAEs), total_n. Sorted by frequency (total over cohorts):
        the 'any' row, then each SOC followed by its PTs. A subject counts once per row.

    References
    ----------
    Roche TLG catalogue AET02 (by SOC and PT) and AET04 (by highest NCI CTCAE grade).
    """
    inc = queries.adverse_events.ae_incidence(
        con, config.study_id, cutoff, filters
    )
    inc = inc.rename(columns={"subjects": "N"})
    for col in ["N", "n", "events", "total_n", *[f"worst_grade_{g}" for g in range(1, 6)]]:
        inc[col] = inc[col].fillna(0).astype("int64")
    inc["pct"] = 100 * inc["n"] / inc["N"].where(inc["N"] > 0)
    return inc


def ae_listing(
    con: duckdb.DuckDBPyConnection,
    config: StudyConfig,
    cutoff: date,
    filters: AeFilter = NO_FILTER,
    **cell,
) -> pd.DataFrame:
    """The TEAEs behind a number: the same filters as the tables, narrowed to one cell (the
    keywords of ``store.queries.adverse_events.ae_listing``: category, cohort_ids, soc, pt,
    usubjids, grade, onset_from_day, onset_to_day, first_per_subject).

    Returns
    -------
    DataFrame
        One row per TEAE, columns as :func:`derive_teae_flag` without the onset range; the
        number of distinct usubjid equals the n of the cell it came from.
    """
    return queries.adverse_events.ae_listing(con, config.study_id, cutoff, filters, **cell)


def first_teae_times(
    con: duckdb.DuckDBPyConnection,
    config: StudyConfig,
    cutoff: date,
    filters: AeFilter = NO_FILTER,
) -> pd.DataFrame:
    """Per dosed subject: the study day of the first TEAE, and the last study day observed.

    Columns: usubjid, cohort_id, cohort_label, is_control, dose_level, first_dose_date,
    first_teae_day (NaN when none), observed_days (study day of the cut-off, end of study or
    end of follow-up, whichever is first).
    """
    return queries.adverse_events.ae_first_onsets(
        con, config.study_id, cutoff, filters
    )


def onset_days(
    con: duckdb.DuckDBPyConnection,
    config: StudyConfig,
    cutoff: date,
    filters: AeFilter = NO_FILTER,
) -> pd.DataFrame:
    """TEAEs by cohort, onset study day (day 1 = first dose) and grade.

    Columns: cohort_id, cohort_label, is_control, dose_level, study_day, grade, events,
    subjects.
    """
    return queries.adverse_events.ae_onset_days(
        con, config.study_id, cutoff, filters
    )


def deaths(con: duckdb.DuckDBPyConnection, config: StudyConfig, cutoff: date) -> pd.DataFrame:
    """Deaths in the safety analysis set by the cut-off, one row per subject
    (``queries.adverse_events.deaths``: death date from DM.DTHDTC or DS DEATH, else a fatal
    AE; its study day; the fatal AEs, related, treatment-emergent, serious)."""
    return queries.adverse_events.deaths(con, config.study_id, cutoff)


def data_quality(con: duckdb.DuckDBPyConnection, config: StudyConfig, cutoff: date
                 ) -> pd.DataFrame:
    """Adverse-event records that contradict themselves (AESER N with AESDTH Y, a fatal outcome
    with AETOXGR below 5, ...), kept as delivered, with how the product counts them
    (``queries.adverse_events.ae_data_quality``); then where a sponsor's ADaM derivation
    disagrees with ours (TRTEMFL vs our TEAE, ATOXGR vs our grade, SAFFL vs our safety
    analysis set: ``queries.sponsor.sponsor_disagreements``)."""
    own = queries.adverse_events.ae_data_quality(con, config.study_id, cutoff)
    sponsor = queries.sponsor.sponsor_disagreements(con, config.study_id, cutoff)
    return pd.concat([own, sponsor], ignore_index=True) if len(sponsor) else own
