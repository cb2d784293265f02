"""`python -m bot backup FILE` while the real bot runs and takes commands: the copy is consistent and holds every
task committed before it started; the bot's lock neither blocks the backup nor is broken by it."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from pathlib import Path

from tests.e2e.harness import eventually
from tests.fakes.discord import FakeDiscord
from tests.reliability.harness import BotProcess, extend_options, fast_sunoapi, sunoapi_env, tasks


async def test_a_backup_while_tasks_are_being_written(tmp_path: Path) -> None:
    database, copy = tmp_path / "encore.db", tmp_path / "copy.db"
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        env = sunoapi_env(discord, suno, database, DAILY_TASKS_PER_USER="0", LOG_LEVEL="INFO")
        bot = await BotProcess.start(env, tmp_path)
        backup_done = asyncio.Event()
        sent = 0

        async def members_extend() -> None:
            """Commands one after another (each answered, so its task is written) until the backup is done."""
            nonlocal sent
            while not backup_done.is_set() or sent < 5:
                command = await discord.invoke_command("extend", extend_options(f"verse {sent}"))
                sent += 1
                await command.wait_original(lambda message: not message.loading)  # the task is written

        writing = asyncio.create_task(members_extend())
        await discord.wait_until(lambda: len(discord.interactions) >= 3)
        committed = {row["id"] for row in tasks(database)}
        backup = await BotProcess.spawn(env, tmp_path, "backup", str(copy))
        assert await backup.wait(30) == 0, backup.output
        during = len(tasks(database)) - len(committed)
        backup_done.set()
        await writing
        assert await bot.terminate() == 0

    assert during > 0  # tasks were written while the copy was made
    [line] = backup.lines
    assert line.startswith(f"encore: backup of {database} written to {copy} (")
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = [row[0] for row in db.execute("SELECT id FROM tasks ORDER BY id")]
    assert committed <= set(ids) and ids == list(range(1, len(ids) + 1))
    assert len(tasks(database)) == sent  # the bot kept every command while the copy was made


async def test_a_backup_onto_the_live_database_or_its_files_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "data" / "encore.db"
    database.parent.mkdir()
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        env = sunoapi_env(discord, suno, database, LOG_LEVEL="INFO")
        bot = await BotProcess.start(env, tmp_path)
        await discord.invoke_command("extend", extend_options("before"))
        await eventually(lambda: len(tasks(database)) == 1, what="task 1 in the database")
        (tmp_path / "link.db").symlink_to(database)
        os.link(database, tmp_path / "hard-link.db")
        (tmp_path / "elsewhere").mkdir()
        targets = [
            database,
            Path(f"{database}-wal"),
            Path(f"{database}-shm"),
            Path(f"{database}-journal"),  # not there now, but SQLite's once the bot leaves WAL mode
            tmp_path / "elsewhere" / ".." / "data" / "encore.db",
            tmp_path / "link.db",
            tmp_path / "hard-link.db",
        ]
        for target in targets:
            backup = await BotProcess.spawn(env, tmp_path, "backup", str(target))
            assert await backup.wait(30) == 1, backup.output
            [line] = backup.lines
            assert line.startswith(f"encore: backup: {target} is the database's own file"), line
        await discord.invoke_command("extend", extend_options("after"))
        await eventually(lambda: len(tasks(database)) == 2, what="task 2 in the database")
        assert await bot.terminate() == 0
    lyrics = [json.loads(row["request_json"])["lyrics"] for row in tasks(database)]
    assert lyrics == ["before", "after"]  # nothing the bot wrote after the refusals was lost
