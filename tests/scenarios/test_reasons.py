"""Reasons as a DSMB member reads them: never blank, numbers with the precision that decided
them, one printed form per boundary; and the demo's early decision history.

Conventions:
[BOUND] Liu & Yuan (2015), BOIN get.boundary(target = 0.3): lambda_d = 0.35852 is printed in one
        form, 0.3585, in every reason (not 0.359 in one place and 0.3585 in another).
[RATE]  The observed rate is printed with the digits its comparison needs: 2/5 = 0.4.
[REL]   A blank AEREL counts as related (the product's README), and the rule text says so.
[DUE]   A cohort-based design decides when the cohort's patients are evaluable: the demo's BOIN
        with cohorts of 8 is pending after its first evaluable patient (2020-02-28: the sentinel's
        window closed on 2020-02-27), not "escalate".
"""

from __future__ import annotations

import re

from . import test_window_edges, test_withdrawal
from .sdtm import cohort, explain_doc, status_doc


def _reasons(doc: dict) -> list[str]:
    st = doc["studies"][0]
    return [st["recommendation"]["reason"], *(c["reason"] for c in st["cohorts"]),
            *(r["detail"] for r in st["rules"]),
            *(r["detail"] for c in st["cohorts"] for r in c["rules"])]


def test_one_printed_form_per_boundary(build):
    # [BOUND] + [RATE] SCN-WD after every window: 2 DLTs in 5 at dose level 2
    doc = status_doc(build(test_withdrawal.STUDY), "2023-04-30")
    reason = doc["studies"][0]["recommendation"]["reason"]
    assert "observed DLT rate 2/5 = 0.4 > lambda_d 0.3585" in reason, reason
    assert not [r for r in _reasons(doc) if re.search(r"0\.359\b", r)]


def test_blank_causality_rule_text_is_not_blank(build):
    # [REL] SCN-WIN BLANKREL: grade 3 hypertension with AEREL blank
    events = explain_doc(build(test_window_edges.STUDY), "BLANKREL", "2023-03-10")["events"]
    dlt = next(e for e in events if e["status"] == "candidate")
    assert dlt["verdict"] == ("grade 3 >= 3, related (causality missing, counted as related), "
                              "onset on study day 5 of 28")


def test_demo_is_pending_after_the_first_evaluable_patient(demo_db):
    # [DUE] the case: one evaluable woman of a cohort of 8 decides nothing
    doc = status_doc(demo_db, "2020-02-28")
    rec, low = doc["studies"][0]["recommendation"], cohort(doc, "LOW")
    assert (rec["decision"], rec["pending"], rec["dose_level"]) == ("none", True, 1), rec
    assert rec["reason"].startswith("pending: 1 of 8 evaluable at dose level 1"), rec["reason"]
    assert low["pending"] and low["decision"] == "none"
