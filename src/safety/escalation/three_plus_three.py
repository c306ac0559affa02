"""The classic 3+3 design, as Brock's R package ``escalation`` (``get_three_plus_three``).

The decision is made on the last dose treated (the 3+3 is memoryless): fewer than 3 patients
there, complete the cohort; 0 of 3, escalate; 1 of 3, treat 3 more; at most 1 of 6, escalate;
2 or more DLTs, stop and recommend the dose below (or no dose). Escalation stops, with the current
dose as the MTD, at the top dose or when the next dose already has 6 patients or 2 DLTs. With
``allow_deescalate`` (Korn et al. 1994) a dose with 2 or more DLTs sends the trial one dose down,
until the dose below already has 6 patients; the MTD is then the highest dose with at least 6
patients and at most 1 DLT.

References
----------
Storer B.E. (1989). Design and analysis of phase I clinical trials. Biometrics 45(3):925-937.
Korn E.L., Midthune D., Chen T.T., Rubinstein L.V., Christian M.C., Simon R.M. (1994). A
comparison of two phase I trial designs. Statistics in Medicine 13(18):1799-1806.
Brock K., R package escalation, R/three_plus_three.R.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from safety.errors import DesignError
from safety.escalation.decision import Decision, action_for, dlt_phrase, eliminated_from
from safety.escalation.outcomes import Cohort, as_outcomes, counts_by_dose, last_dose

log = logging.getLogger(__name__)

COHORT_SIZE = 3  # Storer (1989): cohorts of three
FULL_DOSE_SIZE = 6  # Storer (1989): a dose is expanded to six
MAX_DLTS_FOR_ESCALATION = 1  # Storer (1989): escalate after 0/3 or at most 1/6
MIN_DLTS_TOO_TOXIC = 2  # Storer (1989): 2 or more DLTs at a dose exceed the MTD


@dataclass(frozen=True, slots=True)
class ThreePlusThree:
    """3+3 design over ``num_doses`` dose levels.

    Parameters
    ----------
    num_doses : int
    allow_deescalate : bool
        Korn et al. (1994) variant: de-escalate after 2+ DLTs rather than stop.
    decide_on_excess_toxicity : bool
        When a dose already has 2 or more DLTs in an unfinished cohort (e.g. 2 of 4 with 2
        still in their DLT window), decide now as if the cohort were complete: whatever the
        remaining patients show, 2 or more DLTs in 3 or 6 exceed the MTD (Storer 1989), so no
        more patients should be exposed there. Brock's package (the default, False) completes
        the cohort first ('1TT': treat the third patient). The product's status and comparison
        views use True.

    References
    ----------
    Storer (1989); Korn et al. (1994); Brock, escalation ``three_plus_three``.
    """

    num_doses: int
    allow_deescalate: bool = False
    decide_on_excess_toxicity: bool = False
    name: str = "3+3"

    def __post_init__(self) -> None:
        if self.num_doses < 1:
            raise DesignError(
                f"3+3: the number of dose levels must be at least 1, got {self.num_doses}"
            )

    def decide(self, outcomes: str | Sequence[Cohort]) -> Decision:
        """Decision for the next cohort from the counts at the last dose treated."""
        cohorts = as_outcomes(outcomes)
        n, tox = counts_by_dose(cohorts, self.num_doses)
        k = self.num_doses
        label = "3+3 with de-escalation" if self.allow_deescalate else "3+3"
        current = last_dose(cohorts)
        # Brock's dose_admissible: a dose with 2+ DLTs and every dose above it are excluded. The
        # dose being filled counts only once its cohort is complete (3 or 6), because Brock's 3+3
        # completes a cohort at a dose even after 2 DLTs ('1TT': treat the third patient).
        too_toxic = [
            j + 1
            for j in range(k)
            if tox[j] >= MIN_DLTS_TOO_TOXIC
            and (j + 1 != current or n[j] in (COHORT_SIZE, FULL_DOSE_SIZE)
                 or self.decide_on_excess_toxicity)
        ]
        eliminated = eliminated_from(min(too_toxic) if too_toxic else None, k)
        if current is None:
            return self._decision(
                None,
                1,
                True,
                f"No patients treated yet: start at dose level 1 ({label})",
                {},
                eliminated,
            )
        d = current
        n_d, tox_d = int(n[d - 1]), int(tox[d - 1])
        numbers = {"n": n_d, "dlts": tox_d, "dose_level": d}
        here = f"{dlt_phrase(tox_d, n_d)} at dose level {d}"

        if n_d > FULL_DOSE_SIZE:
            raise DesignError(
                f"outside the 3+3 rules: {n_d} at dose level {d} (the 3+3 decides on cohorts "
                f"of {COHORT_SIZE} and {FULL_DOSE_SIZE} patients at a dose, Storer 1989)"
            )
        unfinished = n_d < COHORT_SIZE or COHORT_SIZE < n_d < FULL_DOSE_SIZE
        if unfinished and self.decide_on_excess_toxicity and tox_d >= MIN_DLTS_TOO_TOXIC:
            here += (f" (cohort unfinished, but {MIN_DLTS_TOO_TOXIC} or more DLTs already exceed "
                     f"the MTD whatever the remaining patients show)")
            unfinished = False
            n_d = COHORT_SIZE if n_d < COHORT_SIZE else FULL_DOSE_SIZE
        if unfinished:
            target = COHORT_SIZE if n_d < COHORT_SIZE else FULL_DOSE_SIZE
            return self._decision(
                d,
                d,
                True,
                f"{here}: complete {target} patients there ({label})",
                numbers,
                eliminated,
            )
        if (n_d == COHORT_SIZE and tox_d == 0) or (
            n_d == FULL_DOSE_SIZE and tox_d <= MAX_DLTS_FOR_ESCALATION
        ):
            if d == k:
                return self._decision(
                    d,
                    d,
                    False,
                    f"{here}, the top dose level: stop; dose level {d} is the MTD ({label})",
                    numbers,
                    eliminated,
                )
            n_up, tox_up = int(n[d]), int(tox[d])
            if n_up >= FULL_DOSE_SIZE or tox_up >= MIN_DLTS_TOO_TOXIC:
                return self._decision(
                    d,
                    d,
                    False,
                    f"{here}, and dose level {d + 1} already had {dlt_phrase(tox_up, n_up)}: stop; "
                    f"dose level {d} is the MTD ({label})",
                    numbers,
                    eliminated,
                )
            return self._decision(
                d,
                d + 1,
                True,
                f"{here}: escalate to dose level {d + 1} ({label})",
                numbers,
                eliminated,
            )
        if n_d == COHORT_SIZE and tox_d == 1:
            return self._decision(
                d, d, True, f"{here}: treat 3 more there ({label})", numbers, eliminated
            )
        # 2 or more DLTs at this dose.
        if not self.allow_deescalate:
            below = _highest_tolerated_below(d, tox)
            if below is None:
                return self._decision(
                    d,
                    None,
                    False,
                    f"{here}: stop; no dose level is safe ({label})",
                    numbers,
                    eliminated,
                )
            skipped = (f" (dose level {d - 1} also has {dlt_phrase(int(tox[d - 2]), int(n[d - 2]))})"
                       if below != d - 1 else "")
            return self._decision(
                d,
                below,
                False,
                f"{here}: stop; dose level {below} is the MTD{skipped} ({label})",
                numbers,
                eliminated,
            )
        if d == 1:
            return self._decision(
                d,
                None,
                False,
                f"{here}, the lowest dose level: stop; no dose level is safe ({label})",
                numbers,
                eliminated,
            )
        if n[d - 2] < FULL_DOSE_SIZE:
            return self._decision(
                d,
                d - 1,
                True,
                f"{here}: de-escalate to dose level {d - 1} ({label})",
                numbers,
                eliminated,
            )
        # Korn et al. (1994): "the MTD is then defined as the highest dose level (>= 1) in which
        # 6 patients have been treated with <= 1 instance of DLT".
        korn = [j + 1 for j in range(k) if n[j] >= FULL_DOSE_SIZE and tox[j] <= 1]
        if korn:
            mtd = korn[-1]
            return self._decision(
                d,
                mtd,
                False,
                f"{here} and dose level {d - 1} already has {int(n[d - 2])} patients: stop; dose "
                f"level {mtd} is the highest with at most 1 DLT in 6 or more, the MTD "
                f"(Korn et al. 1994)",
                numbers,
                eliminated,
            )
        return self._decision(
            d,
            None,
            False,
            f"{here} and dose level {d - 1} already has {int(n[d - 2])} patients: stop; no dose "
            f"level has at most 1 DLT in 6 (Korn et al. 1994)",
            numbers,
            eliminated,
        )

    def final(self, outcomes: str | Sequence[Cohort]) -> Decision:
        """The MTD when the trial is stopped from outside (a maximum sample size): by the 3+3's
        own definition, the highest dose level with at most 1 DLT in 6 or more patients below
        any dose level with 2 or more DLTs (Storer 1989); none when no dose level qualifies.
        When the 3+3 itself stops, its decision names the MTD (Brock's package)."""
        cohorts = as_outcomes(outcomes)
        n, tox = counts_by_dose(cohorts, self.num_doses)
        decision = self.decide(cohorts)
        if not decision.continue_:
            return decision
        first_toxic = next((j + 1 for j in range(self.num_doses)
                            if tox[j] >= MIN_DLTS_TOO_TOXIC), self.num_doses + 1)
        qualified = [j + 1 for j in range(first_toxic - 1)
                     if n[j] >= FULL_DOSE_SIZE and tox[j] <= MAX_DLTS_FOR_ESCALATION]
        mtd = qualified[-1] if qualified else None
        reason = (f"dose level {mtd} is the highest with at most {MAX_DLTS_FOR_ESCALATION} DLT "
                  f"in {FULL_DOSE_SIZE} or more patients, the MTD by the 3+3 definition"
                  if mtd is not None else
                  f"no dose level has at most {MAX_DLTS_FOR_ESCALATION} DLT in "
                  f"{FULL_DOSE_SIZE} or more patients: no MTD by the 3+3 definition")
        return self._decision(last_dose(cohorts), mtd, False, f"{reason} (Storer 1989)", {},
                              decision.eliminated)

    def _decision(
        self,
        current: int | None,
        next_dose: int | None,
        continue_: bool,
        reason: str,
        numbers: dict[str, float],
        eliminated: tuple[int, ...],
    ) -> Decision:
        action = action_for(current, next_dose, continue_, eliminated)
        return Decision(
            action=action,
            dose_level=next_dose,
            reason=reason,
            numbers=numbers,
            continue_=continue_,
            estimates=(None,) * self.num_doses,
            eliminated=eliminated,
            design=self.name,
            current_dose=current,
        )


def _highest_tolerated_below(dose: int, tox) -> int | None:
    """The highest dose level below ``dose`` with fewer than 2 DLTs (None when there is none):
    a 3+3 never names as MTD a dose level with 2 or more DLTs (Storer 1989), even when DLTs
    reported late gave one to a dose level below."""
    for level in range(dose - 1, 0, -1):
        if tox[level - 1] < MIN_DLTS_TOO_TOXIC:
            return level
    return None
