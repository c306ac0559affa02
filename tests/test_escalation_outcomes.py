"""Outcome strings as Brock's escalation package writes them ("1NNN 2NTN")."""

import pytest

from safety.errors import OutcomesError
from safety.escalation import (
    Cohort,
    counts_by_dose,
    format_outcomes,
    last_dose,
    outcomes_from_counts,
    outcomes_from_tallies,
    parse_outcomes,
)


def test_parse_brock_example():
    # DESIGN.md / escalation docs: "1NNN 2NTN" = three at dose 1 without toxicity, then three at
    # dose 2, one of them with a DLT.
    assert parse_outcomes("1NNN 2NTN") == (
        Cohort(1, (False, False, False)),
        Cohort(2, (False, True, False)),
    )


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_string_means_no_patients(text):
    # escalation: '' is a trial with no patients
    assert parse_outcomes(text) == ()
    assert last_dose(text) is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("1NNX", '"1NNX": unknown outcome "X" at position 4'),
        ("1NNN 2nTN", '"1NNN 2nTN": unknown outcome "n" at position 7'),
        ("NNN", '"NNN": expected a dose level (a number) at position 1, found "N"'),
        ("1NNN 2", '"1NNN 2": dose level 2 at position 6 has no patient outcomes (N or T)'),
        ("0NN", '"0NN": dose level 0 at position 1 is not allowed; dose levels start at 1'),
    ],
)
def test_bad_outcomes_name_the_character_and_position(text, message):
    with pytest.raises(OutcomesError) as exc:
        parse_outcomes(text)
    assert str(exc.value) == message


def test_counts_by_dose_and_round_trip():
    n, dlts = counts_by_dose("1NNN 2NTN 2TTN", num_doses=3)
    assert list(n) == [3, 6, 0] and list(dlts) == [0, 3, 0]
    assert format_outcomes(parse_outcomes("1NNN  2NTN")) == "1NNN 2NTN"


def test_outcomes_from_patient_records():
    records = [(1, False), (1, False), (1, False), (2, False), (2, True), (2, False), (1, True)]
    assert outcomes_from_counts(records) == "1NNN 2NTN 1T"
    assert outcomes_from_counts([]) == ""


def test_outcomes_from_cohort_tallies():
    assert outcomes_from_tallies([(1, 3, 0), (2, 3, 1), (3, 0, 0)]) == "1NNN 2NNT"
    with pytest.raises(OutcomesError, match="4 DLTs in 3 patients"):
        outcomes_from_tallies([(1, 3, 4)])


def test_bad_record_dose_is_refused():
    with pytest.raises(OutcomesError, match="patient 2"):
        outcomes_from_counts([(1, False), (0, True)])
