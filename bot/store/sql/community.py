"""Community state: server settings, ⭐ stars and the showcase claim, rankings and usage."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from bot.domain.records import GUILD_SETTING_NAMES, GuildSettings, TaskRecord, Usage, UsageCounts
from bot.store.rows import BOOLEAN_SETTINGS, settings_from_row, task_from_row
from bot.store.sql.backend import SqlBackend


class CommunityQueries(SqlBackend):
    async def guild_settings(self, guild_id: int) -> GuildSettings:
        """A server's settings, the defaults when its managers never changed any."""
        row = await self._db.one("SELECT * FROM guild_settings WHERE guild_id = $1", guild_id)
        return settings_from_row(row) if row else GuildSettings(guild_id)

    async def update_guild_settings(self, guild_id: int, changes: Mapping[str, Any]) -> GuildSettings:
        """Change some of a server's settings (a `None` value resets that one) and return them all."""
        if unknown := set(changes) - GUILD_SETTING_NAMES:
            raise ValueError(f"unknown guild settings: {sorted(unknown)}")
        if changes:
            names = list(changes)
            values = [bool(value) if name in BOOLEAN_SETTINGS else value for name, value in changes.items()]
            assignments = ", ".join(f"{name} = excluded.{name}" for name in names)
            marks = ", ".join(f"${index}" for index in range(3, len(names) + 3))
            await self._db.execute(
                f"""
                INSERT INTO guild_settings (guild_id, updated_at, {", ".join(names)}) VALUES ($1, $2, {marks})
                ON CONFLICT (guild_id) DO UPDATE SET {assignments}, updated_at = excluded.updated_at
                """,
                guild_id,
                time.time(),
                *values,
            )
        return await self.guild_settings(guild_id)

    async def add_star(self, task_id: int, user_id: int) -> int:
        """Count a member's ⭐ on a result once, whatever Discord repeats; return how many members starred it."""
        await self._db.execute(
            "INSERT INTO stars (task_id, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            task_id,
            user_id,
            time.time(),
        )
        return await self.star_count(task_id)

    async def remove_star(self, task_id: int, user_id: int) -> int:
        """A member took their ⭐ back; return how many members still star the result."""
        await self._db.execute("DELETE FROM stars WHERE task_id = $1 AND user_id = $2", task_id, user_id)
        return await self.star_count(task_id)

    async def star_count(self, task_id: int) -> int:
        return int(await self._db.value("SELECT COUNT(*) FROM stars WHERE task_id = $1", task_id))

    async def claim_showcase(self, task_id: int) -> bool:
        """Take the one right to repost a result in the showcase; False when someone already has it.

        One conditional UPDATE before posting, so two stars arriving at once cannot both repost.
        """
        changed = await self._db.execute(
            "UPDATE tasks SET showcased_at = $2 WHERE id = $1 AND showcased_at IS NULL", task_id, time.time()
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
        rows = await self._db.all(
            """
            SELECT tasks.*, COUNT(*) AS star_count FROM tasks JOIN stars ON stars.task_id = tasks.id
            WHERE tasks.guild_id = $1 AND tasks.result_message_id IS NOT NULL AND tasks.finished_at >= $2
            GROUP BY tasks.id ORDER BY star_count DESC, MAX(stars.created_at) LIMIT $3
            """,
            guild_id,
            since or 0.0,
            limit,
        )
        return [(task_from_row(row), int(row["star_count"])) for row in rows]

    async def usage(self, guild_id: int, since: float) -> Usage:
        """A server's tasks since `since`: per member and per UTC day, how many were asked, submitted, failed."""
        counts = (
            "COUNT(*), COUNT(submitted_at), COUNT(*) FILTER (WHERE status = 'failed') "
            "FROM tasks WHERE guild_id = $1 AND created_at >= $2"
        )
        members = await self._db.all(
            f"SELECT requester_id, {counts} GROUP BY requester_id ORDER BY COUNT(*) DESC, requester_id",
            guild_id,
            since,
        )
        days = await self._db.all(f"SELECT {self.CREATED_DAY}, {counts} GROUP BY 1 ORDER BY 1", guild_id, since)
        return Usage(
            by_member={int(row[0]): UsageCounts(int(row[1]), int(row[2]), int(row[3])) for row in members},
            by_day={str(row[0]): UsageCounts(int(row[1]), int(row[2]), int(row[3])) for row in days},
        )
