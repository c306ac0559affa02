"""The delivery campaign (issue 14): hundreds of mutated SDTM files, as a careless or hostile sender
would deliver them, through the real readers, validation and loader.

Cases are generated from a seed (each case is a file and a step number; no shrinking needed),
from a 14-subject slice of the CDISC pilot (tests/data/cdiscpilot01, credit CDISC): DM, DS, EX,
AE, SUPPAE and LB rows with cells set to hostile values (inf, 1e400, 10^30, 9999-12-31, SQL,
NUL bytes, 5,000-character text, formulas), rows dropped, duplicated, shuffled or cut to one
subject, columns dropped, renamed or doubled, other or lower-case STUDYIDs; written as CSV, SAS
transport (XPT), Dataset-JSON (document and NDJSON) or Parquet; a fifth also damaged byte by byte
(cut, flipped, garbage, a prefix).

Part A (:func:`test_campaign_a_files`): 300 files read and validated in memory as a load would
(no database, so it is quick): never an error but a one-line ``IngestError`` that quotes nothing
of the file; rows in = rows that would load + rows quarantined; nothing that would load holds a
non-finite or absurd number or an implausible date.

Part B (:func:`test_campaign_b_deliveries`): deliveries into small real databases, one after the
other, a data manager now and then confirming or rejecting a held delivery or retracting a
batch, some through the command. After every step: the ledger invariant rows_in = loaded +
quarantined (per batch, and the quarantine and table rows behind it), every result one line
with a known status and none of the file's content, a held file kept whole, the database
opening; after every step that loaded data, that no DLT, SAE, fatal AE or death disappeared and
no AE record disappeared unless that step's comparison named it; ``status`` works every few
steps and at the end. Both print their figures (run with ``-n 0 -s``).
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import people
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat
import pytest
from click.testing import CliRunner

from safety import pipeline, store
from safety.cli.ingest import ingest as ingest_command
from safety.config import stored_study_config
from safety.errors import IngestError
from safety.ingest import ingest_paths, reject_delivery
from safety.ingest.compare import PICTURE_KEYS, _disappearing
from safety.ingest.load import domain_spec, flatten, validate_dataset
from safety.ingest.readers import read_dataset
from safety.monitor.status import study_status
from safety.store import queries
from safety.store.queries.ingest import CUT_TABLES

PILOT = Path(__file__).parent / "data" / "cdiscpilot01"
STUDY = "CDISCPILOT01"
SEED = 20261125
FILES = 300  # part A
DATABASES, STEPS = 2, 24  # part B: 48 steps, about 43 of them deliveries
MARKER = "mark:er 7f3a!"  # hostile content that no message about a file may quote
DOMAINS = ("dm", "ds", "ex", "ae", "ae", "ae", "suppae", "lb")
FORMATS = ("csv", "xpt", "json", "ndjson", "parquet")
HOSTILE = ["", " ", "inf", "-inf", "Infinity", "NaN", "1e400", "1e30", "-1", "0", "9999999999999",
           "9999-12-31", "1850-01-01", "2013-02-30", "2013-13", "20130101", "NULL", "None",
           "'; DROP TABLE subject; --", "Robert'); DELETE FROM adverse_event;--", "a\x00b",
           "\ufeffY", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ☃", "x" * 5000, '=HYPERLINK("http://x")',
           "<script>alert(1)</script>", "Y", "N", "U", "SEVERE", "MILD", "a\nb", "a,b", '"q"',
           MARKER, MARKER]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, dict[str, pd.DataFrame]]:
    """A 12-subject slice of the pilot, loaded, with its alert baseline; and the slices."""
    folder = tmp_path_factory.mktemp("campaign")
    dm = pd.read_csv(PILOT / "dm.csv", dtype=str, keep_default_na=False)
    subjects = set(dm.loc[dm["ARMCD"] != "Scrnfail", "USUBJID"].head(12))
    subjects |= {"01-709-1424", "01-718-1170"}  # two of the README's three SAEs
    frames = {}
    for name in sorted(set(DOMAINS)):
        f = pd.read_csv(PILOT / f"{name}.csv", dtype=str, keep_default_na=False)
        f = f[f["USUBJID"].isin(subjects)].reset_index(drop=True)
        frames[name] = f.head(240) if name == "lb" else f
        frames[name].to_csv(folder / f"{name}.csv", index=False)
    db = folder / "base.duckdb"
    results = ingest_paths([folder / f"{n}.csv" for n in frames], db=db, user=people.DATA_MANAGER)
    assert {r.status for r in results} == {"loaded"}, [r.reason for r in results]
    pipeline.raise_alerts(db)
    return db, frames


# --- making a case ----------------------------------------------------------------------------

def mutate_rows(rng: random.Random, frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    f = frame.copy()
    op = rng.choice(["cell", "cell", "cell", "cells", "truncate", "one_subject", "drop_rows",
                     "duplicate_row", "shuffle", "drop_column", "extra_column", "rename_column",
                     "studyid", "unknown_subject", "seriousness", "severity", "header_only",
                     "as_is"])
    if op in ("cell", "cells") and len(f):
        for _ in range(1 if op == "cell" else rng.randint(2, 6)):
            f.iat[rng.randrange(len(f)), rng.randrange(f.shape[1])] = rng.choice(HOSTILE)
    elif op == "truncate":
        f = f.head(rng.randint(0, max(len(f) - 1, 0)))
    elif op == "one_subject" and len(f):
        f = f[f["USUBJID"] == rng.choice(list(f["USUBJID"]))]
    elif op == "drop_rows" and len(f) > 3:
        f = f.drop(index=rng.sample(list(f.index), rng.randint(1, 3)))
    elif op == "duplicate_row" and len(f):
        f = pd.concat([f, f.iloc[[rng.randrange(len(f))]]])
    elif op == "shuffle":
        f = f.sample(frac=1, random_state=rng.randrange(10**6))
    elif op == "drop_column":
        f = f.drop(columns=rng.choice(list(f.columns)))
    elif op == "extra_column":
        f = f.assign(**{rng.choice(["XTRA", "NOTE", "AESER2"]): rng.choice(HOSTILE)})
    elif op == "rename_column":
        old = rng.choice(list(f.columns))
        f = f.rename(columns={old: rng.choice([old.lower(), old + "X", "USUBJID"])})
    elif op == "studyid":
        f["STUDYID"] = rng.choice(["cdiscpilot01", "OTHER", "", "CDISCPILOT01 "])
    elif op == "unknown_subject" and len(f):
        f.iat[rng.randrange(len(f)), list(f.columns).index("USUBJID")] = "01-999-" + str(
            rng.randint(1000, 9999))
    elif op == "seriousness" and "AESER" in f and len(f):
        f.iat[rng.randrange(len(f)), list(f.columns).index("AESER")] = rng.choice("YN")
    elif op == "severity" and "AESEV" in f and len(f):
        f.iat[rng.randrange(len(f)), list(f.columns).index("AESEV")] = "SEVERE"
    elif op == "header_only":
        f = f.head(0)
    return f.reset_index(drop=True), op


def serialize(rng: random.Random, frame: pd.DataFrame, fmt: str, domain: str) -> bytes:
    if fmt == "csv":
        text = frame.to_csv(index=False, lineterminator=rng.choice(["\n", "\r\n"]))
        return (b"\xef\xbb\xbf" if rng.random() < 0.2 else b"") + text.encode("utf-8")
    if fmt == "xpt":
        safe = frame.rename(columns=lambda c: "".join(ch for ch in str(c) if ch.isalnum())[:8]
                            or "X")
        safe = safe.loc[:, ~safe.columns.duplicated()]
        safe = safe.map(lambda v: str(v).encode("latin-1", "replace").decode("latin-1")[:200])
        buffer = Path(f"/tmp/campaign-{hashlib.sha1(repr(rng.random()).encode()).hexdigest()}.xpt")
        try:
            pyreadstat.write_xport(safe, str(buffer), table_name=domain.upper()[:8],
                                   file_format_version=5)
            return buffer.read_bytes()
        finally:
            buffer.unlink(missing_ok=True)
    if fmt in ("json", "ndjson"):
        columns = [{"itemOID": f"IT.{c}", "name": c,
                    "dataType": "integer" if c.endswith("SEQ") and rng.random() < 0.5
                    else "string"} for c in frame.columns]
        rows = frame.to_numpy().tolist()
        if rows and rng.random() < 0.15:  # a nested value where a cell should be
            rows[rng.randrange(len(rows))][0] = {"a": [1, {"b": None}]}
        meta = {"datasetJSONVersion": "1.1.0", "itemGroupOID": f"IG.{domain.upper()}",
                "name": domain.upper(), "records": len(rows) + (rng.random() < 0.1),
                "columns": columns}
        if fmt == "json":
            return json.dumps({**meta, "rows": rows}).encode("utf-8")
        return "\n".join([json.dumps(meta)] + [json.dumps(r) for r in rows]).encode("utf-8")
    table = pa.Table.from_arrays([pa.array(frame.iloc[:, i].astype(str))  # names may repeat
                                  for i in range(frame.shape[1])], names=list(frame.columns))
    if "LBSTRESN" in frame and rng.random() < 0.5:  # numbers typed as numbers, inf included
        values = pd.to_numeric(frame["LBSTRESN"], errors="coerce")
        values.iloc[: rng.randint(0, 2)] = float("inf")
        table = table.set_column(table.column_names.index("LBSTRESN"), "LBSTRESN",
                                 pa.array(values, type=pa.float64()))
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def damage(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    op = rng.choice(["cut", "flip", "garbage", "prefix", "empty"])
    if op == "cut" and data:
        return data[: rng.randrange(len(data))], op
    if op == "flip" and data:
        i = rng.randrange(len(data))
        return data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:], op
    if op == "garbage":
        return data + bytes(rng.randrange(256) for _ in range(64)), op
    if op == "prefix":
        return b"\x00\x01garbage," + data, op
    return b"", op


EXTENSION = {"csv": ".csv", "xpt": ".xpt", "json": ".json", "ndjson": ".ndjson",
             "parquet": ".parquet"}


def make_case(rng: random.Random, frames: dict[str, pd.DataFrame]) -> dict:
    domain = rng.choice(DOMAINS)
    frame, op = mutate_rows(rng, frames[domain])
    fmt = rng.choice(FORMATS)
    data = serialize(rng, frame, fmt, domain)
    damaged = None
    if rng.random() < 0.2:
        data, damaged = damage(rng, data)
    name = rng.choice([domain, domain.upper() + "_2015", "export", "data"]) + (
        EXTENSION[fmt] if rng.random() < 0.9 else rng.choice(list(EXTENSION.values())))
    return {"domain": domain, "op": op, "format": fmt, "damage": damaged, "name": name,
            "data": data}


# --- what must hold after every step ---------------------------------------------------------

def ledger_violations(con) -> list[str]:
    """Batches whose counts disagree: rows_in != loaded + quarantined, quarantine rows !=
    rows_quarantined, or table rows != loaded + carried (none for a batch that is not loaded)."""
    rows = " UNION ALL ".join(f"SELECT batch_id FROM {table}" for table, _ in CUT_TABLES.values())
    return [f"batch {r[0]} ({r[1]}, {r[2]}): rows_in {r[3]}, loaded {r[4]}, quarantined {r[5]} "
            f"({r[7]} in quarantine), carried {r[6]} ({r[8]} rows)" for r in con.execute(f"""
        WITH q AS (SELECT batch_id, count(*) AS n FROM quarantine GROUP BY ALL),
             t AS (SELECT batch_id, count(*) AS n FROM ({rows}) GROUP BY ALL)
        SELECT b.batch_id, b.domain, b.status, b.rows_in, b.rows_loaded, b.rows_quarantined,
               b.rows_carried, coalesce(q.n, 0), coalesce(t.n, 0)
        FROM ingest_batch b LEFT JOIN q USING (batch_id) LEFT JOIN t USING (batch_id)
        WHERE b.domain <> 'CONFIG' AND (b.rows_in <> b.rows_loaded + b.rows_quarantined
           OR coalesce(q.n, 0) <> b.rows_quarantined
           OR coalesce(t.n, 0) <> CASE WHEN b.status = 'loaded'
                                       THEN b.rows_loaded + b.rows_carried ELSE 0 END)
        """).fetchall()]


def current_cut(con) -> list[int]:
    return [b for (b,) in con.execute("SELECT batch_id FROM ingest_batch WHERE status = "
                                      "'loaded' AND superseded_by IS NULL ORDER BY 1").fetchall()]


def state(db: Path, con=None) -> dict:
    """What must not disappear silently: the safety picture, current AE records, the cuts."""
    if con is None:
        with store.read_connection(db) as con:
            return state(db, con)
    return {"picture": queries.deliveries.safety_picture(con, STUDY),
            "ae": set(con.execute("SELECT usubjid, seq FROM current_adverse_event").fetchall()),
            "cut": current_cut(con)}


def check_step(db: Path, results, before: dict, label: str) -> tuple[list[str], dict]:
    bad = []
    for r in results:
        if r.status not in ("loaded", "duplicate", "rejected", "held"):
            bad.append(f"{label}: status {r.status}")
        if r.rows_in != r.rows_loaded + r.rows_quarantined:
            bad.append(f"{label}: result rows {r.rows_in} != {r.rows_loaded} + "
                       f"{r.rows_quarantined}")
        if "\n" in (r.reason or "") or "Traceback" in (r.reason or ""):
            bad.append(f"{label}: reason not one line: {r.reason!r}")
        if MARKER in (r.reason or ""):
            bad.append(f"{label}: the reason quotes the file: {r.reason!r}")
    loaded = any(r.status == "loaded" for r in results)
    with store.read_connection(db, rules=loaded) as con:
        bad += [f"{label}: {v}" for v in ledger_violations(con)]
        for r in results:
            if r.status == "held":
                held = con.execute("SELECT status, sha256 = sha256(content), rows_in = "
                                   "rows_loaded + rows_quarantined FROM held_delivery "
                                   "WHERE hold_id = $h", {"h": r.hold_id}).fetchall()
                if not held or held[0][0] != "pending" or not all(held[0][1:]):
                    bad.append(f"{label}: hold {r.hold_id} not kept whole: {held}")
        if not loaded:
            if current_cut(con) != before["cut"]:
                bad.append(f"{label}: nothing loaded but the current cuts changed")
            return bad, before
        after = state(db, con)
    named = {k: [] for k in PICTURE_KEYS}
    removed_records = 0
    for r in results:
        if r.comparison is not None:
            for k, items in r.comparison.removed.items():
                named[k] += list(items)
            if r.domain == "AE" and r.status == "loaded":
                removed_records += r.comparison.removed_records
            if r.domain == "DM" and r.status == "loaded":  # a confirmed DM without a subject
                removed_records += r.comparison.removed_with_subjects.get("AE", 0)
    for kind, key in PICTURE_KEYS.items():
        gone, _ = _disappearing(before["picture"][kind], after["picture"][kind], key)
        unnamed, _ = _disappearing(pd.DataFrame(gone, columns=list(before["picture"][kind])),
                                   pd.DataFrame(named[kind],
                                                columns=list(before["picture"][kind])), key)
        if unnamed:
            bad.append(f"{label}: {kind} disappeared silently: {unnamed}")
    lost = before["ae"] - after["ae"]
    if len(lost) > removed_records:
        bad.append(f"{label}: {len(lost)} AE records disappeared, {removed_records} named "
                   f"({[(r.file, r.domain, r.status, r.delivery) for r in results]})")
    return bad, after


def decide(rng: random.Random, db: Path) -> tuple[str, list]:
    """A data manager's step: confirm or reject a pending hold, or retract a current batch."""
    with store.read_connection(db, rules=False) as con:
        holds = queries.deliveries.holds(con, STUDY, pending_only=True)["hold_id"].tolist()
        current = [b for (b,) in con.execute(
            "SELECT batch_id FROM ingest_batch WHERE status = 'loaded' AND superseded_by IS NULL "
            "AND domain IN ('AE', 'LB', 'EX', 'DS', 'SUPPAE') ORDER BY batch_id").fetchall()]
    action = rng.choice(["confirm", "reject", "retract"])
    if action in ("confirm", "reject") and holds:
        hold = rng.choice(holds)
        if action == "confirm":
            return action, flatten([people.confirm(db, hold, "checked with the site")])
        return action, flatten([reject_delivery(db, hold, people.DATA_MANAGER,
                                                "checked with the site")])
    if current:
        return "retract", flatten([people.retract(db, rng.choice(current), "wrong delivery")])
    return "none", []


NUMBERS = {"DM": ("AGE",), "LB": ("LBSTRESN", "LBSTNRLO", "LBSTNRHI"), "EX": ("EXDOSE",)}
DATES = {"AE": ("start_date", "end_date"), "LB": ("collected_date",), "EX": ("start_date",),
         "DS": ("start_date",), "DM": ("first_dose_date", "last_dose_date", "death_date")}
NUMBER_COLUMNS = {"AGE": "age", "LBSTRESN": "value", "LBSTNRLO": "lln", "LBSTNRHI": "uln",
                  "EXDOSE": "dose"}


def test_campaign_a_files(base, tmp_path, capsys):
    base_db, frames = base
    with store.read_connection(base_db) as con:
        config = stored_study_config(queries.studies.study_config_text(con, STUDY), STUDY)
        subjects = queries.ingest.current_subjects(con, STUDY).set_index("usubjid")
    rng = random.Random(SEED + 1)
    outcomes: Counter = Counter()
    violations: list[str] = []
    latest = pd.Timestamp(store.now().date()) + pd.Timedelta(days=config.delivery.future_days)
    for i in range(FILES):
        case = make_case(rng, frames)
        path = tmp_path / str(i) / case["name"]
        path.parent.mkdir()
        path.write_bytes(case["data"])
        label = f"file {i} ({case['op']}, {case['format']}, {case['damage']})"
        kind = case["format"] + (" damaged" if case["damage"] else "")
        try:
            raw = read_dataset(path, case["name"])
            prepared = validate_dataset(raw, config, subjects)
        except IngestError as exc:
            message = str(exc)
            if "\n" in message or MARKER in message or not message.startswith(case["name"]):
                violations.append(f"{label}: message {message!r}")
            outcomes[(kind, "refused")] += 1
            continue
        except Exception as exc:  # every bad file must end in an IngestError, never this
            violations.append(f"{label}: {type(exc).__name__}: {exc}")
            continue
        rows, quarantined = prepared.rows, prepared.quarantine
        if prepared.rows_in != len(rows) + len(quarantined):
            violations.append(f"{label}: {prepared.rows_in} rows in, {len(rows)} + "
                              f"{len(quarantined)}")
        domain = domain_spec(raw).domain
        for column in NUMBERS.get(domain, ()):
            values = pd.to_numeric(rows.get(NUMBER_COLUMNS[column]), errors="coerce")
            if values is not None and (values.abs() > 1e12).any():
                violations.append(f"{label}: {column} would load {values.max()}")
        for column in DATES.get(domain, ()):
            dates = pd.to_datetime(rows.get(column))
            if dates is not None and ((dates < pd.Timestamp("1900-01-01"))
                                      | (dates > latest)).any():
                violations.append(f"{label}: {column} would load {dates.min()}..{dates.max()}")
        outcomes[(kind, "all load" if not len(quarantined) else
                  "all quarantined" if not len(rows) else "some quarantined")] += 1
    with capsys.disabled():
        by_outcome = Counter(o for _, o in outcomes.elements())
        print(f"\ndelivery campaign A: {FILES} files; outcomes {dict(sorted(by_outcome.items()))};"
              f" by format {dict(sorted(Counter(k for k, _ in outcomes.elements()).items()))};"
              f" violations {len(violations)}")
    assert violations == [], violations[:10]
    assert sum(outcomes.values()) == FILES
    assert {k.split()[0] for k, _ in outcomes} == set(FORMATS)
    assert {o for _, o in outcomes} == {"refused", "all load", "some quarantined",
                                        "all quarantined"}


def test_campaign_b_deliveries(base, tmp_path, capsys):
    base_db, frames = base
    rng = random.Random(SEED)
    outcomes: Counter = Counter()
    formats: Counter = Counter()
    violations: list[str] = []
    steps = 0
    for n in range(DATABASES):
        db = tmp_path / f"campaign-{n}.duckdb"
        shutil.copy(base_db, db)
        before = state(db)
        previous = None
        with store.read_connection(db) as con:
            config = stored_study_config(queries.studies.study_config_text(con, STUDY), STUDY)
        for step in range(STEPS):
            steps += 1
            label = f"db {n} step {step}"
            if rng.random() < 0.1:
                try:
                    action, results = decide(rng, db)
                except Exception as exc:  # a decision must fail with a clear error only
                    violations.append(f"{label}: {type(exc).__name__} in a decision: {exc}")
                    continue
                outcomes[f"decision {action}"] += 1
            else:
                case = previous if previous and rng.random() < 0.05 else make_case(rng, frames)
                previous = case
                path = tmp_path / f"{n}-{step}" / case["name"]
                path.parent.mkdir()
                path.write_bytes(case["data"])
                formats[case["format"] + (" damaged" if case["damage"] else "")] += 1
                try:
                    if step % 12 == 0:  # through the command: exit 0 or 2, one stderr line
                        run = CliRunner().invoke(ingest_command, [str(path), "--db", str(db)])
                        if run.exit_code not in (0, 2) or (
                                run.exit_code == 2 and len(run.stderr.strip().splitlines()) != 1):
                            violations.append(f"{label}: exit {run.exit_code}: {run.stderr!r}")
                        results = []
                        outcomes["cli exit " + str(run.exit_code)] += 1
                    else:
                        results = ingest_paths([path], db=db, user=people.DATA_MANAGER)
                except Exception as exc:  # every bad input must end in a result, never this
                    violations.append(f"{label} ({case['op']}, {case['format']}): "
                                      f"{type(exc).__name__}: {exc}")
                    continue
                for r in results:
                    outcomes[r.status] += 1
                if not results:  # through the command: the results are not at hand
                    before = state(db)
                    continue
            bad, before = check_step(db, results, before, label)
            violations += bad
            if step % 8 == 7:
                with store.read_connection(db) as con:
                    study_status(con, config, store.now().date())
        with store.read_connection(db) as con:  # the database opens and status works
            study_status(con, config, store.now().date())
    with capsys.disabled():
        print(f"\ndelivery campaign B: {steps} steps on {DATABASES} databases; deliveries by "
              f"format {dict(sorted(formats.items()))}; outcomes {dict(sorted(outcomes.items()))};"
              f" invariant violations {len(violations)}")
    assert violations == [], violations[:10]
    assert sum(formats.values()) >= 40
    assert {"loaded", "held", "rejected"} <= set(outcomes)
    assert {f.split()[0] for f in formats} == set(FORMATS)
