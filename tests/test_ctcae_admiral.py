"""Expected grades ported from admiral's own tests of ``derive_var_atoxgr_dir``.

Source: pharmaverse/admiral ``tests/testthat/test-derive_var_atoxgr.R`` at commit
6eb5125a296b68eccd2f0075580b696a0900b2d3 (the commit the bundled criteria come from). Each table
keeps admiral's TESTNUM; admiral's input columns map to ours as AVAL -> value, ANRLO -> lln,
ANRHI -> uln, BASE -> baseline, PCHG -> pchg, AVALU -> unit, and BNRIND %in% high_indicator ->
baseline_abnormal. As in admiral, the input is the expected table without the grade column.
Rows admiral uses for "not a term" / missing term are kept in ``test_not_a_term``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reference.ctcae_grader import grade

NA = None
COLS = ["testnum", "term", "value", "lln", "uln", "baseline", "baseline_abnormal", "pchg",
        "unit", "grade"]


def table(term, rows, columns, **constant):
    """Build an expected table from admiral's tribble rows (column order given by `columns`)."""
    df = pd.DataFrame(rows, columns=columns)
    df.insert(0, "term", term)
    for col, value in constant.items():
        df[col] = value
    for col in COLS:
        if col not in df.columns:
            df[col] = False if col == "baseline_abnormal" else np.nan
    df["unit"] = df["unit"].astype("str")
    df["grade"] = df["grade"].astype("Int8")
    return df[COLS]


def check(expected: pd.DataFrame, units: str = "SI") -> None:
    # The reference grader, row by row; the product's SQL is checked against it in test_ctcae_sql.
    for row in expected.itertuples():
        scalar = grade(
            row.term, None if pd.isna(row.value) else row.value,
            lln=None if pd.isna(row.lln) else row.lln,
            uln=None if pd.isna(row.uln) else row.uln,
            baseline=None if pd.isna(row.baseline) else row.baseline,
            baseline_abnormal=bool(row.baseline_abnormal),
            pchg=None if pd.isna(row.pchg) else row.pchg,
            unit=None if pd.isna(row.unit) else row.unit, units=units,
        )
        assert scalar == (None if pd.isna(row.grade) else int(row.grade)), row


# Test 6a: CTCAEv5 Anemia (SI unit), exp_anemia_si
ANEMIA_SI = table("Anemia", [
    (3, 79, 140, NA, "G/L", 3),
    (4, 80, 140, NA, "G/L", 2),
    (5, 99, 140, NA, "G/L", 2),
    (6, 100, 140, NA, "G/L", 1),
    (7, 100, 140, NA, "G/cL", NA),  # wrong UNIT - GRADE should be missing
    (8, 139, 140, NA, "G/L", 1),
    (9, 140, 140, NA, "g/L", 0),
    (10, 140, NA, NA, "G/L", NA),  # ANRLO missing AVAL not grade 2 or 3 - cannot grade
    (11, 139, NA, NA, "G/L", NA),
    (12, 100, NA, NA, "G/L", NA),
    (13, 99, NA, NA, "G/L", 2),  # ANRLO missing but AVAL satisfies grade 2
    (14, 79, NA, NA, "G/L", 3),
    (15, 140, 140, NA, NA, NA),  # Unit missing cannot grade
    (16, NA, 140, NA, "G/L", NA),  # AVAL missing cannot grade
], ["testnum", "value", "lln", "uln", "unit", "grade"])


def test_6a_anemia_si():
    check(ANEMIA_SI)


def test_6b_anemia_cv():
    # exp_anemia_cv: numeric values divided by 10, unit G/L -> g/dL
    cv = ANEMIA_SI.copy()
    cv[["value", "lln"]] = cv[["value", "lln"]] / 10
    cv["unit"] = cv["unit"].where(cv["unit"].str.upper() != "G/L", "g/dL")
    check(cv, units="USCV")


def test_8a_leukocytosis_si():
    check(table("Leukocytosis", [
        (3, 101, 0, 40, "10^9/L", 3),
        (4, 100, 0, 40, "10^9/L", 0),
        (5, 99, 0, NA, "10^9/L", 0),
        (6, 99, 0, 40, "10^9/M", NA),  # wrong UNIT
        (7, 99, 0, 40, NA, NA),  # Unit missing
        (8, NA, 0, 40, "10^9/L", NA),
    ], ["testnum", "value", "lln", "uln", "unit", "grade"]))


def test_10a_aptt():
    check(table("Activated partial thromboplastin time prolonged", [
        (3, 251, 100, 3), (4, 250, 100, 2), (5, 151, 100, 2), (6, 150, 100, 1),
        (7, 101, 100, 1), (8, 100, 100, 0),
        (9, 100, NA, NA),  # ANRHI missing - cannot grade
        (10, NA, 100, NA),
    ], ["testnum", "value", "uln", "grade"]))


# Test 12a: exp_alt_ctcv4 with BASE = ANRHI, BNRIND = "NORMAL", then the baseline-abnormal rows
# with ANRHI = BASE - 1 and BNRIND = "HIGH".
ALT_NORMAL = [(3, 801, 40, 4), (4, 800, 40, 3), (5, 201, 40, 3), (6, 200, 40, 2), (7, 121, 40, 2),
              (8, 120, 40, 1), (9, 41, 40, 1), (10, 40, 40, 0), (11, 100, NA, NA),
              (12, NA, 40, NA)]
ALT_ABNORMAL = [(15, 801, 40, 4), (16, 800, 40, 3), (17, 201, 40, 3), (18, 200, 40, 2),
                (19, 121, 40, 2), (20, 120, 40, 1), (21, 60, 40, 1), (22, 59, 40, 0),
                (23, 100, NA, NA), (24, NA, 40, NA)]


@pytest.mark.parametrize("term", ["Alanine aminotransferase Increased",
                                  "Aspartate aminotransferase Increased"])
def test_12a_16a_alt_ast(term):
    normal = table(term, ALT_NORMAL, ["testnum", "value", "uln", "grade"])
    normal["baseline"] = normal["uln"]
    abnormal = table(term, ALT_ABNORMAL, ["testnum", "value", "baseline", "grade"],
                     baseline_abnormal=True)
    abnormal["uln"] = abnormal["baseline"] - 1
    check(pd.concat([normal, abnormal], ignore_index=True))


def test_14a_alkaline_phosphatase_baseline_abnormal():
    abnormal = table("Alkaline phosphatase increased", [
        (15, 801, 40, 4), (16, 800, 40, 3), (17, 201, 40, 3), (18, 200, 40, 2),
        (19, 101, 40, 2), (20, 100, 40, 1), (21, 80, 40, 1), (22, 79, 40, 0),
        (23, 100, NA, NA), (24, NA, 40, NA),
    ], ["testnum", "value", "baseline", "grade"], baseline_abnormal=True)
    abnormal["uln"] = abnormal["baseline"] - 1
    check(abnormal)


def test_18a_bilirubin():
    rows = [(3, 401, 40, 4), (4, 400, 40, 3), (5, 121, 40, 3), (6, 120, 40, 2), (7, 61, 40, 2),
            (8, 60, 40, 1), (9, 41, 40, 1), (10, 40, 40, 0), (11, 100, NA, NA), (12, NA, 40, NA)]
    abnormal = table("Blood bilirubin increased", rows, ["testnum", "value", "uln", "grade"],
                     baseline_abnormal=True)
    abnormal["baseline"] = abnormal["uln"]  # BASE = ANRHI then ANRHI = ANRHI - 1
    abnormal["uln"] = abnormal["uln"] - 1
    normal = table("Blood bilirubin increased", rows, ["testnum", "value", "uln", "grade"])
    normal["baseline"] = normal["uln"]
    check(pd.concat([abnormal, normal], ignore_index=True))


def test_20a_cd4_si():
    check(table("CD4 lymphocytes decreased", [
        (3, 0.04, 0.8, "10^9/L", 4), (4, 0.05, 0.8, "10^9/l", 3), (5, 0.19, 0.8, "10^9/L", 3),
        (6, 0.2, 0.8, "10^9/L", 2), (7, 0.49, 0.8, "10^9/L", 2),
        (8, 0.49, 0.8, "10^8/L", NA),  # wrong unit
        (9, 0.5, 0.8, "10^9/L", 1), (10, 0.79, 0.8, "10^9/L", 1), (11, 0.8, 0.8, "10^9/L", 0),
        (12, 0.04, NA, "10^9/L", 4), (13, 0.05, NA, "10^9/L", 3), (16, 0.49, NA, "10^9/L", 2),
        (17, 0.5, NA, "10^9/L", NA), (19, 0.8, NA, "10^9/L", NA),
        (20, 0.8, 0.8, NA, NA), (21, NA, 0.8, "10^9/L", NA),
    ], ["testnum", "value", "lln", "unit", "grade"]))


def test_22a_22b_cholesterol():
    check(table("Cholesterol high", [
        (3, 12.93, 5, "mmol/L", 4), (4, 12.92, 5, "mmol/L", 3), (5, 10.35, 5, "Mmol/L", 3),
        (6, 10.35, 5, "umol/L", NA), (7, 10.34, 5, "mmol/L", 2), (8, 7.76, 5, "mmol/L", 2),
        (9, 7.75, 5, "mmol/L", 1), (10, 5.1, 5, "mmol/L", 1), (11, 5, 5, "mmol/L", 0),
        (12, 12.93, NA, "mmol/L", 4), (16, 7.76, NA, "mmol/L", 2), (17, 7.75, NA, "mmol/L", NA),
        (20, 5, 5, NA, NA), (21, NA, 5, "mmol/L", NA),
    ], ["testnum", "value", "uln", "unit", "grade"]))
    check(table("Cholesterol high", [
        (3, 501, 200, "mg/dL", 4), (4, 500, 200, "mg/dL", 3), (5, 401, 200, "Mg/dL", 3),
        (6, 400, 200, "ug/dL", NA), (7, 400, 200, "mg/dL", 2), (9, 300, 200, "mg/dL", 1),
        (11, 200, 200, "mg/dL", 0), (14, 401, NA, "MG/dL", 3), (17, 300, NA, "mg/dL", NA),
        (20, 200, 200, NA, NA),
    ], ["testnum", "value", "uln", "unit", "grade"]), units="USCV")


def test_24_cpk():
    check(table("CPK increased", [
        (3, 401, 40, 4), (4, 400, 40, 3), (5, 201, 40, 3), (6, 200, 40, 2), (7, 101, 40, 2),
        (8, 100, 40, 1), (9, 41, 40, 1), (10, 40, 40, 0), (11, 100, NA, NA), (12, NA, 40, NA),
    ], ["testnum", "value", "uln", "grade"]))


def test_26a_creatinine():
    # exp_creatn rows with V5 == "Y"
    check(table("Creatinine increased", [
        (3, 241, 241, 40, 4), (4, 240, 230, 40, 3), (5, 121, 120, 40, 3), (6, 120, 119, 40, 2),
        (7, 61, 60, 40, 2), (8, 60, 60, 40, 1), (9, 41, 41, 40, 1), (10, 40, 40, 40, 0),
        # GRADE derived from AVAL against BASE
        (11, 42, 6, 40, 3), (12, 42, 13.9, 40, 3), (13, 42, 14, 40, 2), (14, 42.1, 28, 40, 2),
        (19, 42, 42, NA, NA),  # ANRHI missing - AVAL <= BASE cannot grade as NORMAL
        (20, NA, 0, 40, NA),
    ], ["testnum", "value", "baseline", "uln", "grade"]))


def test_28a_fibrinogen():
    check(table("Fibrinogen decreased", [
        (3, 0.49, NA, NA, "g/L", 4), (4, 0.49, 1, -51, "g/L", 4), (5, 0.5, 2.1, NA, "g/L", 4),
        (6, 0.5, 2.1, -51, "g/L", 4), (7, 0.5, 1.1, -75, "g/L", 4), (8, 1, 2.1, NA, "g/L", 3),
        (9, 1, 2.1, -49, "g/L", 3), (10, 1, 2, -50, "g/L", 3), (11, 1.5, 2.1, NA, "g/L", 2),
        (12, 1.5, 2.1, -10, "g/L", 2), (13, 1.5, 1.6, -25, "g/L", 2), (14, 2, 2.1, NA, "g/L", 1),
        (15, 2, 2.1, 10, "g/L", 1), (16, 1.5, 1.5, 0, "g/L", 0),
        (17, 1.5, 1.5, -1, "g/L", 0),  # AVAL = LLN so not abnormal
        (18, 1.5, 1.5, NA, "g/L", 0),
        (19, 1, NA, -75, "g/L", NA),  # LLN missing: do not know it is abnormal
        (20, 1, NA, -50, "g/L", NA), (21, 1.5, NA, -25, "g/L", NA), (22, 1.5, NA, -1, "g/L", NA),
        (23, 1.5, NA, 10, "g/L", NA), (24, NA, 1.5, 10, "g/L", NA),
        (25, 1.5, 1.5, 0, "g/dL", NA),  # wrong unit cannot grade as it may satisfy grade 4
        (26, 1.5, 1.5, 0, NA, NA),
    ], ["testnum", "value", "lln", "pchg", "unit", "grade"]))


def test_30a_ggt_baseline_abnormal():
    # BNRIND "HIGH HIGH" with high_indicator = "HIGH HIGH": baseline abnormal
    abnormal = table("GGT increased", [
        (15, 801, 40, 4), (16, 800, 40, 3), (17, 201, 40, 3), (18, 200, 40, 2), (19, 101, 40, 2),
        (20, 100, 40, 1), (21, 81, 40, 1), (22, 80, 40, 0), (23, 100, NA, NA), (24, NA, NA, NA),
    ], ["testnum", "value", "baseline", "grade"], baseline_abnormal=True)
    abnormal["uln"] = abnormal["baseline"] - 1
    check(abnormal)


def test_32a_haptoglobin():
    check(table("Haptoglobin decreased", [
        (3, 9, 10, 1), (4, 10, 10, 0), (5, 11, 10, 0), (6, NA, 10, NA), (7, 10, NA, NA),
    ], ["testnum", "value", "lln", "grade"]))


def test_34a_hemoglobin_increased_si():
    check(table("Hemoglobin increased", [
        (10, 106, 60, 65, "g/L", 3), (11, 105, 60, 65, "g/L", 2), (12, 86, 60, 65, "g/L", 2),
        (13, 85, 60, 65, "g/L", 1), (14, 66, 60, 65, "g/L", 1), (15, 65, 60, 65, "g/L", 0),
        (16, NA, 60, 65, "g/L", NA), (24, 200, 61, 65, NA, NA), (25, 200, 60, NA, "g/L", NA),
    ], ["testnum", "value", "baseline", "uln", "unit", "grade"]))


def test_36a_inr():
    check(table("INR Increased", [
        (3, 2.51, 2.6, 3), (4, 2.5, 1, 2), (5, 1.51, 1, 2), (6, 1.5, 1, 1), (7, 1.2, 1, 1),
        (8, 1.19, 1.19, 0),
        # GRADE derived from AVAL against BASE
        (9, 2.5, 0.99, 3), (10, 1.5, 0.6, 2), (11, 1.5, 0.99, 2), (12, 1.2, 0.8, 1),
        (13, 1.2, 1.19, 1), (14, 1.2, 1.2, 0),
        (15, 1.2, NA, NA),  # BASE missing - AVAL <= 1.2 cannot grade as NORMAL
        (16, NA, 100, NA),
    ], ["testnum", "value", "baseline", "grade"]))


def test_38a_lipase():
    check(table("Lipase IncreaSed", [
        (3, 501, 100, 4), (4, 500, 100, 3), (5, 201, 100, 3), (6, 200, 100, 2), (7, 151, 100, 2),
        (8, 150, 100, 1), (9, 101, 100, 1), (10, 100, 100, 0), (11, 200, NA, NA),
        (12, NA, 100, NA),
    ], ["testnum", "value", "uln", "grade"]))


def test_40a_lymphocyte_count_decreased_si():
    check(table("Lymphocyte count decreased", [
        (3, 0.19, 140, 4), (4, 0.2, 140, 3), (5, 0.49, 140, 3), (6, 0.5, 140, 2),
        (7, 0.79, 140, 2), (8, 0.8, 140, 1), (9, 1.09, 1.1, 1), (10, 1.1, 1.1, 0),
        (11, 0.19, NA, 4), (15, 0.79, NA, 2), (16, 0.8, NA, NA), (18, 1.1, NA, NA),
    ], ["testnum", "value", "lln", "grade"], unit="10^9/L"))


def test_42a_lymphocyte_count_increased_si():
    check(table("Lymphocyte count increased", [
        (3, 21, "10^9/L", 3), (4, 20, "10^9/L", 2), (5, 4.1, "10^9/L", 2), (6, 4, "10^9/L", 0),
        (7, 4, NA, NA), (8, NA, "10^9/L", NA),
    ], ["testnum", "value", "unit", "grade"]))


def test_58a_58b_hyperkalemia():
    expected = table("Hyperkalemia", [
        (3, 7.1, 5.1, 4), (4, 7, 5.1, 3), (5, 6.1, 5.1, 3), (6, 6, 5.1, 2), (7, 5.6, 5.1, 2),
        (8, 5.5, 5.1, 1), (9, 5.2, 5.1, 1), (10, 5.1, 5.1, 0), (11, 7.1, NA, 4), (15, 5.6, NA, 2),
        (16, 5.5, NA, NA), (18, 5.1, NA, NA),
    ], ["testnum", "value", "uln", "grade"], unit="mmol/L")
    check(expected)
    check(expected, units="USCV")


def test_76a_76b_hypokalemia():
    expected = table("Hypokalemia", [
        (3, 2.49, 4, 4), (4, 2.5, 4, 3), (5, 2.9, 4, 3), (6, 3, 4, 2), (7, 3.9, 4, 2),
        (8, 4, 4, 0), (9, 2.49, NA, 4), (11, 2.9, NA, 3), (12, 3, NA, NA), (14, 4, NA, NA),
    ], ["testnum", "value", "lln", "grade"], unit="mmol/L")
    check(expected)
    check(expected, units="USCV")


def test_not_a_term():
    # admiral rows 1-2 of every table: "Not a term" and NA_character_ cannot be graded
    assert grade("Not a term", 80.0, uln=40.0) is None
