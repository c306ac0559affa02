"""ADaM datasets (ADSL, ADAE, ADLB) in: which standard a file follows, and its SDTM shape.

A sponsor's statistician hands analysis datasets (ADaM) more often than tabulations (SDTM).
The product keeps one data model, so an ADaM dataset is put into the SDTM shape of the domain it
analyses (ADSL -> DM, ADAE -> AE, ADLB -> LB) by one projection (``queries.translate``), then
validated and loaded like any SDTM file. Our rules then run on it as on SDTM: the sponsor's own
derivations (TRTEMFL, ATOXGR, SAFFL ...) are *not* used in place of ours; they are kept as
delivered (table ``sponsor_value``) and every disagreement is a data-quality finding.

Conventions
-----------
- Standard detection from content, as safetyGraphics' ``detectStandard`` (R/detectStandard.R):
  the file's columns are compared with each standard's required columns; a full SDTM match is
  SDTM, else a full ADaM match is ADaM, else a partial match is the standard that matched more
  columns (SDTM on a tie), else none. A file that declares DOMAIN (SDTM) is SDTM.
- Dates: the analysis date-time (ASTDTM, TRTSDTM, ADTM) when delivered, else the analysis date
  (ASTDT, TRTSDT, ADT), written as ISO 8601 text. ASTDT is the sponsor's *imputed* start
  (ASTDTF says how), so a partial SDTM AESTDTC arrives complete: our TEAE rule then reads the
  sponsor's imputation (a difference with SDTM is then a finding, not lost).
- Cohort (ADSL): ``[adam] cohort_variable`` of the study configuration, ARM (planned, as DM's
  ARMCD/ARM) by default, or TRT01P / TRT01A (actual), matched to the cohorts' ``arm_codes``.
- Relatedness: AREL when delivered, else AEREL; severity ASEV, else AESEV; ADLB range indicator
  ANRIND (N/L/H as in the pilot) becomes LBNRIND NORMAL/LOW/HIGH.
- Reference range: ANRLO/ANRHI, else A1LO/A1HI (ADaMIG 1.0, as the CDISC pilot's ADLBC).

References
----------
CDISC ADaMIG v1.1 (ADSL, BDS), ADaM OCCDS v1.0 (ADAE); SafetyGraphics/safetyGraphics
R/detectStandard.R and R/evaluateStandard.R.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from safety.ingest.domains import DOMAINS, SERIOUSNESS_CRITERIA, detect_domain
from safety.ingest.readers import RawDataset
from safety.store.queries.translate import Projection

# One entry per target variable: (SDTM variable, kind, ADaM sources in order of preference).
# A variable none of whose sources is delivered is left out (the SDTM mapper sees it missing).
Spec = tuple[tuple[str, str, tuple[str, ...]], ...]

_ADSL: Spec = (
    ("STUDYID", "copy", ("STUDYID",)), ("USUBJID", "copy", ("USUBJID",)),
    ("SUBJID", "copy", ("SUBJID",)), ("SITEID", "copy", ("SITEID",)),
    ("AGE", "copy", ("AGE",)), ("SEX", "copy", ("SEX",)), ("RACE", "copy", ("RACE",)),
    ("ARM", "copy", ("ARM", "TRT01P")), ("ACTARMCD", "copy", ("TRT01A",)),
    ("RFXSTDTC", "datetime", ("TRTSDTM",)), ("RFXSTDTC", "date", ("TRTSDT",)),
    ("RFXENDTC", "datetime", ("TRTEDTM",)), ("RFXENDTC", "date", ("TRTEDT",)),
    ("DTHFL", "copy", ("DTHFL",)), ("DTHDTC", "date", ("DTHDT",)),
)
_ADAE: Spec = (
    ("STUDYID", "copy", ("STUDYID",)), ("USUBJID", "copy", ("USUBJID",)),
    ("AESEQ", "copy", ("AESEQ",)), ("AETERM", "copy", ("AETERM",)),
    ("AEDECOD", "copy", ("AEDECOD",)), ("AEBODSYS", "copy", ("AEBODSYS",)),
    ("AESTDTC", "datetime", ("ASTDTM",)), ("AESTDTC", "date", ("ASTDT",)),
    ("AEENDTC", "datetime", ("AENDTM",)), ("AEENDTC", "date", ("AENDT",)),
    ("AESEV", "copy", ("ASEV", "AESEV")), ("AESER", "copy", ("AESER",)),
    ("AEREL", "copy", ("AREL", "AEREL")), ("AEOUT", "copy", ("AEOUT",)),
    ("AEACN", "copy", ("AEACN",)), ("AETOXGR", "copy", ("AETOXGR",)),
    *((c, "copy", (c,)) for c in SERIOUSNESS_CRITERIA),
)
_ADLB: Spec = (
    ("STUDYID", "copy", ("STUDYID",)), ("USUBJID", "copy", ("USUBJID",)),
    ("LBSEQ", "copy", ("LBSEQ",)), ("LBSEQ", "row_number", ("USUBJID",)),
    ("LBTESTCD", "copy", ("PARAMCD",)), ("LBTEST", "copy", ("PARAM",)),
    ("LBCAT", "copy", ("PARCAT1",)), ("LBSTRESN", "copy", ("AVAL",)),
    ("LBSTRESC", "copy", ("AVALC",)), ("LBSTRESU", "copy", ("AVALU",)),
    ("LBSTNRLO", "copy", ("ANRLO", "A1LO")), ("LBSTNRHI", "copy", ("ANRHI", "A1HI")),
    ("LBNRIND", "codes", ("ANRIND", "LBNRIND")), ("LBBLFL", "copy", ("ABLFL",)),
    ("LBDTC", "datetime", ("ADTM",)), ("LBDTC", "date", ("ADT",)),
    ("VISIT", "copy", ("AVISIT", "VISIT")), ("VISITNUM", "copy", ("AVISITN", "VISITNUM")),
    ("LBDY", "copy", ("ADY",)),
)
RANGE_INDICATOR_CODES = {"N": "NORMAL", "L": "LOW", "H": "HIGH"}  # ADaM ANRIND as the pilot's


@dataclass(frozen=True, slots=True)
class AdamDataset:
    """One ADaM dataset the product reads: the SDTM domain it becomes, the columns that identify
    it (each a set of alternatives), its projection and the sponsor's derivations kept."""

    name: str
    domain: str
    required: tuple[tuple[str, ...], ...]
    spec: Spec
    sponsor: tuple[str, ...]
    seq: str | None  # the SDTM sequence variable a sponsor value is keyed on


ADAM_DATASETS = (
    AdamDataset("ADSL", "DM", (("STUDYID",), ("USUBJID",), ("TRTSDT", "TRTSDTM"),
                               ("ARM", "TRT01P", "TRT01A"), ("SAFFL",)),
                _ADSL, ("SAFFL", "ITTFL", "TRT01P", "TRT01A"), None),
    AdamDataset("ADAE", "AE", (("STUDYID",), ("USUBJID",), ("AESEQ",), ("AEDECOD",),
                               ("AEBODSYS",), ("ASTDT", "ASTDTM"), ("AESER",)),
                _ADAE, ("TRTEMFL", "ATOXGR", "AOCCPFL"), "AESEQ"),
    AdamDataset("ADLB", "LB", (("STUDYID",), ("USUBJID",), ("PARAMCD",), ("AVAL",),
                               ("ADT", "ADTM")),
                _ADLB, ("ATOXGR", "ATOXGRH", "ATOXGRL", "BASE", "ABLFL"), "LBSEQ"),
)


@dataclass(frozen=True, slots=True)
class Standard:
    """What a file follows: ``SDTM``, ``ADaM`` or None, the dataset and domain it holds, how
    many of that dataset's required columns it has and which it lacks."""

    standard: str | None
    dataset: str | None
    domain: str | None
    matched: int
    missing: tuple[str, ...]

    @property
    def match(self) -> str:
        """full, partial or none (safetyGraphics' evaluateStandard)."""
        return "full" if self.dataset and not self.missing else "partial" if self.matched else "none"


def _compare(columns: set[str], required: tuple[tuple[str, ...], ...]) -> tuple[int, tuple]:
    missing = tuple("/".join(alts) for alts in required if not columns & set(alts))
    return len(required) - len(missing), missing


def detect_standard(raw: RawDataset) -> Standard:
    """The standard and dataset a delivered file follows, from its columns (see the module)."""
    columns = set(raw.frame.columns)
    domain = detect_domain(raw)
    if domain in DOMAINS and "DOMAIN" in columns:  # SDTM declares its domain
        matched, missing = _compare(columns, tuple((c,) for c in DOMAINS[domain].required))
        return Standard("SDTM", domain, domain, matched, missing)
    sdtm = None
    if domain in DOMAINS:
        matched, missing = _compare(columns, tuple((c,) for c in DOMAINS[domain].required))
        sdtm = Standard("SDTM", domain, domain, matched, missing)
        if not missing:
            return sdtm
    candidates = [Standard("ADaM", a.name, a.domain, *_compare(columns, a.required))
                  for a in ADAM_DATASETS]
    best = max(candidates, key=lambda s: (not s.missing, s.matched / (s.matched + len(s.missing))))
    if not best.missing:
        return best
    if sdtm is not None and sdtm.matched >= best.matched:
        return sdtm
    if best.matched > 2:  # more than STUDYID and USUBJID, which every dataset has
        return best
    return sdtm or Standard(None, None, None, 0, ())


def adam_dataset(name: str) -> AdamDataset:
    return next(a for a in ADAM_DATASETS if a.name == name)


def adam_projection(dataset: AdamDataset, columns: list[str],
                    cohort_variable: str) -> list[Projection]:
    """The projection of an ADaM dataset with these columns onto its SDTM domain."""
    present = set(columns)
    out: dict[str, Projection] = {"DOMAIN": Projection("DOMAIN", "constant",
                                                       value=dataset.domain)}
    spec = dataset.spec
    if dataset.name == "ADSL":  # the cohort comes from the configured variable
        spec = (("ARMCD", "copy", (cohort_variable,)), *spec)
    for target, kind, sources in spec:
        if target in out:
            continue
        source = next((s for s in sources if s in present), None)
        if source is None:
            continue
        codes = RANGE_INDICATOR_CODES if kind == "codes" else {}
        out[target] = Projection(target, kind, source, codes=codes)
    return list(out.values())


def sponsor_values(frame: pd.DataFrame, translated: pd.DataFrame,
                   dataset: AdamDataset) -> pd.DataFrame:
    """The sponsor's derivations of each delivered row, long: usubjid, seq, variable, value
    (text as delivered; blank values are kept as missing so a missing flag is seen)."""
    kept = [c for c in dataset.sponsor if c in frame.columns]
    if not kept:
        return pd.DataFrame(columns=["dataset", "usubjid", "seq", "variable", "value"])
    seq = (pd.to_numeric(translated[dataset.seq], errors="coerce") if dataset.seq
           else pd.Series(float("nan"), index=translated.index))
    wide = pd.DataFrame({"usubjid": translated["USUBJID"].astype("str").str.strip(),
                         "seq": seq.to_numpy()}, index=frame.index)
    for column in kept:
        value = frame[column].astype("str").str.strip()
        text = value.str.removesuffix(".0").where(frame[column].notna() & value.ne(""))
        wide[column] = text.to_numpy()
    long = wide.melt(id_vars=["usubjid", "seq"], var_name="variable", value_name="value")
    long["seq"] = long["seq"].astype("Int32")
    return long.assign(dataset=dataset.name)
