"""`DATABASE_URL` runs the same bot on PostgreSQL: a task goes all the way, and no SQLite file is made."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from tests.e2e.harness import PROVIDER_KEY, is_result, provider_env, running_bot, settings_for
from tests.e2e.test_extend_flow import CLIP
from tests.fakes.discord import CHANNEL_ID, FakeDiscord
from tests.fakes.providers import FakeSunoApi
from tests.support.postgres import fresh_database


async def test_an_extend_is_delivered_from_postgresql_and_no_sqlite_file_is_made(tmp_path: Path) -> None:
    sqlite_path = tmp_path / "data" / "encore.db"
    async with (
        fresh_database() as url,
        FakeDiscord() as discord,
        FakeSunoApi(PROVIDER_KEY, clips=[CLIP], submit_interval=0.2, poll_per_second=20) as suno,
    ):
        settings = settings_for(discord, sqlite_path, {**provider_env(suno), "DATABASE_URL": url})
        async with running_bot(discord, settings):
            command = await discord.invoke_command(
                "extend", {"song": f"https://suno.com/song/{CLIP}", "at": "1:05", "lyrics": "la la"}
            )
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            await command.wait_original(lambda message: "posted in the channel" in message.content)
        connection = await asyncpg.connect(url)
        try:
            rows = await connection.fetch("SELECT status, result_message_id FROM tasks")
        finally:
            await connection.close()
    assert [(row["status"], row["result_message_id"]) for row in rows] == [("delivered", result.id)]
    assert not sqlite_path.exists()  # (its folder may hold the audio cache)
