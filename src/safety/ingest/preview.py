"""What loading a delivered file would do, computed without loading it (the Data page's preview).

The file is read, put into SDTM shape by the same step as a load (``translate.to_sdtm``: the
study's mapping, ADaM) and validated against the study's current DM by the same rules; nothing
is written. The preview says which SDTM variables the file provides and how (as delivered,
mapped, local codes mapped), which required ones are missing, and how many rows would be
quarantined and why.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from safety import store
from safety.access import User
from safety.config import StudyConfig, find_study_config, stored_study_config
from safety.errors import ConfigError, IngestError, StoreError
from safety.ingest.adam import detect_standard
from safety.ingest.load import require_ingest, study_of, validate_dataset
from safety.ingest.mapping import column_table, mapping_for
from safety.ingest.readers import identifier, read_dataset
from safety.ingest.translate import to_sdtm
from safety.store import queries

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryPreview:
    """One file's preview.

    ``standard``: SDTM, ADaM (full matches) or non-standard. ``columns``: sdtm_variable, delivered_column, how, required (``mapping.column_table``).
    ``rows_in`` / ``rows_quarantined``: rows read and rows validation would quarantine;
    ``reasons``: reason, rows. ``refused``: why the file would be refused as a whole (None: it
    would load). ``translated_from``: the mapping or ADaM dataset applied.
    """

    file_name: str
    study_id: str | None
    standard: str | None
    domain: str | None
    translated_from: str | None
    columns: pd.DataFrame
    rows_in: int
    rows_quarantined: int
    reasons: pd.DataFrame
    refused: str | None = None


def _study_and_subjects(db, study_id: str) -> tuple[StudyConfig | None, pd.DataFrame]:
    subjects = pd.DataFrame({"usubjid": pd.Series(dtype="str"),
                             "first_dose_date": pd.Series(dtype="datetime64[us]")})
    stored = None
    try:
        with store.read_connection(db, rules=False) as con:
            stored = queries.studies.study_config_text(con, study_id)
            subjects = queries.ingest.current_subjects(con, study_id)
    except StoreError:  # no database yet: the study would be created from its configuration
        pass
    try:
        study = (stored_study_config(stored, study_id) if stored is not None
                 else find_study_config(study_id))
    except ConfigError:
        study = None
    return study, subjects.set_index("usubjid")


def preview_upload(name: str, data: bytes, db, study_id: str | None, user: User
                   ) -> DeliveryPreview:
    """The preview of one uploaded file as ``user`` (who must be allowed to load into it)."""
    require_ingest(user, study_id)
    safe_name = Path(name).name or "upload"
    empty = pd.DataFrame(columns=["reason", "rows"])
    with tempfile.TemporaryDirectory(prefix="safety-preview-") as tmp:
        path = Path(tmp) / safe_name
        path.write_bytes(data)
        try:
            raw = read_dataset(path, safe_name)
        except IngestError as exc:
            return DeliveryPreview(safe_name, study_id, None, None, None,
                                   column_table([], None, None), 0, 0, empty, str(exc))
    study_id = study_id or study_of(raw)
    if study_id is not None and identifier(study_id) != study_id:
        study_id = None
    study, subjects = (None, None) if study_id is None else _study_and_subjects(db, study_id)
    if study_id is not None:
        require_ingest(user, study_id)
    mapping = mapping_for(list(raw.frame.columns), study) if study is not None else None
    sdtm = to_sdtm(raw, study)
    standard = detect_standard(raw)
    domain = detect_standard(sdtm).domain
    if sdtm.translated_from and mapping is not None:
        columns = column_table(list(raw.frame.columns), domain, mapping)
    else:
        columns = column_table(list(sdtm.frame.columns), domain, None)
    shown = standard.standard if standard.match == "full" else "non-standard"
    base = dict(file_name=safe_name, study_id=study_id, standard=shown,
                domain=domain, translated_from=sdtm.translated_from, columns=columns,
                rows_in=len(sdtm.frame))
    if study is None:
        why = ("it names no study (STUDYID); choose the study to load into" if study_id is None
               else f"there is no configuration for study {study_id}")
        return DeliveryPreview(**base, rows_quarantined=0, reasons=empty, refused=why)
    try:
        prepared = validate_dataset(sdtm, study, subjects)
    except IngestError as exc:
        return DeliveryPreview(**base, rows_quarantined=0, reasons=empty, refused=str(exc))
    reasons = (prepared.quarantine.groupby("reason").size().rename("rows").reset_index()
               .sort_values("rows", ascending=False, kind="stable"))
    return DeliveryPreview(**base, rows_quarantined=len(prepared.quarantine), reasons=reasons)
