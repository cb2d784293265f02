"""An operator's look at the PostgreSQL database (`python -m bot check`): read only, nothing migrated."""

from __future__ import annotations

import asyncpg

from bot.store import DatabaseInfo, StoreUnavailable


async def inspect_database(url: str) -> DatabaseInfo:
    """Schema version, size, tasks per status, results channels, and whether other sessions use the database."""
    try:
        db = await asyncpg.connect(url, timeout=10)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise StoreUnavailable(f"cannot connect ({error})") from None
    try:
        if not await db.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
            return DatabaseInfo(exists=False)
        version = int(await db.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))
        counts = {row[0]: int(row[1]) for row in await db.fetch("SELECT status, COUNT(*) FROM tasks GROUP BY status")}
        channels = {
            int(row[0]): int(row[1])
            for row in await db.fetch(
                "SELECT guild_id, results_channel_id FROM guild_settings WHERE results_channel_id IS NOT NULL"
            )
        }
        size = int(await db.fetchval("SELECT pg_database_size(current_database())"))
        others = await db.fetchval(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    except asyncpg.PostgresError as error:
        raise StoreUnavailable(str(error)) from None
    finally:
        await db.close()
    return DatabaseInfo(
        exists=True,
        size_bytes=size,
        schema_version=version,
        task_counts=counts,
        results_channels=channels,
        in_use=bool(others),
    )
