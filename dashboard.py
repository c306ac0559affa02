"""Entry point: sign-in, the pages the user may open, the demo database on first run, the
banners and the sidebar every page shares."""

import logging
from pathlib import Path

import streamlit as st

from safety.files import private_umask
from ui import auth, data, esign, sidebar, startup

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
private_umask()  # the database, its log and report folders: the owner's (and group's) only
# The icon is a file of ours: a material icon as favicon makes the browser fetch it from Google.
FAVICON = str(Path(__file__).parent / "ui" / "favicon.png")
st.set_page_config(page_title="Dose-escalation safety", page_icon=FAVICON, layout="wide")
startup.leave_pages_directory_mode()
access = auth.access_config()
user = auth.signed_in_user(access)
navigation = startup.navigation(user)  # declared first: the menu shows while the demo builds
if user is None:
    auth.sign_in_page(access)  # an anonymous visitor sees this and nothing else
if not startup.pages_for(user):
    st.error(f"{user.name} ({user.id}) has no role in any study: ask an administrator.")
    auth.sign_out_button(access)
    st.stop()
esign.complete_pending(access, user)  # back from re-authenticating for a signature
startup.ensure_database()
sidebar.sidebar(access, user)
auth.banners(access, data.audit_check(sidebar.db_path(), data.data_version(sidebar.db_path())))
sidebar.live_sidebar()  # alert feed and auto-refresh: after the pages are declared
navigation.run()
