"""Loading: one delivered file -> one batch, all or nothing, without holding the database long.

The order of work keeps the write lock short (DuckDB lets one process write and then locks every
other process out, readers included: ../shared/STACK.md section 5):

1. read the file, find its domain and study, check its columns (no database needed);
2. is this content already loaded or held? is the study known? which subjects are in DM?;
3. map and validate every row (``prepare.py``; a large file chunk by chunk, in bounded memory;
   dates outside the plausible range of the delivery day are quarantined like any bad value);
4. one short read-write transaction: insert the batch, its rows and its quarantined rows; make
   it the domain's new cut (cumulative: it replaces the current cut; incremental: the current
   cut's records it does not deliver are carried into it); re-derive subject status, lab grades
   and the data cut-off; compare the study before and after (``compare.py``). A comparison
   beyond the protocol's tolerances rolls the transaction back and the file is **held**
   instead (``holds.py``): kept with its comparison until a data manager confirms or rejects it.

Steps 2 and 3 run in a read-only connection before the write for a large file, so the write lock
is held only for step 4; a small file (:data:`VALIDATE_INSIDE_ROWS`) runs them inside the write
transaction, saving a connection. If DM changed between steps 2 and 4 (another process loaded
one), step 3 is redone. A process
killed at any moment leaves the database as before or as after step 4: DuckDB replays only
committed transactions from its write-ahead log. The batch row itself records that its alerts
are due (``alert_state.evaluated_batch`` is older): the next process completes them
(``safety.pipeline``).

After a DM loads, quarantined rows of other domains that waited for their subject
(``not_in_dm``) are evaluated again (``reevaluate.py``). Files loaded together are ordered by
what they hold, not by their names (:func:`order_by_content`).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import pandas as pd

from safety import store
from safety.access import PERMISSIONS, Action, Signature, User, require
from safety.config import StudyConfig, find_study_config, stored_study_config
from safety.errors import ConfigError, IngestError
from safety.ingest import validate as v
from safety.ingest.compare import Comparison, breaches, compare, may_remove, picture
from safety.ingest.domains import DomainSpec
from safety.ingest.prepare import (
    Prepared,
    Reevaluation,
    domain_spec,
    prepare,
    prepare_streamed,
)
from safety.ingest.readers import RawDataset, identifier
from safety.ingest.translate import to_sdtm
from safety.store import audit, queries, schema, staging
from safety.store.staging import StagedRows

log = logging.getLogger(__name__)

Status = Literal["loaded", "duplicate", "rejected", "held"]
MAX_ATTEMPTS = 3  # re-validations when another process changes DM while we prepare
VALIDATE_INSIDE_ROWS = 20_000  # up to this many rows, validated inside the write transaction
WRITE_MEMORY_MB = 768  # DuckDB's buffers when writing a large file (grading, comparing)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What happened to one delivered file (the ``ingest --json`` record).

    Always ``rows_in == rows_loaded + rows_quarantined``; a duplicate, a held file or a file
    that could not be read counts 0 rows (nothing of it went in; a held file's rows are in its
    hold, ``comparison`` says what it would do). ``delivery`` is how the batch was applied
    (cumulative, incremental, reevaluation, retraction); ``rows_carried`` the records it kept
    from the cut it builds on. ``followed_by``: batches this one set off (DM: the re-evaluated
    quarantined rows of other domains).
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
    delivery: str | None = None
    rows_carried: int = 0
    hold_id: int | None = None
    comparison: Comparison | None = None
    followed_by: tuple[BatchResult, ...] = ()

    def to_json(self) -> dict:
        """The JSON record of DESIGN.md (plus study_id, batch_id, superseded, delivery,
        rows_carried, hold_id and comparison)."""
        record = {k: v for k, v in asdict(self).items() if k not in ("comparison", "followed_by")}
        record["superseded"] = list(self.superseded)
        record["comparison"] = self.comparison.to_json() if self.comparison else None
        return record


def flatten(results: Iterable[BatchResult]) -> list[BatchResult]:
    """Results in order with the batches each one set off right after it."""
    out: list[BatchResult] = []
    for r in results:
        out.append(r)
        out.extend(flatten(r.followed_by))
    return out


@dataclass(frozen=True)
class Confirmation:
    """A data manager's confirmation of a held delivery: who, why, and what they saw."""

    hold_id: int
    actor: str
    reason: str
    removals: dict  # Comparison.removals() of the hold as shown
    signature: Signature  # checked (access.check_signature) by holds.confirm_delivery


@dataclass(frozen=True)
class _Context:
    study: StudyConfig
    study_in_db: bool
    subjects: pd.DataFrame
    fingerprint: tuple
    duplicate_of: tuple[int, int | None, int] | None
    pending_hold: int | None


class _ContextChanged(Exception):
    """DM changed between validation and the write: validate again."""


class _Held(Exception):
    """The delivery broke the protocol's tolerances: roll back and hold it."""

    def __init__(self, comparison: Comparison, prepared: Prepared, study: StudyConfig,
                 changed: bool = False):
        super().__init__(comparison.summary())
        self.comparison, self.prepared, self.study = comparison, prepared, study
        self.changed = changed


# --- loading one dataset ------------------------------------------------------------------------

def load_dataset(raw: RawDataset, db: str | Path | None, study_id: str | None, user: User,
                 content: Callable[[], bytes], *, confirm: Confirmation | None = None,
                 reevaluation: Reevaluation | None = None) -> BatchResult:
    """Load a dataset already read (a file, a held delivery being confirmed, quarantined rows
    evaluated again) as ``user``, who must be allowed to load into its study (AccessDenied
    otherwise). ``content`` gives the bytes to keep if it is held."""
    name = raw.file_name
    study_id = study_id or study_of(raw)
    try:
        raw = to_sdtm(raw, _study_for_translation(study_id))
        spec = domain_spec(raw)
    except (ConfigError, IngestError) as exc:
        return rejected(name, raw.sha256, None, str(exc))
    domain = spec.domain
    if study_id is None:
        return rejected(name, raw.sha256, domain,
                        f"{name} has no STUDYID; give the study (--study)")
    if identifier(study_id) != study_id:
        return rejected(name, raw.sha256, domain,
                        f"{name} has a STUDYID that is not an identifier; give the study "
                        "(--study)")
    actor = require(user, Action.INGEST, study_id).id

    # A small file is validated inside its write transaction (one connection, ~40 ms less); a
    # large one outside it, so the write lock is held only for the write.
    inside = not raw.streamed and len(raw.frame) <= VALIDATE_INSIDE_ROWS
    for _attempt in range(MAX_ATTEMPTS):
        try:
            if inside:
                result = _write(db, raw, spec, study_id, None, None, actor, confirm,
                                reevaluation)
            else:
                with store.read_connection(db, rules=False) as con:
                    ctx = _read_context(con, study_id, raw.sha256)
                    columns = staging.table_columns(con, spec.table) if raw.streamed else None
                result = _early_result(raw, spec, ctx, confirm, reevaluation)
                if result is None and raw.streamed:
                    with tempfile.TemporaryDirectory(prefix="safety-ingest-") as folder:
                        prepared = prepare_streamed(raw, spec, ctx.study, ctx.subjects,
                                                    Path(folder), columns)
                        result = _write(db, raw, spec, study_id, ctx, prepared, actor,
                                        confirm, reevaluation)
                elif result is None:
                    prepared = prepare(raw, spec, ctx.study, ctx.subjects, reevaluation)
                    result = _write(db, raw, spec, study_id, ctx, prepared, actor, confirm,
                                    reevaluation)
        except (ConfigError, IngestError) as exc:
            return rejected(name, raw.sha256, domain, str(exc), identifier(study_id))
        except _ContextChanged:
            log.info("%s: DM changed while validating; validating again", name)
            continue
        except _Held as held:
            return _hold(db, raw, spec, held.study, held, actor, content, confirm)
        return result
    raise IngestError(f"{name}: DM kept changing while this file was validated; try again")


def _study_for_translation(study_id: str | None) -> StudyConfig | None:
    """The configuration whose mapping and ADaM settings translate the study's files (None:
    no study named or configured: an ADaM dataset is then read with the defaults)."""
    if study_id is None or identifier(study_id) != study_id:
        return None
    try:
        return find_study_config(study_id)
    except ConfigError:
        return None


def validate_dataset(raw: RawDataset, study: StudyConfig, subjects: pd.DataFrame) -> Prepared:
    """Map and validate a dataset in memory as a load would, without a database: the rows that
    would load and those that would be quarantined, with their reasons.

    ``subjects``: the study's DM subjects (index USUBJID, column first_dose_date). Raises
    IngestError as :func:`domain_spec`.
    """
    raw = raw.all_rows()
    return prepare(raw, domain_spec(raw), study, subjects)


def _early_result(raw: RawDataset, spec: DomainSpec, ctx: _Context,
                  confirm: Confirmation | None, reevaluation: Reevaluation | None
                  ) -> BatchResult | None:
    """A duplicate or an already held file needs no work (None: load it)."""
    study_id = ctx.study.study_id
    if ctx.duplicate_of is not None and confirm is None and reevaluation is None:
        batch, _, open_rows = ctx.duplicate_of
        if not open_rows:
            return _duplicate(raw.file_name, raw.sha256, spec.domain, study_id, ctx.duplicate_of)
        log.info("%s: identical to batch %d, whose %d quarantined rows are still waiting for "
                 "their DM: loading it again", raw.file_name, batch, open_rows)
    if ctx.pending_hold is not None and confirm is None:
        return _already_held(raw.file_name, raw.sha256, spec.domain, study_id, ctx.pending_hold)
    if len(raw.frame) == 0:  # a streamed file's first rows: none means none at all
        return rejected(raw.file_name, raw.sha256, spec.domain,
                        f"{raw.file_name} has no data rows", study_id)
    return None


# --- steps --------------------------------------------------------------------------------------

def require_ingest(user: User | None, study_id: str | None = None) -> None:
    """Refuse at once a user who may not load into the study, or (no study given yet) into any."""
    if study_id or not (
        isinstance(user, User) and any(Action.INGEST in PERMISSIONS[g.role] for g in user.grants)
    ):
        require(user, Action.INGEST, study_id)


def study_of(raw: RawDataset) -> str | None:
    if "STUDYID" not in raw.frame.columns:
        return None
    ids = v.text(raw.frame, "STUDYID").dropna()
    return str(ids.mode().iloc[0]) if len(ids) else None


def rejected(name: str, sha: str, domain: str | None, reason: str,
              study_id: str | None = None) -> BatchResult:
    log.info("rejected %s", reason)  # the caller reports it: the CLI prints one line
    return BatchResult(name, sha, domain, 0, 0, 0, "rejected", reason, study_id)


def _duplicate(name: str, sha: str, domain: str, study_id: str,
               earlier: tuple[int, int | None, int]) -> BatchResult:
    batch, superseded_by, _ = earlier
    later = f", since superseded by batch {superseded_by}" if superseded_by else ""
    reason = f"identical content was loaded as batch {batch}{later}; nothing changed"
    log.info("%s: %s", name, reason)
    return BatchResult(name, sha, domain, 0, 0, 0, "duplicate", reason, study_id, batch)


def _already_held(name: str, sha: str, domain: str, study_id: str, hold_id: int) -> BatchResult:
    reason = (f"identical content is already held as delivery {hold_id}, pending confirmation "
              f"(python -m safety ingest --confirm {hold_id} --reason ..., or the Data page)")
    return BatchResult(name, sha, domain, 0, 0, 0, "held", reason, study_id, hold_id=hold_id)


def _read_context(con, study_id: str, sha: str) -> _Context:
    """What validation needs from the database (read on any connection)."""
    study_id = queries.ingest.known_study_id(con, study_id) or study_id
    duplicate = queries.ingest.loaded_batch_with_hash(con, study_id, sha)
    held = queries.deliveries.pending_hold_with_hash(con, study_id, sha)
    stored = queries.studies.study_config_text(con, study_id)
    subjects = queries.ingest.current_subjects(con, study_id)
    fingerprint = queries.ingest.subjects_fingerprint(con, study_id)
    if stored is not None:
        study = stored_study_config(stored, study_id)
    else:
        study = find_study_config(study_id)
    subjects = subjects.set_index("usubjid")
    return _Context(study, stored is not None, subjects, fingerprint, duplicate, held)


def _write(db: str | Path | None, raw: RawDataset, spec: DomainSpec, study_id: str,
           ctx: _Context | None, prepared: Prepared | None, actor: str,
           confirm: Confirmation | None, reevaluation: Reevaluation | None) -> BatchResult:
    """The write transaction; with ``ctx`` None the context is read and the rows validated in
    it, else the context read before (and the rows validated with it) is checked to still hold
    (DM unchanged)."""
    started = time.perf_counter()
    with store.write_connection(db, rules=False) as con:  # apply_batch installs them if needed
        if prepared is not None and isinstance(prepared.rows, StagedRows):
            queries.database.limit_memory(con, WRITE_MEMORY_MB)  # spills to <db>.tmp
        if ctx is None:
            ctx = _read_context(con, study_id, raw.sha256)
            early = _early_result(raw, spec, ctx, confirm, reevaluation)
            if early is not None:
                return early
        else:
            if confirm is None and reevaluation is None:
                duplicate = queries.ingest.loaded_batch_with_hash(con, ctx.study.study_id,
                                                                  raw.sha256)
                if duplicate is not None and not duplicate[2]:  # loaded by another meanwhile
                    return _duplicate(raw.file_name, raw.sha256, spec.domain,
                                      ctx.study.study_id, duplicate)
            if spec.domain != "DM" and queries.ingest.subjects_fingerprint(
                    con, ctx.study.study_id) != ctx.fingerprint:
                raise _ContextChanged
        study = ctx.study
        study_id = study.study_id
        delivery = ("reevaluation" if reevaluation is not None and reevaluation.merge
                    else study.delivery.delivery_type(spec.domain))
        if prepared is None:
            prepared = prepare(raw, spec, ctx.study, ctx.subjects, reevaluation)
        at = store.now()
        if queries.studies.study_config_text(con, study_id) is None:
            _create_study(con, study, actor, at)
        applied = apply_batch(
            con, study, spec, prepared, file_name=raw.file_name, sha256=raw.sha256,
            actor=actor, at=at, delivery=delivery,
            hold_id=confirm.hold_id if confirm else None)
        comparison = applied.comparison
        if applied.status == "loaded" and delivery != "reevaluation":  # a merge only adds
            found = breaches(comparison, study.delivery)
            comparison = replace(comparison, breaches=found)
            if confirm is not None and comparison.removals() != confirm.removals:
                raise _Held(comparison, prepared, study, changed=True)
            if found and confirm is None:
                raise _Held(comparison, prepared, study)
        if reevaluation is not None:
            queries.deliveries.mark_reevaluated(con, list(reevaluation.quarantine_ids),
                                                applied.batch_id)
        if confirm is not None:
            queries.deliveries.decide_hold(con, confirm.hold_id, status="confirmed",
                                           actor=confirm.actor, at=at, reason=confirm.reason,
                                           batch_id=applied.batch_id)
        if applied.status == "loaded" and delivery == "cumulative":
            for hold_id in queries.deliveries.pending_holds_of_domain(con, study_id, spec.domain):
                queries.deliveries.decide_hold(
                    con, hold_id, status="superseded", actor=actor, at=at,
                    reason=f"a later {spec.domain} delivery was loaded as batch "
                           f"{applied.batch_id}", batch_id=applied.batch_id)
        detail = {
            "batch_id": applied.batch_id, "file": raw.file_name, "sha256": raw.sha256,
            "domain": spec.domain, "status": applied.status, "delivery": delivery,
            "rows_in": prepared.rows_in, "rows_loaded": applied.rows_loaded,
            "rows_quarantined": applied.rows_quarantined, "rows_carried": applied.carried,
            "superseded": list(applied.superseded),
            **({"reevaluated": list(reevaluation.quarantine_ids)} if reevaluation else {}),
            "comparison": comparison.to_json()}
        if confirm is None:
            queries.database.record_audit(con, actor=actor, action="ingest.load", at=at,
                                          study_id=study_id, detail=json.dumps(detail))
        else:  # a signed act: the signature covers the batch the hold became
            audit.record_signed_act(
                con, confirm.signature, signature_id=queries.signatures.next_signature_id(con),
                record_table="ingest_batch", record_id=applied.batch_id,
                action="delivery.confirm", at=at, study_id=study_id,
                detail={**detail, "hold_id": confirm.hold_id, "reason": confirm.reason})
    log.info("ingested %s as batch %d (%s, %s): %d rows, %d quarantined, %d carried, write %.2f s",
             raw.file_name, applied.batch_id, spec.domain, delivery, applied.rows_loaded,
             applied.rows_quarantined, applied.carried, time.perf_counter() - started)
    return BatchResult(raw.file_name, raw.sha256, spec.domain, prepared.rows_in,
                       applied.rows_loaded, applied.rows_quarantined, applied.status,
                       applied.reason, study_id, applied.batch_id, applied.superseded, delivery,
                       applied.carried, confirm.hold_id if confirm else None, comparison)


@dataclass(frozen=True)
class Applied:
    """A batch written inside a transaction (not yet committed) and what it changed."""

    batch_id: int
    status: Status
    reason: str | None
    rows_loaded: int
    rows_quarantined: int
    carried: int
    superseded: tuple[int, ...]
    comparison: Comparison


def apply_batch(con, study: StudyConfig, spec: DomainSpec, prepared: Prepared, *,
                file_name: str, sha256: str, actor: str, at, delivery: str,
                hold_id: int | None = None) -> Applied:
    """Write one batch inside the caller's transaction and make it the domain's new cut.

    Cumulative: the batch replaces the current cut. Incremental and re-evaluation: the current
    cut's records whose key the batch does not deliver are carried into it first. A batch whose
    every row failed is recorded as rejected (its rows in quarantine) and changes no cut. Then
    subject status, lab grades and the data cut-off follow, and the study is compared with how
    it was before (``compare.compare``).
    """
    study_id = study.study_id
    loaded, quarantined = len(prepared.rows), len(prepared.quarantine)
    status: Status = "loaded" if loaded else "rejected"
    reason = None if loaded else "every row failed validation; see the quarantine"
    current = queries.deliveries.current_batches(con, study_id, spec.domain) if loaded else []
    batch_id = queries.database.next_batch_id(con)
    # written as rejected (not current) first: the current cut stays what readers see until the
    # comparison below has looked at both
    queries.database.insert_frame(con, "ingest_batch", pd.DataFrame([{
        "batch_id": batch_id, "study_id": study_id, "file_name": file_name, "sha256": sha256,
        "domain": spec.domain, "rows_in": prepared.rows_in, "rows_loaded": loaded,
        "rows_quarantined": quarantined, "status": "rejected", "reason": reason,
        "loaded_by": actor, "loaded_at": at, "delivery": delivery, "hold_id": hold_id,
    }]))
    if isinstance(prepared.rows, StagedRows):
        staging.insert_staged(con, spec.table, prepared.rows, batch_id)
    else:
        queries.database.insert_frame(con, spec.table, prepared.rows.assign(batch_id=batch_id))
    queries.database.insert_frame(con, "quarantine", prepared.quarantine.assign(
        batch_id=batch_id, study_id=study_id, domain=spec.domain))
    carried, difference, before = 0, None, None
    if current:
        if delivery in ("incremental", "reevaluation"):
            carried = queries.deliveries.carry_forward(con, study_id, spec.domain, current,
                                                       batch_id)
            queries.ingest.record_carried(con, batch_id, carried, max(current))
        difference = {**queries.deliveries.cut_difference(con, study_id, spec.domain, current,
                                                          batch_id), "batch_id": batch_id}
        if may_remove(spec.domain, difference):
            schema.install_rules(con)  # the write connection opens without them: most
            before = picture(con, study_id)  # deliveries only add records and need no picture
    if loaded and prepared.sponsor is not None:
        queries.database.insert_frame(con, "sponsor_value", prepared.sponsor.assign(
            batch_id=batch_id, study_id=study_id, domain=spec.domain))
    if loaded:
        queries.ingest.mark_loaded(con, batch_id)
        if current:
            queries.deliveries.supersede(con, current, batch_id)
        refresh_derived(con, study_id, spec.domain)
    comparison = compare(
        con, study_id, spec.domain, delivery, current, difference, before,
        rows_in=prepared.rows_in, rows_quarantined=quarantined,
        quarantine_rules=prepared.rule_counts)
    return Applied(batch_id, status, reason, loaded, quarantined, carried, tuple(current),
                   comparison)


def refresh_derived(con, study_id: str, domain: str) -> None:
    """What follows a new cut of a domain: the subjects no longer in DM (DM), subject status
    (DM, DS), CTCAE grades (DM, LB, SUPPDM: they depend on labs, first-dose dates and INR
    anticoagulation flags; only the subjects whose grades can have changed, every subject for a
    SUPPDM), the study's data cut-off."""
    if domain == "DM":  # records of subjects this DM no longer has stop being current
        queries.ingest.refresh_removed_subjects(con, study_id)
    if domain in {"DM", "DS"}:
        queries.ingest.refresh_subject_status(con, study_id)
    if domain in {"DM", "LB", "SUPPDM"} and queries.ingest.has_labs(con, study_id):  # ~0.4 s even empty
        queries.labs.refresh_lab_grades(con, study_id, whole_study=domain == "SUPPDM")
    queries.ingest.refresh_data_cutoff(con, study_id)


def _hold(db: str | Path | None, raw: RawDataset, spec: DomainSpec, study: StudyConfig,
          held: _Held, actor: str, content: Callable[[], bytes],
          confirm: Confirmation | None) -> BatchResult:
    """Keep a delivery that broke the tolerances, with its content and comparison (nothing of
    it is in the clinical tables); or, for a confirmation that no longer matches the data, show
    the hold its new comparison."""
    study_id, comparison, prepared = study.study_id, held.comparison, held.prepared
    delivery = study.delivery.delivery_type(spec.domain)
    record = {"reason": comparison.summary(), "comparison": json.dumps(comparison.to_json()),
              "rows_loaded": len(prepared.rows), "rows_quarantined": len(prepared.quarantine)}
    at = store.now()
    if confirm is not None and held.changed:
        with store.write_connection(db) as con:
            queries.deliveries.update_hold_comparison(con, confirm.hold_id, **record)
            _audit_hold(con, confirm.actor, at, study_id, confirm.hold_id, raw, comparison,
                        "compared again: the data changed since it was held")
        reason = (f"the current data changed since delivery {confirm.hold_id} was held; its "
                  f"comparison is updated ({comparison.summary()}): review it and confirm again")
        return BatchResult(raw.file_name, raw.sha256, spec.domain, 0, 0, 0, "held", reason,
                           study_id, delivery=delivery, hold_id=confirm.hold_id,
                           comparison=comparison)
    try:
        data = content()
    except IngestError as exc:
        return rejected(raw.file_name, raw.sha256, spec.domain, str(exc), study_id)
    with store.write_connection(db) as con:
        existing = queries.deliveries.pending_hold_with_hash(con, study_id, raw.sha256)
        if existing is not None:  # another process held it meanwhile
            return _already_held(raw.file_name, raw.sha256, spec.domain, study_id, existing)
        hold_id = queries.deliveries.record_hold(con, {
            "study_id": study_id, "file_name": raw.file_name, "sha256": raw.sha256,
            "domain": spec.domain, "delivery": delivery, "rows_in": prepared.rows_in,
            "content": data, "held_by": actor, "held_at": at, **record})
        _audit_hold(con, actor, at, study_id, hold_id, raw, comparison, "held")
    log.info("held %s as delivery %d: %s", raw.file_name, hold_id, comparison.summary())
    reason = (f"held pending confirmation as delivery {hold_id}: {comparison.summary()}; "
              f"confirm it (python -m safety ingest --confirm {hold_id} --reason ...) or reject "
              "it (--reject), or on the Data page")
    return BatchResult(raw.file_name, raw.sha256, spec.domain, 0, 0, 0, "held", reason,
                       study_id, delivery=delivery, hold_id=hold_id, comparison=comparison)


def _audit_hold(con, actor: str, at, study_id: str, hold_id: int, raw: RawDataset,
                comparison: Comparison, what: str) -> None:
    queries.database.record_audit(
        con, actor=actor, action="ingest.hold", at=at, study_id=study_id,
        detail=json.dumps({"hold_id": hold_id, "file": raw.file_name, "sha256": raw.sha256,
                           "what": what, "comparison": comparison.to_json()}))


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
