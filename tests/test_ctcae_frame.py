"""grade_frame and derive_lab_grades: reasons, agreement with the scalar path, pilot rows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal, assert_series_equal

from safety.ctcae import derive_lab_grades, grade, grade_frame, load_criteria
from safety.ctcae.evaluate import signif_array, signif_scalar

PILOT_LB = Path(__file__).parent / "data" / "cdiscpilot01" / "lb.csv"
PILOT_DM = Path(__file__).parent / "data" / "cdiscpilot01" / "dm.csv"


# ------------------------------------------------------------------------- grade_frame basics
def test_grade_frame_grades_and_reasons():
    # CTCAE v5.0 "Anemia" G3: <80 g/L; "Alanine aminotransferase increased" G1: >ULN - 3.0 x ULN
    expected = pd.DataFrame(
        [
            ("Anemia", 79.0, 120.0, np.nan, "g/L", 3, None),
            ("Anemia", 110.0, np.nan, np.nan, "g/L", None, "no lower limit of normal"),
            ("Anemia", 110.0, 120.0, np.nan, "mg/dL", None,
             "unit mg/dL does not match criterion unit g/L"),
            ("Anemia", 110.0, 120.0, np.nan, None, None, "no unit; criterion unit is g/L"),
            ("anemia", np.nan, 120.0, np.nan, "g/L", None, "no numeric result"),
            ("Alanine aminotransferase increased", 120.0, np.nan, 40.0, None, 1, None),
            ("Alanine aminotransferase increased", 120.0, np.nan, np.nan, None, None,
             "no upper limit of normal"),
            ("Hyperglycemia", 30.0, np.nan, 6.0, "mmol/L", None,
             "no CTCAE v5.0 criterion for term 'Hyperglycemia'"),
        ],
        columns=["term", "value", "lln", "uln", "unit", "grade", "grade_reason"],
    )
    got = grade_frame(expected.drop(columns=["grade", "grade_reason"]))
    assert_series_equal(got["grade"], expected["grade"].astype("Int8"))
    def texts(s: pd.Series) -> list:
        return [None if pd.isna(x) else x for x in s]

    assert texts(got["grade_reason"]) == texts(expected["grade_reason"])


def test_uscv_term_with_two_unit_rows_picks_the_matching_row():
    # CTCAE v5.0 "Platelet count decreased" G4: <25,000/mm3 = 25 x 10^3/uL = 25000 x 10^3/mL
    df = pd.DataFrame({"term": "Platelet count decreased", "value": [24.0, 24999.0, 24.0],
                       "lln": [150.0, 150000.0, 150.0], "unit": ["10^3/uL", "10^3/mL", "g/L"]})
    got = grade_frame(df, units="USCV")
    assert got["grade"].tolist() == [4, 4, pd.NA]
    assert got["grade_reason"].iloc[2] == (
        "unit g/L does not match criterion unit 10^3/uL or 10^3/mL")


def test_units_must_be_si_or_uscv():
    with pytest.raises(ValueError, match="SI"):
        grade("Anemia", 100.0, lln=120.0, unit="g/L", units="conventional")
    with pytest.raises(ValueError, match="USCV"):
        grade_frame(pd.DataFrame({"term": ["Anemia"], "value": [1.0]}), units="si")


def test_unknown_term_and_missing_unit_cannot_be_graded():
    assert grade("Hyperglycemia", 30.0, uln=6.0, unit="mmol/L") is None  # not lab-graded in v5
    assert grade("Anemia", 70.0, lln=120.0) is None  # unit needed for absolute thresholds
    assert grade("Anemia", 70.0, lln=120.0, unit="mmol/L") is None
    assert grade("Anemia", 7.0, lln=12.0, unit="g/L", units="USCV") is None  # SI unit, USCV table


def test_gi_per_litre_is_the_same_unit_as_10e9_per_litre():
    # CDISC pilot LBSTRESU "GI/L" = 10^9/L; CTCAE "White blood cell decreased" G3: <2.0 - 1.0
    assert grade("White blood cell decreased", 1.5, lln=3.8, unit="GI/L") == 3
    assert grade("White blood cell decreased", 1.5, lln=3.8, unit="gi/l") == 3


def test_baseline_abnormal_without_baseline_cannot_be_graded():
    # Deliberate difference from admiral, which falls through to "0" here (NA comparisons in
    # case_when count as FALSE): ALT 50 x ULN with an abnormal baseline of unknown value.
    assert grade("Alanine aminotransferase increased", 2000.0, uln=40.0,
                 baseline_abnormal=True) is None
    df = pd.DataFrame({"term": ["GGT increased"], "value": [2000.0], "uln": [40.0],
                       "baseline_abnormal": [True]})
    got = grade_frame(df)
    assert got["grade"].isna().all()
    assert got["grade_reason"].iloc[0] == "baseline abnormal but no baseline value"


def test_baseline_abnormal_is_ignored_by_terms_without_a_baseline_branch():
    # CTCAE v5.0 "CPK increased" G4: >10 x ULN; no baseline wording
    assert grade("CPK increased", 2001.0, uln=200.0, baseline_abnormal=True) == 4


def test_pchg_is_derived_from_baseline_when_not_given():
    # "Fibrinogen decreased" G4: 75% decrease from baseline (if abnormal); 1.9 vs 8.0 = -76.25 %
    assert grade("Fibrinogen decreased", 1.9, lln=2.0, baseline=8.0, unit="g/L") == 4
    df = pd.DataFrame({"term": ["Fibrinogen decreased"] * 2, "value": [1.9, 1.9],
                       "lln": [2.0, 2.0], "baseline": [8.0, 8.0], "pchg": [np.nan, -10.0],
                       "unit": ["g/L", "g/L"]})
    assert grade_frame(df)["grade"].tolist() == [4, 1]  # a given PCHG wins over the derived one


# --------------------------------------------------------------------------------- signif
def test_signif_removes_floating_point_artefacts_like_r():
    # R: signif(3 * 0.1, 15) == 0.3 is TRUE while 3 * 0.1 == 0.3 is FALSE
    assert 3 * 0.1 != 0.3
    assert signif_scalar(3 * 0.1) == 0.3
    assert signif_array(np.array([3 * 0.1, 1.5 * 40.1, -0.0, np.nan]))[0] == 0.3
    # admiral: ALT 3 x ULN is grade 1 even when 3 * ULN is computed inexactly
    assert grade("Alanine aminotransferase increased", 0.3, uln=0.1) == 1


# Lab magnitudes (1e-6 .. 1e12): the powers of ten used are exact, so both paths must agree
# bit for bit. (Far below that, 10**k is inexact and Python and numpy may round it differently.)
@given(st.floats(min_value=1e-6, max_value=1e12), st.sampled_from([1.0, -1.0]))
def test_signif_scalar_and_array_agree(x, sign):
    assert signif_array(np.array([sign * x]))[0] == signif_scalar(sign * x)


# ------------------------------------------------- vectorised and scalar paths agree (property)
TERM_ROWS = [(c.term, c.unit, units) for units in ("SI", "USCV")
             for c in load_criteria(units).criteria]
FIELDS = ["value", "lln", "uln", "baseline", "baseline_abnormal", "pchg"]
maybe = st.one_of(
    st.none(),
    st.floats(min_value=0.0, max_value=3000.0, allow_nan=False),
    st.sampled_from([0.0, 0.5, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 20.0, 40.0, 80.0, 100.0, 120.0]),
)
record = st.fixed_dictionaries({
    "value": maybe, "lln": maybe, "uln": maybe, "baseline": maybe,
    "baseline_abnormal": st.booleans(),
    "pchg": st.one_of(st.none(), st.floats(min_value=-100, max_value=100)),
})


@pytest.mark.parametrize("term, unit, units", TERM_ROWS,
                         ids=[f"{u}-{t}-{n}" for t, n, u in TERM_ROWS])
@settings(max_examples=60, deadline=None)
@given(rows=st.lists(record, min_size=1, max_size=25), scale=st.sampled_from([0.01, 1.0, 100.0]))
def test_vectorised_and_scalar_grades_agree(term, unit, units, rows, scale):
    df = pd.DataFrame(rows, columns=FIELDS)
    for col in ("value", "lln", "uln", "baseline"):
        df[col] = df[col].astype(float) * scale
    df["pchg"] = df["pchg"].astype(float)
    df["term"] = term
    df["unit"] = unit
    got = grade_frame(df, units=units)["grade"]
    for i, row in enumerate(rows):
        none = lambda x: None if x is None or (isinstance(x, float) and math.isnan(x)) else x  # noqa: E731
        expected = grade(term, none(df["value"].iloc[i]), lln=none(df["lln"].iloc[i]),
                         uln=none(df["uln"].iloc[i]), baseline=none(df["baseline"].iloc[i]),
                         baseline_abnormal=row["baseline_abnormal"], pchg=row["pchg"],
                         unit=unit, units=units)
        assert (None if pd.isna(got.iloc[i]) else int(got.iloc[i])) == expected, (row, scale)


# ---------------------------------------------------------------- derive_lab_grades, pilot rows
def _pilot_rows() -> pd.DataFrame:
    # Typed from CDISC pilot LB (../shared/data/cdiscpilot01/lb.csv) for USUBJID 01-701-1015:
    # LBSEQ, LBTESTCD, LBCAT, LBSTRESN, LBSTRESU, LBSTNRLO, LBSTNRHI, LBDTC (date part).
    # First dose: DM.RFXSTDTC 2014-01-02.
    rows = [
        (3, "ALT", "CHEMISTRY", 27.0, "U/L", 6.0, 34.0, "2013-12-26"),      # lb.csv line of seq 3
        (41, "ALT", "CHEMISTRY", 41.0, "U/L", 6.0, 34.0, "2014-01-16"),     # LBNRIND HIGH
        (14, "CREAT", "CHEMISTRY", 79.56, "umol/L", 62.0, 124.0, "2013-12-26"),
        (51, "CREAT", "CHEMISTRY", 88.4, "umol/L", 62.0, 124.0, "2014-01-16"),
        (19, "HGB", "HEMATOLOGY", 8.87458, "mmol/L", 7.14, 9.81, "2013-12-26"),
        (56, "HGB", "HEMATOLOGY", 8.87458, "mmol/L", 7.14, 9.81, "2014-01-16"),
        (20, "K", "CHEMISTRY", 4.5, "mmol/L", 3.4, 5.4, "2013-12-26"),
        (57, "K", "CHEMISTRY", 4.4, "mmol/L", 3.4, 5.4, "2014-01-16"),
        (65, "PH", "URINALYSIS", 5.0, None, 5.0, 8.0, "2014-01-16"),
        (68, "PROT", "CHEMISTRY", 77.0, "g/L", 60.0, 80.0, "2014-01-16"),
        (71, "URATE", "CHEMISTRY", 291.452, "umol/L", 149.0, 446.0, "2014-01-16"),
        (73, "WBC", "HEMATOLOGY", 5.33, "GI/L", 3.8, 10.7, "2014-01-16"),
    ]
    df = pd.DataFrame(rows, columns=["seq", "test_code", "category", "value", "unit", "lln",
                                     "uln", "collected_date"])
    df.insert(0, "usubjid", "01-701-1015")
    df.insert(0, "study_id", "CDISCPILOT01")
    df["collected_date"] = pd.to_datetime(df["collected_date"])
    df["first_dose_date"] = pd.Timestamp("2014-01-02")
    return df


def test_derive_lab_grades_on_pilot_rows():
    out = derive_lab_grades(_pilot_rows()).set_index("seq")
    # ALT baseline 27 (normal, seq 3); week 2 ALT 41 > ULN 34 and <= 3 x ULN: CTCAE grade 1
    assert out.loc[41, "baseline"] == 27.0
    assert out.loc[41, "baseline_range_flag"] == "NORMAL"
    assert out.loc[41, "change"] == 14.0
    assert out.loc[41, "pchg"] == pytest.approx(14 / 27 * 100)
    assert out.loc[41, "x_uln"] == pytest.approx(41 / 34)
    assert out.loc[41, "term_high"] == "Alanine aminotransferase increased"
    assert out.loc[41, "grade_high"] == 1
    assert pd.isna(out.loc[41, "term_low"]) and pd.isna(out.loc[41, "grade_low"])
    assert pd.isna(out.loc[41, "grade_reason"])
    assert out.loc[51, "grade_high"] == 0  # creatinine 88.4 <= ULN 124 and <= 1.5 x 79.56
    assert (out.loc[57, "grade_low"], out.loc[57, "grade_high"]) == (0, 0)  # K 4.4 in 3.4-5.4
    assert out.loc[71, "grade_high"] == 0  # urate within ULN
    assert (out.loc[73, "grade_low"], out.loc[73, "grade_high"]) == (0, 0)  # WBC in GI/L
    # Hemoglobin in mmol/L: CTCAE v5.0 criteria are in g/L, no conversion is made
    assert out.loc[56, "grade_low"] is pd.NA and out.loc[56, "grade_high"] is pd.NA
    assert out.loc[56, "grade_reason"] == (
        "Anemia: unit mmol/L does not match criterion unit g/L; "
        "Hemoglobin increased: unit mmol/L does not match criterion unit g/L")
    assert out.loc[68, "grade_reason"] == "no CTCAE v5.0 criterion for LBTESTCD PROT"
    assert out.loc[65, "grade_reason"] == "no CTCAE v5.0 criterion for LBTESTCD PH"
    assert out["grade_low"].dtype == "Int8" and out["grade_high"].dtype == "Int8"


def test_derive_lab_grades_keeps_input_and_index():
    labs = _pilot_rows()
    labs.index = labs.index + 100
    out = derive_lab_grades(labs)
    assert_frame_equal(out[labs.columns], labs)


def test_baseline_is_last_value_on_or_before_first_dose_and_urine_is_not_graded():
    labs = pd.DataFrame({
        "study_id": "S", "usubjid": "S-1", "seq": [1, 2, 3, 4, 5],
        "test_code": ["ALT", "ALT", "ALT", "ALT", "GLUC"],
        "category": ["CHEMISTRY"] * 4 + ["URINALYSIS"],
        "value": [30.0, 60.0, np.nan, 500.0, 0.0], "unit": "U/L", "lln": 0.0,
        "uln": [40.0, 40.0, 40.0, 40.0, 1.0],
        "collected_date": pd.to_datetime(
            ["2024-01-01", "2024-01-05", "2024-01-05", "2024-02-01", "2024-02-01"]),
        "first_dose_date": pd.Timestamp("2024-01-05"),
    })
    out = derive_lab_grades(labs)
    # Baseline = seq 2 (60, on the first-dose day; seq 3 is missing), abnormal HIGH (> ULN 40):
    # CTCAE v5.0 ALT G3: >5.0 - 20.0 x baseline if baseline was abnormal (500 / 60 = 8.3)
    assert out["baseline"].tolist()[:4] == [60.0] * 4
    assert out["baseline_range_flag"].iloc[3] == "HIGH"
    assert out["grade_high"].iloc[3] == 3
    # Glucose 0 in urine must not become CTCAE "Hypoglycemia" grade 4
    assert out["grade_low"].iloc[4] is pd.NA
    assert "urine" in out["grade_reason"].iloc[4]


def test_derive_lab_grades_requires_the_lab_columns():
    with pytest.raises(ValueError, match="first_dose_date"):
        derive_lab_grades(_pilot_rows().drop(columns="first_dose_date"))


@pytest.mark.skipif(not (PILOT_LB.exists() and PILOT_DM.exists()),
                    reason="pilot data not yet under tests/data/cdiscpilot01")
def test_whole_pilot_lab_file_grades():
    lb = pd.read_csv(PILOT_LB)
    dm = pd.read_csv(PILOT_DM)[["USUBJID", "RFXSTDTC"]]
    labs = lb.merge(dm, on="USUBJID", how="left").rename(columns={
        "STUDYID": "study_id", "USUBJID": "usubjid", "LBSEQ": "seq", "LBTESTCD": "test_code",
        "LBCAT": "category", "LBSTRESN": "value", "LBSTRESU": "unit", "LBSTNRLO": "lln",
        "LBSTNRHI": "uln", "LBDTC": "collected_date", "RFXSTDTC": "first_dose_date"})
    labs["collected_date"] = pd.to_datetime(labs["collected_date"].str[:10])
    out = derive_lab_grades(labs)
    grades = pd.concat([out["grade_low"], out["grade_high"]]).dropna()
    assert grades.between(0, 4).all()
    mapped = out["term_low"].notna() | out["term_high"].notna()
    ungraded = mapped & out["grade_low"].isna() & out["grade_high"].isna()
    assert out.loc[ungraded, "grade_reason"].notna().all()
    assert out.loc[out["test_code"] == "HGB", ["grade_low", "grade_high"]].isna().all().all()
