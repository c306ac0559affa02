"""Overview: the trial at a glance, one row per cohort with its decision and why; for a user
who may see open results only (sponsor, investigator), the study pooled over its cohorts as the
open DSMB report shows it."""

import pandas as pd
import streamlit as st

from safety import charts
from safety.access import Action
from safety.config import MONITORING_ONLY
from safety.escalation.outcomes import summary_by_dose
from safety.escaping import md
from safety.monitor.decisions import describe_design
from ui import data, drill, population, sidebar, widgets

ACTION_ICONS = {
    "escalate": ":material/trending_up:",
    "stay": ":material/trending_flat:",
    "de-escalate": ":material/trending_down:",
    "eliminate": ":material/block:",
    "stop": ":material/block:",
}
BAR_HINT = "Click a bar to list its subjects."
sel = sidebar.selection(needs=Action.VIEW_OPEN)
config = sel.config

st.title("Overview")
st.subheader(md(config.title))
facts = config.facts
st.markdown(
    " · ".join(
        ([f"**{md(config.registry_id)}**"] if config.registry_id else [])
        + [md(x) for x in (
            facts.get("phase"),
            facts.get("model"),
            facts.get("masking"),
            facts.get("allocation"),
            f"{facts['centres']} centre{'s' if facts['centres'] != 1 else ''}"
            if "centres" in facts
            else None,
            f"{facts['planned_subjects']} planned" if "planned_subjects" in facts else None,
            f"started {config.start_date}" if config.start_date else None,
            f"follow-up {config.follow_up_weeks} weeks" if config.follow_up_weeks else None,
        ) if x]
    )
)
with st.expander("Study design and protocol rules", expanded=False):
    if config.is_escalation:
        st.markdown(describe_design(config))  # the protocol's rules, not data
    for key in ("population", "intervention", "control", "primary_outcome"):
        if key in facts:
            st.markdown(f"**{key.replace('_', ' ').capitalize()}:** {md(facts[key])}")
if config.doses_illustrative and config.dose_note:
    st.warning(md(config.dose_note), icon=":material/info:")

if not sel.can(Action.VIEW_CLOSED):
    st.info(f"You see {md(sel.study_id)} pooled over all its cohorts, as the open DSMB report "
            "shows it: your roles do not include results by cohort.",
            icon=":material/visibility_off:")  # fmt: skip
    widgets.report_content(data.open_view(sel.db, sel.user, sel.study_id, sel.cutoff,
                                          sel.version), key="open")  # fmt: skip
    st.stop()

status = data.status(sel.db, sel.user, sel.study_id, sel.cutoff, sel.version)

if not status.escalation:  # said once; no decision, DLT count or rule below
    st.markdown(f"#### Safety at the cut-off {sel.cutoff:%d %b %Y}")
    st.info(md(MONITORING_ONLY), icon=":material/monitor_heart:")
else:
    st.markdown(f"#### Escalation at the cut-off {sel.cutoff:%d %b %Y}")
    st.info(
        f"**Next patients: {md(status.decision_label)}.** {md(status.reason_after_label)}  \n"
        + (f"On the evaluable patients so far the design would say: "
           f"{md(status.provisional_reason)}  \n" if status.provisional_reason else "")
        + "Evaluable so far, per dose (patients / DLTs): "
        + (summary_by_dose(status.outcomes) or "none yet"),
        icon=ACTION_ICONS.get(status.recommendation, ":material/info:"),
    )
    widgets.evaluable_history(status.outcomes)
for rule in status.triggered_rules:
    st.error(f"**{md(rule.name)}: triggered.** {md(rule.detail)}", icon=":material/block:")

totals = status.totals
metrics = [("Enrolled", "subjects", None),
           ("Treated (N)", "treated", "The safety analysis set: dosed subjects"),
           ("In DLT window", "in_dlt_window", None), ("Subjects with DLT", "dlts", None),
           ("Subjects with SAE", "saes", "A serious TEAE"),
           ("Deaths", "deaths", "Subjects of the safety analysis set who died")]
metrics = [m for m in metrics if m[1] in totals]  # no DLT counts without a DLT definition
for col, (name, key, help_text) in zip(st.columns(len(metrics)), metrics, strict=True):
    col.metric(name, totals[key], help=help_text)

st.markdown("#### Cohorts")
cohort_table = status.cohort_table()
st.dataframe(cohort_table, hide_index=True, key="cohort_table")
widgets.download_table(cohort_table, f"{sel.study_id} cohorts {sel.cutoff}", key="cohorts")

cards = st.columns(len(status.cohorts))
for card, cohort in zip(cards, status.cohorts, strict=True):
    with card.container(border=True):
        st.markdown(f"**{md(cohort.label)}**  \n{md(cohort.facts)}")
        if cohort.escalation and not cohort.control:
            badge = widgets.DECISION_BADGES.get(cohort.decision_label, md(cohort.decision_label))
            st.markdown(f"What {md(status.design_name)} would say at this dose: {badge}")
        if cohort.reason:
            st.caption(md(cohort.reason))
        # only what needs attention here; every rule's state is listed once below
        for rule in cohort.rules:
            if rule.state != "ok":
                st.markdown(f"{widgets.RULE_BADGES[rule.state]} {md(rule.name)}: {md(rule.detail)}")

if status.escalation:
    st.markdown("#### Stopping rules")
for rule in status.rules:
    st.markdown(f"{widgets.RULE_BADGES[rule.state]} **{md(rule.name)}**: {md(rule.detail)}")

population.whole_cohorts_note(sel.subjects, "The decision, the stopping rules and the cohort "
                              "table" if status.escalation else "The cohort table")
colours = charts.style.cohort_colours(status.cohort_frame)
left, right = st.columns(2)
with left:
    timeline = sel.keep(data.frame(sel.db, sel.user, "dosing_timeline", sel.study_id,
                                   sel.cutoff, sel.version))  # fmt: skip
    timeline_chart = data.chart("overview.dosing_timeline", timeline, colours, sel.cutoff)
    drill.chart(timeline_chart, "dosing_timeline")
    widgets.download_figure(timeline_chart, f"{sel.study_id} dosing {sel.cutoff}", key="timeline")
with right:
    worst_chart = data.chart("overview.worst_grade_by_cohort", status.cohort_frame)
    drill.chart(worst_chart, "worst_grade", hint=BAR_HINT, modes=("points",))
    widgets.download_figure(worst_chart, f"{sel.study_id} worst grade {sel.cutoff}", key="worst")
counts = data.frame(sel.db, sel.user, "ae_counts_by_month", sel.study_id, sel.cutoff, sel.version)
study_start = config.start_date or timeline["first_dose_date"].min()
study_start = None if pd.isna(study_start) else study_start
ae_chart = data.chart("overview.ae_counts_over_time", counts, colours, study_start)
drill.chart(ae_chart, "ae_over_time", hint=BAR_HINT, modes=("points",))
if study_start is not None and (early := counts[counts["month"] < pd.Timestamp(study_start)
                                                .to_period("M").start_time]).size:  # fmt: skip
    with st.expander(f"Onsets before the study ({int(early['aes'].sum())} AEs, not plotted)"):
        st.dataframe(early.rename(columns={"month": "Onset month", "cohort_label": "Cohort",
                                           "aes": "AEs", "grade3plus": "Grade ≥ 3"}),
                     hide_index=True, key="ae_before_study",
                     column_config={"Onset month": st.column_config.DateColumn(format="MMM YYYY")})
widgets.download_figure(ae_chart, f"{sel.study_id} AEs by month {sel.cutoff}", key="ae_month")
