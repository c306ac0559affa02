"""The R-rule parser (safe, complete for the bundled tables) and the LBTESTCD <-> term map."""

from __future__ import annotations

import pytest
from reference.ctcae_grader import evaluate_scalar, known_terms

from safety.ctcae import labmap
from safety.ctcae.criteria import load_criteria
from safety.ctcae.rexpr import (
    And,
    BaselineAbnormal,
    Compare,
    CriteriaSyntaxError,
    Not,
    Signif,
    parse_case_when,
)


@pytest.mark.parametrize("units, rows", [("SI", 40), ("USCV", 46)])
def test_every_bundled_rule_parses(units, rows):
    table = load_criteria(units)
    assert len(table.criteria) == rows  # README: 40 rows (SI), 46 rows (USCV)
    for c in table.criteria:
        assert set(c.variables) >= {"AVAL"}


def test_last_branch_is_true_gives_zero():
    for units in ("SI", "USCV"):
        for c in load_criteria(units).criteria:
            assert c.branches[-1].grade == 0, c.term


def test_parse_alt_baseline_branch():
    branches = parse_case_when(
        'case_when(BNRIND %in% high_indicator & signif(AVAL, signif_dig) >= '
        'signif(1.5*BASE, signif_dig) ~ "1", !(BNRIND %in% high_indicator) ~ NA_character_)'
    )
    first = branches[0]
    assert isinstance(first.condition, And)
    assert first.condition.left == BaselineAbnormal("high")
    assert isinstance(first.condition.right, Compare) and first.condition.right.op == ">="
    assert isinstance(first.condition.right.left, Signif)
    assert branches[1].grade is None and isinstance(branches[1].condition, Not)


@pytest.mark.parametrize("code", [
    'case_when(system("rm -rf /") ~ "1")',
    'case_when(AVAL > 1 ~ "5")',
    'case_when(eval(parse(text = "1")) ~ "1")',
    'case_when(AVAL > 1 ~ "1"); system("x")',
    'case_when(__import__("os") ~ "1")',
    'case_when(AVAL > ANRHI ~ 1)',
    'case_when(AVAL > 1 && BASE > 1 ~ "1")',
    'case_when(USUBJID > 1 ~ "1")',
])
def test_anything_outside_the_grammar_is_rejected(code):
    with pytest.raises(CriteriaSyntaxError):
        parse_case_when(code)


def test_three_valued_logic_as_r():
    # FALSE & NA is FALSE; TRUE | NA is TRUE; !NA is NA (so the branch is not taken)
    rule = parse_case_when('case_when(!is.na(BASE) & AVAL > BASE ~ "1", '
                           'AVAL > 1 | AVAL > BASE ~ "2", !(AVAL > BASE) ~ "3", TRUE ~ "0")')
    assert evaluate_scalar(rule, {"AVAL": 5.0, "BASE": None}) == 2
    assert evaluate_scalar(rule, {"AVAL": 0.5, "BASE": None}) == 0
    assert evaluate_scalar(rule, {"AVAL": 0.5, "BASE": 1.0}) == 3


# ------------------------------------------------------------------------------------ labmap
@pytest.mark.parametrize("code, low, high", [
    ("HGB", "Anemia", "Hemoglobin increased"),
    ("ALT", None, "Alanine aminotransferase increased"),
    ("WBC", "White blood cell decreased", "Leukocytosis"),
    ("LYM", "Lymphocyte count decreased", "Lymphocyte count increased"),
    ("K", "Hypokalemia", "Hyperkalemia"),
    ("SODIUM", "Hyponatremia", "Hypernatremia"),
    ("CA", "Hypocalcemia", "Hypercalcemia"),
    ("GLUC", "Hypoglycemia", None),  # hyperglycemia is not lab-graded in CTCAE v5.0
    ("CK", None, "CPK increased"),
    ("URATE", None, "Hyperuricemia"),
    ("FIBRINO", "Fibrinogen decreased", None),
    ("FIBRINOG", "Fibrinogen decreased", None),
    ("MG", "Hypomagnesemia", "Hypermagnesemia"),
    ("alt", None, "Alanine aminotransferase increased"),
])
def test_lbtestcd_to_terms(code, low, high):
    terms = labmap.terms_for_test(code)
    assert (terms.low, terms.high) == (low, high)
    assert labmap.ctcae_term(code, "L") == low and labmap.ctcae_term(code, "H") == high


def test_unmapped_tests():
    assert labmap.terms_for_test("PROT") is None
    assert labmap.terms_for_test("PH") is None  # urine pH must never grade as acidosis
    assert labmap.terms_for_test(None) is None


def test_term_to_test_codes_and_loinc():
    assert labmap.lbtestcd_for_term("Anemia") == ("HGB",)
    assert labmap.lbtestcd_for_term("fibrinogen decreased") == ("FIBRINO", "FIBRINOG")
    assert labmap.terms_for_loinc("1742-6").test_code == "ALT"
    assert "718-7" in labmap.loinc_for_term("Hemoglobin increased")
    assert labmap.direction_of_term("Leukocytosis") == "H"


@pytest.mark.parametrize("units", ["SI", "USCV"])
def test_every_mapped_term_has_a_criterion_in_the_right_direction(units):
    table = load_criteria(units)
    for m in labmap.LAB_TERMS.values():
        for direction, term in (("L", m.low), ("H", m.high)):
            if term:
                criteria = table.for_term(term)
                assert criteria, term
                assert {c.direction for c in criteria} == {direction}, term


def test_criteria_terms_not_reachable_from_a_test_code_are_the_documented_ones():
    unmapped = set(known_terms("SI")) - set(labmap.mapped_terms())
    assert unmapped == {"Acidosis", "Alkalosis", "Hypercalcemia (Ionized)",
                        "Hypocalcemia (Ionized)"}
