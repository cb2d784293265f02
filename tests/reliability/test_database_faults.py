"""A database Encore cannot use: the real `python -m bot` says so in one line naming DATABASE_PATH and exits
non-zero within seconds, before it connects to Discord, so Docker or systemd can restart it or show why.

Also SQLite's one-process rule: a second Encore on the same file refuses to start while the first runs.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fakes.discord import FakeDiscord
from tests.fakes.providers import FakeSunoApi
from tests.reliability.harness import BotProcess, fast_sunoapi, sunoapi_env

EXIT_WITHIN = 10.0  # seconds; a locked file takes SQLite's 5 s busy timeout to be given up


@contextlib.contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make files and folders unwritable, for root too (root ignores modes, so the immutable attribute is used)."""
    if os.geteuid() != 0:
        modes = {path: path.stat().st_mode for path in paths}
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    if subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True).returncode != 0:
        pytest.skip("running as root on a filesystem without the immutable attribute: cannot make a file read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


async def refused(discord: FakeDiscord, suno: FakeSunoApi, database: Path, cwd: Path) -> str:
    """Run the bot on `database`; return its one line of output after checking it exited fast, before Discord."""
    bot = await BotProcess.spawn(sunoapi_env(discord, suno, database, LOG_LEVEL="INFO"), cwd)
    assert await bot.wait(EXIT_WITHIN) == 1
    assert len(bot.lines) == 1, bot.output
    assert not discord.requests  # it never logged in
    assert bot.lines[0].startswith(f"encore: DATABASE_PATH={database}: "), bot.output
    return bot.lines[0]


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeDiscord, FakeSunoApi]]:
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        yield discord, suno


async def test_a_file_that_is_not_a_database(fakes: tuple[FakeDiscord, FakeSunoApi], tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    database.write_text("name,title\nalice,Echoes\n" * 200)
    assert "is not an SQLite database" in await refused(*fakes, database, tmp_path)


async def test_a_folder_where_the_file_should_be(fakes: tuple[FakeDiscord, FakeSunoApi], tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    database.mkdir()
    assert "is a folder, not a database file" in await refused(*fakes, database, tmp_path)


async def test_a_folder_that_cannot_be_created(fakes: tuple[FakeDiscord, FakeSunoApi], tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file, not a folder")
    line = await refused(*fakes, tmp_path / "data" / "encore.db", tmp_path)
    assert f"cannot create its folder {tmp_path / 'data'}" in line


async def test_a_read_only_file_in_a_writable_folder(fakes: tuple[FakeDiscord, FakeSunoApi], tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    sqlite3.connect(database).close()
    with read_only(database):
        assert "cannot be written" in await refused(*fakes, database, tmp_path)


async def test_a_read_only_file_in_a_read_only_folder(fakes: tuple[FakeDiscord, FakeSunoApi], tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    database = folder / "encore.db"
    sqlite3.connect(database).close()
    with read_only(database, folder):
        assert f"cannot write in its folder {folder}" in await refused(*fakes, database, tmp_path)


async def test_a_file_another_program_holds_locked(fakes: tuple[FakeDiscord, FakeSunoApi], tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    other = sqlite3.connect(database, isolation_level=None)
    other.execute("CREATE TABLE theirs (x)")
    other.execute("BEGIN EXCLUSIVE")
    try:
        assert "is locked by another program" in await refused(*fakes, database, tmp_path)
    finally:
        other.execute("ROLLBACK")
        other.close()


async def test_a_second_encore_on_the_same_database_refuses_before_discord(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        first = await BotProcess.start(sunoapi_env(discord, suno, database), tmp_path)
        logins = len(discord.requests)
        second = await BotProcess.spawn(sunoapi_env(discord, suno, database, LOG_LEVEL="INFO"), tmp_path)
        assert await second.wait(EXIT_WITHIN) == 1
        assert second.lines == [
            f"encore: DATABASE_PATH={database}: another Encore is running on this database (SQLite is for one "
            "process): stop it first, or give this one its own DATABASE_PATH"
        ]
        assert len(discord.requests) == logins and discord.identify_count == 1
        assert await first.terminate() == 0
        # The lock went with the first process: the next one starts.
        third = await BotProcess.start(sunoapi_env(discord, suno, database), tmp_path)
        assert await third.terminate() == 0
