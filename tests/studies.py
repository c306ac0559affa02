"""Test-only study configurations.

The shipped CDISC pilot configuration declares no escalation design or DLT definition (a
parallel-group, placebo-controlled study is monitored for safety only). Tests of the DLT
machinery on real delivered data (holds that protect DLT candidates, the DLT rule on real AEs,
DLT alerts) ingest the pilot with ``tests/data/studies_with_dlt/cdiscpilot01.toml`` instead: the
same study with the illustrative DLT definition it used to ship with.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

WITH_DLT = Path(__file__).parent / "data" / "studies_with_dlt"


@contextmanager
def pilot_with_dlts() -> Iterator[None]:
    """While inside, a new CDISCPILOT01 is recorded with the test-only DLT definition
    (``$SAFETY_STUDIES`` first, then data/studies; the stored configuration wins afterwards)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAFETY_STUDIES", str(WITH_DLT))
        yield
