"""The DuckDB store: where the database is, how to open it, and its schema version.

Concurrency (measured in ../shared/STACK.md): DuckDB lets one process hold a file read-write and
then locks every other process out, readers included. So nobody holds a connection for long:
readers (reports, ``status``; the dashboard through one shared read-only instance per file,
``store.shared``, closed whenever idle) open short-lived ``read_only`` connections and
writers (ingest, adjudication) short-lived read-write ones; both retry with back-off while the
other side holds the lock, so a lock is a short wait, never an error on screen. A whole new
database (the demo) is built in a temporary file and moved into place with ``os.replace``, so a
reader sees the old file or the new one, never half of either. Within one process (the
dashboard serves every session from one), writes take turns (``_WRITE_LOCK``), so the audit
trail's chain is extended by one transaction at a time.

Database files are created readable by their owner only (or the group: ``safety.files``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from safety.errors import StoreError
from safety.files import restrict
from safety.store import queries, schema, shared
from safety.store.schema import SCHEMA_VERSION

log = logging.getLogger(__name__)

DEFAULT_DB = Path(__file__).resolve().parents[3] / "data" / "safety.duckdb"
LOCK_WAIT_SECONDS = 30.0  # how long a connection waits for another process's lock before failing
_LOCK_MESSAGES = ("Could not set lock", "different configuration")
_WRITE_LOCK = threading.Lock()  # one write transaction at a time in this process



def resolve_db_path(db: str | Path | None = None) -> Path:
    """The database path: ``db`` if given, else ``$SAFETY_DB``, else ``data/safety.duckdb``."""
    if db:
        return Path(db)
    env = os.environ.get("SAFETY_DB")
    return Path(env) if env else DEFAULT_DB


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the data model in an empty database (``schema.create``) and stamp its version."""
    schema.create(con)
    queries.database.stamp_schema_version(con, SCHEMA_VERSION, now())


def memory_database() -> duckdb.DuckDBPyConnection:
    """A new in-memory database with the data model (a frozen copy for a report)."""
    con = duckdb.connect()
    create_schema(con)
    return con


def now() -> datetime:
    """The current time in UTC without tzinfo (DuckDB TIMESTAMP)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _connect_with_retry(path: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait
    delay = 0.01
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            if not any(m in str(exc) for m in _LOCK_MESSAGES):
                raise StoreError(f"cannot open the database {path}: {exc}") from exc
            if time.monotonic() > deadline:
                raise StoreError(
                    f"the database {path} stayed locked by another process for "
                    f"{wait:.0f} s; try again when the ingest has finished"
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def _check_version(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    try:
        version = queries.database.schema_version(con)
    except duckdb.CatalogException as exc:
        raise StoreError(f"{path} is not a safety database (no schema_version table)") from exc
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {version}, this software needs {SCHEMA_VERSION}: "
            "load the study's deliveries into a new database (python -m safety ingest --db NEW "
            "...) or, for the demo, rebuild it (python -m safety demo); the file is left as it is"
        )


def _open(path: Path, read_only: bool, wait: float, rules: bool = True
          ) -> duckdb.DuckDBPyConnection:
    """A connection to an existing safety database of this schema version, with the clinical
    rules' macros (unless ``rules`` is False); raises StoreError otherwise."""
    if not path.exists():
        raise StoreError(
            f"the database {path} does not exist; build it with: python -m safety demo --db {path}"
        )
    con = _connect_with_retry(path, read_only=read_only, wait=wait)
    try:
        _check_version(con, path)
        if rules:
            schema.install_rules(con)
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def read_connection(
    db: str | Path | None = None, wait: float = LOCK_WAIT_SECONDS, rules: bool = True
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read-only connection; waits while a writer holds the lock. ``rules=False``
    leaves out the clinical rules' macros (a quick look at plain tables: ~25 ms less).

    Raises StoreError when the file does not exist, is not a safety database, or has another
    schema version.
    """
    con = _open(resolve_db_path(db), read_only=True, wait=wait, rules=rules)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def shared_read_connection(db: str | Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read on the process's one read-only instance of the file (``store.shared``: for a
    server's many reads; closed when idle so other processes can write), with the rules'
    macros. Raises StoreError as :func:`read_connection` does."""
    with shared_reader(db).cursor() as con:
        yield con


def shared_reader(db: str | Path | None = None) -> shared.SharedReader:
    """The process's shared read-only instance of the database file."""
    return shared.reader(resolve_db_path(db), _open_shared, schema.install_rules)


def _open_shared(path: Path) -> duckdb.DuckDBPyConnection:
    return _open(path, read_only=True, wait=LOCK_WAIT_SECONDS)


@contextmanager
def write_connection(
    db: str | Path | None = None, wait: float = LOCK_WAIT_SECONDS, rules: bool = True
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read-write connection to an existing database, inside one transaction.

    Everything done through it commits together when the block ends, or not at all when it
    raises (or the process dies: DuckDB's write-ahead log replays only committed transactions).
    ``rules=False``: without the clinical rules' macros until ``schema.install_rules`` is called.
    """
    path = resolve_db_path(db)
    with _WRITE_LOCK:
        shared.close(path)  # this process's shared reader would lock the writer out
        yield from _transaction(path, wait, rules)


def _transaction(path: Path, wait: float, rules: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    con = _open(path, read_only=False, wait=wait, rules=rules)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    finally:
        con.close()


@contextmanager
def new_database(db: str | Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Build a complete new database beside ``db`` and move it into place when the block ends.

    Readers keep reading the old file until the atomic ``os.replace``; if the block raises, the
    half-built file is removed and the old database is untouched.
    """
    path = resolve_db_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        create_schema(con)
        yield con
        con.execute("CHECKPOINT")
        con.close()
        restrict(tmp)
        os.replace(tmp, path)
        Path(str(path) + ".wal").unlink(missing_ok=True)  # a stale log of the replaced file
        log.info("database written to %s", path)
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise


def create_if_missing(db: str | Path | None = None) -> bool:
    """Create an empty database (the schema, no study) when the file does not exist yet.

    Returns True when this call created it. Safe against another process doing the same: the
    new file is built aside and linked into place only if nothing is there (``os.link`` fails
    on an existing name), so an existing database is never replaced.
    """
    path = resolve_db_path(db)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        create_schema(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    restrict(tmp)
    try:
        os.link(tmp, path)
        created = True
    except FileExistsError:
        created = False
    finally:
        tmp.unlink(missing_ok=True)
    if created:
        log.info("created an empty database at %s", path)
    return created
