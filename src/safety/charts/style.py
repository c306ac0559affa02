"""What every chart shares: CTCAE grade colours and one colour per cohort."""

from __future__ import annotations

import pandas as pd

# CTCAE grade colours, mild to fatal, used on every chart that shows a grade.
GRADE_COLOURS = {1: "#9ecae1", 2: "#fdd0a2", 3: "#fd8d3c", 4: "#d94801", 5: "#67000d"}


CONTROL_COLOUR = "#7f7f7f"


DOSE_COLOURS = ("#6baed6", "#2171b5", "#08306b", "#4a1486", "#807dba", "#54278f")


UNGRADED_COLOUR = "#bdbdbd"  # a lab result that cannot be graded


def cohort_colours(cohorts: pd.DataFrame) -> dict[str, str]:
    """A colour per cohort label: grey for control, darker blues for higher doses.

    ``cohorts`` needs columns label, is_control, dose_level.
    """
    colours = {}
    for row in cohorts.itertuples():  # one row per cohort: a handful
        colours[row.label] = (
            CONTROL_COLOUR
            if row.is_control
            else DOSE_COLOURS[(int(row.dose_level) - 1) % len(DOSE_COLOURS)]
        )
    return colours
