"""Invariants of the cohort status, checked at many cut-offs of five studies.

Studies: two scenario studies (SCN-WD and SCN-DEP, whose patients leave inside their windows;
SCN-CTL checks its control cohort at its own cut-offs), the demo
built by ``python -m safety demo``, and the CDISC pilot (tests/data/cdiscpilot01: DM, DS, EX, AE
as CSV) in a database of its own. Each is walked from its first dose to 30 days after its last
record (the study's own data cut-off), every few days (SCENARIO_STRIDE below) to keep the suite
fast; every ``status`` is one CLI call.

Invariants, at every cut-off:
- partition: for a dose cohort, evaluable + in_dlt_window + not_evaluable = treated. The three
  states of a treated patient (window complete or DLT / window open / can never be evaluated)
  partition the treated; "evaluable" includes the patients with a DLT (protocol replacement
  rules, e.g. "patients who discontinue before completing the DLT period for reasons other than
  a DLT are not evaluable").
- control_no_dlts: the DLT rule applies to dose cohorts only: control dlts = 0.
- dlts_within_evaluable: a patient with a DLT is evaluable: dlts <= evaluable.
- treated_within_subjects: treated <= subjects.
- treated_never_decreases: a patient dosed by a cut-off is dosed by every later one.
- evaluable_never_decreases: a patient counted evaluable stays evaluable.
- never_back_to_pending: nobody returns to the DLT window: in_dlt_window grows only by newly
  treated patients.
- treated_is_dosed_by_cutoff: "the same N for the same question": treated = the cohort's
  subjects whose first dose (DM.RFXSTDTC) is on or before the cut-off, counted from the
  delivered DM (scenario studies and the pilot; the demo has no files).
- reasons_never_blank: every decision reason and every rule's detail says something.
- pending_means_no_decision: a pending decision is "none" (the enum keeps its values) and a
  decided one is not pending.
- decisions_ignore_control_data (demo, pilot): the same database with the control arm's adverse
  events and labs deleted gives the same outcomes, recommendation, study rules and dose cohorts
  at every cut-off (the DLT rule and the designs read the dose cohorts only).
- pilot_deaths: the CDISC pilot's 3 deaths (DTHFL Y; AESER N with AESDTH Y) count as deaths and
  as serious adverse events in their cohorts (SDTMIG 3.x AE seriousness criteria).
"""

from __future__ import annotations

import csv
import shutil
import tomllib
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from . import test_departures, test_withdrawal
from .sdtm import PILOT_DIR, ROOT, Study, cohort, parse_dtc, status_doc

DEMO_CONFIG = ROOT / "data" / "studies" / "nct04232592.toml"
PILOT_CONFIG = ROOT / "data" / "studies" / "cdiscpilot01.toml"
SCENARIO_STRIDE, DEMO_STRIDE, PILOT_STRIDE = 5, 21, 60  # days between cut-offs (test time:
# the edge days of each scenario are checked in its own module)
AFTER_LAST_RECORD = 30  # days walked past the study's own data cut-off

SCENARIOS: dict[str, tuple[Study, str | None]] = {
    "SCN-WD": (test_withdrawal.STUDY, None),
    "SCN-DEP": (test_departures.STUDY, None),
}


class Walk:
    """A study's status documents over a range of cut-offs, with what its DM says."""

    def __init__(
        self,
        name: str,
        db: Path,
        start: date,
        stride: int,
        dosed: Callable[[date], dict[str, int]] | None,
    ):
        self.name, self.db, self.dosed = name, db, dosed
        last = date.fromisoformat(status_doc(db)["studies"][0]["cutoff"])
        end = last + timedelta(days=AFTER_LAST_RECORD)
        days = [start + timedelta(days=d) for d in range(0, (end - start).days + 1, stride)]
        if days[-1] != end:
            days.append(end)
        self.docs = [(c, status_doc(db, c)) for c in days]

    def cohorts(self):
        """(cut-off, cohort) for every cohort at every cut-off."""
        for cutoff, doc in self.docs:
            for c in doc["studies"][0]["cohorts"]:
                yield cutoff, c

    def pairs(self):
        """(cut-off, cohort, the same cohort at the previous cut-off)."""
        for (_, d0), (c1, d1) in zip(self.docs, self.docs[1:], strict=False):
            before = {c["id"]: c for c in d0["studies"][0]["cohorts"]}
            for c in d1["studies"][0]["cohorts"]:
                yield c1, c, before[c["id"]]


def _scenario_dosed(study: Study) -> Callable[[date], dict[str, int]]:
    def dosed(cutoff: date) -> dict[str, int]:
        n = {c.cid: 0 for c in study.cohorts}
        for s in study.subjects:
            if s.first_dose and parse_dtc(s.first_dose).date() <= cutoff:
                n[s.arm] += 1
        return n

    return dosed


def _pilot_dosed() -> Callable[[date], dict[str, int]]:
    config = tomllib.loads(PILOT_CONFIG.read_text(encoding="utf-8"))
    arm_to_cohort = {
        code.upper(): c["id"] for c in config["cohorts"] for code in c.get("arm_codes", [c["id"]])
    }
    with (PILOT_DIR / "dm.csv").open(encoding="utf-8") as fh:
        rows = [
            (arm_to_cohort.get(r["ARMCD"].upper()), r["RFXSTDTC"][:10]) for r in csv.DictReader(fh)
        ]
    dosed_rows = [(cid, date.fromisoformat(d)) for cid, d in rows if cid and d]

    def dosed(cutoff: date) -> dict[str, int]:
        n = {c["id"]: 0 for c in config["cohorts"]}
        for cid, first in dosed_rows:
            n[cid] += first <= cutoff
        return n

    return dosed


@pytest.fixture(scope="session")
def walks(build, demo_db, pilot_db) -> Callable[[str], Walk]:
    cache: dict[str, Walk] = {}

    def walk(name: str) -> Walk:
        if name in cache:
            return cache[name]
        if name in SCENARIOS:
            study, key = SCENARIOS[name]
            start = min(parse_dtc(s.first_dose).date() for s in study.subjects if s.first_dose)
            cache[name] = Walk(
                name, build(study, key), start, SCENARIO_STRIDE, _scenario_dosed(study)
            )
        elif name == "demo":
            start = tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))["study"]["start_date"]
            cache[name] = Walk(name, demo_db, start, DEMO_STRIDE, None)
        elif name == "pilot":
            with (PILOT_DIR / "dm.csv").open(encoding="utf-8") as fh:
                start = min(
                    date.fromisoformat(r["RFXSTDTC"][:10])
                    for r in csv.DictReader(fh)
                    if r["RFXSTDTC"]
                )
            cache[name] = Walk(name, pilot_db, start, PILOT_STRIDE, _pilot_dosed())
        return cache[name]

    return walk


# --- the invariants: each returns the violations found in a walk --------------------------


def partition(w: Walk) -> list[str]:
    out = []
    for cutoff, c in w.cohorts():
        if c["control"]:
            continue
        if "not_evaluable" not in c:
            return [f"status reports no not_evaluable (cohort {c['id']} at {cutoff})"]
        total = c["evaluable"] + c["in_dlt_window"] + c["not_evaluable"]
        if total != c["treated"]:
            out.append(
                f"{cutoff} {c['id']}: evaluable {c['evaluable']} + in window "
                f"{c['in_dlt_window']} + not evaluable {c['not_evaluable']} = {total}, "
                f"treated {c['treated']}"
            )
    return out


def control_no_dlts(w: Walk) -> list[str]:
    return [
        f"{cutoff} {c['id']}: {c['dlts']} DLTs"
        for cutoff, c in w.cohorts()
        if c["control"] and c["dlts"] != 0
    ]


def dlts_within_evaluable(w: Walk) -> list[str]:
    return [
        f"{cutoff} {c['id']}: {c['dlts']} DLTs, {c['evaluable']} evaluable"
        for cutoff, c in w.cohorts()
        if not c["control"] and c["dlts"] > c["evaluable"]
    ]


def treated_within_subjects(w: Walk) -> list[str]:
    return [
        f"{cutoff} {c['id']}: treated {c['treated']} of {c['subjects']} subjects"
        for cutoff, c in w.cohorts()
        if c["treated"] > c["subjects"]
    ]


def treated_never_decreases(w: Walk) -> list[str]:
    return [
        f"{cutoff} {c['id']}: treated {b['treated']} -> {c['treated']}"
        for cutoff, c, b in w.pairs()
        if c["treated"] < b["treated"]
    ]


def evaluable_never_decreases(w: Walk) -> list[str]:
    return [
        f"{cutoff} {c['id']}: evaluable {b['evaluable']} -> {c['evaluable']}"
        for cutoff, c, b in w.pairs()
        if c["evaluable"] < b["evaluable"]
    ]


def never_back_to_pending(w: Walk) -> list[str]:
    return [
        f"{cutoff} {c['id']}: in window {b['in_dlt_window']} -> {c['in_dlt_window']} "
        f"with treated {b['treated']} -> {c['treated']}"
        for cutoff, c, b in w.pairs()
        if c["in_dlt_window"] - b["in_dlt_window"] > c["treated"] - b["treated"]
    ]


def treated_is_dosed_by_cutoff(w: Walk) -> list[str]:
    out = []
    for cutoff, doc in w.docs:
        truth = w.dosed(cutoff)
        got = {c["id"]: c["treated"] for c in doc["studies"][0]["cohorts"]}
        if got != truth:
            out.append(f"{cutoff}: treated {got}, dosed per DM {truth}")
    return out


def reasons_never_blank(w: Walk) -> list[str]:
    out = []
    for cutoff, doc in w.docs:
        st = doc["studies"][0]
        texts = [("recommendation", st["recommendation"]["reason"]),
                 *((f"rule {r['name']}", r["detail"]) for r in st["rules"]),
                 *((c["id"], c["reason"]) for c in st["cohorts"]),
                 *((f"{c['id']} rule {r['name']}", r["detail"]) for c in st["cohorts"]
                   for r in c["rules"])]
        out += [f"{cutoff} {where}: blank" for where, text in texts if not (text or "").strip()]
    return out


def pending_means_no_decision(w: Walk) -> list[str]:
    out = []
    for cutoff, doc in w.docs:
        st = doc["studies"][0]
        items = [("study", st["recommendation"]), *((c["id"], c) for c in st["cohorts"])]
        out += [f"{cutoff} {where}: pending {x['pending']} with decision {x['decision']}"
                for where, x in items if x.get("pending") and x["decision"] != "none"]
    return out


INVARIANTS = [
    partition,
    control_no_dlts,
    dlts_within_evaluable,
    treated_within_subjects,
    treated_never_decreases,
    evaluable_never_decreases,
    never_back_to_pending,
    reasons_never_blank,
    pending_means_no_decision,
]
DATASETS = [*SCENARIOS, "demo", "pilot"]
CASES = [pytest.param(inv, ds, id=f"{inv.__name__}-{ds}") for inv in INVARIANTS for ds in DATASETS]
CASES += [
    pytest.param(treated_is_dosed_by_cutoff, ds, id=f"treated_is_dosed_by_cutoff-{ds}")
    for ds in [*SCENARIOS, "pilot"]
]


@pytest.mark.parametrize("invariant, dataset", CASES)
def test_invariant(walks, invariant, dataset):
    w = walks(dataset)
    bad = invariant(w)
    assert not bad, (
        f"{invariant.__name__} fails at {len(bad)} of {len(w.docs)} cut-offs of "
        f"{dataset}; first: " + "; ".join(bad[:4])
    )


def _without_control_data(db: Path, folder: Path) -> Path:
    """A copy of the database without the control arm's adverse events and labs."""
    copy = folder / "no-control.duckdb"
    shutil.copy(db, copy)
    con = duckdb.connect(str(copy))
    try:
        control = """(SELECT s.usubjid FROM subject s JOIN cohort c
                      ON c.study_id = s.study_id AND c.cohort_id = s.cohort_id
                      WHERE c.is_control)"""
        for table in ("adverse_event", "lab", "lab_graded"):
            con.execute(f"DELETE FROM {table} WHERE usubjid IN {control}")
    finally:
        con.close()
    return copy


@pytest.mark.parametrize("dataset", ["demo", "pilot"])
def test_decisions_ignore_control_data(walks, dataset, tmp_path):
    w = walks(dataset)
    copy = _without_control_data(w.db, tmp_path)
    bad = []
    for cutoff, doc in w.docs[::4]:
        a, b = doc["studies"][0], status_doc(copy, cutoff)["studies"][0]
        for key in ("outcomes", "recommendation", "rules"):
            if a[key] != b[key]:
                bad.append(f"{cutoff} {key}: {a[key]} vs {b[key]}")
        for ca, cb in zip(a["cohorts"], b["cohorts"], strict=True):
            if ca["control"]:
                continue
            diff = sorted(k for k in ca if ca[k] != cb[k])
            bad += [f"{cutoff} {ca['id']} {k}: {ca[k]} vs {cb[k]}" for k in diff]
    assert not bad, "control data changed decisions: " + "; ".join(bad[:6])


def test_pilot_deaths(walks):
    # CDISC pilot DM: DTHFL Y for 01-701-1211 (Xan_Lo), 01-704-1445 and 01-710-1083 (Pbo); their
    # AEs are AESER N, AESDTH Y, AEOUT FATAL: serious and fatal (SDTMIG 3.x, ICH E2A)
    doc = status_doc(walks("pilot").db)
    assert {c: cohort(doc, c)["deaths"] for c in ("Pbo", "Xan_Lo", "Xan_Hi")} == {
        "Pbo": 2, "Xan_Lo": 1, "Xan_Hi": 0}
