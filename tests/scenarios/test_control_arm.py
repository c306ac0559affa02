"""Scenario SCN-CTL: severe related events and an always-DLT term in the control arm.

BOIN, target 0.30, a concurrent vehicle control (CTRL) beside two dose levels; the protocol's
stopping rules of the demo study (hard stop on teratoma, 2 DLTs in the first 3 at a dose, lowest
dose too toxic, maximum 12 subjects, 6 at a dose). First doses at 09:00.

DL1   C1-01 2023-01-09, C1-02 01-10, C1-03 01-11: no DLT
DL2   C2-01 2023-02-13, C2-02 02-14 (grade 3 related vomiting on day 7: DLT), C2-03 02-15
CTRL  K-01 2023-01-09, K-02 01-10, K-03 02-13, K-04 02-14 (vehicle)

The same study is delivered twice, into two databases:
- "with": K-01 has a grade 4 related acute kidney injury on day 4 (serious: AESER Y, AESHOSP Y)
  and K-03 an anaphylactic reaction (an always-DLT term) on day 1 at 10:15, grade 3, possibly
  related, serious (AESLIFE Y);
- "without": the same minus those two events.

Conventions:
[CTRL] The DLT rule applies to the dose cohorts (a DLT is a toxicity of a dose); control
       subjects never have DLTs (dlts = 0 at every cut-off) but their AEs count in every AE
       analysis (saes).
[SAME] Decisions never change when only control data change: every dose cohort and the
       recommendation are identical with and without the control events.
[BOIN] Liu & Yuan (2015), target 0.30: lambda_e 0.2365, lambda_d 0.3585. DL1 0/3: escalate;
       DL2 1/3 = 0.333: stay.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from .sdtm import AE, CohortSpec, Study, Subject, cohort, status_doc

COHORTS = [CohortSpec("CTRL", "Control (vehicle)", None),
           CohortSpec("DL1", "Dose level 1", 1, 1.0), CohortSpec("DL2", "Dose level 2", 2, 2.0)]

RULES = """
[[stopping_rules]]
kind = "hard_stop_terms"
name = "Teratoma"
terms = ["Teratoma"]

[[stopping_rules]]
kind = "k_of_first_n"
name = "2 DLTs in the first 3 at a dose"
k = 2
n = 3

[[stopping_rules]]
kind = "too_toxic"
name = "Lowest dose too toxic"
certainty = 0.95

[[stopping_rules]]
kind = "max_subjects"
name = "Maximum sample size"
n = 12

[[stopping_rules]]
kind = "max_at_dose"
name = "Enough subjects at the recommended dose"
n = 6
"""

CONTROL_EVENTS = {
    "K-01": AE("Acute kidney injury", day=4, grade=4, rel="RELATED", ser="Y", shosp="Y",
               soc="RENAL AND URINARY DISORDERS"),
    "K-03": AE("Anaphylactic reaction", day=1, at="10:15", grade=3, rel="POSSIBLY RELATED",
               ser="Y", slife="Y", soc="IMMUNE SYSTEM DISORDERS"),
}


def _study(with_control_events: bool) -> Study:
    def control(sid: str, dose: str, aes: list[AE]) -> Subject:
        if with_control_events and sid in CONTROL_EVENTS:
            aes = [*aes, CONTROL_EVENTS[sid]]
        return Subject(sid, "CTRL", dose, aes=aes)

    return Study("SCN-CTL", COHORTS, stopping_rules=RULES, labs=False, subjects=[
        Subject("C1-01", "DL1", "2023-01-09T09:00", aes=[AE("Headache", day=2, grade=1)]),
        Subject("C1-02", "DL1", "2023-01-10T09:00"),
        Subject("C1-03", "DL1", "2023-01-11T09:00", aes=[AE("Nausea", day=3, grade=2)]),
        Subject("C2-01", "DL2", "2023-02-13T09:00"),
        Subject("C2-02", "DL2", "2023-02-14T09:00", aes=[AE("Vomiting", day=7, grade=3)]),
        Subject("C2-03", "DL2", "2023-02-15T09:00", aes=[AE("Fatigue", day=5, grade=1)]),
        control("K-01", "2023-01-09T09:00", []),
        control("K-02", "2023-01-10T09:00", [AE("Headache", day=2, grade=1)]),
        control("K-03", "2023-02-13T09:00", []),
        control("K-04", "2023-02-14T09:00", [AE("Injection site pain", day=1, at="12:00",
                                                 grade=1)]),
    ])


STUDY = {"with": _study(True), "without": _study(False)}
# every 10th day from the first dose (2023-01-09) to well after the last window (2023-03-14)
CUTOFFS = [date(2023, 1, 9) + timedelta(days=d) for d in range(0, 111, 10)] + [date(2023, 4, 30)]
FINAL = date(2023, 4, 30)


@pytest.fixture(scope="module")
def docs(build) -> dict[str, dict[date, dict]]:
    out = {}
    for variant in ("with", "without"):
        db = build(STUDY[variant], f"SCN-CTL-{variant}")
        out[variant] = {c: status_doc(db, c) for c in CUTOFFS}
    return out


@pytest.mark.parametrize("variant", ["with", "without"])
def test_control_never_has_dlts(docs, variant):
    # [CTRL] control dlts = 0 at every cut-off
    bad = [f"{c}: {cohort(d, 'CTRL')['dlts']}" for c, d in docs[variant].items()
           if cohort(d, "CTRL")["dlts"] != 0]
    assert not bad, "control cohort with DLTs at " + ", ".join(bad)


def test_control_events_count_as_saes(docs):
    # [CTRL] both control events are serious (AESER Y): 2 SAEs with them, none without
    assert (cohort(docs["with"][FINAL], "CTRL")["saes"],
            cohort(docs["without"][FINAL], "CTRL")["saes"]) == (2, 0)


def test_dose_decisions_at_the_end(docs):
    # [BOIN] DL1 0/3 escalate, DL2 1/3 stay; recommendation: stay at dose level 2
    doc = docs["with"][FINAL]
    rec = doc["studies"][0]["recommendation"]
    assert (cohort(doc, "DL1")["decision"], cohort(doc, "DL2")["decision"], rec["decision"],
            rec["dose_level"]) == ("escalate", "stay", "stay", 2), rec["reason"]


def test_decisions_do_not_depend_on_control_data(docs):
    # [SAME] every dose cohort, the recommendation, the study rules and the outcomes are the same
    # with and without the control events, at every cut-off
    bad = []
    for c in CUTOFFS:
        a, b = docs["with"][c]["studies"][0], docs["without"][c]["studies"][0]
        for key in ("recommendation", "outcomes", "rules"):
            if a.get(key) != b.get(key):
                bad.append(f"{c} {key}: {a.get(key)} vs {b.get(key)}")
        for cid in ("DL1", "DL2"):
            ca, cb = cohort(docs["with"][c], cid), cohort(docs["without"][c], cid)
            diff = sorted(k for k in set(ca) | set(cb) if ca.get(k) != cb.get(k))
            if diff:
                bad.append(f"{c} {cid}: " + ", ".join(f"{k} {ca.get(k)} vs {cb.get(k)}"
                                                      for k in diff))
    assert not bad, "control events changed: " + "; ".join(bad[:6])
