"""Is the audit trail intact? The hash chain, its head, the signed records and the heads that
DSMB manifests carry, checked together (``python -m safety audit verify``, the dashboard at
start-up and on every page, ``status``).

What each check finds:

- an entry edited by hand: its content no longer gives its ``entry_sha256``;
- an entry removed (or its hash rewritten): the next entry's ``previous_sha256`` no longer
  matches;
- entries removed from the end: ``audit_head`` names a later entry than the last one left;
- a signed record edited (an adjudication's decision, an acknowledgement) or removed: its
  content no longer gives the ``record_sha256`` its signature stored, or it is gone;
- the whole chain rewritten from an edit onwards with new hashes: a DSMB manifest's audit head
  (stored with the snapshot, and in the report folder outside the database) no longer matches
  the entry it names.

What it cannot find: a consistent rewrite of the whole file by someone who also replaces every
report folder's manifest. Keep the report folders (their ``manifest.json``) outside the
database's reach; ``audit verify --manifest`` checks them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from safety.access.signatures import Signature
from safety.errors import StoreError
from safety.store import queries
from safety.store.queries.database import GENESIS_SHA256, audit_entry_sha256


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """The result of :func:`verify_audit_trail`; ``first_bad_entry`` None means intact."""

    entries: int
    head_id: int
    head_sha256: str
    first_bad_entry: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        """One line: intact with its head, or where and how it is broken."""
        if self.ok:
            return (f"audit trail intact: {self.entries} entries, head #{self.head_id} "
                    f"sha256 {self.head_sha256}")  # fmt: skip
        return f"AUDIT TRAIL BROKEN at entry {self.first_bad_entry}: {self.problem}"

    def to_json(self) -> dict:
        return {"ok": self.ok, "entries": self.entries, "head_id": self.head_id,
                "head_sha256": self.head_sha256, "first_bad_entry": self.first_bad_entry,
                "problem": self.problem}  # fmt: skip


def record_sha256(row: dict) -> str:
    """The sha256 of a signed record's columns (JSON, sorted keys, values as text)."""
    text = json.dumps(row, sort_keys=True, default=_text, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text(value) -> str:
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)


def signature_detail(signature: Signature) -> dict:
    """The signature as the audit entry of the act records it."""
    return {"signer": signature.signer_id, "name": signature.signer_name,
            "meaning": signature.meaning, "signed_at": signature.signed_at.isoformat(),
            "method": signature.method}  # fmt: skip


def record_signed_act(
    con: duckdb.DuckDBPyConnection,
    signature: Signature,
    *,
    signature_id: int,
    record_table: str,
    record_id: int,
    action: str,
    detail: dict,
    at: datetime,
    study_id: str | None,
    usubjid: str | None = None,
) -> int:
    """The audit entry of a signed act just written (with the signature in its detail), and the
    signature of the record with the record's hash (21 CFR 11.70); returns the audit id.

    ``signature_id`` was reserved (``queries.signatures.next_signature_id``) and stored in the
    record before; all of it happens in the caller's transaction.
    """
    audit_id = queries.database.record_audit(
        con, actor=signature.signer_id, action=action, at=at, study_id=study_id,
        usubjid=usubjid,
        detail=json.dumps({**detail, "signature": signature_detail(signature)}, default=str),
    )  # fmt: skip
    row = queries.signatures.record_content(con, record_table, record_id)
    queries.signatures.record_signature(
        con, signature_id=signature_id, study_id=study_id, signed_by=signature.signer_id,
        signer_name=signature.signer_name, signed_at=signature.signed_at,
        meaning=signature.meaning, method=signature.method, evidence=signature.evidence,
        record_table=record_table, record_id=record_id, record_sha256=record_sha256(row),
        audit_id=audit_id,
    )  # fmt: skip
    return audit_id


def verify_audit_trail(
    con: duckdb.DuckDBPyConnection, anchors: Iterable[tuple[int, str, str]] = ()
) -> AuditCheck:
    """Check the chain, the head, every signed record and every audit head a DSMB manifest
    recorded (those stored with the snapshots, plus ``anchors``: (audit_id, sha256, where)).

    Returns the first problem found (in the order of the checks above).
    """
    rows = queries.database.audit_trail(con)
    head = queries.database.audit_head(con)
    previous, last_id = GENESIS_SHA256, 0
    hashes: dict[int, str] = {}
    for audit_id, at, actor, action, study, usubjid, detail, prev, entry in rows:
        what = f"{action} by {actor} at {at:%Y-%m-%d %H:%M:%S}"
        if prev != previous:
            return _broken(len(rows), head, audit_id,
                           f"({what}) does not follow the entry before it: an entry before it "
                           "was removed or its hash rewritten")  # fmt: skip
        if audit_entry_sha256(audit_id, at, actor, action, study, usubjid, detail, prev) != entry:
            return _broken(len(rows), head, audit_id,
                           f"({what}) was changed after it was written")
        previous, last_id, hashes[audit_id] = entry, audit_id, entry
    if head is None or head != (last_id, previous):
        named = head[0] if head else last_id
        return _broken(len(rows), head, named,
                       f"is missing or differs: the trail was last appended at it, and what is "
                       f"left ends at entry {last_id}: entries at its end were removed or "
                       "changed")  # fmt: skip
    for sig_id, table, record_id, digest, audit_id, signer in queries.signatures.all_signatures(con):
        if audit_id not in hashes:
            return _broken(len(rows), head, audit_id,
                           f"is missing: it recorded signature {sig_id} by {signer}")
        row = queries.signatures.record_content(con, table, record_id)
        if row is None or record_sha256(row) != digest:
            change = "was removed" if row is None else "was changed after it was signed"
            return _broken(len(rows), head, audit_id,
                           f"signed {table} {record_id} (by {signer}), which {change}")
    for audit_id, digest, where in [*_snapshot_anchors(con), *anchors]:
        if hashes.get(audit_id) != digest:
            return _broken(len(rows), head, audit_id,
                           f"is not the entry {where} recorded as the audit head: the trail "
                           "was rewritten after that report")  # fmt: skip
    return AuditCheck(len(rows), last_id, previous)


def _broken(entries: int, head: tuple | None, entry: int, problem: str) -> AuditCheck:
    head_id, head_sha = head if head else (0, GENESIS_SHA256)
    return AuditCheck(entries, head_id, head_sha, entry, problem)


def _snapshot_anchors(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str, str]]:
    found = []
    for snapshot_id, manifest in queries.snapshot.snapshot_manifests(con):
        freeze = json.loads(manifest).get("freeze") or {}
        if freeze.get("audit_id"):
            found.append((int(freeze["audit_id"]), freeze["audit_sha256"],
                          f"snapshot {snapshot_id}'s manifest"))  # fmt: skip
    return found


def manifest_anchor(path: str | Path) -> tuple[int, str, str]:
    """The audit head a report folder's ``manifest.json`` recorded, as an anchor."""
    try:
        freeze = json.loads(Path(path).read_text(encoding="utf-8")).get("freeze") or {}
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path} is not a readable manifest.json: {exc}") from exc
    if not freeze.get("audit_id"):
        raise StoreError(f"{path} records no audit head (a report made before audit chaining)")
    return int(freeze["audit_id"]), str(freeze["audit_sha256"]), str(path)
