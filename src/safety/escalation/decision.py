"""What a dose-escalation design answers: the next action, the dose, and the reason.

Conventions (as Brock's R package ``escalation``): dose levels are 1-based; ``continue_`` False
with a dose level means the trial stops and that dose is the recommended (maximum tolerated) dose;
``continue_`` False with ``dose_level`` None means no dose level is safe.

References
----------
Brock K. escalation: A Modular Approach to Dose-Finding Clinical Trials. R package,
https://github.com/brockk/escalation (``recommended_dose``, ``continue``,
``check_dose_selector_consistency``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from safety.escalation.outcomes import Cohort

log = logging.getLogger(__name__)


class Action(StrEnum):
    """The decision for the next cohort, in the words the status JSON uses."""

    ESCALATE = "escalate"
    STAY = "stay"
    DE_ESCALATE = "de-escalate"
    ELIMINATE = "eliminate"  # de-escalate and never return to this dose (or any above it)
    STOP = "stop"
    NONE = "none"  # no design applies (e.g. a control cohort); designs never return it


RuleStatus = Literal["ok", "warning", "triggered"]


@dataclass(frozen=True, slots=True)
class RuleState:
    """State of one stopping or safety rule, for the status page and JSON.

    Attributes
    ----------
    name : str
        Short rule name, e.g. ``"stop at N"``.
    state : {"ok", "warning", "triggered"}
    detail : str
        One sentence with the numbers behind the state.
    numbers : Mapping[str, float]
    """

    name: str
    state: RuleStatus
    detail: str
    numbers: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "state": self.state, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Decision:
    """A design's answer for the next cohort.

    Attributes
    ----------
    action : Action
    dose_level : int or None
        1-based dose for the next cohort; when stopping, the recommended dose (None: no safe dose).
    reason : str
        A sentence a clinician reads, naming the rule and its numbers.
    numbers : Mapping[str, float]
        What the rule used (n, dlts, boundaries, probabilities).
    continue_ : bool
        False when the trial should stop.
    estimates : tuple of (float or None)
        The design's DLT-rate estimate at every dose level; None where it makes none.
    eliminated : tuple of int
        Dose levels excluded for toxicity (a dose and all above it).
    design : str
        Name of the design that decided, e.g. ``"boin"``.
    current_dose : int or None
        Dose level of the last cohort treated.
    rule_states : tuple of RuleState
        States of the stopping rules wrapped around the design (empty for a bare design).
    """

    action: Action
    dose_level: int | None
    reason: str
    numbers: Mapping[str, float] = field(default_factory=dict)
    continue_: bool = True
    estimates: tuple[float | None, ...] = ()
    eliminated: tuple[int, ...] = ()
    design: str = ""
    current_dose: int | None = None
    rule_states: tuple[RuleState, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "numbers", MappingProxyType(dict(self.numbers)))

    def to_dict(self) -> dict[str, object]:
        """The ``design decide`` JSON shape (DESIGN.md), plus ``action`` and ``numbers``."""
        out: dict[str, object] = {
            "design": self.design,
            "action": self.action.value,
            "recommended_dose": self.dose_level,
            "continue": self.continue_,
            "reason": self.reason,
            "estimates": [None if e is None else float(e) for e in self.estimates],
            "eliminated": list(self.eliminated),
            "numbers": {k: float(v) for k, v in self.numbers.items()},
        }
        if self.rule_states:
            out["rules"] = [r.to_dict() for r in self.rule_states]
        return out


@runtime_checkable
class Design(Protocol):
    """A dose-escalation design: a frozen object that decides from the outcomes so far."""

    name: str
    num_doses: int

    def decide(self, outcomes: str | Sequence[Cohort]) -> Decision:
        """The decision for the next cohort."""
        ...


def action_for(
    current: int | None, next_dose: int | None, continue_: bool, eliminated: Sequence[int] = ()
) -> Action:
    """Name the move from the last dose treated to the next one."""
    if not continue_ or next_dose is None:
        return Action.STOP
    if current is None or next_dose == current:
        return Action.STAY
    if next_dose > current:
        return Action.ESCALATE
    return Action.ELIMINATE if current in eliminated else Action.DE_ESCALATE


def decision_maker(design: str, label: str, current: int | None,
                   estimates: tuple[float | None, ...], eliminated: tuple[int, ...]):
    """A function ``make(next_dose, continue_, reason, numbers) -> Decision`` for one decide()
    call of an interval design: the action follows from ``current`` and the next dose, and the
    reason ends with the design's ``label``, e.g. " (BOIN)"."""

    def make(next_dose: int | None, continue_: bool, reason: str,
             numbers: dict[str, float]) -> Decision:
        return Decision(
            action=action_for(current, next_dose, continue_, eliminated),
            dose_level=next_dose, reason=f"{reason} ({label})", numbers=numbers,
            continue_=continue_, estimates=estimates, eliminated=eliminated, design=design,
            current_dose=current,
        )

    return make


def eliminated_from(first: int | None, num_doses: int) -> tuple[int, ...]:
    """Dose ``first`` and every dose above it (none when ``first`` is None)."""
    return () if first is None else tuple(range(first, num_doses + 1))


def prob_exceeds(threshold: float, n: int, dlts, a: float = 1.0, b: float = 1.0):
    """Posterior P(DLT rate > threshold) after ``dlts`` DLTs in ``n``, Beta(a, b) prior
    (elementwise over an array of ``dlts``).

    References
    ----------
    Liu S. and Yuan Y. (2015), JRSS C 64:507-523, safety rule (Beta(1,1) prior).
    """
    return 1.0 - beta_cdf(threshold, a + dlts, b + n - dlts)


def beta_cdf(x, a, b):
    """The Beta(a, b) distribution function at x (elementwise over arrays): the regularized
    incomplete beta function I_x(a, b), as R's ``pbeta`` (which BOIN's get.boundary and
    mTPI-2 call) computes it.

    scipy's ``betainc`` keeps ~1e-15 relative accuracy at any size; the exact binomial tail
    summed in Python it replaces took 1 ms at 375 patients and overflowed beyond ~1,030.

    References
    ----------
    Abramowitz M. and Stegun I.A. (1964), Handbook of Mathematical Functions, 26.5.1, 26.5.24.
    """
    from scipy.special import betainc  # 0.24 s to import: only commands that decide pay it

    value = betainc(a, b, np.clip(x, 0.0, 1.0))
    return float(value) if np.ndim(value) == 0 else value


BOUNDARY_DIGITS = 4  # every boundary printed with 4 decimals (lambda_d 0.3585, never 0.359)


def decisive(value: float, boundary: float, digits: int = 3) -> str:
    """``value`` with the fewest decimals (at least ``digits``, at most 10) whose printed form
    lies on the same side of ``boundary`` as the value itself, trailing zeros dropped:
    P = 0.9504 against 0.95 prints 0.9504, not 0.950; a rate 1/8 prints 0.125, not 0.12."""
    side = (value > boundary) - (value < boundary)
    for k in range(digits, 11):
        rounded = round(value, k)
        if (rounded > boundary) - (rounded < boundary) == side:
            break
    text = f"{value:.{k}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def boundary_text(boundary: float) -> str:
    """A design boundary in its one printed form (:data:`BOUNDARY_DIGITS` decimals)."""
    return f"{boundary:.{BOUNDARY_DIGITS}f}"


def rate_text(dlts: int, n: int, boundary: float) -> str:
    """``"1/8 = 0.125"``: the observed DLT rate with the precision its comparison needs."""
    return f"{dlts}/{n} = {decisive(dlts / n, boundary)}"


def dlt_phrase(dlts: int, n: int) -> str:
    """``"1 DLT in 3"``, ``"0 DLTs in 3"``."""
    return f"{dlts} DLT{'' if dlts == 1 else 's'} in {n}"


def check_decision(decision: Decision, num_doses: int) -> None:
    """Shared invariant check of every decision (after brockk's check_dose_selector_consistency).

    Raises
    ------
    AssertionError
        When the decision contradicts itself.
    """
    d = decision
    assert d.dose_level is None or 1 <= d.dose_level <= num_doses, d
    assert (d.action is Action.STOP) == (not d.continue_), d
    if d.continue_:
        assert d.dose_level is not None, d
        assert d.dose_level not in d.eliminated, d
    assert len(d.estimates) == num_doses, d
    assert all(1 <= e <= num_doses for e in d.eliminated), d
    assert list(d.eliminated) == sorted(set(d.eliminated)), d
    if d.eliminated:
        assert d.eliminated[-1] == num_doses, d  # a dose and all above it
    assert d.reason, d
