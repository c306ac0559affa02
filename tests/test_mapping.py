"""A non-standard export loads through its study's mapping (issue 18): renamed columns and local
codes in, SDTM out; the preview says what maps, what is missing and what would be quarantined
before anything is loaded.

The export is the CDISC pilot's DM and AE (tests/data/cdiscpilot01, credit CDISC) as a small
site's EDC might write them: columns renamed, sex and seriousness and severity in local codes,
no DOMAIN column. Expected values: the pilot's own SDTM rows (the README's "Facts for tests").
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import people
import pytest

from safety import store
from safety.config import STUDIES_DIR, find_study_config, parse_study_config
from safety.errors import ConfigError
from safety.ingest import ingest_paths
from safety.ingest.preview import preview_upload
from safety.store.queries.translate import Projection, project

PILOT = Path(__file__).parent / "data" / "cdiscpilot01"
STUDY = "CDISCPILOT01"
MAPPING = """
[mapping.DM.columns]
USUBJID = "SUBJECT"
ARMCD = "ARM_CODE"
SEX = "GENDER"
RFXSTDTC = "FIRST_DOSE"

[mapping.DM.codes.SEX]
Female = "F"
Male = "M"

[mapping.AE.columns]
USUBJID = "SUBJECT"
AESEQ = "EVENT_NO"
AEDECOD = "PREF_TERM"
AEBODSYS = "BODY_SYSTEM"
AESTDTC = "ONSET"
AESER = "SERIOUS"
AESEV = "INTENSITY"

[mapping.AE.codes.AESER]
Yes = "Y"
No = "N"

[mapping.AE.codes.AESEV]
"1" = "MILD"
"2" = "MODERATE"
"3" = "SEVERE"
"""
DM_RENAMES = {"USUBJID": "SUBJECT", "ARMCD": "ARM_CODE", "SEX": "GENDER",
              "RFXSTDTC": "FIRST_DOSE"}
AE_RENAMES = {"USUBJID": "SUBJECT", "AESEQ": "EVENT_NO", "AEDECOD": "PREF_TERM",
              "AEBODSYS": "BODY_SYSTEM", "AESTDTC": "ONSET", "AESER": "SERIOUS",
              "AESEV": "INTENSITY"}
UNKNOWN_ROW = 10  # its SERIOUS is "Unknown": no local code for it, so AESER is not Y/N


def site_export(folder: Path) -> dict[str, Path]:
    """The pilot's DM and AE as a site's export (see the module docstring)."""
    dm = pd.read_csv(PILOT / "dm.csv", dtype=str, keep_default_na=False)
    dm["SEX"] = dm["SEX"].map({"F": "Female", "M": "Male"})
    ae = pd.read_csv(PILOT / "ae.csv", dtype=str, keep_default_na=False)
    ae["AESER"] = ae["AESER"].map({"Y": "Yes", "N": "No"})
    ae.loc[UNKNOWN_ROW, "AESER"] = "Unknown"
    ae["AESEV"] = ae["AESEV"].map({"MILD": "1", "MODERATE": "2", "SEVERE": "3"})
    paths = {"dm": folder / "demographics_export.csv", "ae": folder / "events_export.csv"}
    dm.drop(columns="DOMAIN").rename(columns=DM_RENAMES).to_csv(paths["dm"], index=False)
    ae.drop(columns="DOMAIN").rename(columns=AE_RENAMES).to_csv(paths["ae"], index=False)
    return paths


def mapped_study_folder(folder: Path) -> Path:
    """The pilot's configuration plus its site-export mapping, in a folder of $SAFETY_STUDIES."""
    folder.mkdir(exist_ok=True)
    text = (STUDIES_DIR / "cdiscpilot01.toml").read_text(encoding="utf-8") + MAPPING
    (folder / "cdiscpilot01.toml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mapping")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAFETY_STUDIES", str(mapped_study_folder(folder / "studies")))
        yield {"db": folder / "site.duckdb", **site_export(folder)}


def test_1_the_mapping_is_read_from_the_study_configuration(site):
    study = find_study_config(STUDY)
    ae = study.mapping("AE")
    assert ae.columns["AEDECOD"] == "PREF_TERM"
    assert ae.codes["AESER"] == {"YES": "Y", "NO": "N"}  # local codes match case-insensitively
    assert study.mapping("LB") is None


@pytest.mark.parametrize("extra, message", [
    ('[mapping.XX.columns]\nUSUBJID = "S"\n', "[mapping] XX must be an SDTM domain"),
    ("[mapping.AE]\nrename = 1\n", "[mapping.AE] has unknown key(s) rename"),
    ('[mapping.AE.columns]\nAEDECOD = ""\n', "[mapping.AE.columns] AEDECOD must be a non-empty"),
])
def test_2_a_bad_mapping_is_refused_naming_its_key(extra, message):
    text = (STUDIES_DIR / "cdiscpilot01.toml").read_text(encoding="utf-8") + extra
    with pytest.raises(ConfigError, match="^" + re.escape("cdiscpilot01.toml: " + message)):
        parse_study_config(text, "cdiscpilot01.toml")


def test_3_preview_before_anything_is_loaded(site):
    dm = preview_upload(site["dm"].name, site["dm"].read_bytes(), site["db"], None,
                        people.DATA_MANAGER)
    assert (dm.domain, dm.translated_from, dm.refused) == ("DM", "DM mapping", None)
    how = dict(zip(dm.columns["sdtm_variable"], dm.columns["how"], strict=True))
    assert how["USUBJID"] == "mapped" and how["STUDYID"] == "as delivered"
    assert how["SEX"] == "mapped, 2 local code(s) mapped"
    assert (dm.rows_in, dm.rows_quarantined) == (306, 0)  # README: DM 306 subjects
    assert not site["db"].exists()  # nothing was written, not even a database


def test_4_a_missing_column_is_shown_and_the_file_would_be_refused(site, tmp_path):
    export = pd.read_csv(site["ae"], dtype=str, keep_default_na=False)
    broken = tmp_path / "events_export.csv"
    export.drop(columns="PREF_TERM").to_csv(broken, index=False)
    preview = preview_upload(broken.name, broken.read_bytes(), site["db"], None,
                             people.DATA_MANAGER)
    missing = preview.columns.loc[preview.columns["how"] == "missing", "sdtm_variable"]
    assert missing.tolist() == ["AEDECOD"]
    assert preview.refused == "events_export.csv (AE) lacks required columns: AEDECOD"


def test_5_the_export_loads_through_its_mapping(site):
    (dm,) = ingest_paths([site["dm"]], db=site["db"], user=people.DATA_MANAGER)
    assert (dm.domain, dm.status, dm.rows_loaded) == ("DM", "loaded", 306)
    preview = preview_upload(site["ae"].name, site["ae"].read_bytes(), site["db"], None,
                             people.DATA_MANAGER)
    assert (preview.rows_in, preview.rows_quarantined) == (1191, 1)
    (reason,) = preview.reasons["reason"]
    assert "AESER" in reason
    (ae,) = ingest_paths([site["ae"]], db=site["db"], user=people.DATA_MANAGER)
    assert (ae.domain, ae.status, ae.rows_loaded, ae.rows_quarantined) == (
        "AE", "loaded", 1190, 1)  # the preview's count, for the same reason
    with store.read_connection(site["db"]) as con:
        loaded = con.execute("SELECT usubjid, seq, pt, soc, severity, serious_raw "
                             "FROM current_adverse_event ORDER BY usubjid, seq").df()
        sexes = con.execute("SELECT sex, count(*) FROM current_subject GROUP BY sex "
                            "ORDER BY sex").fetchall()
        quarantined = con.execute("SELECT reason FROM quarantine").fetchall()
    assert quarantined == [(reason,)]
    source = pd.read_csv(PILOT / "ae.csv", dtype=str, keep_default_na=False).drop(
        index=UNKNOWN_ROW)
    expected = pd.DataFrame({
        "usubjid": source["USUBJID"], "seq": source["AESEQ"].astype("int32"),
        "pt": source["AEDECOD"], "soc": source["AEBODSYS"], "severity": source["AESEV"],
        "serious_raw": source["AESER"],
    }).sort_values(["usubjid", "seq"]).reset_index(drop=True)
    got = loaded.astype({"seq": "int32"})
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    dm_source = pd.read_csv(PILOT / "dm.csv", dtype=str, keep_default_na=False)
    assert sexes == sorted(dm_source["SEX"].value_counts().items())


def test_6_an_sdtm_file_with_local_codes_takes_only_its_domains_codes(site, tmp_path):
    # SDTM names, but AESER as the site codes it: the AE mapping's codes apply, names stay
    ae = pd.read_csv(PILOT / "ae.csv", dtype=str, keep_default_na=False)
    ae["AESER"] = ae["AESER"].map({"Y": "Yes", "N": "no"})  # case-insensitive
    local = tmp_path / "ae.csv"
    ae.to_csv(local, index=False)
    preview = preview_upload(local.name, local.read_bytes(), site["db"], None,
                             people.DATA_MANAGER)
    assert (preview.standard, preview.translated_from) == ("SDTM", "AE mapping")
    assert (preview.rows_in, preview.rows_quarantined, preview.refused) == (1191, 0, None)


def test_7_names_and_codes_from_a_delivery_stay_data_in_the_projection():
    # a column name and a code that would break SQL built from text: quoted, and a parameter
    odd = 'SEX"); DROP TABLE subject; --'
    frame = pd.DataFrame({odd: ["it's", "M"], "ONSET": ["2014-01-02", "2014-13-40"]})
    out = project(frame, [
        Projection("SEX", "codes", odd, codes={"IT'S": "F"}),
        Projection("AESTDTC", "date", "ONSET"),  # not a date: as delivered, for the validator
        Projection("AESEQ", "row_number"),
    ])
    expected = pd.DataFrame({"SEX": ["F", "M"], "AESTDTC": ["2014-01-02", "2014-13-40"],
                             "AESEQ": [1, 2]})
    pd.testing.assert_frame_equal(out, expected, check_dtype=False)
