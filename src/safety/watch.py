"""The inbox watcher: ingest each delivered file that appears in a folder, then file it away.

The rule for senders: **write the file under a temporary name, then rename it** into the inbox
(``DM.csv.part`` -> ``DM.csv``; a rename within one file system is atomic). The watcher never
reads

- names starting with ``.`` (hidden, e.g. rsync's ``.DM.csv.XXXX``) or ending in ``.part``,
  ``.tmp``, ``.partial``, ``.crdownload`` or ``.reason.txt``;
- anything but a regular file of the inbox itself: a symbolic link (it could point anywhere) or
  a file with a second hard link is ignored with a log line, so nothing outside the inbox is
  ever read;
- a file that is not yet settled: it is taken only when its size, modification time and inode
  are the same at :data:`STABLE_LOOKS` successive polls after it was first seen, and (on Linux,
  where ``/proc`` tells) no process has it open for writing. A sender that writes in place and
  pauses longer than the polls is still not read half-written while it keeps the file open.

A file that is ready is first moved (renamed) into ``INBOX/.processing/``, checked again there
(still a regular file) and read from there, so no one can swap it for a link meanwhile. Each
file becomes one batch (``safety.ingest.ingest_file``: one transaction, idempotent by content
hash) and is then moved to ``INBOX/processed/`` (loaded or duplicate) or ``INBOX/rejected/``
(rejected, or held for a data manager) with a ``<name>.reason.txt`` beside it. A reason file
holds the product's own sentences, the delivery's comparison with the current data (records of
the database) and names that look like SDTM identifiers; never bytes of a delivered file. Names
already taken get ``.2``, ``.3`` ... before the extension; nothing is overwritten and no link is
followed when writing. Files that are ready together are loaded in content order (DM first).

A file that vanishes between the listing and the read is skipped with a log line. When the
database stays locked (``StoreError``) the file goes back to the inbox and is tried at the next
poll; any other failure rejects the file with its reason and the watcher goes on. Every round
ends by completing the alerts that are due (``safety.pipeline.raise_alerts``), those of batches
loaded elsewhere or left pending by a killed process included.

Stopping: :meth:`Watcher.run` returns when its ``stop`` event is set (the command sets it on
SIGTERM and SIGINT); a file being ingested is finished (or rolled back) first, never left half.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from safety.access import User
from safety.errors import SafetyError, StoreError
from safety.ingest.files import ingest_file, order_by_content
from safety.ingest.load import BatchResult, flatten, require_ingest
from safety.monitor.alerts import Alert
from safety.pipeline import raise_alerts, send_notifications

log = logging.getLogger(__name__)

PROCESSED_DIR = "processed"
REJECTED_DIR = "rejected"
STAGING_DIR = ".processing"
REASON_SUFFIX = ".reason.txt"
IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", REASON_SUFFIX)
DEFAULT_POLL_SECONDS = 2.0
STABLE_LOOKS = 2  # polls after the first sight at which a file must look the same
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def is_candidate(path: Path) -> bool:
    """Whether a directory entry's name may be a delivery (not hidden, not a temporary name)."""
    name = path.name
    return not name.startswith(".") and not name.lower().endswith(IGNORED_SUFFIXES)


def files_open_for_writing() -> set[tuple[int, int]] | None:
    """(device, inode) of every file some process has open for writing, from Linux ``/proc``
    (the processes this user may inspect); None where ``/proc`` does not tell."""
    proc = Path("/proc")
    if not (proc / "self" / "fdinfo").is_dir():
        return None
    found: set[tuple[int, int]] = set()
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir(proc / pid / "fd")
        except OSError:  # gone, or not ours to inspect
            continue
        for fd in fds:
            try:
                if not os.readlink(proc / pid / "fd" / fd).startswith("/"):
                    continue  # sockets, pipes
                flags = next(line for line in (proc / pid / "fdinfo" / fd).read_text()
                             .splitlines() if line.startswith("flags:"))
                if int(flags.split()[1], 8) & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR):
                    st = os.stat(proc / pid / "fd" / fd)
                    found.add((st.st_dev, st.st_ino))
            except (OSError, StopIteration, ValueError, IndexError):
                continue
    return found


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
        The folder senders deliver into; ``processed/``, ``rejected/`` and ``.processing/``
        are made inside it (and must be real folders, not links).
    db
        The database (default ``$SAFETY_DB``, else data/safety.duckdb); it must exist.
    poll
        Seconds between looks at the inbox; a file must look the same at
        :data:`STABLE_LOOKS` looks after the first.
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
    _seen: dict[str, tuple[tuple[int, int, int], int]] = field(default_factory=dict, repr=False)
    _ignored: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        require_ingest(self.user, self.study_id)  # refuse at start, not file by file
        inbox = Path(self.inbox)
        if inbox.is_symlink() or not inbox.is_dir():
            raise SafetyError(f"the inbox {inbox} is not a folder (a link is not taken)")
        self.inbox = inbox.resolve()
        if self.poll <= 0:
            raise SafetyError(f"the poll interval must be positive, got {self.poll}")
        for sub in (PROCESSED_DIR, REJECTED_DIR, STAGING_DIR):
            folder = self.inbox / sub
            if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
                raise SafetyError(f"{folder} must be a folder of the inbox, not a link or a file")
            folder.mkdir(mode=0o700 if sub == STAGING_DIR else 0o777, exist_ok=True)
        self._recover_staged()

    def _recover_staged(self) -> None:
        """Files a stopped or killed watcher left in .processing go back to the inbox (their
        ingest committed or not; a second one is a duplicate then)."""
        for entry in os.scandir(self.inbox / STAGING_DIR):
            if entry.is_file(follow_symlinks=False):
                target = _free_name(self.inbox, entry.name)
                os.rename(entry.path, target)
                log.info("%s: back in the inbox after an interrupted round", entry.name)

    def ready_files(self) -> list[Path]:
        """Regular files of the inbox that look settled (see the module docstring), in name
        order. Each call is one look; call it once per poll interval."""
        now: dict[str, tuple[tuple[int, int, int], int]] = {}
        ready = []
        writing = None
        for entry in os.scandir(self.inbox):
            path = Path(entry.path)
            if not is_candidate(path):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # renamed away between listing and stat
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
                self._ignore(entry.name, "a symbolic link" if stat.S_ISLNK(st.st_mode)
                             else "not a regular file" if not stat.S_ISREG(st.st_mode)
                             else "a file with another hard link")
                continue
            signature = (st.st_size, st.st_mtime_ns, st.st_ino)
            earlier = self._seen.get(entry.name)
            looks = earlier[1] + 1 if earlier and earlier[0] == signature else 0
            now[entry.name] = (signature, looks)
            if looks >= STABLE_LOOKS:
                writing = files_open_for_writing() if writing is None else writing
                if writing and (st.st_dev, st.st_ino) in writing:
                    log.info("%s: still open for writing; waiting", entry.name)
                    continue
                ready.append(path)
        self._seen = {n: v for n, v in now.items() if self.inbox / n not in ready}
        return sorted(ready)

    def _ignore(self, name: str, what: str) -> None:
        if name not in self._ignored:
            log.warning("%s is %s: not read (deliver regular files into the inbox)", name, what)
            self._ignored.add(name)

    def _stage(self, path: Path) -> Path | None:
        """Move a ready file into .processing and check it there; None when it vanished."""
        staged = _free_name(self.inbox / STAGING_DIR, path.name)
        try:
            os.rename(path, staged)
        except FileNotFoundError:
            log.info("%s vanished before it was read; skipped", path.name)
            return None
        st = os.lstat(staged)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:  # swapped after the look
            self._ignore(path.name, "no longer a regular file")
            _move(staged, self.inbox / REJECTED_DIR, path.name, "not a regular file when it "
                  "was taken (a link or a second hard link): not read")
            return None
        return staged

    def process(self, path: Path) -> Outcome | None:
        """Ingest one ready file and move it; None when it vanished or the database stayed
        locked (it is tried again at the next poll)."""
        staged = self._stage(path)
        return None if staged is None else self._ingest_staged(staged, path.name)

    def _ingest_staged(self, staged: Path, name: str) -> Outcome | None:
        try:
            result = ingest_file(staged, self.db, self.study_id, self.user, display_name=name)
        except StoreError as exc:
            log.warning("%s: database unavailable, will retry: %s", name, exc)
            os.rename(staged, _free_name(self.inbox, name))
            return None
        except SafetyError as exc:
            result = BatchResult(name, "", None, 0, 0, 0, "rejected", str(exc))
        except Exception as exc:  # a bug must not stop the inbox: reject with the reason, go on
            log.exception("%s: internal error while ingesting", name)
            result = BatchResult(name, "", None, 0, 0, 0, "rejected",
                                 f"internal error while ingesting ({type(exc).__name__}); "
                                 "see the watcher's log")
        try:
            if result.status in ("rejected", "held"):
                moved = _move(staged, self.inbox / REJECTED_DIR, name, _reason_text(result))
            else:
                moved = _move(staged, self.inbox / PROCESSED_DIR, name)
        except FileNotFoundError:
            log.info("%s vanished from %s after it was ingested (%s)", name, STAGING_DIR,
                     result.status)
            return None
        log.info("%s: %s -> %s", name, result.status, moved)
        outcome = Outcome(self.inbox / name, result, moved)
        if self.on_outcome:
            self.on_outcome(outcome)
        return outcome

    def poll_once(self) -> list[Outcome]:
        """One look at the inbox: ingest what is ready (in content order), then complete the
        alerts that are due."""
        staged = {}
        for path in self.ready_files():
            target = self._stage(path)
            if target is not None:
                staged[target] = path.name
        outcomes = [o for o in (self._ingest_staged(p, staged[p])
                                for p in order_by_content(staged, staged.get))
                    if o is not None]
        self.check_alerts()
        return outcomes

    def check_alerts(self) -> list[Alert]:
        """Evaluate the alert rules for new batches (cheap when nothing is new) and send the
        notifications that are due."""
        try:
            raised = raise_alerts(self.db)
        except StoreError as exc:
            log.warning("alerts not evaluated (database unavailable): %s", exc)
            return []
        send_notifications(self.db, self.user)
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


def _reason_text(result: BatchResult) -> str:
    """What a reason file says: the product's sentences and the comparison, one per line."""
    lines = [f"{result.status}: {' '.join(str(result.reason or result.status).split())}"]
    lines += [f"{r.status}: {' '.join(str(r.reason).split())}" for r in flatten(result.followed_by)
              if r.reason]
    if result.status == "held" and result.comparison is not None:
        lines.append(result.comparison.to_text())
    return "\n".join(lines) + "\n"


def _free_name(folder: Path, name: str, n: int = 1) -> Path:
    """``folder/name``, or name.2.ext, name.3.ext ... when taken (a link counts as taken)."""
    stem, suffix = Path(name).stem, Path(name).suffix
    while True:
        candidate = folder / (name if n == 1 else f"{stem}.{n}{suffix}")
        if not os.path.lexists(candidate):
            return candidate
        n += 1


def _move(path: Path, folder: Path, name: str, reason: str | None = None) -> Path:
    """Move ``path`` into ``folder`` as ``name`` without overwriting anything (a hard link that
    fails on an existing name, then unlink), and write its reason file beside it the same way."""
    while True:
        target = _free_name(folder, name)
        try:
            os.link(path, target, follow_symlinks=False)
            os.unlink(path)
            break
        except FileExistsError:
            continue  # taken meanwhile: next name
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK):
                raise
            os.rename(path, target)  # a file system without hard links
            break
    if reason is not None:
        _write_new(_free_name(folder, target.name + REASON_SUFFIX), reason)
    return target


def _write_new(path: Path, text: str) -> None:
    """Write a new file; never through a link, never over an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
