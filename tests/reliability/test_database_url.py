"""A malformed `DATABASE_URL` stops the real `python -m bot` with one line that names the variable, the password
redacted: a wrong scheme, a port that is not a port, an IPv6 literal that does not parse. Never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.discord import FakeDiscord
from tests.reliability.harness import BotProcess, fast_sunoapi, sunoapi_env

PASSWORD = "pg-secret-that-must-never-print"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (f"mysql://encore:{PASSWORD}@db.example:3306/encore", "must be a postgresql:// URL"),
        (f"postgresql://encore:{PASSWORD}@db.example:99999/encore", "Port out of range"),
        (f"postgresql://encore:{PASSWORD}@db.example:port/encore", "Port could not be cast"),
        (f"postgresql://encore:{PASSWORD}@db.example:0/encore", "has port 0"),
        (f"postgresql://encore:{PASSWORD}@[::1/encore", "Invalid IPv6 URL"),
        (f"postgresql://encore:{PASSWORD}@[fe80::zz]:5432/encore", "does not appear to be an IPv4 or IPv6 address"),
        (f"postgres://encore:{PASSWORD}@pass@[::1/encore", "Invalid IPv6 URL"),  # an @ in the password
    ],
)
async def test_a_bad_database_url_is_one_line_without_its_password(tmp_path: Path, url: str, problem: str) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        env = sunoapi_env(discord, suno, tmp_path / "encore.db", DATABASE_URL=url)
        bot = await BotProcess.spawn(env, tmp_path)
        assert await bot.wait(30) == 2
    [line] = bot.lines
    assert line.startswith("encore: configuration error: DATABASE_URL: ") and problem in line, line
    assert PASSWORD not in line and "pass@" not in line and ":***@" in line, line
