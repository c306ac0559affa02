"""Click-through to the patient: every chart point, bar and table row that stands for patients
opens the patient profile in the same tab, with the sidebar's study and data cut-off.

One subject selected (a click on a point, a row) opens the profile at once; several (a box or
lasso, a bar standing for several subjects) are listed as links, each opening its profile. The
links carry the cut-off too, so a profile opened in a new tab shows the same day.

Charts put the subject in ``customdata[0]`` of each point (escaped for plotly, unescaped here);
a bar standing for several subjects carries them ``;``-joined. Streamlit's selection events:
``st.plotly_chart(on_select=..., selection_mode=...)`` and ``st.dataframe(on_select=...,
selection_mode="single-row")`` (Streamlit 1.67 API). A figure must not set ``dragmode`` to
"select" or "lasso": Streamlit then sets ``clickmode`` to "event" only and a click selects
nothing (its PlotlyChart frontend); left unset, a drag pans and the toolbar offers box and lasso.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from safety import links
from safety.charts.style import SUBJECT_SEPARATOR
from safety.escaping import md

PATIENT_PAGE = "pages/patient.py"
_PENDING = "_drill_pending"  # the widget whose selection just changed
BOX_HINT = "Click a point to open its patient; drag a box or lasso (toolbar) to list several."


def _selection(state) -> dict:
    if not state:
        return {}
    return state.get("selection", {}) if isinstance(state, dict) else state.selection


def point_subjects(state) -> list[str]:
    """The subjects of a plotly selection, in the order selected, each once."""
    found: list[str] = []
    for point in _selection(state).get("points") or []:
        data = point.get("customdata")
        if isinstance(data, str):
            data = [data]
        if not data or not isinstance(data[0], str):
            continue
        found += [s for s in html.unescape(data[0]).split(SUBJECT_SEPARATOR) if s]
    return list(dict.fromkeys(found))


def _changed(key: str) -> None:
    st.session_state[_PENDING] = key


def _open_or_list(key: str, subjects: Sequence[str]) -> None:
    """Open the single subject a fresh selection of ``key`` made; list several as links."""
    sel = st.session_state["selection"]
    fresh = st.session_state.get(_PENDING) == key
    if fresh:
        del st.session_state[_PENDING]
    if fresh and len(subjects) == 1:
        open_patient(subjects[0])
    if subjects:
        shown = list(subjects[:50])
        more = f" and {len(subjects) - len(shown)} more" if len(subjects) > len(shown) else ""
        st.markdown(
            f"Selected ({len(subjects)}): "
            + " · ".join(
                f"[{md(u)}]({links.patient_link(sel.study_id, u, sel.cutoff)})" for u in shown
            )  # fmt: skip
            + more
        )


def open_patient(usubjid: str) -> None:
    """The patient's profile, same tab, same study and cut-off."""
    sel = st.session_state["selection"]
    st.switch_page(
        PATIENT_PAGE,
        query_params={
            "study": sel.study_id,
            "cutoff": sel.cutoff.isoformat(),
            "subject": usubjid,
        },  # fmt: skip
    )


def chart(fig: go.Figure, key: str, hint: str | None = BOX_HINT, modes=("points", "box", "lasso")):
    """``st.plotly_chart`` whose points open (or list) their patients; ``hint`` says how."""
    state = st.plotly_chart(fig, key=key, on_select=lambda: _changed(key), selection_mode=modes)
    if hint:
        st.caption(hint)
    _open_or_list(key, point_subjects(state))
    return state


def table(frame: pd.DataFrame, key: str, subjects: Sequence[str], **kwargs):
    """``st.dataframe`` whose rows open their patient (``subjects[i]`` is row i's subject)."""
    state = st.dataframe(
        frame, key=key, on_select=lambda: _changed(key), selection_mode="single-row", **kwargs
    )
    rows = _selection(state).get("rows") or []
    picked = [subjects[r] for r in rows if r < len(subjects) and isinstance(subjects[r], str)]
    st.caption("Select a row to open the patient.")
    _open_or_list(key, picked)
    return state
