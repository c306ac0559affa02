"""Non-standard exports: a study's mapping from a delivery's columns and codes to SDTM.

Smaller sites' EDC exports name columns their own way (``SUBJECT``, ``PREF_TERM``) and code
values locally (``Yes``/``No``, ``Mild``). The study configuration says, per SDTM domain, which
delivered column holds each SDTM variable and which local code stands for which SDTM term
(``[mapping.AE]``, see ``config.DomainMapping``); this module turns that into the projection
``queries.translate`` runs, and previews it: which SDTM variables map, which are missing, how many
rows would be quarantined, before anything is loaded (the Data page).

Which mapping a file needs is read from its content, as for the standard (``adam.py``): the
mapping whose delivered columns the file has (all of them; else the one it has most of). A file
that already is SDTM (its domain's required variables present) keeps its names; only its
domain's local codes are translated. Applying a
mapping to rows already mapped (quarantined rows evaluated again) changes nothing: a rename
whose SDTM variable is present is skipped, and SDTM terms are not local codes.

References
----------
SafetyGraphics/safetyGraphics R/mod_mappingTab.R (the column mapping a user checks before the
charts run); CDISC SDTMIG v3.4 for the target variables and controlled terms.
"""

from __future__ import annotations

import pandas as pd

from safety.config import DomainMapping, StudyConfig
from safety.ingest.domains import DOMAINS
from safety.store.queries.translate import Projection


def mapping_for(columns: list[str], study: StudyConfig) -> DomainMapping | None:
    """The study's mapping a file with these columns needs (None: none applies)."""
    present = set(columns)
    scored = []
    for m in study.mappings:
        sources = set(m.columns.values())
        hits = len(sources & present)
        if hits:
            scored.append((hits == len(sources), hits, m))
    return max(scored, key=lambda s: (s[0], s[1]))[2] if scored else None


def mapping_projection(columns: list[str], mapping: DomainMapping) -> list[Projection]:
    """Every delivered column, renamed where the mapping says, with local codes translated; the
    DOMAIN constant when the export has none."""
    present = set(columns)
    renamed = {src: target for target, src in mapping.columns.items()
               if src in present and target not in present}
    out = []
    for column in columns:
        target = renamed.get(column, column)
        codes = mapping.codes.get(target, {})
        out.append(Projection(target, "codes" if codes else "copy", column, codes=codes))
    if "DOMAIN" not in {p.target for p in out}:
        out.append(Projection("DOMAIN", "constant", value=mapping.domain))
    return out


def column_table(columns: list[str], domain: str | None,
                 mapping: DomainMapping | None) -> pd.DataFrame:
    """Per SDTM variable: where it comes from in the delivery, or that it is missing."""
    present = set(columns)
    spec = DOMAINS.get(domain or "")
    required = list(spec.required) if spec else []
    named = list(mapping.columns) if mapping else []
    variables = list(dict.fromkeys([*required, *named, *(mapping.codes if mapping else [])]))
    rows = []
    for variable in variables:
        source = mapping.columns.get(variable) if mapping else None
        if source in present and variable not in present:
            column, how = source, "mapped"
        elif variable in present:
            column, how = variable, "as delivered"
        else:
            column, how = source, "missing"
        if how != "missing" and mapping and variable in mapping.codes:
            how += f", {len(mapping.codes[variable])} local code(s) mapped"
        rows.append({"sdtm_variable": variable, "delivered_column": column if how != "missing"
                     else None, "how": how, "required": variable in required})
    return pd.DataFrame(rows, columns=["sdtm_variable", "delivered_column", "how", "required"])
