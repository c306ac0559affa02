"""Deliveries: what a delivery would change (the safety picture before and after, records and
subjects removed), carrying a cut forward or restoring one, held deliveries, and the quarantined
rows that wait for their subject's DM.

Every batch of a domain holds the domain's whole cut (``schema.sql``, ``ingest_batch.delivery``):
an incremental delivery, a re-evaluation and a retraction copy the records they keep from the cut
they build on. Table names and key columns come only from ``ingest.CUT_TABLES``.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd

from safety.clinical.dlt import COUNTED_STATUSES
from safety.clinical.teae import AE_CATEGORIES
from safety.store.queries.database import insert_frame, one_row
from safety.store.queries.ingest import CUT_TABLES, value_columns

EVERY_DATE = date(9999, 12, 31)  # a cut-off that keeps every dated record in the comparison


def current_batches(con: duckdb.DuckDBPyConnection, study_id: str, domain: str) -> list[int]:
    """The batches that make the study's current cut of a domain (normally one)."""
    rows = con.execute(
        """
        SELECT batch_id FROM ingest_batch
        WHERE study_id = $s AND domain = $d AND status = 'loaded' AND superseded_by IS NULL
        ORDER BY batch_id""",
        {"s": study_id, "d": domain},
    ).fetchall()
    return [int(r[0]) for r in rows]


def safety_picture(con: duckdb.DuckDBPyConnection, study_id: str) -> dict[str, pd.DataFrame]:
    """What must not disappear unnoticed, as the study's current data stand (any date).

    - ``dlts``: DLT candidates and adjudicated DLTs that count (``dlt_event``,
      ``COUNTED_STATUSES``): source, usubjid, identity (an AE-based DLT is its AE record,
      ``AESEQ n``; a lab-based or added one its term, there is one per subject and term),
      term, onset_date, grade, dlt_rule, dlt_status;
    - ``saes``: serious AEs of the safety analysis set (``ae_teae``, the AE summary's "serious"
      category): usubjid, seq, pt, start_date, grade;
    - ``fatal``: fatal AEs (``ae_teae``'s "fatal" category: grade 5 or outcome fatal), same
      columns;
    - ``deaths``: subjects whose status is ``died`` (``refresh_subject_status``): usubjid,
      death_date.
    """
    params = {"s": study_id, "every": EVERY_DATE}
    dlts = con.execute(
        """
        SELECT source, usubjid,
               CASE WHEN source = 'adverse_event' THEN 'AESEQ ' || source_seq
                    ELSE lower(term) END AS identity,
               term, onset_date, grade, dlt_rule, dlt_status
        FROM dlt_event($s, $every) WHERE list_contains($counted, dlt_status)
        ORDER BY usubjid, onset_date, term""",
        {**params, "counted": list(COUNTED_STATUSES)},
    ).df()
    serious, fatal = AE_CATEGORIES["serious"][1], AE_CATEGORIES["fatal"][1]  # fixed fragments
    aes = con.execute(
        f"""
        SELECT usubjid, seq, pt, start_date, grade, coalesce({serious}, false) AS is_serious,
               coalesce({fatal}, false) AS is_fatal
        FROM ae_teae($s, $every) WHERE ({serious}) OR ({fatal})
        ORDER BY usubjid, start_date, pt, seq""",
        params,
    ).df()
    columns = ["usubjid", "seq", "pt", "start_date", "grade"]
    picture = {"dlts": dlts,
               "saes": aes.loc[aes["is_serious"].astype(bool), columns].reset_index(drop=True),
               "fatal": aes.loc[aes["is_fatal"].astype(bool), columns].reset_index(drop=True)}
    picture["deaths"] = con.execute(
        """
        SELECT usubjid, death_date FROM current_subject
        WHERE study_id = $s AND status = 'died' ORDER BY usubjid""",
        {"s": study_id},
    ).df()
    return picture


def _key_match(key: tuple[str, ...], new: str = "n", old: str = "o") -> str:
    return " AND ".join(f"{new}.{k} IS NOT DISTINCT FROM {old}.{k}" for k in key)


def cut_difference(
    con: duckdb.DuckDBPyConnection, study_id: str, domain: str, old: list[int], new: int,
    sample: int = 20,
) -> dict:
    """How batch ``new`` differs from the cut made of batches ``old``, record by record (a
    record is its key, e.g. USUBJID + AESEQ; changed = same key, another delivered value).

    Returns records (in the old cut), removed, changed, and removed_keys (the first ``sample``
    removed keys as a frame).
    """
    table, key = CUT_TABLES[domain]
    keys = ", ".join(key)
    values = ", ".join(value_columns(con, table))
    params = {"s": study_id, "old": old, "new": new}
    counts = one_row(
        con,
        f"""
        WITH o AS (SELECT {values} FROM {table} WHERE study_id = $s
                   AND list_contains($old, batch_id)),
             n AS (SELECT {values} FROM {table} WHERE study_id = $s AND batch_id = $new)
        SELECT (SELECT count(*) FROM o),
               (SELECT count(*) FROM o WHERE NOT EXISTS (SELECT 1 FROM n WHERE {_key_match(key)})),
               (SELECT count(*) FROM (SELECT * FROM n EXCEPT SELECT * FROM o) n
                WHERE EXISTS (SELECT 1 FROM o WHERE {_key_match(key)}))""",
        params,
    )
    removed_keys = con.execute(
        f"""
        SELECT {", ".join(f"o.{k}" for k in key)} FROM {table} o
        WHERE o.study_id = $s AND list_contains($old, o.batch_id)
          AND NOT EXISTS (SELECT 1 FROM {table} n WHERE n.study_id = $s AND n.batch_id = $new
                          AND {_key_match(key)})
        ORDER BY {keys} LIMIT {int(sample)}""",
        params,
    ).df()
    return {"records": int(counts[0]), "removed": int(counts[1]), "changed": int(counts[2]),
            "removed_keys": removed_keys}


def subjects_without_records(
    con: duckdb.DuckDBPyConnection, study_id: str, domain: str, old: list[int], new: int
) -> list[str]:
    """Subjects who have records in the old cut of a domain and none in batch ``new`` (for DM:
    the subjects the new DM no longer has)."""
    table, _ = CUT_TABLES[domain]
    rows = con.execute(
        f"""
        SELECT DISTINCT usubjid FROM {table}
        WHERE study_id = $s AND list_contains($old, batch_id)
        EXCEPT SELECT usubjid FROM {table} WHERE study_id = $s AND batch_id = $new
        ORDER BY usubjid""",
        {"s": study_id, "old": old, "new": new},
    ).fetchall()
    return [r[0] for r in rows]


def records_of_subjects(con: duckdb.DuckDBPyConnection, study_id: str, subjects: list[str]
                        ) -> dict[str, int]:
    """Records of the given subjects in the current cuts of every domain but DM (what a DM
    without them takes out of the current data), by domain; domains with none left out."""
    counts = {}
    for domain, (table, _) in CUT_TABLES.items():
        if domain == "DM":
            continue
        n = one_row(
            con,
            f"""
            SELECT count(*) FROM {table} WHERE study_id = $s AND list_contains($u, usubjid)
              AND batch_id IN (SELECT batch_id FROM ingest_batch WHERE study_id = $s
                               AND status = 'loaded' AND superseded_by IS NULL)""",
            {"s": study_id, "u": subjects},
        )[0]
        if n:
            counts[domain] = int(n)
    return counts


def carry_forward(
    con: duckdb.DuckDBPyConnection, study_id: str, domain: str, old: list[int], new: int
) -> int:
    """Copy into batch ``new`` the records of the old cut whose key ``new`` does not deliver
    (an incremental delivery: adds and updates by key). Returns the rows copied."""
    table, key = CUT_TABLES[domain]
    row = one_row(
        con,
        f"""
        INSERT INTO {table} SELECT * REPLACE (CAST($new AS INTEGER) AS batch_id) FROM {table} o
        WHERE o.study_id = $s AND list_contains($old, o.batch_id)
          AND NOT EXISTS (SELECT 1 FROM {table} n WHERE n.study_id = $s AND n.batch_id = $new
                          AND {_key_match(key)})""",
        {"s": study_id, "old": old, "new": new},
    )
    return int(row[0]) if row else 0


def copy_cut(
    con: duckdb.DuckDBPyConnection, study_id: str, domain: str, old: list[int], new: int
) -> int:
    """Copy every record of the cut ``old`` into batch ``new`` (a retraction restores it)."""
    table, _ = CUT_TABLES[domain]
    row = one_row(
        con,
        f"""
        INSERT INTO {table} SELECT * REPLACE (CAST($new AS INTEGER) AS batch_id) FROM {table}
        WHERE study_id = $s AND list_contains($old, batch_id)""",
        {"s": study_id, "old": old, "new": new},
    )
    return int(row[0]) if row else 0


def batch(con: duckdb.DuckDBPyConnection, batch_id: int) -> dict | None:
    """One ledger row as a dict (None when there is no such batch)."""
    frame = con.execute("SELECT * FROM ingest_batch WHERE batch_id = $b", {"b": batch_id}).df()
    return None if frame.empty else frame.iloc[0].to_dict()


def superseded_by_batch(con: duckdb.DuckDBPyConnection, batch_id: int) -> list[int]:
    """The batches ``batch_id`` superseded: the cut before it."""
    rows = con.execute(
        "SELECT batch_id FROM ingest_batch WHERE superseded_by = $b ORDER BY batch_id",
        {"b": batch_id},
    ).fetchall()
    return [int(r[0]) for r in rows]


def supersede(con: duckdb.DuckDBPyConnection, batches: list[int], by: int) -> None:
    """Mark ``batches`` as replaced by batch ``by``."""
    con.execute(
        "UPDATE ingest_batch SET superseded_by = $by WHERE list_contains($b, batch_id)",
        {"b": batches, "by": by},
    )


# --- held deliveries -----------------------------------------------------------------------------

HOLD_COLUMNS = """hold_id, study_id, file_name, sha256, domain, delivery, rows_in, rows_loaded,
    rows_quarantined, reason, comparison, held_by, held_at, status, decided_by, decided_at,
    decision_reason, batch_id"""


def record_hold(con: duckdb.DuckDBPyConnection, hold: dict) -> int:
    """Store a held delivery (columns of ``held_delivery`` without hold_id); returns its id."""
    hold_id = int(one_row(con, "SELECT nextval('hold_id_seq')")[0])
    insert_frame(con, "held_delivery", pd.DataFrame([{**hold, "hold_id": hold_id}]))
    return hold_id


def pending_hold_with_hash(
    con: duckdb.DuckDBPyConnection, study_id: str, sha256: str
) -> int | None:
    """The pending hold of this study with this content, if any."""
    row = one_row(
        con,
        """
        SELECT hold_id FROM held_delivery
        WHERE study_id = $s AND sha256 = $sha AND status = 'pending' ORDER BY hold_id LIMIT 1""",
        {"s": study_id, "sha": sha256},
    )
    return int(row[0]) if row else None


def hold(con: duckdb.DuckDBPyConnection, hold_id: int, content: bool = False) -> dict | None:
    """One held delivery as a dict (with ``content``, the file's bytes, when asked)."""
    extra = ", content" if content else ""
    frame = con.execute(
        f"SELECT {HOLD_COLUMNS}{extra} FROM held_delivery WHERE hold_id = $h", {"h": hold_id}
    ).df()
    return None if frame.empty else frame.iloc[0].to_dict()


def holds(
    con: duckdb.DuckDBPyConnection, study_id: str | None = None, pending_only: bool = False
) -> pd.DataFrame:
    """Held deliveries, pending first, newest first. Columns: :data:`HOLD_COLUMNS`."""
    return con.execute(
        f"""
        SELECT {HOLD_COLUMNS} FROM held_delivery
        WHERE ($s IS NULL OR study_id = $s) AND (NOT $pending OR status = 'pending')
        ORDER BY status <> 'pending', hold_id DESC""",
        {"s": study_id, "pending": pending_only},
    ).df()


def decide_hold(
    con: duckdb.DuckDBPyConnection, hold_id: int, *, status: str, actor: str, at: datetime,
    reason: str, batch_id: int | None = None,
) -> None:
    """Record a data manager's decision on a pending hold (confirmed, rejected, superseded)."""
    con.execute(
        """
        UPDATE held_delivery SET status = $status, decided_by = $actor, decided_at = $at,
               decision_reason = $reason, batch_id = $b
        WHERE hold_id = $h AND status = 'pending'""",
        {"h": hold_id, "status": status, "actor": actor, "at": at, "reason": reason,
         "b": batch_id},
    )


def update_hold_comparison(
    con: duckdb.DuckDBPyConnection, hold_id: int, *, reason: str, comparison: str,
    rows_loaded: int, rows_quarantined: int,
) -> None:
    """A pending hold compared again (the current data changed since it was held)."""
    con.execute(
        """
        UPDATE held_delivery SET reason = $reason, comparison = $comparison,
               rows_loaded = $loaded, rows_quarantined = $quarantined
        WHERE hold_id = $h AND status = 'pending'""",
        {"h": hold_id, "reason": reason, "comparison": comparison, "loaded": rows_loaded,
         "quarantined": rows_quarantined},
    )


def pending_holds_of_domain(
    con: duckdb.DuckDBPyConnection, study_id: str, domain: str
) -> list[int]:
    """Pending holds of a study and domain (a later delivery of the domain supersedes them)."""
    rows = con.execute(
        """
        SELECT hold_id FROM held_delivery
        WHERE study_id = $s AND domain = $d AND status = 'pending' ORDER BY hold_id""",
        {"s": study_id, "d": domain},
    ).fetchall()
    return [int(r[0]) for r in rows]


# --- quarantined rows waiting for their subject's DM --------------------------------------------

def batches_waiting_for_dm(con: duckdb.DuckDBPyConnection, study_id: str) -> pd.DataFrame:
    """Batches with open quarantined rows that failed ``not_in_dm`` and whose subject is now in
    the current DM: the newest per domain that is its domain's current cut, or a rejected
    delivery newer than the current cut (a file whose every row waited for DM).

    Columns: batch_id, domain, status, file_name.
    """
    return con.execute(
        """
        WITH cut AS (
            SELECT domain, max(batch_id) AS current FROM ingest_batch
            WHERE study_id = $s AND status = 'loaded' AND superseded_by IS NULL GROUP BY domain
        ), waiting AS (
            SELECT DISTINCT q.batch_id, q.domain, b.status, b.file_name
            FROM quarantine q
            JOIN ingest_batch b USING (batch_id)
            LEFT JOIN cut c ON c.domain = q.domain
            WHERE q.study_id = $s AND q.reevaluated_in IS NULL
              AND list_contains(q.rules, 'not_in_dm')
              AND ((b.status = 'loaded' AND b.superseded_by IS NULL)
                   OR (b.status = 'rejected' AND b.batch_id > coalesce(c.current, 0)))
              AND trim(json_extract_string(q.raw_record, '$.USUBJID')) IN (
                  SELECT usubjid FROM current_subject WHERE study_id = $s)
        )
        SELECT * FROM waiting
        QUALIFY row_number() OVER (PARTITION BY domain ORDER BY batch_id DESC) = 1
        ORDER BY domain""",
        {"s": study_id},
    ).df()


def open_quarantine(
    con: duckdb.DuckDBPyConnection, batch_id: int, rule: str | None = None
) -> pd.DataFrame:
    """Open quarantined rows of a batch (only those that failed ``rule``, when given).

    Columns: quarantine_id, row_number, raw_record.
    """
    return con.execute(
        """
        SELECT quarantine_id, row_number, raw_record FROM quarantine
        WHERE batch_id = $b AND reevaluated_in IS NULL
          AND ($rule IS NULL OR list_contains(rules, $rule))
        ORDER BY row_number""",
        {"b": batch_id, "rule": rule},
    ).df()


def mark_reevaluated(con: duckdb.DuckDBPyConnection, quarantine_ids: list[int], batch_id: int
                     ) -> None:
    """Close quarantined rows: they were evaluated again in ``batch_id``."""
    con.execute(
        "UPDATE quarantine SET reevaluated_in = $b WHERE list_contains($ids, quarantine_id)",
        {"ids": [int(i) for i in quarantine_ids], "b": batch_id},
    )
