"""The synthetic NCT04232592 demo: deterministic, complete, and telling the documented story.

The DLT and SAE counts are re-derived here from the protocol's rules in the study config
(window, grade, relatedness, always and excluded terms), not read back from the generator.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import duckdb
import pandas as pd
import pytest

from safety.config import find_study_config, parse_study_config
from safety.demo import generator as demo
from safety.demo import scenario

CONFIG = find_study_config(scenario.DEMO_STUDY_ID)
CLINICAL_TABLES = ("subject", "exposure", "adverse_event", "lab", "vital_sign")
CONTENT_TABLES = ("ingest_batch", "study", "cohort", *CLINICAL_TABLES, "audit_log")
# Expected from the planted story (scenario.PLANTED_EVENTS), per cohort.
EXPECTED_DLTS = {"CTRL": 0, "LOW": 0, "MED": 1, "HIGH": 2}
EXPECTED_SAES = {"CTRL": 1, "LOW": 1, "MED": 1, "HIGH": 2}


def _rows(db, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _frame(db, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).df()


def _content(db) -> dict[str, list[tuple]]:
    """Every row of every data table, in stored order (schema_version holds the build time)."""
    return {t: _rows(db, f"SELECT * FROM {t}") for t in CONTENT_TABLES}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    db = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    return db, demo.build_demo(db)


@pytest.fixture(scope="module")
def db(built):
    return built[0]


@pytest.fixture(scope="module")
def dosed_ae(db) -> pd.DataFrame:
    """AEs of dosed women with cohort, dosing rank in the cohort and SDTM study day."""
    return _frame(db, """
        SELECT a.*, s.cohort_id, s.first_dose_date,
               (a.start_date - s.first_dose_date) + 1 AS study_day
        FROM adverse_event a JOIN subject s USING (study_id, usubjid)
        WHERE s.first_dose_date IS NOT NULL
    """)


def _dosing_rank(db) -> pd.DataFrame:
    return _frame(db, """
        SELECT usubjid, cohort_id, first_dose_date,
               row_number() OVER (PARTITION BY cohort_id ORDER BY first_dose_date, usubjid) AS rank
        FROM subject WHERE first_dose_date IS NOT NULL
    """)


def test_same_seed_gives_identical_tables(tmp_path, built):
    db, summary = built
    again = demo.build_demo(tmp_path / "again.duckdb")
    assert dataclasses.replace(again, db=summary.db) == summary
    assert _content(again.db) == _content(db)


def test_another_seed_gives_other_data(tmp_path, db):
    other = demo.build_demo(tmp_path / "other.duckdb", seed=scenario.DEMO_SEED + 1)
    mine, theirs = _content(db), _content(other.db)
    for table in ("adverse_event", "lab", "vital_sign", "subject"):
        assert mine[table] != theirs[table], table


def test_summary_counts_match_tables(built):
    db, summary = built
    counts = {t: _rows(db, f"SELECT count(*) FROM {t}")[0][0] for t in CONTENT_TABLES}
    assert (summary.studies, summary.cohorts, summary.subjects, summary.exposures,
            summary.adverse_events, summary.labs, summary.vital_signs, summary.ingest_batches) == (
        counts["study"], counts["cohort"], counts["subject"], counts["exposure"],
        counts["adverse_event"], counts["lab"], counts["vital_sign"], counts["ingest_batch"])
    assert summary.study_ids == (scenario.DEMO_STUDY_ID,)
    assert _rows(db, "SELECT action, actor FROM audit_log") == [("demo.build", "demo")]


def test_study_and_cohorts_come_from_the_config(db):
    study = _frame(db, "SELECT * FROM study")
    assert study.loc[0, "config_toml"] == CONFIG.source_text
    assert study.loc[0, "config_sha256"] == CONFIG.source_sha256
    assert study.loc[0, "data_cutoff"].date() == scenario.DEMO_CUTOFF
    assert study.loc[0, "design"] == CONFIG.design.name
    cohorts = _frame(db, "SELECT * FROM cohort ORDER BY cohort_id")
    assert sorted(cohorts["cohort_id"]) == ["CTRL", "HIGH", "LOW", "MED"]
    assert cohorts["is_control"].sum() == 1
    dose = cohorts[~cohorts["is_control"]]
    assert dose["dose_illustrative"].all() and not cohorts[cohorts["is_control"]][
        "dose_illustrative"].any()


def test_composition_of_the_registry_study(db):
    subjects = _frame(db, "SELECT * FROM subject")
    assert len(subjects) == 32
    assert subjects.groupby("cohort_id").size().to_dict() == {c: 8 for c in EXPECTED_DLTS}
    assert subjects["first_dose_date"].notna().sum() == 30
    assert _rows(db, "SELECT count(*), count(DISTINCT usubjid) FROM exposure") == [(30, 30)]
    assert subjects["age"].between(18, 38).all()
    assert (subjects["sex"] == "F").all()
    assert subjects["usubjid"].str.fullmatch(r"NCT04232592-01-\d{3}").all()
    assert set(subjects["status"]) == {"screening", "on study", "completed", "withdrawn"}
    withdrawn = subjects[subjects["status"] == "withdrawn"]
    assert len(withdrawn) == 1 and withdrawn["cohort_id"].iloc[0] in ("LOW", "CTRL")
    assert withdrawn["status_reason"].iloc[0] == scenario.LOST_TO_FOLLOW_UP
    assert _rows(db, "SELECT min(first_dose_date) FROM subject")[0][0] == scenario.FIRST_INJECTION


def test_exposure_is_one_intrauterine_injection(db):
    ex = _frame(db, "SELECT e.*, s.cohort_id, s.first_dose_date FROM exposure e "
                    "JOIN subject s USING (study_id, usubjid)")
    assert (ex["route"] == "INTRAUTERINE").all()
    assert (ex["start_date"] == ex["first_dose_date"]).all()
    control = ex["cohort_id"] == "CTRL"
    assert (ex.loc[control, "treatment"] == scenario.TREATMENT_VEHICLE).all()
    assert (ex.loc[control, "dose"] == 0).all()
    doses = {c.cohort_id: c.dose for c in CONFIG.dose_cohorts}
    assert (ex.loc[~control, "dose"] == ex.loc[~control, "cohort_id"].map(doses)).all()


def test_escalation_is_sequential_and_high_is_still_enrolling(db):
    ranks = _dosing_rank(db)
    window = CONFIG.dlt.window_days
    last = ranks.groupby("cohort_id")["first_dose_date"].max()
    first = ranks.groupby("cohort_id")["first_dose_date"].min()
    assert first["MED"] > last["LOW"] + timedelta(days=window)
    assert first["HIGH"] > last["MED"] + timedelta(days=window)
    high = ranks[ranks["cohort_id"] == "HIGH"]
    assert len(high) == 6
    days_since = (pd.Timestamp(scenario.DEMO_CUTOFF) - high["first_dose_date"]).dt.days
    assert (days_since < window).sum() >= 2  # still inside the 28-day DLT window
    screening = _rows(db, "SELECT count(*) FROM subject WHERE cohort_id = 'HIGH' "
                          "AND status = 'screening' AND first_dose_date IS NULL")
    assert screening == [(2,)]


def _dlt_candidates(ae: pd.DataFrame) -> pd.DataFrame:
    """DLTs by the protocol's rules (config [dlt]), derived independently of the generator."""
    dlt = CONFIG.dlt
    in_window = ae["study_day"].between(1, dlt.window_days)
    by_grade = ((ae["grade"] >= dlt.min_grade) & (ae["related"] | (not dlt.require_related))
                & ~ae["pt"].isin(dlt.excluded_terms))
    return ae[in_window & (by_grade | ae["pt"].isin(dlt.always_terms))]


def test_dlts_and_saes_per_cohort_are_the_planted_ones(dosed_ae):
    dlts = _dlt_candidates(dosed_ae)
    assert dlts.groupby("cohort_id").size().reindex(list(EXPECTED_DLTS), fill_value=0).to_dict() \
        == EXPECTED_DLTS
    saes = dosed_ae[dosed_ae["serious"]]
    assert saes.groupby("cohort_id").size().to_dict() == EXPECTED_SAES
    hard_stop = [t for r in CONFIG.stopping_rules if r.kind == "hard_stop_terms" for t in r.terms]
    assert not dosed_ae["pt"].isin(hard_stop).any()


@pytest.mark.parametrize("event", scenario.PLANTED_EVENTS, ids=lambda e: f"{e.cohort_id}{e.rank}")
def test_planted_event(db, dosed_ae, event):
    ranks = _dosing_rank(db)
    who = ranks[(ranks["cohort_id"] == event.cohort_id) & (ranks["rank"] == event.rank)]
    rows = dosed_ae[(dosed_ae["usubjid"] == who["usubjid"].iloc[0]) & (dosed_ae["pt"] == event.pt)
                    & (dosed_ae["study_day"] == event.study_day)]
    assert len(rows) == 1, event
    row = rows.iloc[0]
    assert (row["grade"], row["serious"], row["causality"]) == (
        event.grade, event.serious, event.causality)
    assert row["related"] == (event.causality in CONFIG.related_causality)
    assert row["serious_raw"] == ("Y" if event.serious else "N")


def test_story_events_by_name(db, dosed_ae):
    """The brief's wording: the first HIGH woman's anaphylaxis on injection day, and so on."""
    dlts = _dlt_candidates(dosed_ae)
    ranks = _dosing_rank(db).set_index("usubjid")
    dlts = dlts.assign(rank=dlts["usubjid"].map(ranks["rank"]))
    high = dlts[dlts["cohort_id"] == "HIGH"].sort_values("rank")
    assert list(high["pt"]) == ["Anaphylactic reaction", "Pelvic inflammatory disease"]
    assert list(high["rank"]) == [1, 4] and list(high["study_day"]) == [1, 6]
    low_sae = dosed_ae[(dosed_ae["cohort_id"] == "LOW") & dosed_ae["serious"]].iloc[0]
    assert low_sae["study_day"] > CONFIG.dlt.window_days and low_sae["grade"] == 3
    ctrl_sae = dosed_ae[(dosed_ae["cohort_id"] == "CTRL") & dosed_ae["serious"]].iloc[0]
    assert ctrl_sae["grade"] == 3 and not ctrl_sae["related"]


def test_random_aes_cannot_make_dlts_or_saes():
    for term in (*scenario.PROCEDURE_AES, *scenario.BACKGROUND_AES):
        related = sum(p for c, p in zip(scenario.CAUSALITY, term.causality_probs, strict=True)
                      if c in CONFIG.related_causality)
        assert term.grade_probs[2] == 0 or related == 0, term.pt
        assert term.pt not in CONFIG.dlt.always_terms
        assert sum(term.grade_probs) == pytest.approx(1) and sum(term.causality_probs) == \
            pytest.approx(1), term.pt


def test_ae_fields_are_consistent(db):
    ae = _frame(db, "SELECT * FROM adverse_event")
    assert ae["grade"].between(1, 3).all()
    severity = ae["grade"].map({1: "MILD", 2: "MODERATE", 3: "SEVERE"})
    assert (ae["severity"] == severity).all()
    assert set(ae["causality"]) <= set(scenario.CAUSALITY)
    assert (ae["related"] == ae["causality"].isin(CONFIG.related_causality)).all()
    assert (ae["serious_raw"] == ae["serious"].map({True: "Y", False: "N"})).all()
    assert (ae["start_dtc"] == ae["start_date"].dt.strftime("%Y-%m-%d")).all()
    assert (ae["end_date"].isna() == ae["end_dtc"].isna()).all()
    assert (ae["end_date"].isna() == (ae["outcome"] != scenario.RECOVERED)).all()
    assert (ae["end_date"].dropna() >= ae.loc[ae["end_date"].notna(), "start_date"]).all()
    assert (ae["action_taken"] == "NOT APPLICABLE").all()
    assert ae.groupby("usubjid")["seq"].apply(lambda s: list(s) == list(range(1, len(s) + 1))).all()
    assert ae.loc[ae["pt"] == "Procedural pain", "grade"].max() <= 2


@pytest.mark.parametrize("table, column", [
    ("adverse_event", "start_date"), ("adverse_event", "end_date"), ("lab", "collected_date"),
    ("vital_sign", "collected_date"), ("exposure", "start_date"), ("subject", "enrolled_date"),
    ("subject", "first_dose_date"), ("subject", "end_of_study_date"),
])
def test_nothing_after_the_cutoff(db, table, column):
    latest = _rows(db, f"SELECT max({column}) FROM {table}")[0][0]
    assert latest is None or latest <= scenario.DEMO_CUTOFF


@pytest.mark.parametrize("table, column", [
    ("adverse_event", "start_date"), ("lab", "collected_date"), ("vital_sign", "collected_date"),
])
def test_nothing_before_consent(db, table, column):
    early = _rows(db, f"SELECT count(*) FROM {table} t JOIN subject s USING (study_id, usubjid) "
                      f"WHERE t.{column} < s.enrolled_date")
    assert early == [(0,)]


def test_every_row_has_its_batch_and_the_batch_counts_it(db):
    batches = _frame(db, "SELECT * FROM ingest_batch").set_index("batch_id")
    loaded: dict[int, int] = {}
    for table in ("study", "cohort", *CLINICAL_TABLES):
        for batch_id, count in _rows(db, f"SELECT batch_id, count(*) FROM {table} GROUP BY 1"):
            assert batch_id in batches.index, table
            loaded[batch_id] = loaded.get(batch_id, 0) + count
    assert loaded == batches["rows_loaded"].to_dict()
    assert (batches["rows_in"] == batches["rows_loaded"]).all()
    assert (batches["rows_quarantined"] == 0).all() and (batches["status"] == "loaded").all()
    assert sorted(batches["domain"]) == sorted(demo.BATCH_DOMAINS)
    assert batches["file_name"].str.startswith(f"demo generator (seed {scenario.DEMO_SEED}): ").all()
    assert (batches["loaded_at"] == pd.Timestamp(scenario.LOADED_AT)).all()


def test_labs_have_ranges_flags_and_visits(db):
    lab = _frame(db, "SELECT * FROM lab")
    assert (lab["lln"] < lab["uln"]).all()
    flag = pd.Series("NORMAL", index=lab.index).mask(lab["value"] < lab["lln"], "LOW") \
        .mask(lab["value"] > lab["uln"], "HIGH")
    assert (lab["range_flag"] == flag).all()
    assert (lab["value_text"].astype(float) == lab["value"]).all()
    assert set(lab["category"]) == {"HEMATOLOGY", "COAGULATION", "CHEMISTRY"}
    assert (lab["baseline_flag"] == (lab["visit"] == "BASELINE")).all()
    dosed = lab["study_day"].notna()
    assert (lab.loc[dosed, "study_day"] != 0).all()  # SDTM: no day 0
    assert (lab.loc[lab["visit"] == "BASELINE", "study_day"] == 1).all()
    assert set(lab.loc[~dosed, "visit"]) == {"SCREENING"}  # women still in screening


def test_transient_transaminase_rise(db):
    ranks = _dosing_rank(db)
    woman = ranks[(ranks["cohort_id"] == scenario.TRANSAMINASE_RISE[0])
                  & (ranks["rank"] == scenario.TRANSAMINASE_RISE[1])]["usubjid"].iloc[0]
    alt = _frame(db, "SELECT visit, value / uln AS x_uln FROM lab WHERE usubjid = ? "
                     "AND test_code = 'ALT'", [woman]).set_index("visit")["x_uln"]
    assert 3 < alt["DAY 7"] <= 5  # CTCAE v5.0 ALT increased grade 2: >3.0-5.0 x ULN
    assert alt["BASELINE"] <= 1 and alt["DAY 28"] <= 1


def test_infections_show_in_labs_and_vitals(db):
    # The MED DLT (endometritis, grade 3): fever and CRP on the day it starts.
    onset = _frame(db, """
        SELECT a.usubjid, a.start_date,
               (SELECT max(value) FROM vital_sign v WHERE v.usubjid = a.usubjid
                  AND v.test_code = 'TEMP' AND v.collected_date = a.start_date) AS temp,
               (SELECT max(value) FROM lab l WHERE l.usubjid = a.usubjid
                  AND l.test_code = 'CRP' AND l.collected_date = a.start_date) AS crp
        FROM adverse_event a WHERE a.pt = 'Endometritis' AND a.grade = 3
    """)
    assert len(onset) == 1
    assert onset.loc[0, "temp"] > 38.0 and onset.loc[0, "crp"] > 10


@pytest.mark.parametrize("table, date_column", [
    ("adverse_event", "start_date"), ("lab", "collected_date"), ("vital_sign", "collected_date"),
])
def test_fact_tables_are_stored_in_subject_and_date_order(db, table, date_column):
    stored = _rows(db, f"SELECT study_id, usubjid, {date_column} FROM {table}")
    assert stored == sorted(stored)


def test_scaled_build(tmp_path):
    summary = demo.build_demo(tmp_path / "scaled.duckdb", studies=2, subjects=40)
    assert summary.study_ids == ("NCT04232592", "NCT04232592-S002")
    per_study = dict(_rows(summary.db, "SELECT study_id, count(*) FROM subject GROUP BY 1"))
    assert per_study == {"NCT04232592": 40, "NCT04232592-S002": 40}
    per_cohort = _rows(summary.db, "SELECT DISTINCT count(*) FROM subject GROUP BY study_id, "
                                   "cohort_id")
    assert per_cohort == [(10,)]
    for study_id, toml in _rows(summary.db, "SELECT study_id, config_toml FROM study"):
        assert parse_study_config(toml).study_id == study_id
    assert summary.ingest_batches == 2 * len(demo.BATCH_DOMAINS)
    assert _rows(summary.db, "SELECT max(collected_date) FROM lab")[0][0] <= scenario.DEMO_CUTOFF
    stored = _rows(summary.db, "SELECT study_id, usubjid, collected_date FROM lab")
    assert stored == sorted(stored)


@pytest.mark.parametrize("kwargs", [{"studies": 0}, {"subjects": 30}, {"subjects": 34}])
def test_bad_sizes_are_refused(tmp_path, kwargs):
    with pytest.raises(ValueError):
        demo.build_demo(tmp_path / "bad.duckdb", **kwargs)


def test_planted_lab_dlt_is_grade_3_alt_inside_the_window(db):
    # CTCAE v5.0 "Alanine aminotransferase increased", baseline normal: grade 3 >5.0-20.0 x ULN;
    # the study's [[dlt.lab_criteria]] makes grade >= 3 ALT inside the 28-day window a DLT.
    ranks = _dosing_rank(db)
    woman = ranks[(ranks["cohort_id"] == scenario.PERIHEPATITIS[0])
                  & (ranks["rank"] == scenario.PERIHEPATITIS[1])]["usubjid"].iloc[0]
    alt = _frame(db, "SELECT visit, study_day, value / uln AS x_uln FROM lab WHERE usubjid = ? "
                     "AND test_code = 'ALT'", [woman]).set_index("visit")
    assert 5 < alt.loc["DAY 7", "x_uln"] <= 20
    assert alt.loc["DAY 7", "study_day"] <= 28
