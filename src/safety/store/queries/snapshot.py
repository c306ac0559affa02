"""Frozen data cuts for DSMB reports (``safety.report.snapshot``).

A report reads a frozen copy of one study: the rows of the ingest batches up to a freeze point
(the last batch and the last adjudication present when the first report of that cut-off was
made), copied into an in-memory database with the same schema, so every query runs on it
unchanged. Identifiers come only from FROZEN_TABLES.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd

from safety.store.queries.database import one_row

# Clinical tables copied batch by batch (rows of batches up to the freeze point).
FROZEN_TABLES: tuple[str, ...] = (
    "subject", "exposure", "adverse_event", "lab", "vital_sign", "disposition", "supp_qualifier",
)  # fmt: skip


def freeze_state(con: duckdb.DuckDBPyConnection, study_id: str) -> dict:
    """The study's data as they stand now, as a freeze point.

    Keys: batch_id (last loaded batch), loaded_at (when it was loaded), adjudication_id (last
    DLT adjudication, 0 when none), decided_at (when it was recorded). Missing values are None.
    """
    row = one_row(
        con,
        """
        SELECT (SELECT max(batch_id) FROM ingest_batch WHERE study_id = $s AND status = 'loaded'),
               (SELECT max(loaded_at) FROM ingest_batch WHERE study_id = $s AND status = 'loaded'),
               (SELECT coalesce(max(adjudication_id), 0) FROM dlt_adjudication
                WHERE study_id = $s),
               (SELECT max(decided_at) FROM dlt_adjudication WHERE study_id = $s)""",
        {"s": study_id},
    )
    return dict(zip(("batch_id", "loaded_at", "adjudication_id", "decided_at"), row, strict=True))


def frozen_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    study_id: str,
    batch_id: int,
    adjudication_id: int,
):
    """One table's rows of the study as of a freeze point, as a ``pyarrow.Table``.

    ``table`` is one of FROZEN_TABLES (rows of batches up to ``batch_id``), ``ingest_batch``
    (batches up to ``batch_id``; a supersession by a later batch is undone), ``study`` and
    ``cohort`` and ``rule_parameters`` (the configuration as stored), ``dlt_adjudication`` (up to
    ``adjudication_id``) or ``signature`` (those adjudications' signatures).
    """
    params = {"s": study_id, "b": int(batch_id), "a": int(adjudication_id)}
    if table in FROZEN_TABLES:
        sql = f"SELECT * FROM {table} WHERE study_id = $s AND batch_id <= $b"
    elif table == "ingest_batch":
        sql = """SELECT * REPLACE (CASE WHEN superseded_by <= $b THEN superseded_by END
                                   AS superseded_by)
                 FROM ingest_batch WHERE study_id = $s AND batch_id <= $b"""
    elif table in ("study", "cohort", "rule_parameters"):
        sql = f"SELECT * FROM {table} WHERE study_id = $s"
    elif table == "dlt_adjudication":
        sql = "SELECT * FROM dlt_adjudication WHERE study_id = $s AND adjudication_id <= $a"
    elif table == "signature":  # the adjudicators' signatures, shown in the DLT listing
        sql = """SELECT * FROM signature WHERE study_id = $s AND record_table = 'dlt_adjudication'
                 AND record_id <= $a"""
    else:
        raise ValueError(f"not a table a snapshot copies: {table!r}")
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    return con.sql(sql, params=used).to_arrow_table()  # con.execute(...) would copy the rows


def load_frozen_rows(con: duckdb.DuckDBPyConnection, table: str, rows) -> None:
    """Append ``frozen_rows`` output to the same table of a frozen (in-memory) database."""
    if table not in (*FROZEN_TABLES, "ingest_batch", "study", "cohort", "rule_parameters",
                     "dlt_adjudication", "signature"):
        raise ValueError(f"not a table a snapshot copies: {table!r}")
    con.register("_frozen_rows", rows)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _frozen_rows")
    finally:
        con.unregister("_frozen_rows")


def first_snapshot_manifest(
    con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date
) -> str | None:
    """The manifest (JSON text) of the first snapshot taken of this study at this cut-off."""
    row = one_row(
        con,
        """
        SELECT manifest FROM snapshot WHERE study_id = $s AND cutoff = $c
        ORDER BY snapshot_id LIMIT 1""",
        {"s": study_id, "c": cutoff},
    )
    return row[0] if row else None


def record_snapshot(
    con: duckdb.DuckDBPyConnection,
    *,
    study_id: str,
    cutoff: date,
    kind: str,
    created_at: datetime,
    created_by: str,
    content_sha256: str,
    config_sha256: str,
    software_version: str,
    manifest: str,
) -> int:
    """Store a frozen data cut (one row of ``snapshot``); returns its snapshot_id."""
    return int(
        one_row(
            con,
            """
            INSERT INTO snapshot (study_id, cutoff, kind, created_at, created_by, content_sha256,
                                  config_sha256, software_version, manifest)
            VALUES ($study_id, $cutoff, $kind, $created_at, $created_by, $content_sha256,
                    $config_sha256, $software_version, $manifest)
            RETURNING snapshot_id""",
            {
                "study_id": study_id,
                "cutoff": cutoff,
                "kind": kind,
                "created_at": created_at,
                "created_by": created_by,
                "content_sha256": content_sha256,
                "config_sha256": config_sha256,
                "software_version": software_version,
                "manifest": manifest,
            },
        )[0]
    )


def study_snapshots(con: duckdb.DuckDBPyConnection, study_id: str) -> pd.DataFrame:
    """Every snapshot (DSMB report) taken of a study, newest first.

    Columns: snapshot_id, cutoff, kind, created_at, created_by, content_sha256, config_sha256,
    software_version.
    """
    return con.execute(
        """
        SELECT snapshot_id, cutoff, kind, created_at, created_by, content_sha256, config_sha256,
               software_version
        FROM snapshot WHERE study_id = $s ORDER BY snapshot_id DESC""",
        {"s": study_id},
    ).df()



def snapshot_manifests(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    """(snapshot_id, manifest JSON text) of every snapshot of every study, in order."""
    return con.execute("SELECT snapshot_id, manifest FROM snapshot ORDER BY snapshot_id").fetchall()


def snapshot_summary(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> tuple | None:
    """(study_id, kind, cutoff) of one snapshot, None when there is none."""
    return one_row(
        con, "SELECT study_id, kind, cutoff FROM snapshot WHERE snapshot_id = $id",
        {"id": int(snapshot_id)},
    )
