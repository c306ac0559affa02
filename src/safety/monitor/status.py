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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd

from safety.config import StudyConfig, stored_study_config
from safety.errors import ConfigError, StoreError
from safety.escalation import (
    Boin,
    Crm,
    Design,
    DontSkipDoses,
    HardStop,
    KOfFirstN,
    Mtpi2,
    Outcomes,
    RuleState,
    StopAtN,
    StopWhenNAtDose,
    StopWhenTooToxic,
    ThreePlusThree,
    cohorts_from_patients,
    format_outcomes,
)
from safety.store import queries

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
        at_dose = design.decide(cohorts_from_patients(_dose_last(history, int(row.dose_level))))
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


def escalation_inputs(
    con: duckdb.DuckDBPyConnection,
    config: StudyConfig,
    cutoff: date,
    adjudicated_by: datetime | None = None,
) -> tuple[pd.DataFrame, list[tuple[int, bool]], Design]:
    """What the escalation decides on at the cut-off: (``queries.dlt.subject_dlt_states``, the
    evaluable history as (dose level, DLT) per patient, the design wrapped in the protocol's
    rules with the pending patients and hard-stop events of that day)."""
    states = queries.dlt.subject_dlt_states(con, config.study_id, cutoff, adjudicated_by)
    hard_stops = queries.adverse_events.hard_stop_events(con, config.study_id, cutoff, hard_stop_terms(config))
    levels = {c.cohort_id: c.dose_level for c in config.dose_cohorts}
    design = design_from_config(
        config,
        hard_stop_description(hard_stops),
        unevaluated=unevaluated_by_dose(states, levels),
        pending_first=pending_among_first(states, levels, _first_n(config)),
    )
    return states, evaluable_history(states, levels), design


def decision_history(
    con: duckdb.DuckDBPyConnection,
    config: StudyConfig,
    cutoff: date,
    adjudicated_by: datetime | None = None,
) -> pd.DataFrame:
    """The study's recommendation as it stood on every day the data behind it changed.

    The days are those of ``queries.dlt.dlt_change_dates`` up to the cut-off: a first dose, a DLT
    onset, the last day of a DLT window, a patient leaving inside the window. On each, the
    design and its stopping rules decide again exactly as :func:`study_status` does at that
    cut-off. Adjudications apply as recorded now (``adjudicated_by`` limits them to those
    recorded by then), so the history reads the events the way the review sees them today.

    Returns
    -------
    DataFrame
        day, events (what happened that day), treated, pending, outcomes (the evaluable history
        in Brock's notation), decision, dose_level (recommended next dose), reason, rules_not_ok
        (rules in warning or triggered), changed (True where the decision or dose differs from
        the day before).
    """
    changes = queries.dlt.dlt_change_dates(con, config.study_id, cutoff, adjudicated_by)
    dose_ids = {c.cohort_id for c in config.dose_cohorts}
    changes = changes[changes["cohort_id"].isin(dose_ids)].copy()  # the control is not escalated
    columns = [
        "day", "events", "treated", "pending", "outcomes", "decision", "dose_level", "reason",
        "rules_not_ok", "changed",
    ]  # fmt: skip
    if changes.empty:
        return pd.DataFrame(columns=columns)
    changes["day"] = pd.to_datetime(changes["day"]).dt.date
    changes["what"] = (
        changes["event"]
        + ": "
        + changes["usubjid"]
        + np.where(
            changes["detail"].fillna("") != "", " (" + changes["detail"].fillna("") + ")", ""
        )
    )
    events = changes.groupby("day", sort=True)["what"].agg("; ".join)
    rows = []
    previous: tuple[str, int | None] | None = None
    for day, what in events.items():
        states, history, design = escalation_inputs(con, config, day, adjudicated_by)
        outcomes = cohorts_from_patients(history)
        decision = design.decide(outcomes)
        dosed = states[states["cohort_id"].isin(dose_ids)]
        now = (decision.action.value, decision.dose_level)
        rows.append(
            {
                "day": day,
                "events": what,
                "treated": int(dosed["treated"].sum()),
                "pending": int((dosed["dlt_state"] == "pending").sum()),
                "outcomes": format_outcomes(outcomes),
                "decision": decision.action.value,
                "dose_level": decision.dose_level,
                "reason": decision.reason,
                "rules_not_ok": ", ".join(
                    f"{r.name} ({r.state})" for r in decision.rule_states if r.state != "ok"
                ),
                "changed": previous is not None and now != previous,
            }
        )
        previous = now
    return pd.DataFrame(rows, columns=columns)


def design_from_config(
    config: StudyConfig,
    hard_stop: str | None = None,
    *,
    unevaluated: Sequence[int] = (),
    pending_first: Sequence[int] = (),
) -> Design:
    """The study's design wrapped in its protocol's stopping rules.

    Doses are never skipped (DontSkipDoses) whatever the configuration says. ``hard_stop``
    describes the hard-stop events that occurred (None when none did). The wrappers' precedence
    is documented in ``safety.escalation.rules``: nesting order does not change the answer.

    Parameters
    ----------
    unevaluated : sequence of int, optional
        Per dose level, treated patients who are not in the outcomes yet (DLT window open, or
        not evaluable); the sample-size rules count them as treated
        (:func:`unevaluated_by_dose`).
    pending_first : sequence of int, optional
        Per dose level, patients among the first n treated whose window is still open; the
        "k of the first n" rule keeps their places (:func:`pending_among_first`).
    """
    d, num_doses = config.design, len(config.dose_cohorts)
    if d.name == "3+3":
        design: Design = ThreePlusThree(num_doses=num_doses, decide_on_excess_toxicity=True)
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
            design = KOfFirstN(
                design,
                k=rule.k,
                n=rule.n,
                pending_first=_per_rule(pending_first, rule.n),
                name=rule.name,
            )
        elif rule.kind == "too_toxic":
            design = StopWhenTooToxic(
                design, target=d.target, confidence=rule.certainty, name=rule.name
            )
        elif rule.kind == "max_subjects":
            design = StopAtN(design, n=rule.n, unevaluated=tuple(unevaluated), name=rule.name)
        elif rule.kind == "max_at_dose":
            design = StopWhenNAtDose(
                design, n=rule.n, unevaluated=tuple(unevaluated), name=rule.name
            )
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


def unevaluated_by_dose(states: pd.DataFrame, dose_levels: dict[str, int]) -> tuple[int, ...]:
    """Per dose level (index 0 = level 1): treated patients who are not in the evaluable history,
    i.e. still inside the DLT window (pending) or not evaluable.

    Parameters
    ----------
    states : DataFrame
        ``queries.dlt.subject_dlt_states`` (cohort_id, dlt_state).
    dose_levels : dict
        Cohort id -> dose level of the dose cohorts.
    """
    waiting = states[states["dlt_state"].isin(["pending", "not evaluable"])]
    counts = waiting["cohort_id"].map(dose_levels).dropna().astype(int).value_counts()
    return tuple(int(counts.get(level, 0)) for level in range(1, len(dose_levels) + 1))


def pending_among_first(
    states: pd.DataFrame, dose_levels: dict[str, int], n: int | None
) -> tuple[int, ...]:
    """Per dose level: how many of the first ``n`` patients treated there are still pending.

    Patients who are not evaluable (left before the end of the window without a DLT) are
    replaced by protocol, so they hold no place. Order: first dose date, then USUBJID, as in
    :func:`evaluable_history`. ``n`` None (no "k of the first n" rule) gives all zeros.
    """
    levels = range(1, len(dose_levels) + 1)
    if n is None:
        return tuple(0 for _ in levels)
    placed = states[
        states["dlt_state"].isin(["pending", "evaluable", "DLT"])
        & states["cohort_id"].isin(dose_levels)
    ].sort_values(["first_dose_date", "usubjid"])
    first = placed.groupby("cohort_id", sort=False).head(n)
    pending = first[first["dlt_state"] == "pending"]["cohort_id"].map(dose_levels).value_counts()
    return tuple(int(pending.get(level, 0)) for level in levels)


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


def _first_n(config: StudyConfig) -> int | None:
    """The n of the protocol's "k of the first n" rule (the largest, if there are several)."""
    ns = [r.n for r in config.stopping_rules if r.kind == "k_of_first_n"]
    return max(ns) if ns else None


def _per_rule(pending_first: Sequence[int], n: int) -> tuple[int, ...]:
    return tuple(min(int(p), n) for p in pending_first)


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
