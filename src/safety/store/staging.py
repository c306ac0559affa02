"""A large delivery's validated rows, staged outside the database in bounded memory.

A file read in chunks is validated chunk by chunk (``ingest/load.py``); the rows that pass go
into a table of a private DuckDB file in a temporary folder (at most :data:`MEMORY_LIMIT` of
buffers, the rest on disk), beside every row's key (to find keys repeated across chunks). The
write transaction attaches that file and inserts its rows with one statement, sorted in the
order the pages read them (:func:`insert_staged`): the write lock is held for DuckDB's own
copy, not for the validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from safety.store.queries.database import LOADABLE_TABLES, one_row

MEMORY_LIMIT = "512MB"  # DuckDB's own buffers while staging; beyond it, it spills to the folder


@dataclass(frozen=True, slots=True)
class StagedRows:
    """The validated rows of a file in a staging database file, ready to insert."""

    path: Path
    columns: tuple[str, ...]
    order_by: tuple[str, ...]
    count: int

    def __len__(self) -> int:
        return self.count


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """A loadable table's columns and their types, in table order."""
    if table not in LOADABLE_TABLES:
        raise ValueError(f"not a loadable table: {table!r}")
    rows = con.execute(
        """SELECT column_name, data_type FROM information_schema.columns
        WHERE table_name = $t ORDER BY ordinal_position""", {"t": table}).fetchall()
    return dict(rows)


class Staging:
    """Validated rows of one file gathered chunk by chunk; see the module docstring.

    ``columns``: the target table's columns and types (:func:`table_columns`); ``order_by``:
    the columns the rows are sorted by (then by their position in the file).
    """

    def __init__(self, folder: Path, columns: dict[str, str], order_by: tuple[str, ...]):
        self.folder, self.types, self.order_by = folder, columns, order_by
        self.columns: tuple[str, ...] | None = None
        self.path = folder / "staged.duckdb"
        self.path.unlink(missing_ok=True)
        self.con = duckdb.connect(str(self.path), config={"memory_limit": MEMORY_LIMIT})
        self.con.execute("CREATE TABLE staged_key (pos BIGINT, key VARCHAR)")

    def add(self, rows: pd.DataFrame, keys: pd.Series | None) -> None:
        """Stage one chunk's rows that passed (index: their positions in the file) and the keys
        of all of its rows."""
        if self.columns is None:  # names checked against the catalog: identifiers only
            unknown = [c for c in rows.columns if c not in self.types]
            if unknown:
                raise ValueError(f"the table has no columns {unknown}")
            self.columns = tuple(rows.columns)
            spec = ", ".join(f'"{c}" {self.types[c]}' for c in self.columns)
            self.con.execute(f"CREATE TABLE staged (_pos BIGINT, {spec})")
        chunk = pa.Table.from_pandas(rows.assign(_pos=rows.index.to_numpy()),
                                     preserve_index=False)
        self.con.register("_chunk", chunk)
        try:
            self.con.execute("INSERT INTO staged BY NAME SELECT * FROM _chunk")
        finally:
            self.con.unregister("_chunk")
        if keys is not None:
            frame = pa.table({"pos": pa.array(keys.index.to_numpy()),
                              "key": pa.array(keys.array, type=pa.string())})
            self.con.register("_keys", frame)
            try:
                self.con.execute("INSERT INTO staged_key SELECT pos, key FROM _keys")
            finally:
                self.con.unregister("_keys")

    def duplicated(self) -> np.ndarray:
        """Positions of the rows whose key occurs more than once in the file."""
        rows = self.con.execute(
            """SELECT pos FROM staged_key WHERE key IN
                   (SELECT key FROM staged_key GROUP BY key HAVING count(*) > 1)
               ORDER BY pos""").fetchall()
        return np.array([r[0] for r in rows], dtype="int64")

    def finish(self) -> StagedRows:
        """The staged rows, closed for writing."""
        columns = self.columns or ()
        count = int(one_row(self.con, "SELECT count(*) FROM staged")[0]) if columns else 0
        self.con.execute("CHECKPOINT")
        return StagedRows(self.path, columns, self.order_by, count)

    def close(self) -> None:
        self.con.close()


def insert_staged(con: duckdb.DuckDBPyConnection, table: str, staged: StagedRows,
                  batch_id: int) -> int:
    """Append staged rows to ``table`` as batch ``batch_id``, in their sort order (then their
    order in the file); returns the rows inserted."""
    if not staged.count:
        return 0
    known = table_columns(con, table)
    unknown = [c for c in staged.columns if c not in known]
    if unknown:
        raise ValueError(f"{table} has no columns {unknown}")
    names = ", ".join(f'"{c}"' for c in staged.columns)
    order = "".join(f'"{c}" NULLS LAST, ' for c in staged.order_by if c in staged.columns)
    # ATTACH takes no parameters; the path is a file of ours in a folder made by tempfile
    con.execute(f"ATTACH '{staged.path}' AS staged_delivery (READ_ONLY)")
    try:
        con.execute(f"INSERT INTO {table} ({names}, batch_id) SELECT {names}, $batch_id "
                    f"FROM staged_delivery.staged ORDER BY {order}_pos", {"batch_id": batch_id})
    finally:
        con.execute("DETACH staged_delivery")
    return staged.count
