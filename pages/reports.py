"""DSMB reports: choose the cut-off and open or closed, build the frozen report, preview it,
download the folder (zip) or each file; earlier snapshots of the study are listed."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import streamlit as st

from safety.access import Action
from safety.display import readable
from safety.errors import SafetyError
from safety.escaping import md
from safety.report import generate_report, manifest, record_report_view, sign_off_report
from ui import auth, data, esign, sidebar, widgets

sel = sidebar.selection(needs=Action.VIEW_OPEN)
kinds = ["open", "closed"] if sel.can(Action.VIEW_CLOSED) else ["open"]
st.title("DSMB reports")
st.caption(
    "A report freezes the study at the data cut-off: records dated on or before it, as "
    "delivered when the first report of that cut-off was made, so records or adjudications "
    "arriving later do not change it. The **open** report pools all cohorts (accrual, "
    "exposure, data timeliness, overall safety); the **closed** report, for the committee "
    "only, has everything by cohort, the SAE "
    + ("and DLT listings and the escalation decisions. " if sel.config.is_escalation
       else "listing and the deaths. ")
    + "The manifest lists every file with its sha256."
)

if not sel.can(Action.BUILD_REPORT):
    st.info(f"Building reports is for safety officers, DSMB members and the sponsor; you are "
            f"{md(sel.user.titles(sel.study_id))}.", icon=":material/lock:")  # fmt: skip
left, mid, right = st.columns([1, 1, 2])
cutoff = left.date_input("Data cut-off", value=sel.cutoff, key="report_cutoff",
                         max_value=max(sel.cutoff, sel.data_cutoff or sel.cutoff))  # fmt: skip
kind = mid.radio(
    "Report", kinds, horizontal=True, key="report_kind",
    format_func={"open": "Open (pooled)", "closed": "Closed (by cohort)"}.get,
)  # fmt: skip
right.write("")
right.button(
    "Build report", type="primary", icon=":material/description:", key="report_build",
    on_click=lambda: st.session_state.update(report_requested=True),
    disabled=not sel.can(Action.BUILD_REPORT),
)  # fmt: skip  (a callback: the request survives a rerun that the sidebar may trigger)

wanted = (sel.db, sel.study_id, cutoff, kind)
if st.session_state.pop("report_requested", False):
    folder = Path(tempfile.mkdtemp(prefix="dsmb-report-"))
    try:
        with st.spinner("Freezing the data cut and writing PDF, XLSX, CSV and HTML ..."):
            result = generate_report(sel.study_id, cutoff, folder, kind=kind, db=sel.db,
                                     user=sel.user)  # fmt: skip
    except SafetyError as exc:
        auth.refusal(exc)
        st.stop()
    data.after_write()
    st.session_state["report_result"] = (wanted, result)
    st.rerun()  # redraw at the new data version: the snapshot list shows the new one

built = st.session_state.get("report_result")
if built and built[0] == wanted:
    result = built[1]
    m = result.manifest
    viewed = st.session_state.get("reports_viewed", frozenset())
    if result.snapshot_id not in viewed:  # who was shown a (closed) report: audited once
        st.session_state["reports_viewed"] = viewed | {result.snapshot_id}
        record_report_view(sel.db, sel.user, result.snapshot_id)
        data.after_write()
    st.success(
        f"{kind.capitalize()} report at {cutoff:%d %b %Y}: snapshot {result.snapshot_id}, "
        f"{len(m['files'])} files, built in {result.seconds['total']:.1f} s.  \n"
        f"Content sha256 `{m['content_sha256']}`",
        icon=":material/verified:",
    )
    stem = result.file(".pdf").stem
    with st.container(horizontal=True):
        st.download_button(
            "Whole folder (zip)", data=manifest.zip_bytes(result.folder),
            file_name=f"{stem}.zip", mime="application/zip", icon=":material/folder_zip:",
            on_click="ignore", key="report_zip", type="primary",
        )  # fmt: skip
        for suffix, mime in ((".pdf", "application/pdf"), (".html", "text/html"),
                             (".xlsx", "application/vnd.openxmlformats-officedocument."
                                       "spreadsheetml.sheet")):  # fmt: skip
            path = result.file(suffix)
            st.download_button(
                suffix[1:].upper(), data=path.read_bytes(), file_name=path.name, mime=mime,
                icon=":material/download:", on_click="ignore", key=f"report_{suffix[1:]}",
            )  # fmt: skip
        st.download_button(
            "manifest.json", data=json.dumps(m, indent=2, sort_keys=True),
            file_name="manifest.json", mime="application/json", on_click="ignore",
            icon=":material/download:", key="report_manifest",
        )  # fmt: skip

    preview, tables, files = st.tabs(["Preview", "Tables", "Manifest"])
    with preview:
        st.iframe(result.file(".html").read_text(encoding="utf-8"), height=900)
    with tables:
        widgets.report_content(result.content, key="report")
    with files:
        st.dataframe(
            [{"File": f["path"], "SHA-256": f["sha256"], "Bytes": f["bytes"]} for f in m["files"]],
            hide_index=True, key="report_files",
        )  # fmt: skip
        st.json(
            {k: v for k, v in m.items() if k not in ("files", "tables", "figures")},
            expanded=False,
        )
    if sel.can(Action.SIGN_REPORT):
        with st.form("report_sign_off"):
            st.markdown(f"**Sign off snapshot {result.snapshot_id}** (content sha256 "
                        f"`{m['content_sha256'][:16]}…`)")  # fmt: skip
            password = esign.signature_field(sel.access, sel.user, "report.sign",
                                             "report_sign_password")  # fmt: skip
            signed = st.form_submit_button("Sign off", icon=":material/draw:")
        if signed:
            def _sign_off(signature, snapshot_id=result.snapshot_id):
                sign_off_report(sel.db, sel.user, snapshot_id, signature)
                return f"Snapshot {snapshot_id} signed off by {signature.describe()}."

            esign.sign(sel.access, sel.user, "report.sign", password, _sign_off,
                       "pages/reports.py")  # fmt: skip
else:
    st.info("Choose the cut-off and the report, then **Build report**.", icon=":material/info:")

st.markdown("#### Snapshots of this study")
snapshots = data.study_snapshots(sel.db, sel.user, sel.study_id, sel.version)
if snapshots.empty:
    st.caption("No report has been made of this study yet.")
else:
    st.dataframe(readable(snapshots), hide_index=True, key="report_snapshots", column_config={
        "Signed off": st.column_config.TextColumn("Signed off", width="large")})
