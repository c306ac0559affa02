"""The sidebar every page shares: the study (those the user has a role in), the data cut-off,
data freshness, who is signed in, the alert feed and the live refresh; and the selection pages
read, which also refuses a page the user's roles do not allow in the chosen study."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import streamlit as st

from safety import links, store, views
from safety.access import ACTION_PHRASES, AccessConfig, Action, User
from safety.clinical.populations import PopulationFilter
from safety.config import StudyConfig
from safety.errors import SafetyError
from safety.escaping import md
from safety.monitor import worklist
from ui import auth, data, population
from ui.startup import leave_pages_directory_mode
from ui.widgets import SEVERITY_BADGES


def db_path() -> str:
    return str(store.resolve_db_path())


@dataclass(frozen=True)
class Selection:
    """What the sidebar chose: the database, the study and the data cut-off; and who is asking
    (the user every read and act passes to the library) under which access configuration."""

    db: str
    version: tuple[int, int]
    study_id: str
    config: StudyConfig
    cutoff: date
    data_cutoff: date | None  # the last day the study's data cover
    user: User
    access: AccessConfig
    population: PopulationFilter = PopulationFilter()  # the sidebar's population filter
    subjects: frozenset[str] | None = None  # the subjects it keeps; None: everyone

    def keep(self, frame: pd.DataFrame, column: str = "usubjid") -> pd.DataFrame:
        """The rows of ``frame`` whose subject is in the population filter's."""
        return population.keep(frame, self.subjects, column)

    def can(self, action: Action) -> bool:
        """Whether the user may do ``action`` in the chosen study (at some site)."""
        return views.user_can(self.user, action, self.study_id)


def sidebar(access: AccessConfig, user: User) -> Selection | None:
    """Study picker, data cut-off and data freshness; the choice is kept in ``?study=``."""
    path = db_path()
    st.session_state["signed_in"] = (access, user)
    st.sidebar.caption(f"Signed in as **{md(user.name)}** ({md(user.id)})")
    auth.sign_out_button(access)
    try:
        version = data.data_version(path)
        all_studies = data.studies(path, user, version)
    except SafetyError as exc:
        st.error(str(exc))
        st.stop()
    if all_studies.empty:
        st.sidebar.warning("No study you have a role in is in the database yet.")
        st.session_state.pop("selection", None)
        return None
    ids = all_studies["study_id"].tolist()
    wanted = st.query_params.get("study")
    index = ids.index(wanted) if wanted in ids else 0
    linked = _linked_subject_study(path, user, version)  # a ?subject= link decides the study
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
        format_func=_study_labels(all_studies).get,
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

    changed = data.last_change(path, version)
    st.sidebar.caption(
        f"Data cover up to **{data_cutoff or 'unknown'}**. "
        f"Data last changed **{changed:%Y-%m-%d %H:%M} UTC**."
        if changed
        else "No data loaded yet."
    )
    filtered, subjects = (  # an administrator sees no study data, so has no population
        population.population_filter(path, user, study_id, cutoff, version)
        if views.user_can(user, Action.VIEW_OPEN, study_id) else (PopulationFilter(), None))
    st.sidebar.caption(f"Your roles in {md(study_id)}: {md(user.titles(study_id))}")
    selection = Selection(
        path, version, study_id, data.current_config_for(path, user, study_id, version), cutoff,
        data_cutoff, user, access, filtered, subjects,
    )  # fmt: skip
    st.session_state["selection"] = selection
    return selection


def selection(needs: Action | None = None, required: bool = True) -> Selection | None:
    """The sidebar's current choice (the sidebar runs before every page).

    A page that ``needs`` an action its user's roles do not allow in the chosen study stops
    with one sentence saying so. With no study in the database the page stops with a hint,
    unless ``required`` is False (the Data page, which is where the first study is loaded):
    then None.
    """
    leave_pages_directory_mode()
    chosen = st.session_state.get("selection")
    if chosen is None and required:
        st.info("No study you have a role in is in the database yet: a data manager loads "
                "studies on the Data page.")  # fmt: skip
        st.stop()
    if chosen is not None and needs is not None and not chosen.can(needs):
        st.info(f"{md(chosen.user.describe(chosen.study_id))} may not "
                f"{ACTION_PHRASES[needs]} in {md(chosen.study_id)}: this page is not among "
                "your roles' pages for this study.", icon=":material/lock:")  # fmt: skip
        st.stop()
    return chosen


def signed_in() -> tuple[AccessConfig, User]:
    """(the access configuration, the signed-in user) of this run (set before any page runs)."""
    return st.session_state["signed_in"]


def _study_labels(all_studies: pd.DataFrame) -> dict[str, str]:
    """Each study as the picker shows it: its id and the start of its title."""
    return {s: f"{s}: {t[:60]}{'…' if len(t) > 60 else ''}"
            for s, t in zip(all_studies["study_id"], all_studies["title"], strict=True)}


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


def _linked_subject_study(path: str, user: User, version: tuple[int, int]) -> str | None:
    """The study of a ``?subject=`` that is new in the address bar (a link just followed).

    A subject the session has already seen does not override the study again, so that picking
    another study in the sidebar still works on the patient page.
    """
    subject = st.query_params.get("subject")
    if not subject or subject == st.session_state.get("_linked_subject"):
        return None
    st.session_state["_linked_subject"] = subject
    return data.subject_study(path, user, subject, version)


# --- live monitoring: alert feed and auto-refresh ---------------------------------------------


LIVE_REFRESH_SECONDS = 10  # issue 9: news must reach the safety officer within a minute


FEED_LENGTH = 5


def live_sidebar() -> None:
    """The sidebar's alert feed and auto-refresh, on every page.

    Called by dashboard.py after ``st.navigation`` (a page link needs the pages declared) and
    before the page runs, so that every page gets it.
    """
    chosen = st.session_state.get("selection")
    if chosen is None:
        return
    with st.sidebar:
        if chosen.can(Action.VIEW_CLOSED):  # alerts are about cohorts and patients
            _alert_feed(chosen.db, chosen.user, chosen.study_id, chosen.version)
        elif chosen.can(Action.VIEW_DELIVERIES):  # a data manager's open items: held deliveries
            held = data.worklist(chosen.db, chosen.user, chosen.study_id, chosen.version)
            st.page_link("pages/data.py", label=f"Held deliveries: {len(held)} to confirm or "
                         "reject", icon=":material/pending_actions:")  # fmt: skip
        _live_refresh(chosen.db, chosen.version)


def _alert_feed(path: str, user: User, study_id: str, version: tuple[int, int]) -> None:
    """The sidebar's alert feed on every page: how many things of the study need someone (open
    items and unacknowledged alerts, ``worklist.needs_someone``), the latest few alerts."""
    counts = data.alert_counts(path, user, version)
    items = data.worklist(path, user, study_id, version)
    here = worklist.needs_someone(items, counts[counts["study_id"] == study_id])
    yours = int(items["yours"].sum())
    label = f"Alerts: {here} need{'s' if here == 1 else ''} someone" + (
        f" ({yours} for you)" if yours and yours != here else "")
    st.page_link(
        "pages/alerts.py",
        label=label,
        icon=":material/notifications_active:" if here else ":material/notifications:",
    )
    latest = data.alert_feed(path, user, study_id, True, version).head(FEED_LENGTH)
    if latest.empty:
        return
    with st.expander("Latest alerts", expanded=False):
        for a in latest.itertuples():  # at most FEED_LENGTH rows
            link = links.dashboard_link(a.link)  # only the dashboard's own links are links
            opener = f" [open]({link})" if link else ""
            st.markdown(f"{SEVERITY_BADGES.get(a.severity, md(a.severity))} {md(a.title)}{opener}")


@st.fragment(run_every=timedelta(seconds=LIVE_REFRESH_SECONDS))
def _live_refresh(path: str, shown: tuple[int, int]) -> None:
    """Every few seconds: has the data version changed since this page was drawn? Then rerun.

    A full rerun keeps every widget's state (filters, selections, the cut-off), so the page
    redraws with the new data and nothing else moves. One cached look-up per tick (ttl 2 s).
    """
    try:
        current = data.data_version(path)
    except SafetyError:
        return  # the database is briefly unavailable: look again at the next tick
    if current != shown:
        st.rerun()
    st.caption(
        f"Live: checks for new data every {LIVE_REFRESH_SECONDS} s "
        f"(last {datetime.now(UTC):%H:%M:%S} UTC)."
    )
