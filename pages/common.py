"""The one place pages get data from: cached wrappers over the library, and the shared sidebar.

Caches are keyed on the database's data version (last ingest batch, last audit entry), so new
data or a new adjudication invalidates them; every read opens a short-lived read-only
connection (see ``safety.store``), so another process can ingest meanwhile.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

import pandas as pd
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from safety import alerts, demo, queries, store
from safety.config import StudyConfig, parse_study_config
from safety.errors import SafetyError
from safety.patient import PatientProfile, load_profile
from safety.status import StudyStatus, study_status

# How a decision and a rule state look wherever they are shown (markdown badges).
DECISION_BADGES = {
    "escalate": ":blue-badge[escalate]",
    "stay": ":gray-badge[stay]",
    "de-escalate": ":orange-badge[de-escalate]",
    "eliminate": ":red-badge[eliminate]",
    "stop": ":red-badge[stop]",
    "none": ":gray-badge[no decision]",
}
RULE_BADGES = {
    "ok": ":green-badge[ok]",
    "warning": ":orange-badge[warning]",
    "triggered": ":red-badge[triggered]",
}


def db_path() -> str:
    return str(store.resolve_db_path())


def ensure_database() -> None:
    """Build the demo database on first run, showing progress, when the file does not exist."""
    path = store.resolve_db_path()
    if path.exists():
        return
    with st.status(
        f"First run: building the NCT04232592 demo database at {path} ...", expanded=True
    ) as progress:
        st.write(
            "Generating 32 synthetic subjects, their dosing, adverse events, labs and vital signs."
        )
        summary = demo.build_demo(path)
        alerts.refresh_alerts(path)  # the alert baseline: only data arriving later raise alerts
        st.write(summary.describe())
        progress.update(label="Demo database ready", state="complete", expanded=False)


@st.cache_data(ttl=2, show_spinner=False)
def data_version(path: str) -> tuple[int, int]:
    """The data version; cached for 2 s so a page's many reads share one look-up."""
    with store.read_connection(path) as con:
        return queries.data_version(con)


@st.cache_data(show_spinner=False)
def studies(path: str, version: tuple[int, int]) -> pd.DataFrame:
    with store.read_connection(path) as con:
        return queries.studies(con)


@st.cache_data(show_spinner=False)
def last_change(path: str, version: tuple[int, int]) -> datetime | None:
    with store.read_connection(path) as con:
        return queries.last_change(con)


@st.cache_resource(show_spinner=False)
def study_config(config_text: str, study_id: str) -> StudyConfig:
    """The study configuration stored with the study in the database."""
    return parse_study_config(config_text, f"{study_id} (stored configuration)")


@st.cache_data(show_spinner=False)
def status(path: str, study_id: str, cutoff: date, version: tuple[int, int]) -> StudyStatus:
    config = current_config_for(path, study_id, version)
    with store.read_connection(path) as con:
        return study_status(con, config, cutoff)


@st.cache_data(show_spinner=False)
def frame(
    path: str, query: str, study_id: str, cutoff: date, version: tuple[int, int]
) -> pd.DataFrame:
    """A study-and-cut-off query of ``safety.queries`` by name (only the names in FRAME_QUERIES)."""
    with store.read_connection(path) as con:
        return FRAME_QUERIES[query](con, study_id, cutoff)


FRAME_QUERIES = {
    "dosing_timeline": queries.dosing_timeline,
    "ae_counts_by_month": queries.ae_counts_by_month,
}


def after_write() -> None:
    """Call after writing to the database, so the next read sees the new data version."""
    data_version.clear()


def patient_link(study_id: str, usubjid: str) -> str:
    """A relative link to the patient profile, for LinkColumn cells and markdown."""
    return "patient?" + urlencode({"study": study_id, "subject": usubjid})


def current_config_for(path: str, study_id: str, version: tuple[int, int]) -> StudyConfig:
    row = studies(path, version).set_index("study_id").loc[study_id]
    return study_config(row["config_toml"], study_id)


@dataclass(frozen=True)
class Selection:
    """What the sidebar chose: the database, the study and the data cut-off."""

    db: str
    version: tuple[int, int]
    study_id: str
    config: StudyConfig
    cutoff: date
    data_cutoff: date | None  # the last day the study's data cover


def sidebar() -> Selection | None:
    """Study picker, data cut-off and data freshness; the choice is kept in ``?study=``."""
    path = db_path()
    try:
        version = data_version(path)
        all_studies = studies(path, version)
    except SafetyError as exc:
        st.error(str(exc))
        st.stop()
    if all_studies.empty:
        st.sidebar.warning("The database holds no study yet.")
        return None
    ids = all_studies["study_id"].tolist()
    wanted = st.query_params.get("study")
    index = ids.index(wanted) if wanted in ids else 0
    linked = _linked_subject_study(path, version)  # a ?subject= link decides the study
    if linked in ids and linked != st.session_state.get("study_picker", wanted):
        index = ids.index(linked)
        if "study_picker" in st.session_state:
            st.session_state["study_picker"] = linked
            index = 0  # session state decides; a default as well would log a warning
    study_id = st.sidebar.selectbox(
        "Study",
        ids,
        index=index,
        key="study_picker",
        format_func=lambda s: _study_label(all_studies, s),
    )
    st.query_params["study"] = study_id

    row = all_studies.set_index("study_id").loc[study_id]
    data_cutoff = row["data_cutoff"].date() if pd.notna(row["data_cutoff"]) else None
    default_cutoff = data_cutoff or date.today()
    _follow_new_data(default_cutoff)
    cutoff = st.sidebar.date_input(
        "Data cut-off",
        # the value only seeds the widget: afterwards its state (or _follow_new_data) decides
        **({} if "cutoff" in st.session_state else {"value": _cutoff_from_url(default_cutoff)}),
        max_value=max(default_cutoff, date.today()),
        key="cutoff",
        help="Records dated on or before this day count; decisions are shown as they stood then.",
    )
    if cutoff != default_cutoff:
        st.query_params["cutoff"] = cutoff.isoformat()
    elif "cutoff" in st.query_params:
        del st.query_params["cutoff"]

    changed = last_change(path, version)
    st.sidebar.caption(
        f"Data cover up to **{data_cutoff or 'unknown'}**. "
        f"Data last changed **{changed:%Y-%m-%d %H:%M} UTC**."
        if changed
        else "No data loaded yet."
    )
    st.sidebar.caption(f"Signed in as **{signed_in_user()}**")
    selection = Selection(
        path, version, study_id, current_config_for(path, study_id, version), cutoff, data_cutoff
    )
    st.session_state["selection"] = selection
    return selection


def selection(required: bool = True) -> Selection | None:
    """The sidebar's current choice (the sidebar runs before every page).

    With no study in the database the page stops with a hint, unless ``required`` is False
    (the Data page, which is where the first study is loaded): then None.
    """
    if getattr(PagesManager, "uses_pages_directory", False):  # internal flag: guarded
        # Streamlit ran this page alone, without dashboard.py and its sidebar: until a run has
        # called st.navigation it treats pages/ as a v1 multipage folder. That happens to a
        # deep link (/patient?subject=...) that is a fresh server's first request, and to every
        # AppTest switch_page. Switch v1 off, as st.navigation does, and run again: the rerun
        # goes through dashboard.py to the same page (same url path).
        PagesManager.uses_pages_directory = False
        st.rerun()
    chosen = st.session_state.get("selection")
    if chosen is None and required:
        st.info("No study in the database yet: load one on the Data page.")
        st.stop()
    return chosen


def signed_in_user() -> str:
    """Who is using the dashboard: $SAFETY_USER, else the operating-system user."""
    return os.environ.get("SAFETY_USER") or getpass.getuser()


def _study_label(all_studies: pd.DataFrame, study_id: str) -> str:
    title = all_studies.set_index("study_id").loc[study_id, "title"]
    return f"{study_id}: {title[:60]}{'…' if len(title) > 60 else ''}"


def _follow_new_data(default_cutoff: date) -> None:
    """Keep the cut-off on the latest data when new data arrive, unless the user chose another.

    A cut-off left at the data's last day moves with it (live monitoring); one the user picked
    (or a ``?cutoff=`` link) stays.
    """
    previous = st.session_state.get("_data_cutoff_shown")
    if previous is not None and previous != default_cutoff:
        if st.session_state.get("cutoff") == previous:
            st.session_state["cutoff"] = default_cutoff
    st.session_state["_data_cutoff_shown"] = default_cutoff


def _cutoff_from_url(default: date) -> date:
    raw = st.query_params.get("cutoff")
    try:
        return date.fromisoformat(raw) if raw else default
    except ValueError:
        return default


def _linked_subject_study(path: str, version: tuple[int, int]) -> str | None:
    """The study of a ``?subject=`` that is new in the address bar (a link just followed).

    A subject the session has already seen does not override the study again, so that picking
    another study in the sidebar still works on the patient page.
    """
    subject = st.query_params.get("subject")
    if not subject or subject == st.session_state.get("_linked_subject"):
        return None
    st.session_state["_linked_subject"] = subject
    return subject_study(path, subject, version)


# --- live monitoring: alert feed and auto-refresh ---------------------------------------------

LIVE_REFRESH_SECONDS = 10  # issue 9: news must reach the safety officer within a minute
FEED_LENGTH = 5
SEVERITY_BADGES = {
    "critical": ":red-badge[critical]",
    "high": ":orange-badge[high]",
    "medium": ":blue-badge[medium]",
    "info": ":gray-badge[info]",
}


@st.cache_data(show_spinner=False)
def alert_counts(path: str, version: tuple[int, int]) -> pd.DataFrame:
    """Unacknowledged alerts per study and severity (``queries.unacknowledged_alert_counts``)."""
    with store.read_connection(path) as con:
        return queries.unacknowledged_alert_counts(con)


@st.cache_data(show_spinner=False)
def alert_feed(
    path: str, study_id: str | None, unacknowledged_only: bool, version: tuple[int, int]
) -> pd.DataFrame:
    """Alerts newest first (``queries.alert_feed``)."""
    with store.read_connection(path) as con:
        return queries.alert_feed(con, study_id, unacknowledged_only)


def live_sidebar() -> None:
    """The sidebar's alert feed and auto-refresh, on every page.

    Called by dashboard.py after ``st.navigation`` (a page link needs the pages declared) and
    before the page runs, so that every page gets it.
    """
    chosen = st.session_state.get("selection")
    if chosen is None:
        return
    with st.sidebar:
        _alert_feed(chosen.db, chosen.study_id, chosen.version)
        _live_refresh(chosen.db, chosen.version)


def _alert_feed(path: str, study_id: str, version: tuple[int, int]) -> None:
    """The sidebar's alert feed: unacknowledged count on every page, the latest few alerts."""
    counts = alert_counts(path, version)
    total = int(counts["alerts"].sum())
    here = int(counts.loc[counts["study_id"] == study_id, "alerts"].sum())
    label = f"Alerts: {here} unacknowledged" + (
        f" ({total} in all studies)" if total != here else ""
    )
    st.page_link(
        "pages/alerts.py",
        label=label,
        icon=":material/notifications_active:" if here else ":material/notifications:",
    )
    if not here:
        return
    latest = alert_feed(path, study_id, True, version).head(FEED_LENGTH)
    with st.expander("Latest alerts", expanded=False):
        for a in latest.itertuples():  # at most FEED_LENGTH rows
            link = f" [open]({a.link})" if isinstance(a.link, str) else ""
            st.markdown(f"{SEVERITY_BADGES.get(a.severity, a.severity)} {a.title}{link}")


@st.fragment(run_every=timedelta(seconds=LIVE_REFRESH_SECONDS))
def _live_refresh(path: str, shown: tuple[int, int]) -> None:
    """Every few seconds: has the data version changed since this page was drawn? Then rerun.

    A full rerun keeps every widget's state (filters, selections, the cut-off), so the page
    redraws with the new data and nothing else moves. One cached look-up per tick (ttl 2 s).
    """
    try:
        current = data_version(path)
    except SafetyError:
        return  # the database is briefly unavailable: look again at the next tick
    if current != shown:
        st.rerun()
    st.caption(
        f"Live: checks for new data every {LIVE_REFRESH_SECONDS} s "
        f"(last {datetime.now(UTC):%H:%M:%S} UTC)."
    )


# --- patient profile ---------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def subject_study(path: str, usubjid: str, version: tuple[int, int]) -> str | None:
    """The study a USUBJID belongs to (None when no study has it)."""
    with store.read_connection(path) as con:
        return queries.subject_study(con, usubjid)


@st.cache_data(show_spinner=False)
def study_roster(path: str, study_id: str, version: tuple[int, int]) -> pd.DataFrame:
    """The study's subjects in profile order, with their review status."""
    with store.read_connection(path) as con:
        return queries.study_roster(con, study_id)


@st.cache_data(show_spinner=False)
def patient_profile(
    path: str, study_id: str, usubjid: str, cutoff: date, version: tuple[int, int]
) -> PatientProfile | None:
    """Everything the patient profile shows (``safety.patient.load_profile``)."""
    config = current_config_for(path, study_id, version)
    with store.read_connection(path) as con:
        return load_profile(con, config, usubjid, cutoff)


# --- downloads: every table as CSV/XLSX, every chart as PNG ------------------------------------


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_") or "table"


def download_table(frame: pd.DataFrame, name: str, key: str | None = None) -> None:
    """CSV and XLSX download buttons for a table shown on the page.

    The files are made when a button is clicked (not on every rerun); the page does not rerun.
    ``name`` becomes the file name; ``key`` tells apart two tables of the same name.
    """
    from safety.report.xlsx import frame_xlsx

    slug = _slug(name)
    key = key or slug
    with st.container(horizontal=True, gap="small"):
        st.download_button(
            "CSV", data=lambda: frame.to_csv(index=False).encode("utf-8"),
            file_name=f"{slug}.csv", mime="text/csv", key=f"dl_csv_{key}",
            on_click="ignore", icon=":material/download:", type="tertiary",
        )  # fmt: skip
        st.download_button(
            "XLSX", data=lambda: frame_xlsx(frame, name), file_name=f"{slug}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key=f"dl_xlsx_{key}", on_click="ignore", icon=":material/download:",
            type="tertiary",
        )  # fmt: skip


def download_figure(fig, name: str, key: str | None = None) -> None:
    """A PNG download button for a chart (kaleido with Debian's Chromium; made on click).

    One kaleido server per process (``safety.report.figures``): 2 s for the first figure,
    then about 0.13 s a figure.
    """
    from safety.report import figures

    def png() -> bytes:
        figures.start_server()  # the click runs in another thread: no st.* calls here
        return figures.to_png(fig)

    slug = _slug(name)
    st.download_button(
        "PNG", data=png, file_name=f"{slug}.png", mime="image/png",
        key=f"dl_png_{key or slug}", on_click="ignore", icon=":material/download:",
        type="tertiary",
    )  # fmt: skip
