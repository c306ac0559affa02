"""Dose paths: the design's decision after every possible outcome of the next cohorts.

From the outcomes so far, the next cohort is treated at the design's recommended dose; each of
its possible results (0, 1, ..., size DLTs, written ``NNN``, ``NNT``, ``NTT``, ``TTT``) gives a
child node with the decision that would follow, and so on for the following cohorts. A path
ends early where the design stops. Dose paths were introduced for phase I by Yap et al. (2017)
and are computed the same way by Brock's ``escalation::get_dose_paths``.

References
----------
Yap C., Billingham L.J., Cheung Y.K., Craddock C., O'Quigley J. (2017). Dose transition pathways:
the missing link between complex dose-finding designs and simple decision-making. Clinical Cancer
Research 23(24):7440-7447.
Brock K., R package escalation, R/get_dose_paths.R.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from safety.errors import DesignError
from safety.escalation.decision import Decision, Design
from safety.escalation.outcomes import Cohort, as_outcomes, format_outcomes

log = logging.getLogger(__name__)

MAX_PATH_NODES = 20_000  # guard: the tree grows as (size + 1) ** cohorts


@dataclass(frozen=True, slots=True)
class PathNode:
    """One node of the dose-path tree.

    Attributes
    ----------
    id : int
        0 for the root (the outcomes so far).
    parent_id : int or None
    depth : int
        Number of hypothetical cohorts added (0 at the root).
    cohort : str
        The hypothetical cohort's results, e.g. ``"NNT"`` (``""`` at the root).
    dose_level : int or None
        Dose the hypothetical cohort was treated at (None at the root).
    outcomes : str
        The full outcome string up to this node.
    decision : Decision
        The design's decision after these outcomes.
    next_dose : int or None
        Dose for the next cohort (None when the design stops).
    """

    id: int
    parent_id: int | None
    depth: int
    cohort: str
    dose_level: int | None
    outcomes: str
    decision: Decision
    next_dose: int | None


def cohort_results(size: int) -> tuple[str, ...]:
    """``NNN, NNT, NTT, TTT`` for size 3: every number of DLTs, in increasing order."""
    return tuple("N" * (size - t) + "T" * t for t in range(size + 1))


def dose_paths(
    design: Design,
    outcomes: str | Sequence[Cohort] = "",
    cohort_sizes: Sequence[int] = (3, 3),
    next_dose: int | None = None,
) -> tuple[PathNode, ...]:
    """All dose paths for the next cohorts, breadth first.

    Parameters
    ----------
    design : Design
    outcomes : str or cohorts
        Outcomes so far (``""`` at the start of the trial).
    cohort_sizes : sequence of int
        Size of each following cohort; ``(3, 3)`` = the next two cohorts of three.
    next_dose : int, optional
        Dose for the first hypothetical cohort, overriding the design (as ``get_dose_paths``).

    Returns
    -------
    tuple of PathNode
        Root first; each node's children follow in order of increasing DLT count.
    """
    cohorts = as_outcomes(outcomes)
    if any(s < 1 for s in cohort_sizes):
        raise DesignError(f"dose paths: cohort sizes must be at least 1, got {list(cohort_sizes)}")
    estimate = 1
    for s in cohort_sizes:
        estimate = estimate * (s + 1) + 1
    if estimate > MAX_PATH_NODES:
        raise DesignError(
            f"dose paths: {list(cohort_sizes)} would need about {estimate} nodes; "
            f"the limit is {MAX_PATH_NODES}"
        )
    if next_dose is not None and not 1 <= next_dose <= design.num_doses:
        raise DesignError(f"dose paths: next dose {next_dose} is not a dose level of the design")
    root_decision = design.decide(cohorts)
    root_next = (
        next_dose
        if next_dose is not None
        else (root_decision.dose_level if root_decision.continue_ else None)
    )
    nodes = [PathNode(0, None, 0, "", None, format_outcomes(cohorts), root_decision, root_next)]
    frontier = [(nodes[0], cohorts)]
    for depth, size in enumerate(cohort_sizes, start=1):
        new_frontier = []
        for parent, history in frontier:
            if parent.next_dose is None:
                continue
            for result in cohort_results(size):
                cohort = Cohort(parent.next_dose, tuple(c == "T" for c in result))
                new_history = history + (cohort,)
                decision = design.decide(new_history)
                node = PathNode(
                    id=len(nodes),
                    parent_id=parent.id,
                    depth=depth,
                    cohort=result,
                    dose_level=parent.next_dose,
                    outcomes=format_outcomes(new_history),
                    decision=decision,
                    next_dose=decision.dose_level if decision.continue_ else None,
                )
                nodes.append(node)
                new_frontier.append((node, new_history))
        frontier = new_frontier
    return tuple(nodes)


def paths_to_dicts(nodes: Sequence[PathNode]) -> list[dict[str, object]]:
    """JSON-friendly rows: id, parent_id, depth, cohort, dose_level, outcomes, decision fields."""
    return [
        {
            "id": n.id,
            "parent_id": n.parent_id,
            "depth": n.depth,
            "cohort": n.cohort,
            "dose_level": n.dose_level,
            "outcomes": n.outcomes,
            "next_dose": n.next_dose,
            "decision": n.decision.action.value,
            "continue": n.decision.continue_,
            "recommended_dose": n.decision.dose_level,
            "reason": n.decision.reason,
        }
        for n in nodes
    ]
