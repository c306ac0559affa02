"""The demo study's story as data: its calendar, visits, AE terms and their rates, the planted
safety events, the lab and vital-sign tests; ``safety.demo.generator`` turns it into rows.

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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

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
