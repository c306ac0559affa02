"""Start of every script run: out of Streamlit's pages-directory mode, the pages, the demo
database on first run."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from safety import pipeline, store

# The pages, in menu order: (file, title, icon, url path or None for the file's stem).
PAGES = (
    ("pages/overview.py", "Overview", ":material/dashboard:", None),
    ("pages/escalation.py", "Dose escalation", ":material/stairs:", None),
    ("pages/adverse_events.py", "Adverse events", ":material/emergency:", None),
    ("pages/labs.py", "Labs", ":material/labs:", None),
    ("pages/patient.py", "Patient", ":material/person:", "patient"),
    ("pages/reports.py", "DSMB reports", ":material/description:", None),
    ("pages/data.py", "Data", ":material/upload_file:", None),
    ("pages/alerts.py", "Alerts", ":material/notifications:", None),
)


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


def navigation() -> st.navigation:
    """The pages as Streamlit navigation (declared before anything slow runs)."""
    return st.navigation([
        st.Page(path, title=title, icon=icon, default=(i == 0),
                **({"url_path": url} if url else {}))
        for i, (path, title, icon, url) in enumerate(PAGES)
    ])


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
        summary = pipeline.build_demo(path)  # with its alert baseline
        st.write(summary.describe())
        progress.update(label="Demo database ready", state="complete", expanded=False)
