"""Alerts: first the open items that need someone (the worklist: DLT candidates to adjudicate,
SAEs and deaths to review, held deliveries, baseline or not), then what the rules raised when
new data arrived; acknowledge with a comment and an electronic signature (audited)."""

import streamlit as st

from safety import links
from safety.access import Action
from safety.monitor import alerts
from ui import data, esign, sidebar, widgets

sel = sidebar.selection(needs=Action.VIEW_CLOSED)
st.title("Alerts")

st.markdown("#### Open items: need someone")
items = data.worklist(sel.db, sel.user, sel.study_id, sel.version)
if items.empty:
    st.success(f"Nothing in {sel.study_id} waits for anyone: "
               + ("every DLT candidate is adjudicated, " if sel.config.is_escalation else "")
               + "every SAE and death reviewed, no delivery held.", icon=":material/task_alt:")
else:
    yours = int(items["yours"].sum())
    st.caption(f"{len(items)} open item{'s' if len(items) != 1 else ''} in {sel.study_id}, "
               f"{yours} of them for you; each stays here until someone acts on it, whether it "
               "arrived before monitoring began (baseline) or after.")  # fmt: skip
    shown = items.assign(link=items["link"].map(links.dashboard_link),
                         yours=items["yours"].map({True: "yes", False: "no"}),
                         baseline=items["baseline"].map({True: "yes", False: ""}))
    st.dataframe(
        shown.fillna(""), hide_index=True, key="worklist_table",
        column_order=["item", "cohort_label", "usubjid", "what", "event_date", "baseline", "to_do",
                      "yours", "link"],
        column_config={
            "item": "Open item", "cohort_label": "Cohort", "usubjid": "Patient",
            "what": st.column_config.TextColumn("What", width="medium"),
            "baseline": st.column_config.TextColumn(
                "Baseline", help="Present when monitoring began (acknowledged then by the "
                "system, not by a person)"),
            "event_date": st.column_config.DateColumn("Date"), "to_do": "To close it",
            "yours": "Yours to do", "link": st.column_config.LinkColumn("Open", display_text="open"),
        },
    )  # fmt: skip
    widgets.download_table(items.drop(columns=["link", "site_id", "action"]), "open_items")

st.markdown("#### Alerts raised")
st.caption(
    "Raised once per new delivery (after each ingest), never on a page view: new SAEs, "
    + ("DLT candidates, " if sel.config.is_escalation else "")
    + "grade ≥ 3 AEs, potential Hy's law cases"
    + (", stopping rules changing state, escalation decisions changing, accrual pauses"
       if sel.config.is_escalation else "")
    + ". Alerts present when monitoring began are "
    "recorded as baseline, acknowledged by `system`; a person may acknowledge them again, and "
    "their SAEs" + (" and DLT candidates" if sel.config.is_escalation else "")
    + " stay among the open items above until someone acts."
)

left, middle, right = st.columns([1, 2, 2])
every_study = left.toggle("All studies", key="alerts_all_studies")
show = middle.segmented_control(
    "Show", ["Unacknowledged", "All"], default="Unacknowledged", key="alerts_show"
)
severities = right.multiselect(
    "Severity", list(alerts.SEVERITIES), default=list(alerts.SEVERITIES), key="alerts_severity"
)
feed = data.alert_feed(sel.db, sel.user, None if every_study else sel.study_id, show != "All",
                       sel.version)  # fmt: skip
feed = feed[feed["severity"].isin(severities)].reset_index(drop=True)
feed["link"] = feed["link"].map(links.dashboard_link)  # only the dashboard's own links
if feed.empty:
    st.info(f"No {'unacknowledged ' if show != 'All' else ''}alerts with these filters; the open "
            "items above wait all the same.", icon=":material/notifications_off:")  # fmt: skip
    st.stop()

feed["badge"] = feed["severity"].str.capitalize()  # text: emoji render as boxes headless
picked = st.dataframe(
    feed.astype({c: "object" for c in ("cohort_label", "usubjid", "acknowledged_by",
                                       "ack_comment", "ack_signature")}).fillna(""),
    hide_index=True,
    key="alerts_table",
    on_select="rerun",
    selection_mode="multi-row",
    column_order=[
        "alert_id",
        "badge",
        "raised_at",
        "study_id",
        "cohort_label",
        "usubjid",
        "title",
        "detail",
        "event_date",
        "link",
        "acknowledged_by",
        "acknowledged_at",
        "ack_comment",
        "ack_signature",
    ],
    column_config={
        "alert_id": st.column_config.NumberColumn("Alert", format="%d"),
        "badge": "Severity",
        "raised_at": st.column_config.DatetimeColumn("Raised (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "study_id": "Study",
        "cohort_label": "Cohort",
        "usubjid": "Patient",
        "title": st.column_config.TextColumn("Alert", width="large"),
        "detail": "Detail",
        "event_date": st.column_config.DateColumn("Event date"),
        "link": st.column_config.LinkColumn("Open", display_text="open"),
        "acknowledged_by": "Acknowledged by",
        "acknowledged_at": st.column_config.DatetimeColumn("At (UTC)", format="YYYY-MM-DD HH:mm"),
        "ack_comment": "Comment",
        "ack_signature": st.column_config.TextColumn("Signature", width="large"),
    },
)
widgets.download_table(feed.drop(columns="badge"), "alerts")

chosen = feed.iloc[picked.selection.rows] if picked else feed.iloc[[]]
# open to a person: never acknowledged, or only as baseline by the system
unacknowledged = feed[feed["acknowledged_at"].isna()
                      | (feed["acknowledged_by"] == alerts.BASELINE_ACTOR)]
titles = dict(zip(unacknowledged["alert_id"].astype(int), unacknowledged["title"], strict=True))
if not sel.can(Action.ACKNOWLEDGE_ALERT):
    st.caption(f"Acknowledging alerts is for safety officers; you are {sel.user.titles(sel.study_id)}.")
    st.stop()
with st.form("acknowledge", clear_on_submit=True):
    # Rows selected in the table come pre-filled (no key: the default follows the selection).
    open_ids = st.multiselect(
        "Alerts to acknowledge (or select rows in the table)",
        list(titles),
        default=[int(i) for i in chosen["alert_id"] if int(i) in titles],
        format_func=lambda i: f"#{i} {titles[i]}",
    )
    comment = st.text_area("Comment (required): what you saw or did", key="ack_comment")
    password = esign.signature_field(sel.access, sel.user, "alert.acknowledge", "ack_password")
    done = st.form_submit_button("Sign and acknowledge", type="primary", icon=":material/draw:")
if done:
    if not open_ids or not comment.strip():
        st.error("Choose the alerts and write a comment: both are required.")
    else:
        def _acknowledge(signature, ids=tuple(open_ids), text=comment):
            acknowledged = alerts.acknowledge_alerts(sel.db, list(ids), sel.user, text,
                                                     signature=signature)  # fmt: skip
            return (f"Acknowledged {len(acknowledged)} alert(s), signed by {sel.user.name}; "
                    "recorded in the audit trail.")  # fmt: skip

        esign.sign(sel.access, sel.user, "alert.acknowledge", password, _acknowledge,
                   "pages/alerts.py")  # fmt: skip
