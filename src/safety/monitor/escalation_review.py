"""What the Dose escalation page shows beside the study status: the DLT-window clock of each
patient, DLT counts by adjudication status, the design's decision table with the current cell,
toxicity estimates with uncertainty, the four designs side by side, and the dose-path tree.

Every function takes the study status (``safety.monitor.status``) or query frames and returns a frame
or a small object; nothing here reads the database or renders anything.

References
----------
Liu S. and Yuan Y. (2015). Bayesian optimal interval designs for phase I clinical trials.
JRSS C 64:507-523 (boundaries, Beta(1, 1) posterior, isotonic MTD selection).
Guo W., Wang S.-J., Yang S., Lynn H., Ji Y. (2017). A Bayesian interval dose-finding design
addressing Ockham's razor: mTPI-2. Contemp Clin Trials 58:23-33.
O'Quigley J., Pepe M., Fisher L. (1990). Continual reassessment method. Biometrics 46:33-48;
Cheung Y.K., dfcrm ``crm`` (posterior intervals ``ptoxL``/``ptoxU``) and ``getprior``.
Yap C. et al. (2017). Dose transition pathways. Clin Cancer Res 23(24):7440-7447.
Storer B.E. (1989). Design and analysis of phase I clinical trials. Biometrics 45:925-937.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from safety.config import StudyConfig
from safety.errors import DesignError
from safety.escalation import (
    Boin,
    Crm,
    Design,
    Mtpi2,
    ThreePlusThree,
    counts_by_dose,
    crm_skeleton,
    dose_paths,
    isotonic_estimates,
    last_dose,
)
from safety.escalation.crm import crm_tox
from safety.monitor.status import StudyStatus

log = logging.getLogger(__name__)

INTERVAL_LEVEL = 0.95  # our convention: 95% intervals for every estimate on the page
BETA_PRIOR = (1.0, 1.0)  # Liu & Yuan (2015): Beta(1, 1) prior on each dose's DLT rate
CRM_DEFAULT_HALFWIDTH = 0.05  # Lee & Cheung (2009): indifference-interval half-width 0.05
DECISION_TABLE_MIN_N = 12  # show the decision table at least up to 12 patients at a dose
DECISION_TABLE_MAX_N = 30  # DESIGN.md: `design boundaries` default --max-n
CURRENT_MARK = "▶ "  # prefix of the current cell in the decision table
DECISION_LETTERS = {
    "E": "escalate",
    "S": "stay",
    "D": "de-escalate",
    "DU": "de-escalate and eliminate",
}


# --- the DLT window clock and DLT counts ------------------------------------------------------


def dlt_clock(states: pd.DataFrame, config: StudyConfig) -> pd.DataFrame:
    """Patients of the dose cohorts still inside their DLT window, with the time left.

    Parameters
    ----------
    states : DataFrame
        ``queries.dlt.subject_dlt_states`` at the cut-off (usubjid, cohort_id, first_dose_date,
        window_end, dlt_state, days_left).
    config : StudyConfig
        For the window length (``[dlt] window_days``) and the cohort labels.

    Returns
    -------
    DataFrame
        cohort_id, cohort, usubjid, first_dose_date, window_end, day (day of the window at the
        cut-off, 1 = day of first dose), days_left, elapsed (fraction of the window gone, 0-1);
        ordered by cohort and days left.
    """
    window = config.dlt.window_days
    labels = {c.cohort_id: c.label for c in config.dose_cohorts}
    pending = states[(states["dlt_state"] == "pending") & states["cohort_id"].isin(labels)].copy()
    days_left = pending["days_left"].astype(int)
    day = window - days_left
    out = pd.DataFrame(
        {
            "cohort_id": pending["cohort_id"],
            "cohort": pending["cohort_id"].map(labels),
            "usubjid": pending["usubjid"],
            "first_dose_date": pd.to_datetime(pending["first_dose_date"]).dt.date,
            "window_end": pd.to_datetime(pending["window_end"]).dt.date,
            "day": day,
            "days_left": days_left,
            "elapsed": (day / window).clip(0, 1),
        }
    )
    order = {c.cohort_id: c.dose_level for c in config.dose_cohorts}
    return (
        out.assign(_order=out["cohort_id"].map(order))
        .sort_values(["_order", "days_left", "usubjid"])
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def dlt_counts(events: pd.DataFrame) -> pd.DataFrame:
    """DLT events per cohort by adjudication status.

    Parameters
    ----------
    events : DataFrame
        ``queries.dlt.dlt_events`` (cohort_id, dlt_status).

    Returns
    -------
    DataFrame
        Index cohort_id; columns candidate (not adjudicated), confirmed, added, rejected,
        counted (candidate + confirmed + added: the events the decisions use).
    """
    statuses = ["candidate", "confirmed", "added", "rejected"]
    counts = (
        events.groupby(["cohort_id", "dlt_status"]).size().unstack(fill_value=0)
        if not events.empty
        else pd.DataFrame()
    )
    counts = counts.reindex(columns=statuses, fill_value=0).astype(int)
    counts["counted"] = counts["candidate"] + counts["confirmed"] + counts["added"]
    return counts


def cohort_review(status: StudyStatus, events: pd.DataFrame) -> pd.DataFrame:
    """One row per dose cohort, as the Dose escalation page lists them.

    Returns
    -------
    DataFrame
        Cohort, Dose, Treated, Evaluable, Pending, Evaluable on (the day the last open DLT
        window closes; empty when none is open), Subjects with DLT, DLTs confirmed, DLTs
        candidate (not adjudicated yet), DLTs added, DLTs rejected, Decision (what the design
        would say at this dose, or "pending"), Reason.
    """
    counts = dlt_counts(events)
    rows = []
    for c in status.cohorts:
        if c.control:
            continue
        n = counts.loc[c.cohort_id] if c.cohort_id in counts.index else None
        rows.append(
            {
                "Cohort": c.label,
                "Dose": f"{c.dose:g} {c.dose_unit}" if c.dose is not None else "",
                "Treated": c.treated,
                "Evaluable": c.evaluable,
                "Pending": c.in_dlt_window,
                "Evaluable on": pd.Timestamp(c.evaluable_on) if c.evaluable_on else pd.NaT,
                "Subjects with DLT": c.dlts,
                "DLTs confirmed": 0 if n is None else int(n["confirmed"]),
                "DLTs candidate": 0 if n is None else int(n["candidate"]),
                "DLTs added": 0 if n is None else int(n["added"]),
                "DLTs rejected": 0 if n is None else int(n["rejected"]),
                "Decision": c.decision_label,
                "Reason": c.reason,
            }
        )
    return pd.DataFrame(rows)


# --- the decision table -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CurrentCell:
    """Patients evaluable and DLTs at the dose treated last: the cell the design reads now."""

    dose_level: int | None
    n: int
    dlts: int


def current_cell(status: StudyStatus, num_doses: int) -> CurrentCell:
    """The decision-table cell of the current dose (the dose of the last evaluable patients)."""
    level = last_dose(status.outcomes)
    if level is None:
        return CurrentCell(None, 0, 0)
    n, y = counts_by_dose(status.outcomes, num_doses)
    return CurrentCell(level, int(n[level - 1]), int(y[level - 1]))


def decision_table(
    design: str, target: float, max_n: int, current: CurrentCell | None = None
) -> pd.DataFrame:
    """The BOIN or mTPI-2 decision table, with the current cell marked.

    Parameters
    ----------
    design : {"boin", "mtpi2"}
    target : float
        Target DLT rate.
    max_n : int
        Rows for 1 .. max_n patients at a dose.
    current : CurrentCell, optional
        The cell to mark with :data:`CURRENT_MARK` (when it is inside the table).

    Returns
    -------
    DataFrame
        Index "Patients" 1 .. max_n; one column per number of DLTs ("0 DLT", "1 DLT", ...);
        cells E (escalate), S (stay), D (de-escalate), DU (de-escalate and eliminate the dose),
        empty where DLTs exceed patients.

    References
    ----------
    Liu & Yuan (2015), Table 2; BOIN get.boundary. Guo et al. (2017), Figure 3.
    """
    if design == "boin":
        letters = Boin(num_doses=1, target=target).decision_table(max_n)
    elif design == "mtpi2":
        letters = Mtpi2(num_doses=1, target=target).decision_table(max_n)
    else:
        raise ValueError(f"no decision table for design {design!r}")
    grid = np.full((max_n, max_n + 1), "", dtype=object)
    for i, row in enumerate(letters):
        grid[i, : len(row)] = row
    table = pd.DataFrame(
        grid,
        index=pd.Index(range(1, max_n + 1), name="Patients"),
        columns=[f"{y} DLT" for y in range(max_n + 1)],
    )
    if current is not None and 1 <= current.n <= max_n:
        col = f"{current.dlts} DLT"
        table.loc[current.n, col] = CURRENT_MARK + table.loc[current.n, col]
    return table


def decision_table_rows(current: CurrentCell, cohort_size: int, rule_n: int | None) -> int:
    """How many rows the table needs: the current n plus a cohort, at least 12; at most 30
    unless the current cell lies beyond (a parallel study's 77 patients at a dose), so that
    the table always holds the cell the design reads now (:func:`around_current_cell`)."""
    wanted = max(DECISION_TABLE_MIN_N, current.n + cohort_size, rule_n or 0)
    return max(min(wanted, DECISION_TABLE_MAX_N), current.n + cohort_size)


def around_current_cell(table: pd.DataFrame, current: CurrentCell, rows: int = 20,
                        columns: int = 16) -> pd.DataFrame:  # fmt: skip
    """The part of a decision table a person reads: all of it when small, else ``rows`` x
    ``columns`` with the current cell in view (its row near the middle, its column shown)."""
    if len(table) <= rows and len(table.columns) <= columns:
        return table
    n = current.n if current.n in table.index else table.index[0]
    first = max(table.index[0], min(n - rows // 2, table.index[-1] - rows + 1))
    last_col = max(columns - 1, min(current.dlts + columns // 2, len(table.columns) - 1))
    return table.loc[first : first + rows - 1, table.columns[last_col - columns + 1 : last_col + 1]]


# --- estimates ----------------------------------------------------------------------------------


def crm_default_skeleton(config: StudyConfig) -> tuple[tuple[float, ...], bool]:
    """(the CRM skeleton, True when it is the study's own).

    Without one in the configuration: dfcrm ``getprior`` with half-width 0.05, the study's
    target, and the middle dose level as the prior MTD guess (Lee & Cheung 2009).
    """
    if config.design.skeleton is not None:
        return tuple(config.design.skeleton), True
    k = len(config.dose_cohorts)
    guess = (k + 1) // 2
    return crm_skeleton(CRM_DEFAULT_HALFWIDTH, config.design.target, guess, k), False


def toxicity_estimates(
    config: StudyConfig, outcomes: str, level: float = INTERVAL_LEVEL
) -> pd.DataFrame:
    """Estimated DLT rate at every dose with its uncertainty, by BOIN and by the CRM.

    BOIN: the isotonic (PAVA) estimate BOIN's select.mtd uses, with the equal-tailed interval of
    each dose's own Beta(1 + DLTs, 1 + n - DLTs) posterior. CRM: the model's DLT rate at the
    posterior mean of beta, with dfcrm's interval: the model evaluated at beta's posterior mean
    +/- z x posterior sd (dfcrm ``ptoxL``/``ptoxU``; here at ``level``).

    Returns
    -------
    DataFrame
        dose_level, n, dlts, observed (DLTs / n; NaN untreated), boin (NaN untreated),
        boin_lower, boin_upper, crm, crm_lower, crm_upper, skeleton.
    """
    # scipy.special, not scipy.stats (1 s to import): Beta quantiles are betaincinv, the
    # normal's is ndtri, the functions scipy.stats.beta.ppf and norm.ppf evaluate
    from scipy.special import betaincinv, ndtri

    k = len(config.dose_cohorts)
    n, y = counts_by_dose(outcomes, k)
    iso = isotonic_estimates(n, y)
    a, b = BETA_PRIOR
    tail = (1 - level) / 2
    treated = n > 0
    lower = np.where(treated, betaincinv(a + y, b + n - y, tail), np.nan)
    upper = np.where(treated, betaincinv(a + y, b + n - y, 1 - tail), np.nan)
    skeleton, _ = crm_default_skeleton(config)
    model = config.design.model or "empiric"
    crm = Crm(skeleton=skeleton, target=config.design.target, model=model)
    mean, var, est, _ = crm.fit(outcomes)
    z = float(ndtri(1 - tail))
    sd = math.sqrt(max(var, 0.0))
    # p decreases in beta for both models (empiric: skeleton ** exp(beta); logistic: x < 0)
    crm_upper = crm_tox(mean - z * sd, skeleton, model, crm.intercept)
    crm_lower = crm_tox(mean + z * sd, skeleton, model, crm.intercept)
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = np.where(treated, y / np.where(treated, n, 1), np.nan)
    return pd.DataFrame(
        {
            "dose_level": np.arange(1, k + 1),
            "n": n,
            "dlts": y,
            "observed": observed,
            "boin": [np.nan if e is None else e for e in iso],
            "boin_lower": lower,
            "boin_upper": upper,
            "crm": est,
            "crm_lower": np.asarray(crm_lower, dtype=float),
            "crm_upper": np.asarray(crm_upper, dtype=float),
            "skeleton": skeleton,
        }
    )


# --- the designs side by side ------------------------------------------------------------------


def design_comparison(config: StudyConfig, outcomes: str) -> pd.DataFrame:
    """What 3+3, BOIN, mTPI-2 and the CRM would each decide on the same evaluable outcomes.

    The designs alone, without the protocol's stopping rules (the study's own decision, with
    its rules, is the status recommendation). 3+3 reads cohorts of three and six; BOIN, mTPI-2
    and the CRM use the study's target.

    Returns
    -------
    DataFrame
        Design, Decision, Next dose level, Reason, Note (the skeleton the CRM used, and whether
        it is the study's design).
    """
    k = len(config.dose_cohorts)
    target = config.design.target
    skeleton, own = crm_default_skeleton(config)
    model = config.design.model or "empiric"
    designs: list[tuple[str, Design, str]] = [
        ("3+3", ThreePlusThree(num_doses=k, decide_on_excess_toxicity=True), "Storer (1989); reads cohorts of 3 and 6"),
        ("BOIN", Boin(num_doses=k, target=target), f"Liu & Yuan (2015), target {target:g}"),
        ("mTPI-2", Mtpi2(num_doses=k, target=target), f"Guo et al. (2017), target {target:g}"),
        (
            "CRM",
            Crm(skeleton=skeleton, target=target, model=model),
            f"{model} model, skeleton "
            + ", ".join(f"{s:.3f}" for s in skeleton)
            + (
                " (the study's)"
                if own
                else f" (not in the protocol: dfcrm getprior, half-width "
                f"{CRM_DEFAULT_HALFWIDTH:g}, prior MTD guess dose level {(k + 1) // 2})"
            ),
        ),
    ]
    names = {"3+3": "3+3", "boin": "BOIN", "mtpi2": "mTPI-2", "crm": "CRM"}
    rows = []
    for label, design, note in designs:
        if names.get(config.design.name) == label:
            note = "the study's design; " + note
        try:
            decision = design.decide(outcomes)
        except DesignError as exc:  # e.g. the 3+3 on 84 patients at a dose (CDISC pilot)
            rows.append(
                {
                    "Design": label,
                    "Decision": "not applicable",
                    "Next dose level": None,
                    "Reason": str(exc),
                    "Note": note,
                }
            )
            continue
        rows.append(
            {
                "Design": label,
                "Decision": decision.action.value,
                "Next dose level": decision.dose_level,
                "Reason": decision.reason,
                "Note": note,
            }
        )
    return pd.DataFrame(rows)


# --- dose paths --------------------------------------------------------------------------------


def next_cohort_size(config: StudyConfig, status: StudyStatus) -> int:
    """Patients the next cohort can have: the protocol's cohort size, or fewer when the maximum
    sample size leaves fewer places (treated patients of the dose cohorts count, pending too)."""
    size = max(config.design.cohort_size, 1)
    limits = [r.n for r in config.stopping_rules if r.kind == "max_subjects" and r.n]
    treated = sum(c.treated for c in status.cohorts if not c.control)
    left = min(limits) - treated if limits else size
    return max(1, min(size, left))


def dose_path_frame(
    design: Design, outcomes: str, cohort_size: int, cohorts: int = 2
) -> pd.DataFrame:
    """The decision after every possible result of the next ``cohorts`` cohorts.

    Returns
    -------
    DataFrame
        id, parent_id, depth, cohort (e.g. "NNT", "" at the root), dose_level (of that
        cohort), dlts (in that cohort), next_dose, decision, reason, path (the results since
        now, e.g. "3:NNT → 2:NNN"), label (a short line for the tree).

    References
    ----------
    Yap et al. (2017); Brock's ``get_dose_paths``.
    """
    nodes = dose_paths(design, outcomes, (cohort_size,) * cohorts)
    paths: dict[int, str] = {}
    rows = []
    for node in nodes:
        if node.parent_id is None:
            path = "now"
            label = f"now → {node.decision.action.value}" + (
                f" to dose level {node.next_dose}" if node.next_dose else ""
            )
        else:
            step = f"{node.dose_level}:{node.cohort}"
            parent = paths[node.parent_id]
            path = step if parent == "now" else f"{parent} → {step}"
            if node.next_dose is not None:
                after = f"{node.decision.action.value} to {node.next_dose}"
            elif node.decision.dose_level is not None:
                after = f"stop, MTD {node.decision.dose_level}"
            else:
                after = "stop, no safe dose"
            label = f"{node.cohort.count('T')} DLT at {node.dose_level}: {after}"
        paths[node.id] = path
        rows.append(
            {
                "id": node.id,
                "parent_id": node.parent_id,
                "depth": node.depth,
                "cohort": node.cohort,
                "dose_level": node.dose_level,
                "dlts": node.cohort.count("T"),
                "next_dose": node.next_dose,
                "decision": node.decision.action.value,
                "reason": node.decision.reason,
                "path": path,
                "label": label,
            }
        )
    return pd.DataFrame(rows)


def as_of(cutoff: date, data_cutoff: date | None) -> str:
    """``"at the data cut-off 15 Jan 2021"`` or ``"as of 01 Dec 2020 (data cover to ...)"``."""
    if data_cutoff is None or cutoff == data_cutoff:
        return f"at the data cut-off {cutoff:%d %b %Y}"
    return f"as of {cutoff:%d %b %Y} (the data cover to {data_cutoff:%d %b %Y})"
