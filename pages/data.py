"""Data: upload deliveries, held deliveries (confirm or reject), the batch ledger (retract),
the quarantine, counts per domain, what changed."""

import streamlit as st

from safety import pipeline
from safety.errors import SafetyError
from safety.ingest.holds import held_comparison
from safety.ingest.readers import EXTENSIONS
from ui import data, sidebar, widgets

FROM_FILE = "the study named in each file (STUDYID)"
STATUS_MESSAGE = {"loaded": st.success, "duplicate": st.info, "rejected": st.error,
                  "held": st.warning}
SHOWN_QUARANTINE_ROWS = 2000  # the download holds them all


def decide(action, target: int, reason: str) -> None:
    """Run a confirmation, rejection or retraction; keep its outcome for the next run."""
    try:
        delivery = action(sidebar.db_path(), target, sidebar.signed_in_user(), reason)
    except SafetyError as exc:
        st.error(str(exc))
        return
    st.session_state["upload_results"] = ([r.to_json() for r in delivery.results],
                                          len(delivery.alerts))
    data.after_write()
    st.rerun()


def show_results() -> None:
    """The outcome of the last upload or decision: one message per batch (text, not markup)."""
    results, raised = st.session_state["upload_results"]
    for r in results:
        counts = (f"{r['rows_in']} rows in, {r['rows_loaded']} loaded, "
                  f"{r['rows_quarantined']} quarantined"
                  + (f", {r['rows_carried']} carried" if r.get("rows_carried") else ""))
        reason = f": {r['reason']}" if r["reason"] else ""
        STATUS_MESSAGE[r["status"]](widgets.plain(
            f"{r['file']} ({r['domain'] or 'unknown domain'}, {r['study_id'] or '?'}): "
            f"{r['status']}, {counts}{reason}"))
    if raised:
        st.warning(f"{raised} new alert(s): see the Alerts page.")


def show_holds(study_id: str | None) -> None:
    """Held deliveries of the study (all studies when None): pending ones with their comparison
    and the confirm / reject form, then the decided ones."""
    holds = data.held_deliveries(path, study_id, version)
    pending = holds[holds["status"] == "pending"]
    if pending.empty:
        st.success("No delivery is waiting for confirmation.")
    for hold in pending.to_dict(orient="records"):
        comparison = held_comparison(hold)
        title = (f"Delivery {hold['hold_id']}: {hold['file_name']} ({hold['domain']}, "
                 f"{hold['study_id']}), held {hold['held_at']:%Y-%m-%d %H:%M} UTC")
        with st.expander(widgets.plain(title), expanded=True):
            st.text(comparison.to_text().split("\n")[0])
            for title, frame in comparison.tables().items():
                st.caption(title)
                st.dataframe(frame, hide_index=True, key=f"hold_{hold['hold_id']}_{title}")
            with st.form(f"hold_form_{hold['hold_id']}"):
                why = st.text_input("Reason (required, audited)", key=f"hold_reason_{hold['hold_id']}")
                left, right = st.columns(2)
                if left.form_submit_button("Confirm: load it", type="primary"):
                    decide(pipeline.confirm_delivery, int(hold["hold_id"]), why)
                if right.form_submit_button("Reject it"):
                    decide(pipeline.reject_delivery, int(hold["hold_id"]), why)
    decided = holds[holds["status"] != "pending"]
    if not decided.empty:
        st.caption("Decided holds")
        st.dataframe(decided.drop(columns=["comparison"]), hide_index=True, key="holds_decided")

sel = sidebar.selection(required=False)
path = sidebar.db_path()
version = sel.version if sel else data.data_version(path)
st.title("Data")
st.caption(
    "Deliveries are loaded one file at a time, each in one transaction, idempotent by content "
    "(sha256), DM first. A cumulative delivery supersedes the domain's current cut, an "
    "incremental one adds and updates records by key; earlier cuts stay. A delivery that would "
    "remove more than the protocol tolerates (SAEs, DLTs, deaths, subjects, records) or "
    "quarantine too much is held until a data manager confirms or rejects it. Folders can also "
    "be watched: `python -m safety watch INBOX`."
)

upload, held_tab, ledger_tab, quarantine_tab, counts_tab, changes_tab = st.tabs(
    ["Upload", "Held deliveries", "Batch ledger", "Quarantine", "Counts", "Changes since last cut"]
)

with upload:
    studies = data.studies(path, version)["study_id"].tolist()
    with st.form("upload_form", clear_on_submit=True):
        files = st.file_uploader(
            "SDTM datasets (DM, EX, AE, LB, VS, DS, SUPPAE)",
            type=sorted(e.lstrip(".") for e in EXTENSIONS),
            accept_multiple_files=True,
            key="upload_files",
        )
        target = st.selectbox("Load into", [FROM_FILE, *studies], key="upload_study")
        submitted = st.form_submit_button("Load", type="primary")
    if submitted and files:
        with st.spinner(f"Loading {len(files)} file(s) ..."):
            try:
                delivery = pipeline.deliver_uploads(
                    [(f.name, f.getvalue()) for f in files],
                    path,
                    None if target == FROM_FILE else target,
                    sidebar.signed_in_user(),
                )
            except SafetyError as exc:
                st.error(str(exc))
                st.stop()
        st.session_state["upload_results"] = (
            [r.to_json() for r in delivery.results], len(delivery.alerts)
        )
        data.after_write()
        st.rerun()  # redraw everything (sidebar included) at the new data version
    if "upload_results" in st.session_state:
        show_results()

with held_tab:
    show_holds(sel.study_id if sel else None)

if sel is None:
    st.info("No study in the database yet: upload its DM first, then the other domains.")
    st.stop()

with ledger_tab:
    every_study = st.toggle("All studies", key="ledger_all")
    ledger = data.ledger(path, None if every_study else sel.study_id, version)
    st.dataframe(
        ledger,
        hide_index=True,
        key="ledger_table",
        column_order=[
            "batch_id",
            "study_id",
            "file_name",
            "domain",
            "sha256",
            "rows_in",
            "rows_loaded",
            "rows_quarantined",
            "delivery",
            "rows_carried",
            "loaded_by",
            "loaded_at",
            "status",
            "reason",
            "superseded_by",
            "retracted_by",
            "current",
        ],
        column_config={
            "batch_id": "Batch",
            "study_id": "Study",
            "file_name": "File",
            "domain": "Domain",
            "sha256": st.column_config.TextColumn("sha256", width="small"),
            "rows_in": "Rows in",
            "rows_loaded": "Loaded",
            "rows_quarantined": "Quarantined",
            "loaded_by": "Who",
            "loaded_at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
            "status": "Status",
            "reason": "Reason",
            "superseded_by": st.column_config.NumberColumn("Superseded by", format="%d"),
            "delivery": "Delivery",
            "rows_carried": "Carried",
            "retracted_by": st.column_config.NumberColumn("Retracted by", format="%d"),
            "current": "Current",
        },
    )
    widgets.download_table(ledger, "batch_ledger")
    current = ledger[ledger["current"] & (ledger["domain"] != "CONFIG")
                     & (ledger["study_id"] == sel.study_id)]
    if not current.empty:
        with st.form("retract_form"):
            st.caption("Retract a batch: its domain goes back to the cut before it (audited). "
                       "Retracting a DM takes its subjects' records in other domains with it.")
            labels = {int(b): f"batch {int(b)}: {d} {f}" for b, d, f in
                      zip(current["batch_id"], current["domain"], current["file_name"],
                          strict=True)}
            batch = st.selectbox("Current batch", list(labels), format_func=labels.get,
                                 key="retract_batch")
            why = st.text_input("Reason (required, audited)", key="retract_reason")
            if st.form_submit_button("Retract"):
                decide(pipeline.retract_batch, int(batch), why)

with quarantine_tab:
    summary = data.quarantine_summary(path, sel.study_id, version)
    if summary.empty:
        st.success(f"No quarantined rows in {sel.study_id}.")
    else:
        st.dataframe(summary, hide_index=True, key="quarantine_summary")
        widgets.download_table(summary, f"quarantine_summary_{sel.study_id}")
        rules = sorted(summary["rule"].dropna().unique().tolist())
        left, middle, right = st.columns(3)
        rule = left.selectbox("Rule", ["all", *rules], key="quarantine_rule")
        reason = middle.text_input("Reason contains", key="quarantine_reason")
        batches = data.ledger(path, sel.study_id, version)
        batch_ids = batches.loc[batches["rows_quarantined"] > 0, "batch_id"].tolist()
        batch = right.selectbox("Batch", ["all", *batch_ids], key="quarantine_batch")
        rows = data.quarantined_rows(
            path,
            sel.study_id,
            None if batch == "all" else int(batch),
            None if rule == "all" else rule,
            reason,
            version,
        )
        st.caption(
            f"{len(rows):,} quarantined rows match"
            + (
                f"; the first {SHOWN_QUARANTINE_ROWS:,} are shown"
                if len(rows) > SHOWN_QUARANTINE_ROWS
                else ""
            )
            + ". Select a row to see the record as delivered."
        )
        picked = st.dataframe(
            rows.head(SHOWN_QUARANTINE_ROWS).drop(columns=["raw_record"]),
            hide_index=True,
            key="quarantine_rows",
            on_select="rerun",
            selection_mode="single-row",
        )
        widgets.download_table(rows.drop(columns=["raw_record"]), f"quarantine_rows_{sel.study_id}")
        st.download_button(
            "Download these rows (CSV)",
            rows.to_csv(index=False).encode("utf-8"),
            file_name=f"quarantine_{sel.study_id}.csv",
            mime="text/csv",
            key="quarantine_download",
        )
        chosen = picked.selection.rows if picked else []
        if chosen:
            record = rows.iloc[chosen[0]]
            st.markdown(
                f"**Row {record['row_number']} of {record['file_name']}**: {record['reason']}"
            )
            st.json(record["raw_record"])

with counts_tab:
    st.caption("Current rows (superseded data cuts left out) per study and domain.")
    counts = data.counts_by_domain(path, version)
    st.dataframe(
        counts,
        hide_index=True,
        key="domain_counts",
        column_config={
            "study_id": "Study",
            "domain": "Domain",
            "rows": "Rows",
            "subjects": "Subjects",
            "batch_id": st.column_config.NumberColumn("Current batch", format="%d"),
            "loaded_at": st.column_config.DatetimeColumn("Loaded (UTC)", format="YYYY-MM-DD HH:mm"),
        },
    )
    widgets.download_table(counts, "counts_by_domain")

with changes_tab:
    changes = data.cut_change_summary(path, sel.study_id, version)
    st.caption(
        "Per domain: records added, removed or changed between the two latest deliveries "
        "(a record is its key, e.g. USUBJID + AESEQ). With one delivery, every record is added."
    )
    st.dataframe(changes, hide_index=True, key="cut_summary")
    widgets.download_table(changes, f"changes_since_last_cut_{sel.study_id}")
    if not changes.empty:
        domain = st.selectbox("Records of domain", changes["domain"].tolist(), key="cut_domain")
        changed = data.cut_changes(path, sel.study_id, domain, version)
        st.dataframe(changed, hide_index=True, key="cut_rows")
        widgets.download_table(changed, f"changes_{domain}_{sel.study_id}", key="cut_rows")
