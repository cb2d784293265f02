"""Small key/value facts of the install (the commands hash, the webhook secret)."""

from __future__ import annotations

from bot.store.sqlite.connection import SqliteConnection


class SqliteMeta(SqliteConnection):
    async def get_meta(self, key: str) -> str | None:
        row = await self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return str(row[0]) if row else None

    async def set_meta(self, key: str, value: str) -> None:
        await self._write(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
