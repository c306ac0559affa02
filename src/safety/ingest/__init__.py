"""Ingest of delivered trial data (SDTM as XPT, CSV, Dataset-JSON, Parquet) into the database.

``readers`` read a file, ``domains`` map each SDTM domain to the data model, ``validate`` holds
the rules that send rows to quarantine, ``load`` runs one batch per file, ``commands`` is the
``ingest`` command. Library entry points: :func:`ingest_paths` and :func:`ingest_bytes`.
"""

from safety.ingest.load import BatchResult, expand_paths, ingest_bytes, ingest_file, ingest_paths

__all__ = ["BatchResult", "expand_paths", "ingest_bytes", "ingest_file", "ingest_paths"]
