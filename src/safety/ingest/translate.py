"""The one point where a delivered dataset becomes SDTM: between reading a file and validating it.

``to_sdtm`` is called by the loader (``load.load_dataset``) and the Data page's preview on every
dataset read, whatever its format: a study's mapping for a non-standard export first
(``mapping.py``: renamed columns, local codes), then an ADaM dataset's SDTM shape (``adam.py``).
Both are one SQL projection each (``queries.translate.project``) over the rows as read, so the
same step serves a reader that hands over a DuckDB relation. An SDTM file passes unchanged.
The sponsor's ADaM derivations travel beside the rows (``RawDataset.sponsor``) into table
``sponsor_value``; a quarantined row keeps the record as delivered (``RawDataset.delivered``),
so when it is evaluated again (its DM arrived) it is translated again, sponsor values included.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from safety.config import StudyConfig
from safety.ingest import adam, mapping
from safety.ingest.readers import RawDataset
from safety.store.queries.translate import project

log = logging.getLogger(__name__)


def to_sdtm(raw: RawDataset, study: StudyConfig | None) -> RawDataset:
    """The dataset in SDTM shape: mapped by the study's mapping when it needs one, translated
    from ADaM when it is ADaM, else as read. ``translated_from`` says what was done."""
    columns = list(raw.frame.columns)
    if study is not None:
        found = adam.detect_standard(raw)
        # full SDTM: only the local codes of its domain's mapping apply (its names are SDTM)
        chosen = ((study.mapping(found.domain) if found.standard == "SDTM" else None)
                  if found.match == "full" else mapping.mapping_for(columns, study))
        if chosen is not None:
            raw = raw.all_rows()  # a translated file is read whole (its chunks are not mapped)
            delivered = raw.frame
            frame = project(raw.frame, mapping.mapping_projection(columns, chosen))
            log.info("%s: mapped by the %s mapping of %s", raw.file_name, chosen.domain,
                     study.study_id)
            raw = replace(raw, frame=frame, translated_from=f"{chosen.domain} mapping",
                          delivered=delivered)
            columns = list(frame.columns)
    standard = adam.detect_standard(raw)
    if standard.standard != "ADaM" or standard.match != "full":
        return raw
    raw = raw.all_rows()
    delivered = raw.delivered if raw.delivered is not None else raw.frame
    dataset = adam.adam_dataset(standard.dataset)
    cohort_variable = study.adam_cohort_variable if study is not None else "ARM"
    frame = project(raw.frame, adam.adam_projection(dataset, columns, cohort_variable))
    log.info("%s: ADaM %s read as SDTM %s", raw.file_name, dataset.name, dataset.domain)
    return replace(raw, frame=frame, translated_from=dataset.name, delivered=delivered,
                   sponsor=adam.sponsor_values(raw.frame, frame, dataset))
