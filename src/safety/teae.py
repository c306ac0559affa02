"""Treatment-emergent adverse events (TEAEs) by cohort: the rule, the tables, the comparison.

The functions here feed the Adverse events page and the DSMB reports alike: a connection and a
study configuration in, a frame out. The SQL lives in :mod:`safety.queries` (section
"adverse events"); this module names the tables, computes the statistics and formats them.

The treatment-emergent rule (one rule, in ``queries._TEAE_CTE``)
-----------------------------------------------------------------
An adverse event of a dosed subject (first dose, DM.RFXSTDTC, on or before the data cut-off) is
treatment-emergent when its onset is on or after the first dose and within the follow-up
(first dose + ``follow_up_weeks`` x 7 days; no upper limit when the study sets none). Partial
onset dates are treated conservatively: the event is emergent *unless the known part of
AESTDTC proves otherwise*:

* a full date (``2020-03-05``) is compared day by day;
* a year-month (``2020-03``) proves "before the first dose" only when that month is before the
  first dose's month, and "after the follow-up" only when the month starts after it ends;
* a year (``2020``) likewise by the year;
* a known end date (AEENDTC) caps the onset: an event that ended before the first dose began
  before it;
* a blank onset proves nothing: the event is emergent.

``teae_basis`` on every row says which case applied. Onset days (``days_since_dose``: 0 = the
day of the first dose; ``study_day``: SDTM --DY, 1 = the day of the first dose) use the ingest's
imputed start date (``adverse_event.start_date``), which for a partial date that may fall on
treatment is the first dose day.

The summary's rows (n = subjects with at least one such TEAE; % of N dosed in the cohort)
---------------------------------------------------------------------------------------------
any TEAE; related (causality in the study's related list); serious (AESER); grade >= 3 (CTCAE);
DLT (a TEAE that is a candidate or confirmed DLT by ``queries.dlt_events``' rule and
adjudication; rejected candidates do not count, and DLTs added by hand without an AE record are
on the DLT view, not here); leading to discontinuation (AEACN = DRUG WITHDRAWN, or the subject
withdrew from the study with DS.DSDECOD ADVERSE EVENT on or before the cut-off: DS does not say
which AE, so all of that subject's TEAEs are listed behind the cell); fatal (grade 5 or AEOUT
FATAL).

References
----------
ICH E9 (1998), section 7.2.2 (treatment-emergent signs and symptoms); ICH E3 (1995), 12.2.
pharmaverse admiral, ``derive_var_trtemfl`` (start on or after treatment start, up to the end
of treatment plus a follow-up period; partial dates by ``derive_vars_dt`` imputation).
Roche TLG catalogue AET01 (safety summary), AET02 (SOC/PT incidence), AET04 (by highest grade).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from safety import queries
from safety.config import StudyConfig

log = logging.getLogger(__name__)

ALPHA = 0.05  # two-sided: 95% confidence intervals
AE_CATEGORIES = queries.AE_CATEGORIES  # summary row key -> (label, SQL condition)
Window = Literal["all", "dlt"]
WINDOWS: dict[str, str] = {"all": "whole follow-up", "dlt": "DLT window only"}


@dataclass(frozen=True, slots=True)
class AeFilter:
    """Which TEAEs a table counts: grade, seriousness, relatedness and onset window.

    ``None`` means "no filter". ``window="dlt"`` keeps onsets inside the protocol's DLT window
    (first dose <= onset < first dose + ``dlt.window_days``).
    """

    min_grade: int | None = None
    serious: bool | None = None
    related: bool | None = None
    window: Window = "all"

    def __post_init__(self) -> None:
        if self.min_grade is not None and not 1 <= self.min_grade <= 5:
            raise ValueError(f"min_grade must be a CTCAE grade 1-5, got {self.min_grade!r}")
        if self.window not in WINDOWS:
            raise ValueError(f"window must be one of {list(WINDOWS)}, got {self.window!r}")

    def params(self, config: StudyConfig) -> dict:
        """Keyword arguments for the ``queries.ae_*`` functions."""
        return {
            "min_grade": self.min_grade,
            "serious": self.serious,
            "related": self.related,
            "window_days": config.dlt.window_days if self.window == "dlt" else None,
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
            parts.append(f"onset in the {config.dlt.window_days}-day DLT window")
        return "all TEAEs" if not parts else "TEAEs: " + ", ".join(parts)


NO_FILTER = AeFilter()  # every TEAE


def follow_up_days(config: StudyConfig) -> int | None:
    """Days after the first dose during which an AE can be treatment-emergent (None: no limit)."""
    return config.follow_up_weeks * 7 if config.follow_up_weeks else None


def _base(config: StudyConfig, cutoff: date) -> tuple:
    return config.study_id, cutoff, config.dlt, follow_up_days(config)


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


# --- the rule ----------------------------------------------------------------------------------


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
        start_imputed, end_date, study_day, days_since_dose, grade, serious, related,
        causality, outcome, action_taken, is_dlt, fatal, leads_to_discontinuation, **teae**
        (bool), **teae_basis** (on or after first dose | partial onset, may be on treatment |
        onset unknown | before first dose | after follow-up), first_dose_date,
        onset_precision (day | month | year), onset_earliest, onset_latest.

    References
    ----------
    ICH E9 (1998) 7.2.2; admiral ``derive_var_trtemfl``. The rule is described in the module
    docstring.
    """
    return queries.ae_teae_flags(con, *_base(config, cutoff))


# --- summary -----------------------------------------------------------------------------------


def ae_summary(
    con: duckdb.DuckDBPyConnection,
    config: StudyConfig,
    cutoff: date,
    emergent_only: bool = True,
) -> pd.DataFrame:
    """The AE summary by cohort (AET01): subjects with any, related, serious, grade >= 3, DLT,
    discontinuing and fatal TEAEs.

    Parameters
    ----------
    emergent_only
        Count TEAEs (default); False counts every AE reported for the dosed subjects.

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
    wide = queries.ae_summary_counts(con, *_base(config, cutoff), emergent_only=emergent_only)
    frames = [
        wide[["cohort_id", "cohort_label", "is_control", "dose_level", "subjects"]].assign(
            category=key,
            label=label,
            n=wide[f"n_{key}"].fillna(0).astype("int64"),
            events=wide[f"events_{key}"].fillna(0).astype("int64"),
        )
        for key, (label, _) in AE_CATEGORIES.items()
    ]
    long = pd.concat(frames, ignore_index=True).rename(columns={"subjects": "N"})
    long["N"] = long["N"].astype("int64")
    long["pct"] = 100 * long["n"] / long["N"].where(long["N"] > 0)
    return long[
        ["category", "label", "cohort_id", "cohort_label", "is_control", "dose_level", "N", "n",
         "pct", "events"]
    ]


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
            [(k, v[0]) for k, v in AE_CATEGORIES.items()], names=["category", "label"]
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


# --- SOC / PT incidence ------------------------------------------------------------------------


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
    inc = queries.ae_incidence(con, *_base(config, cutoff), **filters.params(config))
    inc = inc.rename(columns={"subjects": "N"})
    for col in ["N", "n", "events", "total_n", *[f"worst_grade_{g}" for g in range(1, 6)]]:
        inc[col] = inc[col].fillna(0).astype("int64")
    inc["pct"] = 100 * inc["n"] / inc["N"].where(inc["N"] > 0)
    return inc


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


# --- listings ----------------------------------------------------------------------------------


def ae_listing(
    con: duckdb.DuckDBPyConnection,
    config: StudyConfig,
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
    """The TEAEs behind a number: the same filters as the tables, narrowed to one cell.

    ``category`` is a key of ``AE_CATEGORIES`` (a summary row); ``onset_from_day`` and
    ``onset_to_day`` bound days since the first dose (inclusive); ``first_per_subject`` keeps
    each subject's first TEAE (the event counted by the cumulative incidence).

    Returns
    -------
    DataFrame
        One row per TEAE, columns as :func:`derive_teae_flag` without the onset range; the
        number of distinct usubjid equals the n of the cell it came from.
    """
    return queries.ae_listing(
        con,
        *_base(config, cutoff),
        **filters.params(config),
        category=category,
        cohort_ids=list(cohort_ids) if cohort_ids is not None else None,
        soc=soc,
        pt=pt,
        usubjids=list(usubjids) if usubjids is not None else None,
        grade=None if grade is None else int(grade),
        onset_from_day=None if onset_from_day is None else int(onset_from_day),
        onset_to_day=None if onset_to_day is None else int(onset_to_day),
        first_per_subject=first_per_subject,
    )


# --- comparison with control -------------------------------------------------------------------


def compute_wilson_interval(
    x: np.ndarray, n: np.ndarray, alpha: float = ALPHA
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion x / n (vectorised).

    References
    ----------
    Wilson EB (1927). Probable inference, the law of succession, and statistical inference.
    JASA 22:209-212. Newcombe RG (1998). Two-sided confidence intervals for the single
    proportion: comparison of seven methods. Stat Med 17:857-872 (method 3).
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def compute_newcombe_interval(
    x1: np.ndarray, n1: np.ndarray, x0: np.ndarray, n0: np.ndarray, alpha: float = ALPHA
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Risk difference p1 - p0 with Newcombe's hybrid score interval (method 10), vectorised.

    With Wilson intervals (l1, u1) for p1 = x1/n1 and (l0, u0) for p0 = x0/n0:
    lower = d - sqrt((p1 - l1)^2 + (u0 - p0)^2), upper = d + sqrt((u1 - p1)^2 + (p0 - l0)^2).
    It stays inside [-1, 1], needs no continuity correction and behaves well with zero cells
    and small groups (Newcombe's recommendation among eleven methods).

    Returns
    -------
    (rd, lower, upper) arrays; NaN where n1 or n0 is 0.

    References
    ----------
    Newcombe RG (1998). Interval estimation for the difference between independent
    proportions: comparison of eleven methods. Stat Med 17:873-890, method 10; the worked
    examples of its Table II are in tests/test_teae.py.
    """
    x1, n1, x0, n0 = (np.asarray(a, dtype=float) for a in (x1, n1, x0, n0))
    l1, u1 = compute_wilson_interval(x1, n1, alpha)
    l0, u0 = compute_wilson_interval(x0, n0, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p0 = x1 / n1, x0 / n0
    rd = p1 - p0
    lower = rd - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    upper = rd + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return rd, lower, upper


def compute_fisher_p(
    x1: np.ndarray, n1: np.ndarray, x0: np.ndarray, n0: np.ndarray
) -> np.ndarray:
    """Two-sided Fisher exact p for x1/n1 against x0/n0, once per distinct 2 x 2 table.

    References
    ----------
    Fisher RA (1935). The logic of inductive inference. JRSS 98:39-82;
    ``scipy.stats.fisher_exact`` (two-sided: tables no more likely than the observed one).
    """
    tables = pd.DataFrame(
        {"x1": np.asarray(x1, int), "n1": np.asarray(n1, int), "x0": np.asarray(x0, int),
         "n0": np.asarray(n0, int)}
    )
    distinct = tables.drop_duplicates().reset_index(drop=True)
    # One scipy call per distinct table (a few dozen at most), not per subject or event.
    distinct["p"] = [
        stats.fisher_exact([[a, b - a], [c, d - c]]).pvalue if b > 0 and d > 0 else np.nan
        for a, b, c, d in distinct[["x1", "n1", "x0", "n0"]].itertuples(index=False)
    ]
    return tables.merge(distinct, on=["x1", "n1", "x0", "n0"], how="left")["p"].to_numpy()


def risk_differences(
    incidence: pd.DataFrame, level: Literal["soc", "pt"] = "pt", alpha: float = ALPHA
) -> pd.DataFrame:
    """Each dose cohort against control, per PT (or SOC): risk difference, 95% CI, Fisher p.

    Parameters
    ----------
    incidence
        From :func:`soc_pt_incidence`; needs a control cohort with N > 0.
    level
        'pt' (default) or 'soc'.

    Returns
    -------
    DataFrame
        soc, pt, cohort_id, cohort_label, dose_level, n, N, pct, control_n, control_N,
        control_pct, rd (percentage points), rd_lower, rd_upper (Newcombe hybrid score,
        method 10), fisher_p (two-sided), neg_log10_p, total_n. Empty when the study has no
        control or no dosed control subject. Sorted by total_n descending then rd.

    References
    ----------
    Newcombe RG (1998), Stat Med 17:873-890 (method 10); Fisher exact test via scipy.
    """
    columns = [
        "soc", "pt", "cohort_id", "cohort_label", "dose_level", "n", "N", "pct", "control_n",
        "control_N", "control_pct", "rd", "rd_lower", "rd_upper", "fisher_p", "neg_log10_p",
        "total_n",
    ]
    rows = incidence[incidence["level"] == level]
    control = rows[rows["is_control"] & (rows["N"] > 0)]
    doses = rows[~rows["is_control"] & (rows["N"] > 0)]
    if control.empty or doses.empty:
        return pd.DataFrame(columns=columns)
    control = control.drop_duplicates(["soc", "pt"])  # one control cohort is compared
    paired = doses.merge(
        control[["soc", "pt", "n", "N", "pct"]].rename(
            columns={"n": "control_n", "N": "control_N", "pct": "control_pct"}
        ),
        on=["soc", "pt"],
        how="inner",
    )
    rd, lower, upper = compute_newcombe_interval(
        paired["n"], paired["N"], paired["control_n"], paired["control_N"], alpha
    )
    paired["rd"], paired["rd_lower"], paired["rd_upper"] = 100 * rd, 100 * lower, 100 * upper
    paired["fisher_p"] = compute_fisher_p(
        paired["n"], paired["N"], paired["control_n"], paired["control_N"]
    )
    paired["neg_log10_p"] = (-np.log10(paired["fisher_p"].clip(lower=1e-300))).clip(lower=0.0)
    return paired.sort_values(["total_n", "rd"], ascending=[False, False], kind="stable")[
        columns
    ].reset_index(drop=True)


# --- timing ------------------------------------------------------------------------------------


def first_teae_times(
    con: duckdb.DuckDBPyConnection,
    config: StudyConfig,
    cutoff: date,
    filters: AeFilter = NO_FILTER,
) -> pd.DataFrame:
    """Per dosed subject: days from first dose to the first TEAE, and days observed.

    Columns: usubjid, cohort_id, cohort_label, is_control, dose_level, first_dose_date,
    first_teae_day (NaN when none), observed_days (to the cut-off, end of study or end of
    follow-up, whichever is first).
    """
    return queries.ae_first_onsets(con, *_base(config, cutoff), **filters.params(config))


def cumulative_incidence(times: pd.DataFrame) -> pd.DataFrame:
    """Cumulative incidence of the first TEAE by cohort: 1 - Kaplan-Meier, censored at the end
    of observation.

    Parameters
    ----------
    times
        From :func:`first_teae_times`.

    Returns
    -------
    DataFrame
        cohort_id, cohort_label, is_control, dose_level, day (days since first dose),
        at_risk, events, censored, cum_incidence (0-1), usubjids (comma-separated subjects
        whose first TEAE is on that day). A row at day 0 before any event starts each curve,
        and every censoring time has a row, so a step line can be drawn straight from it.

    Notes
    -----
    Death without a prior TEAE is treated as censoring (no competing-risks adjustment); with
    the small cohorts of a phase 1 trial the difference is negligible, and the page says so.

    References
    ----------
    Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations. JASA
    53:457-481.
    """
    keys = ["cohort_id", "cohort_label", "is_control", "dose_level"]
    t = times.assign(
        event=times["first_teae_day"].notna(),
        day=times["first_teae_day"].fillna(times["observed_days"]).astype("int64"),
    )
    t = t.assign(dose_level=t["dose_level"].astype("Float64"))
    usubjids = (
        t[t["event"]].groupby(["cohort_id", "day"])["usubjid"].agg(", ".join).rename("usubjids")
    )
    steps = (
        t.groupby([*keys, "day"], dropna=False, sort=True)
        .agg(events=("event", "sum"), leaving=("event", "size"))
        .reset_index()
    )
    steps["censored"] = steps["leaving"] - steps["events"]
    group = steps.groupby("cohort_id", sort=False)
    steps["at_risk"] = group["leaving"].transform(lambda s: s[::-1].cumsum()[::-1])
    steps["survival"] = (1 - steps["events"] / steps["at_risk"]).groupby(
        steps["cohort_id"], sort=False
    ).cumprod()
    steps["cum_incidence"] = 1 - steps["survival"]
    steps = steps.merge(usubjids.reset_index(), on=["cohort_id", "day"], how="left")
    starts = (
        t.groupby(keys, dropna=False, sort=False).size().rename("at_risk").reset_index()
        .assign(day=-1, events=0, censored=0, cum_incidence=0.0, usubjids=pd.NA)
    )  # day -1: before the dose, so the step at day 0 is drawn
    out = pd.concat([starts, steps], ignore_index=True)
    out["usubjids"] = out["usubjids"].astype("str").where(out["usubjids"].notna(), "")
    out = out.sort_values(["is_control", "dose_level", "cohort_id", "day"],
                          ascending=[False, True, True, True], kind="stable")
    out["day"] = out["day"].clip(lower=0)
    out["dose_level"] = out["dose_level"].astype("Int64")
    return out[[*keys, "day", "at_risk", "events", "censored", "cum_incidence", "usubjids"]
               ].reset_index(drop=True)


def onset_days(
    con: duckdb.DuckDBPyConnection,
    config: StudyConfig,
    cutoff: date,
    filters: AeFilter = NO_FILTER,
) -> pd.DataFrame:
    """TEAEs by cohort, day since first dose and grade.

    Columns: cohort_id, cohort_label, is_control, dose_level, days_since_dose, grade, events,
    subjects.
    """
    return queries.ae_onset_days(con, *_base(config, cutoff), **filters.params(config))


def onset_distribution(onsets: pd.DataFrame, bin_days: int = 7) -> pd.DataFrame:
    """Onset-day histogram data: TEAEs per cohort per bin of days since the first dose.

    Columns: cohort_id, cohort_label, is_control, dose_level, bin_start, bin_end (days since
    dose, inclusive), events.
    """
    if bin_days < 1:
        raise ValueError(f"bin_days must be 1 or more, got {bin_days}")
    keys = ["cohort_id", "cohort_label", "is_control", "dose_level"]
    binned = onsets.assign(bin_start=(onsets["days_since_dose"] // bin_days) * bin_days)
    out = binned.groupby([*keys, "bin_start"], dropna=False, sort=False)["events"].sum()
    out = out.reset_index()
    out["bin_end"] = out["bin_start"] + bin_days - 1
    return out[[*keys, "bin_start", "bin_end", "events"]].sort_values(
        ["is_control", "dose_level", "bin_start"], ascending=[False, True, True]
    ).reset_index(drop=True)


def grade_by_week(onsets: pd.DataFrame, cohort_ids: list[str] | None = None) -> pd.DataFrame:
    """Grade-by-week heatmap data: TEAEs per week since the first dose and CTCAE grade.

    Week 1 is days 0-6 after the first dose. ``cohort_ids`` restricts the cohorts counted.
    Columns: week, grade, events (every grade 1-5 for every week from 1 to the last one with
    an event, zeros included).
    """
    rows = onsets if cohort_ids is None else onsets[onsets["cohort_id"].isin(cohort_ids)]
    rows = rows.dropna(subset=["grade"])
    if rows.empty:
        return pd.DataFrame({"week": pd.Series(dtype="int64"), "grade": pd.Series(dtype="int64"),
                             "events": pd.Series(dtype="int64")})
    week = (rows["days_since_dose"] // 7 + 1).astype("int64")
    counts = rows.groupby([week.rename("week"), rows["grade"].astype("int64")])["events"].sum()
    full = pd.MultiIndex.from_product(
        [range(1, int(week.max()) + 1), range(1, 6)], names=["week", "grade"]
    )
    return counts.reindex(full, fill_value=0).astype("int64").reset_index()
