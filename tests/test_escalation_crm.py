"""CRM against dfcrm output published in Brock's escalation vignette A205-CRM.

The vignette replicates "an example from p.21 of Cheung (2011)": skeleton (0.05, 0.12, 0.25,
0.40, 0.55), target 0.25, outcomes '3N 5N 5T 3N 4N', fitted with dfcrm::crm (Bayes), and prints
``mean_prob_tox`` (= dfcrm's ptox at the posterior mean of beta) and the recommended dose.
"""

import math

import pytest
from scipy.optimize import brentq

from safety.errors import DesignError
from safety.escalation import Action, Crm, check_decision, crm_skeleton
from safety.escalation.crm import crm_tox

CHEUNG_SKELETON = (0.05, 0.12, 0.25, 0.40, 0.55)


def test_cheung_p21_logistic():
    # A205-CRM: get_dfcrm(skeleton, target = 0.25, model = 'logistic', intcpt = 3,
    # scale = sqrt(1.34)); fit('3N 5N 5T 3N 4N') -> mean_prob_tox 0.00768 0.0265 0.0817 0.182
    # 0.331, recommended_dose 4
    crm = Crm(CHEUNG_SKELETON, target=0.25, model="logistic", prior_var=1.34, intercept=3)
    decision = crm.decide("3N 5N 5T 3N 4N")
    assert decision.estimates == pytest.approx([0.00768, 0.0265, 0.0817, 0.182, 0.331], rel=5e-3)
    assert decision.dose_level == 4 and decision.action is Action.STAY
    check_decision(decision, 5)


def test_cheung_p21_empiric():
    # A205-CRM: same with model = 'empiric' -> 0.00701 0.0299 0.101 0.219 0.372, dose 4
    decision = Crm(CHEUNG_SKELETON, target=0.25, model="empiric").decide("3N 5N 5T 3N 4N")
    assert decision.estimates == pytest.approx([0.00701, 0.0299, 0.101, 0.219, 0.372], rel=5e-3)
    assert decision.dose_level == 4
    assert decision.numbers["mtd_estimate"] == 4
    # the estimates are the model at the posterior mean: p = skeleton ** exp(beta_mean)
    beta = decision.numbers["beta_mean"]
    assert decision.estimates[2] == pytest.approx(0.25 ** math.exp(beta))
    assert decision.numbers["beta_var"] > 0


@pytest.mark.parametrize(
    "outcomes, dose",
    [
        ("2NNN", 4),
        ("2NNN 4NNN", 5),
        ("2NNN 4NNT", 4),
        ("2NNN 4NTT", 3),
        ("2NNN 4TTT", 2),
        ("2NNT", 2),
        ("2NNT 2NNN", 3),
        ("2NNT 2NNT", 2),
        ("2NNT 2NTT", 1),
        ("2NNT 2TTT", 1),
        ("2NTT", 1),
        ("2NTT 1NNN", 1),
        ("2NTT 1NNT", 1),
        ("2NTT 1NTT", 1),
        ("2NTT 1TTT", 1),
        ("2TTT", 1),
        ("2TTT 1NNN", 1),
        ("2TTT 1NNT", 1),
        ("2TTT 1NTT", 1),
        ("2TTT 1TTT", 1),
    ],
)
def test_dose_paths_vignette_empiric_var1(outcomes, dose):
    # A205-CRM "Dose paths": get_dfcrm(skeleton, target = 0.25, model = 'empiric', scale = 1),
    # get_dose_paths(cohort_sizes = c(3, 3), next_dose = 2); the graph's node labels.
    crm = Crm(CHEUNG_SKELETON, target=0.25, model="empiric", prior_var=1.0)
    decision = crm.decide(outcomes)
    assert decision.dose_level == dose and decision.continue_


def test_no_data_starts_at_start_dose_with_skeleton_estimates():
    decision = Crm(CHEUNG_SKELETON, target=0.25, start_dose=2).decide("")
    assert decision.dose_level == 2
    assert decision.estimates == pytest.approx(CHEUNG_SKELETON)  # beta = prior mean 0


def test_final_stops_at_the_model_mtd():
    decision = Crm(CHEUNG_SKELETON, target=0.25).final("3N 5N 5T 3N 4N")
    assert (decision.action, decision.dose_level, decision.continue_) == (Action.STOP, 4, False)


def test_getprior_empiric_by_hand():
    # Lee & Cheung (2009) / dfcrm getprior(0.10, 0.25, 3, 5): dose 3 = 0.25; below:
    # exp(b3) = log(0.35)/log(0.25) = 0.757287, dose 2 = exp(log(0.15)/0.757287) = 0.081663;
    # exp(b2) = log(0.35)/log(0.081663) = 0.419065, dose 1 = exp(log(0.15)/0.419065) = 0.010813;
    # above: exp(b4) = log(0.15)/log(0.25) = 1.368483, dose 4 = exp(log(0.35)/1.368483) = 0.464338
    # (arithmetic done with a calculator from the formulas, not with crm_skeleton)
    sk = crm_skeleton(0.10, 0.25, mtd_guess=3, num_doses=5, model="empiric")
    assert sk[:4] == pytest.approx([0.010813, 0.081663, 0.25, 0.464338], rel=1e-4)


@pytest.mark.parametrize("model", ["empiric", "logistic"])
def test_getprior_indifference_intervals(model):
    # Lee & Cheung (2009) definition: for every k there is a beta at which dose k has DLT rate
    # target - halfwidth and dose k + 1 has target + halfwidth (dfcrm getprior example:
    # target 0.25, delta 0.10, mtd0 3, nlevel 6).
    sk = crm_skeleton(0.10, 0.25, mtd_guess=3, num_doses=6, model=model)
    assert sk[2] == pytest.approx(0.25)
    for k in range(5):
        beta = brentq(lambda b, k=k: crm_tox(b, sk, model)[k] - 0.15, -20, 20)
        assert crm_tox(beta, sk, model)[k + 1] == pytest.approx(0.35, abs=1e-9)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"skeleton": (0.2, 0.1)}, "increase"),
        ({"skeleton": (0.1, 1.2)}, "between 0 and 1"),
        ({"skeleton": (0.1, 0.99), "model": "logistic"}, "intercept"),  # dfcrm: scaled doses > 0
        ({"skeleton": (0.1, 0.2), "model": "probit"}, "empiric"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(DesignError, match=message):
        Crm(target=0.25, **kwargs)
