"""3+3 against the published expectations of Brock's R package escalation.

Every (outcomes, recommended dose, continue) triple below is copied from
brockk/escalation v0.2.3, tests/testthat/test_three_plus_three.R (the tests of
``three_plus_three(..., strict_mode = FALSE)``), which walk every small history of the classic
3+3 (Storer 1989) and of its de-escalation variant (Korn et al. 1994). None comes from our code.
"""

import pytest

from safety.errors import DesignError, OutcomesError
from safety.escalation import Action, ThreePlusThree, check_decision

# brockk/escalation tests/testthat/test_three_plus_three.R:
# 'Check 3+3 makes correct recommendations without de-escalation.' and
# '3+3 advice is sensible even when path has diverged from algorithm' (num_doses = 5)
WITHOUT_DEESCALATION = [
    ("", 1, True),
    ("1N", 1, True),
    ("1T", 1, True),
    ("1NN", 1, True),
    ("1NT", 1, True),
    ("1TT", 1, True),
    ("1NNN", 2, True),
    ("1NNT", 1, True),
    ("1NTT", None, False),
    ("1TTT", None, False),
    ("1NNN 2N", 2, True),
    ("1NNN 2T", 2, True),
    ("1NNN 2NN", 2, True),
    ("1NNN 2NT", 2, True),
    ("1NNN 2TT", 2, True),
    ("1NNN 2NNN", 3, True),
    ("1NNN 2NNT", 2, True),
    ("1NNN 2NTT", 1, False),
    ("1NNN 2TTT", 1, False),
    ("1NNN 2NNT 2N", 2, True),
    ("1NNN 2NNT 2T", 2, True),
    ("1NNN 2NNT 2NN", 2, True),
    ("1NNN 2NNT 2NT", 2, True),
    ("1NNN 2NNT 2TT", 2, True),
    ("1NNN 2NNT 2NNN", 3, True),
    ("1NNN 2NNT 2NNT", 1, False),
    ("1NNN 2NNT 2NTT", 1, False),
    ("1NNN 2NNN 3NNN 4NNN 5N", 5, True),
    ("1NNN 2NNN 3NNN 4NNN 5NN", 5, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNN", 5, False),
    ("1NNN 2NNN 3NNN 4NNN 5NNT", 5, True),
    ("1NNN 2NNN 3NNN 4NNN 5NTT", 4, False),
    ("1NNN 2NNN 3NNN 4NNN 5TTT", 4, False),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5N", 5, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5NN", 5, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5NT", 5, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TT", 5, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5NNN", 5, False),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5NNT", 4, False),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5NTT", 4, False),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT", 4, False),
    ("1NNN 1T", 1, True),
    ("1NNN 1NNT", 2, True),
    ("1NNN 1NTT", None, False),
    ("1NNN 1TTT", None, False),
]

# brockk/escalation tests/testthat/test_three_plus_three.R:
# 'Check 3+3 makes correct recommendations with de-escalation.' (num_doses = 5)
WITH_DEESCALATION = [
    ("", 1, True),
    ("1N", 1, True),
    ("1T", 1, True),
    ("1NN", 1, True),
    ("1NT", 1, True),
    ("1TT", 1, True),
    ("1NNN", 2, True),
    ("1NNT", 1, True),
    ("1NTT", None, False),
    ("1TTT", None, False),
    ("1NNN 2N", 2, True),
    ("1NNN 2T", 2, True),
    ("1NNN 2NN", 2, True),
    ("1NNN 2NT", 2, True),
    ("1NNN 2TT", 2, True),
    ("1NNN 2NNN", 3, True),
    ("1NNN 2NNT", 2, True),
    ("1NNN 2NTT", 1, True),
    ("1NNN 2TTT", 1, True),
    ("1NNN 2NNT 2N", 2, True),
    ("1NNN 2NNT 2T", 2, True),
    ("1NNN 2NNT 2NN", 2, True),
    ("1NNN 2NNT 2NT", 2, True),
    ("1NNN 2NNT 2TT", 2, True),
    ("1NNN 2NNT 2NNN", 3, True),
    ("1NNN 2NNT 2NNT", 1, True),
    ("1NNN 2NNT 2NTT", 1, True),
    ("1NNN 2NNN 3NNN 4NNN 5N", 5, True),
    ("1NNN 2NNN 3NNN 4NNN 5NN", 5, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNN", 5, False),
    ("1NNN 2NNN 3NNN 4NNN 5NNT", 5, True),
    ("1NNN 2NNN 3NNN 4NNN 5NTT", 4, True),
    ("1NNN 2NNN 3NNN 4NNN 5TTT", 4, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5N", 5, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5NN", 5, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5NT", 5, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TT", 5, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5NNN", 5, False),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5NNT", 4, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5NTT", 4, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT", 4, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4N", 4, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4T", 4, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NN", 4, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NT", 4, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4TT", 4, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NNN", 4, False),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NNT", 4, False),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT", 3, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4TTT", 3, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3N", 3, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3T", 3, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3NN", 3, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3NT", 3, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TT", 3, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3NNN", 3, False),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3NNT", 3, False),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3NTT", 2, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT", 2, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2N", 2, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2T", 2, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2NN", 2, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2NT", 2, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2TT", 2, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2NNN", 2, False),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2NNT", 2, False),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2NTT", 1, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2TTT", 1, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2NTT 1N", 1, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2NTT 1T", 1, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2NTT 1NN", 1, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2NTT 1NT", 1, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2NTT 1TT", 1, True),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2NTT 1NNN", 1, False),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2NTT 1NNT", 1, False),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2NTT 1NTT", None, False),
    ("1NNN 2NNN 3NNN 4NNN 5NNT 5TTT 4NTT 3TTT 2NTT 1TTT", None, False),
    ("1NNN 2NNN 3NTT", 2, True),  # 'A few more manual checks'
    ("1NNN 2NNN 2NNN 3NTT", 2, False),
    ("1NTN 1NNN 2NNN 3NTT", 2, True),
    ("1NTN 1NNN 2NTN 2NNN 3NTT", 2, False),
    ("1NTN 1NTN 2NTN 2NNN 3NTT", 2, False),
    ("1NTN 1NTN 2NTN 2NTN 3NTT", None, False),
]


@pytest.mark.parametrize("outcomes, dose, cont", WITHOUT_DEESCALATION)
def test_three_plus_three_without_deescalation(outcomes, dose, cont):
    decision = ThreePlusThree(num_doses=5).decide(outcomes)
    assert (decision.dose_level, decision.continue_) == (dose, cont)
    check_decision(decision, 5)


@pytest.mark.parametrize("outcomes, dose, cont", WITH_DEESCALATION)
def test_three_plus_three_with_deescalation(outcomes, dose, cont):
    decision = ThreePlusThree(num_doses=5, allow_deescalate=True).decide(outcomes)
    assert (decision.dose_level, decision.continue_) == (dose, cont)
    check_decision(decision, 5)


@pytest.mark.parametrize(
    "outcomes, action, dose_level",
    [
        ("", Action.STAY, 1),  # no patients: start at dose 1
        ("1NNN", Action.ESCALATE, 2),  # 0 of 3: escalate
        ("1NNT", Action.STAY, 1),  # 1 of 3: treat 3 more at the same dose
        ("1NNT 1NNN", Action.ESCALATE, 2),  # 1 of 6: escalate
        ("1NTT", Action.STOP, None),  # 2 of 3 at the lowest dose: no safe dose
        ("1NNN 2NTT", Action.STOP, 1),  # 2 of 3 at dose 2: dose 1 is the MTD
    ],
)  # Storer (1989), the classic 3+3; same answers in test_three_plus_three.R
def test_three_plus_three_actions(outcomes, action, dose_level):
    decision = ThreePlusThree(num_doses=5).decide(outcomes)
    assert (decision.action, decision.dose_level) == (action, dose_level)


def test_reason_reads_like_the_protocol():
    # Storer (1989): 1 DLT in the first 3 -> 3 more patients at the same dose
    decision = ThreePlusThree(num_doses=5).decide("1NNN 2NTN")
    assert decision.reason == "1 DLT in 3 at dose level 2: treat 3 more there (3+3)"
    assert decision.numbers["n"] == 3 and decision.numbers["dlts"] == 1


def test_deescalation_after_two_dlts_eliminates_the_dose():
    # test_three_plus_three.R: '1NNN 2NTT' with de-escalation -> dose 1, continue; Brock's
    # dose_admissible rejects doses with 2+ DLTs and all above them.
    decision = ThreePlusThree(num_doses=5, allow_deescalate=True).decide("1NNN 2NTT")
    assert decision.action is Action.ELIMINATE
    assert decision.eliminated == (2, 3, 4, 5)


def test_top_dose_reached_names_it_the_mtd():
    # test_three_plus_three.R: '1NNN 2NNN 3NNN 4NNN 5NNN' -> 5, stop
    decision = ThreePlusThree(num_doses=5).decide("1NNN 2NNN 3NNN 4NNN 5NNN")
    assert (decision.action, decision.dose_level, decision.continue_) == (Action.STOP, 5, False)
    assert "top dose" in decision.reason


def test_more_than_six_at_a_dose_is_refused():
    # Brock's three_plus_three warns "Inconsistent 3+3: more than six patients at a dose-level"
    with pytest.raises(DesignError, match=r"outside the 3\+3 rules: 7 at dose level 1"):
        ThreePlusThree(num_doses=3).decide("1NNN 1NNN 1N")


def test_dose_above_the_design_is_refused():
    # three_plus_three_selector: "maximum dose given exceeds number of doses"
    with pytest.raises(OutcomesError, match="only 3 dose levels"):
        ThreePlusThree(num_doses=3).decide("1NNN 2NNN 3NNN 4N")


def test_dose_level_zero_is_refused():
    # test_three_plus_three.R expects an error for '... 0N'
    with pytest.raises(OutcomesError, match="dose level 0"):
        ThreePlusThree(num_doses=5).decide("1NNN 0N")


# Storer (1989): 2 or more DLTs among the 3 (or 6) patients of a dose exceed the MTD. Once a dose
# has 2 DLTs, no outcome of the remaining patients can change that, so the product decides at
# once rather than exposing them (decide_on_excess_toxicity; Brock's package waits).
@pytest.mark.parametrize("outcomes, dose, cont", [
    ("1TT", None, False),                 # 2 of 2 at the lowest dose: no safe dose
    ("1NNN 2TT", 1, False),               # 2 of 2 at dose 2: dose 1 is the MTD
    ("1NNN 2NNT 2TN", 1, False),          # 2 of 5 at dose 2
    ("1NNN 2NNT 2T", 1, False),           # 2 of 4 at dose 2 (2 still pending)
    ("1NNN 2NT", 2, True),                # 1 of 2: complete the cohort of 3
    ("1NNN 2NNT 2NN", 2, True),           # 1 of 5: complete the 6
])
def test_decide_on_excess_toxicity(outcomes, dose, cont):
    design = ThreePlusThree(num_doses=5, decide_on_excess_toxicity=True)
    decision = design.decide(outcomes)
    assert (decision.dose_level, decision.continue_) == (dose, cont)
    check_decision(decision, 5)


@pytest.mark.parametrize("outcomes, dose, reason", [
    # Storer (1989): 2 or more DLTs at a dose exceed the MTD. A DLT reported late gave dose
    # level 1 its second DLT: stopping at dose level 2 cannot name dose level 1 as the MTD
    ("1NNNNTT 2NTT", None, "stop; no dose level is safe"),
    ("1NNN 2NNNNTT 3NTT", 1, "stop; dose level 1 is the MTD (dose level 2 also has 2 DLTs in 6)"),
    ("1NNN 2NNNNNT 3NTT", 2, "stop; dose level 2 is the MTD"),
])
def test_3plus3_never_names_a_dose_with_two_dlts_as_mtd(outcomes, dose, reason):
    d = ThreePlusThree(num_doses=3).decide(outcomes)
    assert (d.action, d.dose_level) == (Action.STOP, dose) and reason in d.reason, d.reason
    check_decision(d, 3)


@pytest.mark.parametrize("outcomes, mtd", [
    ("1NNN 2NNN", None),  # no dose has 6 patients: no MTD by the 3+3 definition
    ("1NNNNNT 2NNN", 1),  # dose level 1: 1 DLT in 6, the highest such
    ("1NNNNNT 2NNNNNN 3NTT", 2),  # the 3+3 itself stops: its decision names the MTD
])
def test_3plus3_final_is_the_storer_mtd(outcomes, mtd):
    # Storer (1989): the MTD is the highest dose level with at most 1 DLT in 6 patients; used
    # when a sample-size rule stops the trial (escalation.rules information rules)
    final = ThreePlusThree(num_doses=3, decide_on_excess_toxicity=True).final(outcomes)
    assert (final.action, final.dose_level) == (Action.STOP, mtd), final.reason
