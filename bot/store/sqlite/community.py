"""Community state: server settings, ⭐ stars and the showcase claim, rankings and usage."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from bot.domain.records import GUILD_SETTING_NAMES, GuildSettings, TaskRecord, Usage, UsageCounts
from bot.store.rows import settings_from_row, task_from_row
from bot.store.sqlite.connection import SqliteConnection


class SqliteCommunity(SqliteConnection):
    async def guild_settings(self, guild_id: int) -> GuildSettings:
        """A server's settings, the defaults when its managers never changed any."""
        row = await self._one("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
        return settings_from_row(row) if row else GuildSettings(guild_id)

    async def update_guild_settings(self, guild_id: int, changes: Mapping[str, Any]) -> GuildSettings:
        """Change some of a server's settings (a `None` value resets that one) and return them all."""
        if unknown := set(changes) - GUILD_SETTING_NAMES:
            raise ValueError(f"unknown guild settings: {sorted(unknown)}")
        if changes:
            names = list(changes)
            assignments = ", ".join(f"{name} = excluded.{name}" for name in names)
            async with self._transaction() as db:
                await db.execute(
                    f"""
                    INSERT INTO guild_settings (guild_id, {", ".join(names)}, updated_at)
                    VALUES (?, {", ".join("?" for _ in names)}, ?)
                    ON CONFLICT(guild_id) DO UPDATE SET {assignments}, updated_at = excluded.updated_at
                    """,
                    (guild_id, *changes.values(), time.time()),
                )
        return await self.guild_settings(guild_id)

    async def add_star(self, task_id: int, user_id: int) -> int:
        """Count a member's ⭐ on a result once, whatever Discord repeats; return how many members starred it."""
        await self._write(
            "INSERT INTO stars (task_id, user_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (task_id, user_id, time.time()),
        )
        return await self.star_count(task_id)

    async def remove_star(self, task_id: int, user_id: int) -> int:
        """A member took their ⭐ back; return how many members still star the result."""
        await self._write("DELETE FROM stars WHERE task_id = ? AND user_id = ?", (task_id, user_id))
        return await self.star_count(task_id)

    async def star_count(self, task_id: int) -> int:
        row = await self._one("SELECT COUNT(*) FROM stars WHERE task_id = ?", (task_id,))
        return int(row[0]) if row else 0

    async def claim_showcase(self, task_id: int) -> bool:
        """Take the one right to repost a result in the showcase; False when someone already has it.

        One conditional UPDATE before posting, so two stars arriving at once cannot both repost.
        """
        changed = await self._write(
            "UPDATE tasks SET showcased_at = ? WHERE id = ? AND showcased_at IS NULL", (time.time(), task_id)
        )
        return changed == 1

    async def record_showcase(self, task_id: int, message_id: int) -> None:
        await self._update_task(task_id, showcase_message_id=message_id)

    async def release_showcase(self, task_id: int) -> None:
        """The repost failed: give the claim back, so a later star can try again."""
        await self._update_task(task_id, showcased_at=None)

    async def top_starred(self, guild_id: int, since: float | None, limit: int) -> list[tuple[TaskRecord, int]]:
        """A server's posted results with the most ⭐ (posted since `since`, if given), and their star counts.

        Ties go to the result that reached its count first.
        """
        rows = await self._all(
            """
            SELECT tasks.*, COUNT(*) AS star_count FROM tasks JOIN stars ON stars.task_id = tasks.id
            WHERE tasks.guild_id = ? AND tasks.result_message_id IS NOT NULL AND tasks.finished_at >= ?
            GROUP BY tasks.id ORDER BY star_count DESC, MAX(stars.created_at) LIMIT ?
            """,
            (guild_id, since or 0.0, limit),
        )
        return [(task_from_row(row), int(row["star_count"])) for row in rows]

    async def usage(self, guild_id: int, since: float) -> Usage:
        """A server's tasks since `since`: per member and per UTC day, how many were asked, submitted, failed."""
        counts = (
            "COUNT(*), COUNT(submitted_at), SUM(status = 'failed') FROM tasks WHERE guild_id = ? AND created_at >= ?"
        )
        members = await self._all(
            f"SELECT requester_id, {counts} GROUP BY requester_id ORDER BY COUNT(*) DESC, requester_id",
            (guild_id, since),
        )
        days = await self._all(
            f"SELECT strftime('%Y-%m-%d', created_at, 'unixepoch'), {counts} GROUP BY 1 ORDER BY 1",
            (guild_id, since),
        )
        return Usage(
            by_member={int(row[0]): UsageCounts(int(row[1]), int(row[2]), int(row[3])) for row in members},
            by_day={str(row[0]): UsageCounts(int(row[1]), int(row[2]), int(row[3])) for row in days},
        )
