"""Freezing a data cut: what a DSMB report of a cut-off is allowed to know, and its content hash.

What "known by the cut-off" means here
--------------------------------------
A DSMB report at cut-off *C* counts

1. **records dated on or before C** (AE onset, lab collection, first dose, exposure start,
   enrolment; an AE with no onset date at all counts, as the TEAE rule says: unknown onset
   proves nothing), as every page of the dashboard does with its sidebar cut-off;
2. **as delivered up to the freeze point**: the ingest batches loaded and the DLT adjudications
   recorded when the *first* report of that study and cut-off was made. The freeze point is
   stored with that report (table ``snapshot``, its manifest) and every later report of the
   same cut-off reuses it, so a record that arrives later, even one dated before C (a late
   EDC entry), and a later adjudication do not change the report of C. ``refreeze=True``
   (``--refreeze``) takes the data as they stand now instead: a new, cleaner cut of the same
   day, with a new freeze point and a new content hash.

Why not "loaded on or before C": EDC exports of a cut arrive after the cut-off day (the demo's
on the next morning), so the load time can't be compared with the cut-off date; the freeze
point records what was there instead. Adjudications recorded after C but before the freeze point
count: reviewing the events of a cut is part of cleaning that cut (``queries`` section "DLTs").

The frozen copy is an in-memory DuckDB with the product's own schema, holding the study's rows
of the batches up to the freeze point (a supersession by a later delivery is undone) and the
adjudications up to it; the CTCAE lab grades are recomputed there. Every query and table
function then runs on it unchanged. The study configuration and cohorts are copied as stored;
their sha256 goes into the manifest, so a changed protocol shows as a changed config hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from safety import store
from safety.errors import StoreError
from safety.store import queries
from safety.store.queries.database import GENESIS_SHA256

log = logging.getLogger(__name__)

COPIED_TABLES = (
    "ingest_batch", "study", "cohort", "rule_parameters", *queries.snapshot.FROZEN_TABLES,
    "dlt_adjudication", "signature",
)


@dataclass(frozen=True, slots=True)
class FreezePoint:
    """The data a report may see: batches up to ``batch_id``, adjudications up to
    ``adjudication_id``; ``data_as_of`` is when the last of them arrived (UTC). ``audit_id``
    and ``audit_sha256`` are the audit trail's head at the freeze: the manifest carries them, so
    the report vouches for the trail up to that entry (``safety.store.audit``)."""

    batch_id: int
    adjudication_id: int
    data_as_of: datetime | None
    audit_id: int = 0
    audit_sha256: str = GENESIS_SHA256
    reused_from_first_report: bool = False

    def to_json(self) -> dict:
        out = asdict(self)
        out["data_as_of"] = self.data_as_of.isoformat() if self.data_as_of else None
        return out

    @classmethod
    def from_json(cls, data: dict, reused: bool = True) -> FreezePoint:
        as_of = data.get("data_as_of")
        return cls(
            batch_id=int(data["batch_id"]),
            adjudication_id=int(data["adjudication_id"]),
            data_as_of=datetime.fromisoformat(as_of) if as_of else None,
            audit_id=int(data.get("audit_id", 0)),
            audit_sha256=data.get("audit_sha256", GENESIS_SHA256),
            reused_from_first_report=reused,
        )

    def describe(self, dlt: bool = True) -> str:
        """The data version in words, for the title page; ``dlt``: the study has a DLT
        definition (else no adjudication is spoken of)."""
        when = f"{self.data_as_of:%Y-%m-%d %H:%M} UTC" if self.data_as_of else "unknown"
        adjudications = (f", DLT adjudications up to #{self.adjudication_id}"
                         if self.adjudication_id else ", no DLT adjudication") if dlt else ""
        return (
            f"ingest batches up to #{self.batch_id}{adjudications}; last arrival {when}; "
            f"audit trail head #{self.audit_id} sha256 {self.audit_sha256}"
        )


def freeze_point(
    con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date, refreeze: bool = False
) -> FreezePoint:
    """The freeze point of a cut-off: the first report's, else the data as they stand now.

    Raises StoreError when the study has no loaded data.
    """
    if not refreeze:
        manifest = queries.snapshot.first_snapshot_manifest(con, study_id, cutoff)
        if manifest:
            stored = json.loads(manifest).get("freeze")
            if stored:
                return FreezePoint.from_json(stored)
    state = queries.snapshot.freeze_state(con, study_id)
    if state["batch_id"] is None:
        raise StoreError(f"study {study_id!r} has no loaded data to report on")
    arrivals = [t for t in (state["loaded_at"], state["decided_at"]) if t is not None]
    audit_id, audit_sha256 = queries.database.audit_head(con)
    return FreezePoint(
        batch_id=int(state["batch_id"]),
        adjudication_id=int(state["adjudication_id"] or 0),
        data_as_of=max(arrivals) if arrivals else None,
        audit_id=int(audit_id),
        audit_sha256=audit_sha256,
    )


def frozen_database(
    con: duckdb.DuckDBPyConnection, study_id: str, point: FreezePoint
) -> duckdb.DuckDBPyConnection:
    """An in-memory database holding the study as of ``point`` (see the module docstring).

    ``con`` is only read, and may be closed once this returns. The caller closes the result.
    """
    rows = {
        table: queries.snapshot.frozen_rows(con, table, study_id, point.batch_id, point.adjudication_id)
        for table in COPIED_TABLES
    }
    frozen = store.memory_database()
    for table, data in rows.items():
        queries.snapshot.load_frozen_rows(frozen, table, data)
    queries.ingest.refresh_removed_subjects(frozen, study_id)  # as the DM of the freeze point
    graded = queries.labs.refresh_lab_grades(frozen, study_id)
    log.info(
        "frozen %s at batch %d, adjudication %d: %d lab grades",
        study_id, point.batch_id, point.adjudication_id, graded,
    )  # fmt: skip
    return frozen


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def content_hash(parts: Iterable[tuple[str, bytes]]) -> str:
    """The content hash of a report: sha256 over each part's name and the sha256 of its bytes,
    in the given order (the tables as CSV, then the figure specifications as JSON).

    It depends on the data and the table definitions only, not on PDF, XLSX or PNG encoders.
    """
    digest = hashlib.sha256()
    for name, data in parts:
        digest.update(f"{name}\t{sha256_bytes(data)}\n".encode())
    return digest.hexdigest()
