"""The sidebar's one population filter (cohort, site, sex, age band, dosed only), kept in the
URL with the other selections (``?pop_cohort=…&pop_site=…&pop_sex=…&pop_age=…&pop_dosed=1``),
with "N of M subjects" always visible. The rule itself: ``safety.clinical.populations``."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from safety import views
from safety.access import Action, User
from safety.clinical.populations import AGE_BANDS, AGE_UNKNOWN, PopulationFilter, age_band
from ui import data

_LISTS = {  # widget key / URL parameter -> (label, PopulationFilter field, frame column)
    "pop_cohort": ("Cohort", "cohorts", "cohort_label"),
    "pop_site": ("Site", "sites", "site_id"),
    "pop_sex": ("Sex", "sexes", "sex"),
    "pop_age": ("Age band", "age_bands", "age_band"),
}
_SEPARATOR = "|"


def _seed(key: str, options: list[str]) -> None:
    """A widget's first value comes from the URL (a shared link), afterwards from its state."""
    if key not in st.session_state:
        raw = st.query_params.get(key, "")
        st.session_state[key] = [v for v in raw.split(_SEPARATOR) if v in options]


def _keep_in_url(key: str, value) -> None:
    text = _SEPARATOR.join(value) if isinstance(value, list) else ("1" if value else "")
    if text:
        st.query_params[key] = text
    elif key in st.query_params:
        del st.query_params[key]


def population_filter(path: str, user: User, study_id: str, cutoff: date,
                      version: tuple[int, int]) -> tuple[PopulationFilter, frozenset[str] | None]:  # fmt: skip
    """The filter chosen in the sidebar and the subjects it keeps (None: everyone). A user
    who may not see the study's results (an administrator, a data manager) gets no filter."""
    if not views.user_can(user, Action.VIEW_OPEN, study_id):
        return PopulationFilter(), None
    subjects = data.population_subjects(path, user, study_id, cutoff, version)
    subjects = subjects.assign(age_band=subjects["age"].map(age_band))
    chosen: dict = {}
    with st.sidebar.expander("Population", expanded=False):
        for key, (label, field, column) in _LISTS.items():
            if column not in subjects:  # no cohort for a user who may see pooled views only
                continue
            present = set(subjects[column].dropna())
            options = ([b for b in (*(b for b, *_ in AGE_BANDS), AGE_UNKNOWN) if b in present]
                       if column == "age_band" else
                       sorted(present) if column != "cohort_label" else
                       list(dict.fromkeys(subjects[column].dropna())))  # fmt: skip
            _seed(key, options)
            value = st.multiselect(label, options, key=key, placeholder="All")
            _keep_in_url(key, value)
            chosen[field] = tuple(value)
        if "pop_dosed" not in st.session_state:
            st.session_state["pop_dosed"] = st.query_params.get("pop_dosed") == "1"
        dosed = st.checkbox("Dosed only (safety analysis set)", key="pop_dosed")
        _keep_in_url("pop_dosed", dosed)
    population = PopulationFilter(**chosen, dosed_only=dosed)
    kept = population.select(subjects)
    st.sidebar.caption(f"Population: **{len(kept)} of {len(subjects)} subjects** "
                       f"({population.describe()})")  # fmt: skip
    return population, None if population.is_everyone else frozenset(kept["usubjid"])


def keep(frame: pd.DataFrame, subjects: frozenset[str] | None, column: str = "usubjid"):
    """The rows of ``frame`` whose subject is in the population (all when everyone)."""
    if subjects is None or frame.empty:
        return frame
    return frame[frame[column].isin(subjects)].reset_index(drop=True)


def whole_cohorts_note(subjects: frozenset[str] | None, what: str) -> None:
    """Say, when a population is chosen, that ``what`` counts every subject all the same:
    escalation decisions, stopping rules and cohort counts are the protocol's, of whole
    cohorts, never of a subgroup."""
    if subjects is not None:
        st.caption(f"{what} count every subject of each cohort; the population filter applies "
                   "to the charts and listings of patients.")
