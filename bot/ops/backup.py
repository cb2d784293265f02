"""`python -m bot backup FILE`: a consistent copy of the SQLite database, safe while the bot runs."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from bot.config import Settings
from bot.store import StoreUnavailable
from bot.store.sqlite import backup_database
from bot.store.sqlite.files import lock_path

# The files SQLite (and Encore's lock) keep beside the database: writing a copy over any of them loses writes.
SIDECARS = ("-wal", "-shm", "-journal")


def live_file(target: Path, database: Path) -> Path | None:
    """Which of the database's own files `target` is (by real path, symlinks resolved, or as the same file on
    disk: device and inode), or None for a file that is safe to write."""
    bases = {database.absolute(), database.resolve()}
    live = [*bases, *(base.with_name(base.name + suffix) for base in bases for suffix in SIDECARS)]
    live += [lock_path(base) for base in bases]
    real = target.resolve()
    try:
        status = os.stat(target)
    except OSError:
        status = None
    for path in live:
        if real == path.resolve():
            return path
        with contextlib.suppress(OSError):
            other = os.stat(path)
            if status is not None and (status.st_dev, status.st_ino) == (other.st_dev, other.st_ino):
                return path
    return None


def backup(settings: Settings, target: Path) -> int:
    """Copy the database to `target` (replacing it); print one line saying what was written; return the exit code.

    PostgreSQL has its own tool for consistent copies of a running database: the line says to use it.
    """
    if settings.database_url:
        print(
            "encore: backup: DATABASE_URL is set: back PostgreSQL up with pg_dump (pg_dump -Fc URL > FILE)",
            file=sys.stderr,
        )
        return 1
    if (live := live_file(target, settings.database_path)) is not None:
        print(
            f"encore: backup: {target} is the database's own file {live}: writing the copy there would lose what "
            "the bot writes next; choose a file elsewhere",
            file=sys.stderr,
        )
        return 1
    if target.is_dir() or not target.parent.is_dir():
        print(f"encore: backup: {target} must be a file in an existing folder", file=sys.stderr)
        return 1
    try:
        tasks = backup_database(settings.database_path, target)
    except StoreUnavailable as error:
        print(f"encore: DATABASE_PATH={settings.database_path}: {error}", file=sys.stderr)
        return 1
    size_mb = target.stat().st_size / 1_000_000
    print(f"encore: backup of {settings.database_path} written to {target} ({tasks} tasks, {size_mb:.1f} MB)")
    return 0
