"""Every CTCAE v5.0 lab term, both unit tables: values at and either side of each threshold.

Expected grades are written by hand from the NCI CTCAE v5.0 grade text (quoted above each
block) and admiral's documented boundary rules (README of the criteria data): strict ``>``/``<``
at a grade's lower bound, so a value exactly on a boundary takes the milder grade, except the
baseline-abnormal grade 1 of ALT/AST (>= 1.5 x BASE) and ALP (>= 2 x BASE). Where admiral reads
the CTCAE text in a particular way the comment says so.
"""

from __future__ import annotations

import pytest
from reference.ctcae_grader import grade, known_terms

CASES: list = []
COVERED: set[tuple[str, str]] = set()


def block(term, units, unit, rows, **limits):
    """Register (value, expected grade[, extra keyword arguments]) rows for one term."""
    for row in rows:
        value, expected = row[0], row[1]
        extra = row[2] if len(row) > 2 else {}
        kwargs = {**limits, **extra}
        CASES.append(
            pytest.param(term, units, unit, value, kwargs, expected,
                         id=f"{units}-{term}-{unit}-{value}-{sorted(kwargs.items())}")
        )
    COVERED.add((units, term))


BOTH = ("SI", "USCV")
ABN = {"baseline_abnormal": True}

# ---------------------------------------------------------------- Blood and lymphatic system
# CTCAE v5.0 "Anemia" G1: Hgb <LLN - 100 g/L; G2: <100 - 80 g/L; G3: <80 g/L
block("Anemia", "SI", "g/L", [(79, 3), (80, 2), (99.9, 2), (100, 1), (119, 1), (120, 0),
                              (79, 3, {"lln": None}), (100, None, {"lln": None})], lln=120)
# CTCAE v5.0 "Anemia" G1: <LLN - 10.0 g/dL; G2: <10.0 - 8.0 g/dL; G3: <8.0 g/dL
block("Anemia", "USCV", "g/dL", [(7.9, 3), (8.0, 2), (9.9, 2), (10, 1), (11.9, 1), (12, 0)],
      lln=12)
# CTCAE v5.0 "Leukocytosis" G3: >100,000/mm3 (= 100 x 10^9/L); grades 1, 2 not defined
block("Leukocytosis", "SI", "10^9/L", [(100, 0), (100.1, 3), (5, 0)])
block("Leukocytosis", "USCV", "10^3/uL", [(100, 0), (100.1, 3)])
block("Leukocytosis", "USCV", "10^3/mL", [(100000, 0), (100001, 3)])  # legacy unit, x1000

# -------------------------------------------------------------------------------- Investigations
for u in BOTH:
    # "Activated partial thromboplastin time prolonged" G1: >ULN - 1.5 x ULN;
    # G2: >1.5 - 2.5 x ULN; G3: >2.5 x ULN
    block("Activated partial thromboplastin time prolonged", u, None,
          [(30, 0), (30.1, 1), (45, 1), (45.1, 2), (75, 2), (75.1, 3),
           (40, None, {"uln": None})], uln=30)
    for term in ("Alanine aminotransferase increased", "Aspartate aminotransferase increased"):
        # G1: >ULN - 3.0 x ULN if baseline normal; 1.5 - 3.0 x baseline if abnormal
        # G2: >3.0 - 5.0 x; G3: >5.0 - 20.0 x; G4: >20.0 x (ULN, or baseline if abnormal)
        block(term, u, None,
              [(40, 0), (41, 1), (120, 1), (120.1, 2), (200, 2), (200.1, 3), (800, 3),
               (800.1, 4), (41, None, {"uln": None})], uln=40, baseline=35)
        # baseline abnormal (50 > ULN 40): multiples of baseline, grade 1 inclusive at 1.5x
        block(term, u, None,
              [(74.9, 0), (75, 1), (150, 1), (150.1, 2), (250, 2), (250.1, 3), (1000, 3),
               (1000.1, 4)], uln=40, baseline=50, **ABN)
    # "Alkaline phosphatase increased" G1: >ULN - 2.5 x ULN if normal; 2.0 - 2.5 x baseline if
    # abnormal; G2: >2.5 - 5.0 x; G3: >5.0 - 20.0 x; G4: >20.0 x
    block("Alkaline phosphatase increased", u, None,
          [(100, 0), (101, 1), (250, 1), (250.1, 2), (500, 2), (500.1, 3), (2000, 3),
           (2000.1, 4)], uln=100, baseline=90)
    block("Alkaline phosphatase increased", u, None,
          [(299, 0), (300, 1), (375, 1), (375.1, 2), (750, 2), (750.1, 3), (3000, 3),
           (3000.1, 4)], uln=100, baseline=150, **ABN)  # grade 1 inclusive at 2.0 x baseline
    # "GGT increased": same text as ALP; admiral keeps grade 1 strict (> 2.0 x baseline)
    block("GGT increased", u, None,
          [(50, 0), (51, 1), (125, 1), (125.1, 2), (250, 2), (250.1, 3), (1000, 3),
           (1000.1, 4)], uln=50, baseline=40)
    block("GGT increased", u, None,
          [(120, 0), (120.1, 1), (150, 1), (150.1, 2), (300, 2), (300.1, 3), (1200, 3),
           (1200.1, 4)], uln=50, baseline=60, **ABN)
    # "Blood bilirubin increased" G1: >ULN - 1.5 x ULN if normal; >1.0 - 1.5 x baseline if
    # abnormal; G2: >1.5 - 3.0 x; G3: >3.0 - 10.0 x; G4: >10.0 x
    block("Blood bilirubin increased", u, None,
          [(20, 0), (20.1, 1), (30, 1), (30.1, 2), (60, 2), (60.1, 3), (200, 3), (200.1, 4)],
          uln=20, baseline=10)
    block("Blood bilirubin increased", u, None,
          [(25, 0), (25.1, 1), (37.5, 1), (37.6, 2), (75, 2), (75.1, 3), (250, 3), (250.1, 4)],
          uln=20, baseline=25, **ABN)
    # "Blood lactate dehydrogenase increased" G1: >ULN (grades 2-4 not defined)
    block("Blood lactate dehydrogenase increased", u, None,
          [(250, 0), (251, 1), (10000, 1), (251, None, {"uln": None})], uln=250)
    # "CPK increased" G1: >ULN - 2.5 x ULN; G2: >2.5 - 5 x; G3: >5 - 10 x; G4: >10 x ULN
    block("CPK increased", u, None,
          [(200, 0), (201, 1), (500, 1), (501, 2), (1000, 2), (1001, 3), (2000, 3), (2001, 4)],
          uln=200)
    # "Creatinine increased" G1: >ULN - 1.5 x ULN; G2: >1.5 - 3.0 x baseline; >1.5 - 3.0 x ULN;
    # G3: >3.0 baseline; >3.0 - 6.0 x ULN; G4: >6.0 x ULN. Worse of the ULN and baseline grade.
    block("Creatinine increased", u, None,
          [(100, 0), (101, 1), (120, 1), (121, 2), (150, 2), (240, 2), (241, 3), (300, 3),
           (301, 3), (600, 3), (601, 4),
           (250, 3, {"uln": None}),  # baseline multiple needs no ULN
           (90, None, {"uln": None}),  # below 1.5 x baseline, ULN unknown: cannot grade
           (151, 2, {"baseline": None})],
          uln=100, baseline=80)
    # "Haptoglobin decreased" G1: <LLN
    block("Haptoglobin decreased", u, None, [(0.29, 1), (0.3, 0), (0.2, None, {"lln": None})],
          lln=0.3)
    # "INR increased" G1: >1.2 - 1.5; >1 - 1.5 x baseline if on anticoagulation; G2: >1.5 - 2.5;
    # >1.5 - 2.5 x baseline; G3: >2.5; >2.5 x baseline. admiral assumes anticoagulation.
    block("INR increased", u, None,
          [(1.2, None), (1.21, 1), (1.5, 1), (1.51, 2), (2.5, 2), (2.51, 3)])  # no baseline
    block("INR increased", u, None,
          [(1.0, 0), (1.1, 1), (1.5, 1), (1.51, 2)], baseline=1.0)
    block("INR increased", u, None,
          [(2.0, 2), (2.5, 2), (2.51, 3), (5.0, 3)], baseline=2.0)  # absolute limits still apply
    # baseline 0.5: multiples of baseline give the worse grade (>1x, >1.5x, >2.5x = 1.25)
    block("INR increased", u, None,
          [(0.5, 0), (0.75, 1), (0.76, 2), (1.2, 2), (1.25, 2), (1.26, 3)], baseline=0.5)
    # "Lipase increased" / "Serum amylase increased" G1: >ULN - 1.5 x ULN; G2: >1.5 - 2.0 x ULN;
    # G3: >2.0 - 5.0 x ULN (worst case "with signs or symptoms"); G4: >5.0 x ULN
    for term in ("Lipase increased", "Serum amylase increased"):
        block(term, u, None,
              [(100, 0), (101, 1), (150, 1), (151, 2), (200, 2), (201, 3), (500, 3), (501, 4)],
              uln=100)
    # "Acidosis" G1: pH <normal, but >=7.3; G3: pH <7.3
    block("Acidosis", u, None, [(7.29, 3), (7.3, 1), (7.34, 1), (7.35, 0), (7.2, 3, {"lln": None}),
                                (7.34, None, {"lln": None})], lln=7.35)
    # "Alkalosis" G1: pH >normal, but <=7.5; G3: pH >7.5
    block("Alkalosis", u, None, [(7.45, 0), (7.46, 1), (7.5, 1), (7.51, 3)], uln=7.45)
    # "Hyperuricemia" G1: >ULN without physiologic consequences; G3: >ULN with physiologic
    # consequences; admiral takes the worst case, grade 3
    block("Hyperuricemia", u, None, [(420, 0), (421, 3), (421, None, {"uln": None})], uln=420)
    # Potassium and sodium have the same mmol/L thresholds in both tables
    # "Hyperkalemia" G1: >ULN - 5.5; G2: >5.5 - 6.0; G3: >6.0 - 7.0; G4: >7.0 mmol/L
    block("Hyperkalemia", u, "mmol/L",
          [(5.1, 0), (5.2, 1), (5.5, 1), (5.6, 2), (6.0, 2), (6.1, 3), (7.0, 3), (7.1, 4),
           (5.5, None, {"uln": None}), (5.6, 2, {"uln": None})], uln=5.1)
    # "Hypernatremia" G1: >ULN - 150; G2: >150 - 155; G3: >155 - 160; G4: >160 mmol/L
    block("Hypernatremia", u, "mmol/L",
          [(145, 0), (146, 1), (150, 1), (151, 2), (155, 2), (156, 3), (160, 3), (161, 4)],
          uln=145)
    # "Hypokalemia" G1: <LLN - 3.0; G2: symptomatic <LLN - 3.0 (worst case); G3: <3.0 - 2.5;
    # G4: <2.5 mmol/L
    block("Hypokalemia", u, "mmol/L",
          [(2.49, 4), (2.5, 3), (2.99, 3), (3.0, 2), (3.49, 2), (3.5, 0)], lln=3.5)
    # "Hyponatremia" G1: <LLN - 130; G2: 125-129 asymptomatic; G3: 125-129 symptomatic (worst
    # case), 120-124; G4: <120 mmol/L. admiral: <= 129 is grade 3
    block("Hyponatremia", u, "mmol/L",
          [(119, 4), (120, 3), (129, 3), (130, 1), (134, 1), (135, 0)], lln=135)

# "CD4 lymphocytes decreased" G1: <LLN - 0.5 x 10e9/L; G2: <0.5 - 0.2; G3: <0.2 - 0.05;
# G4: <0.05 x 10e9/L (USCV: 500, 200, 50 /mm3)
block("CD4 lymphocytes decreased", "SI", "10^9/L",
      [(0.049, 4), (0.05, 3), (0.199, 3), (0.2, 2), (0.499, 2), (0.5, 1), (0.799, 1), (0.8, 0)],
      lln=0.8)
block("CD4 lymphocytes decreased", "USCV", "1/uL",
      [(49, 4), (50, 3), (199, 3), (200, 2), (499, 2), (500, 1), (799, 1), (800, 0)], lln=800)
# "Cholesterol high" G1: >ULN - 7.75 mmol/L; G2: >7.75 - 10.34; G3: >10.34 - 12.92; G4: >12.92
block("Cholesterol high", "SI", "mmol/L",
      [(5.2, 0), (5.3, 1), (7.75, 1), (7.76, 2), (10.34, 2), (10.35, 3), (12.92, 3), (12.93, 4)],
      uln=5.2)
# USCV: >ULN - 300 mg/dL; >300 - 400; >400 - 500; >500 mg/dL
block("Cholesterol high", "USCV", "mg/dL",
      [(200, 0), (201, 1), (300, 1), (301, 2), (400, 2), (401, 3), (500, 3), (501, 4)], uln=200)
# "Fibrinogen decreased" G1: <1.0 - 0.75 x LLN; if abnormal <25% decrease from baseline;
# G2: <0.75 - 0.5 x LLN; 25 - <50%; G3: <0.5 - 0.25 x LLN; 50 - <75%; G4: <0.25 x LLN;
# 75% decrease; absolute value <50 mg/dL (= 0.5 g/L)
block("Fibrinogen decreased", "SI", "g/L",
      [(0.49, 4), (0.5, 3), (0.99, 3), (1.0, 2), (1.49, 2), (1.5, 1), (1.99, 1), (2.0, 0),
       (0.49, 4, {"lln": None}), (1.0, None, {"lln": None}),
       (1.9, 4, {"baseline": 8.0}),   # PCHG -76.25 % and below LLN
       (1.9, 3, {"baseline": 4.0}),   # PCHG -52.5 %
       (1.9, 2, {"baseline": 2.6}),   # PCHG -26.9 %
       (2.0, 0, {"baseline": 8.0}),   # -75 % but not below LLN: not abnormal
       (1.9, 4, {"pchg": -75.0}), (1.9, 3, {"pchg": -50.0}), (1.9, 2, {"pchg": -25.0}),
       (1.9, 1, {"pchg": -24.9})], lln=2.0)
block("Fibrinogen decreased", "USCV", "mg/dL",
      [(49, 4), (50, 3), (99, 3), (100, 2), (149, 2), (150, 1), (199, 1), (200, 0)], lln=200)
# "Hemoglobin increased" G1: increase >0 - 2 g/dL above ULN; G2: >2 - 4; G3: >4 g/dL
block("Hemoglobin increased", "SI", "g/L",
      [(160, 0), (161, 1), (180, 1), (181, 2), (200, 2), (201, 3)], uln=160)
block("Hemoglobin increased", "USCV", "g/dL",
      [(16, 0), (16.1, 1), (18, 1), (18.1, 2), (20, 2), (20.1, 3)], uln=16)
# "Lymphocyte count decreased" G1: <LLN - 0.8 x 10e9/L; G2: <0.8 - 0.5; G3: <0.5 - 0.2; G4: <0.2
lymd = [(0.19, 4), (0.2, 3), (0.49, 3), (0.5, 2), (0.79, 2), (0.8, 1), (0.99, 1), (1.0, 0)]
block("Lymphocyte count decreased", "SI", "10^9/L", lymd, lln=1.0)
block("Lymphocyte count decreased", "USCV", "10^3/uL", lymd, lln=1.0)
block("Lymphocyte count decreased", "USCV", "10^3/mL",
      [(199, 4), (200, 3), (499, 3), (500, 2), (799, 2), (800, 1), (999, 1), (1000, 0)],
      lln=1000)
# "Lymphocyte count increased" G2: >4000/mm3 - 20,000/mm3; G3: >20,000/mm3
lymi = [(4, 0), (4.01, 2), (20, 2), (20.01, 3)]
block("Lymphocyte count increased", "SI", "10^9/L", lymi)
block("Lymphocyte count increased", "USCV", "10^3/uL", lymi)
block("Lymphocyte count increased", "USCV", "10^3/mL",
      [(4000, 0), (4001, 2), (20000, 2), (20001, 3)])
# "Neutrophil count decreased" G1: <LLN - 1.5 x 10e9/L; G2: <1.5 - 1.0; G3: <1.0 - 0.5; G4: <0.5
neut = [(0.49, 4), (0.5, 3), (0.99, 3), (1.0, 2), (1.49, 2), (1.5, 1), (1.99, 1), (2.0, 0)]
block("Neutrophil count decreased", "SI", "10^9/L", neut, lln=2.0)
block("Neutrophil count decreased", "USCV", "10^3/uL", neut, lln=2.0)
block("Neutrophil count decreased", "USCV", "10^3/mL",
      [(499, 4), (500, 3), (999, 3), (1000, 2), (1499, 2), (1500, 1), (1999, 1), (2000, 0)],
      lln=2000)
# "Platelet count decreased" G1: <LLN - 75.0 x 10e9/L; G2: <75.0 - 50.0; G3: <50.0 - 25.0;
# G4: <25.0 x 10e9/L
plat = [(24, 4), (25, 3), (49, 3), (50, 2), (74, 2), (75, 1), (149, 1), (150, 0)]
block("Platelet count decreased", "SI", "10^9/L", plat, lln=150)
block("Platelet count decreased", "USCV", "10^3/uL", plat, lln=150)
block("Platelet count decreased", "USCV", "10^3/mL",
      [(24999, 4), (25000, 3), (49999, 3), (50000, 2), (74999, 2), (75000, 1), (149999, 1),
       (150000, 0)], lln=150000)
# "White blood cell decreased" G1: <LLN - 3.0 x 10e9/L; G2: <3.0 - 2.0; G3: <2.0 - 1.0; G4: <1.0
wbc = [(0.99, 4), (1.0, 3), (1.99, 3), (2.0, 2), (2.99, 2), (3.0, 1), (3.99, 1), (4.0, 0)]
block("White blood cell decreased", "SI", "10^9/L", wbc, lln=4.0)
block("White blood cell decreased", "USCV", "10^3/uL", wbc, lln=4.0)
block("White blood cell decreased", "USCV", "10^3/mL",
      [(999, 4), (1000, 3), (1999, 3), (2000, 2), (2999, 2), (3000, 1), (3999, 1), (4000, 0)],
      lln=4000)

# ------------------------------------------------------------------- Metabolism and nutrition
# "Hypercalcemia" (corrected) G1: >ULN - 2.9 mmol/L; G2: >2.9 - 3.1; G3: >3.1 - 3.4; G4: >3.4
block("Hypercalcemia", "SI", "mmol/L",
      [(2.6, 0), (2.7, 1), (2.9, 1), (2.91, 2), (3.1, 2), (3.11, 3), (3.4, 3), (3.41, 4)],
      uln=2.6)
# USCV: >ULN - 11.5 mg/dL; >11.5 - 12.5; >12.5 - 13.5; >13.5
block("Hypercalcemia", "USCV", "mg/dL",
      [(10.5, 0), (10.6, 1), (11.5, 1), (11.6, 2), (12.5, 2), (12.6, 3), (13.5, 3), (13.6, 4)],
      uln=10.5)
# Ionized calcium G1: >ULN - 1.5 mmol/L; G2: >1.5 - 1.6; G3: >1.6 - 1.8; G4: >1.8
# (USCV: admiral converts with 4 mg/dL per mmol/L: 6.0, 6.4, 7.2 mg/dL)
block("Hypercalcemia (Ionized)", "SI", "mmol/L",
      [(1.3, 0), (1.31, 1), (1.5, 1), (1.51, 2), (1.6, 2), (1.61, 3), (1.8, 3), (1.81, 4)],
      uln=1.3)
block("Hypercalcemia (Ionized)", "USCV", "mg/dL",
      [(5.2, 0), (5.3, 1), (6.0, 1), (6.1, 2), (6.4, 2), (6.5, 3), (7.2, 3), (7.3, 4)], uln=5.2)
# "Hypermagnesemia" G1: >ULN - 1.23 mmol/L; G3: >1.23 - 3.30; G4: >3.30 (no grade 2)
block("Hypermagnesemia", "SI", "mmol/L",
      [(1.05, 0), (1.06, 1), (1.23, 1), (1.24, 3), (3.3, 3), (3.31, 4)], uln=1.05)
# USCV: >ULN - 3.0 mg/dL; >3.0 - 8.0; >8.0
block("Hypermagnesemia", "USCV", "mg/dL",
      [(2.5, 0), (2.6, 1), (3.0, 1), (3.1, 3), (8.0, 3), (8.1, 4)], uln=2.5)
# "Hypertriglyceridemia" G1: 1.71 - 3.42 mmol/L; G2: >3.42 - 5.7; G3: >5.7 - 11.4; G4: >11.4.
# admiral reads G1 as >1.71 (1.71 itself is grade 0)
block("Hypertriglyceridemia", "SI", "mmol/L",
      [(1.71, 0), (1.72, 1), (3.42, 1), (3.43, 2), (5.7, 2), (5.71, 3), (11.4, 3), (11.41, 4)])
block("Hypertriglyceridemia", "USCV", "mg/dL",
      [(150, 0), (151, 1), (300, 1), (301, 2), (500, 2), (501, 3), (1000, 3), (1001, 4)])
# "Hypoalbuminemia" G1: <LLN - 30 g/L; G2: <30 - 20 g/L; G3: <20 g/L
block("Hypoalbuminemia", "SI", "g/L", [(19, 3), (20, 2), (29, 2), (30, 1), (34, 1), (35, 0)],
      lln=35)
block("Hypoalbuminemia", "USCV", "g/dL",
      [(1.9, 3), (2.0, 2), (2.9, 2), (3.0, 1), (3.4, 1), (3.5, 0)], lln=3.5)
# "Hypocalcemia" (corrected) G1: <LLN - 2.0 mmol/L; G2: <2.0 - 1.75; G3: <1.75 - 1.5; G4: <1.5
block("Hypocalcemia", "SI", "mmol/L",
      [(1.49, 4), (1.5, 3), (1.74, 3), (1.75, 2), (1.99, 2), (2.0, 1), (2.09, 1), (2.1, 0)],
      lln=2.1)
# USCV: <LLN - 8.0 mg/dL; <8.0 - 7.0; <7.0 - 6.0; <6.0
block("Hypocalcemia", "USCV", "mg/dL",
      [(5.9, 4), (6.0, 3), (6.9, 3), (7.0, 2), (7.9, 2), (8.0, 1), (8.4, 1), (8.5, 0)], lln=8.5)
# Ionized: <LLN - 1.0 mmol/L; <1.0 - 0.9; <0.9 - 0.8; <0.8 (USCV x4: 4.0, 3.6, 3.2 mg/dL)
block("Hypocalcemia (Ionized)", "SI", "mmol/L",
      [(0.79, 4), (0.8, 3), (0.89, 3), (0.9, 2), (0.99, 2), (1.0, 1), (1.09, 1), (1.1, 0)],
      lln=1.1)
block("Hypocalcemia (Ionized)", "USCV", "mg/dL",
      [(3.1, 4), (3.2, 3), (3.5, 3), (3.6, 2), (3.9, 2), (4.0, 1), (4.4, 1), (4.5, 0)], lln=4.5)
# "Hypoglycemia" G1: <LLN - 3.0 mmol/L; G2: <3.0 - 2.2; G3: <2.2 - 1.7; G4: <1.7
block("Hypoglycemia", "SI", "mmol/L",
      [(1.69, 4), (1.7, 3), (2.19, 3), (2.2, 2), (2.99, 2), (3.0, 1), (3.89, 1), (3.9, 0)],
      lln=3.9)
# USCV: <LLN - 55 mg/dL; <55 - 40; <40 - 30; <30
block("Hypoglycemia", "USCV", "mg/dL",
      [(29, 4), (30, 3), (39, 3), (40, 2), (54, 2), (55, 1), (69, 1), (70, 0)], lln=70)
# "Hypomagnesemia" G1: <LLN - 0.5 mmol/L; G2: <0.5 - 0.4; G3: <0.4 - 0.3; G4: <0.3
block("Hypomagnesemia", "SI", "mmol/L",
      [(0.29, 4), (0.3, 3), (0.39, 3), (0.4, 2), (0.49, 2), (0.5, 1), (0.69, 1), (0.7, 0)],
      lln=0.7)
# USCV: <LLN - 1.2 mg/dL; <1.2 - 0.9; <0.9 - 0.7; <0.7
block("Hypomagnesemia", "USCV", "mg/dL",
      [(0.69, 4), (0.7, 3), (0.89, 3), (0.9, 2), (1.19, 2), (1.2, 1), (1.69, 1), (1.7, 0)],
      lln=1.7)


@pytest.mark.parametrize("term, units, unit, value, kwargs, expected", CASES)
def test_grade_at_and_around_each_ctcae_threshold(term, units, unit, value, kwargs, expected):
    assert grade(term, value, unit=unit, units=units, **kwargs) == expected


@pytest.mark.parametrize("units", ["SI", "USCV"])
def test_every_term_of_the_criteria_table_has_threshold_cases(units):
    assert set(known_terms(units)) == {t for u, t in COVERED if u == units}


@pytest.mark.parametrize("term, units, unit, value, kwargs, expected", CASES[::7])
def test_term_is_case_insensitive(term, units, unit, value, kwargs, expected):
    assert grade(term.upper(), value, unit=unit, units=units, **kwargs) == expected
    assert grade(term.lower(), value, unit=unit, units=units, **kwargs) == expected
