"""The reference CTCAE v5.0 grader of the tests: one record at a time, in plain Python.

An independent interpreter of the parsed admiral rules (``safety.ctcae.rexpr``), written to R's
semantics as admiral relies on them, against which the product's generated SQL
(``safety.ctcae.sql``, the ``lab_grading`` view) is checked record by record, and which the
threshold tests check against the CTCAE text:

- arithmetic and comparisons with NA give NA;
- ``&``, ``|`` and ``!`` use three-valued (Kleene) logic: ``FALSE & NA`` is FALSE,
  ``TRUE | NA`` is TRUE, ``!NA`` is NA;
- ``case_when`` takes the first branch whose condition is TRUE (NA counts as not TRUE) and gives
  NA when none is;
- ``signif(x, 15)`` is R's ``fprec`` (``safety.ctcae.signif``).

A deliberate difference from admiral: an abnormal baseline without a baseline value cannot be
graded (admiral falls through to grade 0).

References
----------
pharmaverse admiral, ``R/derive_var_atoxgr.R`` (``derive_var_atoxgr_dir``), with
``atoxgr_criteria_ctcv5`` (SI) and ``atoxgr_criteria_ctcv5_uscv``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from safety.ctcae.criteria import Units, load_criteria
from safety.ctcae.rexpr import (
    And,
    Arith,
    BaselineAbnormal,
    Bool,
    Branch,
    Compare,
    IsNA,
    LogicExpr,
    Neg,
    Not,
    Num,
    NumExpr,
    Or,
    Signif,
    Var,
)
from safety.ctcae.signif import SIGNIF_DIGITS, signif_scalar

Record = Mapping[str, float | bool | None]


def _num(node: NumExpr, rec: Record, digits: int) -> float | None:
    match node:
        case Num(value):
            return value
        case Var(name):
            v = rec.get(name)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return None
            return float(v)
        case Signif(arg):
            return signif_scalar(_num(arg, rec, digits), digits)
        case Neg(arg):
            a = _num(arg, rec, digits)
            return None if a is None else -a
        case Arith(op, left, right):
            a, b = _num(left, rec, digits), _num(right, rec, digits)
            if a is None or b is None:
                return None
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if b == 0.0:  # R gives Inf/NaN; no v5 rule divides, kept for completeness
                return math.copysign(math.inf, a) if a != 0.0 else None
            return a / b
    raise TypeError(f"not a numeric node: {node!r}")


_SCALAR_COMPARE = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _logic(node: LogicExpr, rec: Record, digits: int) -> bool | None:
    match node:
        case Bool(value):
            return value
        case IsNA(arg):
            return _num(arg, rec, digits) is None
        case BaselineAbnormal(side):
            return bool(rec.get(f"BNRIND_{side.upper()}") or False)
        case Compare(op, left, right):
            a, b = _num(left, rec, digits), _num(right, rec, digits)
            if a is None or b is None:
                return None
            return _SCALAR_COMPARE[op](a, b)
        case Not(arg):
            a = _logic(arg, rec, digits)
            return None if a is None else not a
        case And(left, right):
            a, b = _logic(left, rec, digits), _logic(right, rec, digits)
            if a is False or b is False:
                return False
            if a is None or b is None:
                return None
            return True
        case Or(left, right):
            a, b = _logic(left, rec, digits), _logic(right, rec, digits)
            if a is True or b is True:
                return True
            if a is None or b is None:
                return None
            return False
    raise TypeError(f"not a logical node: {node!r}")


def evaluate_scalar(
    branches: Sequence[Branch], record: Record, digits: int = SIGNIF_DIGITS
) -> int | None:
    """Grade one record: the grade of the first branch whose condition is TRUE, else None.

    Parameters
    ----------
    branches : sequence of Branch
        A parsed ``case_when``.
    record : mapping
        ``AVAL``, ``ANRLO``, ``ANRHI``, ``BASE``, ``PCHG`` as float or None, and
        ``BNRIND_HIGH`` / ``BNRIND_LOW`` as bool (baseline abnormal high / low).
    digits : int
        Significant digits for ``signif`` (admiral's ``signif_dig``).
    """
    for branch in branches:
        if _logic(branch.condition, record, digits) is True:
            return branch.grade
    return None


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
        (admiral ATOXDSCL / ATOXDSCH). ``safety.ctcae.labmap`` maps LBTESTCD to terms.
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


def known_terms(units: str = "SI") -> tuple[str, ...]:
    """CTCAE v5.0 terms with lab criteria in the given table, in file order."""
    return load_criteria(_check_units(units)).terms()


def term_direction(term: str) -> str | None:
    """ "L" or "H" for a CTCAE v5.0 lab term (case-insensitive), None when unknown."""
    criteria = load_criteria("SI").for_term(term)
    return criteria[0].direction if criteria else None

