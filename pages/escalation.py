"""Dose escalation: per dose cohort what the DLT data say, the design's decision and why, the
evidence behind it (decision table, estimates, other designs, dose paths, history), and the DLT
candidates to adjudicate."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from safety import links
from safety.access import Action
from safety.config import MONITORING_ONLY
from safety.display import header, readable
from safety.escalation.outcomes import summary_by_dose
from safety.escaping import md
from safety.monitor import adjudication
from safety.monitor import escalation_review as review
from ui import data, drill, esign, sidebar, widgets

LETTER_STYLES = {
    "E": "background-color: #deebf7",
    "S": "background-color: #f0f0f0",
    "D": "background-color: #fdd0a2",
    "DU": "background-color: #fc9272",
}
DECISION_LABELS = {"confirmed": "Confirm: it is a DLT", "rejected": "Reject: not a DLT"}
SIGNED_ACTS = {"confirmed": "dlt.confirm", "rejected": "dlt.reject", "added": "dlt.add"}
PAGE = "pages/escalation.py"




def _adjudication(signature, **kwargs) -> str:
    """Record a signed adjudication (after the signature); what to tell the adjudicator."""
    done = adjudication.adjudicate(sel.db, sel.study_id, user=sel.user, signature=signature,
                                   **kwargs)  # fmt: skip
    return (f"Recorded: {done.usubjid} {done.source.replace('_', ' ')} {done.source_seq} "
            f"{done.decision} (was {done.previous_status or 'not a candidate'}), signed: "
            f"{done.signature.describe()}. Decisions are recomputed.")  # fmt: skip


# --- the page --------------------------------------------------------------------------------

sel = sidebar.selection(needs=Action.VIEW_CLOSED)
config = sel.config
if not config.is_escalation:  # nothing to decide, no DLT to adjudicate: say so once
    st.title("Dose escalation")
    st.info(md(MONITORING_ONLY), icon=":material/monitor_heart:")
    st.stop()
status = data.status(sel.db, sel.user, sel.study_id, sel.cutoff, sel.version)
states, events, adjudication_log = data.dlt_data(sel.db, sel.user, sel.study_id, sel.cutoff,
                                                 sel.version)  # fmt: skip
labels = [c.label for c in config.dose_cohorts]

st.title("Dose escalation")
st.caption(
    f"{md(config.study_id)} · {review.as_of(sel.cutoff, sel.data_cutoff)} · "
    f"evaluable per dose (patients / DLTs): {summary_by_dose(status.outcomes) or 'none yet'}"
)
widgets.evaluable_history(status.outcomes)
if config.doses_illustrative and config.dose_note:
    st.warning(md(config.dose_note), icon=":material/info:")

st.info(
    f"**Next patients: {md(status.decision_label)}"
    + (f" (dose level {status.recommended_dose_level})" if status.recommended_dose_level else "")
    + f".** {md(status.reason_after_label)}"
    + (f"  \nOn the evaluable patients so far {md(status.design_name)} would say: "
       f"{md(status.provisional_reason)}" if status.provisional_reason else ""),
    icon=":material/stairs:",
)
for rule in status.triggered_rules:
    st.error(f"**{md(rule.name)}: triggered.** {md(rule.detail)}", icon=":material/block:")
with st.expander("Design, DLT definition and stopping rules"):
    st.markdown(status.design_description)

# --- cohorts -----------------------------------------------------------------------------------
st.subheader("Dose cohorts")
cohort_table = review.cohort_review(status, events)
st.dataframe(
    cohort_table.drop(columns="Reason").assign(  # the reasons are on the cards below
        **{
            "Evaluable on": [
                f"{d:%d %b %Y}" if pd.notna(d) else "now" for d in cohort_table["Evaluable on"]
            ]
        }
    ),
    hide_index=True,
    key="cohort_review",
    column_config={
        "Evaluable on": st.column_config.TextColumn(
            "Evaluable on", help="The day the cohort's last open DLT window closes"
        ),
        "Subjects with DLT": st.column_config.NumberColumn("With DLT", help="Subjects"),
        "DLTs confirmed": st.column_config.NumberColumn("Confirmed", help="DLT events"),
        "DLTs candidate": st.column_config.NumberColumn(
            "Candidate", help="DLT events not adjudicated yet (they count)"
        ),
        "DLTs added": st.column_config.NumberColumn("Added", help="DLTs added by adjudication"),
        "DLTs rejected": st.column_config.NumberColumn(
            "Rejected", help="Candidates rejected by adjudication (they do not count)"
        ),
    },
)
widgets.download_table(cohort_table, "dose_cohorts")
cards = st.columns(len(config.dose_cohorts))
for card, cohort in zip(cards, [c for c in status.cohorts if not c.control], strict=True):
    with card.container(border=True):
        st.markdown(f"**{md(cohort.label)}**  \n{md(cohort.facts)}")
        badge = widgets.DECISION_BADGES.get(cohort.decision_label, md(cohort.decision_label))
        st.markdown(f"What {md(status.design_name)} would say at this dose: {badge}")
        if cohort.evaluable_on:
            st.markdown(
                f":material/schedule: {cohort.in_dlt_window} pending: evaluable on "
                f"**{cohort.evaluable_on:%d %b %Y}** ({cohort.days_to_evaluable} days)"
            )
        else:
            st.markdown(":material/check: no DLT window open")
        st.caption(md(cohort.reason))

clock = review.dlt_clock(states, config)
if clock.empty:
    st.caption("No patient of a dose cohort is inside the DLT window at the cut-off.")
else:
    left, right = st.columns([3, 2])
    with left:
        clock_chart = data.chart("escalation.dlt_window_clock", clock, config.dlt.window_days)
        drill.chart(clock_chart, "dlt_clock_chart", "Click a bar to open its patient.",
                    modes=("points",))  # fmt: skip
        widgets.download_figure(clock_chart, "dlt_window_clock")
    with right:
        clock_table = clock.assign(
            patient=[links.patient_link(sel.study_id, u, sel.cutoff) for u in clock["usubjid"]]
        )[["patient", "window_end", "days_left", "elapsed"]]
        drill.table(
            clock_table,
            "dlt_clock_table",
            clock["usubjid"].tolist(),
            hide_index=True,
            column_config={
                "patient": st.column_config.LinkColumn("Patient", display_text=r"subject=(.*)$"),
                "first_dose_date": st.column_config.DateColumn("First dose"),
                "window_end": st.column_config.DateColumn("Window ends"),
                "day": st.column_config.NumberColumn("Day"),
                "days_left": st.column_config.NumberColumn("Days left"),
                "elapsed": st.column_config.ProgressColumn(
                    "Window gone", min_value=0.0, max_value=1.0, format="percent"
                ),
            },
        )
        widgets.download_table(clock_table, "dlt_window_clock_table")

# computed only while open (the whole study's records behind one decision)
explain = st.expander("Explain a decision: every record and step behind it", key="explain_open",
                      on_change="rerun")
if explain.open:
    with explain:
        cohort_ids = [c.cohort_id for c in config.dose_cohorts]
        explained_id = st.selectbox(
            "Cohort", cohort_ids, format_func=lambda cid: config.cohort(cid).label,
            **widgets.kept("explain_cohort", cohort_ids[0], cohort_ids),
        )
        explained = data.explanation(sel.db, sel.user, sel.study_id, sel.cutoff, explained_id,
                                     sel.version)
        st.markdown(f"**{md(explained.cohort_label)}:** {md(explained.reason)}")
        st.markdown("\n".join(f"{i}. {md(step)}" for i, step in enumerate(explained.steps, start=1)))
        st.markdown("**Subjects and why each is or is not evaluable**")
        subjects_table, events_table = readable(explained.subjects), readable(explained.events)
        st.dataframe(subjects_table, hide_index=True, key="explain_subjects")
        widgets.download_table(subjects_table, f"explain_{explained_id}_subjects")
        st.markdown("**Events and why each is or is not a DLT**")
        st.dataframe(events_table, hide_index=True, key="explain_events")
        widgets.download_table(events_table, f"explain_{explained_id}_events")

# --- what the design says: only the open view is built and drawn -----------------------------
# The decision table, the estimates beside the other designs and the dose paths are five charts
# and tables: ~1 s for a GPU-less browser to draw (issue 16). The open view is kept in the URL.
def _decision_table() -> None:
    """The design's decision for every number of patients and DLTs at a dose, the current cell
    marked."""
    cell = review.current_cell(status, len(config.dose_cohorts))
    table_designs = {"BOIN": "boin", "mTPI-2": "mtpi2"}
    default = "mTPI-2" if config.design.name == "mtpi2" else "BOIN"
    chosen = st.radio(
        "Design",
        list(table_designs),
        index=list(table_designs).index(default),
        horizontal=True,
        key="table_design",
    )
    rule_n = max((r.n for r in config.stopping_rules if r.kind == "max_at_dose"), default=None)
    rows = review.decision_table_rows(cell, config.design.cohort_size, rule_n)
    table = data.decision_table(table_designs[chosen], config.design.target, rows, cell)
    shown_table = review.around_current_cell(table, cell)
    if shown_table.shape != table.shape:
        st.caption(f"Shown around the current cell: {shown_table.index[0]}–"
                   f"{shown_table.index[-1]} patients, {shown_table.columns[0]} to "
                   f"{shown_table.columns[-1]}s; the download holds the whole table.")  # fmt: skip
    st.dataframe(
        shown_table.style
        .map(lambda v: LETTER_STYLES.get(v.removeprefix(review.CURRENT_MARK), ""))
        .map(lambda v: ("font-weight: bold; border: 2px solid #000"
                        if v.startswith(review.CURRENT_MARK) else "")),
        key="decision_table",
        height=36 * (len(shown_table) + 1) + 4,  # every row shown, no inner scrolling
    )
    widgets.download_table(table.reset_index(), f"decision_table_{table_designs[chosen]}")
    if cell.dose_level is None:
        st.caption("No evaluable patient yet: the first cohort starts at dose level 1.")
    elif cell.n not in table.index:  # e.g. the CDISC pilot: 84 patients at a dose
        st.caption(
            f"The current cell ({cell.dlts} DLTs in {cell.n} evaluable at dose level "
            f"{cell.dose_level}) lies beyond the {len(table)} rows of this table."
        )
    else:
        letter = table.loc[cell.n, f"{cell.dlts} DLT"].removeprefix(review.CURRENT_MARK)
        st.caption(
            f"{review.CURRENT_MARK}marks the current cell: {cell.dlts} DLT"
            f"{'' if cell.dlts == 1 else 's'} in {cell.n} evaluable at dose level "
            f"{cell.dose_level} "
            f"→ **{letter}** ({review.DECISION_LETTERS[letter]}). Rows: patients at the dose; "
            f"columns: DLTs. E escalate, S stay, D de-escalate, DU de-escalate and eliminate the "
            f"dose. Target {config.design.target:g}."
        )


def _estimates() -> None:
    """Estimated DLT rates by BOIN and the CRM, and what each design would decide."""
    estimates, comparison = data.evidence(sel.db, sel.user, sel.study_id, status.outcomes,
                                          sel.version)
    left, right = st.columns([1, 1])
    with left:
        estimates_chart = data.chart("escalation.toxicity_estimates", estimates,
                                     config.design.target, labels)
        st.plotly_chart(estimates_chart, key="tox_estimates")
        widgets.download_figure(estimates_chart, "toxicity_estimates")
    with right:
        estimates_table = (
            estimates[["dose_level", "n", "dlts", "boin", "boin_lower", "boin_upper", "crm"]]
            .assign(dose=labels)
            .set_index("dose")
            .drop(columns="dose_level")
            .rename(columns=header)
            .rename_axis("Dose")
        )
        st.dataframe(
            estimates_table,
            key="estimates_table",
            column_config={
                "BOIN": st.column_config.NumberColumn("BOIN", format="%.2f"),
                "BOIN lower": st.column_config.NumberColumn("2.5%", format="%.2f"),
                "BOIN upper": st.column_config.NumberColumn("97.5%", format="%.2f"),
                "CRM": st.column_config.NumberColumn("CRM", format="%.2f"),
            },
        )
        widgets.download_table(estimates_table.reset_index(), "toxicity_estimates_table")
        st.caption(
            "BOIN: isotonic estimate (select.mtd) with each dose's Beta(1 + DLTs, 1 + n − DLTs) "
            "95% interval. CRM: DLT rate at the posterior mean of β, 95% interval from β's "
            "posterior mean ± 1.96 sd (as dfcrm's ptoxL/ptoxU)."
        )
    # the comparison takes the full width: its reasons are long
    st.markdown("**What each design would decide on these data**")
    st.dataframe(
        comparison,
        hide_index=True,
        key="design_comparison",
        column_config={"Reason": st.column_config.TextColumn(width="large")},
    )
    widgets.download_table(comparison, "design_comparison")
    st.caption(
        "The designs alone, without the protocol's stopping rules. "
        + (
            "The CRM skeleton is not in the protocol: it is calibrated by dfcrm's getprior "
            f"(half-width {review.CRM_DEFAULT_HALFWIDTH:g}, target {config.design.target:g}, "
            f"prior MTD guess: the middle dose level)."
            if config.design.skeleton is None
            else "The CRM uses the protocol's skeleton."
        )
    )


def _dose_paths() -> None:
    """The decision after every result of the next cohorts."""
    c1, c2, _ = st.columns([1, 1, 3])
    size = c1.number_input(
        "Patients in the next cohort",
        min_value=1,
        max_value=max(config.design.cohort_size, 1),
        value=review.next_cohort_size(config, status),
        key="path_cohort_size",
        help=f"The protocol's cohort size is {config.design.cohort_size}; the default is what "
        "the maximum sample size still allows.",
    )
    depth = c2.radio("Cohorts ahead", [1, 2], index=1, horizontal=True, key="path_depth")
    path_frame = data.paths(sel.db, sel.user, sel.study_id, sel.cutoff, sel.version, int(size),
                            int(depth))  # fmt: skip
    left, right = st.columns([2, 3])
    with left:
        paths_chart = data.chart("escalation.dose_paths", path_frame)
        st.plotly_chart(paths_chart, key="dose_paths_chart")
        widgets.download_figure(paths_chart, "dose_paths")
    with right:
        indented = path_frame.assign(
            step=[
                "    " * d + lab
                for d, lab in zip(path_frame["depth"], path_frame["label"], strict=True)
            ]
        )
        st.dataframe(
            indented[["step", "path", "reason"]],
            hide_index=True,
            key="dose_paths_table",
            column_config={
                "step": st.column_config.TextColumn("Result → decision", width="medium"),
                "path": "Path", "reason": "Reason"},
        )
        widgets.download_table(indented[["step", "path", "reason"]], "dose_paths_table")

st.subheader("What the design says")
design_tabs = st.tabs(
    ["Decision table", "Estimates and designs", "Dose paths"],
    key="design_view", on_change="rerun", bind="query-params",
)
for tab, view in zip(design_tabs, (_decision_table, _estimates, _dose_paths), strict=True):
    if tab.open:
        with tab:
            view()

# --- stopping rules ------------------------------------------------------------------------------
st.subheader("Stopping rules")
for rule in status.rules:
    st.markdown(f"{widgets.RULE_BADGES[rule.state]} **{md(rule.name)}**: {md(rule.detail)}")
for cohort in status.cohorts:
    for rule in cohort.rules[:1] if not cohort.control else ():
        st.markdown(f"{widgets.RULE_BADGES[rule.state]} **{md(rule.name)}, {md(cohort.label)}**: "
                    f"{md(rule.detail)}")  # fmt: skip

# --- decision history ----------------------------------------------------------------------------
st.subheader("Decision history")
# On demand: it decides again on every day the data changed (seconds on a large study); the
# result is cached per data version, so it is computed once however often it is shown.
show_history = st.toggle("Show the decision on every day the data changed", value=False,
                         key="history_shown")  # fmt: skip
past = (data.history(sel.db, sel.user, sel.study_id, sel.cutoff, sel.version)
        if show_history else None)  # fmt: skip
if past is None:
    st.caption("Turn on to see how the recommendation stood on each day a first dose, a DLT, "
               "a closed window, a departure or a hard-stop event changed it.")
elif past.empty:
    st.caption("No patient dosed by the cut-off.")
else:
    history_chart = data.chart("escalation.decision_history", past)
    st.plotly_chart(history_chart, key="decision_history_chart")
    widgets.download_figure(history_chart, "decision_history")
    only_changes = st.toggle("Only days the decision changed", value=True, key="history_changes")
    shown = past[past["changed"] | (past.index == 0)] if only_changes else past
    history_table = shown[
        ["day", "events", "treated", "pending", "outcomes", "decision_state", "dose_level",
         "reason"]
    ]
    st.dataframe(
        history_table,
        hide_index=True,
        key="decision_history_table",
        column_config={
            "day": st.column_config.DateColumn("Day"),
            "dose_level": st.column_config.NumberColumn("Next dose level"),
        },
    )
    widgets.download_table(history_table, "decision_history_table")

# --- DLT candidates and adjudication -----------------------------------------------------------------
st.subheader("DLT candidates")
if events.empty:
    st.caption("No DLT candidate at the cut-off.")
else:
    listing = events.assign(
        patient=[links.patient_link(sel.study_id, u, sel.cutoff) for u in events["usubjid"]],
        cohort=events["cohort_id"].map({c.cohort_id: c.label for c in config.cohorts}),
    )
    candidates = readable(listing[["patient", "cohort", *adjudication.CANDIDATE_COLUMNS]])
    drill.table(
        candidates,
        "dlt_candidates",
        events["usubjid"].tolist(),
        hide_index=True,
        column_config={
            "Patient": st.column_config.LinkColumn("Patient", display_text=r"subject=(.*)$"),
            "Onset date": "Onset",
            "Onset day": "Day",
            "DLT rule": "Why a candidate",
            "DLT status": "Status",
            "Signature": st.column_config.TextColumn("Signed", width="large"),
        },
    )
    widgets.download_table(candidates, "dlt_candidates")
    keys = [
        (r.usubjid, r.source, int(r.source_seq)) for r in events.itertuples()
    ]  # a handful of events
    names = {
        (r.usubjid, r.source, int(r.source_seq)): f"{r.usubjid} · {r.term} · day {r.onset_day} "
        f"({r.dlt_status})"
        for r in events.itertuples()
    }
    if sel.can(Action.ADJUDICATE_DLT):
        with st.form("adjudicate", clear_on_submit=False, border=True):
            st.markdown("**Adjudicate a candidate**")
            event = st.selectbox("Event", keys, format_func=names.get, key="adj_event")
            decision = st.radio(
                "Decision", list(DECISION_LABELS), format_func=DECISION_LABELS.get,
                key="adj_decision",
            )  # fmt: skip
            reason = st.text_area(
                "Reason (required; recorded in the audit trail)", key="adj_reason", max_chars=2000
            )
            st.caption("Confirming signs *I confirm this event as a DLT*; rejecting signs "
                       "*I confirm this event is not a DLT*.")  # fmt: skip
            password = esign.signature_field(sel.access, sel.user, SIGNED_ACTS["confirmed"],
                                             "adj_password")  # fmt: skip
            submitted = st.form_submit_button("Sign and record adjudication", key="adj_submit",
                                              icon=":material/draw:")  # fmt: skip
        if submitted and not reason.strip():
            st.error("Give a reason: it is required for the audit trail.", icon=":material/error:")
        elif submitted:
            usubjid, source, seq = event
            act = partial(_adjudication, usubjid=usubjid, source=source, source_seq=seq,
                          decision=decision, reason=reason)  # fmt: skip
            esign.sign(sel.access, sel.user, SIGNED_ACTS[decision], password, act, PAGE)

if sel.can(Action.ADJUDICATE_DLT):
    with st.expander("Add a DLT the rules did not flag"):
        dose_ids = [c.cohort_id for c in config.dose_cohorts]
        dosed = states[states["treated"].fillna(False) & states["cohort_id"].isin(dose_ids)]
        with st.form("add_dlt", border=False):
            subject = st.selectbox("Patient", dosed["usubjid"].tolist(), key="add_subject")
            onset = st.date_input("Onset", value=sel.cutoff, max_value=sel.cutoff, key="add_onset")
            description = st.text_input("Event (term, grade, what makes it a DLT)", key="add_term")
            add_reason = st.text_area("Reason (required)", key="add_reason")
            add_password = esign.signature_field(sel.access, sel.user, SIGNED_ACTS["added"],
                                                 "add_password")  # fmt: skip
            add = st.form_submit_button("Sign and add DLT", key="add_submit", icon=":material/draw:")
        if add and not (add_reason.strip() and description.strip()):
            st.error("A DLT added by hand needs a description and a reason.", icon=":material/error:")
        elif add:
            act = partial(_adjudication, usubjid=subject, source="manual", source_seq=None,
                          decision="added", reason=add_reason, onset_date=onset,
                          description=description)  # fmt: skip
            esign.sign(sel.access, sel.user, SIGNED_ACTS["added"], add_password, act, PAGE)
else:
    st.caption(f"Adjudication is for safety officers and investigators; you are "
               f"{md(sel.user.titles(sel.study_id))}.")  # fmt: skip

if not adjudication_log.empty:
    st.markdown("**Adjudication log**")
    log_table = readable(adjudication_log.drop(columns=["adjudication_id"]))
    st.dataframe(log_table, hide_index=True, key="adjudication_log")
    widgets.download_table(log_table, "adjudication_log")
