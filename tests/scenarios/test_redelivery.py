"""Scenario SCN-FIX: a corrected re-delivery of AE turns a grade 3 into a grade 2.

BOIN, target 0.30, three dose levels, DLT window 28 days. First doses at 09:00.

DL1  F1-01 2023-01-09, F1-02 01-10, F1-03 01-11: no DLT
DL2  F2-01 2023-02-13: grade 3 related vomiting on day 4 (02-16): DLT
     F2-02 2023-02-14: hypertension on day 9 (02-22), related, delivered as grade 3 (a DLT);
                       the site corrects it to grade 2 in the next export
     F2-03 2023-02-15: no DLT
All windows are over on 2023-03-14; the cut-off is 2023-03-31.

Delivery 1: DM, DS, EX, AE, LB. Delivery 2: AE only, the EDC's next cumulative export: the same
records with the same keys (USUBJID + AESEQ), F2-02's grade now 2, plus a new grade 1 arthralgia
of F1-01 on day 60.

Conventions:
[CUT]  EDC exports are cumulative: a new delivery of a domain replaces the earlier one (the
       product's README, "Live demo deliveries are cumulative"; records keep their keys).
[HOLD] A cumulative delivery that would make a DLT candidate disappear is held until a data
       manager confirms it with a reason and her electronic signature (issue 14's default
       tolerance; README "Deliveries"): the correction counts only once confirmed.
[BOIN] Liu & Yuan (2015), target 0.30: lambda_e 0.2365, lambda_d 0.3585. Before the correction
       DL2 has 2 DLTs in 3 (0.667 > 0.3585): de-escalate to dose level 1 (P(Beta(3,2) > 0.3) =
       0.92 < 0.95: not eliminated). After it, 1 in 3 (0.333, in [0.2365, 0.3585]): stay at 2.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from .sdtm import (
    AE,
    CohortSpec,
    Study,
    Subject,
    check_loaded,
    cohort,
    ingest,
    safety,
    status_doc,
)

CUTOFF = "2023-03-31"
COHORTS = [CohortSpec("DL1", "Dose level 1", 1, 1.0), CohortSpec("DL2", "Dose level 2", 2, 2.0),
           CohortSpec("DL3", "Dose level 3", 3, 4.0)]
HYPERTENSION = AE("Hypertension", day=9, grade=3, soc="VASCULAR DISORDERS")

FIRST = Study("SCN-FIX", COHORTS, subjects=[
    Subject("F1-01", "DL1", "2023-01-09T09:00", aes=[AE("Headache", day=2, grade=1)]),
    Subject("F1-02", "DL1", "2023-01-10T09:00"),
    Subject("F1-03", "DL1", "2023-01-11T09:00"),
    Subject("F2-01", "DL2", "2023-02-13T09:00", aes=[AE("Vomiting", day=4, grade=3)]),
    Subject("F2-02", "DL2", "2023-02-14T09:00", aes=[HYPERTENSION]),
    Subject("F2-03", "DL2", "2023-02-15T09:00", aes=[AE("Fatigue", day=3, grade=1)]),
])


def _corrected(study: Study) -> Study:
    subjects = []
    for s in study.subjects:
        if s.sid == "F2-02":
            s = replace(s, aes=[replace(HYPERTENSION, grade=2)])
        if s.sid == "F1-01":
            s = replace(s, aes=[*s.aes, AE("Arthralgia", day=60, grade=1,
                                           soc="MUSCULOSKELETAL AND CONNECTIVE TISSUE DISORDERS")])
        subjects.append(s)
    return replace(study, subjects=subjects)


SECOND = _corrected(FIRST)


SIGNATURE_PASSWORD = "demo-signature"  # the OS account's, in the demo's data/access.toml


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory):
    """[(run, status at the cut-off)] after delivery 1, after delivery 2 (held), and after its
    confirmation."""
    folder = tmp_path_factory.mktemp("scn-fix")
    cfg, db = folder / "studies", folder / "safety.duckdb"
    FIRST.write_config(cfg)
    first = ingest(db, *FIRST.write(folder / "delivery-1", ("DM", "DS", "EX", "AE", "LB")),
                   studies_dir=cfg)
    out = [(first, status_doc(db, CUTOFF) if first.returncode == 0 else None)]
    second = ingest(db, *SECOND.write(folder / "delivery-2", ("AE",)), studies_dir=cfg)
    out.append((second, status_doc(db, CUTOFF)))
    held = json.loads(second.stdout)["batches"][0] if second.stdout else {}
    confirmed = safety("ingest", "--confirm", held.get("hold_id", 0), "--reason",
                       "the site corrected the grade in the EDC", "--db", db, "--json",
                       studies_dir=cfg, input=f"{SIGNATURE_PASSWORD}\n")
    out.append((confirmed, status_doc(db, CUTOFF) if confirmed.returncode == 0 else None))
    return out


def test_the_correction_is_held_then_confirmed(deliveries):
    check_loaded(deliveries[0][0])
    # [HOLD] the second export would remove F2-02's DLT candidate: held, nothing changed yet
    second = deliveries[1][0]
    (batch,) = json.loads(second.stdout)["batches"]
    assert (second.returncode, batch["status"]) == (2, "held"), second.why
    assert [(d["usubjid"], d["term"]) for d in batch["comparison"]["removed"]["dlts"]] == [
        ("SCN-FIX-F2-02", "Hypertension")]
    assert cohort(deliveries[1][1], "DL2")["dlts"] == 2
    check_loaded(deliveries[2][0])


def test_before_the_correction(deliveries):
    # [BOIN] 2 DLTs in 3 at DL2: de-escalate to dose level 1
    doc = deliveries[0][1]
    c, rec = cohort(doc, "DL2"), doc["studies"][0]["recommendation"]
    assert (c["dlts"], c["evaluable"], c["decision"], rec["decision"], rec["dose_level"]) == (
        2, 3, "de-escalate", "de-escalate", 1), rec["reason"]


def test_corrected_grade_removes_the_dlt(deliveries):
    # [CUT] the second AE export replaces the first: F2-02's hypertension is grade 2, no DLT
    c = cohort(deliveries[2][1], "DL2")
    assert (c["treated"], c["evaluable"], c["dlts"]) == (3, 3, 1)


def test_decision_follows_the_correction(deliveries):
    # [BOIN] 1 DLT in 3 at DL2: stay at dose level 2
    doc = deliveries[2][1]
    c, rec = cohort(doc, "DL2"), doc["studies"][0]["recommendation"]
    assert (c["decision"], rec["decision"], rec["dose_level"]) == ("stay", "stay", 2), rec["reason"]


def test_new_record_of_the_cumulative_export_counts(deliveries):
    # [CUT] F1-01's new arthralgia (grade 1, day 60) is there, and changes no DLT count at DL1
    c = cohort(deliveries[2][1], "DL1")
    assert (c["treated"], c["evaluable"], c["dlts"], c["decision"]) == (3, 3, 0, "escalate")
