"""Who may see and do what, enforced in the library: the role x action matrix through the real
functions, investigators' sites, a sponsor's pooled view, electronic signatures, the access
configuration, and the command line's identity.

The matrix below is the README's ("Roles"), written out here, not read from the code: every
act and closed read is called as every demo role and must pass or refuse with AccessDenied.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import people
import pytest
from click.testing import CliRunner

from safety import pipeline, store, views
from safety.access import (
    MEANINGS,
    Action,
    check_signature,
    parse_access_config,
    sign_with_password,
    sign_with_reauthentication,
)
from safety.access.signatures import Signature
from safety.cli import cli
from safety.config import stored_study_config
from safety.errors import AccessDenied, ConfigError, SignatureError
from safety.ingest import ingest_paths
from safety.monitor import adjudication, alerts, patient
from safety.report import build_content, sign_off_report
from safety.store import queries

ROOT = Path(__file__).resolve().parents[1]
PILOT = ROOT / "tests" / "data" / "cdiscpilot01"
STUDY, CUTOFF = "NCT04232592", date(2021, 1, 15)
SO, INV, INV2, DSMB = people.SAFETY_OFFICER, people.INVESTIGATOR, people.OTHER_INVESTIGATOR, people.DSMB
SPONSOR, DM, ADMIN = people.SPONSOR, people.DATA_MANAGER, people.ADMIN
ROLES = {"safety officer": SO, "investigator (site 01)": INV, "investigator (site 02)": INV2,
         "DSMB member": DSMB, "sponsor": SPONSOR, "data manager": DM, "administrator": ADMIN}  # fmt: skip

# README "Roles": who may do each act (the demo has one site, 01).
EXPECTED = {
    Action.VIEW_OPEN: {SO, INV, INV2, DSMB, SPONSOR, DM},
    Action.VIEW_CLOSED: {SO, DSMB},
    Action.VIEW_PATIENT: {SO, INV, DSMB},
    Action.VIEW_DELIVERIES: {SO, DM},
    Action.ADJUDICATE_DLT: {SO, INV},
    Action.REVIEW_PATIENT: {SO, INV},
    Action.ACKNOWLEDGE_ALERT: {SO},
    Action.INGEST: {DM},
    Action.CONFIRM_DELIVERY: {DM},
    Action.RETRACT_DELIVERY: {DM},
    Action.BUILD_REPORT: {SO, DSMB, SPONSOR},
    Action.SIGN_REPORT: {SO},
    Action.VIEW_AUDIT: {SO, ADMIN},
    Action.MANAGE_ACCESS: {ADMIN},
    Action.BUILD_DATABASE: {ADMIN},
}


@pytest.fixture(scope="module")
def world(demo_db, tmp_path_factory):
    """A copy of the demo with a DSMB snapshot to sign; a scratch database to rebuild."""
    folder = tmp_path_factory.mktemp("access")
    db = shutil.copy(demo_db, folder / "safety.duckdb")
    alerts.refresh_alerts(db)  # the baseline alerts: one to acknowledge
    with store.write_connection(db) as con:
        snapshot_id = queries.snapshot.record_snapshot(
            con, study_id=STUDY, cutoff=CUTOFF, kind="closed", created_at=store.now(),
            created_by="sam", content_sha256="0" * 64, config_sha256="0" * 64,
            software_version="test", manifest="{}",
        )  # fmt: skip
        alert_id = int(queries.alerts.alert_feed(con, STUDY)["alert_id"].iloc[0])
        config = stored_study_config(queries.studies.study_config_text(con, STUDY), STUDY)
        event = queries.dlt.dlt_events(con, STUDY, CUTOFF).iloc[0]
    # the CDISC pilot beside it, with a truncated AE delivery held for a data manager
    ingest_paths([PILOT / "dm.csv", PILOT / "ae.csv"], db=db, user=DM)
    ae = pd.read_csv(PILOT / "ae.csv", dtype=str, keep_default_na=False)
    ae.head(386).to_csv(folder / "ae.csv", index=False)
    (held,) = ingest_paths([folder / "ae.csv"], db=db, user=DM)
    assert held.status == "held"
    scratch = folder / "scratch.duckdb"
    store.create_if_missing(scratch)
    return {"db": db, "snapshot": snapshot_id, "alert": alert_id, "config": config,
            "event": (event["usubjid"], event["source"], int(event["source_seq"])),
            "scratch": scratch, "hold": held.hold_id}  # fmt: skip


def _read(fn, *args):
    def act(user, w):
        with store.read_connection(w["db"]) as con:
            return fn(con, user, *args)
    return act


def _adjudicate(user, w):
    usubjid, source, seq = w["event"]
    adjudication.adjudicate(w["db"], STUDY, usubjid, source, seq, "confirmed", "matrix test",
                            user, signature=people.signature(user, "dlt.confirm"))  # fmt: skip


def _retract(user, w):
    with store.read_connection(w["db"]) as con:
        (batch,) = queries.deliveries.current_batches(con, "CDISCPILOT01", "AE")
    people.retract(w["db"], batch, "matrix test", user)


ACTS = {
    Action.VIEW_OPEN: _read(views.study_snapshots, STUDY),
    Action.VIEW_CLOSED: _read(views.dlt_events, STUDY, CUTOFF),
    Action.VIEW_PATIENT: lambda u, w: _read(views.patient_profile, w["config"], w["event"][0],
                                            CUTOFF)(u, w),
    Action.VIEW_DELIVERIES: _read(views.batch_ledger, STUDY),
    Action.ADJUDICATE_DLT: _adjudicate,
    Action.REVIEW_PATIENT: lambda u, w: patient.record_review(w["db"], STUDY, w["event"][0],
                                                              "reviewed", "matrix", u),
    Action.ACKNOWLEDGE_ALERT: lambda u, w: alerts.acknowledge_alerts(
        w["db"], [w["alert"]], u, "seen", signature=people.signature(u, "alert.acknowledge")),
    Action.INGEST: lambda u, w: ingest_paths([PILOT / "dm.csv"], db=w["db"], user=u),
    Action.CONFIRM_DELIVERY: lambda u, w: people.confirm(w["db"], w["hold"], "matrix test", u),
    Action.RETRACT_DELIVERY: _retract,
    Action.BUILD_REPORT: lambda u, w: build_content(w["db"], STUDY, CUTOFF, "open", user=u),
    Action.SIGN_REPORT: lambda u, w: sign_off_report(w["db"], u, w["snapshot"],
                                                     people.signature(u, "report.sign")),
    Action.VIEW_AUDIT: lambda u, w: _read(views.audit_overview)(u, w),
    Action.BUILD_DATABASE: lambda u, w: pipeline.build_demo(w["scratch"], u),
}


@pytest.mark.parametrize("action", list(EXPECTED), ids=str)
def test_1_every_role_may_do_exactly_what_the_matrix_says(world, action):
    act = ACTS.get(action)
    outcome = {}
    for name, user in ROLES.items():
        try:
            if act is None:  # access.manage: the Access page (configuration), no write
                from safety.access import require
                require(user, action, STUDY, site="01")
            else:
                act(user, world)
            outcome[name] = True
        except AccessDenied as exc:
            assert str(exc).startswith(user.name) and "may not" in str(exc), exc
            outcome[name] = False
    expected = {name: user in EXPECTED[action] for name, user in ROLES.items()}
    assert outcome == expected


def test_2_an_investigator_sees_and_acts_on_her_own_sites_patients_only(world):
    with store.read_connection(world["db"]) as con:
        assert len(views.study_roster(con, INV, STUDY)) == 32  # all at site 01
        assert views.study_roster(con, INV2, STUDY).empty
        with pytest.raises(AccessDenied, match=r"of site 01 \(your sites: 02\)"):
            views.patient_profile(con, INV2, world["config"], world["event"][0], CUTOFF)
    with pytest.raises(AccessDenied, match="your sites: 02"):
        _adjudicate(INV2, world)


def test_3_a_sponsor_gets_pooled_numbers_only(world):
    labels = [c.label for c in world["config"].cohorts]
    with store.read_connection(world["db"]) as con:
        content = views.open_view(con, SPONSOR, world["config"], CUTOFF)
        for read in (views.study_status, views.decision_history):
            with pytest.raises(AccessDenied, match="results by cohort"):
                read(con, SPONSOR, world["config"], CUTOFF)
        with pytest.raises(AccessDenied):
            views.alert_feed(con, SPONSOR, STUDY)
        assert views.alert_counts(con, SPONSOR).empty  # nothing of her studies' alerts
        shots = views.study_snapshots(con, SPONSOR, STUDY)
    assert set(shots["kind"]) <= {"open"}  # the closed snapshot is not even listed
    assert not any(t.by_cohort or t.listing for t in content.tables)
    text = json.dumps([t.frame.to_csv() for t in content.tables]
                      + [f.figure.to_json() for f in content.figures])  # fmt: skip
    assert not any(label in text for label in labels), [lb for lb in labels if lb in text]
    with pytest.raises(AccessDenied):
        build_content(world["db"], STUDY, CUTOFF, "closed", user=SPONSOR)


# --- electronic signatures --------------------------------------------------------------------


def test_4_an_adjudication_without_a_valid_signature_is_refused_and_writes_nothing(world):
    usubjid, source, seq = world["event"]
    before = _count(world["db"], "dlt_adjudication")
    confirm = MEANINGS["dlt.confirm"]
    now = datetime.now()
    handmade = Signature("sam", "Sam Safety", confirm, now, "signature password", "{}", "0" * 64)
    stale = people.signature(SO, "dlt.confirm")
    attempts = {
        "no signature": (None, "needs an electronic signature"),
        "by hand": (handmade, "not made by signing"),
        "another meaning": (people.signature(SO, "dlt.reject"), "signed to mean"),
        "another signer": (people.signature(INV, "dlt.confirm"), "but 'sam' is acting"),
        "too old": (replace(stale, signed_at=stale.signed_at - timedelta(minutes=6)),
                    "not made by signing"),  # the seal covers the time: it cannot be backdated
    }
    for name, (sig, message) in attempts.items():
        with pytest.raises(SignatureError, match=message):
            adjudication.adjudicate(world["db"], STUDY, usubjid, source, seq, "confirmed",
                                    name, SO, signature=sig)  # fmt: skip
    with pytest.raises(SignatureError, match="is not correct"):
        sign_with_password(SO, confirm, "wrong", people.ACCESS)
    assert _count(world["db"], "dlt_adjudication") == before
    # a good one works once, and only for as long as it is fresh
    good = people.signature(SO, "dlt.confirm")
    with pytest.raises(SignatureError, match="s old"):
        check_signature(good, SO, "dlt.confirm", now=good.signed_at + timedelta(minutes=6))
    adjudication.adjudicate(world["db"], STUDY, usubjid, source, seq, "confirmed", "ok", SO,
                            signature=good)  # fmt: skip
    with pytest.raises(SignatureError, match="used already"):
        adjudication.adjudicate(world["db"], STUDY, usubjid, source, seq, "confirmed", "again",
                                SO, signature=good)  # fmt: skip


def test_5_reauthentication_signs_only_for_the_same_person_just_signed_in():
    config = parse_access_config(_oidc_config(), "oidc.toml")
    olivia = config.user_from_claims({"sub": "olivia", "name": "Olivia", "groups": ["so"]})
    asked = datetime(2021, 1, 16, 9, 0, 0)
    fresh = {"sub": "olivia", "auth_time": int(_epoch(asked) + 3), "iss": "http://idp"}
    sig = sign_with_reauthentication(olivia, MEANINGS["dlt.confirm"], fresh, asked, config,
                                     now=asked + timedelta(seconds=10))  # fmt: skip
    assert (sig.method, sig.signer_name, sig.signed_at) == (
        "reauthentication", "Olivia", asked + timedelta(seconds=3))
    for claims, message in (({**fresh, "sub": "bob"}, "by 'bob'"),
                            ({**fresh, "auth_time": int(_epoch(asked) - 60)}, "did not ask"),
                            ({"sub": "olivia"}, "no auth_time")):  # fmt: skip
        with pytest.raises(SignatureError, match=message):
            sign_with_reauthentication(olivia, MEANINGS["dlt.confirm"], claims, asked, config,
                                       now=asked + timedelta(seconds=10))  # fmt: skip
    with pytest.raises(SignatureError, match="identity-provider users sign by re-authenticating"):
        sign_with_password(olivia, MEANINGS["dlt.confirm"], "pw", config)


def test_6_a_report_sign_off_is_shown_with_the_snapshot(world):
    sign_off_report(world["db"], SO, world["snapshot"], people.signature(SO, "report.sign"))
    with store.read_connection(world["db"]) as con:
        shots = views.study_snapshots(con, SO, STUDY).set_index("snapshot_id")
    assert shots.loc[world["snapshot"], "signed_off"].startswith("Sam Safety (sam), ")
    assert "I approve this DSMB report" in shots.loc[world["snapshot"], "signed_off"]


# --- configuration and the command line ---------------------------------------------------------


@pytest.mark.parametrize("change, message", [
    ({"sign_in": {"mode": "open"}}, 'mode must be "local" or "oidc"'),
    ({"grant": [{"group": "g", "role": "investigator"}]}, "names her sites"),
    ({"grant": [{"group": "g", "role": "boss"}]}, "role must be one of"),
    ({"local_user": [{"id": "a", "name": "A", "groups": [], "signature_password": "scrypt$1"}]},
     'need .sign_in. mode = "local"'),
    ({"account": [{"os_user": "*", "groups": []}]}, 'os_user = "\\*" .any account. needs mode'),
])  # fmt: skip
def test_7_a_bad_access_configuration_is_refused_with_the_entry_named(change, message):
    with pytest.raises(ConfigError, match=message):
        parse_access_config(_oidc_config() | change, "access.toml")


def test_8_the_command_line_is_the_os_account_or_a_service_and_takes_no_actor(world, tmp_path,
                                                                              monkeypatch):  # fmt: skip
    runner = CliRunner()
    # no command signs: adjudicating, acknowledging, signing off need the dashboard's signature
    assert "No such command" in runner.invoke(cli, ["adjudicate"]).output
    assert not {"adjudicate", "acknowledge", "sign"} & set(cli.list_commands(None))
    refused = runner.invoke(cli, ["ingest", str(PILOT / "dm.csv"), "--actor", "anyone"])
    assert refused.exit_code == 2 and "No such option '--actor'" in refused.output
    token = "s3cret-token-of-the-watcher"
    access = tmp_path / "access.toml"
    access.write_text(_toml(_oidc_config() | {"account": [
        {"os_user": _os(), "groups": ["team"]},
        {"service": "ingest-bot", "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
         "groups": ["dm"]},
    ], "grant": [{"group": "team", "role": "sponsor"}, {"group": "dm", "role": "data_manager"}]}))
    monkeypatch.setenv("SAFETY_ACCESS", str(access))
    whoami = runner.invoke(cli, ["access", "whoami"])
    assert whoami.exit_code == 0 and f"{_os()} (os" in whoami.output
    assert "sponsor / study team in every study" in whoami.output
    status = runner.invoke(cli, ["status", "--db", str(world["db"])])
    assert status.exit_code == 2 and "may not see results by cohort" in status.output
    ledger = _count(world["db"], "ingest_batch")
    loaded = runner.invoke(cli, ["ingest", str(PILOT / "ae.csv"), "--db", str(world["db"])])
    assert loaded.exit_code == 2 and "may not load deliveries" in loaded.output
    assert _count(world["db"], "ingest_batch") == ledger
    monkeypatch.setenv("SAFETY_SERVICE_TOKEN", token)
    assert "ingest-bot (service" in runner.invoke(cli, ["access", "whoami"]).output
    monkeypatch.setenv("SAFETY_SERVICE_TOKEN", "guessed")
    assert runner.invoke(cli, ["access", "whoami"]).exit_code == 2


def _count(db, table: str) -> int:
    with store.read_connection(db) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _epoch(at: datetime) -> float:
    from datetime import UTC

    return at.replace(tzinfo=UTC).timestamp()


def _os() -> str:
    from safety.access import os_account

    return os_account()


def _oidc_config() -> dict:
    return {"sign_in": {"mode": "oidc"},
            "grant": [{"group": "so", "study": "*", "role": "safety_officer"}]}  # fmt: skip


def _toml(data: dict) -> str:
    lines = [f'[sign_in]\nmode = "{data["sign_in"]["mode"]}"\n']
    for key in ("grant", "account"):
        for entry in data.get(key, []):
            lines.append(f"[[{key}]]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in entry.items()]
            lines.append("")
    return "\n".join(lines)
