"""sunoapi.org end to end through the real bot: `/generate` and `/extend` delivered by per-task callbacks, forged
callbacks refused without a change, the model of the song kept, and polling when no receiver is public."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from mutagen.mp3 import MP3

from bot.domain.models import TaskStatus
from bot.domain.records import TaskRecord
from tests.e2e.harness import (
    PROVIDER_KEY,
    RunningBot,
    eventually,
    free_port,
    is_result,
    provider_env,
    running_bot,
    settings_for,
    webhook_env,
)
from tests.e2e.test_extend_flow import assert_result_message
from tests.e2e.test_generate import clip_ids, ever_said
from tests.fakes.discord import CHANNEL_ID, FakeDiscord
from tests.fakes.sunoapi_org import FakeSunoApiOrg
from tests.reliability.harness import BotProcess, bot_process_env, tasks


async def post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    """POST like the provider; the answer's JSON, or None for aiohttp's own plain-text 404 of an unknown path."""
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        return response.status, await response.json() if response.content_type == "application/json" else None


async def task_of(running: RunningBot, provider_task_id: str) -> TaskRecord:
    """Encore's task for a provider task, once Encore has recorded the submission (the fake sees it first)."""
    lookup = running.bot.store.active_tasks_by_provider_id
    async with asyncio.timeout(10):
        while not (found := await lookup("sunoapi_org", [provider_task_id])):  # noqa: ASYNC110 - the store signals nothing
            await asyncio.sleep(0.02)
    return found[0]


async def test_generate_and_extend_arrive_by_their_own_callbacks_and_forgeries_change_nothing(
    tmp_path: Path,
) -> None:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    async with FakeDiscord() as discord, FakeSunoApiOrg(PROVIDER_KEY, submit_window=1.0) as suno:
        settings = settings_for(
            discord,
            tmp_path / "encore.db",
            {**provider_env(suno), **webhook_env(port)},
        )
        async with running_bot(discord, settings) as running:
            command = await discord.invoke_command(
                "generate",
                {"lyrics": "[Verse]\nwe start from nothing", "style": "folk", "title": "Seed", "model": "V4_5"},
            )
            generate = await suno.wait_for_submit()
            generated = await task_of(running, generate.task_id)
            own_url = generate.json["callBackUrl"]
            assert own_url.startswith(f"{public}/webhooks/sunoapi_org/{generated.id}/")
            assert generate.json["customMode"] is True and generate.json["model"] == "V4_5"
            await command.wait_original(ever_said("Making a new song"))
            called_at = []
            for stage in ("text", "first", "complete"):
                suno.advance(generate.task_id)
                delivery = await suno.wait_for_callback(generate.task_id)
                assert (delivery.body["data"]["callbackType"], delivery.response_status) == (stage, 200)
                called_at.append(delivery.time)
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            await assert_result_message(discord, suno, result)
            # Each call made the task due for a poll (calls close together share one): what was applied is what
            # record-info answered, and nothing polled before the first call, as the next poll was minutes away.
            polls = suno.polls
            assert 1 <= len(polls) <= 3 and all(poll.time >= called_at[0] for poll in polls)
            assert polls[-1].status == "SUCCESS"

            first_clip = clip_ids(result)[0]
            refused = await discord.invoke_command(
                "extend",
                {"song": first_clip, "at": "0:10", "lyrics": "more", "style": "folk", "title": "Seed 2", "model": "V5"},
            )
            refusal = await refused.wait_original(lambda message: "made with V4_5" in message.content)
            assert refusal.ephemeral and len(suno.submits) == 1

            await discord.invoke_command(
                "extend", {"song": first_clip, "at": "0:10", "lyrics": "more", "style": "folk", "title": "Seed 2"}
            )
            extend = await suno.wait_for_submit()
            assert extend.json["audioId"] == first_clip and extend.json["model"] == "V4_5"
            assert extend.json["defaultParamFlag"] is True and extend.json["continueAt"] == 10
            extended = await task_of(running, extend.task_id)
            extend_url = extend.json["callBackUrl"]
            assert extend_url != own_url and f"/sunoapi_org/{extended.id}/" in extend_url

            forged_done = suno.callback_body(suno.tasks[extend.task_id])
            forged_done["data"]["callbackType"] = "complete"
            forged_done["data"]["data"] = [
                {"id": str(uuid.uuid4()), "audio_url": suno.audio_url("forged"), "duration": 100, "title": "x"}
            ]
            # Another task's URL only ever concerns that task, which is finished: nothing to poll.
            assert await post(own_url, forged_done) == (200, {"polling": False})
            assert await post(extend_url[:-1] + ("0" if extend_url[-1] != "0" else "1"), forged_done) == (
                401,
                {"error": "unauthorized"},
            )
            guessed = f"{public}/webhooks/sunoapi_org/{extended.id + 1}/{'0' * 64}"
            assert (await post(guessed, forged_done))[0] == 401
            assert (await post(f"{public}/webhooks/sunoapi_org/{extended.id}", forged_done))[0] == 404
            # At the task's own URL (a URL a proxy's log may have kept), any call only has the task polled now,
            # even one Encore cannot read; the API says the task is still pending.
            assert await post(extend_url, {"not": "a callback"}) == (200, {"polling": True})
            assert (await suno.wait_for_poll(extend.task_id)).status == "PENDING"
            assert (await task_of(running, extend.task_id)).reports_by_webhook  # still trusting calls to come
            # A forged "complete" there: the forged songs are never taken, and since the call said the task is
            # done, it is polled at the usual pace from now on rather than waiting for calls alone.
            assert await post(extend_url, forged_done) == (200, {"polling": True})
            await suno.wait_for_poll(extend.task_id)
            unchanged = await task_of(running, extend.task_id)
            assert unchanged.status in (TaskStatus.SUBMITTED, TaskStatus.RUNNING) and not unchanged.reports_by_webhook
            assert await running.bot.store.songs_of_task(extended.id) == []

            suno.finish(extend.task_id)
            second = await discord.wait_for_message(CHANNEL_ID, lambda m: is_result(m) and m.id != result.id)
            await assert_result_message(discord, suno, second)
            assert "forged" not in str(second.embeds)


async def test_an_extend_of_a_suno_song_is_polled_when_no_receiver_is_public(tmp_path: Path) -> None:
    song = str(uuid.uuid4())
    async with FakeDiscord() as discord, FakeSunoApiOrg(PROVIDER_KEY, submit_window=1.0) as suno:
        suno.seed_clip(song, model="V5", duration=200.0)
        settings = settings_for(discord, tmp_path / "encore.db", provider_env(suno))
        async with running_bot(discord, settings):
            choices = await discord.autocomplete("generate", {}, focused="model")
            assert [choice["value"] for choice in choices] == ["V5_5", "V5", "V4_5ALL", "V4_5PLUS", "V4_5", "V4"]
            narrowed = await discord.autocomplete("extend", {"song": song, "model": "v4_5"}, focused="model")
            assert [choice["value"] for choice in narrowed] == ["V4_5ALL", "V4_5PLUS", "V4_5"]
            missing = await discord.invoke_command("extend", {"song": song, "at": "1:05", "lyrics": "la"})
            assert "needs a `style` and a `title`" in (await missing.wait_original(lambda m: not m.loading)).content
            await discord.invoke_command(
                "extend", {"song": song, "at": "1:05", "lyrics": "la", "style": "pop", "title": "Up", "model": "V5"}
            )
            submit = await suno.wait_for_submit()
            assert submit.json["callBackUrl"] == "https://localhost/encore-polls-instead"
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            await assert_result_message(discord, suno, result)
            assert len(suno.calls("/record-info")) >= 4 and suno.rate_limit_violations == []


async def test_the_real_process_generates_and_extends_by_callbacks_and_ignores_another_task_s_url(
    tmp_path: Path,
) -> None:
    """`python -m bot` itself, as an operator runs it: callbacks at each task's own URL, a forgery refused."""
    database, port = tmp_path / "encore.db", free_port()
    async with FakeDiscord() as discord, FakeSunoApiOrg(PROVIDER_KEY, submit_window=1.0) as suno:
        env = bot_process_env(discord, suno, database, **webhook_env(port))
        bot = await BotProcess.start(env, tmp_path)
        await discord.invoke_command("generate", {"prompt": "a sea shanty about servers"})
        generate = await suno.wait_for_submit()
        assert generate.json["customMode"] is False and generate.json["model"] == "V5_5"
        await eventually(lambda: (rows := tasks(database)) and rows[0]["status"] == "submitted", what="the submit")
        suno.finish(generate.task_id)
        first = await discord.wait_for_message(CHANNEL_ID, is_result)

        clip = clip_ids(first)[1]
        await discord.invoke_command("extend", {"song": clip, "lyrics": "one more", "style": "sea", "title": "Ahoy"})
        extend = await suno.wait_for_submit()
        # From the end: the last tenth of a second before it, as the contract takes only points inside the song.
        assert (
            extend.json["model"] == "V5_5" and 0 < suno.clips[clip][1] - extend.json["continueAt"] <= 0.1 + 1e-9
        )  # floats: 177.3 - 177.2 > 0.1
        await eventually(lambda: len(rows := tasks(database)) == 2 and rows[1]["status"] == "submitted")
        forged = suno.callback_body(suno.tasks[extend.task_id])
        forged["data"]["callbackType"], forged["data"]["data"] = "complete", [{"id": "forged", "duration": 9}]
        assert await post(generate.json["callBackUrl"], forged) == (200, {"polling": False})  # that task is done
        assert tasks(database)[1]["status"] == "submitted"
        suno.finish(extend.task_id)
        second = await discord.wait_for_message(CHANNEL_ID, lambda m: is_result(m) and m.id != first.id)
        await assert_result_message(discord, suno, second)
        assert await bot.terminate() == 0
    # Each result was read back with record-info after its callback, never taken from the callback's body.
    assert {poll.task_id for poll in suno.polls} == {generate.task_id, extend.task_id}
    assert suno.rate_limit_violations == []
    assert [row["status"] for row in tasks(database)] == ["delivered", "delivered"]


async def test_a_member_s_own_track_goes_to_upload_extend_by_its_discord_url(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeSunoApiOrg(PROVIDER_KEY, submit_window=1.0) as suno:
        settings = settings_for(discord, tmp_path / "encore.db", provider_env(suno))
        track = suno.cdn_bytes("a member's demo")
        (tmp_path / "demo.mp3").write_bytes(track)
        length = MP3(tmp_path / "demo.mp3").info.length  # type: ignore[no-untyped-call, attr-defined]
        async with running_bot(discord, settings):
            await discord.invoke_command(
                "extend", {"audio": ("demo.mp3", track), "lyrics": "a big chorus", "style": "rock", "title": "Demo+"}
            )
            submit = await suno.wait_for_submit()
            assert submit.path == "/api/v1/generate/upload-extend"
            assert submit.json["uploadUrl"].startswith(discord.base_url)  # the attachment's own CDN URL
            assert suno.uploads == [submit.json["uploadUrl"]]
            assert 0 < length - submit.json["continueAt"] <= 0.1 + 1e-9 and submit.json["model"] == "V5_5"
            assert (submit.json["prompt"], submit.json["style"], submit.json["instrumental"]) == (
                "a big chorus",
                "rock",
                False,
            )
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
            assert "the upload" in result.content
