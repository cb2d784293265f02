"""The database file seen from outside the connection: the one-process lock, an operator's look, online backups.

SQLite lets any number of processes open one file, but Encore's claims (submit at most once) assume one process:
`DatabaseLock` makes a second Encore on the same file refuse to start. `inspect_database` and `backup_database`
read the file with plain sqlite3 and never take that lock, so they work while the bot runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bot.store import StoreUnavailable

LOCK_TIMEOUT_SECONDS = 5.0
SQLITE_CAUSES = {
    "file is not a database": "is not an SQLite database",
    "attempt to write a readonly database": "cannot be written (a read-only file or folder)",
    "database is locked": "is locked by another program, which holds its write lock",
    "unable to open database file": "cannot be opened (check the folder and file permissions)",
}


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


def describe(error: sqlite3.Error) -> str:
    """One line for the operator: what is wrong with the file, with SQLite's own words."""
    text = str(error)
    cause = next((cause for known, cause in SQLITE_CAUSES.items() if known in text.lower()), "gave an SQLite error")
    return f"{cause} ({text})"


def check_path(database: Path) -> None:
    """Refuse a folder given as the database, and create the database's folder when it is missing."""
    if database.is_dir():
        raise StoreUnavailable("is a folder, not a database file")
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreUnavailable(f"cannot create its folder {database.parent} ({error.strerror})") from None


class DatabaseLock:
    """An exclusive `flock` on `<database>.lock`, held while the store is open; the kernel drops it on exit."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, database: Path) -> DatabaseLock:
        path = lock_path(database)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise StoreUnavailable(f"cannot write in its folder {path.parent} ({error.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreUnavailable(
                "another Encore is running on this database (SQLite is for one process): stop it first, "
                "or give this one its own DATABASE_PATH"
            ) from None
        return cls(fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def in_use(database: Path) -> bool:
    """Whether a running Encore holds the database's lock (tested without taking it for longer than a moment)."""
    try:
        fd = os.open(lock_path(database), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@dataclass(frozen=True, slots=True)
class DatabaseInfo:
    """What `python -m bot check` reports of the database."""

    exists: bool
    size_bytes: int = 0
    schema_version: int = 0
    task_counts: dict[str, int] | None = None
    results_channels: dict[int, int] | None = None  # guild id -> configured results channel id
    in_use: bool = False


def _open_existing(database: Path) -> sqlite3.Connection:
    """A connection to a file that must already exist (mode=rw never creates one), in autocommit mode."""
    return sqlite3.connect(f"file:{database}?mode=rw", uri=True, timeout=LOCK_TIMEOUT_SECONDS, isolation_level=None)


def inspect_database(database: Path) -> DatabaseInfo:
    """Read the database as an operator would, and probe that it can be written; StoreUnavailable if not."""
    if database.is_dir():
        raise StoreUnavailable("is a folder, not a database file")
    if not database.exists():
        return DatabaseInfo(exists=False)
    try:
        with contextlib.closing(_open_existing(database)) as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            counts = dict(db.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status")) if "tasks" in tables else {}
            channels = (
                dict(db.execute("SELECT guild_id, results_channel_id FROM guild_settings WHERE results_channel_id"))
                if "guild_settings" in tables
                else {}
            )
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
    except sqlite3.Error as error:
        raise StoreUnavailable(describe(error)) from None
    return DatabaseInfo(
        exists=True,
        size_bytes=database.stat().st_size,
        schema_version=version,
        task_counts=counts,
        results_channels=channels,
        in_use=in_use(database),
    )


def backup_database(database: Path, target: Path) -> int:
    """Copy the database with SQLite's online backup API into `target`; return the copy's number of tasks.

    One backup step reads a single snapshot, so the copy is consistent even while the bot writes (WAL lets the
    reader and the writer go on together). It is written beside `target` and renamed into place when complete.
    """
    if not database.is_file():
        raise StoreUnavailable(f"no database file at {database}")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with (
            contextlib.closing(_open_existing(database)) as source,
            contextlib.closing(sqlite3.connect(partial)) as copy,
        ):
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            if (check := copy.execute("PRAGMA quick_check").fetchone()[0]) != "ok":
                raise StoreUnavailable(f"the copy failed its integrity check: {check}")
            tasks = int(copy.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise StoreUnavailable(describe(error)) from None
    os.replace(partial, target)
    return tasks
