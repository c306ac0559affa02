"""Held deliveries: a data manager confirms one (it loads, as delivered) or rejects it.

A delivery is held (``load.py``) when, against the current data, it would remove more than the
protocol tolerates or quarantine too large a share of its rows (``compare.py``). The file's
content and the comparison are kept in ``held_delivery``; nothing of it is in the clinical
tables. A confirmation re-reads that content, validates it against the data as they are now and
loads it, provided the comparison still shows what the person confirmed (else the hold gets the
new comparison and waits again). Both decisions need a data manager of the study and a reason
and are audited; a confirmation changes the study's data and is signed (``delivery.confirm``),
a rejection is not (``ingest.reject``). A later cumulative delivery of the same domain
supersedes a pending hold (the hold no longer applies).
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd

from safety import store
from safety.access import Action, Signature, User, check_signature, require
from safety.errors import IngestError
from safety.ingest.compare import Comparison
from safety.ingest.load import BatchResult, Confirmation, load_dataset
from safety.ingest.readers import read_dataset
from safety.ingest.reevaluate import release_waiting_rows
from safety.store import queries

log = logging.getLogger(__name__)


def reason_given(reason: str | None, what: str) -> str:
    """The reason for a decision on a delivery, required (one-line error otherwise)."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise IngestError(f"{what} needs a reason (--reason): what was checked and why")
    return reason


def held_deliveries(db: str | Path | None = None, study_id: str | None = None,
                    pending_only: bool = False) -> pd.DataFrame:
    """Held deliveries, pending first (``queries.deliveries.holds``), ``comparison`` as text."""
    with store.read_connection(db) as con:
        return queries.deliveries.holds(con, study_id, pending_only)


def held_comparison(row: dict | pd.Series) -> Comparison:
    """The comparison stored with a hold."""
    return Comparison.from_json(json.loads(row["comparison"]))


def _pending(db: str | Path | None, hold_id: int, user: User, content: bool = False) -> dict:
    """The pending hold a data manager of its study decides on (AccessDenied for anyone else,
    before anything about the hold is said)."""
    with store.read_connection(db) as con:
        hold = queries.deliveries.hold(con, int(hold_id), content=content)
    if hold is None:
        raise IngestError(f"there is no held delivery {hold_id}")
    require(user, Action.CONFIRM_DELIVERY, hold["study_id"])
    if hold["status"] != "pending":
        raise IngestError(
            f"held delivery {hold_id} ({hold['file_name']}) is no longer pending: "
            f"{hold['status']} by {hold['decided_by']} on {hold['decided_at']:%Y-%m-%d %H:%M}")
    return hold


def confirm_delivery(db: str | Path | None, hold_id: int, user: User, reason: str,
                     signature: Signature | None) -> BatchResult:
    """Load a held delivery because a data manager confirms it, with their reason and their
    electronic signature ("I confirm this delivery for use in the study"; audited, the signature
    covers the batch it becomes).

    Returns the load's result: ``loaded`` (``hold_id`` set, the comparison it made), or
    ``held`` again when the current data changed since it was held and the comparison now
    differs from the one the person confirmed.

    Raises
    ------
    IngestError
        When the hold does not exist or is no longer pending, or the reason is blank.
    AccessDenied, SignatureError
        When the user may not confirm deliveries of the study, or the signature is missing or
        not hers (nothing is loaded).
    """
    reason = reason_given(reason, "confirming a held delivery")
    hold = _pending(db, hold_id, user, content=True)
    signature = check_signature(signature, user, "delivery.confirm")
    data = bytes(hold["content"])
    with tempfile.TemporaryDirectory(prefix="safety-hold-") as tmp:
        path = Path(tmp) / Path(hold["file_name"]).name
        path.write_bytes(data)
        raw = read_dataset(path, hold["file_name"])
    confirm = Confirmation(int(hold_id), user.id, reason, held_comparison(hold).removals(),
                           signature)
    result = load_dataset(raw, db, hold["study_id"], user, lambda: data, confirm=confirm)
    if result.domain == "DM" and result.status == "loaded":
        result = replace(result, followed_by=tuple(
            release_waiting_rows(db, result.study_id, user)))
    log.info("%s confirmed held delivery %d: %s", user.id, hold_id, result.status)
    return result


def reject_delivery(db: str | Path | None, hold_id: int, user: User, reason: str
                    ) -> BatchResult:
    """Reject a held delivery with a reason (audited); its content stays on record. Nothing
    changes in the study's data, so no signature is asked.

    Raises
    ------
    IngestError
        When the hold does not exist or is no longer pending, or the reason is blank.
    AccessDenied
        When the user may not decide on deliveries of the study.
    """
    reason = reason_given(reason, "rejecting a held delivery")
    hold = _pending(db, hold_id, user)
    actor = user.id
    at = store.now()
    with store.write_connection(db) as con:
        queries.deliveries.decide_hold(con, int(hold_id), status="rejected", actor=actor, at=at,
                                       reason=reason)
        queries.database.record_audit(
            con, actor=actor, action="ingest.reject", at=at, study_id=hold["study_id"],
            detail=json.dumps({"hold_id": int(hold_id), "file": hold["file_name"],
                               "sha256": hold["sha256"], "reason": reason}))
    log.info("%s rejected held delivery %d", actor, hold_id)
    return BatchResult(hold["file_name"], hold["sha256"], hold["domain"], 0, 0, 0, "rejected",
                       f"held delivery {hold_id} rejected by {actor}: {reason}",
                       hold["study_id"], hold_id=int(hold_id))
