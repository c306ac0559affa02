"""The inbox watcher: ingest each delivered file that appears in a folder, then file it away.

The rule for senders: **write the file under a temporary name, then rename it** into the inbox
(``DM.csv.part`` -> ``DM.csv``; a rename within one file system is atomic). The watcher never
reads

- names starting with ``.`` (hidden, e.g. rsync's ``.DM.csv.XXXX``) or ending in ``.part``,
  ``.tmp``, ``.partial``, ``.crdownload`` or ``.reason.txt``;
- a file whose size and modification time changed during the last poll interval: a file is
  taken only when two looks at least one interval apart agree, so a sender that writes in place
  (no rename) is still not read half-written unless it pauses longer than the interval.

Each file becomes one batch (``safety.ingest.ingest_file``: one transaction, idempotent by
content hash) and is then moved to ``INBOX/processed/`` (loaded or duplicate) or
``INBOX/rejected/`` with a ``<name>.reason.txt`` beside it. A name already taken there gets a
``.2``, ``.3`` ... before its extension. Files that are ready together are loaded DM first (other
domains are checked against DM). After each round that loaded data, the alert rules run
(``safety.pipeline.raise_alerts``). When the database stays locked (``StoreError``) the file stays
in the inbox and is tried again at the next poll; any other failure rejects the file with its
reason and the watcher goes on.

Stopping: :meth:`Watcher.run` returns when its ``stop`` event is set (the command sets it on
SIGTERM and SIGINT); a file being ingested is finished (or rolled back) first, never left half.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from safety.access import User
from safety.errors import SafetyError, StoreError
from safety.ingest.domains import domain_rank
from safety.ingest.load import BatchResult, ingest_file, require_ingest
from safety.monitor.alerts import Alert
from safety.pipeline import raise_alerts

log = logging.getLogger(__name__)

PROCESSED_DIR = "processed"
REJECTED_DIR = "rejected"
REASON_SUFFIX = ".reason.txt"
IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", REASON_SUFFIX)
DEFAULT_POLL_SECONDS = 2.0


def is_candidate(path: Path) -> bool:
    """Whether a directory entry may be a delivery (not hidden, not a temporary name)."""
    name = path.name
    return (
        path.is_file() and not name.startswith(".") and not name.lower().endswith(IGNORED_SUFFIXES)
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the watcher did with one file: the ingest result and where the file went."""

    source: Path
    result: BatchResult
    moved_to: Path


@dataclass
class Watcher:
    """Ingests files appearing in ``inbox`` into ``db`` (see the module docstring for the rules).

    Parameters
    ----------
    inbox
        The folder senders deliver into; ``processed/`` and ``rejected/`` are made inside it.
    db
        The database (default ``$SAFETY_DB``, else data/safety.duckdb); it must exist.
    poll
        Seconds between looks at the inbox; a file must be unchanged for one interval.
    study_id
        Load every file into this study (default: each file's STUDYID).
    user
        Who loads, for the ledger and the audit log: the command line's user (a data manager,
        or the service account the watcher runs as).
    on_outcome, on_alerts
        Called after each file and after each alert evaluation that raised alerts (the CLI
        prints them).
    """

    inbox: Path
    db: str | Path | None = None
    poll: float = DEFAULT_POLL_SECONDS
    study_id: str | None = None
    user: User | None = None
    on_outcome: Callable[[Outcome], None] | None = None
    on_alerts: Callable[[list[Alert]], None] | None = None
    _seen: dict[Path, tuple[int, int]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        require_ingest(self.user, self.study_id)  # refuse at start, not file by file
        self.inbox = Path(self.inbox)
        if not self.inbox.is_dir():
            raise SafetyError(f"the inbox {self.inbox} is not a folder")
        if self.poll <= 0:
            raise SafetyError(f"the poll interval must be positive, got {self.poll}")
        for sub in (PROCESSED_DIR, REJECTED_DIR):
            (self.inbox / sub).mkdir(exist_ok=True)

    def ready_files(self) -> list[Path]:
        """Files unchanged (size and mtime) since the previous call, DM first.

        Each call is one look; call it once per poll interval.
        """
        now: dict[Path, tuple[int, int]] = {}
        for path in self.inbox.iterdir():
            if not is_candidate(path):
                continue
            try:
                st = path.stat()
            except FileNotFoundError:  # renamed away between listing and stat
                continue
            now[path] = (st.st_size, st.st_mtime_ns)
        ready = [p for p, sig in now.items() if self._seen.get(p) == sig]
        self._seen = {p: sig for p, sig in now.items() if p not in ready}
        return sorted(ready, key=lambda p: (domain_rank(p.name), p.name))

    def process(self, path: Path) -> Outcome | None:
        """Ingest one ready file and move it; None when the database stayed locked (retry)."""
        try:
            result = ingest_file(path, self.db, self.study_id, self.user)
        except StoreError as exc:
            log.warning("%s: database unavailable, will retry: %s", path.name, exc)
            self._seen.pop(path, None)
            return None
        except SafetyError as exc:
            result = BatchResult(path.name, "", None, 0, 0, 0, "rejected", str(exc))
        except Exception as exc:  # a bug must not stop the inbox: reject with the reason, go on
            log.exception("%s: internal error while ingesting", path.name)
            result = BatchResult(
                path.name, "", None, 0, 0, 0, "rejected", f"internal error while ingesting: {exc}"
            )
        if result.status == "rejected":
            moved = _move(path, self.inbox / REJECTED_DIR)
            moved.with_name(moved.name + REASON_SUFFIX).write_text(
                (result.reason or "rejected") + "\n", encoding="utf-8"
            )
        else:
            moved = _move(path, self.inbox / PROCESSED_DIR)
        log.info("%s: %s -> %s", path.name, result.status, moved)
        outcome = Outcome(path, result, moved)
        if self.on_outcome:
            self.on_outcome(outcome)
        return outcome

    def poll_once(self) -> list[Outcome]:
        """One look at the inbox: ingest what is ready, then evaluate alerts if data changed."""
        outcomes = [o for o in map(self.process, self.ready_files()) if o is not None]
        if any(o.result.status == "loaded" for o in outcomes):
            self.check_alerts()
        return outcomes

    def check_alerts(self) -> list[Alert]:
        """Evaluate the alert rules for new batches (cheap when nothing is new)."""
        try:
            raised = raise_alerts(self.db)
        except StoreError as exc:
            log.warning("alerts not evaluated (database unavailable): %s", exc)
            return []
        if raised and self.on_alerts:
            self.on_alerts(raised)
        return raised

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; catches up on alerts for batches loaded elsewhere first."""
        log.info("watching %s every %.1f s", self.inbox, self.poll)
        self.check_alerts()
        while not stop.is_set():
            self.poll_once()
            stop.wait(self.poll)
        log.info("stopped watching %s", self.inbox)


def _move(path: Path, folder: Path) -> Path:
    """Move ``path`` into ``folder`` without overwriting: name.csv, name.2.csv, name.3.csv ..."""
    target = folder / path.name
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{path.stem}.{n}{path.suffix}"
    shutil.move(str(path), str(target))
    return target
