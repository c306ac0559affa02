"""The database as a whole: schema version, data version, writing frames, the audit log.

Values always go in as parameters; table names only from :data:`LOADABLE_TABLES`, column names
only after checking them against the catalog. The audit log is appended to only by
:func:`record_audit`, which chains each entry to the one before (``schema.sql``, audit_log).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import duckdb
import pandas as pd

# Tables a frame may be appended to (insert_frame); identifiers come only from here.
LOADABLE_TABLES = frozenset({
    "ingest_batch", "study", "cohort", "rule_parameters", "subject", "exposure", "adverse_event", "lab",
    "vital_sign", "disposition", "supp_qualifier", "quarantine", "alert",
    "held_delivery", "sponsor_value",
})  # fmt: skip  (never audit_log, signature or dlt_adjudication: they have their own writers)
GENESIS_SHA256 = "0" * 64  # the previous hash of the first audit entry


def one_row(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> tuple | None:
    """The first row of a query; fetches all rows so the connection is free afterwards (duckdb 2)."""
    rows = con.execute(sql, params or {}).fetchall()
    return rows[0] if rows else None


def stamp_schema_version(con: duckdb.DuckDBPyConnection, version: int, at: datetime) -> None:
    """Record the schema version of a newly created database."""
    con.execute("INSERT INTO schema_version VALUES ($version, $at)", {"version": version, "at": at})


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The schema version stamped in the database (None when the table is empty)."""
    return one_row(con, "SELECT max(version) FROM schema_version")[0]


def data_version(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """A key that changes whenever data or decisions change: (last batch id, last audit id)."""
    row = one_row(
        con,
        "SELECT (SELECT coalesce(max(batch_id), 0) FROM ingest_batch),"
        "       (SELECT coalesce(max(audit_id), 0) FROM audit_log)",
    )
    return int(row[0]), int(row[1])


def last_change(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the data last changed: the latest loaded batch or audited decision (UTC)."""
    return one_row(
        con,
        "SELECT greatest((SELECT max(loaded_at) FROM ingest_batch WHERE status = 'loaded'),"
        "                (SELECT max(logged_at) FROM audit_log))",
    )[0]


def row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Current rows (superseded data cuts left out) in each clinical table, all studies."""
    row = one_row(
        con,
        """
        SELECT (SELECT count(*) FROM current_subject), (SELECT count(*) FROM current_exposure),
               (SELECT count(*) FROM current_adverse_event), (SELECT count(*) FROM current_lab),
               (SELECT count(*) FROM current_vital_sign)""",
    )
    return dict(
        zip(("subject", "exposure", "adverse_event", "lab", "vital_sign"), row, strict=True)
    )


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> int:
    """Append ``frame`` to ``table`` by column name; returns the number of rows inserted.

    Columns of the table missing from the frame take their defaults. ``table`` must be one of
    :data:`LOADABLE_TABLES`; column names are checked against the table's own columns.
    """
    if table not in LOADABLE_TABLES:
        raise ValueError(f"not a loadable table: {table!r}")
    known = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $t", {"t": table}
        ).fetchall()
    }
    unknown = [c for c in frame.columns if c not in known]
    if unknown:
        raise ValueError(f"{table} has no columns {unknown}")
    if frame.empty:
        return 0
    columns = ", ".join(f'"{c}"' for c in frame.columns)  # names checked against the catalog above
    con.register("_frame_to_insert", frame)
    try:
        con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _frame_to_insert")
    finally:
        con.unregister("_frame_to_insert")
    return len(frame)


def limit_memory(con: duckdb.DuckDBPyConnection, megabytes: int) -> None:
    """Cap DuckDB's buffers on this connection's database (beyond it, it spills to disk)."""
    con.execute(f"SET memory_limit = '{int(megabytes)}MB'")  # SET takes no parameters


def next_batch_id(con: duckdb.DuckDBPyConnection) -> int:
    """Reserve the id of a new ingest batch."""
    return int(one_row(con, "SELECT nextval('batch_id_seq')")[0])


def audit_entry_sha256(
    audit_id: int,
    logged_at: datetime,
    actor: str,
    action: str,
    study_id: str | None,
    usubjid: str | None,
    detail: str,
    previous_sha256: str,
) -> str:
    """The hash of an audit entry: SHA-256 of the JSON array of its fields and the previous
    entry's hash (``schema.sql``); anyone can recompute it from the table."""
    fields = [int(audit_id), logged_at.isoformat(timespec="microseconds"), actor, action,
              study_id, usubjid, detail, previous_sha256]  # fmt: skip
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_audit(
    con: duckdb.DuckDBPyConnection,
    *,
    actor: str,
    action: str,
    detail: str,
    at: datetime,
    study_id: str | None = None,
    usubjid: str | None = None,
) -> int:
    """Append one entry to the audit log, chained to the last one; returns its id.

    Inside the caller's transaction: the entry and the new head commit with the act or not at
    all, and two transactions appending at once conflict on the head instead of forking the
    chain.
    """
    at = pd.Timestamp(at).to_pydatetime()  # microseconds, as DuckDB's TIMESTAMP keeps them
    previous = one_row(con, "SELECT entry_sha256 FROM audit_head")[0]
    audit_id = int(one_row(con, "SELECT nextval('audit_id_seq')")[0])
    entry = audit_entry_sha256(audit_id, at, actor, action, study_id, usubjid, detail, previous)
    con.execute(
        """
        INSERT INTO audit_log (audit_id, logged_at, actor, action, study_id, usubjid, detail,
                               previous_sha256, entry_sha256)
        VALUES ($id, $at, $actor, $action, $study_id, $usubjid, $detail, $previous, $entry)""",
        {"id": audit_id, "at": at, "actor": actor, "action": action, "study_id": study_id,
         "usubjid": usubjid, "detail": detail, "previous": previous, "entry": entry},
    )  # fmt: skip
    con.execute("UPDATE audit_head SET audit_id = $id, entry_sha256 = $entry",
                {"id": audit_id, "entry": entry})  # fmt: skip
    return audit_id


def audit_trail(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Every audit entry in order, as tuples: audit_id, logged_at, actor, action, study_id,
    usubjid, detail, previous_sha256, entry_sha256."""
    return con.execute(
        """
        SELECT audit_id, logged_at, actor, action, study_id, usubjid, detail, previous_sha256,
               entry_sha256
        FROM audit_log ORDER BY audit_id"""
    ).fetchall()


def audit_head(con: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
    """(audit_id, entry_sha256) of the last entry appended (0 and 64 zeros before the first);
    None when the head row is missing."""
    return one_row(con, "SELECT audit_id, entry_sha256 FROM audit_head")


def audit_entries(
    con: duckdb.DuckDBPyConnection, study_id: str, action_prefix: str = ""
) -> pd.DataFrame:
    """The study's audit log, newest first; only actions starting with ``action_prefix``
    (``"dlt."`` for adjudications) when given.

    Columns: audit_id, logged_at, actor, action, usubjid, detail (JSON text).
    """
    return con.execute(
        """
        SELECT audit_id, logged_at, actor, action, usubjid, detail FROM audit_log
        WHERE study_id = $study_id AND starts_with(action, $prefix)
        ORDER BY audit_id DESC""",
        {"study_id": study_id, "prefix": action_prefix},
    ).df()


def audit_overview(con: duckdb.DuckDBPyConnection, limit: int = 500) -> pd.DataFrame:
    """The latest audit entries without their details (what the administrator sees).

    Columns: audit_id, logged_at, actor, action, study_id, entry_sha256.
    """
    return con.execute(
        """
        SELECT audit_id, logged_at, actor, action, study_id, entry_sha256 FROM audit_log
        ORDER BY audit_id DESC LIMIT $limit""",
        {"limit": int(limit)},
    ).df()

