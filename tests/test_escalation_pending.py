"""Stopping rules with patients whose DLT outcome is not known yet (still in the window).

A maximum sample size limits how many patients are exposed: every treated patient counts from
the first dose (issue 3: "20 of 24 treated" was shown when 22 were treated, 2 pending).
"k of the first n" means the first n patients *treated* at a dose: a pending patient treated
earlier keeps their place.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from safety.errors import DesignError
from safety.escalation import Action, Boin, KOfFirstN, StopAtN, StopWhenNAtDose
from safety.monitor.decisions import pending_among_first, unevaluated_by_dose

DEMO = "1NNNNNNNN 2NNNNTNNN 3TNNT"  # the demo at 2021-01-15: 20 evaluable, 2 HIGH pending


def _rule(decision, name):
    return next(r for r in decision.rule_states if r.name == name)


def test_1_stop_at_n_counts_pending_patients():
    design = StopAtN(Boin(num_doses=3, target=0.25), n=24, unevaluated=(0, 0, 2))
    state = _rule(design.decide(DEMO), "stop at N")
    assert state.detail == (
        "22 of the maximum 24 patients treated (20 evaluable, 2 without a DLT outcome yet)"
    )
    assert state.state == "warning"  # 2 left: within one cohort of three
    assert state.numbers["total"] == 22


def test_2_without_pending_patients_the_rule_is_brocks_stop_at_n():
    state = _rule(StopAtN(Boin(num_doses=3, target=0.25), n=24).decide(DEMO), "stop at N")
    assert state.detail == "20 of the maximum 24 patients treated"


def test_3_stop_at_n_triggers_on_treated_and_says_the_windows_are_open():
    design = StopAtN(Boin(num_doses=3, target=0.25), n=24, unevaluated=(0, 0, 4))
    decision = design.decide(DEMO)
    assert decision.action is Action.STOP and not decision.continue_
    assert "24 patients treated, the maximum of 24" in decision.reason
    assert "4 still without a DLT outcome" in decision.reason


def test_4_stop_when_n_at_dose_counts_pending_patients_at_that_dose():
    # BOIN stays at the top dose after 0/4 there; 4 evaluable + 2 pending = 6 treated at dose 3
    boin = Boin(num_doses=3, target=0.25)
    outcomes = "1NNN 2NNN 3NNNN"
    assert boin.decide(outcomes).dose_level == 3
    plain = StopWhenNAtDose(boin, n=6).decide(outcomes)
    assert plain.continue_
    counted = StopWhenNAtDose(boin, n=6, unevaluated=(0, 0, 2)).decide(outcomes)
    assert not counted.continue_ and counted.dose_level == 3
    state = _rule(counted, "stop when n at dose")
    assert state.detail == "6 of 6 patients at dose level 3 (2 without a DLT outcome yet)"


@pytest.mark.parametrize(
    "outcomes, pending_first, state",
    [
        ("1TNT", (0, 0, 0), "triggered"),  # T N T: 2 of the first 3
        ("1TNT", (1, 0, 0), "warning"),  # first 3 treated = pending, T, N: 1 so far
        ("1TTN", (1, 0, 0), "triggered"),  # pending, T, T: 2 of the first 3 whatever comes
        ("1NNT", (1, 0, 0), "ok"),  # pending, N, N: the T is the 4th treated
    ],
)
def test_5_k_of_first_n_keeps_the_place_of_pending_patients(outcomes, pending_first, state):
    design = KOfFirstN(Boin(num_doses=3, target=0.3), k=2, n=3, pending_first=pending_first)
    assert _rule(design.decide(outcomes), "k of the first n").state == state


def test_6_rules_refuse_pending_counts_of_the_wrong_shape():
    with pytest.raises(DesignError, match="each of the 3 dose levels"):
        StopAtN(Boin(num_doses=3, target=0.3), n=12, unevaluated=(1, 2))
    with pytest.raises(DesignError, match="at most 3 of the first 3"):
        KOfFirstN(Boin(num_doses=3, target=0.3), k=2, n=3, pending_first=(4, 0, 0))


def test_7_pending_and_unevaluated_counts_from_subject_states():
    d = date
    states = pd.DataFrame(
        [  # in order of first dose at dose A; the not-evaluable patient is replaced
            ("P1", "A", d(2021, 1, 1), "pending"),
            ("P2", "A", d(2021, 1, 2), "not evaluable"),
            ("P3", "A", d(2021, 1, 3), "DLT"),
            ("P4", "A", d(2021, 1, 4), "pending"),
            ("P5", "A", d(2021, 1, 5), "evaluable"),
            ("P6", "B", d(2021, 1, 6), "not treated"),
            ("C1", "CTRL", d(2021, 1, 1), "pending"),
        ],
        columns=["usubjid", "cohort_id", "first_dose_date", "dlt_state"],
    )
    levels = {"A": 1, "B": 2}
    assert unevaluated_by_dose(states, levels) == (3, 0)  # P1, P2, P4; control not counted
    assert pending_among_first(states, levels, 3) == (2, 0)  # first 3 placed: P1, P3, P4
    assert pending_among_first(states, levels, None) == (0, 0)
