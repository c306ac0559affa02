"""Add baseline, change from baseline and CTCAE v5.0 low/high grades to the product's lab table.

``derive_lab_grades`` is the table-level step (admiral's ``derive_*`` level): it derives what
admiral's ADLB would hold (BASE, BNRIND, CHG, PCHG) and then grades each record in both
directions with ``safety.ctcae.grading`` and the LBTESTCD -> term map in ``safety.labmap``.

References
----------
NCI CTCAE v5.0 (2017).
pharmaverse admiral: ``derive_var_base`` / ``derive_var_anrind`` (baseline and its range
indicator), ``derive_var_chg`` / ``derive_var_pchg``, ``derive_var_atoxgr_dir`` (grades), and
``inst/templates/ad_adlb.R`` (ATOXDSCL / ATOXDSCH from PARAMCD).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from safety import labmap
from safety.ctcae.criteria import normalize_unit
from safety.ctcae.evaluate import NO_GRADE, SIGNIF_DIGITS, signif_array
from safety.ctcae.grading import (
    GRADE_DTYPE,
    _check_units,
    _float_column,
    _grade_arrays,
    _Reasons,
    compute_pchg_array,
)

log = logging.getLogger(__name__)

LAB_COLUMNS = (
    "study_id",
    "usubjid",
    "seq",
    "test_code",
    "value",
    "unit",
    "lln",
    "uln",
    "collected_date",
    "first_dose_date",
)
_KEYS = ["study_id", "usubjid", "test_code"]
URINE_MARKER = "URIN"  # LBCAT "URINALYSIS", "URINE CHEMISTRY": CTCAE lab criteria are blood/serum
REASON_URINE = "urine result: CTCAE v5.0 lab criteria apply to blood, serum or plasma"


def compute_range_flag(value: np.ndarray, lln: np.ndarray, uln: np.ndarray) -> np.ndarray:
    """Reference range indicator "LOW" / "NORMAL" / "HIGH" (None when unknown), as admiral.

    A value inside the limits that are present is NORMAL; below LLN is LOW; above ULN is HIGH;
    no value, or no limits at all, gives None. Both sides rounded with ``signif(., 15)``.

    References
    ----------
    pharmaverse admiral, ``R/derive_var_anrind.R`` (``derive_var_anrind``, default options).
    """
    v, lo, hi = (signif_array(a, SIGNIF_DIGITS) for a in (value, lln, uln))
    with np.errstate(invalid="ignore"):
        normal = ((v >= lo) & np.isnan(hi)) | ((v <= hi) & np.isnan(lo)) | ((v >= lo) & (v <= hi))
        conditions = [normal, v < lo, v > hi]
    return np.select(conditions, ["NORMAL", "LOW", "HIGH"], default=None)


def _baseline(labs: pd.DataFrame, dates: pd.Series, first_dose: pd.Series) -> pd.DataFrame:
    """Last non-missing value on or before first dose, per study, subject and test."""
    eligible = labs["value"].notna() & dates.notna() & first_dose.notna() & (dates <= first_dose)
    cand = labs.loc[eligible, [*_KEYS, "seq", "value", "lln", "uln", "unit"]].assign(
        _date=dates[eligible]
    )
    cand = cand.sort_values([*_KEYS, "_date", "seq"], kind="stable")
    base = cand.drop_duplicates(_KEYS, keep="last")
    return base.rename(
        columns={
            "value": "baseline",
            "lln": "baseline_lln",
            "uln": "baseline_uln",
            "unit": "baseline_unit",
        }
    )[[*_KEYS, "baseline", "baseline_lln", "baseline_uln", "baseline_unit"]]


def derive_lab_grades(labs: pd.DataFrame, *, units: str = "SI") -> pd.DataFrame:
    """Baseline, change from baseline and CTCAE v5.0 grade (low and high) for every lab result.

    Parameters
    ----------
    labs : DataFrame
        The product's lab table, one row per result, with columns ``study_id``, ``usubjid``,
        ``seq`` (LBSEQ), ``test_code`` (LBTESTCD), ``value`` (LBSTRESN), ``unit`` (LBSTRESU),
        ``lln`` / ``uln`` (LBSTNRLO / LBSTNRHI), ``collected_date`` (LBDTC) and the subject's
        ``first_dose_date`` (EX first dose, DM.RFXSTDTC). An optional ``category`` (LBCAT) lets
        urine results be recognised and left ungraded.
    units : {"SI", "USCV"}
        Which CTCAE criteria table the values are in.

    Returns
    -------
    DataFrame
        ``labs`` (same index and row order) plus:

        - ``baseline``: last non-missing value on or before first dose for the same study,
          subject and test (admiral BASE); missing when the baseline was in another unit.
        - ``baseline_range_flag``: "LOW" / "NORMAL" / "HIGH" of the baseline against its own
          limits (admiral BNRIND).
        - ``change``, ``pchg``: value - baseline; 100 x change / abs(baseline), missing when the
          baseline is 0 (admiral CHG, PCHG).
        - ``x_uln``: value / ULN.
        - ``term_low``, ``grade_low``, ``term_high``, ``grade_high``: CTCAE v5.0 term and grade
          (nullable Int8, 0-4) per direction (admiral ATOXDSCL/ATOXGRL, ATOXDSCH/ATOXGRH).
        - ``grade_reason``: why a grade is missing, e.g. "Anemia: unit mmol/L does not match
          criterion unit g/L"; missing when every mapped direction has a grade.

    Raises
    ------
    ValueError
        When a required column is missing or ``units`` is not "SI"/"USCV".

    References
    ----------
    NCI CTCAE v5.0 (2017). pharmaverse admiral: ``derive_var_base``, ``derive_var_anrind``,
    ``derive_var_chg``, ``derive_var_pchg``, ``derive_var_atoxgr_dir`` (reference
    implementation of the grading).
    """
    units_checked = _check_units(units)
    missing = [c for c in LAB_COLUMNS if c not in labs.columns]
    if missing:
        raise ValueError(f"derive_lab_grades: the lab table has no column(s) {', '.join(missing)}")
    n = len(labs)
    dates = pd.to_datetime(labs["collected_date"])
    first_dose = pd.to_datetime(labs["first_dose_date"])

    base = _baseline(labs, dates, first_dose)
    out = labs.join(base.set_index(_KEYS), on=_KEYS)
    # A baseline in another unit is not comparable with this result.
    base_unit = out.pop("baseline_unit")
    same_unit = _same_unit(out["unit"], base_unit)
    value = _float_column(out, "value", n)
    baseline = np.where(same_unit, _float_column(out, "baseline", n), np.nan)
    base_lln = _float_column(out, "baseline_lln", n)
    base_uln = _float_column(out, "baseline_uln", n)
    out = out.drop(columns=["baseline_lln", "baseline_uln"])
    range_flag = compute_range_flag(baseline, base_lln, base_uln)
    uln = _float_column(out, "uln", n)

    out["baseline"] = baseline
    out["baseline_range_flag"] = pd.array(range_flag, dtype="str")
    out["change"] = value - baseline
    out["pchg"] = compute_pchg_array(value, baseline)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["x_uln"] = np.where(uln > 0, value / uln, np.nan)

    # CTCAE terms per row from LBTESTCD.
    code_idx, codes = pd.factorize(out["test_code"], use_na_sentinel=True)
    maps = [labmap.terms_for_test(c) for c in codes]
    urine = np.zeros(n, dtype=bool)
    if "category" in out.columns:
        urine = out["category"].str.upper().str.contains(URINE_MARKER, regex=False)
        urine = urine.fillna(False).to_numpy(dtype=bool)
    terms: dict[str, pd.Series] = {}
    for side, attr in (("low", "low"), ("high", "high")):
        names = np.array([getattr(m, attr) if m else None for m in maps] + [None], dtype=object)
        per_row = names[code_idx]  # code -1 (missing test code) picks the trailing None
        per_row[urine] = None
        terms[side] = pd.Series(pd.array(per_row, dtype="str"), index=out.index)

    columns = {
        "AVAL": value,
        "ANRLO": _float_column(out, "lln", n),
        "ANRHI": uln,
        "BASE": baseline,
        "PCHG": out["pchg"].to_numpy(dtype=np.float64, na_value=np.nan),
    }
    reasons = _Reasons()
    grades: dict[str, np.ndarray] = {}
    why: dict[str, np.ndarray] = {}
    for side, flag in (("low", "LOW"), ("high", "HIGH")):
        columns["ABNORMAL"] = range_flag == flag
        grades[side], why[side] = _grade_arrays(
            terms[side], out["unit"], columns, units_checked, reasons
        )
        # No term in this direction is not a failure to grade.
        no_term = terms[side].isna().to_numpy()
        why[side][no_term] = 0

    out["term_low"] = terms["low"]
    out["grade_low"] = _int8(grades["low"])
    out["term_high"] = terms["high"]
    out["grade_high"] = _int8(grades["high"])
    out["grade_reason"] = _combine_reasons(
        code_idx, codes, maps, urine, terms, why, reasons, out.index
    )
    graded = int((grades["low"] != NO_GRADE).sum() + (grades["high"] != NO_GRADE).sum())
    log.info("graded %d lab results: %d low/high grades assigned", n, graded)
    return out


def _same_unit(unit: pd.Series, base_unit: pd.Series) -> np.ndarray:
    codes, uniques = pd.factorize(pd.concat([unit, base_unit], ignore_index=True))
    keys = np.array([normalize_unit(u) or "" for u in uniques] + [""], dtype=object)
    k = keys[codes]
    a, b = k[: len(unit)], k[len(unit) :]
    return (a == b) | (a == "") | (b == "")


def _int8(grades: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.array(pd.arrays.IntegerArray(grades, grades == NO_GRADE), dtype=GRADE_DTYPE)


def _combine_reasons(
    code_idx: np.ndarray,
    codes: pd.Index,
    maps: list[labmap.LabTerms | None],
    urine: np.ndarray,
    terms: dict[str, pd.Series],
    why: dict[str, np.ndarray],
    reasons: _Reasons,
    index: pd.Index,
) -> pd.Categorical:
    """One readable sentence per distinct (test, low reason, high reason), spread to the rows."""
    r = len(reasons.texts) + 1
    key = ((code_idx.astype(np.int64) + 1) * 2 + urine) * r * r + why["low"] * r + why["high"]
    uniq, inverse = np.unique(key, return_inverse=True)
    texts: list[str | None] = []
    for k in uniq:
        high = int(k % r)
        low = int((k // r) % r)
        is_urine = bool((k // (r * r)) % 2)
        code = int(k // (r * r * 2)) - 1
        test = codes[code] if code >= 0 else None
        mapping = maps[code] if code >= 0 else None
        if test is None:
            texts.append("no LBTESTCD")
        elif is_urine and mapping is not None:
            texts.append(REASON_URINE)
        elif mapping is None:
            texts.append(f"no CTCAE v5.0 criterion for LBTESTCD {test}")
        else:
            parts = []
            if low:
                parts.append(f"{mapping.low}: {reasons.texts[low - 1]}")
            if high:
                parts.append(f"{mapping.high}: {reasons.texts[high - 1]}")
            texts.append("; ".join(parts) or None)
    categories = sorted({t for t in texts if t is not None})
    lookup = np.array([categories.index(t) if t is not None else -1 for t in texts])
    return pd.Categorical.from_codes(lookup[inverse.ravel()], categories=categories)
