"""Data: upload deliveries, held deliveries (confirm or reject), the batch ledger (retract),
the quarantine, counts per domain, what changed."""

import streamlit as st

from safety import pipeline
from safety.access import PERMISSIONS, Action
from safety.config import DELIVERED_DOMAINS
from safety.display import readable
from safety.errors import SafetyError
from safety.escaping import md
from safety.ingest.holds import held_comparison
from safety.ingest.preview import preview_upload
from safety.ingest.readers import EXTENSIONS
from safety.report.csv_files import frame_csv
from ui import auth, data, esign, sidebar, widgets

FROM_FILE = "the study named in each file (STUDYID)"
STATUS_MESSAGE = {"loaded": st.success, "duplicate": st.info, "rejected": st.error,
                  "held": st.warning}
SHOWN_QUARANTINE_ROWS = 2000  # the download holds them all



def remember(delivery: pipeline.Delivery) -> None:
    """Keep the outcome of an upload or decision for the next run to show."""
    st.session_state["upload_results"] = ([r.to_json() for r in delivery.results],
                                          len(delivery.alerts))


def signed_decision(act: str, decision, target: int, reason: str, password: str | None,
                    done: str) -> None:
    """Confirm a held delivery or retract a batch: signed acts (``ui.esign``)."""
    if not reason.strip():
        st.error("Write the reason: it is required and audited.")
        return

    def run(signature, target=target, reason=reason) -> str:
        remember(decision(path, target, user, reason, signature))
        return f"{done}, signed by {user.name}; recorded in the audit trail."

    esign.sign(access, user, act, password, run, "pages/data.py")


def reject(hold_id: int, reason: str) -> None:
    """Reject a held delivery (audited with its reason; nothing of it loads)."""
    try:
        remember(pipeline.reject_delivery(path, hold_id, user, reason))
    except SafetyError as exc:
        auth.refusal(exc)
        return
    data.after_write()
    st.rerun()


def show_results() -> None:
    """The outcome of the last upload or decision: one message per batch (data as text)."""
    results, raised = st.session_state["upload_results"]
    for r in results:
        counts = (f"{r['rows_in']} rows in, {r['rows_loaded']} loaded, "
                  f"{r['rows_quarantined']} quarantined"
                  + (f", {r['rows_carried']} carried" if r.get("rows_carried") else ""))
        reason = f": {r['reason']}" if r["reason"] else ""
        STATUS_MESSAGE[r["status"]](
            f"**{md(r['file'])}** ({md(r['domain'] or 'unknown domain')}, "
            f"{md(r['study_id'] or '?')}): {r['status']}, {counts}{md(reason)}")
    if raised:
        st.warning(f"{raised} new alert(s): see the Alerts page.")


def show_preview(preview) -> None:
    """What loading one file would do (``safety.ingest.preview``): its standard and domain, each
    SDTM variable's delivered column (mapped, missing), the rows validation would quarantine."""
    how = f", {preview.translated_from}" if preview.translated_from else ""
    st.subheader(md(f"Preview of {preview.file_name}"))
    st.caption(md(f"{preview.standard or 'no known standard'}, domain "
                  f"{preview.domain or 'unknown'}{how}, study {preview.study_id or '?'}"))
    st.dataframe(preview.columns, hide_index=True, key=f"preview_columns_{preview.file_name}")
    missing = preview.columns.loc[preview.columns["how"].eq("missing"), "sdtm_variable"]
    if len(missing):
        st.warning(md("Missing: " + ", ".join(missing)))
    if preview.refused:
        st.error(md(f"Would be refused: {preview.refused}"))
        return
    st.markdown(f"**{preview.rows_in}** rows read; **{preview.rows_quarantined}** would be "
                "quarantined.")
    if len(preview.reasons):
        st.dataframe(preview.reasons, hide_index=True, key=f"preview_reasons_{preview.file_name}")


def show_holds(holds) -> None:
    """Held deliveries: pending ones with their comparison and the confirm (signed) / reject
    form, then the decided ones."""
    pending = holds[holds["status"] == "pending"]
    if pending.empty:
        st.success("No delivery is waiting for confirmation.")
    for hold in pending.to_dict(orient="records"):
        hold_id = int(hold["hold_id"])
        may_decide = user.can(Action.CONFIRM_DELIVERY, hold["study_id"])
        comparison = held_comparison(hold)
        title = (f"Delivery {hold_id}: {hold['file_name']} ({hold['domain']}, "
                 f"{hold['study_id']}), held {hold['held_at']:%Y-%m-%d %H:%M} UTC")
        with st.expander(md(title), expanded=True):
            st.text(comparison.to_text().split("\n")[0])
            for name, frame in comparison.tables().items():
                st.caption(md(name))
                st.dataframe(frame, hide_index=True, key=f"hold_{hold_id}_{name}")
            if not may_decide:
                st.caption("Confirming or rejecting a held delivery is for data managers.")
                continue
            with st.form(f"hold_form_{hold_id}"):
                why = st.text_input("Reason (required, audited)", key=f"hold_reason_{hold_id}")
                password = esign.signature_field(access, user, "delivery.confirm",
                                                 f"hold_password_{hold_id}")
                left, right = st.columns(2)
                confirmed = left.form_submit_button("Sign and confirm: load it", type="primary",
                                                    icon=":material/draw:")
                rejected = right.form_submit_button("Reject it (no signature)")
            if confirmed:
                signed_decision("delivery.confirm", pipeline.confirm_delivery, hold_id, why,
                                password, f"Delivery {hold_id} confirmed")
            if rejected:
                reject(hold_id, why)
    decided = holds[holds["status"] != "pending"]
    if not decided.empty:
        st.caption("Decided holds")
        st.dataframe(decided.drop(columns=["comparison"]), hide_index=True, key="holds_decided")


sel = sidebar.selection(needs=Action.VIEW_DELIVERIES, required=False)
access, user = sidebar.signed_in()
may_load = any(Action.INGEST in PERMISSIONS[g.role] for g in user.grants)
path = sidebar.db_path()
version = sel.version if sel else data.data_version(path)
st.title("Data")
st.caption(
    "Deliveries are loaded one file at a time, each in one transaction, idempotent by content "
    "(sha256), DM first. A cumulative delivery supersedes the domain's current cut, an "
    "incremental one adds and updates records by key; earlier cuts stay. A delivery that would "
    "remove more than the protocol tolerates (SAEs, "
    + ("DLTs, " if sel is None or sel.config.is_escalation else "")
    + "deaths, subjects, records) or "
    "quarantine too much is held until a data manager confirms or rejects it. Folders can also "
    "be watched: `python -m safety watch INBOX`."
)

holds = data.held_deliveries(path, user, sel.study_id if sel else None, version)
waiting = int((holds["status"] == "pending").sum())
if waiting:
    st.warning(f"{waiting} held deliver{'y waits' if waiting == 1 else 'ies wait'} for a data "
               "manager's decision: see *Held deliveries*.", icon=":material/pending_actions:")
# Counts and changes compare whole cuts (~1.7 s on a large study): they run only when open.
# The other tabs are cheap and always drawn. Labels stay fixed: the open tab is kept by label.
upload, held_tab, ledger_tab, quarantine_tab, counts_tab, changes_tab = st.tabs(
    ["Upload", "Held deliveries", "Batch ledger", "Quarantine", "Counts",
     "Changes since last cut"],
    key="data_tab", on_change="rerun", bind="query-params",
)

with upload:
    if not may_load:
        st.caption(f"Loading deliveries is for data managers; you are {md(user.titles())}.")
    studies = data.studies(path, user, version)["study_id"].tolist()
    with st.form("upload_form", clear_on_submit=True):
        files = st.file_uploader(
            f"SDTM datasets ({', '.join(DELIVERED_DOMAINS)}), ADaM (ADSL, ADAE, ADLB) or an "
            "export the study's mapping describes",
            type=sorted(e.lstrip(".") for e in EXTENSIONS),
            accept_multiple_files=True,
            key="upload_files",
        )
        target = st.selectbox("Load into", [FROM_FILE, *studies], key="upload_study")
        left, right = st.columns(2)
        submitted = left.form_submit_button("Load", type="primary", disabled=not may_load)
        previewed = right.form_submit_button("Preview: load nothing", disabled=not may_load,
                                             icon=":material/preview:")
    if previewed and files:
        st.session_state.pop("upload_results", None)
        for f in files:
            try:
                show_preview(preview_upload(f.name, f.getvalue(), path,
                                            None if target == FROM_FILE else target, user))
            except SafetyError as exc:
                auth.refusal(exc)
                st.stop()
        st.info("Nothing was loaded. Choose the file(s) again and press Load to load them.")
    if submitted and files:
        with st.spinner(f"Loading {len(files)} file(s) ..."):
            try:
                delivery = pipeline.deliver_uploads(
                    [(f.name, f.getvalue()) for f in files],
                    path,
                    None if target == FROM_FILE else target,
                    user,
                )
            except SafetyError as exc:
                auth.refusal(exc)
                st.stop()
        st.session_state["upload_results"] = (
            [r.to_json() for r in delivery.results], len(delivery.alerts)
        )
        data.after_write()
        st.rerun()  # redraw everything (sidebar included) at the new data version
    if "upload_results" in st.session_state:
        show_results()

with held_tab:
    show_holds(holds)

if sel is None:
    st.info("No study in the database yet: upload its DM first, then the other domains.")
    st.stop()

with ledger_tab:
    every_study = st.toggle("All studies", key="ledger_all")
    ledger = data.ledger(path, user, None if every_study else sel.study_id, version)
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
            "signature",
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
            "signature": st.column_config.TextColumn("Signature", width="large"),
        },
    )
    widgets.download_table(ledger, "batch_ledger")
    current = ledger[ledger["current"] & (ledger["domain"] != "CONFIG")
                     & (ledger["study_id"] == sel.study_id)]
    if not current.empty and user.can(Action.RETRACT_DELIVERY, sel.study_id):
        with st.form("retract_form"):
            st.caption("Retract a batch: its domain goes back to the cut before it (signed, "
                       "audited). Retracting a DM takes its subjects' records in other domains "
                       "with it.")
            labels = {int(b): f"batch {int(b)}: {d} {f}" for b, d, f in
                      zip(current["batch_id"], current["domain"], current["file_name"],
                          strict=True)}
            batch = st.selectbox("Current batch", list(labels), format_func=labels.get,
                                 key="retract_batch")
            why = st.text_input("Reason (required, audited)", key="retract_reason")
            password = esign.signature_field(access, user, "delivery.retract",
                                             "retract_password")
            retract = st.form_submit_button("Sign and retract", icon=":material/draw:")
        if retract:
            signed_decision("delivery.retract", pipeline.retract_batch, int(batch), why,
                            password, f"Batch {int(batch)} retracted")

with quarantine_tab:
    summary = data.quarantine_summary(path, user, sel.study_id, version)
    if summary.empty:
        st.success(f"No quarantined rows in {sel.study_id}.")
    else:
        st.dataframe(summary, hide_index=True, key="quarantine_summary")
        widgets.download_table(summary, f"quarantine_summary_{sel.study_id}")
        rules = sorted(summary["rule"].dropna().unique().tolist())
        left, middle, right = st.columns(3)
        rule = left.selectbox("Rule", ["all", *rules], key="quarantine_rule")
        reason = middle.text_input("Reason contains", key="quarantine_reason")
        batches = data.ledger(path, user, sel.study_id, version)
        batch_ids = batches.loc[batches["rows_quarantined"] > 0, "batch_id"].tolist()
        batch = right.selectbox("Batch", ["all", *batch_ids], key="quarantine_batch")
        rows = data.quarantined_rows(
            path,
            user,
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
            frame_csv(rows),
            file_name=f"quarantine_{sel.study_id}.csv",
            mime="text/csv",
            key="quarantine_download",
        )
        chosen = picked.selection.rows if picked else []
        if chosen:
            record = rows.iloc[chosen[0]]
            st.markdown(
                f"**Row {record['row_number']} of {md(record['file_name'])}**: {md(record['reason'])}"
            )
            st.json(record["raw_record"])

if counts_tab.open:
    with counts_tab:
        st.caption("Current rows (superseded data cuts left out) per study and domain.")
        counts = data.counts_by_domain(path, user, version)
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

if changes_tab.open:
    with changes_tab:
        changes = data.cut_change_summary(path, user, sel.study_id, version)
        st.caption(
            "Per domain: records added, removed or changed between the two latest deliveries "
            "(a record is its key, e.g. USUBJID + AESEQ). With one delivery, every record is added."
        )
        changes = readable(changes)
        st.dataframe(changes, hide_index=True, key="cut_summary")
        widgets.download_table(changes, f"changes_since_last_cut_{sel.study_id}")
        if not changes.empty:
            domain = st.selectbox("Records of domain", changes["Domain"].tolist(), key="cut_domain")
            changed = readable(data.cut_changes(path, user, sel.study_id, domain, version))
            st.dataframe(changed, hide_index=True, key="cut_rows")
            widgets.download_table(changed, f"changes_{domain}_{sel.study_id}", key="cut_rows")
