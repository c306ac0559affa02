"""Evaluate parsed CTCAE rules: one record at a time, or whole numpy columns at once.

Two independent interpreters of the same expression tree, so tests can check one against the
other: ``evaluate_scalar`` walks the tree with Python floats and ``None`` for NA;
``evaluate_arrays`` walks it once per column batch with numpy, NaN for NA, and ``np.select`` over
the branches. Both follow R's semantics as admiral relies on them:

- arithmetic and comparisons with NA give NA;
- ``&``, ``|`` and ``!`` use three-valued (Kleene) logic: ``FALSE & NA`` is FALSE,
  ``TRUE | NA`` is TRUE, ``!NA`` is NA;
- ``case_when`` takes the first branch whose condition is TRUE (NA counts as not TRUE) and gives
  NA when none is;
- ``signif(x, 15)`` is R's ``fprec``: scale by a power of ten, round half to even, scale back.

References
----------
pharmaverse admiral, ``R/derive_var_atoxgr.R``: rules evaluated with ``dplyr::case_when``.
R source, ``src/nmath/fprec.c``: the ``signif`` algorithm reproduced in ``signif_scalar``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np

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

log = logging.getLogger(__name__)

SIGNIF_DIGITS = 15  # admiral: get_admiral_option("signif_digits") defaults to 15
NO_GRADE = -1  # int8 code for "cannot grade" in array results

_MAX_EXACT_POW10 = 22  # R fprec: MAX_DIGITS; 10**k is exact in binary64 for k <= 22
# Outside this magnitude range the value is returned unrounded (R's fprec switches to another
# scaling near the double range limits; no lab value or limit comes anywhere close).
_SIGNIF_RANGE = (1e-200, 1e200)


# ---------------------------------------------------------------------------------------------
# signif
# ---------------------------------------------------------------------------------------------


def signif_scalar(x: float | None, digits: int = SIGNIF_DIGITS) -> float | None:
    """Round ``x`` to ``digits`` significant digits exactly as R's ``signif`` does."""
    if x is None or math.isnan(x) or not _SIGNIF_RANGE[0] < abs(x) < _SIGNIF_RANGE[1]:
        return x
    if digits > _MAX_EXACT_POW10:
        return x
    sign = -1.0 if x < 0 else 1.0
    ax = abs(x)
    e10 = int(digits - 1 - math.floor(math.log10(ax)))
    if e10 > 0:
        p10 = 10.0**e10
        return sign * (round(ax * p10) / p10)
    p10 = 10.0 ** (-e10)
    return sign * (round(ax / p10) * p10)


def signif_array(x: np.ndarray, digits: int = SIGNIF_DIGITS) -> np.ndarray:
    """Vectorised ``signif``; the same arithmetic as ``signif_scalar`` element by element."""
    x = np.asarray(x, dtype=np.float64)
    if digits > _MAX_EXACT_POW10:
        return x
    out = x.copy()
    ax_all = np.abs(x)
    ok = (ax_all > _SIGNIF_RANGE[0]) & (ax_all < _SIGNIF_RANGE[1])
    if not ok.any():
        return out
    v = x[ok]
    ax = np.abs(v)
    e10 = digits - 1 - np.floor(np.log10(ax))
    p10 = np.power(10.0, np.abs(e10))
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.where(e10 > 0, np.rint(ax * p10) / p10, np.rint(ax / p10) * p10)
    out[ok] = np.copysign(scaled, v)
    return out


# ---------------------------------------------------------------------------------------------
# Scalar interpreter
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Array interpreter
# ---------------------------------------------------------------------------------------------

_ARRAY_COMPARE = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


class _ArrayEval:
    """Evaluate nodes over columns; logical values are (is_true, is_false) mask pairs."""

    def __init__(self, columns: Mapping[str, np.ndarray], n: int, digits: int) -> None:
        self.columns = columns
        self.n = n
        self.digits = digits
        self._num_cache: dict[NumExpr, np.ndarray | float] = {}
        self._logic_cache: dict[LogicExpr, tuple[np.ndarray, np.ndarray]] = {}

    def num(self, node: NumExpr) -> np.ndarray | float:
        cached = self._num_cache.get(node)
        if cached is not None:
            return cached
        match node:
            case Num(value):
                out: np.ndarray | float = value
            case Var(name):
                col = self.columns.get(name)
                out = np.full(self.n, np.nan) if col is None else col
            case Signif(arg):
                a = self.num(arg)
                if isinstance(a, float):
                    out = signif_scalar(a, self.digits)  # type: ignore[assignment]
                else:
                    out = signif_array(a, self.digits)
            case Neg(arg):
                out = -self.num(arg)
            case Arith(op, left, right):
                a, b = self.num(left), self.num(right)
                with np.errstate(divide="ignore", invalid="ignore"):
                    if op == "+":
                        out = a + b
                    elif op == "-":
                        out = a - b
                    elif op == "*":
                        out = a * b
                    else:
                        out = np.divide(a, b)
            case _:
                raise TypeError(f"not a numeric node: {node!r}")
        self._num_cache[node] = out
        return out

    def logic(self, node: LogicExpr) -> tuple[np.ndarray, np.ndarray]:
        cached = self._logic_cache.get(node)
        if cached is not None:
            return cached
        n = self.n
        match node:
            case Bool(value):
                t = np.full(n, value)
                out = (t, ~t)
            case IsNA(arg):
                a = self.num(arg)
                t = np.broadcast_to(np.isnan(a), (n,))
                out = (t, ~t)
            case BaselineAbnormal(side):
                col = self.columns.get(f"BNRIND_{side.upper()}")
                t = np.zeros(n, dtype=bool) if col is None else col.astype(bool, copy=False)
                out = (t, ~t)
            case Compare(op, left, right):
                a, b = self.num(left), self.num(right)
                known = ~(np.isnan(a) | np.isnan(b))
                with np.errstate(invalid="ignore"):
                    res = _ARRAY_COMPARE[op](a, b)
                t = np.broadcast_to(res & known, (n,))
                f = np.broadcast_to(~res & known, (n,))
                out = (t, f)
            case Not(arg):
                t, f = self.logic(arg)
                out = (f, t)
            case And(left, right):
                t1, f1 = self.logic(left)
                t2, f2 = self.logic(right)
                out = (t1 & t2, f1 | f2)
            case Or(left, right):
                t1, f1 = self.logic(left)
                t2, f2 = self.logic(right)
                out = (t1 | t2, f1 & f2)
            case _:
                raise TypeError(f"not a logical node: {node!r}")
        self._logic_cache[node] = out
        return out


def first_true_branch(
    branches: Sequence[Branch],
    columns: Mapping[str, np.ndarray],
    n: int,
    digits: int = SIGNIF_DIGITS,
) -> np.ndarray:
    """Index of the first branch whose condition is TRUE for each of ``n`` records, else -1.

    Parameters
    ----------
    branches : sequence of Branch
        A parsed ``case_when``.
    columns : mapping of str to ndarray
        float64 arrays ``AVAL``, ``ANRLO``, ``ANRHI``, ``BASE``, ``PCHG`` (NaN = missing) and
        bool arrays ``BNRIND_HIGH`` / ``BNRIND_LOW``; absent names count as all missing/FALSE.
    n : int
        Number of records.
    digits : int
        Significant digits for ``signif``.
    """
    ev = _ArrayEval(columns, n, digits)
    conditions = [ev.logic(b.condition)[0] for b in branches]
    choices = [np.int16(i) for i in range(len(branches))]
    return np.select(conditions, choices, default=np.int16(-1)).astype(np.int16, copy=False)


def evaluate_arrays(
    branches: Sequence[Branch],
    columns: Mapping[str, np.ndarray],
    n: int,
    digits: int = SIGNIF_DIGITS,
) -> np.ndarray:
    """Grade ``n`` records at once; int8 grades with ``NO_GRADE`` (-1) where admiral gives NA.

    Same arguments as ``first_true_branch``.
    """
    index = first_true_branch(branches, columns, n, digits)
    lookup = np.array(
        [NO_GRADE if b.grade is None else b.grade for b in branches] + [NO_GRADE], dtype=np.int8
    )
    return lookup[index]  # index -1 picks the trailing NO_GRADE
