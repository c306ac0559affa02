"""DLT adjudication: a person confirms or rejects a DLT candidate, or adds a DLT the protocol's
rules did not flag, with a reason and an electronic signature; the adjudication, its signature
and its audit-log entry are written in one transaction. Safety officers adjudicate at every
site, investigators only their own sites' patients (``safety.access``). The rule that makes
candidates, and how an adjudication overrides it, is :mod:`safety.clinical.dlt`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

import duckdb

from safety import store
from safety.access import Action, Signature, User, check_signature, require
from safety.errors import AdjudicationError
from safety.store import audit, queries

log = logging.getLogger(__name__)

ADJUDICATION_DECISIONS = ("confirmed", "rejected", "added")
ADJUDICATION_SOURCES = ("adverse_event", "lab", "manual")  # schema.sql dlt_adjudication.source
Decision = Literal["confirmed", "rejected", "added"]
_AUDIT_ACTIONS = {"confirmed": "dlt.confirm", "rejected": "dlt.reject", "added": "dlt.add"}
# What a DLT candidate listing shows of each event (``queries.dlt.dlt_events``), wherever it is
# listed (the Dose escalation page, the patient's DLT assessment).
CANDIDATE_COLUMNS = ["term", "onset_date", "onset_day", "grade", "dlt_rule", "dlt_status",
                     "adjudication_reason", "signature"]  # fmt: skip
_ANY_DAY = date(9999, 12, 31)  # a cut-off after every record: is the event a candidate at all?


@dataclass(frozen=True, slots=True)
class Adjudication:
    """What :func:`adjudicate` recorded."""

    adjudication_id: int
    audit_id: int
    study_id: str
    usubjid: str
    source: str
    source_seq: int | None
    decision: str
    previous_status: str | None
    reason: str
    decided_by: str
    decided_at: datetime
    signature: Signature


def adjudicate(
    db: str | Path | None,
    study_id: str,
    usubjid: str,
    source: str,
    source_seq: int | None,
    decision: Decision,
    reason: str,
    user: User,
    *,
    signature: Signature | None = None,
    onset_date: date | None = None,
    description: str | None = None,
    at: datetime | None = None,
) -> Adjudication:
    """Confirm or reject a DLT candidate, or add a DLT by hand, with a reason; signed, audited.

    The adjudication, its signature and its audit-log entry are written in one transaction
    (all or nothing).
    The latest adjudication of an event wins; counts and decisions use it from then on, at every
    cut-off on or after the event's onset (see ``queries``: adjudications are not dated by the
    cut-off). Arguments are checked before anything is written.

    Parameters
    ----------
    db : path or None
        The database (``store.resolve_db_path``).
    study_id, usubjid : str
        The study and the subject (DM.USUBJID).
    source : {"adverse_event", "manual"}
        Where the candidate comes from: an AE (``source_seq`` = AE.AESEQ), or a DLT added by
        hand (``source_seq`` None to add one; its number to confirm or reject it later).
    source_seq : int or None
    decision : {"confirmed", "rejected", "added"}
        "added" makes an event a DLT that the protocol's rules did not flag; it needs
        ``onset_date`` and ``description``.
    reason : str
        Why, in the adjudicator's words; required.
    user : User
        Who decides: a safety officer, or an investigator of the patient's site.
    signature : Signature
        The adjudicator's electronic signature, meaning ``MEANINGS["dlt.confirm"]`` ("I confirm
        this event as a DLT"), ``"dlt.reject"`` or ``"dlt.add"``; required.
    onset_date : date, optional
        For "added": the onset of the DLT (must be on or after the first dose).
    description : str, optional
        For "added": the event, e.g. "Grade 3 endometritis (investigator: DLT)".
    at : datetime, optional
        When (UTC); default now.

    Returns
    -------
    Adjudication

    Raises
    ------
    AdjudicationError
        No reason, an unknown decision or source, an unknown subject, an event that is not a DLT
        candidate of the protocol, or an addition without onset date or description.
    AccessDenied
        The user may not adjudicate this patient's events.
    SignatureError
        No signature, or not a valid one for this act.
    """
    reason = (reason or "").strip()
    if decision not in ADJUDICATION_DECISIONS:
        raise AdjudicationError(
            f"decision must be one of {', '.join(ADJUDICATION_DECISIONS)}, got {decision!r}"
        )
    if not reason:
        raise AdjudicationError(
            f"a reason is required to record a DLT as {decision}: say why, for the audit trail"
        )
    if source not in ADJUDICATION_SOURCES:
        raise AdjudicationError(
            f"source must be one of {', '.join(ADJUDICATION_SOURCES)}, got {source!r}"
        )
    if decision == "added":
        if source != "manual" or source_seq is not None:
            raise AdjudicationError(
                'a DLT added by hand has source "manual" and no sequence number; to count a '
                "flagged candidate, confirm it instead"
            )
        if onset_date is None or not (description or "").strip():
            raise AdjudicationError(
                "a DLT added by hand needs its onset date and a description of the event"
            )
    elif source_seq is None:
        raise AdjudicationError(
            f"to record a DLT as {decision}, name the event: its {source} sequence number"
        )
    at = at or store.now()

    with store.write_connection(db) as con:
        if queries.studies.study_config_text(con, study_id) is None:
            raise AdjudicationError(f"no study {study_id!r} in the database")
        exists, site = queries.subjects.subject_site(con, study_id, usubjid)
        if not exists:
            raise AdjudicationError(f"no subject {usubjid!r} in study {study_id}")
        require(user, Action.ADJUDICATE_DLT, study_id, site=site, subject=usubjid)
        _, first_dose = queries.dlt.subject_first_dose(con, study_id, usubjid)
        previous, term = _check_event(
            con,
            study_id,
            usubjid,
            source,
            source_seq,
            decision,
            onset_date,
            first_dose,
        )
        if decision == "added":
            source_seq = queries.dlt.next_manual_dlt_seq(con, study_id, usubjid)
            term = description.strip()
        elif source == "manual":
            onset_date, description = queries.dlt.manual_dlt(con, study_id, usubjid, source_seq)
        action = _AUDIT_ACTIONS[decision]
        signature = check_signature(signature, user, action, now=at)
        signature_id = queries.signatures.next_signature_id(con)
        adjudication_id = queries.dlt.record_adjudication(
            con,
            study_id=study_id,
            usubjid=usubjid,
            source=source,
            source_seq=source_seq,
            decision=decision,
            reason=reason,
            decided_by=user.id,
            decided_at=at,
            signature_id=signature_id,
            onset_date=onset_date,
            description=None if description is None else description.strip(),
        )
        detail = {
            "adjudication_id": adjudication_id,
            "source": source,
            "source_seq": source_seq,
            "term": term,
            "decision": decision,
            "previous_status": previous,
            "reason": reason,
        }
        audit_id = audit.record_signed_act(
            con, signature, signature_id=signature_id, record_table="dlt_adjudication",
            record_id=adjudication_id, action=action, detail=detail, at=at, study_id=study_id,
            usubjid=usubjid,
        )  # fmt: skip
    log.info(
        "DLT %s: %s %s %s/%s by %s (adjudication %d)",
        decision,
        study_id,
        usubjid,
        source,
        source_seq,
        user.id,
        adjudication_id,
    )
    return Adjudication(
        adjudication_id,
        audit_id,
        study_id,
        usubjid,
        source,
        source_seq,
        decision,
        previous,
        reason,
        user.id,
        at,
        signature,
    )


def _check_event(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    usubjid: str,
    source: str,
    source_seq: int | None,
    decision: str,
    onset_date: date | None,
    first_dose: date | None,
) -> tuple[str | None, str | None]:
    """(the event's status before this adjudication, its term); raises when it is not a DLT
    candidate or, for an addition, when the onset is not after a first dose."""
    if decision == "added":
        if first_dose is None:
            raise AdjudicationError(f"{usubjid} has not been dosed: a DLT needs a first dose")
        if onset_date < first_dose:
            raise AdjudicationError(
                f"the onset {onset_date} is before {usubjid}'s first dose on {first_dose}"
            )
        return None, None
    events = queries.dlt.dlt_events(con, study_id, _ANY_DAY)
    match = events[
        (events["usubjid"] == usubjid)
        & (events["source"] == source)
        & (events["source_seq"] == source_seq)
    ]
    if match.empty:
        what = "adverse event" if source == "adverse_event" else f"{source} record"
        raise AdjudicationError(
            f"{what} {source_seq} of {usubjid} is not a DLT candidate under the protocol's "
            "rules; to count it as a DLT, add it by hand with a reason"
        )
    row = match.iloc[0]
    return str(row["dlt_status"]), str(row["term"])
