"""Delivered files -> batches: one batch per file, the files of one delivery in content order,
and a DM delivery followed by the re-evaluation of the rows that waited for it.

These are the library's entry points for files (:func:`ingest_paths`, :func:`ingest_file`,
:func:`ingest_bytes`); ``load.py`` loads one dataset, ``reevaluate.py`` gives quarantined rows
their second chance.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from safety import store
from safety.access import User
from safety.errors import IngestError
from safety.ingest.adam import detect_standard
from safety.ingest.domains import detect_domain, domain_rank
from safety.ingest.load import BatchResult, flatten, load_dataset, rejected, require_ingest
from safety.ingest.readers import EXTENSIONS, file_sha256, read_dataset, read_head
from safety.ingest.reevaluate import release_waiting_rows

log = logging.getLogger(__name__)


def expand_paths(paths: Iterable[Path | str]) -> list[Path]:
    """Files to load: files as given, folders by their data files; ordered by content.

    Inside a folder only regular files with a known extension (.xpt, .csv, .json, .ndjson,
    .jsonl, .parquet, .pq, .sas7bdat) are taken; define.xml, READMEs and symbolic links are skipped (a
    folder delivery holds files, not pointers to elsewhere).
    """
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            entries = sorted(p.iterdir())
            found = [f for f in entries if not f.is_symlink() and f.is_file()
                     and f.suffix.lower() in EXTENSIONS]
            skipped = [f.name for f in entries if f not in found]
            if skipped:
                log.info("skipping entries that are not data files in %s: %s", p,
                         ", ".join(skipped))
            files.extend(found)
        else:
            files.append(p)
    return order_by_content(files)


def order_by_content(files: Iterable[Path], name_of: Callable[[Path], str] | None = None
                     ) -> list[Path]:
    """Files in load order by the SDTM domain their first rows hold (``domains.domain_rank``;
    an ADaM dataset by the domain it becomes, ADSL as DM):
    DM and DS before the domains checked against them, a parent before its SUPP--, whatever the
    files are called; then by name. An unreadable file goes last (and is rejected then)."""
    def rank(f: Path) -> tuple:
        head = read_head(f, name_of(f) if name_of else None)
        domain = None if head is None else detect_domain(head) or detect_standard(head).domain
        return (domain_rank(domain), f.name)
    return sorted(files, key=rank)


def ingest_paths(paths: Iterable[Path | str], db: str | Path | None = None,
                 study_id: str | None = None, user: User | None = None) -> list[BatchResult]:
    """Load files and folders of SDTM datasets, one batch (transaction) per file.

    Parameters
    ----------
    paths
        Files (XPT, CSV, Dataset-JSON, Parquet) or folders of them.
    db
        The database (default: ``$SAFETY_DB``, else data/safety.duckdb); an empty one is
        created when the file does not exist yet.
    study_id
        The study to load into; default: each file's STUDYID, matched to a configuration in
        data/studies (or ``$SAFETY_STUDIES``) when the study is not in the database yet.
    user
        Who loads (recorded in the ledger and audit log): a data manager of each file's study.

    Returns
    -------
    list of BatchResult, in load order (DM first), each followed by the batches it set off.

    Raises
    ------
    StoreError
        When the database is missing, has another schema version or stays locked.
    AccessDenied
        When the user may not load deliveries into a file's study (nothing of that file is
        written; the files before it stay loaded).
    """
    files = expand_paths(paths)
    if files:
        require_ingest(user, study_id)
        store.create_if_missing(db)
    return flatten(ingest_file(p, db, study_id, user) for p in files)


def ingest_bytes(name: str, data: bytes, db: str | Path | None = None,
                 study_id: str | None = None, user: User | None = None) -> BatchResult:
    """Load one uploaded file given as bytes (the Data page's upload); see :func:`ingest_file`."""
    safe_name = Path(name).name or "upload"
    with tempfile.TemporaryDirectory(prefix="safety-upload-") as tmp:
        path = Path(tmp) / safe_name
        path.write_bytes(data)
        return ingest_file(path, db, study_id, user, display_name=safe_name)


def ingest_file(path: Path | str, db: str | Path | None = None, study_id: str | None = None,
                user: User | None = None, display_name: str | None = None) -> BatchResult:
    """Load one delivered file as one batch: loaded (maybe with quarantined rows), held,
    duplicate or rejected. A file that cannot be read, has no known domain, lacks required
    columns or has no study configuration is rejected and changes nothing. After a DM (loaded,
    or a duplicate: a process killed after loading it may not have finished), rows of other
    domains that waited for its subjects are evaluated again (``followed_by``). AccessDenied
    when ``user`` may not load deliveries into the file's study.
    """
    path = Path(path)
    name = display_name or path.name
    require_ingest(user)
    try:
        sha = file_sha256(path)
    except OSError as exc:
        return rejected(name, "", None, f"{name} cannot be opened: {exc.strerror}")
    try:
        raw = read_dataset(path, name)
    except IngestError as exc:
        return rejected(name, sha, None, str(exc))

    def content() -> bytes:  # the bytes a hold keeps: the file as it was read
        data = path.read_bytes()
        if raw.sha256 != sha or file_sha256(path) != sha:
            raise IngestError(f"{name} changed while it was being loaded; send it again")
        return data

    result = load_dataset(raw, db, study_id, user, content)
    if result.domain == "DM" and result.status in ("loaded", "duplicate") and result.study_id:
        result = replace(result, followed_by=tuple(
            release_waiting_rows(db, result.study_id, user)))
    return result
