"""DSMB reports: choose the cut-off and open or closed, build the frozen report, preview it,
download the folder (zip) or each file; earlier snapshots of the study are listed."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import streamlit as st

from safety.errors import SafetyError
from safety.report import generate_report, manifest
from ui import data, sidebar

sel = sidebar.selection()
st.title("DSMB reports")
st.caption(
    "A report freezes the study at the data cut-off: records dated on or before it, as "
    "delivered when the first report of that cut-off was made, so records or adjudications "
    "arriving later do not change it. The **open** report pools all cohorts (accrual, "
    "exposure, data timeliness, overall safety); the **closed** report, for the committee "
    "only, has everything by cohort, the SAE and DLT listings and the escalation decisions. "
    "The manifest lists every file with its sha256."
)

left, mid, right = st.columns([1, 1, 2])
cutoff = left.date_input("Data cut-off", value=sel.cutoff, key="report_cutoff",
                         max_value=max(sel.cutoff, sel.data_cutoff or sel.cutoff))  # fmt: skip
kind = mid.radio(
    "Report", ["open", "closed"], horizontal=True, key="report_kind",
    format_func={"open": "Open (pooled)", "closed": "Closed (by cohort)"}.get,
)  # fmt: skip
right.write("")
right.button(
    "Build report", type="primary", icon=":material/description:", key="report_build",
    on_click=lambda: st.session_state.update(report_requested=True),
)  # fmt: skip  (a callback: the request survives a rerun that the sidebar may trigger)

wanted = (sel.db, sel.study_id, cutoff, kind)
if st.session_state.pop("report_requested", False):
    folder = Path(tempfile.mkdtemp(prefix="dsmb-report-"))
    try:
        with st.spinner("Freezing the data cut and writing PDF, XLSX, CSV and HTML ..."):
            result = generate_report(sel.study_id, cutoff, folder, kind=kind, db=sel.db,
                                     created_by=sidebar.signed_in_user())  # fmt: skip
    except SafetyError as exc:
        st.error(str(exc))
        st.stop()
    data.after_write()
    st.session_state["report_result"] = (wanted, result)

built = st.session_state.get("report_result")
if built and built[0] == wanted:
    result = built[1]
    m = result.manifest
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
        for table in result.content.tables:
            st.markdown(f"**{table.title}**")
            if table.note:
                st.caption(table.note)
            st.dataframe(table.frame, hide_index=True, key=f"report_table_{table.key}")
    with files:
        st.dataframe(
            [{"file": f["path"], "sha256": f["sha256"], "bytes": f["bytes"]} for f in m["files"]],
            hide_index=True, key="report_files",
        )  # fmt: skip
        st.json(
            {k: v for k, v in m.items() if k not in ("files", "tables", "figures")},
            expanded=False,
        )
else:
    st.info("Choose the cut-off and the report, then **Build report**.", icon=":material/info:")

st.markdown("#### Snapshots of this study")
snapshots = data.study_snapshots(sel.db, sel.study_id, sel.version)
if snapshots.empty:
    st.caption("No report has been made of this study yet.")
else:
    st.dataframe(snapshots, hide_index=True, key="report_snapshots")
