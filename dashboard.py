"""Entry point: the pages, the demo database on first run, and the sidebar every page shares."""

import logging

import streamlit as st

from ui import sidebar, startup

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
st.set_page_config(
    page_title="Dose-escalation safety", page_icon=":material/monitor_heart:", layout="wide"
)
startup.leave_pages_directory_mode()
navigation = startup.navigation()  # declared first: the menu shows while the demo builds
startup.ensure_database()
sidebar.sidebar()
sidebar.live_sidebar()  # alert feed and auto-refresh: after the pages are declared
navigation.run()
