"""Identity, roles and electronic signatures: who is acting (:class:`User`), what their roles
allow (:func:`require`), how the configuration maps identity-provider groups, local demo users
and command-line accounts to roles per study (:mod:`.config`), and the signatures that signed
acts need (:mod:`.signatures`)."""

import os
import pwd

from safety.access.config import (
    SERVICE_TOKEN_ENV,
    AccessConfig,
    access_file,
    load_access_config,
    parse_access_config,
)
from safety.access.roles import (
    ACTION_PHRASES,
    ALL_STUDIES,
    PERMISSIONS,
    ROLE_TITLES,
    SITE_SCOPED,
    Action,
    Grant,
    Role,
    User,
    require,
)
from safety.access.signatures import (
    MEANINGS,
    Signature,
    check_signature,
    sign_with_password,
    sign_with_reauthentication,
)


def os_account() -> str:
    """The operating-system account running this process (the effective uid, never an
    environment variable such as $USER, which anyone can set)."""
    return pwd.getpwuid(os.geteuid()).pw_name


def command_line_user(config: AccessConfig | None = None) -> User:
    """Who the command line acts as: the service of ``$SAFETY_SERVICE_TOKEN`` if set, else the
    OS account, mapped to roles by the access configuration."""
    config = config or load_access_config()
    return config.command_line_user(os_account(), os.environ.get(SERVICE_TOKEN_ENV))


__all__ = [
    "ACTION_PHRASES", "ALL_STUDIES", "MEANINGS", "PERMISSIONS", "ROLE_TITLES", "SITE_SCOPED",
    "AccessConfig", "Action", "Grant", "Role", "Signature", "User", "access_file",
    "check_signature", "command_line_user", "load_access_config", "os_account",
    "parse_access_config", "require", "sign_with_password", "sign_with_reauthentication",
]  # fmt: skip
