"""Small key/value facts of the install (the commands hash, the webhook secret)."""

from __future__ import annotations

from bot.store.sql.backend import SqlBackend


class MetaQueries(SqlBackend):
    async def get_meta(self, key: str) -> str | None:
        value = await self._db.value("SELECT value FROM meta WHERE key = $1", key)
        return str(value) if value is not None else None

    async def set_meta(self, key: str, value: str) -> None:
        await self._db.execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            key,
            value,
        )
