"""A large delivery's validated rows, staged outside the database in bounded memory.

A file read in chunks is validated chunk by chunk (``ingest/prepare.py``); the rows that pass
are appended, typed as their table's columns, to a Parquet file in a temporary folder, and
every row's key to another (DuckDB finds the keys repeated across chunks there, in at most
:data:`MEMORY_LIMIT`). The write transaction inserts the rows with one statement, sorted in the
order the pages read them (:func:`insert_staged`): the write lock is held for DuckDB's own
read of that file, not for the validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from safety.store.queries.database import LOADABLE_TABLES

MEMORY_LIMIT = "512MB"  # DuckDB's buffers finding repeated keys; beyond it, it spills to disk


@dataclass(frozen=True, slots=True)
class StagedRows:
    """The validated rows of a file in a Parquet file, ready to insert."""

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


# DuckDB types of the loadable tables -> the Arrow types their rows are staged as
_ARROW_TYPES = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "BIGINT": pa.int64(),
                "DOUBLE": pa.float64(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us"),
                "BOOLEAN": pa.bool_()}


# A staged file is written once and read once, whole: no dictionaries or statistics to build
# (1M LB rows: 0.44 s to write instead of 1.24 s with them).
_STAGED_FILE = {"compression": "lz4", "use_dictionary": False, "write_statistics": False}


class Staging:
    """Validated rows of one file gathered chunk by chunk; see the module docstring.

    ``columns``: the target table's columns and types (:func:`table_columns`); ``order_by``:
    the columns the rows are sorted by (then by their position in the file).
    """

    def __init__(self, folder: Path, columns: dict[str, str], order_by: tuple[str, ...]):
        self.folder, self.types, self.order_by = folder, columns, order_by
        self.path, self.keys_path = folder / "rows.parquet", folder / "keys.parquet"
        self.columns: tuple[str, ...] | None = None
        self.rows: pq.ParquetWriter | None = None
        self.keys: pq.ParquetWriter | None = None
        self.count = 0

    def add(self, rows: pd.DataFrame, keys: pd.Series | None) -> None:
        """Stage one chunk's rows that passed (index: their positions in the file) and the keys
        of all of its rows."""
        if self.columns is None:  # names checked against the catalog: identifiers only
            unknown = [c for c in rows.columns if c not in self.types]
            if unknown:
                raise ValueError(f"the table has no columns {unknown}")
            self.columns = tuple(rows.columns)
            schema = pa.schema([("_pos", pa.int64())] + [
                (c, _ARROW_TYPES[self.types[c]]) for c in self.columns])
            self.rows = pq.ParquetWriter(self.path, schema, **_STAGED_FILE)
        frame = rows.assign(_pos=rows.index.to_numpy())
        try:
            table = pa.Table.from_pandas(frame, schema=self.rows.schema, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # e.g. a column all missing as floats
            table = pa.Table.from_pandas(frame, preserve_index=False).select(
                self.rows.schema.names).cast(self.rows.schema)
        self.rows.write_table(table)
        self.count += len(rows)
        if keys is not None:
            if self.keys is None:
                self.keys = pq.ParquetWriter(self.keys_path, pa.schema(
                    [("pos", pa.int64()), ("key", pa.string())]), **_STAGED_FILE)
            self.keys.write_table(pa.table({"pos": pa.array(keys.index.to_numpy()),
                                            "key": pa.array(keys.array, type=pa.string())}))

    def duplicated(self) -> np.ndarray:
        """Positions of the rows whose key occurs more than once in the file."""
        if self.keys is None:
            return np.array([], dtype="int64")
        self.keys.close()
        self.keys = None
        with duckdb.connect(config={"memory_limit": MEMORY_LIMIT,
                                    "temp_directory": str(self.folder / "spill")}) as con:
            rows = con.execute(
                """WITH k AS (SELECT * FROM read_parquet($path))
                   SELECT pos FROM k WHERE key IN
                       (SELECT key FROM k GROUP BY key HAVING count(*) > 1)
                   ORDER BY pos""", {"path": str(self.keys_path)}).fetchall()
        return np.array([r[0] for r in rows], dtype="int64")

    def finish(self) -> StagedRows:
        """The staged rows, closed for writing."""
        self.close()
        return StagedRows(self.path, self.columns or (), self.order_by, self.count)

    def close(self) -> None:
        for writer in (self.rows, self.keys):
            if writer is not None:
                writer.close()
        self.rows = self.keys = None


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
    con.execute(f"INSERT INTO {table} ({names}, batch_id) SELECT {names}, $batch_id "
                f"FROM read_parquet($path) ORDER BY {order}_pos",
                {"batch_id": batch_id, "path": str(staged.path)})
    return staged.count
