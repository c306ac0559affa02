"""Study configuration: the shipped files load, and a bad file is refused with file, key and expectation."""

import re
from pathlib import Path

import pytest

from safety.config import (
    find_study_config,
    load_study_config,
    parse_study_config,
    study_config_paths,
)
from safety.errors import ConfigError

STUDY_FILE = Path(__file__).resolve().parents[1] / "data" / "studies" / "nct04232592.toml"
GOOD = STUDY_FILE.read_text(encoding="utf-8")


def test_every_shipped_study_config_loads():
    paths = study_config_paths()
    assert STUDY_FILE in paths
    for path in paths:
        assert load_study_config(path).study_id


def test_default_study_has_the_registry_facts():
    # ClinicalTrials.gov NCT04232592: phase 1, 32 women aged 18-38, control + 3 doses, 48 weeks.
    config = find_study_config("nct04232592")
    assert config.study_id == "NCT04232592"
    assert config.phase == "Phase 1"
    assert config.facts["planned_subjects"] == 32
    assert (config.facts["min_age"], config.facts["max_age"]) == (18, 38)
    assert config.follow_up_weeks == 48
    assert str(config.start_date) == "2020-01-31"
    assert "albumin" in config.facts["control"]
    assert [c.cohort_id for c in config.cohorts if c.is_control] == ["CTRL"]
    assert [c.cohort_id for c in config.dose_cohorts] == ["LOW", "MED", "HIGH"]
    assert all(c.planned_subjects == 8 for c in config.cohorts)
    assert config.doses_illustrative and "illustrative" in config.dose_note
    assert {"Uterine perforation", "Anaphylactic reaction", "Teratoma"} <= set(
        config.dlt.always_terms
    )


@pytest.mark.parametrize(
    "old, new, message",
    [
        (
            "window_days = 28 ",
            'window_days = "28d" ',
            "[dlt] window_days must be a whole number above 0, got '28d'",
        ),
        (
            'name = "boin"',
            'name = "boinn"',
            "[design] name must be one of '3+3', 'boin', 'mtpi2', 'crm'",
        ),
        (
            "target = 0.25",
            "target = 1.25",
            "[design] target must be a probability strictly between 0 and 1",
        ),
        (
            "min_grade = 3                    #",
            "min_grade = 7 #",
            "[dlt] min_grade must be a CTCAE grade from 1 to 5, got 7",
        ),
        ("dose_level = 3", "dose_level = 5", "dose_level must number the dose cohorts 1, 2, 3"),
        ('id = "HIGH"', 'id = "MED"', "[[cohorts]] id must be unique"),
        ("k = 2\n", "k = 4\n", "[stopping_rules #2] k must be at most n (3), got 4"),
        ('kind = "too_toxic"', 'kind = "too_tox"', "[stopping_rules #3] kind must be one of"),
        (
            "start_date = 2020-01-31",
            'start_date = "31/01/2020"',
            "[study] start_date must be a date",
        ),
        (
            "min_grade = 3                    #",
            "min_exposure = 1.5\nmin_grade = 3 #",
            "[dlt] min_exposure must be a fraction above 0 and at most 1 (e.g. 0.8 for 80%), "
            "got 1.5",
        ),
        (
            "min_grade = 3                    #",
            "planned_administrations = 0\nmin_grade = 3 #",
            "[dlt] planned_administrations must be a whole number above 0, got 0",
        ),
        (
            "[dlt]\n",
            '[labs]\ninr_anticoagulated = "yes"\n\n[dlt]\n',
            "[labs] inr_anticoagulated must be true or false, got 'yes'",
        ),
    ],
)
def test_bad_value_is_refused_with_file_key_and_expectation(old, new, message):
    assert old in GOOD, "the test's anchor text must exist in the shipped file"
    with pytest.raises(ConfigError) as err:
        parse_study_config(GOOD.replace(old, new, 1), "nct04232592.toml")
    assert str(err.value).startswith("nct04232592.toml: ")
    assert message in str(err.value)


def test_evaluability_and_lab_settings_default_to_the_protocol_neutral_choice():
    # no [dlt] min_exposure: any dose makes a patient evaluable; no [labs]: INR graded as not
    # on anticoagulation (CTCAE v5.0's absolute criterion), nobody flagged
    config = parse_study_config(GOOD, "nct04232592.toml")
    assert (config.dlt.min_exposure, config.dlt.planned_administrations) == (None, 1)
    assert (config.labs.inr_anticoagulated, config.labs.anticoagulation_qnam) == (False, None)
    set_ = parse_study_config(GOOD.replace("[dlt]\n", "[dlt]\nmin_exposure = 0.8\n", 1)
                              + '\n[labs]\nanticoagulation_qnam = "ANTICOAG"\n')
    assert (set_.dlt.min_exposure, set_.labs.anticoagulation_qnam) == (0.8, "ANTICOAG")


def test_missing_table_and_missing_key():
    without_dlt = GOOD[: GOOD.index("[dlt]")]
    # a design without a DLT definition is half an escalation: refused, naming both tables
    with pytest.raises(ConfigError, match=r"nct04232592.toml: \[design\] without \[dlt\]"):
        parse_study_config(without_dlt, "nct04232592.toml")
    with pytest.raises(ConfigError, match=r"the table \[cohorts\] is missing"):
        parse_study_config(GOOD[: GOOD.index("[[cohorts]]")], "nct04232592.toml")
    with pytest.raises(ConfigError, match=r"\[design\] is missing the key 'target'"):
        parse_study_config(GOOD.replace("target = 0.25", ""), "nct04232592.toml")


def test_not_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_study_config("[study\nid=1", "broken.toml")
    with pytest.raises(ConfigError, match="cannot read the study configuration"):
        load_study_config(tmp_path / "absent.toml")


@pytest.mark.parametrize("table, message", [
    ('incremental = ["XX"]', "[delivery] incremental must be a list of SDTM domains"),
    ("max_removed_records = 1.5", "[delivery] max_removed_records must be a share from 0 to 1"),
    ("max_removed_dlts = -1", "[delivery] max_removed_dlts must be a whole number of 0 or more"),
    ("max_quarantined = true", "[delivery] max_quarantined must be a share from 0 to 1"),
    ("tolerate_everything = true", "[delivery] has unknown key(s) tolerate_everything"),
])
def test_delivery_rules_are_checked_naming_file_and_key(table, message):
    with pytest.raises(ConfigError, match=re.escape(f"study.toml: {message}")):
        parse_study_config(GOOD + f"\n[delivery]\n{table}\n", "study.toml")


def test_delivery_rules_default_to_cumulative_with_issue_14_tolerances():
    rules = parse_study_config(GOOD, "study.toml").delivery
    assert rules.delivery_type("AE") == "cumulative"
    assert (rules.max_removed_records, rules.max_removed_subjects, rules.max_removed_dlts,
            rules.max_removed_saes, rules.max_removed_deaths, rules.max_quarantined) == (
        0.05, 0, 0, 0, 0, 0.20)
    lb = parse_study_config(GOOD + '\n[delivery]\nincremental = ["lb"]\n', "s.toml").delivery
    assert (lb.delivery_type("LB"), lb.delivery_type("AE")) == ("incremental", "cumulative")


def test_the_domains_a_study_may_declare_are_those_ingest_loads():
    from safety.config import DELIVERED_DOMAINS
    from safety.ingest.domains import DOMAINS

    assert DELIVERED_DOMAINS == tuple(DOMAINS)


def test_a_study_without_design_and_dlt_definition_is_monitored_for_safety_only():
    # the CDISC pilot: parallel group, placebo controlled; its protocol has no escalation design
    # or DLT definition, and the shipped file declares none
    pilot = find_study_config("CDISCPILOT01")
    assert (pilot.is_escalation, pilot.design, pilot.dlt, pilot.stopping_rules) == (
        False, None, None, ())
    assert find_study_config("NCT04232592").is_escalation
    rules = GOOD[GOOD.index("[[stopping_rules]]"):]
    cut = GOOD[: GOOD.index("[design]")] + GOOD[GOOD.index("[[cohorts]]"): GOOD.index("[dlt]")]
    assert not parse_study_config(cut).is_escalation
    with pytest.raises(ConfigError, match=r"\[\[stopping_rules\]\] need an escalation design"):
        parse_study_config(cut + "\n" + rules)
