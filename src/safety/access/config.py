"""The access configuration (``data/access.toml``, or ``$SAFETY_ACCESS``): how people sign in,
and which identity-provider groups, local demo users and command-line accounts get which roles,
per study. Read once into frozen objects; a bad file is refused naming the file, the entry and
what was expected, as study configurations are.

Sign-in modes
-------------
- ``oidc``: Streamlit's ``st.login`` against the identity provider set in
  ``.streamlit/secrets.toml`` (``[auth]``); the user's groups come from an ID-token claim
  (``groups_claim``) and are mapped to roles by the ``[[grant]]`` entries.
- ``local``: no identity provider, for trying the demo on one computer. Only when the file says
  so; the dashboard then says so on every page, serves only the loopback address, and offers
  the fixed ``[[local_user]]`` demo users, whose electronic signatures take a signature
  password (stored as a scrypt hash).

The command line never signs in: it is the operating-system account running it, or a service
holding a token (``$SAFETY_SERVICE_TOKEN``, stored as its sha256), mapped by ``[[account]]``
entries to groups and so to the same grants.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safety.access.roles import ALL_STUDIES, Grant, Role, User
from safety.access.subscriptions import NotifyConfig, Subscription, parse_notify
from safety.errors import ConfigError

ACCESS_FILE = Path(__file__).resolve().parents[3] / "data" / "access.toml"
MODES = ("local", "oidc")
ANY_OS_USER = "*"  # local mode only: every operating-system account
SERVICE_TOKEN_ENV = "SAFETY_SERVICE_TOKEN"


@dataclass(frozen=True, slots=True)
class GroupGrant:
    """``[[grant]]``: members of ``group`` hold ``role`` in ``study_id`` (at ``sites``)."""

    group: str
    study_id: str
    role: Role
    sites: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class LocalUser:
    """``[[local_user]]``: a demo user of local mode, with a hashed signature password."""

    id: str
    name: str
    groups: tuple[str, ...]
    signature_password: str  # "scrypt$n$r$p$salt$hash" (safety.access.signatures)


@dataclass(frozen=True, slots=True)
class Account:
    """``[[account]]``: a command-line identity, an OS account or a service with a token."""

    id: str
    name: str
    groups: tuple[str, ...]
    os_user: str | None
    token_sha256: str | None
    signature_password: str | None = None  # OS accounts: signs at the command line


@dataclass(frozen=True, slots=True)
class AccessConfig:
    """The whole access configuration, validated."""

    mode: str
    id_claim: str
    name_claim: str
    groups_claim: str
    grants: tuple[GroupGrant, ...]
    local_users: tuple[LocalUser, ...]
    accounts: tuple[Account, ...]
    source: str
    notify: NotifyConfig | None = None  # [notify], [[webhook]], [[subscription]]

    @property
    def local(self) -> bool:
        return self.mode == "local"

    def grants_for(self, groups: Iterable[str]) -> tuple[Grant, ...]:
        """The grants of a member of these groups (each grant once)."""
        mine = set(groups)
        found = {Grant(g.study_id, g.role, g.sites) for g in self.grants if g.group in mine}
        return tuple(sorted(found, key=lambda g: (g.study_id, list(Role).index(g.role))))

    def user_from_claims(self, claims: Mapping[str, Any]) -> User:
        """The signed-in user from the identity provider's ID-token claims (``st.user``)."""
        uid = claims.get(self.id_claim)
        if not uid:
            raise ConfigError(
                f"{self.source}: the identity provider sent no {self.id_claim!r} claim "
                "(sign_in.id_claim)"
            )
        groups = claims.get(self.groups_claim) or []
        groups = [groups] if isinstance(groups, str) else list(groups)
        name = claims.get(self.name_claim) or claims.get("email") or str(uid)
        return User(str(uid), str(name), self.grants_for(groups), "oidc")

    def local_user(self, user_id: str) -> User:
        """A local-mode demo user by id."""
        for u in self.local_users:
            if u.id == user_id:
                return User(u.id, u.name, self.grants_for(u.groups), "local")
        raise ConfigError(f"{self.source}: no local user {user_id!r}")

    def subscriber(self, subscription: Subscription) -> User:
        """The subscriber as a user holding only the subscription's role (and only where her
        groups grant it): what a message may tell her."""
        groups = subscription.groups
        if groups is None:
            groups = next((u.groups for u in self.local_users if u.id == subscription.user),
                          None)
            groups = groups if groups is not None else next(
                (a.groups for a in self.accounts if a.id == subscription.user), ())
        grants = tuple(g for g in self.grants_for(groups) if g.role == subscription.role)
        return User(subscription.user, subscription.name, grants, "subscription")

    def signature_hash(self, user: User) -> str | None:
        """The stored signature password of a local demo user, or of the command line's OS
        account (``[[account]] signature_password``); None for anyone else."""
        if user.source == "local":
            return next((u.signature_password for u in self.local_users if u.id == user.id),
                        None)
        if user.source == "os":
            for a in self.accounts:
                if a.os_user in (user.id, ANY_OS_USER):
                    return a.signature_password
        return None

    def command_line_user(self, os_user: str, token: str | None = None) -> User:
        """The command line's user: the service whose token is given, else the OS account.

        An OS account with no ``[[account]]`` entry gets no role (every act is refused, naming
        it); a token that matches no service is refused at once.
        """
        if token:
            digest = hashlib.sha256(token.encode()).hexdigest()
            for a in self.accounts:
                if a.token_sha256 == digest:
                    return User(a.id, a.name, self.grants_for(a.groups), "service")
            raise ConfigError(f"${SERVICE_TOKEN_ENV} matches no service account in {self.source}")
        for a in self.accounts:
            if a.os_user in (os_user, ANY_OS_USER):
                name = a.name if a.os_user == os_user else os_user
                uid = a.id if a.os_user == os_user else os_user
                return User(uid, name, self.grants_for(a.groups), "os")
        return User(os_user, os_user, (), "os")


def access_file() -> Path:
    """``$SAFETY_ACCESS`` if set, else ``data/access.toml``."""
    env = os.environ.get("SAFETY_ACCESS")
    return Path(env) if env else ACCESS_FILE


def load_access_config(path: str | Path | None = None) -> AccessConfig:
    """The access configuration (re-read when the file changes)."""
    path = Path(path) if path else access_file()
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise ConfigError(f"the access configuration {path} cannot be read: {exc.strerror}") from exc
    return _load(str(path), stamp)


@functools.lru_cache(maxsize=8)
def _load(path: str, _stamp: int) -> AccessConfig:
    name = Path(path).name
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from exc
    return parse_access_config(data, name)


def parse_access_config(data: Mapping[str, Any], name: str = "access.toml") -> AccessConfig:
    """Validate the parsed TOML; raises ConfigError naming the entry and the expectation."""
    sign_in = _table(data, "sign_in", name)
    mode = sign_in.get("mode")
    if mode not in MODES:
        raise ConfigError(f'{name}: [sign_in] mode must be "local" or "oidc", got {mode!r}')
    claims = {k: _text(sign_in, k, f"{name}: [sign_in]", default)
              for k, default in (("id_claim", "sub"), ("name_claim", "name"),
                                 ("groups_claim", "groups"))}  # fmt: skip
    grants = tuple(_grant(e, f"{name}: [[grant]] {i}") for i, e in _entries(data, "grant", name))
    local_users = tuple(
        _local_user(e, f"{name}: [[local_user]] {i}") for i, e in _entries(data, "local_user", name)
    )
    accounts = tuple(
        _account(e, f"{name}: [[account]] {i}") for i, e in _entries(data, "account", name)
    )
    if mode != "local":
        if local_users:
            raise ConfigError(f'{name}: [[local_user]] entries need [sign_in] mode = "local"')
        if any(a.os_user == ANY_OS_USER for a in accounts):
            raise ConfigError(f'{name}: os_user = "*" (any account) needs mode = "local"')
    elif not local_users:
        raise ConfigError(f"{name}: local mode needs at least one [[local_user]]")
    ids = [u.id for u in local_users]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{name}: [[local_user]] ids must be unique, got {ids}")
    known = {u.id: u.name for u in local_users} | {a.id: a.name for a in accounts}
    return AccessConfig(mode, claims["id_claim"], claims["name_claim"], claims["groups_claim"],
                        grants, local_users, accounts, name,
                        parse_notify(data, name, known))  # fmt: skip


def _table(data: Mapping, key: str, name: str) -> Mapping:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}: a [{key}] table is required")
    return value


def _entries(data: Mapping, key: str, name: str) -> list[tuple[int, Mapping]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(e, Mapping) for e in value):
        raise ConfigError(f"{name}: {key} must be a list of [[{key}]] tables")
    return list(enumerate(value, start=1))


def _text(entry: Mapping, key: str, where: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} {key} must be a non-empty text, got {value!r}")
    return value.strip()


def _texts(entry: Mapping, key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where} {key} must be a list of texts, got {value!r}")
    return tuple(value)


def _grant(entry: Mapping, where: str) -> GroupGrant:
    role = entry.get("role")
    if role not in set(Role):
        raise ConfigError(f"{where} role must be one of {', '.join(Role)}, got {role!r}")
    sites = entry.get("sites")
    if sites is not None:
        sites = frozenset(_texts(entry, "sites", where))
    elif role == Role.INVESTIGATOR:
        raise ConfigError(f"{where} an investigator's grant names her sites (sites = [...])")
    return GroupGrant(_text(entry, "group", where), _text(entry, "study", where, ALL_STUDIES),
                      Role(role), sites)  # fmt: skip


def _signature_password(entry: Mapping, where: str) -> str:
    password = _text(entry, "signature_password", where)
    if not password.startswith("scrypt$"):
        raise ConfigError(f"{where} signature_password must be a scrypt hash "
                          "(python -m safety access hash-password), not the password itself")
    return password


def _local_user(entry: Mapping, where: str) -> LocalUser:
    password = _signature_password(entry, where)
    return LocalUser(_text(entry, "id", where), _text(entry, "name", where),
                     _texts(entry, "groups", where), password)  # fmt: skip


def _account(entry: Mapping, where: str) -> Account:
    os_user, service = entry.get("os_user"), entry.get("service")
    if (os_user is None) == (service is None):
        raise ConfigError(f"{where} names either os_user or service (with token_sha256)")
    groups = _texts(entry, "groups", where)
    if os_user is not None:
        os_user = _text(entry, "os_user", where)
        password = (_signature_password(entry, where) if "signature_password" in entry
                    else None)
        return Account(os_user, entry.get("name") or os_user, groups, os_user, None, password)
    token = _text(entry, "token_sha256", where).lower()
    if len(token) != 64 or any(c not in "0123456789abcdef" for c in token):
        raise ConfigError(f"{where} token_sha256 must be 64 hex digits (sha256 of the token)")
    service = _text(entry, "service", where)
    return Account(service, entry.get("name") or service, groups, None, token)
