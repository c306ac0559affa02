"""Per-cohort status of a study at a data cut-off: counts, the escalation decision and its reason,
and the state of every stopping rule. The one source for ``status --json``, the Overview page and
the reports.

How data become a decision (each step keeps its reason):

1. ``queries.dlt.subject_dlt_states``: each subject's DLT-window state (pending, evaluable, DLT,
   not evaluable, with why).
2. Evaluable subjects of the dose cohorts (window complete, or a DLT) in order of first dose
   become an outcome string such as ``"1NNNNNNNN 2NNTNNNNN 3TNNT"``. Pending subjects are not
   counted yet: their window is still open; subjects who are not evaluable never are.
3. The study's design, wrapped in its stopping rules (``safety.escalation``), decides on the whole
   history, when the decision is due (``monitor.decisions.decide_when_due``): once the patients
   of the dose being treated are evaluable, or at once for a stop or an elimination. Until then
   the recommendation is "pending: 1 of 8 evaluable, decision due on ...".
4. Each dose cohort also shows what the design would say at that dose (the history with that
   dose's patients last), labelled as such: it is never the study's decision.
5. Rule states come from the wrappers, plus two read off the data: hard-stop events (any
   event with a hard-stop term in a dose cohort stops the study) and the accrual pause
   (TITE-BOIN: more than half of the patients at a dose still pending).

A study whose protocol declares no escalation design and no DLT definition
(``StudyConfig.is_escalation`` false, e.g. the parallel-group CDISC pilot) is monitored for safety
only: its status has the counts (treated, SAEs, deaths, worst grades) and no DLT counts, decisions
or rules; its reason is ``config.MONITORING_ONLY``, said once.

Counts of subjects (treated = N, SAEs, worst grades, deaths) are counts of the safety analysis
set (``safety.clinical.populations``) and its TEAEs (``safety.clinical.teae``), as on every AE
page and report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime

import duckdb
import pandas as pd

from safety.config import MONITORING_ONLY, StudyConfig, stored_study_config
from safety.errors import SafetyError, StoreError
from safety.escalation import (
    Design,
    Outcomes,
    RuleState,
    cohorts_from_patients,
    format_outcomes,
)
from safety.monitor.decisions import (
    DESIGN_LABELS,
    Recommendation,
    decide_when_due,
    describe_design,
    dose_last,
    dose_progress,
    escalation_inputs,
    pending_state,
    study_recommendation,
)
from safety.store import queries

log = logging.getLogger(__name__)

ATTENTION_STATES = ("triggered", "warning")
# The cohort table's columns that only an escalation has (left out for safety monitoring only).
DLT_COLUMNS = ("In DLT window", "Evaluable", "Not evaluable", "With DLT",
               "At this dose the design would say", "Rules not ok")


@dataclass(frozen=True)
class CohortStatus:
    """One cohort at the cut-off, as the status JSON shows it.

    ``decision`` and ``reason`` are what the design would say at this dose (labelled so in the
    reason), not the study's decision; ``facts`` are the cohort's own counts in words.
    """

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
    dose_text: str = ""  # as people read it: "10 million cells", the control's "placebo"
    evaluable_on: date | None = None  # the day the cohort's last open DLT window closes
    days_to_evaluable: int = 0  # days from the cut-off to evaluable_on (0: no window open)
    not_evaluable: int = 0
    deaths: int = 0
    pending: bool = False  # the decision at this dose waits for its patients
    decision_due_on: date | None = None
    provisional_reason: str | None = None  # what the design says on the evaluable so far
    numbers: tuple[tuple[str, float], ...] = ()  # what the design's rule used at this dose
    escalation: bool = True  # False: safety monitoring only (no DLT counts, no decision)

    @property
    def decision_label(self) -> str:
        """``pending`` while the decision at this dose waits for its patients, else the
        decision."""
        return "pending" if self.pending else self.decision

    @property
    def facts(self) -> str:
        """The cohort's own facts: ``"6 treated: 4 evaluable (2 with a DLT), 2 in the DLT
        window, 0 not evaluable; 2 with an SAE; 0 deaths"``."""
        window = (
            f": {self.evaluable} evaluable ({self.dlts} with a DLT), {self.in_dlt_window} in the "
            f"DLT window, {self.not_evaluable} not evaluable"
            if self.escalation and not self.control else ""
        )
        return (f"{self.treated} treated{window}; {self.saes} with an SAE; "
                f"{self.deaths} death{'' if self.deaths == 1 else 's'}")

    def to_json(self) -> dict:
        dlt = (lambda n: n) if self.escalation else (lambda n: None)  # no DLT rule: no counts
        return {
            "id": self.cohort_id,
            "label": self.label,
            "control": self.control,
            "dose_level": self.dose_level,
            "dose": self.dose,
            "dose_unit": self.dose_unit,
            "subjects": self.subjects,
            "treated": self.treated,
            "in_dlt_window": dlt(self.in_dlt_window),
            "evaluable": dlt(self.evaluable),
            "not_evaluable": dlt(self.not_evaluable),
            "dlts": dlt(self.dlts),
            "saes": self.saes,
            "deaths": self.deaths,
            "decision": self.decision,
            "reason": self.reason,
            "pending": self.pending,
            "decision_due_on": self.decision_due_on.isoformat() if self.decision_due_on else None,
            "provisional_reason": self.provisional_reason,
            "facts": self.facts,
            "numbers": dict(self.numbers),
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
    pending: bool = False  # the study's decision waits for the patients of the current dose
    decision_due_on: date | None = None
    provisional_reason: str | None = None
    escalation: bool = True  # False: safety monitoring only (config.MONITORING_ONLY)
    # the design wrapped in the protocol's rules as it decided (None when monitoring only): the
    # dose paths continue from it without reading the DLT states again
    protocol_design: Design | None = None

    @property
    def decision_label(self) -> str:
        """``pending`` while the decision waits for the patients of the current dose, else the
        decision."""
        return "pending" if self.pending else self.recommendation

    @property
    def reason_after_label(self) -> str:
        """The reason, as it follows :attr:`decision_label`: a pending reason starts with
        "pending: ", which the label has said already."""
        return (self.recommendation_reason.removeprefix("pending: ") if self.pending
                else self.recommendation_reason)  # fmt: skip

    @property
    def design_name(self) -> str:
        """The design as a reason names it: BOIN, mTPI-2, the 3+3, the CRM."""
        return DESIGN_LABELS.get(self.design, "no escalation design")

    @property
    def outcomes(self) -> str:
        """The evaluable history in Brock's notation, e.g. ``"1NNN 2NTN"`` (for people)."""
        return format_outcomes(self.history)

    @property
    def totals(self) -> dict[str, int]:
        keys = ("subjects", "treated", "in_dlt_window", "not_evaluable", "dlts", "saes", "deaths")
        if not self.escalation:
            keys = ("subjects", "treated", "saes", "deaths")
        return {k: sum(getattr(c, k) for c in self.cohorts) for k in keys}

    @property
    def triggered_rules(self) -> tuple[RuleState, ...]:
        """The study's triggered rules, then each dose cohort's (e.g. the accrual pause), named
        with the cohort."""
        cohort_rules = tuple(
            replace(r, name=f"{r.name}, {c.label}")
            for c in self.cohorts for r in c.rules[:1] if r.state == "triggered"
        )
        return tuple(r for r in self.rules if r.state == "triggered") + cohort_rules

    def cohort_table(self) -> pd.DataFrame:
        """The cohort table as a safety officer reads it (reasons are shown beside it).

        Every count is of the safety analysis set (Treated = N) and its TEAEs."""
        frame = self.cohort_frame.set_index("cohort_id")
        rows = []
        for c in self.cohorts:
            f = frame.loc[c.cohort_id]
            worst = " / ".join(str(int(f[f"worst_grade_{g}"])) for g in range(1, 6))
            rows.append(
                {
                    "Cohort": c.label,
                    "Dose": c.dose_text,
                    "Enrolled": c.subjects,
                    "Treated (N)": c.treated,
                    "In DLT window": c.in_dlt_window,
                    "Evaluable": c.evaluable,
                    "Not evaluable": c.not_evaluable,
                    "With DLT": c.dlts,
                    "With SAE": c.saes,
                    "Deaths": c.deaths,
                    "Worst TEAE grade 1/2/3/4/5": worst,
                    "At this dose the design would say": c.decision_label,
                    "Rules not ok": ", ".join(
                        f"{r.name} ({r.state})" for r in c.rules if r.state != "ok"
                    ),
                }
            )
        table = pd.DataFrame(rows)
        if not self.escalation:
            table = table.drop(columns=list(DLT_COLUMNS))
        return table

    def to_json(self) -> dict:
        return {
            "id": self.study_id,
            "title": self.title,
            "design": self.design,
            "escalation": self.escalation,
            "cutoff": self.cutoff.isoformat(),
            "outcomes": self.outcomes,
            "recommendation": {
                "decision": self.recommendation,
                "dose_level": self.recommended_dose_level,
                "reason": self.recommendation_reason,
                "pending": self.pending,
                "decision_due_on": (self.decision_due_on.isoformat()
                                    if self.decision_due_on else None),
                "provisional_reason": self.provisional_reason,
            },
            "rules": [r.to_dict() for r in self.rules],
            "cohorts": [c.to_json() for c in self.cohorts],
        }

    def to_text(self) -> str:
        if not self.escalation:
            return "\n".join([f"{self.study_id} at {self.cutoff}: {MONITORING_ONLY}"] + [
                f"  {c.label:<22} treated {c.treated:>3}  SAEs {c.saes:>2}  deaths {c.deaths:>2}"
                for c in self.cohorts])
        verdict = (self.recommendation_reason if self.pending
                   else f"{self.recommendation}: {self.recommendation_reason}")
        lines = [f"{self.study_id} at {self.cutoff} ({self.design}): {verdict}"]
        if self.provisional_reason:
            lines.append(f"  on the evaluable patients so far the design would say: "
                         f"{self.provisional_reason}")
        for c in self.cohorts:
            lines.append(
                f"  {c.label:<22} treated {c.treated:>3}  evaluable {c.evaluable:>3}  in window "
                f"{c.in_dlt_window:>2}  not evaluable {c.not_evaluable:>2}  DLTs {c.dlts:>2}  "
                f"SAEs {c.saes:>2}  deaths {c.deaths:>2}  {c.decision:<11} {c.reason}"
            )
        for r in self.rules:
            lines.append(f"  rule {r.name}: {r.state} ({r.detail})")
        study_rules = {(r.name, r.detail) for r in self.rules}
        for c in self.cohorts:
            for r in c.rules:
                if r.state in ATTENTION_STATES and (r.name, r.detail) not in study_rules:
                    lines.append(f"  rule {r.name}, {c.label}: {r.state} ({r.detail})")
        return "\n".join(lines)


def study_statuses(
    con: duckdb.DuckDBPyConnection, study_id: str | None = None, cutoff: date | None = None
) -> list[StudyStatus | UnavailableStudy]:
    """The status of every study in the database (or of one), each at its own data cut-off
    unless ``cutoff`` is given. Raises StoreError for an unknown study; a study whose status
    cannot be computed is an :class:`UnavailableStudy` with the reason, the others go on."""
    all_studies = queries.studies.studies(con)
    if study_id is not None:
        all_studies = all_studies[all_studies["study_id"].str.lower() == study_id.lower()]
        if all_studies.empty:
            raise StoreError(f"no study {study_id!r} in the database")
    result: list[StudyStatus | UnavailableStudy] = []
    for row in all_studies.itertuples():  # one per study
        study_cutoff = cutoff or (
            row.data_cutoff.date() if pd.notna(row.data_cutoff) else date.today()
        )
        try:
            config = stored_study_config(row.config_toml, row.study_id)
            result.append(study_status(con, config, study_cutoff))
        except SafetyError as exc:  # one study's failure never hides the others
            log.warning("status of %s not available: %s", row.study_id, exc)
            result.append(UnavailableStudy(row.study_id, row.title, study_cutoff, str(exc)))
    return result


@dataclass(frozen=True)
class UnavailableStudy:
    """A study whose status cannot be computed (e.g. its stored configuration no longer reads),
    reported with the reason beside the others."""

    study_id: str
    title: str
    cutoff: date
    error: str

    def to_json(self) -> dict:
        return {"id": self.study_id, "title": self.title, "cutoff": self.cutoff.isoformat(),
                "error": self.error, "cohorts": [], "rules": []}

    def to_text(self) -> str:
        return f"{self.study_id} at {self.cutoff}: status not available: {self.error}"


def study_status(
    con: duckdb.DuckDBPyConnection,
    config: StudyConfig,
    cutoff: date,
    adjudicated_by: datetime | None = None,
) -> StudyStatus:
    """Counts, decisions and rule states of one study at the cut-off (see the module docstring).

    Adjudications apply whenever they were recorded, unless ``adjudicated_by`` limits them to
    those recorded up to that moment (the decisions as they were known then). A design that
    cannot decide on the data (a 3+3 with more than 6 at a dose) says so in the reasons; the
    counts are there all the same.
    """
    if not config.is_escalation:
        return monitoring_status(con, config, cutoff)
    states, history, design = escalation_inputs(con, config, cutoff, adjudicated_by)
    summary = cohort_summary(con, config, cutoff, states)
    study = study_recommendation(states, history, design, config)
    name = DESIGN_LABELS[config.design.name]

    cohorts = []
    for row in summary.itertuples():
        if row.is_control:
            cohorts.append(
                _cohort_status(
                    row,
                    "none",
                    "Control cohort: the reference beside the escalation, not part of it; no "
                    "DLT rule applies to it.",
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
        level = int(row.dose_level)
        at_dose = decide_when_due(design, dose_last(history, level),
                                  dose_progress(states, config, level), "at this dose")
        cohorts.append(
            _cohort_status(
                row,
                at_dose.action,
                at_dose.reason if at_dose.pending
                else f"What {name} would say at this dose: {at_dose.reason}",
                rules + at_dose.rule_states,
                evaluable_on,
                days,
                at_dose,
            )
        )

    return StudyStatus(
        study_id=config.study_id,
        title=config.title,
        design=config.design.name,
        design_description=describe_design(config),
        cutoff=cutoff,
        history=cohorts_from_patients(history),
        recommendation=study.action,
        recommendation_reason=study.reason,
        recommended_dose_level=study.dose_level,
        rules=study.rule_states,
        cohorts=tuple(cohorts),
        cohort_frame=summary,
        pending=study.pending,
        decision_due_on=study.decision_due_on,
        provisional_reason=study.provisional,
        protocol_design=design,
    )


def cohort_summary(con: duckdb.DuckDBPyConnection, config: StudyConfig, cutoff: date,
                   states: pd.DataFrame) -> pd.DataFrame:
    """``queries.subjects.cohort_summary`` with the DLT-state counts, the deaths and each
    cohort's dose as people read it (``dose_text``, from the configuration)."""
    summary = with_dlt_counts(queries.subjects.cohort_summary(con, config.study_id, cutoff), states)
    summary = with_deaths(summary, queries.adverse_events.deaths(con, config.study_id, cutoff))
    return summary.assign(dose_text=[config.cohort(c).dose_text() for c in summary["cohort_id"]])


def monitoring_status(
    con: duckdb.DuckDBPyConnection, config: StudyConfig, cutoff: date
) -> StudyStatus:
    """The status of a study monitored for safety only (no escalation design, no DLT
    definition): per cohort the counts, no DLTs, no decision, no rules; the reason says so."""
    no_states = pd.DataFrame({"cohort_id": pd.Series(dtype="str"),
                              "dlt_state": pd.Series(dtype="str")})
    summary = cohort_summary(con, config, cutoff, no_states)
    cohorts = tuple(replace(_cohort_status(row, "none", "", ()), escalation=False)
                    for row in summary.itertuples())
    return StudyStatus(
        study_id=config.study_id, title=config.title, design="none",
        design_description=MONITORING_ONLY, cutoff=cutoff, history=(),
        recommendation="none", recommendation_reason=MONITORING_ONLY,
        recommended_dose_level=None, rules=(), cohorts=cohorts, cohort_frame=summary,
        escalation=False,
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


def with_deaths(summary: pd.DataFrame, deaths: pd.DataFrame) -> pd.DataFrame:
    """The cohort summary with ``deaths``: subjects of the safety analysis set who died by the
    cut-off (``queries.adverse_events.deaths``)."""
    counts = deaths.groupby("cohort_id").size().rename("deaths")
    out = summary.merge(counts, left_on="cohort_id", right_index=True, how="left")
    out["deaths"] = out["deaths"].fillna(0).astype("int64")
    return out


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
    at_dose: Recommendation | None = None,
) -> CohortStatus:
    return CohortStatus(
        cohort_id=row.cohort_id,
        label=row.label,
        control=bool(row.is_control),
        dose_level=None if pd.isna(row.dose_level) else int(row.dose_level),
        dose=None if pd.isna(row.dose) else float(row.dose),
        dose_unit=None if pd.isna(row.dose_unit) else row.dose_unit,
        dose_text=row.dose_text,
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
        not_evaluable=int(row.not_evaluable),
        deaths=int(row.deaths),
        pending=at_dose is not None and at_dose.pending,
        decision_due_on=at_dose.decision_due_on if at_dose is not None else None,
        provisional_reason=at_dose.provisional if at_dose is not None else None,
        numbers=tuple((k, float(v)) for k, v in at_dose.decision.numbers.items())
        if at_dose is not None and at_dose.decision is not None else (),
    )
