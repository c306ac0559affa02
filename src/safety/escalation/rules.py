"""Stopping and safety rules that wrap any design, as Brock's ``escalation`` selectors do.

Each rule is a frozen object holding its ``parent`` (a design or another rule) and answering the
same ``decide(outcomes)``; ``state(outcomes)`` gives its :class:`RuleState` (ok / warning /
triggered, with the numbers). Rules compose by nesting::

    design = StopAtN(StopWhenTooToxic(Boin(num_doses=3, target=0.3), target=0.3), n=30)

Precedence (so that nesting order never changes the answer)
----------------------------------------------------------
Brock's wrappers combine with their parent one at a time, so their order can matter. Here every
wrapper unwraps the whole chain and applies the rules together, in two groups:

1. The design decides first (its proposal).
2. Safety rules (:class:`HardStop`, :class:`StopWhenTooToxic`, :class:`KOfFirstN`,
   :class:`DontSkipDoses`) look at the outcomes only. If any of them stops the trial, the answer
   is STOP with no dose, whatever else holds; all their reasons are reported. Otherwise each may
   cap the next dose (no skipping, a dose excluded by "k of the first n"); the lowest cap wins.
   The most conservative answer always wins: a stop without a dose beats everything, a lower dose
   beats a higher one.
3. Information rules (:class:`StopAtN`, :class:`StopWhenNAtDose`) then see the capped decision.
   If any triggers, the trial stops *with* a dose: the design's final selection (BOIN/mTPI-2:
   isotonic regression; CRM: the model's MTD; 3+3: its own decision), capped as in step 2. They
   never override a safety stop, and a rule never restarts a trial its design has stopped.

References
----------
Brock K., R package escalation: ``stop_at_n``, ``stop_when_n_at_dose``, ``stop_when_too_toxic``,
``dont_skip_doses`` (R/stop_at_n_selector.R, R/stop_when_n_at_dose_selector.R, ...).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from safety.errors import DesignError
from safety.escalation.decision import (
    Decision,
    Design,
    RuleState,
    RuleStatus,
    action_for,
    decisive,
    dlt_phrase,
    eliminated_from,
    prob_exceeds,
)
from safety.escalation.outcomes import Cohort, Outcomes, as_outcomes, counts_by_dose, last_dose

log = logging.getLogger(__name__)

WARN_WITHIN_PATIENTS = 3  # our convention: warn when one cohort of 3 is left before a size limit
WARN_PROBABILITY_MARGIN = 0.10  # our convention: warn when P(toxic) is within 0.10 of the cutoff


# Order in which rules are reported: safety stops first, then caps, then information stops.
_PRECEDENCE = [
    "HardStop",
    "StopWhenTooToxic",
    "KOfFirstN",
    "DontSkipDoses",
    "StopAtN",
    "StopWhenNAtDose",
]


@dataclass(frozen=True, slots=True)
class Constraint:
    """What one rule asks of the decision."""

    state: RuleState
    stop: bool = False  # safety: stop with no dose; information: stop with the final dose
    max_dose: int | None = None  # safety: highest dose allowed for the next cohort
    eliminate_from: int | None = None  # safety: this dose and all above are excluded
    reason: str = ""


class _Rule:
    """Shared behaviour of the rule wrappers (they are frozen dataclasses with ``parent``)."""

    parent: Design
    kind: Literal["safety", "information"] = "safety"
    name: str = ""

    @property
    def num_doses(self) -> int:
        return self.parent.num_doses

    def constraint(self, outcomes: Outcomes, proposal: Decision) -> Constraint:
        raise NotImplementedError

    def decide(self, outcomes: str | Sequence[Cohort]) -> Decision:
        """The wrapped design's decision with every rule in the chain applied together."""
        return apply_rules(self, as_outcomes(outcomes))

    def final(self, outcomes: str | Sequence[Cohort]) -> Decision:
        """The innermost design's final selection (rules do not change how the MTD is chosen)."""
        base, _ = unwrap(self)
        return _final(base, as_outcomes(outcomes))

    def state(self, outcomes: str | Sequence[Cohort]) -> RuleState:
        """This rule's state for the outcomes so far."""
        _, rules = unwrap(self)
        states = apply_rules(self, as_outcomes(outcomes)).rule_states
        return states[[id(r) for r in rules].index(id(self))]


def unwrap(design: Design) -> tuple[Design, list[_Rule]]:
    """The innermost design and the rules around it, innermost first."""
    rules: list[_Rule] = []
    while isinstance(design, _Rule):
        rules.append(design)
        design = design.parent
    return design, rules[::-1]


def _final(base: Design, outcomes: Outcomes) -> Decision:
    final = getattr(base, "final", None)
    return final(outcomes) if final is not None else base.decide(outcomes)


def apply_rules(design: Design, outcomes: Outcomes) -> Decision:
    """Apply every rule around ``design`` with the precedence in the module docstring."""
    base, rules = unwrap(design)
    # A fixed order for reasons and states, whatever the nesting order.
    rules = sorted(rules, key=lambda r: _PRECEDENCE.index(type(r).__name__))
    proposal = base.decide(outcomes)
    current = last_dose(outcomes)
    k = base.num_doses
    states: dict[int, RuleState] = {}

    safety = [(r, r.constraint(outcomes, proposal)) for r in rules if r.kind == "safety"]
    for r, c in safety:
        states[id(r)] = c.state
    eliminated = set(proposal.eliminated)
    for _, c in safety:
        if c.eliminate_from is not None:
            eliminated |= set(eliminated_from(c.eliminate_from, k))
    caps = [c.max_dose for _, c in safety if c.max_dose is not None]
    if eliminated:
        caps.append(min(eliminated) - 1)
    cap = min(caps) if caps else None
    elim = tuple(sorted(eliminated))

    def ordered_states() -> tuple[RuleState, ...]:
        return proposal.rule_states + tuple(states[id(r)] for r in rules if id(r) in states)

    def build(dose: int | None, continue_: bool, reason: str, estimates=None) -> Decision:
        return Decision(
            action=action_for(current, dose, continue_, elim),
            dose_level=dose,
            reason=reason,
            numbers=proposal.numbers,
            continue_=continue_,
            estimates=proposal.estimates if estimates is None else estimates,
            eliminated=elim,
            design=proposal.design,
            current_dose=current,
            rule_states=ordered_states(),
        )

    stops = [c for _, c in safety if c.stop]
    if stops:
        for r in rules:  # information rules are moot; report them as they stand
            if r.kind == "information":
                states[id(r)] = r.constraint(outcomes, proposal).state
        reason = "; ".join(c.reason for c in stops)
        return build(
            None,
            False,
            f"{reason}: stop; no dose level is recommended. The design "
            f"alone advised: {proposal.reason}",
        )

    def cap_reason(dose: int) -> str:
        binding = [c.reason for _, c in safety if c.max_dose is not None and c.max_dose < dose]
        return "; ".join(binding) if binding else f"dose level {cap + 1} and above are eliminated"

    dose, continue_, reason = proposal.dose_level, proposal.continue_, proposal.reason
    if dose is not None and cap is not None and dose > cap:
        why = cap_reason(dose)
        if cap < 1:
            return build(
                None,
                False,
                f"{why}: stop; no dose level is recommended. The design "
                f"alone advised: {proposal.reason}",
            )
        dose = cap
        reason = (
            f"{why}: {'treat at' if continue_ else 'recommend'} dose level {cap} instead. "
            f"The design alone advised: {proposal.reason}"
        )
    capped = build(dose, continue_, reason)

    info = [(r, r.constraint(outcomes, capped)) for r in rules if r.kind == "information"]
    for r, c in info:
        states[id(r)] = c.state
    info_stops = [c for _, c in info if c.stop]
    if not continue_ or not info_stops:
        return build(dose, continue_, reason)
    final = _final(base, outcomes)
    mtd = final.dose_level
    where = "no dose level is recommended" if mtd is None else f"dose level {mtd} is the MTD"
    if mtd is not None and cap is not None and mtd > cap:
        where = (
            f"the design selects dose level {mtd} but only dose levels up to {cap} are "
            f"allowed ({cap_reason(mtd)}), so dose level {cap} is recommended"
        )
        mtd = cap
    why = "; ".join(c.reason for c in info_stops)
    return build(mtd, False, f"{why}: stop; {where}. {final.reason}", final.estimates)


def _state(name: str, status: RuleStatus, detail: str, **numbers: float) -> RuleState:
    return RuleState(name=name, state=status, detail=detail, numbers=numbers)


def _unevaluated_at(unevaluated: Sequence[int], level: int) -> int:
    """Treated patients at ``level`` (1-based) who are not in the outcomes."""
    return int(unevaluated[level - 1]) if 0 < level <= len(unevaluated) else 0


def _check_unevaluated(rule: str, unevaluated: Sequence[int], num_doses: int) -> None:
    if unevaluated and (len(unevaluated) != num_doses or any(u < 0 for u in unevaluated)):
        raise DesignError(
            f"{rule}: unevaluated patients must be given for each of the {num_doses} dose "
            f"levels as counts >= 0, got {list(unevaluated)}"
        )


@dataclass(frozen=True, slots=True)
class StopAtN(_Rule):
    """Stop once ``n`` patients in total have been treated (Brock's ``stop_at_n``).

    Every treated patient counts, including those whose DLT outcome is not known yet:
    ``unevaluated`` gives, per dose level, the treated patients who are not in the outcomes
    (still inside the DLT window, or left without being evaluable). A maximum sample size
    limits how many patients are exposed, so a patient counts from the first dose, not from
    the end of the window. When the rule triggers while windows are open, the reason says that
    the final selection waits for them.
    """

    parent: Design
    n: int
    unevaluated: tuple[int, ...] = ()
    kind: Literal["safety", "information"] = "information"
    name: str = "stop at N"

    def __post_init__(self) -> None:
        if self.n < 1:
            raise DesignError(f"stop at N: the sample size must be at least 1, got {self.n}")
        object.__setattr__(self, "unevaluated", tuple(int(u) for u in self.unevaluated))
        _check_unevaluated("stop at N", self.unevaluated, self.num_doses)

    def constraint(self, outcomes: Outcomes, proposal: Decision) -> Constraint:
        evaluated = sum(c.n for c in outcomes)
        waiting = sum(self.unevaluated)
        total = evaluated + waiting
        detail = f"{total} of the maximum {self.n} patients treated" + (
            f" ({evaluated} evaluable, {waiting} without a DLT outcome yet)" if waiting else ""
        )
        numbers = {"total": total, "n": self.n, "evaluated": evaluated, "unevaluated": waiting}
        if total >= self.n:
            return Constraint(
                _state(self.name, "triggered", detail, **numbers),
                stop=True,
                reason=f"{total} patients treated, the maximum of {self.n}"
                + (
                    f" ({waiting} still without a DLT outcome: the final selection below uses "
                    f"the {evaluated} evaluable and must be repeated when their windows close)"
                    if waiting
                    else ""
                ),
            )
        status: RuleStatus = "warning" if self.n - total <= WARN_WITHIN_PATIENTS else "ok"
        return Constraint(_state(self.name, status, detail, **numbers))


@dataclass(frozen=True, slots=True)
class StopWhenNAtDose(_Rule):
    """Stop when ``n`` patients have been treated at the recommended dose (or at ``dose``, or at
    any dose with ``dose="any"``), as Brock's ``stop_when_n_at_dose``.

    As in :class:`StopAtN`, patients treated but not in the outcomes yet (``unevaluated``, per
    dose level) count as treated.
    """

    parent: Design
    n: int
    dose: int | Literal["recommended", "any"] = "recommended"
    unevaluated: tuple[int, ...] = ()
    kind: Literal["safety", "information"] = "information"
    name: str = "stop when n at dose"

    def __post_init__(self) -> None:
        if self.n < 1:
            raise DesignError(f"stop when n at dose: n must be at least 1, got {self.n}")
        object.__setattr__(self, "unevaluated", tuple(int(u) for u in self.unevaluated))
        _check_unevaluated("stop when n at dose", self.unevaluated, self.num_doses)

    def constraint(self, outcomes: Outcomes, proposal: Decision) -> Constraint:
        n, _ = counts_by_dose(outcomes, self.num_doses)
        if self.unevaluated:
            n = n + np.asarray(self.unevaluated, dtype=int)
        if self.dose == "any":
            level = int(n.argmax()) + 1
        elif self.dose == "recommended":
            level = proposal.dose_level
        else:
            level = int(self.dose)
        if level is None:
            return Constraint(_state(self.name, "ok", "no dose level is recommended"))
        at = int(n[level - 1])
        waiting = _unevaluated_at(self.unevaluated, level)
        detail = f"{at} of {self.n} patients at dose level {level}" + (
            f" ({waiting} without a DLT outcome yet)" if waiting else ""
        )
        numbers = {"n_at_dose": at, "n": self.n, "dose_level": level, "unevaluated": waiting}
        if at >= self.n:
            return Constraint(
                _state(self.name, "triggered", detail, **numbers),
                stop=True,
                reason=f"{at} patients at dose level {level}, the maximum of {self.n}",
            )
        status: RuleStatus = "warning" if self.n - at <= WARN_WITHIN_PATIENTS else "ok"
        return Constraint(_state(self.name, status, detail, **numbers))


@dataclass(frozen=True, slots=True)
class StopWhenTooToxic(_Rule):
    """Stop with no dose when P(DLT rate at ``dose`` > ``target`` | data) > ``confidence``
    under a Beta(1, 1) prior (default: the lowest dose, cutoff 0.95 as BOIN/mTPI-2)."""

    parent: Design
    target: float
    confidence: float = 0.95  # Liu & Yuan (2015); Guo et al. (2017): certainty 0.95
    dose: int = 1
    min_n: int = 0
    kind: Literal["safety", "information"] = "safety"
    name: str = "stop when too toxic"

    def __post_init__(self) -> None:
        if not 0 < self.target < 1 or not 0 < self.confidence < 1:
            raise DesignError("stop when too toxic: target and confidence must lie in (0, 1)")
        if not 1 <= self.dose <= self.parent.num_doses:
            raise DesignError(f"stop when too toxic: dose level {self.dose} is not in the design")

    def constraint(self, outcomes: Outcomes, proposal: Decision) -> Constraint:
        n, y = counts_by_dose(outcomes, self.num_doses)
        nd, yd = int(n[self.dose - 1]), int(y[self.dose - 1])
        p = prob_exceeds(self.target, nd, yd)
        detail = (
            f"{dlt_phrase(yd, nd)} at dose level {self.dose}: P(DLT rate > "
            f"{self.target:g}) = {decisive(p, self.confidence)}, stop above {self.confidence:g}"
        )
        numbers = {"n": nd, "dlts": yd, "p_toxic": p, "confidence": self.confidence}
        if nd >= self.min_n and nd > 0 and p > self.confidence:
            return Constraint(
                _state(self.name, "triggered", detail, **numbers),
                stop=True,
                reason=detail.replace(", stop above", " >"),
            )
        status: RuleStatus = (
            "warning" if nd > 0 and p > self.confidence - WARN_PROBABILITY_MARGIN else "ok"
        )
        return Constraint(_state(self.name, status, detail, **numbers))


@dataclass(frozen=True, slots=True)
class DontSkipDoses(_Rule):
    """Never escalate past the next untried dose: the next dose is at most the highest dose
    given so far + 1 (dose 1 before anyone is treated).

    Brock's ``dont_skip_doses`` caps at the *last* dose + 1; capping at the highest dose tried
    + 1 only forbids skipping untried doses, which is what protocols ask for.
    """

    parent: Design
    kind: Literal["safety", "information"] = "safety"
    name: str = "no skipping of untried doses"

    def constraint(self, outcomes: Outcomes, proposal: Decision) -> Constraint:
        highest = max((c.dose_level for c in outcomes), default=0)
        cap = min(highest + 1, self.num_doses)
        detail = f"highest dose level given so far: {highest}; next at most dose level {cap}"
        if proposal.dose_level is not None and proposal.dose_level > cap:
            return Constraint(
                _state(self.name, "triggered", detail, max_dose=cap),
                max_dose=cap,
                reason=f"dose level {proposal.dose_level} has not been tried and "
                f"dose levels may not be skipped",
            )
        return Constraint(_state(self.name, "ok", detail, max_dose=cap), max_dose=cap)


@dataclass(frozen=True, slots=True)
class KOfFirstN(_Rule):
    """When ``k`` or more of the first ``n`` patients at a dose have a DLT, that dose and all
    above are excluded; at the lowest dose the trial stops (protocol rule, e.g. 2 of the first 3).

    "The first n" are the first n patients treated at the dose. Outcomes list evaluable patients
    in the order they were treated; a patient treated earlier whose DLT window is still open
    keeps their place: ``pending_first`` gives, per dose level, how many of the first ``n``
    treated are still pending, so only the first ``n - pending`` outcomes at that dose are
    among the first n (the rule waits for the others).
    """

    parent: Design
    k: int
    n: int
    pending_first: tuple[int, ...] = ()
    kind: Literal["safety", "information"] = "safety"
    name: str = "k of the first n"

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.n:
            raise DesignError(f"k of the first n: need 1 <= k <= n, got k={self.k}, n={self.n}")
        object.__setattr__(self, "pending_first", tuple(int(u) for u in self.pending_first))
        _check_unevaluated("k of the first n", self.pending_first, self.num_doses)
        if any(u > self.n for u in self.pending_first):
            raise DesignError(
                f"k of the first n: at most {self.n} of the first {self.n} can be pending, "
                f"got {list(self.pending_first)}"
            )

    def constraint(self, outcomes: Outcomes, proposal: Decision) -> Constraint:
        first: dict[int, list[bool]] = {}
        for cohort in outcomes:
            seen = first.setdefault(cohort.dose_level, [])
            room = self.n - _unevaluated_at(self.pending_first, cohort.dose_level) - len(seen)
            seen.extend(cohort.dlts[: max(room, 0)])
        hit = sorted(d for d, dl in first.items() if sum(dl) >= self.k)
        if hit:
            d = hit[0]
            detail = (
                f"{sum(first[d])} DLTs in the first {len(first[d])} patients at dose level "
                f"{d} (limit: {self.k} of the first {self.n})"
            )
            state = _state(self.name, "triggered", detail, dose_level=d, dlts=sum(first[d]))
            if d == 1:
                return Constraint(state, stop=True, reason=detail)
            return Constraint(state, max_dose=d - 1, eliminate_from=d, reason=detail)
        # k - 1 DLTs while some of the first n are still pending or not yet treated
        near = [d for d, dl in first.items() if sum(dl) == self.k - 1 and len(dl) < self.n]
        if near:
            d = min(near)
            waiting = _unevaluated_at(self.pending_first, d)
            detail = (
                f"{self.k - 1} DLTs in the first {len(first[d])} patients at dose level {d}"
                + (f" ({waiting} more of the first {self.n} still pending)" if waiting else "")
                + f"; {self.k} of the first {self.n} stops that dose"
            )
            return Constraint(_state(self.name, "warning", detail, dose_level=d))
        return Constraint(
            _state(
                self.name, "ok", f"no dose level has {self.k} DLTs in its first {self.n} patients"
            )
        )


@dataclass(frozen=True, slots=True)
class HardStop(_Rule):
    """Stop the trial with no dose when a hard-stop event has occurred (e.g. teratoma in a
    stem-cell trial). The caller looks up the events and passes ``occurred`` and a description.
    """

    parent: Design
    occurred: bool = False
    description: str = ""
    kind: Literal["safety", "information"] = "safety"
    name: str = "hard-stop event"

    def constraint(self, outcomes: Outcomes, proposal: Decision) -> Constraint:
        if self.occurred:
            what = self.description or "a hard-stop event occurred"
            return Constraint(
                _state(self.name, "triggered", f"hard-stop event: {what}", occurred=1.0),
                stop=True,
                reason=f"Hard-stop event: {what}",
            )
        return Constraint(_state(self.name, "ok", "no hard-stop event", occurred=0.0))
