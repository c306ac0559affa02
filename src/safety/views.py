"""What each user may read: every read of study data that the dashboard and the command line
make goes through here, and each checks the reader's roles first (``safety.access.require``).

- **closed** reads (anything by cohort: status and decisions, DLT tables, AE and lab tables,
  listings, alerts) need ``view.closed``: safety officers and DSMB members;
- **patient** reads need ``view.patient`` at the patient's site: investigators see their own
  sites' patients only, and the roster lists only them;
- **delivery** reads (ledger, quarantine, data cuts) need ``view.deliveries``;
- **open** reads (the pooled view of the open report, the list of snapshots) need
  ``view.open``, which every role in the study has: a sponsor gets numbers pooled over all
  cohorts, never one by cohort.

The functions below take a connection, the user, then the study (its id or configuration) and
the read's own arguments; they return what the function they guard returns. The rules and
queries behind them stay free of users, so reports, alerts and tests use them directly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from safety.access import Action, User, require
from safety.config import StudyConfig
from safety.errors import DesignError
from safety.monitor import adverse_events, decisions, explain, patient, status
from safety.monitor import escalation_review as review
from safety.monitor import worklist as worklist_items
from safety.store import audit, queries

if TYPE_CHECKING:
    from safety.report.tables import ReportContent


def _guard(action: Action, read: Callable) -> Callable:
    """``read(con, study, ...)`` as ``guarded(con, user, study, ...)``, refused unless the user
    may do ``action`` in the study."""

    @functools.wraps(read)
    def guarded(con: duckdb.DuckDBPyConnection, user: User, study, *args, **kwargs):
        require(user, action, study.study_id if isinstance(study, StudyConfig) else study)
        return read(con, study, *args, **kwargs)

    guarded.__doc__ = f"(needs {action}) {read.__doc__ or ''}"
    return guarded


_closed = functools.partial(_guard, Action.VIEW_CLOSED)

# --- closed: by cohort ----------------------------------------------------------------------
study_status = _closed(status.study_status)
decision_history = _closed(decisions.decision_history)
explain_cohort = _closed(explain.explain_cohort)
subject_dlt_states = _closed(queries.dlt.subject_dlt_states)
dlt_events = _closed(queries.dlt.dlt_events)
adjudications = _closed(queries.dlt.adjudications)
dosing_timeline = _closed(queries.subjects.dosing_timeline)
ae_counts_by_month = _closed(queries.adverse_events.ae_counts_by_month)
ae_summary = _closed(adverse_events.ae_summary)
soc_pt_incidence = _closed(adverse_events.soc_pt_incidence)
first_teae_times = _closed(adverse_events.first_teae_times)
onset_days = _closed(adverse_events.onset_days)
deaths = _closed(adverse_events.deaths)
data_quality = _closed(adverse_events.data_quality)
ae_listing = _closed(adverse_events.ae_listing)
lab_tests = _closed(queries.labs.lab_tests)
lab_values = _closed(queries.labs.lab_values)
lab_visit_summary = _closed(queries.labs.lab_visit_summary)
lab_subject_grades = _closed(queries.labs.lab_subject_grades)
lab_liver_peaks = _closed(queries.labs.lab_liver_peaks)


def escalation_evidence(user: User, config: StudyConfig, outcomes: str) -> tuple:
    """(needs view.closed) (toxicity estimates, the designs side by side) on the outcomes."""
    require(user, Action.VIEW_CLOSED, config.study_id)
    return review.toxicity_estimates(config, outcomes), review.design_comparison(config, outcomes)


def dose_paths(user: User, study: status.StudyStatus, size: int, cohorts: int) -> pd.DataFrame:
    """(needs view.closed) The dose-path tree from the study's evaluable outcomes, continuing
    from the design and rules that made its current decision."""
    require(user, Action.VIEW_CLOSED, study.study_id)
    if study.protocol_design is None:
        raise DesignError(f"{study.study_id} is monitored for safety only: no dose paths")
    return review.dose_path_frame(study.protocol_design, study.history, size, cohorts)


def study_statuses(con: duckdb.DuckDBPyConnection, user: User, study_id: str | None = None,
                   cutoff: date | None = None) -> list[status.StudyStatus]:  # fmt: skip
    """(needs view.closed) ``status``: the studies' status, each at its own cut-off unless
    ``cutoff`` is given; without ``study_id``, every study the user may see by cohort."""
    if study_id is None:
        known = queries.studies.studies(con)["study_id"].tolist()
        allowed = [s for s in known if user_can(user, Action.VIEW_CLOSED, s)]
        if known and not allowed:
            require(user, Action.VIEW_CLOSED, known[0])
        return [s for sid in allowed for s in status.study_statuses(con, sid, cutoff)]
    found = status.study_statuses(con, study_id, cutoff)
    for s in found:
        require(user, Action.VIEW_CLOSED, s.study_id)
    return found


def alert_counts(con: duckdb.DuckDBPyConnection, user: User) -> pd.DataFrame:
    """(needs view.closed) Unacknowledged alerts per study and severity, of the studies the
    user may see by cohort."""
    counts = queries.alerts.unacknowledged_alert_counts(con)
    return _allowed_rows(counts, user, Action.VIEW_CLOSED)


def alert_feed(con: duckdb.DuckDBPyConnection, user: User, study_id: str | None,
               unacknowledged_only: bool = False) -> pd.DataFrame:  # fmt: skip
    """(needs view.closed) Alerts newest first, of one study or of every study the user may
    see by cohort."""
    if study_id is not None:
        require(user, Action.VIEW_CLOSED, study_id)
    feed = queries.alerts.alert_feed(con, study_id, unacknowledged_only)
    return _allowed_rows(feed, user, Action.VIEW_CLOSED)


def worklist(con: duckdb.DuckDBPyConnection, user: User, config: StudyConfig) -> pd.DataFrame:
    """(needs view.closed or view.deliveries) The study's open items the user may see
    (``monitor.worklist.open_items``): items about patients with view.closed, held deliveries
    with view.deliveries; ``yours`` says whether the user may do what closes the item (at the
    patient's site)."""
    study_id = config.study_id
    closed, deliveries = (user.can(a, study_id) for a in (Action.VIEW_CLOSED,
                                                          Action.VIEW_DELIVERIES))
    if not (closed or deliveries):
        require(user, Action.VIEW_CLOSED, study_id)  # refused, with the usual sentence
    items = worklist_items.open_items(con, config)
    is_hold = items["action"] == str(Action.CONFIRM_DELIVERY)
    items = items[is_hold if not closed else (~is_hold | deliveries)].reset_index(drop=True)
    items["yours"] = [user.can(Action(a), study_id, None if pd.isna(s) else s)
                      for a, s in zip(items["action"], items["site_id"], strict=True)]
    return items


# --- patients: at the user's sites -----------------------------------------------------------


def study_roster(con: duckdb.DuckDBPyConnection, user: User, study_id: str) -> pd.DataFrame:
    """(needs view.patient) The study's subjects the user may see (investigators: their sites)."""
    require(user, Action.VIEW_PATIENT, study_id, site=_any_site(user, study_id))
    roster = queries.subjects.study_roster(con, study_id)
    sites = user.sites(Action.VIEW_PATIENT, study_id)
    return roster if sites is None else roster[roster["site_id"].isin(sites)].reset_index(drop=True)


def population_subjects(con: duckdb.DuckDBPyConnection, user: User, study_id: str,
                        cutoff: date) -> pd.DataFrame:  # fmt: skip
    """(needs view.open) The study's subjects for the population filter; an investigator
    (patients at some sites) gets her sites' subjects only, and a user who may not see
    results by cohort gets no cohort (filtering by it would unblind the pooled views)."""
    require(user, Action.VIEW_OPEN, study_id)
    frame = queries.subjects.population_subjects(con, study_id, cutoff)
    if not user.can(Action.VIEW_CLOSED, study_id):
        frame = frame.drop(columns=["cohort_id", "cohort_label"])
    sites = user.sites(Action.VIEW_PATIENT, study_id)
    return frame[frame["site_id"].isin(sites)].reset_index(drop=True) if sites else frame


def patient_profile(con: duckdb.DuckDBPyConnection, user: User, config: StudyConfig,
                    usubjid: str, cutoff: date) -> patient.PatientProfile | None:  # fmt: skip
    """(needs view.patient at the patient's site) Everything about one patient at the cut-off."""
    exists, site = queries.subjects.subject_site(con, config.study_id, usubjid)
    if not exists:
        return None
    require(user, Action.VIEW_PATIENT, config.study_id, site=site, subject=usubjid)
    return patient.load_profile(con, config, usubjid, cutoff)


def subject_study(con: duckdb.DuckDBPyConnection, user: User, usubjid: str) -> str | None:
    """The study of a USUBJID among the user's studies (a link names only the subject)."""
    study_id = queries.subjects.subject_study(con, usubjid)
    return study_id if study_id and user.roles(study_id) else None


# --- deliveries ------------------------------------------------------------------------------


def _deliveries(read: Callable) -> Callable:
    """A delivery read of one study, or (study None) of every study the user may see the
    deliveries of."""

    @functools.wraps(read)
    def guarded(con: duckdb.DuckDBPyConnection, user: User, study_id: str | None, *args, **kw):
        if study_id is not None:
            require(user, Action.VIEW_DELIVERIES, study_id)
        elif not user_can_anywhere(user, Action.VIEW_DELIVERIES, con):
            require(user, Action.VIEW_DELIVERIES)
        return _allowed_rows(read(con, study_id, *args, **kw), user, Action.VIEW_DELIVERIES)

    guarded.__doc__ = f"(needs {Action.VIEW_DELIVERIES}) {read.__doc__ or ''}"
    return guarded


batch_ledger = _deliveries(queries.ingest.batch_ledger)
quarantine_summary = _deliveries(queries.ingest.quarantine_summary)
quarantined_rows = _deliveries(queries.ingest.quarantined_rows)
counts_by_domain = _deliveries(queries.ingest.counts_by_domain)
cut_change_summary = _deliveries(queries.ingest.cut_change_summary)
cut_changes = _deliveries(queries.ingest.cut_changes)
held_deliveries = _deliveries(queries.deliveries.holds)


# --- open: pooled ---------------------------------------------------------------------------


def studies(con: duckdb.DuckDBPyConnection, user: User) -> pd.DataFrame:
    """The studies the user has a role in (``queries.studies.studies`` columns)."""
    found = queries.studies.studies(con)
    mine = found["study_id"].map(lambda s: bool(user.roles(s))).astype(bool)
    return found.loc[mine].reset_index(drop=True)


def open_view(con: duckdb.DuckDBPyConnection, user: User, config: StudyConfig,
              cutoff: date) -> ReportContent:  # fmt: skip
    """(needs view.open) The study pooled over all cohorts, as the open DSMB report shows it
    (live data, no freeze): what a sponsor may see."""
    from safety.report.tables import report_content  # the report stack, for this read only

    require(user, Action.VIEW_OPEN, config.study_id)
    return report_content(con, config, cutoff, "open")


def study_snapshots(con: duckdb.DuckDBPyConnection, user: User, study_id: str) -> pd.DataFrame:
    """(needs view.open) The study's DSMB report snapshots, newest first, with their sign-offs
    (column ``signed_off``); a user who may not see closed results sees the open ones only."""
    require(user, Action.VIEW_OPEN, study_id)
    shots = queries.snapshot.study_snapshots(con, study_id)
    if not user.can(Action.VIEW_CLOSED, study_id):
        shots = shots[shots["kind"] == "open"]
    signs = queries.signatures.snapshot_signatures(con, study_id)
    signed = signs.groupby("snapshot_id")["signature"].agg("; ".join)
    return shots.assign(signed_off=shots["snapshot_id"].map(signed)).reset_index(drop=True)


# --- the audit trail ------------------------------------------------------------------------


def audit_check(con: duckdb.DuckDBPyConnection) -> audit.AuditCheck:
    """Whether the audit trail is intact (everyone sees it: a broken trail is shown loudly)."""
    return audit.verify_audit_trail(con)


def audit_overview(con: duckdb.DuckDBPyConnection, user: User) -> pd.DataFrame:
    """(needs audit.view across studies) The latest audit entries without their details."""
    require(user, Action.VIEW_AUDIT)
    return queries.database.audit_overview(con)


# --- helpers --------------------------------------------------------------------------------


def user_can(user: User, action: Action, study_id: str) -> bool:
    """Whether the user may do ``action`` in the study (at some site for patient acts)."""
    return user.can(action, study_id, _any_site(user, study_id, action))


def user_can_anywhere(user: User, action: Action, con: duckdb.DuckDBPyConnection) -> bool:
    known = queries.studies.studies(con)["study_id"].tolist()
    return user.can(action) or any(user_can(user, action, s) for s in known)


def _any_site(user: User, study_id: str, action: Action = Action.VIEW_PATIENT) -> str | None:
    """A site the user's grants reach (None: every site, or none)."""
    sites = user.sites(action, study_id)
    return next(iter(sorted(sites)), None) if sites else None


def _allowed_rows(frame: pd.DataFrame, user: User, action: Action) -> pd.DataFrame:
    if frame.empty or "study_id" not in frame.columns:
        return frame
    keep = frame["study_id"].map(lambda s: user.can(action, s)).astype(bool)
    return frame.loc[keep].reset_index(drop=True)
