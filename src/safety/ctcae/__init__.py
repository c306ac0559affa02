"""CTCAE v5.0 lab grading, with pharmaverse admiral's ``derive_var_atoxgr_dir`` as reference.

The criteria are data: admiral's ``atoxgr_criteria_ctcv5`` (SI) and ``atoxgr_criteria_ctcv5_uscv``
tables, shipped in ``safety/data/ctcae``. Their R ``case_when`` rules are parsed by a small parser
(``rexpr``), never evaluated as text, and run by two interpreters (``evaluate``): per record for
``grade`` and per column batch for ``grade_frame`` / ``derive_lab_grades``.

Public API
----------
grade(term, value, *, lln, uln, baseline, baseline_abnormal, pchg, unit, units) -> int | None
grade_frame(df, *, term_col, value_col, ..., units) -> DataFrame[grade, grade_reason]
derive_lab_grades(labs, *, units) -> DataFrame  (baseline, change, pchg, x_uln, low/high grades)
load_criteria(units) -> CriteriaTable            (the parsed rules with NCI's grade text)

References
----------
National Cancer Institute. Common Terminology Criteria for Adverse Events (CTCAE) v5.0, 2017.
pharmaverse admiral, ``R/derive_var_atoxgr.R``, ``data-raw/adlb_grading/ncictcaev5.json``.
"""

from safety.ctcae.criteria import (
    UNIT_EQUIVALENTS,
    CriteriaTable,
    Criterion,
    load_criteria,
    normalize_unit,
)
from safety.ctcae.derive import compute_range_flag, derive_lab_grades
from safety.ctcae.grading import (
    GRADE_DTYPE,
    compute_pchg,
    compute_pchg_array,
    grade,
    grade_frame,
    known_terms,
    term_direction,
)
from safety.ctcae.rexpr import CriteriaSyntaxError, parse_case_when

__all__ = [
    "GRADE_DTYPE",
    "UNIT_EQUIVALENTS",
    "CriteriaSyntaxError",
    "CriteriaTable",
    "Criterion",
    "compute_pchg",
    "compute_pchg_array",
    "compute_range_flag",
    "derive_lab_grades",
    "grade",
    "grade_frame",
    "known_terms",
    "load_criteria",
    "normalize_unit",
    "parse_case_when",
    "term_direction",
]
