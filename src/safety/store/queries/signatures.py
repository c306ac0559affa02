"""Electronic signatures (``signature``) and the records they sign.

A signed record's content is hashed when it is signed (:func:`record_content` gives the row,
``safety.store.audit.record_sha256`` hashes it); identifiers come only from
:data:`SIGNED_RECORDS`.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from safety.store.queries.database import one_row

# How a signature reads wherever the act is shown (21 CFR 11.50: name, date and time, meaning).
SIGNATURE_TEXT = (
    "g.signer_name || ' (' || g.signed_by || '), ' || strftime(g.signed_at, '%Y-%m-%d %H:%M') "
    "|| ' UTC: ' || g.meaning"
)

# Table -> (its id column, the columns a signature covers). An ingest batch's later
# supersession does not change what was signed, so only its delivery is covered.
SIGNED_RECORDS: dict[str, tuple[str, str]] = {
    "dlt_adjudication": ("adjudication_id", "*"),
    "alert": ("alert_id", "*"),
    "snapshot": ("snapshot_id", "*"),
    "ingest_batch": ("batch_id", "batch_id, study_id, file_name, sha256, domain, rows_in, "
                                 "rows_loaded, rows_quarantined, loaded_by, loaded_at"),
}


def next_signature_id(con: duckdb.DuckDBPyConnection) -> int:
    """Reserve the id of a new signature (the signed record refers to it)."""
    return int(one_row(con, "SELECT nextval('signature_id_seq')")[0])


def record_content(con: duckdb.DuckDBPyConnection, table: str, record_id: int) -> dict | None:
    """The signed columns of one record as a dict (None when the record is gone)."""
    id_column, columns = SIGNED_RECORDS[table]
    cursor = con.execute(f"SELECT {columns} FROM {table} WHERE {id_column} = $id",
                         {"id": int(record_id)})  # fmt: skip  (identifiers from SIGNED_RECORDS)
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    return dict(zip(names, rows[0], strict=True)) if rows else None


def record_signature(
    con: duckdb.DuckDBPyConnection,
    *,
    signature_id: int,
    study_id: str | None,
    signed_by: str,
    signer_name: str,
    signed_at: datetime,
    meaning: str,
    method: str,
    evidence: str,
    record_table: str,
    record_id: int,
    record_sha256: str,
    audit_id: int,
) -> int:
    """Store one signature of one record; returns its id."""
    if record_table not in SIGNED_RECORDS:
        raise ValueError(f"not a signed record: {record_table!r}")
    con.execute(
        """
        INSERT INTO signature VALUES ($signature_id, $study_id, $signed_by, $signer_name,
            $signed_at, $meaning, $method, $evidence, $record_table, $record_id, $record_sha256,
            $audit_id)""",
        {"signature_id": signature_id, "study_id": study_id, "signed_by": signed_by,
         "signer_name": signer_name, "signed_at": signed_at, "meaning": meaning,
         "method": method, "evidence": evidence, "record_table": record_table,
         "record_id": int(record_id), "record_sha256": record_sha256, "audit_id": int(audit_id)},
    )  # fmt: skip
    return signature_id


def all_signatures(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Every signature as (signature_id, record_table, record_id, record_sha256, audit_id,
    signer_name), in order."""
    return con.execute(
        """
        SELECT signature_id, record_table, record_id, record_sha256, audit_id, signer_name
        FROM signature ORDER BY signature_id"""
    ).fetchall()


def snapshot_signatures(con: duckdb.DuckDBPyConnection, study_id: str) -> pd.DataFrame:
    """Sign-offs of the study's DSMB reports, newest first.

    Columns: snapshot_id, signature (name, id, time and meaning as one text), signed_at.
    """
    return con.execute(
        f"""
        SELECT record_id AS snapshot_id, {SIGNATURE_TEXT} AS signature, signed_at
        FROM signature g
        WHERE record_table = 'snapshot' AND study_id = $study_id
        ORDER BY signed_at DESC, signature_id DESC""",
        {"study_id": study_id},
    ).df()
