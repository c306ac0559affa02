"""Pure dose-escalation engine: designs, stopping rules, dose paths (no database, no UI).

Designs (3+3, BOIN, mTPI-2, CRM) are small frozen objects with ``decide(outcomes) -> Decision``;
stopping rules wrap a design and answer the same ``decide``. Outcomes are Brock's strings
(``"1NNN 2NTN"``). Every rule follows a published reference, named in its module.
"""

from safety.escalation.boin import Boin, boin_lambdas, isotonic_estimates, select_mtd_isotonic
from safety.escalation.crm import Crm, crm_posterior, crm_skeleton
from safety.escalation.decision import (
    Action,
    Decision,
    Design,
    RuleState,
    check_decision,
    prob_exceeds,
)
from safety.escalation.mtpi2 import Mtpi2, mtpi2_intervals
from safety.escalation.outcomes import (
    Cohort,
    Outcomes,
    cohorts_from_patients,
    counts_by_dose,
    format_outcomes,
    last_dose,
    outcomes_from_counts,
    outcomes_from_tallies,
    parse_outcomes,
)
from safety.escalation.paths import PathNode, dose_paths, paths_to_dicts
from safety.escalation.rules import (
    DontSkipDoses,
    HardStop,
    KOfFirstN,
    StopAtN,
    StopWhenNAtDose,
    StopWhenTooToxic,
)
from safety.escalation.three_plus_three import ThreePlusThree

__all__ = [
    "Action",
    "Boin",
    "Cohort",
    "Outcomes",
    "Crm",
    "Decision",
    "Design",
    "DontSkipDoses",
    "HardStop",
    "KOfFirstN",
    "Mtpi2",
    "PathNode",
    "RuleState",
    "StopAtN",
    "StopWhenNAtDose",
    "StopWhenTooToxic",
    "ThreePlusThree",
    "boin_lambdas",
    "check_decision",
    "cohorts_from_patients",
    "counts_by_dose",
    "crm_posterior",
    "crm_skeleton",
    "dose_paths",
    "format_outcomes",
    "isotonic_estimates",
    "last_dose",
    "mtpi2_intervals",
    "outcomes_from_counts",
    "outcomes_from_tallies",
    "parse_outcomes",
    "paths_to_dicts",
    "prob_exceeds",
    "select_mtd_isotonic",
]
