"""A live feed for the demo study: new EDC deliveries of NCT04232592, day by day, as SDTM CSV.

``python -m safety demo --live INBOX`` continues the synthetic demo (``safety.demo.generator``) after its
cut-off (2021-01-15), one day of data per delivery: the two HIGH women in screening are dosed,
scheduled visits bring labs, new AEs start (procedure events after each injection, everyday
illness for everyone on study), ongoing ones resolve, and the planted story goes on:

* the first of the two screening HIGH women develops a pelvic infection on study day 5 (grade 3,
  serious, related: an SAE and HIGH's third DLT, so the escalation decision changes);
* now and then (:data:`SAE_DAILY_PROBABILITY`) a woman on study has a serious, unrelated grade 3
  infection (an SAE that is never a DLT).

Deliveries are cumulative EDC exports, as real ones are: each file holds the whole domain as of
its data day, so it *supersedes* the current delivery of that domain (``ingest_batch
.superseded_by``): the demo generator's own DM/EX/AE/LB batches at the first delivery, then each
earlier delivery. Records keep their keys (USUBJID + --SEQ), so "what changed between the two
latest cuts" lists the new and updated records (the first delivery also re-states every demo
record, with the values ingest derives, e.g. ARMCD kept). DS is delivered too (the woman lost to
follow-up), because ingest derives subject status from DM and DS. VS is not delivered: the
generator's VS batch stays current. A domain whose export did not change is not written.

Files are named ``<study>_<domain>_<YYYYMMDD>.csv`` and written under a ``.part`` name, then
renamed into the inbox (the watcher's rule, ``safety.watch``). Content is a pure function of
``(seed, demo_seed, subjects, delivery number)``: the base is the demo as ``build_demo`` writes
it with ``demo_seed`` and ``subjects``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from safety.config import StudyConfig, find_study_config
from safety.demo import generator as demo
from safety.demo import scenario

log = logging.getLogger(__name__)

LIVE_SEED = 1
DEFAULT_INTERVAL_SECONDS = 20.0
DEFAULT_DELIVERIES = 60  # two months of data after the demo's cut-off
FIRST_DOSING_AFTER_CUTOFF = (1, 3)  # days after the cut-off the first screening woman is dosed
SAE_DAILY_PROBABILITY = 0.04  # about one unrelated SAE a month across the study
LIVE_SAE = (
    "Urinary tract infection",
    scenario.SOC_INFECTIONS,
    "Pyelonephritis, admitted for IV antibiotics",
    3,
    (5, 12),
)  # pt, soc, verbatim, grade
LIVE_DLT = (
    "Pelvic inflammatory disease",
    scenario.SOC_INFECTIONS,
    "Pelvic inflammatory disease, admitted",
    5,
    14,
    3,
    "RELATED",
)  # study day 5
DS_CATEGORY = "DISPOSITION EVENT"
DOMAINS = ("DM", "DS", "EX", "AE", "LB")


@dataclass
class _Event:
    usubjid: str
    seq: int
    verbatim: str
    pt: str
    soc: str
    start: date
    end: date
    grade: int
    serious: bool
    causality: str


@dataclass
class LiveFeed:
    """The demo study continued day by day (see the module docstring).

    Parameters
    ----------
    seed
        Seed of the live story (which AEs, which lab values, when).
    demo_seed, subjects
        The demo database the feed continues (``build_demo(seed=demo_seed, subjects=...)``).
    """

    seed: int = LIVE_SEED
    demo_seed: int = scenario.DEMO_SEED
    subjects: int | None = None
    day: date = scenario.DEMO_CUTOFF
    deliveries: int = 0
    _written: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.config: StudyConfig = find_study_config(scenario.DEMO_STUDY_ID)
        n = self.subjects or scenario.REGISTRY_SUBJECTS
        stream = np.random.SeedSequence(self.demo_seed).spawn(1)[0]  # as build_demo's study 1
        frames = demo.generate_study(self.config, np.random.default_rng(stream), n, self.demo_seed)
        self.rng = np.random.default_rng(self.seed)
        self.dm = frames["DM"].astype({"cohort_id": str, "status": str}).reset_index(drop=True)
        self.ex = frames["EX"].astype({"treatment": str}).reset_index(drop=True)
        self.base_ae = frames["AE"]
        self.base_lb = frames["LB"]
        self.events: list[_Event] = []
        self.new_labs: list[dict] = []
        self.next_seq = {
            "AE": self.base_ae.groupby("usubjid", observed=True)["seq"].max().to_dict(),
            "LB": self.base_lb.groupby("usubjid", observed=True)["seq"].max().to_dict(),
        }
        self.lab_means = self._subject_lab_means()
        self.dose_plan = self._plan_dosing()
        self.dlt_subject = next(iter(self.dose_plan), None)

    # --- the story ---------------------------------------------------------------------------

    def _plan_dosing(self) -> dict[str, date]:
        """Injection day of each woman in screening: the first soon, the rest 5-9 days apart."""
        waiting = self.dm.loc[self.dm["first_dose_date"].isna(), "usubjid"].tolist()
        plan, day = (
            {},
            scenario.DEMO_CUTOFF
            + timedelta(
                days=int(
                    self.rng.integers(
                        FIRST_DOSING_AFTER_CUTOFF[0], FIRST_DOSING_AFTER_CUTOFF[1] + 1
                    )
                )
            ),
        )
        for usubjid in waiting:
            plan[usubjid] = day
            day += timedelta(
                days=int(self.rng.integers(scenario.STAGGER_DAYS[0], scenario.STAGGER_DAYS[1] + 1))
            )
        return plan

    def _subject_lab_means(self) -> pd.DataFrame:
        """Each woman's mean per test (log scale for log-normal tests): her own level."""
        lb = self.base_lb[["usubjid", "test_code", "value"]].astype(
            {"usubjid": str, "test_code": str}
        )
        log_tests = [t.code for t in scenario.LAB_TESTS if t.log_normal]
        lb["v"] = np.where(
            lb["test_code"].isin(log_tests), np.log(lb["value"].clip(lower=1e-3)), lb["value"]
        )
        return lb.groupby(["usubjid", "test_code"])["v"].mean()

    def advance(self) -> date:
        """One more day of data; returns the new data day."""
        self.day += timedelta(days=1)
        self.deliveries += 1
        for usubjid, when in self.dose_plan.items():
            if when == self.day:
                self._dose(usubjid)
        self._visits()
        self._background_events()
        return self.day

    def _dose(self, usubjid: str) -> None:
        i = self.dm.index[self.dm["usubjid"] == usubjid][0]
        when = pd.Timestamp(self.day)
        self.dm.loc[i, ["first_dose_date", "last_dose_date"]] = when
        self.dm.loc[i, "status"] = "on study"
        cohort = self.config.cohort(self.dm.loc[i, "cohort_id"])
        self.ex = pd.concat(
            [
                self.ex,
                pd.DataFrame(
                    [
                        {
                            "study_id": self.config.study_id,
                            "usubjid": usubjid,
                            "seq": 1,
                            "treatment": scenario.TREATMENT_VEHICLE
                            if cohort.is_control
                            else scenario.TREATMENT_CELLS,
                            "dose": 0.0 if cohort.is_control else cohort.dose,
                            "dose_unit": cohort.dose_unit,
                            "route": scenario.ROUTE,
                            "start_date": when,
                            "end_date": when,
                        }
                    ]
                ),
            ],
            ignore_index=True,
        )
        # Procedure events of this injection, each at most once, near the procedure.
        for term in scenario.PROCEDURE_AES:
            if self.rng.random() < term.rate:
                onset = int(self.rng.integers(term.onset_days[0], term.onset_days[1] + 1))
                self._add_event(usubjid, term, self.day + timedelta(days=onset))
        if usubjid == self.dlt_subject:
            pt, soc, verbatim, study_day, duration, grade, causality = LIVE_DLT
            start = self.day + timedelta(days=study_day - 1)
            self._append(
                usubjid,
                verbatim,
                pt,
                soc,
                start,
                start + timedelta(days=duration),
                grade,
                True,
                causality,
            )
        log.info("live demo: %s dosed on %s", usubjid, self.day)

    def _add_event(self, usubjid: str, term: scenario.AeTerm, start: date) -> None:
        duration = int(self.rng.integers(term.duration_days[0], term.duration_days[1] + 1))
        grade = 1 + int(self.rng.choice(3, p=np.array(term.grade_probs) / sum(term.grade_probs)))
        causality = scenario.CAUSALITY[
            int(self.rng.choice(5, p=np.array(term.causality_probs) / sum(term.causality_probs)))
        ]
        verbatim = term.verbatims[int(self.rng.integers(len(term.verbatims)))]
        self._append(
            usubjid,
            verbatim,
            term.pt,
            term.soc,
            start,
            start + timedelta(days=duration),
            grade,
            False,
            causality,
        )

    def _append(
        self,
        usubjid: str,
        verbatim: str,
        pt: str,
        soc: str,
        start: date,
        end: date,
        grade: int,
        serious: bool,
        causality: str,
    ) -> None:
        seq = self.next_seq["AE"].get(usubjid, 0) + 1
        self.next_seq["AE"][usubjid] = seq
        self.events.append(
            _Event(usubjid, seq, verbatim, pt, soc, start, end, grade, serious, causality)
        )

    def _on_study(self) -> pd.DataFrame:
        """Women dosed and still followed on the current day."""
        dm = self.dm
        dosed = dm["first_dose_date"].notna() & (dm["first_dose_date"] <= pd.Timestamp(self.day))
        ended = dm["end_of_study_date"].notna() & (dm["end_of_study_date"] < pd.Timestamp(self.day))
        return dm[dosed & ~ended]

    def _background_events(self) -> None:
        """Everyday illness (Poisson per woman-day) and, rarely, an unrelated SAE."""
        women = self._on_study()["usubjid"].tolist()
        for term in scenario.BACKGROUND_AES:
            hits = self.rng.poisson(term.rate / scenario.DAYS_PER_YEAR, len(women))
            for usubjid in np.asarray(women, dtype=object)[hits > 0]:
                self._add_event(usubjid, term, self.day)
        if women and self.rng.random() < SAE_DAILY_PROBABILITY:
            pt, soc, verbatim, grade, (lo, hi) = LIVE_SAE
            usubjid = women[int(self.rng.integers(len(women)))]
            end = self.day + timedelta(days=int(self.rng.integers(lo, hi + 1)))
            self._append(usubjid, verbatim, pt, soc, self.day, end, grade, True, "NOT RELATED")

    def _visits(self) -> None:
        """Labs of the scheduled visits that fall on the current day (nominal day, no window)."""
        women = self._on_study()
        offsets = (pd.Timestamp(self.day) - women["first_dose_date"]).dt.days
        for name, number, nominal, _window in scenario.VISITS:
            if nominal is None:
                continue
            for usubjid in women.loc[offsets.to_numpy() == nominal, "usubjid"]:
                self._draw_labs(usubjid, name, number, nominal)
                if name == scenario.VISIT_NAMES[scenario.WEEK48]:
                    i = self.dm.index[self.dm["usubjid"] == usubjid][0]
                    self.dm.loc[i, "end_of_study_date"] = pd.Timestamp(self.day)
                    self.dm.loc[i, "status"] = "completed"

    def _draw_labs(self, usubjid: str, visit: str, visit_num: float, nominal: int) -> None:
        if visit in scenario.POST_PROCEDURE_VISITS:
            tests = [t for t in scenario.LAB_TESTS if t.code in scenario.POST_PROCEDURE_LAB_TESTS]
        elif visit in scenario.COAGULATION_VISITS:
            tests = list(scenario.LAB_TESTS)
        else:
            tests = [t for t in scenario.LAB_TESTS if t.category != scenario.COAGULATION]
        for t in tests:
            level = self.lab_means.get(
                (usubjid, t.code), np.log(t.mean) if t.log_normal else t.mean
            )
            value = level + t.sd_within * self.rng.standard_normal()
            value = max(round(float(np.exp(value) if t.log_normal else value), t.decimals), 0.0)
            seq = self.next_seq["LB"].get(usubjid, 0) + 1
            self.next_seq["LB"][usubjid] = seq
            flag = "LOW" if value < t.lln else "HIGH" if value > t.uln else "NORMAL"
            self.new_labs.append(
                {
                    "usubjid": usubjid,
                    "seq": seq,
                    "test_code": t.code,
                    "test_name": t.name,
                    "category": t.category,
                    "value": value,
                    "value_text": f"{value:.{t.decimals}f}",
                    "unit": t.unit,
                    "lln": float(t.lln),
                    "uln": float(t.uln),
                    "range_flag": flag,
                    "collected_date": pd.Timestamp(self.day),
                    "visit": visit,
                    "visit_num": visit_num,
                    "study_day": nominal + 1,
                    "baseline_flag": visit == "BASELINE",
                }
            )

    # --- SDTM exports ------------------------------------------------------------------------

    def exports(self) -> dict[str, pd.DataFrame]:
        """The cumulative SDTM datasets as of the current day, by domain."""
        return {
            "DM": self._sdtm_dm(),
            "DS": self._sdtm_ds(),
            "EX": self._sdtm_ex(),
            "AE": self._sdtm_ae(),
            "LB": self._sdtm_lb(),
        }

    def _sdtm_dm(self) -> pd.DataFrame:
        dm = self.dm
        labels = {c.cohort_id: c.label for c in self.config.cohorts}
        dosed = dm["first_dose_date"].notna()
        return pd.DataFrame(
            {
                "STUDYID": dm["study_id"],
                "DOMAIN": "DM",
                "USUBJID": dm["usubjid"],
                "SUBJID": dm["subjid"],
                "SITEID": dm["site_id"],
                "RFICDTC": _dtc(dm["enrolled_date"]),
                "RFXSTDTC": _dtc(dm["first_dose_date"]),
                "RFXENDTC": _dtc(dm["last_dose_date"]),
                "RFPENDTC": _dtc(dm["end_of_study_date"]),
                "AGE": dm["age"],
                "AGEU": "YEARS",
                "SEX": dm["sex"],
                "RACE": dm["race"],
                "ARMCD": dm["cohort_id"],
                "ARM": dm["cohort_id"].map(labels),
                "ACTARMCD": dm["cohort_id"].where(dosed, "NOTTRT"),
                "COUNTRY": "CHN",
            }
        )

    def _sdtm_ds(self) -> pd.DataFrame:
        gone = self.dm[self.dm["status"] == "withdrawn"]
        return pd.DataFrame(
            {
                "STUDYID": gone["study_id"],
                "DOMAIN": "DS",
                "USUBJID": gone["usubjid"],
                "DSSEQ": 1,
                "DSTERM": "Lost to follow-up",
                "DSDECOD": gone["status_reason"].fillna(scenario.LOST_TO_FOLLOW_UP),
                "DSCAT": DS_CATEGORY,
                "DSSTDTC": _dtc(gone["end_of_study_date"]),
            }
        )

    def _sdtm_ex(self) -> pd.DataFrame:
        ex = self.ex.sort_values(["usubjid", "seq"], kind="stable")
        return pd.DataFrame(
            {
                "STUDYID": ex["study_id"],
                "DOMAIN": "EX",
                "USUBJID": ex["usubjid"],
                "EXSEQ": ex["seq"],
                "EXTRT": ex["treatment"],
                "EXDOSE": ex["dose"],
                "EXDOSU": ex["dose_unit"],
                "EXROUTE": ex["route"],
                "EXSTDTC": _dtc(ex["start_date"]),
                "EXENDTC": _dtc(ex["end_date"]),
            }
        )

    def _sdtm_ae(self) -> pd.DataFrame:
        base = self.base_ae.astype(
            {
                c: str
                for c in (
                    "usubjid",
                    "verbatim",
                    "pt",
                    "soc",
                    "causality",
                    "outcome",
                    "action_taken",
                )
            }
        )
        today = pd.Timestamp(self.day)
        new = pd.DataFrame(
            [vars(e) for e in self.events if e.start <= self.day],
            columns=list(_Event.__dataclass_fields__),
        )
        start = pd.to_datetime(new["start"])
        end = pd.to_datetime(new["end"])
        ended = end <= today
        outcome = np.select(
            [ended, (today - start).dt.days < scenario.RECOVERING_DAYS],
            [scenario.RECOVERED, scenario.RECOVERING],
            scenario.NOT_RECOVERED,
        )
        frame = pd.concat(
            [
                pd.DataFrame(
                    {
                        "USUBJID": base["usubjid"],
                        "AESEQ": base["seq"],
                        "AETERM": base["verbatim"],
                        "AEDECOD": base["pt"],
                        "AEBODSYS": base["soc"],
                        "AESEV": base["severity"].astype(str),
                        "AETOXGR": base["grade"],
                        "AESER": np.where(base["serious"], "Y", "N"),
                        "AEREL": base["causality"],
                        "AEOUT": base["outcome"],
                        "AEACN": base["action_taken"],
                        "AESTDTC": _dtc(base["start_date"]),
                        "AEENDTC": _dtc(base["end_date"]),
                    }
                ),
                pd.DataFrame(
                    {
                        "USUBJID": new["usubjid"],
                        "AESEQ": new["seq"],
                        "AETERM": new["verbatim"],
                        "AEDECOD": new["pt"],
                        "AEBODSYS": new["soc"],
                        "AESEV": [scenario.SEVERITY_BY_GRADE[g - 1] for g in new["grade"]],
                        "AETOXGR": new["grade"],
                        "AESER": np.where(new["serious"], "Y", "N"),
                        "AEREL": new["causality"],
                        "AEOUT": outcome,
                        "AEACN": scenario.ACTION_TAKEN,
                        "AESTDTC": _dtc(start),
                        "AEENDTC": _dtc(end.where(ended)),
                    }
                ),
            ],
            ignore_index=True,
        ).sort_values(["USUBJID", "AESEQ"], kind="stable")
        frame.insert(0, "STUDYID", self.config.study_id)
        frame.insert(1, "DOMAIN", "AE")
        return frame

    def _sdtm_lb(self) -> pd.DataFrame:
        new = pd.DataFrame(
            self.new_labs, columns=list(self.base_lb.columns.drop(["study_id", "collected_dtc"]))
        )
        lb = pd.concat(
            [
                self.base_lb.drop(columns=["study_id", "collected_dtc"]).astype(
                    {
                        c: str
                        for c in (
                            "usubjid",
                            "test_code",
                            "test_name",
                            "category",
                            "value_text",
                            "unit",
                            "range_flag",
                            "visit",
                        )
                    }
                ),
                new,
            ],
            ignore_index=True,
        )
        lb = lb.sort_values(["usubjid", "seq"], kind="stable")
        return pd.DataFrame(
            {
                "STUDYID": self.config.study_id,
                "DOMAIN": "LB",
                "USUBJID": lb["usubjid"],
                "LBSEQ": lb["seq"],
                "LBTESTCD": lb["test_code"],
                "LBTEST": lb["test_name"],
                "LBCAT": lb["category"],
                "LBORRES": lb["value_text"],
                "LBSTRESC": lb["value_text"],
                "LBSTRESN": lb["value"],
                "LBSTRESU": lb["unit"],
                "LBSTNRLO": lb["lln"],
                "LBSTNRHI": lb["uln"],
                "LBNRIND": lb["range_flag"],
                "LBBLFL": np.where(lb["baseline_flag"].astype(bool), "Y", ""),
                "VISITNUM": lb["visit_num"],
                "VISIT": lb["visit"],
                "LBDTC": _dtc(lb["collected_date"]),
                "LBDY": lb["study_day"].astype("Int32"),
            }
        )

    def write(self, inbox: Path) -> list[Path]:
        """Write the domains whose export changed since the last write; DM first.

        Each file is written as ``<name>.part`` and renamed into ``inbox`` when complete.
        """
        inbox = Path(inbox)
        written = []
        for domain, frame in self.exports().items():
            data = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
            digest = hashlib.sha256(data).hexdigest()
            if self._written.get(domain) == digest or frame.empty:
                continue
            name = f"{self.config.study_id.lower()}_{domain.lower()}_{self.day:%Y%m%d}.csv"
            written.append(write_then_rename(inbox / name, data))
            self._written[domain] = digest
        return written


def _dtc(values: pd.Series) -> pd.Series:
    """Dates as ISO 8601 --DTC text; missing stays empty."""
    return pd.to_datetime(values).dt.strftime("%Y-%m-%d")


def write_then_rename(target: Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` so that a watcher never sees it half-written."""
    part = target.with_name(target.name + ".part")
    with open(part, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(part, target)
    return target


def run_live(
    inbox: Path,
    *,
    seed: int = LIVE_SEED,
    interval: float = DEFAULT_INTERVAL_SECONDS,
    deliveries: int = DEFAULT_DELIVERIES,
    subjects: int | None = None,
    demo_seed: int = scenario.DEMO_SEED,
    stop: threading.Event | None = None,
    on_delivery: Callable[[date, list[Path]], None] | None = None,
) -> int:
    """Write ``deliveries`` daily deliveries into ``inbox``, ``interval`` seconds apart.

    Returns the number of deliveries written (fewer when ``stop`` was set).
    """
    inbox = Path(inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    stop = stop or threading.Event()
    feed = LiveFeed(seed=seed, demo_seed=demo_seed, subjects=subjects)
    done = 0
    while done < deliveries and not stop.is_set():
        day = feed.advance()
        files = feed.write(inbox)
        done += 1
        if on_delivery:
            on_delivery(day, files)
        if done < deliveries:
            stop.wait(interval)
    return done
