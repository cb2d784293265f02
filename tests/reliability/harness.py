"""Shared tools of the reliability suite: the real `python -m bot` as a child process, and reads of its database.

The fakes (Discord and a provider) run in the test process; the child reaches them over 127.0.0.1 through the
same settings an operator writes in `.env`, so a SIGKILL hits exactly what production would run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import sqlite3
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from bot.config import Settings
from tests.e2e.harness import NO_CDN, PROVIDER_KEY, ProviderFake, provider_env, settings_for
from tests.fakes.discord import GUILD_ID, FakeDiscord, InteractionRecord, StoredMessage
from tests.fakes.providers import FakeApiframe, FakeSunoApi

ROOT = Path(__file__).resolve().parents[2]
CLIP = "3f2a1c9b-1111-4222-8333-444455556666"
READY_LINE = "Encore ready to"  # take commands, or work as a worker


def bot_process_env(discord: FakeDiscord, provider: ProviderFake, database: Path, **extra: str) -> dict[str, str]:
    """`.env` values aiming the bot at the fakes, with test-speed polling and no credit limits in the way."""
    return {
        "DISCORD_TOKEN": discord.token or "fake-discord-token-0123456789",
        "DISCORD_API_BASE": discord.api_base,
        "DISCORD_GATEWAY_URL": discord.gateway_url,
        "DEV_GUILD_ID": str(GUILD_ID),
        "DATABASE_PATH": str(database),
        **provider_env(provider),
        "POLL_INTERVAL_SECONDS": "0.05",
        "USER_COOLDOWN_SECONDS": "0",
        "MAX_ACTIVE_TASKS_PER_USER": "0",
        "LOG_LEVEL": "DEBUG",
        "SUNO_CDN_BASE_URL": NO_CDN,
        **extra,
    }


def sunoapi_env(discord: FakeDiscord, suno: FakeSunoApi, database: Path, **extra: str) -> dict[str, str]:
    """The same for sunoapi.co, paced at one submit per 0.2 s and 20 polls per second."""
    pacing = {"SUNOAPI_SUBMIT_INTERVAL_SECONDS": "0.2", "SUNOAPI_POLLS_PER_SECOND": "20"}
    return bot_process_env(discord, suno, database, **{**pacing, **extra})


def extend_options(lyrics: str, **extra: str) -> dict[str, str]:
    return {"song": f"https://suno.com/song/{CLIP}", "at": "1:05", "lyrics": lyrics, **extra}


def is_result(message: StoredMessage) -> bool:
    """A posted result: the channel message carrying the songs (audio attached or linked)."""
    return message.content.startswith("🎶")


@dataclass
class BotProcess:
    """A running `python -m bot`; its stdout+stderr lines are collected in `lines`."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task[None] | None = None

    ended: bool = False  # the output is closed: the process has exited
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    # Every process a test started, so that none outlives its test when an assertion fails first (tests/conftest.py).
    spawned: ClassVar[list[asyncio.subprocess.Process]] = []

    @classmethod
    async def spawn(
        cls, env: Mapping[str, str], cwd: Path, *args: str, file_limit: tuple[int, int] | None = None
    ) -> BotProcess:
        """Start `python -m bot [args]` without waiting for anything; `file_limit` caps its open files (the soft
        and hard RLIMIT_NOFILE), as a service manager's `LimitNOFILE=` would."""

        def limit_files() -> None:
            if file_limit is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, file_limit)

        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            cwd=cwd,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=limit_files if file_limit is not None else None,
        )
        cls.spawned.append(process)
        bot = cls(process)
        bot._reader = asyncio.create_task(bot._read())
        return bot

    @classmethod
    async def start(cls, env: Mapping[str, str], cwd: Path, *, file_limit: tuple[int, int] | None = None) -> BotProcess:
        """Start the bot and wait until it says it takes commands (its commands are synced by then)."""
        bot = await cls.spawn(env, cwd, file_limit=file_limit)
        try:
            await bot.wait_for_line(READY_LINE)
        except AssertionError:
            await bot.kill()
            raise
        return bot

    async def wait_for_line(self, text: str, within: float = 15) -> str:
        """The first output line containing `text` (waiting for it); AssertionError if the bot exits or is late."""

        def found() -> str | None:
            return next((line for line in self.lines if text in line), None)

        try:
            async with asyncio.timeout(within), self._changed:
                await self._changed.wait_for(lambda: found() is not None or self.ended)
        except TimeoutError:
            raise AssertionError(f"no line with {text!r} within {within:g}s:\n{self.output}") from None
        if (line := found()) is None:
            raise AssertionError(f"the bot exited without a line with {text!r}:\n{self.output}")
        return line

    async def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            async for raw in self.process.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                self.lines.append(line)
                if READY_LINE in line:
                    self.ready.set()
                async with self._changed:
                    self._changed.notify_all()
        finally:
            self.ended = True
            async with self._changed:
                self._changed.notify_all()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or closed."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.wait(10)

    async def terminate(self, within: float = 30) -> int:
        """SIGTERM, then the exit code once the process has ended."""
        self.process.send_signal(signal.SIGTERM)
        return await self.wait(within)

    async def wait(self, within: float) -> int:
        try:
            async with asyncio.timeout(within):
                code = await self.process.wait()
                if self._reader:
                    await self._reader
        except TimeoutError:
            raise AssertionError(f"the bot did not exit within {within:g}s:\n{self.output}") from None
        return code


@contextlib.contextmanager
def write_lock_held(database: Path) -> Iterator[None]:
    """Another connection holds the database's write lock, as a busy operator tool or a second process would."""
    other_writer = sqlite3.connect(database, isolation_level=None)
    other_writer.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other_writer.execute("ROLLBACK")
        other_writer.close()


def rows(database: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    """A read of the bot's database from outside the bot, as an operator would do it."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    try:
        connection.row_factory = sqlite3.Row
        return list(connection.execute(sql, params))
    finally:
        connection.close()


def tasks(database: Path) -> list[sqlite3.Row]:
    if not database.exists():
        return []
    try:
        return rows(database, "SELECT * FROM tasks ORDER BY id")
    except sqlite3.OperationalError:  # not migrated yet
        return []


def closed_cleanly(database: Path) -> bool:
    """SQLite checkpoints and removes the write-ahead log when the last connection closes properly."""
    wal = Path(f"{database}-wal")
    return not (wal.exists() and wal.stat().st_size) and not Path(f"{database}-journal").exists()


def sunoapi_settings(discord: FakeDiscord, suno: FakeSunoApi, database: Path, **env: str) -> Settings:
    """In-process settings for sunoapi.co at test pacing (the same pacing the provider fake enforces)."""
    return settings_for(
        discord,
        database,
        {
            "SUNOAPI_KEY": PROVIDER_KEY,
            "SUNOAPI_BASE_URL": suno.base_url,
            "SUNOAPI_SUBMIT_INTERVAL_SECONDS": "0.2",
            "SUNOAPI_POLLS_PER_SECOND": "20",
            **env,
        },
    )


def apiframe_settings(discord: FakeDiscord, apiframe: FakeApiframe, database: Path, **env: str) -> Settings:
    return settings_for(
        discord, database, {"APIFRAME_KEY": PROVIDER_KEY, "APIFRAME_BASE_URL": apiframe.base_url, **env}
    )


def fast_sunoapi() -> FakeSunoApi:
    """The sunoapi.co fake at test pacing: one submit per 0.2 s, 20 polls per second."""
    return FakeSunoApi(PROVIDER_KEY, submit_interval=0.2, poll_per_second=20, clips=[CLIP])


def seeded_apiframe_options(apiframe: FakeApiframe, **extra: str) -> dict[str, str]:
    """/extend options for a song apiframe made (a seeded finished task), as a member would type them."""
    parent, song = str(uuid.uuid4()), str(uuid.uuid4())
    apiframe.seed_task(parent, songs=[song])
    return {"song": song, "task": parent, "at": "30", "prompt": "faster", **extra}


def reply_history(interaction: InteractionRecord) -> list[str]:
    """Every text the requester's ephemeral reply showed, oldest first."""
    original = interaction.original
    if original is None:
        return []
    return [version.content for version in original.edits] + [original.content]
