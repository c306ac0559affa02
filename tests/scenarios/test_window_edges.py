"""Scenario SCN-WIN: the edges of the DLT window and of the first dose, one case a cohort.

Each case is one subject in a cohort of her own, so the cohort's counts are her state. Every
subject gets one grade 3 AE (unless said otherwise) whose only question is: is it a DLT?

Protocol (the study configuration written below): DLT window 28 days; a DLT is an AE that starts
inside the window with CTCAE grade >= 3 related to study drug (AEREL RELATED / PROBABLY /
POSSIBLY RELATED), or an always-DLT term (Anaphylactic reaction), never an excluded term
(Procedural pain). Conventions, cited beside the cases:

[DY]   SDTMIG 3.x --DY: the first dose day (RFXSTDTC) is day 1, the day before is day -1, no day 0.
[WIN]  A window of 28 days is days 1..28 inclusive (first dose date .. first dose date + 27).
       A subject without DLT is evaluable once the cut-off reaches her day 28; pending before.
[TIME] When both the AE start and the first dose carry a time, compare date-times: an AE at
       07:00 on the day of a 09:30 first dose began before treatment. When either has only a
       date, compare dates (same day = on treatment, conservative). ICH E2A / E9: an event is
       treatment-emergent when it starts on or after the first dose.
[PART] A partial AESTDTC counts as on treatment unless its known part proves it began before
       the first dose (the product's README; admiral derive_vars_dt(min_dates = TRTSDT)).
[REL]  A blank AEREL counts as related (the product's README: conservative safety convention).
"""

from __future__ import annotations

import pytest

from .sdtm import AE, CohortSpec, Study, Subject, cohort, status_doc

DOSE = "2023-01-09T09:30"  # every case's first dose (a Monday), unless the case says otherwise
# [DY]/[WIN]: day 1 = 2023-01-09, day 27 = 2023-02-04, day 28 = 2023-02-05, day 29 = 2023-02-06.
DAY1, DAY27, DAY28, DAY29, LATE = "2023-01-09", "2023-02-04", "2023-02-05", "2023-02-06", "2023-03-10"

# case -> (first dose, the AE, is it a DLT, why)
CASES = {
    "D28": (DOSE, AE("Diarrhoea", day=28, grade=3), True,
            "[WIN] onset on day 28 (2023-02-05) is inside a 28-day window"),
    "D29": (DOSE, AE("Diarrhoea", day=29, grade=3), False,
            "[WIN] onset on day 29 (2023-02-06) is outside the window"),
    "PRE0700": (DOSE, AE("Vomiting", day=1, at="07:00", grade=3), False,
                "[TIME] 07:00 on the day of a 09:30 first dose: before treatment"),
    "POST1100": (DOSE, AE("Vomiting", day=1, at="11:00", grade=3), True,
                 "[TIME] 11:00 on the day of a 09:30 first dose: on treatment, day 1"),
    "DOSEDATE": ("2023-01-09", AE("Vomiting", day=1, at="07:00", grade=3), True,
                 "[TIME] first dose without a time: compare dates, same day = on treatment"),
    "AEDATE": (DOSE, AE("Vomiting", day=1, grade=3), True,
               "[TIME] AE start without a time: compare dates, same day = on treatment"),
    "DAYM1": (DOSE, AE("Vomiting", day=-1, at="20:00", grade=3), False,
              "[DY] day -1 (2023-01-08) is the day before the first dose"),
    "PARTIN": (DOSE, AE("Vomiting", dtc="2023-01", grade=3), True,
               "[PART] 2023-01 may have started on or after 2023-01-09: on treatment"),
    "PARTPRE": (DOSE, AE("Vomiting", dtc="2022-12", grade=3), False,
                "[PART] 2022-12 proves the onset precedes the first dose"),
    "BLANKREL": (DOSE, AE("Hypertension", day=5, grade=3, rel=None), True,
                 "[REL] grade 3 with blank causality counts as related"),
    "UNREL": (DOSE, AE("Hypertension", day=5, grade=4, rel="NOT RELATED"), False,
              "grade 4 but not related: the protocol requires related"),
    "ALWAYS": (DOSE, AE("Anaphylactic reaction", day=2, grade=2, rel="NOT RELATED"), True,
               "always-DLT term, whatever grade and causality"),
    "EXCL": (DOSE, AE("Procedural pain", day=1, at="12:00", grade=3), False,
             "excluded term: never a DLT"),
}

STUDY = Study(
    "SCN-WIN",
    cohorts=[CohortSpec(case, f"Case {case}", level, float(level))
             for level, case in enumerate(CASES, start=1)],
    labs=False,  # no lab is needed here; fewer files keep the suite fast
    subjects=[Subject(f"{case}-01", case, first_dose, aes=[ae])
              for case, (first_dose, ae, _, _) in CASES.items()],
)


@pytest.fixture(scope="module")
def docs(build) -> dict[str, dict]:
    db = build(STUDY)
    return {c: status_doc(db, c) for c in (DAY1, DAY27, DAY28, DAY29, LATE)}


def _state(doc: dict, case: str) -> dict:
    c = cohort(doc, case)
    return {k: c[k] for k in ("treated", "in_dlt_window", "evaluable", "dlts")}


@pytest.mark.parametrize("case", list(CASES))
def test_dlt_or_not_once_the_window_is_over(docs, case):
    first_dose, ae, is_dlt, why = CASES[case]
    # at 2023-03-10 every window (2023-01-09 .. 2023-02-05) is over: evaluable, with or without DLT
    expected = {"treated": 1, "in_dlt_window": 0, "evaluable": 1, "dlts": int(is_dlt)}
    assert _state(docs[LATE], case) == expected, why


@pytest.mark.parametrize("case, cutoff, expected", [
    # [WIN] onset day 28: still pending on day 27, DLT (evaluable) on day 28
    ("D28", DAY27, {"treated": 1, "in_dlt_window": 1, "evaluable": 0, "dlts": 0}),
    ("D28", DAY28, {"treated": 1, "in_dlt_window": 0, "evaluable": 1, "dlts": 1}),
    # [WIN] no DLT in days 1..28: pending on day 27, evaluable without DLT on day 28; the day-29
    # event changes nothing
    ("D29", DAY27, {"treated": 1, "in_dlt_window": 1, "evaluable": 0, "dlts": 0}),
    ("D29", DAY28, {"treated": 1, "in_dlt_window": 0, "evaluable": 1, "dlts": 0}),
    ("D29", DAY29, {"treated": 1, "in_dlt_window": 0, "evaluable": 1, "dlts": 0}),
    # [TIME] on the day of the first dose
    ("PRE0700", DAY1, {"treated": 1, "in_dlt_window": 1, "evaluable": 0, "dlts": 0}),
    ("POST1100", DAY1, {"treated": 1, "in_dlt_window": 0, "evaluable": 1, "dlts": 1}),
    ("DOSEDATE", DAY1, {"treated": 1, "in_dlt_window": 0, "evaluable": 1, "dlts": 1}),
    ("AEDATE", DAY1, {"treated": 1, "in_dlt_window": 0, "evaluable": 1, "dlts": 1}),
    # [DY] the day-before event never makes a DLT, so on day 1 she is pending
    ("DAYM1", DAY1, {"treated": 1, "in_dlt_window": 1, "evaluable": 0, "dlts": 0}),
])
def test_state_on_the_edge_days(docs, case, cutoff, expected):
    assert _state(docs[cutoff], case) == expected, CASES[case][3]
