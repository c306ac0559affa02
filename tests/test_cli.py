"""The command line, run as a user runs it: `python -m safety ...` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "safety", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


@pytest.fixture(scope="module")
def status_json(demo_db) -> dict:
    result = run("status", "--db", str(demo_db), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # stdout is one JSON document and nothing else


def test_status_json_has_the_documented_shape(status_json):
    (study,) = status_json["studies"]
    assert study["id"] == "NCT04232592"
    assert study["design"] == "boin"
    cohort_keys = {
        "id",
        "label",
        "control",
        "dose",
        "dose_unit",
        "subjects",
        "treated",
        "in_dlt_window",
        "dlts",
        "saes",
        "decision",
        "reason",
        "rules",
    }
    for cohort in study["cohorts"]:
        assert cohort_keys <= cohort.keys()
        assert cohort["decision"] in {
            "escalate",
            "stay",
            "de-escalate",
            "stop",
            "eliminate",
            "none",
        }
        assert cohort["reason"]
        for rule in cohort["rules"]:
            assert {"name", "state", "detail"} <= rule.keys()
            assert rule["state"] in {"ok", "warning", "triggered"}


def test_status_numbers_match_the_demo_composition(status_json):
    # The demo (src/safety/demo.py): 4 cohorts of 8 women; the high dose cohort is being treated
    # at the cut-off (6 dosed, 2 in screening); DLTs: none at low, 1 at medium, 2 at high.
    cohorts = {c["id"]: c for c in status_json["studies"][0]["cohorts"]}
    assert list(cohorts) == ["CTRL", "LOW", "MED", "HIGH"]
    assert [c["control"] for c in cohorts.values()] == [True, False, False, False]
    assert sum(c["subjects"] for c in cohorts.values()) == 32
    assert all(c["subjects"] == 8 for c in cohorts.values())
    assert cohorts["HIGH"]["treated"] == 6
    assert cohorts["HIGH"]["in_dlt_window"] >= 2
    assert (cohorts["LOW"]["dlts"], cohorts["MED"]["dlts"], cohorts["HIGH"]["dlts"]) == (0, 1, 2)
    assert cohorts["CTRL"]["decision"] == "none"
    assert cohorts["LOW"]["dose"] == 10.0 and cohorts["CTRL"]["dose"] is None


def test_status_is_the_same_twice_for_the_same_seed(tmp_path):
    first, second = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    for path in (first, second):
        assert run("demo", "--db", str(path), "--seed", "7").returncode == 0
    out = [json.loads(run("status", "--db", str(p), "--json").stdout) for p in (first, second)]
    assert out[0]["studies"] == out[1]["studies"]  # the audit trails differ (alerts' clock)
    assert out[0]["studies"][0]["cohorts"]
    assert out[0]["audit"]["ok"] and out[1]["audit"]["ok"]


def test_database_from_environment(demo_db):
    result = run("status", "--json", env={"SAFETY_DB": str(demo_db)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["studies"][0]["id"] == "NCT04232592"


@pytest.mark.parametrize(
    "args, message",
    [
        (("status", "--db", "/nonexistent/safety.duckdb"), "does not exist"),
        (("status", "--study", "NCT00000000"), "no study 'NCT00000000'"),
        (("status", "--cutoff", "31/12/2020"), "Invalid value for '--cutoff'"),
        (("demo", "--studies", "0"), "Invalid value for '--studies'"),
        (("nonsense",), "No such command"),
    ],
)
def test_bad_input_exits_2_with_one_line(demo_db, args, message):
    result = run(*args, env={"SAFETY_DB": str(demo_db)})
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert result.stdout == ""


def test_a_file_that_is_not_a_database_exits_2(tmp_path):
    bogus = tmp_path / "notes.duckdb"
    bogus.write_text("not a database")
    result = run("status", "--db", str(bogus))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_database_of_another_schema_version_is_refused_in_one_line(demo_db, tmp_path):
    # a file written by an older version is never read with this version's queries: the
    # command says what to do in one line, no traceback, and leaves the file as it is
    import shutil

    import duckdb

    from safety.store.schema import SCHEMA_VERSION

    old = tmp_path / "old.duckdb"
    shutil.copy(demo_db, old)
    with duckdb.connect(str(old)) as con:
        con.execute("UPDATE schema_version SET version = ?", [SCHEMA_VERSION - 1])
    before = old.read_bytes()
    out = run("status", "--db", str(old))
    assert out.returncode != 0
    message = out.stderr.strip().splitlines()
    assert len(message) == 1 and "Traceback" not in out.stderr, out.stderr
    expected = f"schema version {SCHEMA_VERSION - 1}, this software needs {SCHEMA_VERSION}"
    assert expected in message[0]
    assert old.read_bytes() == before
