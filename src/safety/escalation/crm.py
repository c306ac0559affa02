"""CRM, the continual reassessment method (O'Quigley, Pepe & Fisher 1990), as dfcrm's ``crm``.

One-parameter dose-toxicity models on a skeleton (prior guesses of the DLT rate at each dose):

* empiric (power): p_i = skeleton_i ** exp(beta)
* logistic: p_i = expit(a0 + exp(beta) * x_i), with x_i = logit(skeleton_i) - a0 and a0 = 3

with a normal prior beta ~ N(0, 1.34). The posterior mean of beta is computed by numerical
integration, the model's DLT rate at every dose is evaluated at that mean (dfcrm's ``ptox``), and
the recommended dose is the one whose estimate is closest to the target (dfcrm: the top dose when
every estimate is at or below target, dose 1 when every estimate is at or above it). As in dfcrm,
the CRM itself never stops and does not forbid skipping doses: wrap it in the rules of
:mod:`safety.escalation.rules` for that.

References
----------
O'Quigley J., Pepe M., Fisher L. (1990). Continual reassessment method: a practical design for
phase 1 clinical trials in cancer. Biometrics 46(1):33-48.
Cheung Y.K. (2011). Dose Finding by the Continual Reassessment Method. Chapman & Hall/CRC.
Cheung Y.K. dfcrm: Dose-Finding by the Continual Reassessment Method. R package, function ``crm``.
Lee S.M. and Cheung Y.K. (2009). Model calibration in the continual reassessment method.
Clinical Trials 6:227-238 (``getprior``).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from safety.errors import DesignError
from safety.escalation.decision import Action, Decision, action_for
from safety.escalation.outcomes import Cohort, as_outcomes, counts_by_dose, last_dose

log = logging.getLogger(__name__)

CRM_PRIOR_VARIANCE = 1.34  # Cheung, dfcrm crm default scale = sqrt(1.34)
CRM_LOGISTIC_INTERCEPT = 3.0  # Cheung, dfcrm crm default intcpt = 3
CRM_INTEGRATION_LIMIT = 10.0  # dfcrm crm: posterior moments integrate beta over (-10, 10)
_TAIL_PRIOR_SDS = 40.0  # numerical: where the normal prior on beta is zero in double precision
_GRID_POINTS = 4001  # numerical: grid that locates the posterior mode before integrating
_GAUSS_POINTS = 64  # numerical: Gauss-Legendre nodes per interval
_SPREADS = 12.0  # numerical: intervals cut at the mode and 2 and 12 spreads either side
_LOG_UNDERFLOW = -745.0  # numerical: exp() of anything smaller is 0 in double precision

CrmModel = Literal["empiric", "logistic"]


def _logit(p):
    return np.log(p) - np.log1p(-p)


def _expit(x):
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))  # no overflow for large -x


def _check_skeleton(skeleton: Sequence[float], model: str, intercept: float) -> np.ndarray:
    sk = np.asarray(skeleton, dtype=float)
    if sk.ndim != 1 or len(sk) < 1:
        raise DesignError("CRM: the skeleton needs at least one dose level")
    if not ((sk > 0) & (sk < 1)).all():
        raise DesignError(f"CRM: skeleton values must lie strictly between 0 and 1, got {list(sk)}")
    if (np.diff(sk) <= 0).any():
        raise DesignError(f"CRM: the skeleton must increase with dose level, got {list(sk)}")
    if model == "logistic" and not (_logit(sk) - intercept < 0).all():
        raise DesignError(  # dfcrm: "Intercept parameter in logit model is too small"
            f"CRM: the logistic intercept {intercept:g} is too small for this skeleton "
            "(scaled doses logit(skeleton) - intercept must be negative)"
        )
    return sk


def crm_tox(
    beta: float,
    skeleton: Sequence[float],
    model: CrmModel = "empiric",
    intercept: float = CRM_LOGISTIC_INTERCEPT,
) -> np.ndarray:
    """The model's DLT rate at every dose for a value of beta (dfcrm ``ptox`` at ``est``)."""
    sk = np.asarray(skeleton, dtype=float)
    if model == "empiric":
        return sk ** math.exp(beta)
    return _expit(intercept + math.exp(beta) * (_logit(sk) - intercept))


def _log_likelihood(
    beta: np.ndarray,
    log_sk: np.ndarray,
    x: np.ndarray,
    n: np.ndarray,
    y: np.ndarray,
    model: str,
    intercept: float,
) -> np.ndarray:
    """Binomial log-likelihood at every beta of an array (treated doses only add to it)."""
    scale = np.exp(beta)[:, None]
    if model == "empiric":
        log_p = scale * log_sk
        with np.errstate(divide="ignore"):
            log_q = np.log1p(-np.exp(log_p))  # -inf when p rounds to 1: likelihood 0
    else:
        eta = intercept + scale * x
        log_p = -np.logaddexp(0.0, -eta)
        log_q = -np.logaddexp(0.0, eta)
    with np.errstate(invalid="ignore"):  # 0 * -inf where a dose has no such patient
        terms = np.where(y > 0, y * log_p, 0.0) + np.where(n - y > 0, (n - y) * log_q, 0.0)
    return terms.sum(axis=1)


@functools.cache
def _gauss_legendre(points: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(points)


def _integrate(f, edges: Sequence[float]) -> float:
    """Gauss-Legendre quadrature of a vectorised f over consecutive intervals of ``edges``."""
    nodes, weights = _gauss_legendre(_GAUSS_POINTS)
    total = 0.0
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if b > a:
            half, mid = (b - a) / 2, (a + b) / 2
            total += half * float(weights @ f(half * nodes + mid))
    return total


def crm_posterior(
    skeleton: Sequence[float],
    n: Sequence[int],
    dlts: Sequence[int],
    model: CrmModel = "empiric",
    prior_var: float = CRM_PRIOR_VARIANCE,
    intercept: float = CRM_LOGISTIC_INTERCEPT,
) -> tuple[float, float]:
    """Posterior mean and variance of beta, by numerical integration as dfcrm ``crm`` (Bayes).

    Parameters
    ----------
    skeleton : sequence of float
    n, dlts : per-dose patients and DLTs (index 0 = dose level 1)
    model : {"empiric", "logistic"}
    prior_var : float
        Variance of the normal prior on beta (mean 0).
    intercept : float
        a0 of the logistic model.

    Returns
    -------
    (mean, variance)
        dfcrm: mean = int_{-10}^{10} b f(b) db / int f(b) db, variance = E[b^2] - mean^2.

    Notes
    -----
    The integrand is evaluated on arrays: a grid locates the posterior's mode and spread, then
    Gauss-Legendre quadrature on intervals cut at the mode and a few spreads either side
    integrates it to double precision (the posterior of a one-parameter model is smooth and
    unimodal), a few hundred evaluations in all.

    References
    ----------
    Cheung (2011), chapter 3; dfcrm ``crm`` with ``method="bayes"``.
    """
    sk = _check_skeleton(skeleton, model, intercept)
    n_arr = np.asarray(n, dtype=float)
    y_arr = np.asarray(dlts, dtype=float)
    log_sk = np.log(sk)
    x = _logit(sk) - intercept

    def log_f(b: np.ndarray) -> np.ndarray:
        return -b * b / (2 * prior_var) + _log_likelihood(
            b, log_sk, x, n_arr, y_arr, model, intercept
        )

    lim = CRM_INTEGRATION_LIMIT
    grid = np.linspace(-lim, lim, _GRID_POINTS)
    log_grid = log_f(grid)
    shift = float(log_grid.max())  # scale so the integrand peaks at 1: no underflow
    mode = float(grid[int(np.argmax(log_grid))])
    near = grid[log_grid > shift - 0.5]  # about one standard deviation either side of the mode
    spread = max(float(near.max() - near.min()) / 2, grid[1] - grid[0])

    def f(b: np.ndarray) -> np.ndarray:
        value = log_f(b) - shift
        return np.where(value > _LOG_UNDERFLOW, np.exp(np.maximum(value, _LOG_UNDERFLOW)), 0.0)

    cuts = [mode + k * spread for k in (-_SPREADS, -2, 0, 2, _SPREADS)]
    inner = [-lim, *(c for c in cuts if -lim < c < lim), lim]
    # dfcrm integrates the normalising constant over the whole line; beyond 40 prior standard
    # deviations the prior density is below exp(-800), zero in double precision.
    far = max(lim, _TAIL_PRIOR_SDS * math.sqrt(prior_var))
    den = _integrate(f, inner) + _integrate(f, [-far, -lim]) + _integrate(f, [lim, far])
    mean = _integrate(lambda b: b * f(b), inner) / den
    second = _integrate(lambda b: b * b * f(b), inner) / den
    return mean, second - mean * mean


def crm_mtd(estimates: Sequence[float], target: float) -> int:
    """dfcrm's rule: top dose if all estimates <= target, 1 if all >= target, else closest."""
    est = np.asarray(estimates, dtype=float)
    if (est <= target).all():
        return len(est)
    if (est >= target).all():
        return 1
    return int(np.argmin(np.abs(est - target))) + 1


def crm_skeleton(
    halfwidth: float,
    target: float,
    mtd_guess: int,
    num_doses: int,
    model: CrmModel = "empiric",
    intercept: float = CRM_LOGISTIC_INTERCEPT,
) -> tuple[float, ...]:
    """Skeleton calibrated by indifference intervals (dfcrm ``getprior``).

    Dose ``mtd_guess`` gets the target; neighbouring doses are spaced so that the model's
    indifference interval of every dose is target -/+ halfwidth: for each k there is a beta at
    which dose k has DLT rate target - halfwidth and dose k+1 has target + halfwidth.

    References
    ----------
    Lee S.M. and Cheung Y.K. (2009). Clinical Trials 6:227-238; dfcrm ``getprior``.
    """
    if not 1 <= mtd_guess <= num_doses:
        raise DesignError(
            f"CRM skeleton: the prior MTD guess must be a dose level from 1 to "
            f"{num_doses}, got {mtd_guess}"
        )
    if halfwidth <= 0 or not 0 < target - halfwidth < target + halfwidth < 1:
        raise DesignError(
            f"CRM skeleton: target -/+ halfwidth must lie inside (0, 1), got "
            f"{target} -/+ {halfwidth}"
        )
    lo, hi = target - halfwidth, target + halfwidth
    scaled = [0.0] * num_doses
    nu = mtd_guess - 1
    if model == "empiric":
        scaled[nu] = target
        for k in range(nu, 0, -1):
            b = math.log(math.log(hi) / math.log(scaled[k]))
            scaled[k - 1] = math.exp(math.log(lo) / math.exp(b))
        for k in range(nu, num_doses - 1):
            b = math.log(math.log(lo) / math.log(scaled[k]))
            scaled[k + 1] = math.exp(math.log(hi) / math.exp(b))
        return tuple(scaled)
    if model != "logistic":
        raise DesignError(f'CRM skeleton: model must be "empiric" or "logistic", got "{model}"')
    scaled[nu] = float(_logit(target)) - intercept
    for k in range(nu, 0, -1):
        b = math.log((float(_logit(hi)) - intercept) / scaled[k])
        scaled[k - 1] = (float(_logit(lo)) - intercept) / math.exp(b)
    for k in range(nu, num_doses - 1):
        b = math.log((float(_logit(lo)) - intercept) / scaled[k])
        scaled[k + 1] = (float(_logit(hi)) - intercept) / math.exp(b)
    return tuple(float(v) for v in _expit(intercept + np.asarray(scaled)))


@dataclass(frozen=True, slots=True)
class Crm:
    """Bayesian CRM over the dose levels of ``skeleton``.

    Parameters
    ----------
    skeleton : tuple of float
        Prior DLT-rate guesses, increasing, one per dose level.
    target : float
    model : {"empiric", "logistic"}
    prior_var : float
        Default 1.34 (dfcrm).
    intercept : float
        Logistic a0, default 3 (dfcrm).
    start_dose : int
        Dose for the first cohort, default 1.

    References
    ----------
    O'Quigley, Pepe & Fisher (1990); Cheung (2011); dfcrm ``crm``.
    """

    skeleton: tuple[float, ...]
    target: float
    model: CrmModel = "empiric"
    prior_var: float = CRM_PRIOR_VARIANCE
    intercept: float = CRM_LOGISTIC_INTERCEPT
    start_dose: int = 1
    name: str = "crm"

    def __post_init__(self) -> None:
        object.__setattr__(self, "skeleton", tuple(float(s) for s in self.skeleton))
        if self.model not in ("empiric", "logistic"):
            raise DesignError(f'CRM: model must be "empiric" or "logistic", got "{self.model}"')
        _check_skeleton(self.skeleton, self.model, self.intercept)
        if not 0 < self.target < 1:
            raise DesignError(
                f"CRM: the target DLT rate must be between 0 and 1, got {self.target}"
            )
        if self.prior_var <= 0:
            raise DesignError(f"CRM: the prior variance must be positive, got {self.prior_var}")
        if not 1 <= self.start_dose <= len(self.skeleton):
            raise DesignError(
                f"CRM: the start dose must be a dose level from 1 to "
                f"{len(self.skeleton)}, got {self.start_dose}"
            )

    @property
    def num_doses(self) -> int:
        return len(self.skeleton)

    def fit(self, outcomes: str | Sequence[Cohort]) -> tuple[float, float, tuple[float, ...], int]:
        """(beta_mean, beta_var, estimates, mtd) for the outcomes so far."""
        n, y = counts_by_dose(outcomes, self.num_doses)
        if n.sum() == 0:
            mean, var = 0.0, self.prior_var
        else:
            mean, var = crm_posterior(
                self.skeleton, n, y, self.model, self.prior_var, self.intercept
            )
        est = tuple(float(p) for p in crm_tox(mean, self.skeleton, self.model, self.intercept))
        return mean, var, est, crm_mtd(est, self.target)

    def decide(self, outcomes: str | Sequence[Cohort]) -> Decision:
        """Next dose: the dose whose estimated DLT rate is closest to target (dfcrm ``mtd``)."""
        return self._decision(outcomes, final=False)

    def final(self, outcomes: str | Sequence[Cohort]) -> Decision:
        """Final selection: the same model estimate, with the trial stopped."""
        return self._decision(outcomes, final=True)

    def _decision(self, outcomes: str | Sequence[Cohort], final: bool) -> Decision:
        cohorts = as_outcomes(outcomes)
        mean, var, est, mtd = self.fit(cohorts)
        current = last_dose(cohorts)
        numbers = {
            "beta_mean": mean,
            "beta_var": var,
            "mtd_estimate": mtd,
            "target": self.target,
            "estimate_at_mtd": est[mtd - 1],
        }
        label = f"CRM, {self.model} model"
        if final:
            reason = (
                f"Final selection: dose level {mtd} has estimated DLT rate "
                f"{est[mtd - 1]:.2f}, closest to the target {self.target:g} ({label})"
            )
            return Decision(Action.STOP, mtd, reason, numbers, False, est, (), self.name, current)
        if current is None:
            nxt = self.start_dose
            reason = f"No patients treated yet: start at dose level {nxt} ({label})"
        else:
            nxt = mtd
            move = action_for(current, nxt, True)
            verb = {
                Action.ESCALATE: f"escalate to dose level {nxt}",
                Action.STAY: f"stay at dose level {nxt}",
                Action.DE_ESCALATE: f"de-escalate to dose level {nxt}",
            }[move]
            reason = (
                f"Posterior mean of beta {mean:.3f}: estimated DLT rate at dose level {mtd} "
                f"is {est[mtd - 1]:.2f}, closest to the target {self.target:g}: {verb} "
                f"({label})"
            )
        return Decision(
            action_for(current, nxt, True), nxt, reason, numbers, True, est, (), self.name, current
        )
