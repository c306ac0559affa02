"""Who may read the files the product writes: the owner only, or the owner's group too when
``$SAFETY_GROUP_ACCESS`` is ``1`` (a watcher and a dashboard running as two accounts of one
group). Database files and report folders are made so (:func:`restrict`); the entry points also
set the process umask (:func:`private_umask`), which covers DuckDB's write-ahead log and every
other file they create.
"""

from __future__ import annotations

import os
from pathlib import Path


def group_access() -> bool:
    """Whether files are shared with the owner's group (``$SAFETY_GROUP_ACCESS=1``)."""
    return os.environ.get("SAFETY_GROUP_ACCESS") == "1"


def private_umask() -> None:
    """Set the process umask: new files are the owner's (and the group's, if configured) only."""
    os.umask(0o007 if group_access() else 0o077)


def restrict(path: Path) -> None:
    """Make one file or folder the owner's (and the group's, if configured) only."""
    if path.is_dir():
        path.chmod(0o770 if group_access() else 0o700)
    else:
        path.chmod(0o660 if group_access() else 0o600)
