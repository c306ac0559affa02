"""The CTCAE v5.0 lab criteria tables (admiral's, shipped in ``safety/data/ctcae``), parsed once.

Each row of ``ctcae_v5_lab_criteria.csv`` (SI units) or ``ctcae_v5_lab_criteria_uscv.csv`` (US
conventional units) becomes a frozen ``Criterion`` that keeps the NCI wording of every grade next
to the parsed rule, so a reviewer can read one against the other.

``ctcae_v5_lab_criteria_local.csv`` (same columns plus ``APPLIES_WHEN``) holds this product's
own rows: a CTCAE v5.0 criterion that admiral leaves out because it takes one worst case. Its one
row is INR increased for patients **not** on anticoagulation (absolute limits >1.2, >1.5, >2.5);
admiral's row ("Take worst case and assume on anticoagulation", multiples of the baseline) then
applies only to subjects flagged as anticoagulated (``config.LabSettings``).

References
----------
National Cancer Institute. Common Terminology Criteria for Adverse Events (CTCAE) v5.0,
27 November 2017.
pharmaverse admiral, ``atoxgr_criteria_ctcv5`` and ``atoxgr_criteria_ctcv5_uscv``
(``data-raw/adlb_grading/ncictcaev5.json``, ``ncictcaev5_uscv.json``), admiral 1.5.0.9003.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from safety.ctcae.rexpr import Branch, CriteriaSyntaxError, parse_case_when, variables_used
from safety.errors import SafetyError

log = logging.getLogger(__name__)

Units = Literal["SI", "USCV"]
Direction = Literal["L", "H"]

CRITERIA_FILES: dict[str, str] = {
    "SI": "ctcae_v5_lab_criteria.csv",
    "USCV": "ctcae_v5_lab_criteria_uscv.csv",
}
LOCAL_CRITERIA_FILE = "ctcae_v5_lab_criteria_local.csv"
# When a local row applies: a condition on the subject, by name (the grading view's column).
APPLIES_WHEN = ("not anticoagulated",)

# Spellings of the same unit that admiral's plain case-insensitive comparison would reject.
# Only identical quantities belong here, never conversions: "GI/L" is giga (10^9) per litre
# (BIPM SI Brochure, 9th ed., Table 7, prefix giga = 10^9), the spelling CDISC pilot LB uses
# for blood counts in LBSTRESU.
UNIT_EQUIVALENTS: dict[str, str] = {
    "GI/L": "10^9/L",
}


def normalize_unit(unit: str | None) -> str | None:
    """Upper-case, trimmed unit with known equivalent spellings folded together."""
    if unit is None or unit != unit:  # None or NaN
        return None
    key = str(unit).strip().upper()
    if not key:
        return None
    return UNIT_EQUIVALENTS.get(key, key).upper()


def normalize_term(term: str | None) -> str | None:
    """Case-insensitive key for a CTCAE term, as admiral's ``toupper(TERM)``."""
    if term is None or term != term:
        return None
    key = str(term).strip().upper()
    return key or None


@dataclass(frozen=True, slots=True)
class Criterion:
    """One CTCAE v5.0 lab term in one unit system, as a parsed rule plus NCI's grade text.

    Attributes
    ----------
    term : str
        CTCAE term, e.g. "Anemia".
    direction : {"L", "H"}
        Low (hypo/decreased) or high (hyper/increased) abnormality.
    unit : str or None
        UNIT_CHECK: the unit absolute thresholds are written in; None for relative-only rules.
    variables : tuple of str
        VAR_CHECK: the record variables the rule reads.
    grade_text : tuple of str
        NCI wording for grades 1-5 ("-" where CTCAE defines none).
    comment : str or None
        admiral's implementation note (e.g. worst case assumed).
    code : str
        The R text the branches were parsed from.
    branches : tuple of Branch
        The rule, first TRUE branch wins.
    """

    term: str
    soc: str
    direction: Direction
    unit: str | None
    variables: tuple[str, ...]
    grade_text: tuple[str, ...]
    definition: str
    comment: str | None
    code: str
    branches: tuple[Branch, ...]
    applies_when: str | None = None  # a local row: the subject condition it applies under

    @property
    def unit_key(self) -> str | None:
        """Normalised UNIT_CHECK for comparisons."""
        return normalize_unit(self.unit)

    @property
    def uses_baseline_indicator(self) -> bool:
        """Whether the rule branches on the baseline being abnormal (BNRIND)."""
        return any("BNRIND" in variables_used(b.condition) for b in self.branches)


class CriteriaTable:
    """All criteria of one unit system, looked up by term (case-insensitive)."""

    def __init__(self, units: Units, criteria: tuple[Criterion, ...]) -> None:
        self.units = units
        self.criteria = criteria
        by_term: dict[str, list[Criterion]] = {}
        for c in criteria:
            by_term.setdefault(normalize_term(c.term) or "", []).append(c)
        self._by_term = {k: tuple(v) for k, v in by_term.items()}

    def terms(self) -> tuple[str, ...]:
        """Distinct CTCAE terms, in file order."""
        return tuple(dict.fromkeys(c.term for c in self.criteria))

    def for_term(self, term: str | None) -> tuple[Criterion, ...]:
        """All unit rows for ``term``; empty when the term has no criterion."""
        key = normalize_term(term)
        return self._by_term.get(key, ()) if key else ()

    def for_term_and_unit(self, term: str, unit: str | None) -> Criterion | None:
        """The row whose UNIT_CHECK matches ``unit`` (or has none); None when no row applies."""
        key = normalize_unit(unit)
        for c in self.for_term(term):
            if c.unit_key is None or (key is not None and c.unit_key == key):
                return c
        return None


def _parse_row(row: dict[str, str], filename: str, line: int) -> Criterion:
    try:
        branches = parse_case_when(row["GRADE_CRITERIA_CODE"])
    except CriteriaSyntaxError as exc:
        raise SafetyError(
            f"{filename} line {line}: cannot read the CTCAE rule for {row['TERM']!r}: {exc}"
        ) from exc
    direction = row["DIRECTION"].strip().upper()
    if direction not in ("L", "H"):
        raise SafetyError(f"{filename} line {line}: DIRECTION must be L or H, got {direction!r}")
    variables = tuple(v.strip() for v in row["VAR_CHECK"].split(",") if v.strip())
    return Criterion(
        term=row["TERM"].strip(),
        soc=row["SOC"].strip(),
        direction=direction,  # type: ignore[arg-type]
        unit=row["UNIT_CHECK"].strip() or None,
        variables=variables,
        grade_text=tuple(row[f"GRADE_{g}"].strip() for g in range(1, 6)),
        definition=row["Definition"].strip(),
        comment=row["COMMENT"].strip() or None,
        code=row["GRADE_CRITERIA_CODE"],
        branches=branches,
        applies_when=(row.get("APPLIES_WHEN") or "").strip() or None,
    )


@cache
def load_criteria(units: Units = "SI") -> CriteriaTable:
    """Read and parse the bundled CTCAE v5.0 criteria for one unit system (cached).

    Parameters
    ----------
    units : {"SI", "USCV"}
        SI units (``g/L``, ``10^9/L``, ``mmol/L``) or US conventional (``g/dL``, ``10^3/uL``,
        ``mg/dL``).

    Returns
    -------
    CriteriaTable

    Raises
    ------
    ValueError
        When ``units`` is not "SI" or "USCV".
    SafetyError
        When a rule in the bundled file cannot be parsed.

    References
    ----------
    NCI CTCAE v5.0; pharmaverse admiral ``atoxgr_criteria_ctcv5`` / ``atoxgr_criteria_ctcv5_uscv``.
    """
    if units not in CRITERIA_FILES:
        raise ValueError(f'units must be "SI" or "USCV", got {units!r}')
    return CriteriaTable(units, _read_file(CRITERIA_FILES[units]))


@cache
def load_local_criteria() -> tuple[Criterion, ...]:
    """This product's own criterion rows (``LOCAL_CRITERIA_FILE``), each applying only under
    its ``applies_when`` condition; they are tried before admiral's rows of the same term."""
    criteria = _read_file(LOCAL_CRITERIA_FILE)
    for c in criteria:
        if c.applies_when not in APPLIES_WHEN:
            raise SafetyError(f"{LOCAL_CRITERIA_FILE}: APPLIES_WHEN must be one of "
                              f"{', '.join(APPLIES_WHEN)}, got {c.applies_when!r} ({c.term})")
    return criteria


def _read_file(filename: str) -> tuple[Criterion, ...]:
    path = resources.files("safety") / "data" / "ctcae" / filename
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    criteria = tuple(_parse_row(row, filename, i + 2) for i, row in enumerate(rows))
    log.debug("loaded %d CTCAE v5.0 criteria from %s", len(criteria), filename)
    return criteria
