"""Cached reads for the Data page (ledger, quarantine, counts, cut changes), keyed on the data
version like every read in ``pages.common``."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from safety import queries, store


@st.cache_data(show_spinner=False)
def ledger(path: str, study_id: str | None, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.batch_ledger(con, study_id)


@st.cache_data(show_spinner=False)
def quarantine_summary(path: str, study_id: str | None, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.quarantine_summary(con, study_id)


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
        return queries.quarantined_rows(
            con, study_id, batch_id=batch_id, rule=rule, reason_contains=reason_contains or None
        )


@st.cache_data(show_spinner=False)
def counts_by_domain(path: str, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.counts_by_domain(con)


@st.cache_data(show_spinner=False)
def cut_change_summary(path: str, study_id: str, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.cut_change_summary(con, study_id)


@st.cache_data(show_spinner=False)
def cut_changes(path: str, study_id: str, domain: str, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.cut_changes(con, study_id, domain)
