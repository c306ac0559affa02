"""What a delivery would change, and whether the protocol lets it change that without a person.

Before a delivery becomes the current cut of its domain, the loader applies it inside its write
transaction and compares the study's data before and after (:func:`compare`):

- records of the domain removed (keys of the current cut that the new cut lacks: a cumulative
  export that is truncated, or of one subject, removes the rest) and subjects removed (for DM:
  no longer in DM, which removes their records everywhere; otherwise: subjects left without any
  record of the domain);
- DLT candidates and adjudicated DLTs that would disappear (the DLT rule's ``dlt_event``),
  serious and fatal AEs that would disappear (the TEAE rule's ``ae_teae`` with the AE summary's
  "serious" and "fatal" categories) and deaths (subject status ``died``): the same definitions
  every table of the product counts, read through ``queries.deliveries.safety_picture``;
- the share of the file's rows quarantined.

:func:`breaches` holds the comparison against the protocol's tolerances
(``config.DeliveryRules``); any breach holds the delivery (``safety.ingest.holds``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field

import duckdb
import pandas as pd

from safety.config import DeliveryRules
from safety.store import queries

# How an item of the safety picture is recognised in both cuts (a multiset: two items with the
# same key count twice): by its record (USUBJID + AESEQ, the key EDC exports keep), so a
# corrected grade, term or date is a change, not a disappearance; a lab-based DLT (one per
# subject and term) by its term, so an earlier qualifying draw does not "remove" it.
PICTURE_KEYS = {
    "dlts": ("source", "usubjid", "identity"),
    "saes": ("usubjid", "seq"),
    "fatal": ("usubjid", "seq"),
    "deaths": ("usubjid",),
}
PICTURE_LABELS = {"dlts": "DLT candidate(s)", "saes": "SAE(s)", "fatal": "fatal AE(s)",
                  "deaths": "death(s)"}


@dataclass(frozen=True)
class Comparison:
    """What a delivery does to the study's data compared with the current cut.

    ``removed`` maps ``dlts``, ``saes``, ``fatal`` and ``deaths`` to the items that would
    disappear (records of the current data, one dict each); ``added`` to how many appear.
    ``removed_with_subjects`` (a DM): the records of other domains, by domain, that the removed
    subjects take out of the current data with them.
    """

    domain: str
    delivery: str
    current_batches: tuple[int, ...] = ()
    current_records: int = 0
    removed_records: int = 0
    changed_records: int = 0
    removed_record_keys: tuple[dict, ...] = ()
    removed_subjects: tuple[str, ...] = ()
    removed_with_subjects: dict[str, int] = field(default_factory=dict)
    removed: dict[str, tuple[dict, ...]] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)
    rows_in: int = 0
    rows_quarantined: int = 0
    quarantine_rules: dict[str, int] = field(default_factory=dict)
    breaches: tuple[str, ...] = ()

    @property
    def removed_share(self) -> float:
        return self.removed_records / self.current_records if self.current_records else 0.0

    @property
    def quarantined_share(self) -> float:
        return self.rows_quarantined / self.rows_in if self.rows_in else 0.0

    def removals(self) -> dict:
        """What the comparison removes, as a stable value: a confirmation must see the same."""
        return {"records": self.removed_records, "subjects": list(self.removed_subjects),
                **{k: sorted(json.dumps(i, sort_keys=True, default=str) for i in v)
                   for k, v in self.removed.items()},
                "quarantined": self.rows_quarantined}

    def summary(self) -> str:
        """One line: the breaches, else what it changes."""
        if self.breaches:
            return "; ".join(self.breaches)
        parts = [f"{self.removed_records} of {self.current_records} {self.domain} records removed"
                 if self.current_batches else f"first {self.domain} delivery"]
        parts += [f"{n} {PICTURE_LABELS[k]} added" for k, n in self.added.items() if n]
        return ", ".join(parts)

    def to_json(self) -> dict:
        record = asdict(self)
        record["removed_share"] = round(self.removed_share, 4)
        record["quarantined_share"] = round(self.quarantined_share, 4)
        return json.loads(json.dumps(record, default=str))

    @classmethod
    def from_json(cls, doc: dict) -> Comparison:
        fields = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        for key in ("current_batches", "removed_record_keys", "removed_subjects", "breaches"):
            fields[key] = tuple(fields.get(key, ()))
        fields["removed"] = {k: tuple(v) for k, v in fields.get("removed", {}).items()}
        return cls(**fields)

    def tables(self) -> dict[str, pd.DataFrame]:
        """What would disappear, one frame per kind that has any (for the Data page): the DLT
        candidates, SAEs, fatal AEs, deaths, subjects, and the first removed record keys."""
        frames = {f"{PICTURE_LABELS[k][:-3]}s that would disappear": pd.DataFrame(list(v))
                  for k, v in self.removed.items() if v}
        if self.removed_subjects:
            frames["Subjects removed"] = pd.DataFrame({"usubjid": list(self.removed_subjects)})
        if self.removed_with_subjects:
            frames["Their records in other domains"] = pd.DataFrame(
                {"domain": list(self.removed_with_subjects),
                 "records": list(self.removed_with_subjects.values())})
        if self.removed_record_keys:
            frames[f"{self.domain} records removed (first {len(self.removed_record_keys)} of "
                   f"{self.removed_records})"] = pd.DataFrame(list(self.removed_record_keys))
        return frames

    def to_text(self) -> str:
        """The comparison for a person: the breaches, then every item that would disappear."""
        lines = [f"{self.domain} delivery ({self.delivery}): {self.summary()}"]
        if self.current_batches:
            lines.append(f"current cut: batch(es) {', '.join(map(str, self.current_batches))}, "
                         f"{self.current_records} records; {self.removed_records} would be "
                         f"removed ({self.removed_share:.1%})")
        if self.removed_subjects:
            shown = ", ".join(self.removed_subjects[:20])
            more = f" and {len(self.removed_subjects) - 20} more" if len(
                self.removed_subjects) > 20 else ""
            lines.append(f"subjects removed ({len(self.removed_subjects)}): {shown}{more}")
        if self.removed_with_subjects:
            lines.append("their records in other domains go with them: " + ", ".join(
                f"{n} {d}" for d, n in self.removed_with_subjects.items()))
        for kind, items in self.removed.items():
            for item in items:
                lines.append(f"{PICTURE_LABELS[kind][:-3]} would disappear: {_describe(kind, item)}")
        if self.rows_quarantined:
            rules = ", ".join(f"{r} {n}" for r, n in self.quarantine_rules.items())
            lines.append(f"quarantined: {self.rows_quarantined} of {self.rows_in} rows "
                         f"({self.quarantined_share:.1%}; {rules})")
        return "\n".join(lines)


def _describe(kind: str, item: dict) -> str:
    if kind == "dlts":
        return (f"{item['usubjid']} {item['term']} ({item['source']}, onset {item['onset_date']},"
                f" grade {item.get('grade')}, {item.get('dlt_status')})")
    if kind == "deaths":
        return f"{item['usubjid']} (died {item.get('death_date') or 'date unknown'})"
    return (f"{item['usubjid']} {item['pt']} (AESEQ {item.get('seq')}, start "
            f"{item.get('start_date')}, grade {item.get('grade')})")


def picture(con: duckdb.DuckDBPyConnection, study_id: str) -> dict[str, pd.DataFrame]:
    """The study's safety picture now (``queries.deliveries.safety_picture``); the connection
    must have the rules' macros."""
    return queries.deliveries.safety_picture(con, study_id)


def _disappearing(before: pd.DataFrame, after: pd.DataFrame, key: tuple[str, ...]
                  ) -> tuple[list[dict], int]:
    """Items of ``before`` missing from ``after`` (as a multiset by key), and how many are new.

    A handful of rows each (DLTs, SAEs, deaths): counted in Python, not joined.
    """
    def keys(frame: pd.DataFrame) -> list[tuple]:
        return [tuple("" if pd.isna(v) else str(v) for v in values)
                for values in zip(*(frame[k] for k in key), strict=True)] if len(frame) else []
    remaining = Counter(keys(after))
    gone = []
    for position, k in enumerate(keys(before)):
        if remaining[k] > 0:
            remaining[k] -= 1
        else:
            gone.append(position)
    records = json.loads(before.iloc[gone].to_json(orient="records", date_format="iso"))
    for r in records:  # dates as days
        for k, v in r.items():
            if isinstance(v, str) and len(v) >= 10 and v[4] == "-" and "T00:00:00" in v:
                r[k] = v[:10]
    return records, sum(remaining.values())


def may_remove(domain: str, difference: dict | None) -> bool:
    """Whether a new cut can make a DLT, SAE or death disappear: when it removes or changes a
    record of the current cut. Only added records cannot, except in LB (a new abnormal
    baseline draw can lower the CTCAE grades of later draws)."""
    if difference is None:  # the domain's first cut: nothing to remove
        return False
    return bool(difference["removed"] or difference["changed"]) or domain == "LB"


def compare(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    domain: str,
    delivery: str,
    current: list[int],
    difference: dict | None,
    before: dict[str, pd.DataFrame] | None,
    *,
    rows_in: int,
    rows_quarantined: int,
    quarantine_rules: dict[str, int],
) -> Comparison:
    """Compare the study as it is now (after the new cut, inside the transaction that wrote it)
    with ``before`` (its safety picture before, None when nothing could disappear).
    ``difference`` is ``queries.deliveries.cut_difference`` of the new cut against ``current``."""
    subjects: list[str] = []
    dependents: dict[str, int] = {}
    if difference is not None and (difference["removed"] or domain == "DM"):
        subjects = queries.deliveries.subjects_without_records(
            con, study_id, domain, current, difference["batch_id"])
        if domain == "DM" and subjects:
            dependents = queries.deliveries.records_of_subjects(con, study_id, subjects)
    removed_items: dict[str, tuple[dict, ...]] = {}
    added: dict[str, int] = {}
    if before is not None:
        after = picture(con, study_id)
        for kind, key in PICTURE_KEYS.items():
            gone, appeared = _disappearing(before[kind], after[kind], key)
            removed_items[kind] = tuple(gone)
            added[kind] = appeared
    difference = difference or {"records": 0, "removed": 0, "changed": 0,
                                "removed_keys": pd.DataFrame()}
    return Comparison(
        domain=domain, delivery=delivery, current_batches=tuple(current),
        current_records=difference["records"], removed_records=difference["removed"],
        changed_records=difference["changed"],
        removed_record_keys=tuple(json.loads(difference["removed_keys"].to_json(
            orient="records"))) if len(difference["removed_keys"]) else (),
        removed_subjects=tuple(subjects), removed_with_subjects=dependents,
        removed=removed_items, added=added,
        rows_in=rows_in, rows_quarantined=rows_quarantined,
        quarantine_rules=dict(quarantine_rules),
    )


def breaches(comparison: Comparison, rules: DeliveryRules) -> tuple[str, ...]:
    """Every way the comparison exceeds the protocol's tolerances, one sentence each."""
    found = []
    c = comparison
    if c.current_records and c.removed_share > rules.max_removed_records:
        found.append(f"{c.removed_records} of {c.current_records} {c.domain} records would be "
                     f"removed ({c.removed_share:.1%}; the protocol tolerates "
                     f"{rules.max_removed_records:.0%})")
    if len(c.removed_subjects) > rules.max_removed_subjects:
        what = ("removed from DM" if c.domain == "DM"
                else f"left without any {c.domain} record")
        found.append(f"{len(c.removed_subjects)} subject(s) {what}")
    limits = {"dlts": rules.max_removed_dlts, "saes": rules.max_removed_saes,
              "fatal": rules.max_removed_deaths, "deaths": rules.max_removed_deaths}
    for kind, limit in limits.items():
        items = c.removed.get(kind, ())
        if len(items) > limit:
            names = ", ".join(f"{i['usubjid']} {i.get('term') or i.get('pt') or ''}".strip()
                              for i in items[:10])
            more = f" and {len(items) - 10} more" if len(items) > 10 else ""
            found.append(f"{len(items)} {PICTURE_LABELS[kind]} would disappear ({names}{more})")
    if c.rows_in and c.quarantined_share > rules.max_quarantined:
        found.append(f"{c.rows_quarantined} of {c.rows_in} rows quarantined "
                     f"({c.quarantined_share:.1%}; the protocol tolerates "
                     f"{rules.max_quarantined:.0%})")
    return tuple(found)
