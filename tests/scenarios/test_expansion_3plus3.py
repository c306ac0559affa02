"""Scenario SCN-EXP beside SCN-NORM: a 3+3 study with 9 evaluable at one dose (an expansion /
backfill cohort) and a normal 3+3 study, delivered together into one database.

SCN-EXP  3+3, two dose levels; DL1: E-01 .. E-09, first doses 2023-01-09 .. 01-17, no DLT.
SCN-NORM 3+3, three dose levels; DL1: N1-01 .. N1-03 (2023-01-09 .. 01-11), no DLT;
         DL2: N2-01 .. N2-03 (2023-02-13 .. 02-15), N2-02 has a grade 3 related DLT on day 6.
All windows (28 days) are over by 2023-03-14; the cut-off is 2023-03-31.

Conventions:
[3+3]  Storer (1989), the classic rule: 0/3 escalate; 1/3 treat 3 more at the same dose (stay);
       1/6 escalate; 2 or more of 3 or 6 exceed the MTD. Nine at one dose is outside those rules
       (9 patients is neither a cohort of 3 nor of 6): the design cannot decide, and says so
       ("outside the 3+3 rules"), for that study only.
[ONE]  One study's failure never hides the others: ingest and status exit 0 for the database,
       and SCN-NORM keeps the decisions it has by [3+3].
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
    status,
    study_of,
)

CUTOFF = "2023-03-31"

EXP = Study("SCN-EXP", [CohortSpec("DL1", "Dose level 1", 1, 1.0),
                        CohortSpec("DL2", "Dose level 2", 2, 2.0)], design="3+3", subjects=[
    Subject(f"E-{i:02d}", "DL1", f"2023-01-{8 + i:02d}T09:00",
            aes=[AE("Headache", day=2, grade=1)] if i % 3 == 0 else [])
    for i in range(1, 10)
])

NORM = Study("SCN-NORM", [CohortSpec("DL1", "Dose level 1", 1, 1.0),
                          CohortSpec("DL2", "Dose level 2", 2, 2.0),
                          CohortSpec("DL3", "Dose level 3", 3, 4.0)], design="3+3", subjects=[
    Subject("N1-01", "DL1", "2023-01-09T09:00"),
    Subject("N1-02", "DL1", "2023-01-10T09:00", aes=[AE("Nausea", day=2, grade=1)]),
    Subject("N1-03", "DL1", "2023-01-11T09:00"),
    Subject("N2-01", "DL2", "2023-02-13T09:00"),
    Subject("N2-02", "DL2", "2023-02-14T09:00", aes=[AE("Neutropenia", day=6, grade=3,
                                                        soc="BLOOD AND LYMPHATIC SYSTEM DISORDERS")]),
    Subject("N2-03", "DL2", "2023-02-15T09:00"),
])


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """(the database of both studies, the run of the one ingest call that loaded them)."""
    return ingest_together(tmp_path_factory.mktemp("scn-exp"), EXP, NORM)


def test_ingest_of_both_studies_succeeds(both):
    # [ONE] every file of both studies loads, and ingest says so with exit status 0
    check_loaded(both[1])


def test_status_of_the_whole_database_exits_0(both):
    # [ONE] a real `python -m safety status` over the database: exit 0, both studies reported
    run = status(both[0], CUTOFF, mode="subprocess")
    assert sorted(s["id"] for s in run.json()["studies"]) == ["SCN-EXP", "SCN-NORM"]


def test_expansion_study_says_it_is_outside_the_3plus3_rules(both):
    # [3+3] nine evaluable at dose level 1: counts as they are, and a decision that says the
    # design cannot decide
    doc = status(both[0], CUTOFF, study="SCN-EXP").json()
    st = study_of(doc, "SCN-EXP")
    dl1 = cohort(doc, "DL1", "SCN-EXP")
    texts = [st["recommendation"]["reason"], *(c["reason"] for c in st["cohorts"])]
    assert (dl1["treated"], dl1["evaluable"], dl1["dlts"]) == (9, 9, 0)
    assert any("outside the 3+3 rules" in t.lower() for t in texts), texts


@pytest.mark.parametrize("study", [None, "SCN-NORM"])
def test_normal_study_keeps_its_decisions(both, study):
    # [ONE] SCN-NORM beside SCN-EXP, in the status of the whole database and in its own:
    # [3+3] DL1 0/3: escalate; DL2 1/3: treat 3 more at the same dose (stay at dose level 2)
    doc = status(both[0], CUTOFF, study=study).json()
    rec = study_of(doc, "SCN-NORM")["recommendation"]
    got = [(c["id"], c["treated"], c["evaluable"], c["dlts"], c["decision"])
           for c in study_of(doc, "SCN-NORM")["cohorts"]]
    assert got == [("DL1", 3, 3, 0, "escalate"), ("DL2", 3, 3, 1, "stay"),
                   ("DL3", 0, 0, 0, "none")]
    assert (rec["decision"], rec["dose_level"]) == ("stay", 2), rec["reason"]
