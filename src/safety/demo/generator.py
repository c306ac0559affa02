"""The synthetic default study: a seeded, deterministic demo of NCT04232592.

NCT04232592 injects human embryonic stem cell derived mesenchymal cells (hESC-MSC) into the
uterus after hysteroscopic adhesiolysis for moderate or severe intrauterine adhesions: 32 women
aged 18 to 38, a control group given the vehicle (contains albumin) and three dose groups of 8,
followed for 48 weeks. The registry publishes neither the doses nor the data; everything here is
synthetic, and the content of the database is a pure function of ``(seed, studies, subjects)``.

The calendar and the planted safety story are data, told and kept in ``safety.demo.scenario``.

Study days follow SDTM (--DY): the injection date is day 1, the day before it day -1, there is
no day 0. Visit names use the protocol's nominal days counted from the injection (injection =
day 0): the DAY 7 visit is nominally on study day 8. BASELINE is drawn on the injection day,
before the injection (study day 1, baseline flag set).

Scale: ``build_demo(studies=K, subjects=N)`` writes K studies of N women each (four equal
cohorts), the first one NCT04232592 and the others ``NCT04232592-S002`` ... with the same
protocol. Scaled cohorts enrol at most one woman a day, so their calendar starts earlier (before
2020-01-31); the cut-off and the planted story are the same, a quarter of HIGH is still in
screening, and women beyond the registry's eight per cohort drop out at
``scenario.SCALED_DROPOUT_RATE``.
Generation is vectorised over subjects, visits and tests; each study is generated and inserted
on its own, so memory stays flat whatever K is. One module of about 700 lines: every generation
step reads the same per-subject plan (arrays of cohort, dosing day, visit days, status); split
by domain they would pass it around piece by piece.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from safety import store
from safety.config import StudyConfig, find_study_config, parse_study_config
from safety.demo import scenario
from safety.store import queries

log = logging.getLogger(__name__)

BATCH_DOMAINS = ("CONFIG", "DM", "EX", "AE", "LB", "VS")
FACT_TABLES = {"DM": "subject", "EX": "exposure", "AE": "adverse_event", "LB": "lab",
               "VS": "vital_sign"}


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What :func:`build_demo` wrote: the database, the studies and the row count of each table."""

    db: Path
    seed: int
    study_ids: tuple[str, ...]
    studies: int
    cohorts: int
    subjects: int
    exposures: int
    adverse_events: int
    labs: int
    vital_signs: int
    ingest_batches: int

    def describe(self) -> str:
        """One line for people: what was written."""
        return (f"{self.studies} stud{'y' if self.studies == 1 else 'ies'}, "
                f"{self.subjects:,} subjects, {self.adverse_events:,} adverse events, "
                f"{self.labs:,} lab values, "
                f"{self.vital_signs:,} vital signs (seed {self.seed})")


def build_demo(db: str | Path | None = None, *, seed: int = scenario.DEMO_SEED, studies: int = 1,
               subjects: int | None = None) -> DemoSummary:
    """Write a complete new database holding the synthetic NCT04232592 demo.

    Parameters
    ----------
    db
        The database file (``store.resolve_db_path``: ``$SAFETY_DB`` or ``data/safety.duckdb``
        when None). Built beside it and moved into place atomically.
    seed
        Seed of ``numpy.random.default_rng``; the content is a pure function of
        ``(seed, studies, subjects)``.
    studies
        Number of studies (K): the first is NCT04232592, the rest ``NCT04232592-S002`` ...
    subjects
        Women per study (N), a multiple of 4 and at least 32; default 32 (the registry's).

    Returns
    -------
    DemoSummary
        The study ids and the number of rows written to each table.
    """
    n = scenario.REGISTRY_SUBJECTS if subjects is None else subjects
    if studies < 1:
        raise ValueError(f"studies must be 1 or more, got {studies}")
    if n < scenario.REGISTRY_SUBJECTS or n % len(scenario.COHORT_ORDER):
        raise ValueError(f"subjects must be a multiple of 4 and at least {scenario.REGISTRY_SUBJECTS}, "
                         f"got {n}")
    config = find_study_config(scenario.DEMO_STUDY_ID)
    if config.dlt.window_days != scenario.DLT_WINDOW_DAYS:
        raise ValueError(f"the demo calendar assumes a {scenario.DLT_WINDOW_DAYS}-day DLT window, the "
                         f"configuration says {config.dlt.window_days}")
    study_ids = tuple(scenario.DEMO_STUDY_ID if k == 0 else scenario.SCALED_ID_FORMAT.format(k + 1)
                      for k in range(studies))
    # One independent stream per study, so study k is the same whatever K is.
    streams = np.random.SeedSequence(seed).spawn(studies)
    counts = dict.fromkeys(("study", "cohort", "subject", "exposure", "adverse_event", "lab",
                            "vital_sign", "ingest_batch"), 0)
    path = store.resolve_db_path(db)
    # Generating and hashing study k+1 in a worker overlaps with inserting study k (numpy,
    # pyarrow, hashlib and DuckDB all release the GIL); one study ahead keeps memory flat.
    with store.new_database(path) as con, ThreadPoolExecutor(max_workers=1) as worker:
        jobs = [(config if study_id == scenario.DEMO_STUDY_ID else _scaled_config(config, study_id), stream)
                for study_id, stream in zip(study_ids, streams, strict=True)]
        ahead = worker.submit(_prepare_study, *jobs[0], n, seed)
        for k in range(len(jobs)):
            prepared = ahead.result()
            if k + 1 < len(jobs):
                ahead = worker.submit(_prepare_study, *jobs[k + 1], n, seed)
            con.begin()  # one transaction per study: one log flush instead of one per table
            for table, count in _write_study(con, prepared, seed).items():
                counts[table] += count
            queries.labs.refresh_lab_grades(con, prepared.config.study_id)
            con.commit()
            parts = prepared.parts
            log.info("demo study %s: %d subjects, %d AEs, %d lab rows", prepared.config.study_id,
                     len(parts["DM"]["subject"]), len(parts["AE"]["adverse_event"]),
                     len(parts["LB"]["lab"]))
            del parts
            del prepared
        detail = {"seed": seed, "studies": studies, "subjects": n, "cutoff": str(scenario.DEMO_CUTOFF),
                  "rows": counts}
        queries.database.record_audit(con, actor=scenario.LOADED_BY, action="demo.build", at=scenario.LOADED_AT,
                             study_id=scenario.DEMO_STUDY_ID, detail=json.dumps(detail, sort_keys=True))
    return DemoSummary(
        db=path, seed=seed, study_ids=study_ids, studies=counts["study"], cohorts=counts["cohort"],
        subjects=counts["subject"], exposures=counts["exposure"],
        adverse_events=counts["adverse_event"], labs=counts["lab"],
        vital_signs=counts["vital_sign"], ingest_batches=counts["ingest_batch"],
    )


def _scaled_config(config: StudyConfig, study_id: str) -> StudyConfig:
    """The demo protocol under another study id (the stored TOML names its own study)."""
    text = re.sub(r'^id = ".*"$', f'id = "{study_id}"', config.source_text, count=1,
                  flags=re.MULTILINE)
    text = re.sub(r'^title = "(.*)"$', rf'title = "\1 (synthetic copy {study_id[-4:]})"', text,
                  count=1, flags=re.MULTILINE)
    return parse_study_config(text, f"{study_id.lower()}.toml")


@dataclass(frozen=True, slots=True)
class _PreparedStudy:
    """One study ready to insert: per domain, the frames by table and the sha256 of their CSV."""

    config: StudyConfig
    parts: dict[str, dict[str, pd.DataFrame]]
    digests: dict[str, str]


def _prepare_study(config: StudyConfig, stream: np.random.SeedSequence, n: int,
                   seed: int) -> _PreparedStudy:
    frames = generate_study(config, np.random.default_rng(stream), n, seed)
    parts = {domain: {table: frames[domain]} for domain, table in FACT_TABLES.items()}
    digests = {"CONFIG": config.source_sha256}
    for domain, tables in parts.items():
        digest = hashlib.sha256()
        for frame in tables.values():
            digest.update(canonical_csv(frame))
        digests[domain] = digest.hexdigest()
    return _PreparedStudy(config, parts, digests)


def _write_study(con: duckdb.DuckDBPyConnection, study: _PreparedStudy,
                 seed: int) -> dict[str, int]:
    """Insert one study, one ingest batch per domain; returns rows per table."""
    counts: dict[str, int] = {"ingest_batch": 0}
    for domain in BATCH_DOMAINS:
        batch_id = queries.database.next_batch_id(con)
        parts = study.parts.get(domain, {})
        rows = sum(len(f) for f in parts.values()) or 1 + len(study.config.cohorts)
        batch = pd.DataFrame({
            "batch_id": [batch_id], "study_id": [study.config.study_id],
            "file_name": [f"demo generator (seed {seed}): {domain}"],
            "sha256": [study.digests[domain]], "domain": [domain], "rows_in": [rows],
            "rows_loaded": [rows], "rows_quarantined": [0], "status": ["loaded"],
            "reason": [None], "loaded_by": [scenario.LOADED_BY], "loaded_at": [scenario.LOADED_AT],
        })
        queries.database.insert_frame(con, "ingest_batch", batch)
        counts["ingest_batch"] += 1
        if domain == "CONFIG":
            queries.studies.record_study(con, study.config, batch_id, data_cutoff=scenario.DEMO_CUTOFF)
            counts["study"] = 1
            counts["cohort"] = len(study.config.cohorts)
        for table, frame in parts.items():
            frame["batch_id"] = batch_id  # the frame is ours: no copy
            counts[table] = queries.database.insert_frame(con, table, frame)
    return counts


def canonical_csv(frame: pd.DataFrame) -> bytes:
    """The frame as CSV (header, ``\\n`` line ends, ISO dates): what the batch sha256 is of."""
    buffer = io.BytesIO()
    pa_csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    return buffer.getvalue()


# --- generation ---------------------------------------------------------------------------------

def generate_study(config: StudyConfig, rng: np.random.Generator, n: int,
                   seed: int = scenario.DEMO_SEED) -> dict[str, pd.DataFrame]:
    """One study's clinical rows, keyed by SDTM domain (DM, EX, AE, LB, VS), without batch ids.

    Fact tables are sorted by (usubjid, date) and numbered per subject (``seq``). Repeated
    strings are pandas categoricals: cheap to build, stored as VARCHAR on insert.
    """
    plan = _plan_subjects(rng, n)
    plan["usubjid"] = np.array([f"{config.study_id}-{scenario.SITE_ID}-{s}" for s in plan["subjid"]],
                               dtype=object)
    ae = _adverse_events(rng, plan, config)
    return {
        "DM": _subject_frame(config, plan),
        "EX": _exposure_frame(config, plan),
        "AE": ae.frame,
        "LB": _labs(rng, plan, config.study_id, ae),
        "VS": _vital_signs(rng, plan, config.study_id, ae),
    }


def _cat(codes: np.ndarray, values: tuple[str, ...] | np.ndarray) -> pd.Categorical:
    """The string column ``values[codes]`` as a categorical: no Python object per row.

    ``values`` may repeat (one PT under two terms); categories are its distinct values.
    """
    uniques, inverse = np.unique(np.asarray(values, dtype=str), return_inverse=True)
    return pd.Categorical.from_codes(inverse[codes],
                                     categories=pd.Index(uniques.astype(object), dtype=object))


def _day_to_date(days: np.ndarray) -> np.ndarray:
    """Days from scenario.FIRST_INJECTION as datetime64[D]."""
    return np.datetime64(scenario.FIRST_INJECTION, "D") + days.astype("timedelta64[D]")


def _iso(days: np.ndarray) -> pd.Categorical:
    """Days from scenario.FIRST_INJECTION as ISO 8601 text (--DTC), formatted once per distinct day."""
    unique, codes = np.unique(days, return_inverse=True)
    return _cat(codes, np.datetime_as_string(_day_to_date(unique)).astype(object))


def _study_day(day: np.ndarray, dose_day: np.ndarray) -> np.ndarray:
    """SDTM --DY: injection date is day 1, the day before is day -1 (no day 0)."""
    offset = day - dose_day
    return np.where(offset >= 0, offset + 1, offset)


def _calendar(per_cohort: int) -> tuple[dict[str, int], dict[str, int]]:
    """(opening day, dosing period in days) of each dose cohort.

    Counted back from the cut-off: HIGH opens scenario.CUTOFF_AFTER_HIGH_OPENS days before it, and each
    cohort opens one dosing period plus scenario.ESCALATION_PAUSE_DAYS after the one below. With 8 women
    a cohort this puts LOW on day 0 (2020-01-31), MED on day 149 and HIGH on day 298. Scaled
    cohorts enrol at most one woman a day, so their calendar starts earlier.
    """
    stretched = per_cohort * scenario.SCALED_DAYS_PER_WOMAN
    budget = {"LOW": max(scenario.COHORT_DOSING_DAYS, stretched), "MED": max(scenario.COHORT_DOSING_DAYS, stretched),
              "HIGH": max(scenario.HIGH_DOSING_DAYS, stretched)}
    opens = {"HIGH": scenario.CUTOFF_DAY - budget["HIGH"] - (scenario.CUTOFF_AFTER_HIGH_OPENS - scenario.HIGH_DOSING_DAYS)}
    opens["MED"] = opens["HIGH"] - budget["MED"] - scenario.ESCALATION_PAUSE_DAYS
    opens["LOW"] = opens["MED"] - budget["LOW"] - scenario.ESCALATION_PAUSE_DAYS
    return opens, budget


def _stagger(rng: np.random.Generator, opens: int, count: int, budget_days: int) -> np.ndarray:
    """Injection days of a cohort: sentinel, a 14-day pause, then 5-9 days apart, in budget."""
    if count <= 1:
        return np.full(count, opens)
    gaps = rng.integers(scenario.STAGGER_DAYS[0], scenario.STAGGER_DAYS[1] + 1, size=count - 2)
    steps = np.concatenate([[0], np.cumsum(gaps)]).astype(float)
    room = budget_days - scenario.SENTINEL_GAP_DAYS
    if steps[-1] > room:  # a scaled cohort: squeeze the gaps into the dosing period
        steps *= room / steps[-1]
    return np.concatenate([[opens], opens + scenario.SENTINEL_GAP_DAYS + np.floor(steps).astype(int)])


def _plan_subjects(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Who is in which cohort, when each was consented, screened, dosed and seen last.

    Returns arrays in subject-number order (order of consent). Days are from scenario.FIRST_INJECTION
    (negative before it); ``dosed`` is False for women still in screening, whose ``dose_day``
    means nothing.
    """
    per_cohort = n // len(scenario.COHORT_ORDER)
    opens, budget = _calendar(per_cohort)
    cohort_parts, rank_parts, dose_parts, dosed_parts = [], [], [], []
    for index, cohort_id in enumerate(scenario.COHORT_ORDER):  # four cohorts, not a loop over subjects
        if cohort_id == "CTRL":
            even = np.linspace(opens["LOW"] + scenario.CONTROL_FIRST_AFTER_OPENING,
                               opens["HIGH"] + scenario.CONTROL_LAST_AFTER_HIGH_OPENS, per_cohort)
            days = np.floor(even).astype(int) + rng.integers(0, scenario.CONTROL_JITTER_DAYS, per_cohort)
        elif cohort_id == "HIGH":
            screening = per_cohort // scenario.HIGH_SCREENING_FRACTION
            dosed = _stagger(rng, opens[cohort_id], per_cohort - screening, budget[cohort_id])
            days = np.concatenate([dosed, np.zeros(screening, dtype=int)])  # not used
        else:
            days = _stagger(rng, opens[cohort_id], per_cohort, budget[cohort_id])
        cohort_parts.append(np.full(per_cohort, index))
        rank_parts.append(np.arange(1, per_cohort + 1))
        dose_parts.append(days)
        dosed_parts.append(np.arange(per_cohort) < len(days) - (
            per_cohort // scenario.HIGH_SCREENING_FRACTION if cohort_id == "HIGH" else 0))
    cohort = np.concatenate(cohort_parts)
    rank = np.concatenate(rank_parts)
    dosed = np.concatenate(dosed_parts)
    dose_day = np.concatenate(dose_parts)

    screen_day = dose_day - rng.integers(scenario.SCREENING_VISIT_DAYS[0], scenario.SCREENING_VISIT_DAYS[1] + 1, n)
    consent_day = screen_day - rng.integers(scenario.CONSENT_BEFORE_SCREENING_DAYS[0],
                                            scenario.CONSENT_BEFORE_SCREENING_DAYS[1] + 1, n)
    waiting = scenario.CUTOFF_DAY - rng.integers(scenario.SCREENING_CONSENT_DAYS[0], scenario.SCREENING_CONSENT_DAYS[1] + 1,
                                        n)
    consent_day = np.where(dosed, consent_day, waiting)
    screen_day = np.where(dosed, screen_day, np.minimum(waiting + 1, scenario.CUTOFF_DAY))

    # Visit days (n x visits): nominal day from injection +/- its window.
    nominal = np.array([0 if v[2] is None else v[2] for v in scenario.VISITS])
    window = np.array([v[3] for v in scenario.VISITS])
    jitter = np.floor(rng.uniform(-1, 1, (n, len(scenario.VISITS))) * (window + 1)).astype(int)
    jitter = np.clip(jitter, -window, window)
    visit_day = dose_day[:, None] + nominal[None, :] + jitter
    visit_day[:, 0] = screen_day

    # Lost to follow-up: the planted woman after WEEK 12; scaled extras after a random visit.
    planted = (cohort == scenario.COHORT_ORDER.index(scenario.WITHDRAWN_PLANTED[0])) & (rank == scenario.WITHDRAWN_PLANTED[1])
    extra = dosed & (rank > scenario.REGISTRY_PER_COHORT) & (rng.random(n) < scenario.SCALED_DROPOUT_RATE)
    last_seen = np.where(planted, scenario.WEEK12,
                         rng.integers(scenario.DROPOUT_LAST_VISITS[0], scenario.DROPOUT_LAST_VISITS[1] + 1, n))
    missed_day = visit_day[np.arange(n), np.minimum(last_seen + 1, scenario.WEEK48)]
    withdrawn = (planted | extra) & (missed_day <= scenario.CUTOFF_DAY)  # known once a visit is missed
    completed = dosed & ~withdrawn & (visit_day[:, scenario.WEEK48] <= scenario.CUTOFF_DAY)
    last_contact = visit_day[np.arange(n), last_seen]
    has_end = completed | withdrawn
    end_day = np.where(completed, visit_day[:, scenario.WEEK48], last_contact)  # RFPENDTC when has_end
    obs_end = np.where(has_end, end_day, scenario.CUTOFF_DAY)  # the last day a woman's data cover
    status = np.select([~dosed, completed, withdrawn], ["screening", "completed", "withdrawn"],
                       "on study")
    visit_seen = (visit_day <= obs_end[:, None]) & (dosed[:, None] | (np.arange(len(scenario.VISITS)) == 0))

    order = np.lexsort((rank, cohort, consent_day))  # subject numbers in order of consent
    plan = {
        "cohort": cohort, "rank": rank, "dose_day": dose_day, "dosed": dosed,
        "screen_day": screen_day, "consent_day": consent_day, "end_day": end_day,
        "obs_end": obs_end, "status": status, "visit_day": visit_day, "visit_seen": visit_seen,
        "withdrawn": withdrawn, "has_end": has_end,
    }
    plan = {key: value[order] for key, value in plan.items()}
    age = rng.triangular(scenario.AGE_RANGE[0], scenario.AGE_MODE, scenario.AGE_RANGE[1] + 0.49, n)  # rounds into 18..38
    plan["age"] = np.rint(age).astype(int)
    width = max(3, len(str(n)))
    plan["subjid"] = np.array([f"{i:0{width}d}" for i in range(1, n + 1)], dtype=object)
    return plan


def _planted_subject(plan: dict[str, np.ndarray], cohort_id: str, rank: int) -> int:
    """Subject index of the woman dosed ``rank``-th in ``cohort_id``."""
    hits = np.flatnonzero((plan["cohort"] == scenario.COHORT_ORDER.index(cohort_id))
                          & (plan["rank"] == rank))
    return int(hits[0])


def _subject_frame(config: StudyConfig, plan: dict[str, np.ndarray]) -> pd.DataFrame:
    dosed = plan["dosed"]
    dose_date = np.where(dosed, _day_to_date(plan["dose_day"]), np.datetime64("NaT"))
    end = np.where(plan["has_end"], _day_to_date(plan["end_day"]), np.datetime64("NaT"))
    return pd.DataFrame({
        "study_id": config.study_id,
        "usubjid": plan["usubjid"],
        "subjid": plan["subjid"],
        "site_id": scenario.SITE_ID,
        "cohort_id": _cat(plan["cohort"], scenario.COHORT_ORDER),
        "sex": "F",
        "age": plan["age"],
        "race": scenario.RACE,
        "enrolled_date": _day_to_date(plan["consent_day"]),
        "first_dose_date": dose_date,
        "last_dose_date": dose_date,  # a single injection
        "end_of_study_date": end,
        "status": plan["status"].astype(object),
        "status_reason": np.where(plan["withdrawn"], scenario.LOST_TO_FOLLOW_UP, None),
    })


def _exposure_frame(config: StudyConfig, plan: dict[str, np.ndarray]) -> pd.DataFrame:
    dosed = np.flatnonzero(plan["dosed"])
    cohorts = [config.cohort(c) for c in scenario.COHORT_ORDER]
    cohort = plan["cohort"][dosed]
    day = _day_to_date(plan["dose_day"][dosed])
    cell_unit = next(c.dose_unit for c in cohorts if not c.is_control)
    return pd.DataFrame({
        "study_id": config.study_id,
        "usubjid": plan["usubjid"][dosed],
        "seq": 1,
        "treatment": _cat(cohort, tuple(scenario.TREATMENT_VEHICLE if c.is_control else scenario.TREATMENT_CELLS
                                        for c in cohorts)),
        "dose": np.array([0.0 if c.is_control else c.dose for c in cohorts])[cohort],
        "dose_unit": cell_unit,  # the vehicle is dose 0 of the same unit
        "route": scenario.ROUTE,
        "start_date": day,
        "end_date": day,
    })


def _draw_categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of ``probs`` (rows sum to 1), vectorised."""
    cumulative = np.cumsum(probs, axis=1)
    cumulative /= cumulative[:, -1:]  # exactly 1 at the end: a zero-probability tail never wins
    u = rng.random(len(probs))[:, None]
    return np.minimum((u > cumulative).sum(axis=1), probs.shape[1] - 1)


@dataclass(frozen=True, slots=True)
class _AdverseEvents:
    """The AE rows with the subject index and start day of each (for lab and vital effects)."""

    frame: pd.DataFrame
    subj: np.ndarray
    start_day: np.ndarray


def _adverse_events(rng: np.random.Generator, plan: dict[str, np.ndarray],
                    config: StudyConfig) -> _AdverseEvents:
    """Procedure, background and planted AEs of one study, sorted and numbered per subject."""
    n = len(plan["cohort"])
    dosed = np.flatnonzero(plan["dosed"])
    terms = (*scenario.PROCEDURE_AES, *scenario.BACKGROUND_AES)
    n_proc = len(scenario.PROCEDURE_AES)

    # Procedure terms: at most one of each per dosed woman, near the injection.
    hit = rng.random((len(dosed), n_proc)) < np.array([t.rate for t in scenario.PROCEDURE_AES])
    p_subj, p_term = np.nonzero(hit)
    p_subj = dosed[p_subj]
    lo = np.array([t.onset_days[0] for t in scenario.PROCEDURE_AES])[p_term]
    hi = np.array([t.onset_days[1] for t in scenario.PROCEDURE_AES])[p_term]
    p_start = plan["dose_day"][p_subj] + rng.integers(lo, hi + 1)

    # Background terms: Poisson over the whole observed time from consent.
    years = (plan["obs_end"] - plan["consent_day"] + 1) / scenario.DAYS_PER_YEAR
    rates = np.array([t.rate for t in scenario.BACKGROUND_AES])
    per = rng.poisson(years[:, None] * rates[None, :]).ravel()
    b_subj = np.repeat(np.repeat(np.arange(n), len(scenario.BACKGROUND_AES)), per)
    b_term = n_proc + np.repeat(np.tile(np.arange(len(scenario.BACKGROUND_AES)), n), per)
    span = plan["obs_end"][b_subj] - plan["consent_day"][b_subj] + 1
    b_start = plan["consent_day"][b_subj] + np.floor(rng.random(len(b_subj)) * span).astype(int)

    subj = np.concatenate([p_subj, b_subj])
    term = np.concatenate([p_term, b_term])
    start = np.concatenate([p_start, b_start])
    keep = start <= plan["obs_end"][subj]
    subj, term, start = subj[keep], term[keep], start[keep]

    dur_lo = np.array([t.duration_days[0] for t in terms])[term]
    dur_hi = np.array([t.duration_days[1] for t in terms])[term]
    end = start + rng.integers(dur_lo, dur_hi + 1)
    grade = 1 + _draw_categorical(rng, np.array([t.grade_probs for t in terms])[term])
    causality = _draw_categorical(rng, np.array([t.causality_probs for t in terms])[term])
    counts = np.array([len(t.verbatims) for t in terms])
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    verbatim = offsets[term] + np.floor(rng.random(len(term)) * counts[term]).astype(int)
    serious = np.zeros(len(term), dtype=bool)

    # The planted story: one row per event, appended with codes past the drawn terms.
    planted_subj = np.array([_planted_subject(plan, p.cohort_id, p.rank) for p in scenario.PLANTED_EVENTS])
    planted_start = plan["dose_day"][planted_subj] + np.array([p.study_day - 1
                                                               for p in scenario.PLANTED_EVENTS])
    planted_codes = np.arange(len(scenario.PLANTED_EVENTS))
    subj = np.concatenate([subj, planted_subj])
    start = np.concatenate([start, planted_start])
    end = np.concatenate([end, planted_start + [p.duration_days for p in scenario.PLANTED_EVENTS]])
    grade = np.concatenate([grade, [p.grade for p in scenario.PLANTED_EVENTS]])
    causality = np.concatenate([causality, [scenario.CAUSALITY.index(p.causality) for p in scenario.PLANTED_EVENTS]])
    verbatim = np.concatenate([verbatim, counts.sum() + planted_codes])
    term = np.concatenate([term, len(terms) + planted_codes])
    serious = np.concatenate([serious, [p.serious for p in scenario.PLANTED_EVENTS]])
    pts = (*(t.pt for t in terms), *(p.pt for p in scenario.PLANTED_EVENTS))
    socs = (*(t.soc for t in terms), *(p.soc for p in scenario.PLANTED_EVENTS))
    verbatims = (*(v for t in terms for v in t.verbatims), *(p.verbatim for p in scenario.PLANTED_EVENTS))

    # Sorted by subject, start, preferred term; what the cut-off shows follows.
    pt_rank = np.argsort(np.argsort(np.asarray(pts, dtype=str), kind="stable"))[term]
    order = np.lexsort((end, pt_rank, start, subj))
    subj, term, start, end = subj[order], term[order], start[order], end[order]
    grade, causality, verbatim, serious = (grade[order], causality[order], verbatim[order],
                                           serious[order])
    obs_end = plan["obs_end"][subj]
    ended = end <= obs_end
    outcome = np.select([ended, obs_end - start < scenario.RECOVERING_DAYS], [0, 1], 2)
    end_text = _iso(np.where(ended, end, start))
    end_text[~ended] = np.nan
    frame = pd.DataFrame({
        "study_id": config.study_id,
        "usubjid": _cat(subj, plan["usubjid"]),
        "seq": _seq_per_subject(subj),
        "verbatim": _cat(verbatim, verbatims),
        "pt": _cat(term, pts),
        "soc": _cat(term, socs),
        "start_dtc": _iso(start),
        "start_date": _day_to_date(start),
        "end_dtc": end_text,
        "end_date": np.where(ended, _day_to_date(end), np.datetime64("NaT")),
        "grade": grade,
        "severity": _cat(grade - 1, scenario.SEVERITY_BY_GRADE),
        "serious": serious,
        "serious_raw": _cat(serious.astype(int), ("N", "Y")),
        "related": np.isin(np.array(scenario.CAUSALITY)[causality], config.related_causality),
        "causality": _cat(causality, scenario.CAUSALITY),
        "outcome": _cat(outcome, (scenario.RECOVERED, scenario.RECOVERING, scenario.NOT_RECOVERED)),
        "action_taken": scenario.ACTION_TAKEN,
    })
    return _AdverseEvents(frame, subj, start)


def _seq_per_subject(sorted_subjects: np.ndarray) -> np.ndarray:
    """1, 2, 3 ... within each run of equal subject indices (input sorted by subject)."""
    n = len(sorted_subjects)
    if n == 0:
        return np.zeros(0, dtype=int)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(sorted_subjects)) + 1])
    lengths = np.diff(np.concatenate([starts, [n]]))
    return np.arange(n) - np.repeat(starts, lengths) + 1


def _inflammation(ae: _AdverseEvents, subj: np.ndarray, day: np.ndarray,
                  active_days: int) -> np.ndarray:
    """Highest grade (0 = none) of an infection or fever active on ``day`` for ``subj``.

    Active means from the onset day for ``active_days`` days.
    """
    infected = np.isin(ae.frame["pt"].to_numpy(dtype=object), scenario.INFLAMMATORY_TERMS)
    if not infected.any() or len(subj) == 0:
        return np.zeros(len(subj), dtype=int)
    events = pd.DataFrame({
        "subj": ae.subj[infected],
        "start": ae.start_day[infected],
        "grade": ae.frame["grade"].to_numpy()[infected],
    })
    rows = pd.DataFrame({"subj": subj, "day": day, "row": np.arange(len(subj))})
    pairs = rows.merge(events, on="subj")
    active = (pairs["day"] >= pairs["start"]) & (pairs["day"] < pairs["start"] + active_days)
    worst = pairs[active].groupby("row")["grade"].max()
    result = np.zeros(len(subj), dtype=int)
    result[worst.index.to_numpy()] = worst.to_numpy()
    return result


def _visit_rows(plan: dict[str, np.ndarray], ae: _AdverseEvents
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(subject, visit, day) of every visit that took place, sorted by subject and day.

    Visit ``len(scenario.VISITS)`` is an unscheduled draw at the onset of an infection or fever.
    """
    s, v = np.nonzero(plan["visit_seen"])
    onset = np.isin(ae.frame["pt"].to_numpy(dtype=object), scenario.UNSCHEDULED_DRAW_TERMS)
    draws = pd.DataFrame({"subj": ae.subj[onset], "day": ae.start_day[onset]}).drop_duplicates()
    subj = np.concatenate([s, draws["subj"].to_numpy()])
    visit = np.concatenate([v, np.full(len(draws), len(scenario.VISITS))])
    day = np.concatenate([plan["visit_day"][s, v], draws["day"].to_numpy()])
    order = np.lexsort((visit, day, subj))
    return subj[order], visit[order], day[order]


def _findings_frame(study_id: str, plan: dict[str, np.ndarray], subj: np.ndarray,
                    visit: np.ndarray, day: np.ndarray) -> pd.DataFrame:
    """The columns labs and vital signs share (rows already sorted by subject, day, visit)."""
    visit_nums = np.array([*(v[1] for v in scenario.VISITS), np.nan])
    study_day = pd.array(_study_day(day, plan["dose_day"][subj]), dtype="Int32")
    study_day[~plan["dosed"][subj]] = pd.NA  # no injection yet: no study day
    return pd.DataFrame({
        "study_id": study_id,
        "usubjid": _cat(subj, plan["usubjid"]),
        "seq": _seq_per_subject(subj),
        "collected_dtc": _iso(day),
        "collected_date": _day_to_date(day),
        "visit": _cat(visit, (*scenario.VISIT_NAMES, scenario.UNSCHEDULED)),
        "visit_num": visit_nums[visit],
        "study_day": study_day,
    })


def _labs(rng: np.random.Generator, plan: dict[str, np.ndarray], study_id: str,
          ae: _AdverseEvents) -> pd.DataFrame:
    """Scheduled and unscheduled lab results of one study (LB), vectorised."""
    n = len(plan["cohort"])
    v_subj, v_visit, v_day = _visit_rows(plan, ae)
    # Which tests each visit draws (last row: unscheduled).
    draws = np.ones((len(scenario.VISITS) + 1, len(scenario.LAB_TESTS)), dtype=bool)
    for i, name in enumerate(scenario.VISIT_NAMES):
        if name in scenario.POST_PROCEDURE_VISITS:
            draws[i] = np.isin(scenario.LAB_CODES, scenario.POST_PROCEDURE_LAB_TESTS)
        elif name not in scenario.COAGULATION_VISITS:
            draws[i] = [t.category != scenario.COAGULATION for t in scenario.LAB_TESTS]
    draws[-1] = np.isin(scenario.LAB_CODES, scenario.UNSCHEDULED_LAB_TESTS)
    row, test = np.nonzero(draws[v_visit])  # row-major: stays sorted by subject, day, test
    subj, visit, day = v_subj[row], v_visit[row], v_day[row]

    mean = np.array([np.log(t.mean) if t.log_normal else t.mean for t in scenario.LAB_TESTS])
    between = np.array([t.sd_between for t in scenario.LAB_TESTS])
    within = np.array([t.sd_within for t in scenario.LAB_TESTS])
    is_log = np.array([t.log_normal for t in scenario.LAB_TESTS])
    subject_mean = mean + between * rng.standard_normal((n, len(scenario.LAB_TESTS)))
    value = subject_mean[subj, test] + within[test] * rng.standard_normal(len(subj))
    value = np.where(is_log[test], np.exp(value), value)

    effect = np.ones((len(scenario.VISITS) + 1, len(scenario.LAB_TESTS)))
    for (visit_name, code), factor in scenario.PROCEDURE_LAB_EFFECT.items():
        effect[scenario.VISIT_NAMES.index(visit_name), scenario.LAB_CODES.index(code)] = factor
    value = value * effect[visit, test]

    # Infections and fever: white cells and CRP up while they are active.
    grade = _inflammation(ae, subj, day, scenario.INFLAMMATION_DAYS)
    inflamed = grade > 0
    g = np.clip(grade - 1, 0, len(scenario.WBC_FACTOR_BY_GRADE) - 1)
    white = inflamed & np.isin(test, [scenario.LAB_CODES.index("WBC"), scenario.LAB_CODES.index("NEUT")])
    value = np.where(white, value * np.array(scenario.WBC_FACTOR_BY_GRADE)[g], value)
    crp = inflamed & (test == scenario.LAB_CODES.index("CRP"))
    value = np.where(crp, value + np.array(scenario.CRP_ADDED_BY_GRADE)[g], value)

    # The planted transaminase rises, as multiples of ULN.
    uln = np.array([t.uln for t in scenario.LAB_TESTS])
    for planted, multiples in ((scenario.TRANSAMINASE_RISE, scenario.TRANSAMINASE_ULN_MULTIPLES),
                               (scenario.PERIHEPATITIS, scenario.PERIHEPATITIS_ULN_MULTIPLES)):
        woman = _planted_subject(plan, *planted)
        for visit_name, (alt_x, ast_x) in multiples.items():
            for code, multiple in (("ALT", alt_x), ("AST", ast_x)):
                hit = ((subj == woman) & (visit == scenario.VISIT_NAMES.index(visit_name))
                       & (test == scenario.LAB_CODES.index(code)))
                value = np.where(hit, multiple * uln[test], value)

    decimals = np.array([t.decimals for t in scenario.LAB_TESTS])[test]
    value = np.maximum(np.round(value * 10.0 ** decimals) / 10.0 ** decimals, 0.0)
    lln, uln_row = np.array([t.lln for t in scenario.LAB_TESTS])[test], uln[test]
    # LBSTRESC: each distinct (value, decimals) formatted once.
    scaled = np.rint(value * 10.0 ** decimals).astype(np.int64)  # exact: value is rounded
    uniques, codes = np.unique(scaled * scenario.DECIMALS_KEY + decimals, return_inverse=True)
    texts = np.array([f"{k // scenario.DECIMALS_KEY / 10.0 ** (k % scenario.DECIMALS_KEY):.{k % scenario.DECIMALS_KEY}f}"
                      for k in uniques.tolist()], dtype=object)
    frame = _findings_frame(study_id, plan, subj, visit, day)
    frame.insert(3, "test_code", _cat(test, scenario.LAB_CODES))
    frame.insert(4, "test_name", _cat(test, tuple(t.name for t in scenario.LAB_TESTS)))
    frame.insert(5, "category", _cat(test, tuple(t.category for t in scenario.LAB_TESTS)))
    frame.insert(6, "value", value)
    frame.insert(7, "value_text", _cat(codes, texts))
    frame.insert(8, "unit", _cat(test, tuple(t.unit for t in scenario.LAB_TESTS)))
    frame.insert(9, "lln", lln)
    frame.insert(10, "uln", uln_row)
    frame.insert(11, "range_flag", _cat(np.select([value < lln, value > uln_row], [0, 2], 1),
                                        ("LOW", "NORMAL", "HIGH")))
    frame["baseline_flag"] = visit == scenario.VISIT_NAMES.index("BASELINE")
    return frame


def _vital_signs(rng: np.random.Generator, plan: dict[str, np.ndarray], study_id: str,
                 ae: _AdverseEvents) -> pd.DataFrame:
    """Temperature, blood pressure and pulse at every visit and unscheduled draw (VS)."""
    n = len(plan["cohort"])
    v_subj, v_visit, v_day = _visit_rows(plan, ae)
    k = len(scenario.VITAL_TESTS)
    subj, visit, day = np.repeat(v_subj, k), np.repeat(v_visit, k), np.repeat(v_day, k)
    test = np.tile(np.arange(k), len(v_subj))
    mean = np.array([t.mean for t in scenario.VITAL_TESTS])
    between = np.array([t.sd_between for t in scenario.VITAL_TESTS])
    subject_mean = mean + between * rng.standard_normal((n, k))
    within = np.array([t.sd_within for t in scenario.VITAL_TESTS])
    value = subject_mean[subj, test] + within[test] * rng.standard_normal(len(subj))
    # Fever and a faster pulse in the first days of an infection or fever.
    grade = _inflammation(ae, subj, day, scenario.FEVER_DAYS)
    g = np.clip(grade - 1, 0, len(scenario.FEVER_BY_GRADE) - 1)
    fever = np.array(scenario.FEVER_BY_GRADE)[g] + scenario.FEVER_SPREAD_C * rng.random(len(subj))
    temp = test == scenario.VITAL_CODES.index("TEMP")
    pulse = test == scenario.VITAL_CODES.index("PULSE")
    value = np.where((grade > 0) & temp, np.maximum(value, fever), value)
    value = np.where((grade > 0) & pulse, value + scenario.FEVER_PULSE_ADDED, value)
    decimals = np.array([t.decimals for t in scenario.VITAL_TESTS])[test]
    value = np.round(value * 10.0 ** decimals) / 10.0 ** decimals
    frame = _findings_frame(study_id, plan, subj, visit, day)
    frame.insert(3, "test_code", _cat(test, scenario.VITAL_CODES))
    frame.insert(4, "test_name", _cat(test, tuple(t.name for t in scenario.VITAL_TESTS)))
    frame.insert(5, "value", value)
    frame.insert(6, "unit", _cat(test, tuple(t.unit for t in scenario.VITAL_TESTS)))
    frame.insert(7, "position", scenario.VITAL_POSITION)
    return frame
