"""Scenario SCN-LAB: lab DLTs graded against the baseline where CTCAE says so, and INR with and
without anticoagulation.

BOIN, target 0.30, DLT window 28 days; lab DLT criteria: ALT increased grade >= 3 (the study's)
and, to make INR grading visible in the DLT counts, INR increased grade >= 1. One case a cohort,
one subject each, first doses 2023-01-09 09:00; baseline on day -7 (LBBLFL Y), the result on
day 8; the cut-off 2023-03-31 is after every window. The study flags anticoagulated subjects
by SUPPDM QNAM ANTICOAG = Y (``[labs] anticoagulation_qnam``).

ALTABN  ALT baseline 60 U/L (ULN 40: abnormal), day 8 250 U/L: 6.25 x ULN but 4.17 x baseline
ALTNRM  ALT baseline 22, day 8 201 U/L = 5.025 x ULN
ALTEDGE ALT baseline 22, day 8 200 U/L = 5.0 x ULN exactly
INRN    INR baseline 0.98, day 8 0.99; not flagged
INRAC   INR baseline 0.98, day 8 0.99; SUPPDM ANTICOAG = Y
INRHI   INR baseline 1.0, day 8 1.3; not flagged

Conventions:
[ALT] CTCAE v5.0 "Alanine aminotransferase increased": baseline normal: >3.0 - 5.0 x ULN grade
      2, >5.0 - 20.0 x ULN grade 3; baseline abnormal: >3.0 - 5.0 x baseline grade 2, >5.0 - 20.0
      x baseline grade 3 (admiral: the baseline range indicator decides).
[INR] CTCAE v5.0 "INR increased": >1.2 - 1.5 grade 1 (not on anticoagulation); >1 - 1.5 x
      baseline grade 1 if on anticoagulation. The baseline-relative criterion applies only to
      subjects on anticoagulation (the study setting or the subject's flag); otherwise the
      absolute one.
[PREC] A reason prints the number with the precision that decided it: 5.025 x ULN, not 5.0.
"""

from __future__ import annotations

import pytest

from .sdtm import CohortSpec, Lab, Study, Subject, cohort, explain_doc, status_doc

CUTOFF = "2023-03-31"
DOSE = "2023-01-09T09:00"


def _alt(base: float, value: float) -> list[Lab]:
    return [Lab("ALT", -7, base, 40, baseline=True, name="Alanine Aminotransferase"),
            Lab("ALT", 8, value, 40, name="Alanine Aminotransferase")]


def _inr(base: float, value: float) -> list[Lab]:
    return [Lab("INR", -7, base, 1.2, unit="RATIO", lln=0.8, baseline=True, name="INR"),
            Lab("INR", 8, value, 1.2, unit="RATIO", lln=0.8, name="INR")]


# case -> (labs, SUPPDM, a DLT?, why)
CASES = {
    "ALTABN": (_alt(60, 250), (), False, "[ALT] 4.17 x an abnormal baseline: grade 2"),
    "ALTNRM": (_alt(22, 201), (), True, "[ALT] 5.025 x ULN with a normal baseline: grade 3"),
    "ALTEDGE": (_alt(22, 200), (), False, "[ALT] 5.0 x ULN is not above 5.0 x ULN: grade 2"),
    "INRN": (_inr(0.98, 0.99), (), False, "[INR] 0.99 <= 1.2, not anticoagulated: grade 0"),
    "INRAC": (_inr(0.98, 0.99), (("ANTICOAG", "Y"),), True,
              "[INR] anticoagulated: 0.99 > 1 x baseline 0.98: grade 1"),
    "INRHI": (_inr(1.0, 1.3), (), True, "[INR] 1.3 > 1.2: grade 1 either way"),
}
INR_CRITERION = '\n[[dlt.lab_criteria]]\nterm = "INR increased"\nmin_grade = 1\n'
STUDY = Study(
    "SCN-LAB",
    cohorts=[CohortSpec(case, f"Case {case}", level, float(level))
             for level, case in enumerate(CASES, start=1)],
    subjects=[Subject(f"{case}-01", case, DOSE, labs=labs, supp=supp)
              for case, (labs, supp, _, _) in CASES.items()],
    extra_toml='[labs]\nanticoagulation_qnam = "ANTICOAG"\n' + INR_CRITERION,
)
# The study setting [labs] inr_anticoagulated = true (everyone baseline-relative) is checked
# against admiral's own rule in tests/test_ctcae_sql.py, without another delivery here.


@pytest.fixture(scope="module")
def doc(build) -> dict:
    return status_doc(build(STUDY), CUTOFF)


@pytest.mark.parametrize("case", list(CASES))
def test_lab_dlt_by_the_criterion_that_applies(doc, case):
    _, _, is_dlt, why = CASES[case]
    assert cohort(doc, case)["dlts"] == int(is_dlt), why


def test_reason_prints_the_deciding_precision(build):
    # [PREC] the lab DLT's rule names 201 U/L against ULN 40: 5.025 x ULN
    events = explain_doc(build(STUDY), "ALTNRM", CUTOFF)["events"]
    lab = next(e for e in events if e["source"] == "lab")
    assert "201" in lab["verdict"] and "5.025 x ULN" in lab["verdict"], lab["verdict"]
