"""Unit conversions made before grading, for results reported in a unit CTCAE v5.0 does not grade.

One conversion today: hemoglobin in mmol/L (CDISC pilot LBSTRESU for HGB) to g/L. CTCAE v5.0's
own Anemia text gives the SI thresholds in both units, "<LLN - 100 g/L; <LLN - 6.2 mmol/L"
(grade 1), "<100 - 80 g/L; <6.2 - 4.9 mmol/L" (grade 2), "<80 g/L; <4.9 mmol/L" (grade 3),
which are the same cut-offs converted with the hemoglobin monomer (one haem, M = 16,114.5 g/mol)
factor 0.6206 mmol/L per g/dL, i.e. 16.11 g/L per mmol/L (100 g/L = 6.21 mmol/L). We convert the
value, its limits and its baseline with that factor and grade against admiral's g/L criterion,
so "Hemoglobin increased" (which CTCAE gives in g/dL only) is graded too.

Note: CTCAE prints 80 g/L as "4.9 mmol/L"; 80 g/L is 4.97 mmol/L. A result in [4.90, 4.97)
mmol/L is therefore grade 3 here (converted: < 80 g/L) and grade 2 by the rounded mmol/L text.
We keep the conversion (the g/L threshold is the one CTCAE states first and admiral grades by).

Conversions are identified by LBTESTCD and the normalised unit; no other unit is ever changed
(the criteria never convert; this is a lab-table step, like baseline derivation).

References
----------
NCI CTCAE v5.0 (2017), Blood and lymphatic system disorders, "Anemia" (SI text with g/L and
mmol/L). Young DS. Implementation of SI units for clinical laboratory data. Ann Intern Med
1987;106:114-129 (hemoglobin, monomer: g/dL x 0.6206 = mmol/L).
"""

from __future__ import annotations

from dataclasses import dataclass

from safety.ctcae.criteria import normalize_unit

HGB_G_PER_L_PER_MMOL_L = 16.11  # Young (1987): 1 g/dL Hb (monomer) = 0.6206 mmol/L -> 10/0.6206


@dataclass(frozen=True, slots=True)
class GradingConversion:
    """Multiply a test's value, limits and baseline by ``factor`` to grade it in ``to_unit``.

    Attributes
    ----------
    test_code : str
        SDTM LBTESTCD (upper case).
    from_unit : str
        The reported unit, normalised (upper case, as ``normalize_unit``).
    to_unit : str
        The unit of the CTCAE criterion it is graded by.
    factor : float
        to_unit per from_unit.
    source : str
        Where the factor comes from.
    """

    test_code: str
    from_unit: str
    to_unit: str
    factor: float
    source: str


GRADING_CONVERSIONS: tuple[GradingConversion, ...] = (
    GradingConversion(
        "HGB",
        "MMOL/L",
        "g/L",
        HGB_G_PER_L_PER_MMOL_L,
        "CTCAE v5.0 Anemia (g/L and mmol/L); Young, Ann Intern Med 1987 (Hb monomer 0.6206)",
    ),
)


def grading_conversion(test_code: str | None, unit: str | None) -> GradingConversion | None:
    """The conversion a result of ``test_code`` in ``unit`` is graded through, if any."""
    wanted = ((test_code or "").upper(), normalize_unit(unit))
    return next((c for c in GRADING_CONVERSIONS if (c.test_code, c.from_unit) == wanted), None)
