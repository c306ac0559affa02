"""Dose paths against the trees printed in Brock's escalation vignettes."""

import pytest

from safety.errors import DesignError
from safety.escalation import Crm, ThreePlusThree, dose_paths, paths_to_dicts


def _tree(nodes):
    """(parent outcomes, cohort) -> next dose, for comparison with printed trees."""
    by_id = {n.id: n for n in nodes}
    return {(by_id[n.parent_id].outcomes, n.cohort): n.next_dose for n in nodes if n.depth > 0}


def test_three_plus_three_with_deescalation_two_cohorts():
    # escalation vignette A600-DosePaths: get_three_plus_three(num_doses = 5, allow_deescalate =
    # TRUE) %>% get_dose_paths(cohort_sizes = c(3, 3)) prints
    #   Give dose 1: NNN -> 2 (NNN -> 3, NNT -> 2, NTT -> 1, TTT -> 1);
    #   NNT -> 1 (NNN -> 2, NNT -> NA, NTT -> NA, TTT -> NA); NTT -> NA; TTT -> NA
    nodes = dose_paths(ThreePlusThree(num_doses=5, allow_deescalate=True), "", (3, 3))
    assert nodes[0].next_dose == 1
    assert _tree(nodes) == {
        ("", "NNN"): 2,
        ("", "NNT"): 1,
        ("", "NTT"): None,
        ("", "TTT"): None,
        ("1NNN", "NNN"): 3,
        ("1NNN", "NNT"): 2,
        ("1NNN", "NTT"): 1,
        ("1NNN", "TTT"): 1,
        ("1NNT", "NNN"): 2,
        ("1NNT", "NNT"): None,
        ("1NNT", "NTT"): None,
        ("1NNT", "TTT"): None,
    }
    assert len(nodes) == 13  # root + 4 + 8 (stopped paths have no children)


def test_crm_paths_from_dose_2():
    # escalation vignette A205-CRM: get_dfcrm(skeleton = c(0.05, 0.12, 0.25, 0.40, 0.55),
    # target = 0.25, model = 'empiric', scale = 1) %>% get_dose_paths(cohort_sizes = c(3, 3),
    # next_dose = 2); graph: root 2; NNN -> 4 (NNN 5, NNT 4, NTT 3, TTT 2); NNT -> 2 (NNN 3,
    # NNT 2, NTT 1, TTT 1); NTT -> 1 (all 1); TTT -> 1 (all 1)
    crm = Crm((0.05, 0.12, 0.25, 0.40, 0.55), target=0.25, model="empiric", prior_var=1.0)
    nodes = dose_paths(crm, "", (3, 3), next_dose=2)
    tree = _tree(nodes)
    assert [tree[("", c)] for c in ("NNN", "NNT", "NTT", "TTT")] == [4, 2, 1, 1]
    assert [tree[("2NNN", c)] for c in ("NNN", "NNT", "NTT", "TTT")] == [5, 4, 3, 2]
    assert [tree[("2NNT", c)] for c in ("NNN", "NNT", "NTT", "TTT")] == [3, 2, 1, 1]
    assert [tree[("2NTT", c)] for c in ("NNN", "NNT", "NTT", "TTT")] == [1, 1, 1, 1]
    assert [tree[("2TTT", c)] for c in ("NNN", "NNT", "NTT", "TTT")] == [1, 1, 1, 1]
    assert len(nodes) == 21  # the vignette graph has 21 nodes


def test_paths_from_current_outcomes_and_json_rows():
    nodes = dose_paths(ThreePlusThree(num_doses=3), "1NNN 2NNT", (3,))
    rows = paths_to_dicts(nodes)
    assert rows[0]["outcomes"] == "1NNN 2NNT" and rows[0]["next_dose"] == 2
    # Storer 3+3: 1/6 at dose 2 -> escalate to 3; 2/6 -> stop, dose 1 is the MTD
    assert rows[1]["outcomes"] == "1NNN 2NNT 2NNN" and rows[1]["recommended_dose"] == 3
    assert rows[2]["decision"] == "stop" and rows[2]["recommended_dose"] == 1


def test_too_many_nodes_refused():
    with pytest.raises(DesignError, match="nodes"):
        dose_paths(ThreePlusThree(num_doses=3), "", (6, 6, 6, 6, 6, 6))
