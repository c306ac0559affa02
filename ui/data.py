"""The one place pages get data from: cached reads over the library, keyed on the data version.

Caches are keyed on the database's data version (last ingest batch, last audit entry), so new
data or a new adjudication invalidates them; every read opens a short-lived read-only
connection (see ``safety.store``), so another process can ingest meanwhile. Pages never import
``safety.store``: they ask here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pandas as pd
import streamlit as st

from safety import store
from safety.clinical import teae
from safety.config import StudyConfig, stored_study_config
from safety.escalation import cohorts_from_patients
from safety.monitor import adverse_events
from safety.monitor import escalation_review as review
from safety.monitor.decisions import decision_history, escalation_inputs
from safety.monitor.explain import Explanation, explain_cohort
from safety.monitor.patient import PatientProfile, load_profile
from safety.monitor.status import StudyStatus, study_status
from safety.store import queries


@st.cache_data(ttl=2, show_spinner=False)
def data_version(path: str) -> tuple[int, int]:
    """The data version; cached for 2 s so a page's many reads share one look-up."""
    with store.read_connection(path) as con:
        return queries.database.data_version(con)


@st.cache_data(show_spinner=False)
def studies(path: str, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.studies.studies(con)


@st.cache_data(show_spinner=False)
def last_change(path: str, version: tuple[int, int]) -> datetime | None:
    with store.read_connection(path) as con:
        return queries.database.last_change(con)


def current_config_for(path: str, study_id: str, version: tuple[int, int]) -> StudyConfig:
    row = studies(path, version).set_index("study_id").loc[study_id]
    return stored_study_config(row["config_toml"], study_id)


@st.cache_data(show_spinner=False)
def status(path: str, study_id: str, cutoff: date, version: tuple[int, int]) -> StudyStatus:
    config = current_config_for(path, study_id, version)
    with store.read_connection(path) as con:
        return study_status(con, config, cutoff)


@st.cache_data(show_spinner=False)
def frame(
    path: str, query: str, study_id: str, cutoff: date, version: tuple[int, int]
) -> pd.DataFrame:
    """A study-and-cut-off query of ``safety.store.queries`` by name (only the names in FRAME_QUERIES)."""
    with store.read_connection(path) as con:
        return FRAME_QUERIES[query](con, study_id, cutoff)


FRAME_QUERIES = {
    "dosing_timeline": queries.subjects.dosing_timeline,
    "ae_counts_by_month": queries.adverse_events.ae_counts_by_month,
}


def after_write() -> None:
    """Call after writing to the database, so the next read sees the new data version."""
    data_version.clear()


# --- alerts ------------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def alert_counts(path: str, version: tuple[int, int]) -> pd.DataFrame:
    """Unacknowledged alerts per study and severity (``queries.alerts.unacknowledged_alert_counts``)."""
    with store.read_connection(path) as con:
        return queries.alerts.unacknowledged_alert_counts(con)


@st.cache_data(show_spinner=False)
def alert_feed(
    path: str, study_id: str | None, unacknowledged_only: bool, version: tuple[int, int]
) -> pd.DataFrame:
    """Alerts newest first (``queries.alerts.alert_feed``)."""
    with store.read_connection(path) as con:
        return queries.alerts.alert_feed(con, study_id, unacknowledged_only)


# --- patient profile -------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def subject_study(path: str, usubjid: str, version: tuple[int, int]) -> str | None:
    """The study a USUBJID belongs to (None when no study has it)."""
    with store.read_connection(path) as con:
        return queries.subjects.subject_study(con, usubjid)


@st.cache_data(show_spinner=False)
def study_roster(path: str, study_id: str, version: tuple[int, int]) -> pd.DataFrame:
    """The study's subjects in profile order, with their review status."""
    with store.read_connection(path) as con:
        return queries.subjects.study_roster(con, study_id)


@st.cache_data(show_spinner=False)
def patient_profile(
    path: str, study_id: str, usubjid: str, cutoff: date, version: tuple[int, int]
) -> PatientProfile | None:
    """Everything the patient profile shows (``safety.monitor.patient.load_profile``)."""
    config = current_config_for(path, study_id, version)
    with store.read_connection(path) as con:
        return load_profile(con, config, usubjid, cutoff)


# --- dose escalation -------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def dlt_data(
    path: str, study_id: str, cutoff: date, version: tuple[int, int]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(subject DLT states, DLT events, adjudication log) at the cut-off."""
    config = current_config_for(path, study_id, version)
    with store.read_connection(path) as con:
        return (
            queries.dlt.subject_dlt_states(con, config.study_id, cutoff),
            queries.dlt.dlt_events(con, config.study_id, cutoff),
            queries.dlt.adjudications(con, study_id),
        )


@st.cache_data(show_spinner="Recomputing the decision on every day the data changed ...")
def history(path: str, study_id: str, cutoff: date, version: tuple[int, int]) -> pd.DataFrame:
    config = current_config_for(path, study_id, version)
    with store.read_connection(path) as con:
        return decision_history(con, config, cutoff)


@st.cache_data(show_spinner=False)
def explanation(
    path: str, study_id: str, cutoff: date, cohort_id: str, version: tuple[int, int]
) -> Explanation:
    """Every record and step behind one cohort's decision (``safety.monitor.explain``)."""
    config = current_config_for(path, study_id, version)
    with store.read_connection(path) as con:
        return explain_cohort(con, config, cutoff, cohort_id)


@st.cache_data(show_spinner=False)
def evidence(
    path: str, study_id: str, outcomes: str, version: tuple[int, int]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(toxicity estimates, the four designs side by side) on the evaluable outcomes."""
    config = current_config_for(path, study_id, version)
    return review.toxicity_estimates(config, outcomes), review.design_comparison(config, outcomes)


@st.cache_data(show_spinner=False)
def paths(
    path: str, study_id: str, cutoff: date, version: tuple[int, int], size: int, cohorts: int
) -> pd.DataFrame:
    """The dose-path tree from the evaluable outcomes, under the protocol's rules."""
    config = current_config_for(path, study_id, version)
    with store.read_connection(path) as con:
        _, evaluable, design = escalation_inputs(con, config, cutoff)
    return review.dose_path_frame(design, cohorts_from_patients(evaluable), size, cohorts)


# --- adverse events --------------------------------------------------------------------


_LOADERS: dict[str, Callable] = {
    "summary": lambda con, cfg, cut, f: adverse_events.ae_summary(con, cfg, cut),
    "incidence": adverse_events.soc_pt_incidence,
    "first_times": adverse_events.first_teae_times,
    "onsets": adverse_events.onset_days,
    "deaths": lambda con, cfg, cut, f: adverse_events.deaths(con, cfg, cut),
    "data_quality": lambda con, cfg, cut, f: adverse_events.data_quality(con, cfg, cut),
}


@st.cache_data(show_spinner=False)
def ae_table(
    db: str, study_id: str, cutoff: date, version: tuple, kind: str, filters: teae.AeFilter
) -> pd.DataFrame:
    config = current_config_for(db, study_id, version)
    with store.read_connection(db) as con:
        return _LOADERS[kind](con, config, cutoff, filters)


@st.cache_data(show_spinner=False)
def ae_listing(
    db: str, study_id: str, cutoff: date, version: tuple, filters: teae.AeFilter, cell: tuple
) -> pd.DataFrame:
    config = current_config_for(db, study_id, version)
    with store.read_connection(db) as con:
        return adverse_events.ae_listing(con, config, cutoff, filters, **dict(cell))


# --- labs -------------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def lab_tests(path: str, study_id: str, cutoff: date, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.labs.lab_tests(con, study_id, cutoff)


@st.cache_data(show_spinner=False)
def lab_frames(
    path: str, study_id: str, cutoff: date, codes: tuple[str, ...], version: tuple[int, int]
) -> dict[str, pd.DataFrame]:
    """Values, visit summary and per-subject grades of the chosen tests, one connection."""
    with store.read_connection(path) as con:
        return {
            "values": queries.labs.lab_values(con, study_id, cutoff, list(codes)),
            "summary": queries.labs.lab_visit_summary(con, study_id, cutoff, list(codes)),
            "grades": queries.labs.lab_subject_grades(con, study_id, cutoff, list(codes)),
        }


@st.cache_data(show_spinner=False)
def liver_peaks(path: str, study_id: str, cutoff: date, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.labs.lab_liver_peaks(con, study_id, cutoff)


@st.cache_data(show_spinner=False)
def lab_cohorts(path: str, study_id: str, cutoff: date, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.subjects.dosing_timeline(con, study_id, cutoff)


# --- deliveries ---------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def ledger(path: str, study_id: str | None, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.ingest.batch_ledger(con, study_id)


@st.cache_data(show_spinner=False)
def quarantine_summary(path: str, study_id: str | None, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.ingest.quarantine_summary(con, study_id)


@st.cache_data(show_spinner=False)
def quarantined_rows(
    path: str,
    study_id: str | None,
    batch_id: int | None,
    rule: str | None,
    reason_contains: str | None,
    version: tuple[int, int],
) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.ingest.quarantined_rows(
            con, study_id, batch_id=batch_id, rule=rule, reason_contains=reason_contains or None
        )


@st.cache_data(show_spinner=False)
def held_deliveries(path: str, study_id: str | None, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.deliveries.holds(con, study_id)


@st.cache_data(show_spinner=False)
def counts_by_domain(path: str, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.ingest.counts_by_domain(con)


@st.cache_data(show_spinner=False)
def cut_change_summary(path: str, study_id: str, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.ingest.cut_change_summary(con, study_id)


@st.cache_data(show_spinner=False)
def cut_changes(path: str, study_id: str, domain: str, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.ingest.cut_changes(con, study_id, domain)


# --- reports --------------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def study_snapshots(path: str, study_id: str, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.snapshot.study_snapshots(con, study_id)
