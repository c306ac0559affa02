"""The one tree of errors the library raises; each message is one sentence a safety officer can act on."""


class SafetyError(Exception):
    """Base class for every error the safety library raises on purpose."""


class ConfigError(SafetyError):
    """A study configuration file is missing, malformed or inconsistent."""


class StoreError(SafetyError):
    """The database is missing, locked for too long, or has the wrong schema version."""


class IngestError(SafetyError):
    """A delivered file cannot be read at all (bad rows are quarantined instead)."""


class OutcomesError(SafetyError):
    """An outcome string such as "1NNT 2NNN" cannot be parsed."""


class DesignError(SafetyError):
    """An escalation design was given parameters outside their valid range."""


class AdjudicationError(SafetyError):
    """A DLT adjudication is incomplete (no reason, no event) or names an unknown event."""


class ReviewError(SafetyError):
    """A patient review that cannot be recorded: unknown status, subject or reviewer."""


class AlertError(SafetyError):
    """An alert acknowledgement that cannot be recorded: no comment, no reviewer, unknown alert."""


class AccessDenied(SafetyError):
    """The acting user's roles do not allow this act or this read (or nobody is signed in)."""


class SignatureError(SafetyError):
    """An act that needs an electronic signature (21 CFR 11.50) has none, or not a valid one."""


class AuditError(StoreError):
    """The audit trail's hash chain is broken: an entry was changed or removed."""
