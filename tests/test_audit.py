"""The tamper-evident audit trail: every entry chained to the one before by SHA-256, its head,
the signed records and the DSMB manifests' audit heads; editing or deleting rows by hand is found
by ``audit verify``, in ``status``, before a report, and on every page."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from datetime import date
from pathlib import Path

import duckdb
import people
import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from safety import store
from safety.cli import cli
from safety.errors import AuditError
from safety.monitor import patient
from safety.report import build_content
from safety.store import audit, queries

STUDY, CUTOFF = "NCT04232592", date(2021, 1, 15)
APP = str(Path(__file__).resolve().parents[1] / "dashboard.py")


@pytest.fixture(scope="module")
def base(demo_db, tmp_path_factory):
    """The demo with a review, a signed adjudication and a snapshot whose manifest carries the
    audit head, as a report's does."""
    db = shutil.copy(demo_db, tmp_path_factory.mktemp("audit") / "base.duckdb")
    patient.record_review(db, STUDY, "NCT04232592-01-001", "reviewed", "fine", people.SAFETY_OFFICER)
    with store.read_connection(db) as con:
        event = queries.dlt.dlt_events(con, STUDY, CUTOFF).iloc[0]
    people.adjudicate(db, STUDY, event["usubjid"], event["source"], int(event["source_seq"]),
                      "confirmed", "clear DLT")  # fmt: skip
    with store.write_connection(db) as con:
        head_id, head_sha = queries.database.audit_head(con)
        queries.snapshot.record_snapshot(
            con, study_id=STUDY, cutoff=CUTOFF, kind="closed", created_at=store.now(),
            created_by="sam", content_sha256="0" * 64, config_sha256="0" * 64,
            software_version="test",
            manifest=json.dumps({"freeze": {"audit_id": head_id, "audit_sha256": head_sha}}),
        )  # fmt: skip
    patient.record_review(db, STUDY, "NCT04232592-01-002", "reviewed", "later", people.INVESTIGATOR)
    return db


@pytest.fixture
def copy(base, tmp_path):
    return shutil.copy(base, tmp_path / "tampered.duckdb")


def _rows(db) -> list[tuple]:
    with store.read_connection(db) as con:
        return queries.database.audit_trail(con)


def _sql(db, sql: str, *params) -> None:
    con = duckdb.connect(str(db))  # by hand, as anyone who can write the file
    try:
        con.execute(sql, list(params))
    finally:
        con.close()


def _verify(db, *args: str):
    return CliRunner().invoke(cli, ["audit", "verify", "--db", str(db), *args])


def test_1_each_entry_is_the_sha256_of_its_content_and_the_previous_hash(base):
    # schema.sql: SHA-256 of the JSON array [audit_id, logged_at, actor, action, study_id,
    # usubjid, detail, previous_sha256]; the first previous hash is 64 zeros
    previous = "0" * 64
    rows = _rows(base)
    assert len(rows) >= 4 and {r[3] for r in rows} >= {"demo.build", "review.record", "dlt.confirm"}
    for audit_id, at, actor, action, study, usubjid, detail, prev, entry in rows:
        text = json.dumps([audit_id, at.isoformat(timespec="microseconds"), actor, action, study,
                           usubjid, detail, prev], separators=(",", ":"), ensure_ascii=False)
        assert prev == previous
        assert entry == hashlib.sha256(text.encode()).hexdigest()
        previous = entry
    result = _verify(base)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"audit trail intact: {len(rows)} entries, head #{rows[-1][0]}")


@pytest.mark.parametrize("tamper, problem, named", [
    ("UPDATE audit_log SET detail = replace(detail, 'clear DLT', 'not a DLT') "
     "WHERE action = 'dlt.confirm'", "was changed after it was written", "the act"),
    ("DELETE FROM audit_log WHERE action = 'dlt.confirm'", "does not follow the entry before",
     "the next"),
    ("DELETE FROM audit_log WHERE audit_id = (SELECT max(audit_id) FROM audit_log)",
     "entries at its end were removed", "the last"),
    ("UPDATE dlt_adjudication SET decision = 'rejected'", "was changed after it was signed",
     "the act"),
    ("DELETE FROM dlt_adjudication", "which was removed", "the act"),
])  # fmt: skip
def test_2_an_edit_or_deletion_by_hand_is_found_naming_the_first_bad_entry(copy, tamper,
                                                                            problem, named):  # fmt: skip
    ids = [r[0] for r in _rows(copy)]
    act = next(r[0] for r in _rows(copy) if r[3] == "dlt.confirm")  # the signed adjudication
    expected = {"the act": act, "the next": ids[ids.index(act) + 1], "the last": ids[-1]}[named]
    _sql(copy, tamper)
    result = _verify(copy)
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()  # one line
    assert line.startswith(f"Error: AUDIT TRAIL BROKEN at entry {expected}: "), line
    assert problem in line
    status = CliRunner().invoke(cli, ["status", "--db", str(copy), "--json"])
    assert status.exit_code == 0
    assert json.loads(status.stdout)["audit"]["first_bad_entry"] == expected
    with pytest.raises(AuditError, match="cannot vouch for a broken trail"):
        build_content(copy, STUDY, CUTOFF, "closed", user=people.SAFETY_OFFICER)


def test_3_a_consistently_rewritten_chain_is_found_by_the_report_s_audit_head(copy, tmp_path):
    """Someone edits an entry and recomputes every hash after it, and the head: the chain is
    consistent again, but the DSMB manifest recorded another hash for its entry."""
    manifest = tmp_path / "manifest.json"
    with store.read_connection(copy) as con:
        head = queries.database.audit_head(con)
    manifest.write_text(json.dumps({"freeze": {"audit_id": head[0], "audit_sha256": head[1]}}))
    assert _verify(copy, "--manifest", str(manifest)).exit_code == 0
    _sql(copy, "UPDATE audit_log SET detail = replace(detail, 'fine', 'fine!') "
               "WHERE action = 'review.record'")  # fmt: skip
    con = duckdb.connect(str(copy))
    previous = "0" * 64
    for audit_id, at, actor, action, study, usubjid, detail, _, _ in con.execute(
        "SELECT * FROM audit_log ORDER BY audit_id"
    ).fetchall():
        entry = queries.database.audit_entry_sha256(audit_id, at, actor, action, study, usubjid,
                                                    detail, previous)  # fmt: skip
        con.execute("UPDATE audit_log SET previous_sha256 = ?, entry_sha256 = ? WHERE audit_id = ?",
                    [previous, entry, audit_id])  # fmt: skip
        previous = entry
    con.execute("UPDATE audit_head SET entry_sha256 = ?", [previous])
    con.close()
    stored = _verify(copy)  # the snapshot stored in the database still names its head
    assert stored.exit_code == 2 and re.search(r"snapshot \d+'s manifest recorded", stored.output)
    _sql(copy, "DELETE FROM snapshot")  # and the copy of the manifest in the report folder
    outside = _verify(copy, "--manifest", str(manifest))
    assert outside.exit_code == 2 and str(manifest) in outside.output.replace("\n", "")


def test_4_writers_in_one_process_take_turns_and_keep_the_chain(copy):
    def review(i: int) -> None:
        for n in range(4):
            patient.record_review(copy, STUDY, f"NCT04232592-01-00{i}", "reviewed", f"{n}",
                                  people.SAFETY_OFFICER)  # fmt: skip

    threads = [threading.Thread(target=review, args=(i,)) for i in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.read_connection(copy) as con:
        check = audit.verify_audit_trail(con)
    assert check.ok, check.describe()


def test_5_a_broken_trail_is_shown_on_every_page(copy, monkeypatch):
    _sql(copy, "UPDATE audit_log SET actor = 'someone' WHERE action = 'review.record'")
    bad = next(r[0] for r in _rows(copy) if r[3] == "review.record")
    monkeypatch.setenv("SAFETY_DB", str(copy))
    for user, pages in ((people.SAFETY_OFFICER, ("pages/alerts.py",)),
                        (people.SPONSOR, ("pages/overview.py",))):  # fmt: skip
        at = people.signed_in(AppTest.from_file(APP, default_timeout=60), user).run()
        for page in pages:
            at.switch_page(page).run()
            assert not at.exception, at.exception
            assert any(f"AUDIT TRAIL BROKEN at entry {bad}" in people.plain(e.value)
                       for e in at.error), [e.value for e in at.error]  # fmt: skip


def test_6_databases_are_their_owner_s_only(tmp_path, monkeypatch):
    private = tmp_path / "private.duckdb"
    store.create_if_missing(private)
    assert private.stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("SAFETY_GROUP_ACCESS", "1")
    with store.new_database(tmp_path / "shared.duckdb"):
        pass
    assert (tmp_path / "shared.duckdb").stat().st_mode & 0o777 == 0o660
