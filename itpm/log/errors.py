"""When the project log's database refuses a read or write: ``ProjectLogError``, saying which file, what, and the fix.

Only a lock held past the busy timeout and a full (or failing) disk are explained; any other database error is
a bug and passes through as it is. The events committed before the refusal stay as they were.

>>> explained(error, "sqlite:////var/lib/itpm/project-log.sqlite", "write run r1's host_applied event", 30)
... # doctest: +SKIP
ProjectLogError('the project log /var/lib/itpm/project-log.sqlite is locked by another writer: ...')
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from sqlalchemy import exc

from itpm.errors import ItpmError

__all__ = ["ProjectLogError", "explained", "nearly_full"]


class ProjectLogError(ItpmError):
    """The project log's database refused a read or write: locked by another writer past the busy timeout, or full.

    The message names the database, what was being done and the cause; nothing committed before is lost.
    """


def explained(error: exc.OperationalError, url: str, doing: str, busy_timeout_s: float) -> ProjectLogError | None:
    """Return what ``error`` means for a person, or None when it is not a lock or a full disk (then it is a bug)."""
    cause = error.orig
    if not isinstance(cause, sqlite3.OperationalError):
        return None
    path = url.removeprefix("sqlite:///")
    directory = Path(path).parent
    code = cause.sqlite_errorcode & 0xFF  # the primary code of an extended one (SQLITE_IOERR_SHMSIZE -> SQLITE_IOERR)
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return ProjectLogError(
            f"the project log {path} is locked by another writer: could not {doing} within the "
            f"{busy_timeout_s:g} s busy timeout ({cause})",
            fix=f"end the other writer's transaction (fuser -v {path} lists the processes that have it open); "
            "ITPM_LOG_BUSY_TIMEOUT_SECONDS sets how long a writer waits",
        )
    # A full disk is SQLITE_FULL when the log cannot grow, but a disk I/O error when SQLite cannot even size the
    # shared-memory file it needs to open the log in WAL mode (SQLITE_IOERR_SHMSIZE): then the free space tells.
    if code == sqlite3.SQLITE_FULL or (code == sqlite3.SQLITE_IOERR and nearly_full(directory)):
        return ProjectLogError(
            f"no space left in the state directory {directory} for the project log {path}: could not {doing} ({cause})",
            fix=f"free space in {directory} (df -h {directory}); the events logged before are intact",
        )
    if code == sqlite3.SQLITE_IOERR:
        return ProjectLogError(
            f"the project log {path} could not {doing}: {cause} ({cause.sqlite_errorname})",
            fix=f"check the file system of {directory} (dmesg, df -h {directory})",
        )
    return None


# Less free space than this is a full disk for SQLite: it grows its files by pages and shared-memory blocks.
_NEARLY_FULL_BYTES = 1 << 20


def nearly_full(directory: Path) -> bool:
    """Return whether the disk of ``directory`` has too little space left for SQLite (under 1 MiB) to grow."""
    try:
        return shutil.disk_usage(directory).free < _NEARLY_FULL_BYTES
    except OSError:
        return False
