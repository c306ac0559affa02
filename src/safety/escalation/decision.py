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
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Literal, Protocol, runtime_checkable

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


def prob_exceeds(threshold: float, n: int, dlts: int, a: float = 1.0, b: float = 1.0) -> float:
    """Posterior P(DLT rate > threshold) after ``dlts`` DLTs in ``n``, Beta(a, b) prior.

    References
    ----------
    Liu S. and Yuan Y. (2015), JRSS C 64:507-523, safety rule (Beta(1,1) prior).
    """
    return 1.0 - beta_cdf(threshold, a + dlts, b + n - dlts)


def beta_cdf(x: float, a: float, b: float) -> float:
    """The Beta(a, b) distribution function at x.

    For whole-number a and b (every prior here is Beta(1, 1), so posteriors are too) it is the
    binomial tail I_x(a, b) = P(Binomial(a + b - 1, x) >= a), summed exactly over the shorter
    side; other parameters use scipy's incomplete beta function (imported only then).

    References
    ----------
    Abramowitz M. and Stegun I.A. (1964), Handbook of Mathematical Functions, 26.5.24.
    """
    if not 0.0 < x < 1.0:
        return 0.0 if x <= 0.0 else 1.0
    if a != int(a) or b != int(b):
        from scipy.special import betainc

        return float(betainc(a, b, x))
    a, b = int(a), int(b)
    m = a + b - 1

    def term(j: int) -> float:
        return math.comb(m, j) * x**j * (1.0 - x) ** (m - j)

    if a <= m - a + 1:  # fewer terms below a
        return 1.0 - math.fsum(term(j) for j in range(a))
    return math.fsum(term(j) for j in range(a, m + 1))


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
