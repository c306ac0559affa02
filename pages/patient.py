"""Patient profile: one patient's whole story at the cut-off, DLT adjudication and review.

Reached by ``?subject=USUBJID`` (the sidebar switches to the subject's study), the picker, or
previous / next within the cohort. Everything shown comes from ``safety.monitor.patient.load_profile``.
"""

from datetime import timedelta
from functools import partial

import pandas as pd
import streamlit as st

from safety.access import Action
from safety.config import MONITORING_ONLY
from safety.display import readable
from safety.errors import SafetyError
from safety.escaping import md
from safety.monitor import adjudication, narrative, patient
from ui import auth, data, esign, sidebar, widgets

DLT_BADGES = {
    "pending": "orange",
    "evaluable": "green",
    "DLT": "red",
    "not evaluable": "gray",
    "not treated": "gray",
}
REVIEW_BADGES = {"reviewed": "green", "needs follow-up": "orange", "not reviewed": "gray"}
DECISION_LABELS = {"confirmed": "Confirm as DLT", "rejected": "Reject (not a DLT)"}
SIGNED_ACTS = {"confirmed": "dlt.confirm", "rejected": "dlt.reject", "added": "dlt.add"}
PAGE = "pages/patient.py"


sel = sidebar.selection(needs=Action.VIEW_PATIENT)
st.title("Patient")
roster = data.study_roster(sel.db, sel.user, sel.study_id, sel.version)
if sel.subjects is not None and st.query_params.get("subject") not in sel.subjects:
    roster = sel.keep(roster)  # a followed link opens its patient even outside the filter
if roster.empty:
    sites = sel.user.sites(Action.VIEW_PATIENT, sel.study_id)
    mine = f" at your sites ({', '.join(sorted(sites))})" if sites is not None else ""
    st.info(f"{md(sel.study_id)} has no subjects{md(mine)} yet.")
    st.stop()


# --- which patient --------------------------------------------------------------------------
ids = roster["usubjid"].tolist()
wanted = st.query_params.get("subject")
if wanted and wanted not in ids:
    st.warning(f"No subject {md(wanted)} of yours in {md(sel.study_id)}: showing the first "
               "patient instead.")  # fmt: skip
usubjid = wanted if wanted in ids else ids[0]
st.query_params["subject"] = usubjid
if st.session_state.get("patient_picker") != usubjid:
    st.session_state["patient_picker"] = usubjid


def _show(target: str) -> None:
    st.query_params["subject"] = target
    st.session_state["patient_picker"] = target


def _picked() -> None:
    st.query_params["subject"] = st.session_state["patient_picker"]


labels = {
    r.usubjid: f"{r.usubjid} · {r.cohort_label if pd.notna(r.cohort_label) else 'no cohort'}"
    + (f" · {r.review_status}" if pd.notna(r.review_status) else "")
    for r in roster.itertuples()
}
previous, following = patient.neighbours(roster, usubjid)
pick, back, forward = st.columns([6, 1, 1], vertical_alignment="bottom")
pick.selectbox(
    "Patient (type to search)",
    ids,
    key="patient_picker",
    format_func=labels.get,
    on_change=_picked,
)
back.button(
    "Previous",
    icon=":material/chevron_left:",
    key="previous_patient",
    disabled=previous is None,
    on_click=_show,
    args=(previous,),
    help=f"Previous patient in the cohort: {previous}" if previous else "First of the cohort",
    width="stretch",
)
forward.button(
    "Next",
    icon=":material/chevron_right:",
    key="next_patient",
    disabled=following is None,
    on_click=_show,
    args=(following,),
    help=f"Next patient in the cohort: {following}" if following else "Last of the cohort",
    width="stretch",
)

profile = data.patient_profile(sel.db, sel.user, sel.study_id, usubjid, sel.cutoff, sel.version)
if profile is None:
    st.error(f"{md(usubjid)} is not in {md(sel.study_id)}.")
    st.stop()
site = profile.subject["site_id"]
may_adjudicate = sel.user.can(Action.ADJUDICATE_DLT, sel.study_id, site)
may_review = sel.user.can(Action.REVIEW_PATIENT, sel.study_id, site)


# --- header ---------------------------------------------------------------------------------
s, state = profile.subject, profile.dlt_state
dlt_state = state.get("dlt_state", "unknown")
review = profile.current_review
review_status = review["status"] if review else "not reviewed"
st.subheader(md(usubjid))
has_dlt_rule = profile.window_days is not None  # False: safety monitoring only
st.markdown(
    (f":{DLT_BADGES.get(dlt_state, 'gray')}-badge[DLT window: "
     f"{patient.dlt_window_text(state, profile.window_days)}] " if has_dlt_rule else "")
    + f":{REVIEW_BADGES[review_status]}-badge[{review_status}]"
)
if not has_dlt_rule:
    st.caption(md(MONITORING_ONLY))
if s["is_control"]:  # None when the subject has no cohort
    dose_label, dose = "Dose", sel.config.control_treatment
elif s["dose"] is not None:
    dose_label, dose = f"Dose ({s['dose_unit'] or 'unit not recorded'})", f"{s['dose']:g}"
else:
    dose_label, dose = "Dose", "not recorded"
row1 = st.columns(4)
row1[0].metric("Cohort", md(s["cohort_label"] or "none"))
row1[1].metric(
    dose_label,
    dose,
    help="Illustrative: the registry does not publish the doses."
    if s["dose_illustrative"]
    else None,
)
row1[2].metric("Age / sex", f"{s['age'] if s['age'] is not None else '?'} / {s['sex'] or '?'}")
row1[3].metric("Site", md(s["site_id"] or "not recorded"))
row2 = st.columns(4 if has_dlt_rule else 3)
row2[0].metric("First dose", str(s["first_dose_date"] or "not dosed"))
row2[1].metric("Status at cut-off", md(s["status_at_cutoff"]))
row2[2].metric(
    "Days on study",
    s["days_on_study"] if s["days_on_study"] is not None else "–",
    help="From the first dose (day 1) to the end of study or the data cut-off.",
)
if has_dlt_rule:
    row2[3].metric(
        "DLT window",
        dlt_state,
        help=patient.dlt_window_text(state, profile.window_days),
    )


# --- timeline, labs, vitals -------------------------------------------------------------------
if profile.first_dose_date is None:
    st.info(f"{md(usubjid)} had not been dosed by the cut-off {sel.cutoff}: no timeline yet.")
else:
    span = st.segmented_control(
        "Time range",
        ["Whole course", "DLT window"],
        default="Whole course",
        key="patient_span",
    ) if has_dlt_rule else "Whole course"
    x_range = profile.time_range(window_only=span == "DLT window")
    cutoff_day = patient.study_day(sel.cutoff, profile.first_dose_date)

    def _chart(slug: str, builder: str, *args, **kwargs) -> None:
        figure = data.chart(builder, *args, x_range=x_range, **kwargs)
        st.plotly_chart(figure, key=f"patient_{slug}")
        widgets.download_figure(figure, f"{usubjid}_{slug}", key=slug)

    # Only the open tab's chart is built and drawn (a browser draws the 10 lab panels, the
    # vital signs and the timeline in ~2 s on a large study); the tab is kept in the URL.
    timeline_tab, labs_tab, vitals_tab = st.tabs(
        ["Timeline", "Key labs", "Vital signs"],
        key="patient_chart", on_change="rerun", bind="query-params",
    )
    if timeline_tab.open:
        with timeline_tab:
            _chart("timeline", "patient.patient_timeline", profile.timeline_events(),
                   window_days=profile.window_days, cutoff_day=cutoff_day)
    if labs_tab.open:
        with labs_tab:
            _chart("labs", "patient.patient_labs", profile.with_days(profile.labs),
                   patient.KEY_LAB_TESTS)
    if vitals_tab.open:
        with vitals_tab:
            _chart("vitals", "patient.patient_vitals", profile.with_days(profile.vital_signs),
                   patient.VITAL_TESTS)


# --- narrative --------------------------------------------------------------------------------
st.markdown("#### Narrative")
sentences = narrative.patient_narrative(profile)
text = narrative.narrative_text(sentences)
st.markdown(md(text))
with st.expander("Where each sentence comes from"):
    sources = pd.DataFrame(
        {
            "Sentence": [x.text for x in sentences],
            "Records": [", ".join(x.sources) for x in sentences],
        }
    )
    st.dataframe(sources, hide_index=True, key="narrative_sources")
    widgets.download_table(sources, f"{usubjid}_narrative_sources", key="narrative_sources")
st.download_button(
    "Download narrative (text)",
    text,
    file_name=f"{usubjid}_narrative.txt",
    icon=":material/download:",
    key="download_narrative",
)


# --- DLT assessment and adjudication -------------------------------------------------------------
if has_dlt_rule:  # no DLT definition: nothing to assess or adjudicate
    st.markdown("#### DLT assessment")
    st.caption(
        f"DLT window: study days 1 to {profile.window_days} (day 1 = the first dose). "
        f"State at the cut-off: {patient.dlt_window_text(state, profile.window_days)}."
    )
    events = profile.dlt_events
    if events.empty:
        st.markdown("No DLT candidate for this patient by the protocol's rules.")
    else:
        dlt_table = events[["source", "source_seq", *adjudication.CANDIDATE_COLUMNS]]
        dlt_table = readable(dlt_table)
        st.dataframe(dlt_table, hide_index=True, key="dlt_events")
        widgets.download_table(dlt_table, f"{usubjid}_dlt_candidates", key="dlt_events")


    def _adjudication(signature, **kwargs) -> str:
        """Record a signed adjudication of this patient's event; what to tell the adjudicator."""
        done = adjudication.adjudicate(sel.db, sel.study_id, usubjid, user=sel.user,
                                       signature=signature, **kwargs)  # fmt: skip
        return (f"Recorded: DLT {done.decision}, signed: {done.signature.describe()}. The "
                "escalation decision is updated.")  # fmt: skip


    for event in events.itertuples() if may_adjudicate else ():
        title = (f"Adjudicate {event.source.replace('_', ' ')} {event.source_seq}: {md(event.term)} "
                 f"({event.dlt_status})")  # fmt: skip
        with st.expander(title, expanded=event.dlt_status == "candidate"):
            key = f"adjudicate_{usubjid}_{event.source}_{event.source_seq}"
            with st.form(key):
                decision = st.radio(
                    "Decision",
                    list(DECISION_LABELS),
                    format_func=DECISION_LABELS.get,
                    horizontal=True,
                    key=f"{key}_decision",
                )
                reason = st.text_area("Reason (required, kept in the audit log)", key=f"{key}_reason")
                st.caption("Confirming signs *I confirm this event as a DLT*; rejecting signs "
                           "*I confirm this event is not a DLT*.")  # fmt: skip
                password = esign.signature_field(sel.access, sel.user, SIGNED_ACTS["confirmed"],
                                                 f"{key}_password")  # fmt: skip
                if st.form_submit_button("Sign and record adjudication", icon=":material/draw:"):
                    if not reason.strip():
                        st.error("Give a reason: it is required for the audit trail.")
                    else:
                        act = partial(_adjudication, source=event.source,
                                      source_seq=int(event.source_seq), decision=decision,
                                      reason=reason)  # fmt: skip
                        esign.sign(sel.access, sel.user, SIGNED_ACTS[decision], password, act, PAGE)

    if profile.first_dose_date is not None and may_adjudicate:
        with st.expander("Add a DLT by hand (an event the protocol's rules did not flag)"):
            with st.form(f"add_dlt_{usubjid}"):
                onset = st.date_input(
                    "Onset date",
                    value=profile.first_dose_date,
                    min_value=profile.first_dose_date,
                    max_value=max(sel.cutoff, profile.first_dose_date),
                    key=f"add_dlt_onset_{usubjid}",
                )
                description = st.text_input(
                    "Description",
                    placeholder="e.g. Grade 3 endometritis, investigator: DLT",
                    key=f"add_dlt_description_{usubjid}",
                )
                reason = st.text_area(
                    "Reason (required, kept in the audit log)", key=f"add_dlt_reason_{usubjid}"
                )
                password = esign.signature_field(sel.access, sel.user, SIGNED_ACTS["added"],
                                                 f"add_dlt_password_{usubjid}")  # fmt: skip
                if st.form_submit_button("Sign and add DLT", icon=":material/draw:"):
                    if not reason.strip() or not description.strip():
                        st.error("A DLT added by hand needs a description and a reason.")
                    else:
                        act = partial(_adjudication, source="manual", source_seq=None,
                                      decision="added", reason=reason, onset_date=onset,
                                      description=description)  # fmt: skip
                        esign.sign(sel.access, sel.user, SIGNED_ACTS["added"], password, act, PAGE)
    if profile.first_dose_date is not None:
        st.caption(
            patient.window_end_text(
                profile.first_dose_date + timedelta(days=profile.window_days - 1), sel.cutoff)
            + "; adjudications are signed electronically and recorded with who and when, and the "
            "Overview's decision uses them."
        )
    if not may_adjudicate:
        st.caption(f"Adjudicating this patient's events is for safety officers and her site's "
                   f"investigators; you are {md(sel.user.titles(sel.study_id))}.")  # fmt: skip


# --- listings -----------------------------------------------------------------------------------


st.markdown("#### Listings")
listings = {
    "Adverse events": profile.adverse_events,
    "Labs": profile.labs[
        [
            "seq",
            "visit",
            "collected_date",
            "study_day",
            "test_code",
            "test_name",
            "value",
            "unit",
            "lln",
            "uln",
            "range_flag",
            "worst_grade",
            "ctcae_term",
            "grade_reason",
        ]
    ],
    "Exposure": profile.exposure,
    "Vital signs": profile.vital_signs,
}
tabs = st.tabs(list(listings), key="patient_listing", on_change="rerun", bind="query-params")
for tab, (name, frame) in zip(tabs, listings.items(), strict=True):
    if not tab.open:  # one table drawn at a time
        continue
    with tab:
        slug = name.lower().replace(" ", "_")
        frame = readable(frame)  # headers in words, dates as dates, gaps empty
        st.dataframe(frame, hide_index=True, key=f"listing_{slug}")
        widgets.download_table(frame, f"{usubjid}_{slug}", key=slug)


# --- review status and notes ----------------------------------------------------------------------
st.markdown("#### Review")
if review:
    st.markdown(
        f":{REVIEW_BADGES[review['status']]}-badge[{review['status']}] by **{md(review['reviewed_by'])}** "
        f"on {review['reviewed_at']:%Y-%m-%d %H:%M} UTC"
        + (f": {md(review['note'])}" if review["note"] else "")
    )
if may_review:
    with st.form("review_form"):
        status = st.radio(
            "Review status",
            patient.REVIEW_STATUSES,
            index=patient.REVIEW_STATUSES.index(review_status),
            horizontal=True,
            key=f"review_status_{usubjid}",
        )
        note = st.text_area(
            "Note", value=(review or {}).get("note") or "", key=f"review_note_{usubjid}"
        )
        if st.form_submit_button("Save review", icon=":material/save:"):
            try:
                patient.record_review(sel.db, sel.study_id, usubjid, status, note, sel.user)
            except SafetyError as exc:
                auth.refusal(exc)
            else:
                data.after_write()
                auth.flash("success", f"Review saved: {status}, by {sel.user.name}.")
                st.rerun()

st.markdown("#### History")
history = patient.audit_history(profile.audit)
if history.empty:
    st.caption("No adjudication or review recorded for this patient yet.")
else:
    st.dataframe(history, hide_index=True, key="audit_history")
    widgets.download_table(history, f"{usubjid}_history", key="audit_history")
