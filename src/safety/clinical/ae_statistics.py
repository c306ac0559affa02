"""Adverse events against control and over time: risk differences with their intervals, the
cumulative incidence of the first TEAE, onset timing. Frames in, frames out.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import ndtri  # scipy.stats (1 s to import) only where Fisher's test runs

ALPHA = 0.05  # two-sided: 95% confidence intervals


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
    z = float(ndtri(1 - alpha / 2))  # the normal quantile, as scipy.stats.norm.ppf
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
    from scipy import stats

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
        cohort_id, cohort_label, is_control, dose_level, day (SDTM study day: the first dose
        day is day 1, no day 0), at_risk, events, censored, cum_incidence (0-1), usubjids
        (comma-separated subjects whose first TEAE is on that day). A row at day 1 with no
        event starts each curve, and every censoring day has a row, so a step line can be drawn
        straight from it.

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
        .assign(day=0, events=0, censored=0, cum_incidence=0.0, usubjids=pd.NA)
    )  # sorts before day 1 and is drawn at day 1, so a step on day 1 is drawn
    out = pd.concat([starts, steps], ignore_index=True)
    out["usubjids"] = out["usubjids"].astype("str").where(out["usubjids"].notna(), "")
    out = out.sort_values(["is_control", "dose_level", "cohort_id", "day"],
                          ascending=[False, True, True, True], kind="stable")
    out["day"] = out["day"].clip(lower=1)
    out["dose_level"] = out["dose_level"].astype("Int64")
    return out[[*keys, "day", "at_risk", "events", "censored", "cum_incidence", "usubjids"]
               ].reset_index(drop=True)


def onset_distribution(onsets: pd.DataFrame, bin_days: int = 7) -> pd.DataFrame:
    """Onset-day histogram data: TEAEs per cohort per bin of study days (day 1 = first dose).

    Columns: cohort_id, cohort_label, is_control, dose_level, bin_start, bin_end (study days,
    inclusive: 1-7, 8-14, ... for 7-day bins), events.
    """
    if bin_days < 1:
        raise ValueError(f"bin_days must be 1 or more, got {bin_days}")
    keys = ["cohort_id", "cohort_label", "is_control", "dose_level"]
    binned = onsets.assign(bin_start=((onsets["study_day"] - 1) // bin_days) * bin_days + 1)
    out = binned.groupby([*keys, "bin_start"], dropna=False, sort=False)["events"].sum()
    out = out.reset_index()
    out["bin_end"] = out["bin_start"] + bin_days - 1
    return out[[*keys, "bin_start", "bin_end", "events"]].sort_values(
        ["is_control", "dose_level", "bin_start"], ascending=[False, True, True]
    ).reset_index(drop=True)


def grade_by_week(onsets: pd.DataFrame, cohort_ids: list[str] | None = None) -> pd.DataFrame:
    """Grade-by-week heatmap data: TEAEs per study week and CTCAE grade.

    Week 1 is study days 1-7 (day 1 = the first dose day), week 2 days 8-14, ... ``cohort_ids`` restricts the cohorts counted.
    Columns: week, grade, events (every grade 1-5 for every week from 1 to the last one with
    an event, zeros included).
    """
    rows = onsets if cohort_ids is None else onsets[onsets["cohort_id"].isin(cohort_ids)]
    rows = rows.dropna(subset=["grade"])
    if rows.empty:
        return pd.DataFrame({"week": pd.Series(dtype="int64"), "grade": pd.Series(dtype="int64"),
                             "events": pd.Series(dtype="int64")})
    week = ((rows["study_day"] - 1) // 7 + 1).astype("int64")
    counts = rows.groupby([week.rename("week"), rows["grade"].astype("int64")])["events"].sum()
    full = pd.MultiIndex.from_product(
        [range(1, int(week.max()) + 1), range(1, 6)], names=["week", "grade"]
    )
    return counts.reindex(full, fill_value=0).astype("int64").reset_index()
