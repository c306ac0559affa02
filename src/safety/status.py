"""Per-cohort status of a study at a data cut-off: counts, the escalation decision and its reason,
and the state of every stopping rule. The one source for ``status --json``, the Overview page and
the reports.

How data become a decision (each step keeps its reason):

1. ``queries.subject_dlt_states``: each subject's DLT-window state (pending, evaluable, DLT, ...).
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
from datetime import date

import duckdb
import pandas as pd

from safety import queries
from safety.config import StudyConfig, parse_study_config
from safety.errors import ConfigError, StoreError
from safety.escalation import (
    Boin,
    Crm,
    Design,
    DontSkipDoses,
    HardStop,
    KOfFirstN,
    Mtpi2,
    RuleState,
    StopAtN,
    StopWhenNAtDose,
    StopWhenTooToxic,
    ThreePlusThree,
    outcomes_from_counts,
)

log = logging.getLogger(__name__)

PENDING_PAUSE_FRACTION = 0.5  # Yuan et al. (2018) TITE-BOIN: pause when > half of a cohort pending


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
        }


@dataclass(frozen=True)
class StudyStatus:
    """A study at the cut-off: its cohorts, the recommendation for the next patients, the rules."""

    study_id: str
    title: str
    design: str
    design_description: str
    cutoff: date
    outcomes: str
    recommendation: str
    recommendation_reason: str
    recommended_dose_level: int | None
    rules: tuple[RuleState, ...]
    cohorts: tuple[CohortStatus, ...]
    cohort_frame: pd.DataFrame  # queries.cohort_summary, for charts

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
    all_studies = queries.studies(con)
    if study_id is not None:
        all_studies = all_studies[all_studies["study_id"].str.lower() == study_id.lower()]
        if all_studies.empty:
            raise StoreError(f"no study {study_id!r} in the database")
    result = []
    for row in all_studies.itertuples():  # one per study
        config = parse_study_config(row.config_toml, f"{row.study_id} (stored configuration)")
        study_cutoff = cutoff or (
            row.data_cutoff.date() if pd.notna(row.data_cutoff) else date.today()
        )
        result.append(study_status(con, config, study_cutoff))
    return result


def study_status(con: duckdb.DuckDBPyConnection, config: StudyConfig, cutoff: date) -> StudyStatus:
    """Counts, decisions and rule states of one study at the cut-off (see the module docstring)."""
    summary = queries.cohort_summary(con, config.study_id, cutoff, config.dlt)
    states = queries.subject_dlt_states(con, config.study_id, cutoff, config.dlt)
    hard_stops = queries.hard_stop_events(con, config.study_id, cutoff, hard_stop_terms(config))

    levels = {c.cohort_id: c.dose_level for c in config.dose_cohorts}
    history = evaluable_history(states, levels)
    design = design_from_config(config, hard_stop_description(hard_stops))
    decision = design.decide(outcomes_from_counts(history))

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
        if not any(level == row.dose_level for level, _ in history):
            text = (
                "Not treated yet."
                if row.treated == 0
                else "No patient has completed the DLT window yet."
            )
            cohorts.append(_cohort_status(row, "none", text, rules))
            continue
        at_dose = design.decide(outcomes_from_counts(_dose_last(history, int(row.dose_level))))
        cohorts.append(
            _cohort_status(row, at_dose.action.value, at_dose.reason, rules + at_dose.rule_states)
        )

    return StudyStatus(
        study_id=config.study_id,
        title=config.title,
        design=config.design.name,
        design_description=describe_design(config),
        cutoff=cutoff,
        outcomes=outcomes_from_counts(history),
        recommendation=decision.action.value,
        recommendation_reason=decision.reason,
        recommended_dose_level=decision.dose_level,
        rules=decision.rule_states,
        cohorts=tuple(cohorts),
        cohort_frame=summary,
    )


def design_from_config(config: StudyConfig, hard_stop: str | None = None) -> Design:
    """The study's design wrapped in its protocol's stopping rules.

    Doses are never skipped (DontSkipDoses) whatever the configuration says. ``hard_stop``
    describes the hard-stop events that occurred (None when none did). The wrappers' precedence
    is documented in ``safety.escalation.rules``: nesting order does not change the answer.
    """
    d, num_doses = config.design, len(config.dose_cohorts)
    if d.name == "3+3":
        design: Design = ThreePlusThree(num_doses=num_doses)
    elif d.name == "boin":
        design = Boin(num_doses=num_doses, target=d.target)
    elif d.name == "mtpi2":
        design = Mtpi2(num_doses=num_doses, target=d.target)
    elif d.name == "crm":
        if d.skeleton is None:
            raise ConfigError(f"{config.study_id}: [design] a CRM design needs a skeleton")
        design = Crm(
            skeleton=d.skeleton, target=d.target, model=d.model, start_dose=d.start_dose_level
        )
    else:  # config.py admits only the names above
        raise ConfigError(f"{config.study_id}: unknown design {d.name!r}")
    design = DontSkipDoses(design)
    for rule in config.stopping_rules:
        if rule.kind == "k_of_first_n":
            design = KOfFirstN(design, k=rule.k, n=rule.n, name=rule.name)
        elif rule.kind == "too_toxic":
            design = StopWhenTooToxic(
                design, target=d.target, confidence=rule.certainty, name=rule.name
            )
        elif rule.kind == "max_subjects":
            design = StopAtN(design, n=rule.n, name=rule.name)
        elif rule.kind == "max_at_dose":
            design = StopWhenNAtDose(design, n=rule.n, name=rule.name)
        elif rule.kind == "hard_stop_terms":
            design = HardStop(
                design, occurred=hard_stop is not None, description=hard_stop or "", name=rule.name
            )
    return design


def describe_design(config: StudyConfig) -> str:
    """The design, DLT definition and stopping rules in a few sentences a DSMB member reads."""
    d, dlt = config.design, config.dlt
    names = {
        "3+3": "3+3 (Storer 1989)",
        "boin": "BOIN (Liu & Yuan 2015)",
        "mtpi2": "mTPI-2 (Guo et al. 2017)",
        "crm": "CRM (O'Quigley, Pepe & Fisher 1990)",
    }
    lines = [
        f"**Design:** {names[d.name]}"
        + (f", target DLT rate {d.target:g}" if d.name != "3+3" else "")
        + f", cohorts of {d.cohort_size}, {len(config.dose_cohorts)} dose levels; doses are never skipped.",
        f"**DLT:** an event starting within {dlt.window_days} days of the first dose with CTCAE grade "
        f"≥ {dlt.min_grade}"
        + (" related to treatment" if dlt.require_related else "")
        + (f", or any of: {', '.join(dlt.always_terms)}" if dlt.always_terms else "")
        + (f"; never: {', '.join(dlt.excluded_terms)}" if dlt.excluded_terms else "")
        + ".",
        "**Stopping rules:** " + "; ".join(r.name for r in config.stopping_rules) + ".",
    ]
    return "\n\n".join(lines)


def evaluable_history(states: pd.DataFrame, dose_levels: dict[str, int]) -> list[tuple[int, bool]]:
    """(dose level, had a DLT) for each evaluable subject of the dose cohorts, in order of first dose.

    Pending subjects (window open, no DLT yet) and subjects who are not evaluable are left out.
    """
    done = states[
        states["dlt_state"].isin(["evaluable", "DLT"]) & states["cohort_id"].isin(dose_levels)
    ]
    done = done.sort_values(["first_dose_date", "usubjid"])
    return list(
        zip(
            done["cohort_id"].map(dose_levels).astype(int).tolist(),
            (done["dlt_state"] == "DLT").tolist(),
            strict=True,
        )
    )


def _dose_last(history: list[tuple[int, bool]], dose_level: int) -> list[tuple[int, bool]]:
    """The same history with the patients of ``dose_level`` moved to the end (the current dose)."""
    return [h for h in history if h[0] != dose_level] + [h for h in history if h[0] == dose_level]


def pending_state(pending: int, treated: int, pending_rows: pd.DataFrame) -> RuleState:
    """Accrual pause: more than half of the treated patients at a dose still in their DLT window.

    References
    ----------
    Yuan Y., Lin R., Li D., Nie L., Warren K.E. (2018). Time-to-event Bayesian optimal interval
    design to accelerate phase I trials. Clin Cancer Res 24(20):4921-4930 (accrual suspension rule).
    """
    name = "Accrual pause (pending DLT windows)"
    if pending == 0:
        return RuleState(name, "ok", "No patient at this dose is inside the DLT window.")
    days = ", ".join(f"{r.usubjid} {int(r.days_left)} d" for r in pending_rows.itertuples())
    state = "triggered" if pending > PENDING_PAUSE_FRACTION * treated else "warning"
    verdict = (
        "more than half: accrual should pause until windows complete"
        if state == "triggered"
        else "at most half: accrual may continue"
    )
    return RuleState(
        name,
        state,
        f"{pending} of {treated} treated pending ({verdict}); days left: {days}.",
        {"pending": pending, "treated": treated},
    )


def hard_stop_description(events: pd.DataFrame) -> str | None:
    """What the hard-stop events were (None when there were none), for the HardStop rule."""
    if events.empty:
        return None
    return "; ".join(
        f"{r.pt} in {r.usubjid} on {r.start_date:%Y-%m-%d}" for r in events.itertuples()
    )


def hard_stop_terms(config: StudyConfig) -> list[str]:
    """Every term that stops the study when it occurs (``hard_stop_terms`` rules)."""
    return [t for r in config.stopping_rules if r.kind == "hard_stop_terms" for t in r.terms]


def _cohort_status(row, decision: str, reason: str, rules: tuple[RuleState, ...]) -> CohortStatus:
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
    )
