"""BOIN, the Bayesian optimal interval design (Liu & Yuan 2015), as the R package BOIN.

At the last dose treated, with ``y`` DLTs in ``n`` patients: escalate when y/n <= lambda_e,
de-escalate when y/n > lambda_d, otherwise stay. The boundaries come in closed form from
p.saf = 0.6 x target and p.tox = 1.4 x target. A dose and every dose above it are eliminated once
P(DLT rate > target | data) > 0.95 under a Beta(1, 1) prior, only from n >= 3; the de-escalation
boundary is capped at the elimination boundary; the trial stops when the lowest dose is eliminated.
The final MTD is chosen by isotonic regression (``select.mtd``).

Conventions follow BOIN 2.7.2 (``get.boundary``, ``get.oc``, ``select.mtd``) and Brock's
``escalation::get_boin``: at the top dose "escalate" means stay; at the lowest dose "de-escalate"
means stay; the trial never escalates into an eliminated dose.

References
----------
Liu S. and Yuan Y. (2015). Bayesian optimal interval designs for phase I clinical trials.
Journal of the Royal Statistical Society: Series C 64:507-523.
Yan F., Zhang L., Zhou Y., Pan H., Liu S. and Yuan Y. (2020). BOIN: an R package for designing
single-agent and drug-combination dose-finding trials using Bayesian optimal interval designs.
Journal of Statistical Software 94(13):1-32.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from safety.errors import DesignError
from safety.escalation.decision import (
    Action,
    Decision,
    boundary_text,
    decision_maker,
    decisive,
    dlt_phrase,
    eliminated_from,
    prob_exceeds,
    rate_text,
)
from safety.escalation.outcomes import Cohort, as_outcomes, counts_by_dose, last_dose

log = logging.getLogger(__name__)

BOIN_P_SAF_FACTOR = 0.6  # Liu & Yuan (2015); BOIN get.boundary default p.saf = 0.6 * target
BOIN_P_TOX_FACTOR = 1.4  # Liu & Yuan (2015); BOIN get.boundary default p.tox = 1.4 * target
BOIN_ELIMINATION_CUTOFF = 0.95  # Liu & Yuan (2015): eliminate when P(p > target | data) > 0.95
BOIN_ELIMINATION_MIN_N = 3  # BOIN get.boundary: elimination only once n >= 3
BOIN_PRIOR_A = 1.0  # Liu & Yuan (2015): Beta(1, 1) prior for the safety rule
BOIN_PRIOR_B = 1.0
BOIN_EXTRASAFE_OFFSET = 0.05  # BOIN get.boundary: extrasafe cutoff = cutoff.eli - offset
BOIN_N_EARLYSTOP = 100  # BOIN get.boundary default: 100 "essentially turns off" early stopping
BOIN_TARGET_MIN = 0.05  # BOIN get.boundary: "the target is too low!"
BOIN_TARGET_MAX = 0.6  # BOIN get.boundary: "the target is too high!"
BOIN_MIN_GAP_FRACTION = 0.1  # BOIN get.boundary: p.saf and p.tox at least 0.1 x target away
SELECT_MTD_PSEUDO_DLT = 0.05  # BOIN select.mtd: estimate (y + 0.05) / (n + 0.1)
SELECT_MTD_PSEUDO_N = 0.1  # BOIN select.mtd
SELECT_MTD_TIE_BREAK = 1e-10  # BOIN select.mtd: phat + (1:k) * 1e-10 breaks ties
_INTEGER_TOLERANCE = 1e-12  # BOIN get.boundary: lambda_d * n within 1e-12 of a whole number


def boin_lambdas(
    target: float, p_saf: float | None = None, p_tox: float | None = None
) -> tuple[float, float]:
    """Escalation and de-escalation boundaries (lambda_e, lambda_d) in closed form.

    References
    ----------
    Liu & Yuan (2015), eq. for the local BOIN with equal prior interval probabilities; BOIN
    get.boundary: target 0.3 gives lambda_e = 0.236, lambda_d = 0.358.
    """
    p_saf = BOIN_P_SAF_FACTOR * target if p_saf is None else p_saf
    p_tox = BOIN_P_TOX_FACTOR * target if p_tox is None else p_tox
    lambda_e = math.log((1 - p_saf) / (1 - target)) / math.log(
        target * (1 - p_saf) / (p_saf * (1 - target))
    )
    lambda_d = math.log((1 - target) / (1 - p_tox)) / math.log(
        p_tox * (1 - target) / (target * (1 - p_tox))
    )
    return lambda_e, lambda_d


@dataclass(frozen=True, slots=True)
class BoinBoundary:
    """Boundaries for ``n`` patients at a dose (one column of BOIN's ``full_boundary_tab``)."""

    n: int
    escalate_at_most: int  # escalate if # DLT <= this
    deescalate_at_least: int  # de-escalate if # DLT >= this (capped at elimination)
    eliminate_at_least: int | None  # eliminate if # DLT >= this; None below n = 3 or never

    def letter(self, dlts: int) -> str:
        """E, S, D or DU for ``dlts`` DLTs in ``n``."""
        if self.eliminate_at_least is not None and dlts >= self.eliminate_at_least:
            return "DU"
        if dlts <= self.escalate_at_most:
            return "E"
        if dlts >= self.deescalate_at_least:
            return "D"
        return "S"


@functools.lru_cache(maxsize=8192)  # pure; a decision table asks for every n up to hundreds
def elimination_boundary(
    n: int,
    target: float,
    cutoff: float = BOIN_ELIMINATION_CUTOFF,
    min_n: int = BOIN_ELIMINATION_MIN_N,
) -> int | None:
    """Smallest number of DLTs in ``n`` with P(p > target | Beta(1+y, 1+n-y)) > cutoff.

    The posterior probability grows with the DLTs (Beta(1+y, 1+n-y) is stochastically larger
    for larger y), so the smallest such y is found by bisection: log2(n) exact tails, not n.
    """
    if n < min_n:
        return None

    def exceeds(dlts: int) -> bool:
        return prob_exceeds(target, n, dlts, BOIN_PRIOR_A, BOIN_PRIOR_B) > cutoff

    if not exceeds(n):
        return None
    low, high = 1, n  # exceeds(high) holds; find the first dlts in [low, high] that does
    while low < high:
        middle = (low + high) // 2
        if exceeds(middle):
            high = middle
        else:
            low = middle + 1
    return low


def elimination_start(
    n: Sequence[int],
    dlts: Sequence[int],
    target: float,
    cutoff: float = BOIN_ELIMINATION_CUTOFF,
    min_n: int = BOIN_ELIMINATION_MIN_N,
) -> int | None:
    """Lowest dose level meeting the elimination rule (it and all above are eliminated)."""
    for j, (nj, yj) in enumerate(zip(n, dlts, strict=True)):
        if nj >= min_n and prob_exceeds(target, int(nj), int(yj)) > cutoff:
            return j + 1
    return None


def isotonic_estimates(n: Sequence[int], dlts: Sequence[int]) -> tuple[float | None, ...]:
    """BOIN/Keyboard ``select.mtd`` estimates: isotonic fit of (y+0.05)/(n+0.1), weights 1/var.

    Untreated doses get None and are left out of the fit.

    References
    ----------
    BOIN select.mtd (``phat.all``); Keyboard select.mtd.kb (same estimator).
    """
    n_arr = np.asarray(n, dtype=float)
    y_arr = np.asarray(dlts, dtype=float)
    treated = n_arr > 0
    out: list[float | None] = [None] * len(n_arr)
    if not treated.any():
        return tuple(out)
    fitted = _pava(n_arr[treated], y_arr[treated])
    for idx, value in zip(np.flatnonzero(treated), fitted, strict=True):
        out[int(idx)] = float(value)
    return tuple(out)


def _pava(n: np.ndarray, y: np.ndarray) -> np.ndarray:
    a = y + SELECT_MTD_PSEUDO_DLT
    b = n - y + SELECT_MTD_PSEUDO_DLT
    total = n + SELECT_MTD_PSEUDO_N
    phat = a / total
    variance = a * b / (total**2 * (total + 1))
    return pool_adjacent_violators(phat, 1 / variance)


def pool_adjacent_violators(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted least-squares non-decreasing fit of ``values``: neighbours that decrease
    are pooled into their weighted mean until none do (the PAVA of BOIN's own ``pava``; a
    handful of doses, so plain Python, and no 1 s scipy.optimize import in every command).

    References
    ----------
    Barlow, Bartholomew, Bremner & Brunk (1972), Statistical inference under order restrictions;
    BOIN R package ``pava`` (used by ``select.mtd``).
    """
    blocks: list[list[float]] = []  # [weighted mean, weight, number of doses]
    for value, weight in zip(values.tolist(), weights.tolist(), strict=True):
        blocks.append([value, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m2, w2, k2), (m1, w1, k1) = blocks.pop(), blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, k1 + k2])
    return np.repeat([m for m, _, _ in blocks], [k for _, _, k in blocks]).astype(float)


def select_mtd_isotonic(
    n: Sequence[int], dlts: Sequence[int], target: float, eliminated: Sequence[int]
) -> int | None:
    """MTD by BOIN's ``select.mtd``: closest isotonic estimate to target among treated,
    non-eliminated doses; None when the lowest dose is eliminated or none is admissible.

    Ties: as select.mtd, ``1e-10 * rank`` is added to the fitted values, then the first minimum
    of the distance to target wins (so among pooled doses below target the higher dose, above
    target the lower dose).
    """
    if 1 in eliminated:
        return None
    admissible = [j for j in range(len(n)) if n[j] > 0 and (j + 1) not in eliminated]
    if not admissible:
        return None
    fitted = _pava(
        np.asarray([n[j] for j in admissible], dtype=float),
        np.asarray([dlts[j] for j in admissible], dtype=float),
    )
    fitted = fitted + np.arange(1, len(fitted) + 1) * SELECT_MTD_TIE_BREAK
    return admissible[int(np.argmin(np.abs(fitted - target)))] + 1


@dataclass(frozen=True, slots=True)
class Boin:
    """BOIN design over ``num_doses`` dose levels.

    Parameters
    ----------
    num_doses : int
    target : float
        Target DLT rate, 0.05 to 0.6 (BOIN get.boundary limits).
    p_saf, p_tox : float, optional
        Defaults 0.6 x target and 1.4 x target.
    cutoff_eli : float
        Elimination cutoff, default 0.95.
    extrasafe : bool
        Stop when n >= 3 at the lowest dose and P(p_1 > target) > cutoff_eli - offset.
    offset : float
        Default 0.05.
    n_earlystop : int
        Stop and select the MTD when the next cohort would stay at a dose that already has this
        many patients (BOIN get.oc); default 100 (off).

    References
    ----------
    Liu & Yuan (2015); BOIN 2.7.2 get.boundary, get.oc, select.mtd.
    """

    num_doses: int
    target: float
    p_saf: float | None = None
    p_tox: float | None = None
    cutoff_eli: float = BOIN_ELIMINATION_CUTOFF
    extrasafe: bool = False
    offset: float = BOIN_EXTRASAFE_OFFSET
    n_earlystop: int = BOIN_N_EARLYSTOP
    name: str = "boin"

    def __post_init__(self) -> None:
        if self.num_doses < 1:
            raise DesignError(
                f"BOIN: the number of dose levels must be at least 1, got {self.num_doses}"
            )
        if not BOIN_TARGET_MIN <= self.target <= BOIN_TARGET_MAX:
            raise DesignError(
                f"BOIN: the target DLT rate must be between {BOIN_TARGET_MIN} and "
                f"{BOIN_TARGET_MAX}, got {self.target}"
            )
        p_saf, p_tox = self._p_saf, self._p_tox
        if self.target - p_saf < BOIN_MIN_GAP_FRACTION * self.target:
            raise DesignError(
                f"BOIN: p.saf {p_saf} must be below the target {self.target} by at "
                f"least {BOIN_MIN_GAP_FRACTION} x target"
            )
        if p_tox - self.target < BOIN_MIN_GAP_FRACTION * self.target:
            raise DesignError(
                f"BOIN: p.tox {p_tox} must be above the target {self.target} by at "
                f"least {BOIN_MIN_GAP_FRACTION} x target"
            )
        if not 0 < self.cutoff_eli < 1:
            raise DesignError(
                f"BOIN: the elimination cutoff must be between 0 and 1, got {self.cutoff_eli}"
            )
        if not 0 <= self.offset < 0.5:
            raise DesignError(f"BOIN: the extra-safe offset must be in [0, 0.5), got {self.offset}")
        if self.n_earlystop < 1:
            raise DesignError(f"BOIN: n_earlystop must be at least 1, got {self.n_earlystop}")

    @property
    def _p_saf(self) -> float:
        return BOIN_P_SAF_FACTOR * self.target if self.p_saf is None else self.p_saf

    @property
    def _p_tox(self) -> float:
        return BOIN_P_TOX_FACTOR * self.target if self.p_tox is None else self.p_tox

    @property
    def lambdas(self) -> tuple[float, float]:
        """(lambda_e, lambda_d)."""
        return boin_lambdas(self.target, self._p_saf, self._p_tox)

    def boundary(self, n: int) -> BoinBoundary:
        """Boundaries for ``n`` patients at a dose, as BOIN get.boundary computes them."""
        if n < 1:
            raise DesignError(f"BOIN: boundaries need at least 1 patient, got {n}")
        lambda_e, lambda_d = self.lambdas
        escalate = math.floor(lambda_e * n)
        ln = lambda_d * n
        deescalate = round(ln) + 1 if abs(round(ln) - ln) < _INTEGER_TOLERANCE else math.ceil(ln)
        eliminate = elimination_boundary(n, self.target, self.cutoff_eli)
        if eliminate is not None and deescalate > eliminate:
            deescalate = eliminate
        return BoinBoundary(n, escalate, deescalate, eliminate)

    def boundaries(self, max_n: int) -> tuple[BoinBoundary, ...]:
        """Boundaries for n = 1 .. max_n (BOIN's ``full_boundary_tab``)."""
        return tuple(self.boundary(n) for n in range(1, max_n + 1))

    def decision_table(self, max_n: int) -> tuple[tuple[str, ...], ...]:
        """Row ``n - 1`` holds the letter (E, S, D, DU) for 0..n DLTs in n patients."""
        return tuple(tuple(b.letter(y) for y in range(b.n + 1)) for b in self.boundaries(max_n))

    def _eliminated(self, n: np.ndarray, y: np.ndarray) -> tuple[int, ...]:
        first = elimination_start(n, y, self.target, self.cutoff_eli)
        return eliminated_from(first, self.num_doses)

    def _extrasafe_stop(self, n: np.ndarray, y: np.ndarray) -> float | None:
        if not self.extrasafe or n[0] < BOIN_ELIMINATION_MIN_N:
            return None
        p = prob_exceeds(self.target, int(n[0]), int(y[0]))
        return p if p > self.cutoff_eli - self.offset else None

    def decide(self, outcomes: str | Sequence[Cohort]) -> Decision:
        """Decision for the next cohort."""
        cohorts = as_outcomes(outcomes)
        n, y = counts_by_dose(cohorts, self.num_doses)
        estimates = isotonic_estimates(n, y)
        eliminated = self._eliminated(n, y)
        lambda_e, lambda_d = self.lambdas
        current = last_dose(cohorts)
        base = {"lambda_e": lambda_e, "lambda_d": lambda_d, "target": self.target}

        make = decision_maker(self.name, "BOIN", current, estimates, eliminated)

        if current is None:
            return make(1, True, "No patients treated yet: start at dose level 1", base)
        d = current
        n_d, y_d = int(n[d - 1]), int(y[d - 1])
        bound = self.boundary(n_d)
        p_over = prob_exceeds(self.target, n_d, y_d)
        numbers = {
            **base,
            "n": n_d,
            "dlts": y_d,
            "dose_level": d,
            "p_hat": y_d / n_d,
            "escalate_at_most": bound.escalate_at_most,
            "deescalate_at_least": bound.deescalate_at_least,
            "p_overdose": p_over,
        }
        if bound.eliminate_at_least is not None:
            numbers["eliminate_at_least"] = bound.eliminate_at_least
        here = f"{dlt_phrase(y_d, n_d)} at dose level {d}"
        lam_e, lam_d = boundary_text(lambda_e), boundary_text(lambda_d)

        if 1 in eliminated:
            p1 = prob_exceeds(self.target, int(n[0]), int(y[0]))
            return make(
                None,
                False,
                f"{dlt_phrase(int(y[0]), int(n[0]))} at dose level 1: P(DLT rate > "
                f"{self.target:g}) = {decisive(p1, self.cutoff_eli)} > {self.cutoff_eli:g}, the "
                "lowest dose level is eliminated: stop; no dose level is safe",
                numbers,
            )
        p1 = self._extrasafe_stop(n, y)
        if p1 is not None:
            return make(
                None,
                False,
                f"{dlt_phrase(int(y[0]), int(n[0]))} at dose level 1: P(DLT rate > "
                f"{self.target:g}) = {decisive(p1, self.cutoff_eli - self.offset)} > "
                f"{self.cutoff_eli - self.offset:g} "
                "(extra-safe rule): stop; no dose level is safe",
                numbers,
            )

        if y_d <= bound.escalate_at_most:
            why = f"{here}: observed DLT rate {rate_text(y_d, n_d, lambda_e)} <= lambda_e {lam_e}"
            if d == self.num_doses:
                next_dose, text = d, f"{why}, but dose level {d} is the top dose: stay there"
            elif d + 1 in eliminated:
                next_dose, text = (
                    d,
                    (f"{why}, but dose level {d + 1} is eliminated: stay at dose level {d}"),
                )
            else:
                next_dose, text = d + 1, f"{why}: escalate to dose level {d + 1}"
        elif y_d >= bound.deescalate_at_least:
            if d in eliminated:
                next_dose = min(eliminated) - 1
                text = (
                    f"{here}: P(DLT rate > {self.target:g}) = "
                    f"{decisive(p_over, self.cutoff_eli)} > "
                    f"{self.cutoff_eli:g}, eliminate dose level {min(eliminated)} and above; "
                    f"de-escalate to dose level {next_dose}"
                )
            elif d == 1:
                next_dose = 1
                text = (
                    f"{here}: observed DLT rate {rate_text(y_d, n_d, lambda_d)} > lambda_d "
                    f"{lam_d}, but dose level 1 is the lowest: stay there"
                )
            else:
                next_dose = d - 1
                text = (
                    f"{here}: observed DLT rate {rate_text(y_d, n_d, lambda_d)} > lambda_d "
                    f"{lam_d}: de-escalate to dose level {d - 1}"
                )
        else:
            next_dose = d
            text = (
                f"{here}: observed DLT rate {y_d}/{n_d} = "
                f"{decisive(y_d / n_d, lambda_d, 4)} is between lambda_e {lam_e} and lambda_d "
                f"{lam_d}: stay at dose level {d}"
            )

        if next_dose == d and n_d >= self.n_earlystop:
            final = self.final(cohorts)
            where = (
                "no dose level" if final.dose_level is None else f"dose level {final.dose_level}"
            )
            return make(
                final.dose_level,
                False,
                f"{text}; {n_d} patients at dose level {d} reached the early-stopping "
                f"size {self.n_earlystop}: stop; {where} is the MTD by isotonic regression",
                numbers,
            )
        return make(next_dose, True, text, numbers)

    def final(self, outcomes: str | Sequence[Cohort]) -> Decision:
        """Final MTD selection (BOIN ``select.mtd``): isotonic regression, closest to target."""
        cohorts = as_outcomes(outcomes)
        n, y = counts_by_dose(cohorts, self.num_doses)
        eliminated = self._eliminated(n, y)
        if self._extrasafe_stop(n, y) is not None:
            eliminated = eliminated_from(1, self.num_doses)
        return final_selection(
            self.name, "BOIN", self.num_doses, self.target, n, y, eliminated, last_dose(cohorts)
        )


def final_selection(
    design: str,
    label: str,
    num_doses: int,
    target: float,
    n: np.ndarray,
    y: np.ndarray,
    eliminated: tuple[int, ...],
    current: int | None,
) -> Decision:
    """A stop decision naming the MTD chosen by isotonic regression (BOIN/Keyboard select.mtd)."""
    estimates = isotonic_estimates(n, y)
    mtd = select_mtd_isotonic(n, y, target, eliminated)
    numbers: dict[str, float] = {"target": target}
    if mtd is None:
        why = (
            "dose level 1 is eliminated for toxicity"
            if 1 in eliminated
            else "no dose level that is not eliminated has been given"
        )
        reason = f"Final selection: {why}; no dose level is recommended ({label} select.mtd)"
    else:
        est = estimates[mtd - 1]
        assert est is not None
        numbers.update({"mtd": mtd, "mtd_estimate": est})
        reason = (
            f"Final selection: dose level {mtd} has isotonic estimated DLT rate {est:.2f}, "
            f"closest to the target {target:g} ({label} select.mtd)"
        )
    return Decision(
        action=Action.STOP,
        dose_level=mtd,
        reason=reason,
        numbers=numbers,
        continue_=False,
        estimates=estimates,
        eliminated=eliminated,
        design=design,
        current_dose=current,
    )
