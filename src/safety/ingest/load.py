"""Loading: one delivered file -> one batch, all or nothing, without holding the database long.

The order of work keeps the write lock short (DuckDB lets one process write and then locks every
other process out, readers included: ../shared/STACK.md section 5):

1. read the file, find its domain and study, check its columns (no database needed);
2. a short read-only connection: is this content already loaded? is the study known? which
   subjects are in DM?;
3. map and validate every row in memory;
4. one short read-write transaction: insert the batch, its rows and its quarantined rows,
   mark the earlier delivery of the domain superseded, re-derive subject status, commit.

If DM changed between steps 2 and 4 (another process loaded one), step 3 is redone. A process
killed at any moment leaves the database as before or as after step 4: DuckDB replays only
committed transactions from its write-ahead log.

Data cuts: a new delivery of a domain (EDC exports are cumulative) supersedes the study's
current delivery of that domain; the earlier rows stay, reachable by batch_id. Read current
data through the ``current_*`` views (schema.sql).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from safety import store
from safety.access import PERMISSIONS, Action, User, require
from safety.config import StudyConfig, find_study_config, stored_study_config
from safety.errors import ConfigError, IngestError
from safety.ingest import validate as v
from safety.ingest.domains import (
    DOMAINS,
    DomainSpec,
    MappingContext,
    detect_domain,
    domain_rank,
    sort_for_table,
)
from safety.ingest.readers import EXTENSIONS, RawDataset, file_sha256, read_dataset
from safety.store import queries

log = logging.getLogger(__name__)

Status = Literal["loaded", "duplicate", "rejected"]
MAX_ATTEMPTS = 3  # re-validations when another process changes DM while we prepare


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What happened to one delivered file (the ``ingest --json`` record).

    Always ``rows_in == rows_loaded + rows_quarantined``; a duplicate or a file that could not
    be read counts 0 rows (nothing of it went in).
    """

    file: str
    sha256: str
    domain: str | None
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    status: Status
    reason: str | None
    study_id: str | None = None
    batch_id: int | None = None
    superseded: tuple[int, ...] = ()

    def to_json(self) -> dict:
        """The JSON record of DESIGN.md (plus study_id, batch_id, superseded)."""
        record = asdict(self)
        record["superseded"] = list(self.superseded)
        return record


@dataclass(frozen=True)
class _Context:
    study: StudyConfig
    study_in_db: bool
    subjects: pd.DataFrame
    fingerprint: tuple
    duplicate_of: tuple[int, int | None] | None


@dataclass(frozen=True)
class _Prepared:
    rows: pd.DataFrame  # mapped rows that passed every rule
    quarantine: pd.DataFrame  # row_number, raw_record, reason, rule
    rows_in: int


class _ContextChanged(Exception):
    """DM changed between validation and the write: validate again."""


def expand_paths(paths: Iterable[Path | str]) -> list[Path]:
    """Files to load: files as given, folders by their data files; DM first, then DS, EX, ...

    Inside a folder only files with a known extension (.xpt, .csv, .json, .ndjson, .jsonl,
    .parquet, .pq) are taken; define.xml, READMEs etc. are skipped.
    """
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in EXTENSIONS)
            skipped = [f.name for f in p.iterdir() if f.is_file() and f not in found]
            if skipped:
                log.info("skipping files that are not data in %s: %s", p,
                         ", ".join(sorted(skipped)))
            files.extend(found)
        else:
            files.append(p)
    return sorted(files, key=lambda f: (domain_rank(f.name), f.name))


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
        data/studies when the study is not in the database yet.
    user
        Who loads (recorded in the ledger and audit log): a data manager of each file's study.

    Returns
    -------
    list of BatchResult, in load order (DM first).

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
    return [ingest_file(p, db, study_id, user) for p in files]


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
    """Load one delivered file as one batch: loaded (maybe with quarantined rows), duplicate or
    rejected. A file that cannot be read, has no known domain, lacks required columns or has no
    study configuration is rejected and changes nothing. AccessDenied when ``user`` may not load
    deliveries into the file's study.
    """
    path = Path(path)
    name = display_name or path.name
    require_ingest(user)
    try:
        sha = file_sha256(path)
    except OSError as exc:
        return _rejected(name, "", None, f"{name} cannot be opened: {exc.strerror}")
    try:
        raw = read_dataset(path, name)
    except IngestError as exc:
        return _rejected(name, sha, None, str(exc))

    domain = detect_domain(raw)
    if domain is None or domain not in DOMAINS:
        what = f"holds domain {domain}" if domain else "does not say its SDTM domain (no DOMAIN)"
        return _rejected(name, sha, domain, f"{name} {what}; this product loads "
                         + ", ".join(DOMAINS))
    spec = DOMAINS[domain]
    missing = v.missing_columns(raw.frame, spec.required)
    if missing:
        return _rejected(name, sha, domain,
                         f"{name} ({domain}) lacks required columns: {', '.join(missing)}")
    study_id = study_id or _study_of(raw)
    if study_id is None:
        return _rejected(name, sha, domain, f"{name} has no STUDYID; give the study (--study)")
    actor = require(user, Action.INGEST, study_id).id

    for _attempt in range(MAX_ATTEMPTS):
        try:
            ctx = _read_context(db, study_id, sha)
        except ConfigError as exc:
            return _rejected(name, sha, domain, str(exc), study_id)
        if ctx.duplicate_of is not None:
            return _duplicate(name, sha, domain, study_id, ctx.duplicate_of)
        started = time.perf_counter()
        prepared = _prepare(raw, spec, ctx)
        log.info("%s: mapped %d rows of %s in %.2f s", name, prepared.rows_in, domain,
                 time.perf_counter() - started)
        if prepared.rows_in == 0:
            return _rejected(name, sha, domain, f"{name} has no data rows", study_id)
        try:
            return _write(db, raw, spec, ctx, prepared, actor)
        except _ContextChanged:
            log.info("%s: DM changed while validating; validating again", name)
    raise IngestError(f"{name}: DM kept changing while this file was validated; try again")


def require_ingest(user: User | None, study_id: str | None = None) -> None:
    """Refuse at once a user who may not load into the study, or (no study given yet) into any."""
    if study_id or not (
        isinstance(user, User) and any(Action.INGEST in PERMISSIONS[g.role] for g in user.grants)
    ):
        require(user, Action.INGEST, study_id)


def _study_of(raw: RawDataset) -> str | None:
    if "STUDYID" not in raw.frame.columns:
        return None
    ids = v.text(raw.frame, "STUDYID").dropna()
    return str(ids.mode().iloc[0]) if len(ids) else None


def _rejected(name: str, sha: str, domain: str | None, reason: str,
              study_id: str | None = None) -> BatchResult:
    log.warning("rejected %s", reason)
    return BatchResult(name, sha, domain, 0, 0, 0, "rejected", reason, study_id)


def _duplicate(name: str, sha: str, domain: str, study_id: str,
               earlier: tuple[int, int | None]) -> BatchResult:
    batch, superseded_by = earlier
    later = f", since superseded by batch {superseded_by}" if superseded_by else ""
    reason = f"identical content was loaded as batch {batch}{later}; nothing changed"
    log.info("%s: %s", name, reason)
    return BatchResult(name, sha, domain, 0, 0, 0, "duplicate", reason, study_id, batch)


def _read_context(db: str | Path | None, study_id: str, sha: str) -> _Context:
    with store.read_connection(db) as con:
        duplicate = queries.ingest.loaded_batch_with_hash(con, study_id, sha)
        stored = queries.studies.study_config_text(con, study_id)
        subjects = queries.ingest.current_subjects(con, study_id)
        fingerprint = queries.ingest.subjects_fingerprint(con, study_id)
    if stored is not None:
        study = stored_study_config(stored, study_id)
    else:
        study = find_study_config(study_id)
    subjects = subjects.set_index("usubjid")
    return _Context(study, stored is not None, subjects, fingerprint, duplicate)


def _prepare(raw: RawDataset, spec: DomainSpec, ctx: _Context) -> _Prepared:
    frame = raw.frame
    issues = v.Issues(frame.index)
    mapped = spec.mapper(frame, MappingContext(ctx.study, ctx.subjects), issues)
    bad = issues.bad
    reasons = issues.reasons()
    if bad.any():
        records = frame.loc[bad].to_json(orient="records", lines=True, date_format="iso")
        quarantine = pd.DataFrame({
            "row_number": (reasons.index.to_numpy() + 1).astype("int64"),
            "raw_record": records.splitlines(),
            "reason": reasons["reason"].to_numpy(),
            "rule": reasons["rule"].to_numpy(),
        })
        log.info("%s: %d of %d rows quarantined (%s)", raw.file_name, len(quarantine), len(frame),
                 ", ".join(f"{k} {n}" for k, n in issues.rule_counts().items()))
    else:
        quarantine = pd.DataFrame(columns=["row_number", "raw_record", "reason", "rule"])
    rows = sort_for_table(mapped.loc[~bad.to_numpy()], spec.table)
    return _Prepared(rows=rows, quarantine=quarantine, rows_in=len(frame))


def _write(db: str | Path | None, raw: RawDataset, spec: DomainSpec, ctx: _Context,
           prepared: _Prepared, actor: str) -> BatchResult:
    study_id = ctx.study.study_id
    loaded, quarantined = len(prepared.rows), len(prepared.quarantine)
    status: Status = "loaded" if loaded else "rejected"
    reason = None if loaded else "every row failed validation; see the quarantine"
    started = time.perf_counter()
    with store.write_connection(db) as con:
        duplicate = queries.ingest.loaded_batch_with_hash(con, study_id, raw.sha256)
        if duplicate is not None:  # another process loaded it meanwhile
            return _duplicate(raw.file_name, raw.sha256, spec.domain, study_id, duplicate)
        if spec.domain != "DM" and queries.ingest.subjects_fingerprint(con, study_id) != ctx.fingerprint:
            raise _ContextChanged
        at = store.now()
        if queries.studies.study_config_text(con, study_id) is None:
            _create_study(con, ctx.study, actor, at)
        batch_id = queries.database.next_batch_id(con)
        queries.database.insert_frame(con, "ingest_batch", pd.DataFrame([{
            "batch_id": batch_id, "study_id": study_id, "file_name": raw.file_name,
            "sha256": raw.sha256, "domain": spec.domain, "rows_in": prepared.rows_in,
            "rows_loaded": loaded, "rows_quarantined": quarantined, "status": status,
            "reason": reason, "loaded_by": actor, "loaded_at": at,
        }]))
        queries.database.insert_frame(con, spec.table, prepared.rows.assign(batch_id=batch_id))
        queries.database.insert_frame(con, "quarantine", prepared.quarantine.assign(
            batch_id=batch_id, study_id=study_id, domain=spec.domain))
        superseded: list[int] = []
        if loaded:
            superseded = queries.ingest.supersede_batches(con, study_id, spec.domain, batch_id)
            if spec.domain in {"DM", "DS"}:
                queries.ingest.refresh_subject_status(con, study_id)
            if spec.domain in {"DM", "LB"}:  # grades depend on labs and first-dose dates
                queries.labs.refresh_lab_grades(con, study_id)
            queries.ingest.refresh_data_cutoff(con, study_id)
        queries.database.record_audit(con, actor=actor, action="ingest.load", at=at, study_id=study_id,
                             detail=json.dumps({
                                 "batch_id": batch_id, "file": raw.file_name,
                                 "sha256": raw.sha256, "domain": spec.domain, "status": status,
                                 "rows_in": prepared.rows_in, "rows_loaded": loaded,
                                 "rows_quarantined": quarantined, "superseded": superseded}))
    log.info("ingested %s as batch %d (%s): %d rows, %d quarantined, write %.2f s",
             raw.file_name, batch_id, spec.domain, loaded, quarantined,
             time.perf_counter() - started)
    return BatchResult(raw.file_name, raw.sha256, spec.domain, prepared.rows_in, loaded,
                       quarantined, status, reason, study_id, batch_id, tuple(superseded))


def _create_study(con, study: StudyConfig, actor: str, at) -> None:
    """The study and its cohorts from the configuration, recorded as a CONFIG batch."""
    batch_id = queries.database.next_batch_id(con)
    rows = 1 + len(study.cohorts)
    queries.database.insert_frame(con, "ingest_batch", pd.DataFrame([{
        "batch_id": batch_id, "study_id": study.study_id,
        "file_name": f"{study.study_id} study configuration", "sha256": study.source_sha256,
        "domain": "CONFIG", "rows_in": rows, "rows_loaded": rows, "rows_quarantined": 0,
        "status": "loaded", "reason": None, "loaded_by": actor, "loaded_at": at,
    }]))
    queries.studies.record_study(con, study, batch_id)
    log.info("created study %s with %d cohorts from its configuration", study.study_id,
             len(study.cohorts))
