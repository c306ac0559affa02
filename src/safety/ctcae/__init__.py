"""CTCAE v5.0 lab grading, as pharmaverse admiral's ``derive_var_atoxgr_dir`` grades.

The criteria are data: admiral's ``atoxgr_criteria_ctcv5`` (SI) and ``atoxgr_criteria_ctcv5_uscv``
tables, shipped in ``safety/data/ctcae`` (``criteria``). Their R ``case_when`` rules are parsed by
a small parser (``rexpr``), never evaluated as text, and translated into DuckDB SQL (``sql``:
the ``lab_grading`` view) with R's ``signif`` (``signif``); ``labmap`` maps LBTESTCD and LOINC
codes to CTCAE terms, ``conversion`` the units a criterion needs.

References
----------
National Cancer Institute. Common Terminology Criteria for Adverse Events (CTCAE) v5.0, 2017.
pharmaverse admiral, ``R/derive_var_atoxgr.R``, ``data-raw/adlb_grading/ncictcaev5.json``.
"""
