"""Scenario SCN-DEP: patients who leave inside the DLT window, and a replacement patient.

BOIN, target DLT rate 0.25, DLT window 28 days, no extra stopping rules. One kind of departure a
cohort, so a cohort's counts are the story of its patients. First doses at 09:00.

DTH    DTH-01   2023-01-09  unrelated grade 5 myocardial infarction on day 15 (2023-01-23), died
                            that day (DM DTHDTC, DS DEATH): no DLT
LTFU   LTFU-01  2023-01-09  LOST TO FOLLOW-UP on day 20 (2023-01-28): no DLT
WDDLT  WDDLT-01 2023-01-09  grade 3 related febrile neutropenia on day 6 (01-14): DLT; then
                            withdrew (DS ADVERSE EVENT) on day 8 (01-16)
REPL   R-01     2023-01-09  grade 3 related diarrhoea on day 5 (01-13): DLT
       R-02     2023-01-10  no DLT; day 28 = 2023-02-06
       R-03     2023-01-11  WITHDRAWAL BY SUBJECT on day 10 (01-20), no DLT; calendar day 28
                            would be 2023-02-07
       R-04     2023-01-25  R-03's replacement; no DLT; day 28 = 2023-02-21
DSONLY DS-01    2023-01-09  WITHDRAWAL BY SUBJECT on day 12 (2023-01-20) in DS; DM was exported
                            before she left, so it has no RFENDTC / RFPENDTC: no DLT
EPOCH  EP-01    2023-01-09  DS COMPLETED on day 1: she completed the treatment epoch (a single
                            injection) and stays in follow-up; no DLT; day 28 = 2023-02-05

Conventions:
[EVAL] "Patients who discontinue before completing the DLT period for reasons other than a DLT
       are not evaluable and will be replaced" (typical phase 1 protocol): withdrawal, loss to
       follow-up and death without a DLT make a patient not evaluable from the day she left, at
       every later cut-off, whichever domain records it (DS disposition or DM). A DLT before
       leaving makes her evaluable (with DLT). The replacement is a patient like any other.
       Completing an epoch (DSDECOD COMPLETED, SDTMIG 3.x DS: one disposition event per epoch)
       is not discontinuing: she stays evaluable when her window completes.
[WIN]  Window days 1..28 inclusive; without DLT, evaluable when the cut-off reaches day 28.
[BOIN] Liu & Yuan (2015), R BOIN get.boundary(target = 0.25): lambda_e 0.1968, lambda_d 0.2984.
       1 DLT in 3 evaluable = 0.333 > 0.2984: de-escalate. Counting R-03 as evaluable would give
       1 in 4 = 0.25 in [0.1968, 0.2984]: stay. P(Beta(2, 3) > 0.25) = 0.74 < 0.95: no elimination.
"""

from __future__ import annotations

import pytest

from .sdtm import AE, CohortSpec, Left, Study, Subject, cohort, counts, status_doc

COHORTS = [CohortSpec("DTH", "Death", 1, 1.0), CohortSpec("LTFU", "Lost to follow-up", 2, 2.0),
           CohortSpec("WDDLT", "Withdrew after DLT", 3, 3.0),
           CohortSpec("REPL", "Replacement", 4, 4.0),
           CohortSpec("DSONLY", "Withdrawal in DS only", 5, 5.0),
           CohortSpec("EPOCH", "Treatment epoch completed", 6, 6.0)]

STUDY = Study("SCN-DEP", COHORTS, target=0.25, subjects=[
    Subject("DTH-01", "DTH", "2023-01-09T09:00", died_day=15, left=Left("DEATH", day=15),
            aes=[AE("Myocardial infarction", day=15, grade=5, rel="NOT RELATED", ser="Y",
                    sdth="Y", outcome="FATAL", soc="CARDIAC DISORDERS")]),
    Subject("LTFU-01", "LTFU", "2023-01-09T09:00", aes=[AE("Headache", day=3, grade=1)],
            left=Left("LOST TO FOLLOW-UP", day=20)),
    Subject("WDDLT-01", "WDDLT", "2023-01-09T09:00",
            aes=[AE("Febrile neutropenia", day=6, grade=3, ser="Y", shosp="Y",
                    soc="BLOOD AND LYMPHATIC SYSTEM DISORDERS")],
            left=Left("ADVERSE EVENT", day=8)),
    Subject("R-01", "REPL", "2023-01-09T09:00", aes=[AE("Diarrhoea", day=5, grade=3)]),
    Subject("R-02", "REPL", "2023-01-10T09:00", aes=[AE("Nausea", day=2, grade=1)]),
    Subject("R-03", "REPL", "2023-01-11T09:00", left=Left("WITHDRAWAL BY SUBJECT", day=10)),
    Subject("R-04", "REPL", "2023-01-25T09:00", aes=[AE("Fatigue", day=3, grade=1)]),
    Subject("DS-01", "DSONLY", "2023-01-09T09:00", aes=[AE("Nausea", day=4, grade=1)],
            left=Left("WITHDRAWAL BY SUBJECT", day=12), dm_end=False),
    Subject("EP-01", "EPOCH", "2023-01-09T09:00", aes=[AE("Headache", day=2, grade=1)],
            left=Left("COMPLETED", day=1, term="COMPLETED TREATMENT EPOCH"), dm_end=False),
])

# By hand, per cut-off: (treated, evaluable incl. DLT, in DLT window, not evaluable, DLTs)
KEYS = ("treated", "evaluable", "in_dlt_window", "not_evaluable", "dlts")
# fmt: off
TRUTH = {  # cut-off:   DTH                  LTFU                  WDDLT                  REPL                  DSONLY
    "2023-01-13": dict(DTH=(1, 0, 1, 0, 0), LTFU=(1, 0, 1, 0, 0), WDDLT=(1, 0, 1, 0, 0), REPL=(3, 1, 2, 0, 1), DSONLY=(1, 0, 1, 0, 0)),
    "2023-01-14": dict(DTH=(1, 0, 1, 0, 0), LTFU=(1, 0, 1, 0, 0), WDDLT=(1, 1, 0, 0, 1), REPL=(3, 1, 2, 0, 1), DSONLY=(1, 0, 1, 0, 0)),
    "2023-01-16": dict(DTH=(1, 0, 1, 0, 0), LTFU=(1, 0, 1, 0, 0), WDDLT=(1, 1, 0, 0, 1), REPL=(3, 1, 2, 0, 1), DSONLY=(1, 0, 1, 0, 0)),
    "2023-01-20": dict(DTH=(1, 0, 1, 0, 0), LTFU=(1, 0, 1, 0, 0), WDDLT=(1, 1, 0, 0, 1), REPL=(3, 1, 1, 1, 1), DSONLY=(1, 0, 0, 1, 0)),
    "2023-01-22": dict(DTH=(1, 0, 1, 0, 0), LTFU=(1, 0, 1, 0, 0), WDDLT=(1, 1, 0, 0, 1), REPL=(3, 1, 1, 1, 1), DSONLY=(1, 0, 0, 1, 0)),
    "2023-01-23": dict(DTH=(1, 0, 0, 1, 0), LTFU=(1, 0, 1, 0, 0), WDDLT=(1, 1, 0, 0, 1), REPL=(3, 1, 1, 1, 1), DSONLY=(1, 0, 0, 1, 0)),
    "2023-01-25": dict(DTH=(1, 0, 0, 1, 0), LTFU=(1, 0, 1, 0, 0), WDDLT=(1, 1, 0, 0, 1), REPL=(4, 1, 2, 1, 1), DSONLY=(1, 0, 0, 1, 0)),
    "2023-01-27": dict(DTH=(1, 0, 0, 1, 0), LTFU=(1, 0, 1, 0, 0), WDDLT=(1, 1, 0, 0, 1), REPL=(4, 1, 2, 1, 1), DSONLY=(1, 0, 0, 1, 0)),
    "2023-01-28": dict(DTH=(1, 0, 0, 1, 0), LTFU=(1, 0, 0, 1, 0), WDDLT=(1, 1, 0, 0, 1), REPL=(4, 1, 2, 1, 1), DSONLY=(1, 0, 0, 1, 0)),
    # 02-05 = day 28 of the three 01-09 patients: DTH, LTFU stay not evaluable [EVAL]
    "2023-02-05": dict(DTH=(1, 0, 0, 1, 0), LTFU=(1, 0, 0, 1, 0), WDDLT=(1, 1, 0, 0, 1), REPL=(4, 1, 2, 1, 1), DSONLY=(1, 0, 0, 1, 0)),
    "2023-02-06": dict(DTH=(1, 0, 0, 1, 0), LTFU=(1, 0, 0, 1, 0), WDDLT=(1, 1, 0, 0, 1), REPL=(4, 2, 1, 1, 1), DSONLY=(1, 0, 0, 1, 0)),
    # 02-07 = R-03's calendar day 28: she stays not evaluable [EVAL]
    "2023-02-07": dict(DTH=(1, 0, 0, 1, 0), LTFU=(1, 0, 0, 1, 0), WDDLT=(1, 1, 0, 0, 1), REPL=(4, 2, 1, 1, 1), DSONLY=(1, 0, 0, 1, 0)),
    "2023-02-21": dict(DTH=(1, 0, 0, 1, 0), LTFU=(1, 0, 0, 1, 0), WDDLT=(1, 1, 0, 0, 1), REPL=(4, 3, 0, 1, 1), DSONLY=(1, 0, 0, 1, 0)),
    "2023-03-31": dict(DTH=(1, 0, 0, 1, 0), LTFU=(1, 0, 0, 1, 0), WDDLT=(1, 1, 0, 0, 1), REPL=(4, 3, 0, 1, 1), DSONLY=(1, 0, 0, 1, 0)),
}
# fmt: on
for _cutoff, _row in TRUTH.items():  # EPOCH: in her window until day 28 (2023-02-05), then evaluable
    _row["EPOCH"] = (1, 0, 1, 0, 0) if _cutoff < "2023-02-05" else (1, 1, 0, 0, 0)

STORIES = {
    "DTH": "died on day 15 without a DLT: not evaluable from 2023-01-23 on",
    "LTFU": "lost to follow-up on day 20 without a DLT: not evaluable from 2023-01-28 on",
    "WDDLT": "DLT on day 6, withdrew on day 8: evaluable with DLT from 2023-01-14 on",
    "REPL": "R-03 withdrew on day 10 (not evaluable), her replacement R-04 is counted",
    "DSONLY": "withdrew on day 12 per DS (DM without end dates): not evaluable from 2023-01-20",
    "EPOCH": "completed the treatment epoch on day 1 (DS COMPLETED): evaluable from 2023-02-05",
}


@pytest.fixture(scope="module")
def docs(build) -> dict[str, dict]:
    db = build(STUDY)
    return {c: status_doc(db, c) for c in TRUTH}


def _mismatches(docs: dict, cohort_id: str, keys: tuple[str, ...]) -> list[str]:
    found = []
    for cutoff, row in TRUTH.items():
        truth = {k: v for k, v in zip(KEYS, row[cohort_id], strict=True) if k in keys}
        got = counts(cohort(docs[cutoff], cohort_id), keys)
        if got != truth:
            found.append(f"{cutoff}: got {got}, truth {truth}")
    return found


@pytest.mark.parametrize("cohort_id", list(STORIES))
def test_departure_counts_at_every_cutoff(docs, cohort_id):
    # [EVAL]/[WIN]: treated, evaluable (with or without DLT), pending, DLTs
    bad = _mismatches(docs, cohort_id, ("treated", "evaluable", "in_dlt_window", "dlts"))
    assert not bad, f"{STORIES[cohort_id]}; wrong at " + "; ".join(bad)


@pytest.mark.parametrize("cohort_id", list(STORIES))
def test_departure_reported_not_evaluable(docs, cohort_id):
    # [EVAL]: the per-cohort "not_evaluable" count of status
    assert "not_evaluable" in cohort(docs["2023-03-31"], cohort_id), (
        "status reports no per-cohort not_evaluable")
    bad = _mismatches(docs, cohort_id, ("not_evaluable",))
    assert not bad, f"{STORIES[cohort_id]}; wrong at " + "; ".join(bad)


@pytest.mark.parametrize("cutoff", ["2023-02-21", "2023-03-31"])
def test_replacement_decision_counts_three_evaluable(docs, cutoff):
    # [BOIN] REPL: 1 DLT in 3 evaluable (R-01, R-02, R-04) = 0.333 > 0.2984: de-escalate
    c = cohort(docs[cutoff], "REPL")
    assert c["decision"] == "de-escalate", c["reason"]


@pytest.mark.parametrize("cutoff", ["2023-01-22", "2023-01-23", "2023-03-31"])
def test_fatal_unrelated_event_is_an_sae_not_a_dlt(docs, cutoff):
    # DTH-01's myocardial infarction (AESER Y, grade 5, not related): an SAE from its onset day
    # (2023-01-23), never a DLT (the protocol requires related)
    c = cohort(docs[cutoff], "DTH")
    assert (c["saes"], c["dlts"]) == ((0 if cutoff < "2023-01-23" else 1), 0)
