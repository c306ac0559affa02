"""The synthetic default study: a seeded, deterministic demo of NCT04232592.

NCT04232592 injects human embryonic stem cell derived mesenchymal cells (hESC-MSC) into the
uterus after hysteroscopic adhesiolysis for moderate or severe intrauterine adhesions: 32 women
aged 18 to 38, a control group given the vehicle (contains albumin) and three dose groups of 8,
followed for 48 weeks. The registry publishes neither the doses nor the data; everything here is
synthetic, and the content of the database is a pure function of ``(seed, studies, subjects)``.

The calendar (days from the first injection, 2020-01-31)
--------------------------------------------------------
* LOW opens on day 0 with a sentinel woman; the next is dosed 14 days later, the rest 5-9 days
  apart. MED opens on day 149 (2020-06-28) and HIGH on day 298 (2020-11-24): each cohort's
  dosing period, then the last woman's 28-day DLT window and the safety review, come first.
* The 8 controls are dosed at even intervals across the whole period.
* :data:`DEMO_CUTOFF` (day 350, 2021-01-15) falls while HIGH is still enrolling: 6 of 8 women
  dosed (the last two, and often a third, still inside their DLT window) and 2 consented and in
  screening. Women whose week-48 visit has passed are ``completed``.

The planted safety story (:data:`PLANTED_EVENTS`; ranks are dosing order within the cohort)
--------------------------------------------------------------------------------------------
* LOW #3: Pelvic inflammatory disease, grade 3, serious, possibly related, study day 60 —
  an SAE but not a DLT (outside the 28-day window). LOW: 0 DLTs.
* MED #5: Endometritis, grade 3, serious, related, study day 5 — MED's one DLT.
* HIGH #1: Anaphylactic reaction, grade 3, serious, on the injection day — a DLT by the
  protocol's always-DLT list. HIGH #4: Pelvic inflammatory disease, grade 3, serious, related,
  study day 6 — HIGH's second DLT (2 of 6 dosed).
* HIGH #2: Alanine aminotransferase increased, grade 2 (ALT about 4 x ULN at DAY 7, AST about
  3.5 x ULN, normal again by DAY 28) — visible in the labs, below the lab DLT criterion (grade 3).
* HIGH #4 also has perihepatitis with her pelvic infection: ALT 6 x ULN at DAY 7, grade 3 — a
  lab-based DLT candidate by the protocol's lab criterion (she is already a DLT subject, so the
  counts per cohort do not change).
* CTRL #4: Appendicitis, grade 3, serious, not related, study day 20 — an SAE, never a DLT.
* LOW #7 is lost to follow-up after her WEEK 12 visit (status ``withdrawn``).
* No teratoma or ectopic tissue: the hard-stop rule must stay quiet in the default demo.

Randomly generated AEs are never serious, grade 3 only for unrelated background terms, and
never on the always-DLT list, so the planted events are the only SAEs and DLTs.

Study days follow SDTM (--DY): the injection date is day 1, the day before it day -1, there is
no day 0. Visit names use the protocol's nominal days counted from the injection (injection =
day 0): the DAY 7 visit is nominally on study day 8. BASELINE is drawn on the injection day,
before the injection (study day 1, baseline flag set).

Scale: ``build_demo(studies=K, subjects=N)`` writes K studies of N women each (four equal
cohorts), the first one NCT04232592 and the others ``NCT04232592-S002`` ... with the same
protocol. Scaled cohorts enrol at most one woman a day, so their calendar starts earlier (before
2020-01-31); the cut-off and the planted story are the same, a quarter of HIGH is still in
screening, and women beyond the registry's eight per cohort drop out at
:data:`SCALED_DROPOUT_RATE`.
Generation is vectorised over subjects, visits and tests; each study is generated and inserted
on its own, so memory stays flat whatever K is.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from safety import store
from safety.config import StudyConfig, find_study_config, parse_study_config
from safety.store import queries

log = logging.getLogger(__name__)

DEMO_SEED = 20200131  # the date of the first injection, as a number
DEMO_STUDY_ID = "NCT04232592"
FIRST_INJECTION = date(2020, 1, 31)  # registry start date; LOW's sentinel woman is dosed on it
DEMO_CUTOFF = date(2021, 1, 15)  # day 350: HIGH has 6 of 8 dosed, the last ones in their window
LOADED_AT = datetime.combine(DEMO_CUTOFF + timedelta(days=1), time(6, 0))  # fixed, not wall clock
LOADED_BY = "demo"
SITE_ID = "01"  # single centre
REGISTRY_SUBJECTS = 32  # the registry's enrolment; the default size of a demo study
REGISTRY_PER_COHORT = 8
SCALED_ID_FORMAT = DEMO_STUDY_ID + "-S{:03d}"  # sorts after the default study, in build order

# --- calendar, in days from FIRST_INJECTION -----------------------------------------------------
COHORT_ORDER = ("CTRL", "LOW", "MED", "HIGH")  # index used throughout: 0 is control
SENTINEL_GAP_DAYS = 14  # the sentinel woman is watched alone before the rest of her cohort
STAGGER_DAYS = (5, 9)  # later women of a cohort are dosed 5 to 9 days apart
COHORT_DOSING_DAYS = 68  # LOW and MED dose their 8 women within 68 days of opening
HIGH_DOSING_DAYS = 50  # HIGH doses its women within 50 days of opening
CUTOFF_AFTER_HIGH_OPENS = 52  # so HIGH's last two women are inside their window at the cut-off
# After a cohort's dosing period: the last woman's 28-day DLT window, then the safety review.
ESCALATION_PAUSE_DAYS = 81
SCALED_DAYS_PER_WOMAN = 1  # scaled cohorts enrol at most one woman a day: the calendar stretches
CUTOFF_DAY = (DEMO_CUTOFF - FIRST_INJECTION).days  # 350
HIGH_SCREENING_FRACTION = 4  # a quarter of HIGH (2 of 8) consented but not yet dosed
SCREENING_CONSENT_DAYS = (2, 12)  # ... consented this many days before the cut-off
CONTROL_FIRST_AFTER_OPENING = 5  # controls from 5 days after LOW opens ...
CONTROL_LAST_AFTER_HIGH_OPENS = 20  # ... to 20 days after HIGH opens, evenly spaced
CONTROL_JITTER_DAYS = 4
SCREENING_VISIT_DAYS = (7, 14)  # screening visit 7 to 14 days before the injection
CONSENT_BEFORE_SCREENING_DAYS = (0, 3)
DLT_WINDOW_DAYS = 28  # as the config's [dlt] window_days; checked against it on build
WITHDRAWN_PLANTED = ("LOW", 7)  # lost to follow-up after her WEEK 12 visit
SCALED_DROPOUT_RATE = 0.03  # women beyond the registry's 8 per cohort: lost to follow-up
LOST_TO_FOLLOW_UP = "LOST TO FOLLOW-UP"
RACE = "ASIAN"  # single centre in China
AGE_RANGE = (18, 38)  # inclusion criteria
AGE_MODE = 31  # women treated for adhesions before IVF are mostly in their early thirties

# --- visits: (name, VISITNUM, nominal day from injection, +/- window days) ----------------------
VISITS = (
    ("SCREENING", 1.0, None, 0),  # date from SCREENING_VISIT_DAYS
    ("BASELINE", 2.0, 0, 0),  # injection day, before the injection
    ("DAY 1", 3.0, 1, 0),
    ("DAY 3", 4.0, 3, 0),
    ("DAY 7", 5.0, 7, 1),
    ("DAY 14", 6.0, 14, 2),
    ("DAY 28", 7.0, 28, 3),
    ("WEEK 12", 8.0, 84, 7),
    ("WEEK 24", 9.0, 168, 7),
    ("WEEK 48", 10.0, 336, 7),  # end of study
)
VISIT_NAMES = tuple(v[0] for v in VISITS)
WEEK12, WEEK24, WEEK48 = (VISIT_NAMES.index(v) for v in ("WEEK 12", "WEEK 24", "WEEK 48"))
DROPOUT_LAST_VISITS = (VISIT_NAMES.index("DAY 7"), WEEK24)  # last visit seen of a scaled dropout
COAGULATION_VISITS = ("SCREENING", "BASELINE", "DAY 7")  # around the procedure only
POST_PROCEDURE_VISITS = ("DAY 1", "DAY 3")  # blood count and CRP only
POST_PROCEDURE_LAB_TESTS = ("HGB", "WBC", "NEUT", "LYM", "PLAT", "CRP")
UNSCHEDULED = "UNSCHEDULED"  # extra draw at the onset of an infection or fever

CAUSALITY = ("RELATED", "PROBABLY RELATED", "POSSIBLY RELATED", "UNLIKELY RELATED", "NOT RELATED")
SEVERITY_BY_GRADE = ("MILD", "MODERATE", "SEVERE", "SEVERE", "SEVERE")  # CTCAE grade 1..5
RECOVERED, RECOVERING, NOT_RECOVERED = (
    "RECOVERED/RESOLVED", "RECOVERING/RESOLVING", "NOT RECOVERED/NOT RESOLVED")
RECOVERING_DAYS = 14  # an AE ongoing at the cut-off and younger than this is "recovering"
ACTION_TAKEN = "NOT APPLICABLE"  # a single injection: nothing to withdraw or reduce
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True, slots=True)
class AeTerm:
    """One MedDRA preferred term the generator draws, with its rate, timing and grading."""

    pt: str  # AEDECOD
    soc: str  # AEBODSYS
    verbatims: tuple[str, ...]  # AETERM as investigators write it
    rate: float  # procedure terms: P(event) per dosed woman; background: events per woman-year
    onset_days: tuple[int, int]  # procedure terms: days after the injection (inclusive)
    duration_days: tuple[int, int]  # end - start (inclusive)
    grade_probs: tuple[float, float, float]  # P(CTCAE grade 1, 2, 3)
    causality_probs: tuple[float, float, float, float, float]  # over CAUSALITY


SOC_INJURY = "Injury, poisoning and procedural complications"
SOC_REPRO = "Reproductive system and breast disorders"
SOC_GI = "Gastrointestinal disorders"
SOC_GENERAL = "General disorders and administration site conditions"
SOC_INFECTIONS = "Infections and infestations"
SOC_IMMUNE = "Immune system disorders"
SOC_SKIN = "Skin and subcutaneous tissue disorders"
SOC_NERVOUS = "Nervous system disorders"
SOC_INVESTIGATIONS = "Investigations"
SOC_VASCULAR = "Vascular disorders"
SOC_MUSCULO = "Musculoskeletal and connective tissue disorders"
SOC_RESPIRATORY = "Respiratory, thoracic and mediastinal disorders"
SOC_PSYCH = "Psychiatric disorders"

# Events of the hysteroscopy and injection: at most one each per woman, near the procedure.
# Illustrative rates for hysteroscopic adhesiolysis; grade 1-2 only, so none can be a DLT.
PROCEDURE_AES = (
    AeTerm("Procedural pain", SOC_INJURY, ("Post-procedural pain", "Pain after hysteroscopy",
           "Lower abdominal pain after operation"), 0.65, (0, 1), (0, 3), (0.8, 0.2, 0),
           (0, 0, 0, 0.4, 0.6)),
    AeTerm("Vaginal haemorrhage", SOC_REPRO, ("Vaginal bleeding", "Post-operative vaginal bleeding",
           "Spotting"), 0.5, (0, 2), (2, 7), (0.85, 0.15, 0), (0, 0, 0.1, 0.5, 0.4)),
    AeTerm("Abdominal pain lower", SOC_GI, ("Lower abdominal pain", "Lower abdominal cramps"),
           0.35, (0, 3), (1, 5), (0.8, 0.2, 0), (0, 0.05, 0.25, 0.5, 0.2)),
    AeTerm("Pelvic pain", SOC_REPRO, ("Pelvic pain", "Pelvic discomfort"), 0.2, (0, 7), (2, 10),
           (0.75, 0.25, 0), (0, 0.05, 0.3, 0.45, 0.2)),
    AeTerm("Vaginal discharge", SOC_REPRO, ("Increased vaginal discharge", "Vaginal discharge"),
           0.3, (1, 10), (3, 14), (0.9, 0.1, 0), (0, 0.05, 0.3, 0.45, 0.2)),
    AeTerm("Pyrexia", SOC_GENERAL, ("Fever", "Low grade fever", "Post-operative fever"), 0.1,
           (0, 2), (1, 3), (0.8, 0.2, 0), (0, 0.1, 0.3, 0.4, 0.2)),
    AeTerm("Endometritis", SOC_INFECTIONS, ("Endometritis", "Endometrial infection"), 0.05,
           (3, 14), (7, 21), (0, 1.0, 0), (0, 0.2, 0.5, 0.3, 0)),
    AeTerm("Hypersensitivity", SOC_IMMUNE, ("Allergic reaction", "Mild allergic reaction"), 0.04,
           (0, 1), (1, 3), (0.7, 0.3, 0), (0, 0.5, 0.5, 0, 0)),
    AeTerm("Urticaria", SOC_SKIN, ("Urticaria", "Hives", "Skin rash with itching"), 0.05, (0, 1),
           (1, 4), (0.9, 0.1, 0), (0, 0.2, 0.6, 0.2, 0)),
    AeTerm("Nausea", SOC_GI, ("Nausea", "Nausea after anaesthesia"), 0.12, (0, 1), (0, 2),
           (1.0, 0, 0), (0, 0, 0, 0.6, 0.4)),
    AeTerm("Headache", SOC_NERVOUS, ("Headache", "Headache after anaesthesia"), 0.1, (0, 1),
           (0, 2), (1.0, 0, 0), (0, 0, 0, 0.5, 0.5)),
    AeTerm("Dysmenorrhoea", SOC_REPRO, ("Painful menstruation", "Dysmenorrhea",
           "Menstrual cramps"), 0.25, (14, 60), (2, 4), (0.7, 0.3, 0), (0, 0, 0.1, 0.5, 0.4)),
    AeTerm("Deep vein thrombosis", SOC_VASCULAR, ("Deep vein thrombosis left calf",
           "DVT right leg"), 0.004, (2, 21), (30, 90), (0, 1.0, 0), (0, 0, 0.4, 0.6, 0)),
)

# Everyday illness over the whole follow-up, from consent on: never related to the cells.
BACKGROUND_AES = (
    AeTerm("Upper respiratory tract infection", SOC_INFECTIONS, ("Common cold", "URTI",
           "Upper respiratory infection", "Sore throat and runny nose"), 1.5, (0, 0), (3, 10),
           (0.85, 0.15, 0), (0, 0, 0, 0.2, 0.8)),
    AeTerm("Urinary tract infection", SOC_INFECTIONS, ("Urinary tract infection", "Cystitis"),
           0.3, (0, 0), (3, 10), (0.3, 0.7, 0), (0, 0, 0, 0.4, 0.6)),
    AeTerm("Headache", SOC_NERVOUS, ("Headache", "Tension headache",
           "Headache, resolved with paracetamol"), 1.2, (0, 0), (0, 2), (0.85, 0.14, 0.01),
           (0, 0, 0, 0.2, 0.8)),
    AeTerm("Back pain", SOC_MUSCULO, ("Back pain", "Low back pain"), 0.5, (0, 0), (2, 14),
           (0.85, 0.15, 0), (0, 0, 0, 0.3, 0.7)),
    AeTerm("Diarrhoea", SOC_GI, ("Diarrhea", "Loose stools"), 0.5, (0, 0), (1, 4),
           (0.9, 0.1, 0), (0, 0, 0, 0.2, 0.8)),
    AeTerm("Nausea", SOC_GI, ("Nausea",), 0.3, (0, 0), (0, 3), (0.95, 0.05, 0),
           (0, 0, 0, 0.2, 0.8)),
    AeTerm("Fatigue", SOC_GENERAL, ("Tiredness", "Fatigue"), 0.4, (0, 0), (2, 14),
           (0.9, 0.1, 0), (0, 0, 0, 0.3, 0.7)),
    AeTerm("Cough", SOC_RESPIRATORY, ("Cough",), 0.6, (0, 0), (3, 14), (0.9, 0.1, 0),
           (0, 0, 0, 0.1, 0.9)),
    AeTerm("Insomnia", SOC_PSYCH, ("Difficulty sleeping", "Insomnia"), 0.3, (0, 0), (3, 30),
           (0.9, 0.1, 0), (0, 0, 0, 0.2, 0.8)),
    AeTerm("Gastroenteritis", SOC_INFECTIONS, ("Gastroenteritis", "Stomach flu"), 0.2, (0, 0),
           (2, 6), (0.5, 0.45, 0.05), (0, 0, 0, 0.1, 0.9)),
)


@dataclass(frozen=True, slots=True)
class PlantedEvent:
    """An AE placed on purpose so that the protocol's rules visibly fire (or visibly don't)."""

    cohort_id: str
    rank: int  # dosing order within the cohort, 1-based
    pt: str
    soc: str
    verbatim: str
    study_day: int  # SDTM: injection day = 1
    duration_days: int
    grade: int
    serious: bool
    causality: str
    why: str


PLANTED_EVENTS = (
    PlantedEvent("LOW", 3, "Pelvic inflammatory disease", SOC_INFECTIONS,
                 "Pelvic inflammatory disease requiring hospitalisation", 60, 12, 3, True,
                 "POSSIBLY RELATED", "SAE outside the 28-day window: serious, not a DLT"),
    PlantedEvent("MED", 5, "Endometritis", SOC_INFECTIONS,
                 "Acute endometritis, admitted for IV antibiotics", 5, 14, 3, True, "RELATED",
                 "grade 3 related inside the window: MED's one DLT"),
    PlantedEvent("HIGH", 1, "Anaphylactic reaction", SOC_IMMUNE,
                 "Anaphylactic reaction during intrauterine injection", 1, 0, 3, True,
                 "PROBABLY RELATED", "always-DLT term in the first HIGH woman"),
    PlantedEvent("HIGH", 2, "Alanine aminotransferase increased", SOC_INVESTIGATIONS,
                 "Elevated ALT", 4, 20, 2, False, "POSSIBLY RELATED",
                 "transient transaminase rise, grade 2: below the lab DLT criterion"),
    PlantedEvent("HIGH", 4, "Pelvic inflammatory disease", SOC_INFECTIONS,
                 "Pelvic inflammatory disease, hospitalised", 6, 16, 3, True, "RELATED",
                 "grade 3 related inside the window: HIGH's second DLT"),
    PlantedEvent("CTRL", 4, "Appendicitis", SOC_INFECTIONS, "Acute appendicitis, appendectomy",
                 20, 7, 3, True, "NOT RELATED", "SAE not related: never a DLT"),
)
TRANSAMINASE_RISE = ("HIGH", 2)  # the woman whose ALT/AST rise transiently
# Multiples of ULN for the transient rise, by visit (CTCAE v5.0 ALT/AST increased, normal
# baseline: grade 1 >ULN-3xULN, grade 2 >3-5xULN). Peak 4 x ULN at DAY 7: grade 2.
TRANSAMINASE_ULN_MULTIPLES = {"DAY 3": (1.8, 1.5), "DAY 7": (4.0, 3.5), "DAY 14": (1.6, 1.4)}
# The lab-based DLT: HIGH #4's pelvic infection (day 6) comes with perihepatitis
# (Fitz-Hugh-Curtis): ALT 6 x ULN at DAY 7 is grade 3 (>5-20 x ULN), a DLT by the protocol's
# lab criterion. She already has a DLT, so subject counts and decisions do not change.
PERIHEPATITIS = ("HIGH", 4)
PERIHEPATITIS_ULN_MULTIPLES = {"DAY 7": (6.0, 4.5), "DAY 14": (2.5, 2.0)}

# Infections and fever raise WBC, neutrophils and CRP and the temperature for a week from onset.
INFLAMMATORY_TERMS = ("Endometritis", "Pelvic inflammatory disease", "Appendicitis", "Pyrexia",
                      "Urinary tract infection", "Upper respiratory tract infection",
                      "Gastroenteritis")
INFLAMMATION_DAYS = 7
# By grade 1, 2, 3: WBC and neutrophil multiplier, CRP added (mg/L), temperature (C).
WBC_FACTOR_BY_GRADE = (1.15, 1.6, 2.1)
CRP_ADDED_BY_GRADE = (8.0, 45.0, 110.0)
FEVER_BY_GRADE = (38.1, 38.5, 39.1)  # CTCAE v5.0 fever: >38.0 C
FEVER_DAYS = 3  # temperature and pulse are up for the first days of an infection only
# Onsets that get an unscheduled draw (labs and vitals) on the day they start.
UNSCHEDULED_DRAW_TERMS = ("Endometritis", "Pelvic inflammatory disease", "Appendicitis",
                          "Pyrexia")
UNSCHEDULED_LAB_TESTS = POST_PROCEDURE_LAB_TESTS


@dataclass(frozen=True, slots=True)
class LabTest:
    """A lab test with its SI unit, female normal range and the population it is drawn from."""

    code: str  # LBTESTCD
    name: str  # LBTEST
    category: str  # LBCAT
    unit: str  # LBSTRESU
    lln: float
    uln: float
    mean: float  # geometric mean when log_normal
    sd_between: float  # between women (log units when log_normal)
    sd_within: float  # visit to visit
    decimals: int
    log_normal: bool = False


HEMATOLOGY, COAGULATION, CHEMISTRY = "HEMATOLOGY", "COAGULATION", "CHEMISTRY"
# Adult female reference ranges in SI units (illustrative, typical of Chinese hospital labs).
LAB_TESTS = (
    LabTest("HGB", "Hemoglobin", HEMATOLOGY, "g/L", 115, 150, 130, 9, 4, 0),
    LabTest("WBC", "Leukocytes", HEMATOLOGY, "10^9/L", 3.5, 9.5, 6.0, 1.1, 0.7, 1),
    LabTest("NEUT", "Neutrophils", HEMATOLOGY, "10^9/L", 1.8, 6.3, 3.6, 0.8, 0.5, 1),
    LabTest("LYM", "Lymphocytes", HEMATOLOGY, "10^9/L", 1.1, 3.2, 1.9, 0.4, 0.25, 1),
    LabTest("PLAT", "Platelets", HEMATOLOGY, "10^9/L", 125, 350, 240, 45, 18, 0),
    LabTest("INR", "Prothrombin Intl. Normalized Ratio", COAGULATION, "RATIO", 0.8, 1.2, 1.0,
            0.06, 0.03, 2),
    LabTest("APTT", "Activated Partial Thromboplastin Time", COAGULATION, "s", 25, 37, 30.5, 2.0,
            1.2, 1),
    LabTest("FIBRINO", "Fibrinogen", COAGULATION, "g/L", 2.0, 4.0, 2.9, 0.4, 0.2, 2),
    LabTest("ALT", "Alanine Aminotransferase", CHEMISTRY, "U/L", 7, 40, 17, 0.3, 0.15, 0, True),
    LabTest("AST", "Aspartate Aminotransferase", CHEMISTRY, "U/L", 13, 35, 19, 0.2, 0.12, 0,
            True),
    LabTest("ALP", "Alkaline Phosphatase", CHEMISTRY, "U/L", 35, 100, 62, 12, 5, 0),
    LabTest("GGT", "Gamma Glutamyl Transferase", CHEMISTRY, "U/L", 7, 45, 16, 0.35, 0.12, 0,
            True),
    LabTest("BILI", "Bilirubin", CHEMISTRY, "umol/L", 0, 21, 9, 0.35, 0.2, 1, True),
    LabTest("CREAT", "Creatinine", CHEMISTRY, "umol/L", 41, 81, 60, 8, 4, 0),
    LabTest("UREA", "Urea", CHEMISTRY, "mmol/L", 2.6, 7.5, 4.3, 0.8, 0.5, 1),
    LabTest("ALB", "Albumin", CHEMISTRY, "g/L", 40, 55, 45, 2.5, 1.2, 0),
    LabTest("K", "Potassium", CHEMISTRY, "mmol/L", 3.5, 5.3, 4.1, 0.25, 0.2, 1),
    LabTest("SODIUM", "Sodium", CHEMISTRY, "mmol/L", 137, 147, 140.5, 1.5, 1.2, 0),
    LabTest("CRP", "C Reactive Protein", CHEMISTRY, "mg/L", 0, 10, 1.5, 0.8, 0.5, 1, True),
)
LAB_CODES = tuple(t.code for t in LAB_TESTS)
DECIMALS_KEY = 10  # packs (value in units of its last decimal, decimals) into one integer
# The procedure itself: a small blood loss and an inflammatory response over the first days.
PROCEDURE_LAB_EFFECT = {("DAY 1", "HGB"): 0.96, ("DAY 1", "CRP"): 3.0, ("DAY 3", "CRP"): 2.0,
                        ("DAY 1", "WBC"): 1.15, ("DAY 1", "NEUT"): 1.25}


@dataclass(frozen=True, slots=True)
class VitalTest:
    """A vital sign with the population it is drawn from."""

    code: str  # VSTESTCD
    name: str  # VSTEST
    unit: str  # VSSTRESU
    mean: float
    sd_between: float
    sd_within: float
    decimals: int


VITAL_TESTS = (
    VitalTest("TEMP", "Temperature", "C", 36.6, 0.15, 0.2, 1),
    VitalTest("SYSBP", "Systolic Blood Pressure", "mmHg", 112, 9, 7, 0),
    VitalTest("DIABP", "Diastolic Blood Pressure", "mmHg", 72, 7, 5, 0),
    VitalTest("PULSE", "Pulse Rate", "beats/min", 74, 8, 6, 0),
)
VITAL_CODES = tuple(t.code for t in VITAL_TESTS)
VITAL_POSITION = "SITTING"
FEVER_SPREAD_C = 0.3  # fever temperatures spread this far above FEVER_BY_GRADE
FEVER_PULSE_ADDED = 18.0  # beats/min with fever

TREATMENT_CELLS = "hESC-MSC"
TREATMENT_VEHICLE = "Vehicle (albumin solution)"
ROUTE = "INTRAUTERINE"
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


def build_demo(db: str | Path | None = None, *, seed: int = DEMO_SEED, studies: int = 1,
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
    n = REGISTRY_SUBJECTS if subjects is None else subjects
    if studies < 1:
        raise ValueError(f"studies must be 1 or more, got {studies}")
    if n < REGISTRY_SUBJECTS or n % len(COHORT_ORDER):
        raise ValueError(f"subjects must be a multiple of 4 and at least {REGISTRY_SUBJECTS}, "
                         f"got {n}")
    config = find_study_config(DEMO_STUDY_ID)
    if config.dlt.window_days != DLT_WINDOW_DAYS:
        raise ValueError(f"the demo calendar assumes a {DLT_WINDOW_DAYS}-day DLT window, the "
                         f"configuration says {config.dlt.window_days}")
    study_ids = tuple(DEMO_STUDY_ID if k == 0 else SCALED_ID_FORMAT.format(k + 1)
                      for k in range(studies))
    # One independent stream per study, so study k is the same whatever K is.
    streams = np.random.SeedSequence(seed).spawn(studies)
    counts = dict.fromkeys(("study", "cohort", "subject", "exposure", "adverse_event", "lab",
                            "vital_sign", "ingest_batch"), 0)
    path = store.resolve_db_path(db)
    # Generating and hashing study k+1 in a worker overlaps with inserting study k (numpy,
    # pyarrow, hashlib and DuckDB all release the GIL); one study ahead keeps memory flat.
    with store.new_database(path) as con, ThreadPoolExecutor(max_workers=1) as worker:
        jobs = [(config if study_id == DEMO_STUDY_ID else _scaled_config(config, study_id), stream)
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
        detail = {"seed": seed, "studies": studies, "subjects": n, "cutoff": str(DEMO_CUTOFF),
                  "rows": counts}
        queries.database.record_audit(con, actor=LOADED_BY, action="demo.build", at=LOADED_AT,
                             study_id=DEMO_STUDY_ID, detail=json.dumps(detail, sort_keys=True))
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
            "reason": [None], "loaded_by": [LOADED_BY], "loaded_at": [LOADED_AT],
        })
        queries.database.insert_frame(con, "ingest_batch", batch)
        counts["ingest_batch"] += 1
        if domain == "CONFIG":
            queries.studies.record_study(con, study.config, batch_id, data_cutoff=DEMO_CUTOFF)
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
                   seed: int = DEMO_SEED) -> dict[str, pd.DataFrame]:
    """One study's clinical rows, keyed by SDTM domain (DM, EX, AE, LB, VS), without batch ids.

    Fact tables are sorted by (usubjid, date) and numbered per subject (``seq``). Repeated
    strings are pandas categoricals: cheap to build, stored as VARCHAR on insert.
    """
    plan = _plan_subjects(rng, n)
    plan["usubjid"] = np.array([f"{config.study_id}-{SITE_ID}-{s}" for s in plan["subjid"]],
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
    """Days from FIRST_INJECTION as datetime64[D]."""
    return np.datetime64(FIRST_INJECTION, "D") + days.astype("timedelta64[D]")


def _iso(days: np.ndarray) -> pd.Categorical:
    """Days from FIRST_INJECTION as ISO 8601 text (--DTC), formatted once per distinct day."""
    unique, codes = np.unique(days, return_inverse=True)
    return _cat(codes, np.datetime_as_string(_day_to_date(unique)).astype(object))


def _study_day(day: np.ndarray, dose_day: np.ndarray) -> np.ndarray:
    """SDTM --DY: injection date is day 1, the day before is day -1 (no day 0)."""
    offset = day - dose_day
    return np.where(offset >= 0, offset + 1, offset)


def _calendar(per_cohort: int) -> tuple[dict[str, int], dict[str, int]]:
    """(opening day, dosing period in days) of each dose cohort.

    Counted back from the cut-off: HIGH opens CUTOFF_AFTER_HIGH_OPENS days before it, and each
    cohort opens one dosing period plus ESCALATION_PAUSE_DAYS after the one below. With 8 women
    a cohort this puts LOW on day 0 (2020-01-31), MED on day 149 and HIGH on day 298. Scaled
    cohorts enrol at most one woman a day, so their calendar starts earlier.
    """
    stretched = per_cohort * SCALED_DAYS_PER_WOMAN
    budget = {"LOW": max(COHORT_DOSING_DAYS, stretched), "MED": max(COHORT_DOSING_DAYS, stretched),
              "HIGH": max(HIGH_DOSING_DAYS, stretched)}
    opens = {"HIGH": CUTOFF_DAY - budget["HIGH"] - (CUTOFF_AFTER_HIGH_OPENS - HIGH_DOSING_DAYS)}
    opens["MED"] = opens["HIGH"] - budget["MED"] - ESCALATION_PAUSE_DAYS
    opens["LOW"] = opens["MED"] - budget["LOW"] - ESCALATION_PAUSE_DAYS
    return opens, budget


def _stagger(rng: np.random.Generator, opens: int, count: int, budget_days: int) -> np.ndarray:
    """Injection days of a cohort: sentinel, a 14-day pause, then 5-9 days apart, in budget."""
    if count <= 1:
        return np.full(count, opens)
    gaps = rng.integers(STAGGER_DAYS[0], STAGGER_DAYS[1] + 1, size=count - 2)
    steps = np.concatenate([[0], np.cumsum(gaps)]).astype(float)
    room = budget_days - SENTINEL_GAP_DAYS
    if steps[-1] > room:  # a scaled cohort: squeeze the gaps into the dosing period
        steps *= room / steps[-1]
    return np.concatenate([[opens], opens + SENTINEL_GAP_DAYS + np.floor(steps).astype(int)])


def _plan_subjects(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Who is in which cohort, when each was consented, screened, dosed and seen last.

    Returns arrays in subject-number order (order of consent). Days are from FIRST_INJECTION
    (negative before it); ``dosed`` is False for women still in screening, whose ``dose_day``
    means nothing.
    """
    per_cohort = n // len(COHORT_ORDER)
    opens, budget = _calendar(per_cohort)
    cohort_parts, rank_parts, dose_parts, dosed_parts = [], [], [], []
    for index, cohort_id in enumerate(COHORT_ORDER):  # four cohorts, not a loop over subjects
        if cohort_id == "CTRL":
            even = np.linspace(opens["LOW"] + CONTROL_FIRST_AFTER_OPENING,
                               opens["HIGH"] + CONTROL_LAST_AFTER_HIGH_OPENS, per_cohort)
            days = np.floor(even).astype(int) + rng.integers(0, CONTROL_JITTER_DAYS, per_cohort)
        elif cohort_id == "HIGH":
            screening = per_cohort // HIGH_SCREENING_FRACTION
            dosed = _stagger(rng, opens[cohort_id], per_cohort - screening, budget[cohort_id])
            days = np.concatenate([dosed, np.zeros(screening, dtype=int)])  # not used
        else:
            days = _stagger(rng, opens[cohort_id], per_cohort, budget[cohort_id])
        cohort_parts.append(np.full(per_cohort, index))
        rank_parts.append(np.arange(1, per_cohort + 1))
        dose_parts.append(days)
        dosed_parts.append(np.arange(per_cohort) < len(days) - (
            per_cohort // HIGH_SCREENING_FRACTION if cohort_id == "HIGH" else 0))
    cohort = np.concatenate(cohort_parts)
    rank = np.concatenate(rank_parts)
    dosed = np.concatenate(dosed_parts)
    dose_day = np.concatenate(dose_parts)

    screen_day = dose_day - rng.integers(SCREENING_VISIT_DAYS[0], SCREENING_VISIT_DAYS[1] + 1, n)
    consent_day = screen_day - rng.integers(CONSENT_BEFORE_SCREENING_DAYS[0],
                                            CONSENT_BEFORE_SCREENING_DAYS[1] + 1, n)
    waiting = CUTOFF_DAY - rng.integers(SCREENING_CONSENT_DAYS[0], SCREENING_CONSENT_DAYS[1] + 1,
                                        n)
    consent_day = np.where(dosed, consent_day, waiting)
    screen_day = np.where(dosed, screen_day, np.minimum(waiting + 1, CUTOFF_DAY))

    # Visit days (n x visits): nominal day from injection +/- its window.
    nominal = np.array([0 if v[2] is None else v[2] for v in VISITS])
    window = np.array([v[3] for v in VISITS])
    jitter = np.floor(rng.uniform(-1, 1, (n, len(VISITS))) * (window + 1)).astype(int)
    jitter = np.clip(jitter, -window, window)
    visit_day = dose_day[:, None] + nominal[None, :] + jitter
    visit_day[:, 0] = screen_day

    # Lost to follow-up: the planted woman after WEEK 12; scaled extras after a random visit.
    planted = (cohort == COHORT_ORDER.index(WITHDRAWN_PLANTED[0])) & (rank == WITHDRAWN_PLANTED[1])
    extra = dosed & (rank > REGISTRY_PER_COHORT) & (rng.random(n) < SCALED_DROPOUT_RATE)
    last_seen = np.where(planted, WEEK12,
                         rng.integers(DROPOUT_LAST_VISITS[0], DROPOUT_LAST_VISITS[1] + 1, n))
    missed_day = visit_day[np.arange(n), np.minimum(last_seen + 1, WEEK48)]
    withdrawn = (planted | extra) & (missed_day <= CUTOFF_DAY)  # known once a visit is missed
    completed = dosed & ~withdrawn & (visit_day[:, WEEK48] <= CUTOFF_DAY)
    last_contact = visit_day[np.arange(n), last_seen]
    has_end = completed | withdrawn
    end_day = np.where(completed, visit_day[:, WEEK48], last_contact)  # RFPENDTC when has_end
    obs_end = np.where(has_end, end_day, CUTOFF_DAY)  # the last day a woman's data cover
    status = np.select([~dosed, completed, withdrawn], ["screening", "completed", "withdrawn"],
                       "on study")
    visit_seen = (visit_day <= obs_end[:, None]) & (dosed[:, None] | (np.arange(len(VISITS)) == 0))

    order = np.lexsort((rank, cohort, consent_day))  # subject numbers in order of consent
    plan = {
        "cohort": cohort, "rank": rank, "dose_day": dose_day, "dosed": dosed,
        "screen_day": screen_day, "consent_day": consent_day, "end_day": end_day,
        "obs_end": obs_end, "status": status, "visit_day": visit_day, "visit_seen": visit_seen,
        "withdrawn": withdrawn, "has_end": has_end,
    }
    plan = {key: value[order] for key, value in plan.items()}
    age = rng.triangular(AGE_RANGE[0], AGE_MODE, AGE_RANGE[1] + 0.49, n)  # rounds into 18..38
    plan["age"] = np.rint(age).astype(int)
    width = max(3, len(str(n)))
    plan["subjid"] = np.array([f"{i:0{width}d}" for i in range(1, n + 1)], dtype=object)
    return plan


def _planted_subject(plan: dict[str, np.ndarray], cohort_id: str, rank: int) -> int:
    """Subject index of the woman dosed ``rank``-th in ``cohort_id``."""
    hits = np.flatnonzero((plan["cohort"] == COHORT_ORDER.index(cohort_id))
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
        "site_id": SITE_ID,
        "cohort_id": _cat(plan["cohort"], COHORT_ORDER),
        "sex": "F",
        "age": plan["age"],
        "race": RACE,
        "enrolled_date": _day_to_date(plan["consent_day"]),
        "first_dose_date": dose_date,
        "last_dose_date": dose_date,  # a single injection
        "end_of_study_date": end,
        "status": plan["status"].astype(object),
        "status_reason": np.where(plan["withdrawn"], LOST_TO_FOLLOW_UP, None),
    })


def _exposure_frame(config: StudyConfig, plan: dict[str, np.ndarray]) -> pd.DataFrame:
    dosed = np.flatnonzero(plan["dosed"])
    cohorts = [config.cohort(c) for c in COHORT_ORDER]
    cohort = plan["cohort"][dosed]
    day = _day_to_date(plan["dose_day"][dosed])
    cell_unit = next(c.dose_unit for c in cohorts if not c.is_control)
    return pd.DataFrame({
        "study_id": config.study_id,
        "usubjid": plan["usubjid"][dosed],
        "seq": 1,
        "treatment": _cat(cohort, tuple(TREATMENT_VEHICLE if c.is_control else TREATMENT_CELLS
                                        for c in cohorts)),
        "dose": np.array([0.0 if c.is_control else c.dose for c in cohorts])[cohort],
        "dose_unit": cell_unit,  # the vehicle is dose 0 of the same unit
        "route": ROUTE,
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
    terms = (*PROCEDURE_AES, *BACKGROUND_AES)
    n_proc = len(PROCEDURE_AES)

    # Procedure terms: at most one of each per dosed woman, near the injection.
    hit = rng.random((len(dosed), n_proc)) < np.array([t.rate for t in PROCEDURE_AES])
    p_subj, p_term = np.nonzero(hit)
    p_subj = dosed[p_subj]
    lo = np.array([t.onset_days[0] for t in PROCEDURE_AES])[p_term]
    hi = np.array([t.onset_days[1] for t in PROCEDURE_AES])[p_term]
    p_start = plan["dose_day"][p_subj] + rng.integers(lo, hi + 1)

    # Background terms: Poisson over the whole observed time from consent.
    years = (plan["obs_end"] - plan["consent_day"] + 1) / DAYS_PER_YEAR
    rates = np.array([t.rate for t in BACKGROUND_AES])
    per = rng.poisson(years[:, None] * rates[None, :]).ravel()
    b_subj = np.repeat(np.repeat(np.arange(n), len(BACKGROUND_AES)), per)
    b_term = n_proc + np.repeat(np.tile(np.arange(len(BACKGROUND_AES)), n), per)
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
    planted_subj = np.array([_planted_subject(plan, p.cohort_id, p.rank) for p in PLANTED_EVENTS])
    planted_start = plan["dose_day"][planted_subj] + np.array([p.study_day - 1
                                                               for p in PLANTED_EVENTS])
    planted_codes = np.arange(len(PLANTED_EVENTS))
    subj = np.concatenate([subj, planted_subj])
    start = np.concatenate([start, planted_start])
    end = np.concatenate([end, planted_start + [p.duration_days for p in PLANTED_EVENTS]])
    grade = np.concatenate([grade, [p.grade for p in PLANTED_EVENTS]])
    causality = np.concatenate([causality, [CAUSALITY.index(p.causality) for p in PLANTED_EVENTS]])
    verbatim = np.concatenate([verbatim, counts.sum() + planted_codes])
    term = np.concatenate([term, len(terms) + planted_codes])
    serious = np.concatenate([serious, [p.serious for p in PLANTED_EVENTS]])
    pts = (*(t.pt for t in terms), *(p.pt for p in PLANTED_EVENTS))
    socs = (*(t.soc for t in terms), *(p.soc for p in PLANTED_EVENTS))
    verbatims = (*(v for t in terms for v in t.verbatims), *(p.verbatim for p in PLANTED_EVENTS))

    # Sorted by subject, start, preferred term; what the cut-off shows follows.
    pt_rank = np.argsort(np.argsort(np.asarray(pts, dtype=str), kind="stable"))[term]
    order = np.lexsort((end, pt_rank, start, subj))
    subj, term, start, end = subj[order], term[order], start[order], end[order]
    grade, causality, verbatim, serious = (grade[order], causality[order], verbatim[order],
                                           serious[order])
    obs_end = plan["obs_end"][subj]
    ended = end <= obs_end
    outcome = np.select([ended, obs_end - start < RECOVERING_DAYS], [0, 1], 2)
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
        "severity": _cat(grade - 1, SEVERITY_BY_GRADE),
        "serious": serious,
        "serious_raw": _cat(serious.astype(int), ("N", "Y")),
        "related": np.isin(np.array(CAUSALITY)[causality], config.related_causality),
        "causality": _cat(causality, CAUSALITY),
        "outcome": _cat(outcome, (RECOVERED, RECOVERING, NOT_RECOVERED)),
        "action_taken": ACTION_TAKEN,
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
    infected = np.isin(ae.frame["pt"].to_numpy(dtype=object), INFLAMMATORY_TERMS)
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

    Visit ``len(VISITS)`` is an unscheduled draw at the onset of an infection or fever.
    """
    s, v = np.nonzero(plan["visit_seen"])
    onset = np.isin(ae.frame["pt"].to_numpy(dtype=object), UNSCHEDULED_DRAW_TERMS)
    draws = pd.DataFrame({"subj": ae.subj[onset], "day": ae.start_day[onset]}).drop_duplicates()
    subj = np.concatenate([s, draws["subj"].to_numpy()])
    visit = np.concatenate([v, np.full(len(draws), len(VISITS))])
    day = np.concatenate([plan["visit_day"][s, v], draws["day"].to_numpy()])
    order = np.lexsort((visit, day, subj))
    return subj[order], visit[order], day[order]


def _findings_frame(study_id: str, plan: dict[str, np.ndarray], subj: np.ndarray,
                    visit: np.ndarray, day: np.ndarray) -> pd.DataFrame:
    """The columns labs and vital signs share (rows already sorted by subject, day, visit)."""
    visit_nums = np.array([*(v[1] for v in VISITS), np.nan])
    study_day = pd.array(_study_day(day, plan["dose_day"][subj]), dtype="Int32")
    study_day[~plan["dosed"][subj]] = pd.NA  # no injection yet: no study day
    return pd.DataFrame({
        "study_id": study_id,
        "usubjid": _cat(subj, plan["usubjid"]),
        "seq": _seq_per_subject(subj),
        "collected_dtc": _iso(day),
        "collected_date": _day_to_date(day),
        "visit": _cat(visit, (*VISIT_NAMES, UNSCHEDULED)),
        "visit_num": visit_nums[visit],
        "study_day": study_day,
    })


def _labs(rng: np.random.Generator, plan: dict[str, np.ndarray], study_id: str,
          ae: _AdverseEvents) -> pd.DataFrame:
    """Scheduled and unscheduled lab results of one study (LB), vectorised."""
    n = len(plan["cohort"])
    v_subj, v_visit, v_day = _visit_rows(plan, ae)
    # Which tests each visit draws (last row: unscheduled).
    draws = np.ones((len(VISITS) + 1, len(LAB_TESTS)), dtype=bool)
    for i, name in enumerate(VISIT_NAMES):
        if name in POST_PROCEDURE_VISITS:
            draws[i] = np.isin(LAB_CODES, POST_PROCEDURE_LAB_TESTS)
        elif name not in COAGULATION_VISITS:
            draws[i] = [t.category != COAGULATION for t in LAB_TESTS]
    draws[-1] = np.isin(LAB_CODES, UNSCHEDULED_LAB_TESTS)
    row, test = np.nonzero(draws[v_visit])  # row-major: stays sorted by subject, day, test
    subj, visit, day = v_subj[row], v_visit[row], v_day[row]

    mean = np.array([np.log(t.mean) if t.log_normal else t.mean for t in LAB_TESTS])
    between = np.array([t.sd_between for t in LAB_TESTS])
    within = np.array([t.sd_within for t in LAB_TESTS])
    is_log = np.array([t.log_normal for t in LAB_TESTS])
    subject_mean = mean + between * rng.standard_normal((n, len(LAB_TESTS)))
    value = subject_mean[subj, test] + within[test] * rng.standard_normal(len(subj))
    value = np.where(is_log[test], np.exp(value), value)

    effect = np.ones((len(VISITS) + 1, len(LAB_TESTS)))
    for (visit_name, code), factor in PROCEDURE_LAB_EFFECT.items():
        effect[VISIT_NAMES.index(visit_name), LAB_CODES.index(code)] = factor
    value = value * effect[visit, test]

    # Infections and fever: white cells and CRP up while they are active.
    grade = _inflammation(ae, subj, day, INFLAMMATION_DAYS)
    inflamed = grade > 0
    g = np.clip(grade - 1, 0, len(WBC_FACTOR_BY_GRADE) - 1)
    white = inflamed & np.isin(test, [LAB_CODES.index("WBC"), LAB_CODES.index("NEUT")])
    value = np.where(white, value * np.array(WBC_FACTOR_BY_GRADE)[g], value)
    crp = inflamed & (test == LAB_CODES.index("CRP"))
    value = np.where(crp, value + np.array(CRP_ADDED_BY_GRADE)[g], value)

    # The planted transaminase rises, as multiples of ULN.
    uln = np.array([t.uln for t in LAB_TESTS])
    for planted, multiples in ((TRANSAMINASE_RISE, TRANSAMINASE_ULN_MULTIPLES),
                               (PERIHEPATITIS, PERIHEPATITIS_ULN_MULTIPLES)):
        woman = _planted_subject(plan, *planted)
        for visit_name, (alt_x, ast_x) in multiples.items():
            for code, multiple in (("ALT", alt_x), ("AST", ast_x)):
                hit = ((subj == woman) & (visit == VISIT_NAMES.index(visit_name))
                       & (test == LAB_CODES.index(code)))
                value = np.where(hit, multiple * uln[test], value)

    decimals = np.array([t.decimals for t in LAB_TESTS])[test]
    value = np.maximum(np.round(value * 10.0 ** decimals) / 10.0 ** decimals, 0.0)
    lln, uln_row = np.array([t.lln for t in LAB_TESTS])[test], uln[test]
    # LBSTRESC: each distinct (value, decimals) formatted once.
    scaled = np.rint(value * 10.0 ** decimals).astype(np.int64)  # exact: value is rounded
    uniques, codes = np.unique(scaled * DECIMALS_KEY + decimals, return_inverse=True)
    texts = np.array([f"{k // DECIMALS_KEY / 10.0 ** (k % DECIMALS_KEY):.{k % DECIMALS_KEY}f}"
                      for k in uniques.tolist()], dtype=object)
    frame = _findings_frame(study_id, plan, subj, visit, day)
    frame.insert(3, "test_code", _cat(test, LAB_CODES))
    frame.insert(4, "test_name", _cat(test, tuple(t.name for t in LAB_TESTS)))
    frame.insert(5, "category", _cat(test, tuple(t.category for t in LAB_TESTS)))
    frame.insert(6, "value", value)
    frame.insert(7, "value_text", _cat(codes, texts))
    frame.insert(8, "unit", _cat(test, tuple(t.unit for t in LAB_TESTS)))
    frame.insert(9, "lln", lln)
    frame.insert(10, "uln", uln_row)
    frame.insert(11, "range_flag", _cat(np.select([value < lln, value > uln_row], [0, 2], 1),
                                        ("LOW", "NORMAL", "HIGH")))
    frame["baseline_flag"] = visit == VISIT_NAMES.index("BASELINE")
    return frame


def _vital_signs(rng: np.random.Generator, plan: dict[str, np.ndarray], study_id: str,
                 ae: _AdverseEvents) -> pd.DataFrame:
    """Temperature, blood pressure and pulse at every visit and unscheduled draw (VS)."""
    n = len(plan["cohort"])
    v_subj, v_visit, v_day = _visit_rows(plan, ae)
    k = len(VITAL_TESTS)
    subj, visit, day = np.repeat(v_subj, k), np.repeat(v_visit, k), np.repeat(v_day, k)
    test = np.tile(np.arange(k), len(v_subj))
    mean = np.array([t.mean for t in VITAL_TESTS])
    between = np.array([t.sd_between for t in VITAL_TESTS])
    subject_mean = mean + between * rng.standard_normal((n, k))
    within = np.array([t.sd_within for t in VITAL_TESTS])
    value = subject_mean[subj, test] + within[test] * rng.standard_normal(len(subj))
    # Fever and a faster pulse in the first days of an infection or fever.
    grade = _inflammation(ae, subj, day, FEVER_DAYS)
    g = np.clip(grade - 1, 0, len(FEVER_BY_GRADE) - 1)
    fever = np.array(FEVER_BY_GRADE)[g] + FEVER_SPREAD_C * rng.random(len(subj))
    temp = test == VITAL_CODES.index("TEMP")
    pulse = test == VITAL_CODES.index("PULSE")
    value = np.where((grade > 0) & temp, np.maximum(value, fever), value)
    value = np.where((grade > 0) & pulse, value + FEVER_PULSE_ADDED, value)
    decimals = np.array([t.decimals for t in VITAL_TESTS])[test]
    value = np.round(value * 10.0 ** decimals) / 10.0 ** decimals
    frame = _findings_frame(study_id, plan, subj, visit, day)
    frame.insert(3, "test_code", _cat(test, VITAL_CODES))
    frame.insert(4, "test_name", _cat(test, tuple(t.name for t in VITAL_TESTS)))
    frame.insert(5, "value", value)
    frame.insert(6, "unit", _cat(test, tuple(t.unit for t in VITAL_TESTS)))
    frame.insert(7, "position", VITAL_POSITION)
    return frame
