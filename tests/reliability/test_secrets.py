"""Secrets: run the real `python -m bot` at DEBUG through a success, a provider failure and a refused key, then
look for the Discord token and the API key in everything it left behind: its output, every message it sent, every
REST request body, and every table of its database."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

from tests.e2e.harness import eventually
from tests.fakes.discord import CHANNEL_ID, FakeDiscord
from tests.fakes.providers import FakeApiframe, FakeSunoApi
from tests.reliability.harness import (
    CLIP,
    BotProcess,
    bot_process_env,
    extend_options,
    is_result,
    seeded_apiframe_options,
    sunoapi_env,
    tasks,
)

DISCORD_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.discord-token-that-must-never-leak"
PROVIDER_KEY = "sk-suno-4b1d-key-that-must-never-leak"


def database_dump(database: Path) -> str:
    connection = sqlite3.connect(database)
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


async def test_no_secret_in_logs_messages_or_database(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    async with (
        FakeDiscord(token=DISCORD_TOKEN) as discord,
        FakeSunoApi(PROVIDER_KEY, clips=[CLIP], submit_interval=0.2, poll_per_second=20) as suno,
    ):
        bot = await BotProcess.start(sunoapi_env(discord, suno, database), tmp_path)
        await discord.invoke_command("extend", extend_options("a good one"))
        await discord.wait_for_message(CHANNEL_ID, is_result)
        suno.set_script(None, ["submitted"])
        await discord.invoke_command("extend", extend_options("a failing one"))
        await suno.wait_for_submit()
        failing = await suno.wait_for_submit()
        suno.fail(failing.task_id, "generation failed")
        await eventually(lambda: len(tasks(database)) == 2 and tasks(database)[1]["status"] == "failed")
        suno.api_key = "the-key-was-revoked"
        await discord.invoke_command("extend", extend_options("with a revoked key"))
        await eventually(lambda: len(tasks(database)) == 3 and tasks(database)[2]["status"] == "failed")
        assert await bot.terminate() == 0

    assert "KEY REFUSED" in bot.output and "DEBUG" in bot.output
    assert "operator" in tasks(database)[2]["error"]
    sent = [request.json for request in discord.requests if request.json is not None]
    messages = [message.content for message in discord.messages(CHANNEL_ID)]
    messages += [str(message.embeds) for message in discord.messages(CHANNEL_ID)]
    for interaction in discord.interactions:
        messages += [message.content for message in (interaction.original, *interaction.followups) if message]
    for secret in (DISCORD_TOKEN, PROVIDER_KEY):
        assert secret not in bot.output
        assert not [text for text in messages if secret in text]
        assert secret not in repr(sent)
        assert secret not in database_dump(database)


async def test_the_webhook_secret_never_reaches_the_log(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        webhooks = {"PUBLIC_WEBHOOK_URL": f"http://127.0.0.1:{port}", "WEBHOOK_HOST": "127.0.0.1"}
        env = bot_process_env(discord, apiframe, database, WEBHOOK_PORT=str(port), **webhooks)
        bot = await BotProcess.start(env, tmp_path)
        await discord.invoke_command("extend", seeded_apiframe_options(apiframe))
        submit = await apiframe.wait_for_submit()
        # Once Encore has recorded the submission, apiframe reports the result by webhook.
        await eventually(lambda: (rows := tasks(database)) and rows[0]["status"] == "submitted", what="the submission")
        apiframe.finish(submit.task_id)
        await discord.wait_for_message(CHANNEL_ID, is_result)
        delivered = await apiframe.wait_for_webhook()
        assert await bot.terminate() == 0
    secret = sqlite3.connect(database).execute("SELECT value FROM meta WHERE key = 'apiframe_webhook_secret'")
    (value,) = secret.fetchone()
    assert delivered.secret == value and "DEBUG" in bot.output
    assert value not in bot.output
