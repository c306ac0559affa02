"""Alerts: what the rules raised when new data arrived; acknowledge with a comment (audited)."""

import streamlit as st

from safety.errors import SafetyError
from safety.monitor import alerts
from ui import data, sidebar, widgets

sel = sidebar.selection()
st.title("Alerts")
st.caption(
    "Raised once per new delivery (after each ingest), never on a page view: new SAEs, DLT "
    "candidates, grade ≥ 3 AEs, potential Hy's law cases, stopping rules changing state, "
    "escalation decisions changing, accrual pauses. Alerts present when monitoring began are "
    "recorded as baseline, acknowledged by `system`."
)

if "ack_message" in st.session_state:
    st.success(st.session_state.pop("ack_message"))

left, middle, right = st.columns([1, 2, 2])
every_study = left.toggle("All studies", key="alerts_all_studies")
show = middle.segmented_control(
    "Show", ["Unacknowledged", "All"], default="Unacknowledged", key="alerts_show"
)
severities = right.multiselect(
    "Severity", list(alerts.SEVERITIES), default=list(alerts.SEVERITIES), key="alerts_severity"
)
feed = data.alert_feed(sel.db, None if every_study else sel.study_id, show != "All", sel.version)
feed = feed[feed["severity"].isin(severities)].reset_index(drop=True)
if feed.empty:
    st.success("No alerts to show.")
    st.stop()

feed["badge"] = feed["severity"].map(
    {"critical": "🔴 critical", "high": "🟠 high", "medium": "🔵 medium", "info": "⚪ info"}
)
picked = st.dataframe(
    feed,
    hide_index=True,
    key="alerts_table",
    on_select="rerun",
    selection_mode="multi-row",
    column_order=[
        "alert_id",
        "badge",
        "raised_at",
        "study_id",
        "cohort_id",
        "usubjid",
        "title",
        "detail",
        "event_date",
        "link",
        "acknowledged_by",
        "acknowledged_at",
        "ack_comment",
    ],
    column_config={
        "alert_id": st.column_config.NumberColumn("Alert", format="%d"),
        "badge": "Severity",
        "raised_at": st.column_config.DatetimeColumn("Raised (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "study_id": "Study",
        "cohort_id": "Cohort",
        "usubjid": "Patient",
        "title": st.column_config.TextColumn("Alert", width="large"),
        "detail": "Detail",
        "event_date": st.column_config.DateColumn("Event date"),
        "link": st.column_config.LinkColumn("Open", display_text="open"),
        "acknowledged_by": "Acknowledged by",
        "acknowledged_at": st.column_config.DatetimeColumn("At (UTC)", format="YYYY-MM-DD HH:mm"),
        "ack_comment": "Comment",
    },
)
widgets.download_table(feed.drop(columns="badge"), "alerts")

chosen = feed.iloc[picked.selection.rows] if picked else feed.iloc[[]]
unacknowledged = feed[feed["acknowledged_at"].isna()]
titles = dict(zip(unacknowledged["alert_id"].astype(int), unacknowledged["title"], strict=True))
with st.form("acknowledge", clear_on_submit=True):
    # Rows selected in the table come pre-filled (no key: the default follows the selection).
    open_ids = st.multiselect(
        "Alerts to acknowledge (or select rows in the table)",
        list(titles),
        default=[int(i) for i in chosen["alert_id"] if int(i) in titles],
        format_func=lambda i: f"#{i} {titles[i]}",
    )
    comment = st.text_area("Comment (required): what you saw or did", key="ack_comment")
    done = st.form_submit_button(f"Acknowledge as {sidebar.signed_in_user()}", type="primary")
if done:
    try:
        ids = alerts.acknowledge_alerts(sel.db, open_ids, sidebar.signed_in_user(), comment)
    except SafetyError as exc:
        st.error(str(exc))
    else:
        data.after_write()
        st.session_state["ack_message"] = (
            f"Acknowledged {len(ids)} alert(s) as {sidebar.signed_in_user()}; "
            "recorded in the audit log."
        )
        st.rerun()
