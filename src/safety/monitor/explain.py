"""One decision explained: every input record and every step, for ``status --explain COHORT``
and the Dose escalation page.

For a dose cohort at a cut-off: which subjects were treated and evaluable and why (each one's
DLT-window state with the rule's reason), which adverse events and lab results were DLTs and
why, and which were not and why (the DLT rule's verdict, ``safety.clinical.dlt``), and which
numbers entered which rule (the evaluable history in Brock's notation, the design's numbers, each
stopping rule's state). Nothing is computed here that the status does not compute: the same
states, events and decisions, laid out in the order they are used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from safety.config import StudyConfig
from safety.errors import StoreError
from safety.escalation import cohorts_from_patients, format_outcomes
from safety.monitor.decisions import escalation_inputs
from safety.monitor.status import StudyStatus, study_status
from safety.store import queries

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Explanation:
    """The records and steps behind one cohort's decision at a cut-off.

    ``subjects``: usubjid, first_dose_date, window_end, dlt_state, why. ``events``: usubjid,
    source (adverse_event | lab | manual), seq, term, onset_date, study_day, grade, verdict
    (the rule that made it a DLT candidate, or why it is not one), status (candidate,
    confirmed, rejected, added, or "not a DLT"), counted. ``steps``: numbered sentences.
    """

    study_id: str
    cohort_id: str
    cohort_label: str
    cutoff: date
    decision: str
    reason: str
    subjects: pd.DataFrame
    events: pd.DataFrame
    steps: tuple[str, ...]

    def to_json(self) -> dict:
        def rows(frame: pd.DataFrame) -> list[dict]:
            out = frame.astype(object).where(frame.notna(), None)
            return [{k: (v.isoformat() if isinstance(v, date) else v) for k, v in r.items()}
                    for r in out.to_dict("records")]

        return {"study": self.study_id, "cohort": self.cohort_id, "label": self.cohort_label,
                "cutoff": self.cutoff.isoformat(), "decision": self.decision,
                "reason": self.reason, "subjects": rows(self.subjects),
                "events": rows(self.events), "steps": list(self.steps)}

    def to_text(self) -> str:
        verdict = self.reason if self.decision == "pending" else f"{self.decision}: {self.reason}"
        lines = [f"{self.study_id}, {self.cohort_label} ({self.cohort_id}) at {self.cutoff}: "
                 f"{verdict}", "", "Subjects (treated by the cut-off):"]
        for r in self.subjects.itertuples():
            lines.append(f"  {r.usubjid}: first dose {r.first_dose_date}, {r.dlt_state}: {r.why}")
        if self.subjects.empty:
            lines.append("  none")
        lines += ["", "Events (adverse events of these subjects, lab DLT candidates, DLTs added):"]
        for r in self.events.itertuples():
            day = "" if pd.isna(r.study_day) else f"study day {int(r.study_day)}, "
            grade = "" if pd.isna(r.grade) else f"grade {int(r.grade)}, "
            lines.append(f"  {r.usubjid} {r.source} {'' if pd.isna(r.seq) else int(r.seq)} "
                         f"{r.term} ({day}{grade}{r.onset_date}): {r.status}: {r.verdict}")
        if self.events.empty:
            lines.append("  none")
        lines += ["", "Steps:"] + [f"  {i}. {s}" for i, s in enumerate(self.steps, start=1)]
        return "\n".join(lines)


def explain_cohort(
    con: duckdb.DuckDBPyConnection, config: StudyConfig, cutoff: date, cohort_id: str
) -> Explanation:
    """Every input record and step of one dose cohort's decision at the cut-off.

    Raises
    ------
    StoreError
        When the study has no such cohort.
    """
    wanted = [c for c in config.cohorts if c.cohort_id.lower() == cohort_id.lower()]
    if not wanted:
        raise StoreError(f"{config.study_id} has no cohort {cohort_id!r}; its cohorts are "
                         + ", ".join(c.cohort_id for c in config.cohorts))
    cohort = wanted[0]
    status = study_status(con, config, cutoff)
    here = next(c for c in status.cohorts if c.cohort_id == cohort.cohort_id)
    states, history, _ = escalation_inputs(con, config, cutoff)
    mine = states[(states["cohort_id"] == cohort.cohort_id)
                  & states["treated"].fillna(False).astype(bool)]
    subjects = pd.DataFrame({
        "usubjid": mine["usubjid"],
        "first_dose_date": pd.to_datetime(mine["first_dose_date"]).dt.date,
        "window_end": pd.to_datetime(mine["window_end"]).dt.date,
        "dlt_state": mine["dlt_state"],
        "why": mine["state_reason"],
    }).reset_index(drop=True)
    events = _events(con, config, cutoff, cohort.cohort_id)
    return Explanation(
        study_id=config.study_id, cohort_id=cohort.cohort_id, cohort_label=cohort.label,
        cutoff=cutoff, decision=here.decision_label, reason=here.reason, subjects=subjects,
        events=events, steps=_steps(status, here, cohort.dose_level, history, subjects, events),
    )


def _events(con: duckdb.DuckDBPyConnection, config: StudyConfig, cutoff: date,
            cohort_id: str) -> pd.DataFrame:
    verdicts = queries.dlt.ae_dlt_verdicts(con, config.study_id, cutoff, cohort_id)
    dlts = queries.dlt.dlt_events(con, config.study_id, cutoff)
    dlts = dlts[dlts["cohort_id"] == cohort_id]
    status = {(r.usubjid, r.source, int(r.source_seq)): r for r in dlts.itertuples()}
    rows = []
    for v in verdicts.itertuples():  # a cohort has a few dozen AEs
        d = status.get((v.usubjid, "adverse_event", int(v.seq)))
        rows.append({
            "usubjid": v.usubjid, "source": "adverse_event", "seq": int(v.seq), "term": v.pt,
            "onset_date": pd.Timestamp(v.start_date).date(), "study_day": v.onset_day,
            "grade": v.grade,
            "verdict": (v.dlt_rule if v.is_candidate else v.not_dlt_reason)
                       + _adjudicated(d),
            "status": d.dlt_status if d is not None else "not a DLT",
            "counted": d is not None and d.dlt_status != "rejected",
        })
    for d in dlts[dlts["source"] != "adverse_event"].itertuples():
        rows.append({
            "usubjid": d.usubjid, "source": d.source,
            "seq": None if pd.isna(d.source_seq) else int(d.source_seq), "term": d.term,
            "onset_date": pd.Timestamp(d.onset_date).date(), "study_day": d.onset_day,
            "grade": d.grade, "verdict": d.dlt_rule + _adjudicated(d), "status": d.dlt_status,
            "counted": d.dlt_status != "rejected",
        })
    columns = ["usubjid", "source", "seq", "term", "onset_date", "study_day", "grade",
               "verdict", "status", "counted"]
    return pd.DataFrame(rows, columns=columns).sort_values(
        ["usubjid", "onset_date"], kind="stable").reset_index(drop=True)


def _adjudicated(d) -> str:
    if d is None or pd.isna(d.decided_by):
        return ""
    return f"; {d.dlt_status} by {d.decided_by} on {pd.Timestamp(d.decided_at):%Y-%m-%d}: " \
           f"\"{d.adjudication_reason}\""


def _steps(status: StudyStatus, here, dose_level: int | None, history, subjects: pd.DataFrame,
           events: pd.DataFrame) -> tuple[str, ...]:
    counts = subjects["dlt_state"].value_counts()
    evaluable = int(counts.get("evaluable", 0) + counts.get("DLT", 0))
    steps = [
        f"Treated (first dose on or before {status.cutoff}): {len(subjects)}; evaluable "
        f"{evaluable} ({int(counts.get('DLT', 0))} with a DLT, {int(counts.get('evaluable', 0))} "
        f"completed the window without one); in the DLT window {int(counts.get('pending', 0))}; "
        f"not evaluable {int(counts.get('not evaluable', 0))} (they do not enter the decision).",
    ]
    counted = events[events["counted"]]
    steps.append(
        "DLTs counted: " + ("; ".join(f"{r.usubjid} {r.term} ({r.status}: {r.verdict})"
                                      for r in counted.itertuples()) or "none")
        + f". Events that are not DLTs: {int((~events['counted']).sum())} (see their reasons).")
    if dose_level is not None:
        at = [h for h in history if h[0] == dose_level]
        steps.append(
            f"The study's evaluable history in order of first dose (Brock's notation): "
            f"{status.outcomes or 'none yet'}; at dose level {dose_level}: "
            f"{format_outcomes(cohorts_from_patients(at)) or 'none'} = {sum(d for _, d in at)} "
            f"DLT{'' if sum(d for _, d in at) == 1 else 's'} in {len(at)}.")
    if here.pending and here.provisional_reason:
        steps.append(f"At this dose: {here.reason}. On the evaluable patients so far the design "
                     f"would say: {here.provisional_reason}")
    else:
        steps.append(f"At this dose: {here.reason}")
    if here.numbers:
        steps.append("Numbers the design's rule used at this dose: " + ", ".join(
            f"{k} {round(v, 4):g}" for k, v in here.numbers))
    for rule in here.rules:
        steps.append(f"Rule {rule.name}: {rule.state} ({rule.detail})")
    steps.append("The study's decision for the next patients: " + (
        status.recommendation_reason if status.pending
        else f"{status.recommendation}: {status.recommendation_reason}"))
    return tuple(steps)
