"""Ingest of delivered trial data (SDTM as XPT, CSV, Dataset-JSON, Parquet) into the database.

``readers`` read a file, ``domains`` map each SDTM domain to the data model, ``validate`` holds
the rules that send rows to quarantine, ``load`` loads one dataset as one batch (the domain's new
cut), ``compare`` says what a delivery would change, ``files`` loads files and folders in content
order, ``reevaluate`` gives rows that waited for their DM a second chance, ``holds`` confirms or
rejects a held delivery, ``retract`` takes a batch back. Library entry points:
:func:`ingest_paths`, :func:`ingest_bytes`, :func:`confirm_delivery`, :func:`reject_delivery`,
:func:`retract_batch`.
"""

from safety.ingest.files import expand_paths, ingest_bytes, ingest_file, ingest_paths
from safety.ingest.holds import confirm_delivery, held_deliveries, reject_delivery
from safety.ingest.load import BatchResult
from safety.ingest.retract import retract_batch

__all__ = ["BatchResult", "confirm_delivery", "expand_paths", "held_deliveries", "ingest_bytes",
           "ingest_file", "ingest_paths", "reject_delivery", "retract_batch"]
