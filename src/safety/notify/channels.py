"""The two ways out: e-mail over SMTP with TLS, and signed webhooks.

**E-mail**: ``starttls`` (RFC 3207, submission on port 587) or ``tls`` (implicit TLS, RFC 8314,
port 465), the server's certificate always verified (``ssl.create_default_context``: hostname
and chain, against ``ca_file`` or the system's CAs); plain text only, with a ``Message-ID`` that
is the same for every attempt of one message, so a receiving system can tell a repeat.

**Webhooks** follow the Standard Webhooks specification (standardwebhooks.com, v1): a JSON body
and three headers, ``webhook-id`` (the message's id, the same on every retry: the receiver's
idempotency key), ``webhook-timestamp`` (Unix seconds when sent) and ``webhook-signature``
(``v1,`` + base64 of HMAC-SHA256 over ``id.timestamp.body`` with the endpoint's secret). A
receiver recomputes it, compares in constant time and refuses a timestamp more than five
minutes from its clock (replay). Any 2xx answer is a delivery; redirects are not followed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate

import httpx

from safety.access.subscriptions import SmtpSettings, Webhook

REPLAY_TOLERANCE_SECONDS = 300  # Standard Webhooks' recommended window
WEBHOOK_TIMEOUT_SECONDS = 10.0


class DeliveryFailed(Exception):
    """A message did not get through this time (the outbox tries again)."""


def send_email(smtp: SmtpSettings, to: str, subject: str, text: str, message_id: str) -> str:
    """Send one plain-text e-mail; returns the server's answer. Raises DeliveryFailed."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = smtp.sender, to, subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id
    msg.set_content(text)
    context = ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)
    try:
        if smtp.security == "tls":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=context)
            if smtp.username:
                client.login(smtp.username, smtp.password() or "")
            refused = client.send_message(msg)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if refused:
        raise DeliveryFailed(f"refused by the server: {refused}")
    return f"accepted by {smtp.host}:{smtp.port}"


def signature(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks' ``v1`` signature of a body."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify(key: bytes, headers: dict[str, str], body: bytes, now: float | None = None) -> bool:
    """What a receiver checks: one of the signatures matches and the timestamp is recent."""
    try:
        webhook_id, stamp = headers["webhook-id"], int(headers["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - stamp) > REPLAY_TOLERANCE_SECONDS:
        return False
    expected = signature(key, webhook_id, stamp, body)
    return any(hmac.compare_digest(expected, s) for s in headers.get(
        "webhook-signature", "").split())


def post_webhook(hook: Webhook, webhook_id: str, body: str) -> str:
    """POST one signed JSON body; returns the answer's status. Raises DeliveryFailed."""
    data = body.encode()
    stamp = int(time.time())
    headers = {"content-type": "application/json", "webhook-id": webhook_id,
               "webhook-timestamp": str(stamp),
               "webhook-signature": signature(hook.key(), webhook_id, stamp, data),
               "user-agent": "safety-monitor"}  # fmt: skip
    context = ssl.create_default_context(cafile=str(hook.ca_file) if hook.ca_file else None)
    try:
        answer = httpx.post(hook.url, content=data, headers=headers, verify=context,
                            timeout=WEBHOOK_TIMEOUT_SECONDS, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= answer.status_code < 300:
        raise DeliveryFailed(f"HTTP {answer.status_code} from {hook.id}")
    return f"HTTP {answer.status_code} from {hook.id}"
