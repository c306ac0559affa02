"""mTPI-2, the modified toxicity probability interval design 2 (Guo et al. 2017).

The DLT rate range (0, 1) is cut into the equivalence interval [target - eps1, target + eps2]
and intervals of the same width below and above it (shorter at the two ends). With a Beta(1, 1)
prior, the posterior probability of each interval divided by its width (the unit probability
mass, UPM) is computed at the last dose treated: the interval with the largest UPM decides,
below target escalate (E), the equivalence interval stay (S), above de-escalate (D). A dose with
P(DLT rate > target | data) > 0.95 and at least 3 patients is eliminated with every dose above it
(DU). mTPI-2 gives the same decisions as the Keyboard design (Yan, Mandrekar & Yuan 2017), whose
R package this follows for the interval layout (``get.boundary.kb``), the n >= 3 condition for
elimination (``get.oc.kb``) and the final MTD selection (``select.mtd.kb``, isotonic regression).

Ties in the UPM go to E before S and S before D, as Brock's ``escalation::get_mtpi2``. (The
Keyboard package's ``get.boundary.kb`` breaks ties towards the higher key instead; for Beta
posteriors an exact tie in floating point does not arise in practice.)

References
----------
Guo W., Wang S.-J., Yang S., Lynn H., Ji Y. (2017). A Bayesian interval dose-finding design
addressing Ockham's razor: mTPI-2. Contemporary Clinical Trials 58:23-33.
Yan F., Mandrekar S.J., Yuan Y. (2017). Keyboard: a novel Bayesian toxicity probability interval
design for phase I clinical trials. Clinical Cancer Research 23:3994-4003.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from safety.errors import DesignError
from safety.escalation.boin import final_selection, isotonic_estimates
from safety.escalation.decision import (
    Decision,
    beta_cdf,
    decision_maker,
    decisive,
    dlt_phrase,
    eliminated_from,
    prob_exceeds,
)
from safety.escalation.outcomes import Cohort, as_outcomes, counts_by_dose, last_dose

log = logging.getLogger(__name__)

MTPI2_EPSILON = 0.05  # Guo et al. (2017): equivalence interval target -/+ 0.05
MTPI2_EXCLUSION_CERTAINTY = 0.95  # Guo et al. (2017): exclude when P(p > target | data) > 0.95
MTPI2_ELIMINATION_MIN_N = 3  # Keyboard get.oc.kb: elimination only once n >= 3
MTPI2_PRIOR_A = 1.0  # Guo et al. (2017): Beta(1, 1) prior
MTPI2_PRIOR_B = 1.0
_INTERVAL_NAMES = {"E": "underdosing", "S": "equivalence", "D": "overdosing"}
_KEY_DIGITS = 10  # round interval end points so float noise cannot make zero-width intervals


def mtpi2_intervals(
    target: float, epsilon1: float = MTPI2_EPSILON, epsilon2: float = MTPI2_EPSILON
) -> tuple[tuple[float, float], ...]:
    """The intervals ("keys") from 0 to 1; the equivalence interval is the one starting at
    ``target - epsilon1``.

    References
    ----------
    Keyboard get.boundary.kb (``getkey``); Guo et al. (2017), section 2.
    """
    low, high = round(target - epsilon1, _KEY_DIGITS), round(target + epsilon2, _KEY_DIGITS)
    width = high - low
    cuts = [low, high]
    i = 1
    while cuts[0] > 0:
        cuts.insert(0, max(round(low - i * width, _KEY_DIGITS), 0.0))
        i += 1
    i = 1
    while cuts[-1] < 1:
        cuts.append(min(round(high + i * width, _KEY_DIGITS), 1.0))
        i += 1
    return tuple((a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a)


@dataclass(frozen=True, slots=True)
class Mtpi2:
    """mTPI-2 design over ``num_doses`` dose levels.

    Parameters
    ----------
    num_doses : int
    target : float
    epsilon1, epsilon2 : float
        Equivalence interval [target - epsilon1, target + epsilon2]; default 0.05 each.
    exclusion_certainty : float
        Default 0.95.
    alpha, beta : float
        Beta prior, default Beta(1, 1).

    References
    ----------
    Guo et al. (2017); Keyboard R package (Yan, Mandrekar & Yuan 2017).
    """

    num_doses: int
    target: float
    epsilon1: float = MTPI2_EPSILON
    epsilon2: float = MTPI2_EPSILON
    exclusion_certainty: float = MTPI2_EXCLUSION_CERTAINTY
    alpha: float = MTPI2_PRIOR_A
    beta: float = MTPI2_PRIOR_B
    name: str = "mtpi2"

    def __post_init__(self) -> None:
        if self.num_doses < 1:
            raise DesignError(
                f"mTPI-2: the number of dose levels must be at least 1, got {self.num_doses}"
            )
        if not 0 < self.target < 1:
            raise DesignError(
                f"mTPI-2: the target DLT rate must be between 0 and 1, got {self.target}"
            )
        if self.epsilon1 <= 0 or self.epsilon2 <= 0:
            raise DesignError("mTPI-2: epsilon1 and epsilon2 must be positive")
        if self.target - self.epsilon1 <= 0 or self.target + self.epsilon2 >= 1:
            raise DesignError(
                f"mTPI-2: the equivalence interval [{self.target - self.epsilon1:g}, "
                f"{self.target + self.epsilon2:g}] must lie inside (0, 1)"
            )
        if not 0 < self.exclusion_certainty < 1:
            raise DesignError(
                "mTPI-2: the exclusion certainty must be between 0 and 1, got "
                f"{self.exclusion_certainty}"
            )

    def _p_over(self, n: int, dlts):
        return prob_exceeds(self.target, n, dlts, self.alpha, self.beta)

    def unit_probability_mass(self, n: int, dlts) -> tuple[np.ndarray, int]:
        """UPM of every interval and the index of the equivalence interval (one row per
        value when ``dlts`` is an array)."""
        keys = mtpi2_intervals(self.target, self.epsilon1, self.epsilon2)
        lows = np.array([a for a, _ in keys])
        highs = np.array([b for _, b in keys])
        dlts = np.asarray(dlts, dtype=float)[..., None]
        cdf = beta_cdf(np.concatenate([lows, highs]), self.alpha + dlts, self.beta + n - dlts)
        upm = (cdf[..., len(lows):] - cdf[..., : len(lows)]) / (highs - lows)
        equivalence = int(np.argmin(np.abs(lows - round(self.target - self.epsilon1, _KEY_DIGITS))))
        return upm, equivalence

    def letters(self, n: int, dlts: np.ndarray) -> np.ndarray:
        """E, S, D or DU for each of ``dlts`` DLTs in ``n`` at a dose (Guo et al. 2017,
        Figure 3): the interval of highest UPM, ties to the lower one; DU once the dose is
        excluded."""
        upm, eq = self.unit_probability_mass(n, dlts)
        best = upm.max(axis=-1, keepdims=True)
        letter = np.where((upm[..., :eq] == best).any(axis=-1), "E",
                          np.where(upm[..., eq] == best[..., 0], "S", "D"))
        if n >= MTPI2_ELIMINATION_MIN_N:
            letter = np.where(self._p_over(n, dlts) > self.exclusion_certainty, "DU", letter)
        return letter

    def letter(self, n: int, dlts: int) -> str:
        """E, S, D or DU for ``dlts`` DLTs in ``n`` at a dose (:meth:`letters`)."""
        return str(self.letters(n, np.array([dlts]))[0])

    def decision_table(self, max_n: int) -> tuple[tuple[str, ...], ...]:
        """Row ``n - 1`` holds the letter for 0..n DLTs in n patients."""
        if max_n < 1:
            raise DesignError(f"mTPI-2: max_n must be at least 1, got {max_n}")
        return tuple(tuple(self.letters(n, np.arange(n + 1)).tolist())
                     for n in range(1, max_n + 1))

    def boundaries(self, max_n: int) -> tuple[tuple[str, ...], ...]:
        """Same as :meth:`decision_table` (mTPI-2 has no closed-form boundaries)."""
        return self.decision_table(max_n)

    def _eliminated(self, n: np.ndarray, y: np.ndarray) -> tuple[int, ...]:
        for j in range(self.num_doses):
            if (
                n[j] >= MTPI2_ELIMINATION_MIN_N
                and self._p_over(int(n[j]), int(y[j])) > self.exclusion_certainty
            ):
                return eliminated_from(j + 1, self.num_doses)
        return ()

    def decide(self, outcomes: str | Sequence[Cohort]) -> Decision:
        """Decision for the next cohort."""
        cohorts = as_outcomes(outcomes)
        n, y = counts_by_dose(cohorts, self.num_doses)
        estimates = isotonic_estimates(n, y)
        eliminated = self._eliminated(n, y)
        current = last_dose(cohorts)

        make = decision_maker(self.name, "mTPI-2", current, estimates, eliminated)

        base = {"target": self.target, "epsilon1": self.epsilon1, "epsilon2": self.epsilon2}
        if current is None:
            return make(1, True, "No patients treated yet: start at dose level 1", base)
        d = current
        n_d, y_d = int(n[d - 1]), int(y[d - 1])
        p_over = self._p_over(n_d, y_d)
        upm, eq = self.unit_probability_mass(n_d, y_d)
        numbers = {
            **base,
            "n": n_d,
            "dlts": y_d,
            "dose_level": d,
            "p_overdose": p_over,
            "upm_under": float(upm[:eq].max()) if eq > 0 else 0.0,
            "upm_equivalence": float(upm[eq]),
            "upm_over": float(upm[eq + 1 :].max()) if eq + 1 < len(upm) else 0.0,
        }
        here = f"{dlt_phrase(y_d, n_d)} at dose level {d}"
        if 1 in eliminated:
            p1 = self._p_over(int(n[0]), int(y[0]))
            return make(
                None,
                False,
                f"{dlt_phrase(int(y[0]), int(n[0]))} at dose level 1: P(DLT rate > "
                f"{self.target:g}) = {decisive(p1, self.exclusion_certainty)} > "
                f"{self.exclusion_certainty:g}, the lowest dose level is excluded: stop; no "
                "dose level is safe",
                numbers,
            )
        letter = self.letter(n_d, y_d)
        upm_text = f"largest unit probability mass in the {_INTERVAL_NAMES.get(letter)} interval"
        if d in eliminated or letter == "DU":
            first = min(eliminated) if eliminated else d
            next_dose = first - 1
            text = (
                f"{here}: P(DLT rate > {self.target:g}) = "
                f"{decisive(p_over, self.exclusion_certainty)} > "
                f"{self.exclusion_certainty:g}, eliminate dose level {first} and above; "
                f"de-escalate to dose level {next_dose}"
            )
        elif letter == "E":
            if d == self.num_doses:
                next_dose, text = (
                    d,
                    f"{here}: {upm_text}, but dose level {d} is the top: stay there",
                )
            elif d + 1 in eliminated:
                next_dose, text = (
                    d,
                    (
                        f"{here}: {upm_text}, but dose level {d + 1} is eliminated: "
                        f"stay at dose level {d}"
                    ),
                )
            else:
                next_dose, text = d + 1, f"{here}: {upm_text}: escalate to dose level {d + 1}"
        elif letter == "S":
            next_dose, text = d, f"{here}: {upm_text}: stay at dose level {d}"
        elif d == 1:
            next_dose, text = 1, f"{here}: {upm_text}, but dose level 1 is the lowest: stay there"
        else:
            next_dose, text = d - 1, f"{here}: {upm_text}: de-escalate to dose level {d - 1}"
        return make(next_dose, True, text, numbers)

    def final(self, outcomes: str | Sequence[Cohort]) -> Decision:
        """Final MTD selection by isotonic regression (Keyboard ``select.mtd.kb``)."""
        cohorts = as_outcomes(outcomes)
        n, y = counts_by_dose(cohorts, self.num_doses)
        return final_selection(
            self.name,
            "mTPI-2/Keyboard",
            self.num_doses,
            self.target,
            n,
            y,
            self._eliminated(n, y),
            last_dose(cohorts),
        )
