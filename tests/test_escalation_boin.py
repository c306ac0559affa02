"""BOIN against the published boundaries and examples.

Sources
- Liu & Yuan (2015) JRSS C 64:507-523 and the BOIN R package 2.7.2: for target 0.30,
  lambda_e = 0.236 and lambda_d = 0.358; printed ``get.boundary(target=0.3, ncohort=10,
  cohortsize=3)`` output (R output reproduced at
  rstudio-pubs-static.s3.amazonaws.com/1437814_79ba5accbdfc4c6aaed63b046a781eab.html):
  ``$lambda_e 0.2364907``, ``$lambda_d 0.3585195`` and the full boundary table below.
- Brock, escalation tests/testthat/test_boin.R: "p.25 of Han, Pan, Zhang, Liu & Yuan (2019)".
- Brock, escalation vignette A230-BOIN (select_boin_mtd example) and A600-DosePaths.
Hand calculations use P(p > t | Beta(y+1, n-y+1)) = P(Binomial(n+1, t) <= y).
"""

import numpy as np
import pytest

from safety.errors import DesignError
from safety.escalation import (
    Action,
    Boin,
    Crm,
    boin_lambdas,
    check_decision,
    isotonic_estimates,
    select_mtd_isotonic,
)
from safety.escalation.boin import pool_adjacent_violators

# BOIN get.boundary(target = 0.3, ncohort = 10, cohortsize = 3)$full_boundary_tab, n = 1..30
ESCALATE_AT_MOST = [
    0,
    0,
    0,
    0,
    1,
    1,
    1,
    1,
    2,
    2,
    2,
    2,
    3,
    3,
    3,
    3,
    4,
    4,
    4,
    4,
    4,
    5,
    5,
    5,
    5,
    6,
    6,
    6,
    6,
    7,
]
DEESCALATE_AT_LEAST = [
    1,
    1,
    2,
    2,
    2,
    3,
    3,
    3,
    4,
    4,
    4,
    5,
    5,
    6,
    6,
    6,
    7,
    7,
    7,
    8,
    8,
    8,
    9,
    9,
    9,
    10,
    10,
    11,
    11,
    11,
]
# n = 1..20 printed in full_boundary_tab; n = 21, 24, 27, 30 in boundary_tab (10, 11, 12, 14)
ELIMINATE_AT_LEAST = [None, None, 3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 7, 8, 8, 8, 9, 9, 9, 10]
ELIMINATE_AT_COHORTS = {21: 10, 24: 11, 27: 12, 30: 14}


def test_lambdas_for_target_030():
    # Liu & Yuan (2015) Table 1 / BOIN get.boundary: 0.236 and 0.358 (printed 0.2364907, 0.3585195)
    lambda_e, lambda_d = boin_lambdas(0.30)
    assert lambda_e == pytest.approx(0.2364907, abs=1e-7)
    assert lambda_d == pytest.approx(0.3585195, abs=1e-7)


def test_lambdas_for_target_025():
    # Liu & Yuan (2015), Table 1: target 0.25 -> 0.197, 0.298. By hand (p.saf 0.15, p.tox 0.35):
    # log(0.85/0.75)/log(0.25*0.85/(0.15*0.75)) = 0.12516/0.63599 = 0.1968;
    # log(0.75/0.65)/log(0.35*0.75/(0.25*0.65)) = 0.14310/0.47957 = 0.2984
    lambda_e, lambda_d = boin_lambdas(0.25)
    assert lambda_e == pytest.approx(0.197, abs=1e-3)
    assert lambda_d == pytest.approx(0.298, abs=1e-3)


def test_full_boundary_table_target_030():
    bounds = Boin(num_doses=5, target=0.3).boundaries(30)
    assert [b.escalate_at_most for b in bounds] == ESCALATE_AT_MOST
    assert [b.deescalate_at_least for b in bounds] == DEESCALATE_AT_LEAST
    assert [b.eliminate_at_least for b in bounds[:20]] == ELIMINATE_AT_LEAST
    for n, eliminate in ELIMINATE_AT_COHORTS.items():
        assert bounds[n - 1].eliminate_at_least == eliminate


def test_decision_letters_n3():
    # get.boundary n = 3: escalate if 0, de-escalate if >= 2, eliminate if >= 3
    assert Boin(num_doses=5, target=0.3).decision_table(3)[2] == ("E", "S", "D", "DU")


# p.25 of Han, Pan, Zhang, Liu & Yuan (2019), as in escalation tests/testthat/test_boin.R
@pytest.mark.parametrize(
    "outcomes, dose",
    [
        ("1NNN", 2),
        ("1NNN 2NNN", 3),
        ("1NNN 2NNN 3NTT", 2),
        ("1NNN 2NNN 3NTT 2NTN", 3),
        ("1NNN 2NNN 3NTT 2NTN 3NNN", 3),
        ("1NNN 2NNN 3NTT 2NTN 3NNN 3NNN", 4),
        ("1NNN 2NNN 3NTT 2NTN 3NNN 3NNN 4TTT", 3),
        ("1NNN 2NNN 3NTT 2NTN 3NNN 3NNN 4TTT 3NTN", 3),
        ("1NNN 2NNN 3NTT 2NTN 3NNN 3NNN 4TTT 3NTN 3NNT", 3),
        ("1NNN 2NNN 3NTT 2NTN 3NNN 3NNN 4TTT 3NTN 3NNT 3TNN", 3),
    ],
)
def test_published_trial_sequence(outcomes, dose):
    decision = Boin(num_doses=5, target=0.3).decide(outcomes)
    assert decision.dose_level == dose and decision.continue_
    check_decision(decision, 5)


def test_no_data_starts_at_dose_1():
    # escalation boin_selector: no patients -> dose 1, continue
    decision = Boin(num_doses=5, target=0.3).decide("")
    assert (decision.dose_level, decision.continue_) == (1, True)
    assert decision.estimates == (None,) * 5


def test_incomplete_cohort_uses_boundary_for_its_n():
    # get.boundary n = 2: escalate if 0, de-escalate if >= 1 (1/2 = 0.5 > lambda_d 0.3585)
    boin = Boin(num_doses=5, target=0.3)
    assert boin.decide("1NNN 2N").dose_level == 3
    assert boin.decide("1NNN 2NT").action is Action.DE_ESCALATE


def test_elimination_of_lowest_dose_stops():
    # 3/3 at dose 1: P(p > 0.3) = P(Bin(4, 0.3) <= 3) = 1 - 0.3^4 = 0.9919 > 0.95 -> stop, no dose
    decision = Boin(num_doses=5, target=0.3).decide("1TTT")
    assert (decision.action, decision.dose_level, decision.continue_) == (Action.STOP, None, False)
    assert decision.eliminated == (1, 2, 3, 4, 5)
    assert decision.numbers["p_overdose"] == pytest.approx(1 - 0.3**4)


def test_elimination_above_lowest_de_escalates_and_blocks_return():
    # 3/3 at dose 2 eliminates doses 2..5 (get.boundary n=3 eliminate >= 3); dose 1 after 0/6
    # would escalate, but dose 2 is eliminated: stay at dose 1 (get.oc: if elimi[d+1]==0).
    boin = Boin(num_doses=5, target=0.3)
    first = boin.decide("1NNN 2TTT")
    assert (first.action, first.dose_level, first.eliminated) == (Action.ELIMINATE, 1, (2, 3, 4, 5))
    again = boin.decide("1NNN 2TTT 1NNN")
    assert (again.action, again.dose_level) == (Action.STAY, 1)
    check_decision(again, 5)


def test_deescalation_at_lowest_dose_stays():
    # 2/3 at dose 1: 0.67 > lambda_d but not eliminated (P(Bin(4,0.3) <= 2) = 0.9163 < 0.95);
    # get.oc: "else if (y[d] >= b.d[n[d]] && d != 1)": stays at dose 1
    decision = Boin(num_doses=5, target=0.3).decide("1NTT")
    assert (decision.action, decision.dose_level, decision.continue_) == (Action.STAY, 1, True)


def test_top_dose_reached_stays():
    # escalation boin_selector: recommended_dose <- pmin(num_doses, last_dose + 1)
    decision = Boin(num_doses=3, target=0.3).decide("1NNN 2NNN 3NNN")
    assert (decision.action, decision.dose_level) == (Action.STAY, 3)


def test_two_patient_cohorts_boin_025():
    # escalation vignette A600-DosePaths, BOIN target 0.25, cohorts of 2: "TT in the first cohort
    # is not enough to advocate stopping but any further toxicity in the second cohort will be".
    # 1TT 1TN: P(p > 0.25 | Beta(4, 2)) = P(Bin(5, 0.25) <= 3) = 0.9844 > 0.95
    boin = Boin(num_doses=4, target=0.25)
    assert boin.decide("1TT").continue_
    assert boin.decide("1TT 1NN").continue_  # P(Bin(5,0.25) <= 2) = 0.8965
    assert not boin.decide("1TT 1TN").continue_
    assert not boin.decide("1TT 1TT").continue_


def test_final_selection_vignette():
    # escalation vignette A230-BOIN: get_boin(5, 0.3) %>% stop_at_n(12) %>% select_boin_mtd(),
    # outcomes '1NNN 2NTN 2NNN 3NTT' -> recommended dose 2
    decision = Boin(num_doses=5, target=0.3).final("1NNN 2NTN 2NNN 3NTT")
    assert (decision.action, decision.dose_level, decision.continue_) == (Action.STOP, 2, False)


def test_select_mtd_documentation_example():
    # BOIN select.mtd example: n = (3, 3, 15, 9, 0), y = (0, 0, 4, 4, 0), target 0.3.
    # Hand calculation: (y + 0.05)/(n + 0.1) = 0.0161, 0.0161, 0.2682, 0.4451 (already monotone,
    # PAVA changes nothing); closest to 0.3 is dose 3 (|0.2682 - 0.3| = 0.032).
    n, y = [3, 3, 15, 9, 0], [0, 0, 4, 4, 0]
    est = isotonic_estimates(n, y)
    assert est[:4] == pytest.approx([0.05 / 3.1, 0.05 / 3.1, 4.05 / 15.1, 4.05 / 9.1])
    assert est[4] is None
    assert select_mtd_isotonic(n, y, 0.3, eliminated=()) == 3


def test_isotonic_pooling_by_hand():
    # Non-monotone raw rates pool with weights 1/var (select.mtd pava). With v = 3.1^2 * 4.1
    # = 39.401: dose 1 (1/3): phat 1.05/3.1, var 1.05*2.05/v -> phat/var = 3.1*4.1/2.05 = 6.2,
    # 1/var = 39.401/2.1525 = 18.30476; dose 2 (0/3): phat 0.05/3.1, var 0.05*3.05/v ->
    # phat/var = 3.1*4.1/3.05 = 4.16721, 1/var = 39.401/0.1525 = 258.36721.
    # pooled = (6.2 + 4.16721) / (18.30476 + 258.36721) = 10.36721 / 276.67197 = 0.037471
    est = isotonic_estimates([3, 3], [1, 0])
    assert est == pytest.approx([0.037471, 0.037471], abs=1e-6)


def test_our_pava_equals_scipys_isotonic_regression():
    # the same weighted non-decreasing least-squares fit as scipy.optimize.isotonic_regression
    # (SciPy 1.12+), on 500 random non-monotone inputs of 1 to 8 doses, ties included
    from scipy.optimize import isotonic_regression

    rng = np.random.default_rng(20261201)
    for _ in range(500):
        k = int(rng.integers(1, 9))
        values = rng.choice([0.1, 0.2, 0.3, 0.5], k) if rng.random() < 0.3 else rng.random(k)
        weights = rng.uniform(0.1, 50, k)
        expected = isotonic_regression(values, weights=weights, increasing=True).x
        assert pool_adjacent_violators(values, weights) == pytest.approx(expected, abs=1e-12)


def test_n_earlystop_stops_and_selects():
    # get.oc: stop when n[d] >= n.earlystop and the next decision stays at d; MTD by select.mtd.
    # '1NNN 2NNT 2NNT' -> 2/6 at dose 2 stays (1 < 2 < 3, get.boundary n=6); n=6 >= 6.
    # select.mtd: phat 0.05/3.1 = 0.016, 2.05/6.1 = 0.336 -> dose 2.
    decision = Boin(num_doses=5, target=0.3, n_earlystop=6).decide("1NNN 2NNT 2NNT")
    assert (decision.action, decision.dose_level, decision.continue_) == (Action.STOP, 2, False)


def test_extrasafe_stops_earlier_at_lowest_dose():
    # get.boundary extrasafe: stop if P(p1 > 0.3) > 0.95 - 0.05 = 0.90 with n1 >= 3.
    # 2/3: P(Bin(4, 0.3) <= 2) = 0.9163 > 0.90 -> stop; without extrasafe the trial continues.
    assert Boin(num_doses=5, target=0.3).decide("1NTT").continue_
    decision = Boin(num_doses=5, target=0.3, extrasafe=True).decide("1NTT")
    assert (decision.action, decision.dose_level) == (Action.STOP, None)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"target": 0.01}, "between 0.05 and 0.6"),
        ({"target": 0.7}, "between 0.05 and 0.6"),
        ({"target": 0.3, "p_saf": 0.29}, "p.saf"),
        ({"target": 0.3, "p_tox": 0.31}, "p.tox"),
    ],
)
def test_bad_parameters(kwargs, message):
    # BOIN get.boundary: "the target is too low!", "... too close to the target!"
    with pytest.raises(DesignError, match=message):
        Boin(num_doses=3, **kwargs)


@pytest.mark.parametrize("target", [0.20, 0.25, 0.30, 0.33])
def test_elimination_boundary_by_bisection_equals_the_scan_of_every_dlt_count(target):
    # BOIN's get.boundary scans y = 1..n for the first P(p > target | y, n) > 0.95; the
    # bisection relies on that probability growing with y
    from safety.escalation.boin import elimination_boundary
    from safety.escalation.decision import prob_exceeds

    for n in range(1, 301):
        scan = next((y for y in range(1, n + 1) if prob_exceeds(target, n, y) > 0.95), None)
        assert elimination_boundary(n, target) == (scan if n >= 3 else None), n


@pytest.mark.parametrize(("n", "dlts"), [(6, 2), (30, 9), (375, 120), (2000, 600)])
def test_the_posterior_tail_is_the_exact_binomial_sum_at_any_size(n, dlts):
    # P(p > t | Beta(1 + y, 1 + n - y)) = P(Binomial(n + 1, t) <= y) (Abramowitz & Stegun
    # 26.5.24), summed here in exact rationals; the float sum overflowed beyond ~1,030 patients
    from fractions import Fraction
    from math import comb

    from safety.escalation.decision import prob_exceeds

    t = Fraction(3, 10)
    exact = sum(comb(n + 1, j) * t**j * (1 - t) ** (n + 1 - j) for j in range(dlts + 1))
    assert prob_exceeds(0.3, n, dlts) == pytest.approx(float(exact), rel=1e-12, abs=1e-300)


def test_estimates_intervals_are_the_beta_posterior_and_dfcrm_quantiles():
    # BOIN's interval: equal-tailed 90% of each dose's Beta(1 + y, 1 + n - y) posterior, as
    # scipy.stats.beta.ppf gives it; the CRM's: dfcrm's ptoxL/ptoxU, the model at beta's
    # posterior mean -/+ z x sd with z = scipy.stats.norm.ppf(0.95)
    from pathlib import Path

    from scipy import stats

    from safety.config import load_study_config
    from safety.escalation.crm import crm_tox
    from safety.monitor import escalation_review as review

    config = load_study_config(Path(__file__).resolve().parents[1] / "data" / "studies"
                               / "nct04232592.toml")  # fmt: skip
    outcomes = "1NNN 2NNT 2NNN 3TT"
    got = review.toxicity_estimates(config, outcomes, level=0.90).set_index("dose_level")
    for dose, n, y in ((1, 3, 0), (2, 6, 1), (3, 2, 2)):
        assert got.loc[dose, "boin_lower"] == pytest.approx(stats.beta.ppf(0.05, 1 + y, 1 + n - y),
                                                            rel=1e-12)  # fmt: skip
        assert got.loc[dose, "boin_upper"] == pytest.approx(stats.beta.ppf(0.95, 1 + y, 1 + n - y),
                                                            rel=1e-12)  # fmt: skip
    skeleton, _ = review.crm_default_skeleton(config)
    crm = Crm(skeleton=skeleton, target=config.design.target,
              model=config.design.model or "empiric")  # fmt: skip
    mean, var, _, _ = crm.fit(outcomes)
    z = stats.norm.ppf(0.95)
    low = crm_tox(mean + z * var**0.5, skeleton, crm.model, crm.intercept)
    high = crm_tox(mean - z * var**0.5, skeleton, crm.model, crm.intercept)
    assert got["crm_lower"].to_numpy() == pytest.approx(low, rel=1e-12)
    assert got["crm_upper"].to_numpy() == pytest.approx(high, rel=1e-12)
