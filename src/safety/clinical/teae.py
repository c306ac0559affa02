"""Treatment-emergent adverse events (TEAEs): the rule, its SQL, and the AE summary's rows.

The rule is the DuckDB table macro ``ae_emergence(study_id, cutoff)`` (:data:`MACROS`, on every
connection of ``safety.store``): every AE of the safety analysis set
(``safety.clinical.populations``) known at the cut-off, with its ``teae`` flag and the case that
decided it; ``ae_teae(study_id, cutoff)`` is the same rows with ``is_dlt`` from the DLT rule (the
AE tables' DLT row), kept apart because finding DLTs costs more than the rest. Every adverse-event table (``safety.store.queries.adverse_events``) reads it; this
module also holds the table filters and the formatting of the AE tables (pure, frames in and
out); ``safety.monitor.adverse_events`` asks the database.

The treatment-emergent rule
---------------------------
An adverse event of a dosed subject (first dose, DM.RFXSTDTC, on or before the data cut-off) is
treatment-emergent when its onset is on or after the first dose and within the follow-up
(first dose + ``follow_up_weeks`` x 7 days; no upper limit when the study sets none). Partial
onset dates are treated conservatively: the event is emergent *unless the known part of
AESTDTC proves otherwise*:

* a full date (``2020-03-05``) is compared day by day; when the onset and the first dose both
  carry a time (AESTDTC ``2020-03-05T07:00``, RFXSTDTC ``2020-03-05T09:30``), the date-times
  are compared: an event at 07:00 before a 09:30 first dose is not treatment-emergent (the same
  rule as the DLT window's start, ``safety.clinical.dlt``);
* a year-month (``2020-03``) proves "before the first dose" only when that month is before the
  first dose's month, and "after the follow-up" only when the month starts after it ends;
* a year (``2020``) likewise by the year;
* a known end date (AEENDTC) caps the onset: an event that ended before the first dose began
  before it;
* a blank onset proves nothing: the event is emergent.

``teae_basis`` on every row says which case applied. The onset day (``study_day``: SDTM --DY,
1 = the day of the first dose, -1 the day before, no day 0: the one day numbering of every page)
uses the ingest's imputed start date (``adverse_event.start_date``), which for a partial date
that may fall on treatment is the first dose day.

The summary's rows (n = subjects with at least one such TEAE; % of N dosed in the cohort)
---------------------------------------------------------------------------------------------
any TEAE; related (causality in the study's related list); serious (AESER or a seriousness
criterion); grade >= 3 (CTCAE);
DLT (a TEAE that is a candidate or confirmed DLT by the DLT rule (``safety.clinical.dlt``) and
adjudication; rejected candidates do not count, and DLTs added by hand without an AE record are
on the DLT view, not here); leading to discontinuation (AEACN = DRUG WITHDRAWN, or the subject
withdrew from the study with DS.DSDECOD ADVERSE EVENT on or before the cut-off: DS does not say
which AE, so all of that subject's TEAEs are listed behind the cell); fatal (grade 5 or AEOUT
FATAL or AESDTH Y).

References
----------
ICH E9 (1998), section 7.2.2 (treatment-emergent signs and symptoms); ICH E3 (1995), 12.2.
pharmaverse admiral, ``derive_var_trtemfl`` (start on or after treatment start, up to the end
of treatment plus a follow-up period; partial dates by ``derive_vars_dt`` imputation).
Roche TLG catalogue AET01 (safety summary), AET02 (SOC/PT incidence), AET04 (by highest grade).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from safety.config import StudyConfig

Window = Literal["all", "dlt"]
WINDOWS: dict[str, str] = {"all": "whole follow-up", "dlt": "DLT window only"}

# Summary rows: key -> (label, condition on a row of ae_teae). Fixed fragments, looked up by
# key only, never pasted from input.
AE_CATEGORIES: dict[str, tuple[str, str]] = {
    "any": ("Any TEAE", "true"),
    "related": ("Related TEAE", "related"),
    "serious": ("Serious TEAE", "serious"),
    "grade3": ("Grade ≥ 3 TEAE", "grade >= 3"),
    "dlt": ("DLT (candidate or confirmed)", "is_dlt"),
    "discontinuation": ("TEAE leading to discontinuation", "leads_to_discontinuation"),
    "fatal": ("Fatal TEAE (grade 5, outcome fatal or results in death)", "fatal"),
}

# onset_earliest .. onset_latest is the range AESTDTC allows (year-only: the whole year;
# year-month: the whole month; a full date: that day; blank: unknown), narrowed by a known end.
MACROS = """
CREATE OR REPLACE TEMP MACRO ae_emergence(in_study, at_cutoff) AS TABLE
WITH population AS (
    SELECT p.*,
           p.first_dose_date + st.follow_up_days AS follow_up_end,
           coalesce(p.status = 'withdrawn' AND upper(p.status_reason) = 'ADVERSE EVENT'
                    AND coalesce(p.end_of_study_date <= at_cutoff, true), false)
               AS withdrawn_for_ae
    FROM safety_population(in_study, at_cutoff) p
    CROSS JOIN (SELECT follow_up_days FROM rule_parameters WHERE study_id = in_study) st
),
ae_precision AS (
    SELECT ae.usubjid, ae.seq, ae.verbatim, ae.pt, ae.soc, ae.start_dtc, ae.start_date,
           ae.start_imputed, ae.end_date, ae.grade, ae.serious, ae.related, ae.causality,
           ae.outcome, ae.action_taken, ae.serious_criteria,
           p.cohort_id, p.cohort_label, p.is_control, p.dose_level, p.first_dose_date,
           p.follow_up_end, p.withdrawn_for_ae,
           coalesce(ae.start_at < p.first_dose_at, false) AS before_dose_time,
           CASE WHEN regexp_matches(ae.start_dtc, '^[0-9]{4}-[0-9]{2}-[0-9]{2}') THEN 'day'
                WHEN regexp_matches(ae.start_dtc, '^[0-9]{4}-[0-9]{2}') THEN 'month'
                WHEN regexp_matches(ae.start_dtc, '^[0-9]{4}') THEN 'year'
                WHEN ae.start_date IS NOT NULL THEN 'day'
           END AS onset_precision
    FROM current_adverse_event ae
    JOIN population p USING (usubjid)
    WHERE ae.study_id = in_study AND (ae.start_date IS NULL OR ae.start_date <= at_cutoff)
),
ae_earliest AS (
    SELECT *,
           CASE onset_precision
             WHEN 'day' THEN coalesce(TRY_CAST(left(start_dtc, 10) AS DATE), start_date)
             WHEN 'month' THEN TRY_CAST(left(start_dtc, 7) || '-01' AS DATE)
             WHEN 'year' THEN TRY_CAST(left(start_dtc, 4) || '-01-01' AS DATE)
           END AS onset_earliest
    FROM ae_precision
),
ae_range AS (
    SELECT *,
           least(CASE onset_precision
                   WHEN 'month' THEN last_day(onset_earliest)
                   WHEN 'year' THEN CAST(left(start_dtc, 4) || '-12-31' AS DATE)
                   ELSE onset_earliest
                 END, end_date) AS onset_latest
    FROM ae_earliest
)
SELECT ae_range.* EXCLUDE (before_dose_time),
       NOT coalesce(onset_latest < first_dose_date, false) AND NOT before_dose_time
         AND NOT coalesce(onset_earliest > follow_up_end, false) AS teae,
       CASE WHEN onset_latest < first_dose_date THEN 'before first dose'
            WHEN before_dose_time THEN 'before first dose (earlier time on the dosing day)'
            WHEN onset_earliest > follow_up_end THEN 'after follow-up'
            WHEN onset_precision IS NULL THEN 'onset unknown'
            WHEN onset_precision <> 'day' THEN 'partial onset, may be on treatment'
            ELSE 'onset on or after first dose'
       END AS teae_basis,
       CASE WHEN start_date >= first_dose_date
            THEN date_diff('day', first_dose_date, start_date) + 1
            ELSE date_diff('day', first_dose_date, start_date)
       END AS study_day,
       coalesce(grade = 5 OR upper(outcome) = 'FATAL'
                OR contains(serious_criteria, 'AESDTH'), false) AS fatal,
       coalesce(upper(action_taken) = 'DRUG WITHDRAWN', false) OR withdrawn_for_ae
           AS leads_to_discontinuation
FROM ae_range;

CREATE OR REPLACE TEMP MACRO ae_teae(in_study, at_cutoff) AS TABLE
SELECT e.*, d.dlt_usubjid IS NOT NULL AS is_dlt
FROM ae_emergence(in_study, at_cutoff) e
LEFT JOIN (SELECT DISTINCT usubjid AS dlt_usubjid, source_seq
           FROM dlt_event(in_study, at_cutoff)
           WHERE source = 'adverse_event' AND dlt_status IN ('candidate', 'confirmed')) d
  ON d.dlt_usubjid = e.usubjid AND d.source_seq = e.seq;
"""


@dataclass(frozen=True, slots=True)
class AeFilter:
    """Which TEAEs a table counts: grade, seriousness, relatedness, onset window, and of which
    subjects (the population filter: N and counts are of those subjects only).

    ``None`` means "no filter". ``window="dlt"`` keeps onsets inside the protocol's DLT window
    (first dose <= onset < first dose + ``dlt.window_days``).
    """

    min_grade: int | None = None
    serious: bool | None = None
    related: bool | None = None
    window: Window = "all"
    subjects: tuple[str, ...] | None = None  # the sidebar's population (None: every subject)

    def __post_init__(self) -> None:
        if self.min_grade is not None and not 1 <= self.min_grade <= 5:
            raise ValueError(f"min_grade must be a CTCAE grade 1-5, got {self.min_grade!r}")
        if self.window not in WINDOWS:
            raise ValueError(f"window must be one of {list(WINDOWS)}, got {self.window!r}")

    def params(self) -> dict:
        """The SQL parameters of the filter (``store.queries.adverse_events``)."""
        return {
            "ae_min_grade": self.min_grade,
            "ae_serious": self.serious,
            "ae_related": self.related,
            "ae_dlt_window_only": self.window == "dlt",
            "ae_subjects": None if self.subjects is None else list(self.subjects),
        }

    def describe(self, config: StudyConfig) -> str:
        """The filter in words, for captions and report headers."""
        parts = []
        if self.min_grade:
            parts.append(f"grade ≥ {self.min_grade}")
        if self.serious is not None:
            parts.append("serious" if self.serious else "non-serious")
        if self.related is not None:
            parts.append("related" if self.related else "not related")
        if self.window == "dlt":
            parts.append(f"onset in the {config.dlt.window_days}-day DLT window"
                         if config.dlt else "onset in a DLT window (none defined)")
        return "all TEAEs" if not parts else "TEAEs: " + ", ".join(parts)


NO_FILTER = AeFilter()  # every TEAE


def follow_up_days(config: StudyConfig) -> int | None:
    """Days after the first dose during which an AE can be treatment-emergent (None: no limit)."""
    return config.follow_up_weeks * 7 if config.follow_up_weeks else None


def cohort_header(label: str, n: int) -> str:
    """A cohort column header with its denominator: ``Low dose (N=8)``."""
    return f"{label} (N={int(n)})"


def format_n_pct(n: pd.Series, denominator: pd.Series) -> pd.Series:
    """``n (pct%)`` cells, one decimal; ``0`` without a percentage when n is 0 or N is 0."""
    n = n.astype("int64")
    denominator = denominator.astype("int64")
    pct = (100 * n / denominator.where(denominator > 0)).round(1)
    text = n.astype(str) + " (" + pct.map("{:.1f}".format) + "%)"
    return text.where((n > 0) & (denominator > 0), n.astype(str))


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as shown: one row per category, one ``n (%)`` column per cohort.

    Columns: category (key), "Subjects with" (label), then ``"<cohort> (N=<N>)"`` per cohort in
    the summary's order (control first).
    """
    shown = summary.assign(
        header=[cohort_header(lbl, n) for lbl, n in zip(summary["cohort_label"], summary["N"],
                                                          strict=True)],
        cell=format_n_pct(summary["n"], summary["N"]),
    )
    headers = list(dict.fromkeys(shown["header"]))
    table = shown.pivot(index=["category", "label"], columns="header", values="cell")
    table = table.reindex(
        index=pd.MultiIndex.from_tuples(
            [(k, v[0]) for k, v in AE_CATEGORIES.items()
             if k in set(summary["category"])],  # the DLT row only where DLTs are defined
            names=["category", "label"]
        ),
        columns=headers,
    ).reset_index()
    table.columns.name = None
    return table.rename(columns={"label": "Subjects with"})


def cohort_columns(frame: pd.DataFrame) -> dict[str, str]:
    """Header -> cohort_id for the cohort columns of :func:`summary_table` / incidence tables."""
    cohorts = frame.drop_duplicates("cohort_id")
    return {
        cohort_header(lbl, n): cid
        for lbl, n, cid in zip(cohorts["cohort_label"], cohorts["N"], cohorts["cohort_id"],
                               strict=True)
    }


def incidence_table(
    incidence: pd.DataFrame, level: Literal["soc", "pt"] = "soc", soc: str | None = None
) -> pd.DataFrame:
    """SOC rows or PT rows as shown: ``n (%)`` per cohort, sorted by frequency.

    Columns: soc, pt (PT level only), then ``"<cohort> (N=<N>)"`` per cohort, then Total
    (subjects over all cohorts). ``soc`` keeps only that SOC's PTs.
    """
    rows = incidence[incidence["level"] == level]
    if soc is not None:
        rows = rows[rows["soc"] == soc]
    keys = ["soc", "pt"] if level == "pt" else ["soc"]
    headers = cohort_columns(incidence)
    shown = rows.assign(
        header=[cohort_header(lbl, n) for lbl, n in zip(rows["cohort_label"], rows["N"],
                                                          strict=True)],
        cell=format_n_pct(rows["n"], rows["N"]),
    )
    order = shown.drop_duplicates(keys)[[*keys, "total_n"]]
    table = shown.pivot(index=keys, columns="header", values="cell").reindex(
        columns=list(headers)
    )
    table = order.merge(table.reset_index(), on=keys, how="left")
    table.columns.name = None
    return table.rename(columns={"total_n": "Total"})[[*keys, *headers, "Total"]]


def worst_grade_table(
    incidence: pd.DataFrame, soc: str | None = None, pt: str | None = None
) -> pd.DataFrame:
    """Subjects by worst grade for one row of the incidence (the 'any' row by default).

    Columns: Cohort (with N), Grade 1 .. Grade 5 as ``n (%)``, Any grade.
    """
    if pt is not None:
        rows = incidence[(incidence["level"] == "pt") & (incidence["pt"] == pt)
                         & (incidence["soc"] == soc if soc is not None else True)]
    elif soc is not None:
        rows = incidence[(incidence["level"] == "soc") & (incidence["soc"] == soc)]
    else:
        rows = incidence[incidence["level"] == "any"]
    table = pd.DataFrame(
        {"Cohort": [cohort_header(lbl, n) for lbl, n in zip(rows["cohort_label"], rows["N"],
                                                              strict=True)]}
    )
    for g in range(1, 6):
        table[f"Grade {g}"] = format_n_pct(rows[f"worst_grade_{g}"], rows["N"]).to_numpy()
    table["Any grade"] = format_n_pct(rows["n"], rows["N"]).to_numpy()
    return table


def deaths_table(deaths: pd.DataFrame, summary: pd.DataFrame, pooled: bool = False
                 ) -> pd.DataFrame:
    """Deaths per cohort as shown: one row, ``n (%)`` of N per cohort (N = the safety analysis
    set), then All cohorts (only All cohorts when ``pooled``, as the open report shows it).

    ``deaths``: ``queries.adverse_events.deaths`` (cohort_id per subject who died);
    ``summary``: any frame with cohort_id, cohort_label and N per cohort (e.g. the AE summary).
    """
    cohorts = summary.drop_duplicates("cohort_id")[["cohort_id", "cohort_label", "N"]]
    n = deaths.groupby("cohort_id").size()
    died = cohorts["cohort_id"].map(n).fillna(0).astype("int64")
    cells = format_n_pct(died, cohorts["N"])
    row = {"Subjects": "Died by the cut-off"}
    if not pooled:
        row.update({cohort_header(lbl, total): cell for lbl, total, cell in
                    zip(cohorts["cohort_label"], cohorts["N"], cells, strict=True)})
    all_n = int(cohorts["N"].sum())
    row[cohort_header("All cohorts", all_n)] = format_n_pct(
        pd.Series([int(died.sum())]), pd.Series([all_n])).iloc[0]
    return pd.DataFrame([row])


def deaths_listing(deaths: pd.DataFrame) -> pd.DataFrame:
    """Deaths, one row per subject, with readable headers."""
    return pd.DataFrame({
        "Cohort": deaths["cohort_label"],
        "Subject": deaths["usubjid"],
        "Date of death": [
            "" if pd.isna(d) else f"{pd.Timestamp(d):%Y-%m-%d}" for d in deaths["death_date"]],
        "Study day": deaths["study_day"].astype("Int64"),
        "Fatal adverse event(s)": deaths["fatal_events"].fillna("none recorded"),
        "Related": deaths["related"].map({True: "yes", False: "no"}),
        "TEAE": deaths["teae"].map({True: "yes", False: "no"}),
        "Serious": deaths["serious"].map({True: "yes", False: "no"}),
    }).reset_index(drop=True)
