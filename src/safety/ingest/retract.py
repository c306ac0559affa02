"""Retracting a batch: the domain goes back to the cut before it, audited.

A data manager takes back a delivery that should not have been loaded (the wrong file, a
confirmed hold that proved wrong). The retraction is itself a batch (``delivery =
'retraction'``, ``retracts`` = the batch taken back) holding a copy of the cut the retracted
batch had replaced, which it supersedes; nothing is deleted, so every earlier cut, report and
freeze point stays as it was. Retracting a DM restores its subjects, and with them their records
in every other domain (records are current only for subjects of the current DM); retracting a
DM that added subjects removes theirs the same way. The comparison says what the retraction
removes and brings back.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from pathlib import Path

import pandas as pd

from safety import store
from safety.access import Action, Signature, User, check_signature, require
from safety.config import stored_study_config
from safety.errors import IngestError
from safety.ingest.compare import compare, picture
from safety.ingest.holds import reason_given
from safety.ingest.load import BatchResult, refresh_derived
from safety.ingest.reevaluate import release_waiting_rows
from safety.store import audit, queries

log = logging.getLogger(__name__)


def retract_batch(db: str | Path | None, batch_id: int, user: User, reason: str,
                  signature: Signature | None) -> BatchResult:
    """Take back the current batch of a domain, restoring the cut before it: a data manager's
    signed act ("I retract this delivery from the study"; audited, the signature covers the
    retraction batch).

    Returns the retraction's result: status ``loaded`` (a new batch, ``delivery`` retraction,
    ``superseded`` = the retracted batch), with the comparison of the study before and after.

    Raises
    ------
    IngestError
        When the batch does not exist, is not a loaded delivery, is not its domain's current
        cut (retract the later one first), or the reason is blank.
    AccessDenied, SignatureError
        When the user may not retract deliveries of the study, or the signature is missing or
        not hers (nothing changes).
    """
    reason = reason_given(reason, "retracting a batch")
    batch_id = int(batch_id)
    at = store.now()
    with store.write_connection(db) as con:
        taken = queries.deliveries.batch(con, batch_id)
        if taken is None:
            raise IngestError(f"there is no batch {batch_id}")
        domain, study_id = taken["domain"], taken["study_id"]
        actor = require(user, Action.RETRACT_DELIVERY, study_id).id
        signature = check_signature(signature, user, "delivery.retract", now=at)
        if domain not in queries.ingest.CUT_TABLES or taken["status"] != "loaded":
            raise IngestError(f"batch {batch_id} ({taken['file_name']}) is not a loaded "
                              "delivery of a domain; only those can be retracted")
        if not pd.isna(taken["superseded_by"]):
            raise IngestError(
                f"batch {batch_id} is not the current {domain} cut (batch "
                f"{int(taken['superseded_by'])} superseded it): retract the current one first")
        study = stored_study_config(queries.studies.study_config_text(con, study_id), study_id)
        previous = queries.deliveries.superseded_by_batch(con, batch_id)
        before = picture(con, study_id)
        new = queries.database.next_batch_id(con)
        file_name = f"retraction of batch {batch_id} ({taken['file_name']})"
        sha = hashlib.sha256(f"retraction of batch {batch_id}".encode()).hexdigest()
        queries.database.insert_frame(con, "ingest_batch", pd.DataFrame([{
            "batch_id": new, "study_id": study_id, "file_name": file_name, "sha256": sha,
            "domain": domain, "rows_in": 0, "rows_loaded": 0, "rows_quarantined": 0,
            "status": "loaded", "reason": reason, "loaded_by": actor, "loaded_at": at,
            "delivery": "retraction", "retracts": batch_id}]))
        carried = queries.deliveries.copy_cut(con, study_id, domain, previous, new) \
            if previous else 0
        queries.ingest.record_carried(con, new, carried, max(previous) if previous else None)
        queries.deliveries.supersede(con, [batch_id], new)
        refresh_derived(con, study.study_id, domain)
        difference = {**queries.deliveries.cut_difference(con, study_id, domain, [batch_id], new),
                      "batch_id": new}
        comparison = compare(con, study_id, domain, "retraction", [batch_id], difference, before,
                             rows_in=0, rows_quarantined=0, quarantine_rules={})
        audit.record_signed_act(
            con, signature, signature_id=queries.signatures.next_signature_id(con),
            record_table="ingest_batch", record_id=new, action="delivery.retract",
            detail={"batch_id": new, "retracts": batch_id, "restores": previous,
                    "domain": domain, "rows_carried": carried, "reason": reason,
                    "comparison": comparison.to_json()},
            at=at, study_id=study_id)
    restored = (f"restored the cut of batch(es) {', '.join(map(str, previous))} ({carried} "
                "records)" if previous else f"no earlier cut: {domain} is now empty")
    log.info("%s retracted batch %d: %s", actor, batch_id, restored)
    result = BatchResult(file_name, sha, domain, 0, 0, 0, "loaded",
                         f"batch {batch_id} retracted by {actor}: {restored}; {reason}",
                         study_id, new, (batch_id,), "retraction", carried,
                         comparison=comparison)
    if domain == "DM":
        result = replace(result, followed_by=tuple(release_waiting_rows(db, study_id, user)))
    return result
