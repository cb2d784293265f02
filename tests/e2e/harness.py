"""Run the real Encore bot (real discord.py client) against the local fake Discord and a provider fake."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bot.app import EncoreBot
from bot.config import Settings
from tests.fakes.apiframe_v2 import FakeApiframeV2
from tests.fakes.discord import CHANNEL_ID, GUILD_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeApiframe, FakeSunoApi
from tests.fakes.suno_api import FakeSunoApiSelfHosted
from tests.fakes.sunoapi_org import FakeSunoApiOrg

DISCORD_TOKEN = "fake-discord-token-0123456789"
PROVIDER_KEY = "fake-provider-key-0123456789"
T = TypeVar("T")
NO_CDN = "http://127.0.0.1:9"
"""Suno's CDN for tests that do not serve one: a local port that refuses at once, so no test reaches the internet."""
ProviderFake = FakeSunoApi | FakeApiframe | FakeSunoApiOrg | FakeApiframeV2 | FakeSunoApiSelfHosted


def provider_env(provider: ProviderFake) -> dict[str, str]:
    """The provider part of `.env` for a fake, pacing the bot to the fake's own (test-speed) limits."""
    if isinstance(provider, FakeApiframeV2):
        return {"APIFRAME_V2_KEY": provider.api_key, "APIFRAME_V2_BASE_URL": provider.base_url}
    if isinstance(provider, FakeSunoApiSelfHosted):
        proxy = {"SUNO_API_KEY": provider.api_key} if provider.api_key else {}
        return {"SUNO_PROVIDER": "suno_api", "SUNO_API_BASE_URL": provider.base_url, **proxy}
    if isinstance(provider, FakeApiframe):
        return {"APIFRAME_KEY": provider.api_key, "APIFRAME_BASE_URL": provider.base_url}
    if isinstance(provider, FakeSunoApiOrg):
        return {
            "SUNOAPI_ORG_KEY": provider.api_key,
            "SUNOAPI_ORG_BASE_URL": provider.base_url,
            "SUNOAPI_ORG_SUBMITS_PER_SECOND": str(provider.submit_limit / provider.submit_window),
            "SUNOAPI_ORG_POLLS_PER_SECOND": str(provider.polls_per_task / provider.poll_window),
        }
    polls = (provider.poll_per_second or 1000) / provider.poll_window
    return {
        "SUNOAPI_KEY": provider.api_key,
        "SUNOAPI_BASE_URL": provider.base_url,
        "SUNOAPI_SUBMIT_INTERVAL_SECONDS": str(provider.submit_interval),
        "SUNOAPI_POLLS_PER_SECOND": str(polls),
    }


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def webhook_env(port: int, public: str | None = None) -> dict[str, str]:
    """Encore's webhook receiver on 127.0.0.1:`port`, reached at `public` (that address by default), with polling
    slowed to its 600 s safety net so that only webhooks deliver on time."""
    return {
        "PUBLIC_WEBHOOK_URL": public or f"http://127.0.0.1:{port}",
        "WEBHOOK_HOST": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_POLL_INTERVAL_SECONDS": "600",
    }


def settings_for(discord: FakeDiscord, database: Path, env: Mapping[str, str]) -> Settings:
    """Settings as an operator would write them in `.env`, aimed at the fakes, with test-speed pacing."""
    return Settings.from_env(
        {
            "DISCORD_TOKEN": DISCORD_TOKEN,
            "DISCORD_API_BASE": discord.api_base,
            "DISCORD_GATEWAY_URL": discord.gateway_url,
            "DEV_GUILD_ID": str(GUILD_ID),
            "DATABASE_PATH": str(database),
            "POLL_INTERVAL_SECONDS": "0.05",
            "USER_COOLDOWN_SECONDS": "0",
            "SUNO_CDN_BASE_URL": NO_CDN,
            **env,
        }
    )


def is_result(message: StoredMessage) -> bool:
    """A posted result: a channel message with the songs' audio attached."""
    return any(attachment.filename.endswith(".mp3") for attachment in message.attachments)


async def eventually(check: Callable[[], T | None], within: float = 10, what: str = "") -> T:
    """Poll `check` (a cheap read, e.g. of the database) until it is truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not (value := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within:g}s waiting for {what or check}")
        await asyncio.sleep(0.02)
    return value


@dataclass
class RunningBot:
    """A started bot and the task running its `start()`."""

    bot: EncoreBot
    runner: asyncio.Task[None]

    async def stop(self) -> None:
        await self.bot.close()
        await self.runner


@contextlib.asynccontextmanager
async def running_bot(discord: FakeDiscord, settings: Settings) -> AsyncIterator[RunningBot]:
    """Start Encore, wait until it is connected and its commands are synced, and close it afterwards."""
    bot = EncoreBot(settings, progress_interval=0)
    runner = asyncio.create_task(bot.start(settings.discord_token))
    running = RunningBot(bot, runner)
    try:
        await eventually(lambda: discord.connected and bot.get_guild(GUILD_ID), what="the bot's gateway session")
        await discord.wait_until(lambda: discord.registered_commands(GUILD_ID) or discord.registered_commands(None))
        yield running
    finally:
        if not runner.done():
            await running.stop()
        elif runner.exception():
            raise runner.exception()  # type: ignore[misc]


async def failed_generation_notice(provider: ProviderFake, database: Path, reason: str) -> StoredMessage:
    """Encore on `provider`, and a /generate the provider fails with `reason` while it waits in its first step;
    the ❌ message Encore posts in the channel about it."""
    async with FakeDiscord() as discord:
        provider.set_script(None, [provider.default_script[0]])
        async with running_bot(discord, settings_for(discord, database, provider_env(provider))):
            await discord.invoke_command("generate", {"prompt": "a song Suno will refuse"})
            submit = await provider.wait_for_submit()
            provider.fail(submit.task_id, reason)
            return await discord.wait_for_message(CHANNEL_ID, lambda message: "❌" in message.content)
