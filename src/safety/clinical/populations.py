"""Analysis populations: who a table counts.

The **safety analysis set** at a cut-off: the subjects of the study's cohorts who received the
study treatment (first dose, DM.RFXSTDTC, on or before the cut-off). Every adverse-event table,
chart and report counts this set, and N in their headers is its size per cohort. Screening
subjects, screen failures and subjects enrolled but not dosed by the cut-off are not in it.

It is the DuckDB table macro ``safety_population(study_id, cutoff)`` (:data:`MACROS`, on every
connection of ``safety.store``): one row per subject with usubjid, cohort_id, cohort_label,
is_control, dose_level, first_dose_date, first_dose_at (its time, NULL when none was
collected), end_of_study_date, death_date, status, status_reason.

Every count of subjects on a page or in a report (N in a header, "subjects with ...", the
cohort table's worst grades and SAEs, deaths) is a count of this set, so the same question
gets the same number everywhere.

The **population filter** every page, report preview and download applies on top (cohort,
site, sex, age band, dosed only): :class:`PopulationFilter`, over the macro
``population_subjects(study_id, cutoff)`` (every subject of the study, dosed or not, with
site_id, sex, age, age_band and dosed).

References
----------
ICH E9 (1998), section 5.2 and 6.2 (the set of subjects used for the safety analysis: those
who received at least one dose); ICH E3 (1995), 12.2. Age bands: ICH E7 (1993) and its Q&A
(2010), which ask for subjects 65-74, 75-84 and 85 or older to be counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# (label, lowest age, highest age) in years, inclusive; ICH E7 Q&A (2010) for 65 and over
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("< 18", 0, 17),
    ("18–64", 18, 64),
    ("65–74", 65, 74),
    ("75–84", 75, 84),
    ("≥ 85", 85, None),
)
AGE_UNKNOWN = "age unknown"

MACROS = """
CREATE OR REPLACE TEMP MACRO safety_population(in_study, at_cutoff) AS TABLE
SELECT s.usubjid, s.cohort_id, c.label AS cohort_label, c.is_control, c.dose_level,
       s.first_dose_date, s.first_dose_at, s.end_of_study_date, s.death_date, s.status,
       s.status_reason
FROM current_subject s
JOIN cohort c ON c.study_id = s.study_id AND c.cohort_id = s.cohort_id
WHERE s.study_id = in_study AND s.first_dose_date <= at_cutoff;

CREATE OR REPLACE TEMP MACRO population_subjects(in_study, at_cutoff) AS TABLE
SELECT s.usubjid, s.cohort_id, c.label AS cohort_label, s.site_id, s.sex, s.age,
       coalesce(s.first_dose_date <= at_cutoff, false) AS dosed
FROM current_subject s
LEFT JOIN cohort c ON c.study_id = s.study_id AND c.cohort_id = s.cohort_id
WHERE s.study_id = in_study AND s.cohort_id IS NOT NULL;
"""


def age_band(age: object) -> str:
    """The :data:`AGE_BANDS` label of an age in years (:data:`AGE_UNKNOWN` when missing)."""
    if age is None or pd.isna(age):
        return AGE_UNKNOWN
    return next(label for label, low, high in AGE_BANDS
                if int(age) >= low and (high is None or int(age) <= high))  # fmt: skip


@dataclass(frozen=True)
class PopulationFilter:
    """Which subjects the pages, report previews and downloads count. An empty tuple means
    "any"; ``dosed_only`` keeps the safety analysis set (dosed by the cut-off)."""

    cohorts: tuple[str, ...] = ()  # cohort labels
    sites: tuple[str, ...] = ()
    sexes: tuple[str, ...] = ()
    age_bands: tuple[str, ...] = ()
    dosed_only: bool = False

    @property
    def is_everyone(self) -> bool:
        return not (self.cohorts or self.sites or self.sexes or self.age_bands or self.dosed_only)

    def select(self, subjects: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``population_subjects`` the filter keeps."""
        keep = pd.Series(True, index=subjects.index)
        for column, wanted in (("cohort_label", self.cohorts), ("site_id", self.sites),
                               ("sex", self.sexes)):  # fmt: skip
            if wanted:
                keep &= subjects[column].isin(wanted)
        if self.age_bands:
            keep &= subjects["age"].map(age_band).isin(self.age_bands)
        if self.dosed_only:
            keep &= subjects["dosed"].astype(bool)
        return subjects[keep]

    def describe(self) -> str:
        """The filter in words, for the sidebar and every exported table."""
        parts = [f"{name} {', '.join(values)}" for name, values in (
            ("cohort", self.cohorts), ("site", self.sites), ("sex", self.sexes),
            ("age", self.age_bands)) if values]  # fmt: skip
        if self.dosed_only:
            parts.append("dosed only")
        return "all subjects" if not parts else "; ".join(parts)
