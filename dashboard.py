"""Entry point: declares the pages and the sidebar (study, data cut-off, data freshness)."""

import logging

import streamlit as st

from pages import common

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
st.set_page_config(
    page_title="Dose-escalation safety", page_icon=":material/monitor_heart:", layout="wide"
)

common.ensure_database()
common.sidebar()

navigation = st.navigation(
    [
        st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("pages/escalation.py", title="Dose escalation", icon=":material/stairs:"),
        st.Page("pages/adverse_events.py", title="Adverse events", icon=":material/emergency:"),
        st.Page("pages/labs.py", title="Labs", icon=":material/labs:"),
        st.Page("pages/patient.py", title="Patient", icon=":material/person:", url_path="patient"),
        st.Page("pages/reports.py", title="DSMB reports", icon=":material/description:"),
        st.Page("pages/data.py", title="Data", icon=":material/upload_file:"),
        st.Page("pages/alerts.py", title="Alerts", icon=":material/notifications:"),
    ]
)
common.live_sidebar()  # alert feed and auto-refresh: after the pages are declared
navigation.run()
