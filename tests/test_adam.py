"""ADaM datasets in (issue 18): the CDISC pilot's ADSL and ADAE load as a study beside its SDTM
DM and AE, agree where they should, and the sponsor's derivations that disagree with ours are
listed as data-quality findings.

Data: tests/data/cdiscpilot01/adam (ADSL, ADAE: the CDISC pilot's ADaM, credit CDISC; its
README gives the sources) and tests/data/cdiscpilot01 (SDTM). Expected facts: the README's
"Facts for tests" (254 treated subjects, 1,191 AEs) and the ADaM README (same subjects, ADAE the
same AEs as SDTM AE, TRTEMFL the sponsor's flag).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import people
import pytest

from safety import store
from safety.config import STUDIES_DIR, find_study_config
from safety.ingest import ingest_paths
from safety.ingest.adam import detect_standard
from safety.ingest.readers import RawDataset, read_dataset
from safety.monitor.adverse_events import data_quality
from safety.store import queries

PILOT = Path(__file__).parent / "data" / "cdiscpilot01"
ADAM = PILOT / "adam"
STUDY = "CDISCPILOT01"
CUTOFF = date(2016, 1, 1)  # after the pilot's last date (2015-03-05): everything counts


@pytest.fixture(scope="module")
def both(tmp_path_factory) -> dict[str, Path]:
    """The pilot as ADaM (ADSL, ADAE) and as SDTM (DM, AE), each in its own database."""
    folder = tmp_path_factory.mktemp("adam")
    dbs = {"adam": folder / "adam.duckdb", "sdtm": folder / "sdtm.duckdb"}
    adam = ingest_paths([ADAM], db=dbs["adam"], user=people.DATA_MANAGER)
    # ADSL before ADAE whatever the names: the folder is ordered by content (ADSL is DM)
    assert [(r.file, r.domain, r.status, r.rows_quarantined) for r in adam] == [
        ("adsl.xpt", "DM", "loaded", 0), ("adae.xpt", "AE", "loaded", 0)]
    sdtm = ingest_paths([PILOT / "dm.xpt", PILOT / "ae.xpt"], db=dbs["sdtm"],
                        user=people.DATA_MANAGER)
    assert [r.status for r in sdtm] == ["loaded", "loaded"]
    return dbs


def _read(db: Path, sql_question, *args) -> pd.DataFrame:
    with store.read_connection(db) as con:
        return sql_question(con, *args)


def _teae(con, study, cutoff) -> pd.DataFrame:
    return queries.adverse_events.ae_teae_flags(con, study, cutoff)


def _population(con, study, cutoff) -> pd.DataFrame:
    return con.execute("SELECT * FROM safety_population(?, ?)", [study, cutoff]).df()


@pytest.mark.parametrize("path, standard, dataset, domain", [
    (ADAM / "adsl.xpt", "ADaM", "ADSL", "DM"),
    (ADAM / "adae.xpt", "ADaM", "ADAE", "AE"),
    (PILOT / "dm.xpt", "SDTM", "DM", "DM"),
    (PILOT / "ae.csv", "SDTM", "AE", "AE"),
])
def test_1_the_standard_is_detected_from_content(path, standard, dataset, domain):
    # safetyGraphics detectStandard: full SDTM, else full ADaM, by the required columns
    found = detect_standard(read_dataset(path))
    assert (found.standard, found.dataset, found.domain, found.match) == (
        standard, dataset, domain, "full")


def test_2_adlb_is_detected_and_a_table_of_something_else_is_not():
    adlb = pd.DataFrame(ADLB_ROWS, columns=ADLB_COLUMNS)  # the pilot ADLBC's columns, below
    found = detect_standard(RawDataset("adlbc.csv", "", "csv", None, adlb))
    assert (found.standard, found.dataset, found.domain) == ("ADaM", "ADLB", "LB")
    other = pd.DataFrame({"SEPAL_LENGTH": ["5.1"], "SPECIES": ["setosa"]})  # iris
    assert detect_standard(RawDataset("iris.csv", "", "csv", None, other)).standard is None


def test_3_same_subjects_cohorts_and_first_doses_as_sdtm(both):
    # ADaM README: ADSL holds the 254 treated subjects of SDTM DM (306 minus 52 screen failures)
    adam = _read(both["adam"], _population, STUDY, CUTOFF)
    sdtm = _read(both["sdtm"], _population, STUDY, CUTOFF)
    assert len(adam) == len(sdtm) == 254
    keys = ["usubjid", "cohort_id", "first_dose_date"]
    pd.testing.assert_frame_equal(adam[keys].sort_values("usubjid").reset_index(drop=True),
                                  sdtm[keys].sort_values("usubjid").reset_index(drop=True))


def test_4_same_teaes_as_trtemfl_and_the_findings_where_not(both):
    adam = _read(both["adam"], _teae, STUDY, CUTOFF)
    sdtm = _read(both["sdtm"], _teae, STUDY, CUTOFF)
    with store.read_connection(both["adam"]) as con:
        sponsor = queries.sponsor.sponsor_values(con, STUDY)
    trtemfl = sponsor[sponsor["variable"] == "TRTEMFL"].set_index(["usubjid", "seq"])["value"]
    assert len(adam) == len(sdtm) == 1191 == len(trtemfl)  # README: 1,191 AEs in both
    flagged = trtemfl.eq("Y")
    # On SDTM our TEAE rule (partial AESTDTC imputed, admiral's convention) gives exactly the
    # sponsor's TRTEMFL: 1,126 treatment-emergent, 65 not.
    ours_sdtm = sdtm.set_index(["usubjid", "seq"])["teae"].reindex(flagged.index)
    assert (ours_sdtm == flagged).all() and int(flagged.sum()) == 1126
    # On ADaM 11 events have no ASTDT (their partial AESTDTC was not imputed by the sponsor):
    # onset unknown, so we count them as TEAEs (conservative) while TRTEMFL says N.
    ours_adam = adam.set_index(["usubjid", "seq"])["teae"].reindex(flagged.index)
    differ = ours_adam[ours_adam != flagged]
    assert len(differ) == 11 and differ.all()
    found = _read(both["adam"], queries.sponsor.sponsor_disagreements, STUDY, CUTOFF)
    assert set(zip(found["usubjid"], found["seq"], strict=True)) == set(differ.index)
    assert set(found["finding"]) == {
        "TRTEMFL N (sponsor) but our TEAE rule: treatment-emergent (onset unknown)"}
    # the same findings on the AE page and in the closed report (data quality)
    config = find_study_config(STUDY)
    with store.read_connection(both["adam"]) as con:
        listed = data_quality(con, config, CUTOFF)
    assert found["finding"].isin(listed["finding"]).all()
    # and none on SDTM, which carries no sponsor derivation
    assert _read(both["sdtm"], queries.sponsor.sponsor_disagreements, STUDY, CUTOFF).empty


def test_5_saffl_kept_and_agrees_with_our_safety_analysis_set(both):
    with store.read_connection(both["adam"]) as con:
        sponsor = queries.sponsor.sponsor_values(con, STUDY)
    saffl = sponsor[sponsor["variable"] == "SAFFL"]
    assert len(saffl) == 254 and set(saffl["value"]) == {"Y"}
    found = _read(both["adam"], queries.sponsor.sponsor_disagreements, STUDY, CUTOFF)
    assert not found["finding"].str.startswith("SAFFL").any()


ADLB_ROWS = [  # a literal ADLB of one pilot subject: ALT with the pilot's ADLBC columns
    # ABLFL baseline 30 U/L, normal (A1HI 40)
    ("CDISCPILOT01", "01-701-1015", "1", "ALT", "Alanine Aminotransferase (U/L)", "CHEM",
     "30", "7", "40", "N", "Y", "2014-01-01", "", ""),
    # 200 U/L = 5.0 x ULN: CTCAE v5.0 ALT increased grade 2 (>3.0-5.0 x ULN); sponsor says 3
    ("CDISCPILOT01", "01-701-1015", "2", "ALT", "Alanine Aminotransferase (U/L)", "CHEM",
     "200", "7", "40", "H", "", "2014-02-01", "3", "3"),
    # 100 U/L = 2.5 x ULN: grade 1 (>ULN-3.0 x ULN); sponsor agrees
    ("CDISCPILOT01", "01-701-1015", "3", "ALT", "Alanine Aminotransferase (U/L)", "CHEM",
     "100", "7", "40", "H", "", "2014-03-01", "1", "1"),
]
ADLB_COLUMNS = ["STUDYID", "USUBJID", "LBSEQ", "PARAMCD", "PARAM", "PARCAT1", "AVAL", "A1LO",
                "A1HI", "ANRIND", "ABLFL", "ADT", "ATOXGR", "ATOXGRH"]


def test_6_adlb_grade_against_atoxgr(both, tmp_path):
    db = tmp_path / "adam_lb.duckdb"
    shutil.copy(both["adam"], db)
    adlb = tmp_path / "adlb.csv"
    pd.DataFrame(ADLB_ROWS, columns=ADLB_COLUMNS).to_csv(adlb, index=False)
    (result,) = ingest_paths([adlb], db=db, user=people.DATA_MANAGER)
    assert (result.domain, result.status, result.rows_loaded) == ("LB", "loaded", 3)
    with store.read_connection(db) as con:
        lab = con.execute("SELECT seq, test_code, value, uln, range_flag, baseline_flag "
                          "FROM current_lab ORDER BY seq").df()
    assert lab["range_flag"].tolist() == ["NORMAL", "HIGH", "HIGH"]  # ANRIND N/H -> LBNRIND
    assert lab["baseline_flag"].tolist() == [True, False, False]
    found = _read(db, queries.sponsor.sponsor_disagreements, STUDY, CUTOFF)
    labs = found[found["pt"] == "ALT"]
    assert sorted(labs["finding"]) == [
        "ATOXGR 3 (sponsor) but CTCAE v5.0 grade 2 (ours)",
        "ATOXGRH 3 (sponsor) but CTCAE v5.0 grade 2 (ours)",
    ]
    assert labs["seq"].tolist() == [2, 2]


ADSL_ROWS = [  # a literal ADSL: planned high dose, actually given the low dose
    ("CDISCPILOT01", "01-701-1015", "701", "Xanomeline High Dose", "Xanomeline Low Dose",
     "2014-01-02", "Y", "F", "63"),
]
ADSL_COLUMNS = ["STUDYID", "USUBJID", "SITEID", "ARM", "TRT01A", "TRTSDT", "SAFFL", "SEX",
                "AGE"]


@pytest.mark.parametrize("setting, cohort", [
    ("", "Xan_Hi"),  # default: the planned arm, as DM's ARMCD/ARM
    ('[adam]\ncohort_variable = "TRT01A"\n', "Xan_Lo"),  # the actual treatment
])
def test_7_the_cohort_comes_from_the_configured_adsl_variable(tmp_path, monkeypatch, setting,
                                                               cohort):
    # (the pilot's own ADSL has TRT01A = ARM for every subject, although SDTM ACTARM differs
    # from ARM for 12: so this is a literal case)
    studies = tmp_path / "studies"
    studies.mkdir()
    text = (STUDIES_DIR / "cdiscpilot01.toml").read_text(encoding="utf-8")
    (studies / "cdiscpilot01.toml").write_text(text + "\n" + setting, encoding="utf-8")
    monkeypatch.setenv("SAFETY_STUDIES", str(studies))
    adsl = tmp_path / "adsl.csv"
    pd.DataFrame(ADSL_ROWS, columns=ADSL_COLUMNS).to_csv(adsl, index=False)
    db = tmp_path / "adsl.duckdb"
    (result,) = ingest_paths([adsl], db=db, user=people.DATA_MANAGER)
    assert (result.domain, result.status) == ("DM", "loaded")
    with store.read_connection(db) as con:
        got = con.execute("SELECT cohort_id, arm_code, actual_arm_code FROM current_subject"
                          ).fetchall()
    assert got == [(cohort, "Xanomeline " + ("High" if cohort == "Xan_Hi" else "Low")
                    + " Dose", "Xanomeline Low Dose")]


def test_8_adae_before_adsl_waits_then_loads_with_the_sponsors_flags(tmp_path):
    db = tmp_path / "adae_first.duckdb"
    (waiting,) = ingest_paths([ADAM / "adae.xpt"], db=db, user=people.DATA_MANAGER)
    assert (waiting.status, waiting.rows_quarantined) == ("rejected", 1191)  # no DM yet
    with store.read_connection(db) as con:
        (record,) = con.execute("SELECT raw_record FROM quarantine LIMIT 1").fetchone()
    assert '"TRTEMFL"' in record and '"ASTDT"' in record  # the record as delivered (ADaM)
    dm, released = ingest_paths([ADAM / "adsl.xpt"], db=db, user=people.DATA_MANAGER)
    assert (dm.domain, dm.status) == ("DM", "loaded")
    assert (released.domain, released.status, released.rows_loaded) == ("AE", "loaded", 1191)
    with store.read_connection(db) as con:
        sponsor = queries.sponsor.sponsor_values(con, STUDY)
    assert (sponsor["variable"] == "TRTEMFL").sum() == 1191  # translated again, flags kept
    found = _read(db, queries.sponsor.sponsor_disagreements, STUDY, CUTOFF)
    assert len(found) == 11  # the same findings as when ADSL came first (test 4)
