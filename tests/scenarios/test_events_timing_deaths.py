"""Scenario SCN-EVT: serious events on the dosing day (time of day decides treatment-emergence)
and deaths as SDTM records them.

BOIN, target 0.30, DLT window 28 days; one case a cohort, one subject each; the cut-off
2023-03-31 is after every event. The serious events below are unrelated grade 2 (never DLTs),
so the only question is whether they are treatment-emergent, i.e. counted as SAEs.

TEAE timing (first dose 2023-01-09 09:30 unless said otherwise):
PRE      serious AE at 07:00 on day 1
POST     serious AE at 11:00 on day 1
AEDATE   serious AE on day 1 without a time
DOSEDATE first dose 2023-01-09 without a time; serious AE at 07:00 on day 1
DAYM1    serious AE on day -1 at 20:00

Deaths (first dose 2023-01-09 09:00):
FAT      sudden death on day 20: AESER N, AESDTH Y, AEOUT FATAL, AESEV SEVERE, no AETOXGR, not
         related (the CDISC pilot's records look like this); DM DTHDTC and DS DEATH on day 20
FATREL   the same, related (AEREL RELATED), on day 12
DMONLY   DM DTHDTC and DS DEATH on day 40, no adverse event recorded

Conventions:
[TEAE] ICH E9 (1998) 7.2.2, admiral derive_var_trtemfl: treatment-emergent when the onset is on
       or after the first dose; with a time on both sides the date-times decide, otherwise the
       dates (same day = on treatment, conservative). The same rule as the DLT window's start.
[SER]  SDTMIG 3.x AE / ICH E2A: a seriousness criterion (AESDTH ...) makes the event serious
       whatever AESER says.
[GR5]  CTCAE v5.0: grade 5 is death related to the AE; a fatal outcome without AETOXGR is grade
       5, whatever AESEV says.
[DLT]  The protocol: grade >= 3 related in days 1..28 is a DLT; a death without a DLT before the
       window ends makes the patient not evaluable (typical phase 1 protocol).
[DTH]  A death counts from its date (DM.DTHDTC / DS DEATH), in the safety analysis set.
"""

from __future__ import annotations

import pytest

from .sdtm import AE, CohortSpec, Left, Study, Subject, cohort, counts, status_doc

CUTOFF = "2023-03-31"
SAE = dict(grade=2, rel="NOT RELATED", ser="Y", shosp="Y", soc="INFECTIONS AND INFESTATIONS")
TIMING = {  # case -> (first dose, the serious AE, is it treatment-emergent, why)
    "PRE": ("2023-01-09T09:30", AE("Pneumonia", day=1, at="07:00", **SAE), False,
            "[TEAE] 07:00 before a 09:30 first dose: not treatment-emergent"),
    "POST": ("2023-01-09T09:30", AE("Pneumonia", day=1, at="11:00", **SAE), True,
             "[TEAE] 11:00 after a 09:30 first dose"),
    "AEDATE": ("2023-01-09T09:30", AE("Pneumonia", day=1, **SAE), True,
               "[TEAE] onset without a time: the same day counts as on treatment"),
    "DOSEDATE": ("2023-01-09", AE("Pneumonia", day=1, at="07:00", **SAE), True,
                 "[TEAE] first dose without a time: the same day counts as on treatment"),
    "DAYM1": ("2023-01-09T09:30", AE("Pneumonia", day=-1, at="20:00", **SAE), False,
              "[TEAE] the day before the first dose"),
}
FATAL = dict(grade=None, sev="SEVERE", ser="N", sdth="Y", outcome="FATAL", soc="CARDIAC DISORDERS")
DOSE = "2023-01-09T09:00"
STUDY = Study(
    "SCN-EVT",
    cohorts=[CohortSpec(c, f"Case {c}", level, float(level)) for level, c in
             enumerate([*TIMING, "FAT", "FATREL", "DMONLY"], start=1)],
    labs=False,
    subjects=[
        *(Subject(f"{case}-01", case, first, aes=[ae])
          for case, (first, ae, _, _) in TIMING.items()),
        Subject("FAT-01", "FAT", DOSE, died_day=20, left=Left("DEATH", 20),
                aes=[AE("Sudden death", day=20, rel="NOT RELATED", **FATAL)]),
        Subject("FATREL-01", "FATREL", DOSE, died_day=12, left=Left("DEATH", 12),
                aes=[AE("Cardiac arrest", day=12, rel="RELATED", **FATAL)]),
        Subject("DMONLY-01", "DMONLY", DOSE, died_day=40, left=Left("DEATH", 40)),
    ],
)


@pytest.fixture(scope="module")
def db(build):
    return build(STUDY)


@pytest.mark.parametrize("case", list(TIMING))
def test_serious_event_counts_when_treatment_emergent(db, case):
    _, _, emergent, why = TIMING[case]
    assert cohort(status_doc(db, CUTOFF), case)["saes"] == int(emergent), why


@pytest.mark.parametrize("case, truth", [
    # [SER] + [GR5] + [DTH]: serious and fatal; unrelated: no DLT; [DLT] died on day 20 < 28
    ("FAT", dict(saes=1, deaths=1, dlts=0, evaluable=0, not_evaluable=1)),
    # [GR5] + [DLT]: grade 5 related on day 12: a DLT, so evaluable (with DLT)
    ("FATREL", dict(saes=1, deaths=1, dlts=1, evaluable=1, not_evaluable=0)),
    # [DTH]: a death on day 40 (after the window, no AE): a death, no SAE, evaluable
    ("DMONLY", dict(saes=0, deaths=1, dlts=0, evaluable=1, not_evaluable=0)),
])
def test_deaths(db, case, truth):
    assert counts(cohort(status_doc(db, CUTOFF), case), list(truth)) == truth


def test_a_death_counts_from_its_date(db):
    # [DTH] on 2023-02-17 (day 40 is 2023-02-17) DMONLY-01 has died; the day before not yet
    assert [cohort(status_doc(db, c), "DMONLY")["deaths"] for c in ("2023-02-16", "2023-02-17")
            ] == [0, 1]
