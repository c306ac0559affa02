"""Trial histories as outcome strings ("1NNN 2NTN"), parsed into cohorts and per-dose counts.

The notation is Brock's (R package ``escalation``, ``parse_phase1_outcomes``): a history is a
space-separated list of cohorts; each cohort is a dose level (1-based) followed by one letter per
patient, ``N`` for no dose-limiting toxicity (DLT) and ``T`` for a DLT. ``"1NNN 2NTN"`` means three
patients at dose level 1 without DLT, then three at dose level 2, the second of whom had a DLT.
The empty string means no patient has been treated yet.

References
----------
Brock K. (2019). trialr: Bayesian Clinical Trial Designs in R and Stan. arXiv:1907.00161.
Brock K. escalation: A Modular Approach to Dose-Finding Clinical Trials. R package,
https://github.com/brockk/escalation (R/parse_phase1_outcomes.R).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from safety.errors import OutcomesError

log = logging.getLogger(__name__)

NO_DLT = "N"  # Brock's escalation package: a patient without a dose-limiting toxicity
DLT = "T"  # Brock's escalation package: a patient with a dose-limiting toxicity


@dataclass(frozen=True, slots=True)
class Cohort:
    """Patients treated together at one dose level, in the order they were treated.

    Attributes
    ----------
    dose_level : int
        1-based dose level, as in ``"1NNN 2NTN"``.
    dlts : tuple of bool
        One entry per patient; ``True`` when the patient had a DLT.
    """

    dose_level: int
    dlts: tuple[bool, ...]

    @property
    def n(self) -> int:
        """Number of patients in the cohort."""
        return len(self.dlts)

    @property
    def num_dlts(self) -> int:
        """Number of patients with a DLT in the cohort."""
        return sum(self.dlts)

    def __str__(self) -> str:
        return f"{self.dose_level}" + "".join(DLT if d else NO_DLT for d in self.dlts)


Outcomes = tuple[Cohort, ...]


def parse_outcomes(text: str) -> Outcomes:
    """Parse a trial history such as ``"1NNN 2NTN"`` into cohorts.

    Parameters
    ----------
    text : str
        Space-separated tokens ``<dose level><N|T>...``; ``""`` (or only spaces) = no patients.

    Returns
    -------
    tuple of Cohort
        In the order treated.

    Raises
    ------
    OutcomesError
        With the offending character and its 1-based position, e.g.
        ``"1NNX": unknown outcome "X" at position 4``.

    References
    ----------
    Brock K., R package escalation, ``parse_phase1_outcomes`` (regular expression
    ``^\\s*(\\d+[NT]+\\s*)*$``).
    """
    if not isinstance(text, str):
        raise OutcomesError(f'outcomes must be a string such as "1NNN 2NTN", got {text!r}')
    cohorts: list[Cohort] = []
    i, length = 0, len(text)
    while i < length:
        if text[i].isspace():
            i += 1
            continue
        start = i
        while i < length and text[i].isdigit():
            i += 1
        if i == start:
            raise OutcomesError(
                f'"{text}": expected a dose level (a number) at position {i + 1}, found "{text[i]}"'
            )
        dose_level = int(text[start:i])
        if dose_level < 1:
            raise OutcomesError(
                f'"{text}": dose level {dose_level} at position {start + 1} is not allowed; '
                "dose levels start at 1"
            )
        dlts: list[bool] = []
        while i < length and not text[i].isspace():
            char = text[i]
            if char == NO_DLT:
                dlts.append(False)
            elif char == DLT:
                dlts.append(True)
            else:
                raise OutcomesError(f'"{text}": unknown outcome "{char}" at position {i + 1}')
            i += 1
        if not dlts:
            raise OutcomesError(
                f'"{text}": dose level {dose_level} at position {start + 1} has no patient '
                "outcomes (N or T)"
            )
        cohorts.append(Cohort(dose_level, tuple(dlts)))
    return tuple(cohorts)


def as_outcomes(outcomes: str | Sequence[Cohort]) -> Outcomes:
    """Accept an outcome string or cohorts; return cohorts."""
    if isinstance(outcomes, str):
        return parse_outcomes(outcomes)
    return tuple(outcomes)


def format_outcomes(cohorts: Iterable[Cohort]) -> str:
    """Write cohorts back as an outcome string (inverse of :func:`parse_outcomes`)."""
    return " ".join(str(c) for c in cohorts)


def counts_by_dose(
    outcomes: str | Sequence[Cohort], num_doses: int
) -> tuple[np.ndarray, np.ndarray]:
    """Patients treated and DLTs at every dose level.

    Parameters
    ----------
    outcomes : str or sequence of Cohort
    num_doses : int
        Number of dose levels in the design.

    Returns
    -------
    (n, dlts) : two int arrays of length ``num_doses``; index 0 is dose level 1.

    Raises
    ------
    OutcomesError
        When a cohort was treated at a dose level above ``num_doses``.
    """
    cohorts = as_outcomes(outcomes)
    n = np.zeros(num_doses, dtype=int)
    dlts = np.zeros(num_doses, dtype=int)
    for cohort in cohorts:
        if cohort.dose_level > num_doses:
            raise OutcomesError(
                f'"{format_outcomes(cohorts)}": dose level {cohort.dose_level} was given but the '
                f"design has only {num_doses} dose levels"
            )
        n[cohort.dose_level - 1] += cohort.n
        dlts[cohort.dose_level - 1] += cohort.num_dlts
    return n, dlts


def last_dose(outcomes: str | Sequence[Cohort]) -> int | None:
    """Dose level of the last cohort treated, or None before the first patient."""
    cohorts = as_outcomes(outcomes)
    return cohorts[-1].dose_level if cohorts else None


def cohorts_from_patients(records: Iterable[tuple[int, bool]]) -> Outcomes:
    """The trial history from per-patient DLT records, in the order patients were treated.

    Consecutive patients at the same dose level form one cohort, so
    ``[(1, False), (1, False), (1, False), (2, False), (2, True)]`` gives the cohorts written
    ``"1NNN 2NT"``. Every
    design here uses only the per-dose counts and the last dose treated, so grouping consecutive
    patients does not change any decision.

    Parameters
    ----------
    records : iterable of (dose_level, dlt)
        ``dose_level`` 1-based; ``dlt`` True when the patient had a dose-limiting toxicity.

    Raises
    ------
    OutcomesError
        When a dose level is not a whole number >= 1.
    """
    records = list(records)
    if not records:
        return ()
    given = [level for level, _ in records]
    levels = np.asarray(given)
    if (levels.dtype.kind not in "iu" or (levels < 1).any()
            or any(isinstance(level, bool) for level in given)):  # say which patient is wrong
        for position, (dose_level, _) in enumerate(records, start=1):
            if isinstance(dose_level, bool) or int(dose_level) != dose_level or dose_level < 1:
                raise OutcomesError(f"patient {position}: dose level must be a whole number "
                                    f"from 1, got {dose_level!r}")
        levels = levels.astype(int)
    dlts = [bool(dlt) for _, dlt in records]
    # a cohort starts with the first patient and wherever the dose level changes
    starts = [0, *(np.flatnonzero(np.diff(levels)) + 1).tolist()]
    return tuple(Cohort(int(levels[a]), tuple(dlts[a:b]))
                 for a, b in zip(starts, [*starts[1:], len(records)], strict=True))


def outcomes_from_counts(records: Iterable[tuple[int, bool]]) -> str:
    """:func:`cohorts_from_patients` written as an outcome string (``"1NNN 2NT"``)."""
    return format_outcomes(cohorts_from_patients(records))


def outcomes_from_tallies(
    tallies: Iterable[tuple[int, int, int]],
) -> str:
    """Build an outcome string from per-cohort tallies ``(dose_level, treated, dlts)``.

    Use this when the database gives DLT counts per dose cohort rather than per patient. Within a
    cohort the order of patients is not known; the DLTs are written last (``"2NNT"``), which no
    design here depends on.

    Raises
    ------
    OutcomesError
        When ``dlts`` exceeds ``treated`` or a count is negative.
    """
    tokens: list[Cohort] = []
    for dose_level, treated, dlts in tallies:
        if dose_level < 1 or treated < 0 or dlts < 0 or dlts > treated:
            raise OutcomesError(
                f"dose level {dose_level}: {dlts} DLTs in {treated} patients is not a valid tally"
            )
        if treated == 0:
            continue
        tokens.append(Cohort(int(dose_level), (False,) * (treated - dlts) + (True,) * dlts))
    return format_outcomes(tokens)


def summary_by_dose(outcomes: str | Sequence[Cohort]) -> str:
    """The evaluable history per dose level, short enough to read at a glance:
    ``"dose 1: 3 / 0 DLTs · dose 2: 6 / 1 DLT"`` (patients / DLTs); ``""`` before the first."""
    cohorts = as_outcomes(outcomes)
    if not cohorts:
        return ""
    n, dlts = counts_by_dose(cohorts, max(c.dose_level for c in cohorts))
    return " · ".join(f"dose {i + 1}: {int(k)} / {int(d)} DLT{'' if d == 1 else 's'}"
                      for i, (k, d) in enumerate(zip(n, dlts, strict=True)) if k)  # fmt: skip
