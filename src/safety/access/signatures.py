"""Electronic signatures for the acts that change the record: DLT adjudication, alert
acknowledgement, delivery confirmation or retraction, report sign-off.

A signature is made by the signer proving she is present *now*: re-authentication with the
identity provider (``prompt=login``, ``max_age=0``: a fresh ``auth_time``), or in local mode the
demo user's signature password. It carries what 21 CFR 11.50 asks a signed record to show: the
printed name of the signer, the date and time, and the meaning ("I confirm this event as a
DLT"). The act's function checks it (:func:`check_signature`: the signer is the acting user,
the meaning is the act's, it is fresh and used once) and stores it beside the record it signs
(table ``signature``), so it cannot be moved to another record (11.70).

A :class:`Signature` is sealed with a key of this process: only :func:`sign_with_password` and
:func:`sign_with_reauthentication` make valid ones, so an act cannot be passed a signature
assembled by hand.

References
----------
21 CFR 11.50 (signature manifestations), 11.70 (signature/record linking), 11.200(a)
(non-biometric signatures: identification code and password; re-entered for each signing
outside one continuous session). Django's ``ScryptPasswordHasher`` for the scrypt parameters
(N = 2^14, r = 8, p = 1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from safety.access.config import AccessConfig
from safety.access.roles import User
from safety.errors import SignatureError

SIGNATURE_VALIDITY = timedelta(minutes=5)  # sign, then act: one short continuous session
CLOCK_SKEW = timedelta(seconds=5)  # tolerated difference between our clock and the provider's
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # Django's ScryptPasswordHasher defaults
REAUTHENTICATION = "reauthentication"
SIGNATURE_PASSWORD = "signature password"

# The meaning of each signed act (21 CFR 11.50(a)(3)), keyed by its audit action.
MEANINGS = {
    "dlt.confirm": "I confirm this event as a DLT",
    "dlt.reject": "I confirm this event is not a DLT",
    "dlt.add": "I record this event as a DLT",
    "alert.acknowledge": "I have reviewed this alert and acknowledge it",
    "delivery.confirm": "I confirm this delivery for use in the study",
    "delivery.retract": "I retract this delivery from the study",
    "report.sign": "I approve this DSMB report for release to the committee",
}

_KEY = secrets.token_bytes(32)  # seals signatures made in this process
_used: dict[str, datetime] = {}  # seal -> signed at; forgotten once too old to be used anyway
_used_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Signature:
    """A signature made just now by ``signer_id``; ``evidence`` (JSON) says how it was proven."""

    signer_id: str
    signer_name: str
    meaning: str
    signed_at: datetime  # UTC, no tzinfo
    method: str
    evidence: str
    seal: str = field(repr=False)

    def describe(self) -> str:
        """``Sam Safety, 2021-01-16 09:30 UTC: I confirm this event as a DLT``."""
        return f"{self.signer_name}, {self.signed_at:%Y-%m-%d %H:%M} UTC: {self.meaning}"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _seal(signer_id: str, name: str, meaning: str, at: datetime, method: str, evidence: str) -> str:
    text = json.dumps([signer_id, name, meaning, at.isoformat(), method, evidence])
    return hmac.new(_KEY, text.encode(), hashlib.sha256).hexdigest()


def _make(user: User, meaning: str, at: datetime, method: str, evidence: dict) -> Signature:
    if meaning not in MEANINGS.values():
        raise SignatureError(f"unknown signature meaning {meaning!r}")
    text = json.dumps(evidence, sort_keys=True)
    return Signature(user.id, user.name, meaning, at, method, text,
                     _seal(user.id, user.name, meaning, at, method, text))  # fmt: skip


def hash_signature_password(password: str, salt: bytes | None = None) -> str:
    """A signature password as stored in the access configuration: ``scrypt$n$r$p$salt$hash``."""
    if not password:
        raise SignatureError("a signature password cannot be empty")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            dklen=32)  # fmt: skip
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_signature_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches the stored scrypt hash (constant-time comparison)."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), dklen=len(expected), maxmem=2**27)  # fmt: skip
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def sign_with_password(
    user: User, meaning: str, password: str, config: AccessConfig, now: datetime | None = None
) -> Signature:
    """The signer re-enters her signature password (21 CFR 11.200(a): an identification and a
    password): a demo user in local mode, or the command line's OS account when its
    ``[[account]]`` has a ``signature_password``.

    Raises SignatureError for anyone else (identity-provider users sign by re-authenticating;
    services never sign), or when the password is wrong.
    """
    if user.source == "local" and not config.local:
        raise SignatureError("local demo users exist only in local mode: nothing signed")
    stored = config.signature_hash(user)
    if stored is None:
        raise SignatureError(
            f"{user.name} has no signature password: identity-provider users sign by "
            "re-authenticating in the dashboard; an OS account needs signature_password in its "
            "[[account]] entry (python -m safety access hash-password)")
    if not verify_signature_password(stored, password or ""):
        raise SignatureError(f"the signature password of {user.name} is not correct: nothing signed")
    return _make(user, meaning, now or _now(), SIGNATURE_PASSWORD, {"user": user.id})


def sign_with_reauthentication(
    user: User,
    meaning: str,
    claims: Mapping[str, Any],
    requested_at: datetime,
    config: AccessConfig,
    now: datetime | None = None,
) -> Signature:
    """Identity-provider mode: the user has just signed in again (``prompt=login``,
    ``max_age=0``); ``claims`` are the new ID token's (``st.user``).

    The signature is the re-authentication's: same subject as the acting user, ``auth_time``
    after the signature was asked for and within :data:`SIGNATURE_VALIDITY` of now.

    Raises SignatureError otherwise (another person signed in, an old session, no auth_time).
    """
    now = now or _now()
    signer = claims.get(config.id_claim)
    if str(signer) != user.id:
        raise SignatureError(
            f"the re-authentication was by {signer!r}, not by {user.id!r}: nothing signed"
        )
    try:
        at = datetime.fromtimestamp(int(claims["auth_time"]), UTC).replace(tzinfo=None)
    except (KeyError, TypeError, ValueError) as exc:
        raise SignatureError("the identity provider sent no auth_time: nothing signed") from exc
    if at < requested_at - CLOCK_SKEW or now - at > SIGNATURE_VALIDITY:
        raise SignatureError(
            "the identity provider did not ask for the password again (its sign-in is older "
            "than the signature request): nothing signed"
        )
    evidence = {k: claims.get(k) for k in ("iss", "auth_time", "amr", "acr") if claims.get(k)}
    return _make(user, meaning, at, REAUTHENTICATION, evidence)


def check_signature(
    signature: Signature | None, user: User, act: str, now: datetime | None = None
) -> Signature:
    """The check every signed act makes before it writes; returns the signature.

    Raises
    ------
    SignatureError
        No signature, one made elsewhere or by hand, by someone else, with another meaning,
        older than :data:`SIGNATURE_VALIDITY`, or already used.
    """
    meaning = MEANINGS[act]
    if not isinstance(signature, Signature):
        raise SignatureError(
            f"{act} needs an electronic signature ({meaning!r}): re-authenticate (or give the "
            "signature password in local mode)"
        )
    s = signature
    if not hmac.compare_digest(s.seal, _seal(s.signer_id, s.signer_name, s.meaning, s.signed_at,
                                             s.method, s.evidence)):  # fmt: skip
        raise SignatureError("this signature was not made by signing in this session: nothing recorded")
    if s.signer_id != user.id:
        raise SignatureError(f"signed by {s.signer_id!r}, but {user.id!r} is acting: nothing recorded")
    if s.meaning != meaning:
        raise SignatureError(f"signed to mean {s.meaning!r}, but {act} means {meaning!r}")
    age = (now or _now()) - s.signed_at
    if age > SIGNATURE_VALIDITY or age < -CLOCK_SKEW:
        raise SignatureError(
            f"the signature is {int(age.total_seconds())} s old; sign again (valid for "
            f"{int(SIGNATURE_VALIDITY.total_seconds() // 60)} minutes)"
        )
    with _used_lock:
        if s.seal in _used:
            raise SignatureError("this signature has been used already: sign each act")
        for seal in [k for k, at in _used.items() if at < s.signed_at - 2 * SIGNATURE_VALIDITY]:
            del _used[seal]
        _used[s.seal] = s.signed_at
    return s
