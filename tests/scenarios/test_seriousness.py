"""Scenario SCN-SER: seriousness criteria and fatal outcomes as SDTM records them.

BOIN, target 0.30, DLT window 28 days; one case a cohort, all first doses 2023-01-09 09:00; the
cut-off 2023-03-31 is after every event. Every event is unrelated (so never a DLT) except FATALNG.

Conventions:
[SER]   SDTMIG 3.x AE: AESER is "Y" when any of the seriousness criteria AESDTH (results in
        death), AESHOSP (hospitalisation), AESLIFE (life threatening), AESDISAB (disability),
        AESCONG (congenital anomaly), AESMIE (other medically important) is "Y" (ICH E2A). A
        record with AESER = N and a criterion = Y is inconsistent: it is kept as delivered (it
        loads) and counts as serious.
[GR5]   CTCAE v5.0: grade 5 is death related to the AE. A fatal outcome (AEOUT = FATAL or
        AESDTH = Y) without AETOXGR / AESEV is grade 5.
[DLT]   The protocol: grade >= 3 and related, inside days 1..28, is a DLT.
"""

from __future__ import annotations

import pytest

from .sdtm import AE, CohortSpec, Left, Study, Subject, check_loaded, cohort, ingest, status_doc

DOSE = "2023-01-09T09:00"
CUTOFF = "2023-03-31"
UNREL = "NOT RELATED"

# case -> (the AE, death day or None, serious?, why)
CASES = {
    "SDTH": (AE("Sudden death", day=12, grade=5, rel=UNREL, ser="N", sdth="Y", outcome="FATAL",
                soc="GENERAL DISORDERS AND ADMINISTRATION SITE CONDITIONS"), 12, True,
             "[SER] AESER N but AESDTH Y (results in death): serious"),
    "SHOSP": (AE("Pneumonia", day=10, grade=2, rel=UNREL, ser="N", shosp="Y",
                 soc="INFECTIONS AND INFESTATIONS"), None, True,
              "[SER] AESER N but AESHOSP Y (hospitalisation): serious"),
    "SLIFE": (AE("Pulmonary embolism", day=9, grade=4, rel=UNREL, ser="N", slife="Y",
                 soc="VASCULAR DISORDERS"), None, True,
              "[SER] AESER N but AESLIFE Y (life threatening): serious"),
    "SDISAB": (AE("Deafness", day=14, grade=3, rel=UNREL, ser="N", sdisab="Y",
                  soc="EAR AND LABYRINTH DISORDERS"), None, True,
               "[SER] AESER N but AESDISAB Y (disability): serious"),
    "SCONG": (AE("Congenital anomaly", day=20, grade=3, rel=UNREL, ser="N", scong="Y",
                 soc="CONGENITAL, FAMILIAL AND GENETIC DISORDERS"), None, True,
              "[SER] AESER N but AESCONG Y (congenital anomaly): serious"),
    "SMIE": (AE("Seizure", day=7, grade=2, rel=UNREL, ser="N", smie="Y",
                soc="NERVOUS SYSTEM DISORDERS"), None, True,
             "[SER] AESER N but AESMIE Y (medically important): serious"),
    "NOTSER": (AE("Back pain", day=5, grade=3, rel=UNREL, ser="N",
                  soc="MUSCULOSKELETAL AND CONNECTIVE TISSUE DISORDERS"), None, False,
               "[SER] AESER N and no criterion: not serious"),
    "FATALNG": (AE("Cardiac arrest", day=10, grade=None, rel="RELATED", ser="Y", sdth="Y",
                   outcome="FATAL", soc="CARDIAC DISORDERS"), 10, True,
                "[SER] AESER Y: serious"),
}

STUDY = Study(
    "SCN-SER",
    cohorts=[CohortSpec(case, f"Case {case}", level, float(level))
             for level, case in enumerate(CASES, start=1)],
    labs=False,  # no lab is needed here; fewer files keep the suite fast
    subjects=[Subject(f"{case}-01", case, DOSE, aes=[ae], died_day=died,
                      left=Left("DEATH", died) if died else None)
              for case, (ae, died, _, _) in CASES.items()],
)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """(the ingest run, the status at the cut-off)."""
    folder = tmp_path_factory.mktemp("scn-ser")
    STUDY.write_config(folder / "studies")
    files = STUDY.write(folder / "sdtm")
    run = ingest(folder / "safety.duckdb", *files, studies_dir=folder / "studies")
    return run, status_doc(folder / "safety.duckdb", CUTOFF)


def test_inconsistent_records_are_kept_as_delivered(loaded):
    # [SER] AESER = N with a criterion = Y is a data-quality finding, not a reason to quarantine
    check_loaded(loaded[0])


@pytest.mark.parametrize("case", list(CASES))
def test_serious_by_any_criterion(loaded, case):
    ae, _, serious, why = CASES[case]
    assert cohort(loaded[1], case)["saes"] == int(serious), why


def test_fatal_event_without_grade_is_grade_5_and_a_dlt(loaded):
    # [GR5] + [DLT]: the related fatal cardiac arrest on day 10, delivered without AETOXGR or
    # AESEV, is grade 5 >= 3 and related: a DLT, so FATALNG-01 is evaluable with a DLT
    c = cohort(loaded[1], "FATALNG")
    assert (c["dlts"], c["evaluable"]) == (1, 1)
