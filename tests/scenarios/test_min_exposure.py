"""Scenario SCN-EXPO: the protocol's minimum exposure to be evaluable (weekly doses, BOIN).

BOIN, target 0.30, cohorts of 3, DLT window 28 days; the protocol plans 4 weekly doses of 10 mg
in the window (study days 1, 8, 15, 22) and sets ``[dlt] min_exposure = 0.8``. All first doses
2023-01-09 09:00, so day 27 = 2023-02-04 and day 28 = 2023-02-05.

X-01  4 doses of 10 mg = 40 of 40 mg (100%), no DLT
X-02  3 doses (days 1, 8, 15) = 30 mg (75%), no DLT
X-03  2 doses, then grade 3 related diarrhoea on day 10: DLT
X-04  4 doses, the last 5 mg = 35 mg (87.5%), no DLT
X-05  3 doses of 10 mg and one of 2 mg = 32 mg (80%, exactly the minimum), no DLT

Conventions:
[EXPO] A typical phase 1 protocol: "patients who receive less than 80% of the planned doses
       during the DLT period for reasons other than a DLT are not evaluable for DLT and will be
       replaced"; a patient with a DLT is evaluable whatever she received. Exposure is known
       when her window ends: before that she is pending.
[BOIN] Liu & Yuan (2015), BOIN get.boundary(target = 0.3): lambda_e 0.2365, lambda_d 0.3585.
       1 DLT in 4 evaluable = 0.25 in (0.2365, 0.3585]: stay. Counting X-02 as evaluable would
       give 1 in 5 = 0.2 <= 0.2365: escalate.
"""

from __future__ import annotations

import pytest

from .sdtm import AE, CohortSpec, Dose, Study, Subject, cohort, counts, explain_doc, status_doc

WEEKLY = (1, 8, 15, 22)
STUDY = Study(
    "SCN-EXPO",
    [CohortSpec("DL1", "Dose level 1", 1, 10.0, "mg"), CohortSpec("DL2", "Dose level 2", 2, 20.0,
                                                                  "mg")],
    labs=False,
    dlt_settings="min_exposure = 0.8\nplanned_administrations = 4",
    subjects=[
        Subject("X-01", "DL1", "2023-01-09T09:00", doses=[Dose(d) for d in WEEKLY]),
        Subject("X-02", "DL1", "2023-01-09T09:00", doses=[Dose(d) for d in WEEKLY[:3]]),
        Subject("X-03", "DL1", "2023-01-09T09:00", doses=[Dose(d) for d in WEEKLY[:2]],
                aes=[AE("Diarrhoea", day=10, grade=3)]),
        Subject("X-04", "DL1", "2023-01-09T09:00",
                doses=[Dose(1), Dose(8), Dose(15), Dose(22, amount=5.0)]),
        Subject("X-05", "DL1", "2023-01-09T09:00",
                doses=[Dose(1), Dose(8), Dose(15), Dose(22, amount=2.0)]),
    ],
)

TRUTH = {  # DL1 by hand: [EXPO]
    "2023-02-04": dict(treated=5, evaluable=1, in_dlt_window=4, not_evaluable=0, dlts=1),
    "2023-02-05": dict(treated=5, evaluable=4, in_dlt_window=0, not_evaluable=1, dlts=1),
    "2023-03-31": dict(treated=5, evaluable=4, in_dlt_window=0, not_evaluable=1, dlts=1),
}


@pytest.fixture(scope="module")
def db(build):
    return build(STUDY)


@pytest.mark.parametrize("cutoff", list(TRUTH))
def test_underdosed_patient_is_not_evaluable_once_her_window_ends(db, cutoff):
    # [EXPO] X-02 (75% < 80%) is pending until day 28, then not evaluable; X-05 (80%) counts
    assert counts(cohort(status_doc(db, cutoff), "DL1")) == TRUTH[cutoff]


def test_decision_counts_the_four_evaluable(db):
    # [BOIN] 1 DLT in 4: stay at dose level 1 (counting X-02 would escalate)
    c = cohort(status_doc(db, "2023-03-31"), "DL1")
    assert c["decision"] == "stay", c["reason"]


def test_explain_says_how_much_she_received(db):
    # the reason names the exposure and the protocol's minimum
    subjects = {s["usubjid"]: s for s in explain_doc(db, "DL1", "2023-03-31")["subjects"]}
    assert subjects["SCN-EXPO-X-02"]["dlt_state"] == "not evaluable"
    assert "received 75.0% of the planned dose" in subjects["SCN-EXPO-X-02"]["why"]
    assert "at least 80.0%" in subjects["SCN-EXPO-X-02"]["why"]
    assert subjects["SCN-EXPO-X-05"]["dlt_state"] == "evaluable"
