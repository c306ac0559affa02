"""One read-only DuckDB instance per database file per process, for a server's many reads.

Opening a file costs an instance (its catalog, its buffer pool, the rules' macros: 30-200 ms on
a large study); a dashboard page makes 7-8 reads, so each read opening its own wastes most of a
cold page. Here the reads of a process share one read-only instance of each file; each read
leases a cursor of it (a cursor is a connection of its own, so threads do not share one; the
rules' TEMP macros are installed once per cursor, and cursors are kept for the next lease).

DuckDB locks a file against every other process while any instance holds it, a read-only one
included (../shared/STACK.md, section 5), so the instance must not sit on the file: it is
closed once no read has used it for :data:`IDLE_SECONDS`, and at the latest once it is
:data:`MAX_OPEN_SECONDS` old, with a :data:`WRITER_GAP_SECONDS` pause before the next open, so
an ingest in another process (which retries its connect with back-off) always gets its turn. A
write in this process closes it first (``store.write_connection``). Because nobody can write
while it is open, an open instance never misses a write; a file replaced by a new build
(``os.replace``) is noticed by its inode and the instance is reopened on the new file.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

IDLE_SECONDS = 1.0  # close when no read has used the instance for this long
MAX_OPEN_SECONDS = 5.0  # close at the latest this long after opening, once its reads finish
WRITER_GAP_SECONDS = 0.3  # after a close at the age limit, the next open waits this long

Opener = Callable[[Path], duckdb.DuckDBPyConnection]


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class SharedReader:
    """The shared read-only instance of one file (see the module's docstring)."""

    def __init__(self, path: Path, opener: Opener, install: Callable) -> None:
        self.path = path
        self._opener = opener  # opens and checks the file, with the rules' macros
        self._install = install  # gives a new cursor the rules' macros
        self._cond = threading.Condition()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._identity: tuple[int, int] | None = None
        self._opened_at = 0.0
        self._last_used = 0.0
        self._not_before = 0.0
        self._free: list[duckdb.DuckDBPyConnection] = []
        self._leases = 0
        self._closing = False
        self.opens = 0  # how many times an instance was opened (benchmarks report it)

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self._lease()
        try:
            yield cur
        finally:
            self._release(cur)

    def close(self) -> None:
        """Close the instance once its reads finish (a write in this process is next)."""
        with self._cond:
            self._closing = True
            while self._leases:
                self._cond.wait()
            self._close_now()
            self._closing = False
            self._cond.notify_all()

    def _lease(self) -> duckdb.DuckDBPyConnection:
        with self._cond:
            while True:
                if self._con is not None and self._stale():
                    self._closing = True
                if self._closing:
                    if self._leases == 0:
                        self._close_now()
                        self._closing = False
                    else:
                        self._cond.wait()
                        continue
                if self._con is None:
                    wait = self._not_before - time.monotonic()
                    if wait > 0:
                        self._cond.wait(wait)
                        continue
                    self._con = self._opener(self.path)
                    self._identity = _identity(self.path)
                    self._opened_at = time.monotonic()
                    self._free = [self._con]
                    self.opens += 1
                    self._watch_idle()
                self._leases += 1
                if self._free:
                    return self._free.pop()
                con = self._con
                break
        cur = con.cursor()  # outside the lock: installing the macros takes a few ms
        try:
            self._install(cur)
        except BaseException:
            cur.close()
            self._release(None)
            raise
        return cur

    def _release(self, cur: duckdb.DuckDBPyConnection | None) -> None:
        with self._cond:
            self._leases -= 1
            self._last_used = time.monotonic()
            if cur is not None and self._con is not None:
                self._free.append(cur)
            if self._closing or self._stale():
                self._closing = self._leases > 0
                if not self._leases:
                    self._close_now()
            self._cond.notify_all()

    def _stale(self) -> bool:
        return (
            time.monotonic() - self._opened_at > MAX_OPEN_SECONDS
            or _identity(self.path) != self._identity
        )

    def _close_now(self) -> None:
        if self._con is None:
            return
        if time.monotonic() - self._opened_at > MAX_OPEN_SECONDS:
            self._not_before = time.monotonic() + WRITER_GAP_SECONDS
        for cur in self._free:
            if cur is not self._con:
                cur.close()
        self._con.close()
        self._con, self._free, self._identity = None, [], None

    def _watch_idle(self) -> None:
        """Close the instance once idle (a daemon thread per open instance)."""
        con = self._con

        def watch() -> None:
            with self._cond:
                while self._con is con:
                    idle = time.monotonic() - self._last_used
                    if self._leases == 0 and idle >= IDLE_SECONDS:
                        self._close_now()
                        self._cond.notify_all()
                        return
                    self._cond.wait(max(IDLE_SECONDS - idle, 0.05))

        self._last_used = time.monotonic()
        threading.Thread(target=watch, name=f"close {self.path.name}", daemon=True).start()


_READERS: dict[Path, SharedReader] = {}
_READERS_LOCK = threading.Lock()


def reader(path: Path, opener: Opener, install: Callable) -> SharedReader:
    """The process's shared reader of ``path`` (created on first use)."""
    key = path.resolve()
    with _READERS_LOCK:
        if key not in _READERS:
            _READERS[key] = SharedReader(key, opener, install)
        return _READERS[key]


def close(path: Path) -> None:
    """Close the shared instance of ``path`` if there is one (before this process writes)."""
    with _READERS_LOCK:
        found = _READERS.get(path.resolve())
    if found is not None:
        found.close()
