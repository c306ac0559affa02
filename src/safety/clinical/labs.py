"""Lab safety tables: CTCAE shift tables, worst-grade abnormality counts, eDISH and Hy's law.

Frames in, frames out. The per-subject inputs come from ``queries.labs.lab_subject_grades`` and
``queries.labs.lab_liver_peaks``, which read the store's CTCAE v5.0 grades (table ``lab_graded``, refreshed from the view ``lab_grading``).

References
----------
NCI CTCAE v5.0 (2017): grades. U.S. FDA, Guidance for Industry "Drug-Induced Liver Injury:
Premarketing Clinical Evaluation" (July 2009): Hy's law (ALT or AST >= 3 x ULN with total
bilirubin >= 2 x ULN, without initial cholestasis, i.e. ALP < 2 x ULN). Watkins PB et al.,
"Evaluation of drug-induced serious hepatotoxicity (eDISH): application of this data
organization approach to phase III clinical trials", Hepatology 2011;53:1735-1736 (peak ALT
x ULN against peak total bilirubin x ULN, log axes, quadrants at 3 x and 2 x ULN).
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd

from safety.config import LabSettings

log = logging.getLogger(__name__)

INR_CRITERIA = {  # CTCAE v5.0 "INR increased"
    "not anticoagulated": "INR > 1.2 grade 1, > 1.5 grade 2, > 2.5 grade 3",
    "anticoagulated": "the worse of those limits and > 1, > 1.5, > 2.5 x the baseline",
}

HY_LAW_ALT_X_ULN = 3.0  # FDA DILI guidance (2009): ALT or AST >= 3 x ULN
HY_LAW_BILI_X_ULN = 2.0  # FDA DILI guidance (2009): total bilirubin >= 2 x ULN
HY_LAW_ALP_X_ULN = 2.0  # FDA DILI guidance (2009): no initial cholestasis, ALP < 2 x ULN
GRADES = (0, 1, 2, 3, 4)
MISSING = "missing"

Quadrant = Literal["Potential Hy's law", "Temple's corollary", "Hyperbilirubinemia", "Normal range"]
QUADRANTS: tuple[str, ...] = (
    "Potential Hy's law",  # upper right: ALT >= 3 x and bilirubin >= 2 x ULN
    "Temple's corollary",  # lower right: hepatocellular injury without jaundice
    "Hyperbilirubinemia",  # upper left: bilirubin without transaminase rise (e.g. Gilbert's)
    "Normal range",  # lower left
)


def compute_edish_quadrant(
    alt_x_uln: np.ndarray,
    bili_x_uln: np.ndarray,
    alt_threshold: float = HY_LAW_ALT_X_ULN,
    bili_threshold: float = HY_LAW_BILI_X_ULN,
) -> np.ndarray:
    """eDISH quadrant of each subject from peak transaminase and peak bilirubin (x ULN).

    A value on a threshold belongs to the upper/right quadrant (">= 3 x ULN"); a subject with
    a missing peak gets None.

    References
    ----------
    FDA DILI guidance (2009); Watkins et al., Hepatology 2011 (eDISH).
    """
    alt = np.asarray(alt_x_uln, dtype=np.float64)
    bili = np.asarray(bili_x_uln, dtype=np.float64)
    right, up = alt >= alt_threshold, bili >= bili_threshold
    known = ~(np.isnan(alt) | np.isnan(bili))
    return np.select(
        [known & right & up, known & right, known & up, known],
        list(QUADRANTS),
        default=None,
    )


def derive_edish(
    peaks: pd.DataFrame,
    *,
    transaminase: Literal["ALT", "AST"] = "ALT",
    alt_threshold: float = HY_LAW_ALT_X_ULN,
    bili_threshold: float = HY_LAW_BILI_X_ULN,
) -> pd.DataFrame:
    """Add the eDISH quadrant (and which transaminase it used) to per-subject liver peaks.

    Parameters
    ----------
    peaks : DataFrame
        ``queries.labs.lab_liver_peaks``: usubjid, cohort_label, alt_x_uln, ast_x_uln, bili_x_uln,
        alp_x_uln, ...
    transaminase : {"ALT", "AST"}
        Which peak goes on the x axis; "ALT" is eDISH's default.
    alt_threshold, bili_threshold : float
        x ULN lines; FDA Hy's law: 3 and 2.

    Returns
    -------
    DataFrame
        ``peaks`` with ``transaminase``, ``transaminase_x_uln`` and ``quadrant``; subjects
        without both peaks keep a missing quadrant.
    """
    if transaminase not in ("ALT", "AST"):
        raise ValueError(f'transaminase must be "ALT" or "AST", got {transaminase!r}')
    if alt_threshold <= 0 or bili_threshold <= 0:
        raise ValueError("eDISH thresholds must be positive multiples of ULN")
    out = peaks.copy()
    x = out[f"{transaminase.lower()}_x_uln"].to_numpy(dtype=np.float64, na_value=np.nan)
    out["transaminase"] = transaminase
    out["transaminase_x_uln"] = x
    bili = out["bili_x_uln"].to_numpy(dtype=np.float64, na_value=np.nan)
    out["quadrant"] = pd.array(
        compute_edish_quadrant(x, bili, alt_threshold, bili_threshold), dtype="str"
    )
    return out


def edish_quadrant_counts(edish: pd.DataFrame) -> pd.DataFrame:
    """Subjects per eDISH quadrant and cohort.

    Returns
    -------
    DataFrame
        One row per quadrant (``QUADRANTS`` order), one column per cohort label (in order of
        appearance) plus ``Total``.
    """
    cohorts = list(dict.fromkeys(edish["cohort_label"].dropna()))
    table = pd.crosstab(
        pd.Categorical(edish["quadrant"], categories=list(QUADRANTS)),
        pd.Categorical(edish["cohort_label"], categories=cohorts),
        dropna=False,
    )
    table = table.reindex(index=list(QUADRANTS), columns=cohorts, fill_value=0)
    table["Total"] = table.sum(axis=1)
    table.index.name = "quadrant"
    table.columns.name = None
    return table.reset_index()


def hys_law_candidates(
    edish: pd.DataFrame, alp_threshold: float = HY_LAW_ALP_X_ULN
) -> pd.DataFrame:
    """Subjects in the potential Hy's law quadrant, worst first.

    Adds ``cholestatic`` (peak ALP >= ``alp_threshold`` x ULN: the FDA definition asks for no
    initial cholestasis, so such a case needs a closer look rather than counting as Hy's law).

    References
    ----------
    FDA DILI guidance (2009), section on Hy's law.
    """
    hits = edish[edish["quadrant"] == QUADRANTS[0]].copy()
    hits["cholestatic"] = hits["alp_x_uln"] >= alp_threshold
    return hits.sort_values(
        ["bili_x_uln", "transaminase_x_uln"], ascending=False, kind="stable"
    ).reset_index(drop=True)


def _grade_label(grades: pd.Series) -> pd.Categorical:
    labels = [str(g) for g in GRADES] + [MISSING]
    text = grades.astype("Int64").astype("str").fillna(MISSING)
    return pd.Categorical(text, categories=labels)


def shift_table(subject_grades: pd.DataFrame, term: str) -> pd.DataFrame:
    """Baseline CTCAE grade -> worst post-baseline grade, subjects per cohort.

    Parameters
    ----------
    subject_grades : DataFrame
        ``queries.labs.lab_subject_grades``: cohort_label, term, baseline_grade, worst_grade.
    term : str
        The CTCAE term (one direction of a test, e.g. "Anemia").

    Returns
    -------
    DataFrame
        Columns cohort_label, baseline_grade ("0".."4", "missing"), then one column per worst
        post-baseline grade "0".."4", "missing", and ``total``. Every cohort has the six
        baseline rows, so empty cells read 0.

    References
    ----------
    NCI CTCAE v5.0 (2017); ICH E3 (1995) section 12.4.2: shift tables of laboratory values.
    """
    rows = subject_grades[subject_grades["term"] == term]
    cohorts = list(dict.fromkeys(subject_grades["cohort_label"].dropna()))
    base = _grade_label(rows["baseline_grade"])
    worst = _grade_label(rows["worst_grade"])
    labels = list(base.categories)
    frames = []
    for cohort in cohorts:
        mask = (rows["cohort_label"] == cohort).to_numpy()
        table = pd.crosstab(base[mask], worst[mask], dropna=False)
        table = table.reindex(index=labels, columns=labels, fill_value=0)
        table["total"] = table.sum(axis=1)
        table.index.name = "baseline_grade"
        table.columns.name = None
        table = table.reset_index()
        table.insert(0, "cohort_label", cohort)
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=["cohort_label", "baseline_grade", *labels, "total"])
    return pd.concat(frames, ignore_index=True)


def worst_grade_by_test(subject_grades: pd.DataFrame) -> dict[str, int]:
    """Each test's worst post-baseline CTCAE grade over all subjects and directions, for the
    tests with one (``queries.labs.lab_subject_grades`` rows)."""
    worst = subject_grades.groupby("test_code")["worst_grade"].max().dropna()
    return {code: int(grade) for code, grade in worst.items()}


def worst_grade_table(subject_grades: pd.DataFrame) -> pd.DataFrame:
    """Subjects by worst post-baseline CTCAE grade, n (%) per term and cohort.

    The denominator ``N`` is the subjects of the cohort with at least one graded post-baseline
    result for the term.

    Returns
    -------
    DataFrame
        Columns term, cohort_label, N, and for grade 1, 2, 3, 4 and "3-4": the count
        (``n_1`` ... ``n_3_4``) and a display text ``"2 (25.0%)"`` (``grade_1`` ...
        ``grade_3_4``). Rows in term order of appearance, then cohort order.

    References
    ----------
    NCI CTCAE v5.0 (2017); ICH E3 (1995) section 12.4.2.2.
    """
    data = subject_grades[subject_grades["post_results"].fillna(0) > 0]
    terms = list(dict.fromkeys(subject_grades["term"].dropna()))
    cohorts = list(dict.fromkeys(subject_grades["cohort_label"].dropna()))
    worst = data["worst_grade"].astype("Int64")
    counts = {
        "N": np.ones(len(data), dtype=np.int64),
        "n_1": (worst == 1).fillna(False).to_numpy(dtype=np.int64),
        "n_2": (worst == 2).fillna(False).to_numpy(dtype=np.int64),
        "n_3": (worst == 3).fillna(False).to_numpy(dtype=np.int64),
        "n_4": (worst == 4).fillna(False).to_numpy(dtype=np.int64),
        "n_3_4": (worst >= 3).fillna(False).to_numpy(dtype=np.int64),
    }
    keyed = pd.DataFrame(
        {"term": data["term"].to_numpy(), "cohort_label": data["cohort_label"].to_numpy(), **counts}
    )
    full = pd.MultiIndex.from_product([terms, cohorts], names=["term", "cohort_label"])
    out = keyed.groupby(["term", "cohort_label"]).sum().reindex(full, fill_value=0).reset_index()
    denominator = out["N"].where(out["N"] > 0)
    for key in ("1", "2", "3", "4", "3_4"):
        n = out[f"n_{key}"]
        pct = (100.0 * n / denominator).round(1)
        out[f"grade_{key}"] = pd.array(
            np.where(denominator.notna(), n.astype(str) + " (" + pct.astype(str) + "%)", "-"),
            dtype="str",
        )
    return out


def inr_assumption(labs: LabSettings) -> str:
    """Which CTCAE v5.0 INR criterion grades whom, in one sentence for pages and reports.

    CTCAE v5.0 "INR increased" has two criteria: absolute limits for patients not on
    anticoagulation, multiples of the baseline for patients on anticoagulation. admiral always
    takes the second (its worst case); the product takes the first unless the protocol says a
    subject is anticoagulated (``[labs]`` in the study configuration).

    References
    ----------
    NCI CTCAE v5.0 (2017), Investigations, "INR increased".
    """
    if labs.inr_anticoagulated:
        return ("INR is graded for every subject as on anticoagulation (study setting "
                f"[labs] inr_anticoagulated): {INR_CRITERIA['anticoagulated']} (CTCAE v5.0).")
    flagged = (f"; subjects flagged as on anticoagulation (SUPPDM {labs.anticoagulation_qnam} = "
               f"Y) by {INR_CRITERIA['anticoagulated']}" if labs.anticoagulation_qnam else "")
    return ("INR is graded as not on anticoagulation (CTCAE v5.0: "
            f"{INR_CRITERIA['not anticoagulated']}){flagged}.")
