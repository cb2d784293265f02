"""Start-up against the fake Discord: command sync policy and a refused token."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.e2e.harness import PROVIDER_KEY, provider_env, running_bot, settings_for
from tests.e2e.test_extend_flow import CLIP
from tests.fakes.discord import GUILD_ID, FakeDiscord
from tests.fakes.providers import FakeSunoApi

ROOT = Path(__file__).resolve().parents[2]
GUILDS_INTENT, GUILD_VOICE_STATES_INTENT, GUILD_REACTIONS_INTENT = 1 << 0, 1 << 7, 1 << 10


async def test_global_commands_are_synced_only_when_they_change(tmp_path: Path) -> None:
    async with FakeDiscord() as discord:
        settings = settings_for(discord, tmp_path / "encore.db", {"SUNOAPI_KEY": PROVIDER_KEY, "DEV_GUILD_ID": ""})
        async with running_bot(discord, settings):
            names = {command["name"] for command in discord.registered_commands(None)}
            assert "extend" in names
        async with running_bot(discord, settings):
            pass
        assert discord.sync_counts == {None: 1}
        assert discord.registered_commands(GUILD_ID) == []


async def test_a_refused_token_exits_with_one_line(tmp_path: Path) -> None:
    async with FakeDiscord(token="the-real-token") as discord:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "DISCORD_TOKEN": "a-wrong-token-value",
            "DISCORD_API_BASE": discord.api_base,
            "DISCORD_GATEWAY_URL": discord.gateway_url,
            "SUNOAPI_KEY": PROVIDER_KEY,
            "DATABASE_PATH": str(tmp_path / "encore.db"),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2
    assert stderr.decode().strip().splitlines() == [
        "encore: DISCORD_TOKEN: Discord refused the token; copy it again from the Developer Portal"
    ]
    assert b"a-wrong-token-value" not in stdout + stderr


async def test_a_restart_keeps_to_the_submit_limit(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as discord,
        FakeSunoApi(PROVIDER_KEY, clips=[CLIP], submit_interval=1.0, poll_per_second=50) as suno,
    ):
        env = provider_env(suno)
        settings = settings_for(discord, tmp_path / "encore.db", env)
        async with running_bot(discord, settings):
            await discord.invoke_command("extend", {"song": CLIP, "at": "10", "prompt": "first"})
            await suno.wait_for_submit()
        async with running_bot(discord, settings):
            await discord.invoke_command("extend", {"song": CLIP, "at": "10", "prompt": "second"})
            await suno.wait_for_submit()
        assert suno.rate_limit_violations == []
        first, second = suno.submits
        assert second.time - first.time >= 1.0


async def test_the_gateway_asks_only_for_servers_reactions_and_voice_states(tmp_path: Path) -> None:
    """No messages, typing, presences, members or DMs: Discord sends nothing Encore would not read."""
    async with FakeDiscord() as discord:
        settings = settings_for(discord, tmp_path / "encore.db", {"SUNOAPI_KEY": PROVIDER_KEY})
        async with running_bot(discord, settings):
            [session] = discord._sessions.values()
            assert session.intents == GUILDS_INTENT | GUILD_REACTIONS_INTENT | GUILD_VOICE_STATES_INTENT
            assert discord.identified_shards == [(0, 1)]
            channel_id = await discord.add_channel("chatter")
            await discord.flood(channel_id, 50)
            assert "MESSAGE_CREATE" not in discord.dispatched and "TYPING_START" not in discord.dispatched
