"""`python -m bot backup FILE`: a consistent copy of the SQLite database, safe while the bot runs."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.config import Settings
from bot.store import StoreUnavailable
from bot.store.sqlite import backup_database


def backup(settings: Settings, target: Path) -> int:
    """Copy the database to `target` (replacing it); print one line saying what was written; return the exit code."""
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
