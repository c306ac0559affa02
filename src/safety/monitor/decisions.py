"""The study's decisions: its design wrapped in the protocol's stopping rules, the evaluable
history the design decides on, and the recommendation on every day the data changed.

``safety.monitor.status`` puts them beside the counts; the designs themselves are the pure
engine in ``safety.escalation``. Over 600 lines because each rule's input has two forms kept
together, the by-day one (every day of the history at once) and the single-day one that runs it
on one day, so that each rule still has one home.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd

from safety.config import MONITORING_ONLY, StudyConfig
from safety.errors import ConfigError, DesignError
from safety.escalation import (
    Action,
    Boin,
    Crm,
    Decision,
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
    cohorts_from_patients,
    format_outcomes,
)
from safety.store import queries

log = logging.getLogger(__name__)

PENDING_PAUSE_FRACTION = 0.5  # Yuan et al. (2018) TITE-BOIN: pause when > half of a cohort pending
DESIGN_LABELS = {"3+3": "the 3+3", "boin": "BOIN", "mtpi2": "mTPI-2", "crm": "the CRM"}
# Decisions taken at once, whatever the patients still in their window show: a stop, or a dose
# eliminated for toxicity (safety first: no more patients are exposed while waiting).
IMMEDIATE_ACTIONS = (Action.STOP, Action.ELIMINATE)
EVALUATED = ("evaluable", "DLT")  # DLT states that are in the evaluable history


@dataclass(frozen=True)
class DoseProgress:
    """How far the patients treated at one dose level are, for the cohort-based decision.

    A cohort-based design decides when the cohort's patients are evaluable: at least one full
    cohort (``cohort_size``, the protocol's) dosed at the dose, none of them still inside the
    DLT window, and at least one evaluable (patients who are not evaluable are replaced and do
    not enter the decision). Until then the decision is pending.
    """

    dose_level: int
    cohort_size: int
    dosed: int
    evaluable: int
    pending: int
    not_evaluable: int
    last_window_end: date | None  # the last open DLT window's last day (None: none open)

    @property
    def complete(self) -> bool:
        return self.pending == 0 and self.dosed >= self.cohort_size and self.evaluable > 0

    @property
    def to_dose(self) -> int:
        """Patients of the cohort not dosed yet."""
        return max(self.cohort_size - self.dosed, 0)

    @property
    def expected(self) -> int:
        """The evaluable patients the decision will rest on: the cohort (or everyone dosed,
        when more), less those who are not evaluable."""
        return max(self.cohort_size, self.dosed) - self.not_evaluable

    @property
    def due_on(self) -> date | None:
        """The day the decision is due: when the last open window closes, once the whole
        cohort is dosed (None while patients of the cohort are still to be dosed)."""
        return None if self.to_dose else self.last_window_end

    def pending_text(self, where: str) -> str:
        """``"pending: 4 of 8 evaluable at dose level 3 (2 in the DLT window, 2 not dosed
        yet), decision due on 2021-02-02"``."""
        parts = []
        if self.pending:
            parts.append(f"{self.pending} in the DLT window")
        if self.to_dose:
            parts.append(f"{self.to_dose} not dosed yet")
        if self.not_evaluable:
            parts.append(f"{self.not_evaluable} not evaluable")
        detail = f" ({', '.join(parts)})" if parts else ""
        if self.due_on is not None:
            due = f", decision due on {self.due_on.isoformat()}"
        elif self.last_window_end is not None:
            due = (f", decision due once {self.expected} are evaluable (not before "
                   f"{self.last_window_end.isoformat()})")
        else:
            due = f", decision due once {self.expected} are evaluable"
        return f"pending: {self.evaluable} of {self.expected} evaluable {where}{detail}{due}"


@dataclass(frozen=True)
class Recommendation:
    """The decision of a cohort-based design as it stands: taken, or pending.

    ``action`` is the status JSON's decision (``none`` while pending or when the design cannot
    decide); ``provisional`` is what the design would say on the evaluable patients so far
    (labelled as such, never the decision).
    """

    action: str
    dose_level: int | None
    reason: str
    pending: bool
    decision_due_on: date | None
    provisional: str | None
    decision: Decision | None

    @property
    def rule_states(self) -> tuple[RuleState, ...]:
        return self.decision.rule_states if self.decision is not None else ()


def decide_when_due(
    design: Design, history: list[tuple[int, bool]], progress: DoseProgress | None, where: str
) -> Recommendation:
    """The design's decision on the evaluable history, taken when it is due.

    Due when the patients at the dose being decided (``progress``) are evaluable
    (:class:`DoseProgress`), or at once when the decision stops the trial or eliminates a dose
    (a safety stop does not wait). A design that cannot decide on these data (a 3+3 with more
    than 6 at a dose) says why; the decision is then ``none``.
    """
    try:
        decision = design.decide(cohorts_from_patients(history))
    except DesignError as exc:
        return Recommendation("none", None, f"{exc}: the design cannot decide.", False, None,
                              None, None)
    if progress is None or progress.complete or decision.action in IMMEDIATE_ACTIONS:
        return Recommendation(decision.action.value, decision.dose_level, decision.reason, False,
                              None, None, decision)
    return Recommendation("none", progress.dose_level, progress.pending_text(where), True,
                          progress.due_on, decision.reason, decision)


def dose_progress(
    states: pd.DataFrame, config: StudyConfig, dose_level: int
) -> DoseProgress | None:
    """The progress of the patients treated at ``dose_level`` (None when nobody is)."""
    return dose_progress_by_day(_one_day(states), config, {ONE_DAY: dose_level}).get(ONE_DAY)


def dose_progress_by_day(
    states: pd.DataFrame, config: StudyConfig, dose_level: dict[pd.Timestamp, int | None]
) -> dict[pd.Timestamp, DoseProgress]:
    """:func:`dose_progress` on each day of ``states`` (column ``cutoff``) at that day's
    ``dose_level``; days when nobody is treated there are left out."""
    levels = {c.cohort_id: c.dose_level for c in config.dose_cohorts}
    at = states.loc[states["cohort_id"].isin(list(levels))
                    & states["treated"].fillna(False).astype(bool),
                    ["cutoff", "cohort_id", "dlt_state", "window_end"]]  # fmt: skip
    days = _days(states)
    day = pd.Index(days).get_indexer(at["cutoff"])
    wanted = np.array([dose_level.get(d) or 0 for d in days], dtype=int)  # 0: no level
    at_level = _dose_level_of(at["cohort_id"], levels) == wanted[day]
    day, state = day[at_level], at["dlt_state"].to_numpy(dtype=object)[at_level]
    pending = state == "pending"

    def per_day(flags: np.ndarray) -> np.ndarray:
        return np.bincount(day, weights=flags, minlength=len(days)).astype(int)

    dosed, evaluable = per_day(np.ones(len(day))), per_day(np.isin(state, EVALUATED))
    waiting, not_evaluable = per_day(pending), per_day(state == "not evaluable")
    ends = at["window_end"].to_numpy(dtype="datetime64[us]")[at_level][pending]
    last_end = pd.Series(ends).groupby(day[pending]).max() if pending.any() else pd.Series()
    return {
        d: DoseProgress(
            dose_level=int(wanted[i]),
            cohort_size=config.design.cohort_size,
            dosed=int(dosed[i]),
            evaluable=int(evaluable[i]),
            pending=int(waiting[i]),
            not_evaluable=int(not_evaluable[i]),
            last_window_end=(pd.Timestamp(last_end[i]).date()
                             if i in last_end.index and pd.notna(last_end[i]) else None),
        )
        for i, d in enumerate(days) if dosed[i]
    }


def current_dose_level(states: pd.DataFrame, config: StudyConfig) -> int | None:
    """The dose level being treated: that of the patient dosed last (first dose, then USUBJID)."""
    return current_dose_level_by_day(_one_day(states), config).get(ONE_DAY)


def current_dose_level_by_day(
    states: pd.DataFrame, config: StudyConfig
) -> dict[pd.Timestamp, int | None]:
    """:func:`current_dose_level` on each day of ``states`` (column ``cutoff``)."""
    levels = {c.cohort_id: c.dose_level for c in config.dose_cohorts}
    dosed = states.loc[states["cohort_id"].isin(list(levels))
                       & states["treated"].fillna(False).astype(bool),
                       ["cutoff", "first_dose_date", "usubjid", "cohort_id"]]  # fmt: skip
    dosed = dosed.sort_values(["cutoff", "first_dose_date", "usubjid"])
    cohorts = dosed["cohort_id"].tolist()
    out: dict[pd.Timestamp, int | None] = dict.fromkeys(_days(states))
    for day, (_, stop) in _segments(dosed["cutoff"]).items():
        out[day] = int(levels[cohorts[stop - 1]])  # the day's last patient dosed
    return out


def study_recommendation(
    states: pd.DataFrame, history: list[tuple[int, bool]], design: Design, config: StudyConfig
) -> Recommendation:
    """The study's decision for the next patients: decided when the patients of the dose being
    treated are evaluable (:func:`decide_when_due`)."""
    level = current_dose_level(states, config)
    progress = None if level is None else dose_progress(states, config, level)
    return recommendation_at(design, history, level, progress)


def recommendation_at(design: Design, history: list[tuple[int, bool]], level: int | None,
                      progress: DoseProgress | None) -> Recommendation:  # fmt: skip
    """:func:`study_recommendation` from the dose level being treated and its progress."""
    return decide_when_due(design, history, progress, f"at dose level {level}")


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
    hard_stops = queries.adverse_events.hard_stop_events(
        con, config.study_id, cutoff, hard_stop_terms(config))
    return (states, *inputs_from(config, states, hard_stops))


def inputs_from(
    config: StudyConfig, states: pd.DataFrame, hard_stops: pd.DataFrame
) -> tuple[list[tuple[int, bool]], Design]:
    """(the evaluable history, the design wrapped in the protocol's rules) from the subjects'
    states and the hard-stop events of one cut-off."""
    levels = {c.cohort_id: c.dose_level for c in config.dose_cohorts}
    design = design_from_config(
        config,
        hard_stop_description(hard_stops),
        unevaluated=unevaluated_by_dose(states, levels),
        pending_first=pending_among_first(states, levels, _first_n(config)),
    )
    return evaluable_history(states, levels), design


def decision_history(
    con: duckdb.DuckDBPyConnection,
    config: StudyConfig,
    cutoff: date,
    adjudicated_by: datetime | None = None,
) -> pd.DataFrame:
    """The study's recommendation as it stood on every day the data behind it changed.

    The days are those of ``queries.dlt.dlt_change_dates`` up to the cut-off (a first dose, a DLT
    onset, the last day of a DLT window, a patient leaving inside the window) and the onsets of
    hard-stop events (``hard_stop_terms`` rules; the trial stops that day). On each, the
    design and its stopping rules decide again exactly as the study status does at that
    cut-off, so the history shows the decisions as they could have been taken: pending until the
    cohort's patients were evaluable (:func:`decide_when_due`), and with the adjudications
    recorded by the end of that day (``adjudicated_by`` limits them further).

    Returns
    -------
    DataFrame
        day, events (what happened that day), treated, pending, outcomes (the evaluable history
        in Brock's notation), decision, decision_state (the decision, or "pending" while it
        waits for the patients of the current dose), dose_level (recommended next dose; the
        dose being treated while pending), reason, rules_not_ok (rules in warning or
        triggered), changed (True where the decision or dose differs from the day before).
    """
    stops = queries.adverse_events.hard_stop_events(
        con, config.study_id, cutoff, hard_stop_terms(config))  # by onset: a day's are a prefix
    changes = queries.dlt.dlt_change_dates(con, config.study_id, cutoff, adjudicated_by)
    dose_ids = {c.cohort_id for c in config.dose_cohorts}
    changes = changes[changes["cohort_id"].isin(dose_ids)]  # the control is not escalated
    if len(stops):  # a hard-stop event stops the trial on its day
        changes = pd.concat([changes, pd.DataFrame({
            "day": stops["start_date"], "usubjid": stops["usubjid"], "event": "hard-stop event",
            "detail": stops["pt"]}).dropna(subset=["day"])], ignore_index=True)
    columns = [
        "day", "events", "treated", "pending", "outcomes", "decision", "decision_state",
        "dose_level", "reason", "rules_not_ok", "changed",
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
    # every day's states in one query, each rule's input for every day at once (a day is the
    # design's decision only)
    states = queries.dlt.subject_dlt_states_by_day(
        con, config.study_id, list(events.index), adjudicated_by)
    levels = {c.cohort_id: c.dose_level for c in config.dose_cohorts}
    histories = evaluable_history_by_day(states, levels)
    unevaluated = unevaluated_by_dose_by_day(states, levels)
    pending_first = pending_among_first_by_day(states, levels, _first_n(config))
    treating = current_dose_level_by_day(states, config)
    progress = dose_progress_by_day(states, config, treating)
    days = pd.DatetimeIndex([pd.Timestamp(day) for day in events.index])
    dosed = states["cohort_id"].isin(list(dose_ids)).to_numpy()
    day_of = days.get_indexer(states["cutoff"])[dosed]
    treated = np.bincount(day_of, weights=states["treated"].astype(bool).to_numpy()[dosed],
                          minlength=len(days)).astype(int)
    pending = np.bincount(day_of, weights=(states["dlt_state"] == "pending").to_numpy()[dosed],
                          minlength=len(days)).astype(int)
    stop_on = pd.to_datetime(stops["start_date"]).to_numpy(dtype="datetime64[us]")
    stopped_by: dict[int, str | None] = {}  # the description of the first k hard-stop events
    rows = []
    previous: tuple[str, bool, int | None] | None = None
    for i, (day, what) in enumerate(events.items()):
        key = days[i]
        history = histories[key]
        k = int(np.searchsorted(stop_on, key.to_datetime64(), side="right"))
        if k not in stopped_by:
            stopped_by[k] = hard_stop_description(stops.iloc[:k])
        design = design_from_config(
            config, stopped_by[k],
            unevaluated=unevaluated[key], pending_first=pending_first[key])
        decision = recommendation_at(design, history, treating[key], progress.get(key))
        now = (decision.action, decision.pending, decision.dose_level)
        rows.append(
            {
                "day": day,
                "events": what,
                "treated": int(treated[i]),
                "pending": int(pending[i]),
                "outcomes": format_outcomes(cohorts_from_patients(history)),
                "decision": decision.action,
                "decision_state": "pending" if decision.pending else decision.action,
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
    """The design, DLT definition and stopping rules in a few sentences a DSMB member reads
    (``config.MONITORING_ONLY`` for a study that declares none)."""
    if not config.is_escalation:
        return MONITORING_ONLY
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
    return evaluable_history_by_day(_one_day(states), dose_levels).get(ONE_DAY, [])


def evaluable_history_by_day(
    states: pd.DataFrame, dose_levels: dict[str, int]
) -> dict[pd.Timestamp, list[tuple[int, bool]]]:
    """:func:`evaluable_history` on each day of ``states`` (column ``cutoff``)."""
    done = states.loc[states["dlt_state"].isin(EVALUATED)
                      & states["cohort_id"].isin(list(dose_levels)),
                      ["cutoff", "first_dose_date", "usubjid", "cohort_id", "dlt_state"]]
    done = done.sort_values(["cutoff", "first_dose_date", "usubjid"])
    levels = _dose_level_of(done["cohort_id"], dose_levels).astype(int).tolist()
    dlts = (done["dlt_state"] == "DLT").tolist()
    out: dict[pd.Timestamp, list[tuple[int, bool]]] = {day: [] for day in _days(states)}
    for day, (start, stop) in _segments(done["cutoff"]).items():
        out[day] = list(zip(levels[start:stop], dlts[start:stop], strict=True))
    return out


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
    return unevaluated_by_dose_by_day(_one_day(states), dose_levels)[ONE_DAY]


def unevaluated_by_dose_by_day(
    states: pd.DataFrame, dose_levels: dict[str, int]
) -> dict[pd.Timestamp, tuple[int, ...]]:
    """:func:`unevaluated_by_dose` on each day of ``states`` (column ``cutoff``)."""
    waiting = states.loc[states["dlt_state"].isin(["pending", "not evaluable"]),
                         ["cutoff", "cohort_id"]]
    return _per_level_by_day(states, waiting, dose_levels)


def pending_among_first(
    states: pd.DataFrame, dose_levels: dict[str, int], n: int | None
) -> tuple[int, ...]:
    """Per dose level: how many of the first ``n`` patients treated there are still pending.

    Patients who are not evaluable (left before the end of the window without a DLT) are
    replaced by protocol, so they hold no place. Order: first dose date, then USUBJID, as in
    :func:`evaluable_history`. ``n`` None (no "k of the first n" rule) gives all zeros.
    """
    return pending_among_first_by_day(_one_day(states), dose_levels, n)[ONE_DAY]


def pending_among_first_by_day(
    states: pd.DataFrame, dose_levels: dict[str, int], n: int | None
) -> dict[pd.Timestamp, tuple[int, ...]]:
    """:func:`pending_among_first` on each day of ``states`` (column ``cutoff``)."""
    if n is None:
        return _per_level_by_day(states, states.iloc[:0], dose_levels)
    placed = states.loc[states["dlt_state"].isin(["pending", *EVALUATED])
                        & states["cohort_id"].isin(list(dose_levels)),
                        ["cutoff", "first_dose_date", "usubjid", "cohort_id", "dlt_state"]]
    placed = placed.sort_values(["cutoff", "first_dose_date", "usubjid"])
    first = placed.groupby(["cutoff", "cohort_id"], sort=False).head(n)
    return _per_level_by_day(states, first[first["dlt_state"] == "pending"], dose_levels)


def _per_level_by_day(states: pd.DataFrame, counted: pd.DataFrame,
                      dose_levels: dict[str, int]) -> dict[pd.Timestamp, tuple[int, ...]]:  # fmt: skip
    """Per day of ``states``, the rows of ``counted`` per dose level 1 .. len(dose_levels)."""
    k, days = len(dose_levels), _days(states)
    table = np.zeros((len(days), k), dtype=int)
    level = _dose_level_of(counted["cohort_id"], dose_levels)
    day = pd.Index(days).get_indexer(counted["cutoff"])
    ok = (level >= 1) & (level <= k)  # NaN: not a dose cohort
    np.add.at(table, (day[ok], level[ok].astype(int) - 1), 1)
    return {d: tuple(row) for d, row in zip(days, table.tolist(), strict=True)}


def _dose_level_of(cohort_ids: pd.Series, dose_levels: dict[str, int]) -> np.ndarray:
    """Each row's dose level (NaN: not a dose cohort); through the few distinct cohort ids, not
    row by row (``Series.map`` took 1.8 s on the 2.9M rows of a large study's history)."""
    codes, ids = pd.factorize(cohort_ids)
    level = np.array([dose_levels.get(i, np.nan) for i in ids] + [np.nan], dtype=float)
    return level[codes]  # code -1 (a missing id) takes the last entry: NaN


# The single-day functions run the by-day ones on a frame with one day: this one.
ONE_DAY = pd.Timestamp(0)


def _one_day(states: pd.DataFrame) -> pd.DataFrame:
    return states.assign(cutoff=ONE_DAY)


def _days(states: pd.DataFrame) -> list[pd.Timestamp]:
    return [pd.Timestamp(day) for day in states["cutoff"].unique()]


def _segments(days: pd.Series) -> dict[pd.Timestamp, tuple[int, int]]:
    """(start, stop) positions of each day's rows in ``days``, sorted by day."""
    values = days.to_numpy()
    if not len(values):
        return {}
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    stops = [*starts[1:], len(values)]
    return {pd.Timestamp(values[a]): (int(a), int(b)) for a, b in zip(starts, stops, strict=True)}


def _first_n(config: StudyConfig) -> int | None:
    """The n of the protocol's "k of the first n" rule (the largest, if there are several)."""
    ns = [r.n for r in config.stopping_rules if r.kind == "k_of_first_n"]
    return max(ns) if ns else None


def _per_rule(pending_first: Sequence[int], n: int) -> tuple[int, ...]:
    return tuple(min(int(p), n) for p in pending_first)


def dose_last(history: list[tuple[int, bool]], dose_level: int) -> list[tuple[int, bool]]:
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
