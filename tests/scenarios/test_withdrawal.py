"""Scenario SCN-WD: a patient withdraws on day 10 of her DLT window without a DLT (BOIN).

BOIN, target DLT rate 0.30, three dose levels, DLT window 28 days, no extra stopping rules.

Dose level 1 (DL1): three patients, no DLT, windows over by 2023-02-09.
Dose level 2 (DL2), first doses 09:00:
    W2-01  2023-02-13  no DLT                     window days 1..28 = 02-13 .. 03-12
    W2-02  2023-02-14  grade 3 related diarrhoea on day 5 (02-18): DLT
    W2-03  2023-02-15  no DLT                     window 02-15 .. 03-14
    W2-04  2023-02-16  grade 3 related rash on day 12 (02-27): DLT
    W2-05  2023-02-17  no DLT                     window 02-17 .. 03-16
    W2-06  2023-02-20  grade 1 fatigue day 4; WITHDRAWAL BY SUBJECT on day 10 (2023-03-01),
                       no DLT; the calendar end of her window would be day 28 = 2023-03-19

Conventions:
[EVAL] A typical phase 1 protocol: "patients who discontinue before completing the DLT period for
       reasons other than a DLT are not evaluable and will be replaced". So W2-06 is not
       evaluable from 2023-03-01 (the day she left) and at every later cut-off; she never turns
       into "evaluable without DLT" when 2023-03-19 passes. The evaluable, the pending (in DLT
       window) and the not evaluable partition the treated.
[WIN]  Window days 1..28 inclusive (SDTMIG --DY: first dose day = day 1); evaluable without DLT
       when the cut-off reaches day 28.
[BOIN] Liu & Yuan (2015), R package BOIN get.boundary(target = 0.3): lambda_e = 0.2365,
       lambda_d = 0.3585. 2 DLTs in 5 evaluable = 0.40 > 0.3585: de-escalate (to dose level 1);
       2 in 6 = 0.333 in [0.2365, 0.3585]: stay. Elimination needs P(p > 0.3 | 2/5) > 0.95 with
       Beta(1,1): P(Beta(3, 4) > 0.3) = 0.744, so dose level 2 is not eliminated.
"""

from __future__ import annotations

import pytest

from .sdtm import AE, CohortSpec, Left, Study, Subject, cohort, counts, safety, status, status_doc

COHORTS = [CohortSpec("DL1", "Dose level 1", 1, 1.0), CohortSpec("DL2", "Dose level 2", 2, 2.0),
           CohortSpec("DL3", "Dose level 3", 3, 4.0)]

STUDY = Study("SCN-WD", COHORTS, [
    Subject("W1-01", "DL1", "2023-01-09T09:00", aes=[AE("Headache", day=3, grade=1)]),
    Subject("W1-02", "DL1", "2023-01-11T09:00"),
    Subject("W1-03", "DL1", "2023-01-13T09:00", aes=[AE("Nausea", day=2, grade=2)]),
    Subject("W2-01", "DL2", "2023-02-13T09:00", aes=[AE("Nausea", day=2, grade=1)]),
    Subject("W2-02", "DL2", "2023-02-14T09:00", aes=[AE("Diarrhoea", day=5, grade=3)]),
    Subject("W2-03", "DL2", "2023-02-15T09:00"),
    Subject("W2-04", "DL2", "2023-02-16T09:00",
            aes=[AE("Rash maculo-papular", day=12, grade=3, rel="POSSIBLY RELATED",
                    soc="SKIN AND SUBCUTANEOUS TISSUE DISORDERS")]),
    Subject("W2-05", "DL2", "2023-02-17T09:00"),
    Subject("W2-06", "DL2", "2023-02-20T09:00", aes=[AE("Fatigue", day=4, grade=1)],
            left=Left("WITHDRAWAL BY SUBJECT", day=10)),
])

# DL2 by hand at each cut-off (treated, evaluable incl. DLT, in DLT window, not evaluable, DLTs)
DL2_TRUTH = {
    # everyone dosed; only W2-02's DLT (02-18) has happened; W2-06 on day 1
    "2023-02-20": dict(treated=6, evaluable=1, in_dlt_window=5, not_evaluable=0, dlts=1),
    # W2-04's DLT (02-27); W2-06 on day 9, still pending
    "2023-02-28": dict(treated=6, evaluable=2, in_dlt_window=4, not_evaluable=0, dlts=2),
    # W2-06 withdraws on day 10 without DLT: not evaluable from that day [EVAL]
    "2023-03-01": dict(treated=6, evaluable=2, in_dlt_window=3, not_evaluable=1, dlts=2),
    # W2-01 reaches day 28 (03-12) [WIN]
    "2023-03-12": dict(treated=6, evaluable=3, in_dlt_window=2, not_evaluable=1, dlts=2),
    # W2-05 reaches day 28 (03-16); W2-06 is on her calendar day 25
    "2023-03-16": dict(treated=6, evaluable=5, in_dlt_window=0, not_evaluable=1, dlts=2),
    # the day before, on and after the calendar end of W2-06's window: nothing changes [EVAL]
    "2023-03-18": dict(treated=6, evaluable=5, in_dlt_window=0, not_evaluable=1, dlts=2),
    "2023-03-19": dict(treated=6, evaluable=5, in_dlt_window=0, not_evaluable=1, dlts=2),
    "2023-03-20": dict(treated=6, evaluable=5, in_dlt_window=0, not_evaluable=1, dlts=2),
    "2023-04-30": dict(treated=6, evaluable=5, in_dlt_window=0, not_evaluable=1, dlts=2),
}


@pytest.fixture(scope="module")
def docs(build) -> dict[str, dict]:
    db = build(STUDY)
    return {c: status_doc(db, c) for c in DL2_TRUTH}


@pytest.mark.parametrize("cutoff", list(DL2_TRUTH))
def test_withdrawn_patient_is_never_evaluable(docs, cutoff):
    # [EVAL] at every cut-off from her withdrawal on, W2-06 is neither evaluable nor pending
    truth = {k: v for k, v in DL2_TRUTH[cutoff].items() if k != "not_evaluable"}
    assert counts(cohort(docs[cutoff], "DL2"), list(truth)) == truth


@pytest.mark.parametrize("cutoff", list(DL2_TRUTH))
def test_withdrawn_patient_is_counted_not_evaluable(docs, cutoff):
    # [EVAL] status reports her as not evaluable (per cohort "not_evaluable") from 2023-03-01 on
    assert "not_evaluable" in cohort(docs[cutoff], "DL2"), "status reports no not_evaluable"
    assert counts(cohort(docs[cutoff], "DL2"), ["not_evaluable"]) == {
        "not_evaluable": DL2_TRUTH[cutoff]["not_evaluable"]}


@pytest.mark.parametrize("cutoff", ["2023-03-16", "2023-03-19", "2023-03-20", "2023-04-30"])
def test_boin_decision_counts_five_evaluable(docs, cutoff):
    # [BOIN] 2 DLTs in 5 evaluable at dose level 2: 0.40 > lambda_d 0.3585 -> de-escalate to 1.
    # Counting W2-06 as evaluable without DLT would give 2 in 6 = 0.333 -> stay (wrong).
    doc = docs[cutoff]
    rec = doc["studies"][0]["recommendation"]
    assert (cohort(doc, "DL2")["decision"], rec["decision"], rec["dose_level"]) == (
        "de-escalate", "de-escalate", 1), rec["reason"]


def test_outcomes_leave_the_withdrawn_patient_out(docs):
    # Brock's notation, evaluable patients in order of first dose: W2-06 is not among them
    assert docs["2023-04-30"]["studies"][0]["outcomes"] == "1NNN 2NTNTN"


@pytest.mark.parametrize("outcomes, dose", [
    ("1NNN 2NTNTN", 1),   # 2 of 5: 0.40 > 0.3585, de-escalate to dose level 1
    ("1NNN 2NTNTNN", 2),  # 2 of 6: 0.333 in [0.2365, 0.3585], stay at dose level 2
])
def test_boin_flip_the_scenario_rests_on(outcomes, dose):
    # [BOIN] Liu & Yuan (2015); the product's own design command on the two histories
    doc = safety("design", "decide", "--design", "boin", "--outcomes", outcomes,
                 "--num-doses", "3", "--target", "0.3", "--json").json()
    assert doc["recommended_dose"] == dose, doc["reason"]


def test_status_of_a_real_process_is_the_same(build, docs):
    # the in-process runs of the scenarios give what `python -m safety status` prints
    run = status(build(STUDY), "2023-04-30", mode="subprocess")
    assert run.json() == docs["2023-04-30"]
