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
    ]
)
navigation.run()
