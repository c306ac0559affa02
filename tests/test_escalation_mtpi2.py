"""mTPI-2 against Guo et al. (2017), Figure 3, as reproduced by Brock's escalation package.

Every (outcomes, dose, continue, eliminated) row is copied from brockk/escalation v0.2.3
tests/testthat/test_mtpi2.R, 'mtpi2_selector matches published example.' ("Reproduce decisions
conveyed in Figure 3 in Guo et al. (2017)", target 0.3, epsilon1 = epsilon2 = 0.05, exclusion
certainty 0.95, five doses); ``eliminated`` are the doses its ``dose_admissible`` marks FALSE.
"""

import pytest

from safety.errors import DesignError
from safety.escalation import Action, Mtpi2, check_decision, mtpi2_intervals

GUO_2017_FIGURE_3 = [
    ("1NNN", 2, True, ()),
    ("1NNT", 1, True, ()),
    ("1NTT", 1, True, ()),
    ("1TTT", None, False, (1, 2, 3, 4, 5)),
    ("1NNN 1NNN", 2, True, ()),
    ("1NNN 1NNT", 2, True, ()),
    ("1NNN 1NTT", 1, True, ()),
    ("1NNN 1TTT", 1, True, ()),
    ("1NNT 1TTT", None, False, (1, 2, 3, 4, 5)),
    ("1NTT 1TTT", None, False, (1, 2, 3, 4, 5)),
    ("1TTT 1TTT", None, False, (1, 2, 3, 4, 5)),
    ("1NNN 1NNN 1NNN", 2, True, ()),
    ("1NNN 1NNN 1NNT", 2, True, ()),
    ("1NNN 1NNN 1NTT", 2, True, ()),
    ("1NNN 1NNN 1TTT", 1, True, ()),
    ("1NNN 1NNT 1TTT", 1, True, ()),
    ("1NNN 1NTT 1TTT", None, False, (1, 2, 3, 4, 5)),
    ("1NNN 1TTT 1TTT", None, False, (1, 2, 3, 4, 5)),
    ("1NNT 1TTT 1TTT", None, False, (1, 2, 3, 4, 5)),
    ("1NTT 1TTT 1TTT", None, False, (1, 2, 3, 4, 5)),
    ("1TTT 1TTT 1TTT", None, False, (1, 2, 3, 4, 5)),
    ("2NNN", 3, True, ()),
    ("2NNT", 2, True, ()),
    ("2NTT", 1, True, ()),
    ("2TTT", 1, True, (2, 3, 4, 5)),
    ("2NNN 2NNN", 3, True, ()),
    ("2NNN 2NNT", 3, True, ()),
    ("2NNN 2NTT", 2, True, ()),
    ("2NNN 2TTT", 1, True, ()),
    ("2NNT 2TTT", 1, True, (2, 3, 4, 5)),
    ("2NTT 2TTT", 1, True, (2, 3, 4, 5)),
    ("2TTT 2TTT", 1, True, (2, 3, 4, 5)),
    ("2NNN 2NNN 2NNN", 3, True, ()),
    ("2NNN 2NNN 2NNT", 3, True, ()),
    ("2NNN 2NNN 2NTT", 3, True, ()),
    ("2NNN 2NNN 2TTT", 2, True, ()),
    ("2NNN 2NNT 2TTT", 1, True, ()),
    ("2NNN 2NTT 2TTT", 1, True, (2, 3, 4, 5)),
    ("2NNN 2TTT 2TTT", 1, True, (2, 3, 4, 5)),
    ("2NNT 2TTT 2TTT", 1, True, (2, 3, 4, 5)),
    ("2NTT 2TTT 2TTT", 1, True, (2, 3, 4, 5)),
    ("2TTT 2TTT 2TTT", 1, True, (2, 3, 4, 5)),
    ("5NNN", 5, True, ()),
    ("5NNT", 5, True, ()),
    ("5NTT", 4, True, ()),
    ("5TTT", 4, True, (5,)),
    ("5NNN 5NNN", 5, True, ()),
    ("5NNN 5NNT", 5, True, ()),
    ("5NNN 5NTT", 5, True, ()),
    ("5NNN 5TTT", 4, True, ()),
    ("5NNT 5TTT", 4, True, (5,)),
    ("5NTT 5TTT", 4, True, (5,)),
    ("5TTT 5TTT", 4, True, (5,)),
    ("5NNN 5NNN 5NNN", 5, True, ()),
    ("5NNN 5NNN 5NNT", 5, True, ()),
    ("5NNN 5NNN 5NTT", 5, True, ()),
    ("5NNN 5NNN 5TTT", 5, True, ()),
    ("5NNN 5NNT 5TTT", 4, True, ()),
    ("5NNN 5NTT 5TTT", 4, True, (5,)),
    ("5NNN 5TTT 5TTT", 4, True, (5,)),
    ("5NNT 5TTT 5TTT", 4, True, (5,)),
    ("5NTT 5TTT 5TTT", 4, True, (5,)),
    ("5TTT 5TTT 5TTT", 4, True, (5,)),
]


@pytest.mark.parametrize("outcomes, dose, cont, eliminated", GUO_2017_FIGURE_3)
def test_guo_2017_figure_3(outcomes, dose, cont, eliminated):
    decision = Mtpi2(num_doses=5, target=0.3).decide(outcomes)
    assert (decision.dose_level, decision.continue_) == (dose, cont)
    assert decision.eliminated == eliminated
    check_decision(decision, 5)


def test_decision_table_rows_n3_n6_n9():
    # Guo et al. (2017) Figure 3 columns n = 3, 6, 9 (target 0.3), read from the dose-2 rows of
    # test_mtpi2.R: escalate -> E, stay -> S, de-escalate -> D, de-escalate + inadmissible -> DU
    table = Mtpi2(num_doses=5, target=0.3).decision_table(9)
    assert table[2] == ("E", "S", "D", "DU")
    assert table[5] == ("E", "E", "S", "D", "DU", "DU", "DU")
    assert table[8] == ("E", "E", "E", "S", "D", "DU", "DU", "DU", "DU", "DU")


def test_intervals_target_030():
    # Keyboard get.boundary.kb getkey(0.25, 0.35): keys 0, 0.05, 0.15, 0.25, 0.35, ..., 0.95, 1
    keys = mtpi2_intervals(0.3)
    assert keys[0] == (0.0, 0.05) and keys[3] == (0.25, 0.35) and keys[-1] == (0.95, 1.0)
    assert len(keys) == 11


def test_no_data_and_elimination_needs_three():
    mtpi2 = Mtpi2(num_doses=5, target=0.3)
    assert mtpi2.decide("").dose_level == 1
    # 2/2 at dose 1: P(p > 0.3 | Beta(3, 1)) = 1 - 0.3^3 = 0.973 > 0.95 but n < 3
    # (Keyboard get.oc.kb: n[d] >= 3): de-escalation at the lowest dose stays there.
    decision = mtpi2.decide("1TT")
    assert (decision.action, decision.dose_level, decision.eliminated) == (Action.STAY, 1, ())


def test_final_selection_is_isotonic():
    # Keyboard select.mtd.kb = BOIN select.mtd: '1NNN 2NTN 2NNN 3NTT' -> phat 0.016, 0.172, 0.661
    # (hand: 0.05/3.1, 1.05/6.1, 2.05/3.1), closest to 0.3 is dose 2
    decision = Mtpi2(num_doses=5, target=0.3).final("1NNN 2NTN 2NNN 3NTT")
    assert (decision.action, decision.dose_level) == (Action.STOP, 2)


def test_bad_parameters():
    with pytest.raises(DesignError, match="equivalence interval"):
        Mtpi2(num_doses=3, target=0.03)
