"""Which CTCAE v5.0 lab terms grade which lab test: SDTM LBTESTCD / LOINC <-> CTCAE term.

A lab test can be graded in two directions (hemoglobin: "Anemia" when low, "Hemoglobin
increased" when high); a term can be fed by several test codes (fibrinogen: FIBRINO, FIBRINOG).
The table below is the one place that says so; ``safety.ctcae.sql`` reads it.

Left out on purpose:

- ``PH``: CTCAE "Acidosis"/"Alkalosis" are blood pH, but LBTESTCD PH does not say which specimen;
  in CDISC pilot LB it is urine pH (LBCAT URINALYSIS, no unit), which the relative-free pH rule
  would grade as acidosis grade 3. Map blood pH explicitly when a study has it.
- Ionized calcium ("Hypocalcemia (Ionized)", "Hypercalcemia (Ionized)"): no test code here yet;
  add the study's code once confirmed, so total calcium is never graded as ionized.
- Glucose high: CTCAE v5.0 grades hyperglycemia clinically, not by value, so GLUC has a low term
  only. Likewise hypophosphatemia has no v5.0 lab criterion.

References
----------
NCI CTCAE v5.0 (2017): term names. CDISC SDTM Controlled Terminology, codelist LBTESTCD
(C65047): test codes. LOINC (Regenstrief Institute): codes listed are the common serum/plasma or
blood codes for each test; a study's own LOINC map takes precedence.
pharmaverse admiral, ``inst/templates/ad_adlb.R`` (``grade_lookup``): PARAMCD -> ATOXDSCL/ATOXDSCH.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

log = logging.getLogger(__name__)

Direction = Literal["L", "H"]


@dataclass(frozen=True, slots=True)
class LabTerms:
    """The CTCAE v5.0 terms that grade one lab test.

    Attributes
    ----------
    test_code : str
        SDTM LBTESTCD.
    test_name : str
        SDTM LBTEST, for messages.
    low : str or None
        Term graded when the value is low (admiral ATOXDSCL), e.g. "Anemia".
    high : str or None
        Term graded when the value is high (admiral ATOXDSCH), e.g. "Hemoglobin increased".
    loinc : tuple of str
        LOINC codes of the same test.
    """

    test_code: str
    test_name: str
    low: str | None
    high: str | None
    loinc: tuple[str, ...] = ()

    def term(self, direction: Direction) -> str | None:
        """The term for direction "L" or "H"."""
        if direction not in ("L", "H"):
            raise ValueError(f'direction must be "L" or "H", got {direction!r}')
        return self.low if direction == "L" else self.high


_MAP: tuple[LabTerms, ...] = (
    # Hematology
    LabTerms("HGB", "Hemoglobin", "Anemia", "Hemoglobin increased", ("718-7",)),
    LabTerms("WBC", "Leukocytes", "White blood cell decreased", "Leukocytosis", ("6690-2",)),
    LabTerms(
        "LYM",
        "Lymphocytes",
        "Lymphocyte count decreased",
        "Lymphocyte count increased",
        ("731-0",),
    ),
    LabTerms("NEUT", "Neutrophils", "Neutrophil count decreased", None, ("751-8",)),
    LabTerms("PLAT", "Platelets", "Platelet count decreased", None, ("777-3",)),
    LabTerms("CD4", "CD4 Cells", "CD4 lymphocytes decreased", None, ("24467-3",)),
    # Coagulation
    LabTerms("INR", "Prothrombin Intl. Normalized Ratio", None, "INR increased", ("6301-6",)),
    LabTerms(
        "APTT",
        "Activated Partial Thromboplastin Time",
        None,
        "Activated partial thromboplastin time prolonged",
        ("3173-2", "14979-9"),
    ),
    LabTerms("FIBRINO", "Fibrinogen", "Fibrinogen decreased", None, ("3255-7",)),
    LabTerms("FIBRINOG", "Fibrinogen", "Fibrinogen decreased", None),
    # Liver
    LabTerms(
        "ALT", "Alanine Aminotransferase", None, "Alanine aminotransferase increased", ("1742-6",)
    ),
    LabTerms(
        "AST",
        "Aspartate Aminotransferase",
        None,
        "Aspartate aminotransferase increased",
        ("1920-8",),
    ),
    LabTerms("ALP", "Alkaline Phosphatase", None, "Alkaline phosphatase increased", ("6768-6",)),
    LabTerms("GGT", "Gamma Glutamyl Transferase", None, "GGT increased", ("2324-2",)),
    LabTerms("BILI", "Bilirubin", None, "Blood bilirubin increased", ("1975-2",)),
    LabTerms("ALB", "Albumin", "Hypoalbuminemia", None, ("1751-7",)),
    # Kidney, muscle, pancreas, other enzymes
    LabTerms("CREAT", "Creatinine", None, "Creatinine increased", ("2160-0",)),
    LabTerms("CK", "Creatine Kinase", None, "CPK increased", ("2157-6",)),
    LabTerms(
        "LDH", "Lactate Dehydrogenase", None, "Blood lactate dehydrogenase increased", ("2532-0",)
    ),
    LabTerms("LIPASE", "Lipase", None, "Lipase increased", ("3040-3",)),
    LabTerms("AMYLASE", "Amylase", None, "Serum amylase increased", ("1798-8",)),
    LabTerms("HAPTOG", "Haptoglobin", "Haptoglobin decreased", None, ("4542-7",)),
    # Metabolism and electrolytes
    LabTerms("K", "Potassium", "Hypokalemia", "Hyperkalemia", ("2823-3",)),
    LabTerms("SODIUM", "Sodium", "Hyponatremia", "Hypernatremia", ("2951-2",)),
    LabTerms("CA", "Calcium", "Hypocalcemia", "Hypercalcemia", ("17861-6",)),
    LabTerms("MG", "Magnesium", "Hypomagnesemia", "Hypermagnesemia", ("19123-9",)),
    LabTerms("GLUC", "Glucose", "Hypoglycemia", None, ("2345-7",)),
    LabTerms("CHOL", "Cholesterol", None, "Cholesterol high", ("2093-3",)),
    LabTerms("TRIG", "Triglycerides", None, "Hypertriglyceridemia", ("2571-8",)),
    LabTerms("URATE", "Urate", None, "Hyperuricemia", ("3084-1",)),
)

LAB_TERMS: Mapping[str, LabTerms] = MappingProxyType({m.test_code: m for m in _MAP})
"""LBTESTCD -> LabTerms."""

_BY_LOINC: Mapping[str, LabTerms] = MappingProxyType({code: m for m in _MAP for code in m.loinc})


def _norm(text: str | None) -> str | None:
    if text is None or text != text:
        return None
    key = str(text).strip().upper()
    return key or None


def terms_for_test(test_code: str | None) -> LabTerms | None:
    """CTCAE terms for an SDTM LBTESTCD (case-insensitive); None when the test is not graded."""
    key = _norm(test_code)
    return LAB_TERMS.get(key) if key else None


def terms_for_loinc(loinc: str | None) -> LabTerms | None:
    """CTCAE terms for a LOINC code such as "1742-6"; None when unknown."""
    key = _norm(loinc)
    return _BY_LOINC.get(key) if key else None


def ctcae_term(test_code: str | None, direction: Direction) -> str | None:
    """The CTCAE term grading ``test_code`` in ``direction`` ("L" or "H"), or None."""
    terms = terms_for_test(test_code)
    return terms.term(direction) if terms else None


def lbtestcd_for_term(term: str) -> tuple[str, ...]:
    """LBTESTCDs graded by a CTCAE term (case-insensitive), e.g. "Anemia" -> ("HGB",)."""
    key = _norm(term)
    return tuple(m.test_code for m in _MAP if key in (_norm(m.low), _norm(m.high)))


def loinc_for_term(term: str) -> tuple[str, ...]:
    """LOINC codes graded by a CTCAE term (case-insensitive)."""
    key = _norm(term)
    return tuple(c for m in _MAP if key in (_norm(m.low), _norm(m.high)) for c in m.loinc)


def direction_of_term(term: str) -> Direction | None:
    """ "L" or "H" for a mapped CTCAE term, None when no test maps to it."""
    key = _norm(term)
    for m in _MAP:
        if key == _norm(m.low):
            return "L"
        if key == _norm(m.high):
            return "H"
    return None


def mapped_terms() -> tuple[str, ...]:
    """Every CTCAE term some test code maps to, without duplicates."""
    seen = dict.fromkeys(t for m in _MAP for t in (m.low, m.high) if t)
    return tuple(seen)
