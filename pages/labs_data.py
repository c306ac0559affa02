"""Cached reads for the Labs page (keyed on the data version, like ``pages.common``)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from safety import queries, store


@st.cache_data(show_spinner=False)
def lab_tests(path: str, study_id: str, cutoff: date, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.lab_tests(con, study_id, cutoff)


@st.cache_data(show_spinner=False)
def lab_frames(
    path: str, study_id: str, cutoff: date, codes: tuple[str, ...], version: tuple[int, int]
) -> dict[str, pd.DataFrame]:
    """Values, visit summary and per-subject grades of the chosen tests, one connection."""
    with store.read_connection(path) as con:
        return {
            "values": queries.lab_values(con, study_id, cutoff, list(codes)),
            "summary": queries.lab_visit_summary(con, study_id, cutoff, list(codes)),
            "grades": queries.lab_subject_grades(con, study_id, cutoff, list(codes)),
        }


@st.cache_data(show_spinner=False)
def liver_peaks(path: str, study_id: str, cutoff: date, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.lab_liver_peaks(con, study_id, cutoff)


@st.cache_data(show_spinner=False)
def cohorts(path: str, study_id: str, cutoff: date, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.dosing_timeline(con, study_id, cutoff)
