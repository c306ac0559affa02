"""CTCAE v5.0 grading as DuckDB SQL, generated from the parsed admiral rules.

The product's grader: each expression tree of ``safety.ctcae.rexpr`` is translated into a SQL
expression, so the store grades every lab row in a view (``lab_grading``, see
``lab_graded_view_sql``), stored per study in table ``lab_graded`` whenever its labs or first-dose
dates change. The tests check it record by record against an independent Python interpreter of
the same trees (``tests/reference/ctcae_grader.py``).

Safety of the generated text: identifiers come only from the fixed ``SQL_COLUMNS`` whitelist;
numbers are finite floats written as ``CAST('<repr>' AS DOUBLE)``; strings are the package's own
CTCAE terms, units and LBTESTCDs, quoted with ``sql_literal``. Nothing from a data file or a user
is pasted into SQL.

R semantics carry over directly: SQL NULL is R's NA; ``AND``/``OR``/``NOT`` are three-valued as
R's ``&``/``|``/``!``; a ``CASE WHEN`` takes the first TRUE branch (NULL is not TRUE), as
``dplyr::case_when``. ``signif(x, 15)`` is the macro ``ctcae_signif`` (``SIGNIF_MACRO_SQL``), the
same scale / round-half-even / unscale as ``signif.signif_scalar`` (R's ``fprec``).

References
----------
pharmaverse admiral, ``R/derive_var_atoxgr.R`` (``derive_var_atoxgr_dir``); NCI CTCAE v5.0 (2017).
DuckDB documentation, "CASE statement", "Macros", "round_even".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from safety.config import LabSettings
from safety.ctcae import labmap
from safety.ctcae.conversion import GRADING_CONVERSIONS
from safety.ctcae.criteria import (
    UNIT_EQUIVALENTS,
    Criterion,
    load_criteria,
    load_local_criteria,
    normalize_term,
    normalize_unit,
)
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
    variables_used,
)
from safety.ctcae.signif import SIGNIF_DIGITS, signif_scalar

# Why a record has no grade, by the variable that was missing.
MISSING_REASONS: dict[str, str] = {
    "AVAL": "no numeric result",
    "ANRLO": "no lower limit of normal",
    "ANRHI": "no upper limit of normal",
    "BASE": "no baseline value",
    "PCHG": "no percent change from baseline",
}
REASON_BASELINE_ABNORMAL_NO_BASE = "baseline abnormal but no baseline value"
URINE_MARKER = "URIN"  # LBCAT "URINALYSIS", "URINE CHEMISTRY": CTCAE lab criteria are blood/serum
REASON_URINE = "urine result: CTCAE v5.0 lab criteria apply to blood, serum or plasma"

# admiral variable -> column of the grading relation (the only identifiers ever emitted).
SQL_COLUMNS: dict[str, str] = {
    "AVAL": "g_value",
    "ANRLO": "g_lln",
    "ANRHI": "g_uln",
    "BASE": "g_base",
    "PCHG": "g_pchg",
    "BNRIND": "baseline_range_flag",
}

# R's signif(x, 15) (fprec): same steps as signif.signif_scalar, written once as a macro.
# round_even(v, 0) is round-half-to-even to an integer (C nearbyint), as fprec and Python round.
_E = "floor(log10(abs(x)))"
SIGNIF_MACRO_SQL = f"""
CREATE OR REPLACE MACRO ctcae_signif(x) AS (
    CASE WHEN x IS NULL OR isnan(x) OR abs(x) <= 1e-200 OR abs(x) >= 1e200 THEN x
         WHEN {_E} < {SIGNIF_DIGITS - 1}
         THEN sign(x) * (round_even(abs(x) * pow(10.0, {SIGNIF_DIGITS - 1} - {_E}), 0)
                         / pow(10.0, {SIGNIF_DIGITS - 1} - {_E}))
         ELSE sign(x) * (round_even(abs(x) / pow(10.0, {_E} - {SIGNIF_DIGITS - 1}), 0)
                         * pow(10.0, {_E} - {SIGNIF_DIGITS - 1}))
    END
)"""

# signif(VAR) is computed once per row into these columns.
SIGNIF_COLUMNS: dict[str, str] = {
    "AVAL": "s_value",
    "ANRLO": "s_lln",
    "ANRHI": "s_uln",
    "BASE": "s_base",
    "PCHG": "s_pchg",
}

_SQL_COMPARE = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "=", "!=": "<>"}


def sql_literal(text: str) -> str:
    """A SQL string literal of the package's own constant text (quotes doubled)."""
    if "\x00" in text:
        raise ValueError("NUL in a SQL literal")
    return "'" + text.replace("'", "''") + "'"


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"not a finite constant: {value!r}")
    return f"CAST('{float(value)!r}' AS DOUBLE)"


def num_to_sql(node: NumExpr) -> str:
    """SQL for a numeric node of a parsed admiral rule."""
    match node:
        case Num(value):
            return _number(value)
        case Var(name):
            return SQL_COLUMNS[name]
        case Signif(Var(name)):
            return SIGNIF_COLUMNS[name]
        case Signif(Num(value)):
            return _number(signif_scalar(value, SIGNIF_DIGITS))
        case Signif(arg):
            return f"ctcae_signif({num_to_sql(arg)})"
        case Neg(arg):
            return f"(-{num_to_sql(arg)})"
        case Arith(op, left, right):
            if op not in ("+", "-", "*", "/"):
                raise ValueError(f"unknown arithmetic operator {op!r}")
            return f"({num_to_sql(left)} {op} {num_to_sql(right)})"
    raise TypeError(f"not a numeric node: {node!r}")


def logic_to_sql(node: LogicExpr, direction: str) -> str:
    """SQL for a logical node; ``direction`` ("L"/"H") decides what BNRIND %in% ... means.

    As in ``grading``: ``baseline_abnormal`` is "abnormal in this term's direction", so
    ``BNRIND %in% high_indicator`` is the baseline range flag HIGH for an "H" term and FALSE for
    an "L" term (and the reverse for ``low_indicator``). Never NULL, like R's ``%in%``.
    """
    match node:
        case Bool(value):
            return "TRUE" if value else "FALSE"
        case IsNA(arg):
            return f"({num_to_sql(arg)} IS NULL)"
        case BaselineAbnormal(side):
            wanted = "H" if side == "high" else "L"
            if wanted != direction:
                return "FALSE"
            flag = "HIGH" if side == "high" else "LOW"
            return f"coalesce({SQL_COLUMNS['BNRIND']} = '{flag}', FALSE)"
        case Compare(op, left, right):
            return f"({num_to_sql(left)} {_SQL_COMPARE[op]} {num_to_sql(right)})"
        case Not(arg):
            return f"(NOT {logic_to_sql(arg, direction)})"
        case And(left, right):
            return f"({logic_to_sql(left, direction)} AND {logic_to_sql(right, direction)})"
        case Or(left, right):
            return f"({logic_to_sql(left, direction)} OR {logic_to_sql(right, direction)})"
    raise TypeError(f"not a logical node: {node!r}")


def _abnormal_sql(direction: str) -> str:
    flag = "HIGH" if direction == "H" else "LOW"
    return f"coalesce({SQL_COLUMNS['BNRIND']} = '{flag}', FALSE)"


BRANCH_NONE = -1  # no branch of the rule is TRUE
BRANCH_GUARD = -2  # baseline abnormal in the term's direction but no baseline value


def criterion_branch_sql(criterion: Criterion) -> str:
    """SQL giving the 1-based index of the first TRUE branch of the rule for a row.

    ``BRANCH_NONE`` (-1) when no branch is TRUE; ``BRANCH_GUARD`` (-2) for the one deliberate
    difference from admiral that ``grading.grade`` makes: a rule that switches on an abnormal
    baseline cannot grade when that baseline has no value. The grade is then
    ``criterion_grades_sql(criterion)[index]``; evaluating the conditions once serves both the
    grade and the reason.
    """
    arms = [
        f"WHEN {logic_to_sql(b.condition, criterion.direction)} THEN {i}"
        for i, b in enumerate(criterion.branches, 1)
    ]
    if criterion.uses_baseline_indicator:
        guard = f"{_abnormal_sql(criterion.direction)} AND {SQL_COLUMNS['BASE']} IS NULL"
        arms.insert(0, f"WHEN {guard} THEN {BRANCH_GUARD}")
    return f"CASE {' '.join(arms)} ELSE {BRANCH_NONE} END"


def criterion_grades_sql(criterion: Criterion) -> str:
    """A SQL list literal of each branch's grade (NULL for admiral's ``NA_character_``)."""
    grades = ", ".join("NULL" if b.grade is None else str(b.grade) for b in criterion.branches)
    return f"CAST([{grades}] AS TINYINT[])"


def _missing_reason_sql(branch: Branch) -> str:
    used = variables_used(branch.condition)
    parts = [
        f"CASE WHEN {SQL_COLUMNS[name]} IS NULL THEN {sql_literal(text)} END"
        for name, text in MISSING_REASONS.items()
        if name in used
    ]
    if not parts:
        return sql_literal("no grade rule applies")
    joined = f"concat_ws(' and ', {', '.join(parts)})"
    return f"coalesce(nullif({joined}, ''), {sql_literal('no grade rule applies')})"


# ---------------------------------------------------------------------------------------------
# Which criterion grades a row: by term and unit, SI table first, then US conventional.
# ---------------------------------------------------------------------------------------------


# The grading view's SQL for each local row's condition (``criteria.APPLIES_WHEN``).
APPLIES_WHEN_SQL = {"not anticoagulated": "NOT anticoagulated"}


def grading_parameters(labs: LabSettings) -> dict:
    """A study's lab-grading choices as columns of table ``rule_parameters``: INR graded
    against the baseline for everyone, and the SUPPDM QNAM that flags anticoagulated subjects."""
    return {"inr_anticoagulated": bool(labs.inr_anticoagulated),
            "anticoagulation_qnam": labs.anticoagulation_qnam}


def criteria_for_term(term: str) -> tuple[Criterion, ...]:
    """The local rows of a term (each under its condition), then its SI rows, then its US
    conventional rows; the first that applies and whose unit fits grades.

    A unit names its table (g/L vs g/dL, 10^9/L vs 10^3/uL): a result in conventional units is
    graded by admiral's ``atoxgr_criteria_ctcv5_uscv`` row, one in SI units by the SI row, and a
    rule without a unit (multiples of ULN) by the SI row, which is the same rule.
    """
    local = tuple(c for c in load_local_criteria()
                  if normalize_term(c.term) == normalize_term(term))
    return local + load_criteria("SI").for_term(term) + load_criteria("USCV").for_term(term)


def unit_key_sql(unit_col: str) -> str:
    """SQL for ``normalize_unit``: trimmed, upper case, equivalent spellings folded, '' -> NULL."""
    base = f"nullif(upper(trim({unit_col})), '')"
    folds = " ".join(
        f"WHEN {sql_literal(k.upper())} THEN {sql_literal(v.upper())}"
        for k, v in UNIT_EQUIVALENTS.items()
    )
    return f"CASE {base} {folds} ELSE {base} END" if folds else base


def _describe_units(criteria: Sequence[Criterion]) -> str:
    return " or ".join(dict.fromkeys(c.unit for c in criteria if c.unit))


class _Catalog:
    """Numbers the criteria one direction of the view can grade by (1, 2, ...)."""

    def __init__(self, terms: Iterable[str]) -> None:
        self.criteria: list[Criterion] = []
        self.by_term: dict[str, list[int]] = {}
        for term in dict.fromkeys(terms):
            ids = []
            for c in criteria_for_term(term):
                if c.unit_key is None and any(self.criteria[i - 1].unit_key is None
                                              and self.criteria[i - 1].applies_when is None
                                              for i in ids):
                    continue  # the SI row without a unit already grades every unit
                self.criteria.append(c)
                ids.append(len(self.criteria))
            self.by_term[term] = ids

    def term_id(self, term: str | None) -> int | None:
        """1-based position of a term in this catalog (None for no term)."""
        return None if term is None else list(self.by_term).index(term) + 1

    def choice_sql(self, term_id_col: str, unit_key_col: str) -> str:
        """Criterion id for a row's term id and unit key; NULL when no row of the term fits."""
        arms = []
        for k, ids in enumerate(self.by_term.values(), 1):
            picks = []
            for i in ids:
                c = self.criteria[i - 1]
                when = "TRUE" if c.applies_when is None else APPLIES_WHEN_SQL[c.applies_when]
                if c.unit_key is None:
                    picks.append(f"WHEN {when} THEN {i}")
                    if c.applies_when is None:
                        break
                    continue
                picks.append(
                    f"WHEN {when} AND {unit_key_col} = {sql_literal(c.unit_key)} THEN {i}")
            if picks:
                arms.append(f"WHEN {k} THEN CASE {' '.join(picks)} END")
        return f"CASE {term_id_col} {' '.join(arms)} END" if arms else "NULL"

    def branch_sql(self, crit_col: str) -> str:
        arms = " ".join(
            f"WHEN {i} THEN {criterion_branch_sql(c)}" for i, c in enumerate(self.criteria, 1)
        )
        return f"CASE {crit_col} {arms} END" if arms else "NULL"

    def grade_sql(self, crit_col: str, branch_col: str) -> str:
        arms = " ".join(
            f"WHEN {i} THEN {criterion_grades_sql(c)}[{branch_col}]"
            for i, c in enumerate(self.criteria, 1)
        )
        if not arms:
            return "CAST(NULL AS TINYINT)"
        return f"CASE WHEN {branch_col} > 0 THEN CASE {crit_col} {arms} END END"

    def reason_sql(self, crit_col: str, branch_col: str) -> str:
        """Why a row whose criterion was found has no grade (for rows with a NULL grade)."""
        arms = []
        for i, c in enumerate(self.criteria, 1):
            for j, b in enumerate(c.branches, 1):
                if b.grade is None:
                    arms.append(f"WHEN {i * 1000 + j} THEN {_missing_reason_sql(b)}")
        inner = f"CASE {crit_col} * 1000 + {branch_col} {' '.join(arms)} END" if arms else "NULL"
        return (
            f"CASE WHEN {branch_col} = {BRANCH_GUARD} "
            f"THEN {sql_literal(REASON_BASELINE_ABNORMAL_NO_BASE)} "
            f"WHEN {branch_col} = {BRANCH_NONE} THEN {sql_literal('no grade rule applies')} "
            f"ELSE {inner} END"
        )

    def wanted_units_sql(self, term_id_col: str) -> str:
        arms = " ".join(
            f"WHEN {k} THEN {sql_literal(_describe_units([self.criteria[i - 1] for i in ids]))}"
            for k, ids in enumerate(self.by_term.values(), 1)
        )
        return f"CASE {term_id_col} {arms} END" if arms else "NULL"


def _lab_map_sql(
    tests: Mapping[str, labmap.LabTerms], cat_low: _Catalog, cat_high: _Catalog
) -> str:
    """A VALUES list: LBTESTCD (upper case) -> term and catalog id per direction."""

    def lit(v: str | None) -> str:
        return "NULL" if v is None else sql_literal(v)

    def num(v: int | None) -> str:
        return "NULL" if v is None else str(v)

    rows = ", ".join(
        f"({sql_literal(code.upper())}, {lit(m.low)}, {lit(m.high)}, "
        f"{num(cat_low.term_id(m.low))}, {num(cat_high.term_id(m.high))})"
        for code, m in tests.items()
    )
    if not rows:
        return (
            "SELECT CAST(NULL AS VARCHAR) AS test_key, CAST(NULL AS VARCHAR) AS map_low, "
            "CAST(NULL AS VARCHAR) AS map_high, CAST(NULL AS INTEGER) AS low_id, "
            "CAST(NULL AS INTEGER) AS high_id WHERE FALSE"
        )
    return f"SELECT * FROM (VALUES {rows}) t(test_key, map_low, map_high, low_id, high_id)"


def _unit_reason_sql(cat: _Catalog, term_id_col: str) -> str:
    wanted = cat.wanted_units_sql(term_id_col)
    return (
        f"CASE WHEN unit_key IS NULL THEN 'no unit; criterion unit is ' || {wanted} "
        f"ELSE 'unit ' || unit || ' does not match criterion unit ' || {wanted} END"
    )


def lab_graded_view_sql(lab_terms: Mapping[str, labmap.LabTerms] | None = None) -> str:
    """DDL of the ``lab_graded`` view: every current lab row with its baseline and CTCAE grades.

    Generated at schema creation (``safety.store.create_schema``) from the bundled admiral
    criteria and ``safety.ctcae.labmap``; the text depends only on the package, never on data.

    Parameters
    ----------
    lab_terms : mapping of LBTESTCD to LabTerms, optional
        Which terms grade which test; default ``labmap.LAB_TERMS`` (tests pass others).

    Notes
    -----
    Columns: every column of ``lab``, then

    - ``first_dose_date``: the subject's current DM.RFXSTDTC;
    - ``baseline``: last non-missing value on or before first dose for the same study, subject
      and test (ties on the date: the highest LBSEQ), NULL when it is in another unit (admiral
      BASE, as ``derive_lab_grades``);
    - ``baseline_range_flag``: LOW / NORMAL / HIGH of the baseline against its own limits
      (admiral BNRIND via ``derive_var_anrind``);
    - ``change``, ``pchg``, ``x_uln``: value - baseline, 100 x change / abs(baseline) (NULL when
      baseline is 0), value / ULN (NULL unless ULN > 0);
    - ``grading_unit``, ``grading_factor``: the unit graded in and the factor applied to value,
      limits and baseline first (``safety.ctcae.conversion``: HGB mmol/L x 16.11 -> g/L);
    - ``term_low``, ``grade_low``, ``term_high``, ``grade_high``: CTCAE v5.0 terms and grades
      0-4 (TINYINT, NULL = cannot grade) per direction (admiral ATOXDSCL/ATOXGRL,
      ATOXDSCH/ATOXGRH); ``worst_grade``: the larger of the two;
    - ``grade_reason``: why a mapped row has no grade in a direction ("Anemia: no lower limit of
      normal"), or why the row is not graded at all ("no CTCAE v5.0 criterion for LBTESTCD
      CRP", urine); NULL when every mapped direction has a grade.

    References
    ----------
    NCI CTCAE v5.0 (2017). pharmaverse admiral: ``derive_var_base``, ``derive_var_anrind``,
    ``derive_var_chg``, ``derive_var_pchg``, ``derive_var_atoxgr_dir``.
    """
    tests = labmap.LAB_TERMS if lab_terms is None else lab_terms
    cat_low = _Catalog(m.low for m in tests.values() if m.low)
    cat_high = _Catalog(m.high for m in tests.values() if m.high)
    unit_key = unit_key_sql("l.unit")
    conv = [
        (
            f"upper(trim(l.test_code)) = {sql_literal(c.test_code)} "
            f"AND {unit_key} = {sql_literal(c.from_unit)}",
            c,
        )
        for c in GRADING_CONVERSIONS
    ]
    factor_sql = (
        "CASE " + " ".join(f"WHEN {w} THEN {_number(c.factor)}" for w, c in conv) + " ELSE 1.0 END"
        if conv
        else "1.0"
    )
    grading_unit_sql = (
        "CASE "
        + " ".join(f"WHEN {w} THEN {sql_literal(normalize_unit(c.to_unit) or '')}" for w, c in conv)
        + f" ELSE {unit_key} END"
        if conv
        else unit_key
    )
    signif = ",\n           ".join(
        f"ctcae_signif({SQL_COLUMNS[v]}) AS {col}" for v, col in SIGNIF_COLUMNS.items()
    )
    s_base, s_lo, s_hi = (
        "ctcae_signif(baseline)",
        "ctcae_signif(baseline_lln)",
        "ctcae_signif(baseline_uln)",
    )
    urine = f"coalesce(contains(upper(l.category), {sql_literal(URINE_MARKER)}), FALSE)"
    return f"""
CREATE OR REPLACE VIEW lab_grading AS
WITH lab_map AS ({_lab_map_sql(tests, cat_low, cat_high)}),
lab_in AS (
    SELECT l.*, s.first_dose_date, s.first_dose_at,
           coalesce(rp.inr_anticoagulated, FALSE) OR coalesce(ac.flagged, FALSE)
               AS anticoagulated,
           {unit_key} AS unit_key,
           CAST({factor_sql} AS DOUBLE) AS grading_factor,
           {grading_unit_sql} AS grading_unit,
           m.test_key IS NOT NULL AS is_mapped,
           {urine} AS is_urine,
           m.map_low, m.map_high, m.low_id, m.high_id
    FROM current_lab l
    LEFT JOIN (SELECT study_id, usubjid, any_value(first_dose_date) AS first_dose_date,
                      any_value(first_dose_at) AS first_dose_at
               FROM current_subject GROUP BY ALL) s USING (study_id, usubjid)
    LEFT JOIN lab_map m ON m.test_key = upper(trim(l.test_code))
    LEFT JOIN rule_parameters rp ON rp.study_id = l.study_id
    LEFT JOIN (SELECT q.study_id, q.usubjid, bool_or(upper(trim(q.qval)) = 'Y') AS flagged
               FROM current_supp_qualifier q
               JOIN rule_parameters p ON p.study_id = q.study_id
               WHERE q.rdomain = 'DM' AND upper(q.qnam) = upper(p.anticoagulation_qnam)
               GROUP BY ALL) ac ON ac.study_id = l.study_id AND ac.usubjid = l.usubjid
),
base AS (
    SELECT study_id, usubjid, test_code,
           arg_max({{'value': value, 'lln': lln, 'uln': uln, 'unit_key': unit_key}},
                   date_diff('day', DATE '1970-01-01', collected_date) * 4294967296 + seq)
               AS b
    FROM lab_in
    WHERE value IS NOT NULL
      AND CASE WHEN collected_at IS NOT NULL AND first_dose_at IS NOT NULL
               THEN collected_at <= first_dose_at ELSE collected_date <= first_dose_date END
    GROUP BY ALL
),
with_base AS (
    SELECT l.*,
           CASE WHEN l.unit_key IS NULL OR b.b.unit_key IS NULL OR l.unit_key = b.b.unit_key
                THEN b.b.value END AS baseline,
           b.b.lln AS baseline_lln, b.b.uln AS baseline_uln
    FROM lab_in l LEFT JOIN base b USING (study_id, usubjid, test_code)
),
flagged AS (
    SELECT * EXCLUDE (baseline_lln, baseline_uln, map_low, map_high, low_id, high_id),
           CASE
             WHEN ({s_base} >= {s_lo} AND baseline_uln IS NULL)
               OR ({s_base} <= {s_hi} AND baseline_lln IS NULL)
               OR ({s_base} >= {s_lo} AND {s_base} <= {s_hi}) THEN 'NORMAL'
             WHEN {s_base} < {s_lo} THEN 'LOW'
             WHEN {s_base} > {s_hi} THEN 'HIGH'
           END AS baseline_range_flag,
           value - baseline AS change,
           CASE WHEN baseline <> 0 THEN (value - baseline) / abs(baseline) * 100.0 END AS pchg,
           CASE WHEN uln > 0 THEN value / uln END AS x_uln,
           value * grading_factor AS g_value,
           lln * grading_factor AS g_lln,
           uln * grading_factor AS g_uln,
           baseline * grading_factor AS g_base,
           CASE WHEN baseline <> 0 THEN (value * grading_factor - baseline * grading_factor)
                / abs(baseline * grading_factor) * 100.0 END AS g_pchg,
           CASE WHEN NOT is_urine THEN map_low END AS term_low,
           CASE WHEN NOT is_urine THEN map_high END AS term_high,
           CASE WHEN NOT is_urine THEN low_id END AS term_low_id,
           CASE WHEN NOT is_urine THEN high_id END AS term_high_id
    FROM with_base
),
chosen AS (
    SELECT *,
           {signif},
           {cat_low.choice_sql("term_low_id", "grading_unit")} AS crit_low,
           {cat_high.choice_sql("term_high_id", "grading_unit")} AS crit_high
    FROM flagged
),
branched AS (
    SELECT *,
           {cat_low.branch_sql("crit_low")} AS branch_low,
           {cat_high.branch_sql("crit_high")} AS branch_high
    FROM chosen
),
graded AS (
    SELECT *,
           {cat_low.grade_sql("crit_low", "branch_low")} AS grade_low,
           {cat_high.grade_sql("crit_high", "branch_high")} AS grade_high
    FROM branched
),
reasons AS (
    SELECT *,
           CASE WHEN term_low IS NULL OR grade_low IS NOT NULL THEN NULL
                WHEN crit_low IS NULL THEN {_unit_reason_sql(cat_low, "term_low_id")}
                ELSE {cat_low.reason_sql("crit_low", "branch_low")} END AS reason_low,
           CASE WHEN term_high IS NULL OR grade_high IS NOT NULL THEN NULL
                WHEN crit_high IS NULL THEN {_unit_reason_sql(cat_high, "term_high_id")}
                ELSE {cat_high.reason_sql("crit_high", "branch_high")} END AS reason_high
    FROM graded
)
SELECT * EXCLUDE (unit_key, is_mapped, is_urine, g_value, g_lln, g_uln, g_base, g_pchg,
                  s_value, s_lln, s_uln, s_base, s_pchg, crit_low, crit_high,
                  branch_low, branch_high, reason_low, reason_high, term_low_id,
                  term_high_id),
       CAST(CASE WHEN grade_low IS NULL THEN grade_high
                 WHEN grade_high IS NULL THEN grade_low
                 ELSE greatest(grade_low, grade_high) END AS TINYINT) AS worst_grade,
       CASE WHEN is_mapped AND is_urine THEN {sql_literal(REASON_URINE)}
            WHEN NOT is_mapped THEN 'no CTCAE v5.0 criterion for LBTESTCD ' || test_code
            ELSE nullif(concat_ws('; ', term_low || ': ' || reason_low,
                                  term_high || ': ' || reason_high), '')
       END AS grade_reason
FROM reasons
"""


def schema_sql() -> str:
    """The generated part of the schema: the ``ctcae_signif`` macro, the ``lab_grading`` view
    (grades computed on read) and the ``lab_graded`` table that stores its rows.

    The table is what readers query: DuckDB needs about 0.55 s just to plan a query on the
    generated view, whatever the data size (1.7 s on an earlier DuckDB), and grading 1M rows
    takes seconds, so the grades are materialised per study whenever its labs or first-dose
    dates change (``queries.labs.refresh_lab_grades``).
    """
    return (SIGNIF_MACRO_SQL + ";\n" + lab_graded_view_sql() + ";\n"
            + "CREATE TABLE lab_graded AS SELECT * FROM lab_grading LIMIT 0;\n")
