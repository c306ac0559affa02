"""Stopping and safety rules wrapped around designs (Brock's escalation selectors)."""

import itertools

import pytest

from safety.escalation import (
    Action,
    Boin,
    Crm,
    DontSkipDoses,
    HardStop,
    KOfFirstN,
    StopAtN,
    StopWhenNAtDose,
    StopWhenTooToxic,
    ThreePlusThree,
    check_decision,
)

CHEUNG_SKELETON = (0.05, 0.12, 0.25, 0.40, 0.55)


def test_stop_at_n_selects_boin_mtd():
    # escalation vignette A230-BOIN: get_boin(num_doses = 5, target = 0.3) %>% stop_at_n(n = 12)
    # %>% select_boin_mtd(); outcomes '1NNN 2NTN 2NNN 3NTT' -> recommended_dose 2 (trial stops)
    design = StopAtN(Boin(num_doses=5, target=0.3), n=12)
    decision = design.decide("1NNN 2NTN 2NNN 3NTT")
    assert (decision.action, decision.dose_level, decision.continue_) == (Action.STOP, 2, False)
    assert decision.rule_states[0].state == "triggered"
    check_decision(decision, 5)


def test_stop_at_n_not_reached_keeps_design_decision():
    # Liu & Yuan: 2/3 at dose 3 -> de-escalate to 2 (test_boin.R); 9 < 12 patients: warning only
    design = StopAtN(Boin(num_doses=5, target=0.3), n=12)
    decision = design.decide("1NNN 2NNN 3NTT")
    assert (decision.action, decision.dose_level) == (Action.DE_ESCALATE, 2)
    assert decision.rule_states[0].state == "warning"  # 3 or fewer patients left
    assert design.state("1NNN").state == "ok"


def test_stop_when_n_at_recommended_dose():
    # escalation vignette A205-CRM: empiric CRM, skeleton (0.05, 0.12, 0.25, 0.40, 0.55), target
    # 0.3, beta_sd 1, %>% stop_when_n_at_dose(dose = 'recommended', n = 6);
    # fit('2NNN 3TTT 2NTN') -> continue FALSE, recommended_dose 2
    crm = Crm(CHEUNG_SKELETON, target=0.3, model="empiric", prior_var=1.0)
    decision = StopWhenNAtDose(crm, n=6).decide("2NNN 3TTT 2NTN")
    assert (decision.continue_, decision.dose_level) == (False, 2)


def test_stop_when_too_toxic_at_lowest_dose():
    # escalation vignette A205-CRM: stop_when_too_toxic(dose = 1, tox_threshold = 0.3,
    # confidence = 0.8); fit('1NTT 1TTN') -> continue FALSE, recommended_dose NA.
    # Beta(1,1) by hand: 4 DLTs in 6, P(p > 0.3 | Beta(5, 3)) = P(Bin(7, 0.3) <= 4) = 0.9712 > 0.8
    crm = Crm(CHEUNG_SKELETON, target=0.3, model="empiric", prior_var=1.0)
    design = StopWhenTooToxic(crm, target=0.3, confidence=0.8)
    decision = design.decide("1NTT 1TTN")
    assert (decision.action, decision.dose_level, decision.continue_) == (Action.STOP, None, False)
    state = design.state("1NTT 1TTN")
    assert state.state == "triggered"
    assert state.numbers["p_toxic"] == pytest.approx(0.9712, abs=1e-4)


def test_dont_skip_untried_doses():
    # A205-CRM dose paths: the empiric CRM (beta_sd 1, target 0.25) goes from dose 2 to dose 4
    # after '2NNN' ("would willingly skip dose 3"); no skipping caps it at dose 3.
    crm = Crm(CHEUNG_SKELETON, target=0.25, model="empiric", prior_var=1.0)
    assert crm.decide("2NNN").dose_level == 4
    decision = DontSkipDoses(crm).decide("2NNN")
    assert (decision.action, decision.dose_level) == (Action.ESCALATE, 3)
    assert "may not be skipped" in decision.reason


def test_k_of_first_n_excludes_the_dose():
    # Protocol rule "2 of the first 3": BOIN alone de-escalates after '1NNN 2NTT' and would go
    # back up to dose 2 after 0/6 at dose 1 (get.boundary n = 6: escalate if <= 1).
    boin = Boin(num_doses=5, target=0.3)
    design = KOfFirstN(boin, k=2, n=3)
    first = design.decide("1NNN 2NTT")
    assert (first.action, first.dose_level, first.eliminated) == (Action.ELIMINATE, 1, (2, 3, 4, 5))
    assert boin.decide("1NNN 2NTT 1NNN").dose_level == 2
    again = design.decide("1NNN 2NTT 1NNN")
    assert (again.action, again.dose_level) == (Action.STAY, 1)
    assert not design.decide("1NTT").continue_  # at the lowest dose: stop


def test_k_of_first_n_warning():
    design = KOfFirstN(Boin(num_doses=3, target=0.3), k=2, n=3)
    assert design.state("1NT").state == "warning"
    assert design.state("1NNT 1TTT").state == "ok"  # only the first 3 at a dose count


def test_hard_stop_beats_everything():
    design = StopAtN(
        HardStop(
            ThreePlusThree(num_doses=3), occurred=True, description="teratoma in subject 01-004"
        ),
        n=6,
    )
    decision = design.decide("1NNN 2NNN")
    assert (decision.action, decision.dose_level, decision.continue_) == (Action.STOP, None, False)
    assert decision.reason.startswith("Hard-stop event: teratoma in subject 01-004")
    assert [s.state for s in decision.rule_states] == ["triggered", "triggered"]


def test_rule_cannot_restart_a_stopped_trial():
    # 3+3: '1NTT' stops with no dose (test_three_plus_three.R); no rule can change that
    design = DontSkipDoses(StopAtN(ThreePlusThree(num_doses=3), n=30))
    assert design.decide("1NTT").dose_level is None


OUTCOMES = [
    "",
    "1NNN",
    "1NNN 2NNN",
    "1NNN 2NTT",
    "1NNN 2NTT 1NNN",
    "1NNN 2NNN 3NNN 3NNT",
    "1NNN 2NNN 3TTT",
    "1TTT",
    "1NNN 2NNN 3NTN 3NNN 3NNN",
    "1NNN 2NNT 2NTN",
]


def test_nesting_order_does_not_change_the_decision():
    # Module docstring: rules are applied together with a fixed precedence.
    wrappers = [
        lambda d: StopAtN(d, n=12),
        lambda d: StopWhenNAtDose(d, n=9),
        lambda d: StopWhenTooToxic(d, target=0.3, confidence=0.9),
        lambda d: KOfFirstN(d, k=2, n=3),
        lambda d: DontSkipDoses(d),
    ]
    for outcomes in OUTCOMES:
        answers = set()
        for order in itertools.permutations(wrappers):
            design = Boin(num_doses=4, target=0.3)
            for wrap in order:
                design = wrap(design)
            d = design.decide(outcomes)
            check_decision(d, 4)
            answers.add((d.action, d.dose_level, d.continue_, d.eliminated, d.reason))
        assert len(answers) == 1, (outcomes, answers)
