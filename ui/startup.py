"""Start of every script run: out of Streamlit's pages-directory mode, the pages the signed-in
user may open, the demo database on first run."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from safety import store
from safety.access import PERMISSIONS, Action, User

# The pages, in menu order: (file, title, icon, url path or None for the file's stem, what a
# user needs in some study to have the page in the menu; each page checks the chosen study).
PAGES = (
    ("pages/overview.py", "Overview", ":material/dashboard:", None, Action.VIEW_OPEN),
    ("pages/escalation.py", "Dose escalation", ":material/stairs:", None, Action.VIEW_CLOSED),
    ("pages/adverse_events.py", "Adverse events", ":material/emergency:", None,
     Action.VIEW_CLOSED),
    ("pages/labs.py", "Labs", ":material/labs:", None, Action.VIEW_CLOSED),
    ("pages/patient.py", "Patient", ":material/person:", "patient", Action.VIEW_PATIENT),
    ("pages/reports.py", "DSMB reports", ":material/description:", None, Action.VIEW_OPEN),
    ("pages/data.py", "Data", ":material/upload_file:", None, Action.VIEW_DELIVERIES),
    ("pages/alerts.py", "Alerts", ":material/notifications:", None, Action.VIEW_CLOSED),
    ("pages/access.py", "Users and roles", ":material/admin_panel_settings:", None,
     Action.MANAGE_ACCESS),
)  # fmt: skip


def leave_pages_directory_mode() -> None:
    """Make Streamlit run every request through ``dashboard.py`` and its ``st.navigation``.

    With a folder named ``pages/`` beside the entry script, Streamlit starts in its old
    pages-directory mode (internal flag ``PagesManager.uses_pages_directory``) until a run has
    called ``st.navigation``: a fresh server's first request runs the page it names alone,
    without the sidebar (a deep link such as ``/patient?subject=...``, every AppTest
    ``switch_page``). Switch the mode off, as ``st.navigation`` itself does, and run again: the
    rerun goes through ``dashboard.py`` to the same page (same url path). Called first by the
    entry script and by every page; ``tests/test_app.py`` fails if Streamlit drops the flag.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def pages_for(user: User | None) -> list[tuple]:
    """The pages a user has in the menu: those whose action a role of theirs allows in some
    study (nobody signed in: none)."""
    if user is None:
        return []
    allowed = {a for g in user.grants for a in PERMISSIONS[g.role]}
    return [page for page in PAGES if page[4] in allowed]


def navigation(user: User | None) -> st.navigation:
    """The user's pages as Streamlit navigation (declared before anything slow runs). Nobody
    signed in: every page declared, so a link keeps its address through the sign-in, but the
    menu is hidden and no page runs (``dashboard.py`` stops at the sign-in page)."""
    shown = pages_for(user)
    declared = shown or PAGES
    return st.navigation(
        [st.Page(path, title=title, icon=icon, default=(i == 0),
                 **({"url_path": url} if url else {}))
         for i, (path, title, icon, url, _) in enumerate(declared)],
        position="sidebar" if shown else "hidden",
    )  # fmt: skip


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
        # imported here: the ingest and notification stacks are ~0.6 s of a server's first run
        from safety import pipeline

        summary = pipeline.build_demo(path)  # with its alert baseline
        st.write(summary.describe())
        progress.update(label="Demo database ready", state="complete", expanded=False)
