"""Small key/value facts of the install (the commands hash, the webhook secret), shared by every process."""

from __future__ import annotations

from bot.store.postgres.connection import PostgresConnection


class PostgresMeta(PostgresConnection):
    async def get_meta(self, key: str) -> str | None:
        value = await self._value("SELECT value FROM meta WHERE key = $1", key)
        return str(value) if value is not None else None

    async def set_meta(self, key: str, value: str) -> None:
        await self._write(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            key,
            value,
        )
