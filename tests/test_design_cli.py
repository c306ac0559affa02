"""``design boundaries`` and ``design decide`` through click, as the lead's cli.py mounts them."""

import json

import pytest
from click.testing import CliRunner

from safety.cli.design import design


@pytest.fixture
def runner():
    return CliRunner()


def test_boundaries_boin_json(runner):
    result = runner.invoke(design, ["boundaries", "--design", "boin", "--target", "0.3", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    # Liu & Yuan (2015) / BOIN get.boundary: lambda_e 0.236, lambda_d 0.358
    assert doc["lambda_e"] == pytest.approx(0.236, abs=1e-3)
    assert doc["lambda_d"] == pytest.approx(0.358, abs=1e-3)
    assert [r["n"] for r in doc["rows"]] == list(range(1, 31))
    # get.boundary n = 3: escalate if 0, de-escalate if >= 2, eliminate if >= 3
    assert doc["rows"][2] == {"n": 3, "decisions": ["E", "S", "D", "DU"]}
    # get.boundary n = 30: escalate if <= 7, de-escalate if >= 11, eliminate if >= 14
    row30 = doc["rows"][29]["decisions"]
    assert row30.index("S") == 8 and row30.index("D") == 11 and row30.index("DU") == 14


def test_boundaries_mtpi2_json(runner):
    result = runner.invoke(
        design, ["boundaries", "--design", "mtpi2", "--target", "0.3", "--max-n", "9", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    # Guo et al. (2017) Figure 3 via escalation test_mtpi2.R (n = 6)
    assert rows[5]["decisions"] == ["E", "E", "S", "D", "DU", "DU", "DU"]


def test_boundaries_text(runner):
    result = runner.invoke(design, ["boundaries", "--design", "boin", "--target", "0.3"])
    assert result.exit_code == 0, result.output
    # BOIN get.boundary boundary_tab (cohort size 3): escalate row 0 1 2 2 3 4 4 5 6 7
    line = next(ln for ln in result.output.splitlines() if ln.startswith("Escalate"))
    assert line.split()[-10:] == ["0", "1", "2", "2", "3", "4", "4", "5", "6", "7"]
    line = next(ln for ln in result.output.splitlines() if ln.startswith("Eliminate"))
    assert line.split()[-10:] == ["3", "4", "5", "7", "8", "9", "10", "11", "12", "14"]


def test_decide_three_plus_three_json(runner):
    result = runner.invoke(
        design,
        ["decide", "--design", "3+3", "--outcomes", "1NNN 2NTN", "--num-doses", "5", "--json"],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    # Storer (1989): 1 of 3 -> 3 more at the same dose
    assert doc["design"] == "3+3" and doc["recommended_dose"] == 2 and doc["continue"] is True
    assert doc["reason"] == "1 DLT in 3 at dose level 2: treat 3 more there (3+3)"
    assert doc["estimates"] == [None] * 5 and doc["eliminated"] == []


def test_decide_allow_deescalate(runner):
    # test_three_plus_three.R: '1NNN 2NTT' with de-escalation -> 1, continue
    result = runner.invoke(
        design,
        [
            "decide",
            "--design",
            "3+3",
            "--outcomes",
            "1NNN 2NTT",
            "--num-doses",
            "5",
            "--allow-deescalate",
            "--json",
        ],
    )
    doc = json.loads(result.stdout)
    assert (doc["recommended_dose"], doc["continue"], doc["action"]) == (1, True, "eliminate")


def test_decide_boin_final(runner):
    # escalation vignette A230-BOIN: '1NNN 2NTN 2NNN 3NTT' -> select_boin_mtd -> dose 2
    result = runner.invoke(
        design,
        [
            "decide",
            "--design",
            "boin",
            "--outcomes",
            "1NNN 2NTN 2NNN 3NTT",
            "--num-doses",
            "5",
            "--target",
            "0.3",
            "--final",
            "--json",
        ],
    )
    doc = json.loads(result.stdout)
    assert (doc["recommended_dose"], doc["continue"]) == (2, False)
    assert doc["estimates"][3:] == [None, None]  # untreated doses


def test_decide_crm_json(runner):
    # A205-CRM (Cheung 2011 p.21, dfcrm logistic): ptox 0.00768 0.0265 0.0817 0.182 0.331, dose 4
    result = runner.invoke(
        design,
        [
            "decide",
            "--design",
            "crm",
            "--outcomes",
            "3N 5N 5T 3N 4N",
            "--num-doses",
            "5",
            "--target",
            "0.25",
            "--model",
            "logistic",
            "--skeleton",
            "0.05,0.12,0.25,0.40,0.55",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["recommended_dose"] == 4 and doc["mtd_estimate"] == 4
    assert doc["estimates"] == pytest.approx([0.00768, 0.0265, 0.0817, 0.182, 0.331], rel=5e-3)
    assert {"beta_mean", "beta_var"} <= doc.keys()


def test_decide_text(runner):
    result = runner.invoke(
        design,
        [
            "decide",
            "--design",
            "mtpi2",
            "--outcomes",
            "1NNN",
            "--num-doses",
            "3",
            "--target",
            "0.3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ESCALATE: recommended dose level 2")


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["decide", "--design", "3+3", "--outcomes", "1NNX", "--num-doses", "3"],
            'unknown outcome "X" at position 4',
        ),
        (
            ["decide", "--design", "boin", "--outcomes", "1NNN", "--num-doses", "3"],
            "--target is required",
        ),
        (
            [
                "decide",
                "--design",
                "crm",
                "--num-doses",
                "3",
                "--target",
                "0.3",
                "--skeleton",
                "0.1,x",
            ],
            "--skeleton must be",
        ),
        (
            [
                "decide",
                "--design",
                "crm",
                "--num-doses",
                "3",
                "--target",
                "0.3",
                "--skeleton",
                "0.1,0.2",
            ],
            "2 values but --num-doses is 3",
        ),
        (["decide", "--design", "boin", "--num-doses", "3", "--target", "0.9"], "between 0.05"),
        (["decide", "--design", "3+3", "--outcomes", "4NNN", "--num-doses", "3"], "only 3 dose"),
        (["boundaries", "--design", "boin", "--target", "0.3", "--max-n", "0"], "--max-n"),
    ],
)
def test_bad_input_exits_2_with_one_line(runner, args, message):
    result = runner.invoke(design, args + ["--json"])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
