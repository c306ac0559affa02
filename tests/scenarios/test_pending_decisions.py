"""Scenario SCN-PEND beside SCN-P33: a cohort-based design decides when the cohort's patients are
evaluable, and says so until then; a 3+3 decides at once when 2 DLTs already exceed the MTD.

SCN-PEND  BOIN, target 0.30, cohorts of 3, window 28 days; DL1 P-01 2023-01-09, P-02 01-16,
          P-03 01-23 (09:00), no DLT; windows end 02-05, 02-12, 02-19.
SCN-P33   3+3, two dose levels; DL1 Q-01 2023-01-09 (grade 3 related vomiting on day 3), Q-02
          01-10 (grade 3 related diarrhoea on day 5), Q-03 01-30 (no DLT; window ends 02-26).
Both are delivered in one ingest into one database.

Conventions:
[DUE]  A cohort-based design (Liu & Yuan 2015: "the next cohort" after the current cohort's
       outcomes; Storer 1989) decides once the current cohort's patients are evaluable: until
       then the state is "pending: k of n evaluable, decision due on <the day the last window
       closes>" (no date while patients of the cohort are still to be dosed). The decision enum
       stays "none" then, with pending true.
[BOIN] Liu & Yuan (2015): 0 DLTs in 3 (0 <= 0.2365): escalate.
[3+3]  Storer (1989): 2 or more DLTs in 3 exceed the MTD whatever the third shows: stop at once
       (at dose level 1: no dose level is safe).
[TEXT] `status` prints every rule that is triggered, the accrual pause (TITE-BOIN, Yuan et al.
       2018: more than half of a dose's patients pending) included.
"""

from __future__ import annotations

import pytest

from .sdtm import (
    AE,
    CohortSpec,
    Study,
    Subject,
    check_loaded,
    cohort,
    ingest_together,
    safety,
    status,
    study_of,
)

COHORTS = [CohortSpec("DL1", "Dose level 1", 1, 1.0), CohortSpec("DL2", "Dose level 2", 2, 2.0)]
PEND = Study("SCN-PEND", COHORTS, labs=False, subjects=[
    Subject("P-01", "DL1", "2023-01-09T09:00"),
    Subject("P-02", "DL1", "2023-01-16T09:00"),
    Subject("P-03", "DL1", "2023-01-23T09:00"),
])
P33 = Study("SCN-P33", COHORTS, design="3+3", labs=False, subjects=[
    Subject("Q-01", "DL1", "2023-01-09T09:00", aes=[AE("Vomiting", day=3, grade=3)]),
    Subject("Q-02", "DL1", "2023-01-10T09:00", aes=[AE("Diarrhoea", day=5, grade=3)]),
    Subject("Q-03", "DL1", "2023-01-30T09:00"),
])


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    db, run = ingest_together(tmp_path_factory.mktemp("scn-pend"), PEND, P33)
    check_loaded(run)
    return db


def _rec(db, cutoff, study="SCN-PEND"):
    doc = status(db, cutoff, study=study).json()
    return study_of(doc, study)["recommendation"], cohort(doc, "DL1", study)


def test_pending_until_the_cohort_is_evaluable(db):
    # [DUE] 2023-02-06: P-01 evaluable, P-02 and P-03 in their window; due when P-03's closes
    rec, dl1 = _rec(db, "2023-02-06")
    assert (rec["decision"], rec["pending"], rec["decision_due_on"]) == (
        "none", True, "2023-02-19"), rec["reason"]
    assert rec["reason"] == ("pending: 1 of 3 evaluable at dose level 1 (2 in the DLT window), "
                             "decision due on 2023-02-19")
    assert (dl1["decision"], dl1["pending"], dl1["decision_due_on"]) == ("none", True, "2023-02-19")


def test_no_date_while_patients_are_still_to_be_dosed(db):
    # [DUE] 2023-01-20: P-03 not dosed yet: the day cannot be known, only its earliest
    rec, _ = _rec(db, "2023-01-20")
    assert (rec["pending"], rec["decision_due_on"]) == (True, None)
    assert rec["reason"] == ("pending: 0 of 3 evaluable at dose level 1 (2 in the DLT window, 1 "
                             "not dosed yet), decision due once 3 are evaluable (not before "
                             "2023-02-12)")


def test_decided_when_due(db):
    # [DUE] + [BOIN] on 2023-02-19 P-03's window closes: 0 DLTs in 3, escalate
    rec, dl1 = _rec(db, "2023-02-19")
    assert (rec["decision"], rec["dose_level"], rec["pending"]) == ("escalate", 2, False)
    assert dl1["reason"].startswith("What BOIN would say at this dose: 0 DLTs in 3")


def test_3plus3_stops_at_once_on_two_dlts(db):
    # [3+3] 2023-02-01: have DLTs, Q-03 is on day 3 of her window
    rec, dl1 = _rec(db, "2023-02-01", "SCN-P33")
    assert (rec["decision"], rec["dose_level"], rec["pending"]) == ("stop", None, False), rec
    assert "no dose level is safe" in rec["reason"]


def test_status_text_prints_the_accrual_pause(db):
    # [TEXT] 2023-01-20: 2 of 2 treated at DL1 pending: the accrual pause is triggered
    run = safety("status", "--db", db, "--study", "SCN-PEND", "--cutoff", "2023-01-20")
    assert run.returncode == 0, run.why
    assert "Accrual pause (pending DLT windows), Dose level 1: triggered" in run.stdout, run.stdout
