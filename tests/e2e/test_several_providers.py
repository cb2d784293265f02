"""Several providers at once, through the real `python -m bot`: failover to the second provider while the first
refuses connections, an extend that waits for the provider that made its song, a submission that may have been
accepted never sent elsewhere, and the providers' health in `/healthz` and `python -m bot check`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.harness import PROVIDER_KEY, eventually, free_port, provider_env
from tests.e2e.test_generate import clip_ids
from tests.fakes.discord import CHANNEL_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeSunoApi
from tests.fakes.sunoapi_org import FakeSunoApiOrg
from tests.reliability.harness import BotProcess, bot_process_env, is_result, reply_history, rows, tasks

COOLDOWN_SECONDS = 3.0


def both(
    discord: FakeDiscord, first: FakeSunoApiOrg, second: FakeSunoApi, database: Path, **extra: str
) -> dict[str, str]:
    """`.env` for sunoapi.org first and sunoapi.co second; one refused connection is enough for a cool-down."""
    several = {
        **provider_env(second),
        "SUNO_PROVIDERS": "sunoapi_org,sunoapi",
        "PROVIDER_FAILURES_BEFORE_COOLDOWN": "1",
        "PROVIDER_COOLDOWN_SECONDS": str(COOLDOWN_SECONDS),
    }
    return bot_process_env(discord, first, database, **several, **extra)


async def health(port: int) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz") as response:
        body: dict[str, Any] = await response.json()
        return body


async def metrics(port: int) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as response:
        return await response.text()


async def model_choices(discord: FakeDiscord, command: str, **options: str) -> list[str]:
    """The `model` option's autocomplete, as a member typing in it sees it."""
    return [choice["value"] for choice in await discord.autocomplete(command, options, focused="model")]


def results(discord: FakeDiscord) -> list[StoredMessage]:
    return [message for message in discord.messages(CHANNEL_ID) if is_result(message)]


async def test_a_new_song_fails_over_and_an_extend_waits_for_the_provider_that_made_its_song(tmp_path: Path) -> None:
    database, port = tmp_path / "encore.db", free_port()
    async with (
        FakeDiscord() as discord,
        FakeSunoApiOrg(PROVIDER_KEY, submit_window=1.0) as first,
        FakeSunoApi(PROVIDER_KEY, submit_interval=0.2, poll_per_second=20) as second,
    ):
        bot = await BotProcess.start(both(discord, first, second, database, HTTP_PORT=str(port)), tmp_path)
        # Both healthy: a new song goes to the first.
        await discord.invoke_command("generate", {"prompt": "a song about lighthouses"})
        made = await first.wait_for_submit()
        first.finish(made.task_id)
        song = clip_ids(await discord.wait_for_message(CHANNEL_ID, is_result))[0]
        assert (await health(port))["providers"] == "ok"
        assert await model_choices(discord, "generate") == ["V5_5", "V5", "V4_5ALL", "V4_5PLUS", "V4_5", "V4"]

        # The first refuses connections: the next new song is delivered through the second, and nobody is told.
        await first.close()
        failover = await discord.invoke_command("generate", {"prompt": "a song about harbours"})
        await second.wait_for_submit()
        await eventually(lambda: len(results(discord)) == 2, within=15, what="the song made by the second")
        assert not any("not answering" in text or "unreachable" in text for text in reply_history(failover))
        state = await health(port)
        assert state["providers"] == "degraded"
        assert state["provider_health"]["sunoapi_org"]["state"] == "cooling down"
        assert "connection failed" in state["provider_health"]["sunoapi_org"]["last_error"]
        assert state["provider_health"]["sunoapi"]["state"] == "up"
        exposed = await metrics(port)
        assert 'encore_provider_up{provider="sunoapi_org"} 0.0' in exposed
        assert 'encore_provider_up{provider="sunoapi"} 1.0' in exposed
        assert 'encore_provider_cooldowns_total{provider="sunoapi_org"} 1.0' in exposed
        # /generate offers the second's models now (sunoapi.co runs one fixed model); /extend, the song's own.
        assert await model_choices(discord, "generate") == []
        assert (await model_choices(discord, "extend", song=song))[0] == "V5_5"

        # An extend of the first's song waits for it (the reply says so), and goes nowhere else.
        waiting = await discord.invoke_command(
            "extend", {"song": song, "at": "0:30", "lyrics": "the light comes back", "style": "folk", "title": "Beam"}
        )
        await waiting.wait_original(lambda message: "which made this song, is not answering" in message.content)
        extend_task = tasks(database)[-1]
        assert (extend_task["provider"], extend_task["status"]) == ("sunoapi_org", "queued")
        assert len(second.submits) == 1

        # The first comes back on the same address: the extend is sent to it, once, and delivered.
        await first.start()
        extend = await first.wait_for_submit()
        assert extend.path == "/api/v1/generate/extend" and extend.json["audioId"] == song
        first.finish(extend.task_id)
        await eventually(lambda: len(results(discord)) == 3, within=15, what="the extend's result")
        assert [len(first.submits), len(second.submits)] == [2, 1]
        await eventually(
            lambda: rows(database, "SELECT 1 FROM tasks WHERE status != 'delivered'") == [], what="all delivered"
        )
        providers = [row["provider"] for row in rows(database, "SELECT provider FROM tasks ORDER BY id")]
        assert providers == ["sunoapi_org", "sunoapi", "sunoapi_org"]
        models = {row["clip_id"]: row["model"] for row in rows(database, "SELECT clip_id, model FROM songs")}
        assert models[song] == "V5_5"  # every song keeps the model that made it
        assert await bot.terminate() == 0


async def test_a_submission_dropped_after_sending_is_never_sent_to_the_other_provider(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    async with (
        FakeDiscord() as discord,
        FakeSunoApiOrg(PROVIDER_KEY, submit_window=1.0) as first,
        FakeSunoApi(PROVIDER_KEY, submit_interval=0.2, poll_per_second=20) as second,
    ):
        # The request arrives, then the connection drops without an answer: it may have been accepted and billed.
        first.inject("/api/v1/generate", reset_connection=True)
        bot = await BotProcess.start(both(discord, first, second, database), tmp_path)
        command = await discord.invoke_command("generate", {"prompt": "a song that may exist"})
        await eventually(lambda: (found := tasks(database)) and found[0]["status"] == "failed", what="the failure")
        await command.wait_original(lambda message: "❌" in message.content)
        assert "not sent again, to this provider or another" in tasks(database)[0]["error"]
        assert len(first.calls("/api/v1/generate")) == 1 and second.submits == []
        assert await bot.terminate() == 0


async def test_check_reports_every_configured_provider(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as discord,
        FakeSunoApiOrg(PROVIDER_KEY, submit_window=1.0) as first,
        FakeSunoApi(PROVIDER_KEY, submit_interval=0.2, poll_per_second=20) as second,
    ):
        env = both(discord, first, second, tmp_path / "encore.db")
        await first.close()
        check = await BotProcess.spawn(env, tmp_path, "check")
        assert await check.wait(within=30) == 1
        report = check.output
        assert "sunoapi.org unreachable at" in report
        assert "SUNOAPI_KEY: accepted by sunoapi.co" in report
