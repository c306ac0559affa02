"""The one place pages get data from: cached reads over the library, keyed on the data version
and the reader.

Every read of study data goes through ``safety.views``, which checks the reader's roles first,
so the signed-in user is an argument of each function here and part of its cache key: one
user's cached result never reaches another. Caches are keyed on the database's data version
(last ingest batch, last audit entry), so new data or a new adjudication invalidates them; every
read runs on the process's one read-only instance of the file (``safety.store.shared``: opened
once for a page's reads, closed when idle so another process can ingest meanwhile, reopened on
the new data). Pages never import ``safety.store``: they ask here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from safety import charts, store, views
from safety.access import User
from safety.clinical import labs, teae
from safety.config import StudyConfig, stored_study_config
from safety.display import readable
from safety.monitor import escalation_review as review
from safety.monitor.explain import Explanation
from safety.monitor.patient import PatientProfile
from safety.monitor.status import StudyStatus
from safety.report.tables import ReportContent
from safety.store import audit, queries


@st.cache_data(ttl=2, show_spinner=False)
def data_version(path: str) -> tuple[int, int]:
    """The data version; cached for 2 s so a page's many reads share one look-up."""
    with store.shared_read_connection(path) as con:
        return queries.database.data_version(con)


@st.cache_data(ttl=10, show_spinner=False)
def audit_check(path: str, version: tuple[int, int]) -> audit.AuditCheck:
    """Is the audit trail intact? Checked again every 10 s and whenever the data change, so an
    edit by hand shows on the next page drawn."""
    with store.shared_read_connection(path) as con:
        return views.audit_check(con)


@st.cache_data(show_spinner=False)
def studies(path: str, user: User, version: tuple[int, int]) -> pd.DataFrame:
    """The studies the user has a role in."""
    with store.shared_read_connection(path) as con:
        return views.studies(con, user)


@st.cache_data(show_spinner=False)
def last_change(path: str, version: tuple[int, int]) -> datetime | None:
    with store.shared_read_connection(path) as con:
        return queries.database.last_change(con)


def current_config_for(
    path: str, user: User, study_id: str, version: tuple[int, int]
) -> StudyConfig:
    row = studies(path, user, version).set_index("study_id").loc[study_id]
    return stored_study_config(row["config_toml"], study_id)


@st.cache_data(show_spinner=False)
def status(
    path: str, user: User, study_id: str, cutoff: date, version: tuple[int, int]
) -> StudyStatus:
    config = current_config_for(path, user, study_id, version)
    with store.shared_read_connection(path) as con:
        return views.study_status(con, user, config, cutoff)


@st.cache_data(show_spinner="Pooling the study over its cohorts ...")
def open_view(
    path: str, user: User, study_id: str, cutoff: date, version: tuple[int, int]
) -> ReportContent:
    """The open report's tables and figures on the live data (the sponsor's overview)."""
    config = current_config_for(path, user, study_id, version)
    with store.shared_read_connection(path) as con:
        return views.open_view(con, user, config, cutoff)


@st.cache_data(show_spinner=False)
def frame(
    path: str, user: User, query: str, study_id: str, cutoff: date, version: tuple[int, int]
) -> pd.DataFrame:
    """A study-and-cut-off read of ``safety.views`` by name (only the names in FRAME_QUERIES)."""
    with store.shared_read_connection(path) as con:
        return FRAME_QUERIES[query](con, user, study_id, cutoff)


FRAME_QUERIES = {
    "dosing_timeline": views.dosing_timeline,
    "ae_counts_by_month": views.ae_counts_by_month,
}


def after_write() -> None:
    """Call after writing to the database, so the next read sees the new data version."""
    data_version.clear()


# --- alerts ------------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def alert_counts(path: str, user: User, version: tuple[int, int]) -> pd.DataFrame:
    """Unacknowledged alerts per study and severity, of the studies the user sees by cohort."""
    with store.shared_read_connection(path) as con:
        return views.alert_counts(con, user)


@st.cache_data(show_spinner=False)
def alert_feed(
    path: str, user: User, study_id: str | None, unacknowledged_only: bool,
    version: tuple[int, int],
) -> pd.DataFrame:  # fmt: skip
    """Alerts newest first (``views.alert_feed``)."""
    with store.shared_read_connection(path) as con:
        return views.alert_feed(con, user, study_id, unacknowledged_only)


@st.cache_data(show_spinner=False)
def worklist(path: str, user: User, study_id: str, version: tuple[int, int]) -> pd.DataFrame:
    """The study's open items the user may see (``views.worklist``), with ``yours``."""
    config = current_config_for(path, user, study_id, version)
    with store.shared_read_connection(path) as con:
        return views.worklist(con, user, config)


# --- patient profile -------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def subject_study(path: str, user: User, usubjid: str, version: tuple[int, int]) -> str | None:
    """The study a USUBJID belongs to, among the user's (None when none has it)."""
    with store.shared_read_connection(path) as con:
        return views.subject_study(con, user, usubjid)


@st.cache_data(show_spinner=False)
def study_roster(path: str, user: User, study_id: str, version: tuple[int, int]) -> pd.DataFrame:
    """The study's subjects the user may see, in profile order, with their review status."""
    with store.shared_read_connection(path) as con:
        return views.study_roster(con, user, study_id)


@st.cache_data(show_spinner=False)
def patient_profile(
    path: str, user: User, study_id: str, usubjid: str, cutoff: date, version: tuple[int, int]
) -> PatientProfile | None:
    """Everything the patient profile shows (``safety.views.patient_profile``)."""
    config = current_config_for(path, user, study_id, version)
    with store.shared_read_connection(path) as con:
        return views.patient_profile(con, user, config, usubjid, cutoff)


# --- dose escalation -------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def dlt_data(
    path: str, user: User, study_id: str, cutoff: date, version: tuple[int, int]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(subject DLT states, DLT events, adjudication log) at the cut-off."""
    with store.shared_read_connection(path) as con:
        return (
            views.subject_dlt_states(con, user, study_id, cutoff),
            views.dlt_events(con, user, study_id, cutoff),
            views.adjudications(con, user, study_id),
        )


@st.cache_data(show_spinner="Recomputing the decision on every day the data changed ...")
def history(
    path: str, user: User, study_id: str, cutoff: date, version: tuple[int, int]
) -> pd.DataFrame:
    config = current_config_for(path, user, study_id, version)
    with store.shared_read_connection(path) as con:
        return views.decision_history(con, user, config, cutoff)


@st.cache_data(show_spinner=False)
def explanation(
    path: str, user: User, study_id: str, cutoff: date, cohort_id: str, version: tuple[int, int]
) -> Explanation:
    """Every record and step behind one cohort's decision (``safety.views.explain_cohort``)."""
    config = current_config_for(path, user, study_id, version)
    with store.shared_read_connection(path) as con:
        return views.explain_cohort(con, user, config, cutoff, cohort_id)


@st.cache_data(show_spinner=False)
def evidence(
    path: str, user: User, study_id: str, outcomes: str, version: tuple[int, int]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(toxicity estimates, the four designs side by side) on the evaluable outcomes."""
    config = current_config_for(path, user, study_id, version)
    return views.escalation_evidence(user, config, outcomes)


@st.cache_data(show_spinner=False)
def paths(
    path: str, user: User, study_id: str, cutoff: date, version: tuple[int, int], size: int,
    cohorts: int,
) -> pd.DataFrame:  # fmt: skip
    """The dose-path tree from the evaluable outcomes, under the protocol's rules."""
    return views.dose_paths(user, status(path, user, study_id, cutoff, version), size, cohorts)


# One shared table per design, target and size: 376 x 377 cells on a study with 375 patients
# at a dose, 0.2-0.3 s to build. The page only reads it (styles a view, downloads a copy).
@st.cache_resource(show_spinner=False, max_entries=16)
def decision_table(design: str, target: float, rows: int,
                   cell: review.CurrentCell) -> pd.DataFrame:  # fmt: skip
    """``escalation_review.decision_table`` with the current cell marked."""
    return review.decision_table(design, target, rows, cell)


# --- adverse events --------------------------------------------------------------------


_LOADERS: dict[str, Callable] = {
    "summary": lambda con, user, cfg, cut, f: views.ae_summary(con, user, cfg, cut,
                                                               subjects=f.subjects),
    "incidence": views.soc_pt_incidence,
    "first_times": views.first_teae_times,
    "onsets": views.onset_days,
    "deaths": lambda con, user, cfg, cut, f: views.deaths(con, user, cfg, cut),
    "data_quality": lambda con, user, cfg, cut, f: views.data_quality(con, user, cfg, cut),
}


@st.cache_data(show_spinner=False)
def ae_table(
    db: str, user: User, study_id: str, cutoff: date, version: tuple, kind: str,
    filters: teae.AeFilter,
) -> pd.DataFrame:  # fmt: skip
    config = current_config_for(db, user, study_id, version)
    with store.shared_read_connection(db) as con:
        return _LOADERS[kind](con, user, config, cutoff, filters)


@st.cache_data(show_spinner=False)
def ae_listing(
    db: str, user: User, study_id: str, cutoff: date, version: tuple, filters: teae.AeFilter,
    cell: tuple,
) -> pd.DataFrame:  # fmt: skip
    config = current_config_for(db, user, study_id, version)
    with store.shared_read_connection(db) as con:
        return views.ae_listing(con, user, config, cutoff, filters, **dict(cell))


# --- labs -------------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def lab_tests(
    path: str, user: User, study_id: str, cutoff: date, version: tuple[int, int]
) -> pd.DataFrame:
    with store.shared_read_connection(path) as con:
        return views.lab_tests(con, user, study_id, cutoff)


@st.cache_data(show_spinner=False)
def lab_frames(
    path: str, user: User, study_id: str, cutoff: date, codes: tuple[str, ...],
    version: tuple[int, int],
) -> dict[str, pd.DataFrame]:  # fmt: skip
    """Visit summary and per-subject grades of the chosen tests, one connection (the values
    are read one test at a time, for the one time course shown: :func:`lab_time_course`)."""
    with store.shared_read_connection(path) as con:
        return {
            "summary": views.lab_visit_summary(con, user, study_id, cutoff, list(codes)),
            "grades": views.lab_subject_grades(con, user, study_id, cutoff, list(codes)),
        }


# Figures are cached as resources: one object per key, never copied on a rerun (unpickling a
# plotly figure validates it again: most of a warm rerun). Nothing mutates them: st.plotly_chart
# and the PNG export read them (``Figure.to_dict``, ``to_image``).
@st.cache_resource(show_spinner=False, max_entries=256)
def chart(name: str, *args, **kwargs) -> go.Figure:
    """``safety.charts.<name>(*args, **kwargs)``, e.g. ``chart("overview.dosing_timeline",
    timeline, colours, cutoff)``: one shared figure per builder and arguments (frames hashed
    by content), so a rerun with the same data does not build it again."""
    module, builder = name.split(".")
    return getattr(getattr(charts, module), builder)(*args, **kwargs)


@st.cache_resource(show_spinner=False, max_entries=64)
def lab_time_course(
    path: str, user: User, study_id: str, cutoff: date, code: str, unit_note: str,
    subjects: frozenset[str] | None, version: tuple[int, int],
) -> go.Figure:  # fmt: skip
    """The Labs page's time course of ``code`` for the population's ``subjects`` (None: all),
    built once per data version (issue 16)."""
    with store.shared_read_connection(path) as con:
        values = views.lab_values(con, user, study_id, cutoff, [code])
    if subjects is not None:
        values = values[values["usubjid"].isin(subjects)]
    return charts.labs.lab_time_course(values, code, unit_note)


@st.cache_resource(show_spinner=False, max_entries=64)
def lab_visit_figure(
    path: str, user: User, study_id: str, cutoff: date, codes: tuple[str, ...], code: str,
    statistic: str, colours: tuple[tuple[str, str], ...], version: tuple[int, int],
) -> go.Figure:  # fmt: skip
    """The Labs page's by-visit summary of ``code`` (whole cohorts), once per data version."""
    summary = lab_frames(path, user, study_id, cutoff, codes, version)["summary"]
    return charts.labs.lab_visit_summary(summary, dict(colours), code, statistic)


@st.cache_data(show_spinner=False, max_entries=64)
def lab_shift_tables(
    path: str, user: User, study_id: str, cutoff: date, codes: tuple[str, ...],
    subjects: frozenset[str] | None, version: tuple[int, int],
) -> dict[str, pd.DataFrame]:  # fmt: skip
    """The Labs page's shift table of each CTCAE term of ``codes`` (baseline -> worst grade per
    cohort, headers in words) for the population's ``subjects`` (None: all), built once per
    data version (a crosstab per cohort and term: most of a rerun otherwise)."""
    grades = lab_frames(path, user, study_id, cutoff, codes, version)["grades"]
    if subjects is not None:
        grades = grades[grades["usubjid"].isin(subjects)]
    return {term: readable(labs.shift_table(grades, term))
            for term in dict.fromkeys(grades["term"].dropna())}  # fmt: skip


@st.cache_data(show_spinner=False)
def population_subjects(
    path: str, user: User, study_id: str, cutoff: date, version: tuple[int, int]
) -> pd.DataFrame:
    with store.shared_read_connection(path) as con:
        return views.population_subjects(con, user, study_id, cutoff)


@st.cache_data(show_spinner=False)
def liver_peaks(
    path: str, user: User, study_id: str, cutoff: date, version: tuple[int, int]
) -> pd.DataFrame:
    with store.shared_read_connection(path) as con:
        return views.lab_liver_peaks(con, user, study_id, cutoff)


# --- deliveries ---------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def ledger(path: str, user: User, study_id: str | None, version: tuple[int, int]) -> pd.DataFrame:
    with store.shared_read_connection(path) as con:
        return views.batch_ledger(con, user, study_id)


@st.cache_data(show_spinner=False)
def quarantine_summary(
    path: str, user: User, study_id: str | None, version: tuple[int, int]
) -> pd.DataFrame:
    with store.shared_read_connection(path) as con:
        return views.quarantine_summary(con, user, study_id)


@st.cache_data(show_spinner=False)
def quarantined_rows(
    path: str,
    user: User,
    study_id: str | None,
    batch_id: int | None,
    rule: str | None,
    reason_contains: str | None,
    version: tuple[int, int],
) -> pd.DataFrame:
    with store.shared_read_connection(path) as con:
        return views.quarantined_rows(
            con, user, study_id, batch_id=batch_id, rule=rule,
            reason_contains=reason_contains or None,
        )  # fmt: skip


@st.cache_data(show_spinner=False)
def held_deliveries(
    path: str, user: User, study_id: str | None, version: tuple[int, int]
) -> pd.DataFrame:
    with store.shared_read_connection(path) as con:
        return views.held_deliveries(con, user, study_id)


@st.cache_data(show_spinner=False)
def counts_by_domain(path: str, user: User, version: tuple[int, int]) -> pd.DataFrame:
    with store.shared_read_connection(path) as con:
        return views.counts_by_domain(con, user, None)


@st.cache_data(show_spinner=False)
def cut_change_summary(
    path: str, user: User, study_id: str, version: tuple[int, int]
) -> pd.DataFrame:
    with store.shared_read_connection(path) as con:
        return views.cut_change_summary(con, user, study_id)


@st.cache_data(show_spinner=False)
def cut_changes(
    path: str, user: User, study_id: str, domain: str, version: tuple[int, int]
) -> pd.DataFrame:
    with store.shared_read_connection(path) as con:
        return views.cut_changes(con, user, study_id, domain)


# --- reports and the audit trail ------------------------------------------------------------


@st.cache_data(show_spinner=False)
def study_snapshots(
    path: str, user: User, study_id: str, version: tuple[int, int]
) -> pd.DataFrame:
    with store.shared_read_connection(path) as con:
        return views.study_snapshots(con, user, study_id)


@st.cache_data(show_spinner=False)
def audit_overview(path: str, user: User, version: tuple[int, int]) -> pd.DataFrame:
    with store.shared_read_connection(path) as con:
        return views.audit_overview(con, user)
