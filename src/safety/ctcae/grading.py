"""Grade lab results by CTCAE v5.0: one value (``grade``) or a whole table (``grade_frame``).

The reference implementation is pharmaverse admiral's ``derive_var_atoxgr_dir`` with the
``atoxgr_criteria_ctcv5`` / ``atoxgr_criteria_ctcv5_uscv`` metadata. Both functions here run the
same parsed admiral rules (``safety.ctcae.criteria``) and agree with admiral record by record,
with two deliberate differences, both towards "cannot grade" or towards grading the same unit:

1. Baseline abnormal but no baseline value, for the rules that switch to multiples of baseline
   (ALT, AST, ALP, GGT, blood bilirubin): admiral's ``case_when`` treats the NA comparisons as
   FALSE and falls through to ``TRUE ~ "0"``, so ALT at 50 x ULN would be grade 0. We return
   "cannot grade" instead.
2. Units are compared case-insensitively as admiral does, after folding the spellings in
   ``UNIT_EQUIVALENTS`` (e.g. ``GI/L`` is ``10^9/L``). No unit is ever converted.

References
----------
National Cancer Institute. Common Terminology Criteria for Adverse Events (CTCAE) v5.0, 2017.
pharmaverse admiral, ``R/derive_var_atoxgr.R`` (``derive_var_atoxgr_dir``) and
``R/derive_var_pchg.R`` (percent change from baseline).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from safety.ctcae.criteria import Criterion, Units, load_criteria, normalize_term, normalize_unit
from safety.ctcae.evaluate import (
    NO_GRADE,
    SIGNIF_DIGITS,
    evaluate_scalar,
    first_true_branch,
)
from safety.ctcae.rexpr import variables_used

log = logging.getLogger(__name__)

GRADE_DTYPE = "Int8"

# Why a record has no grade, by the variable that was missing.
MISSING_REASONS: dict[str, str] = {
    "AVAL": "no numeric result",
    "ANRLO": "no lower limit of normal",
    "ANRHI": "no upper limit of normal",
    "BASE": "no baseline value",
    "PCHG": "no percent change from baseline",
}
_VAR_BITS = {name: 1 << i for i, name in enumerate(MISSING_REASONS)}
REASON_BASELINE_ABNORMAL_NO_BASE = "baseline abnormal but no baseline value"


def _check_units(units: str) -> Units:
    if units not in ("SI", "USCV"):
        raise ValueError(f'units must be "SI" or "USCV", got {units!r}')
    return units  # type: ignore[return-value]


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def compute_pchg(value: float | None, baseline: float | None) -> float | None:
    """Percent change from baseline as admiral derives PCHG.

    ``(value - baseline) / abs(baseline) * 100``; None when either is missing or baseline is 0.

    References
    ----------
    pharmaverse admiral, ``R/derive_var_pchg.R``.
    """
    if _missing(value) or _missing(baseline) or baseline == 0:
        return None
    return (float(value) - float(baseline)) / abs(float(baseline)) * 100.0  # type: ignore[arg-type]


def grade(
    term: str,
    value: float | None,
    *,
    lln: float | None = None,
    uln: float | None = None,
    baseline: float | None = None,
    baseline_abnormal: bool = False,
    pchg: float | None = None,
    unit: str | None = None,
    units: str = "SI",
) -> int | None:
    """CTCAE v5.0 grade of one lab result, as admiral's ``derive_var_atoxgr_dir`` gives it.

    Parameters
    ----------
    term : str
        CTCAE v5.0 term, case-insensitive, e.g. "Anemia", "Alanine aminotransferase increased"
        (admiral ATOXDSCL / ATOXDSCH). ``safety.labmap`` maps LBTESTCD to terms.
    value : float or None
        The result in standard units (LBSTRESN, admiral AVAL).
    lln, uln : float or None
        Lower / upper limit of normal of this result (LBSTNRLO / LBSTNRHI, ANRLO / ANRHI).
    baseline : float or None
        Baseline value of the same test (BASE).
    baseline_abnormal : bool
        Baseline outside the normal range in this term's direction: BNRIND in admiral's
        ``high_indicator`` for "increased"/hyper terms, ``low_indicator`` for low terms.
    pchg : float or None
        Percent change from baseline (PCHG); derived from ``value`` and ``baseline`` when None.
    unit : str or None
        Unit of ``value`` (LBSTRESU, AVALU), compared case-insensitively with the criterion's
        UNIT_CHECK. Needed only for terms with absolute thresholds.
    units : {"SI", "USCV"}
        Which criteria table: SI (g/L, 10^9/L, mmol/L) or US conventional (g/dL, 10^3/uL, mg/dL).

    Returns
    -------
    int or None
        0 (gradable, not abnormal by CTCAE) to 4; None when the result cannot be graded: unknown
        term, missing value, a missing limit or baseline the rule needs, or a missing or
        different unit.

    Raises
    ------
    ValueError
        When ``units`` is not "SI" or "USCV".

    References
    ----------
    NCI CTCAE v5.0 (2017), the term's grade definitions.
    pharmaverse admiral, ``derive_var_atoxgr_dir`` with ``atoxgr_criteria_ctcv5`` (SI) or
    ``atoxgr_criteria_ctcv5_uscv``: the reference implementation; ``signif(., 15)`` on both sides
    of every comparison, first matching rule wins.

    Examples
    --------
    >>> grade("Alanine aminotransferase increased", 120.0, uln=40.0)  # 3.0 x ULN
    1
    >>> grade("Anemia", 79.0, lln=120.0, unit="g/L")  # Hgb <80 g/L
    3
    """
    table = load_criteria(_check_units(units))
    criterion = table.for_term_and_unit(term, unit)
    if criterion is None:
        log.debug("cannot grade %r in unit %r (%s): no matching criterion", term, unit, units)
        return None
    if pchg is None or _missing(pchg):
        pchg = compute_pchg(value, baseline)
    if baseline_abnormal and _missing(baseline) and criterion.uses_baseline_indicator:
        return None  # deliberate difference from admiral, see module docstring
    record = {
        "AVAL": value,
        "ANRLO": lln,
        "ANRHI": uln,
        "BASE": baseline,
        "PCHG": pchg,
        "BNRIND_HIGH": bool(baseline_abnormal) and criterion.direction == "H",
        "BNRIND_LOW": bool(baseline_abnormal) and criterion.direction == "L",
    }
    return evaluate_scalar(criterion.branches, record, SIGNIF_DIGITS)


# ---------------------------------------------------------------------------------------------
# Vectorised grading
# ---------------------------------------------------------------------------------------------


class _Reasons:
    """Interned reason strings; code 0 means "graded, no reason"."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._index: dict[str, int] = {}

    def code(self, text: str) -> int:
        if text not in self._index:
            self.texts.append(text)
            self._index[text] = len(self.texts)
        return self._index[text]

    def categorical(self, codes: np.ndarray) -> pd.Categorical:
        return pd.Categorical.from_codes(codes.astype(np.int32) - 1, categories=self.texts)


def _float_column(df: pd.DataFrame, col: str | None, n: int) -> np.ndarray:
    if col is None or col not in df.columns:
        return np.full(n, np.nan)
    return pd.to_numeric(df[col]).to_numpy(dtype=np.float64, na_value=np.nan)


def _bool_column(df: pd.DataFrame, col: str | None, n: int) -> np.ndarray:
    if col is None or col not in df.columns:
        return np.zeros(n, dtype=bool)
    return pd.array(df[col], dtype="boolean").to_numpy(dtype=bool, na_value=False)


def _describe_units(criteria: Sequence[Criterion]) -> str:
    units = [c.unit for c in criteria if c.unit]
    return " or ".join(units)


def _grade_arrays(
    terms: pd.Series,
    units_col: pd.Series | None,
    columns: dict[str, np.ndarray],
    units: Units,
    reasons: _Reasons,
) -> tuple[np.ndarray, np.ndarray]:
    """Grades (int8, -1 = none) and reason codes (int32, 0 = none) for every row."""
    table = load_criteria(units)
    n = len(terms)
    grades = np.full(n, NO_GRADE, dtype=np.int8)
    reason = np.zeros(n, dtype=np.int32)

    term_codes, term_uniques = pd.factorize(terms, use_na_sentinel=True)
    if units_col is None:
        unit_codes = np.full(n, -1, dtype=np.intp)
        unit_keys: list[str | None] = []
        unit_labels: list[str] = []
    else:
        unit_codes, unit_uniques = pd.factorize(units_col, use_na_sentinel=True)
        unit_keys = [normalize_unit(u) for u in unit_uniques]
        unit_labels = [str(u) for u in unit_uniques]

    order = np.argsort(term_codes, kind="stable")
    bounds = np.searchsorted(term_codes[order], np.arange(-1, len(term_uniques) + 1))
    for k in range(-1, len(term_uniques)):
        rows = order[bounds[k + 1] : bounds[k + 2]]
        if rows.size == 0:
            continue
        if k == -1:
            reason[rows] = reasons.code("no CTCAE term")
            continue
        term = term_uniques[k]
        criteria = table.for_term(term)
        if not criteria:
            reason[rows] = reasons.code(f"no CTCAE v5.0 criterion for term {term!r}")
            continue
        remaining = rows
        for criterion in criteria:
            if remaining.size == 0:
                break
            if criterion.unit_key is None:
                take = np.ones(remaining.size, dtype=bool)
            else:
                same = [i for i, key in enumerate(unit_keys) if key == criterion.unit_key]
                take = np.isin(unit_codes[remaining], same)
            if take.any():
                _grade_rows(criterion, remaining[take], columns, grades, reason, reasons)
            remaining = remaining[~take]
        if remaining.size:
            # No unit row of this term matches these records' unit.
            wanted = _describe_units(criteria)
            per_unit = np.zeros(len(unit_keys) + 1, dtype=np.int32)
            per_unit[0] = reasons.code(f"no unit; criterion unit is {wanted}")
            for i, label in enumerate(unit_labels):
                per_unit[i + 1] = reasons.code(
                    f"unit {label} does not match criterion unit {wanted}"
                )
            reason[remaining] = per_unit[unit_codes[remaining] + 1]
    return grades, reason


def _grade_rows(
    criterion: Criterion,
    rows: np.ndarray,
    columns: dict[str, np.ndarray],
    grades: np.ndarray,
    reason: np.ndarray,
    reasons: _Reasons,
) -> None:
    sub = {name: col[rows] for name, col in columns.items() if name != "ABNORMAL"}
    # baseline_abnormal means "abnormal in this term's direction": BNRIND %in% high_indicator
    # for H terms, %in% low_indicator for L terms.
    abnormal = columns["ABNORMAL"][rows]
    no = np.zeros(rows.size, dtype=bool)
    sub["BNRIND_HIGH"] = abnormal if criterion.direction == "H" else no
    sub["BNRIND_LOW"] = abnormal if criterion.direction == "L" else no
    index = first_true_branch(criterion.branches, sub, rows.size, SIGNIF_DIGITS)
    lookup = np.array(
        [NO_GRADE if b.grade is None else b.grade for b in criterion.branches] + [NO_GRADE],
        dtype=np.int8,
    )
    g = lookup[index]
    why = np.zeros(rows.size, dtype=np.int32)

    # Which variables were missing, as a bit set per row.
    missing_bits = np.zeros(rows.size, dtype=np.int8)
    for name, bit in _VAR_BITS.items():
        missing_bits |= np.where(np.isnan(sub[name]), bit, 0).astype(np.int8)
    for i, branch in enumerate(criterion.branches):
        if branch.grade is not None:
            continue
        hit = index == i
        if not hit.any():
            continue
        used = sum(_VAR_BITS[v] for v in variables_used(branch.condition) if v in _VAR_BITS)
        bits = missing_bits[hit] & used
        codes = np.zeros(bits.size, dtype=np.int32)
        for value in np.unique(bits):
            names = [name for name, bit in _VAR_BITS.items() if value & bit]
            text = " and ".join(MISSING_REASONS[n] for n in names) or "no grade rule applies"
            codes[bits == value] = reasons.code(text)
        why[hit] = codes
    none_matched = index == -1
    if none_matched.any():
        why[none_matched] = reasons.code("no grade rule applies")

    if criterion.uses_baseline_indicator:
        # Deliberate difference from admiral (see module docstring).
        guard = abnormal & np.isnan(sub["BASE"])
        g[guard] = NO_GRADE
        why[guard] = reasons.code(REASON_BASELINE_ABNORMAL_NO_BASE)
    grades[rows] = g
    reason[rows] = why


def grade_frame(
    df: pd.DataFrame,
    *,
    term_col: str = "term",
    value_col: str = "value",
    lln_col: str | None = "lln",
    uln_col: str | None = "uln",
    baseline_col: str | None = "baseline",
    baseline_abnormal_col: str | None = "baseline_abnormal",
    pchg_col: str | None = "pchg",
    unit_col: str | None = "unit",
    units: str = "SI",
) -> pd.DataFrame:
    """CTCAE v5.0 grade of every row of a lab table, without a loop over rows.

    Rows are grouped by term (and by unit row of the criteria); each group is graded with
    ``np.select`` over the admiral rule's branches. Gives the same answer as ``grade`` on each row.

    Parameters
    ----------
    df : DataFrame
        One row per lab result.
    term_col : str
        CTCAE v5.0 term per row (case-insensitive); missing means no term to grade.
    value_col : str
        Result in standard units (LBSTRESN / AVAL).
    lln_col, uln_col : str or None
        Limits of normal (LBSTNRLO / LBSTNRHI). A column that is absent or None counts as missing.
    baseline_col : str or None
        Baseline value (BASE).
    baseline_abnormal_col : str or None
        Boolean: baseline outside the normal range in the term's direction (BNRIND in admiral's
        ``high_indicator`` / ``low_indicator``). Missing counts as FALSE, as R's ``%in%`` does.
    pchg_col : str or None
        Percent change from baseline; where missing it is derived from value and baseline as
        admiral's ``derive_var_pchg`` does.
    unit_col : str or None
        Unit of the value (LBSTRESU / AVALU).
    units : {"SI", "USCV"}
        Criteria table to use.

    Returns
    -------
    DataFrame
        Same index as ``df``, columns ``grade`` (nullable Int8, 0-4, NA = cannot grade) and
        ``grade_reason`` (categorical; why a row has no grade, NA when it has one).

    Raises
    ------
    ValueError
        When ``units`` is not "SI"/"USCV", or ``term_col`` / ``value_col`` is not in ``df``.

    References
    ----------
    NCI CTCAE v5.0 (2017). pharmaverse admiral, ``derive_var_atoxgr_dir`` (reference
    implementation) and ``derive_var_pchg``.
    """
    units_checked = _check_units(units)
    for col in (term_col, value_col):
        if col not in df.columns:
            raise ValueError(f"grade_frame: column {col!r} is not in the lab table")
    n = len(df)
    columns = {
        "AVAL": _float_column(df, value_col, n),
        "ANRLO": _float_column(df, lln_col, n),
        "ANRHI": _float_column(df, uln_col, n),
        "BASE": _float_column(df, baseline_col, n),
        "PCHG": _float_column(df, pchg_col, n),
    }
    columns["ABNORMAL"] = _bool_column(df, baseline_abnormal_col, n)
    derived = compute_pchg_array(columns["AVAL"], columns["BASE"])
    columns["PCHG"] = np.where(np.isnan(columns["PCHG"]), derived, columns["PCHG"])

    reasons = _Reasons()
    unit_series = df[unit_col] if unit_col is not None and unit_col in df.columns else None
    grades, reason = _grade_arrays(df[term_col], unit_series, columns, units_checked, reasons)
    return pd.DataFrame(
        {
            "grade": pd.arrays.IntegerArray(grades, grades == NO_GRADE),
            "grade_reason": reasons.categorical(reason),
        },
        index=df.index,
    ).astype({"grade": GRADE_DTYPE})


def compute_pchg_array(value: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Vectorised ``compute_pchg``: NaN where value or baseline is missing or baseline is 0."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = (value - baseline) / np.abs(baseline) * 100.0
    return np.where(baseline == 0, np.nan, out)


def known_terms(units: str = "SI") -> tuple[str, ...]:
    """CTCAE v5.0 terms with lab criteria in the given table, in file order."""
    return load_criteria(_check_units(units)).terms()


def term_direction(term: str) -> str | None:
    """ "L" or "H" for a CTCAE v5.0 lab term (case-insensitive), None when unknown."""
    criteria = load_criteria("SI").for_term(term)
    return criteria[0].direction if criteria else None


__all__ = [
    "GRADE_DTYPE",
    "compute_pchg",
    "compute_pchg_array",
    "grade",
    "grade_frame",
    "known_terms",
    "normalize_term",
    "term_direction",
]
