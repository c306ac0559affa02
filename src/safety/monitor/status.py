"""Per-cohort status of a study at a data cut-off: counts, the escalation decision and its reason,
and the state of every stopping rule. The one source for ``status --json``, the Overview page and
the reports.

How data become a decision (each step keeps its reason):

1. ``queries.dlt.subject_dlt_states``: each subject's DLT-window state (pending, evaluable, DLT, ...).
2. Evaluable subjects of the dose cohorts (window complete, or a DLT) in order of first dose
   become an outcome string such as ``"1NNNNNNNN 2NNTNNNNN 3TNNT"``. Pending subjects are not
   counted yet: their window is still open.
3. The study's design, wrapped in its stopping rules (``safety.escalation``), decides on the whole
   history: the recommendation for the next patients. Each dose cohort also gets the decision
   the design makes when that cohort is the dose currently treated, so a safety officer sees
   what the data at every dose say.
4. Rule states come from the wrappers, plus two read off the data: hard-stop events (any
   event with a hard-stop term stops the study) and the accrual pause (TITE-BOIN: more than half
   of the patients at a dose still pending).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import pandas as pd

from safety.config import StudyConfig, stored_study_config
from safety.errors import StoreError
from safety.escalation import (
    Outcomes,
    RuleState,
    cohorts_from_patients,
    format_outcomes,
)
from safety.monitor.decisions import (
    describe_design,
    dose_last,
    escalation_inputs,
    pending_state,
)
from safety.store import queries

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CohortStatus:
    """One cohort at the cut-off, as the status JSON shows it."""

    cohort_id: str
    label: str
    control: bool
    dose_level: int | None
    dose: float | None
    dose_unit: str | None
    subjects: int
    treated: int
    in_dlt_window: int
    evaluable: int
    dlts: int
    saes: int
    decision: str
    reason: str
    rules: tuple[RuleState, ...]
    evaluable_on: date | None = None  # the day the cohort's last open DLT window closes
    days_to_evaluable: int = 0  # days from the cut-off to evaluable_on (0: no window open)

    def to_json(self) -> dict:
        return {
            "id": self.cohort_id,
            "label": self.label,
            "control": self.control,
            "dose_level": self.dose_level,
            "dose": self.dose,
            "dose_unit": self.dose_unit,
            "subjects": self.subjects,
            "treated": self.treated,
            "in_dlt_window": self.in_dlt_window,
            "evaluable": self.evaluable,
            "dlts": self.dlts,
            "saes": self.saes,
            "decision": self.decision,
            "reason": self.reason,
            "rules": [r.to_dict() for r in self.rules],
            "evaluable_on": self.evaluable_on.isoformat() if self.evaluable_on else None,
            "days_to_evaluable": self.days_to_evaluable,
        }


@dataclass(frozen=True)
class StudyStatus:
    """A study at the cut-off: its cohorts, the recommendation for the next patients, the rules."""

    study_id: str
    title: str
    design: str
    design_description: str
    cutoff: date
    history: Outcomes  # the evaluable history the design decided on
    recommendation: str
    recommendation_reason: str
    recommended_dose_level: int | None
    rules: tuple[RuleState, ...]
    cohorts: tuple[CohortStatus, ...]
    cohort_frame: pd.DataFrame  # queries.subjects.cohort_summary with the DLT-state counts

    @property
    def outcomes(self) -> str:
        """The evaluable history in Brock's notation, e.g. ``"1NNN 2NTN"`` (for people)."""
        return format_outcomes(self.history)

    @property
    def totals(self) -> dict[str, int]:
        keys = ("subjects", "treated", "in_dlt_window", "dlts", "saes")
        return {k: sum(getattr(c, k) for c in self.cohorts) for k in keys}

    @property
    def triggered_rules(self) -> tuple[RuleState, ...]:
        return tuple(r for r in self.rules if r.state == "triggered")

    def cohort_table(self) -> pd.DataFrame:
        """The cohort table as a safety officer reads it (reasons are shown beside it)."""
        frame = self.cohort_frame.set_index("cohort_id")
        rows = []
        for c in self.cohorts:
            f = frame.loc[c.cohort_id]
            worst = " / ".join(str(int(f[f"worst_grade_{g}"])) for g in range(1, 6))
            rows.append(
                {
                    "Cohort": c.label,
                    "Dose": "vehicle" if c.control else f"{c.dose:g} {c.dose_unit}",
                    "Enrolled": c.subjects,
                    "Treated": c.treated,
                    "In DLT window": c.in_dlt_window,
                    "Evaluable": c.evaluable,
                    "DLTs": c.dlts,
                    "SAEs": c.saes,
                    "Worst AE grade 1/2/3/4/5": worst,
                    "Decision": c.decision,
                    "Rules not ok": ", ".join(
                        f"{r.name} ({r.state})" for r in c.rules if r.state != "ok"
                    ),
                }
            )
        return pd.DataFrame(rows)

    def to_json(self) -> dict:
        return {
            "id": self.study_id,
            "title": self.title,
            "design": self.design,
            "cutoff": self.cutoff.isoformat(),
            "outcomes": self.outcomes,
            "recommendation": {
                "decision": self.recommendation,
                "dose_level": self.recommended_dose_level,
                "reason": self.recommendation_reason,
            },
            "rules": [r.to_dict() for r in self.rules],
            "cohorts": [c.to_json() for c in self.cohorts],
        }

    def to_text(self) -> str:
        lines = [
            f"{self.study_id} at {self.cutoff} ({self.design}): {self.recommendation}: "
            f"{self.recommendation_reason}"
        ]
        for c in self.cohorts:
            lines.append(
                f"  {c.label:<22} treated {c.treated:>3}  in window {c.in_dlt_window:>2}  "
                f"DLTs {c.dlts:>2}  SAEs {c.saes:>2}  {c.decision:<11} {c.reason}"
            )
        for r in self.rules:
            lines.append(f"  rule {r.name}: {r.state} ({r.detail})")
        return "\n".join(lines)


def study_statuses(
    con: duckdb.DuckDBPyConnection, study_id: str | None = None, cutoff: date | None = None
) -> list[StudyStatus]:
    """The status of every study in the database (or of one), each at its own data cut-off
    unless ``cutoff`` is given. Raises StoreError for an unknown study."""
    all_studies = queries.studies.studies(con)
    if study_id is not None:
        all_studies = all_studies[all_studies["study_id"].str.lower() == study_id.lower()]
        if all_studies.empty:
            raise StoreError(f"no study {study_id!r} in the database")
    result = []
    for row in all_studies.itertuples():  # one per study
        config = stored_study_config(row.config_toml, row.study_id)
        study_cutoff = cutoff or (
            row.data_cutoff.date() if pd.notna(row.data_cutoff) else date.today()
        )
        result.append(study_status(con, config, study_cutoff))
    return result


def study_status(
    con: duckdb.DuckDBPyConnection,
    config: StudyConfig,
    cutoff: date,
    adjudicated_by: datetime | None = None,
) -> StudyStatus:
    """Counts, decisions and rule states of one study at the cut-off (see the module docstring).

    Adjudications apply whenever they were recorded, unless ``adjudicated_by`` limits them to
    those recorded up to that moment (the decisions as they were known then).
    """
    states, history, design = escalation_inputs(con, config, cutoff, adjudicated_by)
    summary = with_dlt_counts(queries.subjects.cohort_summary(con, config.study_id, cutoff), states)
    decision = design.decide(cohorts_from_patients(history))

    cohorts = []
    for row in summary.itertuples():
        if row.is_control:
            cohorts.append(
                _cohort_status(
                    row,
                    "none",
                    "Control cohort: the reference beside the escalation, not part of it.",
                    (),
                )
            )
            continue
        pending = states[
            (states["cohort_id"] == row.cohort_id) & (states["dlt_state"] == "pending")
        ]
        rules = (pending_state(len(pending), int(row.treated), pending),)
        evaluable_on, days = cohort_evaluable_on(pending)
        if not any(level == row.dose_level for level, _ in history):
            text = (
                "Not treated yet."
                if row.treated == 0
                else "No patient has completed the DLT window yet."
            )
            cohorts.append(_cohort_status(row, "none", text, rules, evaluable_on, days))
            continue
        at_dose = design.decide(cohorts_from_patients(dose_last(history, int(row.dose_level))))
        cohorts.append(
            _cohort_status(
                row,
                at_dose.action.value,
                at_dose.reason,
                rules + at_dose.rule_states,
                evaluable_on,
                days,
            )
        )

    return StudyStatus(
        study_id=config.study_id,
        title=config.title,
        design=config.design.name,
        design_description=describe_design(config),
        cutoff=cutoff,
        history=cohorts_from_patients(history),
        recommendation=decision.action.value,
        recommendation_reason=decision.reason,
        recommended_dose_level=decision.dose_level,
        rules=decision.rule_states,
        cohorts=tuple(cohorts),
        cohort_frame=summary,
    )


def with_dlt_counts(summary: pd.DataFrame, states: pd.DataFrame) -> pd.DataFrame:
    """The cohort summary with each cohort's DLT-window counts from the subjects' states:
    in_dlt_window (pending), evaluable (evaluable or DLT), not_evaluable, dlts (subjects with a
    DLT), inserted after ``treated``."""
    state = states["dlt_state"]
    counts = pd.DataFrame({
        "cohort_id": states["cohort_id"],
        "in_dlt_window": state == "pending",
        "evaluable": state.isin(["evaluable", "DLT"]),
        "not_evaluable": state == "not evaluable",
        "dlts": state == "DLT",
    }).groupby("cohort_id").sum()
    out = summary.merge(counts, left_on="cohort_id", right_index=True, how="left")
    for column in counts.columns:
        out[column] = out[column].fillna(0).astype("int64")
    first = list(summary.columns[: summary.columns.get_loc("treated") + 1])
    return out[[*first, *counts.columns, *summary.columns[len(first):]]]


def cohort_evaluable_on(pending_rows: pd.DataFrame) -> tuple[date | None, int]:
    """(the day the cohort's last open DLT window closes, days left until then).

    ``pending_rows`` are the cohort's pending subjects from ``queries.dlt.subject_dlt_states``
    (window_end, days_left). (None, 0) when no window is open: the cohort can be evaluated now.
    """
    if pending_rows.empty:
        return None, 0
    return (
        pd.Timestamp(pending_rows["window_end"].max()).date(),
        int(pending_rows["days_left"].max()),
    )


def _cohort_status(
    row,
    decision: str,
    reason: str,
    rules: tuple[RuleState, ...],
    evaluable_on: date | None = None,
    days_to_evaluable: int = 0,
) -> CohortStatus:
    return CohortStatus(
        cohort_id=row.cohort_id,
        label=row.label,
        control=bool(row.is_control),
        dose_level=None if pd.isna(row.dose_level) else int(row.dose_level),
        dose=None if pd.isna(row.dose) else float(row.dose),
        dose_unit=None if pd.isna(row.dose_unit) else row.dose_unit,
        subjects=int(row.subjects),
        treated=int(row.treated),
        in_dlt_window=int(row.in_dlt_window),
        evaluable=int(row.evaluable),
        dlts=int(row.dlts),
        saes=int(row.saes),
        decision=decision,
        reason=reason,
        rules=rules,
        evaluable_on=evaluable_on,
        days_to_evaluable=days_to_evaluable,
    )
