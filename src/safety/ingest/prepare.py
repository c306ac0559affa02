"""Preparing a delivery: its rows mapped to the data model and validated, before any write.

A dataset held whole is mapped and validated in one go (:func:`prepare`); a large file read in
chunks (``readers.py``) chunk by chunk, its rows that pass staged on disk (:func:`prepare_streamed`,
``store/staging.py``), so memory holds one chunk whatever the file's size. Both give the same
rows, rules, reasons and row numbers (tests/test_ingest_streamed.py).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from safety import store
from safety.config import StudyConfig
from safety.errors import IngestError
from safety.ingest import validate as v
from safety.ingest.domains import (
    DOMAINS,
    SORT_KEYS,
    DomainSpec,
    MappingContext,
    detect_domain,
    sort_for_table,
)
from safety.ingest.readers import RawDataset, identifier
from safety.store.staging import StagedRows, Staging

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """A dataset mapped and validated: what would load and what would not."""

    rows: pd.DataFrame | StagedRows  # mapped rows that passed every rule (staged: a large file)
    quarantine: pd.DataFrame  # row_number, raw_record, reason, rule, rules, previous_id
    rows_in: int
    rule_counts: dict[str, int] = field(default_factory=dict)
    sponsor: pd.DataFrame | None = None  # the sponsor's ADaM derivations (adam.sponsor_values)


@dataclass(frozen=True)
class Reevaluation:
    """Quarantined rows evaluated again: their ids and original row numbers, in frame order."""

    quarantine_ids: tuple[int, ...]
    row_numbers: tuple[int, ...]
    merge: bool  # onto the current cut (its rows were quarantined from it), else a new delivery


def domain_spec(raw: RawDataset) -> DomainSpec:
    """The loadable SDTM domain a dataset holds, with every required variable present.

    Raises
    ------
    IngestError
        When it names no domain, one this product does not load, or lacks required columns.
    """
    name, domain = raw.file_name, detect_domain(raw)
    if domain is None or domain not in DOMAINS:
        raise _not_loadable(name, domain)
    spec = DOMAINS[domain]
    missing = v.missing_columns(raw.frame, spec.required)
    if missing:
        raise IngestError(f"{name} ({domain}) lacks required columns: {', '.join(missing)}")
    return spec


def _not_loadable(name: str, domain: str | None) -> IngestError:
    what = ("does not say its SDTM domain (no DOMAIN)" if not domain else
            "mixes the domains " + ", ".join(map(identifier, domain[6:].split(",")))
            if domain.startswith("MIXED:") else f"holds domain {identifier(domain)}")
    return IngestError(f"{name} {what}; this product loads " + ", ".join(DOMAINS))


def prepare(raw: RawDataset, spec: DomainSpec, study: StudyConfig, subjects: pd.DataFrame,
            reevaluation: Reevaluation | None = None) -> Prepared:
    """Map and validate a dataset held whole in memory."""
    issues = _issues(raw.frame, study)
    mapped = _map(raw, raw.frame, spec, MappingContext(study, subjects), issues)
    rows, quarantine = _split(raw, raw.frame, mapped, issues, reevaluation)
    log.info("%s: mapped %d rows of %s", raw.file_name, len(raw.frame), spec.domain)
    return Prepared(rows=sort_for_table(rows, spec.table), quarantine=quarantine,
                    rows_in=len(raw.frame), rule_counts=issues.rule_counts(), sponsor=raw.sponsor)


def prepare_streamed(raw: RawDataset, spec: DomainSpec, study: StudyConfig,
                     subjects: pd.DataFrame, folder: Path, columns: dict[str, str]) -> Prepared:
    """Map and validate a file read in chunks, one chunk in memory at a time; the rows that
    pass are staged in ``folder`` (``store/staging.py``). A key repeated in two chunks is found
    only once all are read: then the file is validated again knowing which rows repeat a key
    (only for such a file), so every rule and reason is the same as for a file read whole."""
    duplicated = np.array([], dtype="int64")
    for known in (False, True):
        stage = Staging(folder, columns, SORT_KEYS.get(spec.table, ()))
        try:
            quarantined, counts, rows_in = [], Counter(), 0
            for chunk in raw.chunks():
                if "DOMAIN" in chunk.columns:  # the first rows named it; every row must agree
                    domains = {spec.domain, *v.text(chunk, "DOMAIN").dropna().str.upper().unique()}
                    if len(domains) > 1:
                        raise _not_loadable(raw.file_name, "MIXED:" + ",".join(sorted(domains)))
                issues = _issues(chunk, study, duplicated)
                mapped = _map(raw, chunk, spec, MappingContext(study, subjects), issues)
                rows, quarantine = _split(raw, chunk, mapped, issues, None)
                stage.add(rows, issues.keys)
                quarantined.append(quarantine)
                counts.update(issues.rule_counts())
                rows_in += len(chunk)
            if not known:
                found = stage.duplicated()
                if len(found):
                    log.info("%s: %d rows repeat a key across chunks; validating again",
                             raw.file_name, len(found))
                    duplicated = found
                    continue
            staged = stage.finish()
        finally:
            stage.close()
        break
    log.info("%s: mapped %d rows of %s in chunks", raw.file_name, rows_in, spec.domain)
    return Prepared(rows=staged, quarantine=pd.concat(quarantined, ignore_index=True),
                    rows_in=rows_in, rule_counts=dict(counts))


def _issues(frame: pd.DataFrame, study: StudyConfig, duplicated: np.ndarray | None = None
            ) -> v.Issues:
    rules = study.delivery
    return v.Issues(frame.index, v.PlausibleDates(
        store.now().date(), rules.future_days, rules.earliest_date), duplicated)


def _map(raw: RawDataset, frame: pd.DataFrame, spec: DomainSpec, ctx: MappingContext,
         issues: v.Issues) -> pd.DataFrame:
    try:
        return spec.mapper(frame, ctx, issues)
    except (pa.ArrowException, ValueError, TypeError, OverflowError, KeyError,
            IndexError) as exc:  # values no SDTM variable holds, met by a parser (logged)
        log.exception("%s: mapping failed", raw.file_name)
        raise IngestError(f"{raw.file_name} holds values that cannot be read as their SDTM "
                          f"variables ({type(exc).__name__}); see the log") from exc


def _split(raw: RawDataset, frame: pd.DataFrame, mapped: pd.DataFrame, issues: v.Issues,
           reevaluation: Reevaluation | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The mapped rows that passed every rule, and the quarantine rows of those that did not
    (raw record, reasons, row number in the file)."""
    bad = issues.bad
    reasons = issues.reasons()
    if bad.any():
        delivered = raw.delivered if raw.delivered is not None else frame  # as delivered
        records = delivered.loc[bad.to_numpy()].to_json(orient="records", lines=True,
                                                        date_format="iso")
        positions = reasons.index.to_numpy()
        quarantine = pd.DataFrame({
            "row_number": (positions + 1).astype("int64"),
            "raw_record": records.splitlines(),
            "reason": reasons["reason"].to_numpy(),
            "rule": reasons["rule"].to_numpy(),
            "rules": reasons["rules"].to_list(),
            "previous_id": pd.array([None] * len(positions), dtype="Int64"),
        })
        if reevaluation is not None:  # keep the original row numbers, link the history
            quarantine["row_number"] = [reevaluation.row_numbers[i] for i in positions]
            quarantine["previous_id"] = pd.array(
                [reevaluation.quarantine_ids[i] for i in positions], dtype="Int64")
        log.info("%s: %d of %d rows quarantined (%s)", raw.file_name, len(quarantine), len(frame),
                 ", ".join(f"{k} {n}" for k, n in issues.rule_counts().items()))
    else:
        quarantine = pd.DataFrame(columns=["row_number", "raw_record", "reason", "rule", "rules",
                                           "previous_id"])
    return mapped.loc[~bad.to_numpy()], quarantine
