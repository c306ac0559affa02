"""What ingest asks and writes besides the rows themselves: duplicates, supersession, derived
subject status, the data cut-off, the ledger, the quarantine and the comparison of two cuts.

Data cuts: every delivered file is a batch; a later delivery of the same study and domain
supersedes the earlier one (ingest_batch.superseded_by). Superseded rows stay in their tables,
so an earlier cut is reachable by its batch_id. Readers use the current_* views of schema.sql.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from safety.store.queries.database import one_row
from safety.store.queries.signatures import SIGNATURE_TEXT

# Domain -> (table, key columns) for comparing two cuts; identifiers come only from here.
CUT_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "DM": ("subject", ("usubjid",)),
    "DS": ("disposition", ("usubjid", "seq")),
    "EX": ("exposure", ("usubjid", "seq")),
    "AE": ("adverse_event", ("usubjid", "seq")),
    "SUPPAE": ("supp_qualifier", ("usubjid", "idvar", "idvarval", "qnam")),
    "LB": ("lab", ("usubjid", "seq")),
    "VS": ("vital_sign", ("usubjid", "seq")),
}


# Columns that differ between cuts without the record changing.
_CUT_IGNORED = ("batch_id", "status", "status_reason")


def loaded_batch_with_hash(
    con: duckdb.DuckDBPyConnection, study_id: str, sha256: str
) -> tuple[int, int | None, int] | None:
    """(batch_id, superseded_by, open rows waiting for DM) of the latest loaded batch of this
    study with this content, or None. Rows quarantined as ``not_in_dm`` and not yet evaluated
    again make a re-sent file worth loading again: its subjects may be in DM now."""
    return one_row(
        con,
        """
        SELECT batch_id, superseded_by,
               (SELECT count(*) FROM quarantine q WHERE q.batch_id = b.batch_id
                AND q.reevaluated_in IS NULL AND list_contains(q.rules, 'not_in_dm'))
        FROM ingest_batch b
        WHERE study_id = $study_id AND sha256 = $sha256 AND status = 'loaded'
          AND delivery IN ('cumulative', 'incremental')
        ORDER BY batch_id DESC LIMIT 1""",
        {"study_id": study_id, "sha256": sha256},
    )


def known_study_id(con: duckdb.DuckDBPyConnection, study_id: str) -> str | None:
    """The study's id as recorded, matched without regard to case (STUDYID 'cdiscpilot01')."""
    row = one_row(
        con,
        "SELECT study_id FROM study WHERE upper(study_id) = upper($s) ORDER BY study_id LIMIT 1",
        {"s": study_id},
    )
    return row[0] if row else None


def current_subjects(con: duckdb.DuckDBPyConnection, study_id: str) -> pd.DataFrame:
    """The study's current DM subjects. Columns: usubjid, first_dose_date."""
    return con.execute(
        """
        SELECT usubjid, first_dose_date FROM current_subject
        WHERE study_id = $study_id ORDER BY usubjid""",
        {"study_id": study_id},
    ).df()


def subjects_fingerprint(con: duckdb.DuckDBPyConnection, study_id: str) -> tuple:
    """A key that changes when the study's current DM changes: (subjects, latest DM batch)."""
    return tuple(
        one_row(
            con,
            """
        SELECT count(*), coalesce(max(batch_id), 0) FROM current_subject
        WHERE study_id = $study_id""",
            {"study_id": study_id},
        )
    )


def supersede_batches(
    con: duckdb.DuckDBPyConnection, study_id: str, domain: str, batch_id: int
) -> list[int]:
    """Mark the study's current deliveries of ``domain`` as replaced by ``batch_id``."""
    rows = con.execute(
        """
        UPDATE ingest_batch SET superseded_by = $batch_id
        WHERE study_id = $study_id AND domain = $domain AND status = 'loaded'
          AND superseded_by IS NULL AND batch_id <> $batch_id
        RETURNING batch_id""",
        {"study_id": study_id, "domain": domain, "batch_id": batch_id},
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


def has_labs(con: duckdb.DuckDBPyConnection, study_id: str) -> bool:
    """Whether the study has lab rows or stored lab grades (else there is nothing to grade)."""
    return bool(one_row(
        con,
        "SELECT EXISTS (SELECT 1 FROM lab WHERE study_id = $s) "
        "OR EXISTS (SELECT 1 FROM lab_graded WHERE study_id = $s)",
        {"s": study_id},
    )[0])


def mark_loaded(con: duckdb.DuckDBPyConnection, batch_id: int) -> None:
    """A batch written as not yet current becomes a loaded, current batch."""
    con.execute("UPDATE ingest_batch SET status = 'loaded' WHERE batch_id = $b", {"b": batch_id})


def record_carried(
    con: duckdb.DuckDBPyConnection, batch_id: int, rows_carried: int, based_on: int | None
) -> None:
    """Record on a batch how many records it carried forward from the cut ``based_on``."""
    con.execute(
        "UPDATE ingest_batch SET rows_carried = $n, based_on = $based WHERE batch_id = $b",
        {"n": rows_carried, "based": based_on, "b": batch_id},
    )


def refresh_subject_status(con: duckdb.DuckDBPyConnection, study_id: str) -> None:
    """Derive every current subject's status from DM and the current DS disposition events.

    In order: died (DTHFL = Y, a death date, or a DEATH disposition); screen failure (never
    dosed and ARMCD SCRNFAIL/NOTASSGN or a SCREEN FAILURE disposition); completed (last
    disposition event COMPLETED); withdrawn (any other last disposition event, whose DSDECOD
    becomes status_reason); screening (never dosed); completed (no DS, but an end of
    participation RFPENDTC); else on study.
    """
    con.execute(
        """
        WITH ds AS (
            SELECT usubjid,
                   arg_max(decod, date_diff('day', DATE '0001-01-01',
                           coalesce(start_date, DATE '0001-01-01')) * 100000 + seq) AS last,
                   bool_or(decod = 'DEATH') AS death
            FROM current_disposition
            WHERE study_id = $study_id AND coalesce(category, 'DISPOSITION EVENT')
                  = 'DISPOSITION EVENT'
            GROUP BY usubjid
        ), derived AS (
            SELECT u.usubjid, CASE
                WHEN coalesce(u.death_flag, false) OR u.death_date IS NOT NULL
                     OR coalesce(ds.death, false) THEN 'died'
                WHEN u.first_dose_date IS NULL AND (upper(u.arm_code) IN ('SCRNFAIL', 'NOTASSGN')
                     OR ds.last = 'SCREEN FAILURE') THEN 'screen failure'
                WHEN ds.last = 'COMPLETED' THEN 'completed'
                WHEN ds.last IS NOT NULL AND ds.last <> 'SCREEN FAILURE' THEN 'withdrawn'
                WHEN u.first_dose_date IS NULL THEN 'screening'
                WHEN u.end_of_study_date IS NOT NULL THEN 'completed'
                ELSE 'on study' END AS status,
                ds.last AS last_disposition
            FROM current_subject u LEFT JOIN ds USING (usubjid)
            WHERE u.study_id = $study_id
        )
        UPDATE subject AS s
        SET status = d.status,
            status_reason = CASE WHEN d.status = 'withdrawn' THEN d.last_disposition END
        FROM derived d
        WHERE s.study_id = $study_id AND s.usubjid = d.usubjid
          AND s.batch_id NOT IN (SELECT batch_id FROM superseded_batch)
        """,
        {"study_id": study_id},
    )


def refresh_removed_subjects(con: duckdb.DuckDBPyConnection, study_id: str) -> list[str]:
    """Recompute which subjects have records in current cuts of other domains but are not in the
    current DM (``removed_subject``: their records stop being current). Returns them."""
    con.execute("DELETE FROM removed_subject WHERE study_id = $s", {"s": study_id})
    rows = con.execute(
        """
        INSERT INTO removed_subject
        SELECT DISTINCT r.study_id, r.usubjid,
               (SELECT coalesce(max(batch_id), 0) FROM ingest_batch WHERE study_id = $s
                AND domain = 'DM' AND status = 'loaded' AND superseded_by IS NULL)
        FROM (SELECT study_id, usubjid, batch_id FROM exposure WHERE study_id = $s
              UNION ALL SELECT study_id, usubjid, batch_id FROM adverse_event WHERE study_id = $s
              UNION ALL SELECT study_id, usubjid, batch_id FROM lab WHERE study_id = $s
              UNION ALL SELECT study_id, usubjid, batch_id FROM vital_sign WHERE study_id = $s
              UNION ALL SELECT study_id, usubjid, batch_id FROM disposition WHERE study_id = $s
              UNION ALL SELECT study_id, usubjid, batch_id FROM supp_qualifier
                        WHERE study_id = $s) r
        WHERE r.batch_id NOT IN (SELECT batch_id FROM superseded_batch)
          AND r.usubjid NOT IN (SELECT usubjid FROM current_subject WHERE study_id = $s)
        RETURNING usubjid""",
        {"s": study_id},
    ).fetchall()
    return sorted(r[0] for r in rows)


def refresh_data_cutoff(con: duckdb.DuckDBPyConnection, study_id: str) -> None:
    """Set the study's data cut-off to the last day its current data cover, never later than the
    day of its latest delivery (implausible dates are quarantined on ingest, so a 9999-12-31
    cannot get here; the cap keeps a date a day ahead, within the tolerance, from moving it)."""
    con.execute(
        """
        UPDATE study SET data_cutoff = least((SELECT CAST(max(loaded_at) AS DATE)
                                              FROM ingest_batch
                                              WHERE study_id = $s AND status = 'loaded'),
                                             (SELECT max(d) FROM (
            SELECT max(greatest(start_date, end_date)) AS d FROM current_adverse_event
                WHERE study_id = $s
            UNION ALL SELECT max(collected_date) FROM current_lab WHERE study_id = $s
            UNION ALL SELECT max(collected_date) FROM current_vital_sign WHERE study_id = $s
            UNION ALL SELECT max(greatest(start_date, end_date)) FROM current_exposure
                WHERE study_id = $s
            UNION ALL SELECT max(start_date) FROM current_disposition WHERE study_id = $s
            UNION ALL SELECT max(greatest(first_dose_date, last_dose_date, end_of_study_date))
                FROM current_subject WHERE study_id = $s)))
        WHERE study_id = $s""",
        {"s": study_id},
    )


def batch_ledger(con: duckdb.DuckDBPyConnection, study_id: str | None = None) -> pd.DataFrame:
    """Every recorded delivery, newest first (the Data page's ledger).

    Columns: batch_id, study_id, file_name, domain, delivery, sha256, rows_in, rows_loaded,
    rows_quarantined, rows_carried, based_on, status, reason, loaded_by, loaded_at,
    superseded_by, retracted_by (the retraction that took it back), hold_id, current (bool),
    signature (of a confirmed hold or a retraction: signer, time and meaning).
    """
    return con.execute(
        f"""
        SELECT b.batch_id, b.study_id, b.file_name, b.domain, b.delivery, b.sha256, b.rows_in,
               b.rows_loaded, b.rows_quarantined, b.rows_carried, b.based_on, b.status,
               b.reason, b.loaded_by, b.loaded_at, b.superseded_by, r.batch_id AS retracted_by,
               b.hold_id, (b.status = 'loaded' AND b.superseded_by IS NULL) AS current,
               {SIGNATURE_TEXT} AS signature
        FROM ingest_batch b
        LEFT JOIN ingest_batch r ON r.retracts = b.batch_id AND r.delivery = 'retraction'
        LEFT JOIN signature g ON g.record_table = 'ingest_batch' AND g.record_id = b.batch_id
        WHERE $study_id IS NULL OR b.study_id = $study_id
        ORDER BY b.batch_id DESC""",  # fmt: skip  (SIGNATURE_TEXT: a fixed SQL expression)
        {"study_id": study_id},
    ).df()


def quarantined_rows(
    con: duckdb.DuckDBPyConnection,
    study_id: str | None = None,
    batch_id: int | None = None,
    rule: str | None = None,
    reason_contains: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Quarantined rows with their raw record and reason, filtered as asked.

    Columns: quarantine_id, batch_id, file_name, study_id, domain, row_number, rule, reason,
    reevaluated_in (the batch that evaluated the row again, where it loaded or was quarantined
    again; NULL while open), previous_id (the earlier quarantine of the same row), raw_record
    (JSON text of the row as delivered).
    """
    return con.execute(
        """
        SELECT q.quarantine_id, q.batch_id, b.file_name, q.study_id, q.domain, q.row_number,
               q.rule, q.reason, q.reevaluated_in, q.previous_id, q.raw_record
        FROM quarantine q JOIN ingest_batch b USING (batch_id)
        WHERE ($study_id IS NULL OR q.study_id = $study_id)
          AND ($batch_id IS NULL OR q.batch_id = $batch_id)
          AND ($rule IS NULL OR q.rule = $rule)
          AND ($reason IS NULL OR contains(lower(q.reason), lower($reason)))
        ORDER BY q.batch_id DESC, q.row_number
        LIMIT coalesce($limit, 9223372036854775807)""",
        {
            "study_id": study_id,
            "batch_id": batch_id,
            "rule": rule,
            "reason": reason_contains,
            "limit": limit,
        },
    ).df()


def quarantine_summary(con: duckdb.DuckDBPyConnection, study_id: str | None = None) -> pd.DataFrame:
    """Quarantined rows per study, domain and rule. Columns: study_id, domain, rule, rows."""
    return con.execute(
        """
        SELECT study_id, domain, rule, count(*) AS rows FROM quarantine
        WHERE $study_id IS NULL OR study_id = $study_id
        GROUP BY ALL ORDER BY study_id, domain, rows DESC""",
        {"study_id": study_id},
    ).df()


def counts_by_domain(con: duckdb.DuckDBPyConnection, study_id: str | None = None) -> pd.DataFrame:
    """Current rows and subjects per study and domain, with the delivery they come from.

    Columns: study_id, domain, rows, subjects, batch_id (latest current batch), loaded_at.
    """
    return con.execute(
        """
        WITH counts AS (
            SELECT study_id, 'DM' AS domain, count(*) AS rows, count(DISTINCT usubjid) AS subjects
                FROM current_subject GROUP BY study_id
            UNION ALL SELECT study_id, 'DS', count(*), count(DISTINCT usubjid)
                FROM current_disposition GROUP BY study_id
            UNION ALL SELECT study_id, 'EX', count(*), count(DISTINCT usubjid)
                FROM current_exposure GROUP BY study_id
            UNION ALL SELECT study_id, 'AE', count(*), count(DISTINCT usubjid)
                FROM current_adverse_event GROUP BY study_id
            UNION ALL SELECT study_id, 'SUPP' || rdomain, count(*), count(DISTINCT usubjid)
                FROM current_supp_qualifier GROUP BY study_id, rdomain
            UNION ALL SELECT study_id, 'LB', count(*), count(DISTINCT usubjid)
                FROM current_lab GROUP BY study_id
            UNION ALL SELECT study_id, 'VS', count(*), count(DISTINCT usubjid)
                FROM current_vital_sign GROUP BY study_id
        ), latest AS (
            SELECT study_id, domain, max(batch_id) AS batch_id, max(loaded_at) AS loaded_at
            FROM ingest_batch WHERE status = 'loaded' AND superseded_by IS NULL
            GROUP BY study_id, domain
        )
        SELECT c.study_id, c.domain, c.rows, c.subjects, l.batch_id, l.loaded_at
        FROM counts c LEFT JOIN latest l USING (study_id, domain)
        WHERE $study_id IS NULL OR c.study_id = $study_id
        ORDER BY c.study_id, c.domain""",
        {"study_id": study_id},
    ).df()


def latest_cuts(
    con: duckdb.DuckDBPyConnection, study_id: str, domain: str
) -> tuple[int | None, int | None]:
    """(previous, current) batch ids of the two latest loaded deliveries of a domain."""
    rows = con.execute(
        """
        SELECT batch_id FROM ingest_batch
        WHERE study_id = $s AND domain = $d AND status = 'loaded'
        ORDER BY batch_id DESC LIMIT 2""",
        {"s": study_id, "d": domain},
    ).fetchall()
    ids = [int(r[0]) for r in rows]
    return (ids[1] if len(ids) > 1 else None), (ids[0] if ids else None)


def cut_changes(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    domain: str,
    old_batch: int | None = None,
    new_batch: int | None = None,
) -> pd.DataFrame:
    """Records added, removed or changed between two cuts of a domain (default: the two latest).

    A record is identified by its key (AE: usubjid + seq, DM: usubjid, ...); "changed" means
    any delivered value differs. With a single cut, every record is "added".
    Columns: change ('added' | 'removed' | 'changed'), the key columns, old_batch, new_batch.
    """
    if new_batch is None:
        old_batch, new_batch = latest_cuts(con, study_id, domain)
    sql, key = _cut_changes_sql(con, domain)
    return con.execute(f"{sql} ORDER BY {', '.join(key)}",
                       {"old": old_batch, "new": new_batch, "s": study_id}).df()


def _cut_changes_sql(con: duckdb.DuckDBPyConnection, domain: str) -> tuple[str, tuple[str, ...]]:
    """The query of :func:`cut_changes` (parameters $old, $new, $s) and the domain's key."""
    if domain not in CUT_TABLES:
        raise ValueError(f"no cut comparison for domain {domain!r}")
    table, key = CUT_TABLES[domain]
    values = ", ".join(value_columns(con, table))  # identifiers from the catalog, never input
    on = " AND ".join(f"n.{k} IS NOT DISTINCT FROM o.{k}" for k in key)
    return f"""
        WITH o AS (SELECT {values} FROM {table} WHERE batch_id = $old AND study_id = $s),
             n AS (SELECT {values} FROM {table} WHERE batch_id = $new AND study_id = $s),
             o_only AS (SELECT * FROM o EXCEPT SELECT * FROM n),
             n_only AS (SELECT * FROM n EXCEPT SELECT * FROM o)
        SELECT CASE WHEN o.{key[0]} IS NULL THEN 'added' WHEN n.{key[0]} IS NULL THEN 'removed'
                    ELSE 'changed' END AS change,
               {", ".join(f"coalesce(n.{k}, o.{k}) AS {k}" for k in key)},
               $old AS old_batch, $new AS new_batch
        FROM n_only n FULL OUTER JOIN o_only o ON {on}""", key


def value_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The columns of a clinical table that make a record's delivered values (from the catalog;
    the batch and the derived subject status left out)."""
    return [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $t "
            "ORDER BY ordinal_position",
            {"t": table},
        ).fetchall()
        if r[0] not in _CUT_IGNORED
    ]


def cut_change_summary(con: duckdb.DuckDBPyConnection, study_id: str) -> pd.DataFrame:
    """Per domain of a study: what changed between its two latest cuts.

    Columns: domain, old_batch, new_batch, added, removed, changed.
    """
    domains = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT domain FROM ingest_batch WHERE study_id = $s AND status = 'loaded' "
            "ORDER BY domain",
            {"s": study_id},
        ).fetchall()
        if r[0] in CUT_TABLES
    ]
    rows = []
    for domain in domains:
        old, new = latest_cuts(con, study_id, domain)
        sql, _ = _cut_changes_sql(con, domain)
        counts = dict(con.execute(f"SELECT change, count(*) FROM ({sql}) GROUP BY change",
                                  {"old": old, "new": new, "s": study_id}).fetchall())
        rows.append(
            {
                "domain": domain,
                "old_batch": old,
                "new_batch": new,
                **{c: int(counts.get(c, 0)) for c in ("added", "removed", "changed")},
            }
        )
    return pd.DataFrame(
        rows, columns=["domain", "old_batch", "new_batch", "added", "removed", "changed"]
    )

