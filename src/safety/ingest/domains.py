"""SDTM domains -> the data model: which file is which domain, and one mapping per domain.

Each mapper takes the raw rows of one file, types and checks them (``validate.py``) and returns
the rows of its table, one per delivered row, in the same order; the loader then splits them
into loaded and quarantined rows by the recorded issues. Mappers are vectorised: no row loops.

Mapping decisions (also in the README's ingest section)
-------------------------------------------------------
- Cohort: the *planned* arm (DM.ARMCD, else DM.ARM) is matched to a cohort's ``arm_codes`` in
  the study configuration (case-insensitive). The actual arm (ACTARMCD) is kept in
  ``subject.actual_arm_code``. ARMCD SCRNFAIL / NOTASSGN (or ARM "Screen Failure" / "Not
  Assigned") is a screen failure: a subject never treated, cohort NULL.
- Subject status: derived in SQL from DM and the current DS (``queries.ingest.refresh_subject_status``).
- AE start (AESTDTC) partial: the first possible day, except that when the first dose
  (DM.RFXSTDTC) falls inside the possible range (and not after a known end) the first dose day
  is used: an event that may have started on treatment is not pushed before it, so it is not
  lost as treatment-emergent (admiral ``derive_vars_dt(..., date_imputation = "first",
  min_dates = TRTSDT)``). ``start_imputed`` is true. Year-only and year-month are both handled.
- AE end (AEENDTC) partial: the last possible day (the longest the event may have lasted);
  ``end_imputed`` is true.
- Grade: AETOXGR when given; otherwise 5 when the outcome is fatal (AEOUT FATAL or AESDTH Y:
  CTCAE v5.0 grade 5 is death related to the AE), else AESEV MILD/MODERATE/SEVERE -> 1/2/3;
  ``grade_derived`` true for both; nothing -> NULL. A delivered AETOXGR is kept as delivered
  even when it contradicts a fatal outcome (a data-quality finding, not a correction).
- Related: AEREL (upper-cased) in the configuration's ``related_causality``. A blank AEREL counts
  as related (the conservative convention for safety reporting: causality unknown is not
  "unrelated"); ``causality`` keeps the value as given (NULL when blank).
- Serious: AESER Y, or any of the seriousness criteria AESDTH, AESHOSP, AESLIFE, AESDISAB,
  AESCONG, AESMIE Y (SDTMIG 3.x AE; ICH E2A: an event meeting a criterion is serious whatever
  AESER says). ``serious_raw`` keeps AESER as given and ``serious_criteria`` the criteria given
  as Y, so an inconsistent record (AESER N, AESDTH Y) loads as delivered and is listed as a
  data-quality finding (``queries.adverse_events.ae_data_quality``). AESER other than Y/N is
  quarantined; a blank AESER loads only when some criterion is delivered (Y or N).
- LB/VS dates: the date part of --DTC when complete; a partial --DTC is kept as text with a NULL
  date. EX start and DM RFXSTDTC must be complete dates.
- Times: where a complete --DTC carries a time (``2023-03-01T09:30``), the date-time goes to the
  ``*_at`` column beside the date (RFXSTDTC, EXSTDTC/EXENDTC, AESTDTC/AEENDTC, LBDTC, DSSTDTC),
  NULL when no time was collected; a time zone offset is ignored (the site's clock).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from safety.config import StudyConfig
from safety.ingest import validate as v
from safety.ingest.readers import RawDataset

log = logging.getLogger(__name__)

SCREEN_FAILURE_ARMS = ("SCRNFAIL", "NOTASSGN", "SCREEN FAILURE", "NOT ASSIGNED")  # SDTMIG 3.x DM
SEVERITY_GRADE = {"MILD": 1, "MODERATE": 2, "SEVERE": 3}  # issue 5: only when AETOXGR is absent
FATAL_GRADE = 5  # CTCAE v5.0: grade 5 = death related to AE
# SDTMIG 3.x AE seriousness criteria (ICH E2A): any of them Y makes the event serious
SERIOUSNESS_CRITERIA = ("AESDTH", "AESHOSP", "AESLIFE", "AESDISAB", "AESCONG", "AESMIE")
MISSING_CAUSALITY_IS_RELATED = True  # conservative: an AE of unknown causality is not "unrelated"


@dataclass(frozen=True)
class MappingContext:
    """What a mapping needs to know about the study and the database, read before the write.

    ``subjects`` holds the study's current DM subjects (index USUBJID) with ``first_dose_date``.
    """

    study: StudyConfig
    subjects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"first_dose_date": pd.Series(dtype="datetime64[us]")},
        index=pd.Index([], name="usubjid", dtype="str")))


@dataclass(frozen=True)
class DomainSpec:
    """One SDTM domain the product loads: its table, required variables, key and mapper."""

    domain: str
    table: str
    required: tuple[str, ...]
    key: tuple[str, ...]
    mapper: Callable[[pd.DataFrame, MappingContext, v.Issues], pd.DataFrame]
    label: str


def detect_domain(raw: RawDataset) -> str | None:
    """The SDTM domain a file holds, from its content.

    The DOMAIN variable when the file has one (all rows must agree); for a SUPP-- dataset the
    RDOMAIN variable (SUPPAE); else the dataset name the file declares (XPT member,
    Dataset-JSON ``name``); else the file name's stem. Returns None when nothing says.
    """
    frame = raw.frame
    if "DOMAIN" in frame.columns:
        values = v.text(frame, "DOMAIN").dropna().str.upper().unique()
        if len(values) == 1:
            return str(values[0])
        if len(values) > 1:
            return "MIXED:" + ",".join(sorted(values))
    if {"RDOMAIN", "QNAM", "QVAL"} <= set(frame.columns):
        values = v.text(frame, "RDOMAIN").dropna().str.upper().unique()
        if len(values) == 1:
            return "SUPP" + str(values[0])
    for candidate in (raw.name, raw.file_name.rsplit("/", 1)[-1].split(".")[0]):
        if candidate:
            name = candidate.strip().upper()
            if name in DOMAINS:
                return name
    return None


def _subject_cols(raw: pd.DataFrame, ctx: MappingContext, issues: v.Issues) -> pd.DataFrame:
    """study_id and usubjid of each row, checking STUDYID and that the subject is in DM."""
    usubjid = v.text(raw, "USUBJID")
    issues.add("missing_value", usubjid.isna(), "USUBJID is blank")
    _check_study(raw, ctx, issues)
    v.in_dm(usubjid, ctx.subjects.index, issues, dm_loaded=len(ctx.subjects) > 0)
    return pd.DataFrame({"study_id": ctx.study.study_id, "usubjid": usubjid}, index=raw.index)


def _check_study(raw: pd.DataFrame, ctx: MappingContext, issues: v.Issues) -> None:
    studyid = v.text(raw, "STUDYID")
    wrong = studyid.isna() | (studyid.str.upper() != ctx.study.study_id.upper())
    issues.add("wrong_study", wrong,
               lambda: "STUDYID " + v.raw_value(raw, "STUDYID") + f" is not {ctx.study.study_id}")


def _arm_lookup(study: StudyConfig) -> dict[str, str]:
    return {code.upper(): c.cohort_id for c in study.cohorts for code in c.arm_codes}


def map_dm(raw: pd.DataFrame, ctx: MappingContext, issues: v.Issues) -> pd.DataFrame:
    """DM -> subject. Status is set afterwards from DM + DS by ``refresh_subject_status``."""
    usubjid = v.text(raw, "USUBJID")
    issues.add("missing_value", usubjid.isna(), "USUBJID is blank")
    _check_study(raw, ctx, issues)
    armcd, arm = v.text(raw, "ARMCD"), v.text(raw, "ARM")
    lookup = _arm_lookup(ctx.study)
    by_code = armcd.str.upper().map(lookup)
    cohort = by_code.fillna(arm.str.upper().map(lookup))
    screen_failure = (armcd.str.upper().isin(SCREEN_FAILURE_ARMS)
                      | arm.str.upper().isin(SCREEN_FAILURE_ARMS))
    unknown = cohort.isna() & ~screen_failure
    issues.add("unknown_term", unknown,
               lambda: "ARMCD " + v.raw_value(raw, "ARMCD") + " / ARM " + v.raw_value(raw, "ARM")
               + f" matches no cohort's arm_codes in the {ctx.study.study_id} configuration")
    first = v.iso_dates(raw, "RFXSTDTC", issues)
    last = v.iso_dates(raw, "RFXENDTC", issues)
    v.end_before_start(first, last, "RFXSTDTC", "RFXENDTC", issues)
    dates = {col: v.iso_dates(raw, col, issues) for col in ("RFICDTC", "RFPENDTC", "DTHDTC")}
    age = v.number(raw, "AGE", issues, whole=True)
    v.duplicate_keys(raw, ["USUBJID"], issues)
    return pd.DataFrame({
        "study_id": ctx.study.study_id,
        "usubjid": usubjid,
        "subjid": v.text(raw, "SUBJID"),
        "site_id": v.text(raw, "SITEID"),
        "cohort_id": cohort.where(~screen_failure),
        "sex": v.terms(raw, "SEX", v.SEX_TERMS, issues, codelist="SEX"),
        "age": age.astype("Int32"),
        "race": v.text(raw, "RACE"),
        "enrolled_date": _complete(dates["RFICDTC"]),
        "first_dose_date": v.full_date(first, "RFXSTDTC", issues, required=False),
        "first_dose_at": _timestamp(first),
        "last_dose_date": _complete(last),
        "end_of_study_date": _complete(dates["RFPENDTC"]),
        "status": "screening",  # placeholder inside the transaction; see refresh_subject_status
        "death_date": _complete(dates["DTHDTC"]),
        "arm_code": armcd,
        "actual_arm_code": v.text(raw, "ACTARMCD"),
        "death_flag": v.flag(raw, "DTHFL", issues),
    }, index=raw.index)


def _complete(dates: pd.DataFrame) -> pd.Series:
    """The day of a --DTC when it is complete; partial or blank -> missing."""
    return dates["low"].where(dates["precision"].eq("day"))


def _timestamp(dates: pd.DataFrame) -> pd.Series:
    """The date-time of a complete --DTC that carries a time (``2023-03-01T09:30[:15]``);
    missing when no time was collected. Seconds are kept, a time zone offset is dropped."""
    dtc = dates["dtc"].where(dates["precision"].eq("day"))
    timed = dtc.str.slice(0, 19).where(dtc.str.len().ge(16) & dtc.str.slice(10, 11).eq("T"))
    return pd.to_datetime(timed, format="ISO8601", errors="coerce").astype("datetime64[us]")


def impute_ae_start(start: pd.DataFrame, end: pd.DataFrame, first_dose: pd.Series
                    ) -> tuple[pd.Series, pd.Series]:
    """AE start day and whether it was imputed, for possibly partial AESTDTC.

    The first possible day of the partial date; but when the first dose lies inside the range
    the start could be in (from that first day to the last possible day, and not after a known
    end), the first dose day. Complete dates are kept; blank stays missing.

    References
    ----------
    pharmaverse admiral, ``derive_vars_dt(date_imputation = "first", min_dates = TRTSDT)``.
    """
    first_dose = pd.to_datetime(first_dose)
    partial = start["precision"].isin(["month", "year"])
    latest = start["high"].where(end["high"].isna() | (end["high"] >= start["high"]), end["high"])
    inside = partial & first_dose.notna() & (first_dose > start["low"]) & (first_dose <= latest)
    imputed = start["low"].where(~inside, first_dose)
    return imputed, partial


def map_ae(raw: pd.DataFrame, ctx: MappingContext, issues: v.Issues) -> pd.DataFrame:
    """AE -> adverse_event (grade, relatedness, seriousness and partial dates as documented)."""
    out = _subject_cols(raw, ctx, issues)
    seq = v.number(raw, "AESEQ", issues, whole=True, required=True)
    pt, soc = v.text(raw, "AEDECOD"), v.text(raw, "AEBODSYS")
    issues.add("missing_value", pt.isna(), "AEDECOD is blank")
    issues.add("missing_value", soc.isna(), "AEBODSYS is blank")
    start = v.iso_dates(raw, "AESTDTC", issues)
    end = v.iso_dates(raw, "AEENDTC", issues)
    v.end_before_start(start, end, "AESTDTC", "AEENDTC", issues)
    # reindex, not Series.map: map casts an empty datetime lookup to float (AE before any DM)
    first_dose = pd.Series(
        ctx.subjects["first_dose_date"].reindex(out["usubjid"]).to_numpy(), index=out.index)
    start_date, start_imputed = impute_ae_start(start, end, first_dose)

    severity = v.terms(raw, "AESEV", v.SEVERITY_TERMS, issues, codelist="AESEV (C66769)")
    toxgr = v.number(raw, "AETOXGR", issues, whole=True)
    issues.add("grade_out_of_range", toxgr.notna() & ~toxgr.isin(v.CTCAE_GRADES),
               lambda: "AETOXGR " + v.raw_value(raw, "AETOXGR") + " is not a CTCAE grade 1-5")
    outcome = v.terms(raw, "AEOUT", v.OUTCOME_TERMS, issues, codelist="OUT (C66768)")
    criteria = pd.DataFrame({c: v.terms(raw, c, v.NY_TERMS, issues, codelist="NY (C66742)")
                             for c in SERIOUSNESS_CRITERIA})
    fatal = outcome.eq("FATAL") | criteria["AESDTH"].eq("Y")
    fallback = severity.map(SEVERITY_GRADE).astype("Int64").mask(fatal, FATAL_GRADE)
    derived = toxgr.isna() & fallback.notna()
    grade = toxgr.fillna(fallback)

    serious_raw = v.text(raw, "AESER")
    serious = v.terms(raw, "AESER", v.NY_TERMS, issues, codelist="NY (C66742)")
    by_criteria = criteria.eq("Y")
    issues.add("unknown_term", serious_raw.isna() & criteria.isna().all(axis=1),
               "AESER is blank (must be Y or N) and no seriousness criterion is given")
    causality = v.text(raw, "AEREL")
    related = causality.str.upper().isin(ctx.study.related_causality)
    if MISSING_CAUSALITY_IS_RELATED:
        related = related | causality.isna()
    v.duplicate_keys(raw, ["USUBJID", "AESEQ"], issues)
    return out.assign(
        seq=seq.astype("Int32"), verbatim=v.text(raw, "AETERM"), pt=pt, soc=soc,
        start_dtc=start["dtc"], start_date=start_date, start_imputed=start_imputed,
        end_dtc=end["dtc"], end_date=end["high"],
        end_imputed=end["precision"].isin(["month", "year"]),
        grade=grade.where(grade.isin(v.CTCAE_GRADES)).astype("Int32"), grade_derived=derived,
        severity=severity, serious=serious.eq("Y") | by_criteria.any(axis=1),
        serious_raw=serious_raw, related=related, causality=causality, outcome=outcome,
        action_taken=v.terms(raw, "AEACN", v.ACTION_TERMS, issues, codelist="ACN (C66767)"),
        start_at=_timestamp(start), end_at=_timestamp(end),
        serious_criteria=_flagged(criteria),
    )


def _flagged(criteria: pd.DataFrame) -> pd.Series:
    """Per row the criteria given as Y, as text ("AESDTH, AESLIFE"; "" when all are N or
    blank); missing when none of them was delivered at all."""
    text = pd.Series("", index=criteria.index, dtype="str")
    for name in criteria.columns:
        text = text + criteria[name].eq("Y").map({True: name + ", ", False: ""}).astype("str")
    return text.str.removesuffix(", ").where(criteria.notna().any(axis=1))


def map_ex(raw: pd.DataFrame, ctx: MappingContext, issues: v.Issues) -> pd.DataFrame:
    """EX -> exposure."""
    out = _subject_cols(raw, ctx, issues)
    start = v.iso_dates(raw, "EXSTDTC", issues)
    end = v.iso_dates(raw, "EXENDTC", issues)
    v.end_before_start(start, end, "EXSTDTC", "EXENDTC", issues)
    treatment = v.text(raw, "EXTRT")
    issues.add("missing_value", treatment.isna(), "EXTRT is blank")
    v.duplicate_keys(raw, ["USUBJID", "EXSEQ"], issues)
    return out.assign(
        seq=v.number(raw, "EXSEQ", issues, whole=True, required=True).astype("Int32"),
        treatment=treatment, dose=v.number(raw, "EXDOSE", issues), dose_unit=v.text(raw, "EXDOSU"),
        route=v.text(raw, "EXROUTE"),
        start_date=v.full_date(start, "EXSTDTC", issues, required=True),
        end_date=_complete(end), start_at=_timestamp(start), end_at=_timestamp(end),
        frequency=v.text(raw, "EXDOSFRQ").str.upper(),
    )


def _findings(raw: pd.DataFrame, ctx: MappingContext, issues: v.Issues, prefix: str
              ) -> pd.DataFrame:
    """The variables LB and VS share: subject, seq, test, date, visit, study day."""
    out = _subject_cols(raw, ctx, issues)
    test_code = v.text(raw, f"{prefix}TESTCD")
    issues.add("missing_value", test_code.isna(), f"{prefix}TESTCD is blank")
    collected = v.iso_dates(raw, f"{prefix}DTC", issues)
    v.duplicate_keys(raw, ["USUBJID", f"{prefix}SEQ"], issues)
    return out.assign(
        seq=v.number(raw, f"{prefix}SEQ", issues, whole=True, required=True).astype("Int32"),
        test_code=test_code, test_name=v.text(raw, f"{prefix}TEST"),
        collected_dtc=collected["dtc"], collected_date=_complete(collected),
        collected_at=_timestamp(collected),
        visit=v.text(raw, "VISIT"), visit_num=v.number(raw, "VISITNUM", issues),
        study_day=v.number(raw, f"{prefix}DY", issues, whole=True).astype("Int32"),
    )


def map_lb(raw: pd.DataFrame, ctx: MappingContext, issues: v.Issues) -> pd.DataFrame:
    """LB -> lab (standardised result, unit and normal range)."""
    out = _findings(raw, ctx, issues, "LB")
    return out.assign(
        category=v.text(raw, "LBCAT"), value=v.number(raw, "LBSTRESN", issues),
        value_text=v.text(raw, "LBSTRESC"), unit=v.text(raw, "LBSTRESU"),
        lln=v.number(raw, "LBSTNRLO", issues), uln=v.number(raw, "LBSTNRHI", issues),
        range_flag=v.terms(raw, "LBNRIND", v.RANGE_FLAG_TERMS, issues, codelist="NRIND"),
        baseline_flag=v.flag(raw, "LBBLFL", issues),
    )


def map_vs(raw: pd.DataFrame, ctx: MappingContext, issues: v.Issues) -> pd.DataFrame:
    """VS -> vital_sign."""
    out = _findings(raw, ctx, issues, "VS").drop(columns="collected_at")  # VS: dates only
    return out.assign(
        value=v.number(raw, "VSSTRESN", issues), unit=v.text(raw, "VSSTRESU"),
        position=v.text(raw, "VSPOS"),
    )


def map_ds(raw: pd.DataFrame, ctx: MappingContext, issues: v.Issues) -> pd.DataFrame:
    """DS -> disposition."""
    out = _subject_cols(raw, ctx, issues)
    decod = v.text(raw, "DSDECOD").str.upper()
    issues.add("missing_value", decod.isna(), "DSDECOD is blank")
    start = v.iso_dates(raw, "DSSTDTC", issues)
    v.duplicate_keys(raw, ["USUBJID", "DSSEQ"], issues)
    return out.assign(
        seq=v.number(raw, "DSSEQ", issues, whole=True, required=True).astype("Int32"),
        term=v.text(raw, "DSTERM"), decod=decod, category=v.text(raw, "DSCAT").str.upper(),
        start_dtc=start["dtc"], start_date=_complete(start), visit=v.text(raw, "VISIT"),
        start_at=_timestamp(start),
    )


def map_supp(raw: pd.DataFrame, ctx: MappingContext, issues: v.Issues) -> pd.DataFrame:
    """SUPP-- (e.g. SUPPAE) -> supp_qualifier, one row per qualifier value."""
    out = _subject_cols(raw, ctx, issues)
    qnam = v.text(raw, "QNAM")
    issues.add("missing_value", qnam.isna(), "QNAM is blank")
    v.duplicate_keys(raw, ["USUBJID", "IDVAR", "IDVARVAL", "QNAM"], issues)
    return out.assign(
        rdomain=v.text(raw, "RDOMAIN").str.upper(), idvar=v.text(raw, "IDVAR"),
        idvarval=v.text(raw, "IDVARVAL"), qnam=qnam, qlabel=v.text(raw, "QLABEL"),
        qval=v.text(raw, "QVAL"), qorig=v.text(raw, "QORIG"), qeval=v.text(raw, "QEVAL"),
    )


DOMAINS: dict[str, DomainSpec] = {spec.domain: spec for spec in (
    DomainSpec("DM", "subject", ("STUDYID", "USUBJID", "ARMCD"), ("USUBJID",), map_dm,
               "Demographics"),
    DomainSpec("DS", "disposition", ("STUDYID", "USUBJID", "DSSEQ", "DSDECOD"),
               ("USUBJID", "DSSEQ"), map_ds, "Disposition"),
    DomainSpec("EX", "exposure", ("STUDYID", "USUBJID", "EXSEQ", "EXTRT", "EXSTDTC"),
               ("USUBJID", "EXSEQ"), map_ex, "Exposure"),
    DomainSpec("AE", "adverse_event",
               ("STUDYID", "USUBJID", "AESEQ", "AEDECOD", "AEBODSYS", "AESTDTC", "AESER"),
               ("USUBJID", "AESEQ"), map_ae, "Adverse events"),
    DomainSpec("SUPPAE", "supp_qualifier",
               ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QVAL"),
               ("USUBJID", "IDVAR", "IDVARVAL", "QNAM"), map_supp, "Supplemental AE qualifiers"),
    DomainSpec("LB", "lab", ("STUDYID", "USUBJID", "LBSEQ", "LBTESTCD"), ("USUBJID", "LBSEQ"),
               map_lb, "Laboratory"),
    DomainSpec("VS", "vital_sign", ("STUDYID", "USUBJID", "VSSEQ", "VSTESTCD"),
               ("USUBJID", "VSSEQ"), map_vs, "Vital signs"),
    DomainSpec("SUPPDM", "supp_qualifier", ("STUDYID", "RDOMAIN", "USUBJID", "QNAM", "QVAL"),
               ("USUBJID", "QNAM"), map_supp, "Supplemental DM qualifiers"),
)}
# Load order within one ingest: DM first (other domains are checked against it), DS next
# (it sets subject status), then the rest; a SUPP-- dataset after its parent domain.
DOMAIN_ORDER = tuple(DOMAINS)


def domain_rank(domain: str | None) -> float:
    """Load order of a file by the SDTM domain its content holds (``detect_domain``): DM first,
    then DS, EX, AE, LB, VS; a SUPP-- dataset (SUPPDM, SUPPAE) right after its parent;
    unknown or unreadable last. File names play no part (``DM_2015.csv`` may hold anything).
    """
    domain = (domain or "").upper()
    if domain.startswith("SUPP") and domain[4:] in DOMAIN_ORDER:
        return DOMAIN_ORDER.index(domain[4:]) + 0.5
    if domain in DOMAIN_ORDER:
        return DOMAIN_ORDER.index(domain)
    return len(DOMAIN_ORDER)


SORT_KEYS = {"lab": ("usubjid", "collected_date", "seq"),
             "vital_sign": ("usubjid", "collected_date", "seq"),
             "adverse_event": ("usubjid", "seq"), "exposure": ("usubjid", "seq")}


def sort_for_table(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Rows in the physical order the pages read them: by subject, then date and sequence.

    Ordering big fact tables by USUBJID lets DuckDB's zone maps find one patient's rows fast
    (../shared/STACK.md section 6: 2 ms vs 41 ms for 10M labs).
    """
    by = SORT_KEYS.get(table)
    if not by or frame.empty:
        return frame
    return frame.sort_values(list(by), kind="stable", na_position="last")

