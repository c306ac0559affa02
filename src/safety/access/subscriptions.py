"""Who hears about alerts, and how: the ``[notify]``, ``[[webhook]]`` and ``[[subscription]]``
entries of the access configuration, beside the users and roles they depend on.

A subscription is one person's (or service's) wish: alerts of a study (``"*"``: every study)
at a severity or more urgent, in the role they hold there, by e-mail or to a webhook. The role
must be one the subscriber's groups grant in the study; what a message may say follows from
that role alone (``safety.notify.messages``). Subscribers are the local demo users and the
command-line accounts by id, or an identity-provider user named with the groups the provider
sends for her (the access file lists groups, not the provider's users).

Secrets never live in the file: the SMTP password and each webhook's signing secret are read
from environment variables the file names (``password_env``, ``secret_env``) when a message is
sent.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from safety.access.roles import ALL_STUDIES, Role
from safety.errors import ConfigError

SEVERITIES = ("critical", "high", "medium", "info")  # most urgent first (safety.monitor.alerts)
SMTP_SECURITY = ("starttls", "tls")  # never in clear text
WEBHOOK_SECRET_PREFIX = "whsec_"  # Standard Webhooks: "whsec_" + base64 of the key
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """``[notify.smtp]``: the mail server. ``security``: ``starttls`` (submission, port 587)
    or ``tls`` (implicit TLS, port 465); the certificate is always checked, against
    ``ca_file`` when given, else the system's CAs."""

    host: str
    port: int
    security: str
    sender: str
    username: str | None
    password_env: str | None
    ca_file: Path | None
    timeout: float

    def password(self) -> str | None:
        return _secret(self.password_env, "[notify.smtp] password_env") if self.password_env \
            else None


@dataclass(frozen=True, slots=True)
class Webhook:
    """``[[webhook]]``: an endpoint receiving signed JSON; ``https`` unless on this computer."""

    id: str
    url: str
    secret_env: str
    ca_file: Path | None = None  # for an https endpoint with a private CA

    def key(self) -> bytes:
        """The signing key: the secret's base64 part (Standard Webhooks' ``whsec_`` format)."""
        secret = _secret(self.secret_env, f"[[webhook]] {self.id} secret_env")
        try:
            key = base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX), validate=True)
        except binascii.Error:
            key = b""
        if not secret.startswith(WEBHOOK_SECRET_PREFIX) or len(key) < 24:
            raise ConfigError(f"${self.secret_env} (webhook {self.id}) must be 'whsec_' and the "
                              "base64 of at least 24 random bytes")
        return key


@dataclass(frozen=True, slots=True)
class Subscription:
    """``[[subscription]]``: ``user`` hears of alerts of ``study_id`` at ``severity`` or more
    urgent, as ``role``, at ``email`` and/or ``webhook`` (a ``[[webhook]]`` id)."""

    user: str
    name: str
    groups: tuple[str, ...] | None  # an identity-provider user: her groups; else looked up
    study_id: str
    role: Role
    severity: str
    email: str | None
    webhook: str | None

    def wants(self, severity: str) -> bool:
        return SEVERITIES.index(severity) <= SEVERITIES.index(self.severity)


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """Everything about notifications; empty when the file has none of it."""

    dashboard_url: str | None
    retry_seconds: float
    retry_max_seconds: float
    smtp: SmtpSettings | None
    webhooks: Mapping[str, Webhook]
    subscriptions: tuple[Subscription, ...]


def parse_notify(data: Mapping[str, Any], name: str, known_users: Mapping[str, str]
                 ) -> NotifyConfig:
    """Validate the notification entries; ``known_users`` maps local user and account ids to
    their names (a subscriber without ``groups`` must be one of them)."""
    notify = data.get("notify", {})
    if not isinstance(notify, Mapping):
        raise ConfigError(f"{name}: [notify] must be a table")
    where = f"{name}: [notify]"
    url = notify.get("dashboard_url")
    if url is not None and (not isinstance(url, str) or urlsplit(url).scheme not in
                            ("http", "https") or not urlsplit(url).netloc):
        raise ConfigError(f"{where} dashboard_url must be the dashboard's http(s) address, "
                          f"got {url!r}")
    retry = _number(notify, "retry_seconds", where, 30)
    retry_max = _number(notify, "retry_max_seconds", where, 3600)
    smtp = _smtp(notify["smtp"], f"{where}.smtp") if "smtp" in notify else None
    webhooks = {}
    for i, entry in _list(data, "webhook", name):
        hook = _webhook(entry, f"{name}: [[webhook]] {i}")
        if hook.id in webhooks:
            raise ConfigError(f"{name}: [[webhook]] ids must be unique, {hook.id!r} is twice")
        webhooks[hook.id] = hook
    subscriptions = tuple(
        _subscription(e, f"{name}: [[subscription]] {i}", known_users, webhooks, smtp)
        for i, e in _list(data, "subscription", name))  # fmt: skip
    if subscriptions and not url:
        raise ConfigError(f"{where} dashboard_url is needed for the links in messages")
    return NotifyConfig(url.rstrip("/") if url else None, retry, retry_max, smtp, webhooks,
                        subscriptions)  # fmt: skip


def _secret(env: str, where: str) -> str:
    value = os.environ.get(env)
    if not value:
        raise ConfigError(f"{where}: the environment variable ${env} is not set")
    return value


def _list(data: Mapping, key: str, name: str) -> list[tuple[int, Mapping]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(e, Mapping) for e in value):
        raise ConfigError(f"{name}: {key} must be a list of [[{key}]] tables")
    return list(enumerate(value, start=1))


def _text(entry: Mapping, key: str, where: str, required: bool = True) -> str | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} {key} must be a non-empty text, got {value!r}")
    return value.strip()


def _number(entry: Mapping, key: str, where: str, default: float) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where} {key} must be a positive number, got {value!r}")
    return float(value)


def _smtp(entry: Any, where: str) -> SmtpSettings:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where} must be a table")
    security = entry.get("security", "starttls")
    if security not in SMTP_SECURITY:
        raise ConfigError(f'{where} security must be "starttls" or "tls" (implicit TLS), '
                          f"got {security!r}; mail is never sent in clear text")
    port = entry.get("port", 587 if security == "starttls" else 465)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"{where} port must be a port number, got {port!r}")
    ca_file = _text(entry, "ca_file", where, required=False)
    if ca_file and not Path(ca_file).is_file():
        raise ConfigError(f"{where} ca_file {ca_file!r} is not a file")
    return SmtpSettings(
        host=_text(entry, "host", where), port=port, security=security,
        sender=_text(entry, "from", where), username=_text(entry, "username", where, False),
        password_env=_text(entry, "password_env", where, False),
        ca_file=Path(ca_file) if ca_file else None,
        timeout=_number(entry, "timeout_seconds", where, 10),
    )  # fmt: skip


def _webhook(entry: Mapping, where: str) -> Webhook:
    url = _text(entry, "url", where)
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http"
                                        and parts.hostname in LOOPBACK_HOSTS):
        raise ConfigError(f"{where} url must be https (http only on this computer), got {url!r}")
    ca_file = _text(entry, "ca_file", where, required=False)
    if ca_file and not Path(ca_file).is_file():
        raise ConfigError(f"{where} ca_file {ca_file!r} is not a file")
    return Webhook(_text(entry, "id", where), url, _text(entry, "secret_env", where),
                   Path(ca_file) if ca_file else None)


def _subscription(entry: Mapping, where: str, known_users: Mapping[str, str],
                  webhooks: Mapping[str, Webhook], smtp: SmtpSettings | None) -> Subscription:
    user = _text(entry, "user", where)
    groups = entry.get("groups")
    if groups is not None:
        if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
            raise ConfigError(f"{where} groups must be a list of texts, got {groups!r}")
        groups = tuple(groups)
    elif user not in known_users:
        raise ConfigError(f"{where} user {user!r} is no [[local_user]] or [[account]]; an "
                          "identity-provider user needs her groups (groups = [...])")
    role = entry.get("role")
    if role not in set(Role):
        raise ConfigError(f"{where} role must be one of {', '.join(Role)}, got {role!r}")
    severity = entry.get("severity", "high")
    if severity not in SEVERITIES:
        raise ConfigError(f"{where} severity must be one of {', '.join(SEVERITIES)}, "
                          f"got {severity!r}")
    email = _text(entry, "email", where, required=False)
    webhook = _text(entry, "webhook", where, required=False)
    if not email and not webhook:
        raise ConfigError(f"{where} needs an email address or a webhook id")
    if email and ("@" not in email or any(c in email for c in " \r\n,<>")):
        raise ConfigError(f"{where} email must be one address, got {email!r}")
    if email and smtp is None:
        raise ConfigError(f"{where} sends e-mail, which needs a [notify.smtp] server")
    if webhook and webhook not in webhooks:
        raise ConfigError(f"{where} webhook {webhook!r} is no [[webhook]] id")
    name = _text(entry, "name", where, required=False) or known_users.get(user, user)
    return Subscription(user, name, groups, _text(entry, "study", where, False) or ALL_STUDIES,
                        Role(role), severity, email, webhook)  # fmt: skip
