"""Notifications end to end: a real SMTP server (aiosmtpd, STARTTLS and implicit TLS with a
certificate made here) and a real HTTP server that checks Standard Webhooks signatures with its
own code, both on 127.0.0.1; an SAE in a new delivery of the demo goes out once per recipient,
as each role may see it; an outage delays and never loses; retries back off; every attempt is
recorded and audited.

References: Standard Webhooks v1 (standardwebhooks.com): the signature over id.timestamp.body
and its published test vector (also in svix's libraries' tests); RFC 3207 (STARTTLS), RFC 8314
(implicit TLS); FDA DMC guidance (2006) 6.5: no results by cohort to the sponsor.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import hashlib
import hmac
import ipaddress
import json
import shutil
import socket
import ssl
import threading
import time
import tomllib
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import people
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from safety import notify, pipeline, store
from safety.access import parse_access_config
from safety.access.subscriptions import SmtpSettings
from safety.cli import cli
from safety.demo.live import LiveFeed
from safety.errors import ConfigError
from safety.ingest import ingest_paths
from safety.monitor.alerts import refresh_alerts
from safety.notify import channels
from safety.store import audit
from safety.watch import Watcher

ROOT = Path(__file__).resolve().parents[1]
STUDY = "NCT04232592"
PATIENT = "NCT04232592-01-030"  # HIGH dose, site 01
SECRET = "whsec_" + base64.b64encode(b"a test secret of 32 bytes length").decode()
SECRET_ENV = "SAFETY_TEST_WEBHOOK_SECRET"
TERM = '=HYPERLINK("http://evil.example/x","<b>Endometritis</b>")'  # formula, link, markup


# --- the test servers ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    """A self-signed certificate for 127.0.0.1 (the CA the client is given) and its key."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))  # fmt: skip
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))  # fmt: skip
    return folder


def _server_context(certificate: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    return context


class Mailbox:
    """aiosmtpd handler: every message received, by envelope recipient."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for rcpt, m in self.messages if address in rcpt]


def smtp_server(certificate: Path, port: int, mailbox: Mailbox, implicit: bool = False):
    """A started SMTP server on 127.0.0.1: STARTTLS required, or implicit TLS."""
    tls = {"ssl_context": _server_context(certificate)} if implicit else {
        "tls_context": _server_context(certificate), "require_starttls": True}
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **tls)
    controller.start()
    return controller


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver that checks the signature as Standard Webhooks says (its own code,
    not the product's): 401 when it does not verify, 503 while told to fail."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        key = base64.b64decode(SECRET.removeprefix("whsec_"))
        wid, stamp = self.headers["webhook-id"], self.headers["webhook-timestamp"]
        expected = "v1," + base64.b64encode(hmac.new(
            key, f"{wid}.{stamp}.".encode() + body, hashlib.sha256).digest()).decode()
        valid = (expected in self.headers["webhook-signature"].split()
                 and abs(time.time() - int(stamp)) <= 300)  # fmt: skip
        self.server.calls.append({"id": wid, "valid": valid, "body": body})
        failing = self.server.fail_next > 0
        self.server.fail_next -= failing
        status = 401 if not valid else 503 if failing else 204
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def hooks():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.calls, server.fail_next = [], 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# --- the configuration and the delivery --------------------------------------------------


def access_toml(smtp_port: int, hook_port: int, certificate: Path) -> str:
    """The demo's access file with notifications: Sam (safety officer) by e-mail and to the
    safety channel's webhook, Stella (sponsor, open only), Ines (investigator, site 01), and
    Stella asking for a role she does not hold."""
    return (ROOT / "data" / "access.toml").read_text(encoding="utf-8") + f"""
[notify]
dashboard_url = "https://safety.example.org/"
retry_seconds = 60
retry_max_seconds = 600

[notify.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "starttls"
from = "safety-monitor@example.org"
ca_file = "{certificate / 'cert.pem'}"
timeout_seconds = 5

[[webhook]]
id = "safety-channel"
url = "http://127.0.0.1:{hook_port}/hook"
secret_env = "{SECRET_ENV}"

[[subscription]]
user = "sam"
email = "sam@example.org"
study = "{STUDY}"
role = "safety_officer"
severity = "high"

[[subscription]]
user = "sam"
webhook = "safety-channel"
role = "safety_officer"
severity = "critical"

[[subscription]]
user = "stella"
email = "stella@example.org"
role = "sponsor"
severity = "info"

[[subscription]]
user = "ines"
email = "ines@example.org"
role = "investigator"

[[subscription]]
user = "stella"
email = "stella-closed@example.org"
role = "safety_officer"
"""


@pytest.fixture(scope="module")
def baseline(demo_db, tmp_path_factory) -> tuple[Path, Path]:
    """The demo with its alert baseline, and an AE delivery adding one SAE (grade 2, not
    related: no DLT) with a term that tries to be a formula, a link and markup."""
    folder = tmp_path_factory.mktemp("notify")
    db = folder / "base.duckdb"
    shutil.copy(demo_db, db)
    pipeline.raise_alerts(db)  # the baseline, as pipeline.build_demo records it
    ae = LiveFeed().exports()["AE"]
    hers = ae[ae["USUBJID"] == PATIENT]
    sae = hers.tail(1).assign(AESEQ=int(hers["AESEQ"].astype(int).max()) + 1, AEDECOD=TERM,
                              AESER="Y", AETOXGR=2, AEREL="NOT RELATED")  # fmt: skip
    pd.concat([ae, sae]).to_csv(folder / "ae.csv", index=False)
    return db, folder / "ae.csv"


def _prepare(folder: Path, baseline, certificate, hooks, monkeypatch) -> tuple[Path, int]:
    """A copy of the baseline database and an access file pointing at the test servers (the
    SMTP port is free: each test starts its server, or not)."""
    db = folder / "safety.duckdb"
    shutil.copy(baseline[0], db)
    port = _free_port()
    access = folder / "access.toml"
    access.write_text(access_toml(port, hooks.server_address[1], certificate), encoding="utf-8")
    monkeypatch.setenv("SAFETY_ACCESS", str(access))
    monkeypatch.setenv(SECRET_ENV, SECRET)
    hooks.calls, hooks.fail_next = [], 0  # a new list: an earlier fixture keeps its own
    return db, port


@pytest.fixture
def setup(baseline, certificate, hooks, tmp_path, monkeypatch):
    return _prepare(tmp_path, baseline, certificate, hooks, monkeypatch)


def _outbox(db) -> pd.DataFrame:
    with store.read_connection(db, rules=False) as con:
        return con.execute("SELECT * FROM notification ORDER BY notification_id").df()


def _attempts(db) -> pd.DataFrame:
    with store.read_connection(db, rules=False) as con:
        return con.execute("SELECT * FROM notification_attempt ORDER BY attempt_id").df()


@pytest.fixture(scope="module")
def delivered(baseline, certificate, hooks, tmp_path_factory):
    """The SAE delivered by a data manager while both servers are up: (database, delivery,
    mailbox, webhook calls)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        db, port = _prepare(tmp_path_factory.mktemp("delivered"), baseline, certificate, hooks,
                            monkeypatch)
        mailbox = Mailbox()
        server = smtp_server(certificate, port, mailbox)
        try:
            delivery = pipeline.deliver_paths([baseline[1]], db=db, user=people.DATA_MANAGER)
            yield db, delivery, mailbox, hooks.calls
        finally:
            server.stop()


# --- the tests ------------------------------------------------------------------------------


def test_1_an_sae_in_a_new_delivery_is_one_email_and_one_signed_webhook_call(delivered,
                                                                              baseline):
    db, delivery, mailbox, calls = delivered
    assert [a.kind for a in delivery.alerts] == ["sae"]
    sam = mailbox.to("sam@example.org")
    assert len(sam) == 1 and len(calls) == 1 and calls[0]["valid"]
    text = sam[0].get_content()
    assert "Study: NCT04232592" in text and "Cohort: High dose" in text
    assert f"Patient: {PATIENT}" in text
    link = f"https://safety.example.org/patient?study={STUDY}&subject={PATIENT}"
    assert f"Open in the dashboard: {link}" in text
    assert sam[0]["Subject"].startswith("[critical] SAE: ")
    payload = json.loads(calls[0]["body"])
    assert (payload["type"], payload["kind"], payload["cohort"], payload["patient"],
            payload["link"]) == ("safety.alert", "sae", "High dose", PATIENT, link)  # fmt: skip
    # Nothing sent twice: another round, the same file again, the command
    assert pipeline.send_notifications(db, people.DATA_MANAGER).sent == []
    again = pipeline.deliver_paths([baseline[1]], db=db, user=people.DATA_MANAGER)
    assert [r.status for r in again.results] == ["duplicate"]
    result = CliRunner().invoke(cli, ["notify", "send", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "0 sent, 0 failed" in result.output
    assert len(mailbox.to("sam@example.org")) == 1 and len(calls) == 1
    attempts = _attempts(db)
    assert attempts["outcome"].tolist() == ["sent"] * len(_outbox(db))
    with store.read_connection(db) as con:
        log = con.execute("SELECT action FROM audit_log WHERE action LIKE 'notify.%'").df()
        assert audit.verify_audit_trail(con).ok
    assert log["action"].value_counts().to_dict() == {"notify.queue": 1,
                                                      "notify.sent": len(_outbox(db))}


def test_2_an_open_only_sponsor_never_receives_cohort_names_or_the_patient(delivered):
    db, _, mailbox, _ = delivered
    with store.read_connection(db, rules=False) as con:
        cohorts = con.execute("SELECT cohort_id, label FROM cohort").fetchall()
    stella = mailbox.to("stella@example.org")
    assert len(stella) == 1
    seen = stella[0]["Subject"] + stella[0].get_content()
    assert "a serious adverse event (SAE) was recorded" in seen
    assert f"https://safety.example.org/?study={STUDY}" in seen
    for cohort_id, label in cohorts:
        assert label not in seen and f" {cohort_id}" not in seen, (cohort_id, seen)
    assert PATIENT not in seen and "Endometritis" not in seen
    # Ines sees her site's patient, not the cohort; a role not held receives nothing
    ines = mailbox.to("ines@example.org")[0].get_content()
    assert f"Patient: {PATIENT}" in ines and "Cohort" not in ines and "High dose" not in ines
    assert mailbox.to("stella-closed@example.org") == []
    box = _outbox(db)
    assert sorted(zip(box["recipient"], box["visibility"], strict=True)) == [
        ("ines@example.org", "patient"), ("safety-channel", "closed"),
        ("sam@example.org", "closed"), ("stella@example.org", "open")]  # fmt: skip


def test_3_data_in_messages_stay_inert(delivered):
    _, _, mailbox, calls = delivered
    text = mailbox.to("sam@example.org")[0].get_content()
    payload = json.loads(calls[0]["body"])
    for shown in (text, payload["title"], payload["detail"]):
        assert "<b>" not in shown and "&lt;b&gt;" in shown
        assert "http://evil" not in shown and "http:\u2060//evil" in shown
    assert payload["detail"].startswith("'=HYPERLINK(")  # a spreadsheet reads it as text
    assert "\nDetails: '=HYPERLINK(" in text


def test_4_a_mail_server_outage_delays_but_never_loses_and_webhooks_back_off(
        setup, baseline, certificate, hooks):
    db, port = setup
    hooks.fail_next = 2  # the webhook endpoint answers 503 twice
    pipeline.deliver_paths([baseline[1]], db=db, user=people.DATA_MANAGER)  # no SMTP server
    box = _outbox(db).set_index("recipient")
    assert set(box["status"]) == {"pending"} and set(box["attempts"]) == {1}
    assert "ConnectionRefusedError" in box.loc["sam@example.org", "last_error"]
    assert box.loc["safety-channel", "last_error"] == "HTTP 503 from safety-channel"
    first = box.loc["sam@example.org", "next_attempt_at"] - box.loc["sam@example.org",
                                                                    "created_at"]
    assert dt.timedelta(seconds=59) < first < dt.timedelta(seconds=120)  # retry_seconds 60
    # Not yet due: nothing is tried
    assert notify.send_due(db, people.DATA_MANAGER) == notify.SendReport()
    mailbox = Mailbox()
    server = smtp_server(certificate, port, mailbox)
    try:
        later = store.now() + dt.timedelta(seconds=61)
        report = notify.send_due(db, people.DATA_MANAGER, now=later)
        assert len(report.sent) == 3 and [e for _, e in report.failed] == [
            "HTTP 503 from safety-channel"]
        hook = _outbox(db).set_index("recipient").loc["safety-channel"]
        assert hook["next_attempt_at"] - later == dt.timedelta(seconds=120)  # 60 x 2
        report = notify.send_due(db, people.DATA_MANAGER, now=later + dt.timedelta(seconds=121))
        assert report.sent == [int(hook["notification_id"])]
        assert notify.send_due(db, people.DATA_MANAGER, now=later + dt.timedelta(hours=2)
                               ) == notify.SendReport()
    finally:
        server.stop()
    assert len(mailbox.to("sam@example.org")) == 1 and len(mailbox.to("stella@example.org")) == 1
    assert [c["valid"] for c in hooks.calls] == [True] * 3
    assert len({c["id"] for c in hooks.calls}) == 1  # the same webhook-id on every retry
    attempts = _attempts(db).merge(_outbox(db)[["notification_id", "recipient"]])
    assert attempts[attempts["recipient"] == "safety-channel"]["outcome"].tolist() == [
        "failed", "failed", "sent"]
    assert attempts[attempts["recipient"] == "sam@example.org"]["outcome"].tolist() == [
        "failed", "sent"]
    result = CliRunner().invoke(cli, ["notify", "status", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["notifications"]
    assert {r["status"] for r in rows} == {"sent"} and "body" not in rows[0]


def test_5_alerts_left_by_a_killed_process_are_queued_and_sent_by_the_watcher_s_next_round(
        setup, baseline, certificate, hooks, tmp_path):
    db, port = setup
    ingest_paths([baseline[1]], db, None, people.DATA_MANAGER)
    assert len(refresh_alerts(db)) == 1  # the alerts committed, then the process "died"
    assert _outbox(db).empty
    mailbox = Mailbox()
    server = smtp_server(certificate, port, mailbox)
    try:
        watcher = Watcher(tmp_path, db=db, user=people.DATA_MANAGER)
        assert watcher.check_alerts() == []  # no new alert, but their messages go out
        watcher.check_alerts()
    finally:
        server.stop()
    assert _outbox(db)["status"].tolist() == ["sent"] * 4
    assert len(mailbox.messages) == 3 and len(hooks.calls) == 1


def test_6_the_certificate_is_checked_and_implicit_tls_works(certificate):
    mailbox = Mailbox()
    port = _free_port()
    server = smtp_server(certificate, port, mailbox, implicit=True)
    settings = SmtpSettings("127.0.0.1", port, "tls", "monitor@example.org", None, None,
                            certificate / "cert.pem", 5)
    try:
        assert channels.send_email(settings, "sam@example.org", "s", "t", "<m@x>").startswith(
            "accepted")
        with pytest.raises(channels.DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"):
            channels.send_email(settings.__class__(**{**_fields(settings), "ca_file": None}),
                                "sam@example.org", "s", "t", "<m@y>")
    finally:
        server.stop()
    assert len(mailbox.messages) == 1


def _fields(settings) -> dict:
    return {f: getattr(settings, f) for f in settings.__slots__}


def test_7_the_signature_is_standard_webhooks_published_vector():
    # standardwebhooks.com spec and svix's library tests: this secret, id, time and body
    key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert channels.signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected
    headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
               "webhook-signature": f"v1,bm9wZQ== {expected}"}
    assert channels.verify(key, headers, body, now=1614265330 + 299)
    assert not channels.verify(key, headers, body, now=1614265330 + 301)  # a replay
    assert not channels.verify(key, headers, body + b" ", now=1614265330)


@pytest.mark.parametrize("extra, message", [
    ('[notify.smtp]\nhost = "m"\nfrom = "a@b"\nsecurity = "none"', "never sent in clear text"),
    ('[[webhook]]\nid = "w"\nurl = "http://hooks.example.org/x"\nsecret_env = "X"',
     "url must be https"),
    ('[notify]\ndashboard_url = "https://d"\n[[subscription]]\nuser = "nobody"\nrole = "dsmb"'
     '\nemail = "n@b"', "is no \\[\\[local_user\\]\\] or \\[\\[account\\]\\]"),
    ('[notify]\ndashboard_url = "https://d"\n[[subscription]]\nuser = "sam"\n'
     'role = "safety_officer"\nemail = "s@b"', "needs a \\[notify.smtp\\] server"),
    ('[[subscription]]\nuser = "sam"\nrole = "safety_officer"\nwebhook = "none"',
     "webhook 'none' is no"),
])  # fmt: skip
def test_8_a_bad_notification_entry_is_refused_naming_it(extra, message):
    text = (ROOT / "data" / "access.toml").read_text(encoding="utf-8") + "\n" + extra
    with pytest.raises(ConfigError, match=message):
        parse_access_config(tomllib.loads(text))
