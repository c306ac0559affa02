"""DSMB reports: a frozen data cut of one study, as PDF, XLSX, CSV and HTML with a manifest.

``python -m safety report --study ID --cutoff YYYY-MM-DD --out DIR [--closed]`` calls
:func:`generate_report`:

1. :mod:`.snapshot` freezes the study at the cut-off (records dated on or before it, as
   delivered at the freeze point; see that module for what "known by the cut-off" means) into
   an in-memory copy;
2. :mod:`.tables` builds every table and figure from it with the pages' own functions;
3. the files are written: ``tables/*.csv`` (:mod:`.csv_files`), ``figures/*.png``
   (:mod:`.figures`, kaleido), the workbook (:mod:`.xlsx`), the PDF (:mod:`.pdf`), the HTML
   page (:mod:`.html`), and ``manifest.json`` (:mod:`.manifest`) with every file's sha256;
4. the snapshot is recorded in the ``snapshot`` table with its content hash, the
   configuration's sha256, the software version and the manifest.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from safety import __version__, files, store
from safety.access import Action, Signature, User, check_signature, require
from safety.config import StudyConfig, stored_study_config
from safety.errors import AuditError, StoreError
from safety.report import csv_files, figures, manifest, snapshot
from safety.report.snapshot import FreezePoint
from safety.report.tables import KINDS, Kind, ReportContent, report_content
from safety.store import audit, queries

log = logging.getLogger(__name__)

__all__ = ["ReportResult", "build_content", "generate_report", "record_report_view",
           "sign_off_report", "KINDS"]


@dataclass(frozen=True)
class ReportResult:
    """What :func:`generate_report` wrote."""

    folder: Path
    manifest: dict
    snapshot_id: int | None
    content: ReportContent
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def content_sha256(self) -> str:
        return self.manifest["content_sha256"]

    def file(self, suffix: str) -> Path:
        """The report file ending in ``suffix`` (".pdf", ".xlsx", ".html")."""
        for entry in self.manifest["files"]:
            if entry["path"].endswith(suffix) and "/" not in entry["path"]:
                return self.folder / entry["path"]
        raise KeyError(suffix)


def load_study(con, study_id: str) -> StudyConfig:
    """The stored configuration of a study, matched case-insensitively; StoreError if unknown."""
    all_studies = queries.studies.studies(con)
    match = all_studies[all_studies["study_id"].str.lower() == study_id.lower()]
    if match.empty:
        known = ", ".join(all_studies["study_id"]) or "none"
        raise StoreError(f"no study {study_id!r} in the database (studies: {known})")
    row = match.iloc[0]
    return stored_study_config(row["config_toml"], row['study_id'])


def build_content(
    db: str | Path | None,
    study_id: str,
    cutoff: date,
    kind: Kind,
    refreeze: bool = False,
    user: User | None = None,
) -> tuple[ReportContent, StudyConfig, FreezePoint]:
    """Freeze the study at the cut-off and build the report's tables and figures (no files).

    The user must be allowed to build reports and to see the report's data (by cohort for the
    closed one); the audit trail must be intact, since the report vouches for it.
    """
    with store.read_connection(db) as con:
        config = load_study(con, study_id)
        require(user, Action.BUILD_REPORT, config.study_id)
        require(user, Action.VIEW_CLOSED if kind == "closed" else Action.VIEW_OPEN,
                config.study_id)  # fmt: skip
        check = audit.verify_audit_trail(con)
        if not check.ok:
            raise AuditError(f"a report cannot vouch for a broken trail: {check.describe()}")
        point = snapshot.freeze_point(con, config.study_id, cutoff, refreeze=refreeze)
        frozen = snapshot.frozen_database(con, config.study_id, point)
    try:
        return report_content(frozen, config, cutoff, kind), config, point
    finally:
        frozen.close()


def file_stem(study_id: str, cutoff: date, kind: Kind) -> str:
    """``dsmb-closed-NCT04232592-2021-01-15``: the name of the PDF, XLSX and HTML."""
    return f"dsmb-{kind}-{study_id}-{cutoff.isoformat()}"


def generate_report(
    study_id: str,
    cutoff: date,
    out: str | Path,
    kind: Kind = "open",
    db: str | Path | None = None,
    refreeze: bool = False,
    user: User | None = None,
    record: bool = True,
) -> ReportResult:
    """Freeze the data cut and write the report folder; record the snapshot.

    Parameters
    ----------
    study_id
        The study (case-insensitive).
    cutoff
        The data cut-off: records dated on or before it count. Not after today.
    out
        The report folder (created; files of the same names are replaced).
    kind
        "open" (pooled over cohorts, no listings) or "closed" (by cohort, listings).
    db
        The database (default: ``$SAFETY_DB``, else ``data/safety.duckdb``).
    refreeze
        Take the data as they stand now instead of the first report's freeze point.
    user
        Who asks for it: a safety officer, DSMB member (open or closed) or sponsor (open).
    record
        Store the snapshot in the database (the dashboard's preview passes False).

    Raises
    ------
    StoreError
        Unknown study, no data, or a cut-off after today.
    AccessDenied
        The user may not build this report.
    AuditError
        The audit trail is broken.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    if cutoff > date.today():
        raise StoreError(f"the cut-off {cutoff} is after today: no data can be known by then")
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    content, config, point = build_content(db, study_id, cutoff, kind, refreeze, user)
    seconds["freeze_and_tables"] = time.perf_counter() - started

    folder = Path(out)
    for part in (folder, folder / "tables", folder / "figures"):
        part.mkdir(parents=True, exist_ok=True)
        files.restrict(part)
    csvs = {t.key: csv_files.table_csv(t) for t in content.tables}
    specs = {f.key: figures.figure_spec(f.figure) for f in content.figures}
    content_sha256 = snapshot.content_hash(
        [(f"tables/{k}.csv", v) for k, v in csvs.items()]
        + [(f"figures/{k}.json", v) for k, v in specs.items()]
    )
    paths = csv_files.write_csvs(content.tables, folder / "tables")

    mark = time.perf_counter()
    images = {f.key: figures.to_png(f.figure) for f in content.figures}
    for key, png in images.items():
        path = folder / "figures" / f"{key}.png"
        path.write_bytes(png)
        paths.append(path)
    seconds["figures"] = time.perf_counter() - mark

    created = point.data_as_of or datetime.combine(cutoff, datetime.min.time())
    facts = {
        "Report": "closed (by cohort, with listings)" if kind == "closed"
        else "open (all cohorts pooled)",
        "Data version": point.describe(dlt=config.is_escalation),
        "Report date": f"{created:%Y-%m-%d %H:%M} UTC: the last data arrival included, fixed "
        "so that the same data give the same files",
        "Design": config.design.name.upper() if config.design else "none (safety monitoring only)",
        "Content hash (sha256)": content_sha256,
        "Configuration sha256": config.source_sha256,
        "Software": f"safety {__version__}",
    }  # fmt: skip
    stem = file_stem(config.study_id, cutoff, kind)
    mark = time.perf_counter()
    from safety.report import html, pdf, xlsx  # the document writers: only when writing one

    paths.append(xlsx.write_xlsx(content, folder / f"{stem}.xlsx", facts, created))
    paths.append(pdf.write_pdf(content, folder / f"{stem}.pdf", images, facts, created))
    paths.append(html.write_html(content, folder / f"{stem}.html", images, facts))
    seconds["documents"] = time.perf_counter() - mark

    header = {
        "study_id": config.study_id,
        "title": config.title,
        "kind": kind,
        "cutoff": cutoff.isoformat(),
        "cutoff_rule": "records dated on or before the cut-off, as delivered at the freeze point",
        "freeze": point.to_json() | {"reused_from_first_report": None},
        "content_sha256": content_sha256,
        "config_sha256": config.source_sha256,
        "software": {"safety": __version__, **figures.renderer_versions()},
        "tables": [
            {"key": t.key, "title": t.title, "section": t.section, "rows": len(t.frame),
             "by_cohort": t.by_cohort, "listing": t.listing}  # fmt: skip
            for t in content.tables
        ],
        "figures": [
            {"key": f.key, "title": f.title, "spec_sha256": snapshot.sha256_bytes(specs[f.key])}
            for f in content.figures
        ],
    }
    header["freeze"].pop("reused_from_first_report")  # differs between runs: not in the file
    doc = manifest.build_manifest(folder, paths, header)
    for path in [*paths, manifest.write_manifest(folder, doc)]:
        files.restrict(path)

    snapshot_id = None
    if record:
        with store.write_connection(db) as con:
            at, actor = store.now(), user.id
            snapshot_id = queries.snapshot.record_snapshot(
                con,
                study_id=config.study_id,
                cutoff=cutoff,
                kind=kind,
                created_at=at,
                created_by=actor,
                content_sha256=content_sha256,
                config_sha256=config.source_sha256,
                software_version=__version__,
                manifest=json.dumps(doc, sort_keys=True),
            )
            queries.database.record_audit(
                con, actor=actor, action="report.build", at=at, study_id=config.study_id,
                detail=json.dumps({"snapshot_id": snapshot_id, "kind": kind,
                                   "cutoff": cutoff.isoformat(),
                                   "content_sha256": content_sha256}),
            )  # fmt: skip
    seconds["total"] = time.perf_counter() - started
    log.info(
        "%s report of %s at %s written to %s in %.1f s (content %s)",
        kind, config.study_id, cutoff, folder, seconds["total"], content_sha256[:12],
    )  # fmt: skip
    return ReportResult(folder, doc, snapshot_id, content, seconds)


def record_report_view(db: str | Path | None, user: User, snapshot_id: int) -> int:
    """Record that ``user`` was shown a report (closed reports: who saw the committee's data);
    returns the audit entry's id."""
    with store.write_connection(db) as con:
        study_id, kind, cutoff = _snapshot(con, snapshot_id)
        require(user, Action.VIEW_CLOSED if kind == "closed" else Action.VIEW_OPEN, study_id)
        return queries.database.record_audit(
            con, actor=user.id, action="report.view", at=store.now(), study_id=study_id,
            detail=json.dumps({"snapshot_id": snapshot_id, "kind": kind, "cutoff": cutoff}),
        )  # fmt: skip


def sign_off_report(
    db: str | Path | None, user: User, snapshot_id: int, signature: Signature | None = None
) -> int:
    """Sign off a built report: the safety officer's electronic signature, meaning "I approve
    this DSMB report for release to the committee", over the snapshot (its content hash and
    manifest); returns the signature's id.

    Raises AccessDenied (not a safety officer of the study) or SignatureError.
    """
    at = store.now()
    with store.write_connection(db) as con:
        study_id, kind, cutoff = _snapshot(con, snapshot_id)
        require(user, Action.SIGN_REPORT, study_id)
        signature = check_signature(signature, user, "report.sign", now=at)
        signature_id = queries.signatures.next_signature_id(con)
        audit.record_signed_act(
            con, signature, signature_id=signature_id, record_table="snapshot",
            record_id=snapshot_id, action="report.sign", at=at, study_id=study_id,
            detail={"snapshot_id": snapshot_id, "kind": kind, "cutoff": cutoff},
        )  # fmt: skip
    log.info("report snapshot %d signed off by %s", snapshot_id, user.id)
    return signature_id


def _snapshot(con, snapshot_id: int) -> tuple[str, str, str]:
    row = queries.snapshot.snapshot_summary(con, snapshot_id)
    if row is None:
        raise StoreError(f"no report snapshot {snapshot_id} in the database")
    study_id, kind, cutoff = row
    return study_id, kind, cutoff.isoformat()
